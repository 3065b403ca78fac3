using Akka.Actor;
using DaxSim.Actors;
using DaxSim.Actors.Page;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;

namespace DaxSim.Host.Load;

/// <summary>
/// What an actor costs in managed memory: a number of actors is created on a fresh
/// ActorSystem and the heap is measured (after full collections) before and after. Done
/// for an empty ReceiveActor and for a PageActor, so that the page's own cost shows apart
/// from Akka's per-actor cost (cell, mailbox, queue, path, reference).
/// </summary>
public static class ActorFootprint
{
    public sealed record Result(int Actors, double EmptyActorBytes, double PageActorBytes);

    private sealed class Empty : ReceiveActor;

    private sealed class NullSink : ITraceSink
    {
        public void Emit(TraceEvent e)
        {
        }
    }

    // Creates the children it is told to, then answers when every one has started.
    private sealed class Spawner : ReceiveActor
    {
        public sealed record Spawn(Func<int, Props> Props, int Count);

        private readonly List<IActorRef> _children = [];

        public Spawner()
        {
            ReceiveAsync<Spawn>(async m =>
            {
                for (var i = 0; i < m.Count; i++)
                {
                    _children.Add(Context.ActorOf(m.Props(i)));
                }
                // An actor is constructed when its mailbox runs its Create: wait until each answers.
                foreach (var child in _children.Skip(_children.Count - m.Count))
                {
                    await child.Ask<ActorIdentity>(new Identify(null), TimeSpan.FromSeconds(30));
                }
                Sender.Tell(Done.Instance);
            });
        }
    }

    private sealed class Done
    {
        public static readonly Done Instance = new();
    }

    public static Result Measure(int actors = 2_000)
    {
        using var system = ActorSystem.Create("daxsim-footprint", AkkaLogging.Quiet);
        var scenario = new Scenario("footprint", Variant.Mainline, new DeviceSpec(actors),
            [new FileSpec(new FileId(0), "f", true, actors)], [], [], Limits.Default, Verdict.Clean);
        var env = new SimEnvironment(scenario, ProtocolPolicy.For(Variant.Mainline), new NullSink(), new LocalDirectory());
        var spawner = system.ActorOf(Props.Create<Spawner>());
        // Warm up: the first actors of a system pay for JIT and static caches.
        Spawn(spawner, _ => Props.Create<Empty>(), 200);
        Spawn(spawner, i => PageActor.Props(env, new PageId(i), new FileId(0)), 200);
        var empty = PerActor(() => Spawn(spawner, _ => Props.Create<Empty>(), actors), actors);
        var page = PerActor(() => Spawn(spawner, i => PageActor.Props(env, new PageId(i), new FileId(0)), actors), actors);
        system.Terminate().Wait(TimeSpan.FromSeconds(10));
        return new Result(actors, empty, page);
    }

    private static void Spawn(IActorRef spawner, Func<int, Props> props, int count) =>
        spawner.Ask<Done>(new Spawner.Spawn(props, count), TimeSpan.FromSeconds(60)).Wait();

    private static double PerActor(Action create, int count)
    {
        var before = Heap();
        create();
        return (Heap() - before) / (double)count;
    }

    private static long Heap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(true);
    }
}
