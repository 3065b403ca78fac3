using DaxSim.Host.Deterministic;
using DaxSim.Host.Explore;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Explore;

/// <summary>
/// The systematic search unit by unit (RunRoot, Units, BeginDepth, RunUnit), as a seed farm's
/// runner and members run it, against the single-process search it shares its code with.
/// </summary>
public sealed class SystematicUnitSpecs
{
    private static Scenario Small() => ScenarioLoader.Parse(
        File.ReadAllText(Path.Combine(Scenarios.Directory, "generic-503-punch.json")).Replace("\"repeat\": 10", "\"repeat\": 1"),
        "generic-503-punch-1");

    private sealed record Sum(long Schedules, long Complete, long Reruns, long[] ByDelays, IReadOnlyList<Delay>? Finding,
        ulong FindingHash);

    /// <summary>
    /// The search as a farm runs it: the root, then each depth's units in order, dealt round
    /// robin to <paramref name="members"/> members, each with its own table of states per depth
    /// (one runtime here, so the order is the farm's with one worker per member); stops at the
    /// depth of the lowest unit with a finding.
    /// </summary>
    private static Sum ByUnits(SystematicExplorer explorer, int members)
    {
        using var runtime = Runtimes.ForOneThread(RuntimeKind.Deterministic);
        var root = explorer.RunRoot(runtime, out var counts);
        long schedules = root.Schedules, complete = root.Complete, reruns = root.Reruns;
        var byDelays = root.ByDelays.ToArray();
        if (root.Finding is not null)
        {
            return new Sum(schedules, complete, reruns, byDelays, root.FindingDelays, root.Finding.TraceHash);
        }
        for (var d = 1; d <= explorer.Bound; d++)
        {
            var units = SystematicExplorer.Units(d, counts);
            var tables = new SystematicExplorer.Depth?[members];
            (IReadOnlyList<Delay> Delays, ulong Hash)? lowest = null;
            for (var u = 0; u < units.Count; u++)
            {
                var member = u % members;
                if (tables[member] is null)
                {
                    tables[member] = explorer.BeginDepth(d, runtime);
                    reruns += tables[member]!.Reruns;
                }
                var r = explorer.RunUnit(runtime, tables[member]!, units[u]);
                Assert.True(r.Exhausted == (r.Finding is null), $"unit {units[u]}: exhausted {r.Exhausted}, finding {r.Finding}");
                schedules += r.Schedules;
                complete += r.Complete;
                reruns += r.Reruns;
                for (var i = 0; i < byDelays.Length; i++)
                {
                    byDelays[i] += r.ByDelays[i];
                }
                if (r.Finding is not null)
                {
                    Assert.Equal(units[u], r.FindingDelays![0]);
                    lowest = (r.FindingDelays!, r.Finding.TraceHash);
                    break;
                }
            }
            if (lowest is { } f)
            {
                return new Sum(schedules, complete, reruns, byDelays, f.Delays, f.Hash);
            }
        }
        return new Sum(schedules, complete, reruns, byDelays, null, 0);
    }

    [Fact]
    public void Units_run_one_by_one_with_one_table_must_give_the_single_process_search_s_counts()
    {
        var explorer = new SystematicExplorer(Small(), Variant.Mainline, bound: 2, workers: 1);

        var alone = explorer.Explore();
        var units = ByUnits(explorer, members: 1);

        Assert.True(alone.Exhausted);
        Assert.Equal(alone.Schedules, units.Schedules);
        Assert.Equal(alone.Complete, units.Complete);
        Assert.Equal(alone.Reruns, units.Reruns);
        Assert.Equal(alone.ByDelays, units.ByDelays);
        Assert.Null(units.Finding);
    }

    [Fact]
    public void A_table_per_member_must_cut_no_more_than_one_table_and_start_every_one_delay_schedule()
    {
        var explorer = new SystematicExplorer(Small(), Variant.Mainline, bound: 2, workers: 1);

        var one = ByUnits(explorer, members: 1);
        var three = ByUnits(explorer, members: 3);

        Assert.Null(three.Finding);
        Assert.Equal(one.ByDelays[1], three.ByDelays[1]); // every unit of depth 1 is one schedule, started
        Assert.True(three.Schedules >= one.Schedules, $"{three.Schedules} vs {one.Schedules}");
        Assert.True(three.Complete >= one.Complete, $"{three.Complete} vs {one.Complete}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void The_finding_unit_by_unit_must_be_the_single_process_finding(int members)
    {
        var scenario = Scenarios.Shipped("two-pins");
        var explorer = new SystematicExplorer(scenario, Variants.Parse("gup-fast-no-recheck"), bound: 1, workers: 1);

        var alone = explorer.Explore();
        var units = ByUnits(explorer, members);

        Assert.NotNull(alone.Finding);
        Assert.Equal(alone.FindingDelays, units.Finding);
        Assert.Equal(alone.Finding!.TraceHash, units.FindingHash);
    }

    [Fact]
    public void Units_must_be_first_deviations_in_point_and_position_order_within_the_budget()
    {
        Assert.Equal([new Delay(0, 1), new Delay(2, 1)], SystematicExplorer.Units(1, [2, 1, 3]));
        Assert.Equal([new Delay(0, 1), new Delay(2, 1), new Delay(2, 2)], SystematicExplorer.Units(2, [2, 1, 3]));
        var explorer = new SystematicExplorer(Small(), Variant.Mainline, bound: 1, workers: 1);
        using var runtime = Runtimes.ForOneThread(RuntimeKind.Deterministic);
        Assert.Throws<ArgumentOutOfRangeException>(() => explorer.BeginDepth(2, runtime));
        var depth = explorer.BeginDepth(1, runtime);
        Assert.Throws<ArgumentOutOfRangeException>(() => explorer.RunUnit(runtime, depth, new Delay(0, 2)));
    }
}
