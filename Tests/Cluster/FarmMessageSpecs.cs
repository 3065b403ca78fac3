using Akka.Actor;
using DaxSim.Host.Cluster;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using Xunit;

namespace DaxSim.Tests.Cluster;

/// <summary>
/// The seed farm's coordinator and a member's agent, in one member in this process with this
/// spec as the runner and the worker: leases, results forwarded once, and what does not belong
/// to the farm protocol refused with a logged error (no crash).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class FarmMessageSpecs : OneMemberTestKit
{
    private const string Scenario = TinyScenario;

    private readonly IActorRef _coordinator;
    private readonly IActorRef _agent;

    public FarmMessageSpecs()
    {
        _coordinator = Sys.ActorOf(FarmCoordinator.Props(), "test-coordinator");
        _agent = Agent;
    }

    private StartFarm Farm(string id, long seeds = 30, int unit = 10, string variant = "mainline") =>
        new(id, Scenario, "tiny.json", variant, "random", 3, 0, false, 1, seeds, unit, 1, 30_000, TestActor, [], null);

    private static UnitDone Done(string farm, int unit, ulong first, long count) =>
        new(farm, unit, first, count, count, null, 0, 0, 10, count, new long[Coverage.BranchCount],
            new long[Coverage.BranchCount], 0);

    [Fact]
    public void The_coordinator_leases_the_lowest_unit_and_forwards_each_unit_s_result_once()
    {
        _coordinator.Tell(Farm("f1"));
        _coordinator.Tell(new RequestUnit("f1", TestActor, 0));
        var lease = ExpectMsg<UnitLease>(TimeSpan.FromSeconds(5));
        Assert.Equal((0, 1UL, 10L), (lease.Unit, lease.FirstSeed, lease.Count));
        _coordinator.Tell(Done("f1", 0, 1, 10));
        Assert.Equal(0, ExpectMsg<UnitDone>(TimeSpan.FromSeconds(5)).Unit);
        _coordinator.Tell(Done("f1", 0, 1, 10));
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        // A unit not known to the coordinator yet (it started again) is not over: ask again.
        _coordinator.Tell(new RequestUnit("unknown", TestActor, 3));
        Assert.False(ExpectMsg<NoUnit>(TimeSpan.FromSeconds(5)).Over);
        _coordinator.Tell(new EndFarm("f1"));
        _coordinator.Tell(new RequestUnit("f1", TestActor, 0));
        Assert.True(ExpectMsg<NoUnit>(TimeSpan.FromSeconds(5)).Over);
    }

    [Fact]
    public void The_coordinator_refuses_junk_a_result_for_another_range_and_a_farm_without_seeds()
    {
        _coordinator.Tell(Farm("f2"));
        EventFilter.Error(contains: "the farm coordinator refused").ExpectOne(() => _coordinator.Tell("junk"));
        EventFilter.Error(contains: "not one of the farm's units").ExpectOne(() => _coordinator.Tell(Done("f2", 1, 1, 10)));
        EventFilter.Error(contains: "not one of the farm's units").ExpectOne(() => _coordinator.Tell(Done("f2", 9, 91, 10)));
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        _coordinator.Tell(Farm("f3", seeds: 0));
        Assert.Contains("at least one seed", ExpectMsg<FarmFailed>(TimeSpan.FromSeconds(5)).Error);
    }

    [Fact]
    public void The_agent_refuses_a_farm_it_cannot_run_and_tells_the_runner()
    {
        EventFilter.Error(contains: "refused a StartFarm").ExpectOne(() => _agent.Tell(Farm("bad/id")));
        _agent.Tell(Farm("f4", variant: "no-such-variant"));
        Assert.Contains("bad variant", ExpectMsg<FarmFailed>(TimeSpan.FromSeconds(5)).Error);
        _agent.Tell(Farm("f5") with { ScenarioText = "{ not json" });
        ExpectMsg<FarmFailed>(TimeSpan.FromSeconds(5));
    }
}
