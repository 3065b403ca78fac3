using System.Diagnostics;
using Akka.Actor;
using DaxSim.Actors;
using DaxSim.Protocol.Trace;
using DaxSim.Transport;

namespace DaxSim.Host.Cluster;

/// <summary>
/// A member's trace sink: stamps every event with Stopwatch.GetTimestamp() (on Linux,
/// CLOCK_MONOTONIC: one clock for every process and container of the machine) and sends
/// them to the runner in batches, every 10 ms or 256 events, and an empty batch when there
/// is nothing to send (a heartbeat: the node has nothing earlier left), each with the node's
/// message counts so far (so the runner sees the traffic as it goes). Stamping and
/// appending happen under one lock, and so does sending, so a node's events reach the
/// runner in stamp order.
/// </summary>
public sealed class TraceForwarder : ITraceSink, IDisposable
{
    public const int BatchSize = 256;
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(10);

    private readonly object _gate = new();
    private readonly string _runId;
    private readonly int _node;
    private readonly IActorRef _runner;
    private readonly MessageCounter? _counter;
    private readonly Timer _timer;
    private List<long> _stamps = new(BatchSize);
    private List<TraceEvent> _events = new(BatchSize);
    private long _seq;
    private bool _closed;

    /// <param name="counter">The node's message counter: every batch carries its counts so far.</param>
    public TraceForwarder(string runId, int node, IActorRef runner, MessageCounter? counter = null)
    {
        _runId = runId;
        _node = node;
        _runner = runner;
        _counter = counter;
        _timer = new Timer(_ => Flush(), null, Interval, Interval);
    }

    /// <summary>Events emitted on this node so far.</summary>
    public long Emitted { get; private set; }

    public void Emit(TraceEvent e)
    {
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }
            _stamps.Add(Stopwatch.GetTimestamp());
            _events.Add(e);
            Emitted++;
            if (_events.Count >= BatchSize)
            {
                SendLocked();
            }
        }
    }

    public void Flush()
    {
        lock (_gate)
        {
            if (!_closed)
            {
                SendLocked();
            }
        }
    }

    private void SendLocked()
    {
        var batch = new TraceBatch(_runId, _node, ++_seq, Stopwatch.GetTimestamp(), _stamps.ToArray(), _events.ToArray(),
            _counter?.Snapshot());
        _stamps = new List<long>(BatchSize);
        _events = new List<TraceEvent>(BatchSize);
        _runner.Tell(batch, ActorRefs.NoSender);
    }

    /// <summary>Sends what is left and stops.</summary>
    public void Dispose()
    {
        _timer.Dispose();
        lock (_gate)
        {
            if (!_closed)
            {
                SendLocked();
                _closed = true;
            }
        }
    }
}
