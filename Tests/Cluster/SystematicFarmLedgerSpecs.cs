using DaxSim.Host.Cluster;
using Xunit;

namespace DaxSim.Tests.Cluster;

/// <summary>
/// A systematic farm's bookkeeping as plain code: units of first deviations numbered depth by
/// depth, the depth barrier, the lowest unit with a finding, units given back by a removed
/// member, and the checks on a farm that comes from the network.
/// </summary>
public sealed class SystematicFarmLedgerSpecs
{
    private static readonly DateTime T0 = new(2026, 12, 6, 0, 0, 0, DateTimeKind.Utc);

    // Three choice points with 2, 3 and 2 actors ready: depth 1 has (0,1) (1,1) (2,1), depth 2
    // (0,1) (1,1) (1,2) (2,1): units 0..2 and 3..6.
    private static SystematicFarm Spec() => new(2, 1, long.MaxValue, true,
        [1, 1, 1, 2, 2, 2, 2], [0, 0, 0, 0, 0, 0, 0], [0, 1, 2, 0, 1, 1, 2], [1, 1, 1, 1, 1, 2, 1]);

    private static StartFarm Start(SystematicFarm spec, long units) =>
        new("f", "{}", "s.json", "mainline", "systematic", 0, 0, false, 0, units, 1, 1, 1000, Akka.Actor.ActorRefs.Nobody,
            [], null) { Systematic = spec };

    private static List<int> LeaseAll(FarmLedger l, string holder)
    {
        var leased = new List<int>();
        for (var i = 0; i < 20 && l.TryLease(holder, T0, out var u); i++)
        {
            leased.Add(u);
        }
        return leased;
    }

    [Fact]
    public void Units_of_the_next_depth_are_leased_only_when_every_unit_of_the_depth_before_is_done()
    {
        var spec = Spec();
        Assert.Equal([0, 3], spec.DepthStarts());
        var l = spec.Ledger(TimeSpan.FromSeconds(30));

        Assert.Equal(3, l.OpenPendingCount());
        Assert.Equal([0, 1, 2], LeaseAll(l, "a"));
        Assert.Equal(0, l.OpenPendingCount()); // depth 2 is not open yet
        Assert.True(l.Complete(0, null));
        Assert.True(l.Complete(2, null));
        Assert.Empty(LeaseAll(l, "b")); // unit 1 (depth 1) is still out
        Assert.False(l.Finished);
        Assert.True(l.Complete(1, null));
        Assert.Equal(4, l.OpenPendingCount());
        Assert.Equal([3, 4, 5, 6], LeaseAll(l, "b"));
        foreach (var u in new[] { 6, 4, 3, 5 })
        {
            Assert.True(l.Complete(u, null));
        }
        Assert.True(l.Finished);
        Assert.Null(l.StopAt);
    }

    [Fact]
    public void The_lowest_unit_with_a_finding_wins_and_the_units_below_it_still_finish()
    {
        var l = Spec().Ledger(TimeSpan.FromSeconds(30));
        LeaseAll(l, "a");
        // Unit 1 (depth 1, first deviation (1, 1)) has a finding: unit 2 is not wanted, unit 0 is.
        Assert.True(l.Complete(1, 1));
        Assert.Equal(1UL, l.StopAt);
        Assert.False(l.Finished);
        Assert.False(l.Wanted(2));
        Assert.False(l.Wanted(3)); // nor is any deeper unit: the finding has the fewest delays
        Assert.True(l.Complete(2, 2)); // a later finding does not raise the bar
        Assert.Equal(1UL, l.StopAt);
        Assert.True(l.Complete(0, null));
        Assert.True(l.Finished);
        Assert.Empty(LeaseAll(l, "b"));
    }

