using DaxSim.Protocol.Messages;

namespace DaxSim.Protocol.Trace;

// What the actors report as they go: tracepoints. The invariant checkers and the reports
// are built from these events alone, never from the actors' fields, so the actors read
// like the kernel code they model and the checkers can be swapped without touching them.
// The runtime stamps each event with the (virtual) time it was emitted at.

public abstract record TraceEvent;

/// <summary>Where events go. The runtime's sink stamps, checks and records them.</summary>
public interface ITraceSink
{
    void Emit(TraceEvent e);
}

// --- operations and tasks -------------------------------------------------------------

/// <summary>A task starts a scenario step (Step = its index in the task, Iteration = the task's repeat, from 0).</summary>
public sealed record OpStarted(TaskId Task, OpKind Op, FileId? File, int Step, int Iteration) : TraceEvent;

/// <summary>The task's current operation returned.</summary>
public sealed record OpCompleted(TaskId Task, OpKind Op, Errno Result) : TraceEvent;

/// <summary>
/// The operation was interrupted (-ERESTARTSYS), the signal's handler ran, and, as the handler
/// has SA_RESTART, the system call starts again from its beginning.
/// </summary>
public sealed record OpRestarted(TaskId Task, OpKind Op) : TraceEvent;

/// <summary>The task ran all its steps, or was killed.</summary>
public sealed record TaskEnded(TaskId Task, bool Killed) : TraceEvent;

/// <summary>A scenario fault was injected (Kind: signal, kill, ...).</summary>
public sealed record FaultInjected(string Kind, TaskId Task) : TraceEvent;

/// <summary>An actor threw: a bug in the model, not a finding. The run stops with an internal error.</summary>
public sealed record ActorFailed(string Error) : TraceEvent;

/// <summary>A signal reached a task: it ended an interruptible wait, or it is pending.</summary>
public sealed record SignalReceived(TaskId Task, bool InterruptedWait) : TraceEvent;

// --- locks ----------------------------------------------------------------------------

public sealed record LockRequested(FileId File, LockKind Kind, LockMode Mode, TaskId Task) : TraceEvent;

public sealed record LockAcquired(FileId File, LockKind Kind, LockMode Mode, TaskId Task) : TraceEvent;

public sealed record LockReleased(FileId File, LockKind Kind, LockMode Mode, TaskId Task) : TraceEvent;

/// <summary>A queued request left the queue without being granted (the task was killed).</summary>
public sealed record LockWithdrawn(FileId File, LockKind Kind, TaskId Task) : TraceEvent;

// --- pins and the idle wait -----------------------------------------------------------

/// <summary>
/// Task took a reference on Page through its mapping of File at Index; Speculative for
/// the GUP fast path's reference before its PTE re-check.
/// </summary>
public sealed record PageGot(PageId Page, TaskId Task, FileId File, int Index, int Refcount, bool Speculative = false)
    : TraceEvent;

/// <summary>Task dropped a reference on Page.</summary>
public sealed record PagePut(PageId Page, TaskId Task, int Refcount) : TraceEvent;

/// <summary>6.15+: a PTE of File at Index maps Page and holds a reference (counts after it).</summary>
public sealed record PageMapped(PageId Page, FileId File, int Index, int Refcount, int Mapcount) : TraceEvent;

/// <summary>6.15+: a PTE that mapped Page went, and its reference with it (counts after it).</summary>
public sealed record PageUnmapped(PageId Page, int Refcount, int Mapcount) : TraceEvent;

/// <summary>Task went to sleep waiting for Page to go idle (it was registered as a waiter).</summary>
public sealed record WaitSleeping(PageId Page, TaskId Task, int Refcount) : TraceEvent;

public enum WaitEnd
{
    /// <summary>The condition held when checked: no sleep.</summary>
    AlreadyIdle,
    /// <summary>The idle notification woke the task.</summary>
    Woken,
    /// <summary>A signal ended the wait.</summary>
    Interrupted,
    /// <summary>The task was killed while waiting.</summary>
    Killed,
}

/// <summary>Task's wait for Page ended.</summary>
public sealed record WaitEnded(PageId Page, TaskId Task, WaitEnd How) : TraceEvent;

/// <summary>Page sent the idle notification; Woken = how many waiters it reached.</summary>
public sealed record IdleNotified(PageId Page, int Refcount, int Woken) : TraceEvent;

/// <summary>
/// DMA of Task's I/O reached Page, meant for File at Index: landed in it, or (FromPage) read
/// from it for a DIO write.
/// </summary>
public sealed record DmaLanded(PageId Page, TaskId Task, FileId File, int Index, bool FromPage = false) : TraceEvent;

// --- mappings -------------------------------------------------------------------------

/// <summary>A PTE of process Mm maps File at Index to Page.</summary>
public sealed record PteInstalled(FileId File, int Index, MmId Mm, PageId Page) : TraceEvent;

/// <summary>Process Mm's PTE for File at Index went (zap_pte_range: one PTE per step).</summary>
public sealed record PteZapped(FileId File, int Index, MmId Mm, PageId Page) : TraceEvent;

