using Akka.Actor;
using Akka.TestKit.Xunit2;
using DaxSim.Actors;
using DaxSim.Actors.Page;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Actors;

public sealed class PageActorSpecs : TestKit
{
    private static readonly PageId P = new(3);
    private static readonly TaskId Dio = new(0);
    private static readonly TaskId Truncator = new(1);

    private readonly ProbeDirectory _dir;
    private readonly RecordingSink _sink = new();

    public PageActorSpecs()
    {
        _dir = new ProbeDirectory(this);
    }

    private IActorRef Page(Variant? variant = null)
    {
        var env = new SimEnvironment(Scenarios.Parse("""[ { "name": "t", "steps": [ { "op": "sleep", "for": "1ms" } ] } ]"""),
            ProtocolPolicy.For(variant ?? Variant.Mainline), _sink, _dir);
        return Sys.ActorOf(PageActor.Props(env, P, Scenarios.Dax));
    }

    private void Pin(IActorRef page, int expectedRefcount, long seq = 1)
    {
        page.Tell(new GetPage(P, Dio, Scenarios.Dax, 0, seq), TestActor);
        ExpectMsg<GetPageAck>(a => a.Refcount == expectedRefcount && a.Seq == seq);
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
        _dir.Probe("task-1").ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        page.Tell(new PutPage(P, Dio));
        _dir.Probe("task-1").ExpectMsg<PageIdle>(m => m.Page == P && m.Seq == 7);
        AwaitAssert(() => Assert.Contains(_sink.Of<IdleNotified>(), n => n.Refcount == 1 && n.Woken == 1));
    }

    [Fact]
    public void A_waiter_that_finds_the_page_idle_must_not_sleep()
    {
        var page = Page();
        page.Tell(new WaitIdle(P, Truncator, 4), TestActor);
        ExpectMsg<WaitIdleAck>(a => a.Idle && a.Seq == 4);
        Pin(page, 2);
        page.Tell(new PutPage(P, Dio));
        _dir.Probe("task-1").ExpectNoMsg(TimeSpan.FromMilliseconds(200));
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
        _dir.Probe("task-1").ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        AwaitAssert(() => Assert.Contains(_sink.Of<IdleNotified>(), n => n.Woken == 0));
    }

    [Fact]
    public void The_wrong_wake_key_variant_must_wake_nobody()
    {
        var page = Page(Variant.WrongWakeKey);
        Pin(page, 2);
        page.Tell(new WaitIdle(P, Truncator, 5), TestActor);
        ExpectMsg<WaitIdleAck>(a => !a.Idle);
        page.Tell(new PutPage(P, Dio));
        _dir.Probe("task-1").ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        AwaitAssert(() => Assert.Contains(_sink.Of<IdleNotified>(), n => n.Refcount == 1 && n.Woken == 0));
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
        AwaitAssert(() => Assert.Contains(new DmaLanded(P, Dio, Scenarios.Dax, 2), _sink.Events));
    }
}
