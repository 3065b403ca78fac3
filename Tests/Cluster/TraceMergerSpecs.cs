using DaxSim.Actors;
using DaxSim.Host.Checking;
using DaxSim.Host.Cluster;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;
using DaxSim.Tests.Runtime;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Cluster;

/// <summary>
/// The runner's merge of the members' trace streams, without processes: a real trace (the
/// shipped generic-503-truncate on the deterministic runtime) cut into batches from three
/// nodes as TraceForwarder sends them, then delivered late, twice and out of order on
/// purpose. The checker must see the events in the order they happened whatever the
/// delivery, or the run must not stand by its finding: a page freed before the put that
/// made it idle reads as a use-after-free (S1) that never happened.
/// </summary>
public sealed class TraceMergerSpecs(DeterministicRuntimeFixture fixture) : IClassFixture<DeterministicRuntimeFixture>
{
    private const int Nodes = 3;

    // Pins are a task's (node 0, the slow one); the filesystem's events are node 1's; node 2
    // has nothing to say but its heartbeats.
    private static int NodeOf(TraceEvent e) => e is PageGot or PagePut or DmaLanded or PteRechecked ? 0 : 1;

    private (Scenario Scenario, List<TraceEvent> Events) RealTrace()
    {
        var scenario = Scenarios.Shipped("generic-503-truncate");
        var run = fixture.Runtime.Run(scenario, new RunSettings { Seed = 3, RecordTimeline = true });
        Assert.Equal(Verdict.Clean, run.Verdict);
        var events = run.Timeline!.Select(e => e.Item).OfType<TraceEvent>().ToList();
        Assert.Contains(events, e => e is PagePut);
        Assert.Contains(events, e => e is BlockFreed);
        return (scenario, events);
    }

    private static long StampOf(int i) => 10L * i + 10;

    /// <summary>
    /// The batches each node sends, as TraceForwarder sends them: its events in stamp order,
    /// now and then (a heartbeat when it has none) with the stamp of the moment as its
    /// watermark; each with the position in the run at which it was sent.
    /// </summary>
    private static List<(int SentAt, TraceBatch Batch)> Batches(List<TraceEvent> events, ulong seed)
    {
        var rng = new Rng(seed);
        var pending = Enumerable.Range(0, Nodes).Select(_ => new List<(long, TraceEvent)>()).ToArray();
        var seq = new long[Nodes];
        var sent = new List<(int, TraceBatch)>();
        void Send(int node, int at, long watermark)
        {
            var p = pending[node];
            sent.Add((at, new TraceBatch("run", node, ++seq[node], watermark, p.Select(x => x.Item1).ToArray(),
                p.Select(x => x.Item2).ToArray())));
            p.Clear();
        }
        for (var i = 0; i < events.Count; i++)
        {
            pending[NodeOf(events[i])].Add((StampOf(i), events[i]));
            for (var node = 0; node < Nodes; node++)
            {
                if (rng.Next(4) == 0)
                {
                    Send(node, i, StampOf(i));
                }
            }
        }
        for (var node = 0; node < Nodes; node++)
        {
            Send(node, events.Count, StampOf(events.Count));
        }
        return sent;
    }

    /// <summary>
    /// The batches as a loaded machine delivers them: node 0's a long while after it sent
    /// them (its timer starved), every fifth batch twice, and some batches of a node
    /// overtaking its previous one.
    /// </summary>
    private static List<TraceBatch> Scrambled(List<(int SentAt, TraceBatch Batch)> sent, int lag, bool swaps = true)
    {
        var arriving = sent.Select((s, k) => (At: s.SentAt + (s.Batch.Node == 0 ? lag : 0), Order: k, s.Batch))
            .OrderBy(x => x.At).ThenBy(x => x.Order).Select(x => x.Batch).ToList();
        var delivered = new List<TraceBatch>();
        for (var k = 0; k < arriving.Count; k++)
        {
            // Swap with the next batch of the same node now and then: it arrives first.
            var next = arriving.FindIndex(k + 1, b => b.Node == arriving[k].Node);
            if (swaps && k % 7 == 3 && next > k)
            {
                (arriving[k], arriving[next]) = (arriving[next], arriving[k]);
            }
            delivered.Add(arriving[k]);
            if (k % 5 == 0)
            {
                delivered.Add(arriving[k]);
            }
        }
        return delivered;
    }

    private static InvariantChecker Checker(Scenario scenario, Func<long> now) =>
        new(scenario, ProtocolPolicy.For(Variant.Mainline), now, recordOps: false);

