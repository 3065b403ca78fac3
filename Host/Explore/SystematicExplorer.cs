using System.Collections.Concurrent;
using System.Diagnostics;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;

namespace DaxSim.Host.Explore;

/// <summary>The outcome of a systematic search.</summary>
public sealed record SystematicResult(int Bound, long Schedules, bool Exhausted, RunResult? Finding,
    IReadOnlyList<Delay>? FindingDelays, TimeSpan Elapsed, long Deliveries)
{
    /// <summary>Schedules run with exactly 0, 1, ... delays (index = delays).</summary>
    public IReadOnlyList<long> ByDelays { get; init; } = [];

    /// <summary>Why the search stopped before covering every schedule within the bound (a limit), or null.</summary>
    public string? StoppedBy { get; init; }

    /// <summary>The protocol branches the schedules reached, summed over them.</summary>
    public CoverageTotals Coverage { get; init; } = new();

    /// <summary>Schedules run to their end: the others were cut short at a state another schedule had reached (the reduction).</summary>
    public long Complete { get; init; }

    /// <summary>Whether the search cut schedules short at states already seen (partial-order reduction by state fingerprints).</summary>
    public bool Reduced { get; init; }

    /// <summary>Whether the search put off deliveries in sleep sets (partial-order reduction by independent deliveries: SleepSet).</summary>
    public bool SleepSets { get; init; }

    /// <summary>Schedules cut short because they took a sleeping delivery: a schedule with at most as many delays reaches the same state (of Schedules - Complete).</summary>
    public long Slept { get; init; }

    /// <summary>Of <see cref="Slept"/>, the schedules known from their parent's run to stop at once, and not run at all.</summary>
    public long SleptUnrun { get; init; }

    /// <summary>Runs made again only to learn the ready lists of a schedule whose extensions had to be built (not counted in Schedules).</summary>
    public long Reruns { get; init; }

    /// <summary>The default order the finding's delays are counted against.</summary>
    public DefaultOrder FindingOrder { get; init; }

    /// <summary>The default orders searched, in the order they were searched at each depth.</summary>
    public IReadOnlyList<DefaultOrder> Orders { get; init; } = [];

    /// <summary>The seed of the finding's run (its random sleeps and draws): one of Seed..Seed+SeedCount-1.</summary>
    public ulong FindingSeed { get; init; }

    /// <summary>Seeds whose schedules were searched, in full or in part.</summary>
    public long SeedsSearched { get; init; }
}

/// <summary>A unit of a systematic search's depth: the schedules that deviate from Order's default first at First.</summary>
public readonly record struct SystematicUnit(DefaultOrder Order, Delay First)
{
    public override string ToString() => $"{Order.Name()} {First}";
}

/// <summary>Where a systematic search stands.</summary>
public readonly record struct SystematicProgress(int Delays, int Bound, long Schedules, long UnitsLeft, long Frontier,
    long EstimatedLeft, TimeSpan Elapsed)
{
    /// <summary>The seed whose schedules of this depth are being searched (<see cref="SystematicExplorer.SeedCount"/>).</summary>
    public ulong Seed { get; init; }

    public double SchedulesPerSecond => Schedules / Math.Max(Elapsed.TotalSeconds, 1e-9);
}

