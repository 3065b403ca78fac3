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
/// time. The same checker watches the trace: each event is stamped when it is emitted and
/// queued (<see cref="SerialDrain{T}"/>), in an order consistent with every message's cause
/// and effect, and the actor threads take turns at handing the queue to the checker without
/// waiting for each other, each at every 64th event it posts (<see cref="FeedBatch"/>).
/// Liveness is judged from elapsed time: L3 deadlines as in the deterministic runtime, and a
/// run that stops producing events with work left is examined as the deterministic runtime
/// examines quiescence.
/// </summary>
public sealed class LocalRuntime : IRuntime
{
    private static readonly Config AkkaConfig = AkkaLogging.With($$"""
        akka.scheduler.tick-duration = 10ms
        {{CountingMailbox.Id}} {
          mailbox-type = "{{typeof(CountingMailbox).AssemblyQualifiedName}}"
        }
        """);

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// An actor thread hands the event queue to the checker at every this many events it
    /// posts, not at each (docs/local-load-profile.md, third round: 64 against 1 and 256).
    /// Events left queued wait at most for the poll, which handles them all before it judges.
    /// </summary>
    public const int FeedBatch = 64;

    private static readonly TimeSpan EndQuiet = TimeSpan.FromMilliseconds(50);

    /// <summary>Real time is noisy (10 ms timer ticks, JIT, GC): L3 allows this much on top of opBound.</summary>
    public static readonly TimeSpan L3Slack = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Sees every event right after the checker, one at a time, with the managed thread that
    /// emitted it; for tests and progress displays. It runs on whichever thread is handing
    /// events to the checker, and holds up the checking, not the actors.
    /// </summary>
    public Action<TraceEvent, int>? Observer { get; init; }

    public RuntimeKind Kind => RuntimeKind.Local;

    public RunResult Run(Scenario scenario, RunSettings settings)
    {
        // Time starts when the simulation does, not when the ActorSystem starts.
        var clock = new Stopwatch();
        long Now() => clock.Elapsed.Ticks;
        var sink = new QueuedSink(scenario, settings, clock, Observer);
        var checker = sink.Checker;
        var directory = new LocalDirectory();
        // The entities get a mailbox that counts their messages; the page regions of lazy
        // pages only route, and are not counted.
        var env = new SimEnvironment(scenario, ProtocolPolicy.For(settings.Variant), sink, directory,
            props => props.Type == typeof(PageRegion) ? props : props.WithMailbox(CountingMailbox.Id))
        {
            LazyPages = settings.LazyPages,
            IdlePageActors = settings.IdlePageActors,
            Seed = settings.Seed,
        };

        // How late the host runs us: L3 allows it, and a finding it swamps is inconclusive.
        var window = HostLateness.Window(scenario, L3Slack);
        using var host = new HostLateness(Now);
        var judge = new LiveJudge(checker, scenario, EndQuiet, settings.Local.DeadlockQuiet)
        {
            Host = host,
            LatenessWindow = window,
        };

        LiveJudge.EnsureThreads();
        using var system = ActorSystem.Create("daxsim-local", AkkaConfig);
        var counter = MessageCounter.Of(system);
        if (settings.Live is { } live)
        {
            live.MessagesSource = () => counter.Total;
        }
        clock.Start();
        system.ActorOf(SimulationRoot.Props(env, directory), "root");
        // Until the tasks have started, the root is still creating the run's actors
        // (thousands of them in a load), which emits nothing: no stall, no deadlock yet.
        do
        {
            Thread.Sleep(Poll);
        }
        while (!sink.Drain.Exclusive(() => judge.Step(Now(), sink.Events, unsettled: !sink.TasksStarted)));
        var (violation, ops, completed, events, threads, endTime) = sink.Drain.Exclusive(() =>
        {
            sink.Closed = true;
            return (checker.Violation, checker.CompletedOps.ToList(), checker.OpsCompleted, sink.Events,
                sink.Threads.Count, Now());
        });
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
        var result = RunResults.From(RuntimeKind.Local, "threads", scenario, settings, violation, ops, completed, events,
            sink.Log, endTime, clock.Elapsed) with
        {
            Deliveries = messages,
            Messages = messages,
            Threads = threads,
        };
        return RunResults.Judged(result, host, window, L3Slack);
    }

    /// <summary>An event as emitted: when, and on which managed thread.</summary>
    private readonly record struct Emitted(long Time, int Thread, TraceEvent Event);

    /// <summary>
    /// Stamps the actors' events on the threads that emit them and queues them for the
    /// checker, the log and the observers, which see them one at a time in queue order.
    /// </summary>
    private sealed class QueuedSink : ITraceSink
    {
        private readonly Stopwatch _clock;
        private readonly Action<TraceEvent, int>? _observer;
        private readonly Action<long, TraceEvent>? _observe;

        // The emission time of the event being handled, or -1 between events: what the
        // checker takes as now, so that a turn at the queue that starts late does not make
        // the operations in it start late.
        private long _handling = -1;

        // The thread of the last event handled: most events come in runs from one thread.
        private int _lastThread = -1;

        public QueuedSink(Scenario scenario, RunSettings settings, Stopwatch clock, Action<TraceEvent, int>? observer)
        {
            _clock = clock;
            _observer = observer;
            _observe = settings.Observe;
            Log = new TraceLog(tailSize: 48, keepText: settings.RecordTrace, keepEntries: settings.RecordTimeline);
            Checker = new InvariantChecker(scenario, ProtocolPolicy.For(settings.Variant), () => _handling >= 0 ? _handling : _clock.Elapsed.Ticks,
                settings.RecordOps, L3Slack);
            Drain = new SerialDrain<Emitted>(Handle, FeedBatch);
        }

        public InvariantChecker Checker { get; }

        public TraceLog Log { get; }

        /// <summary>The queue; its Exclusive gives the checker's state with every event so far handled.</summary>
        public SerialDrain<Emitted> Drain { get; }

        public long Events { get; private set; }

        /// <summary>The managed threads events came from: the actors' threads.</summary>
        public HashSet<int> Threads { get; } = [];

        /// <summary>Set at the end of the run: later events are dropped.</summary>
        public bool Closed { get; set; }

        /// <summary>A task has started an operation or ended: the run's actors all exist.</summary>
        public bool TasksStarted { get; private set; }

        public void Emit(TraceEvent e)
        {
            if (!Closed)
            {
                Drain.Post(new Emitted(_clock.Elapsed.Ticks, Environment.CurrentManagedThreadId, e));
            }
        }

        private void Handle(Emitted emitted)
        {
            if (Closed)
            {
                return;
            }
            var (time, thread, e) = emitted;
            Events++;
            if (!TasksStarted)
            {
                TasksStarted = e is OpStarted or TaskEnded;
            }
            if (thread != _lastThread)
            {
                Threads.Add(thread);
                _lastThread = thread;
            }
            _handling = time;
            try
            {
                Checker.Observe(e);
            }
            catch (Exception failure)
            {
                // The model disagrees with itself (the checker's own consistency checks): fail
                // the run as an actor that throws does, instead of throwing into whichever
                // actor's thread is handling the queue.
                Checker.Observe(new ActorFailed(failure.ToString()));
            }
            finally
            {
                _handling = -1;
            }
            Log.Event(time, e);
            _observer?.Invoke(e, thread);
            _observe?.Invoke(time, e);
        }
    }
}
