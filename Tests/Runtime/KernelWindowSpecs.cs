using DaxSim.Host.Checking;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Runtime;

/// <summary>
/// Picks the first ready actor, except that it holds an actor back (runs it only when nothing
/// else can run) from the moment one trace event is seen until another is: the tests' way to
/// put another CPU's work between two steps of a kernel loop, deterministically.
/// </summary>
internal sealed class HoldBack(string actor, Func<TraceEvent, bool> from, Func<TraceEvent, bool> until, string? prefer = null)
    : IScheduleStrategy
{
    private bool _holding;
    private bool _done;

    public string Name => "hold-back";

    /// <summary>Set when the hold began; false if the run never got there.</summary>
    public bool Held { get; private set; }

    public void Observe(TraceEvent e)
    {
        if (!_holding && !_done && from(e))
        {
            _holding = true;
            Held = true;
        }
        else if (_holding && until(e))
        {
            _holding = false;
            _done = true;
        }
    }

    public int Choose(IReadOnlyList<ISchedulable> ready)
    {
        for (var i = 0; i < ready.Count && prefer is not null; i++)
        {
            if (ready[i].Name == prefer)
            {
                return i;
            }
        }
        for (var i = 0; i < ready.Count; i++)
        {
            if (!_holding || ready[i].Name != actor)
            {
                return i;
            }
        }
        return 0;
    }
}

/// <summary>
/// Like <see cref="HoldBack"/>, in phases: phase i holds back its actor (none if null) until its
/// event is seen, then phase i + 1 begins; after the last, nothing is held.
/// </summary>
internal sealed class Phases(params (string? Hold, Func<TraceEvent, bool> Until)[] phases) : IScheduleStrategy
{
    public string Name => "phases";

    /// <summary>How many phases ended.</summary>
    public int Ended { get; private set; }

    public void Observe(TraceEvent e)
    {
        if (Ended < phases.Length && phases[Ended].Until(e))
        {
            Ended++;
        }
    }

    public int Choose(IReadOnlyList<ISchedulable> ready)
    {
        var held = Ended < phases.Length ? phases[Ended].Hold : null;
        for (var i = 0; i < ready.Count; i++)
        {
            if (ready[i].Name != held)
            {
                return i;
            }
        }
        return 0;
    }
}

/// <summary>
/// Every loop the kernel runs page by page without a lock that keeps the other side out is
/// one step per page in the model, so another task can run between two pages. Each spec here
/// puts another task's work into one such window, on the deterministic runtime, and shows the
/// state that only that window makes possible.
/// </summary>
public sealed class KernelWindowSpecs(DeterministicRuntimeFixture fixture) : IClassFixture<DeterministicRuntimeFixture>
{
    private readonly DeterministicRuntime _runtime = fixture.Runtime;

    private (RunResult Run, List<TraceEvent> Events) Run(Scenario scenario, HoldBack hold, Variant? variant = null)
    {
        var events = new List<TraceEvent>();
        var run = _runtime.Run(scenario, new RunSettings
        {
            Seed = 1,
            Variant = variant ?? Variant.Mainline,
            Deterministic = new() { WrapStrategy = _ => hold },
            Observe = (_, e) =>
            {
                events.Add(e);
                hold.Observe(e);
            },
        });
        Assert.True(hold.Held, "the run never reached the window");
        return (run, events);
    }

    private static int IndexOf(List<TraceEvent> events, Func<TraceEvent, bool> match)
    {
        var i = events.FindIndex(e => match(e));
        Assert.True(i >= 0, "event not found");
        return i;
    }

    private const string DioFiles = """
        "files": [ { "name": "dax", "pages": 4 }, { "name": "src", "dax": false, "pages": 4 } ],
        """;

    [Fact]
    public void A_truncate_must_be_able_to_see_page_0_put_and_page_1_still_pinned_by_the_same_DIO()
    {
        // bio_release_pages puts the DIO's pages one by one: the truncate's rescan runs between
        // the two puts, and finds page 1 busy with page 0 already idle. (page-0 runs as soon as
        // the put reaches it, so that the hold begins before the completion's next step.)
        var scenario = ScenarioLoader.Parse($$"""
            { "name": "window-puts", {{DioFiles}}
              "tasks": [
                { "name": "dio", "steps": [ { "op": "mmap", "file": "dax", "pages": "0-1" },
                    { "op": "dioRead", "from": "src", "into": "dax", "pages": "0-1", "ioTime": "100us" } ] },
                { "name": "truncate", "steps": [ { "op": "sleep", "for": "50us" },
                    { "op": "truncate", "file": "dax", "size": 0 } ] } ] }
            """, "window-puts");
        var page0 = new PageId(0);
        var page1 = new PageId(1);
        var hold = new HoldBack("task-dio",
            from: e => e is PagePut { Task.Value: 0 } p && p.Page == page0,
            until: e => e is BusyScanDone { Busy: not null },
            prefer: "page-0");
        var (run, events) = Run(scenario, hold);

        var put0 = IndexOf(events, e => e is PagePut p && p.Page == page0 && p.Task.Value == 0);
        var scan = events.FindIndex(put0, e => e is BusyScanDone { Busy: not null });
        var put1 = IndexOf(events, e => e is PagePut p && p.Page == page1 && p.Task.Value == 0);
        Assert.True(scan > put0 && scan < put1, $"put 0 at {put0}, scan at {scan}, put 1 at {put1}");
        Assert.Equal(page1, ((BusyScanDone)events[scan]).Busy);
        Assert.Null(run.Violation);
    }

