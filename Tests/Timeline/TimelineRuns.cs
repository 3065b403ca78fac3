using DaxSim.Host.Deterministic;
using DaxSim.Host.Runs;
using DaxSim.Host.Timeline;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using DaxSim.Tests.Support;

namespace DaxSim.Tests.Timeline;

/// <summary>A rendered timeline: the scenario, the run (recorded whole) and its page.</summary>
public sealed record RenderedRun(Scenario Scenario, RunResult Run, string Html);

/// <summary>
/// The runs the timeline specs draw, each made once on one deterministic runtime:
/// an L1 deadlock (hold-mmaplock on dio-vs-zero), an S1 use-after-free (no-break on
/// signal-long-pin, seed 1) and a clean run (dio-vs-punch under mainline).
/// </summary>
public sealed class TimelineRuns : IDisposable
{
    private readonly DeterministicRuntime _runtime = new();
    private readonly Lazy<RenderedRun> _deadlock;
    private readonly Lazy<RenderedRun> _useAfterFree;
    private readonly Lazy<RenderedRun> _clean;

    public TimelineRuns()
    {
        _deadlock = new(() => Render("dio-vs-zero", Variant.HoldMmaplock, 1));
        _useAfterFree = new(() => Render("signal-long-pin", Variant.NoBreak, 1));
        _clean = new(() => Render("dio-vs-punch", Variant.Mainline, 1));
    }

    public RenderedRun Deadlock => _deadlock.Value;

    public RenderedRun UseAfterFree => _useAfterFree.Value;

    public RenderedRun Clean => _clean.Value;

    public RunResult Run(Scenario scenario, Variant variant, ulong seed)
    {
        lock (_runtime)
        {
            return _runtime.Run(scenario, new RunSettings { Seed = seed, Variant = variant, RecordTimeline = true });
        }
    }

    private RenderedRun Render(string name, Variant variant, ulong seed)
    {
        var scenario = Scenarios.Shipped(name);
        var run = Run(scenario, variant, seed);
        return new RenderedRun(scenario, run, TimelineReport.Render(scenario, run));
    }

    public void Dispose() => _runtime.Dispose();
}
