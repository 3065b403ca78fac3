using System.Collections.Concurrent;
using System.Reflection;
using Akka.Actor;
using Akka.Event;
using DaxSim.Actors;
using DaxSim.Actors.Device;
using DaxSim.Actors.Inode;
using DaxSim.Actors.Mapping;
using DaxSim.Actors.Page;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;
using Lock = DaxSim.Protocol.Messages.Lock;

namespace DaxSim.Host.Cluster;

/// <summary>
/// The sharded entity of a run (plain delivery): it hosts one protocol actor (InodeActor,
/// MappingActor, PageActor or DeviceActor) as its child, built from the scenario's initial
/// layout exactly as SimulationRoot builds it, and forwards to it every message that is
/// meant for it (the original sender is kept, so replies go straight back).
///
/// It also stands in for process exit when a task's node leaves the cluster. It notes what
/// each task may hold here from the messages it forwards (pins and idle waits on a page,
/// lock requests and leases on an inode, the mmap of a mapping); on TaskGone it sends its
/// child what the dead task's exit would have sent (PutPage, CancelWait, Unlock,
/// ReturnLease, UnmapFile: the same messages TaskActor.Die sends) and from then on drops
/// every message from that task.
///
/// A message from the network that is not for this entity, or names ids the run does not
/// have, is refused with a logged error and changes nothing.
/// </summary>
public sealed class EntityHost : ReceiveActor
{
    private readonly SimEnvironment _env;
    private readonly RunEntities _entities;
    private readonly InitialLayout _layout;
    private readonly Endpoint _me;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private IActorRef _child = ActorRefs.Nobody;

    // What each task may hold here.
    private readonly Dictionary<TaskId, int> _pins = new();
    private readonly HashSet<TaskId> _waiting = [];
    private readonly HashSet<(TaskId Task, LockKind Kind)> _locks = [];
    private readonly HashSet<TaskId> _leases = [];
    private readonly HashSet<TaskId> _mapped = [];
    private readonly HashSet<TaskId> _gone = [];

    public EntityHost(SimEnvironment env, RunEntities entities, InitialLayout layout, Endpoint me)
    {
        _env = env;
        _entities = entities;
        _layout = layout;
        _me = me;
        Receive<Terminated>(t => t.ActorRef.Equals(_child), _ => Context.Stop(Self));
        ReceiveAny(Handle);
    }

    /// <summary>Props for the entity with this id, or a refusing stand-in when the run has no such entity.</summary>
    public static Props PropsFor(SimEnvironment env, RunEntities entities, InitialLayout layout, string entityId) =>
        entities.Parse(entityId) is { } me
            ? ActorProps.Of(() => new EntityHost(env, entities, layout, me))
            : ActorProps.Of(() => new Refuser(entityId));

    /// <summary>The protocol actor an entity hosts, built as SimulationRoot builds it.</summary>
    public static Props ChildProps(SimEnvironment env, InitialLayout layout, Endpoint me) => me.Kind switch
    {
        EndpointKind.Inode => InodeActor.Props(env, new FileId(me.Id), layout.Extents[me.Id]),
        EndpointKind.Mapping => MappingActor.Props(env, new FileId(me.Id)),
        EndpointKind.Page => PageActor.Props(env, new PageId(me.Id), layout.OwnerOf(new PageId(me.Id))),
        EndpointKind.Device => DeviceActor.Props(env, layout.FreeBlocks),
        _ => throw new ArgumentException($"{me} is not an entity"),
    };

    protected override void PreStart()
    {
        _child = Context.ActorOf(_env.Deploy(ChildProps(_env, _layout, _me)), _me.ToString());
        Context.Watch(_child);
    }

    // A protocol actor that throws has a bug: report it (the run ends with an internal error).
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(e =>
    {
        _env.Trace.Emit(new ActorFailed(e.ToString()));
        return Directive.Stop;
    });

    private void Handle(object message)
    {
        if (_env.Delivery.Reliable)
        {
            // SimActor de-duplicates, acknowledges, and gives back a gone task's holdings itself.
            if (_entities.RefuseReliable(_me, message) is { } refused)
            {
                _log.Error("{0} refused a message from {1}: {2}", _me, Sender, refused);
                return;
            }
            _child.Forward(message);
            return;
        }
        if (_entities.Refuse(_me, message) is { } why)
        {
            _log.Error("{0} refused a message from {1}: {2}", _me, Sender, why);
            return;
        }
        if (message is TaskGone gone)
        {
            ReleaseFor(gone.Task);
            return;
        }
        if (TaskOf(message) is { } task && _gone.Contains(task))
        {
            return;
        }
        Track(message);
        _child.Forward(message);
    }

    private void Track(object message)
    {
        switch (message)
        {
            case GetPage m:
                _pins[m.Task] = _pins.GetValueOrDefault(m.Task) + 1;
                break;
            case PutPage m when _pins.TryGetValue(m.Task, out var n):
                if (n <= 1)
                {
                    _pins.Remove(m.Task);
                }
                else
                {
                    _pins[m.Task] = n - 1;
                }
                break;
            case WaitIdle m:
                _waiting.Add(m.Task);
                break;
            case CancelWait m:
                _waiting.Remove(m.Task);
                break;
            case Lock m:
                _locks.Add((m.Task, m.Kind));
                break;
            case Unlock m:
                _locks.Remove((m.Task, m.Kind));
                break;
            case AcquireLease m:
                _leases.Add(m.Task);
                break;
            case ReturnLease m:
                _leases.Remove(m.Task);
                break;
            case MapFile m:
                _mapped.Add(m.Task);
                break;
            case UnmapFile m:
                _mapped.Remove(m.Task);
                break;
        }
    }

    // What the task's exit would have sent here (TaskActor.Die), in the same order.
    private void ReleaseFor(TaskId task)
    {
        if (!_gone.Add(task))
        {
            return;
        }
        var none = ActorRefs.NoSender;
        if (_waiting.Remove(task))
        {
            _child.Tell(new CancelWait(new PageId(_me.Id), task), none);
        }
        foreach (var kind in _locks.Where(l => l.Task == task).Select(l => l.Kind).ToList())
        {
            _locks.Remove((task, kind));
            _child.Tell(new Unlock(new FileId(_me.Id), task, kind), none);
        }
        if (_pins.Remove(task, out var pins))
        {
            for (var i = 0; i < pins; i++)
            {
                _child.Tell(new PutPage(new PageId(_me.Id), task), none);
            }
        }
        if (_leases.Remove(task))
        {
            _child.Tell(new ReturnLease(new FileId(_me.Id), task), none);
        }
        if (_mapped.Remove(task))
        {
            _child.Tell(new UnmapFile(new FileId(_me.Id), task, 0), none);
        }
    }

    private static readonly ConcurrentDictionary<Type, PropertyInfo?> TaskProperty = new();

    /// <summary>The task that sent a protocol message (its Task field), if it names one.</summary>
    public static TaskId? TaskOf(object message)
    {
        var p = TaskProperty.GetOrAdd(message.GetType(),
            t => t.GetProperty("Task", BindingFlags.Public | BindingFlags.Instance) is { PropertyType: var pt } q &&
                 pt == typeof(TaskId)
                ? q
                : null);
        return p?.GetValue(message) as TaskId?;
    }

    /// <summary>What the region gets for an id the run does not have (the extractor refuses those first).</summary>
    private sealed class Refuser : ReceiveActor
    {
        public Refuser(string id)
        {
            var log = Context.GetLogger();
            ReceiveAny(m => log.Error("the run has no entity '{0}': refused {1}", id, m));
        }
    }
}
