using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Persistence;
using Akka.Remote;
using Akka.Remote.Transport;
using DaxSim.Actors;
using DaxSim.Actors.Task;
using DaxSim.Protocol;
using DaxSim.Protocol.Load;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;
using Kill = DaxSim.Protocol.Messages.Kill;
using AkkaCluster = Akka.Cluster.Cluster;
using Envelope = DaxSim.Protocol.Messages.Envelope;
using MemberStatus = Akka.Cluster.MemberStatus;
using DaxSim.Transport;

namespace DaxSim.Host.Cluster;

/// <summary>
/// A run's directory on a member: inodes, mappings, pages and the device are the run's
/// shard region (every message carries its entity's id, and the region routes on it);
/// tasks are the TaskActors on their nodes (the table the runner broadcasts); the root is
/// this member's NodeRun actor. Once the run's links are set (<see cref="SetLinks"/>), an
/// endpoint on another member resolves to this member's <see cref="NodeOutbox"/>, which batches
/// what goes there; <see cref="Direct"/> is the way without it (what the other member's
/// <see cref="NodeInbox"/> uses to hand items on).
///
/// Sharding places an entity; once it is placed here, messages for it skip the region:
/// the entity's host announces the actor that takes its messages (<see cref="Arrived"/>:
/// the protocol actor itself, or the journaling shell in front of it), and <see cref="Direct"/>
/// tells that actor straight away, one hop instead of region, shard and host. When the
/// entity stops (the run ends, its shard is handed off) the host takes it back
/// (<see cref="Left"/>) and messages go by the region again; one told in between goes to
/// dead letters, and the sender's reliable delivery sends it again by the new way.
/// </summary>
public sealed class ClusterDirectory : IEntityDirectory
{
    private volatile IActorRef _region = ActorRefs.Nobody;
    private volatile IActorRef[] _tasks = [];
    private volatile IActorRef[] _controls = [];
    private volatile IActorRef[] _inboxes = [];
    private volatile IActorRef? _outbox;
    private int _self = -1;
    private int[] _nodes = [];
    private int[] _placement = [];

    private readonly ConcurrentDictionary<Endpoint, IActorRef> _here = new();

    public IActorRef Inode(FileId file) => Entity(Endpoint.InodeOf(file));

    public IActorRef Mapping(FileId file) => Entity(Endpoint.MappingOf(file));

    public IActorRef Page(PageId page) => Entity(Endpoint.Of(page));

    public IActorRef Task(TaskId task) => task.Value < _tasks.Length ? _tasks[task.Value] : ActorRefs.Nobody;

    public IActorRef Device => Entity(Endpoint.Device);

    /// <summary>An entity of this member: the actor that takes its messages; else the region, which finds it.</summary>
    private IActorRef Entity(Endpoint entity) => _here.TryGetValue(entity, out var actor) ? actor : _region;

    /// <summary>The entity now lives on this member, and <paramref name="actor"/> takes its messages.</summary>
    internal void Arrived(Endpoint entity, IActorRef actor) => _here[entity] = actor;

    /// <summary>The entity's actor stopped: its messages go by the region again (unless another took its place).</summary>
    internal void Left(Endpoint entity, IActorRef actor) => _here.TryRemove(KeyValuePair.Create(entity, actor));

    /// <summary>The actor an entity of this member takes its messages by; null when it is not here (yet).</summary>
    public IActorRef? Here(Endpoint entity) => _here.TryGetValue(entity, out var actor) ? actor : null;

    public IActorRef Root { get; internal set; } = ActorRefs.Nobody;

    public IActorRef Region => _region;

    internal void SetRegion(IActorRef region) => _region = region;

    internal void SetTasks(IActorRef[] tasks, IActorRef[] controls)
    {
        _tasks = tasks;
        _controls = controls;
    }

    /// <summary>
    /// The run's layout, known when it is prepared: this member's node index, every member's
    /// index in order (shard k lives on the k mod N-th, NodeTableAllocation), and the node
    /// each task runs on.
    /// </summary>
    internal void SetLayout(int self, int[] nodes, int[] placement)
    {
        _self = self;
        _nodes = nodes.Order().ToArray();
        _placement = placement;
    }

