using System.Globalization;
using DaxSim.Host.Checking;
using DaxSim.Host.Deterministic;
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
            ["runtime"] = run.Runtime.Name(),
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
            ["coverage"] = CoverageJson(run.Coverage),
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
        if (run.Cluster is { } cluster)
        {
            report["cluster"] = ClusterJson(cluster);
        }
        if (run.Host is { } host)
        {
            report["host"] = new JObject
            {
                ["stolenMs"] = Math.Round(host.Stolen.TotalMilliseconds, 3),
                ["gcPauseMs"] = Math.Round(host.GcPause.TotalMilliseconds, 3),
                ["maxTimerLatenessMs"] = Math.Round(host.MaxTimerLateness.TotalMilliseconds, 3),
                ["inconclusive"] = host.Inconclusive,
            };
        }
        if (run.Runtime == RuntimeKind.Deterministic && scenario.Text is { } text)
        {
            var replay = new JObject
            {
                ["seed"] = run.Seed,
                ["variant"] = run.Variant.Name(),
                ["strategy"] = run.Strategy,
                ["traceHash"] = Hex(run.TraceHash),
                ["schedule"] = run.Schedule is { } s ? new JArray(s) : null,
            };
            if (run.PctDepth is { } depth)
            {
                replay["pct"] = new JObject { ["depth"] = depth, ["steps"] = run.PctSteps ?? 0 };
            }
            if (run.Faults is { } faults)
            {
                replay["faultInjection"] = FaultsJson(scenario, faults);
            }
            replay["scenarioSource"] = scenario.Source;
            replay["scenarioText"] = text;
            report["replay"] = replay;
        }
        return report;
    }

    /// <summary>A run's coverage: how many times it took each protocol branch, every branch listed.</summary>
    public static JObject CoverageJson(Coverage coverage)
    {
        var json = new JObject();
        foreach (var (name, count) in coverage.ByName())
        {
            json[name] = count;
        }
        return json;
    }

    /// <summary>Coverage over many runs: per branch, the total count and the number of runs that reached it.</summary>
    public static JObject CoverageJson(CoverageTotals totals)
    {
        var branches = new JObject();
        foreach (var branch in Coverage.All)
        {
            branches[Coverage.Name(branch)] = new JObject
            {
                ["total"] = totals.Total(branch),
                ["seeds"] = totals.RunsReaching(branch),
            };
        }
        return new JObject { ["seeds"] = totals.Runs, ["branches"] = branches };
    }

    /// <summary>The injected faults, as replay reads them back (times in ns, tasks by name).</summary>
    public static JObject FaultsJson(Scenario scenario, FaultPlan plan) => new()
    {
        ["faults"] = new JArray(plan.Faults.Select(f => new JObject
        {
            ["kind"] = f.Kind,
            ["task"] = scenario.TaskName(f.Task),
            ["at"] = Ns(f.At),
        })),
        ["delays"] = new JArray(plan.Delays.Select(d => new JObject
        {
            ["ready"] = d.Ready,
            ["actor"] = d.Actor,
            ["delay"] = Ns(d.Delay),
        })),
    };

    private static JObject ViolationJson(Violation v, RunResult run)
    {
        var json = new JObject
        {
            ["invariant"] = v.Invariant.Name(),
            ["title"] = Violation.Title(v.Invariant),
            ["class"] = v.Verdict.JsonName(),
        };
        // S1 says what it damaged: "data-corrupted", "pinned-block-freed" or "leased-block-freed".
        if (v.Damage is { } damage)
        {
            json["damage"] = damage.Name();
        }
        foreach (var (key, value) in ViolationFields(v, run))
        {
            json[key] = value;
        }
        return json;
    }

    private static JObject ViolationFields(Violation v, RunResult run) => new()
    {
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

    private static JObject ClusterJson(ClusterRunInfo c) => new()
    {
        ["nodes"] = c.Nodes,
        ["mode"] = c.Mode,
        ["timeToUpMs"] = Math.Round(c.TimeToUp.TotalMilliseconds, 1),
        ["members"] = new JArray(c.Members.Select(m => new JObject
        {
            ["index"] = m.Index,
            ["address"] = m.Address,
            ["tasks"] = new JArray(m.Tasks),
            ["status"] = m.Status,
            ["crashedAt"] = m.CrashedAt is { } at ? Ns(at) : null,
            ["removedAt"] = m.RemovedAt is { } removed ? Ns(removed) : null,
            ["pinsReleasedAt"] = m.PinsReleasedAt is { } released ? Ns(released) : null,
        })),
        ["faults"] = new JArray(c.Faults),
        ["waiting"] = new JArray(c.Waiting),
        ["batches"] = c.Batches,
        ["lateEvents"] = c.LateEvents,
        ["messages"] = c.Messages is { } messages ? MessagesJson(messages, c) : null,
    };

    /// <summary>
    /// The cluster's message figures: protocol messages (each envelope the first time it
    /// arrived), those between nodes, rates over the whole run, duplicates, acks,
    /// retransmissions, per node, and the sums about once a second (for rates over a window).
    /// </summary>
    private static JObject MessagesJson(ClusterMessages m, ClusterRunInfo c)
    {
        static JObject CountsJson(Transport.MessageCounts k) => new()
        {
            ["total"] = k.Messages,
            ["betweenNodes"] = k.Remote,
            ["withinNodes"] = k.Local,
            ["duplicates"] = k.DuplicatesLocal + k.DuplicatesRemote,
            ["duplicatesBetweenNodes"] = k.DuplicatesRemote,
            ["acks"] = k.AcksLocal + k.AcksRemote,
            ["acksBetweenNodes"] = k.AcksRemote,
            ["retransmissions"] = k.Retransmissions,
            // What the members' outboxes sent each other: batches, and the envelopes and acks in them.
            ["batchesBetweenNodes"] = k.Batches,
            ["batchedBetweenNodes"] = k.Batched,
        };
        var json = CountsJson(m.Counts);
        var seconds = m.Samples.Count > 0 ? m.Samples[^1].At / (double)TimeSpan.TicksPerSecond : 0;
        var last = m.Samples.Count > 0 ? m.Samples[^1].Counts : Transport.MessageCounts.Zero;
        json["perSecond"] = seconds > 0 ? Math.Round(last.Messages / seconds, 1) : null;
        json["betweenNodesPerSecond"] = seconds > 0 ? Math.Round(last.Remote / seconds, 1) : null;
        json["firstTaskEndedMs"] = m.FirstTaskEnded is { } ended ? Math.Round(ended / (double)TimeSpan.TicksPerMillisecond, 1) : null;
        json["perNode"] = new JArray(m.PerNode.Select((k, i) =>
        {
            var node = CountsJson(k);
            node.AddFirst(new JProperty("node", i));
            return node;
        }));
        json["samples"] = new JArray(m.Samples.Select(x => new JArray(
            Math.Round(x.At / (double)TimeSpan.TicksPerMillisecond, 1), x.Counts.Messages, x.Counts.Remote,
            x.Counts.AcksLocal + x.Counts.AcksRemote, x.Counts.AcksRemote,
            x.Counts.DuplicatesLocal + x.Counts.DuplicatesRemote, x.Counts.DuplicatesRemote, x.Counts.Retransmissions,
            x.Counts.Batches, x.Counts.Batched)));
        json["sampleFields"] = new JArray("ms", "total", "betweenNodes", "acks", "acksBetweenNodes", "duplicates",
            "duplicatesBetweenNodes", "retransmissions", "batchesBetweenNodes", "batchedBetweenNodes");
        return json;
    }

    public static string Hex(ulong hash) => hash.ToString("x16", CultureInfo.InvariantCulture);

    /// <summary>Writes the report whole or not at all: to a temporary file first, then renamed into place.</summary>
    public static void Write(string path, JObject report) => WriteText(path, report.ToString(Formatting.Indented));

    /// <summary>Writes a text file whole or not at all: to a temporary file first, then renamed into place.</summary>
    public static void WriteText(string path, string text)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            File.WriteAllText(temp, text);
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
