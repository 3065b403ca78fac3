using System.Diagnostics;
using System.Runtime;
using DaxSim.Host.Load;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Load;
using Newtonsoft.Json.Linq;

namespace DaxSim.Bench;

/// <summary>
/// Section 6 of the bench: `daxsim load`. The protocol messages per second of the local and
/// the deterministic runtime under the default load mix (medians of several runs, after a
/// warm-up run), as ratios to the raw ping-pong of the same process; what a page actor costs
/// against an empty actor; and a million pages with ten thousand tasks in a child process
/// whose managed heap is capped at 1 GiB.
/// </summary>
internal static class LoadBench
{
    private const int WarmJitMethods = 20;
    private static readonly TimeSpan LocalWarmupBudget = TimeSpan.FromSeconds(12);

    internal sealed record Figures(double LocalRate, double LocalRatio, double PairedPingPong, double DeterministicRate,
        double BytesPerPage, bool ScaleRan, bool ScaleClean);

    // The load mix: the default mix of `daxsim load --tasks` on 8 files of 1,024 pages; on real
    // threads no think time (every task busy), in simulated time 1 ms (operations that take no
    // simulated time would otherwise make a million simulated operations per task per second).
    internal static LoadSpec Mix(int tasks, TimeSpan duration, TimeSpan think) => new("bench-mix", null, 8, 1024, null,
        LoadSpec.MixOf(tasks, think, null, 1024), duration, duration / 10, null, null, null,
        LoadSpec.DefaultOpBound, LoadSpec.DefaultLeaseBreakTime);

    public static Figures Run(string root, Action<string, string, string, string> add, Action<string> section,
        double pingOne, double pingMany, int repeats, TimeSpan localDuration, TimeSpan detDuration, bool scale)
    {
        section("6. load (daxsim load): the default mix of DIO readers and writers, faulting readers, truncators, hole punchers, lease holders");
        var local = Local(add, pingOne, pingMany, repeats, localDuration);

        // Deterministic: one thread, simulated duration.
        var detSpec = Mix(400, detDuration, TimeSpan.FromMilliseconds(1));
        LoadEngine.Run(new LoadPlan(detSpec, 99, Variant.Mainline, Runtimes.For(RuntimeKind.Deterministic)), measureFootprint: false);
        var detCpu = SystemCpu.Sample();
        var det = Median(repeats, i =>
        {
            var r = LoadEngine.Run(new LoadPlan(detSpec, (ulong)i, Variant.Mainline, Runtimes.For(RuntimeKind.Deterministic)),
                measureFootprint: false);
            return (r.Run.Messages / r.Run.WallTime.TotalSeconds, r);
        });
        add("load", "deterministic runtime, 400 tasks, 1 thread", $"{det.Median / 1e6:F3} M msg/s",
            $"median of {repeats} runs of {Durations(detDuration)} simulated, think 1 ms (after a warm-up run); slowest {det.Min / 1e6:F3}, " +
            $"fastest {det.Max / 1e6:F3}; {det.Results[0].Run.Messages:N0} messages per run");
        var detEnd = SystemCpu.Sample();
        add("load", "  other processes' CPU meanwhile", $"{detEnd.OthersSince(detCpu):F2} cores", "");
        add("load", "  ratio to ping-pong, 1 in flight", $"{det.Median / pingOne:F2} x", "");
        // One thread of the deterministic runtime does the actors' and the checker's work with no
        // hand-off between threads: all cores doing that work at that cost is the most the local
        // runtime could deliver on this mix, whatever its dispatcher and its event queue. CPU,
        // not wall time: other processes' share of the cores does not count against it.
        var detCpuPerMessage = (detEnd.Own - detCpu.Own).TotalSeconds / det.Results.Sum(r => r.Run.Messages);
        var ceiling = Environment.ProcessorCount / detCpuPerMessage;
        add("load", "  ceiling from the model's own work", $"{ceiling / 1e6:F3} M msg/s",
            $"{Environment.ProcessorCount} cores / the deterministic runtime's CPU per message ({detCpuPerMessage * 1e6:F2} us " +
            $"of actor and checker work, one thread, no hand-off); {ceiling / pingOne:F2} x section 1's ping-pong, 1 in flight; " +
            $"{ceiling / local.PairedPingPong:F2} x the ping-pong beside the local runs");

        // Memory per actor.
        var footprints = Enumerable.Range(0, 3).Select(_ => ActorFootprint.Measure(5_000)).ToList();
        var page = footprints.Select(f => f.PageActorBytes).Order().ElementAt(1);
        var empty = footprints.Select(f => f.EmptyActorBytes).Order().ElementAt(1);
        add("load", "PageActor, always live", $"{page:N0} B", "managed heap per actor, 5,000 created, median of 3 (ActorFootprint)");
        add("load", "  empty ReceiveActor", $"{empty:N0} B", "Akka's own cost per actor: cell, mailbox, path, reference");
        add("load", "  one actor per page for 1,000,000 pages", $"{page * 1e6 / 1073741824.0:F2} GiB", "why pages are made on first use and passivated");

        double bytesPerPage = double.NaN;
        var clean = false;
        if (scale)
        {
            (bytesPerPage, clean) = Scale(root, add);
        }
        return new Figures(local.Median, local.PairedRatio, local.PairedPingPong, det.Median, bytesPerPage, scale, clean);
    }

