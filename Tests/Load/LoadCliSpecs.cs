using System.Diagnostics;
using DaxSim.Host.Cli;
using DaxSim.Tests.Cli;
using DaxSim.Tests.Support;
using Newtonsoft.Json.Linq;
using Xunit;

namespace DaxSim.Tests.Load;

/// <summary>
/// `daxsim load` end to end, in this process, on small loads: it runs, its figures are
/// sane and consistent, it checks invariants, it stops on time, its reports are whole, and
/// bad input is refused with exit 2. No assertion on speed.
/// </summary>
public sealed class LoadCliSpecs : CliHarness
{
    private static readonly string[] Small =
        ["load", "--files", "2", "--pages", "32", "--tasks", "12", "--duration", "100ms", "--progress", "off"];

    private static string Spec(string name) => Path.Combine(Support.Scenarios.Directory, "load", name + ".json");

    [Fact]
    public void Load_with_the_minimal_flags_must_run_and_report_consistent_figures()
    {
        var report = PathIn("r.json");

        var r = Invoke([.. Small, "--runtime", "deterministic", "--report", report]);

        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("verdict: clean", r.Out);
        var json = ReadReport(report);
        foreach (var key in new[] { "throughput", "latency", "memory", "spec", "seed", "runtime", "verdict", "breakLayouts", "errors" })
        {
            Assert.True(json[key] is not null, $"no \"{key}\" in the report");
        }
        Assert.Equal("deterministic", (string?)json["runtime"]);
        Assert.Equal(1UL, (ulong)json["seed"]!);
        Assert.Equal("clean", (string?)json["verdict"]);

        var window = (double)json["window"]!["seconds"]!;
        Assert.Equal(0.09, window, 6); // 100 ms less the 10 ms warm-up
        var byOp = (JObject)json["throughput"]!["byOp"]!;
        long sum = 0;
        foreach (var (op, figures) in byOp)
        {
            var count = (long)figures!["count"]!;
            sum += count;
            // Throughput is the count over the measured window.
            Assert.Equal(count / window, (double)figures["opsPerSecond"]!, 2);
            var latency = json["latency"]![op]!;
            Assert.Equal(count, (long)latency["count"]!);
            if (count > 0)
            {
                var p = new[] { "p50", "p90", "p99", "p99.9", "max" }.Select(k => (long)latency[k]!).ToArray();
                for (var i = 1; i < p.Length; i++)
                {
                    Assert.True(p[i - 1] <= p[i], $"{op}: percentiles out of order: {string.Join(", ", p)}");
                }
                Assert.True(p[0] >= 0);
            }
            Assert.True((long)figures["completedWholeRun"]! >= count);
        }
        Assert.True(sum > 0, "no operation was measured");
        Assert.Equal(sum, (long)json["throughput"]!["operations"]!);
        Assert.True((long)json["throughput"]!["messages"]! > 0);
        AssertWindowMessages(json, simulatedWindow: window);
        Assert.True((long)json["memory"]!["heapPeakBytes"]! > 0);
        // The footprint is a heap difference in this shared test process, where parallel specs
        // free memory meanwhile: its value is ActorFootprintSpecs' (which runs alone); here, that
        // the report carries it.
        Assert.Contains(json["memory"]!["bytesPerPageActor"]!.Type, new[] { JTokenType.Float, JTokenType.Integer });
        // Layout breaks: every measured truncate-like operation has a wait (maybe 0) and retries.
        var breaks = (JObject)json["breakLayouts"]!;
        var breakingOps = new[] { "truncate", "punchHole", "fallocate" }.Sum(op => (long?)byOp[op]?["count"] ?? 0);
        Assert.Equal(breakingOps, (long)breaks["operations"]!);
    }

