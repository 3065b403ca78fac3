using Akka.Actor;
using DaxSim.Protocol.Messages;

namespace DaxSim.Transport;

/// <summary>
/// Delivery as Akka gives it between actors of one process (the local and deterministic
/// runtimes without message or node faults): a bare Tell, nothing numbered, nothing kept.
/// </summary>
public sealed class PlainDelivery(IActorRef self, Func<Endpoint, IActorRef> resolve, IWithTimers owner) : IDelivery
{
    public bool Replaying => false;

    public void Send(Endpoint to, object message) => resolve(to).Tell(message, self);

    public void Send(ReplyAddress to, object message) => to.Ref.Tell(message, self);

    public void Step(object step) => self.Tell(step, self);

    public void StartTimer(string key, object message, TimeSpan delay) => SelfTimers.Start(self, owner, key, message, delay);

    public void CancelTimer(string key) => owner.Timers.Cancel(key);

    public bool Receive(object message) => false;

    public void Started()
    {
    }

    public void Stopped()
    {
    }
}
