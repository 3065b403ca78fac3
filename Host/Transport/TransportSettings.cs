using Akka.Actor;
using DaxSim.Protocol.Messages;

namespace DaxSim.Transport;

/// <summary>
/// What every delivery of one run shares: how messages are delivered, what the network
/// lets through, the run's clock, where entities journal their inputs, and the run's
/// counters. <see cref="For"/> picks each actor's delivery from them.
/// </summary>
public sealed class TransportSettings(
    DeliveryOptions options,
    INetwork network,
    InFlightCounter inFlight,
    MessageCounter? counter,
    IEntityJournal? journal,
    Func<TimeSpan> elapsed,
    Func<Endpoint, IActorRef> resolve,
    Func<long>? incarnations = null)
{
    public DeliveryOptions Options { get; } = options;

    public INetwork Network { get; } = network;

    public InFlightCounter InFlight { get; } = inFlight;

    public MessageCounter? Counter { get; } = counter;

    public IEntityJournal? Journal { get; } = journal;

    public Func<TimeSpan> Elapsed { get; } = elapsed;

    /// <summary>The actor that is the entity now (for a sharded entity: the region that routes to it).</summary>
    public Func<Endpoint, IActorRef> Resolve { get; } = resolve;

    /// <summary>Draws the incarnation of a channel that is not journaled (<see cref="Incarnations"/>).</summary>
    public Func<long> Incarnations { get; } = incarnations ?? Transport.Incarnations.Fresh;

    /// <summary>
    /// The delivery of the actor that is <paramref name="me"/>: plain unless the run is
    /// reliable; journaled when an entity's inputs are journaled, by the shell that hosts it
    /// (<see cref="DeliveryOptions.Journaled"/>) or by the actor itself into
    /// <see cref="Journal"/>. Tasks and control actors are never journaled: a task is a
    /// thread of a process and dies with its node.
    /// </summary>
    public IDelivery For(Endpoint me, IActorContext context, IWithTimers owner, IDeliveryHost host)
    {
        var viaShell = Options.Journaled && me.IsEntity;
        var inline = me.IsEntity ? Journal : null;
        if (!Options.Reliable && !Options.Journaled && inline is null)
        {
            return new PlainDelivery(context.Self, Resolve, owner);
        }
        var journaled = viaShell || inline is not null;
        // A journaled entity keeps its incarnation across recoveries; any other channel is new each time it starts.
        var incarnation = journaled ? Transport.Incarnations.Durable : Incarnations();
        var reliable = new ReliableDelivery(this, me, context, owner, host, ackEach: journaled, incarnation: incarnation);
        return journaled ? new JournalingDelivery(reliable, inline, viaShell, me, context, host) : reliable;
    }
}
