using DaxSim.Host.Deterministic;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Tests.Cli;
using Newtonsoft.Json.Linq;
using Xunit;

namespace DaxSim.Tests.Cluster;

/// <summary>
/// `daxsim run --runtime cluster`: the runner starts three members as child processes on
/// 127.0.0.1, runs the scenario across them, and stops them (every run ends by killing what
/// is left, even on failure: the runner's finally block, checked here by counting processes).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed partial class ClusterRunSpecs : CliHarness
{
    private static string ClusterScenario(string name) =>
        Path.Combine(Support.Scenarios.Directory, "cluster", name + ".json");

    private CliOutcome RunCluster(string scenario, out JObject report, params string[] extra)
    {
        var path = PathIn("report.json");
        var before = NodeProcesses();
        var r = Invoke(["run", scenario, "--runtime", "cluster", "--nodes", "3", "--report", path, .. extra]);
        Assert.True(File.Exists(path), r.ToString());
        report = ReadReport(path);
        Assert.Equal("cluster", (string?)report["runtime"]);
        // The members it started are gone.
        Assert.True(NodeProcesses() <= before, $"members left running after the run\n{r}");
        return r;
    }

    /// <summary>
    /// `daxsim node` processes that this test process started (its children): other test
    /// runs on the machine start and stop members of their own.
    /// </summary>
    public static int NodeProcesses()
    {
        var self = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return System.Diagnostics.Process.GetProcesses().Count(p =>
        {
            try
            {
                // /proc/PID/stat: "PID (comm) STATE PPID ...": the parent is the second field after the name.
                var stat = File.ReadAllText($"/proc/{p.Id}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                return fields.Length > 1 && fields[1] == self &&
                       File.ReadAllText($"/proc/{p.Id}/cmdline").Replace('\0', ' ').Contains(" node --port 0 ");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                return false;
            }
        });
    }

    [Fact]
    public void Generic_503_punch_on_three_members_is_clean_like_the_deterministic_runtime()
    {
        var scenario = Shipped("generic-503-punch");
        using var det = new DeterministicRuntime();
        var expected = det.Run(Support.Scenarios.Shipped("generic-503-punch"), new RunSettings { Seed = 1 });
        Assert.Equal(Verdict.Clean, expected.Verdict);

        var r = RunCluster(scenario, out var report);

        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("verdict: clean (as expected)", r.Out);
        Assert.Equal("clean", (string?)report["verdict"]);
        Assert.Equal(expected.OpsCompleted, (long)report["opsCompleted"]!);
        var cluster = (JObject)report["cluster"]!;
        Assert.Equal(3, (int)cluster["nodes"]!);
        Assert.Equal("spawned", (string?)cluster["mode"]);
        Assert.All((JArray)cluster["members"]!, m => Assert.Equal("up", (string?)m["status"]));
        Assert.Equal(0, (long)cluster["lateEvents"]!);

        // The message figures: protocol messages crossed between members, in batches (the
        // outboxes), with fewer acks than envelopes (coalesced, many riding on replies).
        var m = (JObject)cluster["messages"]!;
        long F(string name) => (long)m[name]!;
        Assert.True(F("betweenNodes") > 0 && F("total") >= F("betweenNodes"), m.ToString());
        Assert.Equal(F("total"), F("betweenNodes") + F("withinNodes"));
        Assert.True(F("batchesBetweenNodes") > 0 && F("batchedBetweenNodes") >= F("batchesBetweenNodes"), m.ToString());
        Assert.True(F("acks") < F("total") + F("duplicates"), m.ToString());
        Assert.Equal(F("total"), ((JArray)m["perNode"]!).Sum(n => (long)n["total"]!));
    }

    [Fact]
    public void A_crashed_member_s_pins_are_given_back_once_it_is_removed_and_the_truncate_completes()
    {
        var r = RunCluster(ClusterScenario("crash-pinning-node"), out var report);

        Assert.True(r.Code == 0, r.ToString());
        Assert.Equal("clean", (string?)report["verdict"]);
        var ops = (JArray)report["ops"]!;
        var truncate = ops.Single(o => (string?)o["op"] == "truncate");
        Assert.Equal("ok", (string?)truncate["result"]);
        Assert.Equal("LOST", (string?)ops.Single(o => (string?)o["op"] == "dioRead")["result"]);
        var node2 = ((JArray)report["cluster"]!["members"]!).Single(m => (int)m["index"]! == 2);
        Assert.Equal("crashed, removed", (string?)node2["status"]);
        var removal = TimeSpan.FromTicks(((long)node2["removedAt"]! - (long)node2["crashedAt"]!) / 100);
        Assert.True(removal < TimeSpan.FromSeconds(10), $"removed {removal.TotalSeconds:F1} s after the crash\n{r}");
        // The truncate waited for the crashed task's pins, and ended after the removal.
        Assert.True((long)truncate["end"]! >= (long)node2["removedAt"]!, r.ToString());
    }

    [Fact]
    public void A_page_s_journaled_state_survives_its_host_and_the_truncate_still_waits_for_its_pin()
    {
        // page-2 lives on node 2 (entity n on node (n mod 64) mod 3); task dio on node 1 pins
        // pages 0-2 for 12 s; the truncate starts at 6 s; node 2 crashes at 7 s. The page
        // comes back on another member from the journal, pinned: the dio's put brings it to
        // 1, not to 0 (which the checker would catch as a refcount disagreement, an internal
        // error), and the truncate ends only after the dio's I/O. The margins are wide: with
        // 3 s and 4 s, on a loaded machine the dio's gup could land after the truncate had
        // started, and L3 counts waiting for a pin taken after the start as starvation.
        var r = RunCluster(ClusterScenario("crash-page-host"), out var report);

        Assert.True(r.Code == 0, r.ToString());
        Assert.Equal("clean", (string?)report["verdict"]);
        var ops = (JArray)report["ops"]!;
        var dio = ops.Single(o => (string?)o["op"] == "dioRead");
        var truncate = ops.Single(o => (string?)o["op"] == "truncate");
        Assert.Equal("ok", (string?)dio["result"]);
        Assert.Equal("ok", (string?)truncate["result"]);
        Assert.True((long)truncate["end"]! >= (long)dio["end"]!, r.ToString());
        Assert.Contains("persistent entities", r.Out);
    }

    [Fact]
    public void A_partition_that_heals_before_the_resolver_acts_leaves_the_run_clean()
    {
        var r = RunCluster(ClusterScenario("partition-heal-pinned"), out var report);

        Assert.True(r.Code == 0, r.ToString());
        Assert.Equal("clean", (string?)report["verdict"]);
        var faults = ((JArray)report["cluster"]!["faults"]!).Select(f => (string)f!).ToList();
        Assert.Contains(faults, f => f.Contains("partition 0,1 | 2"));
        Assert.Contains(faults, f => f.Contains("heal"));
        Assert.All((JArray)report["cluster"]!["members"]!, m => Assert.Equal("up", (string?)m["status"]));
    }

    [Fact]
    public void A_lossy_network_loses_nothing_every_operation_completes_and_every_pin_is_put()
    {
        // Drop 10%, duplicate 10%, delay 20% (up to 5 ms) of every transmission, across
        // three members: reliable delivery sends again, acknowledges and de-duplicates.
        var trace = PathIn("trace.txt");
        var r = RunCluster(ClusterScenario("lossy-network"), out var report, "--trace-text", trace);

        Assert.True(r.Code == 0, r.ToString());
        Assert.Equal("clean", (string?)report["verdict"]);
        var ops = (JArray)report["ops"]!;
        // 10 × (mmap, dioRead, munmap) + 10 × (punchHole, fallocate), each ended and ok.
        Assert.Equal(50, ops.Count);
        Assert.Equal(50, (long)report["opsCompleted"]!);
        Assert.All(ops, o => Assert.Equal("ok", (string?)o["result"]));
        Assert.All(ops, o => Assert.True((long)o["end"]! >= (long)o["start"]!));

        // Every pin is put, once: gets and puts per (page, task) agree, each page ends idle
        // (refcount 1), and there are exactly 10 × 4 pins: a duplicate never pinned twice.
        var got = new Dictionary<(string Page, string Task), int>();
        var put = new Dictionary<(string Page, string Task), int>();
        var last = new Dictionary<string, int>();
        foreach (var line in File.ReadLines(trace))
        {
            if (PageEvent().Match(line) is not { Success: true } m)
            {
                continue;
            }
            var key = (m.Groups["page"].Value, m.Groups["task"].Value);
            var counts = m.Groups["kind"].Value == "PageGot" ? got : put;
            counts[key] = counts.GetValueOrDefault(key) + 1;
            last[key.Item1] = int.Parse(m.Groups["refcount"].Value, System.Globalization.CultureInfo.InvariantCulture);
        }
        Assert.Equal(40, got.Values.Sum());
        Assert.Equal(got.OrderBy(x => x.Key).ToList(), put.OrderBy(x => x.Key).ToList());
        Assert.All(last, x => Assert.True(x.Value == 1, $"{x.Key} ends with refcount {x.Value}"));
        Assert.Equal(4, last.Count);
    }

    [System.Text.RegularExpressions.GeneratedRegex(
        @"event\s+(?<kind>PageGot|PagePut) \{ Page = (?<page>page-\d+), Task = (?<task>task-\d+),.*Refcount = (?<refcount>\d+)")]
    private static partial System.Text.RegularExpressions.Regex PageEvent();

    [Fact]
    public void A_truncate_stuck_behind_a_partition_says_what_it_waits_for_and_where_that_task_is()
    {
        // task dio on node 2 pins pages 0-1 for 20 s; the truncate on node 0 waits for them;
        // node 2 is partitioned off at 5.5 s and may still be doing DMA, so its pins stay.
        // The run ends at 8.5 s, before the resolver can down node 2 (9.5 s at the earliest).
        var r = RunCluster(ClusterScenario("partition-stuck-truncate"), out var report);

        Assert.True(r.Code == 3, r.ToString());
        Assert.Equal("liveness", (string?)report["verdict"]);
        Assert.Contains("verdict: liveness (as expected)", r.Out);
        Assert.Equal("L3", (string?)report["violation"]!["invariant"]);
        Assert.Contains("limits.virtualTime (8500ms) ran out", (string?)report["violation"]!["description"]);
        var truncate = ((JArray)report["ops"]!).SingleOrDefault(o => (string?)o["op"] == "truncate");
        Assert.Null(truncate);

        // What the truncate waits for: a page, pinned by task-dio, on node 2, cut off.
        var waiting = ((JArray)report["cluster"]!["waiting"]!).Select(w => (string)w!).ToList();
        var line = Assert.Single(waiting, w => w.StartsWith("task-truncate waits for", StringComparison.Ordinal));
        Assert.Matches(@"^task-truncate waits for page-[01] to go idle, pinned by task-dio \(task-dio runs on node 2: " +
                       @"(unreachable, partitioned|up, partitioned from the majority); what it holds stays until node 2 is downed and removed\)$",
            line);
        Assert.Contains($"  waiting: {line}", r.Out);
        var node2 = ((JArray)report["cluster"]!["members"]!).Single(m => (int)m["index"]! == 2);
        Assert.Contains("partitioned", (string?)node2["status"]);
        Assert.Null((long?)node2["removedAt"]);
        Assert.Contains(((JArray)report["cluster"]!["faults"]!).Select(f => (string)f!), f => f.Contains("partition 0,1 | 2"));
    }
}
