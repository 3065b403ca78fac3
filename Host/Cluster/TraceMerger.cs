using DaxSim.Protocol.Trace;

namespace DaxSim.Host.Cluster;

/// <summary>
/// Merges the members' event streams into one order for the checker. Every event carries
/// the monotonic clock's stamp of its emission; a node's batches are numbered, and each
/// says the node has nothing earlier left (its watermark). An event is released once every
/// node that may still send has a watermark at or past its stamp, so the release order is
/// the stamp order: on one machine, with one clock, the order in which the events happened,
/// causes before effects (an actor emits before it sends what its event caused).
///
/// The checker must never see an effect before its cause: a page freed before the put that
/// made it idle reads as a use-after-free (S1) that never happened. So a member that is slow
/// (a loaded host starves its timer) holds the merge back for as long as it lives; a batch
/// that comes twice is dropped, and one that overtakes an earlier one waits for it. Only a
/// node that is gone for good stops holding the others back (the runner drains a crashed or
/// removed member first: <see cref="Leaving"/>, then <see cref="Gone"/>); an event of a gone
/// node older than one already released is released at once and flagged late, and the
/// runner does not trust a violation found after it (docs/cluster.md).
/// </summary>
public sealed class TraceMerger
{
    private enum StreamState
    {
        /// <summary>The member runs: it holds the merge back until its watermark passes.</summary>
        Live,

        /// <summary>Crashed or removed: still holds the merge back, until the runner says it is drained.</summary>
        Leaving,

        /// <summary>Gone for good: holds nothing back.</summary>
        Gone,
    }

    private sealed class Stream
    {
        public readonly Queue<(long Stamp, TraceEvent Event)> Pending = new();

        // Batches that arrived before an earlier one of the same node, by sequence number.
        public readonly SortedDictionary<long, TraceBatch> Ahead = new();
        public long Watermark = long.MinValue;
        public long LastSeq;
        public StreamState State = StreamState.Live;
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

    /// <summary>Events released after newer ones (a gone node's events that came after its drain).</summary>
    public long Late { get; private set; }

    /// <summary>Batches that arrived before an earlier one of their node (held until it came).</summary>
    public long Gaps { get; private set; }

    /// <summary>Batches that arrived a second time (dropped).</summary>
    public long Duplicates { get; private set; }

    public long Batches { get; private set; }

    /// <summary>
    /// Takes a node's batch. False for a batch of no node of the run, a malformed one, or
    /// one already taken (a duplicate: dropped). A batch that overtook an earlier one is
    /// kept until the earlier one comes: the node's events stay in order.
    /// </summary>
    public bool Add(TraceBatch batch)
    {
        if (!_streams.TryGetValue(batch.Node, out var s) || batch.Stamps.Length != batch.Events.Length)
        {
            return false;
        }
        if (batch.Seq <= s.LastSeq || s.Ahead.ContainsKey(batch.Seq))
        {
            Duplicates++;
            return false;
        }
        Batches++;
        if (batch.Seq != s.LastSeq + 1)
        {
            Gaps++;
            s.Ahead[batch.Seq] = batch;
            return true;
        }
        Apply(s, batch);
        while (s.Ahead.Count > 0 && s.Ahead.First() is var (seq, next) && seq == s.LastSeq + 1)
        {
            s.Ahead.Remove(seq);
            Apply(s, next);
        }
        return true;
    }

    private static void Apply(Stream s, TraceBatch batch)
    {
        s.LastSeq = batch.Seq;
        for (var i = 0; i < batch.Events.Length; i++)
        {
            s.Pending.Enqueue((batch.Stamps[i], batch.Events[i]));
        }
        s.Watermark = Math.Max(s.Watermark, batch.Stamp);
    }

    /// <summary>
    /// A node that crashed or was removed: what it sent before it went may still be on its
    /// way, so it still holds the others back until the runner calls <see cref="Gone"/>.
    /// </summary>
    public void Leaving(int node)
    {
        if (_streams.TryGetValue(node, out var s) && s.State == StreamState.Live)
        {
            s.State = StreamState.Leaving;
        }
    }

    /// <summary>A node that left for good and whose last batches are in: it never holds the others back again.</summary>
    public void Gone(int node)
    {
        if (_streams.TryGetValue(node, out var s))
        {
            s.State = StreamState.Gone;
        }
    }

    /// <summary>Whether the node still holds the merge back (it runs, or it is leaving and not yet drained).</summary>
    public bool IsLive(int node) => _streams.TryGetValue(node, out var s) && s.State != StreamState.Gone;

    public bool IsLeaving(int node) => _streams.TryGetValue(node, out var s) && s.State == StreamState.Leaving;

    public long WatermarkOf(int node) => _streams.TryGetValue(node, out var s) ? s.Watermark : long.MinValue;

    /// <summary>Every node that holds the merge back has sent everything up to here; long.MaxValue when none does.</summary>
    public long Watermark
    {
        get
        {
            var w = long.MaxValue;
            foreach (var s in _streams.Values)
            {
                if (s.State != StreamState.Gone)
                {
                    w = Math.Min(w, s.Watermark);
                }
            }
            return w;
        }
    }

    /// <summary>
    /// The events that can be released now, in stamp order (ties: by node). Late: the event
    /// is older than one released before it (only a gone node's can be).
    /// </summary>
    public IEnumerable<(int Node, long Stamp, TraceEvent Event, bool Late)> Release()
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
            var late = stamp < _released;
            if (late)
            {
                Late++;
            }
            else
            {
                _released = stamp;
            }
            yield return (node, stamp, e, late);
        }
    }

    public int Pending => _streams.Values.Sum(s => s.Pending.Count);
}
