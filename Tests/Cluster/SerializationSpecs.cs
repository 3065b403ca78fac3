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
/// acks, trace batches, journaled inputs and the seed farm's messages through Hyperion (WireTypes),
/// everything else through Akka's default serializer for plain objects (Newtonsoft.Json). Every
/// trace event type, the run protocol's batches, envelopes with any protocol payload, the journaled
/// inputs and every farm message (every field, arrays, nested records and actor refs) must come
/// back equal.
/// </summary>
public sealed class SerializationSpecs : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("serialization",
        ConfigurationFactory.ParseString("akka.loglevel = WARNING")
            .WithFallback(ClusterConfig.Runner(new NodeSettings { Port = 0 })));

    public void Dispose() => _system.Terminate().Wait(TimeSpan.FromSeconds(10));

    private ExtendedActorSystem Extended => (ExtendedActorSystem)_system;

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

    // ---- The seed farm's messages (FarmProtocol.cs), bound to Hyperion since protocol version 3.

    /// <summary>Every type of the farm protocol: those that implement IFarmMessage.</summary>
    private static Type[] FarmTypes() => typeof(IFarmMessage).Assembly.GetTypes()
        .Where(t => typeof(IFarmMessage).IsAssignableFrom(t) && t is { IsInterface: false, IsAbstract: false })
        .OrderBy(t => t.Name, StringComparer.Ordinal)
        .ToArray();

    [Fact]
    public void Every_farm_message_type_is_bound_to_Hyperion()
    {
        var types = FarmTypes();
        Assert.Equal(8, types.Length); // StartFarm, RequestUnit, UnitLease, NoUnit, UnitDone, FarmFailed, EndFarm, UnitsReturned
        Assert.Equal(types.Select(t => t.Name), WireTypes.Farm.Select(t => t.Name).Order(StringComparer.Ordinal));
        Assert.All(types, t => Assert.Contains(t, WireTypes.Bound));
        Assert.All(types, t => Assert.IsType<HyperionSerializer>(_system.Serialization.FindSerializerForType(t)));
        // Members and the runner get the same bindings.
        var block = ClusterConfig.Serialization();
        Assert.Contains(block, ClusterConfig.MemberHocon(new NodeSettings { Port = 0 }));
        Assert.Contains(block, ClusterConfig.RunnerHocon(new NodeSettings { Port = 0 }));
        Assert.All(types, t => Assert.Contains($"\"{t.FullName}, {t.Assembly.GetName().Name}\" = hyperion", block));
    }

    /// <summary>A remote worker's ref, as a member's RequestUnit names it to the coordinator on another member.</summary>
    private IActorRef RemoteRef(string name) => Extended.Provider.ResolveActorRef(
        $"{ClusterConfig.Protocol}://{ClusterConfig.DefaultClusterName}@127.0.0.1:4999/user/agent/{name}#424242");

    /// <summary>One of each farm message (and of each nested record's use), every field set to a value not its type's default.</summary>
    private Dictionary<string, IFarmMessage> FarmSamples()
    {
        var local = _system.ActorOf(Props.Empty, "farm-runner");
        var totals = Enumerable.Range(1, DaxSim.Host.Runs.Coverage.BranchCount).Select(i => 1_000L * i).ToArray();
        var reaching = Enumerable.Range(1, DaxSim.Host.Runs.Coverage.BranchCount).Select(i => (long)i).ToArray();
        var systematic = new SystematicFarm(3, 42, 5_000, true, [1, 2, 2], [0, 0, 1], [4, 5, 6], [1, 2, 1]) { SleepSets = true };
        var unitDone = new UnitDone("farm-1", 5, 501, 100, 60, 560, 0xDEAD_BEEF_0123_4567, 1, 98_765, 60, totals, reaching, 2)
        {
            Systematic = new SystematicUnitDone(2, 1, 7, 2, 50, 40, [1, 10, 50], 3, true, [7, 9], [1, 2]) { Slept = 4, SleptUnrun = 2 },
        };
        var startFarm = new StartFarm("farm-1", "{ \"name\": \"tiny\" }", "tiny.json", "seed-v7", "systematic", 3, 40, true, 11, 12,
            13, 2, 30_000, local, [1, 4, 9], 77) { Systematic = systematic };
        return new Dictionary<string, IFarmMessage>
        {
            ["StartFarm"] = startFarm,
            ["StartFarm of a seed farm"] = startFarm with { Systematic = null, StopAt = null, Done = [], Runner = RemoteRef("runner") },
            ["RequestUnit"] = new RequestUnit("farm-1", RemoteRef("farm-worker"), 2) { Ahead = true },
            ["RequestUnit from this system"] = new RequestUnit("farm-1", local, 0),
            ["UnitLease"] = new UnitLease("farm-1", 5, 501, 100, 1) { Depth = 2, Order = 1, Point = 7, Position = 2 },
            ["NoUnit"] = new NoUnit("farm-1", 3, true),
            ["UnitDone"] = unitDone,
            ["UnitDone of a clean seed unit"] = unitDone with { ViolatingSeed = null, Systematic = null },
            ["FarmFailed"] = new FarmFailed("farm-1", 1, "bad variant 'no-such-variant'"),
            ["EndFarm"] = new EndFarm("farm-1"),
            ["UnitsReturned"] = new UnitsReturned("farm-1", "akka.trttl.tcp://daxsim@127.0.0.1:4054", [3, 4], "expired"),
        };
    }

    public static IEnumerable<object[]> FarmSampleNames() =>
    [
        ["StartFarm"], ["StartFarm of a seed farm"], ["RequestUnit"], ["RequestUnit from this system"], ["UnitLease"], ["NoUnit"],
        ["UnitDone"], ["UnitDone of a clean seed unit"], ["FarmFailed"], ["EndFarm"], ["UnitsReturned"],
    ];

    /// <summary>Through the serializer remoting picks for it, as remoting does it: actor refs written with this system's address.</summary>
    private object OverTheWire(object message, out byte[] bytes)
    {
        var serializer = _system.Serialization.FindSerializerFor(message);
        Assert.IsType<HyperionSerializer>(serializer);
        var written = Akka.Serialization.Serialization.WithTransport(Extended, () => serializer.ToBinary(message));
        bytes = written;
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
        return _system.Serialization.Deserialize(written, serializer.Identifier, manifest);
    }

    [Fact]
    public void Every_farm_message_type_has_a_sample_with_every_field_set()
    {
        var samples = FarmSamples();
        Assert.Equal(FarmSampleNames().Select(n => (string)n[0]).Order(), samples.Keys.Order());
        Assert.Equal(FarmTypes(), samples.Values.Select(m => m.GetType()).Distinct().OrderBy(t => t.Name, StringComparer.Ordinal));
        // The first sample of each type sets every field (and every field of the records it carries),
        // so that a field the wire drops (left at its type's default on the way back) is seen.
        foreach (var type in FarmTypes())
        {
            AssertEveryFieldSet(samples.Values.First(m => m.GetType() == type), type.Name);
        }
    }

    [Theory]
    [MemberData(nameof(FarmSampleNames))]
    public void Every_farm_message_comes_back_with_every_field_through_Hyperion(string sample)
    {
        var message = FarmSamples()[sample];
        var back = OverTheWire(message, out _);
        AssertSameFields(message, back, sample);
    }

    [Fact]
    public void A_farm_message_s_actor_ref_travels_with_its_address_and_comes_back_as_the_same_actor()
    {
        var worker = _system.ActorOf(Props.Empty, "farm-worker-1");
        var request = new RequestUnit("farm-1", worker, 0);
        var back = (RequestUnit)OverTheWire(request, out var bytes);
        // Written with this system's remote address (a member elsewhere can answer it), resolved here to the local actor.
        var address = Extended.Provider.DefaultAddress.ToString();
        Assert.StartsWith(ClusterConfig.Protocol + "://", address);
        Assert.Contains(address + "/user/farm-worker-1", System.Text.Encoding.UTF8.GetString(bytes));
        Assert.Same(worker, back.Worker);
        // Another member's worker: a remote ref with that member's address and the actor's uid.
        var remote = RemoteRef("farm-worker");
        var fromAfar = (RequestUnit)OverTheWire(new RequestUnit("farm-1", remote, 1), out _);
        Assert.Equal(remote.Path.ToSerializationFormat(), fromAfar.Worker.Path.ToSerializationFormat());
        Assert.Equal(424242, fromAfar.Worker.Path.Uid);
        Assert.Equal(remote, fromAfar.Worker);
    }

    [Fact]
    public void Junk_bytes_for_a_farm_message_are_refused_with_a_serialization_exception_not_a_crash()
    {
        var serializer = _system.Serialization.FindSerializerForType(typeof(UnitDone));
        var good = Akka.Serialization.Serialization.WithTransport(Extended, () => serializer.ToBinary(FarmSamples()["UnitDone"]));
        var typeName = System.Text.Encoding.UTF8.GetBytes("DaxSim.Host.Cluster.UnitDone");
        var renamed = (byte[])good.Clone();
        renamed[good.AsSpan().IndexOf(typeName) + 3] ^= 0xFF;
        var junk = new Dictionary<string, byte[]>
        {
            ["cut short"] = good[..(good.Length / 2)],
            ["0xFF bytes"] = Enumerable.Repeat((byte)0xFF, 64).ToArray(),
            ["nothing"] = [],
            ["a type this process does not have"] = renamed,
        };
        // Each a SerializationException, which Akka.Remote's endpoint reader logs and drops, the
        // association kept (it lets other exceptions through, and restarts the association).
        foreach (var (what, bytes) in junk)
        {
            var e = Record.Exception(() => _system.Serialization.Deserialize(bytes, serializer.Identifier, ""));
            Assert.True(e is System.Runtime.Serialization.SerializationException, $"{what}: {e?.GetType().Name ?? "no exception"}: {e?.Message}");
        }
        // The serializer works on after them.
        Assert.Equal(5, ((UnitDone)_system.Serialization.Deserialize(good, serializer.Identifier, "")).Unit);
    }

    /// <summary>Every field of <paramref name="message"/> (and of the records it carries) is not its type's default; arrays are not empty.</summary>
    private static void AssertEveryFieldSet(object message, string path)
    {
        foreach (var field in message.GetType().GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            var name = $"{path}.{field.Name}";
            var value = field.GetValue(message);
            Assert.True(value is not null, $"{name} is null in the sample");
            var type = field.FieldType;
            if (type.IsValueType && Nullable.GetUnderlyingType(type) is null)
            {
                Assert.False(value!.Equals(Activator.CreateInstance(type)), $"{name} is its type's default in the sample");
            }
            if (value is Array array)
            {
                Assert.True(array.Length > 0, $"{name} is empty in the sample");
                Assert.Contains(array.Cast<object>(), v => !v.Equals(Activator.CreateInstance(type.GetElementType()!)));
            }
            if (value is SystematicFarm or SystematicUnitDone)
            {
                AssertEveryFieldSet(value, name);
            }
        }
    }

    /// <summary>Field by field: values equal, arrays element by element, actor refs the same actor (path and uid), nested records recursively.</summary>
    private static void AssertSameFields(object expected, object? actual, string path)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.GetType(), actual.GetType());
        foreach (var field in expected.GetType().GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            var name = $"{path}.{field.Name}";
            var e = field.GetValue(expected);
            var a = field.GetValue(actual);
            switch (e)
            {
                case null:
                    Assert.True(a is null, $"{name}: null went, {a} came back");
                    break;
                case IActorRef r:
                    Assert.True(a is IActorRef, $"{name}: an actor ref went, {a} came back");
                    Assert.Equal(r.Path.ToSerializationFormat(), ((IActorRef)a!).Path.ToSerializationFormat());
                    Assert.Equal(r, a);
                    break;
                case Array array:
                    Assert.True(a is Array, $"{name}: an array went, {a} came back");
                    Assert.Equal(array.GetType(), a!.GetType());
                    Assert.Equal(array.Cast<object>(), ((Array)a).Cast<object>());
                    break;
                case SystematicFarm or SystematicUnitDone:
                    AssertSameFields(e, a, name);
                    break;
                default:
                    Assert.True(e.Equals(a), $"{name}: {e} went, {a} came back");
                    break;
            }
        }
    }
}
