using DaxSim.Host.Load;
using DaxSim.Protocol;
using DaxSim.Protocol.Load;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;
using HdrHistogram;
using Xunit;

namespace DaxSim.Tests.Load;

/// <summary>The load statistics, fed events by hand: which operations count and from when.</summary>
public sealed class LoadRecorderSpecs
{
    private const long Ms = 10_000; // ticks

    private static readonly Scenario Two = LoadScenario.Build(
        new LoadSpec("r", null, 1, 16, null, LoadSpec.MixOf(2, TimeSpan.FromMilliseconds(1), null), TimeSpan.FromSeconds(1),
            null, null, null, null, LoadSpec.DefaultOpBound, LoadSpec.DefaultLeaseBreakTime), 1, Variant.Mainline);

    private static readonly TaskId A = new(0);
    private static readonly TaskId B = new(1);
    private static readonly FileId F = new(0);

    private static LoadRecorder Recorder() => new(Two, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(1000));

    [Fact]
    public void Latency_must_count_from_when_a_paced_operation_was_due()
    {
        var r = Recorder();
        // Due at 200 ms, started 30 ms late, returned at 240 ms: 40 ms, not 10 ms.
        r.Observe(230 * Ms, new Paced(A, 30 * Ms));
        r.Observe(230 * Ms, new OpStarted(A, OpKind.DioRead, F, 1, 0));
        r.Observe(240 * Ms, new OpCompleted(A, OpKind.DioRead, Errno.Ok));
        // Not paced: from its start.
        r.Observe(300 * Ms, new OpStarted(B, OpKind.DioRead, F, 1, 0));
        r.Observe(305 * Ms, new OpCompleted(B, OpKind.DioRead, Errno.EFAULT));

        var dio = Assert.Single(r.Ops);
        Assert.Equal(2, dio.Count);
        Assert.Equal(40_000_000, dio.Latency.GetMaxValue(), 40_000_000 / 500.0);
        Assert.Equal(5_000_000, dio.Latency.GetValueAtPercentile(1), 5_000_000 / 500.0);
        Assert.Equal(1, dio.Errors[Errno.EFAULT]);
    }

    [Fact]
    public void Only_operations_due_in_the_window_must_count_and_sleeps_never()
    {
        var r = Recorder();
        r.Observe(50 * Ms, new OpStarted(A, OpKind.Touch, F, 1, 0)); // warm-up
        r.Observe(150 * Ms, new OpCompleted(A, OpKind.Touch, Errno.Ok));
        r.Observe(990 * Ms, new OpStarted(A, OpKind.Touch, F, 1, 1)); // due in the window, ends after it
        r.Observe(1_020 * Ms, new OpCompleted(A, OpKind.Touch, Errno.Ok));
        r.Observe(400 * Ms, new OpStarted(B, OpKind.Sleep, null, 0, 0));
        r.Observe(500 * Ms, new OpCompleted(B, OpKind.Sleep, Errno.Ok));

        var touch = Assert.Single(r.Ops);
        Assert.Equal(OpKind.Touch, touch.Kind);
        Assert.Equal(1, touch.Count);
        Assert.Equal(2, touch.Total);
        Assert.Equal(2, r.OpsCompleted);
    }

    [Fact]
    public void A_layout_break_must_record_its_sleeps_and_retries()
    {
        var r = Recorder();
        var page = new PageId(3);
        r.Observe(200 * Ms, new OpStarted(A, OpKind.Truncate, F, 1, 0));
        r.Observe(200 * Ms, new BusyScanDone(F, A, page, 2, true));
        r.Observe(200 * Ms, new WaitSleeping(page, A, 2));
        Assert.Equal(1, r.TruncatesWaiting);
        r.Observe(203 * Ms, new WaitEnded(page, A, WaitEnd.Woken));
        r.Observe(203 * Ms, new BreakLayoutsRetry(F, A));
        r.Observe(203 * Ms, new BusyScanDone(F, A, page, 2, true));
        r.Observe(203 * Ms, new WaitSleeping(page, A, 2));
        r.Observe(205 * Ms, new WaitEnded(page, A, WaitEnd.Woken));
        r.Observe(205 * Ms, new BreakLayoutsRetry(F, A));
        r.Observe(206 * Ms, new OpCompleted(A, OpKind.Truncate, Errno.Ok));

        Assert.Equal(0, r.TruncatesWaiting);
        Assert.Equal(1, r.BreakWait.TotalCount);
        Assert.Equal(5_000_000, r.BreakWait.GetMaxValue(), 5_000_000 / 500.0);
        Assert.Equal(2, r.BreakRetries.GetMaxValue());
        var truncate = Assert.Single(r.Ops);
        Assert.Equal(1, truncate.Waited);
        Assert.Equal(2, r.Scans.Scans);
    }
}
