namespace DaxSim.Host.Deterministic;

/// <summary>
/// One deviation from the default schedule: at scheduling choice <see cref="Point"/> (0-based,
/// counting only the points where at least two actors are ready), run the actor at
/// <see cref="Position"/> in first-come order instead of the first. It costs
/// <see cref="Position"/> delays: the actors ahead of it are each put off once.
/// </summary>
public readonly record struct Delay(int Point, int Position);

/// <summary>
/// The schedules of the systematic search (Host/Explore/SystematicExplorer.cs). The default
/// schedule is first come, first served: at every choice the ready actor that has waited
/// longest (<see cref="ISchedulable.ReadyOrder"/>) takes its next message, as a fair mailbox
/// dispatcher would run them. A schedule is that default with a few <see cref="Delay"/>s, as in
/// delay-bounded scheduling (Emmi, Qadeer, Rakamarić, "Delay-bounded scheduling", POPL 2011):
/// choosing the actor at position i of the first-come order delays the i actors ahead of it,
/// and a bound of k delays covers every schedule reachable with at most k of them.
/// <para>
/// Deviations are given in increasing point order. The strategy records how many actors were
/// ready at each choice (<see cref="ReadyCounts"/>) when asked: the search builds a schedule's
/// extensions from them, since a schedule that deviates only after point p makes the same
/// choices, and sees the same ready lists, up to p.
/// </para>
/// </summary>
public sealed class SystematicStrategy(IReadOnlyList<Delay> delays) : IScheduleStrategy
{
    private int _next;
    private int _point;
    private int[] _order = new int[16];

    public string Name => Strategies.Systematic;

    /// <summary>The deviations this run makes, in point order.</summary>
    public IReadOnlyList<Delay> Delays => delays;

    /// <summary>When not null, the number of ready actors at each choice point is added here.</summary>
    public List<int>? ReadyCounts { get; init; }

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
        return position == 0 ? Oldest(ready) : AtPosition(ready, position);
    }

    private static int Oldest(IReadOnlyList<ISchedulable> ready)
    {
        var best = 0;
        var order = ready[0].ReadyOrder;
        for (var i = 1; i < ready.Count; i++)
        {
            if (ready[i].ReadyOrder < order)
            {
                order = ready[i].ReadyOrder;
                best = i;
            }
        }
        return best;
    }

    // The index of the actor at `position` in first-come order (ready lists are short: a few actors).
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
                if (ready[_order[j]].ReadyOrder < ready[_order[min]].ReadyOrder)
                {
                    min = j;
                }
            }
            (_order[i], _order[min]) = (_order[min], _order[i]);
        }
        return _order[position];
    }
}
