using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using DaxSim.Actors;
using DaxSim.Actors.Mapping;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Actors;

/// <summary>
/// The mapping actor with two threads of one process (tasks a and b share process p, MmId 0)
/// and a third task c of its own: shared PTEs, exit_mmap, entry locks against the busy scan,
/// the 6.15 PTE references, the unmapped-file early return, entry deletion and the
/// page-table lock. The mapping actor runs on the spec's thread (<see cref="VirtualTime"/>),
/// so "no page was queried" is checked at once.
/// </summary>
public sealed class MappingActorThreadSpecs : TestKit
{
    private static readonly FileId Dax = Scenarios.Dax;
    private static readonly TaskId A = new(0), B = new(1), C = new(2);
    private static readonly MmId P = new(0);

    private readonly ProbeDirectory _dir;
    private readonly RecordingSink _sink = new();

    public MappingActorThreadSpecs() : base(VirtualTime.Config)
    {
        _dir = new ProbeDirectory(this);
    }

    private TestProbe Task(TaskId t) => _dir.Probe($"task-{t.Value}");
    private TestProbe PageProbe(int p) => _dir.Probe($"page-{p}");
    private TestProbe InodeProbe => _dir.Probe("inode-0");

    private IActorRef Mapping(Variant? variant = null)
    {
        var scenario = Scenarios.Parse("""
            [ { "name": "a", "process": "p", "steps": [ { "op": "sleep", "for": "1ms" } ] },
              { "name": "b", "process": "p", "steps": [ { "op": "sleep", "for": "1ms" } ] },
              { "name": "c", "steps": [ { "op": "sleep", "for": "1ms" } ] } ]
            """, extra: """, "processes": [ { "name": "p" } ]""");
        Assert.Equal(P, scenario.MmOf(A));
        Assert.Equal(P, scenario.MmOf(B));
        Assert.NotEqual(P, scenario.MmOf(C));
        var env = new SimEnvironment(scenario, ProtocolPolicy.For(variant ?? Variant.Mainline), _sink, _dir);
        var mapping = this.UnderTest<MappingActor>(MappingActor.Props(env, Dax));
        _dir.UnderTest = mapping;
        _dir.UnderTestName = "mapping-0";
        return mapping;
    }

    private long _seq = 100;

    private void Map(IActorRef mapping, TaskId t)
    {
        var seq = ++_seq;
        mapping.Tell(new MapFile(Dax, t, new PageRange(0, 3), seq), Task(t).Ref);
        Task(t).ExpectMsg<MapFileAck>(a => a.Seq == seq);
    }

    // Thread t faults page `index` in; the inode answers with `block`.
    private void Fault(IActorRef mapping, TaskId t, int index, int block)
    {
        var seq = ++_seq;
        mapping.Tell(new Fault(Dax, t, index, seq), Task(t).Ref);
        var lookup = InodeProbe.ExpectMsg<MapBlock>(m => m.Index == index);
        InodeProbe.Reply(new BlockMapped(Dax, index, new PageId(block), lookup.Seq));
        Task(t).ExpectMsg<FaultAck>(a => a.Page == new PageId(block) && a.Seq == seq);
    }

    // A mapping on which thread A has mapped the file and faulted in each (index, block).
    private IActorRef MappedByA(Variant? variant, params (int Index, int Block)[] pages)
    {
        var mapping = Mapping(variant);
        Map(mapping, A);
        foreach (var (index, block) in pages)
        {
            Fault(mapping, A, index, block);
        }
        return mapping;
    }

    private PteValue ReadPte(IActorRef mapping, TaskId t, int index)
    {
        var seq = ++_seq;
        mapping.Tell(new ReadPte(Dax, t, index, seq), Task(t).Ref);
        return Task(t).ExpectMsg<PteValue>(v => v.Seq == seq && v.Index == index);
    }

