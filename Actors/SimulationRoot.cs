using Akka.Actor;
using DaxSim.Actors.Device;
using DaxSim.Actors.Inode;
using DaxSim.Actors.Mapping;
using DaxSim.Actors.Page;
using DaxSim.Actors.Task;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;
using Kill = DaxSim.Protocol.Messages.Kill;

namespace DaxSim.Actors;

// SimulationRoot is the parent of every actor of one run, so that a runtime can create
// and stop a whole run as one tree (the deterministic runtime needs every simulated actor
// created by an actor it schedules, never by the /user guardian on the thread pool).
//
// It lays the files out on the device (DAX files take blocks in declaration order),
// creates the device, page, inode, mapping and task actors, schedules the scenario's
// timed faults, and starts the tasks in declaration order.
//
// On a simulated cluster (SimEnvironment.Network is a SimulatedCluster) it also plays the
// cluster's part in node faults: a crash stops the node's tasks (lost, holding what they
// held) and its entities; RemovalDelay later the node is removed, its entities start
// again on surviving nodes from their journal, and every entity is told that the lost
// tasks are gone. A partition that is not healed within RemovalDelay is resolved as
// keep-majority would: the nodes outside the largest group are downed (crashed and removed).
//
// Takes:  TaskFinished (tasks), and its own fault timers.
// Sends:  StartTask, Signal, Kill; TaskGone (reliably, to every entity).
public sealed class SimulationRoot : SimActor
{
    private sealed record InjectFault(int Index);

    // Load runs: the duration is over.
    private sealed record StopLoadNow;

    private sealed record RemoveNode(int Node, string Reason);

    private sealed record ResolvePartition(int Generation);

    private readonly LocalDirectory _directory;
    private readonly SimulatedCluster? _cluster;
    private readonly HashSet<TaskId> _finished = [];
    private readonly Dictionary<TaskId, int> _lost = new();
    private readonly Dictionary<Endpoint, int> _incarnations = new();
    private InitialLayout _layout = null!;
    private int _running;
    private int _partitionGeneration;

    public SimulationRoot(SimEnvironment env, LocalDirectory directory) : base(env, Endpoint.Runner)
    {
        _directory = directory;
        _cluster = env.Network as SimulatedCluster;
    }

    protected override bool Handle(object message)
    {
        switch (message)
        {
            case TaskFinished m:
                _running--;
                _finished.Add(m.Task);
                return true;
            case InjectFault m:
                HandleInjectFault(m);
                return true;
            case StopLoadNow:
                HandleStopLoad();
                return true;
            case RemoveNode m:
                Remove(m.Node, m.Reason);
                return true;
            case ResolvePartition m:
                HandleResolvePartition(m);
                return true;
            default:
                return false;
        }
    }

    public static Props Props(SimEnvironment env, LocalDirectory directory) =>
        ActorProps.Of(() => new SimulationRoot(env, directory));

    private Scenario Scenario => Env.Scenario;

    protected override void PreStart()
    {
        base.PreStart();
        var scenario = Scenario;
        _layout = InitialLayout.Of(scenario);
        _layout.Emit(Env.Trace);

        var device = Spawn(EntityProps(Endpoint.Device), "device");
        // Lazy pages: one region per 2^PageRegion.Shift pages, which creates page actors on
        // first use; otherwise one actor per page, from the start.
        if (Env.LazyPages && (Env.Delivery.Reliable || Env.Delivery.Journaled))
        {
            throw new InvalidOperationException("lazy pages need plain delivery: a page region forwards protocol messages, not envelopes");
        }
        var pages = Env.LazyPages ? [] : new IActorRef[scenario.Device.Blocks];
        for (var p = 0; p < pages.Length; p++)
        {
            pages[p] = Spawn(EntityProps(Endpoint.Of(new PageId(p))), $"page-{p}");
        }
        if (Env.LazyPages)
        {
            var count = (scenario.Device.Blocks + PageRegion.Size - 1) / PageRegion.Size;
            var budget = Env.IdlePageActors / count;
            var regions = new IActorRef[count];
            for (var r = 0; r < count; r++)
            {
                var first = r * PageRegion.Size;
                var owners = new FileId?[Math.Min(PageRegion.Size, scenario.Device.Blocks - first)];
                for (var i = 0; i < owners.Length; i++)
                {
                    owners[i] = _layout.OwnerOf(new PageId(first + i));
                }
                regions[r] = Spawn(PageRegion.Props(Env, first, owners, budget), $"pages-{r}");
            }
            _directory.FillRegions(regions);
        }
        var inodes = new IActorRef[scenario.Files.Count];
        var mappings = new IActorRef[scenario.Files.Count];
        foreach (var file in scenario.Files)
        {
            inodes[file.Id.Value] = Spawn(EntityProps(Endpoint.InodeOf(file.Id)), $"inode-{file.Name}");
            mappings[file.Id.Value] = Spawn(EntityProps(Endpoint.MappingOf(file.Id)), $"mapping-{file.Name}");
        }
        var tasks = new IActorRef[scenario.Tasks.Count];
        foreach (var task in scenario.Tasks)
        {
            tasks[task.Id.Value] = Spawn(TaskActor.Props(Env, task.Id), $"task-{task.Name}");
        }
        _directory.Fill(Self, device, inodes, mappings, pages, tasks);

        for (var i = 0; i < scenario.Faults.Count; i++)
        {
            TimeSpan? at = scenario.Faults[i] switch
            {
                SignalFault f => f.At,
                KillFault f => f.At,
                EnomemFault f => f.At,
                CrashNodeFault f when _cluster is not null => f.At,
                PartitionFault f when _cluster is not null => f.At,
                HealFault f when _cluster is not null => f.At,
                _ => null,
            };
            if (at is { } due)
            {
                Timers.StartSingleTimer($"fault-{i}", new InjectFault(i), due);
            }
        }
        if (scenario.StopAt is { } stopAt)
        {
            Timers.StartSingleTimer("stop-load", new StopLoadNow(), stopAt);
        }
        _running = tasks.Length;
        foreach (var task in scenario.Tasks)
        {
            tasks[task.Id.Value].Tell(new StartTask(task.Id), Self);
        }
    }

