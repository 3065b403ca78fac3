using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using DaxSim.Actors;
using DaxSim.Actors.Task;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;
using DaxSim.Tests.Support;
using Xunit;
using Lock = DaxSim.Protocol.Messages.Lock;

namespace DaxSim.Tests.Actors;

/// <summary>
/// More of the task actor against probes: SA_RESTART, failslab in the lease break, the 6.15
/// break and the file systems that call it, the completion side of direct I/O, fsync, touch
/// and munmap.
/// </summary>
public sealed class TaskActorFlowSpecs : TaskActorProbeSpecs
{
    /// <summary>
    /// A message as a probe took it, logged into the trace sink by the probe's autopilot. Probes
    /// run on the calling thread, so a delivery is logged in the sender's turn: the sink then
    /// holds one order of the task's sends and the task's own events.
    /// </summary>
    private sealed record Delivered(string To, object Message) : TraceEvent;

    private TestProbe Root => _dir.Probe("root");

    /// <summary>Log every message the probe takes (see <see cref="Delivered"/>); <paramref name="also"/> runs in the sender's turn too.</summary>
    private void LogDeliveries(string probe, Action<object>? also = null) =>
        _dir.Probe(probe).SetAutoPilot(new DelegateAutoPilot((_, message) =>
        {
            _sink.Emit(new Delivered(probe, message));
            also?.Invoke(message);
            return AutoPilot.KeepRunning;
        }));

    private int IndexOf(Func<TraceEvent, bool> match)
    {
        var events = _sink.Events;
        for (var i = 0; i < events.Count; i++)
        {
            if (match(events[i]))
            {
                return i;
            }
        }
        throw new Xunit.Sdk.XunitException("no such event in: " + string.Join(", ", events));
    }

    private int DeliveredAt<T>(string to) => IndexOf(e => e is Delivered d && d.To == to && d.Message is T);

    private void MapFile()
    {
        var map = MappingProbe.ExpectMsg<MapFile>();
        MappingProbe.Reply(new MapFileAck(Dax, map.Seq));
    }

    // --- the layout break -------------------------------------------------------------------

    private void Locked()
    {
        Grant(Dax, LockKind.IoLock, LockMode.Exclusive);
        Grant(Dax, LockKind.MmapLock, LockMode.Exclusive);
    }

    private FindBusyPage Scan(int? busyPage)
    {
        var scan = MappingProbe.ExpectMsg<FindBusyPage>();
        MappingProbe.Reply(busyPage is { } p
            ? new BusyPageFound(Dax, new PageId(p), 0, 2, scan.Seq)
            : new NoBusyPage(Dax, scan.Seq));
        return scan;
    }

    private void NoLease()
    {
        var brk = Inode(Dax).ExpectMsg<BreakLease>(b => !b.Blocking);
        Inode(Dax).Reply(new LeaseBreakResult(Dax, Errno.Ok, brk.Seq));
    }

    private void ChangeAndUnlock()
    {
        var change = Inode(Dax).ExpectMsg<ChangeExtents>(c => c.Op == OpKind.Truncate && c.NewSize == 0);
        Inode(Dax).Reply(new ExtentsChanged(Dax, Errno.Ok, 0, change.Seq));
        ExpectUnlock(Dax, LockKind.MmapLock);
        ExpectUnlock(Dax, LockKind.IoLock);
    }

    private void DeletesEntries(int first = 0, int last = int.MaxValue)
    {
        var delete = MappingProbe.ExpectMsg<DeleteEntries>(d => d.First == first && d.Last == last);
        Inode(Dax).ExpectNothing(); // nothing else until the entries are gone
        MappingProbe.Reply(new EntriesDeleted(Dax, delete.Seq));
    }

