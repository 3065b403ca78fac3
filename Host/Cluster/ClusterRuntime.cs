using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using Akka.Event;
using DaxSim.Actors;
using DaxSim.Host.Checking;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Load;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;
using DaxSim.Transport;

namespace DaxSim.Host.Cluster;

/// <summary>How to run a scenario on a cluster.</summary>
public sealed record ClusterRunOptions
{
    public const int MaxNodes = 16;

    /// <summary>Members to start; with Join, null or the members to wait for.</summary>
    public int Nodes { get; init; } = 3;

    /// <summary>
    /// With Join: wait (at most UpTimeout) until this many members of role sim are Up, asking
    /// again while the member at Join does not answer yet (containers that start together);
    /// null: run on the members that are Up now.
    /// </summary>
    public int? JoinNodes { get; init; }

    /// <summary>Run on this already running cluster (a member's host:port) instead of starting members.</summary>
    public HostPort? Join { get; init; }

    /// <summary>The runner's own endpoint (port 0 by default) and the cluster's name and TLS settings.</summary>
    public NodeSettings Runner { get; init; } = new() { Port = 0 };

    /// <summary>Progress lines (members up, node faults, removals).</summary>
    public TextWriter? Log { get; init; }

    public TimeSpan UpTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Whether the run's entities journal their inputs. Null: in runs with node faults
    /// (crashNode, partition), whose entities must survive the member that hosts them; every
    /// input is a write to the one SQLite file all members share, tens of milliseconds under
    /// contention, so other runs go without. DAXSIM_PERSISTENCE=on|off sets it.
    /// </summary>
    public bool? Persistence { get; init; } =
        Environment.GetEnvironmentVariable("DAXSIM_PERSISTENCE")?.ToLowerInvariant() switch
        {
            "on" or "1" or "true" => true,
            "off" or "0" or "false" => false,
            _ => null,
        };

    /// <summary>
    /// Whether members batch what they send each other (NodeOutbox, NodeLink.cs) and actors
    /// coalesce their acks (DeliveryOptions.CoalescedAcks): yes, unless DAXSIM_BATCHING=off
    /// (the bench measures both ways).
    /// </summary>
    public bool Batching { get; init; } =
        Environment.GetEnvironmentVariable("DAXSIM_BATCHING")?.ToLowerInvariant() is not ("off" or "0" or "false");

    /// <summary>Whether this scenario's entities journal their inputs (Persistence, else: it has node faults).</summary>
    public bool PersistentFor(Scenario scenario) =>
        Persistence ?? scenario.Faults.Any(f => f is CrashNodeFault or PartitionFault);
}

/// <summary>
/// The cluster runtime's runner (docs/cluster.md). It starts N `daxsim node` members on
/// 127.0.0.1 (or contacts a running cluster), prepares the run on every member's agent,
/// starts it, merges the members' trace events by their monotonic stamps into the same
/// InvariantChecker the local runtime uses, judged by the same LiveJudge, injects the
/// scenario's faults (task signals and kills through the agents; crashNode, partition,
/// heal), and stops the members it started. It is not a cluster member: an ActorSystem
/// with the remote provider, so the split-brain resolver does not count it and no
/// partition cuts it off.
/// </summary>
public sealed class ClusterRuntime(ClusterRunOptions options) : IRuntime
{
    /// <summary>Real time across processes: timer ticks, JIT and first serializations in every member, GC, the network, the journal; L3 allows this much on top of opBound.</summary>
    public static readonly TimeSpan L3Slack = TimeSpan.FromSeconds(3);

    /// <summary>Where each task runs: its "node", else task id mod N. Throws InputException for a node the run does not have.</summary>
    public static int[] Placement(Scenario scenario, int nodes)
    {
        var placement = new int[scenario.Tasks.Count];
        foreach (var t in scenario.Tasks)
        {
            var node = scenario.NodeOf(t.Id, nodes);
            if (node >= nodes)
            {
                throw new Cli.InputException(
                    $"{scenario.Source}: task '{t.Name}' is placed on node {node}, but the run has {nodes} node(s) (0..{nodes - 1})");
            }
            placement[t.Id.Value] = node;
        }
        return placement;
    }

    /// <summary>Checks the scenario's node faults against the node count: InputException when one names a node the run lacks.</summary>
    public static void CheckNodeFaults(Scenario scenario, int nodes)
    {
        foreach (var f in scenario.Faults)
        {
            var named = f switch
            {
                CrashNodeFault c => [c.Node],
                PartitionFault p => p.Between.SelectMany(g => g).ToArray(),
                _ => Array.Empty<int>(),
            };
            if (named.FirstOrDefault(n => n >= nodes, -1) is var bad and >= 0)
            {
                throw new Cli.InputException(
                    $"{scenario.Source}: a {(f is CrashNodeFault ? "crashNode" : "partition")} fault names node {bad}, " +
                    $"but the run has {nodes} node(s) (0..{nodes - 1})");
            }
        }
    }

