using DaxSim.Actors;
using System.Globalization;
using System.Net;
using System.Text;
using DaxSim.Host.Checking;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;

namespace DaxSim.Host.Timeline;

/// <summary>
/// The timeline report (--html OUT.html): one self-contained HTML page, inline CSS and SVG
/// and no network, with one lane per actor over the run's time. Task lanes show operations,
/// lock waits (hatched) and holds (solid) per file and lock kind, sleeps on a page and
/// leases; inode lanes the lock holders; mapping lanes PTE and DAX entry changes and the
/// busy-page scans; page lanes the refcount as a step line, DMA writes, idle notifications
/// and owner changes. A violation is a red line where it happened (id="violation",
/// data-invariant), and a deadlock's wait-for cycle is drawn as a graph (id="wait-for-cycle").
///
/// The horizontal axis is the order of the trace events, not linear time: every event
/// takes one step, and where virtual time advances a gap that grows with the logarithm of
/// the step is added and the new time is labelled. Many events happen at the same virtual
/// time (zero-time messages), and this keeps each of them visible in the order it
/// happened; shaded bands mark the events of one instant. The page reads without
/// JavaScript (tooltips are SVG titles); a few lines of script scroll the violation into
/// view and show the time under the mouse.
/// </summary>
public static partial class TimelineReport
{
    /// <summary>The drawing is at least this wide, and at most MaxWidth, in CSS pixels.</summary>
    public const int MinWidth = 1050;

    public const int MaxWidth = 14000;

    /// <summary>Shapes one row keeps before neighbours are merged into one (with a count).</summary>
    public const int RowCap = 400;

    /// <summary>Pixels per event step, unless the width limits say otherwise; never more than MaxStep.</summary>
    internal const double PreferredStep = 9;

    internal const double MaxStep = 16;

    /// <summary>Room right of the end of the run.</summary>
    internal const double RightPad = 90;

    private const double LabelWidth = 230;
    private const double AxisHeight = 46;
    private const double LanePad = 5;
    private const double BandHeight = 9;

    public static string Render(Scenario scenario, RunResult run, string? replay = null)
    {
        var timeline = run.Timeline ?? throw new ArgumentException(
            "the run has no timeline: make it with RunSettings.RecordTimeline = true", nameof(run));
        var events = new List<Ev>();
        foreach (var entry in timeline)
        {
            if (entry.Item is TraceEvent e)
            {
                events.Add(new Ev(events.Count, entry.Time, e));
            }
        }
        var violation = run.Violation;
        var axis = Axis.Build(events, Math.Max(run.EndTime, violation?.Time ?? 0));
        // The event that broke a safety invariant, as the checker recorded it.
        int? culprit = violation?.Event is { } broke && events.FindIndex(ev => ReferenceEquals(ev.E, broke)) is var at and >= 0
            ? at
            : null;
        var lanes = new LaneBuilder(scenario, axis, ProtocolPolicy.For(run.Variant).IdleRefcount).Build(events);
        var merged = lanes.SelectMany(l => l.Rows).Count(r => r.Merged > 0);
        replay ??= run.Runtime == RuntimeKind.Deterministic
            ? $"daxsim run {scenario.Source} --runtime deterministic --seed {run.Seed} --variant {run.Variant.Name()}"
            : null;

        var html = new StringBuilder(64 * 1024);
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        html.Append($"<title>DaxSim timeline: {E(scenario.Name)}, {E(run.Variant.Name())}, seed {run.Seed}</title>\n");
        html.Append("<style>").Append(Css).Append("</style>\n</head>\n<body>\n");
        Defs(html);
        html.Append("<div class=\"top\">\n");
        Header(html, scenario, run, replay, events.Count, timeline.Count - events.Count);
        if (violation is not null)
        {
            ViolationBox(html, violation, culprit is { } c ? events[c] : null);
        }
        else
        {
            html.Append("<section class=\"clean-box\"><h2>No violation</h2><p>Every invariant held on every event.</p></section>\n");
        }
        html.Append("</div>\n");
        Legend(html, merged);
        double? vx = violation is null ? null : culprit is { } ci ? axis.X[ci] : axis.AtTime(violation.Time);
        Drawing(html, scenario, run, axis, lanes, violation, vx);
        Notes(html, run, events.Count, merged);
        html.Append("<script>").Append(Script).Append("</script>\n</body>\n</html>\n");
        return html.ToString();
    }

    /// <summary>Writes the page whole or not at all: to a temporary file first, then renamed into place.</summary>
    public static void Write(string path, string html) => Report.WriteText(path, html);

    // --- the page's parts ---------------------------------------------------------------------

    private static void Header(StringBuilder html, Scenario scenario, RunResult run, string? replay, int events,
        int deliveries)
    {
        var expected = run.Verdict == scenario.Expect ? "as expected" : $"expected {scenario.Expect.JsonName()}";
        var clock = run.Runtime == RuntimeKind.Deterministic ? "virtual" : "elapsed (real threads)";
        html.Append("<header>\n");
        html.Append($"<h1>DaxSim timeline: {E(scenario.Name)}</h1>\n<table class=\"meta\">\n");

        Meta(html, "scenario", $"{E(scenario.Name)} <span class=\"dim\">({E(scenario.Source)})</span>");
        Meta(html, "variant", E(run.Variant.Name()));
        Meta(html, "seed", run.Seed.ToString(CultureInfo.InvariantCulture));
        Meta(html, "runtime", $"{E(run.Runtime.Name())}" + (run.Runtime == RuntimeKind.Deterministic ? $", strategy {E(run.Strategy)}" : ""));
        Meta(html, "verdict", $"<b class=\"verdict-{run.Verdict.JsonName()}\">{run.Verdict.JsonName()}</b> ({E(expected)})");
        Meta(html, "run", $"{run.OpsCompleted} operations, {events} events, {deliveries} deliveries, " +
                          $"{clock} time {E(Time(run.EndTime))}, trace {Report.Hex(run.TraceHash)}");
        if (replay is not null)
        {
            Meta(html, "replay", $"<code>{E(replay)}</code>");
        }
        html.Append("</table>\n</header>\n");
    }

