using System.Diagnostics;
using System.Runtime.InteropServices;

namespace DaxSim.Host.Cluster;

/// <summary>
/// A `daxsim node` child process that the runner started: the same executable (the
/// daxsim apphost, or `dotnet daxsim.dll`), its output read line by line. Stopped with
/// SIGTERM (the member leaves the cluster), killed after a bound; crashed with SIGKILL.
/// </summary>
public sealed class NodeProcess : IDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<string> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _output = [];

    private NodeProcess(int index, Process process)
    {
        Index = index;
        _process = process;
    }

    public int Index { get; }

    /// <summary>DAXSIM_NODE_OUTPUT=1: copy the members' output to this process's stderr (debugging).</summary>
    private static readonly bool EchoOutput = Environment.GetEnvironmentVariable("DAXSIM_NODE_OUTPUT") == "1";

    public int Pid => _process.Id;

    /// <summary>"HOST:PORT" from the child's `listening on HOST:PORT` line.</summary>
    public Task<string> Listening => _listening.Task;

    public bool HasExited => _process.HasExited;

    public bool Crashed { get; private set; }

    /// <summary>The child's output so far (stdout and stderr), for error messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join("\n", _output.TakeLast(40));
            }
        }
    }

    /// <summary>Every line of the child's output so far (stdout and stderr, in the order read).</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_output)
            {
                return _output.ToList();
            }
        }
    }

    /// <summary>How to start this very program again: its apphost, or the dotnet host and daxsim.dll.</summary>
    public static (string File, string[] Prefix) Self()
    {
        var dll = typeof(NodeProcess).Assembly.Location;
        var process = Environment.ProcessPath;
        if (process is not null && Path.GetFileNameWithoutExtension(process) == "daxsim")
        {
            return (process, []);
        }
        var apphost = Path.Combine(Path.GetDirectoryName(dll)!, OperatingSystem.IsWindows() ? "daxsim.exe" : "daxsim");
        if (File.Exists(apphost))
        {
            return (apphost, []);
        }
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h)
            ? h
            : process is not null && Path.GetFileNameWithoutExtension(process) == "dotnet" ? process : "dotnet";
        return (dotnet, [dll]);
    }

    public static NodeProcess Start(int index, IEnumerable<string> args, string workingDirectory,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = StartInfo(args, workingDirectory, environment);
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {info.FileName}");
        var node = new NodeProcess(index, process);
        process.OutputDataReceived += (_, e) => node.OnLine(e.Data, stdout: true);
        process.ErrorDataReceived += (_, e) => node.OnLine(e.Data, stdout: false);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => node._listening.TrySetException(
            new InvalidOperationException($"node {index} exited with code {SafeExitCode(process)}:\n{node.Output}"));
        return node;
    }

    /// <summary>How a member is started: <c>daxsim node ARGS</c>, its output captured, in its environment.</summary>
    internal static ProcessStartInfo StartInfo(IEnumerable<string> args, string workingDirectory,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var (file, prefix) = Self();
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var a in prefix.Concat(["node"]).Concat(args))
        {
            info.ArgumentList.Add(a);
        }
        // A member is a long-running server: with the JIT's tiering off, each method is
        // compiled once, fully optimized, when it is first called, instead of quickly and then
        // again once it is hot. A member comes up about 2 s later, but the run no longer shares
        // the cores with the JIT recompiling some 5,000 methods a member while it is measured
        // (docs/performance-cluster.md, "The members' JIT"). The caller's own setting wins; with
        // tiering on, the quick first tier starts a member faster than daxsim's explore settings.
        info.Environment.TryAdd("DOTNET_TieredCompilation", "0");
        info.Environment["DOTNET_TC_QuickJit"] = "1";
        info.Environment["DOTNET_TieredPGO"] = "0";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }
        return info;
    }

    private static int SafeExitCode(Process p)
    {
        try
        {
            return p.ExitCode;
        }
        catch (InvalidOperationException)
        {
            return -1;
        }
    }

    private void OnLine(string? line, bool stdout)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.Add(line);
        }
        if (EchoOutput)
        {
            Console.Error.WriteLine($"[node {Index}] {line}");
        }
        const string prefix = "listening on ";
        if (stdout && line.StartsWith(prefix, StringComparison.Ordinal))
        {
            _listening.TrySetResult(line[prefix.Length..].Trim());
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SysKill(int pid, int signal);

    private const int Sigterm = 15;

    /// <summary>crashNode: SIGKILL, no goodbye.</summary>
    public void Crash()
    {
        Crashed = true;
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    /// <summary>SIGTERM (the member leaves the cluster), then SIGKILL after <paramref name="bound"/>.</summary>
    public void Stop(TimeSpan bound)
    {
        if (_process.HasExited)
        {
            return;
        }
        if (!OperatingSystem.IsWindows())
        {
            SysKill(_process.Id, Sigterm);
        }
        if (!_process.WaitForExit(bound))
        {
            Crash();
            _process.WaitForExit(TimeSpan.FromSeconds(5));
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Crash();
            _process.WaitForExit(TimeSpan.FromSeconds(5));
        }
        _process.Dispose();
    }
}
