using DaxSim.Host.Checking;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Tests.Cli;
using DaxSim.Tests.Runtime;
using DaxSim.Tests.Support;
using Newtonsoft.Json.Linq;
using Xunit;

namespace DaxSim.Tests.Explore;

/// <summary>A ready actor as pos sees it: its next delivery's sender and how many it has taken.</summary>
internal sealed record FakeDelivery(int Ordinal, string Name, int SenderOrdinal, long Delivered) : ISchedulable
{
    public static FakeDelivery Of(int ordinal, int sender, long delivered = 0) => new(ordinal, $"a{ordinal}", sender, delivered);
}

/// <summary>POS on its own, driven with made-up ready lists.</summary>
public sealed class PosStrategyUnitSpecs
{
    [Fact]
    public void The_delivery_with_the_highest_priority_must_run()
    {
        // Without races (the paper's basic variant), priorities are only drawn for new deliveries,
        // and the chosen one always has the highest.
        var plain = new PosStrategy(9, races: false);
        var list = Enumerable.Range(0, 8).Select(o => (ISchedulable)FakeDelivery.Of(o, -1)).ToList();
        for (var step = 0; step < 50; step++)
        {
            var chosen = plain.Choose(list);
            var top = list.Max(x => plain.PriorityOf(x.Ordinal));
            Assert.Equal(top, plain.PriorityOf(list[chosen].Ordinal));
            // It ran: its next delivery is a new one.
            var a = (FakeDelivery)list[chosen];
            list[chosen] = a with { Delivered = a.Delivered + 1 };
        }
        Assert.Equal(0, plain.Redrawn);

        // With races, the choice is made before any re-draw: the chosen one had the highest.
        var pos = new PosStrategy(7);
        var rng = new Rng(3);
        var delivered = new long[12];
        for (var step = 0; step < 300; step++)
        {
            var ready = Enumerable.Range(0, 12).Where(_ => rng.Chance(0.6)).Append(11).Distinct()
                .Select(o => (ISchedulable)FakeDelivery.Of(o, rng.Next(13) - 1, delivered[o])).ToList();
            var chosen = pos.Choose(ready);
            var c = ready[chosen].Ordinal;
            // Nothing ready beats it unless it was re-drawn after the choice (it raced with it).
            var s = pos.SenderOf(c);
            foreach (var a in ready.Where(r => r.Ordinal != c))
            {
                var t = pos.SenderOf(a.Ordinal);
                var raced = (s >= 0 && (a.Ordinal == s || t == s)) || t == c;
                Assert.True(raced || pos.PriorityOf(a.Ordinal) < pos.PriorityOf(c));
            }
            delivered[c]++;
        }
    }

    [Fact]
    public void Deliveries_that_share_an_actor_with_the_chosen_one_must_draw_new_priorities_and_the_others_keep_theirs()
    {
        for (ulong seed = 1; seed <= 40; seed++)
        {
            var pos = new PosStrategy(seed);
            // a0..a7 with assorted senders (-1: a timer).
            int[] senders = [5, 5, -1, 0, 9, 2, 0, 7];
            var ready = senders.Select((s, o) => (ISchedulable)FakeDelivery.Of(o, s)).ToList();
            var first = pos.Choose(ready);
            // The chosen actor ran; every other keeps its pending delivery.
            var x = ready[first].Ordinal;
            ready[first] = FakeDelivery.Of(x, senders[x], 1);
            var before = ready.Select(a => pos.PriorityOf(a.Ordinal)).ToArray();
            var redrawn = pos.Redrawn;
            var chosen = pos.Choose(ready);
            var c = ready[chosen].Ordinal;
            var s = pos.SenderOf(c);
            var expected = 0;
            for (var i = 0; i < ready.Count; i++)
            {
                var o = ready[i].Ordinal;
                if (o == c || o == x)
                {
                    continue; // the chosen one, and x's new delivery (drawn in this call)
                }
                var t = pos.SenderOf(o);
                var races = (s >= 0 && (o == s || t == s)) || t == c;
                if (races)
                {
                    expected++;
                    Assert.NotEqual(before[i], pos.PriorityOf(o));
                }
                else
                {
                    Assert.Equal(before[i], pos.PriorityOf(o));
                }
            }
            // x's new delivery may race too: count it from the strategy's own record.
            var xRaces = c != x && ((s >= 0 && (x == s || pos.SenderOf(x) == s)) || pos.SenderOf(x) == c);
            Assert.Equal(expected + (xRaces ? 1 : 0), pos.Redrawn - redrawn);
        }
    }

