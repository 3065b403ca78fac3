using Akka.Actor;
using DaxSim.Host.Cluster;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using Xunit;

namespace DaxSim.Tests.Cluster;

/// <summary>
/// A systematic farm through the seed farm's coordinator and a member's agent, in one member in
/// this process with this spec as the runner and the worker: leases that name their first
/// deviation, the depth barrier, and malformed farms and results refused with a logged error
/// (no crash).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class SystematicFarmMessageSpecs : OneMemberTestKit
{
    private const string Scenario = TinyScenario;

    private readonly IActorRef _coordinator;
    private readonly IActorRef _agent;

    public SystematicFarmMessageSpecs()
    {
        _coordinator = Sys.ActorOf(FarmCoordinator.Props(), "test-coordinator");
        _agent = Agent;
    }

    // Depth 1: first-come (0,1) (1,1); depth 2: first-come (0,1) (0,2), last-come (1,1).
    private static SystematicFarm Units() =>
        new(2, 1, long.MaxValue, true, [1, 1, 2, 2, 2], [0, 0, 0, 0, 1], [0, 1, 0, 0, 1], [1, 1, 1, 2, 1]);

    private StartFarm Farm(string id, SystematicFarm? units = null, string strategy = "systematic") =>
        new StartFarm(id, Scenario, "tiny.json", "mainline", strategy, 0, 0, false, 0, 5, 1, 1, 30_000, TestActor, [], null)
        {
            Systematic = units ?? Units(),
        };

    private static UnitDone Done(string farm, UnitLease lease) =>
        new(farm, lease.Unit, lease.FirstSeed, lease.Count, 1, null, 0, 0, 10, 1, new long[Coverage.BranchCount],
            new long[Coverage.BranchCount], 0)
        {
            Systematic = new SystematicUnitDone(lease.Depth, lease.Order, lease.Point, lease.Position, 1, 1,
                lease.Depth == 1 ? [0, 1, 0] : [0, 0, 1], 0, false, [], []),
        };

    [Fact]
    public void Leases_name_their_first_deviation_and_the_next_depth_waits_for_the_one_before()
    {
        _coordinator.Tell(Farm("s1"));
        _coordinator.Tell(new RequestUnit("s1", TestActor, 0));
        var first = ExpectMsg<UnitLease>(TimeSpan.FromSeconds(5));
        _coordinator.Tell(new RequestUnit("s1", TestActor, 0));
        var second = ExpectMsg<UnitLease>(TimeSpan.FromSeconds(5));
        Assert.Equal((0, 1, 0, 1), (first.Unit, first.Depth, first.Point, first.Position));
        Assert.Equal((1, 1, 1, 1), (second.Unit, second.Depth, second.Point, second.Position));
        // Depth 2 is closed while unit 1 is out.
        _coordinator.Tell(Done("s1", first));
        Assert.Equal(0, ExpectMsg<UnitDone>(TimeSpan.FromSeconds(5)).Unit);
        _coordinator.Tell(new RequestUnit("s1", TestActor, 0));
        Assert.False(ExpectMsg<NoUnit>(TimeSpan.FromSeconds(5)).Over);
        _coordinator.Tell(Done("s1", second));
        Assert.Equal(1, ExpectMsg<UnitDone>(TimeSpan.FromSeconds(5)).Unit);
        _coordinator.Tell(new RequestUnit("s1", TestActor, 0));
        var deeper = ExpectMsg<UnitLease>(TimeSpan.FromSeconds(5));
        Assert.Equal((2, 2, 0, 1), (deeper.Unit, deeper.Depth, deeper.Point, deeper.Position));
        // Asked ahead while 2 units are open and 1 is leased: granted; then 1 open, 2 leased: not.
        _coordinator.Tell(new RequestUnit("s1", TestActor, 0) { Ahead = true });
        Assert.Equal(3, ExpectMsg<UnitLease>(TimeSpan.FromSeconds(5)).Unit);
        _coordinator.Tell(new RequestUnit("s1", TestActor, 0) { Ahead = true });
        Assert.False(ExpectMsg<NoUnit>(TimeSpan.FromSeconds(5)).Over);
        _coordinator.Tell(new RequestUnit("s1", TestActor, 0));
        Assert.Equal(4, ExpectMsg<UnitLease>(TimeSpan.FromSeconds(5)).Unit);
        _coordinator.Tell(new EndFarm("s1"));
    }

    [Fact]
    public void The_coordinator_refuses_a_result_for_another_first_deviation_or_without_its_counts()
    {
        _coordinator.Tell(Farm("s2"));
        _coordinator.Tell(new RequestUnit("s2", TestActor, 0));
        var lease = ExpectMsg<UnitLease>(TimeSpan.FromSeconds(5));
        EventFilter.Error(contains: "not one of the farm's units").ExpectOne(() =>
            _coordinator.Tell(Done("s2", lease) with { Systematic = null }));
        EventFilter.Error(contains: "not one of the farm's units").ExpectOne(() =>
            _coordinator.Tell(Done("s2", lease with { Point = 7 })));
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        _coordinator.Tell(Done("s2", lease));
        Assert.Equal(0, ExpectMsg<UnitDone>(TimeSpan.FromSeconds(5)).Unit);
        // Units out of order: refused, and the runner is told.
        _coordinator.Tell(Farm("s3", Units() with { Points = [1, 0, 0, 0, 1] }));
        Assert.Contains("not in (depth, order, point, position) order", ExpectMsg<FarmFailed>(TimeSpan.FromSeconds(5)).Error);
        _coordinator.Tell(new EndFarm("s2"));
    }

    [Fact]
    public void A_worker_runs_a_leased_unit_as_RunUnit_does_and_refuses_a_lease_that_is_not_a_first_deviation()
    {
        var text = File.ReadAllText(Path.Combine(Support.Scenarios.Directory, "two-pins.json"));
        var scenario = DaxSim.Protocol.Scenarios.ScenarioLoader.Parse(text, "two-pins.json");
        // A farm of last-come units only: the member's explorer searches that order alone.
        var lastCome = DaxSim.Host.Deterministic.DefaultOrder.LastCome;
        var explorer = new DaxSim.Host.Explore.SystematicExplorer(scenario, Variant.Mainline, 1, 1) { Orders = [lastCome] };
        DaxSim.Host.Deterministic.Delay first;
        DaxSim.Host.Explore.SystematicResult expected;
        using (var runtime = Runtimes.ForOneThread(RuntimeKind.Deterministic))
        {
            explorer.RunRoot(runtime, lastCome, out var counts);
            var unit = DaxSim.Host.Explore.SystematicExplorer.Units(1, [lastCome], [counts])[0];
            first = unit.First;
            expected = explorer.RunUnit(runtime, explorer.BeginDepth(1, runtime), unit);
        }
        var spec = new SystematicFarm(1, 1, long.MaxValue, true, [1], [(int)lastCome], [first.Point], [first.Position]);
        var farm = new StartFarm("s7", text, "two-pins.json", "mainline", "systematic", 0, 0, false, 0, 1, 1, 1, 30_000,
            TestActor, [], null) { Systematic = spec };
        var worker = Sys.ActorOf(FarmWorker.Props(farm, TestActor, 0, scenario, Variant.Mainline), "worker-s7");
        ExpectMsg<RequestUnit>(TimeSpan.FromSeconds(5));
        EventFilter.Error(contains: "refused a lease").ExpectOne(() =>
            worker.Tell(new UnitLease("s7", 0, 0, 1, 0) { Depth = 1, Order = 1, Point = first.Point, Position = 2 }));
        EventFilter.Error(contains: "refused a lease").ExpectOne(() =>
            worker.Tell(new UnitLease("s7", 0, 0, 1, 0) { Depth = 1, Order = 0, Point = first.Point, Position = first.Position }));
        worker.Tell(new UnitLease("s7", 0, 0, 1, 0) { Depth = 1, Order = 1, Point = first.Point, Position = first.Position });
        var done = (UnitDone)FishForMessage(m => m is UnitDone, TimeSpan.FromSeconds(30));
        Assert.NotNull(done.Systematic);
        Assert.Equal((1, 1, first.Point, first.Position),
            (done.Systematic!.Depth, done.Systematic.Order, done.Systematic.Point, done.Systematic.Position));
        Assert.Equal(expected.Schedules, done.Systematic.Schedules);
        Assert.Equal(expected.ByDelays, done.Systematic.ByDelays);
        Assert.Equal((expected.Slept, expected.SleptUnrun), (done.Systematic.Slept, done.Systematic.SleptUnrun));
        Assert.Equal(expected.Schedules - expected.SleptUnrun, done.CoverageRuns); // schedules left unrun have no coverage
        // With the reduction, the member's depth begins with its own run of the default schedule.
        Assert.Equal((explorer.Reduces ? 1 : 0) + expected.Reruns, done.Systematic.Reruns);
        worker.Tell(new EndFarm("s7"));
    }

    [Fact]
    public void The_agent_refuses_a_systematic_farm_without_units_or_with_bad_ones_and_units_with_another_strategy()
    {
        _agent.Tell(Farm("s4") with { Systematic = null });
        Assert.Contains("needs its units", ExpectMsg<FarmFailed>(TimeSpan.FromSeconds(5)).Error);
        _agent.Tell(Farm("s5", strategy: "random"));
        Assert.Contains("with systematic units", ExpectMsg<FarmFailed>(TimeSpan.FromSeconds(5)).Error);
        _agent.Tell(Farm("s6", Units() with { Positions = [1, 1, 1, 3, 1] }));
        // The coordinator (reached through the agent's proxy, if it is up) may refuse it too: look for the agent's answer.
        var failed = ReceiveWhile(TimeSpan.FromSeconds(3), m => m as FarmFailed, msgs: 2).OfType<FarmFailed>().ToList();
        Assert.Contains(failed, f => f.Member == 0 && f.Error.Contains("is not a first deviation within bound 2"));
    }
}
