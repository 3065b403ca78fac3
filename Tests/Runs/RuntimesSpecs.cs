using Akka.Configuration;
using DaxSim.Host.Cli;
using DaxSim.Host.Cluster;
using DaxSim.Host.Load;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Load;
using DaxSim.Protocol.Scenarios;
using DaxSim.Tests.Runtime;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Runs;

/// <summary>
/// The runtimes behind one interface: a `--runtime` value is read in one place, each kind
/// gives a runtime of that kind, and the Akka logging every runtime starts with is one HOCON.
/// </summary>
public sealed class RuntimesSpecs(DeterministicRuntimeFixture fixture) : IClassFixture<DeterministicRuntimeFixture>
{
    [Fact]
    public void Every_runtime_name_must_parse_to_its_kind_and_give_a_runtime_of_that_kind()
    {
        Assert.Equal(["local", "deterministic", "cluster"], RuntimeKinds.Names);
        foreach (var kind in RuntimeKinds.All)
        {
            Assert.Equal(kind, Runtimes.Parse(kind.Name()));
            using var runtime = Runtimes.For(kind);
            Assert.Equal(kind, runtime.Kind);
            Assert.Equal(kind.Name(), runtime.Name);
            Assert.Equal(kind == RuntimeKind.Deterministic, runtime.VirtualTime);
        }
    }

    [Fact]
    public void An_unknown_runtime_must_be_refused_with_the_known_ones_named()
    {
        var e = Assert.Throws<InputException>(() => Runtimes.Parse("mars"));

        Assert.Equal("--runtime: unknown value 'mars'; known: local, deterministic, cluster", e.Message);
    }

    [Fact]
    public void The_cluster_runtime_must_keep_its_own_settings()
    {
        var runtime = Runtimes.For(RuntimeKind.Cluster, new ClusterRunOptions { Nodes = 5 });

        Assert.Equal(5, Assert.IsType<ClusterRuntime>(runtime).Options.Nodes);
        Assert.Equal(3, Assert.IsType<ClusterRuntime>(Runtimes.For(RuntimeKind.Cluster)).Options.Nodes);
    }

    [Fact]
    public void A_runtime_for_one_thread_must_be_of_its_kind_and_give_each_seed_the_run_a_fresh_one_gives()
    {
        var scenario = Scenarios.Shipped("generic-503-truncate");
        using var kept = Runtimes.ForOneThread(RuntimeKind.Deterministic);
        Assert.Equal(RuntimeKind.Deterministic, kept.Kind);
        Assert.True(kept.VirtualTime);
        using var fresh = Runtimes.For(RuntimeKind.Deterministic);
        // Several seeds in a row on the one kept runtime (as an explore worker runs them),
        // each the same run as on a runtime of its own.
        foreach (var seed in new ulong[] { 3, 4, 3 })
        {
            var settings = new RunSettings { Seed = seed };
            Assert.Equal(fresh.Run(scenario, settings).TraceHash, kept.Run(scenario, settings).TraceHash);
        }
        Assert.Equal(RuntimeKind.Local, Runtimes.ForOneThread(RuntimeKind.Local).Kind);
    }

    [Fact]
    public void The_deterministic_runtime_from_the_registry_must_give_the_same_run_as_a_kept_one()
    {
        var scenario = Scenarios.Shipped("generic-503-truncate");
        var settings = new RunSettings { Seed = 11 };

        using var picked = Runtimes.For(RuntimeKind.Deterministic);
        var a = picked.Run(scenario, settings);
        var b = fixture.Runtime.Run(scenario, settings);

        Assert.Equal(RuntimeKind.Deterministic, a.Runtime);
        Assert.Equal(b.TraceHash, a.TraceHash);
        Assert.Equal(b.Verdict, a.Verdict);
        Assert.Equal(b.Deliveries, a.Deliveries);
    }

    /// <summary>A cluster whose members do not answer in time: the runner's own words for it.</summary>
    private sealed class SlowCluster : IRuntime
    {
        public RuntimeKind Kind => RuntimeKind.Cluster;

        public RunResult Run(Scenario scenario, RunSettings settings) =>
            throw new SlowMemberException("timed out waiting for node 0 to prepare the run: no answer within 60 s");
    }

    [Fact]
    public void A_slow_member_must_reach_the_command_line_as_itself_not_as_a_failed_load()
    {
        var spec = LoadSpecLoader.LoadFile(Path.Combine(Scenarios.Directory, "load", "truncate-heavy.json")) with
        {
            Duration = TimeSpan.FromMilliseconds(20),
        };

        var e = Assert.Throws<SlowMemberException>(() =>
            LoadEngine.Run(new LoadPlan(spec, 7, Variant.Mainline, new SlowCluster()), measureFootprint: false));

        Assert.StartsWith("timed out waiting for node 0 to prepare the run", e.Message);
        Assert.Contains("try again", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(75, DaxSim.Host.Cli.Cli.ExitSlowMember);
    }

    [Fact]
    public void The_quiet_logging_must_be_what_every_runtime_starts_with()
    {
        var quiet = AkkaLogging.Quiet;
        Assert.Equal("WARNING", quiet.GetString("akka.loglevel"));
        Assert.Equal("WARNING", quiet.GetString("akka.stdout-loglevel"));
        Assert.Equal("off", quiet.GetString("akka.log-dead-letters"));

        // A member's DAXSIM_LOG_LEVEL sets the level; the rest of its akka block stays.
        var member = ConfigurationFactory.ParseString(ClusterConfig.MemberHocon(new NodeSettings { LogLevel = "DEBUG" }));
        Assert.Equal("DEBUG", member.GetString("akka.loglevel"));
        Assert.Equal("WARNING", member.GetString("akka.stdout-loglevel"));
        Assert.Equal("cluster", member.GetString("akka.actor.provider"));
        var runner = ConfigurationFactory.ParseString(ClusterConfig.RunnerHocon(new NodeSettings { LogLevel = "INFO" }));
        Assert.Equal("INFO", runner.GetString("akka.loglevel"));
        Assert.Equal("remote", runner.GetString("akka.actor.provider"));
    }
}
