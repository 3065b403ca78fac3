using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DaxSim.Actors;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;

namespace DaxSim.Host.Checking;

/// <summary>
/// The checker's copy of the world, built from trace events alone and kept once: refcounts
/// and pins, block owners, PTEs and DAX entries, lock holders and queues, sleepers, leases,
/// the operations in flight and which tasks have ended. It judges nothing: the monitors
/// read it (InvariantChecker applies each event to it between the monitors that look before
/// and after). It uses the true semantics of the variant's era (idle at refcount 1 up to
/// 6.14, at 0 with PTE references from 6.15), whatever the variant's wait tests.
/// </summary>
public sealed class World
{
    /// <summary>A pin: the references one task holds on one page, and the file the first was taken through.</summary>
    public struct Pin
    {
        public int Count;
        public FileId File;

        /// <summary>The pin's place in its file's line of pins (the L3 monitor's; null until it has one).</summary>
        public LinkedListNode<Place>? Place;
    }

    public sealed class LockState
    {
        public readonly List<(TaskId Task, LockMode Mode)> Holders = [];
        public readonly List<(TaskId Task, LockMode Mode)> Queue = [];
    }

    private readonly Func<long> _now;

    private readonly bool _recordOps;
    private readonly List<OpRecord> _completed = [];

    public World(Scenario scenario, ProtocolPolicy policy, Func<long> now, bool recordOps)
    {
        Scenario = scenario;
        _recordOps = recordOps;
        _now = now;
        Idle = policy.IdleRefcount;
        PteReferences = policy.ZeroBasedRefcount;
        var blocks = scenario.Device.Blocks;
        var files = scenario.Files.Count;
        var tasks = scenario.Tasks.Count;
        Refcount = new int[blocks];
        Array.Fill(Refcount, Idle);
        Pinned = new int[blocks];
        SpeculativeOn = new int[blocks];
        Owner = new (FileId, int)?[blocks];
        PteCount = new Dictionary<int, int>[files];
        Entries = new HashSet<int>[files];
        Locks = new LockState[files, 2];
        LeaseHolders = new List<TaskId>[files];
        for (var f = 0; f < files; f++)
        {
            PteCount[f] = [];
            Entries[f] = [];
            Locks[f, 0] = new LockState();
            Locks[f, 1] = new LockState();
            LeaseHolders[f] = [];
        }
        SleepingOn = new PageId?[tasks];
        LeaseBreakOn = new FileId?[tasks];
        Ops = new Operation?[tasks];
        Ended = new bool[tasks];
        QueuedOn = new List<(int File, int Kind)>[tasks];
        for (var t = 0; t < tasks; t++)
        {
            QueuedOn[t] = [];
        }
    }

    public Scenario Scenario { get; }

    /// <summary>The era's idle refcount: 1 up to 6.14, 0 from 6.15.</summary>
    public int Idle { get; }

    /// <summary>6.15+: PTEs hold references.</summary>
    public bool PteReferences { get; }

    public long Now => _now();

    /// <summary>The number of the event being observed (from 1): the order in which pins, lock requests and operations come.</summary>
    public long Arrival { get; private set; }

    /// <summary>The event being observed, for the violation it may cause.</summary>
    public TraceEvent? Observing { get; set; }

    public readonly int[] Refcount;
    // Confirmed pins per page (GUP references past their re-check): what S1 counts.
    public readonly int[] Pinned;
    // GUP fast-path references not yet confirmed by their PTE re-check, by task and by page.
    // A block may be freed under one: the re-check then fails and the reference is dropped unused.
    public readonly Dictionary<TaskId, PageId> Speculative = new();
    public readonly int[] SpeculativeOn;
    // Pins by (task, page), PinKey.
    public readonly Dictionary<long, Pin> Pins = new();
    // 6.15+: the processes whose PTEs map each page (a page mapped there cannot go idle).
    public readonly Dictionary<int, List<MmId>> MappedBy = new();
    public readonly (FileId File, int Index)?[] Owner;
    // Per file: PTEs per page index, and the indexes with a DAX entry. Hash tables, not sorted
    // ones: they change on most events of a load, and are searched only at layout changes.
    public readonly Dictionary<int, int>[] PteCount;
    public readonly HashSet<int>[] Entries;
    public readonly LockState[,] Locks;
    // The locks each task is queued on, (file, kind): the only places WaitsFor has to look.
    public readonly List<(int File, int Kind)>[] QueuedOn;
    public readonly PageId?[] SleepingOn;
    public readonly FileId?[] LeaseBreakOn;
    public readonly List<TaskId>[] LeaseHolders;
    // Each task's operation in flight.
    public readonly Operation?[] Ops;
    public readonly bool[] Ended;
    public int EndedCount { get; private set; }