    /// <summary>
    /// The local runtime under the load mix: real threads, wall-clock duration, a warm-up run
    /// and then the median of <paramref name="repeats"/> runs, as ratios to the ping-pong.
    /// </summary>
    public static Measured Local(Action<string, string, string, string> add, double pingOne, double pingMany,
        int repeats, TimeSpan localDuration)
    {
        var localSpec = Mix(400, localDuration, TimeSpan.Zero);
        // Warm-up: tiered JIT recompiles the hot methods on a background thread for seconds
        // after their first calls, and on two shared cores that thread competes with the
        // actors. Run 1 s loads until one compiles fewer than WarmJitMethods methods (at
        // most LocalWarmupBudget), so that the measurement is of the steady state, as in section 2.
        var warm = Stopwatch.StartNew();
        var warmups = 0;
        long compiledInLast;
        do
        {
            var compiled = JitInfo.GetCompiledMethodCount();
            LoadEngine.Run(new LoadPlan(localSpec with { Duration = TimeSpan.FromSeconds(1) }, (ulong)(100 + warmups),
                Variant.Mainline, Runtimes.For(RuntimeKind.Local)), measureFootprint: false);
            compiledInLast = JitInfo.GetCompiledMethodCount() - compiled;
            warmups++;
        }
        while (compiledInLast >= WarmJitMethods && warm.Elapsed < LocalWarmupBudget);
        // CPU, allocation and JIT are summed over the load runs alone, not the ping-pongs between them.
        long jitMethods = 0, allocated = 0;
        double cpu = 0, wall = 0, others = 0;
        var jitTime = TimeSpan.Zero;
        // The rate of record is the measured window's (LoadReport.WindowMessageRate): the
        // load at full speed, as the ping-pong is timed after its ActorSystem exists. The whole
        // run's rate, creating and stopping 8,600 actors included, is shown beside it.
        // Each load run is paired with a ping-pong (1 in flight) measured just before it: the
        // machine's speed drifts (other tenants of the host, the thread pool's moods) between
        // section 1 and this one, and the ratio of record is the median of the pairs' ratios.
        var pairs = new List<(double PingPong, double Local)>();
        var local = Median(repeats, i =>
        {
            var ping = PingPong.Measure([(1, 100_000, 1_000_000)], 1)[0].MessagesPerSecond;
            var (methods0, jit0) = (JitInfo.GetCompiledMethodCount(), JitInfo.GetCompilationTime());
            var before = SystemCpu.Sample();
            var allocated0 = GC.GetTotalAllocatedBytes(precise: true);
            var r = LoadEngine.Run(new LoadPlan(localSpec, (ulong)i, Variant.Mainline, Runtimes.For(RuntimeKind.Local)),
                measureFootprint: false);
            allocated += GC.GetTotalAllocatedBytes(precise: true) - allocated0;
            var after = SystemCpu.Sample();
            (jitMethods, jitTime) = (jitMethods + JitInfo.GetCompiledMethodCount() - methods0,
                jitTime + JitInfo.GetCompilationTime() - jit0);
            var runWall = Stopwatch.GetElapsedTime(before.Timestamp, after.Timestamp).TotalSeconds;
            cpu += (after.Own - before.Own).TotalSeconds;
            wall += runWall;
            others += after.OthersSince(before) * runWall;
            var rate = LoadReport.WindowMessageRate(r) ?? r.Run.Messages / r.Run.WallTime.TotalSeconds;
            pairs.Add((ping, rate));
            return (rate, r);
        });
        var wholeRuns = local.Results.Select(r => r.Run.Messages / r.Run.WallTime.TotalSeconds).Order().ToList();
        var messages = local.Results.Sum(r => r.Run.Messages);
        add("load", "local runtime, 400 tasks, 2 cores", $"{local.Median / 1e6:F3} M msg/s",
            $"median of {repeats} runs of {localDuration.TotalSeconds:F0} s (after {warmups} warm-up run(s) of 1 s, " +
            $"{warm.Elapsed.TotalSeconds:F0} s); slowest " +
            $"{local.Min / 1e6:F3}, fastest {local.Max / 1e6:F3}; protocol messages delivered to entities in the measured " +
            $"window (after the load's {localSpec.EffectiveWarmup.TotalSeconds:F1} s warm-up, to its end) / its wall time; " +
            $"verdicts {string.Join(", ", local.Results.Select(r => r.Run.Verdict))}");
        add("load", "  whole run, start and stop included", $"{wholeRuns[wholeRuns.Count / 2] / 1e6:F3} M msg/s",
            "all messages / the run's wall time, creating and stopping the run's 8,600 actors included; median");
        add("load", "  other processes' CPU meanwhile", $"{others / Math.Max(wall, 1e-9):F2} cores", "0.00 = the bench had the machine to itself");
        add("load", "  CPU per message (local)", $"{cpu * 1e6 / messages:F2} us",
            $"the bench's CPU during the {repeats} runs, not the ping-pongs between them (actors, checker, Akka, GC; run set-up included) / messages; " +
            $"{cpu / wall:F2} cores busy of {Environment.ProcessorCount}");
        add("load", "  allocated per message (local)", $"{(double)allocated / messages:F0} B",
            "GC.GetTotalAllocatedBytes delta over the runs / messages");
        add("load", "  JIT during measurement (local)", $"{jitMethods} methods",
            $"{jitTime.TotalMilliseconds:F0} ms of compilation (0 = fully warmed up)");
        var sample = local.Results[0];
        add("load", "  operations/s (local)", $"{sample.Stats.Ops.Sum(o => o.Count) / LoadReport.WindowSeconds(sample):N0}",
            $"first measured run; threads {sample.Run.Threads}, events {sample.Run.Events:N0}");
        add("load", "  ratio to ping-pong, 1 in flight", $"{local.Median / pingOne:F2} x", "local msg/s / raw Akka msg/s of section 1, same process");
        add("load", "  ratio to ping-pong, 100 in flight", $"{local.Median / pingMany:F2} x", "");
        var ratios = pairs.Select(p => p.Local / p.PingPong).Order().ToList();
        var pings = pairs.Select(p => p.PingPong).Order().ToList();
        var paired = ratios[ratios.Count / 2];
        add("load", "  ping-pong beside each run, 1 in flight", $"{pings[pings.Count / 2] / 1e6:F2} M msg/s",
            $"1,000,000 round trips just before each load run; {string.Join(", ", pairs.Select(p => $"{p.PingPong / 1e6:F2}"))} M msg/s");
        add("load", "  ratio, paired (of record)", $"{paired:F2} x",
            $"median of each run's rate / the ping-pong just before it: {string.Join(", ", ratios.Select(r => $"{r:F2}"))}");
        return local with { PairedRatio = paired, PairedPingPong = pings[pings.Count / 2] };
    }

