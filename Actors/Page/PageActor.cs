using Akka.Actor;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;

namespace DaxSim.Actors.Page;

// PageActor models one ZONE_DEVICE page (one block of the DAX device): its refcount (idle
// at 1 up to 6.14, at 0 from 6.15) and mapcount (6.15+: each PTE that maps it holds a
// reference); its owner file, or free; the tasks waiting for it to go idle; the DMA that
// reaches it.
//
// Takes:  GetPage, PutPage (pins), MapPage, UnmapPage (6.15+: PTE references, from the
//         mapping), WaitIdle, CancelWait (the layout break's wait), QueryRefcount (the busy
//         scan), DmaWrite, BlockAssigned / BlockReleased.
// Sends:  GetPageAck, WaitIdleAck, RefcountReport; and PageIdle, the idle notification:
//         when a put brings the count to the idle count, every waiter registered on the wake
//         key is woken and removed (wake_up_var: fsdax_pagefree in 4.18, the devmap put path
//         up to 6.14 when the count drops to 1, free_zone_device_folio from 6.15 when it
//         drops to 0; autoremove_wake_function). Not before: a put that leaves the page busy
//         wakes nobody.
public sealed class PageActor : SimActor
{
    // Wait-queue keys: the waiter sleeps on &page->_refcount. The wrong-wake-key variant
    // wakes a neighbouring address instead, on which nobody sleeps.
    private const int RefcountKey = 0;
    private const int WrongKey = 1;

    private readonly record struct Waiter(TaskId Task, long Seq, int Key);

    private readonly PageId _page;
    private readonly List<Waiter> _waiters = [];
    private int _refcount;
    private int _mapcount;
    private FileId? _owner;

    // Which task holds how many of the references: what a task's exit gives back when its
    // node is gone and the task cannot put them itself.
    private readonly Dictionary<TaskId, int> _refsBy = new();

    public PageActor(SimEnvironment env, PageId page, FileId? owner) : base(env, Endpoint.Of(page))
    {
        _page = page;
        _owner = owner;
        _refcount = env.Policy.IdleRefcount;
    }

    protected override bool Handle(object message)
    {
        switch (message)
        {
            case GetPage m:
                HandleGetPage(m);
                return true;
            case PutPage m:
                HandlePutPage(m);
                return true;
            case MapPage m:
                HandleMapPage(m);
                return true;
            case UnmapPage m:
                HandleUnmapPage(m);
                return true;
            case WaitIdle m:
                HandleWaitIdle(m);
                return true;
            case CancelWait m:
                HandleCancelWait(m);
                return true;
            case QueryRefcount m:
                Reply(new RefcountReport(_page, _refcount, _mapcount, m.Seq));
                return true;
            case DmaWrite m:
                HandleDmaWrite(m);
                return true;
            case BlockAssigned m:
                _owner = m.File;
                return true;
            case BlockReleased:
                _owner = null;
                return true;
            default:
                return false;
        }
    }

    public static Props Props(SimEnvironment env, PageId page, FileId? owner) =>
        ActorProps.Of(() => new PageActor(env, page, owner));

    // Lazy pages (SimEnvironment.LazyPages, load runs) only: this actor then lives under a
    // PageRegion, which forwards it every message for its page and may stop it when idle.
    // After each message that leaves the page idle (the era's true idle count whatever the
    // variant, no mapping and no waiter), it tells the region so, with how many messages it has
    // taken: the region stops it only if it has forwarded no other since, and keeps the
    // owner, the only state an idle page has. Nothing else here changes with lazy pages.
    // (Lazy pages need plain delivery: SimulationRoot refuses them with reliable delivery.)
    private long _received;

    protected override bool AroundReceive(Receive receive, object message)
    {
        var handled = base.AroundReceive(receive, message);
        if (Env.LazyPages)
        {
            _received++;
            if (_refcount == Policy.IdleRefcount && _mapcount == 0 && _waiters.Count == 0 && _refsBy.Count == 0)
            {
                Context.Parent.Tell(new PageRegion.Quiet(_page, _owner, _received), Self);
            }
        }
        return handled;
    }