    private void ReplyRefcount(int page, int refcount, int mapcount = 0)
    {
        var query = PageProbe(page).ExpectMsg<QueryRefcount>();
        PageProbe(page).Reply(new RefcountReport(new PageId(page), refcount, mapcount, query.Seq));
    }

    private void IgnorePteReferences(params int[] pages)
    {
        foreach (var p in pages)
        {
            PageProbe(p).IgnoreMessages(m => m is MapPage or UnmapPage);
        }
    }

    [Fact]
    public void Threads_of_one_process_must_share_their_PTEs_and_a_munmap_by_one_must_unmap_for_both()
    {
        var mapping = Mapping();
        Map(mapping, A);
        Fault(mapping, A, 1, 6);

        var seen = ReadPte(mapping, B, 1);
        Assert.Equal(new PageId(6), seen.Page);
        Assert.True(seen.Mapped);

        mapping.Tell(new UnmapFile(Dax, B, 50), Task(B).Ref);
        Task(B).ExpectMsg<UnmapFileAck>(a => a.Mapped && a.Seq == 50);
        Assert.Contains(new PteZapped(Dax, 1, P, new PageId(6)), _sink.Events);

        mapping.Tell(new Fault(Dax, A, 1, 51), Task(A).Ref);
        Task(A).ExpectMsg<FaultFailed>(f => f.Error == Errno.EFAULT && f.Seq == 51);
        var gone = ReadPte(mapping, A, 1);
        Assert.Null(gone.Page);
        Assert.False(gone.Mapped);
        InodeProbe.ExpectNothing();
    }

    [Fact]
    public void The_mapping_must_go_with_the_last_thread_of_the_process_not_the_first()
    {
        var mapping = Mapping();
        Map(mapping, A);
        Fault(mapping, A, 1, 6);
        Fault(mapping, A, 2, 7);

        mapping.Tell(new ThreadExit(Dax, A));
        Assert.Equal(new PageId(6), ReadPte(mapping, B, 1).Page);
        Assert.Equal(new PageId(7), ReadPte(mapping, B, 2).Page);
        Assert.Empty(_sink.Of<PteZapped>());

        mapping.Tell(new ThreadExit(Dax, B));
        Assert.Equal(
            [new PteZapped(Dax, 1, P, new PageId(6)), new PteZapped(Dax, 2, P, new PageId(7))],
            _sink.Of<PteZapped>());
    }

    [Fact]
    public void The_busy_scan_must_wait_for_a_locked_entry_and_then_test_it()
    {
        var mapping = Mapping();
        Map(mapping, A);
        Fault(mapping, A, 1, 6);
        Fault(mapping, A, 2, 7);
        mapping.Tell(new LockDirtyEntry(Dax, B, 0, 60), Task(B).Ref);
        Task(B).ExpectMsg<EntryLocked>(l => l.Index == 1 && l.Seq == 60);

        mapping.Tell(new FindBusyPage(Dax, C, 0, int.MaxValue, 61), Task(C).Ref);
        PageProbe(6).ExpectNothing();
        PageProbe(7).ExpectNothing();
        Assert.Contains(new EntryLockWaited(Dax, 1, C, Skipped: false), _sink.Events);

        mapping.Tell(new UnlockEntry(Dax, B, 1));
        ReplyRefcount(6, 1);
        ReplyRefcount(7, 1);
        Task(C).ExpectMsg<NoBusyPage>(n => n.Seq == 61);
    }

