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
        long done = 0;
        long deliveries = 0;
        long findings = 0;
        var found = new RunResult?[1];
        var gate = new object();
        var coverage = new CoverageTotals();
        long? lowest;
        try
        {
            // Explore is the deterministic runtime's (seeds replay); one runtime per worker thread.
            lowest = LowestFirst.Run(seeds, workers, "daxsim-explore",
                () => new Worker(Runtimes.ForOneThread(RuntimeKind.Deterministic), coverage, gate),
                (worker, i) =>
                {
                    var result = worker.Runtime.Run(scenario, Settings(firstSeed + (ulong)i));
                    worker.Coverage.Add(result.Coverage);
                    Interlocked.Add(ref deliveries, result.Deliveries);
                    Interlocked.Increment(ref done);
                    if (result.Violation is null)
                    {
                        return false;
                    }
                    Interlocked.Increment(ref findings);
                    lock (gate)
                    {
                        if (found[0] is null || result.Seed < found[0]!.Seed)
                        {
                            found[0] = result;
                        }
                    }
                    return true;
                },
                () => false, ProgressInterval,
                () => Progress?.Invoke(new ExploreProgress(Interlocked.Read(ref done), clock.Elapsed,
                    Interlocked.Read(ref findings))));
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            var failure = e.InnerExceptions[0];
            throw new InvalidOperationException($"exploring {scenario.Name} failed: {failure.Message}", failure);
        }
        var finding = lowest is null ? null : found[0];
        return new ExploreResult(firstSeed, done, finding, clock.Elapsed, deliveries)
        {
            Coverage = coverage,
            Findings = findings,
        };
    }

    /// <summary>One worker's runtime and coverage; the coverage joins the total when the worker stops.</summary>
    private sealed class Worker(IRuntime runtime, CoverageTotals total, object gate) : IDisposable
    {
        public IRuntime Runtime { get; } = runtime;

        public CoverageTotals Coverage { get; } = new();

        public void Dispose()
        {
            lock (gate)
            {
                total.Add(Coverage);
            }
            Runtime.Dispose();
        }
    }
}
