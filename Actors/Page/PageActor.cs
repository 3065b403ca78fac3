using Akka.Actor;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;

namespace DaxSim.Actors.Page;

// PageActor models one ZONE_DEVICE page (one block of the DAX device): its refcount,
// idle at 1; its owner file, or free; the tasks waiting for it to go idle; the DMA that
// lands in it.
//
// Takes:  GetPage, PutPage (pins), WaitIdle, CancelWait (the layout break's wait),
//         QueryRefcount (the busy-page scan), DmaWrite, BlockAssigned / BlockReleased.
// Sends:  GetPageAck, WaitIdleAck, RefcountReport; and PageIdle, the idle notification:
//         when a put brings the count back to the idle count, every waiter registered on
//         the wake key is woken and removed (wake_up_var from generic_dax_pagefree, with
//         autoremove_wake_function). Not before: a put that leaves the page busy wakes nobody.
public sealed class PageActor : ReceiveActor
{
    // Wait-queue keys: the waiter sleeps on &page->_refcount. The wrong-wake-key variant
    // wakes a neighbouring address instead, on which nobody sleeps.
    private const int RefcountKey = 0;
    private const int WrongKey = 1;

    private readonly record struct Waiter(TaskId Task, long Seq, int Key);

    private readonly SimEnvironment _env;
    private readonly PageId _page;
    private readonly List<Waiter> _waiters = [];
    private int _refcount = 1;
    private FileId? _owner;

    public PageActor(SimEnvironment env, PageId page, FileId? owner)
    {
        _env = env;
        _page = page;
        _owner = owner;
        Receive<GetPage>(HandleGetPage);
        Receive<PutPage>(HandlePutPage);
        Receive<WaitIdle>(HandleWaitIdle);
        Receive<CancelWait>(HandleCancelWait);
        Receive<QueryRefcount>(m => Sender.Tell(new RefcountReport(_page, _refcount, m.Seq), Self));
        Receive<DmaWrite>(HandleDmaWrite);
        Receive<BlockAssigned>(m => _owner = m.File);
        Receive<BlockReleased>(_ => _owner = null);
    }

    public static Props Props(SimEnvironment env, PageId page, FileId? owner) =>
        ActorProps.Of(() => new PageActor(env, page, owner));

    // Lazy pages (SimEnvironment.LazyPages, load runs) only: this actor then lives under a
    // PageRegion, which forwards it every message for its page and may stop it when idle.
    // After each message that leaves the page idle (refcount 1, the true idle count whatever
    // the variant, and no waiter), it tells the region so, with how many messages it has
    // taken: the region stops it only if it has forwarded no other since, and keeps the
    // owner, the only state an idle page has. Nothing else here changes with lazy pages.
    private long _received;

    protected override bool AroundReceive(Receive receive, object message)
    {
        var handled = base.AroundReceive(receive, message);
        if (_env.LazyPages)
        {
            _received++;
            if (_refcount == 1 && _waiters.Count == 0)
            {
                Context.Parent.Tell(new PageRegion.Quiet(_page, _owner, _received), Self);
            }
        }
        return handled;
    }

    private ProtocolPolicy Policy => _env.Policy;

    private void HandleGetPage(GetPage m)
    {
        _refcount++;
        _env.Trace.Emit(new PageGot(_page, m.Task, m.File, m.Index, _refcount, m.Speculative));
        Sender.Tell(new GetPageAck(_page, _refcount, m.Seq), Self);
    }

    private void HandlePutPage(PutPage m)
    {
        _refcount--;
        _env.Trace.Emit(new PagePut(_page, m.Task, _refcount));
        if (Policy.IsIdle(_refcount))
        {
            NotifyIdle();
        }
    }

    private void NotifyIdle()
    {
        var key = Policy.WakeUsesWaitKey ? RefcountKey : WrongKey;
        var woken = 0;
        for (var i = 0; i < _waiters.Count;)
        {
            var w = _waiters[i];
            if (w.Key != key)
            {
                i++;
                continue;
            }
            _waiters.RemoveAt(i);
            _env.Directory.Task(w.Task).Tell(new PageIdle(_page, w.Seq), Self);
            woken++;
        }
        _env.Trace.Emit(new IdleNotified(_page, _refcount, woken));
    }

    // prepare_to_wait_event, then the condition: a waiter that finds the page idle does
    // not sleep; otherwise it is queued and told so, and will get PageIdle.
    private void HandleWaitIdle(WaitIdle m)
    {
        _waiters.RemoveAll(w => w.Task == m.Task);
        if (Policy.IsIdle(_refcount))
        {
            Sender.Tell(new WaitIdleAck(_page, Idle: true, _refcount, m.Seq), Self);
            return;
        }
        _waiters.Add(new Waiter(m.Task, m.Seq, RefcountKey));
        _env.Trace.Emit(new WaitSleeping(_page, m.Task, _refcount));
        Sender.Tell(new WaitIdleAck(_page, Idle: false, _refcount, m.Seq), Self);
    }

    private void HandleCancelWait(CancelWait m) => _waiters.RemoveAll(w => w.Task == m.Task);

    private void HandleDmaWrite(DmaWrite m) => _env.Trace.Emit(new DmaLanded(_page, m.Task, m.File, m.Index));
}