    [Fact]
    public void A_signal_with_SA_RESTART_must_end_the_wait_release_the_locks_and_start_the_truncate_again()
    {
        var task = Start(OneTruncate);
        Locked();
        Scan(3);
        Sleeps(3);
        ExpectUnlock(Dax, LockKind.MmapLock);

        task.Tell(new Signal(T, Restart: true));
        Page(3).ExpectMsg<CancelWait>();
        Grant(Dax, LockKind.MmapLock, LockMode.Exclusive);
        Sleeps(3); // still busy, the signal still pending: -ERESTARTSYS
        Page(3).ExpectMsg<CancelWait>();
        ExpectUnlock(Dax, LockKind.MmapLock);
        ExpectUnlock(Dax, LockKind.IoLock);

        // The handler has SA_RESTART: the truncate starts again from its beginning.
        Locked();
        Assert.Contains(new OpRestarted(T, OpKind.Truncate), _sink.Events);
        Assert.DoesNotContain(_sink.Events, e => e is OpCompleted);
        // The signal was delivered before the restart: this wait sleeps.
        Scan(3);
        var wait = Sleeps(3);
        ExpectUnlock(Dax, LockKind.MmapLock);
        Page(3).ExpectNothing();
        Page(3).Send(task, new PageIdle(new PageId(3), wait.Seq));
        Grant(Dax, LockKind.MmapLock, LockMode.Exclusive);
        IdleAtOnce(3);
        Scan(null);
        NoLease();
        ChangeAndUnlock();
        Root.ExpectMsg<TaskFinished>(f => !f.Killed);
        Assert.Equal([new OpCompleted(T, OpKind.Truncate, Errno.Ok)], _sink.Of<OpCompleted>());
        Assert.Single(_sink.Of<OpRestarted>());
    }

    [Fact]
    public void A_leased_file_must_make_the_truncate_drop_both_locks_and_wait_for_the_blocking_lease_break()
    {
        var task = Start(OneTruncate);
        Locked();
        Scan(null);
        var brk = Inode(Dax).ExpectMsg<BreakLease>(b => !b.Blocking);
        Inode(Dax).Reply(new LeaseBreakResult(Dax, Errno.EWOULDBLOCK, brk.Seq));
        ExpectUnlock(Dax, LockKind.MmapLock);
        ExpectUnlock(Dax, LockKind.IoLock);
        var blocking = Inode(Dax).ExpectMsg<BreakLease>(b => b.Blocking);

        // break_layout(inode, true) sleeps until the holders are gone, however long that
        // takes: no lock is taken again, nothing is scanned or changed before the answer.
        this.Advance(TimeSpan.FromMinutes(1));
        Inode(Dax).ExpectNothing();
        MappingProbe.ExpectNothing();
        Assert.Empty(_sink.Of<OpCompleted>());

        Inode(Dax).Send(task, new LeaseBreakResult(Dax, Errno.Ok, blocking.Seq));
        Assert.Contains(new LeaseBreakDone(Dax, T, Errno.Ok), _sink.Events);
        // The locks again and xfs_break_leased_layouts' own loop: the lease break finds no
        // lease now; then, retry set, xfs_break_layouts' loop scans and breaks once more.
        Locked();
        NoLease();
        Scan(null);
        NoLease();
        ChangeAndUnlock();
        Root.ExpectMsg<TaskFinished>();
        Assert.Equal([new OpCompleted(T, OpKind.Truncate, Errno.Ok)], _sink.Of<OpCompleted>());
    }

    [Fact]
    public void A_failed_allocation_must_fail_the_truncate_with_ENOMEM_before_any_lease_break_is_sent()
    {
        var task = Start(OneTruncate);
        task.Tell(new FailAllocation(T));
        Locked();
        Scan(null);
        // lease_alloc fails before __break_lease looks at a lease: no BreakLease, no ChangeExtents.
        ExpectUnlock(Dax, LockKind.MmapLock);
        ExpectUnlock(Dax, LockKind.IoLock);
        Root.ExpectMsg<TaskFinished>();
        Inode(Dax).ExpectNothing();
        Assert.Contains(new OpCompleted(T, OpKind.Truncate, Errno.ENOMEM), _sink.Events);
    }

