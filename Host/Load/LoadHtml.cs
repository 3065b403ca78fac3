using System.Globalization;
using System.Net;
using System.Text;
using DaxSim.Host.Checking;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using HdrHistogram;
using ScottPlot;

namespace DaxSim.Host.Load;

/// <summary>
/// The HTML report of a load run (--html OUT.html): one self-contained page (inline CSS and
/// SVG, no script, no network) with the summary table and three plots drawn with ScottPlot:
/// the latency of each operation kind by percentile (HdrHistogram's percentile plot: the
/// x axis stretches the tail, 90%, 99%, 99.9%, ...; log-scale latency), the throughput over
/// time, and the layout-break wait over time. ScottPlot draws through SkiaSharp, whose
/// native library ships in its NuGet package (docs/load.md).
/// </summary>
public static class LoadHtml
{
    private const int Width = 960;
    private const int Height = 440;

    public static string Render(LoadResult r)
    {
        var spec = r.Plan.Spec;
        var html = new StringBuilder();
        html.Append("""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>
            """);
        html.Append(E($"daxsim load {spec.Name}"));
        html.Append("""
            </title>
            <style>
            body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
            h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
            table { border-collapse: collapse; } td, th { padding: 3px 10px; text-align: right; border-bottom: 1px solid #ddd; }
            th:first-child, td:first-child { text-align: left; }
            .verdict-clean { color: #1a7f37; } .verdict-safety, .verdict-liveness { color: #c62828; font-weight: bold; }
            .note { color: #555; max-width: 960px; }
            figure { margin: 12px 0; } figcaption { color: #555; max-width: 960px; }
            </style></head><body>
            """);
        var verdict = r.Run.Verdict.JsonName();
        html.Append($"<h1>daxsim load {E(spec.Name)}</h1>");
        html.Append($"<p>seed {r.Plan.Seed}, runtime {E(r.Plan.Runtime.Name)}, variant {E(r.Plan.Variant.Name())}, " +
                    $"{spec.Files:N0} files × {spec.PagesPerFile:N0} pages, {spec.TaskCount:N0} tasks, duration " +
                    $"{Durations.Format(spec.Duration)} ({(r.Plan.Runtime.VirtualTime ? "simulated" : "wall-clock")}), " +
                    $"warm-up {Durations.Format(r.Plan.Warmup)}. Verdict: <span id=\"verdict\" class=\"verdict-{verdict}\">{verdict}</span></p>");
        if (r.Run.Violation is { } v)
        {
            html.Append($"<p id=\"violation\" class=\"verdict-{verdict}\">{E(v.Invariant.Name())}: {E(v.Description)}</p>");
        }
        html.Append(SummaryTable(r));
        html.Append("<h2>Latency by percentile</h2>");
        html.Append(Figure("latency", LatencyPlot(r),
            "Each operation kind's latency (log scale) at each percentile, as HdrHistogram plots it: the x axis stretches " +
            "the tail, so that 99%, 99.9% and 99.99% are as far apart as 0%, 90% and 99%. Latency runs from when the " +
            "operation was due to when it returned; only operations due in the measured window count."));
        html.Append("<h2>Throughput over time</h2>");
        html.Append(Figure("throughput", ThroughputPlot(r),
            "Operations completed per second, by kind, over the whole run. The shaded band is the warm-up, left out of " +
            "the statistics; the dashed line is the end of the duration, after which tasks finish what they were doing."));
        html.Append("<h2>Layout-break wait over time</h2>");
        html.Append(Figure("wait", WaitPlot(r),
            "For the operations that break layouts (truncate, punch hole, fallocate, ...), the time each spent asleep waiting " +
            "for busy pages to go idle: mean and maximum of the operations that completed in each interval."));
        html.Append("</body></html>\n");
        return html.ToString();
    }

