using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using DaxSim.Host.Cluster;
using Newtonsoft.Json.Linq;

namespace DaxSim.Bench;

/// <summary>
/// `daxsim-bench --cluster`: the cluster runtime's speed (issue 5). Targets: a 3-node local
/// cluster sustains at least 50,000 protocol messages per second between nodes, and a node
/// crash is detected and its pins released within 10 seconds.
///
/// Every cluster figure comes from the Release-built `daxsim` run as a child process
/// (`daxsim run FILE --runtime cluster --nodes 3 --report R.json`, which starts three
/// `daxsim node` members), read back from the report: its `cluster.messages` counts (each
/// member's actors count the envelopes and acks they take in, by whether the sender is in
/// another process) and the members' crash, removal and pin-release times. Baselines measured
/// in the same bench run: raw Akka ping-pong between two actors of one process, and raw
/// Akka.Remote ping-pong between two processes on loopback (the fair one for "between nodes").
/// Writes docs/performance-cluster.md and a summary between markers in docs/performance.md.
/// </summary>
internal static class ClusterBench
{
    private sealed record Options
    {
        public int Runs { get; init; } = 3;
        public int PersistentRuns { get; init; } = 3;
        public int UnbatchedRuns { get; init; } = 1;
        public int CrashRuns { get; init; } = 5;
        public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(10);
        // A quarter of the repeats: runs of about a minute, with a window of 15-20 s after the
        // warm-up (a tenth ended before the warm-up did once the members stopped recompiling).
        public const double DefaultPersistentScale = 0.25;

        public double PersistentScale { get; init; } = DefaultPersistentScale;
        public bool WriteDoc { get; init; } = true;
        public bool Baselines { get; init; } = true;

        public static Options Parse(string[] args)
        {
            var o = new Options();
            for (var i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                int Int() => int.Parse(Next(), CultureInfo.InvariantCulture);
                o = args[i] switch
                {
                    "--runs" => o with { Runs = Int() },
                    "--persistent-runs" => o with { PersistentRuns = Int() },
                    "--unbatched-runs" => o with { UnbatchedRuns = Int() },
                    "--crash-runs" => o with { CrashRuns = Int() },
                    "--warmup" => o with { Warmup = TimeSpan.FromSeconds(Int()) },
                    "--persistent-scale" => o with { PersistentScale = double.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--no-doc" => o with { WriteDoc = false },
                    "--no-baselines" => o with { Baselines = false },
                    _ => throw new ArgumentException(
                        $"unknown option {args[i]}; --cluster takes: --runs N --persistent-runs N --unbatched-runs N --crash-runs N " +
                        "--warmup SECONDS --persistent-scale X --no-doc --no-baselines"),
                };
            }
            return o;
        }
    }

    public const double TargetMessagesPerSecond = 50_000;
    public static readonly TimeSpan TargetCrash = TimeSpan.FromSeconds(10);

    private const string ThroughputScenario = "bench/scenarios/cluster-throughput.json";
    private const string CrashScenario = "bench/scenarios/cluster-crash.json";

    /// <summary>One throughput run, from its report.</summary>
    private sealed record Throughput(string Verdict, double Wall, long Ops, double WindowFrom, double WindowTo,
        double Total, double Between, double Wire, double WireBetween, double Remoting, double BatchSize, double WholeRun,
        double MinSecond, double MaxSecond, long Messages, long Duplicates, long Retransmissions, double ChildCpu,
        double OthersCores, double CpuUsPerMessage)
    {
        public double WindowSeconds => WindowTo - WindowFrom;
    }

    /// <summary>One crash run, from its report: seconds after the SIGKILL.</summary>
    private sealed record Crash(string Verdict, double? Removed, double? PinsReleased, double? TruncateDone, double Wall);