    [Fact]
    public void The_lease_break_drops_error_variant_must_lose_the_ENOMEM_and_change_the_extents()
    {
        var task = Start(OneTruncate, Variant.LeaseBreakDropsError);
        task.Tell(new FailAllocation(T));
        Locked();
        Scan(null);
        ChangeAndUnlock(); // the next message to the inode is the extent change, no BreakLease
        Root.ExpectMsg<TaskFinished>();
        Assert.Contains(new OpCompleted(T, OpKind.Truncate, Errno.Ok), _sink.Events);
    }

    [Fact]
    public void The_6_15_break_must_delete_the_entries_after_a_scan_finds_no_busy_page_and_before_the_lease_break()
    {
        Start(OneTruncate, Variant.Linux615);
        Locked();
        Scan(null);
        DeletesEntries();
        NoLease();
        ChangeAndUnlock();
        Root.ExpectMsg<TaskFinished>();
        Assert.Contains(new OpCompleted(T, OpKind.Truncate, Errno.Ok), _sink.Events);
    }

    [Fact]
    public void The_6_15_break_must_wait_with_only_MMAPLOCK_dropped_and_then_scan_again_before_deleting()
    {
        var task = Start(OneTruncate, Variant.Linux615);
        Locked();
        Scan(3);
        var wait = Sleeps(3);
        ExpectUnlock(Dax, LockKind.MmapLock);
        Inode(Dax).ExpectNothing(); // IOLOCK stays held
        MappingProbe.ExpectNothing(); // no DeleteEntries while a page is busy

        Page(3).Send(task, new PageIdle(new PageId(3), wait.Seq));
        Grant(Dax, LockKind.MmapLock, LockMode.Exclusive);
        IdleAtOnce(3);
        // dax_break_layout loops on its own until no page is busy: the scan again, no retry flag.
        Scan(null);
        DeletesEntries();
        NoLease();
        ChangeAndUnlock();
        Root.ExpectMsg<TaskFinished>();
        Assert.Contains(new WaitEnded(new PageId(3), T, WaitEnd.Woken), _sink.Events);
        Assert.Contains(new OpCompleted(T, OpKind.Truncate, Errno.Ok), _sink.Events);
    }

    [Fact]
    public void The_6_15_break_must_scan_again_even_when_the_busy_page_is_already_idle_when_it_waits()
    {
        Start(OneTruncate, Variant.Linux615);
        Locked();
        Scan(3);
        IdleAtOnce(3);
        Scan(null);
        DeletesEntries();
        NoLease();
        ChangeAndUnlock();
    }

    [Theory]
    [InlineData("ext4-6.15")]
    [InlineData("virtiofs-6.15")]
    public void Ext4_and_virtiofs_must_break_no_lease(string variant)
    {
        Start(OneTruncate, Variants.Parse(variant));
        Locked();
        Scan(null);
        DeletesEntries();
        ChangeAndUnlock(); // the next message to the inode is the extent change: no BreakLease
        Root.ExpectMsg<TaskFinished>();
        Inode(Dax).ExpectNothing();
        Assert.Contains(new OpCompleted(T, OpKind.Truncate, Errno.Ok), _sink.Events);
    }

    [Fact]
    public void The_fuse_first_page_only_slip_must_scan_and_delete_page_0_only()
    {
        Start(OneTruncate, Variant.FuseBreaksFirstPageOnly);
        Locked();
        var scan = Scan(null);
        Assert.Equal((0, 0), (scan.First, scan.Last));
        DeletesEntries(0, 0);
        ChangeAndUnlock();
    }

    // --- direct I/O completion ------------------------------------------------------------------

