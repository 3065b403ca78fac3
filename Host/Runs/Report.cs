using System.Globalization;
using DaxSim.Host.Checking;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace DaxSim.Host.Runs;

/// <summary>
/// The JSON report of a run (--report OUT.json). It is also the trace that
/// `daxsim replay` re-runs: a deterministic run's report carries the scenario text, the
/// seed, the variant, the strategy, every scheduling choice and the trace fingerprint.
/// Times are in nanoseconds of simulated time (elapsed time for the local runtime).
/// </summary>
public static class Report
{
    public const int Format = 1;

    public static JObject ToJson(Scenario scenario, RunResult run)
    {
        var violation = run.Violation is { } v ? ViolationJson(v, run) : null;
        var report = new JObject
        {
            ["daxsim"] = Format,
            ["scenario"] = scenario.Name,
            ["source"] = scenario.Source,
            ["runtime"] = run.Runtime,
            ["verdict"] = run.Verdict.JsonName(),
            ["expect"] = scenario.Expect.JsonName(),
            ["seed"] = run.Seed,
            ["variant"] = run.Variant.Name(),
            ["strategy"] = run.Strategy,
            ["violation"] = violation,
            ["timeUnit"] = "ns",
            ["endTime"] = Ns(run.EndTime),
            ["wallTimeMs"] = Math.Round(run.WallTime.TotalMilliseconds, 3),
            ["deliveries"] = run.Deliveries,
            ["events"] = run.Events,
            ["threads"] = run.Threads,
            ["opsCompleted"] = run.OpsCompleted,
            ["traceHash"] = Hex(run.TraceHash),
            ["ops"] = new JArray(run.Ops.Select(o => new JObject
            {
                ["task"] = o.Task,
                ["op"] = o.Op,
                ["file"] = o.File,
                ["step"] = o.Step,
                ["iteration"] = o.Iteration,
                ["start"] = Ns(o.Start),
                ["end"] = Ns(o.End),
                ["result"] = o.Result,
            })),
        };
        if (run.Runtime == "deterministic" && scenario.Text is { } text)
        {
            report["replay"] = new JObject
            {
                ["seed"] = run.Seed,
                ["variant"] = run.Variant.Name(),
                ["strategy"] = run.Strategy,
                ["traceHash"] = Hex(run.TraceHash),
                ["schedule"] = run.Schedule is { } s ? new JArray(s) : null,
                ["scenarioSource"] = scenario.Source,
                ["scenarioText"] = text,
            };
        }
        return report;
    }

    private static JObject ViolationJson(Violation v, RunResult run) => new()
    {
        ["invariant"] = v.Invariant,
        ["title"] = Violation.Title(v.Invariant),
        ["class"] = v.Verdict.JsonName(),
        ["time"] = Ns(v.Time),
        ["description"] = v.Description,
        ["seed"] = run.Seed,
        ["actors"] = new JArray(v.Actors),
        ["waitFor"] = new JArray(v.WaitFor),
        ["messages"] = new JArray(MessagesInvolving(v, run.TraceTail)),
        ["trace"] = new JArray(run.TraceTail),
    };

    /// <summary>The deliveries of the trace tail that name an actor involved in the violation.</summary>
    public static IEnumerable<string> MessagesInvolving(Violation v, IEnumerable<string> tail) =>
        tail.Where(line => line.Contains(" deliver ") &&
                           v.Actors.Any(a => line.Contains($" {a} ") || line.Contains($" {a}:")));

    public static long Ns(long ticks) => ticks * 100;

    public static string Hex(ulong hash) => hash.ToString("x16", CultureInfo.InvariantCulture);

    /// <summary>Writes the report whole or not at all: to a temporary file first, then renamed into place.</summary>
    public static void Write(string path, JObject report)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var writer = new StreamWriter(temp))
            using (var json = new JsonTextWriter(writer) { Formatting = Formatting.Indented })
            {
                report.WriteTo(json);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }
}
