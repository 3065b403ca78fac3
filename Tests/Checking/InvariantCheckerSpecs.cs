using DaxSim.Actors;
using DaxSim.Host.Checking;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Checking;

/// <summary>The monitors on hand-made event streams: each invariant caught, and clean streams left alone.</summary>
public sealed class InvariantCheckerSpecs
{
    private static readonly FileId Dax = Scenarios.Dax;
    private static readonly TaskId A = new(0), B = new(1);
    private static readonly PageId P0 = new(0), P1 = new(1);

    private long _now;
    private readonly InvariantChecker _checker;

    public InvariantCheckerSpecs()
    {
        var scenario = Scenarios.Parse("""
            [ { "name": "a", "steps": [ { "op": "truncate", "file": "dax", "size": 0 } ] },
              { "name": "b", "steps": [ { "op": "mmap", "file": "dax", "pages": "0-3" },
                                        { "op": "dioRead", "from": "src", "into": "dax", "pages": "0-3", "ioTime": "1ms" } ] } ]
            """, extra: """, "limits": { "opBound": "10ms" }""");
        _checker = new InvariantChecker(scenario, ProtocolPolicy.Mainline, () => _now, recordOps: true);
        for (var i = 0; i < 4; i++)
        {
            Feed(new BlockAllocated(new PageId(i), Dax), new ExtentMapped(Dax, i, new PageId(i)));
        }
    }

    private void Feed(params TraceEvent[] events)
    {
        foreach (var e in events)
        {
            _checker.Observe(e);
        }
    }

    private Violation Caught(InvariantId invariant)
    {
        Assert.NotNull(_checker.Violation);
        Assert.Equal(invariant, _checker.Violation!.Invariant);
        return _checker.Violation;
    }

    [Fact]
    public void S1_must_hold_back_a_block_freed_under_a_pin_whose_DMA_is_to_come_and_call_it_corruption_when_the_DMA_lands()
    {
        Feed(new PageGot(P1, B, Dax, 1, 2), new ExtentRemoved(Dax, 1, P1), new BlockFreed(P1, Dax));
        // The DMA has not come yet: nothing is hurt yet, and the run goes on.
        Assert.Null(_checker.Violation);
        Feed(new BlockAllocated(P1, Dax), new ExtentMapped(Dax, 3, P1), new DmaLanded(P1, B, Dax, 1));
        var v = Caught(InvariantId.S1);
        Assert.Equal(Damage.DataCorrupted, v.Damage);
        Assert.Contains("landed in block 1, which now belongs to 'dax' page 3", v.Description);
        Assert.Contains("earlier: 'dax' freed block 1 while page-1 has refcount 2", v.Description);
        Assert.Equal(Verdict.Safety, v.Verdict);
    }

    [Fact]
    public void S1_must_call_a_free_under_a_pin_whose_DMA_is_done_a_broken_contract_at_once()
    {
        _now = 7;
        Feed(new PageGot(P1, B, Dax, 1, 2), new DmaLanded(P1, B, Dax, 1), new ExtentRemoved(Dax, 1, P1),
            new BlockFreed(P1, Dax));
        var v = Caught(InvariantId.S1);
        Assert.Equal(Damage.PinnedBlockFreed, v.Damage);
        Assert.Equal(7, v.Time);
        Assert.Contains("task-b", v.Actors);
        Assert.Contains("page-1", v.Actors);
    }

    [Fact]
    public void S1_must_call_it_a_broken_contract_when_the_pin_goes_without_its_DMA_and_date_it_at_the_free()
    {
        _now = 5;
        Feed(new PageGot(P1, B, Dax, 1, 2), new ExtentRemoved(Dax, 1, P1), new BlockFreed(P1, Dax));
        _now = 9;
        Feed(new PagePut(P1, B, 1));
        var v = Caught(InvariantId.S1);
        Assert.Equal(Damage.PinnedBlockFreed, v.Damage);
        Assert.Equal(5, v.Time);
    }

    [Fact]
    public void A_held_back_S1_must_come_before_any_later_finding_and_at_the_end_of_the_run()
    {
        Feed(new PageGot(P1, B, Dax, 1, 2), new ExtentRemoved(Dax, 1, P1), new BlockFreed(P1, Dax));
        _checker.AtQuiescence();
        Assert.Equal(Damage.PinnedBlockFreed, Caught(InvariantId.S1).Damage);
    }

