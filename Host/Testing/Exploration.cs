using System.Text;
using DaxSim.Host.Checking;
using DaxSim.Host.Explore;
using DaxSim.Host.Runs;
using DaxSim.Host.Shrink;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;

namespace DaxSim.Testing;

/// <summary>
/// What <see cref="Simulation.Explore"/> found: the seeds it ran and, if one broke an
/// invariant, the <see cref="Finding"/> (the lowest such seed). Assert with
/// <see cref="AssertClean"/> or <see cref="AssertFinds"/>, or read it and assert yourself.
/// </summary>
public sealed class Exploration
{
    private readonly ExploreResult _outcome;

    internal Exploration(Simulation simulation, string strategy, bool faultInjection, ulong firstSeed, long seeds,
        ExploreResult outcome, Finding? finding)
    {
        Simulation = simulation;
        Strategy = strategy;
        FaultInjection = faultInjection;
        FirstSeed = firstSeed;
        Seeds = seeds;
        _outcome = outcome;
        Finding = finding;
    }

    /// <summary>What was explored, and how.</summary>
    public Simulation Simulation { get; }

    public string Strategy { get; }

    public bool FaultInjection { get; }

    public ulong FirstSeed { get; }

    /// <summary>The seed budget: how many seeds were asked for.</summary>
    public long Seeds { get; }

    /// <summary>How many seeds ran: all of them when clean; up to the finding's when not.</summary>
    public long SeedsRun => _outcome.SeedsRun;

    /// <summary>How many of the seeds run broke an invariant (the lowest is <see cref="Finding"/>).</summary>
    public long Findings => _outcome.Findings;

    public TimeSpan Elapsed => _outcome.Elapsed;

    /// <summary>The protocol branches the seeds reached, as `daxsim explore` prints them.</summary>
    public CoverageTotals Coverage => _outcome.Coverage;

    /// <summary>The lowest seed that broke an invariant, written, shrunk and replayed; null when clean.</summary>
    public Finding? Finding { get; }

    public bool Clean => Finding is null;

    /// <summary>Throws <see cref="DaxSimFindingException"/> if a seed broke an invariant.</summary>
    public Exploration AssertClean()
    {
        if (Finding is { } finding)
        {
            throw new DaxSimFindingException(finding);
        }
        return this;
    }

    /// <summary>
    /// The finding, which must break <paramref name="invariant"/> (S1..S4, L1..L3; null: any).
    /// Throws <see cref="DaxSimAssertionException"/> when every seed was clean, and
    /// <see cref="DaxSimFindingException"/> when a seed broke another invariant.
    /// </summary>
    public Finding AssertFinds(string? invariant = null)
    {
        if (Finding is not { } finding)
        {
            throw new DaxSimAssertionException(
                $"expected {(invariant is null ? "a finding" : $"a finding of {invariant}")} in scenario " +
                $"{Simulation.Scenario.Name} ({Simulation.Scenario.Source}), variant {Simulation.Variant.Name()}, " +
                $"strategy {Strategy}{(FaultInjection ? ", fault injection" : "")}, but all {SeedsRun} seeds " +
                $"({FirstSeed}..{FirstSeed + (ulong)SeedsRun - 1}) were clean");
        }
        if (invariant is not null && finding.Invariant != invariant)
        {
            throw new DaxSimFindingException(finding, $"expected a finding of {invariant}, but found {finding.Invariant}");
        }
        return finding;
    }
}

/// <summary>
/// A seed that broke an invariant, as `daxsim explore` reports it: the violation, the report
/// that replays it, and (unless shrinking was off) the minimal scenario and trace that still
/// break the same invariant, with the command that replays them. <see cref="Message"/> says it all.
/// </summary>
public sealed class Finding
{
    internal Finding(Scenario scenario, RunResult run, string search, string reportPath, string replayReportPath,
        string? minimalScenarioPath, string minimalTracePath, string minimalTrace, ShrinkResult? shrunk,
        Scenario minimal, string? schedule = null)
    {
        Schedule = schedule;
        var violation = run.Violation!;
        Scenario = scenario.Name;
        Source = scenario.Source;
        Invariant = violation.Invariant.Name();
        Title = violation.Invariant.Title();
        Verdict = violation.Verdict.JsonName();
        Damage = violation.Damage?.Name();
        Description = violation.Description;
        Seed = run.Seed;
        Variant = run.Variant.Name();
        Search = search;
        ReportPath = reportPath;
        ReplayReportPath = replayReportPath;
        MinimalScenarioPath = minimalScenarioPath;
        MinimalTracePath = minimalTracePath;
        MinimalTrace = minimalTrace;
        Shrunk = shrunk;
        Run = run;
        MinimalTasks = minimal.Tasks.Count;
        MinimalSteps = minimal.OperationCount;
        OriginalSteps = scenario.OperationCount;
        Message = Describe(violation);
    }

