using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Transport;
using Xunit;

namespace DaxSim.Tests.Transport;

/// <summary>
/// The reliable channel as plain code: no actor system, no clock but the one the spec moves.
/// Each spec drives one or two channels with envelopes and acks in the order it chooses
/// (duplicated, reordered, lost on purpose) and checks what they transmit and deliver.
/// </summary>
public sealed class ReliableChannelSpecs
{
    private static readonly Endpoint Task = Endpoint.Of(new TaskId(0));
    private static readonly Endpoint Page = Endpoint.Of(new PageId(3));
    private static readonly Endpoint Inode = Endpoint.InodeOf(new FileId(0));

    /// <summary>One end: what its channel transmitted and delivered.</summary>
    private sealed class End : IChannelLink
    {
        public readonly List<(Endpoint To, object Wire)> Sent = [];
        public readonly List<Envelope> Delivered = [];
        public int Flushes;
        public long Now;
        public readonly InFlightCounter InFlight = new();

        public End(Endpoint me, DeliveryOptions? options = null, bool ackEach = false, long incarnation = 0) =>
            Channel = new ReliableChannel(me, options ?? new DeliveryOptions { Reliable = true }, this, () => Now, InFlight, ackEach,
                incarnation);

        public ReliableChannel Channel { get; }

        public void Transmit(Endpoint to, object wire) => Sent.Add((to, wire));

        public void Deliver(Envelope envelope) => Delivered.Add(envelope);

        public void FlushLater() => Flushes++;

        public List<object> Payloads() => Delivered.Select(e => e.Payload).ToList();

        public List<T> Take<T>()
        {
            var taken = Sent.Select(s => s.Wire).OfType<T>().ToList();
            Sent.Clear();
            return taken;
        }
    }

    private static Envelope Env(Endpoint from, Endpoint to, long seq, object payload) => new(from, to, seq, payload);

    [Fact]
    public void Sends_must_be_numbered_per_receiver_from_1_and_kept_until_acknowledged()
    {
        var page = new End(Page);
        page.Channel.Send(Task, "a");
        page.Channel.Send(Inode, "b");
        page.Channel.Send(Task, "c");

        Assert.Equal([(Task, 1L, "a"), (Inode, 1L, "b"), (Task, 2L, "c")],
            page.Take<Envelope>().Select(e => (e.To, e.Seq, (string)e.Payload)).ToList());
        Assert.Equal(3, page.Channel.Unacknowledged);
        Assert.Equal(3, page.InFlight.Count);

        Assert.True(page.Channel.TakeAck(new Ack(Task, Page, 2)));
        Assert.False(page.Channel.TakeAck(new Ack(Task, Page, 2)));
        Assert.Equal(2, page.Channel.Unacknowledged);
        Assert.Equal(2, page.InFlight.Count);
    }

    [Fact]
    public void A_duplicate_must_be_acknowledged_again_and_never_delivered_twice()
    {
        var page = new End(Page);
        Assert.Equal(Arrival.Delivered, page.Channel.Receive(Env(Task, Page, 1, "get")));
        Assert.Equal(Arrival.Duplicate, page.Channel.Receive(Env(Task, Page, 1, "get")));
        Assert.Equal(Arrival.Duplicate, page.Channel.Receive(Env(Task, Page, 1, "get")));

        Assert.Equal(["get"], page.Payloads());
        Assert.Equal(3, page.Take<Ack>().Count(a => a == new Ack(Page, Task, 1)));
    }

    [Fact]
    public void Envelopes_that_come_early_must_wait_unacknowledged_and_be_delivered_in_the_senders_order()
    {
        var page = new End(Page);
        Assert.Equal(Arrival.Early, page.Channel.Receive(Env(Task, Page, 3, "c")));
        Assert.Equal(Arrival.Early, page.Channel.Receive(Env(Task, Page, 2, "b")));
        Assert.Equal(Arrival.Duplicate, page.Channel.Receive(Env(Task, Page, 3, "c")));
        Assert.Empty(page.Delivered);
        Assert.Empty(page.Take<Ack>());

        Assert.Equal(Arrival.Delivered, page.Channel.Receive(Env(Task, Page, 1, "a")));
        Assert.Equal(["a", "b", "c"], page.Payloads());
        Assert.Equal([1L, 2L, 3L], page.Take<Ack>().Select(a => a.Seq).ToList());
        Assert.Equal(3, page.Channel.ProcessedFrom(Task));
    }

