using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using DaxSim.Actors;
using DaxSim.Actors.Page;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;
using DaxSim.Tests.Support;
using Xunit;
using Envelope = DaxSim.Protocol.Messages.Envelope;
using DaxSim.Transport;

namespace DaxSim.Tests.Faults;

/// <summary>
/// Reliable delivery (Host/Transport/ReliableDelivery and JournalingDelivery) under a PageActor whose partners are probes: envelopes are
/// acknowledged, processed once and in each sender's order, misaddressed ones are
/// refused, a gone task's pins are given back, and a journaled page comes back with its
/// refcount, its de-duplication window and what it still owes.
/// Virtual time (<see cref="VirtualTime"/>): the page runs on the spec's thread, and its
/// retransmission timer fires only when the spec advances the clock, so "nothing more was
/// sent" is checked at once, and "sent again" after exactly one retry interval.
/// </summary>
public sealed class ReliableDeliverySpecs : TestKit
{
    private static readonly PageId P = new(3);
    private static readonly Endpoint PageEnd = Endpoint.Of(P);
    private static readonly TaskId Dio = new(0);
    private static readonly Endpoint DioEnd = Endpoint.Of(Dio);
    private static readonly TaskId Truncator = new(1);
    private static readonly Endpoint TruncatorEnd = Endpoint.Of(Truncator);

    private readonly ProbeDirectory _dir;
    private readonly RecordingSink _sink = new();

    public ReliableDeliverySpecs() : base(VirtualTime.Config)
    {
        _dir = new ProbeDirectory(this);
    }

    private SimEnvironment Env(IEntityJournal? journal = null, bool coalesced = false) =>
        new(Scenarios.Parse("""[ { "name": "t", "steps": [ { "op": "sleep", "for": "1ms" } ] } ]"""),
            ProtocolPolicy.For(Variant.Mainline), _sink, _dir)
        {
            Delivery = new DeliveryOptions
            {
                Reliable = true, RetryInterval = RetryInterval, CoalescedAcks = coalesced,
            },
            Journal = journal,
        };

    private static readonly TimeSpan RetryInterval = TimeSpan.FromMilliseconds(50);

    private IActorRef Page(SimEnvironment env) => this.UnderTest<PageActor>(PageActor.Props(env, P, Scenarios.Dax));

    /// <summary>Everything the probe has been sent and not taken yet (the page runs on this thread: nothing is on its way).</summary>
    private static List<object> Drain(TestProbe probe)
    {
        var taken = new List<object>();
        while (probe.HasMessages)
        {
            taken.Add(probe.ReceiveOne(TimeSpan.Zero)!);
        }
        return taken;
    }

    private static Envelope From(Endpoint sender, long seq, object payload) => new(sender, PageEnd, seq, payload);

    private GetPage Get(long seq) => new(P, Dio, Scenarios.Dax, 0, seq);

    [Fact]
    public void An_envelope_must_be_acknowledged_and_its_reply_sent_reliably_by_entity()
    {
        var page = Page(Env());
        page.Tell(From(DioEnd, 1, Get(10)), TestActor);

        // Acknowledgement and reply go to the task by entity (through the directory), not
        // to whoever carried the envelope; the reply in an envelope of the page's own numbering.
        var task = _dir.Probe("task-0");
        task.ExpectMsg<Ack>(a => a.From == PageEnd && a.To == DioEnd && a.Seq == 1);
        var reply = task.ExpectMsg<Envelope>();
        Assert.Equal((PageEnd, DioEnd, 1L), (reply.From, reply.To, reply.Seq));
        Assert.Equal(new GetPageAck(P, 2, 10), reply.Payload);
    }

