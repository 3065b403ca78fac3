namespace DaxSim.Protocol;

/// <summary>
/// A protocol version that the actors can run as a whole: the seed patch, the kernel's
/// eras, and the 6.15+ code of the three file systems that call the DAX layout break.
/// </summary>
public enum ProtocolBase
{
    /// <summary>The seed patch ("xfs, dax: introduce xfs_break_dax_layouts()" v7, March 2018).</summary>
    SeedV7,
    /// <summary>XFS as merged for Linux 4.18 (d6dc57e251a4), with the scan and lease code of that release.</summary>
    Linux418,
    /// <summary>XFS of Linux 4.19 to 6.14, with the fixes that came later applied (docs/variants.md).</summary>
    Mainline,
    /// <summary>XFS from Linux 6.15 ("fs/dax: Fix ZONE_DEVICE page reference counts").</summary>
    Linux615,
    /// <summary>ext4 from Linux 6.15: the same DAX break, invalidate_lock, no layout leases.</summary>
    Ext4615,
    /// <summary>virtiofs (fuse DAX) from Linux 6.15: the same DAX break over the range fuse passes, no layout leases.</summary>
    Virtiofs615,
}

/// <summary>
/// One named deviation from a base: an ablation (a switch turned to show what each part of
/// the protocol is for) or a real bug from the kernel's history, with the code as it was
/// before the fix.
/// </summary>
public enum Deviation
{
    None,
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
    BusyScanSkipsLockedEntry,
    BusyScanSkipsWaitedEntry,
    BusyScanSkipsUnmapped,
    FuseBreaksFirstPageOnly,
    LeaseBreakDropsError,
}

/// <summary>
/// The variant a run uses (`--variant`, or `"variant"` in a scenario): a base, or a
/// deviation on a base. Names are part of the contract: a base's name (`mainline`,
/// `linux-6.15`), a deviation's name (`no-unmap`: the deviation on its own base), or
/// `DEVIATION@BASE` (`no-unmap@linux-6.15`) for a deviation on another base that it
/// applies to. Extend, never rename.
/// </summary>
public readonly record struct Variant(ProtocolBase Base, Deviation Deviation)
{
    public static Variant Mainline => new(ProtocolBase.Mainline, Deviation.None);
    public static Variant SeedV7 => new(ProtocolBase.SeedV7, Deviation.None);
    public static Variant Linux418 => new(ProtocolBase.Linux418, Deviation.None);
    public static Variant Linux615 => new(ProtocolBase.Linux615, Deviation.None);
    public static Variant Ext4615 => new(ProtocolBase.Ext4615, Deviation.None);
    public static Variant Virtiofs615 => new(ProtocolBase.Virtiofs615, Deviation.None);
    public static Variant NoBreak => Variants.OnOwnBase(Deviation.NoBreak);
    public static Variant NoUnmap => Variants.OnOwnBase(Deviation.NoUnmap);
    public static Variant HoldMmaplock => Variants.OnOwnBase(Deviation.HoldMmaplock);
    public static Variant RetryInCallback => Variants.OnOwnBase(Deviation.RetryInCallback);
    public static Variant DropIolock => Variants.OnOwnBase(Deviation.DropIolock);
    public static Variant GupFastNoRecheck => Variants.OnOwnBase(Deviation.GupFastNoRecheck);
    public static Variant WrongWakeKey => Variants.OnOwnBase(Deviation.WrongWakeKey);
    public static Variant IdleAt0 => Variants.OnOwnBase(Deviation.IdleAt0);
    public static Variant IdleAt2 => Variants.OnOwnBase(Deviation.IdleAt2);
    public static Variant NoBreakOnFallocate => Variants.OnOwnBase(Deviation.NoBreakOnFallocate);
    public static Variant BusyScanSkipsLockedEntry => Variants.OnOwnBase(Deviation.BusyScanSkipsLockedEntry);
    public static Variant BusyScanSkipsWaitedEntry => Variants.OnOwnBase(Deviation.BusyScanSkipsWaitedEntry);
    public static Variant BusyScanSkipsUnmapped => Variants.OnOwnBase(Deviation.BusyScanSkipsUnmapped);
    public static Variant FuseBreaksFirstPageOnly => Variants.OnOwnBase(Deviation.FuseBreaksFirstPageOnly);
    public static Variant LeaseBreakDropsError => Variants.OnOwnBase(Deviation.LeaseBreakDropsError);

    public override string ToString() => this.Name();
}

