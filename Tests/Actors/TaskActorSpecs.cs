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
using Kill = DaxSim.Protocol.Messages.Kill;
using Lock = DaxSim.Protocol.Messages.Lock;

namespace DaxSim.Tests.Actors;

/// <summary>
/// The task actor against probes playing its inode, mapping and pages: the message-level
/// behaviour of get_user_pages and of xfs_break_layouts in each protocol version.
/// </summary>
public sealed class TaskActorSpecs : TaskActorProbeSpecs
{
    // --- get_user_pages -------------------------------------------------------------------------

    private const string MapTouchRead = """
        [ { "op": "mmap", "file": "dax", "pages": "0" },
          { "op": "touch", "file": "dax", "pages": "0" },
          { "op": "dioRead", "from": "src", "into": "dax", "pages": "0", "ioTime": "1us" } ]
        """;

    private void MapAndTouchPage0At(int page)
    {
        var map = MappingProbe.ExpectMsg<MapFile>();
        MappingProbe.Reply(new MapFileAck(Dax, map.Seq));
        PteRead(0, null);
        FaultIn(0, page);
        ExpectUnlock(Dax, LockKind.MmapLock);
        Grant(Src, LockKind.IoLock, LockMode.Shared);
    }

    [Fact]
    public void The_fast_path_must_recheck_the_PTE_and_take_the_slow_path_when_it_is_gone()
    {
        Start(MapTouchRead);
        MapAndTouchPage0At(5);

        PteRead(0, 5);
        var speculative = Page(5).ExpectMsg<GetPage>(g => g.Speculative);
        Page(5).Reply(new GetPageAck(new PageId(5), 2, speculative.Seq));
        var recheck = MappingProbe.ExpectMsg<RecheckPte>(r => r.Index == 0 && r.Page == new PageId(5));
        MappingProbe.Reply(new PteStatus(Dax, 0, Present: false, recheck.Seq));
        Page(5).ExpectMsg<PutPage>();

        SlowPath(0, 6);
        Page(6).ExpectNothing(); // the DMA waits for the device
        this.Advance(TimeSpan.FromMicroseconds(1));
        Page(6).ExpectMsg<DmaWrite>(d => d.File == Dax && d.Index == 0);
        Page(6).ExpectMsg<PutPage>();
        ExpectUnlock(Src, LockKind.IoLock);
        _dir.Probe("root").ExpectMsg<TaskFinished>(f => !f.Killed);
        Page(5).ExpectNothing();
    }

    [Fact]
    public void The_fast_path_must_keep_the_reference_when_the_recheck_finds_the_PTE()
    {
        Start(MapTouchRead);
        MapAndTouchPage0At(5);
        PteRead(0, 5);
        AckGetPage(5);
        var recheck = MappingProbe.ExpectMsg<RecheckPte>();
        MappingProbe.Reply(new PteStatus(Dax, 0, Present: true, recheck.Seq));
        this.Advance(TimeSpan.FromMicroseconds(1));
        Page(5).ExpectMsg<DmaWrite>();
        Page(5).ExpectMsg<PutPage>();
        ExpectUnlock(Src, LockKind.IoLock);
        Inode(Dax).ExpectNothing();
    }

    [Fact]
    public void Without_the_recheck_the_fast_path_must_trust_a_stale_PTE()
    {
        Start(MapTouchRead, Variant.GupFastNoRecheck);
        MapAndTouchPage0At(5);
        PteRead(0, 5);
        var get = Page(5).ExpectMsg<GetPage>(g => !g.Speculative);
        Page(5).Reply(new GetPageAck(new PageId(5), 2, get.Seq));
        this.Advance(TimeSpan.FromMicroseconds(1));
        Page(5).ExpectMsg<DmaWrite>();
        MappingProbe.ExpectMsg<ThreadExit>(); // no RecheckPte before it
    }

