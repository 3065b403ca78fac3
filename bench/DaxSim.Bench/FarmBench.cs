using System.Diagnostics;
using System.Globalization;
using System.Text;
using Akka.Actor;
using DaxSim.Host.Cluster;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Explore;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using AkkaSerialization = Akka.Serialization.Serialization;

namespace DaxSim.Bench;

/// <summary>
/// `daxsim-bench --farm`: the seed farm (`explore --runtime cluster`, Host/Cluster/SeedFarm.cs)
/// against `explore --workers` on the same machine. Seeds/s of an in-process Explorer with 1,
/// 2 and 3 workers, and of a SeedFarm driven from this process as the CLI drives it (its
/// members real `daxsim node` processes on 127.0.0.1, started by ClusterRuntime.StartMembers),
/// with 1, 2 and 3 members of one worker each, on the same scenario, strategy and seeds; each
/// pair back to back (the order alternating), so that the machine's load hits both; the ratio
/// farm / explore of each pair. Then the coordinator's cost per work unit, measured directly:
/// the FarmCoordinator actor in a member's ActorSystem (cluster provider, the members'
/// serialization config) leasing units to a bench worker and forwarding each result to a bench
/// runner, in one process; and the serialization of each farm message as remoting does it
/// (Hyperion, as bound since protocol version 3; Akka's default Newtonsoft serializer, which they
/// went through before, for comparison). From these a
/// model of how the farm would scale with members. Rewrites the farm-bench section of docs/cluster.md.
/// </summary>
internal static partial class FarmBench
{
    public sealed record Options
    {
        public string Scenario { get; init; } = "scenarios/generic-503-punch.json";
        public string Strategy { get; init; } = "random";
        public long Seeds { get; init; } = 16_000;
        public int Rounds { get; init; } = 2;
        public int UnitSeeds { get; init; } = FarmOptions.DefaultUnitSeeds;
        public IReadOnlyList<int> Members { get; init; } = [1, 2, 3];
        public int CoordinatorUnits { get; init; } = 20_000;
        public bool WriteDoc { get; init; } = true;
        public bool Pairs { get; init; } = true;

        public static Options Parse(string[] args)
        {
            var o = new Options();
            for (var i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                int Int() => int.Parse(Next(), CultureInfo.InvariantCulture);
                o = args[i] switch
                {
                    "--scenario" => o with { Scenario = Next() },
                    "--strategy" => o with { Strategy = Next() },
                    "--seeds" => o with { Seeds = long.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--rounds" => o with { Rounds = Int() },
                    "--unit-seeds" => o with { UnitSeeds = Int() },
                    "--members" => o with
                    {
                        Members = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                            .Select(m => int.Parse(m, CultureInfo.InvariantCulture)).ToArray(),
                    },
                    "--coordinator-units" => o with { CoordinatorUnits = Int() },
                    "--coordinator-only" => o with { Pairs = false, WriteDoc = false },
                    "--no-doc" => o with { WriteDoc = false },
                    _ => throw new ArgumentException(
                        $"unknown option {args[i]}; --farm takes: --scenario FILE --strategy random|pct|pos --seeds N --rounds N " +
                        "--unit-seeds U --members 1,2,3 --coordinator-units N --coordinator-only --no-doc"),
                };
            }
            if (o.Seeds < 1 || o.Rounds < 1 || o.UnitSeeds < 1 || o.CoordinatorUnits < 100 || o.Members.Count == 0 ||
                o.Members.Any(m => m is < 1 or > ClusterRunOptions.MaxNodes))
            {
                throw new ArgumentException("--seeds, --rounds, --unit-seeds must be positive, --coordinator-units at least 100, " +
                                            $"--members between 1 and {ClusterRunOptions.MaxNodes}");
            }
            if (o.Strategy == Strategies.Systematic)
            {
                throw new ArgumentException("--strategy: the farm runs seeds (random, pct, pos), not systematic");
            }
            return o;
        }
    }

    /// <summary>One timed exploration: seeds/s over the whole of it and after its first 3 s (progress samples), CPU, others.</summary>
    private sealed record Timed(long Seeds, TimeSpan Elapsed, double SteadyRate, TimeSpan Cpu, double Others, TimeSpan TimeToUp,
        long UnitsReturned)
    {
        public double Rate => Seeds / Math.Max(Elapsed.TotalSeconds, 1e-9);
        public double CpuMsPerSeed => Cpu.TotalMilliseconds / Math.Max(1, Seeds);
    }