    [Fact]
    public void A_GUP_fast_path_must_be_able_to_read_a_PTE_before_the_zap_and_take_its_reference_after_it()
    {
        // zap_pte_range clears PTEs one by one and the fast path reads them without a lock: its
        // reference lands after the zap, and only the re-check sees that the PTE is gone.
        var scenario = ScenarioLoader.Parse($$"""
            { "name": "window-fast-path", {{DioFiles}}
              "processes": [ { "name": "p", "mmap": [ { "file": "dax", "pages": "0-3" } ] } ],
              "tasks": [
                { "name": "reader", "process": "p", "steps": [ { "op": "touch", "file": "dax", "pages": "0-1" },
                    { "op": "sleep", "for": "10us" },
                    { "op": "dioRead", "from": "src", "into": "dax", "pages": "0-1", "ioTime": "100us" } ] },
                { "name": "punch", "process": "p", "steps": [ { "op": "sleep", "for": "10us" },
                    { "op": "punchHole", "file": "dax", "pages": "0-1" } ] } ] }
            """, "window-fast-path");
        // Hold the reader from its lockless read of PTE 0 until the punch's scan has zapped it.
        var hold = new HoldBack("task-reader",
            from: e => e is PteRead { Task.Value: 0, Index: 0, Page: not null },
            until: e => e is PteZapped { Index: 0 });
        var (run, events) = Run(scenario, hold);

        var read = IndexOf(events, e => e is PteRead { Task.Value: 0, Index: 0, Page: not null });
        var zap = events.FindIndex(read, e => e is PteZapped { Index: 0 });
        var got = events.FindIndex(zap, e => e is PageGot { Speculative: true, Task.Value: 0, Index: 0 });
        var recheck = events.FindIndex(got, e => e is PteRechecked { Index: 0, Task.Value: 0 });
        Assert.True(read < zap && zap < got && got < recheck, $"read {read}, zap {zap}, reference {got}, re-check {recheck}");
        Assert.False(((PteRechecked)events[recheck]).Present);
        Assert.Null(run.Violation);
    }

    [Fact]
    public void Without_the_recheck_a_reference_taken_after_the_zap_must_be_caught_as_use_after_free()
    {
        var scenario = ScenarioLoader.Parse($$"""
            { "name": "window-no-recheck", {{DioFiles}}
              "processes": [ { "name": "p", "mmap": [ { "file": "dax", "pages": "0-3" } ] } ],
              "tasks": [
                { "name": "reader", "process": "p", "steps": [ { "op": "touch", "file": "dax", "pages": "0" },
                    { "op": "dioRead", "from": "src", "into": "dax", "pages": "0", "ioTime": "100us" } ] },
                { "name": "punch", "process": "p", "steps": [ { "op": "touch", "file": "dax", "pages": "0" },
                    { "op": "punchHole", "file": "dax", "pages": "0" } ] } ] }
            """, "window-no-recheck");
        // Hold the reader from its lockless read of PTE 0 until the punch has freed the block.
        var hold = new HoldBack("task-reader",
            from: e => e is PteRead { Task.Value: 0, Index: 0, Page: not null } r && r.Page != null,
            until: e => e is BlockFreed);
        var (run, _) = Run(scenario, hold, Variant.GupFastNoRecheck);
        Assert.Equal(InvariantId.S1, run.Violation?.Invariant);
        Assert.Equal(Host.Checking.Damage.DataCorrupted, run.Violation!.Damage);
    }

    [Fact]
    public void Another_file_must_be_able_to_take_a_block_the_truncate_freed_before_it_frees_the_next()
    {
        // xfs_itruncate_extents frees extent by extent: a fallocate of another file in between
        // takes the block just freed (the free list is LIFO).
        var scenario = ScenarioLoader.Parse("""
            { "name": "window-free", "device": { "blocks": 8 },
              "files": [ { "name": "a", "pages": 4 }, { "name": "b", "pages": 4 } ],
              "tasks": [
                { "name": "truncate", "steps": [ { "op": "truncate", "file": "a", "size": 0 } ] },
                { "name": "other", "steps": [ { "op": "punchHole", "file": "b", "pages": "0" },
                    { "op": "fallocate", "file": "b", "pages": "0" } ] } ] }
            """, "window-free");
        var hold = new HoldBack("inode-a",
            from: e => e is BlockFreed { File.Value: 0 },
            until: e => e is BlockAllocated { File.Value: 1 });
        var (run, events) = Run(scenario, hold);

        var first = IndexOf(events, e => e is BlockFreed { File.Value: 0 });
        var freed = ((BlockFreed)events[first]).Block;
        var reused = events.FindIndex(first, e => e is BlockAllocated { File.Value: 1 } b && b.Block == freed);
        var next = events.FindIndex(first + 1, e => e is BlockFreed { File.Value: 0 });
        Assert.True(reused > first && reused < next, $"freed at {first}, reused at {reused}, next free at {next}");
        Assert.Null(run.Violation);
    }

