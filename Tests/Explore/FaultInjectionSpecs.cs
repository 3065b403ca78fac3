using DaxSim.Host.Deterministic;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using DaxSim.Tests.Runtime;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Explore;

/// <summary>Signals, kills and message delays drawn from the seed, recorded and replayed.</summary>
public sealed class FaultInjectionSpecs(DeterministicRuntimeFixture fixture) : IClassFixture<DeterministicRuntimeFixture>
{
    private readonly DeterministicRuntime _runtime = fixture.Runtime;
    private readonly Scenario _truncate = Scenarios.Shipped("generic-503-truncate");

    private RunResult Run(ulong seed, bool inject, string strategy = Strategies.Random, bool trace = false) =>
        _runtime.Run(_truncate, new RunSettings
        {
            Seed = seed, RecordTrace = trace, Deterministic = new() { FaultInjection = inject, Strategy = strategy },
        });

    [Fact]
    public void Without_the_option_nothing_must_be_injected()
    {
        var run = Run(4, inject: false);
        Assert.Null(run.Faults);
        Assert.Equal(0, run.Coverage[Branch.FaultInjected]);
    }

    [Fact]
    public void The_expected_span_must_count_an_fsyncs_write_back_of_every_page()
    {
        // StepFacts.OwnTime, as L3 counts it: 1 ms per page of the 4-page file, twice.
        var scenario = Scenarios.Parse("""
            [ { "name": "a", "steps": [ { "op": "fsync", "file": "dax", "ioTime": "1ms", "repeat": 2 } ] } ]
            """);
        Assert.Equal(TimeSpan.FromMilliseconds(8).Ticks, FaultInjection.ExpectedSpan(scenario));
    }

    [Fact]
    public void The_faults_must_come_from_the_seed_within_the_expected_span()
    {
        var span = FaultInjection.ExpectedSpan(_truncate);
        // Each thread: 10 rounds of a 200 us read and a sleep of up to 1 ms.
        Assert.Equal(TimeSpan.FromMicroseconds(1200 * 10).Ticks, span);
        var drawn = Enumerable.Range(1, 200).Select(s => FaultInjection.Draw(_truncate, (ulong)s)).ToList();
        Assert.Equal(drawn[6], FaultInjection.Draw(_truncate, 7));
        var all = drawn.SelectMany(f => f).ToList();
        Assert.Contains(all, f => f.Kind == InjectedFault.Signal);
        Assert.Contains(all, f => f.Kind == InjectedFault.Kill);
        Assert.All(all, f => Assert.InRange(f.At, 0, span - 1));
        Assert.All(all, f => Assert.InRange(f.Task.Value, 0, _truncate.Tasks.Count - 1));
        Assert.All(drawn, f => Assert.True(f.Count(x => x.Kind == InjectedFault.Signal) <= FaultInjection.MaxSignals));
        Assert.All(drawn, f => Assert.True(f.Count(x => x.Kind == InjectedFault.Kill) <= 1));
    }

    [Fact]
    public void Injected_faults_must_change_the_run_and_be_the_same_for_the_same_seed()
    {
        var first = Run(12, inject: true, trace: true);
        var again = Run(12, inject: true, trace: true);
        Assert.Equal(first.TraceText, again.TraceText);
        Assert.Equal(first.Faults!.Faults, again.Faults!.Faults);
        Assert.Equal(first.Faults.Delays, again.Faults.Delays);

        var changed = Enumerable.Range(1, 10)
            .Count(s => Run((ulong)s, inject: true).TraceHash != Run((ulong)s, inject: false).TraceHash);
        Assert.True(changed >= 8, $"fault injection changed only {changed} of 10 runs");
    }

    [Fact]
    public void Message_delays_must_hold_mailboxes_back_in_virtual_time()
    {
        var runs = Enumerable.Range(1, 20).Select(s => Run((ulong)s, inject: true)).ToList();
        Assert.All(runs, r => Assert.Equal(Verdict.Clean, r.Verdict));
        var delays = runs.SelectMany(r => r.Faults!.Delays).ToList();
        Assert.NotEmpty(delays);
        var max = FaultInjection.MaxDelay(_truncate);
        Assert.All(delays, d => Assert.InRange(d.Delay, 1, max));
        Assert.All(delays, d => Assert.False(string.IsNullOrEmpty(d.Actor)));
        Assert.All(runs, r => Assert.Equal(r.Faults!.Delays.Select(d => d.Ready).Distinct().Count(), r.Faults.Delays.Count));
    }

    [Fact]
    public void The_delay_plan_must_be_the_same_for_one_seed_and_differ_between_seeds()
    {
        // What the seed draws: which readiness of a mailbox is held back, and by how much (the
        // mailbox that readiness belongs to follows from the schedule as well).
        static List<(long Ready, long Delay)> Plan(RunResult r) => r.Faults!.Delays.Select(d => (d.Ready, d.Delay)).ToList();

        var runs = Enumerable.Range(1, 8).Select(s => Run((ulong)s, inject: true)).ToList();
        Assert.Equal(Plan(runs[2]), Plan(Run(3, inject: true)));
        var firsts = runs.Select(Plan).Where(p => p.Count > 0).Select(p => p[0]).ToList();
        Assert.True(firsts.Count >= 4, $"only {firsts.Count} of 8 runs were delayed at all");
        Assert.True(firsts.Distinct().Count() >= firsts.Count / 2,
            $"the seeds drew the same first delays: {string.Join(", ", firsts)}");
    }

    [Fact]
    public void A_run_with_injected_faults_must_replay_from_its_plan_and_choices_alone()
    {
        // A seed whose run got signals or a kill and delays.
        var original = Enumerable.Range(1, 50).Select(s => Run((ulong)s, inject: true))
            .First(r => r.Faults!.Faults.Count > 0 && r.Faults.Delays.Count > 0);
        Assert.True(original.Coverage[Branch.FaultInjected] > 0 || original.EndTime < original.Faults!.Faults.Min(f => f.At));

        // No drawing: the plan and the choices decide everything, with the seed only for the
        // scenario's own random sleeps (generic/503's usleep(rand() % 1000)).
        var replayed = _runtime.Run(_truncate, new RunSettings
        {
            Seed = original.Seed, Deterministic = new() { Schedule = original.Schedule, Faults = original.Faults },
        });
        Assert.Equal(original.TraceHash, replayed.TraceHash);
        Assert.Equal(original.Faults!.Delays, replayed.Faults!.Delays);

        // Without the plan, the same choices give another run.
        var without = _runtime.Run(_truncate, new RunSettings
        {
            Seed = original.Seed, Deterministic = new() { Schedule = original.Schedule },
        });
        Assert.NotEqual(original.TraceHash, without.TraceHash);
    }

    [Fact]
    public void Mainline_must_stay_clean_under_injected_faults_on_every_shipped_scenario()
    {
        foreach (var name in new[]
                 {
                     "generic-503-punch", "generic-503-zero", "generic-503-truncate", "generic-503-collapse",
                     "dio-vs-punch", "dio-vs-truncate", "lease-break", "signal-long-pin", "multi-dio-overlap",
                     "fsync-vs-punch", "aio-munmap-truncate",
                 })
        {
            var scenario = Scenarios.Shipped(name);
            for (ulong seed = 1; seed <= 60; seed++)
            {
                var result = _runtime.Run(scenario, new RunSettings
                {
                    Seed = seed, RecordOps = false, RecordSchedule = false, Deterministic = new() { FaultInjection = true },
                });
                Assert.True(result.Violation is null, $"{scenario.Name} seed {seed}: {result.Violation}");
            }
        }
    }
}
