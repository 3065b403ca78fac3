using DaxSim.Host.Checking;
using DaxSim.Protocol.Scenarios;

namespace DaxSim.Host.Runs;

/// <summary>
/// When a run in real time is over, and what it broke: the judgement shared by the local
/// and cluster runtimes. Called every few milliseconds with the current time and the
/// number of events seen so far. A run whose tasks all ended and that stays quiet a moment
/// ends at quiescence; a quiet spell makes a wait-for cycle real (L1); an operation past
/// its deadline is L3; running out of limits.virtualTime is L3; and a run that produces no
/// event for longer than any wait the scenario asks for, with work left, is examined as
/// the deterministic runtime examines quiescence.
/// </summary>
public sealed class LiveJudge(InvariantChecker checker, Scenario scenario, TimeSpan endQuiet, TimeSpan deadlockQuiet)
{
    private long _lastEvents = -1;
    private long _lastChange;

    /// <summary>Work left that produces no event for this long is stuck: longer than any wait the scenario asks for.</summary>
    public TimeSpan Stall { get; init; } = TimeSpan.FromSeconds(1) + LongestDuration(scenario);

    /// <summary>
    /// How late the host runs this run (null: not measured). L3 allows what it took within
    /// <see cref="LatenessWindow"/> before each look on top of every bound, and the time
    /// limit allows all it took: on a loaded machine an operation is late for no fault of
    /// the protocol.
    /// </summary>
    public HostLateness? Host { get; init; }

    /// <summary>How far back the host's lateness counts for L3: about the life of an operation that is just overdue.</summary>
    public TimeSpan LatenessWindow { get; init; }

    /// <summary>How long the run has produced no event, at the last Step.</summary>
    public TimeSpan Quiet { get; private set; }

    /// <summary>
    /// One look at the run at <paramref name="now"/> (ticks since its start). True when it is
    /// over: a violation, an internal failure, quiescence or the time limit.
    /// <paramref name="unsettled"/>: something outside the trace may still change the picture
    /// (a cluster member unreachable or not yet removed): no deadlock or stall is judged then.
    /// </summary>
    public bool Step(long now, long events, bool unsettled = false)
    {
        if (checker.Stopped)
        {
            return true;
        }
        if (events != _lastEvents)
        {
            _lastEvents = events;
            _lastChange = now;
        }
        Quiet = TimeSpan.FromTicks(now - _lastChange);
        if (checker.AllTasksEnded && Quiet > endQuiet)
        {
            checker.AtQuiescence();
            return true;
        }
        // Quiet for a while: no message is likely in flight, so a wait-for cycle is real.
        if (!unsettled && Quiet > deadlockQuiet)
        {
            checker.CheckDeadlocks();
        }
        checker.CheckDeadlines(Host is { } host ? now - host.StolenWithin(LatenessWindow, now).Ticks : now);
        if (checker.Violation is not null)
        {
            return true;
        }
        if (now - (Host?.Stolen.Ticks ?? 0) > scenario.Limits.VirtualTime.Ticks)
        {
            checker.TimeLimitReached(now);
            return true;
        }
        if (!unsettled && Quiet > Stall)
        {
            checker.AtQuiescence();
            return true;
        }
        return false;
    }

    /// <summary>The longest own I/O or sleep time of any step (StepFacts.OwnTime), or the lease break time if a task holds leases.</summary>
    public static TimeSpan LongestDuration(Scenario scenario) => scenario.Tasks
        .SelectMany(t => t.Steps)
        .Select(s => s.OwnTime(scenario))
        .Append(scenario.Tasks.Any(t => t.Steps.Any(s => s is HoldLeaseStep))
            ? scenario.Limits.LeaseBreakTime
            : TimeSpan.Zero)
        .Max();

    /// <summary>
    /// Actors and Akka's timer ticks run on the .NET thread pool. A pool that grows slowly
    /// (other work, a test host) delays timers, and a late timer looks like an operation
    /// that overran its bound. Keep enough threads ready from the start.
    /// </summary>
    public static void EnsureThreads()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        var wanted = Environment.ProcessorCount + 16;
        if (workers < wanted)
        {
            ThreadPool.SetMinThreads(wanted, io);
        }
    }
}
