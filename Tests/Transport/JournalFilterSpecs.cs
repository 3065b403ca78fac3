using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Transport;
using Xunit;

namespace DaxSim.Tests.Transport;

/// <summary>
/// The journaling shell's filter as plain code: which inputs it journals, hands over
/// unjournaled, or drops, and that an entity behind it still takes every message exactly
/// once, in order, from a network that copies and reorders.
/// </summary>
public sealed class JournalFilterSpecs
{
    private static readonly Endpoint Task0 = Endpoint.Of(new TaskId(0));
    private static readonly Endpoint Task1 = Endpoint.Of(new TaskId(1));
    private static readonly Endpoint Page = Endpoint.Of(new PageId(3));

    private static Envelope E(Endpoint from, long seq, long incarnation = 0) =>
        new(from, Page, seq, $"{from}#{seq}", FromIncarnation: incarnation);

    [Fact]
    public void A_copy_is_dropped_while_its_original_waits_for_the_journal_and_handed_over_unjournaled_after()
    {
        var filter = new JournalFilter(cumulativeAcks: true);
        var first = E(Task0, 1);
        Assert.Equal(JournalDecision.Journal, filter.Classify(first));
        filter.Journaling(first);
        Assert.Equal(JournalDecision.Drop, filter.Classify(E(Task0, 1)));
        Assert.Equal(JournalDecision.Journal, filter.Classify(E(Task1, 1)));
        filter.Handed(first);
        Assert.Equal(JournalDecision.Forward, filter.Classify(E(Task0, 1)));
        Assert.Equal(JournalDecision.Journal, filter.Classify(E(Task0, 2)));
        Assert.Equal(0, filter.Pending);
    }

    [Fact]
    public void Envelopes_that_came_early_are_remembered_until_the_gap_before_them_fills()
    {
        var filter = new JournalFilter(cumulativeAcks: true);
        foreach (var seq in new long[] { 3, 5, 1 })
        {
            filter.Journaling(E(Task0, seq));
            filter.Handed(E(Task0, seq));
        }
        Assert.Equal(JournalDecision.Forward, filter.Classify(E(Task0, 3)));
        Assert.Equal(JournalDecision.Forward, filter.Classify(E(Task0, 5)));
        Assert.Equal(JournalDecision.Journal, filter.Classify(E(Task0, 2)));
        Assert.Equal(JournalDecision.Journal, filter.Classify(E(Task0, 4)));
        filter.Journaling(E(Task0, 2));
        filter.Journaling(E(Task0, 4));
        Assert.Equal(JournalDecision.Journal, filter.Classify(E(Task0, 6)));
        Assert.Equal(JournalDecision.Drop, filter.Classify(E(Task0, 4)));
    }

    [Fact]
    public void A_cumulative_ack_for_no_more_than_one_journaled_is_dropped_but_per_envelope_acks_are_all_journaled()
    {
        var cumulative = new JournalFilter(cumulativeAcks: true);
        cumulative.Journaling(new Ack(Task0, Page, 5));
        Assert.Equal(JournalDecision.Drop, cumulative.Classify(new Ack(Task0, Page, 5)));
        Assert.Equal(JournalDecision.Drop, cumulative.Classify(new Ack(Task0, Page, 3)));
        Assert.Equal(JournalDecision.Journal, cumulative.Classify(new Ack(Task0, Page, 6)));
        Assert.Equal(JournalDecision.Journal, cumulative.Classify(new Ack(Task1, Page, 1)));

        var each = new JournalFilter(cumulativeAcks: false);
        each.Journaling(new Ack(Task0, Page, 5));
        Assert.Equal(JournalDecision.Journal, each.Classify(new Ack(Task0, Page, 3)));
        Assert.Equal(JournalDecision.Journal, each.Classify(new Ack(Task0, Page, 5)));
    }

