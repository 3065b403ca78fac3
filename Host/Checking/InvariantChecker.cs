using DaxSim.Actors;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;

namespace DaxSim.Host.Checking;

/// <summary>
/// The safety and liveness monitors of docs/design.md ("Invariants and when they are
/// judged"). It keeps its own model of the world (refcounts and mapcounts, pins, block
/// owners, PTEs and DAX entries, lock holders and queues, sleepers, leases, operations in
/// flight), built from trace events alone, and checks the invariants on every event. It
/// uses the true semantics of the variant's era (idle at refcount 1 up to 6.14, at 0 with
/// PTE references from 6.15), whatever the variant's wait tests.
///
/// Safety: S1 use-after-free, S2 refcount, S3 locks, S4 mappings: checked as each event
/// arrives. S1 says what it damaged: a block freed under a pin whose DMA is still to come
/// is held back until that DMA lands (data corrupted) or the pin goes without it (only the
/// contract broken). Liveness: L1 deadlock (a wait-for cycle; or, at quiescence, work left
/// that nothing can advance), L2 lost wakeup (at quiescence, a sleeper on an idle page), L3
/// bounded completion (deadlines the runtime polls as time advances).
///
/// Wait-for cycles are looked for only when the runtime says no message is in flight
/// (CheckDeadlocks): a task releases a lock by sending Unlock, so between the send and
/// the inode taking it the model would show an edge that is already going away.
/// </summary>
public sealed partial class InvariantChecker
{
    // The era's idle refcount (1 up to 6.14, 0 from 6.15), and whether PTEs hold references.
    private readonly int _idle;
    private readonly bool _pteReferences;

    private sealed class OpInFlight(TaskId task, OpKind op, FileId? file, int step, int iteration, long start, long own,
        long arrival)
    {
        public TaskId Task { get; } = task;

        public OpKind Op { get; } = op;
        public FileId? File { get; } = file;
        public int Step { get; } = step;
        public int Iteration { get; } = iteration;
        public long Start { get; } = start;
        public long Own { get; } = own;

        /// <summary>The number of the event that started it: its place in every line it joins.</summary>
        public long Arrival { get; } = arrival;

        /// <summary>The lines in which someone of another task is still ahead of it (few: its file's pins, its locks).</summary>
        public List<Line>? WaitingIn { get; set; }

        public bool Blocked => WaitingIn is { Count: > 0 };

        public long? UnblockedAt { get; set; }

        /// <summary>Completed: stale wherever it is still indexed.</summary>
        public bool Done { get; set; }
    }

    private sealed class LockState
    {
        public readonly List<(TaskId Task, LockMode Mode)> Holders = [];
        public readonly List<(TaskId Task, LockMode Mode)> Queue = [];
    }

    private readonly Scenario _scenario;
    private readonly Func<long> _now;
    private readonly bool _recordOps;

    private readonly int[] _refcount;
    // Confirmed pins per page (GUP references past their re-check): what S1 counts.
    private readonly int[] _pinned;
    // 6.15+: the processes whose PTEs map each page (a page mapped there cannot go idle).
    private readonly Dictionary<int, List<MmId>> _mappedBy = new();
    // Per pin (task, page): how many of its pins have had their DMA (a DIO pins a page once
    // and its DMA reaches it once).
    private readonly Dictionary<long, int> _dmaDone = new();
    // S1 held back: a block freed while a pin's DMA was still to come.
    private Violation? _pendingS1;
    // S4 held back until the layout change ends: a DAX entry the 6.15 break should have deleted.
    private (string Description, string Actor, long Time, TraceEvent Event)? _leftover;
    private PageId _pendingBlock;
    // Per task: the lease holders of the file when its layout change last took IOLOCK
    // exclusive, as long as they have held it since; those leases must be gone before the
    // change frees a block (a lease taken after that is not one the change had to break).
    private readonly Dictionary<int, (FileId File, List<TaskId> Lessees)> _leasesAhead = new();
    private readonly (FileId File, int Index)?[] _owner;
    private readonly bool[] _allocated;
    // Pins by (task, page): how many references, the file the first was taken through, and
    // the pin's place in that file's line of pins.
    private readonly Dictionary<long, (int Count, FileId File, LinkedListNode<Place> Place)> _pins = new();
    // GUP fast-path references not yet confirmed by their PTE re-check, by task and by page.
    // A block may be freed under one: the re-check then fails and the reference is dropped unused.
    private readonly Dictionary<TaskId, PageId> _speculative = new();
    private readonly int[] _speculativeOn;
    // What an operation may have to wait for before its L3 bound counts (InvariantChecker.Ahead.cs):
    // the pins on each file's pages, and the holders and waiters of each lock, in the order
    // they came; and each lock request's place in its line.
    private readonly Line[] _pinLines;
    private readonly Line[,] _lockLines;
    private readonly Dictionary<(int Task, int File, LockKind Kind), LinkedListNode<Place>> _lockPlaces = new();
    // Unblocked operations by when their L3 bound starts counting (unblocked, plus their own
    // I/O or sleep), earliest first; completed ones are skipped lazily. A deadline is that
    // time, or when the cluster settled if later, plus the bound: ordered the same way.
    private readonly PriorityQueue<OpInFlight, (long From, int Task)> _deadlines = new();
    // The locks each task is queued on, (file, kind): the only places WaitsFor has to look.
    private readonly List<(int File, int Kind)>[] _queuedOn;
    private readonly int[] _size;
    // Per task and step: the files whose locks the step takes (each operation's start looks).
    private readonly FileId[][][] _lockFiles;

