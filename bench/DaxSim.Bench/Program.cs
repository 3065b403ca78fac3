using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using DaxSim.Bench;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Explore;
using DaxSim.Host.Local;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

if (args is ["--variants"])
{
    Environment.Exit(VariantsTable.Run(Repo.FindRoot()));
}
// The cluster runtime's bench (ClusterBench.cs), and the child process of its remote ping-pong.
if (args is ["--cluster", ..])
{
    Environment.Exit(ClusterBench.Run(Repo.FindRoot(), args[1..]));
}
// The systematic search's figures (SystematicBench.cs) and the seed farm's (FarmBench.cs).
if (args is ["--systematic", ..])
{
    Environment.Exit(BadInput.Guard(() => SystematicBench.Run(Repo.FindRoot(), args[1..])));
}
// Every variant × shipped scenario the samplers catch, searched systematically (PairsBench.cs).
if (args is ["--pairs", ..])
{
    Environment.Exit(BadInput.Guard(() => PairsBench.Run(Repo.FindRoot(), args[1..])));
}
if (args is ["--farm", ..])
{
    Environment.Exit(BadInput.Guard(() => FarmBench.Run(Repo.FindRoot(), args[1..])));
}
if (args is ["--alloc-census"])
{
    Environment.Exit(AllocCensus.Run(TimeSpan.FromSeconds(3)));
}
if (args is ["--alloc-census", var censusScenario])
{
    Environment.Exit(BadInput.Guard(() => AllocCensus.RunDeterministic(censusScenario, 2000)));
}
if (args is [RemotePingPong.ChildFlag])
{
    Environment.Exit(RemotePingPong.Child());
}
BenchOptions? parsed = null;
var parseExit = BadInput.Guard(() =>
{
    parsed = BenchOptions.Parse(args);
    return 0;
});
if (parsed is not { } options)
{
    return parseExit;
}
var root = Repo.FindRoot();
var started = DateTimeOffset.UtcNow;
var total = Stopwatch.StartNew();
var rows = new List<Row>();
void Add(string section, string measure, string value, string note = "")
{
    var row = new Row(section, measure, value, note);
    rows.Add(row);
    Console.WriteLine($"  {measure,-44} {value,18}  {note}");
}
void Section(string title) => Console.WriteLine($"\n== {title}");

Console.WriteLine($"DaxSim bench: {Environment.ProcessorCount} cores, {RuntimeInformation.FrameworkDescription}, " +
                  $"{RuntimeInformation.OSDescription}, repo {root}");
// The commit and working-tree state when the run starts (dotnet run has just built it).
var machineAtStart = Machine.Describe(root, started);
var loadBefore = SystemCpu.LoadAverage();
// `dotnet run` itself stays busy for a few seconds after starting the bench: give other
// processes up to 15 s to settle before measuring anything.
var settle = Stopwatch.StartNew();
var othersAtStart = SystemCpu.OthersBusy(TimeSpan.FromSeconds(1));
while (othersAtStart > 0.1 && settle.Elapsed < TimeSpan.FromSeconds(15))
{
    othersAtStart = SystemCpu.OthersBusy(TimeSpan.FromSeconds(1));
}
Console.WriteLine($"load average {loadBefore}; other processes busy on {othersAtStart:F2} cores just before the bench " +
                  $"(waited {settle.Elapsed.TotalSeconds:F0} s for them to settle)");
if (othersAtStart > 0.2)
{
    Console.WriteLine("WARNING: the machine is not idle; the figures will be lower than the machine can give.");
}

// ---------------------------------------------------------------------------------------------
// 1. Raw Akka.NET ping-pong
Section("1. raw Akka.NET ping-pong (default ActorSystem, two ReceiveActors)");
var pingCpu = SystemCpu.Sample();
var pingPong = options.DetOnly
    ? [new PingPong.Result(1, 1, [TimeSpan.FromSeconds(1)]), new PingPong.Result(100, 1, [TimeSpan.FromSeconds(1)])]
    : PingPong.Measure(
    [
        (1, options.PingWarmup / 4, options.PingOneInFlight),
        (100, options.PingWarmup, options.PingManyInFlight),
    ], options.PingRepeats);
var pingOthers = SystemCpu.Sample().OthersSince(pingCpu);
foreach (var p in pingPong)
{
    Add("ping-pong", $"ping-pong, {p.InFlight} in flight", $"{p.MessagesPerSecond / 1e6:F2} M msg/s",
        $"median of {p.Runs.Count} runs of {p.RoundTrips:N0} round trips ({p.Elapsed.TotalSeconds:F2} s); " +
        $"slowest {p.Slowest / 1e6:F2}, fastest {p.Fastest / 1e6:F2} M msg/s");
}
Add("ping-pong", "  other processes' CPU meanwhile", $"{pingOthers:F2} cores", "0.00 = the bench had the machine to itself");
var pingOne = pingPong[0].MessagesPerSecond;
var pingMany = pingPong[1].MessagesPerSecond;
if (options.LocalLoadOnly)
{
    Section("6. load, local runtime only");
    var localOnly = LoadBench.Local(Add, pingOne, pingMany, options.LoadRepeats, options.LoadDuration);
    Console.WriteLine($"local load only: {localOnly.Median:N0} msg/s = {localOnly.PairedRatio:F2} x the ping-pong beside each run " +
                      $"({localOnly.Median / pingOne:F2} x section 1's; target 0.6 x); load average {SystemCpu.LoadAverage()}");
    return 0;
}

