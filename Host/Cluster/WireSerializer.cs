using DaxSim.Protocol.Messages;
using Envelope = DaxSim.Protocol.Messages.Envelope;

namespace DaxSim.Host.Cluster;

/// <summary>
/// What crosses processes most on the cluster runtime (envelopes and acks, in batches or alone, trace batches)
/// and the seed farm's messages go
/// through Hyperion, a binary serializer, instead of Akka's default Newtonsoft.Json one:
/// measured on this machine, an envelope's round trip through Newtonsoft takes about 6 times
/// as long and a trace batch of 50 events about 30 times (Newtonsoft's JSON with type names,
/// and a converter lookup by reflection for every value), which made serialization the
/// largest share of a member's CPU. The farm's messages (every IFarmMessage: <see cref="Farm"/>)
/// are few per unit, not per message of a run, but the farm coordinator reads and writes
/// four of them for every unit, and through Newtonsoft that was about 240 us of its member's
/// CPU per unit, nearly all the write of each UnitDone (its coverage arrays), against about 10 us
/// through Hyperion (docs/cluster.md, farm-bench); they are bound since protocol version 3.
/// Their actor refs (StartFarm.Runner, RequestUnit.Worker) go through Akka.Serialization.Hyperion's
/// surrogate for IActorRef (the ref's path with its address, resolved by the receiving
/// ActorSystem), as a JournaledInput's sender does. Settings (ClusterConfig.Serialization): no
/// reference preservation and no version tolerance (the members run one build, checked by
/// daxsim.protocol-version), and Hyperion's block of unsafe types on. Types travel by name
/// (an envelope is about 400 bytes, against 670 through Newtonsoft): declaring the protocol's
/// types as Hyperion known types (sent as numbers: 70 bytes, 10 times faster again) made
/// shard regions fail to register in every cluster run tried, for a reason not found yet.
/// Like Newtonsoft with type names, Hyperion can name other types, so only run members may
/// reach the port (docs/cluster.md, Security). A persistent entity's journaled inputs
/// (JournaledInput: an envelope, an ack or a timer's message, and its sender) are written
/// with Hyperion too: every one is serialized once, on the way to the journal. Everything
/// else (the run protocol's other messages) keeps the default serializer. Hyperion writes a record's
/// fields in order, without version tolerance: adding a field to Envelope or Ack (the
/// incarnations), or to a farm message (or the SystematicFarm and SystematicUnitDone they carry),
/// changes the wire format, so ClusterConfig.ProtocolVersion goes up with it,
/// and Tests/Cluster/SerializationSpecs round-trips every field.
/// </summary>
public static class WireTypes
{
    /// <summary>
    /// The seed farm's messages (FarmProtocol.cs), every type that implements IFarmMessage: a new
    /// one goes here too (SerializationSpecs fails for one that is not).
    /// </summary>
    public static readonly Type[] Farm =
    [
        typeof(StartFarm), typeof(RequestUnit), typeof(UnitLease), typeof(NoUnit), typeof(UnitDone), typeof(FarmFailed),
        typeof(EndFarm), typeof(UnitsReturned),
    ];

    /// <summary>The types bound to Hyperion: everything else in a cluster run keeps Newtonsoft.</summary>
    public static readonly Type[] Bound =
        [typeof(Envelope), typeof(Ack), typeof(WireBatch), typeof(TraceBatch), typeof(JournaledInput), .. Farm];
}
