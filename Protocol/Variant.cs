namespace DaxSim.Protocol;

/// <summary>
/// The protocol versions and ablations of the contract (shared/DESIGN.md section 5).
/// The names are part of the command line and the scenario format: extend, never rename.
/// </summary>
public enum Variant
{
    /// <summary>Later kernels: retry as soon as a busy page is found; the wait drops only MMAPLOCK.</summary>
    Mainline,
    /// <summary>The seed patch (v7, 2018): the wait drops IOLOCK and MMAPLOCK; retry only if it slept.</summary>
    SeedV7,
    NoBreak,
    NoUnmap,
    HoldMmaplock,
    RetryInCallback,
    DropIolock,
    GupFastNoRecheck,
    WrongWakeKey,
    IdleAt0,
    IdleAt2,
    NoBreakOnFallocate,
}

public static class Variants
{
    private static readonly (Variant Variant, string Name)[] Table =
    [
        (Variant.Mainline, "mainline"),
        (Variant.SeedV7, "seed-v7"),
        (Variant.NoBreak, "no-break"),
        (Variant.NoUnmap, "no-unmap"),
        (Variant.HoldMmaplock, "hold-mmaplock"),
        (Variant.RetryInCallback, "retry-in-callback"),
        (Variant.DropIolock, "drop-iolock"),
        (Variant.GupFastNoRecheck, "gup-fast-no-recheck"),
        (Variant.WrongWakeKey, "wrong-wake-key"),
        (Variant.IdleAt0, "idle-at-0"),
        (Variant.IdleAt2, "idle-at-2"),
        (Variant.NoBreakOnFallocate, "no-break-on-fallocate"),
    ];

    public static string Name(this Variant v) => Table.First(t => t.Variant == v).Name;

    public static bool TryParse(string name, out Variant variant)
    {
        foreach (var (v, n) in Table)
        {
            if (n == name)
            {
                variant = v;
                return true;
            }
        }
        variant = default;
        return false;
    }

    public static IReadOnlyList<string> AllNames { get; } = Table.Select(t => t.Name).ToArray();
}
