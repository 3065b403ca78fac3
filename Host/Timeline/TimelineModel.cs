using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;

namespace DaxSim.Host.Timeline;

/// <summary>A trace event with its number among the run's events and its time (100 ns ticks).</summary>
internal readonly record struct Ev(int Index, long Time, TraceEvent E);

/// <summary>
/// The horizontal axis: event order, with a gap where time advances. Event i is at X[i];
/// the gap before an event that comes Δ ticks after the one before is 2 + 1.5·log10(Δ)
/// steps, so 100 ns is 2 steps, 1 ms 8 and 1 s 12.5.
/// </summary>
internal sealed class Axis
{
    public const double Left = 30;

    public required double[] X { get; init; }

    public required long[] T { get; init; }

    /// <summary>Where the run ends, and its time.</summary>
    public double End { get; init; }

    public long EndTime { get; init; }

    /// <summary>Pixels per step.</summary>
    public double Scale { get; init; }

    public double Width { get; init; }

    /// <summary>The index of the first event of each instant (a run of events at one time).</summary>
    public required List<int> Groups { get; init; }

    public static double Gap(long dt) => dt <= 0 ? 0 : 2 + 1.5 * Math.Log10(dt);

    public static Axis Build(IReadOnlyList<Ev> events, long endTime)
    {
        var n = events.Count;
        var raw = new double[n];
        var times = new long[n];
        var groups = new List<int>();
        double r = 0;
        long previous = 0;
        for (var i = 0; i < n; i++)
        {
            var t = events[i].Time;
            if (i == 0)
            {
                r = 0.5 + Gap(t);
                groups.Add(0);
            }
            else
            {
                r += 1 + (t > previous ? Gap(t - previous) : 0);
                if (t != previous)
                {
                    groups.Add(i);
                }
            }
            raw[i] = r;
            times[i] = t;
            previous = t;
        }
        endTime = Math.Max(endTime, previous);
        // Room after the last event, so that what is still open at the end shows as a bar.
        var rawEnd = n == 0 ? 1 + Gap(endTime) : r + 2.5 + (endTime > previous ? Gap(endTime - previous) : 0);
        var scale = ScaleFor(rawEnd);
        var x = new double[n];
        for (var i = 0; i < n; i++)
        {
            x[i] = Left + raw[i] * scale;
        }
        var end = Left + rawEnd * scale;
        return new Axis
        {
            X = x,
            T = times,
            End = end,
            EndTime = endTime,
            Scale = scale,
            Width = end + TimelineReport.RightPad,
            Groups = groups,
        };
    }

    private static double ScaleFor(double rawEnd)
    {
        var scale = TimelineReport.PreferredStep;
        if (rawEnd * scale > TimelineReport.MaxWidth)
        {
            scale = TimelineReport.MaxWidth / rawEnd;
        }
        else if (rawEnd * scale < TimelineReport.MinWidth)
        {
            scale = Math.Min(TimelineReport.MaxStep, TimelineReport.MinWidth / rawEnd);
        }
        return scale;
    }

    /// <summary>
    /// Where time <paramref name="t"/> is: just after the last event at or before it, and if
    /// it is later than that event, the gap for the time since.
    /// </summary>
    public double AtTime(long t)
    {
        var i = Array.FindLastIndex(T, time => time <= t);
        if (i < 0)
        {
            return Left + Scale * Gap(t) * 0.5;
        }
        return T[i] == t || i + 1 < T.Length && T[i + 1] == t
            ? X[i] + Scale * 0.5
            : Math.Min(X[i] + Scale * (0.5 + Gap(t - T[i])), End);
    }
}

internal enum ShapeKind
{
    Bar,
    Tick,
    Mark,
}

/// <summary>One thing drawn in a row: a bar from X0 to X1, a tick or a marker at X0. Count > 1 once merged.</summary>
internal sealed record Shape(ShapeKind Kind, double X0, double X1, string Cls, string Tip, string? Text = null,
    string Sym = "circle")
{
    public int Count { get; init; } = 1;

    public string? LastTip { get; init; }
}

/// <summary>A stretch of a page lane's owner strip: the file that owns the block. Count > 1 once merged.</summary>
internal sealed record Band(double X0, double X1, int Color, string Text, string Tip)
{
    public int Count { get; init; } = 1;
}

internal sealed class Row(string label, double height, int order)
{
    public string Label { get; } = label;