/// <summary>
/// Bounded systematic exploration (explore --strategy systematic --bound k): every schedule of
/// a scenario with at most k delays against a default schedule (<see cref="SystematicStrategy"/>),
/// for each of the default orders asked for (<see cref="Orders"/>: first come and last come,
/// first served), each run once on the deterministic runtime, stateless: a schedule is its
/// order and its list of deviations, and a run replays it from the start.
/// <para>
/// The search deepens by delays: first the default schedule, then every schedule with exactly
/// one delay, then two, up to k. So the finding it reports has the fewest delays of any, and
/// among those the first order's, then the earliest deviations (lexicographic order of (point,
/// position)), whatever the number of workers. The schedules with d delays are enumerated exactly once each: a schedule
/// is extended only at points after its last deviation, and at a point p with n ready actors by
/// the positions 1..n-1 its remaining budget allows (a schedule that deviates only after p sees
/// the same ready lists up to p, so the extension is known from the parent's run). Extending a
/// schedule needs its run: the schedules with fewer delays are run again at each depth (about
/// d/P of the work, for P choice points per run), and only the new ones are counted.
/// </para>
/// <para>
/// Work is split into units (<see cref="SystematicUnit"/>), one per order and first deviation (point, position), handed to the workers
/// in order, as Explorer hands out seeds: once a unit has a finding, no later unit starts and
/// the earlier ones finish, so the lowest one wins. A seed farm leases the same units, run by
/// <see cref="RunUnit"/> on its members (Host/Cluster/SystematicFarmRunner.cs).
/// </para>
/// <para>
/// Reduction (<see cref="Reduction"/>): before every choice and at every quiescent point past a
/// schedule's last deviation, the runtime fingerprints the state (<see cref="StateFingerprint"/>:
/// per-actor delivery histories summed, so that deliveries to different actors commute; the
/// clock; the pending timers; the ready actors in order with their mailboxes). A schedule that
/// comes to a state another schedule of the same depth and order reached past its own last
/// deviation, with at least as many delays left, is cut there:
/// from a state, the default schedule and every extension within the budget are the same, and
/// the other schedule runs them. Cut schedules are counted in Schedules, not in Complete. With
/// more than one worker, which of two schedules that meet goes on depends on which got there
/// first, so the counts (not the verdict) can differ from run to run. It is off under message
/// or node faults and fault injection (messages held back, retransmission state).
/// </para>
/// <para>
/// Sleep sets (<see cref="SleepSets"/>, <see cref="SleepSet"/>): the default delivery a deviation
/// puts off sleeps until a delivery that does not commute with it at no extra delay wakes it; a
/// schedule that would take it asleep stops there, and one with no delay left that its parent's
/// run shows would stop at once is counted (Slept, SleptUnrun) and not run.
/// </para>
/// </summary>
public sealed class SystematicExplorer(Scenario scenario, Variant variant, int bound, int workers)
{
    public const int MaxBound = 16;

    public Scenario Scenario { get; } = scenario;

    /// <summary>k: the most delays a schedule may have.</summary>
    public int Bound { get; } = bound;

    /// <summary>The seed of everything else a run draws (random sleeps, injected faults): the same for every schedule.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>
    /// How many seeds to search, from <see cref="Seed"/> on: every schedule within the bound of
    /// each seed's draws, depth by depth across them (each seed's schedules with d delays before
    /// any seed's with d + 1), so a finding has the fewest delays of any, then the lowest seed.
    /// </summary>
    public long SeedCount { get; init; } = 1;

    /// <summary>The last of <paramref name="count"/> seeds from <paramref name="first"/> on, or null when there is none (a count below 1) or it is past 2^64 - 1.</summary>
    public static ulong? LastSeed(ulong first, long count) =>
        count < 1 || first + (ulong)(count - 1) < first ? null : first + (ulong)(count - 1);

    /// <summary>Inject the signals, kills and message delays drawn from <see cref="Seed"/> in every schedule.</summary>
    public bool FaultInjection { get; init; }

    /// <summary>Stop (not exhausted) after this many schedules.</summary>
    public long MaxSchedules { get; init; } = long.MaxValue;

    /// <summary>Checked before each schedule: true stops the search as the limit does (a farm member told the farm is over).</summary>
    public Func<bool>? Cancelled { get; init; }

    /// <summary>The default orders whose schedules are searched, in this order at each depth (default: both).</summary>
    public IReadOnlyList<DefaultOrder> Orders { get; init; } = [DefaultOrder.FirstCome, DefaultOrder.LastCome];

    /// <summary>Called about once a second, from the thread that called Explore.</summary>
    public Action<SystematicProgress>? Progress { get; init; }

    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Cut a schedule short at a choice or quiescent point whose state (<see cref="StateFingerprint"/>)
    /// another schedule of the same depth and order reached with at least as many delays left (default on;
    /// off by itself under message or node faults and fault injection: docs/exploration.md).
    /// </summary>
    public bool Reduction { get; init; } = true;

    /// <summary>Compare states (the first half of the reduction; tests turn it off alone).</summary>
    internal bool StateCache { get; init; } = true;

    /// <summary>Put off deliveries in sleep sets (the second half of the reduction: <see cref="SleepSet"/>; tests and the bench turn it off alone).</summary>
    public bool SleepSets { get; init; } = true;

    // Neither half holds where messages are held back or sent again (fault injection, message or node faults).
    private bool Reducible => Reduction && !FaultInjection && !FaultModel.Delivery(Scenario, Seed).Reliable;

    /// <summary>Whether states are compared on this scenario.</summary>
    public bool Reduces => Reducible && StateCache;

