using System.Diagnostics;
using System.Reflection;
using Xunit;

namespace DaxSim.Tests.Cli;

/// <summary>
/// Determinism across processes (docs/design.md, Runtimes): the built `daxsim` executable,
/// started twice with the same seed, writes byte-identical traces. String hashes and actor
/// uids differ from process to process, so this catches what one process cannot.
/// </summary>
public sealed class CrossProcessDeterminismSpecs : CliHarness
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(60);

    /// <summary>daxsim.dll next to the test assembly (the project reference copies it), else in Host/bin.</summary>
    private static string FindDaxsim()
    {
        var here = Path.Combine(AppContext.BaseDirectory, "daxsim.dll");
        if (File.Exists(here) && File.Exists(Path.Combine(AppContext.BaseDirectory, "daxsim.runtimeconfig.json")))
        {
            return here;
        }
        var configuration = typeof(CrossProcessDeterminismSpecs).Assembly
            .GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var repo = Path.GetDirectoryName(Support.Scenarios.Directory)!;
        var built = Path.Combine(repo, "Host", "bin", configuration, "net10.0", "daxsim.dll");
        Assert.True(File.Exists(built), $"cannot find daxsim.dll next to the tests or at {built}");
        return built;
    }

    /// <summary>The dotnet host that runs these tests, so the child uses the same runtime.</summary>
    private static string DotnetHost()
    {
        var fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk))
        {
            return fromSdk;
        }
        var process = Environment.ProcessPath;
        return process is not null && Path.GetFileNameWithoutExtension(process) == "dotnet" ? process : "dotnet";
    }

    private sealed record Child(Process Process, Task<string> Stdout, Task<string> Stderr, string Command);

    private static Child Start(params string[] args)
    {
        var info = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        info.ArgumentList.Add(FindDaxsim());
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        return new Child(process, process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync(),
            $"{info.FileName} {string.Join(' ', info.ArgumentList)}");
    }

    private static CliOutcome Finish(Child child)
    {
        using var process = child.Process;
        if (!process.WaitForExit(ProcessTimeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(TimeSpan.FromSeconds(10));
            Assert.Fail($"{child.Command} did not finish within {ProcessTimeout.TotalSeconds} s");
        }
        process.WaitForExit(); // the redirected streams are drained too
        return new CliOutcome(process.ExitCode, child.Stdout.Result, child.Stderr.Result);
    }

    [Fact]
    public void Two_processes_with_the_same_seed_must_write_byte_identical_traces_and_another_seed_a_different_one()
    {
        var scenario = Shipped("generic-503-punch");
        string[] Args(string seed, string trace) =>
            ["run", scenario, "--runtime", "deterministic", "--seed", seed, "--trace-text", trace];
        var first = PathIn("seed42-a.txt");
        var second = PathIn("seed42-b.txt");
        var other = PathIn("seed43.txt");

        // Three separate processes, at the same time: nothing is shared but the files they read.
        var children = new[] { Start(Args("42", first)), Start(Args("42", second)), Start(Args("43", other)) };
        var outcomes = children.Select(Finish).ToList();

        foreach (var outcome in outcomes)
        {
            Assert.True(outcome.Code == 0, outcome.ToString());
            Assert.Contains("verdict: clean", outcome.Out);
        }
        var a = File.ReadAllBytes(first);
        var b = File.ReadAllBytes(second);
        var c = File.ReadAllBytes(other);
        var lines = File.ReadAllLines(first);
        Assert.True(lines.Length > 1000, $"only {lines.Length} lines of trace");
        Assert.Contains(lines, l => l.Contains("  deliver  ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("  event    ", StringComparison.Ordinal));
        Assert.True(a.AsSpan().SequenceEqual(b), FirstDifference(first, second));
        Assert.False(a.AsSpan().SequenceEqual(c), "seeds 42 and 43 gave the same trace");
    }

    private static string FirstDifference(string left, string right)
    {
        var l = File.ReadAllLines(left);
        var r = File.ReadAllLines(right);
        for (var i = 0; i < Math.Min(l.Length, r.Length); i++)
        {
            if (l[i] != r[i])
            {
                return $"the traces differ first at line {i + 1}:\n  {l[i]}\n  {r[i]}";
            }
        }
        return $"the traces differ in length: {l.Length} vs {r.Length} lines";
    }
}
