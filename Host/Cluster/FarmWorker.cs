using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;

namespace DaxSim.Host.Cluster;

/// <summary>
/// One member's share of a seed farm (the agent's child farm-ID): Workers slots, each a thread
/// with its own DeterministicRuntime, as explore's workers are. A slot asks the coordinator
/// for a unit, runs its seeds in order (stopping at the unit's first violating seed, the
/// unit's lowest), and sends the coordinator the unit's result; then asks again. Each seed runs
/// with the settings explore gives it (<see cref="Explore.Explorer.Settings"/>), so a seed gives
/// the same result here as in a single-process explore. It stops when the coordinator says
/// the farm is over, at EndFarm, or after a minute without an answer.
/// </summary>
public sealed class FarmWorker : ReceiveActor, IWithTimers
{
    private sealed record SlotFinished(int Slot, UnitDone? Done, string? Error);

    private sealed record Retry(int Slot, long Request);

    private static readonly TimeSpan AskAgain = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan GiveUp = TimeSpan.FromSeconds(60);

    private readonly StartFarm _farm;
    private readonly IActorRef _coordinator;
    private readonly int _member;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Explore.Explorer _explorer;
    private readonly Scenario _scenario;
    private readonly BlockingCollection<UnitLease>[] _queues;
    private readonly Thread[] _threads;
    private readonly long[] _request;
    private readonly bool[] _busy;
    private readonly int[] _held;
    private readonly bool[] _asking;
    private readonly int _ahead;
    private readonly bool[] _over;
    private readonly DateTime[] _lastAnswer;
    private volatile bool _stopping;
    private readonly Explore.SystematicExplorer? _systematic;
    private readonly object _depthGate = new();
    private readonly Dictionary<int, Explore.SystematicExplorer.Depth> _depths = new();

    public ITimerScheduler Timers { get; set; } = null!;

    public FarmWorker(StartFarm farm, IActorRef coordinator, int member, Scenario scenario, Variant variant)
    {
        _farm = farm;
        _coordinator = coordinator;
        _member = member;
        _scenario = scenario;
        _explorer = new Explore.Explorer(scenario, variant, farm.Strategy, 1)
        {
            PctDepth = farm.PctDepth,
            PctSteps = farm.PctSteps,
            FaultInjection = farm.FaultInjection,
        };
        if (farm.Systematic is { } sys)
        {
            // A systematic farm: each unit as SystematicExplorer.RunUnit runs it, a table of states per depth on this member.
            _systematic = new Explore.SystematicExplorer(scenario, variant, sys.Bound, 1)
            {
                Seed = sys.Seed,
                FaultInjection = farm.FaultInjection,
                MaxSchedules = sys.MaxSchedules,
                Reduction = sys.Reduction,
                SleepSets = sys.SleepSets,
                Orders = sys.SearchOrders(),
                Cancelled = () => _stopping,
            };
        }
        var slots = Math.Clamp(farm.Workers, 1, 256);
        _queues = Enumerable.Range(0, slots).Select(_ => new BlockingCollection<UnitLease>()).ToArray();
        _request = new long[slots];
        _busy = new bool[slots];
        _held = new int[slots];
        _asking = new bool[slots];
        // A systematic unit can be one schedule (depth 1): a slot asks for its next unit while it
        // runs one, so that it does not wait for the coordinator's answer between units.
        _ahead = farm.Systematic is null ? 1 : 2;
        _over = new bool[slots];
        _lastAnswer = Enumerable.Repeat(DateTime.UtcNow, slots).ToArray();
        var self = Self;
        _threads = Enumerable.Range(0, slots)
            .Select(i => new Thread(() => SlotLoop(i, self)) { IsBackground = true, Name = $"daxsim-farm-{i}" })
            .ToArray();

        Receive<UnitLease>(m =>
        {
            if (m.Slot < 0 || m.Slot >= slots || m.Count < 1 || m.Count > farm.UnitSeeds ||
                (farm.Systematic is { } s && (m.Depth < 1 || m.Depth > s.Bound || m.Point < 0 || m.Position < 1 ||
                                              m.Position > m.Depth || !s.SearchOrders().Contains((DefaultOrder)m.Order))))
            {
                _log.Error("farm {0}: refused a lease for slot {1} of {2} seeds", m.FarmId, m.Slot, m.Count);
                return;
            }
            _lastAnswer[m.Slot] = DateTime.UtcNow;
            _asking[m.Slot] = false;
            _busy[m.Slot] = true;
            _held[m.Slot]++;
            _queues[m.Slot].Add(m);
            if (_held[m.Slot] < _ahead)
            {
                Ask(m.Slot);
            }
        });
        Receive<NoUnit>(m =>
        {
            if (m.Slot < 0 || m.Slot >= slots)
            {
                return;
            }
            _lastAnswer[m.Slot] = DateTime.UtcNow;
            _asking[m.Slot] = false;
            if (m.Over)
            {
                _over[m.Slot] = true;
                if (_over.All(o => o))
                {
                    Context.Stop(Self);
                }
                return;
            }
            Timers.StartSingleTimer("retry-" + m.Slot, new Retry(m.Slot, ++_request[m.Slot]), AskAgain);
        });
        Receive<Retry>(m =>
        {
            // Asked again: after a NoUnit, or when the coordinator did not answer (it is moving to another member).
            if (_over[m.Slot] || m.Request != _request[m.Slot])
            {
                return;
            }
            if (_busy[m.Slot])
            {
                // Asked ahead and not answered: the slot asks again when its unit is done.
                _asking[m.Slot] = false;
                return;
            }
            if (DateTime.UtcNow - _lastAnswer[m.Slot] > GiveUp)
            {
                _log.Warning("farm {0}: no answer from the coordinator for {1} s; this member stops farming", farm.FarmId,
                    GiveUp.TotalSeconds);
                Context.Stop(Self);
                return;
            }
            Ask(m.Slot);
        });
        Receive<SlotFinished>(m =>
        {
            _held[m.Slot] = Math.Max(0, _held[m.Slot] - 1);
            _busy[m.Slot] = _held[m.Slot] > 0;
            if (m.Error is not null)
            {
                _farm.Runner.Tell(new FarmFailed(farm.FarmId, _member, m.Error));
                Context.Stop(Self);
                return;
            }
            if (m.Done is not null)
            {
                _coordinator.Tell(m.Done, Self);
            }
            if (_held[m.Slot] < _ahead && !_asking[m.Slot])
            {
                Ask(m.Slot);
            }
        });
        Receive<EndFarm>(_ => Context.Stop(Self));
        Receive<StartFarm>(_ => { });
        ReceiveAny(m => _log.Error("farm {0} refused a message from {1}: {2}", farm.FarmId, Sender, NodeAgent.Describe(m)));
    }

