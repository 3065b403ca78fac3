using Akka.Actor;
using Akka.TestKit.Xunit2;
using DaxSim.Actors;
using DaxSim.Actors.Inode;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Actors;

/// <summary>
/// break_layout against several lease holders, on virtual time: the break is over when the
/// last holder has returned its layout (or the lease-break time has run out), not at the
/// first return. Written for the mutant bench/mutants/lease-break-ends-at-first-return.patch,
/// which InodeActorSpecs (one holder only) let live.
/// </summary>
public sealed class LeaseBreakSpecs : InodeUnderProbes
{
    private void Holds(int t)
    {
        Inode.Tell(new AcquireLease(Dax, new TaskId(t), 1), Task(t).Ref);
        Task(t).ExpectMsg<LeaseGranted>();
    }

    [Fact]
    public void A_blocking_lease_break_must_wait_for_the_last_of_several_holders_to_return_its_layout()
    {
        Holds(0);
        Holds(1);
        Inode.Tell(new BreakLease(Dax, T2, Blocking: true, 9), Task(2).Ref);
        Task(0).ExpectMsg<RecallLease>();
        Task(1).ExpectMsg<RecallLease>();

        Inode.Tell(new ReturnLease(Dax, T0));
        // One holder still has its layout: the breaker sleeps on, and the break is still on
        // (a new lease is refused).
        Task(2).ExpectNothing();
        Inode.Tell(new AcquireLease(Dax, T0, 2), Task(0).Ref);
        Task(0).ExpectMsg<LeaseDenied>(d => d.Error == Errno.EAGAIN);

        Inode.Tell(new ReturnLease(Dax, T1));
        Task(2).ExpectMsg<LeaseBreakResult>(r => r.Result == Errno.Ok && r.Seq == 9);
        Assert.Equal([T0, T1], Sink.Of<LeaseReleased>().Select(r => r.Task));
    }

    [Fact]
    public void A_holder_that_does_not_return_its_layout_must_keep_the_breaker_waiting_until_the_lease_break_time()
    {
        Holds(0);
        Holds(1);
        Inode.Tell(new BreakLease(Dax, T2, Blocking: true, 9), Task(2).Ref);
        Inode.Tell(new ReturnLease(Dax, T0));
        this.Advance(LeaseBreakTime - TimeSpan.FromMilliseconds(1));
        Task(2).ExpectNothing();
        this.Advance(TimeSpan.FromMilliseconds(1));
        Task(2).ExpectMsg<LeaseBreakResult>(r => r.Result == Errno.Ok && r.Seq == 9);
        Assert.Contains(new LeaseReleased(Dax, T1, Revoked: true), Sink.Events);
    }
}