    [Fact]
    public void The_same_seed_must_give_the_same_choices_and_other_seeds_others()
    {
        int[] Run(ulong seed)
        {
            var pos = new PosStrategy(seed);
            var delivered = new long[8];
            var choices = new List<int>();
            for (var step = 0; step < 60; step++)
            {
                var ready = Enumerable.Range(0, 8).Select(o => (ISchedulable)FakeDelivery.Of(o, (o + 3) % 9 - 1, delivered[o])).ToList();
                var chosen = pos.Choose(ready);
                delivered[ready[chosen].Ordinal]++;
                choices.Add(ready[chosen].Ordinal);
            }
            return [.. choices];
        }
        Assert.Equal(Run(42), Run(42));
        Assert.True(Enumerable.Range(1, 20).Select(s => string.Join(",", Run((ulong)s))).Distinct().Count() >= 15);
    }

    [Fact]
    public void Pos_must_be_a_strategy_the_command_line_knows()
    {
        Assert.Contains(Strategies.Pos, Strategies.Names);
        Assert.Equal("pos", Strategies.Create("pos", 1, 0, 1).Name);
        Assert.IsType<PosStrategy>(Strategies.Create(Strategies.Pos, 1, 0, 1));
    }
}

/// <summary>POS on the deterministic runtime and the command line.</summary>
public sealed class PosStrategySpecs(DeterministicRuntimeFixture fixture) : IClassFixture<DeterministicRuntimeFixture>
{
    private readonly DeterministicRuntime _runtime = fixture.Runtime;

    private RunResult Run(string scenario, ulong seed, string strategy = Strategies.Pos, Variant? variant = null,
        bool trace = false) =>
        _runtime.Run(Scenarios.Shipped(scenario), new RunSettings
        {
            Seed = seed, Variant = variant ?? Variant.Mainline, RecordTrace = trace, RecordOps = false,
            Deterministic = new() { Strategy = strategy },
        });

    [Fact]
    public void The_same_seed_must_give_the_same_trace_under_pos_and_other_seeds_other_traces()
    {
        var first = Run("generic-503-truncate", 17, trace: true);
        Run("generic-503-truncate", 18);
        var second = Run("generic-503-truncate", 17, trace: true);
        using var fresh = new DeterministicRuntime();
        var third = fresh.Run(Scenarios.Shipped("generic-503-truncate"),
            new RunSettings { Seed = 17, RecordTrace = true, Deterministic = new() { Strategy = Strategies.Pos } });

        Assert.Equal("pos", first.Strategy);
        Assert.Null(first.PctDepth);
        Assert.Equal(first.TraceHash, second.TraceHash);
        Assert.Equal(first.TraceText, third.TraceText);
        Assert.Equal(first.TraceHash, third.TraceHash);
        var hashes = Enumerable.Range(1, 20).Select(s => Run("generic-503-truncate", (ulong)s).TraceHash).ToHashSet();
        Assert.True(hashes.Count >= 15, $"only {hashes.Count} distinct pos traces in 20 seeds");
        var differ = Enumerable.Range(1, 10).Count(s =>
            Run("generic-503-truncate", (ulong)s).TraceHash != Run("generic-503-truncate", (ulong)s, Strategies.Random).TraceHash);
        Assert.True(differ >= 8, $"only {differ} of 10 seeds differ from random");
    }

    [Fact]
    public void In_a_real_run_pos_must_see_senders_and_redraw_racing_deliveries()
    {
        PosStrategy? pos = null;
        RecordingStrategy? recorder = null;
        var result = _runtime.Run(Scenarios.Shipped("two-pins"), new RunSettings
        {
            Seed = 4,
            Deterministic = new()
            {
                Strategy = Strategies.Pos,
                WrapStrategy = s => recorder = new RecordingStrategy(pos = (PosStrategy)s),
            },
        });
        Assert.NotNull(pos);
        Assert.Equal(result.Schedule, recorder!.Steps.Select(s => s.Chosen).ToList());
        Assert.True(pos!.Redrawn > 0, "no delivery ever raced: the senders of the ready actors are not seen");
        // Every sender recorded is an actor of the run (or -1).
        var ordinals = recorder.Steps.SelectMany(s => s.Ready).ToHashSet();
        Assert.All(ordinals, o => Assert.True(pos.SenderOf(o) >= -1));
        Assert.Contains(ordinals, o => pos.SenderOf(o) >= 0);
    }

