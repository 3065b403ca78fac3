using Akka.Actor;
using Akka.TestKit;
using DaxSim.Actors;
using DaxSim.Host.Cluster;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Scenarios;
using Xunit;
using Envelope = DaxSim.Protocol.Messages.Envelope;
using DaxSim.Transport;
using DaxSim.Tests.Support;

namespace DaxSim.Tests.Cluster;

/// <summary>
/// The links between members (NodeLink.cs): the run's directory sends what is for another
/// member through this member's outbox, which batches it per member; an inbox hands each
/// item of a batch on within its member; anything else from the network is refused. Three
/// members' worth of probes in one ActorSystem: this one is node 0, task 0 runs here, task
/// 1 on node 1; entity n lives on node (n mod 64) mod 3.
/// No wall-clock waits: "nothing else was sent" is stated after a barrier (one more item
/// through the same actor, whose mailbox is FIFO, so what it did before is done), or with
/// the inbox on the spec's thread (a TestActorRef), where it is done when the Tell returns.
/// (The outbox stays a real actor: batching is what it does while its mailbox fills.)
/// </summary>
public sealed class NodeLinkSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly Endpoint Task0 = Endpoint.Of(new TaskId(0));
    private static readonly Endpoint Task1 = Endpoint.Of(new TaskId(1));
    private static readonly Endpoint Page0 = Endpoint.Of(new PageId(0)); // node 0
    private static readonly Endpoint Page1 = Endpoint.Of(new PageId(1)); // node 1
    private static readonly Endpoint Page2 = Endpoint.Of(new PageId(2)); // node 2

    private readonly ClusterDirectory _dir = new();
    private readonly TestProbe _region;
    private readonly TestProbe _task0;
    private readonly TestProbe _task1;
    private readonly TestProbe[] _inboxes;
    private readonly IActorRef _outbox;
    private readonly MessageCounter _counter = new();

    public NodeLinkSpecs()
    {
        _region = CreateTestProbe("region");
        _task0 = CreateTestProbe("task0");
        _task1 = CreateTestProbe("task1");
        _inboxes = [CreateTestProbe("inbox0"), CreateTestProbe("inbox1"), CreateTestProbe("inbox2")];
        _dir.SetRegion(_region.Ref);
        _dir.SetTasks([_task0.Ref, _task1.Ref], [ActorRefs.Nobody, ActorRefs.Nobody, ActorRefs.Nobody]);
        _dir.SetLayout(self: 0, nodes: [2, 0, 1], placement: [0, 1]);
        _outbox = Sys.ActorOf(NodeOutbox.Props(_dir, _counter), "outbox");
        _dir.SetLinks(_outbox, _inboxes.Select(p => p.Ref).ToArray());
    }

    // Two tasks and three pages: what the inbox checks the items of a batch against.
    private static readonly RunEntities Entities = new(ScenarioLoader.Parse("""
        { "name": "links", "device": { "blocks": 3 }, "files": [ { "name": "dax", "pages": 1 } ],
          "tasks": [ { "name": "t0", "steps": [ { "op": "touch", "file": "dax", "pages": "0" } ] },
                     { "name": "t1", "steps": [ { "op": "touch", "file": "dax", "pages": "0" } ] } ] }
        """, "links.json"));

    // A task's put of the page it is sent to (a task may put only its own pins).
    private static Envelope Env(Endpoint from, Endpoint to, long seq) =>
        new(from, to, seq, new PutPage(new PageId(to.Kind == EndpointKind.Page ? to.Id : 0), new TaskId(from.Id)));

    /// <summary>Every item the probe gets in batches, in order, until it has <paramref name="count"/>; and the batches.</summary>
    private static (List<object> Items, int Batches) Collect(TestProbe inbox, int count)
    {
        var items = new List<object>();
        var batches = 0;
        while (items.Count < count)
        {
            var batch = inbox.ExpectMsg<WireBatch>(TimeSpan.FromSeconds(3));
            Assert.InRange(batch.Items.Length, 1, NodeOutbox.MaxBatch);
            items.AddRange(batch.Items);
            batches++;
        }
        return (items, batches);
    }

    [Fact]
    public void The_directory_must_send_what_lives_on_another_member_through_the_outbox_and_the_rest_direct()
    {
        Assert.Equal(_task0.Ref, _dir.Resolve(Task0));
        Assert.Equal(_outbox, _dir.Resolve(Task1));
        Assert.Equal(_region.Ref, _dir.Resolve(Page0));
        Assert.Equal(_outbox, _dir.Resolve(Page1));
        Assert.Equal(_outbox, _dir.Resolve(Page2));
        Assert.Equal(_region.Ref, _dir.Resolve(Endpoint.Of(new PageId(64)))); // shard 0 again

        // Node 1 is gone: its entities' shards live elsewhere now, and only the region knows where.
        _dir.Forget(1);
        Assert.Equal(_region.Ref, _dir.Resolve(Page1));
        Assert.Equal(_task1.Ref, _dir.Resolve(Task1));
        Assert.Equal(_outbox, _dir.Resolve(Page2));
    }

    [Fact]
    public void An_entity_placed_on_this_member_must_be_told_directly_until_it_leaves()
    {
        var page0 = CreateTestProbe("page0");
        _dir.Arrived(Page0, page0.Ref);
        Assert.Equal(page0.Ref, _dir.Resolve(Page0));
        Assert.Equal(page0.Ref, _dir.Direct(Page0));
        Assert.Equal(page0.Ref, _dir.Here(Page0));
        // An entity of another member still goes through the outbox; one not started here yet by the region.
        Assert.Equal(_outbox, _dir.Resolve(Page1));
        Assert.Equal(_region.Ref, _dir.Resolve(Endpoint.Of(new PageId(64))));

        // A stale Left (an earlier incarnation's) does not take the new one's place away.
        _dir.Left(Page0, CreateTestProbe("stale").Ref);
        Assert.Equal(page0.Ref, _dir.Resolve(Page0));
        _dir.Left(Page0, page0.Ref);
        Assert.Equal(_region.Ref, _dir.Resolve(Page0));
        Assert.Null(_dir.Here(Page0));
    }

    [Fact]
    public void The_outbox_must_batch_per_member_in_the_order_the_items_came()
    {
        var sent = new object[]
        {
            Env(Task0, Task1, 1), Env(Task0, Page1, 1), new Ack(Page0, Task1, 3), Env(Task0, Page2, 1), Env(Task0, Page1, 2),
        };
        foreach (var item in sent)
        {
            _outbox.Tell(item, _task0.Ref);
        }

        var (toNode1, _) = Collect(_inboxes[1], 4);
        Assert.Equal(new[] { sent[0], sent[1], sent[2], sent[4] }, toNode1);
        var (toNode2, _) = Collect(_inboxes[2], 1);
        Assert.Equal(new[] { sent[3] }, toNode2);
        // A barrier: once this later item is through, the outbox has sent all it will for the
        // items before it, and node 0 (this member) got none.
        var barrier = Env(Task0, Page2, 2);
        _outbox.Tell(barrier, _task0.Ref);
        Assert.Equal(new object[] { barrier }, Collect(_inboxes[2], 1).Items);
        _inboxes[0].ExpectNothing();
        AwaitAssert(() => Assert.Equal(5 + 1, _counter.Snapshot().Batched)); // and the barrier
    }

    [Fact]
    public void A_busy_outbox_must_send_larger_batches_but_none_beyond_the_limit()
    {
        var sent = Enumerable.Range(1, 1000).Select(i => (object)Env(Task0, Page1, i)).ToList();
        foreach (var item in sent)
        {
            _outbox.Tell(item, _task0.Ref);
        }

        var (items, batches) = Collect(_inboxes[1], sent.Count);
        Assert.Equal(sent, items);
        Assert.InRange(batches, (int)Math.Ceiling(sent.Count / (double)NodeOutbox.MaxBatch), sent.Count - 1);
        AwaitAssert(() =>
        {
            var counts = _counter.Snapshot();
            Assert.Equal((batches, sent.Count), ((int)counts.Batches, (int)counts.Batched));
        });
    }

    [Fact]
    public void What_the_outbox_gets_for_a_member_that_is_gone_must_go_the_direct_way()
    {
        _dir.Forget(2);
        var envelope = Env(Task0, Page2, 1);
        _outbox.Tell(envelope, _task0.Ref);
        _region.ExpectMsg(envelope);
        Assert.Equal(_task0.Ref, _region.LastSender);
    }

    [Fact]
    public void The_inbox_must_hand_each_item_to_its_task_or_the_region_with_the_remote_outbox_as_sender()
    {
        var inbox = this.UnderTest<NodeInbox>(NodeInbox.Props(_dir, Entities));
        var remoteOutbox = CreateTestProbe("outbox1");
        var toTask = Env(Task1, Task0, 7);
        var ack = new Ack(Task1, Page0, 3);
        inbox.Tell(new WireBatch([toTask, ack]), remoteOutbox.Ref);

        _task0.ExpectMsg(toTask);
        Assert.Equal(remoteOutbox.Ref, _task0.LastSender);
        _region.ExpectMsg(ack);
        Assert.Equal(remoteOutbox.Ref, _region.LastSender);
    }

    [Fact]
    public void The_inbox_must_hand_an_item_for_an_entity_of_this_member_to_its_actor_after_checking_it()
    {
        var page0 = CreateTestProbe("page0");
        _dir.Arrived(Page0, page0.Ref);
        var inbox = this.UnderTest<NodeInbox>(NodeInbox.Props(_dir, Entities));
        var remoteOutbox = CreateTestProbe("outbox1");
        var put = Env(Task1, Page0, 1);
        inbox.Tell(new WireBatch([put]), remoteOutbox.Ref);
        page0.ExpectMsg(put);
        Assert.Equal(remoteOutbox.Ref, page0.LastSender);

        // The entity's host is not on this way, so the inbox refuses what the host would.
        var notItsTask = new Envelope(Task1, Page0, 2, new PutPage(new PageId(0), new TaskId(0)));
        EventFilter.Error(contains: "names task-0 but came from task-1").ExpectOne(() =>
            inbox.Tell(new WireBatch([notItsTask]), remoteOutbox.Ref));
        var noSuchFile = new Envelope(Task1, Page0, 2, new GetPage(new PageId(0), new TaskId(1), new FileId(5), 0, 1));
        EventFilter.Error(contains: "which the run does not have").ExpectOne(() =>
            inbox.Tell(new WireBatch([noSuchFile]), remoteOutbox.Ref));
        page0.ExpectNothing();
        _region.ExpectNothing();
    }

    [Fact]
    public void The_inbox_must_refuse_junk_from_the_network_with_a_logged_error()
    {
        var inbox = this.UnderTest<NodeInbox>(NodeInbox.Props(_dir, Entities));
        var good = Env(Task1, Page0, 1);
        EventFilter.Error(contains: "not an envelope or an ack").ExpectOne(() =>
            inbox.Tell(new WireBatch(["junk", good]), TestActor));
        _region.ExpectMsg(good);

        var tooMany = Enumerable.Range(1, NodeOutbox.MaxBatch + 1).Select(i => (object)Env(Task1, Page0, i)).ToArray();
        EventFilter.Error(contains: $"refused a batch of {NodeOutbox.MaxBatch + 1} items").ExpectOne(() =>
            inbox.Tell(new WireBatch(tooMany), TestActor));
        EventFilter.Error(contains: "refused a batch of 0 items").ExpectOne(() => inbox.Tell(new WireBatch(null!), TestActor));
        EventFilter.Error(contains: "not a batch").ExpectOne(() => inbox.Tell(good, TestActor));
        _region.ExpectNothing();
        _task0.ExpectNothing();
    }
}
