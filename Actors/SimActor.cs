using Akka.Actor;
using Akka.Event;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;
using DaxSim.Transport;

namespace DaxSim.Actors;

/// <summary>
/// The base of every protocol actor: what each needs to send, answer, report, wait and
/// learn that a task's node is gone. Messages travel through the run's
/// <see cref="IDelivery"/> (a bare Tell, or reliable delivery with or without a journal:
/// see Host/Transport/), which the actor never asks about; it sends to entities
/// (<see cref="Send(Endpoint, object)"/>), answers the sender (<see cref="Reply"/>), and
/// reports through <see cref="Trace"/>.
/// Each actor takes its messages in <see cref="Handle"/>, one <c>switch</c> on the message's
/// type: cheaper than ReceiveActor's matcher, which every actor built anew (its handler
/// delegates and tables) and which tested the handlers' types one by one on every message.
/// </summary>
public abstract class SimActor : ActorBase, IWithTimers, IDeliveryHost
{
    private sealed class NullSink : ITraceSink
    {
        public static readonly NullSink Instance = new();

        public void Emit(TraceEvent e)
        {
        }
    }

    private readonly IDelivery _delivery;
    private Receive? _receive;
    private Endpoint? _from;

    protected SimActor(SimEnvironment env, Endpoint me)
    {
        Env = env;
        Me = me;
        _delivery = env.Transport.For(me, Context, this, this);
    }

    /// <summary>
    /// Takes one message of the protocol: a switch whose cases are tested in order (as the
    /// Receive&lt;T&gt; handlers were); false when no case takes it (then Unhandled logs it).
    /// </summary>
    protected abstract bool Handle(object message);

    protected sealed override bool Receive(object message)
    {
        // Akka's timers hand their message to the handlers directly, past AroundReceive.
        if (message is TransportTick tick)
        {
            _delivery.Receive(tick);
            return true;
        }
        return Handle(message);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected SimEnvironment Env { get; }

    /// <summary>This actor as an entity.</summary>
    protected Endpoint Me { get; }

    /// <summary>Where events go; nowhere while a recovering actor replays its journal (the events were reported the first time).</summary>
    protected ITraceSink Trace => _delivery.Replaying ? NullSink.Instance : Env.Trace;

    protected IEntityDirectory Dir => Env.Directory;

    /// <summary>The sender of the message being handled.</summary>
    protected ReplyAddress ReplyTo => new(Sender, _from);

    protected void Send(Endpoint to, object message) => _delivery.Send(to, message);

    protected void Send(ReplyAddress to, object message) => _delivery.Send(to, message);

    /// <summary>Answers the message being handled.</summary>
    protected void Reply(object message) => _delivery.Send(ReplyTo, message);

    /// <summary>
    /// Ends this turn and continues with <paramref name="step"/> in a later one, so that other
    /// actors may run in between: what a loop the kernel runs page by page, without a lock that
    /// keeps the other side out, needs between two pages (another CPU can get in there). Every
    /// step message must be distinct (carry a counter): a journaled actor's steps are timers.
    /// </summary>
    protected void Step(object step) => _delivery.Step(step);

    /// <summary>A single timer (a zero delay: a message to itself, in a later turn).</summary>
    protected void StartTimer(string key, object message, TimeSpan delay) => _delivery.StartTimer(key, message, delay);

    protected void CancelTimer(string key) => _delivery.CancelTimer(key);

    /// <summary>Why the message would break this actor's state (a precondition of the protocol), or null.</summary>
    protected virtual string? Refuses(object message) => null;

    /// <summary>The task's node is gone: give back what the task held here, as its exit would have.</summary>
    protected virtual void OnTaskGone(TaskId task)
    {
    }

    /// <summary>Recovery from the journal is complete: restart what the replay could not (timers are restarted already).</summary>
    protected virtual void OnRecovered()
    {
    }

    protected override void PreStart()
    {
        base.PreStart();
        _delivery.Started();
    }

    protected override void PostStop()
    {
        _delivery.Stopped();
        base.PostStop();
    }

    protected override bool AroundReceive(Receive receive, object message)
    {
        _receive = receive;
        return _delivery.Receive(message) || base.AroundReceive(receive, message);
    }

    protected override void Unhandled(object message)
    {
        // A message no handler takes came from outside the protocol (the network, a bug in
        // a peer): log it and go on; the actor's state is untouched.
        Context.GetLogger().Error("{0} does not take {1}; dropped", Me, message.GetType().Name);
    }

    void IDeliveryHost.Deliver(object message, Endpoint? from)
    {
        _from = from;
        try
        {
            if (!(_receive ?? Receive)(message))
            {
                Unhandled(message);
            }
        }
        finally
        {
            _from = null;
        }
    }

    string? IDeliveryHost.Refuses(object message) => Refuses(message);

    void IDeliveryHost.TaskGone(TaskId task) => OnTaskGone(task);

    void IDeliveryHost.Redeliver(object message) => AroundReceive(Receive, message);

    void IDeliveryHost.Recovered() => OnRecovered();
}
