using Akka.Actor;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;
using DaxSim.Transport;

namespace DaxSim.Actors.Mapping;

// MappingActor models a DAX file's address_space: its DAX entries (page index → device
// page; each with the entry lock and the dirty tag of the i_pages XArray), every process's
// mapping (VMA) of the file and the PTEs the process has through it. Threads of one process
// share their mapping and PTEs. It is the authority on PTEs: the GUP fast path reads and
// re-checks them here, the slow path follows them under the page-table lock, and the busy
// scan unmaps here before it reads refcounts.
//
// Takes:  MapFile, UnmapFile, ThreadExit (mmap, munmap, exit_mmap with the last thread);
//         Fault (a page fault, under MMAPLOCK shared); ReadPte, RecheckPte (the fast path);
//         FollowPte, FollowDone (the slow path); FindBusyPage, DeleteEntries (the layout
//         break); LockDirtyEntry, UnlockEntry (writeback); Invalidate (the inode, during a
//         layout change); and its own Step.
// Sends:  MapBlock to the inode for a fault on a hole; QueryRefcount to pages during the busy
//         scan; MapPage / UnmapPage to pages (6.15+: a PTE holds a reference); the replies.
//
// The kernel runs every walk here page by page without a lock that keeps the other side
// out, so each is one step per PTE or entry: zap_pte_range clears PTEs one at a time while
// the GUP fast path reads them locklessly; the busy scan reads each page's refcount at its
// own moment; entry walks wait for locked entries. A step ends the actor's turn (Step), and
// another task may run before the next one, as on another CPU. An unmap does not wait for
// GUP fast paths under way (with broadcast TLB invalidation, as on arm64, nothing makes it):
// the fast path's PTE re-check is what protects it (TaskActor.Gup.cs).
public sealed class MappingActor : SimActor
{
    /// <summary>Continue job Job (its Step'th step): the next PTE to zap or entry to look at.</summary>
    private sealed record Continue(long Job, long Step);

    private sealed class EntryState(PageId page)
    {
        public PageId Page { get; } = page;

        /// <summary>PAGECACHE_TAG_DIRTY: a write fault dirtied it; writeback cleans it.</summary>
        public bool Dirty { get; set; } = true;
    }

    /// <summary>
    /// A DAX entry lock (DAX_LOCKED) and who waits for it, in order (prepare_to_wait_exclusive).
    /// Holder: a writeback's task (its id, >= 0) or a fault's (-1 - its id). Reused once
    /// unlocked (see _spareLocks): a fault locks an entry on every block lookup.
    /// </summary>
    private sealed class EntryLock
    {
        public long Holder { get; set; }

        public Queue<Action> Waiters { get; } = new();
    }

    // A walk that runs over several steps. Its continuation runs when it is done.
    private abstract class Job(long id)
    {
        public long Id { get; } = id;

        public long Steps { get; set; }
    }

    /// <summary>unmap_mapping_range / zap_page_range: zap the PTEs of some processes in [First, Last], one per step, in (process, index) order.</summary>
    private sealed class ZapJob(long id, MmId? only, int first, int last, Action then) : Job(id)
    {
        public MmId? Only { get; } = only;
        public int First { get; } = first;
        public int Last { get; } = last;
        public Action Then { get; } = then;
        public (int Mm, int Index) Cursor { get; set; } = (-1, -1);
    }

    /// <summary>dax_layout_busy_page_range: after its unmap, the entries of [First, Last] in index order, one per step.</summary>
    private sealed class ScanJob(long id, FindBusyPage request, ReplyAddress task, bool unmapped) : Job(id)
    {
        public FindBusyPage Request { get; } = request;
        public ReplyAddress Task { get; } = task;
        public bool Unmapped { get; } = unmapped;
        public int Next { get; set; } = request.First;
        public (int Index, PageId Page)? Querying { get; set; }
        public long QuerySeq { get; set; }
    }

    /// <summary>dax_delete_mapping_range (or the entries of an Invalidate): [First, Last], one entry per step.</summary>
    private sealed class DeleteJob(long id, TaskId task, int first, int last, bool mayskip, Action then) : Job(id)
    {
        public TaskId Task { get; } = task;

        /// <summary>truncate_inode_pages after a 6.15 break: every entry found should have gone with the break.</summary>
        public bool ExpectEmpty { get; init; }
        public int Last { get; } = last;
        public bool MaySkip { get; } = mayskip;
        public Action Then { get; } = then;
        public int Next { get; set; } = first;
    }