    // A child that throws has a bug in the model: report it and stop the child, so the
    // runtime ends the run with an internal error instead of restarting into a wrong state.
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(e =>
    {
        Env.Trace.Emit(new ActorFailed(e.ToString()));
        return Directive.Stop;
    });

    private IActorRef Spawn(Props props, string name) => Context.ActorOf(Env.Deploy(props), name);

    /// <summary>An entity as it starts: from the initial layout (and, after a crash, its journal).</summary>
    private Props EntityProps(Endpoint entity) => Actors.EntityProps.For(Env, _layout, entity);

    private IEnumerable<Endpoint> Entities()
    {
        yield return Endpoint.Device;
        for (var p = 0; p < Scenario.Device.Blocks; p++)
        {
            yield return Endpoint.Of(new PageId(p));
        }
        foreach (var file in Scenario.Files)
        {
            yield return Endpoint.InodeOf(file.Id);
            yield return Endpoint.MappingOf(file.Id);
        }
    }

    private void HandleStopLoad()
    {
        foreach (var task in Scenario.Tasks)
        {
            _directory.Task(task.Id).Tell(new StopLoad(task.Id), Self);
        }
    }

    private void HandleInjectFault(InjectFault m)
    {
        switch (Scenario.Faults[m.Index])
        {
            case SignalFault f:
                Trace.Emit(new FaultInjected("signal", f.Task));
                _directory.Task(f.Task).Tell(new Signal(f.Task, f.Restart), Self);
                break;
            case KillFault f:
                // SIGKILL kills every thread of the process.
                foreach (var thread in Scenario.ProcessOf(f.Task).Threads)
                {
                    Trace.Emit(new FaultInjected("kill", thread));
                    _directory.Task(thread).Tell(new Kill(thread), Self);
                }
                break;
            case EnomemFault f:
                Trace.Emit(new FaultInjected("enomem", f.Task));
                _directory.Task(f.Task).Tell(new FailAllocation(f.Task), Self);
                break;
            case CrashNodeFault f when f.Node < _cluster!.Nodes && _cluster.IsUp(f.Node):
                Crash(f.Node);
                Timers.StartSingleTimer($"remove-{f.Node}", new RemoveNode(f.Node, "crashed"),
                    SimulatedCluster.RemovalDelay);
                break;
            case PartitionFault f:
                _cluster!.Partition(f.Between);
                Trace.Emit(new NetworkPartitioned(string.Join(" ",
                    f.Between.Select(g => "[" + string.Join(",", g) + "]"))));
                Timers.StartSingleTimer("partition", new ResolvePartition(++_partitionGeneration),
                    SimulatedCluster.RemovalDelay);
                break;
            case HealFault:
                _partitionGeneration++;
                _cluster!.Heal();
                Trace.Emit(new NetworkHealed(Downed: false));
                break;
        }
    }

