using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using DaxSim.Actors;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;
using DaxSim.Transport;

namespace DaxSim.Host.Cluster;

/// <summary>
/// A journaled input of a sharded entity: the message (an Envelope, an Ack, or the message
/// of one of the protocol actor's own timers) and who sent it.
/// </summary>
public sealed record JournaledInput(object Message, IActorRef? Sender);

/// <summary>
/// The sharded entity of a run with a journal (SqliteWriteJournal, or PostgreSQL): it hosts the
/// protocol actor as its child and journals every input meant for it before handing it
/// over (an ack that only settles goes first, its journal write behind it), so the
/// entity's state survives the member that hosted it. When the shard is
/// started again on another member (its host crashed, or was downed), the shell replays the
/// journal to a new child as <see cref="Replayed"/> (each with its original sender), then
/// sends <see cref="RecoveryDone"/>: the child is in the state it had, with the messages it
/// had not got acknowledged, and sends those again. The child's timers come here as
/// <see cref="TimerFired"/> and are journaled and handed back like any input.
/// PersistenceId: run id + entity id, so runs sharing one journal stay apart.
/// Inputs are checked as EntityHost checks them: a refused one is logged and not journaled.
/// A retransmitted envelope or an ack that settles nothing new is not journaled either
/// (<see cref="JournalFilter"/>).
/// </summary>
public sealed class PersistentShell : ReceivePersistentActor
{
    private readonly SimEnvironment _env;
    private readonly RunEntities _entities;
    private readonly Endpoint _me;
    private readonly IActorRef _child;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly JournalFilter _filter;
    private long _replayed;

    public PersistentShell(SimEnvironment env, RunEntities entities, InitialLayout layout, string runId, Endpoint me)
    {
        _env = env;
        _entities = entities;
        _me = me;
        PersistenceId = $"{runId}-{me}";
        _filter = new JournalFilter(cumulativeAcks: env.Delivery.CoalescedAcks);
        _child = Context.ActorOf(env.Deploy(EntityProps.For(env, layout, me)), me.ToString());
        Context.Watch(_child);
        // Every input goes through the journal: the shell, not its child, takes the entity's
        // messages (ClusterDirectory.Arrived). Those that come before recovery is done wait
        // in the shell's stash, as they would coming through sharding.
        (env.Directory as ClusterDirectory)?.Arrived(me, Self);

        Recover<JournaledInput>(j =>
        {
            _replayed++;
            _filter.Journaling(j.Message);
            _filter.Handed(j.Message);
            _child.Tell(new Replayed(j.Message), j.Sender ?? ActorRefs.NoSender);
        });
        Recover<RecoveryCompleted>(_ =>
        {
            if (_replayed > 0)
            {
                _log.Warning("{0} recovered from the journal: {1} input(s) replayed", _me, _replayed);
            }
            _child.Tell(RecoveryDone.Instance, Self);
        });
        Command<Terminated>(t => t.ActorRef.Equals(_child), _ => Context.Stop(Self));
        Command<TimerFired>(t => Sender.Equals(_child), t =>
            PersistAsync(new JournaledInput(t.Message, null), j => _child.Tell(j.Message, Self)));
        CommandAny(Handle);
    }

    public override string PersistenceId { get; }

    public static Props PropsFor(SimEnvironment env, RunEntities entities, InitialLayout layout, string runId,
        string entityId) =>
        entities.Parse(entityId) is { } me
            ? ActorProps.Of(() => new PersistentShell(env, entities, layout, runId, me))
            : EntityHost.PropsFor(env, entities, layout, entityId);

    protected override SupervisorStrategy SupervisorStrategy() => EntityHost.StopAndReport(_env.Trace.Emit);

    protected override void PostStop()
    {
        (_env.Directory as ClusterDirectory)?.Left(_me, Self);
        base.PostStop();
    }

    private void Handle(object message)
    {
        if (EntityHost.Refused(_entities, _me, message, _log, Sender))
        {
            return;
        }
        // A retransmission is not journaled again (JournalFilter): it changes nothing.
        switch (_filter.Classify(message))
        {
            case JournalDecision.Drop:
                return;
            case JournalDecision.Forward:
                _child.Tell(message, Sender);
                return;
        }
        if (message is Ack ack && _filter.SettlesOnly(ack))
        {
            _filter.Journaling(message);
            // An ack goes to the entity at once and to the journal behind it: it only settles
            // what the entity sent, and one lost with a crash costs a retransmission after
            // recovery, which the peer acknowledges again. Journaling it first put a second
            // journal write in every round trip the entity's retransmission timer measures.
            _child.Tell(message, Sender);
            PersistAsync(new JournaledInput(message, Sender), _ => { });
            return;
        }
        _filter.Journaling(message);
        PersistAsync(new JournaledInput(message, Sender), j =>
        {
            _filter.Handed(j.Message);
            _child.Tell(j.Message, j.Sender ?? ActorRefs.NoSender);
        });
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _env.Trace.Emit(new ActorFailed($"{_me}: the journal refused input {sequenceNr}: {cause.Message}"));
        base.OnPersistFailure(cause, @event, sequenceNr);
    }
}
