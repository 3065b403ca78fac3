using System.Globalization;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Load;
using DaxSim.Protocol.Scenarios;
using HdrHistogram;
using Newtonsoft.Json.Linq;

namespace DaxSim.Host.Load;

/// <summary>
/// The JSON report of a load run (--report OUT.json; docs/load.md says what each figure
/// means) and the summary printed at its end. Times are in ns.
/// </summary>
public static class LoadReport
{
    public static readonly double[] Percentiles = [50, 90, 99, 99.9];

    public static JObject ToJson(LoadResult r)
    {
        var spec = r.Plan.Spec;
        var stats = r.Stats;
        var windowSeconds = WindowSeconds(r);
        var wallSeconds = Math.Max(r.Run.WallTime.TotalSeconds, 1e-9);
        var simulatedSeconds = Math.Max(TimeSpan.FromTicks(r.Run.EndTime).TotalSeconds, 1e-9);
        var byOp = new JObject();
        var latency = new JObject();
        var errors = new JObject();
        long total = 0;
        foreach (var op in stats.Ops)
        {
            var name = op.Kind.JsonName();
            total += op.Count;
            byOp[name] = new JObject
            {
                ["count"] = op.Count,
                ["opsPerSecond"] = Round(op.Count / windowSeconds),
                ["completedWholeRun"] = op.Total,
            };
            var l = HistogramJson(op.Latency);
            l["errors"] = op.Errors.Values.Sum();
            latency[name] = l;
            errors[name] = new JObject(op.Errors.Select(e => new JProperty(e.Key.Name(), e.Value)));
        }
        var overTime = new JObject();
        foreach (var op in stats.Ops)
        {
            overTime[op.Kind.JsonName()] = new JArray(op.Completions.Take(LoadRecorder.Buckets)
                .Select(c => Round(c / (stats.BucketTicks / (double)TimeSpan.TicksPerSecond))));
        }
        var (scans, busy, sleeps) = stats.Scans;
        var breakOps = stats.Ops.Where(o => o.Kind.BreaksLayouts()).ToList();
        var breakLayouts = new JObject
        {
            ["operations"] = stats.BreakWait.TotalCount,
            ["waited"] = breakOps.Sum(o => o.Waited),
            ["waitNs"] = HistogramJson(stats.BreakWait),
            ["retries"] = new JObject
            {
                ["total"] = breakOps.Sum(o => o.Retries),
                ["mean"] = Round(stats.BreakRetries.TotalCount == 0 ? 0 : stats.BreakRetries.GetMean()),
                ["p99"] = stats.BreakRetries.TotalCount == 0 ? 0 : stats.BreakRetries.GetValueAtPercentile(99),
                ["max"] = stats.BreakRetries.TotalCount == 0 ? 0 : stats.BreakRetries.GetMaxValue(),
            },
            ["busyScans"] = scans,
            ["busyPagesFound"] = busy,
            ["sleeps"] = sleeps,
            ["byOp"] = new JObject(breakOps.Select(o => new JProperty(o.Kind.JsonName(), new JObject
            {
                ["count"] = o.Count,
                ["waited"] = o.Waited,
                ["retries"] = o.Retries,
                ["waitNs"] = HistogramJson(o.BreakWait),
            }))),
            ["overTime"] = new JObject
            {
                ["bucketSeconds"] = stats.BucketTicks / (double)TimeSpan.TicksPerSecond,
                ["meanWaitNs"] = new JArray(stats.WaitOverTime().Take(LoadRecorder.Buckets).Select(w => Round(w.MeanNs))),
                ["maxWaitNs"] = new JArray(stats.WaitOverTime().Take(LoadRecorder.Buckets).Select(w => w.MaxNs)),
                ["operations"] = new JArray(stats.WaitOverTime().Take(LoadRecorder.Buckets).Select(w => w.Count)),
            },
        };
        var memory = r.Memory;
        var report = new JObject
        {
            ["daxsim"] = Report.Format,
            ["kind"] = "load",
            ["name"] = spec.Name,
            ["source"] = spec.Source,
            ["seed"] = r.Plan.Seed,
            ["runtime"] = r.Plan.Runtime.Name,
            ["clock"] = r.Plan.Runtime.VirtualTime ? "simulated" : "wall",
            ["variant"] = r.Plan.Variant.Name(),
            ["verdict"] = r.Run.Verdict.JsonName(),
            ["violation"] = Report.ToJson(r.Scenario, r.Run)["violation"],
            ["spec"] = SpecJson(spec, r.Plan),
            ["timeUnit"] = "ns",
            ["window"] = new JObject
            {
                ["start"] = Report.Ns(stats.Warmup),
                ["end"] = Report.Ns(stats.Duration),
                ["seconds"] = windowSeconds,
                ["latencyFrom"] = "due",
            },
            ["throughput"] = new JObject
            {
                ["operations"] = total,
                ["opsPerSecond"] = Round(total / windowSeconds),
                ["byOp"] = byOp,
                ["messages"] = r.Run.Messages,
                ["messagesPerSecond"] = Round(r.Run.Messages / wallSeconds),
                ["messagesPerSimulatedSecond"] = Round(r.Run.Messages / simulatedSeconds),
                ["messagesInWindow"] = stats.MessagesInWindow,
                ["messagesPerSecondInWindow"] = WindowMessageRate(r) is { } rate ? Round(rate) : null,
                ["overTime"] = new JObject
                {
                    ["bucketSeconds"] = stats.BucketTicks / (double)TimeSpan.TicksPerSecond,
                    ["opsPerSecond"] = overTime,
                },
            },
            ["latency"] = latency,
            ["errors"] = errors,
            ["breakLayouts"] = breakLayouts,
            ["memory"] = new JObject
            {
                ["heapBeforeBytes"] = memory.HeapBeforeBytes,
                ["heapPeakBytes"] = memory.HeapPeakBytes,
                ["liveHeapPeakBytes"] = memory.LiveHeapPeakBytes,
                ["workingSetPeakBytes"] = memory.WorkingSetPeakBytes,
                ["pages"] = spec.TotalPages,
                ["deviceBlocks"] = r.Scenario.Device.Blocks,
                ["lazyPages"] = r.LazyPages,
                ["bytesPerPage"] = Round(memory.BytesPerPage(spec.TotalPages)),
                ["bytesPerPageActor"] = memory.Footprint is { } f ? Round(f.PageActorBytes) : null,
                ["bytesPerEmptyActor"] = memory.Footprint is { } g ? Round(g.EmptyActorBytes) : null,
                ["gcCollections"] = new JObject { ["gen0"] = memory.Gen0, ["gen1"] = memory.Gen1, ["gen2"] = memory.Gen2 },
            },
            ["run"] = new JObject
            {
                ["endTime"] = Report.Ns(r.Run.EndTime),
                ["wallTimeMs"] = Math.Round(r.Run.WallTime.TotalMilliseconds, 3),
                ["deliveries"] = r.Run.Deliveries,
                ["messages"] = r.Run.Messages,
                ["events"] = r.Run.Events,
                ["threads"] = r.Run.Threads,
                ["traceHash"] = Report.Hex(r.Run.TraceHash),
            },
        };
        return report;
    }

