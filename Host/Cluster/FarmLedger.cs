namespace DaxSim.Host.Cluster;

/// <summary>Seeds First..First+Count-1 (a unit of a seed farm).</summary>
public readonly record struct SeedRange(ulong First, long Count)
{
    /// <summary>One past the last seed.</summary>
    public ulong End => First + (ulong)Count;

    public bool Contains(ulong seed) => seed >= First && seed < End;

    public override string ToString() => Count == 1 ? $"{First}" : $"{First}..{End - 1}";
}

/// <summary>
/// The seed farm's bookkeeping, plain code (no Akka): the seeds First..First+Seeds-1 cut into
/// units of UnitSeeds, each pending, leased (to a holder, since a time) or done, and the
/// lowest violating seed known (<see cref="StopAt"/>). The coordinator (FarmCoordinator)
/// leases units from it; the runner keeps one too, as the truth of what is done: each unit
/// is counted once, by its first completion (<see cref="Complete"/> says whether it was).
///
/// The lowest-seed rule, as explore has it: once a finding at seed s is known, units that
/// start at or above s are not leased, and the units below s still finish; the farm is
/// finished when every unit that starts below s (every unit, without a finding) is done.
/// A lease that expires, or whose holder leaves the cluster, goes back to the queue; the
/// lowest pending unit is leased first.
///
/// A systematic farm (explore --strategy systematic --runtime cluster) keeps one with one
/// "seed" per unit, numbered from 0 (FirstSeed 0, UnitSeeds 1): its units are first
/// deviations ordered by (depth, order, point, position), a finding in unit u is "seed" u, so the
/// lowest-seed rule is the lowest-unit rule; <see cref="DepthStarts"/> adds the depth barrier.
/// </summary>
public sealed class FarmLedger
{
    private readonly SortedSet<int> _pending = [];
    private readonly Dictionary<int, (string Holder, DateTime Since)> _leases = new();
    private readonly HashSet<int> _done = [];