    [Fact]
    public void The_busy_scan_skips_locked_entry_slip_must_never_test_the_entry_it_waited_for()
    {
        var mapping = Mapping(Variant.BusyScanSkipsLockedEntry);
        IgnorePteReferences(6, 7);
        Map(mapping, A);
        Fault(mapping, A, 1, 6);
        Fault(mapping, A, 2, 7);
        mapping.Tell(new LockDirtyEntry(Dax, B, 0, 60), Task(B).Ref);
        Task(B).ExpectMsg<EntryLocked>(l => l.Index == 1);

        mapping.Tell(new FindBusyPage(Dax, C, 0, int.MaxValue, 61), Task(C).Ref);
        PageProbe(6).ExpectNothing();
        mapping.Tell(new UnlockEntry(Dax, B, 1));
        ReplyRefcount(7, 0);
        Task(C).ExpectMsg<NoBusyPage>(n => n.Seq == 61);
        PageProbe(6).ExpectNothing();
        Assert.Contains(new EntryLockWaited(Dax, 1, C, Skipped: true), _sink.Events);
    }

    [Fact]
    public void From_6_15_a_PTE_must_hold_a_page_reference_and_the_scan_must_drop_it_before_reading_the_refcount()
    {
        var mapping = Mapping(Variant.Linux615);
        Map(mapping, A);
        Fault(mapping, A, 1, 6);
        PageProbe(6).ExpectMsg<MapPage>(m => m.File == Dax && m.Index == 1 && m.Page == new PageId(6));

        mapping.Tell(new FindBusyPage(Dax, C, 0, int.MaxValue, 70), Task(C).Ref);
        PageProbe(6).ExpectMsg<UnmapPage>(m => m.Page == new PageId(6));
        ReplyRefcount(6, 0);
        Task(C).ExpectMsg<NoBusyPage>();
    }

    [Fact]
    public void Before_6_15_a_PTE_must_hold_no_page_reference()
    {
        var mapping = Mapping();
        Map(mapping, A);
        Fault(mapping, A, 1, 6);
        mapping.Tell(new FindBusyPage(Dax, C, 0, int.MaxValue, 70), Task(C).Ref);
        ReplyRefcount(6, 1); // the first message page 6 gets: no MapPage, no UnmapPage before it
        Task(C).ExpectMsg<NoBusyPage>();
        Assert.Contains(new PteZapped(Dax, 1, P, new PageId(6)), _sink.Events);
        PageProbe(6).ExpectNothing();
    }

    [Theory]
    [InlineData("busy-scan-skips-unmapped")]
    [InlineData("linux-4.18")]
    public void A_scan_that_skips_unmapped_files_must_find_no_busy_page_once_nobody_maps_the_file(string variant)
    {
        var mapping = Mapping(Variants.Parse(variant));
        IgnorePteReferences(6);
        Map(mapping, A);
        Fault(mapping, A, 1, 6);
        mapping.Tell(new UnmapFile(Dax, A, 80), Task(A).Ref);
        Task(A).ExpectMsg<UnmapFileAck>();

        mapping.Tell(new FindBusyPage(Dax, C, 0, int.MaxValue, 81), Task(C).Ref);
        Task(C).ExpectMsg<NoBusyPage>(n => n.Seq == 81);
        PageProbe(6).ExpectNothing(); // the pinned page is never looked at
    }

    [Fact]
    public void Mainline_must_scan_the_entries_of_a_file_nobody_maps()
    {
        var mapping = Mapping();
        Map(mapping, A);
        Fault(mapping, A, 1, 6);
        mapping.Tell(new UnmapFile(Dax, A, 80), Task(A).Ref);
        Task(A).ExpectMsg<UnmapFileAck>();

        mapping.Tell(new FindBusyPage(Dax, C, 0, int.MaxValue, 81), Task(C).Ref);
        ReplyRefcount(6, 2);
        Task(C).ExpectMsg<BusyPageFound>(b => b.Page == new PageId(6) && b.Index == 1 && b.Seq == 81);
    }