    // Per file: PTEs per page index, and the indexes with a DAX entry. Hash tables, not sorted
    // ones: they change on most events of a load, and are searched only at layout changes.
    private readonly Dictionary<int, int>[] _pteCount;
    private readonly HashSet<int>[] _entries;
    private readonly LockState[,] _locks;
    private readonly PageId?[] _sleepingOn;
    private readonly FileId?[] _leaseBreakOn;
    private readonly List<TaskId>[] _leaseHolders;
    private readonly OpInFlight?[] _ops;
    private readonly bool[] _ended;
    private readonly List<OpRecord> _completed = [];
    private int _endedCount;

    private readonly long _l3Slack;

    /// <param name="l3Slack">
    /// Added to every L3 bound: the local runtime runs in real time, where timers tick every
    /// 10 ms and a cold process compiles as it goes, so a bound tight enough for virtual
    /// time would report scheduling noise as starvation.
    /// </param>
    public InvariantChecker(Scenario scenario, ProtocolPolicy policy, Func<long> now, bool recordOps,
        TimeSpan l3Slack = default)
    {
        _idle = policy.IdleRefcount;
        _pteReferences = policy.ZeroBasedRefcount;
        _l3Slack = l3Slack.Ticks;
        _scenario = scenario;
        _now = now;
        _recordOps = recordOps;
        var blocks = scenario.Device.Blocks;
        _speculativeOn = new int[blocks];
        var files = scenario.Files.Count;
        var tasks = scenario.Tasks.Count;
        _refcount = Enumerable.Repeat(_idle, blocks).ToArray();
        _pinned = new int[blocks];
        _owner = new (FileId, int)?[blocks];
        _allocated = new bool[blocks];
        _pinLines = Enumerable.Range(0, files).Select(_ => new Line()).ToArray();
        _lockFiles = scenario.Tasks.Select(t => t.Steps.Select(LockFiles).ToArray()).ToArray();
        _lockLines = new Line[files, 2];
        _size = scenario.Files.Select(f => f.Pages).ToArray();
        _pteCount = Enumerable.Range(0, files).Select(_ => new Dictionary<int, int>()).ToArray();
        _entries = Enumerable.Range(0, files).Select(_ => new HashSet<int>()).ToArray();
        _locks = new LockState[files, 2];
        for (var f = 0; f < files; f++)
        {
            _locks[f, 0] = new LockState();
            _locks[f, 1] = new LockState();
            _lockLines[f, 0] = new Line();
            _lockLines[f, 1] = new Line();
        }
        _sleepingOn = new PageId?[tasks];
        _leaseBreakOn = new FileId?[tasks];
        _leaseHolders = Enumerable.Range(0, files).Select(_ => new List<TaskId>()).ToArray();
        _ops = new OpInFlight?[tasks];
        _ended = new bool[tasks];
        _queuedOn = new List<(int File, int Kind)>[tasks];
        for (var t = 0; t < tasks; t++)
        {
            _queuedOn[t] = [];
        }
    }

    public Violation? Violation { get; private set; }

    /// <summary>An actor threw (a bug in DaxSim, not a finding).</summary>
    public string? Failure { get; private set; }

    /// <summary>Stop the run: a violation or an internal failure.</summary>
    public bool Stopped => Violation is not null || Failure is not null;

    public bool AllTasksEnded => _endedCount == _scenario.Tasks.Count;

    public IReadOnlyList<OpRecord> CompletedOps => _completed;

    public long OpsCompleted { get; private set; }

    /// <summary>True while some task holds a pin on a page: the outstanding pins, for progress displays.</summary>
    public int PinsOutstanding => _pins.Count;

    /// <summary>The pins the task holds now, as the events tell (the cluster runtime: when a lost task's pins are all given back).</summary>
    public int PinsHeldBy(TaskId task)
    {
        var pins = 0;
        foreach (var key in _pins.Keys)
        {
            if (PinTask(key) == task)
            {
                pins++;
            }
        }
        return pins;
    }

    // --- names, for messages ---------------------------------------------------------------

    private string T(TaskId t) => $"task-{_scenario.TaskName(t)}";

    private string F(FileId f) => $"'{_scenario.FileName(f)}'";

    private static string P(PageId p) => $"page-{p.Value}";

    private static string LockName(LockKind k) => k == LockKind.IoLock ? "IOLOCK" : "MMAPLOCK";

    private static long PinKey(TaskId t, PageId p) => ((long)t.Value << 32) | (uint)p.Value;

    private static TaskId PinTask(long key) => new((int)(key >> 32));

    private static PageId PinPage(long key) => new((int)(key & 0xffffffff));

    private void Fail(string invariant, Verdict verdict, string description, IEnumerable<string> actors,
        IEnumerable<string>? waitFor = null, long? at = null, Damage? damage = null)
    {
        if (Violation is not null)
        {
            return;
        }
        // A block freed under a pin whose DMA was still to come happened first: it is the finding,
        // unless this is that DMA landing in the block (damage known now).
        if (_pendingS1 is not null && damage != Damage.DataCorrupted)
        {
            Violation = _pendingS1;
            return;
        }
        Violation = new Violation(invariant, verdict, at ?? _now(), description, actors.Distinct().ToList(),
            (waitFor ?? []).ToList()) { Event = _observing, Damage = damage };
    }

    /// <summary>The held-back S1, if any, becomes the finding (its pins went, or the run ends).</summary>
    private void ReportPendingS1()
    {
        if (_pendingS1 is not null && Violation is null)
        {
            Violation = _pendingS1;
        }
    }

