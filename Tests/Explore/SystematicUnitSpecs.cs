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
    private static Scenario Small() => Scenarios.Generic503PunchOneRound();

    private sealed record Sum(long Schedules, long Complete, long Reruns, long[] ByDelays, IReadOnlyList<Delay>? Finding,
        ulong FindingHash, DefaultOrder FindingOrder = DefaultOrder.FirstCome);

    /// <summary>
    /// The search as a farm runs it: the roots (one per order), then each depth's units in order, dealt round
    /// robin to <paramref name="members"/> members, each with its own table of states per depth
    /// (one runtime here, so the order is the farm's with one worker per member); stops at the
    /// depth of the lowest unit with a finding.
    /// </summary>
    private static Sum ByUnits(SystematicExplorer explorer, int members)
    {
        using var runtime = Runtimes.ForOneThread(RuntimeKind.Deterministic);
        long schedules = 0, complete = 0, reruns = 0;
        var byDelays = new long[explorer.Bound + 1];
        var counts = new IReadOnlyList<int>[explorer.Orders.Count];
        for (var o = 0; o < explorer.Orders.Count; o++)
        {
            var root = explorer.RunRoot(runtime, explorer.Orders[o], out counts[o]);
            schedules += root.Schedules;
            complete += root.Complete;
            reruns += root.Reruns;
            byDelays[0] += root.ByDelays[0];
            if (root.Finding is not null)
            {
                return new Sum(schedules, complete, reruns, byDelays, root.FindingDelays, root.Finding.TraceHash, explorer.Orders[o]);
            }
        }
        for (var d = 1; d <= explorer.Bound; d++)
        {
            var units = SystematicExplorer.Units(d, explorer.Orders, counts);
            var tables = new SystematicExplorer.Depth?[members];
            (IReadOnlyList<Delay> Delays, ulong Hash, DefaultOrder Order)? lowest = null;
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
                    Assert.Equal(units[u].First, r.FindingDelays![0]);
                    Assert.Equal(units[u].Order, r.FindingOrder);
                    lowest = (r.FindingDelays!, r.Finding.TraceHash, r.FindingOrder);
                    break;
                }
            }
            if (lowest is { } f)
            {
                return new Sum(schedules, complete, reruns, byDelays, f.Delays, f.Hash, f.Order);
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

    [Fact]
    public void Without_the_reduction_a_farm_s_counts_must_be_the_single_process_counts_however_units_fall()
    {
        // One order: how units fall on members does not depend on it, and without the reduction
        // both orders' two-delay schedules are some 90,000 full runs.
        var explorer = new SystematicExplorer(Small(), Variant.Mainline, bound: 2, workers: 2)
        {
            Reduction = false, Orders = [DefaultOrder.FirstCome],
        };

        var alone = explorer.Explore();
        var three = ByUnits(explorer, members: 3);

        Assert.Equal(alone.Schedules, three.Schedules);
        Assert.Equal(alone.Schedules, three.Complete);
        Assert.Equal(alone.ByDelays, three.ByDelays);
        Assert.Equal(alone.Reruns, three.Reruns);
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
        Assert.Equal(alone.FindingOrder, units.FindingOrder);
        Assert.Equal(alone.Finding!.TraceHash, units.FindingHash);
    }

    [Fact]
    public void Units_must_be_first_deviations_in_order_point_and_position_order_within_the_budget()
    {
        static SystematicUnit F(int point, int position) => new(DefaultOrder.FirstCome, new Delay(point, position));
        static SystematicUnit L(int point, int position) => new(DefaultOrder.LastCome, new Delay(point, position));
        IReadOnlyList<DefaultOrder> both = [DefaultOrder.FirstCome, DefaultOrder.LastCome];

        Assert.Equal([F(0, 1), F(2, 1)], SystematicExplorer.Units(1, [DefaultOrder.FirstCome], [[2, 1, 3]]));
        Assert.Equal([F(0, 1), F(2, 1), F(2, 2)], SystematicExplorer.Units(2, [DefaultOrder.FirstCome], [[2, 1, 3]]));
        Assert.Equal([F(0, 1), F(2, 1), L(1, 1)], SystematicExplorer.Units(1, both, [[2, 1, 3], [1, 2]]));
        var explorer = new SystematicExplorer(Small(), Variant.Mainline, bound: 1, workers: 1) { Orders = [DefaultOrder.FirstCome] };
        using var runtime = Runtimes.ForOneThread(RuntimeKind.Deterministic);
        Assert.Throws<ArgumentOutOfRangeException>(() => explorer.BeginDepth(2, runtime));
        var depth = explorer.BeginDepth(1, runtime);
        Assert.Throws<ArgumentOutOfRangeException>(() => explorer.RunUnit(runtime, depth, F(0, 2)));
        Assert.Throws<ArgumentOutOfRangeException>(() => explorer.RunUnit(runtime, depth, L(0, 1)));
    }
}
