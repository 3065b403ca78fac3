using System.Diagnostics;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;

namespace DaxSim.Host.Explore;

/// <summary>The outcome of exploring a range of seeds.</summary>
public sealed record ExploreResult(
    ulong FirstSeed,
    long SeedsRun,
    RunResult? Finding,
    TimeSpan Elapsed,
    long Deliveries)
{
    /// <summary>The protocol branches the seeds run reached, summed over them.</summary>
    public CoverageTotals Coverage { get; init; } = new();

    /// <summary>How many of the seeds run broke an invariant (the lowest is <see cref="Finding"/>).</summary>
    public long Findings { get; init; }
}

/// <summary>Where an exploration stands: seeds finished, time since it started, violating seeds so far.</summary>
public readonly record struct ExploreProgress(long Done, TimeSpan Elapsed, long Findings)
{
    public double SeedsPerSecond => Done / Math.Max(Elapsed.TotalSeconds, 1e-9);
}

/// <summary>
/// Runs one scenario over consecutive seeds on the deterministic runtime, one runtime
/// (one ActorSystem) per worker thread, and stops at the first seed that breaks an
/// invariant. "First" is the lowest such seed, whatever the number of workers: once a
/// finding is in, no higher seed is started, and lower seeds still running finish first.
/// Each seed is one run, as deterministic as on its own: which worker runs it changes nothing.
/// </summary>
public sealed class Explorer(Scenario scenario, Variant variant, string strategy, int workers)
{
    /// <summary>Called about once a second, from the thread that called Explore.</summary>
    public Action<ExploreProgress>? Progress { get; init; }

    /// <summary>How often Progress is called.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>PCT's d (strategy pct); 0 = drawn from each seed (PctStrategy.DrawDepth).</summary>
    public int PctDepth { get; init; }

    /// <summary>PCT's k (strategy pct); 0 = the longest of the probe runs of the scenario (the same on every worker).</summary>
    public long PctSteps { get; init; }

    /// <summary>Inject signals, kills and message delays drawn from each seed.</summary>
    public bool FaultInjection { get; init; }

    /// <summary>The settings of seed <paramref name="seed"/>'s run, as explore runs it.</summary>
    public RunSettings Settings(ulong seed) => new()
    {
        Seed = seed,
        Variant = variant,
        RecordOps = false,
        RecordSchedule = false,
        Deterministic = new DeterministicSettings
        {
            Strategy = strategy,
            PctDepth = PctDepth,
            PctSteps = PctSteps,
            FaultInjection = FaultInjection,
        },
    };

    public ExploreResult Explore(ulong firstSeed, long seeds)
    {
        var clock = Stopwatch.StartNew();
        long next = 0;
        long done = 0;
        long deliveries = 0;
        long findings = 0;
        long stopAt = seeds;
        RunResult? finding = null;
        var gate = new object();
        var coverage = new CoverageTotals();
        Exception? failure = null;
        var count = Math.Max(1, workers);
        using var finished = new CountdownEvent(count);

        void Work()
        {
            try
            {
                Seeds();
            }
            catch (Exception e)
            {
                lock (gate)
                {
                    failure ??= e;
                }
                Interlocked.Exchange(ref stopAt, 0);
            }
            finally
            {
                finished.Signal();
            }
        }

        void Seeds()
        {
            // Explore is the deterministic runtime's (seeds replay); one runtime per worker thread.
            using var runtime = Runtimes.ForOneThread(RuntimeKind.Deterministic);
            var local = new CoverageTotals();
            try
            {
                while (true)
                {
                    var i = Interlocked.Increment(ref next) - 1;
                    if (i >= Interlocked.Read(ref stopAt))
                    {
                        return;
                    }
                    var result = runtime.Run(scenario, Settings(firstSeed + (ulong)i));
                    local.Add(result.Coverage);
                    Interlocked.Add(ref deliveries, result.Deliveries);
                    if (result.Violation is not null)
                    {
                        Interlocked.Increment(ref findings);
                        lock (gate)
                        {
                            if (finding is null || result.Seed < finding.Seed)
                            {
                                finding = result;
                                Interlocked.Exchange(ref stopAt, i);
                            }
                        }
                    }
                    Interlocked.Increment(ref done);
                }
            }
            finally
            {
                lock (gate)
                {
                    coverage.Add(local);
                }
            }
        }

        var threads = Enumerable.Range(0, count)
            .Select(_ => new Thread(Work) { IsBackground = true, Name = "daxsim-explore" })
            .ToList();
        threads.ForEach(t => t.Start());
        while (!finished.Wait(ProgressInterval))
        {
            Progress?.Invoke(new ExploreProgress(Interlocked.Read(ref done), clock.Elapsed,
                Interlocked.Read(ref findings)));
        }
        threads.ForEach(t => t.Join());
        if (failure is not null)
        {
            throw new InvalidOperationException($"exploring {scenario.Name} failed: {failure.Message}", failure);
        }
        return new ExploreResult(firstSeed, done, finding, clock.Elapsed, deliveries)
        {
            Coverage = coverage,
            Findings = findings,
        };
    }
}
