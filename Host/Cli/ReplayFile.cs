using DaxSim.Host.Deterministic;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace DaxSim.Host.Cli;

/// <summary>A run to replay, read from a report written by `daxsim run` or `daxsim explore`.</summary>
public sealed record ReplayFile(Scenario Scenario, RunSettings Settings, string TraceHash, string Verdict,
    string? Invariant)
{
    public static ReplayFile Load(string path, IReadOnlyCollection<string>? knownStrategies = null)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InputException($"{path}: cannot read the trace: {e.Message}");
        }
        JToken parsed;
        try
        {
            using var reader = new JsonTextReader(new StringReader(text)) { DateParseHandling = DateParseHandling.None };
            parsed = JToken.ReadFrom(reader, new JsonLoadSettings { LineInfoHandling = LineInfoHandling.Load });
        }
        catch (JsonReaderException e)
        {
            // Json.NET's LinePosition in an error is the 0-based index of the character it
            // stopped at, and both are 0 when the text is empty.
            throw new InputException(
                $"{path}:{Math.Max(1, e.LineNumber)}:{e.LinePosition + 1}: not a DaxSim trace: {Clean(e.Message)}");
        }
        if (parsed is not JObject root)
        {
            throw Error(path, parsed,
                $"not a DaxSim trace: a report is a JSON object, not {parsed.Type.ToString().ToLowerInvariant()}");
        }
        if (root["replay"] is not JObject replay)
        {
            var runtime = root["runtime"]?.Type == JTokenType.String ? (string?)root["runtime"] : null;
            throw new InputException(RuntimeKinds.TryParse(runtime, out var kind) && kind != RuntimeKind.Deterministic
                ? $"{path}: this report comes from the {runtime} runtime, whose thread interleaving cannot be " +
                  "replayed; run the scenario with --runtime deterministic to get a replayable trace"
                : $"{path}:1:1: not a DaxSim trace: it has no \"replay\" section");
        }
        var scenarioText = Field<string>(path, replay, "scenarioText", JTokenType.String);
        var source = replay["scenarioSource"]?.Type == JTokenType.String ? (string)replay["scenarioSource"]! : path;
        Scenario scenario;
        try
        {
            scenario = ScenarioLoader.Parse(scenarioText, $"{path} (scenario from {source})");
        }
        catch (ScenarioException e)
        {
            throw new InputException(e.Message);
        }
        var variantName = Field<string>(path, replay, "variant", JTokenType.String);
        if (!Variants.TryParse(variantName, out var variant))
        {
            throw Error(path, replay["variant"]!, $"unknown variant '{variantName}'");
        }
        // Json.NET reads an integer above long.MaxValue (half of all seeds) as a BigInteger.
        var seedToken = replay["seed"];
        if (seedToken is not JValue { Type: JTokenType.Integer, Value: var seedValue } || !TryUInt64(seedValue, out var seed))
        {
            throw Error(path, seedToken ?? replay, "\"seed\" must be an integer from 0 to 18446744073709551615");
        }
        List<int>? schedule = null;
        if (replay["schedule"] is JArray choices)
        {
            schedule = [];
            foreach (var c in choices)
            {
                if (c.Type != JTokenType.Integer || c.Value<long>() < 0 || c.Value<long>() > int.MaxValue)
                {
                    throw Error(path, c, "every scheduling choice must be a non-negative integer");
                }
                schedule.Add(c.Value<int>());
            }
        }
        var strategy = Field<string>(path, replay, "strategy", JTokenType.String);
        if (knownStrategies is not null && !knownStrategies.Contains(strategy))
        {
            throw Error(path, replay["strategy"]!,
                $"unknown strategy '{strategy}'; known: {string.Join(", ", knownStrategies)}");
        }
        var own = new DeterministicSettings { Strategy = strategy, Schedule = schedule };
        if (replay["pct"] is JObject pct)
        {
            own = own with
            {
                PctDepth = (int)Integer(path, pct, "depth", 1, int.MaxValue),
                PctSteps = Integer(path, pct, "steps", 1, long.MaxValue),
            };
        }
        if (replay["faultInjection"] is JObject injection)
        {
            own = own with { Faults = ReadFaults(path, injection, scenario) };
        }
        var settings = new RunSettings { Seed = seed, Variant = variant, Deterministic = own };
        return new ReplayFile(scenario, settings, Field<string>(path, replay, "traceHash", JTokenType.String),
            root["verdict"]?.Type == JTokenType.String ? (string)root["verdict"]! : "",
            root["violation"] is JObject v && v["invariant"]?.Type == JTokenType.String
                ? (string)v["invariant"]!
                : null);
    }

    private static FaultPlan ReadFaults(string path, JObject injection, Scenario scenario)
    {
        var faults = new List<InjectedFault>();
        if (injection["faults"] is JArray list)
        {
            foreach (var item in list)
            {
                if (item is not JObject f)
                {
                    throw Error(path, item, "every injected fault must be an object");
                }
                var kind = Field<string>(path, f, "kind", JTokenType.String);
                if (kind is not (InjectedFault.Signal or InjectedFault.Kill))
                {
                    throw Error(path, f["kind"]!, $"unknown injected fault '{kind}'; known: signal, kill");
                }
                var name = Field<string>(path, f, "task", JTokenType.String);
                var task = scenario.Tasks.FirstOrDefault(t => t.Name == name)
                           ?? throw Error(path, f["task"]!, $"no task '{name}' in the scenario");
                faults.Add(new InjectedFault(kind, task.Id, Integer(path, f, "at", 0, long.MaxValue) / 100));
            }
        }
        var delays = new List<InjectedDelay>();
        if (injection["delays"] is JArray held)
        {
            foreach (var item in held)
            {
                if (item is not JObject d)
                {
                    throw Error(path, item, "every injected delay must be an object");
                }
                var actor = d["actor"]?.Type == JTokenType.String ? (string)d["actor"]! : "";
                delays.Add(new InjectedDelay(Integer(path, d, "ready", 1, long.MaxValue), actor,
                    Integer(path, d, "delay", 100, long.MaxValue) / 100));
            }
        }
        return new FaultPlan(faults, delays);
    }

    private static long Integer(string path, JObject obj, string name, long min, long max)
    {
        var token = obj[name];
        if (token is not JValue { Type: JTokenType.Integer, Value: long value } || value < min || value > max)
        {
            throw Error(path, token ?? obj, $"\"{name}\" must be an integer from {min} to {max}");
        }
        return value;
    }

    private static bool TryUInt64(object? value, out ulong result)
    {
        switch (value)
        {
            case long l when l >= 0:
                result = (ulong)l;
                return true;
            case ulong u:
                result = u;
                return true;
            case System.Numerics.BigInteger b when b >= 0 && b <= ulong.MaxValue:
                result = (ulong)b;
                return true;
            default:
                result = 0;
                return false;
        }
    }

    private static T Field<T>(string path, JObject obj, string name, JTokenType type)
    {
        var token = obj[name];
        if (token is null || token.Type != type)
        {
            throw Error(path, token ?? obj, $"\"{name}\" is missing or not a {type.ToString().ToLowerInvariant()}");
        }
        return token.Value<T>()!;
    }

    private static InputException Error(string path, JToken at, string message)
    {
        var info = (IJsonLineInfo)at;
        return new InputException($"{path}:{info.LineNumber}:{info.LinePosition}: {message}");
    }

    private static string Clean(string message)
    {
        var cut = message.IndexOf(" Path '", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
