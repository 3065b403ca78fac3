using DaxSim.Protocol;
using DaxSim.Protocol.Messages;

namespace DaxSim.Actors.Inode;

/// <summary>
/// A reader/writer lock with FIFO fairness, as the inode's IOLOCK and MMAPLOCK. Requests
/// are granted strictly in arrival order: a queued exclusive request blocks every shared
/// request behind it, even while the lock is held shared. A plain class so that the
/// grant rules can be tested without actors.
/// </summary>
public sealed class FifoRwLock
{
    public readonly record struct Request(TaskId Task, LockMode Mode, long Seq);

    // Every lock and unlock of the load goes through here: plain lists, loops and one
    // reused list of grants, so that a lock round trip allocates nothing.
    private readonly List<(TaskId Task, LockMode Mode)> _holders = [];
    private readonly List<Request> _queue = [];
    private readonly List<Request> _granted = [];

    public IReadOnlyList<(TaskId Task, LockMode Mode)> Holders => _holders;

    public IEnumerable<Request> Queue => _queue;

    public bool IsHeldBy(TaskId task) => ModeOf(task) is not null;

    public LockMode? ModeOf(TaskId task)
    {
        foreach (var h in _holders)
        {
            if (h.Task == task)
            {
                return h.Mode;
            }
        }
        return null;
    }

    /// <summary>
    /// Queue a request; returns the requests granted by it (this one, if it can go at once).
    /// The list is the lock's own and holds until its next Acquire or Release.
    /// </summary>
    public IReadOnlyList<Request> Acquire(TaskId task, LockMode mode, long seq)
    {
        if (IsHeldBy(task) || QueuedAt(task) >= 0)
        {
            throw new InvalidOperationException($"{task} asked again for a lock it holds or waits for");
        }
        _queue.Add(new Request(task, mode, seq));
        return Pump();
    }

    /// <summary>
    /// Release the task's hold, or withdraw its queued request. Returns what that lets
    /// through (until the next Acquire or Release), and whether the task held the lock
    /// (its mode), was queued (Withdrawn), or neither.
    /// </summary>
    public (IReadOnlyList<Request> Granted, LockMode? Released, bool Withdrawn) Release(TaskId task)
    {
        for (var i = 0; i < _holders.Count; i++)
        {
            if (_holders[i].Task == task)
            {
                var mode = _holders[i].Mode;
                _holders.RemoveAt(i);
                return (Pump(), mode, false);
            }
        }
        var queued = QueuedAt(task);
        if (queued >= 0)
        {
            _queue.RemoveAt(queued);
            return (Pump(), null, true);
        }
        _granted.Clear();
        return (_granted, null, false);
    }

    private int QueuedAt(TaskId task)
    {
        for (var i = 0; i < _queue.Count; i++)
        {
            if (_queue[i].Task == task)
            {
                return i;
            }
        }
        return -1;
    }

    private bool HeldExclusive()
    {
        foreach (var h in _holders)
        {
            if (h.Mode == LockMode.Exclusive)
            {
                return true;
            }
        }
        return false;
    }

    private List<Request> Pump()
    {
        _granted.Clear();
        var next = 0;
        while (next < _queue.Count)
        {
            var r = _queue[next];
            var compatible = r.Mode == LockMode.Exclusive ? _holders.Count == 0 : !HeldExclusive();
            if (!compatible)
            {
                break;
            }
            next++;
            _holders.Add((r.Task, r.Mode));
            _granted.Add(r);
        }
        _queue.RemoveRange(0, next);
        return _granted;
    }
}
