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

/// <summary>The page's refcount in each era: idle at 1 up to 6.14, at 0 from 6.15, where a PTE holds a reference.</summary>
public sealed class PageActorRefcountSpecs : TestKit
{
    private static readonly PageId P = new(3);
    private static readonly TaskId Dio = new(0);
    private static readonly TaskId Truncator = new(1);

    private readonly ProbeDirectory _dir;
    private readonly RecordingSink _sink = new();

    public PageActorRefcountSpecs()
    {
        _dir = new ProbeDirectory(this);
    }

    private IActorRef Page(Variant variant)
    {
        var env = new SimEnvironment(Scenarios.Parse("""[ { "name": "t", "steps": [ { "op": "sleep", "for": "1ms" } ] } ]"""),
            ProtocolPolicy.For(variant), _sink, _dir);
        return Sys.ActorOf(PageActor.Props(env, P, Scenarios.Dax));
    }

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
    public void From_6_15_a_pinned_page_must_not_wake_the_waiter_at_refcount_1()
    {
        var page = Page(Variant.Linux615);
        page.Tell(new MapPage(P, Scenarios.Dax, 2));
        page.Tell(new GetPage(P, Dio, Scenarios.Dax, 2, 1), TestActor);
        ExpectMsg<GetPageAck>(a => a.Refcount == 2);
        page.Tell(new WaitIdle(P, Truncator, 7), TestActor);
        ExpectMsg<WaitIdleAck>(a => !a.Idle);

        page.Tell(new PutPage(P, Dio));
        _dir.Probe("task-1").ExpectNoMsg(TimeSpan.FromMilliseconds(150));
        page.Tell(new UnmapPage(P));
        _dir.Probe("task-1").ExpectMsg<PageIdle>(m => m.Seq == 7);
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
}
