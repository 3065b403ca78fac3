using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.Singleton;
using Akka.Event;
using AkkaCluster = Akka.Cluster.Cluster;

namespace DaxSim.Host.Cluster;

/// <summary>
/// The seed farm's coordinator: a Cluster Singleton (one in the cluster, on the oldest member
/// of role sim; another member starts it again when that one is gone). It keeps a
/// <see cref="FarmLedger"/> per farm, leases units to the members' workers, gives a unit back
/// to the queue when its lease expires or its worker's member is removed from the cluster,
/// and forwards each unit's first result to the runner. Its state is soft: the runner sends
/// StartFarm again every second with the units it has, so a coordinator started again
/// elsewhere carries on from there. Anything else is refused with a logged error.
/// </summary>
public sealed class FarmCoordinator : ReceiveActor
{
    /// <summary>The singleton's name under its manager (/user/agent/farm-coordinator/coordinator).</summary>
    public const string SingletonName = "coordinator";

    public const string ManagerName = "farm-coordinator";

    private sealed class Tick
    {
        public static readonly Tick Instance = new();
    }

    private sealed record Farm(FarmLedger Ledger, IActorRef Runner, SystematicFarm? Systematic);

    private readonly Dictionary<string, Farm> _farms = new();
    private readonly HashSet<string> _ended = [];
    private readonly AkkaCluster _cluster = AkkaCluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private ICancelable? _tick;

    public FarmCoordinator()
    {
        Receive<StartFarm>(HandleStart);
        Receive<RequestUnit>(HandleRequest);
        Receive<UnitDone>(HandleDone);
        Receive<EndFarm>(m =>
        {
            if (_farms.Remove(m.FarmId))
            {
                _ended.Add(m.FarmId);
            }
        });
        Receive<Tick>(_ =>
        {
            var now = DateTime.UtcNow;
            foreach (var (id, farm) in _farms)
            {
                var expired = farm.Ledger.Expire(now);
                if (expired.Count > 0)
                {
                    _log.Warning("farm {0}: the leases of units {1} expired; they go back to the queue", id, string.Join(", ", expired));
                    farm.Runner.Tell(new UnitsReturned(id, "", expired.ToArray(), "expired"));
                }
            }
        });
        Receive<ClusterEvent.MemberRemoved>(m => Release(m.Member.Address));
        Receive<ClusterEvent.IClusterDomainEvent>(_ => { });
        Receive<ClusterEvent.CurrentClusterState>(_ => { });
        ReceiveAny(m => _log.Error("the farm coordinator refused a message from {0}: {1}", Sender, NodeAgent.Describe(m)));
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new FarmCoordinator());

    /// <summary>The singleton's manager, for every member of role sim (the agent starts it as its child).</summary>
    public static Props ManagerProps(ActorSystem system) => ClusterSingletonManager.Props(
        Props(), PoisonPill.Instance,
        ClusterSingletonManagerSettings.Create(system).WithRole(ClusterConfig.DefaultRole).WithSingletonName(SingletonName));

