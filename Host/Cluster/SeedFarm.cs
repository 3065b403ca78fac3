using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using DaxSim.Host.Explore;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;

namespace DaxSim.Host.Cluster;

/// <summary>How a seed farm cuts and hands out its seeds.</summary>
public sealed record FarmOptions
{
    public const int DefaultUnitSeeds = 100;

    /// <summary>Seeds per unit (a lease).</summary>
    public int UnitSeeds { get; init; } = DefaultUnitSeeds;

    /// <summary>Worker threads per member, each with its own DeterministicRuntime.</summary>
    public int WorkersPerMember { get; init; } = 1;

    /// <summary>A unit not done this long after it was leased goes back to the queue.</summary>
    public TimeSpan LeaseTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The farm fails (SlowMemberException) when no unit is done for this long.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(120);
}

/// <summary>One unit as the runner counted it: its seeds, the member that ran it, its lowest violating seed.</summary>
public sealed record FarmUnitRecord(int Unit, SeedRange Range, long SeedsRun, int Member, ulong? ViolatingSeed);

/// <summary>
/// What a farm gave: the exploration's figures, as a single-process explore gives them
/// (Finding is null: the runner runs the lowest violating seed again itself, <see cref="FindingSeed"/>),
/// the units counted (each once), the members and how long they took to be Up.
/// </summary>
public sealed record FarmResult(
    ExploreResult Explore,
    ulong? FindingSeed,
    ulong FindingTraceHash,
    IReadOnlyList<FarmUnitRecord> Units,
    IReadOnlyList<SeedRange> CompletedRanges,
    int Members,
    TimeSpan TimeToUp,
    long UnitsRefused)
{
    /// <summary>Units the coordinator gave back to the queue (expired leases, removed members).</summary>
    public long UnitsReturned { get; init; }
}

/// <summary>
/// The seed farm's runner (`daxsim explore --runtime cluster`, docs/cluster.md "A seed farm"):
/// starts the members as `daxsim run --runtime cluster` does (or finds them with --join),
/// tells every member's agent about the farm, again every second with what is done (the
/// coordinator, a Cluster Singleton on the members, leases the units to the members'
/// workers), counts each unit's result once in its own <see cref="FarmLedger"/>, and ends when
/// every unit below the lowest violating seed is done (all of them, without one). Then it
/// ends the farm on the members and stops the members it started.
/// </summary>
public sealed class SeedFarm(ClusterRunOptions cluster, FarmOptions farm)
{
    /// <summary>Called about once a second, from the thread that called Run.</summary>
    public Action<ExploreProgress>? Progress { get; init; }

    /// <summary>Tests: called after each unit counted, with the unit and the members the runner started.</summary>
    internal Action<FarmUnitRecord, IReadOnlyList<NodeProcess>>? AfterUnit { get; init; }

    public FarmResult Run(Scenario scenario, Variant variant, string strategy, int pctDepth, long pctSteps,
        bool faultInjection, ulong firstSeed, long seeds)
    {
        if (scenario.Text is null)
        {
            throw new Cli.InputException($"{scenario.Source}: the cluster runtime needs the scenario's text");
        }
        var ledger = new FarmLedger(firstSeed, seeds, farm.UnitSeeds, farm.LeaseTimeout);
        var log = cluster.Log ?? TextWriter.Null;
        using (var started = FarmMembers.Start(cluster))
        {
            var members = started.Members;
            var children = started.Children;
            var farmId = Guid.NewGuid().ToString("N");
            StartFarm Start() => new(farmId, scenario.Text, scenario.Source, variant.Name(), strategy, pctDepth, pctSteps,
                faultInjection, firstSeed, seeds, farm.UnitSeeds, farm.WorkersPerMember,
                (long)farm.LeaseTimeout.TotalMilliseconds, started.Runner, ledger.Done.ToArray(), ledger.StopAt);

            var clock = Stopwatch.StartNew();
            var coverage = new CoverageTotals();
            var units = new List<FarmUnitRecord>();
            long done = 0, deliveries = 0, findings = 0;
            ulong findingHash = 0;
            var loop = new FarmLoop("seed farm", farmId, members, children, started.Inbox, ledger, Start, farm.StallTimeout, log);
            loop.Run(() => ledger.Finished, u =>
                {
                    if (Valid(ledger, u) is not { } unitCoverage)
                    {
                        return null;
                    }
                    if (!ledger.Complete(u.Unit, u.ViolatingSeed))
                    {
                        return false;
                    }
                    coverage.Add(unitCoverage);
                    done += u.SeedsRun;
                    deliveries += u.Deliveries;
                    findings += u.Findings;
                    if (u.ViolatingSeed is { } v && v == ledger.StopAt)
                    {
                        findingHash = u.TraceHash;
                    }
                    var record = new FarmUnitRecord(u.Unit, ledger.RangeOf(u.Unit), u.SeedsRun, u.Member, u.ViolatingSeed);
                    units.Add(record);
                    AfterUnit?.Invoke(record, children);
                    return true;
                },
                () => Progress?.Invoke(new ExploreProgress(done, clock.Elapsed, findings)));
            var elapsed = clock.Elapsed;
            var result = new ExploreResult(firstSeed, done, null, elapsed, deliveries)
            {
                Coverage = coverage,
                Findings = findings,
            };
            return new FarmResult(result, ledger.StopAt, findingHash, units.OrderBy(u => u.Unit).ToList(),
                ledger.CompletedRanges(), members.Count, started.TimeToUp, loop.Refused) { UnitsReturned = loop.Returned };
        }
    }

    internal static void Broadcast(IEnumerable<ClusterMember> members, object message)
    {
        foreach (var m in members)
        {
            m.Agent.Tell(message, ActorRefs.NoSender);
        }
    }

    /// <summary>A unit result's coverage, when the result is one of the farm's units and consistent; null otherwise.</summary>
    private static CoverageTotals? Valid(FarmLedger ledger, UnitDone u)
    {
        if (!ledger.IsUnit(u.Unit) || ledger.RangeOf(u.Unit) != new SeedRange(u.FirstSeed, u.Count) ||
            u.SeedsRun < 1 || u.SeedsRun > u.Count || u.CoverageRuns != u.SeedsRun || u.Deliveries < 0 ||
            u.Findings is < 0 or > 1 || (u.ViolatingSeed is { } v && (!ledger.RangeOf(u.Unit).Contains(v) ||
                                                                      v != u.FirstSeed + (ulong)u.SeedsRun - 1)) ||
            (u.ViolatingSeed is null && u.SeedsRun != u.Count))
        {
            return null;
        }
        return CoverageTotals.FromArrays(u.CoverageRuns, u.CoverageTotals, u.CoverageReaching);
    }

    /// <summary>The runner's mailbox for the farm: farm messages to the loop, anything else refused with a logged error.</summary>
    internal sealed class FarmInbox : ReceiveActor
    {
        public FarmInbox(BlockingCollection<IFarmMessage> inbox)
        {
            var log = Context.GetLogger();
            Receive<IFarmMessage>(inbox.Add);
            ReceiveAny(m => log.Error("the farm's runner refused a message from {0}: {1}", Sender, NodeAgent.Describe(m)));
        }
    }
}
