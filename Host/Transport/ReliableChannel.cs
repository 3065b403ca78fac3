using DaxSim.Protocol.Messages;

namespace DaxSim.Transport;

/// <summary>What a <see cref="ReliableChannel"/> does to the world: its only outputs.</summary>
public interface IChannelLink
{
    /// <summary>One transmission of an envelope or an ack (the network may lose, copy or delay it).</summary>
    void Transmit(Endpoint to, object wire);

    /// <summary>The envelope is the next of its sender's: its payload is to be processed, once.</summary>
    void Deliver(Envelope envelope);

    /// <summary>Coalesced acks are owed: call <see cref="ReliableChannel.FlushAcks"/> once the messages waiting now are taken.</summary>
    void FlushLater();
}

/// <summary>What became of an envelope that arrived.</summary>
public enum Arrival
{
    /// <summary>Processed before (or waiting already): acknowledged again if processed, dropped.</summary>
    Duplicate,
    /// <summary>Ahead of a gap in its sender's order: kept, not acknowledged, until the gap fills.</summary>
    Early,
    /// <summary>Next in order: processed, with the early ones it let through.</summary>
    Delivered,
    /// <summary>From an older incarnation of its sender, or meant for an older incarnation of this endpoint: dropped, unacknowledged.</summary>
    Stale,
}

/// <summary>
/// Reliable delivery between one endpoint and its peers, as a plain state machine: no actor,
/// no clock of its own, no timer. Its inputs are the messages it is asked to send, the
/// envelopes and acks that arrive, and retransmission ticks (each with the time now, from
/// the clock it is given); its outputs go to an <see cref="IChannelLink"/>.
/// <list type="bullet">
/// <item>Sending: every message goes in an <see cref="Envelope"/> numbered per receiver
/// (1, 2, ...), kept until acknowledged and sent again on the ticks.</item>
/// <item>Receiving: each sender's envelopes are processed in the order it numbered them,
/// each once: a duplicate is acknowledged again and dropped; one that came early waits
/// (unacknowledged) until the gap before it fills. Because a receiver acknowledges only
/// what it processed, in order, an ack for n also means every envelope before n.</item>
/// <item>Acks: one per envelope, or coalesced (<see cref="DeliveryOptions.CoalescedAcks"/>):
/// a receiver owes a sender one ack for everything up to its window, which rides on the
/// next envelope it sends that sender or goes alone at the flush. Coalesced acks are taken
/// as cumulative, never beyond what was sent.</item>
/// <item>Retransmission: fixed (everything unacknowledged on every tick) or adaptive
/// (<see cref="DeliveryOptions.AdaptiveRetry"/>, RFC 6298: each envelope when its own
/// timeout has passed).</item>
/// <item>Replaying (a journaled endpoint rebuilding itself): the same state changes,
/// nothing transmitted, no round trip sampled; <see cref="Resend"/> afterwards sends what
/// is still unacknowledged.</item>
/// <item>Incarnations (Protocol/Messages/Reliable.cs): the channel has one, for its whole
/// life, and tags all it sends with it and with the peer's as far as it knows it. When it
/// hears of a newer incarnation of a peer (the peer was started again without a journal),
/// it starts the peer's window afresh and renumbers what it still has unacknowledged for
/// the peer from 1, for the new incarnation, and sends it at once: the new incarnation
/// knows nothing of the old numbering, and is owed what the old one did not acknowledge
/// (exactly once per incarnation; across a restart without a journal, what the old one
/// processed without its ack arriving is processed again by the new one, whose state
/// started afresh too). What comes from an older incarnation of a peer is dropped, and so
/// is what was meant for an older incarnation of this endpoint; an envelope of that kind
/// is answered with an ack of seq 0, which tells its sender this incarnation.</item>
/// </list>
/// </summary>
public sealed class ReliableChannel
{
    /// <summary>When an unacknowledged envelope was first sent, when it is due again, and how often it went out.</summary>
    private sealed class Pending
    {
        public long Sent;
        public long Due;
        public int Transmissions;
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

