using DaxSim.Protocol.Messages;

namespace DaxSim.Transport;

/// <summary>
/// Where a simulated run keeps its entities' inputs, so that an entity whose node crashed
/// can be started again from them (the deterministic runtime's stand-in for Akka.Persistence).
/// </summary>
public interface IEntityJournal
{
    void Append(Endpoint entity, object input);

    IReadOnlyList<object> Entries(Endpoint entity);
}

/// <summary>The deterministic runtime's journal: every entity's inputs, in memory, for the run.</summary>
public sealed class MemoryJournal : IEntityJournal
{
    private readonly Dictionary<Endpoint, List<object>> _entries = new();

    public void Append(Endpoint entity, object input)
    {
        if (!_entries.TryGetValue(entity, out var list))
        {
            list = [];
            _entries[entity] = list;
        }
        list.Add(input);
    }

    public IReadOnlyList<object> Entries(Endpoint entity) =>
        _entries.TryGetValue(entity, out var list) ? list : [];
}
