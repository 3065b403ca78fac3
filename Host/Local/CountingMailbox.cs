using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace DaxSim.Host.Local;

/// <summary>
/// The local runtime's mailbox for the simulated entities (akka config:
/// daxsim-counting-mailbox): Akka's unbounded queue, counting what is enqueued, so that a
/// run on real threads can say how many protocol messages it delivered. The count is
/// striped by thread, so that two cores sending at once do not fight over one cache line.
/// </summary>
public sealed class CountingMailbox(Settings settings, Config config) : MailboxType(settings, config),
    IProducesMessageQueue<UnboundedMessageQueue>
{
    public const string Id = "daxsim-counting-mailbox";

    public override IMessageQueue Create(IActorRef owner, ActorSystem system) =>
        new CountingQueue(MessageCounter.Of(system));

    private sealed class CountingQueue(MessageCounter counter) : IMessageQueue, IUnboundedMessageQueueSemantics
    {
        private readonly UnboundedMessageQueue _queue = new();

        public bool HasMessages => _queue.HasMessages;

        public int Count => _queue.Count;

        public void Enqueue(IActorRef receiver, Envelope envelope)
        {
            _queue.Enqueue(receiver, envelope);
            counter.Increment();
        }

        public bool TryDequeue(out Envelope envelope) => _queue.TryDequeue(out envelope);

        public void CleanUp(IActorRef owner, IMessageQueue deadletters) => _queue.CleanUp(owner, deadletters);
    }
}

/// <summary>Messages enqueued to the counting mailboxes of one ActorSystem.</summary>
public sealed class MessageCounter
{
    private const int Stripes = 16;
    private const int Spacing = 16; // longs: 128 bytes between two stripes
    private static readonly ConcurrentDictionary<ActorSystem, MessageCounter> Counters = new();

    private readonly long[] _counts = new long[Stripes * Spacing];

    public static MessageCounter Of(ActorSystem system) => Counters.GetOrAdd(system, _ => new MessageCounter());

    public static void Forget(ActorSystem system) => Counters.TryRemove(system, out _);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Increment() =>
        Interlocked.Increment(ref _counts[(Environment.CurrentManagedThreadId & (Stripes - 1)) * Spacing]);

    public long Total
    {
        get
        {
            long total = 0;
            for (var i = 0; i < Stripes; i++)
            {
                total += Volatile.Read(ref _counts[i * Spacing]);
            }
            return total;
        }
    }
}
