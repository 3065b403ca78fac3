using System.Diagnostics;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Explore;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;

namespace DaxSim.Host.Cluster;

/// <summary>One systematic unit as the runner counted it: its default order and first deviation, its schedules, the member that ran it.</summary>
public sealed record SystematicUnitRecord(int Unit, int Depth, DefaultOrder Order, Delay First, long Schedules, int Member,
    bool Finding);

/// <summary>
/// What a systematic farm gave: the search's figures as a single-process systematic search
/// gives them (Finding is null: the runner runs FindingDelays again itself and checks
/// <see cref="FindingTraceHash"/>), the units counted (each once), the members.
/// </summary>
public sealed record SystematicFarmResult(
    SystematicResult Search,
    ulong FindingTraceHash,
    IReadOnlyList<SystematicUnitRecord> Units,
    int UnitCount,
    int Members,
    TimeSpan TimeToUp,
    long UnitsRefused,
    long UnitsReturned);

/// <summary>
/// `daxsim explore --strategy systematic --runtime cluster` (docs/cluster.md, "A seed farm";
/// docs/exploration.md): the bounded systematic search with its units, first deviations
/// (depth, order, point, position), leased to the members by the seed farm's coordinator. The runner
/// runs the default schedules (depth 0, one per order) itself, derives every depth's units from
/// their ready counts (<see cref="SystematicExplorer.Units"/>), and counts each unit's result once in its
/// own <see cref="FarmLedger"/>, which has the depth barrier: the units of depth d+1 are
/// leased once every unit of depth d is done, so a finding has the fewest delays; within a
/// depth the lowest unit with a finding wins. The members run each unit with
/// <see cref="SystematicExplorer.RunUnit"/>, as the single-process search does.
/// </summary>
public sealed class SystematicFarmRunner(ClusterRunOptions cluster, FarmOptions farm)
{
    /// <summary>Called about once a second, from the thread that called Run.</summary>
    public Action<SystematicProgress>? Progress { get; init; }

    /// <summary>Tests: called after each unit counted, with the unit and the members the runner started.</summary>
    internal Action<SystematicUnitRecord, IReadOnlyList<NodeProcess>>? AfterUnit { get; init; }