    [Fact]
    public void S1_must_catch_a_block_freed_while_a_layout_lease_held_before_the_change_took_IOLOCK_is_still_held()
    {
        Feed(new LeaseTaken(Dax, B),
            new OpStarted(A, OpKind.Truncate, Dax, 0, 0),
            new LockRequested(Dax, LockKind.IoLock, LockMode.Exclusive, A),
            new LockAcquired(Dax, LockKind.IoLock, LockMode.Exclusive, A),
            new ExtentRemoved(Dax, 2, new PageId(2)), new BlockFreed(new PageId(2), Dax));
        var v = Caught(InvariantId.S1);
        Assert.Equal(Damage.LeasedBlockFreed, v.Damage);
        Assert.Contains("task-b still holds a layout lease", v.Description);
    }

    [Fact]
    public void A_lease_taken_after_the_change_took_IOLOCK_must_not_count()
    {
        Feed(new OpStarted(A, OpKind.Truncate, Dax, 0, 0),
            new LockRequested(Dax, LockKind.IoLock, LockMode.Exclusive, A),
            new LockAcquired(Dax, LockKind.IoLock, LockMode.Exclusive, A),
            new LeaseTaken(Dax, B),
            new ExtentRemoved(Dax, 2, new PageId(2)), new BlockFreed(new PageId(2), Dax));
        Assert.Null(_checker.Violation);
    }

    [Fact]
    public void S1_must_allow_a_free_under_a_fast_path_reference_whose_recheck_then_fails()
    {
        // The fast path took its reference after the busy scan looked; the re-check sees the
        // unmap and the reference is dropped without any I/O: the free was safe.
        Feed(new PageGot(P1, B, Dax, 1, 2, Speculative: true), new ExtentRemoved(Dax, 1, P1), new BlockFreed(P1, Dax),
            new PteRechecked(Dax, 1, B, Present: false), new PagePut(P1, B, 1),
            new BlockAllocated(P1, Dax));
        Assert.Null(_checker.Violation);
    }

    [Fact]
    public void S1_must_count_a_fast_path_reference_as_a_pin_once_its_recheck_passes()
    {
        Feed(new PageGot(P1, B, Dax, 1, 2, Speculative: true), new PteRechecked(Dax, 1, B, Present: true),
            new ExtentRemoved(Dax, 1, P1), new BlockFreed(P1, Dax), new PagePut(P1, B, 1));
        Assert.Contains("task-b", Caught(InvariantId.S1).Actors);
    }

    [Fact]
    public void S1_must_catch_DMA_landing_in_a_block_that_now_belongs_elsewhere()
    {
        Feed(new ExtentRemoved(Dax, 0, P0), new ExtentMapped(Dax, 2, P0), new DmaLanded(P0, B, Dax, 0));
        Assert.Contains("now belongs to 'dax' page 2", Caught(InvariantId.S1).Description);
        Assert.Equal(Damage.DataCorrupted, _checker.Violation!.Damage);
    }

    [Fact]
    public void S1_must_catch_a_DIO_write_reading_a_block_that_now_belongs_elsewhere()
    {
        Feed(new ExtentRemoved(Dax, 0, P0), new ExtentMapped(Dax, 2, P0), new DmaLanded(P0, B, Dax, 0, FromPage: true));
        var v = Caught(InvariantId.S1);
        Assert.Contains("write, meant to read 'dax' page 0, read block 0", v.Description);
        Assert.Equal(Damage.DataCorrupted, v.Damage);
    }

    [Fact]
    public void A_block_freed_with_no_pins_must_be_fine()
    {
        Feed(new PageGot(P1, B, Dax, 1, 2), new PagePut(P1, B, 1), new ExtentRemoved(Dax, 1, P1),
            new BlockFreed(P1, Dax), new DmaLanded(P0, B, Dax, 0));
        Assert.Null(_checker.Violation);
    }

    [Fact]
    public void S2_must_catch_a_put_without_a_get()
    {
        Feed(new PageGot(P1, A, Dax, 1, 2), new PagePut(P1, B, 1));
        Caught(InvariantId.S2);
    }

