using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace DaxSim.Host.Cluster;

/// <summary>
/// The members' shared SQLite journal file (<see cref="SqliteJournalFile"/>), and how every
/// connection to it is set up.
/// <list type="bullet">
/// <item>WAL mode (a property of the file): readers do not block the writer, and several
/// processes can share it.</item>
/// <item><c>busy_timeout</c>: a writer that finds another member's write in progress waits
/// in SQLite's own busy handler (sleeps of 1 ms, growing to 100 ms) instead of getting
/// SQLITE_BUSY at once. Without it Microsoft.Data.Sqlite retries a busy statement after a
/// fixed <c>Thread.Sleep(150)</c> (SqliteDataReader, SqliteConnectionInternal), so every
/// collision between the members' writers cost at least 150 ms of latency on a journal
/// write, on which each protocol message waits.</item>
/// <item><c>synchronous=OFF</c>: a commit returns once SQLite has written the WAL to the
/// operating system, without an fsync. That survives the crash of the process that made it
/// (the kernel has the pages), which is the failure DaxSim injects: a member's process
/// killed. It does not survive the machine itself crashing or losing power, which no run
/// injects, and a run's journal is scratch: it lives for one run (or one cluster) only.
/// NORMAL costs an fsync at every WAL checkpoint, and a member whose checkpoint waits for
/// the disk holds the write lock while the other members' writes wait: measured on the
/// cluster-throughput bench (3 pairs on the shared machine), OFF ran in 0.89x the wall time
/// and cut retransmissions from 1.4-2.6% of messages to 0.3-0.4%. FULL (SQLite's default)
/// adds an fsync to every commit.</item>
/// </list>
/// </summary>
public static class SqliteJournal
{
    /// <summary>How long a connection waits in SQLite's busy handler for another member's write.</summary>
    public static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Creates the file if needed and puts it in WAL mode, waiting for a lock if another
    /// member is doing the same.
    /// </summary>
    public static void Prepare(string path)
    {
        using var connection = Open(path);
    }

    /// <summary>A connection to the file, tuned as above, the file created if needed and in WAL mode.</summary>
    /// <exception cref="JournalUnavailableException">SQLite cannot use the file (not a database, not writable, ...).</exception>
    public static SqliteConnection Open(string path)
    {
        var connection = new SqliteConnection(ConnectionString(path));
        try
        {
            connection.Open();
            Tune(connection);
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA journal_mode=WAL;";
            command.ExecuteScalar();
            return connection;
        }
        catch (SqliteException e)
        {
            connection.Dispose();
            throw new JournalUnavailableException($"the journal {path} cannot be used as a SQLite file: {e.Message}", e);
        }
    }

    public static string ConnectionString(string path) => $"Data Source={path};Default Timeout=30";

    /// <summary>The per-connection settings above (SQLite keeps them per connection, not in the file).</summary>
    private static void Tune(DbConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText =
            $"PRAGMA busy_timeout={(long)BusyTimeout.TotalMilliseconds}; PRAGMA synchronous=OFF;";
        command.ExecuteNonQuery();
    }
}
