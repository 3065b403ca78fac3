using DaxSim.Host.Runs;

namespace DaxSim.Host.Deterministic;

/// <summary>
/// A 64-bit fingerprint of a deterministic run's state, taken at a scheduling choice or when no
/// actor is ready (a quiescent point): what the systematic search compares to tell that two
/// schedules have come to the same state, so that what follows is the same
/// (SystematicExplorer's reduction).
/// <para>
/// It is the sum, over actors, of a hash of each actor's own delivery history (sender, message
/// type and virtual time of every message it took, in its order), plus the virtual time, the
/// pending timers in firing order, and the ready actors in first-come order with the messages
/// waiting in each one's mailbox (sender and type, in order). The sum does not depend on how
/// the deliveries to different actors were interleaved: two schedules that differ only in the
/// order of independent deliveries (to different actors, with the same messages) come to the
/// same fingerprint, which is what partial-order reduction asks for. An actor is
/// deterministic, so its state is a function of its history; a message's content is a function
/// of its sender's history, which is in the fingerprint too (and messages between two actors
/// keep their order, so a waiting message is its sender's n-th to that receiver, n known from
/// both histories). The ready actors' first-come order is what the default schedule follows
/// from here, so it is part of the state. With fault injection or message faults, messages held
/// back are not in it: the search turns the reduction off there.
/// </para>
/// </summary>
internal sealed class StateFingerprint
{
    private ulong[] _history = new ulong[64];
    private ulong _sum;
    private ISchedulable[] _ready = new ISchedulable[16];

    public void Delivered(int receiver, int sender, Type message, long now)
    {
        if (receiver < 0)
        {
            return;
        }
        if (receiver >= _history.Length)
        {
            Array.Resize(ref _history, Math.Max(receiver + 1, _history.Length * 2));
        }
        var h = _history[receiver];
        if (h != 0)
        {
            _sum -= Term(h, receiver);
        }
        h = Mix(h ^ (ulong)(uint)sender);
        h = Mix(h ^ TraceLog.TypeId(message));
        h = Mix(h ^ (ulong)now);
        _history[receiver] = h;
        _sum += Term(h, receiver);
    }

    /// <summary>The state's key: the histories' sum, the clock, the timers and (when some are) the ready actors with their mailboxes.</summary>
    public ulong Key(long now, ulong timers, IReadOnlyList<ISchedulable> ready)
    {
        var key = Mix(Mix(_sum ^ (ulong)now) ^ timers);
        if (ready.Count == 0)
        {
            return key;
        }
        if (_ready.Length < ready.Count)
        {
            _ready = new ISchedulable[ready.Count * 2];
        }
        for (var i = 0; i < ready.Count; i++)
        {
            _ready[i] = ready[i];
        }
        Array.Sort(_ready, 0, ready.Count, ByReadyOrder.Instance);
        for (var i = 0; i < ready.Count; i++)
        {
            key = Mix(key ^ (ulong)(uint)_ready[i].Ordinal);
            key = _ready[i].MixPending(key);
        }
        Array.Clear(_ready, 0, ready.Count);
        return key;
    }

    private static ulong Term(ulong history, int actor) => Mix(history ^ Mix((ulong)actor + 0x9E3779B97F4A7C15UL));

    private sealed class ByReadyOrder : IComparer<ISchedulable>
    {
        public static readonly ByReadyOrder Instance = new();

        public int Compare(ISchedulable? x, ISchedulable? y) => x!.ReadyOrder.CompareTo(y!.ReadyOrder);
    }

    /// <summary>splitmix64's finalizer.</summary>
    internal static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
