using DaxSim.Host.Cluster;

namespace DaxSim.Host.Cli;

// `daxsim explore --runtime cluster`: the seed farm (Host/Cluster/SeedFarm.cs, docs/cluster.md "A seed farm"), and
// with --strategy systematic its units of first deviations (Host/Cluster/SystematicFarmRunner.cs).
public sealed partial class Cli
{
    private FarmResult? _lastFarm;

    /// <summary>Tests: called after each unit the farm's runner counts (the unit, the members it started).</summary>
    internal Action<FarmUnitRecord, IReadOnlyList<NodeProcess>>? FarmAfterUnit { get; init; }

    /// <summary>Tests: the last seed farm's result (its units, each counted once), or null.</summary>
    internal FarmResult? LastFarm => _lastFarm;

    private SystematicFarmResult? _lastSystematicFarm;

    /// <summary>Tests: called after each unit a systematic farm's runner counts (the unit, the members it started).</summary>
    internal Action<SystematicUnitRecord, IReadOnlyList<NodeProcess>>? SystematicFarmAfterUnit { get; init; }

    /// <summary>Tests: the last systematic farm's result (its units, each counted once), or null.</summary>
    internal SystematicFarmResult? LastSystematicFarm => _lastSystematicFarm;
}
