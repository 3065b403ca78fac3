using Akka.Actor;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;
using Lock = DaxSim.Protocol.Messages.Lock;
using DaxSim.Transport;

namespace DaxSim.Actors.Inode;

// InodeActor models the XFS inode of one file: its size, its extent map (page index →
// device block), its two reader/writer locks (IOLOCK, MMAPLOCK; FIFO) and its pNFS
// layout leases.
//
// Takes:  Lock, Unlock (tasks); MapBlock (its mapping, for faults); ChangeExtents (a task
//         that holds both locks exclusive and has broken layouts); AcquireLease,
//         ReturnLease, BreakLease (tasks).
// Sends:  LockGranted, ExtentsChanged, lease replies and RecallLease to tasks;
//         BlockMapped / MapBlockFailed to the mapping; Invalidate to the mapping and
//         Allocate / Free to the device while it changes the layout.
//
// A layout change is a short conversation: unmap and delete the DAX entries first
// (truncate_pagecache_range), then free the blocks, then update the map and the size, as
// xfs_setattr_size and the xfs_*_file_space functions do. One change or block lookup
// runs at a time; the others wait in arrival order. Locks and leases are answered
// throughout.
public sealed class InodeActor : SimActor
{
    // Not private: a journaled inode's timer messages are persisted and read back.
    internal sealed record LeaseBreakTimedOut(int Generation);

    private readonly FileId _file;
    private readonly FifoRwLock _ioLock = new();
    private readonly FifoRwLock _mmapLock = new();
    private readonly SortedDictionary<int, PageId> _extents;
    private int _size;

    // The one layout conversation in progress: the reply it waits for and what to do then
    // (with the reply, or without it).
    private long _seq;
    private long _awaitSeq = -1;
    private Action<IReply>? _continuation;
    private Action? _then;

    // FreeEach's blocks, the next to free and what follows; one list, reused (one conversation at a time).
    private readonly List<PageId> _freeBlocks = [];
    private int _freeNext;
    private Action? _freeThen;
    private readonly Action _freeStep;
    private readonly Queue<(object Message, ReplyAddress Sender)> _deferred = new();

    private readonly List<TaskId> _leaseHolders = [];
    private readonly List<(TaskId Task, long Seq)> _leaseBreakWaiters = [];
    private bool _breakingLeases;
    private int _leaseBreakGeneration;

    public InodeActor(SimEnvironment env, FileId file, IReadOnlyDictionary<int, PageId> extents)
        : base(env, Endpoint.InodeOf(file))
    {
        _file = file;
        _size = env.Scenario.File(file).Pages;
        _extents = new SortedDictionary<int, PageId>(extents.ToDictionary(e => e.Key, e => e.Value));
        _freeStep = FreeStep;

    }

    protected override bool Handle(object message)
    {
        switch (message)
        {
            case Lock m:
                HandleLock(m);
                return true;
            case Unlock m:
                HandleUnlock(m);
                return true;
            case MapBlock m:
                if (Busy)
                {
                    Defer(m);
                }
                else
                {
                    HandleMapBlock(m);
                }
                return true;
            case ChangeExtents m:
                if (Busy)
                {
                    Defer(m);
                }
                else
                {
                    HandleChangeExtents(m);
                }
                return true;
            case AcquireLease m:
                HandleAcquireLease(m);
                return true;
            case ReturnLease m:
                HandleReturnLease(m);
                return true;
            case BreakLease m:
                HandleBreakLease(m);
                return true;
            case LeaseBreakTimedOut m:
                HandleLeaseBreakTimedOut(m);
                return true;
            case IReply m:
                HandleReply(m);
                return true;
            default:
                return false;
        }
    }

    public static Props Props(SimEnvironment env, FileId file, IReadOnlyDictionary<int, PageId> extents) =>
        ActorProps.Of(() => new InodeActor(env, file, extents));

    // --- locks ------------------------------------------------------------------------

    private FifoRwLock LockOf(LockKind kind) => kind == LockKind.IoLock ? _ioLock : _mmapLock;

    private void HandleLock(Lock m)
    {
        Trace.Emit(new LockRequested(_file, m.Kind, m.Mode, m.Task));
        Grant(m.Kind, LockOf(m.Kind).Acquire(m.Task, m.Mode, m.Seq));
    }

    private void HandleUnlock(Unlock m) => Release(m.Kind, m.Task);

