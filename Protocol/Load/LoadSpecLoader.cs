using DaxSim.Protocol.Scenarios;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

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

    /// <summary>
    /// The spec as a spec file says it, which <see cref="Parse"/> reads back to the same spec:
    /// how the cluster runtime's runner hands a load to its members (they build the same
    /// scenario from it, and read it as strictly as a file: it comes from the network).
    /// </summary>
    public static string Write(LoadSpec spec)
    {
        static string D(TimeSpan t) => Durations.Format(t);
        var json = new JObject { ["name"] = spec.Name };
        if (spec.Variant is { } variant)
        {
            json["variant"] = variant.Name();
        }
        if (spec.Seed is { } seed)
        {
            json["seed"] = seed;
        }
        json["files"] = new JObject { ["count"] = spec.Files, ["pages"] = spec.PagesPerFile };
        if (spec.DeviceBlocks is { } blocks)
        {
            json["device"] = new JObject { ["blocks"] = blocks };
        }
        json["duration"] = D(spec.Duration);
        if (spec.Warmup is { } warmup)
        {
            json["warmup"] = D(warmup);
        }
        json["tasks"] = new JArray(spec.Tasks.Select(t =>
        {
            var group = new JObject { ["kind"] = t.Kind.JsonName(), ["count"] = t.Count };
            if (t.Kind != LoadTaskKind.LeaseHolder)
            {
                group["pages"] = t.Pages;
            }
            if (t.Kind is LoadTaskKind.DioReader or LoadTaskKind.DioWriter)
            {
                group["ioTime"] = D(t.IoTime);
            }
            if (t.Kind == LoadTaskKind.LeaseHolder)
            {
                group["hold"] = D(t.Hold);
            }
            if (t.Rate is { } rate)
            {
                group["rate"] = rate;
            }
            else
            {
                group["think"] = D(t.Think);
            }
            group["arrivals"] = t.Exponential ? "poisson" : "fixed";
            return group;
        }));
        if (spec.Signals is { } signals)
        {
            json["signals"] = new JObject { ["rate"] = signals.Rate };
        }
        json["limits"] = new JObject { ["opBound"] = D(spec.OpBound), ["leaseBreakTime"] = D(spec.LeaseBreakTime) };
        return json.ToString(Formatting.None);
    }
}
