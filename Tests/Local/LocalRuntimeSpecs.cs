using DaxSim.Actors;
using System.Collections.Concurrent;
using DaxSim.Host.Local;
using DaxSim.Host.Runs;
using DaxSim.Host.Checking;
using DaxSim.Protocol;
using DaxSim.Protocol.Load;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;
using DaxSim.Tests.Cli;
using DaxSim.Tests.Runtime;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Local;

/// <summary>
/// The local runtime: the same actors on a plain ActorSystem, real threads, elapsed time.
/// Its interleavings are not reproducible, so these specs ask only what must hold for every
/// interleaving: the verdict a scenario expects, and a seeded bug caught.
/// </summary>
[Collection(RealThreadsCollection.Name)]
public sealed class LocalRuntimeSpecs(DeterministicRuntimeFixture fixture) : IClassFixture<DeterministicRuntimeFixture>
{
    public static TheoryData<string> ShippedScenarios()
    {
        var data = new TheoryData<string>();
        foreach (var file in Scenarios.ShippedFiles())
        {
            data.Add(Path.GetFileNameWithoutExtension(file));
        }
        return data;
    }

    /// <summary>Runs on the local runtime, noting which managed thread emitted each trace event.</summary>
    private static (RunResult Result, IReadOnlyDictionary<int, int> EventsByThread) RunLocal(Scenario scenario,
        Variant? variant = null)
    {
        var threads = new ConcurrentDictionary<int, int>();
        var runtime = new LocalRuntime
        {
            Observer = (_, thread) => threads.AddOrUpdate(thread, 1, (_, n) => n + 1),
        };
        var result = runtime.Run(scenario, new RunSettings { Seed = 1, Variant = variant ?? Variant.Mainline });
        return (result, threads);
    }

    [Theory]
    [MemberData(nameof(ShippedScenarios))]
    public void Every_shipped_scenario_must_give_its_expected_verdict_on_real_threads_as_on_the_deterministic_runtime(
        string name)
    {
        var scenario = Scenarios.Shipped(name);
        var deterministic = fixture.Runtime.Run(scenario, new RunSettings { Seed = 1 });

        var (local, threads) = RunLocal(scenario);

        Assert.True(local.Violation is null, $"{name} on the local runtime: {Describe(local)}");
        Assert.Equal(RuntimeKind.Local, local.Runtime);
        Assert.Equal(scenario.Expect, local.Verdict);
        Assert.Equal(deterministic.Verdict, local.Verdict);
        var implied = scenario.OperationCount;
        Assert.Equal(implied, local.OpsCompleted);
        Assert.Equal(implied, local.Ops.Count);
        Assert.Equal(implied, deterministic.OpsCompleted);
        Assert.All(local.Ops, op => Assert.True(op.End >= op.Start, op.ToString()));

        // The actors ran on threads of the ActorSystem, not on the thread that called Run
        // (it only polls the checker).
        Assert.NotEmpty(threads);
        Assert.DoesNotContain(Environment.CurrentManagedThreadId, threads.Keys);
    }

    [Fact]
    public void Actors_must_run_on_more_than_one_thread_at_once()
    {
        // An idle thread pool may well hand every mailbox run to the same thread, so make
        // the first events slow to take: while one actor's thread is held up handing events
        // to the checker, the messages of the others must be processed on other threads.
        var threads = new ConcurrentDictionary<int, int>();
        var slow = 0;
        var runtime = new LocalRuntime
        {
            Observer = (_, thread) =>
            {
                threads.AddOrUpdate(thread, 1, (_, n) => n + 1);
                if (++slow <= 40) // the observer sees one event at a time: no race on slow
                {
                    Thread.Sleep(2); // a slow event consumer, not a wait for the actors
                }
            },
        };

        var result = runtime.Run(Scenarios.Shipped("multi-dio-overlap"), new RunSettings { Seed = 1 });

        Assert.True(result.Violation is null, Describe(result));
        Assert.True(threads.Count > 1,
            $"every event came from one thread ({string.Join(", ", threads.Select(t => $"{t.Key}: {t.Value}"))})");
        Assert.DoesNotContain(Environment.CurrentManagedThreadId, threads.Keys);
    }

    /// <summary>
    /// signal-long-pin's situation (a truncate waits for a long DIO pin) without its signal,
    /// so that the wrong wake key leaves the truncate asleep until the bound runs out.
    /// </summary>
    private static Scenario LongPin() => Scenarios.Parse("""
        [ { "name": "pin", "steps": [
              { "op": "mmap", "file": "dax", "pages": "0-3" },
              { "op": "dioRead", "from": "src", "into": "dax", "pages": "0-3", "ioTime": "400ms" },
              { "op": "munmap", "file": "dax" } ] },
          { "name": "truncate", "steps": [
              { "op": "sleep", "for": "150ms" },
              { "op": "truncate", "file": "dax", "size": 0 } ] } ]
        """, extra: """, "limits": { "opBound": "500ms" }""");