    /// <summary>Tests: run each schedule left unrun as stopping at once anyway, and throw unless it does.</summary>
    internal bool CheckSkips { get; init; }

    /// <summary>Whether sleep sets are used on this scenario.</summary>
    public bool Sleeps => Reducible && SleepSets;

    /// <summary>Called with every schedule counted and its result, from the worker that ran it (for tests).</summary>
    internal Action<DefaultOrder, IReadOnlyList<Delay>, RunResult>? Observed { get; init; }

    /// <summary>The settings of the schedule with these deviations from <paramref name="order"/>'s default, as the search runs it (with <paramref name="seed"/>'s draws, default <see cref="Seed"/>).</summary>
    public RunSettings Settings(IReadOnlyList<Delay> delays, DefaultOrder order = DefaultOrder.FirstCome, ulong? seed = null) => new()
    {
        Seed = seed ?? Seed,
        Variant = variant,
        RecordOps = false,
        RecordSchedule = false,
        Deterministic = new DeterministicSettings
        {
            Strategy = Strategies.Systematic,
            Delays = delays,
            Order = order,
            FaultInjection = FaultInjection,
        },
    };

    public SystematicResult Explore()
    {
        if (Bound < 0 || Bound > MaxBound)
        {
            throw new ArgumentOutOfRangeException(nameof(Bound), Bound, $"the bound must be between 0 and {MaxBound}");
        }
        if (Orders.Count == 0 || Orders.Distinct().Count() != Orders.Count)
        {
            throw new ArgumentException("the orders must be one or both of first come and last come, each once", nameof(Orders));
        }
        if (LastSeed(Seed, SeedCount) is null)
        {
            throw new ArgumentOutOfRangeException(nameof(SeedCount), SeedCount, "the seeds must be at least one, and the last one at most 2^64 - 1");
        }
        var clock = Stopwatch.StartNew();
        var search = new Search(this, Math.Max(1, workers), clock);
        using var root = Runtimes.ForOneThread(RuntimeKind.Deterministic);
        // Each seed's default schedules (depth 0), then depth by depth across the seeds. One
        // seed's ready counts are kept for every depth; with several, each depth runs the seed's
        // default schedules again for them (reruns), rather than keep thousands of lists.
        var rootCounts = new IReadOnlyList<int>[Orders.Count];
        for (var s = 0L; s < SeedCount; s++)
        {
            search.Seed = Seed + (ulong)s;
            for (var o = 0; o < Orders.Count; o++)
            {
                if (search.LimitReached())
                {
                    return search.Result(null, exhausted: false);
                }
                var first = search.RunOne(root, Orders[o], [], counted: true, out var counts);
                rootCounts[o] = counts;
                if (first.Violation is not null)
                {
                    return search.Result(new Found(first, Orders[o], [], search.Seed), exhausted: false);
                }
            }
        }
        for (var d = 1; d <= Bound; d++)
        {
            for (var s = 0L; s < SeedCount; s++)
            {
                search.Seed = Seed + (ulong)s;
                if (search.Level(d, SeedCount == 1 ? rootCounts : null, root) is { } finding)
                {
                    return search.Result(finding, exhausted: false);
                }
                if (search.Limited)
                {
                    return search.Result(null, exhausted: false);
                }
            }
        }
        return search.Result(null, exhausted: true);
    }

