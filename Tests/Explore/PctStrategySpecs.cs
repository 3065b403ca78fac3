using DaxSim.Host.Deterministic;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Tests.Runtime;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Explore;

/// <summary>An actor as a strategy sees it, for driving a strategy without a runtime.</summary>
internal sealed record FakeActor(int Ordinal, string Name) : ISchedulable;

/// <summary>Wraps a run's strategy and records, for every choice, the ordinals that were ready and the one chosen.</summary>
internal sealed class RecordingStrategy(IScheduleStrategy inner) : IScheduleStrategy
{
    public IScheduleStrategy Inner { get; } = inner;

    public List<(int[] Ready, int Chosen)> Steps { get; } = [];

    public string Name => Inner.Name;

    public int Choose(IReadOnlyList<ISchedulable> ready)
    {
        var choice = Inner.Choose(ready);
        Steps.Add((ready.Select(r => r.Ordinal).ToArray(), choice));
        return choice;
    }
}

/// <summary>PCT on its own, driven with made-up ready lists.</summary>
public sealed class PctStrategyUnitSpecs
{
    private static List<ISchedulable> Actors(params int[] ordinals) =>
        ordinals.Select(o => (ISchedulable)new FakeActor(o, $"a{o}")).ToList();

    [Fact]
    public void With_depth_1_it_must_always_run_the_highest_priority_ready_actor()
    {
        var pct = new PctStrategy(seed: 11, depth: 1, steps: 1000);
        var rng = new Rng(5);
        for (var step = 0; step < 500; step++)
        {
            var ready = Actors(Enumerable.Range(0, 12).Where(_ => rng.Chance(0.5)).DefaultIfEmpty(3).Append(7).Distinct().ToArray());
            var chosen = pct.Choose(ready);
            var ranks = ready.Select(r => pct.RankOf(r.Ordinal)).ToList();
            Assert.Equal(ranks.Min(), ranks[chosen]);
        }
        Assert.Empty(pct.ChangePoints);
        // Every actor seen has its own rank.
        var all = Enumerable.Range(0, 12).Select(pct.RankOf).Where(r => r >= 0).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
    }

    [Fact]
    public void Each_change_point_must_move_the_actor_about_to_run_below_every_other_actor()
    {
        var pct = new PctStrategy(seed: 3, depth: 4, steps: 20);
        Assert.Equal(3, pct.ChangePoints.Count);
        Assert.All(pct.ChangePoints, c => Assert.InRange(c, 1, 20));
        Assert.Equal(pct.ChangePoints.Distinct().Count(), pct.ChangePoints.Count);

        var ready = Actors(0, 1, 2, 3, 4, 5);
        for (long step = 1; step <= 20; step++)
        {
            // Without a change point here, the highest-priority actor is the one to run.
            var top = ready.MinBy(r => pct.RankOf(r.Ordinal) < 0 ? int.MaxValue : pct.RankOf(r.Ordinal))!;
            var chosen = ready[pct.Choose(ready)];
            if (pct.ChangePoints.Contains(step))
            {
                if (step > 1)
                {
                    Assert.NotEqual(top.Ordinal, chosen.Ordinal);
                    Assert.Equal(ready.Count - 1, pct.RankOf(top.Ordinal)); // now the lowest of all
                }
            }
            else if (step > 1)
            {
                Assert.Equal(top.Ordinal, chosen.Ordinal);
            }
            var ranks = ready.Select(r => pct.RankOf(r.Ordinal)).ToList();
            Assert.Equal(ranks.Min(), pct.RankOf(chosen.Ordinal));
        }
    }

    [Fact]
    public void The_same_seed_must_give_the_same_priorities_and_change_points_and_other_seeds_others()
    {
        var ready = Actors(0, 1, 2, 3, 4, 5, 6, 7);
        int[] Run(ulong seed)
        {
            var pct = new PctStrategy(seed, depth: 3, steps: 50);
            return Enumerable.Range(0, 50).Select(_ => ready[pct.Choose(ready)].Ordinal).ToArray();
        }
        Assert.Equal(Run(42), Run(42));
        Assert.True(Enumerable.Range(1, 20).Select(s => string.Join(",", Run((ulong)s))).Distinct().Count() >= 10);
    }

