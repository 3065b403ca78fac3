using Akka.Actor;

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
// Every message is a record of plain values (and actor refs), serialized like the run
// protocol's messages, by Akka's default serializer across processes. The farm id keeps
// farms apart.

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
    ulong? StopAt) : IFarmMessage;

/// <summary>A worker slot wants a unit; the answer goes to Worker.</summary>
public sealed record RequestUnit(string FarmId, IActorRef Worker, int Slot) : IFarmMessage;

/// <summary>Run seeds FirstSeed..FirstSeed+Count-1 (unit Unit) on slot Slot.</summary>
public sealed record UnitLease(string FarmId, int Unit, ulong FirstSeed, long Count, int Slot) : IFarmMessage;

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
    int Member) : IFarmMessage;

/// <summary>A member cannot run the farm (its scenario does not parse, a seed threw): the runner stops with the error.</summary>
public sealed record FarmFailed(string FarmId, int Member, string Error) : IFarmMessage;

public sealed record EndFarm(string FarmId) : IFarmMessage;

/// <summary>The coordinator gave units back to the queue: Why is "removed" (Member left the cluster) or "expired" (their leases).</summary>
public sealed record UnitsReturned(string FarmId, string Member, int[] Units, string Why) : IFarmMessage;
