using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace DaxSim.Host.Cluster;

/// <summary>One journaled event as the file keeps it: the serialized payload and how to read it back.</summary>
public sealed record JournalRow(string PersistenceId, long SequenceNr, int SerializerId, string Manifest,
    byte[] Payload, string? WriterGuid);

/// <summary>
/// The members' SQLite journal file (plain code: no actor; <see cref="SqliteWriteJournal"/>
/// is the Akka.Persistence plugin over it). One connection and one thread per member own it,
/// and every operation goes through that thread in the order it was asked for, so a read
/// sees every write asked before it.
/// <para>
/// Writes are committed in groups: while one transaction commits, the writes asked meanwhile
/// (from any entity of the member) wait, and the next transaction takes all of them, up to
/// <see cref="MaxRowsPerCommit"/> rows, each in a savepoint of its own (a write that fails,
/// say a sequence number already taken, fails alone). The insert is one prepared statement.
/// This is what replaced Akka.Persistence.Sql for SQLite: its linq2db path built and parsed a
/// new multi-row INSERT for every batch and tiered up thousands of methods during a run, and
/// cost about 230 us of CPU per journaled input (docs/performance-cluster.md).
/// </para>
/// Several members (processes) share the file: WAL mode lets readers go on beside the
/// writer, and a writer that finds another member's transaction open waits for it in
/// SQLite's busy handler (<see cref="SqliteJournal"/>).
/// </summary>
public sealed class SqliteJournalFile : IDisposable
{
    /// <summary>The most rows one commit takes; the rest wait for the next.</summary>
    public const int MaxRowsPerCommit = 2000;

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS daxsim_journal (
            persistence_id TEXT NOT NULL,
            sequence_nr INTEGER NOT NULL,
            serializer_id INTEGER NOT NULL,
            manifest TEXT NOT NULL,
            payload BLOB NOT NULL,
            writer_guid TEXT,
            deleted INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (persistence_id, sequence_nr)
        ) WITHOUT ROWID;
        """;

    private abstract class Work
    {
        public abstract void Fail(Exception e);

        /// <summary>A query's work on the connection (a write is committed in a group instead).</summary>
        public virtual void Run(SqliteConnection connection)
        {
        }
    }

    private sealed class Write(IReadOnlyList<JournalRow> rows) : Work
    {
        public readonly IReadOnlyList<JournalRow> Rows = rows;

        // Completed on the journal thread, and what awaits it (the plugin, then
        // AsyncWriteJournal's replies to the entities) goes on there at once: only Tells,
        // and one thread hand-off fewer per journaled input than through the thread pool.
        public readonly TaskCompletionSource Done = new();

        public override void Fail(Exception e) => Done.TrySetException(e);
    }

    private sealed class Query<T>(Func<SqliteConnection, T> run) : Work
    {
        public readonly TaskCompletionSource<T> Done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Run(SqliteConnection connection)
        {
            try
            {
                Done.TrySetResult(run(connection));
            }
            catch (Exception e)
            {
                Done.TrySetException(e);
            }
        }

        public override void Fail(Exception e) => Done.TrySetException(e);
    }

    private readonly BlockingCollection<Work> _work = new();
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _insert;
    private readonly Dictionary<string, SqliteCommand> _statements = new();
    private readonly Thread _thread;
    private readonly List<Write> _group = [];
    private long _commits;
    private long _rows;

    /// <summary>Opens (creating if needed) the journal in the SQLite file at <paramref name="path"/>.</summary>
    public SqliteJournalFile(string path)
    {
        _connection = SqliteJournal.Open(path);
        using (var create = _connection.CreateCommand())
        {
            create.CommandText = Schema;
            create.ExecuteNonQuery();
        }
        _insert = _connection.CreateCommand();
        _insert.CommandText = """
            INSERT INTO daxsim_journal (persistence_id, sequence_nr, serializer_id, manifest, payload, writer_guid)
            VALUES ($pid, $seq, $ser, $manifest, $payload, $writer)
            """;
        foreach (var name in (string[])["$pid", "$seq", "$ser", "$manifest", "$payload", "$writer"])
        {
            _insert.Parameters.Add(new SqliteParameter { ParameterName = name });
        }
        _insert.Prepare();
        _thread = new Thread(Loop) { IsBackground = true, Name = "daxsim-journal" };
        _thread.Start();
    }

    /// <summary>Transactions committed so far, and the rows they held: rows / commits is how well writes are grouped (SqliteJournalSpecs counts the rows kept).</summary>
    public (long Commits, long Rows) Committed => (Interlocked.Read(ref _commits), Interlocked.Read(ref _rows));

    /// <summary>Appends the rows, all or none; done when their transaction has committed.</summary>
    public Task Append(IReadOnlyList<JournalRow> rows)
    {
        var write = new Write(rows);
        Enqueue(write);
        return write.Done.Task;
    }

    /// <summary>The live rows of one persistence id from <paramref name="from"/> to <paramref name="to"/>, in order, at most <paramref name="max"/>.</summary>
    public Task<List<JournalRow>> Read(string persistenceId, long from, long to, long max) =>
        Ask(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = """
                SELECT sequence_nr, serializer_id, manifest, payload, writer_guid FROM daxsim_journal
                WHERE persistence_id = $pid AND sequence_nr >= $from AND sequence_nr <= $to AND deleted = 0
                ORDER BY sequence_nr LIMIT $max
                """;
            command.Parameters.AddWithValue("$pid", persistenceId);
            command.Parameters.AddWithValue("$from", from);
            command.Parameters.AddWithValue("$to", to);
            command.Parameters.AddWithValue("$max", max);
            using var reader = command.ExecuteReader();
            var rows = new List<JournalRow>();
            while (reader.Read())
            {
                rows.Add(new JournalRow(persistenceId, reader.GetInt64(0), reader.GetInt32(1), reader.GetString(2),
                    (byte[])reader[3], reader.IsDBNull(4) ? null : reader.GetString(4)));
            }
            return rows;
        });

    /// <summary>The highest sequence number ever written for the persistence id (deleted rows count: numbers are not reused), or 0.</summary>
    public Task<long> Highest(string persistenceId) =>
        Ask(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT MAX(sequence_nr) FROM daxsim_journal WHERE persistence_id = $pid";
            command.Parameters.AddWithValue("$pid", persistenceId);
            return command.ExecuteScalar() is long n ? n : 0L;
        });

    /// <summary>Marks the persistence id's rows up to <paramref name="to"/> deleted: they are not replayed.</summary>
    public Task DeleteTo(string persistenceId, long to) =>
        Ask(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText =
                "UPDATE daxsim_journal SET deleted = 1 WHERE persistence_id = $pid AND sequence_nr <= $to";
            command.Parameters.AddWithValue("$pid", persistenceId);
            command.Parameters.AddWithValue("$to", to);
            return command.ExecuteNonQuery();
        });

    private Task<T> Ask<T>(Func<SqliteConnection, T> run)
    {
        var query = new Query<T>(run);
        Enqueue(query);
        return query.Done.Task;
    }

    private void Enqueue(Work work)
    {
        try
        {
            _work.Add(work);
        }
        catch (InvalidOperationException)
        {
            work.Fail(new ObjectDisposedException(nameof(SqliteJournalFile), "the journal file is closed"));
        }
    }

    private void Loop()
    {
        foreach (var work in _work.GetConsumingEnumerable())
        {
            var next = work;
            while (next is not null)
            {
                if (next is Write write)
                {
                    next = CommitGroup(write);
                }
                else
                {
                    next.Run(_connection);
                    next = null;
                }
            }
        }
    }

    /// <summary>
    /// Commits <paramref name="first"/> and every write queued behind it (up to
    /// MaxRowsPerCommit rows) in one transaction. Returns the first queued item it did not
    /// take (a query, or a write that would not fit), which runs next.
    /// </summary>
    private Work? CommitGroup(Write first)
    {
        _group.Clear();
        _group.Add(first);
        var rows = first.Rows.Count;
        Work? leftover = null;
        while (rows < MaxRowsPerCommit && _work.TryTake(out var more))
        {
            if (more is Write w && rows + w.Rows.Count <= MaxRowsPerCommit)
            {
                _group.Add(w);
                rows += w.Rows.Count;
                continue;
            }
            leftover = more;
            break;
        }
        var failures = new Exception?[_group.Count];
        try
        {
            Execute("BEGIN IMMEDIATE");
            for (var i = 0; i < _group.Count; i++)
            {
                failures[i] = InsertAll(_group[i].Rows);
            }
            Execute("COMMIT");
        }
        catch (Exception e)
        {
            TryRollback();
            foreach (var write in _group)
            {
                write.Done.TrySetException(e);
            }
            return leftover;
        }
        Interlocked.Increment(ref _commits);
        Interlocked.Add(ref _rows, rows);
        for (var i = 0; i < _group.Count; i++)
        {
            if (failures[i] is { } failure)
            {
                _group[i].Done.TrySetException(failure);
            }
            else
            {
                _group[i].Done.TrySetResult();
            }
        }
        return leftover;
    }

    /// <summary>One write's rows, all or none (a savepoint): null, or why they were refused.</summary>
    private Exception? InsertAll(IReadOnlyList<JournalRow> rows)
    {
        Execute("SAVEPOINT w");
        try
        {
            foreach (var row in rows)
            {
                var p = _insert.Parameters;
                p[0].Value = row.PersistenceId;
                p[1].Value = row.SequenceNr;
                p[2].Value = row.SerializerId;
                p[3].Value = row.Manifest;
                p[4].Value = row.Payload;
                p[5].Value = (object?)row.WriterGuid ?? DBNull.Value;
                _insert.ExecuteNonQuery();
            }
            Execute("RELEASE w");
            return null;
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 19) // SQLITE_CONSTRAINT: a sequence number already taken
        {
            Execute("ROLLBACK TO w");
            Execute("RELEASE w");
            return e;
        }
    }

    /// <summary>One of the transaction statements, each prepared once.</summary>
    private void Execute(string sql)
    {
        if (!_statements.TryGetValue(sql, out var command))
        {
            command = _connection.CreateCommand();
            command.CommandText = sql;
            _statements[sql] = command;
        }
        command.ExecuteNonQuery();
    }

    private void TryRollback()
    {
        try
        {
            Execute("ROLLBACK");
        }
        catch (SqliteException)
        {
            // No transaction was open (BEGIN itself failed).
        }
    }

    public void Dispose()
    {
        _work.CompleteAdding();
        _thread.Join();
        _insert.Dispose();
        foreach (var command in _statements.Values)
        {
            command.Dispose();
        }
        _connection.Dispose();
        _work.Dispose();
    }
}
