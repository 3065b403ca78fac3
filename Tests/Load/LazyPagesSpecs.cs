using DaxSim.Actors;
using DaxSim.Host.Checking;
using DaxSim.Host.Deterministic;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Load;
using DaxSim.Protocol.Scenarios;
using Xunit;

namespace DaxSim.Tests.Load;

/// <summary>
/// Lazy pages (load runs): page actors made on first use and stopped when idle must keep
/// every page's state. Run with no idle page actor kept at all, so that every page is
/// stopped as soon as it is idle and made again at its next message: the checker compares
/// each refcount a page reports with its own count (a mismatch fails the run), and the
/// verdicts must be those of the eager runs.
/// </summary>
public sealed class LazyPagesSpecs
{
    private static RunSettings Lazy(ulong seed, Variant? variant = null) => new()
    {
        Seed = seed, Variant = variant ?? Variant.Mainline, LazyPages = true, IdlePageActors = 0, RecordOps = false, RecordSchedule = false,
    };

    public static IEnumerable<object[]> Shipped() =>
        Support.Scenarios.ShippedFiles().Select(f => new object[] { Path.GetFileNameWithoutExtension(f) });

    [Theory]
    [MemberData(nameof(Shipped))]
    public void Shipped_scenarios_must_stay_clean_with_pages_stopped_whenever_idle(string name)
    {
        var scenario = Support.Scenarios.Shipped(name);
        using var runtime = new DeterministicRuntime();
        for (ulong seed = 1; seed <= 40; seed++)
        {
            var lazy = runtime.Run(scenario, Lazy(seed));
            Assert.True(lazy.Verdict == Verdict.Clean, $"{name} seed {seed}: {lazy.Violation?.Description}");
            Assert.Equal(scenario.OperationCount, lazy.OpsCompleted);
        }
    }

    [Theory]
    [InlineData("generic-503-punch", "no-break")]
    [InlineData("dio-vs-zero", "hold-mmaplock")]
    [InlineData("signal-long-pin", "wrong-wake-key")]
    public void Broken_variants_must_still_be_caught_with_lazy_pages(string name, string variantName)
    {
        var variant = Variants.Parse(variantName);
        var scenario = Support.Scenarios.Shipped(name);
        using var runtime = new DeterministicRuntime();
        var caught = Enumerable.Range(1, 200).Select(s => runtime.Run(scenario, Lazy((ulong)s, variant)))
            .FirstOrDefault(r => r.Verdict != Verdict.Clean);
        Assert.NotNull(caught);
    }

    [Fact]
    public void A_load_must_stay_clean_when_every_idle_page_is_stopped()
    {
        var spec = LoadSpecLoader.LoadFile(Path.Combine(Support.Scenarios.Directory, "load", "truncate-heavy.json"))
            with { Duration = TimeSpan.FromMilliseconds(100), Warmup = TimeSpan.Zero };
        var scenario = LoadScenario.Build(spec, 3, Variant.Mainline);
        using var runtime = new DeterministicRuntime();

        var result = runtime.Run(scenario, Lazy(3));

        Assert.True(result.Verdict == Verdict.Clean, result.Violation?.Description);
        Assert.True(result.OpsCompleted > 1000, $"only {result.OpsCompleted} operations");
    }

    [Fact]
    public void The_checker_must_need_no_object_per_untouched_page()
    {
        // A million pages in 100 files: the checker keeps arrays per page, nothing more.
        var spec = new LoadSpec("big", null, 100, 10_000, null, LoadSpec.MixOf(10, TimeSpan.FromMilliseconds(1), null),
            TimeSpan.FromSeconds(1), null, null, null, null, LoadSpec.DefaultOpBound, LoadSpec.DefaultLeaseBreakTime);
        var scenario = LoadScenario.Build(spec, 1, Variant.Mainline);
        GC.Collect();

        var before = GC.GetAllocatedBytesForCurrentThread();
        var checker = new InvariantChecker(scenario, ProtocolPolicy.Mainline, () => 0, recordOps: false);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        GC.KeepAlive(checker);
        var perBlock = allocated / (double)scenario.Device.Blocks;
        Assert.True(perBlock < 64, $"the checker allocated {perBlock:F1} bytes per device block");
    }
}
