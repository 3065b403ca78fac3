using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;

namespace DaxSim.Actors.Task;

// The system calls a scenario step makes. Each is a coroutine: `yield return` an Await
// to wait for a reply (read it with Reply<T>() afterwards), Pause to go on in a later turn,
// or another coroutine to call it. The result goes into `result`.
public sealed partial class TaskActor
{
    private IEnumerable<object> Syscall(Step step, Box<Errno> result) => step switch
    {
        MmapStep s => Mmap(s.File, s.Pages, result),
        MunmapStep s => Munmap(s.File, result),
        TouchStep s => Touch(s.File, s.Pages, result),
        DioReadStep s => DirectIo(s.From, s.Into, s.Pages, s.IoTime, dmaIntoBuffer: true, s.Async, result),
        DioWriteStep s => DirectIo(s.To, s.From, s.Pages, s.IoTime, dmaIntoBuffer: false, s.Async, result),
        TruncateStep s => ChangeLayout(OpKind.Truncate, s.File, new PageRange(s.Size, s.Size), s.Size, result),
        FallocateStep s => ChangeLayout(s.Mode, s.File, s.Pages, 0, result),
        HoldLeaseStep s => HoldLease(s.File, s.For, result),
        SleepStep s => Sleep(s.Random ? RandomSleep(s.For) : s.For, result),
        FsyncStep s => Fsync(s.File, s.IoTime, result),
        PaceStep s => Pace(s.Pacing, result),
        _ => throw new InvalidOperationException($"no system call for {step.Op}"),
    };

    // mmap(MAP_SHARED): a mapping of the process, no PTEs until the pages are touched or pinned.
    private IEnumerable<object> Mmap(FileId file, PageRange pages, Box<Errno> result)
    {
        var seq = NextSeq();
        yield return Request(Endpoint.MappingOf(file), new MapFile(file, _id, pages, seq), seq);
        result.Value = Errno.Ok;
    }

    private IEnumerable<object> Munmap(FileId file, Box<Errno> result)
    {
        var seq = NextSeq();
        yield return Request(Endpoint.MappingOf(file), new UnmapFile(file, _id, seq), seq);
        if (!Reply<UnmapFileAck>().Mapped)
        {
            result.Value = Errno.EINVAL;
        }
    }

    // Touch each page of the mapping: an access through a PTE that is there needs nothing; a
    // page without one faults it in.
    private IEnumerable<object> Touch(FileId file, PageRange pages, Box<Errno> result)
    {
        for (var index = pages.First; index <= pages.Last; index++)
        {
            var seq = NextSeq();
            yield return Request(Endpoint.MappingOf(file), new ReadPte(file, _id, index, seq), seq);
            var pte = Reply<PteValue>();
            if (!pte.Mapped)
            {
                result.Value = Errno.EFAULT;
                yield break;
            }
            if (pte.Page is not null)
            {
                continue;
            }
            yield return FaultIn(file, index, result);
            if (result.Value != Errno.Ok)
            {
                yield break;
            }
        }
    }

    // xfs_filemap_fault (or ext4's, fuse's): MMAPLOCK shared around dax_iomap_fault.
    private IEnumerable<object> FaultIn(FileId file, int index, Box<Errno> result)
    {
        yield return Lock(file, LockKind.MmapLock, LockMode.Shared);
        var seq = NextSeq();
        yield return Request(Endpoint.MappingOf(file), new Fault(file, _id, index, seq), seq);
        Unlock(file, LockKind.MmapLock);
        if (_reply is FaultFailed failed)
        {
            result.Value = failed.Error;
        }
    }

    // O_DIRECT I/O whose user buffer is the process's mapping of `buffer`: take the I/O
    // file's IOLOCK shared (xfs_file_dio_read / the aligned DIO write), pin every page of
    // the buffer (get_user_pages), then submit the I/O, which holds the pins until its
    // completion has put them (TaskActor.Completion.cs). A synchronous call waits,
    // uninterruptibly, until the completion wakes it (iomap_dio_rw's TASK_UNINTERRUPTIBLE
    // loop); an asynchronous one (AIO, io_uring) returns at once.
    private IEnumerable<object> DirectIo(FileId ioFile, FileId buffer, PageRange pages, TimeSpan ioTime,
        bool dmaIntoBuffer, bool async, Box<Errno> result)
    {
        yield return Lock(ioFile, LockKind.IoLock, LockMode.Shared);
        var pinned = new List<(PageId Page, int Index)>();
        yield return GetUserPages(buffer, pages, pinned, result);
        if (result.Value == Errno.Ok)
        {
            var waiter = Submit(buffer, pinned, dmaIntoBuffer, ioTime, sync: !async);
            if (!async)
            {
                yield return Wait(waiter, WaitState.WaitingForIo, interruptible: false, killable: false);
            }
        }
        else
        {
            // The pages pinned before get_user_pages failed are released, one by one.
            for (var i = 0; i < pinned.Count; i++)
            {
                if (i > 0)
                {
                    yield return Pause.Instance;
                }
                PutPage(pinned[i].Page);
            }
        }
        Unlock(ioFile, LockKind.IoLock);
    }