    [Fact]
    public void A_task_started_again_must_have_its_envelopes_numbered_from_1_processed_and_its_former_incarnations_dropped()
    {
        var page = Page(Env());
        var task = _dir.Probe("task-0");
        page.Tell(From(DioEnd, 1, Get(10)) with { FromIncarnation = 5 }, TestActor);
        task.FishForMessage(m => m is Ack { Seq: 1, ToIncarnation: 5 });

        // The task's node crashed; started again without a journal, it numbers from 1 again.
        page.Tell(From(DioEnd, 1, Get(11)) with { FromIncarnation = 6 }, TestActor);
        // The reply the former incarnation never acknowledged goes to the new one at once, numbered for it.
        task.FishForMessage(m => m is Envelope { Seq: 1, ToIncarnation: 6, Payload: GetPageAck });
        task.FishForMessage(m => m is Ack { Seq: 1, ToIncarnation: 6 });
        // A straggler of the former incarnation is dropped; the new one's next envelope is processed.
        page.Tell(From(DioEnd, 2, new PutPage(P, Dio)) with { FromIncarnation = 5 }, TestActor);
        page.Tell(From(DioEnd, 2, new PutPage(P, Dio)) with { FromIncarnation = 6 }, TestActor);
        task.FishForMessage(m => m is Ack { Seq: 2, ToIncarnation: 6 });
        AwaitAssert(() =>
        {
            Assert.Equal([2, 3], _sink.Of<PageGot>().Select(g => g.Refcount));
            Assert.Single(_sink.Of<PagePut>());
        });
    }

    [Fact]
    public void A_duplicate_must_be_acknowledged_again_and_not_processed_again()
    {
        var page = Page(Env());
        page.Tell(From(DioEnd, 1, Get(10)), TestActor);
        page.Tell(From(DioEnd, 1, Get(10)), TestActor);
        page.Tell(From(DioEnd, 1, Get(10)), TestActor);

        var task = _dir.Probe("task-0");
        for (var i = 0; i < 3; i++)
        {
            task.FishForMessage(m => m is Ack { Seq: 1 });
        }
        AwaitAssert(() => Assert.Single(_sink.Of<PageGot>()));
        Assert.Equal(2, _sink.Of<PageGot>().Single().Refcount);
    }

    [Fact]
    public void Envelopes_must_be_processed_in_each_senders_order_whatever_order_they_arrive_in()
    {
        var page = Page(Env());
        // put (2) overtakes get (1): it waits, unacknowledged, until the get arrives.
        page.Tell(From(DioEnd, 2, new PutPage(P, Dio)), TestActor);
        var task = _dir.Probe("task-0");
        task.ExpectNothing();
        Assert.Empty(_sink.Of<PagePut>());

        page.Tell(From(DioEnd, 1, Get(10)), TestActor);
        task.ExpectMsg<Ack>(a => a.Seq == 1);
        task.FishForMessage(m => m is Ack { Seq: 2 });
        AwaitAssert(() => Assert.Equal([2, 1], _sink.Of<TraceEvent>()
            .Select(e => e switch { PageGot g => g.Refcount, PagePut p => p.Refcount, _ => -1 })
            .Where(r => r >= 0)));
    }

    [Fact]
    public void An_unacknowledged_reply_must_be_sent_again_until_it_is_acknowledged()
    {
        var page = Page(Env());
        page.Tell(From(DioEnd, 1, Get(10)), TestActor);
        var task = _dir.Probe("task-0");
        task.ExpectMsg<Ack>();
        var first = task.ExpectMsg<Envelope>();
        task.ExpectNothing();
        this.Advance(RetryInterval);
        var again = task.ExpectMsg<Envelope>();
        Assert.Equal(first, again);

        // Acknowledged: nothing more, however long.
        page.Tell(new Ack(DioEnd, PageEnd, first.Seq), task.Ref);
        this.Advance(RetryInterval * 10);
        task.ExpectNothing();
    }

    [Fact]
    public void A_misaddressed_envelope_or_a_junk_message_must_change_nothing()
    {
        var page = Page(Env());
        EventFilter.Error(contains: "got an envelope for page-4").ExpectOne(() =>
            page.Tell(new Envelope(DioEnd, Endpoint.Of(new PageId(4)), 1, Get(10)), TestActor));
        EventFilter.Error(contains: "does not take String").ExpectOne(() =>
            page.Tell(From(DioEnd, 1, "junk"), TestActor));

        // The junk envelope was taken in order (and acknowledged, so it is not sent again), then refused.
        _dir.Probe("task-0").ExpectMsg<Ack>(a => a.Seq == 1);
        page.Tell(new QueryRefcount(P, 5), TestActor);
        ExpectMsg<RefcountReport>(r => r.Refcount == 1);
        Assert.Empty(_sink.Of<PageGot>());
    }

