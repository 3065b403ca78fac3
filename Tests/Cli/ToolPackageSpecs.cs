using System.Diagnostics;
using System.Xml.Linq;
using Xunit;
using Xunit.Abstractions;
using ShippedScenarios = DaxSim.Tests.Support.Scenarios;

namespace DaxSim.Tests.Cli;

/// <summary>
/// daxsim as a .NET tool (README, "Install as a .NET tool"): Host packs as the tool package
/// DaxSim whose command is daxsim, and the package installs into a tool path where
/// `daxsim run` finds its embedded default scenario from any directory.
/// </summary>
public sealed class ToolPackageSpecs(ITestOutputHelper output) : IDisposable
{
    private static readonly string Root = Path.GetDirectoryName(ShippedScenarios.Directory)!;

    private readonly string _dir = Directory.CreateTempSubdirectory("daxsim-tool-").FullName;

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

#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    [Fact]
    public void The_host_project_packs_as_the_daxsim_tool_with_the_readme()
    {
        var project = XDocument.Load(Path.Combine(Root, "Host", "DaxSim.Host.csproj")).Root!;
        string? Property(string name) => project.Elements("PropertyGroup").Elements(name).Select(e => e.Value).LastOrDefault();

        Assert.Equal("true", Property("PackAsTool"));
        Assert.Equal("daxsim", Property("ToolCommandName"));
        Assert.Equal("DaxSim", Property("PackageId"));
        Assert.False(string.IsNullOrWhiteSpace(Property("Version")));
        Assert.False(string.IsNullOrWhiteSpace(Property("Description")));
        Assert.Equal("README.md", Property("PackageReadmeFile"));
        Assert.Contains(project.Elements("ItemGroup").Elements("None"),
            e => (string?)e.Attribute("Include") == @"..\README.md" && (string?)e.Attribute("Pack") == "true");
        // The default scenario travels inside daxsim.dll, not as a file beside it.
        Assert.Contains(project.Elements("ItemGroup").Elements("EmbeddedResource"),
            e => ((string?)e.Attribute("Include"))?.EndsWith(DaxSim.Host.Cli.Cli.DefaultScenario, StringComparison.Ordinal) == true);
    }

    [Fact]
    public void The_readme_and_the_install_script_give_the_same_commands()
    {
        var readme = File.ReadAllText(Path.Combine(Root, "README.md"));
        Assert.Contains("### Install as a .NET tool", readme);
        Assert.Contains("dotnet pack Host -c Release -o ./nupkg", readme);
        Assert.Contains("dotnet tool install --tool-path ~/.daxsim --add-source ./nupkg DaxSim", readme);
        var script = File.ReadAllText(Path.Combine(Root, "Host", "install-tool.sh"));
        Assert.Contains("dotnet pack Host -c Release -o \"$feed\"", script);
        Assert.Contains("dotnet tool install --tool-path \"$tool_path\" --add-source \"$feed\" DaxSim", script);
        Assert.Contains("daxsim\" run --runtime deterministic --seed 1", script);
        var check = Run("bash", ["-n", Path.Combine(Root, "Host", "install-tool.sh")], _dir, TimeSpan.FromSeconds(30));
        Assert.True(check.Code == 0, check.Text);
    }

    /// <summary>
    /// The real thing, without building again: the Host output this test project was built with
    /// is packed (--no-build, about 30 s on two cores), installed into a temporary tool path from
    /// that folder alone (a nuget.config that clears every other source), and run elsewhere.
    /// </summary>
    [Fact]
    public void The_packed_tool_installs_and_runs_the_embedded_default_scenario()
    {
        var clock = Stopwatch.StartNew();
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";
        var feed = Path.Combine(_dir, "feed");
        var tools = Path.Combine(_dir, "tools");
        var elsewhere = Directory.CreateDirectory(Path.Combine(_dir, "elsewhere")).FullName;
        var config = Path.Combine(_dir, "nuget.config");
        File.WriteAllText(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
              </packageSources>
            </configuration>
            """);

        var pack = Run(dotnet, ["pack", Path.Combine(Root, "Host", "DaxSim.Host.csproj"), "-c", Configuration,
            "--no-build", "--no-restore", "-o", feed], Root, TimeSpan.FromMinutes(4));
        Assert.True(pack.Code == 0, pack.Text);
        var package = Assert.Single(Directory.GetFiles(feed, "*.nupkg"));
        Assert.StartsWith("DaxSim.", Path.GetFileName(package));

        var install = Run(dotnet, ["tool", "install", "--tool-path", tools, "--configfile", config, "DaxSim"],
            elsewhere, TimeSpan.FromMinutes(2));
        Assert.True(install.Code == 0, install.Text);
        var daxsim = Path.Combine(tools, OperatingSystem.IsWindows() ? "daxsim.exe" : "daxsim");
        Assert.True(File.Exists(daxsim), $"no {daxsim} after:\n{install.Text}");

        var run = Run(daxsim, ["run", "--runtime", "deterministic", "--seed", "1"], elsewhere, TimeSpan.FromMinutes(1));

        Assert.True(run.Code == 0, run.Text);
        Assert.Contains("daxsim run generic-503-punch  ((embedded) generic-503-punch.json)", run.Text);
        Assert.Contains("verdict: clean (as expected)", run.Text);
        output.WriteLine($"pack, install and run took {clock.Elapsed.TotalSeconds:F1} s");
    }

    private static (int Code, string Text) Run(string file, string[] args, string cwd, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file)
        {
            WorkingDirectory = cwd,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        // The tool path is not on PATH; keep the SDK from telling about first use.
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"{file} {string.Join(' ', args)}: did not end within {timeout}\n{stdout.Result}\n{stderr.Result}");
        }
        return (process.ExitCode, $"{file} {string.Join(' ', args)}: exit {process.ExitCode}\n{stdout.Result}\n{stderr.Result}");
    }
}
