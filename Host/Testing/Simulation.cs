using System.Globalization;
using System.Text.RegularExpressions;
using DaxSim.Host.Checking;
using DaxSim.Host.Cli;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Explore;
using DaxSim.Host.Runs;
using DaxSim.Host.Shrink;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;

namespace DaxSim.Testing;

/// <summary>
/// Fault-injection tests as code: a scenario, how to explore it, and a verdict a test
/// framework reports. Reads as Coyote's <c>Configuration</c> and <c>TestingEngine</c> do:
/// <code>
/// Simulation.Load("scenarios/two-pins.json")
///     .WithVariant("no-unmap")
///     .WithFaultInjection()
///     .Explore(strategy: "pct", seeds: 500)
///     .AssertClean();
/// </code>
/// <see cref="Explore"/> runs seeds on the deterministic runtime with the
/// <see cref="Explorer"/> that `daxsim explore` uses (same workers, strategies, fault
/// injection, same seed for seed), so a finding here is the finding `daxsim explore` prints
/// for the same flags. On a finding it does what `daxsim explore` does: writes the finding's
/// replayable report, shrinks it with the <see cref="Shrinker"/> within
/// <see cref="ShrinkBudget"/>, writes the minimal scenario and its report next to it, and
/// replays that report (as `daxsim replay` does) to get its whole trace as text.
/// <see cref="Exploration.AssertClean"/> then throws a <see cref="DaxSimFindingException"/> whose
/// message has the invariant, the violation, the seed, the minimal trace and the replay command.
/// <para>
/// The API has no test framework in it: it throws exceptions, which xunit, NUnit and MSTest
/// all report as a failure with their message, and it returns the <see cref="Exploration"/> for
/// tests that would rather assert on it themselves. A Simulation is immutable: each
/// <c>With...</c> returns a copy, so one can be the base of several tests.
/// </para>
/// </summary>
public sealed record Simulation
{
    /// <summary>Lines of the minimal trace that go into a finding's message; the whole trace is in a file.</summary>
    public const int MessageTraceLines = 200;

    /// <summary>The environment variable that sets the default <see cref="ReportDirectory"/>.</summary>
    public const string ReportDirectoryVariable = "DAXSIM_FINDINGS";

    private Simulation(Scenario scenario)
    {
        if (scenario.Text is null)
        {
            // The report that replays a finding, and the shrinker's cuts, are made from the text.
            throw new ArgumentException(
                "the scenario has no text: load it with ScenarioLoader (or Simulation.Load/Parse) or build it with ScenarioBuilder",
                nameof(scenario));
        }
        Scenario = scenario;
        Variant = scenario.Variant ?? Protocol.Variant.Mainline;
    }

    /// <summary>The scenario file at <paramref name="path"/> (relative to the current directory).</summary>
    /// <exception cref="ScenarioException">The file cannot be read or is not a valid scenario: every problem, FILE:LINE:COLUMN.</exception>
    public static Simulation Load(string path) => new(ScenarioLoader.LoadFile(path));

    /// <summary>Scenario text (the file format); <paramref name="source"/> names it in errors and reports.</summary>
    /// <exception cref="ScenarioException">The text is not a valid scenario.</exception>
    public static Simulation Parse(string json, string source = "(inline)") => new(ScenarioLoader.Parse(json, source));

    /// <summary>A scenario built in code.</summary>
    /// <exception cref="ScenarioException">The loader rejects what the builder wrote.</exception>
    public static Simulation From(ScenarioBuilder builder) => new(builder.Build());

    /// <summary>A scenario ScenarioLoader has read (it keeps the text a report needs).</summary>
    public static Simulation From(Scenario scenario) => new(scenario);

    public Scenario Scenario { get; }

    /// <summary>The protocol version: <see cref="WithVariant"/>, else the scenario's "variant", else mainline.</summary>
    public Variant Variant { get; private init; }

    /// <summary>Signals, kills and message delays drawn from each seed (`--fault-injection`). Off by default.</summary>
    public bool FaultInjection { get; private init; }

    /// <summary>Seeds run in parallel, one ActorSystem each (`--workers`); default: the number of cores.</summary>
    public int Workers { get; private init; } = Environment.ProcessorCount;

    /// <summary>PCT's d (`--pct-depth`), for strategy pct; 0 (the default): drawn from each seed, as explore does.</summary>
    public int PctDepth { get; private init; }

    /// <summary>PCT's k (`--pct-steps`); 0: measured once with probe runs of the scenario, as explore does.</summary>
    public long PctSteps { get; private init; }

