using System.Collections.Concurrent;
using DaxSim.Host.Local;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
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
        Variant variant = Variant.Mainline)
    {
        var threads = new ConcurrentDictionary<int, int>();
        var runtime = new LocalRuntime
        {
            Observer = _ => threads.AddOrUpdate(Environment.CurrentManagedThreadId, 1, (_, n) => n + 1),
        };
        var result = runtime.Run(scenario, new RunSettings { Seed = 1, Variant = variant });
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
        Assert.Equal("local", local.Runtime);
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
        // the first events slow to take: while one actor is held up in its handler, the
        // messages of the others must be processed on other threads, not wait for it.
        var threads = new ConcurrentDictionary<int, int>();
        var slow = 0;
        var runtime = new LocalRuntime
        {
            Observer = _ =>
            {
                threads.AddOrUpdate(Environment.CurrentManagedThreadId, 1, (_, n) => n + 1);
                if (++slow <= 40) // the observer runs under the runtime's event lock: no race on slow
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
        Assert.Equal("L2", deterministic.Violation?.Invariant);

        var (local, _) = RunLocal(scenario, Variant.WrongWakeKey);

        Assert.True(local.Violation?.Invariant == "L2", Describe(local));
        Assert.Equal(Verdict.Liveness, local.Verdict);
        Assert.Contains("task-truncate", local.Violation!.Actors);
        Assert.NotEmpty(local.TraceTail);
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

        Assert.True(local.Violation?.Invariant == "S1", Describe(local));
        Assert.Equal(Verdict.Safety, local.Verdict);
        Assert.Contains("task-pin", local.Violation.Actors);
    }
}