    private sealed record PendingFault(Fault Request, ReplyAddress Task, MmId Mm);

    private readonly FileId _file;
    // Sorted lists, not trees: walked from an index at every step, and a tree's enumerator allocates.
    private readonly SortedList<int, EntryState> _entries = new();
    private readonly Dictionary<int, EntryLock> _entryLocks = new();
    private readonly Stack<EntryLock> _spareLocks = new();
    private readonly Dictionary<MmId, PageRange> _vmas = new();
    // Each process's PTEs by page index. Sorted lists (a process maps a few pages), kept for
    // reuse when a mapping goes: mmap, fault and munmap are most of a load's operations.
    private readonly SortedList<MmId, SortedList<int, PageId>> _ptes = new();
    private readonly Stack<SortedList<int, PageId>> _spare = new();
    // Threads of each process still alive: the mapping goes with the last (exit_mmap).
    private readonly Dictionary<MmId, int> _threadsAlive = new();
    // The page-table lock of a process, held by a slow path between its follow_page and its
    // reference; zaps of that process's PTEs wait for it.
    private readonly List<(MmId Mm, TaskId Task)> _ptlHeld = [];
    private readonly List<ZapJob> _waitingForPtl = [];
    private readonly Dictionary<long, PendingFault> _pendingFaults = new();
    private readonly Dictionary<long, Job> _jobs = new();
    private readonly Queue<(FindBusyPage Request, ReplyAddress Task)> _scanQueue = new();
    private ScanJob? _scan;
    private long _seq;

    public MappingActor(SimEnvironment env, FileId file) : base(env, Endpoint.MappingOf(file))
    {
        _file = file;
        foreach (var process in env.Scenario.Processes)
        {
            _threadsAlive[process.Id] = process.Threads.Count;
            foreach (var mmap in process.Mmaps)
            {
                if (mmap.File == file)
                {
                    _vmas[process.Id] = mmap.Pages;
                }
            }
        }
    }

    protected override bool Handle(object message)
    {
        switch (message)
        {
            case MapFile m:
                HandleMapFile(m);
                return true;
            case UnmapFile m:
                HandleUnmapFile(m);
                return true;
            case ThreadExit m:
                HandleThreadExit(m);
                return true;
            case Fault m:
                HandleFault(m);
                return true;
            case BlockMapped m:
                HandleBlockMapped(m);
                return true;
            case MapBlockFailed m:
                HandleMapBlockFailed(m);
                return true;
            case ReadPte m:
                HandleReadPte(m);
                return true;
            case RecheckPte m:
                HandleRecheckPte(m);
                return true;
            case FollowPte m:
                HandleFollowPte(m);
                return true;
            case FollowDone m:
                HandleFollowDone(m);
                return true;
            case Invalidate m:
                HandleInvalidate(m);
                return true;
            case FindBusyPage m:
                HandleFindBusyPage(m);
                return true;
            case RefcountReport m:
                HandleRefcountReport(m);
                return true;
            case DeleteEntries m:
                HandleDeleteEntries(m);
                return true;
            case LockDirtyEntry m:
                HandleLockDirtyEntry(m);
                return true;
            case UnlockEntry m:
                HandleUnlockEntry(m);
                return true;
            case Continue m:
                HandleContinue(m);
                return true;
            default:
                return false;
        }
    }

    public static Props Props(SimEnvironment env, FileId file) =>
        ActorProps.Of(() => new MappingActor(env, file));

    private ProtocolPolicy Policy => Env.Policy;

    private MmId MmOf(TaskId task) => Env.Scenario.MmOf(task);

    private bool Mapped(MmId mm, int index) => _vmas.TryGetValue(mm, out var vma) && vma.Contains(index);

    // --- mmap, munmap, exit -----------------------------------------------------------------

    // mmap(MAP_SHARED) of the range; a mapping of the file the process already has is replaced
    // (as mmap over it with MAP_FIXED would), and its PTEs go.
    private void HandleMapFile(MapFile m)
    {
        var mm = MmOf(m.Task);
        var reply = ReplyTo;
        if (_vmas.ContainsKey(mm))
        {
            _vmas.Remove(mm);
            ZapThenInstall(mm, m, reply);
            return;
        }
        Install(mm, m, reply);
    }

