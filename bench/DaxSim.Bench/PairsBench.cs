using System.Diagnostics;
using System.Globalization;
using System.Text;
using DaxSim.Host.Checking;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Explore;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;

namespace DaxSim.Bench;

/// <summary>
/// `daxsim-bench --pairs`: whether every variant × shipped-scenario pair that the samplers
/// (random, pct, pos) catch is also caught by the systematic search within k delays (the issue
/// asks k ≤ 3). Each pair gets the samplers first, as the variants table's "every base on every
/// shipped scenario" does (<see cref="VariantsTable.FirstViolation"/>); a caught pair then gets
/// a systematic search, both default orders, deepening to the bound, stopped after
/// <see cref="Options.Seconds"/>, with the seed the samplers caught it at: the same random
/// sleeps and draws, so that the search and the sampler differ only in the schedules they try.
/// If that search does not catch it and the seed is not 1, a second one with seed 1, the
/// search's default. Rewrites the systematic-pairs section of docs/exploration.md.
/// </summary>
internal static class PairsBench
{
    public sealed record Options
    {
        public int Seeds { get; init; } = VariantsTable.CleanSeeds;
        public int Bound { get; init; } = 3;
        public double Seconds { get; init; } = 30;
        public int Workers { get; init; } = 2;

        /// <summary>The variants to pair: null for all of <see cref="AllVariants"/>.</summary>
        public IReadOnlyList<string>? Variants { get; init; }

        /// <summary>The scenarios to pair, by file name: null for every scenarios/*.json.</summary>
        public IReadOnlyList<string>? Scenarios { get; init; }

        public bool WriteDoc { get; init; } = true;

        public static Options Parse(string[] args)
        {
            var o = new Options();
            for (var i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                o = args[i] switch
                {
                    "--seeds" => o with { Seeds = Int(Next(), "--seeds", 1) },
                    "--bound" => o with { Bound = Int(Next(), "--bound", 0) },
                    "--seconds" => o with
                    {
                        Seconds = Next() is var text && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0
                            ? s
                            : throw new ArgumentException($"--seconds must be a number above 0, not {text}"),
                    },
                    "--workers" => o with { Workers = Int(Next(), "--workers", 1) },
                    "--variants" => o with { Variants = List(Next()) },
                    "--scenarios" => o with { Scenarios = List(Next()) },
                    "--no-doc" => o with { WriteDoc = false },
                    _ => throw new ArgumentException(
                        $"unknown option {args[i]}; --pairs takes: --seeds N --bound K --seconds S --workers N --variants a,b --scenarios x,y --no-doc"),
                };
            }
            if (o.Bound > SystematicExplorer.MaxBound)
            {
                throw new ArgumentException($"--bound must be at most {SystematicExplorer.MaxBound}");
            }
            foreach (var name in o.Variants ?? [])
            {
                if (!Protocol.Variants.TryParse(name, out _, out var error))
                {
                    throw new ArgumentException($"--variants: {error}");
                }
            }
            return o;
        }

        private static int Int(string s, string flag, int least) =>
            int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= least
                ? n
                : throw new ArgumentException($"{flag} must be a whole number of at least {least}, not {s}");

        private static string[] List(string s) => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>
    /// Every variant the CLI takes as a whole name: the bases (mainline, the clean one, too), each
    /// deviation on its own base, and the DEVIATION@BASE rows of the variants table.
    /// </summary>
    public static IReadOnlyList<string> AllVariants =>
        Protocol.Variants.AllNames.Concat(VariantsTable.Rows.Select(r => r.Variant).Where(v => v.Contains('@', StringComparison.Ordinal)))
            .Distinct(StringComparer.Ordinal).ToArray();

    /// <summary>What the systematic search made of a pair the samplers caught.</summary>
    private sealed record Searched(SystematicResult Result, TimeSpan Cap, ulong Seed)
    {
        public bool Found => Result.Finding is not null;

        /// <summary>
        /// For an unfinished search, the deepest depth that ran a schedule: every depth below it
        /// was finished clean (the search deepens one depth at a time). It was itself finished
        /// only if the cap fell just as the next depth began, so "stopped in" it is what to claim.
        /// </summary>
        public int Deepest => Array.FindLastIndex(Result.ByDelays.ToArray(), n => n > 0);
    }

    /// <summary>A pair: the samplers' first finding, the search with its seed, and the one with seed 1 when that one missed.</summary>
    private sealed record Pair(string Variant, string Scenario, VariantsTable.SamplerFinding? Sampled, Searched? Search,
        Searched? SeedOne = null)
    {
        public bool Found => Search?.Found == true || SeedOne?.Found == true;

        public bool Clean => !Found && Search!.Result.Exhausted && SeedOne?.Result.Exhausted != false;
    }