    public SystematicFarmResult Run(Scenario scenario, Variant variant, SystematicExplorer explorer)
    {
        if (scenario.Text is null)
        {
            throw new Cli.InputException($"{scenario.Source}: the cluster runtime needs the scenario's text");
        }
        if (explorer.SeedCount != 1)
        {
            // A unit is an order and a first deviation of one seed's schedules.
            throw new Cli.InputException("the systematic search on a seed farm searches one seed (--seed): --seeds is not taken with it");
        }
        var clock = Stopwatch.StartNew();
        var bound = explorer.Bound;
        var byDelays = new long[bound + 1];
        var coverage = new CoverageTotals();
        long schedules = 0, complete = 0, reruns = 0, deliveries = 0, slept = 0, sleptUnrun = 0;
        var orders = explorer.Orders;
        var rootCounts = new IReadOnlyList<int>[orders.Count];
        using (var rootRuntime = Runtimes.ForOneThread(RuntimeKind.Deterministic))
        {
            for (var o = 0; o < orders.Count; o++)
            {
                var root = explorer.RunRoot(rootRuntime, orders[o], out var counts);
                rootCounts[o] = counts;
                schedules += root.Schedules;
                complete += root.Complete;
                reruns += root.Reruns;
                deliveries += root.Deliveries;
                coverage.Add(root.Coverage);
                byDelays[0] += root.Schedules;
                if (root.Finding is not null || (bound == 0 && o == orders.Count - 1))
                {
                    (cluster.Log ?? TextWriter.Null).WriteLine(root.Finding is not null
                        ? $"  farm: the {orders[o].Name()} default schedule (no delay) violates: no member started"
                        : "  farm: bound 0 is the default schedules alone, run here: no member started");
                    // Depth 0 is the whole search: no unit to lease.
                    var whole = root with
                    {
                        Schedules = schedules, Complete = complete, Reruns = reruns, Deliveries = deliveries,
                        ByDelays = byDelays, Coverage = coverage, Orders = orders, Elapsed = clock.Elapsed,
                    };
                    return new SystematicFarmResult(whole, root.Finding?.TraceHash ?? 0, [], 0, 0, TimeSpan.Zero, 0, 0);
                }
            }
        }
        var units = Enumerable.Range(1, bound)
            .SelectMany(d => SystematicExplorer.Units(d, orders, rootCounts).Select(unit => (Depth: d, Unit: unit)))
            .ToList();
        SystematicResult Outcome(bool exhausted, IReadOnlyList<Delay>? findingDelays, DefaultOrder findingOrder, bool limited) =>
            new(bound, schedules, exhausted, null, findingDelays, clock.Elapsed, deliveries)
            {
                FindingOrder = findingOrder,
                Orders = orders,
                ByDelays = byDelays,
                StoppedBy = limited ? $"the limit of {explorer.MaxSchedules} schedules" : null,
                Coverage = coverage,
                Complete = complete,
                Reduced = explorer.Reduces,
                SleepSets = explorer.Sleeps,
                Slept = slept,
                SleptUnrun = sleptUnrun,
                Reruns = reruns,
            };
        if (units.Count == 0)
        {
            (cluster.Log ?? TextWriter.Null).WriteLine("  farm: the default schedule has no choice point: no member started");
            // No choice point in the default run: it is the only schedule.
            return new SystematicFarmResult(Outcome(true, null, DefaultOrder.FirstCome, false), 0, [], 0, 0, TimeSpan.Zero, 0, 0);
        }
        var spec = new SystematicFarm(bound, explorer.Seed, explorer.MaxSchedules, explorer.Reduction,
            units.Select(u => u.Depth).ToArray(), units.Select(u => (int)u.Unit.Order).ToArray(),
            units.Select(u => u.Unit.First.Point).ToArray(), units.Select(u => u.Unit.First.Position).ToArray())
        {
            SleepSets = explorer.SleepSets,
        };
        var ledger = spec.Ledger(farm.LeaseTimeout);
        var sizes = SystematicExplorer.UnitSizes(units.Select(u => u.Unit).ToArray(), spec.Depths, orders, rootCounts);

        var log = cluster.Log ?? TextWriter.Null;
        // The search's time leaves out the members' start (printed apart), as the seed farm's does.
        using (var started = FarmMembers.Start(cluster, paused: clock))
        {
            var members = started.Members;
            var children = started.Children;
            var farmId = Guid.NewGuid().ToString("N");
            StartFarm Start() => new(farmId, scenario.Text, scenario.Source, variant.Name(), Strategies.Systematic, 0, 0,
                explorer.FaultInjection, 0, units.Count, 1, farm.WorkersPerMember,
                (long)farm.LeaseTimeout.TotalMilliseconds, started.Runner, ledger.Done.ToArray(), ledger.StopAt)
            {
                Systematic = spec,
            };

            var records = new List<SystematicUnitRecord>();
            var found = new Dictionary<int, (IReadOnlyList<Delay> Delays, DefaultOrder Order, ulong Hash)>();
            var depthSchedules = new long[bound + 1];
            var limited = false;
            var loop = new FarmLoop("systematic farm", farmId, members, children, started.Inbox, ledger, Start, farm.StallTimeout, log);
            loop.Run(() => ledger.Finished || limited, u =>
                {
                    if (Valid(spec, ledger, u) is not { } unit)
                    {
                        return null;
                    }
                    if (!ledger.Complete(u.Unit, u.ViolatingSeed))
                    {
                        return false;
                    }
                    var s = unit.Result;
                    schedules += s.Schedules;
                    complete += s.Complete;
                    slept += s.Slept;
                    sleptUnrun += s.SleptUnrun;
                    reruns += s.Reruns;
                    deliveries += u.Deliveries;
                    coverage.Add(unit.Coverage);
                    for (var d = 0; d <= bound; d++)
                    {
                        byDelays[d] += s.ByDelays[d];
                    }
                    depthSchedules[s.Depth] += s.Schedules;
                    if (unit.Finding is { } delays)
                    {
                        found[u.Unit] = (delays, (DefaultOrder)s.Order, u.TraceHash);
                    }
                    limited |= s.Limited || (schedules >= explorer.MaxSchedules && !ledger.Finished);
                    var record = new SystematicUnitRecord(u.Unit, s.Depth, (DefaultOrder)s.Order, new Delay(s.Point, s.Position),
                        s.Schedules, u.Member, unit.Finding is not null);
                    records.Add(record);
                    AfterUnit?.Invoke(record, children);
                    return true;
                },
                () => Progress?.Invoke(Where(ledger, spec, sizes, schedules, depthSchedules, clock.Elapsed)));
            // The lowest unit with a finding (the ledger's StopAt): every unit before it is done
            // clean, those of its depth included, unless the limit stopped the farm first.
            (IReadOnlyList<Delay> Delays, DefaultOrder Order, ulong Hash)? finding =
                ledger.StopAt is { } at && found.TryGetValue((int)at, out var hit) ? hit : null;
            var exhausted = finding is null && !limited;
            return new SystematicFarmResult(
                Outcome(exhausted, finding?.Delays, finding?.Order ?? DefaultOrder.FirstCome, limited && finding is null),
                finding?.Hash ?? 0, records.OrderBy(r => r.Unit).ToList(), units.Count, members.Count, started.TimeToUp,
                loop.Refused, loop.Returned);
        }
    }

