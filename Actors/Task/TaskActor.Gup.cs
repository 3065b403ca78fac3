using DaxSim.Protocol;
using DaxSim.Protocol.Messages;

namespace DaxSim.Actors.Task;

// get_user_pages for a DIO buffer that is an mmap of a DAX file.
public sealed partial class TaskActor
{
    // Pin every page of the buffer, in order, before any I/O. A page that has no PTE is
    // faulted in, possibly after earlier pages are already pinned: this is the DIO side
    // of the deadlock that the layout break must avoid by dropping MMAPLOCK while it waits.
    private IEnumerable<object> GetUserPages(FileId file, PageRange pages, List<(PageId Page, int Index)> pinned,
        Box<Errno> result)
    {
        if (!IsMapped(file, pages))
        {
            result.Value = Errno.EFAULT;
            yield break;
        }
        var page = new Box<PageId?>(null);
        for (var index = pages.First; index <= pages.Last; index++)
        {
            // __get_user_pages checks fatal_signal_pending between pages.
            yield return KillPoint.Instance;
            yield return GetUserPage(file, index, page, result);
            if (result.Value != Errno.Ok)
            {
                yield break;
            }
            pinned.Add((page.Value!.Value, index));
        }
    }

    private IEnumerable<object> GetUserPage(FileId file, int index, Box<PageId?> pinned, Box<Errno> result)
    {
        // Fast path, no locks: read the PTE, take a reference, then re-check that the PTE
        // is still there; if it went, drop the reference and take the slow path. Against
        // dax_layout_busy_page (unmap, then read refcounts) this is enough: either the
        // re-check sees the unmap and the reference is dropped unused, or the scan sees
        // the reference. Nothing stops the unmap while a fast path is under way (as with
        // broadcast TLB invalidation, arm64): the reference is speculative until the
        // re-check, and a block may be freed under a speculative reference.
        var readSeq = NextSeq();
        yield return Request(Endpoint.MappingOf(file), new ReadPte(file, _id, index, readSeq), readSeq);
        if (Reply<PteValue>().Page is { } cached)
        {
            yield return GetPage(cached, file, index, speculative: Policy.GupFastRechecksPte);
            if (!Policy.GupFastRechecksPte)
            {
                pinned.Value = cached;
                yield break;
            }
            var seq = NextSeq();
            yield return Request(Endpoint.MappingOf(file), new RecheckPte(file, _id, index, cached, seq), seq);
            if (Reply<PteStatus>().Present)
            {
                pinned.Value = cached;
                yield break;
            }
            PutPage(cached);
            _ptes.Remove((file, index));
        }

        // Slow path: fault the page in under MMAPLOCK shared (xfs_filemap_fault), then take
        // the reference. The kernel takes it under the page-table lock just after the
        // fault; taking it before MMAPLOCK is released orders it before any later unmap
        // in the same way.
        yield return Lock(file, LockKind.MmapLock, LockMode.Shared);
        var faultSeq = NextSeq();
        yield return Request(Endpoint.MappingOf(file), new Fault(file, _id, index, faultSeq), faultSeq);
        if (_reply is FaultFailed failed)
        {
            Unlock(file, LockKind.MmapLock);
            // A fault that cannot be satisfied makes get_user_pages fail with EFAULT.
            result.Value = failed.Error == Errno.ENOSPC ? Errno.ENOSPC : Errno.EFAULT;
            yield break;
        }
        var page = Reply<FaultAck>().Page;
        _ptes[(file, index)] = page;
        yield return GetPage(page, file, index);
        Unlock(file, LockKind.MmapLock);
        pinned.Value = page;
    }
}