    public FarmLedger(ulong firstSeed, long seeds, int unitSeeds, TimeSpan leaseTimeout)
    {
        if (seeds < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(seeds), seeds, "a farm has at least one seed");
        }
        if (unitSeeds < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(unitSeeds), unitSeeds, "a unit has at least one seed");
        }
        if (firstSeed > ulong.MaxValue - (ulong)seeds + 1)
        {
            throw new ArgumentOutOfRangeException(nameof(seeds), seeds, "the seeds run past 2^64");
        }
        FirstSeed = firstSeed;
        Seeds = seeds;
        UnitSeeds = unitSeeds;
        LeaseTimeout = leaseTimeout;
        var units = (seeds + unitSeeds - 1) / unitSeeds;
        if (units > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(seeds), seeds, "too many units: make them larger");
        }
        Units = (int)units;
        for (var u = 0; u < Units; u++)
        {
            _pending.Add(u);
        }
    }

    public ulong FirstSeed { get; }

    public long Seeds { get; }

    public int UnitSeeds { get; }

    public TimeSpan LeaseTimeout { get; }

    public int Units { get; }

    /// <summary>The lowest violating seed known, or null.</summary>
    public ulong? StopAt { get; private set; }

    public int PendingCount => _pending.Count;

    public int LeasedCount => _leases.Count;

    public int DoneCount => _done.Count;

    public IEnumerable<int> Done => _done.Order();

    /// <summary>Who holds each leased unit.</summary>
    public IReadOnlyDictionary<int, string> Leases => _leases.ToDictionary(l => l.Key, l => l.Value.Holder);

    public SeedRange RangeOf(int unit)
    {
        if (unit < 0 || unit >= Units)
        {
            throw new ArgumentOutOfRangeException(nameof(unit), unit, $"the farm has units 0..{Units - 1}");
        }
        var first = FirstSeed + (ulong)unit * (ulong)UnitSeeds;
        var count = Math.Min(UnitSeeds, Seeds - (long)unit * UnitSeeds);
        return new SeedRange(first, count);
    }

    public bool IsUnit(int unit) => unit >= 0 && unit < Units;

    /// <summary>
    /// A systematic farm's depth barrier (docs/cluster.md, "A seed farm"): the first unit of
    /// each depth, ascending (units are numbered depth by depth). A unit is leased only once
    /// every unit of the depths before its own is done, so a finding has the fewest delays any
    /// finding has. Null (seed farms): no barrier.
    /// </summary>
    public IReadOnlyList<int>? DepthStarts
    {
        get => _depthStarts;
        init
        {
            if (value is not null && (value.Count == 0 || value[0] != 0 || value.Zip(value.Skip(1)).Any(p => p.Item2 <= p.Item1) ||
                                      value[^1] >= Units))
            {
                throw new ArgumentOutOfRangeException(nameof(DepthStarts), string.Join(", ", value),
                    $"depth starts must rise from unit 0 and stay below {Units}");
            }
            _depthStarts = value;
        }
    }

    private readonly IReadOnlyList<int>? _depthStarts;

    /// <summary>The index in <see cref="DepthStarts"/> of the unit's depth (0 without a barrier).</summary>
    public int DepthIndexOf(int unit)
    {
        if (_depthStarts is null)
        {
            return 0;
        }
        var i = 0;
        while (i + 1 < _depthStarts.Count && _depthStarts[i + 1] <= unit)
        {
            i++;
        }
        return i;
    }

    /// <summary>Pending units that could be leased now (wanted, past the depth barrier).</summary>
    public int OpenPendingCount()
    {
        var n = 0;
        var openDepth = -1;
        foreach (var u in _pending)
        {
            if (!Wanted(u))
            {
                break;
            }
            var depth = DepthIndexOf(u);
            if (depth != openDepth)
            {
                // Open is the same for every unit of a depth.
                if (!Open(u))
                {
                    break;
                }
                openDepth = depth;
            }
            n++;
        }
        return n;
    }

    /// <summary>Past the depth barrier: every unit of the depths before this unit's is done (always, without a barrier).</summary>
    public bool Open(int unit)
    {
        if (_depthStarts is null)
        {
            return true;
        }
        var start = _depthStarts[DepthIndexOf(unit)];
        return (_pending.Count == 0 || _pending.Min >= start) && !_leases.Keys.Any(l => l < start);
    }

    /// <summary>Still wanted: the unit starts below the lowest violating seed known (or there is none).</summary>
    public bool Wanted(int unit) => StopAt is not { } s || RangeOf(unit).First < s;

    /// <summary>True when every wanted unit is done.</summary>
    public bool Finished => !_pending.Any(Wanted) && !_leases.Keys.Any(Wanted);

    /// <summary>Leases the lowest pending wanted unit to <paramref name="holder"/>; false when there is none now.</summary>
    public bool TryLease(string holder, DateTime now, out int unit)
    {
        unit = -1;
        foreach (var u in _pending)
        {
            if (!Wanted(u) || !Open(u))
            {
                // The queue is in order: every unit after this one starts higher (and is as deep or deeper).
                break;
            }
            unit = u;
            break;
        }
        if (unit < 0)
        {
            return false;
        }
        _pending.Remove(unit);
        _leases[unit] = (holder, now);
        return true;
    }

    /// <summary>
    /// A unit's result: true the first time the unit is done (count it), false for a
    /// duplicate (a unit run twice after its lease expired) or a unit the farm does not have.
    /// <paramref name="violatingSeed"/>: the unit's lowest violating seed, if it has one.
    /// </summary>
    public bool Complete(int unit, ulong? violatingSeed)
    {
        if (!IsUnit(unit) || !_done.Add(unit))
        {
            return false;
        }
        _pending.Remove(unit);
        _leases.Remove(unit);
        if (violatingSeed is { } s && RangeOf(unit).Contains(s) && (StopAt is null || s < StopAt))
        {
            StopAt = s;
        }
        return true;
    }

    /// <summary>Done elsewhere (a coordinator that starts again learns them from the runner); with the lowest violating seed known.</summary>
    public void MarkDone(IEnumerable<int> units, ulong? stopAt)
    {
        foreach (var u in units.Where(IsUnit))
        {
            _done.Add(u);
            _pending.Remove(u);
            _leases.Remove(u);
        }
        if (stopAt is { } s && s >= FirstSeed && s - FirstSeed < (ulong)Seeds && (StopAt is null || s < StopAt))
        {
            StopAt = s;
        }
    }

    /// <summary>Leases older than the lease timeout go back to the queue; returns their units.</summary>
    public IReadOnlyList<int> Expire(DateTime now)
    {
        var expired = _leases.Where(l => now - l.Value.Since >= LeaseTimeout).Select(l => l.Key).Order().ToList();
        foreach (var u in expired)
        {
            _leases.Remove(u);
            _pending.Add(u);
        }
        return expired;
    }

    /// <summary>The holder is gone (its member left the cluster): its leases go back to the queue; returns their units.</summary>
    public IReadOnlyList<int> Release(string holder)
    {
        var released = _leases.Where(l => l.Value.Holder == holder).Select(l => l.Key).Order().ToList();
        foreach (var u in released)
        {
            _leases.Remove(u);
            _pending.Add(u);
        }
        return released;
    }

    /// <summary>The done units' seed ranges, in order, adjacent ones merged.</summary>
    public IReadOnlyList<SeedRange> CompletedRanges()
    {
        var ranges = new List<SeedRange>();
        foreach (var r in _done.Order().Select(RangeOf))
        {
            if (ranges.Count > 0 && ranges[^1].End == r.First)
            {
                ranges[^1] = ranges[^1] with { Count = ranges[^1].Count + r.Count };
            }
            else
            {
                ranges.Add(r);
            }
        }
        return ranges;
    }
}
