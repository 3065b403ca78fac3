using DaxSim.Actors;
using DaxSim.Host.Checking;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Local;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;
using DaxSim.Transport;

namespace DaxSim.Host.Runs;

/// <summary>
/// How to run a scenario once: what every runtime reads, and each runtime's own settings
/// (Deterministic, Local), which the other runtimes ignore. The cluster runtime's own are
/// per runtime, not per run: ClusterRunOptions, given to Runtimes.For.
/// </summary>
public sealed record RunSettings
{
    public ulong Seed { get; init; } = 1;

    public Variant Variant { get; init; } = Variant.Mainline;

    /// <summary>Keep every completed operation for the report.</summary>
    public bool RecordOps { get; init; } = true;

    /// <summary>Keep the scheduling choices, so the run can be replayed from them.</summary>
    public bool RecordSchedule { get; init; } = true;

    /// <summary>Keep the full text trace (every delivery and event); costly, for tests and --trace-text.</summary>
    public bool RecordTrace { get; init; }

    /// <summary>Keep every delivery and event as a structured entry (for the timeline report).</summary>
    public bool RecordTimeline { get; init; }

    /// <summary>Create page actors on first use and stop idle ones (SimEnvironment.LazyPages): load runs.</summary>
    public bool LazyPages { get; init; }

    /// <summary>With LazyPages: how many idle page actors may stay alive (SimEnvironment.IdlePageActors); 0 stops each as soon as it is idle.</summary>
    public int IdlePageActors { get; init; } = 65_536;

    /// <summary>
    /// Sees every trace event after the checker, with its time (100 ns ticks), in the one order
    /// the checker saw them: the load engine's statistics. On the local runtime it is called
    /// by whichever thread is handing the queued events to the checker, so it must be quick.
    /// </summary>
    public Action<long, TraceEvent>? Observe { get; init; }

    /// <summary>Counters another thread may read while the run goes on (progress displays).</summary>
    public LiveCounters? Live { get; init; }

    /// <summary>The deterministic runtime's own settings (strategy, schedule, injected faults, ...).</summary>
    public DeterministicSettings Deterministic { get; init; } = new();

    /// <summary>The local runtime's own settings.</summary>
    public LocalSettings Local { get; init; } = new();
}

/// <summary>
/// What a run has done so far, for a display on another thread. Messages: protocol messages
/// delivered to the simulated entities (tasks, inodes, mappings, pages, device); the hops
/// through a page region are not counted.
/// </summary>
public sealed class LiveCounters
{
    private long _messages;

    internal Func<long>? MessagesSource { get; set; }

    public long Messages => MessagesSource?.Invoke() ?? Volatile.Read(ref _messages);

    internal void SetMessages(long value) => Volatile.Write(ref _messages, value);
}

/// <summary>What one run gave.</summary>
public sealed record RunResult
{
    /// <summary>
    /// The deterministic runtime ended the run early at a state the systematic search had seen
    /// (DeterministicSettings.AtState): what would follow is the same as what followed
    /// there, so the verdict is not this run's to give.
    /// </summary>
    public bool Pruned { get; init; }

    public required string Scenario { get; init; }

    public required RuntimeKind Runtime { get; init; }

    public required ulong Seed { get; init; }

    public required Variant Variant { get; init; }

    public required string Strategy { get; init; }

    public required Verdict Verdict { get; init; }

    public Violation? Violation { get; init; }

    public required IReadOnlyList<OpRecord> Ops { get; init; }

    public long OpsCompleted { get; init; }

    /// <summary>Messages delivered to simulated actors.</summary>
    public long Deliveries { get; init; }

    /// <summary>
    /// Protocol messages delivered to the simulated entities, without the hops through page
    /// regions (lazy pages) and the run's own bookkeeping; counted on both runtimes.
    /// </summary>
    public long Messages { get; init; }

    /// <summary>Trace events the actors emitted.</summary>
    public long Events { get; init; }

    /// <summary>How many distinct threads the actors ran on (1 on the deterministic runtime).</summary>
    public int Threads { get; init; } = 1;

    /// <summary>Simulated time at the end, in 100 ns ticks (elapsed time for the local runtime).</summary>
    public long EndTime { get; init; }

    /// <summary>A fingerprint of the whole trace: equal for equal runs.</summary>
    public ulong TraceHash { get; init; }

    public IReadOnlyList<int>? Schedule { get; init; }

    /// <summary>How many scheduling choices the run made (points where two or more actors were ready).</summary>
    public long Choices { get; init; }

    /// <summary>PCT's d and k when the strategy was pct.</summary>
    public int? PctDepth { get; init; }

    public long? PctSteps { get; init; }

    /// <summary>The faults and delays injected, when the run had fault injection; null otherwise.</summary>
    public FaultPlan? Faults { get; init; }

    /// <summary>How often the run reached each protocol branch.</summary>
    public Coverage Coverage { get; init; } = new();

    /// <summary>The last deliveries and events before the end, formatted, for the violation report.</summary>
    public IReadOnlyList<string> TraceTail { get; init; } = [];

    public string? TraceText { get; init; }

    /// <summary>Every delivery and event in order, when RunSettings.RecordTimeline was set.</summary>
    public IReadOnlyList<TraceEntry>? Timeline { get; init; }

    public TimeSpan WallTime { get; init; }

    /// <summary>The cluster runtime's account of its members; null on the other runtimes.</summary>
    public ClusterRunInfo? Cluster { get; init; }

    /// <summary>How late the host ran a real-time run (local, cluster); null on the deterministic runtime.</summary>
    public HostReport? Host { get; init; }
}