    // --- events ------------------------------------------------------------------------------

    public void Observe(TraceEvent e)
    {
        _arrival++;
        _observing = e;
        try
        {
            Check(e);
        }
        finally
        {
            _observing = null;
        }
    }

    // The event being observed, for the violation it may cause.
    private TraceEvent? _observing;

    // The number of the event being observed (from 1): the order in which pins, lock requests
    // and operations come, for the lines of InvariantChecker.Ahead.cs.
    private long _arrival;

    private void Check(TraceEvent e)
    {
        switch (e)
        {
            case PteRechecked { Present: true } m:
                OnPageConfirmed(m.Task);
                break;
            case PageGot m:
                OnPageGot(m);
                break;
            case PagePut m:
                OnPagePut(m);
                break;
            case PageMapped m:
                _refcount[m.Page.Value]++;
                CheckRefcountAgrees(m.Page, m.Refcount);
                break;
            case PageUnmapped m:
                _refcount[m.Page.Value]--;
                CheckRefcountAgrees(m.Page, m.Refcount);
                CheckRefcountNotBelowIdle(m.Page, "a PTE's reference went", []);
                break;
            case LockRequested m:
                OnLockRequested(m);
                break;
            case LockAcquired m:
                OnLockAcquired(m);
                NoteLeasesAhead(m);
                break;
            case LockReleased m:
                RemoveHolder(m.File, m.Kind, m.Task);
                LeaveLock(m.Task, m.File, m.Kind);
                break;
            case LockWithdrawn m:
                RemoveTask(_locks[m.File.Value, (int)m.Kind].Queue, m.Task);
                _queuedOn[m.Task.Value].Remove((m.File.Value, (int)m.Kind));
                LeaveLock(m.Task, m.File, m.Kind);
                break;
            case WaitSleeping m:
                _sleepingOn[m.Task.Value] = m.Page;
                break;
            case WaitEnded m when m.How != WaitEnd.AlreadyIdle:
                _sleepingOn[m.Task.Value] = null;
                break;
            case DmaLanded m:
                OnDmaLanded(m);
                break;
            case PteInstalled m:
                Count(_pteCount[m.File.Value], m.Index, +1);
                if (_pteReferences)
                {
                    MappedBy(m.Page).Add(m.Mm);
                }
                break;
            case PteZapped m:
                Count(_pteCount[m.File.Value], m.Index, -1);
                if (_pteReferences)
                {
                    MappedBy(m.Page).Remove(m.Mm);
                }
                break;
            case EntryInserted m:
                _entries[m.File.Value].Add(m.Index);
                break;
            case EntryDeleted m:
                _entries[m.File.Value].Remove(m.Index);
                break;
            case EntryLeftByBreak m:
                // Judged when the layout change ends: a pinned block it frees (S1) comes first.
                _leftover ??= (
                    $"truncate_inode_pages found the DAX entry of {F(m.File)} page {m.Index} (block {m.Page.Value}), " +
                    "which the layout break should have deleted (the kernel warns in truncate_folio_batch_exceptionals)",
                    $"mapping-{_scenario.FileName(m.File)}", _now(), m);
                break;
            case ExtentMapped m:
                _owner[m.Block.Value] = (m.File, m.Index);
                break;
            case ExtentRemoved m:
                _owner[m.Block.Value] = null;
                break;
            case ExtentMoved m:
                _owner[m.Block.Value] = (m.File, m.To);
                break;
            case SizeChanged m:
                _size[m.File.Value] = m.Size;
                break;
            case LayoutChanged m:
                OnLayoutChanged(m);
                break;
            case BlockAllocated m:
                OnBlockAllocated(m);
                break;
            case BlockFreed m:
                OnBlockFreed(m);
                break;
            case LeaseTaken m:
                _leaseHolders[m.File.Value].Add(m.Task);
                break;
            case LeaseReleased m:
                _leaseHolders[m.File.Value].Remove(m.Task);
                foreach (var (_, ahead) in _leasesAhead)
                {
                    if (ahead.File == m.File)
                    {
                        ahead.Lessees.Remove(m.Task);
                    }
                }
                break;
            case LeaseBreakWaiting m:
                _leaseBreakOn[m.Task.Value] = m.File;
                break;
            case LeaseBreakDone m:
                _leaseBreakOn[m.Task.Value] = null;
                break;
            case OpStarted m:
                OnOpStarted(m);
                break;
            case OpCompleted m:
                OnOpCompleted(m);
                break;
            case ActorFailed m:
                Failure ??= m.Error;
                break;
            case TaskLost m:
                OnTaskLost(m);
                break;
            case TaskEnded m:
                MarkEnded(m.Task);
                break;
            case NodeCrashed m:
                _unsettledNodes.Add(m.Node);
                break;
            case NodeRemoved m:
                _unsettledNodes.Remove(m.Node);
                Settle();
                break;
            case NetworkPartitioned:
                _partitioned = true;
                break;
            case NetworkHealed:
                _partitioned = false;
                Settle();
                break;
        }
    }

    private void MarkEnded(TaskId task)
    {
        if (!_ended[task.Value])
        {
            _ended[task.Value] = true;
            _endedCount++;
        }
    }

    // --- node faults: L3 waits for the cluster to settle ---------------------------------------

    // While a crashed node is not yet removed, or a partition lasts, messages are lost and
    // sent again until the cluster settles: no operation can be held to its bound. Once it
    // settles, every operation in flight gets its bound again, counted from then.
    private readonly HashSet<int> _unsettledNodes = [];
    private bool _partitioned;
    private long _settledAt;

