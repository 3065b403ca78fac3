using DaxSim.Protocol.Scenarios;

namespace DaxSim.Protocol.Load;

/// <summary>
/// Reads load specs (docs/load.md) as strictly as ScenarioLoader reads scenarios: unknown
/// keys, wrong types, unknown kinds, numbers out of range are errors, each reported as
/// FILE:LINE:COLUMN through a ScenarioException.
/// </summary>
public static class LoadSpecLoader
{
    public const int MaxFiles = 100_000;
    public const int MaxTasks = 200_000;

    /// <exception cref="ScenarioException">The file cannot be read or is not a valid load spec.</exception>
    public static LoadSpec LoadFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new ScenarioException([new ScenarioError(path, 0, 0, $"cannot read the load spec: {e.Message}")]);
        }
        return Parse(text, path);
    }

    /// <exception cref="ScenarioException">The text is not a valid load spec.</exception>
    public static LoadSpec Parse(string text, string source) =>
        new ScenarioReader(source, text).ReadLoad() with { Source = source, Text = text };
}
