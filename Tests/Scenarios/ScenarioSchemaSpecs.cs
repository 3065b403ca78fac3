using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using Json.Schema;
using Xunit;
using ShippedScenarios = DaxSim.Tests.Support.Scenarios;

namespace DaxSim.Tests.ScenarioFiles;

/// <summary>
/// docs/scenario.schema.json and the loader agree: every shipped scenario is valid under the
/// schema and loads; every text the loader's own specs reject is rejected by the schema too,
/// or only for a reason the schema cannot express (docs/scenario-format.md, "The JSON Schema");
/// every text they load is valid; mutated shipped scenarios are rejected by both.
/// </summary>
public sealed class ScenarioSchemaSpecs(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly string Root = Path.GetDirectoryName(ShippedScenarios.Directory)!;
    private static readonly string SchemaPath = Path.Combine(Root, "docs", "scenario.schema.json");
    private static readonly Lazy<JsonSchema> Schema = new(() => JsonSchema.FromFile(SchemaPath));

    /// <summary>
    /// Loader errors about what a JSON Schema cannot check: references between parts of the
    /// file, uniqueness, arithmetic on values, and the lexical form of numbers. The same list is
    /// in docs/scenario-format.md, "The JSON Schema".
    /// </summary>
    private static readonly (string What, Regex Message)[] SemanticChecks =
    [
        ("a file, task or process that is not defined", new(@"which is not defined|but no file is defined|unknown process ")),
        ("a name defined twice", new(@"is already defined")),
        ("a key written twice", new(@"Property with the name '[^']*' already exists")),
        ("a plain file where a DAX file is needed (or the other way)", new(@"must name a (DAX|plain \(non-DAX\)) file")),
        ("a page range or size beyond its file", new(@"is outside file|\((the last page|the size) of file ""[^""]*""\)")),
        ("a page range that ends before it starts", new(@"ends before it starts")),
        ("a device smaller than the DAX files", new(@"fewer than the \d+ pages of the DAX files|more than the largest device")),
        ("a number with a fraction or an exponent (4.0, 1e3)", new(@"must be a whole number")),
        ("a duration not a multiple of 100ns, or longer than a day", new(@"not a multiple of 100ns|longer than a day")),
        ("a fault window whose until is not later than its from", new(@"must be later than ""from""")),
        ("a node in two groups of a partition", new(@"is in more than one group")),
        ("a declared process without a thread, on two nodes, or mapping a file twice",
            new(@"has no thread|must run on one node|maps file ""[^""]*"" twice")),
    ];

    private static readonly JsonDocumentOptions JsonOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = false, MaxDepth = 64,
    };

    /// <summary>The schema's verdict: null when valid, else its errors; "not JSON" when no JSON parser reads the text.</summary>
    private static string? SchemaErrors(string text)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(text, JsonOptions);
        }
        catch (JsonException e)
        {
            return $"not JSON: {e.Message}";
        }
        using (doc)
        {
            var result = Schema.Value.Evaluate(doc.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
            if (result.IsValid)
            {
                return null;
            }
            return string.Join("\n", (result.Details ?? []).Where(d => d.Errors is { Count: > 0 })
                .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Key}: {e.Value}")));
        }
    }

    private static void AssertValid(string text, string what)
    {
        var errors = SchemaErrors(text);
        Assert.True(errors is null, $"{what} is not valid under docs/scenario.schema.json:\n{errors}");
    }

    // --- the schema itself ----------------------------------------------------------------------

    [Fact]
    public void The_schema_is_a_draft_07_schema()
    {
        var text = File.ReadAllText(SchemaPath);
        using var doc = JsonDocument.Parse(text);
        Assert.Equal("http://json-schema.org/draft-07/schema#", doc.RootElement.GetProperty("$schema").GetString());
        var meta = MetaSchemas.Draft7.Evaluate(doc.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.True(meta.IsValid, "the schema does not validate against the draft-07 meta-schema");
    }

    [Fact]
    public void The_schema_names_every_op_fault_kind_verdict_and_variant_the_loader_accepts()
    {
        var schema = JsonNode.Parse(File.ReadAllText(SchemaPath))!;
        static string[] Enum(JsonNode? node) => node!["enum"]!.AsArray().Select(n => n!.GetValue<string>()).ToArray();

        Assert.Equal(OpKinds.AllNames, Enum(schema["definitions"]!["step"]!["properties"]!["op"]));
        Assert.Equal(["signal", "kill", "enomem", "crashNode", "partition", "heal", "drop", "duplicate", "delay"],
            Enum(schema["definitions"]!["fault"]!["properties"]!["kind"]));
        Assert.Equal(["clean", "safety", "liveness"], Enum(schema["properties"]!["expect"]));

        // Every name the loader takes as a variant: bases, deviations, and each DEVIATION@BASE it accepts.
        var accepted = Variants.AllNames
            .Concat(Variants.AllNames.SelectMany(d => Variants.AllNames.Select(b => $"{d}@{b}")))
            .Where(n => Variants.TryParse(n, out _))
            .ToHashSet();
        var listed = Enum(schema["properties"]!["variant"]);
        Assert.Equal(listed.Length, listed.Distinct().Count());
        Assert.True(accepted.SetEquals(listed),
            $"the loader accepts and the schema does not: {string.Join(", ", accepted.Except(listed))}; " +
            $"the schema lists and the loader refuses: {string.Join(", ", listed.Except(accepted))}");

        // Each op's and each fault's keys are the loader's: a key the schema lacks would be an
        // unknown key to the loader; checked by the shipped files and the loader's cases below.
        Assert.Equal(OpKinds.AllNames.Select(o => o + "Step"),
            OpKinds.AllNames.Select(o => schema["definitions"]![o + "Step"] is null ? "missing " + o : o + "Step"));
    }

    // --- shipped scenarios ------------------------------------------------------------------------

    /// <summary>scenarios/**.json (not the load specs of scenarios/load/, another format) and bench/scenarios/*.json.</summary>
    private static List<string> ShippedList() =>
        Directory.GetFiles(ShippedScenarios.Directory, "*.json", SearchOption.AllDirectories)
            .Concat(Directory.GetFiles(Path.Combine(Root, "bench", "scenarios"), "*.json"))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}load{Path.DirectorySeparatorChar}"))
            .Select(f => Path.GetRelativePath(Root, f))
            .Order(StringComparer.Ordinal)
            .ToList();

    public static TheoryData<string> ShippedFiles() => new(ShippedList());

    [Theory]
    [MemberData(nameof(ShippedFiles))]
    public void Every_shipped_scenario_is_valid_under_the_schema_loads_and_points_at_it(string file)
    {
        var path = Path.Combine(Root, file);
        var text = File.ReadAllText(path);

        AssertValid(text, file);
        ScenarioLoader.LoadFile(path);

        using var doc = JsonDocument.Parse(text, JsonOptions);
        var reference = doc.RootElement.GetProperty("$schema").GetString()!;
        Assert.Equal(Path.GetFullPath(SchemaPath), Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, reference)));
    }

    [Fact]
    public void There_are_shipped_scenarios_in_each_place() =>
        Assert.True(ShippedList().Count >= 20 &&
                    ShippedList().Any(f => f.StartsWith("bench", StringComparison.Ordinal)) &&
                    ShippedList().Any(f => f.Contains("cluster", StringComparison.Ordinal)));

    // --- the loader's own cases -----------------------------------------------------------------

    /// <summary>Every text the loader's specs parse, and whether it loaded (the specs run here again, watched).</summary>
    private static List<(string Spec, string Text, bool Loaded)> LoaderCases()
    {
        var cases = new List<(string, string, bool)>();
        foreach (var type in new[] { typeof(ScenarioLoaderSpecs), typeof(PageRangeBoundarySpecs) })
        {
            foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance)
                         .Where(m => m.GetCustomAttributes<FactAttribute>().Any()))
            {
                var rows = method.GetCustomAttributes<Xunit.Sdk.DataAttribute>()
                    .SelectMany(a => a.GetData(method))
                    .Select(row => row ?? [null]) // [InlineData(null)] is a null row
                    .ToList();
                if (rows.Count == 0)
                {
                    rows.Add([]);
                }
                foreach (var row in rows)
                {
                    var name = $"{type.Name}.{method.Name}({string.Join(", ", row.Select(v => v ?? "null"))})";
                    ScenarioLoader.Observer.Value = (text, loaded) => cases.Add((name, text, loaded));
                    try
                    {
                        var instance = Activator.CreateInstance(type);
                        method.Invoke(instance, row);
                        (instance as IDisposable)?.Dispose();
                    }
                    catch (TargetInvocationException e)
                    {
                        throw new InvalidOperationException($"{name} failed when run again here", e.InnerException);
                    }
                    finally
                    {
                        ScenarioLoader.Observer.Value = null;
                    }
                }
            }
        }
        return cases;
    }

    [Fact]
    public void Every_bad_input_of_the_loaders_specs_is_rejected_by_the_schema_or_is_a_documented_semantic_check()
    {
        var cases = LoaderCases();
        var bad = cases.Where(c => !c.Loaded).ToList();
        Assert.True(bad.Count >= 150, $"only {bad.Count} bad inputs seen: is the observer still wired?");
        var disagreements = new List<string>();
        var semantic = 0;
        foreach (var (spec, text, _) in bad)
        {
            if (SchemaErrors(text) is not null)
            {
                continue;
            }
            var errors = Assert.Throws<ScenarioException>(() => ScenarioLoader.Parse(text, "bad.json")).Errors;
            var unexplained = errors.Where(e => !SemanticChecks.Any(s => s.Message.IsMatch(e.Message))).ToList();
            if (unexplained.Count > 0)
            {
                disagreements.Add($"{spec}: the schema accepts it, the loader says: {string.Join("; ", unexplained)}");
            }
            else
            {
                semantic++;
                output.WriteLine($"semantic: {spec}: {string.Join("; ", errors.Select(e => e.Message))}");
            }
        }
        output.WriteLine($"{bad.Count} bad inputs: {bad.Count - semantic - disagreements.Count} rejected by the schema, {semantic} only by a semantic check");
        Assert.True(disagreements.Count == 0, string.Join("\n", disagreements));
        Assert.True(semantic > 0 && semantic < bad.Count, $"{semantic} of {bad.Count} only semantic");
    }

    [Fact]
    public void Every_scenario_the_loaders_specs_load_is_valid_under_the_schema()
    {
        var good = LoaderCases().Where(c => c.Loaded).ToList();
        Assert.True(good.Count >= 20, $"only {good.Count} good inputs seen");
        var invalid = good.Select(c => (c.Spec, Errors: SchemaErrors(c.Text))).Where(c => c.Errors is not null)
            .Select(c => $"{c.Spec}:\n{c.Errors}").ToList();
        Assert.True(invalid.Count == 0, string.Join("\n\n", invalid));
    }

    [Theory]
    [InlineData("\"../docs/scenario.schema.json\"")]
    [InlineData("\"https://example.invalid/any-string-at-all\"")]
    [InlineData("\"\"")]
    public void The_loader_accepts_any_string_as_schema(string value)
    {
        var text = Top($"\"$schema\": {value},");
        AssertValid(text, "a scenario with $schema");
        Assert.Equal("t", ScenarioLoader.Parse(text, "s.json").Name);
    }

    [Fact]
    public void A_schema_key_that_is_not_a_string_is_rejected_by_both()
    {
        var text = Top("\"$schema\": 7,");
        Assert.NotNull(SchemaErrors(text));
        var error = Assert.Single(Assert.Throws<ScenarioException>(() => ScenarioLoader.Parse(text, "s.json")).Errors);
        Assert.Equal("\"$schema\" must be a string, not the number 7", error.Message);
        Assert.Equal((2, 14), (error.Line, error.Column));
    }

    private static string Top(string member) => $$"""
        {
          {{member}}
          "name": "t",
          "files": [ { "name": "dax", "pages": 4 } ],
          "tasks": [ { "name": "a", "steps": [ { "op": "sleep", "for": "1ms" } ] } ]
        }
        """;

    // --- mutated shipped scenarios --------------------------------------------------------------

    public static TheoryData<string> Mutations() =>
        new("unknown op", "no name", "task without steps", "pages a string", "unknown top key", "repeat 0",
            "duration without unit", "unknown verdict", "variant on a base it does not apply to", "unknown step key",
            "unknown fault kind", "files empty", "step missing its file", "dax a string");

    private static bool Mutate(JsonObject root, string mutation)
    {
        var steps = root["tasks"]!.AsArray().SelectMany(t => t!["steps"]!.AsArray()).Select(s => s!.AsObject()).ToList();
        switch (mutation)
        {
            case "unknown op": steps[0]["op"] = "trunc"; return true;
            case "no name": return root.Remove("name");
            case "task without steps": return root["tasks"]![0]!.AsObject().Remove("steps");
            case "pages a string": root["files"]![0]!["pages"] = "4"; return true;
            case "unknown top key": root["colour"] = "red"; return true;
            case "repeat 0": root["tasks"]![0]!["repeat"] = 0; return true;
            case "duration without unit": root["limits"] = new JsonObject { ["virtualTime"] = 10 }; return true;
            case "unknown verdict": root["expect"] = "pass"; return true;
            case "variant on a base it does not apply to": root["variant"] = "idle-at-0@linux-6.15"; return true;
            case "unknown step key": steps[0]["colour"] = "red"; return true;
            case "unknown fault kind": root["faults"] = new JsonArray(new JsonObject { ["kind"] = "crash", ["at"] = "1ms" }); return true;
            case "files empty": root["files"] = new JsonArray(); return true;
            case "step missing its file":
                return steps.FirstOrDefault(s => s.ContainsKey("file")) is { } withFile && withFile.Remove("file");
            case "dax a string": root["files"]![0]!["dax"] = "true"; return true;
            default: throw new ArgumentException(mutation);
        }
    }

    [Theory]
    [MemberData(nameof(Mutations))]
    public void A_mutated_shipped_scenario_is_rejected_by_the_schema_and_the_loader(string mutation)
    {
        var mutated = 0;
        foreach (var file in ShippedList())
        {
            var root = JsonNode.Parse(File.ReadAllText(Path.Combine(Root, file)), documentOptions: JsonOptions)!.AsObject();
            if (!Mutate(root, mutation))
            {
                continue;
            }
            var text = root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
            Assert.True(SchemaErrors(text) is not null, $"{file} with {mutation}: the schema accepts it");
            Assert.Throws<ScenarioException>(() => { ScenarioLoader.Parse(text, file); });
            mutated++;
        }
        Assert.True(mutated > 0, $"no shipped scenario could take '{mutation}'");
    }
}