    [Fact]
    public void A_DIO_must_pin_every_page_before_its_IO_and_put_them_after()
    {
        Start("""
            [ { "op": "mmap", "file": "dax", "pages": "0-1" },
              { "op": "dioRead", "from": "src", "into": "dax", "pages": "0-1", "ioTime": "1us" } ]
            """);
        var map = MappingProbe.ExpectMsg<MapFile>();
        MappingProbe.Reply(new MapFileAck(Dax, map.Seq));
        Grant(Src, LockKind.IoLock, LockMode.Shared);
        // The fast walk stops at the first page without a PTE; the slow path takes it from there.
        PteRead(0, null);
        SlowPath(0, 4);
        Follow(1, null);
        FaultIn(1, 7);
        Page(4).ExpectNothing(); // page 0 stays pinned while page 1 faults
        ExpectUnlock(Dax, LockKind.MmapLock);
        Follow(1, 7);
        AckGetPage(7);
        MappingProbe.ExpectMsg<FollowDone>();
        this.Advance(TimeSpan.FromMicroseconds(1));
        Page(4).ExpectMsg<DmaWrite>(d => d.Index == 0);
        Page(7).ExpectMsg<DmaWrite>(d => d.Index == 1);
        Page(4).ExpectMsg<PutPage>();
        Page(7).ExpectMsg<PutPage>();
    }

    // --- xfs_break_layouts -----------------------------------------------------------------------

    private void LockedAndBusy(int page)
    {
        Grant(Dax, LockKind.IoLock, LockMode.Exclusive);
        Grant(Dax, LockKind.MmapLock, LockMode.Exclusive);
        var scan = MappingProbe.ExpectMsg<FindBusyPage>();
        MappingProbe.Reply(new BusyPageFound(Dax, new PageId(page), 0, 2, scan.Seq));
    }

    private void NoLeasesThenChange(Errno result = Errno.Ok)
    {
        var brk = Inode(Dax).ExpectMsg<BreakLease>(b => !b.Blocking);
        Inode(Dax).Reply(new LeaseBreakResult(Dax, Errno.Ok, brk.Seq));
        var change = Inode(Dax).ExpectMsg<ChangeExtents>(c => c.Op == OpKind.Truncate && c.NewSize == 0);
        Inode(Dax).Reply(new ExtentsChanged(Dax, result, 0, change.Seq));
        ExpectUnlock(Dax, LockKind.MmapLock);
        ExpectUnlock(Dax, LockKind.IoLock);
    }

    [Fact]
    public void Mainline_truncate_must_drop_only_MMAPLOCK_while_it_waits_and_scan_again_after()
    {
        var task = Start(OneTruncate);
        LockedAndBusy(3);
        var wait = Sleeps(3);
        ExpectUnlock(Dax, LockKind.MmapLock);
        Inode(Dax).ExpectNothing(); // IOLOCK stays held

        Page(3).Send(task, new PageIdle(new PageId(3), wait.Seq));
        Grant(Dax, LockKind.MmapLock, LockMode.Exclusive);
        IdleAtOnce(3);
        var rescan = MappingProbe.ExpectMsg<FindBusyPage>();
        MappingProbe.Reply(new NoBusyPage(Dax, rescan.Seq));
        NoLeasesThenChange();
        _dir.Probe("root").ExpectMsg<TaskFinished>();
        Assert.Contains(new WaitEnded(new PageId(3), T, WaitEnd.Woken), _sink.Events);
    }

    [Fact]
    public void Seed_v7_truncate_must_drop_and_retake_IOLOCK_and_MMAPLOCK_while_it_waits()
    {
        var task = Start(OneTruncate, Variant.SeedV7);
        LockedAndBusy(3);
        var wait = Sleeps(3);
        ExpectUnlock(Dax, LockKind.MmapLock);
        ExpectUnlock(Dax, LockKind.IoLock);

        Page(3).Send(task, new PageIdle(new PageId(3), wait.Seq));
        Grant(Dax, LockKind.IoLock, LockMode.Exclusive);
        Grant(Dax, LockKind.MmapLock, LockMode.Exclusive);
        IdleAtOnce(3);
        // It slept, so did_unlock is set: scan again.
        var rescan = MappingProbe.ExpectMsg<FindBusyPage>();
        MappingProbe.Reply(new NoBusyPage(Dax, rescan.Seq));
        NoLeasesThenChange();
    }