    [Fact]
    public void DeleteEntries_must_delete_every_entry_in_its_range_and_no_other()
    {
        var mapping = Mapping();
        Map(mapping, A);
        Fault(mapping, A, 0, 5);
        Fault(mapping, A, 1, 6);
        Fault(mapping, A, 3, 8);

        mapping.Tell(new DeleteEntries(Dax, C, 0, 1, 90), Task(C).Ref);
        Task(C).ExpectMsg<EntriesDeleted>(d => d.Seq == 90);
        Assert.Equal([new EntryDeleted(Dax, 0, new PageId(5)), new EntryDeleted(Dax, 1, new PageId(6))],
            _sink.Of<EntryDeleted>());

        mapping.Tell(new DeleteEntries(Dax, C, 2, int.MaxValue, 91), Task(C).Ref);
        Task(C).ExpectMsg<EntriesDeleted>(d => d.Seq == 91);
        Assert.Contains(new EntryDeleted(Dax, 3, new PageId(8)), _sink.Events);
        Assert.Equal(3, _sink.Of<EntryDeleted>().Count());
        Assert.Empty(_sink.Of<EntryLeftByBreak>());

        // No entry is left: a scan queries no page.
        mapping.Tell(new FindBusyPage(Dax, C, 0, int.MaxValue, 92), Task(C).Ref);
        Task(C).ExpectMsg<NoBusyPage>();
        PageProbe(5).ExpectNothing();
    }

    [Fact]
    public void From_6_15_an_invalidate_that_finds_an_entry_the_break_should_have_deleted_must_report_it()
    {
        var mapping = Mapping(Variant.Linux615);
        IgnorePteReferences(6, 7);
        Map(mapping, A);
        Fault(mapping, A, 1, 6);
        mapping.Tell(new DeleteEntries(Dax, C, 0, int.MaxValue, 95), Task(C).Ref);
        Task(C).ExpectMsg<EntriesDeleted>();
        mapping.Tell(new Invalidate(Dax, 0, int.MaxValue, DeleteEntries: true, 96), TestActor);
        ExpectMsg<InvalidateAck>(a => a.Seq == 96);
        Assert.Empty(_sink.Of<EntryLeftByBreak>());

        Fault(mapping, A, 2, 7);
        mapping.Tell(new Invalidate(Dax, 0, int.MaxValue, DeleteEntries: true, 97), TestActor);
        ExpectMsg<InvalidateAck>(a => a.Seq == 97);
        Assert.Equal([new EntryLeftByBreak(Dax, 2, new PageId(7))], _sink.Of<EntryLeftByBreak>());
        Assert.Contains(new EntryDeleted(Dax, 2, new PageId(7)), _sink.Events);
    }

    [Fact]
    public void Before_6_15_an_invalidate_that_deletes_an_entry_must_not_report_it_as_left_by_the_break()
    {
        var mapping = Mapping();
        Map(mapping, A);
        Fault(mapping, A, 2, 7);
        mapping.Tell(new Invalidate(Dax, 0, int.MaxValue, DeleteEntries: true, 97), TestActor);
        ExpectMsg<InvalidateAck>();
        Assert.Contains(new EntryDeleted(Dax, 2, new PageId(7)), _sink.Events);
        Assert.Empty(_sink.Of<EntryLeftByBreak>());
    }

    [Fact]
    public void A_followed_PTE_must_hold_the_page_table_lock_so_a_munmap_of_the_process_waits_for_FollowDone()
    {
        var mapping = Mapping();
        Map(mapping, A);
        Fault(mapping, A, 1, 6);
        mapping.Tell(new FollowPte(Dax, A, 1, 100), Task(A).Ref);
        Task(A).ExpectMsg<PteValue>(v => v.Page == new PageId(6) && v.Seq == 100);

        mapping.Tell(new UnmapFile(Dax, B, 101), Task(B).Ref);
        Task(B).ExpectNothing();
        Assert.Empty(_sink.Of<PteZapped>());

        mapping.Tell(new FollowDone(Dax, A));
        Task(B).ExpectMsg<UnmapFileAck>(a => a.Mapped && a.Seq == 101);
        Assert.Contains(new PteZapped(Dax, 1, P, new PageId(6)), _sink.Events);
    }

