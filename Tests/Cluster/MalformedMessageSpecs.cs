using Akka.Actor;
using Akka.Cluster.Sharding;
using DaxSim.Host.Cluster;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;
using Xunit;
using Envelope = DaxSim.Protocol.Messages.Envelope;
using Lock = DaxSim.Protocol.Messages.Lock;

namespace DaxSim.Tests.Cluster;

/// <summary>
/// What a member does with messages that do not belong to the protocol: an envelope for an
/// entity the run does not have, a request for a page beyond the device, a message of the
/// wrong kind for its entity, a junk object. Each is refused with a logged error, and no
/// entity's state changes (no trace event follows). One member, this process, a run
/// prepared as the runner prepares it, with this spec as the runner.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class MalformedMessageSpecs : OneMemberTestKit
{
    private const string Scenario = TinyScenario;

    private readonly IActorRef _agent;
    private readonly IActorRef _region;

    public MalformedMessageSpecs()
    {
        _agent = Agent;
        var self = SelfAddress;
        _agent.Tell(new Prepare("r1", Scenario, "tiny.json", "mainline", 1, 0, [new NodeEntry(0, self)], [0], TestActor,
            Reliable: true, Journaled: false));
        // Prepared, and the layout events (this member is the run's lowest node), in either order.
        bool prepared = false, layout = false;
        while (!prepared || !layout)
        {
            switch (ReceiveOne(TimeSpan.FromSeconds(20)))
            {
                case Prepared:
                    prepared = true;
                    break;
                case TraceBatch b when b.Events.OfType<BlockAllocated>().Any():
                    layout = true;
                    break;
                case null:
                    Assert.Fail("the run was not prepared within 20 s");
                    break;
            }
        }
        _region = ClusterSharding.Get(Sys).ShardRegion("run-r1");
    }

    /// <summary>No event from any entity for a while: nothing changed.</summary>
    private void ExpectNoEvents()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMilliseconds(600);
        while (DateTime.UtcNow < deadline)
        {
            var m = ReceiveOne(TimeSpan.FromMilliseconds(100));
            if (m is TraceBatch b)
            {
                Assert.Empty(b.Events);
            }
        }
    }

    [Fact]
    public void An_envelope_for_an_entity_the_run_does_not_have_is_refused()
    {
        EventFilter.Error(contains: "the run has no entity 'page-99'").ExpectOne(() =>
            _region.Tell(new Envelope(Endpoint.Of(new TaskId(0)), Endpoint.Of(new PageId(99)), 1,
                new GetPage(new PageId(99), new TaskId(0), new FileId(0), 0, 1))));
        ExpectNoEvents();
    }

    [Fact]
    public void A_get_page_beyond_the_device_is_refused()
    {
        EventFilter.Error(contains: "refused").ExpectOne(() =>
            _region.Tell(new GetPage(new PageId(7), new TaskId(0), new FileId(0), 0, 1)));
        ExpectNoEvents();
    }

    [Fact]
    public void A_bare_message_in_a_reliable_run_and_a_message_of_the_wrong_kind_are_refused_by_the_entity()
    {
        EventFilter.Error(contains: "came bare").ExpectOne(() =>
            _region.Tell(new GetPage(new PageId(0), new TaskId(0), new FileId(0), 0, 1)));
        EventFilter.Error(contains: "is for inode-0, not page-0").ExpectOne(() =>
            _region.Tell(new Envelope(Endpoint.Of(new TaskId(0)), Endpoint.Of(new PageId(0)), 1,
                new Lock(new FileId(0), new TaskId(0), LockKind.IoLock, LockMode.Exclusive, 1))));
        EventFilter.Error(contains: "task-9, which the run does not have").ExpectOne(() =>
            _region.Tell(new Envelope(Endpoint.Of(new TaskId(0)), Endpoint.Of(new PageId(0)), 1,
                new GetPage(new PageId(0), new TaskId(9), new FileId(0), 0, 1))));
        ExpectNoEvents();
    }

    [Fact]
    public void Junk_is_refused_by_the_region_the_agent_and_the_run()
    {
        EventFilter.Error(contains: "not a message for an entity").ExpectOne(() => _region.Tell("junk"));
        EventFilter.Error(contains: "not part of the run protocol").ExpectOne(() => _agent.Tell(42));
        EventFilter.Error(contains: "no run 'nope'").ExpectOne(() => _agent.Tell(new StartRun("nope", 0)));
        ExpectNoEvents();
    }
}
