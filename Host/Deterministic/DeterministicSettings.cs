namespace DaxSim.Host.Deterministic;

/// <summary>
/// The deterministic runtime's own settings for one run (RunSettings.Deterministic): how it
/// picks among ready actors, which faults it injects, and how its simulated cluster looks.
/// They are per run, not per runtime: explore and the shrinker run many seeds and schedules
/// on one DeterministicRuntime. The other runtimes ignore them.
/// </summary>
public sealed record DeterministicSettings
{
    public string Strategy { get; init; } = Strategies.Random;

    /// <summary>PCT's d: a pct run has d - 1 priority change points; 0 = drawn from the seed (PctStrategy.DrawDepth).</summary>
    public int PctDepth { get; init; }

    /// <summary>PCT's k, the number of scheduling choices a run is expected to make; 0 = the longest of the probe runs (DeterministicRuntime.EstimatePctSteps).</summary>
    public long PctSteps { get; init; }

    /// <summary>Strategy systematic: the run's deviations from the default schedule, in point order.</summary>
    public IReadOnlyList<Delay>? Delays { get; init; }

    /// <summary>Strategy systematic: the default schedule's order (first come or last come, first served).</summary>
    public DefaultOrder Order { get; init; }

    /// <summary>Scheduling choices to replay instead of drawing them.</summary>
    public IReadOnlyList<int>? Schedule { get; init; }

    /// <summary>Inject signals, kills and message delays drawn from the seed (--fault-injection).</summary>
    public bool FaultInjection { get; init; }

    /// <summary>Inject exactly these faults and delays, drawing none (replay of a run with fault injection).</summary>
    public FaultPlan? Faults { get; init; }

    /// <summary>Simulated cluster nodes; null = as many as the scenario needs.</summary>
    public int? Nodes { get; init; }

    /// <summary>
    /// Look for wait-for cycles at most once per this much simulated time (and always when
    /// the run settles), instead of every time nothing is ready. A deadlock does not go away,
    /// so it is still found, a little later; a load with thousands of tasks settles between
    /// almost every two timers. 0: every time.
    /// </summary>
    public TimeSpan DeadlockCheckInterval { get; init; }

    /// <summary>
    /// Called before every scheduling choice (two or more actors ready) and at every quiescent
    /// point (no actor ready, after at least one delivery since the last one) with the state's
    /// fingerprint (<see cref="StateFingerprint"/>), the number of scheduling choices made so
    /// far, and whether some delivery is asleep (<see cref="Sleep"/>); returning true ends the run
    /// there (RunResult.Pruned): the systematic search has seen that state already.
    /// </summary>
    internal Func<ulong, long, bool, bool>? AtState { get; init; }

    /// <summary>The run's sleep set (systematic search): a delivery taken while asleep ends the run there (RunResult.Pruned).</summary>
    internal SleepSet? Sleep { get; init; }

    /// <summary>Wraps the run's strategy (before any replay): for tests that watch the choices.</summary>
    internal Func<IScheduleStrategy, IScheduleStrategy>? WrapStrategy { get; init; }
}
