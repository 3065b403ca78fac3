using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using DaxSim.Actors;
using DaxSim.Actors.Page;
using DaxSim.Host.Checking;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;

namespace DaxSim.Host.Local;

/// <summary>
/// The local runtime: the actors on a plain ActorSystem with the default dispatcher, real
/// threads and Akka's real scheduler (ticking every 10 ms, the least it allows). Time is elapsed wall
/// time. The same checker watches the trace: events are serialized through one lock, an
/// order consistent with every message's cause and effect, and liveness is judged from
/// elapsed time: L3 deadlines as in the deterministic runtime, and a run that stops
/// producing events with work left is examined as the deterministic runtime examines
/// quiescence.
/// </summary>
public sealed class LocalRuntime
{
    private static readonly Config AkkaConfig = ConfigurationFactory.ParseString($$"""
        akka {
          loglevel = WARNING
          stdout-loglevel = WARNING
          log-dead-letters = off
          log-dead-letters-during-shutdown = off
          scheduler.tick-duration = 10ms
        }
        {{CountingMailbox.Id}} {
          mailbox-type = "{{typeof(CountingMailbox).AssemblyQualifiedName}}"
        }
        """);

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(2);
    private static readonly TimeSpan DeadlockQuiet = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan EndQuiet = TimeSpan.FromMilliseconds(50);

    /// <summary>Real time is noisy (10 ms timer ticks, JIT, GC): L3 allows this much on top of opBound.</summary>
    public static readonly TimeSpan L3Slack = TimeSpan.FromMilliseconds(250);

    /// <summary>Sees every event as the checker does (under the same lock); for tests and progress displays.</summary>
    public Action<TraceEvent>? Observer { get; init; }

    public RunResult Run(Scenario scenario, RunSettings settings)
    {
        // Time starts when the simulation does, not when the ActorSystem starts.
        var clock = new Stopwatch();
        long Now() => clock.Elapsed.Ticks;
        var log = new TraceLog(tailSize: 48, keepText: settings.RecordTrace, keepEntries: settings.RecordTimeline);
        var checker = new InvariantChecker(scenario, Now, settings.RecordOps, L3Slack);
        var sink = new LockedSink(checker, log, Now, Observer, settings.Observe);
        var directory = new LocalDirectory();
        // The entities get a mailbox that counts their messages; the page regions of lazy
        // pages only route, and are not counted.
        var env = new SimEnvironment(scenario, ProtocolPolicy.For(settings.Variant), sink, directory,
            props => props.Type == typeof(PageRegion) ? props : props.WithMailbox(CountingMailbox.Id))
        {
            LazyPages = settings.LazyPages,
            IdlePageActors = settings.IdlePageActors,
        };

        var judge = new LiveJudge(checker, scenario, EndQuiet, settings.DeadlockQuiet ?? DeadlockQuiet);

        LiveJudge.EnsureThreads();
        using var system = ActorSystem.Create("daxsim-local", AkkaConfig);
        var counter = MessageCounter.Of(system);
        if (settings.Live is { } live)
        {
            live.MessagesSource = () => counter.Total;
        }
        clock.Start();
        system.ActorOf(SimulationRoot.Props(env, directory), "root");
        while (true)
        {
            Thread.Sleep(Poll);
            lock (sink.Gate)
            {
                // Until the tasks have started, the root is still creating the run's actors
                // (thousands of them in a load), which emits nothing: no stall, no deadlock yet.
                if (judge.Step(Now(), sink.Events, unsettled: !sink.TasksStarted))
                {
                    break;
                }
            }
        }
        Violation? violation;
        IReadOnlyList<OpRecord> ops;
        long endTime, completed, events;
        int threads;
        lock (sink.Gate)
        {
            events = sink.Events;
            threads = sink.Threads.Count;
            sink.Closed = true;
            violation = checker.Violation;
            ops = checker.CompletedOps.ToList();
            completed = checker.OpsCompleted;
            endTime = Now();
        }
        var messages = counter.Total;
        if (settings.Live is { } done)
        {
            done.MessagesSource = null;
            done.SetMessages(messages);
        }
        system.Terminate().Wait(TimeSpan.FromSeconds(10));
        MessageCounter.Forget(system);
        if (checker.Failure is { } failure)
        {
            throw new InvalidOperationException($"an actor failed in {scenario.Name}: {failure}");
        }
        return new RunResult
        {
            Scenario = scenario.Name,
            Runtime = "local",
            Seed = settings.Seed,
            Variant = settings.Variant,
            Strategy = "threads",
            Verdict = violation?.Verdict ?? Verdict.Clean,
            Violation = violation,
            Ops = ops,
            OpsCompleted = completed,
            Deliveries = messages,
            Messages = messages,
            Events = events,
            Threads = threads,
            EndTime = endTime,
            TraceHash = log.Hash,
            TraceTail = violation is null ? [] : log.Tail(),
            TraceText = log.Text,
            Timeline = log.Entries,
            WallTime = clock.Elapsed,
        };
    }

    /// <summary>Serializes the actors' events from many threads into one order for the checker.</summary>
    private sealed class LockedSink(InvariantChecker checker, TraceLog log, Func<long> now,
        Action<TraceEvent>? observer, Action<long, TraceEvent>? observe) : ITraceSink
    {
        // System.Threading.Lock, not a Monitor on an object: every event of every actor thread
        // takes it, and Monitor's contended path showed in load profiles.
        public readonly Lock Gate = new();

        public long Events { get; private set; }

        /// <summary>The managed threads events came from: the actors' threads.</summary>
        public HashSet<int> Threads { get; } = [];

        public bool Closed { get; set; }

        /// <summary>A task has started an operation or ended: the run's actors all exist.</summary>
        public bool TasksStarted { get; private set; }

        public void Emit(TraceEvent e)
        {
            lock (Gate)
            {
                if (Closed)
                {
                    return;
                }
                Events++;
                TasksStarted |= e is OpStarted or TaskEnded;
                Threads.Add(Environment.CurrentManagedThreadId);
                checker.Observe(e);
                var time = now();
                log.Event(time, e);
                observer?.Invoke(e);
                observe?.Invoke(time, e);
            }
        }
    }
}
