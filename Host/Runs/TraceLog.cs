using System.Runtime.CompilerServices;
using System.Text;
using DaxSim.Protocol.Trace;

namespace DaxSim.Host.Runs;

/// <summary>
/// The record of a run as it goes: a rolling fingerprint of every delivery and event
/// (always kept, cheap), the last few entries (for a violation report), and optionally
/// the whole trace as text. Entries are formatted only when asked for.
/// </summary>
public sealed class TraceLog(int tailSize, bool keepText, bool keepEntries = false)
{
    private readonly record struct Entry(long Time, string? Receiver, string? Sender, object Item);

    private readonly List<TraceEntry>? _entries = keepEntries ? [] : null;

    private const ulong FnvOffset = 14695981039346656037UL;
    private const ulong FnvPrime = 1099511628211UL;

    private readonly Entry[] _tail = new Entry[tailSize];
    private readonly StringBuilder? _text = keepText ? new StringBuilder() : null;
    private long _count;
    private int _next; // the tail's slot for the next entry: _count modulo its length, without a division

    public ulong Hash { get; private set; } = FnvOffset;

    public void Delivery(long time, string receiver, int receiverOrdinal, string sender, int senderOrdinal,
        object message)
    {
        Mix((ulong)receiverOrdinal);
        Mix((ulong)(uint)senderOrdinal);
        Mix(TypeId(message.GetType()));
        Add(new Entry(time, receiver, sender, message));
    }

    public void Event(long time, TraceEvent e)
    {
        Mix(TypeId(e.GetType()));
        Add(new Entry(time, null, null, e));
    }

    private void Add(in Entry entry)
    {
        _entries?.Add(new TraceEntry(entry.Time, entry.Receiver, entry.Sender, entry.Item));
        _tail[_next] = entry;
        _next = _next + 1 == _tail.Length ? 0 : _next + 1;
        _count++;
        _text?.AppendLine(Format(entry));
    }

    // FNV-1a over 64-bit words, not bytes: one multiply per value, on every delivery (three
    // values) and every event. (Byte by byte it was 6% of a seed's time.)
    private void Mix(ulong value) => Hash = (Hash ^ value) * FnvPrime;

    // A type's fingerprint depends on its name alone, so it is computed once per process, not
    // once per run, and kept in one table shared by every log (explore's workers run logs on
    // several threads). The table is open-addressed, at most half full, and never evicts: a
    // process sees a few dozen message and event types, and this lookup is on every delivery
    // and every event. A slot, once set, never changes: its fingerprint is written before its
    // type is published, so a reader that finds the type needs no lock.
    private struct TypeSlot
    {
        public Type? Type;
        public ulong Id;
    }

    private const int TypeSlotBits = 10;
    private const int TypeSlotMask = (1 << TypeSlotBits) - 1;
    private static readonly TypeSlot[] TypeSlots = new TypeSlot[1 << TypeSlotBits];
    private static readonly Lock TypeSlotsGate = new();
    private static int _typeSlotsUsed;

    // Fibonacci hashing of the method table's address: its low bits are alignment.
    private static int TypeSlotOf(Type type) =>
        (int)(((ulong)type.TypeHandle.Value * 0x9E3779B97F4A7C15UL) >> (64 - TypeSlotBits));

    internal static ulong TypeId(Type type)
    {
        for (var i = TypeSlotOf(type); ; i = (i + 1) & TypeSlotMask)
        {
            ref var slot = ref TypeSlots[i];
            var known = Volatile.Read(ref slot.Type);
            if (ReferenceEquals(known, type))
            {
                return slot.Id;
            }
            if (known is null)
            {
                return AddType(type);
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ulong AddType(Type type)
    {
        var id = NameFingerprint(type);
        lock (TypeSlotsGate)
        {
            if (_typeSlotsUsed >= TypeSlots.Length / 2)
            {
                return id; // more types than any run has: not kept, so a free slot ends every search
            }
            for (var i = TypeSlotOf(type); ; i = (i + 1) & TypeSlotMask)
            {
                ref var slot = ref TypeSlots[i];
                if (ReferenceEquals(slot.Type, type))
                {
                    return slot.Id;
                }
                if (slot.Type is null)
                {
                    slot.Id = id;
                    Volatile.Write(ref slot.Type, type);
                    _typeSlotsUsed++;
                    return id;
                }
            }
        }
    }

    // Types that moved when the transport left Actors/ (issue 13) are fingerprinted by the
    // name they had, so that recorded hashes (replay files, the golden spec) still match.
    private static readonly Dictionary<string, string> FormerNames = new()
    {
        ["DaxSim.Transport.TimerFired"] = "DaxSim.Actors.TimerFired",
        ["DaxSim.Transport.Replayed"] = "DaxSim.Actors.Replayed",
        ["DaxSim.Transport.RecoveryDone"] = "DaxSim.Actors.RecoveryDone",
        ["DaxSim.Transport.TransportTick"] = "DaxSim.Actors.SimActor+RetryTick",
        ["DaxSim.Transport.ReliableDelivery+AckFlush"] = "DaxSim.Actors.SimActor+AckFlush",
    };

    private static ulong NameFingerprint(Type type)
    {
        var id = FnvOffset;
        var name = type.FullName ?? type.Name;
        foreach (var c in FormerNames.GetValueOrDefault(name, name))
        {
            id = (id ^ c) * FnvPrime;
        }
        return id;
    }

    public string? Text => _text?.ToString();

    /// <summary>Every entry so far, when asked for at construction.</summary>
    public IReadOnlyList<TraceEntry>? Entries => _entries;

    public IReadOnlyList<string> Tail()
    {
        var n = (int)Math.Min(_count, _tail.Length);
        var list = new List<string>(n);
        for (var i = _count - n; i < _count; i++)
        {
            list.Add(Format(_tail[i % _tail.Length]));
        }
        return list;
    }

    public static string FormatTime(long ticks) => $"{ticks / 10_000_000}.{ticks % 10_000_000:D7}s";

    private static string Format(in Entry e) => e.Item is TraceEvent ev
        ? $"{FormatTime(e.Time)}  event    {ev}"
        : $"{FormatTime(e.Time)}  deliver  {e.Sender} -> {e.Receiver}: {e.Item}";
}

/// <summary>
/// One entry of a run's trace: a delivery (Receiver and Sender set, Item the message) or an
/// event (both null, Item a TraceEvent), at Time in 100 ns ticks.
/// </summary>
public sealed record TraceEntry(long Time, string? Receiver, string? Sender, object Item);
