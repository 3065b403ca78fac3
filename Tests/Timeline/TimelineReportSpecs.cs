using DaxSim.Host.Checking;
using System.Text.RegularExpressions;
using DaxSim.Host.Runs;
using DaxSim.Host.Timeline;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Timeline;

/// <summary>
/// The timeline report (--html): a lane per actor, the violation marked where it happened,
/// a deadlock's wait-for cycle drawn, same-time events kept apart, dense runs kept small,
/// and nothing fetched from the network.
/// </summary>
public sealed class TimelineReportSpecs(TimelineRuns runs) : IClassFixture<TimelineRuns>
{
    // --- lanes ---------------------------------------------------------------------------------

    [Fact]
    public void Every_task_and_every_actor_with_events_must_have_a_lane()
    {
        var (scenario, run, html) = runs.Clean;
        Assert.Equal(Verdict.Clean, run.Verdict);
        var lanes = Lanes(html);
        foreach (var task in scenario.Tasks)
        {
            Assert.Contains($"task-{task.Name}", lanes);
        }
        Assert.Contains("inode-dax", lanes);
        Assert.Contains("mapping-dax", lanes);
        Assert.Contains("inode-src", lanes); // the DIO's IOLOCK on the source file
        Assert.Contains("device", lanes);
        // Every page the run touched, and no other.
        var pages = run.Timeline!.Select(e => e.Item).OfType<PageGot>().Select(g => $"page-{g.Page.Value}").Distinct();
        foreach (var page in pages)
        {
            Assert.Contains(page, lanes);
        }
        Assert.DoesNotContain("page-7", lanes);
        // Each lane once in the label column and once in the drawing.
        Assert.All(lanes.GroupBy(l => l), g => Assert.Equal(2, g.Count()));
    }

    [Fact]
    public void The_lanes_must_show_lock_waits_and_holds_pins_the_busy_scan_idle_notifications_and_DMA()
    {
        var html = runs.Clean.Html;
        var punch = Lane(html, "task-punch");
        Assert.Contains("class=\"w-io\"", punch);   // waits for IOLOCK, hatched
        Assert.Contains("class=\"h-io-x\"", punch); // holds it exclusive
        Assert.Contains("class=\"w-mm\"", punch);
        Assert.Contains("class=\"h-mm-x\"", punch);
        Assert.Contains("class=\"sleep\"", punch); // sleeps until a page goes idle
        Assert.Contains("punchHole", punch);
        Assert.Contains("class=\"h-io-x\"", Lane(html, "inode-dax"));
        Assert.Contains("class=\"busy\"", Lane(html, "mapping-dax"));
        Assert.Contains("class=\"zap\"", Lane(html, "mapping-dax"));
        var pages = Regex.Matches(html, "<g class=\"lane\" id=\"lane-page-\\d+\"").Count;
        Assert.True(pages >= 4, $"{pages} page lanes");
        Assert.Contains("class=\"refline\"", Lane(html, "page-0"));
        Assert.Contains("class=\"dma\"", html);
        Assert.Contains("class=\"idle\"", html);
        Assert.Contains("class=\"freed\"", html);
        Assert.DoesNotContain("id=\"violation\"", html);
        Assert.Contains("No violation", html);
    }

    // --- the violation -------------------------------------------------------------------------