// ---------------------------------------------------------------------------------------------
// 2. Deterministic runtime, one core, every invariant checked
Section("2. deterministic runtime, one thread, generic-503-truncate, repeat 60, invariants on");
var shippedPath = Path.Combine(root, "scenarios", "generic-503-truncate.json");
var shippedText = File.ReadAllText(shippedPath);
var text60 = shippedText.Replace("\"repeat\": 10", "\"repeat\": 60", StringComparison.Ordinal);
if (text60 == shippedText)
{
    throw new InvalidOperationException($"{shippedPath} no longer says \"repeat\": 10; the bench scenario needs updating");
}
var scenario60 = ScenarioLoader.Parse(text60, "generic-503-truncate (repeat 60)");
RunSettings Settings(ulong seed) => ExploreSettings.For(seed);

var process = Process.GetCurrentProcess();
DetFigures det;
TimeSpan coldRuntime, coldSystem, firstRuntime;
{
    var firstClock = Stopwatch.StartNew();
    using var runtime = new DeterministicRuntime();
    firstRuntime = firstClock.Elapsed;

    // Warm-up: tiered JIT reaches its final code (instrumented tier, then PGO-optimized
    // tier 1) on a background thread, seconds after the first calls. Run at least
    // DetWarmupSeeds seeds, and on until no method has been compiled for a second (or the
    // warm-up budget is spent), so that the measurement does not include JIT work.
    var warm = Stopwatch.StartNew();
    ulong seed = 1;
    var compiled = JitInfo.GetCompiledMethodCount();
    var lastCompile = TimeSpan.Zero;
    while (warm.Elapsed < options.WarmupBudget)
    {
        runtime.Run(scenario60, Settings(seed++));
        var now = JitInfo.GetCompiledMethodCount();
        if (now != compiled)
        {
            compiled = now;
            lastCompile = warm.Elapsed;
        }
        if ((long)seed > options.DetWarmupSeeds && warm.Elapsed - lastCompile > TimeSpan.FromSeconds(1))
        {
            break;
        }
    }
    var warmupSeeds = seed - 1;
    var warmupTime = warm.Elapsed;

    GC.Collect();
    GC.WaitForPendingFinalizers();
    GC.Collect();
    process.Refresh();
    var allocated0 = GC.GetTotalAllocatedBytes(precise: true);
    var pause0 = GC.GetTotalPauseDuration();
    var gen0 = GC.CollectionCount(0);
    var gen1 = GC.CollectionCount(1);
    var gen2 = GC.CollectionCount(2);
    var cpu0 = process.TotalProcessorTime;
    var sys0 = SystemCpu.Sample();
    var jitCount0 = JitInfo.GetCompiledMethodCount();
    var jitTime0 = JitInfo.GetCompilationTime();
    var chunkRates = new List<double>();
    long chunkDeliveries = 0;
    var chunkStart = TimeSpan.Zero;
    var perSeed = new List<double>(options.DetSeeds);
    long deliveries = 0;
    var verdicts = new Dictionary<string, int>();
    var clock = Stopwatch.StartNew();
    for (var i = 0; i < options.DetSeeds && clock.Elapsed < options.MeasureBudget; i++)
    {
        var t0 = clock.Elapsed;
        var result = runtime.Run(scenario60, Settings(seed++));
        perSeed.Add((clock.Elapsed - t0).TotalMilliseconds);
        deliveries += result.Deliveries;
        chunkDeliveries += result.Deliveries;
        if ((i + 1) % 250 == 0)
        {
            chunkRates.Add(chunkDeliveries / (clock.Elapsed - chunkStart).TotalSeconds);
            chunkDeliveries = 0;
            chunkStart = clock.Elapsed;
        }
        var v = result.Verdict.ToString();
        verdicts[v] = verdicts.GetValueOrDefault(v) + 1;
    }
    var elapsed = clock.Elapsed;
    process.Refresh();
    var cpu = process.TotalProcessorTime - cpu0;
    var detOthers = SystemCpu.Sample().OthersSince(sys0);
    var jitDuring = JitInfo.GetCompiledMethodCount() - jitCount0;
    var jitTimeDuring = JitInfo.GetCompilationTime() - jitTime0;
    var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated0;
    det = new DetFigures(
        WarmupSeeds: (long)warmupSeeds,
        Seeds: perSeed.Count,
        Deliveries: deliveries,
        Elapsed: elapsed,
        Cpu: cpu,
        AllocatedBytes: allocated,
        GcPause: GC.GetTotalPauseDuration() - pause0,
        Gen0: GC.CollectionCount(0) - gen0,
        Gen1: GC.CollectionCount(1) - gen1,
        Gen2: GC.CollectionCount(2) - gen2,
        PerSeedMs: perSeed,
        Verdicts: verdicts,
        PeakWorkingSet: process.PeakWorkingSet64,
        OthersCores: detOthers,
        WarmupTime: warmupTime,
        JitMethodsDuring: jitDuring,
        JitTimeDuring: jitTimeDuring,
        ChunkRates: chunkRates);
    if (options.DetOnly)
    {
        Console.WriteLine($"deterministic only: {det.Deliveries / det.Elapsed.TotalSeconds / 1e6:F3} M msg/s, " +
                          $"{det.Seeds / det.Elapsed.TotalSeconds:F1} seeds/s, " +
                          $"{(double)det.AllocatedBytes / det.Deliveries:F0} B/msg");
        return 0;
    }

    // Cold start: a whole DeterministicRuntime (ActorSystem.Create, host actor, Terminate),
    // and for reference a bare ActorSystem with the same quiet logging.
    var colds = new List<TimeSpan>();
    for (var i = 0; i < options.ColdRepeats; i++)
    {
        var c = Stopwatch.StartNew();
        using (new DeterministicRuntime())
        {
        }
        colds.Add(c.Elapsed);
    }
    coldRuntime = TimeSpan.FromTicks((long)colds.Average(t => t.Ticks));
    var bare = new List<TimeSpan>();
    var bareConfig = AkkaLogging.Quiet;
    for (var i = 0; i < options.ColdRepeats; i++)
    {
        var c = Stopwatch.StartNew();
        var system = ActorSystem.Create($"bench-cold-{i}", bareConfig);
        system.Terminate().Wait(TimeSpan.FromSeconds(10));
        bare.Add(c.Elapsed);
    }
    coldSystem = TimeSpan.FromTicks((long)bare.Average(t => t.Ticks));
}