    [Fact]
    public void A_follow_that_finds_no_PTE_must_not_hold_the_page_table_lock()
    {
        var mapping = Mapping();
        Map(mapping, A);
        Fault(mapping, A, 1, 6);
        mapping.Tell(new FollowPte(Dax, A, 2, 100), Task(A).Ref);
        Task(A).ExpectMsg<PteValue>(v => v.Page == null && v.Mapped);
        mapping.Tell(new UnmapFile(Dax, B, 101), Task(B).Ref);
        Task(B).ExpectMsg<UnmapFileAck>(a => a.Mapped && a.Seq == 101);
    }

    // The mapping runs one dax_layout_busy_page_range at a time; a scan asked for meanwhile is
    // queued and must start when the one before it ends, whether that one found a busy page or
    // none: otherwise the truncate behind it waits for ever.
    [Fact]
    public void Busy_scans_queued_on_one_mapping_must_each_run_when_the_one_before_ends_busy_or_not()
    {
        var mapping = MappedByA(null, (1, 6));
        mapping.Tell(new FindBusyPage(Dax, A, 0, int.MaxValue, 110), Task(A).Ref);
        mapping.Tell(new FindBusyPage(Dax, B, 0, int.MaxValue, 111), Task(B).Ref);
        mapping.Tell(new FindBusyPage(Dax, C, 0, int.MaxValue, 112), Task(C).Ref);

        ReplyRefcount(6, 2);
        Task(A).ExpectMsg<BusyPageFound>(b => b.Page == new PageId(6) && b.Seq == 110);
        ReplyRefcount(6, 1);
        Task(B).ExpectMsg<NoBusyPage>(n => n.Seq == 111);
        ReplyRefcount(6, 1);
        Task(C).ExpectMsg<NoBusyPage>(n => n.Seq == 112);
        Assert.Equal(
            [new BusyScanDone(Dax, A, new PageId(6), 2, true), new BusyScanDone(Dax, B, null, 0, true),
             new BusyScanDone(Dax, C, null, 0, true)],
            _sink.Of<BusyScanDone>());
    }

    // Up to 6.14 a scan of a file nobody maps returns at once (!mapping_mapped): a queued scan
    // that does so must still start the one queued behind it.
    [Fact]
    public void A_queued_scan_that_skips_an_unmapped_file_must_start_the_scan_queued_behind_it()
    {
        IgnorePteReferences(6);
        var mapping = MappedByA(Variant.BusyScanSkipsUnmapped, (1, 6));
        mapping.Tell(new FindBusyPage(Dax, C, 0, int.MaxValue, 115), Task(C).Ref);
        mapping.Tell(new FindBusyPage(Dax, A, 0, int.MaxValue, 116), Task(A).Ref);
        mapping.Tell(new FindBusyPage(Dax, B, 0, int.MaxValue, 117), Task(B).Ref);
        mapping.Tell(new UnmapFile(Dax, A, 118), Task(A).Ref);
        Task(A).ExpectMsg<UnmapFileAck>(a => a.Seq == 118);

        ReplyRefcount(6, 0); // idle: the variant is on the 6.15 base
        Task(C).ExpectMsg<NoBusyPage>(n => n.Seq == 115);
        Task(A).ExpectMsg<NoBusyPage>(n => n.Seq == 116);
        Task(B).ExpectMsg<NoBusyPage>(n => n.Seq == 117);
        Assert.Equal(
            [new BusyScanDone(Dax, C, null, 0, true), new BusyScanDone(Dax, A, null, 0, false),
             new BusyScanDone(Dax, B, null, 0, false)],
            _sink.Of<BusyScanDone>());
    }