    /// <summary>This member's outbox, and every member's inbox by node index (Nobody: none).</summary>
    internal void SetLinks(IActorRef outbox, IActorRef[] inboxes)
    {
        _inboxes = inboxes;
        _outbox = outbox;
    }

    /// <summary>A member is gone from the cluster: nothing is batched to it from now on.</summary>
    internal void Forget(int node)
    {
        var inboxes = (IActorRef[])_inboxes.Clone();
        if (node >= 0 && node < inboxes.Length)
        {
            inboxes[node] = ActorRefs.Nobody;
            _inboxes = inboxes;
        }
    }

    /// <summary>
    /// The member an endpoint lives on: a task's node, a control actor's, an entity's home
    /// (its shard's node in the table; after that member is gone the shard lives elsewhere,
    /// and only the region knows where). Null when unknown.
    /// </summary>
    public int? NodeOf(Endpoint endpoint)
    {
        switch (endpoint.Kind)
        {
            case EndpointKind.Task:
                return endpoint.Id >= 0 && endpoint.Id < _placement.Length ? _placement[endpoint.Id] : null;
            case EndpointKind.Control:
                return endpoint.Id;
            default:
                var nodes = _nodes;
                return endpoint.IsEntity && nodes.Length > 0 && endpoint.Id >= 0
                    ? nodes[RunEntities.ShardNumber(endpoint) % nodes.Length]
                    : null;
        }
    }

    /// <summary>A live member's inbox, or null.</summary>
    public IActorRef? InboxOf(int node)
    {
        var inboxes = _inboxes;
        return node >= 0 && node < inboxes.Length && !inboxes[node].IsNobody() ? inboxes[node] : null;
    }

    /// <summary>Entities and tasks as IEntityDirectory resolves them: through the outbox when they live on another member.</summary>
    public IActorRef Resolve(Endpoint endpoint) =>
        _outbox is { } outbox && NodeOf(endpoint) is { } node && node != _self && InboxOf(node) is not null
            ? outbox
            : Direct(endpoint);

    /// <summary>
    /// Without the outbox: the task's or control actor's ref; for an entity, its actor when
    /// it lives on this member, else the region.
    /// </summary>
    public IActorRef Direct(Endpoint endpoint) => endpoint.Kind switch
    {
        EndpointKind.Task => Task(new TaskId(endpoint.Id)),
        EndpointKind.Control => endpoint.Id >= 0 && endpoint.Id < _controls.Length ? _controls[endpoint.Id] : ActorRefs.Nobody,
        _ => Entity(endpoint),
    };
}

/// <summary>
/// A member's agent (/user/agent): answers who it is, keeps out members of another
/// protocol version, and runs the runs the runner prepares (one NodeRun child per run).
/// Anything else that arrives is refused with a logged error.
/// </summary>
public sealed class NodeAgent : ReceiveActor, IWithUnboundedStash
{
    private sealed record VersionChecked(Address Member, HelloReply? Reply, int Attempt);

    private sealed class JournalReady
    {
        public static readonly JournalReady Instance = new();
    }

    /// <summary>
    /// Writes and reads one event, so that the journal's first use (creating its tables,
    /// loading the SQL provider: seconds) is over before a run's entities need it.
    /// </summary>
    private sealed class JournalWarmup : ReceivePersistentActor
    {
        public JournalWarmup(string id, IActorRef agent)
        {
            PersistenceId = id;
            Recover<string>(_ => { });
            Recover<RecoveryCompleted>(_ => Persist("warm", _ =>
            {
                agent.Tell(JournalReady.Instance);
                Context.Stop(Self);
            }));
            CommandAny(_ => { });
        }

        public override string PersistenceId { get; }
    }

    private bool _journalReady;

    public IStash Stash { get; set; } = null!;

