namespace DaxSim.Protocol.Scenarios;

// The scenario model: what a scenario file says, resolved and validated by
// ScenarioLoader. Files and tasks are referred to by id (their position in the file);
// their names are kept for reports. Durations are TimeSpans: the simulator's clock has
// the 100 ns resolution of a TimeSpan tick.

public sealed record Scenario(
    string Name,
    Variant? Variant,
    DeviceSpec Device,
    IReadOnlyList<FileSpec> Files,
    IReadOnlyList<TaskSpec> Tasks,
    IReadOnlyList<FaultSpec> Faults,
    Limits Limits,
    Verdict Expect)
{
    /// <summary>The processes the scenario declares ("processes"), in order; tasks that name none are not in them.</summary>
    public IReadOnlyList<ProcessSpec> DeclaredProcesses { get; init; } = [];

    // Derived from Tasks and DeclaredProcesses, and recomputed when a copy (`with`) changed
    // either. A class, so that threads that share the scenario publish it whole.
    private sealed record ProcessTableCache(IReadOnlyList<TaskSpec> Tasks, IReadOnlyList<ProcessSpec> Declared,
        IReadOnlyList<ProcessSpec> All, MmId[] MmOf);

    private ProcessTableCache? _processes;

    /// <summary>
    /// The processes: those the scenario declares, then one for each task that names none (a
    /// single-threaded process of the task's own name). Every task is a thread of exactly one.
    /// </summary>
    public IReadOnlyList<ProcessSpec> Processes => ProcessTable().All;

    public ProcessSpec Process(MmId id) => Processes[id.Value];

    /// <summary>The address space a task runs in.</summary>
    public MmId MmOf(TaskId task) => ProcessTable().MmOf[task.Value];

    private ProcessTableCache ProcessTable()
    {
        if (_processes is { } t && ReferenceEquals(t.Tasks, Tasks) && ReferenceEquals(t.Declared, DeclaredProcesses))
        {
            return t;
        }
        var all = ProcessSpec.WithImplicit(Tasks, DeclaredProcesses);
        var mmOf = new MmId[Tasks.Count];
        foreach (var p in all)
        {
            foreach (var thread in p.Threads)
            {
                mmOf[thread.Value] = p.Id;
            }
        }
        var table = new ProcessTableCache(Tasks, DeclaredProcesses, all, mmOf);
        _processes = table;
        return table;
    }

    /// <summary>
    /// The cluster node a task runs on, of <paramref name="nodes"/>: the threads of a process
    /// run together, on the node one of them names, else on the node its first thread's number
    /// gives (task number mod nodes).
    /// </summary>
    public int NodeOf(TaskId task, int nodes)
    {
        var process = ProcessOf(task);
        foreach (var thread in process.Threads)
        {
            if (Tasks[thread.Value].Node is { } node)
            {
                return node;
            }
        }
        return process.Threads[0].Value % nodes;
    }

    /// <summary>The process a task is a thread of.</summary>
    public ProcessSpec ProcessOf(TaskId task) => Processes[MmOf(task).Value];

    /// <summary>Where the scenario was read from, for messages; "(embedded)" for built-ins.</summary>
    public string Source { get; init; } = "(memory)";

    /// <summary>The exact text the scenario was parsed from, so a trace can carry it for replay.</summary>
    public string? Text { get; init; }

    public FileSpec File(FileId id) => Files[id.Value];

    public TaskSpec Task(TaskId id) => Tasks[id.Value];

    public string FileName(FileId id) => Files[id.Value].Name;

    public string TaskName(TaskId id) => Tasks[id.Value].Name;

    /// <summary>
    /// A load run's end (`daxsim load`): at this time the root tells every task to stop after
    /// its current operation. Null for a scenario, which ends when its tasks have run their steps.
    /// </summary>
    public TimeSpan? StopAt { get; init; }

    /// <summary>
    /// The load spec a load run's scenario was built from (LoadScenario.Build), null for a
    /// scenario file: a load's tasks loop, which a scenario file cannot say, so the cluster
    /// runtime sends its members the spec and they build the same scenario from it.
    /// </summary>
    public Load.LoadSpec? Load { get; init; }

    /// <summary>The operations a run completes when every task runs to its end: every step of every iteration.</summary>
    public int OperationCount => Tasks.Sum(t => t.Repeat * t.Steps.Sum(s => s.Repeat));
}

