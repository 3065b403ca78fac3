using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using DaxSim.Host.Cluster;

namespace DaxSim.Tests.Cluster;

/// <summary>
/// A TestKit whose ActorSystem is one cluster member in this process, joined to itself and Up,
/// with a member's agent (/user/agent), as `daxsim node` starts one: the base of the specs that
/// talk to a member's actors with the spec as the runner (the farm's and the run's messages).
/// </summary>
public abstract class OneMemberTestKit : Akka.TestKit.Xunit2.TestKit
{
    /// <summary>A run of one task touching two pages of one DAX file: enough for a member to prepare.</summary>
    protected const string TinyScenario = """
        { "name": "tiny", "device": { "blocks": 4 },
          "files": [ { "name": "dax", "pages": 2 } ],
          "tasks": [ { "name": "t", "steps": [ { "op": "touch", "file": "dax", "pages": "0-1" } ] } ] }
        """;

    protected OneMemberTestKit()
        : base(ClusterConfig.Member(new NodeSettings { Port = 0, LogLevel = "WARNING" })
            .WithFallback(ClusterSharding.DefaultConfig()), "daxsim")
    {
        var cluster = Akka.Cluster.Cluster.Get(Sys);
        cluster.Join(cluster.SelfAddress);
        AwaitCondition(() => cluster.SelfMember.Status == MemberStatus.Up, TimeSpan.FromSeconds(20));
        SelfAddress = cluster.SelfAddress.ToString();
        Agent = Sys.ActorOf(NodeAgent.Props(new NodeSettings { Index = 0, Port = 0 }), "agent");
    }

    /// <summary>The member's address, as the runner names it.</summary>
    protected string SelfAddress { get; }

    protected IActorRef Agent { get; }
}
