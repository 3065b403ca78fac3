using DaxSim.Host.Deterministic;
using DaxSim.Host.Runs;
using DaxSim.Host.Shrink;
using DaxSim.Protocol.Scenarios;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace DaxSim.Host.Cli;

// explore shrinks its finding (unless --no-shrink): a smaller scenario file that still
// breaks the same invariant, and a replayable report of it, next to the finding's report.
public sealed partial class Cli
{
    /// <summary>--no-shrink of this invocation.</summary>
    private bool _noShrink;

    private const string NoShrinkDescription =
        "Do not shrink the finding (by default explore writes a minimal scenario and its replayable report next to the report).";

    /// <summary>Where the shrunk scenario and its report go, from the finding's report path.</summary>
    public static (string Scenario, string Report) ShrunkPaths(string reportPath)
    {
        var dir = Path.GetDirectoryName(reportPath) ?? "";
        var stem = Path.GetFileNameWithoutExtension(reportPath);
        return (Path.Combine(dir, stem + ".min.scenario.json"), Path.Combine(dir, stem + ".min.json"));
    }

    /// <summary>Shrinks the finding and writes it; returns where (null with --no-shrink).</summary>
    /// <summary>
    /// A relative "$schema" (docs/scenario.schema.json, as shipped scenarios have it) made relative
    /// to where the shrunk scenario is written, so that an editor still finds the schema.
    /// </summary>
    public static string MoveSchemaReference(string text, string fromPath, string toPath)
    {
        JObject root;
        try
        {
            root = JObject.Parse(text);
        }
        catch (JsonException)
        {
            return text;
        }
        if (root["$schema"] is not JValue { Type: JTokenType.String } value || (string)value! is not { Length: > 0 } reference ||
            Uri.TryCreate(reference, UriKind.Absolute, out _) || Path.IsPathRooted(reference) || !File.Exists(fromPath))
        {
            return text;
        }
        var target = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(fromPath))!, reference));
        var moved = Path.GetRelativePath(Path.GetDirectoryName(Path.GetFullPath(toPath))!, target).Replace('\\', '/');
        if (moved == reference)
        {
            return text;
        }
        value.Value = moved;
        return root.ToString(Formatting.Indented);
    }

    private (string Scenario, string Report)? ShrinkFinding(DeterministicRuntime runtime, Scenario scenario, RunSettings settings,
        RunResult finding, string reportPath)
    {
        if (_noShrink)
        {
            return null;
        }
        var result = new Shrinker(runtime.Run).Shrink(scenario, settings, finding);
        var (scenarioPath, shrunkReport) = ShrunkPaths(reportPath);
        var shrunkScenario = result.Scenario with
        {
            Source = scenarioPath, Text = MoveSchemaReference(result.Scenario.Text!, scenario.Source, scenarioPath),
        };
        Report.WriteText(scenarioPath, shrunkScenario.Text!);
        Report.Write(shrunkReport, Report.ToJson(shrunkScenario, result.Run));
        stdout.WriteLine(
            $"shrunk in {result.Elapsed.TotalSeconds:F1} s ({result.Candidates} candidates, {result.Accepted} accepted" +
            $"{(result.OutOfTime ? ", stopped at the time budget" : "")}): " +
            $"{shrunkScenario.Tasks.Count} task(s), {shrunkScenario.OperationCount} steps (was {scenario.OperationCount}), " +
            $"{result.Run.Deliveries} messages (was {result.OriginalDeliveries}), " +
            $"{result.Deviations} scheduling deviations (was {result.OriginalDeviations}); " +
            $"still {result.Run.Violation!.Invariant}");
        stdout.WriteLine($"  minimal scenario: {scenarioPath}");
        stdout.WriteLine($"  minimal trace:    daxsim replay {shrunkReport}");
        return (scenarioPath, shrunkReport);
    }
}
