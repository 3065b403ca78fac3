using System.CommandLine;
using DaxSim.Host.Load;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Load;
using DaxSim.Protocol.Scenarios;
using Spectre.Console;

namespace DaxSim.Host.Cli;

// daxsim load [SPEC] [--files F] [--pages N] [--tasks M] [--duration D] ...: the load
// generator (docs/load.md). A spec file gives everything; flags override its files, pages,
// duration, warm-up, runtime, seed and variant; without a spec, flags alone describe the
// common case (M tasks in the default mix).
public sealed partial class Cli
{
    private const int DefaultLoadFiles = 4;
    private const int DefaultLoadPages = 1024;
    private const int DefaultLoadTasks = 32;
    private static readonly TimeSpan DefaultLoadDuration = TimeSpan.FromSeconds(5);

    private sealed class LoadOptions
    {
        public readonly Argument<string?> Spec = new("SPEC")
        {
            Description = "Load spec (JSON; docs/load.md). Without one, the flags describe the load.",
            Arity = ArgumentArity.ZeroOrOne,
        };

        public readonly Option<int?> Files = new("--files") { Description = $"DAX files (default {DefaultLoadFiles}); each has a plain file for its direct I/O." };

        public readonly Option<int?> Pages = new("--pages") { Description = $"Pages per file (default {DefaultLoadPages})." };

        public readonly Option<int?> Tasks = new("--tasks")
        {
            Description = $"Tasks, split over the default mix of DIO readers and writers, faulting readers, truncators, " +
                          $"hole punchers and lease holders (default {DefaultLoadTasks}; not with a spec).",
        };

        public readonly Option<string?> Duration = new("--duration") { Description = "How long the load runs, e.g. 10s (simulated on the deterministic runtime, wall-clock on local)." };

        public readonly Option<string?> Warmup = new("--warmup") { Description = "Left out of the statistics at the start (default: a tenth of the duration, at most 1s)." };

        public readonly Option<string?> Think = new("--think") { Description = "Think time after each operation (default 1ms; not with a spec)." };

        public readonly Option<double?> Rate = new("--rate")
        {
            Description = "Operations per second of each task, instead of a think time (open loop; latency counted from when each operation was due; not with a spec).",
        };

        public readonly Option<string?> Runtime = new("--runtime") { Description = "local (default), deterministic or cluster." };

        public readonly Option<int?> Nodes = new("--nodes") { Description = "Cluster members to start on 127.0.0.1 with --runtime cluster (default 3)." };

        public readonly Option<ulong?> Seed = new("--seed") { Description = "The 64-bit seed of the task layout, the pacing and the schedule (default 1)." };

        public readonly Option<string?> Variant = new("--variant") { Description = $"Protocol variant: {string.Join(", ", Variants.AllNames)}, or DEVIATION@BASE (docs/variants.md)." };

        public readonly Option<string?> Report = new("--report") { Description = "Write the JSON report here (throughput, latency, memory, the spec, seed, runtime, verdict)." };

        public readonly Option<string?> Html = new("--html") { Description = "Write the HTML report here: latency percentiles, throughput and layout-break wait over time." };

        public readonly Option<string> Progress = new("--progress")
        {
            Description = "auto (live on a terminal, plain lines otherwise), live, plain or off.",
            DefaultValueFactory = _ => "auto",
        };

        public Command Command()
        {
            var command = new Command("load", "Run a load: many tasks looping over the protocol's operations for a duration, every invariant checked.")
            {
                Spec, Files, Pages, Tasks, Duration, Warmup, Think, Rate, Runtime, Nodes, Seed, Variant, Report, Html, Progress,
            };
            return command;
        }
    }

