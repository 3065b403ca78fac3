using DaxSim.Protocol;
using DaxSim.Protocol.Trace;

namespace DaxSim.Host.Checking;

/// <summary>
/// A broken invariant: which one (S1..S4, L1..L3), when (simulated time, in 100 ns
/// ticks), what happened in a sentence, the actors involved and, for a liveness
/// violation, the wait-for edges that explain it.
/// </summary>
public sealed record Violation(
    string Invariant,
    Verdict Verdict,
    long Time,
    string Description,
    IReadOnlyList<string> Actors,
    IReadOnlyList<string> WaitFor)
{
    /// <summary>
    /// The trace event whose observation broke the invariant (safety invariants, checked on
    /// each event); null when the violation was judged at a settled point (liveness).
    /// </summary>
    public TraceEvent? Event { get; init; }

    public static string Title(string invariant) => invariant switch
    {
        "S1" => "use-after-free",
        "S2" => "refcount",
        "S3" => "locks",
        "S4" => "mappings",
        "L1" => "deadlock",
        "L2" => "lost wakeup",
        "L3" => "bounded completion",
        _ => invariant,
    };

    public override string ToString() => $"{Invariant} {Title(Invariant)}: {Description}";
}

/// <summary>An operation a task ran, for the report: times in 100 ns ticks.</summary>
public sealed record OpRecord(
    string Task,
    string Op,
    string? File,
    int Step,
    int Iteration,
    long Start,
    long End,
    string Result);
