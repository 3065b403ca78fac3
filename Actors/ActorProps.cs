using Akka.Actor;

namespace DaxSim.Actors;

/// <summary>
/// Props made from a plain factory delegate. <c>Props.Create(() => new X(...))</c> compiles
/// its expression tree every time it is called, which is most of the cost of starting a
/// run's actor tree; the deterministic runtime starts one per seed.
/// </summary>
public static class ActorProps
{
    public static Props Of<T>(Func<T> create) where T : ActorBase => Props.CreateBy(new Producer<T>(create));

    private sealed class Producer<T>(Func<T> create) : IIndirectActorProducer where T : ActorBase
    {
        public Type ActorType => typeof(T);

        public ActorBase Produce() => create();

        public void Release(ActorBase actor)
        {
        }
    }
}
