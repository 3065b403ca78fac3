using DaxSim.Protocol;
using DaxSim.Protocol.Messages;

namespace DaxSim.Actors;

/// <summary>
/// The named switches on the one code path of the layout-break protocol. Mainline is the
/// later kernels' code; seed-v7 is the 2018 patch; every ablation is mainline with one
/// switch turned. The actors consult this object where the kernel versions differ, so a
/// variant is a single, named deviation and never a copy of an actor.
/// </summary>
public sealed record ProtocolPolicy(
    Variant Variant,
    bool BreakDaxLayoutsOnTruncate,
    bool BreakDaxLayoutsOnFallocate,
    bool UnmapBeforeBusyScan,
    bool RetryWhenBusyPageFound,
    bool RetryWhenWaitSlept,
    bool WaitDropsIolock,
    bool WaitDropsMmaplock,
    bool GupFastRechecksPte,
    bool WakeUsesWaitKey,
    int IdleRefcount)
{
    /// <summary>
    /// Mainline xfs_break_dax_layouts / xfs_wait_dax_page: retry as soon as a busy page is
    /// found; the wait drops and re-takes MMAPLOCK only.
    /// </summary>
    public static ProtocolPolicy Mainline { get; } = new(
        Variant.Mainline,
        BreakDaxLayoutsOnTruncate: true,
        BreakDaxLayoutsOnFallocate: true,
        UnmapBeforeBusyScan: true,
        RetryWhenBusyPageFound: true,
        RetryWhenWaitSlept: false,
        WaitDropsIolock: false,
        WaitDropsMmaplock: true,
        GupFastRechecksPte: true,
        WakeUsesWaitKey: true,
        IdleRefcount: 1);

    public static ProtocolPolicy For(Variant variant) => variant switch
    {
        Variant.Mainline => Mainline,
        // The seed patch: xfs_wait_var_event drops the whole lock set it was given
        // (IOLOCK_EXCL|MMAPLOCK_EXCL) and sets did_unlock only inside that callback.
        Variant.SeedV7 => Mainline with
        {
            Variant = variant, RetryWhenBusyPageFound = false, RetryWhenWaitSlept = true, WaitDropsIolock = true,
        },
        Variant.NoBreak => Mainline with
        {
            Variant = variant, BreakDaxLayoutsOnTruncate = false, BreakDaxLayoutsOnFallocate = false,
        },
        Variant.NoUnmap => Mainline with { Variant = variant, UnmapBeforeBusyScan = false },
        Variant.HoldMmaplock => Mainline with { Variant = variant, WaitDropsMmaplock = false },
        Variant.RetryInCallback => Mainline with
        {
            Variant = variant, RetryWhenBusyPageFound = false, RetryWhenWaitSlept = true,
        },
        Variant.DropIolock => Mainline with { Variant = variant, WaitDropsIolock = true },
        Variant.GupFastNoRecheck => Mainline with { Variant = variant, GupFastRechecksPte = false },
        Variant.WrongWakeKey => Mainline with { Variant = variant, WakeUsesWaitKey = false },
        Variant.IdleAt0 => Mainline with { Variant = variant, IdleRefcount = 0 },
        Variant.IdleAt2 => Mainline with { Variant = variant, IdleRefcount = 2 },
        Variant.NoBreakOnFallocate => Mainline with { Variant = variant, BreakDaxLayoutsOnFallocate = false },
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, null),
    };

    /// <summary>Does this operation run xfs_break_dax_layouts at all?</summary>
    public bool BreaksDaxLayouts(OpKind op) =>
        op == OpKind.Truncate ? BreakDaxLayoutsOnTruncate : BreakDaxLayoutsOnFallocate;

    /// <summary>dax_layout_busy_page's test: a page is busy above the idle count.</summary>
    public bool IsBusy(int refcount) => refcount > IdleRefcount;

    /// <summary>The wait condition and the moment of the idle notification.</summary>
    public bool IsIdle(int refcount) => refcount == IdleRefcount;

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
