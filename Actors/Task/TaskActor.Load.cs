using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;

namespace DaxSim.Actors.Task;

// What a task does only in load runs (`daxsim load`): pacing between operations, and
// stopping when the load's duration is over.
public sealed partial class TaskActor
{
    // Load runs: set by StopLoad; the next BeginOp ends the task instead of starting an operation.
    private bool _stopping;

    // Rate pacing: when the next operation is due, on the scheduler's clock; and how many
    // intervals have been drawn.
    private long? _paceDue;
    private long _paces;

    private void HandleStopLoad(StopLoad m)
    {
        if (_exiting || _stopping)
        {
            return;
        }
        _stopping = true;
        if (_stack.Count == 0)
        {
            // Not started yet, or between operations: end now.
            StartNextOp();
            return;
        }
        // A pacing sleep is not work: cut it short. Any other operation runs to its end.
        if (_await is { State: WaitState.Sleeping } && CurrentStep is PaceStep)
        {
            Timers.Cancel("timer");
            Continue(Interrupted.Instance);
        }
    }

    // Think time (closed loop), or wait until the next operation is due (open loop). A rate-paced
    // task that is late, because its previous operation overran the interval, does not wait and
    // reports how late it is, so that the operation's latency counts from when it was due.
    private IEnumerable<object> Pace(Pacing pacing, Box<Errno> result)
    {
        var interval = pacing.Interval(_id, _paces++);
        var clock = Context.System.Scheduler;
        if (pacing.Mode == PacingMode.Think)
        {
            if (interval > 0)
            {
                yield return Timer(TimeSpan.FromTicks(interval), WaitState.Sleeping, interruptible: true);
            }
            yield break;
        }
        var now = clock.MonotonicClock.Ticks;
        var due = (_paceDue ?? now) + interval;
        _paceDue = due;
        if (due > now)
        {
            yield return Timer(TimeSpan.FromTicks(due - now), WaitState.Sleeping, interruptible: true);
            if (_reply is Interrupted)
            {
                // The load is over (or a signal came): no operation follows on this schedule.
                result.Value = _stopping ? Errno.Ok : Errno.EINTR;
                yield break;
            }
        }
        Trace.Emit(new Paced(_id, Math.Max(0, clock.MonotonicClock.Ticks - due)));
    }
}
