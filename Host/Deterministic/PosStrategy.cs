using DaxSim.Protocol;

namespace DaxSim.Host.Deterministic;

/// <summary>
/// Partial order sampling (Yuan, Yang, Gu: "Partial Order Aware Concurrency Sampling", CAV 2018),
/// for actor deliveries.
/// <para>
/// The idea: give every pending event, not every thread, a random priority, and always run the
/// highest. Priorities that stay fixed while an event waits hold it back for long stretches, as
/// PCT does, which is what reaches the orderings random walks almost never produce (a random walk
/// picks a long-waiting event again at every step, so it rarely waits long). But fixed priorities
/// also tie together choices that have nothing to do with each other. POS keeps that only where
/// it costs nothing: after an event runs, every pending event that <em>races</em> with it (whose
/// order against it changes what happens) gets a fresh random priority, so the order of two
/// racing events is a new coin toss each time one of them could go first; events that do not
/// race keep their priorities, and their relative order, which changes nothing, is not sampled
/// again and again. The paper shows that this samples every partial order of the events with a
/// probability bounded from below, where a random walk favours some partial orders exponentially
/// over others.
/// </para>
/// <para>
/// Here an event is one delivery: the message at the head of a ready actor's mailbox. Its
/// priority is drawn when the strategy first sees that delivery (a new actor, an actor that was
/// idle and got a message, or an actor whose previous message has just run: mailboxes are FIFO, so
/// <see cref="ISchedulable.Delivered"/> names the head), and it keeps it until it runs or races.
/// </para>
/// <para>
/// Which deliveries race. Two deliveries to the same actor are never both ready (a mailbox is in
/// the ready list once, with its head), so "same receiving actor", read strictly, would make every
/// pair of ready deliveries independent, and POS would be plain random priorities. What actually
/// races in an actor program is the order in which messages from different senders reach one
/// mailbox, and that order is set by the deliveries whose handlers send them. A handler in this
/// model mostly answers the actor that sent it its message (a lock grant to the task that asked, a
/// page's reference count to the task that pins it), and sends requests to the actors it is
/// talking with. So a delivery is read as touching two actors: its receiver, and its sender (where
/// the answer goes). After delivery <c>s → x</c> is chosen, a ready delivery <c>t → y</c> races
/// with it when the two share an actor: <c>y = s</c> (the sender, which the answer will reach, has
/// a delivery of its own pending), <c>t = x</c> (it came from the actor that now runs, which will
/// send more), or <c>t = s</c> (both came from the same actor and will both answer it: two pages
/// answering one task, two tasks' grants from one inode). Those get fresh priorities; the chosen
/// actor's next delivery is a new event and gets one when it is next seen. Deliveries without a
/// sender in the run (timers) race with nothing but their receiver.
/// </para>
/// <para>
/// What it needs beyond <see cref="ISchedulable.Ordinal"/>: the sender of each ready actor's head
/// message and the actor's delivery count, read once per new delivery (a peek at the mailbox
/// head), never by random or pct, so the runtime's cost per delivery is one counter increment.
/// </para>
/// </summary>
public sealed class PosStrategy : IScheduleStrategy
{
    private readonly Rng _rng;
    private readonly bool _races;

    // By actor ordinal: the priority of its pending delivery, which delivery that is (Delivered + 1;
    // 0 = none seen yet), and that delivery's sender (-1 = none in the run).
    private ulong[] _priority = new ulong[64];
    private long[] _event = new long[64];
    private int[] _sender = new int[64];

    public PosStrategy(ulong seed) : this(seed, races: true)
    {
    }

    /// <summary><paramref name="races"/> false: random priorities per delivery without re-drawing racing ones (the paper's basic variant, for comparison).</summary>
    internal PosStrategy(ulong seed, bool races)
    {
        _rng = Rng.ForStream(seed, 6);
        _races = races;
    }

    public string Name => Strategies.Pos;

    /// <summary>How many priorities were drawn again because their delivery raced with the one chosen.</summary>
    public long Redrawn { get; private set; }

    /// <summary>The priority of the pending delivery of the actor with <paramref name="ordinal"/> (for tests).</summary>
    internal ulong PriorityOf(int ordinal) => _priority[ordinal];

    /// <summary>The sender recorded for the pending delivery of the actor with <paramref name="ordinal"/> (for tests).</summary>
    internal int SenderOf(int ordinal) => _sender[ordinal];

    public int Choose(IReadOnlyList<ISchedulable> ready)
    {
        var best = -1;
        ulong bestPriority = 0;
        for (var i = 0; i < ready.Count; i++)
        {
            var actor = ready[i];
            var o = actor.Ordinal;
            if (o >= _priority.Length)
            {
                Grow(o);
            }
            var delivery = actor.Delivered + 1;
            if (_event[o] != delivery)
            {
                _event[o] = delivery;
                _priority[o] = _rng.NextULong();
                _sender[o] = actor.SenderOrdinal;
            }
            // Ties (one in 2^64) go to the first in the ready list: still a function of the seed.
            if (best < 0 || _priority[o] > bestPriority)
            {
                best = i;
                bestPriority = _priority[o];
            }
        }
        if (_races)
        {
            var x = ready[best].Ordinal;
            var s = _sender[x];
            for (var i = 0; i < ready.Count; i++)
            {
                if (i == best)
                {
                    continue;
                }
                var o = ready[i].Ordinal;
                var t = _sender[o];
                if ((s >= 0 && (o == s || t == s)) || t == x)
                {
                    _priority[o] = _rng.NextULong();
                    Redrawn++;
                }
            }
        }
        return best;
    }

    private void Grow(int ordinal)
    {
        var size = Math.Max(ordinal + 1, _priority.Length * 2);
        Array.Resize(ref _priority, size);
        Array.Resize(ref _event, size);
        Array.Resize(ref _sender, size);
    }
}
