using Akka.Actor;
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
/// The mapping actor against probes playing its tasks, inode and pages; it runs on the
/// spec's thread (<see cref="VirtualTime"/>), so "no page was queried" is checked at once.
/// </summary>
public sealed class MappingActorSpecs : TestKit
{
    private static readonly FileId Dax = Scenarios.Dax;
    private static readonly TaskId Dio = new(0), Truncator = new(1);
    private static readonly MmId DioMm = new(0);

    private readonly ProbeDirectory _dir;
    private readonly RecordingSink _sink = new();

    public MappingActorSpecs() : base(VirtualTime.Config)
    {
        _dir = new ProbeDirectory(this);
    }

    private IActorRef Mapping(Variant? variant = null)
    {
        var env = new SimEnvironment(
            Scenarios.Parse("""
                [ { "name": "a", "steps": [ { "op": "sleep", "for": "1ms" } ] },
                  { "name": "b", "steps": [ { "op": "sleep", "for": "1ms" } ] } ]
                """),
            ProtocolPolicy.For(variant ?? Variant.Mainline), _sink, _dir);
        var mapping = this.UnderTest<MappingActor>(MappingActor.Props(env, Dax));
        _dir.UnderTest = mapping;
        _dir.UnderTestName = "mapping-0";
        return mapping;
    }

    // The DIO task maps the file and faults page `index` in; the inode answers with `block`.
    private void FaultIn(IActorRef mapping, int index, int block)
    {
        var dio = _dir.Probe("task-0");
        mapping.Tell(new MapFile(Dax, Dio, new PageRange(0, 3), 1), dio.Ref);
        dio.ExpectMsg<MapFileAck>();
        mapping.Tell(new Fault(Dax, Dio, index, 2), dio.Ref);
        var inode = _dir.Probe("inode-0");
        var lookup = inode.ExpectMsg<MapBlock>(m => m.Index == index);
        inode.Reply(new BlockMapped(Dax, index, new PageId(block), lookup.Seq));
        dio.ExpectMsg<FaultAck>(a => a.Page == new PageId(block) && a.Seq == 2);
    }

    [Fact]
    public void The_busy_page_scan_must_unmap_every_PTE_before_it_reads_refcounts()
    {
        var mapping = Mapping();
        FaultIn(mapping, 1, 6);
        mapping.Tell(new FindBusyPage(Dax, Truncator, 0, int.MaxValue, 10), TestActor);

        var page = _dir.Probe("page-6");
        var query = page.ExpectMsg<QueryRefcount>();
        Assert.Contains(new PteZapped(Dax, 1, DioMm, new PageId(6)), _sink.Events);
        page.Reply(new RefcountReport(new PageId(6), 2, 0, query.Seq));
        ExpectMsg<BusyPageFound>(b => b.Page == new PageId(6) && b.Index == 1 && b.Seq == 10);

        mapping.Tell(new RecheckPte(Dax, Dio, 1, new PageId(6), 11), TestActor);
        ExpectMsg<PteStatus>(s => !s.Present);
    }

    [Fact]
    public void The_no_unmap_variant_must_scan_without_unmapping()
    {
        var mapping = Mapping(Variant.NoUnmap);
        FaultIn(mapping, 0, 5);
        mapping.Tell(new FindBusyPage(Dax, Truncator, 0, int.MaxValue, 10), TestActor);
        var page = _dir.Probe("page-5");
        var query = page.ExpectMsg<QueryRefcount>();
        page.Reply(new RefcountReport(new PageId(5), 1, 0, query.Seq));
        ExpectMsg<NoBusyPage>();
        Assert.DoesNotContain(_sink.Events, e => e is PteZapped);
        mapping.Tell(new RecheckPte(Dax, Dio, 0, new PageId(5), 11), TestActor);
        ExpectMsg<PteStatus>(s => s.Present);
    }

