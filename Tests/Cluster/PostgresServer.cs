using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;
using Xunit;

namespace DaxSim.Tests.Cluster;

/// <summary>
/// A throwaway PostgreSQL server for the journal specs: initdb into a temporary directory,
/// pg_ctl start on 127.0.0.1 and a free port (trust authentication: nothing else can reach
/// loopback-only port of a test machine that matters), a database `daxsim`; stopped
/// (immediate) and deleted on Dispose. PostgreSQL refuses to run as root, so as root it runs
/// as the `postgres` user that Debian's package creates (runuser). The binaries are looked
/// for on PATH, then in /usr/lib/postgresql/VERSION/bin; <see cref="Missing"/> says why the
/// specs cannot run when there are none (`Tests/run.sh` installs them).
/// </summary>
public sealed class PostgresServer : IDisposable
{
    public const string User = "daxsim";
    public const string Database = "daxsim";

    private readonly string _dir;
    private readonly string _bin;
    private readonly string? _runAs;

    /// <summary>The directory holding initdb and pg_ctl, or null.</summary>
    public static string? BinDirectory { get; } = FindBin();

    /// <summary>Why a PostgreSQL spec cannot run here, or null when it can.</summary>
    public static string? Missing =>
        BinDirectory is null
            ? "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin: apt-get install postgresql (Tests/run.sh does)"
            : IsRoot && !UserExists("postgres")
                ? "running as root, and PostgreSQL refuses root, but there is no 'postgres' user to run it as"
                : null;

    public PostgresServer()
    {
        _bin = BinDirectory ?? throw new InvalidOperationException(Missing);
        _runAs = IsRoot ? "postgres" : null;
        _dir = Directory.CreateTempSubdirectory("daxsim-postgres-").FullName;
        Port = FreePort();
        if (_runAs is not null)
        {
            Run("chown", [_runAs, _dir], asServer: false);
        }
        var data = Path.Combine(_dir, "data");
        Run(Path.Combine(_bin, "initdb"), ["-D", data, "-U", User, "-A", "trust", "-E", "UTF8", "--no-sync"]);
        Run(Path.Combine(_bin, "pg_ctl"), ["-D", data, "-l", Path.Combine(_dir, "server.log"), "-w", "-t", "60",
            "-o", $"-p {Port} -c listen_addresses=127.0.0.1 -k {_dir} -c fsync=off", "start"]);
        using var c = new NpgsqlConnection($"Host=127.0.0.1;Port={Port};Username={User};Database=postgres");
        c.Open();
        using var create = c.CreateCommand();
        create.CommandText = $"CREATE DATABASE {Database}";
        create.ExecuteNonQuery();
    }

    public int Port { get; }

    /// <summary>The journal setting of members that use this server (a password, which trust ignores, as a user would write one).</summary>
    public string Url => $"postgres://{User}:secret@127.0.0.1:{Port}/{Database}";

    public NpgsqlConnection Connect()
    {
        var c = new NpgsqlConnection($"Host=127.0.0.1;Port={Port};Username={User};Database={Database}");
        c.Open();
        return c;
    }

    public void Dispose()
    {
        try
        {
            Run(Path.Combine(_bin, "pg_ctl"), ["-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop"]);
        }
        catch (InvalidOperationException)
        {
            // already stopped
        }
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }
    }

    private void Run(string file, IEnumerable<string> args, bool asServer = true)
    {
        var info = new ProcessStartInfo(asServer && _runAs is not null ? "runuser" : file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _dir,
        };
        if (asServer && _runAs is not null)
        {
            foreach (var a in new[] { "-u", _runAs, "--", file })
            {
                info.ArgumentList.Add(a);
            }
        }
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        using var p = Process.Start(info)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            p.Kill(entireProcessTree: true);
        }
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{Path.GetFileName(file)} exited {p.ExitCode}\n{output.Result}\n{error.Result}");
        }
    }

    private static bool IsRoot => Environment.UserName == "root";

    private static bool UserExists(string name) =>
        File.Exists("/etc/passwd") && File.ReadLines("/etc/passwd").Any(l => l.StartsWith(name + ":", StringComparison.Ordinal));

    private static string? FindBin()
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        foreach (var dir in path)
        {
            if (File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl")))
            {
                return dir;
            }
        }
        const string debian = "/usr/lib/postgresql";
        return Directory.Exists(debian)
            ? Directory.GetDirectories(debian)
                .Select(d => Path.Combine(d, "bin"))
                .Where(b => File.Exists(Path.Combine(b, "initdb")) && File.Exists(Path.Combine(b, "pg_ctl")))
                .OrderByDescending(b => int.TryParse(Path.GetFileName(Path.GetDirectoryName(b)), out var v) ? v : 0)
                .FirstOrDefault()
            : null;
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}

/// <summary>A spec that needs a PostgreSQL server: skipped, with the reason, only when the machine has no server binary.</summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (PostgresServer.Missing is { } why)
        {
            Skip = why;
        }
    }
}
