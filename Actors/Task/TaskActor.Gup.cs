using DaxSim.Protocol;
using DaxSim.Protocol.Messages;

namespace DaxSim.Actors.Task;

// get_user_pages for a DIO buffer that is an mmap of a DAX file (pin_user_pages_fast):
// the lockless fast walk first, page by page, up to the first page it cannot take; then
// the slow path (__get_user_pages) for the rest, page by page.
public sealed partial class TaskActor
{
    // Every page of the buffer is pinned, in order, before any I/O. A page that has no PTE is
    // faulted in, possibly after earlier pages are already pinned: this is the DIO side of
    // the deadlock that the layout break must avoid by dropping MMAPLOCK while it waits.
    private IEnumerable<object> GetUserPages(FileId file, PageRange pages, List<(PageId Page, int Index)> pinned,
        Box<Errno> result)
    {
        var index = pages.First;
        var taken = new Box<PageId?>(null);

        // gup_fast_pte_range: read the PTE locklessly, take a reference, re-check that the PTE
        // is still the same; if it changed, drop the reference and leave the rest to the slow
        // path. Against the busy scan (unmap, then read refcounts) this is enough: either the
        // re-check sees the unmap and the reference is dropped unused, or the scan sees the
        // reference. Nothing stops the unmap while the walk is under way (as with broadcast TLB
        // invalidation, arm64): the reference is speculative until the re-check, and a block
        // may be freed under a speculative reference.
        for (; index <= pages.Last; index++)
        {
            yield return GupFast(file, index, taken);
            if (taken.Value is not { } page)
            {
                break;
            }
            pinned.Add((page, index));
        }

        // __get_user_pages: for each page, follow_page_mask under the page-table lock (the
        // reference is taken there), and a fault if there is no PTE.
        for (; index <= pages.Last; index++)
        {
            yield return GupSlow(file, index, taken, result);
            if (result.Value != Errno.Ok)
            {
                yield break;
            }
            pinned.Add((taken.Value!.Value, index));
        }
    }

    private IEnumerable<object> GupFast(FileId file, int index, Box<PageId?> taken)
    {
        taken.Value = null;
        var readSeq = NextSeq();
        yield return Request(Endpoint.MappingOf(file), new ReadPte(file, _id, index, readSeq), readSeq);
        if (Reply<PteValue>().Page is not { } cached)
        {
            yield break;
        }
        yield return GetPage(cached, file, index, speculative: Policy.GupFastRechecksPte);
        if (!Policy.GupFastRechecksPte)
        {
            taken.Value = cached;
            yield break;
        }
        var seq = NextSeq();
        yield return Request(Endpoint.MappingOf(file), new RecheckPte(file, _id, index, cached, seq), seq);
        if (Reply<PteStatus>().Present)
        {
            taken.Value = cached;
            yield break;
        }
        PutPage(cached);
    }

    private IEnumerable<object> GupSlow(FileId file, int index, Box<PageId?> taken, Box<Errno> result)
    {
        for (var first = true; ; first = false)
        {
            // The retry: label, reached for every page and again after every fault:
            // fatal_signal_pending, then cond_resched. After a fault this is a window: MMAPLOCK
            // is already dropped, the PTE is there, and no reference is taken yet.
            yield return KillPoint.Instance;
            if (!first)
            {
                yield return Pause.Instance;
            }
            var seq = NextSeq();
            yield return Request(Endpoint.MappingOf(file), new FollowPte(file, _id, index, seq), seq);
            var pte = Reply<PteValue>();
            if (!pte.Mapped)
            {
                result.Value = Errno.EFAULT;
                yield break;
            }
            if (pte.Page is { } page)
            {
                // Under the page-table lock: no zap of this PTE comes before the reference.
                yield return GetPage(page, file, index);
                Send(Endpoint.MappingOf(file), FollowDoneMessage(file));
                taken.Value = page;
                yield break;
            }
            // faultin_page, then `goto retry` and follow again: between the two, a layout
            // change may take MMAPLOCK, find the page idle, and unmap it again (or, under
            // no-unmap, free its block under the reference that follow then takes).
            yield return FaultIn(file, index, result);
            if (result.Value != Errno.Ok)
            {
                // A fault that cannot be satisfied makes get_user_pages fail with EFAULT.
                result.Value = result.Value == Errno.ENOSPC ? Errno.ENOSPC : Errno.EFAULT;
                yield break;
            }
        }
    }
}
