using Akka.Actor;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;

namespace DaxSim.Transport;

/// <summary>Where a reply goes: the sender of the message being handled, by reference and by entity.</summary>
public readonly record struct ReplyAddress(IActorRef Ref, Endpoint? Endpoint);

/// <summary>
/// How a protocol actor's messages travel: the actor sends, starts timers and takes its
/// mailbox through one of these, and never asks which one it has.
/// <list type="bullet">
/// <item><see cref="PlainDelivery"/>: a bare Tell (runs without message or node faults).</item>
/// <item><see cref="ReliableDelivery"/>: envelopes, acks, retransmission and de-duplication
/// over a <see cref="ReliableChannel"/>, with the scenario's message faults on the wire.</item>
/// <item><see cref="JournalingDelivery"/>: a reliable delivery whose inputs are journaled, and
/// replayed to an actor started again after its node crashed.</item>
/// </list>
/// </summary>
public interface IDelivery
{
    /// <summary>Rebuilding from a journal: the actor reports nothing (its events were reported the first time).</summary>
    bool Replaying { get; }

    void Send(Endpoint to, object message);

    void Send(ReplyAddress to, object message);

    /// <summary>The step message to the actor itself, in a later turn.</summary>
    void Step(object step);

    void StartTimer(string key, object message, TimeSpan delay);

    void CancelTimer(string key);

    /// <summary>
    /// Takes a message from the actor's mailbox: what the transport carries (envelopes, acks,
    /// its timers, journal replay) it handles, giving the protocol messages inside to the
    /// host. False for a bare message the actor processes itself.
    /// </summary>
    bool Receive(object message);

    void Started();

    void Stopped();
}

/// <summary>What a delivery needs of the protocol actor it serves.</summary>
public interface IDeliveryHost
{
    /// <summary>Process a protocol message (from: its sender's endpoint, when it came in an envelope).</summary>
    void Deliver(object message, Endpoint? from);

    /// <summary>Why the message would break the actor's state (a precondition of the protocol), or null.</summary>
    string? Refuses(object message);

    /// <summary>The task's node is gone: give back what it held, as its exit would.</summary>
    void TaskGone(TaskId task);

    /// <summary>Take a message again through the actor's whole receive path (journal replay).</summary>
    void Redeliver(object message);

    /// <summary>Recovery from the journal is complete.</summary>
    void Recovered();
}

/// <summary>A delivery's own timer went off (the reliable delivery's retransmission tick).</summary>
public sealed class TransportTick
{
    public static readonly TransportTick Instance = new();
}

/// <summary>A journaled input given back to a recovering actor: process it, but send nothing and report nothing.</summary>
public sealed record Replayed(object Message);

/// <summary>The journal has been replayed: the actor is live again and sends what it still owes.</summary>
public sealed class RecoveryDone
{
    public static readonly RecoveryDone Instance = new();
}

/// <summary>A journaled actor's timer went off: sent to its host, which journals the message and hands it back.</summary>
public sealed record TimerFired(object Message);
