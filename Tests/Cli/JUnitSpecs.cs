using System.Xml.Linq;
using DaxSim.Host.Runs;
using Xunit;
using DaxCli = DaxSim.Host.Cli.Cli;

namespace DaxSim.Tests.Cli;

/// <summary>
/// `--junit OUT.xml` on run, explore and replay (docs/contract.md): JUnit XML as CI systems
/// read it, one test case per scenario and variant; a finding is a failure that names the
/// invariant and carries a replay command that really replays it; exit codes unchanged.
/// </summary>
public sealed class JUnitSpecs : CliHarness
{
    private static XElement ReadJUnit(string path)
    {
        Assert.True(File.Exists(path), $"no JUnit file at {path}");
        var doc = XDocument.Load(path);
        Assert.Equal("testsuites", doc.Root!.Name.LocalName);
        return doc.Root;
    }

    /// <summary>The counts of the root and of its one suite must agree with the test cases.</summary>
    private static (XElement Suite, XElement Case) Single(XElement root, int failures, int errors = 0, int skipped = 0)
    {
        var suite = Assert.Single(root.Elements("testsuite"));
        foreach (var e in new[] { root, suite })
        {
            Assert.Equal("1", (string?)e.Attribute("tests"));
            Assert.Equal(failures.ToString(), (string?)e.Attribute("failures"));
            Assert.Equal(errors.ToString(), (string?)e.Attribute("errors"));
            Assert.Equal(skipped.ToString(), (string?)e.Attribute("skipped"));
            Assert.True(double.TryParse((string?)e.Attribute("time"), System.Globalization.CultureInfo.InvariantCulture, out var t) && t >= 0,
                e.ToString());
        }
        Assert.NotNull(suite.Attribute("name"));
        Assert.NotNull(suite.Attribute("timestamp"));
        var testCase = Assert.Single(suite.Elements("testcase"));
        Assert.NotNull(testCase.Attribute("classname"));
        Assert.NotNull(testCase.Attribute("time"));
        return (suite, testCase);
    }

    private static string? Property(XElement suite, string name) =>
        (string?)suite.Element("properties")?.Elements("property").FirstOrDefault(p => (string?)p.Attribute("name") == name)
            ?.Attribute("value");

