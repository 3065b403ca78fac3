using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace DaxSim.Host.Deterministic;

// The glue that puts real Akka.NET actors under the deterministic driver:
//
// - DeterministicExecutorConfigurator: the dispatcher's executor. Akka hands it a mailbox
//   whenever the mailbox has work; instead of running it on a thread, it puts it on the
//   driver's ready list.
// - DeterministicMailbox / DeterministicQueue: the mailbox's message queue. It lets a
//   mailbox run dequeue exactly one message (with throughput = 1 a run could otherwise
//   take two), so that every delivery is one scheduling choice; and it tells the driver
//   what was delivered, for the trace.
//
// Both find their driver through the ActorSystem they belong to.

/// <summary>The message queue of one deterministic actor; also its entry in the driver's ready list.</summary>
public sealed class DeterministicQueue : IMessageQueue, ISchedulable
{
    private readonly Queue<Envelope> _queue = new();
    private readonly DeterministicDriver _driver;

    internal DeterministicQueue(DeterministicDriver driver, IActorRef owner)
    {
        _driver = driver;
        Owner = owner;
        var path = owner.Path;
        Name = path.Parent.Name == RunHost.Name ? "root" : path.Name;
        IsHost = Name == RunHost.Name;
        Ordinal = driver.NextOrdinal();
        Routing = Name == "root" || Name.StartsWith("pages-", StringComparison.Ordinal);
    }

    /// <summary>The runtime's host actor, which starts each run's root: its deliveries are not part of any run.</summary>
    public bool IsHost { get; }

    /// <summary>The run's root or a page region (lazy pages): not a simulated entity, its deliveries are not protocol messages.</summary>
    public bool Routing { get; }

    public IActorRef Owner { get; }

    /// <summary>The actor's name within its run ("root" for the run's root), stable across runs and processes.</summary>
    public string Name { get; }

    /// <summary>Creation order within the run.</summary>
    public int Ordinal { get; }

    internal Mailbox? Mailbox { get; set; }

    /// <summary>Set by the driver for the one mailbox run it starts; cleared by the first dequeue.</summary>
    internal bool MayDequeue { get; set; }

    public bool HasMessages => _queue.Count > 0;

    public int Count => _queue.Count;

    public void Enqueue(IActorRef receiver, Envelope envelope)
    {
        _driver.CheckThread();
        _queue.Enqueue(envelope);
    }

    public bool TryDequeue(out Envelope envelope)
    {
        if (!MayDequeue || _queue.Count == 0)
        {
            envelope = default;
            return false;
        }
        MayDequeue = false;
        envelope = _queue.Dequeue();
        _driver.OnDelivery(this, envelope);
        return true;
    }

    public void CleanUp(IActorRef owner, IMessageQueue deadletters) => _queue.Clear();
}

/// <summary>Mailbox type of the deterministic runtime (akka config: daxsim-deterministic-mailbox).</summary>
public sealed class DeterministicMailbox(Settings settings, Config config) : MailboxType(settings, config)
{
    public override IMessageQueue Create(IActorRef owner, ActorSystem system) =>
        new DeterministicQueue(DeterministicDriver.Of(system), owner);
}

/// <summary>Executor of the deterministic dispatcher (akka config: daxsim-deterministic-dispatcher).</summary>
public sealed class DeterministicExecutorConfigurator(Config config, IDispatcherPrerequisites prerequisites)
    : ExecutorServiceConfigurator(config, prerequisites)
{
    public override ExecutorService Produce(string id) =>
        new DeterministicExecutor(id, DeterministicDriver.Of(Prerequisites.Settings.System));

    private sealed class DeterministicExecutor(string id, DeterministicDriver driver) : ExecutorService(id)
    {
        public override void Execute(IRunnable run)
        {
            if (run is Mailbox { MessageQueue: DeterministicQueue queue } mailbox)
            {
                queue.Mailbox = mailbox;
                driver.MakeReady(queue);
                return;
            }
            // Not one of ours (nothing in DaxSim does this): let the thread pool have it. A
            // static lambda: one that captured run would be allocated on every call, this
            // method's fast path included.
            ThreadPool.UnsafeQueueUserWorkItem(static r => r.Run(), run, preferLocal: false);
        }

        public override void Shutdown()
        {
        }
    }
}

/// <summary>
/// The ready list of one deterministic ActorSystem, and the hooks the runtime watches.
/// Everything here runs on the driving thread; the ready list's order is the order in
/// which actors became ready, which is itself determined by the choices made so far.
/// </summary>
public sealed class DeterministicDriver
{
    private static readonly ConcurrentDictionary<ActorSystem, DeterministicDriver> Drivers = new();
    private int _ordinal;

