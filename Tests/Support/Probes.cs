using Akka.Actor;
using Akka.TestKit;
using DaxSim.Actors;
using DaxSim.Protocol;
using DaxSim.Protocol.Trace;

namespace DaxSim.Tests.Support;

/// <summary>
/// An entity directory whose every entity is a TestProbe, except the one actor under
/// test, so a spec can play all of that actor's partners.
/// </summary>
public sealed class ProbeDirectory(TestKitBase kit) : IEntityDirectory
{
    private readonly Dictionary<string, TestProbe> _probes = new();

    public IActorRef? UnderTest { get; set; }

    public string? UnderTestName { get; set; }

    /// <summary>The probe playing <paramref name="name"/>; made on first use, by the spec or by the actor under test.</summary>
    public TestProbe Probe(string name)
    {
        lock (_probes)
        {
            if (!_probes.TryGetValue(name, out var probe))
            {
                probe = kit.CreateTestProbe(name);
                _probes[name] = probe;
            }
            return probe;
        }
    }

    private IActorRef Resolve(string name) => name == UnderTestName ? UnderTest! : Probe(name).Ref;

    public IActorRef Inode(FileId file) => Resolve($"inode-{file.Value}");

    public IActorRef Mapping(FileId file) => Resolve($"mapping-{file.Value}");

    public IActorRef Page(PageId page) => Resolve($"page-{page.Value}");

    public IActorRef Task(TaskId task) => Resolve($"task-{task.Value}");

    public IActorRef Device => Resolve("device");

    public IActorRef Root => Resolve("root");
}

/// <summary>Keeps every trace event, thread-safely.</summary>
public sealed class RecordingSink : ITraceSink
{
    private readonly List<TraceEvent> _events = [];

    public void Emit(TraceEvent e)
    {
        lock (_events)
        {
            _events.Add(e);
        }
    }

    public IReadOnlyList<TraceEvent> Events
    {
        get
        {
            lock (_events)
            {
                return _events.ToList();
            }
        }
    }

    public IEnumerable<T> Of<T>() where T : TraceEvent => Events.OfType<T>();
}
