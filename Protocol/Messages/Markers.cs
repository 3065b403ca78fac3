namespace DaxSim.Protocol.Messages;

// Marker interfaces by recipient. A runtime routes on them: every message to an entity
// carries that entity's id, so the same message reaches a local child actor or, in a
// cluster, the shard that hosts the entity.

/// <summary>A message for a file's InodeActor.</summary>
public interface IInodeMessage
{
    FileId File { get; }
}

/// <summary>A message for a file's MappingActor.</summary>
public interface IMappingMessage
{
    FileId File { get; }
}

/// <summary>A message for a device page's PageActor.</summary>
public interface IPageMessage
{
    PageId Page { get; }
}

/// <summary>A message for a TaskActor.</summary>
public interface ITaskMessage
{
    TaskId Task { get; }
}

/// <summary>A message for the DeviceActor.</summary>
public interface IDeviceMessage;

/// <summary>
/// A reply that answers a task's request. <c>Seq</c> echoes the request's sequence number:
/// a task waits for one sequence number at a time and drops replies it no longer waits for
/// (for example the wake of a wait that a signal already ended).
/// </summary>
public interface IReply
{
    long Seq { get; }
}
