using DaxSim.Actors;
using DaxSim.Host.Checking;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Trace;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Runs;

/// <summary>
/// Honest verdicts on a loaded machine: the host's lateness (timer ticks against the clock,
/// GC pauses) is measured, L3 allows it, and a time-dependent finding it swamps is
/// inconclusive (exit 4). Ticks are reported by hand: no wall clock in these specs.
/// </summary>
public sealed class HostLatenessSpecs
{
    private static readonly long Ms = TimeSpan.TicksPerMillisecond;

    [Fact]
    public void Lateness_must_count_what_a_tick_is_late_beyond_the_jitter_and_gc_pauses_once()
    {
        using var host = new HostLateness(() => 0, manual: true);

        host.Tick(10 * Ms, TimeSpan.Zero); // on time
        host.Tick(21 * Ms, TimeSpan.Zero); // 1 ms late: jitter
        host.Tick(81 * Ms, TimeSpan.Zero); // 50 ms late: 48 ms taken
        host.Tick(91 * Ms, TimeSpan.FromMilliseconds(30)); // on time, yet a 30 ms pause: 28 ms taken
        host.Tick(141 * Ms, TimeSpan.FromMilliseconds(70)); // 40 ms late in a 40 ms pause: counted once, 38 ms

        Assert.Equal(TimeSpan.FromMilliseconds(48 + 28 + 38), host.Stolen);
        Assert.Equal(TimeSpan.FromMilliseconds(70), host.GcPause);
        Assert.Equal(TimeSpan.FromMilliseconds(50), host.MaxTimerLateness);
        Assert.Equal(TimeSpan.FromMilliseconds(28 + 38), host.StolenWithin(TimeSpan.FromMilliseconds(60), 141 * Ms));
        Assert.Equal(TimeSpan.FromMilliseconds(48), host.StolenWithin(0, 90 * Ms));
    }

    private static (InvariantChecker Checker, long Due) SleepOverdue()
    {
        // One task sleeps 10 ms; its bound is limits.opBound (1 s) after that.
        var scenario = Scenarios.Parse("""[ { "name": "t", "steps": [ {"op": "sleep", "for": "10ms"} ] } ]""");
        long now = 0;
        var checker = new InvariantChecker(scenario, ProtocolPolicy.For(Variant.Mainline), () => now, recordOps: false);
        checker.Observe(new OpStarted(new TaskId(0), OpKind.Sleep, null, 0, 0));
        return (checker, (10 + 1000) * Ms);
    }

    [Fact]
    public void L3_must_allow_what_the_host_took_from_the_run()
    {
        var (checker, due) = SleepOverdue();
        var scenario = Scenarios.Parse("""[ { "name": "t", "steps": [ {"op": "sleep", "for": "10ms"} ] } ]""");
        using var host = new HostLateness(() => 0, manual: true);
        host.Tick(500 * Ms, TimeSpan.Zero); // the host took ~490 ms
        var judge = new LiveJudge(checker, scenario, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(200))
        {
            Host = host,
            LatenessWindow = TimeSpan.FromSeconds(2),
        };

        Assert.False(judge.Step(due + 100 * Ms, events: 1));
        Assert.Null(checker.Violation);

        Assert.True(judge.Step(due + 600 * Ms, events: 1));
        Assert.Equal("L3", checker.Violation?.Invariant.ToString());
    }

    [Fact]
    public void L3_must_be_judged_at_its_bound_when_the_host_took_nothing()
    {
        var (checker, due) = SleepOverdue();
        var scenario = Scenarios.Parse("""[ { "name": "t", "steps": [ {"op": "sleep", "for": "10ms"} ] } ]""");
        using var host = new HostLateness(() => 0, manual: true);
        var judge = new LiveJudge(checker, scenario, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(200))
        {
            Host = host,
            LatenessWindow = TimeSpan.FromSeconds(2),
        };

        Assert.True(judge.Step(due + 1 * Ms, events: 1));
        Assert.Equal("L3", checker.Violation?.Invariant.ToString());
    }

    private static RunResult Found(string invariant, Verdict verdict) => new()
    {
        Scenario = "s", Runtime = RuntimeKind.Local, Seed = 1, Variant = Variant.Mainline, Strategy = "threads",
        Verdict = verdict, Violation = new Violation(Enum.Parse<InvariantId>(invariant), verdict, 3000 * Ms, "found", [], []), Ops = [],
        EndTime = 3000 * Ms,
    };

    [Theory]
    [InlineData("L3", 200, Verdict.Inconclusive)]
    [InlineData("L2", 200, Verdict.Inconclusive)]
    [InlineData("L3", 100, Verdict.Liveness)]
    [InlineData("L1", 900, Verdict.Liveness)]
    [InlineData("S1", 900, Verdict.Safety)]
    public void A_time_dependent_finding_must_be_inconclusive_when_the_host_took_half_the_slack(string invariant,
        int stolenMs, Verdict expected)
    {
        var verdict = invariant.StartsWith('S') ? Verdict.Safety : Verdict.Liveness;
        using var host = new HostLateness(() => 2500 * Ms, manual: true);
        host.Tick(2500 * Ms + (10 + 2 + stolenMs) * Ms, TimeSpan.Zero);

        var judged = RunResults.Judged(Found(invariant, verdict), host, TimeSpan.FromSeconds(1.5),
            TimeSpan.FromMilliseconds(250));

        Assert.Equal(expected, judged.Verdict);
        Assert.Equal(TimeSpan.FromMilliseconds(stolenMs), judged.Host!.Stolen);
        Assert.Equal(expected == Verdict.Inconclusive, judged.Host.Inconclusive is not null);
    }

    [Fact]
    public void Inconclusive_must_have_its_own_exit_code_and_never_be_expected()
    {
        Assert.Equal(4, Verdict.Inconclusive.ExitCode());
        Assert.Equal([0, 1, 3], new[] { Verdict.Clean, Verdict.Safety, Verdict.Liveness }.Select(v => v.ExitCode()));
        Assert.False(Verdicts.TryParse("inconclusive", out _));
    }
}
