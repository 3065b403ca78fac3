namespace DaxSim.Host.Deterministic;

/// <summary>
/// One deviation from the default schedule: at scheduling choice <see cref="Point"/> (0-based,
/// counting only the points where at least two actors are ready), run the actor at
/// <see cref="Position"/> in first-come order instead of the first. It costs
/// <see cref="Position"/> delays: the actors ahead of it are each put off once.
/// </summary>
public readonly record struct Delay(int Point, int Position);

/// <summary>
/// The default schedule that a systematic schedule deviates from: first come, first served (the
/// ready actor that has waited longest takes its next message, as a fair mailbox dispatcher
/// runs them), or last come, first served (the actor made ready last goes first, so one chain
/// of messages runs on to its end before the next one starts, the way one request at a time
/// would run). A delay costs one against either; a race that needs one chain of messages held
/// back for many deliveries of another is cheap against the second and dear against the first.
/// </summary>
public enum DefaultOrder
{
    FirstCome,
    LastCome,
}

public static class DefaultOrders
{
    public const string FirstCome = "first-come";
    public const string LastCome = "last-come";
    public const string Both = "both";

    /// <summary>What a search covers, by name: first-come, last-come, or both (first-come first); null for any other name.</summary>
    public static IReadOnlyList<DefaultOrder>? ParseSearch(string name) => name switch
    {
        Both => [DefaultOrder.FirstCome, DefaultOrder.LastCome],
        _ => Parse(name) is { } one ? [one] : null,
    };

    public static string Name(this DefaultOrder order) => order == DefaultOrder.FirstCome ? FirstCome : LastCome;

    public static DefaultOrder? Parse(string name) => name switch
    {
        FirstCome => DefaultOrder.FirstCome,
        LastCome => DefaultOrder.LastCome,
        _ => null,
    };
}

/// <summary>
/// The schedules of the systematic search (Host/Explore/SystematicExplorer.cs). The default
/// schedule is first come, first served: at every choice the ready actor that has waited
/// longest (<see cref="ISchedulable.ReadyOrder"/>) takes its next message, as a fair mailbox
/// dispatcher would run them. A schedule is that default with a few <see cref="Delay"/>s, as in
/// delay-bounded scheduling (Emmi, Qadeer, Rakamarić, "Delay-bounded scheduling", POPL 2011):
/// choosing the actor at position i of the order delays the i actors ahead of it,
/// and a bound of k delays covers every schedule reachable with at most k of them.
/// <para>
/// Deviations are given in increasing point order. The strategy records how many actors were
/// ready at each choice (<see cref="ReadyCounts"/>) when asked: the search builds a schedule's
/// extensions from them, since a schedule that deviates only after point p makes the same
/// choices, and sees the same ready lists, up to p.
/// </para>
/// </summary>
public sealed class SystematicStrategy(IReadOnlyList<Delay> delays, DefaultOrder order = DefaultOrder.FirstCome)
    : IScheduleStrategy
{
    private readonly bool _lastCome = order == DefaultOrder.LastCome;

    private int _next;
    private int _point;
    private int[] _order = new int[16];

    public string Name => Strategies.Systematic;

    public DefaultOrder Order => order;

    /// <summary>The deviations this run makes, in point order.</summary>
    public IReadOnlyList<Delay> Delays => delays;

    /// <summary>When not null, the number of ready actors at each choice point is added here.</summary>
    public List<int>? ReadyCounts { get; init; }

    /// <summary>The run's sleep set: told of each default delivery a deviation puts off.</summary>
    internal SleepSet? Sleep { get; init; }

    /// <summary>Whether a deviation named a position past the end of its ready list (a schedule that does not fit the run).</summary>
    public bool Misfit { get; private set; }

    public int Choose(IReadOnlyList<ISchedulable> ready)
    {
        var point = _point++;
        ReadyCounts?.Add(ready.Count);
        var position = 0;
        if (_next < delays.Count && delays[_next].Point == point)
        {
            position = delays[_next++].Position;
            if (position >= ready.Count)
            {
                Misfit = true;
                position = ready.Count - 1;
            }
        }
        if (position == 0)
        {
            return First(ready);
        }
        // The default's delivery is put off: the parent schedule took it here.
        Sleep?.Skipped(ready[First(ready)], _next - 1);
        return AtPosition(ready, position);
    }

    // Where an actor stands in the default order: smaller goes first.
    private long Rank(ISchedulable actor) => _lastCome ? -actor.ReadyOrder : actor.ReadyOrder;

    private int First(IReadOnlyList<ISchedulable> ready)
    {
        var best = 0;
        var rank = Rank(ready[0]);
        for (var i = 1; i < ready.Count; i++)
        {
            if (Rank(ready[i]) < rank)
            {
                rank = Rank(ready[i]);
                best = i;
            }
        }
        return best;
    }

    // The index of the actor at `position` in the default order (ready lists are short: a few actors).
    private int AtPosition(IReadOnlyList<ISchedulable> ready, int position)
    {
        if (_order.Length < ready.Count)
        {
            _order = new int[ready.Count * 2];
        }
        for (var i = 0; i < ready.Count; i++)
        {
            _order[i] = i;
        }
        for (var i = 0; i <= position; i++)
        {
            var min = i;
            for (var j = i + 1; j < ready.Count; j++)
            {
                if (Rank(ready[_order[j]]) < Rank(ready[_order[min]]))
                {
                    min = j;
                }
            }
            (_order[i], _order[min]) = (_order[min], _order[i]);
        }
        return _order[position];
    }
}
