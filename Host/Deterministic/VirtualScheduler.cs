using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Event;

namespace DaxSim.Host.Deterministic;

/// <summary>
/// Akka's scheduler, in virtual time. Timers (Timers.StartSingleTimer, ScheduleTellOnce)
/// wait in a queue ordered by due time and then by the order they were set; the
/// deterministic driver advances the clock to the next due time when no actor can run
/// and fires what is due. The clock only moves when the driver says so, so a run takes
/// as long as its work, not as long as its timers. Configured as
/// akka.scheduler.implementation of the deterministic runtime's ActorSystem.
/// </summary>
public sealed class VirtualScheduler : SchedulerBase, IDateTimeOffsetNowTimeProvider
{
    private static readonly DateTimeOffset Epoch = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    // One timer: an action, a runnable or a Tell, kept as it came rather than wrapped in a
    // closure (most timers are actors' Tells, one or more per simulated step).
    private readonly record struct Entry(
        Action? Action, IRunnable? Runnable, ICanTell? Receiver, object? Message, IActorRef? Sender,
        ICancelable? Cancelable, long Interval)
    {
        public void Run()
        {
            if (Action is not null)
            {
                Action();
            }
            else if (Runnable is not null)
            {
                Runnable.Run();
            }
            else
            {
                Receiver!.Tell(Message!, Sender!);
            }
        }
    }

    private readonly Lock _gate = new();
    private readonly PriorityQueue<Entry, (long Due, long Seq)> _queue = new();
    private long _seq;
    private long _now;

    public VirtualScheduler(Config config, ILoggingAdapter log) : base(config, log)
    {
    }

    /// <summary>The virtual clock, in 100 ns ticks since the run started.</summary>
    public long Now => Volatile.Read(ref _now);

    protected override DateTimeOffset TimeNow => Epoch.AddTicks(Now);

    public override TimeSpan MonotonicClock => TimeSpan.FromTicks(Now);

    public override TimeSpan HighResMonotonicClock => TimeSpan.FromTicks(Now);

    /// <summary>When the next timer is due, or null if none is set.</summary>
    public long? NextDue
    {
        get
        {
            lock (_gate)
            {
                return _queue.TryPeek(out _, out var key) ? key.Due : null;
            }
        }
    }

    public int Pending
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>
    /// A fingerprint of the pending timers in firing order (due time, then the order they were
    /// set in): each one's due time, target actor and message type; cancelled ones left out.
    /// Asked before every scheduling choice of a reduced systematic search, so it is kept: it
    /// is computed again only when a timer was set or fired since, or one of those it counted
    /// was cancelled (cancelling does not go through the scheduler).
    /// </summary>
    public ulong Fingerprint()
    {
        lock (_gate)
        {
            if (_printVersion == _version && !AnyCancelledSincePrint())
            {
                return _print;
            }
            var live = new List<(long Due, long Seq, int Target, Type Type)>(_queue.Count);
            _printCancelables.Clear();
            foreach (var (entry, key) in _queue.UnorderedItems)
            {
                if (entry.Cancelable is { } cancelable)
                {
                    if (cancelable.IsCancellationRequested)
                    {
                        continue;
                    }
                    _printCancelables.Add(cancelable);
                }
                var target = DeterministicDriver.QueueOf(entry.Receiver as IActorRef)?.Ordinal ?? -1;
                var type = entry.Message?.GetType() ?? entry.Runnable?.GetType() ?? typeof(Action);
                live.Add((key.Due, key.Seq, target, type));
            }
            live.Sort((a, b) => a.Due != b.Due ? a.Due.CompareTo(b.Due) : a.Seq.CompareTo(b.Seq));
            ulong h = 0xCBF29CE484222325UL;
            foreach (var t in live)
            {
                h = StateFingerprint.Mix(h ^ (ulong)t.Due);
                h = StateFingerprint.Mix(h ^ (ulong)(uint)t.Target);
                h = StateFingerprint.Mix(h ^ Runs.TraceLog.TypeId(t.Type));
            }
            _print = h;
            _printVersion = _version;
            return h;
        }
    }

    // The last Fingerprint(), the _version it was taken at, and the live timers' cancelables then.
    private ulong _print;
    private long _printVersion = -1;
    private readonly List<ICancelable> _printCancelables = [];

    // Bumped whenever a timer is set or taken off the queue.
    private long _version;

    /// <summary>Changes whenever a timer is set or taken off the queue (not when one is cancelled: that does not go through the scheduler).</summary>
    internal long Version => Volatile.Read(ref _version);

    private bool AnyCancelledSincePrint()
    {
        foreach (var cancelable in _printCancelables)
        {
            if (cancelable.IsCancellationRequested)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Sets the clock to <paramref name="time"/> (never backwards) and runs every timer due by then, in order.</summary>
    public void AdvanceTo(long time)
    {
        if (time > _now)
        {
            Volatile.Write(ref _now, time);
        }
        while (true)
        {
            Entry entry;
            long due;
            lock (_gate)
            {
                if (!_queue.TryPeek(out entry, out var key) || key.Due > _now)
                {
                    return;
                }
                _queue.Dequeue();
                _version++;
                due = key.Due;
            }
            if (entry.Cancelable is { IsCancellationRequested: true })
            {
                continue;
            }
            entry.Run();
            if (entry.Interval > 0)
            {
                Add(due + entry.Interval, entry);
            }
        }
    }

    /// <summary>Drops every timer and sets the clock back to zero, for the next run.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _queue.Clear();
            _version++;
            _seq = 0;
            Volatile.Write(ref _now, 0);
        }
    }

    private void Add(long due, in Entry entry)
    {
        lock (_gate)
        {
            _queue.Enqueue(entry, (due, _seq++));
            _version++;
        }
    }

    private void Schedule(TimeSpan delay, in Entry entry) => Add(Now + Math.Max(0, delay.Ticks), entry);

    protected override void InternalScheduleTellOnce(TimeSpan delay, ICanTell receiver, object message,
        IActorRef sender, ICancelable cancelable) =>
        Schedule(delay, new Entry(null, null, receiver, message, sender, cancelable, 0));

    protected override void InternalScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval,
        ICanTell receiver, object message, IActorRef sender, ICancelable cancelable) =>
        Schedule(initialDelay, new Entry(null, null, receiver, message, sender, cancelable, interval.Ticks));

    protected override void InternalScheduleOnce(TimeSpan delay, Action action, ICancelable cancelable) =>
        Schedule(delay, new Entry(action, null, null, null, null, cancelable, 0));

    protected override void InternalScheduleOnce(TimeSpan delay, IRunnable action, ICancelable cancelable) =>
        Schedule(delay, new Entry(null, action, null, null, null, cancelable, 0));

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, Action action,
        ICancelable cancelable) =>
        Schedule(initialDelay, new Entry(action, null, null, null, null, cancelable, interval.Ticks));

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, IRunnable action,
        ICancelable cancelable) =>
        Schedule(initialDelay, new Entry(null, action, null, null, null, cancelable, interval.Ticks));
}