    [Fact]
    public void Out_of_protocol_messages_from_the_network_must_be_refused_and_change_nothing()
    {
        var page = Page(Env());
        // A get that names another page, in an envelope addressed to this one.
        EventFilter.Error(contains: "meant for page-4").ExpectOne(() =>
            page.Tell(From(DioEnd, 1, new GetPage(new PageId(4), Dio, Scenarios.Dax, 0, 10)), TestActor));
        // A put from a task that holds no reference.
        EventFilter.Error(contains: "holds no reference").ExpectOne(() =>
            page.Tell(From(TruncatorEnd, 1, new PutPage(P, Truncator)), TestActor));

        page.Tell(new QueryRefcount(P, 5), TestActor);
        ExpectMsg<RefcountReport>(r => r.Refcount == 1);
        Assert.Empty(_sink.Of<PageGot>());
        Assert.Empty(_sink.Of<PagePut>());
    }

    [Fact]
    public void When_a_task_is_gone_its_pins_must_be_put_and_the_waiter_woken_and_its_late_messages_ignored()
    {
        var page = Page(Env());
        page.Tell(From(DioEnd, 1, Get(10)), TestActor);
        page.Tell(From(DioEnd, 2, Get(11)), TestActor);
        page.Tell(From(TruncatorEnd, 1, new WaitIdle(P, Truncator, 7)), TestActor);
        AwaitAssert(() => Assert.Single(_sink.Of<WaitSleeping>()));

        page.Tell(From(Endpoint.Runner, 1, new TaskGone(Dio)), TestActor);
        AwaitAssert(() => Assert.Equal([2, 1], _sink.Of<PagePut>().Select(p => p.Refcount)));
        _dir.Probe("task-1").FishForMessage(m => m is Envelope { Payload: PageIdle { Seq: 7 } });

        page.Tell(From(DioEnd, 3, Get(12)), TestActor);
        page.Tell(From(Endpoint.Runner, 2, new TaskGone(Dio)), TestActor);
        page.Tell(new QueryRefcount(P, 5), TestActor);
        FishForMessage(m => m is RefcountReport { Refcount: 1 });
        Assert.Equal(2, _sink.Of<PageGot>().Count());
        Assert.Equal(2, _sink.Of<PagePut>().Count());
    }

    [Fact]
    public void A_journaled_page_started_again_must_come_back_with_its_refcount_and_window_and_send_what_it_owes()
    {
        var journal = new MemoryJournal();
        var env = Env(journal);
        var first = Page(env);
        first.Tell(From(DioEnd, 1, Get(10)), TestActor);
        first.Tell(From(DioEnd, 2, Get(11)), TestActor);
        var task = _dir.Probe("task-0");
        task.FishForMessage(m => m is Ack { Seq: 2 });
        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first);
        var events = _sink.Of<TraceEvent>().Count();

