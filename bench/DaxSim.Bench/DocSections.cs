using System.Text;
using System.Text.RegularExpressions;

namespace DaxSim.Bench;

/// <summary>
/// Sections of a generated document that belong to one bench mode, between
/// <c>&lt;!-- NAME:begin --&gt;</c> and <c>&lt;!-- NAME:end --&gt;</c>: a mode rewrites its own section
/// and leaves the rest of the file alone, and a mode that regenerates the whole file carries
/// the others' sections over (<see cref="CarryOver"/>).
/// </summary>
internal static partial class DocSections
{
    private static string Begin(string name) => $"<!-- {name}:begin -->";

    private static string End(string name) => $"<!-- {name}:end -->";

    /// <summary>The text with section NAME's content replaced, or the section appended at the end.</summary>
    public static string Replace(string text, string name, string content)
    {
        var block = $"{Begin(name)}\n{content.TrimEnd()}\n{End(name)}";
        var a = text.IndexOf(Begin(name), StringComparison.Ordinal);
        var z = text.IndexOf(End(name), StringComparison.Ordinal);
        if (a >= 0 && z > a)
        {
            return text[..a] + block + text[(z + End(name).Length)..];
        }
        var sep = text.Length == 0 ? "" : text.EndsWith('\n') ? "\n" : "\n\n";
        return text + sep + block + "\n";
    }

    [GeneratedRegex(@"<!-- (?<name>[A-Za-z0-9_-]+):begin -->.*?<!-- \k<name>:end -->", RegexOptions.Singleline)]
    private static partial Regex Section();

    /// <summary>
    /// The new text of a file, with every marked section of the old text that the new one
    /// lacks appended: a mode that regenerates the whole file keeps the other modes' sections.
    /// </summary>
    public static string CarryOver(string oldText, string newText)
    {
        var s = new StringBuilder(newText);
        foreach (Match m in Section().Matches(oldText))
        {
            if (!newText.Contains(Begin(m.Groups["name"].Value), StringComparison.Ordinal))
            {
                s.Append(s.Length > 0 && s[^1] == '\n' ? "\n" : "\n\n").Append(m.Value).Append('\n');
            }
        }
        return s.ToString();
    }
}
