using System.Collections.Concurrent;
using DaxSim.Host.Checking;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Explore;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using DaxSim.Tests.Cli;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Explore;

/// <summary>An actor as the systematic strategy sees it: when it became ready.</summary>
internal sealed record WaitingActor(int Ordinal, long ReadyOrder, params int[] Senders) : ISchedulable
{
    public string Name => $"a{Ordinal}";

    // The messages waiting in its mailbox, by sender, in order.
    public ulong MixPending(ulong seed) => Senders.Aggregate(seed, (h, s) => StateFingerprint.Mix(h ^ (ulong)(uint)s));
}

/// <summary>The systematic strategy on its own, driven with made-up ready lists.</summary>
public sealed class SystematicStrategySpecs
{
    private static List<ISchedulable> Ready(params long[] readyOrders) =>
        readyOrders.Select((o, i) => (ISchedulable)new WaitingActor(i, o)).ToList();

    [Fact]
    public void Without_delays_it_must_run_the_actor_that_has_waited_longest()
    {
        var strategy = new SystematicStrategy([]);

        Assert.Equal(2, strategy.Choose(Ready(7, 9, 3, 5)));
        Assert.Equal(0, strategy.Choose(Ready(1, 2)));
    }

    [Fact]
    public void A_delay_must_run_the_actor_at_its_position_in_first_come_order_at_its_point_only()
    {
        var counts = new List<int>();
        var strategy = new SystematicStrategy([new Delay(1, 2), new Delay(2, 1)]) { ReadyCounts = counts };

        Assert.Equal(2, strategy.Choose(Ready(7, 9, 3, 5))); // point 0: default
        Assert.Equal(0, strategy.Choose(Ready(7, 9, 3, 5))); // point 1: third oldest (3, 5, 7: the one at index 0)
        Assert.Equal(3, strategy.Choose(Ready(7, 9, 3, 5))); // point 2: second oldest (5)
        Assert.Equal(2, strategy.Choose(Ready(7, 9, 3, 5))); // point 3: default again
        Assert.Equal([4, 4, 4, 4], counts);
        Assert.False(strategy.Misfit);
    }

    [Fact]
    public void Against_last_come_order_the_newest_actor_must_run_and_a_delay_must_count_from_it()
    {
        var strategy = new SystematicStrategy([new Delay(1, 1), new Delay(2, 3)], DefaultOrder.LastCome);

        Assert.Equal(1, strategy.Choose(Ready(7, 9, 3, 5))); // point 0: default, the newest (9)
        Assert.Equal(0, strategy.Choose(Ready(7, 9, 3, 5))); // point 1: second newest (7)
        Assert.Equal(2, strategy.Choose(Ready(7, 9, 3, 5))); // point 2: fourth newest, the oldest (3)
        Assert.Equal(1, strategy.Choose(Ready(7, 9, 3, 5))); // point 3: default again
        Assert.False(strategy.Misfit);
    }

    [Fact]
    public void A_delay_past_the_end_of_its_ready_list_must_be_reported()
    {
        var strategy = new SystematicStrategy([new Delay(0, 3)]);

        strategy.Choose(Ready(1, 2));

        Assert.True(strategy.Misfit);
    }
}

/// <summary>The bounded systematic search over real runs of the deterministic runtime.</summary>
public sealed class SystematicExplorerSpecs
{
    private static Scenario Small() => Scenarios.Generic503PunchOneRound();

