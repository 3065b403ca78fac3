using DaxSim.Tests.Cli;
using Xunit;

namespace DaxSim.Tests.Timeline;

/// <summary>--html on run, replay and explore.</summary>
public sealed class TimelineCliSpecs : CliHarness
{
    [Fact]
    public void Run_with_html_must_write_the_timeline_with_the_violation_marked_and_say_where()
    {
        var html = PathIn("s1.html");

        var r = Invoke("run", Shipped("signal-long-pin"), "--runtime", "deterministic", "--variant", "no-break",
            "--seed", "1", "--html", html);

        Assert.True(r.Code == 1, r.ToString());
        Assert.Contains($"  timeline: {html}", r.Out);
        Assert.Equal([html], Directory.GetFiles(Dir)); // no temporary file left beside it
        var page = File.ReadAllText(html);
        Assert.Contains("data-invariant=\"S1\"", TimelineReportSpecs.ViolationMarker(page));
        Assert.Contains("daxsim run ", page);
    }

    [Fact]
    public void Replay_with_html_must_draw_the_replayed_run_and_name_the_replay_command()
    {
        var report = PathIn("l1.json");
        var first = Invoke("run", Shipped("dio-vs-zero"), "--runtime", "deterministic", "--variant",
            "hold-mmaplock", "--report", report);
        Assert.True(first.Code == 3, first.ToString());
        Assert.DoesNotContain("timeline:", first.Out);
        var html = PathIn("l1.html");

        var r = Invoke("replay", report, "--html", html);

        Assert.True(r.Code == 3, r.ToString());
        Assert.Contains("replay: identical to the recorded run", r.Out);
        Assert.Contains($"  timeline: {html}", r.Out);
        var page = File.ReadAllText(html);
        Assert.Contains("data-invariant=\"L1\"", TimelineReportSpecs.ViolationMarker(page));
        Assert.Contains("id=\"wait-for-cycle\"", page);
        Assert.Contains($"daxsim replay {System.Net.WebUtility.HtmlEncode(report)}", page);
    }

    [Fact]
    public void Explore_with_html_must_draw_the_finding_and_write_nothing_without_one()
    {
        var html = PathIn("finding.html");
        var report = PathIn("finding.json");

        var r = Invoke("explore", Shipped("dio-vs-zero"), "--seeds", "3", "--workers", "1",
            "--variant", "hold-mmaplock", "--report", report, "--html", html);

        Assert.True(r.Code == 3, r.ToString());
        Assert.Contains($"  timeline: {html}", r.Out);
        var page = File.ReadAllText(html);
        Assert.Contains("data-invariant=\"L1\"", TimelineReportSpecs.ViolationMarker(page));
        Assert.Contains($"daxsim replay {System.Net.WebUtility.HtmlEncode(report)}", page);

        var none = PathIn("none.html");
        var clean = Invoke("explore", Shipped("dio-vs-zero"), "--seeds", "2", "--workers", "1", "--html", none);
        Assert.True(clean.Code == 0, clean.ToString());
        Assert.Contains($"timeline: not written to {none}: no violating seed", clean.Out);
        Assert.False(File.Exists(none));
    }

    [Fact]
    public void Html_into_a_missing_directory_must_be_a_usage_error_before_anything_runs()
    {
        var html = PathIn("missing", "t.html");
        AssertUsageError(Invoke("run", Shipped("signal-long-pin"), "--runtime", "deterministic", "--html", html),
            html, "--html", "does not exist");
        AssertUsageError(Invoke("explore", Shipped("signal-long-pin"), "--seeds", "1", "--html", html),
            html, "--html", "does not exist");
        AssertUsageError(Invoke("run", Shipped("signal-long-pin"), "--runtime", "deterministic", "--html", Dir),
            null, "--html", "is a directory");
    }
}