    public static int Run(string root, string[] args)
    {
        var o = Options.Parse(args);
        var run = BenchRun.Start(root);
        var machine = run.Machine;
        var variants = o.Variants ?? AllVariants;
        var scenarios = Scenarios(root, o.Scenarios);
        Console.WriteLine($"DaxSim pairs bench: {variants.Count} variants × {scenarios.Count} scenarios; samplers random, pct, pos " +
                          $"up to {o.Seeds} seeds each; systematic k ≤ {o.Bound}, both orders, {o.Workers} workers, at most {o.Seconds:F0} s a pair");
        Console.WriteLine($"  {Environment.ProcessorCount} cores, {machine.Dotnet}; load average {run.LoadBefore}");
#if DEBUG
        Console.WriteLine("WARNING: this bench is a Debug build; run it with -c Release");
#endif

        // Warm-up: the JIT's tiers settle on the search's code before the first pair is timed.
        var warm = Stopwatch.StartNew();
        _ = new SystematicExplorer(scenarios[0], Variant.Mainline, 1, o.Workers) { Cancelled = () => warm.Elapsed.TotalSeconds > 5 }.Explore();
        Console.WriteLine($"  warm-up {Seconds(warm.Elapsed)}");

        using var runtime = new DeterministicRuntime();
        var pairs = new List<Pair>();
        foreach (var variantName in variants)
        {
            var variant = Protocol.Variants.Parse(variantName);
            foreach (var scenario in scenarios)
            {
                var clock = Stopwatch.StartNew();
                var sampled = VariantsTable.FirstViolation(runtime, scenario, variant, o.Seeds);
                var samplerTime = clock.Elapsed;
                if (sampled is null)
                {
                    pairs.Add(new Pair(variantName, scenario.Name, null, null));
                    Console.WriteLine($"  {variantName,-34} {scenario.Name,-22} samplers: clean ({Seconds(samplerTime)})");
                    continue;
                }
                var searched = Search(scenario, variant, o, sampled.Seed);
                var seedOne = searched.Found || sampled.Seed == 1 ? null : Search(scenario, variant, o, 1);
                var pair = new Pair(variantName, scenario.Name, sampled, searched, seedOne);
                pairs.Add(pair);
                Console.WriteLine($"  {variantName,-34} {scenario.Name,-22} samplers: {sampled} ({Seconds(samplerTime)}); " +
                                  $"systematic: {Describe(pair)}; {N(Schedules(pair))} schedules in all, {Seconds(Elapsed(pair))}");
            }
        }

        var m = run.Finished();
        var section = Render(m, o, args, pairs, run.Total.Elapsed);
        Console.WriteLine();
        Console.WriteLine(Summary(o, pairs));
        if (o.WriteDoc)
        {
            var doc = Path.Combine(root, "docs", "exploration.md");
            File.WriteAllText(doc, DocSections.Replace(File.ReadAllText(doc), "systematic-pairs", section));
            Console.WriteLine($"wrote the systematic-pairs section of {doc}");
        }
        return 0;
    }

    /// <summary>The shipped scenarios (scenarios/*.json, not the subdirectories), or the named ones.</summary>
    private static List<Scenario> Scenarios(string root, IReadOnlyList<string>? only)
    {
        var dir = Path.Combine(root, "scenarios");
        var files = Directory.GetFiles(dir, "*.json").Order(StringComparer.Ordinal).ToList();
        if (only is not null)
        {
            var names = files.Select(Path.GetFileNameWithoutExtension).ToList();
            if (only.FirstOrDefault(s => !names.Contains(s)) is { } bad)
            {
                throw new ArgumentException($"--scenarios: {bad} is not one of {string.Join(", ", names)}");
            }
            files = only.Select(s => Path.Combine(dir, s + ".json")).ToList();
        }
        return files.Select(ScenarioLoader.LoadFile).ToList();
    }

    /// <summary>One search of a pair with one seed's draws, both default orders, deepening to the bound, stopped by the time cap.</summary>
    private static Searched Search(Scenario scenario, Variant variant, Options o, ulong seed)
    {
        var cap = TimeSpan.FromSeconds(o.Seconds);
        var clock = Stopwatch.StartNew();
        var explorer = new SystematicExplorer(scenario, variant, o.Bound, o.Workers)
        {
            Seed = seed,
            Cancelled = () => clock.Elapsed > cap,
        };
        return new Searched(explorer.Explore(), cap, seed);
    }

    private static long Schedules(Pair p) => p.Search!.Result.Schedules + (p.SeedOne?.Result.Schedules ?? 0);

    private static TimeSpan Elapsed(Pair p) => p.Search!.Result.Elapsed + (p.SeedOne?.Result.Elapsed ?? TimeSpan.Zero);

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string Seconds(TimeSpan t) => t.TotalSeconds < 10 ? $"{t.TotalSeconds:F2} s" : $"{t.TotalSeconds:F1} s";

    /// <summary>The systematic result of a caught pair, in words (the same in the table and on stdout).</summary>
    private static string Describe(Pair p) =>
        $"seed {p.Search!.Seed}: {Describe(p.Search, p.Sampled!)}" +
        (p.SeedOne is { } one ? $"; seed 1: {Describe(one, p.Sampled!)}" : "");

