using DaxSim.Host.Deterministic;
using DaxSim.Tests.Cli;
using Newtonsoft.Json.Linq;
using Xunit;

namespace DaxSim.Tests.Explore;

/// <summary>Strategies, fault injection and coverage on the command line.</summary>
public sealed class ExploreCliSpecs : CliHarness
{
    [Fact]
    public void Explore_with_pct_must_run_say_so_and_print_its_parameters_and_the_coverage_table()
    {
        var r = Invoke("explore", Shipped("generic-503-truncate"), "--seeds", "20", "--strategy", "pct",
            "--workers", "2");

        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("strategy pct", r.Out);
        Assert.Contains("pct: depth drawn from each seed (1 to 10 priority change points), steps ", r.Out);
        Assert.Contains("(measured: the most choices of 10 random runs)", r.Out);
        Assert.Contains("coverage over 20 seed(s)", r.Out);
        Assert.Matches(@"busy-page-found +\d+ +\d+ ", r.Out);
        Assert.Matches(@"lease-broken +0 +0 +never", r.Out);
        Assert.Contains("verdict: clean on all 20 seeds", r.Out);
    }

    [Theory]
    [InlineData("explore", "--strategy", "clairvoyant", "'clairvoyant'")]
    [InlineData("explore", "--pct-depth", "0", "--pct-depth")]
    [InlineData("explore", "--pct-steps", "-5", "--pct-steps")]
    [InlineData("run", "--strategy", "clairvoyant", "'clairvoyant'")]
    public void A_bad_strategy_setting_must_exit_2(string command, string flag, string value, string fragment)
    {
        var report = PathIn("bad.json");
        string[] args = command == "explore"
            ? ["explore", Shipped("generic-503-truncate"), "--seeds", "3", flag, value, "--report", report]
            : ["run", Shipped("generic-503-truncate"), "--runtime", "deterministic", flag, value, "--report", report];
        AssertUsageError(Invoke(args), report, fragment);
    }

    [Theory]
    [InlineData("--strategy", "pct")]
    [InlineData("--fault-injection", null)]
    public void The_local_runtime_must_refuse_deterministic_only_settings(string flag, string? value)
    {
        var report = PathIn("local.json");
        string[] args = value is null
            ? ["run", Shipped("generic-503-truncate"), "--runtime", "local", flag, "--report", report]
            : ["run", Shipped("generic-503-truncate"), "--runtime", "local", flag, value, "--report", report];
        AssertUsageError(Invoke(args), report, flag, "--runtime deterministic");
    }

    [Fact]
    public void A_pct_run_must_record_its_strategy_and_parameters_and_replay_identically()
    {
        var report = PathIn("pct-run.json");
        var r = Invoke("run", Shipped("generic-503-punch"), "--runtime", "deterministic", "--strategy", "pct",
            "--pct-depth", "5", "--seed", "8", "--report", report);
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("strategy pct", r.Out);

        var json = ReadReport(report);
        Assert.Equal("pct", (string?)json["strategy"]);
        Assert.Equal("pct", (string?)json["replay"]!["strategy"]);
        Assert.Equal(5, (int)json["replay"]!["pct"]!["depth"]!);
        Assert.True((long)json["replay"]!["pct"]!["steps"]! > 0);
        Assert.True((long)json["coverage"]!["busy-page-found"]! >= 0);

        var again = PathIn("again.json");
        var replay = Invoke("replay", report, "--report", again);
        Assert.True(replay.Code == 0, replay.ToString());
        Assert.Contains("strategy pct", replay.Out);
        Assert.Contains("replay: identical to the recorded run", replay.Out);
        Assert.Equal((string?)json["traceHash"], (string?)ReadReport(again)["traceHash"]);
    }

    [Fact]
    public void A_pct_run_with_a_drawn_depth_must_record_it_and_replay_from_depth_and_steps_alone()
    {
        var report = PathIn("pct-drawn.json");
        var r = Invoke("run", Shipped("two-pins"), "--runtime", "deterministic", "--strategy", "pct",
            "--seed", "12", "--report", report);
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("pct: depth drawn from each seed", r.Out);
        var json = ReadReport(report);
        Assert.Equal(PctStrategy.DrawDepth(12), (int)json["replay"]!["pct"]!["depth"]!);
        Assert.True((long)json["replay"]!["pct"]!["steps"]! > 0);

        // An old report's shape: depth and steps, and no recorded choices: the strategy is built
        // again from them and the seed, and must make the same run.
        json["replay"]!["schedule"] = null;
        var bare = WriteFile("bare.json", json.ToString());
        var replay = Invoke("replay", bare);
        Assert.True(replay.Code == 0, replay.ToString());
        Assert.Contains("replay: identical to the recorded run", replay.Out);
    }

