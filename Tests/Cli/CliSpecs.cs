using DaxSim.Host.Deterministic;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using DaxSim.Tests.Local;
using DaxSim.Tests.Support;
using Newtonsoft.Json.Linq;
using Xunit;

namespace DaxSim.Tests.Cli;

/// <summary>
/// The command-line contract (docs/contract.md) on the deterministic runtime:
/// verdicts and exit codes, the JSON report, replay and explore, and bad input.
/// </summary>
public sealed class CliSpecs : CliHarness
{
    // --- run ------------------------------------------------------------------------------------

    [Fact]
    public void A_clean_deterministic_run_must_exit_0_print_the_verdict_and_report_every_operation()
    {
        var file = Shipped("dio-vs-truncate");
        var scenario = ScenarioLoader.LoadFile(file);
        var report = PathIn("out.json");

        var r = Invoke("run", file, "--runtime", "deterministic", "--seed", "5", "--report", report);

        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("verdict: clean (as expected)", r.Out);
        Assert.Contains($"report: {report}", r.Out);
        Assert.Equal("", r.Err);
        Assert.Equal([report], Directory.GetFiles(Dir)); // no temporary file left beside it

        var json = ReadReport(report);
        Assert.Equal("dio-vs-truncate", (string?)json["scenario"]);
        Assert.Equal("deterministic", (string?)json["runtime"]);
        Assert.Equal("clean", (string?)json["verdict"]);
        Assert.Equal(5UL, (ulong)json["seed"]!);
        Assert.Equal("mainline", (string?)json["variant"]);
        Assert.Equal(JTokenType.Null, json["violation"]!.Type);

        // dio: 1 mmap + 20 dioRead + 1 munmap; truncate: 20 x (truncate + fallocate).
        var ops = (JArray)json["ops"]!;
        Assert.Equal(62, scenario.OperationCount);
        Assert.Equal(62, ops.Count);
        Assert.Equal(62L, (long)json["opsCompleted"]!);
        var counts = ops.GroupBy(o => $"{o["task"]}/{o["op"]}").ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new Dictionary<string, int>
        {
            ["dio/mmap"] = 1, ["dio/dioRead"] = 20, ["dio/munmap"] = 1,
            ["truncate/truncate"] = 20, ["truncate/fallocate"] = 20,
        }, counts);
        foreach (var op in ops)
        {
            Assert.Equal(JTokenType.String, op["task"]!.Type);
            Assert.Equal(JTokenType.String, op["op"]!.Type);
            Assert.False(string.IsNullOrEmpty((string?)op["result"]), op.ToString());
            Assert.Equal(JTokenType.Integer, op["start"]!.Type);
            Assert.Equal(JTokenType.Integer, op["end"]!.Type);
            Assert.True((long)op["end"]! >= (long)op["start"]!, op.ToString());
        }
        // A task runs its steps one after another: none starts before the one before it ended.
        foreach (var task in ops.GroupBy(o => (string)o["task"]!))
        {
            var list = task.ToList();
            for (var i = 1; i < list.Count; i++)
            {
                Assert.True((long)list[i]["start"]! >= (long)list[i - 1]["end"]!,
                    $"{task.Key}: {list[i]} starts before {list[i - 1]} ended");
            }
        }
        Assert.True((long)json["endTime"]! >= ops.Max(o => (long)o["end"]!));
    }

    [Fact]
    public void A_safety_bug_must_exit_1_with_a_safety_report_and_say_how_to_replay_it()
    {
        var file = Shipped("signal-long-pin");
        var report = PathIn("safety.json");

        var r = Invoke("run", file, "--runtime", "deterministic", "--variant", "no-break", "--seed", "1",
            "--report", report);

        Assert.True(r.Code == 1, r.ToString());
        Assert.Contains("VIOLATION S1 (use-after-free)", r.Out);
        Assert.Contains("seed 1, variant no-break", r.Out);
        Assert.Contains("verdict: safety (expected clean)", r.Out);
        Assert.Contains($"replay: daxsim replay {report}", r.Out);

        var json = ReadReport(report);
        Assert.Equal("safety", (string?)json["verdict"]);
        Assert.Equal("no-break", (string?)json["variant"]);
        Assert.Equal(1UL, (ulong)json["seed"]!);
        var violation = (JObject)json["violation"]!;
        Assert.Equal("S1", (string?)violation["invariant"]);
        Assert.Equal("safety", (string?)violation["class"]);
        Assert.Contains("task-pin", violation["actors"]!.Values<string>());
        Assert.NotEmpty((JArray)violation["trace"]!);
        Assert.Equal(JTokenType.Object, json["replay"]!.Type);
    }

    [Fact]
    public void Without_a_report_the_printed_replay_command_must_reproduce_the_violation()
    {
        var file = Shipped("signal-long-pin");
        var r = Invoke("run", file, "--runtime", "deterministic", "--variant", "no-break", "--seed", "1");
        Assert.True(r.Code == 1, r.ToString());
        string[] command = ["run", file, "--runtime", "deterministic", "--seed", "1", "--variant", "no-break"];
        Assert.Contains($"replay: daxsim {string.Join(' ', command)}", r.Out);

        var again = Invoke(command);

        Assert.True(again.Code == 1, again.ToString());
        Assert.Contains("VIOLATION S1", again.Out);
        Assert.Equal(WithoutWallTime(r.Out), WithoutWallTime(again.Out));
    }

    [Fact]
    public void A_lost_wakeup_must_exit_3_with_a_liveness_report()
    {
        var report = PathIn("liveness.json");
        var r = Invoke("run", Shipped("signal-long-pin"), "--runtime", "deterministic", "--variant", "wrong-wake-key",
            "--seed", "1", "--report", report);

        Assert.True(r.Code == 3, r.ToString());
        Assert.Contains("VIOLATION L2 (lost wakeup)", r.Out);
        Assert.Contains("verdict: liveness", r.Out);
        var json = ReadReport(report);
        Assert.Equal("liveness", (string?)json["verdict"]);
        Assert.Equal("L2", (string?)json["violation"]!["invariant"]);
        Assert.Equal("liveness", (string?)json["violation"]!["class"]);
    }

    [Fact]
    public void A_deadlock_found_by_explore_must_exit_3_with_its_wait_for_cycle()
    {
        var report = PathIn("deadlock.json");
        var r = Invoke("explore", Shipped("dio-vs-zero"), "--seeds", "300", "--variant", "hold-mmaplock",
            "--workers", "2", "--report", report);

        Assert.True(r.Code == 3, r.ToString());
        Assert.Contains("VIOLATION L1", r.Out);
        Assert.Contains("wait-for: ", r.Out);
        Assert.Equal("L1", (string?)ReadReport(report)["violation"]!["invariant"]);
    }

    // --- replay ---------------------------------------------------------------------------------

    [Fact]
    public void Replaying_a_safety_report_from_a_copy_elsewhere_must_reproduce_verdict_invariant_and_trace()
    {
        var original = PathIn("a", "run.json");
        Directory.CreateDirectory(PathIn("a"));
        var run = Invoke("run", Shipped("generic-503-punch"), "--runtime", "deterministic", "--variant", "no-break",
            "--seed", "3", "--report", original);
        Assert.True(run.Code == 1, run.ToString());
        var recorded = ReadReport(original);

        Directory.CreateDirectory(PathIn("b"));
        var copy = PathIn("b", "copy.json");
        File.Copy(original, copy);
        File.Delete(original);
        var again = PathIn("b", "again.json");

        var r = Invoke("replay", copy, "--report", again);

        Assert.True(r.Code == 1, r.ToString());
        var hash = (string)recorded["traceHash"]!;
        Assert.Contains($"replay: identical to the recorded run (trace {hash})", r.Out);
        var replayed = ReadReport(again);
        Assert.Equal("safety", (string?)replayed["verdict"]);
        Assert.Equal((string?)recorded["violation"]!["invariant"], (string?)replayed["violation"]!["invariant"]);
        Assert.Equal(hash, (string?)replayed["traceHash"]);
        Assert.Equal((long)recorded["deliveries"]!, (long)replayed["deliveries"]!);
        Assert.Equal((long)recorded["endTime"]!, (long)replayed["endTime"]!);
        Assert.Equal((string?)recorded["violation"]!["description"], (string?)replayed["violation"]!["description"]);
    }

    [Fact]
    public void Replay_must_say_so_when_the_run_no_longer_matches_the_recorded_one()
    {
        var report = PathIn("run.json");
        Assert.Equal(1, Invoke("run", Shipped("signal-long-pin"), "--runtime", "deterministic", "--variant",
            "no-break", "--report", report).Code);
        var json = ReadReport(report);
        json["replay"]!["traceHash"] = "0123456789abcdef";
        File.WriteAllText(report, json.ToString());

        var r = Invoke("replay", report);

        Assert.Contains("replay: DIFFERS from the recorded run", r.Out);
        Assert.Contains("0123456789abcdef", r.Out);
    }

    [Fact]
    public void A_run_with_the_largest_seed_must_replay()
    {
        // Seeds above long.MaxValue are written as JSON integers that Json.NET reads back as BigInteger.
        var report = PathIn("max-seed.json");
        var run = Invoke("run", Shipped("signal-long-pin"), "--runtime", "deterministic", "--variant", "no-break",
            "--seed", ulong.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture), "--report", report);
        Assert.True(run.Code == 1, run.ToString());

        var r = Invoke("replay", report);

        Assert.True(r.Code == 1, r.ToString());
        Assert.Contains($"seed {ulong.MaxValue}", r.Out);
        Assert.Contains("replay: identical to the recorded run", r.Out);
    }

    // --- explore --------------------------------------------------------------------------------

    [Fact]
    public void Explore_must_stop_at_the_lowest_violating_seed_print_it_and_write_a_replayable_report()
    {
        var file = Shipped("dio-vs-punch");
        var scenario = ScenarioLoader.LoadFile(file);
        // The answer, one seed after another on one runtime.
        ulong? first = null;
        using (var runtime = new DeterministicRuntime())
        {
            for (ulong seed = 1; seed <= 40 && first is null; seed++)
            {
                var result = runtime.Run(scenario, new RunSettings
                {
                    Seed = seed, Variant = Variant.NoUnmap, RecordOps = false, RecordSchedule = false,
                });
                if (result.Violation is not null)
                {
                    first = seed;
                }
            }
        }
        Assert.NotNull(first);
        var report = PathIn("found.json");

        var r = Invoke("explore", file, "--seeds", "40", "--variant", "no-unmap", "--workers", "2", "--report", report);

        Assert.True(r.Code == 1, r.ToString());
        Assert.Contains($"first violating seed: {first}", r.Out);
        Assert.Contains($"replay: daxsim replay {report}", r.Out);
        var json = ReadReport(report);
        Assert.Equal(first, (ulong)json["seed"]!);
        Assert.Equal("safety", (string?)json["verdict"]);
        Assert.Equal("no-unmap", (string?)json["variant"]);

        var replay = Invoke("replay", report);
        Assert.True(replay.Code == 1, replay.ToString());
        Assert.Contains("replay: identical to the recorded run", replay.Out);
    }

    [Fact]
    public void Explore_over_mainline_must_exit_0()
    {
        var r = Invoke("explore", Shipped("generic-503-truncate"), "--seeds", "30", "--workers", "2",
            "--report", PathIn("none.json"));

        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("verdict: clean on all 30 seeds", r.Out);
        Assert.DoesNotContain("VIOLATION", r.Out);
    }

    [Fact]
    public void Explore_with_the_pct_strategy_must_either_run_it_or_refuse_it_as_bad_usage()
    {
        var report = PathIn("pct.json");
        var r = Invoke("explore", Shipped("generic-503-truncate"), "--seeds", "3", "--strategy", "pct",
            "--workers", "1", "--report", report);
        if (r.Code == 2)
        {
            AssertUsageError(r, report, "--strategy", "'pct'");
        }
        else
        {
            Assert.True(r.Code == 0, r.ToString());
            Assert.Contains("strategy pct", r.Out);
        }
    }

    // --- bad input ------------------------------------------------------------------------------

    private const string ClusterFaultScenario = """
        {
          "name": "partitioned",
          "device": { "blocks": 8 },
          "files": [ { "name": "dax", "pages": 4 }, { "name": "src", "dax": false, "pages": 4 } ],
          "tasks": [ { "name": "t", "steps": [ { "op": "touch", "file": "dax", "pages": "0-3" } ] } ],
          "faults": [
            { "at": "1ms", "kind": "signal", "task": "t" },
            { "at": "2ms", "kind": "partition", "between": [[0], [1]] }
          ]
        }
        """;

    public static TheoryData<string> BadInputs() =>
    [
        "unknown op", "missing file", "unknown flag", "unknown variant", "bad seed", "negative seed",
        "unknown runtime", "replay of a non-JSON file", "replay of an empty file", "replay of a JSON array",
        "replay of a missing file", "replay with a bad seed", "replay with a seed past 2^64",
        "replay with an unknown strategy", "node fault on the local runtime",
        "report directory missing", "explore without --seeds", "explore with zero seeds", "no command",
    ];

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void Bad_input_must_exit_2_saying_what_and_where_with_no_stack_trace_and_no_report(string what)
    {
        var report = PathIn("report.json");
        var truncate = Shipped("generic-503-truncate");
        string[] args;
        string[] expected;
        switch (what)
        {
            case "unknown op":
            {
                var text = File.ReadAllText(Shipped("signal-long-pin")).Replace("\"munmap\"", "\"unmap\"");
                var file = WriteFile("unknown-op.json", text);
                var (line, column) = Position(text, "\"unmap\"");
                args = ["run", file, "--runtime", "deterministic", "--report", report];
                expected = [$"{file}:{line}:{column}: ", "unknown op \"unmap\""];
                break;
            }
            case "missing file":
            {
                var file = PathIn("nothere.json");
                args = ["run", file, "--runtime", "deterministic", "--report", report];
                expected = [file, "cannot read"];
                break;
            }
            case "unknown flag":
                args = ["run", truncate, "--runtime", "deterministic", "--frobnicate", "--report", report];
                expected = ["--frobnicate"];
                break;
            case "unknown variant":
                args = ["run", truncate, "--runtime", "deterministic", "--variant", "no-such", "--report", report];
                expected = ["--variant", "\"no-such\"", "mainline", "DEVIATION@BASE"];
                break;
            case "bad seed":
                args = ["run", truncate, "--runtime", "deterministic", "--seed", "abc", "--report", report];
                expected = ["--seed", "'abc'"];
                break;
            case "negative seed":
                args = ["run", truncate, "--runtime", "deterministic", "--seed", "-1", "--report", report];
                expected = ["--seed", "'-1'"];
                break;
            case "unknown runtime":
                args = ["run", truncate, "--runtime", "quantum", "--report", report];
                expected = ["--runtime", "'quantum'", "deterministic"];
                break;
            case "replay of a non-JSON file":
            {
                var file = WriteFile("notes.txt", "<html>not a report</html>\n");
                args = ["replay", file, "--report", report];
                expected = [$"{file}:1:1: ", "not a DaxSim trace"];
                break;
            }
            case "replay of an empty file":
            {
                var file = WriteFile("empty.json", "");
                args = ["replay", file, "--report", report];
                expected = [$"{file}:1:1: ", "not a DaxSim trace"];
                break;
            }
            case "replay of a JSON array":
            {
                var file = WriteFile("array.json", "[1, 2]");
                args = ["replay", file, "--report", report];
                expected = [$"{file}:1:1: ", "not a DaxSim trace"];
                break;
            }
            case "replay of a missing file":
            {
                var file = PathIn("gone.json");
                args = ["replay", file, "--report", report];
                expected = [file, "cannot read"];
                break;
            }
            case "replay with a bad seed":
            {
                var good = PathIn("good.json");
                Assert.Equal(1, Invoke("run", Shipped("signal-long-pin"), "--runtime", "deterministic",
                    "--variant", "no-break", "--report", good).Code);
                var json = ReadReport(good);
                json["replay"]!["seed"] = "one";
                var text = json.ToString();
                var file = WriteFile("bad-seed.json", text);
                var (line, _) = Position(text, "\"seed\": \"one\"");
                args = ["replay", file, "--report", report];
                expected = [$"{file}:{line}:", "\"seed\" must be an integer from 0 to"];
                break;
            }
            case "replay with a seed past 2^64":
            {
                var good = PathIn("good.json");
                Assert.Equal(1, Invoke("run", Shipped("signal-long-pin"), "--runtime", "deterministic",
                    "--variant", "no-break", "--report", good).Code);
                var json = ReadReport(good);
                json["replay"]!["seed"] = new JValue(System.Numerics.BigInteger.Parse("18446744073709551616"));
                var text = json.ToString();
                var file = WriteFile("huge-seed.json", text);
                var (line, _) = Position(text, "18446744073709551616");
                args = ["replay", file, "--report", report];
                expected = [$"{file}:{line}:", "\"seed\" must be an integer from 0 to"];
                break;
            }
            case "replay with an unknown strategy":
            {
                var good = PathIn("good.json");
                Assert.Equal(1, Invoke("run", Shipped("signal-long-pin"), "--runtime", "deterministic",
                    "--variant", "no-break", "--report", good).Code);
                var json = ReadReport(good);
                json["replay"]!["strategy"] = "clairvoyant";
                var text = json.ToString();
                var file = WriteFile("strategy.json", text);
                var (line, _) = Position(text, "\"clairvoyant\"");
                args = ["replay", file, "--report", report];
                expected = [$"{file}:{line}:", "unknown strategy 'clairvoyant'"];
                break;
            }
            case "node fault on the local runtime":
            {
                // The local runtime has no nodes and no network to fail; the deterministic
                // runtime simulates them, the cluster runtime has them.
                var file = WriteFile("partitioned.json", ClusterFaultScenario);
                var (line, column) = Position(ClusterFaultScenario, "{ \"at\": \"2ms\"");
                args = ["run", file, "--runtime", "local", "--report", report];
                expected = [$"{file}:{line}:{column}: ", "'partition'", "--runtime deterministic"];
                break;
            }
            case "report directory missing":
                report = PathIn("no", "such", "dir", "report.json");
                args = ["run", truncate, "--runtime", "deterministic", "--report", report];
                expected = ["--report", "does not exist"];
                break;
            case "explore without --seeds":
                args = ["explore", truncate, "--report", report];
                expected = ["--seeds"];
                break;
            case "explore with zero seeds":
                args = ["explore", truncate, "--seeds", "0", "--report", report];
                expected = ["--seeds", "at least 1"];
                break;
            case "no command":
                args = [];
                expected = ["command"];
                break;
            default:
                throw new ArgumentException(what);
        }

        AssertUsageError(Invoke(args), report, expected);
    }

    /// <summary>The output without its wall-clock times, the only part that may differ between equal runs.</summary>
    private static string WithoutWallTime(string output) =>
        System.Text.RegularExpressions.Regex.Replace(output, @"wall [0-9.]+ s", "wall _ s");
}

