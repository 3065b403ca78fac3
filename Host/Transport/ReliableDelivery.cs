using Akka.Actor;
using Akka.Event;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Scenarios;
using Envelope = DaxSim.Protocol.Messages.Envelope;

namespace DaxSim.Transport;

/// <summary>
/// Reliable delivery for one actor, on Akka: a <see cref="ReliableChannel"/> numbers,
/// acknowledges, orders, de-duplicates and retransmits; this puts its transmissions on the
/// wire (where the scenario's drop / duplicate / delay faults and the network's partitions
/// act on each), runs its retransmission timer, counts the cluster's message figures, and
/// checks what arrives before the actor sees it:
/// <list type="bullet">
/// <item>an envelope for another endpoint, or whose payload names another entity, is dropped with a logged error;</item>
/// <item>a gone task's envelopes are dropped; <see cref="TaskGone"/> itself is the task's exit (<see cref="IDeliveryHost.TaskGone"/>);</item>
/// <item>a payload that would break the actor's state (<see cref="IDeliveryHost.Refuses"/>) is
/// refused with a logged error: a reliable run's peers may be other processes, and a bad one
/// must not drive an entity into a state the protocol cannot reach. (Between actors of one
/// process, plain delivery lets such a message through for the checker to report.)</item>
/// </list>
/// </summary>
public sealed class ReliableDelivery : IDelivery, IChannelLink
{
    /// <summary>Coalesced acks: time to send the acks owed.</summary>
    private sealed class AckFlush
    {
        public static readonly AckFlush Instance = new();
    }

    private const string RetryTimer = "reliable-retry";

    private readonly TransportSettings _settings;
    private readonly Endpoint _me;
    private readonly IActorContext _context;
    private readonly IActorRef _self;
    private readonly IWithTimers _owner;
    private readonly IDeliveryHost _host;
    private readonly ReliableChannel _channel;
    private readonly HashSet<TaskId> _gone = [];
    private Rng? _faultRng;
    private bool _retrying;

    public ReliableDelivery(TransportSettings settings, Endpoint me, IActorContext context, IWithTimers owner,
        IDeliveryHost host, bool ackEach = false, long incarnation = 0)
    {
        _settings = settings;
        _me = me;
        _context = context;
        _self = context.Self;
        _owner = owner;
        _host = host;
        var elapsed = settings.Elapsed;
        _channel = new ReliableChannel(me, settings.Options, this, () => elapsed().Ticks, settings.InFlight, ackEach, incarnation);
    }

    public bool Replaying
    {
        get => _channel.Replaying;
        set => _channel.Replaying = value;
    }

    /// <summary>An input that changed the channel's state (an envelope processed, an ack that settled something): a journal takes it.</summary>
    public Action<object>? Accepted { get; set; }

    // --- sending ---------------------------------------------------------------------------

    public void Send(Endpoint to, object message)
    {
        _channel.Send(to, message);
        if (!Replaying)
        {
            StartRetrying();
        }
    }

    public void Send(ReplyAddress to, object message)
    {
        if (to.Endpoint is { } endpoint)
        {
            Send(endpoint, message);
            return;
        }
        if (!Replaying)
        {
            to.Ref.Tell(message, _self);
        }
    }

    public void Step(object step) => _self.Tell(step, _self);

    public void StartTimer(string key, object message, TimeSpan delay) => SelfTimers.Start(_self, _owner, key, message, delay);

    public void CancelTimer(string key) => _owner.Timers.Cancel(key);

    /// <summary>
    /// One transmission, as the network would carry it: lost if the receiver cannot be
    /// reached (a partition, a crashed node) or a drop fault hits it, sent twice by a
    /// duplicate fault, late by a delay fault.
    /// </summary>
    void IChannelLink.Transmit(Endpoint to, object wire)
    {
        if (!_settings.Network.Reachable(_me, to))
        {
            return;
        }
        var copies = 1;
        var delay = TimeSpan.Zero;
        var faults = _settings.Options.MessageFaults;
        if (faults.Count > 0)
        {
            var now = _settings.Elapsed();
            _faultRng ??= Rng.ForStream(_settings.Options.Seed, StreamOf(_me));
            foreach (var f in faults)
            {
                if ((f.From is { } from && now < from) || (f.Until is { } until && now >= until) ||
                    _faultRng.NextDouble() >= f.Probability)
                {
                    continue;
                }
                switch (f.Kind)
                {
                    case MessageFaultKind.Drop:
                        return;
                    case MessageFaultKind.Duplicate:
                        copies++;
                        break;
                    case MessageFaultKind.Delay:
                        delay += TimeSpan.FromTicks((long)(_faultRng.NextDouble() * f.Max!.Value.Ticks));
                        break;
                }
            }
        }
        var target = _settings.Resolve(to);
        for (var i = 0; i < copies; i++)
        {
            if (delay > TimeSpan.Zero)
            {
                _context.System.Scheduler.ScheduleTellOnce(delay, target, wire, _self);
            }
            else
            {
                target.Tell(wire, _self);
            }
        }
    }