    /// <summary>Where the farm stands, as the single-process search reports it: depth, schedules, units left at the depth.</summary>
    private SystematicProgress Where(FarmLedger ledger, SystematicFarm spec, double[] sizes, long schedules, long[] depthSchedules,
        TimeSpan elapsed)
    {
        var done = ledger.Done.ToHashSet();
        var count = sizes.Length;
        var open = Enumerable.Range(0, count).FirstOrDefault(u => !done.Contains(u) && ledger.Wanted(u), -1);
        var depth = open < 0 ? spec.Bound : spec.Depths[open];
        var atDepth = Enumerable.Range(0, count).Where(u => spec.Depths[u] == depth).ToList();
        var leftUnits = atDepth.Where(u => !done.Contains(u) && ledger.Wanted(u)).ToList();
        var left = leftUnits.Count;
        // As the single-process search estimates it: schedules per unreduced schedule of the units done (UnitSizes).
        var sizeDone = atDepth.Where(done.Contains).Sum(u => sizes[u]);
        var estimate = sizeDone <= 0 ? 0 : (long)(depthSchedules[depth] / sizeDone * leftUnits.Sum(u => sizes[u]));
        // Frontier: the members' schedules queued are not known here.
        return new SystematicProgress(depth, spec.Bound, schedules, left, 0, estimate, elapsed);
    }

    private sealed record CheckedUnit(SystematicUnitDone Result, CoverageTotals Coverage, IReadOnlyList<Delay>? Finding);

    /// <summary>
    /// A systematic unit's result, when it is one of the farm's units and consistent (its first
    /// deviation, counts that add up, a finding of the unit's depth under its first deviation);
    /// null otherwise.
    /// </summary>
    private static CheckedUnit? Valid(SystematicFarm spec, FarmLedger ledger, UnitDone u)
    {
        if (u.Systematic is not { } s || !ledger.IsUnit(u.Unit) || ledger.RangeOf(u.Unit) != new SeedRange(u.FirstSeed, u.Count) ||
            s.Depth != spec.Depths[u.Unit] || s.Order != spec.Orders[u.Unit] || s.Point != spec.Points[u.Unit] ||
            s.Position != spec.Positions[u.Unit] ||
            u.SeedsRun != 1 || s.Schedules < 0 || s.Complete < 0 || s.Complete > s.Schedules ||
            s.Slept < 0 || s.Slept > s.Schedules - s.Complete || s.SleptUnrun < 0 || s.SleptUnrun > s.Slept || s.Reruns < 0 ||
            u.Deliveries < 0 || u.CoverageRuns != s.Schedules - s.SleptUnrun || s.ByDelays is null || s.ByDelays.Length != spec.Bound + 1 ||
            s.ByDelays[s.Depth] != s.Schedules || s.ByDelays.Where((_, d) => d != s.Depth).Any(n => n != 0) ||
            s.FindingPoints is null || s.FindingPositions is null || s.FindingPoints.Length != s.FindingPositions.Length ||
            u.Findings != (s.FindingPoints.Length > 0 ? 1 : 0) ||
            (u.ViolatingSeed is { } v ? v != u.FirstSeed || u.Findings != 1 || s.Limited : u.Findings != 0))
        {
            return null;
        }
        IReadOnlyList<Delay>? finding = null;
        if (s.FindingPoints.Length > 0)
        {
            var delays = s.FindingPoints.Zip(s.FindingPositions, (p, i) => new Delay(p, i)).ToList();
            // Its first deviation is the unit's, the points rise, the positions add up to the depth.
            if (delays[0] != new Delay(s.Point, s.Position) || delays.Any(d => d.Position < 1) ||
                delays.Zip(delays.Skip(1)).Any(p => p.Item2.Point <= p.Item1.Point) || delays.Sum(d => d.Position) != s.Depth)
            {
                return null;
            }
            finding = delays;
        }
        return CoverageTotals.FromArrays(u.CoverageRuns, u.CoverageTotals, u.CoverageReaching) is { } c
            ? new CheckedUnit(s, c, finding)
            : null;
    }
}