    private readonly NodeSettings _settings;
    private readonly AkkaCluster _cluster = AkkaCluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public NodeAgent(NodeSettings settings)
    {
        _settings = settings;
        Receive<Hello>(_ => Sender.Tell(new HelloReply(_settings.Index, _settings.ProtocolVersion,
            _cluster.SelfAddress.ToString(), _settings.Role, _settings.Journal is not null)));
        Receive<GetMembers>(_ =>
        {
            var up = _cluster.State.Members.Where(m => m.Status == MemberStatus.Up).ToList();
            Sender.Tell(new MembersReply(up.Select(m => m.Address.ToString()).ToArray(),
                up.Select(m => string.Join("+", m.Roles)).ToArray()));
        });
        Receive<ClusterEvent.MemberUp>(m => CheckVersion(m.Member.Address, 1));
        Receive<ClusterEvent.MemberJoined>(m => CheckVersion(m.Member.Address, 1));
        Receive<ClusterEvent.IClusterDomainEvent>(_ => { });
        Receive<VersionChecked>(HandleVersionChecked);
        Receive<CrashSelf>(_ =>
        {
            _log.Warning("crashNode: killing this member's process");
            Process.GetCurrentProcess().Kill();
        });
        Receive<JournalReady>(_ =>
        {
            _journalReady = true;
            Stash.UnstashAll();
        });
        Receive<Prepare>(m =>
        {
            if (!_journalReady)
            {
                Stash.Stash();
                return;
            }
            var name = "run-" + m.RunId;
            var child = Context.Child(name);
            if (child.IsNobody())
            {
                child = Context.ActorOf(Akka.Actor.Props.Create(() => new NodeRun(_settings)), name);
            }
            child.Forward(m);
        });
        Receive<StartFarm>(HandleStartFarm);
        Receive<EndFarm>(m =>
        {
            Context.Child("farm-" + m.FarmId).Tell(m);
            _farmProxy?.Tell(m);
        });
        Receive<IRunMessage>(m =>
        {
            var child = Context.Child("run-" + m.RunId);
            if (child.IsNobody())
            {
                _log.Error("refused {0} from {1}: no run '{2}' here", m.GetType().Name, Sender, m.RunId);
                Sender.Tell(new Status.Failure(new InvalidOperationException($"no run '{m.RunId}' on node {_settings.Index}")));
                return;
            }
            child.Forward(m);
        });
        ReceiveAny(m => _log.Error("refused a message from {0}: {1} is not part of the run protocol",
            Sender, Describe(m)));
    }

    public static Props Props(NodeSettings settings) => Akka.Actor.Props.Create(() => new NodeAgent(settings));

    private IActorRef? _farmProxy;

    /// <summary>
    /// A seed farm (docs/cluster.md, "A seed farm"): this member's worker, started once per
    /// farm, and the StartFarm on to the coordinator. A farm this member cannot run is refused
    /// with a logged error and a FarmFailed to the runner.
    /// </summary>
    private void HandleStartFarm(StartFarm m)
    {
        if (m.FarmId is null || !System.Text.RegularExpressions.Regex.IsMatch(m.FarmId, "^[A-Za-z0-9-]{1,64}$") ||
            m.Runner is null || _farmProxy is null)
        {
            _log.Error("refused a StartFarm from {0}: {1}", Sender, Describe(m));
            return;
        }
        _farmProxy.Tell(m, Self);
        var name = "farm-" + m.FarmId;
        if (!Context.Child(name).IsNobody())
        {
            return;
        }
        string? error = null;
        Scenario? scenario = null;
        if (!Variants.TryParse(m.Variant ?? "", out var variant))
        {
            error = $"bad variant '{m.Variant}'";
        }
        else if (m.Strategy is null || !Deterministic.Strategies.Names.Contains(m.Strategy) ||
                 (m.Strategy == Deterministic.Strategies.Systematic) != (m.Systematic is not null))
        {
            error = m.Strategy == Deterministic.Strategies.Systematic
                ? "a systematic farm needs its units (StartFarm.Systematic)"
                : $"a seed farm does not run strategy '{m.Strategy}'" + (m.Systematic is null ? "" : " with systematic units");
        }
        else if (m.Systematic?.Check(m) is { } wrong)
        {
            error = wrong;
        }
        else if (m.Workers is < 1 or > 256 || m.UnitSeeds < 1 || m.Seeds < 1)
        {
            error = $"bad farm: {m.Workers} worker(s), units of {m.UnitSeeds} seeds, {m.Seeds} seeds";
        }
        else
        {
            try
            {
                scenario = ScenarioLoader.Parse(m.ScenarioText ?? "", m.Source ?? "farm");
            }
            catch (ScenarioException e)
            {
                error = string.Join("; ", e.Errors);
            }
        }
        if (error is not null || scenario is null)
        {
            _log.Error("farm {0}: refused: {1}", m.FarmId, error);
            m.Runner.Tell(new FarmFailed(m.FarmId, _settings.Index, error ?? "no scenario"));
            return;
        }
        Context.ActorOf(FarmWorker.Props(m, _farmProxy, _settings.Index, scenario, variant), name);
    }

