using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;

namespace DaxSim.Actors.Task;

// The system calls a scenario step makes. Each is a coroutine: `yield return` an Await
// to wait for a reply (read it with Reply<T>() afterwards), or another coroutine to call
// it. The result goes into `result`.
public sealed partial class TaskActor
{
    private IEnumerable<object> Syscall(Step step, Box<Errno> result) => step switch
    {
        MmapStep s => Mmap(s.File, s.Pages, result),
        MunmapStep s => Munmap(s.File, result),
        TouchStep s => Touch(s.File, s.Pages, result),
        DioReadStep s => DirectIo(s.From, s.Into, s.Pages, s.IoTime, dmaIntoBuffer: true, result),
        DioWriteStep s => DirectIo(s.To, s.From, s.Pages, s.IoTime, dmaIntoBuffer: false, result),
        TruncateStep s => ChangeLayout(OpKind.Truncate, s.File, new PageRange(s.Size, s.Size), s.Size, result),
        FallocateStep s => ChangeLayout(s.Mode, s.File, s.Pages, 0, result),
        HoldLeaseStep s => HoldLease(s.File, s.For, result),
        SleepStep s => Sleep(s.For, result),
        _ => throw new InvalidOperationException($"no system call for {step.Op}"),
    };

    // mmap(MAP_SHARED): a VMA, no PTEs until the pages are touched or pinned.
    private IEnumerable<object> Mmap(FileId file, PageRange pages, Box<Errno> result)
    {
        var seq = NextSeq();
        yield return Request(Endpoint.MappingOf(file), new MapFile(file, _id, pages, seq), seq);
        _vmas[file] = pages;
        result.Value = Errno.Ok;
    }

    private IEnumerable<object> Munmap(FileId file, Box<Errno> result)
    {
        if (!_vmas.ContainsKey(file))
        {
            result.Value = Errno.EINVAL;
            yield break;
        }
        var seq = NextSeq();
        yield return Request(Endpoint.MappingOf(file), new UnmapFile(file, _id, seq), seq);
        _vmas.Remove(file);
        foreach (var key in _ptes.Keys.Where(k => k.File == file).ToList())
        {
            _ptes.Remove(key);
        }
    }

    // Touch each page of the mapping: a page without a PTE faults it in.
    private IEnumerable<object> Touch(FileId file, PageRange pages, Box<Errno> result)
    {
        if (!IsMapped(file, pages))
        {
            result.Value = Errno.EFAULT;
            yield break;
        }
        for (var index = pages.First; index <= pages.Last; index++)
        {
            if (_ptes.ContainsKey((file, index)))
            {
                continue;
            }
            yield return Lock(file, LockKind.MmapLock, LockMode.Shared);
            var seq = NextSeq();
            yield return Request(Endpoint.MappingOf(file), new Fault(file, _id, index, seq), seq);
            Unlock(file, LockKind.MmapLock);
            if (_reply is FaultFailed failed)
            {
                result.Value = failed.Error;
                yield break;
            }
            _ptes[(file, index)] = Reply<FaultAck>().Page;
        }
    }

    // O_DIRECT I/O whose user buffer is the task's mapping of `buffer`: take the I/O
    // file's IOLOCK shared (xfs_file_dio_read / the aligned DIO write), pin every page of
    // the buffer first, then do the I/O for ioTime (a read's DMA lands in each pinned
    // page), then put every page.
    private IEnumerable<object> DirectIo(FileId ioFile, FileId buffer, PageRange pages, TimeSpan ioTime,
        bool dmaIntoBuffer, Box<Errno> result)
    {
        yield return Lock(ioFile, LockKind.IoLock, LockMode.Shared);
        var pinned = new List<(PageId Page, int Index)>();
        yield return GetUserPages(buffer, pages, pinned, result);
        if (result.Value == Errno.Ok)
        {
            yield return Timer(ioTime, WaitState.WaitingForIo, interruptible: false);
            if (dmaIntoBuffer)
            {
                foreach (var (page, index) in pinned)
                {
                    Send(Endpoint.Of(page), new DmaWrite(page, _id, buffer, index));
                }
            }
        }
        foreach (var (page, _) in pinned)
        {
            PutPage(page);
        }
        Unlock(ioFile, LockKind.IoLock);
    }

    // xfs_vn_setattr_size and xfs_file_fallocate: IOLOCK then MMAPLOCK exclusive, break
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

    // nanosleep: interruptible.
    private IEnumerable<object> Sleep(TimeSpan duration, Box<Errno> result)
    {
        yield return Timer(duration, WaitState.Sleeping, interruptible: true);
        if (_reply is Interrupted)
        {
            result.Value = Errno.EINTR;
        }
    }

    private bool IsMapped(FileId file, PageRange pages) =>
        _vmas.TryGetValue(file, out var vma) && vma.Contains(pages.First) && vma.Contains(pages.Last);

    private void EmitWaitEnded(PageId page, WaitEnd how) => Trace.Emit(new WaitEnded(page, _id, how));
}