    [Fact]
    public void A_deterministic_load_must_stop_at_its_simulated_duration_and_repeat_itself()
    {
        var first = PathIn("a.json");
        var second = PathIn("b.json");

        var a = Invoke([.. Small, "--runtime", "deterministic", "--seed", "7", "--report", first]);
        var b = Invoke([.. Small, "--runtime", "deterministic", "--seed", "7", "--report", second]);

        Assert.True(a.Code == 0, a.ToString());
        Assert.True(b.Code == 0, b.ToString());
        var ja = ReadReport(first);
        var jb = ReadReport(second);
        // The tasks are told to stop at exactly 100 ms of simulated time; those under way finish.
        Assert.Equal(100_000_000L, (long)ja["window"]!["end"]!);
        var end = (long)ja["run"]!["endTime"]!;
        Assert.InRange(end, 100_000_000L, 100_000_000L + 50_000_000L);
        Assert.Equal((string?)ja["run"]!["traceHash"], (string?)jb["run"]!["traceHash"]);
        Assert.Equal(ja["throughput"]!["byOp"]!.ToString(), jb["throughput"]!["byOp"]!.ToString());
    }

    [Fact]
    public void A_deterministic_load_without_think_time_must_still_reach_its_end()
    {
        // mmap, touch and munmap take no simulated time: without a floor on the think time a
        // faulting reader would loop at one instant, and the stop would never come.
        var report = PathIn("zero.json");

        var r = Invoke("load", "--files", "1", "--pages", "16", "--tasks", "6", "--think", "0s", "--duration", "100us",
            "--runtime", "deterministic", "--progress", "off", "--report", report);

        Assert.True(r.Code == 0, r.ToString());
        Assert.True((long)ReadReport(report)["throughput"]!["operations"]! > 0);
    }

    [Fact]
    public void A_local_load_must_stop_within_a_bound_of_its_duration()
    {
        var report = PathIn("local.json");
        var wall = Stopwatch.StartNew();

        var r = Invoke("load", "--files", "2", "--pages", "32", "--tasks", "12", "--duration", "500ms",
            "--runtime", "local", "--progress", "plain", "--report", report);

        wall.Stop();
        Assert.True(r.Code == 0, r.ToString());
        var json = ReadReport(report);
        Assert.Equal("local", (string?)json["runtime"]);
        Assert.Equal("wall", (string?)json["clock"]);
        var endNs = (long)json["run"]!["endTime"]!;
        Assert.True(endNs >= 500_000_000L, $"ended at {endNs} ns, before its duration");
        // Stopping takes the operations under way (10 ms timer ticks) and the runtime's 50 ms of quiet.
        Assert.True(endNs < 500_000_000L + 3_000_000_000L, $"ended at {endNs} ns, long after its duration");
        Assert.True(wall.Elapsed < TimeSpan.FromSeconds(60), $"took {wall.Elapsed}");
        // Plain progress lines go to stderr.
        Assert.Contains("pins outstanding", r.Err);
        AssertWindowMessages(json, simulatedWindow: null);
    }

    // The window's messages: some, fewer than the whole run's (the warm-up and the drain at the
    // end are left out), and their rate is per second of a window no longer than the measured one
    // on the deterministic runtime (in simulated time; the first and last events of the window).
    private static void AssertWindowMessages(JObject json, double? simulatedWindow)
    {
        var throughput = json["throughput"]!;
        var all = (long)throughput["messages"]!;
        var inWindow = (long)throughput["messagesInWindow"]!;
        var rate = (double)throughput["messagesPerSecondInWindow"]!;
        Assert.InRange(inWindow, 1, all - 1);
        if (simulatedWindow is { } seconds)
        {
            Assert.True(rate >= inWindow / seconds, $"{inWindow} messages at {rate}/s: over more than the {seconds} s window");
        }
        else
        {
            Assert.True(rate > 0);
        }
    }

    [Fact]
    public void A_load_on_a_broken_variant_must_be_caught_with_exit_1_and_a_report()
    {
        var report = PathIn("v.json");
        var html = PathIn("v.html");

        var r = Invoke("load", Spec("truncate-heavy"), "--variant", "no-break", "--progress", "off",
            "--report", report, "--html", html);

        Assert.True(r.Code == 1, r.ToString());
        Assert.Contains("VIOLATION S1", r.Out);
        Assert.Contains("verdict: safety", r.Out);
        var json = ReadReport(report);
        Assert.Equal("safety", (string?)json["verdict"]);
        Assert.Equal("S1", (string?)json["violation"]!["invariant"]);
        Assert.Contains("id=\"violation\"", File.ReadAllText(html));
    }

