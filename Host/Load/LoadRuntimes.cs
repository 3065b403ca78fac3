using DaxSim.Host.Cli;
using DaxSim.Host.Cluster;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Local;
using DaxSim.Host.Runs;
using DaxSim.Protocol.Scenarios;

namespace DaxSim.Host.Load;

/// <summary>
/// Where a load runs. The load engine needs only this: run the scenario once, hand every
/// trace event to RunSettings.Observe in one order consistent with cause and effect, keep
/// RunSettings.Live up to date, and end when the tasks have stopped (Scenario.StopAt) or an
/// invariant breaks. A cluster runtime plugs in here without the engine changing.
/// </summary>
public interface ILoadRuntime
{
    /// <summary>The name the command line and the report use: local, deterministic, cluster.</summary>
    string Name { get; }

    /// <summary>Whether the duration is simulated time (true) or wall-clock time.</summary>
    bool VirtualTime { get; }

    RunResult Run(Scenario scenario, RunSettings settings);
}

public static class LoadRuntimes
{
    public static readonly string[] Names = ["local", "deterministic", "cluster"];

    /// <param name="nodes">Cluster members to start (the cluster runtime only).</param>
    /// <exception cref="InputException">The runtime is unknown.</exception>
    public static ILoadRuntime For(string name, int nodes = 3) => name switch
    {
        "local" => new LocalLoadRuntime(),
        "deterministic" => new DeterministicLoadRuntime(),
        "cluster" => new ClusterLoadRuntime(nodes),
        _ => throw new InputException($"--runtime: unknown value '{name}'; known: {string.Join(", ", Names)}"),
    };
}

/// <summary>
/// The load on a local cluster: <paramref name="nodes"/> `daxsim node` members started on
/// 127.0.0.1, the load's tasks spread over them (task id mod N), its entities sharded; the
/// runner merges their events into the checker and the load's statistics. The duration is
/// wall-clock time. The members build the load's scenario from its spec (Scenario.Load).
/// </summary>
public sealed class ClusterLoadRuntime(int nodes) : ILoadRuntime
{
    public string Name => "cluster";

    public bool VirtualTime => false;

    public int Nodes => nodes;

    public RunResult Run(Scenario scenario, RunSettings settings) =>
        new ClusterRuntime(new ClusterRunOptions { Nodes = nodes }).Run(scenario, settings);
}

/// <summary>The load on one ActorSystem with real threads; the duration is wall-clock time.</summary>
public sealed class LocalLoadRuntime : ILoadRuntime
{
    public string Name => "local";

    public bool VirtualTime => false;

    public RunResult Run(Scenario scenario, RunSettings settings) => new LocalRuntime().Run(scenario, settings);
}

/// <summary>
/// The load on the deterministic runtime: one thread, seeded scheduling, virtual time. The
/// duration is simulated time, and the same seed gives the same run.
/// </summary>
public sealed class DeterministicLoadRuntime : ILoadRuntime
{
    public string Name => "deterministic";

    public bool VirtualTime => true;

    public RunResult Run(Scenario scenario, RunSettings settings)
    {
        using var runtime = new DeterministicRuntime();
        return runtime.Run(scenario, settings);
    }
}
