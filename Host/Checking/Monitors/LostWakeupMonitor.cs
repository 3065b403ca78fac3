using DaxSim.Protocol;

namespace DaxSim.Host.Checking;

/// <summary>
/// L2 lost wakeup: no task sleeps on a page that is idle (the era's idle count), for then
/// no wake-up is on its way. Judged at quiescence, and for an operation overdue (L3) because
/// it sleeps so.
/// </summary>
public sealed class LostWakeupMonitor(World world, Findings findings)
{
    /// <summary>Report task <paramref name="t"/> if it sleeps on an idle page; true if it does.</summary>
    public bool Check(int t, long? now)
    {
        if (world.SleepingOn[t] is not { } page || world.Refcount[page.Value] != world.Idle)
        {
            return false;
        }
        var task = world.T(new TaskId(t));
        var name = World.P(page);
        findings.Report(InvariantId.L2, Verdict.Liveness,
            $"{task} sleeps waiting for {name} to go idle; the page is idle (refcount {world.Idle}) " +
            "and no wake-up is on its way",
            [task, name], [new WaitForEdge(task, WaitReason.PageIdle, name, null, world.Idle)], now);
        return true;
    }

    public void AtQuiescence()
    {
        for (var t = 0; t < world.SleepingOn.Length; t++)
        {
            if (Check(t, null))
            {
                return;
            }
        }
    }
}