    [Fact]
    public void An_S1_finding_must_be_marked_on_the_DMA_that_landed_in_the_freed_block_and_show_the_free_before_it()
    {
        var (_, run, html) = runs.UseAfterFree;
        Assert.Equal(InvariantId.S1, run.Violation?.Invariant);
        Assert.Equal(Damage.DataCorrupted, run.Violation!.Damage);
        var marker = ViolationMarker(html);
        Assert.Contains("data-invariant=\"S1\"", marker);
        Assert.Contains($"data-time-ns=\"{Report.Ns(run.Violation!.Time)}\"", marker);
        // The block was freed at 100 ms, under the pin; the DMA landed in it at 600 ms.
        Assert.Contains("S1 use-after-free at 600 ms", html);
        Assert.Contains("data-damage=\"data-corrupted\"", html);
        Assert.Contains(System.Net.WebUtility.HtmlEncode(run.Violation.Description), html);
        var page = run.Violation.Actors.Single(a => a.StartsWith("page-", StringComparison.Ordinal));
        Assert.Matches($@"On event #\d+: <code>DmaLanded {{ Page = {page},", html);
        Assert.Contains("freed-pinned", Lane(html, "page-0"));
        var x = double.Parse(Regex.Match(marker, "data-x=\"([0-9.]+)\"").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"<line class=\"dma\" x1=\"{TimelineReport.N(x)}\"", Lane(html, page));
        // The actors involved have their lanes marked.
        foreach (var actor in run.Violation.Actors)
        {
            Assert.Contains($"<g class=\"lane-label involved\" data-lane=\"{actor}\">", html);
        }
        Assert.DoesNotContain("id=\"wait-for-cycle\"", html);
        // The replay command is in the header.
        Assert.Contains("--runtime deterministic --seed 1 --variant no-break", html);
    }

    [Fact]
    public void An_L1_deadlock_must_be_marked_and_its_wait_for_cycle_drawn()
    {
        var (_, run, html) = runs.Deadlock;
        Assert.Equal(InvariantId.L1, run.Violation?.Invariant);
        Assert.Contains("data-invariant=\"L1\"", ViolationMarker(html));
        var cycle = Regex.Match(html, "<svg id=\"wait-for-cycle\"[^>]*>(.*?)</svg>", RegexOptions.Singleline);
        Assert.True(cycle.Success, "no wait-for cycle drawn");
        // task-dio → MMAPLOCK of 'dax' → task-zero → page-3 → task-dio: four nodes, four arrows.
        Assert.Contains("data-nodes=\"4\" data-edges=\"4\"", cycle.Value);
        Assert.Equal(4, Regex.Matches(cycle.Value, "marker-end=\"url\\(#arrow\\)\"").Count);
        foreach (var node in new[] { ">task-dio<", ">task-zero<", ">page-3<", ">MMAPLOCK of &#39;dax&#39;<" })
        {
            Assert.Contains(node, cycle.Value);
        }
        foreach (var edge in run.Violation!.WaitFor)
        {
            Assert.Contains($"<li>{System.Net.WebUtility.HtmlEncode(edge)}</li>", html);
        }
        // What is still waiting at the end is drawn to the end: task-dio's wait for MMAPLOCK.
        Assert.Contains("waits for MMAPLOCK of &#39;dax&#39; (sh)", Lane(html, "task-dio"));
        Assert.Contains("still so at the end of the run", Lane(html, "task-dio"));
    }

    [Fact]
    public void Wait_for_edges_of_every_kind_must_become_graph_edges()
    {
        var svg = TimelineReport.WaitForGraph(
        [
            new WaitForEdge("task-a", WaitReason.LockQueued, "IOLOCK of 'f'", "task-b"),
            new WaitForEdge("task-b", WaitReason.LeaseHeld, "layout lease on 'f'", "task-c"),
            new WaitForEdge("task-c", WaitReason.PagePinned, "page-2", "task-a"),
            new WaitForEdge("task-c", WaitReason.PageMapped, "page-2", "task-d"),
            new WaitForEdge("task-d", WaitReason.LockHeld, "MMAPLOCK of 'f'", "task-a"),
            new WaitForEdge("task-e", WaitReason.PageIdle, "page-7", null, 1),
        ], "g");
        // Tasks a..e, the four resources waited for and page-7: one arrow from each waiter to
        // its resource (task-c's two waits share one) and one from each resource to a holder.
        Assert.Contains("data-nodes=\"10\" data-edges=\"10\"", svg);
        Assert.Contains(">layout lease on &#39;f&#39;<", svg);
        Assert.Contains(">queued behind<", svg);
        Assert.Contains(">pinned by<", svg);
        Assert.Contains(">mapped by<", svg);
        Assert.Contains(">held by<", svg);
        Assert.Contains(">waits for (refcount 1)<", svg);
        Assert.Equal("", TimelineReport.WaitForGraph([], "g"));
    }