    /// <summary>
    /// One round for N: `daxsim explore --workers N` run as a child process (what the CLI gives: a fresh process, seeds/s
    /// as it prints them), the farm, and the Explorer in this process (warm: its tiered PGO has settled), in the order given.
    /// </summary>
    private sealed record Pair(int Round, int Members, string Order, Timed Cli, Timed Explore, Timed Farm)
    {
        /// <summary>Farm / `daxsim explore --workers N`: the ratio of record.</summary>
        public double Ratio => Farm.Rate / Cli.Rate;

        public double WarmRatio => Farm.Rate / Explore.Rate;
    }

    public static int Run(string root, string[] args)
    {
        var o = Options.Parse(args);
        var run = BenchRun.Start(root);
        var machine = run.Machine;
        var scenarioPath = Path.IsPathRooted(o.Scenario) ? o.Scenario : Path.Combine(root, o.Scenario);
        var scenario = ScenarioLoader.LoadFile(scenarioPath);
        var (node, _) = NodeProcess.Self();
        Console.WriteLine($"DaxSim farm bench: {Environment.ProcessorCount} cores, {machine.Dotnet}, {machine.Os}; " +
                          $"{scenario.Name}, {o.Strategy}, mainline, seeds 1..{o.Seeds}, units of {o.UnitSeeds}");
        Console.WriteLine($"  members: {node} node ...");
        Console.WriteLine(run.LoadLine());
#if DEBUG
        Console.WriteLine("WARNING: this bench is a Debug build; run it with -c Release");
#endif

        var pairs = new List<Pair>();
        if (o.Pairs)
        {
            // Warm-up: this process's JIT settles on the explore loop before anything is timed.
            var warm = Stopwatch.StartNew();
            var warmSeeds = new Explorer(scenario, Variant.Mainline, o.Strategy, Environment.ProcessorCount).Explore(50_000_000, 3_000);
            Console.WriteLine($"  warm-up: {warmSeeds.SeedsRun} seeds in {warm.Elapsed.TotalSeconds:F1} s");
            for (var round = 1; round <= o.Rounds; round++)
            {
                foreach (var n in o.Members)
                {
                    // The three take turns at going first, so that a busy spell of the machine does not always hit the same one.
                    var order = new[] { "cli", "farm", "explore" };
                    var shift = (round + n) % 3;
                    order = order.Skip(shift).Concat(order.Take(shift)).ToArray();
                    Timed? c = null, e = null, f = null;
                    foreach (var step in order)
                    {
                        switch (step)
                        {
                            case "cli":
                                c = Cli(scenarioPath, o, n);
                                break;
                            case "farm":
                                f = Farm(scenario, o, n);
                                break;
                            default:
                                e = Explore(scenario, o, n);
                                break;
                        }
                    }
                    var pair = new Pair(round, n, string.Join(", ", order), c!, e!, f!);
                    pairs.Add(pair);
                    Console.WriteLine($"  round {round}, {n} ({pair.Order}): daxsim explore --workers {n} {c!.Rate:F0} seeds/s " +
                                      $"({c.CpuMsPerSeed:F2} ms CPU/seed with its start; others {c.Others:F2}); in-process explore " +
                                      $"{e!.Rate:F0} seeds/s (after 3 s {R(e.SteadyRate)}; {e.CpuMsPerSeed:F2} ms CPU/seed; others {e.Others:F2}); " +
                                      $"farm of {n} member(s) {f!.Rate:F0} seeds/s (after 3 s {R(f.SteadyRate)}; up in {f.TimeToUp.TotalSeconds:F1} s; " +
                                      $"{f.CpuMsPerSeed:F2} ms CPU/seed with the members' start; others {f.Others:F2}): farm / daxsim explore " +
                                      $"{pair.Ratio:F2}, farm / in-process {pair.WarmRatio:F2}" +
                                      (f.UnitsReturned > 0 ? $"; {f.UnitsReturned} unit(s) returned" : ""));
                }
            }
        }

        Console.WriteLine("\n== the coordinator's cost per unit");
        var coordinator = Coordinator.Measure(scenario, o);
        foreach (var line in coordinator.Lines())
        {
            Console.WriteLine("  " + line);
        }

        var section = Render(run.Finished(), o, scenario, pairs, coordinator, run.Total.Elapsed);
        Console.WriteLine();
        Console.WriteLine(section);
        if (o.WriteDoc)
        {
            var doc = Path.Combine(root, "docs", "cluster.md");
            File.WriteAllText(doc, DocSections.Replace(File.ReadAllText(doc), "farm-bench", section));
            Console.WriteLine($"wrote the farm-bench section of {doc}");
        }
        return 0;
    }

