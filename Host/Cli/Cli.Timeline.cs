using DaxSim.Host.Runs;
using DaxSim.Host.Timeline;
using DaxSim.Protocol.Scenarios;

namespace DaxSim.Host.Cli;

// --html OUT.html on run, explore and replay: the timeline report of the run that was
// printed (for explore, the finding's run again, recorded whole).
public sealed partial class Cli
{
    /// <summary>--html of this invocation, or null.</summary>
    private string? _html;

    private const string HtmlDescription =
        "Write the timeline report here: one self-contained HTML page with a lane per actor (explore: of the finding).";

    /// <summary>Writes the timeline of <paramref name="result"/> to --html, if it was given.</summary>
    private void WriteTimeline(Scenario scenario, RunResult result, string? replay)
    {
        if (_html is null)
        {
            return;
        }
        TimelineReport.Write(_html, TimelineReport.Render(scenario, result, replay));
        stdout.WriteLine($"  timeline: {_html}");
    }

    /// <summary>explore found nothing: there is no run to draw.</summary>
    private void NoTimeline()
    {
        if (_html is not null)
        {
            stdout.WriteLine($"  timeline: not written to {_html}: no violating seed, so no run to draw");
        }
    }
}