    public double Height { get; } = height;

    public int Order { get; } = order;

    public List<Shape> Shapes { get; set; } = [];

    public List<Band> Bands { get; set; } = [];

    /// <summary>A value over time (the refcount), starting at Initial; null for rows without one.</summary>
    public List<(double X, int V)>? Steps { get; set; }

    public int Initial { get; set; } = 1;

    public int MaxValue { get; set; }

    public double Top { get; set; }

    /// <summary>How many shapes were merged into others to keep the row drawable.</summary>
    public int Merged { get; set; }
}

internal sealed class Lane(string key, string title, string tip)
{
    private readonly Dictionary<string, Row> _rows = new();

    public string Key { get; } = key;

    public string Title { get; } = title;

    public string Tip { get; } = tip;

    public List<Row> Rows => _rows.Values.OrderBy(r => r.Order).ToList();

    public double Top { get; set; }

    public double Bottom { get; set; }

    public Row Row(string label, double height, int order)
    {
        if (!_rows.TryGetValue(label, out var row))
        {
            row = new Row(label, height, order);
            _rows[label] = row;
        }
        return row;
    }
}

/// <summary>Turns the trace events into lanes: one per task, inode, mapping, page, and the device.</summary>
internal sealed class LaneBuilder(Scenario scenario, Axis axis, int idle)
{
    private const double OpsHeight = 20;
    private const double ThinHeight = 15;
    private const double PageHeight = 42;

    private readonly Lane[] _tasks = scenario.Tasks
        .Select(t => new Lane($"task-{t.Name}", $"task-{t.Name}", $"task '{t.Name}' ({t.Id})")).ToArray();
    private readonly Dictionary<int, Lane> _inodes = new();
    private readonly Dictionary<int, Lane> _mappings = new();
    private readonly SortedDictionary<int, Lane> _pages = new();
    private Lane? _device;

    // Open intervals, closed by a later event or at the end of the run.
    private readonly Dictionary<int, (Ev Ev, OpStarted Op)> _ops = new();
    private readonly Dictionary<(int Task, int File, LockKind Kind), (Ev Ev, LockMode Mode)> _lockWaits = new();
    private readonly Dictionary<(int Task, int File, LockKind Kind), (Ev Ev, LockMode Mode)> _lockHolds = new();
    private readonly Dictionary<int, (Ev Ev, WaitSleeping W)> _sleeps = new();
    private readonly Dictionary<int, (Ev Ev, FileId File)> _leaseBreaks = new();
    private readonly Dictionary<(int Task, int File), Ev> _leases = new();
    private readonly Dictionary<(int File, LockKind Kind), LockState> _locks = new();
    private readonly Dictionary<int, (Ev Ev, FileId File)> _owners = new();
    private readonly Dictionary<int, int> _refcounts = new();
    // 6.15+: PTEs that map each page; their references are not pins.
    private readonly Dictionary<int, int> _mapcounts = new();

    private sealed class LockState
    {
        public List<(TaskId Task, LockMode Mode)> Holders { get; } = [];
        public List<(TaskId Task, LockMode Mode)> Queue { get; } = [];
        public Ev? Since { get; set; }
    }

    public List<Lane> Build(IReadOnlyList<Ev> events)
    {
        foreach (var lane in _tasks)
        {
            lane.Row("ops", OpsHeight, 0);
        }
        foreach (var ev in events)
        {
            Add(ev);
        }
        Finish();
        var lanes = new List<Lane>(_tasks);
        for (var f = 0; f < scenario.Files.Count; f++)
        {
            if (_inodes.TryGetValue(f, out var inode))
            {
                lanes.Add(inode);
            }
            if (_mappings.TryGetValue(f, out var mapping))
            {
                lanes.Add(mapping);
            }
        }
        lanes.AddRange(_pages.Values);
        if (_device is not null)
        {
            lanes.Add(_device);
        }
        var maxRef = Math.Max(2, _pages.Values.SelectMany(l => l.Rows).Select(r => r.MaxValue).DefaultIfEmpty(2).Max());
        foreach (var lane in lanes)
        {
            foreach (var row in lane.Rows)
            {
                row.Shapes = Coalesce(row.Shapes, axis.End, out var merged);
                row.Bands = CoalesceBands(row.Bands, axis.End);
                row.Merged = merged;
                if (row.Steps is not null)
                {
                    row.MaxValue = maxRef;
                }
            }
        }
        return lanes;
    }

