using DaxSim.Host.Runs;

namespace DaxSim.Host.Deterministic;

/// <summary>
/// A 64-bit fingerprint of a deterministic run's state when no actor is ready (a quiescent
/// point): what the systematic search compares to tell that two schedules have come to the
/// same state, so that what follows is the same (SystematicExplorer's reduction).
/// <para>
/// It is the sum, over actors, of a hash of each actor's own delivery history (sender, message
/// type and virtual time of every message it took, in its order), plus the virtual time and
/// the pending timers in firing order. The sum does not depend on how the deliveries to
/// different actors were interleaved: two schedules that differ only in the order of
/// independent deliveries (to different actors, with the same messages) come to the same
/// fingerprint, which is what partial-order reduction asks for. An actor is deterministic, so
/// its state is a function of its history; a message's content is a function of its sender's
/// history, which is in the fingerprint too. With no actor ready, every mailbox is empty (no
/// message held back: the search turns this off under message faults and fault injection).
/// </para>
/// </summary>
internal sealed class StateFingerprint
{
    private ulong[] _history = new ulong[64];

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
        h = Mix(h ^ (ulong)(uint)sender);
        h = Mix(h ^ TraceLog.TypeId(message));
        _history[receiver] = Mix(h ^ (ulong)now);
    }

    public ulong Key(long now, ulong timers)
    {
        ulong sum = 0;
        for (var i = 0; i < _history.Length; i++)
        {
            if (_history[i] != 0)
            {
                sum += Mix(_history[i] ^ Mix((ulong)i + 0x9E3779B97F4A7C15UL));
            }
        }
        return Mix(Mix(sum ^ (ulong)now) ^ timers);
    }

    /// <summary>splitmix64's finalizer.</summary>
    internal static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