    private static string Describe(Searched s, VariantsTable.SamplerFinding sampled)
    {
        var r = s.Result;
        if (r.Finding?.Violation is { } v)
        {
            var same = v.Invariant == sampled.Invariant ? "" : $", not the samplers' {sampled.Invariant.Name()}";
            var k = r.Delays();
            return k == 0
                ? $"found on the {r.FindingOrder.Name()} default schedule ({v.Invariant.Name()}{same})"
                : $"found with {k} delay{(k == 1 ? "" : "s")} against {r.FindingOrder.Name()} ({v.Invariant.Name()}{same})";
        }
        if (r.Exhausted)
        {
            return $"clean within k ≤ {r.Bound}";
        }
        var j = s.Deepest;
        return j < 1
            ? $"not finished in {s.Cap.TotalSeconds:F0} s: the default schedules clean, stopped before any schedule with 1 delay"
            : $"not finished in {s.Cap.TotalSeconds:F0} s: clean within k ≤ {j - 1}, stopped in k = {j} after {N(r.ByDelays[j])} of its schedules";
    }

    private static string Summary(Options o, List<Pair> pairs)
    {
        var caught = pairs.Where(p => p.Search is not null).ToList();
        var found = caught.Count(p => p.Found);
        var withSampled = caught.Count(p => p.Search!.Found);
        var onlySeedOne = caught.Count(p => p.SeedOne?.Found == true);
        var clean = caught.Count(p => p.Clean);
        var unfinished = caught.Count - found - clean;
        return $"Caught by the systematic search within k ≤ {o.Bound} on {found} of {caught.Count} pairs the samplers caught " +
               $"({withSampled} with the samplers' seed, {onlySeedOne} more with seed 1 only); " +
               $"exhausted clean within k ≤ {o.Bound} (they need more delays) on {clean}; not finished in {o.Seconds:F0} s on {unfinished}. " +
               $"{pairs.Count - caught.Count} of {pairs.Count} pairs are not caught by the samplers.";
    }

    private static string Render(Machine m, Options o, string[] args, List<Pair> pairs, TimeSpan wall)
    {
        var s = new StringBuilder();
        var command = string.Join(" ", new[] { "dotnet run -c Release --project bench/DaxSim.Bench -- --pairs" }.Concat(args));
        s.AppendLine($"Generated by `{command}` on {m.Date}, commit `{m.Commit}` (working tree {m.Dirty}), Release, " +
                     $"{m.Cores} cores ({m.Cpu}), load average {m.Load}; the bench took {wall.TotalMinutes:F0} min. " +
                     $"Samplers: seeds 1 to {o.Seeds} with random, then pct, then pos, one core; the first violation is shown. " +
                     $"Systematic: `explore --strategy systematic --bound {o.Bound}` (the search's defaults: both default orders, state comparison and sleep sets) " +
                     "with the seed the samplers caught the pair at (`--seed`: the same random sleeps and draws, so the two differ only in " +
                     "the schedules they try), then, if that search did not catch it, with seed 1 (the search's default); " +
                     $"{o.Workers} workers, each search stopped after {o.Seconds:F0} s. A search deepens from k = 0, so a finding has the fewest delays " +
                     "of any. For a search the cap stopped, \"clean within k ≤ j\" means every schedule with j delays or fewer ran clean, " +
                     "and \"stopped in k = j + 1\" names the deepest depth that ran a schedule (had the cap fallen just as the next " +
                     "depth began, that depth was in fact finished: the claim is never more than what ran).");
        s.AppendLine();
        s.AppendLine("| variant | scenario | samplers' first finding | systematic | schedules | time |");
        s.AppendLine("|---|---|---|---|---:|---:|");
        foreach (var p in pairs.Where(p => p.Search is not null))
        {
            s.AppendLine($"| `{p.Variant}` | `{p.Scenario}` | {p.Sampled} | {Describe(p)} | {N(Schedules(p))} | " +
                         $"{Seconds(Elapsed(p))} |");
        }
        s.AppendLine();
        s.AppendLine(Summary(o, pairs));
        s.AppendLine();
        var missed = pairs.Where(p => p.Search is null).GroupBy(p => p.Variant).ToList();
        s.AppendLine(missed.Count == 0
            ? "The samplers caught every pair."
            : "Not caught by the samplers: " + string.Join("; ", missed.Select(g =>
                $"`{g.Key}` on {(g.Count() == pairs.Count(p => p.Variant == g.Key) ? "every scenario" : string.Join(", ", g.Select(p => $"`{p.Scenario}`")))}")) + ".");
        return s.ToString();
    }
}

/// <summary>What the bench modes read off a systematic search's finding.</summary>
internal static class SystematicFindings
{
    /// <summary>The finding's delays (the sum of its deviations' positions): the k it was found at.</summary>
    public static int Delays(this SystematicResult result) => result.FindingDelays?.Sum(d => d.Position) ?? 0;
}
