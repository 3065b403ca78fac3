using System.Collections.Concurrent;

namespace DaxSim.Host.Local;

/// <summary>
/// Items posted from many threads and handled one at a time, in the order in which they
/// were posted, by whichever posting thread finds nobody else handling them (flat
/// combining). Posting never waits for another thread: a thread that finds the handling
/// taken leaves its item in the queue, and the thread handling takes it before it lets go.
/// So a thread that is descheduled while it handles holds up the handling, never the
/// posting, and one lock round is shared by every item handled in it.
///
/// Order: the queue is linearizable, so an item is handled after every item whose post
/// had returned before its own post began: after the earlier items of its own thread, and
/// after those of any thread it heard from (a message sent after a post is received after
/// it). That is the order of cause and effect that the invariant checker needs.
/// </summary>
public sealed class SerialDrain<T>(Action<T> handle)
{
    private readonly ConcurrentQueue<T> _queue = new();
    private readonly Lock _handling = new();

    /// <summary>Queue the item, and handle the queue unless another thread is handling it.</summary>
    public void Post(T item)
    {
        _queue.Enqueue(item);
        Drain();
    }

    /// <summary>
    /// Handle everything posted so far, then run <paramref name="body"/> while no item is
    /// handled, with the handler's state as the items left it. Waits for a thread that is
    /// handling to finish.
    /// </summary>
    public TResult Exclusive<TResult>(Func<TResult> body)
    {
        TResult result;
        lock (_handling)
        {
            HandleQueued();
            result = body();
        }
        Interlocked.MemoryBarrier();
        Drain();
        return result;
    }

    private void Drain()
    {
        // A thread that found the handling taken has left its item to the holder: after
        // letting go, the holder looks at the queue again, and takes any item that came
        // between its last dequeue and its exit. The fence keeps that look after the exit.
        while (!_queue.IsEmpty && _handling.TryEnter())
        {
            try
            {
                HandleQueued();
            }
            finally
            {
                _handling.Exit();
            }
            Interlocked.MemoryBarrier();
        }
    }

    private void HandleQueued()
    {
        while (_queue.TryDequeue(out var item))
        {
            handle(item);
        }
    }
}
