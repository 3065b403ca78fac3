namespace DaxSim.Host.Deterministic;

/// <summary>
/// What one delivery did, as far as the order of deliveries is concerned: the actor that took
/// the message (<see cref="Actor"/>, its ordinal), the actors it sent to (<see cref="Sent"/>, in
/// order), how many actors joined the ready list because of it (<see cref="Joins"/>: receivers
/// made ready, and its own actor again when more messages wait), whether it emitted trace events
/// (<see cref="Events"/>: the invariant checker reads them in order), and whether it did anything
/// that is not local to its actor (<see cref="Global"/>: a timer set or fired, an actor created, a
/// system message, a stop, a failure, a mailbox held back). An actor is deterministic and its
/// mailbox is FIFO, so while it does not take a message, the delivery it would make next does
/// the same again: a footprint recorded in one run holds in another run at the same point.
/// </summary>
public readonly record struct Footprint(int Actor, int[] Sent, int Joins, bool Events, bool Global)
{
    /// <summary>No delivery: the choice point's default was not taken (its actor was asleep).</summary>
    public static readonly Footprint None = new(-1, [], 0, false, true);

    public bool IsNone => Actor < 0;
}

/// <summary>
/// The sleep set of one run of the systematic search (Godefroid, "Partial-Order Methods for the
/// Verification of Concurrent Systems", LNCS 1032, 1996, chapter 5), made sound under a delay bound.
/// <para>
/// Where a schedule deviates, at a state s, from its default delivery a to another delivery b,
/// the schedules that take a first were searched by its parent. a is put to sleep: as long as
/// every delivery taken since s is independent of a, taking a now would reach a state that
/// taking a at s, then the same deliveries, reaches too; so the run stops there instead
/// (<see cref="IsAsleep"/>; the result is Pruned). A delivery that is not independent of a
/// wakes it (<see cref="Ran"/>).
/// </para>
/// <para>
/// Independence here is over the whole state the search compares, scheduler included
/// (StateFingerprint): a and t commute when they are deliveries to different actors, neither is
/// <see cref="Footprint.Global"/>, they send to no common actor and not to each other, at most one
/// of them emits trace events (the checker sees them in order), and at most one adds actors to
/// the ready list (who joins first is the default order from there).
/// </para>
/// <para>
/// Under a bound, commuting is not enough: the schedule that takes a earlier must not cost more
/// delays than the one cut, or a search within k delays could cut a schedule whose stand-in is
/// beyond k (Coons, Musuvathi, McKinley, "Bounded partial-order reduction", OOPSLA 2013, show
/// this for preemption bounds). A delay costs the position of the actor taken in the default
/// order (SystematicStrategy). Swapping a forward over t, at the state before t, changes the
/// cost of the pair by [t ahead of a] - [a ahead of t], plus, against last-come order (where
/// actors that join go ahead of everyone), a's joins - t's joins. a stays asleep only when that is
/// at most 0; every swap then costs no more, and the stand-in schedule has at most the cut
/// one's delays and reaches the same state.
/// </para>
/// <para>
/// Only the default's own delivery at a deviation is put to sleep, not every actor ahead of
/// the one taken: its footprint is the parent's, recorded at that point
/// (<see cref="Steps"/>). A smaller sleep set cuts less and is still sound.
/// </para>
/// </summary>
internal sealed class SleepSet
{
    private readonly bool _lastCome;
    private readonly IReadOnlyList<Footprint> _skipped;
    private readonly List<(DeterministicQueue Actor, Footprint Step)> _asleep = [];

    // Recording (a schedule whose extensions are built from its run): every delivery, with the
    // clock when it was taken; the delivery taken at each choice point; the ready actors there.
    private readonly List<(Footprint Step, long Now)>? _deliveries;
    private readonly List<int>? _choiceDelivery;
    private readonly List<ReadyActor[]>? _readyAt;
    private Dictionary<int, List<int>>? _byActor;

