using DaxSim.Protocol.Messages;

namespace DaxSim.Transport;

/// <summary>What a journaling shell does with one input for its entity.</summary>
public enum JournalDecision
{
    /// <summary>New to the entity: journal it, then hand it over.</summary>
    Journal,
    /// <summary>A copy of an envelope the entity has already taken: hand it over without journaling (the entity acknowledges it again and changes nothing).</summary>
    Forward,
    /// <summary>A copy of something already journaled and not yet handed over, or an ack that settles nothing new: drop it.</summary>
    Drop,
}

/// <summary>
/// The journaling shell's memory of what it has journaled, so that a retransmission is not
/// journaled again (plain code: no actor, no journal; the shell calls it).
/// <para>
/// Before it, the shell journaled every input, copies included. On a loaded cluster an
/// ack waits for two journal writes (the receiver journals the envelope, the sender the
/// ack), longer than the sender's retransmission timeout now and then; each retransmission
/// was one more journal write on the receiver's side, which made the next acks later still:
/// congestion collapse (measured: 65,147 retransmissions for 56,438 protocol messages, 225
/// messages/s between nodes). A copy costs nothing to journal because it changes nothing:
/// the entity's channel takes an envelope once (ReliableChannel.Receive) and an ack for what
/// it has settled not at all.
/// </para>
/// <list type="bullet">
/// <item>An envelope whose (sender, seq) was journaled before is a copy: if the original is
/// still on its way to the journal, the copy is dropped (the original's ack will answer
/// both); otherwise it goes to the entity unjournaled, which acknowledges it again (the
/// first ack may have been lost).</item>
/// <item>With cumulative acks (<see cref="DeliveryOptions.CoalescedAcks"/>: an ack for n
/// settles everything up to n), an ack from a peer for no more than one already journaled
/// from it settles nothing new and is dropped. Per-envelope acks are all journaled.</item>
/// <item>Incarnations (ReliableChannel): what comes from a former incarnation of a peer is
/// dropped; a newer incarnation starts that peer afresh, its envelopes numbered from 1
/// again.</item>
/// <item>Everything else (timers, control messages) is journaled.</item>
/// </list>
/// Replaying the journal (<see cref="Journaling"/> then <see cref="Handed"/> for each
/// entry) rebuilds the same memory.
/// </summary>
public sealed class JournalFilter(bool cumulativeAcks)
{
    /// <summary>
    /// What was journaled from one peer's newest incarnation: every envelope up to
    /// Contiguous, those in Above, and acks up to AckedUpTo.
    /// </summary>
    private sealed class Peer
    {
        public long Incarnation;
        public long Contiguous;
        public SortedSet<long>? Above;
        public long AckedUpTo;
    }

    private readonly Dictionary<Endpoint, Peer> _peers = new();
    private readonly HashSet<(Endpoint From, long Incarnation, long Seq)> _pending = [];

    /// <summary>Journaled envelopes not yet handed to the entity.</summary>
    public int Pending => _pending.Count;

    public JournalDecision Classify(object input)
    {
        switch (input)
        {
            case Envelope e when _peers.TryGetValue(e.From, out var peer) && e.FromIncarnation <= peer.Incarnation:
                if (e.FromIncarnation < peer.Incarnation)
                {
                    return JournalDecision.Drop; // a former incarnation's straggler: the entity drops it too
                }
                if (e.Seq <= peer.Contiguous || peer.Above?.Contains(e.Seq) == true)
                {
                    return _pending.Contains((e.From, e.FromIncarnation, e.Seq)) ? JournalDecision.Drop : JournalDecision.Forward;
                }
                return JournalDecision.Journal;
            case Ack a when _peers.TryGetValue(a.From, out var peer):
                if (a.FromIncarnation < peer.Incarnation)
                {
                    return JournalDecision.Drop;
                }
                return cumulativeAcks && a.FromIncarnation == peer.Incarnation && a.Seq <= peer.AckedUpTo
                    ? JournalDecision.Drop
                    : JournalDecision.Journal;
            default:
                return JournalDecision.Journal;
        }
    }

    /// <summary>
    /// An ack the entity may take before its journal write is done: one that settles what it
    /// sent a peer it already knows, and tells it of no peer started again (that changes how
    /// it numbers what it sends, so it is taken in journal order like an envelope).
    /// </summary>
    public bool SettlesOnly(Ack a) =>
        a.Seq > 0 && _peers.TryGetValue(a.From, out var peer) && a.FromIncarnation == peer.Incarnation;

    /// <summary>The input is going to the journal (or came back from it on recovery).</summary>
    public void Journaling(object input)
    {
        switch (input)
        {
            case Envelope e:
                var peer = PeerOf(e.From, e.FromIncarnation);
                if (e.Seq == peer.Contiguous + 1)
                {
                    peer.Contiguous = e.Seq;
                    while (peer.Above is { Count: > 0 } above && above.Min == peer.Contiguous + 1)
                    {
                        above.Remove(above.Min);
                        peer.Contiguous++;
                    }
                }
                else if (e.Seq > peer.Contiguous)
                {
                    (peer.Above ??= []).Add(e.Seq);
                }
                _pending.Add((e.From, e.FromIncarnation, e.Seq));
                break;
            case Ack a:
                var from = PeerOf(a.From, a.FromIncarnation);
                from.AckedUpTo = Math.Max(from.AckedUpTo, a.Seq);
                break;
        }
    }

    /// <summary>The journaled input has been handed to the entity.</summary>
    public void Handed(object input)
    {
        if (input is Envelope e)
        {
            _pending.Remove((e.From, e.FromIncarnation, e.Seq));
        }
    }

    /// <summary>The peer as this filter knows it; a newer incarnation starts afresh, as the entity's channel does.</summary>
    private Peer PeerOf(Endpoint endpoint, long incarnation)
    {
        if (!_peers.TryGetValue(endpoint, out var peer))
        {
            peer = new Peer { Incarnation = incarnation };
            _peers[endpoint] = peer;
        }
        else if (incarnation > peer.Incarnation)
        {
            _peers[endpoint] = peer = new Peer { Incarnation = incarnation };
        }
        return peer;
    }
}