    /// <summary>An actor threw (a bug in DaxSim, not a finding).</summary>
    public string? Failure { get; private set; }

    public static long PinKey(TaskId t, PageId p) => ((long)t.Value << 32) | (uint)p.Value;

    public static TaskId PinTask(long key) => new((int)(key >> 32));

    public static PageId PinPage(long key) => new((int)(key & 0xffffffff));

    // --- names, for messages -------------------------------------------------------------

    public string T(TaskId t) => $"task-{Scenario.TaskName(t)}";

    public string F(FileId f) => $"'{Scenario.FileName(f)}'";

    public static string P(PageId p) => $"page-{p.Value}";

    public static string LockName(LockKind k) => k == LockKind.IoLock ? "IOLOCK" : "MMAPLOCK";

    // --- applying events ------------------------------------------------------------------

    /// <summary>A new event arrives: it takes the next number.</summary>
    public void Arrive(TraceEvent e)
    {
        Arrival++;
        Observing = e;
    }

    /// <summary>The task takes a reference; true when it is the task's first on the page (a new pin).</summary>
    public bool PageGot(PageGot m, long key)
    {
        Refcount[m.Page.Value]++;
        CheckRefcountAgrees(m.Page, m.Refcount);
        if (m.Speculative)
        {
            Speculative[m.Task] = m.Page;
            SpeculativeOn[m.Page.Value]++;
        }
        else
        {
            Pinned[m.Page.Value]++;
        }
        // A pin stays with the file it was first taken through, even if its block has since
        // been given to another file (S1 has then been reported).
        ref var pin = ref CollectionsMarshal.GetValueRefOrAddDefault(Pins, key, out var existed);
        if (existed)
        {
            pin.Count++;
            return false;
        }
        pin = new Pin { Count = 1, File = m.File };
        return true;
    }

    public void PageConfirmed(TaskId task)
    {
        if (Speculative.Remove(task, out var confirmed))
        {
            SpeculativeOn[confirmed.Value]--;
            Pinned[confirmed.Value]++;
        }
    }

    /// <summary>The pin of <paramref name="key"/>, to update in place (it must exist).</summary>
    public ref Pin PinRef(long key) => ref CollectionsMarshal.GetValueRefOrNullRef(Pins, key);

    /// <summary>
    /// The task drops a reference: false, and nothing changed, if it holds none on the page
    /// (S2 judges that); otherwise <paramref name="pin"/> is the pin as it was.
    /// </summary>
    public bool PagePut(PagePut m, long key, out Pin pin)
    {
        ref var held = ref CollectionsMarshal.GetValueRefOrNullRef(Pins, key);
        if (Unsafe.IsNullRef(ref held))
        {
            pin = default;
            return false;
        }
        pin = held;
        var p = m.Page.Value;
        if (Speculative.TryGetValue(m.Task, out var speculative) && speculative == m.Page)
        {
            Speculative.Remove(m.Task);
            SpeculativeOn[p]--;
        }
        else
        {
            Pinned[p]--;
        }
        Refcount[p]--;
        CheckRefcountAgrees(m.Page, m.Refcount);
        if (pin.Count > 1)
        {
            held.Count--;
        }
        else
        {
            Pins.Remove(key);
        }
        return true;
    }

    public void PageMapped(PageMapped m)
    {
        Refcount[m.Page.Value]++;
        CheckRefcountAgrees(m.Page, m.Refcount);
    }

    public void PageUnmapped(PageUnmapped m)
    {
        Refcount[m.Page.Value]--;
        CheckRefcountAgrees(m.Page, m.Refcount);
    }

    // The actors and the model count the same references: a difference is a bug in DaxSim.
    private void CheckRefcountAgrees(PageId page, int reported)
    {
        if (Refcount[page.Value] != reported)
        {
            throw new InvalidOperationException(
                $"{P(page)} reports refcount {reported}, the checker counted {Refcount[page.Value]}");
        }
    }

    public void PteInstalled(PteInstalled m)
    {
        Count(PteCount[m.File.Value], m.Index, +1);
        if (PteReferences)
        {
            MappedByList(m.Page).Add(m.Mm);
        }
    }

    public void PteZapped(PteZapped m)
    {
        Count(PteCount[m.File.Value], m.Index, -1);
        if (PteReferences)
        {
            MappedByList(m.Page).Remove(m.Mm);
        }
    }