    /// <summary>The arguments of the `replay: daxsim ...` line of a failure's text.</summary>
    private static string[] ReplayArgs(string text, string prefix = "replay: daxsim ")
    {
        var line = text.Split('\n').SingleOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        Assert.True(line is not null, $"no '{prefix}' line in:\n{text}");
        return line[prefix.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
    }

    [Fact]
    public void A_clean_run_is_one_passing_test_case_named_after_scenario_and_variant()
    {
        var junit = PathIn("junit.xml");

        var r = Invoke("run", Shipped("two-pins"), "--runtime", "deterministic", "--seed", "1", "--junit", junit);

        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains($"junit: {junit}", r.Out);
        Assert.Equal([junit], Directory.GetFiles(Dir)); // no report, no temporary file
        var (suite, testCase) = Single(ReadJUnit(junit), failures: 0);
        Assert.Equal("daxsim.run", (string?)suite.Attribute("name"));
        Assert.Equal("daxsim.run", (string?)testCase.Attribute("classname"));
        Assert.Equal("two-pins [mainline]", (string?)testCase.Attribute("name"));
        Assert.Empty(testCase.Elements());
        Assert.Equal("deterministic", Property(suite, "runtime"));
        Assert.Equal("1", Property(suite, "seed"));
        Assert.Equal("random", Property(suite, "strategy"));
        Assert.Equal("clean", Property(suite, "verdict"));
    }

    [Fact]
    public void A_run_finding_is_a_failure_naming_the_invariant_whose_replay_command_replays_it()
    {
        var file = Shipped("generic-503-truncate");
        var junit = PathIn("ci", "junit.xml");
        Directory.CreateDirectory(PathIn("ci"));
        string[] args = ["run", file, "--runtime", "deterministic", "--variant", "no-break", "--seed", "1"];

        var plain = Invoke(args);
        var r = Invoke([.. args, "--junit", junit]);

        Assert.True(plain.Code == 1, plain.ToString());
        Assert.True(r.Code == plain.Code, r.ToString()); // --junit changes no exit code
        var (suite, testCase) = Single(ReadJUnit(junit), failures: 1);
        Assert.Equal("generic-503-truncate [no-break]", (string?)testCase.Attribute("name"));
        var failure = Assert.Single(testCase.Elements("failure"));
        Assert.Equal("S1", (string?)failure.Attribute("type"));
        Assert.StartsWith("S1 (use-after-free): ", (string?)failure.Attribute("message"));
        var text = failure.Value;
        Assert.Contains("S1 (use-after-free) at ", text);
        Assert.Contains("seed 1, variant no-break", text);

        // Without --report, the report the replay needs is written beside the JUnit file.
        var report = DaxCli.JUnitReportPath(junit, "generic-503-truncate", "no-break", 1);
        Assert.Equal(PathIn("ci", "junit-generic-503-truncate-no-break-seed1.json"), report);
        Assert.True(File.Exists(report));
        Assert.Equal(report, Property(suite, "report"));
        var replay = ReplayArgs(text);
        Assert.Equal(["replay", report], replay);

        var again = Invoke(replay);

        Assert.True(again.Code == 1, again.ToString());
        Assert.Contains("VIOLATION S1", again.Out);
        Assert.Contains("replay: identical to the recorded run", again.Out);
    }

    [Fact]
    public void An_explore_finding_is_one_failure_with_the_seed_range_and_replay_commands_that_replay_it()
    {
        var junit = PathIn("explore.xml");

        var r = Invoke("explore", Shipped("generic-503-truncate"), "--seeds", "20", "--variant", "no-break",
            "--workers", "2", "--junit", junit);

        Assert.True(r.Code == 1, r.ToString());
        var (suite, testCase) = Single(ReadJUnit(junit), failures: 1);
        Assert.Equal("daxsim.explore", (string?)testCase.Attribute("classname"));
        Assert.Equal("generic-503-truncate [no-break]", (string?)testCase.Attribute("name"));
        Assert.Equal("1..20", Property(suite, "seeds"));
        Assert.Equal("random", Property(suite, "strategy"));
        var failure = Assert.Single(testCase.Elements("failure"));
        Assert.Equal("S1", (string?)failure.Attribute("type"));
        Assert.Contains("first violating seed 1 of seeds 1..20", failure.Value);

        // The finding's report lands beside the JUnit file, and its command replays it.
        var replay = ReplayArgs(failure.Value);
        Assert.Equal(DaxCli.JUnitReportPath(junit, "generic-503-truncate", "no-break", 1), replay[1]);
        var again = Invoke(replay);
        Assert.True(again.Code == 1, again.ToString());
        Assert.Contains("replay: identical to the recorded run", again.Out);

        // So does the shrunk finding's; its scenario file still finds the JSON Schema from where it is.
        var minimal = Invoke(ReplayArgs(failure.Value, "minimal replay: daxsim "));
        var minimalScenario = failure.Value.Split('\n').Single(l => l.StartsWith("minimal scenario: ", StringComparison.Ordinal))["minimal scenario: ".Length..];
        var schema = (string)Newtonsoft.Json.Linq.JObject.Parse(File.ReadAllText(minimalScenario))["$schema"]!;
        Assert.Equal(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Shipped("two-pins"))!, "..", "docs", "scenario.schema.json")),
            Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(minimalScenario))!, schema)));
        Assert.True(minimal.Code == 1, minimal.ToString());
        Assert.Contains("VIOLATION S1", minimal.Out);
        Assert.Contains("replay: identical to the recorded run", minimal.Out);
    }

    [Fact]
    public void A_clean_explore_is_one_passing_test_case_with_its_seed_range()
    {
        var junit = PathIn("clean.xml");

        var r = Invoke("explore", Shipped("dio-vs-punch"), "--seeds", "10", "--seed", "5", "--workers", "2", "--junit", junit);

        Assert.True(r.Code == 0, r.ToString());
        var (suite, testCase) = Single(ReadJUnit(junit), failures: 0);
        Assert.Equal("dio-vs-punch [mainline]", (string?)testCase.Attribute("name"));
        Assert.Empty(testCase.Elements());
        Assert.Equal("5..14", Property(suite, "seeds"));
        Assert.Equal("10", Property(suite, "seeds-run"));
        Assert.Equal([junit], Directory.GetFiles(Dir));
    }

    [Fact]
    public void Replay_gives_the_same_test_case_and_a_command_that_replays_it_again()
    {
        var report = PathIn("finding.json");
        var found = Invoke("run", Shipped("signal-long-pin"), "--runtime", "deterministic", "--variant", "no-break",
            "--seed", "1", "--report", report);
        Assert.True(found.Code == 1, found.ToString());
        var junit = PathIn("replay.xml");

        var r = Invoke("replay", report, "--junit", junit);

        Assert.True(r.Code == 1, r.ToString());
        var (suite, testCase) = Single(ReadJUnit(junit), failures: 1);
        Assert.Equal("daxsim.replay", (string?)testCase.Attribute("classname"));
        Assert.Equal("signal-long-pin [no-break]", (string?)testCase.Attribute("name"));
        Assert.Equal("true", Property(suite, "identical"));
        var failure = Assert.Single(testCase.Elements("failure"));
        Assert.Equal("S1", (string?)failure.Attribute("type"));
        Assert.Equal(["replay", report], ReplayArgs(failure.Value));
    }

    [Fact]
    public void A_systematic_explore_is_one_test_case_too_clean_or_failing_with_a_replay_that_replays()
    {
        var small = WriteFile("small.json",
            File.ReadAllText(Shipped("generic-503-punch")).Replace("\"repeat\": 10", "\"repeat\": 1"));
        var clean = PathIn("sys-clean.xml");

        var r = Invoke("explore", small, "--strategy", "systematic", "--bound", "1", "--junit", clean);

        Assert.True(r.Code == 0, r.ToString());
        var (suite, testCase) = Single(ReadJUnit(clean), failures: 0);
        Assert.Equal("generic-503-punch [mainline]", (string?)testCase.Attribute("name"));
        Assert.Equal("systematic", Property(suite, "strategy"));
        Assert.Equal("1", Property(suite, "bound"));
        Assert.Equal("true", Property(suite, "exhausted"));

        var found = PathIn("sys-found.xml");
        var f = Invoke("explore", Shipped("generic-503-truncate"), "--strategy", "systematic", "--bound", "1",
            "--variant", "no-break", "--no-shrink", "--junit", found);

        Assert.True(f.Code == 1, f.ToString());
        var failure = Assert.Single(Single(ReadJUnit(found), failures: 1).Case.Elements("failure"));
        Assert.Equal("S1", (string?)failure.Attribute("type"));
        Assert.Contains("first violating schedule: 0 delay(s)", failure.Value);
        var replay = ReplayArgs(failure.Value);
        Assert.Equal(PathIn("sys-found-generic-503-truncate-no-break-systematic.json"), replay[1]);
        var again = Invoke(replay);
        Assert.True(again.Code == 1, again.ToString());
        Assert.Contains("replay: identical to the recorded run", again.Out);
    }

    [Fact]
    public void A_liveness_finding_names_its_invariant_too()
    {
        var junit = PathIn("l.xml");

        var r = Invoke("explore", Shipped("dio-vs-zero"), "--seeds", "300", "--variant", "hold-mmaplock",
            "--workers", "2", "--no-shrink", "--junit", junit);

        Assert.True(r.Code == 3, r.ToString());
        var failure = Assert.Single(Single(ReadJUnit(junit), failures: 1).Case.Elements("failure"));
        Assert.Equal("L1", (string?)failure.Attribute("type"));
        Assert.Contains("wait-for: ", failure.Value);
        Assert.DoesNotContain("minimal replay", failure.Value);
    }

    [Theory]
    [InlineData("run")]
    [InlineData("explore")]
    [InlineData("replay")]
    public void A_junit_path_in_a_missing_directory_is_exit_2_naming_it_before_anything_runs(string command)
    {
        var junit = PathIn("missing", "junit.xml");
        var trace = PathIn("t.json");
        if (command == "replay")
        {
            Assert.Equal(0, Invoke("run", Shipped("two-pins"), "--runtime", "deterministic", "--report", trace).Code);
        }
        string[] args = command switch
        {
            "run" => ["run", Shipped("two-pins"), "--runtime", "deterministic", "--junit", junit],
            "explore" => ["explore", Shipped("two-pins"), "--seeds", "2", "--junit", junit],
            _ => ["replay", trace, "--junit", junit],
        };

        var r = Invoke(args);

        AssertUsageError(r, junit, "--junit", junit);
        Assert.Single(r.Err.TrimEnd().Split('\n'));
        Assert.DoesNotContain("daxsim run", r.Out);
    }

    [Fact]
    public void A_junit_path_that_is_a_directory_is_exit_2()
    {
        var r = Invoke("run", Shipped("two-pins"), "--runtime", "deterministic", "--junit", Dir);

        AssertUsageError(r, null, "--junit", $"'{Dir}' is a directory");
    }

    [Fact]
    public void The_junit_file_must_not_be_the_report()
    {
        var path = PathIn("same.json");

        var r = Invoke("run", Shipped("two-pins"), "--runtime", "deterministic", "--report", path, "--junit", path);

        AssertUsageError(r, path, "--junit", "also the --report");
    }

    [Theory]
    [InlineData("run")]
    [InlineData("explore")]
    [InlineData("replay")]
    public void Help_lists_junit(string command)
    {
        var r = Invoke(command, "--help");
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("--junit", r.Out);
    }

    // --- the XML itself -----------------------------------------------------------------------

    [Fact]
    public void Inconclusive_is_skipped_and_an_internal_error_is_an_error_with_the_counts_to_match()
    {
        var props = new List<KeyValuePair<string, string>> { new("runtime", "local") };
        var skipped = JUnitReport.Render("daxsim.run",
            [new JUnitCase("daxsim.run", "s [mainline]", TimeSpan.FromSeconds(1.5), JUnitOutcome.Skipped, props,
                "inconclusive", "inconclusive: the host took 300 ms", "inconclusive: the host took 300 ms")],
            DateTime.UtcNow);
        var root = XDocument.Parse(skipped).Root!;
        var (_, testCase) = Single(root, failures: 0, skipped: 1);
        Assert.Equal("1.500", (string?)testCase.Attribute("time"));
        Assert.Equal("inconclusive: the host took 300 ms", (string?)Assert.Single(testCase.Elements("skipped")).Attribute("message"));

        var error = JUnitReport.Render("daxsim.run",
            [new JUnitCase("daxsim.run", "s [mainline]", TimeSpan.Zero, JUnitOutcome.Error, props,
                "internal-error", "internal-error: boom", "System.Exception: boom\n   at X()")],
            DateTime.UtcNow);
        var (_, errorCase) = Single(XDocument.Parse(error).Root!, failures: 0, errors: 1);
        Assert.Equal("internal-error", (string?)Assert.Single(errorCase.Elements("error")).Attribute("type"));
    }

    [Fact]
    public void Text_that_xml_cannot_hold_is_escaped_or_replaced()
    {
        var xml = JUnitReport.Render("daxsim.run",
            [new JUnitCase("daxsim.run", "a<b & \"c\"", TimeSpan.Zero, JUnitOutcome.Failed, [],
                "S1", "bad \u0001 char", "line <1>\n]]> end \u0000")],
            DateTime.UtcNow);
        var failure = XDocument.Parse(xml).Root!.Descendants("failure").Single();
        Assert.Equal("bad ? char", (string?)failure.Attribute("message"));
        Assert.Equal("line <1>\n]]> end ?", failure.Value);
        Assert.StartsWith("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", xml);
    }
}