    protected override void PreStart()
    {
        // The seed farm's coordinator: a singleton among the members of role sim, reached through a proxy.
        if (_settings.Role == ClusterConfig.DefaultRole)
        {
            Context.ActorOf(FarmCoordinator.ManagerProps(Context.System), FarmCoordinator.ManagerName);
        }
        _farmProxy = Context.ActorOf(FarmCoordinator.ProxyProps(Context.System), "farm-proxy");
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberJoined));
        _journalReady = _settings.Journal is null;
        if (!_journalReady)
        {
            var id = $"daxsim-warmup-{_settings.Index}-{Guid.NewGuid():N}";
            Context.ActorOf(Akka.Actor.Props.Create(() => new JournalWarmup(id, Self)), "journal-warmup");
        }
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    // The configuration-compatibility check (Akka.NET has no JoinConfigCompatChecker): ask
    // every other member's agent for its protocol version; down a member that differs.
    private void CheckVersion(Address member, int attempt)
    {
        if (member == _cluster.SelfAddress)
        {
            return;
        }
        var self = Self;
        Context.ActorSelection(new RootActorPath(member) / "user" / "agent")
            .Ask<HelloReply>(new Hello(_settings.ProtocolVersion), TimeSpan.FromSeconds(2))
            .ContinueWith(t => new VersionChecked(member, t.IsCompletedSuccessfully ? t.Result : null, attempt))
            .PipeTo(self);
    }

    private void HandleVersionChecked(VersionChecked m)
    {
        if (m.Reply is null)
        {
            if (m.Attempt < 5 && _cluster.State.Members.Any(x => x.Address == m.Member))
            {
                CheckVersion(m.Member, m.Attempt + 1);
            }
            else if (_cluster.State.Members.Any(x => x.Address == m.Member))
            {
                _log.Error("member {0} has no DaxSim agent that answers: downing it", m.Member);
                _cluster.Down(m.Member);
            }
            return;
        }
        if (m.Reply.ProtocolVersion != _settings.ProtocolVersion)
        {
            _log.Error("member {0} speaks daxsim.protocol-version {1}, this cluster {2}: downing it",
                m.Member, m.Reply.ProtocolVersion, _settings.ProtocolVersion);
            _cluster.Down(m.Member);
        }
    }

    internal static string Describe(object? message)
    {
        var text = message?.ToString() ?? "null";
        return text.Length > 200 ? text[..200] + "..." : text;
    }
}

/// <summary>
/// One run on one member: parses the scenario, starts the run's shard region (entities
/// built from the scenario's initial layout, as SimulationRoot builds them), creates the
/// tasks placed on this node, sends this node's trace events to the runner, injects the
/// faults the runner asks for, and when a member leaves the cluster, tells every entity
/// that its tasks are gone (TaskGone) and the runner that they are lost.
/// </summary>
public sealed class NodeRun : ReceiveActor
{
    /// <summary>The least retransmission timeout between journaled entities (see where the run's delivery options are made).</summary>
    public static readonly TimeSpan JournaledRetryFloor = TimeSpan.FromMilliseconds(100);