    private int Load(ParseResult parsed, LoadOptions o)
    {
        var specPath = parsed.GetValue(o.Spec);
        var spec = specPath is not null ? LoadSpecLoader.LoadFile(specPath) : null;
        if (spec is not null)
        {
            foreach (var (option, name) in new (Option, string)[] { (o.Tasks, "--tasks"), (o.Think, "--think"), (o.Rate, "--rate") })
            {
                if (parsed.GetResult(option) is not null)
                {
                    throw new InputException($"{name} cannot be combined with a spec file: its \"tasks\" say which tasks run and how they are paced");
                }
            }
        }
        var files = Checked(parsed.GetValue(o.Files), "--files", 1, LoadSpecLoader.MaxFiles);
        var pages = Checked(parsed.GetValue(o.Pages), "--pages", 1, ScenarioLoader.MaxFilePages);
        var tasks = Checked(parsed.GetValue(o.Tasks), "--tasks", 1, LoadSpecLoader.MaxTasks);
        var duration = DurationFlag(parsed.GetValue(o.Duration), "--duration", positive: true);
        var warmup = DurationFlag(parsed.GetValue(o.Warmup), "--warmup", positive: false);
        var think = DurationFlag(parsed.GetValue(o.Think), "--think", positive: false);
        var rate = parsed.GetValue(o.Rate);
        if (rate is { } r && !(r > 0 && r <= 1_000_000))
        {
            throw new InputException($"--rate must be above 0 and at most 1,000,000 operations per second, not {r}");
        }
        if (rate is not null && think is not null)
        {
            throw new InputException("--think and --rate: a task has a think time or a rate, not both");
        }
        spec ??= new LoadSpec("flags", null, DefaultLoadFiles, DefaultLoadPages, null,
            LoadSpec.MixOf(tasks ?? DefaultLoadTasks, think ?? LoadSpec.DefaultThink, rate, pages ?? DefaultLoadPages),
            DefaultLoadDuration, null,
            null, null, null, LoadSpec.DefaultOpBound, LoadSpec.DefaultLeaseBreakTime);
        spec = spec with
        {
            Files = files ?? spec.Files,
            PagesPerFile = pages ?? spec.PagesPerFile,
            Duration = duration ?? spec.Duration,
            Warmup = warmup ?? spec.Warmup,
        };
        CheckLoadSpec(spec);
        var runtimeKind = Runtimes.Parse(parsed.GetValue(o.Runtime) ?? spec.Runtime ?? LoadSpec.DefaultRuntime);
        var progressMode = parsed.GetValue(o.Progress)!;
        CheckChoice("--progress", progressMode, ["auto", "live", "plain", "off"]);
        var variantFlag = parsed.GetValue(o.Variant);
        Variant variant;
        if (variantFlag is null)
        {
            variant = spec.Variant ?? Variant.Mainline;
        }
        else if (!Variants.TryParse(variantFlag, out variant, out var error))
        {
            throw new InputException($"--variant: {error}");
        }
        var reportPath = parsed.GetValue(o.Report);
        var htmlPath = parsed.GetValue(o.Html);
        CheckWritable(reportPath, "--report");
        CheckWritable(htmlPath, "--html");
        var nodes = Checked(parsed.GetValue(o.Nodes), "--nodes", 1, Cluster.ClusterRunOptions.MaxNodes);
        if (nodes is not null && runtimeKind != RuntimeKind.Cluster)
        {
            throw new InputException($"--nodes is for --runtime cluster, not {runtimeKind.Name()}");
        }
        var runtime = Runtimes.For(runtimeKind, new Cluster.ClusterRunOptions { Nodes = nodes ?? 3 });
        var seed = parsed.GetValue(o.Seed) ?? spec.Seed ?? 1;
        var plan = new LoadPlan(spec, seed, variant, runtime);

        stdout.WriteLine(specPath is null ? "daxsim load (from the flags)" : $"daxsim load {spec.Name}  ({spec.Source})");
        stdout.WriteLine($"  seed {seed}, runtime {runtime.Name}, variant {variant.Name()}");
        stdout.WriteLine($"  {spec.Files:N0} file(s) x {spec.PagesPerFile:N0} pages = {spec.TotalPages:N0} pages; {spec.TaskCount:N0} task(s): " +
                         string.Join(", ", spec.Tasks.Select(t => $"{t.Count} {t.Kind.JsonName()}")));
        stdout.WriteLine($"  duration {Durations.Format(spec.Duration)} ({(runtime.VirtualTime ? "simulated" : "wall-clock")}), " +
                         $"warm-up {Durations.Format(plan.Warmup)}");
        stdout.WriteLine($"  again: {LoadCommandLine(plan, specPath)}");

        var live = progressMode == "live" || (progressMode == "auto" && LoadProgress.Interactive(stdout));
        LoadProgress? progress = progressMode == "off" ? null
            : live ? new LiveProgress(AnsiConsole.Console, runtime.VirtualTime)
            : new PlainProgress(stderr, runtime.VirtualTime);
        var result = progress is null
            ? LoadEngine.Run(plan)
            : progress.Around(() => LoadEngine.Run(plan, progress.Update, progress.Interval));

        LoadReport.PrintSummary(stdout, result);
        var run = result.Run;
        if (run.Violation is { } v)
        {
            PrintViolation(v, run);
        }
        stdout.WriteLine($"verdict: {run.Verdict.JsonName()}");
        if (run.Host?.Inconclusive is { } why)
        {
            stdout.WriteLine($"  inconclusive: {why}");
        }
        if (reportPath is not null)
        {
            Report.Write(reportPath, LoadReport.ToJson(result));
            stdout.WriteLine($"  report: {reportPath}");
        }
        if (htmlPath is not null)
        {
            Report.WriteText(htmlPath, LoadHtml.Render(result));
            stdout.WriteLine($"  html: {htmlPath}");
        }
        return run.Verdict.ExitCode();
    }