var detRate = det.Deliveries / det.Elapsed.TotalSeconds;
var meanSeedMs = det.Elapsed.TotalMilliseconds / det.Seeds;
Add("deterministic", "deterministic runtime, 1 thread", $"{detRate / 1e6:F3} M msg/s",
    $"{det.Deliveries:N0} deliveries, {det.Seeds:N0} seeds in {det.Elapsed.TotalSeconds:F2} s, after {det.WarmupSeeds:N0} warm-up seeds ({det.WarmupTime.TotalSeconds:F1} s)");
if (det.ChunkRates.Count > 1)
{
    var sorted = det.ChunkRates.OrderBy(r => r).ToList();
    Add("deterministic", "  rate per 250 seeds: min / median / max",
        $"{sorted[sorted.Count / 2] / 1e6:F3} M msg/s", $"min {sorted[0] / 1e6:F3}, max {sorted[^1] / 1e6:F3} (median shown)");
}
Add("deterministic", "  JIT during measurement", $"{det.JitMethodsDuring} methods",
    $"{det.JitTimeDuring.TotalMilliseconds:F0} ms of compilation (0 = fully warmed up)");
Add("deterministic", "  seeds/s on that thread", $"{det.Seeds / det.Elapsed.TotalSeconds:F1} seeds/s",
    $"{(double)det.Deliveries / det.Seeds:F0} deliveries per seed; verdicts {string.Join(", ", det.Verdicts.Select(kv => $"{kv.Key} {kv.Value}"))}");
Add("deterministic", "  per-seed wall time mean / p50 / p99", $"{meanSeedMs:F2} ms",
    $"p50 {Percentile(det.PerSeedMs, 0.50):F2} ms, p99 {Percentile(det.PerSeedMs, 0.99):F2} ms, max {det.PerSeedMs.Max():F2} ms");
Add("deterministic", "  process CPU / wall", $"{det.Cpu.TotalSeconds / det.Elapsed.TotalSeconds:F2}",
    "1.00 = exactly one core busy (GC and Akka background threads add to it)");
Add("deterministic", "  other processes' CPU meanwhile", $"{det.OthersCores:F2} cores", "");
Add("deterministic", "  ratio to ping-pong, 1 in flight", $"{detRate / pingOne:F2} x", "deterministic msg/s / raw Akka msg/s, same process");
Add("deterministic", "  ratio to ping-pong, 100 in flight", $"{detRate / pingMany:F2} x", "");
var detPass = detRate >= 1_000_000;
Add("deterministic", "TARGET >= 1,000,000 msg/s on one core", detPass ? "PASS" : "FAIL", $"{detRate:N0} msg/s");

// ---------------------------------------------------------------------------------------------
// 3. explore on both cores
Section($"3. explore, {options.Workers} workers, same scenario");
var explorer = new Explorer(scenario60, Variant.Mainline, "random", options.Workers);
var warmExplore = explorer.Explore(1_000_000, options.ExploreWarmupSeeds);
var warmRate = warmExplore.SeedsRun / warmExplore.Elapsed.TotalSeconds;
// Keep the whole bench near two minutes: measure up to ExploreSeeds, fewer on a slow machine.
var exploreSeeds = (long)Math.Clamp(warmRate * options.MeasureBudget.TotalSeconds, 200, options.ExploreSeeds);
process.Refresh();
var exCpu0 = process.TotalProcessorTime;
var exSys0 = SystemCpu.Sample();
var explored = explorer.Explore(2_000_000, exploreSeeds);
process.Refresh();
var exCpu = process.TotalProcessorTime - exCpu0;
var exOthers = SystemCpu.Sample().OthersSince(exSys0);
var exploreRate = explored.SeedsRun / explored.Elapsed.TotalSeconds;
Add("explore", $"explore, {options.Workers} workers", $"{exploreRate:F1} seeds/s",
    $"{explored.SeedsRun:N0} seeds in {explored.Elapsed.TotalSeconds:F2} s (after {warmExplore.SeedsRun:N0} warm-up at {warmRate:F0} seeds/s)");
