namespace DaxSim.Protocol;

/// <summary>
/// Where a run happens (docs/contract.md, `--runtime`): the deterministic runtime (one
/// thread, seeded scheduling, virtual time), the local runtime (one ActorSystem, real
/// threads and time) or the cluster runtime (member processes, real time). The command
/// line, a load spec's "runtime" and a report's "runtime" use the names below.
/// </summary>
public enum RuntimeKind
{
    Local,
    Deterministic,
    Cluster,
}

public static class RuntimeKinds
{
    /// <summary>Every runtime, in the order the command line lists them.</summary>
    public static readonly RuntimeKind[] All = [RuntimeKind.Local, RuntimeKind.Deterministic, RuntimeKind.Cluster];

    /// <summary>The names, in the order of All: local, deterministic, cluster.</summary>
    public static readonly string[] Names = All.Select(Name).ToArray();

    public static string Name(this RuntimeKind kind) => kind switch
    {
        RuntimeKind.Local => "local",
        RuntimeKind.Deterministic => "deterministic",
        RuntimeKind.Cluster => "cluster",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>Whether the runtime's clock is simulated (true) or the wall clock.</summary>
    public static bool VirtualTime(this RuntimeKind kind) => kind == RuntimeKind.Deterministic;

    public static bool TryParse(string? name, out RuntimeKind kind)
    {
        foreach (var k in All)
        {
            if (k.Name() == name)
            {
                kind = k;
                return true;
            }
        }
        kind = default;
        return false;
    }
}
