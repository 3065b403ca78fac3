using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;

namespace DaxSim.Actors.Task;

// The layout break a truncate or fallocate runs with IOLOCK and MMAPLOCK held exclusive, in
// every version; each difference is a switch of ProtocolPolicy. On return the locks are
// held again, whatever the result. (ext4 and fuse call their locks i_rwsem and
// invalidate_lock; the model calls them IOLOCK and MMAPLOCK throughout.)
public sealed partial class TaskActor
{
    // xfs_break_layouts(inode, &iolock, BREAK_UNMAP), the same loop in every version:
    //
    //  do {
    //      retry = false;
    //      error = xfs_break_dax_layouts(inode, &retry);
    //      if (error || retry) break;
    //      error = xfs_break_leased_layouts(inode, &iolock, &retry);
    //  } while (error == 0 && retry);
    //
    // Up to 6.14 xfs_break_dax_layouts finds one busy page and waits for it, setting the
    // retry flag (BreakDaxLayouts). From 6.15 it is dax_break_layout_inode(inode,
    // xfs_wait_dax_page), which loops itself until nothing is busy and has no retry flag
    // (DaxBreakLayout); ext4_break_layouts and fuse_dax_break_layouts call dax_break_layout
    // the same way, without the lease step.
    private IEnumerable<object> BreakLayouts(OpKind op, FileId file, Box<Errno> error)
    {
        var retry = new Box<bool>(false);
        var round = 0;
        do
        {
            if (round++ > 0)
            {
                Trace.Emit(new BreakLayoutsRetry(file, _id));
            }
            retry.Value = false;
            if (Policy.BreaksDaxLayouts(op))
            {
                yield return Policy.Loop == BreakLoop.RetryFlag
                    ? BreakDaxLayouts(file, retry, error)
                    : DaxBreakLayout(file, Policy.BreakRange, error);
                if (error.Value != Errno.Ok || retry.Value)
                {
                    continue;
                }
            }
            if (Policy.BreaksLeases)
            {
                yield return BreakLeasedLayouts(file, retry, error);
            }
        } while (error.Value == Errno.Ok && retry.Value);
    }

    // xfs_break_dax_layouts, up to 6.14: find a busy page and wait, interruptibly, for it to go idle.
    //
    //  page = dax_layout_busy_page(inode->i_mapping);
    //  if (!page) return 0;
    //  *retry = true;                                     [4.19+: "xfs: Close race between direct IO and xfs_break_layouts()"]
    //  return ___wait_var_event(&page->_refcount, refcount == 1, TASK_INTERRUPTIBLE, 0, 0,
    //                           xfs_wait_dax_page(inode));
    private IEnumerable<object> BreakDaxLayouts(FileId file, Box<bool> retry, Box<Errno> error)
    {
        var busy = new Box<PageId?>(null);
        yield return FindBusyPage(file, Policy.BreakRange, busy);
        if (busy.Value is not { } page)
        {
            yield break;
        }
        if (Policy.RetryWhenBusyPageFound)
        {
            retry.Value = true;
        }
        yield return WaitPageIdle(file, page, Policy.RetryWhenWaitSlept ? retry : null, error);
    }

    // dax_break_layout (6.15+): loops until no page of the range is busy, then deletes the
    // range's DAX entries.
    //
    //  do {
    //      page = dax_layout_busy_page_range(inode->i_mapping, start, end);
    //      if (!page) break;
    //      error = wait_page_idle(page, cb, inode);   /* refcount == 0, TASK_INTERRUPTIBLE */
    //  } while (error == 0);
    //  if (!page) dax_delete_mapping_range(inode->i_mapping, start, end);
    private IEnumerable<object> DaxBreakLayout(FileId file, PageRange range, Box<Errno> error)
    {
        var busy = new Box<PageId?>(null);
        var round = 0;
        do
        {
            if (round++ > 0)
            {
                Trace.Emit(new BreakLayoutsRetry(file, _id));
            }
            yield return FindBusyPage(file, range, busy);
            if (busy.Value is not { } page)
            {
                break;
            }
            yield return WaitPageIdle(file, page, null, error);
        } while (error.Value == Errno.Ok);
        if (busy.Value is null)
        {
            var seq = NextSeq();
            yield return Request(Endpoint.MappingOf(file), new DeleteEntries(file, _id, range.First, range.Last, seq), seq);
        }
    }

    private IEnumerable<object> FindBusyPage(FileId file, PageRange range, Box<PageId?> busy)
    {
        var seq = NextSeq();
        yield return Request(Endpoint.MappingOf(file), new FindBusyPage(file, _id, range.First, range.Last, seq), seq);
        busy.Value = _reply is BusyPageFound found ? found.Page : null;
    }

