using Akka.Actor;
using Akka.Event;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;
using Envelope = DaxSim.Protocol.Messages.Envelope;

namespace DaxSim.Actors;

/// <summary>A journaled input given back to a recovering actor: process it, but send nothing and report nothing.</summary>
public sealed record Replayed(object Message);

/// <summary>The journal has been replayed: the actor is live again and sends what it still owes.</summary>
public sealed class RecoveryDone
{
    public static readonly RecoveryDone Instance = new();
}

/// <summary>A journaled actor's timer went off: sent to its host, which journals the message and hands it back.</summary>
public sealed record TimerFired(object Message);

/// <summary>Where a reply goes: the sender of the message being handled, by reference and by entity.</summary>
public readonly record struct ReplyAddress(IActorRef Ref, Endpoint? Endpoint);

/// <summary>
/// The base of every protocol actor. Protocol actors send through it (<see cref="Send(Endpoint, object)"/>,
/// <see cref="Reply"/>) and report through its <see cref="Trace"/>, never to actor references
/// directly, so that one class serves every runtime:
/// <list type="bullet">
/// <item>plain delivery (a run without message faults or node faults): a bare Tell, as
/// cheap as if the actor told the reference itself;</item>
/// <item>reliable delivery (message faults, node faults, the cluster): every message
/// travels in an <see cref="Envelope"/> addressed by entity, numbered per sender and
/// receiver, acknowledged, sent again every <see cref="DeliveryOptions.RetryInterval"/>
/// until acknowledged, and processed once by the receiver however often it arrives; the
/// scenario's drop / duplicate / delay faults act on each transmission;</item>
/// <item>journaled (an entity whose host persists its inputs): on recovery the inputs
/// come back as <see cref="Replayed"/> and rebuild the state, the de-duplication windows
/// and the unacknowledged messages, without sending or reporting anything; at
/// <see cref="RecoveryDone"/> the actor sends again whatever is still unacknowledged.</item>
/// </list>
/// An entity also learns here that a task's node is gone (<see cref="TaskGone"/>): it then
/// gives back what the task held (<see cref="OnTaskGone"/>) and ignores the task from then on.
/// </summary>
public abstract class SimActor : ReceiveActor, IWithTimers
{
    private sealed class RetryTick
    {
        public static readonly RetryTick Instance = new();
    }

    private sealed class NullSink : ITraceSink
    {
        public static readonly NullSink Instance = new();

        public void Emit(TraceEvent e)
        {
        }
    }

    /// <summary>Which sequence numbers of one sender arrived: all up to Contiguous, and some beyond.</summary>
    private sealed class Window
    {
        public long Contiguous;
        public SortedSet<long>? Ahead;

        /// <summary>Records seq; false if it had arrived before.</summary>
        public bool Admit(long seq)
        {
            if (seq <= Contiguous || Ahead?.Contains(seq) == true)
            {
                return false;
            }
            if (seq != Contiguous + 1)
            {
                (Ahead ??= []).Add(seq);
                return true;
            }
            Contiguous = seq;
            while (Ahead is { Count: > 0 } && Ahead.Min == Contiguous + 1)
            {
                Contiguous = Ahead.Min;
                Ahead.Remove(Contiguous);
            }
            return true;
        }
    }

    private readonly bool _reliable;
    private readonly bool _journaled;
    private readonly Dictionary<Endpoint, long> _sent = new();
    private readonly Dictionary<Endpoint, Window> _received = new();
    private readonly SortedDictionary<(Endpoint To, long Seq), Envelope> _unacked = new();
    private readonly HashSet<TaskId> _gone = [];
    private readonly Dictionary<string, (object Message, TimeSpan Delay)> _timers = new();
    private Rng? _faultRng;
    private Endpoint? _from;
    private bool _muted;
    private bool _retrying;