    /// <summary>
    /// How many schedules each of <paramref name="units"/> holds at its depth (<paramref name="depths"/>,
    /// one per unit) without the reduction, estimated from its order's default run
    /// (<paramref name="rootCounts"/>, one list per order of <paramref name="orders"/>): the deviation
    /// lists after the unit's first deviation whose positions make up the rest of its depth, with the
    /// default run's ready counts at each later choice point. A schedule that deviates sees other
    /// ready lists after its deviation, so this is an estimate (the exact counts of the bench are
    /// within a few percent of it). Progress weighs the units done and left by it: a later first
    /// deviation leaves fewer choice points to extend, so its unit holds fewer schedules.
    /// </summary>
    public static double[] UnitSizes(IReadOnlyList<SystematicUnit> units, IReadOnlyList<int> depths,
        IReadOnlyList<DefaultOrder> orders, IReadOnlyList<IReadOnlyList<int>> rootCounts)
    {
        var most = depths.Count == 0 ? 0 : depths.Max();
        // ways[o][j][c]: deviation lists at choice points j.. of order o's default run costing exactly c.
        var ways = new double[orders.Count][][];
        for (var o = 0; o < orders.Count; o++)
        {
            var counts = rootCounts[o];
            var w = new double[counts.Count + 1][];
            w[counts.Count] = new double[most + 1];
            w[counts.Count][0] = 1;
            for (var j = counts.Count - 1; j >= 0; j--)
            {
                w[j] = (double[])w[j + 1].Clone();
                for (var c = 1; c <= most; c++)
                {
                    for (var i = 1; i <= Math.Min(counts[j] - 1, c); i++)
                    {
                        w[j][c] += w[j + 1][c - i];
                    }
                }
            }
            ways[o] = w;
        }
        var sizes = new double[units.Count];
        for (var u = 0; u < units.Count; u++)
        {
            var (order, first) = (units[u].Order, units[u].First);
            var o = 0;
            while (orders[o] != order)
            {
                o++;
            }
            var w = ways[o];
            var rest = depths[u] - first.Position;
            sizes[u] = rest < 0 || first.Point + 1 >= w.Length ? 0 : w[first.Point + 1][rest];
        }
        return sizes;
    }

    /// <summary>
    /// The units of depth <paramref name="d"/>: for each of <paramref name="orders"/> in turn, the
    /// first deviation (point, position) of each of its schedules, in (point, position) order,
    /// from that order's default schedule's ready counts (<paramref name="rootCounts"/>, one list
    /// per order: how many actors were ready at each choice point).
    /// </summary>
    public static IReadOnlyList<SystematicUnit> Units(int d, IReadOnlyList<DefaultOrder> orders,
        IReadOnlyList<IReadOnlyList<int>> rootCounts)
    {
        var units = new List<SystematicUnit>();
        for (var o = 0; o < orders.Count; o++)
        {
            var counts = rootCounts[o];
            for (var p = 0; p < counts.Count; p++)
            {
                for (var i = 1; i < counts[p] && i <= d; i++)
                {
                    units.Add(new SystematicUnit(orders[o], new Delay(p, i)));
                }
            }
        }
        return units;
    }

    /// <summary>
    /// The default schedule of <paramref name="order"/> (depth 0), counted as <see cref="Explore"/>
    /// counts it; its ready counts (<paramref name="readyCounts"/>) give every depth's units of
    /// that order (<see cref="Units"/>). A seed farm's runner runs it itself and leases the units
    /// (docs/cluster.md, "A seed farm").
    /// </summary>
    public SystematicResult RunRoot(IRuntime runtime, DefaultOrder order, out IReadOnlyList<int> readyCounts)
    {
        var search = new Search(this, 1, Stopwatch.StartNew());
        var run = search.RunOne(runtime, order, [], counted: true, out var counts);
        readyCounts = counts;
        return search.Result(run.Violation is null ? null : new Found(run, order, [], Seed), exhausted: run.Violation is null);
    }

    /// <summary>One depth as a farm member runs its units: the depth's table of states reached, shared by those units.</summary>
    public sealed class Depth
    {
        internal Depth(int delays, object search, long reruns)
        {
            Delays = delays;
            State = search;
            Reruns = reruns;
        }

        public int Delays { get; }

        /// <summary>Runs made to begin the depth (the default schedule again, for the reduction's table).</summary>
        public long Reruns { get; }

        internal object State { get; }
    }

    /// <summary>
    /// Begins depth <paramref name="d"/> for units run with <see cref="RunUnit"/>, as
    /// <see cref="Explore"/> begins each depth (a fresh table of states, with the default
    /// schedule's states in it when the reduction is on). Thread-safe to share across workers.
    /// </summary>
    public Depth BeginDepth(int d, IRuntime runtime)
    {
        if (d < 1 || d > Bound)
        {
            throw new ArgumentOutOfRangeException(nameof(d), d, $"a unit's depth is between 1 and the bound {Bound}");
        }
        var search = new Search(this, 1, Stopwatch.StartNew());
        search.BeginLevel(d, runtime);
        return new Depth(d, search, search.Result(null, exhausted: false).Reruns);
    }

