using DaxSim.Testing;
using Xunit;
using Xunit.Abstractions;

namespace DaxSim.Examples.Tests;

/// <summary>
/// Fault-injection tests as a user of DaxSim writes them: load a scenario or build one, pick a
/// protocol variant, explore it with a strategy and a seed budget, and let the assertion fail
/// the test. A failure's message has the broken invariant, the violation, the seed, the
/// minimal trace and the command that replays it (`daxsim replay FILE`).
/// </summary>
public sealed class FaultInjectionTests(ITestOutputHelper output)
{
    // The mainline protocol keeps generic/503's punch-hole race safe under PCT, with signals,
    // kills and message delays injected from each seed.
    [Fact]
    public void Mainline_survives_generic_503_punch_under_pct_with_fault_injection()
    {
        Simulation.Load("scenarios/generic-503-punch.json")
            .WithFaultInjection()
            .WithLog(output.WriteLine)
            .Explore(strategy: "pct", seeds: 100)
            .AssertClean();
    }

    // Not sampling but a proof within a bound: every schedule of one generic/503 round with at
    // most one delay against either default schedule (first come or last come, first served)
    // runs clean on mainline.
    [Fact]
    public void Mainline_survives_every_schedule_within_one_delay_of_a_generic_503_round()
    {
        Simulation.Parse(File.ReadAllText("scenarios/generic-503-punch.json").Replace("\"repeat\": 10", "\"repeat\": 1"),
                "generic-503-punch, one round")
            .WithLog(output.WriteLine)
            .ExploreSystematic(bound: 1)
            .AssertExhausted();
    }

    // A case of your own, built in code: two DIOs pin pages 0 and 3 of one mapping while a
    // third task truncates the file and allocates it again.
    private static readonly ScenarioBuilder TwoPins = ScenarioBuilder.Named("my-two-pins")
        .DaxFile("dax", pages: 4)
        .PlainFile("src", pages: 4)
        .Task("short", t => t
            .Mmap("dax", "0-3")
            .DioRead(from: "src", into: "dax", pages: "0", ioTime: "10us", repeat: 20)
            .Munmap("dax"))
        .Task("long", t => t
            .Mmap("dax", "0-3")
            .DioRead(from: "src", into: "dax", pages: "3", ioTime: "500us", repeat: 4)
            .Munmap("dax"))
        .Task("truncate", repeat: 8, t => t
            .Truncate("dax", size: 0)
            .Fallocate("dax", "0-3"));

    [Fact]
    public void Mainline_survives_a_scenario_built_in_code()
    {
        Simulation.From(TwoPins)
            .WithLog(output.WriteLine)
            .Explore(strategy: "random", seeds: 200)
            .AssertClean();
    }

    // The busy scan must unmap before it reads the refcounts: without that (the no-unmap
    // ablation) a DIO pins a page through a PTE the scan has passed, and the truncate frees it.
    [Fact]
    public void Without_the_unmap_the_truncate_frees_a_pinned_block()
    {
        var finding = Simulation.From(TwoPins)
            .WithVariant("no-unmap")
            .WithLog(output.WriteLine)
            .Explore(strategy: "pct", seeds: 300)
            .AssertFinds("S1");

        Assert.StartsWith("daxsim replay ", finding.ReplayCommand);
        Assert.NotEmpty(finding.MinimalTrace);
    }

    // The 2018 seed patch falls to PCT on generic/503's truncate race: expecting the finding
    // documents the bug; the exception's Finding says what it was. Shrinking gets 2 s here
    // (10 s by default): the minimal trace is smaller the longer it may take.
    [Fact]
    public void The_seed_patch_breaks_generic_503_truncate()
    {
        var exploration = Simulation.Load("scenarios/generic-503-truncate.json")
            .WithVariant("seed-v7")
            .WithShrinkBudget(TimeSpan.FromSeconds(2))
            .WithLog(output.WriteLine)
            .Explore(strategy: "pct", seeds: 200);

        var failure = Assert.Throws<DaxSimFindingException>(() => exploration.AssertClean());
        Assert.Equal("S1", failure.Finding.Invariant);
        Assert.Contains(failure.Finding.ReplayCommand, failure.Message);
    }

    // Or keep the result and assert on it yourself.
    [Fact]
    public void Mainline_survives_lease_enomem_with_the_result_read_by_hand()
    {
        var exploration = Simulation.Load("scenarios/lease-enomem.json")
            .WithFaultInjection()
            .Explore(seeds: 100);

        Assert.True(exploration.Clean, exploration.Finding?.Message);
        Assert.Equal(100, exploration.SeedsRun);
    }
}
