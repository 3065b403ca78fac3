using System.Reflection;
using Akka.Actor;
using Akka.Configuration;
using Akka.Serialization;
using DaxSim.Host.Cluster;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;
using Xunit;
using Envelope = DaxSim.Protocol.Messages.Envelope;
using Lock = DaxSim.Protocol.Messages.Lock;

namespace DaxSim.Tests.Cluster;

/// <summary>
/// What crosses processes, with the cluster's serialization settings (ClusterConfig): envelopes,
/// acks and trace batches through Hyperion (WireTypes), everything else through Akka's default
/// serializer for plain objects (Newtonsoft.Json). Every trace event type, the run protocol's
/// batches, envelopes with any protocol payload, and the journaled inputs must come back equal.
/// </summary>
public sealed class SerializationSpecs : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("serialization",
        ConfigurationFactory.ParseString("akka.loglevel = WARNING")
            .WithFallback(ClusterConfig.Runner(new NodeSettings { Port = 0 })));

    public void Dispose() => _system.Terminate().Wait(TimeSpan.FromSeconds(10));

    private T RoundTrip<T>(T value) where T : notnull
    {
        var serializer = _system.Serialization.FindSerializerFor(value);
        if (WireTypes.Bound.Contains(value.GetType()))
        {
            Assert.IsType<HyperionSerializer>(serializer);
        }
        else
        {
            Assert.IsType<NewtonSoftJsonSerializer>(serializer);
        }
        var bytes = serializer.ToBinary(value);
        return (T)serializer.FromBinary(bytes, value.GetType());
    }

    /// <summary>One instance of each TraceEvent record, with non-default values.</summary>
    public static IEnumerable<object[]> AllEvents() => typeof(TraceEvent).Assembly.GetTypes()
        .Where(t => t.IsSubclassOf(typeof(TraceEvent)) && !t.IsAbstract)
        .OrderBy(t => t.Name, StringComparer.Ordinal)
        .Select(t => new object[] { Sample(t) });

    private static object Sample(Type type)
    {
        var ctor = type.GetConstructors().OrderByDescending(c => c.GetParameters().Length).First();
        return ctor.Invoke(ctor.GetParameters().Select(p => Value(p.ParameterType)).ToArray());
    }

    /// <summary>One instance of each protocol message record (the payloads of envelopes), with non-default values.</summary>
    public static IEnumerable<object[]> AllMessages() => typeof(Envelope).Assembly.GetTypes()
        .Where(t => t.Namespace == typeof(Envelope).Namespace && t.IsPublic && !t.IsAbstract && !t.IsInterface &&
                    !t.IsEnum && !t.IsValueType && t != typeof(Envelope) && t != typeof(Ack))
        .OrderBy(t => t.Name, StringComparer.Ordinal)
        .Select(t => new object[] { Sample(t) });

    [Theory]
    [MemberData(nameof(AllMessages))]
    public void Every_protocol_message_comes_back_equal_inside_an_envelope(object payload)
    {
        var envelope = new Envelope(Endpoint.Of(new TaskId(1)), Endpoint.Of(new PageId(2)), 17, payload);
        var back = RoundTrip(envelope);
        Assert.Equal((envelope.From, envelope.To, envelope.Seq), (back.From, back.To, back.Seq));
        Assert.Equal(payload.GetType(), back.Payload.GetType());
        Assert.Equal(payload.ToString(), back.Payload.ToString());
    }

    [Fact]
    public void A_trace_batch_comes_back_with_its_message_counts()
    {
        var counts = new DaxSim.Transport.MessageCounts(1, 2, 3, 4, 5, 6, 7);
        var batch = new TraceBatch("run1", 1, 2, 3, [4], [new PagePut(new PageId(1), new TaskId(2), 1)], counts);
        Assert.Equal(counts, RoundTrip(batch).Counts);
        Assert.Null(RoundTrip(batch with { Counts = null }).Counts);
    }

    private static object? Value(Type t) => t switch
    {
        _ when t == typeof(TaskId) => new TaskId(3),
        _ when t == typeof(FileId) => new FileId(1),
        _ when t == typeof(PageId) => new PageId(5),
        _ when t == typeof(PageId?) => new PageId(6),
        _ when t == typeof(FileId?) => new FileId(2),
        _ when t == typeof(int) => 7,
        _ when t == typeof(long) => 8L,
        _ when t == typeof(bool) => true,
        _ when t == typeof(string) => "text",
        _ when t == typeof(ulong) => 9UL,
        _ when t == typeof(PageRange) => new PageRange(1, 2),
        _ when t == typeof(MmId) => new MmId(3),
        _ when t == typeof(Endpoint) => Endpoint.Of(new PageId(4)),
        _ when t == typeof(Endpoint?) => Endpoint.Device,
        _ when t == typeof(IReadOnlyList<PageId>) => new List<PageId> { new PageId(1), new PageId(2) },
        _ when t == typeof(LockKind?) => LockKind.MmapLock,
        _ when t == typeof(int?) => 11,
        _ when t == typeof(long?) => 12L,
        _ when t.IsEnum => Enum.GetValues(t).GetValue(Enum.GetValues(t).Length - 1),
        _ => throw new InvalidOperationException($"no sample value for {t}"),
    };

    [Theory]
    [MemberData(nameof(AllEvents))]
    public void Every_trace_event_comes_back_equal(TraceEvent e) => Assert.Equal(e, RoundTrip(e));

    [Fact]
    public void A_trace_batch_comes_back_with_its_events_and_stamps_in_order()
    {
        var events = AllEvents().Select(a => (TraceEvent)a[0]).ToArray();
        var batch = new TraceBatch("run1", 2, 9, 12345, events.Select((_, i) => 100L + i).ToArray(), events);
        var back = RoundTrip(batch);
        Assert.Equal(batch.Events, back.Events);
        Assert.Equal(batch.Stamps, back.Stamps);
        Assert.Equal((batch.RunId, batch.Node, batch.Seq, batch.Stamp), (back.RunId, back.Node, back.Seq, back.Stamp));
    }

    [Fact]
    public void Envelopes_acks_and_journaled_inputs_come_back_equal()
    {
        var payloads = new object[]
        {
            new GetPage(new PageId(2), new TaskId(1), new FileId(0), 3, 44, Speculative: true),
            new Allocated(new[] { new PageId(4), new PageId(5) }, 7),
            new Lock(new FileId(0), new TaskId(1), LockKind.MmapLock, LockMode.Exclusive, 9),
            new Free(new FileId(0), new List<PageId> { new PageId(1) }, 8),
            new TaskGone(new TaskId(1)),
            new PteValue(new FileId(0), 1, null, true, 3),
        };
        foreach (var payload in payloads)
        {
            var envelope = new Envelope(Endpoint.Of(new TaskId(1)), Endpoint.Of(new PageId(2)), 17, payload);
            var back = RoundTrip(envelope);
            Assert.Equal((envelope.From, envelope.To, envelope.Seq), (back.From, back.To, back.Seq));
            Assert.Equal(payload.GetType(), back.Payload.GetType());
            Assert.Equal(payload.ToString(), back.Payload.ToString());
            var journaled = RoundTrip(new JournaledInput(envelope, null));
            Assert.Equal(envelope.ToString(), journaled.Message.ToString());
        }
        Assert.Equal(new Ack(Endpoint.Device, Endpoint.Control(2), 5), RoundTrip(new Ack(Endpoint.Device, Endpoint.Control(2), 5)));
    }

    [Fact]
    public void Envelopes_and_acks_keep_their_incarnations_and_riding_ack_through_the_wire_and_the_journal()
    {
        var envelope = new Envelope(Endpoint.Of(new TaskId(1)), Endpoint.Of(new PageId(2)), 17, new TaskGone(new TaskId(1)),
            Acked: 4, FromIncarnation: 639_000_000_000_000_001, ToIncarnation: 639_000_000_000_000_002);
        var back = RoundTrip(envelope);
        Assert.Equal((envelope.Seq, envelope.Acked, envelope.FromIncarnation, envelope.ToIncarnation),
            (back.Seq, back.Acked, back.FromIncarnation, back.ToIncarnation));
        var journaled = (Envelope)RoundTrip(new JournaledInput(envelope, null)).Message;
        Assert.Equal((envelope.FromIncarnation, envelope.ToIncarnation), (journaled.FromIncarnation, journaled.ToIncarnation));
        var ack = new Ack(Endpoint.Device, Endpoint.Control(2), 0, 639_000_000_000_000_003, 7);
        Assert.Equal(ack, RoundTrip(ack));
    }
}
