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
public sealed class PageActor : SimActor
{
    // Wait-queue keys: the waiter sleeps on &page->_refcount. The wrong-wake-key variant
    // wakes a neighbouring address instead, on which nobody sleeps.
    private const int RefcountKey = 0;
    private const int WrongKey = 1;

    private readonly record struct Waiter(TaskId Task, long Seq, int Key);

    private readonly PageId _page;
    private readonly List<Waiter> _waiters = [];
    private int _refcount = 1;
    private FileId? _owner;

    // Which task holds how many of the references: what a task's exit gives back when its
    // node is gone and the task cannot put them itself.
    private readonly Dictionary<TaskId, int> _refsBy = new();

    public PageActor(SimEnvironment env, PageId page, FileId? owner) : base(env, Endpoint.Of(page))
    {
        _page = page;
        _owner = owner;
        Receive<GetPage>(HandleGetPage);
        Receive<PutPage>(HandlePutPage);
        Receive<WaitIdle>(HandleWaitIdle);
        Receive<CancelWait>(HandleCancelWait);
        Receive<QueryRefcount>(m => Reply(new RefcountReport(_page, _refcount, m.Seq)));
        Receive<DmaWrite>(HandleDmaWrite);
        Receive<BlockAssigned>(m => _owner = m.File);
        Receive<BlockReleased>(_ => _owner = null);
    }

    public static Props Props(SimEnvironment env, PageId page, FileId? owner) =>
        ActorProps.Of(() => new PageActor(env, page, owner));

    private ProtocolPolicy Policy => Env.Policy;

    private void HandleGetPage(GetPage m)
    {
        _refcount++;
        _refsBy[m.Task] = _refsBy.GetValueOrDefault(m.Task) + 1;
        Trace.Emit(new PageGot(_page, m.Task, m.File, m.Index, _refcount, m.Speculative));
        Reply(new GetPageAck(_page, _refcount, m.Seq));
    }

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

    private void HandleDmaWrite(DmaWrite m) => Trace.Emit(new DmaLanded(_page, m.Task, m.File, m.Index));
}
