using DaxSim.Protocol;
using DaxSim.Protocol.Trace;

namespace DaxSim.Host.Runs;

/// <summary>
/// The protocol branches a run can take, as seen in its trace events. The names (kebab-case,
/// <see cref="Coverage.Name"/>) are what reports and the coverage table show; new branches are
/// added at the end.
/// </summary>
public enum Branch
{
    /// <summary>dax_layout_busy_page found a busy page (BusyScanDone with a page).</summary>
    BusyPageFound,
    /// <summary>dax_layout_busy_page found every page idle.</summary>
    NoBusyPage,
    /// <summary>The wait for a busy page slept (WaitSleeping).</summary>
    WaitSlept,
    /// <summary>The wait found the page idle already and returned at once (WaitEnded AlreadyIdle).</summary>
    WaitReturnedAtOnce,
    /// <summary>The idle notification woke a sleeping wait (WaitEnded Woken).</summary>
    WaitWoken,
    /// <summary>A signal ended the wait (WaitEnded Interrupted).</summary>
    WaitInterrupted,
    /// <summary>A kill ended the wait (WaitEnded Killed).</summary>
    WaitKilled,
    /// <summary>xfs_break_layouts went round its loop again (BreakLayoutsRetry): one per retry iteration.</summary>
    BreakLayoutsRetry,
    /// <summary>The GUP fast path took a speculative reference (PageGot, Speculative).</summary>
    GupFastPath,
    /// <summary>The GUP fast path's PTE re-check passed.</summary>
    GupRecheckPassed,
    /// <summary>The GUP fast path's PTE re-check failed: the PTE went away after the lockless read.</summary>
    GupRecheckFailed,
    /// <summary>get_user_pages took a reference on the slow path, under the page-table lock (PageGot, not Speculative).</summary>
    GupSlowPath,
    /// <summary>The unmap of a layout break removed a live PTE (PteZapped).</summary>
    PteZapped,
    /// <summary>A lock request queued behind a holder and was granted later.</summary>
    LockWaited,
    /// <summary>A queued lock request was withdrawn (its task was killed).</summary>
    LockWithdrawn,
    /// <summary>A layout lease was recalled (LeaseRecalled).</summary>
    LeaseRecalled,
    /// <summary>A task started a blocking lease break (LeaseBreakWaiting).</summary>
    LeaseBreakWaited,
    /// <summary>A blocking lease break ended with every lease gone (LeaseBreakDone, ok).</summary>
    LeaseBroken,
    /// <summary>A blocking lease break ended with an error (LeaseBreakDone, EINTR or other).</summary>
    LeaseBreakFailed,
    /// <summary>A lease was revoked when the lease-break time ran out (LeaseReleased, Revoked).</summary>
    LeaseRevoked,
    /// <summary>A signal ended an interruptible wait (SignalReceived, InterruptedWait).</summary>
    SignalInterruptedWait,
    /// <summary>A signal arrived outside an interruptible wait and stayed pending.</summary>
    SignalPending,
    /// <summary>An operation returned EINTR.</summary>
    OpInterrupted,
    /// <summary>A task was killed (TaskEnded, Killed).</summary>
    TaskKilled,
    /// <summary>A page's idle notification reached at least one waiter (IdleNotified, Woken > 0).</summary>
    IdleWakeup,
    /// <summary>A block was freed (BlockFreed).</summary>
    BlockFreed,
    /// <summary>A block freed earlier in the run was allocated again (BlockAllocated after BlockFreed).</summary>
    FreedBlockReused,
    /// <summary>A timed fault (signal or kill, from the scenario or injected) was delivered (FaultInjected).</summary>
    FaultInjected,
    /// <summary>A walk over the DAX entries (busy scan, deletion, fault, writeback) waited for a locked entry.</summary>
    EntryLockWaited,
    /// <summary>... and then did not look at it again (the scan slips: EntryLockWaited, Skipped).</summary>
    LockedEntrySkipped,
    /// <summary>Writeback (fsync) locked a dirty DAX entry to flush it (EntryWriteback, Locked).</summary>
    EntryWrittenBack,
    /// <summary>An interrupted layout change restarted under SA_RESTART (OpRestarted).</summary>
    OpRestarted,
    /// <summary>6.15+: a PTE took a reference on its page (PageMapped).</summary>
    PteReferenceTaken,
    /// <summary>An operation failed with ENOMEM (an injected allocation failure reached it).</summary>
    OpOutOfMemory,
}

