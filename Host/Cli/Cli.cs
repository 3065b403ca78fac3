using System.CommandLine;
using System.Globalization;
using System.Reflection;
using DaxSim.Host.Checking;
using DaxSim.Host.Cluster;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Explore;
using DaxSim.Host.Local;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace DaxSim.Host.Cli;

/// <summary>
/// The `daxsim` command line (docs/contract.md): run, explore, replay.
/// Exit codes: 0 no violation, 1 safety violation, 3 liveness violation, 2 bad input or
/// usage, 4 inconclusive (a real-time run the host ran too late to judge); 70 when DaxSim
/// itself fails, 75 when a cluster member is too slow to answer (try again).
/// </summary>
public sealed partial class Cli(TextWriter stdout, TextWriter stderr)
{
    public const int ExitUsage = 2;
    public const int ExitInternal = 70;
    public const int ExitSlowMember = 75;
    public const string DefaultScenario = "generic-503-punch.json";

    private static readonly string[] Strategies = Deterministic.Strategies.Names;

    public int Invoke(string[] args)
    {
        _clock.Restart();
        try
        {
            return Dispatch(args);
        }
        catch (InputException e)
        {
            stderr.WriteLine($"daxsim: {e.Message}");
            return ExitUsage;
        }
        catch (SlowMemberException e)
        {
            JUnitError(e, "slow-member");
            stderr.WriteLine($"daxsim: {e.Message}");
            return ExitSlowMember;
        }
        catch (Exception e) when (e is not ScenarioException && _pending is not null)
        {
            // An internal error (exit 70, reported by Program with its stack) still gets its test case.
            JUnitError(e, "internal-error");
            throw;
        }
        catch (ScenarioException e)
        {
            foreach (var error in e.Errors)
            {
                stderr.WriteLine($"daxsim: {error}");
            }
            return ExitUsage;
        }
    }