public sealed class CliHelpSpecs : CliHarness
{
    [Theory]
    [InlineData("run", "--help")]
    [InlineData("explore", "-h")]
    [InlineData("replay", "--help")]
    [InlineData("--help")]
    public void Help_must_print_usage_and_run_nothing(params string[] args)
    {
        var r = Invoke(args);

        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("Usage:", r.Out);
        Assert.DoesNotContain("verdict", r.Out);
    }
}

/// <summary>The command line on the local runtime (real threads): by itself, see <see cref="RealThreadsCollection"/>.</summary>
[Collection(RealThreadsCollection.Name)]
public sealed class CliOnTheLocalRuntimeSpecs : CliHarness
{
    [Fact]
    public void Run_without_a_file_must_run_the_embedded_default_scenario_on_the_local_runtime()
    {
        var r = Invoke("run");

        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains($"daxsim run generic-503-punch  ((embedded) {DaxSim.Host.Cli.Cli.DefaultScenario})", r.Out);
        Assert.Contains("runtime local, variant mainline", r.Out);
        Assert.Contains($"{Scenarios.Shipped("generic-503-punch").OperationCount} operations, elapsed time", r.Out);
        Assert.Contains("verdict: clean (as expected)", r.Out);
    }

    [Fact]
    public void A_report_from_the_local_runtime_must_be_refused_by_replay_as_not_replayable()
    {
        var file = WriteFile("small.json", """
            {
              "name": "small",
              "device": { "blocks": 4 },
              "files": [ { "name": "dax", "pages": 2 } ],
              "tasks": [ { "name": "t", "steps": [
                  { "op": "mmap", "file": "dax", "pages": "0-1" },
                  { "op": "touch", "file": "dax", "pages": "0-1" },
                  { "op": "munmap", "file": "dax" } ] } ]
            }
            """);
        var report = PathIn("local.json");
        var run = Invoke("run", file, "--runtime", "local", "--report", report);
        Assert.True(run.Code == 0, run.ToString());
        var json = ReadReport(report);
        Assert.Equal("local", (string?)json["runtime"]);
        Assert.Null(json["replay"]);
        Assert.Equal(3, ((JArray)json["ops"]!).Count);

        var again = PathIn("again.json");
        var r = Invoke("replay", report, "--report", again);

        AssertUsageError(r, again, report, "local runtime", "cannot be", "--runtime deterministic");
    }
}
