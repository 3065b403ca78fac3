using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;

namespace DaxSim.Host.Checking;

/// <summary>
/// L3 bounded completion: every operation completes within limits.opBound of when it could
/// run on its own, that is after the pins, O_DIRECT transfers and lock holders ahead of it
/// have gone and its own I/O or sleep (StepFacts.OwnTime) is done; steps StepFacts does not
/// bound (a load's pacing) are never late. The runtime polls the deadlines as time advances
/// (NextDeadline, CheckDeadlines); the run's limits (virtual time, deliveries) are L3 too. While a crashed
/// node is not yet removed, or a partition lasts, no operation is held to its bound; once the
/// cluster settles, every operation in flight gets its bound again, counted from then.
/// </summary>
public sealed class BoundedCompletionMonitor
{
    private readonly World _world;
    private readonly Findings _findings;
    private readonly LostWakeupMonitor _lostWakeup;
    private readonly long _l3Slack;
    private readonly long _opBound;

    // Per task and step: its own time in ticks (-1: not bounded), the files whose locks it
    // takes, and the file whose pages it pins (or null).
    private readonly long[][] _own;
    private readonly IReadOnlyList<FileId>[][] _lockFiles;
    private readonly FileId?[][] _pinnedFile;

    // What an operation may have to wait for before its bound counts: the pins on each file's
    // pages, and the holders and waiters of each lock, in the order they came (Line); and each
    // lock request's place in its line.
    private readonly Line[] _pinLines;
    private readonly Line[,] _lockLines;
    private readonly Dictionary<(int Task, int File, LockKind Kind), LinkedListNode<Place>> _lockPlaces = new();

    // Unblocked operations by when their bound starts counting (unblocked, plus their own
    // I/O or sleep), earliest first; completed ones are skipped lazily. A deadline is that
    // time, or when the cluster settled if later, plus the bound: ordered the same way.
    private readonly PriorityQueue<Operation, (long From, int Task)> _deadlines = new();

    // Reused: the operations let through by one departure, and those found overdue.
    private readonly List<Operation> _through = [];
    private readonly List<Operation> _overdue = [];

    private readonly HashSet<int> _unsettledNodes = [];
    private bool _partitioned;
    private long _settledAt;

    public BoundedCompletionMonitor(World world, Findings findings, LostWakeupMonitor lostWakeup, long l3Slack)
    {
        _world = world;
        _findings = findings;
        _lostWakeup = lostWakeup;
        _l3Slack = l3Slack;
        var scenario = world.Scenario;
        _opBound = scenario.Limits.OpBound.Ticks;
        _own = scenario.Tasks.Select(t => t.Steps.Select(s => s.Bounded() ? s.OwnTime(scenario).Ticks : -1).ToArray()).ToArray();
        _lockFiles = scenario.Tasks.Select(t => t.Steps.Select(s => s.LockedFiles()).ToArray()).ToArray();
        _pinnedFile = scenario.Tasks.Select(t => t.Steps.Select(s => s.PinnedFile()).ToArray()).ToArray();
        var files = scenario.Files.Count;
        _pinLines = new Line[files];
        _lockLines = new Line[files, 2];
        for (var f = 0; f < files; f++)
        {
            _pinLines[f] = new Line();
            _lockLines[f, 0] = new Line();
            _lockLines[f, 1] = new Line();
        }
    }

    private bool Unsettled => _partitioned || _unsettledNodes.Count > 0;

    // --- who is ahead -------------------------------------------------------------------------

    /// <summary>
    /// A new pin: it joins its file's line. A pin the task's operation takes on the file it
    /// pins came with that operation: it goes where the operation's place is, ahead of every
    /// operation that started after it (an O_DIRECT read that started before a truncate can
    /// take its pins after the truncate has started, and the truncate waits for them without
    /// starving: the kernel's gup takes the reference after the fault, outside MMAPLOCK).
    /// </summary>
    public LinkedListNode<Place> PinTaken(PageGot m)
    {
        var line = _pinLines[m.File.Value];
        return _world.Ops[m.Task.Value] is { PinPlace: { } place } op && _pinnedFile[m.Task.Value][op.Step] == m.File
            ? line.ArriveWith(place)
            : line.Arrive(_world.Arrival, m.Task);
    }

    /// <summary>A pin went (the task's last reference on the page).</summary>
    public void PinGone(World.Pin pin) => Leave(_pinLines[pin.File.Value], pin.Place!);

    public void LockJoined(TaskId task, FileId file, LockKind kind)
    {
        var key = (task.Value, file.Value, kind);
        if (!_lockPlaces.ContainsKey(key))
        {
            _lockPlaces[key] = _lockLines[file.Value, (int)kind].Arrive(_world.Arrival, task);
        }
    }

    public void LockLeft(TaskId task, FileId file, LockKind kind)
    {
        if (_lockPlaces.Remove((task.Value, file.Value, kind), out var place))
        {
            Leave(_lockLines[file.Value, (int)kind], place);
        }
    }

    private void Leave(Line line, LinkedListNode<Place> place)
    {
        line.Leave(place, _world.Ops, _through);
        if (_through.Count == 0)
        {
            return;
        }
        var now = _world.Now;
        foreach (var op in _through)
        {
            Unblocked(op, now);
        }
        _through.Clear();
    }

    // --- operations -----------------------------------------------------------------------------

