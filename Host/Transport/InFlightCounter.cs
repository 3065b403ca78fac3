namespace DaxSim.Transport;

/// <summary>How many reliable messages are sent and not yet acknowledged, across a run: while any are, the run has not settled.</summary>
public sealed class InFlightCounter
{
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    public void Add(long delta) => Interlocked.Add(ref _count, delta);
}
