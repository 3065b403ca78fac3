using DaxSim.Actors;
using DaxSim.Host.Checking;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Checking;

/// <summary>
/// Each monitor on its own, over a world set up by hand: it fires on its violation and stays
/// quiet on the near miss beside it. (InvariantCheckerSpecs drive all of them through the
/// checker's routing of trace events.)
/// </summary>
public sealed class MonitorSpecs
{
    private static readonly FileId Dax = Scenarios.Dax;
    private static readonly TaskId A = new(0), B = new(1), C = new(2);
    private static readonly PageId P1 = new(1);

    private readonly World _world;
    private readonly Findings _findings;

    public MonitorSpecs()
    {
        var scenario = Scenarios.Parse("""
            [ { "name": "a", "steps": [ { "op": "truncate", "file": "dax", "size": 0 } ] },
              { "name": "b", "steps": [ { "op": "dioRead", "from": "src", "into": "dax", "pages": "0-3", "ioTime": "1ms" } ] },
              { "name": "c", "steps": [ { "op": "fsync", "file": "dax", "ioTime": "1ms" },
                                        { "op": "sleep", "for": "2ms" } ] } ]
            """, extra: """, "limits": { "opBound": "10ms" }""");
        _world = new World(scenario, ProtocolPolicy.Mainline, () => 0, recordOps: false);
        _findings = new Findings(_world);
    }

    private InvariantId? Found => _findings.Violation?.Invariant;

    private void Pin(TaskId task, PageId page)
    {
        var m = new PageGot(page, task, Dax, page.Value, _world.Refcount[page.Value] + 1);
        _world.PageGot(m, World.PinKey(task, page));
    }

    private void Grant(LockMonitor monitor, TaskId task, LockMode mode)
    {
        var m = new LockAcquired(Dax, LockKind.IoLock, mode, task);
        monitor.LockAcquiring(m);
        _world.LockAcquired(m);
    }

    [Fact]
    public void S1_must_fire_on_a_block_freed_while_pinned_and_not_once_the_pin_is_gone()
    {
        var s1 = new UseAfterFreeMonitor(_world, _findings);
        Pin(B, P1);
        var put = new PagePut(P1, B, 1);
        _world.PagePut(put, World.PinKey(B, P1), out _);
        s1.PagePut(put, World.PinKey(B, P1));
        s1.BlockFreed(new BlockFreed(P1, Dax));
        Assert.Null(_findings.Violation);

        Pin(B, P1);
        s1.DmaLanded(new DmaLanded(P1, B, Dax, 1));
        Assert.Equal(InvariantId.S1, Found);
        Assert.Equal(Damage.DataCorrupted, _findings.Violation!.Damage);
        Assert.Contains("landed in block 1, which is now free", _findings.Violation.Description);
    }

    [Fact]
    public void S1_must_hold_back_a_free_under_a_pin_whose_DMA_is_to_come_until_the_end()
    {
        var s1 = new UseAfterFreeMonitor(_world, _findings);
        Pin(B, P1);
        s1.BlockFreed(new BlockFreed(P1, Dax));
        Assert.Null(_findings.Violation);
        Assert.NotNull(_findings.Held);
        s1.AtQuiescence();
        Assert.Equal(InvariantId.S1, Found);
        Assert.Equal(Damage.PinnedBlockFreed, _findings.Violation!.Damage);
    }

    [Fact]
    public void S2_must_fire_on_a_put_without_a_reference_and_not_on_one_with()
    {
        var s2 = new RefcountMonitor(_world, _findings);
        Pin(B, P1);
        Assert.True(_world.PagePut(new PagePut(P1, B, 1), World.PinKey(B, P1), out _));
        Assert.Null(_findings.Violation);
        var put = new PagePut(P1, A, 1);
        Assert.False(_world.PagePut(put, World.PinKey(A, P1), out _));
        s2.PutWithoutReference(put);
        Assert.Equal(InvariantId.S2, Found);
        Assert.Contains("task-a put page-1 without a reference of its own to drop", _findings.Violation!.Description);
    }

    [Fact]
    public void S2_must_fire_on_a_pin_left_at_the_end_and_not_when_all_are_given_back()
    {
        var s2 = new RefcountMonitor(_world, _findings);
        s2.AtQuiescence();
        Assert.Null(_findings.Violation);
        Pin(C, P1);
        s2.AtQuiescence();
        Assert.Equal(InvariantId.S2, Found);
        Assert.Contains("task-c ended still holding a reference on page-1", _findings.Violation!.Description);
    }

    [Fact]
    public void S3_must_fire_on_a_shared_grant_beside_an_exclusive_holder_and_not_beside_a_shared_one()
    {
        var s3 = new LockMonitor(_world, _findings);
        Grant(s3, A, LockMode.Shared);
        Grant(s3, B, LockMode.Shared);
        Assert.Null(_findings.Violation);
        _world.LockReleased(new LockReleased(Dax, LockKind.IoLock, LockMode.Shared, A));
        _world.LockReleased(new LockReleased(Dax, LockKind.IoLock, LockMode.Shared, B));
        Grant(s3, A, LockMode.Exclusive);
        Assert.Null(_findings.Violation);
        Grant(s3, B, LockMode.Shared);
        Assert.Equal(InvariantId.S3, Found);
        Assert.Contains("task-b got IOLOCK of 'dax' shared while task-a holds it exclusive", _findings.Violation!.Description);
    }