    public string Scenario { get; }

    /// <summary>Where the scenario came from: its file, "(built) NAME" or the source given to Simulation.Parse.</summary>
    public string Source { get; }

    /// <summary>S1..S4, L1..L3, as reports write them.</summary>
    public string Invariant { get; }

    /// <summary>The invariant's title ("use-after-free").</summary>
    public string Title { get; }

    /// <summary>safety or liveness.</summary>
    public string Verdict { get; }

    /// <summary>For S1: data-corrupted, pinned-block-freed or leased-block-freed; null otherwise.</summary>
    public string? Damage { get; }

    /// <summary>What happened, in a sentence, as the report's violation.description.</summary>
    public string Description { get; }

    /// <summary>The lowest seed of the exploration that broke the invariant (of a systematic search: the seed of every schedule's random sleeps).</summary>
    public ulong Seed { get; }

    /// <summary>Of a systematic search: the violating schedule (its delays, their default order and choice points); null for seeds.</summary>
    public string? Schedule { get; }

    public string Variant { get; }

    /// <summary>How it was explored: strategy, PCT's parameters, fault injection.</summary>
    public string Search { get; }

    /// <summary>The finding's report as explored (replayable: `daxsim replay` it).</summary>
    public string ReportPath { get; }

    /// <summary>The report the replay command names: the shrunk finding's, or <see cref="ReportPath"/> when not shrunk.</summary>
    public string ReplayReportPath { get; }

    /// <summary>`daxsim replay FILE` of <see cref="ReplayReportPath"/>: it was replayed to the same violation and trace before this was made.</summary>
    public string ReplayCommand => Simulation.ReplayCommand(ReplayReportPath);

    /// <summary>The shrunk scenario file (a scenario you can read, edit and run); null when not shrunk.</summary>
    public string? MinimalScenarioPath { get; }

    /// <summary>The whole trace of the replayed (minimal) finding as text, every delivery and event.</summary>
    public string MinimalTrace { get; }

    /// <summary>Where <see cref="MinimalTrace"/> was written, next to its report.</summary>
    public string MinimalTracePath { get; }

    public int MinimalTasks { get; }

    /// <summary>The operations the minimal scenario runs (every step of every iteration); <see cref="OriginalSteps"/> before shrinking.</summary>
    public int MinimalSteps { get; }

    public int OriginalSteps { get; }

    /// <summary>What shrinking did (candidates, deviations, time); null when it was off.</summary>
    public ShrinkResult? Shrunk { get; }

    /// <summary>The finding's run as explored, with its violation, ops and schedule.</summary>
    public RunResult Run { get; }

    /// <summary>The invariant, the violation, the seed, the minimal trace and the replay command: the failure message.</summary>
    public string Message { get; }

    public override string ToString() => Message;

    private string Describe(Violation violation)
    {
        var text = new StringBuilder();
        text.AppendLine($"DaxSim found {Invariant} ({Title}) in scenario {Scenario} ({Source}): variant {Variant}, " +
                        $"{Search}, " + (Schedule is null ? $"seed {Seed}" : $"schedule: {Schedule} (seed {Seed})"));
        if (violation.Damage is { } damage)
        {
            text.AppendLine($"  {damage.Sentence()}");
        }
        text.AppendLine($"  {Description}");
        foreach (var edge in violation.WaitFor)
        {
            text.AppendLine($"  wait-for: {edge}");
        }
        text.AppendLine($"replay: {ReplayCommand}");
        if (Shrunk is { } s)
        {
            text.AppendLine(
                $"  shrunk in {s.Elapsed.TotalSeconds:F1} s{(s.OutOfTime ? " (stopped at the time budget)" : "")}: " +
                $"{Simulation.Plural(MinimalTasks, "task")}, {Simulation.Plural(MinimalSteps, "step")} (was {OriginalSteps}), " +
                $"{Simulation.Plural(s.Run.Deliveries, "message")} (was {s.OriginalDeliveries}), " +
                $"{Simulation.Plural(s.Deviations, "scheduling deviation")} (was {s.OriginalDeviations})");
            text.AppendLine($"  minimal scenario: {MinimalScenarioPath}");
        }
        text.AppendLine($"  the finding as explored: {Simulation.ReplayCommand(ReportPath)}");
        var lines = MinimalTrace.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();
        var shown = lines.TakeLast(Simulation.MessageTraceLines).ToList();
        text.AppendLine($"{(Shrunk is null ? "trace" : "minimal trace")} ({Simulation.Plural(lines.Count, "line")}" +
                        (shown.Count < lines.Count ? $", the last {shown.Count} here" : "") +
                        $"; all in {MinimalTracePath}):");
        foreach (var line in shown)
        {
            text.Append("  ").AppendLine(line);
        }
        return text.ToString().TrimEnd();
    }
}