public static class Variants
{
    private static readonly (ProtocolBase Base, string Name)[] Bases =
    [
        (ProtocolBase.Mainline, "mainline"),
        (ProtocolBase.SeedV7, "seed-v7"),
        (ProtocolBase.Linux418, "linux-4.18"),
        (ProtocolBase.Linux615, "linux-6.15"),
        (ProtocolBase.Ext4615, "ext4-6.15"),
        (ProtocolBase.Virtiofs615, "virtiofs-6.15"),
    ];

    private static readonly ProtocolBase[] Only615 = [ProtocolBase.Linux615, ProtocolBase.Ext4615, ProtocolBase.Virtiofs615];
    private static readonly ProtocolBase[] Mainline = [ProtocolBase.Mainline];
    private static readonly ProtocolBase[] MainlineAnd615 = [ProtocolBase.Mainline, .. Only615];
    private static readonly ProtocolBase[] Scan615 = [.. Only615, ProtocolBase.Mainline];

    /// <summary>The bases with the 6.15 rules (idle at 0, PTE references, dax_break_layout).</summary>
    public static IReadOnlyList<ProtocolBase> Bases615 => Only615;
    private static readonly ProtocolBase[] Xfs = [ProtocolBase.Mainline, ProtocolBase.Linux615];

    // Each deviation: its name, its own base (the first of the bases it applies to), and why
    // it does not apply to the other bases.
    private static readonly (Deviation Deviation, string Name, ProtocolBase[] Bases, string Elsewhere)[] Deviations =
    [
        (Deviation.NoBreak, "no-break", MainlineAnd615, "it removes a break that only mainline and the 6.15 bases are written to have"),
        (Deviation.NoUnmap, "no-unmap", MainlineAnd615, "it applies to mainline and the 6.15 bases"),
        (Deviation.HoldMmaplock, "hold-mmaplock", MainlineAnd615, "it applies to mainline and the 6.15 bases"),
        (Deviation.RetryInCallback, "retry-in-callback", Mainline,
            "the 6.15 bases have no retry flag: dax_break_layout rescans until no page is busy"),
        (Deviation.DropIolock, "drop-iolock", MainlineAnd615, "it applies to mainline and the 6.15 bases"),
        (Deviation.GupFastNoRecheck, "gup-fast-no-recheck", MainlineAnd615, "it applies to mainline and the 6.15 bases"),
        (Deviation.WrongWakeKey, "wrong-wake-key", MainlineAnd615, "it applies to mainline and the 6.15 bases"),
        (Deviation.IdleAt0, "idle-at-0", Mainline, "a DAX page of a 6.15 base is idle at refcount 0 already"),
        (Deviation.IdleAt2, "idle-at-2", Mainline,
            "a 6.15 base finds busy pages by refcount minus mapcount, not against an idle count"),
        (Deviation.NoBreakOnFallocate, "no-break-on-fallocate", MainlineAnd615, "it applies to mainline and the 6.15 bases"),
        (Deviation.BusyScanSkipsLockedEntry, "busy-scan-skips-locked-entry", Scan615, "the scan of seed-v7 and linux-4.18 re-reads the index it waited on"),
        (Deviation.BusyScanSkipsWaitedEntry, "busy-scan-skips-waited-entry", Only615,
            "wait_entry_unlocked_exclusive, where the slip was, exists only from 6.15"),
        (Deviation.BusyScanSkipsUnmapped, "busy-scan-skips-unmapped", Scan615, "linux-4.18 has this early return already"),
        (Deviation.FuseBreaksFirstPageOnly, "fuse-breaks-first-page-only", [ProtocolBase.Virtiofs615],
            "only fuse passes a range of its own to the DAX break"),
        (Deviation.LeaseBreakDropsError, "lease-break-drops-error", Xfs, "only XFS breaks pNFS layout leases (linux-4.18 has the slip already)"),
    ];

