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
    long Deliveries);

/// <summary>
/// Runs one scenario over consecutive seeds on the deterministic runtime, one runtime
/// (one ActorSystem) per worker thread, and stops at the first seed that breaks an
/// invariant. "First" is the lowest such seed, whatever the number of workers: once a
/// finding is in, no higher seed is started, and lower seeds still running finish first.
/// </summary>
public sealed class Explorer(Scenario scenario, Variant variant, string strategy, int workers)
{
    /// <summary>Called about once a second from a worker: seeds done, elapsed.</summary>
    public Action<long, TimeSpan>? Progress { get; init; }

    public ExploreResult Explore(ulong firstSeed, long seeds)
    {
        var clock = Stopwatch.StartNew();
        long next = 0;
        long done = 0;
        long deliveries = 0;
        long stopAt = seeds;
        RunResult? finding = null;
        var gate = new object();
        var lastProgress = 0L;
        Exception? failure = null;

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
        }

        void Seeds()
        {
            using var runtime = new DeterministicRuntime();
            while (true)
            {
                var i = Interlocked.Increment(ref next) - 1;
                if (i >= Interlocked.Read(ref stopAt))
                {
                    return;
                }
                var settings = new RunSettings
                {
                    Seed = firstSeed + (ulong)i,
                    Variant = variant,
                    Strategy = strategy,
                    RecordOps = false,
                    RecordSchedule = false,
                };
                var result = runtime.Run(scenario, settings);
                Interlocked.Add(ref deliveries, result.Deliveries);
                Interlocked.Increment(ref done);
                if (result.Violation is not null)
                {
                    lock (gate)
                    {
                        if (finding is null || result.Seed < finding.Seed)
                        {
                            finding = result;
                            Interlocked.Exchange(ref stopAt, i);
                        }
                    }
                }
                var ms = clock.ElapsedMilliseconds;
                var last = Interlocked.Read(ref lastProgress);
                if (Progress is not null && ms - last >= 1000 &&
                    Interlocked.CompareExchange(ref lastProgress, ms, last) == last)
                {
                    Progress(Interlocked.Read(ref done), clock.Elapsed);
                }
            }
        }

        var threads = Enumerable.Range(0, Math.Max(1, workers))
            .Select(_ => new Thread(Work) { IsBackground = true, Name = "daxsim-explore" })
            .ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        if (failure is not null)
        {
            throw new InvalidOperationException($"exploring {scenario.Name} failed: {failure.Message}", failure);
        }
        return new ExploreResult(firstSeed, done, finding, clock.Elapsed, deliveries);
    }
}
