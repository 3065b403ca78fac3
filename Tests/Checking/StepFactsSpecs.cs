using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using DaxSim.Tests.Support;
using Xunit;

namespace DaxSim.Tests.Checking;

/// <summary>What each step costs and locks: the one answer the checker, the live judge and fault injection share.</summary>
public sealed class StepFactsSpecs
{
    private static readonly Scenario Scenario = Scenarios.Parse("""
        [ { "name": "a", "steps": [ { "op": "fsync", "file": "dax", "ioTime": "1ms" } ] } ]
        """, pages: 5);

    private static readonly FileId Dax = Scenarios.Dax, Src = Scenarios.Src;

    public static TheoryData<Step, long, bool, FileId[], FileId?> Steps => new()
    {
        { new DioReadStep(1, Src, Dax, new PageRange(0, 1), TimeSpan.FromMilliseconds(3)), 30_000, true, [Src, Dax], Dax },
        { new DioWriteStep(1, Src, Dax, new PageRange(0, 1), TimeSpan.FromMilliseconds(3)), 30_000, true, [Dax, Src], Src },
        { new FsyncStep(1, Dax, TimeSpan.FromMilliseconds(1)), 50_000, true, [], null },
        { new SleepStep(1, TimeSpan.FromMilliseconds(2)), 20_000, true, [], null },
        { new HoldLeaseStep(1, Dax, TimeSpan.FromMilliseconds(4)), 40_000, true, [Dax], null },
        { new TruncateStep(1, Dax, 0), 0, true, [Dax], null },
        { new FallocateStep(1, OpKind.PunchHole, Dax, new PageRange(0, 1)), 0, true, [Dax], null },
        { new MmapStep(1, Dax, new PageRange(0, 1)), 0, true, [Dax], null },
        { new MunmapStep(1, Dax), 0, true, [Dax], null },
        { new TouchStep(1, Dax, new PageRange(0, 1)), 0, true, [Dax], null },
        { new PaceStep(1, new Pacing(PacingMode.Rate, TimeSpan.FromMilliseconds(1), Exponential: true, 7)), 100_000, false, [], null },
        { new PaceStep(1, new Pacing(PacingMode.Think, TimeSpan.FromMilliseconds(1), Exponential: false, 7)), 10_000, false, [], null },
    };

    [Theory]
    [MemberData(nameof(Steps))]
    public void Every_step_kind_must_have_its_own_time_bound_locked_files_and_pinned_file(Step step, long ownTicks, bool bounded,
        FileId[] locked, FileId? pinned)
    {
        Assert.Equal(ownTicks, step.OwnTime(Scenario).Ticks);
        Assert.Equal(bounded, step.Bounded());
        Assert.Equal(locked, step.LockedFiles());
        // A read pins the mapping it reads into; a write the one it writes from (here src).
        Assert.Equal(pinned, step.PinnedFile());
    }
}
