using System.Globalization;
using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace DaxSim.Host.Runs;

/// <summary>How one test case of a JUnit report ended.</summary>
public enum JUnitOutcome
{
    /// <summary>No violation: a passing test case.</summary>
    Passed,

    /// <summary>An invariant was broken: &lt;failure type="S1"&gt;.</summary>
    Failed,

    /// <summary>A real-time run the host ran too late to judge (exit 4): &lt;skipped&gt;.</summary>
    Skipped,

    /// <summary>DaxSim itself failed (exit 70) or a cluster member did not answer (exit 75): &lt;error&gt;.</summary>
    Error,
}

/// <summary>
/// One test case: a scenario under one variant, as run, explore or replay ran it.
/// <paramref name="Type"/>, <paramref name="Message"/> and <paramref name="Text"/> describe a
/// failure, skip or error (the invariant id, one line, and the details with the replay command).
/// </summary>
public sealed record JUnitCase(
    string ClassName,
    string Name,
    TimeSpan Time,
    JUnitOutcome Outcome,
    IReadOnlyList<KeyValuePair<string, string>> Properties,
    string? Type = null,
    string? Message = null,
    string? Text = null);

/// <summary>
/// `--junit OUT.xml`: a JUnit XML report as CI systems read it (Jenkins, GitLab, GitHub test
/// reporters): &lt;testsuites&gt; with one &lt;testsuite&gt; per command, and in it one
/// &lt;testcase&gt; per scenario and variant. A finding is a &lt;failure&gt; whose type is the
/// invariant (S1-S4, L1-L3) and whose text gives the violation and the command that replays it.
/// </summary>
public static class JUnitReport
{
    public static string Render(string suite, IReadOnlyList<JUnitCase> cases, DateTime timestamp)
    {
        int failures = cases.Count(c => c.Outcome == JUnitOutcome.Failed),
            errors = cases.Count(c => c.Outcome == JUnitOutcome.Error),
            skipped = cases.Count(c => c.Outcome == JUnitOutcome.Skipped);
        var time = Seconds(cases.Aggregate(TimeSpan.Zero, (t, c) => t + c.Time));
        // The ant schema most readers follow puts <properties> on the suite; every case of a
        // suite runs with the same flags, so the suite's are the first case's.
        var properties = cases.Count > 0 && cases[0].Properties.Count > 0
            ? new XElement("properties", cases[0].Properties.Select(p =>
                new XElement("property", new XAttribute("name", p.Key), new XAttribute("value", Clean(p.Value)))))
            : null;
        var testsuite = new XElement("testsuite",
            new XAttribute("name", suite),
            new XAttribute("tests", cases.Count),
            new XAttribute("failures", failures),
            new XAttribute("errors", errors),
            new XAttribute("skipped", skipped),
            new XAttribute("time", time),
            new XAttribute("timestamp", timestamp.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture)),
            properties,
            cases.Select(Case));
        var root = new XElement("testsuites",
            new XAttribute("name", "daxsim"),
            new XAttribute("tests", cases.Count),
            new XAttribute("failures", failures),
            new XAttribute("errors", errors),
            new XAttribute("skipped", skipped),
            new XAttribute("time", time),
            testsuite);
        var builder = new StringBuilder();
        using (var writer = XmlWriter.Create(builder, new XmlWriterSettings
               {
                   Indent = true, OmitXmlDeclaration = false, Encoding = new UTF8Encoding(false),
               }))
        {
            new XDocument(new XDeclaration("1.0", "UTF-8", null), root).Save(writer);
        }
        // A StringBuilder makes the declaration say utf-16; the file is written as UTF-8.
        return builder.ToString().Replace("encoding=\"utf-16\"", "encoding=\"UTF-8\"", StringComparison.Ordinal) + "\n";
    }

    private static XElement Case(JUnitCase c)
    {
        var element = new XElement("testcase",
            new XAttribute("classname", c.ClassName),
            new XAttribute("name", c.Name),
            new XAttribute("time", Seconds(c.Time)));
        var tag = c.Outcome switch
        {
            JUnitOutcome.Failed => "failure",
            JUnitOutcome.Error => "error",
            JUnitOutcome.Skipped => "skipped",
            _ => null,
        };
        if (tag is not null)
        {
            var detail = new XElement(tag, new XAttribute("message", Clean(c.Message ?? "")));
            if (c.Type is not null)
            {
                detail.Add(new XAttribute("type", Clean(c.Type)));
            }
            if (!string.IsNullOrEmpty(c.Text))
            {
                detail.Add(new XText(Clean(c.Text)));
            }
            element.Add(detail);
        }
        return element;
    }

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);

    /// <summary>XML 1.0 cannot hold most control characters, even escaped: they become '?'.</summary>
    private static string Clean(string s)
    {
        if (s.All(XmlConvert.IsXmlChar))
        {
            return s;
        }
        var builder = new StringBuilder(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            if (i + 1 < s.Length && XmlConvert.IsXmlSurrogatePair(s[i + 1], s[i]))
            {
                builder.Append(s[i]).Append(s[i + 1]);
                i++;
            }
            else
            {
                builder.Append(XmlConvert.IsXmlChar(s[i]) ? s[i] : '?');
            }
        }
        return builder.ToString();
    }
}
