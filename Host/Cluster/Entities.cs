using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Globalization;
using System.Reflection;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using Envelope = DaxSim.Protocol.Messages.Envelope;
using DaxSim.Protocol.Scenarios;

namespace DaxSim.Host.Cluster;

/// <summary>A message for the entity with this id (Endpoint.ToString()): how TaskGone and control messages are addressed.</summary>
public sealed record ToEntity(string EntityId, object Message);

/// <summary>
/// Entity ids of a run and what may be sent to them. Ids are Endpoint.ToString()
/// (`inode-0`, `mapping-0`, `page-3`, `device`); a page beyond the device, a file the
/// scenario does not have, a task id out of range, or a message of the wrong kind for its
/// entity is refused: messages arrive from the network and are checked before they can
/// touch any state.
/// </summary>
public sealed class RunEntities(Scenario scenario)
{
    public Scenario Scenario { get; } = scenario;

    /// <summary>The entity an id names, if the run has it.</summary>
    public Endpoint? Parse(string? id)
    {
        if (id is null || Endpoint.Parse(id) is not { IsEntity: true } e || e.ToString() != id)
        {
            return null;
        }
        var ok = e.Kind switch
        {
            EndpointKind.Inode or EndpointKind.Mapping => e.Id >= 0 && e.Id < Scenario.Files.Count,
            EndpointKind.Page => e.Id >= 0 && e.Id < Scenario.Device.Blocks,
            EndpointKind.Device => e.Id == 0,
            _ => false,
        };
        return ok ? e : null;
    }

    /// <summary>Every entity of the run: inodes, mappings, pages, the device.</summary>
    public IEnumerable<Endpoint> All()
    {
        foreach (var f in Scenario.Files)
        {
            yield return Endpoint.InodeOf(f.Id);
            yield return Endpoint.MappingOf(f.Id);
        }
        for (var p = 0; p < Scenario.Device.Blocks; p++)
        {
            yield return Endpoint.Of(new PageId(p));
        }
        yield return Endpoint.Device;
    }

    /// <summary>The entity a bare protocol message is for, by its marker interface; null for anything else.</summary>
    public static Endpoint? Recipient(object message) => message switch
    {
        IInodeMessage m => Endpoint.InodeOf(m.File),
        IMappingMessage m => Endpoint.MappingOf(m.File),
        IPageMessage m => Endpoint.Of(m.Page),
        IDeviceMessage => Endpoint.Device,
        _ => null,
    };

    /// <summary>Shard of an entity: its number modulo ClusterConfig.Shards (the device is number 0).</summary>
    public static string ShardOf(Endpoint e) => ShardNumber(e).ToString(CultureInfo.InvariantCulture);

    /// <summary>Shard of an entity as a number.</summary>
    public static int ShardNumber(Endpoint e) => e.Id % ClusterConfig.Shards;

    /// <summary>Why the message may not go to this entity, or null when it may.</summary>
    public string? Refuse(Endpoint entity, object message)
    {
        if (message is TaskGone gone)
        {
            return InRange(gone);
        }
        if (Recipient(message) is not { } to)
        {
            return $"{message.GetType().Name} is not a message for an entity";
        }
        if (to != entity)
        {
            return $"{message.GetType().Name} is for {to}, not {entity}";
        }
        return InRange(message);
    }

    /// <summary>
    /// Reliable delivery: only envelopes to this entity (from an endpoint the run has,
    /// carrying a message for this entity, a reply, or TaskGone from a member's control
    /// actor) and acks to it. Why not, or null.
    /// </summary>
    public string? RefuseReliable(Endpoint entity, object message)
    {
        switch (message)
        {
            case Envelope e:
                if (e.To != entity)
                {
                    return $"an envelope for {e.To} reached {entity}";
                }
                if (!Known(e.From) || e.Seq < 1 || e.Payload is null)
                {
                    return $"an envelope from {e.From} with seq {e.Seq} is not from this run";
                }
                return e.Payload switch
                {
                    TaskGone g when e.From.Kind == EndpointKind.Control => InRange(g),
                    TaskGone => $"TaskGone from {e.From}: only a member's control actor says a task is gone",
                    IReply r => InRange(r),
                    _ => Refuse(entity, e.Payload) ?? FromItsTask(e),
                };
            case Ack a:
                return a.To != entity ? $"an ack for {a.To} reached {entity}"
                    : !Known(a.From) ? $"an ack from {a.From} is not from this run"
                    : null;
            default:
                return $"{message.GetType().Name} came bare: a reliable run takes only envelopes and acks";
        }
    }

    /// <summary>
    /// A task's request (a pin, a put, a lock, a wait...) comes from that task: another
    /// endpoint may not put a task's pins or drop its locks. (No entity sends another a
    /// message that names a task.) Why not, or null.
    /// </summary>
    private static string? FromItsTask(Envelope e) =>
        TaskOf(e.Payload) is { } task && e.From != Endpoint.Of(task)
            ? $"{e.Payload.GetType().Name} names {task} but came from {e.From}"
            : null;

    private static readonly ConcurrentDictionary<Type, PropertyInfo?> TaskProperty = new();

