using Akka.Actor;
using Akka.TestKit.Xunit2;
using DaxSim.Actors;
using DaxSim.Actors.Page;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;
using DaxSim.Tests.Support;
using DaxSim.Transport;
using Envelope = DaxSim.Protocol.Messages.Envelope;
using Xunit;

namespace DaxSim.Tests.Actors;

/// <summary>
/// The page actor against probes playing its tasks. Virtual time (<see cref="VirtualTime"/>):
/// the page actor runs on the spec's thread, so "no wake was sent" is checked at once.
/// </summary>
public sealed class PageActorSpecs : TestKit
{
    private static readonly PageId P = new(3);
    private static readonly TaskId Dio = new(0);
    private static readonly TaskId Truncator = new(1);

    private readonly ProbeDirectory _dir;
    private readonly RecordingSink _sink = new();

    public PageActorSpecs() : base(VirtualTime.Config)
    {
        _dir = new ProbeDirectory(this);
    }

    private SimEnvironment Env(Variant? variant = null, bool lazy = false, bool reliable = false) =>
        new(Scenarios.Parse("""[ { "name": "t", "steps": [ { "op": "sleep", "for": "1ms" } ] } ]"""),
            ProtocolPolicy.For(variant ?? Variant.Mainline), _sink, _dir)
        {
            LazyPages = lazy,
            Delivery = reliable ? new DeliveryOptions { Reliable = true } : DeliveryOptions.Plain,
        };

    private IActorRef Page(Variant? variant = null) => this.UnderTest<PageActor>(PageActor.Props(Env(variant), P, Scenarios.Dax));

    private void Pin(IActorRef page, int expectedRefcount, long seq = 1)
    {
        page.Tell(new GetPage(P, Dio, Scenarios.Dax, 0, seq), TestActor);
        ExpectMsg<GetPageAck>(a => a.Refcount == expectedRefcount && a.Seq == seq);
    }

    [Fact]
    public void A_message_no_case_takes_must_be_logged_and_dropped_and_the_page_must_go_on()
    {
        var page = Page();
        Pin(page, 2);
        EventFilter.Error(contains: "does not take String").ExpectOne(() => page.Tell("not a protocol message", TestActor));
        // The state is kept (a restart would have set the refcount back to 1) and no reply was sent.
        Pin(page, 3, seq: 2);
    }

    [Fact]
    public void Page_must_send_the_idle_notification_when_the_refcount_returns_to_1_and_not_before()
    {
        var page = Page();
        Pin(page, 2);
        Pin(page, 3, seq: 2);
        page.Tell(new WaitIdle(P, Truncator, 7), TestActor);
        ExpectMsg<WaitIdleAck>(a => !a.Idle && a.Refcount == 3);

        page.Tell(new PutPage(P, Dio));
        _dir.Probe("task-1").ExpectNothing();

        page.Tell(new PutPage(P, Dio));
        _dir.Probe("task-1").ExpectMsg<PageIdle>(m => m.Page == P && m.Seq == 7);
        Assert.Contains(_sink.Of<IdleNotified>(), n => n.Refcount == 1 && n.Woken == 1);
    }

    [Fact]
    public void The_idle_notification_must_wake_every_waiter_and_each_with_its_own_seq()
    {
        var page = Page();
        Pin(page, 2);
        page.Tell(new WaitIdle(P, new TaskId(1), 7), TestActor);
        page.Tell(new WaitIdle(P, new TaskId(2), 8), TestActor);
        page.Tell(new WaitIdle(P, new TaskId(4), 9), TestActor);
        ExpectMsg<WaitIdleAck>(a => !a.Idle && a.Seq == 7);
        ExpectMsg<WaitIdleAck>(a => !a.Idle && a.Seq == 8);
        ExpectMsg<WaitIdleAck>(a => !a.Idle && a.Seq == 9);

        page.Tell(new PutPage(P, Dio));
        _dir.Probe("task-1").ExpectMsg<PageIdle>(m => m.Page == P && m.Seq == 7);
        _dir.Probe("task-2").ExpectMsg<PageIdle>(m => m.Page == P && m.Seq == 8);
        _dir.Probe("task-4").ExpectMsg<PageIdle>(m => m.Page == P && m.Seq == 9);
        Assert.Contains(new IdleNotified(P, 1, 3), _sink.Events);

        // Woken once: a later idle moment wakes nobody.
        Pin(page, 2, seq: 2);
        page.Tell(new PutPage(P, Dio));
        foreach (var t in new[] { "task-1", "task-2", "task-4" })
        {
            _dir.Probe(t).ExpectNothing();
        }
    }

