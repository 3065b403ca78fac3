using DaxSim.Protocol.Scenarios;

namespace DaxSim.Host.Runs;

/// <summary>
/// How late the host runs a real-time run (docs/contract.md, "inconclusive"): a timer on the
/// thread pool, where the actors and Akka's scheduler run too, ticks every
/// <see cref="Period"/> and compares each tick with the wall clock, and the runtime's GC
/// pauses (GC.GetTotalPauseDuration) are read at each tick. What the host took from the run
/// in a tick is the larger of the two (a pause also delays the tick), less
/// <see cref="Tolerance"/> of jitter a quiet machine has. On a loaded machine (other processes
/// busy on every core) the run's operations take longer for no fault of the protocol: L3
/// allows the lateness measured in an operation's window on top of its bound, and calls a
/// verdict inconclusive when the host took so much that no bound says anything.
/// </summary>
public sealed class HostLateness : IDisposable
{
    public static readonly TimeSpan Period = TimeSpan.FromMilliseconds(10);

    /// <summary>Lateness of a tick up to this much is a quiet machine's jitter, not taken from the run.</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromMilliseconds(2);

    private readonly Func<long> _now;
    private readonly object _gate = new();
    private readonly Timer _timer;

    // (time of the tick, time taken so far): a step function, for the time taken within a window.
    private readonly List<(long At, long Stolen)> _ticks = [(0, 0)];
    private long _lastTick;
    private TimeSpan _lastPause;
    private long _stolen;
    private long _gcPause;
    private long _maxLate;

    /// <param name="now">The run's clock: ticks (100 ns) since it started.</param>
    public HostLateness(Func<long> now)
    {
        _now = now;
        _lastTick = now();
        _lastPause = GC.GetTotalPauseDuration();
        _timer = new Timer(_ => Tick(), null, Period, Period);
    }

    /// <summary>For tests: no timer; the caller reports ticks with <see cref="Tick(long, TimeSpan)"/>.</summary>
    internal HostLateness(Func<long> now, bool manual)
    {
        _now = now;
        _lastTick = now();
        _lastPause = TimeSpan.Zero;
        _timer = new Timer(_ => { });
    }

    /// <summary>Everything the host took from the run so far.</summary>
    public TimeSpan Stolen => TimeSpan.FromTicks(Volatile.Read(ref _stolen));

    /// <summary>The run's GC pauses so far.</summary>
    public TimeSpan GcPause => TimeSpan.FromTicks(Volatile.Read(ref _gcPause));

    /// <summary>The latest tick: how late the host ran a timer at worst.</summary>
    public TimeSpan MaxTimerLateness => TimeSpan.FromTicks(Volatile.Read(ref _maxLate));

    private void Tick() => Tick(_now(), GC.GetTotalPauseDuration());

    internal void Tick(long now, TimeSpan totalPause)
    {
        lock (_gate)
        {
            var late = Math.Max(0, now - _lastTick - Period.Ticks);
            var pause = Math.Max(0, (totalPause - _lastPause).Ticks);
            _lastTick = now;
            _lastPause = totalPause;
            _maxLate = Math.Max(_maxLate, late);
            _gcPause += pause;
            var taken = Math.Max(late, pause);
            if (taken > Tolerance.Ticks)
            {
                _stolen += taken - Tolerance.Ticks;
                _ticks.Add((now, _stolen));
            }
        }
    }

    /// <summary>What the host took from the run between <paramref name="from"/> and <paramref name="to"/> (run ticks).</summary>
    public TimeSpan StolenWithin(long from, long to)
    {
        lock (_gate)
        {
            return TimeSpan.FromTicks(StolenAt(to) - StolenAt(from));
        }
    }

    /// <summary>What the host took from the run in the <paramref name="window"/> before <paramref name="now"/>.</summary>
    public TimeSpan StolenWithin(TimeSpan window, long now) => StolenWithin(now - window.Ticks, now);

    private long StolenAt(long at)
    {
        // The last tick at or before `at` (ticks are in time order).
        int lo = 0, hi = _ticks.Count - 1;
        while (lo < hi)
        {
            var mid = (lo + hi + 1) / 2;
            if (_ticks[mid].At <= at)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return _ticks[lo].At <= at ? _ticks[lo].Stolen : 0;
    }

    /// <summary>
    /// How far back the host's lateness counts for an L3 finding: about the life of an
    /// operation that is just overdue (its bound, its own longest wait, the slack).
    /// </summary>
    public static TimeSpan Window(Scenario scenario, TimeSpan l3Slack) =>
        scenario.Limits.OpBound + LiveJudge.LongestDuration(scenario) + l3Slack;

    public void Dispose() => _timer.Dispose();
}
