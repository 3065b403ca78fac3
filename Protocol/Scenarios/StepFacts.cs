namespace DaxSim.Protocol.Scenarios;

// What a step costs and which locks it takes, declared once beside the step model: the
// checker's L3 bound, the live judge's stall time and fault injection's expected span all
// ask here. A new step kind adds its record and its line in each switch below (each throws
// on a kind it does not know, so a forgotten line fails the first run that uses the step).

/// <summary>The facts of one scenario step that the runtimes and the checker need.</summary>
public static class StepFacts
{
    /// <summary>
    /// The step's own I/O or sleep time: what the task spends on its own work, which no other
    /// task can shorten. An O_DIRECT read or write: its I/O time. A sleep or a lease hold: its
    /// length (a random sleep: its longest). fsync: its write-back time per entry for each page
    /// of the file (dax_writeback_mapping_range may flush every one). A pace step (a load task's
    /// wait for its next operation's turn): its longest interval, ten times the mean for
    /// exponential draws (longer draws are rare enough not to count), else the mean. Every
    /// other step is a layout or mapping change with no timed work of its own: zero.
    /// </summary>
    public static TimeSpan OwnTime(this Step step, Scenario scenario) => step switch
    {
        DioReadStep s => s.IoTime,
        DioWriteStep s => s.IoTime,
        SleepStep s => s.For,
        HoldLeaseStep s => s.For,
        FsyncStep s => s.IoTime * scenario.File(s.File).Pages,
        PaceStep s => s.Pacing.Exponential ? 10 * s.Pacing.Mean : s.Pacing.Mean,
        MmapStep or MunmapStep or TouchStep or TruncateStep or FallocateStep => TimeSpan.Zero,
        _ => throw Unknown(step),
    };

    /// <summary>
    /// Whether L3 holds the step to limits.opBound. A pace step is not: it is the load's think
    /// time, or its wait for the next due time, not work that can starve (a long exponential
    /// draw or a low rate is no finding). Every scenario step is.
    /// </summary>
    public static bool Bounded(this Step step) => step is not PaceStep;

    /// <summary>
    /// The files whose IOLOCK or MMAPLOCK the step takes: an O_DIRECT transfer locks both its
    /// files (the one it reads or writes and the one its buffer maps); fsync takes no inode
    /// lock (it locks DAX entries); a sleep or pace step none; every other step its target.
    /// </summary>
    public static IReadOnlyList<FileId> LockedFiles(this Step step) => step switch
    {
        DioReadStep s => [s.From, s.Into],
        DioWriteStep s => [s.To, s.From],
        FsyncStep or SleepStep or PaceStep => [],
        MmapStep or MunmapStep or TouchStep or TruncateStep or FallocateStep or HoldLeaseStep => [step.Target!.Value],
        _ => throw Unknown(step),
    };

    /// <summary>
    /// The DAX file whose pages the step pins, if any: an O_DIRECT read pins the pages of the
    /// mapping it reads into, a write those of the mapping it writes from (get_user_pages
    /// on the buffer). No other step takes a page reference that outlives it.
    /// </summary>
    public static FileId? PinnedFile(this Step step) => step switch
    {
        DioReadStep s => s.Into,
        DioWriteStep s => s.From,
        SleepStep or PaceStep or HoldLeaseStep or FsyncStep or MmapStep or MunmapStep or TouchStep or TruncateStep
            or FallocateStep => null,
        _ => throw Unknown(step),
    };

    private static ArgumentException Unknown(Step step) =>
        new($"no step facts for {step.GetType().Name}: add them in StepFacts", nameof(step));
}