    private bool Unsettled => _partitioned || _unsettledNodes.Count > 0;

    private void Settle()
    {
        if (!Unsettled)
        {
            _settledAt = _now();
        }
    }

    // The task's node left the cluster: its operation will never return and it will never
    // end. What it held is given back by the entities, which report it as usual.
    private void OnTaskLost(TaskLost m)
    {
        var t = m.Task.Value;
        if (_ended[t])
        {
            return;
        }
        if (_ops[t] is { } op)
        {
            _ops[t] = null;
            op.Done = true;
            if (_recordOps)
            {
                _completed.Add(new OpRecord(_scenario.TaskName(m.Task), op.Op.JsonName(),
                    op.File is { } f ? _scenario.FileName(f) : null, op.Step, op.Iteration, op.Start, _now(),
                    "LOST"));
            }
        }
        _sleepingOn[t] = null;
        _leaseBreakOn[t] = null;
        _ended[t] = true;
        _endedCount++;
    }

    /// <summary>
    /// Every wait of an unfinished task: (waiter, holder, why). For the cluster runtime's
    /// report of what a run that ended with work left was waiting for.
    /// </summary>
    public IReadOnlyList<(TaskId Task, TaskId Holder, string Why)> Waits()
    {
        var waits = new List<(TaskId, TaskId, string)>();
        for (var t = 0; t < _ended.Length; t++)
        {
            if (!_ended[t])
            {
                waits.AddRange(WaitsFor(new TaskId(t)).Select(w => (new TaskId(t), w.Holder, w.Why)));
            }
        }
        return waits;
    }

    /// <summary>The tasks that have not ended (nor been lost).</summary>
    public IReadOnlyList<TaskId> Unfinished =>
        Enumerable.Range(0, _ended.Length).Where(t => !_ended[t]).Select(t => new TaskId(t)).ToList();

    // --- S1 and S2: pins, blocks, DMA ---------------------------------------------------------

    private List<MmId> MappedBy(PageId page)
    {
        if (!_mappedBy.TryGetValue(page.Value, out var mms))
        {
            mms = [];
            _mappedBy[page.Value] = mms;
        }
        return mms;
    }

    private void OnPageGot(PageGot m)
    {
        _refcount[m.Page.Value]++;
        CheckRefcountAgrees(m.Page, m.Refcount);
        var key = PinKey(m.Task, m.Page);
        if (m.Speculative)
        {
            _speculative[m.Task] = m.Page;
            _speculativeOn[m.Page.Value]++;
        }
        else
        {
            _pinned[m.Page.Value]++;
        }
        // A pin stays in the line of the file it was first taken through, even if its block
        // has since been given to another file (S1 has then been reported).
        _pins[key] = _pins.TryGetValue(key, out var pin)
            ? (pin.Count + 1, pin.File, pin.Place)
            : (1, m.File, _pinLines[m.File.Value].Arrive(_arrival, m.Task));
    }

    private void OnPageConfirmed(TaskId task)
    {
        if (_speculative.Remove(task, out var confirmed))
        {
            _speculativeOn[confirmed.Value]--;
            _pinned[confirmed.Value]++;
        }
    }

    private void OnPagePut(PagePut m)
    {
        var key = PinKey(m.Task, m.Page);
        if (!_pins.TryGetValue(key, out var pin))
        {
            Fail("S2", Verdict.Safety, $"{T(m.Task)} put {P(m.Page)} without a reference of its own to drop",
                [T(m.Task), P(m.Page)]);
            return;
        }
        var p = m.Page.Value;
        if (_speculative.TryGetValue(m.Task, out var speculative) && speculative == m.Page)
        {
            _speculative.Remove(m.Task);
            _speculativeOn[p]--;
        }
        else
        {
            _pinned[p]--;
        }
        if (_dmaDone.TryGetValue(key, out var done))
        {
            if (done <= 1)
            {
                _dmaDone.Remove(key);
            }
            else
            {
                _dmaDone[key] = done - 1;
            }
        }
        _refcount[p]--;
        CheckRefcountAgrees(m.Page, m.Refcount);
        CheckRefcountNotBelowIdle(m.Page, $"{T(m.Task)} put it", [T(m.Task)]);
        if (pin.Count > 1)
        {
            _pins[key] = (pin.Count - 1, pin.File, pin.Place);
        }
        else
        {
            _pins.Remove(key);
            Leave(_pinLines[pin.File.Value], pin.Place);
        }
        // The freed block's pins are going without the DMA that was to come: only the contract broke.
        if (_pendingS1 is not null && _pendingBlock == m.Page && DmaOutstanding(m.Page) == 0)
        {
            ReportPendingS1();
        }
    }

    private void CheckRefcountNotBelowIdle(PageId page, string how, IEnumerable<string> actors)
    {
        if (_refcount[page.Value] < _idle)
        {
            Fail("S2", Verdict.Safety,
                $"{P(page)}'s refcount dropped to {_refcount[page.Value]}, below the idle count {_idle}, when {how}",
                [.. actors, P(page)]);
        }
    }

    private void CheckRefcountAgrees(PageId page, int reported)
    {
        if (_refcount[page.Value] != reported)
        {
            throw new InvalidOperationException(
                $"{P(page)} reports refcount {reported}, the checker counted {_refcount[page.Value]}");
        }
    }

    private IEnumerable<string> PinnerActors(PageId page) =>
        _pins.Keys.Where(k => PinPage(k) == page).Select(k => T(PinTask(k))).Distinct();

