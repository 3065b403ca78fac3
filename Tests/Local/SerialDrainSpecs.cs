using System.Collections.Concurrent;
using DaxSim.Host.Local;
using Xunit;

namespace DaxSim.Tests.Local;

/// <summary>
/// The queue through which the local runtime's actor threads hand their events to the
/// checker: every item handled once, one at a time, and never before an item that was
/// posted before it, on its own thread or on a thread it heard from.
/// </summary>
public sealed class SerialDrainSpecs
{
    private const int Threads = 4;
    private const int PerThread = 20_000;

    [Theory]
    [InlineData(1)]
    [InlineData(64)]
    public void Items_posted_from_many_threads_must_each_be_handled_once_one_at_a_time_in_each_threads_order(int batch)
    {
        var inside = 0;
        var overlaps = 0;
        var last = new int[Threads];
        Array.Fill(last, -1);
        var outOfOrder = 0;
        long handled = 0;
        var drain = new SerialDrain<(int Thread, int Seq)>(batch: batch, handle: item =>
        {
            if (Interlocked.Increment(ref inside) != 1)
            {
                Interlocked.Increment(ref overlaps);
            }
            if (item.Seq != last[item.Thread] + 1)
            {
                outOfOrder++;
            }
            last[item.Thread] = item.Seq;
            handled++;
            Interlocked.Decrement(ref inside);
        });
        using var start = new Barrier(Threads);

        var posters = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            for (var i = 0; i < PerThread; i++)
            {
                drain.Post((t, i));
            }
        })).ToList();
        posters.ForEach(p => p.Start());
        posters.ForEach(p => p.Join());

        Assert.Equal((long)Threads * PerThread, drain.Exclusive(() => handled));
        Assert.Equal(0, overlaps);
        Assert.Equal(0, outOfOrder);
        Assert.All(last, seq => Assert.Equal(PerThread - 1, seq));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(64)]
    public void An_item_posted_after_hearing_of_another_must_be_handled_after_it(int batch)
    {
        // A token goes round a ring of threads; each posts the token's number, then passes it
        // on, as an actor emits an event and then sends a message. The numbers must be handled
        // in the order the token went round, whichever thread happened to be handling.
        const int Rounds = 20_000;
        var order = new List<int>();
        var drain = new SerialDrain<int>(order.Add, batch);
        var inboxes = Enumerable.Range(0, Threads).Select(_ => new BlockingCollection<int>()).ToArray();

        var ring = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            foreach (var token in inboxes[t].GetConsumingEnumerable())
            {
                drain.Post(token);
                if (token + 1 < Rounds)
                {
                    inboxes[(t + 1) % Threads].Add(token + 1);
                }
                else
                {
                    Array.ForEach(inboxes, inbox => inbox.CompleteAdding());
                }
            }
        })).ToList();
        ring.ForEach(r => r.Start());
        inboxes[0].Add(0);
        ring.ForEach(r => r.Join());

        var seen = drain.Exclusive(() => order.ToList());
        Assert.Equal(Enumerable.Range(0, Rounds), seen);
    }

    [Fact]
    public void A_posting_thread_must_handle_one_turn_at_most_and_never_wait_for_a_turn_under_way()
    {
        // The first item holds its thread in the handler; items posted meanwhile are left in
        // the queue at once. Let go, that thread handles one turn and goes back to its work.
        using var inFirst = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var handled = 0;
        var drain = new SerialDrain<int>(i =>
        {
            if (i == 0)
            {
                inFirst.Set();
                release.Wait(TimeSpan.FromMinutes(1)); // a bound on a broken drain, not a timing
            }
            handled++;
        });
        var first = new Thread(() => drain.Post(0));
        first.Start();
        inFirst.Wait();

        const int Others = 3 * SerialDrain<int>.Turn;
        for (var i = 1; i <= Others; i++)
        {
            drain.Post(i); // returns at once: the first is still being handled
        }
        release.Set();
        first.Join();

        Assert.Equal(SerialDrain<int>.Turn, handled);
        Assert.Equal(Others + 1, drain.Exclusive(() => handled));
    }

    [Fact]
    public void Exclusive_must_run_while_nothing_is_handled_and_after_everything_posted_before_it()
    {
        var handling = 0;
        var handled = 0;
        var drain = new SerialDrain<int>(_ =>
        {
            Volatile.Write(ref handling, 1);
            handled++;
            Volatile.Write(ref handling, 0);
        });
        using var stop = new CancellationTokenSource();
        var poster = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                drain.Post(0);
            }
        });
        poster.Start();

        var overlaps = 0;
        for (var i = 0; i < 2_000; i++)
        {
            var before = drain.Exclusive(() =>
            {
                overlaps += Volatile.Read(ref handling);
                return handled;
            });
            drain.Post(1); // posted by this thread after the look: handled before the next one
            Assert.True(drain.Exclusive(() => handled) > before);
        }
        stop.Cancel();
        poster.Join();

        Assert.Equal(0, overlaps);
    }

    [Fact]
    public void In_batches_a_posting_thread_must_take_a_turn_only_at_every_batchth_post_of_its_own()
    {
        // The local runtime's feed: a thread queues its items and hands the queue to the
        // handler once every `batch` posts of its own, so that the handler takes them many
        // at a time (or the runtime's poll does, through Exclusive).
        const int Batch = 16;
        var handled = new List<int>();
        var drain = new SerialDrain<int>(handled.Add, Batch);
        var counts = new List<int>();
        var poster = new Thread(() =>
        {
            for (var i = 0; i < 3 * Batch; i++)
            {
                drain.Post(i);
                counts.Add(handled.Count); // this thread is the only one posting: nobody handles meanwhile
            }
        });
        poster.Start();
        poster.Join();

        for (var i = 0; i < 3 * Batch; i++)
        {
            // After its (k * Batch)th post the thread has handled everything up to it, and nothing more.
            Assert.Equal((i + 1) / Batch * Batch, counts[i]);
        }
        var last = new Thread(() => drain.Post(-1)); // a thread's first post: left queued
        last.Start();
        last.Join();
        Assert.Equal(3 * Batch, handled.Count);
        Assert.Equal([.. Enumerable.Range(0, 3 * Batch), -1], drain.Exclusive(() => handled.ToList()));
    }
}