    // A million pages (100 files of 10,000) and 10,000 tasks on the local runtime, in a child
    // process whose managed heap may not exceed 1 GiB: if it finishes, it fit.
    private static (double BytesPerPage, bool Clean) Scale(string root, Action<string, string, string, string> add)
    {
        var daxsim = Path.Combine(AppContext.BaseDirectory, "daxsim");
        var report = Path.Combine(Path.GetTempPath(), $"daxsim-bench-scale-{Environment.ProcessId}.json");
        var start = new ProcessStartInfo(daxsim)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var spec = Path.Combine(root, "scenarios", "load", "million-pages.json");
        foreach (var a in new[] { "load", spec, "--runtime", "local", "--progress", "off", "--report", report })
        {
            start.ArgumentList.Add(a);
        }
        start.Environment["DOTNET_GCHeapHardLimit"] = "0x40000000"; // 1 GiB
        var clock = Stopwatch.StartNew();
        using var child = Process.Start(start)!;
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        if (!child.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            child.Kill(entireProcessTree: true);
        }
        child.WaitForExit();
        var code = child.ExitCode;
        if (!File.Exists(report))
        {
            add("scale", "1,000,000 pages, 10,000 tasks (1 GiB heap cap)", "FAILED",
                $"exit {code}: {Last(stderr.Result + stdout.Result)}");
            return (double.NaN, false);
        }
        var json = JObject.Parse(File.ReadAllText(report));
        File.Delete(report);
        var memory = json["memory"]!;
        var perPage = (double)memory["bytesPerPage"]!;
        add("scale", "1,000,000 pages, 10,000 tasks, local, 10 s", $"exit {code}, {(string?)json["verdict"]}",
            $"scenarios/load/million-pages.json in a child process with DOTNET_GCHeapHardLimit = 1 GiB; " +
            $"{clock.Elapsed.TotalSeconds:F0} s wall including start and stop; lazy pages {(bool)memory["lazyPages"]!}");
        add("scale", "  live managed heap, peak", $"{(long)memory["liveHeapPeakBytes"]! / 1048576.0:N0} MiB",
            $"after a collection; sampled peak incl. garbage {(long)memory["heapPeakBytes"]! / 1048576.0:N0} MiB; working set {(long)memory["workingSetPeakBytes"]! / 1048576.0:N0} MiB");
        add("scale", "  per simulated page", $"{perPage:N0} B",
            "(live heap peak - heap before the run) / 1,000,000: everything, tasks and checker included");
        add("scale", "  operations, messages", $"{(long)json["throughput"]!["operations"]!:N0} ops, {(long)json["throughput"]!["messages"]!:N0} msg",
            $"{(double)json["throughput"]!["opsPerSecond"]!:N0} ops/s in the measured window");
        var dio = json["latency"]!["dioRead"];
        if (dio is not null && (long)dio["count"]! > 0)
        {
            add("scale", "  dioRead latency p50 / p99 / max", $"{Ms(dio["p50"])} / {Ms(dio["p99"])} / {Ms(dio["max"])} ms",
                "from when due; 10 ms timer ticks, two cores shared by 10,000 tasks and the checker");
        }
        return (perPage, code == 0);
    }

    private static string Ms(JToken? ns) => ((long)ns! / 1e6).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);

    private static string Last(string text) => text.Length <= 300 ? text.Trim() : text[^300..].Trim();

    private static string Durations(TimeSpan t) => DaxSim.Protocol.Scenarios.Durations.Format(t);

    internal sealed record Measured(double Median, double Min, double Max, List<LoadResult> Results)
    {
        /// <summary>The median of the runs' rates over the ping-pong just before each (local runs only).</summary>
        public double PairedRatio { get; init; } = double.NaN;

        public double PairedPingPong { get; init; } = double.NaN;
    }

    private static Measured Median(int repeats, Func<int, (double Rate, LoadResult Result)> run)
    {
        var runs = Enumerable.Range(1, repeats).Select(run).ToList();
        var rates = runs.Select(r => r.Rate).Order().ToList();
        return new Measured(rates[rates.Count / 2], rates[0], rates[^1], runs.Select(r => r.Result).ToList());
    }
}