    [Fact]
    public void Every_schedule_within_the_bound_must_be_run_exactly_once()
    {
        var (explorer, result, seen) = FullSearch.OneRoundWithin2;
        var scenario = explorer.Scenario;

        Assert.True(result.Exhausted);
        Assert.Null(result.Finding);
        Assert.Equal(result.Schedules, seen.Count);
        Assert.Equal(result.Schedules, result.ByDelays.Sum());
        Assert.Equal(seen.Count, seen.Select(s => s.Delays).Distinct().Count());
        // Most schedules give a trace of their own. Not all: a choice among mailboxes that only
        // start actors (system messages, not traced) can change nothing (docs/exploration.md).
        Assert.True(seen.Select(s => s.Trace).Distinct().Count() > seen.Count * 3 / 4);
        // One schedule with no delay per default order; one per choice point of each default run
        // with one delay.
        Assert.Equal([DefaultOrder.FirstCome, DefaultOrder.LastCome], result.Orders);
        var defaultRun = Runtimes.ForOneThread(RuntimeKind.Deterministic);
        using (defaultRun)
        {
            var firstCome = defaultRun.Run(scenario, explorer.Settings([], DefaultOrder.FirstCome));
            var lastCome = defaultRun.Run(scenario, explorer.Settings([], DefaultOrder.LastCome));
            Assert.NotEqual(firstCome.TraceHash, lastCome.TraceHash);
            Assert.Equal(2, result.ByDelays[0]);
            Assert.Equal(firstCome.Choices + lastCome.Choices, result.ByDelays[1]);
        }
        Assert.True(result.ByDelays[2] > result.ByDelays[1]);
        Assert.Equal(result.ByDelays[1], result.Reruns);
    }

    [Fact]
    public void Unit_sizes_estimated_from_the_default_runs_must_match_the_unreduced_search_that_progress_weighs_them_by()
    {
        var (explorer, result, seen) = FullSearch.OneRoundWithin2;
        var orders = result.Orders;
        var counts = new IReadOnlyList<int>[orders.Count];
        using (var runtime = Runtimes.ForOneThread(RuntimeKind.Deterministic))
        {
            for (var o = 0; o < orders.Count; o++)
            {
                var ready = new List<int>();
                var strategy = new SystematicStrategy([], orders[o]) { ReadyCounts = ready };
                var settings = explorer.Settings([], orders[o]);
                runtime.Run(explorer.Scenario, settings with { Deterministic = settings.Deterministic with { WrapStrategy = _ => strategy } });
                counts[o] = ready;
            }
        }
        var units = SystematicExplorer.Units(2, orders, counts);
        var sizes = SystematicExplorer.UnitSizes(units, Enumerable.Repeat(2, units.Count).ToArray(), orders, counts);
        // What each unit held: the unreduced schedules with 2 delays under its first deviation.
        var actual = seen.Where(s => s.Delays.Contains(':') && s.Delays.Split(':')[1].Length > 0)
            .Select(s => (Order: s.Delays.Split(':')[0], Delays: s.Delays.Split(':')[1].Split(';')))
            .Where(s => s.Delays.Sum(d => int.Parse(System.Text.RegularExpressions.Regex.Match(d, @"Position = (\d+)").Groups[1].Value)) == 2)
            .GroupBy(s => s.Order + ":" + s.Delays[0]).ToDictionary(g => g.Key, g => (double)g.Count());
        var held = units.Select(u => actual.GetValueOrDefault(u.Order.Name() + ":" + u.First)).ToArray();

        Assert.Equal(result.ByDelays[2], (long)held.Sum());
        Assert.InRange(sizes.Sum() / held.Sum(), 0.95, 1.05);
        // The units are far from equal (a later first deviation has fewer points after it), and
        // the estimate puts the same share of the work in the first half of them.
        Assert.True(held[0] > 10 * Math.Max(1, held[^1]), $"first unit {held[0]}, last {held[^1]}");
        var half = units.Count / 2;
        Assert.InRange(sizes.Take(half).Sum() / sizes.Sum() - held.Take(half).Sum() / held.Sum(), -0.05, 0.05);
    }

    [Fact]
    public void The_count_and_the_finding_must_not_depend_on_the_number_of_workers()
    {
        var scenario = Small();

        // Without the reduction: with it, which of two schedules that meet at one state goes on
        // depends on which worker gets there first.
        var one = new SystematicExplorer(scenario, Variant.Mainline, bound: 1, workers: 1) { Reduction = false }.Explore();
        var two = new SystematicExplorer(scenario, Variant.Mainline, bound: 1, workers: 2) { Reduction = false }.Explore();

        Assert.Equal(one.Schedules, two.Schedules);
        Assert.Equal(one.ByDelays, two.ByDelays);
    }

