using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using DaxSim.Actors;
using DaxSim.Host.Checking;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Load;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;
using DaxSim.Transport;

namespace DaxSim.Host.Cluster;

/// <summary>One member of a cluster run: its node number, address and agent, and whether it has a journal.</summary>
internal sealed record ClusterMember(int Index, Address Address, ICanTell Agent, bool Journal);

/// <summary>
/// The members a run goes to, as ClusterRuntime found or started them: the runner's own
/// actor and the queue it fills, the members (and the processes, when the runtime spawned
/// them), how long they took to be Up, the run's wall clock and where its lines go.
/// </summary>
internal sealed record ClusterSetup(IActorRef Runner, ConcurrentQueue<object> Inbox, IReadOnlyList<ClusterMember> Members,
    IReadOnlyList<NodeProcess> Children, TimeSpan TimeToUp, Stopwatch Wall, TextWriter Log);

/// <summary>
/// What <see cref="ClusterRun.Prepare"/> produces and the later phases take: a run that every
/// member has prepared (parsed, its region registered, its tasks created, the task table
/// known), with its id, where each task runs, and the membership as it stands (every member
/// prepared).
/// </summary>
internal sealed record PreparedRun(string RunId, ClusterSetup Cluster, Scenario Scenario, RunSettings Settings, int[] Placement,
    Membership Membership);

