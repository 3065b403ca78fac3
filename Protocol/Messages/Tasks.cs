namespace DaxSim.Protocol.Messages;

// Task life cycle and the faults a scenario injects into tasks.

/// <summary>Root → Task: run your steps.</summary>
public sealed record StartTask(TaskId Task) : ITaskMessage;

/// <summary>Task → Root: all steps ran (Killed = the task was killed first).</summary>
public sealed record TaskFinished(TaskId Task, bool Killed);

/// <summary>
/// Fault injector → Task: a signal. An interruptible wait in progress ends with EINTR;
/// otherwise the signal stays pending until the current operation returns, and any
/// interruptible wait the operation starts meanwhile fails at once.
/// </summary>
public sealed record Signal(TaskId Task) : ITaskMessage;

/// <summary>
/// Fault injector → Task: kill the task. It stops where it is and, as process exit
/// does, releases its pins, mappings, locks, lock requests, waits and leases.
/// </summary>
public sealed record Kill(TaskId Task) : ITaskMessage;
