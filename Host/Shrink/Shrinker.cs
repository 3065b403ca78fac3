using System.Diagnostics;
using DaxSim.Host.Checking;
using DaxSim.Host.Runs;
using DaxSim.Protocol.Scenarios;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace DaxSim.Host.Shrink;

/// <summary>What shrinking a finding gave.</summary>
public sealed record ShrinkResult(
    Scenario Scenario,
    RunResult Run,
    int Candidates,
    int Accepted,
    int OriginalDeliveries,
    int OriginalDeviations,
    int Deviations,
    TimeSpan Elapsed,
    bool OutOfTime);

/// <summary>
/// Shrinks a finding to a smaller case that still breaks the same invariant. First the
/// scenario: fewer tasks, fewer repeats, fewer steps, smaller page ranges, fewer faults.
/// Each candidate is a valid scenario file, tried with the finding's seed and then a few
/// more seeds, because a smaller scenario makes different scheduling choices. Then the
/// schedule: as many choices as possible are set to 0, the runtime's default choice, so
/// that only the scheduling deviations the bug needs are left. Greedy, first improvement,
/// until nothing more can be removed or the time budget is spent.
/// </summary>
public sealed class Shrinker(Func<Scenario, RunSettings, RunResult> run)
{
    /// <summary>Seeds tried per candidate scenario, after the finding's own.</summary>
    public int SeedsPerCandidate { get; init; } = 24;

    public TimeSpan Budget { get; init; } = TimeSpan.FromSeconds(25);

    public ShrinkResult Shrink(Scenario scenario, RunSettings settings, RunResult finding)
    {
        var invariant = finding.Violation?.Invariant
                        ?? throw new ArgumentException("only a finding with a violation can be shrunk", nameof(finding));
        var clock = Stopwatch.StartNew();
        var candidates = 0;
        var accepted = 0;
        var best = (Scenario: scenario, Settings: settings with { RecordSchedule = true, RecordOps = false }, Run: finding);
        if (best.Run.Schedule is null)
        {
            best.Run = run(scenario, best.Settings);
        }
        var originalDeliveries = (int)best.Run.Deliveries;
        var originalDeviations = Deviations(best.Run.Schedule);

        // 1. The scenario.
        var progress = true;
        while (progress && clock.Elapsed < Budget)
        {
            progress = false;
            foreach (var text in Candidates(best.Scenario))
            {
                if (clock.Elapsed >= Budget)
                {
                    break;
                }
                Scenario smaller;
                try
                {
                    smaller = ScenarioLoader.Parse(text, best.Scenario.Source);
                }
                catch (ScenarioException)
                {
                    continue; // a cut that leaves the scenario invalid (a fault naming a removed task, ...)
                }
                candidates++;
                if (Reproduce(smaller, best.Settings, invariant) is { } found)
                {
                    best = (smaller, found.Settings, found.Run);
                    accepted++;
                    progress = true;
                    break;
                }
            }
        }

        // 2. The schedule: zero out choices, in halving chunks (delta debugging).
        var choices = best.Run.Schedule?.ToArray() ?? [];
        for (var chunk = Math.Max(1, choices.Length / 2); chunk >= 1 && clock.Elapsed < Budget; chunk /= 2)
        {
            for (var start = 0; start < choices.Length && clock.Elapsed < Budget; start += chunk)
            {
                var end = Math.Min(choices.Length, start + chunk);
                if (choices.AsSpan(start, end - start).IndexOfAnyExcept(0) < 0)
                {
                    continue;
                }
                var trial = (int[])choices.Clone();
                Array.Clear(trial, start, end - start);
                candidates++;
                var result = run(best.Scenario, WithSchedule(best.Settings, trial));
                if (result.Violation?.Invariant == invariant)
                {
                    choices = trial;
                    best.Run = result;
                    accepted++;
                }
            }
            if (chunk == 1)
            {
                break;
            }
        }

        // The final run records its whole schedule, so that replay needs nothing else.
        var final = run(best.Scenario, WithSchedule(best.Settings, choices) with { RecordOps = true });
        if (final.Violation?.Invariant != invariant)
        {
            throw new InvalidOperationException("the shrunk finding did not reproduce on its own schedule");
        }
        return new ShrinkResult(best.Scenario, final, candidates, accepted, originalDeliveries, originalDeviations,
            Deviations(final.Schedule), clock.Elapsed, clock.Elapsed >= Budget);
    }

    // The deterministic runtime replays these choices (null: draws its own from the seed).
    private static RunSettings WithSchedule(RunSettings settings, IReadOnlyList<int>? schedule) =>
        settings with { Deterministic = settings.Deterministic with { Schedule = schedule } };