    private string Pinners(PageId page) => string.Join(", ", PinnerActors(page));

    /// <summary>The page's pins whose DMA is still to come.</summary>
    private int DmaOutstanding(PageId page)
    {
        var outstanding = 0;
        foreach (var (key, pin) in _pins)
        {
            if (PinPage(key) == page)
            {
                outstanding += pin.Count - _dmaDone.GetValueOrDefault(key);
            }
        }
        return outstanding - _speculativeOn[page.Value];
    }

    private void OnBlockFreed(BlockFreed m)
    {
        _allocated[m.Block.Value] = false;
        if (_pinned[m.Block.Value] > 0)
        {
            PinnedBlockGone(m.Block,
                $"{F(m.File)} freed block {m.Block.Value} while {P(m.Block)} has refcount {_refcount[m.Block.Value]}" +
                $" (pinned by {Pinners(m.Block)})",
                [P(m.Block), $"inode-{_scenario.FileName(m.File)}", "device", .. PinnerActors(m.Block)]);
            return;
        }
        CheckLeasesGone(m);
    }

    private void OnBlockAllocated(BlockAllocated m)
    {
        _allocated[m.Block.Value] = true;
        if (_pinned[m.Block.Value] > 0)
        {
            PinnedBlockGone(m.Block,
                $"block {m.Block.Value} was reallocated to {F(m.File)} while {P(m.Block)} has refcount " +
                $"{_refcount[m.Block.Value]} (pinned by {Pinners(m.Block)})",
                [P(m.Block), "device", .. PinnerActors(m.Block)]);
        }
    }

    // A pinned block was freed or reused. If every pin on it has had its DMA, no data can be
    // hurt any more: the contract broke, reported now. Otherwise the finding waits for that
    // DMA: landing in the block now (data corrupted, OnDmaLanded), or the pin going without it.
    private void PinnedBlockGone(PageId block, string description, IEnumerable<string> actors)
    {
        if (Violation is not null || _pendingS1 is not null)
        {
            return;
        }
        var held = new Violation("S1", Verdict.Safety, _now(), description, actors.Distinct().ToList(), [])
        {
            Event = _observing, Damage = Damage.PinnedBlockFreed,
        };
        if (DmaOutstanding(block) == 0)
        {
            Violation = held;
            return;
        }
        _pendingS1 = held;
        _pendingBlock = block;
    }

    private void OnDmaLanded(DmaLanded m)
    {
        var key = PinKey(m.Task, m.Page);
        _dmaDone[key] = _dmaDone.GetValueOrDefault(key) + 1;
        var owner = _owner[m.Page.Value];
        if (owner is { } o && o.File == m.File && o.Index == m.Index)
        {
            return;
        }
        var now = owner is { } x ? $"now belongs to {F(x.File)} page {x.Index}" : "is now free";
        var how = m.FromPage
            ? $"DMA of {T(m.Task)}'s write, meant to read {F(m.File)} page {m.Index}, read block {m.Page.Value}, which {now}"
            : $"DMA of {T(m.Task)} meant for {F(m.File)} page {m.Index} landed in block {m.Page.Value}, which {now}";
        var earlier = _pendingS1 is { } pending ? $" (earlier: {pending.Description})" : "";
        _pendingS1 = null;
        Fail("S1", Verdict.Safety, how + earlier, [T(m.Task), P(m.Page)], damage: Damage.DataCorrupted);
    }

    // The layout change that frees the block holds the file's IOLOCK exclusive; the layout
    // leases held when it last took that lock must be gone (returned, or revoked when the lease
    // break time ran out): a pNFS client still holding one may still do I/O to the block.
    // (Only layout changes take IOLOCK exclusive. Not keyed on the task's operation: on the
    // cluster runtime the operation's start comes from another member and may be merged after
    // the inode's grant.)
    private void NoteLeasesAhead(LockAcquired m)
    {
        if (m.Kind == LockKind.IoLock && m.Mode == LockMode.Exclusive)
        {
            _leasesAhead[m.Task.Value] = (m.File, _leaseHolders[m.File.Value].Where(h => h != m.Task).ToList());
        }
    }

    private void CheckLeasesGone(BlockFreed m)
    {
        var state = _locks[m.File.Value, (int)LockKind.IoLock];
        foreach (var (holder, mode) in state.Holders)
        {
            if (mode != LockMode.Exclusive || !_leasesAhead.TryGetValue(holder.Value, out var ahead) || ahead.File != m.File)
            {
                continue;
            }
            foreach (var lessee in ahead.Lessees)
            {
                {
                    Fail("S1", Verdict.Safety,
                        $"{T(holder)}'s {_ops[holder.Value]?.Op.JsonName() ?? "layout change"} freed block {m.Block.Value} of " +
                        $"{F(m.File)} while {T(lessee)} still holds a layout lease on the file (it was never recalled)",
                        [T(holder), T(lessee), $"inode-{_scenario.FileName(m.File)}", P(m.Block)],
                        damage: Damage.LeasedBlockFreed);
                    return;
                }
            }
        }
    }

    // --- S3: locks ----------------------------------------------------------------------------------

    private void OnLockRequested(LockRequested m)
    {
        _locks[m.File.Value, (int)m.Kind].Queue.Add((m.Task, m.Mode));
        _queuedOn[m.Task.Value].Add((m.File.Value, (int)m.Kind));
        JoinLock(m.Task, m.File, m.Kind);
    }