    [Fact]
    public void A_peer_started_again_is_numbered_afresh_and_its_former_incarnation_s_stragglers_are_dropped()
    {
        var filter = new JournalFilter(cumulativeAcks: true);
        for (var seq = 1; seq <= 3; seq++)
        {
            filter.Journaling(E(Task0, seq, incarnation: 7));
            filter.Handed(E(Task0, seq, incarnation: 7));
        }
        filter.Journaling(new Ack(Task0, Page, 4, FromIncarnation: 7));

        // The new incarnation's seq 1 is new, though seq 1 of the old one was journaled.
        Assert.Equal(JournalDecision.Journal, filter.Classify(E(Task0, 1, incarnation: 9)));
        Assert.Equal(JournalDecision.Journal, filter.Classify(new Ack(Task0, Page, 2, FromIncarnation: 9)));
        Assert.False(filter.SettlesOnly(new Ack(Task0, Page, 2, FromIncarnation: 9)));
        filter.Journaling(E(Task0, 1, incarnation: 9));
        filter.Handed(E(Task0, 1, incarnation: 9));

        Assert.Equal(JournalDecision.Forward, filter.Classify(E(Task0, 1, incarnation: 9)));
        Assert.Equal(JournalDecision.Drop, filter.Classify(E(Task0, 2, incarnation: 7)));
        Assert.Equal(JournalDecision.Drop, filter.Classify(new Ack(Task0, Page, 9, FromIncarnation: 7)));
        Assert.True(filter.SettlesOnly(new Ack(Task0, Page, 2, FromIncarnation: 9)));
        // An ack of seq 0 tells of a restart; it settles nothing and is taken in journal order.
        Assert.False(filter.SettlesOnly(new Ack(Task0, Page, 0, FromIncarnation: 9)));
    }

    [Fact]
    public void Anything_that_is_not_an_envelope_or_an_ack_is_journaled_every_time()
    {
        var filter = new JournalFilter(cumulativeAcks: true);
        var timer = new TimerFired("tick");
        filter.Journaling(timer);
        filter.Handed(timer);
        Assert.Equal(JournalDecision.Journal, filter.Classify(timer));
    }

    /// <summary>
    /// A shell in front of a real receiving channel, fed by a network that copies, reorders
    /// and delays envelopes from two senders; the journal completes writes in order, at
    /// random times. Every envelope is journaled exactly once, the channel delivers each
    /// payload exactly once in each sender's order, and a filter rebuilt from the journal
    /// (recovery) classifies the rest of the traffic as the live one does.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Behind_the_filter_every_message_is_journaled_once_and_taken_once_in_order(int seed)
    {
        var rng = new Random(seed);
        var filter = new JournalFilter(cumulativeAcks: true);
        var receiver = new Receiver();
        var journal = new List<Envelope>();
        var writing = new Queue<Envelope>();
        var wire = new List<Envelope>();
        const int perSender = 40;
        foreach (var from in new[] { Task0, Task1 })
        {
            for (var seq = 1; seq <= perSender; seq++)
            {
                wire.Add(E(from, seq));
                for (var copies = rng.Next(3); copies > 0; copies--)
                {
                    wire.Add(E(from, seq));
                }
            }
        }
        var order = wire.OrderBy(_ => rng.Next()).ToList();
        for (var i = 0; i < order.Count || writing.Count > 0; i++)
        {
            if (i < order.Count)
            {
                var e = order[i];
                switch (filter.Classify(e))
                {
                    case JournalDecision.Journal:
                        filter.Journaling(e);
                        journal.Add(e);
                        writing.Enqueue(e);
                        break;
                    case JournalDecision.Forward:
                        receiver.Channel.Receive(e);
                        break;
                }
            }
            // The journal finishes some writes, in order, each handed over as it finishes.
            for (var done = i < order.Count ? rng.Next(3) : writing.Count; done > 0 && writing.Count > 0; done--)
            {
                var e = writing.Dequeue();
                filter.Handed(e);
                receiver.Channel.Receive(e);
            }
        }

        Assert.Equal(2 * perSender, journal.Count);
        Assert.Equal(journal.Count, journal.Distinct().Count());
        foreach (var from in new[] { Task0, Task1 })
        {
            Assert.Equal(Enumerable.Range(1, perSender).Select(s => $"{from}#{s}"),
                receiver.Delivered.Where(e => e.From == from).Select(e => (string)e.Payload));
        }

        var recovered = new JournalFilter(cumulativeAcks: true);
        foreach (var e in journal)
        {
            recovered.Journaling(e);
            recovered.Handed(e);
        }
        foreach (var e in wire.Take(10).Append(E(Task0, perSender + 1)))
        {
            Assert.Equal(filter.Classify(e), recovered.Classify(e));
        }
    }

    private sealed class Receiver : IChannelLink
    {
        public readonly List<Envelope> Delivered = [];

        public Receiver() => Channel = new ReliableChannel(Page, new DeliveryOptions { Reliable = true }, this, () => 0);

        public ReliableChannel Channel { get; }

        public void Transmit(Endpoint to, object wire)
        {
        }

        public void Deliver(Envelope envelope) => Delivered.Add(envelope);

        public void FlushLater()
        {
        }
    }
}
