using DaxSim.Host.Deterministic;
using DaxSim.Host.Explore;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Tests.Runtime;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Explore;

/// <summary>Which protocol branches runs reach, counted from their trace events.</summary>
public sealed class CoverageSpecs(DeterministicRuntimeFixture fixture) : IClassFixture<DeterministicRuntimeFixture>
{
    private readonly DeterministicRuntime _runtime = fixture.Runtime;

    private CoverageTotals Over(string scenario, int seeds, bool inject = false)
    {
        var loaded = Scenarios.Shipped(scenario);
        var totals = new CoverageTotals();
        for (var s = 1; s <= seeds; s++)
        {
            var run = _runtime.Run(loaded, new RunSettings
            {
                Seed = (ulong)s, RecordOps = false, RecordSchedule = false, Deterministic = new() { FaultInjection = inject },
            });
            Assert.Equal(Verdict.Clean, run.Verdict);
            totals.Add(run.Coverage);
        }
        return totals;
    }

    [Theory]
    [InlineData("fsync-vs-punch", "mainline", Branch.EntryLockWaited)]
    [InlineData("fsync-vs-punch", "mainline", Branch.EntryWrittenBack)]
    [InlineData("fsync-vs-punch", "busy-scan-skips-locked-entry", Branch.LockedEntrySkipped)]
    [InlineData("signal-restart", "mainline", Branch.OpRestarted)]
    [InlineData("generic-503-truncate", "linux-6.15", Branch.PteReferenceTaken)]
    [InlineData("lease-enomem", "mainline", Branch.OpOutOfMemory)]
    [InlineData("two-pins", "mainline", Branch.GupFastPath)]
    public void The_branches_of_the_new_machinery_must_be_reached_where_it_runs(string scenario, string variant, Branch branch)
    {
        var loaded = Scenarios.Shipped(scenario);
        var reached = Enumerable.Range(1, 10).Sum(s => _runtime.Run(loaded, new RunSettings
        {
            Seed = (ulong)s, Variant = Variants.Parse(variant), RecordOps = false, RecordSchedule = false,
        }).Coverage[branch]);
        Assert.True(reached > 0, $"{Coverage.Name(branch)} never reached on {scenario} under {variant}");
        // And not where the machinery does not run.
        if (branch != Branch.GupFastPath)
        {
            Assert.Equal(0, _runtime.Run(Scenarios.Shipped("two-pins"), new RunSettings { Seed = 1 }).Coverage[branch]);
        }
    }

    [Fact]
    public void Every_branch_must_have_a_report_name()
    {
        var names = Coverage.All.Select(Coverage.Name).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.Contains("busy-page-found", names);
        Assert.Contains("gup-recheck-failed", names);
        Assert.Contains("wait-slept", names);
        Assert.Contains("wait-returned-at-once", names);
        Assert.Contains("lease-broken", names);
        Assert.Contains("break-layouts-retry", names);
        Assert.All(names, n => Assert.Matches("^[a-z]+(-[a-z]+)*$", n));
        Assert.Equal(names, new Coverage().ByName().Keys.ToList());
    }

    [Fact]
    public void A_mainline_dio_vs_truncate_run_must_find_busy_pages_and_sleep_on_them_and_never_touch_a_lease()
    {
        var totals = Over("dio-vs-truncate", 20);
        Assert.Equal(20, totals.Runs);
        // What the test exists for: the truncate finds the DIO's pinned page and waits for it.
        Assert.Equal(20, totals.RunsReaching(Branch.BusyPageFound));
        Assert.Equal(20, totals.RunsReaching(Branch.WaitSlept));
        Assert.Equal(20, totals.RunsReaching(Branch.BreakLayoutsRetry));
        Assert.Equal(20, totals.RunsReaching(Branch.NoBusyPage));
        Assert.True(totals.Total(Branch.GupSlowPath) > 0);
        Assert.True(totals.Total(Branch.LockWaited) > 0);
        // The truncate unmaps between two reads, so reads fault their pages in again. The fast
        // path finds PTEs only when a read faulted them back while the truncate slept on a pin
        // (MMAPLOCK dropped) and the next read comes before the truncate's retry unmaps them.
        Assert.True(totals.Total(Branch.GupSlowPath) > 20 * totals.Total(Branch.GupFastPath),
            $"slow path {totals.Total(Branch.GupSlowPath)}, fast path {totals.Total(Branch.GupFastPath)}");
        // Every sleep ends with a wakeup when nothing interrupts it.
        Assert.Equal(totals.Total(Branch.WaitSlept), totals.Total(Branch.WaitWoken));
        // Impossible here: no lease, no signal, no kill.
        foreach (var branch in new[]
                 {
                     Branch.LeaseRecalled, Branch.LeaseBreakWaited, Branch.LeaseBroken, Branch.LeaseBreakFailed,
                     Branch.LeaseRevoked, Branch.SignalInterruptedWait, Branch.SignalPending, Branch.WaitInterrupted,
                     Branch.WaitKilled, Branch.TaskKilled, Branch.OpInterrupted, Branch.FaultInjected,
                     Branch.LockWithdrawn,
                 })
        {
            Assert.True(totals.Total(branch) == 0, $"{Coverage.Name(branch)}: {totals.Total(branch)}");
            Assert.Equal(0, totals.RunsReaching(branch));
        }
    }

