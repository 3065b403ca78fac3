using DaxSim.Host.Checking;
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
            Assert.Equal(InvariantId.L3, run.Violation?.Invariant);
            Assert.Contains(run.Violation!.WaitFor, w => w.Contains("waits for page-0 to go idle, mapped by task-toucher's process"));
            var events = run.Timeline!.Select(e => e.Item).OfType<TraceEvent>().ToList();
            // The DIO's put left the toucher's PTE reference: refcount 1, no wake.
            Assert.Contains(events, e => e is PagePut { Task.Value: 0, Refcount: 1 });
            Assert.DoesNotContain(events, e => e is IdleNotified);
            Assert.DoesNotContain(events, e => e is OpCompleted { Op: OpKind.Truncate });
        }
    }

    [Theory]
    [InlineData("generic-503-punch")]
    [InlineData("generic-503-zero")]
    public void From_6_15_generic_503_can_deadlock_a_thread_waiting_on_a_page_its_sibling_refaulted(string name)
    {
        // docs/findings.md, section 2: the scan sees the other thread's speculative GUP-fast
        // reference, the truncate-side thread sleeps on it; the reference goes (wake), the other
        // thread's slow path faults the page back in before the sleeper re-checks; the sleeper
        // sleeps again on a page its sibling's PTE holds, and the sibling blocks on its IOLOCK.
        var scenario = Scenarios.Shipped(name);
        var found = Enumerable.Range(1, 600)
            .Select(s => _runtime.Run(scenario, new RunSettings
            {
                Seed = (ulong)s, Variant = Variant.Linux615, RecordOps = false, RecordSchedule = false,
            }))
            .FirstOrDefault(r => r.Violation is not null);
        Assert.NotNull(found);
        Assert.Equal(InvariantId.L1, found!.Violation!.Invariant);
        var waitFor = found.Violation.WaitFor;
        Assert.Contains(waitFor, w => w.Contains("to go idle, mapped by task-thread"));
        Assert.Contains(waitFor, w => w.Contains("waits for IOLOCK of 'dax', held by task-thread"));

        var run = Run(name, Variant.Linux615, found.Seed);
        var events = run.Timeline!.Select(e => e.Item).OfType<TraceEvent>().ToList();
        var last = events.FindLastIndex(e => e is WaitSleeping);
        var sleeper = ((WaitSleeping)events[last]).Task;
        var page = ((WaitSleeping)events[last]).Page;
        // Before its last sleep the sleeper was woken (the speculative reference went) and the
        // page was mapped again, by the other thread, with no scan of the sleeper in between.
        var woken = events.FindLastIndex(last, e => e is WaitEnded { How: WaitEnd.Woken } w && w.Task == sleeper && w.Page == page);
        Assert.True(woken >= 0, "the sleeper was never woken from this page");
        var refault = events.FindIndex(woken, e => e is PageMapped m && m.Page == page);
        Assert.InRange(refault, woken, last);
        Assert.DoesNotContain(events.Skip(woken).Take(last - woken), e => e is BusyScanDone b && b.Task == sleeper);
        Assert.Contains(events.Take(woken), e => e is PageGot { Speculative: true } g && g.Page == page && g.Task != sleeper);

        // Up to 6.14 the same seeds are clean: a PTE holds no reference, the re-check finds the page idle.
        for (var seed = 1UL; seed <= found.Seed; seed++)
        {
            Assert.Null(_runtime.Run(scenario, new RunSettings
            {
                Seed = seed, Variant = Variant.Mainline, RecordOps = false, RecordSchedule = false,
            }).Violation);
        }
    }
}
