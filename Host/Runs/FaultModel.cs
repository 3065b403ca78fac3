using DaxSim.Actors;
using DaxSim.Protocol.Scenarios;
using DaxSim.Transport;

namespace DaxSim.Host.Runs;

/// <summary>
/// What a scenario's node and message faults ask of a run: reliable delivery when messages
/// can be lost (message faults, node faults, a real network), a journal for the entities
/// when a node can crash, and the L3 allowance for the retries that lost messages cost.
/// </summary>
public static class FaultModel
{
    /// <summary>How many lost or late messages one operation may suffer before L3 calls it starved.</summary>
    public const int RetriesAllowedPerOp = 50;

    public static bool HasNodeFaults(Scenario scenario) =>
        scenario.Faults.Any(f => f is CrashNodeFault or PartitionFault or HealFault);

    public static IReadOnlyList<MessageFault> MessageFaults(Scenario scenario) =>
        scenario.Faults.OfType<MessageFault>().ToList();

    /// <summary>Plain delivery unless the scenario can lose messages or <paramref name="network"/> says a real network can.</summary>
    public static DeliveryOptions Delivery(Scenario scenario, ulong seed, bool network = false)
    {
        var messageFaults = MessageFaults(scenario);
        if (!network && messageFaults.Count == 0 && !HasNodeFaults(scenario))
        {
            return DeliveryOptions.Plain;
        }
        return new DeliveryOptions { Reliable = true, MessageFaults = messageFaults, Seed = seed };
    }

    /// <summary>
    /// Added to every L3 bound when messages can be lost or delayed: each of up to
    /// RetriesAllowedPerOp messages of an operation may wait one retry interval and the
    /// longest delay fault.
    /// </summary>
    public static TimeSpan L3Slack(Scenario scenario, DeliveryOptions delivery)
    {
        if (!delivery.Reliable || delivery.MessageFaults.Count == 0)
        {
            return TimeSpan.Zero;
        }
        var maxDelay = delivery.MessageFaults.Select(f => f.Max ?? TimeSpan.Zero).Max();
        return (delivery.RetryInterval + maxDelay) * RetriesAllowedPerOp;
    }
}