    [Fact]
    public void The_lease_scenario_must_break_leases_and_the_signal_scenario_must_interrupt_a_wait()
    {
        var lease = Over("lease-break", 10);
        Assert.Equal(10, lease.RunsReaching(Branch.LeaseRecalled));
        Assert.Equal(10, lease.RunsReaching(Branch.LeaseBroken));

        var signal = Over("signal-long-pin", 5);
        Assert.Equal(5, signal.RunsReaching(Branch.FaultInjected));
        Assert.Equal(5, signal.RunsReaching(Branch.WaitInterrupted));
        Assert.Equal(5, signal.RunsReaching(Branch.OpInterrupted));
    }

    [Fact]
    public void Injected_faults_must_show_as_signals_kills_and_interrupted_waits()
    {
        var totals = Over("generic-503-truncate", 40, inject: true);
        Assert.True(totals.Total(Branch.FaultInjected) > 0);
        Assert.True(totals.Total(Branch.TaskKilled) > 0);
        Assert.True(totals.Total(Branch.SignalInterruptedWait) + totals.Total(Branch.SignalPending) > 0);
        // A sleep ends woken, interrupted or killed.
        Assert.Equal(totals.Total(Branch.WaitSlept),
            totals.Total(Branch.WaitWoken) + totals.Total(Branch.WaitInterrupted) + totals.Total(Branch.WaitKilled));
    }

    [Fact]
    public void Explore_must_sum_the_coverage_of_its_seeds_whatever_the_number_of_workers()
    {
        var scenario = Scenarios.Shipped("generic-503-punch");
        var expected = new CoverageTotals();
        for (ulong s = 1; s <= 24; s++)
        {
            expected.Add(_runtime.Run(scenario, new RunSettings { Seed = s, RecordOps = false, RecordSchedule = false }).Coverage);
        }
        foreach (var workers in new[] { 1, 2 })
        {
            var outcome = new Explorer(scenario, Variant.Mainline, Strategies.Random, workers).Explore(1, 24);
            Assert.Null(outcome.Finding);
            Assert.Equal(24, outcome.SeedsRun);
            Assert.Equal(24, outcome.Coverage.Runs);
            Assert.Equal(0, outcome.Findings);
            foreach (var branch in Coverage.All)
            {
                Assert.Equal(expected.Total(branch), outcome.Coverage.Total(branch));
                Assert.Equal(expected.RunsReaching(branch), outcome.Coverage.RunsReaching(branch));
            }
        }
    }

    [Fact]
    public void Explore_must_report_progress_with_seeds_done_and_findings()
    {
        var reports = new List<ExploreProgress>();
        var explorer = new Explorer(Scenarios.Shipped("generic-503-truncate"), Variant.Mainline, Strategies.Random, 2)
        {
            ProgressInterval = TimeSpan.FromMilliseconds(20),
            Progress = p => reports.Add(p),
        };
        var outcome = explorer.Explore(1, 200);
        Assert.Equal(200, outcome.SeedsRun);
        Assert.NotEmpty(reports);
        Assert.True(reports.Zip(reports.Skip(1), (a, b) => a.Done <= b.Done && a.Elapsed <= b.Elapsed).All(ok => ok));
        Assert.All(reports, p => Assert.Equal(0, p.Findings));
        Assert.All(reports, p => Assert.InRange(p.Done, 0, 200));
    }
}