    private static string SummaryTable(LoadResult r)
    {
        var window = LoadReport.WindowSeconds(r);
        var sb = new StringBuilder("<table id=\"summary\"><tr><th>op</th><th>count</th><th>ops/s</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>errors</th></tr>");
        foreach (var op in r.Stats.Ops)
        {
            var h = op.Latency;
            var errors = op.Errors.Count == 0 ? "-" : string.Join(", ", op.Errors.Select(e => $"{e.Key.Name()} {e.Value}"));
            sb.Append($"<tr><td>{op.Kind.JsonName()}</td><td>{op.Count:N0}</td><td>{op.Count / window:N1}</td>" +
                      $"<td>{P(h, 50)}</td><td>{P(h, 90)}</td><td>{P(h, 99)}</td><td>{P(h, 99.9)}</td>" +
                      $"<td>{(h.TotalCount == 0 ? "-" : LoadReport.FormatNs(h.GetMaxValue()))}</td><td>{E(errors)}</td></tr>");
        }
        sb.Append("</table>");
        var bw = r.Stats.BreakWait;
        if (bw.TotalCount > 0)
        {
            sb.Append($"<p class=\"note\">Layout breaks: {bw.TotalCount:N0} operations; wait p50 {P(bw, 50)}, p99 {P(bw, 99)}, " +
                      $"max {LoadReport.FormatNs(bw.GetMaxValue())}; retries mean {r.Stats.BreakRetries.GetMean():F2}, max {r.Stats.BreakRetries.GetMaxValue()}.</p>");
        }
        var wall = Math.Max(r.Run.WallTime.TotalSeconds, 1e-9);
        sb.Append($"<p class=\"note\">{r.Run.Messages:N0} protocol messages ({r.Run.Messages / wall:N0} per second of wall time); " +
                  $"peak heap {r.Memory.HeapPeakBytes / 1048576.0:N0} MiB, {r.Memory.BytesPerPage(r.Plan.Spec.TotalPages):N0} bytes " +
                  $"per simulated page.</p>");
        return sb.ToString();
    }

    private static string P(HistogramBase h, double p) => h.TotalCount == 0 ? "-" : LoadReport.FormatNs(h.GetValueAtPercentile(p));

    // --- plots -----------------------------------------------------------------------------------

