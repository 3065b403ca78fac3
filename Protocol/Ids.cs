namespace DaxSim.Protocol;

// Entity ids. They are small integers assigned from the scenario (files and tasks in
// declaration order, pages by device block number), so the same scenario gives the same
// ids in every process and the actors can be addressed, or sharded, by id alone.

/// <summary>A file (an inode and its address space).</summary>
public readonly record struct FileId(int Value) : IComparable<FileId>
{
    public int CompareTo(FileId other) => Value.CompareTo(other.Value);

    public override string ToString() => $"file-{Value}";
}

/// <summary>A device page. On a DAX device a page is a block: page n is block n.</summary>
public readonly record struct PageId(int Value) : IComparable<PageId>
{
    public int CompareTo(PageId other) => Value.CompareTo(other.Value);

    public override string ToString() => $"page-{Value}";
}

/// <summary>A user thread running a scenario task.</summary>
public readonly record struct TaskId(int Value) : IComparable<TaskId>
{
    public int CompareTo(TaskId other) => Value.CompareTo(other.Value);

    public override string ToString() => $"task-{Value}";
}

/// <summary>
/// An address space (struct mm_struct): one per process. The threads of a process (tasks
/// that name the same process) share it: one mapping of each file and one set of PTEs.
/// </summary>
public readonly record struct MmId(int Value) : IComparable<MmId>
{
    public int CompareTo(MmId other) => Value.CompareTo(other.Value);

    public override string ToString() => $"mm-{Value}";
}

/// <summary>An inclusive range of page indices within a file, "a-b" in scenario files.</summary>
public readonly record struct PageRange(int First, int Last)
{
    public int Count => Last - First + 1;

    public bool Contains(int index) => index >= First && index <= Last;

    public bool Overlaps(int first, int last) => First <= last && first <= Last;

    public override string ToString() => First == Last ? $"{First}" : $"{First}-{Last}";
}
