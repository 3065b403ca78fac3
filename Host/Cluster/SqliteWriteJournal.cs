using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.Serialization;
using Akka.Util;

namespace DaxSim.Host.Cluster;

/// <summary>
/// The Akka.Persistence journal plugin of a SQLite journal file (ClusterConfig's
/// <c>akka.persistence.journal.daxsim-sqlite</c>, with its <c>path</c>): serializes each
/// event with the system's serializers (Hyperion for the shells' JournaledInput, with actor
/// refs given their full remote addresses) and keeps it in <see cref="SqliteJournalFile"/>,
/// which commits the writes of all the member's entities in groups. Akka.Persistence.Sql
/// stays the journal for PostgreSQL.
/// </summary>
public sealed class SqliteWriteJournal : AsyncWriteJournal
{
    private readonly SqliteJournalFile _file;
    private readonly Akka.Serialization.Serialization _serialization;

    public SqliteWriteJournal(Config config)
    {
        var path = config.GetString("path");
        if (string.IsNullOrEmpty(path))
        {
            throw new ConfigurationException("the SQLite journal needs a path");
        }
        _file = new SqliteJournalFile(path);
        _serialization = Context.System.Serialization;
    }

    protected override async Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages,
        CancellationToken cancellationToken)
    {
        var writes = messages as IReadOnlyList<AtomicWrite> ?? messages.ToList();
        var rejections = new Exception?[writes.Count];
        var rows = new List<JournalRow>();
        for (var i = 0; i < writes.Count; i++)
        {
            var events = (IImmutableList<IPersistentRepresentation>)writes[i].Payload;
            var start = rows.Count;
            try
            {
                foreach (var e in events)
                {
                    rows.Add(Serialize(e));
                }
            }
            catch (Exception e)
            {
                // A write that cannot be serialized is rejected alone: the others go on.
                rows.RemoveRange(start, rows.Count - start);
                rejections[i] = e;
            }
        }
        if (rows.Count > 0)
        {
            await _file.Append(rows);
        }
        // Null where the write was kept (AsyncWriteJournal's convention); no list when all were.
        return rejections.Any(r => r is not null) ? ImmutableList.CreateRange(rejections.Select(r => r!)) : null!;
    }

    public override async Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr,
        long toSequenceNr, long max, Action<IPersistentRepresentation> recoveryCallback)
    {
        if (max <= 0 || toSequenceNr < fromSequenceNr)
        {
            return;
        }
        foreach (var row in await _file.Read(persistenceId, fromSequenceNr, toSequenceNr, max))
        {
            var payload = _serialization.Deserialize(row.Payload, row.SerializerId, row.Manifest);
            recoveryCallback(new Persistent(payload, row.SequenceNr, persistenceId, row.Manifest, false,
                ActorRefs.NoSender, row.WriterGuid));
        }
    }

    public override Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr,
        CancellationToken cancellationToken) =>
        _file.Highest(persistenceId);

    protected override Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr,
        CancellationToken cancellationToken) =>
        _file.DeleteTo(persistenceId, toSequenceNr);

    protected override void PostStop()
    {
        _file.Dispose();
        base.PostStop();
    }

    private JournalRow Serialize(IPersistentRepresentation e) =>
        Akka.Serialization.Serialization.WithTransport(_serialization.System, (e, _serialization), static state =>
        {
            var (e, serialization) = state;
            var serializer = serialization.FindSerializerFor(e.Payload);
            var manifest = serializer switch
            {
                SerializerWithStringManifest named => named.Manifest(e.Payload),
                { IncludeManifest: true } => e.Payload.GetType().TypeQualifiedName(),
                _ => string.Empty,
            };
            return new JournalRow(e.PersistenceId, e.SequenceNr, serializer.Identifier, manifest,
                serializer.ToBinary(e.Payload), e.WriterGuid);
        });
}