    private readonly NodeSettings _settings;
    private readonly AkkaCluster _cluster = AkkaCluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ClusterDirectory _directory = new();
    private readonly Dictionary<int, IActorRef> _localTasks = new();
    private readonly HashSet<int> _gone = [];
    private Prepare? _run;
    private Scenario? _scenario;
    private RunEntities? _entities;
    private TraceForwarder? _sink;
    private IActorRef? _inbox;
    private IActorRef? _outbox;
    private Dictionary<Address, int> _indexOf = new();

    public NodeRun(NodeSettings settings)
    {
        _settings = settings;
        Receive<Prepare>(HandlePrepare);
        Receive<CountRegions>(HandleCountRegions);
        Receive<TaskTable>(HandleTaskTable);
        Receive<StartRun>(m =>
        {
            Volatile.Write(ref _zero, m.ZeroStamp);
            foreach (var (task, actor) in _localTasks.OrderBy(t => t.Key))
            {
                actor.Tell(new StartTask(new TaskId(task)), Self);
            }
            // A load ends at its duration: each task stops after the operation it is in (as SimulationRoot does it).
            if (_scenario?.StopAt is { } stopAt)
            {
                _stopLoad = Context.System.Scheduler.ScheduleTellOnceCancelable(stopAt, Self, StopLoadNow.Instance, Self);
            }
        });
        Receive<StopLoadNow>(_ =>
        {
            foreach (var (task, actor) in _localTasks)
            {
                actor.Tell(new StopLoad(new TaskId(task)), Self);
            }
        });
        Receive<InjectTaskFault>(HandleTaskFault);
        Receive<Blackhole>(m => Throttle(m.Addresses.Select(Address.Parse), Akka.Remote.Transport.Blackhole.Instance));
        Receive<Unblackhole>(_ => Throttle(_indexOf.Keys.Where(a => a != _cluster.SelfAddress), Unthrottled.Instance));
        Receive<EndRun>(HandleEndRun);
        Receive<TaskFinished>(_ => { });
        Receive<Ack>(HandleAck);
        Receive<RetryTick>(_ => HandleRetry());
        Receive<Envelope>(e => _log.Error("run {0}: a member's control actor takes no envelope ({1} from {2})", _run?.RunId, e.Payload.GetType().Name, e.From));
        Receive<ClusterEvent.UnreachableMember>(m => Report(m.Member.Address, "unreachable"));
        Receive<ClusterEvent.ReachableMember>(m => Report(m.Member.Address, "reachable"));
        Receive<ClusterEvent.MemberRemoved>(m => HandleRemoved(m.Member.Address));
        Receive<ClusterEvent.IClusterDomainEvent>(_ => { });
        Receive<ClusterEvent.CurrentClusterState>(_ => { });
        ReceiveAny(m => _log.Error("run {0} refused a message from {1}: {2}", _run?.RunId, Sender, NodeAgent.Describe(m)));
    }