    /// <summary>How long shrinking a finding may take; zero: the finding is not shrunk (`--no-shrink`). Default 10 s.</summary>
    public TimeSpan ShrinkBudget { get; private init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Where a finding's reports go: <see cref="WithReportDirectory"/>, else the directory that
    /// the environment variable DAXSIM_FINDINGS names, else daxsim-findings in the system's
    /// temporary directory. Created when a finding is written.
    /// </summary>
    public string ReportDirectory { get; private init; } = DefaultReportDirectory();

    /// <summary>Where progress lines go (xunit's ITestOutputHelper.WriteLine, Console.WriteLine); none by default.</summary>
    public Action<string>? Log { get; private init; }

    /// <summary>Another protocol version: a base, a deviation or DEVIATION@BASE (docs/variants.md).</summary>
    /// <exception cref="ArgumentException">An unknown name; the message lists the known ones.</exception>
    public Simulation WithVariant(string variant) =>
        Variants.TryParse(variant, out var v, out var error)
            ? this with { Variant = v }
            : throw new ArgumentException(error, nameof(variant));

    public Simulation WithFaultInjection(bool on = true) => this with { FaultInjection = on };

    public Simulation WithWorkers(int workers) =>
        workers is >= 1 and <= 256
            ? this with { Workers = workers }
            : throw new ArgumentOutOfRangeException(nameof(workers), workers, "workers must be between 1 and 256");

    /// <summary>PCT's parameters (used when the strategy is pct): d (0: drawn from each seed), and k (0: measured).</summary>
    public Simulation WithPct(int depth = 0, long steps = 0)
    {
        if (depth is < 0 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(depth), depth,
                "the PCT depth must be between 1 and 1000, or 0 to draw it from each seed");
        }
        if (steps < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(steps), steps, "the PCT steps must be at least 1, or 0 to measure them");
        }
        return this with { PctDepth = depth, PctSteps = steps };
    }

    /// <summary>How long shrinking a finding may take; <see cref="TimeSpan.Zero"/> does not shrink.</summary>
    public Simulation WithShrinkBudget(TimeSpan budget) =>
        budget >= TimeSpan.Zero
            ? this with { ShrinkBudget = budget }
            : throw new ArgumentOutOfRangeException(nameof(budget), budget, "the shrink budget must not be negative");

    public Simulation WithReportDirectory(string directory) => this with { ReportDirectory = Path.GetFullPath(directory) };

    public Simulation WithLog(Action<string> log) => this with { Log = log };

    /// <summary>
    /// Runs seeds <paramref name="firstSeed"/>.. (<paramref name="seeds"/> of them) with
    /// <paramref name="strategy"/> (random, pct, or any strategy `daxsim explore --strategy`
    /// knows) and stops at the lowest seed that breaks an invariant, as `daxsim explore` does.
    /// <paramref name="faultInjection"/>: overrides <see cref="FaultInjection"/> for this call.
    /// A finding is written, shrunk and replayed before this returns (see the type's summary);
    /// the exploration's outcome is returned, not asserted: call <see cref="Exploration.AssertClean"/>
    /// or <see cref="Exploration.AssertFinds"/>.
    /// </summary>
    public Exploration Explore(string strategy = Strategies.Random, long seeds = 100, ulong firstSeed = 1,
        bool? faultInjection = null)
    {
        if (!Strategies.Names.Contains(strategy))
        {
            throw new ArgumentException($"unknown strategy '{strategy}'; known: {string.Join(", ", Strategies.Names)}",
                nameof(strategy));
        }
        if (strategy == Strategies.Systematic)
        {
            // Seeds do not choose its schedules: every seed would run the same default schedule.
            throw new ArgumentException(
                "the systematic search takes a bound, not seeds: call ExploreSystematic(bound: k)", nameof(strategy));
        }
        if (seeds < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(seeds), seeds, "explore at least 1 seed");
        }
        var inject = faultInjection ?? FaultInjection;
        var pctSteps = PctSteps;
        if (strategy == Strategies.Pct && pctSteps <= 0)
        {
            // Measured once here, as the command line does, not once per seed.
            using var probe = new DeterministicRuntime();
            pctSteps = probe.EstimatePctSteps(Scenario, Variant);
        }
        var search = $"strategy {strategy}" +
                     (strategy == Strategies.Pct
                         ? $" ({(PctDepth == 0 ? "depth drawn from each seed" : $"depth {PctDepth}")}, steps {pctSteps})"
                         : "") +
                     (inject ? ", fault injection" : "");
        Log?.Invoke($"daxsim explore {Scenario.Name} ({Scenario.Source}): variant {Variant.Name()}, {search}, " +
                    $"seeds {firstSeed}..{firstSeed + (ulong)seeds - 1}, {Workers} worker(s)");
        var explorer = new Explorer(Scenario, Variant, strategy, Workers)
        {
            PctDepth = PctDepth,
            PctSteps = pctSteps,
            FaultInjection = inject,
            Progress = p => Log?.Invoke($"  ... {p.Done} seeds done, {p.SeedsPerSecond:F0} seeds/s, {p.Findings} finding(s)"),
        };
        var outcome = explorer.Explore(firstSeed, seeds);
        Log?.Invoke($"  {outcome.SeedsRun} seeds in {outcome.Elapsed.TotalSeconds:F2} s");
        var finding = outcome.Finding is { } found
            ? Investigate(explorer.Settings(found.Seed), found, search, $"seed {found.Seed}", $"seed{found.Seed}")
            : null;
        Log?.Invoke(finding is null ? $"  clean on all {outcome.SeedsRun} seeds" : finding.Message);
        return new Exploration(this, strategy, inject, firstSeed, seeds, outcome, finding);
    }

    /// <summary>
    /// Every schedule with at most <paramref name="bound"/> delays against the default schedules
    /// (<paramref name="order"/>: "both", "first-come" or "last-come"), fewest delays first, as
    /// `daxsim explore --strategy systematic --bound k --order O` runs them (the same
    /// <see cref="SystematicExplorer"/>, workers and reduction): the outcome says whether every
    /// schedule within the bound ran (<see cref="SystematicExploration.Exhausted"/>), or has the
    /// first violating schedule as a <see cref="Finding"/>, written, shrunk and replayed like a
    /// seed's. <paramref name="maxSchedules"/> stops it early (then not exhausted). With
    /// <paramref name="seeds"/> above 1, every schedule within the bound of each of the seeds
    /// <paramref name="firstSeed"/> on (their random sleeps and draws), depth by depth across them,
    /// as `--seed S --seeds N` does.
    /// </summary>
    public SystematicExploration ExploreSystematic(int bound = 2, long maxSchedules = long.MaxValue, string order = "both",
        bool? faultInjection = null, ulong firstSeed = 1, long seeds = 1)
    {
        var lastSeed = SystematicExplorer.LastSeed(firstSeed, seeds) ?? throw new ArgumentOutOfRangeException(
            nameof(seeds), seeds, "search at least 1 seed, the last one at most 2^64 - 1");
        if (bound < 0 || bound > SystematicExplorer.MaxBound)
        {
            throw new ArgumentOutOfRangeException(nameof(bound), bound, $"the bound must be between 0 and {SystematicExplorer.MaxBound}");
        }
        if (maxSchedules < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxSchedules), maxSchedules, "run at least 1 schedule");
        }
        var orders = DefaultOrders.ParseSearch(order) ?? throw new ArgumentException(
            $"the order is {DefaultOrders.FirstCome}, {DefaultOrders.LastCome} or both, not '{order}'", nameof(order));
        var inject = faultInjection ?? FaultInjection;
        var range = seeds > 1 ? $" for seeds {firstSeed} to {lastSeed}" : "";
        var search = $"strategy systematic (bound {bound}, order {order}{(seeds > 1 ? $", seeds {firstSeed}..{lastSeed}" : "")})" +
                     (inject ? ", fault injection" : "");
        Log?.Invoke($"daxsim explore {Scenario.Name} ({Scenario.Source}): variant {Variant.Name()}, {search}, {Workers} worker(s)");
        var explorer = new SystematicExplorer(Scenario, Variant, bound, Workers)
        {
            Seed = firstSeed,
            SeedCount = seeds,
            FaultInjection = inject,
            MaxSchedules = maxSchedules,
            Orders = orders,
            Progress = p => Log?.Invoke($"  ... {p.Delays} of {p.Bound} delays: {p.Schedules} schedules done ({p.SchedulesPerSecond:F0}/s)"),
        };
        var outcome = explorer.Explore();
        Log?.Invoke($"  {outcome.Schedules} schedules ({outcome.Complete} to the end) in {outcome.Elapsed.TotalSeconds:F2} s");
        Finding? finding = null;
        if (outcome.Finding is { } found)
        {
            var delays = outcome.FindingDelays!;
            var schedule = $"{delays.Sum(d => d.Position)} delay(s) against {outcome.FindingOrder.Name()} order" +
                           (delays.Count == 0 ? "" : " (" + string.Join(", ", delays.Select(d => $"at choice {d.Point}, position {d.Position}")) + ")");
            finding = Investigate(explorer.Settings(delays, outcome.FindingOrder, outcome.FindingSeed), found, search, $"the schedule [{string.Join(", ", delays)}]",
                "systematic", schedule);
        }
        Log?.Invoke(finding?.Message ?? (outcome.Exhausted
            ? $"  exhausted: {outcome.Schedules} schedules ({outcome.Complete} after reduction) within bound {bound}{range}: clean"
            : $"  not exhausted: stopped by {outcome.StoppedBy}: clean so far"));
        return new SystematicExploration(this, outcome, finding);
    }

    /// <summary>
    /// One run of seed <paramref name="seed"/> on the deterministic runtime, as
    /// `daxsim run --runtime deterministic --seed N` runs it: its verdict, violation and trace
    /// hash (equal runs have equal hashes).
    /// </summary>
    public RunResult Run(ulong seed = 1, string strategy = Strategies.Random)
    {
        using var runtime = new DeterministicRuntime();
        return runtime.Run(Scenario, new RunSettings
        {
            Seed = seed,
            Variant = Variant,
            Deterministic = new DeterministicSettings
            {
                Strategy = strategy, PctDepth = PctDepth, PctSteps = PctSteps, FaultInjection = FaultInjection,
            },
        });
    }

    // What `daxsim explore` does with its finding: run it again with everything recorded, write
    // its report, shrink it, write the minimal scenario and report, and replay that report.
    private Finding Investigate(RunSettings settings, RunResult found, string search, string what, string fileStem,
        string? schedule = null)
    {
        using var runtime = new DeterministicRuntime();
        var full = runtime.Run(Scenario, settings with { RecordOps = true, RecordSchedule = true });
        if (full.TraceHash != found.TraceHash)
        {
            throw new InvalidOperationException(
                $"{what} gave a different trace when run again ({Report.Hex(full.TraceHash)} vs " +
                $"{Report.Hex(found.TraceHash)}): the deterministic runtime is not deterministic");
        }
        Directory.CreateDirectory(ReportDirectory);
        var reportPath = Path.Combine(ReportDirectory,
            $"daxsim-{FileNamePart(Scenario.Name)}-{FileNamePart(Variant.Name())}-{fileStem}.json");
        Report.Write(reportPath, Report.ToJson(Scenario, full));

        var replayPath = reportPath;
        string? minimalScenario = null;
        ShrinkResult? shrunk = null;
        if (ShrinkBudget > TimeSpan.Zero)
        {
            shrunk = new Shrinker(runtime.Run) { Budget = ShrinkBudget }.Shrink(Scenario, settings, full);
            var (scenarioPath, shrunkReport) = Cli.ShrunkPaths(reportPath);
            var smaller = shrunk.Scenario with { Source = scenarioPath };
            Report.WriteText(scenarioPath, smaller.Text!);
            Report.Write(shrunkReport, Report.ToJson(smaller, shrunk.Run));
            (replayPath, minimalScenario) = (shrunkReport, scenarioPath);
        }

        // The trace as `daxsim replay FILE --trace-text` writes it, from the file the replay
        // command names: so the command is known to reproduce the violation before a test
        // hands it to anyone.
        var replay = ReplayFile.Load(replayPath, Strategies.Names);
        var traced = runtime.Run(replay.Scenario, replay.Settings with { RecordTrace = true });
        if (Report.Hex(traced.TraceHash) != replay.TraceHash || traced.Violation?.Invariant.Name() != replay.Invariant)
        {
            throw new InvalidOperationException(
                $"{replayPath} does not replay: verdict {traced.Verdict.JsonName()} vs {replay.Verdict}, trace " +
                $"{Report.Hex(traced.TraceHash)} vs {replay.TraceHash}");
        }
        var tracePath = Path.ChangeExtension(replayPath, ".trace.txt");
        Report.WriteText(tracePath, traced.TraceText ?? "");
        return new Finding(Scenario, full, search, reportPath, replayPath, minimalScenario, tracePath,
            traced.TraceText ?? "", shrunk, replay.Scenario, schedule);
    }

    private static string DefaultReportDirectory() =>
        Environment.GetEnvironmentVariable(ReportDirectoryVariable) is { Length: > 0 } dir
            ? Path.GetFullPath(dir)
            : Path.Combine(Path.GetTempPath(), "daxsim-findings");

    // A scenario's name may be any text; a file name takes the characters of the format's names.
    private static string FileNamePart(string text) => Regex.Replace(text, "[^A-Za-z0-9_.@-]", "_");

    /// <summary>The command that replays a report, its path quoted when it needs to be.</summary>
    internal static string ReplayCommand(string path) =>
        "daxsim replay " + (path.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '$' or '\\')
            ? "'" + path.Replace("'", "'\\''", StringComparison.Ordinal) + "'"
            : path);

    internal static string Plural(long n, string what) =>
        n.ToString(CultureInfo.InvariantCulture) + " " + what + (n == 1 ? "" : "s");
}
