using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using DaxSim.Actors;
using DaxSim.Actors.Task;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Tests.Support;
using Lock = DaxSim.Protocol.Messages.Lock;

namespace DaxSim.Tests.Actors;

/// <summary>
/// One task actor under test, with probes playing its inodes, its mapping and its pages; the
/// steps of the protocol those probes answer, shared by the task actor's spec classes. Time
/// is virtual (<see cref="VirtualTime"/>): the task's sleeps and I/O end when the spec
/// advances the clock, and "the task sent nothing more" is checked at once.
/// </summary>
public abstract class TaskActorProbeSpecs : TestKit
{
    protected static readonly FileId Dax = Scenarios.Dax;
    protected static readonly FileId Src = Scenarios.Src;
    protected static readonly TaskId T = new(0);

    protected const string OneTruncate = """[ { "op": "truncate", "file": "dax", "size": 0 } ]""";

    private protected readonly ProbeDirectory _dir;
    private protected readonly RecordingSink _sink = new();

    protected TaskActorProbeSpecs() : base(VirtualTime.Config)
    {
        _dir = new ProbeDirectory(this);
    }

    protected TestProbe Inode(FileId f) => _dir.Probe($"inode-{f.Value}");
    protected TestProbe MappingProbe => _dir.Probe("mapping-0");
    protected TestProbe Page(int p) => _dir.Probe($"page-{p}");

    /// <summary>Starts task 0 with these steps (a JSON array) under the variant (mainline by default).</summary>
    protected IActorRef Start(string steps, Variant? variant = null)
    {
        var scenario = Scenarios.Parse($$"""[ { "name": "t", "steps": {{steps}} } ]""");
        var env = new SimEnvironment(scenario, ProtocolPolicy.For(variant ?? Variant.Mainline), _sink, _dir);
        var task = this.UnderTest<TaskActor>(TaskActor.Props(env, T));
        _dir.UnderTest = task;
        _dir.UnderTestName = "task-0";
        task.Tell(new StartTask(T));
        return task;
    }

    protected void Grant(FileId file, LockKind kind, LockMode mode)
    {
        var l = Inode(file).ExpectMsg<Lock>(m => m.Kind == kind && m.Mode == mode);
        Inode(file).Reply(new LockGranted(file, kind, mode, l.Seq));
    }

    protected void ExpectUnlock(FileId file, LockKind kind) => Inode(file).ExpectMsg<Unlock>(u => u.Kind == kind);

    // xfs_filemap_fault: MMAPLOCK shared around the DAX fault, which installs the PTE.
    protected void FaultIn(int index, int page)
    {
        Grant(Dax, LockKind.MmapLock, LockMode.Shared);
        var f = MappingProbe.ExpectMsg<Fault>(m => m.Index == index);
        MappingProbe.Reply(new FaultAck(Dax, index, new PageId(page), f.Seq));
    }

    // The GUP fast path's page-table walk (or a plain access): the mapping answers with the PTE's page, or none.
    protected void PteRead(int index, int? page, bool mapped = true)
    {
        var r = MappingProbe.ExpectMsg<ReadPte>(m => m.Index == index);
        MappingProbe.Reply(new PteValue(Dax, index, page is { } p ? new PageId(p) : null, mapped, r.Seq));
    }

    // The slow path's follow_page_mask under the page-table lock.
    protected void Follow(int index, int? page)
    {
        var f = MappingProbe.ExpectMsg<FollowPte>(m => m.Index == index);
        MappingProbe.Reply(new PteValue(Dax, index, page is { } p ? new PageId(p) : null, Mapped: true, f.Seq));
    }

    protected void AckGetPage(int page, int refcount = 2)
    {
        var g = Page(page).ExpectMsg<GetPage>();
        Page(page).Reply(new GetPageAck(new PageId(page), refcount, g.Seq));
    }

    // The slow path for a page without a PTE: follow finds none, fault it in (MMAPLOCK shared
    // around the fault only), follow again and take the reference under the page-table lock.
    protected void SlowPath(int index, int page)
    {
        Follow(index, null);
        FaultIn(index, page);
        ExpectUnlock(Dax, LockKind.MmapLock);
        Follow(index, page);
        AckGetPage(page);
        MappingProbe.ExpectMsg<FollowDone>();
    }

    // The busy page's answer to the wait: still busy, the task sleeps.
    protected WaitIdle Sleeps(int page)
    {
        var wait = Page(page).ExpectMsg<WaitIdle>();
        Page(page).Reply(new WaitIdleAck(new PageId(page), Idle: false, 2, wait.Seq));
        return wait;
    }

    // The busy page's answer to the wait: idle already, no sleep.
    protected void IdleAtOnce(int page)
    {
        var wait = Page(page).ExpectMsg<WaitIdle>();
        Page(page).Reply(new WaitIdleAck(new PageId(page), Idle: true, 1, wait.Seq));
    }
}
