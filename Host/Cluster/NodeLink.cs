using Akka.Actor;
using Akka.Event;
using DaxSim.Actors;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using Envelope = DaxSim.Protocol.Messages.Envelope;
using DaxSim.Transport;

namespace DaxSim.Host.Cluster;

/// <summary>
/// Envelopes and acks from one member to another, carried together: one remoting message
/// for as many as the sending member's actors had queued for that member by the time the
/// outbox got round to sending. Items: Envelope or Ack only.
/// </summary>
public sealed record WireBatch(object[] Items);

/// <summary>
/// A member's way out to the other members of a run. On a 2-core machine a remoting message
/// costs about 23 us of CPU (serialization, the endpoint writer and reader, the socket),
/// measured with nothing above it (bench --cluster, the raw Akka.Remote ping-pong), and
/// reliable delivery puts two on the wire per protocol message: the envelope and its ack.
/// So the protocol actors tell their envelopes and acks for another member to this actor
/// (the run's ClusterDirectory resolves such endpoints to it), and it sends them on as one
/// <see cref="WireBatch"/> per destination member.
///
/// When to send: the first item queued while nothing waits makes the outbox tell itself
/// <see cref="Flush"/>; the mailbox is FIFO, so by the time Flush comes round every item
/// that arrived before it is in the batch. An idle member sends at once (a batch of one, no
/// timer, no added latency); a busy one sends larger batches, as many items as came in while
/// it was busy (at most <see cref="MaxBatch"/>). Like Nagle's algorithm without its delay.
///
/// Nothing here is reliable or ordered beyond what remoting gives: a batch lost to a crash
/// or a partition is retransmitted item by item by the senders' reliable delivery, and the
/// receivers put each sender's envelopes back in order.
/// </summary>
public sealed class NodeOutbox : ReceiveActor
{
    /// <summary>Most items in one batch: bounds a batch at about 100 KB on the wire.</summary>
    public const int MaxBatch = 256;

    private sealed class Flush
    {
        public static readonly Flush Instance = new();
    }

    private readonly ClusterDirectory _directory;
    private readonly Dictionary<int, List<object>> _queued = new();
    private readonly MessageCounter? _counter;
    private bool _flushing;

    public NodeOutbox(ClusterDirectory directory, MessageCounter? counter)
    {
        _directory = directory;
        _counter = counter;
        Receive<Flush>(_ => SendAll());
        ReceiveAny(m =>
        {
            if (NodeInbox.RecipientOf(m) is { } to)
            {
                Queue(to, m);
            }
            else
            {
                Context.GetLogger().Error("outbox: dropped {0}, not an envelope or an ack", m.GetType().Name);
            }
        });
    }

    public static Props Props(ClusterDirectory directory, MessageCounter? counter) =>
        Akka.Actor.Props.Create(() => new NodeOutbox(directory, counter));

    private void Queue(Endpoint to, object item)
    {
        // The directory sends here only for another member; if that member is gone (or the
        // table changed meanwhile) the item goes the way it would have gone without us.
        if (_directory.NodeOf(to) is not { } node || _directory.InboxOf(node) is null)
        {
            _directory.Direct(to).Tell(item, Sender);
            return;
        }
        if (!_queued.TryGetValue(node, out var items))
        {
            items = new List<object>(16);
            _queued[node] = items;
        }
        items.Add(item);
        if (items.Count >= MaxBatch)
        {
            Send(node, items);
        }
        else if (!_flushing)
        {
            _flushing = true;
            Self.Tell(Flush.Instance);
        }
    }

    private void SendAll()
    {
        _flushing = false;
        foreach (var (node, items) in _queued)
        {
            if (items.Count > 0)
            {
                Send(node, items);
            }
        }
    }

    private void Send(int node, List<object> items)
    {
        if (_directory.InboxOf(node) is { } inbox)
        {
            inbox.Tell(new WireBatch(items.ToArray()), Self);
            _counter?.Batch(items.Count);
        }
        items.Clear();
    }
}

/// <summary>
/// A member's way in: takes the <see cref="WireBatch"/>es other members' outboxes send and
/// hands each item on within this member, to the task, the member's control actor, the
/// entity's actor when it lives here (ClusterDirectory.Direct), or else the run's shard region
/// (which finds the entity, here or wherever its shard now is). The sender of each item is
/// the remote outbox, so the receiver counts it as from another node. Anything else, a batch
/// of more than <see cref="NodeOutbox.MaxBatch"/> items, or an item that is not an envelope
/// or an ack is refused with a logged error and goes nowhere. An item for an entity is
/// checked here (RunEntities.RefuseReliable, as the entity's host checks what sharding
/// brings), since it goes to the entity without its host; the task checks its own.
/// </summary>
public sealed class NodeInbox : ReceiveActor
{
    public NodeInbox(ClusterDirectory directory, RunEntities entities)
    {
        var log = Context.GetLogger();
        Receive<WireBatch>(b =>
        {
            if (b.Items is not { Length: > 0 and <= NodeOutbox.MaxBatch } items)
            {
                log.Error("inbox: refused a batch of {0} items from {1}", b.Items?.Length ?? 0, Sender);
                return;
            }
            foreach (var item in items)
            {
                if (RecipientOf(item) is { } to)
                {
                    if (!to.IsEntity || !EntityHost.Refused(entities, to, item, log, Sender))
                    {
                        directory.Direct(to).Tell(item, Sender);
                    }
                }
                else
                {
                    log.Error("inbox: refused {0} in a batch from {1}: not an envelope or an ack",
                        NodeAgent.Describe(item), Sender);
                }
            }
        });
        ReceiveAny(m => log.Error("inbox: refused {0} from {1}: not a batch", NodeAgent.Describe(m), Sender));
    }

    public static Props Props(ClusterDirectory directory, RunEntities entities) =>
        Akka.Actor.Props.Create(() => new NodeInbox(directory, entities));

    /// <summary>Where an item of a batch goes: an envelope's or an ack's To; null for anything else.</summary>
    public static Endpoint? RecipientOf(object? item) => item switch
    {
        Envelope e => e.To,
        Ack a => a.To,
        _ => null,
    };
}
