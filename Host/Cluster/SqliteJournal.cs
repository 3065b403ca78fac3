using Microsoft.Data.Sqlite;

namespace DaxSim.Host.Cluster;

/// <summary>The members' shared SQLite journal file.</summary>
public static class SqliteJournal
{
    /// <summary>
    /// Creates the file if needed and puts it in WAL mode (a property of the file: readers do
    /// not block the writer, and several processes can share it), waiting for a lock if
    /// another member is doing the same.
    /// </summary>
    public static void Prepare(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Default Timeout=30");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL;";
        command.ExecuteScalar();
    }
}
