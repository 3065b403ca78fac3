using Akka.Actor;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;

namespace DaxSim.Actors.Mapping;

// MappingActor models a DAX file's address space (struct address_space): its DAX
// entries (page index → device page), each task's mmap of the file and the PTEs the
// task has through it. It is the authority on PTEs: the GUP fast path re-checks here,
// and dax_layout_busy_page unmaps here before it looks for busy pages.
//
// Takes:  MapFile, UnmapFile (mmap, munmap); Fault (the GUP slow path, under MMAPLOCK
//         shared); ReadPte and RecheckPte (the fast path); FindBusyPage (the layout break);
//         Invalidate (the inode, during a layout change).
// Sends:  MapBlock to the inode for a fault; QueryRefcount to pages during the busy-page
//         scan; PtesZapped to every task whose PTEs it removed; the replies.
//
// An unmap does not wait for GUP fast paths under way (with broadcast TLB invalidation,
// as on arm64, nothing makes it): a fast path that read a PTE before the unmap may take
// its reference after the busy scan looked; its PTE re-check is what protects it (see
// TaskActor.Gup.cs).
public sealed class MappingActor : SimActor
{
    private sealed record PendingFault(Fault Request, ReplyAddress Task);

    private sealed record Scan(FindBusyPage Request, ReplyAddress Task, List<(int Index, PageId Page)> Entries)
    {
        public int Next { get; set; }
        public long QuerySeq { get; set; }
        public bool Unmapped { get; init; }
    }

    private readonly FileId _file;
    private readonly SortedDictionary<int, PageId> _entries = new();
    private readonly SortedDictionary<TaskId, PageRange> _vmas = new();
    // Each task's PTEs by page index. Sorted lists (a task maps a few pages), kept for reuse
    // when a task unmaps: mmap, fault and munmap are most of a load's operations.
    private readonly SortedDictionary<TaskId, SortedList<int, PageId>> _ptes = new();
    private readonly Stack<SortedList<int, PageId>> _spare = new();
    private readonly Dictionary<long, PendingFault> _pendingFaults = new();
    private readonly Queue<(FindBusyPage Request, ReplyAddress Task)> _scanQueue = new();
    private Scan? _scan;
    private long _seq;

    public MappingActor(SimEnvironment env, FileId file) : base(env, Endpoint.MappingOf(file))
    {
        _file = file;
        Receive<MapFile>(HandleMapFile);
        Receive<UnmapFile>(HandleUnmapFile);
        Receive<Fault>(HandleFault);
        Receive<BlockMapped>(HandleBlockMapped);
        Receive<MapBlockFailed>(HandleMapBlockFailed);
        Receive<ReadPte>(HandleReadPte);
        Receive<RecheckPte>(HandleRecheckPte);
        Receive<Invalidate>(HandleInvalidate);
        Receive<FindBusyPage>(HandleFindBusyPage);
        Receive<RefcountReport>(HandleRefcountReport);
    }

    public static Props Props(SimEnvironment env, FileId file) =>
        ActorProps.Of(() => new MappingActor(env, file));

    private void HandleMapFile(MapFile m)
    {
        _vmas[m.Task] = m.Range;
        Reply(new MapFileAck(_file, m.Seq));
    }

    private void HandleUnmapFile(UnmapFile m)
    {
        if (_ptes.Remove(m.Task, out var ptes))
        {
            ZapAll(m.Task, ptes);
        }
        _vmas.Remove(m.Task);
        Reply(new UnmapFileAck(_file, m.Seq));
    }

    // The task's node is gone: its mmaps and PTEs go (exit_mmap), and so do its faults and
    // busy-page scans in progress, whose answers nobody would take.
    protected override void OnTaskGone(TaskId task)
    {
        if (_ptes.Remove(task, out var ptes))
        {
            ZapAll(task, ptes);
        }
        _vmas.Remove(task);
        foreach (var seq in _pendingFaults.Where(p => p.Value.Request.Task == task).Select(p => p.Key).ToList())
        {
            _pendingFaults.Remove(seq);
        }
        var queued = _scanQueue.Where(s => s.Request.Task != task).ToList();
        _scanQueue.Clear();
        foreach (var s in queued)
        {
            _scanQueue.Enqueue(s);
        }
        if (_scan?.Request.Task == task)
        {
            _scan = null;
            StartNextScan();
        }
    }

    /// <summary>Removes all of a task's PTEs (their list has left _ptes), in index order, and keeps the list for reuse.</summary>
    private void ZapAll(TaskId task, SortedList<int, PageId> ptes)
    {
        for (var i = 0; i < ptes.Count; i++)
        {
            Trace.Emit(new PteZapped(_file, ptes.GetKeyAtIndex(i), task, ptes.GetValueAtIndex(i)));
        }
        ptes.Clear();
        _spare.Push(ptes);
    }

    // --- faults (the GUP slow path) -------------------------------------------------------

    private void HandleFault(Fault m)
    {
        if (!_vmas.TryGetValue(m.Task, out var vma) || !vma.Contains(m.Index))
        {
            Reply(new FaultFailed(_file, m.Index, Errno.EFAULT, m.Seq));
            return;
        }
        if (_entries.TryGetValue(m.Index, out var page))
        {
            InstallPte(m.Task, m.Index, page);
            Reply(new FaultAck(_file, m.Index, page, m.Seq));
            return;
        }
        var seq = ++_seq;
        _pendingFaults[seq] = new PendingFault(m, ReplyTo);
        Send(Endpoint.InodeOf(_file), new MapBlock(_file, m.Index, seq));
    }

