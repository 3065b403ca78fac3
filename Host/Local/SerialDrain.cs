using System.Collections.Concurrent;

namespace DaxSim.Host.Local;

/// <summary>
/// Items posted from many threads and handled one at a time, in the order in which they
/// were posted, by whichever posting thread finds nobody else handling them (flat
/// combining). Posting does not wait for another thread: a thread that finds the handling
/// taken leaves its item in the queue for the thread handling, or for the next one to post.
/// So a thread that is descheduled while it handles holds up the handling, not the posting,
/// and one lock round serves many items.
///
/// A thread handles at most <see cref="Turn"/> items at a time before it goes back to its own
/// work: the posting threads are actor threads, and an actor whose thread handled the queue
/// for as long as the others kept filling it would stall everything that waits for it. Only
/// when the handling falls more than <see cref="Backlog"/> items behind (looked at on every
/// 32nd post that finds the handling taken) does a posting thread wait for its turn: then
/// the handler sets the pace, and the queue stays bounded.
///
/// An item posted while the queue is empty and nobody handles it is handled at once by its
/// own thread, without going through the queue: the common case when the handling keeps up.
///
/// In batches (<c>batch</c> above 1, a power of two: the local runtime's feed, 64) a posting
/// thread only queues its item, and takes a turn at the handling at every batch-th post of its
/// own (counted per thread, for all drains). The handler then takes items many at a time,
/// with its state warm in one core's cache, instead of one thread after the other taking the
/// lock, looking at the queue and handling one item; items left queued by a thread that
/// stops posting are handled by the next turn or the next <see cref="Exclusive{TResult}"/> (the
/// local runtime's poll, every 2 ms). The order is the same as without batches.
///
/// Order: the queue is linearizable, so an item is handled after every item whose post
/// had returned before its own post began: after the earlier items of its own thread, and
/// after those of any thread it heard from (a message sent after a post is received after
/// it). That is the order of cause and effect that the invariant checker needs.
/// </summary>
public sealed class SerialDrain<T>(Action<T> handle, int batch = 1)
{
    private readonly int _batchMask = batch >= 1 && (batch & (batch - 1)) == 0
        ? batch - 1
        : throw new ArgumentOutOfRangeException(nameof(batch), batch, "a power of two");

    /// <summary>The most items a posting thread handles before it goes back to its own work.</summary>
    public const int Turn = 256;

    /// <summary>Items waiting beyond which a posting thread waits for its turn.</summary>
    public const int Backlog = 16_384;

    private readonly ConcurrentQueue<T> _queue = new();
    private readonly Lock _handling = new();

    /// <summary>Queue the item, and take a turn at handling the queue unless another thread is handling it.</summary>
    public void Post(T item)
    {
        if (_batchMask != 0)
        {
            _queue.Enqueue(item);
            if ((++PostCount.OnThisThread & _batchMask) == 0)
            {
                Drain();
            }
            return;
        }
        // Nothing waiting and nobody handling: handle the item at once, without queueing it.
        // Under the lock the queue is looked at again: an item still there was posted before
        // this one began, or at the same time, and goes first.
        if (_queue.IsEmpty && _handling.TryEnter())
        {
            var first = _queue.IsEmpty;
            if (!first)
            {
                _queue.Enqueue(item);
            }
            if (!TakeTurn(first, item))
            {
                return;
            }
        }
        else
        {
            _queue.Enqueue(item);
        }
        Drain();
    }

    /// <summary>
    /// Handle everything posted so far, then run <paramref name="body"/> while no item is
    /// handled, with the handler's state as the items left it. Waits for a thread that is
    /// handling to finish its turn.
    /// </summary>
    public TResult Exclusive<TResult>(Func<TResult> body)
    {
        TResult result;
        lock (_handling)
        {
            HandleQueued(int.MaxValue);
            result = body();
        }
        Interlocked.MemoryBarrier();
        Drain();
        return result;
    }

    // Turns at the handling that found it taken, counted racily: every so many, a posting
    // thread looks at how far behind the handling is (the queue's Count is not cheap).
    private int _missed;

    private void Drain()
    {
        // A thread that found the handling taken has left its item to the holder: a holder
        // that emptied the queue looks at it again after letting go, and takes any item that
        // came between its last dequeue and its exit (the fence keeps that look after the
        // exit). A holder that stopped at the end of its turn leaves the rest to the next
        // thread that posts, or to the next Exclusive.
        while (true)
        {
            if (_handling.TryEnter())
            {
                if (!TakeTurn(false, default!))
                {
                    return;
                }
            }
            else
            {
                if ((++_missed & 31) == 0 && _queue.Count > Backlog)
                {
                    lock (_handling)
                    {
                        HandleQueued(Turn);
                    }
                }
                return;
            }
        }
    }

    /// <summary>
    /// With the handling held: one turn of Turn items (<paramref name="own"/> first when
    /// <paramref name="ownFirst"/>), then let go. True when the turn emptied the queue but an
    /// item has come since, which nobody may take: the caller looks again.
    /// </summary>
    private bool TakeTurn(bool ownFirst, T own)
    {
        bool emptied;
        try
        {
            if (ownFirst)
            {
                handle(own);
            }
            emptied = HandleQueued(ownFirst ? Turn - 1 : Turn);
        }
        finally
        {
            _handling.Exit();
        }
        if (!emptied)
        {
            return false;
        }
        Interlocked.MemoryBarrier();
        return !_queue.IsEmpty;
    }

    /// <summary>Handles up to <paramref name="most"/> items; true if it left the queue empty.</summary>
    private bool HandleQueued(int most)
    {
        for (var i = 0; i < most; i++)
        {
            if (!_queue.TryDequeue(out var item))
            {
                return true;
            }
            handle(item);
        }
        return _queue.IsEmpty;
    }
}

/// <summary>Posts made by this thread to drains in batches: every batch-th one takes a turn.</summary>
internal static class PostCount
{
    [ThreadStatic]
    public static int OnThisThread;
}
