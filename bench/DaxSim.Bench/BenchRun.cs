using System.Diagnostics;

namespace DaxSim.Bench;

/// <summary>
/// What every bench mode takes when it starts and when it ends: the machine it ran on, how long
/// it took and the load average on both sides (a shared machine's figures are read with it).
/// </summary>
internal sealed class BenchRun
{
    private BenchRun(Machine machine, string loadBefore)
    {
        Machine = machine;
        LoadBefore = loadBefore;
    }

    public static BenchRun Start(string root) => new(Machine.Describe(root, DateTimeOffset.UtcNow), SystemCpu.LoadAverage());

    public Machine Machine { get; }

    public string LoadBefore { get; }

    public Stopwatch Total { get; } = Stopwatch.StartNew();

    /// <summary>The load line printed under a mode's heading: the load average, and how busy other processes are now.</summary>
    public string LoadLine() =>
        $"  load average {LoadBefore}; other processes busy on {SystemCpu.OthersBusy(TimeSpan.FromSeconds(1)):F2} cores";

    /// <summary>The machine with the load average before and after the run, for the report.</summary>
    public Machine Finished() => Machine with { Load = $"{LoadBefore} before, {SystemCpu.LoadAverage()} after" };
}