    private void OnLockAcquired(LockAcquired m)
    {
        // A grant without a request (a trace made by hand) holds the lock from now on.
        JoinLock(m.Task, m.File, m.Kind);
        var state = _locks[m.File.Value, (int)m.Kind];
        RemoveTask(state.Queue, m.Task);
        _queuedOn[m.Task.Value].Remove((m.File.Value, (int)m.Kind));
        var conflicts = -1;
        for (var i = 0; i < state.Holders.Count && conflicts < 0; i++)
        {
            if (m.Mode == LockMode.Exclusive || state.Holders[i].Mode == LockMode.Exclusive)
            {
                conflicts = i;
            }
        }
        if (conflicts >= 0)
        {
            var conflict = state.Holders[conflicts];
            Fail("S3", Verdict.Safety,
                $"{T(m.Task)} got {LockName(m.Kind)} of {F(m.File)} {m.Mode.ToString().ToLowerInvariant()} " +
                $"while {T(conflict.Task)} holds it {conflict.Mode.ToString().ToLowerInvariant()}",
                [T(m.Task), T(conflict.Task), $"inode-{_scenario.FileName(m.File)}"]);
        }
        state.Holders.Add((m.Task, m.Mode));
    }

    private void RemoveHolder(FileId file, LockKind kind, TaskId task) =>
        RemoveTask(_locks[file.Value, (int)kind].Holders, task);

    // Every event goes through here: a loop, not RemoveAll with a lambda, which would
    // allocate a closure per call (and, in Check's switch, one per event of any kind).
    private static void RemoveTask(List<(TaskId Task, LockMode Mode)> list, TaskId task)
    {
        for (var i = list.Count - 1; i >= 0; i--)
        {
            if (list[i].Task == task)
            {
                list.RemoveAt(i);
            }
        }
    }

    // --- S4: mappings -------------------------------------------------------------------------------

    private void ReportLeftover()
    {
        if (_leftover is { } left && _pendingS1 is null)
        {
            var observing = _observing;
            _observing = left.Event;
            Fail("S4", Verdict.Safety, left.Description, [left.Actor], at: left.Time);
            _observing = observing;
        }
    }

    private void OnLayoutChanged(LayoutChanged m)
    {
        ReportLeftover();
        var f = m.File.Value;
        var pte = FirstLeft(_pteCount[f].Keys, m);
        var entry = FirstLeft(_entries[f], m);
        if (pte >= 0 || entry >= 0)
        {
            var what = pte >= 0 ? $"a PTE for page {pte}" : $"a DAX entry for page {entry}";
            Fail("S4", Verdict.Safety,
                $"after {T(m.Task)}'s {m.Op.JsonName()} of {F(m.File)} (size {m.Size}) there is still {what}",
                [T(m.Task), $"mapping-{_scenario.FileName(m.File)}"]);
        }
    }

    /// <summary>The lowest index a layout change should have left without a PTE or entry, or -1.</summary>
    private static int FirstLeft(IEnumerable<int> indexes, LayoutChanged m)
    {
        var first = -1;
        foreach (var i in indexes)
        {
            if (((i >= m.First && i <= m.Last) || i >= m.Size) && (first < 0 || i < first))
            {
                first = i;
            }
        }
        return first;
    }

    private static void Count(Dictionary<int, int> counts, int index, int delta)
    {
        var n = counts.GetValueOrDefault(index) + delta;
        if (n == 0)
        {
            counts.Remove(index);
        }
        else
        {
            counts[index] = n;
        }
    }

    // --- operations, and L3 -------------------------------------------------------------------------

    private void OnOpStarted(OpStarted m)
    {
        var step = _scenario.Task(m.Task).Steps[m.Step];
        var own = step switch
        {
            DioReadStep s => s.IoTime,
            DioWriteStep s => s.IoTime,
            SleepStep s => s.For,
            HoldLeaseStep s => s.For,
            FsyncStep s => s.IoTime * _scenario.File(s.File).Pages,
            // A load task's pacing sleep can be long (a low rate, an exponential draw), and it is
            // not work that can starve: never late.
            PaceStep => TimeSpan.FromDays(1),
            _ => TimeSpan.Zero,
        };
        var now = _now();
        var op = new OpInFlight(m.Task, m.Op, m.File, m.Step, m.Iteration, now, own.Ticks, _arrival);
        // Whoever holds a pin on its file's pages, or holds or waits for a lock the operation
        // will need, was there first: the operation may wait for them without starving (a
        // FIFO lock serves them first), and its bound counts from when they are gone.
        if (m.File is { } file)
        {
            Join(_pinLines[file.Value], op);
        }
        foreach (var lockFile in _lockFiles[m.Task.Value][m.Step])
        {
            Join(_lockLines[lockFile.Value, (int)LockKind.IoLock], op);
            Join(_lockLines[lockFile.Value, (int)LockKind.MmapLock], op);
        }
        if (!op.Blocked)
        {
            Unblocked(op, now);
        }
        _ops[m.Task.Value] = op;
    }

    private void Unblocked(OpInFlight op, long now)
    {
        op.UnblockedAt = now;
        _deadlines.Enqueue(op, (now + op.Own, op.Task.Value));
    }

    /// <summary>The files whose IOLOCK or MMAPLOCK a step takes.</summary>
    private static FileId[] LockFiles(Step step) => step switch
    {
        DioReadStep s => [s.From, s.Into],
        DioWriteStep s => [s.To, s.From],
        FsyncStep => [],
        _ when step.Target is { } f => [f],
        _ => [],
    };