    // --- names and lanes ----------------------------------------------------------------------

    private string Tn(TaskId t) => t.Value < scenario.Tasks.Count ? scenario.TaskName(t) : t.ToString();

    private string Fn(FileId f) => f.Value < scenario.Files.Count ? scenario.FileName(f) : f.ToString();

    /// <summary>A process by name: "process 'x'" for a declared one, "task-x's" address space for a task's own.</summary>
    private string Pn(MmId mm) => mm.Value < scenario.Processes.Count
        ? scenario.Process(mm) is { Implicit: true } own ? $"{Tn(own.Threads[0])}'s" : $"process '{scenario.Process(mm).Name}''s"
        : $"{mm}'s";

    private Lane Task(TaskId t) => _tasks[t.Value];

    private Lane Inode(FileId f) => Lazy(_inodes, f.Value, () => new Lane($"inode-{Fn(f)}", $"inode-{Fn(f)}",
        $"the inode of '{Fn(f)}': its IOLOCK and MMAPLOCK holders, extents and size"));

    private Lane Mapping(FileId f) => Lazy(_mappings, f.Value, () => new Lane($"mapping-{Fn(f)}", $"mapping-{Fn(f)}",
        $"the address space of '{Fn(f)}': PTEs, DAX entries, busy-page scans"));

    private Lane Page(PageId p)
    {
        var lane = Lazy(_pages, p.Value, () => new Lane($"page-{p.Value}", $"page-{p.Value}",
            $"device block {p.Value}: refcount ({idle} = idle), DMA, idle notifications, owner"));
        var row = lane.Row("refcount", PageHeight, 0);
        if (row.Steps is null)
        {
            row.Steps = [];
            row.Initial = idle;
        }
        return lane;
    }

    private Row PageRow(PageId p) => Page(p).Row("refcount", PageHeight, 0);

    private Row Device() => (_device ??= new Lane("device", "device", "the DAX device: block allocation and freeing"))
        .Row("blocks", ThinHeight, 0);

    private static Lane Lazy<TKey>(IDictionary<TKey, Lane> lanes, TKey key, Func<Lane> create) where TKey : notnull
    {
        if (!lanes.TryGetValue(key, out var lane))
        {
            lane = create();
            lanes[key] = lane;
        }
        return lane;
    }

    private Row Ops(TaskId t) => Task(t).Row("ops", OpsHeight, 0);

    private Row LockRow(TaskId t, FileId f, LockKind k) =>
        Task(t).Row($"{LockName(k)} {Fn(f)}", ThinHeight, 10 + f.Value * 2 + (int)k);

    private Row Waits(TaskId t) => Task(t).Row("waits", ThinHeight, 1000);

    private Row LeaseRow(TaskId t) => Task(t).Row("lease", ThinHeight, 1001);

    private static string LockName(LockKind k) => k == LockKind.IoLock ? "IOLOCK" : "MMAPLOCK";

    private static string Short(LockKind k) => k == LockKind.IoLock ? "io" : "mm";

    private static string Mode(LockMode m) => m == LockMode.Exclusive ? "ex" : "sh";

    // --- positions and tooltips ---------------------------------------------------------------

    private double X(Ev ev) => axis.X[ev.Index];

    private static string At(Ev ev) => $"#{ev.Index} @ {TimelineReport.Time(ev.Time)}";

    private static string Span(Ev from, Ev to) =>
        $"#{from.Index}–#{to.Index}, {TimelineReport.Time(from.Time)} → {TimelineReport.Time(to.Time)}";

    private string SpanToEnd(Ev from) =>
        $"#{from.Index}–end, {TimelineReport.Time(from.Time)} → {TimelineReport.Time(axis.EndTime)} (still so at the end of the run)";

    private static void Bar(Row row, double x0, double x1, string cls, string tip, string? text = null) =>
        row.Shapes.Add(new Shape(ShapeKind.Bar, x0, Math.Max(x1, x0), cls, tip, text));

    private void Tick(Row row, Ev ev, string cls, string tip) =>
        row.Shapes.Add(new Shape(ShapeKind.Tick, X(ev), X(ev), cls, $"{At(ev)}: {tip}"));

    private void Mark(Row row, Ev ev, string sym, string cls, string tip, string? text = null) =>
        row.Shapes.Add(new Shape(ShapeKind.Mark, X(ev), X(ev), cls, $"{At(ev)}: {tip}", text, sym));

