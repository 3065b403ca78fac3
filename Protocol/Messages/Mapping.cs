namespace DaxSim.Protocol.Messages;

// The address space of a DAX file: DAX entries (page index → device page) and the PTEs
// each mapping task has for them. Faults install both; invalidation removes PTEs and,
// when the extents go away, the entries.

/// <summary>Task → Mapping: mmap(MAP_SHARED) of Range; no PTE until a fault.</summary>
public sealed record MapFile(FileId File, TaskId Task, PageRange Range, long Seq) : IMappingMessage;

/// <summary>Mapping → Task: the mapping exists.</summary>
public sealed record MapFileAck(FileId File, long Seq) : IReply;

/// <summary>Task → Mapping: munmap; the task's PTEs of the file go.</summary>
public sealed record UnmapFile(FileId File, TaskId Task, long Seq) : IMappingMessage;

/// <summary>Mapping → Task: the mapping and its PTEs are gone.</summary>
public sealed record UnmapFileAck(FileId File, long Seq) : IReply;

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
/// Task → Mapping: the GUP fast path's lockless page-table walk: what does the task's PTE
/// for Index point at? Answered by PteValue. The reference is taken afterwards, in a
/// separate step, and an unmap may come in between: hence the re-check.
/// </summary>
public sealed record ReadPte(FileId File, TaskId Task, int Index, long Seq) : IMappingMessage;

/// <summary>Mapping → Task: the answer to ReadPte: the page, or null when there is no PTE.</summary>
public sealed record PteValue(FileId File, int Index, PageId? Page, long Seq) : IReply;

/// <summary>
/// Task → Mapping: the GUP fast path's re-check after taking a reference: is the task's
/// PTE for Index still there and still pointing at Page?
/// </summary>
public sealed record RecheckPte(FileId File, TaskId Task, int Index, PageId Page, long Seq) : IMappingMessage;

/// <summary>Mapping → Task: the answer to RecheckPte.</summary>
public sealed record PteStatus(FileId File, int Index, bool Present, long Seq) : IReply;

/// <summary>Mapping → Task: the task's PTEs of File in [First, Last] were zapped (update its view).</summary>
public sealed record PtesZapped(FileId File, int First, int Last, TaskId Task) : ITaskMessage;

/// <summary>
/// Inode → Mapping: unmap_mapping_range over [First, Last] for every task and, when
/// DeleteEntries, remove the DAX entries too (truncate_inode_pages_range). Answered by InvalidateAck.
/// </summary>
public sealed record Invalidate(FileId File, int First, int Last, bool DeleteEntries, long Seq) : IMappingMessage;

/// <summary>Mapping → Inode: the range is unmapped.</summary>
public sealed record InvalidateAck(FileId File, long Seq) : IReply;

/// <summary>
/// Task → Mapping: dax_layout_busy_page. Unmap every PTE of the file (so new GUP must
/// fault, and faults block on MMAPLOCK), then return the first page with refcount above
/// the idle count: BusyPageFound, or NoBusyPage.
/// </summary>
public sealed record FindBusyPage(FileId File, TaskId Task, long Seq) : IMappingMessage;

/// <summary>Mapping → Task: Page (at Index) is busy with Refcount.</summary>
public sealed record BusyPageFound(FileId File, PageId Page, int Index, int Refcount, long Seq) : IReply;

/// <summary>Mapping → Task: no page of the file is busy.</summary>
public sealed record NoBusyPage(FileId File, long Seq) : IReply;