/// <summary>
/// How late the host ran a real-time run (HostLateness): what it took from the run in all,
/// its GC pauses, the latest timer tick; and, when the verdict is inconclusive, why.
/// </summary>
public sealed record HostReport(TimeSpan Stolen, TimeSpan GcPause, TimeSpan MaxTimerLateness)
{
    /// <summary>Why the run's finding cannot be trusted; null when the verdict stands.</summary>
    public string? Inconclusive { get; init; }
}

/// <summary>Where every runtime's RunResult is made: the parts all runtimes fill the same way.</summary>
public static class RunResults
{
    /// <summary>
    /// A run's result from its checker's findings and its trace log: the verdict follows the
    /// violation, and the trace tail is kept only for a violation's report. The runtime adds
    /// its own figures (deliveries, threads, schedule, cluster members) with `with`.
    /// </summary>
    public static RunResult From(RuntimeKind runtime, string strategy, Scenario scenario, RunSettings settings,
        Violation? violation, IReadOnlyList<OpRecord> ops, long opsCompleted, long events, TraceLog log, long endTime,
        TimeSpan wallTime) => new()
    {
        Scenario = scenario.Name,
        Runtime = runtime,
        Seed = settings.Seed,
        Variant = settings.Variant,
        Strategy = strategy,
        Verdict = violation?.Verdict ?? Verdict.Clean,
        Violation = violation,
        Ops = ops,
        OpsCompleted = opsCompleted,
        Events = events,
        EndTime = endTime,
        TraceHash = log.Hash,
        TraceTail = violation is null ? [] : log.Tail(),
        TraceText = log.Text,
        Timeline = log.Entries,
        WallTime = wallTime,
    };

    /// <summary>
    /// The verdict a real-time run can stand by. A liveness finding that depends on time (L2,
    /// L3: not a wait-for cycle) made while the host took at least half of
    /// <paramref name="l3Slack"/> within <paramref name="window"/> before the end says more
    /// about the machine than about the protocol: inconclusive. So is any finding made after
    /// the checker saw events out of order (<paramref name="disorder"/>: why).
    /// </summary>
    public static RunResult Judged(RunResult run, HostLateness host, TimeSpan window, TimeSpan l3Slack,
        string? disorder = null)
    {
        var report = new HostReport(host.Stolen, host.GcPause, host.MaxTimerLateness);
        string? reason = null;
        if (run.Violation is { } v)
        {
            var taken = host.StolenWithin(window, run.EndTime);
            if (disorder is not null)
            {
                reason = disorder;
            }
            else if (v.Verdict == Verdict.Liveness && v.Invariant.ToString() is "L2" or "L3" && taken >= l3Slack / 2)
            {
                reason = $"the host ran the run {Durations.Format(Round(taken))} late in the {Durations.Format(window)} before " +
                         $"the {v.Invariant} finding (timer lateness, GC pauses), more than half of the " +
                         $"{Durations.Format(l3Slack)} L3 allows for noise: the machine is too busy to tell a slow protocol " +
                         "from a slow host; run it again on a quieter machine";
            }
        }
        return run with
        {
            Host = report with { Inconclusive = reason },
            Verdict = reason is null ? run.Verdict : Verdict.Inconclusive,
        };
    }

    private static TimeSpan Round(TimeSpan t) => TimeSpan.FromMilliseconds(Math.Round(t.TotalMilliseconds));
}

/// <summary>What the cluster runtime reports beyond the checker's verdict (docs/cluster.md).</summary>
public sealed record ClusterRunInfo
{
    public required int Nodes { get; init; }

    /// <summary>How the run got its members: "spawned" (N child processes) or "joined" (an existing cluster).</summary>
    public required string Mode { get; init; }

    public required IReadOnlyList<ClusterNodeInfo> Members { get; init; }

    /// <summary>From starting the first member (or contacting the cluster) until all N were Up.</summary>
    public TimeSpan TimeToUp { get; init; }

    /// <summary>The node faults injected and what followed, one line each.</summary>
    public IReadOnlyList<string> Faults { get; init; } = [];

    /// <summary>When the run ended with work left: what each unfinished task waits for, and where the holder is.</summary>
    public IReadOnlyList<string> Waiting { get; init; } = [];

    public long Batches { get; init; }

    /// <summary>Events released after newer ones (a member that was silent sent again).</summary>
    public long LateEvents { get; init; }

    /// <summary>The protocol messages the members' actors took in, within and between nodes.</summary>
    public ClusterMessages? Messages { get; init; }
}

/// <summary>
/// One member of a cluster run. PinsReleasedAt: for a member that crashed or was downed, when
/// the last pin its tasks held was given back (the PagePut that the TaskGone of its removal
/// caused), in ticks since the run's start; null if its tasks held none or some are still held.
/// </summary>
public sealed record ClusterNodeInfo(int Index, string Address, IReadOnlyList<string> Tasks, string Status,
    long? CrashedAt, long? RemovedAt, long? PinsReleasedAt = null);

/// <summary>
/// The cluster runtime's message figures (docs/cluster.md): what every member's actors took
/// in over reliable delivery, summed over the members (a crashed member's as of its last
/// trace batch). Counts.Remote are the protocol messages between nodes.
/// </summary>
public sealed record ClusterMessages
{
    /// <summary>Summed over the members.</summary>
    public required MessageCounts Counts { get; init; }

    /// <summary>Each member's own counts, by node index.</summary>
    public required IReadOnlyList<MessageCounts> PerNode { get; init; }

    /// <summary>The sums about once a second while the run went (At: ticks since its start), for rates over a window.</summary>
    public required IReadOnlyList<MessageSample> Samples { get; init; }

    /// <summary>When the first task ended (ticks since the start): until then every task was still at work.</summary>
    public long? FirstTaskEnded { get; init; }
}

/// <summary>The members' summed message counts at At (ticks since the run's start).</summary>
public sealed record MessageSample(long At, MessageCounts Counts);