    // --- events -------------------------------------------------------------------------------

    private void Add(Ev ev)
    {
        switch (ev.E)
        {
            case OpStarted m:
                _ops[m.Task.Value] = (ev, m);
                break;
            case OpCompleted m:
                if (_ops.Remove(m.Task.Value, out var op))
                {
                    var name = m.Op.JsonName();
                    var cls = m.Result switch
                    {
                        Errno.Ok => "op-ok",
                        Errno.KILLED => "op-killed",
                        _ => "op-err",
                    };
                    var file = op.Op.File is { } f ? $" '{Fn(f)}'" : "";
                    Bar(Ops(m.Task), X(op.Ev), X(ev), cls,
                        $"{Span(op.Ev, ev)}: {name}{file} (step {op.Op.Step}, iteration {op.Op.Iteration}) → {m.Result.Name()}",
                        m.Result == Errno.Ok ? name : $"{name} {m.Result.Name()}");
                }
                break;
            case TaskEnded m:
                Mark(Ops(m.Task), ev, m.Killed ? "cross" : "small", m.Killed ? "killed" : "ended",
                    m.Killed ? "the task was killed" : "the task ran all its steps");
                break;
            case FaultInjected m:
                Mark(Ops(m.Task), ev, "tri", "fault", $"fault injected: {m.Kind}", m.Kind);
                break;
            case SignalReceived m:
                Mark(Waits(m.Task), ev, "tri", "sig",
                    m.InterruptedWait ? "signal received: it ended an interruptible wait" : "signal received: pending");
                break;
            case LockRequested m:
            {
                _lockWaits[(m.Task.Value, m.File.Value, m.Kind)] = (ev, m.Mode);
                LockRow(m.Task, m.File, m.Kind);
                var state = LockChange(m.File, m.Kind, ev);
                state.Queue.Add((m.Task, m.Mode));
                break;
            }
            case LockAcquired m:
            {
                var key = (m.Task.Value, m.File.Value, m.Kind);
                if (_lockWaits.Remove(key, out var wait))
                {
                    Bar(LockRow(m.Task, m.File, m.Kind), X(wait.Ev), X(ev), $"w-{Short(m.Kind)}",
                        $"{Span(wait.Ev, ev)}: waits for {LockName(m.Kind)} of '{Fn(m.File)}' ({Mode(m.Mode)})", "wait");
                }
                _lockHolds[key] = (ev, m.Mode);
                var state = LockChange(m.File, m.Kind, ev);
                state.Queue.RemoveAll(q => q.Task == m.Task);
                state.Holders.Add((m.Task, m.Mode));
                break;
            }
            case LockReleased m:
            {
                var key = (m.Task.Value, m.File.Value, m.Kind);
                if (_lockHolds.Remove(key, out var hold))
                {
                    Bar(LockRow(m.Task, m.File, m.Kind), X(hold.Ev), X(ev), $"h-{Short(m.Kind)}-{(hold.Mode == LockMode.Exclusive ? "x" : "s")}",
                        $"{Span(hold.Ev, ev)}: holds {LockName(m.Kind)} of '{Fn(m.File)}' {Mode(hold.Mode)}", Mode(hold.Mode));
                }
                var state = LockChange(m.File, m.Kind, ev);
                state.Holders.RemoveAll(h => h.Task == m.Task);
                break;
            }
            case LockWithdrawn m:
            {
                if (_lockWaits.Remove((m.Task.Value, m.File.Value, m.Kind), out var wait))
                {
                    Bar(LockRow(m.Task, m.File, m.Kind), X(wait.Ev), X(ev), $"w-{Short(m.Kind)}",
                        $"{Span(wait.Ev, ev)}: waited for {LockName(m.Kind)} of '{Fn(m.File)}', then withdrew (killed)", "wait");
                }
                var state = LockChange(m.File, m.Kind, ev);
                state.Queue.RemoveAll(q => q.Task == m.Task);
                break;
            }
            case PageGot m:
            {
                var row = PageRow(m.Page);
                row.Steps!.Add((X(ev), m.Refcount));
                row.MaxValue = Math.Max(row.MaxValue, m.Refcount);
                _refcounts[m.Page.Value] = m.Refcount;
                if (m.Speculative)
                {
                    Mark(row, ev, "small", "spec",
                        $"{Tn(m.Task)} takes a speculative reference (GUP fast path, before its PTE re-check): refcount {m.Refcount}");
                }
                break;
            }
            case PagePut m:
            {
                var row = PageRow(m.Page);
                row.Steps!.Add((X(ev), m.Refcount));
                _refcounts[m.Page.Value] = m.Refcount;
                break;
            }
            case PageMapped m:
            {
                var row = PageRow(m.Page);
                row.Steps!.Add((X(ev), m.Refcount));
                row.MaxValue = Math.Max(row.MaxValue, m.Refcount);
                _refcounts[m.Page.Value] = m.Refcount;
                _mapcounts[m.Page.Value] = m.Mapcount;
                break;
            }
            case PageUnmapped m:
            {
                var row = PageRow(m.Page);
                row.Steps!.Add((X(ev), m.Refcount));
                _refcounts[m.Page.Value] = m.Refcount;
                _mapcounts[m.Page.Value] = m.Mapcount;
                break;
            }
            case OpRestarted m:
                Mark(Task(m.Task).Row("ops", OpsHeight, 0), ev, "small", "restart",
                    $"{Tn(m.Task)}'s {m.Op.JsonName()} was interrupted (-ERESTARTSYS); the handler has SA_RESTART: it starts again");
                break;
            case EntryLockWaited m:
                Tick(Mapping(m.File).Row("DAX entries", ThinHeight, 1), ev, m.Skipped ? "entry-skip" : "entry-wait",
                    $"{Tn(m.Task)} waited for the locked DAX entry of '{Fn(m.File)}' page {m.Index}" +
                    (m.Skipped ? ", then went on without looking at it" : ""));
                break;
            case WaitSleeping m:
                _sleeps[m.Task.Value] = (ev, m);
                Waits(m.Task);
                break;
            case WaitEnded m:
                if (_sleeps.Remove(m.Task.Value, out var sleep))
                {
                    Bar(Waits(m.Task), X(sleep.Ev), X(ev), "sleep",
                        $"{Span(sleep.Ev, ev)}: sleeps until page-{m.Page.Value} goes idle (refcount {sleep.W.Refcount} when it slept); ended: {m.How}",
                        $"page-{m.Page.Value} {m.How}");
                }
                else
                {
                    Tick(Waits(m.Task), ev, "already-idle",
                        m.How == WaitEnd.AlreadyIdle
                            ? $"page-{m.Page.Value} was already idle: no sleep"
                            : $"the wait for page-{m.Page.Value} ended: {m.How}");
                }
                break;
            case IdleNotified m:
                Mark(PageRow(m.Page), ev, "circle", "idle",
                    $"page-{m.Page.Value} went idle (refcount {m.Refcount}): idle notification, {m.Woken} waiter(s) woken",
                    m.Woken > 0 ? $"woke {m.Woken}" : null);
                break;
            case DmaLanded m:
                Tick(PageRow(m.Page), ev, "dma", m.FromPage
                    ? $"DMA of {Tn(m.Task)}'s write reads page-{m.Page.Value}, meant to be '{Fn(m.File)}' page {m.Index}"
                    : $"DMA of {Tn(m.Task)}'s read lands in page-{m.Page.Value}, meant for '{Fn(m.File)}' page {m.Index}");
                break;
            case PteInstalled m:
                Tick(Mapping(m.File).Row("PTEs", ThinHeight, 0), ev, "pte",
                    $"PTE installed: {Pn(m.Mm)} mapping of '{Fn(m.File)}' page {m.Index} → page-{m.Page.Value}");
                break;
            case PteZapped m:
                Tick(Mapping(m.File).Row("PTEs", ThinHeight, 0), ev, "zap",
                    $"PTE zapped: {Pn(m.Mm)} mapping of '{Fn(m.File)}' page {m.Index} (page-{m.Page.Value})");
                break;
            case EntryInserted m:
                Tick(Mapping(m.File).Row("DAX entries", ThinHeight, 1), ev, "entry",
                    $"DAX entry inserted: '{Fn(m.File)}' page {m.Index} → page-{m.Page.Value}");
                break;
            case EntryDeleted m:
                Tick(Mapping(m.File).Row("DAX entries", ThinHeight, 1), ev, "entry-del",
                    $"DAX entry deleted: '{Fn(m.File)}' page {m.Index} (page-{m.Page.Value})");
                break;
            case PteRechecked m:
                if (!m.Present)
                {
                    Mark(Waits(m.Task), ev, "cross", "recheck",
                        $"GUP fast path: the PTE of '{Fn(m.File)}' page {m.Index} is gone on re-check; the reference is dropped");
                }
                break;
            case BusyScanDone m:
                Mark(Mapping(m.File).Row("busy scan", 20, 2), ev, "diamond", m.Busy is null ? "nobusy" : "busy",
                    $"dax_layout_busy_page for {Tn(m.Task)}" + (m.Unmapped ? " (unmapped every PTE first)" : "") +
                    (m.Busy is { } b ? $": page-{b.Value} is busy, refcount {m.Refcount}" : ": no busy page"),
                    m.Busy is { } bp ? $"page-{bp.Value} busy" : "none busy");
                break;
            case BreakLayoutsRetry m:
                Mark(Waits(m.Task), ev, "small", "retry", $"xfs_break_layouts on '{Fn(m.File)}' goes round again (retry)");
                break;
            case ExtentMapped m:
                Tick(Inode(m.File).Row("extents", ThinHeight, 2), ev, "ext",
                    $"extent mapped: '{Fn(m.File)}' page {m.Index} → block {m.Block.Value}");
                break;
            case ExtentRemoved m:
                Tick(Inode(m.File).Row("extents", ThinHeight, 2), ev, "ext-rm",
                    $"extent removed: '{Fn(m.File)}' page {m.Index} (block {m.Block.Value})");
                break;
            case ExtentMoved m:
                Tick(Inode(m.File).Row("extents", ThinHeight, 2), ev, "ext",
                    $"extent moved: '{Fn(m.File)}' page {m.From} → {m.To} (block {m.Block.Value})");
                break;
            case SizeChanged m:
                Mark(Inode(m.File).Row("extents", ThinHeight, 2), ev, "diamond", "size",
                    $"size of '{Fn(m.File)}' is now {m.Size} page(s)", $"size {m.Size}");
                break;
            case LayoutChanged m:
                Mark(Inode(m.File).Row("extents", ThinHeight, 2), ev, "small", "layout",
                    $"{Tn(m.Task)}'s {m.Op.JsonName()} changed the layout of '{Fn(m.File)}'" +
                    (m.First <= m.Last ? $", pages {m.First}-{m.Last} unmapped" : "") + $", size {m.Size}");
                break;
            case BlockAllocated m:
            {
                _owners[m.Block.Value] = (ev, m.File);
                Tick(Device(), ev, "alloc", $"block {m.Block.Value} allocated to '{Fn(m.File)}'");
                PageRow(m.Block);
                break;
            }
            case BlockFreed m:
            {
                var row = PageRow(m.Block);
                CloseOwner(m.Block.Value, X(ev), ev);
                var refcount = _refcounts.GetValueOrDefault(m.Block.Value, idle);
                var pinned = refcount - idle - _mapcounts.GetValueOrDefault(m.Block.Value) > 0;
                Mark(row, ev, "cross", pinned ? "freed-pinned" : "freed",
                    $"block {m.Block.Value} freed by '{Fn(m.File)}'" + (pinned ? $" while its refcount is {refcount}" : ""),
                    pinned ? "freed while pinned" : "freed");
                Tick(Device(), ev, "free", $"block {m.Block.Value} freed by '{Fn(m.File)}'");
                break;
            }
            case LeaseTaken m:
                _leases[(m.Task.Value, m.File.Value)] = ev;
                LeaseRow(m.Task);
                break;
            case LeaseRecalled m:
                Mark(LeaseRow(m.Task), ev, "tri", "sig", $"the layout lease on '{Fn(m.File)}' is recalled");
                break;
            case LeaseReleased m:
                if (_leases.Remove((m.Task.Value, m.File.Value), out var taken))
                {
                    Bar(LeaseRow(m.Task), X(taken), X(ev), m.Revoked ? "lease-revoked" : "lease",
                        $"{Span(taken, ev)}: holds the layout lease on '{Fn(m.File)}'" + (m.Revoked ? ", then it was revoked" : ", then returned it"),
                        m.Revoked ? "lease revoked" : "lease");
                    Bar(Inode(m.File).Row("lease", ThinHeight, 3), X(taken), X(ev), m.Revoked ? "lease-revoked" : "lease",
                        $"{Span(taken, ev)}: {Tn(m.Task)} holds the layout lease", Tn(m.Task));
                }
                break;
            case LeaseBreakWaiting m:
                _leaseBreaks[m.Task.Value] = (ev, m.File);
                Waits(m.Task);
                break;
            case LeaseBreakDone m:
                if (_leaseBreaks.Remove(m.Task.Value, out var lb))
                {
                    Bar(Waits(m.Task), X(lb.Ev), X(ev), "lbreak",
                        $"{Span(lb.Ev, ev)}: blocking lease break on '{Fn(m.File)}' waits for the holders → {m.Result.Name()}",
                        "lease break");
                }
                break;
        }
    }