    private int Dispatch(string[] args)
    {
        var file = new Argument<string?>("FILE")
        {
            Description = $"Scenario file (JSON). Without one, the embedded default ({DefaultScenario}) runs.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var seed = new Option<ulong>("--seed") { Description = "The 64-bit seed of every random choice.", DefaultValueFactory = _ => 1 };
        var variant = new Option<string?>("--variant")
        {
            Description = $"Protocol variant: {string.Join(", ", Variants.AllNames)}, or DEVIATION@BASE (docs/variants.md). Default: the scenario's, else mainline.",
        };
        var runtime = new Option<string>("--runtime")
        {
            Description = "deterministic (seeded scheduler, virtual time), local (ActorSystem, real threads) or cluster.",
            DefaultValueFactory = _ => RuntimeKind.Local.Name(),
        };
        var report = new Option<string?>("--report") { Description = "Write the JSON report (also a replayable trace) here." };
        var strategy = new Option<string>("--strategy")
        {
            Description = $"Scheduling strategy of the deterministic runtime: {string.Join(", ", Strategies)}.",
            DefaultValueFactory = _ => "random",
        };
        var pctDepth = new Option<int?>("--pct-depth")
        {
            Description = "pct: d, the bug depth to aim at; a run has d - 1 priority change points. " +
                          $"Default: drawn from each seed, 1 to {PctStrategy.MaxChangePoints} change points.",
        };
        var pctSteps = new Option<long>("--pct-steps")
        {
            Description = "pct: k, the scheduling choices of a run, from which change points are drawn. " +
                          $"Default: the longest of {DeterministicRuntime.PctProbeRuns} random runs of the scenario.",
        };
        var faultInjection = new Option<bool>("--fault-injection")
        {
            Description = "Deterministic runtime: add signals, kills and message delays drawn from the seed; " +
                          "recorded in the report for replay.",
        };
        var traceText = new Option<string?>("--trace-text") { Description = "Write every delivery and event, as text, here." };

        var run = new Command("run", "Run a scenario once and check every invariant on every event.")
        {
            file, seed, variant, runtime, report, traceText, strategy, pctDepth, pctSteps, faultInjection,
        };

        var exploreFile = new Argument<string>("FILE") { Description = "Scenario file (JSON)." };
        var seeds = new Option<long>("--seeds")
        {
            Description = "How many seeds to try (random, pct, pos); systematic: how many seeds' draws to search, every " +
                          "schedule within --bound of each (default 1).",
        };
        var exploreSeed = new Option<ulong>("--seed") { Description = "The first seed.", DefaultValueFactory = _ => 1 };
        var workers = new Option<int>("--workers")
        {
            Description = "Seeds run in parallel (default: one per core).",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var bound = new Option<int?>("--bound")
        {
            Description = $"systematic: k, the most delays against the default schedule (0-{SystematicExplorer.MaxBound}; default 2).",
        };
        var maxSchedules = new Option<long?>("--max-schedules")
        {
            Description = "systematic: stop after this many schedules (the search is then not exhausted).",
        };
        var order = new Option<string>("--order")
        {
            Description = "systematic: the default schedule the delays are counted against: first-come, last-come, " +
                          "or both (default: both, first-come first at each depth).",
            DefaultValueFactory = _ => DefaultOrders.Both,
        };
        var noReduction = new Option<bool>("--no-reduction")
        {
            Description = "systematic: run every schedule to its end, also those that reach a state another schedule reached.",
        };
        var noSleepSets = new Option<bool>("--no-sleep-sets")
        {
            Description = "systematic: keep the reduction's state comparison but not its sleep sets, which cut a schedule " +
                          "where it takes a delivery it put off that commutes with everything taken since (docs/exploration.md).",
        };
        var exploreRuntime = new Option<string>("--runtime")
        {
            Description = "deterministic (this process's workers) or cluster (a seed farm: the seeds, or with --strategy " +
                          "systematic the first deviations, in units over the members, --nodes N or --join HOST:PORT; " +
                          "docs/cluster.md, \"A seed farm\").",
            DefaultValueFactory = _ => RuntimeKind.Deterministic.Name(),
        };
        var unitSeeds = new Option<int?>("--unit-seeds")
        {
            Description = $"--runtime cluster: seeds per work unit the coordinator leases (1-1000000; default {FarmOptions.DefaultUnitSeeds}; " +
                          "not with systematic, whose units are first deviations).",
        };
        var explore = new Command("explore",
            "Run a scenario over many seeds (random, pct, pos), or every schedule within a bound (systematic), on the " +
            "deterministic runtime; stop at the first violation.")
        {
            exploreFile, seeds, exploreSeed, variant, strategy, report, workers, pctDepth, pctSteps, faultInjection,
            bound, maxSchedules, order, noReduction, noSleepSets, exploreRuntime, unitSeeds,
        };

        var trace = new Argument<string>("TRACE") { Description = "A report written by run or explore (--report)." };
        var replay = new Command("replay", "Re-run a recorded deterministic run and check it gives the same result.")
        {
            trace, report, traceText,
        };

        var clusterFlags = new RunClusterFlags();
        clusterFlags.AddTo(run);
        clusterFlags.AddTo(explore);
        var nodeFlags = new NodeFlags();
        var node = nodeFlags.Command();

        var html = new Option<string?>("--html") { Description = HtmlDescription };
        run.Options.Add(html);
        explore.Options.Add(html);
        var noShrink = new Option<bool>("--no-shrink") { Description = NoShrinkDescription };
        explore.Options.Add(noShrink);
        replay.Options.Add(html);
        var junit = new Option<string?>("--junit") { Description = JUnitDescription };
        run.Options.Add(junit);
        explore.Options.Add(junit);
        replay.Options.Add(junit);

        var loadOptions = new LoadOptions();
        var load = loadOptions.Command();

        var root = new RootCommand("DaxSim: the Linux DAX layout-break protocol as Akka.NET actors.")
        {
            run, explore, replay, node, load,
        };

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
            {
                stderr.WriteLine($"daxsim: {error.Message}");
            }
            stderr.WriteLine("Try 'daxsim --help'.");
            return ExitUsage;
        }
        // --help and --version anywhere: the parser's own action prints them, nothing runs.
        if (parsed.Action is not null)
        {
            return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
        }
        var command = parsed.CommandResult.Command;
        _html = parsed.GetValue(html);
        _noShrink = parsed.GetValue(noShrink);
        _junit = parsed.GetValue(junit);
        if (command == node)
        {
            return Node(nodeFlags.Read(parsed));
        }
        if (command == run)
        {
            var runtimeKind = Runtimes.Parse(parsed.GetValue(runtime)!);
            ClusterRunOptions? cluster = null;
            if (runtimeKind == RuntimeKind.Cluster)
            {
                cluster = clusterFlags.Read(parsed);
            }
            else if (clusterFlags.AnyGiven(parsed))
            {
                throw new InputException("--nodes, --join, --hostname, --bind, --port, --cluster-name and --tls-* need --runtime cluster");
            }
            return Run(LoadScenario(parsed.GetValue(file)), parsed.GetValue(seed), parsed.GetValue(variant),
                runtimeKind, parsed.GetValue(report), parsed.GetValue(traceText),
                SearchFlags(parsed.GetValue(strategy)!, parsed.GetValue(pctDepth), parsed.GetValue(pctSteps),
                    parsed.GetValue(faultInjection)), cluster);
        }
        if (command == explore)
        {
            var k = parsed.GetValue(workers);
            if (k < 1 || k > 256)
            {
                throw new InputException($"--workers must be between 1 and 256, not {k}");
            }
            var exploreKind = parsed.GetValue(exploreRuntime);
            if (exploreKind != RuntimeKind.Deterministic.Name() && exploreKind != RuntimeKind.Cluster.Name())
            {
                throw new InputException($"--runtime: explore runs on deterministic or cluster, not '{exploreKind}'");
            }
            ClusterRunOptions? farmCluster = null;
            FarmOptions? farm = null;
            if (exploreKind == RuntimeKind.Cluster.Name())
            {
                var systematic = parsed.GetValue(strategy) == Deterministic.Strategies.Systematic;
                if (systematic && parsed.GetValue(unitSeeds) is not null)
                {
                    throw new InputException(
                        "--unit-seeds is for seeds: a systematic farm's units are the first deviations of its schedules");
                }
                farmCluster = clusterFlags.Read(parsed) with { Log = stdout };
                var unit = parsed.GetValue(unitSeeds) ?? FarmOptions.DefaultUnitSeeds;
                if (unit is < 1 or > 1_000_000)
                {
                    throw new InputException($"--unit-seeds must be between 1 and 1000000, not {unit}");
                }
                // One worker per member unless --workers says how many each runs.
                farm = new FarmOptions
                {
                    UnitSeeds = unit,
                    WorkersPerMember = parsed.GetResult(workers) is { Implicit: false } ? k : 1,
                };
                if (systematic)
                {
                    // A systematic unit (every schedule under one first deviation) can run for minutes at a deep bound.
                    farm = farm with { LeaseTimeout = TimeSpan.FromMinutes(10), StallTimeout = TimeSpan.FromMinutes(10) };
                }
                k = farm.WorkersPerMember;
            }
            else if (clusterFlags.AnyGiven(parsed) || parsed.GetValue(unitSeeds) is not null)
            {
                throw new InputException("--nodes, --join, --unit-seeds and the other cluster flags of explore need --runtime cluster");
            }
            if (parsed.GetValue(strategy) == Deterministic.Strategies.Systematic)
            {
                return ExploreSystematic(parsed, exploreFile, exploreSeed, variant, report, k, faultInjection,
                    seeds, bound, maxSchedules, order, pctDepth, pctSteps, noReduction, noSleepSets, farmCluster, farm);
            }
            if (parsed.GetResult(bound) is not null || parsed.GetResult(maxSchedules) is not null ||
                parsed.GetResult(noReduction) is { Implicit: false } || parsed.GetResult(order) is { Implicit: false } ||
                parsed.GetResult(noSleepSets) is { Implicit: false })
            {
                throw new InputException(
                    "--bound, --max-schedules, --order, --no-reduction and --no-sleep-sets are for --strategy systematic");
            }
            if (parsed.GetResult(seeds) is not { Implicit: false })
            {
                throw new InputException($"--seeds is needed with --strategy {parsed.GetValue(strategy)}");
            }
            var count = parsed.GetValue(seeds);
            if (count < 1)
            {
                throw new InputException($"--seeds must be at least 1, not {count}");
            }
            return Explore(LoadScenario(parsed.GetValue(exploreFile)), parsed.GetValue(exploreSeed), count,
                parsed.GetValue(variant), SearchFlags(parsed.GetValue(strategy)!, parsed.GetValue(pctDepth),
                    parsed.GetValue(pctSteps), parsed.GetValue(faultInjection)), parsed.GetValue(report), k,
                farmCluster, farm);
        }
        if (command == replay)
        {
            return Replay(parsed.GetValue(trace)!, parsed.GetValue(report), parsed.GetValue(traceText));
        }
        if (command == load)
        {
            return Load(parsed, loadOptions);
        }
        stderr.WriteLine("daxsim: a command is needed: run, explore, replay, node or load. Try 'daxsim --help'.");
        return ExitUsage;
    }

    // --- scenarios and flags -------------------------------------------------------------------

    public static Scenario LoadScenario(string? path)
    {
        if (path is not null)
        {
            return ScenarioLoader.LoadFile(path);
        }
        using var stream = typeof(Cli).Assembly.GetManifestResourceStream($"DaxSim.Host.{DefaultScenario}")
                           ?? throw new InvalidOperationException("the embedded default scenario is missing");
        using var reader = new StreamReader(stream);
        return ScenarioLoader.Parse(reader.ReadToEnd(), $"(embedded) {DefaultScenario}");
    }

    private static Variant ResolveVariant(Scenario scenario, string? flag)
    {
        if (flag is null)
        {
            return scenario.Variant ?? Variant.Mainline;
        }
        return Variants.TryParse(flag, out var v, out var error) ? v : throw new InputException($"--variant: {error}");
    }

    private static void CheckChoice(string flag, string value, string[] allowed)
    {
        if (!allowed.Contains(value))
        {
            throw new InputException($"{flag}: unknown value '{value}'; known: {string.Join(", ", allowed)}");
        }
    }

    private static void CheckWritable(string? path, string flag)
    {
        if (path is null)
        {
            return;
        }
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is null || !Directory.Exists(dir))
        {
            throw new InputException($"{flag}: the directory of '{path}' does not exist");
        }
        if (Directory.Exists(path))
        {
            throw new InputException($"{flag}: '{path}' is a directory");
        }
    }

