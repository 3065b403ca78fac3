using DaxSim.Protocol.Scenarios;
using Xunit;

namespace DaxSim.Tests.ScenarioFiles;

/// <summary>
/// The loader's page-range checks at the boundary: a range may end at a file's last page and
/// not one page after it, for the DAX mapping and for the plain file a DIO reads or writes
/// alike. Written for the mutant bench/mutants/dio-plain-range-off-by-one.patch: the older
/// specs tried only a DIO range two pages past the plain file, which a check off by one
/// still refuses.
/// </summary>
public sealed class PageRangeBoundarySpecs
{
    /// <summary>"dax" (DAX, 8 pages), "src" (plain, 2 pages); the step is on line 5, from column 5.</summary>
    private static string Dio(string op, string pages)
    {
        var (plainKey, daxKey) = op == "dioRead" ? ("from", "into") : ("to", "from");
        return $$"""
            {
              "name": "t",
              "files": [ { "name": "dax", "pages": 8 }, { "name": "src", "dax": false, "pages": 2 } ],
              "tasks": [ { "name": "a", "steps": [
                { "op": "{{op}}", "{{plainKey}}": "src", "{{daxKey}}": "dax", "pages": "{{pages}}" } ] } ]
            }
            """;
    }

    [Theory]
    [InlineData("dioRead")]
    [InlineData("dioWrite")]
    public void A_dio_range_must_be_refused_when_it_ends_one_page_past_the_plain_file(string op)
    {
        var e = Assert.Throws<ScenarioException>(() => ScenarioLoader.Parse(Dio(op, "0-2"), "t.json"));
        var error = Assert.Single(e.Errors);
        Assert.Equal("page range 0-2 is outside file \"src\" (2 pages, 0-1)", error.Message);
        Assert.Equal(5, error.Line);
    }

    [Theory]
    [InlineData("dioRead")]
    [InlineData("dioWrite")]
    public void A_dio_range_must_be_accepted_when_it_ends_at_the_plain_files_last_page(string op)
    {
        var scenario = ScenarioLoader.Parse(Dio(op, "0-1"), "t.json");
        Assert.Single(scenario.Tasks[0].Steps);
    }
}