    [Fact]
    public void Events_fed_to_the_checker_in_arrival_order_must_read_as_a_violation_that_never_happened()
    {
        // What the runner did when it stopped waiting for a node silent for a second (the
        // `mainline` S1 of a loaded run that did not reproduce): the others' events went
        // ahead of the slow node's, and a block was freed before the puts that let it go.
        // Not a claim about the merger: the proof that this delivery fools a checker that
        // takes events in arrival order.
        var (scenario, events) = RealTrace();
        var delivered = Scrambled(Batches(events, 5), lag: 40, swaps: false);
        long now = 0;
        var checker = Checker(scenario, () => now);
        var seen = new HashSet<(int, long)>();
        foreach (var b in delivered.Where(b => seen.Add((b.Node, b.Seq))))
        {
            for (var i = 0; i < b.Events.Length && !checker.Stopped; i++)
            {
                now = Math.Max(now, b.Stamps[i]);
                checker.Observe(b.Events[i]);
            }
        }

        // The trace is clean (the deterministic runtime said so); this order is not.
        Assert.Equal("S1", checker.Violation?.Invariant.ToString());
        Assert.Equal(Damage.PinnedBlockFreed, checker.Violation!.Damage);
    }

    [Fact]
    public void The_merger_must_give_the_checker_the_events_in_the_order_they_happened_however_they_arrive()
    {
        var (scenario, events) = RealTrace();
        for (var seed = 1UL; seed <= 5; seed++)
        {
            var delivered = Scrambled(Batches(events, seed), lag: 40);
            var merger = new TraceMerger(Enumerable.Range(0, Nodes));
            long now = 0;
            var checker = Checker(scenario, () => now);
            var released = new List<TraceEvent>();
            foreach (var batch in delivered)
            {
                merger.Add(batch);
                foreach (var (_, stamp, e, late) in merger.Release())
                {
                    Assert.False(late);
                    now = stamp;
                    released.Add(e);
                    checker.Observe(e);
                }
            }
            checker.AtQuiescence();

            Assert.Equal(events, released);
            Assert.Null(checker.Violation);
            Assert.True(merger.Duplicates > 0, "the delivery had no duplicate");
            Assert.True(merger.Gaps > 0, "the delivery had no batch overtaking another");
            Assert.Equal(0, merger.Late);
            Assert.Equal(0, merger.Pending);
        }
    }

    [Fact]
    public void A_slow_node_must_hold_the_merge_back_until_it_sends()
    {
        var merger = new TraceMerger([0, 1]);
        merger.Add(new TraceBatch("run", 1, 1, 100, [50], [new NodeCrashed(1)]));

        Assert.Empty(merger.Release());

        merger.Add(new TraceBatch("run", 0, 1, 100, [40], [new NodeCrashed(0)]));
        Assert.Equal([40L, 50L], merger.Release().Select(r => r.Stamp));
    }

    [Fact]
    public void A_leaving_node_must_hold_the_merge_back_until_it_is_gone()
    {
        var merger = new TraceMerger([0, 1]);
        merger.Leaving(0);
        merger.Add(new TraceBatch("run", 1, 1, 100, [50], [new NodeCrashed(1)]));

        Assert.Empty(merger.Release());
        Assert.True(merger.IsLive(0));

        merger.Gone(0);
        Assert.Equal([50L], merger.Release().Select(r => r.Stamp));
        Assert.False(merger.IsLive(0));
    }

    [Fact]
    public void A_gone_nodes_event_older_than_one_released_must_be_flagged_late_and_its_finding_inconclusive()
    {
        var merger = new TraceMerger([0, 1]);
        merger.Gone(0);
        merger.Add(new TraceBatch("run", 1, 1, 100, [50], [new NodeCrashed(1)]));
        Assert.False(Assert.Single(merger.Release()).Late);

        merger.Add(new TraceBatch("run", 0, 1, 100, [40], [new NodeCrashed(0)]));
        Assert.True(Assert.Single(merger.Release()).Late);
        Assert.Equal(1, merger.Late);

        var s1 = new Violation(InvariantId.S1, Verdict.Safety, 60, "block 3 freed while pinned", [], []);
        var run = new RunResult
        {
            Scenario = "s", Runtime = RuntimeKind.Cluster, Seed = 1, Variant = Variant.Mainline, Strategy = "cluster",
            Verdict = Verdict.Safety, Violation = s1, Ops = [], EndTime = 60,
        };
        using var host = new HostLateness(() => 60, manual: true);
        var judged = RunResults.Judged(run, host, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3),
            disorder: "1 event(s) of node 0 reached the checker after newer ones");

        Assert.Equal(Verdict.Inconclusive, judged.Verdict);
        Assert.Equal(4, judged.Verdict.ExitCode());
        Assert.Contains("after newer ones", judged.Host!.Inconclusive);
    }
}
