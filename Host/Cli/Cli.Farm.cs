using DaxSim.Host.Cluster;

namespace DaxSim.Host.Cli;

// `daxsim explore --runtime cluster`: the seed farm (Host/Cluster/SeedFarm.cs, docs/cluster.md "A seed farm").
public sealed partial class Cli
{
    private FarmResult? _lastFarm;

    /// <summary>Tests: called after each unit the farm's runner counts (the unit, the members it started).</summary>
    internal Action<FarmUnitRecord, IReadOnlyList<NodeProcess>>? FarmAfterUnit { get; init; }

    /// <summary>Tests: the last seed farm's result (its units, each counted once), or null.</summary>
    internal FarmResult? LastFarm => _lastFarm;
}