    [Fact]
    public void Fixed_retransmission_must_send_everything_unacknowledged_on_each_tick_and_nothing_once_acknowledged()
    {
        var page = new End(Page);
        page.Channel.Send(Task, "a");
        page.Channel.Send(Task, "b");
        page.Take<Envelope>();

        Assert.Equal(2, page.Channel.Resend());
        Assert.Equal([1L, 2L], page.Take<Envelope>().Select(e => e.Seq).ToList());

        page.Channel.TakeAck(new Ack(Task, Page, 1));
        Assert.Equal(1, page.Channel.Resend());
        Assert.Equal([2L], page.Take<Envelope>().Select(e => e.Seq).ToList());

        page.Channel.TakeAck(new Ack(Task, Page, 2));
        Assert.Equal(0, page.Channel.Resend());
        Assert.Empty(page.Sent);
        Assert.Equal(0, page.InFlight.Count);
    }

    [Fact]
    public void Adaptive_retransmission_must_wait_for_each_envelopes_timeout_and_back_off()
    {
        var options = new DeliveryOptions { Reliable = true, AdaptiveRetry = true };
        var page = new End(Page, options);
        page.Channel.Send(Task, "a");
        page.Take<Envelope>();
        var initial = options.InitialRetryInterval.Ticks;

        page.Now = initial - 1;
        Assert.Equal(0, page.Channel.Resend());
        page.Now = initial;
        Assert.Equal(1, page.Channel.Resend());
        // Sent twice: due again after twice the timeout, not one timeout.
        page.Now = 2 * initial;
        Assert.Equal(0, page.Channel.Resend());
        page.Now = 3 * initial;
        Assert.Equal(1, page.Channel.Resend());
    }

    [Fact]
    public void Adaptive_retransmission_must_follow_the_round_trip_of_envelopes_sent_once()
    {
        var options = new DeliveryOptions { Reliable = true, AdaptiveRetry = true };
        var page = new End(Page, options);
        for (var seq = 1; seq <= 8; seq++)
        {
            page.Channel.Send(Task, seq);
            page.Now += TimeSpan.FromMilliseconds(100).Ticks;
            page.Channel.TakeAck(new Ack(Task, Page, seq));
        }
        // A steady 100 ms round trip: the timeout is above it (no spurious retransmission) and
        // within the configured bounds.
        Assert.InRange(page.Channel.Rto(), TimeSpan.FromMilliseconds(100), options.MaxRetryInterval);
    }

    [Fact]
    public void Coalesced_acks_must_ride_on_the_next_envelope_to_the_sender_or_go_alone_at_the_flush()
    {
        var options = new DeliveryOptions { Reliable = true, CoalescedAcks = true };
        var page = new End(Page, options);
        page.Channel.Receive(Env(Task, Page, 1, "get"));
        page.Channel.Receive(Env(Task, Page, 2, "get"));
        Assert.Equal(1, page.Flushes);
        Assert.Empty(page.Take<Ack>());

        // The reply carries the ack for both.
        var reply = page.Channel.Send(Task, "ack");
        Assert.Equal(2, reply.Acked);
        page.Channel.FlushAcks();
        Assert.Empty(page.Take<Ack>());

        // Nothing to carry it: it goes alone at the flush, for everything up to the last.
        page.Channel.Receive(Env(Task, Page, 3, "put"));
        page.Channel.FlushAcks();
        Assert.Equal([new Ack(Page, Task, 3)], page.Take<Ack>());
    }

