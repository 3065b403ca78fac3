namespace DaxSim.Protocol.Messages;

// Pins: get_user_pages takes a reference on each page of a DIO buffer (GetPage), the I/O
// lands in the pinned pages (DmaWrite), and the completion drops the references one page
// at a time (PutPage). Up to 6.14 a page is idle at refcount 1 and a PTE holds no
// reference; from 6.15 a page is idle at 0 and each PTE holds one (MapPage, UnmapPage).
// When the count reaches the idle count the PageActor wakes the tasks that wait for it
// (WaitIdle ... PageIdle): wake_up_var in fsdax_pagefree (4.18), the devmap put path
// (up to 6.14), free_zone_device_folio (6.15+).

/// <summary>
/// Task → Page: take a reference (get_page), through the task's mapping of File at Index.
/// Speculative: the GUP fast path's reference, which counts as a pin only once the PTE
/// re-check that follows finds the PTE still there; if it does not, the reference is
/// dropped without any I/O.
/// </summary>
public sealed record GetPage(PageId Page, TaskId Task, FileId File, int Index, long Seq, bool Speculative = false)
    : IPageMessage;

/// <summary>Page → Task: the reference is taken; Refcount is the count after it.</summary>
public sealed record GetPageAck(PageId Page, int Refcount, long Seq) : IReply;

/// <summary>Task → Page: drop a reference taken with GetPage (put_page). No reply.</summary>
public sealed record PutPage(PageId Page, TaskId Task) : IPageMessage;

/// <summary>
/// Task → Page: DMA of the task's I/O reaches the page, meant for File at Index: written
/// into it (a DIO read's buffer) or, FromPage, read from it (a DIO write's source).
/// </summary>
public sealed record DmaWrite(PageId Page, TaskId Task, FileId File, int Index, bool FromPage = false) : IPageMessage;

/// <summary>
/// Mapping → Page (6.15+): a PTE of File at Index now maps the page and holds a reference
/// (insert_page: folio_get, folio_add_file_rmap_pte). No reply.
/// </summary>
public sealed record MapPage(PageId Page, FileId File, int Index) : IPageMessage;

/// <summary>Mapping → Page (6.15+): a PTE that mapped the page was zapped; its reference goes with it. No reply.</summary>
public sealed record UnmapPage(PageId Page) : IPageMessage;

/// <summary>
/// Task → Page: prepare_to_wait on the page's refcount and test the condition (refcount
/// at the idle count). Answered by WaitIdleAck: Idle, or registered as a sleeper.
/// </summary>
public sealed record WaitIdle(PageId Page, TaskId Task, long Seq) : IPageMessage;

/// <summary>Page → Task: Idle = the condition held and the task need not sleep; otherwise it is queued.</summary>
public sealed record WaitIdleAck(PageId Page, bool Idle, int Refcount, long Seq) : IReply;

/// <summary>Page → Task: the idle notification (wake_up_var); Seq is the WaitIdle it answers.</summary>
public sealed record PageIdle(PageId Page, long Seq) : IReply;

/// <summary>Task → Page: finish_wait, the task no longer waits (after a signal, or it stopped caring).</summary>
public sealed record CancelWait(PageId Page, TaskId Task) : IPageMessage;

/// <summary>Mapping → Page: read the refcount (page_ref_count) for the busy-page scan.</summary>
public sealed record QueryRefcount(PageId Page, long Seq) : IPageMessage;

/// <summary>Page → Mapping: the refcount and mapcount the scan asked for.</summary>
public sealed record RefcountReport(PageId Page, int Refcount, int Mapcount, long Seq) : IReply;

/// <summary>Device → Page: the block now belongs to File (allocation).</summary>
public sealed record BlockAssigned(PageId Page, FileId File) : IPageMessage;

/// <summary>Device → Page: the block is free again.</summary>
public sealed record BlockReleased(PageId Page) : IPageMessage;
