using DaxSim.Host.Deterministic;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Trace;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Runtime;

/// <summary>
/// docs/findings.md, run: each finding's scenario gives the answer the page states, under
/// each variant it names.
/// </summary>
public sealed class FindingsSpecs(DeterministicRuntimeFixture fixture) : IClassFixture<DeterministicRuntimeFixture>
{
    private readonly DeterministicRuntime _runtime = fixture.Runtime;

    private RunResult Run(string scenario, Variant variant, ulong seed = 1) =>
        _runtime.Run(Scenarios.Shipped(scenario), new RunSettings { Seed = seed, Variant = variant, RecordTimeline = true });

    [Fact]
    public void Up_to_6_14_the_DIOs_put_wakes_the_truncate_whose_rescan_unmaps_the_refaulted_page()
    {
        var run = Run("refault-during-wait", Variant.Mainline);
        Assert.Null(run.Violation);
        var events = run.Timeline!.Where(e => e.Item is TraceEvent).ToList();
        var put = events.First(e => e.Item is PagePut { Task.Value: 0 });
        var truncated = events.First(e => e.Item is OpCompleted { Op: OpKind.Truncate });
        // The truncate completes when the DIO's pin goes (10 ms), not when the toucher unmaps (2 s).
        Assert.Equal(put.Time, truncated.Time);
        Assert.Contains(events, e => e.Item is PteZapped { Mm.Value: 2 } && e.Time == put.Time);
    }

    [Theory]
    [InlineData("linux-6.15")]
    [InlineData("ext4-6.15")]
    [InlineData("virtiofs-6.15")]
    public void From_6_15_the_truncate_sleeps_until_the_process_that_refaulted_the_page_unmaps_it(string variant)
    {
        foreach (var seed in new ulong[] { 1, 2, 3 })
        {
            var run = Run("refault-during-wait", Variants.Parse(variant), seed);
            Assert.Equal("L3", run.Violation?.Invariant);
            Assert.Contains(run.Violation!.WaitFor, w => w.Contains("waits for page-0 to go idle, mapped by task-toucher's process"));
            var events = run.Timeline!.Select(e => e.Item).OfType<TraceEvent>().ToList();
            // The DIO's put left the toucher's PTE reference: refcount 1, no wake.
            Assert.Contains(events, e => e is PagePut { Task.Value: 0, Refcount: 1 });
            Assert.DoesNotContain(events, e => e is IdleNotified);
            Assert.DoesNotContain(events, e => e is OpCompleted { Op: OpKind.Truncate });
        }
    }
}