    [Fact]
    public void Bad_parameters_must_be_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PctStrategy(1, 0, 100));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PctStrategy(1, 3, 0));
        Assert.Throws<ArgumentException>(() => Strategies.Create("clairvoyant", 1, 3, 100));
        // More change points than steps: every step is one.
        Assert.Equal([1L, 2L], new PctStrategy(1, 10, 2).ChangePoints);
    }
}

/// <summary>PCT on the deterministic runtime.</summary>
public sealed class PctStrategySpecs(DeterministicRuntimeFixture fixture) : IClassFixture<DeterministicRuntimeFixture>
{
    private readonly DeterministicRuntime _runtime = fixture.Runtime;

    private RunResult Run(string scenario, ulong seed, string strategy, Variant? variant = null,
        bool trace = false) =>
        _runtime.Run(Scenarios.Shipped(scenario),
            new RunSettings
            {
                Seed = seed, Variant = variant ?? Variant.Mainline, RecordTrace = trace,
                Deterministic = new() { Strategy = strategy },
            });

    [Fact]
    public void The_same_seed_must_give_the_same_trace_under_pct()
    {
        var first = Run("generic-503-truncate", 17, Strategies.Pct, trace: true);
        Run("generic-503-truncate", 18, Strategies.Pct);
        var second = Run("generic-503-truncate", 17, Strategies.Pct, trace: true);
        using var fresh = new DeterministicRuntime();
        var third = fresh.Run(Scenarios.Shipped("generic-503-truncate"),
            new RunSettings { Seed = 17, RecordTrace = true, Deterministic = new() { Strategy = Strategies.Pct } });

        Assert.Equal("pct", first.Strategy);
        Assert.Equal(first.TraceText, second.TraceText);
        Assert.Equal(first.TraceText, third.TraceText);
        Assert.Equal(first.TraceHash, third.TraceHash);
        Assert.Equal(first.Schedule, third.Schedule);
        Assert.Equal(PctStrategy.DrawDepth(17), first.PctDepth);
        Assert.True(first.PctSteps > 0);
        Assert.Equal(first.PctSteps, third.PctSteps);
    }

    [Fact]
    public void The_pct_step_range_must_be_the_longest_of_the_probe_runs()
    {
        var scenario = Scenarios.Shipped("generic-503-punch");
        var probes = Enumerable.Range(1, DeterministicRuntime.PctProbeRuns)
            .Select(s => _runtime.Run(scenario, new RunSettings { Seed = (ulong)s, RecordOps = false, RecordSchedule = false }).Choices)
            .ToList();
        Assert.All(probes, c => Assert.True(c > 0));
        Assert.True(probes.Distinct().Count() > 1, "the probes all made as many choices: one would do");
        Assert.Equal(probes.Max(), _runtime.EstimatePctSteps(scenario, Variant.Mainline));
        // The same on a fresh runtime: a function of the scenario and variant, not of what ran before.
        using (var fresh = new DeterministicRuntime())
        {
            Assert.Equal(probes.Max(), fresh.EstimatePctSteps(scenario, Variant.Mainline));
        }
        RecordingStrategy? recorder = null;
        var run = _runtime.Run(scenario, new RunSettings
        {
            Seed = 5, Deterministic = new() { Strategy = Strategies.Pct, WrapStrategy = s => recorder = new RecordingStrategy(s) },
        });
        Assert.Equal(probes.Max(), run.PctSteps);
        Assert.Equal(run.Schedule!.Count, run.Choices);
        var pct = Assert.IsType<PctStrategy>(recorder!.Inner);
        Assert.Equal(probes.Max(), pct.Steps);
        Assert.All(pct.ChangePoints, c => Assert.InRange(c, 1, probes.Max()));
    }

