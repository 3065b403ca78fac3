using DaxSim.Host.Cluster;
using Xunit;

namespace DaxSim.Tests.Cluster;

/// <summary>The runner's view of a cluster run's members: states as an enum, and the report's words for them.</summary>
public sealed class RunMembershipSpecs
{
    private static Membership Prepared(int n)
    {
        var m = new Membership(Enumerable.Range(0, n));
        for (var i = 0; i < n; i++)
        {
            m.Prepared(i);
        }
        return m;
    }

    [Fact]
    public void A_member_must_be_preparing_until_it_answers_then_up()
    {
        var m = new Membership([0, 1]);
        Assert.Equal([0, 1], m.Preparing);
        m.Prepared(1);

        Assert.Equal(MemberState.Preparing, m.State(0));
        Assert.Equal(MemberState.Up, m.State(1));
        Assert.Equal("up", m.Describe(1));
    }

    [Fact]
    public void A_crashed_member_must_be_unsettled_until_removed_and_its_pins_lost_from_the_crash()
    {
        var m = Prepared(3);
        m.Crashed(2, at: 100);

        Assert.Equal(MemberState.Crashed, m.State(2));
        Assert.Equal("crashed, not yet removed", m.Describe(2));
        Assert.True(m.Unsettled);
        Assert.True(m.CutOff(2));
        Assert.False(m.LostBy(2, 99));
        Assert.True(m.LostBy(2, 100));

        Assert.True(m.Removed(2, at: 700));
        Assert.False(m.Removed(2, at: 800));
        Assert.Equal(700, m.RemovedAt(2));
        Assert.False(m.Removed(2, at: 650)); // another member saw it earlier
        Assert.Equal(MemberState.CrashedRemoved, m.State(2));
        Assert.Equal("crashed, removed", m.Describe(2));
        Assert.Equal(650, m.RemovedAt(2));
        Assert.False(m.Unsettled);
        Assert.False(m.IsPresent(2));
    }

    [Fact]
    public void Unreachability_must_be_counted_by_reporter_and_described_with_them()
    {
        var m = Prepared(3);

        Assert.True(m.SeenUnreachable(2, reporter: 1));
        Assert.False(m.SeenUnreachable(2, reporter: 0));
        Assert.Equal("unreachable from nodes 0, 1", m.Describe(2));
        Assert.True(m.Unsettled);
        Assert.False(m.SeenReachable(2, reporter: 1));
        Assert.True(m.SeenReachable(2, reporter: 0));
        Assert.Equal(MemberState.Up, m.State(2));
        Assert.False(m.Unsettled);
    }

    [Fact]
    public void A_partitioned_member_must_be_described_as_such_until_heal_and_downed_if_removed()
    {
        var m = Prepared(3);
        m.Partitioned([2]);
        Assert.Equal("up, partitioned from the majority", m.Describe(2));
        m.SeenUnreachable(2, reporter: 0);
        Assert.Equal("unreachable, partitioned", m.Describe(2));
        m.Removed(2, at: 900);
        Assert.Equal(MemberState.Downed, m.State(2));
        Assert.Equal("removed (downed)", m.Describe(2));
        Assert.True(m.LostBy(2, 0));

        m.Healed();
        Assert.Equal("up", m.Describe(1));
    }

    [Theory]
    [InlineData("unreachable", MemberChange.Unreachable)]
    [InlineData("reachable", MemberChange.Reachable)]
    [InlineData("removed", MemberChange.Removed)]
    public void The_wire_words_must_parse_to_changes(string word, MemberChange change) =>
        Assert.Equal(change, Membership.ParseChange(word));
}
