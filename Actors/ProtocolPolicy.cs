using DaxSim.Protocol;
using DaxSim.Protocol.Messages;

namespace DaxSim.Actors;

/// <summary>Whose layout break the actors run: the lock names and the callers differ, the DAX part is shared.</summary>
public enum Filesystem
{
    /// <summary>xfs_break_layouts: the DAX break, then the pNFS layout leases (xfs_break_leased_layouts).</summary>
    Xfs,
    /// <summary>ext4_break_layouts: the DAX break only; MMAPLOCK is ext4's mapping->invalidate_lock.</summary>
    Ext4,
    /// <summary>fuse_dax_break_layouts: the DAX break over the range fuse passes; MMAPLOCK is invalidate_lock.</summary>
    Virtiofs,
}

/// <summary>The loop around the busy scan and the wait.</summary>
public enum BreakLoop
{
    /// <summary>
    /// Up to 6.14: xfs_break_layouts loops while xfs_break_dax_layouts sets its retry flag;
    /// one busy page is waited for per round.
    /// </summary>
    RetryFlag,
    /// <summary>
    /// From 6.15: dax_break_layout scans and waits until no page of the range is busy, then
    /// deletes the range's DAX entries itself (dax_delete_mapping_range). No retry flag.
    /// </summary>
    DaxBreakLayout,
}

/// <summary>What the busy scan does after it waited for a locked DAX entry.</summary>
public enum LockedEntryScan
{
    /// <summary>Tests the entry it waited for (get_unlocked_mapping_entry in 4.18; wait_entry_unlocked_exclusive with xas_reset in 6.15+).</summary>
    TestIt,
    /// <summary>
    /// 4.20 to 6.14: get_unlocked_entry() returns the next present entry, and the scan tests
    /// that one instead: the waited-for entry is never tested.
    /// </summary>
    SkipToNextPresent,
    /// <summary>
    /// 6.15 before dd59137bfe70: xas_pause() moved the index past the waited-for entry, so the
    /// reload reads the next index: the entry is neither tested nor deleted.
    /// </summary>
    SkipToNextIndex,
}