    private static void Meta(StringBuilder html, string key, string valueHtml) =>
        html.Append($"<tr><th>{key}</th><td>{valueHtml}</td></tr>\n");

    private static void ViolationBox(StringBuilder html, Violation v, Ev? culprit)
    {
        html.Append($"<section class=\"violation-box\" data-invariant=\"{E(v.Invariant.Name())}\">\n");
        html.Append($"<div class=\"vtext\"><h2>{E(v.Invariant.Name())} {E(v.Invariant.Title())} at {E(Time(v.Time))}</h2>\n");
        if (v.Damage is { } damage)
        {
            html.Append($"<p class=\"damage\" data-damage=\"{E(damage.Name())}\">{E(damage.Sentence())}</p>\n");
        }
        html.Append($"<p class=\"desc\">{E(v.Description)}</p>\n");
        if (culprit is { } c)
        {
            html.Append($"<p>On event #{c.Index}: <code>{E(c.E.ToString())}</code></p>\n");
        }
        else
        {
            html.Append("<p>Judged when the run settled, not on one event: the red line is at the end of what happened by then.</p>\n");
        }
        if (v.Actors.Count > 0)
        {
            html.Append($"<p>Actors: {E(string.Join(", ", v.Actors))} (their lanes are marked in red).</p>\n");
        }
        if (v.WaitFor.Count > 0)
        {
            html.Append("<p>Wait-for:</p><ol class=\"wait-for\">\n");
            foreach (var line in v.WaitFor)
            {
                html.Append($"<li>{E(line)}</li>\n");
            }
            html.Append("</ol>\n");
        }
        html.Append("</div>\n");
        if (v.Edges.Count > 0)
        {
            html.Append(WaitForGraph(v.Edges, v.Invariant == InvariantId.L1 ? "wait-for-cycle" : "wait-for-graph"));
        }
        html.Append("</section>\n");
    }

    private static void Notes(StringBuilder html, RunResult run, int events, int mergedRows)
    {
        html.Append("<p class=\"notes\"><b>Horizontal axis: event order.</b> Every trace event takes one step; " +
                    "where time advances, a gap that grows with the logarithm of the step is added and the new time " +
                    "is labelled above. Events at the same instant (zero-time messages) are therefore spread out in " +
                    "the order they happened, and shaded bands group the events of one instant. Hover any shape " +
                    "for its details; #N is the event's number in the trace.");
        if (run.Runtime != RuntimeKind.Deterministic)
        {
            html.Append(" Times are elapsed wall-clock times of the local runtime.");
        }
        if (events == 0)
        {
            html.Append(" <b>The run produced no events.</b>");
        }
        if (mergedRows > 0)
        {
            html.Append($" <b class=\"merged-note\">Dense run: in {mergedRows} row(s), shapes closer than the " +
                        $"drawing can separate (or more than {RowCap} in a row) are merged into one shape with a " +
                        "dashed outline (hatched grey when of different kinds); its tooltip says how many, and gives " +
                        "the first and the last.</b>");
        }
        html.Append("</p>\n");
    }

    private static void Legend(StringBuilder html, int mergedRows)
    {
        html.Append("<p class=\"hint\"><b>x: event order</b>, not linear time: each event is one step, time is " +
                    "labelled where it advances, and events of one instant are spread out in the order they " +
                    "happened (see the note below the drawing). Hover a shape for its details.");
        if (mergedRows > 0)
        {
            html.Append($" <b class=\"merged-note\">Dense run: {mergedRows} row(s) have merged shapes (dashed outline).</b>");
        }
        html.Append("</p>\n<div class=\"legend\">\n");
        void Item(string swatch, string text) =>
            html.Append($"<span><svg width=\"26\" height=\"14\">{swatch}</svg>{text}</span>\n");
        string Box(string cls) => $"<rect class=\"{cls}\" x=\"1\" y=\"2\" width=\"24\" height=\"10\"/>";
        Item(Box("op-ok"), "operation (ok)");
        Item(Box("op-err"), "operation (error)");
        Item(Box("op-open"), "unfinished");
        Item(Box("w-io"), "waits for IOLOCK");
        Item(Box("h-io-x"), "holds IOLOCK ex");
        Item(Box("h-io-s"), "shared");
        Item(Box("w-mm"), "waits for MMAPLOCK");
        Item(Box("h-mm-x"), "holds MMAPLOCK ex");
        Item(Box("h-mm-s"), "shared");
        Item(Box("sleep"), "sleeps on a page");
        Item(Box("lease"), "lease held");
        Item("<path class=\"refline\" d=\"M1 12H8V4H18V8H25\"/>", "refcount (1 = idle)");
        Item("<line class=\"dma\" x1=\"13\" y1=\"1\" x2=\"13\" y2=\"13\"/>", "DMA write");
        Item("<circle class=\"idle\" cx=\"13\" cy=\"7\" r=\"4.5\"/>", "idle notification");
        Item("<path class=\"busy\" d=\"M13 1L19 7L13 13L7 7Z\"/>", "busy-page scan");
        Item("<line class=\"zap\" x1=\"13\" y1=\"1\" x2=\"13\" y2=\"13\"/>", "PTE zapped");
        Item("<path class=\"freed\" d=\"M9 3L17 11M17 3L9 11\"/>", "block freed");
        Item("<line class=\"vline\" x1=\"13\" y1=\"0\" x2=\"13\" y2=\"14\"/>", "violation");
        html.Append("</div>\n");
    }