Add("explore", "  deliveries/s, all workers", $"{explored.Deliveries / explored.Elapsed.TotalSeconds / 1e6:F3} M msg/s",
    explored.Finding is { } f ? $"stopped at violating seed {f.Seed} ({f.Violation?.Invariant})" : "no violation");
Add("explore", "  process CPU / wall", $"{exCpu.TotalSeconds / explored.Elapsed.TotalSeconds:F2}",
    $"{options.Workers}.00 = every worker busy all the time; includes one runtime start per worker");
Add("explore", "  other processes' CPU meanwhile", $"{exOthers:F2} cores", "");
Add("explore", "  scaling vs one thread", $"{exploreRate / (det.Seeds / det.Elapsed.TotalSeconds):F2} x", "explore seeds/s / section 2 seeds/s");
var explorePass = exploreRate >= 200;
Add("explore", "TARGET >= 200 seeds/s on both cores", explorePass ? "PASS" : "FAIL", $"{exploreRate:F1} seeds/s");

// ---------------------------------------------------------------------------------------------
// 3b. explore on the shipped generic/503 scenarios (two threads, 10 rounds each), the issue's workload
Section($"3b. explore, {options.Workers} workers, shipped generic/503 scenarios (two threads, 10 rounds each)");
var shippedRates = new List<double>();
foreach (var name in new[] { "generic-503-punch", "generic-503-zero", "generic-503-truncate", "generic-503-collapse" })
{
    var shipped503 = ScenarioLoader.LoadFile(Path.Combine(root, "scenarios", name + ".json"));
    var shippedExplorer = new Explorer(shipped503, Variant.Mainline, "random", options.Workers);
    shippedExplorer.Explore(3_000_000, 1_000); // warm-up: this scenario's code paths compiled
    var shippedRun = shippedExplorer.Explore(4_000_000, 5_000);
    var rate = shippedRun.SeedsRun / shippedRun.Elapsed.TotalSeconds;
    shippedRates.Add(rate);
    Add("explore-shipped", $"explore {name}", $"{rate:F0} seeds/s",
        $"{shippedRun.SeedsRun:N0} seeds in {shippedRun.Elapsed.TotalSeconds:F2} s, " +
        $"{shippedRun.Deliveries / (double)Math.Max(1, shippedRun.SeedsRun):F0} deliveries per seed" +
        (shippedRun.Finding is { } sf ? $", stopped at violating seed {sf.Seed}" : ""));
}
var shippedPass = shippedRates.Min() >= 1_000;
Add("explore-shipped", "TARGET >= 1,000 seeds/s on each (both cores)", shippedPass ? "PASS" : "FAIL",
    $"slowest {shippedRates.Min():F0} seeds/s");

// ---------------------------------------------------------------------------------------------
// 4. Memory and cold start (measured above, with the deterministic run)
Section("4. memory and cold start");
Add("memory", "allocated per delivered message", $"{(double)det.AllocatedBytes / det.Deliveries:F0} B",
    $"GC.GetTotalAllocatedBytes delta {det.AllocatedBytes / 1048576.0:F0} MiB over the measured seeds");
Add("memory", "  allocated per seed", $"{det.AllocatedBytes / (double)det.Seeds / 1024:F0} KiB", "");
Add("memory", "  GCs during measurement (gen0/1/2)", $"{det.Gen0}/{det.Gen1}/{det.Gen2}",
    $"pause {det.GcPause.TotalMilliseconds:F0} ms = {100 * det.GcPause.TotalSeconds / det.Elapsed.TotalSeconds:F1}% of wall");
Add("memory", "  peak working set after deterministic", $"{det.PeakWorkingSet / 1048576.0:F0} MiB", "process-wide high-water mark so far");
Add("cold start", "first ActorSystem.Create in the process", $"{PingPong.FirstCreate.TotalMilliseconds:F0} ms",
    "section 1's system: Akka code not yet JIT-compiled");
Add("cold start", "first DeterministicRuntime", $"{firstRuntime.TotalMilliseconds:F0} ms",
    "constructor only; Akka already JIT-compiled by section 1, the deterministic glue not");
Add("cold start", "DeterministicRuntime create+dispose", $"{coldRuntime.TotalMilliseconds:F1} ms", $"mean of {options.ColdRepeats}, warm JIT");
Add("cold start", "  bare ActorSystem.Create+Terminate", $"{coldSystem.TotalMilliseconds:F1} ms", $"mean of {options.ColdRepeats}, for reference");
Add("cold start", "  mean per-seed run on a reused runtime", $"{meanSeedMs:F2} ms", "from section 2");
Add("cold start", "  cold runtime / reused-runtime run", $"{coldRuntime.TotalMilliseconds / meanSeedMs:F1} x",
    "what one ActorSystem per seed would cost instead");