    private void HandleBlockMapped(BlockMapped m)
    {
        if (!_pendingFaults.Remove(m.Seq, out var pending))
        {
            return;
        }
        var fault = pending.Request;
        if (!_entries.TryGetValue(fault.Index, out var page))
        {
            page = m.Block;
            _entries[fault.Index] = page;
            Trace.Emit(new EntryInserted(_file, fault.Index, page));
        }
        // The task may have been killed (and unmapped) while the block was looked up.
        if (!_vmas.ContainsKey(fault.Task))
        {
            Send(pending.Task, new FaultFailed(_file, fault.Index, Errno.EFAULT, fault.Seq));
            return;
        }
        InstallPte(fault.Task, fault.Index, page);
        Send(pending.Task, new FaultAck(_file, fault.Index, page, fault.Seq));
    }

    private void HandleMapBlockFailed(MapBlockFailed m)
    {
        if (_pendingFaults.Remove(m.Seq, out var pending))
        {
            Send(pending.Task, new FaultFailed(_file, pending.Request.Index, m.Error, pending.Request.Seq));
        }
    }

    private void InstallPte(TaskId task, int index, PageId page)
    {
        if (!_ptes.TryGetValue(task, out var ptes))
        {
            ptes = _spare.TryPop(out var spare) ? spare : new SortedList<int, PageId>();
            _ptes[task] = ptes;
        }
        ptes[index] = page;
        Trace.Emit(new PteInstalled(_file, index, task, page));
    }

    // --- the GUP fast path's re-check ---------------------------------------------------------

    private void HandleReadPte(ReadPte m)
    {
        PageId? page = _ptes.TryGetValue(m.Task, out var ptes) && ptes.TryGetValue(m.Index, out var p) ? p : null;
        Reply(new PteValue(_file, m.Index, page, m.Seq));
    }

    private void HandleRecheckPte(RecheckPte m)
    {
        var present = _ptes.TryGetValue(m.Task, out var ptes) && ptes.TryGetValue(m.Index, out var page) &&
                      page == m.Page;
        Trace.Emit(new PteRechecked(_file, m.Index, m.Task, present));
        Reply(new PteStatus(_file, m.Index, present, m.Seq));
    }

    // --- unmapping ------------------------------------------------------------------------------

    // unmap_mapping_range over [first, last], and with deleteEntries the DAX entries too.
    private void HandleInvalidate(Invalidate m)
    {
        if (m.DeleteEntries)
        {
            foreach (var (index, page) in _entries.Where(e => e.Key >= m.First && e.Key <= m.Last).ToList())
            {
                _entries.Remove(index);
                Trace.Emit(new EntryDeleted(_file, index, page));
            }
        }
        ZapPtes(m.First, m.Last);
        Reply(new InvalidateAck(_file, m.Seq));
    }

    /// <summary>Removes the PTEs in [first, last] of every task and tells each task whose PTEs went.</summary>
    private void ZapPtes(int first, int last)
    {
        foreach (var (task, ptes) in _ptes)
        {
            // The indexes in [first, last] are a run of the sorted list: from the first one
            // at or after first, while they are not after last.
            var at = 0;
            while (at < ptes.Count && ptes.GetKeyAtIndex(at) < first)
            {
                at++;
            }
            var zapped = false;
            while (at < ptes.Count && ptes.GetKeyAtIndex(at) <= last)
            {
                Trace.Emit(new PteZapped(_file, ptes.GetKeyAtIndex(at), task, ptes.GetValueAtIndex(at)));
                ptes.RemoveAt(at);
                zapped = true;
            }
            if (zapped)
            {
                Send(Endpoint.Of(task), new PtesZapped(_file, first, last, task));
            }
        }
    }

    // --- dax_layout_busy_page ---------------------------------------------------------------

    private void HandleFindBusyPage(FindBusyPage m)
    {
        _scanQueue.Enqueue((m, ReplyTo));
        if (_scan is null)
        {
            StartNextScan();
        }
    }

    private void StartNextScan()
    {
        if (!_scanQueue.TryDequeue(out var next))
        {
            return;
        }
        // Unmap every PTE first, so that new get_user_pages must fault and block on
        // MMAPLOCK, which the caller holds exclusive; then look for an elevated refcount.
        var unmap = Env.Policy.UnmapBeforeBusyScan;
        if (unmap)
        {
            ZapPtes(0, int.MaxValue);
        }
        _scan = new Scan(next.Request, next.Task, _entries.Select(e => (e.Key, e.Value)).ToList()) { Unmapped = unmap };
        ContinueScan();
    }

    private void ContinueScan()
    {
        var scan = _scan!;
        if (scan.Next < scan.Entries.Count)
        {
            var page = scan.Entries[scan.Next].Page;
            scan.QuerySeq = ++_seq;
            Send(Endpoint.Of(page), new QueryRefcount(page, scan.QuerySeq));
            return;
        }
        Trace.Emit(new BusyScanDone(_file, scan.Request.Task, null, 0, scan.Unmapped));
        Send(scan.Task, new NoBusyPage(_file, scan.Request.Seq));
        _scan = null;
        StartNextScan();
    }

    private void HandleRefcountReport(RefcountReport m)
    {
        if (_scan is not { } scan || m.Seq != scan.QuerySeq)
        {
            return;
        }
        var (index, page) = scan.Entries[scan.Next];
        if (Env.Policy.IsBusy(m.Refcount))
        {
            Trace.Emit(new BusyScanDone(_file, scan.Request.Task, page, m.Refcount, scan.Unmapped));
            Send(scan.Task, new BusyPageFound(_file, page, index, m.Refcount, scan.Request.Seq));
            _scan = null;
            StartNextScan();
            return;
        }
        scan.Next++;
        ContinueScan();
    }
}