    /// <summary>
    /// Every schedule of the depth under one unit (its order's schedules whose first deviation is the unit's),
    /// as <see cref="Explore"/> runs it: its counts (Schedules, ByDelays, Complete, Coverage,
    /// Deliveries, Reruns), and its first finding in (point, position) order (Finding,
    /// FindingDelays), or StoppedBy when <see cref="MaxSchedules"/> (counted within the unit) stopped it.
    /// Exhausted: the unit ran every schedule, clean.
    /// </summary>
    public SystematicResult RunUnit(IRuntime runtime, Depth depth, SystematicUnit unit)
    {
        var first = unit.First;
        if (first.Point < 0 || first.Position < 1 || first.Position > depth.Delays)
        {
            throw new ArgumentOutOfRangeException(nameof(unit), unit, $"not a first deviation of depth {depth.Delays}");
        }
        if (!Orders.Contains(unit.Order))
        {
            throw new ArgumentOutOfRangeException(nameof(unit), unit, $"{unit.Order.Name()} is not one of the search's orders");
        }
        var search = new Search(this, 1, Stopwatch.StartNew());
        search.ShareLevel((Search)depth.State);
        var found = search.Unit(runtime, unit, depth.Delays);
        return search.Result(found, exhausted: found is null && !search.Limited);
    }

    private sealed record Found(RunResult Run, DefaultOrder Order, IReadOnlyList<Delay> Delays, ulong Seed);

    /// <summary>One search's counters and its workers.</summary>
    private sealed class Search(SystematicExplorer owner, int workers, Stopwatch clock)
    {
        private readonly object _gate = new();
        private readonly CoverageTotals _coverage = new();
        private readonly long[] _byDelays = new long[MaxBound + 1];
        private long _schedules;
        private long _reruns;
        private long _deliveries;
        private long _frontier;
        private int _level;
        private long _unitsLeft;
        private long _levelDone;
        // The units of this depth weighed by their estimated sizes (UnitSizes): done, and still to do.
        private double _sizeDone;
        private double _sizeLeft;
        private long _cutCounted;
        private long _slept;
        private long _sleptUnrun;
        // The states reached at this depth, one table per default order (a state's future is its order's default).
        private ConcurrentDictionary<ulong, int>?[]? _seen;
        // With sleep sets: each default schedule's recorded run, one per order (a unit's first deviation puts its delivery there to sleep).
        private SleepSet?[]? _rootSleep;

        public bool Limited { get; private set; }

        /// <summary>The seed whose schedules are being run (set between depths: Explore with several seeds).</summary>
        public ulong Seed
        {
            get => _seed;
            set
            {
                _seed = value;
                _seedsSearched = Math.Max(_seedsSearched, (long)(value - owner.Seed) + 1);
            }
        }

        private ulong _seed = owner.Seed;
        private long _seedsSearched = 1;

        /// <summary>
        /// Runs one schedule. With sleep sets, <paramref name="skipped"/> gives, for each of its
        /// delays, the default delivery it puts off (its parent's, at that point), and
        /// <paramref name="record"/> asks for the deliveries of this run's choice points, for
        /// its own extensions (<paramref name="sleep"/>'s Steps and AsleepPositions).
        /// </summary>
        public RunResult RunOne(IRuntime runtime, DefaultOrder order, IReadOnlyList<Delay> delays, bool counted,
            out List<int> readyCounts, int remaining = 0, IReadOnlyList<Footprint>? skipped = null, bool record = false)
            => RunOne(runtime, order, delays, counted, out readyCounts, out _, remaining, skipped, record);

        public RunResult RunOne(IRuntime runtime, DefaultOrder order, IReadOnlyList<Delay> delays, bool counted,
            out List<int> readyCounts, out SleepSet? sleep, int remaining = 0, IReadOnlyList<Footprint>? skipped = null,
            bool record = false)
        {
            var counts = new List<int>();
            sleep = owner.Sleeps ? new SleepSet(order, skipped ?? [], record) : null;
            var strategy = new SystematicStrategy(delays, order) { ReadyCounts = counts, Sleep = sleep };
            var settings = owner.Settings(delays, order, Seed);
            var seen = _seen?[(int)order];
            var last = delays.Count == 0 ? -1 : delays[^1].Point;
            settings = settings with
            {
                Deterministic = settings.Deterministic with
                {
                    WrapStrategy = _ => strategy,
                    AtState = seen is null ? null : (key, choices, asleep) => Seen(seen, key, choices, last, remaining, asleep),
                    Sleep = sleep,
                },
            };
            var result = runtime.Run(owner.Scenario, settings);
            if (strategy.Misfit)
            {
                throw new InvalidOperationException(
                    $"schedule [{string.Join(", ", delays)}] did not fit its run: the deterministic runtime is not deterministic");
            }
            Interlocked.Add(ref _deliveries, result.Deliveries);
            if (result.Pruned && counted)
            {
                Interlocked.Increment(ref _cutCounted);
                if (sleep is { Stopped: true })
                {
                    Interlocked.Increment(ref _slept);
                }
            }
            if (counted)
            {
                owner.Observed?.Invoke(order, delays, result);
                Interlocked.Increment(ref _schedules);
                Interlocked.Increment(ref _byDelays[delays.Sum(x => x.Position)]);
                Interlocked.Increment(ref _levelDone);
                lock (_gate)
                {
                    _coverage.Add(result.Coverage);
                }
            }
            else
            {
                Interlocked.Increment(ref _reruns);
            }
            readyCounts = counts;
            return result;
        }

