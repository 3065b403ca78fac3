using DaxSim.Tests.Cli;
using Xunit;

namespace DaxSim.Tests.Faults;

/// <summary>
/// A scenario with node faults is explored, shrunk and replayed on the deterministic
/// runtime like any other: a cluster finding can be searched for and reproduced there.
/// </summary>
public sealed class NodeFaultCliSpecs : CliHarness
{
    private static string ClusterScenario(string name) => Shipped(Path.Combine("cluster", name));

    [Fact]
    public void Explore_must_find_a_bug_under_a_node_crash_and_its_report_must_replay_to_the_same_violation()
    {
        var report = PathIn("found.json");
        var explore = Invoke("explore", ClusterScenario("crash-pinned-node"), "--seeds", "20", "--variant", "no-break",
            "--report", report);
        Assert.True(explore.Code == 1, explore.ToString());
        Assert.Contains("S1", explore.Out);
        var json = ReadReport(report);
        Assert.Equal("S1", (string?)json["violation"]?["invariant"]);

        var replay = Invoke("replay", report);
        Assert.True(replay.Code == 1, replay.ToString());
        Assert.Contains("S1", replay.Out);
        // The shrunk scenario still crashes the node, or did not need it: either way it replays.
        var shrunk = PathIn("found.min.json");
        Assert.True(File.Exists(shrunk), explore.ToString());
        Assert.Equal(1, Invoke("replay", shrunk).Code);
    }

    [Fact]
    public void Run_on_the_deterministic_runtime_must_take_node_and_message_faults()
    {
        foreach (var name in new[] { "crash-pinned-node", "partition-heal", "lossy-network" })
        {
            var r = Invoke("run", ClusterScenario(name), "--runtime", "deterministic");
            Assert.True(r.Code == 0, r.ToString());
            Assert.Contains("clean", r.Out);
        }
    }
}