    private ProtocolPolicy Policy => Env.Policy;

    private void HandleGetPage(GetPage m)
    {
        _refcount++;
        _refsBy[m.Task] = _refsBy.GetValueOrDefault(m.Task) + 1;
        Trace.Emit(new PageGot(_page, m.Task, m.File, m.Index, _refcount, m.Speculative));
        Reply(new GetPageAck(_page, _refcount, m.Seq));
    }

    // A put without a get is a bug in the putter: put_page on a page it holds no reference
    // on. The delivery decides what becomes of it (Host/Transport/ReliableDelivery.cs): between
    // actors of one process it is let through for S2 to report; from peers that may be
    // other processes it is refused, so that a bad peer cannot drive the refcount below
    // what the pins hold.
    protected override string? Refuses(object message) =>
        message is PutPage m && !_refsBy.ContainsKey(m.Task) ? $"{m.Task} holds no reference on {_page}" : null;

    private void HandlePutPage(PutPage m)
    {
        if (_refsBy.TryGetValue(m.Task, out var held))
        {
            if (held == 1)
            {
                _refsBy.Remove(m.Task);
            }
            else
            {
                _refsBy[m.Task] = held - 1;
            }
        }
        Put(m.Task);
    }

    private void Put(TaskId task)
    {
        _refcount--;
        Trace.Emit(new PagePut(_page, task, _refcount));
        if (Policy.IsIdle(_refcount))
        {
            NotifyIdle();
        }
    }

    // insert_page: folio_get and folio_add_file_rmap_pte under the page-table lock.
    private void HandleMapPage(MapPage m)
    {
        _refcount++;
        _mapcount++;
        Trace.Emit(new PageMapped(_page, m.File, m.Index, _refcount, _mapcount));
    }

    // zap_pte_range: folio_remove_rmap_pte, and the reference goes with the TLB batch; the
    // last one calls free_zone_device_folio, which wakes the waiters.
    private void HandleUnmapPage(UnmapPage m)
    {
        _refcount--;
        _mapcount--;
        Trace.Emit(new PageUnmapped(_page, _refcount, _mapcount));
        if (Policy.IsIdle(_refcount))
        {
            NotifyIdle();
        }
    }

    // The task's node is gone: its references go, as its exit would have put them, and
    // its wait with them.
    protected override void OnTaskGone(TaskId task)
    {
        _waiters.RemoveAll(w => w.Task == task);
        if (_refsBy.Remove(task, out var held))
        {
            for (var i = 0; i < held; i++)
            {
                Put(task);
            }
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
            Send(Endpoint.Of(w.Task), new PageIdle(_page, w.Seq));
            woken++;
        }
        Trace.Emit(new IdleNotified(_page, _refcount, woken));
    }

    // prepare_to_wait_event, then the condition: a waiter that finds the page idle does
    // not sleep; otherwise it is queued and told so, and will get PageIdle.
    private void HandleWaitIdle(WaitIdle m)
    {
        _waiters.RemoveAll(w => w.Task == m.Task);
        if (Policy.IsIdle(_refcount))
        {
            Reply(new WaitIdleAck(_page, Idle: true, _refcount, m.Seq));
            return;
        }
        _waiters.Add(new Waiter(m.Task, m.Seq, RefcountKey));
        Trace.Emit(new WaitSleeping(_page, m.Task, _refcount));
        Reply(new WaitIdleAck(_page, Idle: false, _refcount, m.Seq));
    }

    private void HandleCancelWait(CancelWait m) => _waiters.RemoveAll(w => w.Task == m.Task);

    private void HandleDmaWrite(DmaWrite m) => Trace.Emit(new DmaLanded(_page, m.Task, m.File, m.Index, m.FromPage));
}
