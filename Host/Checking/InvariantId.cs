namespace DaxSim.Host.Checking;

/// <summary>The invariants of docs/design.md ("Invariants and when they are judged"); reports write them as "S1".."L3".</summary>
public enum InvariantId
{
    /// <summary>Use-after-free: a block freed or reused while pinned, or while a layout lease on it is held.</summary>
    S1,
    /// <summary>Refcount: a reference dropped that was not held, a count below idle, a pin left at the end.</summary>
    S2,
    /// <summary>Locks: a grant that conflicts with a holder.</summary>
    S3,
    /// <summary>Mappings: a PTE or DAX entry left where a layout change removed the blocks.</summary>
    S4,
    /// <summary>Deadlock: a wait-for cycle, or work left that nothing can advance.</summary>
    L1,
    /// <summary>Lost wakeup: a sleeper on a page that is already idle.</summary>
    L2,
    /// <summary>Bounded completion: an operation past its bound, or a run past its limits.</summary>
    L3,
}

public static class InvariantIds
{
    /// <summary>The invariant's short title, as reports print it after the id.</summary>
    public static string Title(this InvariantId id) => id switch
    {
        InvariantId.S1 => "use-after-free",
        InvariantId.S2 => "refcount",
        InvariantId.S3 => "locks",
        InvariantId.S4 => "mappings",
        InvariantId.L1 => "deadlock",
        InvariantId.L2 => "lost wakeup",
        _ => "bounded completion",
    };

    /// <summary>The id as reports and replay files write it ("S1").</summary>
    public static string Name(this InvariantId id) => id.ToString();

    public static bool TryParse(string name, out InvariantId id) =>
        Enum.TryParse(name, ignoreCase: false, out id) && Enum.IsDefined(id);
}