    // dax_writeback_mapping_range: each dax_writeback_one locks the first entry tagged dirty at
    // or after the index it is given, past clean ones, and the write clears the tag (here at the
    // UnlockEntry); once no dirty entry is left there is nothing to write.
    [Fact]
    public void Writeback_must_lock_the_first_dirty_entry_from_its_index_and_leave_it_clean()
    {
        var mapping = MappedByA(null, (1, 6), (2, 7), (3, 8));

        void WriteBack(int from, int expected)
        {
            var seq = ++_seq;
            mapping.Tell(new LockDirtyEntry(Dax, B, from, seq), Task(B).Ref);
            Task(B).ExpectMsg<EntryLocked>(l => l.Index == expected && l.Seq == seq);
            mapping.Tell(new UnlockEntry(Dax, B, expected));
        }

        WriteBack(from: 2, expected: 2); // from an entry's own index, past a dirty one before it
        WriteBack(from: 0, expected: 1);
        WriteBack(from: 0, expected: 3); // past the two just cleaned
        mapping.Tell(new LockDirtyEntry(Dax, B, 0, 130), Task(B).Ref);
        Task(B).ExpectMsg<NoDirtyEntry>(n => n.Seq == 130);
        Assert.Equal(
            [.. new[] { 2, 1, 3 }.SelectMany(i => new[]
                { new EntryWriteback(Dax, i, B, Locked: true), new EntryWriteback(Dax, i, B, Locked: false) })],
            _sink.Of<EntryWriteback>());
    }

    // dax_iomap_fault: grab_mapping_entry locks the entry before iomap_begin looks the block up,
    // and dax_unlock_entry unlocks it once the entry and the PTE are in. A second fault on the
    // index waits for it and then finds the entry (no second lookup); an UnlockEntry from a task
    // that does not hold the lock (a writeback's, by a thread of the faulting process) changes
    // nothing.
    [Fact]
    public void A_fault_must_hold_the_entry_lock_through_the_block_lookup_against_a_second_fault_and_a_strangers_unlock()
    {
        var mapping = Mapping();
        Map(mapping, A);
        Map(mapping, C);
        mapping.Tell(new Fault(Dax, B, 1, 120), Task(B).Ref);
        var lookup = InodeProbe.ExpectMsg<MapBlock>(m => m.Index == 1);
        mapping.Tell(new Fault(Dax, C, 1, 121), Task(C).Ref);
        mapping.Tell(new UnlockEntry(Dax, A, 1));
        InodeProbe.ExpectNothing();
        Task(C).ExpectNothing();

        mapping.Tell(new BlockMapped(Dax, 1, new PageId(6), lookup.Seq), InodeProbe.Ref);
        Task(B).ExpectMsg<FaultAck>(a => a.Page == new PageId(6) && a.Seq == 120);
        Task(C).ExpectMsg<FaultAck>(a => a.Page == new PageId(6) && a.Seq == 121);
        InodeProbe.ExpectNothing();
        Assert.Equal([new EntryInserted(Dax, 1, new PageId(6))], _sink.Of<EntryInserted>());
        Assert.Empty(_sink.Of<EntryWriteback>());
    }

