using System.Diagnostics;
using DaxSim.Host.Cli;
using Npgsql;

namespace DaxSim.Host.Cluster;

/// <summary>The members' journal server did not answer in time.</summary>
public sealed class JournalUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The members' shared journal on a PostgreSQL server (`--journal postgres://USER:PASSWORD@HOST:PORT/DATABASE`),
/// for members on several machines, which cannot share one SQLite file. Akka.Persistence.Sql
/// writes it through linq2db's PostgreSQL provider (Npgsql); the first member to start creates
/// the tables (auto-initialize), as with SQLite.
/// </summary>
public static class PostgresJournal
{
    /// <summary>A journal setting that names a PostgreSQL server rather than a SQLite file.</summary>
    public static bool IsUrl(string journal) =>
        journal.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) ||
        journal.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Npgsql's connection string for a postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE URL
    /// (user and password percent-encoded as in any URL; port 5432 when not given).
    /// </summary>
    /// <exception cref="InputException">The URL lacks a part, or is not a URL (<paramref name="what"/> names the flag).</exception>
    public static string ConnectionString(string url, string what)
    {
        const string form = "postgres://USER:PASSWORD@HOST:PORT/DATABASE";
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("postgres" or "postgresql") ||
            uri.Host.Length == 0)
        {
            throw new InputException($"{what}: '{Redacted(url)}' is not a PostgreSQL URL ({form})");
        }
        var database = Uri.UnescapeDataString(uri.AbsolutePath.Trim('/'));
        if (database.Length == 0 || database.Contains('/'))
        {
            throw new InputException($"{what}: '{Redacted(url)}' names no database ({form})");
        }
        if (uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            throw new InputException($"{what}: '{Redacted(url)}' has a query or fragment, which DaxSim does not read ({form})");
        }
        var user = uri.UserInfo.Split(':', 2);
        if (user[0].Length == 0)
        {
            throw new InputException($"{what}: '{Redacted(url)}' names no user ({form})");
        }
        return new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = database,
            Username = Uri.UnescapeDataString(user[0]),
            Password = user.Length > 1 ? Uri.UnescapeDataString(user[1]) : null,
            Timeout = 15,
            CommandTimeout = 30,
        }.ConnectionString;
    }

    /// <summary>The URL with its password replaced, for messages and logs.</summary>
    public static string Redacted(string url)
    {
        var at = url.LastIndexOf('@');
        var scheme = url.IndexOf("://", StringComparison.Ordinal);
        if (at < 0 || scheme < 0 || at < scheme)
        {
            return url;
        }
        var colon = url.IndexOf(':', scheme + 3);
        return colon > 0 && colon < at ? url[..(colon + 1)] + "***" + url[at..] : url;
    }

    /// <summary>
    /// Waits until the server accepts a connection to the database, at most <paramref name="wait"/>:
    /// in docker-compose the members start beside the server, which takes a few seconds to be ready.
    /// </summary>
    /// <exception cref="JournalUnavailableException">It did not, in time.</exception>
    public static void Prepare(string url, TimeSpan wait)
    {
        var connection = ConnectionString(url, "the journal");
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var c = new NpgsqlConnection(connection);
                c.Open();
                using var command = c.CreateCommand();
                command.CommandText = "SELECT 1";
                command.ExecuteScalar();
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                if (clock.Elapsed >= wait)
                {
                    throw new JournalUnavailableException(
                        $"the journal {Redacted(url)} did not accept a connection within {wait.TotalSeconds:F0} s: " +
                        e.Message.Split('\n')[0].TrimEnd('.'), e);
                }
            }
            Thread.Sleep(500);
        }
    }
}