    private readonly Endpoint _me;
    private readonly DeliveryOptions _options;
    private readonly IChannelLink _link;
    private readonly Func<long> _now;
    private readonly InFlightCounter? _inFlight;
    private readonly Dictionary<Endpoint, long> _sent = new();
    private readonly Dictionary<Endpoint, Window> _received = new();
    private readonly SortedDictionary<(Endpoint To, long Seq), Envelope> _unacked = new();
    private readonly Dictionary<(Endpoint To, long Seq), Pending>? _pending;
    private readonly HashSet<Endpoint>? _owed;
    private readonly Dictionary<Endpoint, long>? _ackedUpTo;
    private readonly long _incarnation;
    private readonly Dictionary<Endpoint, long> _peers = new(); // the newest incarnation of each peer heard of
    private bool _flushPending;
    private double _srtt = -1;
    private double _rttvar;

    /// <param name="me">This endpoint.</param>
    /// <param name="options">Retransmission and ack schemes.</param>
    /// <param name="link">Where transmissions and deliveries go.</param>
    /// <param name="now">The time now, in ticks (read only by adaptive retransmission).</param>
    /// <param name="inFlight">Counts what is sent and not yet acknowledged, across a run.</param>
    /// <param name="ackEach">One ack per envelope even with coalesced acks (a journaled
    /// endpoint: its journal replays acks as they came); it still takes coalesced acks.</param>
    /// <param name="incarnation">This channel's incarnation (<see cref="Incarnations"/>; 0: none, as before they existed).</param>
    public ReliableChannel(Endpoint me, DeliveryOptions options, IChannelLink link, Func<long> now,
        InFlightCounter? inFlight = null, bool ackEach = false, long incarnation = 0)
    {
        _me = me;
        _incarnation = incarnation;
        _options = options;
        _link = link;
        _now = now;
        _inFlight = inFlight;
        if (options.AdaptiveRetry)
        {
            _pending = new Dictionary<(Endpoint, long), Pending>();
        }
        if (options.CoalescedAcks)
        {
            _ackedUpTo = new Dictionary<Endpoint, long>();
            if (!ackEach)
            {
                _owed = [];
            }
        }
    }

    /// <summary>Rebuilding from a journal: change state as usual, transmit nothing.</summary>
    public bool Replaying { get; set; }

    /// <summary>Envelopes sent and not yet acknowledged.</summary>
    public int Unacknowledged => _unacked.Count;

    /// <summary>Everything processed from this sender, in order, up to this seq.</summary>
    public long ProcessedFrom(Endpoint sender) => _received.TryGetValue(sender, out var w) ? w.Contiguous : 0;

    /// <summary>This channel's incarnation.</summary>
    public long Incarnation => _incarnation;

    /// <summary>The newest incarnation of the peer this channel has heard of (0: none).</summary>
    public long IncarnationOf(Endpoint peer) => _peers.GetValueOrDefault(peer);

    // --- sending ---------------------------------------------------------------------------

    /// <summary>Sends the payload in the next envelope to <paramref name="to"/> (not while replaying: <see cref="Resend"/> will).</summary>
    public Envelope Send(Endpoint to, object payload)
    {
        var seq = _sent.TryGetValue(to, out var last) ? last + 1 : 1;
        _sent[to] = seq;
        // An ack owed to the receiver rides along (coalesced acks), so none goes alone.
        var acked = _owed is not null && _owed.Remove(to) ? _received[to].Contiguous : 0;
        var envelope = new Envelope(_me, to, seq, payload, acked, _incarnation, _peers.GetValueOrDefault(to));
        _unacked[(to, seq)] = envelope;
        if (_pending is not null)
        {
            // Due at once when it is not sent now (replaying the journal: Resend sends it).
            var now = _now();
            _pending[(to, seq)] = new Pending { Sent = now, Due = Replaying ? long.MinValue : now + Rto().Ticks, Transmissions = 1 };
        }
        _inFlight?.Add(1);
        if (!Replaying)
        {
            _link.Transmit(to, envelope);
        }
        return envelope;
    }

    /// <summary>
    /// A retransmission tick: sends again what is due (fixed: every unacknowledged envelope;
    /// adaptive: those whose timeout has passed). Returns how many went.
    /// </summary>
    public int Resend()
    {
        if (_pending is not null)
        {
            return ResendDue();
        }
        foreach (var ((to, _), envelope) in _unacked)
        {
            _link.Transmit(to, envelope);
        }
        return _unacked.Count;
    }