/// <summary>
/// A process: an address space shared by its threads (<c>Threads</c>, tasks in declaration
/// order). <c>Mmaps</c> are mapped before any thread runs, as a program maps its buffers in
/// main() before it starts its threads. Implicit: made for a task that names no process.
/// </summary>
public sealed record ProcessSpec(MmId Id, string Name, IReadOnlyList<TaskId> Threads, IReadOnlyList<ProcessMmap> Mmaps,
    bool Implicit)
{
    /// <summary>The declared processes, then one implicit process for each task not in any of them.</summary>
    public static IReadOnlyList<ProcessSpec> WithImplicit(IReadOnlyList<TaskSpec> tasks, IReadOnlyList<ProcessSpec> declared)
    {
        var all = new List<ProcessSpec>(declared);
        var taken = declared.SelectMany(p => p.Threads).ToHashSet();
        foreach (var t in tasks)
        {
            if (!taken.Contains(t.Id))
            {
                all.Add(new ProcessSpec(new MmId(all.Count), t.Name, [t.Id], [], Implicit: true));
            }
        }
        return all;
    }
}

/// <summary>A mapping a process starts with: mmap(MAP_SHARED) of Pages of File.</summary>
public sealed record ProcessMmap(FileId File, PageRange Pages);

/// <summary>The DAX device: a number of blocks (= pages), free ones reused by any file.</summary>
public sealed record DeviceSpec(int Blocks);

/// <summary>A file; a DAX file's pages are device blocks, a plain file's data lives elsewhere.</summary>
public sealed record FileSpec(FileId Id, string Name, bool Dax, int Pages);

/// <summary>A user thread: its steps run in order, the whole list <c>Repeat</c> times.</summary>
public sealed record TaskSpec(TaskId Id, string Name, int Repeat, int? Node, IReadOnlyList<Step> Steps)
{

    /// <summary>
    /// Where the second and later iterations start: the steps before it run once (a load
    /// task's mmap, for instance). 0 for scenario tasks, which repeat every step.
    /// </summary>
    public int LoopFrom { get; init; }
}

/// <summary>One step of a task. <c>Repeat</c> runs this step that many times in a row.</summary>
public abstract record Step(int Repeat)
{
    public abstract OpKind Op { get; }

    /// <summary>The file whose layout or mapping the step works on.</summary>
    public abstract FileId? Target { get; }
}

public sealed record MmapStep(int Repeat, FileId File, PageRange Pages) : Step(Repeat)
{
    public override OpKind Op => OpKind.Mmap;
    public override FileId? Target => File;
}

public sealed record MunmapStep(int Repeat, FileId File) : Step(Repeat)
{
    public override OpKind Op => OpKind.Munmap;
    public override FileId? Target => File;
}

public sealed record TouchStep(int Repeat, FileId File, PageRange Pages) : Step(Repeat)
{
    public override OpKind Op => OpKind.Touch;
    public override FileId? Target => File;
}

/// <summary>
/// O_DIRECT read of <c>From</c> into the task's mapping of <c>Into</c>. Async: the call
/// returns once the I/O is submitted (AIO, io_uring without fixed buffers); the pins stay
/// until the I/O completes, whatever the task does meanwhile (munmap included).
/// </summary>
public sealed record DioReadStep(int Repeat, FileId From, FileId Into, PageRange Pages, TimeSpan IoTime, bool Async = false)
    : Step(Repeat)
{
    public override OpKind Op => OpKind.DioRead;
    public override FileId? Target => Into;
}

