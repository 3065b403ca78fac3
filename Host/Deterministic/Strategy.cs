namespace DaxSim.Host.Deterministic;

/// <summary>Picks which ready actor runs next. Every choice it makes is recorded so that a run can be replayed.</summary>
public interface IScheduleStrategy
{
    /// <summary>The name used on the command line and in traces.</summary>
    string Name { get; }

    /// <summary>Choose one of <paramref name="ready"/> (at least 2) ready actors, by position in the ready list.</summary>
    int Choose(int ready);
}

/// <summary>Uniformly random among the ready actors.</summary>
public sealed class RandomStrategy(ulong seed) : IScheduleStrategy
{
    private readonly Rng _rng = Rng.ForStream(seed, 1);

    public string Name => "random";

    public int Choose(int ready) => _rng.Next(ready);
}

/// <summary>Replays recorded choices; runs past them with the fallback.</summary>
public sealed class ReplayStrategy(IReadOnlyList<int> choices, IScheduleStrategy fallback) : IScheduleStrategy
{
    private int _next;

    public string Name => "replay";

    public bool Diverged { get; private set; }

    public int Choose(int ready)
    {
        if (_next >= choices.Count)
        {
            return fallback.Choose(ready);
        }
        var choice = choices[_next++];
        if (choice < ready)
        {
            return choice;
        }
        Diverged = true;
        return fallback.Choose(ready);
    }
}
