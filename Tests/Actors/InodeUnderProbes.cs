using Akka.Actor;
using Akka.TestKit.Xunit2;
using DaxSim.Actors;
using DaxSim.Actors.Inode;
using DaxSim.Protocol;
using DaxSim.Protocol.Trace;
using DaxSim.Tests.Support;

namespace DaxSim.Tests.Actors;

/// <summary>
/// One inode actor (file <see cref="Dax"/>, 4 pages, a lease-break time of
/// <see cref="LeaseBreakTime"/>) against probes playing its tasks, mapping and device, on
/// virtual time (<see cref="VirtualTime"/>): the lease-break time runs out only when the
/// spec advances the clock past it. The fixture of the inode's specs.
/// </summary>
public abstract class InodeUnderProbes : TestKit
{
    protected static readonly TimeSpan LeaseBreakTime = TimeSpan.FromMilliseconds(1500);

    protected static readonly FileId Dax = Scenarios.Dax;
    protected static readonly TaskId T0 = new(0), T1 = new(1), T2 = new(2);

    protected InodeUnderProbes() : base(VirtualTime.Config)
    {
        Dir = new ProbeDirectory(this);
        var scenario = Scenarios.Parse("""
            [ { "name": "a", "steps": [ { "op": "sleep", "for": "1ms" } ] },
              { "name": "b", "steps": [ { "op": "sleep", "for": "1ms" } ] },
              { "name": "c", "steps": [ { "op": "sleep", "for": "1ms" } ] } ]
            """, extra: """, "limits": { "leaseBreakTime": "1500ms" }""");
        var env = new SimEnvironment(scenario, ProtocolPolicy.Mainline, Sink, Dir);
        var extents = Enumerable.Range(0, 4).ToDictionary(i => i, i => new PageId(i));
        Inode = this.UnderTest<InodeActor>(InodeActor.Props(env, Dax, extents));
        Dir.UnderTest = Inode;
        Dir.UnderTestName = "inode-0";
    }

    protected ProbeDirectory Dir { get; }

    protected RecordingSink Sink { get; } = new();

    protected IActorRef Inode { get; }

    protected Akka.TestKit.TestProbe Task(int t) => Dir.Probe($"task-{t}");
}
