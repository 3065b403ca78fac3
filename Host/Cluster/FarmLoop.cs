using System.Collections.Concurrent;
using System.Diagnostics;

namespace DaxSim.Host.Cluster;

/// <summary>
/// The runner's side of a farm once its members are up, the same for seed units (SeedFarm) and
/// systematic units (SystematicFarmRunner): it takes the farm's messages from the inbox, counts
/// each unit's result through the caller, logs units given back, sends StartFarm again every
/// second (a coordinator started again on another member carries on from what is done), calls
/// for progress every second, and ends the farm (EndFarm to every member) when it stops. A member
/// that cannot run the farm, a farm that did no unit for the stall timeout, and members that all
/// exited stop it with an exception.
/// </summary>
internal sealed class FarmLoop(
    string what,
    string farmId,
    IReadOnlyList<ClusterMember> members,
    IReadOnlyList<NodeProcess> children,
    BlockingCollection<IFarmMessage> inbox,
    FarmLedger ledger,
    Func<StartFarm> start,
    TimeSpan stallTimeout,
    TextWriter log)
{
    /// <summary>Results refused as malformed.</summary>
    public long Refused { get; private set; }

    /// <summary>Units given back to the queue (a lease expired, or its member was removed).</summary>
    public long Returned { get; private set; }

    /// <summary>
    /// Runs until <paramref name="over"/> says so. <paramref name="count"/> takes each UnitDone of
    /// this farm and says whether it was counted (true), already counted (false), or malformed
    /// (null: refused and logged).
    /// </summary>
    public void Run(Func<bool> over, Func<UnitDone, bool?> count, Action progress)
    {
        var lastUnit = Stopwatch.StartNew();
        var lastStart = Stopwatch.StartNew();
        var lastProgress = Stopwatch.StartNew();
        SeedFarm.Broadcast(members, start());
        try
        {
            while (!over())
            {
                if (inbox.TryTake(out var message, TimeSpan.FromMilliseconds(200)))
                {
                    switch (message)
                    {
                        case FarmFailed f when f.FarmId == farmId:
                            throw new InvalidOperationException($"the {what} failed on node {f.Member}: {f.Error}");
                        case UnitsReturned r when r.FarmId == farmId:
                            var who = members.FirstOrDefault(m => m.Address.ToString() == r.Member);
                            log.WriteLine($"  farm: unit(s) {string.Join(", ", r.Units ?? [])} go back to the queue: " +
                                          (r.Why == "removed"
                                              ? $"node {(who is null ? r.Member : who.Index)} was removed from the cluster"
                                              : "their leases expired"));
                            Returned += r.Units?.Length ?? 0;
                            break;
                        case UnitDone u when u.FarmId == farmId:
                            switch (count(u))
                            {
                                case true:
                                    lastUnit.Restart();
                                    break;
                                case null:
                                    Refused++;
                                    log.WriteLine($"  farm: refused a malformed result for unit {u.Unit} from node {u.Member}");
                                    break;
                            }
                            break;
                    }
                }
                if (lastStart.Elapsed >= TimeSpan.FromSeconds(1))
                {
                    SeedFarm.Broadcast(members, start());
                    lastStart.Restart();
                }
                if (lastProgress.Elapsed >= TimeSpan.FromSeconds(1))
                {
                    progress();
                    lastProgress.Restart();
                }
                if (lastUnit.Elapsed > stallTimeout)
                {
                    throw new SlowMemberException(
                        $"the {what} did no unit for {stallTimeout.TotalSeconds:F0} s " +
                        $"({ledger.DoneCount} of {ledger.Units} done, {ledger.Units - ledger.DoneCount} left)");
                }
                if (children.Count > 0 && children.All(c => c.HasExited))
                {
                    throw new InvalidOperationException($"every member of the {what} exited:\n" + children[0].Output);
                }
            }
        }
        finally
        {
            SeedFarm.Broadcast(members, new EndFarm(farmId));
        }
    }
}