    private List<MmId> MappedByList(PageId page)
    {
        if (!MappedBy.TryGetValue(page.Value, out var mms))
        {
            mms = [];
            MappedBy[page.Value] = mms;
        }
        return mms;
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

    public void LockRequested(LockRequested m)
    {
        Locks[m.File.Value, (int)m.Kind].Queue.Add((m.Task, m.Mode));
        QueuedOn[m.Task.Value].Add((m.File.Value, (int)m.Kind));
    }

    public void LockAcquired(LockAcquired m)
    {
        var state = Locks[m.File.Value, (int)m.Kind];
        RemoveTask(state.Queue, m.Task);
        QueuedOn[m.Task.Value].Remove((m.File.Value, (int)m.Kind));
        state.Holders.Add((m.Task, m.Mode));
    }

    public void LockReleased(LockReleased m) => RemoveTask(Locks[m.File.Value, (int)m.Kind].Holders, m.Task);

    public void LockWithdrawn(LockWithdrawn m)
    {
        RemoveTask(Locks[m.File.Value, (int)m.Kind].Queue, m.Task);
        QueuedOn[m.Task.Value].Remove((m.File.Value, (int)m.Kind));
    }

    // Most events of a load go through here: a loop, not RemoveAll with a lambda, which
    // would allocate a closure per call.
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

    public void LeaseReleased(LeaseReleased m) => LeaseHolders[m.File.Value].Remove(m.Task);

    public Operation OpStarted(OpStarted m)
    {
        var op = new Operation(m.Task, m.Op, m.File, m.Step, m.Iteration, Now, Arrival);
        Ops[m.Task.Value] = op;
        return op;
    }

    public IReadOnlyList<OpRecord> CompletedOps => _completed;

    public long OpsCompleted { get; private set; }

    /// <summary>The task's operation returned (a trace may complete one it never started).</summary>
    public void OpCompleted(OpCompleted m)
    {
        var op = Ops[m.Task.Value];
        Ops[m.Task.Value] = null;
        OpsCompleted++;
        if (op is null)
        {
            return;
        }
        op.Done = true;
        if (_recordOps)
        {
            _completed.Add(new OpRecord(Scenario.TaskName(m.Task), m.Op.JsonName(),
                op.File is { } f ? Scenario.FileName(f) : null, op.Step, op.Iteration, op.Start, Now, m.Result.Name()));
        }
    }

    public void Failed(ActorFailed m) => Failure ??= m.Error;

    public void TaskEnded(TaskId task)
    {
        if (!Ended[task.Value])
        {
            Ended[task.Value] = true;
            EndedCount++;
        }
    }

    // The task's node left the cluster: its operation will never return and it will never
    // end. What it held is given back by the entities, which report it as usual.
    public void TaskLost(TaskId task)
    {
        var t = task.Value;
        if (Ended[t])
        {
            return;
        }
        if (Ops[t] is { } op)
        {
            Ops[t] = null;
            op.Done = true;
            if (_recordOps)
            {
                _completed.Add(new OpRecord(Scenario.TaskName(task), op.Op.JsonName(),
                    op.File is { } f ? Scenario.FileName(f) : null, op.Step, op.Iteration, op.Start, Now, "LOST"));
            }
        }
        SleepingOn[t] = null;
        LeaseBreakOn[t] = null;
        TaskEnded(task);
    }

    // --- queries ---------------------------------------------------------------------------

    /// <summary>The tasks that have not ended (nor been lost).</summary>
    public List<TaskId> Unfinished()
    {
        var tasks = new List<TaskId>();
        for (var t = 0; t < Ended.Length; t++)
        {
            if (!Ended[t])
            {
                tasks.Add(new TaskId(t));
            }
        }
        return tasks;
    }

    /// <summary>Whether the task waits for anything: a lock, a page going idle, a lease break.</summary>
    public bool Waiting(int task) => QueuedOn[task].Count > 0 || SleepingOn[task] is not null || LeaseBreakOn[task] is not null;

    /// <summary>
    /// One wait-for edge without names (the cycle search runs at every settled point; names are
    /// made only for a violation): Resource is a file (locks, leases) or a page, Kind a lock kind.
    /// </summary>
    public readonly record struct Wait(TaskId Waiter, WaitReason Reason, int Resource, int Kind, TaskId Holder);

    /// <summary>Adds to <paramref name="into"/> who <paramref name="task"/> waits for, and why, under the current model.</summary>
    public void WaitsFor(TaskId task, List<Wait> into)
    {
        var queued = QueuedOn[task.Value];
        if (queued.Count > 1)
        {
            queued.Sort();
        }
        for (var q = 0; q < queued.Count; q++)
        {
            var (f, k) = queued[q];
            var state = Locks[f, k];
            var position = -1;
            for (var i = 0; i < state.Queue.Count && position < 0; i++)
            {
                if (state.Queue[i].Task == task)
                {
                    position = i;
                }
            }
            if (position < 0)
            {
                continue;
            }
            var mode = state.Queue[position].Mode;
            foreach (var h in state.Holders)
            {
                if (mode == LockMode.Exclusive || h.Mode == LockMode.Exclusive)
                {
                    into.Add(new Wait(task, WaitReason.LockHeld, f, k, h.Task));
                }
            }
            for (var i = 0; i < position; i++)
            {
                var ahead = state.Queue[i];
                if (mode == LockMode.Exclusive || ahead.Mode == LockMode.Exclusive)
                {
                    into.Add(new Wait(task, WaitReason.LockQueued, f, k, ahead.Task));
                }
            }
        }
        if (SleepingOn[task.Value] is { } page)
        {
            foreach (var key in Pins.Keys)
            {
                if (PinPage(key) == page && PinTask(key) != task)
                {
                    into.Add(new Wait(task, WaitReason.PagePinned, page.Value, 0, PinTask(key)));
                }
            }
            // 6.15+: a PTE holds a reference, so the page goes idle only when the process unmaps it.
            if (MappedBy.TryGetValue(page.Value, out var mms))
            {
                for (var i = 0; i < mms.Count; i++)
                {
                    if (mms.IndexOf(mms[i]) < i)
                    {
                        continue;
                    }
                    foreach (var thread in Scenario.Process(mms[i]).Threads)
                    {
                        if (thread != task && !Ended[thread.Value])
                        {
                            into.Add(new Wait(task, WaitReason.PageMapped, page.Value, 0, thread));
                        }
                    }
                }
            }
        }
        if (LeaseBreakOn[task.Value] is { } leased)
        {
            foreach (var holder in LeaseHolders[leased.Value])
            {
                into.Add(new Wait(task, WaitReason.LeaseHeld, leased.Value, 0, holder));
            }
        }
    }

    /// <summary>The wait with names, as a violation carries it.</summary>
    public WaitForEdge Edge(Wait w) => new(T(w.Waiter), w.Reason, w.Reason switch
    {
        WaitReason.LockHeld or WaitReason.LockQueued => $"{LockName((LockKind)w.Kind)} of {F(new FileId(w.Resource))}",
        WaitReason.LeaseHeld => $"layout lease on {F(new FileId(w.Resource))}",
        _ => P(new PageId(w.Resource)),
    }, T(w.Holder));

    /// <summary>Everything <paramref name="task"/> waits for, and what they wait for in turn, breadth first.</summary>
    public List<WaitForEdge> WaitChain(TaskId task)
    {
        var chain = new List<WaitForEdge>();
        var seen = new HashSet<TaskId>();
        var frontier = new Queue<TaskId>([task]);
        var waits = new List<Wait>();
        while (frontier.TryDequeue(out var t))
        {
            if (!seen.Add(t))
            {
                continue;
            }
            waits.Clear();
            WaitsFor(t, waits);
            foreach (var w in waits)
            {
                chain.Add(Edge(w));
                frontier.Enqueue(w.Holder);
            }
        }
        return chain;
    }

    /// <summary>The tasks holding a pin on <paramref name="page"/>, by name, each once.</summary>
    public IEnumerable<string> PinnerActors(PageId page) =>
        Pins.Keys.Where(k => PinPage(k) == page).Select(k => T(PinTask(k))).Distinct();
}

/// <summary>
/// An operation in flight: what it is, when it started, and (for the L3 monitor) when its
/// bound starts counting.
/// </summary>
public sealed class Operation(TaskId task, OpKind op, FileId? file, int step, int iteration, long start, long arrival)
{
    public TaskId Task { get; } = task;
    public OpKind Op { get; } = op;
    public FileId? File { get; } = file;
    public int Step { get; } = step;
    public int Iteration { get; } = iteration;
    public long Start { get; } = start;

    /// <summary>The number of the event that started it: its place in every line it joins.</summary>
    public long Arrival { get; } = arrival;

    /// <summary>Its own I/O or sleep time (StepFacts.OwnTime), in ticks.</summary>
    public long Own { get; set; }

    /// <summary>The lines in which someone of another task is still ahead of it (few: its file's pins, its locks).</summary>
    public List<Line>? WaitingIn { get; set; }

    public bool Blocked => WaitingIn is { Count: > 0 };

    public long? UnblockedAt { get; set; }

    /// <summary>While it runs, its place in the pin line of the file it pins (StepFacts.PinnedFile; L3).</summary>
    public LinkedListNode<Place>? PinPlace { get; set; }

    /// <summary>Completed: stale wherever it is still indexed.</summary>
    public bool Done { get; set; }
}