    private static void Defs(StringBuilder html)
    {
        html.Append("<svg class=\"defs\" width=\"0\" height=\"0\" aria-hidden=\"true\"><defs>\n");
        void Hatch(string id, string color) => html.Append(
            $"<pattern id=\"{id}\" patternUnits=\"userSpaceOnUse\" width=\"6\" height=\"6\" patternTransform=\"rotate(45)\">" +
            $"<rect width=\"6\" height=\"6\" fill=\"#fff\"/><rect width=\"3\" height=\"6\" fill=\"{color}\"/></pattern>\n");
        Hatch("hatch-io", "#3f9a68");
        Hatch("hatch-mm", "#8a56c2");
        Hatch("hatch-sleep", "#e39b2d");
        Hatch("hatch-lease", "#2a9d8f");
        Hatch("hatch-merged", "#9aa7b8");
        html.Append("<marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" " +
                    "orient=\"auto-start-reverse\"><path d=\"M0 0L10 5L0 10Z\" fill=\"#b3261e\"/></marker>\n");
        html.Append("</defs></svg>\n");
    }

    // --- the timeline drawing ---------------------------------------------------------------

    private static void Drawing(StringBuilder html, Scenario scenario, RunResult run, Axis axis, List<Lane> lanes,
        Violation? violation, double? vx)
    {
        // Vertical layout.
        var y = AxisHeight;
        foreach (var lane in lanes)
        {
            lane.Top = y;
            y += LanePad;
            foreach (var row in lane.Rows)
            {
                row.Top = y;
                y += row.Height;
            }
            y += LanePad;
            lane.Bottom = y;
        }
        var height = y + 8;
        var width = axis.Width;
        var involved = new HashSet<string>(violation?.Actors ?? []);

        html.Append("<div class=\"timeline\">\n");

        // The fixed column of lane and row names.
        html.Append($"<div class=\"labels\"><svg width=\"{N(LabelWidth)}\" height=\"{N(height)}\">\n");
        html.Append($"<text class=\"axis-title\" x=\"8\" y=\"17\">{(run.Runtime == RuntimeKind.Deterministic ? "virtual time" : "elapsed time")}</text>\n");
        html.Append("<text class=\"axis-sub\" x=\"8\" y=\"37\">event #</text>\n");
        var odd = false;
        foreach (var lane in lanes)
        {
            var bad = involved.Contains(lane.Key);
            html.Append($"<g class=\"lane-label{(bad ? " involved" : "")}\" data-lane=\"{E(lane.Key)}\">");
            html.Append($"<rect class=\"lane-bg{(odd ? " odd" : "")}\" x=\"0\" y=\"{N(lane.Top)}\" width=\"{N(LabelWidth)}\" height=\"{N(lane.Bottom - lane.Top)}\"/>");
            if (bad)
            {
                html.Append($"<rect class=\"involved-bar\" x=\"0\" y=\"{N(lane.Top)}\" width=\"4\" height=\"{N(lane.Bottom - lane.Top)}\"/>");
            }
            var first = lane.Rows[0];
            html.Append($"<text class=\"lane-title\" x=\"10\" y=\"{N(first.Top + Math.Min(first.Height, 20) / 2 + 4)}\">{E(Clip(lane.Title, 18))}<title>{E(lane.Tip)}</title></text>");
            foreach (var row in lane.Rows)
            {
                html.Append($"<text class=\"row-label\" x=\"{N(LabelWidth - 8)}\" y=\"{N(row.Top + Math.Min(row.Height, 20) / 2 + 3.5)}\">{E(Clip(row.Label, 16))}</text>");
            }
            html.Append("</g>\n");
            odd = !odd;
        }
        html.Append("</svg></div>\n");

        // The scrolling drawing.
        html.Append($"<div class=\"scroll\" id=\"tl-scroll\"><svg id=\"tl-svg\" width=\"{N(width)}\" height=\"{N(height)}\" " +
                    $"data-axis=\"{AxisData(axis)}\">\n");
        odd = false;
        foreach (var lane in lanes)
        {
            html.Append($"<rect class=\"lane-bg{(odd ? " odd" : "")}\" x=\"0\" y=\"{N(lane.Top)}\" width=\"{N(width)}\" height=\"{N(lane.Bottom - lane.Top)}\"/>\n");
            odd = !odd;
        }
        AxisDrawing(html, axis, height);
        foreach (var lane in lanes)
        {
            html.Append($"<g class=\"lane\" id=\"lane-{E(lane.Key)}\" data-lane=\"{E(lane.Key)}\">\n");
            foreach (var row in lane.Rows)
            {
                RowDrawing(html, row, axis);
            }
            html.Append("</g>\n");
        }
        if (violation is not null && vx is { } x)
        {
            html.Append($"<g id=\"violation\" class=\"violation\" data-invariant=\"{E(violation.Invariant.Name())}\" " +
                        $"data-time-ns=\"{Report.Ns(violation.Time)}\" data-x=\"{N(x)}\">");
            html.Append($"<title>{E(violation.ToString())}</title>");
            html.Append($"<line class=\"vline\" x1=\"{N(x)}\" y1=\"2\" x2=\"{N(x)}\" y2=\"{N(height - 4)}\"/>");
            foreach (var lane in lanes.Where(l => involved.Contains(l.Key)))
            {
                var row = lane.Rows[0];
                html.Append($"<circle class=\"vring\" cx=\"{N(x)}\" cy=\"{N(row.Top + Math.Min(row.Height, 20) / 2)}\" r=\"7\"/>");
            }
            // The label left of the line, unless there is no room there.
            var label = $"{violation.Invariant.Name()} {violation.Invariant.Title()} at {Time(violation.Time)}";
            var w = label.Length * 7.2 + 12;
            var lx = x - w - 3 >= 0 ? x - w - 3 : x + 3;
            html.Append($"<rect class=\"vlabel-bg\" x=\"{N(lx)}\" y=\"2\" width=\"{N(w)}\" height=\"18\" rx=\"3\"/>");
            html.Append($"<text class=\"vlabel\" x=\"{N(lx + 6)}\" y=\"15\">{E(label)}</text>");
            html.Append("</g>\n");
        }
        html.Append("<line id=\"cursor\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"0\" style=\"display:none\"/>");
        html.Append("<text id=\"cursor-text\" x=\"0\" y=\"0\"></text>\n");
        html.Append("</svg></div>\n</div>\n");
    }