    /// <summary>The inode's lock (file, kind) changes at <paramref name="ev"/>: close the holders' segment so far.</summary>
    private LockState LockChange(FileId file, LockKind kind, Ev ev)
    {
        if (!_locks.TryGetValue((file.Value, kind), out var state))
        {
            state = new LockState();
            _locks[(file.Value, kind)] = state;
            Inode(file).Row(LockName(kind), ThinHeight + 2, (int)kind);
        }
        CloseSegment(file, kind, state, X(ev), ev);
        state.Since = ev;
        return state;
    }

    private void CloseSegment(FileId file, LockKind kind, LockState state, double x, Ev? end)
    {
        if (state.Since is not { } since || state.Holders.Count == 0)
        {
            return;
        }
        var exclusive = state.Holders.Any(h => h.Mode == LockMode.Exclusive);
        var holders = string.Join(", ", state.Holders.Select(h => Tn(h.Task)));
        var text = $"{holders} {(exclusive ? "ex" : "sh")}" + (state.Queue.Count > 0 ? $" · {state.Queue.Count} waiting" : "");
        var waiting = state.Queue.Count > 0
            ? "; waiting: " + string.Join(", ", state.Queue.Select(q => $"{Tn(q.Task)} ({Mode(q.Mode)})"))
            : "";
        var span = end is { } e ? Span(since, e) : SpanToEnd(since);
        Bar(Inode(file).Row(LockName(kind), ThinHeight + 2, (int)kind), X(since), x,
            $"h-{Short(kind)}-{(exclusive ? "x" : "s")}",
            $"{span}: {LockName(kind)} of '{Fn(file)}' held by {string.Join(", ", state.Holders.Select(h => $"{Tn(h.Task)} ({Mode(h.Mode)})"))}{waiting}",
            text);
    }

