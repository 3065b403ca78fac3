using DaxSim.Protocol;
using DaxSim.Protocol.Trace;

namespace DaxSim.Host.Checking;

/// <summary>
/// S2 refcount: a task drops only references it holds, no page's refcount falls below the
/// era's idle count, and when every task has ended no pin is left.
/// </summary>
public sealed class RefcountMonitor(World world, Findings findings)
{
    /// <summary>The task put a page it holds no reference on (the world had none to drop).</summary>
    public void PutWithoutReference(PagePut m) =>
        findings.Report(InvariantId.S2, Verdict.Safety,
            $"{world.T(m.Task)} put {World.P(m.Page)} without a reference of its own to drop",
            [world.T(m.Task), World.P(m.Page)]);

    public void PagePut(PagePut m)
    {
        if (world.Refcount[m.Page.Value] < world.Idle)
        {
            BelowIdle(m.Page, $"{world.T(m.Task)} put it", [world.T(m.Task)]);
        }
    }

    public void PageUnmapped(PageUnmapped m)
    {
        if (world.Refcount[m.Page.Value] < world.Idle)
        {
            BelowIdle(m.Page, "a PTE's reference went", []);
        }
    }

    private void BelowIdle(PageId page, string how, string[] actors) =>
        findings.Report(InvariantId.S2, Verdict.Safety,
            $"{World.P(page)}'s refcount dropped to {world.Refcount[page.Value]}, below the idle count {world.Idle}, when {how}",
            [.. actors, World.P(page)]);

    /// <summary>Every task has ended: every pin must have been given back.</summary>
    public void AtQuiescence()
    {
        foreach (var key in world.Pins.Keys)
        {
            findings.Report(InvariantId.S2, Verdict.Safety,
                $"{world.T(World.PinTask(key))} ended still holding a reference on {World.P(World.PinPage(key))}",
                [world.T(World.PinTask(key)), World.P(World.PinPage(key))]);
            return;
        }
    }
}
