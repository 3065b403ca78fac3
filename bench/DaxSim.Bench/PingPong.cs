using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using DaxSim.Host.Runs;

namespace DaxSim.Bench;

/// <summary>
/// Raw Akka.NET: two plain ReceiveActors on a default ActorSystem (default dispatcher on the
/// .NET thread pool, default mailbox) bouncing one preallocated message object. With one
/// message in flight every delivery is a hand-off between threads; with many in flight the
/// mailboxes stay busy and each mailbox run takes up to the dispatcher's throughput (30).
/// </summary>
public static class PingPong
{
    private static readonly Config Quiet = AkkaLogging.Quiet;

    /// <summary>One exchange size measured several times; the figure is the median run.</summary>
    public sealed record Result(int InFlight, long RoundTrips, IReadOnlyList<TimeSpan> Runs)
    {
        /// <summary>Both directions count: a round trip is two deliveries.</summary>
        public long Messages => 2 * RoundTrips;

        public TimeSpan Elapsed => Runs.Order().ElementAt(Runs.Count / 2);

        public double MessagesPerSecond => Messages / Elapsed.TotalSeconds;

        public double Slowest => Messages / Runs.Max().TotalSeconds;

        public double Fastest => Messages / Runs.Min().TotalSeconds;
    }

    private sealed class Ball
    {
        public static readonly Ball Instance = new();
    }

    private sealed record Start(IActorRef Ponger, long RoundTrips, int InFlight, TaskCompletionSource Done);

    private sealed class Ponger : ReceiveActor
    {
        public Ponger()
        {
            Receive<Ball>(b => Sender.Tell(b, Self));
        }
    }

    private sealed class Pinger : ReceiveActor
    {
        private IActorRef _ponger = ActorRefs.Nobody;
        private long _toSend;
        private long _toReceive;
        private TaskCompletionSource? _done;

        public Pinger()
        {
            Receive<Start>(s =>
            {
                _ponger = s.Ponger;
                _toSend = s.RoundTrips;
                _toReceive = s.RoundTrips;
                _done = s.Done;
                for (var i = 0; i < s.InFlight && _toSend > 0; i++, _toSend--)
                {
                    _ponger.Tell(Ball.Instance, Self);
                }
            });
            Receive<Ball>(b =>
            {
                if (_toSend > 0)
                {
                    _toSend--;
                    _ponger.Tell(b, Self);
                }
                if (--_toReceive == 0)
                {
                    _done!.TrySetResult();
                }
            });
        }
    }

    /// <summary>How long the first ActorSystem.Create of the process took (JIT cold), set by <see cref="Measure"/>.</summary>
    public static TimeSpan FirstCreate { get; private set; }

    /// <summary>Runs warm-up then the measured exchange for each in-flight count, on one ActorSystem.</summary>
    public static IReadOnlyList<Result> Measure(IEnumerable<(int InFlight, long Warmup, long RoundTrips)> cases, int repeats)
    {
        var create = Stopwatch.StartNew();
        using var system = ActorSystem.Create("bench-pingpong", Quiet);
        if (FirstCreate == TimeSpan.Zero)
        {
            FirstCreate = create.Elapsed;
        }
        var results = new List<Result>();
        var pair = 0;
        foreach (var (inFlight, warmup, roundTrips) in cases)
        {
            pair++;
            var ponger = system.ActorOf(Props.Create(() => new Ponger()), $"ponger-{pair}");
            var pinger = system.ActorOf(Props.Create(() => new Pinger()), $"pinger-{pair}");
            Exchange(pinger, ponger, warmup, inFlight);
            var runs = new List<TimeSpan>();
            for (var i = 0; i < repeats; i++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                runs.Add(Exchange(pinger, ponger, roundTrips, inFlight));
            }
            results.Add(new Result(inFlight, roundTrips, runs));
            system.Stop(pinger);
            system.Stop(ponger);
        }
        system.Terminate().Wait(TimeSpan.FromSeconds(10));
        return results;
    }

    private static TimeSpan Exchange(IActorRef pinger, IActorRef ponger, long roundTrips, int inFlight)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var clock = Stopwatch.StartNew();
        pinger.Tell(new Start(ponger, roundTrips, inFlight, done));
        if (!done.Task.Wait(TimeSpan.FromMinutes(2)))
        {
            throw new TimeoutException($"ping-pong with {inFlight} in flight did not finish");
        }
        return clock.Elapsed;
    }
}