    /// <summary>The proxy every member talks to the coordinator through (the agent's child).</summary>
    public static Props ProxyProps(ActorSystem system) => ClusterSingletonProxy.Props(
        "/user/agent/" + ManagerName,
        ClusterSingletonProxySettings.Create(system).WithRole(ClusterConfig.DefaultRole).WithSingletonName(SingletonName)
            .WithBufferSize(10000));

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
            typeof(ClusterEvent.MemberRemoved));
        _tick = Context.System.Scheduler.ScheduleTellRepeatedlyCancelable(TimeSpan.FromSeconds(1),
            TimeSpan.FromSeconds(1), Self, Tick.Instance, Self);
    }

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        _tick?.Cancel();
    }

    /// <summary>Which member a worker lives on: its address (this member's, for a local ref).</summary>
    private string HolderOf(IActorRef worker) =>
        (worker.Path.Address.HasLocalScope ? _cluster.SelfAddress : worker.Path.Address).ToString();

    private void Release(Address member)
    {
        foreach (var (id, farm) in _farms)
        {
            var released = farm.Ledger.Release(member.ToString());
            if (released.Count > 0)
            {
                _log.Warning("farm {0}: member {1} was removed; its units {2} go back to the queue", id, member,
                    string.Join(", ", released));
                farm.Runner.Tell(new UnitsReturned(id, member.ToString(), released.ToArray(), "removed"));
            }
        }
    }

    private void HandleStart(StartFarm m)
    {
        if (_ended.Contains(m.FarmId))
        {
            return;
        }
        if (_farms.TryGetValue(m.FarmId, out var known))
        {
            known.Ledger.MarkDone(m.Done ?? [], m.StopAt);
            return;
        }
        FarmLedger ledger;
        try
        {
            var leaseTimeout = TimeSpan.FromMilliseconds(Math.Clamp(m.LeaseTimeoutMs, 100, 24L * 3600 * 1000));
            if (m.Systematic is { } systematic)
            {
                // A systematic farm: its units are first deviations, with a depth barrier.
                if (systematic.Check(m) is { } wrong)
                {
                    _log.Error("farm {0}: refused from {1}: {2}", m.FarmId, Sender, wrong);
                    m.Runner?.Tell(new FarmFailed(m.FarmId, -1, $"the coordinator refused the farm: {wrong}"));
                    return;
                }
                ledger = systematic.Ledger(leaseTimeout);
            }
            else
            {
                ledger = new FarmLedger(m.FirstSeed, m.Seeds, m.UnitSeeds, leaseTimeout);
            }
        }
        catch (ArgumentOutOfRangeException e)
        {
            _log.Error("farm {0}: refused from {1}: {2}", m.FarmId, Sender, e.Message);
            m.Runner?.Tell(new FarmFailed(m.FarmId, -1, $"the coordinator refused the farm: {e.Message}"));
            return;
        }
        if (m.Runner is null)
        {
            _log.Error("farm {0}: refused a StartFarm without a runner from {1}", m.FarmId, Sender);
            return;
        }
        ledger.MarkDone(m.Done ?? [], m.StopAt);
        _farms[m.FarmId] = new Farm(ledger, m.Runner, m.Systematic);
        _log.Info("farm {0}: {1} seeds from {2} in {3} units", m.FarmId, m.Seeds, m.FirstSeed, ledger.Units);
    }

    private void HandleRequest(RequestUnit m)
    {
        if (m.Worker is null)
        {
            _log.Error("farm {0}: a unit request without a worker from {1}", m.FarmId, Sender);
            return;
        }
        if (!_farms.TryGetValue(m.FarmId, out var farm))
        {
            // Ended, or not known yet (this coordinator just started: the runner's next StartFarm tells it).
            m.Worker.Tell(new NoUnit(m.FarmId, m.Slot, Over: _ended.Contains(m.FarmId)));
            return;
        }
        if (m.Ahead && farm.Ledger.OpenPendingCount() <= farm.Ledger.LeasedCount)
        {
            // Not ahead of time near the end of a depth: a slot that is free will take it.
            m.Worker.Tell(new NoUnit(m.FarmId, m.Slot, Over: false));
            return;
        }
        if (farm.Ledger.TryLease(HolderOf(m.Worker), DateTime.UtcNow, out var unit))
        {
            var range = farm.Ledger.RangeOf(unit);
            var lease = new UnitLease(m.FarmId, unit, range.First, range.Count, m.Slot);
            if (farm.Systematic is { } s)
            {
                lease = lease with { Depth = s.Depths[unit], Order = s.Orders[unit], Point = s.Points[unit], Position = s.Positions[unit] };
            }
            m.Worker.Tell(lease);
            return;
        }
        m.Worker.Tell(new NoUnit(m.FarmId, m.Slot, Over: farm.Ledger.Finished));
    }

    private void HandleDone(UnitDone m)
    {
        if (!_farms.TryGetValue(m.FarmId, out var farm))
        {
            return;
        }
        if (!farm.Ledger.IsUnit(m.Unit) || farm.Ledger.RangeOf(m.Unit) != new SeedRange(m.FirstSeed, m.Count) ||
            (farm.Systematic is { } s && (m.Systematic is not { } u || u.Depth != s.Depths[m.Unit] || u.Order != s.Orders[m.Unit] ||
                                          u.Point != s.Points[m.Unit] || u.Position != s.Positions[m.Unit])))
        {
            _log.Error("farm {0}: refused a result for unit {1} ({2}, {3} seeds) from {4}: not one of the farm's units",
                m.FarmId, m.Unit, m.FirstSeed, m.Count, Sender);
            return;
        }
        if (farm.Ledger.Complete(m.Unit, m.ViolatingSeed))
        {
            farm.Runner.Tell(m);
        }
    }
}
