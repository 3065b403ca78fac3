using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Cluster;
using AkkaCluster = Akka.Cluster.Cluster;
using MemberStatus = Akka.Cluster.MemberStatus;

namespace DaxSim.Host.Cluster;

/// <summary>A member that will not join: a seed speaks another protocol version.</summary>
public sealed class JoinRefusedException(string message) : Exception(message);

/// <summary>
/// One cluster member in this process (`daxsim node`, and the tests that start members in
/// process): its ActorSystem (named after the cluster), its agent at /user/agent, the
/// protocol-version check against the seeds, then the join.
/// </summary>
public sealed class NodeHost : IDisposable
{
    private NodeHost(ActorSystem system, NodeSettings settings)
    {
        System = system;
        Settings = settings;
        Cluster = AkkaCluster.Get(system);
        Agent = system.ActorOf(NodeAgent.Props(settings), "agent");
    }

    public ActorSystem System { get; }

    public NodeSettings Settings { get; }

    public AkkaCluster Cluster { get; }

    public IActorRef Agent { get; }

    /// <summary>Where this member listens, as others address it.</summary>
    public Address Address => Cluster.SelfAddress;

    /// <summary>
    /// Starts the member and joins: the seeds (the first seed that is this member joins
    /// itself), or, without seeds, itself (a new cluster). Before joining it asks the seeds'
    /// agents for their protocol version and refuses to join one that differs
    /// (JoinRefusedException). A PostgreSQL journal must accept a connection within
    /// <see cref="JournalWait"/> (JournalUnavailableException). <paramref name="listening"/> is told the bound address first.
    /// </summary>
    /// <summary>How long a member waits for its PostgreSQL journal to accept connections (it may be starting too).</summary>
    public static readonly TimeSpan JournalWait = TimeSpan.FromSeconds(60);

    public static NodeHost Start(NodeSettings settings, Action<Address>? listening = null, bool checkSeeds = true)
    {
        if (settings.Journal is { } journal)
        {
            if (PostgresJournal.IsUrl(journal))
            {
                PostgresJournal.Prepare(journal, JournalWait);
            }
            else
            {
                SqliteJournal.Prepare(journal);
            }
        }
        var config = ClusterConfig.Member(settings).WithFallback(Akka.Cluster.Sharding.ClusterSharding.DefaultConfig())
            .WithFallback(Akka.Cluster.Tools.Singleton.ClusterSingleton.DefaultConfig());
        var system = ActorSystem.Create(settings.ClusterName, config);
        // Sharding's serializers must be there before any other member's region talks to this one.
        Akka.Cluster.Sharding.ClusterSharding.Get(system);
        var host = new NodeHost(system, settings);
        try
        {
            listening?.Invoke(host.Address);
            var seeds = settings.Seeds.Select(s => ClusterConfig.AddressOf(settings, s.Host, s.Port)).ToList();
            if (checkSeeds)
            {
                host.CheckSeeds(seeds);
            }
            if (seeds.Count == 0)
            {
                host.Cluster.Join(host.Address);
            }
            else
            {
                host.Cluster.JoinSeedNodes(seeds);
            }
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    private void CheckSeeds(IReadOnlyList<Address> seeds)
    {
        var others = seeds.Where(s => s != Address).ToList();
        if (others.Count == 0)
        {
            return;
        }
        // A seed may be starting too: ask for a few seconds, then join anyway (the members
        // check every newcomer's version themselves, and down a wrong one).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (DateTime.UtcNow < deadline)
        {
            var asks = others.Select(seed => System.ActorSelection(new RootActorPath(seed) / "user" / "agent")
                .Ask<HelloReply>(new Hello(Settings.ProtocolVersion), TimeSpan.FromSeconds(1))).ToList();
            try
            {
                Task.WaitAll(asks.Cast<Task>().ToArray());
            }
            catch (AggregateException)
            {
                // some did not answer
            }
            foreach (var reply in asks.Where(a => a.IsCompletedSuccessfully).Select(a => a.Result))
            {
                if (reply.ProtocolVersion != Settings.ProtocolVersion)
                {
                    throw new JoinRefusedException(
                        $"refusing to join: seed {reply.Address} speaks daxsim.protocol-version {reply.ProtocolVersion}, " +
                        $"this member {Settings.ProtocolVersion}");
                }
            }
            if (asks.Any(a => a.IsCompletedSuccessfully))
            {
                return;
            }
        }
    }

    /// <summary>Leaves the cluster (CoordinatedShutdown) and waits, at most <paramref name="timeout"/>.</summary>
    public void Leave(TimeSpan timeout)
    {
        CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance).Wait(timeout);
        System.WhenTerminated.Wait(timeout);
    }

    public void Dispose()
    {
        if (!System.WhenTerminated.IsCompleted)
        {
            System.Terminate().Wait(TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>True once this member is Up.</summary>
    public bool IsUp => Cluster.SelfMember.Status == MemberStatus.Up;
}
