using System.CommandLine;
using System.Globalization;
using DaxSim.Host.Cluster;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Explore;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using Newtonsoft.Json.Linq;

namespace DaxSim.Host.Cli;

// explore --strategy systematic --bound k: every schedule within k delays of the default one
// (Host/Explore/SystematicExplorer.cs). It says whether it covered them all ("exhausted"), or
// gives the first finding as a replayable report that shrinks like any other.
public sealed partial class Cli
{
    /// <summary>The bound of explore --strategy systematic when --bound is not given.</summary>
    public const int DefaultBound = 2;

    private int ExploreSystematic(ParseResult parsed, Argument<string> file, Option<ulong> seed, Option<string?> variantFlag,
        Option<string?> report, int workers, Option<bool> faultInjection, Option<long> seeds, Option<int?> boundFlag,
        Option<long?> maxFlag, Option<string> orderFlag, Option<int?> pctDepth, Option<long> pctSteps, Option<bool> noReduction,
        Option<bool> noSleepSets, ClusterRunOptions? farmCluster = null, FarmOptions? farm = null)
    {
        var seedCount = parsed.GetResult(seeds) is { Implicit: false } ? parsed.GetValue(seeds) : 1;
        if (seedCount < 1)
        {
            throw new InputException($"--seeds must be at least 1, not {seedCount}");
        }
        if (seedCount > 1 && farmCluster is not null)
        {
            throw new InputException(
                "--seeds is not taken by the systematic search on a seed farm, whose units are one seed's first deviations: " +
                "give one --seed, or run the seeds without --runtime cluster");
        }
        if (parsed.GetResult(pctDepth) is { Implicit: false } || parsed.GetResult(pctSteps) is { Implicit: false })
        {
            throw new InputException("--pct-depth and --pct-steps are for --strategy pct");
        }
        var bound = parsed.GetValue(boundFlag) ?? DefaultBound;
        if (bound < 0 || bound > SystematicExplorer.MaxBound)
        {
            throw new InputException($"--bound must be between 0 and {SystematicExplorer.MaxBound}, not {bound}");
        }
        var max = parsed.GetValue(maxFlag) ?? long.MaxValue;
        if (max < 1)
        {
            throw new InputException($"--max-schedules must be at least 1, not {max}");
        }
        var orderName = parsed.GetValue(orderFlag);
        var orders = DefaultOrders.ParseSearch(orderName ?? "") ?? throw new InputException(
            $"--order must be {DefaultOrders.FirstCome}, {DefaultOrders.LastCome} or both, not '{orderName}'");
        var scenario = LoadScenario(parsed.GetValue(file));
        var variant = ResolveVariant(scenario, parsed.GetValue(variantFlag));
        if (farmCluster is not null && scenario.Text is null)
        {
            throw new InputException($"{scenario.Source}: the cluster runtime needs the scenario's text");
        }
        var reportPath = parsed.GetValue(report);
        CheckWritable(reportPath, "--report");
        CheckWritable(_html, "--html");
        CheckJUnit(reportPath);
        var firstSeed = parsed.GetValue(seed);
        var lastSeed = SystematicExplorer.LastSeed(firstSeed, seedCount) ?? throw new InputException(
            $"--seed {firstSeed} and --seeds {seedCount} go past the last seed, {ulong.MaxValue}");
        var seedRange = seedCount > 1 ? $" for seeds {firstSeed} to {lastSeed}" : "";
        var injecting = parsed.GetValue(faultInjection);
        PrintHeader("explore", scenario, RuntimeKind.Deterministic, variant, firstSeed, Deterministic.Strategies.Systematic);
        PrintSearch(new SearchOptions(Deterministic.Strategies.Systematic, PctStrategy.DefaultDepth, 0, injecting), null, scenario, variant);
        Action<SystematicProgress> progress = p => stderr.WriteLine(
            $"  ... {p.Delays} of {p.Bound} delays{(seedCount > 1 ? $", seed {p.Seed} of {firstSeed}..{lastSeed}" : "")}: {p.Schedules} schedules done ({p.SchedulesPerSecond:F0}/s); " +
            (farmCluster is null
                ? $"{p.UnitsLeft} first deviations and {p.Frontier} schedules queued; "
                : $"{p.UnitsLeft} first deviations (units) left; ") +
            $"about {p.EstimatedLeft} left at this depth");
        var explorer = new SystematicExplorer(scenario, variant, bound, workers)
        {
            Seed = firstSeed,
            SeedCount = seedCount,
            FaultInjection = injecting,
            MaxSchedules = max,
            Orders = orders,
            Reduction = !parsed.GetValue(noReduction),
            SleepSets = !parsed.GetValue(noSleepSets),
            Progress = progress,
        };
        stdout.WriteLine($"  systematic: every schedule with at most {bound} delay(s) against the default " +
                         $"({string.Join(" and ", orders.Select(Describe))}), fewest delays first" +
                         (seedCount > 1 ? $", for each of seeds {firstSeed}..{lastSeed} (depth by depth across them)" : "") +
                         $"; {workers} worker(s)" +
                         (farmCluster is null
                             ? ""
                             : $" per member, a seed farm on {(farmCluster.Join is { } j ? $"the cluster at {j}" : $"{farmCluster.Nodes} member(s)")}, " +
                               "units of one order and first deviation, depth by depth") +
                         (max < long.MaxValue ? $"; at most {max} schedules" : "") +
                         (explorer.Reduces ? "; reduction: schedules cut at a state already reached" +
                                             (explorer.Sleeps ? " or on a delivery put off in a sleep set" : " (not sleep sets: --no-sleep-sets)")
                             : parsed.GetValue(noReduction) ? "; no reduction (--no-reduction)"
                             : "; no reduction (message or node faults, or fault injection)"));
        JUnitBegin("explore", scenario, variant,
            ("runtime", farmCluster is null ? RuntimeKind.Deterministic.Name() : RuntimeKind.Cluster.Name()),
            ("strategy", Deterministic.Strategies.Systematic), ("bound", bound.ToString(CultureInfo.InvariantCulture)),
            ("order", orderName),
            ("max-schedules", max < long.MaxValue ? max.ToString(CultureInfo.InvariantCulture) : null),
            ("seed", firstSeed.ToString(CultureInfo.InvariantCulture)),
            ("seeds", seedCount > 1 ? seedCount.ToString(CultureInfo.InvariantCulture) : null), ("workers", workers.ToString(CultureInfo.InvariantCulture)),
            ("fault-injection", injecting ? "true" : null));
        SystematicResult outcome;
        SystematicFarmResult? farmed = null;
        if (farmCluster is not null)
        {
            farmed = new SystematicFarmRunner(farmCluster, farm!) { Progress = progress, AfterUnit = SystematicFarmAfterUnit }
                .Run(scenario, variant, explorer);
            outcome = farmed.Search;
            _lastSystematicFarm = farmed;
        }
        else
        {
            outcome = explorer.Explore();
        }
        JUnitProperty("schedules", outcome.Schedules.ToString(CultureInfo.InvariantCulture));
        var seconds = Math.Max(outcome.Elapsed.TotalSeconds, 1e-9);
        stdout.WriteLine(
            $"  {outcome.Schedules} schedules in {outcome.Elapsed.TotalSeconds:F2} s ({outcome.Schedules / seconds:F0} schedules/s, " +
            $"{outcome.Deliveries / seconds / 1e6:F2} M messages/s); by delays: {string.Join(", ", outcome.ByDelays)}; " +
            $"{outcome.Reruns} run(s) again to extend schedules; {outcome.Schedules - outcome.Complete - outcome.Slept} cut short at a state already reached" +
            (outcome.SleepSets ? $", {outcome.Slept} on a sleeping delivery ({outcome.SleptUnrun} of those not run: their parent's run showed they would stop at once)" : ""));
        PrintCoverage(outcome.Coverage, "schedule");
        var summary = new JObject
        {
            ["strategy"] = Deterministic.Strategies.Systematic,
            ["bound"] = bound,
            ["orders"] = new JArray(orders.Select(o => o.Name())),
            ["exhausted"] = outcome.Exhausted,
            ["schedules"] = outcome.Schedules,
            ["schedulesAfterReduction"] = outcome.Complete,
            ["reduction"] = outcome.Reduced,
            ["sleepSets"] = outcome.SleepSets,
            ["schedulesSlept"] = outcome.Slept,
            ["schedulesSleptUnrun"] = outcome.SleptUnrun,
            ["schedulesByDelays"] = new JArray(outcome.ByDelays),
            ["stoppedBy"] = outcome.StoppedBy,
            ["seed"] = firstSeed,
            ["seeds"] = seedCount,
            ["seedsSearched"] = outcome.SeedsSearched,
            ["workers"] = workers,
            ["faultInjection"] = injecting,
            ["schedulesPerSecond"] = Math.Round(outcome.Schedules / seconds, 1),
            ["coverage"] = Report.CoverageJson(outcome.Coverage),
        };
        if (farmed is not null)
        {
            summary["runtime"] = RuntimeKind.Cluster.Name();
            summary["farm"] = new JObject
            {
                ["members"] = farmed.Members,
                ["workersPerMember"] = farm!.WorkersPerMember,
                ["units"] = farmed.UnitCount,
                ["unitsCounted"] = farmed.Units.Count,
                ["secondsToUp"] = Math.Round(farmed.TimeToUp.TotalSeconds, 2),
                ["unitsReturned"] = farmed.UnitsReturned,
                ["unitsPerMember"] = new JObject(farmed.Units.GroupBy(u => u.Member).OrderBy(g => g.Key)
                    .Select(g => new JProperty(g.Key.ToString(CultureInfo.InvariantCulture), g.Count()))),
            };
        }
        if (outcome.FindingDelays is null)
        {
            stdout.WriteLine(outcome.Exhausted
                ? $"exhausted: {outcome.Schedules} schedules ({outcome.Complete} after reduction) within bound {bound}{seedRange}: clean"
                : $"not exhausted: stopped by {outcome.StoppedBy} ({outcome.Schedules} schedules run) within bound {bound}{seedRange}: clean so far");
            stdout.WriteLine($"verdict: clean on all {outcome.Schedules} schedules (expected {scenario.Expect.JsonName()})");
            NoTimeline();
            WriteCleanExploreReport(reportPath, scenario, variant, Deterministic.Strategies.Systematic, summary,
                outcome.Exhausted);
            JUnitProperty("exhausted", outcome.Exhausted ? "true" : "false");
            JUnitProperty("report", reportPath);
            JUnitClean();
            return 0;
        }
        var delays = outcome.FindingDelays!;
        var found = outcome.FindingOrder;
        summary["delays"] = new JArray(delays.Select(d => new JArray(d.Point, d.Position)));
        summary["order"] = found.Name();
        summary["findingSeed"] = outcome.FindingSeed;
        var withSeed = seedCount > 1 ? $" with seed {outcome.FindingSeed}" : "";
        var count = delays.Sum(d => d.Position);
        var at = delays.Count == 0
            ? "the default schedule itself"
            : string.Join(", ", delays.Select(d => $"at choice {d.Point}, position {d.Position}"));
        return ReportExploreFinding(scenario, explorer.Settings(delays, found, outcome.FindingSeed), farmed?.FindingTraceHash ?? outcome.Finding!.TraceHash,
            $"the {found.Name()} schedule [{string.Join(", ", delays)}]{(farmed is null ? "" : " (run on a member)")}", reportPath,
            FindingReportPath(scenario.Name, variant.Name(), "systematic"),
            $"first violating schedule: {count} delay(s) against {found.Name()} order ({at}){withSeed}, " +
            $"after {outcome.Schedules} schedules; not exhausted",
            summary,
            $"first violating schedule: {count} delay(s) against {found.Name()} order{withSeed}, after {outcome.Schedules} schedules within bound {bound}{seedRange}");
    }

    private static string Describe(DefaultOrder order) =>
        order == DefaultOrder.FirstCome ? "first come, first served" : "last come, first served";
}