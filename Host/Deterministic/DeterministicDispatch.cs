using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Actor.Internal;
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
        driver.Register(this);
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

    /// <summary>When the actor last joined the driver's ready list, counted from the start of the run.</summary>
    public long ReadyOrder { get; internal set; }

    internal Mailbox? Mailbox
    {
        get => _mailbox;
        set
        {
            _mailbox = value;
            // Only Akka's own Mailbox class is run directly (DeterministicDriver.RunAt): a
            // subclass could do more in its run.
            Direct = value is not null && value.GetType() == typeof(Mailbox);
        }
    }

    private Mailbox? _mailbox;

    /// <summary>Whether the driver may deliver to this actor without a mailbox run (see DeterministicDriver.RunAt).</summary>
    internal bool Direct { get; private set; }

    /// <summary>Set by the driver for the one mailbox run it starts; cleared by the first dequeue.</summary>
    internal bool MayDequeue { get; set; }

    public bool HasMessages => _queue.Count > 0;

    private long _delivered;

    /// <summary>Messages this actor has taken in its run (ISchedulable: names the delivery it makes next).</summary>
    public long Delivered => _delivered;

    /// <summary>
    /// The ordinal of the run actor that sent the message at the head of the mailbox, or -1
    /// (ISchedulable; read only when a strategy asks: pos).
    /// </summary>
    public int SenderOrdinal =>
        _queue.TryPeek(out var head) && DeterministicDriver.QueueOf(head.Sender) is { IsHost: false } sender
            ? sender.Ordinal
            : -1;

    public int Count => _queue.Count;

    /// <summary>
    /// <paramref name="seed"/> mixed with the messages waiting here, in order: each one's sender
    /// (its ordinal, or -1) and type, and whether system messages wait (StateFingerprint).
    /// </summary>
    public ulong MixPending(ulong seed)
    {
        foreach (var envelope in _queue)
        {
            var sender = DeterministicDriver.QueueOf(envelope.Sender)?.Ordinal ?? -1;
            seed = StateFingerprint.Mix(seed ^ (ulong)(uint)sender);
            seed = StateFingerprint.Mix(seed ^ Runs.TraceLog.TypeId(envelope.Message.GetType()));
        }
        if (_mailbox is not null && DeterministicDriver.MailboxInternals.HasSystemMessages(_mailbox))
        {
            seed = StateFingerprint.Mix(seed ^ 0x5E5E5E5EUL);
        }
        return seed;
    }

    public void Enqueue(IActorRef receiver, Envelope envelope)
    {
        _driver.CheckThread();
        _queue.Enqueue(envelope);
        if (_driver.Capturing)
        {
            _driver.Sent.Add(Ordinal);
        }
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
        _delivered++;
        _driver.OnDelivery(this, envelope);
        return true;
    }

    /// <summary>Takes the next message for a delivery the driver makes itself.</summary>
    internal Envelope Take()
    {
        var envelope = _queue.Dequeue();
        _delivered++;
        _driver.OnDelivery(this, envelope);
        return envelope;
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
    private long _readyOrder;

    internal static DeterministicDriver Of(ActorSystem system) => Drivers.GetOrAdd(system, _ => new DeterministicDriver());

    internal static void Forget(ActorSystem system) => Drivers.TryRemove(system, out _);

    public List<DeterministicQueue> Ready { get; } = [];

    /// <summary>The thread allowed to touch deterministic actors.</summary>
    public Thread? Owner { get; set; }

    /// <summary>Called for every message delivered to a deterministic actor.</summary>
    public Action<DeterministicQueue, Envelope>? Delivered { get; set; }

    internal int NextOrdinal()
    {
        // An actor created inside a delivery takes the next ordinal: two deliveries that each
        // create one would give them each other's names in the other order.
        CapturedGlobal |= Capturing;
        return _ordinal++;
    }

    // The run's actors by ordinal (the host's is overwritten by the run's first actor: Reset).
    private readonly List<DeterministicQueue?> _byOrdinal = [];

    internal void Register(DeterministicQueue queue)
    {
        while (_byOrdinal.Count <= queue.Ordinal)
        {
            _byOrdinal.Add(null);
        }
        _byOrdinal[queue.Ordinal] = queue;
    }

    /// <summary>The run's actor with this ordinal, or null.</summary>
    internal DeterministicQueue? ByOrdinal(int ordinal) =>
        ordinal >= 0 && ordinal < _byOrdinal.Count ? _byOrdinal[ordinal] : null;

    // --- what one delivery did (sleep sets: SleepSet.cs) ------------------------------------------

    /// <summary>While true, the delivery under way is watched: whom it sent to, how many actors joined the ready list, and anything that is not local to it.</summary>
    internal bool Capturing { get; private set; }

    /// <summary>The ordinals of the actors the watched delivery sent to, in order, repeats kept.</summary>
    internal List<int> Sent { get; } = [];

    /// <summary>Actors that joined the ready list during the watched delivery (its receivers made ready, and its own actor again).</summary>
    internal int CapturedJoins { get; private set; }

    /// <summary>The watched delivery created an actor, ran Akka's own mailbox run (system messages, a stop, a failure) or held a mailbox back.</summary>
    internal bool CapturedGlobal { get; set; }

    internal void BeginCapture()
    {
        Sent.Clear();
        CapturedJoins = 0;
        CapturedGlobal = false;
        Capturing = true;
    }

    internal void EndCapture() => Capturing = false;

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
        _readyOrder = 0;
        _byOrdinal.Clear();
        Capturing = false;
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
            CapturedGlobal |= Capturing;
            _held.Enqueue(queue, (due, _heldSeq++));
            return;
        }
        Enlist(queue);
    }

    private void Enlist(DeterministicQueue queue)
    {
        if (Capturing)
        {
            CapturedJoins++;
        }
        queue.ReadyOrder = _readyOrder++;
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
            Enlist(queue);
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
            Enlist(queue);
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
        var mailbox = queue.Mailbox!;
        if (queue.Direct && queue.HasMessages && MailboxInternals.CurrentStatus(mailbox) == MailboxScheduled &&
            !MailboxInternals.HasSystemMessages(mailbox))
        {
            Deliver(queue, mailbox);
            return queue;
        }
        CapturedGlobal |= Capturing;
        queue.MayDequeue = true;
        mailbox.Run();
        queue.MayDequeue = false;
        return queue;
    }

    // Status of a mailbox that is open, not suspended, and scheduled (Akka's MailboxStatus:
    // Open = 0, Scheduled = 2, suspensions counted from bit 2 up, Closed = 1).
    private const int MailboxScheduled = 2;

    /// <summary>
    /// One user message delivered the way Mailbox.Run delivers it with throughput 1, with
    /// the cell set as the thread's current actor, but without the run's bookkeeping around
    /// it (draining system messages twice, clearing the scheduled flag and setting it
    /// again through the dispatcher and the executor): that is a third of Akka's share of a
    /// delivery, and here nothing but this thread ever touches the mailbox. What the run
    /// does after the message is done the same way: the mailbox goes back on the ready list
    /// (at its end) if it has more, or becomes idle. A delivery that leaves system messages
    /// or a suspended or closed mailbox behind (a failure, a stop) ends with Akka's own run,
    /// which takes no message (MayDequeue is false) and finishes as it would have.
    /// </summary>
    private void Deliver(DeterministicQueue queue, Mailbox mailbox)
    {
        var cell = MailboxInternals.Actor(mailbox);
        var envelope = queue.Take();
        var previous = InternalCurrentActorCellKeeper.Current;
        InternalCurrentActorCellKeeper.Current = cell;
        try
        {
            cell.Invoke(envelope);
        }
        finally
        {
            InternalCurrentActorCellKeeper.Current = previous;
        }
        if (MailboxInternals.CurrentStatus(mailbox) != MailboxScheduled || MailboxInternals.HasSystemMessages(mailbox))
        {
            CapturedGlobal |= Capturing;
            mailbox.Run();
        }
        else if (queue.HasMessages)
        {
            MakeReady(queue); // still scheduled: what the dispatcher's execute would do after the run
        }
        else
        {
            MailboxInternals.SetAsIdle(mailbox);
        }
    }

    // Akka's internal mailbox API, for Deliver (Akka.NET 1.5: Mailbox.cs).
    internal static class MailboxInternals
    {
        [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "CurrentStatus")]
        public static extern int CurrentStatus(Mailbox mailbox);

        [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_HasSystemMessages")]
        public static extern bool HasSystemMessages(Mailbox mailbox);

        [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "SetAsIdle")]
        public static extern bool SetAsIdle(Mailbox mailbox);

        [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_Actor")]
        public static extern ActorCell Actor(Mailbox mailbox);
    }
}