    [Fact]
    public void The_html_report_must_render_its_plots_in_Chromium()
    {
        var html = PathIn("load.html");
        var r = Invoke([.. Small, "--runtime", "deterministic", "--html", html]);
        Assert.True(r.Code == 0, r.ToString());

        var dom = HeadlessChromium.Run(Dir, "--dump-dom", new Uri(html).AbsoluteUri);

        Assert.Contains("<table id=\"summary\"", dom);
        Assert.Contains("dioRead", dom);
        foreach (var plot in new[] { "latency", "throughput", "wait" })
        {
            Assert.Matches($"<svg id=\"plot-{plot}\"", dom);
        }
        Assert.Contains("id=\"verdict\" class=\"verdict-clean\"", dom);
        var png = PathIn("load.png");
        HeadlessChromium.Run(Dir, $"--screenshot={png}", "--window-size=1200,1600", new Uri(html).AbsoluteUri);
        Assert.True(new FileInfo(png).Length > 20_000);
    }

    [Theory]
    [InlineData("--files", "0", "--files must be from 1")]
    [InlineData("--pages", "2000000", "--pages must be from 1")]
    [InlineData("--duration", "5", "--duration: duration '5' needs a unit")]
    [InlineData("--duration", "0s", "--duration must be longer than 0")]
    [InlineData("--nodes", "3", "--nodes is for --runtime cluster, not deterministic")]
    [InlineData("--nodes", "0", "--nodes must be from 1")]
    [InlineData("--runtime", "mars", "--runtime: unknown value 'mars'")]
    [InlineData("--variant", "best", "--variant: unknown variant \"best\"")]
    [InlineData("--progress", "loud", "--progress: unknown value 'loud'")]
    public void Bad_flags_must_exit_2_and_write_nothing(string flag, string value, string message)
    {
        var report = PathIn("bad.json");
        var args = new Dictionary<string, string>
        {
            ["--files"] = "1", ["--pages"] = "8", ["--tasks"] = "6", ["--duration"] = "10ms", ["--progress"] = "off",
            ["--runtime"] = "deterministic",
        };
        args[flag] = value;

        var r = Invoke(["load", .. args.SelectMany(a => new[] { a.Key, a.Value }), "--report", report]);

        AssertUsageError(r, report, message);
    }

    [Fact]
    public void A_bad_spec_file_must_exit_2_naming_file_line_and_column()
    {
        var text = "{\n  \"files\": { \"count\": 1, \"pages\": 8 },\n  \"duration\": \"10ms\",\n  \"tasks\": [ { \"kind\": \"dioReader\", \"count\": -3 } ]\n}\n";
        var spec = WriteFile("bad-spec.json", text);
        var report = PathIn("out.json");

        var r = Invoke("load", spec, "--report", report, "--progress", "off");

        var (line, column) = Position(text, "-3");
        AssertUsageError(r, report, $"{spec}:{line}:{column}:", "\"count\" is -3, out of range");
    }

    [Fact]
    public void Tasks_flags_must_not_be_combined_with_a_spec_file()
    {
        var r = Invoke("load", Spec("truncate-heavy"), "--tasks", "5", "--progress", "off");

        AssertUsageError(r, null, "--tasks cannot be combined with a spec file");
    }

    [Fact]
    public void A_report_path_in_a_missing_directory_must_exit_2()
    {
        var r = Invoke([.. Small, "--report", PathIn("no", "such", "dir", "r.json")]);

        AssertUsageError(r, null, "--report: the directory of");
    }

    [Fact]
    public void Help_must_list_the_load_flags()
    {
        var r = Invoke("load", "--help");

        Assert.Equal(0, r.Code);
        foreach (var flag in new[] { "--files", "--pages", "--tasks", "--duration", "--runtime", "--report", "--html" })
        {
            Assert.Contains(flag, r.Out);
        }
        Assert.Equal(Host.Cli.Cli.ExitUsage, Invoke("load", "--no-such-flag").Code);
    }
}
