using DaxSim.Host.Cluster;
using Xunit;

namespace DaxSim.Tests.Cluster;

/// <summary>The seed farm's lease bookkeeping as plain code: units, leases, expiry, removed holders, the lowest-seed rule.</summary>
public sealed class FarmLedgerSpecs
{
    private static readonly DateTime T0 = new(2026, 12, 6, 0, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void Seeds_are_cut_into_units_the_last_one_shorter()
    {
        var l = new FarmLedger(10, 250, 100, TimeSpan.FromSeconds(30));
        Assert.Equal(3, l.Units);
        Assert.Equal(new SeedRange(10, 100), l.RangeOf(0));
        Assert.Equal(new SeedRange(110, 100), l.RangeOf(1));
        Assert.Equal(new SeedRange(210, 50), l.RangeOf(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => l.RangeOf(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FarmLedger(1, 0, 100, TimeSpan.FromSeconds(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FarmLedger(ulong.MaxValue, 2, 100, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void Units_are_leased_lowest_first_each_once_and_each_completion_counts_once()
    {
        var l = new FarmLedger(1, 30, 10, TimeSpan.FromSeconds(30));
        Assert.True(l.TryLease("a", T0, out var u0));
        Assert.True(l.TryLease("b", T0, out var u1));
        Assert.True(l.TryLease("a", T0, out var u2));
        Assert.Equal([0, 1, 2], new[] { u0, u1, u2 });
        Assert.False(l.TryLease("b", T0, out _));
        Assert.False(l.Finished);

        Assert.True(l.Complete(1, null));
        Assert.False(l.Complete(1, null)); // a duplicate
        Assert.False(l.Complete(7, null)); // not a unit
        Assert.True(l.Complete(0, null));
        Assert.True(l.Complete(2, null));
        Assert.True(l.Finished);
        Assert.Equal([new SeedRange(1, 30)], l.CompletedRanges());
    }

    [Fact]
    public void An_expired_lease_goes_back_to_the_queue_and_the_late_result_is_a_duplicate()
    {
        var l = new FarmLedger(1, 20, 10, TimeSpan.FromSeconds(30));
        l.TryLease("a", T0, out _);
        l.TryLease("b", T0.AddSeconds(20), out _);
        Assert.Empty(l.Expire(T0.AddSeconds(29)));
        Assert.Equal([0], l.Expire(T0.AddSeconds(30)));
        Assert.Equal(1, l.PendingCount);
        Assert.True(l.TryLease("c", T0.AddSeconds(31), out var again));
        Assert.Equal(0, again);
        Assert.True(l.Complete(0, null));  // c's
        Assert.False(l.Complete(0, null)); // a's, late
        Assert.Equal(1, l.DoneCount);
    }

    [Fact]
    public void A_removed_holder_s_units_go_back_to_the_queue_and_nobody_else_s()
    {
        var l = new FarmLedger(1, 40, 10, TimeSpan.FromSeconds(30));
        l.TryLease("a", T0, out _);
        l.TryLease("b", T0, out _);
        l.TryLease("a", T0, out _);
        Assert.Equal([0, 2], l.Release("a"));
        Assert.Empty(l.Release("a"));
        Assert.Equal(new Dictionary<int, string> { [1] = "b" }, l.Leases);
        Assert.True(l.TryLease("b", T0, out var u));
        Assert.Equal(0, u);
    }

    [Fact]
    public void Once_a_finding_is_known_units_above_it_are_not_leased_and_units_below_still_finish()
    {
        var l = new FarmLedger(1, 100, 10, TimeSpan.FromSeconds(30));
        for (var i = 0; i < 6; i++)
        {
            l.TryLease("a", T0, out _);
        }
        // Unit 4 (seeds 41..50) finds seed 44: units 5.. are not wanted, 0..3 still are.
        Assert.True(l.Complete(4, 44));
        Assert.Equal(44UL, l.StopAt);
        Assert.False(l.Finished);
        Assert.False(l.TryLease("b", T0, out _)); // units 6..9 start above 44
        l.Release("a");                            // units 0..3 and 5 back in the queue
        Assert.True(l.TryLease("b", T0, out var u));
        Assert.Equal(0, u);
        l.Complete(0, null);
        l.Complete(1, null);
        // A lower finding lowers the bar.
        Assert.True(l.Complete(2, 23));
        Assert.Equal(23UL, l.StopAt);
        Assert.True(l.Finished); // unit 3 starts at 31, above 23
        // A violating seed outside the unit's range is not taken.
        Assert.True(l.Complete(3, 5));
        Assert.Equal(23UL, l.StopAt);
    }

    [Fact]
    public void A_coordinator_started_again_learns_what_is_done_and_the_lowest_finding()
    {
        var l = new FarmLedger(1, 50, 10, TimeSpan.FromSeconds(30));
        l.TryLease("a", T0, out _);
        l.MarkDone([0, 1, 99], 35);
        Assert.Equal(35UL, l.StopAt);
        Assert.Equal(0, l.LeasedCount);
        Assert.True(l.TryLease("b", T0, out var u));
        Assert.Equal(2, u);
        Assert.True(l.TryLease("b", T0, out u));
        Assert.Equal(3, u);
        Assert.False(l.TryLease("b", T0, out _));
        l.MarkDone([], 1000); // out of range: ignored
        Assert.Equal(35UL, l.StopAt);
    }
}