        /// <summary>
        /// Whether a schedule at a choice or quiescent point, <paramref name="choices"/> choices in, with
        /// <paramref name="remaining"/> delays left, has come to a state that a schedule of this depth
        /// reached past its own last deviation with at least as many delays left: then everything
        /// after is that schedule's business (its run goes on from there as this one's would, and its
        /// extensions cover this one's). Before this schedule's last deviation its future is not
        /// the default's, so nothing is compared there.
        /// <para>
        /// With deliveries asleep (<paramref name="asleep"/>), the state is only looked up, not
        /// recorded: a schedule that reaches it later, with fewer asleep, would take deliveries
        /// this one does not, so this one cannot stand in for it. One recorded with none asleep
        /// stands in for any (a sleep set only ever leaves schedules out).
        /// </para>
        /// </summary>
        private static bool Seen(ConcurrentDictionary<ulong, int> seen, ulong key, long choices, int last, int remaining,
            bool asleep)
        {
            if (choices <= last)
            {
                return false;
            }
            if (asleep)
            {
                return seen.TryGetValue(key, out var recorded) && recorded >= remaining;
            }
            while (true)
            {
                if (seen.TryGetValue(key, out var left))
                {
                    if (left >= remaining)
                    {
                        return true;
                    }
                    if (seen.TryUpdate(key, remaining, left))
                    {
                        return false;
                    }
                }
                else if (seen.TryAdd(key, remaining))
                {
                    return false;
                }
            }
        }

        // Tests: a schedule left unrun as stopping at once must, run, stop on a sleeping delivery
        // right after its last deviation (with the state comparison off, nothing else stops it),
        // and the delivery its deviation took must have emitted no trace event and done nothing global.
        private void CheckSkip(IRuntime runtime, DefaultOrder order, Delay[] delays, Footprint[] skipped)
        {
            var run = RunOne(runtime, order, delays, counted: false, out _, out var sleep, skipped: skipped, record: true);
            var point = delays[^1].Point;
            var taken = sleep!.Steps!.Count > point ? sleep.Steps[point] : Footprint.None;
            if (!run.Pruned || !sleep.Stopped || run.Choices > point + 2 || taken.IsNone || taken.Events || taken.Global)
            {
                throw new InvalidOperationException(
                    $"schedule {order.Name()} [{string.Join(", ", delays)}] was left unrun as stopping at once on a sleeping delivery, " +
                    $"but its run {(run.Pruned ? "stopped" : "went on")} after {run.Choices} choices, and its deviation's delivery " +
                    (taken.IsNone ? "was not taken" : $"emitted trace events: {taken.Events}, did something global: {taken.Global}"));
            }
        }

        // The limit of schedules, or a cancelled farm: the search stops, not exhausted.
        public bool LimitReached()
        {
            if (Interlocked.Read(ref _schedules) >= owner.MaxSchedules || owner.Cancelled?.Invoke() == true)
            {
                Limited = true;
            }
            return Limited;
        }

        /// <summary>A schedule of the depth that would stop at once on a sleeping delivery (SleepSet.StopsAtOnce): counted as run and cut, not run.</summary>
        private void CountSlept(DefaultOrder order, Delay[] delays)
        {
            Interlocked.Increment(ref _schedules);
            Interlocked.Increment(ref _byDelays[delays.Sum(x => x.Position)]);
            Interlocked.Increment(ref _levelDone);
            Interlocked.Increment(ref _cutCounted);
            Interlocked.Increment(ref _slept);
            Interlocked.Increment(ref _sleptUnrun);
        }