public sealed record EntryInserted(FileId File, int Index, PageId Page) : TraceEvent;

public sealed record EntryDeleted(FileId File, int Index, PageId Page) : TraceEvent;

/// <summary>A lockless read of the task's PTE (the GUP fast path's walk, or an access): the page, or null.</summary>
public sealed record PteRead(FileId File, int Index, TaskId Task, PageId? Page) : TraceEvent;

/// <summary>The GUP fast path re-checked the task's PTE after taking a reference.</summary>
public sealed record PteRechecked(FileId File, int Index, TaskId Task, bool Present) : TraceEvent;

/// <summary>dax_layout_busy_page finished: Busy is the first busy page, or null. Unmapped: it unmapped first.</summary>
public sealed record BusyScanDone(FileId File, TaskId Task, PageId? Busy, int Refcount, bool Unmapped) : TraceEvent;

/// <summary>
/// A walk over the DAX entries met a locked entry at Index and waited for it (Task: whose
/// busy scan, entry deletion, fault or writeback). Skipped: after the wait it did not look at
/// that entry again (the scan slips of 4.20-6.14 and early 6.15).
/// </summary>
public sealed record EntryLockWaited(FileId File, int Index, TaskId Task, bool Skipped) : TraceEvent;

/// <summary>
/// 6.15+: truncate_inode_pages found a DAX entry in the range of a layout change, which the
/// layout break should have deleted (the kernel's WARN_ON_ONCE in
/// truncate_folio_batch_exceptionals, which then deletes it). S4.
/// </summary>
public sealed record EntryLeftByBreak(FileId File, int Index, PageId Page) : TraceEvent;

/// <summary>A task's writeback locked the DAX entry at Index (dax_writeback_one), or unlocked it.</summary>
public sealed record EntryWriteback(FileId File, int Index, TaskId Task, bool Locked) : TraceEvent;

/// <summary>
/// The layout break scans again: xfs_break_layouts goes round its loop (its retry flag was set,
/// up to 6.14), or dax_break_layout rescans after a wait (6.15+), or XFS breaks leases again.
/// </summary>
public sealed record BreakLayoutsRetry(FileId File, TaskId Task) : TraceEvent;

// --- extents and blocks ---------------------------------------------------------------

public sealed record ExtentMapped(FileId File, int Index, PageId Block) : TraceEvent;

public sealed record ExtentRemoved(FileId File, int Index, PageId Block) : TraceEvent;

public sealed record ExtentMoved(FileId File, int From, int To, PageId Block) : TraceEvent;

public sealed record SizeChanged(FileId File, int Size) : TraceEvent;

/// <summary>
/// A layout change finished, its locks still held. The pages it unmapped, [First, Last]
/// (empty when First > Last), and every page at or beyond Size must now have no PTE and
/// no DAX entry (S4).
/// </summary>
public sealed record LayoutChanged(FileId File, OpKind Op, TaskId Task, int First, int Last, int Size) : TraceEvent;

public sealed record BlockAllocated(PageId Block, FileId File) : TraceEvent;

public sealed record BlockFreed(PageId Block, FileId File) : TraceEvent;

// --- leases ---------------------------------------------------------------------------

public sealed record LeaseTaken(FileId File, TaskId Task) : TraceEvent;

public sealed record LeaseRecalled(FileId File, TaskId Task) : TraceEvent;

/// <summary>The lease went away: returned by its holder, or Revoked when the lease-break time ran out.</summary>
public sealed record LeaseReleased(FileId File, TaskId Task, bool Revoked) : TraceEvent;

/// <summary>A task started a blocking lease break and waits for the holders.</summary>
public sealed record LeaseBreakWaiting(FileId File, TaskId Task) : TraceEvent;

/// <summary>The blocking lease break ended (all leases gone, or the wait was interrupted).</summary>
public sealed record LeaseBreakDone(FileId File, TaskId Task, Errno Result) : TraceEvent;

// --- nodes and the network (simulated clusters and the cluster runtime) ------------------

/// <summary>A node crashed (its process was killed): its tasks are lost, its entities unreachable until it is removed.</summary>
public sealed record NodeCrashed(int Node) : TraceEvent;

/// <summary>
/// The cluster removed a node (Reason: crashed, or downed by the split-brain resolver):
/// its entities start again elsewhere from their journal, and every entity gives back
/// what the node's tasks held.
/// </summary>
public sealed record NodeRemoved(int Node, string Reason) : TraceEvent;

/// <summary>A task died with its node: it never finishes its operation, and holds what it held until its node is removed.</summary>
public sealed record TaskLost(TaskId Task, int Node) : TraceEvent;

/// <summary>The network split into groups of nodes that cannot reach each other (e.g. "[0] [1,2]").</summary>
public sealed record NetworkPartitioned(string Groups) : TraceEvent;

/// <summary>The partition ended: Healed, or resolved by downing every node outside the surviving group.</summary>
public sealed record NetworkHealed(bool Downed) : TraceEvent;