    [Fact]
    public void An_async_DIO_must_return_before_its_DMA_and_the_thread_must_exit_only_after_the_put()
    {
        LogDeliveries("page-4");
        LogDeliveries("inode-1");
        LogDeliveries("mapping-0");
        Start("""
            [ { "op": "mmap", "file": "dax", "pages": "0" },
              { "op": "dioRead", "from": "src", "into": "dax", "pages": "0", "ioTime": "200ms", "async": true } ]
            """);
        MapFile();
        Grant(Src, LockKind.IoLock, LockMode.Shared);
        PteRead(0, null);
        SlowPath(0, 4);
        ExpectUnlock(Src, LockKind.IoLock);
        Page(4).ExpectNothing();
        this.Advance(TimeSpan.FromMilliseconds(200));
        Page(4).ExpectMsg<DmaWrite>(d => d.File == Dax && d.Index == 0);
        Page(4).ExpectMsg<PutPage>();
        MappingProbe.ExpectMsg<ThreadExit>();
        Root.ExpectMsg<TaskFinished>(f => !f.Killed);

        // The order of the task's sends and events (all in its own turns, so deterministic).
        var dma = DeliveredAt<DmaWrite>("page-4");
        Assert.True(DeliveredAt<Unlock>("inode-1") < dma, "IOLOCK must be released before the DMA");
        Assert.True(IndexOf(e => e is OpCompleted { Op: OpKind.DioRead, Result: Errno.Ok }) < dma,
            "the asynchronous call must return before its DMA");
        // The program was over when the call returned; the thread exits only once the I/O has put its page.
        var put = DeliveredAt<PutPage>("page-4");
        Assert.True(put < DeliveredAt<ThreadExit>("mapping-0"));
        Assert.True(put < IndexOf(e => e is TaskEnded));
    }

    [Fact]
    public void A_sync_DIO_must_land_its_DMA_one_page_per_turn_and_wake_the_caller_after_the_last()
    {
        IActorRef? task = null;
        // In the turn that sends page 0 its DMA, a signal is queued for the task: if page 1's DMA
        // waits for a later turn, the signal is taken before it.
        LogDeliveries("page-4", m =>
        {
            if (m is DmaWrite)
            {
                task!.Tell(new Signal(T));
            }
        });
        LogDeliveries("page-7");
        LogDeliveries("inode-1");
        task = Start("""
            [ { "op": "mmap", "file": "dax", "pages": "0-1" },
              { "op": "dioRead", "from": "src", "into": "dax", "pages": "0-1", "ioTime": "1ms" } ]
            """);
        MapFile();
        Grant(Src, LockKind.IoLock, LockMode.Shared);
        PteRead(0, null);
        SlowPath(0, 4);
        Follow(1, null);
        FaultIn(1, 7);
        ExpectUnlock(Dax, LockKind.MmapLock);
        Follow(1, 7);
        AckGetPage(7);
        MappingProbe.ExpectMsg<FollowDone>();
        this.Advance(TimeSpan.FromMilliseconds(1));

        Page(4).ExpectMsg<DmaWrite>(d => d.Index == 0);
        Page(7).ExpectMsg<DmaWrite>(d => d.Index == 1);
        Page(4).ExpectMsg<PutPage>();
        Page(7).ExpectMsg<PutPage>();
        ExpectUnlock(Src, LockKind.IoLock);
        Root.ExpectMsg<TaskFinished>();

        var dma0 = DeliveredAt<DmaWrite>("page-4");
        var dma1 = DeliveredAt<DmaWrite>("page-7");
        var unlock = DeliveredAt<Unlock>("inode-1");
        Assert.True(dma1 < unlock, "the caller must be woken only after the last DMA");
        // The signal queued in page 0's DMA turn must be taken before page 1's DMA.
        var signal = _sink.Events.ToList().FindIndex(e => e is SignalReceived);
        Assert.True(dma0 < signal && signal < dma1, "page 1's DMA must come in a later turn than page 0's");
        Assert.True(dma1 < DeliveredAt<PutPage>("page-4"));
        Assert.True(DeliveredAt<PutPage>("page-4") < DeliveredAt<PutPage>("page-7"));
        // The signal has no handler effect on a DIO read: it returns its result.
        Assert.Contains(new OpCompleted(T, OpKind.DioRead, Errno.Ok), _sink.Events);
    }