    // dax_unlock_entry wakes the waiters in order (WAKE_NEXT); when one of them locks the entry
    // again, the rest wait for that new lock and must run once, when it is unlocked. The lock
    // they were handed on from goes back for reuse empty: a fault or a writeback that locks an
    // entry with it later must not run them a second time.
    [Fact]
    public void An_entry_lock_freed_for_reuse_must_not_keep_the_waiters_it_handed_on_to_the_next_lock()
    {
        var mapping = MappedByA(null, (1, 6));
        Map(mapping, C);
        mapping.Tell(new LockDirtyEntry(Dax, B, 0, 140), Task(B).Ref);
        Task(B).ExpectMsg<EntryLocked>(l => l.Index == 1 && l.Seq == 140);
        mapping.Tell(new Fault(Dax, C, 1, 141), Task(C).Ref);          // redirties the entry
        mapping.Tell(new LockDirtyEntry(Dax, A, 1, 142), Task(A).Ref); // then locks it again
        mapping.Tell(new Fault(Dax, B, 1, 143), Task(B).Ref);          // and waits for that lock
        Task(C).ExpectNothing();
        Task(A).ExpectNothing();

        mapping.Tell(new UnlockEntry(Dax, B, 1));
        Task(C).ExpectMsg<FaultAck>(a => a.Page == new PageId(6) && a.Seq == 141);
        Task(A).ExpectMsg<EntryLocked>(l => l.Index == 1 && l.Seq == 142);
        Task(B).ExpectNothing();
        mapping.Tell(new UnlockEntry(Dax, A, 1));
        Task(B).ExpectMsg<FaultAck>(a => a.Page == new PageId(6) && a.Seq == 143);
        // The second writeback found the entry dirty and locked, and waited: traced as such.
        Assert.Contains(new EntryLockWaited(Dax, 1, A, Skipped: false), _sink.Of<EntryLockWaited>());

        // Two entry locks held at once: whichever order the freed locks are reused in, both are.
        mapping.Tell(new Fault(Dax, A, 0, 144), Task(A).Ref);
        var lookup0 = InodeProbe.ExpectMsg<MapBlock>(m => m.Index == 0);
        mapping.Tell(new Fault(Dax, A, 3, 145), Task(A).Ref);
        var lookup3 = InodeProbe.ExpectMsg<MapBlock>(m => m.Index == 3);
        mapping.Tell(new BlockMapped(Dax, 3, new PageId(8), lookup3.Seq), InodeProbe.Ref);
        mapping.Tell(new BlockMapped(Dax, 0, new PageId(5), lookup0.Seq), InodeProbe.Ref);
        Task(A).ExpectMsg<FaultAck>(a => a.Page == new PageId(8) && a.Seq == 145);
        Task(A).ExpectMsg<FaultAck>(a => a.Page == new PageId(5) && a.Seq == 144);
        Task(B).ExpectNothing();
        Task(C).ExpectNothing();
    }

    // The GUP fast path's lockless PTE read and its re-check are in the trace with what each
    // saw (the checker counts a page as confirmed at a re-check that found the PTE present).
    [Fact]
    public void The_fast_paths_PTE_read_and_recheck_must_each_be_traced_with_what_they_saw()
    {
        var mapping = MappedByA(null, (1, 6));
        Assert.Equal(new PageId(6), ReadPte(mapping, B, 1).Page);
        Assert.Null(ReadPte(mapping, C, 1).Page); // c's process does not map the file
        mapping.Tell(new RecheckPte(Dax, B, 1, new PageId(6), 150), Task(B).Ref);
        Task(B).ExpectMsg<PteStatus>(s => s.Present && s.Seq == 150);
        mapping.Tell(new RecheckPte(Dax, C, 1, new PageId(6), 151), Task(C).Ref);
        Task(C).ExpectMsg<PteStatus>(s => !s.Present && s.Seq == 151);

        Assert.Equal([new PteRead(Dax, 1, B, new PageId(6)), new PteRead(Dax, 1, C, null)], _sink.Of<PteRead>());
        Assert.Equal([new PteRechecked(Dax, 1, B, true), new PteRechecked(Dax, 1, C, false)],
            _sink.Of<PteRechecked>());
    }

