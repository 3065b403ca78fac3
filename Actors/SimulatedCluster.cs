using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Scenarios;
using DaxSim.Transport;

namespace DaxSim.Actors;

/// <summary>
/// The nodes of a cluster, simulated in one process (the deterministic runtime's model of
/// the cluster runtime): where each task and entity lives, which nodes are up, crashed or
/// removed, and which can reach which during a partition.
/// <list type="bullet">
/// <item>A task lives on its scenario <c>node</c>, or on node (task id mod N).</item>
/// <item>An entity lives on a home node picked from its id, as a shard allocation would;
/// once that node is removed, on the next node (in index order, wrapping) that is not,
/// as a shard is rebalanced to a surviving node.</item>
/// <item>A crashed node reaches nobody and nobody reaches it until it is removed; a
/// partition cuts the nodes of different groups off from each other (nodes in no group
/// are unaffected). The run's own control actor is outside the nodes and reaches everyone.</item>
/// </list>
/// </summary>
public sealed class SimulatedCluster : INetwork
{
    /// <summary>
    /// How long the simulated cluster takes to remove a crashed node, or to down the
    /// minority of a partition: the failure detector's acceptable pause plus the
    /// split-brain resolver's stable-after, as the cluster runtime is configured (docs/cluster.md).
    /// </summary>
    public static readonly TimeSpan RemovalDelay = TimeSpan.FromSeconds(5);

    private enum NodeState
    {
        Up,
        Crashed,
        Removed,
    }

    private readonly Scenario _scenario;
    private readonly NodeState[] _state;
    private readonly int[] _group;

    public SimulatedCluster(Scenario scenario, int nodes)
    {
        _scenario = scenario;
        Nodes = nodes;
        _state = new NodeState[nodes];
        _group = Enumerable.Repeat(-1, nodes).ToArray();
    }

    public int Nodes { get; }

    /// <summary>The node count a scenario needs: every node it names, and at least 3 (the smallest cluster with a majority after one loss).</summary>
    public static int NodesFor(Scenario scenario) => Math.Max(3, 1 + scenario.Tasks.Select(t => t.Node ?? 0)
        .Concat(scenario.Faults.SelectMany(f => f switch
        {
            CrashNodeFault c => [c.Node],
            PartitionFault p => p.Between.SelectMany(g => g),
            _ => Enumerable.Empty<int>(),
        }))
        .DefaultIfEmpty(0).Max());

    public int NodeOf(TaskId task) => _scenario.NodeOf(task, Nodes);

    /// <summary>The node an entity lives on now; for a task, its node; null for the control actor.</summary>
    public int? NodeOf(Endpoint e)
    {
        switch (e.Kind)
        {
            case EndpointKind.Task:
                return NodeOf(new TaskId(e.Id));
            case EndpointKind.Control:
                return null;
        }
        var home = (int)(((uint)e.Kind * 7919u + (uint)e.Id) % (uint)Nodes);
        for (var i = 0; i < Nodes; i++)
        {
            var node = (home + i) % Nodes;
            if (_state[node] != NodeState.Removed)
            {
                return node;
            }
        }
        return home;
    }

    public bool IsUp(int node) => _state[node] == NodeState.Up;

    public bool Reachable(Endpoint from, Endpoint to)
    {
        var a = NodeOf(from);
        var b = NodeOf(to);
        if (a is not { } x || b is not { } y)
        {
            return true;
        }
        if (_state[x] != NodeState.Up || _state[y] != NodeState.Up)
        {
            return false;
        }
        return _group[x] < 0 || _group[y] < 0 || _group[x] == _group[y];
    }

    public void Crash(int node) => _state[node] = NodeState.Crashed;

    public void Remove(int node) => _state[node] = NodeState.Removed;

    public void Partition(IReadOnlyList<IReadOnlyList<int>> groups)
    {
        Array.Fill(_group, -1);
        for (var g = 0; g < groups.Count; g++)
        {
            foreach (var node in groups[g])
            {
                if (node < Nodes)
                {
                    _group[node] = g;
                }
            }
        }
    }

    public void Heal() => Array.Fill(_group, -1);

    /// <summary>
    /// Keep-majority, as the split-brain resolver decides it: the group with the most
    /// nodes that are up survives (a tie goes to the group with the lowest node); the up
    /// nodes of every other group are to be downed.
    /// </summary>
    public IReadOnlyList<int> Losers()
    {
        var groups = Enumerable.Range(0, Nodes).Where(n => _group[n] >= 0 && IsUp(n)).GroupBy(n => _group[n])
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Min()).ToList();
        return groups.Skip(1).SelectMany(g => g).Order().ToList();
    }
}
