using System.Diagnostics;
using System.Text;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Runs;
using DaxSim.Host.Shrink;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;

namespace DaxSim.Bench;

/// <summary>
/// `--variants`: for every variant, the shipped scenario that catches it, the seeds to the
/// first finding with each strategy (median over several base seeds), and the size of the
/// shrunk finding. Rewrites the table in docs/variants.md.
/// </summary>
public static class VariantsTable
{
    public sealed record Row(Variant Variant, string Scenario, string Invariant);

    /// <summary>The rows the docs and the tests promise (Tests/Runtime: Ablations_must_be_caught...).</summary>
    public static readonly Row[] Rows =
    [
        new(Variant.SeedV7, "two-pins", "S1"),
        new(Variant.SeedV7, "steady-io", "L3"),
        new(Variant.NoBreak, "generic-503-truncate", "S1"),
        new(Variant.NoUnmap, "generic-503-truncate", "S1"),
        new(Variant.HoldMmaplock, "generic-503-zero", "L1"),
        new(Variant.RetryInCallback, "two-pins", "S1"),
        new(Variant.DropIolock, "steady-io", "L3"),
        new(Variant.GupFastNoRecheck, "generic-503-truncate", "S1"),
        new(Variant.WrongWakeKey, "signal-long-pin", "L2"),
        new(Variant.IdleAt0, "generic-503-punch", "L2"),
        new(Variant.IdleAt2, "generic-503-punch", "S1"),
        new(Variant.NoBreakOnFallocate, "generic-503-punch", "S1"),
    ];

    private static readonly ulong[] Bases = [1, 100_001, 200_001, 300_001, 400_001];
    private static readonly string[] StrategyNames = ["random", "pct"];
    private const int Cap = 5_000;

    public static int Run(string root)
    {
        using var runtime = new DeterministicRuntime();
        var table = new StringBuilder();
        table.AppendLine($"Measured {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, one core, Release; {Bases.Length} base seeds per strategy, at most {Cap:N0} seeds each.");
        table.AppendLine();
        table.AppendLine("| variant | scenario | invariant | seeds to first finding, random (median, max) | pct (median, max) | wall to first finding, worst | shrunk: tasks, steps run, messages (was), deviations (was) | shrink time |");
        table.AppendLine("|---|---|---|---|---|---|---|---|");
        var mainlineClean = true;
        foreach (var row in Rows)
        {
            var scenario = ScenarioLoader.LoadFile(Path.Combine(root, "scenarios", row.Scenario + ".json"));
            var cells = new List<string>();
            var worst = TimeSpan.Zero;
            (RunSettings Settings, RunResult Run)? first = null;
            foreach (var strategy in StrategyNames)
            {
                var counts = new List<long>();
                foreach (var b in Bases)
                {
                    var clock = Stopwatch.StartNew();
                    var (count, found) = SeedsToFinding(runtime, scenario, row, strategy, b);
                    worst = clock.Elapsed > worst ? clock.Elapsed : worst;
                    counts.Add(count);
                    if (found is not null && first is null && strategy == "random")
                    {
                        first = found;
                    }
                }
                counts.Sort();
                var median = counts[counts.Count / 2];
                cells.Add(median > Cap ? $"not found in {Cap:N0}" : $"{median} ({(counts[^1] > Cap ? $">{Cap}" : counts[^1])})");
            }
            var shrunkCell = "-";
            var shrinkTime = "-";
            if (first is { } f)
            {
                var shrunk = new Shrinker(runtime.Run).Shrink(scenario, f.Settings, f.Run);
                shrunkCell = $"{shrunk.Scenario.Tasks.Count}, {shrunk.Scenario.OperationCount}, {shrunk.Run.Deliveries} ({shrunk.OriginalDeliveries}), " +
                             $"{shrunk.Deviations} ({shrunk.OriginalDeviations})";
                shrinkTime = $"{shrunk.Elapsed.TotalSeconds:F1} s";
            }
            table.AppendLine($"| `{row.Variant.Name()}` | `{row.Scenario}` | {row.Invariant} | {cells[0]} | {cells[1]} | " +
                             $"{worst.TotalSeconds:F2} s | {shrunkCell} | {shrinkTime} |");
            Console.WriteLine($"  {row.Variant.Name(),-22} {row.Scenario,-22} {row.Invariant}  random {cells[0]}, pct {cells[1]}, shrunk {shrunkCell} in {shrinkTime}");
        }
        foreach (var file in Directory.GetFiles(Path.Combine(root, "scenarios"), "*.json").Order(StringComparer.Ordinal))
        {
            var scenario = ScenarioLoader.LoadFile(file);
            for (ulong seed = 1; seed <= 500; seed++)
            {
                if (runtime.Run(scenario, new RunSettings { Seed = seed, RecordOps = false, RecordSchedule = false }).Violation is not null)
                {
                    mainlineClean = false;
                    Console.WriteLine($"  mainline NOT clean on {Path.GetFileName(file)} seed {seed}");
                    break;
                }
            }
        }
        table.AppendLine();
        table.AppendLine(mainlineClean
            ? "`mainline` is clean on 500 seeds of every shipped scenario in the same run."
            : "**`mainline` is NOT clean on every shipped scenario: see the console output.**");

        var doc = Path.Combine(root, "docs", "variants.md");
        var text = File.ReadAllText(doc);
        const string begin = "<!-- variants-table:begin -->", end = "<!-- variants-table:end -->";
        var a = text.IndexOf(begin, StringComparison.Ordinal);
        var z = text.IndexOf(end, StringComparison.Ordinal);
        if (a < 0 || z < a)
        {
            Console.Error.WriteLine($"{doc}: the table markers are missing");
            return 1;
        }
        File.WriteAllText(doc, text[..(a + begin.Length)] + "\n" + table + text[z..]);
        Console.WriteLine($"wrote {doc}");
        return mainlineClean ? 0 : 1;
    }

    private static (long Count, (RunSettings, RunResult)? Found) SeedsToFinding(DeterministicRuntime runtime,
        Scenario scenario, Row row, string strategy, ulong first)
    {
        for (long i = 0; i < Cap; i++)
        {
            var settings = new RunSettings
            {
                Seed = first + (ulong)i, Variant = row.Variant, Strategy = strategy, RecordOps = false, RecordSchedule = false,
            };
            var result = runtime.Run(scenario, settings);
            if (result.Violation is { } v)
            {
                if (v.Invariant != row.Invariant)
                {
                    Console.WriteLine($"    {row.Variant.Name()} on {row.Scenario}: seed {settings.Seed} broke {v.Invariant}, not {row.Invariant}");
                }
                return (i + 1, v.Invariant == row.Invariant ? (settings, result) : null);
            }
        }
        return (Cap + 1, null);
    }
}
