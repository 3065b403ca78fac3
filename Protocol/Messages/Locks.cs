namespace DaxSim.Protocol.Messages;

// The inode's two reader/writer locks. Lock order: IOLOCK before MMAPLOCK. Requests are
// granted in FIFO order: a queued exclusive request blocks every later shared one.

public enum LockKind
{
    /// <summary>XFS_IOLOCK (the VFS i_rwsem): I/O and size changes.</summary>
    IoLock,
    /// <summary>XFS_MMAPLOCK: page faults (shared) against layout changes (exclusive).</summary>
    MmapLock,
}

public enum LockMode
{
    Shared,
    Exclusive,
}

/// <summary>Task → Inode: request the lock; answered by LockGranted once it is the task's.</summary>
public sealed record Lock(FileId File, TaskId Task, LockKind Kind, LockMode Mode, long Seq) : IInodeMessage;

/// <summary>Inode → Task: the lock is held.</summary>
public sealed record LockGranted(FileId File, LockKind Kind, LockMode Mode, long Seq) : IReply;

/// <summary>Task → Inode: release the lock, or withdraw the task's queued request for it. No reply.</summary>
public sealed record Unlock(FileId File, TaskId Task, LockKind Kind) : IInodeMessage;
