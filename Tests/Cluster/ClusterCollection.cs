using Xunit;

namespace DaxSim.Tests.Cluster;

/// <summary>
/// Specs that start real `daxsim node` processes on 127.0.0.1 and judge liveness from
/// elapsed time: they run one at a time, so that they do not starve each other's members.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterCollection
{
    public const string Name = "cluster members in real processes";
}