    [Fact]
    public void A_wake_sent_to_the_wrong_key_must_be_caught_as_a_lost_wakeup_on_real_threads_too()
    {
        var scenario = LongPin();
        var deterministic = fixture.Runtime.Run(scenario, new RunSettings { Seed = 1, Variant = Variant.WrongWakeKey });
        Assert.Equal(InvariantId.L2, deterministic.Violation?.Invariant);

        var (local, _) = RunLocal(scenario, Variant.WrongWakeKey);

        Assert.True(local.Violation?.Invariant == InvariantId.L2, Describe(local));
        Assert.Equal(Verdict.Liveness, local.Verdict);
        Assert.Contains("task-truncate", local.Violation!.Actors);
        Assert.NotEmpty(local.TraceTail);
    }

    /// <summary>A load on real threads: the default mix of 24 tasks on 2 files of 32 pages, no think time.</summary>
    private static Scenario Load(Variant variant) => LoadScenario.Build(
        new LoadSpec("real-threads", null, 2, 32, null, LoadSpec.MixOf(24, TimeSpan.Zero, null, 32),
            TimeSpan.FromMilliseconds(600), null, null, null, null, LoadSpec.DefaultOpBound, LoadSpec.DefaultLeaseBreakTime),
        1, variant);

    [Fact]
    public void Under_load_the_checker_must_see_every_event_in_an_order_that_a_second_checker_accepts()
    {
        // Many actor threads emit at once and take turns at handing the queue to the checker.
        // A second checker fed the same stream must agree with the first on every count and
        // find nothing wrong: an event lost, or seen before its cause, would show as a refcount
        // that disagrees (the checker throws), a put without its get (S2), or DMA into a block
        // that is no longer the file's (S1).
        var scenario = Load(Variant.Mainline);
        var second = new InvariantChecker(scenario, ProtocolPolicy.Mainline, () => 0, recordOps: false);
        long observed = 0;
        var threads = new HashSet<int>();
        var runtime = new LocalRuntime
        {
            Observer = (e, thread) =>
            {
                observed++;
                threads.Add(thread);
                second.Observe(e);
            },
        };

        var result = runtime.Run(scenario, new RunSettings { Seed = 1, RecordOps = false });

        Assert.True(result.Violation is null, Describe(result));
        Assert.True(result.OpsCompleted > 100, $"only {result.OpsCompleted} operations in the load");
        Assert.Equal(result.Events, observed);
        Assert.Equal(result.Threads, threads.Count);
        Assert.Equal(result.OpsCompleted, second.OpsCompleted);
        second.AtQuiescence();
        Assert.Null(second.Failure);
        Assert.Null(second.Violation);
    }

    [Fact]
    public void A_violation_under_load_must_still_be_caught_on_real_threads()
    {
        var result = new LocalRuntime().Run(Load(Variant.NoBreak),
            new RunSettings { Seed = 1, Variant = Variant.NoBreak, RecordOps = false });

        Assert.True(result.Violation?.Invariant == InvariantId.S1, Describe(result));
        Assert.Equal(Verdict.Safety, result.Verdict);
        Assert.NotEmpty(result.TraceTail);
    }

    private static string Describe(RunResult run) =>
        $"{run.Violation}\nops:\n  {string.Join("\n  ", run.Ops)}\ntrace tail:\n  {string.Join("\n  ", run.TraceTail)}";

    [Fact]
    public void On_mainline_the_same_truncate_must_wait_the_pin_out_on_real_threads()
    {
        var (local, _) = RunLocal(LongPin());

        Assert.True(local.Violation is null, Describe(local));
        var dio = local.Ops.Single(o => o.Op == "dioRead");
        var truncate = local.Ops.Single(o => o.Op == "truncate");
        Assert.Equal("ok", dio.Result);
        Assert.Equal("ok", truncate.Result);
        Assert.True(truncate.Start < dio.End, "the truncate must have started while the pin was held");
        Assert.True(truncate.End >= dio.End, "the truncate must not finish before the pin is gone");
    }

    [Fact]
    public void Freeing_pinned_blocks_must_be_caught_as_a_safety_violation_on_real_threads_too()
    {
        var (local, _) = RunLocal(LongPin(), Variant.NoBreak);

        Assert.True(local.Violation?.Invariant == InvariantId.S1, Describe(local));
        Assert.Equal(Verdict.Safety, local.Verdict);
        Assert.Contains("task-pin", local.Violation.Actors);
    }
}