/// <summary>
/// How often one run reached each protocol <see cref="Branch"/>, counted from its trace
/// events as they are emitted: one type test and at most one array increment per event.
/// </summary>
public sealed class Coverage
{
    public static readonly int BranchCount = Enum.GetValues<Branch>().Length;

    private static readonly string[] Names = Enum.GetValues<Branch>().Select(KebabCase).ToArray();

    private readonly long[] _counts = new long[BranchCount];
    private TraceEvent? _previous;
    private ulong _freedBlocks; // a bit per block below 64 that has been freed

    /// <summary>The report name of <paramref name="branch"/>, e.g. busy-page-found.</summary>
    public static string Name(Branch branch) => Names[(int)branch];

    /// <summary>Every branch, in report order.</summary>
    public static IReadOnlyList<Branch> All { get; } = Enum.GetValues<Branch>();

    /// <summary>How many times the run took <paramref name="branch"/>.</summary>
    public long this[Branch branch] => _counts[(int)branch];

    /// <summary>Counts by branch name, every branch (zeros included), in report order.</summary>
    public IReadOnlyDictionary<string, long> ByName()
    {
        var d = new Dictionary<string, long>(BranchCount);
        for (var i = 0; i < BranchCount; i++)
        {
            d[Names[i]] = _counts[i];
        }
        return d;
    }

    public void Observe(TraceEvent e)
    {
        switch (e)
        {
            case BusyScanDone b:
                Hit(b.Busy is null ? Branch.NoBusyPage : Branch.BusyPageFound);
                break;
            case WaitSleeping:
                Hit(Branch.WaitSlept);
                break;
            case WaitEnded w:
                Hit(w.How switch
                {
                    WaitEnd.AlreadyIdle => Branch.WaitReturnedAtOnce,
                    WaitEnd.Woken => Branch.WaitWoken,
                    WaitEnd.Interrupted => Branch.WaitInterrupted,
                    _ => Branch.WaitKilled,
                });
                break;
            case BreakLayoutsRetry:
                Hit(Branch.BreakLayoutsRetry);
                break;
            case PageGot g:
                Hit(g.Speculative ? Branch.GupFastPath : Branch.GupSlowPath);
                break;
            case PteRechecked r:
                Hit(r.Present ? Branch.GupRecheckPassed : Branch.GupRecheckFailed);
                break;
            case PteZapped:
                Hit(Branch.PteZapped);
                break;
            case LockAcquired a:
                // The inode grants an uncontended request in the same step it records it.
                if (_previous is not LockRequested q || q.Task != a.Task || q.Kind != a.Kind || q.File != a.File)
                {
                    Hit(Branch.LockWaited);
                }
                break;
            case LockWithdrawn:
                Hit(Branch.LockWithdrawn);
                break;
            case LeaseRecalled:
                Hit(Branch.LeaseRecalled);
                break;
            case LeaseBreakWaiting:
                Hit(Branch.LeaseBreakWaited);
                break;
            case LeaseBreakDone d:
                Hit(d.Result == Errno.Ok ? Branch.LeaseBroken : Branch.LeaseBreakFailed);
                break;
            case LeaseReleased { Revoked: true }:
                Hit(Branch.LeaseRevoked);
                break;
            case SignalReceived s:
                Hit(s.InterruptedWait ? Branch.SignalInterruptedWait : Branch.SignalPending);
                break;
            case OpCompleted { Result: Errno.EINTR }:
                Hit(Branch.OpInterrupted);
                break;
            case TaskEnded { Killed: true }:
                Hit(Branch.TaskKilled);
                break;
            case IdleNotified { Woken: > 0 }:
                Hit(Branch.IdleWakeup);
                break;
            case BlockFreed f:
                Hit(Branch.BlockFreed);
                if (f.Block.Value is >= 0 and < 64)
                {
                    _freedBlocks |= 1UL << f.Block.Value;
                }
                break;
            case BlockAllocated a when a.Block.Value is >= 0 and < 64 && (_freedBlocks & (1UL << a.Block.Value)) != 0:
                Hit(Branch.FreedBlockReused);
                break;
            case FaultInjected:
                Hit(Branch.FaultInjected);
                break;
            case EntryLockWaited w:
                Hit(Branch.EntryLockWaited);
                if (w.Skipped)
                {
                    Hit(Branch.LockedEntrySkipped);
                }
                break;
            case EntryWriteback { Locked: true }:
                Hit(Branch.EntryWrittenBack);
                break;
            case OpRestarted:
                Hit(Branch.OpRestarted);
                break;
            case PageMapped:
                Hit(Branch.PteReferenceTaken);
                break;
            case OpCompleted { Result: Errno.ENOMEM }:
                Hit(Branch.OpOutOfMemory);
                break;
        }
        _previous = e;
    }

