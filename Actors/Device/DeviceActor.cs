using Akka.Actor;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;

namespace DaxSim.Actors.Device;

// DeviceActor models the DAX device's free-space allocator: one free list shared by every
// file. Freed blocks go on top and are taken first, so a block freed by one file is soon
// reused by another; that reuse is what turns a missed pin into visible corruption (DMA
// landing in another file's data).
//
// Takes:  Allocate, Free (from inodes).
// Sends:  Allocated / AllocationFailed, FreeAck; BlockAssigned / BlockReleased to pages.
public sealed class DeviceActor : SimActor
{
    private readonly Stack<PageId> _free;

    /// <param name="free">The free blocks, the one to hand out first at the front.</param>
    public DeviceActor(SimEnvironment env, IEnumerable<PageId> free) : base(env, Endpoint.Device)
    {
        _free = new Stack<PageId>(free.Reverse());
    }

    protected override bool Handle(object message)
    {
        switch (message)
        {
            case Allocate m:
                HandleAllocate(m);
                return true;
            case Free m:
                HandleFree(m);
                return true;
            default:
                return false;
        }
    }

    public static Props Props(SimEnvironment env, IEnumerable<PageId> free) =>
        ActorProps.Of(() => new DeviceActor(env, free.ToArray()));

    private void HandleAllocate(Allocate m)
    {
        if (_free.Count < m.Count)
        {
            Reply(new AllocationFailed(m.Seq));
            return;
        }
        var blocks = new PageId[m.Count];
        for (var i = 0; i < m.Count; i++)
        {
            var block = _free.Pop();
            blocks[i] = block;
            Trace.Emit(new BlockAllocated(block, m.File));
            Send(Endpoint.Of(block), new BlockAssigned(block, m.File));
        }
        Reply(new Allocated(blocks, m.Seq));
    }

    private void HandleFree(Free m)
    {
        foreach (var block in m.Blocks)
        {
            _free.Push(block);
            Trace.Emit(new BlockFreed(block, m.File));
            Send(Endpoint.Of(block), new BlockReleased(block));
        }
        Reply(new FreeAck(m.Seq));
    }
}
