using Akka.Actor;
using DaxSim.Host.Deterministic;

namespace DaxSim.Host.Cluster;

// The seed farm's protocol (docs/cluster.md, "A seed farm"), between the runner
// (`daxsim explore --runtime cluster`, not a member), the members' agents, the coordinator
// (a Cluster Singleton on the oldest member of role sim, /user/agent/farm-coordinator) and
// each member's FarmWorker:
//
//   runner → every agent   StartFarm (again every second, with the units done so far and the
//                          lowest violating seed: a coordinator that starts again on another
//                          member learns the farm from it)
//   agent                  starts its FarmWorker (once per farm), forwards StartFarm to the
//                          coordinator through its ClusterSingletonProxy
//   worker → coordinator   RequestUnit                → UnitLease, or NoUnit (wait, or over)
//   worker → coordinator   UnitDone                   → forwarded to the runner, once per unit
//   worker → runner        FarmFailed (the member cannot run the farm)
//   coordinator → runner   UnitsReturned (a lease expired, or its member was removed)
//   runner → every agent   EndFarm                    (workers stop; the coordinator forgets the farm)
//
// Every message is a record of plain values (and actor refs), serialized across processes by
// Hyperion, as envelopes are (WireTypes.Farm; since protocol version 3: through Newtonsoft.Json
// the write of each UnitDone cost the coordinator's member about 240 us): a field added to any of
// them (or to SystematicFarm, SystematicUnitDone) changes the wire format, so
// ClusterConfig.ProtocolVersion goes up with it. The farm id keeps farms apart.
//
// A systematic farm (explore --strategy systematic --runtime cluster) is the same protocol
// with StartFarm.Systematic set: its units are first deviations (depth, order, point, position),
// numbered from 0 as "seeds" of one (FirstSeed 0, UnitSeeds 1, Seeds = the number of units);
// a UnitLease names its unit's first deviation (Depth, Order, Point, Position) and a UnitDone carries
// the unit's counts in Systematic (SeedsRun 1; ViolatingSeed = the unit when it has a finding).

public interface IFarmMessage
{
    string FarmId { get; }
}

/// <summary>
/// A farm: the scenario (its text), how each seed runs (variant, strategy, PCT's d and k,
/// fault injection), the seeds, the unit size, the workers per member and the lease
/// timeout; where results go (Runner); what is done already and the lowest violating seed known.
/// </summary>
public sealed record StartFarm(
    string FarmId,
    string ScenarioText,
    string Source,
    string Variant,
    string Strategy,
    int PctDepth,
    long PctSteps,
    bool FaultInjection,
    ulong FirstSeed,
    long Seeds,
    int UnitSeeds,
    int Workers,
    long LeaseTimeoutMs,
    IActorRef Runner,
    int[] Done,
    ulong? StopAt) : IFarmMessage
{
    /// <summary>A systematic farm's search and units (Strategy "systematic"); null for a seed farm.</summary>
    public SystematicFarm? Systematic { get; init; }
}

/// <summary>
/// A systematic farm: the bound, the seed of everything else a schedule draws, the limit of
/// schedules per unit (long.MaxValue: none), the reduction on or off, and the units: unit u's
/// first deviation is (Points[u], Positions[u]) at depth Depths[u] against the default order
/// Orders[u] (0 first come, 1 last come, first served), ordered by (depth, order, point,
/// position). <see cref="Check"/> says what is wrong with one from the network.
/// </summary>
public sealed record SystematicFarm(int Bound, ulong Seed, long MaxSchedules, bool Reduction, int[] Depths, int[] Orders,
    int[] Points, int[] Positions)
{
    /// <summary>With the reduction on, whether the members also put off deliveries in sleep sets (absent: yes).</summary>
    public bool SleepSets { get; init; } = true;

    /// <summary>The default orders the search covers (those of its units), first come first: the members' explorers search these.</summary>
    public DefaultOrder[] SearchOrders() => Orders.Distinct().Order().Select(o => (DefaultOrder)o).ToArray();

    /// <summary>What is wrong with this systematic farm of <paramref name="farm"/>, or null.</summary>
    public string? Check(StartFarm farm)
    {
        if (Depths is null || Orders is null || Points is null || Positions is null || Depths.Length != Points.Length ||
            Depths.Length != Positions.Length || Depths.Length != Orders.Length)
        {
            return "a systematic farm needs one depth, order, point and position per unit";
        }
        if (Bound < 1 || Bound > Explore.SystematicExplorer.MaxBound)
        {
            return $"a systematic farm's bound is between 1 and {Explore.SystematicExplorer.MaxBound}, not {Bound}";
        }
        if (MaxSchedules < 1)
        {
            return $"a systematic farm's limit of schedules is at least 1, not {MaxSchedules}";
        }
        if (Depths.Length == 0 || farm.Seeds != Depths.Length || farm.UnitSeeds != 1 || farm.FirstSeed != 0)
        {
            return $"a systematic farm has units 0..{Depths.Length - 1} of one each, not {farm.Seeds} from {farm.FirstSeed} in units of {farm.UnitSeeds}";
        }
        for (var u = 0; u < Depths.Length; u++)
        {
            if (Depths[u] < 1 || Depths[u] > Bound || Points[u] < 0 || Positions[u] < 1 || Positions[u] > Depths[u])
            {
                return $"unit {u} (depth {Depths[u]}, point {Points[u]}, position {Positions[u]}) is not a first deviation within bound {Bound}";
            }
            if (Orders[u] is not ((int)DefaultOrder.FirstCome or (int)DefaultOrder.LastCome))
            {
                return $"unit {u}'s order is 0 (first come) or 1 (last come), not {Orders[u]}";
            }
            if (u > 0 && (Depths[u], Orders[u], Points[u], Positions[u])
                    .CompareTo((Depths[u - 1], Orders[u - 1], Points[u - 1], Positions[u - 1])) <= 0)
            {
                return $"units {u - 1} and {u} are not in (depth, order, point, position) order";
            }
        }
        return null;
    }

    /// <summary>The first unit of each depth (FarmLedger.DepthStarts).</summary>
    public int[] DepthStarts() => Enumerable.Range(0, Depths.Length).Where(u => u == 0 || Depths[u] != Depths[u - 1]).ToArray();

    /// <summary>The ledger of this farm (the coordinator's and the runner's), with its depth barrier.</summary>
    public FarmLedger Ledger(TimeSpan leaseTimeout) =>
        new(0, Depths.Length, 1, leaseTimeout) { DepthStarts = DepthStarts() };
}