    // --- fsync, touch, munmap -------------------------------------------------------------------

    [Fact]
    public void Fsync_must_write_back_one_dirty_entry_at_a_time_and_return_when_none_is_left()
    {
        Start("""[ { "op": "fsync", "file": "dax", "ioTime": "300ms" } ]""");
        var first = MappingProbe.ExpectMsg<LockDirtyEntry>(l => l.From == 0 && l.File == Dax);
        MappingProbe.Reply(new EntryLocked(Dax, 2, first.Seq));
        // The flush takes ioTime, with the entry locked.
        MappingProbe.ExpectNothing();
        this.Advance(TimeSpan.FromMilliseconds(299));
        MappingProbe.ExpectNothing();
        this.Advance(TimeSpan.FromMilliseconds(1));
        MappingProbe.ExpectMsg<UnlockEntry>(u => u.Index == 2 && u.Task == T);
        var next = MappingProbe.ExpectMsg<LockDirtyEntry>(l => l.From == 3);
        Assert.Empty(_sink.Of<OpCompleted>());
        MappingProbe.Reply(new NoDirtyEntry(Dax, next.Seq));
        MappingProbe.ExpectMsg<ThreadExit>();
        Root.ExpectMsg<TaskFinished>();
        Assert.Contains(new OpCompleted(T, OpKind.Fsync, Errno.Ok), _sink.Events);
        Inode(Dax).ExpectNothing(); // writeback takes no inode lock
    }

    [Fact]
    public void Touch_must_not_fault_a_page_whose_PTE_is_present_and_must_fail_with_EFAULT_outside_the_mapping()
    {
        Start("""
            [ { "op": "mmap", "file": "dax", "pages": "0-1" },
              { "op": "touch", "file": "dax", "pages": "0-1" } ]
            """);
        MapFile();
        PteRead(0, 5);
        PteRead(1, null, mapped: false);
        MappingProbe.ExpectMsg<ThreadExit>();
        Root.ExpectMsg<TaskFinished>();
        Inode(Dax).ExpectNothing(); // no MMAPLOCK: no fault
        Assert.Contains(new OpCompleted(T, OpKind.Touch, Errno.EFAULT), _sink.Events);
    }

    [Fact]
    public void Touch_must_fault_a_page_without_a_PTE()
    {
        Start("""
            [ { "op": "mmap", "file": "dax", "pages": "0" },
              { "op": "touch", "file": "dax", "pages": "0" } ]
            """);
        MapFile();
        PteRead(0, null);
        FaultIn(0, 5);
        ExpectUnlock(Dax, LockKind.MmapLock);
        Root.ExpectMsg<TaskFinished>();
        Assert.Contains(new OpCompleted(T, OpKind.Touch, Errno.Ok), _sink.Events);
    }

    [Fact]
    public void Munmap_must_fail_with_EINVAL_when_there_was_no_mapping()
    {
        Start("""[ { "op": "munmap", "file": "dax" }, { "op": "munmap", "file": "dax" } ]""");
        var first = MappingProbe.ExpectMsg<UnmapFile>();
        MappingProbe.Reply(new UnmapFileAck(Dax, Mapped: true, first.Seq));
        var second = MappingProbe.ExpectMsg<UnmapFile>();
        MappingProbe.Reply(new UnmapFileAck(Dax, Mapped: false, second.Seq));
        Root.ExpectMsg<TaskFinished>();
        Assert.Equal(
            [new OpCompleted(T, OpKind.Munmap, Errno.Ok), new OpCompleted(T, OpKind.Munmap, Errno.EINVAL)],
            _sink.Of<OpCompleted>());
    }
}