    private static double Steady(List<(long Done, TimeSpan Elapsed)> samples, long seeds, TimeSpan elapsed)
    {
        var from = samples.FirstOrDefault(s => s.Elapsed >= TimeSpan.FromSeconds(3));
        if (from.Elapsed == TimeSpan.Zero || elapsed - from.Elapsed < TimeSpan.FromSeconds(1))
        {
            return double.NaN;
        }
        return (seeds - from.Done) / (elapsed - from.Elapsed).TotalSeconds;
    }

    private static Timed Explore(Scenario scenario, Options o, int workers)
    {
        var samples = new List<(long, TimeSpan)>();
        var explorer = new Explorer(scenario, Variant.Mainline, o.Strategy, workers)
        {
            PctDepth = PctStrategy.DefaultDepth,
            Progress = p => samples.Add((p.Done, p.Elapsed)),
        };
        var cpu = SystemCpu.Sample();
        var result = explorer.Explore(1, o.Seeds);
        var after = SystemCpu.Sample();
        return new Timed(result.SeedsRun, result.Elapsed, Steady(samples, result.SeedsRun, result.Elapsed), after.Own - cpu.Own,
            after.OthersSince(cpu), TimeSpan.Zero, 0);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^  (?<seeds>\d+) seeds in (?<s>[0-9.]+) s \(", System.Text.RegularExpressions.RegexOptions.Multiline)]
    private static partial System.Text.RegularExpressions.Regex SeedsLine();

    /// <summary>`daxsim explore FILE --workers N` (the build the members run), its seeds/s as it prints them.</summary>
    private static Timed Cli(string scenarioPath, Options o, int workers)
    {
        var (file, prefix) = NodeProcess.Self();
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in prefix.Concat(["explore", scenarioPath, "--variant", "mainline", "--strategy", o.Strategy,
                     "--seeds", o.Seeds.ToString(CultureInfo.InvariantCulture), "--workers", workers.ToString(CultureInfo.InvariantCulture)]))
        {
            info.ArgumentList.Add(a);
        }
        var cpu = SystemCpu.Sample();
        var children = ClusterBench.ChildrenCpu();
        using var p = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        var errors = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        var after = SystemCpu.Sample();
        var childCpu = ClusterBench.ChildrenCpu() - children;
        var wall = Stopwatch.GetElapsedTime(cpu.Timestamp, after.Timestamp).TotalSeconds;
        var match = SeedsLine().Match(output);
        if (p.ExitCode != 0 || !match.Success)
        {
            throw new InvalidOperationException($"daxsim explore exited with {p.ExitCode}:\n{output}\n{errors.Result}");
        }
        var seeds = long.Parse(match.Groups["seeds"].Value, CultureInfo.InvariantCulture);
        var seconds = double.Parse(match.Groups["s"].Value, CultureInfo.InvariantCulture);
        var others = Math.Max(0, after.OthersSince(cpu) - childCpu.TotalSeconds / Math.Max(wall, 1e-9));
        return new Timed(seeds, TimeSpan.FromSeconds(seconds), double.NaN, childCpu, others, TimeSpan.Zero, 0);
    }

    private static Timed Farm(Scenario scenario, Options o, int members)
    {
        var samples = new List<(long, TimeSpan)>();
        var log = new StringWriter();
        var farm = new SeedFarm(new ClusterRunOptions { Nodes = members, Log = log },
            new FarmOptions { UnitSeeds = o.UnitSeeds, WorkersPerMember = 1 })
        {
            Progress = p => samples.Add((p.Done, p.Elapsed)),
        };
        var cpu = SystemCpu.Sample();
        var children = ClusterBench.ChildrenCpu();
        FarmResult result;
        try
        {
            result = farm.Run(scenario, Variant.Mainline, o.Strategy, PctStrategy.DefaultDepth, 0, false, 1, o.Seeds);
        }
        catch
        {
            Console.WriteLine(log.ToString());
            throw;
        }
        var after = SystemCpu.Sample();
        // The members are this process's children, reaped when they stopped: their CPU is in cutime + cstime.
        var childCpu = ClusterBench.ChildrenCpu() - children;
        var wall = Stopwatch.GetElapsedTime(cpu.Timestamp, after.Timestamp).TotalSeconds;
        var others = Math.Max(0, after.OthersSince(cpu) - childCpu.TotalSeconds / Math.Max(wall, 1e-9));
        if (result.Explore.SeedsRun != o.Seeds)
        {
            throw new InvalidOperationException($"the farm ran {result.Explore.SeedsRun} of {o.Seeds} seeds (a finding on mainline?)");
        }
        return new Timed(result.Explore.SeedsRun, result.Explore.Elapsed, Steady(samples, result.Explore.SeedsRun, result.Explore.Elapsed),
            after.Own - cpu.Own + childCpu, others, result.TimeToUp, result.UnitsReturned);
    }

    private static double Median(IEnumerable<double> values) => RemotePingPong.Median(values.ToList());

    private static string R(double rate) => double.IsNaN(rate) ? "-" : rate.ToString("F0", CultureInfo.InvariantCulture);

    private static string Render(Machine m, Options o, Scenario scenario, List<Pair> pairs, Coordinator.Figures c, TimeSpan wall)
    {
        var s = new StringBuilder();
        s.AppendLine($"Generated by `dotnet run -c Release --project bench/DaxSim.Bench -- --farm` on {m.Date}, commit `{m.Commit}` " +
                     $"(working tree {m.Dirty}), Release, {m.Cores} cores ({m.Cpu}); load average {m.Load}; the machine was " +
                     $"shared with other engineers' builds and tests (\"others\": cores other processes used meanwhile). The bench took " +
                     $"{wall.TotalMinutes:F0} min.");
        s.AppendLine();
        if (pairs.Count > 0)
        {
            s.AppendLine($"`{Path.GetFileName(o.Scenario)}`, `{o.Strategy}`, `mainline` (clean: every seed runs), seeds 1..{o.Seeds:N0}. " +
                         "For each N, three explorations of the same seeds, back to back, the one going first taking turns: " +
                         "**`daxsim explore --workers N`**, the Release `daxsim` run as a child process, its seeds/s as it prints " +
                         "them (a fresh process: the JIT tiers up during the run, as for anyone who runs the command); the " +
                         "**farm**, the SeedFarm of `daxsim explore --runtime cluster --nodes N` driven from the bench's process (the " +
                         "runner), its members real `daxsim node` processes on 127.0.0.1 started as the CLI starts them (fresh " +
                         $"processes too), one worker each, units of {o.UnitSeeds} seeds, its seeds/s from the first StartFarm to the " +
                         "last unit as the CLI prints it (the members' start, \"up\", apart); and the **in-process** Explorer of the " +
                         "bench, warmed up (its tiered PGO settled: the best this machine gives, no process start in it). \"After 3 s\": " +
                         "the rate from the first progress sample past 3 s to the end. CPU per seed: the child process (with its " +
                         "start), the bench's process, the runner and members (with their start).");
            s.AppendLine();
            s.AppendLine("| round | N | order | `daxsim explore --workers N` | farm, N members (after 3 s) | in-process explore (after 3 s) | **farm / `daxsim explore`** | farm / in-process | members up | CPU ms/seed: explore / farm / in-process | others: explore / farm / in-process |");
            s.AppendLine("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var p in pairs)
            {
                s.AppendLine($"| {p.Round} | {p.Members} | {p.Order.Replace("explore", "in-process", StringComparison.Ordinal).Replace("cli", "explore", StringComparison.Ordinal)} | " +
                             $"{p.Cli.Rate:F0} | {p.Farm.Rate:F0} ({R(p.Farm.SteadyRate)}) | {p.Explore.Rate:F0} ({R(p.Explore.SteadyRate)}) | " +
                             $"**{p.Ratio:F2}** | {p.WarmRatio:F2} | {p.Farm.TimeToUp.TotalSeconds:F1} s | " +
                             $"{p.Cli.CpuMsPerSeed:F2} / {p.Farm.CpuMsPerSeed:F2} / {p.Explore.CpuMsPerSeed:F2} | " +
                             $"{p.Cli.Others:F2} / {p.Farm.Others:F2} / {p.Explore.Others:F2} |");
            }
            s.AppendLine();
            s.AppendLine("(In the order column, \"explore\" is `daxsim explore` and \"in-process\" the bench's own Explorer.)");
            s.AppendLine();
            s.AppendLine("| N | `daxsim explore --workers N`, median seeds/s | farm, median seeds/s | in-process, median seeds/s | median farm / `daxsim explore` | median farm / in-process |");
            s.AppendLine("|---:|---:|---:|---:|---:|---:|");
            foreach (var g in pairs.GroupBy(p => p.Members))
            {
                s.AppendLine($"| {g.Key} | {Median(g.Select(p => p.Cli.Rate)):F0} | {Median(g.Select(p => p.Farm.Rate)):F0} | " +
                             $"{Median(g.Select(p => p.Explore.Rate)):F0} | **{Median(g.Select(p => p.Ratio)):F2}** | {Median(g.Select(p => p.WarmRatio)):F2} |");
            }
            s.AppendLine();
            if (pairs.Any(p => p.Members == 2))
            {
                var two = pairs.Where(p => p.Members == 2).ToList();
                var r2 = Median(two.Select(p => p.Ratio));
                var w2 = Median(two.Select(p => p.WarmRatio));
                s.AppendLine($"Target: 2 members reach at least 0.85 x `explore --workers 2`: median farm / `daxsim explore --workers 2` " +
                             $"{r2:F2}, **{(r2 >= 0.85 ? "PASS" : "FAIL")}** (rounds: " +
                             string.Join(", ", two.Select(p => p.Ratio.ToString("F2", CultureInfo.InvariantCulture))) +
                             $"); against the bench's warm in-process Explorer, {w2:F2} (" +
                             string.Join(", ", two.Select(p => p.WarmRatio.ToString("F2", CultureInfo.InvariantCulture))) + ").");
                s.AppendLine();
            }
            if (pairs.Any(p => p.Members > m.Cores))
            {
                s.AppendLine($"With {m.Cores} cores, {m.Cores + 1} or more members (and as many explore workers) oversubscribe the " +
                             "machine: they share the same cores (with the runner and, for the farm, every member's own Akka and " +
                             "cluster threads), so they cannot add throughput here; the row shows what that costs.");
                s.AppendLine();
            }
        }

        s.AppendLine(c.Markdown(o.UnitSeeds));
        if (pairs.Count > 0)
        {
            s.AppendLine(Model(pairs, c, o.UnitSeeds, m.Cores));
        }
        return s.ToString();
    }

    /// <summary>
    /// How the farm's throughput would scale with members: each member, on a core of its own,
    /// runs seeds at the rate one member reached here; the one coordinator caps the farm at
    /// unit size / its cost per unit.
    /// </summary>
    private static string Model(List<Pair> pairs, Coordinator.Figures c, int unitSeeds, int cores)
    {
        var one = pairs.Where(p => p.Members == 1).ToList();
        if (one.Count == 0)
        {
            return "";
        }
        var perMember = Median(one.Select(p => p.Farm.Rate));
        var perMemberSteady = Median(one.Select(p => double.IsNaN(p.Farm.SteadyRate) ? p.Farm.Rate : p.Farm.SteadyRate));
        var costUs = c.CoordinatorUsPerUnit;
        var unitsPerSecond = 1e6 / costUs;
        var ceiling = unitsPerSecond * unitSeeds;
        var saturate = ceiling / perMember;
        var unitTime = unitSeeds / perMember;
        var s = new StringBuilder();
        s.AppendLine("**How throughput would scale with members.** Each member runs its own seeds on its own runtime and " +
                     "shares nothing but the coordinator, so with a core per member the farm gives about N x the rate of one " +
                     $"member, until the coordinator is busy all the time: at {costUs:F0} us of its member's CPU per unit " +
                     $"(above) it handles about {unitsPerSecond:N0} units/s, {ceiling:N0} seeds/s with units of {unitSeeds}. " +
                     $"One member (one worker) ran {perMember:F0} seeds/s here ({perMemberSteady:F0} after 3 s), a unit every " +
                     $"{unitTime:F2} s, so the coordinator would be the limit at about {saturate:N0} members of one worker " +
                     "(or workers in all); larger units move that limit up in proportion. Below it, the coordinator takes " +
                     $"{costUs * 1e-6 / unitTime * 100:F2}% of a core per member from the member it runs on, and each worker " +
                     "waits a round trip to the coordinator between its units (it asks for the next lease only after sending " +
                     "the result): the farm's 1-member rate against `explore --workers 1` above shows what that costs.");
        s.AppendLine();
        s.AppendLine("| members N | model: min(N, cores) x one member, capped by the coordinator | measured farm (median) | measured / model |");
        s.AppendLine("|---:|---:|---:|---:|");
        foreach (var g in pairs.GroupBy(p => p.Members))
        {
            var model = Math.Min(Math.Min(g.Key, cores) * perMember, ceiling);
            var measured = Median(g.Select(p => p.Farm.Rate));
            s.AppendLine($"| {g.Key} | {model:F0} | {measured:F0} | {measured / model:F2} |");
        }
        foreach (var n in new[] { 8, 32, 128 })
        {
            s.AppendLine($"| {n} (a core each, not measured) | {Math.Min(n * perMember, ceiling):F0} | | |");
        }
        s.AppendLine();
        return s.ToString();
    }

    /// <summary>The coordinator's cost per unit, measured in one process.</summary>
    internal static class Coordinator
    {
        /// <summary>A farm message through its bound serializer (Serializer: its name), and through Newtonsoft.Json (Json*: before protocol version 3).</summary>
        internal sealed record Serialized(string Message, int Bytes, double SerializeUs, double DeserializeUs, int JsonBytes,
            double JsonSerializeUs, double JsonDeserializeUs, string Serializer);

        internal sealed record Figures(int Units, double LatencyUsPerUnit, double ThroughputUsPerUnit, double CpuUsPerUnit, int Slots,
            double LedgerUsPerUnit, double LedgerUsPerUnitLarge, int LargeUnits, IReadOnlyList<Serialized> Messages, int Branches)
        {
            private Serialized Of(string name) => Messages.First(m => m.Message == name);

            /// <summary>What the coordinator's member serializes and reads per unit: RequestUnit in, UnitLease out, UnitDone in and out.</summary>
            public double SerializationUsPerUnit => Of(nameof(RequestUnit)).DeserializeUs + Of(nameof(UnitLease)).SerializeUs +
                                                    Of(nameof(UnitDone)).DeserializeUs + Of(nameof(UnitDone)).SerializeUs;

            /// <summary>The same through Newtonsoft.Json, as the farm messages went before protocol version 3.</summary>
            public double JsonUsPerUnit => Of(nameof(RequestUnit)).JsonDeserializeUs + Of(nameof(UnitLease)).JsonSerializeUs +
                                           Of(nameof(UnitDone)).JsonDeserializeUs + Of(nameof(UnitDone)).JsonSerializeUs;

            public double CoordinatorUsPerUnit => ThroughputUsPerUnit + SerializationUsPerUnit;

            public IEnumerable<string> Lines()
            {
                yield return $"in-process cycle, 1 worker slot: {LatencyUsPerUnit:F1} us per unit (lease asked, granted, result " +
                             $"forwarded to the runner); {Slots} slots: {ThroughputUsPerUnit:F1} us per unit, process CPU {CpuUsPerUnit:F1} us per unit";
                yield return $"ledger alone (TryLease + Complete): {LedgerUsPerUnit:F2} us per unit over {Units:N0} units, " +
                             $"{LedgerUsPerUnitLarge:F2} us over {LargeUnits:N0}";
                foreach (var m in Messages)
                {
                    yield return $"{m.Message}: {m.Serializer} {m.Bytes} B, write {m.SerializeUs:F1} us, read {m.DeserializeUs:F1} us; " +
                                 $"Newtonsoft.Json {m.JsonBytes} B, write {m.JsonSerializeUs:F1} us, read {m.JsonDeserializeUs:F1} us";
                }
                yield return $"per unit on the coordinator's member: {ThroughputUsPerUnit:F1} us handling + {SerializationUsPerUnit:F1} us " +
                             $"serialization = {CoordinatorUsPerUnit:F0} us (through Newtonsoft.Json, before protocol version 3: {ThroughputUsPerUnit + JsonUsPerUnit:F0} us)";
            }

            public string Markdown(int unitSeeds)
            {
                var s = new StringBuilder();
                s.AppendLine($"**The coordinator's cost per unit**, measured in the bench's process: the `FarmCoordinator` actor in an " +
                             "ActorSystem with the members' configuration (cluster provider, their serialization bindings), a farm of " +
                             $"{Units:N0} units of {unitSeeds} seeds, a bench actor as the member's worker (it answers each lease at once " +
                             $"with a `UnitDone` carrying real coverage arrays of {Branches} branches, from {unitSeeds} seeds of the scenario, " +
                             "and asks again) and one as the runner. In one process nothing is serialized, so each farm message's " +
                             "serialization is timed apart, with the serializer remoting uses for it (`FindSerializerFor`, actor " +
                             "references written with a remote address as remoting writes them: Hyperion, as envelopes, since " +
                             "protocol version 3), and with Akka's default Newtonsoft.Json serializer (which the farm messages went " +
                             "through before) for comparison:");
                s.AppendLine();
                s.AppendLine("| | per unit |");
                s.AppendLine("|---|---:|");
                s.AppendLine($"| one worker slot: lease asked, granted, result forwarded to the runner, one after the other (four actor hand-offs) | {LatencyUsPerUnit:F1} us |");
                s.AppendLine($"| {Slots} slots asking at once: the coordinator busy all the time | {ThroughputUsPerUnit:F1} us |");
                s.AppendLine($"| the same, CPU of the whole process (coordinator, bench worker and runner, dispatcher threads) | {CpuUsPerUnit:F1} us |");
                s.AppendLine($"| the ledger alone, for comparison (`TryLease` + `Complete`, {Units:N0} units; {LargeUnits:N0} units) | {LedgerUsPerUnit:F2} us; {LedgerUsPerUnitLarge:F2} us |");
                s.AppendLine();
                s.AppendLine("| message | serializer today | bytes | write | read | Newtonsoft.Json (before protocol 3): bytes | write | read |");
                s.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|");
                foreach (var m in Messages)
                {
                    s.AppendLine($"| `{m.Message}` | {m.Serializer} | {m.Bytes:N0} | {m.SerializeUs:F1} us | {m.DeserializeUs:F1} us | " +
                                 $"{m.JsonBytes:N0} | {m.JsonSerializeUs:F1} us | {m.JsonDeserializeUs:F1} us |");
                }
                s.AppendLine();
                s.AppendLine($"Per unit, the coordinator's member reads a `RequestUnit`, writes a `UnitLease`, reads the `UnitDone` and " +
                             $"writes it on to the runner: {SerializationUsPerUnit:F0} us of serialization, plus {ThroughputUsPerUnit:F0} us " +
                             $"of handling, about **{CoordinatorUsPerUnit:F0} us of one core per unit** (an upper bound on the handling: " +
                             "the bench's worker and runner share the cores; each figure is the median of 3 farms, each serialization time the median of 21 batches; not counted: remoting's own framing and socket work per " +
                             "message, which the cluster bench's Akka.Remote ping-pong puts at some tens of microseconds of CPU for a " +
                             "message and its answer, both sides). Through Newtonsoft.Json, as before protocol version 3, it would be " +
                             $"about {ThroughputUsPerUnit + JsonUsPerUnit:F0} us.");
                return s.ToString();
            }
        }

        private sealed record Go;

        /// <summary>A member's worker slot reduced to its messages: each lease answered at once with a unit result, then a new request.</summary>
        private sealed class CycleWorker : ReceiveActor
        {
            public CycleWorker(IActorRef coordinator, string farmId, int slots, UnitDone template)
            {
                Receive<Go>(_ =>
                {
                    for (var i = 0; i < slots; i++)
                    {
                        coordinator.Tell(new RequestUnit(farmId, Self, i), Self);
                    }
                });
                Receive<UnitLease>(l =>
                {
                    coordinator.Tell(template with { Unit = l.Unit, FirstSeed = l.FirstSeed, Count = l.Count, SeedsRun = l.Count }, Self);
                    coordinator.Tell(new RequestUnit(farmId, Self, l.Slot), Self);
                });
                Receive<NoUnit>(_ => { });
            }
        }

        /// <summary>The runner: counts the forwarded results, done at the last.</summary>
        private sealed class CountingRunner : ReceiveActor
        {
            public CountingRunner(int units, TaskCompletionSource done)
            {
                var count = 0;
                Receive<UnitDone>(_ =>
                {
                    if (++count == units)
                    {
                        done.TrySetResult();
                    }
                });
                ReceiveAny(_ => { });
            }
        }

        public static Figures Measure(Scenario scenario, Options o)
        {
            // A real unit's result: the coverage of UnitSeeds seeds of the scenario.
            var unit = new Explorer(scenario, Variant.Mainline, o.Strategy, 1) { PctDepth = PctStrategy.DefaultDepth }
                .Explore(90_000_000, o.UnitSeeds);
            var (totals, reaching) = unit.Coverage.ToArrays();
            using var system = ActorSystem.Create(ClusterConfig.DefaultClusterName,
                ClusterConfig.Member(new NodeSettings { Port = 0, Index = 0 }));
            var template = new UnitDone("", 0, 0, o.UnitSeeds, o.UnitSeeds, null, 0, 0, unit.Deliveries, unit.Coverage.Runs,
                totals, reaching, 1);

            (double Wall, double Cpu) Cycle(int units, int slots)
            {
                var cpu0 = SystemCpu.Sample();
                var farmId = Guid.NewGuid().ToString("N");
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var coordinator = system.ActorOf(FarmCoordinator.Props());
                var runner = system.ActorOf(Props.Create(() => new CountingRunner(units, done)));
                coordinator.Tell(new StartFarm(farmId, scenario.Text!, scenario.Source, "mainline", o.Strategy, PctStrategy.DefaultDepth, 0,
                    false, 1, (long)units * o.UnitSeeds, o.UnitSeeds, slots, 60_000, runner, [], null));
                var mine = template with { FarmId = farmId };
                var worker = system.ActorOf(Props.Create(() => new CycleWorker(coordinator, farmId, slots, mine)));
                var clock = Stopwatch.StartNew();
                worker.Tell(new Go());
                if (!done.Task.Wait(TimeSpan.FromMinutes(2)))
                {
                    throw new TimeoutException("the coordinator bench did not finish in 2 minutes");
                }
                var us = clock.Elapsed.TotalMicroseconds / units;
                var cpuUs = (SystemCpu.Sample().Own - cpu0.Own).TotalMicroseconds / units;
                system.Stop(worker);
                system.Stop(runner);
                system.Stop(coordinator);
                return (us, cpuUs);
            }

            Cycle(Math.Min(5_000, o.CoordinatorUnits), 1); // warm-up
            Cycle(Math.Min(5_000, o.CoordinatorUnits), 8);
            const int slots = 8;
            var latency = Median(Enumerable.Range(0, 3).Select(_ => Cycle(o.CoordinatorUnits, 1).Wall));
            var busy = Enumerable.Range(0, 3).Select(_ => Cycle(o.CoordinatorUnits, slots)).ToList();
            var throughput = Median(busy.Select(b => b.Wall));
            var cpu = Median(busy.Select(b => b.Cpu));

            // The ledger alone.
            double Ledger(int units)
            {
                var ledger = new FarmLedger(1, (long)units * o.UnitSeeds, o.UnitSeeds, TimeSpan.FromMinutes(1));
                var now = DateTime.UtcNow;
                var clock = Stopwatch.StartNew();
                while (ledger.TryLease("akka.tcp://daxsim@127.0.0.1:4053", now, out var u))
                {
                    ledger.Complete(u, null);
                }
                return clock.Elapsed.TotalMicroseconds / units;
            }

            var ledgerSmall = Median(Enumerable.Range(0, 7).Select(_ => Ledger(o.CoordinatorUnits)).Skip(2));
            const int large = 1_000_000;
            var ledgerLarge = Median(Enumerable.Range(0, 3).Select(_ => Ledger(large)));

            // Serialization as remoting does it: each message's bound serializer, actor refs with the member's remote address.
            var serialization = system.Serialization;
            // What the farm messages went through before protocol version 3: the default for plain objects.
            var json = serialization.FindSerializerForType(typeof(object));
            var never = new TaskCompletionSource();
            var probe = system.ActorOf(Props.Create(() => new CountingRunner(int.MaxValue, never)), "farm-runner");
            var farm = Guid.NewGuid().ToString("N");
            var messages = new object[]
            {
                new RequestUnit(farm, probe, 0),
                new UnitLease(farm, 17, 1_701, o.UnitSeeds, 0),
                new NoUnit(farm, 0, false),
                template with { FarmId = farm, Unit = 17, FirstSeed = 1_701 },
                new StartFarm(farm, scenario.Text!, scenario.Source, "mainline", o.Strategy, PctStrategy.DefaultDepth, 0, false, 1,
                    o.Seeds, o.UnitSeeds, 1, 60_000, probe, Enumerable.Range(0, 50).ToArray(), null),
            };
            var measured = new List<Serialized>();
            foreach (var message in messages)
            {
                var bound = serialization.FindSerializerFor(message);
                var (bytes, write, read) = Time(system, message, bound);
                var (jBytes, jWrite, jRead) = Time(system, message, json);
                measured.Add(new Serialized(message.GetType().Name, bytes, write, read, jBytes, jWrite, jRead,
                    bound.GetType().Name.Replace("Serializer", "", StringComparison.Ordinal)));
            }
            return new Figures(o.CoordinatorUnits, latency, throughput, cpu, slots, ledgerSmall, ledgerLarge, large, measured,
                totals.Length);
        }

        /// <summary>Bytes, microseconds to write and to read one message with this serializer (each timed for about half a second).</summary>
        private static (int Bytes, double Write, double Read) Time(ActorSystem system, object message,
            Akka.Serialization.Serializer serializer)
        {
            var manifest = AkkaSerialization.ManifestFor(serializer, message);
            byte[] bytes = AkkaSerialization.WithTransport((ExtendedActorSystem)system, () => serializer.ToBinary(message));
            var back = system.Serialization.Deserialize(bytes, serializer.Identifier, manifest);
            if (back.GetType() != message.GetType())
            {
                throw new InvalidOperationException($"{message.GetType().Name} came back as {back.GetType().Name}");
            }
            // The median of 21 short batches: a batch that another process preempted does not count.
            double Loop(Action step)
            {
                for (var i = 0; i < 200; i++)
                {
                    step();
                }
                var batches = new List<double>();
                for (var b = 0; b < 21; b++)
                {
                    var n = 0;
                    var clock = Stopwatch.StartNew();
                    while (clock.Elapsed < TimeSpan.FromMilliseconds(25))
                    {
                        for (var i = 0; i < 10; i++)
                        {
                            step();
                        }
                        n += 10;
                    }
                    batches.Add(clock.Elapsed.TotalMicroseconds / n);
                }
                return Median(batches);
            }
            var write = Loop(() => AkkaSerialization.WithTransport((ExtendedActorSystem)system, () => serializer.ToBinary(message)));
            var read = Loop(() => system.Serialization.Deserialize(bytes, serializer.Identifier, manifest));
            return (bytes.Length, write, read);
        }
    }
}
