using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;
using HdrHistogram;

namespace DaxSim.Host.Load;

/// <summary>
/// The statistics of a load run, built from the trace events as the runtime emits them
/// (RunSettings.Observe: one thread at a time, in the checker's order). Per operation kind:
/// latency histograms (HdrHistogram, ns, 3 significant digits), counts and errors; for the
/// operations that break layouts, the time spent asleep waiting for busy pages and the
/// layout-break retries; completions and waits over time; and the live figures a progress
/// display reads from another thread (plain fields, read without a lock: a display may be
/// a moment behind, never wrong for long).
///
/// Which operations count: those *due* in the measured window [warmup, duration). An
/// operation's latency runs from when it was due to when it returned: for a rate-paced task
/// that is its place in the schedule (the Paced event says how late it started), otherwise
/// its start. Operations under way when the duration ends are waited for and counted.
/// Pacing sleeps are not operations.
/// </summary>
public sealed class LoadRecorder
{
    /// <summary>The largest latency a histogram holds: an hour, in ns.</summary>
    public const long MaxLatencyNs = 3_600_000_000_000L;

    public const int Buckets = 200;

    private static readonly OpKind[] Kinds = Enum.GetValues<OpKind>();

    private readonly long _warmup;
    private readonly long _duration;
    private readonly long _bucket;

    // Per task: the operation in flight, when it started and when it was due, and the
    // layout-break figures of that operation.
    private readonly int[] _op;
    private readonly long[] _due;
    private readonly long[] _late;
    private readonly long[] _sleepStart;
    private readonly long[] _waited;
    private readonly int[] _retries;
    private readonly bool[] _waitedAtAll;

    private readonly OpStats[] _stats;
    private readonly LongHistogram _breakWait = new(MaxLatencyNs, 3);
    private readonly LongHistogram _breakRetries = new(1_000_000, 3);
    private readonly long[] _waitSum = new long[Buckets + 1];
    private readonly long[] _waitMax = new long[Buckets + 1];
    private readonly long[] _waitCount = new long[Buckets + 1];
    private long _scans;
    private long _busyFound;
    private long _sleeps;

    public LoadRecorder(Scenario scenario, TimeSpan warmup, TimeSpan duration)
    {
        var tasks = scenario.Tasks.Count;
        _warmup = warmup.Ticks;
        _duration = duration.Ticks;
        _bucket = Math.Max(1, duration.Ticks / Buckets);
        _op = Enumerable.Repeat(-1, tasks).ToArray();
        _due = new long[tasks];
        _late = Enumerable.Repeat(-1L, tasks).ToArray();
        _sleepStart = Enumerable.Repeat(-1L, tasks).ToArray();
        _waited = new long[tasks];
        _retries = new int[tasks];
        _waitedAtAll = new bool[tasks];
        _stats = Kinds.Select(k => new OpStats(k)).ToArray();
    }

    /// <summary>The width of one bucket of the over-time series, in ticks.</summary>
    public long BucketTicks => _bucket;

    public long Warmup => _warmup;

    public long Duration => _duration;

    // --- live figures ---------------------------------------------------------------------

    /// <summary>Operations completed so far, all of them (warm-up and drain included).</summary>
    public long OpsCompleted { get; private set; }

    /// <summary>References taken and not yet dropped.</summary>
    public long PinsOutstanding { get; private set; }

    /// <summary>Tasks asleep in a layout break, waiting for a busy page to go idle.</summary>
    public long TruncatesWaiting { get; private set; }

    /// <summary>The time of the last event (simulated, or elapsed on the local runtime).</summary>
    public long Now { get; private set; }

    /// <summary>When the last operation (not a pacing sleep) started: before the duration, if the load stopped on time.</summary>
    public long LastStart { get; private set; } = -1;

    // --- results ----------------------------------------------------------------------------

    public IEnumerable<OpStats> Ops => _stats.Where(s => s.Total > 0);

    public LongHistogram BreakWait => _breakWait;

    public LongHistogram BreakRetries => _breakRetries;

    /// <summary>Busy-page scans (dax_layout_busy_page), how many found a busy page, and how many waits slept.</summary>
    public (long Scans, long BusyFound, long Sleeps) Scans => (_scans, _busyFound, _sleeps);

    /// <summary>Per bucket of completion time: layout-break operations, mean and max wait (ns).</summary>
    public IEnumerable<(double Seconds, long Count, double MeanNs, long MaxNs)> WaitOverTime()
    {
        for (var b = 0; b < _waitCount.Length; b++)
        {
            yield return ((b + 0.5) * _bucket / (double)TimeSpan.TicksPerSecond, _waitCount[b],
                _waitCount[b] == 0 ? 0 : _waitSum[b] / (double)_waitCount[b], _waitMax[b]);
        }
    }

    // Protocol messages delivered so far, read when the first event of the window and the
    // first event at or after its end come by: the window's message rate leaves out the
    // start and the end of the run (creating and stopping thousands of actors, the drain).
    private Func<long>? _messages;
    private long _messagesAtWarmup = -1;
    private long _messagesAtEnd = -1;

    /// <summary>Where the recorder reads the run's message count to measure the window's messages.</summary>
    public void CountMessages(Func<long> messages) => _messages = messages;

