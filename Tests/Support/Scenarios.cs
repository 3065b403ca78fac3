using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;

namespace DaxSim.Tests.Support;

/// <summary>Small scenarios built in code, and the shipped ones from scenarios/.</summary>
public static class Scenarios
{
    public static string Directory { get; } = FindScenarios();

    public static IEnumerable<string> ShippedFiles() =>
        System.IO.Directory.GetFiles(Directory, "*.json").OrderBy(f => f, StringComparer.Ordinal);

    public static Scenario Shipped(string name) => ScenarioLoader.LoadFile(Path.Combine(Directory, name + ".json"));

    /// <summary>generic/503 (punch hole) with one round per thread: about 160 choice points a run (the systematic specs' small search).</summary>
    public static Scenario Generic503PunchOneRound() => ScenarioLoader.Parse(
        File.ReadAllText(Path.Combine(Directory, "generic-503-punch.json")).Replace("\"repeat\": 10", "\"repeat\": 1"),
        "generic-503-punch-1");

    /// <summary>two-pins with fewer rounds: its last-come races (no-unmap, seed-v7) within two delays, in seconds.</summary>
    public static Scenario TwoPinsSmall() => ScenarioLoader.Parse(File.ReadAllText(Path.Combine(Directory, "two-pins.json"))
        .Replace("\"repeat\": 60", "\"repeat\": 6").Replace("\"repeat\": 10", "\"repeat\": 2")
        .Replace("\"repeat\": 20", "\"repeat\": 3"), "two-pins-small");

    private static string FindScenarios()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "scenarios");
            if (System.IO.Directory.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "DaxSim.sln")))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException("cannot find the repository's scenarios/ directory");
    }

    /// <summary>
    /// A scenario with one DAX file "dax" of <paramref name="pages"/> pages, a plain file
    /// "src", and the given tasks (steps as JSON).
    /// </summary>
    public static Scenario Parse(string tasksJson, int pages = 4, int blocks = 8, string extra = "") =>
        ScenarioLoader.Parse($$"""
            {
              "name": "test",
              "device": { "blocks": {{blocks}} },
              "files": [ { "name": "dax", "pages": {{pages}} }, { "name": "src", "dax": false, "pages": {{pages}} } ],
              "tasks": {{tasksJson}}
              {{extra}}
            }
            """, "test.json");

    public static readonly FileId Dax = new(0);
    public static readonly FileId Src = new(1);
}