    [Fact]
    public void A_coalesced_ack_must_settle_every_earlier_envelope_and_never_more_than_was_sent()
    {
        var options = new DeliveryOptions { Reliable = true, CoalescedAcks = true };
        var page = new End(Page, options);
        page.Channel.Send(Task, "a");
        page.Channel.Send(Task, "b");
        page.Channel.Send(Task, "c");

        // An ack riding on the task's envelope settles 1 and 2.
        page.Channel.Receive(Env(Task, Page, 1, "put") with { Acked = 2 });
        Assert.Equal(1, page.Channel.Unacknowledged);

        // An ack beyond anything sent settles what was sent, and not the next one.
        Assert.True(page.Channel.TakeAck(new Ack(Task, Page, long.MaxValue)));
        page.Channel.Send(Task, "d");
        Assert.Equal(1, page.Channel.Unacknowledged);
        Assert.True(page.Channel.TakeAck(new Ack(Task, Page, 4)));
        Assert.Equal(0, page.Channel.Unacknowledged);
    }

    [Fact]
    public void A_replaying_channel_must_rebuild_its_state_without_transmitting_and_resend_afterwards()
    {
        var page = new End(Page) { };
        page.Channel.Replaying = true;
        Assert.Equal(Arrival.Delivered, page.Channel.Receive(Env(Task, Page, 1, "get")));
        page.Channel.Send(Task, "reply");
        Assert.Empty(page.Sent);
        page.Channel.Replaying = false;

        // The window survived: the same envelope again is a duplicate.
        Assert.Equal(Arrival.Duplicate, page.Channel.Receive(Env(Task, Page, 1, "get")));
        Assert.Equal(1, page.Channel.Resend());
        Assert.Contains(page.Sent, s => s.Wire is Envelope { Seq: 1, Payload: "reply" });
    }

    /// <summary>
    /// Issue 13 item 8, on the channel: whatever the network does to the envelopes and acks
    /// between two ends (copies, reordering, losses, retransmissions crossing late acks),
    /// each payload is delivered exactly once, in the order it was sent. A payload applied
    /// twice (a pin taken twice, a put applied twice) or out of its sender's order is what
    /// could make the cluster report an S1 that did not happen; this is where it cannot.
    /// </summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Whatever_the_network_duplicates_reorders_or_drops_each_payload_must_be_delivered_once_in_order(bool coalesced, bool adaptive)
    {
        for (var seed = 1; seed <= 200; seed++)
        {
            var options = new DeliveryOptions { Reliable = true, CoalescedAcks = coalesced, AdaptiveRetry = adaptive };
            var task = new End(Task, options);
            var page = new End(Page, options);
            var random = new Random(seed);
            var wire = new LossyWire<End>(random);
            const int count = 30;
            var next = 0;
            for (var step = 0; step < 10_000 && (page.Delivered.Count < count || task.Channel.Unacknowledged > 0); step++)
            {
                if (next < count && random.Next(3) == 0)
                {
                    task.Channel.Send(Page, next++);
                }
                if (random.Next(8) == 0)
                {
                    task.Now += TimeSpan.FromMilliseconds(30).Ticks;
                    page.Now = task.Now;
                    task.Channel.Resend();
                    task.Channel.FlushAcks();
                    page.Channel.FlushAcks();
                }
                // Everything transmitted goes on the wire, some of it twice, some of it lost.
                wire.Put(task, page);
                wire.Put(page, task);
                // One message off the wire, from anywhere on it: reordered.
                if (wire.TakeAny() is var (end, message))
                {
                    Take(end, message);
                }
            }
            Assert.True(Enumerable.Range(0, count).Cast<object>().SequenceEqual(page.Payloads()),
                $"seed {seed}: delivered {string.Join(",", page.Payloads())}");
            Assert.Equal(0, task.Channel.Unacknowledged);
        }
    }

    // --- incarnations (issue 13: an entity started again without a journal) ----------------

    /// <summary>Hands every message that <paramref name="from"/> transmitted to <paramref name="to"/>, in order.</summary>
    private static void Carry(End from, End to)
    {
        foreach (var (_, message) in from.Sent.ToList())
        {
            Take(to, message);
        }
        from.Sent.Clear();
    }

    /// <summary>An envelope or an ack arrives at <paramref name="end"/>.</summary>
    private static void Take(End end, object message)
    {
        switch (message)
        {
            case Envelope e:
                end.Channel.Receive(e);
                break;
            case Ack a:
                end.Channel.TakeAck(a);
                break;
        }
    }

