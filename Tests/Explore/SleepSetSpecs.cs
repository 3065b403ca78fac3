using System.Collections.Concurrent;
using DaxSim.Host.Checking;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Explore;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Explore;

/// <summary>When a delivery put off at a deviation stays asleep over the delivery just taken (SleepSet.StaysAsleep).</summary>
public sealed class SleepSetRuleSpecs
{
    // Actor 1 asleep (joined the ready list at 10), sending to 5; actor 2 taken (joined at 20), sending to 6.
    private static readonly Footprint Asleep = new(1, [5], 0, Events: true, Global: false);

    private static bool Stays(Footprint asleep, Footprint taken, long asleepOrder = 10, long takenOrder = 20,
        int asleepJoins = 0, bool lastCome = false) =>
        SleepSet.StaysAsleep(asleep, asleepOrder, asleepJoins, taken.Actor, taken.Sent, taken.Joins, taken.Events,
            taken.Global, takenOrder, lastCome);

    private static Footprint Taken(int[]? sent = null, int joins = 0, bool events = false, bool global = false, int actor = 2) =>
        new(actor, sent ?? [6], joins, events, global);

    [Fact]
    public void A_delivery_to_another_actor_with_other_receivers_behind_the_sleeper_must_leave_it_asleep()
    {
        Assert.True(Stays(Asleep, Taken()));
    }

    [Fact]
    public void Against_first_come_order_a_delivery_ahead_of_the_sleeper_must_wake_it_since_swapping_them_costs_a_delay()
    {
        Assert.False(Stays(Asleep, Taken(), asleepOrder: 30, takenOrder: 20));
    }

    [Theory]
    [InlineData(new[] { 5 })] // a common receiver: its mailbox order would change
    [InlineData(new[] { 1 })] // a message to the sleeper's own actor
    public void Deliveries_that_send_to_a_common_actor_or_to_each_other_must_wake_it(int[] sent)
    {
        Assert.False(Stays(Asleep, Taken(sent)));
        Assert.False(Stays(Asleep with { Sent = [2] }, Taken())); // the sleeper sends to the taken one's actor
    }

    [Fact]
    public void Two_deliveries_that_both_emit_trace_events_must_not_commute_for_the_checker()
    {
        Assert.False(Stays(Asleep, Taken(events: true)));
        Assert.True(Stays(Asleep with { Events = false }, Taken(events: true)));
    }

    [Fact]
    public void Anything_global_on_either_side_must_wake_it()
    {
        Assert.False(Stays(Asleep, Taken(global: true)));
        Assert.False(Stays(Asleep with { Global = true }, Taken()));
    }

    [Fact]
    public void Two_deliveries_that_both_add_actors_to_the_ready_list_must_wake_it_since_the_order_they_join_in_differs()
    {
        Assert.False(Stays(Asleep, Taken(joins: 1), asleepJoins: 1));
        Assert.True(Stays(Asleep, Taken(joins: 1), asleepJoins: 0));
        Assert.True(Stays(Asleep, Taken(joins: 0), asleepJoins: 2));
    }

    [Theory]
    // Against last-come order a newer actor is ahead; joins go ahead of everyone, so they count.
    [InlineData(30L, 20L, 0, 0, true)] // the sleeper is ahead: -1
    [InlineData(30L, 20L, 1, 0, true)] // ahead, but its join puts the taken one back by one: 0
    [InlineData(30L, 20L, 2, 0, false)] // two joins: +1
    [InlineData(10L, 20L, 0, 0, false)] // the taken one is ahead: +1
    [InlineData(10L, 20L, 0, 2, true)] // ahead, but its two joins put the sleeper back by two: -1
    public void Against_last_come_order_the_cost_of_the_swap_must_count_the_joins(long asleepOrder, long takenOrder,
        int asleepJoins, int takenJoins, bool stays)
    {
        Assert.Equal(stays, Stays(Asleep, Taken(joins: takenJoins), asleepOrder, takenOrder, asleepJoins, lastCome: true));
    }
}

/// <summary>Sleep sets in the systematic search, over real runs.</summary>
public sealed class SleepSetSearchSpecs
{
    private static Scenario Small() => Scenarios.Generic503PunchOneRound();

    private static (SystematicResult Result, HashSet<string> Outcomes) Search(Scenario scenario, Variant variant, int bound,
        bool sleepSets, bool stateCache = false)
    {
        var outcomes = new ConcurrentDictionary<string, byte>();
        var result = new SystematicExplorer(scenario, variant, bound, workers: 2)
        {
            Reduction = sleepSets || stateCache,
            SleepSets = sleepSets,
            StateCache = stateCache,
            CheckSkips = sleepSets && !stateCache,
            Observed = (_, _, run) =>
            {
                if (!run.Pruned)
                {
                    outcomes.TryAdd(FullSearch.Outcome(run), 0);
                }
            },
        }.Explore();
        return (result, outcomes.Keys.ToHashSet());
    }

    [Fact]
    public void Sleep_sets_alone_must_come_to_every_end_state_the_full_search_comes_to_with_fewer_runs()
    {
        var (_, full, schedules) = FullSearch.OneRoundWithin2;
        var everyEnd = schedules.Select(s => s.Outcome).ToHashSet();

        var (slept, ends) = Search(Small(), Variant.Mainline, bound: 2, sleepSets: true);

        Assert.True(full.Exhausted);
        Assert.True(slept.Exhausted);
        Assert.True(slept.SleepSets);
        Assert.False(slept.Reduced);
        Assert.True(everyEnd.Count >= 5, $"{everyEnd.Count} end states");
        Assert.Equal(everyEnd.Order(), ends.Order());
        // Each schedule left unrun was checked to stop at once (CheckSkips); those that would take
        // a sleeping delivery at their deviation are not made at all.
        Assert.True(slept.Schedules <= full.Schedules, $"{slept.Schedules} vs {full.Schedules}");
        Assert.Equal(full.ByDelays[1], slept.ByDelays[1]); // nothing is asleep before a schedule's first delay
        Assert.True(slept.Slept > slept.Schedules / 10, $"{slept.Slept} of {slept.Schedules} cut on a sleeping delivery");
        Assert.True(slept.SleptUnrun > 0);
        Assert.True(slept.Complete < full.Complete, $"{slept.Complete} vs {full.Complete} to the end");
    }

    [Theory]
    [InlineData("no-unmap")]
    public void Sleep_sets_must_find_a_race_with_as_few_delays_as_the_full_search(string variant)
    {
        // two-pins with fewer rounds: the race needs two delays against last-come order.
        var scenario = Scenarios.TwoPinsSmall();

        var (full, _) = Search(scenario, Variants.Parse(variant), bound: 2, sleepSets: false, stateCache: true);
        var (slept, _) = Search(scenario, Variants.Parse(variant), bound: 2, sleepSets: true, stateCache: true);

        Assert.NotNull(full.Finding);
        Assert.NotNull(slept.Finding);
        Assert.Equal(full.FindingOrder, slept.FindingOrder);
        Assert.Equal(full.FindingDelays!.Sum(d => d.Position), slept.FindingDelays!.Sum(d => d.Position));
        Assert.Equal(full.Finding!.Violation!.Invariant, slept.Finding!.Violation!.Invariant);
        Assert.True(slept.Slept > 0);
    }

    [Fact]
    public void Under_fault_injection_sleep_sets_must_be_off()
    {
        var explorer = new SystematicExplorer(Small(), Variant.Mainline, bound: 1, workers: 1) { FaultInjection = true };

        Assert.False(explorer.Sleeps);
    }
}