    /// <summary>Releases the task's hold on the lock or withdraws its queued request; false if it had neither.</summary>
    private bool Release(LockKind kind, TaskId task)
    {
        var (granted, released, withdrawn) = LockOf(kind).Release(task);
        if (released is { } mode)
        {
            Trace.Emit(new LockReleased(_file, kind, mode, task));
        }
        else if (withdrawn)
        {
            Trace.Emit(new LockWithdrawn(_file, kind, task));
        }
        Grant(kind, granted);
        return released is not null || withdrawn;
    }

    // The task's node is gone: its locks, lock requests and leases go, as its exit would
    // have given them back; a layout change it asked for and that has not started is dropped.
    protected override void OnTaskGone(TaskId task)
    {
        foreach (var kind in new[] { LockKind.IoLock, LockKind.MmapLock })
        {
            while (Release(kind, task))
            {
            }
        }
        var deferred = _deferred.Where(d => d.Message is not ChangeExtents c || c.Task != task).ToList();
        _deferred.Clear();
        foreach (var d in deferred)
        {
            _deferred.Enqueue(d);
        }
        _leaseBreakWaiters.RemoveAll(w => w.Task == task);
        HandleReturnLease(new ReturnLease(_file, task));
    }

    private void Grant(LockKind kind, IReadOnlyList<FifoRwLock.Request> granted)
    {
        for (var i = 0; i < granted.Count; i++)
        {
            var r = granted[i];
            Trace.Emit(new LockAcquired(_file, kind, r.Mode, r.Task));
            Send(Endpoint.Of(r.Task), new LockGranted(_file, kind, r.Mode, r.Seq));
        }
    }

    // --- one layout conversation at a time ----------------------------------------------

    private bool Busy => _continuation is not null || _then is not null;

    /// <summary>A block lookup or layout change while another conversation runs: it waits its turn.</summary>
    private void Defer(object message) => _deferred.Enqueue((message, ReplyTo));

    // The sequence number of the request about to be sent, whose reply goes to `then`; the
    // caller sends the request with it (no closure that builds the request).
    private long Await(Action<IReply> then)
    {
        _awaitSeq = ++_seq;
        _continuation = then;
        return _awaitSeq;
    }

    private long Await(Action then)
    {
        _awaitSeq = ++_seq;
        _then = then;
        return _awaitSeq;
    }

    private void HandleReply(IReply reply)
    {
        if (reply.Seq != _awaitSeq || !Busy)
        {
            return;
        }
        var continuation = _continuation;
        var then = _then;
        _continuation = null;
        _then = null;
        _awaitSeq = -1;
        if (continuation is not null)
        {
            continuation(reply);
        }
        else
        {
            then!();
        }
        while (!Busy && _deferred.Count > 0)
        {
            var (message, sender) = _deferred.Dequeue();
            switch (message)
            {
                case MapBlock mb:
                    HandleMapBlock(mb, sender);
                    break;
                case ChangeExtents ce:
                    HandleChangeExtents(ce, sender);
                    break;
            }
        }
    }

    // --- faults -------------------------------------------------------------------------

    private void HandleMapBlock(MapBlock m) => HandleMapBlock(m, ReplyTo);

    private void HandleMapBlock(MapBlock m, ReplyAddress mapping)
    {
        if (m.Index >= _size)
        {
            Send(mapping, new MapBlockFailed(_file, m.Index, Errno.SIGBUS, m.Seq));
            return;
        }
        if (_extents.TryGetValue(m.Index, out var block))
        {
            Send(mapping, new BlockMapped(_file, m.Index, block, m.Seq));
            return;
        }
        // A write fault on a hole allocates the block (page_mkwrite → iomap_begin).
        AllocateBlock(m, mapping);
    }

    // Apart from HandleMapBlock: a lambda there would allocate its captures on every lookup.
    private void AllocateBlock(MapBlock m, ReplyAddress mapping) =>
        AllocateInto([m.Index], error =>
        {
            Send(mapping, error == Errno.Ok
                ? new BlockMapped(_file, m.Index, _extents[m.Index], m.Seq)
                : new MapBlockFailed(_file, m.Index, error, m.Seq));
        });

    // --- layout changes -------------------------------------------------------------------

    private void HandleChangeExtents(ChangeExtents m) => HandleChangeExtents(m, ReplyTo);

