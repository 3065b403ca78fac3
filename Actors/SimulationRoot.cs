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
// timed task faults, and starts the tasks in declaration order.
//
// Takes:  TaskFinished (tasks), and its own fault timers.
// Sends:  StartTask, Signal, Kill.
public sealed class SimulationRoot : ReceiveActor, IWithTimers
{
    private sealed record InjectFault(int Index);

    // Load runs: the duration is over.
    private sealed record StopLoadNow;

    private readonly SimEnvironment _env;
    private readonly LocalDirectory _directory;
    private int _running;

    public ITimerScheduler Timers { get; set; } = null!;

    public SimulationRoot(SimEnvironment env, LocalDirectory directory)
    {
        _env = env;
        _directory = directory;
        Receive<TaskFinished>(_ => _running--);
        Receive<InjectFault>(HandleInjectFault);
        Receive<StopLoadNow>(_ => HandleStopLoad());
    }

    public static Props Props(SimEnvironment env, LocalDirectory directory) =>
        ActorProps.Of(() => new SimulationRoot(env, directory));

    protected override void PreStart()
    {
        var scenario = _env.Scenario;
        var layout = InitialLayout.Of(scenario);
        layout.Emit(_env.Trace);

        var device = Spawn(DeviceActor.Props(_env, layout.FreeBlocks), "device");
        // Lazy pages: one region per 2^PageRegion.Shift pages, which creates page actors on
        // first use; otherwise one actor per page, from the start.
        var pages = _env.LazyPages ? [] : new IActorRef[scenario.Device.Blocks];
        for (var p = 0; p < pages.Length; p++)
        {
            var page = new PageId(p);
            pages[p] = Spawn(PageActor.Props(_env, page, layout.OwnerOf(page)), $"page-{p}");
        }
        if (_env.LazyPages)
        {
            var count = (scenario.Device.Blocks + PageRegion.Size - 1) / PageRegion.Size;
            var budget = _env.IdlePageActors / count;
            var regions = new IActorRef[count];
            for (var r = 0; r < count; r++)
            {
                var first = r * PageRegion.Size;
                var owners = new FileId?[Math.Min(PageRegion.Size, scenario.Device.Blocks - first)];
                for (var i = 0; i < owners.Length; i++)
                {
                    owners[i] = layout.OwnerOf(new PageId(first + i));
                }
                regions[r] = Spawn(PageRegion.Props(_env, first, owners, budget), $"pages-{r}");
            }
            _directory.FillRegions(regions);
        }
        var inodes = new IActorRef[scenario.Files.Count];
        var mappings = new IActorRef[scenario.Files.Count];
        foreach (var file in scenario.Files)
        {
            inodes[file.Id.Value] = Spawn(InodeActor.Props(_env, file.Id, layout.Extents[file.Id.Value]),
                $"inode-{file.Name}");
            mappings[file.Id.Value] = Spawn(MappingActor.Props(_env, file.Id), $"mapping-{file.Name}");
        }
        var tasks = new IActorRef[scenario.Tasks.Count];
        foreach (var task in scenario.Tasks)
        {
            tasks[task.Id.Value] = Spawn(TaskActor.Props(_env, task.Id), $"task-{task.Name}");
        }
        _directory.Fill(Self, device, inodes, mappings, pages, tasks);

        for (var i = 0; i < scenario.Faults.Count; i++)
        {
            TimeSpan? at = scenario.Faults[i] switch
            {
                SignalFault f => f.At,
                KillFault f => f.At,
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
        _env.Trace.Emit(new ActorFailed(e.ToString()));
        return Directive.Stop;
    });

    private IActorRef Spawn(Props props, string name) => Context.ActorOf(_env.Deploy(props), name);

    private void HandleStopLoad()
    {
        foreach (var task in _env.Scenario.Tasks)
        {
            _directory.Task(task.Id).Tell(new StopLoad(task.Id), Self);
        }
    }

    private void HandleInjectFault(InjectFault m)
    {
        switch (_env.Scenario.Faults[m.Index])
        {
            case SignalFault f:
                _env.Trace.Emit(new FaultInjected("signal", f.Task));
                _directory.Task(f.Task).Tell(new Signal(f.Task), Self);
                break;
            case KillFault f:
                _env.Trace.Emit(new FaultInjected("kill", f.Task));
                _directory.Task(f.Task).Tell(new Kill(f.Task), Self);
                break;
        }
    }
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
