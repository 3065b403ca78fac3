using DaxSim.Protocol.Scenarios;
using DaxSim.Testing;
using DaxSim.Tests.Cli;
using DaxSim.Tests.Support;
using Newtonsoft.Json.Linq;
using Xunit;

namespace DaxSim.Tests.Testing;

/// <summary>
/// The fault-injection test API (DaxSim.Testing, docs/testing-api.md): exploring from a test,
/// the failure a finding makes, its replay command, and scenarios built in code.
/// </summary>
public sealed class SimulationSpecs : CliHarness
{
    private static Simulation Shipped503Truncate() =>
        Simulation.Load(Shipped("generic-503-truncate")).WithWorkers(1);

    [Fact]
    public void A_clean_exploration_must_pass_AssertClean_and_say_how_many_seeds_ran()
    {
        var lines = new List<string>();
        var exploration = Simulation.Load(Shipped("two-pins")).WithWorkers(2).WithLog(lines.Add)
            .Explore(strategy: "pct", seeds: 20);

        Assert.Same(exploration, exploration.AssertClean());
        Assert.True(exploration.Clean);
        Assert.Null(exploration.Finding);
        Assert.Equal(20, exploration.SeedsRun);
        Assert.Equal(20, exploration.Coverage.Runs);
        Assert.Contains(lines, l => l.Contains("strategy pct (depth drawn from each seed, steps ", StringComparison.Ordinal));
        Assert.Contains("  clean on all 20 seeds", lines);
        var none = Assert.Throws<DaxSimAssertionException>(() => exploration.AssertFinds("S1"));
        Assert.Contains("expected a finding of S1 in scenario two-pins", none.Message);
        Assert.Contains("all 20 seeds (1..20) were clean", none.Message);
    }

    [Fact]
    public void A_finding_must_fail_with_the_invariant_the_seed_the_minimal_trace_and_a_replay_command_that_replays_it()
    {
        var exploration = Shipped503Truncate().WithVariant("no-break").WithReportDirectory(Dir)
            .Explore(seeds: 50);

        var failure = Assert.Throws<DaxSimFindingException>(() => exploration.AssertClean());
        var finding = failure.Finding;
        Assert.Same(finding, exploration.Finding);
        Assert.Equal(finding.Message, failure.Message);
        Assert.Equal("S1", finding.Invariant);
        Assert.Equal(1UL, finding.Seed); // docs/variants.md: no-break falls at seed 1
        Assert.StartsWith(
            "DaxSim found S1 (use-after-free) in scenario generic-503-truncate (" + Shipped("generic-503-truncate") +
            "): variant no-break, strategy random, seed 1", failure.Message);
        Assert.Contains(finding.Description, failure.Message);

        // The minimal trace: shrunk, and in the message line for line.
        Assert.NotNull(finding.Shrunk);
        Assert.True(finding.MinimalSteps < finding.OriginalSteps, $"{finding.MinimalSteps} steps, was {finding.OriginalSteps}");
        var trace = finding.MinimalTrace.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(trace);
        Assert.Contains("minimal trace (", failure.Message);
        Assert.Contains("  " + trace[^1].TrimEnd('\r'), failure.Message);
        Assert.Equal(finding.MinimalTrace, File.ReadAllText(finding.MinimalTracePath));
        Assert.True(File.Exists(finding.MinimalScenarioPath), finding.MinimalScenarioPath);

        // The replay command names a file in the report directory, which `daxsim replay` runs
        // to the same violation and trace.
        var (_, shrunkReport) = DaxSim.Host.Cli.Cli.ShrunkPaths(finding.ReportPath);
        Assert.Equal($"daxsim replay {shrunkReport}", finding.ReplayCommand);
        Assert.Contains($"replay: {finding.ReplayCommand}", failure.Message);
        Assert.StartsWith(Dir, shrunkReport);
        var args = finding.ReplayCommand.Split(' ');
        Assert.Equal(["daxsim", "replay"], args[..2]);
        var replay = Invoke(args[1..]);
        Assert.True(replay.Code == 1, replay.ToString());
        Assert.Contains("VIOLATION S1 (use-after-free)", replay.Out);
        Assert.Contains("replay: identical to the recorded run", replay.Out);
        Assert.Equal("S1", (string?)ReadReport(shrunkReport)["violation"]?["invariant"]);

        // The finding as explored replays too.
        var original = Invoke("replay", finding.ReportPath);
        Assert.True(original.Code == 1, original.ToString());
        Assert.Contains("replay: identical to the recorded run", original.Out);
        Assert.Equal(1UL, (ulong)ReadReport(finding.ReportPath)["seed"]!);
    }