/// <summary>O_DIRECT write to <c>To</c> from the task's mapping of <c>From</c>; Async as for a read.</summary>
public sealed record DioWriteStep(int Repeat, FileId From, FileId To, PageRange Pages, TimeSpan IoTime, bool Async = false)
    : Step(Repeat)
{
    public override OpKind Op => OpKind.DioWrite;
    public override FileId? Target => From;
}

/// <summary>
/// fsync / msync(MS_SYNC) of a DAX file: dax_writeback_mapping_range writes back each dirty
/// DAX entry with the entry locked, for <c>IoTime</c> per entry (the cache flush).
/// </summary>
public sealed record FsyncStep(int Repeat, FileId File, TimeSpan IoTime) : Step(Repeat)
{
    public override OpKind Op => OpKind.Fsync;
    public override FileId? Target => File;
}

/// <summary>Set the size to <c>Size</c> pages.</summary>
public sealed record TruncateStep(int Repeat, FileId File, int Size) : Step(Repeat)
{
    public override OpKind Op => OpKind.Truncate;
    public override FileId? Target => File;
}

/// <summary>punchHole, zeroRange, collapseRange, insertRange and fallocate: a mode and a range.</summary>
public sealed record FallocateStep(int Repeat, OpKind Mode, FileId File, PageRange Pages) : Step(Repeat)
{
    public override OpKind Op => Mode;
    public override FileId? Target => File;
}

public sealed record HoldLeaseStep(int Repeat, FileId File, TimeSpan For) : Step(Repeat)
{
    public override OpKind Op => OpKind.HoldLease;
    public override FileId? Target => File;
}

/// <summary>Think time; Random: a duration drawn from [0, For) each time, as usleep(rand() % n) does, from the run's seed.</summary>
public sealed record SleepStep(int Repeat, TimeSpan For, bool Random = false) : Step(Repeat)
{
    public override OpKind Op => OpKind.Sleep;
    public override FileId? Target => null;
}

/// <summary>A fault to inject. Timed faults fire at <c>At</c> (virtual or elapsed time).</summary>
public abstract record FaultSpec;

/// <summary>A signal to a task. Restart: its handler has SA_RESTART, so an interrupted layout change restarts instead of failing with EINTR.</summary>
public sealed record SignalFault(TimeSpan At, TaskId Task, bool Restart = false) : FaultSpec;

/// <summary>The task's next kernel allocation that may fail does (as failslab would): the lease break's lease_alloc.</summary>
public sealed record EnomemFault(TimeSpan At, TaskId Task) : FaultSpec;

public sealed record KillFault(TimeSpan At, TaskId Task) : FaultSpec;

public sealed record CrashNodeFault(TimeSpan At, int Node) : FaultSpec;

public sealed record PartitionFault(TimeSpan At, IReadOnlyList<IReadOnlyList<int>> Between) : FaultSpec;

public sealed record HealFault(TimeSpan At) : FaultSpec;

public enum MessageFaultKind
{
    Drop,
    Duplicate,
    Delay,
}

/// <summary>Lose, duplicate or delay protocol messages with a probability, optionally in a time window.</summary>
public sealed record MessageFault(MessageFaultKind Kind, double Probability, TimeSpan? Max, TimeSpan? From, TimeSpan? Until)
    : FaultSpec;

/// <summary>
/// Bounds of a run. <c>VirtualTime</c>: the run must finish by then. <c>OpBound</c> (L3):
/// an operation must finish within this time once the pins that blocked it at its start
/// are gone and its own I/O or sleep time has passed. <c>LeaseBreakTime</c>: how long a
/// blocking lease break waits before it revokes the lease (the kernel's lease-break-time).
/// <c>MaxDeliveries</c>: a livelock guard, messages delivered without finishing.
/// </summary>
public sealed record Limits(TimeSpan VirtualTime, TimeSpan OpBound, TimeSpan LeaseBreakTime, long MaxDeliveries)
{
    public static readonly Limits Default = new(
        VirtualTime: TimeSpan.FromSeconds(10),
        OpBound: TimeSpan.FromSeconds(1),
        LeaseBreakTime: TimeSpan.FromSeconds(45),
        MaxDeliveries: 50_000_000);
}