    // xfs_vn_setattr_size and xfs_file_fallocate (ext4_setattr and ext4's fallocate modes,
    // fuse_do_setattr and fuse_file_fallocate alike): IOLOCK then MMAPLOCK exclusive, break
    // layouts, then change the extents; unlock in reverse order.
    private IEnumerable<object> ChangeLayout(OpKind op, FileId file, PageRange range, int newSize,
        Box<Errno> result)
    {
        yield return Lock(file, LockKind.IoLock, LockMode.Exclusive);
        yield return Lock(file, LockKind.MmapLock, LockMode.Exclusive);
        yield return BreakLayouts(op, file, result);
        if (result.Value == Errno.Ok)
        {
            var seq = NextSeq();
            yield return Request(Endpoint.InodeOf(file), new ChangeExtents(file, _id, op, range, newSize, seq), seq);
            result.Value = Reply<ExtentsChanged>().Result;
        }
        Unlock(file, LockKind.MmapLock);
        Unlock(file, LockKind.IoLock);
    }

    // A pNFS client holding a layout lease: it gives the layout back when recalled, or
    // after `duration`.
    private IEnumerable<object> HoldLease(FileId file, TimeSpan duration, Box<Errno> result)
    {
        var seq = NextSeq();
        yield return Request(Endpoint.InodeOf(file), new AcquireLease(file, _id, seq), seq);
        if (_reply is LeaseDenied denied)
        {
            result.Value = denied.Error;
            yield break;
        }
        _leases.Add(file);
        yield return Timer(duration, WaitState.HoldingLease, interruptible: false, lease: file);
        _leases.Remove(file);
        Send(Endpoint.InodeOf(file), new ReturnLease(file, _id));
    }

    private Rng? _sleeps;

    /// <summary>The default timer slack of a task (init_task's timer_slack_ns, 50 us).</summary>
    public static readonly TimeSpan TimerSlack = TimeSpan.FromMicroseconds(50);

    /// <summary>
    /// usleep(rand() % n): a duration in [0, max), in whole microseconds, from the task's own
    /// stream of the run's seed; the wake-up then lands on the next multiple of the timer slack
    /// on the run's clock. hrtimer_nanosleep gives the timer the range [expiry, expiry + slack],
    /// and one timer interrupt expires every timer whose range has begun, so sleeps that end
    /// within the slack of each other wake together. The model's steps take no time: without
    /// this, two threads that sleep random amounts would never again run at the same instant,
    /// and none of the windows between their system calls could be explored.
    /// </summary>
    private TimeSpan RandomSleep(TimeSpan max)
    {
        _sleeps ??= Rng.ForStream(Env.Seed, 0x5_1EE9_0000UL + (ulong)_id.Value);
        var micros = (long)Math.Max(1, max.Ticks / TimeSpan.TicksPerMicrosecond);
        var drawn = TimeSpan.FromMicroseconds((long)(_sleeps.NextULong() % (ulong)micros));
        var now = Env.Elapsed();
        var wake = (now + drawn).Ticks;
        var slack = TimerSlack.Ticks;
        var aligned = (wake + slack - 1) / slack * slack;
        return TimeSpan.FromTicks(aligned - now.Ticks);
    }

    // nanosleep: interruptible (a handler makes it return EINTR, SA_RESTART or not).
    private IEnumerable<object> Sleep(TimeSpan duration, Box<Errno> result)
    {
        yield return Timer(duration, WaitState.Sleeping, interruptible: true);
        if (_reply is Interrupted)
        {
            result.Value = Errno.EINTR;
        }
    }

    // fsync / msync(MS_SYNC) of a DAX file: dax_writeback_mapping_range, which takes no
    // inode lock. Each dirty entry in turn is locked (dax_writeback_one), its cache lines are
    // flushed (ioTime, uninterruptible), and it is cleaned and unlocked.
    private IEnumerable<object> Fsync(FileId file, TimeSpan flushTime, Box<Errno> result)
    {
        var from = 0;
        for (;;)
        {
            var seq = NextSeq();
            yield return Request(Endpoint.MappingOf(file), new LockDirtyEntry(file, _id, from, seq), seq);
            if (_reply is not EntryLocked locked)
            {
                yield break;
            }
            yield return Timer(flushTime, WaitState.WaitingForIo, interruptible: false, killable: false);
            Send(Endpoint.MappingOf(file), new UnlockEntry(file, _id, locked.Index));
            if (locked.Index == int.MaxValue)
            {
                yield break;
            }
            from = locked.Index + 1;
            // On to the next dirty entry: another CPU may take this one's lock first.
            yield return Pause.Instance;
        }
    }

    private void EmitWaitEnded(PageId page, WaitEnd how) => Trace.Emit(new WaitEnded(page, _id, how));
}
