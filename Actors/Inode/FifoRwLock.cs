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

    private readonly List<(TaskId Task, LockMode Mode)> _holders = [];
    private readonly LinkedList<Request> _queue = new();

    public IReadOnlyList<(TaskId Task, LockMode Mode)> Holders => _holders;

    public IEnumerable<Request> Queue => _queue;

    public bool IsHeldBy(TaskId task) => _holders.Exists(h => h.Task == task);

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

    /// <summary>Queue a request; returns the requests granted by it (this one, if it can go at once).</summary>
    public List<Request> Acquire(TaskId task, LockMode mode, long seq)
    {
        if (IsHeldBy(task) || IsQueued(task))
        {
            throw new InvalidOperationException($"{task} asked again for a lock it holds or waits for");
        }
        _queue.AddLast(new Request(task, mode, seq));
        return Pump();
    }

    /// <summary>
    /// Release the task's hold, or withdraw its queued request. Returns what that lets
    /// through, and whether the task held the lock (true), was queued (false), or neither (null).
    /// </summary>
    public (List<Request> Granted, LockMode? Released, bool Withdrawn) Release(TaskId task)
    {
        var held = _holders.FindIndex(h => h.Task == task);
        if (held >= 0)
        {
            var mode = _holders[held].Mode;
            _holders.RemoveAt(held);
            return (Pump(), mode, false);
        }
        for (var node = _queue.First; node is not null; node = node.Next)
        {
            if (node.Value.Task == task)
            {
                _queue.Remove(node);
                return (Pump(), null, true);
            }
        }
        return ([], null, false);
    }

    private bool IsQueued(TaskId task)
    {
        foreach (var r in _queue)
        {
            if (r.Task == task)
            {
                return true;
            }
        }
        return false;
    }

    private List<Request> Pump()
    {
        var granted = new List<Request>();
        while (_queue.First is { } head)
        {
            var r = head.Value;
            var compatible = r.Mode == LockMode.Exclusive
                ? _holders.Count == 0
                : !_holders.Exists(h => h.Mode == LockMode.Exclusive);
            if (!compatible)
            {
                break;
            }
            _queue.RemoveFirst();
            _holders.Add((r.Task, r.Mode));
            granted.Add(r);
        }
        return granted;
    }
}