    /// <param name="order">The default order the run's delays count against.</param>
    /// <param name="skipped">For each of the run's deviations, the footprint of the default delivery it skips (from the parent run), or <see cref="Footprint.None"/>.</param>
    /// <param name="record">Record each choice point's delivery and its sleeping positions, for this run's extensions.</param>
    public SleepSet(DefaultOrder order, IReadOnlyList<Footprint> skipped, bool record)
    {
        _lastCome = order == DefaultOrder.LastCome;
        _skipped = skipped;
        if (record)
        {
            Steps = [];
            AsleepPositions = [];
            _deliveries = [];
            _choiceDelivery = [];
            _readyAt = [];
        }
    }

    /// <summary>When recording: the delivery taken at each choice point (<see cref="Footprint.None"/> where the run stopped on a sleeping one).</summary>
    public List<Footprint>? Steps { get; }

    /// <summary>When recording: at each choice point, a bit per position (in default order, below 64) whose actor was asleep.</summary>
    public List<ulong>? AsleepPositions { get; }

    /// <summary>Whether the run must watch what each delivery does.</summary>
    public bool Watching => Steps is not null || _asleep.Count > 0;

    public int Count => _asleep.Count;

    /// <summary>The run stopped on a sleeping delivery.</summary>
    public bool Stopped { get; private set; }

    /// <summary>
    /// The strategy deviates, at its <paramref name="delay"/>-th delay, from the default delivery
    /// of <paramref name="actor"/>: it goes to sleep with its parent-recorded footprint.
    /// </summary>
    public void Skipped(ISchedulable actor, int delay)
    {
        if (delay >= _skipped.Count || _skipped[delay] is { IsNone: true } || actor is not DeterministicQueue queue)
        {
            return;
        }
        var step = _skipped[delay];
        if (queue.Ordinal != step.Actor)
        {
            throw new InvalidOperationException(
                $"the default delivery at delay {delay} was to actor {queue.Ordinal} here and to actor {step.Actor} in the parent run: the deterministic runtime is not deterministic");
        }
        if (!IsAsleep(queue))
        {
            _asleep.Add((queue, step));
        }
    }

