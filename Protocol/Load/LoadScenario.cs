using DaxSim.Protocol.Scenarios;

namespace DaxSim.Protocol.Load;

/// <summary>
/// Turns a load spec into the scenario the runtimes run. Each DAX file "dax-i" has a plain
/// file "src-i" for its direct I/O to read from and write to. Every task is bound to one
/// file and one range, drawn from the seed, and loops over its operations with a pacing
/// step in front of them until the root says the duration is over (Scenario.StopAt);
/// steps that only set up (a DIO task's mmap) run once (TaskSpec.LoopFrom).
/// </summary>
public static class LoadScenario
{
    /// <summary>Signals drawn for a load are at most this many (a rate times the duration).</summary>
    public const int MaxSignals = 1_000_000;

    /// <param name="minInterval">
    /// The shortest pacing interval. On a runtime with simulated time it must be above 0: a
    /// task whose operations take no simulated time and that never waits would loop at one
    /// instant forever, and time (and with it the end of the load) would never come.
    /// </param>
    public static Scenario Build(LoadSpec spec, ulong seed, Variant variant, TimeSpan minInterval = default)
    {
        var files = new List<FileSpec>();
        for (var i = 0; i < spec.Files; i++)
        {
            files.Add(new FileSpec(new FileId(files.Count), $"dax-{i}", Dax: true, spec.PagesPerFile));
            files.Add(new FileSpec(new FileId(files.Count), $"src-{i}", Dax: false, spec.PagesPerFile));
        }
        var rng = new SplitMix64(seed ^ 0x6C6F6164UL); // "load": a stream apart from the scheduler's
        var tasks = new List<TaskSpec>();
        for (var g = 0; g < spec.Tasks.Count; g++)
        {
            var group = spec.Tasks[g];
            var interval = group.Interval < minInterval ? minInterval : group.Interval;
            var pacing = new Pacing(group.Rate is null ? PacingMode.Think : PacingMode.Rate, interval,
                group.Exponential, seed);
            for (var j = 0; j < group.Count; j++)
            {
                var f = (int)rng.Below((ulong)spec.Files);
                var dax = new FileId(2 * f);
                var src = new FileId(2 * f + 1);
                var span = Math.Min(group.Pages, spec.PagesPerFile);
                var first = (int)rng.Below((ulong)(spec.PagesPerFile - span + 1));
                var range = new PageRange(first, first + span - 1);
                var pace = new PaceStep(1, pacing);
                var (steps, loopFrom) = Steps(group, spec.PagesPerFile, dax, src, range, pace);
                tasks.Add(new TaskSpec(new TaskId(tasks.Count), $"{group.Kind.JsonName()}-{j}", int.MaxValue, null,
                    steps) { LoopFrom = loopFrom });
            }
        }
        var faults = new List<FaultSpec>();
        if (spec.Signals is { } signals && tasks.Count > 0)
        {
            // Poisson arrivals over the duration, each to a uniformly drawn task.
            var mean = TimeSpan.TicksPerSecond / signals.Rate;
            var at = 0.0;
            while (faults.Count < MaxSignals)
            {
                at += -Math.Log(1 - rng.NextDouble()) * mean;
                if (at >= spec.Duration.Ticks)
                {
                    break;
                }
                faults.Add(new SignalFault(TimeSpan.FromTicks((long)at), new TaskId((int)rng.Below((ulong)tasks.Count))));
            }
        }
        var daxPages = spec.TotalPages;
        var blocks = spec.DeviceBlocks ?? (int)Math.Min(ScenarioLoader.MaxBlocks, daxPages + Math.Max(64, daxPages / 8));
        // The run must end by the duration plus the time to finish the operations under way:
        // the longest a single one may take before L3 calls it late.
        var longest = spec.Tasks.Select(t => t.IoTime + t.Hold).Append(TimeSpan.Zero).Max();
        var grace = spec.OpBound + longest + spec.LeaseBreakTime + TimeSpan.FromSeconds(1);
        var limits = new Limits(spec.Duration + grace, spec.OpBound, spec.LeaseBreakTime, long.MaxValue / 4);
        return new Scenario(spec.Name, variant, new DeviceSpec(blocks), files, tasks, faults, limits, Verdict.Clean)
        {
            Source = spec.Source,
            StopAt = spec.Duration,
            Load = spec,
        };
    }

    private static (List<Step> Steps, int LoopFrom) Steps(LoadTaskGroup group, int filePages, FileId dax, FileId src,
        PageRange range, PaceStep pace)
    {
        switch (group.Kind)
        {
            case LoadTaskKind.DioReader:
                return ([new MmapStep(1, dax, range), pace, new DioReadStep(1, src, dax, range, group.IoTime)], 1);
            case LoadTaskKind.DioWriter:
                return ([new MmapStep(1, dax, range), pace, new DioWriteStep(1, dax, src, range, group.IoTime)], 1);
            case LoadTaskKind.FaultingReader:
                return ([pace, new MmapStep(1, dax, range), new TouchStep(1, dax, range), new MunmapStep(1, dax)], 0);
            case LoadTaskKind.Truncator:
                var keep = filePages - range.Count;
                return ([pace, new TruncateStep(1, dax, keep),
                    new FallocateStep(1, OpKind.Fallocate, dax, new PageRange(keep, filePages - 1))], 0);
            case LoadTaskKind.HolePuncher:
                return ([pace, new FallocateStep(1, OpKind.PunchHole, dax, range),
                    new FallocateStep(1, OpKind.Fallocate, dax, range)], 0);
            case LoadTaskKind.LeaseHolder:
                return ([pace, new HoldLeaseStep(1, dax, group.Hold)], 0);
            default:
                throw new InvalidOperationException($"no steps for {group.Kind}");
        }
    }

    /// <summary>SplitMix64: a small seeded generator whose sequence does not depend on the .NET version.</summary>
    private struct SplitMix64(ulong seed)
    {
        private ulong _state = seed;

        public ulong Next()
        {
            var z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        public ulong Below(ulong n) => n <= 1 ? 0 : Next() % n;

        public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));
    }
}