    private void CloseOwner(int block, double x, Ev? end)
    {
        if (_owners.Remove(block, out var owner))
        {
            var span = end is { } e ? Span(owner.Ev, e) : SpanToEnd(owner.Ev);
            PageRow(new PageId(block)).Bands.Add(new Band(X(owner.Ev), x, owner.File.Value, Fn(owner.File),
                $"{span}: block {block} belongs to '{Fn(owner.File)}'"));
        }
    }

    /// <summary>What is still open at the end of the run runs to the end, drawn so.</summary>
    private void Finish()
    {
        var end = axis.End;
        foreach (var (task, (ev, op)) in _ops)
        {
            Bar(Ops(new TaskId(task)), X(ev), end, "op-open",
                $"{SpanToEnd(ev)}: {op.Op.JsonName()} (step {op.Step}, iteration {op.Iteration}) has not finished",
                $"{op.Op.JsonName()} …");
        }
        foreach (var ((task, file, kind), (ev, mode)) in _lockWaits)
        {
            Bar(LockRow(new TaskId(task), new FileId(file), kind), X(ev), end, $"w-{Short(kind)}",
                $"{SpanToEnd(ev)}: waits for {LockName(kind)} of '{Fn(new FileId(file))}' ({Mode(mode)})", "waits…");
        }
        foreach (var ((task, file, kind), (ev, mode)) in _lockHolds)
        {
            Bar(LockRow(new TaskId(task), new FileId(file), kind), X(ev), end,
                $"h-{Short(kind)}-{(mode == LockMode.Exclusive ? "x" : "s")}",
                $"{SpanToEnd(ev)}: holds {LockName(kind)} of '{Fn(new FileId(file))}' {Mode(mode)}", $"{Mode(mode)} …");
        }
        foreach (var (task, (ev, w)) in _sleeps)
        {
            Bar(Waits(new TaskId(task)), X(ev), end, "sleep",
                $"{SpanToEnd(ev)}: sleeps until page-{w.Page.Value} goes idle (refcount {w.Refcount} when it slept)",
                $"sleeps on page-{w.Page.Value} …");
        }
        foreach (var (task, (ev, file)) in _leaseBreaks)
        {
            Bar(Waits(new TaskId(task)), X(ev), end, "lbreak",
                $"{SpanToEnd(ev)}: blocking lease break on '{Fn(file)}' waits for the holders", "lease break …");
        }
        foreach (var ((task, file), ev) in _leases)
        {
            Bar(LeaseRow(new TaskId(task)), X(ev), end, "lease", $"{SpanToEnd(ev)}: holds the layout lease on '{Fn(new FileId(file))}'", "lease …");
        }
        foreach (var ((file, kind), state) in _locks)
        {
            CloseSegment(new FileId(file), kind, state, end, null);
        }
        foreach (var block in _owners.Keys.ToList())
        {
            CloseOwner(block, end, null);
        }
    }