    // --- run -----------------------------------------------------------------------------------

    private int Run(Scenario scenario, ulong seed, string? variantFlag, RuntimeKind runtime, string? reportPath,
        string? traceTextPath, SearchOptions search, ClusterRunOptions? cluster = null)
    {
        var variant = ResolveVariant(scenario, variantFlag);
        var deterministic = runtime == RuntimeKind.Deterministic;
        if (!deterministic && search.Strategy != Deterministic.Strategies.Random)
        {
            throw new InputException($"--strategy {search.Strategy} needs --runtime deterministic");
        }
        if (!deterministic && search.FaultInjection)
        {
            throw new InputException("--fault-injection needs --runtime deterministic");
        }
        CheckWritable(reportPath, "--report");
        CheckWritable(traceTextPath, "--trace-text");
        CheckWritable(_html, "--html");
        CheckJUnit(reportPath);
        if (runtime == RuntimeKind.Cluster)
        {
            cluster = (cluster ?? new ClusterRunOptions()) with { Log = stdout };
            if (cluster.Join is null)
            {
                ClusterRuntime.CheckNodeFaults(scenario, cluster.Nodes);
                ClusterRuntime.Placement(scenario, cluster.Nodes);
            }
            if (scenario.Text is null)
            {
                throw new InputException($"{scenario.Source}: the cluster runtime needs the scenario's text");
            }
        }
        CheckFaults(scenario, runtime);
        var settings = new RunSettings
        {
            Seed = seed, Variant = variant, RecordTrace = traceTextPath is not null, RecordTimeline = _html is not null,
        };
        PrintHeader("run", scenario, runtime, variant, seed, search.Strategy);
        using var engine = Runtimes.For(runtime, cluster);
        if (deterministic)
        {
            search = PrintSearch(search, null, scenario, variant);
            settings = settings with
            {
                Deterministic = new DeterministicSettings
                {
                    Strategy = search.Strategy,
                    PctDepth = search.PctDepth,
                    PctSteps = search.PctSteps,
                    FaultInjection = search.FaultInjection,
                },
            };
        }
        JUnitBegin("run", scenario, variant, ("runtime", runtime.Name()), ("seed", seed.ToString(CultureInfo.InvariantCulture)),
            ("strategy", deterministic ? search.Strategy : null),
            ("pct-depth", deterministic && search.Strategy == Deterministic.Strategies.Pct ? search.PctDepth.ToString(CultureInfo.InvariantCulture) : null),
            ("pct-steps", deterministic && search.Strategy == Deterministic.Strategies.Pct ? search.PctSteps.ToString(CultureInfo.InvariantCulture) : null),
            ("fault-injection", search.FaultInjection ? "true" : null));
        var result = engine.Run(scenario, settings);
        PrintInjected(scenario, result);
        if (_junit is not null && reportPath is null && deterministic && result.Violation is not null)
        {
            // The failure's replay command needs a report: it goes beside the JUnit file.
            reportPath = JUnitReportPath(_junit, scenario.Name, variant.Name(), seed);
        }
        var replayCommand = deterministic
            ? ReplayCommand(scenario, reportPath, seed, variant) + SearchArgs(search, reportPath, result)
            : null;
        var code = Finish(scenario, result, reportPath, traceTextPath, replayCommand);
        WriteTimeline(scenario, result, replayCommand);
        JUnitResult(result, replayCommand, reportPath);
        return code;
    }

