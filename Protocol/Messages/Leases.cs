namespace DaxSim.Protocol.Messages;

// pNFS layout leases. A lease holder (a pNFS client) keeps a layout of the file; a layout
// change must recall it first (break_layout). xfs_break_leased_layouts tries a
// non-blocking break; if a holder is present it drops its locks, does a blocking break
// (the holder returns the layout, or the lease-break time runs out and the lease is
// revoked), re-takes the locks and asks its caller to retry.

/// <summary>Task → Inode: take a layout lease on File. Answered by LeaseGranted or LeaseDenied (EAGAIN during a break).</summary>
public sealed record AcquireLease(FileId File, TaskId Task, long Seq) : IInodeMessage;

/// <summary>Inode → Task: the lease is held.</summary>
public sealed record LeaseGranted(FileId File, long Seq) : IReply;

/// <summary>Inode → Task: no lease.</summary>
public sealed record LeaseDenied(FileId File, Errno Error, long Seq) : IReply;

/// <summary>Inode → lease holder: give the layout back (the lease break notification).</summary>
public sealed record RecallLease(FileId File, TaskId Task) : ITaskMessage;

/// <summary>Lease holder → Inode: the layout is returned; the lease is gone. No reply.</summary>
public sealed record ReturnLease(FileId File, TaskId Task) : IInodeMessage;

/// <summary>
/// Task → Inode: break_layout(inode, Blocking). Non-blocking: ok if no lease, else
/// EWOULDBLOCK (and the holders are recalled). Blocking: answered once no lease is left.
/// </summary>
public sealed record BreakLease(FileId File, TaskId Task, bool Blocking, long Seq) : IInodeMessage;

/// <summary>Inode → Task: the result of BreakLease.</summary>
public sealed record LeaseBreakResult(FileId File, Errno Result, long Seq) : IReply;