    public bool IsAsleep(ISchedulable actor)
    {
        foreach (var (queue, _) in _asleep)
        {
            if (ReferenceEquals(queue, actor))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Before the delivery to <paramref name="chosen"/> (a choice point when <paramref name="choice"/>):
    /// false when it is asleep, and the run stops there.
    /// </summary>
    public bool Begin(ISchedulable chosen, IReadOnlyList<ISchedulable> ready, bool choice)
    {
        if (choice && _readyAt is not null)
        {
            AsleepPositions!.Add(Positions(ready));
            _readyAt.Add(InDefaultOrder(ready));
        }
        if (!IsAsleep(chosen))
        {
            return true;
        }
        if (choice && _readyAt is not null)
        {
            Steps!.Add(Footprint.None);
            _choiceDelivery!.Add(-1);
        }
        Stopped = true;
        return false;
    }

    /// <summary>
    /// After a delivery to <paramref name="actor"/>, which stood at <paramref name="readyOrder"/>
    /// before it ran, sent to <paramref name="sent"/>, added <paramref name="joins"/> actors to the
    /// ready list, and emitted trace events or not: every sleeping delivery it does not commute
    /// with at no extra cost wakes.
    /// </summary>
    public void Ran(int actor, List<int> sent, int joins, bool events, bool global, long readyOrder, long now, bool choice,
        DeterministicDriver driver)
    {
        if (_deliveries is not null)
        {
            var step = new Footprint(actor, [.. sent], joins, events, global);
            if (choice)
            {
                Steps!.Add(step);
                _choiceDelivery!.Add(_deliveries.Count);
            }
            _deliveries.Add((step, now));
        }
        for (var i = _asleep.Count - 1; i >= 0; i--)
        {
            var (queue, step) = _asleep[i];
            // Against first-come order the sleeper's joins matter only when the delivery taken had some.
            var asleepJoins = _lastCome || joins > 0 ? Joins(step, queue, driver) : 0;
            if (!StaysAsleep(step, queue.ReadyOrder, asleepJoins, actor,
                    System.Runtime.InteropServices.CollectionsMarshal.AsSpan(sent), joins, events, global, readyOrder, _lastCome))
            {
                _asleep.RemoveAt(i);
            }
        }
    }

    /// <summary>
    /// Whether sleeping delivery <paramref name="asleep"/> (its actor at <paramref name="asleepOrder"/>
    /// in the ready list, adding <paramref name="asleepJoins"/> actors to it were it taken now) stays
    /// asleep over the delivery just taken (to <paramref name="taken"/>, which stood at
    /// <paramref name="takenOrder"/> before it ran).
    /// </summary>
    internal static bool StaysAsleep(Footprint asleep, long asleepOrder, int asleepJoins, int taken,
        ReadOnlySpan<int> takenSent, int takenJoins, bool takenEvents, bool takenGlobal, long takenOrder, bool lastCome)
    {
        if (asleep.Global || takenGlobal || asleep.Actor == taken || (asleep.Events && takenEvents) ||
            Array.IndexOf(asleep.Sent, taken) >= 0 || takenSent.Contains(asleep.Actor))
        {
            return false;
        }
        foreach (var receiver in asleep.Sent)
        {
            if (takenSent.Contains(receiver))
            {
                return false;
            }
        }
        if (asleepJoins > 0 && takenJoins > 0)
        {
            return false;
        }
        var takenAhead = lastCome ? takenOrder > asleepOrder : takenOrder < asleepOrder;
        var extra = (takenAhead ? 1 : -1) + (lastCome ? asleepJoins - takenJoins : 0);
        return extra <= 0;
    }

    /// <summary>
    /// How many actors the sleeping delivery would add to the ready list if taken now: each
    /// receiver not ready now (counted once), and its own actor again if it has more messages or
    /// sends to itself. A receiver that could not be found counts: more joins only wake it sooner.
    /// </summary>
    private static int Joins(Footprint step, DeterministicQueue actor, DeterministicDriver driver) =>
        JoinsOf(step, actor.Count >= 2, receiver => driver.ByOrdinal(receiver) is { } queue && driver.Ready.Contains(queue));

    private static int JoinsOf(Footprint step, bool moreWaiting, Func<int, bool> ready)
    {
        var joins = moreWaiting || Array.IndexOf(step.Sent, step.Actor) >= 0 ? 1 : 0;
        for (var i = 0; i < step.Sent.Length; i++)
        {
            var receiver = step.Sent[i];
            if (receiver != step.Actor && Array.IndexOf(step.Sent, receiver, 0, i) < 0 && !ready(receiver))
            {
                joins++;
            }
        }
        return joins;
    }

    /// <summary>
    /// Whether the schedule that is this recorded run with one more delay, at choice point
    /// <paramref name="point"/> to the actor at <paramref name="position"/>, and no delay after,
    /// would stop at once on the delivery it puts off, so that it need not be run at all.
    /// <para>
    /// That schedule runs as this one up to the point, then takes b, the chosen actor's next
    /// delivery, with a, this run's delivery at the point, asleep; then its default is a again,
    /// taken while asleep, unless b woke it. b is the chosen actor's next delivery in this run,
    /// known here (the actor does not run in between, its mailbox is FIFO), if the clock did not
    /// move before it. Only when b emits no trace event is skipping the run the same as running
    /// it: the one state it would reach that no other schedule does, the one after b, then
    /// differs from the one before b only in what no invariant reads. Against last-come order,
    /// only when b adds no actor to the ready list (else the default after b is that actor).
    /// </para>
    /// </summary>
    public bool StopsAtOnce(int point, int position)
    {
        if (_readyAt is null || point >= _readyAt.Count || _choiceDelivery![point] < 0)
        {
            return false;
        }
        var ready = _readyAt[point];
        if (position >= ready.Length)
        {
            return false;
        }
        var a = Steps![point];
        var first = ready[0];
        var chosen = ready[position];
        var at = _choiceDelivery[point];
        if (a.Actor != first.Ordinal || NextDelivery(chosen.Ordinal, at) is not { } next ||
            _deliveries![next].Now != _deliveries[at].Now)
        {
            return false;
        }
        var b = _deliveries[next].Step;
        if (b.Events || b.Global)
        {
            return false;
        }
        var readyThen = new HashSet<int>(ready.Length);
        foreach (var r in ready)
        {
            readyThen.Add(r.Ordinal);
        }
        var bJoins = JoinsOf(b, chosen.MoreWaiting, readyThen.Contains);
        if (_lastCome && bJoins > 0)
        {
            return false;
        }
        // The ready list after b: b's actor gone, or back if it has more; b's receivers in.
        readyThen.Remove(chosen.Ordinal);
        if (chosen.MoreWaiting || Array.IndexOf(b.Sent, b.Actor) >= 0)
        {
            readyThen.Add(chosen.Ordinal);
        }
        foreach (var receiver in b.Sent)
        {
            readyThen.Add(receiver);
        }
        var afterB = readyThen;
        return StaysAsleep(a, first.ReadyOrder, JoinsOf(a, first.MoreWaiting, afterB.Contains), chosen.Ordinal,
            b.Sent, bJoins, b.Events, b.Global, chosen.ReadyOrder, _lastCome);
    }

    // The index of the first delivery to the actor at or after delivery `from`, in this run.
    // The default schedule's run is asked from every worker: the index is built once, whole, then shared.
    private int? NextDelivery(int actor, int from)
    {
        var byActor = LazyInitializer.EnsureInitialized(ref _byActor, () =>
        {
            var index = new Dictionary<int, List<int>>();
            for (var i = 0; i < _deliveries!.Count; i++)
            {
                var who = _deliveries[i].Step.Actor;
                if (!index.TryGetValue(who, out var list))
                {
                    index[who] = list = [];
                }
                list.Add(i);
            }
            return index;
        });
        if (!byActor.TryGetValue(actor, out var indices))
        {
            return null;
        }
        var k = indices.BinarySearch(from);
        k = k < 0 ? ~k : k;
        return k < indices.Count ? indices[k] : null;
    }

    /// <summary>A ready actor at a recorded choice point: its ordinal, when it joined, and whether more than one message waited.</summary>
    private readonly record struct ReadyActor(int Ordinal, long ReadyOrder, bool MoreWaiting);

    private ReadyActor[] InDefaultOrder(IReadOnlyList<ISchedulable> ready)
    {
        var actors = new ReadyActor[ready.Count];
        for (var i = 0; i < ready.Count; i++)
        {
            var r = ready[i];
            actors[i] = new ReadyActor(r.Ordinal, r.ReadyOrder, r is DeterministicQueue { Count: >= 2 });
        }
        Array.Sort(actors, (x, y) => _lastCome ? y.ReadyOrder.CompareTo(x.ReadyOrder) : x.ReadyOrder.CompareTo(y.ReadyOrder));
        return actors;
    }

    // The positions, in default order, of the sleeping actors among the ready ones.
    private ulong Positions(IReadOnlyList<ISchedulable> ready)
    {
        ulong mask = 0;
        foreach (var (queue, _) in _asleep)
        {
            var ahead = 0;
            foreach (var other in ready)
            {
                if (_lastCome ? other.ReadyOrder > queue.ReadyOrder : other.ReadyOrder < queue.ReadyOrder)
                {
                    ahead++;
                }
            }
            if (ahead < 64)
            {
                mask |= 1UL << ahead;
            }
        }
        return mask;
    }
}
