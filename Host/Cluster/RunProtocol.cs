using Akka.Actor;
using DaxSim.Actors;
using DaxSim.Protocol.Trace;
using DaxSim.Transport;

namespace DaxSim.Host.Cluster;

// The run protocol between the runner (`daxsim run --runtime cluster`, not a member) and
// each member's agent (/user/agent). docs/cluster.md draws the sequence:
//
//   runner → agent   Hello                    → HelloReply (index, protocol version)
//   runner → agent   GetMembers               → MembersReply (the Up members)
//   runner → agent   Prepare(run, scenario or load spec) → Prepared (the refs of the tasks placed here, the inbox)
//   runner → agent   CountRegions             → RegionCount (regions the coordinator knows)
//   runner → agent   TaskTable(all task refs, every member's inbox) → TableReady
//   member → member  WireBatch (envelopes and acks, NodeLink.cs)
//   runner → agent   StartRun                   (tasks start)
//   agent  → runner  TraceBatch, every 10 ms or 256 events (empty ones are heartbeats),
//                    with the node's message counts so far
//   agent  → runner  MemberReport (unreachable / reachable / removed), NodeGone
//   runner → agent   InjectTaskFault, Blackhole, Unblackhole, CrashSelf
//   runner → agent   EndRun                   → RunEnded
//
// Every message is a record of plain values (and actor refs), serialized by Akka's
// default Newtonsoft serializer across processes. Run ids keep runs apart: in the
// entities' type name, the persistence ids, and every message.

public interface IRunMessage
{
    string RunId { get; }
}

/// <summary>Who are you? Also what a joining member asks the seeds before it joins.</summary>
public sealed record Hello(int ProtocolVersion);

/// <summary>Journal: the member has a journal (--journal), so the run's entities can be persistent.</summary>
public sealed record HelloReply(int Index, int ProtocolVersion, string Address, string Role, bool Journal);

public sealed record GetMembers;

/// <summary>The members that are Up, with their roles.</summary>
public sealed record MembersReply(string[] Up, string[] Roles);

/// <summary>One member of a run: its node index (0 is the first seed) and address.</summary>
public sealed record NodeEntry(int Index, string Address);

public sealed record Prepare(
    string RunId,
    string ScenarioText,
    string Source,
    string Variant,
    ulong Seed,
    int Node,
    NodeEntry[] Nodes,
    int[] Placement,
    IActorRef Runner,
    bool Reliable,
    bool Journaled,
    bool Batched = true,
    string? LoadSpec = null) : IRunMessage;

public sealed record TaskRef(int Task, IActorRef Ref);

/// <summary>
/// Control: the member's NodeRun actor of this run (the Control endpoint of reliable
/// delivery). Inbox: where other members send this one their batches (null: no batching).
/// </summary>
public sealed record Prepared(string RunId, int Node, TaskRef[] Tasks, IActorRef? Control, string? Error,
    IActorRef? Inbox = null) : IRunMessage;

public sealed record CountRegions(string RunId) : IRunMessage;

public sealed record RegionCount(string RunId, int Regions) : IRunMessage;

/// <summary>Every task's ref, and every member's NodeRun and inbox by node index (no inboxes: no batching).</summary>
public sealed record TaskTable(string RunId, TaskRef[] Tasks, IActorRef[] Controls, IActorRef[]? Inboxes = null) : IRunMessage;

public sealed record TableReady(string RunId, int Node) : IRunMessage;

/// <summary>Start the tasks. ZeroStamp: the run's time zero on the shared monotonic clock (for message-fault windows).</summary>
public sealed record StartRun(string RunId, long ZeroStamp) : IRunMessage;

/// <summary>A scenario's timed task fault: Kind is "signal" or "kill".</summary>
public sealed record InjectTaskFault(string RunId, string Kind, int Task) : IRunMessage;

/// <summary>Drop all traffic to and from these members (a partition), until Unblackhole.</summary>
public sealed record Blackhole(string RunId, string[] Addresses) : IRunMessage;

public sealed record Unblackhole(string RunId) : IRunMessage;

public sealed record ThrottleDone(string RunId, int Node) : IRunMessage;

/// <summary>Kill your own process (crashNode on a cluster the runner did not start).</summary>
public sealed record CrashSelf(string RunId) : IRunMessage;

public sealed record EndRun(string RunId) : IRunMessage;

public sealed record RunEnded(string RunId, int Node) : IRunMessage;

/// <summary>
/// Trace events of one node, each stamped with Stopwatch.GetTimestamp() (CLOCK_MONOTONIC,
/// shared by every process on the machine). Stamp: when the batch was sent; the node has
/// nothing earlier left to send. Seq counts the node's batches from 1. Counts: the node's
/// reliable-delivery traffic so far (cumulative; null from a member that does not count).
/// </summary>
public sealed record TraceBatch(string RunId, int Node, long Seq, long Stamp, long[] Stamps, TraceEvent[] Events,
    MessageCounts? Counts = null) : IRunMessage;

/// <summary>What a member saw happen to another: "unreachable", "reachable" or "removed".</summary>
public sealed record MemberReport(string RunId, int Reporter, int Node, string Status, long Stamp) : IRunMessage;

/// <summary>Node was removed from the cluster; its tasks are gone and the entities were told so.</summary>
public sealed record NodeGone(string RunId, int Reporter, int Node, int[] Tasks, long Stamp) : IRunMessage;