    private void OnOpCompleted(OpCompleted m)
    {
        var op = _ops[m.Task.Value];
        _ops[m.Task.Value] = null;
        OpsCompleted++;
        if (op is not null)
        {
            op.Done = true;
        }
        if (op is null || !_recordOps)
        {
            return;
        }
        _completed.Add(new OpRecord(_scenario.TaskName(m.Task), m.Op.JsonName(),
            op.File is { } f ? _scenario.FileName(f) : null, op.Step, op.Iteration, op.Start, _now(),
            m.Result.Name()));
    }

    private long Deadline(OpInFlight op) => op.UnblockedAt is { } unblocked && !Unsettled
        ? Math.Max(unblocked + op.Own, _settledAt) + _scenario.Limits.OpBound.Ticks + _l3Slack
        : long.MaxValue;

    /// <summary>The earliest time at which an operation in flight breaks L3, or null.</summary>
    public long? NextDeadline
    {
        get
        {
            while (_deadlines.TryPeek(out var op, out _))
            {
                if (!op.Done)
                {
                    var d = Deadline(op);
                    return d == long.MaxValue ? null : d;
                }
                _deadlines.Dequeue();
            }
            return null;
        }
    }

    /// <summary>L3: report an operation still in flight past its deadline at <paramref name="now"/>.</summary>
    public void CheckDeadlines(long now)
    {
        // Of the operations overdue, the one of the lowest task is reported.
        OpInFlight? first = null;
        var overdue = new List<OpInFlight>();
        while (_deadlines.TryPeek(out var candidate, out _) && Deadline(candidate) <= now)
        {
            _deadlines.Dequeue();
            if (candidate.Done)
            {
                continue;
            }
            overdue.Add(candidate);
            if (first is null || candidate.Task.Value < first.Task.Value)
            {
                first = candidate;
            }
        }
        foreach (var o in overdue)
        {
            _deadlines.Enqueue(o, (o.UnblockedAt!.Value + o.Own, o.Task.Value));
        }
        if (first is { } op)
        {
            var t = op.Task.Value;
            var task = op.Task;
            // Overdue because it sleeps on a page that is already idle: say so (L2).
            if (ReportLostWakeup(t, now))
            {
                return;
            }
            var waited = TimeSpan.FromTicks(now - op.Start);
            var since = TimeSpan.FromTicks(now - (op.UnblockedAt!.Value + op.Own));
            var what = op.File is { } f ? $"{op.Op.JsonName()} of {F(f)}" : op.Op.JsonName();
            Fail("L3", Verdict.Liveness,
                $"{T(task)}'s {what} has run for {Durations.Format(Round(waited))}, " +
                $"{Durations.Format(Round(since))} of it beyond its own {Durations.Format(Round(TimeSpan.FromTicks(op.Own)))} of I/O or sleep after the pins and lock holders ahead of it were gone " +
                $"(limits.opBound {Durations.Format(_scenario.Limits.OpBound)})",
                [T(task)], WaitChain(task), now);
        }
    }

    /// <summary>L3 for the whole run: limits.virtualTime ran out with work left.</summary>
    public void TimeLimitReached(long now)
    {
        var waiting = Enumerable.Range(0, _ops.Length).Where(t => !_ended[t]).Select(t => new TaskId(t)).ToList();
        Fail("L3", Verdict.Liveness,
            $"limits.virtualTime ({Durations.Format(_scenario.Limits.VirtualTime)}) ran out with " +
            $"{waiting.Count} task(s) unfinished: {string.Join(", ", waiting.Select(T))}",
            waiting.Select(T), waiting.SelectMany(WaitChain), now);
    }

    /// <summary>L3: the delivery budget ran out without finishing (a livelock, time not advancing).</summary>
    public void DeliveryLimitReached(long deliveries)
    {
        var waiting = Enumerable.Range(0, _ops.Length).Where(t => !_ended[t]).Select(t => new TaskId(t)).ToList();
        Fail("L3", Verdict.Liveness,
            $"limits.maxDeliveries ({deliveries}) messages were delivered and " +
            $"{waiting.Count} task(s) are still unfinished: {string.Join(", ", waiting.Select(T))}",
            waiting.Select(T), waiting.SelectMany(WaitChain));
    }

    /// <summary>To the microsecond: real-time runs give times to the tick, which reads badly.</summary>
    private static TimeSpan Round(TimeSpan t) => TimeSpan.FromTicks(t.Ticks / 10 * 10);

    // --- L1 and L2: waits ----------------------------------------------------------------------------