    [Fact]
    public void The_number_of_change_points_must_be_drawn_from_the_seed_between_1_and_10()
    {
        var counts = Enumerable.Range(1, 400).Select(s => PctStrategy.DrawDepth((ulong)s) - 1).ToList();
        Assert.All(counts, c => Assert.InRange(c, 1, PctStrategy.MaxChangePoints));
        Assert.Equal(PctStrategy.MaxChangePoints, counts.Distinct().Count());
        Assert.Equal(10, PctStrategy.MaxChangePoints);
        Assert.Equal(counts.Take(50), Enumerable.Range(1, 50).Select(s => PctStrategy.DrawDepth((ulong)s) - 1));

        // A run without a depth uses the seed's and records it; its strategy has that many change points.
        var scenario = Scenarios.Shipped("generic-503-truncate");
        var depths = new HashSet<int>();
        foreach (var seed in new ulong[] { 1, 2, 3, 4, 5, 6 })
        {
            RecordingStrategy? recorder = null;
            var run = _runtime.Run(scenario, new RunSettings
            {
                Seed = seed, RecordOps = false,
                Deterministic = new() { Strategy = Strategies.Pct, WrapStrategy = s => recorder = new RecordingStrategy(s) },
            });
            var pct = Assert.IsType<PctStrategy>(recorder!.Inner);
            Assert.Equal(PctStrategy.DrawDepth(seed), run.PctDepth);
            Assert.Equal(run.PctDepth, pct.Depth);
            Assert.Equal(pct.Depth - 1, pct.ChangePoints.Count);
            depths.Add(pct.Depth);
            // Given that depth, the same seed makes the same run: what a report records replays it.
            var given = _runtime.Run(scenario, new RunSettings
            {
                Seed = seed, RecordOps = false,
                Deterministic = new() { Strategy = Strategies.Pct, PctDepth = pct.Depth, PctSteps = pct.Steps },
            });
            Assert.Equal(run.TraceHash, given.TraceHash);
        }
        Assert.True(depths.Count > 1, "six seeds drew one depth");
    }

    [Fact]
    public void Pct_must_explore_other_interleavings_than_random_from_the_same_seeds()
    {
        var differ = Enumerable.Range(1, 10)
            .Count(s => Run("generic-503-truncate", (ulong)s, Strategies.Pct).TraceHash !=
                        Run("generic-503-truncate", (ulong)s, Strategies.Random).TraceHash);
        Assert.True(differ >= 8, $"only {differ} of 10 seeds differ");
        var pct = Enumerable.Range(1, 20)
            .Select(s => Run("generic-503-truncate", (ulong)s, Strategies.Pct).TraceHash).ToHashSet();
        Assert.True(pct.Count >= 10, $"only {pct.Count} distinct pct traces in 20 seeds");
    }

    [Fact]
    public void With_depth_1_every_step_of_a_real_run_must_run_the_highest_priority_ready_actor()
    {
        RecordingStrategy? recorder = null;
        var result = _runtime.Run(Scenarios.Shipped("multi-dio-overlap"), new RunSettings
        {
            Seed = 9,
            Deterministic = new()
            {
                Strategy = Strategies.Pct,
                PctDepth = 1,
                WrapStrategy = s => recorder = new RecordingStrategy(s),
            },
        });
        Assert.Equal(Verdict.Clean, result.Verdict);
        var pct = Assert.IsType<PctStrategy>(recorder!.Inner);
        Assert.NotEmpty(recorder.Steps);
        Assert.Equal(result.Schedule, recorder.Steps.Select(s => s.Chosen).ToList());
        // Without change points the relative priorities never change, so the final ranks
        // order every step's ready actors as they were ordered at that step.
        foreach (var (ready, chosen) in recorder.Steps)
        {
            var ranks = ready.Select(pct.RankOf).ToList();
            Assert.All(ranks, r => Assert.True(r >= 0));
            Assert.Equal(ranks.Min(), ranks[chosen]);
        }
    }

    [Fact]
    public void A_pct_finding_must_replay_from_its_recorded_choices()
    {
        var scenario = Scenarios.Shipped("generic-503-truncate");
        var found = Enumerable.Range(1, 300)
            .Select(s => _runtime.Run(scenario, new RunSettings
            {
                Seed = (ulong)s, Variant = Variant.NoUnmap, RecordOps = false, RecordSchedule = false,
                Deterministic = new() { Strategy = Strategies.Pct },
            }))
            .FirstOrDefault(r => r.Violation is not null);
        Assert.NotNull(found);
        var full = Run("generic-503-truncate", found!.Seed, Strategies.Pct, Variant.NoUnmap);
        Assert.Equal(found.TraceHash, full.TraceHash);
        // Another seed, but the recorded choices: the choices decide everything.
        var replayed = _runtime.Run(scenario, new RunSettings
        {
            Seed = 99, Variant = Variant.NoUnmap,
            Deterministic = new() { Strategy = Strategies.Pct, Schedule = full.Schedule, PctSteps = full.PctSteps!.Value },
        });
        Assert.Equal(full.TraceHash, replayed.TraceHash);
        Assert.Equal(full.Violation!.Invariant, replayed.Violation?.Invariant);
    }
}
