using System.Diagnostics;
using DaxSim.Host.Checking;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;

namespace DaxSim.Host.Cli;

// --junit OUT.xml on run, explore and replay: a JUnit XML report for CI, one test case per
// scenario and variant. A finding is a <failure> naming the invariant, with the replay
// command; an inconclusive verdict is <skipped>; an internal error or a member too slow to
// answer is <error>. Written atomically at the end, and the exit codes are the same as without it.
public sealed partial class Cli
{
    /// <summary>--junit of this invocation, or null.</summary>
    private string? _junit;

    /// <summary>The test case being run (set once the run starts), so that an internal error still gets one.</summary>
    private PendingCase? _pending;

    private readonly Stopwatch _clock = new();

    private const string JUnitDescription =
        "Write a JUnit XML test report here: one test case per scenario and variant; a finding is a failure " +
        "naming the invariant, with the command that replays it (docs/contract.md).";

    private sealed record PendingCase(string Command, Scenario Scenario, Variant Variant, List<KeyValuePair<string, string>> Properties);

    /// <summary>The test case's name: the scenario and the variant, which together say what was checked.</summary>
    public static string JUnitName(string scenario, string variant) => $"{scenario} [{variant}]";

    /// <summary>
    /// Where a deterministic run's report goes when --junit is given without --report: beside the
    /// JUnit file, so that the failure's replay command has a report to replay.
    /// </summary>
    public static string JUnitReportPath(string junitPath, string scenario, string variant, ulong seed) =>
        JUnitReportPath(junitPath, scenario, variant, $"seed{seed}");

    private static string JUnitReportPath(string junitPath, string scenario, string variant, string tag)
    {
        var dir = Path.GetDirectoryName(junitPath) ?? "";
        return Path.Combine(dir, $"{Path.GetFileNameWithoutExtension(junitPath)}-{scenario}-{variant}-{tag}.json");
    }

    /// <summary>
    /// Where explore writes a finding's report when --report is not given: beside the JUnit
    /// file with --junit (where CI collects it), else in the working directory.
    /// </summary>
    private string FindingReportPath(string scenario, string variant, string tag) =>
        _junit is not null ? JUnitReportPath(_junit, scenario, variant, tag) : $"daxsim-{scenario}-{variant}-{tag}.json";

    /// <summary>--junit must name a file in a directory that exists and can be written, checked before the run.</summary>
    private void CheckJUnit(string? reportPath)
    {
        if (_junit is null)
        {
            return;
        }
        CheckWritable(_junit, "--junit");
        var full = Path.GetFullPath(_junit);
        if (reportPath is not null && Path.GetFullPath(reportPath) == full || _html is not null && Path.GetFullPath(_html) == full)
        {
            throw new InputException($"--junit: '{_junit}' is also the --report or --html file");
        }
        var probe = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.probe");
        try
        {
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InputException($"--junit: cannot write in the directory of '{_junit}': {e.Message}");
        }
    }

    /// <summary>The run starts: from here on, any end of it gets a test case.</summary>
    private void JUnitBegin(string command, Scenario scenario, Variant variant, params (string Key, string? Value)[] properties)
    {
        if (_junit is null)
        {
            return;
        }
        var list = new List<KeyValuePair<string, string>>
        {
            new("daxsim.version", Version),
            new("command", command),
            new("scenario", scenario.Name),
            new("source", scenario.Source),
            new("variant", variant.Name()),
            new("expect", scenario.Expect.JsonName()),
        };
        list.AddRange(properties.Where(p => p.Value is not null).Select(p => new KeyValuePair<string, string>(p.Key, p.Value!)));
        _pending = new PendingCase(command, scenario, variant, list);
    }

    private void JUnitProperty(string key, string? value)
    {
        if (_pending is not null && value is not null)
        {
            _pending.Properties.Add(new(key, value));
        }
    }

