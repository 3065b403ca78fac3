using DaxSim.Host.Cli;
using DaxSim.Host.Cluster;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Local;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;

namespace DaxSim.Host.Runs;

/// <summary>
/// A runtime: runs a scenario once and gives the checker's verdict (docs/design.md). What
/// every runtime must do: hand every trace event to RunSettings.Observe in one order
/// consistent with cause and effect, keep RunSettings.Live up to date, and end when the
/// tasks have stopped (Scenario.StopAt) or an invariant breaks. The cluster runtime's own
/// settings (its members) are given when it is made, through <see cref="Runtimes.For"/>;
/// the deterministic and local runtimes' own are per run, in RunSettings.Deterministic and
/// RunSettings.Local. The command line, explore, load and the bench all pick one there.
/// </summary>
public interface IRuntime : IDisposable
{
    RuntimeKind Kind { get; }

    /// <summary>The name the command line and the reports use: local, deterministic, cluster.</summary>
    string Name => Kind.Name();

    /// <summary>Whether the run's time is simulated (true) or wall-clock time.</summary>
    bool VirtualTime => Kind.VirtualTime();

    RunResult Run(Scenario scenario, RunSettings settings);

    void IDisposable.Dispose()
    {
    }
}

/// <summary>The runtimes by kind, and the one place a `--runtime` value is read.</summary>
public static class Runtimes
{
    /// <summary>The runtime a `--runtime` (or a load spec's "runtime") value names.</summary>
    /// <exception cref="InputException">The value names no runtime.</exception>
    public static RuntimeKind Parse(string value, string flag = "--runtime") =>
        RuntimeKinds.TryParse(value, out var kind)
            ? kind
            : throw new InputException($"{flag}: unknown value '{value}'; known: {string.Join(", ", RuntimeKinds.Names)}");

    /// <summary>
    /// A runtime of <paramref name="kind"/>. The deterministic one makes a fresh
    /// DeterministicRuntime (an ActorSystem of its own) on the calling thread for each run,
    /// so it may be handed to another thread; whoever runs many seeds in a row on one thread
    /// asks <see cref="ForOneThread"/> instead (explore). <paramref name="cluster"/>: the cluster
    /// runtime's own settings (members, --join, TLS); the default starts 3 members.
    /// </summary>
    public static IRuntime For(RuntimeKind kind, ClusterRunOptions? cluster = null) => kind switch
    {
        RuntimeKind.Local => new LocalRuntime(),
        RuntimeKind.Deterministic => new FreshDeterministicRuntime(),
        RuntimeKind.Cluster => new ClusterRuntime(cluster ?? new ClusterRunOptions()),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>
    /// A runtime of <paramref name="kind"/> for one thread that runs many seeds in a row
    /// (explore's workers, the shrinker): the deterministic one keeps one DeterministicRuntime,
    /// made on this thread, across its runs (a fresh ActorSystem per seed would cost more than
    /// the seed), so it must be run and disposed on the thread that asked for it. The other
    /// runtimes are as <see cref="For"/> makes them.
    /// </summary>
    public static IRuntime ForOneThread(RuntimeKind kind, ClusterRunOptions? cluster = null) => kind switch
    {
        RuntimeKind.Deterministic => new DeterministicRuntime(),
        _ => For(kind, cluster),
    };

    /// <summary>Each run on a new DeterministicRuntime made and disposed on the thread that runs it.</summary>
    private sealed class FreshDeterministicRuntime : IRuntime
    {
        public RuntimeKind Kind => RuntimeKind.Deterministic;

        public RunResult Run(Scenario scenario, RunSettings settings)
        {
            using var runtime = new DeterministicRuntime();
            return runtime.Run(scenario, settings);
        }
    }
}
