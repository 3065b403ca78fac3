namespace DaxSim.Protocol;

/// <summary>
/// The result of an operation, named as the kernel would return it. Reports print the
/// lower-case "ok" for success and the upper-case name otherwise.
/// </summary>
public enum Errno
{
    Ok = 0,
    /// <summary>An interruptible wait saw a signal: -ERESTARTSYS, which user space sees as EINTR when the handler has no SA_RESTART.</summary>
    EINTR,
    /// <summary>get_user_pages could not fault a page of the buffer in.</summary>
    EFAULT,
    /// <summary>A range the operation cannot apply to (collapse past EOF, for example).</summary>
    EINVAL,
    /// <summary>The device has no free block left.</summary>
    ENOSPC,
    /// <summary>A fault beyond the end of the file.</summary>
    SIGBUS,
    /// <summary>A non-blocking lease break found a lease holder.</summary>
    EWOULDBLOCK,
    /// <summary>A layout lease could not be taken while a break is in progress.</summary>
    EAGAIN,
    /// <summary>The task was killed before the operation finished.</summary>
    KILLED,
    /// <summary>A kernel allocation failed (an injected enomem fault: the lease break's lease_alloc).</summary>
    ENOMEM,
    /// <summary>The file system does not do this (a layout lease where only XFS grants them).</summary>
    EOPNOTSUPP,
}

public static class ErrnoNames
{
    public static string Name(this Errno e) => e == Errno.Ok ? "ok" : e.ToString();
}