    [Fact]
    public void AssertFinds_must_return_a_finding_of_the_invariant_and_fail_on_another()
    {
        var exploration = Shipped503Truncate().WithVariant("no-break").WithReportDirectory(Dir)
            .WithShrinkBudget(TimeSpan.Zero).Explore(seeds: 5);

        var finding = exploration.AssertFinds("S1");
        Assert.Null(finding.Shrunk);
        Assert.Null(finding.MinimalScenarioPath);
        Assert.Equal(finding.ReportPath, finding.ReplayReportPath);
        Assert.Contains("\ntrace (", finding.Message);
        var wrong = Assert.Throws<DaxSimFindingException>(() => exploration.AssertFinds("L1"));
        Assert.StartsWith("expected a finding of L1, but found S1", wrong.Message);
    }

    [Fact]
    public void Fault_injection_must_be_what_explore_runs_with_it_seed_for_seed()
    {
        var file = Shipped("generic-503-punch");
        var exploration = Simulation.Load(file).WithVariant("no-break-on-fallocate").WithWorkers(1)
            .WithReportDirectory(Dir).WithShrinkBudget(TimeSpan.Zero).WithFaultInjection().Explore(seeds: 30);
        var cli = Invoke("explore", file, "--seeds", "30", "--variant", "no-break-on-fallocate", "--workers", "1",
            "--fault-injection", "--no-shrink", "--report", PathIn("cli.json"));

        var finding = exploration.AssertFinds();
        Assert.Contains("strategy random, fault injection, seed ", finding.Message);
        Assert.Contains($"first violating seed: {finding.Seed}\n", cli.Out.ReplaceLineEndings("\n"));
        Assert.Equal(ReadReport(PathIn("cli.json"))["traceHash"], ReadReport(finding.ReportPath)["traceHash"]);
        Assert.NotNull(ReadReport(finding.ReportPath)["replay"]?["faultInjection"]);
    }

    [Fact]
    public void A_scenario_built_in_code_must_be_the_shipped_file_key_for_key_and_run_for_run()
    {
        var built = ScenarioBuilder.Named("generic-503-truncate")
            .Description(
                "xfstests generic/503 (src/t_mmap_collision.c, truncate_down_fn): one process maps the 4 pages of a " +
                "DAX file once, in main(); two threads run the same function over that one mapping, each looping a " +
                "truncate to 0, a fallocate of the 4 pages, an O_DIRECT pread into the mapping, and a random sleep of " +
                "under 1 ms.")
            .Device(blocks: 8)
            .DaxFile("dax", pages: 4)
            .PlainFile("src", pages: 4)
            .Process("t_mmap_collision", p => p.Mmap("dax", "0-3"))
            .Task("thread1", repeat: 10, process: "t_mmap_collision", node: null, Truncate503)
            .Task("thread2", repeat: 10, process: "t_mmap_collision", node: null, Truncate503)
            .Expect("clean");
        var file = Shipped("generic-503-truncate");
        var shipped = JObject.Parse(File.ReadAllText(file));
        shipped.Remove("$schema"); // for editors (docs/scenario.schema.json); the loader ignores it

        Assert.True(JToken.DeepEquals(shipped, JObject.Parse(built.ToJson())), built.ToJson());
        var fromCode = Simulation.From(built);
        var fromFile = Simulation.Load(file);
        Assert.Equal("(built) generic-503-truncate", fromCode.Scenario.Source);
        foreach (var seed in new ulong[] { 1, 2, 3 })
        {
            Assert.Equal(fromFile.Run(seed).TraceHash, fromCode.Run(seed).TraceHash);
        }
        var buggy = fromCode.WithVariant("no-break").Run(1);
        Assert.Equal("S1", buggy.Violation?.Invariant.ToString());
        Assert.Equal(fromFile.WithVariant("no-break").Run(1).TraceHash, buggy.TraceHash);
    }

    private static void Truncate503(TaskBuilder t) => t
        .Truncate("dax", size: 0)
        .Fallocate("dax", "0-3")
        .DioRead(from: "src", into: "dax", pages: "0-3", ioTime: "200us")
        .Sleep("1ms", random: true);

