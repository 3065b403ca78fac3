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
public sealed class LeaseBreakSpecs : TestKit
{
    private static readonly TimeSpan LeaseBreakTime = TimeSpan.FromMilliseconds(1500);

    private static readonly FileId Dax = Scenarios.Dax;
    private static readonly TaskId T0 = new(0), T1 = new(1), T2 = new(2);

    private readonly ProbeDirectory _dir;
    private readonly RecordingSink _sink = new();
    private readonly IActorRef _inode;

    public LeaseBreakSpecs() : base(VirtualTime.Config)
    {
        _dir = new ProbeDirectory(this);
        var scenario = Scenarios.Parse("""
            [ { "name": "a", "steps": [ { "op": "sleep", "for": "1ms" } ] },
              { "name": "b", "steps": [ { "op": "sleep", "for": "1ms" } ] },
              { "name": "c", "steps": [ { "op": "sleep", "for": "1ms" } ] } ]
            """, extra: """, "limits": { "leaseBreakTime": "1500ms" }""");
        var env = new SimEnvironment(scenario, ProtocolPolicy.Mainline, _sink, _dir);
        var extents = Enumerable.Range(0, 4).ToDictionary(i => i, i => new PageId(i));
        _inode = this.UnderTest<InodeActor>(InodeActor.Props(env, Dax, extents));
        _dir.UnderTest = _inode;
        _dir.UnderTestName = "inode-0";
    }

    private Akka.TestKit.TestProbe Task(int t) => _dir.Probe($"task-{t}");

    private void Holds(int t)
    {
        _inode.Tell(new AcquireLease(Dax, new TaskId(t), 1), Task(t).Ref);
        Task(t).ExpectMsg<LeaseGranted>();
    }

    [Fact]
    public void A_blocking_lease_break_must_wait_for_the_last_of_several_holders_to_return_its_layout()
    {
        Holds(0);
        Holds(1);
        _inode.Tell(new BreakLease(Dax, T2, Blocking: true, 9), Task(2).Ref);
        Task(0).ExpectMsg<RecallLease>();
        Task(1).ExpectMsg<RecallLease>();

        _inode.Tell(new ReturnLease(Dax, T0));
        // One holder still has its layout: the breaker sleeps on, and the break is still on
        // (a new lease is refused).
        Task(2).ExpectNothing();
        _inode.Tell(new AcquireLease(Dax, T0, 2), Task(0).Ref);
        Task(0).ExpectMsg<LeaseDenied>(d => d.Error == Errno.EAGAIN);

        _inode.Tell(new ReturnLease(Dax, T1));
        Task(2).ExpectMsg<LeaseBreakResult>(r => r.Result == Errno.Ok && r.Seq == 9);
        Assert.Equal([T0, T1], _sink.Of<LeaseReleased>().Select(r => r.Task));
    }

    [Fact]
    public void A_holder_that_does_not_return_its_layout_must_keep_the_breaker_waiting_until_the_lease_break_time()
    {
        Holds(0);
        Holds(1);
        _inode.Tell(new BreakLease(Dax, T2, Blocking: true, 9), Task(2).Ref);
        _inode.Tell(new ReturnLease(Dax, T0));
        this.Advance(LeaseBreakTime - TimeSpan.FromMilliseconds(1));
        Task(2).ExpectNothing();
        this.Advance(TimeSpan.FromMilliseconds(1));
        Task(2).ExpectMsg<LeaseBreakResult>(r => r.Result == Errno.Ok && r.Seq == 9);
        Assert.Contains(new LeaseReleased(Dax, T1, Revoked: true), _sink.Events);
    }
}