    /// <summary>Node and message faults need a runtime that has nodes and a network: deterministic (simulated) or cluster.</summary>
    private static void CheckFaults(Scenario scenario, RuntimeKind runtime)
    {
        var index = scenario.Faults.ToList().FindIndex(f => f is not (SignalFault or KillFault or EnomemFault));
        if (index >= 0 && runtime == RuntimeKind.Local)
        {
            var (line, column) = FaultPosition(scenario.Text, index);
            var where = line > 0 ? $"{scenario.Source}:{line}:{column}" : scenario.Source;
            throw new InputException(
                $"{where}: fault '{FaultKind(scenario.Faults[index])}' needs --runtime deterministic (simulated nodes and network) or --runtime cluster; the local runtime has neither");
        }
    }

    /// <summary>
    /// The 1-based line and column of the opening brace of entry <paramref name="index"/> of the
    /// scenario's "faults" (the loader keeps their order), or (0, 0) if it cannot be found.
    /// </summary>
    private static (int Line, int Column) FaultPosition(string? text, int index)
    {
        if (text is null)
        {
            return (0, 0);
        }
        try
        {
            using var reader = new JsonTextReader(new StringReader(text)) { DateParseHandling = DateParseHandling.None };
            var root = JToken.ReadFrom(reader, new JsonLoadSettings
            {
                LineInfoHandling = LineInfoHandling.Load,
                CommentHandling = CommentHandling.Ignore,
            });
            if (root is JObject obj && obj["faults"] is JArray faults && index < faults.Count &&
                faults[index] is IJsonLineInfo info && info.HasLineInfo())
            {
                return (info.LineNumber, Math.Max(1, info.LinePosition));
            }
        }
        catch (JsonException)
        {
            // The loader has read this text already; if Json.NET cannot, name the file alone.
        }
        return (0, 0);
    }