    private void ZapThenInstall(MmId mm, MapFile m, ReplyAddress reply) => Zap(mm, 0, int.MaxValue, () => Install(mm, m, reply));

    private void Install(MmId mm, MapFile m, ReplyAddress reply)
    {
        _vmas[mm] = m.Range;
        Send(reply, new MapFileAck(_file, m.Seq));
    }

    // munmap: the mapping goes at once (a fault of another thread now finds none), its PTEs
    // one by one after it (zap_page_range under the page-table lock, which the GUP fast path
    // does not take).
    private void HandleUnmapFile(UnmapFile m)
    {
        var mm = MmOf(m.Task);
        var reply = ReplyTo;
        var mapped = _vmas.Remove(mm);
        Zap(mm, 0, int.MaxValue, () => Send(reply, new UnmapFileAck(_file, mapped, m.Seq)));
    }

    private void HandleThreadExit(ThreadExit m) => ThreadGone(m.Task);

    // The thread's node is gone: as its exit, and its faults, scans and entry locks go too.
    protected override void OnTaskGone(TaskId task)
    {
        foreach (var seq in _pendingFaults.Where(p => p.Value.Request.Task == task).Select(p => p.Key).ToList())
        {
            var fault = _pendingFaults[seq];
            _pendingFaults.Remove(seq);
            UnlockEntryOf(fault.Request.Index);
        }
        var queued = _scanQueue.Where(s => s.Request.Task != task).ToList();
        _scanQueue.Clear();
        foreach (var s in queued)
        {
            _scanQueue.Enqueue(s);
        }
        if (_scan?.Request.Task == task)
        {
            _jobs.Remove(_scan.Id);
            _scan = null;
            StartNextScan();
        }
        var holder = Writeback(task);
        foreach (var index in _entryLocks.Where(l => l.Value.Holder == holder).Select(l => l.Key).ToList())
        {
            UnlockEntryOf(index);
        }
        ReleasePtl(MmOf(task), task);
        ThreadGone(task);
    }

    private void ThreadGone(TaskId task)
    {
        var mm = MmOf(task);
        if (!_threadsAlive.TryGetValue(mm, out var alive) || alive == 0)
        {
            return;
        }
        _threadsAlive[mm] = --alive;
        if (alive == 0)
        {
            _vmas.Remove(mm);
            Zap(mm, 0, int.MaxValue, () => { });
        }
    }

    // --- zapping PTEs, one per step -----------------------------------------------------------

    /// <summary>Zaps the PTEs of one process (or all) in [first, last], one per step, then runs <paramref name="then"/>.</summary>
    private void Zap(MmId? only, int first, int last, Action then)
    {
        var job = new ZapJob(++_seq, only, first, last, then);
        // A zap with nothing to do is done at once: no step, so nothing else can run in between.
        if (NextPte(job) is null)
        {
            then();
            return;
        }
        _jobs[job.Id] = job;
        ZapNext(job);
    }

    /// <summary>The next PTE of the job after its cursor, in (process, index) order, or null.</summary>
    private (MmId Mm, int Index, PageId Page)? NextPte(ZapJob job)
    {
        for (var m = 0; m < _ptes.Count; m++)
        {
            var mm = _ptes.GetKeyAtIndex(m);
            var ptes = _ptes.GetValueAtIndex(m);
            if ((job.Only is { } only && mm != only) || mm.Value < job.Cursor.Mm)
            {
                continue;
            }
            var from = Math.Max(job.First, mm.Value == job.Cursor.Mm ? job.Cursor.Index + 1L : job.First);
            for (var i = 0; i < ptes.Count; i++)
            {
                var index = ptes.GetKeyAtIndex(i);
                if (index > job.Last)
                {
                    break;
                }
                if (index >= from)
                {
                    return (mm, index, ptes.GetValueAtIndex(i));
                }
            }
        }
        return null;
    }

    private void ZapNext(ZapJob job)
    {
        if (NextPte(job) is not { } pte)
        {
            _jobs.Remove(job.Id);
            job.Then();
            return;
        }
        if (PtlHeld(pte.Mm))
        {
            // The slow path of a thread of this process holds its page-table lock.
            _waitingForPtl.Add(job);
            return;
        }
        job.Cursor = (pte.Mm.Value, pte.Index);
        RemovePte(pte.Mm, pte.Index);
        Trace.Emit(new PteZapped(_file, pte.Index, pte.Mm, pte.Page));
        if (Policy.ZeroBasedRefcount)
        {
            Send(Endpoint.Of(pte.Page), new UnmapPage(pte.Page));
        }
        if (NextPte(job) is null)
        {
            _jobs.Remove(job.Id);
            job.Then();
            return;
        }
        StepOn(job);
    }

