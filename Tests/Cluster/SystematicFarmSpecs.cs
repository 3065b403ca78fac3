using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using DaxSim.Host.Cluster;
using DaxSim.Host.Explore;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using DaxSim.Tests.Cli;
using Xunit;
using DaxCli = DaxSim.Host.Cli.Cli;

namespace DaxSim.Tests.Cluster;

/// <summary>
/// `daxsim explore --strategy systematic --runtime cluster`: the systematic search's units
/// (first deviations) leased over real member processes on 127.0.0.1 give the verdict and the
/// finding of a single-process systematic search over the same bound, every unit counted once,
/// depth by depth, also when a member is killed mid-farm.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class SystematicFarmSpecs : CliHarness
{
    private (CliOutcome Outcome, SystematicFarmResult? Farm) Farm(string[] args,
        Action<SystematicUnitRecord, IReadOnlyList<NodeProcess>>? afterUnit = null)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var cli = new DaxCli(stdout, stderr) { SystematicFarmAfterUnit = afterUnit };
        var code = cli.Invoke(args);
        return (new CliOutcome(code, stdout.ToString(), stderr.ToString()), cli.LastSystematicFarm);
    }

    // generic/503 (punch hole) with one round per thread: about 160 choice points a run.
    private string Small() => WriteFile("small.json",
        File.ReadAllText(Shipped("generic-503-punch")).Replace("\"repeat\": 10", "\"repeat\": 1"));

    private static void AssertEachUnitOnceDepthByDepth(SystematicFarmResult farm, IReadOnlyList<SystematicUnitRecord> order)
    {
        Assert.Equal(farm.UnitCount, farm.Units.Count);
        Assert.Equal(Enumerable.Range(0, farm.UnitCount), farm.Units.Select(u => u.Unit));
        // The depth barrier: no unit of depth 2 was counted before every unit of depth 1.
        var lastOfDepth1 = order.Select((u, i) => (u, i)).Last(x => x.u.Depth == 1).i;
        var firstOfDepth2 = order.Select((u, i) => (u, i)).First(x => x.u.Depth == 2).i;
        Assert.True(lastOfDepth1 < firstOfDepth2, $"depth 1 ended at {lastOfDepth1}, depth 2 began at {firstOfDepth2}");
    }

    [Fact]
    public void A_finding_on_two_members_is_the_single_process_search_s_with_the_same_delays_and_replays()
    {
        var scenario = Shipped("two-pins");
        var alone = new SystematicExplorer(Support.Scenarios.Shipped("two-pins"), Variants.Parse("gup-fast-no-recheck"),
            bound: 1, workers: 1).Explore();
        Assert.NotNull(alone.FindingDelays);

        var (r, farm) = Farm(["explore", scenario, "--variant", "gup-fast-no-recheck", "--strategy", "systematic",
            "--bound", "1", "--runtime", "cluster", "--nodes", "2", "--no-shrink", "--report", PathIn("farm.json")]);

        Assert.True(r.Code == 1, r.ToString());
        var delays = alone.FindingDelays!;
        Assert.Contains($"first violating schedule: 1 delay(s) against first-come order (at choice {delays[0].Point}, position {delays[0].Position})", r.Out);
        Assert.Contains("a seed farm on 2 member(s), units of one order and first deviation", r.Out);
        Assert.Contains("VIOLATION S1", r.Out);
        Assert.NotNull(farm);
        Assert.Equal(delays, farm.Search.FindingDelays);
        Assert.Equal(alone.FindingOrder, farm.Search.FindingOrder);
        Assert.Equal(alone.Finding!.TraceHash, farm.FindingTraceHash);
        // Every unit below the finding's is done, each once; the finding's unit is counted.
        var findingUnit = farm.Units.Single(u => u.Finding && u.First == delays[0]).Unit;
        Assert.Equal(Enumerable.Range(0, findingUnit + 1), farm.Units.Select(u => u.Unit).Where(u => u <= findingUnit));
        Assert.Equal(farm.Units.Count, farm.Units.Select(u => u.Unit).Distinct().Count());
        Assert.Equal(2, farm.Members);
        var report = ReadReport(PathIn("farm.json"));
        Assert.Equal("cluster", (string?)report["explore"]!["runtime"]);
        Assert.Equal(new[] { delays[0].Point, delays[0].Position }, report["explore"]!["delays"]![0]!.Select(t => (int)t));
        var replay = Invoke(["replay", PathIn("farm.json")]);
        Assert.Contains("replay: identical to the recorded run", replay.Out);
    }

    [Fact]
    public void A_clean_farm_is_exhausted_within_the_bound_with_every_unit_counted_once_depth_by_depth()
    {
        var scenario = Small();
        var alone = new SystematicExplorer(ScenarioLoader.LoadFile(scenario), Variant.Mainline, bound: 2, workers: 1).Explore();
        var order = new ConcurrentQueue<SystematicUnitRecord>();

        var (r, farm) = Farm(["explore", scenario, "--strategy", "systematic", "--bound", "2", "--runtime", "cluster",
            "--nodes", "2", "--report", PathIn("clean.json")], (u, _) => order.Enqueue(u));

        Assert.True(r.Code == 0, r.ToString());
        var m = Regex.Match(r.Out, @"exhausted: (\d+) schedules \((\d+) after reduction\) within bound 2: clean");
        Assert.True(m.Success, r.ToString());
        Assert.NotNull(farm);
        AssertEachUnitOnceDepthByDepth(farm, order.ToList());
        Assert.Equal(long.Parse(m.Groups[1].Value), farm.Search.Schedules);
        // Every schedule with 0 or 1 delay is started, as alone; with 2, a table per member cuts no more than one table.
        Assert.Equal(alone.ByDelays[0], farm.Search.ByDelays[0]);
        Assert.Equal(alone.ByDelays[1], farm.Search.ByDelays[1]);
        Assert.True(farm.Search.Schedules >= alone.Schedules, $"{farm.Search.Schedules} on the farm, {alone.Schedules} alone");
        var report = ReadReport(PathIn("clean.json"));
        Assert.True((bool)report["exhausted"]!);
        Assert.Equal("cluster", (string?)report["explore"]!["runtime"]);
        Assert.Equal(farm.UnitCount, (int)report["explore"]!["farm"]!["units"]!);
    }

    [Theory]
    [InlineData(1)] // a member that does not host the coordinator
    [InlineData(0)] // the oldest member, which hosts the coordinator: the singleton starts again on another
    public void A_member_killed_mid_farm_gives_its_units_back_and_the_search_is_still_exhausted_with_each_unit_once(int victim)
    {
        var crashed = 0;
        var scenario = Small();
        var order = new ConcurrentQueue<SystematicUnitRecord>();

        var (r, farm) = Farm(["explore", scenario, "--strategy", "systematic", "--bound", "2", "--runtime", "cluster",
                "--nodes", "3", "--workers", "2"],
            (unit, members) =>
            {
                order.Enqueue(unit);
                // Kill the member after its first unit of depth 2: its other worker is in the middle of one.
                if (unit.Member == victim && unit.Depth == 2 && Interlocked.Exchange(ref crashed, 1) == 0)
                {
                    members.Single(x => x.Index == victim).Crash();
                }
            });

        Assert.True(crashed == 1, $"node {victim} ran no unit of depth 2\n{r}");
        Assert.True(r.Code == 0, r.ToString());
        Assert.Matches(@"exhausted: \d+ schedules \(\d+ after reduction\) within bound 2: clean", r.Out);
        Assert.NotNull(farm);
        AssertEachUnitOnceDepthByDepth(farm, order.ToList());
        if (victim != 0 && farm.UnitsReturned > 0)
        {
            // The coordinator saw the member removed and gave its units back (a coordinator
            // started again on another member learns what is done from the runner instead).
            Assert.Contains($"node {victim} was removed from the cluster", r.Out);
        }
    }

    [Fact]
    public void Bad_systematic_farm_flags_are_one_line_errors()
    {
        var punch = Shipped("generic-503-punch");
        AssertUsageError(Invoke(["explore", punch, "--strategy", "systematic", "--runtime", "cluster", "--unit-seeds", "5"]),
            null, "--unit-seeds is for seeds");
        AssertUsageError(Invoke(["explore", punch, "--strategy", "systematic", "--runtime", "cluster", "--seeds", "10"]),
            null, "--seeds is not taken by the systematic search on a seed farm");
        AssertUsageError(Invoke(["explore", punch, "--strategy", "systematic", "--runtime", "cluster", "--bound", "17"]),
            null, "--bound must be between 0 and 16");
        AssertUsageError(Invoke(["explore", punch, "--strategy", "systematic", "--runtime", "cluster", "--max-schedules", "0"]),
            null, "--max-schedules must be at least 1");
        AssertUsageError(Invoke(["explore", punch, "--strategy", "systematic", "--bound", "1", "--nodes", "2"]), null,
            "need --runtime cluster");
    }
}