    [Fact]
    public void S2_must_catch_a_pin_still_held_at_the_end()
    {
        Feed(new PageGot(P1, B, Dax, 1, 2), new TaskEnded(A, false), new TaskEnded(B, false));
        _checker.AtQuiescence();
        Assert.Contains("still holding a reference", Caught(InvariantId.S2).Description);
    }

    [Fact]
    public void S3_must_catch_an_exclusive_holder_beside_another()
    {
        Feed(new LockRequested(Dax, LockKind.MmapLock, LockMode.Shared, B),
            new LockAcquired(Dax, LockKind.MmapLock, LockMode.Shared, B),
            new LockAcquired(Dax, LockKind.MmapLock, LockMode.Exclusive, A));
        Caught(InvariantId.S3);
    }

    [Fact]
    public void S3_must_catch_a_shared_acquirer_beside_an_exclusive_holder()
    {
        Feed(new LockRequested(Dax, LockKind.IoLock, LockMode.Exclusive, A),
            new LockAcquired(Dax, LockKind.IoLock, LockMode.Exclusive, A),
            new LockAcquired(Dax, LockKind.IoLock, LockMode.Shared, B));
        var v = Caught(InvariantId.S3);
        Assert.Contains("shared while", v.Description);
        Assert.Contains("exclusive", v.Description);
    }

    [Fact]
    public void Shared_holders_together_must_be_fine()
    {
        Feed(new LockAcquired(Dax, LockKind.MmapLock, LockMode.Shared, B),
            new LockAcquired(Dax, LockKind.MmapLock, LockMode.Shared, A));
        Assert.Null(_checker.Violation);
    }

    [Fact]
    public void S4_must_catch_a_PTE_left_beyond_the_size_after_a_truncate()
    {
        Feed(new PteInstalled(Dax, 3, new MmId(B.Value), new PageId(3)), new SizeChanged(Dax, 2),
            new LayoutChanged(Dax, OpKind.Truncate, A, 2, int.MaxValue, 2));
        Assert.Contains("a PTE for page 3", Caught(InvariantId.S4).Description);
    }

    [Fact]
    public void L1_must_report_the_wait_for_cycle_of_a_deadlock()
    {
        // A (truncate) holds MMAPLOCK exclusive and sleeps on page 0, pinned by B; B waits
        // for MMAPLOCK shared to fault its next page.
        Feed(new LockRequested(Dax, LockKind.MmapLock, LockMode.Exclusive, A),
            new LockAcquired(Dax, LockKind.MmapLock, LockMode.Exclusive, A),
            new PageGot(P0, B, Dax, 0, 2),
            new WaitSleeping(P0, A, 2),
            new LockRequested(Dax, LockKind.MmapLock, LockMode.Shared, B));
        // Cycles are looked for when the system has settled (no message in flight), since
        // an unlock on its way would break a cycle that the events alone show.
        Assert.Null(_checker.Violation);
        _checker.CheckDeadlocks();
        var v = Caught(InvariantId.L1);
        Assert.Equal(Verdict.Liveness, v.Verdict);
        Assert.Contains(v.WaitFor, w => w.Contains("task-a waits for page-0 to go idle, pinned by task-b"));
        Assert.Contains(v.WaitFor, w => w.Contains("task-b waits for MMAPLOCK of 'dax', held by task-a"));
    }

    [Fact]
    public void L2_must_catch_a_sleeper_on_an_idle_page_at_quiescence()
    {
        Feed(new PageGot(P0, B, Dax, 0, 2), new WaitSleeping(P0, A, 2), new PagePut(P0, B, 1),
            new IdleNotified(P0, 1, 0), new TaskEnded(B, false));
        Assert.Null(_checker.Violation);
        _checker.AtQuiescence();
        Caught(InvariantId.L2);
    }

    [Fact]
    public void L3_must_measure_the_bound_from_when_the_blocking_pins_are_gone()
    {
        Feed(new PageGot(P0, B, Dax, 0, 2));
        Feed(new OpStarted(A, OpKind.Truncate, Dax, 0, 0));
        Assert.Null(_checker.NextDeadline); // blocked by B's pin: no deadline yet

        _now = TimeSpan.FromMilliseconds(50).Ticks;
        Feed(new PagePut(P0, B, 1));
        Assert.Equal(TimeSpan.FromMilliseconds(60).Ticks, _checker.NextDeadline);

        _checker.CheckDeadlines(TimeSpan.FromMilliseconds(59).Ticks);
        Assert.Null(_checker.Violation);
        _checker.CheckDeadlines(TimeSpan.FromMilliseconds(60).Ticks);
        var v = Caught(InvariantId.L3);
        Assert.Contains("task-a's truncate of 'dax'", v.Description);
    }