    [Fact]
    public void The_reduction_must_cut_schedules_that_meet_a_state_already_reached_and_still_exhaust_the_bound()
    {
        var scenario = Small();
        var full = new SystematicExplorer(scenario, Variant.Mainline, bound: 2, workers: 2) { Reduction = false }.Explore();

        var reduced = new SystematicExplorer(scenario, Variant.Mainline, bound: 2, workers: 1).Explore();

        Assert.True(reduced.Reduced);
        Assert.True(reduced.SleepSets); // both halves of the reduction, by default
        Assert.InRange(reduced.SleptUnrun, 1, reduced.Slept);
        Assert.True(reduced.Exhausted);
        Assert.Null(reduced.Finding);
        Assert.Equal(full.ByDelays[1], reduced.ByDelays[1]); // every one-delay schedule is still started
        Assert.True(reduced.Schedules < full.Schedules, $"{reduced.Schedules} vs {full.Schedules}");
        Assert.True(reduced.Complete * 10 < full.Schedules, $"{reduced.Complete} of {full.Schedules} ran to the end");
        Assert.True(reduced.Complete < reduced.Schedules, $"{reduced.Complete} of {reduced.Schedules} ran to the end");
        Assert.Equal(full.Schedules, full.Complete);
    }

    [Theory]
    [InlineData("gup-fast-no-recheck")]
    [InlineData("gup-fast-no-recheck@linux-6.15")]
    public void The_reduction_must_find_what_the_full_search_finds(string variant)
    {
        var scenario = Scenarios.Shipped("two-pins");

        var full = new SystematicExplorer(scenario, Variants.Parse(variant), bound: 1, workers: 1) { Reduction = false }.Explore();
        var reduced = new SystematicExplorer(scenario, Variants.Parse(variant), bound: 1, workers: 1).Explore();

        Assert.NotNull(full.Finding);
        Assert.NotNull(reduced.Finding);
        Assert.Equal(full.FindingDelays, reduced.FindingDelays); // one worker: the same first schedule
        Assert.Equal(full.Finding!.Violation!.Invariant, reduced.Finding!.Violation!.Invariant);
        Assert.Equal(full.Finding.TraceHash, reduced.Finding.TraceHash);
        Assert.True(reduced.Complete < full.Complete);
    }

    [Fact]
    public void A_race_that_holds_one_chain_of_messages_back_must_be_found_against_last_come_order()
    {
        // two-pins with fewer rounds. no-unmap (truncate does not unmap first) frees the long
        // pin's page when the long DIO pins it after the truncate's scan: against first-come
        // order that takes more than two delays, against last-come order two.
        var scenario = Scenarios.TwoPinsSmall();
        var variant = Variants.Parse("no-unmap");

        var firstCome = new SystematicExplorer(scenario, variant, bound: 2, workers: 2) { Orders = [DefaultOrder.FirstCome] }
            .Explore();
        var both = new SystematicExplorer(scenario, variant, bound: 2, workers: 2).Explore();

        Assert.True(firstCome.Exhausted);
        Assert.Null(firstCome.Finding);
        Assert.NotNull(both.Finding);
        Assert.Equal(DefaultOrder.LastCome, both.FindingOrder);
        Assert.Equal(2, both.FindingDelays!.Sum(d => d.Position));
        Assert.Equal(InvariantId.S1, both.Finding!.Violation!.Invariant);
        using var again = Runtimes.ForOneThread(RuntimeKind.Deterministic);
        var replayed = again.Run(scenario, new SystematicExplorer(scenario, variant, 2, 1).Settings(both.FindingDelays!, DefaultOrder.LastCome));
        Assert.Equal(both.Finding.TraceHash, replayed.TraceHash);
    }

    [Fact]
    public void Under_fault_injection_the_reduction_must_be_off()
    {
        var explorer = new SystematicExplorer(Small(), Variant.Mainline, bound: 1, workers: 1) { FaultInjection = true };

        Assert.False(explorer.Reduces);
    }

    [Fact]
    public void A_limit_must_stop_the_search_without_calling_it_exhausted()
    {
        var result = new SystematicExplorer(Small(), Variant.Mainline, bound: 2, workers: 2) { MaxSchedules = 50 }.Explore();

        Assert.False(result.Exhausted);
        Assert.NotNull(result.StoppedBy);
        Assert.InRange(result.Schedules, 50, 52); // each worker checks the limit before its next run
    }

