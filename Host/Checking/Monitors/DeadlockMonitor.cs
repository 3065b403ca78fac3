using DaxSim.Protocol;

namespace DaxSim.Host.Checking;

/// <summary>
/// L1 deadlock: no wait-for cycle among tasks (lock holders and queues, pins and PTEs of a
/// page a task sleeps on, lease holders), and at quiescence no unfinished task. Cycles are
/// looked for only when the runtime says no message is in flight (CheckDeadlocks): a task
/// releases a lock by sending Unlock, so between the send and the inode taking it the model
/// would show an edge that is already going away.
/// </summary>
public sealed class DeadlockMonitor(World world, Findings findings)
{
    // The search's path and sets, and a list of waits per depth, kept between searches: the
    // search runs at every settled point of a run.
    private readonly List<World.Wait> _path = [];
    private readonly HashSet<TaskId> _onPath = [];
    private readonly HashSet<TaskId> _done = [];
    private readonly List<List<World.Wait>> _waits = [];

    /// <summary>Look for a wait-for cycle. Call only when no message is in flight.</summary>
    public void CheckDeadlocks()
    {
        for (var t = 0; t < world.Ended.Length && findings.Violation is null; t++)
        {
            // A task that waits for nothing can be on no cycle.
            if (!world.Ended[t] && world.Waiting(t))
            {
                CheckForDeadlock(new TaskId(t));
            }
        }
    }

    private void CheckForDeadlock(TaskId start)
    {
        if (findings.Violation is not null)
        {
            return;
        }
        _path.Clear();
        _onPath.Clear();
        _done.Clear();
        if (FindCycle(start, 0) is { } from)
        {
            var cycle = _path.GetRange(from, _path.Count - from);
            var names = cycle.Select(c => world.T(c.Waiter)).ToList();
            findings.Report(InvariantId.L1, Verdict.Liveness,
                $"deadlock: {string.Join(" → ", names.Append(names[0]))}",
                names, cycle.Select(world.Edge));
        }
    }

    /// <summary>Where on the path the cycle through <paramref name="task"/> starts, or null.</summary>
    private int? FindCycle(TaskId task, int depth)
    {
        if (!_done.Add(task))
        {
            return null;
        }
        _onPath.Add(task);
        if (_waits.Count == depth)
        {
            _waits.Add([]);
        }
        var waits = _waits[depth];
        waits.Clear();
        world.WaitsFor(task, waits);
        foreach (var wait in waits)
        {
            _path.Add(wait);
            if (_onPath.Contains(wait.Holder))
            {
                return _path.FindIndex(p => p.Waiter == wait.Holder);
            }
            if (FindCycle(wait.Holder, depth + 1) is { } from)
            {
                return from;
            }
            _path.RemoveAt(_path.Count - 1);
        }
        _onPath.Remove(task);
        return null;
    }

    /// <summary>Nothing can run: an unfinished task is on a cycle, or waits for what nothing can end.</summary>
    public void AtQuiescence()
    {
        var stuck = world.Unfinished();
        if (stuck.Count == 0)
        {
            return;
        }
        foreach (var task in stuck)
        {
            CheckForDeadlock(task);
        }
        findings.Report(InvariantId.L1, Verdict.Liveness,
            $"nothing can run and {stuck.Count} task(s) are unfinished: {string.Join(", ", stuck.Select(world.T))}",
            stuck.Select(world.T), stuck.SelectMany(world.WaitChain));
    }
}
