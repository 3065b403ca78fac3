using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Serialization;
using DaxSim.Host.Cluster;
using Microsoft.Data.Sqlite;
using Xunit;

namespace DaxSim.Tests.Cluster;

/// <summary>
/// The members' SQLite journal: the file (<see cref="SqliteJournalFile"/>, plain code) keeps
/// each write whole and in order, commits concurrent writes in groups without letting one
/// refused write take the others down, and is shared by several members (connections);
/// the Akka.Persistence plugin over it (<see cref="SqliteWriteJournal"/>) gives a shell's
/// journaled inputs back, in order and with their senders, to an entity recovering in
/// another actor system, and answers a persistent actor's writes as Akka.Persistence
/// expects: in order, a deferred handler after the writes before it, an event that cannot be
/// serialized rejected alone, a write the file refuses failing the entity.
/// </summary>
public sealed class SqliteJournalSpecs : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private readonly string _dir = Directory.CreateTempSubdirectory("daxsim-journal-").FullName;

    private string Db => Path.Combine(_dir, "journal.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private static JournalRow Row(string pid, long seq, string text = "x") =>
        new(pid, seq, 1, "m", System.Text.Encoding.UTF8.GetBytes(text), "w");

    [Fact]
    public async Task Concurrent_writes_of_many_entities_must_all_be_kept_each_in_its_own_order()
    {
        using var file = new SqliteJournalFile(Db);
        const int entities = 20, each = 50;
        var writes = Enumerable.Range(0, entities).Select(e => Task.Run(async () =>
        {
            for (var seq = 1; seq <= each; seq++)
            {
                await file.Append([Row($"e{e}", seq, $"{e}:{seq}")]);
            }
        }));
        await Task.WhenAll(writes).WaitAsync(Bound);

        for (var e = 0; e < entities; e++)
        {
            var rows = await file.Read($"e{e}", 1, long.MaxValue, long.MaxValue);
            Assert.Equal(Enumerable.Range(1, each).Select(s => (long)s), rows.Select(r => r.SequenceNr));
            Assert.Equal(Enumerable.Range(1, each).Select(s => $"{e}:{s}"),
                rows.Select(r => System.Text.Encoding.UTF8.GetString(r.Payload)));
            Assert.Equal(each, await file.Highest($"e{e}"));
        }
        var (commits, kept) = file.Committed;
        Assert.Equal(entities * each, kept);
        Assert.InRange(commits, 1, entities * each);
    }

    [Fact]
    public async Task A_write_that_reuses_a_sequence_number_must_fail_alone_and_keep_none_of_its_rows()
    {
        using var file = new SqliteJournalFile(Db);
        await file.Append([Row("a", 1), Row("a", 2)]);

        // Queued together, so likely committed in one group: the refused write (its second
        // row takes a number already kept) must not take the good ones with it.
        var good = file.Append([Row("b", 1)]);
        var refused = file.Append([Row("a", 3), Row("a", 2, "again")]);
        var alsoGood = file.Append([Row("c", 1), Row("c", 2)]);

        await good.WaitAsync(Bound);
        await alsoGood.WaitAsync(Bound);
        var e = await Assert.ThrowsAsync<SqliteException>(() => refused.WaitAsync(Bound));
        Assert.Equal(19, e.SqliteErrorCode); // SQLITE_CONSTRAINT
        Assert.Equal([1L, 2L], (await file.Read("a", 0, 100, 100)).Select(r => r.SequenceNr));
        Assert.Equal("x", System.Text.Encoding.UTF8.GetString((await file.Read("a", 2, 2, 1))[0].Payload));
        Assert.Single(await file.Read("b", 0, 100, 100));
        Assert.Equal(2, (await file.Read("c", 0, 100, 100)).Count);
    }

    [Fact]
    public async Task Reads_must_honour_the_range_and_the_maximum_and_deleted_rows_must_not_come_back()
    {
        using var file = new SqliteJournalFile(Db);
        await file.Append(Enumerable.Range(1, 10).Select(s => Row("p", s)).ToList());

        Assert.Equal([3L, 4L, 5L], (await file.Read("p", 3, 8, 3)).Select(r => r.SequenceNr));
        Assert.Empty(await file.Read("q", 1, 10, 10));
        Assert.Equal(0, await file.Highest("q"));

        await file.DeleteTo("p", 6);
        Assert.Equal([7L, 8L, 9L, 10L], (await file.Read("p", 1, 10, 10)).Select(r => r.SequenceNr));
        // Numbers are not reused after a delete: the highest is still the last written.
        Assert.Equal(10, await file.Highest("p"));
    }

    [Fact]
    public async Task Two_members_sharing_one_file_must_each_see_what_the_other_wrote()
    {
        using var first = new SqliteJournalFile(Db);
        using var second = new SqliteJournalFile(Db);
        var a = Task.Run(async () =>
        {
            for (var s = 1; s <= 100; s++)
            {
                await first.Append([Row("from-first", s)]);
            }
        });
        var b = Task.Run(async () =>
        {
            for (var s = 1; s <= 100; s++)
            {
                await second.Append([Row("from-second", s)]);
            }
        });
        await Task.WhenAll(a, b).WaitAsync(Bound);

        Assert.Equal(100, (await first.Read("from-second", 1, 100, 100)).Count);
        Assert.Equal(100, (await second.Read("from-first", 1, 100, 100)).Count);
        Assert.Equal(100, await second.Highest("from-first"));
    }

    [Fact]
    public async Task A_closed_file_must_refuse_new_work_instead_of_losing_it()
    {
        var file = new SqliteJournalFile(Db);
        file.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => file.Append([Row("a", 1)]).WaitAsync(Bound));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => file.Highest("a").WaitAsync(Bound));
    }

    private sealed record GetRecovered;

    /// <summary>A shell's stand-in: journals each string it is sent as a JournaledInput with its sender, and tells what it recovered.</summary>
    private sealed class Journaling : ReceivePersistentActor
    {
        private readonly List<JournaledInput> _recovered = [];

        public Journaling(string id)
        {
            PersistenceId = id;
            Recover<JournaledInput>(_recovered.Add);
            Command<string>(s => PersistAsync(new JournaledInput(s, Sender), j => j.Sender!.Tell($"kept {j.Message}")));
            Command<GetRecovered>(_ => Sender.Tell(_recovered.ToList()));
        }

        public override string PersistenceId { get; }
    }

    private ActorSystem Member(string name) =>
        ActorSystem.Create(name, ConfigurationFactory
            .ParseString("akka { loglevel = WARNING\n" + ClusterConfig.Persistence(Db) + "\n}")
            .WithFallback(ClusterConfig.Runner(new NodeSettings { Port = 0 })));

    [Fact]
    public async Task An_entity_started_in_another_system_must_recover_every_journaled_input_in_order_with_its_sender()
    {
        const int inputs = 300;
        string senderPath;
        Address senderAddress;
        var first = Member("first");
        try
        {
            var sender = first.ActorOf(Props.Create(() => new Collector(inputs)), "sender");
            senderPath = sender.Path.ToStringWithoutAddress();
            senderAddress = ((ExtendedActorSystem)first).Provider.DefaultAddress;
            var entity = first.ActorOf(Props.Create(() => new Journaling("run-1-page-7")));
            // Two entities write at once, so their writes share commits.
            var other = first.ActorOf(Props.Create(() => new Journaling("run-1-page-8")));
            for (var i = 0; i < inputs; i++)
            {
                entity.Tell($"input-{i}", sender);
                other.Tell($"other-{i}", ActorRefs.Nobody);
            }
            var kept = await sender.Ask<List<string>>(Collector.Wait.Instance, Bound);
            Assert.Equal(Enumerable.Range(0, inputs).Select(i => $"kept input-{i}"), kept);
        }
        finally
        {
            await first.Terminate().WaitAsync(Bound);
        }

        var second = Member("second");
        try
        {
            var recovered = await second.ActorOf(Props.Create(() => new Journaling("run-1-page-7")))
                .Ask<List<JournaledInput>>(new GetRecovered(), Bound);
            Assert.Equal(Enumerable.Range(0, inputs).Select(i => $"input-{i}"), recovered.Select(j => (string)j.Message));
            Assert.All(recovered, j =>
            {
                Assert.Equal(senderPath, j.Sender!.Path.ToStringWithoutAddress());
                Assert.Equal(senderAddress, j.Sender.Path.Address);
            });
        }
        finally
        {
            await second.Terminate().WaitAsync(Bound);
        }
    }

    /// <summary>An event the journal's serializer refuses (bound to <see cref="Refusing"/>).</summary>
    public sealed record Unwritable;

    public sealed class Refusing(ExtendedActorSystem system) : Serializer(system)
    {
        public override int Identifier => 9_871;

        public override bool IncludeManifest => false;

        public override byte[] ToBinary(object obj) => throw new InvalidOperationException("this event cannot be written");

        public override object FromBinary(byte[] bytes, Type? type) => throw new InvalidOperationException("never written");
    }

    /// <summary>Persists what it is told (one event, several at once followed by a deferred handler, or an unwritable one) and reports each outcome.</summary>
    private sealed class Writer : ReceivePersistentActor
    {
        private readonly IActorRef _report;

        public Writer(string id, IActorRef report)
        {
            PersistenceId = id;
            _report = report;
            Recover<string>(e => report.Tell($"recovered {e}"));
            Command<string>(e => Persist(e, x => report.Tell($"persisted {x}")));
            Command<string[]>(all =>
            {
                PersistAll(all, x => report.Tell($"persisted {x}"));
                DeferAsync("after", x => report.Tell($"deferred {x}"));
            });
            Command<Unwritable>(u => Persist(u, _ => report.Tell("persisted unwritable")));
            Command<Ready>(_ => Sender.Tell("ready"));
        }

        public sealed class Ready
        {
            public static readonly Ready Instance = new();
        }

        public override string PersistenceId { get; }

        protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
        {
            _report.Tell($"rejected {sequenceNr}");
            base.OnPersistRejected(cause, @event, sequenceNr);
        }

        protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
        {
            _report.Tell($"failed {@event} {sequenceNr}");
            base.OnPersistFailure(cause, @event, sequenceNr);
        }
    }

    private ActorSystem MemberRefusing(string name) =>
        ActorSystem.Create(name, ConfigurationFactory.ParseString($$"""
                akka.actor.serializers.refusing = "{{typeof(Refusing).AssemblyQualifiedName}}"
                akka.actor.serialization-bindings { "{{typeof(Unwritable).AssemblyQualifiedName}}" = refusing }
                """)
            .WithFallback(ConfigurationFactory.ParseString("akka { loglevel = ERROR\n" + ClusterConfig.Persistence(Db) + "\n}"))
            .WithFallback(ClusterConfig.Runner(new NodeSettings { Port = 0 })));

    private static async Task<List<string>> Reports(ActorSystem system, int expected, Action<IActorRef> act)
    {
        var collector = system.ActorOf(Props.Create(() => new Collector(expected)));
        act(collector);
        return await collector.Ask<List<string>>(Collector.Wait.Instance, Bound);
    }

    [Fact]
    public async Task The_plugin_must_answer_each_write_in_order_reject_an_unwritable_event_alone_and_run_deferred_handlers_after_the_writes_before_them()
    {
        var first = MemberRefusing("writes");
        try
        {
            var got = await Reports(first, 6, report =>
            {
                var writer = first.ActorOf(Props.Create(() => new Writer("run-2-inode-1", report)));
                writer.Tell(new[] { "a", "b" });
                writer.Tell("c");
                writer.Tell(new Unwritable());
                writer.Tell("d");
            });
            Assert.Equal(["persisted a", "persisted b", "deferred after", "persisted c", "rejected 4", "persisted d"], got);
        }
        finally
        {
            await first.Terminate().WaitAsync(Bound);
        }

        var second = MemberRefusing("recovers");
        try
        {
            var got = await Reports(second, 4, report => second.ActorOf(Props.Create(() => new Writer("run-2-inode-1", report))));
            Assert.Equal(["recovered a", "recovered b", "recovered c", "recovered d"], got);
        }
        finally
        {
            await second.Terminate().WaitAsync(Bound);
        }
    }

    [Fact]
    public async Task A_write_the_file_refuses_must_fail_the_entity_and_stop_it()
    {
        // Two members each start the same entity before either has written: both take sequence
        // number 1 for their first event, and the second commit of it breaks the file's key.
        var one = MemberRefusing("one");
        var two = MemberRefusing("two");
        try
        {
            var reportsOne = one.ActorOf(Props.Create(() => new Collector(1)));
            var reportsTwo = two.ActorOf(Props.Create(() => new Collector(2)));
            var a = one.ActorOf(Props.Create(() => new Writer("run-3-page-1", reportsOne)));
            var b = two.ActorOf(Props.Create(() => new Writer("run-3-page-1", reportsTwo)));
            two.ActorOf(Props.Create(() => new Watcher(b, reportsTwo)));
            // Commands wait in the stash until recovery ends: an answer means it has.
            Assert.Equal("ready", await a.Ask<string>(Writer.Ready.Instance, Bound));
            Assert.Equal("ready", await b.Ask<string>(Writer.Ready.Instance, Bound));

            a.Tell("x");
            Assert.Equal(["persisted x"], await reportsOne.Ask<List<string>>(Collector.Wait.Instance, Bound));
            b.Tell("y");
            Assert.Equal(["failed y 1", "stopped"], await reportsTwo.Ask<List<string>>(Collector.Wait.Instance, Bound));
        }
        finally
        {
            await Task.WhenAll(one.Terminate(), two.Terminate()).WaitAsync(Bound);
        }
    }

    /// <summary>Tells the reports "stopped" when the watched actor stops.</summary>
    private sealed class Watcher : ReceiveActor
    {
        public Watcher(IActorRef watched, IActorRef reports)
        {
            Context.Watch(watched);
            Receive<Terminated>(_ => reports.Tell("stopped"));
        }
    }

    /// <summary>Collects the entity's answers and gives them all once the expected number has come.</summary>
    private sealed class Collector : ReceiveActor
    {
        public sealed class Wait
        {
            public static readonly Wait Instance = new();
        }

        private readonly List<string> _got = [];
        private IActorRef? _waiter;

        public Collector(int expected)
        {
            Receive<string>(s =>
            {
                _got.Add(s);
                Answer(expected);
            });
            Receive<Wait>(_ =>
            {
                _waiter = Sender;
                Answer(expected);
            });
        }

        private void Answer(int expected)
        {
            if (_waiter is not null && _got.Count == expected)
            {
                _waiter.Tell(_got.ToList());
            }
        }
    }
}
