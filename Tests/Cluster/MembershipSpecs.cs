using Akka.Cluster;
using DaxSim.Host.Cluster;
using Xunit;
using static DaxSim.Tests.Cluster.NodeHosts;

namespace DaxSim.Tests.Cluster;

/// <summary>
/// Who may join: members in this process (one ActorSystem each, on loopback ports of
/// their own). A member of another daxsim.protocol-version refuses to join (and the
/// members would down it); a member of another cluster name is never joined.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class MembershipSpecs
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private static NodeSettings Settings(int index, params HostPort[] seeds) =>
        new() { Index = index, Port = 0, Seeds = seeds };

    [Fact]
    public void A_member_of_another_protocol_version_refuses_to_join()
    {
        using var seed = NodeHost.Start(Settings(0));
        WaitFor(() => seed.IsUp, Bound, "the seed to be up");

        var e = Assert.Throws<JoinRefusedException>(() =>
            NodeHost.Start(Settings(1, Of(seed)) with { ProtocolVersion = ClusterConfig.ProtocolVersion + 1 }));

        Assert.Contains($"speaks daxsim.protocol-version {ClusterConfig.ProtocolVersion}", e.Message);
        Assert.Single(seed.Cluster.State.Members);
    }

    [Fact]
    public void Members_down_a_newcomer_of_another_protocol_version_that_joins_without_asking()
    {
        using var seed = NodeHost.Start(Settings(0));
        WaitFor(() => seed.IsUp, Bound, "the seed to be up");

        using var rogue = NodeHost.Start(Settings(1, Of(seed)) with { ProtocolVersion = 99 }, checkSeeds: false);

        // The seed's agent asks the newcomer's agent for its version and downs it.
        WaitFor(() => rogue.System.WhenTerminated.IsCompleted ||
                      rogue.Cluster.SelfMember.Status is MemberStatus.Down or MemberStatus.Removed,
            Bound, "the member of another protocol version to be downed");
        WaitFor(() => seed.Cluster.State.Members.All(m => m.Address == seed.Address), Bound,
            "the seed to be alone again");
    }

    [Fact]
    public void A_member_of_another_cluster_name_is_not_joined()
    {
        using var seed = NodeHost.Start(Settings(0));
        WaitFor(() => seed.IsUp, Bound, "the seed to be up");

        using var stranger = NodeHost.Start(Settings(1, Of(seed)) with { ClusterName = "other" });

        // Its join goes to an address of another system name: dropped by remoting, never
        // answered. Watch for 3 s (longer than a join takes here) that nothing changes.
        // Real time is the point: two real ActorSystems over real remoting, whose join
        // attempts run on their own timers; no virtual clock reaches them.
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(3);
        while (DateTime.UtcNow < until)
        {
            Assert.Single(seed.Cluster.State.Members);
            Assert.NotEqual(MemberStatus.Up, stranger.Cluster.SelfMember.Status);
            Thread.Sleep(100);
        }
    }
}