    // --- adaptive retransmission ---------------------------------------------------------------
    //
    // The fixed scheme sends every unacknowledged envelope again on every tick: right for a
    // network that loses messages now and then and answers at once (the deterministic
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

    /// <summary>The retransmission timeout now (adaptive).</summary>
    public TimeSpan Rto()
    {
        if (_srtt < 0)
        {
            return _options.InitialRetryInterval;
        }
        var rto = TimeSpan.FromTicks((long)(_srtt + Math.Max(4 * _rttvar, TimeSpan.TicksPerMillisecond)));
        return rto < _options.RetryInterval ? _options.RetryInterval : rto > _options.MaxRetryInterval ? _options.MaxRetryInterval : rto;
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

    private int ResendDue()
    {
        var now = _now();
        var sent = 0;
        foreach (var ((to, seq), envelope) in _unacked)
        {
            var p = _pending![(to, seq)];
            if (p.Due > now)
            {
                continue;
            }
            _link.Transmit(to, envelope);
            sent++;
            p.Transmissions++;
            var backoff = Rto().Ticks << Math.Min(p.Transmissions - 1, MaxBackoffDoublings);
            p.Due = now + Math.Min(backoff, _options.MaxRetryInterval.Ticks);
        }
        return sent;
    }

    // --- receiving -------------------------------------------------------------------------

    /// <summary>
    /// Takes an envelope for this endpoint: a duplicate of one processed is acknowledged again
    /// and dropped; one that came early waits; the next in order is acknowledged and delivered,
    /// and so are the early ones it lets through.
    /// </summary>
    public Arrival Receive(Envelope e)
    {
        if (Admit(e.From, e.FromIncarnation, e.ToIncarnation, e.Seq) != Admission.Current)
        {
            return Arrival.Stale;
        }
        if (!_received.TryGetValue(e.From, out var window))
        {
            window = new Window();
            _received[e.From] = window;
        }
        if (e.Seq <= window.Contiguous)
        {
            Acknowledge(e);
            return Arrival.Duplicate;
        }
        if (e.Seq > window.Contiguous + 1)
        {
            return (window.Early ??= []).TryAdd(e.Seq, e) ? Arrival.Early : Arrival.Duplicate;
        }
        while (true)
        {
            window.Contiguous = e.Seq;
            // An ack riding along is taken as the envelope is processed (and journaled), so that
            // a journaled endpoint's replay settles exactly what it settled.
            if (e.Acked > 0 && _ackedUpTo is not null)
            {
                TakeAcksUpTo(e.From, e.Acked);
            }
            Acknowledge(e);
            _link.Deliver(e);
            if (window.Early is null || !window.Early.Remove(window.Contiguous + 1, out var next))
            {
                return Arrival.Delivered;
            }
            e = next;
        }
    }

    private void Acknowledge(Envelope e)
    {
        if (Replaying)
        {
            return;
        }
        if (_owed is null)
        {
            _link.Transmit(e.From, new Ack(_me, e.From, e.Seq, _incarnation, e.FromIncarnation));
            return;
        }
        _owed.Add(e.From);
        if (!_flushPending)
        {
            _flushPending = true;
            _link.FlushLater();
        }
    }

    /// <summary>Sends alone the coalesced acks that no envelope carried.</summary>
    public void FlushAcks()
    {
        _flushPending = false;
        if (_owed is null)
        {
            return;
        }
        foreach (var peer in _owed)
        {
            _link.Transmit(peer, new Ack(_me, peer, _received[peer].Contiguous, _incarnation, _peers.GetValueOrDefault(peer)));
        }
        _owed.Clear();
    }

    // --- acks -----------------------------------------------------------------------------

    /// <summary>
    /// Takes an ack for this endpoint: per envelope, or (coalesced) for every envelope up to
    /// its seq, never beyond what was sent. True if it changed the channel's state (it
    /// settled something, or told that its sender was started again): a journaled
    /// endpoint journals it then.
    /// </summary>
    public bool TakeAck(Ack a)
    {
        switch (Admit(a.From, a.FromIncarnation, a.ToIncarnation, seq: -1))
        {
            case Admission.Stale:
                return false;
            case Admission.Learned:
                return true; // meant for an older incarnation of this endpoint, but it told that its sender was started again
        }
        var learned = _learned;
        var settled = a.Seq > 0 && (_ackedUpTo is not null ? TakeAcksUpTo(a.From, a.Seq) : Settle(a.From, a.Seq));
        return settled || learned;
    }

    // --- incarnations -----------------------------------------------------------------------

    private enum Admission
    {
        /// <summary>For this incarnation, from the newest incarnation of its sender.</summary>
        Current,
        /// <summary>Dropped, but it told that its sender was started again.</summary>
        Learned,
        /// <summary>Dropped: from an older incarnation of its sender, or for an older incarnation of this endpoint.</summary>
        Stale,
    }

    private bool _learned; // the last Admit told of a peer started again (hearing of a peer the first time changes nothing that needs journaling)

    /// <summary>
    /// Whether what came from <paramref name="peer"/> (its incarnation <paramref name="from"/>,
    /// meant for this endpoint's <paramref name="to"/>) is taken. Hearing of a newer
    /// incarnation of the peer starts it afresh here first. An envelope (seq &gt; 0) meant for
    /// an older incarnation of this endpoint is answered with an ack of seq 0 that tells this one.
    /// </summary>
    private Admission Admit(Endpoint peer, long from, long to, long seq)
    {
        _learned = false;
        var known = _peers.GetValueOrDefault(peer);
        if (from < known)
        {
            return Admission.Stale;
        }
        if (from > known)
        {
            _peers[peer] = from;
            if (known != 0)
            {
                _learned = true;
                Restarted(peer, from);
            }
        }
        if (to == 0 || to == _incarnation)
        {
            return Admission.Current;
        }
        if (seq > 0 && to < _incarnation && !Replaying)
        {
            _link.Transmit(peer, new Ack(_me, peer, 0, _incarnation, from));
        }
        return _learned ? Admission.Learned : Admission.Stale;
    }

    /// <summary>
    /// The peer was started again as <paramref name="incarnation"/>: its window here starts
    /// afresh, no ack is owed to it, and what is unacknowledged for it is numbered again from
    /// 1, for the new incarnation, and sent at once.
    /// </summary>
    private void Restarted(Endpoint peer, long incarnation)
    {
        _received.Remove(peer);
        _owed?.Remove(peer);
        _ackedUpTo?.Remove(peer);
        var owed = new List<Envelope>();
        foreach (var (key, envelope) in _unacked)
        {
            if (key.To == peer)
            {
                owed.Add(envelope);
            }
        }
        _sent[peer] = owed.Count;
        var now = _pending is not null ? _now() : 0;
        for (var i = 0; i < owed.Count; i++)
        {
            var old = owed[i];
            _unacked.Remove((peer, old.Seq));
            _pending?.Remove((peer, old.Seq));
        }
        for (var i = 0; i < owed.Count; i++)
        {
            var renumbered = owed[i] with { Seq = i + 1, Acked = 0, ToIncarnation = incarnation };
            _unacked[(peer, i + 1)] = renumbered;
            if (_pending is not null)
            {
                _pending[(peer, i + 1)] = new Pending { Sent = now, Due = Replaying ? long.MinValue : now + Rto().Ticks, Transmissions = 1 };
            }
            if (!Replaying)
            {
                _link.Transmit(peer, renumbered);
            }
        }
    }

    /// <summary>The envelope (To = peer, Seq = seq) is acknowledged: forget it. False if it was not waiting.</summary>
    private bool Settle(Endpoint peer, long seq)
    {
        if (!_unacked.Remove((peer, seq)))
        {
            return false;
        }
        if (_pending is not null && _pending.Remove((peer, seq), out var p) && p.Transmissions == 1 && !Replaying)
        {
            SampleRoundTrip(_now() - p.Sent);
        }
        _inFlight?.Add(-1);
        return true;
    }

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

    /// <summary>The endpoint stopped: what it had in flight is gone with it.</summary>
    public void Close() => _inFlight?.Add(-_unacked.Count);
}
