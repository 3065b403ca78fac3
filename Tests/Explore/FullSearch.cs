using System.Collections.Concurrent;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Explore;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Tests.Support;

namespace DaxSim.Tests.Explore;

/// <summary>
/// The full systematic search (no reduction) of one generic/503 round within 2 delays, both
/// orders: every schedule run to its end. Two spec classes compare with it; it runs once
/// (about 30,000 runs), the first time one asks.
/// </summary>
internal static class FullSearch
{
    /// <summary>One schedule the search counted: its order and delays, its trace, and what it came to.</summary>
    public sealed record Schedule(string Delays, ulong Trace, string Outcome);

    private static readonly Lazy<(SystematicExplorer Explorer, SystematicResult Result, IReadOnlyList<Schedule> Schedules)> Within2 =
        new(() =>
        {
            var seen = new ConcurrentBag<Schedule>();
            var explorer = new SystematicExplorer(Scenarios.Generic503PunchOneRound(), Variant.Mainline, bound: 2, workers: 2)
            {
                Observed = (order, delays, run) =>
                    seen.Add(new Schedule(order.Name() + ":" + string.Join(";", delays), run.TraceHash, Outcome(run))),
                Reduction = false,
            };
            var result = explorer.Explore();
            return (explorer, result, seen.ToList());
        });

    public static (SystematicExplorer Explorer, SystematicResult Result, IReadOnlyList<Schedule> Schedules) OneRoundWithin2 =>
        Within2.Value;

    /// <summary>What a run that went to its end came to: the same for two runs that end in the same state.</summary>
    public static string Outcome(RunResult run) =>
        $"{run.Verdict} {run.Violation?.Invariant} t={run.EndTime} ops={run.OpsCompleted} deliveries={run.Deliveries} " +
        $"events={run.Events} coverage={string.Join(",", Coverage.All.Select(b => run.Coverage[b]))}";
}