        /// <summary>
        /// Every schedule with exactly <paramref name="d"/> delays; the lowest unit's finding, if any.
        /// <paramref name="rootCounts"/>: the default schedules' ready counts, or null to take them from runs made again.
        /// </summary>
        public Found? Level(int d, IReadOnlyList<IReadOnlyList<int>>? rootCounts, IRuntime rootRuntime)
        {
            var again = BeginLevel(d, rootRuntime, readyCounts: rootCounts is null);
            var counts = rootCounts ?? again!;
            var units = Units(d, owner.Orders, counts);
            var sizes = UnitSizes(units, Enumerable.Repeat(d, units.Count).ToArray(), owner.Orders, counts);
            lock (_gate)
            {
                (_sizeDone, _sizeLeft) = (0, sizes.Sum());
            }
            _unitsLeft = units.Count;
            var found = new Found?[units.Count];
            long? lowest;
            try
            {
                lowest = LowestFirst.Run(units.Count, Math.Min(workers, Math.Max(1, units.Count)), "daxsim-systematic",
                    () => Runtimes.ForOneThread(RuntimeKind.Deterministic),
                    (runtime, u) =>
                    {
                        found[u] = Unit(runtime, units[(int)u], d);
                        Interlocked.Decrement(ref _unitsLeft);
                        lock (_gate)
                        {
                            _sizeDone += sizes[u];
                            _sizeLeft -= sizes[u];
                        }
                        return found[u] is not null;
                    },
                    () => Limited, owner.ProgressInterval, () => owner.Progress?.Invoke(Progress()));
            }
            catch (AggregateException e) when (e.InnerExceptions.Count == 1)
            {
                var failure = e.InnerExceptions[0];
                throw new InvalidOperationException(
                    $"the systematic search of {owner.Scenario.Name} failed: {failure.Message}", failure);
            }
            return lowest is { } l ? found[l] : null;
        }

        /// <summary>
        /// Starts depth <paramref name="d"/>: its counters, and its table of states reached (the reduction).
        /// With <paramref name="readyCounts"/>, returns the default schedules' ready counts (one list per
        /// order, in the search's order), from their runs made again here.
        /// </summary>
        public IReadOnlyList<int>[]? BeginLevel(int d, IRuntime rootRuntime, bool readyCounts = false)
        {
            _level = d;
            _levelDone = 0;
            // States are compared within a depth and an order: "delays left" means left of d.
            _seen = owner.Reduces ? new ConcurrentDictionary<ulong, int>?[2] : null;
            _rootSleep = owner.Sleeps ? new SleepSet?[2] : null;
            if (_seen is null && _rootSleep is null && !readyCounts)
            {
                return null;
            }
            var counts = readyCounts ? new IReadOnlyList<int>[owner.Orders.Count] : null;
            for (var o = 0; o < owner.Orders.Count; o++)
            {
                var order = owner.Orders[o];
                if (_seen is not null)
                {
                    _seen[(int)order] = new ConcurrentDictionary<ulong, int>();
                }
                // Each default schedule's states first, with all d delays left: its extensions
                // are this depth's units, so a unit that comes back to one of them is cut there.
                // With sleep sets, its deliveries too: a unit's first deviation puts one to sleep.
                RunOne(rootRuntime, order, [], counted: false, out var ready, out var sleep, remaining: d, record: true);
                if (counts is not null)
                {
                    counts[o] = ready;
                }
                if (_rootSleep is not null)
                {
                    _rootSleep[(int)order] = sleep;
                }
            }
            return counts;
        }

        /// <summary>Runs at the depth <paramref name="other"/> began, comparing states with its table (a farm member's units of one depth).</summary>
        public void ShareLevel(Search other)
        {
            _level = other._level;
            _seen = other._seen;
            _rootSleep = other._rootSleep;
        }

