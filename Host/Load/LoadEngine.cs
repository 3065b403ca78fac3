using System.Diagnostics;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Local;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Load;
using DaxSim.Protocol.Scenarios;

namespace DaxSim.Host.Load;

/// <summary>What one load run is asked to do, once the spec and the flags are merged.</summary>
public sealed record LoadPlan(LoadSpec Spec, ulong Seed, Variant Variant, IRuntime Runtime)
{
    /// <summary>Devices with more blocks than this get lazy page actors (PageRegion); smaller ones one actor per page.</summary>
    public const int LazyPagesFrom = 65_536;

    public TimeSpan Warmup => Spec.EffectiveWarmup;

    /// <summary>Lazy pages: null to decide by the device's size (LazyPagesFrom).</summary>
    public bool? LazyPages { get; init; }
}

/// <summary>A moment of a load run, for a progress display.</summary>
public sealed record LoadSnapshot(
    TimeSpan Wall,
    long Time,
    long Ops,
    long Messages,
    long Pins,
    long TruncatesWaiting,
    int Violations,
    long HeapBytes);

/// <summary>What a load run gave: the run, its statistics, and what it cost.</summary>
public sealed record LoadResult(
    LoadPlan Plan,
    Scenario Scenario,
    RunResult Run,
    LoadRecorder Stats,
    LoadMemory Memory,
    TimeSpan Wall)
{
    /// <summary>Whether page actors were made on first use (PageRegion) or all at the start.</summary>
    public bool LazyPages { get; init; }
}

/// <summary>
/// Memory of a load run. Heap figures are the managed heap: the baseline before the run's
/// actors exist, the peak seen while it ran (sampled, garbage included), and the peak of
/// the live heap right after a collection (what the run really keeps).
/// </summary>
public sealed record LoadMemory(
    long HeapBeforeBytes,
    long HeapPeakBytes,
    long LiveHeapPeakBytes,
    long WorkingSetPeakBytes,
    int Gen0,
    int Gen1,
    int Gen2,
    ActorFootprint.Result? Footprint)
{
    /// <summary>Peak live heap growth over the baseline, per simulated page: everything the run holds, tasks and checker included.</summary>
    public double BytesPerPage(long pages) =>
        Math.Max(0, LiveHeapPeakBytes - HeapBeforeBytes) / (double)Math.Max(1, pages);
}

/// <summary>
/// Runs a load: builds the scenario from the spec, runs it on the chosen runtime (on a
/// thread of its own) with the recorder watching every event, and meanwhile hands a
/// snapshot to the progress display and samples the memory.
/// </summary>
public static class LoadEngine
{
    // What an actor costs does not change within a process: measured once.
    private static readonly Lazy<ActorFootprint.Result> Footprint = new(() => ActorFootprint.Measure());

    public static LoadResult Run(LoadPlan plan, Action<LoadSnapshot>? progress = null,
        TimeSpan? progressInterval = null, bool measureFootprint = true)
    {
        var footprint = measureFootprint ? Footprint.Value : null;
        // Simulated time: a think time of 0 is one clock tick (100 ns), or zero-time operations loop forever at one instant.
        var scenario = LoadScenario.Build(plan.Spec, plan.Seed, plan.Variant,
            plan.Runtime.VirtualTime ? TimeSpan.FromTicks(1) : TimeSpan.Zero);
        var recorder = new LoadRecorder(scenario, plan.Warmup, plan.Spec.Duration);
        var live = new LiveCounters();
        recorder.CountMessages(() => live.Messages);
        var settings = new RunSettings
        {
            Seed = plan.Seed,
            Variant = plan.Variant,
            RecordOps = false,
            RecordSchedule = false,
            // Page actors made on first use only where one per page would cost too much: a
            // region is one more hop for every page message, and on real threads a busy one.
            LazyPages = plan.LazyPages ?? scenario.Device.Blocks > LoadPlan.LazyPagesFrom,
            // Thousands of tasks: look for deadlocks once per simulated millisecond, and on real
            // threads only after 2 s without any event (a GC pause of a large heap is not a deadlock).
            Deterministic = new DeterministicSettings { DeadlockCheckInterval = TimeSpan.FromMilliseconds(1) },
            Local = new LocalSettings { DeadlockQuiet = TimeSpan.FromSeconds(2) },
            Observe = recorder.Observe,
            Live = live,
        };
        var gc0 = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var heapBefore = GC.GetTotalMemory(true);
        long heapPeak = heapBefore, livePeak = heapBefore;
        var lastGc = -1L;

        void SampleMemory()
        {
            heapPeak = Math.Max(heapPeak, GC.GetTotalMemory(false));
            var info = GC.GetGCMemoryInfo(GCKind.Any);
            if (info.Index != lastGc)
            {
                lastGc = info.Index;
                // The heap as the last collection left it, fragmentation aside: what the run keeps.
                livePeak = Math.Max(livePeak, info.HeapSizeBytes - info.FragmentedBytes);
            }
        }

        RunResult? result = null;
        Exception? failure = null;
        var wall = Stopwatch.StartNew();
        var worker = new Thread(() =>
        {
            try
            {
                result = plan.Runtime.Run(scenario, settings);
            }
            catch (Exception e)
            {
                failure = e;
            }
        }, 16 * 1024 * 1024) { Name = "daxsim-load", IsBackground = true };
        worker.Start();
        var interval = progressInterval ?? TimeSpan.FromSeconds(1);
        var nextProgress = interval;
        while (!worker.Join(TimeSpan.FromMilliseconds(50)))
        {
            SampleMemory();
            if (progress is not null && wall.Elapsed >= nextProgress)
            {
                nextProgress += interval;
                progress(new LoadSnapshot(wall.Elapsed, recorder.Now, recorder.OpsCompleted, live.Messages,
                    recorder.PinsOutstanding, recorder.TruncatesWaiting, 0, GC.GetTotalMemory(false)));
            }
        }
        SampleMemory();
        wall.Stop();
        if (failure is Cluster.SlowMemberException)
        {
            // Not DaxSim's failure: the command line says so in one line (exit 75).
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
        if (failure is not null)
        {
            throw new InvalidOperationException($"the load run failed: {failure.Message}", failure);
        }
        var run = result!;
        progress?.Invoke(new LoadSnapshot(wall.Elapsed, run.EndTime, recorder.OpsCompleted, run.Messages,
            recorder.PinsOutstanding, recorder.TruncatesWaiting, run.Violation is null ? 0 : 1, GC.GetTotalMemory(false)));
        var memory = new LoadMemory(heapBefore, heapPeak, livePeak, Process.GetCurrentProcess().PeakWorkingSet64,
            GC.CollectionCount(0) - gc0.Item1, GC.CollectionCount(1) - gc0.Item2, GC.CollectionCount(2) - gc0.Item3,
            footprint);
        return new LoadResult(plan, scenario, run, recorder, memory, wall.Elapsed) { LazyPages = settings.LazyPages };
    }
}
