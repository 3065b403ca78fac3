using DaxSim.Actors;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;

namespace DaxSim.Host.Checking;

/// <summary>
/// The invariants of docs/design.md ("Invariants and when they are judged"), checked on a
/// run's trace: one model of the world (World), fed by trace events alone, and one monitor
/// per invariant that reacts to the events it cares about and at quiescence.
///
/// Safety: S1 use-after-free (UseAfterFreeMonitor), S2 refcount (RefcountMonitor), S3 locks
/// (LockMonitor), S4 mappings (MappingMonitor): checked as each event arrives. Liveness: L1
/// deadlock (DeadlockMonitor: a wait-for cycle when the runtime says no message is in
/// flight, or at quiescence work left that nothing can advance), L2 lost wakeup
/// (LostWakeupMonitor: at quiescence, a sleeper on an idle page), L3 bounded completion
/// (BoundedCompletionMonitor: deadlines the runtime polls as time advances).
///
/// Observe routes each event: the monitors that judge the world as it was look first, the
/// world takes the event, then the monitors that judge the world as it is now. The first
/// violation reported is the run's finding (Findings).
/// </summary>
public sealed class InvariantChecker
{
    private readonly World _world;
    private readonly Findings _findings;
    private readonly UseAfterFreeMonitor _s1;
    private readonly RefcountMonitor _s2;
    private readonly LockMonitor _s3;
    private readonly MappingMonitor _s4;
    private readonly DeadlockMonitor _l1;
    private readonly LostWakeupMonitor _l2;
    private readonly BoundedCompletionMonitor _l3;

    /// <param name="l3Slack">
    /// Added to every L3 bound: the local runtime runs in real time, where timers tick every
    /// 10 ms and a cold process compiles as it goes, so a bound tight enough for virtual
    /// time would report scheduling noise as starvation.
    /// </param>
    public InvariantChecker(Scenario scenario, ProtocolPolicy policy, Func<long> now, bool recordOps,
        TimeSpan l3Slack = default)
    {
        _world = new World(scenario, policy, now, recordOps);
        _findings = new Findings(_world);
        _s1 = new UseAfterFreeMonitor(_world, _findings);
        _s2 = new RefcountMonitor(_world, _findings);
        _s3 = new LockMonitor(_world, _findings);
        _s4 = new MappingMonitor(_world, _findings);
        _l1 = new DeadlockMonitor(_world, _findings);
        _l2 = new LostWakeupMonitor(_world, _findings);
        _l3 = new BoundedCompletionMonitor(_world, _findings, _l2, l3Slack.Ticks);
    }

    public Violation? Violation => _findings.Violation;

    /// <summary>An actor threw (a bug in DaxSim, not a finding).</summary>
    public string? Failure => _world.Failure;

    /// <summary>Stop the run: a violation or an internal failure.</summary>
    public bool Stopped => _findings.Violation is not null || _world.Failure is not null;

    public bool AllTasksEnded => _world.EndedCount == _world.Ended.Length;

    public IReadOnlyList<OpRecord> CompletedOps => _world.CompletedOps;

    public long OpsCompleted => _world.OpsCompleted;

    /// <summary>The outstanding pins, for progress displays.</summary>
    public int PinsOutstanding => _world.Pins.Count;

    /// <summary>The pins the task holds now, as the events tell (the cluster runtime: when a lost task's pins are all given back).</summary>
    public int PinsHeldBy(TaskId task)
    {
        var pins = 0;
        foreach (var key in _world.Pins.Keys)
        {
            if (World.PinTask(key) == task)
            {
                pins++;
            }
        }
        return pins;
    }

    /// <summary>The tasks that have not ended (nor been lost).</summary>
    public IReadOnlyList<TaskId> Unfinished => _world.Unfinished();

    /// <summary>
    /// Every wait of an unfinished task: (waiter, holder, why). For the cluster runtime's
    /// report of what a run that ended with work left was waiting for.
    /// </summary>
    public IReadOnlyList<(TaskId Task, TaskId Holder, string Why)> Waits()
    {
        var waits = new List<World.Wait>();
        for (var t = 0; t < _world.Ended.Length; t++)
        {
            if (!_world.Ended[t])
            {
                _world.WaitsFor(new TaskId(t), waits);
            }
        }
        return waits.Select(w => (w.Waiter, w.Holder, _world.Edge(w).Text)).ToList();
    }

    // --- events ------------------------------------------------------------------------------

    public void Observe(TraceEvent e)
    {
        _world.Arrive(e);
        try
        {
            Route(e);
        }
        finally
        {
            _world.Observing = null;
        }
    }