/// <summary>
/// A fault-injection test's expectation failed. Any test framework reports it as a failure
/// with its message; the API depends on none.
/// </summary>
public class DaxSimAssertionException(string message) : Exception(message);

/// <summary>
/// An exploration found a seed that breaks an invariant the test expected to hold. The message
/// is the <see cref="Finding"/>'s: invariant, violation, seed, minimal trace, replay command.
/// </summary>
public sealed class DaxSimFindingException : DaxSimAssertionException
{
    public DaxSimFindingException(Finding finding)
        : base(finding.Message)
    {
        Finding = finding;
    }

    /// <summary>With a first line of its own before the finding's message (an expectation it failed).</summary>
    public DaxSimFindingException(Finding finding, string expectation)
        : base(expectation + Environment.NewLine + finding.Message)
    {
        Finding = finding;
    }

    public Finding Finding { get; }
}

/// <summary>
/// What <see cref="Simulation.ExploreSystematic"/> found: how many schedules ran, whether they
/// were every schedule within the bound (<see cref="Exhausted"/>), and the first violating one
/// (fewest delays) as a <see cref="Finding"/>. Assert with <see cref="AssertExhausted"/> (the
/// proof: clean and covered), <see cref="AssertClean"/> or <see cref="AssertFinds"/>.
/// </summary>
public sealed class SystematicExploration
{
    private readonly SystematicResult _outcome;

    internal SystematicExploration(Simulation simulation, SystematicResult outcome, Finding? finding)
    {
        Simulation = simulation;
        _outcome = outcome;
        Finding = finding;
    }

    public Simulation Simulation { get; }

    /// <summary>k: the most delays a schedule had.</summary>
    public int Bound => _outcome.Bound;

    /// <summary>Schedules started (those the reduction cut short included).</summary>
    public long Schedules => _outcome.Schedules;

    /// <summary>Schedules run to their end.</summary>
    public long Complete => _outcome.Complete;

    /// <summary>Every schedule within the bound ran, and none broke an invariant.</summary>
    public bool Exhausted => _outcome.Exhausted;

    /// <summary>Why the search stopped before covering the bound (the schedule limit), or null.</summary>
    public string? StoppedBy => _outcome.StoppedBy;

    public TimeSpan Elapsed => _outcome.Elapsed;

    public CoverageTotals Coverage => _outcome.Coverage;

    /// <summary>The first violating schedule (fewest delays), written, shrunk and replayed; null when clean.</summary>
    public Finding? Finding { get; }

    /// <summary>Throws if a schedule broke an invariant (a limit that stopped the search is not a failure here).</summary>
    public SystematicExploration AssertClean()
    {
        if (Finding is { } finding)
        {
            throw new DaxSimFindingException(finding);
        }
        return this;
    }

    /// <summary>Throws unless every schedule within the bound ran clean: a finding, or a search a limit stopped.</summary>
    public SystematicExploration AssertExhausted()
    {
        AssertClean();
        if (!Exhausted)
        {
            throw new DaxSimAssertionException(
                $"expected every schedule within bound {Bound} of scenario {Simulation.Scenario.Name} to run clean, " +
                $"but the search stopped at {StoppedBy} after {Schedules} schedules");
        }
        return this;
    }

    /// <summary>The finding, which must break <paramref name="invariant"/> (null: any); throws when every schedule was clean.</summary>
    public Finding AssertFinds(string? invariant = null)
    {
        if (Finding is not { } finding)
        {
            throw new DaxSimAssertionException(
                $"expected {(invariant is null ? "a finding" : $"a finding of {invariant}")} in scenario " +
                $"{Simulation.Scenario.Name} ({Simulation.Scenario.Source}), variant {Simulation.Variant.Name()}, within " +
                $"{Bound} delay(s), but all {Schedules} schedules were clean" + (Exhausted ? " (exhausted)" : $" (stopped at {StoppedBy})"));
        }
        if (invariant is not null && finding.Invariant != invariant)
        {
            throw new DaxSimFindingException(finding, $"expected a finding of {invariant}, but found {finding.Invariant}");
        }
        return finding;
    }
}
