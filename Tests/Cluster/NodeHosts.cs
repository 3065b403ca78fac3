using DaxSim.Host.Cluster;
using Xunit;

namespace DaxSim.Tests.Cluster;

/// <summary>What the specs that start members in this process (NodeHost) share.</summary>
internal static class NodeHosts
{
    /// <summary>Where the member listens, as a seed for another.</summary>
    public static HostPort Of(NodeHost host) => new(host.Address.Host!, host.Address.Port!.Value);

    /// <summary>
    /// Polls a member's cluster state (not an actor's mailbox) until the condition holds,
    /// failing after <paramref name="bound"/>. Real time is the point: real members over real
    /// remoting, with their own gossip and failure-detector timers.
    /// </summary>
    public static void WaitFor(Func<bool> condition, TimeSpan bound, string what)
    {
        var deadline = DateTime.UtcNow + bound;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            Thread.Sleep(50);
        }
    }
}