    [Fact]
    public void A_scenario_built_in_code_can_be_explored_and_a_built_finding_replays()
    {
        var built = ScenarioBuilder.Named("built-two-pins")
            .DaxFile("dax", pages: 4)
            .PlainFile("src", pages: 4)
            .Task("short", t => t.Mmap("dax", "0-3").DioRead("src", "dax", "0", ioTime: "10us", repeat: 20).Munmap("dax"))
            .Task("long", t => t.Mmap("dax", "0-3").DioRead("src", "dax", "3", ioTime: "500us", repeat: 4).Munmap("dax"))
            .Task("truncate", repeat: 8, t => t.Truncate("dax", size: 0).Fallocate("dax", "0-3"));

        Simulation.From(built).WithWorkers(2).Explore(seeds: 30).AssertClean();
        var finding = Simulation.From(built).WithVariant("no-unmap").WithWorkers(1).WithReportDirectory(Dir)
            .Explore(seeds: 200).AssertFinds();
        Assert.Contains("in scenario built-two-pins ((built) built-two-pins)", finding.Message);
        var replay = Invoke("replay", finding.ReplayReportPath);
        Assert.Contains("replay: identical to the recorded run", replay.Out);
    }

    [Fact]
    public void Bad_builder_input_must_get_the_loaders_errors_as_a_file_with_the_same_mistakes_does()
    {
        var built = ScenarioBuilder.Named("bad")
            .DaxFile("dax", pages: 4)
            .Task("t", t => t.Mmap("dax", "0-7").Sleep("200").Truncate("dx", size: 0))
            .Signal(at: "1ms", task: "nobody")
            .Variant("no-brake");
        const string file = """
            {
              "name": "bad",
              "variant": "no-brake",
              "files": [ { "name": "dax", "dax": true, "pages": 4 } ],
              "tasks": [ { "name": "t", "steps": [
                { "op": "mmap", "file": "dax", "pages": "0-7" },
                { "op": "sleep", "for": "200" },
                { "op": "truncate", "file": "dx", "size": 0 } ] } ],
              "faults": [ { "kind": "signal", "at": "1ms", "task": "nobody" } ]
            }
            """;

        var fromBuilder = Assert.Throws<ScenarioException>(() => Simulation.From(built));
        var fromFile = Assert.Throws<ScenarioException>(() => ScenarioLoader.Parse(file, "bad.json"));

        Assert.Equal(fromFile.Errors.Select(e => e.Message), fromBuilder.Errors.Select(e => e.Message));
        Assert.Equal(5, fromBuilder.Errors.Count);
        Assert.All(fromBuilder.Errors, e => Assert.Equal("(built) bad", e.Source));
        Assert.Contains(fromBuilder.Errors, e => e.Message.StartsWith("unknown variant \"no-brake\"", StringComparison.Ordinal));
        Assert.Contains(fromBuilder.Errors, e => e.Message.Contains("0-7", StringComparison.Ordinal));
        // Line and column point into the builder's JSON.
        var lines = built.ToJson().Split('\n');
        Assert.All(fromBuilder.Errors, e => Assert.InRange(e.Line, 1, lines.Length));
    }

    [Fact]
    public void The_builder_example_of_the_docs_must_build_with_every_key_it_names()
    {
        // docs/testing-api.md, "ScenarioBuilder: scenarios in code".
        var scenario = ScenarioBuilder.Named("threads")
            .DaxFile("dax", pages: 4)
            .PlainFile("src", pages: 4)
            .Process("app", p => p.Mmap("dax", "0-3"))
            .Task("dio", repeat: 10, process: "app", node: null, t => t
                .DioRead(from: "src", into: "dax", pages: "0-3", async: true)
                .Sleep("1ms", random: true))
            .Task("punch", repeat: 10, t => t.PunchHole("dax", "0-3").Fallocate("dax", "0-3"))
            .Signal(at: "2ms", task: "punch")
            .Limits(virtualTime: "10s")
            .Expect("clean")
            .Build();

        Assert.Equal(["dio", "punch"], scenario.Tasks.Select(t => t.Name));
        Assert.Equal("app", Assert.Single(scenario.DeclaredProcesses).Name);
        var read = Assert.IsType<DioReadStep>(scenario.Tasks[0].Steps[0]);
        Assert.True(read.Async);
        Assert.Equal(TimeSpan.FromMilliseconds(2), Assert.IsType<SignalFault>(Assert.Single(scenario.Faults)).At);
        Assert.Equal(TimeSpan.FromSeconds(10), scenario.Limits.VirtualTime);
        Assert.Equal(10, scenario.Tasks[1].Repeat);
    }