    // The zaps that waited for the page-table lock run once, at the FollowDone that frees it. A
    // later slow path of the same process (after the file is mapped and faulted in again) takes
    // and frees the lock again: that must not run the finished munmap a second time, nor zap
    // the new PTE.
    [Fact]
    public void Zaps_woken_by_a_FollowDone_must_not_run_again_at_a_later_slow_paths_FollowDone()
    {
        var mapping = MappedByA(null, (1, 6));
        mapping.Tell(new FollowPte(Dax, A, 1, 160), Task(A).Ref);
        Task(A).ExpectMsg<PteValue>(v => v.Page == new PageId(6) && v.Seq == 160);
        mapping.Tell(new UnmapFile(Dax, B, 161), Task(B).Ref);
        Task(B).ExpectNothing();
        mapping.Tell(new FollowDone(Dax, A));
        Task(B).ExpectMsg<UnmapFileAck>(a => a.Mapped && a.Seq == 161);

        Map(mapping, B);
        mapping.Tell(new Fault(Dax, A, 1, 162), Task(A).Ref); // the entry is there: no lookup
        Task(A).ExpectMsg<FaultAck>(a => a.Page == new PageId(6) && a.Seq == 162);
        mapping.Tell(new FollowPte(Dax, A, 1, 163), Task(A).Ref);
        Task(A).ExpectMsg<PteValue>(v => v.Page == new PageId(6) && v.Seq == 163);
        mapping.Tell(new FollowDone(Dax, A));
        Task(B).ExpectNothing();
        Assert.Equal(new PageId(6), ReadPte(mapping, B, 1).Page);
        Assert.Equal([new PteZapped(Dax, 1, P, new PageId(6))], _sink.Of<PteZapped>());
    }

    // A delete walk waits for a locked entry (wait_entry_unlocked_exclusive). In 6.15 before
    // dd59137bfe70 the xas_pause slip then reloads the next index, so dax_delete_mapping_range
    // (the break's DeleteEntries, traced with its task) leaves the waited-for entry; the
    // Invalidate of truncate_inode_pages may not skip (and is traced with no task, -1): it
    // deletes the entry once it is unlocked.
    [Fact]
    public void A_delete_walk_must_wait_for_a_locked_entry_then_the_breaks_slip_leaves_it_and_an_invalidate_deletes_it()
    {
        IgnorePteReferences(6, 7);
        var mapping = MappedByA(Variant.BusyScanSkipsWaitedEntry, (1, 6), (2, 7));
        mapping.Tell(new LockDirtyEntry(Dax, B, 0, 170), Task(B).Ref);
        Task(B).ExpectMsg<EntryLocked>(l => l.Index == 1 && l.Seq == 170);
        mapping.Tell(new DeleteEntries(Dax, C, 0, int.MaxValue, 171), Task(C).Ref);
        Task(C).ExpectNothing();
        Assert.Empty(_sink.Of<EntryDeleted>());
        mapping.Tell(new UnlockEntry(Dax, B, 1));
        Task(C).ExpectMsg<EntriesDeleted>(d => d.Seq == 171);
        Assert.Equal([new EntryDeleted(Dax, 2, new PageId(7))], _sink.Of<EntryDeleted>());

        Map(mapping, C);
        mapping.Tell(new Fault(Dax, C, 1, 172), Task(C).Ref); // the entry stayed: dirtied, no lookup
        Task(C).ExpectMsg<FaultAck>(a => a.Page == new PageId(6) && a.Seq == 172);
        mapping.Tell(new LockDirtyEntry(Dax, B, 0, 173), Task(B).Ref);
        Task(B).ExpectMsg<EntryLocked>(l => l.Index == 1 && l.Seq == 173);
        mapping.Tell(new Invalidate(Dax, 0, int.MaxValue, DeleteEntries: true, 174), TestActor);
        this.ExpectNothing();
        mapping.Tell(new UnlockEntry(Dax, B, 1));
        ExpectMsg<InvalidateAck>(a => a.Seq == 174);
        Assert.Equal(
            [new EntryDeleted(Dax, 2, new PageId(7)), new EntryDeleted(Dax, 1, new PageId(6))],
            _sink.Of<EntryDeleted>());
        Assert.Equal(
            [new EntryLockWaited(Dax, 1, C, Skipped: true), new EntryLockWaited(Dax, 1, new TaskId(-1), Skipped: false)],
            _sink.Of<EntryLockWaited>());
    }
}