    /// <summary>
    /// Protocol messages per second of the measured window (simulated seconds on the
    /// deterministic runtime): the load's rate without the run's start and end. Null when
    /// the run did not reach the window's end (a violation stopped it).
    /// </summary>
    public static double? WindowMessageRate(LoadResult r)
    {
        var (from, to) = r.Stats.MessageWindow;
        return r.Stats.MessagesInWindow is { } n && to > from ? n / TimeSpan.FromTicks(to - from).TotalSeconds : null;
    }

    public static double WindowSeconds(LoadResult r) =>
        Math.Max(TimeSpan.FromTicks(r.Stats.Duration - r.Stats.Warmup).TotalSeconds, 1e-9);

    private static JObject SpecJson(LoadSpec spec, LoadPlan plan) => new()
    {
        ["files"] = spec.Files,
        ["pagesPerFile"] = spec.PagesPerFile,
        ["pages"] = spec.TotalPages,
        ["deviceBlocks"] = spec.DeviceBlocks,
        ["tasks"] = new JArray(spec.Tasks.Select(t => new JObject
        {
            ["kind"] = t.Kind.JsonName(),
            ["count"] = t.Count,
            ["pages"] = t.Pages,
            ["ioTime"] = Durations.Format(t.IoTime),
            ["hold"] = Durations.Format(t.Hold),
            ["think"] = t.Rate is null ? Durations.Format(t.Think) : null,
            ["rate"] = t.Rate,
            ["arrivals"] = t.Exponential ? "poisson" : "fixed",
        })),
        ["taskCount"] = spec.TaskCount,
        ["duration"] = Durations.Format(spec.Duration),
        ["warmup"] = Durations.Format(plan.Warmup),
        ["signalsPerSecond"] = spec.Signals?.Rate,
        ["limits"] = new JObject
        {
            ["opBound"] = Durations.Format(spec.OpBound),
            ["leaseBreakTime"] = Durations.Format(spec.LeaseBreakTime),
        },
        ["text"] = spec.Text,
    };

    public static JObject HistogramJson(HistogramBase h)
    {
        var json = new JObject { ["count"] = h.TotalCount };
        if (h.TotalCount == 0)
        {
            foreach (var key in new[] { "p50", "p90", "p99", "p99.9", "max", "mean" })
            {
                json[key] = null;
            }
            return json;
        }
        json["p50"] = h.GetValueAtPercentile(50);
        json["p90"] = h.GetValueAtPercentile(90);
        json["p99"] = h.GetValueAtPercentile(99);
        json["p99.9"] = h.GetValueAtPercentile(99.9);
        json["max"] = h.GetMaxValue();
        json["mean"] = Round(h.GetMean());
        return json;
    }