        // The schedules of depth d under one first deviation, depth first in (point, position) order.
        public Found? Unit(IRuntime runtime, SystematicUnit unit, int d)
        {
            // A schedule, and with sleep sets the default delivery each of its delays puts off.
            var stack = new Stack<(Delay[] Delays, Footprint[] Skipped)>();
            var root = _rootSleep?[(int)unit.Order];
            if (root is not null && unit.First.Point >= root.Steps!.Count)
            {
                throw new InvalidOperationException(
                    $"unit {unit} is past the default schedule's {root.Steps.Count} choice points: the deterministic runtime is not deterministic");
            }
            Footprint[] firstSkipped = root is null ? [] : [root.Steps![unit.First.Point]];
            // A unit that is a whole schedule (all its delays at its one deviation) may be known to stop at once.
            if (root is not null && unit.First.Position == d && root.StopsAtOnce(unit.First.Point, unit.First.Position))
            {
                if (LimitReached())
                {
                    return null;
                }
                if (owner.CheckSkips)
                {
                    CheckSkip(runtime, unit.Order, [unit.First], firstSkipped);
                }
                CountSlept(unit.Order, [unit.First]);
                return null;
            }
            stack.Push(([unit.First], firstSkipped));
            Interlocked.Increment(ref _frontier);
            try
            {
                while (stack.Count > 0)
                {
                    var (delays, skipped) = stack.Pop();
                    Interlocked.Decrement(ref _frontier);
                    if (LimitReached())
                    {
                        return null;
                    }
                    var cost = delays.Sum(x => x.Position);
                    var run = RunOne(runtime, unit.Order, delays, counted: cost == d, out var counts, out var sleep,
                        remaining: d - cost, skipped, record: cost < d);
                    if (cost == d)
                    {
                        if (run.Violation is not null)
                        {
                            return new Found(run, unit.Order, delays, Seed);
                        }
                        continue;
                    }
                    // Extensions after the last deviation, pushed in reverse so that they are
                    // popped in (point, position) order. A run stopped on a sleeping delivery
                    // has its last choice point there: the default is cut, the others are not.
                    // An extension that would take a sleeping delivery is not made at all.
                    var last = delays[^1].Point;
                    for (var p = counts.Count - 1; p > last; p--)
                    {
                        var asleep = sleep?.AsleepPositions is { } positions ? positions[p] : 0UL;
                        for (var i = Math.Min(counts[p] - 1, d - cost); i >= 1; i--)
                        {
                            if (i < 64 && (asleep & (1UL << i)) != 0)
                            {
                                continue;
                            }
                            if (cost + i == d && sleep is not null && sleep.StopsAtOnce(p, i))
                            {
                                Delay[] child = [.. delays, new Delay(p, i)];
                                if (owner.CheckSkips)
                                {
                                    CheckSkip(runtime, unit.Order, child, [.. skipped, sleep.Steps![p]]);
                                }
                                CountSlept(unit.Order, child);
                                continue;
                            }
                            stack.Push(([.. delays, new Delay(p, i)], sleep is null ? [] : [.. skipped, sleep.Steps![p]]));
                            Interlocked.Increment(ref _frontier);
                        }
                    }
                }
                return null;
            }
            finally
            {
                Interlocked.Add(ref _frontier, -stack.Count);
            }
        }

        private SystematicProgress Progress()
        {
            var done = Interlocked.Read(ref _levelDone);
            var unitsLeft = Interlocked.Read(ref _unitsLeft);
            double sizeDone, sizeLeft;
            lock (_gate)
            {
                (sizeDone, sizeLeft) = (_sizeDone, _sizeLeft);
            }
            // The schedules started so far per schedule the units done would hold unreduced, times what the units left would hold.
            var estimate = sizeDone <= 0 ? 0 : (long)(done / sizeDone * Math.Max(0, sizeLeft));
            return new SystematicProgress(_level, owner.Bound, Interlocked.Read(ref _schedules), unitsLeft,
                Interlocked.Read(ref _frontier), estimate, clock.Elapsed) { Seed = Seed };
        }

        public SystematicResult Result(Found? finding, bool exhausted) =>
            new(owner.Bound, Interlocked.Read(ref _schedules), exhausted, finding?.Run, finding?.Delays, clock.Elapsed,
                Interlocked.Read(ref _deliveries))
            {
                FindingOrder = finding?.Order ?? DefaultOrder.FirstCome,
                FindingSeed = finding?.Seed ?? owner.Seed,
                SeedsSearched = _seedsSearched,
                Orders = owner.Orders,
                ByDelays = _byDelays.Take(owner.Bound + 1).ToArray(),
                StoppedBy = Limited ? $"the limit of {owner.MaxSchedules} schedules" : null,
                Coverage = _coverage,
                Reruns = Interlocked.Read(ref _reruns),
                Complete = Interlocked.Read(ref _schedules) - Interlocked.Read(ref _cutCounted),
                Reduced = owner.Reduces,
                SleepSets = owner.Sleeps,
                Slept = Interlocked.Read(ref _slept),
                SleptUnrun = Interlocked.Read(ref _sleptUnrun),
            };
    }
}
