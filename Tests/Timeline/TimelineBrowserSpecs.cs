using DaxSim.Host.Timeline;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Timeline;

/// <summary>
/// The timeline page in a real headless browser: Debian's Chromium loads it from a file,
/// runs its script, and the DOM it ends with still marks the violation; a screenshot
/// comes out. Chromium must be installed (Tests/run.sh installs it): without it these specs
/// fail, they do not skip.
/// </summary>
public sealed class TimelineBrowserSpecs(TimelineRuns runs) : IClassFixture<TimelineRuns>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("daxsim-browser-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }
    }

    [Fact]
    public void Chromium_must_render_the_S1_page_with_the_violation_marked_and_its_script_run()
    {
        var page = Write("s1.html", runs.UseAfterFree.Html);

        var dom = Chromium("--dump-dom", new Uri(page).AbsoluteUri);

        var marker = TimelineReportSpecs.ViolationMarker(dom);
        Assert.Contains("data-invariant=\"S1\"", marker);
        Assert.Contains("S1 use-after-free at 600 ms", dom);
        // The page's script ran to its end without an error.
        Assert.Matches("<html[^>]*data-timeline=\"ready\"", dom);
        Assert.Contains("data-lane=\"page-0\"", dom);
    }

    [Fact]
    public void Chromium_must_render_the_L1_page_with_its_wait_for_cycle()
    {
        var page = Write("l1.html", runs.Deadlock.Html);

        var dom = Chromium("--dump-dom", new Uri(page).AbsoluteUri);

        Assert.Contains("data-invariant=\"L1\"", TimelineReportSpecs.ViolationMarker(dom));
        Assert.Matches("<svg id=\"wait-for-cycle\"[^>]*data-nodes=\"4\" data-edges=\"4\"", dom);
        Assert.Matches("<html[^>]*data-timeline=\"ready\"", dom);
    }

    [Fact]
    public void Chromium_must_take_a_1600x1000_screenshot_of_the_page()
    {
        var page = Write("s1.html", runs.UseAfterFree.Html);
        var png = Path.Combine(_dir, "s1.png");

        Chromium($"--screenshot={png}", "--window-size=1600,1000", new Uri(page).AbsoluteUri);

        Assert.True(File.Exists(png), $"no screenshot at {png}");
        var bytes = File.ReadAllBytes(png);
        Assert.True(bytes.Length > 20_000, $"the screenshot has only {bytes.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        // IHDR: width and height, big-endian, at bytes 16 and 20.
        Assert.Equal(1600, BigEndian(bytes, 16));
        Assert.Equal(1000, BigEndian(bytes, 20));
    }

    private string Write(string name, string html)
    {
        var path = Path.Combine(_dir, name);
        TimelineReport.Write(path, html);
        return path;
    }

    private static int BigEndian(byte[] b, int at) => b[at] << 24 | b[at + 1] << 16 | b[at + 2] << 8 | b[at + 3];

    /// <summary>Runs headless Chromium, bounded; its standard output.</summary>
    private string Chromium(params string[] args) => HeadlessChromium.Run(_dir, args);
}