    [Fact]
    public void The_busy_scan_must_be_able_to_read_page_1_after_a_DMA_reached_page_0_and_before_it_reached_page_1()
    {
        // The device's DMA reaches the pinned pages one at a time; a scan between them still
        // sees every page pinned (the pins go only after all the DMA).
        var scenario = ScenarioLoader.Parse($$"""
            { "name": "window-dma", {{DioFiles}}
              "tasks": [
                { "name": "dio", "steps": [ { "op": "mmap", "file": "dax", "pages": "0-1" },
                    { "op": "dioRead", "from": "src", "into": "dax", "pages": "0-1", "ioTime": "100us" } ] },
                { "name": "truncate", "steps": [ { "op": "sleep", "for": "100us" },
                    { "op": "truncate", "file": "dax", "size": 0 } ] } ] }
            """, "window-dma");
        var hold = new HoldBack("task-dio",
            from: e => e is DmaLanded { Index: 0 },
            until: e => e is BusyScanDone,
            prefer: "page-0");
        var (run, events) = Run(scenario, hold);

        var dma0 = IndexOf(events, e => e is DmaLanded { Index: 0 });
        var scan = events.FindIndex(dma0, e => e is BusyScanDone);
        var dma1 = IndexOf(events, e => e is DmaLanded { Index: 1 });
        Assert.True(scan > dma0 && scan < dma1, $"DMA 0 at {dma0}, scan at {scan}, DMA 1 at {dma1}");
        Assert.NotNull(((BusyScanDone)events[scan]).Busy);
        Assert.Null(run.Violation);
    }

    [Theory]
    [InlineData("mainline")]
    [InlineData("no-unmap")]
    public void A_layout_change_must_be_able_to_run_between_a_fault_and_the_follow_that_takes_the_reference(string variant)
    {
        // __get_user_pages: faultin_page drops MMAPLOCK, then `goto retry` (fatal_signal_pending,
        // cond_resched) and follow_page_mask takes the reference. A truncate waiting for
        // MMAPLOCK gets in between: with the unmap it zaps the new PTE and the follow finds
        // none (the refault is past EOF: EFAULT); under no-unmap the follow takes a reference
        // on a page the scan found idle, and the truncate frees its block under it.
        var scenario = ScenarioLoader.Parse($$"""
            { "name": "window-refault", {{DioFiles}}
              "tasks": [
                { "name": "dio", "steps": [ { "op": "mmap", "file": "dax", "pages": "0-1" },
                    { "op": "dioRead", "from": "src", "into": "dax", "pages": "0-1", "ioTime": "100us" } ] },
                { "name": "truncate", "steps": [ { "op": "truncate", "file": "dax", "size": 0 } ] } ] }
            """, "window-refault");
        var phases = new Phases(
            ("task-truncate", e => e is LockAcquired { Task.Value: 0, Kind: Protocol.Messages.LockKind.MmapLock }),
            (null, e => e is PteInstalled { Index: 0 }),
            ("task-dio", e => e is BusyScanDone));
        var events = new List<TraceEvent>();
        var run = _runtime.Run(scenario, new RunSettings
        {
            Seed = 1,
            Variant = Variants.Parse(variant),
            Deterministic = new() { WrapStrategy = _ => phases },
            Observe = (_, e) =>
            {
                events.Add(e);
                phases.Observe(e);
            },
        });
        Assert.Equal(3, phases.Ended);

        var fault = IndexOf(events, e => e is PteInstalled { Index: 0 });
        var scan = events.FindIndex(fault, e => e is BusyScanDone);
        var follow = events.FindIndex(fault, e => e is PageGot { Task.Value: 0, Index: 0 });
        Assert.True(scan > fault, $"fault at {fault}, scan at {scan}");
        Assert.Null(((BusyScanDone)events[scan]).Busy);
        if (variant == "mainline")
        {
            Assert.True(follow < 0, "the follow took a reference on a zapped PTE");
            Assert.Contains(events, e => e is PteZapped { Index: 0 } && events.IndexOf(e) < scan);
            Assert.Contains(events, e => e is OpCompleted { Task.Value: 0, Result: Errno.EFAULT });
            Assert.Null(run.Violation);
        }
        else
        {
            Assert.True(follow > scan, $"scan at {scan}, follow at {follow}");
            Assert.Equal(InvariantId.S1, run.Violation?.Invariant);
        }
    }
}