    /// <summary>
    /// The run ended with <paramref name="result"/>: writes the test case. <paramref name="replay"/>
    /// is the command that replays it (null if the runtime cannot replay), <paramref name="where"/>
    /// a line that places the finding (explore: which seed of which range), <paramref name="more"/>
    /// lines after the replay command (the shrunk finding).
    /// </summary>
    private void JUnitResult(RunResult result, string? replay, string? reportPath, string? where = null,
        IEnumerable<string>? more = null)
    {
        if (_pending is not { } p)
        {
            return;
        }
        JUnitProperty("verdict", result.Verdict.JsonName());
        JUnitProperty("report", reportPath);
        var name = JUnitName(p.Scenario.Name, p.Variant.Name());
        JUnitCase testCase;
        if (result.Verdict == Verdict.Inconclusive)
        {
            var why = result.Host?.Inconclusive ?? "the host ran the run too late to judge it";
            var lines = new List<string> { $"inconclusive: {why}" };
            if (result.Violation is { } kept)
            {
                lines.Add($"finding kept in the report, not judged: {kept}");
            }
            if (reportPath is not null)
            {
                lines.Add($"report: {reportPath}");
            }
            testCase = Case(p, name, JUnitOutcome.Skipped, "inconclusive", $"inconclusive: {why}", string.Join('\n', lines));
        }
        else if (result.Violation is { } v)
        {
            var lines = new List<string>
            {
                $"{v.Invariant} ({Violation.Title(v.Invariant)}) at {TraceLog.FormatTime(v.Time)}, seed {result.Seed}, " +
                $"variant {result.Variant.Name()}, runtime {result.Runtime.Name()}" +
                (result.Runtime == RuntimeKind.Deterministic ? $", strategy {result.Strategy}" : ""),
            };
            if (where is not null)
            {
                lines.Add(where);
            }
            if (v.Damage is { } damage)
            {
                lines.Add(damage.Sentence());
            }
            lines.Add(v.Description);
            if (v.Actors.Count > 0)
            {
                lines.Add($"actors: {string.Join(", ", v.Actors)}");
            }
            lines.AddRange(v.WaitFor.Select(e => $"wait-for: {e}"));
            lines.Add(replay is not null
                ? $"replay: {replay}"
                : $"replay: none: the {result.Runtime.Name()} runtime does not record its thread interleaving; " +
                  $"to get a replayable finding: daxsim explore {p.Scenario.Source} --seeds 1000 --variant {result.Variant.Name()}");
            if (more is not null)
            {
                lines.AddRange(more);
            }
            if (reportPath is not null)
            {
                lines.Add($"report: {reportPath}");
            }
            testCase = Case(p, name, JUnitOutcome.Failed, v.Invariant.Name(),
                $"{v.Invariant} ({Violation.Title(v.Invariant)}): {FirstLine(v.Description)}", string.Join('\n', lines));
        }
        else
        {
            testCase = Case(p, name, JUnitOutcome.Passed, null, null, null);
        }
        WriteJUnit(p, testCase);
    }

    /// <summary>explore found nothing on any seed: a passing test case.</summary>
    private void JUnitClean()
    {
        if (_pending is { } p)
        {
            JUnitProperty("verdict", Verdict.Clean.JsonName());
            WriteJUnit(p, Case(p, JUnitName(p.Scenario.Name, p.Variant.Name()), JUnitOutcome.Passed, null, null, null));
        }
    }

    /// <summary>The run ended without a verdict: DaxSim failed (exit 70), or a cluster member did not answer (exit 75).</summary>
    private void JUnitError(Exception e, string type)
    {
        if (_pending is not { } p)
        {
            return;
        }
        try
        {
            WriteJUnit(p, Case(p, JUnitName(p.Scenario.Name, p.Variant.Name()), JUnitOutcome.Error, type,
                $"{type}: {FirstLine(e.Message)}", type == "internal-error" ? e.ToString() : e.Message));
        }
        catch (Exception ignored) when (ignored is IOException or UnauthorizedAccessException)
        {
            // The error itself is what gets reported; a report that cannot be written adds nothing.
        }
    }

    private JUnitCase Case(PendingCase p, string name, JUnitOutcome outcome, string? type, string? message, string? text) =>
        new($"daxsim.{p.Command}", name, _clock.Elapsed, outcome, p.Properties, type, message, text);

    private void WriteJUnit(PendingCase p, JUnitCase testCase)
    {
        _pending = null;
        Report.WriteText(_junit!, JUnitReport.Render($"daxsim.{p.Command}", [testCase], DateTime.UtcNow));
        stdout.WriteLine($"  junit: {_junit}");
    }

    private static string FirstLine(string s)
    {
        var end = s.IndexOf('\n');
        return end < 0 ? s : s[..end].TrimEnd('\r');
    }
}
