using Akka.Actor;
using Akka.Serialization;
using DaxSim.Actors;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;
using Envelope = DaxSim.Protocol.Messages.Envelope;

namespace DaxSim.Host.Cluster;

/// <summary>
/// What crosses processes most on the cluster runtime (envelopes, acks, trace batches) goes
/// through Hyperion, a binary serializer, instead of Akka's default Newtonsoft.Json one:
/// measured on this machine, an envelope's round trip through Newtonsoft takes about 6 times
/// as long and a trace batch of 50 events about 30 times (Newtonsoft's JSON with type names,
/// and a converter lookup by reflection for every value), which made serialization the
/// largest share of a member's CPU. Settings (ClusterConfig.Serialization): no
/// reference preservation and no version tolerance (the members run one build, checked by
/// daxsim.protocol-version), the types below known to every process (sent as a number, not
/// a name: an envelope is 70 bytes instead of 670), and Hyperion's block of unsafe types on.
/// Like Newtonsoft with type names, Hyperion can name other types, so only run members may
/// reach the port (docs/cluster.md, Security). Everything else (the run protocol's other
/// messages, journaled inputs) keeps the default serializer.
/// </summary>
public static class WireTypes
{
    /// <summary>The types bound to Hyperion: everything else in a cluster run keeps Newtonsoft.</summary>
    public static readonly Type[] Bound = [typeof(Envelope), typeof(Ack), typeof(TraceBatch)];

    /// <summary>
    /// Every DaxSim type that can appear inside them, in one fixed order (by full name): the
    /// wire types, the ids, every protocol message and trace event, and the collections they use.
    /// </summary>
    public static readonly IReadOnlyList<Type> Known = BuildKnown();

    private static Type[] BuildKnown()
    {
        var protocol = typeof(Envelope).Assembly.GetTypes()
            .Where(t => t.IsPublic && !t.IsAbstract && !t.IsInterface && !t.IsGenericTypeDefinition &&
                        (t.Namespace == typeof(Envelope).Namespace || t.Namespace == typeof(TraceEvent).Namespace) &&
                        !typeof(Delegate).IsAssignableFrom(t))
            .Concat([typeof(TaskId), typeof(FileId), typeof(PageId), typeof(PageRange), typeof(OpKind), typeof(Errno), typeof(Verdict)]);
        var extra = new[]
        {
            typeof(TraceBatch), typeof(MessageCounts), typeof(TraceEvent[]), typeof(long[]), typeof(PageId[]),
            typeof(List<PageId>), typeof(PageId?), typeof(FileId?), typeof(TaskId?),
        };
        return protocol.Concat(extra).Distinct().OrderBy(t => t.FullName, StringComparer.Ordinal).ToArray();
    }
}

/// <summary>Hyperion's known types for the cluster (akka.actor.serialization-settings.hyperion.known-types-provider).</summary>
public sealed class WireKnownTypes : IKnownTypesProvider
{
    public WireKnownTypes(ExtendedActorSystem system)
    {
    }

    public IEnumerable<Type> GetKnownTypes() => WireTypes.Known;
}