/// <summary>
/// The named switches on the one code path of the layout-break protocol. Each base
/// (docs/variants.md) sets them as that kernel code does, and each deviation turns one of
/// them; the actors consult this object where the versions differ, so a variant is never a
/// copy of an actor.
/// </summary>
public sealed record ProtocolPolicy(
    Variant Variant,
    Filesystem Filesystem,
    bool ZeroBasedRefcount,
    BreakLoop Loop,
    bool BreakDaxLayoutsOnTruncate,
    bool BreakDaxLayoutsOnFallocate,
    bool UnmapBeforeBusyScan,
    bool RetryWhenBusyPageFound,
    bool RetryWhenWaitSlept,
    bool WaitDropsIolock,
    bool WaitDropsMmaplock,
    bool GupFastRechecksPte,
    bool WakeUsesWaitKey,
    int WaitIdleRefcount,
    LockedEntryScan LockedEntries,
    bool BusyScanSkipsUnmappedFile,
    bool BreaksFirstPageOnly,
    bool LeaseBreakLosesError)
{
    /// <summary>
    /// Mainline, XFS of 4.19 to 6.14 ("xfs: Close race between direct IO and
    /// xfs_break_layouts()", 4.19): retry as soon as a busy page is found; the wait drops
    /// and re-takes MMAPLOCK only. Idle at refcount 1; a PTE holds no reference.
    /// </summary>
    public static ProtocolPolicy Mainline { get; } = new(
        Variant.Mainline,
        Filesystem.Xfs,
        ZeroBasedRefcount: false,
        BreakLoop.RetryFlag,
        BreakDaxLayoutsOnTruncate: true,
        BreakDaxLayoutsOnFallocate: true,
        UnmapBeforeBusyScan: true,
        RetryWhenBusyPageFound: true,
        RetryWhenWaitSlept: false,
        WaitDropsIolock: false,
        WaitDropsMmaplock: true,
        GupFastRechecksPte: true,
        WakeUsesWaitKey: true,
        WaitIdleRefcount: 1,
        LockedEntryScan.TestIt,
        BusyScanSkipsUnmappedFile: false,
        BreaksFirstPageOnly: false,
        LeaseBreakLosesError: false);

    /// <summary>
    /// XFS from 6.15 ("fs/dax: Fix ZONE_DEVICE page reference counts"): idle at 0, a PTE holds
    /// a reference, busy means refcount minus mapcount is not 0, and the loop is
    /// dax_break_layout's (whole file for XFS), then the lease break.
    /// </summary>
    private static ProtocolPolicy Linux615 { get; } = Mainline with
    {
        Variant = Variant.Linux615,
        ZeroBasedRefcount = true,
        Loop = BreakLoop.DaxBreakLayout,
        RetryWhenBusyPageFound = false,
        WaitIdleRefcount = 0,
    };

    public static ProtocolPolicy For(Variant variant)
    {
        var policy = variant.Base switch
        {
            ProtocolBase.Mainline => Mainline,
            // The seed patch: xfs_wait_var_event drops the whole lock set it was given
            // (IOLOCK_EXCL|MMAPLOCK_EXCL) and sets did_unlock only inside that callback.
            ProtocolBase.SeedV7 => Mainline with
            {
                RetryWhenBusyPageFound = false, RetryWhenWaitSlept = true, WaitDropsIolock = true,
            },
            // As merged for 4.18 (d6dc57e251a4): did_unlock set only in xfs_wait_dax_page, which
            // drops MMAPLOCK only; dax_layout_busy_page returns at once when no VMA maps the
            // file (mapping_mapped); xfs_break_leased_layouts has the `==` precedence slip.
            ProtocolBase.Linux418 => Mainline with
            {
                RetryWhenBusyPageFound = false, RetryWhenWaitSlept = true, BusyScanSkipsUnmappedFile = true,
                LeaseBreakLosesError = true,
            },
            ProtocolBase.Linux615 => Linux615,
            ProtocolBase.Ext4615 => Linux615 with { Filesystem = Filesystem.Ext4 },
            ProtocolBase.Virtiofs615 => Linux615 with { Filesystem = Filesystem.Virtiofs },
            _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, null),
        };
        policy = policy with { Variant = variant };
        return variant.Deviation switch
        {
            Deviation.None => policy,
            Deviation.NoBreak => policy with { BreakDaxLayoutsOnTruncate = false, BreakDaxLayoutsOnFallocate = false },
            Deviation.NoUnmap => policy with { UnmapBeforeBusyScan = false },
            Deviation.HoldMmaplock => policy with { WaitDropsMmaplock = false },
            Deviation.RetryInCallback => policy with { RetryWhenBusyPageFound = false, RetryWhenWaitSlept = true },
            Deviation.DropIolock => policy with { WaitDropsIolock = true },
            Deviation.GupFastNoRecheck => policy with { GupFastRechecksPte = false },
            Deviation.WrongWakeKey => policy with { WakeUsesWaitKey = false },
            Deviation.IdleAt0 => policy with { WaitIdleRefcount = 0 },
            Deviation.IdleAt2 => policy with { WaitIdleRefcount = 2 },
            Deviation.NoBreakOnFallocate => policy with { BreakDaxLayoutsOnFallocate = false },
            Deviation.BusyScanSkipsLockedEntry => policy with { LockedEntries = LockedEntryScan.SkipToNextPresent },
            Deviation.BusyScanSkipsWaitedEntry => policy with { LockedEntries = LockedEntryScan.SkipToNextIndex },
            Deviation.BusyScanSkipsUnmapped => policy with { BusyScanSkipsUnmappedFile = true },
            Deviation.FuseBreaksFirstPageOnly => policy with { BreaksFirstPageOnly = true },
            Deviation.LeaseBreakDropsError => policy with { LeaseBreakLosesError = true },
            _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, null),
        };
    }

    /// <summary>The era's true idle refcount: 1 up to 6.14 (ZONE_DEVICE pages idle at 1), 0 from 6.15. The checker's, whatever the wait tests.</summary>
    public int IdleRefcount => ZeroBasedRefcount ? 0 : 1;

    /// <summary>xfs_break_leased_layouts runs after the DAX break: XFS only.</summary>
    public bool BreaksLeases => Filesystem == Filesystem.Xfs;

    /// <summary>Does this operation break DAX layouts at all?</summary>
    public bool BreaksDaxLayouts(OpKind op) =>
        op == OpKind.Truncate ? BreakDaxLayoutsOnTruncate : BreakDaxLayoutsOnFallocate;

    /// <summary>
    /// dax_busy_page: up to 6.14, page_ref_count(page) above the idle count; from 6.15,
    /// folio_ref_count - folio_mapcount not 0 (a reference that is not a mapping's).
    /// </summary>
    public bool IsBusy(int refcount, int mapcount) =>
        ZeroBasedRefcount ? refcount - mapcount != 0 : refcount > WaitIdleRefcount;

    /// <summary>The wait condition and the moment of the idle notification (dax_page_is_idle; the wake at the count).</summary>
    public bool IsIdle(int refcount) => refcount == WaitIdleRefcount;

    /// <summary>The page range a layout change breaks: the whole file (dax_break_layout_inode), or page 0 only (the fuse slip).</summary>
    public PageRange BreakRange => BreaksFirstPageOnly ? new PageRange(0, 0) : new PageRange(0, int.MaxValue);

    /// <summary>The locks the idle wait drops while it sleeps, in release order (MMAPLOCK first).</summary>
    public IReadOnlyList<LockKind> WaitDropSet => (WaitDropsIolock, WaitDropsMmaplock) switch
    {
        (true, true) => BothLocks,
        (false, true) => MmapLockOnly,
        (true, false) => IoLockOnly,
        _ => [],
    };

    private static readonly LockKind[] BothLocks = [LockKind.MmapLock, LockKind.IoLock];
    private static readonly LockKind[] MmapLockOnly = [LockKind.MmapLock];
    private static readonly LockKind[] IoLockOnly = [LockKind.IoLock];
}
