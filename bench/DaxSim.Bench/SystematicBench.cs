using System.Diagnostics;
using System.Globalization;
using System.Text;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Explore;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;

namespace DaxSim.Bench;

/// <summary>
/// `daxsim-bench --systematic`: the systematic search's figures (explore --strategy systematic,
/// Host/Explore/SystematicExplorer.cs) on the four generic/503 scenarios with every
/// `"repeat": 10` set to 3, variant mainline, k = 1, 2, 3: schedules started and run to the
/// end with the reduction, schedules/s, time to exhaust, and the count without the reduction
/// (every schedule within k delays, each run to its end), so the reduction ratio. The unreduced
/// k = 3 search is bounded by a schedule cap worth about <see cref="Options.UnreducedSeconds"/>
/// at the unreduced k = 2 rate, and then given as "&gt; N". Rewrites the systematic-bench
/// section of docs/exploration.md.
/// </summary>
internal static class SystematicBench
{
    public static readonly string[] Scenarios =
        ["generic-503-punch", "generic-503-truncate", "generic-503-zero", "generic-503-collapse"];

    public sealed record Options
    {
        public int Workers { get; init; } = 2;

        /// <summary>The default orders searched: first come (the issue's figures), last come, or both (the CLI's default).</summary>
        public IReadOnlyList<DefaultOrder> Orders { get; init; } = [DefaultOrder.FirstCome];

        public string OrderName => Orders.Count == 2 ? "both" : Orders[0].Name();

        public int MaxBound { get; init; } = 3;
        public int Repeat { get; init; } = 3;

        /// <summary>Each unreduced search above k = 2 stops after about this long (a schedule cap from the k = 2 rate).</summary>
        public double UnreducedSeconds { get; init; } = 40;

        /// <summary>A reduced search stops (not exhausted) after this many schedules.</summary>
        public long ReducedCap { get; init; } = 3_000_000;

        public bool WriteDoc { get; init; } = true;
        public IReadOnlyList<string> Only { get; init; } = Scenarios;

        public static Options Parse(string[] args)
        {
            var o = new Options();
            for (var i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                o = args[i] switch
                {
                    "--workers" => o with { Workers = Positive(Next(), "--workers") },
                    "--order" => o with
                    {
                        Orders = Next() is var name && DefaultOrders.ParseSearch(name) is { } orders
                            ? orders
                            : throw new ArgumentException($"--order: first-come, last-come or both, not {name}"),
                    },
                    "--bound" => o with { MaxBound = Positive(Next(), "--bound") },
                    "--repeat" => o with { Repeat = Positive(Next(), "--repeat") },
                    "--unreduced-seconds" => o with { UnreducedSeconds = double.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--reduced-cap" => o with { ReducedCap = long.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--scenarios" => o with { Only = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) },
                    "--no-doc" => o with { WriteDoc = false },
                    _ => throw new ArgumentException(
                        $"unknown option {args[i]}; --systematic takes: --workers N --order first-come|last-come|both --bound K --repeat R --unreduced-seconds S " +
                        "--reduced-cap N --scenarios a,b --no-doc"),
                };
            }
            if (o.Only.FirstOrDefault(s => !Scenarios.Contains(s)) is { } bad)
            {
                throw new ArgumentException($"--scenarios: {bad} is not one of {string.Join(", ", Scenarios)}");
            }
            if (o.MaxBound > SystematicExplorer.MaxBound)
            {
                throw new ArgumentException($"--bound must be at most {SystematicExplorer.MaxBound}");
            }
            return o;
        }

        private static int Positive(string s, string flag) =>
            int.Parse(s, CultureInfo.InvariantCulture) is var n and >= 1 ? n : throw new ArgumentException($"{flag} must be at least 1");
    }

    /// <summary>One search: its result and the last progress it reported (the search's own estimate of what was left).</summary>
    private sealed record Search(SystematicResult Result, SystematicProgress? Last, long Cap, TimeSpan Cpu)
    {
        public bool Capped => !Result.Exhausted && Result.Finding is null;
        public double Rate => Result.Schedules / Math.Max(Result.Elapsed.TotalSeconds, 1e-9);
    }