    public static int Run(string root, string[] args)
    {
        var o = Options.Parse(args);
        var run = BenchRun.Start(root);
        var machine = run.Machine;
        var daxsim = FindDaxsim(root);
        Console.WriteLine($"DaxSim cluster bench: {Environment.ProcessorCount} cores, {machine.Dotnet}, {machine.Os}");
        Console.WriteLine($"  daxsim: {daxsim.Describe}");
        Console.WriteLine(run.LoadLine());
        var lines = new List<string>();

        // 1. Baselines.
        PingPong.Result? local = null;
        RemotePingPong.Result? remote = null;
        double remoteOthers = 0;
        if (o.Baselines)
        {
            Console.WriteLine("\n== baselines");
            local = PingPong.Measure([(100, 400_000, 2_000_000)], 3)[0];
            Console.WriteLine($"  in-process ping-pong, 100 in flight: {local.MessagesPerSecond:N0} msg/s");
            var cpu = SystemCpu.Sample();
            var cluster0 = ChildrenCpu();
            remote = RemotePingPong.Measure(pingers: 4, inFlightEach: 25, warmup: o.Warmup, window: TimeSpan.FromSeconds(5),
                windows: 4);
            remoteOthers = Math.Max(0, SystemCpu.Sample().OthersSince(cpu) - (ChildrenCpu() - cluster0).TotalSeconds /
                Math.Max(1e-9, (o.Warmup + TimeSpan.FromSeconds(20)).TotalSeconds));
            Console.WriteLine($"  Akka.Remote ping-pong, 2 processes, 100 in flight: {remote.MessagesPerSecond:N0} msg/s " +
                              $"(windows {string.Join(", ", remote.Rates.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))}; " +
                              $"warm-up {remote.WarmupRate:N0}); CPU {remote.ProcessCpuPerWall:F2} cores");
        }

        // 2. Throughput, clean delivery (no journal).
        Console.WriteLine($"\n== cluster throughput: {ThroughputScenario}, {o.Runs} run(s), clean delivery (no journal)");
        var scenarioPath = Path.Combine(root, ThroughputScenario);
        var clean = new List<Throughput>();
        for (var i = 1; i <= o.Runs; i++)
        {
            var t = RunThroughput(daxsim, scenarioPath, persistent: false, batched: true, o.Warmup, $"clean run {i}");
            if (t is not null)
            {
                clean.Add(t);
            }
        }

        // 2b. The same without batching (DAXSIM_BATCHING=off: an envelope or an ack per remoting
        // message, one ack per envelope): what the outboxes and coalesced acks gain.
        var unbatched = new List<Throughput>();
        if (o.UnbatchedRuns > 0)
        {
            Console.WriteLine("\n== cluster throughput without batching (DAXSIM_BATCHING=off)");
            for (var i = 1; i <= o.UnbatchedRuns; i++)
            {
                if (RunThroughput(daxsim, scenarioPath, persistent: false, batched: false, o.Warmup, $"unbatched run {i}") is { } t)
                {
                    unbatched.Add(t);
                }
            }
        }

        // 3. Throughput with persistence (DAXSIM_PERSISTENCE=on): the same mix, repeats scaled down.
        var persistent = new List<Throughput>();
        string? persistentScenario = null;
        if (o.PersistentRuns > 0)
        {
            persistentScenario = ScaledScenario(scenarioPath, o.PersistentScale);
            Console.WriteLine($"\n== cluster throughput with persistence (DAXSIM_PERSISTENCE=on), repeats x {o.PersistentScale}");
            for (var i = 1; i <= o.PersistentRuns; i++)
            {
                var t = RunThroughput(daxsim, persistentScenario, persistent: true, batched: true, o.Warmup, $"persistent run {i}");
                if (t is not null)
                {
                    persistent.Add(t);
                }
            }
        }

        // 4. Crash: the pinning task's member is SIGKILLed.
        Console.WriteLine($"\n== crash: {CrashScenario}, {o.CrashRuns} run(s)");
        var crashes = new List<Crash>();
        for (var i = 1; i <= o.CrashRuns; i++)
        {
            if (RunCrash(daxsim, Path.Combine(root, CrashScenario), $"crash run {i}") is { } c)
            {
                crashes.Add(c);
            }
        }

        var finished = run.Finished();
        var betweenMedian = clean.Count > 0 ? RemotePingPong.Median(clean.Select(c => c.Between).ToList()) : double.NaN;
        var removedMedian = MedianOf(crashes.Select(c => c.Removed));
        var removedMax = MaxOf(crashes.Select(c => c.Removed));
        var releasedMedian = MedianOf(crashes.Select(c => c.PinsReleased));
        var releasedMax = MaxOf(crashes.Select(c => c.PinsReleased));
        var throughputPass = betweenMedian >= TargetMessagesPerSecond && clean.All(c => c.Verdict == "clean");
        var crashPass = crashes.Count > 0 && crashes.Count == o.CrashRuns &&
                        crashes.All(c => c.Verdict == "clean" && c.PinsReleased is not null && c.Removed is not null) &&
                        releasedMax is { } rm && rm <= TargetCrash.TotalSeconds && removedMax is { } dm &&
                        dm <= TargetCrash.TotalSeconds;
        Console.WriteLine($"\ntargets: >= {TargetMessagesPerSecond:N0} msg/s between nodes: {(throughputPass ? "PASS" : "FAIL")} " +
                          $"({betweenMedian:N0}); crash -> pins released <= {TargetCrash.TotalSeconds:F0} s: " +
                          $"{(crashPass ? "PASS" : "FAIL")} (median {Fmt(releasedMedian)}, max {Fmt(releasedMax)})");

        var doc = Render(finished, daxsim, o, local, remote,
            remoteOthers, clean, unbatched, persistent, crashes, throughputPass, crashPass, run.Total.Elapsed);
        if (o.WriteDoc)
        {
            var full = Path.Combine(root, "docs", "performance-cluster.md");
            // Hand-written sections between markers (the hop account) stay.
            File.WriteAllText(full, DocSections.CarryOver(File.Exists(full) ? File.ReadAllText(full) : "", doc.Full));
            var perf = Path.Combine(root, "docs", "performance.md");
            File.WriteAllText(perf, DocSections.Replace(File.Exists(perf) ? File.ReadAllText(perf) : "", "cluster", doc.Summary));
            Console.WriteLine($"wrote {full} and the cluster section of {perf}");
        }
        else
        {
            Console.WriteLine(doc.Full);
        }
        return 0;
    }