    /// <summary>After the world started the operation.</summary>
    public void OpStarted(OpStarted m, Operation op)
    {
        var own = _own[m.Task.Value][m.Step];
        if (own < 0)
        {
            // Never late: not in the deadlines at all.
            op.Own = 0;
            return;
        }
        op.Own = own;
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
            Unblocked(op, _world.Now);
        }
        // An operation that pins pages of a file is ahead, from its start, of every operation
        // on that file that starts after it, until it has ended: its pins come later.
        if (_pinnedFile[m.Task.Value][m.Step] is { } pinned)
        {
            op.PinPlace = _pinLines[pinned.Value].Arrive(op.Arrival, m.Task);
        }
    }

    /// <summary>Before the world ends the operation (it returned, or its task was lost): its place goes.</summary>
    public void OpEnded(Operation? op)
    {
        if (op is { PinPlace: { } place } && _pinnedFile[op.Task.Value][op.Step] is { } file)
        {
            op.PinPlace = null;
            Leave(_pinLines[file.Value], place);
        }
    }

    /// <summary>An operation starts: it waits in the line if someone of another task is ahead of it.</summary>
    private static void Join(Line line, Operation op)
    {
        if (op.WaitingIn?.Contains(line) != true && line.KeepsOut(op))
        {
            line.Hold(op);
        }
    }

    private void Unblocked(Operation op, long now)
    {
        op.UnblockedAt = now;
        _deadlines.Enqueue(op, (now + op.Own, op.Task.Value));
    }

    public void NodeCrashed(NodeCrashed m) => _unsettledNodes.Add(m.Node);

    public void NodeRemoved(NodeRemoved m)
    {
        _unsettledNodes.Remove(m.Node);
        Settle();
    }

    public void Partitioned() => _partitioned = true;

    public void Healed()
    {
        _partitioned = false;
        Settle();
    }

    private void Settle()
    {
        if (!Unsettled)
        {
            _settledAt = _world.Now;
        }
    }

    // --- deadlines ------------------------------------------------------------------------------

    private long Deadline(Operation op) => op.UnblockedAt is { } unblocked && !Unsettled
        ? Math.Max(unblocked + op.Own, _settledAt) + _opBound + _l3Slack
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

    /// <summary>Report an operation still in flight past its deadline at <paramref name="now"/>.</summary>
    public void CheckDeadlines(long now)
    {
        // Of the operations overdue, the one of the lowest task is reported.
        Operation? first = null;
        while (_deadlines.TryPeek(out var candidate, out _) && Deadline(candidate) <= now)
        {
            _deadlines.Dequeue();
            if (candidate.Done)
            {
                continue;
            }
            _overdue.Add(candidate);
            if (first is null || candidate.Task.Value < first.Task.Value)
            {
                first = candidate;
            }
        }
        foreach (var o in _overdue)
        {
            _deadlines.Enqueue(o, (o.UnblockedAt!.Value + o.Own, o.Task.Value));
        }
        _overdue.Clear();
        if (first is not { } op)
        {
            return;
        }
        // Overdue because it sleeps on a page that is already idle: say so (L2).
        if (_lostWakeup.Check(op.Task.Value, now))
        {
            return;
        }
        var waited = TimeSpan.FromTicks(now - op.Start);
        var since = TimeSpan.FromTicks(now - (op.UnblockedAt!.Value + op.Own));
        var what = op.File is { } f ? $"{op.Op.JsonName()} of {_world.F(f)}" : op.Op.JsonName();
        var limits = _world.Scenario.Limits;
        _findings.Report(InvariantId.L3, Verdict.Liveness,
            $"{_world.T(op.Task)}'s {what} has run for {Durations.Format(Round(waited))}, " +
            $"{Durations.Format(Round(since))} of it beyond its own {Durations.Format(Round(TimeSpan.FromTicks(op.Own)))} of I/O or sleep after the pins and lock holders ahead of it were gone " +
            $"(limits.opBound {Durations.Format(limits.OpBound)})",
            [_world.T(op.Task)], _world.WaitChain(op.Task), now);
    }

    /// <summary>limits.virtualTime ran out with work left.</summary>
    public void TimeLimitReached(long now)
    {
        var waiting = _world.Unfinished();
        _findings.Report(InvariantId.L3, Verdict.Liveness,
            $"limits.virtualTime ({Durations.Format(_world.Scenario.Limits.VirtualTime)}) ran out with " +
            $"{waiting.Count} task(s) unfinished: {string.Join(", ", waiting.Select(_world.T))}",
            waiting.Select(_world.T), waiting.SelectMany(_world.WaitChain), now);
    }

    /// <summary>The delivery budget ran out without finishing (a livelock, time not advancing).</summary>
    public void DeliveryLimitReached(long deliveries)
    {
        var waiting = _world.Unfinished();
        _findings.Report(InvariantId.L3, Verdict.Liveness,
            $"limits.maxDeliveries ({deliveries}) messages were delivered and " +
            $"{waiting.Count} task(s) are still unfinished: {string.Join(", ", waiting.Select(_world.T))}",
            waiting.Select(_world.T), waiting.SelectMany(_world.WaitChain));
    }

    /// <summary>To the microsecond: real-time runs give times to the tick, which reads badly.</summary>
    private static TimeSpan Round(TimeSpan t) => TimeSpan.FromTicks(t.Ticks / 10 * 10);
}