    /// <summary>
    /// A network that loses, copies and reorders: of what an end transmitted, one message in
    /// ten is lost and one in ten goes twice; messages come off it one at a time, from
    /// anywhere on it. <typeparamref name="TTo"/> names where a message goes.
    /// </summary>
    private sealed class LossyWire<TTo>(Random random)
    {
        private readonly List<(TTo To, object Message)> _items = [];

        public int Count => _items.Count;

        /// <summary>Everything <paramref name="from"/> transmitted goes on the wire towards <paramref name="to"/>.</summary>
        public void Put(End from, TTo to)
        {
            foreach (var (_, message) in from.Sent)
            {
                var roll = random.Next(10);
                if (roll == 0)
                {
                    continue;
                }
                _items.Add((to, message));
                if (roll == 1)
                {
                    _items.Add((to, message));
                }
            }
            from.Sent.Clear();
        }

        /// <summary>One message off the wire, from anywhere on it; null when it is empty.</summary>
        public (TTo To, object Message)? TakeAny()
        {
            if (_items.Count == 0)
            {
                return null;
            }
            var i = random.Next(_items.Count);
            var item = _items[i];
            _items.RemoveAt(i);
            return item;
        }
    }

    [Fact]
    public void A_sender_started_again_must_have_its_new_envelopes_delivered_and_its_old_ones_and_acks_dropped()
    {
        var page = new End(Page, incarnation: 7);
        var task = new End(Task, incarnation: 10);
        task.Channel.Send(Page, "a");
        task.Channel.Send(Page, "b");
        var stragglers = task.Sent.Select(s => (Envelope)s.Wire).ToList();
        Carry(task, page);
        Assert.Equal(["a", "b"], page.Payloads());
        var ackForOld = page.Take<Ack>()[0];
        Assert.Equal(new Ack(Page, Task, 1, 7, 10), ackForOld);

        // The task's node crashed: it starts again, with no journal, numbering from 1 again.
        var again = new End(Task, incarnation: 11);
        again.Channel.Send(Page, "c");
        again.Channel.Send(Page, "d");
        Assert.Equal([1L, 2L], again.Sent.Select(s => ((Envelope)s.Wire).Seq).ToList());
        Carry(again, page);
        Assert.Equal(["a", "b", "c", "d"], page.Payloads());
        Assert.Equal(11, page.Channel.IncarnationOf(Task));

        // The old incarnation's stragglers are dropped, unacknowledged, and so are acks meant for it.
        var acksForNew = page.Take<Ack>();
        Assert.All(stragglers, e => Assert.Equal(Arrival.Stale, page.Channel.Receive(e)));
        Assert.Empty(page.Sent);
        Assert.Equal(["a", "b", "c", "d"], page.Payloads());
        Assert.False(again.Channel.TakeAck(ackForOld));
        Assert.Equal(2, again.Channel.Unacknowledged);
        Assert.All(acksForNew, a => Assert.True(again.Channel.TakeAck(a)));
        Assert.Equal(0, again.Channel.Unacknowledged);
    }

    [Fact]
    public void A_receiver_started_again_must_get_what_its_former_incarnation_left_unacknowledged_renumbered_from_1()
    {
        var task = new End(Task, incarnation: 10);
        var page = new End(Page, incarnation: 7);
        task.Channel.Send(Page, "a");
        Carry(task, page);
        Carry(page, task);
        Assert.Equal(7, task.Channel.IncarnationOf(Page));
        task.Channel.Send(Page, "b"); // lost with the page's node
        task.Sent.Clear();

        // The page starts again without a journal: the task's seq 2, meant for the old page,
        // is not taken; the ack of seq 0 that answers it tells the task the new incarnation.
        var again = new End(Page, incarnation: 8);
        task.Channel.Resend();
        Carry(task, again);
        Assert.Empty(again.Delivered);
        Assert.Equal([new Ack(Page, Task, 0, 8, 10)], again.Sent.Select(s => s.Wire).OfType<Ack>().ToList());
        Carry(again, task);

        // The task sends what is still unacknowledged again at once, as seq 1 of the new incarnation.
        var renumbered = Assert.Single(task.Sent.Select(s => s.Wire).OfType<Envelope>());
        Assert.Equal((1L, "b", 10L, 8L), (renumbered.Seq, (string)renumbered.Payload, renumbered.FromIncarnation, renumbered.ToIncarnation));
        Carry(task, again);
        Assert.Equal(["b"], again.Payloads());
        Carry(again, task);
        Assert.Equal(0, task.Channel.Unacknowledged);

        // What the new page sends is numbered for it and taken in a window of its own.
        again.Channel.Send(Task, "reply");
        Carry(again, task);
        Assert.Equal(["reply"], task.Payloads());
    }