    private void StepOn(Job job) => Step(new Continue(job.Id, ++job.Steps));

    private void HandleContinue(Continue m)
    {
        if (!_jobs.TryGetValue(m.Job, out var job) || job.Steps != m.Step)
        {
            return;
        }
        switch (job)
        {
            case ZapJob zap:
                ZapNext(zap);
                break;
            case ScanJob scan:
                ScanNext(scan);
                break;
            case DeleteJob delete:
                DeleteNext(delete);
                break;
        }
    }

    private void RemovePte(MmId mm, int index)
    {
        var ptes = _ptes[mm];
        ptes.Remove(index);
        if (ptes.Count == 0)
        {
            _ptes.Remove(mm);
            _spare.Push(ptes);
        }
    }

    private void InstallPte(MmId mm, int index, PageId page)
    {
        if (!_ptes.TryGetValue(mm, out var ptes))
        {
            ptes = _spare.TryPop(out var spare) ? spare : new SortedList<int, PageId>();
            _ptes[mm] = ptes;
        }
        ptes[index] = page;
        Trace.Emit(new PteInstalled(_file, index, mm, page));
        if (Policy.ZeroBasedRefcount)
        {
            Send(Endpoint.Of(page), new MapPage(page, _file, index));
        }
    }

    private PageId? PteOf(MmId mm, int index) =>
        _ptes.TryGetValue(mm, out var ptes) && ptes.TryGetValue(index, out var page) ? page : null;

    // --- entry locks ----------------------------------------------------------------------------

    private static long Writeback(TaskId task) => task.Value;

    private static long FaultBy(TaskId task) => -1L - task.Value;

    private bool EntryLocked(int index) => _entryLocks.ContainsKey(index);

    /// <summary>Runs <paramref name="then"/> once the entry at index is unlocked (at once if it is).</summary>
    private void WhenUnlocked(int index, Action then)
    {
        if (_entryLocks.TryGetValue(index, out var held))
        {
            held.Waiters.Enqueue(then);
            return;
        }
        then();
    }

    private void LockEntry(int index, long holder)
    {
        var held = _spareLocks.TryPop(out var spare) ? spare : new EntryLock();
        held.Holder = holder;
        _entryLocks[index] = held;
    }

    // dax_unlock_entry / put_unlocked_entry: wake the next waiter (WAKE_NEXT), who may lock it again.
    private void UnlockEntryOf(int index)
    {
        if (!_entryLocks.Remove(index, out var held))
        {
            return;
        }
        while (held.Waiters.Count > 0 && !EntryLocked(index))
        {
            held.Waiters.Dequeue()();
        }
        if (held.Waiters.Count > 0 && _entryLocks.TryGetValue(index, out var again))
        {
            foreach (var w in held.Waiters)
            {
                again.Waiters.Enqueue(w);
            }
        }
        held.Waiters.Clear();
        _spareLocks.Push(held);
    }

    // --- faults ---------------------------------------------------------------------------------

    // dax_iomap_fault: lock the entry (grab_mapping_entry), find or allocate the block
    // (iomap_begin through the inode), insert the entry and the PTE, unlock the entry.
    private void HandleFault(Fault m)
    {
        var mm = MmOf(m.Task);
        var reply = ReplyTo;
        if (!Mapped(mm, m.Index))
        {
            Reply(new FaultFailed(_file, m.Index, Errno.EFAULT, m.Seq));
            return;
        }
        // The closure is made only when the entry is locked (a lambda in this method would
        // allocate its captures on every fault).
        if (_entryLocks.TryGetValue(m.Index, out var held))
        {
            FaultWhenUnlocked(held, m, mm, reply);
            return;
        }
        FaultLocked(m, mm, reply);
    }

    private void FaultWhenUnlocked(EntryLock held, Fault m, MmId mm, ReplyAddress reply) =>
        held.Waiters.Enqueue(() => FaultLocked(m, mm, reply));

