using Akka.Actor;

namespace DaxSim.Host.Deterministic;

/// <summary>
/// The deterministic runtime's one top-level actor, started once per ActorSystem. Each run's
/// SimulationRoot is created as its child, from inside an actor the driver schedules: a
/// top-level actor would be started by the /user guardian on the thread pool, a child is
/// started by its parent, on the driver's thread.
/// </summary>
public sealed class RunHost : ReceiveActor
{
    public const string Name = "daxsim-host";

    /// <summary>Driver → RunHost: create the run's root actor and hand its reference back.</summary>
    public sealed record StartRun(Props Props, string Name, Action<IActorRef> Started);

    public RunHost()
    {
        Receive<StartRun>(m => m.Started(Context.ActorOf(m.Props, m.Name)));
    }
}