    /// <summary>The task a protocol message names (its Task field), if it names one.</summary>
    private static TaskId? TaskOf(object message)
    {
        var p = TaskProperty.GetOrAdd(message.GetType(),
            t => t.GetProperty("Task", BindingFlags.Public | BindingFlags.Instance) is { PropertyType: var pt } q &&
                 pt == typeof(TaskId)
                ? q
                : null);
        return p?.GetValue(message) as TaskId?;
    }

    /// <summary>An endpoint of this run: a task, an entity, or a member's control actor.</summary>
    public bool Known(Endpoint e) => e.Kind switch
    {
        EndpointKind.Task => e.Id >= 0 && e.Id < Scenario.Tasks.Count,
        EndpointKind.Control => e.Id >= 0 && e.Id <= ScenarioLoader.MaxNode,
        _ => Parse(e.ToString()) is not null,
    };

    private static readonly ConcurrentDictionary<Type, PropertyInfo[]> IdProperties = new();

    /// <summary>Every task, file and page id the message carries is one the run has.</summary>
    public string? InRange(object message)
    {
        var properties = IdProperties.GetOrAdd(message.GetType(), t => t
            .GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.PropertyType == typeof(TaskId) || p.PropertyType == typeof(FileId) ||
                        p.PropertyType == typeof(PageId) || p.PropertyType == typeof(PageId?) ||
                        typeof(IEnumerable<PageId>).IsAssignableFrom(p.PropertyType))
            .ToArray());
        foreach (var p in properties)
        {
            switch (p.GetValue(message))
            {
                case TaskId t when t.Value < 0 || t.Value >= Scenario.Tasks.Count:
                    return $"{message.GetType().Name}.{p.Name} names {t}, which the run does not have";
                case FileId f when f.Value < 0 || f.Value >= Scenario.Files.Count:
                    return $"{message.GetType().Name}.{p.Name} names {f}, which the run does not have";
                case PageId g when g.Value < 0 || g.Value >= Scenario.Device.Blocks:
                    return $"{message.GetType().Name}.{p.Name} names {g}, beyond the device's {Scenario.Device.Blocks} blocks";
                case IEnumerable<PageId> pages when pages.Any(g => g.Value < 0 || g.Value >= Scenario.Device.Blocks):
                    return $"{message.GetType().Name}.{p.Name} names a page beyond the device's {Scenario.Device.Blocks} blocks";
            }
        }
        return null;
    }
}

/// <summary>
/// Routes a run's messages to its entities: bare protocol messages by their marker
/// interface, Envelope by To, Ack by To, ToEntity by its id. Anything else, or an id the
/// run does not have, is refused with a logged error (and the region drops it).
/// </summary>
public sealed class EntityExtractor(RunEntities entities, ILoggingAdapter log) : IMessageExtractor
{
    private static string? IdOf(object message) => message switch
    {
        ToEntity m => m.EntityId,
        Envelope m => m.To.ToString(),
        Ack m => m.To.ToString(),
        _ => RunEntities.Recipient(message)?.ToString(),
    };

    public string? EntityId(object message)
    {
        var id = IdOf(message);
        if (id is null)
        {
            log.Error("refused {0}: not a message for an entity of this run", Describe(message));
            return null;
        }
        if (entities.Parse(id) is null)
        {
            log.Error("refused {0}: the run has no entity '{1}'", Describe(message), id);
            return null;
        }
        return id;
    }

    public object EntityMessage(object message) => message is ToEntity m ? m.Message : message;

    public string ShardId(object message) => IdOf(message) is { } id ? ShardId(id, message) : "0";

    public string ShardId(string entityId, object? messageHint = null) =>
        entities.Parse(entityId) is { } e ? RunEntities.ShardOf(e) : "0";

    private static string Describe(object? message)
    {
        var text = message?.ToString() ?? "null";
        return text.Length > 200 ? text[..200] + "..." : text;
    }
}

/// <summary>
/// Puts shard k on node k mod N (by the run's node table), so a scenario, a test or a user
/// knows which member hosts which entity: entity n lives on node (n mod 64) mod N. When
/// that member is gone, the shard goes to the live member with the fewest shards. Never
/// rebalances: without persistence a handed-off entity would lose its state.
/// </summary>
public sealed class NodeTableAllocation(IReadOnlyList<Address> nodes, Address self) : IShardAllocationStrategy
{
    public Task<IActorRef> AllocateShard(IActorRef requester, string shardId,
        IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations)
    {
        var regions = currentShardAllocations.Keys.ToList();
        if (regions.Count == 0)
        {
            return Task.FromResult(requester);
        }
        if (int.TryParse(shardId, NumberStyles.None, CultureInfo.InvariantCulture, out var k) && nodes.Count > 0)
        {
            var home = nodes[k % nodes.Count];
            var match = regions.FirstOrDefault(r => AddressOf(r) == home);
            if (match is not null)
            {
                return Task.FromResult(match);
            }
        }
        var least = regions
            .OrderBy(r => currentShardAllocations[r].Count)
            .ThenBy(r => AddressOf(r).ToString(), StringComparer.Ordinal)
            .First();
        return Task.FromResult(least);
    }

    public Task<IImmutableSet<string>> Rebalance(
        IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations,
        IImmutableSet<string> rebalanceInProgress) =>
        Task.FromResult<IImmutableSet<string>>(ImmutableHashSet<string>.Empty);

    private Address AddressOf(IActorRef region) =>
        region.Path.Address.HasGlobalScope ? region.Path.Address : self;
}