// ---------------------------------------------------------------------------------------------
// 5. local runtime, for information
Section("5. local runtime (real threads, real scheduler), shipped generic-503-truncate");
var shipped = ScenarioLoader.Parse(shippedText, shippedPath);
for (var i = 1; i <= options.LocalRuns; i++)
{
    var c = Stopwatch.StartNew();
    var local = Runtimes.For(RuntimeKind.Local).Run(shipped, new RunSettings { Seed = (ulong)i });
    var wall = c.Elapsed;
    Add("local", $"local run {i}{(i == 1 ? " (cold)" : "")}", $"{wall.TotalMilliseconds:F0} ms",
        $"verdict {local.Verdict}, {local.OpsCompleted} ops; includes ActorSystem create+terminate");
}

// ---------------------------------------------------------------------------------------------
// 6. daxsim load: local and deterministic messages/s under the load mix, page actor memory, scale
var load = options.LoadSections
    ? LoadBench.Run(root, Add, Section, pingOne, pingMany, options.LoadRepeats, options.LoadDuration,
        TimeSpan.FromMilliseconds(200), options.Scale)
    : null;
var loadTargets = new List<(string Target, string Measured, bool Pass)>();
// Issue 13's target for the deterministic runtime: as fast as Akka itself hands one message back and forth.
var detRatioPass = detRate / pingOne >= 1.0;
Add("deterministic", "TARGET >= 1.0 x ping-pong (1 in flight)", detRatioPass ? "PASS" : "FAIL", $"{detRate / pingOne:F2} x");
loadTargets.Add(("deterministic runtime >= 1.0 x the 1-in-flight ping-pong of the same process, every invariant checked",
    $"{detRate / pingOne:F2} x ({detRate:N0} against {pingOne:N0} msg/s)", detRatioPass));
if (load is not null)
{
    var localPass = load.LocalRatio >= 0.6;
    Add("load", "TARGET local >= 0.6 x ping-pong (1 in flight)", localPass ? "PASS" : "FAIL",
        $"paired ratio {load.LocalRatio:F2} x: {load.LocalRate:N0} msg/s against ping-pongs of {load.PairedPingPong:N0} msg/s (medians)");
    loadTargets.Add(($"local runtime under the load mix >= 0.6 x raw ping-pong, 1 in flight, measured beside each run (median {load.PairedPingPong:N0} msg/s)",
        $"{load.LocalRate:N0} msg/s (paired ratio {load.LocalRatio:F2} x; {load.LocalRate / pingOne:F2} x section 1's)", localPass));
    if (load.ScaleRan)
    {
        var memPass = load.ScaleClean && load.BytesPerPage <= 1024;
        Add("scale", "TARGET <= 1 KB per simulated page over 1,000,000 pages, 1 GiB heap", memPass ? "PASS" : "FAIL",
            $"{load.BytesPerPage:N0} B per page");
        loadTargets.Add(("<= 1 KB per simulated page averaged over 1,000,000 pages (10,000 tasks, heap capped at 1 GiB)",
            $"{load.BytesPerPage:N0} B", memPass));
    }
}

process.Refresh();
Add("process", "peak working set, whole bench", $"{process.PeakWorkingSet64 / 1048576.0:F0} MiB", "");
Add("process", "bench wall time", $"{total.Elapsed.TotalSeconds:F0} s", "");

// ---------------------------------------------------------------------------------------------
var machine = machineAtStart with { Load = $"{loadBefore} before, {SystemCpu.LoadAverage()} after" };
var doc = Markdown.Render(machine, rows, options, detRate, exploreRate, detPass, explorePass, loadTargets);
var docPath = Path.Combine(root, "docs", "performance.md");
if (options.WriteDoc)
{
    Directory.CreateDirectory(Path.GetDirectoryName(docPath)!);
    // Keep the sections other bench modes own (<!-- cluster:begin --> ...).
    File.WriteAllText(docPath, DocSections.CarryOver(File.Exists(docPath) ? File.ReadAllText(docPath) : "", doc));
    Console.WriteLine($"\nwrote {docPath}");
}
Console.WriteLine($"targets: deterministic {(detPass ? "PASS" : "FAIL")}, explore {(explorePass ? "PASS" : "FAIL")}" +
                  string.Concat(loadTargets.Select(t => $", {t.Target.Split(' ')[0]} {(t.Pass ? "PASS" : "FAIL")}")));
return 0;

static double Percentile(List<double> values, double q)
{
    var sorted = values.OrderBy(v => v).ToList();
    return sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];
}

namespace DaxSim.Bench
{
    internal sealed record Row(string Section, string Measure, string Value, string Note);

    internal sealed record DetFigures(
        long WarmupSeeds,
        int Seeds,
        long Deliveries,
        TimeSpan Elapsed,
        TimeSpan Cpu,
        long AllocatedBytes,
        TimeSpan GcPause,
        int Gen0,
        int Gen1,
        int Gen2,
        List<double> PerSeedMs,
        Dictionary<string, int> Verdicts,
        long PeakWorkingSet,
        double OthersCores,
        TimeSpan WarmupTime,
        long JitMethodsDuring,
        TimeSpan JitTimeDuring,
        List<double> ChunkRates);