    // A task that throws has a bug: report it (the run ends with an internal error).
    protected override SupervisorStrategy SupervisorStrategy() => EntityHost.StopAndReport(e => _sink?.Emit(e));

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        _retry?.Cancel();
        _stopLoad?.Cancel();
        _sink?.Dispose();
    }

    private int Node => _run?.Node ?? _settings.Index;

    private void HandlePrepare(Prepare m)
    {
        if (_run is not null)
        {
            Sender.Tell(new Prepared(m.RunId, _run.Node, LocalRefs(), Self, null, _inbox));
            return;
        }
        if (!Variants.TryParse(m.Variant, out var variant))
        {
            Sender.Tell(new Prepared(m.RunId, m.Node, [], null, $"bad variant '{m.Variant}'"));
            return;
        }
        Scenario scenario;
        try
        {
            // A load: the same scenario the runner built from the same spec, seed and variant.
            scenario = m.LoadSpec is { } spec
                ? LoadScenario.Build(LoadSpecLoader.Parse(spec, "the runner's load spec"), m.Seed, variant)
                : ScenarioLoader.Parse(m.ScenarioText, m.Source);
        }
        catch (ScenarioException e)
        {
            Sender.Tell(new Prepared(m.RunId, m.Node, [], null, string.Join("; ", e.Errors)));
            return;
        }
        if (m.Placement.Length != scenario.Tasks.Count)
        {
            Sender.Tell(new Prepared(m.RunId, m.Node, [], null, $"a task placement of {m.Placement.Length} for {scenario.Tasks.Count} task(s)"));
            return;
        }
        _run = m;
        _scenario = scenario;
        _entities = new RunEntities(scenario);
        _indexOf = m.Nodes.ToDictionary(n => Address.Parse(n.Address), n => n.Index);
        // The run's message figures: this member's actors count what they take in (ReliableDelivery),
        // and every trace batch carries the counts to the runner.
        var counter = new MessageCounter();
        _sink = new TraceForwarder(m.RunId, m.Node, m.Runner, counter);
        _directory.Root = Self;
        _directory.SetLayout(m.Node, m.Nodes.Select(n => n.Index).ToArray(), m.Placement);
        if (m.Batched)
        {
            _inbox = Context.ActorOf(NodeInbox.Props(_directory, _entities), "inbox");
            _outbox = Context.ActorOf(NodeOutbox.Props(_directory, counter), "outbox");
        }
        var env = new SimEnvironment(scenario, ProtocolPolicy.For(variant), _sink, _directory)
        {
            Delivery = new DeliveryOptions
            {
                Reliable = m.Reliable || m.Journaled,
                Journaled = m.Journaled,
                // Retransmit by round-trip time, not on every tick (ReliableChannel: under load an ack
                // takes longer than 20 ms, and retransmitting all in flight collapses the run).
                AdaptiveRetry = true,
                // A journaled entity acknowledges only after its journal write, and a commit can
                // stall for tens of milliseconds (another member's write, the plugin's batching):
                // a floor under the timeout keeps senders from retransmitting what is merely
                // waiting for the journal.
                RetryInterval = m.Journaled ? JournaledRetryFloor : new DeliveryOptions().RetryInterval,
                InitialRetryInterval = m.Journaled ? 2 * JournaledRetryFloor : new DeliveryOptions().InitialRetryInterval,
                CoalescedAcks = m.Batched,
                MessageFaults = scenario.Faults.OfType<MessageFault>().ToList(),
                Seed = m.Seed,
            },
            Elapsed = Elapsed,
            Messages = counter,
            Seed = m.Seed,
        };
        var layout = InitialLayout.Of(scenario);
        // Only one node reports the initial layout, before any task starts.
        if (m.Node == m.Nodes.Min(n => n.Index))
        {
            layout.Emit(_sink);
        }

        var nodes = m.Nodes.OrderBy(n => n.Index).Select(n => Address.Parse(n.Address)).ToList();
        var entities = _entities;
        var region = ClusterSharding.Get(Context.System).Start(
            typeName: "run-" + m.RunId,
            entityPropsFactory: id => m.Journaled
                ? PersistentShell.PropsFor(env, entities, layout, m.RunId, id)
                : EntityHost.PropsFor(env, entities, layout, id),
            settings: ClusterShardingSettings.Create(Context.System).WithRole(ClusterConfig.DefaultRole)
                .WithRememberEntities(false),
            messageExtractor: new EntityExtractor(entities, Logging.GetLogger(Context.System, "daxsim.sharding")),
            allocationStrategy: new NodeTableAllocation(nodes, _cluster.SelfAddress),
            handOffStopMessage: PoisonPill.Instance);
        _directory.SetRegion(region);

        for (var t = 0; t < m.Placement.Length; t++)
        {
            if (m.Placement[t] == m.Node)
            {
                _localTasks[t] = Context.ActorOf(TaskActor.Props(env, new TaskId(t)), $"task-{t}");
            }
        }
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
        Sender.Tell(new Prepared(m.RunId, m.Node, LocalRefs(), Self, null, _inbox));
    }

    // The run's clock, shared by every member: zero is the runner's StartRun stamp.
    private long _zero;

    private TimeSpan Elapsed() => Volatile.Read(ref _zero) is var zero and not 0
        ? TimeSpan.FromTicks((long)((Stopwatch.GetTimestamp() - zero) * (double)TimeSpan.TicksPerSecond / Stopwatch.Frequency))
        : TimeSpan.Zero;

    private TaskRef[] LocalRefs() => _localTasks.OrderBy(t => t.Key).Select(t => new TaskRef(t.Key, t.Value)).ToArray();

    private void HandleCountRegions(CountRegions m)
    {
        var replyTo = Sender;
        _directory.Region.Ask<CurrentRegions>(GetCurrentRegions.Instance, TimeSpan.FromSeconds(3))
            .ContinueWith(t => (object)new RegionCount(m.RunId, t.IsCompletedSuccessfully ? t.Result.Regions.Count : 0))
            .PipeTo(replyTo);
    }

    private void HandleTaskTable(TaskTable m)
    {
        if (_scenario is null || m.Tasks.Length != _scenario.Tasks.Count ||
            m.Tasks.Select(t => t.Task).Order().Where((t, i) => t != i).Any())
        {
            _log.Error("run {0}: refused a task table of {1} entries", m.RunId, m.Tasks.Length);
            return;
        }
        _directory.SetTasks(m.Tasks.OrderBy(t => t.Task).Select(t => t.Ref).ToArray(), m.Controls);
        if (_outbox is not null && m.Inboxes is { } inboxes && inboxes.Length == m.Controls.Length)
        {
            _directory.SetLinks(_outbox, inboxes.Select(i => i ?? ActorRefs.Nobody).ToArray());
        }
        Sender.Tell(new TableReady(m.RunId, Node));
    }

    private void HandleTaskFault(InjectTaskFault m)
    {
        if (!_localTasks.TryGetValue(m.Task, out var task))
        {
            _log.Error("run {0}: no task {1} on this node for a {2}", m.RunId, m.Task, m.Kind);
            return;
        }
        var id = new TaskId(m.Task);
        switch (m.Kind)
        {
            case "signal" or "signal-restart":
                _sink?.Emit(new FaultInjected("signal", id));
                task.Tell(new Signal(id, Restart: m.Kind == "signal-restart"), Self);
                break;
            case "enomem":
                _sink?.Emit(new FaultInjected("enomem", id));
                task.Tell(new FailAllocation(id), Self);
                break;
            case "kill":
                _sink?.Emit(new FaultInjected("kill", id));
                task.Tell(new Kill(id), Self);
                break;
            default:
                _log.Error("run {0}: unknown task fault '{1}'", m.RunId, m.Kind);
                break;
        }
    }

    private void Throttle(IEnumerable<Address> peers, ThrottleMode mode)
    {
        var transport = ((IRemoteActorRefProvider)((ExtendedActorSystem)Context.System).Provider).Transport;
        var commands = peers.Select(a => transport.ManagementCommand(
            new SetThrottle(a, ThrottleTransportAdapter.Direction.Both, mode))).Cast<Task>().ToArray();
        var replyTo = Sender;
        var done = new ThrottleDone(_run?.RunId ?? "", Node);
        Task.WhenAll(commands).ContinueWith(_ => (object)done).PipeTo(replyTo);
    }

    /// <summary>
    /// Only an Up member speaks for the cluster: a member that is being downed (the
    /// minority of a partition downs itself) sees every other member "removed" on its way
    /// out, and must not report that, or declare their tasks gone.
    /// </summary>
    private bool Speaks => _cluster.SelfMember.Status == MemberStatus.Up && !_cluster.IsTerminated;

    private void Report(Address member, string status)
    {
        if (_run is null || !_indexOf.TryGetValue(member, out var node) || !Speaks)
        {
            return;
        }
        _run.Runner.Tell(new MemberReport(_run.RunId, Node, node, status, Stopwatch.GetTimestamp()));
    }

    // A member left the cluster (crashed and downed, or downed after a partition). The
    // surviving member with the lowest index speaks for all: the tasks placed there are
    // lost (an event, in order with the others), every entity is told they are gone, and
    // the runner is told.
    private void HandleRemoved(Address member)
    {
        Report(member, "removed");
        if (_indexOf.TryGetValue(member, out var removed))
        {
            _directory.Forget(removed);
        }
        if (_run is null || _entities is null || !_indexOf.TryGetValue(member, out var node) || !Speaks ||
            member == _cluster.SelfAddress || !_gone.Add(node))
        {
            return;
        }
        var survivors = _cluster.State.Members
            .Where(m => m.Status is MemberStatus.Up or MemberStatus.Joining or MemberStatus.WeaklyUp &&
                        m.Address != member && !_cluster.State.Unreachable.Contains(m))
            .Select(m => _indexOf.TryGetValue(m.Address, out var i) ? i : int.MaxValue)
            .DefaultIfEmpty(Node)
            .Min();
        if (survivors != Node)
        {
            return;
        }
        var tasks = Enumerable.Range(0, _run.Placement.Length).Where(t => _run.Placement[t] == node).ToArray();
        foreach (var t in tasks)
        {
            _sink?.Emit(new TaskLost(new TaskId(t), node));
        }
        foreach (var t in tasks)
        {
            foreach (var entity in _entities.All())
            {
                SendToEntity(entity, new TaskGone(new TaskId(t)));
            }
        }
        _log.Warning("run {0}: node {1} ({2}) left the cluster; its tasks {3} are gone", _run.RunId, node, member,
            string.Join(", ", tasks));
        _run.Runner.Tell(new NodeGone(_run.RunId, Node, node, tasks, Stopwatch.GetTimestamp()));
    }

    // --- reliable delivery of the agent's own messages (TaskGone) ---------------------------

    private sealed class RetryTick
    {
        public static readonly RetryTick Instance = new();
    }

    private sealed class StopLoadNow
    {
        public static readonly StopLoadNow Instance = new();
    }

    private readonly Dictionary<Endpoint, long> _sent = new();
    private readonly Dictionary<(Endpoint To, long Seq), Envelope> _unacked = new();
    private ICancelable? _retry;
    private ICancelable? _stopLoad;

    /// <summary>To an entity: in reliable runs inside an Envelope from this member's Control endpoint, sent again until acknowledged.</summary>
    private void SendToEntity(Endpoint entity, object message)
    {
        if (_run is not { Reliable: true } and not { Journaled: true })
        {
            _directory.Region.Tell(new ToEntity(entity.ToString(), message), Self);
            return;
        }
        var seq = _sent.TryGetValue(entity, out var last) ? last + 1 : 1;
        _sent[entity] = seq;
        var envelope = new Envelope(Endpoint.Control(Node), entity, seq, message);
        _unacked[(entity, seq)] = envelope;
        _directory.Region.Tell(envelope, Self);
        _retry ??= Context.System.Scheduler.ScheduleTellRepeatedlyCancelable(TimeSpan.FromMilliseconds(100),
            TimeSpan.FromMilliseconds(100), Self, RetryTick.Instance, Self);
    }

    // Acks are cumulative (entities process each sender's envelopes in order): Seq covers every earlier one too.
    private void HandleAck(Ack a)
    {
        if (a.To != Endpoint.Control(Node))
        {
            return;
        }
        foreach (var key in _unacked.Keys.Where(k => k.To == a.From && k.Seq <= a.Seq).ToList())
        {
            _unacked.Remove(key);
        }
    }

    private void HandleRetry()
    {
        foreach (var envelope in _unacked.Values)
        {
            _directory.Region.Tell(envelope, Self);
        }
        if (_unacked.Count == 0)
        {
            _retry?.Cancel();
            _retry = null;
        }
    }

    private void HandleEndRun(EndRun m)
    {
        _retry?.Cancel();
        _stopLoad?.Cancel();
        foreach (var task in _localTasks.Values)
        {
            Context.Stop(task);
        }
        _sink?.Dispose();
        _sink = null;
        if (!_directory.Region.IsNobody())
        {
            _directory.Region.Tell(GracefulShutdown.Instance);
        }
        Sender.Tell(new RunEnded(m.RunId, Node));
        Context.Stop(Self);
    }
}