    private static string LoadCommandLine(LoadPlan plan, string? specPath)
    {
        var spec = plan.Spec;
        var args = specPath is not null
            ? $"daxsim load {specPath} --files {spec.Files} --pages {spec.PagesPerFile}"
            : $"daxsim load --files {spec.Files} --pages {spec.PagesPerFile} --tasks {spec.TaskCount}" +
              (spec.Tasks[0].Rate is { } r ? $" --rate {r / spec.Tasks[0].Count}" : $" --think {Durations.Format(spec.Tasks[0].Think)}");
        return args + $" --duration {Durations.Format(spec.Duration)} --warmup {Durations.Format(plan.Warmup)} " +
               $"--runtime {plan.Runtime.Name}{(plan.Runtime is Cluster.ClusterRuntime c ? $" --nodes {c.Options.Nodes}" : "")} " +
               $"--seed {plan.Seed} --variant {plan.Variant.Name()}";
    }

    private static int? Checked(int? value, string flag, int min, int max)
    {
        if (value is { } v && (v < min || v > max))
        {
            throw new InputException($"{flag} must be from {min:N0} to {max:N0}, not {v}");
        }
        return value;
    }

    private static TimeSpan? DurationFlag(string? text, string flag, bool positive)
    {
        if (text is null)
        {
            return null;
        }
        if (!Durations.TryParse(text, out var value, out var error))
        {
            throw new InputException($"{flag}: {error}");
        }
        if (positive && value <= TimeSpan.Zero)
        {
            throw new InputException($"{flag} must be longer than 0");
        }
        return value;
    }

    // What flags can break in a spec that was valid on its own.
    private static void CheckLoadSpec(LoadSpec spec)
    {
        if (spec.TotalPages > ScenarioLoader.MaxBlocks)
        {
            throw new InputException($"{spec.Files:N0} files of {spec.PagesPerFile:N0} pages are {spec.TotalPages:N0} pages, " +
                                     $"more than the largest device ({ScenarioLoader.MaxBlocks:N0} blocks) holds");
        }
        if (spec.DeviceBlocks is { } blocks && blocks < spec.TotalPages)
        {
            throw new InputException($"the spec's device has {blocks:N0} blocks, fewer than the {spec.TotalPages:N0} pages of " +
                                     $"{spec.Files:N0} files of {spec.PagesPerFile:N0} pages");
        }
        if (spec.Warmup is { } w && w >= spec.Duration)
        {
            throw new InputException($"the warm-up ({Durations.Format(w)}) must be shorter than the duration ({Durations.Format(spec.Duration)})");
        }
        if (spec.Tasks.FirstOrDefault(t => t.Pages > spec.PagesPerFile) is { } big)
        {
            throw new InputException($"{big.Kind.JsonName()} tasks work on {big.Pages} pages, more than a file's {spec.PagesPerFile}");
        }
    }
}