    private void HandleChangeExtents(ChangeExtents m, ReplyAddress task)
    {
        void Done(Errno result, int first, int last)
        {
            if (result == Errno.Ok)
            {
                Trace.Emit(new LayoutChanged(_file, m.Op, m.Task, first, last, _size));
            }
            Send(task, new ExtentsChanged(_file, result, _size, m.Seq));
        }

        var r = m.Range;
        switch (m.Op)
        {
            case OpKind.Truncate:
                Truncate(m.NewSize, () => Done(Errno.Ok, m.NewSize, int.MaxValue));
                break;
            case OpKind.PunchHole:
                RemoveRange(r.First, r.Last, () => Done(Errno.Ok, r.First, r.Last));
                break;
            case OpKind.ZeroRange:
                RemoveRange(r.First, r.Last, () => AllocateInto(Holes(r), e =>
                {
                    GrowTo(r.Last + 1, e);
                    Done(e, r.First, r.Last);
                }));
                break;
            case OpKind.CollapseRange:
                // xfs_collapse_file_space refuses a range that reaches EOF.
                if (r.Last + 1 >= _size)
                {
                    Done(Errno.EINVAL, 1, 0);
                    break;
                }
                Unmap(r.First, int.MaxValue, () => FreeRange(r.First, r.Last, () =>
                {
                    Shift(r.Last + 1, -r.Count);
                    SetSize(_size - r.Count);
                    Done(Errno.Ok, r.First, int.MaxValue);
                }));
                break;
            case OpKind.InsertRange:
                if (r.First >= _size)
                {
                    Done(Errno.EINVAL, 1, 0);
                    break;
                }
                Unmap(r.First, int.MaxValue, () =>
                {
                    Shift(r.First, r.Count);
                    SetSize(_size + r.Count);
                    Done(Errno.Ok, r.First, int.MaxValue);
                });
                break;
            case OpKind.Fallocate:
                AllocateInto(Holes(r), e =>
                {
                    GrowTo(r.Last + 1, e);
                    Done(e, 1, 0);
                });
                break;
            default:
                throw new InvalidOperationException($"{m.Op} does not change extents");
        }
    }

    // xfs_setattr_size: the new size first, then unmap and delete the DAX entries past it
    // (truncate_setsize → truncate_pagecache), then free the blocks (xfs_itruncate_extents).
    private void Truncate(int newSize, Action then)
    {
        var shrinking = newSize < _size;
        SetSize(newSize);
        if (!shrinking)
        {
            then();
            return;
        }
        Unmap(newSize, int.MaxValue, () => FreeRange(newSize, int.MaxValue, then));
    }

    // xfs_free_file_space: unmap and delete the range's entries, then free its blocks.
    private void RemoveRange(int first, int last, Action then) =>
        Unmap(first, last, () => FreeRange(first, last, then));

    private void Unmap(int first, int last, Action then) =>
        Send(Endpoint.MappingOf(_file), new Invalidate(_file, first, last, DeleteEntries: true, Await(then)));

    // xfs_itruncate_extents / xfs_bunmapi: the range's extents go from the map, and their
    // blocks go back to the device one at a time (a transaction roll between extents), so
    // another file may take a freed block before the next is freed.
    private void FreeRange(int first, int last, Action then)
    {
        _freeBlocks.Clear();
        foreach (var (index, _) in _extents)
        {
            if (index > last)
            {
                break;
            }
            if (index >= first)
            {
                _freeIndices.Add(index);
            }
        }
        foreach (var index in _freeIndices)
        {
            var block = _extents[index];
            _extents.Remove(index);
            Trace.Emit(new ExtentRemoved(_file, index, block));
            _freeBlocks.Add(block);
        }
        _freeIndices.Clear();
        _freeNext = 0;
        _freeThen = then;
        FreeStep();
    }

    private readonly List<int> _freeIndices = [];

    // One block of _freeBlocks per round trip to the device, then _freeThen.
    private void FreeStep()
    {
        if (_freeNext == _freeBlocks.Count)
        {
            var then = _freeThen!;
            _freeThen = null;
            then();
            return;
        }
        var block = _freeBlocks[_freeNext++];
        Send(Endpoint.Device, new Free(_file, [block], Await(_freeStep)));
    }

    private void AllocateInto(List<int> indices, Action<Errno> then)
    {
        if (indices.Count == 0)
        {
            then(Errno.Ok);
            return;
        }
        RequestBlocks(indices, then);
    }

