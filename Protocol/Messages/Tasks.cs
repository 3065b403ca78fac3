namespace DaxSim.Protocol.Messages;

// Task life cycle and the faults a scenario injects into tasks.

/// <summary>Root → Task: run your steps.</summary>
public sealed record StartTask(TaskId Task) : ITaskMessage;

/// <summary>Task → Root: all steps ran (Killed = the task was killed first).</summary>
public sealed record TaskFinished(TaskId Task, bool Killed);

/// <summary>
/// Fault injector → Task: a signal. An interruptible wait in progress ends with
/// -ERESTARTSYS; otherwise the signal stays pending until the current operation returns, and
/// any interruptible wait the operation starts meanwhile fails at once. Restart: the handler
/// has SA_RESTART, so an interrupted layout change restarts instead of returning EINTR.
/// </summary>
public sealed record Signal(TaskId Task, bool Restart = false) : ITaskMessage;

/// <summary>Fault injector → Task: the task's next kernel allocation that may fail does (failslab).</summary>
public sealed record FailAllocation(TaskId Task) : ITaskMessage;

/// <summary>
/// Fault injector → Task: kill the task (SIGKILL goes to every thread of its process). It
/// stops at its next killable point and, as exit does, releases its pins, locks, lock
/// requests, waits and leases; I/O in flight completes first; the process's mappings go
/// with its last thread.
/// </summary>
public sealed record Kill(TaskId Task) : ITaskMessage;
