namespace DaxSim.Protocol.Messages;

// Reliable delivery between protocol actors, for runs whose messages may be lost,
// duplicated or delayed (message faults, partitions, node crashes, the cluster runtime).
//
// Every protocol message then travels inside an Envelope that names its sender and its
// receiver by entity (not by actor reference: a sharded entity may move to another node
// and come back from its journal), with a sequence number per sender and receiver pair.
// The receiver acknowledges every envelope, processes each sequence number once and
// drops the duplicates; the sender keeps what is not acknowledged and sends it again
// until it is. Runs without such faults send the bare messages.
//
// Incarnations: an endpoint's numbering, windows and unacknowledged messages live as long
// as its channel does. An entity that is started again without a journal (its node
// crashed, no persistence) starts a new channel, numbered from 1 again; so every envelope
// and ack names the incarnation of its sender (FromIncarnation) and of the receiver it was
// meant for, as far as its sender knows (ToIncarnation, 0 while it has heard nothing from
// it). A receiver that hears of a newer incarnation of a peer starts that peer's window
// afresh and sends what it still owes the peer again, numbered for the new incarnation;
// what comes from an older incarnation, or was meant for an older incarnation of the
// receiver, is dropped. A journaled entity recovering from its journal keeps its
// incarnation: its channel's state comes back with it. 0 is an endpoint without
// incarnations (a member's control actor, which numbers its own envelopes).

public enum EndpointKind : byte
{
    Task,
    Inode,
    Mapping,
    Page,
    Device,
    /// <summary>The run's own control actor on a node (id = node index): SimulationRoot, a cluster node's agent.</summary>
    Control,
}

/// <summary>A protocol actor by entity: what a message is addressed to when refs cannot be trusted.</summary>
public readonly record struct Endpoint(EndpointKind Kind, int Id) : IComparable<Endpoint>
{
    public static Endpoint Of(TaskId task) => new(EndpointKind.Task, task.Value);

    public static Endpoint Of(PageId page) => new(EndpointKind.Page, page.Value);

    public static Endpoint InodeOf(FileId file) => new(EndpointKind.Inode, file.Value);

    public static Endpoint MappingOf(FileId file) => new(EndpointKind.Mapping, file.Value);

    public static readonly Endpoint Device = new(EndpointKind.Device, 0);

    public static Endpoint Control(int node) => new(EndpointKind.Control, node);

    /// <summary>The run's own control actor, outside every node (SimulationRoot, the cluster runtime's runner).</summary>
    public static readonly Endpoint Runner = new(EndpointKind.Control, -1);

    /// <summary>Entities live in shards; tasks and control actors live on one node and die with it.</summary>
    public bool IsEntity => Kind is EndpointKind.Inode or EndpointKind.Mapping or EndpointKind.Page or EndpointKind.Device;

    public int CompareTo(Endpoint other) => Kind != other.Kind ? Kind.CompareTo(other.Kind) : Id.CompareTo(other.Id);

    public override string ToString() => Kind switch
    {
        EndpointKind.Task => $"task-{Id}",
        EndpointKind.Inode => $"inode-{Id}",
        EndpointKind.Mapping => $"mapping-{Id}",
        EndpointKind.Page => $"page-{Id}",
        EndpointKind.Device => "device",
        _ when Id < 0 => "runner",
        _ => $"control-{Id}",
    };

    /// <summary>Parses what ToString wrote; null for anything else (entity ids that arrive from the network are checked).</summary>
    public static Endpoint? Parse(string text)
    {
        if (text == "device")
        {
            return Device;
        }
        if (text == "runner")
        {
            return Runner;
        }
        var dash = text.LastIndexOf('-');
        if (dash <= 0 || !int.TryParse(text.AsSpan(dash + 1), System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out var id))
        {
            return null;
        }
        EndpointKind? kind = text[..dash] switch
        {
            "task" => EndpointKind.Task,
            "inode" => EndpointKind.Inode,
            "mapping" => EndpointKind.Mapping,
            "page" => EndpointKind.Page,
            "control" => EndpointKind.Control,
            _ => null,
        };
        return kind is { } k ? new Endpoint(k, id) : null;
    }
}

/// <summary>
/// A protocol message in transit with reliable delivery: the Seq-th message from
/// incarnation FromIncarnation of From to To (from 1, no gaps). Answered by Ack; processed
/// once however often it arrives. Acked: with coalesced acks (the cluster), an ack riding
/// along for the other direction: every envelope from incarnation ToIncarnation of To to
/// From up to this seq has been processed (0: none). ToIncarnation: the receiver's
/// incarnation as its sender knows it (0: not heard from yet).
/// </summary>
public sealed record Envelope(Endpoint From, Endpoint To, long Seq, object Payload, long Acked = 0,
    long FromIncarnation = 0, long ToIncarnation = 0);

/// <summary>
/// Receiver → sender: the Seq-th envelope from incarnation ToIncarnation of To to From
/// arrived (From is the receiver, in its incarnation FromIncarnation). Receivers process
/// each sender's envelopes in order and acknowledge only those, so an ack for Seq also
/// means every earlier one has been processed: with coalesced acks one ack stands for all
/// of them. Seq 0 acknowledges nothing: a receiver started again tells a sender that is
/// still numbering for its former incarnation that it is new.
/// </summary>
public sealed record Ack(Endpoint From, Endpoint To, long Seq, long FromIncarnation = 0, long ToIncarnation = 0);

/// <summary>
/// The task's node was removed from the cluster (crashed, or downed after a partition):
/// as process exit does, the entity gives back what the task held there (pins, PTEs,
/// locks and lock requests, idle waits, leases) and takes nothing more from it.
/// Sent to every entity, inside an Envelope, by the control actor that saw the removal.
/// </summary>
public sealed record TaskGone(TaskId Task);