/// <summary>A worker slot wants a unit; the answer goes to Worker.</summary>
public sealed record RequestUnit(string FarmId, IActorRef Worker, int Slot) : IFarmMessage
{
    /// <summary>
    /// Asked ahead: the slot is running a unit and wants its next one queued (systematic farms).
    /// The coordinator grants it only while more units are open than are leased, so that the
    /// last units of a depth are not queued behind long ones while other slots wait.
    /// </summary>
    public bool Ahead { get; init; }
}

/// <summary>Run seeds FirstSeed..FirstSeed+Count-1 (unit Unit) on slot Slot.</summary>
public sealed record UnitLease(string FarmId, int Unit, ulong FirstSeed, long Count, int Slot) : IFarmMessage
{
    /// <summary>A systematic farm's unit: its depth (0 for a seed farm's unit), default order (DefaultOrder) and first deviation (Point, Position).</summary>
    public int Depth { get; init; }

    public int Order { get; init; }

    public int Point { get; init; }

    public int Position { get; init; }
}

/// <summary>No unit for Slot now: ask again later; Over: the farm is finished (or unknown after its end), stop.</summary>
public sealed record NoUnit(string FarmId, int Slot, bool Over) : IFarmMessage;

/// <summary>
/// A unit's result: seeds run (up to and including its lowest violating seed, if any, which
/// ends the unit), how many violated, messages delivered, and the coverage of its seeds
/// (runs, per-branch totals and runs reaching, in Coverage's branch order). TraceHash: the
/// violating seed's trace hash, which the runner's own run of it must give again.
/// </summary>
public sealed record UnitDone(
    string FarmId,
    int Unit,
    ulong FirstSeed,
    long Count,
    long SeedsRun,
    ulong? ViolatingSeed,
    ulong TraceHash,
    long Findings,
    long Deliveries,
    long CoverageRuns,
    long[] CoverageTotals,
    long[] CoverageReaching,
    int Member) : IFarmMessage
{
    /// <summary>A systematic farm's unit result (CoverageRuns is then its Schedules less those left unrun: SleptUnrun); null for a seed farm's.</summary>
    public SystematicUnitDone? Systematic { get; init; }
}

/// <summary>
/// A systematic unit's counts, as SystematicExplorer.RunUnit gives them: its order and first deviation,
/// the schedules it counted (all with Depth delays: ByDelays[Depth] = Schedules), how many ran
/// to their end (Complete), the runs made again to extend schedules (Reruns), whether the limit
/// of schedules stopped it (Limited), and its finding's deviations (empty without one).
/// </summary>
public sealed record SystematicUnitDone(
    int Depth,
    int Order,
    int Point,
    int Position,
    long Schedules,
    long Complete,
    long[] ByDelays,
    long Reruns,
    bool Limited,
    int[] FindingPoints,
    int[] FindingPositions)
{
    /// <summary>Of the schedules cut short, those cut on a sleeping delivery (absent: 0).</summary>
    public long Slept { get; init; }

    /// <summary>Of <see cref="Slept"/>, those not run at all (SystematicResult.SleptUnrun; absent: 0).</summary>
    public long SleptUnrun { get; init; }
}

/// <summary>A member cannot run the farm (its scenario does not parse, a seed threw): the runner stops with the error.</summary>
public sealed record FarmFailed(string FarmId, int Member, string Error) : IFarmMessage;

public sealed record EndFarm(string FarmId) : IFarmMessage;

/// <summary>The coordinator gave units back to the queue: Why is "removed" (Member left the cluster) or "expired" (their leases).</summary>
public sealed record UnitsReturned(string FarmId, string Member, int[] Units, string Why) : IFarmMessage;