    // --- keeping rows drawable ----------------------------------------------------------------

    /// <summary>
    /// Merges shapes that the drawing cannot tell apart (less than a pixel wide and within
    /// half a pixel of the one before, same class). A row that still has more than RowCap
    /// shapes is cut into RowCap buckets of equal width (then twice as wide, and so on), and
    /// the shapes of one class that start in one bucket become one; as a last resort, shapes
    /// of any class.
    /// </summary>
    internal static List<Shape> Coalesce(List<Shape> shapes, double width, out int merged)
    {
        var sorted = shapes.OrderBy(s => s.X0).ToList();
        var result = Merge(sorted, byClass: true, (group, s) => s.X1 - s.X0 < 1 && s.X0 - group.X1 <= 0.5);
        var bucket = Math.Max(width, 1) / TimelineReport.RowCap;
        for (var round = 0; result.Count > TimelineReport.RowCap && round < 8; round++, bucket *= 2)
        {
            var b = bucket;
            result = Merge(result, byClass: true, (group, s) => Math.Floor(group.X0 / b) == Math.Floor(s.X0 / b));
        }
        if (result.Count > TimelineReport.RowCap)
        {
            var b = bucket;
            result = Merge(result, byClass: false, (group, s) => Math.Floor(group.X0 / b) == Math.Floor(s.X0 / b));
        }
        merged = shapes.Count - result.Count;
        return result;
    }

