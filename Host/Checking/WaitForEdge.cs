namespace DaxSim.Host.Checking;

/// <summary>Why a waiter waits for a resource, and how the resource's holder has it.</summary>
public enum WaitReason
{
    /// <summary>A lock request waits for a holder of the lock in a conflicting mode.</summary>
    LockHeld,
    /// <summary>A lock request waits behind an earlier conflicting request (the queue is FIFO).</summary>
    LockQueued,
    /// <summary>A sleeper waits for a page to go idle; the holder pins it.</summary>
    PagePinned,
    /// <summary>6.15+: a sleeper waits for a page to go idle; the holder's process maps it (a PTE holds a reference).</summary>
    PageMapped,
    /// <summary>A blocking lease break waits for the holder to return its layout lease.</summary>
    LeaseHeld,
    /// <summary>A sleeper waits for a page that is already idle: no one holds it and no wake-up comes (L2).</summary>
    PageIdle,
}

/// <summary>
/// One edge of a wait-for graph: <c>Waiter</c> waits for <c>Resource</c>, which <c>Holder</c>
/// holds (pins, maps, has queued for first); no holder for a sleeper on an idle page, whose
/// <c>Refcount</c> is the idle count. Names are as reports print them: "task-a", "page-0",
/// "IOLOCK of 'dax'", "layout lease on 'dax'". <see cref="Text"/> is the sentence reports
/// show; the timeline draws the graph from the fields, never from the sentence.
/// </summary>
public sealed record WaitForEdge(string Waiter, WaitReason Reason, string Resource, string? Holder, int Refcount = 0)
{
    public string Text => Reason switch
    {
        WaitReason.LockHeld => $"{Waiter} waits for {Resource}, held by {Holder}",
        WaitReason.LockQueued => $"{Waiter} waits for {Resource}, queued behind {Holder}'s request",
        WaitReason.PagePinned => $"{Waiter} waits for {Resource} to go idle, pinned by {Holder}",
        WaitReason.PageMapped => $"{Waiter} waits for {Resource} to go idle, mapped by {Holder}'s process",
        WaitReason.LeaseHeld => $"{Waiter} waits for the {Resource} held by {Holder}",
        _ => $"{Waiter} waits for {Resource} (refcount {Refcount})",
    };

    public override string ToString() => Text;
}