    // The process dies: its tasks stop where they are, holding what they hold; its
    // entities stop too, their state safe in the journal.
    private void Crash(int node)
    {
        var cluster = _cluster!;
        var homed = Entities().Where(e => cluster.NodeOf(e) == node).ToList();
        cluster.Crash(node);
        Trace.Emit(new NodeCrashed(node));
        foreach (var task in Scenario.Tasks)
        {
            if (cluster.NodeOf(task.Id) == node && !_finished.Contains(task.Id))
            {
                Context.Stop(_directory.Task(task.Id));
                _lost[task.Id] = node;
                Trace.Emit(new TaskLost(task.Id, node));
            }
        }
        foreach (var entity in homed)
        {
            Context.Stop(Dir.Resolve(entity));
        }
    }

    // The cluster removes the node: its entities start again on surviving nodes (from the
    // journal), and every entity gives back what the node's lost tasks held.
    private void Remove(int node, string reason)
    {
        var cluster = _cluster!;
        var homed = Entities().Where(e => cluster.NodeOf(e) == node).ToList();
        cluster.Remove(node);
        Trace.Emit(new NodeRemoved(node, reason));
        foreach (var entity in homed)
        {
            var incarnation = _incarnations[entity] = _incarnations.GetValueOrDefault(entity) + 1;
            var name = Dir.Resolve(entity).Path.Name.Split('~')[0];
            _directory.Replace(entity, Spawn(EntityProps(entity), $"{name}~{incarnation}"));
        }
        foreach (var (task, _) in _lost.Where(l => l.Value == node).OrderBy(l => l.Key).ToList())
        {
            foreach (var entity in Entities())
            {
                Send(entity, new TaskGone(task));
            }
        }
    }

    private void HandleResolvePartition(ResolvePartition m)
    {
        if (m.Generation != _partitionGeneration)
        {
            return;
        }
        foreach (var node in _cluster!.Losers())
        {
            Crash(node);
            Remove(node, "downed");
        }
        _cluster.Heal();
        Trace.Emit(new NetworkHealed(Downed: true));
    }
}

/// <summary>The protocol actor of an entity as it starts, from the scenario's initial layout: the same in every runtime.</summary>
public static class EntityProps
{
    public static Props For(SimEnvironment env, InitialLayout layout, Endpoint entity) => entity.Kind switch
    {
        EndpointKind.Device => DeviceActor.Props(env, layout.FreeBlocks),
        EndpointKind.Page => PageActor.Props(env, new PageId(entity.Id), layout.OwnerOf(new PageId(entity.Id))),
        EndpointKind.Inode => InodeActor.Props(env, new FileId(entity.Id), layout.Extents[entity.Id]),
        EndpointKind.Mapping => MappingActor.Props(env, new FileId(entity.Id)),
        _ => throw new ArgumentException($"{entity} is not an entity", nameof(entity)),
    };
}

/// <summary>
/// Where the files start out on the device: each DAX file's pages take the next free
/// blocks, in declaration order; the rest are free. Plain files have no device blocks.
/// </summary>
public sealed class InitialLayout
{
    private readonly FileId?[] _owners;

    private InitialLayout(FileId?[] owners, IReadOnlyList<Dictionary<int, PageId>> extents, List<PageId> free)
    {
        _owners = owners;
        Extents = extents;
        FreeBlocks = free;
    }

    public IReadOnlyList<Dictionary<int, PageId>> Extents { get; }

    public IReadOnlyList<PageId> FreeBlocks { get; }

    public FileId? OwnerOf(PageId page) => _owners[page.Value];

    public static InitialLayout Of(Scenario scenario)
    {
        var owners = new FileId?[scenario.Device.Blocks];
        var extents = new List<Dictionary<int, PageId>>();
        var next = 0;
        foreach (var file in scenario.Files)
        {
            var map = new Dictionary<int, PageId>();
            if (file.Dax)
            {
                for (var index = 0; index < file.Pages; index++)
                {
                    var block = new PageId(next++);
                    map[index] = block;
                    owners[block.Value] = file.Id;
                }
            }
            extents.Add(map);
        }
        var free = Enumerable.Range(next, scenario.Device.Blocks - next).Select(b => new PageId(b)).ToList();
        return new InitialLayout(owners, extents, free);
    }

    /// <summary>Reports the initial layout as events, so that checkers start from the same state as the actors.</summary>
    public void Emit(ITraceSink trace)
    {
        for (var f = 0; f < Extents.Count; f++)
        {
            var file = new FileId(f);
            foreach (var (index, block) in Extents[f].OrderBy(e => e.Key))
            {
                trace.Emit(new BlockAllocated(block, file));
                trace.Emit(new ExtentMapped(file, index, block));
            }
        }
    }
}