    [Fact]
    public void L3_must_not_wait_for_the_tasks_own_pins_still_there_from_its_previous_operation()
    {
        // A page takes PutPage after the task has moved on: its old pin is still there.
        Feed(new PageGot(P0, A, Dax, 0, 2));
        Feed(new OpStarted(A, OpKind.Truncate, Dax, 0, 0));
        Assert.Equal(TimeSpan.FromMilliseconds(10).Ticks, _checker.NextDeadline);
    }

    [Fact]
    public void L3_must_count_from_when_the_other_tasks_pins_are_gone_even_behind_its_own()
    {
        Feed(new PageGot(P0, A, Dax, 0, 2), new PageGot(P1, B, Dax, 1, 2));
        Feed(new OpStarted(A, OpKind.Truncate, Dax, 0, 0));
        Assert.Null(_checker.NextDeadline);

        _now = TimeSpan.FromMilliseconds(50).Ticks;
        Feed(new PagePut(P1, B, 1)); // A's own pin on page 0 is still first in the file's line
        Assert.Equal(TimeSpan.FromMilliseconds(60).Ticks, _checker.NextDeadline);
    }

    [Fact]
    public void L3_must_not_wait_for_pins_taken_after_the_operation_started()
    {
        Feed(new OpStarted(A, OpKind.Truncate, Dax, 0, 0), new PageGot(P0, B, Dax, 0, 2));
        Assert.Equal(TimeSpan.FromMilliseconds(10).Ticks, _checker.NextDeadline);
    }

    [Fact]
    public void L3_must_wait_for_the_pins_of_an_operation_that_started_before_it_even_taken_after_its_start()
    {
        // B's O_DIRECT read started first; its gup takes the reference after the truncate has
        // started (after the fault, outside MMAPLOCK): work that came first, not starvation.
        Feed(new OpStarted(B, OpKind.DioRead, Dax, 1, 0), new OpStarted(A, OpKind.Truncate, Dax, 0, 0));
        Feed(new PageGot(P0, B, Dax, 0, 2));
        var dioDeadline = TimeSpan.FromMilliseconds(11).Ticks; // B's own: 1 ms of I/O and the bound
        Assert.Equal(dioDeadline, _checker.NextDeadline); // A has none: B is ahead of it

        _now = TimeSpan.FromMilliseconds(5).Ticks;
        Feed(new OpCompleted(B, OpKind.DioRead, Errno.Ok));
        Assert.Null(_checker.NextDeadline); // B's pin, which came with it, is still ahead

        _now = TimeSpan.FromMilliseconds(50).Ticks;
        Feed(new PagePut(P0, B, 1));
        Assert.Equal(TimeSpan.FromMilliseconds(60).Ticks, _checker.NextDeadline);
        _checker.CheckDeadlines(TimeSpan.FromMilliseconds(59).Ticks);
        Assert.Null(_checker.Violation);
    }

    [Fact]
    public void L3_must_stop_waiting_for_an_operation_that_started_before_it_once_its_task_is_lost()
    {
        Feed(new OpStarted(B, OpKind.DioRead, Dax, 1, 0), new OpStarted(A, OpKind.Truncate, Dax, 0, 0));
        _now = TimeSpan.FromMilliseconds(20).Ticks;
        Feed(new TaskLost(B, 1));
        Assert.Equal(TimeSpan.FromMilliseconds(30).Ticks, _checker.NextDeadline);
    }

