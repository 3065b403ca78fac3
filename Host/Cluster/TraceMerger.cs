using DaxSim.Protocol.Trace;

namespace DaxSim.Host.Cluster;

/// <summary>
/// Merges the members' event streams into one order for the checker. Every event carries
/// the monotonic clock's stamp of its emission; a node's stream arrives in stamp order,
/// and each batch says the node has nothing earlier left (its watermark). An event is
/// released once every live node's watermark has reached its stamp, so the release order
/// is the stamp order: on one machine, with one clock, the order in which the events
/// happened, causes before effects (an actor emits before it sends what its event caused).
/// A node that is gone or silent does not hold the others back; an event of it that comes
/// after newer ones were released is released at once and counted as late.
/// </summary>
public sealed class TraceMerger
{
    private sealed class Stream
    {
        public readonly Queue<(long Stamp, TraceEvent Event)> Pending = new();
        public long Watermark = long.MinValue;
        public long LastSeq;
        public bool Live = true;
        public bool Gone;
    }

    private readonly SortedDictionary<int, Stream> _streams = new();
    private long _released = long.MinValue;

    public TraceMerger(IEnumerable<int> nodes)
    {
        foreach (var n in nodes)
        {
            _streams[n] = new Stream();
        }
    }

    /// <summary>Events released after newer ones (a node that was silent came back).</summary>
    public long Late { get; private set; }

    /// <summary>Batches that arrived out of sequence (lost or reordered: never expected).</summary>
    public long Gaps { get; private set; }

    public long Batches { get; private set; }

    public bool Add(TraceBatch batch)
    {
        if (!_streams.TryGetValue(batch.Node, out var s) || batch.Stamps.Length != batch.Events.Length)
        {
            return false;
        }
        Batches++;
        if (batch.Seq != s.LastSeq + 1)
        {
            Gaps++;
        }
        s.LastSeq = Math.Max(s.LastSeq, batch.Seq);
        for (var i = 0; i < batch.Events.Length; i++)
        {
            s.Pending.Enqueue((batch.Stamps[i], batch.Events[i]));
        }
        s.Watermark = Math.Max(s.Watermark, batch.Stamp);
        if (!s.Gone)
        {
            s.Live = true;
        }
        return true;
    }

    /// <summary>A node that is silent for now: it does not hold the others back until it sends again.</summary>
    public void Silent(int node)
    {
        if (_streams.TryGetValue(node, out var s))
        {
            s.Live = false;
        }
    }

    /// <summary>A node that left for good (crashed, removed): it never holds the others back again.</summary>
    public void Gone(int node)
    {
        if (_streams.TryGetValue(node, out var s))
        {
            s.Live = false;
            s.Gone = true;
        }
    }

    public bool IsLive(int node) => _streams.TryGetValue(node, out var s) && s.Live;

    public long WatermarkOf(int node) => _streams.TryGetValue(node, out var s) ? s.Watermark : long.MinValue;

    /// <summary>Every live node has sent everything up to here; long.MaxValue when no node is live.</summary>
    public long Watermark
    {
        get
        {
            var w = long.MaxValue;
            foreach (var s in _streams.Values)
            {
                if (s.Live)
                {
                    w = Math.Min(w, s.Watermark);
                }
            }
            return w;
        }
    }

    /// <summary>The events that can be released now, in stamp order (ties: by node).</summary>
    public IEnumerable<(int Node, long Stamp, TraceEvent Event)> Release()
    {
        var watermark = Watermark;
        while (true)
        {
            Stream? next = null;
            var node = -1;
            foreach (var (n, s) in _streams)
            {
                if (s.Pending.Count > 0 && (next is null || s.Pending.Peek().Stamp < next.Pending.Peek().Stamp))
                {
                    next = s;
                    node = n;
                }
            }
            if (next is null || next.Pending.Peek().Stamp > watermark)
            {
                yield break;
            }
            var (stamp, e) = next.Pending.Dequeue();
            if (stamp < _released)
            {
                Late++;
            }
            else
            {
                _released = stamp;
            }
            yield return (node, stamp, e);
        }
    }

    public int Pending => _streams.Values.Sum(s => s.Pending.Count);
}