    public static Props Props(StartFarm farm, IActorRef coordinator, int member, Scenario scenario, Variant variant) =>
        Akka.Actor.Props.Create(() => new FarmWorker(farm, coordinator, member, scenario, variant));

    protected override void PreStart()
    {
        foreach (var t in _threads)
        {
            t.Start();
        }
        for (var i = 0; i < _queues.Length; i++)
        {
            Ask(i);
        }
    }

    protected override void PostStop()
    {
        _stopping = true;
        foreach (var q in _queues)
        {
            q.CompleteAdding();
        }
    }

    private void Ask(int slot)
    {
        var request = ++_request[slot];
        _asking[slot] = true;
        _coordinator.Tell(new RequestUnit(_farm.FarmId, Self, slot) { Ahead = _held[slot] > 0 }, Self);
        Timers.StartSingleTimer("retry-" + slot, new Retry(slot, request), AnswerTimeout);
    }

    // One slot's thread: its own DeterministicRuntime (made and disposed on this thread), the units leased to it in turn.
    private void SlotLoop(int slot, IActorRef self)
    {
        try
        {
            using var runtime = Runtimes.ForOneThread(RuntimeKind.Deterministic);
            foreach (var lease in _queues[slot].GetConsumingEnumerable())
            {
                var done = RunUnit(runtime, lease);
                if (done is null)
                {
                    return;
                }
                self.Tell(new SlotFinished(slot, done, null));
            }
        }
        catch (Exception e) when (e is not ThreadInterruptedException)
        {
            self.Tell(new SlotFinished(slot, null, $"node {_member}: {e.GetType().Name}: {e.Message}"));
        }
    }

    private UnitDone? RunUnit(IRuntime runtime, UnitLease lease)
    {
        if (_systematic is not null)
        {
            return RunSystematicUnit(_systematic, runtime, lease);
        }
        var coverage = new CoverageTotals();
        long run = 0;
        long deliveries = 0;
        ulong? violating = null;
        ulong hash = 0;
        for (long i = 0; i < lease.Count; i++)
        {
            if (_stopping)
            {
                return null;
            }
            var result = runtime.Run(_scenario, _explorer.Settings(lease.FirstSeed + (ulong)i));
            run++;
            coverage.Add(result.Coverage);
            deliveries += result.Deliveries;
            if (result.Violation is not null)
            {
                violating = result.Seed;
                hash = result.TraceHash;
                break;
            }
        }
        var (totals, reaching) = coverage.ToArrays();
        return new UnitDone(lease.FarmId, lease.Unit, lease.FirstSeed, lease.Count, run, violating, hash,
            violating is null ? 0 : 1, deliveries, coverage.Runs, totals, reaching, _member);
    }

    // A systematic unit: every schedule of its depth under its first deviation, with this
    // member's table of states for the depth (begun by the first unit of the depth here).
    private UnitDone? RunSystematicUnit(Explore.SystematicExplorer explorer, IRuntime runtime, UnitLease lease)
    {
        long begun = 0;
        Explore.SystematicExplorer.Depth? depth;
        lock (_depthGate)
        {
            if (!_depths.TryGetValue(lease.Depth, out depth))
            {
                // The depth barrier: once a deeper unit comes, the shallower tables are not wanted again.
                foreach (var d in _depths.Keys.Where(d => d < lease.Depth).ToList())
                {
                    _depths.Remove(d);
                }
                depth = explorer.BeginDepth(lease.Depth, runtime);
                _depths[lease.Depth] = depth;
                begun = depth.Reruns;
            }
        }
        if (_stopping)
        {
            return null;
        }
        var result = explorer.RunUnit(runtime, depth,
            new Explore.SystematicUnit((DefaultOrder)lease.Order, new Delay(lease.Point, lease.Position)));
        if (_stopping)
        {
            return null;
        }
        var (totals, reaching) = result.Coverage.ToArrays();
        var delays = result.FindingDelays ?? [];
        var found = result.Finding is not null;
        return new UnitDone(lease.FarmId, lease.Unit, lease.FirstSeed, lease.Count, 1, found ? lease.FirstSeed : null,
            result.Finding?.TraceHash ?? 0, found ? 1 : 0, result.Deliveries, result.Coverage.Runs, totals, reaching, _member)
        {
            Systematic = new SystematicUnitDone(lease.Depth, lease.Order, lease.Point, lease.Position, result.Schedules, result.Complete,
                result.ByDelays.ToArray(), result.Reruns + begun, result.StoppedBy is not null,
                delays.Select(d => d.Point).ToArray(), delays.Select(d => d.Position).ToArray())
            {
                Slept = result.Slept,
                SleptUnrun = result.SleptUnrun,
            },
        };
    }
}