    private void FaultLocked(Fault m, MmId mm, ReplyAddress reply)
    {
        if (!Mapped(mm, m.Index))
        {
            Send(reply, new FaultFailed(_file, m.Index, Errno.EFAULT, m.Seq));
            return;
        }
        // Another thread of the process faulted it in meanwhile: nothing to do.
        if (PteOf(mm, m.Index) is { } present)
        {
            Send(reply, new FaultAck(_file, m.Index, present, m.Seq));
            return;
        }
        if (_entries.TryGetValue(m.Index, out var entry))
        {
            entry.Dirty = true;
            InstallPte(mm, m.Index, entry.Page);
            Send(reply, new FaultAck(_file, m.Index, entry.Page, m.Seq));
            return;
        }
        var seq = ++_seq;
        LockEntry(m.Index, FaultBy(m.Task));
        _pendingFaults[seq] = new PendingFault(m, reply, mm);
        Send(Endpoint.InodeOf(_file), new MapBlock(_file, m.Index, seq));
    }

    private void HandleBlockMapped(BlockMapped m)
    {
        if (!_pendingFaults.Remove(m.Seq, out var pending))
        {
            return;
        }
        var fault = pending.Request;
        if (!_entries.TryGetValue(fault.Index, out var entry))
        {
            entry = new EntryState(m.Block);
            _entries[fault.Index] = entry;
            Trace.Emit(new EntryInserted(_file, fault.Index, m.Block));
        }
        entry.Dirty = true;
        // The mapping may have gone (munmap, a kill) while the block was looked up.
        if (!Mapped(pending.Mm, fault.Index))
        {
            UnlockEntryOf(fault.Index);
            Send(pending.Task, new FaultFailed(_file, fault.Index, Errno.EFAULT, fault.Seq));
            return;
        }
        if (PteOf(pending.Mm, fault.Index) is null)
        {
            InstallPte(pending.Mm, fault.Index, entry.Page);
        }
        UnlockEntryOf(fault.Index);
        Send(pending.Task, new FaultAck(_file, fault.Index, entry.Page, fault.Seq));
    }

    private void HandleMapBlockFailed(MapBlockFailed m)
    {
        if (_pendingFaults.Remove(m.Seq, out var pending))
        {
            UnlockEntryOf(pending.Request.Index);
            Send(pending.Task, new FaultFailed(_file, pending.Request.Index, m.Error, pending.Request.Seq));
        }
    }

    // --- the GUP fast path's walk and re-check; the slow path's follow ---------------------------

    private void HandleReadPte(ReadPte m)
    {
        var mm = MmOf(m.Task);
        var page = PteOf(mm, m.Index);
        Trace.Emit(new PteRead(_file, m.Index, m.Task, page));
        Reply(new PteValue(_file, m.Index, page, Mapped(mm, m.Index), m.Seq));
    }

    private void HandleRecheckPte(RecheckPte m)
    {
        var present = PteOf(MmOf(m.Task), m.Index) == m.Page;
        Trace.Emit(new PteRechecked(_file, m.Index, m.Task, present));
        Reply(new PteStatus(_file, m.Index, present, m.Seq));
    }

    // follow_page_mask: under the page-table lock, the PTE; the lock stays held until the
    // reference is taken (FollowDone), so no zap of this process comes in between.
    private void HandleFollowPte(FollowPte m)
    {
        var mm = MmOf(m.Task);
        var page = PteOf(mm, m.Index);
        if (page is not null)
        {
            _ptlHeld.Add((mm, m.Task));
        }
        Reply(new PteValue(_file, m.Index, page, Mapped(mm, m.Index), m.Seq));
    }

    private void HandleFollowDone(FollowDone m) => ReleasePtl(MmOf(m.Task), m.Task);

    private bool PtlHeld(MmId mm)
    {
        foreach (var held in _ptlHeld)
        {
            if (held.Mm == mm)
            {
                return true;
            }
        }
        return false;
    }

    private void ReleasePtl(MmId mm, TaskId task)
    {
        if (!_ptlHeld.Remove((mm, task)) || PtlHeld(mm))
        {
            return;
        }
        var waiting = _waitingForPtl.ToList();
        _waitingForPtl.Clear();
        foreach (var job in waiting)
        {
            ZapNext(job);
        }
    }

    // --- unmapping and deleting entries for a layout change --------------------------------------

