namespace DaxSim.Protocol.Messages;

// A load run (`daxsim load`) ends by time, not by running out of steps: when its duration
// is over the root tells every task to stop after the operation it is in.

/// <summary>
/// Root → Task: the load's duration is over. The task finishes the operation under way
/// (a system call is never cut short), starts no other, and ends; a pacing sleep in
/// progress ends at once.
/// </summary>
public sealed record StopLoad(TaskId Task) : ITaskMessage;