    /// <summary>
    /// Both ends, through a network that copies, reorders and loses, while the task is
    /// started again (without a journal) halfway: the new incarnation's payloads each reach
    /// the page exactly once, in order, after what the page took from the old one (each at
    /// most once, in order, none after the new ones began); the page's echoes reach the new
    /// incarnation exactly once each, and nothing stays unacknowledged.
    /// </summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void A_sender_started_again_mid_run_must_have_each_new_payload_delivered_once_in_order(bool coalesced, bool adaptive)
    {
        for (var seed = 1; seed <= 200; seed++)
        {
            var options = new DeliveryOptions { Reliable = true, CoalescedAcks = coalesced, AdaptiveRetry = adaptive };
            var random = new Random(seed);
            var task = new End(Task, options, incarnation: 100);
            var page = new End(Page, options, incarnation: 50);
            var wire = new LossyWire<bool>(random);
            const int count = 20;
            var restartAt = 1 + random.Next(count - 1);
            var next = 0;
            var restarted = false;
            var echoed = 0;
            for (var step = 0; step < 20_000; step++)
            {
                if (restarted && next == 2 * count && page.Channel.Unacknowledged == 0 && task.Channel.Unacknowledged == 0 &&
                    wire.Count == 0)
                {
                    break;
                }
                if (!restarted && next == restartAt && random.Next(4) == 0)
                {
                    // The old incarnation's messages stay on the wire; what it had unacknowledged is lost with it.
                    task = new End(Task, options, incarnation: 101) { Now = task.Now };
                    restarted = true;
                    next = count;
                }
                if ((next < restartAt || (restarted && next < 2 * count)) && random.Next(3) == 0)
                {
                    task.Channel.Send(Page, next++);
                }
                // The page echoes what it delivers.
                while (echoed < page.Delivered.Count)
                {
                    page.Channel.Send(Task, page.Delivered[echoed++].Payload);
                }
                if (random.Next(8) == 0)
                {
                    task.Now += TimeSpan.FromMilliseconds(30).Ticks;
                    page.Now = task.Now;
                    task.Channel.Resend();
                    page.Channel.Resend();
                    task.Channel.FlushAcks();
                    page.Channel.FlushAcks();
                }
                // The task's end may be replaced (restarted): the wire names the end by direction.
                wire.Put(task, true);
                wire.Put(page, false);
                if (wire.TakeAny() is var (toPage, message))
                {
                    Take(toPage ? page : task, message);
                }
            }
            var delivered = page.Payloads().Cast<int>().ToList();
            var old = delivered.TakeWhile(p => p < count).ToList();
            Assert.True(old.SequenceEqual(Enumerable.Range(0, old.Count)), $"seed {seed}: delivered {string.Join(",", delivered)}");
            Assert.True(delivered.Skip(old.Count).SequenceEqual(Enumerable.Range(count, count)),
                $"seed {seed}: delivered {string.Join(",", delivered)}");
            var echoes = task.Payloads().Cast<int>().Where(p => p >= count).ToList();
            Assert.True(echoes.SequenceEqual(Enumerable.Range(count, count)), $"seed {seed}: echoes {string.Join(",", echoes)}");
            Assert.Equal(0, task.Channel.Unacknowledged);
            Assert.Equal(0, page.Channel.Unacknowledged);
        }
    }
}
