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
public sealed class ClusterRunSpecs : CliHarness
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
    /// `daxsim node` processes started by this test process (the runner runs in it): other
    /// clusters on the machine, of other test runs or benchmarks, are not counted.
    /// </summary>
    private static int NodeProcesses()
    {
        var self = Environment.ProcessId;
        return System.Diagnostics.Process.GetProcesses().Count(p =>
        {
            try
            {
                // /proc/PID/stat: "pid (comm) state ppid ...", and comm may hold spaces.
                var stat = File.ReadAllText($"/proc/{p.Id}/stat");
                var ppid = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
                return ppid == self &&
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
        // pages 0-2 for 8 s; node 2 crashes at 4 s. The page comes back on another member
        // from the journal, pinned: the dio's put brings it to 1, not to 0 (which the checker
        // would catch as a refcount disagreement, an internal error), and the truncate ends
        // only after the dio's I/O.
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
}
