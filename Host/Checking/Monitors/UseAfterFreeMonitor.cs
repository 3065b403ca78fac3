using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;

namespace DaxSim.Host.Checking;

/// <summary>
/// S1 use-after-free: no block is freed or reused while a task pins its page, nor freed while
/// a pNFS client still holds the layout lease that lets it do I/O to it. The finding says
/// what it damaged: a block freed under a pin whose DMA is still to come is held back until
/// that DMA lands (data corrupted) or the pin goes without it (only the contract broken).
/// </summary>
public sealed class UseAfterFreeMonitor
{
    private readonly World _world;
    private readonly Findings _findings;

    // Per pin (task, page): how many of its pins have had their DMA (a DIO pins a page once
    // and its DMA reaches it once).
    private readonly Dictionary<long, int> _dmaDone = new();

    // The block of the held-back finding.
    private PageId _heldBlock;

    // Per task: the lease holders of the file when its layout change last took IOLOCK
    // exclusive, as long as they have held it since; those leases must be gone before the
    // change frees a block (a lease taken after that is not one the change had to break).
    // One list per task, refilled: no allocation per lock grant.
    private readonly FileId?[] _leasesAheadOn;
    private readonly List<TaskId>[] _leasesAhead;

    public UseAfterFreeMonitor(World world, Findings findings)
    {
        _world = world;
        _findings = findings;
        var tasks = world.Scenario.Tasks.Count;
        _leasesAheadOn = new FileId?[tasks];
        _leasesAhead = new List<TaskId>[tasks];
        for (var t = 0; t < tasks; t++)
        {
            _leasesAhead[t] = [];
        }
    }

    /// <summary>After the world dropped the reference.</summary>
    public void PagePut(PagePut m, long key)
    {
        if (_dmaDone.TryGetValue(key, out var done))
        {
            if (done <= 1)
            {
                _dmaDone.Remove(key);
            }
            else
            {
                _dmaDone[key] = done - 1;
            }
        }
        // The freed block's pins are going without the DMA that was to come: only the contract broke.
        if (_findings.Held is not null && _heldBlock == m.Page && DmaOutstanding(m.Page) == 0)
        {
            _findings.ReleaseHeld();
        }
    }

    /// <summary>The page's pins whose DMA is still to come.</summary>
    private int DmaOutstanding(PageId page)
    {
        var outstanding = 0;
        foreach (var (key, pin) in _world.Pins)
        {
            if (World.PinPage(key) == page)
            {
                outstanding += pin.Count - _dmaDone.GetValueOrDefault(key);
            }
        }
        return outstanding - _world.SpeculativeOn[page.Value];
    }

    public void BlockFreed(BlockFreed m)
    {
        var block = m.Block.Value;
        if (_world.Pinned[block] > 0)
        {
            PinnedBlockGone(m.Block,
                $"{_world.F(m.File)} freed block {block} while {World.P(m.Block)} has refcount {_world.Refcount[block]}" +
                $" (pinned by {Pinners(m.Block)})",
                [World.P(m.Block), $"inode-{_world.Scenario.FileName(m.File)}", "device", .. _world.PinnerActors(m.Block)]);
            return;
        }
        CheckLeasesGone(m);
    }

    public void BlockAllocated(BlockAllocated m)
    {
        var block = m.Block.Value;
        if (_world.Pinned[block] > 0)
        {
            PinnedBlockGone(m.Block,
                $"block {block} was reallocated to {_world.F(m.File)} while {World.P(m.Block)} has refcount " +
                $"{_world.Refcount[block]} (pinned by {Pinners(m.Block)})",
                [World.P(m.Block), "device", .. _world.PinnerActors(m.Block)]);
        }
    }

    private string Pinners(PageId page) => string.Join(", ", _world.PinnerActors(page));

