using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;

namespace DaxSim.Host.Checking;

/// <summary>
/// S4 mappings: after a layout change no PTE and no DAX entry is left for the pages it
/// removed (its range, or past the new size). A DAX entry that the 6.15 break should have
/// deleted and truncate found is judged when the layout change ends, so that a pinned block
/// it frees (S1) comes first.
/// </summary>
public sealed class MappingMonitor(World world, Findings findings)
{
    private (string Description, string Actor, long Time, TraceEvent Event)? _leftover;

    public void EntryLeftByBreak(EntryLeftByBreak m) =>
        _leftover ??= (
            $"truncate_inode_pages found the DAX entry of {world.F(m.File)} page {m.Index} (block {m.Page.Value}), " +
            "which the layout break should have deleted (the kernel warns in truncate_folio_batch_exceptionals)",
            $"mapping-{world.Scenario.FileName(m.File)}", world.Now, m);

    private void ReportLeftover()
    {
        if (_leftover is { } left && findings.Held is null)
        {
            var observing = world.Observing;
            world.Observing = left.Event;
            findings.Report(InvariantId.S4, Verdict.Safety, left.Description, [left.Actor], at: left.Time);
            world.Observing = observing;
        }
    }

    public void LayoutChanged(LayoutChanged m)
    {
        ReportLeftover();
        var f = m.File.Value;
        var pte = FirstLeft(world.PteCount[f].Keys, m);
        var entry = FirstLeft(world.Entries[f], m);
        if (pte >= 0 || entry >= 0)
        {
            var what = pte >= 0 ? $"a PTE for page {pte}" : $"a DAX entry for page {entry}";
            findings.Report(InvariantId.S4, Verdict.Safety,
                $"after {world.T(m.Task)}'s {m.Op.JsonName()} of {world.F(m.File)} (size {m.Size}) there is still {what}",
                [world.T(m.Task), $"mapping-{world.Scenario.FileName(m.File)}"]);
        }
    }

    /// <summary>The lowest index a layout change should have left without a PTE or entry, or -1.</summary>
    private static int FirstLeft(Dictionary<int, int>.KeyCollection indexes, LayoutChanged m)
    {
        var first = -1;
        foreach (var i in indexes)
        {
            if (Left(i, m) && (first < 0 || i < first))
            {
                first = i;
            }
        }
        return first;
    }

    private static int FirstLeft(HashSet<int> indexes, LayoutChanged m)
    {
        var first = -1;
        foreach (var i in indexes)
        {
            if (Left(i, m) && (first < 0 || i < first))
            {
                first = i;
            }
        }
        return first;
    }

    private static bool Left(int i, LayoutChanged m) => (i >= m.First && i <= m.Last) || i >= m.Size;

    public void AtQuiescence() => ReportLeftover();
}