    [Fact]
    public void The_wait_for_graph_must_be_drawn_from_the_edges_fields_not_their_sentences()
    {
        // Names that make the sentence say something else: a parser of sentences would find
        // other nodes (or none). The drawing has exactly the waiter, the resource and the holder.
        var tricky = new WaitForEdge("task-x waits for page-9 to go idle, pinned by task-y", WaitReason.LockHeld,
            "IOLOCK of 'a, held by task-z'", "task-w");
        var svg = TimelineReport.WaitForGraph([tricky], "g");
        Assert.Contains("data-nodes=\"3\" data-edges=\"2\"", svg);
        var nodes = Regex.Matches(svg, "<text x=\"[^\"]*\" y=\"[^\"]*\" text-anchor=\"middle\">([^<]*)</text></g>")
            .Select(m => System.Net.WebUtility.HtmlDecode(m.Groups[1].Value))
            .ToList();
        Assert.Equal([tricky.Waiter, tricky.Resource, tricky.Holder!], nodes);
    }


    // --- the axis ------------------------------------------------------------------------------

    [Fact]
    public void Events_at_the_same_time_must_each_get_their_own_place_in_order()
    {
        // The deadlock happens entirely at time 0.
        var run = runs.Deadlock.Run;
        var events = run.Timeline!.Where(e => e.Item is TraceEvent).ToList();
        Assert.True(events.Count > 40);
        Assert.All(events, e => Assert.Equal(0, e.Time));
        var axis = Axis.Build(events.Select((e, i) => new Ev(i, e.Time, (TraceEvent)e.Item)).ToList(), run.EndTime);
        for (var i = 1; i < axis.X.Length; i++)
        {
            Assert.True(axis.X[i] - axis.X[i - 1] >= 1, $"events {i - 1} and {i} are {axis.X[i] - axis.X[i - 1]} px apart");
        }
        Assert.True(axis.End > axis.X[^1]);
        Assert.Contains("<text class=\"elabel\"", runs.Deadlock.Html); // event numbers along the axis
    }

    [Fact]
    public void Where_time_advances_the_axis_must_leave_a_gap_that_grows_with_the_step_and_label_the_time()
    {
        static Ev E(int i, long t) => new(i, t, new SizeChanged(new FileId(0), i));
        var axis = Axis.Build([E(0, 0), E(1, 0), E(2, 10), E(3, 1_000_000), E(4, 1_000_000)], 1_000_000);
        var same = axis.X[1] - axis.X[0];
        var micro = axis.X[2] - axis.X[1];
        var big = axis.X[3] - axis.X[2];
        Assert.True(same < micro && micro < big, $"{same} {micro} {big}");
        Assert.Equal(same, axis.X[4] - axis.X[3], 6);
        Assert.Equal([0, 2, 3], axis.Groups);
        Assert.Contains(">100 ms<", runs.UseAfterFree.Html); // signal-long-pin: the truncate after its 100 ms sleep
        Assert.Equal("0", TimelineReport.Time(0));
        Assert.Equal("12.3 µs", TimelineReport.Time(123));
        Assert.Equal("200 µs", TimelineReport.Time(2_000));
        Assert.Equal("1.5 ms", TimelineReport.Time(15_000));
        Assert.Equal("2 s", TimelineReport.Time(20_000_000));
    }

    // --- self-contained, and small --------------------------------------------------------------