    /// <summary>Scheduling choices other than the default (0).</summary>
    public static int Deviations(IReadOnlyList<int>? schedule) => schedule?.Count(c => c != 0) ?? 0;

    private (RunSettings Settings, RunResult Run)? Reproduce(Scenario scenario, RunSettings settings, InvariantId invariant)
    {
        var seeds = new List<ulong> { settings.Seed };
        for (ulong s = 1; seeds.Count <= SeedsPerCandidate; s++)
        {
            if (s != settings.Seed)
            {
                seeds.Add(s);
            }
        }
        foreach (var seed in seeds)
        {
            var trial = WithSchedule(settings, null) with { Seed = seed };
            var result = run(scenario, trial);
            if (result.Violation?.Invariant == invariant)
            {
                return (trial, result);
            }
        }
        return null;
    }

    // --- candidate scenarios, biggest cuts first ----------------------------------------------

    private static IEnumerable<string> Candidates(Scenario scenario)
    {
        var root = JObject.Parse(scenario.Text ?? throw new ArgumentException("the scenario has no text to shrink"));
        var tasks = (JArray)root["tasks"]!;

        // Whole tasks, and the faults that name them.
        for (var t = 0; t < tasks.Count && tasks.Count > 1; t++)
        {
            yield return Edit(root, r =>
            {
                var list = (JArray)r["tasks"]!;
                var name = (string?)list[t]["name"];
                var process = (string?)list[t]["process"];
                list.RemoveAt(t);
                // A process left without a thread goes too (a process needs one).
                if (process is not null && !list.Any(x => (string?)x["process"] == process) && r["processes"] is JArray processes)
                {
                    foreach (var p in processes.Where(p => (string?)p["name"] == process).ToList())
                    {
                        p.Remove();
                    }
                }
                if (r["faults"] is JArray faults)
                {
                    foreach (var f in faults.Where(f => (string?)f["task"] == name).ToList())
                    {
                        f.Remove();
                    }
                }
            });
        }
        // Faults.
        var faultCount = (root["faults"] as JArray)?.Count ?? 0;
        for (var f = 0; f < faultCount; f++)
        {
            yield return Edit(root, r => ((JArray)r["faults"]!).RemoveAt(f));
        }
        // Task repeats, then steps, then step repeats, then page ranges.
        for (var t = 0; t < tasks.Count; t++)
        {
            foreach (var smaller in SmallerRepeats(tasks[t]))
            {
                yield return Edit(root, r => r["tasks"]![t]!["repeat"] = smaller);
            }
        }
        for (var t = 0; t < tasks.Count; t++)
        {
            var steps = (JArray)tasks[t]["steps"]!;
            for (var s = 0; s < steps.Count && steps.Count > 1; s++)
            {
                yield return Edit(root, r => ((JArray)r["tasks"]![t]!["steps"]!).RemoveAt(s));
            }
        }
        for (var t = 0; t < tasks.Count; t++)
        {
            var steps = (JArray)tasks[t]["steps"]!;
            for (var s = 0; s < steps.Count; s++)
            {
                foreach (var smaller in SmallerRepeats(steps[s]))
                {
                    yield return Edit(root, r => r["tasks"]![t]!["steps"]![s]!["repeat"] = smaller);
                }
                if (steps[s]["pages"] is { Type: JTokenType.String } pages && ParseRange((string)pages!) is var (a, b) && a < b)
                {
                    yield return Edit(root, r => r["tasks"]![t]!["steps"]![s]!["pages"] = Range(a, b - 1));
                    yield return Edit(root, r => r["tasks"]![t]!["steps"]![s]!["pages"] = Range(a + 1, b));
                }
            }
        }
    }

    private static IEnumerable<int> SmallerRepeats(JToken owner)
    {
        if (owner["repeat"] is not { Type: JTokenType.Integer } token)
        {
            yield break;
        }
        var repeat = (int)token;
        var tried = new HashSet<int>();
        foreach (var n in new[] { 1, repeat / 2, repeat - 1 })
        {
            if (n >= 1 && n < repeat && tried.Add(n))
            {
                yield return n;
            }
        }
    }

    private static (int, int)? ParseRange(string text)
    {
        var parts = text.Split('-');
        return parts.Length == 2 && int.TryParse(parts[0], out var a) && int.TryParse(parts[1], out var b) ? (a, b) : null;
    }

    private static string Range(int a, int b) => a == b ? $"{a}" : $"{a}-{b}";

    private static string Edit(JObject root, Action<JObject> edit)
    {
        var copy = (JObject)root.DeepClone();
        edit(copy);
        return copy.ToString(Formatting.Indented);
    }
}
