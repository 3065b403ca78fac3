using Akka.Actor;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;

namespace DaxSim.Actors.Page;

// PageRegion holds 2^Shift device pages of a run with lazy pages (SimEnvironment.LazyPages:
// load runs, which may simulate a million pages). An always-live PageActor costs about
// 2 KB, so a run keeps actors only for the pages in use: the region creates a page's actor
// when the first message for the page comes, forwards every message for the page to it,
// and stops it again once it is idle and has been unused for a while. This is what
// Cluster Sharding does for entities (a shard region and passivation), inside one actor.
//
// An idle page (refcount 1, no waiters) has one piece of state, its owner, and the region
// keeps it in a table of 4 bytes per page. While a page has no actor the region answers
// what needs no more than that state: QueryRefcount (the busy-page scan: refcount 1) and
// BlockAssigned / BlockReleased (the owner changes). Any other message creates the actor.
//
// Passivation handshake: after each message that leaves it idle, the page sends Quiet with
// the number of messages it has taken. The region counts the messages it forwarded to it;
// when they agree nothing is in flight to the page, so it can be stopped without losing
// one. Quiet pages queue in the order they went quiet; when more than the region's share
// of SimEnvironment.IdlePageActors are alive, the least recently quiet one is stopped.
//
// Takes:  IPageMessage (for its pages), Quiet (its pages).
// Sends:  the page messages on to the pages' actors (Forward: the original sender stays);
//         RefcountReport for pages without an actor.
public sealed class PageRegion : ReceiveActor
{
    /// <summary>A region holds pages [n·2^Shift, (n+1)·2^Shift).</summary>
    public const int Shift = 13;

    public const int Size = 1 << Shift;

    /// <summary>Page → its region: idle (refcount 1, no waiters) after the Received-th message it took; Owner its owner then.</summary>
    public sealed record Quiet(PageId Page, FileId? Owner, long Received);

    private sealed class Live(IActorRef actor)
    {
        public IActorRef Actor { get; } = actor;

        public long Forwarded { get; set; }

        public long QuietAt { get; set; } = -1;

        public FileId? QuietOwner { get; set; }
    }

    private readonly SimEnvironment _env;
    private readonly int _first;
    // The owner of each page without an actor: file id + 1, or 0 when the block is free.
    private readonly int[] _owner;
    private readonly Dictionary<int, Live> _live = new();
    private readonly Queue<(int Page, long Stamp)> _quiet = new();
    private readonly int _budget;
    private long _created;

    public PageRegion(SimEnvironment env, int first, FileId?[] owners, int budget)
    {
        _env = env;
        _first = first;
        _budget = budget;
        _owner = new int[owners.Length];
        for (var i = 0; i < owners.Length; i++)
        {
            _owner[i] = owners[i] is { } f ? f.Value + 1 : 0;
        }
        Receive<Quiet>(HandleQuiet);
        Receive<IPageMessage>(HandlePageMessage);
    }

    public static Props Props(SimEnvironment env, int first, FileId?[] owners, int budget) =>
        ActorProps.Of(() => new PageRegion(env, first, owners, budget));

    /// <summary>Page actors created so far (for tests and reports).</summary>
    internal long Created => _created;

    private void HandlePageMessage(IPageMessage m)
    {
        var p = m.Page.Value;
        if (_live.TryGetValue(p, out var live))
        {
            live.Forwarded++;
            live.Actor.Forward(m);
            return;
        }
        var i = p - _first;
        switch (m)
        {
            case QueryRefcount q:
                Sender.Tell(new RefcountReport(q.Page, _env.Policy.IdleRefcount, 0, q.Seq), Self);
                return;
            case BlockAssigned b:
                _owner[i] = b.File.Value + 1;
                return;
            case BlockReleased:
                _owner[i] = 0;
                return;
        }
        FileId? owner = _owner[i] == 0 ? null : new FileId(_owner[i] - 1);
        // A stopped actor's name may not be free yet: every incarnation gets its own.
        var actor = Context.ActorOf(_env.Deploy(PageActor.Props(_env, m.Page, owner)), $"page-{p}-{++_created}");
        live = new Live(actor) { Forwarded = 1 };
        _live[p] = live;
        actor.Forward(m);
    }

    private void HandleQuiet(Quiet m)
    {
        var p = m.Page.Value;
        if (!_live.TryGetValue(p, out var live) || live.Forwarded != m.Received)
        {
            return; // more messages went to the page since: it will say so again if it goes quiet
        }
        live.QuietAt = m.Received;
        live.QuietOwner = m.Owner;
        _quiet.Enqueue((p, m.Received));
        Passivate();
    }

    private void Passivate()
    {
        while (_live.Count > _budget && _quiet.TryDequeue(out var entry))
        {
            if (_live.TryGetValue(entry.Page, out var live) && live.Forwarded == entry.Stamp &&
                live.QuietAt == entry.Stamp)
            {
                _owner[entry.Page - _first] = live.QuietOwner is { } f ? f.Value + 1 : 0;
                _live.Remove(entry.Page);
                Context.Stop(live.Actor);
            }
        }
        // Entries of pages that were used again are stale: drop them before they pile up.
        if (_quiet.Count > 2 * _live.Count + 64)
        {
            var keep = _quiet.Where(e => _live.TryGetValue(e.Page, out var l) && l.Forwarded == e.Stamp &&
                                         l.QuietAt == e.Stamp).ToList();
            _quiet.Clear();
            foreach (var e in keep)
            {
                _quiet.Enqueue(e);
            }
        }
    }
}