    /// <summary>Bad flags or a bad scenario file: one line on stderr and exit 2, not a stack trace.</summary>
    internal static class BadInput
    {
        public static int Guard(Func<int> run)
        {
            try
            {
                return run();
            }
            catch (Exception e) when (e is ArgumentException or FormatException or IOException or UnauthorizedAccessException
                                          or ScenarioException)
            {
                Console.Error.WriteLine($"bench: {e.Message}");
                return 2;
            }
        }
    }

    /// <summary>
    /// The settings explore uses: no per-op records, no schedule, no text trace. The checker
    /// still sees every event and checks every invariant; the trace hash is still computed.
    /// </summary>
    internal static class ExploreSettings
    {
        public static RunSettings For(ulong seed) => new()
        {
            Seed = seed, Variant = Variant.Mainline, RecordOps = false, RecordSchedule = false,
            Deterministic = new() { Strategy = "random" },
        };
    }

    internal sealed record BenchOptions
    {
        public long PingWarmup { get; init; } = 400_000;
        public long PingOneInFlight { get; init; } = 1_000_000;
        public long PingManyInFlight { get; init; } = 2_000_000;
        public int PingRepeats { get; init; } = 5;
        public int DetWarmupSeeds { get; init; } = 200;
        public int DetSeeds { get; init; } = 2000;
        public int ExploreWarmupSeeds { get; init; } = 300;
        public long ExploreSeeds { get; init; } = 4000;
        public int Workers { get; init; } = Environment.ProcessorCount;
        public int ColdRepeats { get; init; } = 5;
        public int LocalRuns { get; init; } = 2;
        public TimeSpan WarmupBudget { get; init; } = TimeSpan.FromSeconds(15);
        public TimeSpan MeasureBudget { get; init; } = TimeSpan.FromSeconds(30);
        public bool WriteDoc { get; init; } = true;
        public bool DetOnly { get; init; }
        public bool LocalLoadOnly { get; init; }
        public bool LoadSections { get; init; } = true;
        public bool Scale { get; init; } = true;
        public int LoadRepeats { get; init; } = 5;
        public TimeSpan LoadDuration { get; init; } = TimeSpan.FromSeconds(4);

        public static BenchOptions Parse(string[] args)
        {
            var o = new BenchOptions();
            for (var i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                o = args[i] switch
                {
                    "--seeds" => o with { DetSeeds = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--warmup-seeds" => o with { DetWarmupSeeds = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--explore-seeds" => o with { ExploreSeeds = long.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--workers" => o with { Workers = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--budget" => o with { MeasureBudget = TimeSpan.FromSeconds(double.Parse(Next(), CultureInfo.InvariantCulture)) },
                    "--ping" => o with { PingOneInFlight = long.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--no-doc" => o with { WriteDoc = false },
                    "--deterministic-only" => o with { DetOnly = true, WriteDoc = false, LoadSections = false },
                    "--local-load-only" => o with { LocalLoadOnly = true, WriteDoc = false },
                    "--no-load" => o with { LoadSections = false },
                    "--no-scale" => o with { Scale = false },
                    "--load-seconds" => o with { LoadDuration = TimeSpan.FromSeconds(double.Parse(Next(), CultureInfo.InvariantCulture)) },
                    _ => throw new ArgumentException(
                        $"unknown option {args[i]}; options: --seeds N --warmup-seeds N --explore-seeds N --workers N --budget SECONDS --ping ROUNDTRIPS --no-doc --deterministic-only --local-load-only --no-load --no-scale --load-seconds S"),
                };
            }
            return o;
        }
    }

    internal static class Repo
    {
        public static string FindRoot()
        {
            foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            {
                for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                {
                    if (File.Exists(Path.Combine(dir.FullName, "DaxSim.sln")))
                    {
                        return dir.FullName;
                    }
                }
            }
            throw new InvalidOperationException("cannot find DaxSim.sln above the current or the bench's directory");
        }
    }

    internal sealed record Machine(string Cpu, int Cores, string Os, string Dotnet, string Akka, string Gc,
        string Date, string Commit, string Dirty)
    {
        public string Load { get; init; } = "";

        /// <summary>
        /// The "## Machine" section of a results page: date, commit, CPU, cores, OS, .NET (with
        /// <paramref name="dotnetNote"/>), Akka.NET, then the page's own rows.
        /// </summary>
        public void AppendTable(StringBuilder s, string dotnetNote, params (string Name, string Value)[] more)
        {
            s.AppendLine("## Machine");
            s.AppendLine();
            s.AppendLine("| | |");
            s.AppendLine("|---|---|");
            foreach (var (name, value) in new[]
                     {
                         ("Date", Date), ("Commit", $"`{Commit}`, working tree {Dirty}"), ("CPU", Cpu),
                         ("Cores", Cores.ToString(CultureInfo.InvariantCulture)), ("OS", Os),
                         (".NET", $"{Dotnet}, Release{dotnetNote}"), ("Akka.NET", Akka),
                     }.Concat(more))
            {
                s.AppendLine($"| {name} | {value} |");
            }
            s.AppendLine();
        }

        public static Machine Describe(string root, DateTimeOffset started)
        {
            var cpu = "unknown";
            try
            {
                cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))
                    ?.Split(':', 2)[1].Trim() ?? cpu;
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
            var akka = typeof(ActorSystem).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
                .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion ?? "?";
            var plus = akka.IndexOf('+', StringComparison.Ordinal);
            if (plus > 0)
            {
                akka = akka[..plus];
            }
            var gc = $"{(GCSettings.IsServerGC ? "server" : "workstation")}, {GCSettings.LatencyMode}";
            var commit = Git(root, "rev-parse --short HEAD") ?? "unknown";
            var dirty = Git(root, "status --porcelain --untracked-files=no -- Protocol Actors Host") is { Length: > 0 } d
                ? $"uncommitted changes in: {string.Join(", ", d.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l[3..].Trim()))}"
                : "clean (Protocol/, Actors/, Host/ as committed)";
            return new Machine(cpu, Environment.ProcessorCount, RuntimeInformation.OSDescription,
                RuntimeInformation.FrameworkDescription, akka, gc,
                started.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture), commit, dirty);
        }

        private static string? Git(string root, string arguments)
        {
            try
            {
                var info = new ProcessStartInfo("git", arguments)
                {
                    WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
                };
                using var p = Process.Start(info)!;
                var output = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                return p.ExitCode == 0 ? output.Trim() : null;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return null;
            }
        }
    }

