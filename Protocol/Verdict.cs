namespace DaxSim.Protocol;

/// <summary>The outcome of a run. The exit code of `daxsim` follows it: 0, 1, 3.</summary>
public enum Verdict
{
    Clean,
    Safety,
    Liveness,
}

public static class Verdicts
{
    public static string JsonName(this Verdict v) => v.ToString().ToLowerInvariant();

    public static bool TryParse(string s, out Verdict v)
    {
        foreach (var candidate in Enum.GetValues<Verdict>())
        {
            if (candidate.JsonName() == s)
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
        _ => 3,
    };
}