    private static ulong StreamOf(Endpoint e) => 0x5EED_0000_0000UL ^ ((ulong)e.Kind << 32) ^ (uint)e.Id;

    void IChannelLink.FlushLater() => _self.Tell(AckFlush.Instance, _self);

    private void StartRetrying()
    {
        if (_retrying)
        {
            return;
        }
        _retrying = true;
        _owner.Timers.StartPeriodicTimer(RetryTimer, TransportTick.Instance, _settings.Options.RetryInterval);
    }

    private void Retry()
    {
        if (_channel.Unacknowledged == 0)
        {
            _retrying = false;
            _owner.Timers.Cancel(RetryTimer);
            return;
        }
        var sent = _channel.Resend();
        _settings.Counter?.Retransmitted(sent);
    }

    /// <summary>Recovered from a journal: send again at once what is still unacknowledged.</summary>
    public void ResendAfterRecovery()
    {
        if (_channel.Unacknowledged > 0)
        {
            Retry();
            StartRetrying();
        }
    }

    // --- receiving -------------------------------------------------------------------------

    public bool Receive(object message)
    {
        switch (message)
        {
            case Envelope e:
                OnEnvelope(e);
                return true;
            case Ack a:
                if (!Replaying)
                {
                    _settings.Counter?.Ack(MessageCounter.IsRemote(_context.Sender));
                }
                if (a.To == _me && _channel.TakeAck(a))
                {
                    Accepted?.Invoke(a);
                }
                return true;
            case AckFlush:
                _channel.FlushAcks();
                return true;
            case TransportTick:
                Retry();
                return true;
        }
        return false;
    }

    private void OnEnvelope(Envelope e)
    {
        if (e.To != _me)
        {
            _context.GetLogger().Error("{0} got an envelope for {1} from {2}; dropped", _me, e.To, e.From);
            return;
        }
        // The cluster's message figures (null elsewhere, and while replaying the journal):
        // each envelope counts once as a protocol message, the first time it arrives.
        var counter = Replaying ? null : _settings.Counter;
        var remote = counter is not null && MessageCounter.IsRemote(_context.Sender);
        if (_channel.Receive(e) is Arrival.Duplicate or Arrival.Stale)
        {
            counter?.Duplicate(remote);
        }
        else
        {
            counter?.Message(remote);
        }
    }

    void IChannelLink.Deliver(Envelope e)
    {
        Accepted?.Invoke(e);
        if (e.From.Kind == EndpointKind.Task && _gone.Contains(new TaskId(e.From.Id)))
        {
            return;
        }
        if (e.Payload is TaskGone gone)
        {
            if (_gone.Add(gone.Task))
            {
                _host.TaskGone(gone.Task);
            }
            return;
        }
        if (AddressedTo(e.Payload) is { } to && to != _me)
        {
            _context.GetLogger().Error("{0} got {1} meant for {2} from {3}; dropped", _me, e.Payload.GetType().Name, to, e.From);
            return;
        }
        if (_host.Refuses(e.Payload) is { } why)
        {
            _context.GetLogger().Error("{0} refused {1}: {2}", _me, e.Payload, why);
            return;
        }
        _host.Deliver(e.Payload, e.From);
    }

    /// <summary>The entity a protocol message names as its receiver, if it names one.</summary>
    private static Endpoint? AddressedTo(object message) => message switch
    {
        IPageMessage m => Endpoint.Of(m.Page),
        IInodeMessage m => Endpoint.InodeOf(m.File),
        IMappingMessage m => Endpoint.MappingOf(m.File),
        ITaskMessage m => Endpoint.Of(m.Task),
        IDeviceMessage => Endpoint.Device,
        _ => null,
    };

    public void Started()
    {
    }

    public void Stopped() => _channel.Close();
}