    internal static DeterministicDriver Of(ActorSystem system) => Drivers.GetOrAdd(system, _ => new DeterministicDriver());

    internal static void Forget(ActorSystem system) => Drivers.TryRemove(system, out _);

    public List<DeterministicQueue> Ready { get; } = [];

    /// <summary>The thread allowed to touch deterministic actors.</summary>
    public Thread? Owner { get; set; }

    /// <summary>Called for every message delivered to a deterministic actor.</summary>
    public Action<DeterministicQueue, Envelope>? Delivered { get; set; }

    internal int NextOrdinal() => _ordinal++;

    /// <summary>
    /// The deterministic queue of <paramref name="actor"/>, straight from its cell (hashing an
    /// actor reference hashes its whole path), or null for anything that is not a deterministic actor.
    /// </summary>
    public static DeterministicQueue? QueueOf(IActorRef? actor) =>
        actor is ActorRefWithCell { Underlying: ActorCell { Mailbox.MessageQueue: DeterministicQueue queue } } ? queue : null;

    /// <summary>Forget the previous run's actors.</summary>
    public void Reset()
    {
        _ordinal = 0;
        Ready.Clear();
        _held.Clear();
        _heldSeq = 0;
        HoldUntil = null;
    }

    // Mailboxes made ready by other threads. Only one thing does that: the /user guardian
    // starting the runtime's one top-level actor (RunHost), once, before any run.
    private readonly ConcurrentQueue<DeterministicQueue> _foreign = new();

    internal void MakeReady(DeterministicQueue queue)
    {
        if (Owner is { } owner && owner != Thread.CurrentThread)
        {
            _foreign.Enqueue(queue);
            return;
        }
        if (HoldUntil is { } hold && hold(queue) is var due and > 0)
        {
            _held.Enqueue(queue, (due, _heldSeq++));
            return;
        }
        Ready.Add(queue);
    }

    // --- message delays (fault injection) ---------------------------------------------------------

    // Mailboxes held back: they joined the ready list late, at a virtual time. Akka schedules
    // a mailbox once until it has run, so holding it back delays its next message and, in
    // order, everything queued behind it.
    private readonly PriorityQueue<DeterministicQueue, (long Due, long Seq)> _held = new();
    private long _heldSeq;

    /// <summary>
    /// Set by the runtime while a run injects message delays: asked each time a mailbox becomes
    /// ready, it returns the virtual time until which to hold it back, or 0 to make it ready now.
    /// </summary>
    public Func<DeterministicQueue, long>? HoldUntil { get; set; }

    /// <summary>Whether any mailbox is held back: messages are still in flight.</summary>
    public bool HasHeld => _held.Count > 0;

    /// <summary>When the next held-back mailbox is due, or null.</summary>
    public long? NextHeldDue => _held.TryPeek(out _, out var key) ? key.Due : null;

    /// <summary>Puts every mailbox held back until <paramref name="now"/> or earlier on the ready list, in due order.</summary>
    public void ReleaseHeld(long now)
    {
        while (_held.TryPeek(out var queue, out var key) && key.Due <= now)
        {
            _held.Dequeue();
            Ready.Add(queue);
        }
    }

    /// <summary>Puts every held-back mailbox on the ready list (the run is over: its actors must be able to stop).</summary>
    public void ReleaseAllHeld() => ReleaseHeld(long.MaxValue);

    /// <summary>Moves mailboxes made ready by other threads onto the ready list; how many there were.</summary>
    public int AdoptForeign()
    {
        var n = 0;
        while (_foreign.TryDequeue(out var queue))
        {
            Ready.Add(queue);
            n++;
        }
        return n;
    }

    internal void OnDelivery(DeterministicQueue queue, Envelope envelope) => Delivered?.Invoke(queue, envelope);

    internal void CheckThread()
    {
        if (Owner is { } owner && owner != Thread.CurrentThread)
        {
            throw new InvalidOperationException(
                "a deterministic actor was touched from a thread other than the driver's; the run would not replay");
        }
    }

    /// <summary>Runs the chosen ready mailbox for one message (or its pending system messages).</summary>
    public DeterministicQueue RunAt(int index)
    {
        var queue = Ready[index];
        var last = Ready.Count - 1;
        Ready[index] = Ready[last];
        Ready.RemoveAt(last);
        queue.MayDequeue = true;
        queue.Mailbox!.Run();
        queue.MayDequeue = false;
        return queue;
    }
}
