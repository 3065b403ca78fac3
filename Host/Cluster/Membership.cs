using System.Globalization;

namespace DaxSim.Host.Cluster;

/// <summary>Where one member of a cluster run stands, as the runner sees it (docs/cluster.md).</summary>
public enum MemberState
{
    /// <summary>Asked to prepare the run, not yet answered.</summary>
    Preparing,

    Up,

    /// <summary>Up, but on a side of a partition other than the largest, until heal.</summary>
    UpPartitioned,

    /// <summary>Some member's failure detector reports it unreachable.</summary>
    Unreachable,

    UnreachablePartitioned,

    /// <summary>The runner crashed it (crashNode); the cluster has not removed it yet.</summary>
    Crashed,

    CrashedRemoved,

    /// <summary>Removed without a crash: the split-brain resolver downed it.</summary>
    Downed,
}

/// <summary>What a member's agent reports about another (MemberReport.Status on the wire).</summary>
public enum MemberChange
{
    Unreachable,
    Reachable,
    Removed,
}

/// <summary>
/// The runner's view of the run's members: who is preparing, up, unreachable (and from
/// whom), partitioned off, crashed, removed; when each crashed or was removed, and when a
/// lost member's tasks had given back their last pin. Times are ticks since the run's start.
/// </summary>
public sealed class Membership
{
    private readonly HashSet<int> _preparing;
    private readonly Dictionary<int, HashSet<int>> _unreachable = new(); // node → the reporters that see it unreachable
    private readonly Dictionary<int, long> _crashedAt = new();
    private readonly Dictionary<int, long> _removedAt = new();
    private readonly Dictionary<int, long> _pinsReleasedAt = new();
    private readonly HashSet<int> _partitioned = new(); // nodes cut off from the largest group, until heal

    public Membership(IEnumerable<int> nodes)
    {
        Nodes = nodes.ToList();
        _preparing = Nodes.ToHashSet();
    }

    public IReadOnlyList<int> Nodes { get; }

    /// <summary>The wire's word for a change: "unreachable", "reachable", "removed"; null for another.</summary>
    public static MemberChange? ParseChange(string status) => status switch
    {
        "unreachable" => MemberChange.Unreachable,
        "reachable" => MemberChange.Reachable,
        "removed" => MemberChange.Removed,
        _ => null,
    };

    public IEnumerable<int> Preparing => _preparing.Order();

    public void Prepared(int node) => _preparing.Remove(node);

    public bool IsCrashed(int node) => _crashedAt.ContainsKey(node);

    public bool IsRemoved(int node) => _removedAt.ContainsKey(node);

    public long? CrashedAt(int node) => _crashedAt.TryGetValue(node, out var t) ? t : null;

    public long? RemovedAt(int node) => _removedAt.TryGetValue(node, out var t) ? t : null;

    public long? PinsReleasedAt(int node) => _pinsReleasedAt.TryGetValue(node, out var t) ? t : null;

    /// <summary>Neither crashed nor removed: the run still has this member.</summary>
    public bool IsPresent(int node) => !IsCrashed(node) && !IsRemoved(node);

    /// <summary>Something outside the trace may still change: a member unreachable, or crashed and not yet removed.</summary>
    public bool Unsettled => _unreachable.Values.Any(s => s.Count > 0) || _crashedAt.Keys.Any(c => !IsRemoved(c));

    public void Crashed(int node, long at) => _crashedAt[node] = at;

    /// <summary>
    /// True the first time the node is seen removed. Several members report it, each with
    /// the time it saw it; the earliest counts.
    /// </summary>
    public bool Removed(int node, long at)
    {
        _unreachable.Remove(node);
        if (_removedAt.TryGetValue(node, out var seen))
        {
            _removedAt[node] = Math.Min(seen, at);
            return false;
        }
        _removedAt[node] = at;
        return true;
    }

    /// <summary>True when <paramref name="reporter"/> is the first to see the node unreachable.</summary>
    public bool SeenUnreachable(int node, int reporter) => Reporters(node).Add(reporter) && Reporters(node).Count == 1;

    /// <summary>True when no reporter sees the node unreachable any more.</summary>
    public bool SeenReachable(int node, int reporter) => Reporters(node).Remove(reporter) && Reporters(node).Count == 0;

    private HashSet<int> Reporters(int node) =>
        _unreachable.TryGetValue(node, out var set) ? set : _unreachable[node] = [];

    public void Partitioned(IEnumerable<int> cutOff) => _partitioned.UnionWith(cutOff);

    public void Healed() => _partitioned.Clear();

    /// <summary>True the first time: the lost node's tasks hold no pin any more.</summary>
    public bool PinsReleased(int node, long at) => _pinsReleasedAt.TryAdd(node, at);

    /// <summary>A member whose tasks' pins count as lost from <paramref name="at"/> on: crashed by then, or removed.</summary>
    public bool LostBy(int node, long at) =>
        _crashedAt.TryGetValue(node, out var crashed) ? at >= crashed : IsRemoved(node);

    public MemberState State(int node)
    {
        var unreachable = _unreachable.TryGetValue(node, out var s) && s.Count > 0;
        var partitioned = _partitioned.Contains(node);
        return (IsCrashed(node), IsRemoved(node)) switch
        {
            (true, true) => MemberState.CrashedRemoved,
            (true, false) => MemberState.Crashed,
            (false, true) => MemberState.Downed,
            _ when _preparing.Contains(node) => MemberState.Preparing,
            _ when unreachable => partitioned ? MemberState.UnreachablePartitioned : MemberState.Unreachable,
            _ => partitioned ? MemberState.UpPartitioned : MemberState.Up,
        };
    }

    /// <summary>
    /// A task on this member may still run (doing DMA into the pages it pinned), cut off from
    /// the rest: crashed, partitioned or unreachable, and not yet removed. What it holds stays
    /// until the cluster downs it.
    /// </summary>
    public bool CutOff(int node) => State(node) is MemberState.Crashed or MemberState.UpPartitioned
        or MemberState.Unreachable or MemberState.UnreachablePartitioned;

    /// <summary>The member's state in words, as the report's "status" has it (docs/cluster.md).</summary>
    public string Describe(int node) => State(node) switch
    {
        MemberState.CrashedRemoved => "crashed, removed",
        MemberState.Crashed => "crashed, not yet removed",
        MemberState.Downed => "removed (downed)",
        MemberState.UnreachablePartitioned => "unreachable, partitioned",
        MemberState.Unreachable when _unreachable[node] is var s =>
            $"unreachable from node{(s.Count > 1 ? "s" : "")} {string.Join(", ", s.Order().Select(i => i.ToString(CultureInfo.InvariantCulture)))}",
        MemberState.UpPartitioned => "up, partitioned from the majority",
        MemberState.Preparing => "preparing",
        _ => "up",
    };
}
