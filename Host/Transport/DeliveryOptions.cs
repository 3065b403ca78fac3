using DaxSim.Protocol.Scenarios;

namespace DaxSim.Transport;

/// <summary>How the messages of a run are delivered.</summary>
public sealed record DeliveryOptions
{
    public static readonly DeliveryOptions Plain = new();

    /// <summary>Envelopes, acknowledgements, retries and de-duplication.</summary>
    public bool Reliable { get; init; }

    /// <summary>Entities are hosted by a shell that journals their inputs (implies Reliable).</summary>
    public bool Journaled { get; init; }

    /// <summary>How often unacknowledged messages are sent again (adaptive: the least timeout, and the timer's tick).</summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Each envelope is sent again only when its own timeout has passed, a timeout that
    /// follows the round-trip time of the acks and doubles with each retransmission (as TCP
    /// does), instead of every unacknowledged envelope on every tick. The cluster runtime sets
    /// it: under load its acks can take longer than a tick. The deterministic and local
    /// runtimes keep the fixed scheme, so that their seeds replay as before.
    /// </summary>
    public bool AdaptiveRetry { get; init; }

    /// <summary>
    /// One ack for all the envelopes a receiver has processed from a sender, sent when its
    /// mailbox has run dry or carried by the next envelope it sends that sender, instead of
    /// one ack per envelope (SimActor, "acks"). The cluster runtime sets it: every ack is a
    /// message between nodes. Not for journaled actors; the deterministic and local runtimes
    /// keep one ack per envelope, so that their seeds replay as before.
    /// </summary>
    public bool CoalescedAcks { get; init; }

    /// <summary>Adaptive: the timeout before the first round trip has been measured.</summary>
    public TimeSpan InitialRetryInterval { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Adaptive: the longest timeout (backoff stops doubling there).</summary>
    public TimeSpan MaxRetryInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The scenario's drop / duplicate / delay faults, applied to every transmission.</summary>
    public IReadOnlyList<MessageFault> MessageFaults { get; init; } = [];

    /// <summary>Seeds the fault decisions (each actor draws from its own stream).</summary>
    public ulong Seed { get; init; }
}
