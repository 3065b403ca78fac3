using DaxSim.Host.Checking;
using DaxSim.Host.Runs;
using DaxSim.Host.Shrink;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using Xunit;

namespace DaxSim.Tests.Shrink;

/// <summary>
/// Every cut the shrinker tries makes the scenario smaller, so that a finding that every cut
/// reproduces shrinks to the smallest scenario and the shrinker stops there, long before its
/// time budget. Against a stand-in runtime that breaks S1 on any scenario. Written for the
/// mutant bench/mutants/shrinker-offers-same-repeat.patch: offering "repeat": 1 again as a
/// cut of "repeat": 1 is accepted for ever, and ShrinkerSpecs' real findings still passed,
/// only after spending the whole budget.
/// </summary>
public sealed class ShrinkerProgressSpecs
{
    private static readonly Scenario Scenario = ScenarioLoader.Parse("""
        {
          "name": "progress",
          "files": [ { "name": "dax", "pages": 4 }, { "name": "src", "dax": false, "pages": 4 } ],
          "tasks": [
            { "name": "a", "repeat": 3, "steps": [
              { "op": "mmap", "file": "dax", "pages": "0-3" },
              { "op": "touch", "file": "dax", "pages": "0-3", "repeat": 2 } ] }
          ]
        }
        """, "progress.json");

    [Fact]
    public void Each_candidate_must_be_a_new_smaller_scenario_and_the_shrink_must_end_at_the_smallest_within_its_budget()
    {
        var tried = new List<string>();
        RunResult Run(Scenario s, RunSettings settings)
        {
            if (settings.Deterministic.Schedule is null)
            {
                tried.Add(s.Text!); // a candidate (the final replay runs with its schedule)
            }
            return new RunResult
            {
                Scenario = s.Name, Runtime = RuntimeKind.Deterministic, Seed = settings.Seed, Variant = settings.Variant,
                Strategy = "random", Verdict = Verdict.Safety,
                Violation = new Violation(InvariantId.S1, Verdict.Safety, 0, "stand-in", [], []),
                Ops = [], Schedule = [],
            };
        }
        var settings = new RunSettings { Seed = 1 };
        var finding = Run(Scenario, settings with { Deterministic = new() { Schedule = [] } });
        var shrinker = new Shrinker(Run) { SeedsPerCandidate = 1, Budget = TimeSpan.FromSeconds(10) };

        var shrunk = shrinker.Shrink(Scenario, settings, finding);

        Assert.False(shrunk.OutOfTime, $"out of time after {shrunk.Candidates} candidates, {shrunk.Accepted} accepted");
        Assert.Equal(tried.Count, tried.Distinct().Count());
        Assert.Equal(tried.Count, shrunk.Accepted);
        Assert.Equal(1, shrunk.Scenario.OperationCount);
        var step = Assert.Single(Assert.Single(shrunk.Scenario.Tasks).Steps);
        Assert.Equal(1, step.Repeat);
    }
}