    [Fact]
    public void S3_must_fire_on_an_exclusive_grant_beside_a_shared_holder()
    {
        var s3 = new LockMonitor(_world, _findings);
        Grant(s3, A, LockMode.Shared);
        Grant(s3, B, LockMode.Exclusive);
        Assert.Equal(InvariantId.S3, Found);
    }

    [Fact]
    public void S4_must_fire_on_a_PTE_left_in_the_punched_range_and_not_on_one_beside_it()
    {
        var s4 = new MappingMonitor(_world, _findings);
        _world.PteInstalled(new PteInstalled(Dax, 3, new MmId(0), new PageId(3)));
        s4.LayoutChanged(new LayoutChanged(Dax, OpKind.PunchHole, A, 1, 2, 4));
        Assert.Null(_findings.Violation);
        _world.PteInstalled(new PteInstalled(Dax, 2, new MmId(0), new PageId(2)));
        s4.LayoutChanged(new LayoutChanged(Dax, OpKind.PunchHole, A, 1, 2, 4));
        Assert.Equal(InvariantId.S4, Found);
        Assert.Contains("there is still a PTE for page 2", _findings.Violation!.Description);
    }

    [Fact]
    public void L1_must_fire_on_a_wait_for_cycle_with_its_edges_and_not_on_a_chain()
    {
        var l1 = new DeadlockMonitor(_world, _findings);
        // a holds IOLOCK; b sleeps on page 1, which c pins; c waits for a's IOLOCK: a chain.
        _world.LockAcquired(new LockAcquired(Dax, LockKind.IoLock, LockMode.Exclusive, A));
        Pin(C, P1);
        _world.SleepingOn[B.Value] = P1;
        _world.LockRequested(new LockRequested(Dax, LockKind.IoLock, LockMode.Shared, C));
        l1.CheckDeadlocks();
        Assert.Null(_findings.Violation);
        // a now sleeps on page 1 too: a → page-1 → c → IOLOCK → a.
        _world.SleepingOn[A.Value] = P1;
        l1.CheckDeadlocks();
        Assert.Equal(InvariantId.L1, Found);
        var v = _findings.Violation!;
        Assert.Equal("deadlock: task-a → task-c → task-a", v.Description);
        Assert.Equal(
        [
            new WaitForEdge("task-a", WaitReason.PagePinned, "page-1", "task-c"),
            new WaitForEdge("task-c", WaitReason.LockHeld, "IOLOCK of 'dax'", "task-a"),
        ], v.Edges);
        Assert.Equal(["task-a waits for page-1 to go idle, pinned by task-c",
            "task-c waits for IOLOCK of 'dax', held by task-a"], v.WaitFor);
    }

    [Fact]
    public void L2_must_fire_on_a_sleeper_on_an_idle_page_and_not_on_one_on_a_pinned_page()
    {
        var l2 = new LostWakeupMonitor(_world, _findings);
        Pin(C, P1);
        _world.SleepingOn[A.Value] = P1;
        l2.AtQuiescence();
        Assert.Null(_findings.Violation);
        var put = new PagePut(P1, C, 1);
        _world.PagePut(put, World.PinKey(C, P1), out _);
        l2.AtQuiescence();
        Assert.Equal(InvariantId.L2, Found);
        Assert.Equal([new WaitForEdge("task-a", WaitReason.PageIdle, "page-1", null, 1)], _findings.Violation!.Edges);
        Assert.Equal("task-a waits for page-1 (refcount 1)", _findings.Violation.WaitFor[0]);
    }

    [Fact]
    public void L3_must_fire_past_the_bound_and_not_at_it()
    {
        var l3 = new BoundedCompletionMonitor(_world, _findings, new LostWakeupMonitor(_world, _findings), 0);
        var start = new OpStarted(B, OpKind.DioRead, Dax, 0, 0);
        _world.Arrive(start);
        l3.OpStarted(start, _world.OpStarted(start));
        // Its own 1 ms of I/O, plus the 10 ms bound.
        var deadline = TimeSpan.FromMilliseconds(11).Ticks;
        Assert.Equal(deadline, l3.NextDeadline);
        l3.CheckDeadlines(deadline - 1);
        Assert.Null(_findings.Violation);
        l3.CheckDeadlines(deadline);
        Assert.Equal(InvariantId.L3, Found);
        Assert.Contains("task-b's dioRead of 'dax' has run for 11ms", _findings.Violation!.Description);
    }

    [Fact]
    public void L3_must_allow_an_fsync_its_write_back_of_every_page_of_the_file()
    {
        var l3 = new BoundedCompletionMonitor(_world, _findings, new LostWakeupMonitor(_world, _findings), 0);
        var start = new OpStarted(C, OpKind.Fsync, Dax, 0, 0);
        _world.Arrive(start);
        l3.OpStarted(start, _world.OpStarted(start));
        // 1 ms per page of a 4-page file, plus the 10 ms bound.
        Assert.Equal(TimeSpan.FromMilliseconds(14).Ticks, l3.NextDeadline);
    }
}
