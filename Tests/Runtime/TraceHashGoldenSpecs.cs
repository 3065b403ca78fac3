using System.Globalization;
using System.Text;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Load;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Load;
using DaxSim.Protocol.Scenarios;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Runtime;

/// <summary>
/// Behaviour kept across restructurings: the deterministic trace hash of every shipped
/// scenario (scenarios/ and scenarios/cluster/) on every base, under random and pct, with
/// and without message faults, and of a deterministic load, equals the one recorded in
/// trace-hashes.golden.tsv. A change to the model that moves a hash is deliberate: rerun
/// with DAXSIM_UPDATE_GOLDEN=1 and commit the new file on its own, saying why.
/// </summary>
public sealed class TraceHashGoldenSpecs(DeterministicRuntimeFixture fixture) : IClassFixture<DeterministicRuntimeFixture>
{
    private const string GoldenName = "trace-hashes.golden.tsv";

    private static readonly string[] Bases = ["mainline", "seed-v7", "linux-4.18", "linux-6.15", "ext4-6.15", "virtiofs-6.15"];

    private readonly DeterministicRuntime _runtime = fixture.Runtime;

    private static string GoldenPath =>
        Path.Combine(Path.GetDirectoryName(Scenarios.Directory)!, "Tests", "Runtime", GoldenName);

    private IEnumerable<(string Key, string Value)> Cases()
    {
        var files = Scenarios.ShippedFiles()
            .Concat(Directory.GetFiles(Path.Combine(Scenarios.Directory, "cluster"), "*.json").Order(StringComparer.Ordinal));
        foreach (var file in files)
        {
            var scenario = ScenarioLoader.LoadFile(file);
            var name = Path.GetRelativePath(Scenarios.Directory, file).Replace('\\', '/');
            foreach (var variant in Bases)
            {
                foreach (var (strategy, seed, faults) in new[] { ("random", 1UL, false), ("random", 2UL, false), ("pct", 3UL, false), ("random", 4UL, true) })
                {
                    var r = _runtime.Run(scenario, new RunSettings
                    {
                        Seed = seed,
                        Variant = Variants.Parse(variant),
                        RecordOps = false,
                        Deterministic = new() { Strategy = strategy, FaultInjection = faults },
                    });
                    yield return ($"{name}\t{variant}\t{strategy}\t{seed}\t{(faults ? "faults" : "-")}", Describe(r));
                }
            }
        }

        var spec = LoadSpecLoader.LoadFile(Path.Combine(Scenarios.Directory, "load", "truncate-heavy.json")) with
        {
            Duration = TimeSpan.FromMilliseconds(20),
        };
        var load = LoadEngine.Run(new LoadPlan(spec, 7, Variant.Mainline, Runtimes.For(RuntimeKind.Deterministic)), measureFootprint: false);
        yield return ("load/truncate-heavy.json(20ms)\tmainline\tload\t7\t-", Describe(load.Run));
    }

    private static string Describe(RunResult r) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{r.TraceHash:x16}\t{r.Deliveries}\t{r.Verdict}\t{r.Violation?.Invariant.ToString() ?? "-"}");

    [Fact]
    public void Every_shipped_scenario_and_a_deterministic_load_must_keep_their_recorded_trace_hashes()
    {
        var actual = Cases().ToList();
        if (Environment.GetEnvironmentVariable("DAXSIM_UPDATE_GOLDEN") == "1")
        {
            var text = new StringBuilder("# scenario\tvariant\tstrategy\tseed\tfaults\ttraceHash\tdeliveries\tverdict\tinvariant\n");
            foreach (var (key, value) in actual)
            {
                text.Append(key).Append('\t').Append(value).Append('\n');
            }
            File.WriteAllText(GoldenPath, text.ToString());
        }

        var golden = File.ReadAllLines(GoldenPath)
            .Where(l => l.Length > 0 && l[0] != '#')
            .Select(l => l.Split('\t'))
            .ToDictionary(f => string.Join('\t', f[..5]), f => string.Join('\t', f[5..]));
        var differences = actual
            .Where(c => !golden.TryGetValue(c.Key, out var want) || want != c.Value)
            .Select(c => $"{c.Key}: got {c.Value}, recorded {golden.GetValueOrDefault(c.Key) ?? "nothing"}")
            .ToList();
        Assert.True(actual.Count == golden.Count && differences.Count == 0,
            $"{differences.Count} of {actual.Count} runs differ from {GoldenName} ({golden.Count} recorded):\n"
            + string.Join('\n', differences.Take(20)));
    }
}