/// <summary>
/// One run of a scenario on the cluster's members, once they are Up (ClusterRuntime starts
/// or finds them). The runner takes it through named phases:
///
///   Prepare        (static: it makes the <see cref="PreparedRun"/> the run is made of)
///                  every member parses the scenario, starts the run's region and its
///                  tasks; the regions register; every member gets the task table
///   StartMembers   StartRun with the common zero of the monotonic clock; the checker,
///                  the judge and the host's lateness start
///   then, every few milliseconds until the judge says the run is over:
///     Observe      the members' trace batches merged into the checker in stamp order,
///                  their reports on each other (unreachable, removed) into the membership
///     Inject       the scenario's faults that are due (signals and kills through the
///                  agents; crashNode, partition, heal)
///     Judge        LiveJudge: quiescence, deadlines (L3, widened by the host's lateness),
///                  deadlocks once the cluster has settled
///   Collect        EndRun on every member still there, the result and the members' account
/// </summary>
internal sealed class ClusterRun
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(5);

    /// <summary>A member has this long to answer a question of the prepare phase (parsing, starting its tasks, JIT).</summary>
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan EndQuiet = TimeSpan.FromMilliseconds(150);
    private static readonly TimeSpan DeadlockQuiet = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan StallAfter = TimeSpan.FromSeconds(5);

    /// <summary>A crashed or removed member that has sent nothing for this long has no batch left on the way.</summary>
    private static readonly TimeSpan DrainQuiet = TimeSpan.FromMilliseconds(500);

    /// <summary>A member that is there and sends nothing for this long (its heartbeat is every 10 ms) is too slow to judge the run.</summary>
    private static readonly TimeSpan SilentLimit = TimeSpan.FromSeconds(30);

    /// <summary>After a crash or partition, the failure detector and the resolver need this long before anything is reported.</summary>
    private static readonly TimeSpan DetectionWindow = TimeSpan.FromSeconds(6);

    private readonly IActorRef _runnerRef;
    private readonly ConcurrentQueue<object> _inbox;
    private readonly IReadOnlyList<ClusterMember> _members;
    private readonly IReadOnlyList<NodeProcess> _children;
    private readonly int[] _placement;
    private readonly Scenario _scenario;
    private readonly RunSettings _settings;
    private readonly TimeSpan _timeToUp;
    private readonly Stopwatch _wall;
    private readonly TextWriter _log;
    private readonly string _runId;
    private readonly Membership _membership;

    // Set by StartMembers.
    private long _zero;
    private long _current;
    private TraceLog _traceLog = null!;
    private InvariantChecker _checker = null!;
    private LiveJudge _judge = null!;
    private HostLateness _host = null!;
    private TraceMerger _merger = null!;
    private Dictionary<int, long> _lastHeard = null!;

    private readonly List<string> _faultLines = [];
    private List<(FaultSpec Fault, TimeSpan At)> _faults = [];
    private int _nextFault;
    private long _unsettledUntil;
    private long _events;

    // A late event (older than one released before it) seen before any finding: the checker's picture may be off.
    private (int Node, long Count)? _disorder;

    // The message figures: each member's counts so far (every trace batch carries them),
    // their sum once a second, and when the first task ended.
    private readonly MessageCounts[] _counts;
    private readonly List<MessageSample> _samples = [];
    private long _nextSample = TimeSpan.FromSeconds(1).Ticks;
    private long? _firstTaskEnded;

    /// <summary>The run that <see cref="Prepare"/> made; <see cref="Execute"/> takes it through the other phases.</summary>
    public ClusterRun(PreparedRun run)
    {
        _runId = run.RunId;
        _runnerRef = run.Cluster.Runner;
        _inbox = run.Cluster.Inbox;
        _members = run.Cluster.Members;
        _children = run.Cluster.Children;
        _timeToUp = run.Cluster.TimeToUp;
        _wall = run.Cluster.Wall;
        _log = run.Cluster.Log;
        _placement = run.Placement;
        _scenario = run.Scenario;
        _settings = run.Settings;
        _membership = run.Membership;
        _counts = new MessageCounts[_members.Count];
        Array.Fill(_counts, MessageCounts.Zero);
    }

    private int N => _members.Count;

    /// <summary>Prepares the run on the members, then runs it: <c>new ClusterRun(Prepare(...)).Execute()</c>.</summary>
    public static RunResult Run(ClusterSetup cluster, Scenario scenario, RunSettings settings, ClusterRunOptions options,
        int[] placement) =>
        new ClusterRun(Prepare(cluster, scenario, settings, options, placement)).Execute();

    /// <summary>Start members, then observe, inject and judge until the run is over, then collect.</summary>
    public RunResult Execute()
    {
        StartMembers();
        try
        {
            while (true)
            {
                Thread.Sleep(Poll);
                Observe();
                Inject();
                if (Judge())
                {
                    break;
                }
            }
            return Collect();
        }
        finally
        {
            _host.Dispose();
        }
    }

    // --- prepare -------------------------------------------------------------------------------

    public static PreparedRun Prepare(ClusterSetup cluster, Scenario scenario, RunSettings settings, ClusterRunOptions options,
        int[] placement)
    {
        var runId = Guid.NewGuid().ToString("N")[..12];
        var members = cluster.Members;
        var n = members.Count;
        var membership = new Membership(members.Select(m => m.Index));
        var table = members.Select(m => new NodeEntry(m.Index, m.Address.ToString())).ToArray();
        // A load's scenario has no text (its tasks loop): the members get its spec and build it.
        var loadSpec = scenario.Load is { } load ? LoadSpecLoader.Write(load) : null;
        if (loadSpec is not null && LoadSpecLoader.Write(LoadSpecLoader.Parse(loadSpec, "the load spec")) != loadSpec)
        {
            throw new InvalidOperationException($"the load spec does not read back as itself: {loadSpec}");
        }
        var text = loadSpec is not null ? ""
            : scenario.Text ?? throw new InvalidOperationException("the scenario has no text to send to the members");

        // Delivery is reliable (envelopes, acks, retries); with a journal on every member the
        // entities are persistent too (their inputs journaled, replayed when they move).
        var journaled = members.All(m => m.Journal) && options.PersistentFor(scenario);
        var prepared = members.Select(m => m.Agent.Ask<Prepared>(new Prepare(runId, text, scenario.Source,
            settings.Variant.Name(), settings.Seed, m.Index, table, placement, cluster.Runner, Reliable: true, journaled,
            options.Batching, loadSpec),
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
            membership.Prepared(m.Index);
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
                throw new SlowMemberException("the run's shard regions did not all register in time");
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
        return new PreparedRun(runId, cluster, scenario, settings, placement, membership);
    }

    /// <summary>A member's answer; a member that does not answer in time is slow (SlowMemberException), any other failure is DaxSim's.</summary>
    private static T Wait<T>(Task<T> task, string what)
    {
        try
        {
            return task.Result;
        }
        catch (AggregateException e) when (e.InnerException is AskTimeoutException)
        {
            throw new SlowMemberException($"timed out waiting for {what}: no answer within {AskTimeout.TotalSeconds:F0} s");
        }
        catch (AggregateException e)
        {
            throw new InvalidOperationException($"waiting for {what}: {e.InnerException?.Message}", e.InnerException);
        }
    }

    // --- start ---------------------------------------------------------------------------------

    private void StartMembers()
    {
        _zero = Stopwatch.GetTimestamp();
        _traceLog = new TraceLog(tailSize: 48, keepText: _settings.RecordTrace, keepEntries: _settings.RecordTimeline);
        _checker = new InvariantChecker(_scenario, ProtocolPolicy.For(_settings.Variant), () => _current,
            _settings.RecordOps, ClusterRuntime.L3Slack);
        _host = new HostLateness(Now);
        // Messages cross processes and entities journal their inputs (the first write of a
        // run also creates the journal's tables): allow a longer silence than one process does.
        _judge = new LiveJudge(_checker, _scenario, EndQuiet, DeadlockQuiet)
        {
            Stall = StallAfter + LiveJudge.LongestDuration(_scenario),
            Host = _host,
            LatenessWindow = HostLateness.Window(_scenario, ClusterRuntime.L3Slack),
        };
        _merger = new TraceMerger(_members.Select(m => m.Index));
        _lastHeard = _members.ToDictionary(m => m.Index, _ => Now());
        _faults = _scenario.Faults
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
            .Select(f => (f.Fault, f.At!.Value))
            .ToList();
        foreach (var m in _members)
        {
            m.Agent.Tell(new StartRun(_runId, _zero), _runnerRef);
        }
    }

    private long Ticks(long stamp) =>
        Math.Max(0, (long)((stamp - _zero) * (double)TimeSpan.TicksPerSecond / Stopwatch.Frequency));

    private long Now() => Ticks(Stopwatch.GetTimestamp());

    private void Note(string line)
    {
        var at = TimeSpan.FromTicks(Now()).TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);
        _faultLines.Add($"{at} s: {line}");
        _log.WriteLine($"  [{at} s] {line}");
    }

    /// <summary>An event in the one stream: the checker, the load's statistics, the trace (the runner's own events too).</summary>
    private void ObserveEvent(TraceEvent e)
    {
        _events++;
        _checker.Observe(e);
        _settings.Observe?.Invoke(_current, e);
        _traceLog.Event(_current, e);
    }

    // --- observe -------------------------------------------------------------------------------

    private void Observe()
    {
        var now = Now();
        while (_inbox.TryDequeue(out var item))
        {
            switch (item)
            {
                case TraceBatch b when b.RunId == _runId:
                    if (_merger.Add(b))
                    {
                        _lastHeard[b.Node] = now;
                        // Cumulative: a node's batches come in order over one connection.
                        if (b.Counts is { } c && b.Node < N && c.Messages >= _counts[b.Node].Messages)
                        {
                            _counts[b.Node] = c;
                        }
                    }
                    break;
                // A member that was removed speaks no more (on its way out it sees the others go).
                case MemberReport s when s.RunId == _runId && !_membership.IsRemoved(s.Reporter):
                    OnMemberReport(s, now);
                    break;
                case NodeGone g when g.RunId == _runId && !_membership.IsRemoved(g.Reporter):
                    Note($"node {g.Node}'s tasks are gone ({string.Join(", ", g.Tasks.Select(t => _scenario.TaskName(new TaskId(t))))}); " +
                         $"node {g.Reporter} told every entity");
                    break;
            }
        }
        DrainLeavers(now);
        Release();
        if (now >= _nextSample)
        {
            _samples.Add(new MessageSample(now, Sum(_counts)));
            _settings.Live?.SetMessages(_samples[^1].Counts.Messages);
            _nextSample += TimeSpan.FromSeconds(1).Ticks;
        }
        now = Now();
        var watermark = _merger.Watermark;
        var judged = watermark == long.MaxValue ? now : Math.Min(now, Ticks(watermark));
        _current = Math.Max(_current, judged);
    }

    private void OnMemberReport(MemberReport s, long now)
    {
        switch (Membership.ParseChange(s.Status))
        {
            case MemberChange.Unreachable:
                if (_membership.SeenUnreachable(s.Node, s.Reporter))
                {
                    Note($"node {s.Node} unreachable (seen by node {s.Reporter})");
                }
                break;
            case MemberChange.Reachable:
                if (_membership.SeenReachable(s.Node, s.Reporter))
                {
                    Note($"node {s.Node} reachable again");
                }
                break;
            // When the member saw it (its stamp), not when the runner got round to the report: the
            // member reports the removal before it tells the entities, so whatever the removal
            // set free comes after it, however late a busy runner reads its inbox.
            case MemberChange.Removed:
                if (_membership.Removed(s.Node, Math.Min(now, Ticks(s.Stamp))))
                {
                    _merger.Leaving(s.Node);
                    var after = _membership.CrashedAt(s.Node) is { } c
                        ? $", {TimeSpan.FromTicks(_membership.RemovedAt(s.Node)!.Value - c).TotalSeconds:F2} s after the crash"
                        : "";
                    Note($"node {s.Node} removed from the cluster{after}");
                    if (_membership.IsCrashed(s.Node))
                    {
                        ObserveEvent(new NodeRemoved(s.Node, "crashed"));
                    }
                }
                break;
        }
    }

    /// <summary>
    /// A member whose process exited, or that crashed or was removed, is leaving: once it has
    /// sent nothing for DrainQuiet, its last batches are in and it holds the merge back no
    /// more. A member that is there and silent for SilentLimit makes the run unjudgeable.
    /// </summary>
    private void DrainLeavers(long now)
    {
        foreach (var child in _children)
        {
            if (child.HasExited && _merger.IsLive(child.Index) && !_merger.IsLeaving(child.Index))
            {
                _merger.Leaving(child.Index);
            }
        }
        foreach (var (node, heard) in _lastHeard)
        {
            if (_merger.IsLeaving(node) && now - heard > DrainQuiet.Ticks)
            {
                _merger.Gone(node);
            }
            else if (_merger.IsLive(node) && !_merger.IsLeaving(node) && now - heard > SilentLimit.Ticks)
            {
                throw new SlowMemberException(
                    $"node {node} sent no trace for {SilentLimit.TotalSeconds:F0} s (its heartbeat is every " +
                    $"{TraceForwarder.Interval.TotalMilliseconds:F0} ms), so the run cannot be judged");
            }
        }
    }

    private void Release()
    {
        foreach (var (node, stamp, e, late) in _merger.Release())
        {
            if (late && _checker.Violation is null)
            {
                _disorder = (node, (_disorder?.Count ?? 0) + 1);
            }
            _current = Math.Max(_current, Ticks(stamp));
            ObserveEvent(e);
            if (_checker.Stopped)
            {
                break;
            }
            switch (e)
            {
                case TaskEnded:
                    _firstTaskEnded ??= Ticks(stamp);
                    break;
                // A pin given back by a task of a crashed (or downed) member: its last one?
                case PagePut put when _placement[put.Task.Value] is var lost && _membership.PinsReleasedAt(lost) is null &&
                                      _membership.LostBy(lost, Ticks(stamp)):
                    if (Enumerable.Range(0, _placement.Length)
                        .All(t => _placement[t] != lost || _checker.PinsHeldBy(new TaskId(t)) == 0))
                    {
                        _membership.PinsReleased(lost, Ticks(stamp));
                        var since = _membership.CrashedAt(lost) is { } crash
                            ? $", {TimeSpan.FromTicks(Ticks(stamp) - crash).TotalSeconds:F2} s after the crash"
                            : "";
                        Note($"node {lost}'s tasks hold no pin any more{since}");
                    }
                    break;
            }
        }
    }

    // --- inject --------------------------------------------------------------------------------

    private void Inject()
    {
        var now = Now();
        while (_nextFault < _faults.Count && _faults[_nextFault].At.Ticks <= now)
        {
            Inject(_faults[_nextFault++].Fault);
        }
    }

    private void Inject(FaultSpec fault)
    {
        switch (fault)
        {
            case SignalFault s:
                AgentOf(s.Task).Tell(new InjectTaskFault(_runId, s.Restart ? "signal-restart" : "signal", s.Task.Value), _runnerRef);
                break;
            case KillFault k:
                // SIGKILL kills every thread of the process (they run on one member).
                foreach (var thread in _scenario.ProcessOf(k.Task).Threads)
                {
                    AgentOf(thread).Tell(new InjectTaskFault(_runId, "kill", thread.Value), _runnerRef);
                }
                break;
            case EnomemFault e:
                AgentOf(e.Task).Tell(new InjectTaskFault(_runId, "enomem", e.Task.Value), _runnerRef);
                break;
            case CrashNodeFault c:
                _membership.Crashed(c.Node, Now());
                _unsettledUntil = Now() + DetectionWindow.Ticks;
                // As on the deterministic runtime: L3 holds no operation to its bound until
                // the crashed member is removed, then counts again from there.
                ObserveEvent(new NodeCrashed(c.Node));
                if (_children.FirstOrDefault(x => x.Index == c.Node) is { } child)
                {
                    child.Crash();
                    Note($"crashNode {c.Node}: killed its process (pid {child.Pid}, SIGKILL)");
                }
                else
                {
                    _members[c.Node].Agent.Tell(new CrashSelf(_runId), _runnerRef);
                    Note($"crashNode {c.Node}: told its agent to kill its process");
                }
                // What it sent before it died may still be on its way: drained, then gone.
                _merger.Leaving(c.Node);
                break;
            case PartitionFault p:
                _unsettledUntil = Now() + DetectionWindow.Ticks;
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
                    var others = groupOf.Where(x => x.Value != group).Select(x => _members[x.Key].Address.ToString()).ToArray();
                    _members[node].Agent.Tell(new Blackhole(_runId, others), _runnerRef);
                }
                var largest = p.Between.OrderByDescending(g => g.Count).First();
                _membership.Partitioned(p.Between.Where(g => g != largest).SelectMany(g => g));
                Note($"partition {string.Join(" | ", p.Between.Select(g => string.Join(",", g)))}: members blackhole the other side");
                break;
            case HealFault:
                foreach (var m in _members.Where(m => _membership.IsPresent(m.Index)))
                {
                    m.Agent.Tell(new Unblackhole(_runId), _runnerRef);
                }
                _membership.Healed();
                Note("heal: every member unthrottles every other");
                break;
        }
    }

    private ICanTell AgentOf(TaskId task) => _members[_placement[task.Value]].Agent;

    // --- judge ---------------------------------------------------------------------------------

    /// <summary>True when the run is over. While the cluster has not settled no deadlock or stall is judged.</summary>
    private bool Judge()
    {
        var unsettled = Now() < _unsettledUntil || _membership.Unsettled;
        return _judge.Step(_current, _events, unsettled);
    }

    // --- collect -------------------------------------------------------------------------------

    private RunResult Collect()
    {
        _samples.Add(new MessageSample(Now(), Sum(_counts)));
        var endTime = _current;
        var violation = _checker.Violation;
        var waiting = Waiting();
        foreach (var line in waiting)
        {
            _log.WriteLine($"  waiting: {line}");
        }
        // End the run on every member still there.
        var ends = _members.Where(m => _membership.IsPresent(m.Index))
            .Select(m => m.Agent.Ask<RunEnded>(new EndRun(_runId), TimeSpan.FromSeconds(5))).ToArray();
        try
        {
            Task.WaitAll(ends.Cast<Task>().ToArray(), TimeSpan.FromSeconds(6));
        }
        catch (AggregateException)
        {
            // a member that does not answer is stopped with the others
        }
        if (_checker.Failure is { } failure)
        {
            throw new InvalidOperationException($"an actor failed in {_scenario.Name}: {failure}");
        }
        var totals = Sum(_counts);
        var info = new ClusterRunInfo
        {
            Nodes = N,
            Mode = _children.Count > 0 ? "spawned" : "joined",
            TimeToUp = _timeToUp,
            Members = _members.Select(m => new ClusterNodeInfo(m.Index, $"{m.Address.Host}:{m.Address.Port}",
                TasksOn(m.Index).Select(t => _scenario.TaskName(new TaskId(t))).ToList(),
                _membership.Describe(m.Index), _membership.CrashedAt(m.Index), _membership.RemovedAt(m.Index),
                _membership.PinsReleasedAt(m.Index))).ToList(),
            Faults = _faultLines,
            Waiting = waiting,
            Batches = _merger.Batches,
            LateEvents = _merger.Late,
            Messages = new ClusterMessages
            {
                Counts = totals,
                PerNode = _counts,
                Samples = _samples,
                FirstTaskEnded = _firstTaskEnded,
            },
        };
        var result = RunResults.From(RuntimeKind.Cluster, "cluster", _scenario, _settings, violation,
            _checker.CompletedOps.ToList(), _checker.OpsCompleted, _events, _traceLog, endTime, _wall.Elapsed) with
        {
            Messages = totals.Messages,
            // Every envelope and ack the members' actors took in (duplicates included).
            Deliveries = totals.Messages + totals.DuplicatesLocal + totals.DuplicatesRemote + totals.AcksLocal +
                         totals.AcksRemote,
            Threads = N,
            Cluster = info,
        };
        var disorder = _disorder is { } d
            ? $"{d.Count} event(s) of node {d.Node} reached the checker after newer ones (they came after the node had " +
              "gone and its stream was drained), before the finding: the checker's picture of the world may be wrong"
            : null;
        return RunResults.Judged(result, _host, HostLateness.Window(_scenario, ClusterRuntime.L3Slack),
            ClusterRuntime.L3Slack, disorder);
    }

    private IEnumerable<int> TasksOn(int node) => Enumerable.Range(0, _placement.Length).Where(t => _placement[t] == node);

    private static MessageCounts Sum(IEnumerable<MessageCounts> counts) =>
        counts.Aggregate(MessageCounts.Zero, (a, b) => a.Plus(b));

    /// <summary>What each unfinished task waits for, and where the tasks it waits for are.</summary>
    private List<string> Waiting()
    {
        var lines = new List<string>();
        foreach (var (task, holder, why) in _checker.Waits())
        {
            var node = _placement[holder.Value];
            // A task behind a partition, or on a member that is unreachable and not yet
            // removed, may still be running (doing DMA into the pages it pinned): what it
            // holds stays until the cluster downs its member.
            lines.Add($"{why} (task-{_scenario.TaskName(holder)} runs on node {node}: {_membership.Describe(node)}" +
                      (_membership.CutOff(node) ? $"; what it holds stays until node {node} is downed and removed" : "") + ")");
        }
        foreach (var task in _checker.Unfinished.Where(t => _checker.Waits().All(w => w.Task != t)))
        {
            var node = _placement[task.Value];
            lines.Add($"task-{_scenario.TaskName(task)} on node {node} ({_membership.Describe(node)}) has not finished");
        }
        return lines;
    }
}