    [Fact]
    public void Pos_must_find_retry_in_callback_on_two_pins_in_fewer_seeds_than_random_and_pct()
    {
        // The bench's base seeds (bench/DaxSim.Bench/Variants.cs): seeds to the first S1 from each.
        ulong[] bases = [1, 100_001, 200_001, 300_001, 400_001];
        const int budget = 200;
        long SeedsToFinding(string strategy, ulong first)
        {
            for (var i = 0; i < budget; i++)
            {
                if (Run("two-pins", first + (ulong)i, strategy, Variant.RetryInCallback).Violation is { Invariant: InvariantId.S1 })
                {
                    return i + 1;
                }
            }
            return budget + 1;
        }
        var pos = bases.Select(b => SeedsToFinding(Strategies.Pos, b)).ToList();
        var random = bases.Select(b => SeedsToFinding(Strategies.Random, b)).ToList();
        var pct = bases.Select(b => SeedsToFinding(Strategies.Pct, b)).ToList();
        var says = $"pos [{string.Join(",", pos)}], random [{string.Join(",", random)}], pct [{string.Join(",", pct)}]";
        Assert.All(pos, n => Assert.True(n <= budget, says));
        Assert.True(pos.Sum() < random.Sum(), says);
        Assert.True(pos.Sum() < pct.Sum(), says);
        Assert.True(Median(pos) <= Median(random), says);
    }

    private static long Median(List<long> counts) => counts.Order().ElementAt(counts.Count / 2);
}

/// <summary>pos on the command line: run, explore, replay.</summary>
public sealed class PosCliSpecs : CliHarness
{
    [Fact]
    public void A_pos_run_must_record_its_strategy_and_replay_identically_with_or_without_its_schedule()
    {
        var report = PathIn("pos-run.json");
        var r = Invoke("run", Shipped("two-pins"), "--runtime", "deterministic", "--strategy", "pos",
            "--seed", "8", "--report", report);
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("strategy pos", r.Out);
        Assert.Contains("pos: a random priority per delivery", r.Out);
        var json = ReadReport(report);
        Assert.Equal("pos", (string?)json["strategy"]);
        Assert.Equal("pos", (string?)json["replay"]!["strategy"]);
        Assert.Null(json["replay"]!["pct"]);

        var replay = Invoke("replay", report);
        Assert.True(replay.Code == 0, replay.ToString());
        Assert.Contains("replay: identical to the recorded run", replay.Out);

        // Without the recorded choices, the seed alone gives the same run: pos is a function of it.
        json["replay"]!["schedule"] = null;
        var bare = WriteFile("bare.json", json.ToString());
        Assert.Contains("replay: identical to the recorded run", Invoke("replay", bare).Out);
    }

    [Fact]
    public void A_pos_finding_from_explore_must_replay_identically()
    {
        var report = PathIn("pos-found.json");
        var r = Invoke("explore", Shipped("two-pins"), "--seeds", "100", "--strategy", "pos",
            "--variant", "retry-in-callback", "--workers", "2", "--report", report, "--no-shrink");
        Assert.True(r.Code == 1, r.ToString());
        Assert.Contains("first violating seed: ", r.Out);
        var json = ReadReport(report);
        Assert.Equal("pos", (string?)json["replay"]!["strategy"]);
        Assert.Equal("S1", (string?)json["violation"]!["invariant"]);

        var replay = Invoke("replay", report);
        Assert.True(replay.Code == 1, replay.ToString());
        Assert.Contains("replay: identical to the recorded run", replay.Out);
    }

    [Fact]
    public void Pos_on_the_local_runtime_must_be_refused_as_bad_usage()
    {
        var report = PathIn("local.json");
        AssertUsageError(Invoke("run", Shipped("two-pins"), "--runtime", "local", "--strategy", "pos", "--report", report),
            report, "--strategy pos", "--runtime deterministic");
    }
}
