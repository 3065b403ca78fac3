using Akka.Actor;
using DaxSim.Protocol.Messages;

namespace DaxSim.Transport;

/// <summary>
/// Reliable delivery for an entity whose inputs are journaled, so that it can be started
/// again from them after its node crashed: a decorator over <see cref="ReliableDelivery"/>.
/// The journal is kept either by the shell that hosts the entity (the cluster's
/// Akka.Persistence shell journals every input before handing it over; the entity's timers
/// go through it as <see cref="TimerFired"/>) or by the entity itself, inline (the
/// deterministic runtime's <see cref="IEntityJournal"/>: each input as it is processed, so
/// that what it holds is exactly what the entity's state and reports reflect).
/// On recovery the inputs come back as <see cref="Replayed"/> and rebuild the state, the
/// channel's windows and its unacknowledged messages, without sending or reporting
/// anything; at <see cref="RecoveryDone"/> the timers are armed again and whatever is still
/// unacknowledged goes out.
/// </summary>
public sealed class JournalingDelivery : IDelivery
{
    private readonly ReliableDelivery _inner;
    private readonly IEntityJournal? _journal;
    private readonly bool _viaShell;
    private readonly Endpoint _me;
    private readonly IActorContext _context;
    private readonly IActorRef _self;
    private readonly IDeliveryHost _host;
    private readonly Dictionary<string, (object Message, TimeSpan Delay)> _timers = new();
    private long _stepCount;

    /// <param name="inner">The reliable delivery underneath (sending with one ack per envelope).</param>
    /// <param name="journal">The inline journal, or null when the shell journals.</param>
    /// <param name="viaShell">The shell (the actor's parent) journals inputs and takes its timers.</param>
    public JournalingDelivery(ReliableDelivery inner, IEntityJournal? journal, bool viaShell, Endpoint me,
        IActorContext context, IDeliveryHost host)
    {
        _inner = inner;
        _journal = journal;
        _viaShell = viaShell;
        _me = me;
        _context = context;
        _self = context.Self;
        _host = host;
        inner.Accepted = Journal;
    }

    public bool Replaying => _inner.Replaying;

    public void Send(Endpoint to, object message) => _inner.Send(to, message);

    public void Send(ReplyAddress to, object message) => _inner.Send(to, message);

    /// <summary>A step goes through the journal as a timer's message does, so that a recovered entity takes it again.</summary>
    public void Step(object step) => StartTimer($"step-{++_stepCount}", step, TimeSpan.Zero);

    public void StartTimer(string key, object message, TimeSpan delay)
    {
        _timers[key] = (message, delay);
        if (!Replaying)
        {
            Arm(message, delay);
        }
    }

    public void CancelTimer(string key) => _timers.Remove(key);

    // The timer comes back as TimerFired, through the shell (which journals it) or straight
    // to the entity (the inline journal takes it as it is processed). A cancelled or
    // restarted timer's message is stale when it comes: it finds no armed timer and is dropped.
    // (AK1004: these one-shot timers are not cancelled on purpose.)
#pragma warning disable AK1004
    private void Arm(object message, TimeSpan delay)
    {
        var to = _viaShell ? _context.Parent : _self;
        if (delay <= TimeSpan.Zero)
        {
            to.Tell(new TimerFired(message), _self);
            return;
        }
        _context.System.Scheduler.ScheduleTellOnce(delay, to, new TimerFired(message), _self);
    }
#pragma warning restore AK1004

    public bool Receive(object message)
    {
        switch (message)
        {
            case TimerFired t:
                if (ForgetTimer(t.Message))
                {
                    Take(t.Message);
                }
                return true;
            case Replayed r:
                _inner.Replaying = true;
                try
                {
                    Take(r.Message);
                }
                finally
                {
                    _inner.Replaying = false;
                }
                return true;
            case RecoveryDone:
                foreach (var (_, (timer, delay)) in _timers)
                {
                    Arm(timer, delay);
                }
                _inner.ResendAfterRecovery();
                _host.Recovered();
                return true;
        }
        if (_inner.Receive(message))
        {
            return true;
        }
        ForgetTimer(message);
        Journal(message);
        return false;
    }

    /// <summary>A message taken again through the whole receive path (the actor's own when it is bare).</summary>
    private void Take(object message) => _host.Redeliver(message);

    private void Journal(object input)
    {
        if (_journal is not null && !Replaying)
        {
            _journal.Append(_me, input);
        }
    }

    /// <summary>Forgets the armed timer whose message this is; false if none is.</summary>
    private bool ForgetTimer(object message)
    {
        if (_timers.Count == 0)
        {
            return false;
        }
        foreach (var (key, (timer, _)) in _timers)
        {
            if (Equals(timer, message))
            {
                _timers.Remove(key);
                return true;
            }
        }
        return false;
    }

    /// <summary>An entity that was here before (its node crashed, it was started again elsewhere) rebuilds itself from the inputs it took then.</summary>
    public void Started()
    {
        if (_journal?.Entries(_me) is { Count: > 0 } entries)
        {
            foreach (var entry in entries)
            {
                _host.Redeliver(new Replayed(entry));
            }
            _host.Redeliver(RecoveryDone.Instance);
        }
    }

    public void Stopped() => _inner.Stopped();
}