    public RuntimeKind Kind => RuntimeKind.Cluster;

    /// <summary>The cluster runtime's own settings: members, --join, the runner's endpoint and TLS.</summary>
    public ClusterRunOptions Options => options;

    public RunResult Run(Scenario scenario, RunSettings settings)
    {
        var wall = Stopwatch.StartNew();
        var log = options.Log ?? TextWriter.Null;
        var tempDir = Directory.CreateTempSubdirectory("daxsim-cluster-").FullName;
        var children = new List<NodeProcess>();
        ActorSystem? system = null;
        try
        {
            LiveJudge.EnsureThreads();
            system = ActorSystem.Create(options.Runner.ClusterName, ClusterConfig.Runner(options.Runner));
            var inbox = new ConcurrentQueue<object>();
            var runnerRef = system.ActorOf(Akka.Actor.Props.Create(() => new RunnerInbox(inbox)), "runner");

            var upClock = Stopwatch.StartNew();
            var members = StartMembers(system, children, tempDir);
            var timeToUp = upClock.Elapsed;
            var n = members.Count;
            log.WriteLine($"  cluster: {n} member(s) up in {timeToUp.TotalSeconds:F2} s" +
                          $" (reliable delivery{(options.PersistentFor(scenario) && members.All(m => m.Journal) ? ", persistent entities" : "")}): " +
                          string.Join(", ", members.Select(m => $"node {m.Index} {m.Address.Host}:{m.Address.Port}")));
            CheckNodeFaults(scenario, n);
            var placement = Placement(scenario, n);
            var cluster = new ClusterSetup(runnerRef, inbox, members, children, timeToUp, wall, log);
            return ClusterRun.Run(cluster, scenario, settings, options, placement);
        }
        finally
        {
            StopAll(system, children, tempDir);
        }
    }

    /// <summary>
    /// The members a run (or a seed farm) goes to: those of the running cluster at --join, or
    /// N `daxsim node` processes started on 127.0.0.1 (added to <paramref name="children"/> as
    /// they start, so that <see cref="StopAll"/> stops them whatever happens), all Up.
    /// </summary>
    internal List<ClusterMember> StartMembers(ActorSystem system, List<NodeProcess> children, string tempDir) =>
        options.Join is { } join ? Discover(system, join) : Spawn(system, children, tempDir);

