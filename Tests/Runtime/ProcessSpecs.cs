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
/// Processes, threads and what a system call's end means, on whole runs: threads share one
/// address space, a kill takes every thread, the mappings go with the last thread, a pin
/// outlives its mapping while an asynchronous DIO is in flight, an interrupted layout change
/// restarts under SA_RESTART, and an allocation failure fails the lease break.
/// </summary>
public sealed class ProcessSpecs(DeterministicRuntimeFixture fixture) : IClassFixture<DeterministicRuntimeFixture>
{
    private readonly DeterministicRuntime _runtime = fixture.Runtime;

    private List<TraceEvent> Events(Scenario scenario, out RunResult run, ulong seed = 1, Variant? variant = null)
    {
        run = _runtime.Run(scenario, new RunSettings { Seed = seed, Variant = variant ?? Variant.Mainline, RecordTimeline = true });
        return run.Timeline!.Select(e => e.Item).OfType<TraceEvent>().ToList();
    }

    private static Scenario Parse(string json) => ScenarioLoader.Parse(json, "spec");

    private const string Files = """
        "files": [ { "name": "dax", "pages": 4 }, { "name": "src", "dax": false, "pages": 4 } ],
        """;

    [Fact]
    public void A_thread_must_use_the_PTE_another_thread_of_its_process_faulted_in()
    {
        var scenario = Parse($$"""
            { "name": "threads", {{Files}}
              "processes": [ { "name": "p", "mmap": [ { "file": "dax", "pages": "0-3" } ] } ],
              "tasks": [
                { "name": "a", "process": "p", "steps": [ { "op": "touch", "file": "dax", "pages": "0" } ] },
                { "name": "b", "process": "p", "steps": [ { "op": "sleep", "for": "10us" },
                    { "op": "dioRead", "from": "src", "into": "dax", "pages": "0", "ioTime": "10us" } ] } ] }
            """);
        var events = Events(scenario, out var run);
        Assert.Null(run.Violation);
        // One fault, by a; b's GUP fast path takes the page through that PTE.
        Assert.Single(events, e => e is PteInstalled);
        Assert.Contains(events, e => e is PageGot { Task.Value: 1, Speculative: true, Index: 0 });
        Assert.Contains(events, e => e is PteRechecked { Task.Value: 1, Present: true });
        Assert.DoesNotContain(events, e => e is LockAcquired { Task.Value: 1, Kind: Protocol.Messages.LockKind.MmapLock });
    }

    [Fact]
    public void Separate_processes_must_each_fault_their_own_PTE()
    {
        var scenario = Parse($$"""
            { "name": "processes", {{Files}}
              "tasks": [
                { "name": "a", "steps": [ { "op": "mmap", "file": "dax", "pages": "0-3" }, { "op": "touch", "file": "dax", "pages": "0" } ] },
                { "name": "b", "steps": [ { "op": "mmap", "file": "dax", "pages": "0-3" }, { "op": "sleep", "for": "10us" },
                    { "op": "dioRead", "from": "src", "into": "dax", "pages": "0", "ioTime": "10us" } ] } ] }
            """);
        var events = Events(scenario, out _);
        Assert.Equal(2, events.Count(e => e is PteInstalled));
        Assert.Contains(events, e => e is LockAcquired { Task.Value: 1, Kind: Protocol.Messages.LockKind.MmapLock });
    }

    [Fact]
    public void A_kill_must_end_every_thread_of_the_process_and_its_mappings_go_with_the_last()
    {
        var scenario = Parse($$"""
            { "name": "kill", {{Files}}
              "processes": [ { "name": "p", "mmap": [ { "file": "dax", "pages": "0-3" } ] } ],
              "tasks": [
                { "name": "a", "process": "p", "steps": [ { "op": "touch", "file": "dax", "pages": "0-1" },
                    { "op": "sleep", "for": "1s" } ] },
                { "name": "b", "process": "p", "steps": [ { "op": "sleep", "for": "1s" } ] },
                { "name": "other", "steps": [ { "op": "sleep", "for": "2ms" } ] } ],
              "faults": [ { "at": "1ms", "kind": "kill", "task": "b" } ] }
            """);
        var events = Events(scenario, out var run);
        Assert.Null(run.Violation);
        Assert.Contains(events, e => e is TaskEnded { Task.Value: 0, Killed: true });
        Assert.Contains(events, e => e is TaskEnded { Task.Value: 1, Killed: true });
        Assert.Contains(events, e => e is TaskEnded { Task.Value: 2, Killed: false });
        // exit_mmap: both PTEs go, after both threads ended.
        var lastEnd = events.FindLastIndex(e => e is TaskEnded { Killed: true });
        Assert.Equal(2, events.Skip(lastEnd).Count(e => e is PteZapped));
        Assert.DoesNotContain(events.Take(lastEnd), e => e is PteZapped);
    }