    [Fact]
    public void Seed_v7_must_not_scan_again_when_the_busy_page_is_already_idle_when_it_waits()
    {
        Start(OneTruncate, Variant.SeedV7);
        LockedAndBusy(3);
        IdleAtOnce(3);
        // did_unlock stayed false: straight on to the lease break and the extent change,
        // without looking at the other pages again.
        NoLeasesThenChange();
        MappingProbe.ExpectMsg<ThreadExit>();
        MappingProbe.ExpectNothing();
    }

    [Fact]
    public void Mainline_must_scan_again_after_any_busy_page_even_one_already_idle()
    {
        Start(OneTruncate);
        LockedAndBusy(3);
        IdleAtOnce(3);
        var rescan = MappingProbe.ExpectMsg<FindBusyPage>();
        MappingProbe.Reply(new NoBusyPage(Dax, rescan.Seq));
        NoLeasesThenChange();
    }

    [Fact]
    public void Hold_mmaplock_must_wait_without_dropping_any_lock()
    {
        Start(OneTruncate, Variant.HoldMmaplock);
        LockedAndBusy(3);
        Sleeps(3);
        Inode(Dax).ExpectNothing();
    }

    [Fact]
    public void A_signal_must_end_the_wait_with_EINTR_release_the_locks_and_free_nothing()
    {
        var task = Start(OneTruncate);
        LockedAndBusy(3);
        Sleeps(3);
        ExpectUnlock(Dax, LockKind.MmapLock);

        task.Tell(new Signal(T));
        Page(3).ExpectMsg<CancelWait>();
        Grant(Dax, LockKind.MmapLock, LockMode.Exclusive);
        Sleeps(3); // still busy, and the signal is pending: EINTR
        Page(3).ExpectMsg<CancelWait>();
        ExpectUnlock(Dax, LockKind.MmapLock);
        ExpectUnlock(Dax, LockKind.IoLock);
        _dir.Probe("root").ExpectMsg<TaskFinished>();
        Inode(Dax).ExpectNothing();
        Assert.Contains(new OpCompleted(T, OpKind.Truncate, Errno.EINTR), _sink.Events);
    }

    [Fact]
    public void A_kill_between_the_pages_of_get_user_pages_must_give_back_the_pins_taken_so_far()
    {
        var task = Start("""
            [ { "op": "mmap", "file": "dax", "pages": "0-1" },
              { "op": "dioRead", "from": "src", "into": "dax", "pages": "0-1", "ioTime": "10s" } ]
            """);
        var map = MappingProbe.ExpectMsg<MapFile>();
        MappingProbe.Reply(new MapFileAck(Dax, map.Seq));
        Grant(Src, LockKind.IoLock, LockMode.Shared);
        PteRead(0, null);
        Follow(0, null);
        FaultIn(0, 4);
        ExpectUnlock(Dax, LockKind.MmapLock);
        Follow(0, 4);
        // The kill comes while page 0's reference is being taken (no killable point there): it
        // takes effect at __get_user_pages' fatal_signal_pending check before page 1.
        var get = Page(4).ExpectMsg<GetPage>();
        task.Tell(new Kill(T));
        Page(4).Reply(new GetPageAck(new PageId(4), 2, get.Seq));
        MappingProbe.ExpectMsg<FollowDone>();
        ExpectUnlock(Src, LockKind.IoLock);
        Page(4).ExpectMsg<PutPage>();
        // The thread exits; with it the process (its only thread) leaves the mapping.
        MappingProbe.ExpectMsg<ThreadExit>();
        _dir.Probe("root").ExpectMsg<TaskFinished>(f => f.Killed);
        MappingProbe.ExpectNothing(); // page 1 is never looked at
        Assert.Contains(new OpCompleted(T, OpKind.DioRead, Errno.KILLED), _sink.Events);
    }