    private void Route(TraceEvent e)
    {
        var w = _world;
        switch (e)
        {
            case PteRechecked { Present: true } m:
                w.PageConfirmed(m.Task);
                break;
            case PageGot m:
            {
                var key = World.PinKey(m.Task, m.Page);
                if (w.PageGot(m, key))
                {
                    w.PinRef(key).Place = _l3.PinTaken(m);
                }
                break;
            }
            case PagePut m:
            {
                var key = World.PinKey(m.Task, m.Page);
                if (!w.PagePut(m, key, out var pin))
                {
                    _s2.PutWithoutReference(m);
                    break;
                }
                _s2.PagePut(m);
                if (pin.Count == 1)
                {
                    _l3.PinGone(pin);
                }
                _s1.PagePut(m, key);
                break;
            }
            case PageMapped m:
                w.PageMapped(m);
                break;
            case PageUnmapped m:
                w.PageUnmapped(m);
                _s2.PageUnmapped(m);
                break;
            case LockRequested m:
                w.LockRequested(m);
                _l3.LockJoined(m.Task, m.File, m.Kind);
                break;
            case LockAcquired m:
                // A grant without a request (a trace made by hand) holds the lock from now on.
                _l3.LockJoined(m.Task, m.File, m.Kind);
                _s3.LockAcquiring(m);
                w.LockAcquired(m);
                _s1.LockAcquired(m);
                break;
            case LockReleased m:
                w.LockReleased(m);
                _l3.LockLeft(m.Task, m.File, m.Kind);
                break;
            case LockWithdrawn m:
                w.LockWithdrawn(m);
                _l3.LockLeft(m.Task, m.File, m.Kind);
                break;
            case WaitSleeping m:
                w.SleepingOn[m.Task.Value] = m.Page;
                break;
            case WaitEnded m when m.How != WaitEnd.AlreadyIdle:
                w.SleepingOn[m.Task.Value] = null;
                break;
            case DmaLanded m:
                _s1.DmaLanded(m);
                break;
            case PteInstalled m:
                w.PteInstalled(m);
                break;
            case PteZapped m:
                w.PteZapped(m);
                break;
            case EntryInserted m:
                w.Entries[m.File.Value].Add(m.Index);
                break;
            case EntryDeleted m:
                w.Entries[m.File.Value].Remove(m.Index);
                break;
            case EntryLeftByBreak m:
                _s4.EntryLeftByBreak(m);
                break;
            case ExtentMapped m:
                w.Owner[m.Block.Value] = (m.File, m.Index);
                break;
            case ExtentRemoved m:
                w.Owner[m.Block.Value] = null;
                break;
            case ExtentMoved m:
                w.Owner[m.Block.Value] = (m.File, m.To);
                break;
            case LayoutChanged m:
                _s4.LayoutChanged(m);
                break;
            case BlockAllocated m:
                _s1.BlockAllocated(m);
                break;
            case BlockFreed m:
                _s1.BlockFreed(m);
                break;
            case LeaseTaken m:
                w.LeaseHolders[m.File.Value].Add(m.Task);
                break;
            case LeaseReleased m:
                w.LeaseReleased(m);
                _s1.LeaseReleased(m);
                break;
            case LeaseBreakWaiting m:
                w.LeaseBreakOn[m.Task.Value] = m.File;
                break;
            case LeaseBreakDone m:
                w.LeaseBreakOn[m.Task.Value] = null;
                break;
            case OpStarted m:
                // A trace made by hand may start an operation over one that never returned.
                _l3.OpEnded(w.Ops[m.Task.Value]);
                _l3.OpStarted(m, w.OpStarted(m));
                break;
            case OpCompleted m:
                _l3.OpEnded(w.Ops[m.Task.Value]);
                w.OpCompleted(m);
                break;
            case ActorFailed m:
                w.Failed(m);
                break;
            case TaskLost m:
                _l3.OpEnded(w.Ops[m.Task.Value]);
                w.TaskLost(m.Task);
                break;
            case TaskEnded m:
                w.TaskEnded(m.Task);
                break;
            case NodeCrashed m:
                _l3.NodeCrashed(m);
                break;
            case NodeRemoved m:
                _l3.NodeRemoved(m);
                break;
            case NetworkPartitioned:
                _l3.Partitioned();
                break;
            case NetworkHealed:
                _l3.Healed();
                break;
        }
    }

    // --- settled points --------------------------------------------------------------------

    /// <summary>The earliest time at which an operation in flight breaks L3, or null.</summary>
    public long? NextDeadline => _l3.NextDeadline;

    /// <summary>L3: report an operation still in flight past its deadline at <paramref name="now"/>.</summary>
    public void CheckDeadlines(long now) => _l3.CheckDeadlines(now);

    /// <summary>L3 for the whole run: limits.virtualTime ran out with work left.</summary>
    public void TimeLimitReached(long now) => _l3.TimeLimitReached(now);

    /// <summary>L3: the delivery budget ran out without finishing (a livelock, time not advancing).</summary>
    public void DeliveryLimitReached(long deliveries) => _l3.DeliveryLimitReached(deliveries);

    /// <summary>L1: look for a wait-for cycle. Call only when no message is in flight.</summary>
    public void CheckDeadlocks() => _l1.CheckDeadlocks();

    /// <summary>
    /// Nothing can run and no timer is due: the end of the run. A held S1 finding is reported,
    /// then S4's held leftover entry; then work left means L2 (a sleeper on an idle page) or L1
    /// (a cycle, or waits nothing can end); otherwise the final state must be clean (S2: every
    /// pin given back). The first that finds something is the finding.
    /// </summary>
    public void AtQuiescence()
    {
        _s1.AtQuiescence();
        _s4.AtQuiescence();
        if (Violation is not null)
        {
            return;
        }
        _l2.AtQuiescence();
        if (Violation is not null)
        {
            return;
        }
        _l1.AtQuiescence();
        if (Violation is not null)
        {
            return;
        }
        _s2.AtQuiescence();
    }
}
