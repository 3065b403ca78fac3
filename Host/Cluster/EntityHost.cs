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
/// layout exactly as SimulationRoot builds it, and supervises it. The child's delivery (Host/Transport/ReliableDelivery)
/// de-duplicates, acknowledges, orders, and gives back what a gone task held (TaskGone).
///
/// The host is off the data path: once the child is started it is announced to the
/// member's directory (ClusterDirectory.Arrived), and messages for the entity go to it
/// directly, by the member's inbox for those from other members (which checks them first).
/// What still comes through sharding (the first messages, before the entity existed) the
/// host forwards; one from the network that is not for this entity, or names ids the run
/// does not have, is refused here with a logged error and changes nothing.
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
        Receive<Terminated>(t => t.ActorRef.Equals(_child), _ =>
        {
            (_env.Directory as ClusterDirectory)?.Left(_me, _child);
            Context.Stop(Self);
        });
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
        (_env.Directory as ClusterDirectory)?.Arrived(_me, _child);
    }

    protected override void PostStop() => (_env.Directory as ClusterDirectory)?.Left(_me, _child);

    protected override SupervisorStrategy SupervisorStrategy() => StopAndReport(_env.Trace.Emit);

    /// <summary>
    /// How a member's hosts supervise the protocol actors they host: one that throws has a
    /// bug, so it is stopped and reported (<paramref name="emit"/> an ActorFailed; the run
    /// ends with an internal error) instead of restarted into a wrong state.
    /// </summary>
    internal static SupervisorStrategy StopAndReport(Action<TraceEvent> emit) => new OneForOneStrategy(e =>
    {
        emit(new ActorFailed(e.ToString()));
        return Directive.Stop;
    });

    /// <summary>
    /// What a sharded entity's host checks first (RunEntities.RefuseReliable): true, with
    /// a logged error, when the message from the network may not reach the entity.
    /// </summary>
    internal static bool Refused(RunEntities entities, Endpoint me, object message, ILoggingAdapter log, IActorRef sender)
    {
        if (entities.RefuseReliable(me, message) is not { } why)
        {
            return false;
        }
        log.Error("{0} refused a message from {1}: {2}", me, sender, why);
        return true;
    }

    private void Handle(object message)
    {
        if (!Refused(_entities, _me, message, _log, Sender))
        {
            _child.Forward(message);
        }
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