    /// <summary>The deviation on its own base.</summary>
    public static Variant OnOwnBase(Deviation d) => new(Row(d).Bases[0], d);

    private static (Deviation Deviation, string Name, ProtocolBase[] Bases, string Elsewhere) Row(Deviation d) =>
        Array.Find(Deviations, r => r.Deviation == d);

    public static string Name(this ProtocolBase b) => Array.Find(Bases, r => r.Base == b).Name;

    public static string Name(this Deviation d) => d == Deviation.None ? "none" : Row(d).Name;

    public static string Name(this Variant v)
    {
        if (v.Deviation == Deviation.None)
        {
            return v.Base.Name();
        }
        var row = Row(v.Deviation);
        return row.Bases[0] == v.Base ? row.Name : $"{row.Name}@{v.Base.Name()}";
    }

    public static bool TryParse(string name, out Variant variant) => TryParse(name, out variant, out _);

    /// <summary>The variant a name gives; throws for a name that gives none (for code and tests, not for input).</summary>
    public static Variant Parse(string name) =>
        TryParse(name, out var variant, out var error) ? variant : throw new ArgumentException(error, nameof(name));

    /// <summary>Parses a variant name; <paramref name="error"/> says what is wrong with one that does not parse.</summary>
    public static bool TryParse(string name, out Variant variant, out string error)
    {
        variant = default;
        error = "";
        var at = name.IndexOf('@');
        var deviationName = at < 0 ? name : name[..at];
        foreach (var (b, n) in Bases)
        {
            if (at < 0 && n == name)
            {
                variant = new Variant(b, Deviation.None);
                return true;
            }
        }
        var row = Array.Find(Deviations, r => r.Name == deviationName);
        if (row.Name is null)
        {
            error = $"unknown variant \"{name}\"; expected one of: {string.Join(", ", AllNames)}, or DEVIATION@BASE";
            return false;
        }
        if (at < 0)
        {
            variant = new Variant(row.Bases[0], row.Deviation);
            return true;
        }
        var baseName = name[(at + 1)..];
        var @base = Array.Find(Bases, r => r.Name == baseName);
        if (@base.Name is null)
        {
            error = $"unknown base \"{baseName}\" in variant \"{name}\"; bases: {string.Join(", ", Bases.Select(r => r.Name))}";
            return false;
        }
        if (!row.Bases.Contains(@base.Base))
        {
            error = $"variant \"{name}\": {row.Name} does not apply to {baseName} ({row.Elsewhere}); " +
                    $"it applies to {string.Join(", ", row.Bases.Select(b => b.Name()))}";
            return false;
        }
        variant = new Variant(@base.Base, row.Deviation);
        return true;
    }

    /// <summary>The bases and the deviations by their own names (each deviation on its own base).</summary>
    public static IReadOnlyList<string> AllNames { get; } =
        Bases.Select(b => b.Name).Concat(Deviations.Select(d => d.Name)).ToArray();

    /// <summary>Every variant a name can give: the bases, and each deviation on every base it applies to.</summary>
    public static IReadOnlyList<Variant> All { get; } = Bases.Select(b => new Variant(b.Base, Deviation.None))
        .Concat(Deviations.SelectMany(d => d.Bases.Select(b => new Variant(b, d.Deviation)))).ToArray();

    /// <summary>The bases a deviation applies to, its own first.</summary>
    public static IReadOnlyList<ProtocolBase> BasesOf(Deviation d) => Row(d).Bases;
}