    /// <summary>Protocol messages delivered between the first events at the warm-up's end and at the duration; null if the run ended before.</summary>
    public long? MessagesInWindow => _messagesAtWarmup >= 0 && _messagesAtEnd >= 0 ? _messagesAtEnd - _messagesAtWarmup : null;

    /// <summary>The window those messages were counted over: the times of those two events, in ticks.</summary>
    public (long From, long To) MessageWindow { get; private set; }

    public void Observe(long time, TraceEvent e)
    {
        Now = time;
        if (_messages is not null && _messagesAtEnd < 0 && time >= _warmup)
        {
            if (_messagesAtWarmup < 0)
            {
                _messagesAtWarmup = _messages();
                MessageWindow = (time, time);
            }
            else if (time >= _duration)
            {
                _messagesAtEnd = _messages();
                MessageWindow = (MessageWindow.From, time);
            }
        }
        switch (e)
        {
            case Paced m:
                _late[m.Task.Value] = m.Late;
                break;
            case OpStarted m:
                OnStarted(time, m);
                break;
            case OpCompleted m:
                OnCompleted(time, m);
                break;
            case PageGot:
                PinsOutstanding++;
                break;
            case PagePut:
                PinsOutstanding--;
                break;
            case BusyScanDone m:
                _scans++;
                if (m.Busy is not null)
                {
                    _busyFound++;
                }
                break;
            case WaitSleeping m:
                _sleepStart[m.Task.Value] = time;
                _waitedAtAll[m.Task.Value] = true;
                TruncatesWaiting++;
                _sleeps++;
                break;
            case WaitEnded m when m.How != WaitEnd.AlreadyIdle:
                var t = m.Task.Value;
                if (_sleepStart[t] >= 0)
                {
                    _waited[t] += time - _sleepStart[t];
                    _sleepStart[t] = -1;
                    TruncatesWaiting--;
                }
                break;
            case BreakLayoutsRetry m:
                _retries[m.Task.Value]++;
                break;
        }
    }

    private void OnStarted(long time, OpStarted m)
    {
        var t = m.Task.Value;
        _op[t] = (int)m.Op;
        if (m.Op != OpKind.Sleep)
        {
            LastStart = Math.Max(LastStart, time);
        }
        _due[t] = _late[t] >= 0 ? time - _late[t] : time;
        _late[t] = -1;
        _waited[t] = 0;
        _retries[t] = 0;
        _waitedAtAll[t] = false;
    }

    private void OnCompleted(long time, OpCompleted m)
    {
        var t = m.Task.Value;
        var kind = _op[t];
        _op[t] = -1;
        if (kind < 0 || (OpKind)kind == OpKind.Sleep)
        {
            return;
        }
        OpsCompleted++;
        var stats = _stats[kind];
        var due = _due[t];
        var bucket = (int)Math.Min(Buckets, time / _bucket);
        stats.Completions[bucket]++;
        stats.Total++;
        if (due < _warmup || due >= _duration)
        {
            return;
        }
        var latencyNs = Math.Clamp((time - due) * 100, 0, MaxLatencyNs);
        stats.Latency.RecordValue(latencyNs);
        if (m.Result != Errno.Ok)
        {
            stats.Errors[m.Result] = stats.Errors.GetValueOrDefault(m.Result) + 1;
        }
        if (((OpKind)kind).BreaksLayouts())
        {
            var waitNs = Math.Clamp(_waited[t] * 100, 0, MaxLatencyNs);
            _breakWait.RecordValue(waitNs);
            _breakRetries.RecordValue(Math.Min(_retries[t], 1_000_000));
            stats.BreakWait.RecordValue(waitNs);
            if (_waitedAtAll[t])
            {
                stats.Waited++;
            }
            stats.Retries += _retries[t];
            _waitSum[bucket] += waitNs;
            _waitCount[bucket]++;
            _waitMax[bucket] = Math.Max(_waitMax[bucket], waitNs);
        }
    }

    /// <summary>The figures of one operation kind.</summary>
    public sealed class OpStats(OpKind kind)
    {
        public OpKind Kind { get; } = kind;

        /// <summary>Latency (ns) of the operations due in the measured window.</summary>
        public LongHistogram Latency { get; } = new(MaxLatencyNs, 3);

        /// <summary>Layout-break wait (ns) of each measured operation of this kind (truncate-like kinds only).</summary>
        public LongHistogram BreakWait { get; } = new(MaxLatencyNs, 3);

        /// <summary>Measured operations that slept at least once waiting for a busy page.</summary>
        public long Waited { get; set; }

        /// <summary>Layout-break retries summed over the measured operations.</summary>
        public long Retries { get; set; }

        /// <summary>Operations that did not return ok, by result, in the measured window.</summary>
        public SortedDictionary<Errno, long> Errors { get; } = new();

        /// <summary>Completions per bucket of time, over the whole run (the last bucket: after the duration).</summary>
        public long[] Completions { get; } = new long[Buckets + 1];

        /// <summary>Completions over the whole run, warm-up and drain included.</summary>
        public long Total { get; set; }

        public long Count => Latency.TotalCount;
    }
}