    [Fact]
    public void Over_several_seeds_the_search_must_go_depth_by_depth_across_them_and_find_what_one_seed_alone_finds()
    {
        // gup-fast-no-recheck on 6.15 races fsync's punch only with some seeds' random sleeps
        // (docs/exploration.md, "What a schedule is"): seed 1 is clean within one delay.
        var scenario = Scenarios.Shipped("fsync-vs-punch");
        var variant = Variants.Parse("gup-fast-no-recheck@linux-6.15");
        SystematicExplorer Search(ulong seed, long seeds) => new(scenario, variant, bound: 1, workers: 2)
        {
            Seed = seed,
            SeedCount = seeds,
        };

        var result = Search(1, 12).Explore();

        Assert.NotNull(result.Finding);
        Assert.False(result.Exhausted);
        var seed = result.FindingSeed;
        Assert.InRange(seed, 2UL, 12UL);
        Assert.Equal(1, result.FindingDelays!.Sum(d => d.Position));
        // Every seed's default schedules (both orders) ran before any schedule with a delay.
        Assert.Equal(2 * 12, result.ByDelays[0]);
        Assert.Equal(12, result.SeedsSearched);
        // The seeds before it are clean within the bound, and the seed alone finds the same schedule.
        var before = Search(1, (long)seed - 1).Explore();
        Assert.True(before.Exhausted, $"seeds 1..{seed - 1}: {before.Finding?.Violation}");
        var alone = Search(seed, 1).Explore();
        Assert.Equal(result.FindingDelays, alone.FindingDelays);
        Assert.Equal(result.FindingOrder, alone.FindingOrder);
        Assert.Equal(result.Finding!.TraceHash, alone.Finding!.TraceHash);
        using var runtime = Runtimes.ForOneThread(RuntimeKind.Deterministic);
        var again = runtime.Run(scenario, Search(1, 12).Settings(result.FindingDelays!, result.FindingOrder, seed));
        Assert.Equal(result.Finding.TraceHash, again.TraceHash);
    }

    [Fact]
    public void A_clean_search_over_several_seeds_must_count_each_seeds_whole_search()
    {
        var scenario = Small();
        SystematicExplorer Search(ulong seed, long seeds) =>
            new(scenario, Variant.Mainline, bound: 1, workers: 1) { Seed = seed, SeedCount = seeds, Reduction = false };

        var three = Search(5, 3).Explore();

        Assert.True(three.Exhausted);
        Assert.Equal(3, three.SeedsSearched);
        var each = new[] { Search(5, 1).Explore(), Search(6, 1).Explore(), Search(7, 1).Explore() };
        Assert.Equal(each.Sum(r => r.Schedules), three.Schedules);
        Assert.Equal(each.Sum(r => r.ByDelays[1]), three.ByDelays[1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => Search(ulong.MaxValue, 2).Explore());
    }

    [Fact]
    public void A_finding_must_come_with_the_fewest_delays_and_replay_from_its_delays()
    {
        var scenario = Scenarios.Shipped("generic-503-truncate");
        var explorer = new SystematicExplorer(scenario, Variants.Parse("no-break"), bound: 2, workers: 2);

        var result = explorer.Explore();

        Assert.False(result.Exhausted);
        Assert.NotNull(result.Finding);
        Assert.Equal(InvariantId.S1, result.Finding!.Violation!.Invariant);
        Assert.Empty(result.FindingDelays!); // no-break breaks S1 on the default schedule already
        Assert.Equal(1, result.Schedules);
        using var runtime = Runtimes.ForOneThread(RuntimeKind.Deterministic);
        var again = runtime.Run(scenario, explorer.Settings(result.FindingDelays!));
        Assert.Equal(result.Finding.TraceHash, again.TraceHash);
    }
}

/// <summary>The state fingerprint the reduction compares.</summary>
public sealed class StateFingerprintSpecs
{
    [Fact]
    public void Deliveries_to_different_actors_must_commute_and_each_actors_own_order_must_not()
    {
        StateFingerprint Of(params (int To, int From, Type Type)[] deliveries)
        {
            var f = new StateFingerprint();
            foreach (var (to, from, type) in deliveries)
            {
                f.Delivered(to, from, type, now: 5);
            }
            return f;
        }

        var ab = Of((1, 0, typeof(string)), (2, 0, typeof(int)));
        var ba = Of((2, 0, typeof(int)), (1, 0, typeof(string)));
        var twoToOne = Of((1, 0, typeof(string)), (1, 3, typeof(int)));
        var twoToOneSwapped = Of((1, 3, typeof(int)), (1, 0, typeof(string)));

        Assert.Equal(ab.Key(10, 7, []), ba.Key(10, 7, []));
        Assert.NotEqual(twoToOne.Key(10, 7, []), twoToOneSwapped.Key(10, 7, []));
        Assert.NotEqual(ab.Key(10, 7, []), ab.Key(11, 7, [])); // the clock
        Assert.NotEqual(ab.Key(10, 7, []), ab.Key(10, 8, [])); // the timers
    }

