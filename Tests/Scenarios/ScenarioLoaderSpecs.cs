using System.Text;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using Xunit;
using ShippedScenarios = DaxSim.Tests.Support.Scenarios;

// Not DaxSim.Tests.Scenarios: a namespace of that name would capture the unqualified
// `Scenarios.Parse(...)` / `Scenarios.Dax` calls of the other test files (the helper
// class DaxSim.Tests.Support.Scenarios) and break their build.
namespace DaxSim.Tests.ScenarioFiles;

/// <summary>
/// The strict scenario loader: every kind of bad input is reported with the exact line and
/// column of the offending key or value (1-based; a string's opening quote, an object's
/// '{'), and good input gives the right model.
/// </summary>
public sealed class ScenarioLoaderSpecs
{
    private const string Bad = "bad.json";

    private const string SleepStep = """{ "op": "sleep", "for": "1ms" }""";

    // --- helpers ------------------------------------------------------------------------------

    private static IReadOnlyList<ScenarioError> Errors(string json) =>
        Assert.Throws<ScenarioException>(() => ScenarioLoader.Parse(json, Bad)).Errors;

    private static void AssertError(ScenarioError error, int line, int column, string fragment)
    {
        Assert.Equal(Bad, error.Source);
        Assert.True(error.Line == line && error.Column == column, $"expected the error at {line}:{column}, got {error}");
        Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
    }

    /// <summary>The text must be rejected with exactly one error, at line:column, whose message contains the fragment.</summary>
    private static void AssertOnly(string json, int line, int column, string fragment) =>
        AssertError(Assert.Single(Errors(json)), line, column, fragment);

    private static Scenario Load(string json) => ScenarioLoader.Parse(json, "good.json");

    /// <summary>The step is on line 9, from column 7. Files: "dax" (DAX, 4 pages), "src" (plain, 4 pages).</summary>
    private static string WithStep(string step) => $$"""
        {
          "name": "t",
          "files": [
            { "name": "dax", "pages": 4 },
            { "name": "src", "dax": false, "pages": 4 }
          ],
          "tasks": [
            { "name": "a", "steps": [
              {{step}}
            ] }
          ]
        }
        """;

    /// <summary>The fault is on line 7, from column 5. Tasks "a" and "b".</summary>
    private static string WithFault(string fault) => $$"""
        {
          "name": "t",
          "files": [ { "name": "dax", "pages": 4 } ],
          "tasks": [ { "name": "a", "steps": [ {{SleepStep}} ] },
                     { "name": "b", "steps": [ {{SleepStep}} ] } ],
          "faults": [
            {{fault}}
          ]
        }
        """;

    /// <summary>The task is on line 5, from column 5. File "dax" (DAX, 4 pages).</summary>
    private static string WithTask(string task) => $$"""
        {
          "name": "t",
          "files": [ { "name": "dax", "pages": 4 } ],
          "tasks": [
            {{task}}
          ]
        }
        """;

    /// <summary>The file is on line 4, from column 5.</summary>
    private static string WithFile(string file) => $$"""
        {
          "name": "t",
          "files": [
            {{file}}
          ],
          "tasks": [ { "name": "a", "steps": [ {{SleepStep}} ] } ]
        }
        """;

    /// <summary>The extra top-level member is on line 5, from column 3. Files: "dax" (DAX, 4 pages), "src" (plain, 4 pages).</summary>
    private static string WithTop(string member) => $$"""
        {
          "name": "t",
          "files": [ { "name": "dax", "pages": 4 }, { "name": "src", "dax": false, "pages": 4 } ],
          "tasks": [ { "name": "a", "steps": [ {{SleepStep}} ] } ],
          {{member}}
        }
        """;

    /// <summary>
    /// The process list's text is on line 5, from column 5; the tasks are one a line from line
    /// 8, each from column 5. Files: "dax" (DAX, 4 pages), "src" (plain, 4 pages), "dax2" (DAX, 2 pages).
    /// </summary>
    private static string WithProcess(string process, params string[] tasks)
    {
        var taskLines = string.Join(",\n    ", tasks);
        return $$"""
            {
              "name": "t",
              "files": [ { "name": "dax", "pages": 4 }, { "name": "src", "dax": false, "pages": 4 }, { "name": "dax2", "pages": 2 } ],
              "processes": [
                {{process}}
              ],
              "tasks": [
                {{taskLines}}
              ]
            }
            """;
    }

    /// <summary>A task of one sleep step, a thread of <paramref name="process"/> (none: a process of its own); <paramref name="extra"/> goes before "steps".</summary>
    private static string Thread(string name, string? process, string extra = "") =>
        $$"""{ "name": "{{name}}", {{(process is null ? "" : $"\"process\": \"{process}\", ")}}{{extra}}"steps": [ {{SleepStep}} ] }""";

    // --- JSON syntax --------------------------------------------------------------------------

    [Theory]
    [InlineData("{\n  \"name\": x\n}", 2, 11, "invalid start of a value")]
    [InlineData("{\n  \"name\": \"t\" \"files\": []\n}", 2, 15, "invalid after a value")]
    [InlineData("{\n  \"name\" \"t\"\n}", 2, 10, "invalid after a property name")]
    [InlineData("{\n  \"files\": [1 2]\n}", 2, 15, "invalid after a value")]
    [InlineData("{\n  \"name\": \"t\",\n}", 3, 1, "trailing comma is not allowed")]
    [InlineData("{\n  'name': \"t\"\n}", 2, 3, "invalid start of a property name")]
    [InlineData("{\n  \"pages\": NaN\n}", 2, 12, "invalid start of a value")]
    [InlineData("{\n  \"pages\": 0x10\n}", 2, 13, "invalid")]
    public void Invalid_json_syntax_is_reported_at_the_offending_character(string json, int line, int column, string fragment)
    {
        var error = Assert.Single(Errors(json));
        AssertError(error, line, column, "invalid JSON");
        Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Path '", error.Message, StringComparison.Ordinal);
    }

    // System.Text.Json reports a byte offset in the line; an editor counts characters. "été €"
    // is 5 characters and 9 UTF-8 bytes, so counting bytes would put the error 4 columns late.
    [Fact]
    public void A_syntax_error_after_non_ASCII_text_is_reported_at_its_column_in_characters() =>
        AssertOnly("{\n  \"name\": \"été €\", \"x\": y\n}", 2, 25, "invalid JSON");

    [Fact]
    public void A_missing_comma_before_a_key_at_the_start_of_a_line_is_reported_there() =>
        AssertOnly("{\n  \"name\": \"t\"\n\"files\": []\n}", 3, 1, "invalid JSON");

    [Fact]
    public void An_unclosed_object_is_reported_at_the_end_of_the_text() =>
        AssertOnly("{\n  \"name\": \"t\",\n", 3, 1, "reached end of data");

    [Theory]
    [InlineData("{ \"name\": \"t\" }\n  x", 2, 3)]
    [InlineData("{ \"name\": \"t\" } }", 1, 17)]
    [InlineData("{ \"name\": \"t\" }\n// a comment is fine, a second object is not\n{}", 3, 1)]
    public void Text_after_the_closing_brace_is_an_error(string json, int line, int column) =>
        AssertOnly(json, line, column, "after");

    [Theory]
    [InlineData("")]
    [InlineData("   \n\t \n")]
    public void Empty_text_is_an_error_about_the_whole_file(string json)
    {
        var error = Assert.Single(Errors(json));
        Assert.Equal((0, 0), (error.Line, error.Column));
        Assert.Contains("empty", error.Message, StringComparison.Ordinal);
        Assert.Equal("bad.json: the scenario is empty; expected a JSON object", error.ToString());
    }

