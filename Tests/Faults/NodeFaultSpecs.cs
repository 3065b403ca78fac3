using DaxSim.Host.Checking;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;
using DaxSim.Tests.Runtime;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Faults;

/// <summary>
/// Node crashes, partitions and lossy networks on the deterministic runtime's simulated
/// cluster (scenarios/cluster/): what docs/cluster.md promises, checked on the trace.
/// </summary>
public sealed class NodeFaultSpecs(DeterministicRuntimeFixture fixture) : IClassFixture<DeterministicRuntimeFixture>
{
    private readonly DeterministicRuntime _runtime = fixture.Runtime;

    private static Scenario Cluster(string name) =>
        ScenarioLoader.LoadFile(Path.Combine(Scenarios.Directory, "cluster", name + ".json"));

    private RunResult Run(Scenario scenario, ulong seed = 1, Variant? variant = null) =>
        _runtime.Run(scenario, new RunSettings { Seed = seed, Variant = variant ?? Variant.Mainline, RecordTimeline = true });

    private static List<(long Time, TraceEvent Event)> Events(RunResult result) =>
        result.Timeline!.Where(e => e.Item is TraceEvent).Select(e => (e.Time, (TraceEvent)e.Item)).ToList();

    public static TheoryData<string> ClusterScenarios() =>
        new(Directory.GetFiles(Path.Combine(Scenarios.Directory, "cluster"), "*.json")
            .Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal)!);

    [Theory]
    [MemberData(nameof(ClusterScenarios))]
    public void Every_cluster_scenario_must_get_its_expected_verdict_under_mainline_on_many_seeds(string name)
    {
        // All clean, but partition-stuck-truncate: its run ends while the truncate still
        // waits for a partitioned node's pins (liveness, expected).
        var scenario = Cluster(name);
        for (ulong seed = 1; seed <= 40; seed++)
        {
            var result = _runtime.Run(scenario, new RunSettings { Seed = seed, RecordOps = false });
            Assert.True(result.Verdict == scenario.Expect,
                $"{name} seed {seed}: {result.Verdict}, expected {scenario.Expect}: {result.Violation?.Invariant} {result.Violation?.Description}");
        }
    }

    [Fact]
    public void A_crashed_nodes_pins_must_hold_the_truncate_until_the_node_is_removed_and_then_be_put()
    {
        var result = Run(Cluster("crash-pinned-node"));
        Assert.Equal(Verdict.Clean, result.Verdict);
        var events = Events(result);
        var pin = new TaskId(0);
        var truncate = new TaskId(1);

        var crashed = events.Single(e => e.Event is NodeCrashed { Node: 2 }).Time;
        var removed = events.Single(e => e.Event is NodeRemoved { Node: 2, Reason: "crashed" }).Time;
        Assert.Contains(events, e => e.Event is TaskLost t && t.Task == pin);
        Assert.True(removed - crashed >= TimeSpan.FromSeconds(5).Ticks);
        // The truncate waited on a page the lost task pinned, and finished only after removal.
        Assert.Contains(events, e => e.Event is WaitSleeping w && w.Task == truncate && e.Time < crashed);
        var done = events.Single(e => e.Event is OpCompleted { Op: OpKind.Truncate } c && c.Task == truncate);
        Assert.True(done.Time >= removed);
        Assert.Equal(Errno.Ok, ((OpCompleted)done.Event).Result);
        // Each of the lost task's four pins was put back, by the entities, at removal.
        var puts = events.Where(e => e.Event is PagePut p && p.Task == pin).ToList();
        Assert.Equal(4, puts.Count);
        Assert.All(puts, p => Assert.True(p.Time >= removed));
        Assert.All(puts, p => Assert.Equal(1, ((PagePut)p.Event).Refcount));
    }

    [Fact]
    public void A_partitioned_minority_must_keep_its_pins_until_it_is_downed()
    {
        var result = Run(Cluster("partition-minority-pin"));
        Assert.Equal(Verdict.Clean, result.Verdict);
        var events = Events(result);
        var partitioned = events.Single(e => e.Event is NetworkPartitioned).Time;
        var downed = events.Single(e => e.Event is NodeRemoved { Node: 2, Reason: "downed" }).Time;
        Assert.DoesNotContain(events, e => e.Event is NodeRemoved { Node: not 2 });
        Assert.Equal(partitioned + TimeSpan.FromSeconds(5).Ticks, downed);
        var truncate = events.Single(e => e.Event is OpCompleted { Op: OpKind.Truncate });
        Assert.True(truncate.Time >= downed);
        // Node 2's entities came back on the majority side: node 1's reader goes on after the downing.
        Assert.Contains(events, e => e.Event is OpCompleted { Op: OpKind.Mmap } c && c.Task == new TaskId(2) && e.Time > downed);
    }

    [Fact]
    public void A_partition_healed_in_time_must_down_nobody_and_lose_nothing()
    {
        var scenario = Cluster("partition-heal");
        var result = Run(scenario);
        Assert.Equal(Verdict.Clean, result.Verdict);
        var events = Events(result);
        Assert.Contains(events, e => e.Event is NetworkHealed { Downed: false });
        Assert.DoesNotContain(events, e => e.Event is NodeRemoved or TaskLost);
        Assert.Equal(scenario.OperationCount, result.OpsCompleted);
    }

    [Fact]
    public void A_lossy_network_must_not_change_any_refcount_and_every_operation_must_finish()
    {
        var scenario = Cluster("lossy-network");
        var plain = scenario with { Faults = [] };
        for (ulong seed = 1; seed <= 10; seed++)
        {
            var result = Run(scenario, seed);
            Assert.Equal(Verdict.Clean, result.Verdict);
            Assert.Equal(scenario.OperationCount, result.OpsCompleted);
            var events = Events(result).Select(e => e.Event).ToList();
            // Every get has its put, every refcount ends at 1: nothing drifted.
            Assert.Equal(events.OfType<PageGot>().Count(), events.OfType<PagePut>().Count());
            Assert.All(events.OfType<PageGot>().GroupBy(g => g.Page), g =>
                Assert.Equal(1, events.OfType<PagePut>().Last(p => p.Page == g.Key).Refcount));
            Assert.Equal(events.OfType<LockAcquired>().Count(), events.OfType<LockReleased>().Count());
        }
        // And the faults are really there: the same seed without them is a different run.
        Assert.NotEqual(Run(plain, 1).TraceHash, Run(scenario, 1).TraceHash);
    }

    [Fact]
    public void Faults_must_not_hide_a_bug_no_break_must_still_be_caught_on_a_lossy_network()
    {
        var scenario = Cluster("lossy-network");
        var found = Enumerable.Range(1, 50).Select(s => Run(scenario, (ulong)s, Variant.NoBreak))
            .FirstOrDefault(r => r.Verdict != Verdict.Clean);
        Assert.NotNull(found);
        Assert.Equal(InvariantId.S1, found.Violation!.Invariant);
    }

    [Theory]
    [InlineData("lossy-network")]
    [InlineData("crash-pinned-node")]
    [InlineData("partition-heal")]
    public void The_same_seed_must_replay_the_same_faults_byte_for_byte(string name)
    {
        var scenario = Cluster(name);
        var settings = new RunSettings { Seed = 7, RecordTrace = true };
        var first = _runtime.Run(scenario, settings);
        using var fresh = new DeterministicRuntime();
        var second = fresh.Run(scenario, settings);
        Assert.Equal(first.TraceText, second.TraceText);
        Assert.NotEqual(first.TraceHash, _runtime.Run(scenario, settings with { Seed = 8 }).TraceHash);
    }
}
