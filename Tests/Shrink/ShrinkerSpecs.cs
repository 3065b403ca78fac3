using DaxSim.Host.Checking;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Runs;
using DaxSim.Host.Shrink;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using DaxSim.Tests.Runtime;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Shrink;

public sealed class ShrinkerSpecs(DeterministicRuntimeFixture fixture) : IClassFixture<DeterministicRuntimeFixture>
{
    private readonly DeterministicRuntime _runtime = fixture.Runtime;

    private (RunSettings Settings, RunResult Finding) FirstFinding(Scenario scenario, Variant variant)
    {
        for (ulong seed = 1; seed <= 300; seed++)
        {
            var settings = new RunSettings { Seed = seed, Variant = variant };
            var result = _runtime.Run(scenario, settings);
            if (result.Violation is not null)
            {
                return (settings, result);
            }
        }
        throw new InvalidOperationException($"no finding for {variant} on {scenario.Name}");
    }


    [Theory]
    [InlineData("no-break", "generic-503-truncate")]
    [InlineData("seed-v7", "two-pins")]
    [InlineData("hold-mmaplock", "dio-vs-zero")]
    [InlineData("drop-iolock", "steady-io")]
    public void A_finding_must_shrink_to_a_smaller_case_that_breaks_the_same_invariant_and_replays(string variantName,
        string name)
    {
        var variant = Variants.Parse(variantName);
        var scenario = Scenarios.Shipped(name);
        var (settings, finding) = FirstFinding(scenario, variant);

        var shrunk = new Shrinker(_runtime.Run).Shrink(scenario, settings, finding);

        Assert.Equal(finding.Violation!.Invariant, shrunk.Run.Violation?.Invariant);
        Assert.True(shrunk.Scenario.OperationCount < scenario.OperationCount, $"{shrunk.Scenario.OperationCount} steps, was {scenario.OperationCount}");
        Assert.True(shrunk.Run.Deliveries <= finding.Deliveries, $"{shrunk.Run.Deliveries} deliveries, was {finding.Deliveries}");
        Assert.True(shrunk.Deviations <= shrunk.OriginalDeviations, $"{shrunk.Deviations} deviations, was {shrunk.OriginalDeviations}");
        // The shrunk scenario is a scenario file, and its schedule replays it exactly.
        var reloaded = ScenarioLoader.Parse(shrunk.Scenario.Text!, "shrunk.json");
        var replay = _runtime.Run(reloaded, new RunSettings
        {
            Seed = shrunk.Run.Seed, Variant = variant, Deterministic = new() { Schedule = shrunk.Run.Schedule },
        });
        Assert.Equal(shrunk.Run.TraceHash, replay.TraceHash);
        Assert.Equal(shrunk.Run.Violation!.Invariant, replay.Violation?.Invariant);
    }

    [Fact]
    public void A_candidate_that_breaks_another_invariant_must_be_rejected()
    {
        // A stand-in runtime: the finding's own scenario and schedule break S3; every smaller
        // scenario, and the finding's scenario on any other schedule, breaks L1 instead.
        var scenario = Scenarios.Shipped("two-pins");
        int[] schedule = [1, 2, 1, 2];
        var runs = 0;
        RunResult Run(Scenario s, RunSettings settings)
        {
            runs++;
            var same = s.Text == scenario.Text && (settings.Deterministic.Schedule is not { } choices || choices.SequenceEqual(schedule));
            var invariant = same ? InvariantId.S3 : InvariantId.L1;
            return new RunResult
            {
                Scenario = s.Name, Runtime = RuntimeKind.Deterministic, Seed = settings.Seed, Variant = settings.Variant,
                Strategy = "random", Verdict = invariant == InvariantId.S3 ? Verdict.Safety : Verdict.Liveness,
                Violation = new Violation(invariant, invariant == InvariantId.S3 ? Verdict.Safety : Verdict.Liveness, 0, "stand-in", [], []),
                Ops = [], Schedule = same ? schedule : [0, 0, 0, 0],
            };
        }
        var settings = new RunSettings { Seed = 5 };

        var shrunk = new Shrinker(Run) { SeedsPerCandidate = 2 }.Shrink(scenario, settings, Run(scenario, settings));

        Assert.True(runs > 3, $"only {runs} runs: the shrinker tried no candidate");
        Assert.Equal(0, shrunk.Accepted);
        Assert.Same(scenario, shrunk.Scenario);
        Assert.Equal(schedule, shrunk.Run.Schedule);
        Assert.Equal(InvariantId.S3, shrunk.Run.Violation?.Invariant);
    }
}
