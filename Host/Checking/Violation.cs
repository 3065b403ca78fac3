using DaxSim.Protocol;
using DaxSim.Protocol.Trace;

namespace DaxSim.Host.Checking;

/// <summary>
/// What an S1 finding did: whether data was corrupted, or only the protocol's contract was
/// broken. The report writes it in kebab case ("data-corrupted").
/// </summary>
public enum Damage
{
    /// <summary>DMA landed in (or was read from) a block that no longer belonged to the pinning file's page.</summary>
    DataCorrupted,
    /// <summary>A block was freed or reallocated while pinned, but no DMA reached it after that: no data was hurt.</summary>
    PinnedBlockFreed,
    /// <summary>A block was freed while a pNFS client still held the layout lease that lets it do I/O to it.</summary>
    LeasedBlockFreed,
}

public static class Damages
{
    public static string Name(this Damage d) => d switch
    {
        Damage.DataCorrupted => "data-corrupted",
        Damage.PinnedBlockFreed => "pinned-block-freed",
        _ => "leased-block-freed",
    };

    /// <summary>For a reader: what happened.</summary>
    public static string Sentence(this Damage d) => d switch
    {
        Damage.DataCorrupted => "data corrupted",
        Damage.PinnedBlockFreed => "contract broken: a block was freed or reused while pinned, but no DMA reached it after that",
        _ => "contract broken: a block under a layout lease was freed",
    };
}

/// <summary>
/// A broken invariant: which one (S1..S4, L1..L3), when (simulated time, in 100 ns
/// ticks), what happened in a sentence, the actors involved and, for a liveness
/// violation, the wait-for edges that explain it. An S1 violation says what it damaged.
/// </summary>
public sealed record Violation(
    InvariantId Invariant,
    Verdict Verdict,
    long Time,
    string Description,
    IReadOnlyList<string> Actors,
    IReadOnlyList<WaitForEdge> Edges)
{
    /// <summary>
    /// The trace event whose observation broke the invariant (safety invariants, checked on
    /// each event); null when the violation was judged at a settled point (liveness).
    /// </summary>
    public TraceEvent? Event { get; init; }

    /// <summary>S1 only: whether data was corrupted or only the contract broken.</summary>
    public Damage? Damage { get; init; }

    /// <summary>The wait-for edges as sentences, as the report's "waitFor" and the console print them.</summary>
    public IReadOnlyList<string> WaitFor => Edges.Select(e => e.Text).ToList();

    public static string Title(InvariantId invariant) => invariant.Title();

    public override string ToString() => Damage is { } d
        ? $"{Invariant} {Invariant.Title()} ({d.Sentence()}): {Description}"
        : $"{Invariant} {Invariant.Title()}: {Description}";
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
