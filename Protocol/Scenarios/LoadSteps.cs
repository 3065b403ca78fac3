namespace DaxSim.Protocol.Scenarios;

// The step that paces a load task (`daxsim load`): not part of the scenario file format; the
// load engine builds scenarios that use it.

/// <summary>How a load task spaces its operations.</summary>
public enum PacingMode
{
    /// <summary>Closed loop: the task sleeps a think time after each operation.</summary>
    Think,
    /// <summary>Open loop: operations are due at a rate, whatever the previous one took (wrk2's model).</summary>
    Rate,
}

/// <summary>
/// A load task's pacing. <c>Mean</c> is the think time, or the mean time between two
/// operations at a rate. <c>Exponential</c> draws each interval from an exponential
/// distribution with that mean (Poisson arrivals), otherwise every interval is the mean.
/// The first interval of a task is drawn uniformly from [0, Mean), so that tasks do not
/// start in lock step. Draws are a pure function of (Seed, task, n): no state to share.
/// </summary>
public sealed record Pacing(PacingMode Mode, TimeSpan Mean, bool Exponential, ulong Seed)
{
    /// <summary>The n-th interval of <paramref name="task"/>, in 100 ns ticks (n = 0: the start phase).</summary>
    public long Interval(TaskId task, long n)
    {
        var mean = Mean.Ticks;
        if (mean <= 0)
        {
            return 0;
        }
        var u = Uniform(Seed, (ulong)task.Value, (ulong)n);
        if (n == 0)
        {
            return (long)(u * mean);
        }
        return Exponential ? (long)Math.Min(-Math.Log(1 - u) * mean, 1e15) : mean;
    }

    // SplitMix64 over the three inputs: a uniform double in [0, 1).
    private static double Uniform(ulong seed, ulong task, ulong n)
    {
        var z = seed + 0x9E3779B97F4A7C15UL * (task + 1) + 0xBF58476D1CE4E5B9UL * (n + 1);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }
}

/// <summary>
/// Wait before the task's next operation: a think time, or until the next operation is due
/// at the task's rate (then a <c>Paced</c> event says how late it starts). Reported as a
/// sleep; a signal or the end of the load ends it early.
/// </summary>
public sealed record PaceStep(int Repeat, Pacing Pacing) : Step(Repeat)
{
    public override OpKind Op => OpKind.Sleep;
    public override FileId? Target => null;
}
