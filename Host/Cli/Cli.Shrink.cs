using DaxSim.Host.Deterministic;
using DaxSim.Host.Runs;
using DaxSim.Host.Shrink;
using DaxSim.Protocol.Scenarios;

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
    private (string Scenario, string Report)? ShrinkFinding(DeterministicRuntime runtime, Scenario scenario, RunSettings settings,
        RunResult finding, string reportPath)
    {
        if (_noShrink)
        {
            return null;
        }
        var result = new Shrinker(runtime.Run).Shrink(scenario, settings, finding);
        var (scenarioPath, shrunkReport) = ShrunkPaths(reportPath);
        var shrunkScenario = result.Scenario with { Source = scenarioPath };
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