    [Fact]
    public void A_removed_member_gives_its_units_back_and_each_unit_is_counted_once()
    {
        var l = Spec().Ledger(TimeSpan.FromSeconds(30));
        Assert.True(l.TryLease("a", T0, out var u0));
        Assert.True(l.TryLease("b", T0, out var u1));
        Assert.True(l.TryLease("a", T0, out var u2));
        Assert.Equal([0, 1, 2], new[] { u0, u1, u2 });
        Assert.True(l.Complete(1, null));
        // a crashes: 0 and 2 go back; depth 2 stays closed until they are done again.
        Assert.Equal([0, 2], l.Release("a"));
        Assert.Equal([0, 2], LeaseAll(l, "b"));
        Assert.True(l.Complete(0, null));
        Assert.False(l.Complete(0, null)); // a's result, late: a duplicate
        Assert.False(l.Complete(1, null));
        Assert.Empty(LeaseAll(l, "c"));
        Assert.True(l.Complete(2, null));
        Assert.Equal([3, 4, 5, 6], LeaseAll(l, "c"));
        // An expired lease of depth 2 goes back too, and the farm ends with every unit done once.
        Assert.Equal([3, 4, 5, 6], l.Expire(T0.AddSeconds(30)));
        Assert.Equal([3, 4, 5, 6], LeaseAll(l, "b"));
        foreach (var u in new[] { 3, 4, 5, 6 })
        {
            Assert.True(l.Complete(u, null));
        }
        Assert.True(l.Finished);
        Assert.Equal(7, l.DoneCount);
    }

    [Fact]
    public void A_coordinator_started_again_keeps_the_barrier_with_what_the_runner_says_is_done()
    {
        var l = Spec().Ledger(TimeSpan.FromSeconds(30));
        l.MarkDone([0, 1], null);
        Assert.Equal([2], LeaseAll(l, "a"));
        l.MarkDone([2], null);
        Assert.Equal([3, 4, 5, 6], LeaseAll(l, "a"));
    }

    [Fact]
    public void A_farm_from_the_network_that_is_not_a_list_of_first_deviations_in_order_is_refused()
    {
        var good = Spec();
        Assert.Null(good.Check(Start(good, 7)));
        Assert.Contains("units 0..6 of one each", good.Check(Start(good, 8)));
        Assert.Contains("units 0..6 of one each", good.Check(Start(good, 7) with { UnitSeeds = 2 }));
        Assert.Contains("one depth, order, point and position per unit", (good with { Points = [0, 1] }).Check(Start(good, 7)));
        Assert.Contains("one depth, order, point and position per unit", (good with { Depths = null! }).Check(Start(good, 7)));
        Assert.Contains("not in (depth, order, point, position) order",
            (good with { Points = [1, 0, 2, 0, 1, 1, 2] }).Check(Start(good, 7)));
        Assert.Contains("is not a first deviation within bound 2",
            (good with { Positions = [2, 1, 1, 1, 1, 2, 1] }).Check(Start(good, 7))); // 2 delays at depth 1
        Assert.Contains("is not a first deviation within bound 2",
            (good with { Depths = [1, 1, 1, 2, 2, 2, 3] }).Check(Start(good, 7)));
        Assert.Contains("bound is between 1 and 16", (good with { Bound = 17 }).Check(Start(good, 7)));
        Assert.Contains("one depth, order, point and position per unit", (good with { Orders = [0] }).Check(Start(good, 7)));
        Assert.Contains("unit 2's order is 0 (first come) or 1 (last come), not 2",
            (good with { Orders = [0, 0, 2, 0, 0, 0, 0] }).Check(Start(good, 7)));
        Assert.Contains("units 1 and 2 are not in (depth, order, point, position) order",
            (good with { Orders = [0, 1, 0, 0, 0, 0, 0] }).Check(Start(good, 7))); // last-come before first-come
        Assert.Contains("limit of schedules is at least 1", (good with { MaxSchedules = 0 }).Check(Start(good, 7)));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            new FarmLedger(0, 7, 1, TimeSpan.FromSeconds(1)) { DepthStarts = [0, 3, 3] });
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            new FarmLedger(0, 7, 1, TimeSpan.FromSeconds(1)) { DepthStarts = [1, 3] });
    }
}