    [Fact]
    public void L3_must_measure_the_bound_from_when_the_lock_holders_and_waiters_ahead_are_gone()
    {
        Feed(new LockRequested(Dax, LockKind.IoLock, LockMode.Shared, B),
            new LockAcquired(Dax, LockKind.IoLock, LockMode.Shared, B),
            new LockRequested(Dax, LockKind.MmapLock, LockMode.Exclusive, B));
        Feed(new OpStarted(A, OpKind.Truncate, Dax, 0, 0));
        Assert.Null(_checker.NextDeadline);

        _now = TimeSpan.FromMilliseconds(20).Ticks;
        Feed(new LockReleased(Dax, LockKind.IoLock, LockMode.Shared, B));
        Assert.Null(_checker.NextDeadline); // still queued ahead on MMAPLOCK

        _now = TimeSpan.FromMilliseconds(30).Ticks;
        Feed(new LockWithdrawn(Dax, LockKind.MmapLock, B));
        Assert.Equal(TimeSpan.FromMilliseconds(40).Ticks, _checker.NextDeadline);
    }

    [Fact]
    public void L3_must_allow_an_operation_its_own_IO_time()
    {
        Feed(new OpStarted(B, OpKind.DioRead, Dax, 1, 0));
        Assert.Equal(TimeSpan.FromMilliseconds(11).Ticks, _checker.NextDeadline);
    }

    [Fact]
    public void Completed_operations_must_be_recorded_with_their_times_and_result()
    {
        _now = 100;
        Feed(new OpStarted(A, OpKind.Truncate, Dax, 0, 0));
        _now = 250;
        Feed(new OpCompleted(A, OpKind.Truncate, Errno.EINTR));
        var op = Assert.Single(_checker.CompletedOps);
        Assert.Equal(new OpRecord("a", "truncate", "dax", 0, 0, 100, 250, "EINTR"), op);
    }
}

/// <summary>The monitors under the 6.15 era: idle at 0, PTE references, the mapping process as what a waiter waits for.</summary>
public sealed class InvariantChecker615Specs
{
    private static readonly FileId Dax = Scenarios.Dax;
    private static readonly TaskId A = new(0), B = new(1);
    private static readonly PageId P0 = new(0);

    private readonly InvariantChecker _checker;

    public InvariantChecker615Specs()
    {
        var scenario = Scenarios.Parse("""
            [ { "name": "a", "steps": [ { "op": "truncate", "file": "dax", "size": 0 } ] },
              { "name": "b", "steps": [ { "op": "mmap", "file": "dax", "pages": "0-3" },
                                        { "op": "touch", "file": "dax", "pages": "0" } ] } ]
            """);
        _checker = new InvariantChecker(scenario, ProtocolPolicy.For(Variant.Linux615), () => 0, recordOps: false);
        _checker.Observe(new BlockAllocated(P0, Dax));
        _checker.Observe(new ExtentMapped(Dax, 0, P0));
    }

    [Fact]
    public void A_page_is_idle_at_0_and_a_PTE_reference_counts_in_the_refcount()
    {
        _checker.Observe(new PteInstalled(Dax, 0, new MmId(1), P0));
        _checker.Observe(new PageMapped(P0, Dax, 0, 1, 1));
        _checker.Observe(new WaitSleeping(P0, A, 1));
        _checker.CheckDeadlocks();
        _checker.AtQuiescence();
        // Not a lost wakeup (the page is not idle): the truncate waits for the mapping's process.
        var v = _checker.Violation;
        Assert.NotNull(v);
        Assert.Equal(InvariantId.L1, v!.Invariant);
        Assert.Contains(v.WaitFor, w => w.Contains("mapped by task-b's process"));
    }

    [Fact]
    public void A_sleeper_on_a_page_at_refcount_0_is_a_lost_wakeup()
    {
        _checker.Observe(new PteInstalled(Dax, 0, new MmId(1), P0));
        _checker.Observe(new PageMapped(P0, Dax, 0, 1, 1));
        _checker.Observe(new WaitSleeping(P0, A, 1));
        _checker.Observe(new PteZapped(Dax, 0, new MmId(1), P0));
        _checker.Observe(new PageUnmapped(P0, 0, 0));
        _checker.AtQuiescence();
        Assert.Equal(InvariantId.L2, _checker.Violation?.Invariant);
        Assert.Contains("refcount 0", _checker.Violation!.Description);
    }

    [Fact]
    public void A_refcount_below_0_is_S2()
    {
        _checker.Observe(new PageUnmapped(P0, -1, -1));
        Assert.Equal(InvariantId.S2, _checker.Violation?.Invariant);
        Assert.Contains("below the idle count 0", _checker.Violation!.Description);
    }
}
