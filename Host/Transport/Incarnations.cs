namespace DaxSim.Transport;

/// <summary>
/// Where a reliable channel's incarnation comes from (Protocol/Messages/Reliable.cs says
/// what incarnations are for). A journaled entity has one incarnation for the whole run,
/// <see cref="Durable"/>: its channel's windows and unacknowledged messages come back from
/// its journal with it. Every other channel draws a fresh one as it starts: on the
/// deterministic runtime from a counter of the run (so that its traces stay the same), else
/// from <see cref="Fresh"/>.
/// </summary>
public static class Incarnations
{
    /// <summary>The incarnation of a journaled entity: the same each time it recovers.</summary>
    public const long Durable = 1;

    private static long _last;

    /// <summary>
    /// A fresh incarnation, newer than any this process drew before: the wall clock's UTC
    /// ticks (about 6e17, far above <see cref="Durable"/>), or one more than the last one drawn.
    /// An entity started again without a journal starts on another member, seconds after its
    /// node crashed, so its new incarnation is newer than the old one as long as the members'
    /// clocks agree to within that (members of one machine, or of one container host, share a
    /// clock).
    /// </summary>
    public static long Fresh()
    {
        var now = DateTime.UtcNow.Ticks;
        while (true)
        {
            var last = Volatile.Read(ref _last);
            var next = Math.Max(now, last + 1);
            if (Interlocked.CompareExchange(ref _last, next, last) == last)
            {
                return next;
            }
        }
    }

    /// <summary>A counter for one run (1, 2, ...): deterministic, for the deterministic runtime.</summary>
    public static Func<long> Counter()
    {
        long next = 0;
        return () => ++next;
    }
}