    private static void AxisDrawing(StringBuilder html, Axis axis, double height)
    {
        // Shaded bands: the events of one instant, every other instant.
        var groups = axis.Groups;
        var lastBand = double.NegativeInfinity;
        for (var g = 0; g < groups.Count; g += 2)
        {
            var x0 = axis.X[groups[g]] - axis.Scale / 2;
            var x1 = g + 1 < groups.Count ? axis.X[groups[g + 1] - 1] + axis.Scale / 2 : axis.X[^1] + axis.Scale / 2;
            if (x1 - x0 < 3 || x0 - lastBand < 2)
            {
                continue;
            }
            lastBand = x1;
            html.Append($"<rect class=\"instant\" x=\"{N(x0)}\" y=\"22\" width=\"{N(x1 - x0)}\" height=\"{N(height - 22)}\"/>");
        }
        html.Append('\n');
        html.Append($"<line class=\"axis\" x1=\"0\" y1=\"{N(AxisHeight - 1)}\" x2=\"{N(axis.Width)}\" y2=\"{N(AxisHeight - 1)}\"/>\n");
        // Time labels where time advances, as many as fit.
        var lastLabel = double.NegativeInfinity;
        foreach (var start in groups)
        {
            var x = axis.X[start] - axis.Scale / 2;
            if (x - lastLabel < 86)
            {
                continue;
            }
            lastLabel = x;
            html.Append($"<line class=\"tick\" x1=\"{N(x)}\" y1=\"4\" x2=\"{N(x)}\" y2=\"22\"/>" +
                        $"<text class=\"tlabel\" x=\"{N(x + 3)}\" y=\"16\">{E(Time(axis.T[start]))}</text>");
        }
        if (axis.End - lastLabel >= 86 && (axis.X.Length == 0 || axis.EndTime > axis.T[^1]))
        {
            html.Append($"<line class=\"tick\" x1=\"{N(axis.End)}\" y1=\"4\" x2=\"{N(axis.End)}\" y2=\"22\"/>" +
                        $"<text class=\"tlabel\" x=\"{N(axis.End + 3)}\" y=\"16\">{E(Time(axis.EndTime))} (end)</text>");
        }
        html.Append('\n');
        // Event numbers, about every 100 px.
        var every = Math.Max(1, (int)Math.Ceiling(100 / axis.Scale));
        every = NiceStep(every);
        for (var i = 0; i < axis.X.Length; i += every)
        {
            html.Append($"<text class=\"elabel\" x=\"{N(axis.X[i])}\" y=\"38\">#{i}</text>");
        }
        html.Append('\n');
    }

    private static int NiceStep(int n)
    {
        foreach (var m in new[] { 1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000 })
        {
            if (m >= n)
            {
                return m;
            }
        }
        return n;
    }

    /// <summary>x and time (ticks) of each instant's first event, for the script's time readout; at most 3000 pairs.</summary>
    private static string AxisData(Axis axis)
    {
        var groups = axis.Groups;
        var stride = Math.Max(1, groups.Count / 3000 + 1);
        var sb = new StringBuilder("[");
        for (var g = 0; g < groups.Count; g += stride)
        {
            if (g > 0)
            {
                sb.Append(',');
            }
            sb.Append(N(axis.X[groups[g]] - axis.Scale / 2)).Append(',').Append(axis.T[groups[g]]);
        }
        return sb.Append(']').ToString();
    }

