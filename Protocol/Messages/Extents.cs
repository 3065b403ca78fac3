using System.Text;

namespace DaxSim.Protocol.Messages;

// Extents: the inode's map from page index to device block, and its size. Faults look
// blocks up (allocating on a hole); layout-changing operations, run by a task that holds
// IOLOCK and MMAPLOCK exclusive and has broken layouts, change the map: first unmapping
// and deleting the DAX entries (Inode → Mapping Invalidate), then freeing blocks
// (Inode → Device Free), then updating the map and the size.

/// <summary>Mapping → Inode: the block behind Index, allocated if it is a hole (the fault's iomap_begin).</summary>
public sealed record MapBlock(FileId File, int Index, long Seq) : IInodeMessage;

/// <summary>Inode → Mapping: Index is backed by Block.</summary>
public sealed record BlockMapped(FileId File, int Index, PageId Block, long Seq) : IReply;

/// <summary>Inode → Mapping: no block for Index (SIGBUS beyond EOF, ENOSPC).</summary>
public sealed record MapBlockFailed(FileId File, int Index, Errno Error, long Seq) : IReply;

/// <summary>
/// Task → Inode: apply a layout change. Op is Truncate (to NewSize pages), PunchHole,
/// ZeroRange, CollapseRange, InsertRange or Fallocate (over Range). The kernel functions:
/// xfs_setattr_size, xfs_free_file_space, xfs_zero_file_space, xfs_collapse_file_space,
/// xfs_insert_file_space, xfs_alloc_file_space. Answered by ExtentsChanged.
/// </summary>
public sealed record ChangeExtents(FileId File, TaskId Task, OpKind Op, PageRange Range, int NewSize, long Seq)
    : IInodeMessage;

/// <summary>Inode → Task: the change is done (Result ok) or refused (EINVAL, ENOSPC); Size is the size after it.</summary>
public sealed record ExtentsChanged(FileId File, Errno Result, int Size, long Seq) : IReply;

/// <summary>Inode → Device: allocate Count blocks for File.</summary>
public sealed record Allocate(FileId File, int Count, long Seq) : IDeviceMessage;

/// <summary>Device → Inode: the blocks, in the order they were taken from the free list.</summary>
public sealed record Allocated(IReadOnlyList<PageId> Blocks, long Seq) : IReply
{
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Blocks = [{string.Join(", ", Blocks)}], Seq = {Seq}");
        return true;
    }
}

/// <summary>Device → Inode: not enough free blocks; nothing was allocated.</summary>
public sealed record AllocationFailed(long Seq) : IReply;

/// <summary>Inode → Device: File gives the blocks back; they may be reused by any file.</summary>
public sealed record Free(FileId File, IReadOnlyList<PageId> Blocks, long Seq) : IDeviceMessage
{
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"File = {File}, Blocks = [{string.Join(", ", Blocks)}], Seq = {Seq}");
        return true;
    }
}

/// <summary>Device → Inode: the blocks are on the free list.</summary>
public sealed record FreeAck(long Seq) : IReply;