    [Fact]
    public void An_asynchronous_DIOs_pins_must_outlive_the_munmap_and_hold_the_truncate_back()
    {
        var events = Events(Scenarios.Shipped("aio-munmap-truncate"), out var run);
        Assert.Null(run.Violation);
        var munmapped = events.FindIndex(e => e is OpCompleted { Op: OpKind.Munmap, Task.Value: 0 });
        var put = events.FindIndex(e => e is PagePut { Task.Value: 0 });
        Assert.True(put > munmapped, $"first put at {put}, munmap done at {munmapped}");
        // The scan found a page pinned by the I/O of a process that no longer maps the file.
        Assert.Contains(events, e => e is WaitSleeping { Task.Value: 1 });
    }

    [Fact]
    public void Under_the_unmapped_slip_the_same_run_frees_the_blocks_under_the_DMA()
    {
        Events(Scenarios.Shipped("aio-munmap-truncate"), out var run, variant: Variant.BusyScanSkipsUnmapped);
        Assert.Equal(InvariantId.S1, run.Violation?.Invariant);
        Assert.Equal(Host.Checking.Damage.DataCorrupted, run.Violation!.Damage);
    }

    [Fact]
    public void A_signal_with_SA_RESTART_must_restart_the_truncate_which_then_completes()
    {
        var events = Events(Scenarios.Shipped("signal-restart"), out var run);
        Assert.Null(run.Violation);
        Assert.Contains(events, e => e is OpRestarted { Task.Value: 1, Op: OpKind.Truncate });
        Assert.Contains(events, e => e is OpCompleted { Task.Value: 1, Op: OpKind.Truncate, Result: Errno.Ok });
        Assert.DoesNotContain(events, e => e is OpCompleted { Result: Errno.EINTR });
        var truncate = run.Ops.Single(o => o.Op == "truncate");
        Assert.True(truncate.End >= TimeSpan.FromMilliseconds(500).Ticks, "it waited the pin out after its restart");
    }

    [Fact]
    public void A_signal_without_SA_RESTART_must_fail_the_truncate_with_EINTR()
    {
        var events = Events(Scenarios.Shipped("signal-long-pin"), out var run);
        Assert.Null(run.Violation);
        Assert.Contains(events, e => e is OpCompleted { Op: OpKind.Truncate, Result: Errno.EINTR });
        Assert.DoesNotContain(events, e => e is OpRestarted);
    }

    [Fact]
    public void An_allocation_failure_must_fail_the_lease_break_and_free_nothing()
    {
        var events = Events(Scenarios.Shipped("lease-enomem"), out var run);
        Assert.Null(run.Violation);
        Assert.Contains(events, e => e is OpCompleted { Op: OpKind.Truncate, Result: Errno.ENOMEM });
        Assert.DoesNotContain(events, e => e is BlockFreed);
        Assert.DoesNotContain(events, e => e is LeaseRecalled);
    }

    [Fact]
    public void Random_sleeps_must_differ_by_seed_wake_on_the_timer_slack_grid_and_let_the_threads_meet()
    {
        // usleep(rand() % 1000) ten times in each of two threads; each wake-up lands on a 50 us
        // boundary (the default timer slack), so the threads wake at the same instant in some
        // iterations, as two CPUs' system calls overlap on a real machine.
        var scenario = Parse($$"""
            { "name": "sleeps", {{Files}}
              "tasks": [
                { "name": "a", "repeat": 10, "steps": [ { "op": "sleep", "for": "1ms", "random": true } ] },
                { "name": "b", "repeat": 10, "steps": [ { "op": "sleep", "for": "1ms", "random": true } ] } ] }
            """);
        var slack = TimeSpan.FromMicroseconds(50).Ticks;
        var met = 0;
        var schedules = new HashSet<string>();
        for (ulong seed = 1; seed <= 20; seed++)
        {
            var wakes = new List<(long At, int Task)>();
            var run = _runtime.Run(scenario, new RunSettings
            {
                Seed = seed,
                Observe = (at, e) =>
                {
                    if (e is OpCompleted { Op: OpKind.Sleep } c)
                    {
                        wakes.Add((at, c.Task.Value));
                    }
                },
            });
            Assert.Null(run.Violation);
            Assert.Equal(20, wakes.Count);
            Assert.All(wakes, w => Assert.Equal(0, w.At % slack));
            var a = wakes.Where(w => w.Task == 0).Select(w => w.At).ToHashSet();
            met += wakes.Count(w => w.Task == 1 && a.Contains(w.At));
            schedules.Add(string.Join(",", wakes.Select(w => w.At)));
        }
        Assert.True(schedules.Count > 15, $"{schedules.Count} distinct schedules of wake-ups over 20 seeds");
        Assert.True(met > 0, "the two threads never woke at the same instant");
    }
}