    private sealed record Cell(string Scenario, int K, Search Reduced, Search Unreduced, Search StatesOnly, double Others);

    /// <summary>The scenario with every `"repeat": 10` set to <paramref name="repeat"/>: the text and how many it changed.</summary>
    public static (string Text, int Changed) Reduce(string text, int repeat)
    {
        const string ten = "\"repeat\": 10";
        var changed = 0;
        for (var at = text.IndexOf(ten, StringComparison.Ordinal); at >= 0; at = text.IndexOf(ten, at + 1, StringComparison.Ordinal))
        {
            changed++;
        }
        return (text.Replace(ten, $"\"repeat\": {repeat}", StringComparison.Ordinal), changed);
    }

    public static int Run(string root, string[] args)
    {
        var o = Options.Parse(args);
        var run = BenchRun.Start(root);
        var machine = run.Machine;
        Console.WriteLine($"DaxSim systematic bench: {Environment.ProcessorCount} cores, {machine.Dotnet}, {machine.Os}, " +
                          $"{o.Workers} workers, k = 1..{o.MaxBound}, repeat {o.Repeat}, default order {o.OrderName}");
        Console.WriteLine(run.LoadLine());
#if DEBUG
        Console.WriteLine("WARNING: this bench is a Debug build; run it with -c Release");
#endif

        // The reduced scenarios live in a temporary directory for the run (not in the repository).
        var dir = Directory.CreateTempSubdirectory("daxsim-bench-systematic-").FullName;
        var cells = new List<Cell>();
        var choices = new Dictionary<string, long>();
        try
        {
            var scenarios = new List<Scenario>();
            foreach (var name in o.Only)
            {
                var shipped = Path.Combine(root, "scenarios", name + ".json");
                var (text, changed) = Reduce(File.ReadAllText(shipped), o.Repeat);
                if (changed == 0)
                {
                    throw new InvalidOperationException($"{shipped} no longer says \"repeat\": 10; the bench needs updating");
                }
                var path = Path.Combine(dir, name + ".json");
                File.WriteAllText(path, text);
                scenarios.Add(ScenarioLoader.LoadFile(path));
            }

            // Warm-up: the JIT's tiers settle on the search's code before anything is timed.
            var warm = Stopwatch.StartNew();
            for (var i = 0; i < 3 || warm.Elapsed < TimeSpan.FromSeconds(5); i++)
            {
                Explore(scenarios[0], 1, o.Workers, reduction: i % 2 == 0, long.MaxValue, o.Orders);
            }
            Console.WriteLine($"  warm-up {warm.Elapsed.TotalSeconds:F1} s");

            foreach (var scenario in scenarios)
            {
                Console.WriteLine($"\n== {scenario.Name} (repeat {o.Repeat}), mainline, {o.Workers} workers");
                double unreducedRate = 0;
                for (var k = 1; k <= o.MaxBound; k++)
                {
                    var cpu = SystemCpu.Sample();
                    // Reduced (both halves), states only (--no-sleep-sets) and unreduced back to back,
                    // so that the machine's load hits all three.
                    var reduced = Explore(scenario, k, o.Workers, reduction: true, o.ReducedCap, o.Orders);
                    var statesOnly = Explore(scenario, k, o.Workers, reduction: true, o.ReducedCap, o.Orders, sleepSets: false);
                    var cap = k <= 2 || unreducedRate <= 0
                        ? long.MaxValue
                        : Math.Max(1_000, (long)(unreducedRate * o.UnreducedSeconds));
                    var unreduced = Explore(scenario, k, o.Workers, reduction: false, cap, o.Orders);
                    var others = SystemCpu.Sample().OthersSince(cpu);
                    if (unreduced.Result.Exhausted)
                    {
                        unreducedRate = unreduced.Rate;
                    }
                    if (k == 1 && unreduced.Result.ByDelays.Count > 1)
                    {
                        choices[scenario.Name] = unreduced.Result.ByDelays[1];
                    }
                    var cell = new Cell(scenario.Name, k, reduced, unreduced, statesOnly, others);
                    cells.Add(cell);
                    Console.WriteLine($"  k={k}: reduced {Describe(reduced)}; states only {Describe(statesOnly)}; " +
                                      $"unreduced {Describe(unreduced)}; ratio {Ratio(cell)}; others {others:F2} cores");
                    if (reduced.Result.Finding is not null || unreduced.Result.Finding is not null)
                    {
                        Console.WriteLine("  WARNING: a finding on mainline: the figures are not of an exhausted search");
                    }
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        var section = Render(run.Finished(), o, cells, choices, run.Total.Elapsed);
        Console.WriteLine();
        Console.WriteLine(section);
        if (o.WriteDoc)
        {
            var doc = Path.Combine(root, "docs", "exploration.md");
            // One section per order searched: first-come (the issue's figures) keeps its own.
            var name = o.Orders.Count == 1 && o.Orders[0] == DefaultOrder.FirstCome ? "systematic-bench" : $"systematic-bench-{o.OrderName}";
            File.WriteAllText(doc, DocSections.Replace(File.ReadAllText(doc), name, section));
            Console.WriteLine($"wrote the {name} section of {doc}");
        }
        return 0;
    }

    private static Search Explore(Scenario scenario, int k, int workers, bool reduction, long cap, IReadOnlyList<DefaultOrder> orders,
        bool sleepSets = true)
    {
        SystematicProgress? last = null;
        var explorer = new SystematicExplorer(scenario, Variant.Mainline, k, workers)
        {
            Reduction = reduction,
            SleepSets = sleepSets,
            MaxSchedules = cap,
            Orders = orders,
            Progress = p => last = p,
        };
        var cpu = SystemCpu.Sample();
        var result = explorer.Explore();
        return new Search(result, last, cap, SystemCpu.Sample().Own - cpu.Own);
    }

    private static long Binomial(long n, int k)
    {
        var r = 1.0;
        for (var i = 0; i < k; i++)
        {
            r = r * (n - i) / (i + 1);
        }
        return (long)Math.Round(r);
    }

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string Seconds(TimeSpan t) => t.TotalSeconds < 10 ? $"{t.TotalSeconds:F2} s" : $"{t.TotalSeconds:F1} s";

    private static string Describe(Search s) =>
        $"{(s.Capped ? "> " : "")}{N(s.Result.Schedules)} started, {N(s.Result.Complete)} to the end" +
        (s.Result.SleepSets ? $", {N(s.Result.Slept)} on a sleeping delivery ({N(s.Result.SleptUnrun)} not run) " : " ") +
        $"({string.Join(" / ", s.Result.ByDelays.Select(N))} by delays) in {Seconds(s.Result.Elapsed)} ({s.Cpu.TotalSeconds:F1} s CPU), {s.Rate:N0}/s" +
        (s.Capped ? $", stopped by the cap of {N(s.Cap)}" : "");

    private static string Ratio(Cell c)
    {
        var all = (double)c.Unreduced.Result.Schedules;
        var prefix = c.Unreduced.Capped ? "> " : "";
        return $"{prefix}{all / Math.Max(1, c.Reduced.Result.Complete):F0} x (all / to the end), " +
               $"{prefix}{all / Math.Max(1, c.Reduced.Result.Schedules):F1} x (all / started)";
    }

    private static string Render(Machine m, Options o, List<Cell> cells, Dictionary<string, long> choices, TimeSpan wall)
    {
        var s = new StringBuilder();
        var flags = o.OrderName == DefaultOrders.FirstCome ? "" : $" --order {o.OrderName}";
        s.AppendLine($"Generated by `dotnet run -c Release --project bench/DaxSim.Bench -- --systematic{flags}` on {m.Date}, commit " +
                     $"`{m.Commit}` (working tree {m.Dirty}), Release, {m.Cores} cores ({m.Cpu}), {o.Workers} workers; load average " +
                     $"{m.Load}; the machine was shared with other engineers' builds and tests (the \"others\" column: cores " +
                     $"other processes used during the three searches of the row). The bench took {wall.TotalMinutes:F0} min.");
        s.AppendLine();
        s.AppendLine($"`mainline`, the four generic/503 scenarios with every `\"repeat\": 10` set to {o.Repeat} (written to a " +
                     "temporary directory for the run), default seed 1, " +
                     (o.Orders.Count == 2 ? "both default orders (first come and last come, `--order both`). " : $"delays counted against the {o.OrderName} default order (`--order {o.OrderName}`). ") +
                     "Without the reduction (`--no-reduction`) every " +
                     "schedule within k delays runs to its end: that count is \"all schedules\". With it, schedules are " +
                     "started and cut at a state another schedule reached or on a delivery asleep in a sleep set; \"to the end\" are those not cut; " +
                     "\"slept (not run)\" are those cut on a sleeping delivery, and of those the ones known from their parent's run to stop at once and not run; " +
                     "\"run again\" are runs made only to learn the ready lists of a schedule to extend (not counted as schedules). " +
                     "\"States only\" is the reduction without sleep sets (`--no-sleep-sets`), run back to back with the other two. " +
                     "Time is to exhaust the bound (each k is its own search from k = 0); CPU is the bench process's CPU " +
                     "time during the search (both workers; less sensitive than wall time to other processes on the cores). " +
                     (o.MaxBound >= 3
                         ? $"The unreduced k = 3 search is stopped after about {o.UnreducedSeconds:F0} s " +
                           "(a schedule cap from its k = 2 rate) and given as \"> N\": it would take tens of minutes."
                         : ""));
        s.AppendLine();
        // Schedules with exactly d delays are about C(n, d) for n choices in the default run (each a
        // choice between two ready actors, d of them taken the other way): the exact k = 2 count
        // checks the estimate, which then stands for the k = 3 count the bench does not run to the end.
        var estimated = cells.Where(c => c.K == 2 && !c.Unreduced.Capped && choices.ContainsKey(c.Scenario) && o.Orders.Count == 1)
            .ToDictionary(c => c.Scenario, c => 1 + choices[c.Scenario] + c.Unreduced.Result.ByDelays[2] + Binomial(choices[c.Scenario], 3));
        string Estimate(Cell c, Func<double, string> format) =>
            c.Unreduced.Capped && c.K == 3 && estimated.TryGetValue(c.Scenario, out var e) ? $"; ≈ {format(e)} estimated" : "";
        s.AppendLine("| scenario | k | all schedules (by delays) | time (CPU), schedules/s | with reduction: started, to the end, slept (not run), run again | time to exhaust (CPU), schedules/s | all / to the end | all / started | time without / with (CPU) | states only: started, to the end; time (CPU) | time states only / with sleep sets (CPU) | others |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var c in cells)
        {
            var u = c.Unreduced;
            var r = c.Reduced;
            var capped = u.Capped ? "> " : "";
            var all = $"{capped}{N(u.Result.Schedules)} ({string.Join(" / ", u.Result.ByDelays.Select(N))}{(u.Capped ? ", capped" : "")}" +
                      $"{Estimate(c, e => N((long)e))})";
            var reducedTime = (r.Capped ? $"not exhausted ({r.Result.StoppedBy}), " : "") + $"{Seconds(r.Result.Elapsed)} ({r.Cpu.TotalSeconds:F1} s)";
            var allTotal = (double)u.Result.Schedules;
            s.AppendLine($"| {c.Scenario} | {c.K} | {all} | {capped}{Seconds(u.Result.Elapsed)} ({u.Cpu.TotalSeconds:F1} s), {u.Rate:N0}/s{Estimate(c, e => $"{e / u.Rate / 60:F0} min at that rate")} | " +
                         $"{N(r.Result.Schedules)}, {N(r.Result.Complete)}, {N(r.Result.Slept)} ({N(r.Result.SleptUnrun)}), {N(r.Result.Reruns)} | {reducedTime}, {r.Rate:N0}/s | " +
                         $"{capped}{allTotal / Math.Max(1, r.Result.Complete):N0} x{Estimate(c, e => $"{e / Math.Max(1, r.Result.Complete):N0} x")} | " +
                         $"{capped}{allTotal / Math.Max(1, r.Result.Schedules):F1} x{Estimate(c, e => $"{e / Math.Max(1, r.Result.Schedules):F1} x")} | " +
                         $"{capped}{u.Result.Elapsed.TotalSeconds / Math.Max(1e-9, r.Result.Elapsed.TotalSeconds):F1} x " +
                         $"({capped}{u.Cpu.TotalSeconds / Math.Max(1e-9, r.Cpu.TotalSeconds):F1} x) | " +
                         $"{(c.StatesOnly.Capped ? "> " : "")}{N(c.StatesOnly.Result.Schedules)}, {N(c.StatesOnly.Result.Complete)}; {Seconds(c.StatesOnly.Result.Elapsed)} ({c.StatesOnly.Cpu.TotalSeconds:F1} s) | " +
                         $"{c.StatesOnly.Result.Elapsed.TotalSeconds / Math.Max(1e-9, r.Result.Elapsed.TotalSeconds):F2} x " +
                         $"({c.StatesOnly.Cpu.TotalSeconds / Math.Max(1e-9, r.Cpu.TotalSeconds):F2} x) | {c.Others:F2} |");
        }
        s.AppendLine();
        if (choices.Count > 0)
        {
            s.AppendLine("Choices in the default run (schedules with one delay): " +
                         string.Join(", ", choices.Select(kv => $"{kv.Key} {N(kv.Value)}")) + ".");
            s.AppendLine();
        }
        var estimates = cells.Where(c => c.K == 2 && !c.Unreduced.Capped && choices.ContainsKey(c.Scenario)).Select(c =>
        {
            var n = choices[c.Scenario];
            var exact2 = c.Unreduced.Result.ByDelays[2];
            return $"{c.Scenario}: n = {N(n)}, exactly 2 delays {N(exact2)} against C(n, 2) = {N(Binomial(n, 2))}, so about " +
                   $"{N(1 + n + exact2 + Binomial(n, 3))} schedules within k = 3";
        }).ToList();
        if (estimates.Count > 0 && o.MaxBound >= 3 && o.Orders.Count == 1)
        {
            s.AppendLine("How many the unreduced k = 3 search would run: with n choices in the default run, each between two " +
                         "ready actors, there are about C(n, d) schedules with exactly d delays; the exact k = 2 counts " +
                         $"bear that out, so C(n, 3) stands for the third delay: {string.Join("; ", estimates)}. (The search's own progress " +
                         "estimate weighs each first deviation by the schedules this count gives it, unreduced, and scales by the share " +
                         "the reduction has cut so far; midway through a depth it was still up to three times too high, since the reduction cuts more late in one.)");
            s.AppendLine();
        }
        var byK = cells.GroupBy(c => c.K).Select(g =>
            $"k = {g.Key}: {Seconds(TimeSpan.FromTicks(g.Sum(c => c.Reduced.Result.Elapsed.Ticks)))} with the reduction, " +
            $"{Seconds(TimeSpan.FromTicks(g.Sum(c => c.StatesOnly.Result.Elapsed.Ticks)))} with states only, " +
            $"{(g.Any(c => c.Unreduced.Capped) ? "more than " : "")}{Seconds(TimeSpan.FromTicks(g.Sum(c => c.Unreduced.Result.Elapsed.Ticks)))} without");
        s.AppendLine($"The four scenarios together: {string.Join("; ", byK)}. With {o.Workers} workers the schedules cut short " +
                     "depend on which of two schedules that meet got there first, so the reduced counts differ a little from run " +
                     "to run; the unreduced counts do not.");
        return s.ToString();
    }
}