    // --- the daxsim under test -------------------------------------------------------------

    private sealed record Daxsim(string File, string[] Prefix, string Describe);

    /// <summary>
    /// The Release build of Host (`dotnet run -c Release --project bench/DaxSim.Bench` builds it
    /// as this bench's dependency): its apphost, checked to be the same daxsim.dll this bench
    /// was built with.
    /// </summary>
    private static Daxsim FindDaxsim(string root)
    {
        var dir = Path.Combine(root, "Host", "bin", "Release", "net10.0");
        var apphost = Path.Combine(dir, OperatingSystem.IsWindows() ? "daxsim.exe" : "daxsim");
        var dll = Path.Combine(dir, "daxsim.dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} is missing: build with `dotnet build -c Release Host` " +
                                                "(or run the bench with `dotnet run -c Release --project bench/DaxSim.Bench -- --cluster`)");
        }
        var mine = typeof(ClusterRuntime).Assembly.Location;
        var same = File.Exists(mine) && Hash(mine) == Hash(dll);
        if (!same)
        {
            Console.WriteLine($"WARNING: {dll} differs from the daxsim.dll this bench was built with ({mine}): rebuild Host in Release");
        }
#if DEBUG
        Console.WriteLine("WARNING: this bench is a Debug build; run it with -c Release");
#endif
        var describe = $"{(File.Exists(apphost) ? apphost : "dotnet " + dll)} (Release{(same ? ", the build this bench references" : ", NOT the build this bench references")})";
        return File.Exists(apphost) ? new Daxsim(apphost, [], describe) : new Daxsim("dotnet", [dll], describe);
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>Runs `daxsim run FILE --runtime cluster --nodes 3 --report R`; the report, or null when it failed.</summary>
    private static (JObject? Report, string Output, int Code, TimeSpan ChildCpu, double OthersCores, TimeSpan Wall)
        RunDaxsim(Daxsim daxsim, string scenario, IDictionary<string, string> env)
    {
        var report = Path.Combine(Path.GetTempPath(), $"daxsim-cluster-bench-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        var info = new ProcessStartInfo(daxsim.File)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in daxsim.Prefix.Concat(["run", scenario, "--runtime", "cluster", "--nodes", "3", "--report", report]))
        {
            info.ArgumentList.Add(a);
        }
        foreach (var (k, v) in env)
        {
            info.Environment[k] = v;
        }
        var output = new StringBuilder();
        var cpu = SystemCpu.Sample();
        var children0 = ChildrenCpu();
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(info) ?? throw new InvalidOperationException($"could not start {daxsim.File}");
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (output)
                {
                    output.AppendLine(e.Data);
                }
            }
        };
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (output)
                {
                    output.AppendLine(e.Data);
                }
            }
        };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(TimeSpan.FromMinutes(15)))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
        p.WaitForExit();
        var wall = clock.Elapsed;
        // The runner reaped its members and this bench reaped the runner: the members' CPU is in
        // this process's children's CPU (cutime + cstime).
        var childCpu = ChildrenCpu() - children0;
        var machine = SystemCpu.Sample();
        var others = Math.Max(0, machine.OthersSince(cpu) - childCpu.TotalSeconds / wall.TotalSeconds);
        JObject? json = null;
        if (File.Exists(report))
        {
            json = JObject.Parse(File.ReadAllText(report));
            File.Delete(report);
        }
        lock (output)
        {
            return (json, output.ToString(), p.ExitCode, childCpu, others, wall);
        }
    }

    private static Throughput? RunThroughput(Daxsim daxsim, string scenario, bool persistent, bool batched, TimeSpan warmup,
        string label)
    {
        var env = new Dictionary<string, string>
        {
            ["DAXSIM_PERSISTENCE"] = persistent ? "on" : "off",
            ["DAXSIM_BATCHING"] = batched ? "on" : "off",
        };
        var (report, output, code, childCpu, others, wall) = RunDaxsim(daxsim, scenario, env);
        if (report?["cluster"]?["messages"] is not JObject m)
        {
            Console.WriteLine($"  {label}: FAILED (exit {code})\n{Indent(output)}");
            return null;
        }
        var verdict = (string?)report["verdict"] ?? "?";
        if (verdict != "clean")
        {
            // Keep what the run said about it: the violation, the wait-for chains, the trace tail.
            Console.WriteLine($"  {label}: verdict {verdict}, exit {code}; the run's output:\n{Indent(output)}");
        }
        var fields = ((JArray)m["sampleFields"]!).Select(f => (string)f!).ToList();
        var samples = ((JArray)m["samples"]!).Select(s => ((JArray)s).Select(v => (double)v).ToArray()).ToList();
        int F(string name) => fields.IndexOf(name);
        var end = (double?)m["firstTaskEndedMs"] ?? samples[^1][0];
        var from = samples.FirstOrDefault(s => s[0] >= warmup.TotalMilliseconds);
        var to = samples.LastOrDefault(s => s[0] <= end);
        double Rate(double[] a, double[] b, params string[] names) =>
            names.Sum(n => b[F(n)] - a[F(n)]) / ((b[0] - a[0]) / 1000);
        if (from is null || to is null || to[0] - from[0] < 1000)
        {
            Console.WriteLine($"  {label}: the run ({samples[^1][0] / 1000:F1} s, first task ended at {end / 1000:F1} s) " +
                              $"has no window after the {warmup.TotalSeconds:F0} s warm-up: lengthen the scenario");
            from = samples.First();
            to = samples.Last();
        }
        var perSecond = samples.Zip(samples.Skip(1), (a, b) => (A: a, B: b))
            .Where(x => x.A[0] >= from[0] && x.B[0] <= to[0])
            .Select(x => Rate(x.A, x.B, "betweenNodes")).ToList();
        var messages = (long)m["total"]!;
        // What remoting carried between nodes: the envelopes and acks between nodes, less those
        // that went in batches, plus the batches (counted by the sending outboxes).
        var wireBetween = Rate(from, to, "betweenNodes", "acksBetweenNodes", "duplicatesBetweenNodes");
        var batches = Rate(from, to, "batchesBetweenNodes");
        var batchedItems = Rate(from, to, "batchedBetweenNodes");
        var t = new Throughput(verdict, wall.TotalSeconds, (long)report["opsCompleted"]!, from[0] / 1000, to[0] / 1000,
            Rate(from, to, "total"), Rate(from, to, "betweenNodes"),
            Rate(from, to, "total", "acks", "duplicates"),
            wireBetween, Math.Max(0, wireBetween - batchedItems) + batches, batches > 0 ? batchedItems / batches : 0,
            (double?)m["perSecond"] ?? 0, perSecond.DefaultIfEmpty(0).Min(), perSecond.DefaultIfEmpty(0).Max(),
            messages, (long)m["duplicates"]!, (long)m["retransmissions"]!, childCpu.TotalSeconds, others,
            childCpu.TotalSeconds * 1e6 / Math.Max(1, messages));
        Console.WriteLine($"  {label}: verdict {verdict}, {t.Ops:N0} ops, {messages:N0} protocol messages in {wall.TotalSeconds:F1} s; " +
                          $"window {t.WindowFrom:F0}-{t.WindowTo:F0} s: {t.Between:N0} msg/s between nodes ({t.Total:N0} all, " +
                          $"per second {t.MinSecond:N0}..{t.MaxSecond:N0}); envelopes and acks {t.WireBetween:N0}/s between nodes " +
                          $"in {t.Remoting:N0} remoting messages/s ({t.BatchSize:F1} per batch); " +
                          $"{t.Retransmissions:N0} retransmissions; CPU {childCpu.TotalSeconds:F1} s ({t.CpuUsPerMessage:F0} us/message), " +
                          $"others {others:F2} cores");
        return t;
    }

    private static Crash? RunCrash(Daxsim daxsim, string scenario, string label)
    {
        var (report, output, code, _, others, wall) = RunDaxsim(daxsim, scenario, new Dictionary<string, string>());
        if (report?["cluster"] is not JObject cluster)
        {
            Console.WriteLine($"  {label}: FAILED (exit {code})\n{Indent(output)}");
            return null;
        }
        var crashed = ((JArray)cluster["members"]!).OfType<JObject>().FirstOrDefault(m => m["crashedAt"]?.Type == JTokenType.Integer);
        if (crashed is null)
        {
            Console.WriteLine($"  {label}: no member crashed\n{Indent(output)}");
            return null;
        }
        var at = (long)crashed["crashedAt"]!;
        double? Since(JToken? ns) => ns is { Type: JTokenType.Integer } ? ((long)ns - at) / 1e9 : null;
        var truncate = ((JArray)report["ops"]!).OfType<JObject>()
            .Where(op => (string?)op["op"] == "truncate" && (string?)op["result"] == "ok" && (long)op["end"]! > at)
            .Select(op => (JToken?)op["end"]).FirstOrDefault();
        var c = new Crash((string?)report["verdict"] ?? "?", Since(crashed["removedAt"]), Since(crashed["pinsReleasedAt"]),
            Since(truncate), wall.TotalSeconds);
        Console.WriteLine($"  {label}: verdict {c.Verdict}; after the SIGKILL: removed {Fmt(c.Removed)}, pins released " +
                          $"{Fmt(c.PinsReleased)}, truncate done {Fmt(c.TruncateDone)}; others {others:F2} cores");
        return c;
    }

    /// <summary>The scenario with every repeat count scaled (at least 1), in a temporary file.</summary>
    private static string ScaledScenario(string path, double scale)
    {
        var json = JObject.Parse(File.ReadAllText(path));
        foreach (var repeat in json.Descendants().OfType<JProperty>().Where(p => p.Name == "repeat").ToList())
        {
            repeat.Value = Math.Max(1, (int)Math.Round((int)repeat.Value * scale));
        }
        json["name"] = (string?)json["name"] + "-persistent";
        var file = Path.Combine(Path.GetTempPath(), $"daxsim-cluster-bench-{Environment.ProcessId}-persistent.json");
        File.WriteAllText(file, json.ToString());
        return file;
    }

    /// <summary>CPU of this process's reaped descendants (/proc/self/stat cutime + cstime).</summary>
    internal static TimeSpan ChildrenCpu()
    {
        try
        {
            var stat = File.ReadAllText("/proc/self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // After the command: state(3) ... cutime is field 16, cstime 17 (1-based over the whole line).
            var ticks = long.Parse(fields[16 - 3], CultureInfo.InvariantCulture) + long.Parse(fields[17 - 3], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / 100.0);
        }
        catch (IOException)
        {
            return TimeSpan.Zero;
        }
    }

    private static string Indent(string text) =>
        string.Join("\n", text.Split('\n').TakeLast(30).Select(l => "    " + l));

    private static double? MedianOf(IEnumerable<double?> values)
    {
        var v = values.Where(x => x is not null).Select(x => x!.Value).ToList();
        return v.Count == 0 ? null : RemotePingPong.Median(v);
    }

    private static double? MaxOf(IEnumerable<double?> values)
    {
        var v = values.Where(x => x is not null).Select(x => x!.Value).ToList();
        return v.Count == 0 ? null : v.Max();
    }

    private static string Fmt(double? seconds) => seconds is { } s ? $"{s:F2} s" : "n/a";

    private static string MemTotal()
    {
        try
        {
            var line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            var kb = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            return $"{kb / 1048576.0:F1} GiB";
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or FormatException)
        {
            return "?";
        }
    }

    // --- the report --------------------------------------------------------------------------

    /// <summary>What the raw remoting baseline says about the target.</summary>
    private static string Ceiling(RemotePingPong.Result remote) =>
        $"Unbatched, every protocol message between nodes is an envelope and its ack, two remoting messages, so " +
        $"{TargetMessagesPerSecond:N0} protocol messages/s between nodes would need " +
        $"{2 * TargetMessagesPerSecond:N0} remoting messages/s; bare Akka.Remote between two processes, measured in this " +
        $"run with the same transport and serializers, carried " +
        $"{remote.MessagesPerSecond.ToString("N0", CultureInfo.InvariantCulture)} messages/s using " +
        $"{remote.ProcessCpuPerWall:F2} cores. Batching (outboxes) and coalesced acks take remoting out of the way: " +
        $"what is left is the work per protocol message (CPU column), in 4 processes on the machine's cores: sharding's " +
        $"routing, reliable delivery, the protocol itself, the trace events and the runner's checker.";

    private static (string Full, string Summary) Render(Machine m, Daxsim daxsim, Options o, PingPong.Result? local,
        RemotePingPong.Result? remote, double remoteOthers, List<Throughput> clean, List<Throughput> unbatched,
        List<Throughput> persistent,
        List<Crash> crashes, bool throughputPass, bool crashPass, TimeSpan elapsed)
    {
        static string N(double v) => v.ToString("N0", CultureInfo.InvariantCulture);
        static string Med(IEnumerable<double> v) => N(RemotePingPong.Median(v.ToList()));
        var s = new StringBuilder();
        s.AppendLine("# DaxSim cluster performance");
        s.AppendLine();
        s.AppendLine("Generated by `dotnet run -c Release --project bench/DaxSim.Bench -- --cluster` (see `bench/README.md`); " +
                     "every figure below comes from one bench run. Re-run it to refresh this file.");
        s.AppendLine();
        m.AppendTable(s, "",
            ("Memory", MemTotal()),
            ("daxsim", $"`{daxsim.Describe.Replace(Repo.FindRoot() + "/", "", StringComparison.Ordinal)}`"),
            ("Load average", $"{m.Load} (the \"others\" figures: cores other processes used during each measurement)"),
            ("Bench wall time", $"{elapsed.TotalMinutes:F1} min"));
        var between = clean.Count > 0 ? RemotePingPong.Median(clean.Select(c => c.Between).ToList()) : double.NaN;
        var released = MedianOf(crashes.Select(c => c.PinsReleased));
        var releasedMax = MaxOf(crashes.Select(c => c.PinsReleased));
        var removed = MedianOf(crashes.Select(c => c.Removed));
        var removedMax = MaxOf(crashes.Select(c => c.Removed));
        var targets = new StringBuilder();
        targets.AppendLine("| Target | Measured | Result |");
        targets.AppendLine("|---|---:|---|");
        targets.AppendLine($"| 3-node local cluster sustains >= 50,000 protocol messages/s between nodes | {N(between)} msg/s " +
                           $"(median of {clean.Count} run(s), after a {o.Warmup.TotalSeconds:F0} s warm-up) | **{(throughputPass ? "PASS" : "FAIL")}** |");
        // Issue 13's targets: the ratio to the raw remoting ping-pong, and the journal's cost.
        static string Verdict(bool pass) => pass ? "**PASS**" : "**FAIL**";
        if (remote is not null && clean.Count > 0)
        {
            var ratio = between / remote.MessagesPerSecond;
            targets.AppendLine($"| between-node rate >= 0.5 x the raw Akka.Remote ping-pong of the same run | {ratio:F2} x " +
                               $"({N(between)} against {N(remote.MessagesPerSecond)} msg/s) | {Verdict(ratio >= 0.5)} |");
        }
        if (persistent.Count > 0)
        {
            var withJournal = RemotePingPong.Median(persistent.Select(r => r.Between).ToList());
            targets.AppendLine($"| with persistence: >= 10,000 protocol messages/s between nodes | {N(withJournal)} msg/s " +
                               $"(median of {persistent.Count} run(s), repeats x {o.PersistentScale}) | {Verdict(withJournal >= 10_000)} |");
            if (clean.Count > 0)
            {
                var cost = withJournal / between;
                targets.AppendLine($"| with persistence: >= 0.25 x the rate without the journal | {cost:F3} x | {Verdict(cost >= 0.25)} |");
            }
            var share = persistent.Sum(r => (double)r.Retransmissions) / Math.Max(1, persistent.Sum(r => (double)r.Messages));
            targets.AppendLine($"| with persistence: retransmissions < 1% of protocol messages | {share:P1} " +
                               $"({N(persistent.Sum(r => (double)r.Retransmissions))} of {N(persistent.Sum(r => (double)r.Messages))}) | {Verdict(share < 0.01)} |");
        }
        targets.AppendLine($"| node crash detected and its pins released within 10 s | removed {Fmt(removed)} (max {Fmt(removedMax)}), " +
                           $"pins released {Fmt(released)} (max {Fmt(releasedMax)}) after the SIGKILL, {crashes.Count} run(s) | " +
                           $"**{(crashPass ? "PASS" : "FAIL")}** |");
        s.AppendLine("## Targets");
        s.AppendLine();
        s.Append(targets);
        s.AppendLine();

        s.AppendLine("## Baselines (same bench run)");
        s.AppendLine();
        s.AppendLine("| Measure | Value | Note |");
        s.AppendLine("|---|---:|---|");
        if (local is not null)
        {
            s.AppendLine($"| Akka ping-pong, one process, 100 in flight | {N(local.MessagesPerSecond)} msg/s | two ReceiveActors, " +
                         $"median of {local.Runs.Count} runs of {local.RoundTrips:N0} round trips; both directions count |");
        }
        if (remote is not null)
        {
            s.AppendLine($"| Akka.Remote ping-pong, two processes on loopback, {remote.InFlight} in flight | {N(remote.MessagesPerSecond)} msg/s | " +
                         $"median of {remote.Rates.Count} windows of {remote.Window.TotalSeconds:F0} s after {remote.Warmup.TotalSeconds:F0} s " +
                         $"of warm-up (windows {string.Join(", ", remote.Rates.Select(N))}; during the warm-up {N(remote.WarmupRate)}); " +
                         $"an Envelope(PutPage) and its Ack, the cluster's own remoting configuration and serializers; " +
                         $"both processes used {remote.ProcessCpuPerWall:F2} cores, others {remoteOthers:F2} |");
        }
        s.AppendLine();

        void ThroughputTable(string title, List<Throughput> runs)
        {
            s.AppendLine($"### {title}");
            s.AppendLine();
            if (runs.Count == 0)
            {
                s.AppendLine("No run completed (see the console output).");
                s.AppendLine();
                return;
            }
            s.AppendLine("| Run | Verdict | Window | Between nodes | All protocol | Envelopes and acks between nodes | Remoting messages between nodes | Per batch | Per second (between) | Whole run | Retransmissions | CPU | Others |");
            s.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|");
            for (var i = 0; i < runs.Count; i++)
            {
                var r = runs[i];
                s.AppendLine($"| {i + 1} | {r.Verdict} | {r.WindowFrom:F0}-{r.WindowTo:F0} s | {N(r.Between)} | {N(r.Total)} | " +
                             $"{N(r.WireBetween)} | {N(r.Remoting)} | {(r.BatchSize > 0 ? r.BatchSize.ToString("F1", CultureInfo.InvariantCulture) : "-")} | " +
                             $"{N(r.MinSecond)}..{N(r.MaxSecond)} | {N(r.WholeRun)} | " +
                             $"{N(r.Retransmissions)} of {N(r.Messages)} | {r.ChildCpu:F0} s, {r.CpuUsPerMessage:F0} us/msg | {r.OthersCores:F2} |");
            }
            s.AppendLine($"| **median** | | | **{Med(runs.Select(r => r.Between))}** | {Med(runs.Select(r => r.Total))} | " +
                         $"{Med(runs.Select(r => r.WireBetween))} | {Med(runs.Select(r => r.Remoting))} | | | " +
                         $"{Med(runs.Select(r => r.WholeRun))} | | " +
                         $"{Med(runs.Select(r => r.CpuUsPerMessage))} us/msg | |");
            s.AppendLine();
            if (remote is not null || local is not null)
            {
                var b = RemotePingPong.Median(runs.Select(r => r.Between).ToList());
                var w = RemotePingPong.Median(runs.Select(r => r.Remoting).ToList());
                s.AppendLine("| Ratio | Value |");
                s.AppendLine("|---|---:|");
                if (remote is not null)
                {
                    s.AppendLine($"| protocol messages between nodes / Akka.Remote ping-pong | {b / remote.MessagesPerSecond:F3} x |");
                    s.AppendLine($"| remoting messages between nodes / Akka.Remote ping-pong | {w / remote.MessagesPerSecond:F3} x |");
                }
                if (local is not null)
                {
                    s.AppendLine($"| protocol messages between nodes / in-process ping-pong | {b / local.MessagesPerSecond:F4} x |");
                }
                s.AppendLine();
            }
        }

        s.AppendLine("## Throughput");
        s.AppendLine();
        s.AppendLine($"Scenario `{ThroughputScenario}` on 3 members started by `daxsim run --runtime cluster --nodes 3` " +
                     "(4 processes with the runner, on the machine's cores). Rates in protocol messages per second over the window " +
                     $"from the end of the {o.Warmup.TotalSeconds:F0} s warm-up to the last once-a-second sample before the first task " +
                     "finished (all tasks at work throughout).");
        s.AppendLine();
        ThroughputTable("Clean delivery (no node faults, no journal)", clean);
        ThroughputTable("The same without batching (DAXSIM_BATCHING=off: each envelope and each ack its own remoting message)", unbatched);
        if (clean.Count > 0 && unbatched.Count > 0)
        {
            var gain = RemotePingPong.Median(clean.Select(r => r.Between).ToList()) /
                       RemotePingPong.Median(unbatched.Select(r => r.Between).ToList());
            var cpu = RemotePingPong.Median(clean.Select(r => r.CpuUsPerMessage).ToList()) /
                      RemotePingPong.Median(unbatched.Select(r => r.CpuUsPerMessage).ToList());
            s.AppendLine($"Batching and coalesced acks: between-node rate batched / unbatched = **{gain:F2} x**; CPU per " +
                         $"protocol message batched / unbatched = **{cpu:F2} x**.");
            s.AppendLine();
        }
        if (remote is not null)
        {
            s.AppendLine(Ceiling(remote));
            s.AppendLine();
        }
        ThroughputTable($"With persistence (DAXSIM_PERSISTENCE=on: every entity input journaled to SQLite), repeats x {o.PersistentScale}", persistent);
        if (clean.Count > 0 && persistent.Count > 0)
        {
            var ratio = RemotePingPong.Median(persistent.Select(r => r.Between).ToList()) /
                        RemotePingPong.Median(clean.Select(r => r.Between).ToList());
            s.AppendLine($"Persistence costs: between-node rate with the journal / without = **{ratio:F3} x**.");
            s.AppendLine();
        }

        s.AppendLine("## Crash");
        s.AppendLine();
        s.AppendLine($"Scenario `{CrashScenario}`: a task on node 2 pins DAX pages for a long O_DIRECT read, a truncate on " +
                     "node 0 waits for them, and node 2's process is killed (SIGKILL). Seconds after the SIGKILL, from the report: " +
                     "the runner hears that the member is removed (failure detector, split-brain resolver, leader); the last pin of " +
                     "the lost task is given back (its PagePut, caused by the TaskGone the surviving member sends every entity); the " +
                     "truncate completes.");
        s.AppendLine();
        s.AppendLine("| Run | Verdict | Removed | Pins released | Truncate done | Run wall time |");
        s.AppendLine("|---|---|---:|---:|---:|---:|");
        for (var i = 0; i < crashes.Count; i++)
        {
            var c = crashes[i];
            s.AppendLine($"| {i + 1} | {c.Verdict} | {Fmt(c.Removed)} | {Fmt(c.PinsReleased)} | {Fmt(c.TruncateDone)} | {c.Wall:F1} s |");
        }
        s.AppendLine($"| **median** | | {Fmt(removed)} | {Fmt(released)} | {Fmt(MedianOf(crashes.Select(c => c.TruncateDone)))} | |");
        s.AppendLine($"| **max** | | {Fmt(removedMax)} | {Fmt(releasedMax)} | {Fmt(MaxOf(crashes.Select(c => c.TruncateDone)))} | |");
        s.AppendLine();

        s.AppendLine("## What the figures mean");
        s.AppendLine();
        s.AppendLine("- **Protocol messages**: every protocol message of a cluster run travels in an `Envelope` (reliable delivery). " +
                     "Each member's actors count the envelopes they take in, once each (the first time it arrives), split by " +
                     "whether the sender's actor reference is in another process (**between nodes**) or in the same one; acks and " +
                     "envelopes that arrive again (retransmissions) are counted apart. The counts travel to the runner with the " +
                     "trace batches and land in the report (`cluster.messages`, with a sample about every second).");
        s.AppendLine("- **Envelopes and acks between nodes**: envelopes (new and again) and acks that crossed between nodes. " +
                     "**Remoting messages between nodes**: what remoting carried: batched, one message per batch (each member's " +
                     "outbox sends another member everything its actors queued for it meanwhile, `Host/Cluster/NodeLink.cs`); " +
                     "unbatched, one per envelope or ack. **Per batch**: envelopes and acks per batch. The baseline ping-pong " +
                     "counts both directions as the remoting messages column does.");
        s.AppendLine("- **CPU**: CPU time of the runner and its three members (this bench's reaped children) over the whole run, " +
                     "start-up included, and per protocol message. **Others**: cores that other processes of the machine used meanwhile.");
        s.AppendLine("- **Baselines**: in one process, two actors that do nothing; across two processes, the same remoting " +
                     "(transport, throttler adapter, serializers) with nothing above it. The cluster does more per message: " +
                     "two more actor hops (the members' outbox and inbox, which batch; the hops are counted below), the receiver acknowledges it, the actors do the protocol's work and report trace events " +
                     "that the runner merges and checks, with four processes sharing the cores.");
        s.AppendLine();
        s.AppendLine("Command: `dotnet run -c Release --project bench/DaxSim.Bench -- --cluster" +
                     (o.Runs != 3 || o.CrashRuns != 5 || o.PersistentRuns != 3 || o.UnbatchedRuns != 1
                         ? $" --runs {o.Runs} --persistent-runs {o.PersistentRuns} --unbatched-runs {o.UnbatchedRuns} --crash-runs {o.CrashRuns}"
                         : "") +
                     (o.PersistentScale != Options.DefaultPersistentScale ? $" --persistent-scale {o.PersistentScale.ToString(CultureInfo.InvariantCulture)}" : "") +
                     "`.");

        var summary = new StringBuilder();
        summary.AppendLine("## Cluster runtime");
        summary.AppendLine();
        summary.AppendLine($"From `dotnet run -c Release --project bench/DaxSim.Bench -- --cluster` ({m.Date}, commit `{m.Commit}`, " +
                           $"{m.Cores} cores, load average {m.Load}); details, baselines and per-run figures in " +
                           "[performance-cluster.md](performance-cluster.md).");
        summary.AppendLine();
        summary.Append(targets);
        if (remote is not null && clean.Count > 0)
        {
            summary.AppendLine();
            summary.AppendLine($"Raw Akka.Remote ping-pong between two processes in the same run: {N(remote.MessagesPerSecond)} msg/s " +
                               $"(cluster protocol messages between nodes / that = {between / remote.MessagesPerSecond:F3} x).");
        }
        if (clean.Count > 0 && unbatched.Count > 0)
        {
            summary.AppendLine();
            summary.AppendLine($"Without batching and coalesced acks (DAXSIM_BATCHING=off), same run: " +
                               $"{Med(unbatched.Select(r => r.Between))} msg/s between nodes (batched / unbatched = " +
                               $"{between / RemotePingPong.Median(unbatched.Select(r => r.Between).ToList()):F2} x).");
        }
        return (s.ToString(), summary.ToString());
    }
}