    [Theory]
    [InlineData("[ { \"name\": \"t\" } ]", 1, 1, "not an array")]
    [InlineData("\"scenario\"", 1, 1, "not the string \"scenario\"")]
    [InlineData("\n  42", 2, 3, "not the number 42")]
    [InlineData("true", 1, 1, "not true")]
    [InlineData("null", 1, 1, "not null")]
    public void The_top_level_must_be_an_object(string json, int line, int column, string fragment)
    {
        var error = Assert.Single(Errors(json));
        AssertError(error, line, column, "a scenario is a JSON object");
        Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_duplicate_top_level_key_is_reported_at_the_second_key() =>
        AssertOnly("""
            {
              "name": "t",
              "name": "u"
            }
            """, 3, 3, "'name' already exists");

    [Fact]
    public void A_duplicate_key_in_a_nested_object_is_reported_at_the_second_key() =>
        AssertOnly(WithFile("""{ "name": "dax", "pages": 4, "pages": 5 }"""), 4, 34, "'pages' already exists");

    // --- unknown keys -------------------------------------------------------------------------

    [Fact]
    public void An_unknown_top_level_key_lists_the_allowed_keys() =>
        AssertOnly(WithTop("\"colour\": \"red\""), 5, 3,
            "unknown key \"colour\" in the scenario; expected one of: name, description, variant, device, files, processes, tasks, faults, limits, expect");

    [Fact]
    public void A_top_level_key_in_the_wrong_case_gets_a_hint() =>
        AssertOnly(WithTop("\"Expect\": \"clean\""), 5, 3,
            "unknown key \"Expect\" in the scenario; did you mean \"expect\"? (keys are case-sensitive)");

    [Fact]
    public void A_misspelled_required_key_gives_the_hint_and_the_missing_key()
    {
        var errors = Errors("""
            {
              "Name": "t",
              "files": [ { "name": "dax", "pages": 4 } ],
              "tasks": [ { "name": "a", "steps": [ { "op": "sleep", "for": "1ms" } ] } ]
            }
            """);
        Assert.Equal(2, errors.Count);
        AssertError(errors[0], 1, 1, "the scenario needs \"name\"");
        AssertError(errors[1], 2, 3, "unknown key \"Name\" in the scenario; did you mean \"name\"? (keys are case-sensitive)");
    }

    [Fact]
    public void An_unknown_key_in_a_file_lists_the_file_keys() =>
        AssertOnly(WithFile("""{ "name": "dax", "size": 4, "pages": 4 }"""), 4, 22,
            "unknown key \"size\" in a file; expected one of: name, dax, pages");

    [Fact]
    public void A_file_key_in_the_wrong_case_gets_a_hint() =>
        AssertOnly(WithFile("""{ "name": "dax", "Dax": true, "pages": 4 }"""), 4, 22,
            "unknown key \"Dax\" in a file; did you mean \"dax\"? (keys are case-sensitive)");

    [Fact]
    public void An_unknown_key_in_a_task_lists_the_task_keys() =>
        AssertOnly(WithTask($$"""{ "name": "a", "threads": 2, "steps": [ {{SleepStep}} ] }"""), 5, 20,
            "unknown key \"threads\" in a task; expected one of: name, repeat, node, process, steps");

    [Fact]
    public void A_task_key_in_the_wrong_case_gets_a_hint() =>
        AssertOnly(WithTask($$"""{ "name": "a", "Repeat": 2, "steps": [ {{SleepStep}} ] }"""), 5, 20,
            "did you mean \"repeat\"? (keys are case-sensitive)");

    [Fact]
    public void An_unknown_key_in_a_step_lists_the_keys_of_that_op() =>
        AssertOnly(WithStep("""{ "op": "sleep", "for": "1ms", "file": "dax" }"""), 9, 38,
            "unknown key \"file\" in a sleep step; expected one of: op, repeat, for");

    [Fact]
    public void A_step_key_in_the_wrong_case_gets_a_hint_and_the_missing_key_is_reported()
    {
        var errors = Errors(WithStep("""{ "op": "mmap", "file": "dax", "Pages": "0-3" }"""));
        Assert.Equal(2, errors.Count);
        AssertError(errors[0], 9, 7, "a mmap step needs \"pages\"");
        AssertError(errors[1], 9, 38, "unknown key \"Pages\" in a mmap step; did you mean \"pages\"? (keys are case-sensitive)");
    }

    [Fact]
    public void An_unknown_key_in_a_fault_lists_the_keys_of_that_kind() =>
        AssertOnly(WithFault("""{ "kind": "signal", "at": "1ms", "task": "a", "node": 1 }"""), 7, 51,
            "unknown key \"node\" in a signal fault; expected one of: kind, at, task, restart");

    [Fact]
    public void A_fault_key_in_the_wrong_case_gets_a_hint()
    {
        var errors = Errors(WithFault("""{ "kind": "heal", "At": "1ms" }"""));
        Assert.Equal(2, errors.Count);
        AssertError(errors[0], 7, 5, "a heal fault needs \"at\"");
        AssertError(errors[1], 7, 23, "unknown key \"At\" in a heal fault; did you mean \"at\"? (keys are case-sensitive)");
    }

    [Fact]
    public void An_unknown_key_in_the_limits_lists_the_limits() =>
        AssertOnly(WithTop("\"limits\": { \"timeout\": \"1s\" }"), 5, 15,
            "unknown key \"timeout\" in \"limits\"; expected one of: virtualTime, opBound, leaseBreakTime, maxDeliveries");

    [Fact]
    public void A_limit_in_the_wrong_case_gets_a_hint() =>
        AssertOnly(WithTop("\"limits\": { \"virtualtime\": \"1s\" }"), 5, 15,
            "unknown key \"virtualtime\" in \"limits\"; did you mean \"virtualTime\"? (keys are case-sensitive)");

    [Fact]
    public void An_unknown_key_in_the_device_lists_blocks() =>
        AssertOnly(WithTop("\"device\": { \"block\": 8 }"), 5, 15,
            "unknown key \"block\" in \"device\"; expected one of: blocks");

    [Fact]
    public void A_device_key_in_the_wrong_case_gets_a_hint() =>
        AssertOnly(WithTop("\"device\": { \"Blocks\": 8 }"), 5, 15, "did you mean \"blocks\"?");

    // --- wrong types --------------------------------------------------------------------------

    [Fact]
    public void A_string_where_a_number_belongs() =>
        AssertOnly(WithFile("""{ "name": "dax", "pages": "4" }"""), 4, 31, "\"pages\" must be a number, not the string \"4\"");

    [Fact]
    public void A_number_where_a_string_belongs() =>
        AssertOnly("""
            {
              "name": 5,
              "files": [ { "name": "dax", "pages": 4 } ],
              "tasks": [ { "name": "a", "steps": [ { "op": "sleep", "for": "1ms" } ] } ]
            }
            """, 2, 11, "\"name\" must be a string, not the number 5");

    [Fact]
    public void A_bool_where_a_number_belongs() =>
        AssertOnly(WithTask($$"""{ "name": "a", "repeat": true, "steps": [ {{SleepStep}} ] }"""), 5, 30,
            "\"repeat\" must be a number, not true");

    [Theory]
    [InlineData("1", "not the number 1")]
    [InlineData("\"true\"", "not the string \"true\"")]
    [InlineData("null", "not null")]
    public void Dax_must_be_a_bool(string value, string fragment) =>
        AssertOnly(WithFile($$"""{ "name": "dax", "dax": {{value}}, "pages": 4 }"""), 4, 29, "\"dax\" must be true or false, " + fragment);

    [Fact]
    public void A_description_must_be_a_string() =>
        AssertOnly(WithTop("\"description\": 5"), 5, 18, "\"description\" must be a string, not the number 5");

    [Fact]
    public void Files_must_be_an_array() =>
        AssertOnly("""
            {
              "name": "t",
              "files": { "name": "dax", "pages": 4 },
              "tasks": [ { "name": "a", "steps": [ { "op": "sleep", "for": "1ms" } ] } ]
            }
            """, 3, 12, "\"files\" must be an array, not an object");

    [Fact]
    public void A_file_must_be_an_object() =>
        AssertOnly(WithFile("\"dax\""), 4, 5, "a file must be a JSON object, not the string \"dax\"");

    [Fact]
    public void A_task_must_be_an_object() =>
        AssertOnly(WithTask("[ \"a\" ]"), 5, 5, "a task must be a JSON object, not an array");

    [Fact]
    public void Steps_must_be_an_array() =>
        AssertOnly(WithTask($$"""{ "name": "a", "steps": {{SleepStep}} }"""), 5, 29, "\"steps\" must be an array, not an object");

    [Fact]
    public void A_step_must_be_an_object() =>
        AssertOnly(WithStep("\"sleep\""), 9, 7, "a step must be a JSON object, not the string \"sleep\"");

    [Fact]
    public void An_op_must_be_a_string() =>
        AssertOnly(WithStep("""{ "op": 3 }"""), 9, 15, "\"op\" must be a string, not the number 3");

    [Fact]
    public void A_fault_kind_must_be_a_string() =>
        AssertOnly(WithFault("""{ "kind": 1 }"""), 7, 15, "\"kind\" must be a string, not the number 1");

    [Fact]
    public void A_fault_must_be_an_object() =>
        AssertOnly(WithFault("\"signal\""), 7, 5, "a fault must be a JSON object, not the string \"signal\"");

    [Fact]
    public void Faults_must_be_an_array() =>
        AssertOnly(WithTop("\"faults\": {}"), 5, 13, "\"faults\" must be an array, not an object");

    [Fact]
    public void The_device_must_be_an_object() =>
        AssertOnly(WithTop("\"device\": 8"), 5, 13, "\"device\" must be a JSON object, not the number 8");

    [Fact]
    public void The_limits_must_be_an_object() =>
        AssertOnly(WithTop("\"limits\": \"10s\""), 5, 13, "\"limits\" must be a JSON object, not the string \"10s\"");

    [Fact]
    public void A_variant_must_be_a_string() =>
        AssertOnly(WithTop("\"variant\": 7"), 5, 14, "\"variant\" must be a string, not the number 7");

    // --- unknown names ------------------------------------------------------------------------

    [Fact]
    public void An_unknown_op_lists_every_op() =>
        AssertOnly(WithStep("""{ "op": "trunc", "file": "dax", "size": 0 }"""), 9, 15,
            "unknown op \"trunc\"; expected one of: mmap, munmap, touch, dioRead, dioWrite, truncate, punchHole, zeroRange, collapseRange, insertRange, fallocate, holdLease, sleep, fsync");

    [Fact]
    public void Ops_are_case_sensitive() =>
        AssertOnly(WithStep("""{ "op": "Mmap", "file": "dax", "pages": "0" }"""), 9, 15, "unknown op \"Mmap\"");

    [Fact]
    public void An_unknown_fault_kind_lists_every_kind() =>
        AssertOnly(WithFault("""{ "at": "1ms", "kind": "crash" }"""), 7, 28,
            "unknown fault kind \"crash\"; expected one of: signal, kill, enomem, crashNode, partition, heal, drop, duplicate, delay");

    [Fact]
    public void An_unknown_variant_lists_every_variant() =>
        AssertOnly(WithTop("\"variant\": \"Mainline\""), 5, 14,
            "unknown variant \"Mainline\"; expected one of: mainline, seed-v7, linux-4.18, linux-6.15, ext4-6.15, virtiofs-6.15, no-break, no-unmap, hold-mmaplock, retry-in-callback, drop-iolock, gup-fast-no-recheck, wrong-wake-key, idle-at-0, idle-at-2, no-break-on-fallocate, busy-scan-skips-locked-entry, busy-scan-skips-waited-entry, busy-scan-skips-unmapped, fuse-breaks-first-page-only, lease-break-drops-error, or DEVIATION@BASE");

    [Fact]
    public void An_unknown_expect_lists_the_verdicts() =>
        AssertOnly(WithTop("\"expect\": \"pass\""), 5, 13, "unknown verdict \"pass\" for \"expect\"; expected clean, safety or liveness");

    [Fact]
    public void A_step_naming_an_undefined_file_lists_the_files() =>
        AssertOnly(WithStep("""{ "op": "munmap", "file": "nope" }"""), 9, 33,
            "\"file\" names file \"nope\", which is not defined; files: dax, src");

    [Fact]
    public void A_fault_naming_an_undefined_task_lists_the_tasks() =>
        AssertOnly(WithFault("""{ "kind": "kill", "at": "1ms", "task": "c" }"""), 7, 44,
            "\"task\" names task \"c\", which is not defined; tasks: a, b");

    [Fact]
    public void A_plain_file_where_a_dax_file_is_needed() =>
        AssertOnly(WithStep("""{ "op": "mmap", "file": "src", "pages": "0" }"""), 9, 31,
            "\"file\" must name a DAX file, and \"src\" has \"dax\": false");

    [Fact]
    public void DioRead_from_a_dax_file_is_the_files_own_io()
    {
        var step = Assert.IsType<DioReadStep>(ScenarioLoader.Parse(
            WithStep("""{ "op": "dioRead", "from": "dax", "into": "dax", "pages": "0-3" }"""), "ok.json").Tasks[0].Steps[0]);
        Assert.Equal(step.Into, step.From);
    }

    [Fact]
    public void DioRead_into_a_plain_file() =>
        AssertOnly(WithStep("""{ "op": "dioRead", "from": "src", "into": "src", "pages": "0-3" }"""), 9, 49,
            "\"into\" must name a DAX file, and \"src\" has \"dax\": false");

    [Fact]
    public void DioWrite_to_a_dax_file_is_the_files_own_io()
    {
        var step = Assert.IsType<DioWriteStep>(ScenarioLoader.Parse(
            WithStep("""{ "op": "dioWrite", "from": "dax", "to": "dax", "pages": "0" }"""), "ok.json").Tasks[0].Steps[0]);
        Assert.Equal(step.From, step.To);
    }

    [Theory]
    [InlineData("""{ "op": "holdLease", "file": "src", "for": "1ms" }""", 9, 36)]
    [InlineData("""{ "op": "truncate", "file": "src", "size": 0 }""", 9, 35)]
    [InlineData("""{ "op": "punchHole", "file": "src", "pages": "0" }""", 9, 36)]
    public void Layout_ops_need_a_dax_file(string step, int line, int column) =>
        AssertOnly(WithStep(step), line, column, "must name a DAX file");

    // --- page ranges --------------------------------------------------------------------------

    [Fact]
    public void A_range_past_the_end_of_the_file() =>
        AssertOnly(WithStep("""{ "op": "touch", "file": "dax", "pages": "2-4" }"""), 9, 48,
            "page range 2-4 is outside file \"dax\" (4 pages, 0-3)");

    [Fact]
    public void A_single_page_string_past_the_end_of_the_file() =>
        AssertOnly(WithStep("""{ "op": "touch", "file": "dax", "pages": "4" }"""), 9, 48,
            "page range 4 is outside file \"dax\" (4 pages, 0-3)");

    [Fact]
    public void A_page_number_past_the_end_of_the_file() =>
        AssertOnly(WithStep("""{ "op": "touch", "file": "dax", "pages": 4 }"""), 9, 48,
            "\"pages\" is 4, out of range: it must be from 0 to 3 (the last page of file \"dax\")");

    [Fact]
    public void A_negative_page_number() =>
        AssertOnly(WithStep("""{ "op": "touch", "file": "dax", "pages": -1 }"""), 9, 48,
            "\"pages\" is -1, out of range: it must be from 0 to 3");

    [Fact]
    public void A_dio_range_past_the_end_of_the_plain_file() =>
        AssertOnly("""
            {
              "name": "t",
              "files": [ { "name": "dax", "pages": 8 }, { "name": "src", "dax": false, "pages": 2 } ],
              "tasks": [ { "name": "a", "steps": [
                { "op": "dioRead", "from": "src", "into": "dax", "pages": "0-3" } ] } ]
            }
            """, 5, 63, "page range 0-3 is outside file \"src\" (2 pages, 0-1)");

    [Fact]
    public void A_range_that_ends_before_it_starts() =>
        AssertOnly(WithStep("""{ "op": "touch", "file": "dax", "pages": "3-1" }"""), 9, 48, "page range \"3-1\" ends before it starts");

    [Theory]
    [InlineData("a-b")]
    [InlineData("-1")]
    [InlineData("1-")]
    [InlineData("1,2")]
    [InlineData("0-3-5")]
    [InlineData("")]
    [InlineData("1234567890")]
    [InlineData("0x1")]
    public void A_malformed_range(string range) =>
        AssertOnly(WithStep($$"""{ "op": "touch", "file": "dax", "pages": "{{range}}" }"""), 9, 48,
            $"\"pages\" is \"{range}\"; a page range is \"first-last\" (inclusive) or one page number");

    [Fact]
    public void A_range_of_non_ascii_digits_is_malformed_not_a_crash() =>
        AssertOnly(WithStep("{ \"op\": \"touch\", \"file\": \"dax\", \"pages\": \"\u0663\" }"), 9, 48,
            "a page range is \"first-last\" (inclusive) or one page number");

    [Fact]
    public void Pages_must_be_a_range_or_a_number() =>
        AssertOnly(WithStep("""{ "op": "touch", "file": "dax", "pages": [0, 3] }"""), 9, 48,
            "\"pages\" must be a page range like \"0-3\" or a page number, not an array");

    // --- durations ----------------------------------------------------------------------------

    // The value of "for" in { "op": "sleep", "for": VALUE } is on line 9 at column 31.
    [Theory]
    [InlineData("200", "\"for\" is 200 without a unit; write a duration like \"200ms\" (units: ns, us, ms, s)")]
    [InlineData("2.5", "\"for\" is 2.5 without a unit")]
    [InlineData("\"200\"", "\"for\": duration '200' needs a unit (ns, us, ms, s)")]
    [InlineData("\"5 min\"", "needs a unit")]
    [InlineData("\"150ns\"", "\"for\": duration '150ns' is not a multiple of 100ns, the clock's resolution")]
    [InlineData("\"0.00001ms\"", "is not a multiple of 100ns")]
    [InlineData("\"86401s\"", "\"for\": duration '86401s' is longer than a day")]
    [InlineData("\"86400000.1ms\"", "is longer than a day")]
    [InlineData("\"xms\"", "\"for\": 'xms' is not a duration (a number and a unit: ns, us, ms, s)")]
    [InlineData("\"-1ms\"", "is not a duration")]
    [InlineData("\"1.5.2ms\"", "is not a duration")]
    [InlineData("\"1e3ms\"", "is not a duration")]
    [InlineData("true", "\"for\" must be a string, not true")]
    public void A_bad_duration(string value, string fragment) =>
        AssertOnly(WithStep($$"""{ "op": "sleep", "for": {{value}} }"""), 9, 31, fragment);

    [Fact]
    public void A_duration_too_large_for_a_decimal_is_longer_than_a_day_not_a_crash() =>
        AssertOnly(WithStep("""{ "op": "sleep", "for": "100000000000000000000s" }"""), 9, 31, "longer than a day");

    [Fact]
    public void A_bad_io_time() =>
        AssertOnly(WithStep("""{ "op": "dioRead", "from": "src", "into": "dax", "pages": "0", "ioTime": "50ns" }"""), 9, 80,
            "\"ioTime\": duration '50ns' is not a multiple of 100ns");

    [Fact]
    public void A_zero_virtual_time() =>
        AssertOnly(WithTop("\"limits\": { \"virtualTime\": \"0s\" }"), 5, 30, "\"virtualTime\" must be longer than 0");

    [Fact]
    public void A_zero_op_bound() =>
        AssertOnly(WithTop("\"limits\": { \"opBound\": \"0ms\" }"), 5, 26, "\"opBound\" must be longer than 0");

    [Fact]
    public void A_limit_without_a_unit() =>
        AssertOnly(WithTop("\"limits\": { \"leaseBreakTime\": \"45\" }"), 5, 33, "\"leaseBreakTime\": duration '45' needs a unit");

    [Fact]
    public void A_fault_time_without_a_unit() =>
        AssertOnly(WithFault("""{ "kind": "heal", "at": 5 }"""), 7, 29, "\"at\" is 5 without a unit");

    // --- numbers ------------------------------------------------------------------------------

    // The value of "pages" in { "name": "dax", "pages": VALUE } is on line 4 at column 31.
    [Theory]
    [InlineData("0", "\"pages\" is 0, out of range: it must be from 1 to 1,048,576")]
    [InlineData("-4", "\"pages\" is -4, out of range: it must be from 1 to 1,048,576")]
    [InlineData("1048577", "\"pages\" is 1048577, out of range: it must be from 1 to 1,048,576")]
    [InlineData("123456789012345678901234567890", "\"pages\" is 123456789012345678901234567890, out of range")]
    [InlineData("2.5", "\"pages\" must be a whole number, not 2.5")]
    [InlineData("4.0", "\"pages\" must be a whole number")]
    public void File_pages_out_of_range_or_not_whole(string value, string fragment) =>
        AssertOnly(WithFile($$"""{ "name": "dax", "pages": {{value}} }"""), 4, 31, fragment);

    // The value of "repeat" in { "op": "sleep", "for": "1ms", "repeat": VALUE } is on line 9 at column 48.
    [Theory]
    [InlineData("0", "\"repeat\" is 0, out of range: it must be from 1 to 1,000,000")]
    [InlineData("1000001", "\"repeat\" is 1000001, out of range: it must be from 1 to 1,000,000")]
    [InlineData("-1", "\"repeat\" is -1, out of range")]
    [InlineData("99999999999999999999999999999999999999", "\"repeat\" is 99999999999999999999999999999999999999, out of range")]
    [InlineData("1.5", "\"repeat\" must be a whole number, not 1.5")]
    [InlineData("\"2\"", "\"repeat\" must be a number, not the string \"2\"")]
    public void Step_repeat_out_of_range_or_not_whole(string value, string fragment) =>
        AssertOnly(WithStep($$"""{ "op": "sleep", "for": "1ms", "repeat": {{value}} }"""), 9, 48, fragment);

    [Theory]
    [InlineData("0", "\"repeat\" is 0, out of range: it must be from 1 to 1,000,000")]
    [InlineData("2000000", "\"repeat\" is 2000000, out of range")]
    public void Task_repeat_out_of_range(string value, string fragment) =>
        AssertOnly(WithTask($$"""{ "name": "a", "repeat": {{value}}, "steps": [ {{SleepStep}} ] }"""), 5, 30, fragment);

    [Theory]
    [InlineData("1024", "\"node\" is 1024, out of range: it must be from 0 to 1,023")]
    [InlineData("-1", "\"node\" is -1, out of range: it must be from 0 to 1,023")]
    [InlineData("\"0\"", "\"node\" must be a number, not the string \"0\"")]
    public void Task_node_out_of_range(string value, string fragment) =>
        AssertOnly(WithTask($$"""{ "name": "a", "node": {{value}}, "steps": [ {{SleepStep}} ] }"""), 5, 28, fragment);

    [Theory]
    [InlineData("0", "\"blocks\" is 0, out of range: it must be from 1 to 10,000,000")]
    [InlineData("10000001", "\"blocks\" is 10000001, out of range: it must be from 1 to 10,000,000")]
    [InlineData("8.5", "\"blocks\" must be a whole number, not 8.5")]
    [InlineData("3", "the device has 3 blocks, fewer than the 4 pages of the DAX files")]
    public void Device_blocks_out_of_range(string value, string fragment) =>
        AssertOnly(WithTop($$"""
            "device": { "blocks": {{value}} }
            """), 5, 25, fragment);

    [Fact]
    public void The_device_must_hold_all_dax_files_together()
    {
        var json = """
            {
              "name": "t",
              "device": { "blocks": 7 },
              "files": [ { "name": "a", "pages": 4 }, { "name": "b", "dax": true, "pages": 4 }, { "name": "c", "dax": false, "pages": 100 } ],
              "tasks": [ { "name": "a", "steps": [ { "op": "sleep", "for": "1ms" } ] } ]
            }
            """;
        AssertOnly(json, 3, 25, "the device has 7 blocks, fewer than the 8 pages of the DAX files");
    }

    [Fact]
    public void The_default_device_must_hold_all_dax_files_too()
    {
        // Eleven DAX files of the largest size: 11,534,336 pages, more than the largest
        // device (10,000,000 blocks), so no default device can hold them.
        var files = string.Join(", ", Enumerable.Range(0, 11).Select(i => $$"""{ "name": "f{{i}}", "pages": 1048576 }"""));
        var json = $$"""
            {
              "name": "t",
              "files": [ {{files}} ],
              "tasks": [ { "name": "a", "steps": [ { "op": "sleep", "for": "1ms" } ] } ]
            }
            """;
        AssertOnly(json, 3, 12, "blocks");
    }

    [Theory]
    [InlineData("5", "\"size\" is 5, out of range: it must be from 0 to 4 (the size of file \"dax\")")]
    [InlineData("-1", "\"size\" is -1, out of range: it must be from 0 to 4 (the size of file \"dax\")")]
    [InlineData("\"0\"", "\"size\" must be a number, not the string \"0\"")]
    public void Truncate_size_beyond_the_file(string value, string fragment) =>
        AssertOnly(WithStep($$"""{ "op": "truncate", "file": "dax", "size": {{value}} }"""), 9, 50, fragment);

    [Theory]
    [InlineData("0")]
    [InlineData("0.0")]
    [InlineData("-0.5")]
    [InlineData("1.5")]
    [InlineData("2")]
    public void A_probability_not_above_0_and_at_most_1(string value) =>
        AssertOnly(WithFault($$"""{ "kind": "drop", "probability": {{value}} }"""), 7, 38,
            "out of range: it must be above 0 and at most 1");

    [Fact]
    public void A_probability_out_of_range_names_the_value() =>
        AssertOnly(WithFault("""{ "kind": "drop", "probability": 1.5 }"""), 7, 38, "\"probability\" is 1.5, out of range");

    [Fact]
    public void A_probability_must_be_a_number() =>
        AssertOnly(WithFault("""{ "kind": "drop", "probability": "0.5" }"""), 7, 38, "\"probability\" must be a number, not the string \"0.5\"");

    [Fact]
    public void A_crashed_node_out_of_range() =>
        AssertOnly(WithFault("""{ "kind": "crashNode", "at": "1ms", "node": 1024 }"""), 7, 49, "\"node\" is 1024, out of range: it must be from 0 to 1,023");

    [Fact]
    public void Max_deliveries_out_of_range() =>
        AssertOnly(WithTop("\"limits\": { \"maxDeliveries\": 0 }"), 5, 32,
            "\"maxDeliveries\" is 0, out of range: it must be from 1 to 1,000,000,000,000");

    // --- message faults and partitions ---------------------------------------------------------

    [Fact]
    public void A_delay_without_max() =>
        AssertOnly(WithFault("""{ "kind": "delay", "probability": 0.5 }"""), 7, 5, "a delay fault needs \"max\"");

    [Fact]
    public void A_delay_of_zero() =>
        AssertOnly(WithFault("""{ "kind": "delay", "probability": 0.5, "max": "0s" }"""), 7, 51, "\"max\" must be longer than 0");

    [Fact]
    public void Max_is_only_for_delay() =>
        AssertOnly(WithFault("""{ "kind": "drop", "probability": 0.5, "max": "1ms" }"""), 7, 43,
            "unknown key \"max\" in a drop fault; expected one of: kind, probability, from, until");

    [Theory]
    [InlineData("2ms", "\"until\" (2ms) must be later than \"from\" (2ms)")]
    [InlineData("1ms", "\"until\" (1ms) must be later than \"from\" (2ms)")]
    public void Until_must_be_after_from(string until, string fragment) =>
        AssertOnly(WithFault($$"""{ "kind": "duplicate", "probability": 0.5, "from": "2ms", "until": "{{until}}" }"""), 7, 72, fragment);

    [Fact]
    public void A_partition_with_one_group() =>
        AssertOnly(WithFault("""{ "kind": "partition", "at": "1ms", "between": [[0]] }"""), 7, 52, "\"between\" needs at least 2 entries");

    [Fact]
    public void A_partition_with_overlapping_groups() =>
        AssertOnly(WithFault("""{ "kind": "partition", "at": "1ms", "between": [[0, 1], [1, 2]] }"""), 7, 62,
            "node 1 is in more than one group of the partition");

    [Fact]
    public void A_partition_with_an_empty_group() =>
        AssertOnly(WithFault("""{ "kind": "partition", "at": "1ms", "between": [[0], []] }"""), 7, 58, "a partition group must not be empty");

    [Fact]
    public void A_partition_group_must_be_an_array() =>
        AssertOnly(WithFault("""{ "kind": "partition", "at": "1ms", "between": [[0], 1] }"""), 7, 58, "a partition group must be an array, not the number 1");

    [Fact]
    public void A_partition_node_out_of_range() =>
        AssertOnly(WithFault("""{ "kind": "partition", "at": "1ms", "between": [[0], [1024]] }"""), 7, 59, "a node is 1024, out of range: it must be from 0 to 1,023");

    [Fact]
    public void Partition_groups_must_be_an_array() =>
        AssertOnly(WithFault("""{ "kind": "partition", "at": "1ms", "between": "0|1" }"""), 7, 52, "\"between\" must be an array, not the string \"0|1\"");

    // --- missing keys, empty lists, duplicates ---------------------------------------------------

    [Fact]
    public void An_empty_object_needs_name_files_and_tasks()
    {
        var errors = Errors("{\n}");
        Assert.Equal(3, errors.Count);
        AssertError(errors[0], 1, 1, "the scenario needs \"name\"");
        AssertError(errors[1], 1, 1, "the scenario needs \"files\"");
        AssertError(errors[2], 1, 1, "the scenario needs \"tasks\"");
    }

    [Fact]
    public void Missing_name() =>
        AssertOnly("""
            {
              "files": [ { "name": "dax", "pages": 4 } ],
              "tasks": [ { "name": "a", "steps": [ { "op": "sleep", "for": "1ms" } ] } ]
            }
            """, 1, 1, "the scenario needs \"name\"");

    [Fact]
    public void Missing_files()
    {
        var errors = Errors("""
            {
              "name": "t",
              "tasks": [ { "name": "a", "steps": [ { "op": "mmap", "file": "dax", "pages": "0" } ] } ]
            }
            """);
        Assert.Equal(2, errors.Count);
        AssertError(errors[0], 1, 1, "the scenario needs \"files\"");
        AssertError(errors[1], 3, 64, "\"file\" names file \"dax\", but no file is defined");
    }

    [Fact]
    public void Missing_tasks() =>
        AssertOnly("""
              {
                "name": "t",
                "files": [ { "name": "dax", "pages": 4 } ]
              }
            """, 1, 3, "the scenario needs \"tasks\"");

    [Fact]
    public void An_empty_name() =>
        AssertOnly("""
            {
              "name": "  ",
              "files": [ { "name": "dax", "pages": 4 } ],
              "tasks": [ { "name": "a", "steps": [ { "op": "sleep", "for": "1ms" } ] } ]
            }
            """, 2, 11, "\"name\" must not be empty");

    [Fact]
    public void Empty_files() =>
        AssertOnly("""
            {
              "name": "t",
              "files": [],
              "tasks": [ { "name": "a", "steps": [ { "op": "sleep", "for": "1ms" } ] } ]
            }
            """, 3, 12, "\"files\" must not be empty");

    [Fact]
    public void Empty_tasks() =>
        AssertOnly("""
            {
              "name": "t",
              "files": [ { "name": "dax", "pages": 4 } ],
              "tasks": [ ]
            }
            """, 4, 12, "\"tasks\" must not be empty");

    [Fact]
    public void Empty_steps() =>
        AssertOnly(WithTask("""{ "name": "a", "steps": [] }"""), 5, 29, "\"steps\" must not be empty");

    [Fact]
    public void A_task_without_steps() =>
        AssertOnly(WithTask("""{ "name": "a" }"""), 5, 5, "a task needs \"steps\"");

    [Fact]
    public void A_task_without_a_name() =>
        AssertOnly(WithTask($$"""{ "steps": [ {{SleepStep}} ] }"""), 5, 5, "a task needs \"name\"");

    [Fact]
    public void A_file_without_a_name() =>
        AssertOnly(WithFile("""{ "pages": 4 }"""), 4, 5, "a file needs \"name\"");

    [Fact]
    public void A_file_without_pages() =>
        AssertOnly(WithFile("""{ "name": "dax" }"""), 4, 5, "a file needs \"pages\"");

    [Fact]
    public void A_step_without_an_op() =>
        AssertOnly(WithStep("""{ "file": "dax", "pages": "0-3" }"""), 9, 7,
            "a step needs \"op\", one of: mmap, munmap, touch, dioRead, dioWrite, truncate, punchHole, zeroRange, collapseRange, insertRange, fallocate, holdLease, sleep, fsync");

    [Theory]
    [InlineData("""{ "op": "mmap", "file": "dax" }""", "a mmap step needs \"pages\"")]
    [InlineData("""{ "op": "munmap" }""", "a munmap step needs \"file\"")]
    [InlineData("""{ "op": "touch", "pages": "0" }""", "a touch step needs \"file\"")]
    [InlineData("""{ "op": "dioRead", "from": "src", "pages": "0" }""", "a dioRead step needs \"into\"")]
    [InlineData("""{ "op": "dioRead", "into": "dax", "pages": "0" }""", "a dioRead step needs \"from\"")]
    [InlineData("""{ "op": "dioWrite", "from": "dax", "pages": "0" }""", "a dioWrite step needs \"to\"")]
    [InlineData("""{ "op": "dioWrite", "from": "dax", "to": "src" }""", "a dioWrite step needs \"pages\"")]
    [InlineData("""{ "op": "truncate", "file": "dax" }""", "a truncate step needs \"size\"")]
    [InlineData("""{ "op": "punchHole", "file": "dax" }""", "a punchHole step needs \"pages\"")]
    [InlineData("""{ "op": "zeroRange", "pages": "0" }""", "a zeroRange step needs \"file\"")]
    [InlineData("""{ "op": "collapseRange", "file": "dax" }""", "a collapseRange step needs \"pages\"")]
    [InlineData("""{ "op": "fallocate", "file": "dax" }""", "a fallocate step needs \"pages\"")]
    [InlineData("""{ "op": "holdLease", "file": "dax" }""", "a holdLease step needs \"for\"")]
    [InlineData("""{ "op": "sleep" }""", "a sleep step needs \"for\"")]
    [InlineData("""{ "op": "sleep", "random": true }""", "a sleep step needs \"for\"")]
    [InlineData("""{ "op": "fsync" }""", "a fsync step needs \"file\"")]
    [InlineData("""{ "op": "fsync", "ioTime": "10us" }""", "a fsync step needs \"file\"")]
    public void A_step_without_a_required_key(string step, string fragment) =>
        AssertOnly(WithStep(step), 9, 7, fragment);

    [Fact]
    public void An_insertRange_step_without_pages() =>
        AssertOnly(WithStep("""{ "op": "insertRange", "file": "dax" }"""), 9, 7, "step needs \"pages\"");

    [Theory]
    [InlineData("""{ "task": "a" }""", "a fault needs \"kind\", one of: signal, kill, enomem, crashNode, partition, heal, drop, duplicate, delay")]
    [InlineData("""{ "kind": "signal", "task": "a" }""", "a signal fault needs \"at\"")]
    [InlineData("""{ "kind": "kill", "at": "1ms" }""", "a kill fault needs \"task\"")]
    [InlineData("""{ "kind": "crashNode", "at": "1ms" }""", "a crashNode fault needs \"node\"")]
    [InlineData("""{ "kind": "partition", "at": "1ms" }""", "a partition fault needs \"between\"")]
    [InlineData("""{ "kind": "heal" }""", "a heal fault needs \"at\"")]
    [InlineData("""{ "kind": "duplicate" }""", "a duplicate fault needs \"probability\"")]
    [InlineData("""{ "kind": "signal", "at": "1ms", "restart": true }""", "a signal fault needs \"task\"")]
    [InlineData("""{ "kind": "enomem", "task": "a" }""", "an enomem fault needs \"at\"")]
    [InlineData("""{ "kind": "enomem", "at": "1ms" }""", "an enomem fault needs \"task\"")]
    public void A_fault_without_a_required_key(string fault, string fragment) =>
        AssertOnly(WithFault(fault), 7, 5, fragment);

    [Fact]
    public void Duplicate_file_names() =>
        AssertOnly("""
            {
              "name": "t",
              "files": [
                { "name": "dax", "pages": 4 },
                { "name": "dax", "pages": 8 }
              ],
              "tasks": [ { "name": "a", "steps": [ { "op": "sleep", "for": "1ms" } ] } ]
            }
            """, 5, 15, "a file named \"dax\" is already defined");

    [Fact]
    public void Duplicate_task_names() =>
        AssertOnly("""
            {
              "name": "t",
              "files": [ { "name": "dax", "pages": 4 } ],
              "tasks": [
                { "name": "a", "steps": [ { "op": "sleep", "for": "1ms" } ] },
                { "name": "a", "steps": [ { "op": "sleep", "for": "2ms" } ] }
              ]
            }
            """, 6, 15, "a task named \"a\" is already defined");

    [Theory]
    [InlineData("my file")]
    [InlineData("")]
    [InlineData("caf\u00e9")]
    [InlineData("a/b")]
    public void An_invalid_file_name(string name) =>
        AssertOnly(WithFile($$"""{ "name": "{{name}}", "pages": 4 }"""), 4, 15,
            $"file name \"{name}\" must be 1 to 64 letters, digits, '_', '.' or '-'");

    [Fact]
    public void A_file_name_of_65_characters_is_too_long()
    {
        var name = new string('f', 65);
        AssertOnly(WithFile($$"""{ "name": "{{name}}", "pages": 4 }"""), 4, 15, $"file name \"{name}\" must be 1 to 64 letters");
    }

    [Fact]
    public void A_file_name_of_64_characters_is_valid()
    {
        var name = new string('f', 64);
        Assert.Equal(name, Load(WithFile($$"""{ "name": "{{name}}", "pages": 4 }""")).Files[0].Name);
    }

    [Fact]
    public void An_invalid_name_with_an_escaped_quote_is_located_at_its_opening_quote() =>
        AssertOnly(WithFile("""{ "name": "a\"b", "pages": 4 }"""), 4, 15, "file name \"a\"b\" must be");

    [Fact]
    public void An_invalid_task_name() =>
        AssertOnly(WithTask($$"""{ "name": "my task", "steps": [ {{SleepStep}} ] }"""), 5, 15,
            "task name \"my task\" must be 1 to 64 letters, digits, '_', '.' or '-'");

    [Fact]
    public void A_task_name_must_be_a_string() =>
        AssertOnly(WithTask($$"""{ "name": 7, "steps": [ {{SleepStep}} ] }"""), 5, 15, "a task's \"name\" must be a string, not the number 7");

    [Fact]
    public void A_file_name_must_be_a_string() =>
        AssertOnly(WithFile("""{ "name": null, "pages": 4 }"""), 4, 15, "a file's \"name\" must be a string, not null");

    // --- collecting errors --------------------------------------------------------------------

    [Fact]
    public void Every_error_is_collected_in_line_then_column_order()
    {
        var errors = Errors("""
            {
              "limits": { "opBound": "5" },
              "name": "t",
              "files": [ { "name": "dax", "pages": 0 } ],
              "tasks": [ { "name": "a", "steps": [ { "op": "sleep", "for": "1" } ], "repeat": 0 } ],
              "expect": "maybe",
              "variant": "v9"
            }
            """);
        Assert.Collection(errors,
            e => AssertError(e, 2, 26, "\"opBound\": duration '5' needs a unit"),
            e => AssertError(e, 4, 40, "\"pages\" is 0, out of range"),
            e => AssertError(e, 5, 64, "\"for\": duration '1' needs a unit"),
            e => AssertError(e, 5, 83, "\"repeat\" is 0, out of range"),
            e => AssertError(e, 6, 13, "unknown verdict \"maybe\""),
            e => AssertError(e, 7, 14, "unknown variant \"v9\""));
    }

    [Fact]
    public void At_most_fifty_errors_are_reported_the_first_ones()
    {
        var json = new StringBuilder();
        json.Append("{\n  \"name\": \"t\",\n  \"files\": [ { \"name\": \"dax\", \"pages\": 4 } ],\n  \"tasks\": [\n");
        for (var i = 0; i < 60; i++)
        {
            json.Append($$"""    { "bad": {{i}}, "name": "t{{i}}", "steps": [ {{SleepStep}} ] }""").Append(i < 59 ? ",\n" : "\n");
        }
        json.Append("  ]\n}\n");

        var errors = Errors(json.ToString());

        Assert.Equal(ScenarioLoader.MaxErrors, errors.Count);
        Assert.Equal(50, errors.Count);
        for (var i = 0; i < errors.Count; i++)
        {
            AssertError(errors[i], 5 + i, 7, "unknown key \"bad\" in a task");
        }
    }

    [Fact]
    public void The_exception_message_lists_every_error_one_a_line()
    {
        var e = Assert.Throws<ScenarioException>(() => ScenarioLoader.Parse("{\n}", Bad));
        Assert.Equal(
            string.Join(Environment.NewLine,
                "bad.json:1:1: the scenario needs \"name\"",
                "bad.json:1:1: the scenario needs \"files\"",
                "bad.json:1:1: the scenario needs \"tasks\""),
            e.Message);
    }

    [Fact]
    public void An_error_prints_as_source_line_column_message()
    {
        Assert.Equal("bad.json:7:21: unknown op \"trunc\"", new ScenarioError("bad.json", 7, 21, "unknown op \"trunc\"").ToString());
        Assert.Equal("bad.json: cannot read the scenario file", new ScenarioError("bad.json", 0, 0, "cannot read the scenario file").ToString());
    }

    [Fact]
    public void A_real_error_prints_with_its_location()
    {
        var error = Assert.Single(Errors(WithStep("""{ "op": "trunc", "file": "dax", "size": 0 }""")));
        Assert.StartsWith("bad.json:9:15: unknown op \"trunc\"; expected one of: mmap, ", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Locations_are_the_same_with_crlf_line_endings() =>
        AssertOnly(WithStep("""{ "op": "trunc", "file": "dax", "size": 0 }""").ReplaceLineEndings("\r\n"), 9, 15, "unknown op \"trunc\"");

    [Fact]
    public void Locations_count_a_comment_before_the_value()
    {
        var json = """
            {
              /* the scenario's name */ "name": 5,
              "files": [ { "name": "dax", "pages": 4 } ],
              "tasks": [ { "name": "a", "steps": [ { "op": "sleep", "for": "1ms" } ] } ]
            }
            """;
        AssertOnly(json, 2, 37, "\"name\" must be a string");
    }

    // --- LoadFile -----------------------------------------------------------------------------

    [Fact]
    public void Loading_a_missing_file_is_an_error_about_the_whole_file()
    {
        var path = Path.Combine(Path.GetTempPath(), $"daxsim-missing-{Guid.NewGuid():N}.json");

        var e = Assert.Throws<ScenarioException>(() => ScenarioLoader.LoadFile(path));

        var error = Assert.Single(e.Errors);
        Assert.Equal(path, error.Source);
        Assert.Equal((0, 0), (error.Line, error.Column));
        Assert.Contains("cannot read the scenario file", error.Message, StringComparison.Ordinal);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.StartsWith($"{path}: cannot read the scenario file", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Loading_a_file_with_a_syntax_error_names_the_file()
    {
        var path = Path.Combine(Path.GetTempPath(), $"daxsim-bad-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, "{\n  \"name\": \"t\"\n\"files\": []\n}\n");
        try
        {
            var e = Assert.Throws<ScenarioException>(() => ScenarioLoader.LoadFile(path));

            var error = Assert.Single(e.Errors);
            Assert.Equal(path, error.Source);
            Assert.Equal((3, 1), (error.Line, error.Column));
            Assert.Contains("invalid JSON", error.Message, StringComparison.Ordinal);
            Assert.StartsWith($"{path}:3:1: invalid JSON", error.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Loading_a_file_sets_its_source_and_text()
    {
        var path = Path.Combine(Path.GetTempPath(), $"daxsim-good-{Guid.NewGuid():N}.json");
        var text = WithStep(SleepStep);
        File.WriteAllText(path, text);
        try
        {
            var scenario = ScenarioLoader.LoadFile(path);
            Assert.Equal(path, scenario.Source);
            Assert.Equal(text, scenario.Text);
        }
        finally
        {
            File.Delete(path);
        }
    }

    // --- good input ---------------------------------------------------------------------------

    public static TheoryData<string> ShippedFiles()
    {
        var data = new TheoryData<string>();
        foreach (var file in ShippedScenarios.ShippedFiles())
        {
            data.Add(Path.GetFileName(file));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ShippedFiles))]
    public void Every_shipped_scenario_loads(string fileName)
    {
        var path = Path.Combine(ShippedScenarios.Directory, fileName);

        var scenario = ScenarioLoader.LoadFile(path);

        Assert.Equal(Path.GetFileNameWithoutExtension(fileName), scenario.Name);
        Assert.Equal(path, scenario.Source);
        Assert.Equal(File.ReadAllText(path), scenario.Text);
        Assert.NotEmpty(scenario.Files);
        Assert.NotEmpty(scenario.Tasks);
        Assert.All(scenario.Tasks, t => Assert.NotEmpty(t.Steps));
        Assert.True(scenario.Device.Blocks >= scenario.Files.Where(f => f.Dax).Sum(f => f.Pages));
    }

    [Fact]
    public void There_are_shipped_scenarios() => Assert.NotEmpty(ShippedScenarios.ShippedFiles());

    [Fact]
    public void Parse_sets_source_and_text()
    {
        var text = WithStep(SleepStep);
        var scenario = ScenarioLoader.Parse(text, "some/where.json");
        Assert.Equal("some/where.json", scenario.Source);
        Assert.Same(text, scenario.Text);
    }

    [Fact]
    public void Omitted_keys_take_their_defaults()
    {
        var scenario = Load("""
            {
              "name": "defaults",
              "files": [ { "name": "dax", "pages": 4 }, { "name": "src", "dax": false, "pages": 100 } ],
              "tasks": [ { "name": "a", "steps": [ { "op": "dioRead", "from": "src", "into": "dax", "pages": "0-3" } ] } ]
            }
            """);

        Assert.Equal("defaults", scenario.Name);
        Assert.Null(scenario.Variant);
        Assert.Equal(Verdict.Clean, scenario.Expect);
        Assert.Equal(Limits.Default, scenario.Limits);
        Assert.Equal(new Limits(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(45), 50_000_000), scenario.Limits);
        Assert.Empty(scenario.Faults);
        Assert.Equal(new FileSpec(new FileId(0), "dax", Dax: true, Pages: 4), scenario.Files[0]);
        Assert.Equal(new FileSpec(new FileId(1), "src", Dax: false, Pages: 100), scenario.Files[1]);
        Assert.Equal(new DeviceSpec(16), scenario.Device); // max(16, 2 x 4 DAX pages); plain pages do not count
        var task = Assert.Single(scenario.Tasks);
        Assert.Equal((new TaskId(0), "a", 1, (int?)null), (task.Id, task.Name, task.Repeat, task.Node));
        var step = Assert.IsType<DioReadStep>(Assert.Single(task.Steps));
        Assert.Equal(new DioReadStep(1, new FileId(1), new FileId(0), new PageRange(0, 3), TimeSpan.FromMicroseconds(100)), step);
    }

    [Fact]
    public void The_default_device_has_twice_the_dax_pages_when_that_is_more_than_16()
    {
        var scenario = Load($$"""
            {
              "name": "t",
              "files": [ { "name": "a", "pages": 20 }, { "name": "b", "dax": true, "pages": 5 }, { "name": "c", "dax": false, "pages": 1000 } ],
              "tasks": [ { "name": "a", "steps": [ {{SleepStep}} ] } ]
            }
            """);
        Assert.Equal(50, scenario.Device.Blocks);
    }

    [Fact]
    public void A_device_without_blocks_takes_the_default() =>
        Assert.Equal(16, Load(WithTop("\"device\": {}")).Device.Blocks);

    [Fact]
    public void A_device_exactly_as_large_as_the_dax_files_is_enough() =>
        Assert.Equal(4, Load(WithTop("\"device\": { \"blocks\": 4 }")).Device.Blocks);

    [Fact]
    public void The_largest_values_are_accepted()
    {
        var scenario = Load($$"""
            {
              "name": "t",
              "device": { "blocks": 10000000 },
              "files": [ { "name": "dax", "pages": 1048576 } ],
              "tasks": [ { "name": "a", "repeat": 1000000, "node": 1023, "steps": [
                { "op": "sleep", "for": "86400s", "repeat": 1000000 },
                { "op": "touch", "file": "dax", "pages": 1048575 },
                { "op": "truncate", "file": "dax", "size": 1048576 } ] } ],
              "faults": [ { "kind": "drop", "probability": 1 }, { "kind": "crashNode", "at": "0s", "node": 1023 } ],
              "limits": { "maxDeliveries": 1000000000000 }
            }
            """);
        Assert.Equal(10_000_000, scenario.Device.Blocks);
        Assert.Equal(1_048_576, scenario.Files[0].Pages);
        Assert.Equal((1_000_000, (int?)1023), (scenario.Tasks[0].Repeat, scenario.Tasks[0].Node));
        Assert.Equal(new SleepStep(1_000_000, TimeSpan.FromDays(1)), scenario.Tasks[0].Steps[0]);
        Assert.Equal(new TouchStep(1, new FileId(0), new PageRange(1_048_575, 1_048_575)), scenario.Tasks[0].Steps[1]);
        Assert.Equal(new TruncateStep(1, new FileId(0), 1_048_576), scenario.Tasks[0].Steps[2]);
        Assert.Equal(new MessageFault(MessageFaultKind.Drop, 1.0, null, null, null), scenario.Faults[0]);
        Assert.Equal(new CrashNodeFault(TimeSpan.Zero, 1023), scenario.Faults[1]);
        Assert.Equal(1_000_000_000_000, scenario.Limits.MaxDeliveries);
    }

    [Fact]
    public void Comments_are_allowed_anywhere()
    {
        var scenario = Load("""
            // a scenario with comments
            {
              /* block */ "name": "commented", // trailing
              "files": [ { "name": "dax", /* inline */ "pages": 4 } ],
              // between members
              "tasks": [ { "name": "a", "steps": [ { "op": "sleep", "for": "1ms" } ] } ]
            }
            // after the closing brace
            /* and a block at the very end */
            """);
        Assert.Equal("commented", scenario.Name);
        Assert.Equal(4, scenario.Files[0].Pages);
    }

    [Theory]
    [InlineData("\"2\"", 2, 2)]
    [InlineData("2", 2, 2)]
    [InlineData("\"0-3\"", 0, 3)]
    [InlineData("\"3-3\"", 3, 3)]
    [InlineData("\" 1 - 2 \"", 1, 2)]
    [InlineData("\"0\"", 0, 0)]
    public void Page_ranges(string value, int first, int last)
    {
        var step = Assert.Single(Load(WithStep($$"""{ "op": "touch", "file": "dax", "pages": {{value}} }""")).Tasks[0].Steps);
        Assert.Equal(new TouchStep(1, new FileId(0), new PageRange(first, last)), step);
    }

    [Theory]
    [InlineData("100ns", 1)]
    [InlineData("1.5us", 15)]
    [InlineData("250us", 2_500)]
    [InlineData("2ms", 20_000)]
    [InlineData("0.0001ms", 1)]
    [InlineData("3s", 30_000_000)]
    [InlineData("0.5s", 5_000_000)]
    [InlineData("0s", 0)]
    [InlineData("86400s", 864_000_000_000)]
    public void Durations(string text, long ticks)
    {
        var step = Assert.Single(Load(WithStep($$"""{ "op": "sleep", "for": "{{text}}" }""")).Tasks[0].Steps);
        Assert.Equal(new SleepStep(1, TimeSpan.FromTicks(ticks)), step);
    }

    [Fact]
    public void Every_op_parses_to_its_step()
    {
        var scenario = Load("""
            {
              "name": "all-ops",
              "files": [
                { "name": "dax", "pages": 8 },
                { "name": "src", "dax": false, "pages": 8 },
                { "name": "dst", "dax": false, "pages": 8 }
              ],
              "tasks": [
                { "name": "a", "repeat": 3, "node": 2, "steps": [
                  { "op": "mmap", "file": "dax", "pages": "0-7" },
                  { "op": "touch", "file": "dax", "pages": 5, "repeat": 2 },
                  { "op": "dioRead", "from": "src", "into": "dax", "pages": "1-2", "ioTime": "250us" },
                  { "op": "dioWrite", "from": "dax", "to": "dst", "pages": "3", "ioTime": "1ms" },
                  { "op": "truncate", "file": "dax", "size": 8 },
                  { "op": "punchHole", "file": "dax", "pages": "0-1" },
                  { "op": "zeroRange", "file": "dax", "pages": "2-3" },
                  { "op": "collapseRange", "file": "dax", "pages": "4" },
                  { "op": "insertRange", "file": "dax", "pages": "5-6" },
                  { "op": "fallocate", "file": "dax", "pages": "0-7", "repeat": 4 },
                  { "op": "holdLease", "file": "dax", "for": "3ms" },
                  { "op": "sleep", "for": "1.5us" },
                  { "op": "fsync", "file": "dax" },
                  { "op": "munmap", "file": "dax" }
                ] }
              ]
            }
            """);
        FileId dax = new(0), src = new(1), dst = new(2);
        Assert.Equal([new FileSpec(dax, "dax", true, 8), new FileSpec(src, "src", false, 8), new FileSpec(dst, "dst", false, 8)], scenario.Files);
        var task = Assert.Single(scenario.Tasks);
        Assert.Equal((new TaskId(0), "a", 3, (int?)2), (task.Id, task.Name, task.Repeat, task.Node));
        Assert.Equal<Step>(
        [
            new MmapStep(1, dax, new PageRange(0, 7)),
            new TouchStep(2, dax, new PageRange(5, 5)),
            new DioReadStep(1, src, dax, new PageRange(1, 2), TimeSpan.FromMicroseconds(250)),
            new DioWriteStep(1, dax, dst, new PageRange(3, 3), TimeSpan.FromMilliseconds(1)),
            new TruncateStep(1, dax, 8),
            new FallocateStep(1, OpKind.PunchHole, dax, new PageRange(0, 1)),
            new FallocateStep(1, OpKind.ZeroRange, dax, new PageRange(2, 3)),
            new FallocateStep(1, OpKind.CollapseRange, dax, new PageRange(4, 4)),
            new FallocateStep(1, OpKind.InsertRange, dax, new PageRange(5, 6)),
            new FallocateStep(4, OpKind.Fallocate, dax, new PageRange(0, 7)),
            new HoldLeaseStep(1, dax, TimeSpan.FromMilliseconds(3)),
            new SleepStep(1, TimeSpan.FromTicks(15)),
            new FsyncStep(1, dax, TimeSpan.FromMicroseconds(10)),
            new MunmapStep(1, dax),
        ], task.Steps);
        Assert.Equal(
            [OpKind.Mmap, OpKind.Touch, OpKind.DioRead, OpKind.DioWrite, OpKind.Truncate, OpKind.PunchHole, OpKind.ZeroRange,
             OpKind.CollapseRange, OpKind.InsertRange, OpKind.Fallocate, OpKind.HoldLease, OpKind.Sleep, OpKind.Fsync, OpKind.Munmap],
            task.Steps.Select(s => s.Op));
        Assert.Equal([dax, dax, dax, dax, dax, dax, dax, dax, dax, dax, dax, null, dax, dax], task.Steps.Select(s => s.Target));
        Assert.Equal(Enum.GetValues<OpKind>().Order(), task.Steps.Select(s => s.Op).Distinct().Order());
    }

    [Fact]
    public void Every_fault_kind_parses_to_its_fault()
    {
        var scenario = Load("""
            {
              "name": "all-faults",
              "files": [ { "name": "dax", "pages": 4 } ],
              "tasks": [ { "name": "a", "steps": [ { "op": "sleep", "for": "1ms" } ] },
                         { "name": "b", "node": 1, "steps": [ { "op": "sleep", "for": "1ms" } ] } ],
              "faults": [
                { "at": "2ms", "kind": "signal", "task": "b" },
                { "at": "0s", "kind": "kill", "task": "a" },
                { "at": "1s", "kind": "crashNode", "node": 2 },
                { "at": "10ms", "kind": "partition", "between": [[0], [1, 2], [3]] },
                { "at": "20ms", "kind": "heal" },
                { "kind": "drop", "probability": 0.25 },
                { "kind": "duplicate", "probability": 1, "from": "1ms" },
                { "kind": "delay", "probability": 0.5, "max": "3ms", "from": "1ms", "until": "5ms" },
                { "kind": "drop", "probability": 0.125, "until": "7ms" },
                { "at": "3ms", "kind": "signal", "task": "a", "restart": true },
                { "at": "4ms", "kind": "signal", "task": "a", "restart": false },
                { "at": "5ms", "kind": "enomem", "task": "b" }
              ]
            }
            """);
        var f = scenario.Faults;
        Assert.Equal(12, f.Count);
        Assert.Equal(new SignalFault(TimeSpan.FromMilliseconds(2), new TaskId(1)), f[0]);
        Assert.Equal(new KillFault(TimeSpan.Zero, new TaskId(0)), f[1]);
        Assert.Equal(new CrashNodeFault(TimeSpan.FromSeconds(1), 2), f[2]);
        var partition = Assert.IsType<PartitionFault>(f[3]);
        Assert.Equal(TimeSpan.FromMilliseconds(10), partition.At);
        Assert.Equal(3, partition.Between.Count);
        Assert.Equal([0], partition.Between[0]);
        Assert.Equal([1, 2], partition.Between[1]);
        Assert.Equal([3], partition.Between[2]);
        Assert.Equal(new HealFault(TimeSpan.FromMilliseconds(20)), f[4]);
        Assert.Equal(new MessageFault(MessageFaultKind.Drop, 0.25, null, null, null), f[5]);
        Assert.Equal(new MessageFault(MessageFaultKind.Duplicate, 1.0, null, TimeSpan.FromMilliseconds(1), null), f[6]);
        Assert.Equal(new MessageFault(MessageFaultKind.Delay, 0.5, TimeSpan.FromMilliseconds(3), TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(5)), f[7]);
        Assert.Equal(new MessageFault(MessageFaultKind.Drop, 0.125, null, null, TimeSpan.FromMilliseconds(7)), f[8]);
        Assert.Equal(new SignalFault(TimeSpan.FromMilliseconds(3), new TaskId(0), Restart: true), f[9]);
        Assert.Equal(new SignalFault(TimeSpan.FromMilliseconds(4), new TaskId(0), Restart: false), f[10]);
        Assert.Equal(new EnomemFault(TimeSpan.FromMilliseconds(5), new TaskId(1)), f[11]);
        Assert.False(((SignalFault)f[0]).Restart); // a handler without SA_RESTART unless the fault says so
        Assert.Equal((int?)1, scenario.Tasks[1].Node);
    }

    [Fact]
    public void Every_limit_can_be_set()
    {
        var scenario = Load(WithTop("""
            "limits": { "virtualTime": "2s", "opBound": "500ms", "leaseBreakTime": "0s", "maxDeliveries": 1000 }
            """));
        Assert.Equal(new Limits(TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(500), TimeSpan.Zero, 1000), scenario.Limits);
    }

    [Fact]
    public void Limits_not_given_keep_their_defaults()
    {
        var scenario = Load(WithTop("\"limits\": { \"opBound\": \"2s\" }"));
        Assert.Equal(Limits.Default with { OpBound = TimeSpan.FromSeconds(2) }, scenario.Limits);
    }

    [Theory]
    [InlineData("mainline", ProtocolBase.Mainline, Deviation.None)]
    [InlineData("seed-v7", ProtocolBase.SeedV7, Deviation.None)]
    [InlineData("linux-4.18", ProtocolBase.Linux418, Deviation.None)]
    [InlineData("linux-6.15", ProtocolBase.Linux615, Deviation.None)]
    [InlineData("ext4-6.15", ProtocolBase.Ext4615, Deviation.None)]
    [InlineData("virtiofs-6.15", ProtocolBase.Virtiofs615, Deviation.None)]
    [InlineData("no-break", ProtocolBase.Mainline, Deviation.NoBreak)]
    [InlineData("no-unmap", ProtocolBase.Mainline, Deviation.NoUnmap)]
    [InlineData("hold-mmaplock", ProtocolBase.Mainline, Deviation.HoldMmaplock)]
    [InlineData("retry-in-callback", ProtocolBase.Mainline, Deviation.RetryInCallback)]
    [InlineData("drop-iolock", ProtocolBase.Mainline, Deviation.DropIolock)]
    [InlineData("gup-fast-no-recheck", ProtocolBase.Mainline, Deviation.GupFastNoRecheck)]
    [InlineData("wrong-wake-key", ProtocolBase.Mainline, Deviation.WrongWakeKey)]
    [InlineData("idle-at-0", ProtocolBase.Mainline, Deviation.IdleAt0)]
    [InlineData("idle-at-2", ProtocolBase.Mainline, Deviation.IdleAt2)]
    [InlineData("no-break-on-fallocate", ProtocolBase.Mainline, Deviation.NoBreakOnFallocate)]
    [InlineData("busy-scan-skips-locked-entry", ProtocolBase.Linux615, Deviation.BusyScanSkipsLockedEntry)]
    [InlineData("busy-scan-skips-waited-entry", ProtocolBase.Linux615, Deviation.BusyScanSkipsWaitedEntry)]
    [InlineData("busy-scan-skips-unmapped", ProtocolBase.Linux615, Deviation.BusyScanSkipsUnmapped)]
    [InlineData("fuse-breaks-first-page-only", ProtocolBase.Virtiofs615, Deviation.FuseBreaksFirstPageOnly)]
    [InlineData("lease-break-drops-error", ProtocolBase.Mainline, Deviation.LeaseBreakDropsError)]
    public void Every_variant_parses(string name, ProtocolBase @base, Deviation deviation) =>
        Assert.Equal(new Variant(@base, deviation), Load(WithTop($"\"variant\": \"{name}\"")).Variant);

    [Theory]
    [InlineData("clean", Verdict.Clean)]
    [InlineData("safety", Verdict.Safety)]
    [InlineData("liveness", Verdict.Liveness)]
    public void Every_expect_parses(string name, Verdict verdict) =>
        Assert.Equal(verdict, Load(WithTop($"\"expect\": \"{name}\"")).Expect);

    [Fact]
    public void A_description_is_allowed() =>
        Assert.Equal("t", Load(WithTop("\"description\": \"what it is about\"")).Name);

    [Fact]
    public void Faults_may_be_empty() =>
        Assert.Empty(Load(WithTop("\"faults\": []")).Faults);

    [Fact]
    public void A_fault_may_name_any_task()
    {
        var scenario = Load(WithFault("""{ "kind": "signal", "at": "1ms", "task": "b" }"""));
        Assert.Equal(new SignalFault(TimeSpan.FromMilliseconds(1), new TaskId(1)), Assert.Single(scenario.Faults));
    }

    [Fact]
    public void Names_may_use_letters_digits_underscore_dot_and_dash()
    {
        var scenario = Load(WithFile("""{ "name": "A.b_c-9", "pages": 1 }"""));
        Assert.Equal("A.b_c-9", scenario.Files[0].Name);
    }

    // --- processes and threads ----------------------------------------------------------------

    [Fact]
    public void Tasks_naming_a_process_are_its_threads_and_share_its_mappings()
    {
        var scenario = Load(WithProcess("""{ "name": "app", "mmap": [ { "file": "dax", "pages": "0-3" }, { "file": "dax2", "pages": 1 } ] }""",
            Thread("a", "app"), Thread("solo", null), Thread("b", "app")));

        TaskId a = new(0), solo = new(1), b = new(2);
        var app = Assert.Single(scenario.DeclaredProcesses);
        Assert.Equal((new MmId(0), "app", false), (app.Id, app.Name, app.Implicit));
        Assert.Equal([a, b], app.Threads);
        Assert.Equal([new ProcessMmap(new FileId(0), new PageRange(0, 3)), new ProcessMmap(new FileId(2), new PageRange(1, 1))], app.Mmaps);

        // The declared processes first, then one implicit process per task that names none.
        Assert.Equal(2, scenario.Processes.Count);
        Assert.Same(app, scenario.Processes[0]);
        var own = scenario.Processes[1];
        Assert.Equal((new MmId(1), "solo", true), (own.Id, own.Name, own.Implicit));
        Assert.Equal([solo], own.Threads);
        Assert.Empty(own.Mmaps);

        Assert.Equal(new MmId(0), scenario.MmOf(a));
        Assert.Equal(new MmId(0), scenario.MmOf(b));
        Assert.Equal(new MmId(1), scenario.MmOf(solo));
        Assert.Same(app, scenario.ProcessOf(b));
        Assert.Same(own, scenario.Process(new MmId(1)));
    }

    [Fact]
    public void Without_processes_every_task_is_a_process_of_its_own()
    {
        var scenario = Load(WithFault("""{ "kind": "kill", "at": "1ms", "task": "b" }"""));

        Assert.Empty(scenario.DeclaredProcesses);
        Assert.Equal(2, scenario.Processes.Count);
        for (var i = 0; i < 2; i++)
        {
            var p = scenario.Processes[i];
            Assert.Equal((new MmId(i), scenario.Tasks[i].Name, true), (p.Id, p.Name, p.Implicit));
            Assert.Equal([new TaskId(i)], p.Threads);
            Assert.Empty(p.Mmaps);
            Assert.Equal(new MmId(i), scenario.MmOf(new TaskId(i)));
        }
    }

    [Fact]
    public void Processes_may_be_empty() =>
        Assert.Empty(Load(WithTop("\"processes\": []")).DeclaredProcesses);

    [Fact]
    public void A_process_without_mmap_maps_nothing_at_the_start()
    {
        var scenario = Load(WithProcess("""{ "name": "p" }""", Thread("a", "p")));
        var p = Assert.Single(scenario.Processes);
        Assert.Equal(("p", false), (p.Name, p.Implicit));
        Assert.Empty(p.Mmaps);
        Assert.Equal([new TaskId(0)], p.Threads);
    }

    [Fact]
    public void A_process_with_an_empty_mmap_list_maps_nothing() =>
        Assert.Empty(Load(WithProcess("""{ "name": "p", "mmap": [] }""", Thread("a", "p"))).Processes[0].Mmaps);

    [Fact]
    public void Processes_are_numbered_in_declaration_order_and_threads_in_task_order()
    {
        var scenario = Load(WithProcess("""{ "name": "q" }, { "name": "p", "mmap": [ { "file": "dax", "pages": "2" } ] }""",
            Thread("p1", "p"), Thread("q1", "q"), Thread("p2", "p"), Thread("own", null), Thread("q2", "q")));

        Assert.Equal(["q", "p", "own"], scenario.Processes.Select(p => p.Name));
        Assert.Equal([new TaskId(1), new TaskId(4)], scenario.Processes[0].Threads);
        Assert.Equal([new TaskId(0), new TaskId(2)], scenario.Processes[1].Threads);
        Assert.Equal([new ProcessMmap(new FileId(0), new PageRange(2, 2))], scenario.Processes[1].Mmaps);
        Assert.Equal([new MmId(1), new MmId(0), new MmId(1), new MmId(2), new MmId(0)],
            scenario.Tasks.Select(t => scenario.MmOf(t.Id)));
    }

    [Fact]
    public void The_threads_of_a_process_run_on_the_node_one_of_them_names()
    {
        var scenario = Load(WithProcess("""{ "name": "p" }""",
            Thread("own", null), Thread("a", "p"), Thread("b", "p", "\"node\": 2, "), Thread("c", "p", "\"node\": 2, ")));

        Assert.Equal([(int?)null, null, 2, 2], scenario.Tasks.Select(t => t.Node));
        Assert.All(scenario.Tasks.Skip(1), t => Assert.Equal(2, scenario.NodeOf(t.Id, 3)));
        Assert.Equal(0, scenario.NodeOf(new TaskId(0), 3));
    }

    [Fact]
    public void The_threads_of_a_process_that_names_no_node_run_on_the_node_of_its_first_thread()
    {
        var scenario = Load(WithProcess("""{ "name": "p" }""",
            Thread("own", null), Thread("x", null), Thread("a", "p"), Thread("b", "p")));

        // Task 2 is the first thread: node 2 mod 2 = 0 for both, though task 3 alone would be on node 1.
        Assert.Equal(0, scenario.NodeOf(new TaskId(2), 2));
        Assert.Equal(0, scenario.NodeOf(new TaskId(3), 2));
        Assert.Equal(1, scenario.NodeOf(new TaskId(1), 2));
        Assert.Equal(2, scenario.NodeOf(new TaskId(3), 3));
    }

    [Fact]
    public void A_task_naming_an_undeclared_process_when_none_is_declared() =>
        AssertOnly(WithTask(Thread("a", "q")), 5, 31, "unknown process \"q\"; declare it in \"processes\"");

    [Fact]
    public void A_task_naming_an_undeclared_process_lists_the_processes() =>
        AssertOnly(WithProcess("""{ "name": "p" }, { "name": "r" }""", Thread("a", "p"), Thread("b", "r"), Thread("c", "q")), 10, 31,
            "unknown process \"q\"; expected one of: p, r");

    [Fact]
    public void A_process_is_named_case_sensitively() =>
        AssertOnly(WithProcess("""{ "name": "p" }""", Thread("a", "p"), Thread("b", "P")), 9, 31,
            "unknown process \"P\"; expected one of: p");

    [Fact]
    public void A_task_cannot_name_an_implicit_process() =>
        AssertOnly(WithProcess("""{ "name": "p" }""", Thread("a", "p"), Thread("b", null), Thread("c", "b")), 10, 31,
            "unknown process \"b\"; expected one of: p");

    [Fact]
    public void A_process_must_be_a_string() =>
        AssertOnly(WithTask($$"""{ "name": "a", "process": 1, "steps": [ {{SleepStep}} ] }"""), 5, 31,
            "\"process\" must be a string, not the number 1");

    [Fact]
    public void Duplicate_process_names() =>
        AssertOnly(WithProcess("""{ "name": "p" }, { "name": "p" }""", Thread("a", "p")), 5, 32,
            "a process named \"p\" is already defined");

    [Fact]
    public void A_process_with_no_thread_is_reported_at_the_process() =>
        AssertOnly(WithProcess("""{ "name": "q" }, { "name": "p" }""", Thread("a", "q"), Thread("b", null)), 5, 22,
            "process \"p\" has no thread: name it in a task's \"process\"");

    [Fact]
    public void Threads_of_one_process_on_different_nodes() =>
        AssertOnly(WithProcess("""{ "name": "p" }""", Thread("a", "p", "\"node\": 1, "), Thread("b", "p", "\"node\": 2, ")), 9, 44,
            "the threads of process \"p\" must run on one node (one has \"node\" 1, this one 2)");

    [Fact]
    public void The_thread_on_another_node_is_the_one_reported() =>
        AssertOnly(WithProcess("""{ "name": "p" }""",
                Thread("a", "p", "\"node\": 1, "), Thread("b", "p"), Thread("c", "p", "\"node\": 1, "), Thread("d", "p", "\"node\": 3, ")),
            11, 44, "the threads of process \"p\" must run on one node (one has \"node\" 1, this one 3)");

    [Fact]
    public void Threads_of_one_process_may_name_the_same_node() =>
        Assert.Equal(1, Load(WithProcess("""{ "name": "p" }""", Thread("a", "p", "\"node\": 1, "), Thread("b", "p", "\"node\": 1, ")))
            .NodeOf(new TaskId(0), 3));

    [Fact]
    public void A_process_mapping_the_same_file_twice() =>
        AssertOnly(WithProcess("""{ "name": "p", "mmap": [ { "file": "dax", "pages": "0-3" }, { "file": "dax", "pages": "1" } ] }""", Thread("a", "p")),
            5, 75, "process \"p\" maps file \"dax\" twice; a process has one mapping of a file");

    [Fact]
    public void An_unknown_key_in_a_process_lists_the_process_keys() =>
        AssertOnly(WithProcess("""{ "name": "p", "threads": 2 }""", Thread("a", "p")), 5, 20,
            "unknown key \"threads\" in a process; expected one of: name, mmap");

    [Fact]
    public void A_process_key_in_the_wrong_case_gets_a_hint() =>
        AssertOnly(WithProcess("""{ "name": "p", "Mmap": [] }""", Thread("a", "p")), 5, 20,
            "unknown key \"Mmap\" in a process; did you mean \"mmap\"? (keys are case-sensitive)");

    [Fact]
    public void An_unknown_key_in_a_process_mmap_lists_its_keys() =>
        AssertOnly(WithProcess("""{ "name": "p", "mmap": [ { "file": "dax", "pages": "0-3", "prot": "rw" } ] }""", Thread("a", "p")), 5, 63,
            "unknown key \"prot\" in a process's mmap; expected one of: file, pages");

    [Fact]
    public void A_process_mmap_of_a_plain_file() =>
        AssertOnly(WithProcess("""{ "name": "p", "mmap": [ { "file": "src", "pages": "0-3" } ] }""", Thread("a", "p")), 5, 40,
            "\"file\" must name a DAX file, and \"src\" has \"dax\": false");

    [Fact]
    public void A_process_mmap_of_an_undefined_file() =>
        AssertOnly(WithProcess("""{ "name": "p", "mmap": [ { "file": "nope", "pages": "0" } ] }""", Thread("a", "p")), 5, 40,
            "\"file\" names file \"nope\", which is not defined; files: dax, src, dax2");

    [Fact]
    public void A_process_mmap_range_past_the_end_of_the_file() =>
        AssertOnly(WithProcess("""{ "name": "p", "mmap": [ { "file": "dax", "pages": "2-4" } ] }""", Thread("a", "p")), 5, 56,
            "page range 2-4 is outside file \"dax\" (4 pages, 0-3)");

    [Fact]
    public void A_process_mmap_page_number_past_the_end_of_the_file() =>
        AssertOnly(WithProcess("""{ "name": "p", "mmap": [ { "file": "dax2", "pages": 2 } ] }""", Thread("a", "p")), 5, 57,
            "\"pages\" is 2, out of range: it must be from 0 to 1 (the last page of file \"dax2\")");

    [Fact]
    public void A_process_mmap_without_pages() =>
        AssertOnly(WithProcess("""{ "name": "p", "mmap": [ { "file": "dax" } ] }""", Thread("a", "p")), 5, 30,
            "a process's mmap needs \"pages\"");

    [Fact]
    public void A_process_mmap_must_be_an_object() =>
        AssertOnly(WithProcess("""{ "name": "p", "mmap": [ "dax" ] }""", Thread("a", "p")), 5, 30,
            "a process's mmap must be a JSON object, not the string \"dax\"");

    [Fact]
    public void A_process_mmap_list_must_be_an_array() =>
        AssertOnly(WithProcess("""{ "name": "p", "mmap": { "file": "dax", "pages": "0" } }""", Thread("a", "p")), 5, 28,
            "\"mmap\" must be an array, not an object");

    [Fact]
    public void A_process_without_a_name() =>
        AssertOnly(WithProcess("""{ "mmap": [] }""", Thread("a", null)), 5, 5, "a process needs \"name\"");

    [Fact]
    public void A_process_name_must_be_a_string() =>
        AssertOnly(WithProcess("""{ "name": 7 }""", Thread("a", null)), 5, 15, "a process's \"name\" must be a string, not the number 7");

    [Fact]
    public void An_invalid_process_name() =>
        AssertOnly(WithProcess("""{ "name": "my process" }""", Thread("a", null)), 5, 15,
            "process name \"my process\" must be 1 to 64 letters, digits, '_', '.' or '-'");

    [Fact]
    public void A_process_must_be_an_object() =>
        AssertOnly(WithTop("\"processes\": [ \"p\" ]"), 5, 18, "a process must be a JSON object, not the string \"p\"");

    [Fact]
    public void Processes_must_be_an_array() =>
        AssertOnly(WithTop("\"processes\": {}"), 5, 16, "\"processes\" must be an array, not an object");

    // --- fsync, asynchronous DIO, random sleeps ---------------------------------------------------

    [Fact]
    public void Fsync_flushes_for_10us_per_dirty_entry_by_default() =>
        Assert.Equal(new FsyncStep(1, new FileId(0), TimeSpan.FromMicroseconds(10)),
            Assert.Single(Load(WithStep("""{ "op": "fsync", "file": "dax" }""")).Tasks[0].Steps));

    [Fact]
    public void Fsync_with_an_io_time_and_a_repeat()
    {
        var step = Assert.IsType<FsyncStep>(Assert.Single(Load(WithStep("""{ "op": "fsync", "file": "dax", "ioTime": "200us", "repeat": 3 }""")).Tasks[0].Steps));
        Assert.Equal(new FsyncStep(3, new FileId(0), TimeSpan.FromMicroseconds(200)), step);
        Assert.Equal(TimeSpan.FromMicroseconds(200), step.IoTime);
        Assert.Equal((OpKind.Fsync, (FileId?)new FileId(0)), (step.Op, step.Target));
    }

    [Fact]
    public void Fsync_with_a_zero_io_time() =>
        Assert.Equal(TimeSpan.Zero, Assert.IsType<FsyncStep>(Load(WithStep("""{ "op": "fsync", "file": "dax", "ioTime": "0s" }""")).Tasks[0].Steps[0]).IoTime);

    [Fact]
    public void Fsync_of_a_plain_file() =>
        AssertOnly(WithStep("""{ "op": "fsync", "file": "src" }"""), 9, 32, "\"file\" must name a DAX file, and \"src\" has \"dax\": false");

    [Fact]
    public void Fsync_has_no_pages() =>
        AssertOnly(WithStep("""{ "op": "fsync", "file": "dax", "pages": "0-3" }"""), 9, 39,
            "unknown key \"pages\" in a fsync step; expected one of: op, repeat, file, ioTime");

    [Theory]
    [InlineData("\"5\"", "\"ioTime\": duration '5' needs a unit")]
    [InlineData("\"50ns\"", "\"ioTime\": duration '50ns' is not a multiple of 100ns")]
    [InlineData("5", "\"ioTime\" is 5 without a unit")]
    public void Fsync_with_a_bad_io_time(string value, string fragment) =>
        AssertOnly(WithStep($$"""{ "op": "fsync", "file": "dax", "ioTime": {{value}} }"""), 9, 49, fragment);

    [Fact]
    public void Dio_is_synchronous_by_default()
    {
        var steps = Load(WithStep("""{ "op": "dioRead", "from": "src", "into": "dax", "pages": "0" }, { "op": "dioWrite", "from": "dax", "to": "src", "pages": "0" }""")).Tasks[0].Steps;
        Assert.False(Assert.IsType<DioReadStep>(steps[0]).Async);
        Assert.False(Assert.IsType<DioWriteStep>(steps[1]).Async);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Dio_may_be_asynchronous(bool async)
    {
        var value = async ? "true" : "false";
        var steps = Load(WithStep($$"""{ "op": "dioRead", "from": "src", "into": "dax", "pages": "0-3", "async": {{value}} }, { "op": "dioWrite", "from": "dax", "to": "src", "pages": "1", "ioTime": "1ms", "async": {{value}} }""")).Tasks[0].Steps;
        Assert.Equal(new DioReadStep(1, new FileId(1), new FileId(0), new PageRange(0, 3), TimeSpan.FromMicroseconds(100), async), steps[0]);
        Assert.Equal(new DioWriteStep(1, new FileId(0), new FileId(1), new PageRange(1, 1), TimeSpan.FromMilliseconds(1), async), steps[1]);
    }

    [Fact]
    public void Async_must_be_a_bool_on_a_read() =>
        AssertOnly(WithStep("""{ "op": "dioRead", "from": "src", "into": "dax", "pages": "0", "async": "yes" }"""), 9, 79,
            "\"async\" must be true or false, not the string \"yes\"");

    [Fact]
    public void Async_must_be_a_bool_on_a_write() =>
        AssertOnly(WithStep("""{ "op": "dioWrite", "from": "dax", "to": "src", "pages": "0", "async": 1 }"""), 9, 78,
            "\"async\" must be true or false, not the number 1");

    [Fact]
    public void Async_is_only_for_dio() =>
        AssertOnly(WithStep("""{ "op": "mmap", "file": "dax", "pages": "0", "async": true }"""), 9, 52,
            "unknown key \"async\" in a mmap step; expected one of: op, repeat, file, pages");

    [Fact]
    public void A_sleep_is_not_random_by_default() =>
        Assert.False(Assert.IsType<SleepStep>(Load(WithStep(SleepStep)).Tasks[0].Steps[0]).Random);

    [Fact]
    public void A_random_sleep()
    {
        var step = Assert.IsType<SleepStep>(Load(WithStep("""{ "op": "sleep", "for": "1ms", "random": true, "repeat": 2 }""")).Tasks[0].Steps[0]);
        Assert.Equal(new SleepStep(2, TimeSpan.FromMilliseconds(1), Random: true), step);
        Assert.True(step.Random);
    }

    [Fact]
    public void A_sleep_with_random_false_is_a_fixed_sleep() =>
        Assert.Equal(new SleepStep(1, TimeSpan.FromMilliseconds(1), Random: false),
            Load(WithStep("""{ "op": "sleep", "for": "1ms", "random": false }""")).Tasks[0].Steps[0]);

    [Theory]
    [InlineData("false")]
    [InlineData(null)]
    public void A_fixed_sleep_may_be_zero(string? random)
    {
        var extra = random is null ? "" : $", \"random\": {random}";
        Assert.Equal(new SleepStep(1, TimeSpan.Zero), Load(WithStep($$"""{ "op": "sleep", "for": "0s"{{extra}} }""")).Tasks[0].Steps[0]);
    }

    [Fact]
    public void A_random_sleep_must_be_longer_than_0() =>
        AssertOnly(WithStep("""{ "op": "sleep", "for": "0s", "random": true }"""), 9, 31, "\"for\" must be longer than 0");

    [Theory]
    [InlineData("\"yes\"", "not the string \"yes\"")]
    [InlineData("1", "not the number 1")]
    public void Random_must_be_a_bool(string value, string fragment) =>
        AssertOnly(WithStep($$"""{ "op": "sleep", "for": "1ms", "random": {{value}} }"""), 9, 48, "\"random\" must be true or false, " + fragment);

    [Fact]
    public void Random_is_only_for_sleep() =>
        AssertOnly(WithStep("""{ "op": "holdLease", "file": "dax", "for": "1ms", "random": true }"""), 9, 57,
            "unknown key \"random\" in a holdLease step; expected one of: op, repeat, file, for");

    // --- signal restart and enomem ------------------------------------------------------------

    [Fact]
    public void A_signal_handler_has_no_sa_restart_by_default() =>
        Assert.Equal(new SignalFault(TimeSpan.FromMilliseconds(1), new TaskId(0), Restart: false),
            Assert.Single(Load(WithFault("""{ "kind": "signal", "at": "1ms", "task": "a" }""")).Faults));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_signal_may_restart(bool restart)
    {
        var fault = Assert.IsType<SignalFault>(Assert.Single(Load(WithFault(
            $$"""{ "kind": "signal", "at": "1ms", "task": "b", "restart": {{(restart ? "true" : "false")}} }""")).Faults));
        Assert.Equal(new SignalFault(TimeSpan.FromMilliseconds(1), new TaskId(1), restart), fault);
        Assert.Equal(restart, fault.Restart);
    }

    [Theory]
    [InlineData("\"yes\"", "not the string \"yes\"")]
    [InlineData("1", "not the number 1")]
    public void Restart_must_be_a_bool(string value, string fragment) =>
        AssertOnly(WithFault($$"""{ "kind": "signal", "at": "1ms", "task": "a", "restart": {{value}} }"""), 7, 62,
            "\"restart\" must be true or false, " + fragment);

    [Fact]
    public void Restart_is_not_for_a_kill() =>
        AssertOnly(WithFault("""{ "kind": "kill", "at": "1ms", "task": "a", "restart": true }"""), 7, 49,
            "unknown key \"restart\" in a kill fault; expected one of: kind, at, task");

    [Fact]
    public void An_enomem_fault()
    {
        var fault = Assert.IsType<EnomemFault>(Assert.Single(Load(WithFault("""{ "kind": "enomem", "at": "500us", "task": "b" }""")).Faults));
        Assert.Equal(new EnomemFault(TimeSpan.FromMicroseconds(500), new TaskId(1)), fault);
    }

    [Fact]
    public void Restart_is_not_for_an_enomem() =>
        AssertOnly(WithFault("""{ "kind": "enomem", "at": "1ms", "task": "a", "restart": true }"""), 7, 51,
            "unknown key \"restart\" in an enomem fault; expected one of: kind, at, task");

    [Fact]
    public void An_enomem_naming_an_undefined_task() =>
        AssertOnly(WithFault("""{ "kind": "enomem", "at": "1ms", "task": "c" }"""), 7, 46,
            "\"task\" names task \"c\", which is not defined; tasks: a, b");

    [Fact]
    public void An_enomem_time_without_a_unit() =>
        AssertOnly(WithFault("""{ "kind": "enomem", "at": 1, "task": "a" }"""), 7, 31, "\"at\" is 1 without a unit");

    // --- variants on other bases ---------------------------------------------------------------

    [Theory]
    [InlineData("no-unmap@linux-6.15", ProtocolBase.Linux615, Deviation.NoUnmap)]
    [InlineData("no-unmap@mainline", ProtocolBase.Mainline, Deviation.NoUnmap)]
    [InlineData("no-break@ext4-6.15", ProtocolBase.Ext4615, Deviation.NoBreak)]
    [InlineData("hold-mmaplock@virtiofs-6.15", ProtocolBase.Virtiofs615, Deviation.HoldMmaplock)]
    [InlineData("busy-scan-skips-locked-entry@mainline", ProtocolBase.Mainline, Deviation.BusyScanSkipsLockedEntry)]
    [InlineData("busy-scan-skips-waited-entry@ext4-6.15", ProtocolBase.Ext4615, Deviation.BusyScanSkipsWaitedEntry)]
    [InlineData("fuse-breaks-first-page-only@virtiofs-6.15", ProtocolBase.Virtiofs615, Deviation.FuseBreaksFirstPageOnly)]
    [InlineData("lease-break-drops-error@linux-6.15", ProtocolBase.Linux615, Deviation.LeaseBreakDropsError)]
    public void A_deviation_on_another_base(string name, ProtocolBase @base, Deviation deviation) =>
        Assert.Equal(new Variant(@base, deviation), Load(WithTop($"\"variant\": \"{name}\"")).Variant);

    [Fact]
    public void Every_variant_name_loads_to_its_variant()
    {
        Assert.Equal(21, Variants.AllNames.Count);
        foreach (var variant in Variants.All)
        {
            Assert.Equal(variant, Load(WithTop($"\"variant\": \"{variant.Name()}\"")).Variant);
        }
    }

    [Theory]
    [InlineData("no-unmap@linux-5.0", "unknown base \"linux-5.0\" in variant \"no-unmap@linux-5.0\"; bases: mainline, seed-v7, linux-4.18, linux-6.15, ext4-6.15, virtiofs-6.15")]
    [InlineData("no-unmap@", "unknown base \"\" in variant \"no-unmap@\"")]
    [InlineData("no-unmap@Linux-6.15", "unknown base \"Linux-6.15\"")]
    [InlineData("mainline@linux-6.15", "unknown variant \"mainline@linux-6.15\"; expected one of: mainline, seed-v7, ")]
    [InlineData("no-such@linux-6.15", "unknown variant \"no-such@linux-6.15\"")]
    public void A_variant_with_an_unknown_base_or_deviation(string name, string fragment) =>
        AssertOnly(WithTop($"\"variant\": \"{name}\""), 5, 14, fragment);

    [Theory]
    [InlineData("idle-at-0@linux-6.15",
        "variant \"idle-at-0@linux-6.15\": idle-at-0 does not apply to linux-6.15 (a DAX page of a 6.15 base is idle at refcount 0 already); it applies to mainline")]
    [InlineData("fuse-breaks-first-page-only@mainline",
        "variant \"fuse-breaks-first-page-only@mainline\": fuse-breaks-first-page-only does not apply to mainline (only fuse passes a range of its own to the DAX break); it applies to virtiofs-6.15")]
    [InlineData("no-unmap@seed-v7", "no-unmap does not apply to seed-v7")]
    [InlineData("lease-break-drops-error@ext4-6.15", "it applies to mainline, linux-6.15")]
    public void A_deviation_on_a_base_it_does_not_apply_to(string name, string message)
    {
        AssertOnly(WithTop($"\"variant\": \"{name}\""), 5, 14, message);
        Assert.False(Variants.TryParse(name, out _, out var error));
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    // --- shipped scenarios with processes, fsync, async DIO, random sleeps, restart, enomem -----

    public static TheoryData<string> ShippedClusterFiles()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(ShippedScenarios.Directory, "cluster"), "*.json").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ShippedClusterFiles))]
    public void Every_shipped_cluster_scenario_loads(string fileName)
    {
        var path = Path.Combine(ShippedScenarios.Directory, "cluster", fileName);

        var scenario = ScenarioLoader.LoadFile(path);

        Assert.Equal(Path.GetFileNameWithoutExtension(fileName), scenario.Name);
        Assert.NotEmpty(scenario.Tasks);
        Assert.All(scenario.Tasks, t => Assert.NotEmpty(t.Steps));
        Assert.All(scenario.Tasks, t => Assert.Contains(t.Id, scenario.ProcessOf(t.Id).Threads));
    }

    [Fact]
    public void There_are_shipped_cluster_scenarios() => Assert.NotEmpty(ShippedClusterFiles());

    [Theory]
    [MemberData(nameof(ShippedFiles))]
    public void Every_task_of_a_shipped_scenario_is_a_thread_of_exactly_one_process(string fileName)
    {
        var scenario = ShippedScenarios.Shipped(Path.GetFileNameWithoutExtension(fileName));
        Assert.Equal(scenario.Tasks.Select(t => t.Id), scenario.Processes.SelectMany(p => p.Threads).Order());
        Assert.All(scenario.DeclaredProcesses, p => Assert.NotEmpty(p.Threads));
    }

    [Fact]
    public void The_shipped_generic_503_runs_two_threads_of_one_process()
    {
        var scenario = ShippedScenarios.Shipped("generic-503-truncate");

        var process = Assert.Single(scenario.DeclaredProcesses);
        Assert.Equal(("t_mmap_collision", false), (process.Name, process.Implicit));
        Assert.Equal(["thread1", "thread2"], process.Threads.Select(scenario.TaskName));
        Assert.Equal([new ProcessMmap(scenario.Files.Single(f => f.Name == "dax").Id, new PageRange(0, 3))], process.Mmaps);
        Assert.Single(scenario.Processes);
        Assert.All(scenario.Tasks, t => Assert.True(Assert.IsType<SleepStep>(t.Steps[^1]).Random));
    }

    [Fact]
    public void The_shipped_scenarios_use_the_new_keys()
    {
        Assert.Contains(ShippedScenarios.Shipped("fsync-vs-punch").Tasks.SelectMany(t => t.Steps), s => s is FsyncStep);
        Assert.Contains(ShippedScenarios.Shipped("aio-munmap-truncate").Tasks.SelectMany(t => t.Steps), s => s is DioReadStep { Async: true });
        Assert.Contains(ShippedScenarios.Shipped("signal-restart").Faults, f => f is SignalFault { Restart: true });
        Assert.Contains(ShippedScenarios.Shipped("signal-long-pin").Faults, f => f is SignalFault { Restart: false });
        Assert.IsType<EnomemFault>(Assert.Single(ShippedScenarios.Shipped("lease-enomem").Faults));
    }
}
