using DaxCli = DaxSim.Host.Cli.Cli;
using DaxSim.Protocol.Scenarios;
using DaxSim.Tests.Support;
using Newtonsoft.Json.Linq;
using Xunit;

namespace DaxSim.Tests.Cli;

/// <summary>What one `daxsim` invocation gave.</summary>
public sealed record CliOutcome(int Code, string Out, string Err)
{
    public override string ToString() => $"exit {Code}\n--- stdout\n{Out}\n--- stderr\n{Err}";
}

/// <summary>Runs the command line in this process, and a temporary directory for its files.</summary>
public abstract class CliHarness : IDisposable
{
    protected string Dir { get; } = Directory.CreateTempSubdirectory("daxsim-cli-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // best effort: a temp directory left behind is no failure of the spec
        }
        GC.SuppressFinalize(this);
    }

    public static CliOutcome Invoke(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = new DaxCli(stdout, stderr).Invoke(args);
        return new CliOutcome(code, stdout.ToString(), stderr.ToString());
    }

    public static string Shipped(string name) => Path.Combine(Scenarios.Directory, name + ".json");

    protected string PathIn(params string[] parts) => Path.Combine([Dir, .. parts]);

    protected string WriteFile(string name, string text)
    {
        var path = PathIn(name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    public static JObject ReadReport(string path)
    {
        Assert.True(File.Exists(path), $"no report at {path}");
        return JObject.Parse(File.ReadAllText(path));
    }

    /// <summary>The 1-based line and column of the first occurrence of <paramref name="needle"/> in <paramref name="text"/>.</summary>
    public static (int Line, int Column) Position(string text, string needle)
    {
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var at = lines[i].IndexOf(needle, StringComparison.Ordinal);
            if (at >= 0)
            {
                return (i + 1, at + 1);
            }
        }
        throw new ArgumentException($"'{needle}' is not in the text");
    }

    /// <summary>A usage error: exit 2, the message says what and where, no stack trace, nothing written.</summary>
    public static void AssertUsageError(CliOutcome r, string? reportPath, params string[] fragments)
    {
        Assert.True(r.Code == DaxCli.ExitUsage, r.ToString());
        Assert.StartsWith("daxsim: ", r.Err);
        foreach (var fragment in fragments)
        {
            Assert.True(r.Err.Contains(fragment, StringComparison.Ordinal), $"'{fragment}' not in:\n{r}");
        }
        Assert.DoesNotContain("   at ", r.Err);
        Assert.DoesNotContain("   at ", r.Out);
        Assert.DoesNotContain("Exception", r.Err);
        Assert.DoesNotContain("verdict:", r.Out);
        if (reportPath is not null)
        {
            Assert.False(File.Exists(reportPath), $"{reportPath} was written on a usage error");
            var dir = Path.GetDirectoryName(reportPath)!;
            if (Directory.Exists(dir))
            {
                var name = Path.GetFileName(reportPath);
                Assert.DoesNotContain(Directory.GetFiles(dir), f => Path.GetFileName(f).Contains(name));
            }
        }
    }
}