    // A pinned block was freed or reused. If every pin on it has had its DMA, no data can be
    // hurt any more: the contract broke, reported now. Otherwise the finding waits for that
    // DMA: landing in the block now (data corrupted, DmaLanded), or the pin going without it.
    private void PinnedBlockGone(PageId block, string description, IEnumerable<string> actors)
    {
        if (_findings.Violation is not null || _findings.Held is not null)
        {
            return;
        }
        var found = _findings.New(InvariantId.S1, Verdict.Safety, description, actors, damage: Damage.PinnedBlockFreed);
        if (DmaOutstanding(block) == 0)
        {
            _findings.Report(found);
            return;
        }
        _findings.Hold(found);
        _heldBlock = block;
    }

    public void DmaLanded(DmaLanded m)
    {
        var key = World.PinKey(m.Task, m.Page);
        _dmaDone[key] = _dmaDone.GetValueOrDefault(key) + 1;
        var owner = _world.Owner[m.Page.Value];
        if (owner is { } o && o.File == m.File && o.Index == m.Index)
        {
            return;
        }
        var now = owner is { } x ? $"now belongs to {_world.F(x.File)} page {x.Index}" : "is now free";
        var how = m.FromPage
            ? $"DMA of {_world.T(m.Task)}'s write, meant to read {_world.F(m.File)} page {m.Index}, read block {m.Page.Value}, which {now}"
            : $"DMA of {_world.T(m.Task)} meant for {_world.F(m.File)} page {m.Index} landed in block {m.Page.Value}, which {now}";
        var earlier = _findings.Held is { } held ? $" (earlier: {held.Description})" : "";
        _findings.DropHeld();
        _findings.Report(InvariantId.S1, Verdict.Safety, how + earlier, [_world.T(m.Task), World.P(m.Page)],
            damage: Damage.DataCorrupted);
    }

    // The layout change that frees the block holds the file's IOLOCK exclusive; the layout
    // leases held when it last took that lock must be gone (returned, or revoked when the lease
    // break time ran out): a pNFS client still holding one may still do I/O to the block.
    // (Only layout changes take IOLOCK exclusive. Not keyed on the task's operation: on the
    // cluster runtime the operation's start comes from another member and may be merged after
    // the inode's grant.)
    public void LockAcquired(LockAcquired m)
    {
        if (m.Kind != LockKind.IoLock || m.Mode != LockMode.Exclusive)
        {
            return;
        }
        var t = m.Task.Value;
        _leasesAheadOn[t] = m.File;
        var ahead = _leasesAhead[t];
        ahead.Clear();
        foreach (var holder in _world.LeaseHolders[m.File.Value])
        {
            if (holder != m.Task)
            {
                ahead.Add(holder);
            }
        }
    }

    public void LeaseReleased(LeaseReleased m)
    {
        for (var t = 0; t < _leasesAheadOn.Length; t++)
        {
            if (_leasesAheadOn[t] == m.File)
            {
                _leasesAhead[t].Remove(m.Task);
            }
        }
    }

    private void CheckLeasesGone(BlockFreed m)
    {
        var state = _world.Locks[m.File.Value, (int)LockKind.IoLock];
        foreach (var (holder, mode) in state.Holders)
        {
            if (mode != LockMode.Exclusive || _leasesAheadOn[holder.Value] != m.File)
            {
                continue;
            }
            foreach (var lessee in _leasesAhead[holder.Value])
            {
                _findings.Report(InvariantId.S1, Verdict.Safety,
                    $"{_world.T(holder)}'s {_world.Ops[holder.Value]?.Op.JsonName() ?? "layout change"} freed block {m.Block.Value} of " +
                    $"{_world.F(m.File)} while {_world.T(lessee)} still holds a layout lease on the file (it was never recalled)",
                    [_world.T(holder), _world.T(lessee), $"inode-{_world.Scenario.FileName(m.File)}", World.P(m.Block)],
                    damage: Damage.LeasedBlockFreed);
                return;
            }
        }
    }

    /// <summary>The run ends: a held finding is the finding.</summary>
    public void AtQuiescence() => _findings.ReleaseHeld();
}
