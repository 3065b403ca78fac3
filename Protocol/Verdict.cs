namespace DaxSim.Protocol;

/// <summary>
/// The outcome of a run. The exit code of `daxsim` follows it: 0, 1, 3, and 4 for
/// Inconclusive (docs/contract.md).
/// </summary>
public enum Verdict
{
    Clean,
    Safety,
    Liveness,

    /// <summary>
    /// A real-time run (local, cluster) whose host ran it too late to judge it: a liveness
    /// finding on a machine that took more of the run's time than its bounds allow, or a
    /// finding made after the checker saw events out of order. Never a scenario's expect.
    /// </summary>
    Inconclusive,
}

public static class Verdicts
{
    public static string JsonName(this Verdict v) => v.ToString().ToLowerInvariant();

    /// <summary>A verdict a scenario can expect: clean, safety or liveness (not inconclusive).</summary>
    public static bool TryParse(string s, out Verdict v)
    {
        foreach (var candidate in Enum.GetValues<Verdict>())
        {
            if (candidate != Verdict.Inconclusive && candidate.JsonName() == s)
            {
                v = candidate;
                return true;
            }
        }
        v = default;
        return false;
    }

    public static int ExitCode(this Verdict v) => v switch
    {
        Verdict.Clean => 0,
        Verdict.Safety => 1,
        Verdict.Liveness => 3,
        Verdict.Inconclusive => 4,
        _ => throw new ArgumentOutOfRangeException(nameof(v), v, null),
    };
}
