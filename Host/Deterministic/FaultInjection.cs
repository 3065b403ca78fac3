using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;

namespace DaxSim.Host.Deterministic;

/// <summary>A fault a run injects on top of the scenario's own: a signal or a kill (Kind) to Task at At (100 ns ticks).</summary>
public sealed record InjectedFault(string Kind, TaskId Task, long At)
{
    public const string Signal = "signal";
    public const string Kill = "kill";
}

/// <summary>
/// A message delay a run injected: the <c>Ready</c>-th time (from 1) that a mailbox of the run
/// became ready, that mailbox (its actor's name, for reading) joined the ready list
/// <c>Delay</c> ticks of virtual time late.
/// </summary>
public sealed record InjectedDelay(long Ready, string Actor, long Delay);

/// <summary>
/// What a run with fault injection added to its scenario: the timed signals and kills, and
/// the message delays. Drawn from the run's seed (<see cref="FaultInjection.Draw"/>) or read
/// back from a report, in which case it is applied exactly and nothing is drawn.
/// </summary>
public sealed record FaultPlan(IReadOnlyList<InjectedFault> Faults, IReadOnlyList<InjectedDelay> Delays)
{
    public static readonly FaultPlan None = new([], []);
}

/// <summary>
/// Fault injection (<c>--fault-injection</c>): faults drawn from the run's seed, on streams of
/// their own, so that the scheduling choices of a seed stay those of the run without faults
/// until a fault changes what is ready.
/// <list type="bullet">
/// <item>Signals: 0 to <see cref="MaxSignals"/> per run, each to a task and at a time drawn uniformly,
/// the time in [0, <see cref="ExpectedSpan"/>).</item>
/// <item>Kills: one with probability <see cref="KillChance"/>, to a task and at a time drawn the same way.</item>
/// <item>Message delays: each time a mailbox becomes ready, with probability <see cref="DelayChance"/>,
/// it joins the ready list 1 tick to <see cref="MaxDelay"/> of virtual time later: its next message
/// (and, in order, those behind it) arrives late, as on a slow interconnect.</item>
/// </list>
/// </summary>
public static class FaultInjection
{
    public const int MaxSignals = 2;
    public const double KillChance = 0.25;
    public const double DelayChance = 1.0 / 50;

    /// <summary>The signals and kills of <paramref name="seed"/>; the delays are drawn as the run goes.</summary>
    public static IReadOnlyList<InjectedFault> Draw(Scenario scenario, ulong seed)
    {
        var rng = Rng.ForStream(seed, 2);
        var span = ExpectedSpan(scenario);
        var tasks = scenario.Tasks.Count;
        var faults = new List<InjectedFault>();
        if (tasks == 0)
        {
            return faults;
        }
        var signals = rng.Next(MaxSignals + 1);
        for (var i = 0; i < signals; i++)
        {
            faults.Add(new InjectedFault(InjectedFault.Signal, new TaskId(rng.Next(tasks)), Time(rng, span)));
        }
        if (rng.Chance(KillChance))
        {
            faults.Add(new InjectedFault(InjectedFault.Kill, new TaskId(rng.Next(tasks)), Time(rng, span)));
        }
        return faults;
    }

    /// <summary>
    /// How long a run of the scenario is expected to take, in ticks: the longest task's own
    /// timed work (each step's StepFacts.OwnTime: I/O, fsync write-back, sleeps and lease
    /// holds, times their repeats), at most the
    /// scenario's virtual time limit; 1 ms when no task has timed work.
    /// </summary>
    public static long ExpectedSpan(Scenario scenario)
    {
        long longest = 0;
        foreach (var task in scenario.Tasks)
        {
            long t = 0;
            foreach (var step in task.Steps)
            {
                t += step.Repeat * step.OwnTime(scenario).Ticks;
            }
            longest = Math.Max(longest, t * task.Repeat);
        }
        if (longest == 0)
        {
            longest = TimeSpan.FromMilliseconds(1).Ticks;
        }
        return Math.Max(1, Math.Min(longest, scenario.Limits.VirtualTime.Ticks));
    }

    /// <summary>
    /// The longest delay, in ticks: the scenario's longest single step's own time (100 µs if it has
    /// none), at least 10 µs, at most a hundredth of limits.opBound so that delays alone cannot
    /// make an operation late (L3).
    /// </summary>
    public static long MaxDelay(Scenario scenario)
    {
        var longest = scenario.Tasks.SelectMany(t => t.Steps).Select(s => s.OwnTime(scenario).Ticks).DefaultIfEmpty(0).Max();
        if (longest == 0)
        {
            longest = TimeSpan.FromMicroseconds(100).Ticks;
        }
        longest = Math.Max(longest, TimeSpan.FromMicroseconds(10).Ticks);
        return Math.Max(1, Math.Min(longest, scenario.Limits.OpBound.Ticks / 100));
    }

    /// <summary>The scenario with the injected signals and kills appended to its faults.</summary>
    public static Scenario WithFaults(Scenario scenario, IReadOnlyList<InjectedFault> faults)
    {
        if (faults.Count == 0)
        {
            return scenario;
        }
        var all = new List<FaultSpec>(scenario.Faults);
        foreach (var f in faults)
        {
            all.Add(f.Kind == InjectedFault.Kill
                ? new KillFault(TimeSpan.FromTicks(f.At), f.Task)
                : new SignalFault(TimeSpan.FromTicks(f.At), f.Task));
        }
        return scenario with { Faults = all };
    }

    private static long Time(Rng rng, long span) => span <= int.MaxValue
        ? rng.Next((int)span)
        : (long)(rng.NextULong() % (ulong)span);
}

/// <summary>The message delays of one run: drawn from the seed, or replayed from a plan.</summary>
internal sealed class DelayInjector
{
    private readonly Rng? _rng;
    private readonly long _maxDelay;
    private readonly Dictionary<long, long>? _replay;
    private long _readiness;

    /// <summary>Draws delays from <paramref name="seed"/>.</summary>
    public DelayInjector(Scenario scenario, ulong seed)
    {
        _rng = Rng.ForStream(seed, 3);
        _maxDelay = FaultInjection.MaxDelay(scenario);
    }

    /// <summary>Applies exactly the recorded <paramref name="delays"/>.</summary>
    public DelayInjector(IReadOnlyList<InjectedDelay> delays)
    {
        _replay = new Dictionary<long, long>(delays.Count);
        foreach (var d in delays)
        {
            _replay[d.Ready] = d.Delay;
        }
    }

    public List<InjectedDelay> Applied { get; } = [];

    /// <summary>Until when to hold <paramref name="queue"/>, which just became ready at <paramref name="now"/>; 0 for not at all.</summary>
    public long HoldUntil(DeterministicQueue queue, long now)
    {
        var n = ++_readiness;
        long delay;
        if (_replay is not null)
        {
            if (!_replay.TryGetValue(n, out delay) || delay <= 0)
            {
                return 0;
            }
        }
        else
        {
            if (!_rng!.Chance(FaultInjection.DelayChance))
            {
                return 0;
            }
            delay = 1 + (_maxDelay <= int.MaxValue ? _rng.Next((int)_maxDelay) : (long)(_rng.NextULong() % (ulong)_maxDelay));
        }
        Applied.Add(new InjectedDelay(n, queue.Name, delay));
        return now + delay;
    }
}