    // Apart from AllocateInto: a lambda there would allocate its captures for an empty list too.
    private void RequestBlocks(List<int> indices, Action<Errno> then) =>
        Send(Endpoint.Device, new Allocate(_file, indices.Count, Await(reply =>
        {
            if (reply is not Allocated allocated)
            {
                then(Errno.ENOSPC);
                return;
            }
            for (var i = 0; i < indices.Count; i++)
            {
                _extents[indices[i]] = allocated.Blocks[i];
                Trace.Emit(new ExtentMapped(_file, indices[i], allocated.Blocks[i]));
            }
            then(Errno.Ok);
        })));

    private List<int> Holes(PageRange range)
    {
        var holes = new List<int>();
        for (var i = range.First; i <= range.Last; i++)
        {
            if (!_extents.ContainsKey(i))
            {
                holes.Add(i);
            }
        }
        return holes;
    }

    // Moves every extent at or after `from` by `delta` pages (collapse: down, insert: up).
    private void Shift(int from, int delta)
    {
        var moving = _extents.Where(e => e.Key >= from).ToList();
        foreach (var (index, _) in moving)
        {
            _extents.Remove(index);
        }
        foreach (var (index, block) in moving)
        {
            _extents[index + delta] = block;
            Trace.Emit(new ExtentMoved(_file, index, index + delta, block));
        }
    }

    private void GrowTo(int size, Errno allocation)
    {
        if (allocation == Errno.Ok && size > _size)
        {
            SetSize(size);
        }
    }

    private void SetSize(int size)
    {
        _size = size;
        Trace.Emit(new SizeChanged(_file, size));
    }

    // --- pNFS layout leases ------------------------------------------------------------------

    private void HandleAcquireLease(AcquireLease m)
    {
        // Only XFS exports pNFS block layouts (its export_operations map_blocks): ext4 and fuse
        // grant no layout lease.
        if (!Env.Policy.BreaksLeases)
        {
            Reply(new LeaseDenied(_file, Errno.EOPNOTSUPP, m.Seq));
            return;
        }
        if (_breakingLeases)
        {
            Reply(new LeaseDenied(_file, Errno.EAGAIN, m.Seq));
            return;
        }
        if (!_leaseHolders.Contains(m.Task))
        {
            _leaseHolders.Add(m.Task);
        }
        Trace.Emit(new LeaseTaken(_file, m.Task));
        Reply(new LeaseGranted(_file, m.Seq));
    }

    // break_layout(inode, blocking): recall every holder; a blocking break waits until
    // they have all returned their layouts or the lease-break time has run out.
    private void HandleBreakLease(BreakLease m)
    {
        if (_leaseHolders.Count == 0)
        {
            Reply(new LeaseBreakResult(_file, Errno.Ok, m.Seq));
            return;
        }
        StartRecall();
        if (!m.Blocking)
        {
            Reply(new LeaseBreakResult(_file, Errno.EWOULDBLOCK, m.Seq));
            return;
        }
        _leaseBreakWaiters.Add((m.Task, m.Seq));
        Trace.Emit(new LeaseBreakWaiting(_file, m.Task));
    }

    private void StartRecall()
    {
        if (_breakingLeases)
        {
            return;
        }
        _breakingLeases = true;
        foreach (var holder in _leaseHolders)
        {
            Trace.Emit(new LeaseRecalled(_file, holder));
            Send(Endpoint.Of(holder), new RecallLease(_file, holder));
        }
        StartTimer("lease-break", new LeaseBreakTimedOut(++_leaseBreakGeneration), Env.Limits.LeaseBreakTime);
    }

    private void HandleReturnLease(ReturnLease m)
    {
        if (!_leaseHolders.Remove(m.Task))
        {
            return;
        }
        Trace.Emit(new LeaseReleased(_file, m.Task, Revoked: false));
        if (_leaseHolders.Count == 0)
        {
            EndLeaseBreak();
        }
    }

    private void HandleLeaseBreakTimedOut(LeaseBreakTimedOut m)
    {
        if (m.Generation != _leaseBreakGeneration || !_breakingLeases)
        {
            return;
        }
        foreach (var holder in _leaseHolders)
        {
            Trace.Emit(new LeaseReleased(_file, holder, Revoked: true));
        }
        _leaseHolders.Clear();
        EndLeaseBreak();
    }

    private void EndLeaseBreak()
    {
        _breakingLeases = false;
        CancelTimer("lease-break");
        foreach (var (task, seq) in _leaseBreakWaiters)
        {
            Send(Endpoint.Of(task), new LeaseBreakResult(_file, Errno.Ok, seq));
        }
        _leaseBreakWaiters.Clear();
    }
}
