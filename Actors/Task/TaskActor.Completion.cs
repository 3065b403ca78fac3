using DaxSim.Protocol;
using DaxSim.Protocol.Messages;

namespace DaxSim.Actors.Task;

// The completion side of the task's direct I/O: what the block layer and iomap do on
// another CPU once the device is done, beside whatever the thread does meanwhile.
//
//   iomap_dio_bio_end_io:  atomic_dec_and_test(&dio->ref) -> iomap_dio_done (wakes the
//                          waiting pread), then bio_release_pages -> one put per page
//
// So the DMA reaches the pinned pages one by one, the waiter is woken, and the pages are
// put one by one, each a step of its own: a truncate on another CPU can see page 0 put
// and page 1 still pinned by the same DIO, and a synchronous pread can return before its
// last page is put. Nothing here is interruptible or killable: a bio in flight completes.
public sealed partial class TaskActor
{
    /// <summary>The device finished I/O Id: its DMA begins (a timer).</summary>
    private sealed record IoDue(long Id);

    /// <summary>The next page of I/O Id's completion (Step: its number, so that stale ones are dropped).</summary>
    private sealed record IoStep(long Id, long Step);

    private sealed class InFlightIo(long id, FileId buffer, List<(PageId Page, int Index)> pages, bool intoBuffer, long? waiter)
    {
        public long Id { get; } = id;
        public FileId Buffer { get; } = buffer;
        public List<(PageId Page, int Index)> Pages { get; } = pages;
        public bool IntoBuffer { get; } = intoBuffer;

        /// <summary>The sequence number the synchronous caller waits on; null for an asynchronous I/O.</summary>
        public long? Waiter { get; } = waiter;

        public int Dma { get; set; }
        public int Put { get; set; }
        public long Steps { get; set; }
    }

    private readonly Dictionary<long, InFlightIo> _inflight = new();
    private long _ioIds;

    /// <summary>
    /// Hands the pinned pages to an I/O that the device completes after <paramref name="ioTime"/>;
    /// from now on the I/O, not the thread, holds the pins. Returns the sequence number to wait on
    /// for a synchronous I/O.
    /// </summary>
    private long Submit(FileId buffer, List<(PageId Page, int Index)> pages, bool intoBuffer, TimeSpan ioTime, bool sync)
    {
        var id = ++_ioIds;
        long? waiter = sync ? NextSeq() : null;
        _inflight[id] = new InFlightIo(id, buffer, pages, intoBuffer, waiter);
        foreach (var (page, _) in pages)
        {
            _pins.Remove(page);
        }
        Timers.StartSingleTimer($"io-{id}", new IoDue(id), ioTime);
        return waiter ?? 0;
    }

    private void HandleIoDue(IoDue m)
    {
        if (_inflight.TryGetValue(m.Id, out var io))
        {
            Complete(io);
        }
    }

    private void HandleIoStep(IoStep m)
    {
        if (_inflight.TryGetValue(m.Id, out var io) && io.Steps == m.Step)
        {
            Complete(io);
        }
    }

    // One page per step: first the DMA of every page, then the waiter's wake, then the puts.
    private void Complete(InFlightIo io)
    {
        if (io.Dma < io.Pages.Count)
        {
            var (page, index) = io.Pages[io.Dma++];
            Send(Endpoint.Of(page), new DmaWrite(page, _id, io.Buffer, index, FromPage: !io.IntoBuffer));
            Step(new IoStep(io.Id, ++io.Steps));
            if (io.Dma == io.Pages.Count && io.Waiter is { } seq && _await?.Seq == seq && !_exiting)
            {
                // iomap_dio_done wakes the waiting pread, which returns while the pages are
                // still being put (the puts are the steps after this one).
                Continue(new Woken(seq));
            }
            return;
        }
        if (io.Put < io.Pages.Count)
        {
            var (page, _) = io.Pages[io.Put++];
            Send(Endpoint.Of(page), new PutPage(page, _id));
        }
        if (io.Put < io.Pages.Count)
        {
            Step(new IoStep(io.Id, ++io.Steps));
            return;
        }
        _inflight.Remove(io.Id);
        if (_exiting && _inflight.Count == 0)
        {
            Finish();
        }
    }

    /// <summary>The completion woke the thread that waits for its synchronous I/O.</summary>
    private sealed record Woken(long Seq) : IReply;
}
