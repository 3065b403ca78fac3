using DaxSim.Protocol;
namespace DaxSim.Host.Deterministic;

/// <summary>What a strategy sees of one ready actor: identities that are the same in every process.</summary>
public interface ISchedulable
{
    /// <summary>The actor's creation order within its run: fixed by the scenario, never by a hash or an actor uid.</summary>
    int Ordinal { get; }

    /// <summary>The actor's name within its run.</summary>
    string Name { get; }

    /// <summary>
    /// When the actor joined the ready list this time, counted from the start of the run: the
    /// smallest is the actor that has waited longest. The systematic search's default schedule
    /// runs actors in this order (first come, first served).
    /// </summary>
    long ReadyOrder => Ordinal;

    /// <summary>
    /// The <see cref="Ordinal"/> of the actor that sent the message this actor takes next, or -1
    /// when it has none or its sender is not an actor of the run (the run's host, no sender).
    /// Read from the head of the mailbox only when a strategy asks (pos does; random and pct never).
    /// </summary>
    int SenderOrdinal => -1;

    /// <summary>
    /// How many messages the actor has taken so far in its run: with <see cref="Ordinal"/>, it names
    /// the delivery the actor would make next (mailboxes are FIFO, so the head changes only by a
    /// delivery). A strategy that gives priorities to deliveries, not actors, tells a new one by it.
    /// </summary>
    long Delivered => 0;

    /// <summary>
    /// <paramref name="seed"/> mixed with the messages waiting in the actor's mailbox, in order
    /// (each one's sender and type): the part of the state a fingerprint of the run needs beyond
    /// the actors' histories (StateFingerprint). Read only by the reduced systematic search.
    /// </summary>
    ulong MixPending(ulong seed) => seed;
}

/// <summary>Picks which ready actor runs next. Every choice it makes is recorded so that a run can be replayed.</summary>
public interface IScheduleStrategy
{
    /// <summary>The name used on the command line, in reports and in traces.</summary>
    string Name { get; }

    /// <summary>
    /// Choose one of the ready actors (at least 2), by position in <paramref name="ready"/>, the
    /// driver's ready list. The position is what a schedule records.
    /// </summary>
    int Choose(IReadOnlyList<ISchedulable> ready);
}

/// <summary>The strategies the command line knows, and how to make one.</summary>
public static class Strategies
{
    public const string Random = "random";
    public const string Pct = "pct";
    public const string Pos = "pos";

    /// <summary>
    /// The systematic search's schedules (explore --strategy systematic --bound k). Run on its own
    /// (run --strategy systematic, or past the end of a replayed schedule) it is the default
    /// schedule the search counts delays against: the ready actor that has waited longest runs first.
    /// </summary>
    public const string Systematic = "systematic";

    public static readonly string[] Names = [Random, Pct, Systematic, Pos];

    /// <summary>
    /// The strategy <paramref name="name"/> for one run of <paramref name="seed"/>. For pct, a
    /// <paramref name="pctDepth"/> of 0 means drawn from the seed (<see cref="PctStrategy.DrawDepth"/>).
    /// </summary>
    public static IScheduleStrategy Create(string name, ulong seed, int pctDepth, long pctSteps) => name switch
    {
        Random => new RandomStrategy(seed),
        Pct => new PctStrategy(seed, pctDepth == 0 ? PctStrategy.DrawDepth(seed) : pctDepth, pctSteps),
        Systematic => new SystematicStrategy([]),
        Pos => new PosStrategy(seed),
        _ => throw new ArgumentException($"unknown strategy '{name}'"),
    };
}

/// <summary>Uniformly random among the ready actors.</summary>
public sealed class RandomStrategy(ulong seed) : IScheduleStrategy
{
    private readonly Rng _rng = Rng.ForStream(seed, 1);

    public string Name => Strategies.Random;

    public int Choose(IReadOnlyList<ISchedulable> ready) => _rng.Next(ready.Count);
}

/// <summary>
/// Probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte: "A
/// Randomized Scheduler with Probabilistic Guarantees of Finding Bugs", ASPLOS 2010), with
/// actors in place of threads as in Coyote and P. Each actor gets a random priority, distinct
/// from every other, the first time the strategy sees it ready; the highest-priority ready
/// actor always runs. At <c>depth - 1</c> change points, steps drawn uniformly from
/// [1, <c>steps</c>] before the run starts, the actor that would run is moved below every
/// other actor (a later change point puts its actor lower still), and the choice is made
/// again. A bug that needs <c>d</c> ordering constraints between actors is found with
/// probability at least 1 / (n · k^(d-1)) per seed, for n actors and k steps, where random
/// scheduling gives no such bound.
/// <para>
/// A step is one scheduling choice (a point where at least two actors are ready), so
/// <c>steps</c> should be the number of choices a run of the scenario makes. When it is not
/// given, the runtime takes the longest of several probe runs (see
/// <see cref="DeterministicRuntime.EstimatePctSteps"/>): a change point drawn past the end of a
/// short run is lost, but one that can never fall in the last part of a long run misses every
/// bug that needs an actor held back there. Actors created during the run are placed at a random
/// rank among the actors not yet demoted, so a demoted actor stays below every actor that was
/// never demoted, as in the paper.
/// </para>
/// <para>
/// The depth is fixed (<c>--pct-depth</c>) or, by default, drawn from the seed
/// (<see cref="DrawDepth"/>): 1 to <see cref="MaxChangePoints"/> change points, uniformly. A fixed
/// small depth is the paper's choice for one known bug depth; a search that does not know the
/// depth of the bug it looks for does better spreading its seeds over depths, as Coyote's
/// prioritization does. The draw comes from a stream of the seed of its own, so a run with a
/// drawn depth d is the same run as one given depth d: a report records d and replays it.
/// </para>
/// </summary>
public sealed class PctStrategy : IScheduleStrategy
{
    /// <summary>The depth of the paper's examples, and of `--pct-depth` before the depth was drawn per seed.</summary>
    public const int DefaultDepth = 3;