    private static void RowDrawing(StringBuilder html, Row row, Axis axis)
    {
        var top = row.Top;
        var h = row.Height;
        // The owner of a page: a strip along the top of the row.
        foreach (var band in row.Bands)
        {
            html.Append($"<rect class=\"band band{band.Color % 6}\" x=\"{N(band.X0)}\" y=\"{N(top + 1)}\" width=\"{N(Math.Max(band.X1 - band.X0, 1))}\" height=\"{N(BandHeight)}\"><title>{E(band.Count > 1 ? $"{band.Count} spells merged, the first: {band.Tip}" : band.Tip)}</title></rect>");
            if (band.X1 - band.X0 > band.Text.Length * 5 + 8)
            {
                html.Append($"<text class=\"band-text\" x=\"{N(band.X0 + 3)}\" y=\"{N(top + BandHeight - 0.5)}\">{E(band.Text)}</text>");
            }
        }
        if (row.Steps is { } steps)
        {
            StepLine(html, row, steps, axis);
        }
        var shapes = row.Shapes;
        for (var i = 0; i < shapes.Count; i++)
        {
            var s = shapes[i];
            var cls = s.Count > 1 ? $"{s.Cls} m" : s.Cls;
            var tip = s.Count > 1 ? $"{s.Count} merged: {s.Tip} … {s.LastTip}" : s.Tip;
            switch (s.Kind)
            {
                case ShapeKind.Bar:
                {
                    var w = Math.Max(s.X1 - s.X0, 1.5);
                    var by = top + 2;
                    var bh = h - 4;
                    html.Append($"<rect class=\"{cls}\" x=\"{N(s.X0)}\" y=\"{N(by)}\" width=\"{N(w)}\" height=\"{N(bh)}\"><title>{E(tip)}</title></rect>");
                    var text = s.Count > 1 ? $"×{s.Count}" : s.Text;
                    if (text is not null && h >= 12 && Fit(text, w - 4, 5.6) is { } shown)
                    {
                        html.Append($"<text class=\"bt {s.Cls}-t\" x=\"{N(s.X0 + 2.5)}\" y=\"{N(by + bh / 2 + 3.5)}\">{E(shown)}</text>");
                    }
                    break;
                }
                case ShapeKind.Tick when s.X1 - s.X0 > 1:
                    // Merged ticks: the stretch they cover.
                    html.Append($"<rect class=\"{cls} tickspan\" x=\"{N(s.X0)}\" y=\"{N(top + 2)}\" width=\"{N(s.X1 - s.X0)}\" height=\"{N(h - 4)}\"><title>{E(tip)}</title></rect>");
                    break;
                case ShapeKind.Tick:
                    html.Append($"<line class=\"{cls}\" x1=\"{N(s.X0)}\" y1=\"{N(row.Steps is null ? top + 2 : top + BandHeight + 2)}\" x2=\"{N(s.X0)}\" y2=\"{N(top + h - 2)}\"><title>{E(tip)}</title></line>");
                    break;
                case ShapeKind.Mark:
                {
                    var cy = row.Steps is null ? top + Math.Min(h, 20) / 2 : top + BandHeight + (h - BandHeight) / 2;
                    html.Append(Symbol(s.Sym, s.X0, cy, cls, tip));
                    var text = s.Count > 1 ? $"×{s.Count}" : s.Text;
                    if (text is not null)
                    {
                        var room = (i + 1 < shapes.Count ? shapes[i + 1].X0 : axis.Width) - s.X0 - 9;
                        if (Fit(text, room, 5.8) is { } shown)
                        {
                            html.Append($"<text class=\"mt\" x=\"{N(s.X0 + 7)}\" y=\"{N(cy + 3.5)}\">{E(shown)}</text>");
                        }
                    }
                    break;
                }
            }
        }
        html.Append('\n');
    }

    private static string Symbol(string sym, double x, double cy, string cls, string tip)
    {
        var t = $"<title>{E(tip)}</title>";
        return sym switch
        {
            "diamond" => $"<path class=\"{cls}\" d=\"M{N(x)} {N(cy - 6)}L{N(x + 6)} {N(cy)}L{N(x)} {N(cy + 6)}L{N(x - 6)} {N(cy)}Z\">{t}</path>",
            "cross" => $"<path class=\"{cls}\" d=\"M{N(x - 4.5)} {N(cy - 4.5)}L{N(x + 4.5)} {N(cy + 4.5)}M{N(x + 4.5)} {N(cy - 4.5)}L{N(x - 4.5)} {N(cy + 4.5)}\">{t}</path>",
            "tri" => $"<path class=\"{cls}\" d=\"M{N(x)} {N(cy - 6)}L{N(x + 5.5)} {N(cy + 4)}L{N(x - 5.5)} {N(cy + 4)}Z\">{t}</path>",
            "small" => $"<circle class=\"{cls}\" cx=\"{N(x)}\" cy=\"{N(cy)}\" r=\"3\">{t}</circle>",
            _ => $"<circle class=\"{cls}\" cx=\"{N(x)}\" cy=\"{N(cy)}\" r=\"4.5\">{t}</circle>",
        };
    }

    /// <summary>The refcount as a filled step line, at most a few points per pixel.</summary>
    private static void StepLine(StringBuilder html, Row row, List<(double X, int V)> steps, Axis axis)
    {
        var max = Math.Max(row.MaxValue, 2);
        var baseY = row.Top + row.Height - 3;
        var span = row.Height - BandHeight - 8;
        double Y(int v) => baseY - span * v / max;
        var line = new StringBuilder();
        var current = row.Initial;
        line.Append($"M{N(Axis.Left - 6)} {N(Y(current))}");
        var i = 0;
        while (i < steps.Count)
        {
            // One bucket: the changes within half a pixel, drawn as their range then the last value.
            var bx = steps[i].X;
            int lo = int.MaxValue, hi = int.MinValue;
            var last = current;
            for (; i < steps.Count && steps[i].X - bx < 0.5; i++)
            {
                lo = Math.Min(lo, steps[i].V);
                hi = Math.Max(hi, steps[i].V);
                last = steps[i].V;
            }
            if (lo == hi && lo == current)
            {
                continue;
            }
            line.Append($"H{N(bx)}");
            if (lo != hi)
            {
                line.Append($"V{N(Y(lo))}V{N(Y(hi))}");
            }
            line.Append($"V{N(Y(last))}");
            current = last;
        }
        line.Append($"H{N(axis.End)}");
        var d = line.ToString();
        html.Append($"<path class=\"refarea\" d=\"{d}V{N(baseY)}H{N(Axis.Left - 6)}Z\"/>");
        html.Append($"<line class=\"idleline\" x1=\"{N(Axis.Left - 6)}\" y1=\"{N(Y(1))}\" x2=\"{N(axis.End)}\" y2=\"{N(Y(1))}\"/>");
        html.Append($"<path class=\"refline\" d=\"{d}\"/>");
        html.Append($"<text class=\"refmax\" x=\"{N(Axis.Left - 9)}\" y=\"{N(Y(max) + 3)}\">{max}</text>");
        html.Append($"<text class=\"refmax\" x=\"{N(Axis.Left - 9)}\" y=\"{N(Y(1) + 3)}\">1</text>");
    }

