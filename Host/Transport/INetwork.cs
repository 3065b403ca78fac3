using DaxSim.Protocol.Messages;

namespace DaxSim.Transport;

/// <summary>Which entities can reach which now: a partition or a crashed node cuts some off.</summary>
public interface INetwork
{
    bool Reachable(Endpoint from, Endpoint to);
}

/// <summary>A network that never fails.</summary>
public sealed class PerfectNetwork : INetwork
{
    public static readonly PerfectNetwork Instance = new();

    public bool Reachable(Endpoint from, Endpoint to) => true;
}