    private void Hit(Branch branch) => _counts[(int)branch]++;

    private static string KebabCase(Branch branch)
    {
        var name = branch.ToString();
        var s = new System.Text.StringBuilder(name.Length + 8);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                s.Append('-');
            }
            s.Append(char.ToLowerInvariant(name[i]));
        }
        return s.ToString();
    }
}

/// <summary>Coverage summed over many runs: per branch, the total count and how many runs reached it.</summary>
public sealed class CoverageTotals
{
    private readonly long[] _total = new long[Coverage.BranchCount];
    private readonly long[] _runs = new long[Coverage.BranchCount];

    /// <summary>How many runs were added.</summary>
    public long Runs { get; private set; }

    /// <summary>How many times all runs together took <paramref name="branch"/>.</summary>
    public long Total(Branch branch) => _total[(int)branch];

    /// <summary>How many runs took <paramref name="branch"/> at least once.</summary>
    public long RunsReaching(Branch branch) => _runs[(int)branch];

    public void Add(Coverage run)
    {
        Runs++;
        for (var i = 0; i < Coverage.BranchCount; i++)
        {
            var n = run[(Branch)i];
            if (n > 0)
            {
                _total[i] += n;
                _runs[i]++;
            }
        }
    }

    /// <summary>The per-branch totals and runs reaching, in branch order (what a seed farm's unit result carries).</summary>
    public (long[] Totals, long[] Reaching) ToArrays() => ((long[])_total.Clone(), (long[])_runs.Clone());

    /// <summary>Totals from <see cref="ToArrays"/> and the run count; null when the arrays are not one entry per branch.</summary>
    public static CoverageTotals? FromArrays(long runs, long[]? totals, long[]? reaching)
    {
        if (runs < 0 || totals is null || reaching is null || totals.Length != Coverage.BranchCount ||
            reaching.Length != Coverage.BranchCount || totals.Any(t => t < 0) || reaching.Any(r => r < 0 || r > runs))
        {
            return null;
        }
        var c = new CoverageTotals { Runs = runs };
        totals.CopyTo(c._total, 0);
        reaching.CopyTo(c._runs, 0);
        return c;
    }

    public void Add(CoverageTotals other)
    {
        Runs += other.Runs;
        for (var i = 0; i < Coverage.BranchCount; i++)
        {
            _total[i] += other._total[i];
            _runs[i] += other._runs[i];
        }
    }
}
