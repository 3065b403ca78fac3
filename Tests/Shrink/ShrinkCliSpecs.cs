using DaxSim.Protocol.Scenarios;
using DaxSim.Tests.Cli;
using Xunit;
using DaxCli = DaxSim.Host.Cli.Cli;

namespace DaxSim.Tests.Shrink;

/// <summary>explore shrinks its finding into a scenario file and a replayable report.</summary>
public sealed class ShrinkCliSpecs : CliHarness
{
    [Fact]
    public void Explore_must_write_a_minimal_scenario_and_a_replayable_trace_of_its_finding()
    {
        var report = PathIn("finding.json");
        var r = Invoke("explore", Shipped("generic-503-truncate"), "--seeds", "50", "--variant", "no-break",
            "--workers", "1", "--report", report);

        Assert.True(r.Code == 1, r.ToString());
        var (scenarioPath, shrunkReport) = DaxCli.ShrunkPaths(report);
        Assert.Contains($"minimal scenario: {scenarioPath}", r.Out);
        Assert.Contains("still S1", r.Out);
        var original = ScenarioLoader.LoadFile(Shipped("generic-503-truncate"));
        var minimal = ScenarioLoader.LoadFile(scenarioPath);
        Assert.True(minimal.OperationCount < original.OperationCount, $"{minimal.OperationCount} steps, was {original.OperationCount}");
        Assert.Equal("S1", (string?)ReadReport(shrunkReport)["violation"]?["invariant"]);

        var replay = Invoke("replay", shrunkReport);
        Assert.True(replay.Code == 1, replay.ToString());
        Assert.Contains("identical to the recorded run", replay.Out);
    }

    [Fact]
    public void No_shrink_must_leave_the_finding_alone()
    {
        var report = PathIn("finding.json");
        var r = Invoke("explore", Shipped("generic-503-truncate"), "--seeds", "50", "--variant", "no-break",
            "--workers", "1", "--report", report, "--no-shrink");

        Assert.True(r.Code == 1, r.ToString());
        Assert.DoesNotContain("minimal scenario", r.Out);
        Assert.False(File.Exists(DaxCli.ShrunkPaths(report).Scenario));
        Assert.False(File.Exists(DaxCli.ShrunkPaths(report).Report));
    }

}