        var again = Page(env);
        // It owes the task two replies, never acknowledged: it sends them again.
        task.FishForMessage(m => m is Envelope { Seq: 2, Payload: GetPageAck { Refcount: 3 } }, TimeSpan.FromSeconds(3));
        // A duplicate of what it took before is not taken again; the refcount is back.
        again.Tell(From(DioEnd, 2, Get(11)), TestActor);
        task.FishForMessage(m => m is Ack { Seq: 2 });
        again.Tell(new QueryRefcount(P, 5), TestActor);
        FishForMessage(m => m is RefcountReport { Refcount: 3 });
        // The replay reported nothing twice.
        Assert.Equal(events, _sink.Of<TraceEvent>().Count());
    }

    // --- coalesced acks (the cluster) ---

    [Fact]
    public void With_coalesced_acks_the_ack_for_a_request_must_ride_on_its_reply_and_none_go_alone()
    {
        var page = Page(Env(coalesced: true));
        page.Tell(From(DioEnd, 1, Get(10)), TestActor);

        var task = _dir.Probe("task-0");
        var reply = task.ExpectMsg<Envelope>();
        Assert.Equal((PageEnd, DioEnd, 1L, 1L), (reply.From, reply.To, reply.Seq, reply.Acked));
        Assert.Equal(new GetPageAck(P, 2, 10), reply.Payload);
        // Nothing else: no ack on its own, and the reply, once acknowledged, is not sent again.
        task.ExpectNothing();
        page.Tell(new Ack(DioEnd, PageEnd, 1), task.Ref);
        this.Advance(RetryInterval * 10);
        task.ExpectNothing();
    }

    [Fact]
    public void With_coalesced_acks_envelopes_that_need_no_reply_must_be_acknowledged_together_up_to_the_last()
    {
        var page = Page(Env(coalesced: true));
        page.Tell(From(DioEnd, 1, Get(10)), TestActor);
        page.Tell(From(DioEnd, 2, Get(11)), TestActor);
        var task = _dir.Probe("task-0");
        task.FishForMessage(m => m is Envelope { Seq: 2, Acked: 2 });

        // Puts are not answered: no reply to ride on, so acks go alone, fewer than the puts,
        // each covering more, the last for all of them.
        page.Tell(From(DioEnd, 3, new PutPage(P, Dio)), TestActor);
        page.Tell(From(DioEnd, 4, new PutPage(P, Dio)), TestActor);
        var acks = new List<long>();
        while (acks.LastOrDefault() < 4)
        {
            switch (task.ReceiveOne(TimeSpan.FromSeconds(3)))
            {
                case Ack a:
                    acks.Add(a.Seq);
                    break;
                case Envelope { Seq: <= 2 }:
                    break; // the replies, sent again until acknowledged
                case var other:
                    throw new Xunit.Sdk.XunitException($"unexpected {other}");
            }
        }
        Assert.True(acks.Count == 1 || acks.SequenceEqual([3L, 4]), $"acks {string.Join(", ", acks)}");
        AwaitAssert(() => Assert.Equal(2, _sink.Of<PagePut>().Count()));
    }

    [Fact]
    public void With_coalesced_acks_one_ack_must_settle_every_earlier_envelope_and_never_more_than_was_sent()
    {
        var page = Page(Env(coalesced: true));
        page.Tell(From(DioEnd, 1, Get(10)), TestActor);
        page.Tell(From(DioEnd, 2, Get(11)), TestActor);
        page.Tell(From(DioEnd, 3, Get(12)), TestActor);
        var task = _dir.Probe("task-0");
        task.FishForMessage(m => m is Envelope { Seq: 3 });

        // An ack carried by the task's next envelope settles replies 1 and 2; 3 is sent again.
        page.Tell(From(DioEnd, 4, new PutPage(P, Dio)) with { Acked = 2 }, TestActor);
        Drain(task);
        this.Advance(RetryInterval);
        Assert.Equal([3L], Drain(task).OfType<Envelope>().Select(e => e.Seq));

        // An ack beyond anything sent (junk from the network) settles what was sent, no more:
        // the page's next reply (seq 4) is still sent again until it is acknowledged.
        page.Tell(new Ack(DioEnd, PageEnd, long.MaxValue), task.Ref);
        page.Tell(From(DioEnd, 5, Get(13)), TestActor);
        task.FishForMessage(m => m is Envelope { Seq: 4 });
        Drain(task);
        this.Advance(RetryInterval);
        Assert.Equal([4L], Drain(task).OfType<Envelope>().Select(e => e.Seq));
        page.Tell(new Ack(DioEnd, PageEnd, 4), task.Ref);
        this.Advance(RetryInterval * 10);
        task.ExpectNothing();
    }

    [Fact]
    public void A_journaled_page_must_send_one_ack_per_envelope_but_take_a_coalesced_ack_for_all_its_replies()
    {
        var page = Page(Env(new MemoryJournal(), coalesced: true));
        page.Tell(From(DioEnd, 1, Get(10)), TestActor);
        page.Tell(From(DioEnd, 2, Get(11)), TestActor);
        var task = _dir.Probe("task-0");
        // Its own acks: one per envelope, alone (its journal replays acks as they came).
        task.FishForMessage(m => m is Ack { Seq: 1 });
        task.FishForMessage(m => m is Ack { Seq: 2 });
        task.FishForMessage(m => m is Envelope { Seq: 2, Acked: 0 });

        // The task acknowledges both replies with one ack: neither is sent again.
        Drain(task);
        page.Tell(new Ack(DioEnd, PageEnd, 2), task.Ref);
        this.Advance(RetryInterval * 10);
        task.ExpectNothing();
    }
}