    [Fact]
    public void Between_deliveries_the_ready_actors_first_come_order_and_their_waiting_messages_must_count()
    {
        var f = new StateFingerprint();
        f.Delivered(1, 0, typeof(string), now: 5);
        ulong Key(params WaitingActor[] ready) => f.Key(10, 7, ready);
        static WaitingActor A(int ordinal, long readyOrder, params int[] senders) => new(ordinal, readyOrder, senders);

        // The same actors ready in the same first-come order, whatever the ready list's own order
        // and whatever their order numbers: the default schedule goes on the same way.
        Assert.Equal(Key(A(2, 4, 1), A(3, 9, 1)), Key(A(3, 12, 1), A(2, 11, 1)));
        // Another first-come order: the default schedule would run them the other way round.
        Assert.NotEqual(Key(A(2, 4, 1), A(3, 9, 1)), Key(A(2, 9, 1), A(3, 4, 1)));
        // The same actor ready with other messages waiting, or the same ones in another order.
        Assert.NotEqual(Key(A(2, 4, 1, 3)), Key(A(2, 4, 1)));
        Assert.NotEqual(Key(A(2, 4, 1, 3)), Key(A(2, 4, 3, 1)));
        // Someone ready is not the quiescent state with the same histories.
        Assert.NotEqual(Key(A(2, 4, 1)), Key());
    }
}

/// <summary>explore --strategy systematic on the command line.</summary>
public sealed class SystematicCliSpecs : CliHarness
{
    [Fact]
    public void A_clean_search_must_say_it_is_exhausted_and_the_report_must_say_so()
    {
        var scenario = WriteFile("small.json",
            File.ReadAllText(Shipped("generic-503-punch")).Replace("\"repeat\": 10", "\"repeat\": 1"));
        var report = PathIn("out.json");

        var r = Invoke("explore", scenario, "--strategy", "systematic", "--bound", "1", "--report", report);

        Assert.True(r.Code == 0, r.ToString());
        var m = System.Text.RegularExpressions.Regex.Match(r.Out, @"exhausted: (\d+) schedules \((\d+) after reduction\) within bound 1: clean");
        Assert.True(m.Success, r.Out);
        Assert.True(long.Parse(m.Groups[2].Value) < long.Parse(m.Groups[1].Value), r.Out);
        var json = ReadReport(report);
        Assert.True((bool)json["exhausted"]!);
        Assert.Equal("systematic", (string?)json["strategy"]);
        Assert.Equal(1, (int)json["explore"]!["bound"]!);
        Assert.True((bool)json["explore"]!["reduction"]!);

        var full = Invoke("explore", scenario, "--strategy", "systematic", "--bound", "1", "--no-reduction");
        Assert.Matches(@"exhausted: (\d+) schedules \(\1 after reduction\) within bound 1: clean", full.Out);
    }

    [Fact]
    public void A_finding_must_be_a_replayable_report()
    {
        var report = PathIn("found.json");

        var r = Invoke("explore", Shipped("generic-503-truncate"), "--strategy", "systematic", "--bound", "1",
            "--variant", "no-break", "--report", report, "--no-shrink");

        Assert.True(r.Code == 1, r.ToString());
        Assert.Contains("first violating schedule: 0 delay(s)", r.Out);
        var replay = Invoke("replay", report);
        Assert.True(replay.Code == 1, replay.ToString());
        Assert.Contains("replay: identical to the recorded run", replay.Out);
    }

