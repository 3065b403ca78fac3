using Akka.Actor;
using Akka.TestKit.Xunit2;
using DaxSim.Actors;
using DaxSim.Actors.Inode;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;
using DaxSim.Tests.Support;
using Xunit;
using Lock = DaxSim.Protocol.Messages.Lock;

namespace DaxSim.Tests.Actors;

/// <summary>
/// The inode actor against probes playing its tasks, mapping and device, on virtual time
/// (<see cref="VirtualTime"/>): the lease-break time runs out only when the spec advances
/// the clock past it.
/// </summary>
public sealed class InodeActorSpecs : InodeUnderProbes
{
    [Fact]
    public void Locks_must_be_granted_in_FIFO_order_so_a_waiting_writer_blocks_later_readers()
    {
        Inode.Tell(new Lock(Dax, T0, LockKind.MmapLock, LockMode.Shared, 1));
        Task(0).ExpectMsg<LockGranted>(g => g.Seq == 1 && g.Mode == LockMode.Shared);
        Inode.Tell(new Lock(Dax, T1, LockKind.MmapLock, LockMode.Exclusive, 1));
        Inode.Tell(new Lock(Dax, T2, LockKind.MmapLock, LockMode.Shared, 1));
        Task(1).ExpectNothing();
        Task(2).ExpectNothing();

        Inode.Tell(new Unlock(Dax, T0, LockKind.MmapLock));
        Task(1).ExpectMsg<LockGranted>(g => g.Mode == LockMode.Exclusive);
        Task(2).ExpectNothing();

        Inode.Tell(new Unlock(Dax, T1, LockKind.MmapLock));
        Task(2).ExpectMsg<LockGranted>(g => g.Mode == LockMode.Shared);
    }

    [Fact]
    public void IOLOCK_and_MMAPLOCK_must_be_independent()
    {
        Inode.Tell(new Lock(Dax, T0, LockKind.IoLock, LockMode.Exclusive, 1));
        Task(0).ExpectMsg<LockGranted>(g => g.Kind == LockKind.IoLock);
        Inode.Tell(new Lock(Dax, T1, LockKind.MmapLock, LockMode.Exclusive, 1));
        Task(1).ExpectMsg<LockGranted>(g => g.Kind == LockKind.MmapLock);
    }

    [Fact]
    public void Truncate_must_unmap_and_delete_entries_before_it_frees_blocks()
    {
        var mapping = Dir.Probe("mapping-0");
        var device = Dir.Probe("device");
        Inode.Tell(new ChangeExtents(Dax, T0, OpKind.Truncate, new PageRange(1, 1), 1, 42), TestActor);

        var invalidate = mapping.ExpectMsg<Invalidate>(i => i.First == 1 && i.DeleteEntries);
        device.ExpectNothing();
        mapping.Reply(new InvalidateAck(Dax, invalidate.Seq));

        // xfs_itruncate_extents gives the blocks back one at a time: the next goes only once the
        // device has the previous one, so another file can take a freed block in between.
        foreach (var block in new[] { 1, 2, 3 })
        {
            var free = device.ExpectMsg<Free>();
            var inode = device.LastSender;
            Assert.Equal([new PageId(block)], free.Blocks);
            device.ExpectNothing();
            inode.Tell(new FreeAck(free.Seq), device.Ref);
        }

        ExpectMsg<ExtentsChanged>(c => c.Seq == 42 && c.Result == Errno.Ok && c.Size == 1);
        Assert.Contains(new LayoutChanged(Dax, OpKind.Truncate, T0, 1, int.MaxValue, 1), Sink.Events);
    }

    [Fact]
    public void A_fault_beyond_EOF_must_fail_with_SIGBUS_and_a_fault_on_a_hole_must_allocate()
    {
        var mapping = Dir.Probe("mapping-0");
        var device = Dir.Probe("device");
        mapping.Send(Inode, new MapBlock(Dax, 9, 1));
        mapping.ExpectMsg<MapBlockFailed>(f => f.Error == Errno.SIGBUS);

        Inode.Tell(new ChangeExtents(Dax, T0, OpKind.PunchHole, new PageRange(2, 2), 0, 5), TestActor);
        var inv = mapping.ExpectMsg<Invalidate>();
        mapping.Reply(new InvalidateAck(Dax, inv.Seq));
        var free = device.ExpectMsg<Free>();
        device.Reply(new FreeAck(free.Seq));
        ExpectMsg<ExtentsChanged>();

        mapping.Send(Inode, new MapBlock(Dax, 2, 2));
        var alloc = device.ExpectMsg<Allocate>(a => a.Count == 1);
        device.Reply(new Allocated([new PageId(7)], alloc.Seq));
        mapping.ExpectMsg<BlockMapped>(b => b.Index == 2 && b.Block == new PageId(7) && b.Seq == 2);
    }

