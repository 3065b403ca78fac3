using Akka.Actor;
using Akka.Event;
using DaxSim.Actors;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;

namespace DaxSim.Host.Cluster;

/// <summary>
/// The sharded entity of a run without a journal: it hosts one protocol actor (InodeActor,
/// MappingActor, PageActor or DeviceActor) as its child, built from the scenario's initial
/// layout exactly as SimulationRoot builds it, and forwards to it every envelope meant for
/// it. The child's SimActor base de-duplicates, acknowledges, orders, and gives back what
/// a gone task held (TaskGone). A message from the network that is not for this entity, or
/// names ids the run does not have, is refused here with a logged error and changes nothing.
/// </summary>
public sealed class EntityHost : ReceiveActor
{
    private readonly SimEnvironment _env;
    private readonly RunEntities _entities;
    private readonly InitialLayout _layout;
    private readonly Endpoint _me;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private IActorRef _child = ActorRefs.Nobody;

    public EntityHost(SimEnvironment env, RunEntities entities, InitialLayout layout, Endpoint me)
    {
        _env = env;
        _entities = entities;
        _layout = layout;
        _me = me;
        Receive<Terminated>(t => t.ActorRef.Equals(_child), _ => Context.Stop(Self));
        ReceiveAny(Handle);
    }

    /// <summary>Props for the entity with this id, or a refusing stand-in when the run has no such entity.</summary>
    public static Props PropsFor(SimEnvironment env, RunEntities entities, InitialLayout layout, string entityId) =>
        entities.Parse(entityId) is { } me
            ? ActorProps.Of(() => new EntityHost(env, entities, layout, me))
            : ActorProps.Of(() => new Refuser(entityId));

    protected override void PreStart()
    {
        _child = Context.ActorOf(_env.Deploy(EntityProps.For(_env, _layout, _me)), _me.ToString());
        Context.Watch(_child);
    }

    // A protocol actor that throws has a bug: report it (the run ends with an internal error).
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(e =>
    {
        _env.Trace.Emit(new ActorFailed(e.ToString()));
        return Directive.Stop;
    });

    private void Handle(object message)
    {
        if (_entities.RefuseReliable(_me, message) is { } refused)
        {
            _log.Error("{0} refused a message from {1}: {2}", _me, Sender, refused);
            return;
        }
        _child.Forward(message);
    }

    /// <summary>What the region gets for an id the run does not have (the extractor refuses those first).</summary>
    private sealed class Refuser : ReceiveActor
    {
        public Refuser(string id)
        {
            var log = Context.GetLogger();
            ReceiveAny(m => log.Error("the run has no entity '{0}': refused {1}", id, m));
        }
    }
}
