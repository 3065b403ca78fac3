using DaxSim.Protocol;
using DaxSim.Protocol.Load;
using DaxSim.Protocol.Scenarios;
using DaxSim.Tests.Cli;
using Xunit;

namespace DaxSim.Tests.Load;

/// <summary>The load spec loader: strict, every error at its file, line and column.</summary>
public sealed class LoadSpecSpecs
{
    private const string Valid = """
        {
          "name": "small",
          "files": { "count": 2, "pages": 16 },
          "duration": "100ms",
          "tasks": [
            { "kind": "dioReader", "count": 3, "pages": 4, "ioTime": "200us", "think": "100us" },
            { "kind": "truncator", "count": 1, "pages": 4, "rate": 500, "arrivals": "poisson" }
          ]
        }
        """;

    public static IEnumerable<object[]> ShippedSpecs() =>
        Directory.GetFiles(Path.Combine(Support.Scenarios.Directory, "load"), "*.json").Select(f => new object[] { f });

    [Theory]
    [MemberData(nameof(ShippedSpecs))]
    public void Shipped_load_specs_must_load(string path)
    {
        var spec = LoadSpecLoader.LoadFile(path);
        Assert.True(spec.TaskCount > 0);
        Assert.True(spec.Duration > TimeSpan.Zero);
    }

    [Theory]
    [MemberData(nameof(ShippedSpecs))]
    public void A_spec_written_for_the_cluster_s_members_must_read_back_as_the_same_load(string path)
    {
        var spec = LoadSpecLoader.LoadFile(path);
        var flags = new LoadSpec("flags", Variant.SeedV7, 3, 40, 200, LoadSpec.MixOf(25, TimeSpan.FromMicroseconds(1500), 7.25, 40),
            TimeSpan.FromMilliseconds(1250), TimeSpan.FromMilliseconds(100), null, 9, new LoadSignals(2.5),
            TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(50));
        foreach (var original in new[] { spec, flags })
        {
            var text = LoadSpecLoader.Write(original);
            var back = LoadSpecLoader.Parse(text, "wire");

            Assert.Equal(text, LoadSpecLoader.Write(back));
            // A group paced by a rate has no think time (the flags keep the default in it, unused).
            static LoadTaskGroup Paced(LoadTaskGroup g) => g.Rate is null ? g : g with { Think = TimeSpan.Zero };
            Assert.Equal(original.Tasks.Select(Paced), back.Tasks.Select(Paced));
            Assert.Equal((original.Name, original.Variant, original.Files, original.PagesPerFile, original.DeviceBlocks,
                    original.Duration, original.Warmup, original.Seed, original.Signals, original.OpBound, original.LeaseBreakTime),
                (back.Name, back.Variant, back.Files, back.PagesPerFile, back.DeviceBlocks, back.Duration, back.Warmup, back.Seed,
                    back.Signals, back.OpBound, back.LeaseBreakTime));
            // The members build the very scenario the runner built.
            var a = LoadScenario.Build(original, 5, Variant.Mainline);
            var b = LoadScenario.Build(back, 5, Variant.Mainline);
            Assert.Equal(a.Tasks.Select(t => (t.Name, t.LoopFrom, string.Join(";", t.Steps))),
                b.Tasks.Select(t => (t.Name, t.LoopFrom, string.Join(";", t.Steps))));
            Assert.Equal(a.Faults, b.Faults);
            Assert.Equal((a.Device, a.Limits, a.StopAt), (b.Device, b.Limits, b.StopAt));
        }
    }

    [Fact]
    public void A_valid_spec_must_give_its_groups_and_pacing()
    {
        var spec = LoadSpecLoader.Parse(Valid, "small.json");

        Assert.Equal(2, spec.Files);
        Assert.Equal(16, spec.PagesPerFile);
        Assert.Equal(4, spec.TaskCount);
        Assert.Equal(LoadTaskKind.DioReader, spec.Tasks[0].Kind);
        Assert.Equal(TimeSpan.FromMicroseconds(100), spec.Tasks[0].Interval);
        Assert.Null(spec.Tasks[0].Rate);
        // A rate is for the whole group: one task at 500/s is due every 2 ms.
        Assert.Equal(TimeSpan.FromMilliseconds(2), spec.Tasks[1].Interval);
        Assert.True(spec.Tasks[1].Exponential);
        // Warm-up by default: a tenth of the duration.
        Assert.Equal(TimeSpan.FromMilliseconds(10), spec.EffectiveWarmup);
    }

    [Theory]
    [InlineData("\"tasks\": [", "\"tasks\": [ { \"kind\": \"dioReader\", \"color\": 1 }, ", "\"color\"", "unknown key \"color\" in a task group")]
    [InlineData("\"kind\": \"dioReader\"", "\"kind\": \"dioReaders\"", "\"dioReaders\"", "unknown task kind \"dioReaders\"")]
    [InlineData("\"think\": \"100us\"", "\"think\": \"100us\", \"rate\": 5", "\"rate\"", "a \"think\" time or a \"rate\", not both")]
    [InlineData("\"duration\": \"100ms\"", "\"duration\": 100", "100", "without a unit")]
    [InlineData("\"pages\": 4, \"ioTime\"", "\"pages\": 40, \"ioTime\"", "40", "out of range")]
    [InlineData("\"rate\": 500", "\"rate\": 500, \"ioTime\": \"1ms\"", "\"ioTime\": \"1ms\"", "\"ioTime\" is for dioReader and dioWriter")]
    public void A_bad_spec_must_be_reported_at_its_line_and_column(string find, string replace, string at, string message)
    {
        var text = Valid.Replace(find, replace, StringComparison.Ordinal);
        Assert.NotEqual(Valid, text);

        var e = Assert.Throws<ScenarioException>(() => LoadSpecLoader.Parse(text, "bad.json"));

        var (line, column) = CliHarness.Position(text, at);
        Assert.Contains(e.Errors, err => err.Source == "bad.json" && err.Line == line && err.Column == column &&
                                         err.Message.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void A_warmup_as_long_as_the_duration_must_be_an_error()
    {
        var text = Valid.Replace("\"duration\": \"100ms\"", "\"duration\": \"100ms\", \"warmup\": \"100ms\"", StringComparison.Ordinal);

        var e = Assert.Throws<ScenarioException>(() => LoadSpecLoader.Parse(text, "w.json"));

        Assert.Contains(e.Errors, err => err.Message.Contains("must be shorter than \"duration\"", StringComparison.Ordinal) &&
                                         err.Line == CliHarness.Position(text, "\"100ms\", \"warmup\"").Line);
    }

    [Fact]
    public void Invalid_json_must_be_reported_with_its_position()
    {
        var e = Assert.Throws<ScenarioException>(() => LoadSpecLoader.Parse("{\n  \"files\": { \"count\": 1, },\n}", "j.json"));

        var error = Assert.Single(e.Errors);
        Assert.Equal(2, error.Line);
        Assert.Contains("trailing comma", error.Message);
    }

    [Fact]
    public void The_default_mix_must_add_up_to_the_tasks_asked_for()
    {
        foreach (var tasks in new[] { 1, 5, 6, 12, 99, 10_000 })
        {
            var mix = LoadSpec.MixOf(tasks, TimeSpan.FromMilliseconds(1), null);
            Assert.Equal(tasks, mix.Sum(g => g.Count));
            if (tasks >= LoadSpec.DefaultMix.Count)
            {
                Assert.Equal(LoadSpec.DefaultMix.Count, mix.Count);
            }
        }
    }
}