    private static double Round(double v) => Math.Round(v, 3);

    // --- the summary on the console ---------------------------------------------------------

    public static void PrintSummary(TextWriter w, LoadResult r)
    {
        var stats = r.Stats;
        var window = WindowSeconds(r);
        var clock = r.Plan.Runtime.VirtualTime ? "simulated" : "wall-clock";
        w.WriteLine($"  measured window {Durations.Format(TimeSpan.FromTicks(stats.Warmup))}..{Durations.Format(TimeSpan.FromTicks(stats.Duration))} " +
                    $"({clock}; warm-up excluded); latency counted from when each operation was due");
        w.WriteLine($"  {"op",-10} {"count",10} {"ops/s",10} {"p50",9} {"p90",9} {"p99",9} {"p99.9",9} {"max",9}  errors");
        long total = 0;
        foreach (var op in stats.Ops)
        {
            total += op.Count;
            var h = op.Latency;
            var errors = op.Errors.Count == 0 ? "-" : string.Join(" ", op.Errors.Select(e => $"{e.Key.Name()} {e.Value}"));
            w.WriteLine($"  {op.Kind.JsonName(),-10} {op.Count,10:N0} {op.Count / window,10:N1} " +
                        $"{Ns(h, 50),9} {Ns(h, 90),9} {Ns(h, 99),9} {Ns(h, 99.9),9} {Max(h),9}  {errors}");
        }
        w.WriteLine($"  {"all",-10} {total,10:N0} {total / window,10:N1}");
        var bw = stats.BreakWait;
        if (bw.TotalCount > 0)
        {
            var (scans, busy, sleeps) = stats.Scans;
            var waited = stats.Ops.Where(o => o.Kind.BreaksLayouts()).Sum(o => o.Waited);
            w.WriteLine($"  layout breaks: {bw.TotalCount:N0} operations, {waited:N0} slept on a busy page " +
                        $"({100.0 * waited / bw.TotalCount:F1}%); wait p50 {Ns(bw, 50)} p90 {Ns(bw, 90)} p99 {Ns(bw, 99)} " +
                        $"p99.9 {Ns(bw, 99.9)} max {Max(bw)}; retries mean {stats.BreakRetries.GetMean():F2} max {stats.BreakRetries.GetMaxValue()}; " +
                        $"{scans:N0} busy scans, {busy:N0} found a busy page, {sleeps:N0} sleeps");
        }
        var m = r.Memory;
        var wall = Math.Max(r.Run.WallTime.TotalSeconds, 1e-9);
        w.WriteLine($"  messages: {r.Run.Messages:N0} ({r.Run.Messages / wall:N0}/s of wall time" +
                    (r.Plan.Runtime.VirtualTime ? $", {r.Run.Messages / Math.Max(TimeSpan.FromTicks(r.Run.EndTime).TotalSeconds, 1e-9):N0}/s simulated" : "") +
                    $"), {r.Run.Events:N0} events, wall {r.Run.WallTime.TotalSeconds:F2} s" +
                    (WindowMessageRate(r) is { } inWindow ? $"; {inWindow:N0}/s in the measured window" : ""));
        w.WriteLine($"  memory: heap peak {Mib(m.HeapPeakBytes)} (live {Mib(m.LiveHeapPeakBytes)}, " +
                    $"{m.BytesPerPage(r.Plan.Spec.TotalPages):N0} B per simulated page over {r.Plan.Spec.TotalPages:N0} pages), " +
                    $"working set peak {Mib(m.WorkingSetPeakBytes)}" +
                    (m.Footprint is { } f ? $"; a page actor {f.PageActorBytes:N0} B, an empty actor {f.EmptyActorBytes:N0} B" : ""));
    }

    private static string Mib(long bytes) => $"{bytes / 1048576.0:N0} MiB";

    private static string Max(HistogramBase h) => h.TotalCount == 0 ? "-" : FormatNs(h.GetMaxValue());

    private static string Ns(HistogramBase h, double p) => h.TotalCount == 0 ? "-" : FormatNs(h.GetValueAtPercentile(p));

    public static string FormatNs(double ns)
    {
        var c = CultureInfo.InvariantCulture;
        return ns switch
        {
            < 1_000 => $"{ns.ToString("0", c)}ns",
            < 1_000_000 => $"{(ns / 1e3).ToString("0.#", c)}us",
            < 1_000_000_000 => $"{(ns / 1e6).ToString("0.##", c)}ms",
            _ => $"{(ns / 1e9).ToString("0.###", c)}s",
        };
    }
}