    // truncate_pagecache / truncate_inode_pages_range: unmap_mapping_range over [first, last]
    // for every process and, when DeleteEntries, delete the DAX entries too.
    private void HandleInvalidate(Invalidate m)
    {
        var reply = ReplyTo;
        Zap(null, m.First, m.Last, () =>
        {
            if (!m.DeleteEntries)
            {
                Send(reply, new InvalidateAck(_file, m.Seq));
                return;
            }
            Delete(null, m.First, m.Last, maySkip: false, () => Send(reply, new InvalidateAck(_file, m.Seq)),
                expectEmpty: Policy.Loop == BreakLoop.DaxBreakLayout);
        });
    }

    // dax_delete_mapping_range, inside the 6.15 break.
    private void HandleDeleteEntries(DeleteEntries m)
    {
        var reply = ReplyTo;
        Delete(m.Task, m.First, m.Last, maySkip: true, () => Send(reply, new EntriesDeleted(_file, m.Seq)));
    }

    /// <summary>Deletes the entries of [first, last] one per step, waiting for locked ones; then <paramref name="then"/>.</summary>
    private void Delete(TaskId? task, int first, int last, bool maySkip, Action then, bool expectEmpty = false)
    {
        var job = new DeleteJob(++_seq, task ?? new TaskId(-1), first, last, maySkip, then) { ExpectEmpty = expectEmpty };
        _jobs[job.Id] = job;
        DeleteNext(job);
    }

    private void DeleteNext(DeleteJob job)
    {
        var next = NextEntry(job.Next, job.Last);
        if (next is not { } index)
        {
            _jobs.Remove(job.Id);
            job.Then();
            return;
        }
        if (EntryLocked(index))
        {
            // wait_entry_unlocked_exclusive; the xas_pause slip then reloads the next index,
            // so the waited-for entry stays.
            var skip = job.MaySkip && Policy.LockedEntries == LockedEntryScan.SkipToNextIndex;
            Trace.Emit(new EntryLockWaited(_file, index, job.Task, skip));
            DeleteWhenUnlocked(job, index, skip);
            return;
        }
        var entry = _entries[index];
        _entries.Remove(index);
        if (job.ExpectEmpty)
        {
            Trace.Emit(new EntryLeftByBreak(_file, index, entry.Page));
        }
        Trace.Emit(new EntryDeleted(_file, index, entry.Page));
        job.Next = index + 1;
        if (NextEntry(job.Next, job.Last) is null)
        {
            _jobs.Remove(job.Id);
            job.Then();
            return;
        }
        StepOn(job);
    }

    // Apart from DeleteNext: a lambda there would allocate its captures on every step.
    private void DeleteWhenUnlocked(DeleteJob job, int index, bool skip) =>
        WhenUnlocked(index, () =>
        {
            job.Next = skip ? index + 1 : index;
            StepOn(job);
        });

    /// <summary>The first entry's index in [from, last], or null.</summary>
    private int? NextEntry(int from, int last)
    {
        var keys = _entries.Keys;
        int lo = 0, hi = keys.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (keys[mid] < from)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        return lo < keys.Count && keys[lo] <= last ? keys[lo] : null;
    }

    // --- writeback (fsync, msync) ----------------------------------------------------------------

    // dax_writeback_one: lock the next dirty entry, waiting while another holds it.
    private void HandleLockDirtyEntry(LockDirtyEntry m)
    {
        var reply = ReplyTo;
        LockNextDirty(m, m.From, reply);
    }

    private void LockNextDirty(LockDirtyEntry m, int from, ReplyAddress reply)
    {
        int? next = null;
        for (var i = 0; i < _entries.Count; i++)
        {
            if (_entries.GetKeyAtIndex(i) >= from && _entries.GetValueAtIndex(i).Dirty)
            {
                next = _entries.GetKeyAtIndex(i);
                break;
            }
        }
        if (next is not { } found)
        {
            Send(reply, new NoDirtyEntry(_file, m.Seq));
            return;
        }
        if (EntryLocked(found))
        {
            Trace.Emit(new EntryLockWaited(_file, found, m.Task, Skipped: false));
            LockNextDirtyWhenUnlocked(m, found, reply);
            return;
        }
        LockEntry(found, Writeback(m.Task));
        Trace.Emit(new EntryWriteback(_file, found, m.Task, Locked: true));
        Send(reply, new EntryLocked(_file, found, m.Seq));
    }

    private void LockNextDirtyWhenUnlocked(LockDirtyEntry m, int found, ReplyAddress reply) =>
        WhenUnlocked(found, () => LockNextDirty(m, found, reply));