    [Fact]
    public void A_block_lookup_during_a_layout_change_must_wait_for_it_and_a_stale_reply_must_not_end_it()
    {
        var mapping = Dir.Probe("mapping-0");
        var device = Dir.Probe("device");
        Inode.Tell(new ChangeExtents(Dax, T0, OpKind.PunchHole, new PageRange(2, 2), 0, 5), TestActor);
        var inv = mapping.ExpectMsg<Invalidate>();

        // A fault's lookup of the block being punched waits until the change is done.
        mapping.Send(Inode, new MapBlock(Dax, 2, 9));
        mapping.ExpectNothing();
        // A reply to another request (a wrong sequence number) does not move the change on.
        mapping.Send(Inode, new InvalidateAck(Dax, inv.Seq + 100));
        device.ExpectNothing();

        mapping.Send(Inode, new InvalidateAck(Dax, inv.Seq));
        var free = device.ExpectMsg<Free>(f => f.Blocks.SequenceEqual([new PageId(2)]));
        mapping.ExpectNothing();
        device.Reply(new FreeAck(free.Seq));
        ExpectMsg<ExtentsChanged>(c => c.Seq == 5 && c.Result == Errno.Ok);

        // Then the lookup runs: the block is a hole now, so it is allocated.
        var alloc = device.ExpectMsg<Allocate>(a => a.Count == 1);
        device.Reply(new Allocated([new PageId(8)], alloc.Seq));
        mapping.ExpectMsg<BlockMapped>(b => b.Index == 2 && b.Block == new PageId(8) && b.Seq == 9);
    }

    [Fact]
    public void Collapse_range_reaching_EOF_must_be_refused_with_EINVAL()
    {
        Inode.Tell(new ChangeExtents(Dax, T0, OpKind.CollapseRange, new PageRange(2, 3), 0, 3), TestActor);
        ExpectMsg<ExtentsChanged>(c => c.Result == Errno.EINVAL && c.Size == 4);
    }

    [Fact]
    public void A_lease_break_must_recall_the_holder_and_answer_the_blocking_breaker_once_it_returns()
    {
        Inode.Tell(new AcquireLease(Dax, T0, 1), Task(0).Ref);
        Task(0).ExpectMsg<LeaseGranted>();

        Inode.Tell(new BreakLease(Dax, T1, Blocking: false, 2), Task(1).Ref);
        Task(1).ExpectMsg<LeaseBreakResult>(r => r.Result == Errno.EWOULDBLOCK);
        Task(0).ExpectMsg<RecallLease>();

        Inode.Tell(new BreakLease(Dax, T1, Blocking: true, 3), Task(1).Ref);
        Task(1).ExpectNothing();
        this.Advance(LeaseBreakTime - TimeSpan.FromMilliseconds(1));
        Task(1).ExpectNothing();
        Inode.Tell(new AcquireLease(Dax, T2, 1), Task(2).Ref);
        Task(2).ExpectMsg<LeaseDenied>(d => d.Error == Errno.EAGAIN);

        Inode.Tell(new ReturnLease(Dax, T0));
        Task(1).ExpectMsg<LeaseBreakResult>(r => r.Result == Errno.Ok && r.Seq == 3);
    }

    [Fact]
    public void A_lease_that_is_not_returned_must_be_revoked_after_the_lease_break_time()
    {
        Inode.Tell(new AcquireLease(Dax, T0, 1), Task(0).Ref);
        Task(0).ExpectMsg<LeaseGranted>();
        Inode.Tell(new BreakLease(Dax, T1, Blocking: true, 3), Task(1).Ref);
        Task(0).ExpectMsg<RecallLease>();
        this.Advance(LeaseBreakTime - TimeSpan.FromMilliseconds(1));
        Task(1).ExpectNothing();
        Assert.DoesNotContain(Sink.Events, e => e is LeaseReleased);
        this.Advance(TimeSpan.FromMilliseconds(1));
        Task(1).ExpectMsg<LeaseBreakResult>(r => r.Result == Errno.Ok);
        Assert.Contains(new LeaseReleased(Dax, T0, Revoked: true), Sink.Events);
    }
}