    private static string FaultKind(FaultSpec f) => f switch
    {
        CrashNodeFault => "crashNode",
        PartitionFault => "partition",
        HealFault => "heal",
        MessageFault m => m.Kind.ToString().ToLowerInvariant(),
        _ => f.GetType().Name,
    };

    // --- explore -------------------------------------------------------------------------------

    private int Explore(Scenario scenario, ulong firstSeed, long seeds, string? variantFlag, SearchOptions search,
        string? reportPath, int workers, ClusterRunOptions? farmCluster = null, FarmOptions? farm = null)
    {
        var variant = ResolveVariant(scenario, variantFlag);
        CheckWritable(reportPath, "--report");
        CheckWritable(_html, "--html");
        CheckJUnit(reportPath);
        if (farmCluster is not null && scenario.Text is null)
        {
            throw new InputException($"{scenario.Source}: the cluster runtime needs the scenario's text");
        }
        PrintHeader("explore", scenario, RuntimeKind.Deterministic, variant, firstSeed, search.Strategy);
        search = PrintSearch(search, null, scenario, variant);
        stdout.WriteLine($"  seeds {firstSeed}..{firstSeed + (ulong)seeds - 1} ({seeds}), {workers} worker(s)" +
                         (farmCluster is null
                             ? ""
                             : $" per member, a seed farm on {(farmCluster.Join is { } j ? $"the cluster at {j}" : $"{farmCluster.Nodes} member(s)")}, " +
                               $"units of {farm!.UnitSeeds} seed(s)"));
        Action<ExploreProgress> progress = p => stderr.WriteLine(
            $"  ... {p.Done} seeds done, {p.SeedsPerSecond:F0} seeds/s, {p.Findings} finding(s)");
        var explorer = new Explorer(scenario, variant, search.Strategy, workers)
        {
            PctDepth = search.PctDepth,
            PctSteps = search.PctSteps,
            FaultInjection = search.FaultInjection,
            Progress = progress,
        };
        var range = $"{firstSeed}..{firstSeed + (ulong)seeds - 1}";
        JUnitBegin("explore", scenario, variant, ("runtime", farmCluster is null ? RuntimeKind.Deterministic.Name() : RuntimeKind.Cluster.Name()),
            ("seeds", range),
            ("workers", workers.ToString(CultureInfo.InvariantCulture)), ("strategy", search.Strategy),
            ("pct-depth", search.Strategy == Deterministic.Strategies.Pct ? search.PctDepth.ToString(CultureInfo.InvariantCulture) : null),
            ("pct-steps", search.Strategy == Deterministic.Strategies.Pct ? search.PctSteps.ToString(CultureInfo.InvariantCulture) : null),
            ("fault-injection", search.FaultInjection ? "true" : null));
        ExploreResult outcome;
        ulong? findingSeed;
        ulong findingHash;
        FarmResult? farmed = null;
        if (farmCluster is not null)
        {
            farmed = new SeedFarm(farmCluster, farm!) { Progress = progress, AfterUnit = FarmAfterUnit }
                .Run(scenario, variant, search.Strategy, search.PctDepth, search.PctSteps, search.FaultInjection, firstSeed, seeds);
            outcome = farmed.Explore;
            findingSeed = farmed.FindingSeed;
            findingHash = farmed.FindingTraceHash;
            _lastFarm = farmed;
        }
        else
        {
            outcome = explorer.Explore(firstSeed, seeds);
            findingSeed = outcome.Finding?.Seed;
            findingHash = outcome.Finding?.TraceHash ?? 0;
        }
        JUnitProperty("seeds-run", outcome.SeedsRun.ToString(CultureInfo.InvariantCulture));
        var rate = outcome.SeedsRun / Math.Max(outcome.Elapsed.TotalSeconds, 1e-9);
        stdout.WriteLine(
            $"  {outcome.SeedsRun} seeds in {outcome.Elapsed.TotalSeconds:F2} s ({rate:F0} seeds/s, " +
            $"{outcome.Deliveries / Math.Max(outcome.Elapsed.TotalSeconds, 1e-9) / 1e6:F2} M messages/s)");
        PrintCoverage(outcome.Coverage);
        var summary = new JObject
        {
            ["firstSeed"] = firstSeed,
            ["seedsRun"] = outcome.SeedsRun,
            ["findings"] = outcome.Findings,
            ["workers"] = workers,
            ["strategy"] = search.Strategy,
            ["faultInjection"] = search.FaultInjection,
            ["seedsPerSecond"] = Math.Round(rate, 1),
            ["coverage"] = Report.CoverageJson(outcome.Coverage),
        };
        if (farmed is not null)
        {
            summary["runtime"] = RuntimeKind.Cluster.Name();
            summary["farm"] = new JObject
            {
                ["members"] = farmed.Members,
                ["workersPerMember"] = farm!.WorkersPerMember,
                ["unitSeeds"] = farm.UnitSeeds,
                ["units"] = farmed.Units.Count,
                ["secondsToUp"] = Math.Round(farmed.TimeToUp.TotalSeconds, 2),
                ["completed"] = new JArray(farmed.CompletedRanges.Select(r => new JArray(r.First, r.Count))),
                ["unitsReturned"] = farmed.UnitsReturned,
                ["unitsPerMember"] = new JObject(farmed.Units.GroupBy(u => u.Member).OrderBy(g => g.Key)
                    .Select(g => new JProperty(g.Key.ToString(CultureInfo.InvariantCulture), g.Count()))),
            };
        }
        if (findingSeed is not { } findingAt)
        {
            stdout.WriteLine($"verdict: clean on all {outcome.SeedsRun} seeds (expected {scenario.Expect.JsonName()})");
            NoTimeline();
            WriteCleanExploreReport(reportPath, scenario, variant, search.Strategy, summary);
            JUnitProperty("report", reportPath);
            JUnitClean();
            return 0;
        }
        return ReportExploreFinding(scenario, explorer.Settings(findingAt), findingHash,
            $"seed {findingAt}{(farmed is null ? "" : " (run on a member)")}", reportPath,
            FindingReportPath(scenario.Name, variant.Name(), $"seed{findingAt}"), $"first violating seed: {findingAt}",
            summary, $"first violating seed {findingAt} of seeds {range} ({outcome.SeedsRun} seeds run)");
    }