    protected SimActor(SimEnvironment env, Endpoint me)
    {
        Env = env;
        Me = me;
        _reliable = env.Delivery.Reliable || env.Delivery.Journaled;
        // Only entities are journaled: a task is a thread of a process and dies with its node.
        _journaled = env.Delivery.Journaled && me.IsEntity;
        // The retry timer's tick: Akka unwraps a timer's message in ActorBase.AroundReceive,
        // below the override here, so the tick arrives as a message to receive.
        Receive<RetryTick>(_ => Retry());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected SimEnvironment Env { get; }

    /// <summary>This actor as an entity.</summary>
    protected Endpoint Me { get; }

    /// <summary>Where events go; nowhere while a recovering actor replays its journal (the events were reported the first time).</summary>
    protected ITraceSink Trace => _muted ? NullSink.Instance : Env.Trace;

    protected IEntityDirectory Dir => Env.Directory;

    /// <summary>The sender of the message being handled.</summary>
    protected ReplyAddress ReplyTo => new(Sender, _from);

    /// <summary>Tasks whose node is gone; an entity takes nothing more from them.</summary>
    protected IReadOnlySet<TaskId> GoneTasks => _gone;

    // --- sending ---------------------------------------------------------------------------

    protected void Send(Endpoint to, object message)
    {
        if (!_reliable)
        {
            Dir.Resolve(to).Tell(message, Self);
            return;
        }
        var seq = _sent.TryGetValue(to, out var last) ? last + 1 : 1;
        _sent[to] = seq;
        var envelope = new Envelope(Me, to, seq, message);
        _unacked[(to, seq)] = envelope;
        if (!_muted)
        {
            Transmit(to, envelope);
            StartRetrying();
        }
    }

    protected void Send(ReplyAddress to, object message)
    {
        if (_reliable && to.Endpoint is { } endpoint)
        {
            Send(endpoint, message);
            return;
        }
        if (!_muted)
        {
            to.Ref.Tell(message, Self);
        }
    }

    /// <summary>Answers the message being handled.</summary>
    protected void Reply(object message) => Send(ReplyTo, message);

    /// <summary>
    /// One transmission, as the network would carry it: lost if the receiver cannot be
    /// reached (a partition, a crashed node) or a drop fault hits it, sent twice by a
    /// duplicate fault, late by a delay fault.
    /// </summary>
    private void Transmit(Endpoint to, object wire)
    {
        if (!Env.Network.Reachable(Me, to))
        {
            return;
        }
        var copies = 1;
        var delay = TimeSpan.Zero;
        var faults = Env.Delivery.MessageFaults;
        if (faults.Count > 0)
        {
            var now = Env.Elapsed();
            _faultRng ??= Rng.ForStream(Env.Delivery.Seed, StreamOf(Me));
            foreach (var f in faults)
            {
                if ((f.From is { } from && now < from) || (f.Until is { } until && now >= until) ||
                    _faultRng.NextDouble() >= f.Probability)
                {
                    continue;
                }
                switch (f.Kind)
                {
                    case MessageFaultKind.Drop:
                        return;
                    case MessageFaultKind.Duplicate:
                        copies++;
                        break;
                    case MessageFaultKind.Delay:
                        delay += TimeSpan.FromTicks((long)(_faultRng.NextDouble() * f.Max!.Value.Ticks));
                        break;
                }
            }
        }
        var target = Dir.Resolve(to);
        for (var i = 0; i < copies; i++)
        {
            if (delay > TimeSpan.Zero)
            {
                Context.System.Scheduler.ScheduleTellOnce(delay, target, wire, Self);
            }
            else
            {
                target.Tell(wire, Self);
            }
        }
    }

    private static ulong StreamOf(Endpoint e) => 0x5EED_0000_0000UL ^ ((ulong)e.Kind << 32) ^ (uint)e.Id;

    private void StartRetrying()
    {
        if (_retrying)
        {
            return;
        }
        _retrying = true;
        Timers.StartPeriodicTimer("reliable-retry", RetryTick.Instance, Env.Delivery.RetryInterval);
    }

    private void Retry()
    {
        if (_unacked.Count == 0)
        {
            _retrying = false;
            Timers.Cancel("reliable-retry");
            return;
        }
        foreach (var ((to, _), envelope) in _unacked)
        {
            Transmit(to, envelope);
        }
    }

    // --- timers --------------------------------------------------------------------------

    /// <summary>A single timer; a journaled actor's timers go through its host, so that their firing is journaled too.</summary>
    protected void StartTimer(string key, object message, TimeSpan delay)
    {
        if (!_journaled)
        {
            Timers.StartSingleTimer(key, message, delay);
            return;
        }
        _timers[key] = (message, delay);
        if (!_muted)
        {
            Context.System.Scheduler.ScheduleTellOnce(delay, Context.Parent, new TimerFired(message), Self);
        }
    }

    protected void CancelTimer(string key)
    {
        if (!_journaled)
        {
            Timers.Cancel(key);
            return;
        }
        _timers.Remove(key);
    }

    // --- receiving -------------------------------------------------------------------------

    protected override bool AroundReceive(Receive receive, object message)
    {
        switch (message)
        {
            case Envelope e:
                OnEnvelope(receive, e);
                return true;
            case Ack a:
                if (a.To == Me)
                {
                    _unacked.Remove((a.From, a.Seq));
                }
                return true;
            case RetryTick:
                Retry();
                return true;
            case Replayed r:
                _muted = true;
                try
                {
                    return AroundReceive(receive, r.Message);
                }
                finally
                {
                    _muted = false;
                }
            case RecoveryDone:
                foreach (var (key, (timer, delay)) in _timers)
                {
                    Context.System.Scheduler.ScheduleTellOnce(delay, Context.Parent, new TimerFired(timer), Self);
                }
                if (_unacked.Count > 0)
                {
                    Retry();
                    StartRetrying();
                }
                OnRecovered();
                return true;
        }
        if (_journaled)
        {
            ForgetTimer(message);
        }
        return base.AroundReceive(receive, message);
    }

    private void ForgetTimer(object message)
    {
        foreach (var (key, (timer, _)) in _timers)
        {
            if (Equals(timer, message))
            {
                _timers.Remove(key);
                return;
            }
        }
    }

    private void OnEnvelope(Receive receive, Envelope e)
    {
        if (e.To != Me)
        {
            Context.GetLogger().Error("{0} got an envelope for {1} from {2}; dropped", Me, e.To, e.From);
            return;
        }
        if (!_muted)
        {
            Transmit(e.From, new Ack(Me, e.From, e.Seq));
        }
        if (!_received.TryGetValue(e.From, out var window))
        {
            window = new Window();
            _received[e.From] = window;
        }
        if (!window.Admit(e.Seq))
        {
            return;
        }
        if (e.From.Kind == EndpointKind.Task && _gone.Contains(new TaskId(e.From.Id)))
        {
            return;
        }
        if (e.Payload is TaskGone gone)
        {
            if (_gone.Add(gone.Task))
            {
                OnTaskGone(gone.Task);
            }
            return;
        }
        _from = e.From;
        try
        {
            if (!receive(e.Payload))
            {
                Unhandled(e.Payload);
            }
        }
        finally
        {
            _from = null;
        }
    }

    protected override void Unhandled(object message)
    {
        // A message no handler takes came from outside the protocol (the network, a bug in
        // a peer): log it and go on; the actor's state is untouched.
        Context.GetLogger().Error("{0} does not take {1}; dropped", Me, message.GetType().Name);
    }

    /// <summary>The task's node is gone: give back what the task held here, as its exit would have.</summary>
    protected virtual void OnTaskGone(TaskId task)
    {
    }

    /// <summary>Recovery from the journal is complete: restart what the replay could not (timers are restarted already).</summary>
    protected virtual void OnRecovered()
    {
    }
}

/// <summary>How the messages of a run are delivered.</summary>
public sealed record DeliveryOptions
{
    public static readonly DeliveryOptions Plain = new();

    /// <summary>Envelopes, acknowledgements, retries and de-duplication.</summary>
    public bool Reliable { get; init; }

    /// <summary>Entities are hosted by a shell that journals their inputs (implies Reliable).</summary>
    public bool Journaled { get; init; }

    /// <summary>How often unacknowledged messages are sent again.</summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>The scenario's drop / duplicate / delay faults, applied to every transmission.</summary>
    public IReadOnlyList<MessageFault> MessageFaults { get; init; } = [];

    /// <summary>Seeds the fault decisions (each actor draws from its own stream).</summary>
    public ulong Seed { get; init; }
}

/// <summary>Which entities can reach which now: a partition or a crashed node cuts some off.</summary>
public interface INetwork
{
    bool Reachable(Endpoint from, Endpoint to);
}

/// <summary>A network that never fails.</summary>
public sealed class PerfectNetwork : INetwork
{
    public static readonly PerfectNetwork Instance = new();

    public bool Reachable(Endpoint from, Endpoint to) => true;
}
