namespace DaxSim.Host.Explore;

/// <summary>
/// How explore and the systematic search spread numbered units of work (seeds; schedules
/// under one first deviation) over worker threads so that the finding they report does not
/// depend on the number of workers: units are handed out in order, and once unit u has a
/// finding, no unit after u starts while the units before it finish, so the lowest unit with
/// a finding wins. Each worker has state of its own (a deterministic runtime: one ActorSystem
/// per thread), made by <c>open</c> and disposed when the worker stops.
/// </summary>
internal static class LowestFirst
{
    /// <summary>
    /// Runs units 0..<paramref name="count"/>-1 on <paramref name="workers"/> threads;
    /// <paramref name="unit"/> returns whether its unit had a finding. Calls
    /// <paramref name="progress"/> every <paramref name="interval"/> from the calling thread
    /// while they run. Returns the lowest unit with a finding, or null. A worker that throws
    /// stops every worker, and the exception is thrown here.
    /// </summary>
    public static long? Run<TState>(long count, int workers, string threadName, Func<TState> open,
        Func<TState, long, bool> unit, Func<bool> stop, TimeSpan interval, Action? progress)
        where TState : IDisposable
    {
        long next = 0;
        long stopAt = count;
        long? lowest = null;
        Exception? failure = null;
        var gate = new object();
        var threads = Math.Max(1, workers);
        using var finished = new CountdownEvent(threads);

        void Work()
        {
            try
            {
                using var state = open();
                while (true)
                {
                    var u = Interlocked.Increment(ref next) - 1;
                    if (u >= Interlocked.Read(ref stopAt) || stop())
                    {
                        return;
                    }
                    if (!unit(state, u))
                    {
                        continue;
                    }
                    lock (gate)
                    {
                        if (lowest is null || u < lowest)
                        {
                            lowest = u;
                            Interlocked.Exchange(ref stopAt, u);
                        }
                    }
                }
            }
            catch (Exception e)
            {
                lock (gate)
                {
                    failure ??= e;
                }
                Interlocked.Exchange(ref stopAt, 0);
            }
            finally
            {
                finished.Signal();
            }
        }

        var started = Enumerable.Range(0, threads)
            .Select(_ => new Thread(Work) { IsBackground = true, Name = threadName })
            .ToList();
        started.ForEach(t => t.Start());
        while (!finished.Wait(interval))
        {
            progress?.Invoke();
        }
        started.ForEach(t => t.Join());
        if (failure is not null)
        {
            throw new AggregateException(failure);
        }
        return lowest;
    }
}
