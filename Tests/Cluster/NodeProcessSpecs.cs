using DaxSim.Host.Cluster;
using Xunit;

namespace DaxSim.Tests.Cluster;

/// <summary>How the runner starts a member process (docs/cluster.md, "The members' JIT").</summary>
public sealed class NodeProcessSpecs
{
    private const string Tiering = "DOTNET_TieredCompilation";

    [Fact]
    public void A_member_must_be_started_as_daxsim_node_with_its_arguments()
    {
        var info = NodeProcess.StartInfo(["--index", "2", "--port", "0"], Path.GetTempPath());

        var args = info.ArgumentList.ToList();
        var node = args.IndexOf("node");
        Assert.True(node >= 0, string.Join(' ', args));
        Assert.Equal(["--index", "2", "--port", "0"], args[(node + 1)..]);
        Assert.True(info.RedirectStandardOutput && info.RedirectStandardError);
        Assert.Equal(Path.GetTempPath(), info.WorkingDirectory);
    }

    [Fact]
    public void A_member_must_run_without_tiered_compilation_unless_the_caller_set_it()
    {
        var info = NodeProcess.StartInfo([], Path.GetTempPath());

        // The runner's own environment wins (a user who wants tiering back sets it there).
        Assert.Equal(Environment.GetEnvironmentVariable(Tiering) ?? "0", info.Environment[Tiering]);
        Assert.Equal("0", info.Environment["DOTNET_TieredPGO"]);
    }

    [Fact]
    public void An_environment_given_for_the_member_must_win_over_the_defaults()
    {
        var info = NodeProcess.StartInfo([], Path.GetTempPath(),
            new Dictionary<string, string> { [Tiering] = "1", ["DAXSIM_PERSISTENCE"] = "on" });

        Assert.Equal("1", info.Environment[Tiering]);
        Assert.Equal("on", info.Environment["DAXSIM_PERSISTENCE"]);
    }
}
