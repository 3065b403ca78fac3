using Xunit;

namespace DaxSim.Tests.Local;

/// <summary>
/// Specs that run the local runtime on real threads and judge liveness from elapsed time
/// (a quiet spell means "stuck"). They run by themselves, after the parallel specs, so that
/// a busy machine cannot starve their actors into a false verdict.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RealThreadsCollection : ICollectionFixture<ThreadPoolHeadroom>
{
    public const string Name = "local runtime on real threads";
}

/// <summary>
/// The local runtime's actors and Akka's scheduler (its ticks are Task.Delay continuations)
/// run on the .NET thread pool. The test host keeps some pool threads blocked (xunit runs a
/// test on one, and LocalRuntime.Run polls on its caller's thread), and on a small machine
/// the pool then adds threads only about one per half second: timers fire hundreds of
/// milliseconds late and the elapsed-time checks see a stuck run (a false L3). A standalone
/// `daxsim run` does not have the problem. Raise the pool's minimum for these specs, and
/// restore it after.
/// </summary>
public sealed class ThreadPoolHeadroom : IDisposable
{
    private readonly int _workers;
    private readonly int _io;

    public ThreadPoolHeadroom()
    {
        ThreadPool.GetMinThreads(out _workers, out _io);
        ThreadPool.SetMinThreads(Math.Max(_workers, 32), _io);
    }

    public void Dispose() => ThreadPool.SetMinThreads(_workers, _io);
}