    internal static class Markdown
    {
        public static string Render(Machine m, List<Row> rows, BenchOptions o, double detRate, double exploreRate,
            bool detPass, bool explorePass, List<(string Target, string Measured, bool Pass)> more)
        {
            var s = new StringBuilder();
            s.AppendLine("# DaxSim performance");
            s.AppendLine();
            s.AppendLine("Generated by `dotnet run -c Release --project bench/DaxSim.Bench` (see `bench/README.md`); " +
                         "every figure below comes from one process run. Re-run the bench to refresh this file.");
            s.AppendLine();
            m.AppendTable(s, $", {m.Gc} GC, tiered PGO",
                ("Load average", $"{m.Load} (see \"other processes' CPU\" rows: CPU other processes used during each measurement)"));
            // A machine shared with other work gives lower rates: say so where the figures are read.
            var others = rows.Where(r => r.Measure.Contains("other processes' CPU", StringComparison.Ordinal))
                .Select(r => double.TryParse(r.Value.Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var c) ? c : 0)
                .DefaultIfEmpty(0).Max();
            if (others > 0.25)
            {
                s.AppendLine($"> **Shared machine.** Other processes used up to {others:F2} of the {m.Cores} cores during the " +
                             "measurements (the \"other processes' CPU\" rows). Every rate below is lower than this machine " +
                             "gives when idle, and PASS/FAIL reflects that; re-run the bench on an idle machine to judge the targets.");
                s.AppendLine();
            }
            s.AppendLine("## Targets");
            s.AppendLine();
            s.AppendLine("| Target | Measured | Result |");
            s.AppendLine("|---|---:|---|");
            s.AppendLine($"| deterministic runtime >= 1,000,000 messages/s on one core, every invariant checked | {detRate:N0} msg/s | **{(detPass ? "PASS" : "FAIL")}** |");
            s.AppendLine($"| explore >= 200 seeds/s on all cores ({o.Workers} workers) | {exploreRate:F1} seeds/s | **{(explorePass ? "PASS" : "FAIL")}** |");
            foreach (var (target, measured, pass) in more)
            {
                s.AppendLine($"| {target} | {measured} | **{(pass ? "PASS" : "FAIL")}** |");
            }
            s.AppendLine();
            s.AppendLine("## Figures");
            s.AppendLine();
            s.AppendLine("Workload for sections 2-4: `scenarios/generic-503-truncate.json` with both `\"repeat\": 10` " +
                         "changed to 60 (two threads of one process, each running 60 rounds of truncate, fallocate, " +
                         "direct read into the shared mapping and random sleep), variant mainline, random " +
                         "strategy, the settings explore uses (no per-op records, no schedule, no text trace; the " +
                         "invariant checker sees every event, the trace hash is computed).");
            s.AppendLine();
            foreach (var group in rows.GroupBy(r => r.Section))
            {
                s.AppendLine($"### {group.Key}");
                s.AppendLine();
                s.AppendLine("| Measure | Value | Note |");
                s.AppendLine("|---|---:|---|");
                foreach (var r in group)
                {
                    s.AppendLine($"| {r.Measure.Trim()} | {r.Value} | {r.Note.Replace("|", "\\|", StringComparison.Ordinal)} |");
                }
                s.AppendLine();
            }
            s.AppendLine("## What the figures mean");
            s.AppendLine();
            s.AppendLine("- **ping-pong**: two plain `ReceiveActor`s on a default `ActorSystem` (thread-pool dispatcher, " +
                         "throughput 30) bouncing one preallocated object; messages/s counts both directions. With 1 in " +
                         "flight every delivery is a cross-thread hand-off; with 100 in flight the mailboxes stay busy. " +
                         "This is the ceiling of Akka.NET itself on this machine, with actors that do nothing. Median of 3 runs " +
                         "after a warm-up; thread-pool hand-offs vary a lot from run to run and from process to process on a " +
                         "small VM (the slowest and fastest runs are given), and so does the ratio of section 2 to them.");
            s.AppendLine("- **deterministic**: one `DeterministicRuntime` (one ActorSystem) driven on the bench's main " +
                         "thread, a fresh actor tree per seed; `RunResult.Deliveries` summed over the measured seeds divided " +
                         "by their wall time. The ratio compares it with the raw ping-pong of the same process.");
            s.AppendLine("- **memory**: managed bytes allocated during the measured deterministic seeds (precise " +
                         "`GC.GetTotalAllocatedBytes` delta) per delivered message; peak working set is the process's " +
                         "high-water mark (`Process.PeakWorkingSet64`).");
            s.AppendLine("- **cold start**: creating and disposing a whole `DeterministicRuntime` (JIT warm, mean of 5) " +
                         "versus one seed's run on a reused runtime; the ratio is what one ActorSystem per seed would cost. " +
                         "The first `ActorSystem.Create` of the process, with nothing JIT-compiled yet, is shown separately: " +
                         "that is the cost a fresh process (or a test) pays once.");
            s.AppendLine("- **explore**: `Explorer` with one worker thread (and one runtime) per core, seeds/s over the " +
                         "measured range including each worker's runtime start; CPU/wall shows how busy the cores were.");
            s.AppendLine("- **local**: `LocalRuntime` wall time for the shipped (10 rounds per thread) scenario on real threads " +
                         "and Akka's real 10 ms-tick scheduler; for information only, it is bounded by real timers and the " +
                         "runtime's quiescence polling, not by message throughput.");
            s.AppendLine("- **load**: `LoadEngine` (what `daxsim load` runs) with the default task mix (40% DIO readers, " +
                         "20% DIO writers, 20% faulting readers, 8% truncators, 8% hole punchers, 4% lease holders) of 400 " +
                         "tasks on 8 files of 1,024 pages (no think time on the local runtime, 1 ms on the deterministic " +
                         "one), every invariant checked. Messages are " +
                         "the protocol messages delivered to the simulated entities (tasks, inodes, mappings, pages, device), " +
                         "not the hops through page regions. Deterministic: over the run's wall time. Local: over the measured window " +
                         "(from the end of the load's warm-up to its duration: the load report's messagesPerSecondInWindow), " +
                         "and its ratio of record is the median of each run's rate over a 1-in-flight ping-pong measured just " +
                         "before it (the ping-pong is bimodal on a small VM). Local: real threads, 10 ms timer " +
                         "ticks (a 100 us I/O takes a tick), every event queued lock-free to the one checker, which the actor " +
                         "threads take turns at feeding (`SerialDrain`). CPU per message is the bench's own CPU during the " +
                         "measured load runs (not the ping-pongs between them); the ceiling is what all cores would deliver at the deterministic runtime's cost per " +
                         "message, with no thread hand-off at all ([local-load-profile.md](local-load-profile.md): where " +
                         "the local runtime's time goes, and what bounds it). " +
                         "Deterministic: one thread. Warm-up first (local: 1 s runs until one compiles fewer than 20 methods, " +
                         "at most 12 s; deterministic: one run), then the median of the runs.");
            s.AppendLine("- **PageActor vs empty actor**: managed heap (after full collections) per actor when 5,000 are " +
                         "created on a fresh ActorSystem (`ActorFootprint`); the difference is the page's own state.");
            s.AppendLine("- **scale**: `daxsim load scenarios/load/million-pages.json` (100 files of 10,000 pages, 10,000 " +
                         "tasks with 1-2 s think times, 10 s, local runtime) in a child process with `DOTNET_GCHeapHardLimit` set to 1 GiB, so that finishing " +
                         "at all shows it fits. Per page: the peak of the live heap (heap size after a collection, less " +
                         "fragmentation) less the heap before the run, over 1,000,000 pages: all of the run's memory, tasks, " +
                         "checker and live page actors included, charged to the pages.");
            return s.ToString();
        }
    }
}

namespace DaxSim.Bench
{
    /// <summary>Whole-machine CPU from /proc/stat, to tell how much of the machine other processes took.</summary>
    internal readonly record struct SystemCpu(double BusySeconds, TimeSpan Own, long Timestamp)
    {
        public static SystemCpu Sample()
        {
            var busy = double.NaN;
            try
            {
                // cpu  user nice system idle iowait irq softirq steal ...  (in 1/100 s)
                var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)
                    .Skip(1).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
                var all = fields.Take(8).Sum();
                busy = (all - fields[3] - fields[4]) / 100.0;
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
            using var self = Process.GetCurrentProcess();
            return new SystemCpu(busy, self.TotalProcessorTime, Stopwatch.GetTimestamp());
        }

        /// <summary>Cores' worth of CPU used by everything but this process since <paramref name="earlier"/>.</summary>
        public double OthersSince(SystemCpu earlier)
        {
            var wall = Stopwatch.GetElapsedTime(earlier.Timestamp, Timestamp).TotalSeconds;
            var others = BusySeconds - earlier.BusySeconds - (Own - earlier.Own).TotalSeconds;
            return Math.Max(0, others / Math.Max(wall, 1e-9));
        }

        public static double OthersBusy(TimeSpan over)
        {
            var before = Sample();
            Thread.Sleep(over);
            return Sample().OthersSince(before);
        }

        public static string LoadAverage()
        {
            try
            {
                return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
            }
            catch (IOException)
            {
                return "?";
            }
        }
    }
}