    [Fact]
    public void The_scan_must_answer_the_first_busy_page_in_index_order()
    {
        var mapping = Mapping();
        FaultIn(mapping, 0, 4);
        mapping.Tell(new Fault(Dax, Dio, 2, 3), _dir.Probe("task-0").Ref);
        var inode = _dir.Probe("inode-0");
        var lookup = inode.ExpectMsg<MapBlock>();
        inode.Reply(new BlockMapped(Dax, 2, new PageId(7), lookup.Seq));
        _dir.Probe("task-0").ExpectMsg<FaultAck>();

        mapping.Tell(new FindBusyPage(Dax, Truncator, 0, int.MaxValue, 20), TestActor);
        var q4 = _dir.Probe("page-4").ExpectMsg<QueryRefcount>();
        _dir.Probe("page-4").Reply(new RefcountReport(new PageId(4), 1, 0, q4.Seq));
        var q7 = _dir.Probe("page-7").ExpectMsg<QueryRefcount>();
        _dir.Probe("page-7").Reply(new RefcountReport(new PageId(7), 3, 0, q7.Seq));
        ExpectMsg<BusyPageFound>(b => b.Page == new PageId(7) && b.Refcount == 3);
    }

    // dax_layout_busy_page returns the first busy page it finds, in index order, and looks no
    // further: with two busy pages, the lower index is the answer and the other is never read.
    [Fact]
    public void The_scan_must_stop_at_the_first_of_several_busy_pages()
    {
        var mapping = Mapping();
        FaultIn(mapping, 0, 4);
        var dio = _dir.Probe("task-0");
        var inode = _dir.Probe("inode-0");
        foreach (var (index, block) in new[] { (1, 5), (2, 7) })
        {
            mapping.Tell(new Fault(Dax, Dio, index, 3 + index), dio.Ref);
            var lookup = inode.ExpectMsg<MapBlock>(m => m.Index == index);
            inode.Reply(new BlockMapped(Dax, index, new PageId(block), lookup.Seq));
            dio.ExpectMsg<FaultAck>(a => a.Page == new PageId(block));
        }

        mapping.Tell(new FindBusyPage(Dax, Truncator, 0, int.MaxValue, 20), TestActor);
        var q4 = _dir.Probe("page-4").ExpectMsg<QueryRefcount>();
        _dir.Probe("page-4").Reply(new RefcountReport(new PageId(4), 1, 0, q4.Seq));
        var q5 = _dir.Probe("page-5").ExpectMsg<QueryRefcount>();
        _dir.Probe("page-5").Reply(new RefcountReport(new PageId(5), 2, 0, q5.Seq));
        ExpectMsg<BusyPageFound>(b => b.Page == new PageId(5) && b.Index == 1 && b.Refcount == 2 && b.Seq == 20);
        _dir.Probe("page-7").ExpectNothing();
        this.ExpectNothing();
        Assert.Contains(new BusyScanDone(Dax, Truncator, new PageId(5), 2, true), _sink.Events);
    }

    [Fact]
    public void Invalidate_with_delete_must_remove_PTEs_and_DAX_entries_in_the_range()
    {
        var mapping = Mapping();
        FaultIn(mapping, 3, 9);
        mapping.Tell(new Invalidate(Dax, 2, int.MaxValue, DeleteEntries: true, 5), TestActor);
        ExpectMsg<InvalidateAck>(a => a.Seq == 5);
        Assert.Contains(new PteZapped(Dax, 3, DioMm, new PageId(9)), _sink.Events);
        Assert.Contains(new EntryDeleted(Dax, 3, new PageId(9)), _sink.Events);
    }

    [Fact]
    public void The_fast_path_must_read_the_PTE_the_fault_installed_and_nothing_after_an_unmap()
    {
        var mapping = Mapping();
        FaultIn(mapping, 2, 8);
        mapping.Tell(new ReadPte(Dax, Dio, 2, 30), TestActor);
        ExpectMsg<PteValue>(v => v.Page == new PageId(8) && v.Seq == 30);
        mapping.Tell(new Invalidate(Dax, 0, 3, DeleteEntries: false, 31), TestActor);
        ExpectMsg<InvalidateAck>();
        mapping.Tell(new ReadPte(Dax, Dio, 2, 32), TestActor);
        ExpectMsg<PteValue>(v => v.Page == null);
    }

    [Fact]
    public void A_fault_outside_the_tasks_mapping_must_fail_with_EFAULT()
    {
        var mapping = Mapping();
        mapping.Tell(new Fault(Dax, Dio, 0, 1), TestActor);
        ExpectMsg<FaultFailed>(f => f.Error == Errno.EFAULT);
    }
}
