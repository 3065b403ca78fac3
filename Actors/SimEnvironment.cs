using Akka.Actor;
using DaxSim.Actors.Page;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;
using DaxSim.Transport;

namespace DaxSim.Actors;

/// <summary>
/// What every actor of one simulated run shares, all of it read-only: the scenario, the
/// protocol variant's switches, where trace events go, how to reach the other entities,
/// and how the runtime wants child actors deployed (the deterministic runtime puts them
/// on its own dispatcher and mailbox), how messages are delivered, what the network lets
/// through, and the run's clock (virtual or elapsed time since the run started).
/// </summary>
public sealed class SimEnvironment(
    Scenario scenario,
    ProtocolPolicy policy,
    ITraceSink trace,
    IEntityDirectory directory,
    Func<Props, Props>? deploy = null)
{
    public DeliveryOptions Delivery { get; init; } = DeliveryOptions.Plain;

    /// <summary>The run's seed: what the scenario leaves to chance (a random sleep) is drawn from it, per task.</summary>
    public ulong Seed { get; init; }

    public INetwork Network { get; init; } = PerfectNetwork.Instance;

    /// <summary>Reliable messages not yet acknowledged: a run with some in flight has not settled.</summary>
    public InFlightCounter InFlight { get; } = new();

    /// <summary>
    /// Counts the envelopes and acks this process's actors take in, by whether their sender
    /// is in this process or another (the cluster runtime sets it, for the report's message
    /// figures; null elsewhere, where nothing is counted).
    /// </summary>
    public MessageCounter? Messages { get; init; }

    /// <summary>Where entities journal their inputs when their node may crash (null: they do not).</summary>
    public IEntityJournal? Journal { get; init; }

    /// <summary>Draws the incarnation of each reliable channel that is not journaled (null: <see cref="DaxSim.Transport.Incarnations.Fresh"/>; the deterministic runtime counts).</summary>
    public Func<long>? Incarnations { get; init; }

    /// <summary>Time since the run started (virtual on the deterministic runtime).</summary>
    public Func<TimeSpan> Elapsed { get; init; } = () => TimeSpan.Zero;

    public Scenario Scenario { get; } = scenario;

    public ProtocolPolicy Policy { get; } = policy;

    public ITraceSink Trace { get; } = trace;

    public IEntityDirectory Directory { get; } = directory;

    public Limits Limits => Scenario.Limits;

    private TransportSettings? _transport;

    /// <summary>What every actor's delivery is made from (built on first use, once the properties above are set).</summary>
    public TransportSettings Transport => _transport ??= new(Delivery, Network, InFlight, Messages, Journal, Elapsed, Directory.Resolve, Incarnations);

    public Props Deploy(Props props) => deploy is null ? props : deploy(props);

    /// <summary>
    /// Page actors are created on first use and stopped again when idle (load runs, which
    /// may have a million pages): see PageRegion. Off, every page has its actor from the start.
    /// </summary>
    public bool LazyPages { get; init; }

    /// <summary>With LazyPages: how many idle page actors may stay alive, over all regions, before the least recently used go.</summary>
    public int IdlePageActors { get; init; } = 65_536;
}

/// <summary>Resolves entity ids to actor references: local children, or shard regions in a cluster.</summary>
public interface IEntityDirectory
{
    IActorRef Inode(FileId file);

    IActorRef Mapping(FileId file);

    IActorRef Page(PageId page);

    IActorRef Task(TaskId task);

    IActorRef Device { get; }

    IActorRef Root { get; }

    /// <summary>The actor that is the entity now (for a sharded entity: the region that routes to it).</summary>
    IActorRef Resolve(Endpoint endpoint) => endpoint.Kind switch
    {
        EndpointKind.Task => Task(new TaskId(endpoint.Id)),
        EndpointKind.Inode => Inode(new FileId(endpoint.Id)),
        EndpointKind.Mapping => Mapping(new FileId(endpoint.Id)),
        EndpointKind.Page => Page(new PageId(endpoint.Id)),
        EndpointKind.Device => Device,
        _ => Root,
    };
}

/// <summary>
/// The directory of a run whose entities are all children of one SimulationRoot. The root
/// fills it while it creates them, before any protocol message is sent.
/// </summary>
public sealed class LocalDirectory : IEntityDirectory
{
    private IActorRef[] _inodes = [];
    private IActorRef[] _mappings = [];
    private IActorRef[] _pages = [];
    private IActorRef[] _tasks = [];
    // Lazy pages: a page is reached through the region that holds it (PageRegion), which
    // creates the page's actor when a message for it comes.
    private IActorRef[]? _regions;

    public IActorRef Device { get; private set; } = ActorRefs.Nobody;

    public IActorRef Root { get; private set; } = ActorRefs.Nobody;

    public IActorRef Inode(FileId file) => _inodes[file.Value];

    public IActorRef Mapping(FileId file) => _mappings[file.Value];

    public IActorRef Page(PageId page) =>
        _regions is { } regions ? regions[page.Value >> PageRegion.Shift] : _pages[page.Value];

    public IActorRef Task(TaskId task) => _tasks[task.Value];

    /// <summary>The entity was started again (its node crashed and was removed): messages go to its new actor.</summary>
    internal void Replace(Endpoint entity, IActorRef actor)
    {
        switch (entity.Kind)
        {
            case EndpointKind.Inode:
                _inodes[entity.Id] = actor;
                break;
            case EndpointKind.Mapping:
                _mappings[entity.Id] = actor;
                break;
            case EndpointKind.Page:
                _pages[entity.Id] = actor;
                break;
            case EndpointKind.Device:
                Device = actor;
                break;
            default:
                throw new ArgumentException($"{entity} is not an entity", nameof(entity));
        }
    }

    internal void Fill(IActorRef root, IActorRef device, IActorRef[] inodes, IActorRef[] mappings, IActorRef[] pages,
        IActorRef[] tasks)
    {
        Root = root;
        Device = device;
        _inodes = inodes;
        _mappings = mappings;
        _pages = pages;
        _tasks = tasks;
    }

    internal void FillRegions(IActorRef[] regions) => _regions = regions;
}
