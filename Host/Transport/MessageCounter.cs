using Akka.Actor;

namespace DaxSim.Transport;

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