    /// <summary>
    /// An explore's finding: run again with everything recorded, for the report and the replay
    /// (on a DeterministicRuntime of its own: the shrinker runs its candidates on it too), checked
    /// to give the trace <paramref name="hash"/> the search saw; then the report (to
    /// <paramref name="defaultReport"/> without --report), the timeline, the shrunk finding and
    /// the JUnit failure. Returns the verdict's exit code.
    /// </summary>
    private int ReportExploreFinding(Scenario scenario, RunSettings settings, ulong hash, string what,
        string? reportPath, string defaultReport, string headline, JObject summary, string junitWhere)
    {
        using var det = new DeterministicRuntime();
        var full = det.Run(scenario, settings with
        {
            RecordOps = true, RecordSchedule = true, RecordTimeline = _html is not null,
        });
        if (full.TraceHash != hash)
        {
            throw new InvalidOperationException(
                $"{what} gave a different trace when run again ({Report.Hex(full.TraceHash)} vs {Report.Hex(hash)}): " +
                "the deterministic runtime is not deterministic");
        }
        reportPath ??= defaultReport;
        stdout.WriteLine(headline);
        PrintInjected(scenario, full);
        var code = Finish(scenario, full, reportPath, null, $"daxsim replay {reportPath}", summary);
        WriteTimeline(scenario, full, $"daxsim replay {reportPath}");
        var shrunk = ShrinkFinding(det, scenario, settings, full, reportPath);
        JUnitResult(full, $"daxsim replay {reportPath}", reportPath, junitWhere,
            shrunk is { } s ? [$"minimal scenario: {s.Scenario}", $"minimal replay: daxsim replay {s.Report}"] : null);
        return code;
    }

    // The flags that make `daxsim run` repeat a run of these search settings (a report says it all by
    // itself). A pct depth drawn from the seed is given as the run drew it: the same run either way.
    private static string SearchArgs(SearchOptions search, string? reportPath, RunResult result) =>
        reportPath is not null
            ? ""
            : (search.Strategy == Deterministic.Strategies.Pct
                  ? $" --strategy pct --pct-depth {result.PctDepth ?? search.PctDepth} --pct-steps {result.PctSteps ?? search.PctSteps}"
                  : search.Strategy != Deterministic.Strategies.Random ? $" --strategy {search.Strategy}" : "") +
              (search.FaultInjection ? " --fault-injection" : "");

    /// <summary>
    /// A clean explore's report (when asked for): no run to replay, so it is the exploration's
    /// summary and coverage; <paramref name="exhausted"/> for the systematic search.
    /// </summary>
    private void WriteCleanExploreReport(string? reportPath, Scenario scenario, Variant variant, string strategy,
        JObject summary, bool? exhausted = null)
    {
        if (reportPath is null)
        {
            return;
        }
        var json = new JObject
        {
            ["daxsim"] = Report.Format,
            ["scenario"] = scenario.Name,
            ["source"] = scenario.Source,
            ["runtime"] = RuntimeKind.Deterministic.Name(),
            ["verdict"] = Verdict.Clean.JsonName(),
            ["expect"] = scenario.Expect.JsonName(),
            ["variant"] = variant.Name(),
            ["strategy"] = strategy,
        };
        if (exhausted is { } e)
        {
            json["exhausted"] = e;
        }
        json["violation"] = null;
        json["explore"] = summary;
        Report.Write(reportPath, json);
        stdout.WriteLine($"  report: {reportPath}");
    }

    /// <summary>The search settings of run and explore: strategy, PCT's parameters (0: drawn or measured), fault injection.</summary>
    private sealed record SearchOptions(string Strategy, int PctDepth, long PctSteps, bool FaultInjection);