    private void HandleUnlockEntry(UnlockEntry m)
    {
        if (!_entryLocks.TryGetValue(m.Index, out var held) || held.Holder != Writeback(m.Task))
        {
            return;
        }
        if (_entries.TryGetValue(m.Index, out var entry))
        {
            entry.Dirty = false;
        }
        Trace.Emit(new EntryWriteback(_file, m.Index, m.Task, Locked: false));
        UnlockEntryOf(m.Index);
    }

    // --- dax_layout_busy_page_range ----------------------------------------------------------------

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
        var (request, task) = next;
        // Up to 6.14 (and in 4.18 as merged): `if (!dax_mapping(mapping) || !mapping_mapped(mapping))
        // return NULL;` - no process maps the file, so nothing is scanned, pinned pages included.
        if (Policy.BusyScanSkipsUnmappedFile && _vmas.Count == 0)
        {
            Trace.Emit(new BusyScanDone(_file, request.Task, null, 0, Unmapped: false));
            Send(task, new NoBusyPage(_file, request.Seq));
            StartNextScan();
            return;
        }
        // Unmap every PTE of the range first, so that new get_user_pages must fault and block
        // on MMAPLOCK, which the caller holds exclusive; then look for a busy page.
        var unmap = Policy.UnmapBeforeBusyScan;
        var scan = new ScanJob(++_seq, request, task, unmap);
        _scan = scan;
        _jobs[scan.Id] = scan;
        if (unmap)
        {
            ZapThenScan(scan);
            return;
        }
        ScanNext(scan);
    }

    // Apart from StartNextScan: a lambda there would allocate its captures on every call.
    private void ZapThenScan(ScanJob scan) =>
        Zap(null, scan.Request.First, scan.Request.Last, () =>
        {
            if (_scan == scan)
            {
                ScanNext(scan);
            }
        });

    // xas_for_each over the range: one entry per step, each page's refcount read at its own moment.
    private void ScanNext(ScanJob scan)
    {
        var next = NextEntry(scan.Next, scan.Request.Last);
        if (next is not { } index)
        {
            NoneBusy(scan);
            return;
        }
        if (EntryLocked(index))
        {
            var skip = Policy.LockedEntries != LockedEntryScan.TestIt;
            Trace.Emit(new EntryLockWaited(_file, index, scan.Request.Task, skip));
            ScanWhenUnlocked(scan, index, skip);
            return;
        }
        var page = _entries[index].Page;
        scan.Querying = (index, page);
        scan.QuerySeq = ++_seq;
        Send(Endpoint.Of(page), new QueryRefcount(page, scan.QuerySeq));
    }

    // Apart from ScanNext: a lambda there would allocate its captures on every step.
    private void ScanWhenUnlocked(ScanJob scan, int index, bool skip) =>
        WhenUnlocked(index, () =>
        {
            if (_scan != scan)
            {
                return;
            }
            // Either slip leaves the waited-for entry untested: get_unlocked_entry() returns
            // the next present entry, and xas_pause() moves the reload to the next index.
            scan.Next = skip ? index + 1 : index;
            StepOn(scan);
        });

    private void HandleRefcountReport(RefcountReport m)
    {
        if (_scan is not { Querying: { } querying } scan || m.Seq != scan.QuerySeq)
        {
            return;
        }
        scan.Querying = null;
        if (Policy.IsBusy(m.Refcount, m.Mapcount))
        {
            Trace.Emit(new BusyScanDone(_file, scan.Request.Task, querying.Page, m.Refcount, scan.Unmapped));
            Send(scan.Task, new BusyPageFound(_file, querying.Page, querying.Index, m.Refcount, scan.Request.Seq));
            FinishScan(scan);
            return;
        }
        scan.Next = querying.Index + 1;
        if (NextEntry(scan.Next, scan.Request.Last) is null)
        {
            NoneBusy(scan);
            return;
        }
        StepOn(scan);
    }

    private void NoneBusy(ScanJob scan)
    {
        Trace.Emit(new BusyScanDone(_file, scan.Request.Task, null, 0, scan.Unmapped));
        Send(scan.Task, new NoBusyPage(_file, scan.Request.Seq));
        FinishScan(scan);
    }

    private void FinishScan(ScanJob scan)
    {
        _jobs.Remove(scan.Id);
        _scan = null;
        StartNextScan();
    }
}