    // --- the wait-for graph -------------------------------------------------------------------

    /// <summary>
    /// The wait-for edges as a small graph: tasks (boxes) wait for locks, pages and leases
    /// (ovals), which are held, pinned or queued for by tasks. The nodes sit on a circle in
    /// the order the edges name them, so a cycle reads round the circle.
    /// </summary>
    internal static string WaitForGraph(IReadOnlyList<WaitForEdge> waits, string id)
    {
        var nodes = new List<(string Name, bool Task)>();
        var edges = new List<(int From, int To, string Label)>();
        int Node(string name, bool task)
        {
            var i = nodes.FindIndex(n => n.Name == name);
            if (i < 0)
            {
                nodes.Add((name, task));
                i = nodes.Count - 1;
            }
            return i;
        }
        void Edge(int from, int to, string label)
        {
            if (!edges.Any(e => e.From == from && e.To == to))
            {
                edges.Add((from, to, label));
            }
        }
        foreach (var wait in waits)
        {
            var w = Node(wait.Waiter, true);
            var r = Node(wait.Resource, false);
            if (wait.Holder is not { } holder)
            {
                Edge(w, r, wait.Reason == WaitReason.PageIdle ? $"waits for (refcount {wait.Refcount})" : "waits for");
                continue;
            }
            var (waitLabel, holdLabel) = wait.Reason switch
            {
                WaitReason.PagePinned => ("waits for it to go idle", "pinned by"),
                WaitReason.PageMapped => ("waits for it to go idle", "mapped by"),
                WaitReason.LockQueued => ("waits for", "queued behind"),
                _ => ("waits for", "held by"),
            };
            Edge(w, r, waitLabel);
            Edge(r, Node(holder, true), holdLabel);
        }
        if (edges.Count == 0)
        {
            return "";
        }
        var n = nodes.Count;
        var radius = Math.Max(62, n * 22.0);
        var widths = nodes.Select(x => x.Name.Length * 7.0 + 18).ToList();
        var maxW = widths.Max();
        var cx = radius + maxW / 2 + 20;
        var cy = radius + 30;
        var width = 2 * cx;
        var height = 2 * radius + 60;
        var pos = new (double X, double Y)[n];
        for (var i = 0; i < n; i++)
        {
            var angle = -Math.PI / 2 + 2 * Math.PI * i / n;
            pos[i] = (cx + radius * Math.Cos(angle), cy + radius * Math.Sin(angle));
        }
        var svg = new StringBuilder();
        svg.Append($"<svg id=\"{id}\" class=\"wait-graph\" width=\"{N(width)}\" height=\"{N(height)}\" " +
                   $"data-nodes=\"{n}\" data-edges=\"{edges.Count}\">\n");
        svg.Append($"<title>wait-for: {E(string.Join("; ", waits.Select(x => x.Text)))}</title>\n");
        // The distance from a node's centre to its border along (dx, dy).
        double Reach(int i, double dx, double dy)
        {
            var hw = widths[i] / 2;
            var hh = 13.0;
            var len = Math.Sqrt(dx * dx + dy * dy);
            if (len < 1e-9)
            {
                return 0;
            }
            if (nodes[i].Task)
            {
                var t = Math.Min(Math.Abs(dx) > 1e-9 ? hw / Math.Abs(dx) : double.MaxValue,
                    Math.Abs(dy) > 1e-9 ? hh / Math.Abs(dy) : double.MaxValue);
                return t * len;
            }
            return 1 / Math.Sqrt(dx * dx / (hw * hw * len * len) + dy * dy / (hh * hh * len * len));
        }
        foreach (var (from, to, label) in edges)
        {
            var (x0, y0) = pos[from];
            var (x1, y1) = pos[to];
            var dx = x1 - x0;
            var dy = y1 - y0;
            var len = Math.Sqrt(dx * dx + dy * dy);
            var a = Reach(from, dx, dy) + 2;
            var b = Reach(to, -dx, -dy) + 3;
            var sx = x0 + dx / len * a;
            var sy = y0 + dy / len * a;
            var ex = x1 - dx / len * b;
            var ey = y1 - dy / len * b;
            svg.Append($"<line class=\"wf-edge\" x1=\"{N(sx)}\" y1=\"{N(sy)}\" x2=\"{N(ex)}\" y2=\"{N(ey)}\" marker-end=\"url(#arrow)\"/>");
            // The label just outside the circle's chord.
            var mx = (sx + ex) / 2;
            var my = (sy + ey) / 2;
            var ox = mx - cx;
            var oy = my - cy;
            var ol = Math.Max(Math.Sqrt(ox * ox + oy * oy), 1);
            var lx = mx + ox / ol * 14;
            var ly = my + oy / ol * 14;
            var anchor = Math.Abs(ox) < 12 ? "middle" : ox > 0 ? "start" : "end";
            svg.Append($"<text class=\"wf-label\" x=\"{N(lx)}\" y=\"{N(ly + 4)}\" text-anchor=\"{anchor}\">{E(label)}</text>\n");
        }
        for (var i = 0; i < n; i++)
        {
            var (x, y) = pos[i];
            var w = widths[i];
            svg.Append(nodes[i].Task
                ? $"<g class=\"wf-node wf-task\"><rect x=\"{N(x - w / 2)}\" y=\"{N(y - 13)}\" width=\"{N(w)}\" height=\"26\" rx=\"5\"/>"
                : $"<g class=\"wf-node wf-res\"><ellipse cx=\"{N(x)}\" cy=\"{N(y)}\" rx=\"{N(w / 2)}\" ry=\"13\"/>");
            svg.Append($"<text x=\"{N(x)}\" y=\"{N(y + 4)}\" text-anchor=\"middle\">{E(nodes[i].Name)}</text></g>\n");
        }
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    // --- small helpers ------------------------------------------------------------------------

    private static string E(string s) => WebUtility.HtmlEncode(s);

    internal static string N(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);

    private static string Clip(string s, int max) => s.Length <= max ? s : s[..(max - 1)] + "…";

    /// <summary>The text, or as much of it as fits in <paramref name="room"/> pixels with an ellipsis, or null.</summary>
    private static string? Fit(string text, double room, double charWidth)
    {
        var chars = (int)(room / charWidth);
        if (chars >= text.Length)
        {
            return text;
        }
        return chars >= 4 ? text[..(chars - 1)] + "…" : null;
    }

    /// <summary>A time in 100 ns ticks as µs, ms or s.</summary>
    public static string Time(long ticks)
    {
        static string Num(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
        return ticks switch
        {
            0 => "0",
            < 10_000 => $"{Num(ticks / 10.0)} µs",
            < 10_000_000 => $"{Num(ticks / 10_000.0)} ms",
            _ => $"{Num(ticks / 10_000_000.0)} s",
        };
    }

    private const string Css = """

        body { font: 13px/1.4 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; margin: 16px 20px; color: #1d232b; background: #fff; }
        h1 { font-size: 19px; margin: 0 0 6px; }
        h2 { font-size: 16px; margin: 0 0 6px; }
        code { font: 12px "DejaVu Sans Mono", monospace; background: #f1f3f6; padding: 1px 4px; border-radius: 3px; }
        .dim { color: #6b7480; }
        table.meta { border-collapse: collapse; }
        table.meta th { text-align: left; font-weight: normal; color: #6b7480; padding: 1px 14px 1px 0; vertical-align: top; }
        table.meta td { padding: 1px 0; }
        .verdict-clean { color: #1b7a3a; } .verdict-safety, .verdict-liveness { color: #b3261e; }
        .top { display: flex; flex-wrap: wrap; gap: 10px 24px; align-items: flex-start; }
        .violation-box { border: 2px solid #b3261e; border-radius: 6px; padding: 8px 12px; background: #fff6f5; flex: 1 1 520px; max-width: 1100px; display: flex; gap: 16px; align-items: flex-start; }
        .vtext { flex: 1 1 auto; }
        .violation-box h2 { color: #b3261e; }
        .violation-box p { margin: 4px 0; }
        .violation-box .desc { font-weight: bold; }
        .clean-box { border: 2px solid #1b7a3a; border-radius: 6px; padding: 8px 12px; background: #f3fbf5; flex: 1 1 400px; max-width: 800px; }
        ol.wait-for { margin: 2px 0; padding-left: 22px; }
        .hint { margin: 10px 0 2px; color: #3b4350; }
        .wait-graph { flex: none; background: #fff; border: 1px solid #e3c4c1; border-radius: 6px; }
        .wf-edge { stroke: #b3261e; stroke-width: 1.6; }
        .wf-label { font-size: 11px; fill: #7a1d17; }
        .wf-task rect { fill: #e6eefa; stroke: #2b5c99; stroke-width: 1.4; }
        .wf-res ellipse { fill: #fff2dc; stroke: #c07a12; stroke-width: 1.4; }
        .wf-node text { font-size: 12px; fill: #1d232b; }
        .notes { max-width: 1400px; color: #3b4350; margin: 10px 0; }
        .merged-note { color: #7a4b00; }
        .legend { display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 6px 0 10px; font-size: 12px; color: #3b4350; }
        .legend span { display: inline-flex; align-items: center; gap: 4px; }
        .defs { position: absolute; }
        .timeline { display: flex; border: 1px solid #cdd3db; border-radius: 4px; }
        .labels { flex: none; border-right: 1px solid #cdd3db; background: #fff; }
        .scroll { overflow-x: auto; flex: 1 1 auto; }
        svg text { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; }
        .lane-bg { fill: #fff; } .lane-bg.odd { fill: #f6f8fb; }
        .lane-title { font-size: 12px; font-weight: bold; fill: #1d232b; }
        .row-label { font-size: 10px; fill: #6b7480; text-anchor: end; }
        .involved .lane-title { fill: #b3261e; }
        .involved-bar { fill: #b3261e; }
        .axis-title { font-size: 12px; fill: #3b4350; } .axis-sub { font-size: 10px; fill: #8a929c; }
        .instant { fill: #e9eef6; opacity: .55; }
        .axis { stroke: #9aa3ae; } .tick { stroke: #9aa3ae; }
        .tlabel { font-size: 11px; fill: #1d232b; } .elabel { font-size: 9px; fill: #8a929c; }
        .bt { font-size: 10px; fill: #fff; pointer-events: none; }
        .w-io-t, .w-mm-t, .sleep-t, .lbreak-t, .op-open-t, .mixed-t { paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
        .mt { font-size: 10px; fill: #3b4350; pointer-events: none; }
        .op-ok { fill: #3d6fb0; } .op-err { fill: #d9822b; } .op-killed { fill: #7d848c; }
        .op-open { fill: #a9c1e3; stroke: #3d6fb0; stroke-dasharray: 4 2; } .op-open-t { fill: #1d232b; }
        .h-io-x { fill: #2f7d52; } .h-io-s { fill: #8fd0aa; } .h-io-s-t { fill: #123d25; }
        .h-mm-x { fill: #6f3fa6; } .h-mm-s { fill: #c8ace6; } .h-mm-s-t { fill: #35195a; }
        .w-io { fill: url(#hatch-io); stroke: #3f9a68; stroke-width: .6; }
        .w-mm { fill: url(#hatch-mm); stroke: #8a56c2; stroke-width: .6; }
        .w-io-t, .w-mm-t, .sleep-t, .lbreak-t { fill: #1d232b; }
        .sleep { fill: url(#hatch-sleep); stroke: #c07a12; stroke-width: .6; }
        .lbreak { fill: url(#hatch-lease); stroke: #2a9d8f; stroke-width: .6; }
        .lease { fill: #2a9d8f; } .lease-revoked { fill: #8a5a44; }
        .open-end { stroke-dasharray: 3 2; }
        .m { stroke: #1d232b; stroke-width: .8; stroke-dasharray: 2 1.5; }
        .mixed { fill: url(#hatch-merged); stroke: #6b7480; } .mixed-t { fill: #1d232b; }
        .tickspan { fill: #8a929c; fill-opacity: .3; }
        .fault { fill: #b3261e; } .sig { fill: #f2c14e; stroke: #7a5a00; }
        .retry { fill: #fff; stroke: #6f3fa6; stroke-width: 1.5; }
        .ended { fill: #1d232b; } .killed { stroke: #b3261e; stroke-width: 2.2; fill: none; }
        .already-idle { stroke: #2a9d8f; stroke-width: 1.5; }
        .recheck { stroke: #b3261e; stroke-width: 1.8; fill: none; }
        .busy { fill: #e39b2d; stroke: #7a4b00; } .nobusy { fill: #cfd5dc; stroke: #6b7480; }
        .pte { stroke: #3f9a68; stroke-width: 1.5; } .zap { stroke: #d3453a; stroke-width: 2; }
        .entry { stroke: #3d6fb0; stroke-width: 1.5; } .entry-del { stroke: #d9822b; stroke-width: 2; }
        .ext { stroke: #6b7480; stroke-width: 1.5; } .ext-rm { stroke: #d9822b; stroke-width: 2; }
        .size { fill: #3d6fb0; } .layout { fill: #fff; stroke: #3d6fb0; stroke-width: 1.5; }
        .alloc { stroke: #3f9a68; stroke-width: 2; } .free { stroke: #d3453a; stroke-width: 2; }
        .refarea { fill: #d8e6f7; } .refline { fill: none; stroke: #2b5c99; stroke-width: 1.6; }
        .idleline { stroke: #8a929c; stroke-dasharray: 3 3; stroke-width: .8; }
        .refmax { font-size: 9px; fill: #6b7480; text-anchor: end; }
        .dma { stroke: #8e3fb5; stroke-width: 2.2; }
        .idle { fill: #2a9d8f; stroke: #fff; stroke-width: 1; }
        .spec { fill: #fff; stroke: #2b5c99; stroke-width: 1.3; }
        .freed { stroke: #6b7480; stroke-width: 2.2; fill: none; } .freed-pinned { stroke: #d00; stroke-width: 3; fill: none; }
        .band0 { fill: #cfe8d2; } .band1 { fill: #f3dcb8; } .band2 { fill: #d3dcf5; } .band3 { fill: #eed3ea; } .band4 { fill: #cfe9e9; } .band5 { fill: #ece4bd; }
        .band-text { font-size: 8px; fill: #4b5360; }
        .vline { stroke: #d00; stroke-width: 2.5; }
        .vring { fill: none; stroke: #d00; stroke-width: 2; }
        .vlabel-bg { fill: #d00; } .vlabel { font-size: 12px; font-weight: bold; fill: #fff; }
        #cursor { stroke: #1d232b; stroke-width: .7; stroke-dasharray: 2 2; pointer-events: none; }
        #cursor-text { font-size: 11px; fill: #1d232b; pointer-events: none; paint-order: stroke; stroke: #fff; stroke-width: 3px; }

        """;

    private const string Script = """

        (function () {
          var root = document.documentElement;
          var scroll = document.getElementById('tl-scroll');
          var svg = document.getElementById('tl-svg');
          var mark = document.getElementById('violation');
          if (scroll && mark) {
            var x = parseFloat(mark.getAttribute('data-x'));
            if (x > scroll.clientWidth - 20) { scroll.scrollLeft = x - scroll.clientWidth * 0.6; }
          }
          var axis = JSON.parse(svg.getAttribute('data-axis') || '[]');
          var cursor = document.getElementById('cursor');
          var text = document.getElementById('cursor-text');
          function fmt(t) {
            function n(v) { return String(Math.round(v * 1000) / 1000); }
            if (t === 0) { return '0'; }
            if (t < 1e4) { return n(t / 10) + ' \u00b5s'; }
            if (t < 1e7) { return n(t / 1e4) + ' ms'; }
            return n(t / 1e7) + ' s';
          }
          svg.addEventListener('mousemove', function (e) {
            var r = svg.getBoundingClientRect();
            var x = e.clientX - r.left, y = e.clientY - r.top;
            var lo = 0, hi = axis.length / 2 - 1, k = -1;
            while (lo <= hi) {
              var mid = (lo + hi) >> 1;
              if (axis[2 * mid] <= x) { k = mid; lo = mid + 1; } else { hi = mid - 1; }
            }
            cursor.setAttribute('x1', x); cursor.setAttribute('x2', x);
            cursor.setAttribute('y1', 0); cursor.setAttribute('y2', svg.getAttribute('height'));
            cursor.style.display = '';
            text.setAttribute('x', x + 6); text.setAttribute('y', Math.max(12, y - 8));
            text.textContent = k < 0 ? '' : 't = ' + fmt(axis[2 * k + 1]);
          });
          svg.addEventListener('mouseleave', function () { cursor.style.display = 'none'; text.textContent = ''; });
          root.setAttribute('data-timeline', 'ready');
        })();

        """;
}