    // ___wait_var_event(var, idle, TASK_INTERRUPTIBLE, 0, 0, cb(inode)): prepare_to_wait, test
    // the condition, else run the callback: xfs_wait_dax_page up to 6.14 and from 6.15
    // (ext4_wait_dax_page, fuse_wait_dax_page alike), xfs_wait_var_event in seed-v7:
    //   [seed-v7, 4.18: *did_unlock = true;] unlock(locks); schedule(); lock(locks);
    private IEnumerable<object> WaitPageIdle(FileId file, PageId page, Box<bool>? retryWhenSlept, Box<Errno> error)
    {
        var slept = false;
        for (;;)
        {
            // prepare_to_wait_event, then the condition.
            var seq = NextSeq();
            yield return Request(Endpoint.Of(page), new WaitIdle(page, _id, seq), seq);
            if (Reply<WaitIdleAck>().Idle)
            {
                if (!slept)
                {
                    EmitWaitEnded(page, WaitEnd.AlreadyIdle);
                }
                yield break;
            }
            _sleepingOn = page;
            if (_signalPending)
            {
                Send(Endpoint.Of(page), new CancelWait(page, _id));
                EmitWaitEnded(page, WaitEnd.Interrupted);
                _sleepingOn = null;
                error.Value = Errno.EINTR;
                yield break;
            }
            if (retryWhenSlept is not null)
            {
                retryWhenSlept.Value = true;
            }
            var dropped = Policy.WaitDropSet;
            foreach (var kind in dropped)
            {
                Unlock(file, kind);
            }
            yield return Wait(seq, WaitState.WaitingForIdle, interruptible: true, killable: true);
            slept = true;
            var interrupted = _reply is Interrupted;
            EmitWaitEnded(page, interrupted ? WaitEnd.Interrupted : WaitEnd.Woken);
            _sleepingOn = null;
            if (interrupted)
            {
                Send(Endpoint.Of(page), new CancelWait(page, _id));
            }
            // Re-take in lock order: IOLOCK before MMAPLOCK.
            for (var i = dropped.Count - 1; i >= 0; i--)
            {
                yield return Lock(file, dropped[i], LockMode.Exclusive);
            }
            // ___wait_var_event loops: prepare_to_wait again and re-test the condition; a
            // signal still pending makes the next round fail with -ERESTARTSYS unless the page is idle.
        }
    }

    // xfs_break_leased_layouts (from 5.3, "fs/xfs: Fix return code of xfs_break_leased_layouts()"):
    //
    //  while ((error = break_layout(inode, false)) == -EWOULDBLOCK) {
    //      xfs_iunlock(ip, *iolock);
    //      *did_unlock = true;
    //      error = break_layout(inode, true);
    //      *iolock &= ~XFS_IOLOCK_SHARED; *iolock |= XFS_IOLOCK_EXCL;
    //      xfs_ilock(ip, *iolock);
    //  }
    //  return error;
    //
    // 4.18 to 5.2 had `while ((error = break_layout(inode, false) == -EWOULDBLOCK))`: error is
    // the comparison (0 or 1), so an error of the non-blocking break other than -EWOULDBLOCK
    // (-ENOMEM from lease_alloc) is lost and 0 returned. The blocking break's error (EINTR on
    // a signal) is overwritten by the next non-blocking break in both, as in the kernel code.
    private IEnumerable<object> BreakLeasedLayouts(FileId file, Box<bool> retry, Box<Errno> error)
    {
        for (;;)
        {
            Errno result;
            if (_allocationFails)
            {
                // __break_lease: lease_alloc fails before any lease is looked at.
                _allocationFails = false;
                result = Errno.ENOMEM;
            }
            else
            {
                var seq = NextSeq();
                yield return Request(Endpoint.InodeOf(file), new BreakLease(file, _id, Blocking: false, seq), seq);
                result = Reply<LeaseBreakResult>().Result;
            }
            if (result != Errno.EWOULDBLOCK)
            {
                error.Value = Policy.LeaseBreakLosesError ? Errno.Ok : result;
                yield break;
            }
            Unlock(file, LockKind.MmapLock);
            Unlock(file, LockKind.IoLock);
            retry.Value = true;
            var blockingSeq = NextSeq();
            Send(Endpoint.InodeOf(file), new BreakLease(file, _id, Blocking: true, blockingSeq));
            yield return Wait(blockingSeq, WaitState.WaitingForLeaseBreak, interruptible: true, killable: true);
            Trace.Emit(new LeaseBreakDone(file, _id,
                _reply is Interrupted ? Errno.EINTR : Reply<LeaseBreakResult>().Result));
            yield return Lock(file, LockKind.IoLock, LockMode.Exclusive);
            yield return Lock(file, LockKind.MmapLock, LockMode.Exclusive);
        }
    }
}
