using System.Runtime.CompilerServices;
using DaxSim.Host.Runs;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;
using Xunit;

namespace DaxSim.Tests.Runtime;

/// <summary>
/// The trace fingerprint that replay files hold: FNV-1a over 64-bit words, the words being
/// each delivery's receiver and sender ordinals and the FNV-1a hash of its message type name,
/// and each event's type name hash. The log caches the
/// type names' hashes; whatever the cache does, the fingerprint must be that one.
/// </summary>
public sealed class TraceLogSpecs
{
    private const ulong Offset = 14695981039346656037UL;
    private const ulong Prime = 1099511628211UL;

    private static ulong Mix(ulong h, ulong value) => (h ^ value) * Prime;

    private static ulong NameHash(Type t)
    {
        var id = Offset;
        foreach (var c in t.FullName!)
        {
            id = (id ^ c) * Prime;
        }
        return id;
    }

    [Fact]
    public void The_fingerprint_must_be_fnv_over_ordinals_and_type_names_whatever_the_order_of_types()
    {
        // Every protocol message and trace event type: more than the log's cache has slots
        // for without collisions, in an order that revisits them, so that entries are evicted
        // and looked up again.
        var messages = typeof(Unlock).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && t.Namespace == typeof(Unlock).Namespace &&
                        !t.IsGenericTypeDefinition)
            .ToList();
        var events = typeof(TraceEvent).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && t.IsSubclassOf(typeof(TraceEvent)))
            .ToList();
        Assert.True(messages.Count + events.Count > 64, $"{messages.Count} + {events.Count} types");
        var rng = new Random(7);
        var log = new TraceLog(tailSize: 4, keepText: false);
        var expected = Offset;
        for (var i = 0; i < 5_000; i++)
        {
            if (rng.Next(2) == 0)
            {
                var type = messages[rng.Next(messages.Count)];
                var (receiver, sender) = (rng.Next(100), rng.Next(-1, 100));
                log.Delivery(i, "r", receiver, "s", sender, RuntimeHelpers.GetUninitializedObject(type));
                expected = Mix(Mix(Mix(expected, (ulong)receiver), (uint)sender), NameHash(type));
            }
            else
            {
                var type = events[rng.Next(events.Count)];
                log.Event(i, (TraceEvent)RuntimeHelpers.GetUninitializedObject(type));
                expected = Mix(expected, NameHash(type));
            }
        }

        Assert.Equal(expected, log.Hash);
    }
}
