using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;

namespace DaxSim.Host.Cluster;

/// <summary>
/// A farm's runner and members, the same for seed units (SeedFarm) and systematic units
/// (SystematicFarmRunner): the runner's ActorSystem, its "farm-runner" inbox (the address the
/// members send the farm's messages to, in StartFarm), and the members started as
/// `daxsim run --runtime cluster` starts them (or found with --join), all Up, with the time that
/// took logged. Dispose stops all of it as <see cref="ClusterRuntime.StopAll"/> does: the
/// ActorSystem, then the members it started, then its directory; a start that fails stops what
/// it had started before the exception goes on.
/// </summary>
internal sealed class FarmMembers : IDisposable
{
    private readonly ActorSystem system;
    private readonly List<NodeProcess> children;
    private readonly string tempDir;
    private bool disposed;

    private FarmMembers(ActorSystem system, List<NodeProcess> children, string tempDir, BlockingCollection<IFarmMessage> inbox,
        IActorRef runner, IReadOnlyList<ClusterMember> members, TimeSpan timeToUp)
    {
        this.system = system;
        this.children = children;
        this.tempDir = tempDir;
        Inbox = inbox;
        Runner = runner;
        Members = members;
        TimeToUp = timeToUp;
    }

    /// <summary>The farm's messages, as the runner's inbox actor takes them.</summary>
    public BlockingCollection<IFarmMessage> Inbox { get; }

    /// <summary>The runner's inbox actor: where the members send the farm's messages.</summary>
    public IActorRef Runner { get; }

    /// <summary>The members, all Up.</summary>
    public IReadOnlyList<ClusterMember> Members { get; }

    /// <summary>The members the runner started (none with --join): Dispose stops them.</summary>
    public IReadOnlyList<NodeProcess> Children => children;

    /// <summary>How long the members took to be Up (the ActorSystem's start left out).</summary>
    public TimeSpan TimeToUp { get; }

    /// <summary>
    /// Starts the runner and the members and logs them. <paramref name="paused"/>, when given,
    /// is stopped while the members start: a search's time leaves out the members' start,
    /// which is printed apart.
    /// </summary>
    public static FarmMembers Start(ClusterRunOptions cluster, Stopwatch? paused = null)
    {
        var log = cluster.Log ?? TextWriter.Null;
        var tempDir = Directory.CreateTempSubdirectory("daxsim-farm-").FullName;
        var children = new List<NodeProcess>();
        ActorSystem? system = null;
        try
        {
            system = ActorSystem.Create(cluster.Runner.ClusterName, ClusterConfig.Runner(cluster.Runner));
            var inbox = new BlockingCollection<IFarmMessage>();
            var runner = system.ActorOf(Props.Create(() => new SeedFarm.FarmInbox(inbox)), "farm-runner");
            paused?.Stop();
            var upClock = Stopwatch.StartNew();
            var members = new ClusterRuntime(cluster).StartMembers(system, children, tempDir);
            var timeToUp = upClock.Elapsed;
            paused?.Start();
            log.WriteLine($"  cluster: {members.Count} member(s) up in {timeToUp.TotalSeconds:F2} s: " +
                          string.Join(", ", members.Select(m => $"node {m.Index} {m.Address.Host}:{m.Address.Port}")));
            return new FarmMembers(system, children, tempDir, inbox, runner, members, timeToUp);
        }
        catch
        {
            ClusterRuntime.StopAll(system, children, tempDir);
            throw;
        }
    }

    public void Dispose()
    {
        if (disposed)
        {
            return;
        }
        disposed = true;
        ClusterRuntime.StopAll(system, children, tempDir);
    }
}
