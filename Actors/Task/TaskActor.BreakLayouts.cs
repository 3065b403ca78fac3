using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;

namespace DaxSim.Actors.Task;

// xfs_break_layouts(inode, &iolock, BREAK_UNMAP), called with IOLOCK and MMAPLOCK held
// exclusive, in the two real versions and the ablations; every difference is a switch of
// ProtocolPolicy. On return the locks are held again, whatever the result.
public sealed partial class TaskActor
{
    //  do {
    //      retry = false;
    //      error = xfs_break_dax_layouts(inode, &retry);
    //      if (error || retry) break;
    //      error = xfs_break_leased_layouts(inode, &iolock, &retry);
    //  } while (error == 0 && retry);
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
                yield return BreakDaxLayouts(file, retry, error);
                if (error.Value != Errno.Ok || retry.Value)
                {
                    continue;
                }
            }
            yield return BreakLeasedLayouts(file, retry, error);
        } while (error.Value == Errno.Ok && retry.Value);
    }

    // xfs_break_dax_layouts: find a busy page and wait, interruptibly, for it to go idle.
    //
    //  page = dax_layout_busy_page(inode->i_mapping);
    //  if (!page) return 0;
    //  *retry = true;                                     [mainline]
    //  return ___wait_var_event(&page->_refcount, refcount == 1, TASK_INTERRUPTIBLE, 0, 0,
    //                           xfs_wait_dax_page(inode));
    private IEnumerable<object> BreakDaxLayouts(FileId file, Box<bool> retry, Box<Errno> error)
    {
        var scanSeq = NextSeq();
        yield return Request(Endpoint.MappingOf(file), new FindBusyPage(file, _id, scanSeq), scanSeq);
        if (_reply is not BusyPageFound busy)
        {
            yield break;
        }
        if (Policy.RetryWhenBusyPageFound)
        {
            retry.Value = true;
        }
        var page = busy.Page;
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

            // The wait callback: xfs_wait_dax_page (mainline) or xfs_wait_var_event (seed-v7):
            //   [seed-v7: *did_unlock = true;] xfs_iunlock(ip, locks); schedule(); xfs_ilock(ip, locks);
            if (Policy.RetryWhenWaitSlept)
            {
                retry.Value = true;
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
            // signal still pending makes the next round fail with EINTR unless the page is idle.
        }
    }

    // xfs_break_leased_layouts:
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
    // The blocking break's error (EINTR on a signal) is overwritten by the next
    // non-blocking break, exactly as in the kernel code.
    private IEnumerable<object> BreakLeasedLayouts(FileId file, Box<bool> retry, Box<Errno> error)
    {
        for (;;)
        {
            var seq = NextSeq();
            yield return Request(Endpoint.InodeOf(file), new BreakLease(file, _id, Blocking: false, seq), seq);
            var result = Reply<LeaseBreakResult>().Result;
            if (result != Errno.EWOULDBLOCK)
            {
                error.Value = result;
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
