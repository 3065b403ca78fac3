using System.Diagnostics;
using Xunit;

namespace DaxSim.Tests.Support;

/// <summary>
/// Debian's headless Chromium, run bounded, for specs that check a page in a real browser
/// (the timeline and the load report). It must be installed (Tests/run.sh installs it): without
/// it these specs fail, they do not skip.
/// </summary>
public static class HeadlessChromium
{
    public const string Binary = "/usr/bin/chromium";

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    /// <summary>Runs Chromium with a fresh profile under <paramref name="dir"/>; its standard output.</summary>
    public static string Run(string dir, params string[] args)
    {
        Assert.True(File.Exists(Binary),
            $"{Binary} is missing: the browser specs need Debian's Chromium " +
            "(apt-get install -y chromium; Tests/run.sh installs it when it is missing)");
        var start = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
                     $"--user-data-dir={Path.Combine(dir, $"profile-{Guid.NewGuid():N}")}",
                 }.Concat(args))
        {
            start.ArgumentList.Add(arg);
        }
        using var chromium = Process.Start(start)!;
        var stdout = chromium.StandardOutput.ReadToEndAsync();
        var stderr = chromium.StandardError.ReadToEndAsync();
        if (!chromium.WaitForExit(Bound))
        {
            chromium.Kill(entireProcessTree: true);
            chromium.WaitForExit();
            Assert.Fail($"chromium did not finish within {Bound.TotalSeconds} s: {string.Join(' ', args)}");
        }
        chromium.WaitForExit(); // the output streams are complete
        Assert.True(chromium.ExitCode == 0,
            $"chromium exited {chromium.ExitCode}: {string.Join(' ', args)}\n{Tail(stderr.Result)}");
        return stdout.Result;
    }

    private static string Tail(string text) => text.Length <= 4000 ? text : text[^4000..];
}
