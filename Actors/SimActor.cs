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

    /// <summary>Coalesced acks: time to send the acks owed (<see cref="DeliveryOptions.CoalescedAcks"/>).</summary>
    private sealed class AckFlush
    {
        public static readonly AckFlush Instance = new();
    }

    /// <summary>
    /// Adaptive retransmission (<see cref="DeliveryOptions.AdaptiveRetry"/>): when an
    /// unacknowledged envelope was first sent, when it is due again, and how often it went out.
    /// </summary>
    private sealed class Pending
    {
        public long Sent;
        public long Due;
        public int Transmissions;
    }

    private sealed class NullSink : ITraceSink
    {
        public static readonly NullSink Instance = new();

        public void Emit(TraceEvent e)
        {
        }
    }

    /// <summary>
    /// One sender's envelopes at this receiver: all up to Contiguous processed; later ones
    /// that came early wait in Early (not acknowledged, not journaled) until the gap fills,
    /// so that each sender's messages are processed in the order it sent them, as a
    /// connection would deliver them.
    /// </summary>
    private sealed class Window
    {
        public long Contiguous;
        public SortedDictionary<long, Envelope>? Early;
    }

    private readonly bool _reliable;
    // Self, read once: Akka's Self goes through the thread's current actor cell on every send.
    private readonly IActorRef _self;
    private readonly bool _journaled;
    private readonly IEntityJournal? _journal;
    private readonly Dictionary<Endpoint, long> _sent = new();
    private readonly Dictionary<Endpoint, Window> _received = new();
    private readonly SortedDictionary<(Endpoint To, long Seq), Envelope> _unacked = new();
    private readonly HashSet<TaskId> _gone = [];
    private readonly Dictionary<string, (object Message, TimeSpan Delay)> _timers = new();
    private readonly Dictionary<(Endpoint To, long Seq), Pending>? _pending;
    private readonly HashSet<Endpoint>? _owed;
    private readonly Dictionary<Endpoint, long>? _ackedUpTo;
    private bool _ackFlushPending;
    private double _srtt = -1;
    private double _rttvar;
    private Rng? _faultRng;
    private Endpoint? _from;
    private bool _muted;
    private bool _retrying;

    protected SimActor(SimEnvironment env, Endpoint me)
    {
        // Akka's timers hand their message to the handlers directly, past AroundReceive.
        Receive<RetryTick>(_ => Retry());
        _self = Self;
        Env = env;
        Me = me;
        _reliable = env.Delivery.Reliable || env.Delivery.Journaled;
        // Only entities are journaled: a task is a thread of a process and dies with its node.
        _journaled = env.Delivery.Journaled && me.IsEntity;
        _journal = me.IsEntity ? env.Journal : null;
        _reliable |= _journal is not null;
        if (_reliable && env.Delivery.AdaptiveRetry)
        {
            _pending = new Dictionary<(Endpoint, long), Pending>();
        }
        // Every actor takes acks as cumulative (its peers may coalesce theirs); journaled actors
        // still send one ack per envelope, so that their journal replays acks as they came.
        if (_reliable && env.Delivery.CoalescedAcks)
        {
            _ackedUpTo = new Dictionary<Endpoint, long>();
            if (!_journaled && _journal is null)
            {
                _owed = [];
            }
        }
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
            Dir.Resolve(to).Tell(message, _self);
            return;
        }
        var seq = _sent.TryGetValue(to, out var last) ? last + 1 : 1;
        _sent[to] = seq;
        // An ack owed to the receiver rides along (coalesced acks), so none goes alone.
        var acked = _owed is not null && _owed.Remove(to) ? _received[to].Contiguous : 0;
        var envelope = new Envelope(Me, to, seq, message, acked);
        _unacked[(to, seq)] = envelope;
        if (_pending is not null)
        {
            // Due at once when it is not sent now (replaying the journal: RecoveryDone sends it).
            var now = Env.Elapsed().Ticks;
            _pending[(to, seq)] = new Pending { Sent = now, Due = _muted ? long.MinValue : now + Rto().Ticks, Transmissions = 1 };
        }
        Env.InFlight.Add(1);
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
            to.Ref.Tell(message, _self);
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
        if (_pending is not null)
        {
            RetryDue();
            return;
        }
        foreach (var ((to, _), envelope) in _unacked)
        {
            Transmit(to, envelope);
        }
        Env.Messages?.Retransmitted(_unacked.Count);
    }

    // --- adaptive retransmission ---------------------------------------------------------------
    //
    // The fixed scheme above sends every unacknowledged envelope again on every tick: right
    // for a network that loses messages now and then and answers at once (the deterministic
    // runtime's drop faults), but on a loaded cluster, where an ack can take longer than the
    // 20 ms tick, it sends everything in flight again and again, and the retransmissions
    // crowd out the traffic they repeat (congestion collapse: measured, 130,000
    // retransmissions for 6,500 messages). Adaptively, as TCP does (RFC 6298): each envelope
    // goes again only once its timeout has passed, the timeout follows the acks' round-trip
    // time (smoothed, plus four deviations; at least RetryInterval, at most MaxRetryInterval,
    // InitialRetryInterval before the first sample), and it doubles for each retransmission of
    // the same envelope, twice at most. Round trips are sampled from envelopes sent once only
    // (Karn). TCP doubles without such a bound, because its losses mean congestion; here most
    // losses are the scenario's drop faults, independent of the load, and an unbounded backoff
    // made one envelope that was lost three times in a row wait seconds (an L3 violation in
    // lossy-network). The timeout following the measured round trip is what keeps a loaded
    // cluster from retransmitting what is merely slow.
    private const int MaxBackoffDoublings = 2;

    private TimeSpan Rto()
    {
        var d = Env.Delivery;
        if (_srtt < 0)
        {
            return d.InitialRetryInterval;
        }
        var rto = TimeSpan.FromTicks((long)(_srtt + Math.Max(4 * _rttvar, TimeSpan.TicksPerMillisecond)));
        return rto < d.RetryInterval ? d.RetryInterval : rto > d.MaxRetryInterval ? d.MaxRetryInterval : rto;
    }

    private void SampleRoundTrip(long ticks)
    {
        if (_srtt < 0)
        {
            _srtt = ticks;
            _rttvar = ticks / 2.0;
            return;
        }
        _rttvar = 0.75 * _rttvar + 0.25 * Math.Abs(_srtt - ticks);
        _srtt = 0.875 * _srtt + 0.125 * ticks;
    }

    private void RetryDue()
    {
        var now = Env.Elapsed().Ticks;
        var sent = 0;
        foreach (var ((to, seq), envelope) in _unacked)
        {
            var p = _pending![(to, seq)];
            if (p.Due > now)
            {
                continue;
            }
            Transmit(to, envelope);
            sent++;
            p.Transmissions++;
            var backoff = Rto().Ticks << Math.Min(p.Transmissions - 1, MaxBackoffDoublings);
            p.Due = now + Math.Min(backoff, Env.Delivery.MaxRetryInterval.Ticks);
        }
        Env.Messages?.Retransmitted(sent);
    }

    // --- steps ---------------------------------------------------------------------------

    private long _stepCount;

    /// <summary>
    /// Ends this turn and continues with <paramref name="step"/> in a later one, so that other
    /// actors may run in between: what a loop the kernel runs page by page, without a lock that
    /// keeps the other side out, needs between two pages (another CPU can get in there). The
    /// step is a message to the actor itself; a journaled actor's goes through the journal as
    /// a timer's would, so that a recovered actor takes it again. Every step message must be
    /// distinct (carry a counter).
    /// </summary>
    protected void Step(object step)
    {
        if (!_reliable)
        {
            _self.Tell(step, _self);
            return;
        }
        StartTimer($"step-{++_stepCount}", step, TimeSpan.Zero);
    }

    // --- timers --------------------------------------------------------------------------

    /// <summary>A single timer; a journaled actor's timers go through its host, so that their firing is journaled too.</summary>
    protected void StartTimer(string key, object message, TimeSpan delay)
    {
        _timers[key] = (message, delay);
        if (!_muted)
        {
            Arm(key, message, delay);
        }
    }

    // A journaled actor's timer comes back as TimerFired, through its host (which journals
    // it) or straight to itself (the inline journal takes it as it is processed); a plain
    // actor uses Akka's timers.
    // (AK1004: these one-shot timers are not cancelled on purpose; a stale one finds no
    // armed timer and is dropped.)
