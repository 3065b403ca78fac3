namespace DaxSim.Protocol.Messages;

// The address space of a DAX file: DAX entries (page index → device page, each with a lock
// and a dirty flag) and the PTEs each process has for them. A task names itself; the
// mapping knows the task's process from the scenario, and threads of one process share
// their mapping and PTEs. Faults install both; invalidation removes PTEs and, when the
// extents go away, the entries.

/// <summary>Task → Mapping: mmap(MAP_SHARED) of Range; no PTE until a fault.</summary>
public sealed record MapFile(FileId File, TaskId Task, PageRange Range, long Seq) : IMappingMessage;

/// <summary>Mapping → Task: the mapping exists.</summary>
public sealed record MapFileAck(FileId File, long Seq) : IReply;

/// <summary>Task → Mapping: munmap; the process's mapping of the file goes, and its PTEs one by one after it.</summary>
public sealed record UnmapFile(FileId File, TaskId Task, long Seq) : IMappingMessage;

/// <summary>Mapping → Task: the mapping is gone (Mapped: there was one).</summary>
public sealed record UnmapFileAck(FileId File, bool Mapped, long Seq) : IReply;

/// <summary>
/// Task → Mapping: the thread exited. When the last thread of its process has, the process's
/// mapping and PTEs go (exit_mmap). No reply.
/// </summary>
public sealed record ThreadExit(FileId File, TaskId Task) : IMappingMessage;

/// <summary>
/// Task → Mapping: a page fault at Index (the GUP slow path, under MMAPLOCK shared).
/// The mapping looks the block up (allocating on a hole), inserts the DAX entry and the
/// task's PTE, and answers FaultAck, or FaultFailed (SIGBUS past EOF, ENOSPC, EFAULT if unmapped).
/// </summary>
public sealed record Fault(FileId File, TaskId Task, int Index, long Seq) : IMappingMessage;

/// <summary>Mapping → Task: the PTE for Index now points at Page.</summary>
public sealed record FaultAck(FileId File, int Index, PageId Page, long Seq) : IReply;

/// <summary>Mapping → Task: the fault failed.</summary>
public sealed record FaultFailed(FileId File, int Index, Errno Error, long Seq) : IReply;

/// <summary>
/// Task → Mapping: the GUP fast path's lockless page-table walk (or a plain memory access):
/// what does the process's PTE for Index point at? Answered by PteValue. The reference is
/// taken afterwards, in a separate step, and an unmap may come in between: hence the re-check.
/// </summary>
public sealed record ReadPte(FileId File, TaskId Task, int Index, long Seq) : IMappingMessage;

/// <summary>Mapping → Task: the page, or null when there is no PTE; Mapped: a mapping (VMA) of the process covers Index.</summary>
public sealed record PteValue(FileId File, int Index, PageId? Page, bool Mapped, long Seq) : IReply;

/// <summary>
/// Task → Mapping: the GUP slow path's follow_page_mask: take the page-table lock and read the
/// PTE for Index. If there is one, the lock stays held (no PTE of the process is zapped) until
/// the task has taken its reference and says FollowDone. Answered by PteValue.
/// </summary>
public sealed record FollowPte(FileId File, TaskId Task, int Index, long Seq) : IMappingMessage;

/// <summary>Task → Mapping: the reference is taken; the page-table lock FollowPte took is released. No reply.</summary>
public sealed record FollowDone(FileId File, TaskId Task) : IMappingMessage;

/// <summary>
/// Task → Mapping: the GUP fast path's re-check after taking a reference: is the task's
/// PTE for Index still there and still pointing at Page?
/// </summary>
public sealed record RecheckPte(FileId File, TaskId Task, int Index, PageId Page, long Seq) : IMappingMessage;

/// <summary>Mapping → Task: the answer to RecheckPte.</summary>
public sealed record PteStatus(FileId File, int Index, bool Present, long Seq) : IReply;

/// <summary>
/// Inode → Mapping: unmap_mapping_range over [First, Last] for every task and, when
/// DeleteEntries, remove the DAX entries too (truncate_inode_pages_range). Answered by InvalidateAck.
/// </summary>
public sealed record Invalidate(FileId File, int First, int Last, bool DeleteEntries, long Seq) : IMappingMessage;

/// <summary>Mapping → Inode: the range is unmapped.</summary>
public sealed record InvalidateAck(FileId File, long Seq) : IReply;

/// <summary>
/// Task → Mapping: dax_layout_busy_page_range over [First, Last]. Unmap every PTE of the
/// range, one by one (so new GUP must fault, and faults block on MMAPLOCK), then read each
/// entry's page refcount in index order, waiting for locked entries, and return the first
/// busy page: BusyPageFound, or NoBusyPage.
/// </summary>
public sealed record FindBusyPage(FileId File, TaskId Task, int First, int Last, long Seq) : IMappingMessage;

/// <summary>Mapping → Task: Page (at Index) is busy with Refcount.</summary>
public sealed record BusyPageFound(FileId File, PageId Page, int Index, int Refcount, long Seq) : IReply;

/// <summary>Mapping → Task: no page of the file is busy.</summary>
public sealed record NoBusyPage(FileId File, long Seq) : IReply;

/// <summary>
/// Task → Mapping: dax_delete_mapping_range over [First, Last], inside the 6.15 break: delete
/// each DAX entry, waiting for locked ones, one entry per step. Answered by EntriesDeleted.
/// </summary>
public sealed record DeleteEntries(FileId File, TaskId Task, int First, int Last, long Seq) : IMappingMessage;

/// <summary>Mapping → Task: the range's entries are deleted.</summary>
public sealed record EntriesDeleted(FileId File, long Seq) : IReply;

/// <summary>
/// Task → Mapping: writeback (dax_writeback_one): lock the first dirty entry at or after From,
/// waiting while it is locked. Answered by EntryLocked, or NoDirtyEntry when none is left.
/// </summary>
public sealed record LockDirtyEntry(FileId File, TaskId Task, int From, long Seq) : IMappingMessage;

/// <summary>Mapping → Task: the entry at Index is locked for the task's writeback.</summary>
public sealed record EntryLocked(FileId File, int Index, long Seq) : IReply;

/// <summary>Mapping → Task: no dirty entry at or after the index asked for.</summary>
public sealed record NoDirtyEntry(FileId File, long Seq) : IReply;

/// <summary>Task → Mapping: the entry is written back: clean it and unlock it (dax_unlock_entry wakes a waiter). No reply.</summary>
public sealed record UnlockEntry(FileId File, TaskId Task, int Index) : IMappingMessage;
