using System.Data.Common;
using Akka.Persistence.Sql.Config;
using LinqToDB;
using Microsoft.Data.Sqlite;

namespace DaxSim.Host.Cluster;

/// <summary>
/// The members' shared SQLite journal file, and how every connection to it is set up.
/// <list type="bullet">
/// <item>WAL mode (a property of the file): readers do not block the writer, and several
/// processes can share it.</item>
/// <item><c>busy_timeout</c>: a writer that finds another member's write in progress waits
/// in SQLite's own busy handler (sleeps of 1 ms, growing to 100 ms) instead of getting
/// SQLITE_BUSY at once. Without it Microsoft.Data.Sqlite retries a busy statement after a
/// fixed <c>Thread.Sleep(150)</c> (SqliteDataReader, SqliteConnectionInternal), so every
/// collision between the members' writers cost at least 150 ms of latency on a journal
/// write, on which each protocol message waits.</item>
/// <item><c>synchronous=NORMAL</c>: in WAL mode a commit is durable against the crash of
/// the process that made it (the WAL is written before the commit returns; only its fsync
/// waits for the next checkpoint), which is the failure DaxSim injects (a member's process
/// killed). It is not durable against the machine losing power, which no run injects.
/// FULL (SQLite's default) adds an fsync of the WAL to every commit.</item>
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
        using var connection = new SqliteConnection(ConnectionString(path));
        connection.Open();
        Tune(connection);
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL;";
        command.ExecuteScalar();
    }

    public static string ConnectionString(string path) => $"Data Source={path};Default Timeout=30";

    /// <summary>
    /// Akka.Persistence.Sql's connections to the file (journal, snapshot store, queries):
    /// linq2db's Microsoft.Data.Sqlite provider, each connection tuned as it opens.
    /// </summary>
    public static DataOptionsSetup Setup(string path) =>
        new(new DataOptions()
            .UseConnectionString(ProviderName.SQLiteMS, ConnectionString(path))
            .UseAfterConnectionOpened(Tune, (connection, _) =>
            {
                Tune(connection);
                return Task.CompletedTask;
            }));

    /// <summary>The per-connection settings above (SQLite keeps them per connection, not in the file).</summary>
    public static void Tune(DbConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText =
            $"PRAGMA busy_timeout={(long)BusyTimeout.TotalMilliseconds}; PRAGMA synchronous=NORMAL;";
        command.ExecuteNonQuery();
    }
}