    private static SearchOptions SearchFlags(string strategy, int? pctDepthFlag, long pctSteps, bool faultInjection)
    {
        CheckChoice("--strategy", strategy, Strategies);
        // Not given: drawn from each seed (0).
        var pctDepth = pctDepthFlag ?? 0;
        if (pctDepthFlag is { } given && (given < 1 || given > 1000))
        {
            throw new InputException($"--pct-depth must be between 1 and 1000, not {given}");
        }
        if (pctSteps < 0)
        {
            throw new InputException($"--pct-steps must be at least 1, not {pctSteps}");
        }
        return new SearchOptions(strategy, pctDepth, pctSteps, faultInjection);
    }

    // Prints the strategy's parameters and fault injection; measures PCT's k when not given.
    private SearchOptions PrintSearch(SearchOptions search, DeterministicRuntime? det, Scenario scenario, Variant variant)
    {
        if (search.Strategy == Deterministic.Strategies.Pct)
        {
            var measured = search.PctSteps <= 0;
            if (measured)
            {
                if (det is not null)
                {
                    search = search with { PctSteps = det.EstimatePctSteps(scenario, variant) };
                }
                else
                {
                    using var probe = new DeterministicRuntime();
                    search = search with { PctSteps = probe.EstimatePctSteps(scenario, variant) };
                }
            }
            var depth = search.PctDepth == 0
                ? $"depth drawn from each seed (1 to {PctStrategy.MaxChangePoints} priority change points)"
                : $"depth {search.PctDepth} ({search.PctDepth - 1} priority change point(s))";
            stdout.WriteLine($"  pct: {depth}, steps {search.PctSteps}" +
                             (measured ? $" (measured: the most choices of {DeterministicRuntime.PctProbeRuns} random runs)" : ""));
        }
        if (search.Strategy == Deterministic.Strategies.Pos)
        {
            stdout.WriteLine("  pos: a random priority per delivery; after each choice, the deliveries that race with it " +
                             "(sharing its sender or receiver) draw new ones");
        }
        if (search.FaultInjection)
        {
            var span = TimeSpan.FromTicks(FaultInjection.ExpectedSpan(scenario)).TotalMilliseconds;
            var delay = TimeSpan.FromTicks(FaultInjection.MaxDelay(scenario)).TotalMicroseconds;
            stdout.WriteLine(
                $"  fault injection: up to {FaultInjection.MaxSignals} signal(s) and a kill (p {FaultInjection.KillChance}) " +
                $"per seed within the first {span.ToString("0.###", CultureInfo.InvariantCulture)} ms, message delays " +
                $"(p {FaultInjection.DelayChance.ToString("0.###", CultureInfo.InvariantCulture)} per delivery) up to " +
                $"{delay.ToString("0.#", CultureInfo.InvariantCulture)} us");
        }
        return search;
    }

    private void PrintInjected(Scenario scenario, RunResult result)
    {
        if (result.Faults is not { } plan)
        {
            return;
        }
        var faults = plan.Faults.Select(f =>
            $"{f.Kind} task-{scenario.TaskName(f.Task)} at {TraceLog.FormatTime(f.At)}").ToList();
        stdout.WriteLine($"  injected: {(faults.Count == 0 ? "no signal or kill" : string.Join(", ", faults))}; " +
                         $"{plan.Delays.Count} message delay(s)");
    }

    private void PrintCoverage(CoverageTotals coverage, string unit = "seed")
    {
        stdout.WriteLine($"  coverage over {coverage.Runs} {unit}(s): times reached, {unit}s that reached it");
        foreach (var branch in Coverage.All)
        {
            var runs = coverage.RunsReaching(branch);
            var share = runs == 0 ? "never" : (100.0 * runs / Math.Max(1, coverage.Runs)).ToString("0.0", CultureInfo.InvariantCulture) + "%";
            stdout.WriteLine($"    {Coverage.Name(branch),-26} {coverage.Total(branch),12} {runs,9} {share,7}");
        }
    }

    // --- replay --------------------------------------------------------------------------------

    private int Replay(string path, string? reportPath, string? traceTextPath)
    {
        var file = ReplayFile.Load(path, Strategies);
        CheckWritable(reportPath, "--report");
        CheckWritable(traceTextPath, "--trace-text");
        CheckWritable(_html, "--html");
        CheckJUnit(reportPath);
        var settings = file.Settings with { RecordTrace = traceTextPath is not null, RecordTimeline = _html is not null };
        PrintHeader("replay", file.Scenario, RuntimeKind.Deterministic, settings.Variant, settings.Seed, settings.Deterministic.Strategy);
        JUnitBegin("replay", file.Scenario, settings.Variant, ("runtime", RuntimeKind.Deterministic.Name()),
            ("seed", settings.Seed.ToString(CultureInfo.InvariantCulture)), ("strategy", settings.Deterministic.Strategy),
            ("trace", path));
        using var det = Runtimes.For(RuntimeKind.Deterministic);
        var result = det.Run(file.Scenario, settings);
        PrintInjected(file.Scenario, result);
        var code = Finish(file.Scenario, result, reportPath, traceTextPath, null);
        var hash = Report.Hex(result.TraceHash);
        var same = hash == file.TraceHash && result.Verdict.JsonName() == file.Verdict &&
                   result.Violation?.Invariant.Name() == file.Invariant;
        stdout.WriteLine(same
            ? $"replay: identical to the recorded run (trace {hash})"
            : $"replay: DIFFERS from the recorded run: verdict {result.Verdict.JsonName()} vs {file.Verdict}, " +
              $"trace {hash} vs {file.TraceHash}");
        WriteTimeline(file.Scenario, result, $"daxsim replay {path}");
        JUnitProperty("identical", same ? "true" : "false");
        JUnitResult(result, $"daxsim replay {path}", reportPath,
            same ? null : $"the replay DIFFERS from the recorded run: verdict {file.Verdict}, trace {file.TraceHash}");
        return code;
    }

    // --- output ------------------------------------------------------------------------------

    private void PrintHeader(string what, Scenario scenario, RuntimeKind runtime, Variant variant, ulong seed,
        string strategy)
    {
        stdout.WriteLine($"daxsim {what} {scenario.Name}  ({scenario.Source})");
        stdout.WriteLine($"  runtime {runtime.Name()}, variant {variant.Name()}, seed {seed}" +
                         (runtime == RuntimeKind.Deterministic ? $", strategy {strategy}" : ""));
        stdout.WriteLine($"  {scenario.Files.Count} file(s), {scenario.Tasks.Count} task(s), " +
                         $"{scenario.Device.Blocks} device blocks, {scenario.Faults.Count} fault(s), " +
                         $"expect {scenario.Expect.JsonName()}");
    }

    private string ReplayCommand(Scenario scenario, string? reportPath, ulong seed, Variant variant) =>
        reportPath is not null
            ? $"daxsim replay {reportPath}"
            : $"daxsim run {scenario.Source} --runtime deterministic --seed {seed} --variant {variant.Name()}";

    private int Finish(Scenario scenario, RunResult result, string? reportPath, string? traceTextPath,
        string? replay, JObject? explore = null)
    {
        var seconds = TimeSpan.FromTicks(result.EndTime).TotalSeconds;
        var runtime = result.Runtime;
        var simulated = runtime.VirtualTime();
        stdout.WriteLine(
            $"  {result.OpsCompleted} operations, {(simulated ? "simulated" : "elapsed")} time {seconds.ToString(simulated ? "0.#######" : "0.000", CultureInfo.InvariantCulture)} s" +
            (result.Deliveries > 0 ? $", {result.Deliveries} messages" : "") +
            (runtime == RuntimeKind.Local ? $", {result.Events} events from actors on {result.Threads} threads" : "") +
            (runtime == RuntimeKind.Cluster ? $", {result.Events} events from {result.Threads} member(s)" : "") +
            $", wall {result.WallTime.TotalSeconds:F2} s");
        if (result.Violation is { } v)
        {
            PrintViolation(v, result);
        }
        var expected = result.Verdict == scenario.Expect ? "as expected" : $"expected {scenario.Expect.JsonName()}";
        stdout.WriteLine($"verdict: {result.Verdict.JsonName()} ({expected})");
        if (result.Host?.Inconclusive is { } why)
        {
            stdout.WriteLine($"  inconclusive: {why}");
        }
        if (replay is not null && result.Violation is not null)
        {
            stdout.WriteLine($"  replay: {replay}");
        }
        if (reportPath is not null)
        {
            var json = Report.ToJson(scenario, result);
            if (explore is not null)
            {
                json["explore"] = explore;
            }
            Report.Write(reportPath, json);
            stdout.WriteLine($"  report: {reportPath}");
        }
        if (traceTextPath is not null && result.TraceText is { } text)
        {
            Report.WriteText(traceTextPath, text);
            stdout.WriteLine($"  trace: {traceTextPath}");
        }
        return result.Verdict.ExitCode();
    }

    private void PrintViolation(Violation v, RunResult result)
    {
        stdout.WriteLine($"VIOLATION {v.Invariant} ({Violation.Title(v.Invariant)}) at " +
                         $"{TraceLog.FormatTime(v.Time)}, seed {result.Seed}, variant {result.Variant.Name()}");
        if (v.Damage is { } damage)
        {
            stdout.WriteLine($"  {damage.Sentence()}");
        }
        stdout.WriteLine($"  {v.Description}");
        if (v.Actors.Count > 0)
        {
            stdout.WriteLine($"  actors: {string.Join(", ", v.Actors)}");
        }
        foreach (var edge in v.WaitFor)
        {
            stdout.WriteLine($"  wait-for: {edge}");
        }
        var messages = Report.MessagesInvolving(v, result.TraceTail).TakeLast(12).ToList();
        if (messages.Count > 0)
        {
            stdout.WriteLine("  last messages of those actors:");
            foreach (var line in messages)
            {
                stdout.WriteLine($"    {line}");
            }
        }
    }

    public static string Version =>
        typeof(Cli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";
}
