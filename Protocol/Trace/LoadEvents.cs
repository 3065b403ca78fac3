namespace DaxSim.Protocol.Trace;

// Events of load runs only.

/// <summary>
/// A rate-paced task (a load task with arrivals at a rate) is about to start the operation
/// that was due <c>Late</c> ticks ago: it was still busy with the previous one when this one
/// was due, or its timer fired late. Latency is counted from when the operation was due, not
/// from when it started, so that a slow system is not hidden by the task starting later
/// (coordinated omission).
/// </summary>
public sealed record Paced(TaskId Task, long Late) : TraceEvent;