    [Fact]
    public void A_systematic_search_that_covers_its_bound_must_pass_AssertExhausted_and_one_a_limit_stops_must_not()
    {
        var lines = new List<string>();
        var simulation = Simulation.Parse(
            File.ReadAllText(Shipped("generic-503-punch")).Replace("\"repeat\": 10", "\"repeat\": 1"), "punch-1")
            .WithWorkers(2).WithLog(lines.Add);

        var exhausted = simulation.ExploreSystematic(bound: 1);
        var limited = simulation.ExploreSystematic(bound: 1, maxSchedules: 5, order: "first-come");

        Assert.Same(exhausted, exhausted.AssertExhausted());
        Assert.True(exhausted.Exhausted);
        Assert.True(exhausted.Schedules > 2, $"{exhausted.Schedules} schedules"); // two defaults and their one-delay schedules
        Assert.Contains(lines, l => l.StartsWith($"  exhausted: {exhausted.Schedules} schedules (", StringComparison.Ordinal));
        Assert.Same(limited, limited.AssertClean());
        Assert.False(limited.Exhausted);
        var stopped = Assert.Throws<DaxSimAssertionException>(() => limited.AssertExhausted());
        Assert.Contains($"expected every schedule within bound 1 of scenario {simulation.Scenario.Name} to run clean", stopped.Message);
        Assert.Contains("the limit of 5 schedules", stopped.Message);
        var none = Assert.Throws<DaxSimAssertionException>(() => exhausted.AssertFinds());
        Assert.Contains("within 1 delay(s), but all", none.Message);
    }

    [Fact]
    public void A_systematic_finding_must_name_its_schedule_and_replay()
    {
        var exploration = Simulation.Load(Shipped("two-pins")).WithVariant("gup-fast-no-recheck").WithWorkers(2)
            .WithShrinkBudget(TimeSpan.Zero).WithReportDirectory(Dir).ExploreSystematic(bound: 1);

        var failure = Assert.Throws<DaxSimFindingException>(() => exploration.AssertExhausted());
        var finding = exploration.AssertFinds("S1");
        Assert.Same(finding, failure.Finding);
        Assert.StartsWith("1 delay(s) against first-come order (at choice ", finding.Schedule);
        Assert.Contains($"strategy systematic (bound 1, order both), schedule: {finding.Schedule} (seed 1)", failure.Message);
        Assert.EndsWith("-systematic.json", finding.ReportPath);
        var replay = Invoke("replay", finding.ReportPath);
        Assert.True(replay.Code == 1, replay.ToString());
        Assert.Contains("replay: identical to the recorded run", replay.Out);
        Assert.Throws<ArgumentException>(() => exploration.Simulation.ExploreSystematic(order: "fifo"));
        Assert.Throws<ArgumentOutOfRangeException>(() => exploration.Simulation.ExploreSystematic(bound: 17));
        var seeds = Assert.Throws<ArgumentException>(() => exploration.Simulation.Explore(strategy: "systematic"));
        Assert.Contains("call ExploreSystematic(bound: k)", seeds.Message);
    }

    [Fact]
    public void A_systematic_search_over_several_seeds_must_find_what_one_seed_misses_and_replay_with_its_seed()
    {
        // Seed 1's random sleeps keep gup-fast's race with fsync's punch out of reach within one delay.
        var simulation = Simulation.Load(Shipped("fsync-vs-punch")).WithVariant("gup-fast-no-recheck@linux-6.15").WithWorkers(2)
            .WithShrinkBudget(TimeSpan.Zero).WithReportDirectory(Dir);

        simulation.ExploreSystematic(bound: 1, seeds: 1).AssertExhausted();
        var exploration = simulation.ExploreSystematic(bound: 1, seeds: 12);

        var finding = exploration.AssertFinds("S1");
        var failure = Assert.Throws<DaxSimFindingException>(() => exploration.AssertClean());
        Assert.Contains("strategy systematic (bound 1, order both, seeds 1..12)", failure.Message);
        var seed = ReadReport(finding.ReportPath)["seed"]!.ToString();
        Assert.NotEqual("1", seed);
        Assert.Contains($"(seed {seed})", failure.Message);
        var replay = Invoke("replay", finding.ReportPath);
        Assert.True(replay.Code == 1, replay.ToString());
        Assert.Contains("replay: identical to the recorded run", replay.Out);
        Assert.Throws<ArgumentOutOfRangeException>(() => simulation.ExploreSystematic(seeds: 0));
    }

    [Fact]
    public void An_unknown_variant_or_strategy_must_be_an_argument_error_that_lists_the_known_ones()
    {
        var simulation = Simulation.Load(Shipped("two-pins"));

        var variant = Assert.Throws<ArgumentException>(() => simulation.WithVariant("no-brake"));
        Assert.Contains("unknown variant \"no-brake\"; expected one of: mainline", variant.Message);
        var strategy = Assert.Throws<ArgumentException>(() => simulation.Explore(strategy: "clairvoyant", seeds: 1));
        Assert.Contains("unknown strategy 'clairvoyant'; known: random, pct", strategy.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => simulation.Explore(seeds: 0));
        var loaded = Assert.Throws<ScenarioException>(() => Simulation.Load(PathIn("missing.json")));
        Assert.Contains("cannot read the scenario file", loaded.Message);
    }
}