    [Fact]
    public void A_waiter_that_finds_the_page_idle_must_not_sleep()
    {
        var page = Page();
        page.Tell(new WaitIdle(P, Truncator, 4), TestActor);
        ExpectMsg<WaitIdleAck>(a => a.Idle && a.Seq == 4);
        Pin(page, 2);
        page.Tell(new PutPage(P, Dio));
        _dir.Probe("task-1").ExpectNothing();
        Assert.Empty(_sink.Of<WaitSleeping>());
    }

    [Fact]
    public void A_cancelled_wait_must_not_be_woken()
    {
        var page = Page();
        Pin(page, 2);
        page.Tell(new WaitIdle(P, Truncator, 9), TestActor);
        ExpectMsg<WaitIdleAck>(a => !a.Idle);
        page.Tell(new CancelWait(P, Truncator));
        page.Tell(new PutPage(P, Dio));
        _dir.Probe("task-1").ExpectNothing();
        Assert.Contains(_sink.Of<IdleNotified>(), n => n.Woken == 0);
    }

    [Fact]
    public void The_wrong_wake_key_variant_must_wake_nobody()
    {
        var page = Page(Variant.WrongWakeKey);
        Pin(page, 2);
        page.Tell(new WaitIdle(P, Truncator, 5), TestActor);
        ExpectMsg<WaitIdleAck>(a => !a.Idle);
        page.Tell(new PutPage(P, Dio));
        _dir.Probe("task-1").ExpectNothing();
        Assert.Contains(_sink.Of<IdleNotified>(), n => n.Refcount == 1 && n.Woken == 0);
    }

    [Fact]
    public void The_idle_at_2_variant_must_call_a_singly_pinned_page_idle()
    {
        var page = Page(Variant.IdleAt2);
        Pin(page, 2);
        page.Tell(new WaitIdle(P, Truncator, 5), TestActor);
        ExpectMsg<WaitIdleAck>(a => a.Idle && a.Refcount == 2);
        page.Tell(new QueryRefcount(P, 6), TestActor);
        ExpectMsg<RefcountReport>(r => r.Refcount == 2);
    }

    [Fact]
    public void Dma_must_be_reported_with_the_file_and_index_it_was_meant_for()
    {
        var page = Page();
        page.Tell(new DmaWrite(P, Dio, Scenarios.Dax, 2));
        Assert.Contains(new DmaLanded(P, Dio, Scenarios.Dax, 2), _sink.Events);
    }

    // --- the refcount of each era: idle at 1 up to 6.14, at 0 from 6.15, where a PTE holds a reference ---

    private void ExpectCounts(IActorRef page, int refcount, int mapcount, long seq)
    {
        page.Tell(new QueryRefcount(P, seq), TestActor);
        ExpectMsg<RefcountReport>(r => r.Refcount == refcount && r.Mapcount == mapcount && r.Seq == seq);
    }

    [Fact]
    public void From_6_15_a_page_must_be_idle_at_0_and_a_PTE_must_hold_a_reference()
    {
        var page = Page(Variant.Linux615);
        ExpectCounts(page, 0, 0, 1);
        page.Tell(new MapPage(P, Scenarios.Dax, 2));
        ExpectCounts(page, 1, 1, 2);

        page.Tell(new WaitIdle(P, Truncator, 7), TestActor);
        ExpectMsg<WaitIdleAck>(a => !a.Idle && a.Refcount == 1);

        page.Tell(new UnmapPage(P));
        _dir.Probe("task-1").ExpectMsg<PageIdle>(m => m.Page == P && m.Seq == 7);
        ExpectCounts(page, 0, 0, 3);
        Assert.Contains(new IdleNotified(P, 0, 1), _sink.Events);
    }