    /// <summary>The most change points a drawn depth gives (the fewest is 1).</summary>
    public const int MaxChangePoints = 10;

    /// <summary>
    /// The depth of seed <paramref name="seed"/>'s run when none is given: 1 + a number of change
    /// points drawn uniformly from [1, <see cref="MaxChangePoints"/>], from a stream of the seed
    /// that nothing else reads.
    /// </summary>
    public static int DrawDepth(ulong seed) => 2 + Rng.ForStream(seed, 5).Next(MaxChangePoints);

    private readonly Rng _rng;
    private readonly long[] _changePoints;
    private int _nextChange;
    private long _step;

    // Actor ordinals from the highest priority to the lowest; the last _demoted were demoted.
    private readonly List<int> _order = [];
    private int _demoted;

    // 1 + the position in _order, by ordinal; 0 = not seen yet.
    private int[] _rank = new int[64];

    public PctStrategy(ulong seed, int depth, long steps)
    {
        if (depth < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(depth), depth, "the PCT depth must be at least 1");
        }
        if (steps < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(steps), steps, "the PCT step estimate must be at least 1");
        }
        Depth = depth;
        Steps = steps;
        _rng = Rng.ForStream(seed, 4);
        // d - 1 distinct change points in [1, k] (all of [1, k] when there are fewer steps than points).
        var count = (int)Math.Min(depth - 1, steps);
        var points = new SortedSet<long>();
        while (points.Count < count)
        {
            points.Add(1 + (long)NextLong(steps));
        }
        _changePoints = [.. points];
    }

    public string Name => Strategies.Pct;

    /// <summary>d: the number of priority change points is d - 1.</summary>
    public int Depth { get; }

    /// <summary>k: the estimated number of scheduling choices in a run; change points are drawn from [1, k].</summary>
    public long Steps { get; }

    /// <summary>The scheduling choices at which the chosen actor is demoted, in order.</summary>
    public IReadOnlyList<long> ChangePoints => _changePoints;

    public int Choose(IReadOnlyList<ISchedulable> ready)
    {
        _step++;
        var best = Highest(ready);
        while (_nextChange < _changePoints.Length && _changePoints[_nextChange] == _step)
        {
            _nextChange++;
            Demote(ready[best].Ordinal);
            best = Highest(ready);
        }
        return best;
    }

    /// <summary>The priority rank of the actor with <paramref name="ordinal"/> (0 = highest), or -1 if never seen.</summary>
    internal int RankOf(int ordinal) => ordinal < _rank.Length ? _rank[ordinal] - 1 : -1;

    private int Highest(IReadOnlyList<ISchedulable> ready)
    {
        // Place every actor seen for the first time before comparing: a placement shifts the ranks below it.
        for (var i = 0; i < ready.Count; i++)
        {
            RankOrAdd(ready[i].Ordinal);
        }
        var best = 0;
        var bestRank = int.MaxValue;
        for (var i = 0; i < ready.Count; i++)
        {
            var rank = _rank[ready[i].Ordinal];
            if (rank < bestRank)
            {
                bestRank = rank;
                best = i;
            }
        }
        return best;
    }

    private int RankOrAdd(int ordinal)
    {
        if (ordinal >= _rank.Length)
        {
            Array.Resize(ref _rank, Math.Max(ordinal + 1, _rank.Length * 2));
        }
        if (_rank[ordinal] == 0)
        {
            // A random rank among the actors never demoted: a uniformly random permutation
            // of their priorities, whatever order they show up in.
            var position = _rng.Next(_order.Count - _demoted + 1);
            _order.Insert(position, ordinal);
            Renumber(position);
        }
        return _rank[ordinal];
    }

    private void Demote(int ordinal)
    {
        var position = _rank[ordinal] - 1;
        _order.RemoveAt(position);
        _order.Add(ordinal);
        if (position < _order.Count - _demoted)
        {
            _demoted++;
        }
        Renumber(position);
    }

    private void Renumber(int from)
    {
        for (var i = from; i < _order.Count; i++)
        {
            _rank[_order[i]] = i + 1;
        }
    }

    private ulong NextLong(long bound) => bound <= int.MaxValue
        ? (ulong)_rng.Next((int)bound)
        : _rng.NextULong() % (ulong)bound;
}

/// <summary>Replays recorded choices; runs past them with the fallback.</summary>
public sealed class ReplayStrategy(IReadOnlyList<int> choices, IScheduleStrategy fallback) : IScheduleStrategy
{
    private int _next;

    public string Name => "replay";

    public bool Diverged { get; private set; }

    public int Choose(IReadOnlyList<ISchedulable> ready)
    {
        if (_next >= choices.Count)
        {
            return fallback.Choose(ready);
        }
        var choice = choices[_next++];
        if (choice < ready.Count)
        {
            return choice;
        }
        Diverged = true;
        return fallback.Choose(ready);
    }
}