    /// <summary>Who <paramref name="task"/> waits for, with the reason, under the current model.</summary>
    private IEnumerable<(TaskId Holder, string Why)> WaitsFor(TaskId task)
    {
        var queued = _queuedOn[task.Value];
        if (queued.Count > 1)
        {
            queued.Sort();
        }
        foreach (var (f, k) in queued.ToList())
        {
            var state = _locks[f, k];
            var position = state.Queue.FindIndex(q => q.Task == task);
            if (position < 0)
            {
                continue;
            }
            var mode = state.Queue[position].Mode;
            var lockName = $"{LockName((LockKind)k)} of {F(new FileId(f))}";
            foreach (var h in state.Holders)
            {
                if (mode == LockMode.Exclusive || h.Mode == LockMode.Exclusive)
                {
                    yield return (h.Task, $"{T(task)} waits for {lockName}, held by {T(h.Task)}");
                }
            }
            for (var i = 0; i < position; i++)
            {
                var ahead = state.Queue[i];
                if (mode == LockMode.Exclusive || ahead.Mode == LockMode.Exclusive)
                {
                    yield return (ahead.Task,
                        $"{T(task)} waits for {lockName}, queued behind {T(ahead.Task)}'s request");
                }
            }
        }
        if (_sleepingOn[task.Value] is { } page)
        {
            foreach (var key in _pins.Keys)
            {
                if (PinPage(key) == page && PinTask(key) != task)
                {
                    yield return (PinTask(key),
                        $"{T(task)} waits for {P(page)} to go idle, pinned by {T(PinTask(key))}");
                }
            }
            // 6.15+: a PTE holds a reference, so the page goes idle only when the process unmaps it.
            if (_mappedBy.TryGetValue(page.Value, out var mms))
            {
                foreach (var mm in mms.Distinct().ToList())
                {
                    foreach (var thread in _scenario.Process(mm).Threads)
                    {
                        if (thread != task && !_ended[thread.Value])
                        {
                            yield return (thread,
                                $"{T(task)} waits for {P(page)} to go idle, mapped by {T(thread)}'s process");
                        }
                    }
                }
            }
        }
        if (_leaseBreakOn[task.Value] is { } leased)
        {
            foreach (var holder in _leaseHolders[leased.Value])
            {
                yield return (holder, $"{T(task)} waits for the layout lease on {F(leased)} held by {T(holder)}");
            }
        }
    }

    /// <summary>L1: look for a wait-for cycle. Call only when no message is in flight.</summary>
    public void CheckDeadlocks()
    {
        for (var t = 0; t < _ended.Length && Violation is null; t++)
        {
            // A task that waits for nothing can be on no cycle.
            if (!_ended[t] && (_queuedOn[t].Count > 0 || _sleepingOn[t] is not null || _leaseBreakOn[t] is not null))
            {
                CheckForDeadlock(new TaskId(t));
            }
        }
    }

    private void CheckForDeadlock(TaskId start)
    {
        if (Violation is not null)
        {
            return;
        }
        var path = new List<(TaskId Task, string Why)>();
        var onPath = new HashSet<TaskId>();
        var done = new HashSet<TaskId>();
        if (FindCycle(start, path, onPath, done) is { } cycle)
        {
            Fail("L1", Verdict.Liveness,
                $"deadlock: {string.Join(" → ", cycle.Select(c => T(c.Task)).Append(T(cycle[0].Task)))}",
                cycle.Select(c => T(c.Task)), cycle.Select(c => c.Why));
        }
    }

    private List<(TaskId Task, string Why)>? FindCycle(TaskId task, List<(TaskId Task, string Why)> path,
        HashSet<TaskId> onPath, HashSet<TaskId> done)
    {
        if (!done.Add(task))
        {
            return null;
        }
        onPath.Add(task);
        foreach (var (next, why) in WaitsFor(task).ToList())
        {
            path.Add((task, why));
            if (onPath.Contains(next))
            {
                var from = path.FindIndex(p => p.Task == next);
                return path.GetRange(from, path.Count - from);
            }
            if (FindCycle(next, path, onPath, done) is { } cycle)
            {
                return cycle;
            }
            path.RemoveAt(path.Count - 1);
        }
        onPath.Remove(task);
        return null;
    }

    private IEnumerable<string> WaitChain(TaskId task)
    {
        var seen = new HashSet<TaskId>();
        var frontier = new Queue<TaskId>([task]);
        while (frontier.TryDequeue(out var t))
        {
            if (!seen.Add(t))
            {
                continue;
            }
            foreach (var (next, why) in WaitsFor(t).ToList())
            {
                yield return why;
                frontier.Enqueue(next);
            }
        }
    }

    /// <summary>L2: task <paramref name="t"/> sleeps on a page that is idle (the era's idle count), so no wake-up will come.</summary>
    private bool ReportLostWakeup(int t, long? now)
    {
        if (_sleepingOn[t] is not { } page || _refcount[page.Value] != _idle)
        {
            return false;
        }
        var task = new TaskId(t);
        Fail("L2", Verdict.Liveness,
            $"{T(task)} sleeps waiting for {P(page)} to go idle; the page is idle (refcount {_idle}) " +
            "and no wake-up is on its way",
            [T(task), P(page)], [$"{T(task)} waits for {P(page)} (refcount {_idle})"], now);
        return true;
    }

    /// <summary>
    /// Nothing can run and no timer is due: the end of the run. Work left means L2 (a
    /// sleeper on an idle page) or L1 (a cycle, or waits nothing can end); otherwise the
    /// final state must be clean (S2: every pin given back).
    /// </summary>
    public void AtQuiescence()
    {
        ReportPendingS1();
        ReportLeftover();
        if (Violation is not null)
        {
            return;
        }
        for (var t = 0; t < _sleepingOn.Length; t++)
        {
            if (ReportLostWakeup(t, null))
            {
                return;
            }
        }
        var stuck = Enumerable.Range(0, _ended.Length).Where(t => !_ended[t]).Select(t => new TaskId(t)).ToList();
        if (stuck.Count > 0)
        {
            foreach (var task in stuck)
            {
                CheckForDeadlock(task);
            }
            Fail("L1", Verdict.Liveness,
                $"nothing can run and {stuck.Count} task(s) are unfinished: {string.Join(", ", stuck.Select(T))}",
                stuck.Select(T), stuck.SelectMany(WaitChain));
            return;
        }
        foreach (var key in _pins.Keys)
        {
            Fail("S2", Verdict.Safety,
                $"{T(PinTask(key))} ended still holding a reference on {P(PinPage(key))}",
                [T(PinTask(key)), P(PinPage(key))]);
            return;
        }
    }
}