    [Fact]
    public void From_6_15_a_pinned_page_must_not_wake_the_waiter_at_refcount_1_and_must_trace_each_count_it_leaves()
    {
        var page = Page(Variant.Linux615);
        page.Tell(new MapPage(P, Scenarios.Dax, 2));
        page.Tell(new GetPage(P, Dio, Scenarios.Dax, 2, 1), TestActor);
        ExpectMsg<GetPageAck>(a => a.Refcount == 2);
        page.Tell(new WaitIdle(P, Truncator, 7), TestActor);
        ExpectMsg<WaitIdleAck>(a => !a.Idle);

        page.Tell(new PutPage(P, Dio));
        _dir.Probe("task-1").ExpectNothing();
        page.Tell(new UnmapPage(P));
        _dir.Probe("task-1").ExpectMsg<PageIdle>(m => m.Seq == 7);

        // The checker knows the pages' counts from these events alone (S2: a put below the pins).
        Assert.Equal<TraceEvent>(
        [
            new PageMapped(P, Scenarios.Dax, 2, 1, 1),
            new PageGot(P, Dio, Scenarios.Dax, 2, 2),
            new WaitSleeping(P, Truncator, 2),
            new PagePut(P, Dio, 1),
            new PageUnmapped(P, 0, 0),
            new IdleNotified(P, 0, 1),
        ], _sink.Events);
    }

    [Fact]
    public void Before_6_15_a_page_must_be_idle_at_1_and_the_wake_must_come_at_refcount_1()
    {
        var page = Page(Variant.Mainline);
        ExpectCounts(page, 1, 0, 1);
        page.Tell(new GetPage(P, Dio, Scenarios.Dax, 2, 2), TestActor);
        ExpectMsg<GetPageAck>(a => a.Refcount == 2);
        page.Tell(new WaitIdle(P, Truncator, 7), TestActor);
        ExpectMsg<WaitIdleAck>(a => !a.Idle && a.Refcount == 2);

        page.Tell(new PutPage(P, Dio));
        _dir.Probe("task-1").ExpectMsg<PageIdle>(m => m.Seq == 7);
        ExpectCounts(page, 1, 0, 3);
        Assert.Contains(new IdleNotified(P, 1, 1), _sink.Events);
    }

    // --- what mutation testing found unstated (docs/mutation.md, "Stryker on Actors/") ---

    [Fact]
    public void Every_message_of_the_protocol_must_be_taken_without_an_error_logged()
    {
        var errors = CreateTestProbe();
        Sys.EventStream.Subscribe(errors.Ref, typeof(Akka.Event.Error));
        var page = Page(Variant.Linux615);
        page.Tell(new MapPage(P, Scenarios.Dax, 2));
        page.Tell(new GetPage(P, Dio, Scenarios.Dax, 2, 1), TestActor);
        page.Tell(new WaitIdle(P, Truncator, 2), TestActor);
        page.Tell(new CancelWait(P, Truncator));
        page.Tell(new QueryRefcount(P, 3), TestActor);
        page.Tell(new PutPage(P, Dio));
        page.Tell(new UnmapPage(P));
        page.Tell(new DmaWrite(P, Dio, Scenarios.Dax, 2));
        page.Tell(new BlockReleased(P));
        page.Tell(new BlockAssigned(P, Scenarios.Dax));
        errors.ExpectNothing();

        // The listener hears what the page logs, at once: a message it does not take.
        page.Tell("not a protocol message", TestActor);
        errors.ExpectMsg<Akka.Event.Error>();
    }

