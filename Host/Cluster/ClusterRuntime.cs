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
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(20);

    /// <summary>Real time across processes: timer ticks, JIT and first serializations in every member, GC, the network, the journal; L3 allows this much on top of opBound.</summary>
    public static readonly TimeSpan L3Slack = TimeSpan.FromSeconds(3);

    private static readonly TimeSpan EndQuiet = TimeSpan.FromMilliseconds(150);
    private static readonly TimeSpan DeadlockQuiet = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan StallAfter = TimeSpan.FromSeconds(5);

    /// <summary>A member that sends nothing (not even a heartbeat batch) for this long does not hold the merge back.</summary>
    private static readonly TimeSpan SilentAfter = TimeSpan.FromSeconds(1);

    /// <summary>After a crash or partition, the failure detector and the resolver need this long before anything is reported.</summary>
    private static readonly TimeSpan DetectionWindow = TimeSpan.FromSeconds(6);

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

    /// <summary>
    /// Whether the run's entities journal their inputs: in runs with node faults (crashNode,
    /// partition), whose entities must survive the member that hosts them. Every input is a
    /// write to the one SQLite file all members share, tens of milliseconds under contention,
    /// so other runs go without. DAXSIM_PERSISTENCE=on|off decides instead.
    /// </summary>
    public static bool Persistent(Scenario scenario) =>
        Environment.GetEnvironmentVariable("DAXSIM_PERSISTENCE")?.ToLowerInvariant() switch
        {
            "on" or "1" or "true" => true,
            "off" or "0" or "false" => false,
            _ => scenario.Faults.Any(f => f is CrashNodeFault or PartitionFault),
        };

    /// <summary>
    /// Whether members batch what they send each other (NodeOutbox, NodeLink.cs) and actors
    /// coalesce their acks (DeliveryOptions.CoalescedAcks): yes, unless DAXSIM_BATCHING=off
    /// (the bench measures both ways).
    /// </summary>
    public static bool Batched() =>
        Environment.GetEnvironmentVariable("DAXSIM_BATCHING")?.ToLowerInvariant() is not ("off" or "0" or "false");

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
            var members = options.Join is { } join
                ? Discover(system, join)
                : Spawn(system, scenario, children, tempDir, log);
            var timeToUp = upClock.Elapsed;
            var n = members.Count;
            log.WriteLine($"  cluster: {n} member(s) up in {timeToUp.TotalSeconds:F2} s" +
                          $" (reliable delivery{(Persistent(scenario) && members.All(m => m.Journal) ? ", persistent entities" : "")}): " +
                          string.Join(", ", members.Select(m => $"node {m.Index} {m.Address.Host}:{m.Address.Port}")));
            CheckNodeFaults(scenario, n);
            var placement = Placement(scenario, n);
            return RunOn(system, runnerRef, inbox, members, children, placement, scenario, settings, timeToUp, wall, log);
        }
        finally
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
    }

    /// <summary>One member of the run: its node number, address and agent.</summary>
    private sealed record Member(int Index, Address Address, ICanTell Agent, bool Journal);

    private static ICanTell AgentAt(ActorSystem system, Address address) =>
        system.ActorSelection(new RootActorPath(address) / "user" / "agent");

    private List<Member> Spawn(ActorSystem system, Scenario scenario, List<NodeProcess> children, string tempDir,
        TextWriter log)
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
            return new Member(c.Index, address, AgentAt(system, address), Journal: true);
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
                throw new TimeoutException($"timed out waiting for {what}");
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
                throw new TimeoutException($"the cluster's {expected.Count} member(s) were not all Up in time");
            }
            Thread.Sleep(100);
        }
    }

    // --join: ask the given member for the Up members of role sim, and each of them for its index.
    private List<Member> Discover(ActorSystem system, HostPort join)
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
                    throw new TimeoutException(
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
        return members.OrderBy(m => m.Index).Select((m, i) => new Member(i, m.Address, AgentAt(system, m.Address), m.Journal)).ToList();
    }

    private RunResult RunOn(ActorSystem system, IActorRef runnerRef, ConcurrentQueue<object> inbox, List<Member> members,
        List<NodeProcess> children, int[] placement, Scenario scenario, RunSettings settings, TimeSpan timeToUp,
        Stopwatch wall, TextWriter log)
    {
        var n = members.Count;
        var runId = Guid.NewGuid().ToString("N")[..12];
        var table = members.Select(m => new NodeEntry(m.Index, m.Address.ToString())).ToArray();
        // A load's scenario has no text (its tasks loop): the members get its spec and build it.
        var loadSpec = scenario.Load is { } load ? LoadSpecLoader.Write(load) : null;
        if (loadSpec is not null && LoadSpecLoader.Write(LoadSpecLoader.Parse(loadSpec, "the load spec")) != loadSpec)
        {
            throw new InvalidOperationException($"the load spec does not read back as itself: {loadSpec}");
        }
        var text = loadSpec is not null ? ""
            : scenario.Text ?? throw new InvalidOperationException("the scenario has no text to send to the members");

        // Prepare: every member parses the scenario, starts the run's region and its tasks.
        // Delivery is reliable (envelopes, acks, retries); with a journal on every member the
        // entities are persistent too (their inputs journaled, replayed when they move).
        var journaled = members.All(m => m.Journal) && Persistent(scenario);
        var prepared = members.Select(m => m.Agent.Ask<Prepared>(new Prepare(runId, text, scenario.Source,
            settings.Variant.Name(), settings.Seed, m.Index, table, placement, runnerRef, Reliable: true, journaled, Batched(),
            loadSpec),
            AskTimeout)).ToList();
        var taskRefs = new List<TaskRef>();
        var controls = new IActorRef[n];
        var inboxes = new IActorRef[n];
        foreach (var (m, p) in members.Zip(prepared))
        {
            var r = Wait(p, $"node {m.Index} to prepare the run");
            if (r.Error is { } error)
            {
                throw new InvalidOperationException($"node {m.Index} could not prepare the run: {error}");
            }
            taskRefs.AddRange(r.Tasks);
            controls[m.Index] = r.Control ?? ActorRefs.Nobody;
            inboxes[m.Index] = r.Inbox ?? ActorRefs.Nobody;
        }
        // Every region registered with the coordinator, so that shards go to their home nodes.
        var regionsDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (Wait(members[0].Agent.Ask<RegionCount>(new CountRegions(runId), AskTimeout), "the regions").Regions < n)
        {
            if (DateTime.UtcNow > regionsDeadline)
            {
                throw new TimeoutException("the run's shard regions did not all register in time");
            }
            Thread.Sleep(50);
        }
        var tasks = taskRefs.OrderBy(t => t.Task).ToArray();
        if (tasks.Length != scenario.Tasks.Count)
        {
            throw new InvalidOperationException($"the members created {tasks.Length} task(s), the scenario has {scenario.Tasks.Count}");
        }
        foreach (var ready in members.Select(m => m.Agent.Ask<TableReady>(new TaskTable(runId, tasks, controls, inboxes), AskTimeout)).ToList())
        {
            Wait(ready, "the task table");
        }

        // The run.
        var zero = Stopwatch.GetTimestamp();
        long Ticks(long stamp) => Math.Max(0, (long)((stamp - zero) * (double)TimeSpan.TicksPerSecond / Stopwatch.Frequency));
        long Now() => Ticks(Stopwatch.GetTimestamp());
        long current = 0;
        var traceLog = new TraceLog(tailSize: 48, keepText: settings.RecordTrace, keepEntries: settings.RecordTimeline);
        var checker = new InvariantChecker(scenario, ProtocolPolicy.For(settings.Variant), () => current, settings.RecordOps, L3Slack);
        // Messages cross processes and entities journal their inputs (the first write of a
        // run also creates the journal's tables): allow a longer silence than one process does.
        var judge = new LiveJudge(checker, scenario, EndQuiet, DeadlockQuiet)
        {
            Stall = StallAfter + LiveJudge.LongestDuration(scenario),
        };
        var merger = new TraceMerger(members.Select(m => m.Index));
        var lastHeard = members.ToDictionary(m => m.Index, _ => Now());
        var unreachable = new Dictionary<int, HashSet<int>>(); // node → the reporters that see it unreachable
        var crashedAt = new Dictionary<int, long>();
        var removedAt = new Dictionary<int, long>();
        var faultLines = new List<string>();
        var partitioned = new HashSet<int>(); // nodes cut off from the largest group, until heal
        long unsettledUntil = 0;
        long events = 0;
        // The message figures: each member's counts so far (every trace batch carries them),
        // their sum once a second, when the first task ended, and when a crashed member's
        // tasks had given back their last pin.
        var counts = new MessageCounts[n];
        Array.Fill(counts, MessageCounts.Zero);
        var samples = new List<MessageSample>();
        var nextSample = TimeSpan.FromSeconds(1).Ticks;
        long? firstTaskEnded = null;
        var pinsReleasedAt = new Dictionary<int, long>();

        var faults = scenario.Faults
            .Select((f, i) => (Fault: f, Index: i, At: f switch
            {
                SignalFault s => s.At,
                KillFault k => k.At,
                EnomemFault e => e.At,
                CrashNodeFault c => c.At,
                PartitionFault p => p.At,
                HealFault h => h.At,
                _ => (TimeSpan?)null,
            }))
            .Where(f => f.At is not null)
            .OrderBy(f => f.At).ThenBy(f => f.Index)
            .ToList();
        var nextFault = 0;

        foreach (var m in members)
        {
            m.Agent.Tell(new StartRun(runId, zero), runnerRef);
        }

        void Note(string line)
        {
            var at = TimeSpan.FromTicks(Now()).TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);
            faultLines.Add($"{at} s: {line}");
            log.WriteLine($"  [{at} s] {line}");
        }

        // An event of the runner's own, in the stream with the members' (the checker, the trace, the load's statistics).
        void Observe(TraceEvent e)
        {
            events++;
            checker.Observe(e);
            settings.Observe?.Invoke(current, e);
            traceLog.Event(current, e);
        }

        void Inject(FaultSpec fault)
        {
            switch (fault)
            {
                case SignalFault s:
                    members[placement[s.Task.Value]].Agent.Tell(
                        new InjectTaskFault(runId, s.Restart ? "signal-restart" : "signal", s.Task.Value), runnerRef);
                    break;
                case KillFault k:
                    // SIGKILL kills every thread of the process (they run on one member).
                    foreach (var thread in scenario.ProcessOf(k.Task).Threads)
                    {
                        members[placement[thread.Value]].Agent.Tell(new InjectTaskFault(runId, "kill", thread.Value), runnerRef);
                    }
                    break;
                case EnomemFault e:
                    members[placement[e.Task.Value]].Agent.Tell(new InjectTaskFault(runId, "enomem", e.Task.Value), runnerRef);
                    break;
                case CrashNodeFault c:
                    crashedAt[c.Node] = Now();
                    unsettledUntil = Now() + DetectionWindow.Ticks;
                    // As on the deterministic runtime: L3 holds no operation to its bound until
                    // the crashed member is removed, then counts again from there.
                    Observe(new NodeCrashed(c.Node));
                    if (children.FirstOrDefault(x => x.Index == c.Node) is { } child)
                    {
                        child.Crash();
                        Note($"crashNode {c.Node}: killed its process (pid {child.Pid}, SIGKILL)");
                    }
                    else
                    {
                        members[c.Node].Agent.Tell(new CrashSelf(runId), runnerRef);
                        Note($"crashNode {c.Node}: told its agent to kill its process");
                    }
                    merger.Gone(c.Node);
                    break;
                case PartitionFault p:
                    unsettledUntil = Now() + DetectionWindow.Ticks;
                    var groupOf = new Dictionary<int, int>();
                    for (var g = 0; g < p.Between.Count; g++)
                    {
                        foreach (var node in p.Between[g])
                        {
                            groupOf[node] = g;
                        }
                    }
                    foreach (var (node, group) in groupOf)
                    {
                        var others = groupOf.Where(x => x.Value != group).Select(x => members[x.Key].Address.ToString()).ToArray();
                        members[node].Agent.Tell(new Blackhole(runId, others), runnerRef);
                    }
                    var largest = p.Between.OrderByDescending(g => g.Count).First();
                    partitioned.UnionWith(p.Between.Where(g => g != largest).SelectMany(g => g));
                    Note($"partition {string.Join(" | ", p.Between.Select(g => string.Join(",", g)))}: members blackhole the other side");
                    break;
                case HealFault:
                    foreach (var m in members.Where(m => !removedAt.ContainsKey(m.Index) && !crashedAt.ContainsKey(m.Index)))
                    {
                        m.Agent.Tell(new Unblackhole(runId), runnerRef);
                    }
                    partitioned.Clear();
                    Note("heal: every member unthrottles every other");
                    break;
            }
        }

        while (true)
        {
            Thread.Sleep(Poll);
            var now = Now();
            while (inbox.TryDequeue(out var item))
            {
                switch (item)
                {
                    case TraceBatch b when b.RunId == runId:
                        if (merger.Add(b))
                        {
                            lastHeard[b.Node] = now;
                            // Cumulative: a node's batches come in order over one connection.
                            if (b.Counts is { } c && b.Node < n && c.Messages >= counts[b.Node].Messages)
                            {
                                counts[b.Node] = c;
                            }
                        }
                        break;
                    // A member that was removed speaks no more (on its way out it sees the others go).
                    case MemberReport s when s.RunId == runId && !removedAt.ContainsKey(s.Reporter):
                        var seenBy = unreachable.TryGetValue(s.Node, out var set) ? set : unreachable[s.Node] = [];
                        if (s.Status == "unreachable")
                        {
                            if (seenBy.Add(s.Reporter) && seenBy.Count == 1)
                            {
                                Note($"node {s.Node} unreachable (seen by node {s.Reporter})");
                            }
                        }
                        else if (s.Status == "reachable")
                        {
                            if (seenBy.Remove(s.Reporter) && seenBy.Count == 0)
                            {
                                Note($"node {s.Node} reachable again");
                            }
                        }
                        else if (s.Status == "removed")
                        {
                            unreachable.Remove(s.Node);
                            if (!removedAt.ContainsKey(s.Node))
                            {
                                removedAt[s.Node] = now;
                                merger.Gone(s.Node);
                                var after = crashedAt.TryGetValue(s.Node, out var c)
                                    ? $", {TimeSpan.FromTicks(now - c).TotalSeconds:F2} s after the crash"
                                    : "";
                                Note($"node {s.Node} removed from the cluster{after}");
                                if (crashedAt.ContainsKey(s.Node))
                                {
                                    Observe(new NodeRemoved(s.Node, "crashed"));
                                }
                            }
                        }
                        break;
                    case NodeGone g when g.RunId == runId && !removedAt.ContainsKey(g.Reporter):
                        Note($"node {g.Node}'s tasks are gone ({string.Join(", ", g.Tasks.Select(t => scenario.TaskName(new TaskId(t))))}); " +
                             $"node {g.Reporter} told every entity");
                        break;
                }
            }
            foreach (var (node, heard) in lastHeard)
            {
                if (merger.IsLive(node) && now - heard > SilentAfter.Ticks)
                {
                    merger.Silent(node);
                }
            }
            foreach (var child in children)
            {
                if (child.HasExited && !removedAt.ContainsKey(child.Index) && merger.IsLive(child.Index))
                {
                    merger.Gone(child.Index);
                }
            }
            foreach (var (_, stamp, e) in merger.Release())
            {
                current = Math.Max(current, Ticks(stamp));
                Observe(e);
                if (checker.Stopped)
                {
                    break;
                }
                switch (e)
                {
                    case TaskEnded:
                        firstTaskEnded ??= Ticks(stamp);
                        break;
                    // A pin given back by a task of a crashed (or downed) member: its last one?
                    case PagePut put when placement[put.Task.Value] is var lost && !pinsReleasedAt.ContainsKey(lost) &&
                                          (crashedAt.TryGetValue(lost, out var crashed) ? Ticks(stamp) >= crashed
                                              : removedAt.ContainsKey(lost)):
                        if (Enumerable.Range(0, placement.Length)
                            .All(t => placement[t] != lost || checker.PinsHeldBy(new TaskId(t)) == 0))
                        {
                            pinsReleasedAt[lost] = Ticks(stamp);
                            var since = crashedAt.TryGetValue(lost, out var crash)
                                ? $", {TimeSpan.FromTicks(Ticks(stamp) - crash).TotalSeconds:F2} s after the crash"
                                : "";
                            Note($"node {lost}'s tasks hold no pin any more{since}");
                        }
                        break;
                }
            }
            if (now >= nextSample)
            {
                samples.Add(new MessageSample(now, Sum(counts)));
                settings.Live?.SetMessages(samples[^1].Counts.Messages);
                nextSample += TimeSpan.FromSeconds(1).Ticks;
            }
            now = Now();
            var watermark = merger.Watermark;
            var judged = watermark == long.MaxValue ? now : Math.Min(now, Ticks(watermark));
            current = Math.Max(current, judged);
            while (nextFault < faults.Count && faults[nextFault].At!.Value.Ticks <= now)
            {
                Inject(faults[nextFault++].Fault);
            }
            var unsettled = now < unsettledUntil || unreachable.Values.Any(s => s.Count > 0) ||
                            crashedAt.Keys.Any(c => !removedAt.ContainsKey(c));
            if (judge.Step(current, events, unsettled))
            {
                break;
            }
        }

        samples.Add(new MessageSample(Now(), Sum(counts)));
        var endTime = current;
        var violation = checker.Violation;
        var waiting = Waiting(checker, scenario, placement, crashedAt, removedAt, unreachable, partitioned);
        foreach (var line in waiting)
        {
            log.WriteLine($"  waiting: {line}");
        }
        // End the run on every member still there.
        var ends = members.Where(m => !crashedAt.ContainsKey(m.Index) && !removedAt.ContainsKey(m.Index))
            .Select(m => m.Agent.Ask<RunEnded>(new EndRun(runId), TimeSpan.FromSeconds(5))).ToArray();
        try
        {
            Task.WaitAll(ends.Cast<Task>().ToArray(), TimeSpan.FromSeconds(6));
        }
        catch (AggregateException)
        {
            // a member that does not answer is stopped with the others
        }
        if (checker.Failure is { } failure)
        {
            throw new InvalidOperationException($"an actor failed in {scenario.Name}: {failure}");
        }
        var totals = Sum(counts);
        var info = new ClusterRunInfo
        {
            Nodes = n,
            Mode = children.Count > 0 ? "spawned" : "joined",
            TimeToUp = timeToUp,
            Members = members.Select(m => new ClusterNodeInfo(m.Index, $"{m.Address.Host}:{m.Address.Port}",
                Enumerable.Range(0, placement.Length).Where(t => placement[t] == m.Index)
                    .Select(t => scenario.TaskName(new TaskId(t))).ToList(),
                Status(m.Index, crashedAt, removedAt, unreachable, partitioned),
                crashedAt.TryGetValue(m.Index, out var c) ? c : null,
                removedAt.TryGetValue(m.Index, out var r) ? r : null,
                pinsReleasedAt.TryGetValue(m.Index, out var p) ? p : null)).ToList(),
            Faults = faultLines,
            Waiting = waiting,
            Batches = merger.Batches,
            LateEvents = merger.Late,
            Messages = new ClusterMessages
            {
                Counts = totals,
                PerNode = counts,
                Samples = samples,
                FirstTaskEnded = firstTaskEnded,
            },
        };
        return RunResults.From(RuntimeKind.Cluster, "cluster", scenario, settings, violation, checker.CompletedOps.ToList(),
            checker.OpsCompleted, events, traceLog, endTime, wall.Elapsed) with
        {
            Messages = totals.Messages,
            // Every envelope and ack the members' actors took in (duplicates included).
            Deliveries = totals.Messages + totals.DuplicatesLocal + totals.DuplicatesRemote + totals.AcksLocal +
                         totals.AcksRemote,
            Threads = n,
            Cluster = info,
        };
    }

    private static MessageCounts Sum(IEnumerable<MessageCounts> counts) =>
        counts.Aggregate(MessageCounts.Zero, (a, b) => a.Plus(b));

    private static string Status(int node, Dictionary<int, long> crashed, Dictionary<int, long> removed,
        Dictionary<int, HashSet<int>> unreachable, HashSet<int> partitioned) =>
        crashed.ContainsKey(node) && removed.ContainsKey(node) ? "crashed, removed"
        : crashed.ContainsKey(node) ? "crashed, not yet removed"
        : removed.ContainsKey(node) ? "removed (downed)"
        : unreachable.TryGetValue(node, out var s) && s.Count > 0
            ? partitioned.Contains(node)
                ? "unreachable, partitioned"
                : $"unreachable from node{(s.Count > 1 ? "s" : "")} {string.Join(", ", s.Order())}"
        : partitioned.Contains(node) ? "up, partitioned from the majority"
        : "up";

    /// <summary>What each unfinished task waits for, and where the tasks it waits for are.</summary>
    private static List<string> Waiting(InvariantChecker checker, Scenario scenario, int[] placement,
        Dictionary<int, long> crashed, Dictionary<int, long> removed, Dictionary<int, HashSet<int>> unreachable,
        HashSet<int> partitioned)
    {
        var lines = new List<string>();
        foreach (var (task, holder, why) in checker.Waits())
        {
            var node = placement[holder.Value];
            // A task behind a partition, or on a member that is unreachable and not yet
            // removed, may still be running (doing DMA into the pages it pinned): what it
            // holds stays until the cluster downs its member.
            var cutOff = !removed.ContainsKey(node) &&
                         (crashed.ContainsKey(node) || partitioned.Contains(node) ||
                          unreachable.TryGetValue(node, out var seenBy) && seenBy.Count > 0);
            lines.Add($"{why} (task-{scenario.TaskName(holder)} runs on node {node}: " +
                      $"{Status(node, crashed, removed, unreachable, partitioned)}" +
                      (cutOff ? $"; what it holds stays until node {node} is downed and removed" : "") + ")");
        }
        foreach (var task in checker.Unfinished.Where(t => checker.Waits().All(w => w.Task != t)))
        {
            var node = placement[task.Value];
            lines.Add($"task-{scenario.TaskName(task)} on node {node} ({Status(node, crashed, removed, unreachable, partitioned)}) has not finished");
        }
        return lines;
    }

    private static T Wait<T>(Task<T> task, string what)
    {
        try
        {
            return task.Result;
        }
        catch (AggregateException e)
        {
            throw new InvalidOperationException($"waiting for {what}: {e.InnerException?.Message}", e.InnerException);
        }
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