    [Theory]
    [InlineData("--bound", "99", "--bound must be between 0 and 16")]
    [InlineData("--max-schedules", "0", "--max-schedules must be at least 1")]
    [InlineData("--seeds", "0", "--seeds must be at least 1, not 0")]
    [InlineData("--pct-depth", "2", "--pct-depth and --pct-steps are for --strategy pct")]
    [InlineData("--order", "fifo", "--order must be first-come, last-come or both, not 'fifo'")]
    public void Bad_systematic_flags_must_exit_2_and_write_nothing(string flag, string value, string message)
    {
        var report = PathIn("bad.json");

        var r = Invoke("explore", Shipped("generic-503-truncate"), "--strategy", "systematic", flag, value, "--report", report);

        Assert.True(r.Code == 2, r.ToString());
        Assert.Contains(message, r.Err);
        Assert.False(File.Exists(report));
    }

    [Fact]
    public void Several_seeds_must_each_be_searched_and_a_finding_must_replay_with_its_own_seed()
    {
        var scenario = WriteFile("small.json",
            File.ReadAllText(Shipped("generic-503-punch")).Replace("\"repeat\": 10", "\"repeat\": 1"));
        var clean = PathIn("clean.json");
        var r = Invoke("explore", scenario, "--strategy", "systematic", "--bound", "1", "--seed", "3", "--seeds", "2",
            "--report", clean);
        Assert.True(r.Code == 0, r.ToString());
        Assert.Matches(@"exhausted: \d+ schedules \(\d+ after reduction\) within bound 1 for seeds 3 to 4: clean", r.Out);
        var json = ReadReport(clean);
        Assert.Equal(2, (int)json["explore"]!["seeds"]!);
        Assert.Equal(2, (int)json["explore"]!["seedsSearched"]!);

        var found = PathIn("found.json");
        var f = Invoke("explore", Shipped("fsync-vs-punch"), "--variant", "gup-fast-no-recheck@linux-6.15",
            "--strategy", "systematic", "--bound", "1", "--seeds", "12", "--report", found, "--no-shrink");
        Assert.True(f.Code == 1, f.ToString());
        var m = System.Text.RegularExpressions.Regex.Match(f.Out, @"first violating schedule: 1 delay\(s\) against \S+ order \(.*\) with seed (\d+),");
        Assert.True(m.Success, f.Out);
        var report = ReadReport(found);
        Assert.Equal(ulong.Parse(m.Groups[1].Value), (ulong)report["explore"]!["findingSeed"]!);
        var replay = Invoke("replay", found);
        Assert.True(replay.Code == 1, replay.ToString());
        Assert.Contains($"seed {m.Groups[1].Value}", replay.Out);
        Assert.Contains("replay: identical to the recorded run", replay.Out);

        var past = Invoke("explore", scenario, "--strategy", "systematic", "--seed", ulong.MaxValue.ToString(), "--seeds", "2");
        Assert.True(past.Code == 2, past.ToString());
        Assert.Contains("go past the last seed", past.Err);
    }

    [Theory]
    [InlineData("--bound", "2")]
    [InlineData("--order", "last-come")]
    [InlineData("--no-sleep-sets", null)]
    public void A_systematic_flag_without_the_systematic_strategy_must_exit_2(string flag, string? value)
    {
        string[] args = ["explore", Shipped("generic-503-truncate"), "--seeds", "3", flag];
        var r = Invoke(value is null ? args : [.. args, value]);

        Assert.True(r.Code == 2, r.ToString());
        Assert.Contains("--bound, --max-schedules, --order, --no-reduction and --no-sleep-sets are for --strategy systematic", r.Err);
    }

    [Fact]
    public void Sampling_strategies_must_still_need_seeds()
    {
        var r = Invoke("explore", Shipped("generic-503-truncate"), "--strategy", "pct");

        Assert.True(r.Code == 2, r.ToString());
        Assert.Contains("--seeds is needed with --strategy pct", r.Err);
    }
}