    /// <summary>
    /// One pass over the shapes in order of X0: a shape joins the last group of its kind (and
    /// class, if <paramref name="byClass"/>) when <paramref name="join"/> says so.
    /// </summary>
    private static List<Shape> Merge(List<Shape> sorted, bool byClass, Func<Shape, Shape, bool> join)
    {
        var result = new List<Shape>(sorted.Count);
        var last = new Dictionary<(ShapeKind, string), int>();
        foreach (var s in sorted)
        {
            var key = (s.Kind, byClass ? s.Cls : "");
            if (last.TryGetValue(key, out var i) && join(result[i], s))
            {
                var into = result[i];
                result[i] = into with
                {
                    X1 = Math.Max(into.X1, s.X1),
                    Cls = into.Cls == s.Cls ? into.Cls : "mixed",
                    Count = into.Count + s.Count,
                    LastTip = s.LastTip ?? s.Tip,
                };
            }
            else
            {
                result.Add(s);
                last[key] = result.Count - 1;
            }
        }
        return result;
    }

    /// <summary>The owner strip of a page, merged like the shapes when it has more than RowCap spells.</summary>
    internal static List<Band> CoalesceBands(List<Band> bands, double width)
    {
        var result = bands.OrderBy(b => b.X0).ToList();
        var bucket = Math.Max(width, 1) / TimelineReport.RowCap;
        for (var round = 0; result.Count > TimelineReport.RowCap && round < 8; round++, bucket *= 2)
        {
            var merged = new List<Band>();
            foreach (var b in result)
            {
                if (merged.Count > 0 && merged[^1].Color == b.Color &&
                    Math.Floor(merged[^1].X0 / bucket) == Math.Floor(b.X0 / bucket))
                {
                    merged[^1] = merged[^1] with { X1 = Math.Max(merged[^1].X1, b.X1), Count = merged[^1].Count + b.Count };
                }
                else
                {
                    merged.Add(b);
                }
            }
            result = merged;
        }
        return result;
    }
}