    [Fact]
    public void The_page_must_not_use_the_network()
    {
        foreach (var html in new[] { runs.Clean.Html, runs.Deadlock.Html, runs.UseAfterFree.Html })
        {
            Assert.DoesNotContain("http://", html);
            Assert.DoesNotContain("https://", html);
            Assert.DoesNotMatch("(src|href)\\s*=", html);
            Assert.DoesNotContain("<link", html);
            Assert.DoesNotContain("@import", html);
            Assert.DoesNotMatch(@"url\((?!#)", html); // only references to the page's own patterns and markers
            Assert.StartsWith("<!DOCTYPE html>", html);
            Assert.EndsWith("</html>\n", html);
        }
    }

    [Fact]
    public void A_run_without_a_recorded_timeline_cannot_be_drawn()
    {
        var run = runs.UseAfterFree.Run with { Timeline = null };
        var e = Assert.Throws<ArgumentException>(() => TimelineReport.Render(runs.UseAfterFree.Scenario, run));
        Assert.Contains("RecordTimeline", e.Message);
    }

    [Fact]
    public void A_run_of_about_100k_events_must_give_a_page_of_a_few_megabytes_that_says_what_it_merged()
    {
        // dio-vs-punch with 1200 rounds instead of 20.
        var text = File.ReadAllText(Path.Combine(Scenarios.Directory, "dio-vs-punch.json"))
            .Replace("\"repeat\": 20", "\"repeat\": 1200");
        var scenario = ScenarioLoader.Parse(text, "big.json");
        var run = runs.Run(scenario, Variant.Mainline, 1);
        var events = run.Timeline!.Count(e => e.Item is TraceEvent);
        Assert.True(events > 90_000, $"{events} events");

        var html = TimelineReport.Render(scenario, run);

        Assert.True(html.Length < 4_000_000, $"{html.Length / 1e6:F1} MB");
        Assert.Contains("Dense run:", html);
        Assert.Contains(" merged: ", html); // a merged shape's tooltip
        var width = double.Parse(Regex.Match(html, "<svg id=\"tl-svg\" width=\"([0-9.]+)\"").Groups[1].Value,
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(width <= TimelineReport.MaxWidth + 200, $"{width} px wide");
        foreach (Match lane in Regex.Matches(html, "<g class=\"lane\"[^>]*>(.*?)\n</g>", RegexOptions.Singleline))
        {
            var shapes = Regex.Matches(lane.Value, "<title>").Count;
            Assert.True(shapes <= 6 * TimelineReport.RowCap, $"{shapes} shapes in one lane");
        }
    }

    [Fact]
    public void Write_must_leave_the_whole_page_and_no_temporary_file()
    {
        var dir = Directory.CreateTempSubdirectory("daxsim-timeline-").FullName;
        try
        {
            var path = Path.Combine(dir, "t.html");
            File.WriteAllText(path, "old");
            TimelineReport.Write(path, runs.UseAfterFree.Html);
            Assert.Equal(runs.UseAfterFree.Html, File.ReadAllText(path));
            Assert.Equal([path], Directory.GetFiles(dir));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    // --- helpers -------------------------------------------------------------------------------

    /// <summary>The data-lane names, in the label column and in the drawing.</summary>
    private static List<string> Lanes(string html) =>
        Regex.Matches(html, "data-lane=\"([^\"]+)\"").Select(m => m.Groups[1].Value).ToList();

    /// <summary>The drawing of one lane.</summary>
    internal static string Lane(string html, string lane)
    {
        var m = Regex.Match(html, $"<g class=\"lane\" id=\"lane-{Regex.Escape(lane)}\"[^>]*>(.*?)\n</g>", RegexOptions.Singleline);
        Assert.True(m.Success, $"no lane {lane}");
        return m.Value;
    }

    /// <summary>The opening tag of the element with id="violation".</summary>
    internal static string ViolationMarker(string html)
    {
        var tags = Regex.Matches(html, "<[a-z]+\\b[^>]*\\bid=\"violation\"[^>]*>");
        Assert.True(tags.Count == 1, $"{tags.Count} elements with id=\"violation\"");
        return tags[0].Value;
    }
}