#pragma warning disable AK1004
    private void Arm(string key, object message, TimeSpan delay)
    {
        // A step (no delay) is a message, not a timer: the scheduler would hold it until the
        // clock moves (the deterministic runtime) or its next tick (10 ms in real time).
        var now = delay <= TimeSpan.Zero;
        if (_journaled)
        {
            if (now)
            {
                Context.Parent.Tell(new TimerFired(message), _self);
                return;
            }
            Context.System.Scheduler.ScheduleTellOnce(delay, Context.Parent, new TimerFired(message), Self);
        }
        else if (_journal is not null)
        {
            if (now)
            {
                _self.Tell(new TimerFired(message), _self);
                return;
            }
            Context.System.Scheduler.ScheduleTellOnce(delay, Self, new TimerFired(message), Self);
        }
        else if (now)
        {
            _self.Tell(message, _self);
        }
        else
        {
            Timers.StartSingleTimer(key, message, delay);
        }
    }
#pragma warning restore AK1004

    protected void CancelTimer(string key)
    {
        _timers.Remove(key);
        if (!_journaled)
        {
            Timers.Cancel(key);
        }
    }

    // --- receiving -------------------------------------------------------------------------

    protected override void PreStart()
    {
        base.PreStart();
        // An entity that was here before (its node crashed, it was started again elsewhere)
        // rebuilds itself from the inputs it took then.
        if (_journal?.Entries(Me) is { Count: > 0 } entries)
        {
            foreach (var entry in entries)
            {
                AroundReceive(Receive, new Replayed(entry));
            }
            AroundReceive(Receive, RecoveryDone.Instance);
        }
    }

    protected override void PostStop()
    {
        // Stopped (the run ended, or its node crashed): what it had in flight is gone with it.
        Env.InFlight.Add(-_unacked.Count);
        base.PostStop();
    }

    protected override bool AroundReceive(Receive receive, object message)
    {
        // Plain delivery (no envelopes, acks, journal or recovery): only the timer bookkeeping.
        if (!_reliable)
        {
            ForgetTimer(message);
            return base.AroundReceive(receive, message);
        }
        switch (message)
        {
            case Envelope e:
                OnEnvelope(receive, e);
                return true;
            case Ack a:
                if (!_muted)
                {
                    Env.Messages?.Ack(MessageCounter.IsRemote(Sender));
                }
                if (a.To != Me)
                {
                    return true;
                }
                if (_ackedUpTo is not null ? TakeAcksUpTo(a.From, a.Seq) : Settle(a.From, a.Seq))
                {
                    Journal(a);
                }
                return true;
            case AckFlush:
                SendOwedAcks();
                return true;
            case RetryTick:
                Retry();
                return true;
            case TimerFired t:
                // A cancelled or restarted timer's message is stale: only the armed one counts.
                return ForgetTimer(t.Message) && AroundReceive(receive, t.Message);
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
                    Arm(key, timer, delay);
                }
                if (_unacked.Count > 0)
                {
                    Retry();
                    StartRetrying();
                }
                OnRecovered();
                return true;
        }
        ForgetTimer(message);
        Journal(message);
        return base.AroundReceive(receive, message);
    }

    // The inline journal takes each input as it is processed, so that what it holds is
    // exactly what the actor's state and reports reflect.
    private void Journal(object message)
    {
        if (_journal is not null && !_muted)
        {
            _journal.Append(Me, message);
        }
    }

    /// <summary>Forgets the armed timer whose message this is; false if none is.</summary>
    private bool ForgetTimer(object message)
    {
        if (_timers.Count == 0)
        {
            return false;
        }
        foreach (var (key, (timer, _)) in _timers)
        {
            if (Equals(timer, message))
            {
                _timers.Remove(key);
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Takes an envelope: a duplicate of one processed is acknowledged again and dropped;
    /// one that came early waits; the next in order is processed, acknowledged and
    /// journaled, and so are the early ones it lets through.
    /// </summary>
    private void OnEnvelope(Receive receive, Envelope e)
    {
        if (e.To != Me)
        {
            Context.GetLogger().Error("{0} got an envelope for {1} from {2}; dropped", Me, e.To, e.From);
            return;
        }
        if (!_received.TryGetValue(e.From, out var window))
        {
            window = new Window();
            _received[e.From] = window;
        }
        // The cluster's message figures (null elsewhere, and while replaying the journal):
        // each envelope counts once as a protocol message, the first time it arrives.
        var counter = _muted ? null : Env.Messages;
        if (e.Seq <= window.Contiguous)
        {
            counter?.Duplicate(MessageCounter.IsRemote(Sender));
            Acknowledge(e);
            return;
        }
        if (e.Seq > window.Contiguous + 1)
        {
            if ((window.Early ??= []).TryAdd(e.Seq, e))
            {
                counter?.Message(MessageCounter.IsRemote(Sender));
            }
            else
            {
                counter?.Duplicate(MessageCounter.IsRemote(Sender));
            }
            return;
        }
        counter?.Message(MessageCounter.IsRemote(Sender));
        while (true)
        {
            window.Contiguous = e.Seq;
            // An ack riding along is taken as the envelope is processed (and journaled), so that
            // a journaled actor's replay settles exactly what it settled.
            if (e.Acked > 0 && _ackedUpTo is not null)
            {
                TakeAcksUpTo(e.From, e.Acked);
            }
            Acknowledge(e);
            Journal(e);
            Process(receive, e);
            if (window.Early is null || !window.Early.Remove(window.Contiguous + 1, out var next))
            {
                return;
            }
            e = next;
        }
    }

    private void Acknowledge(Envelope e)
    {
        if (_muted)
        {
            return;
        }
        if (_owed is null)
        {
            Transmit(e.From, new Ack(Me, e.From, e.Seq));
            return;
        }
        _owed.Add(e.From);
        if (!_ackFlushPending)
        {
            _ackFlushPending = true;
            _self.Tell(AckFlush.Instance, _self);
        }
    }

    // --- acks -----------------------------------------------------------------------------
    //
    // One ack per envelope is the simple scheme (the deterministic and local runtimes, and
    // journaled entities, whose journal replays acks as they came). Coalesced
    // (DeliveryOptions.CoalescedAcks, the cluster): an actor that processed envelopes from a
    // sender owes it one ack, for everything up to its window's Contiguous. The ack rides on
    // the next envelope the actor sends that sender (a reply, usually, sent while the request
    // is being processed), or goes alone when AckFlush comes round: the actor tells itself
    // AckFlush when it first owes something, and the mailbox is FIFO, so by then it has
    // taken every message that was waiting. On the wire that halves the messages of a
    // request and its reply; under load one ack covers many envelopes.

    /// <summary>The envelope (To = peer, Seq = seq) is acknowledged: forget it. False if it was not waiting.</summary>
    private bool Settle(Endpoint peer, long seq)
    {
        if (!_unacked.Remove((peer, seq)))
        {
            return false;
        }
        if (_pending is not null && _pending.Remove((peer, seq), out var p) && p.Transmissions == 1 && !_muted)
        {
            SampleRoundTrip(Env.Elapsed().Ticks - p.Sent);
        }
        Env.InFlight.Add(-1);
        return true;
    }

    /// <summary>
    /// A cumulative ack: every envelope to the peer up to seq (never beyond what was sent) is
    /// acknowledged. False if it settled nothing.
    /// </summary>
    private bool TakeAcksUpTo(Endpoint peer, long seq)
    {
        if (!_sent.TryGetValue(peer, out var sent))
        {
            return false;
        }
        var from = _ackedUpTo!.GetValueOrDefault(peer);
        var upTo = Math.Min(seq, sent);
        var settled = false;
        for (var s = from + 1; s <= upTo; s++)
        {
            settled |= Settle(peer, s);
        }
        if (upTo > from)
        {
            _ackedUpTo![peer] = upTo;
        }
        return settled;
    }

    private void SendOwedAcks()
    {
        _ackFlushPending = false;
        foreach (var peer in _owed!)
        {
            Transmit(peer, new Ack(Me, peer, _received[peer].Contiguous));
        }
        _owed.Clear();
    }

    private void Process(Receive receive, Envelope e)
    {
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
        if (AddressedTo(e.Payload) is { } to && to != Me)
        {
            Context.GetLogger().Error("{0} got {1} meant for {2} from {3}; dropped", Me, e.Payload.GetType().Name, to, e.From);
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

    /// <summary>The entity a protocol message names as its receiver, if it names one.</summary>
    private static Endpoint? AddressedTo(object message) => message switch
    {
        IPageMessage m => Endpoint.Of(m.Page),
        IInodeMessage m => Endpoint.InodeOf(m.File),
        IMappingMessage m => Endpoint.MappingOf(m.File),
        ITaskMessage m => Endpoint.Of(m.Task),
        IDeviceMessage => Endpoint.Device,
        _ => null,
    };

    /// <summary>Messages may come from the network (reliable delivery): an entity checks them against its state.</summary>
    protected bool FromNetwork => _reliable;

    /// <summary>Logs a message that breaks the protocol and is dropped.</summary>
    protected void Refuse(object message, string why) =>
        Context.GetLogger().Error("{0} refused {1}: {2}", Me, message, why);

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

    /// <summary>How often unacknowledged messages are sent again (adaptive: the least timeout, and the timer's tick).</summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Each envelope is sent again only when its own timeout has passed, a timeout that
    /// follows the round-trip time of the acks and doubles with each retransmission (as TCP
    /// does), instead of every unacknowledged envelope on every tick. The cluster runtime sets
    /// it: under load its acks can take longer than a tick. The deterministic and local
    /// runtimes keep the fixed scheme, so that their seeds replay as before.
    /// </summary>
    public bool AdaptiveRetry { get; init; }

    /// <summary>
    /// One ack for all the envelopes a receiver has processed from a sender, sent when its
    /// mailbox has run dry or carried by the next envelope it sends that sender, instead of
    /// one ack per envelope (SimActor, "acks"). The cluster runtime sets it: every ack is a
    /// message between nodes. Not for journaled actors; the deterministic and local runtimes
    /// keep one ack per envelope, so that their seeds replay as before.
    /// </summary>
    public bool CoalescedAcks { get; init; }

    /// <summary>Adaptive: the timeout before the first round trip has been measured.</summary>
    public TimeSpan InitialRetryInterval { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Adaptive: the longest timeout (backoff stops doubling there).</summary>
    public TimeSpan MaxRetryInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The scenario's drop / duplicate / delay faults, applied to every transmission.</summary>
    public IReadOnlyList<MessageFault> MessageFaults { get; init; } = [];

    /// <summary>Seeds the fault decisions (each actor draws from its own stream).</summary>
    public ulong Seed { get; init; }
}

/// <summary>
/// Where a simulated run keeps its entities' inputs, so that an entity whose node crashed
/// can be started again from them (the deterministic runtime's stand-in for Akka.Persistence).
/// </summary>
public interface IEntityJournal
{
    void Append(Endpoint entity, object input);

    IReadOnlyList<object> Entries(Endpoint entity);
}

/// <summary>How many reliable messages are sent and not yet acknowledged, across a run: while any are, the run has not settled.</summary>
public sealed class InFlightCounter
{
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    public void Add(long delta) => Interlocked.Add(ref _count, delta);
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

/// <summary>
/// The reliable-delivery traffic one process's actors take in (the cluster runtime's
/// message figures, docs/cluster.md): each envelope the first time it arrives (one protocol
/// message), envelopes that arrive again (retransmissions the receiver had already), and
/// acks, each split by where the sender is: in this process ("local") or in another member
/// ("remote", between nodes); and the retransmissions this process's actors sent. The
/// receiver tells local from remote by the sender's reference (a reference to an actor of
/// another ActorSystem has a host in its address), so the count is exact wherever sharding
/// put the entity. One Interlocked increment per envelope or ack: nothing else on the hot path.
/// </summary>
public sealed class MessageCounter
{
    private long _local;
    private long _remote;
    private long _duplicatesLocal;
    private long _duplicatesRemote;
    private long _acksLocal;
    private long _acksRemote;
    private long _retransmissions;
    private long _batches;
    private long _batched;

    /// <summary>Whether the sender of a message is an actor of another ActorSystem (process).</summary>
    public static bool IsRemote(IActorRef? sender) => sender is not null && sender.Path.Address.HasGlobalScope;

    public void Message(bool remote) => Interlocked.Increment(ref remote ? ref _remote : ref _local);

    public void Duplicate(bool remote) => Interlocked.Increment(ref remote ? ref _duplicatesRemote : ref _duplicatesLocal);

    public void Ack(bool remote) => Interlocked.Increment(ref remote ? ref _acksRemote : ref _acksLocal);

    public void Retransmitted(int count) => Interlocked.Add(ref _retransmissions, count);

    /// <summary>A batch of this many envelopes and acks went to another member (the cluster's outbox).</summary>
    public void Batch(int items)
    {
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _batched, items);
    }

    public MessageCounts Snapshot() => new(Interlocked.Read(ref _local), Interlocked.Read(ref _remote),
        Interlocked.Read(ref _duplicatesLocal), Interlocked.Read(ref _duplicatesRemote),
        Interlocked.Read(ref _acksLocal), Interlocked.Read(ref _acksRemote), Interlocked.Read(ref _retransmissions),
        Interlocked.Read(ref _batches), Interlocked.Read(ref _batched));
}

/// <summary>
/// What a <see cref="MessageCounter"/> has counted so far (cumulative): protocol messages
/// (envelopes taken the first time) from this process and from others, envelopes that came
/// again, acks, and the retransmissions sent.
/// </summary>
public sealed record MessageCounts(long Local, long Remote, long DuplicatesLocal, long DuplicatesRemote,
    long AcksLocal, long AcksRemote, long Retransmissions, long Batches = 0, long Batched = 0)
{
    public static readonly MessageCounts Zero = new(0, 0, 0, 0, 0, 0, 0);

    public long Messages => Local + Remote;

    public MessageCounts Plus(MessageCounts o) => new(Local + o.Local, Remote + o.Remote,
        DuplicatesLocal + o.DuplicatesLocal, DuplicatesRemote + o.DuplicatesRemote, AcksLocal + o.AcksLocal,
        AcksRemote + o.AcksRemote, Retransmissions + o.Retransmissions, Batches + o.Batches, Batched + o.Batched);
}