    [Fact]
    public void A_kill_between_page_N_and_N_plus_1_must_stop_get_user_pages_there_and_put_every_pin_taken()
    {
        var task = Start("""
            [ { "op": "mmap", "file": "dax", "pages": "0-2" },
              { "op": "dioRead", "from": "src", "into": "dax", "pages": "0-2", "ioTime": "10s" } ]
            """);
        var map = MappingProbe.ExpectMsg<MapFile>();
        MappingProbe.Reply(new MapFileAck(Dax, map.Seq));
        Grant(Src, LockKind.IoLock, LockMode.Shared);
        PteRead(0, null);
        SlowPath(0, 4);
        // Page 1 has its PTE: follow takes the reference at once. The kill lands while it is
        // being taken, so the first fatal_signal_pending to see it is page 2's.
        Follow(1, 7);
        var get = Page(7).ExpectMsg<GetPage>();
        task.Tell(new Kill(T));
        Page(7).Reply(new GetPageAck(new PageId(7), 2, get.Seq));
        MappingProbe.ExpectMsg<FollowDone>();

        // Both pins taken so far go back; page 2 is never followed and no I/O is submitted.
        Page(4).ExpectMsg<PutPage>(p => p.Task == T);
        Page(7).ExpectMsg<PutPage>(p => p.Task == T);
        ExpectUnlock(Src, LockKind.IoLock);
        MappingProbe.ExpectMsg<ThreadExit>();
        _dir.Probe("root").ExpectMsg<TaskFinished>(f => f.Killed);
        this.Advance(TimeSpan.FromSeconds(10));
        MappingProbe.ExpectNothing();
        Page(4).ExpectNothing();
        Page(7).ExpectNothing();
        Assert.Empty(_sink.Of<DmaLanded>());
        Assert.Equal([new OpCompleted(T, OpKind.DioRead, Errno.KILLED)], _sink.Of<OpCompleted>().Where(o => o.Op == OpKind.DioRead));
    }

    [Fact]
    public void A_kill_must_not_cut_a_DIO_short_its_DMA_lands_and_its_pages_are_put_before_the_thread_exits()
    {
        var task = Start("""
            [ { "op": "mmap", "file": "dax", "pages": "0" },
              { "op": "dioRead", "from": "src", "into": "dax", "pages": "0", "ioTime": "50ms" },
              { "op": "sleep", "for": "10s" } ]
            """);
        var map = MappingProbe.ExpectMsg<MapFile>();
        MappingProbe.Reply(new MapFileAck(Dax, map.Seq));
        Grant(Src, LockKind.IoLock, LockMode.Shared);
        PteRead(0, null);
        SlowPath(0, 4);
        // The synchronous DIO sleeps uninterruptibly (iomap_dio_rw): the kill waits for it.
        task.Tell(new Kill(T));
        Page(4).ExpectNothing();
        MappingProbe.ExpectNothing();
        this.Advance(TimeSpan.FromMilliseconds(50));
        Page(4).ExpectMsg<DmaWrite>();
        Page(4).ExpectMsg<PutPage>();
        ExpectUnlock(Src, LockKind.IoLock);
        MappingProbe.ExpectMsg<ThreadExit>();
        _dir.Probe("root").ExpectMsg<TaskFinished>(f => f.Killed);
        // The DIO returned; the kill ended the thread before the sleep.
        Assert.Contains(new OpCompleted(T, OpKind.DioRead, Errno.Ok), _sink.Events);
        Assert.DoesNotContain(_sink.Events, e => e is OpStarted { Op: OpKind.Sleep });
    }

    [Fact]
    public void A_lease_holder_must_return_its_lease_when_recalled()
    {
        var task = Start("""[ { "op": "holdLease", "file": "dax", "for": "10s" } ]""");
        var acquire = Inode(Dax).ExpectMsg<AcquireLease>();
        Inode(Dax).Reply(new LeaseGranted(Dax, acquire.Seq));
        Inode(Dax).ExpectNothing();
        task.Tell(new RecallLease(Dax, T));
        Inode(Dax).ExpectMsg<ReturnLease>();
        _dir.Probe("root").ExpectMsg<TaskFinished>();
    }
}