    /// <summary>The runner's end: its ActorSystem, then the members it started (SIGTERM, then SIGKILL), then its directory.</summary>
    internal static void StopAll(ActorSystem? system, List<NodeProcess> children, string tempDir)
    {
        system?.Terminate().Wait(TimeSpan.FromSeconds(10));
        Parallel.ForEach(children, c => c.Stop(TimeSpan.FromSeconds(8)));
        foreach (var c in children)
        {
            c.Dispose();
        }
        try
        {
            Directory.Delete(tempDir, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }
    }

    internal static ICanTell AgentAt(ActorSystem system, Address address) =>
        system.ActorSelection(new RootActorPath(address) / "user" / "agent");

    private List<ClusterMember> Spawn(ActorSystem system, List<NodeProcess> children, string tempDir)
    {
        var n = options.Nodes;
        if (n is < 1 or > ClusterRunOptions.MaxNodes)
        {
            throw new Cli.InputException($"--nodes must be between 1 and {ClusterRunOptions.MaxNodes}, not {n}");
        }
        var journal = Path.Combine(tempDir, "journal.db");
        SqliteJournal.Prepare(journal);
        var common = new List<string>
        {
            "--port", "0", "--hostname", "127.0.0.1", "--bind", "127.0.0.1",
            "--cluster-name", options.Runner.ClusterName, "--journal", journal,
        };
        var environment = new Dictionary<string, string>();
        if (options.Runner.TlsCertificate is { } cert)
        {
            common.AddRange(["--tls-cert", cert, "--tls-password", options.Runner.TlsPassword ?? ""]);
            // The members validate certificates as the runner does (a self-signed one needs this).
            environment["DAXSIM_TLS_SUPPRESS_VALIDATION"] = options.Runner.TlsSuppressValidation ? "true" : "false";
        }
        var deadline = DateTime.UtcNow + options.UpTimeout;
        var first = NodeProcess.Start(0, common.Concat(["--index", "0"]), tempDir, environment);
        children.Add(first);
        var seed = Await(first.Listening, deadline, "node 0 to listen");
        for (var i = 1; i < n; i++)
        {
            children.Add(NodeProcess.Start(i, common.Concat(["--index", i.ToString(CultureInfo.InvariantCulture), "--seeds", seed]),
                tempDir, environment));
        }
        var members = children.Select(c =>
        {
            var hostPort = NodeSettings.ParseHostPort(Await(c.Listening, deadline, $"node {c.Index} to listen"), "node");
            var address = ClusterConfig.AddressOf(options.Runner, hostPort.Host, hostPort.Port);
            return new ClusterMember(c.Index, address, AgentAt(system, address), Journal: true);
        }).ToList();
        WaitUntilUp(members[0].Agent, members.Select(m => m.Address).ToList(), deadline, children);
        return members;
    }

    private static T Await<T>(Task<T> task, DateTime deadline, string what)
    {
        var left = deadline - DateTime.UtcNow;
        try
        {
            if (left <= TimeSpan.Zero || !task.Wait(left))
            {
                throw new SlowMemberException($"timed out waiting for {what}");
            }
        }
        catch (AggregateException e)
        {
            throw new InvalidOperationException($"waiting for {what}: {e.InnerException?.Message}", e.InnerException);
        }
        return task.Result;
    }

    private static void WaitUntilUp(ICanTell agent, IReadOnlyList<Address> expected, DateTime deadline,
        IReadOnlyList<NodeProcess> children)
    {
        while (true)
        {
            if (children.FirstOrDefault(c => c.HasExited) is { } dead)
            {
                throw new InvalidOperationException($"node {dead.Index} exited before the cluster was up:\n{dead.Output}");
            }
            try
            {
                var members = agent.Ask<MembersReply>(new GetMembers(), TimeSpan.FromSeconds(2)).Result;
                var up = members.Up.Select(Address.Parse).ToHashSet();
                if (expected.All(up.Contains))
                {
                    return;
                }
            }
            catch (AggregateException)
            {
                // not answering yet
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new SlowMemberException($"the cluster's {expected.Count} member(s) were not all Up in time");
            }
            Thread.Sleep(100);
        }
    }

    // --join: ask the given member for the Up members of role sim, and each of them for its index.
    private List<ClusterMember> Discover(ActorSystem system, HostPort join)
    {
        var name = options.Runner.ClusterName;
        var first = ClusterConfig.AddressOf(options.Runner, join.Host, join.Port);
        var wanted = options.JoinNodes;
        var deadline = DateTime.UtcNow + options.UpTimeout;
        List<Address> sim;
        while (true)
        {
            MembersReply? reply = null;
            try
            {
                reply = AgentAt(system, first).Ask<MembersReply>(new GetMembers(), TimeSpan.FromSeconds(wanted is null ? 10 : 2)).Result;
            }
            catch (AggregateException)
            {
                if (wanted is null || DateTime.UtcNow > deadline)
                {
                    throw new Cli.InputException(
                        $"--join {join}: no daxsim agent answered at {first} (is a '{name}' cluster member listening there?)");
                }
            }
            if (reply is not null)
            {
                sim = reply.Up.Zip(reply.Roles).Where(x => x.Item2.Split('+').Contains(ClusterConfig.DefaultRole))
                    .Select(x => Address.Parse(x.Item1)).ToList();
                if (wanted is null || sim.Count >= wanted)
                {
                    break;
                }
                if (DateTime.UtcNow > deadline)
                {
                    throw new SlowMemberException(
                        $"--join {join}: {sim.Count} member(s) of role '{ClusterConfig.DefaultRole}' are Up, " +
                        $"not the {wanted} --nodes asks for, after {options.UpTimeout.TotalSeconds:F0} s");
                }
            }
            Thread.Sleep(250);
        }
        var hellos = sim.Select(a => (Address: a, Reply: AgentAt(system, a)
            .Ask<HelloReply>(new Hello(ClusterConfig.ProtocolVersion), TimeSpan.FromSeconds(10)))).ToList();
        var members = new List<(int Index, Address Address, bool Journal)>();
        foreach (var (address, hello) in hellos)
        {
            try
            {
                var h = hello.Result;
                if (h.ProtocolVersion != options.Runner.ProtocolVersion)
                {
                    throw new Cli.InputException(
                        $"--join {join}: member {address} speaks daxsim.protocol-version {h.ProtocolVersion}, this runner {options.Runner.ProtocolVersion}");
                }
                members.Add((h.Index, address, h.Journal));
            }
            catch (AggregateException)
            {
                throw new Cli.InputException($"--join {join}: member {address} did not answer");
            }
        }
        if (members.Count == 0)
        {
            throw new Cli.InputException($"--join {join}: the cluster has no Up member with role '{ClusterConfig.DefaultRole}'");
        }
        // Node numbers are the members' --index order.
        return members.OrderBy(m => m.Index).Select((m, i) => new ClusterMember(i, m.Address, AgentAt(system, m.Address), m.Journal)).ToList();
    }

    /// <summary>The runner's mailbox: everything the members send it goes to the run loop.</summary>
    private sealed class RunnerInbox : ReceiveActor
    {
        public RunnerInbox(ConcurrentQueue<object> inbox)
        {
            var log = Context.GetLogger();
            Receive<IRunMessage>(inbox.Enqueue);
            ReceiveAny(m => log.Error("the runner refused a message from {0}: {1}", Sender, NodeAgent.Describe(m)));
        }
    }
}