    // HdrHistogram's percentile plot: x = log10(1 / (1 - p)), so 90% is 1, 99% is 2, 99.9% is 3.
    private static Plot LatencyPlot(LoadResult r)
    {
        var plot = NewPlot("percentile", "latency");
        double maxX = 1, minY = double.MaxValue, maxY = double.MinValue;
        foreach (var op in r.Stats.Ops.Where(o => o.Count > 0))
        {
            var xs = new List<double>();
            var ys = new List<double>();
            foreach (var v in op.Latency.Percentiles(5))
            {
                var p = Math.Min(v.PercentileLevelIteratedTo / 100.0, 0.999999);
                xs.Add(Math.Log10(1 / (1 - p)));
                ys.Add(LogMicros(v.ValueIteratedTo));
                if (v.IsLastValue())
                {
                    break;
                }
            }
            if (xs.Count == 0)
            {
                continue;
            }
            var line = plot.Add.Scatter(xs.ToArray(), ys.ToArray());
            line.LegendText = op.Kind.JsonName();
            line.MarkerSize = 0;
            line.LineWidth = 2;
            maxX = Math.Max(maxX, xs.Max());
            minY = Math.Min(minY, ys.Min());
            maxY = Math.Max(maxY, ys.Max());
        }
        // Beyond 1 / count the percentiles say nothing new: stop the axis one decade past it.
        var count = r.Stats.Ops.Select(o => o.Count).DefaultIfEmpty(1).Max();
        var top = Math.Clamp(Math.Ceiling(Math.Log10(Math.Max(count, 10))), 1, Math.Max(1, Math.Ceiling(maxX)));
        var ticks = Enumerable.Range(0, (int)top + 1).Select(i => (double)i).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks,
            ticks.Select(t => t == 0 ? "0%" : $"{(100 - 100 / Math.Pow(10, t)).ToString("0.#####", CultureInfo.InvariantCulture)}%").ToArray());
        LogAxis(plot, minY == double.MaxValue ? 0 : minY, maxY == double.MinValue ? 3 : maxY);
        plot.Axes.SetLimitsX(0, top);
        plot.ShowLegend(Edge.Right);
        return plot;
    }

    private static Plot ThroughputPlot(LoadResult r)
    {
        var plot = NewPlot("time (s)", "operations per second");
        var stats = r.Stats;
        var width = stats.BucketTicks / (double)TimeSpan.TicksPerSecond;
        var xs = Enumerable.Range(0, LoadRecorder.Buckets).Select(b => (b + 0.5) * width).ToArray();
        plot.Add.HorizontalSpan(0, stats.Warmup / (double)TimeSpan.TicksPerSecond).FillStyle.Color = Colors.Gray.WithAlpha(0.15);
        foreach (var op in stats.Ops)
        {
            var ys = op.Completions.Take(LoadRecorder.Buckets).Select(c => c / width).ToArray();
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = op.Kind.JsonName();
            line.MarkerSize = 0;
            line.LineWidth = 1.5f;
        }
        EndLine(plot, stats.Duration);
        plot.Axes.SetLimitsX(0, stats.Duration / (double)TimeSpan.TicksPerSecond);
        plot.Axes.SetLimitsY(0, Math.Max(1, stats.Ops.SelectMany(o => o.Completions.Take(LoadRecorder.Buckets)).DefaultIfEmpty(0).Max() / width * 1.1));
        plot.ShowLegend(Edge.Right);
        return plot;
    }

    private static Plot WaitPlot(LoadResult r)
    {
        var plot = NewPlot("time (s)", "wait (ms)");
        var stats = r.Stats;
        var waits = stats.WaitOverTime().Take(LoadRecorder.Buckets).ToList();
        var xs = waits.Select(w => w.Seconds).ToArray();
        plot.Add.HorizontalSpan(0, stats.Warmup / (double)TimeSpan.TicksPerSecond).FillStyle.Color = Colors.Gray.WithAlpha(0.15);
        var max = plot.Add.Scatter(xs, waits.Select(w => w.MaxNs / 1e6).ToArray());
        max.LegendText = "max";
        max.MarkerSize = 0;
        max.LineWidth = 1.5f;
        var mean = plot.Add.Scatter(xs, waits.Select(w => w.MeanNs / 1e6).ToArray());
        mean.LegendText = "mean";
        mean.MarkerSize = 0;
        mean.LineWidth = 2;
        EndLine(plot, stats.Duration);
        plot.Axes.SetLimitsX(0, stats.Duration / (double)TimeSpan.TicksPerSecond);
        plot.Axes.SetLimitsY(0, Math.Max(0.001, waits.Select(w => w.MaxNs / 1e6).DefaultIfEmpty(0).Max() * 1.1));
        plot.ShowLegend(Edge.Right);
        return plot;
    }

    private static Plot NewPlot(string x, string y)
    {
        var plot = new Plot();
        plot.Axes.Bottom.Label.Text = x;
        plot.Axes.Left.Label.Text = y;
        return plot;
    }

    private static void EndLine(Plot plot, long duration)
    {
        var end = plot.Add.VerticalLine(duration / (double)TimeSpan.TicksPerSecond);
        end.LinePattern = LinePattern.Dashed;
        end.Color = Colors.Black.WithAlpha(0.5);
    }

    // Latencies are plotted as log10(µs), at least 0.1 µs (the clock's resolution), with decade ticks.
    private static double LogMicros(long ns) => Math.Log10(Math.Max(ns, 100) / 1000.0);

    private static void LogAxis(Plot plot, double min, double max)
    {
        var low = Math.Floor(min);
        var high = Math.Max(low + 1, Math.Ceiling(max));
        var ticks = new List<double>();
        var labels = new List<string>();
        for (var d = low; d <= high; d++)
        {
            ticks.Add(d);
            labels.Add(LoadReport.FormatNs(Math.Pow(10, d) * 1000));
        }
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.ToArray(), labels.ToArray());
        plot.Axes.SetLimitsY(low, high);
    }

    private static string Figure(string id, Plot plot, string caption)
    {
        // Element ids of each SVG get the figure's prefix: several SVGs share one document.
        var svg = plot.GetSvgXml(Width, Height);
        var start = svg.IndexOf("<svg", StringComparison.Ordinal);
        svg = (start > 0 ? svg[start..] : svg)
            .Replace("id=\"", $"id=\"{id}-", StringComparison.Ordinal)
            .Replace("url(#", $"url(#{id}-", StringComparison.Ordinal)
            .Replace("<svg ", $"<svg id=\"plot-{id}\" role=\"img\" aria-label=\"{E(id)} plot\" ", StringComparison.Ordinal);
        return $"<figure>{svg}<figcaption>{E(caption)}</figcaption></figure>";
    }

    private static string E(string s) => WebUtility.HtmlEncode(s);
}
