using DaxSim.Protocol.Scenarios;

namespace DaxSim.Protocol.Load;

// The load spec of `daxsim load` (docs/load.md): how many files and pages, which tasks
// (kinds, counts, pacing), for how long, on which runtime, from which seed. The load engine
// turns it into a Scenario (LoadScenario.Build) whose tasks loop until the duration is over.

/// <summary>The kinds of load task; the JSON names are the camel-case forms.</summary>
public enum LoadTaskKind
{
    /// <summary>O_DIRECT reads from a plain file into an mmap of a DAX file: pins the mapped pages.</summary>
    DioReader,
    /// <summary>O_DIRECT writes from an mmap of a DAX file into a plain file: pins the mapped pages.</summary>
    DioWriter,
    /// <summary>mmap, touch every page (faults under MMAPLOCK shared), munmap.</summary>
    FaultingReader,
    /// <summary>Truncate the file's tail off, then fallocate it back: breaks layouts twice.</summary>
    Truncator,
    /// <summary>Punch a hole, then fallocate it back: breaks layouts twice.</summary>
    HolePuncher,
    /// <summary>A pNFS client taking a layout lease and holding it; truncate and punch must break it.</summary>
    LeaseHolder,
}

public static class LoadTaskKinds
{
    private static readonly Dictionary<string, LoadTaskKind> ByName =
        Enum.GetValues<LoadTaskKind>().ToDictionary(JsonName, k => k, StringComparer.Ordinal);

    public static string JsonName(this LoadTaskKind kind)
    {
        var s = kind.ToString();
        return char.ToLowerInvariant(s[0]) + s[1..];
    }

    public static bool TryParse(string name, out LoadTaskKind kind) => ByName.TryGetValue(name, out kind);

    public static IEnumerable<string> AllNames => ByName.Keys;

    /// <summary>Pages per operation when the spec does not say: the DIO buffer, the touched range, the truncated tail, the hole.</summary>
    public static int DefaultPages(this LoadTaskKind kind) => kind switch
    {
        LoadTaskKind.DioReader or LoadTaskKind.DioWriter => 4,
        LoadTaskKind.FaultingReader => 8,
        LoadTaskKind.Truncator => 16,
        LoadTaskKind.HolePuncher => 8,
        _ => 1,
    };
}

/// <summary>
/// A group of identical tasks. Pacing: a think time after each operation (closed loop), or
/// a rate of operations per second for the whole group, spread evenly over its tasks (open
/// loop); intervals fixed or exponential (Poisson arrivals).
/// </summary>
public sealed record LoadTaskGroup(
    LoadTaskKind Kind,
    int Count,
    int Pages,
    TimeSpan IoTime,
    TimeSpan Hold,
    TimeSpan Think,
    double? Rate,
    bool Exponential)
{
    /// <summary>The mean time between two operations of one task at the group's rate, or the think time.</summary>
    public TimeSpan Interval => Rate is { } r
        ? TimeSpan.FromTicks((long)Math.Round(Count * TimeSpan.TicksPerSecond / r))
        : Think;
}

/// <summary>Signals sent to random tasks at a rate (per second of load): they end interruptible waits with EINTR.</summary>
public sealed record LoadSignals(double Rate);

public sealed record LoadSpec(
    string Name,
    Variant? Variant,
    int Files,
    int PagesPerFile,
    int? DeviceBlocks,
    IReadOnlyList<LoadTaskGroup> Tasks,
    TimeSpan Duration,
    TimeSpan? Warmup,
    string? Runtime,
    ulong? Seed,
    LoadSignals? Signals,
    TimeSpan OpBound,
    TimeSpan LeaseBreakTime)
{
    public const string DefaultRuntime = "local";

    /// <summary>Where the spec was read from, for messages: a file, or "(flags)".</summary>
    public string Source { get; init; } = "(flags)";

    /// <summary>The spec's text when it came from a file, for the report.</summary>
    public string? Text { get; init; }

    public int TaskCount => Tasks.Sum(t => t.Count);

    public long TotalPages => (long)Files * PagesPerFile;

    /// <summary>The part of the run left out of the statistics: the spec's, else a tenth of the duration, at most 1 s.</summary>
    public TimeSpan EffectiveWarmup => Warmup ?? TimeSpan.FromTicks(Math.Min(Duration.Ticks / 10, TimeSpan.TicksPerSecond));

    /// <summary>The default task mix of the flags: weights of each kind when only a number of tasks is given.</summary>
    public static readonly IReadOnlyList<(LoadTaskKind Kind, int Weight)> DefaultMix =
    [
        (LoadTaskKind.DioReader, 40),
        (LoadTaskKind.DioWriter, 20),
        (LoadTaskKind.FaultingReader, 20),
        (LoadTaskKind.Truncator, 8),
        (LoadTaskKind.HolePuncher, 8),
        (LoadTaskKind.LeaseHolder, 4),
    ];

    public static readonly TimeSpan DefaultThink = TimeSpan.FromMilliseconds(1);
    public static readonly TimeSpan DefaultIoTime = TimeSpan.FromMicroseconds(100);
    public static readonly TimeSpan DefaultHold = TimeSpan.FromMilliseconds(1);
    public static readonly TimeSpan DefaultLeaseBreakTime = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// L3's bound under load: an operation may take this long once what was ahead of it is
    /// gone. Looser than a scenario's 1 s: a busy file keeps getting new pins, and a truncate
    /// that waits for them on a loaded machine is slow, not starved.
    /// </summary>
    public static readonly TimeSpan DefaultOpBound = TimeSpan.FromSeconds(10);

    /// <summary>
    /// <paramref name="tasks"/> tasks split over the default mix by largest remainder (every kind
    /// gets one when there are at least as many tasks as kinds), all with the same pacing.
    /// </summary>
    public static IReadOnlyList<LoadTaskGroup> MixOf(int tasks, TimeSpan think, double? ratePerTask,
        int pagesPerFile = int.MaxValue)
    {
        var total = DefaultMix.Sum(m => m.Weight);
        var counts = DefaultMix.Select(m => tasks * m.Weight / total).ToArray();
        var order = DefaultMix.Select((m, i) => (i, rem: tasks * m.Weight % total))
            .OrderByDescending(x => x.rem).ThenBy(x => x.i).Select(x => x.i).ToList();
        for (var k = 0; counts.Sum() < tasks; k++)
        {
            counts[order[k % order.Count]]++;
        }
        if (tasks >= DefaultMix.Count)
        {
            // Every kind present: take from the largest group for any kind left at zero.
            for (var i = 0; i < counts.Length; i++)
            {
                if (counts[i] == 0)
                {
                    var largest = Array.IndexOf(counts, counts.Max());
                    counts[largest]--;
                    counts[i]++;
                }
            }
        }
        return DefaultMix.Select((m, i) => (m.Kind, Count: counts[i]))
            .Where(x => x.Count > 0)
            .Select(x => new LoadTaskGroup(x.Kind, x.Count, Math.Min(x.Kind.DefaultPages(), pagesPerFile), DefaultIoTime,
                DefaultHold, think,
                ratePerTask is { } r ? r * x.Count : null, Exponential: false))
            .ToList();
    }
}
