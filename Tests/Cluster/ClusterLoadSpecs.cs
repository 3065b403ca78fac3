using DaxSim.Tests.Cli;
using Newtonsoft.Json.Linq;
using Xunit;

namespace DaxSim.Tests.Cluster;

/// <summary>
/// `daxsim load --runtime cluster`: the load engine on three `daxsim node` members started
/// on 127.0.0.1 (the members build the load's scenario from its spec, the runner merges
/// their events into the checker and the load's statistics), ended at its duration, the
/// members stopped. Small and short; no assertion on speed.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterLoadSpecs : CliHarness
{
    [Fact]
    public void A_load_must_run_across_three_members_and_report_like_any_other()
    {
        var report = PathIn("load.json");
        var before = ClusterRunSpecs.NodeProcesses();

        var r = Invoke(["load", "--runtime", "cluster", "--nodes", "3", "--files", "2", "--pages", "32", "--tasks", "12",
            "--think", "5ms", "--duration", "3s", "--warmup", "500ms", "--progress", "plain", "--report", report]);

        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("runtime cluster", r.Out);
        Assert.Contains("--runtime cluster --nodes 3", r.Out);
        Assert.Contains("verdict: clean", r.Out);
        Assert.Contains("ops ", r.Err); // plain progress lines
        var json = ReadReport(report);
        Assert.Equal("cluster", (string?)json["runtime"]);
        Assert.Equal("wall", (string?)json["clock"]);
        Assert.Equal("clean", (string?)json["verdict"]);
        Assert.Equal(2.5, (double)json["window"]!["seconds"]!, 6);
        var operations = (long)json["throughput"]!["operations"]!;
        Assert.True(operations > 0, json["throughput"]!.ToString());
        Assert.True((long)json["throughput"]!["messages"]! > operations, json["throughput"]!.ToString());
        var byOp = (JObject)json["throughput"]!["byOp"]!;
        Assert.Equal(operations, byOp.Properties().Sum(p => (long)p.Value["count"]!));
        var dio = json["latency"]!["dioRead"]!;
        Assert.True((long)dio["count"]! > 0 && (long)dio["p50"]! <= (long)dio["max"]!, dio.ToString());
        // The members it started are gone.
        Assert.True(ClusterRunSpecs.NodeProcesses() <= before, $"members left running after the load\n{r}");
    }
}