    [Fact]
    public void A_pct_finding_from_explore_must_replay_identically()
    {
        var report = PathIn("pct-found.json");
        var r = Invoke("explore", Shipped("generic-503-truncate"), "--seeds", "300", "--strategy", "pct",
            "--variant", "no-unmap", "--workers", "2", "--report", report);
        Assert.True(r.Code == 1, r.ToString());
        Assert.Contains("first violating seed: ", r.Out);
        var json = ReadReport(report);
        Assert.Equal("pct", (string?)json["replay"]!["strategy"]);
        Assert.Equal(JTokenType.Object, json["explore"]!["coverage"]!.Type);
        Assert.True((long)json["explore"]!["findings"]! >= 1);

        var replay = Invoke("replay", report);
        Assert.True(replay.Code == 1, replay.ToString());
        Assert.Contains("replay: identical to the recorded run", replay.Out);
    }

    [Fact]
    public void Injected_faults_must_be_in_the_report_and_replay_must_reproduce_them()
    {
        // A seed of seed-v7 whose finding needs an injected fault or delay to show up.
        var report = PathIn("faults.json");
        var r = Invoke("explore", Shipped("generic-503-punch"), "--seeds", "400", "--variant", "seed-v7",
            "--fault-injection", "--workers", "2", "--report", report);
        Assert.True(r.Code == 1, r.ToString());
        Assert.Contains("fault injection: ", r.Out);
        Assert.Contains("injected: ", r.Out);
        var json = ReadReport(report);
        var injection = (JObject)json["replay"]!["faultInjection"]!;
        var faults = (JArray)injection["faults"]!;
        var delays = (JArray)injection["delays"]!;
        Assert.True(faults.Count + delays.Count > 0, injection.ToString());
        Assert.All(faults, f => Assert.Contains((string)f["kind"]!, new[] { "signal", "kill" }));
        Assert.All(delays, d => Assert.True((long)d["delay"]! > 0));

        var replay = Invoke("replay", report);
        Assert.True(replay.Code == 1, replay.ToString());
        Assert.Contains("replay: identical to the recorded run", replay.Out);

        // Without the recorded faults the same choices do not give the same run.
        json["replay"]!["faultInjection"]!.Parent!.Remove();
        var stripped = WriteFile("stripped.json", json.ToString());
        Assert.Contains("replay: DIFFERS", Invoke("replay", stripped).Out);
    }

    [Fact]
    public void A_run_with_fault_injection_must_replay_from_its_report()
    {
        var report = PathIn("run-faults.json");
        var r = Invoke("run", Shipped("generic-503-truncate"), "--runtime", "deterministic", "--fault-injection",
            "--seed", "21", "--report", report);
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("injected: ", r.Out);
        Assert.NotNull(ReadReport(report)["replay"]!["faultInjection"]);

        var replay = Invoke("replay", report);
        Assert.True(replay.Code == 0, replay.ToString());
        Assert.Contains("replay: identical to the recorded run", replay.Out);
    }

    [Fact]
    public void A_run_without_fault_injection_must_not_record_any()
    {
        var report = PathIn("plain.json");
        Assert.Equal(0, Invoke("run", Shipped("generic-503-truncate"), "--runtime", "deterministic", "--report", report).Code);
        var json = ReadReport(report);
        Assert.Null(json["replay"]!["faultInjection"]);
        Assert.Null(json["replay"]!["pct"]);
        Assert.Equal("random", (string?)json["replay"]!["strategy"]);
        Assert.Equal(0L, (long)json["coverage"]!["fault-injected"]!);
    }

    [Fact]
    public void A_clean_explore_with_a_report_must_write_its_summary_and_coverage()
    {
        var report = PathIn("summary.json");
        var r = Invoke("explore", Shipped("generic-503-truncate"), "--seeds", "12", "--workers", "2",
            "--report", report);
        Assert.True(r.Code == 0, r.ToString());
        var json = ReadReport(report);
        Assert.Equal("clean", (string?)json["verdict"]);
        Assert.Null(json["replay"]);
        var explore = (JObject)json["explore"]!;
        Assert.Equal(12L, (long)explore["seedsRun"]!);
        Assert.Equal(0L, (long)explore["findings"]!);
        var coverage = (JObject)explore["coverage"]!;
        Assert.Equal(12L, (long)coverage["seeds"]!);
        Assert.Equal(12L, (long)coverage["branches"]!["busy-page-found"]!["seeds"]!);
        Assert.True((long)coverage["branches"]!["wait-slept"]!["total"]! > 0);
        Assert.Equal(0L, (long)coverage["branches"]!["lease-broken"]!["total"]!);
    }

    [Fact]
    public void Replay_must_refuse_a_bad_fault_plan_saying_where()
    {
        var report = PathIn("good.json");
        Assert.Equal(0, Invoke("run", Shipped("generic-503-truncate"), "--runtime", "deterministic",
            "--fault-injection", "--seed", "3", "--report", report).Code);
        var json = ReadReport(report);
        json["replay"]!["faultInjection"]!["faults"] = new JArray(new JObject
        {
            ["kind"] = "explode", ["task"] = "dio", ["at"] = 100,
        });
        var text = json.ToString();
        var file = WriteFile("bad-faults.json", text);
        var (line, _) = Position(text, "\"explode\"");
        AssertUsageError(Invoke("replay", file, "--report", PathIn("out.json")), PathIn("out.json"),
            $"{file}:{line}:", "unknown injected fault 'explode'");
    }
}