    [Fact]
    public void A_second_wait_of_the_same_task_must_replace_its_first()
    {
        // prepare_to_wait_event queues a task's wait entry once: waiting again does not add a second.
        var page = Page();
        Pin(page, 2);
        page.Tell(new WaitIdle(P, Truncator, 7), TestActor);
        ExpectMsg<WaitIdleAck>(a => !a.Idle && a.Seq == 7);
        page.Tell(new WaitIdle(P, Truncator, 8), TestActor);
        ExpectMsg<WaitIdleAck>(a => !a.Idle && a.Seq == 8);

        page.Tell(new PutPage(P, Dio));
        _dir.Probe("task-1").ExpectMsg<PageIdle>(m => m.Seq == 8);
        _dir.Probe("task-1").ExpectNothing();
        Assert.Contains(new IdleNotified(P, 1, 1), _sink.Events);
    }

    [Fact]
    public void A_lazy_page_must_tell_its_region_each_time_a_message_leaves_it_idle_with_its_owner_and_count()
    {
        var region = CreateTestProbe();
        var page = ActorOfAsTestActorRef<PageActor>(PageActor.Props(Env(lazy: true), P, Scenarios.Dax), region.Ref);
        var other = new FileId(1);

        Pin(page, 2);
        region.ExpectNothing();
        page.Tell(new PutPage(P, Dio));
        region.ExpectMsg(new PageRegion.Quiet(P, Scenarios.Dax, 2));
        page.Tell(new MapPage(P, Scenarios.Dax, 0));
        region.ExpectNothing();
        page.Tell(new UnmapPage(P));
        region.ExpectMsg(new PageRegion.Quiet(P, Scenarios.Dax, 4));
        page.Tell(new BlockReleased(P));
        region.ExpectMsg(new PageRegion.Quiet(P, null, 5));
        page.Tell(new BlockAssigned(P, other));
        region.ExpectMsg(new PageRegion.Quiet(P, other, 6));
    }

    [Fact]
    public void A_page_that_is_not_lazy_must_tell_its_parent_nothing()
    {
        var parent = CreateTestProbe();
        var page = ActorOfAsTestActorRef<PageActor>(PageActor.Props(Env(), P, Scenarios.Dax), parent.Ref);
        Pin(page, 2);
        page.Tell(new PutPage(P, Dio));
        parent.ExpectNothing();
    }

    [Fact]
    public void A_gone_task_must_give_back_only_the_references_its_own_puts_left_and_lose_only_its_own_wait()
    {
        // A task's node is gone (reliable delivery: the runner's TaskGone): its exit puts what
        // it still holds, no more (a put below the pins breaks S2), and its wait goes with it.
        var page = this.UnderTest<PageActor>(PageActor.Props(Env(reliable: true), P, Scenarios.Dax));
        var seqs = new Dictionary<Endpoint, long>();
        void From(Endpoint sender, object payload) =>
            page.Tell(new Envelope(sender, Endpoint.Of(P), seqs[sender] = seqs.GetValueOrDefault(sender) + 1, payload), TestActor);

        for (var i = 1; i <= 3; i++)
        {
            From(Endpoint.Of(Dio), new GetPage(P, Dio, Scenarios.Dax, 0, i));
        }
        From(Endpoint.Of(Dio), new PutPage(P, Dio));
        From(Endpoint.Of(Truncator), new GetPage(P, Truncator, Scenarios.Dax, 0, 1));
        From(Endpoint.Of(Truncator), new PutPage(P, Truncator));
        From(Endpoint.Of(Truncator), new WaitIdle(P, Truncator, 7));
        var other = new TaskId(2);
        From(Endpoint.Of(other), new WaitIdle(P, other, 9));
        Assert.Equal([3, 3], _sink.Of<PagePut>().Select(p => p.Refcount));

        From(Endpoint.Runner, new TaskGone(Truncator));
        From(Endpoint.Runner, new TaskGone(Dio));
        Assert.Equal([3, 3, 2, 1], _sink.Of<PagePut>().Select(p => p.Refcount));
        Assert.Equal([new IdleNotified(P, 1, 1)], _sink.Of<IdleNotified>());
        _dir.Probe("task-2").FishForMessage(m => m is Envelope { Payload: PageIdle { Seq: 9 } });
        ExpectCounts(page, 1, 0, 9);
    }
}
