using Akka.Actor;

namespace DaxSim.Transport;

/// <summary>The timers of a delivery without a journal (plain and reliable): Akka's, on the owner.</summary>
internal static class SelfTimers
{
    public static void Start(IActorRef self, IWithTimers owner, string key, object message, TimeSpan delay)
    {
        // A step (no delay) is a message, not a timer: the scheduler would hold it until the
        // clock moves (the deterministic runtime) or its next tick (10 ms in real time).
        if (delay <= TimeSpan.Zero)
        {
            self.Tell(message, self);
            return;
        }
        owner.Timers.StartSingleTimer(key, message, delay);
    }
}
