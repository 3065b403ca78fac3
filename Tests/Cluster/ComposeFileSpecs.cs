using System.Diagnostics;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace DaxSim.Tests.Cluster;

/// <summary>
/// The repository's docker-compose.yml (docs/containers.md), checked by the real
/// docker-compose 1.29: it validates, it names the three members and the runner with the
/// command-line contract's DAXSIM_* variables, and broken copies of it are rejected.
/// No Docker engine is needed: <c>docker-compose config</c> only reads the file.
/// </summary>
public sealed class ComposeFileSpecs : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static readonly (string Service, string Index)[] Members = [("seed", "0"), ("worker1", "1"), ("worker2", "2")];

    private readonly string _dir = Directory.CreateTempSubdirectory("daxsim-compose-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // best effort: a temp directory left behind is no failure of the spec
        }
    }

    private static string RepoRoot { get; } = FindRepoRoot();

    private static string ComposeFile => Path.Combine(RepoRoot, "docker-compose.yml");

    // --- the repository's file ------------------------------------------------------------------

    [Fact]
    public void Docker_compose_config_must_accept_the_repository_compose_file()
    {
        var r = Compose(ComposeFile, "config", "-q");

        Assert.True(r.Code == 0, r.ToString());
        Assert.Equal("", r.Err.Trim());
    }

    [Fact]
    public void The_three_members_must_be_daxsim_nodes_configured_by_the_contract_variables()
    {
        var services = Map(Config(), "services");

        foreach (var (service, index) in Members)
        {
            var s = Map(services, service);
            Assert.Equal("daxsim:latest", Scalar(s, "image"));
            Assert.Equal(["node"], Sequence(s, "command"));
            Assert.Equal(new Dictionary<string, string>
            {
                ["DAXSIM_NODE_INDEX"] = index,
                ["DAXSIM_PORT"] = "4053",
                ["DAXSIM_HOSTNAME"] = service,
                ["DAXSIM_BIND"] = "0.0.0.0",
                ["DAXSIM_SEEDS"] = "seed:4053",
                ["DAXSIM_ROLE"] = "sim",
                ["DAXSIM_JOURNAL"] = "/var/lib/daxsim/journal.db",
                ["DAXSIM_CLUSTER_NAME"] = "daxsim",
                ["DOTNET_TieredCompilation"] = "0", // as the members daxsim starts itself (NodeProcess)
            }, Environment(s));
            Assert.Equal("true", Scalar(s, "init")); // SIGTERM reaches daxsim: the member leaves gracefully
            Assert.Equal("no", Scalar(s, "restart")); // a member a crashNode fault killed stays dead
        }
        // Beside the members and the runner, only the PostgreSQL journal server (started when named)
        // and the seed farm's runner (profile farm).
        Assert.Equal(["farm", "postgres", "runner", "seed", "worker1", "worker2"],
            services.Children.Keys.Select(k => k.ToString()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_runner_must_run_the_default_scenario_on_the_three_members_through_the_seed()
    {
        var runner = Map(Map(Config(), "services"), "runner");

        var command = Sequence(runner, "command");
        Assert.Equal(["run", "scenarios/generic-503-punch.json"], command.Take(2));
        Assert.Equal("cluster", After(command, "--runtime"));
        Assert.Equal("seed:4053", After(command, "--join"));
        Assert.Equal("3", After(command, "--nodes")); // with --join: wait for 3 Up members
        Assert.StartsWith("/tmp/", After(command, "--report")); // writable by uid 10001 (/opt/daxsim is not)
        Assert.True(File.Exists(Path.Combine(RepoRoot, "scenarios", "generic-503-punch.json")));

        var env = Environment(runner);
        Assert.Equal("runner", env["DAXSIM_HOSTNAME"]);
        Assert.Equal("0.0.0.0", env["DAXSIM_BIND"]);
        Assert.Equal("4053", env["DAXSIM_PORT"]);
        Assert.Equal("seed:4053", env["DAXSIM_JOIN"]);
        Assert.False(env.ContainsKey("DAXSIM_NODE_INDEX"), "the runner is not a cluster member");

        var dependsOn = Map(runner, "depends_on").Children.Keys.Select(k => k.ToString()).Order(StringComparer.Ordinal);
        Assert.Equal(["seed", "worker1", "worker2"], dependsOn);
    }

    [Fact]
    public void The_farm_profile_must_explore_seeds_over_the_three_members_through_the_seed()
    {
        var farm = Map(Map(Config(("DAXSIM_FARM_SEEDS", "500")), "services"), "farm");

        var command = Sequence(farm, "command");
        Assert.Equal(["explore", "scenarios/generic-503-punch.json"], command.Take(2));
        Assert.Equal("500", After(command, "--seeds"));
        Assert.Equal("cluster", After(command, "--runtime"));
        Assert.Equal("seed:4053", After(command, "--join"));
        Assert.Equal("3", After(command, "--nodes"));
        Assert.Equal("1", After(command, "--workers")); // per member
        Assert.StartsWith("/tmp/", After(command, "--report"));
        Assert.Equal(["farm"], Sequence(farm, "profiles"));
        var env = Environment(farm);
        Assert.Equal("runner", env["DAXSIM_HOSTNAME"]);
        Assert.False(env.ContainsKey("DAXSIM_NODE_INDEX"), "the farm's runner is not a cluster member");
    }

    [Fact]
    public void DAXSIM_SCENARIO_must_pick_the_runners_scenario()
    {
        var config = Config(("DAXSIM_SCENARIO", "scenarios/lease-break.json"));

        var command = Sequence(Map(Map(config, "services"), "runner"), "command");
        Assert.Equal(["run", "scenarios/lease-break.json"], command.Take(2));
    }

    [Fact]
    public void Members_and_runner_must_share_one_private_bridge_network_and_publish_no_port_beyond_loopback()
    {
        var config = Config();

        var networks = Map(config, "networks");
        var network = Assert.Single(networks.Children);
        var name = network.Key.ToString();
        Assert.Equal("bridge", Scalar((YamlMappingNode)network.Value, "driver"));
        Assert.Equal("true", Scalar((YamlMappingNode)network.Value, "internal"));

        foreach (var (service, node) in Map(config, "services").Children)
        {
            var s = (YamlMappingNode)node;
            Assert.Equal([name], Map(s, "networks").Children.Keys.Select(k => k.ToString()));
            Assert.False(s.Children.ContainsKey("network_mode"), $"{service} leaves the private network");
            if (s.Children.TryGetValue("ports", out var ports))
            {
                foreach (var port in ((YamlSequenceNode)ports).Children)
                {
                    Assert.True(port.ToString().StartsWith("127.0.0.1:", StringComparison.Ordinal), $"{service} publishes {port} beyond loopback");
                }
            }
        }
    }

    [Fact]
    public void The_members_must_share_one_named_volume_holding_the_journal()
    {
        var config = Config();

        var volume = Assert.Single(Map(config, "volumes").Children).Key.ToString();
        var services = Map(config, "services");
        foreach (var (service, _) in Members)
        {
            var s = Map(services, service);
            var mounts = Sequence(s, "volumes");
            var mount = Assert.Single(mounts);
            var parts = mount.Split(':');
            Assert.Equal(volume, parts[0]);
            var journal = Environment(s)["DAXSIM_JOURNAL"];
            Assert.Equal(parts[1], Path.GetDirectoryName(journal));
        }
        Assert.False(Map(services, "runner").Children.ContainsKey("volumes"), "the runner is not a member: no journal");
    }

    [Fact]
    public void DAXSIM_JOURNAL_must_put_the_members_journal_on_the_postgres_service()
    {
        const string url = "postgres://daxsim:daxsim@postgres:5432/daxsim";
        var services = Map(Config(("DAXSIM_JOURNAL", url)), "services");

        foreach (var (service, _) in Members)
        {
            Assert.Equal(url, Environment(Map(services, service))["DAXSIM_JOURNAL"]);
        }
        var postgres = Map(services, "postgres");
        Assert.StartsWith("postgres:", Scalar(postgres, "image"));
        Assert.Equal(["cluster"], Map(postgres, "networks").Children.Keys.Select(k => k.ToString()));
        Assert.False(postgres.Children.ContainsKey("ports"), "the journal server publishes no port");
        // The URL's user, password and database are the ones the server is created with.
        var env = Environment(postgres);
        Assert.Equal(("daxsim", "daxsim", "daxsim"), (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_DB"]));
        Assert.Equal("postgres:5432", new Uri(url).Authority);
        // Without it, the members keep the SQLite file on their shared volume.
        Assert.Equal("/var/lib/daxsim/journal.db", Environment(Map(Map(Config(), "services"), "seed"))["DAXSIM_JOURNAL"]);
    }

    // --- broken copies --------------------------------------------------------------------------

    public static TheoryData<string, string, string, string> Breakages => new()
    {
        // name, text to replace, replacement, what the message must say
        { "yaml-syntax", "services:\n", "services: [\n", "while parsing" },
        { "unknown-key", "    hostname: seed\n", "    hostname: seed\n    hostnme: seed\n", "hostnme" },
        { "wrong-type", "      DAXSIM_NODE_INDEX: \"0\"\n", "      DAXSIM_NODE_INDEX: [0]\n", "DAXSIM_NODE_INDEX" },
        { "undeclared-volume", "volumes:\n  journal: {}\n", "", "journal" },
        { "undefined-dependency", "depends_on: [seed, worker1, worker2]", "depends_on: [seed, worker1, worker3]", "worker3" },
    };

    [Theory]
    [MemberData(nameof(Breakages))]
    public void A_broken_compose_file_must_be_rejected(string name, string find, string replace, string message)
    {
        var text = File.ReadAllText(ComposeFile).ReplaceLineEndings("\n");
        Assert.True(text.Contains(find, StringComparison.Ordinal), $"{name}: docker-compose.yml no longer contains '{find}'");
        var broken = Path.Combine(_dir, name, "docker-compose.yml");
        Directory.CreateDirectory(Path.GetDirectoryName(broken)!);
        File.WriteAllText(broken, ReplaceFirst(text, find, replace));

        var r = Compose(broken, "config", "-q");

        Assert.True(r.Code != 0, $"{name}: accepted\n{r}");
        Assert.True(r.Err.Contains(message, StringComparison.Ordinal), $"{name}: '{message}' not in the error\n{r}");
    }

    // --- docker-compose -------------------------------------------------------------------------

    private sealed record Outcome(int Code, string Out, string Err)
    {
        public override string ToString() => $"exit {Code}\n--- stdout\n{Out}\n--- stderr\n{Err}";
    }

    /// <summary>The file as `docker-compose config` normalizes it (defaults filled in, variables substituted).</summary>
    private static YamlMappingNode Config(params (string Name, string Value)[] env)
    {
        var r = Compose(ComposeFile, env, "config");
        Assert.True(r.Code == 0, r.ToString());
        var yaml = new YamlStream();
        yaml.Load(new StringReader(r.Out));
        return (YamlMappingNode)yaml.Documents[0].RootNode;
    }

    private static Outcome Compose(string file, params string[] args) => Compose(file, [], args);

    /// <summary>
    /// Runs the real docker-compose on <paramref name="file"/>, bounded in time, with no
    /// DAXSIM_, COMPOSE_ or DOCKER_ variables of the test's environment but <paramref name="env"/>.
    /// </summary>
    private static Outcome Compose(string file, (string Name, string Value)[] env, params string[] args)
    {
        var exe = FindOnPath("docker-compose") ?? throw new Xunit.Sdk.XunitException(
            "docker-compose is not installed: these specs run the real one. Install Debian's: " +
            "apt-get install --no-install-recommends docker-compose (Tests/run.sh does when it is missing).");
        var psi = new ProcessStartInfo(exe)
        {
            WorkingDirectory = Path.GetDirectoryName(file)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "--ansi", "never", "-p", "daxsim", "-f", file }.Concat(args))
        {
            psi.ArgumentList.Add(arg);
        }
        foreach (var key in psi.Environment.Keys.ToList())
        {
            if (key.StartsWith("DAXSIM_", StringComparison.Ordinal) || key.StartsWith("COMPOSE_", StringComparison.Ordinal)
                || key.StartsWith("DOCKER_", StringComparison.Ordinal))
            {
                psi.Environment.Remove(key);
            }
        }
        foreach (var (name, value) in env)
        {
            psi.Environment[name] = value;
        }

        using var process = Process.Start(psi)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Bound))
        {
            process.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"docker-compose {string.Join(' ', args)} did not finish within {Bound.TotalSeconds} s");
        }
        process.WaitForExit();
        return new Outcome(process.ExitCode, stdout.Result, stderr.Result);
    }

    private static string? FindOnPath(string name) =>
        (System.Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "DaxSim.sln")) && File.Exists(Path.Combine(dir.FullName, "docker-compose.yml")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("cannot find the repository root (DaxSim.sln beside docker-compose.yml)");
    }

    // --- YAML -----------------------------------------------------------------------------------

    private static YamlMappingNode Map(YamlMappingNode node, string key) =>
        Assert.IsType<YamlMappingNode>(Child(node, key));

    private static string Scalar(YamlMappingNode node, string key) =>
        Assert.IsType<YamlScalarNode>(Child(node, key)).Value ?? "";

    private static string[] Sequence(YamlMappingNode node, string key) =>
        Assert.IsType<YamlSequenceNode>(Child(node, key)).Children.Select(c => ((YamlScalarNode)c).Value ?? "").ToArray();

    private static Dictionary<string, string> Environment(YamlMappingNode service) =>
        Map(service, "environment").Children.ToDictionary(kv => kv.Key.ToString(), kv => ((YamlScalarNode)kv.Value).Value ?? "");

    private static YamlNode Child(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var child)
            ? child
            : throw new Xunit.Sdk.XunitException($"no '{key}' in:\n{string.Join(", ", node.Children.Keys)}");

    private static string After(string[] args, string flag)
    {
        var at = Array.IndexOf(args, flag);
        Assert.True(at >= 0 && at + 1 < args.Length, $"no {flag} VALUE in: {string.Join(' ', args)}");
        return args[at + 1];
    }

    private static string ReplaceFirst(string text, string find, string replace)
    {
        var at = text.IndexOf(find, StringComparison.Ordinal);
        return string.Concat(text.AsSpan(0, at), replace, text.AsSpan(at + find.Length));
    }
}
