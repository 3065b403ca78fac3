using DaxSim.Host.Cluster;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Scenarios;
using DaxSim.Tests.Cli;
using Xunit;

namespace DaxSim.Tests.Cluster;

/// <summary>
/// Members on several machines cannot share one SQLite file: `--journal postgres://...`
/// (DAXSIM_JOURNAL) puts their journal on a PostgreSQL server. Checked against a real
/// server started on loopback (<see cref="PostgresServer"/>): three `daxsim node` processes
/// journal to it, one of them crashes, and the page it hosted comes back on another member
/// from the journal, still pinned. Bad URLs are usage errors.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class PostgresJournalSpecs : CliHarness
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    private const string Scenario = """
        { "name": "crash-page-host-postgres", "device": { "blocks": 8 },
          "files": [ { "name": "dax", "dax": true, "pages": 3 }, { "name": "src", "dax": false, "pages": 3 } ],
          "tasks": [
            { "name": "dio", "node": 1, "steps": [
                { "op": "mmap", "file": "dax", "pages": "0-2" },
                { "op": "dioRead", "from": "src", "into": "dax", "pages": "0-2", "ioTime": "14s" },
                { "op": "munmap", "file": "dax" } ] },
            { "name": "truncate", "node": 0, "steps": [
                { "op": "sleep", "for": "5s" },
                { "op": "truncate", "file": "dax", "size": 0 } ] } ],
          "faults": [ { "at": "8s", "kind": "crashNode", "node": 2 } ],
          "limits": { "virtualTime": "60s", "opBound": "10s" },
          "expect": "clean" }
        """;

    [Theory]
    [InlineData("postgres://127.0.0.1:5432/daxsim", "names no user")]
    [InlineData("postgres://daxsim@127.0.0.1:5432/", "names no database")]
    [InlineData("postgresql://daxsim@127.0.0.1/daxsim?sslmode=require", "has a query")]
    [InlineData("postgres://daxsim:topsecret@:5432/daxsim", "is not a PostgreSQL URL")]
    public void Node_rejects_a_journal_url_that_is_not_a_whole_postgres_url(string url, string message)
    {
        var r = Invoke("node", "--journal", url);
        AssertUsageError(r, null, message);
        Assert.DoesNotContain("topsecret", r.Err);
    }

    [Fact]
    public void A_postgres_url_becomes_the_journal_of_the_member_s_akka_persistence()
    {
        var settings = new NodeSettings { Journal = NodeSettings.ParseJournal("postgres://u%40x:p%3Aw@db.example:6543/sim", "--journal") };
        var hocon = ClusterConfig.MemberHocon(settings);

        Assert.Contains("provider-name = \"PostgreSQL.15\"", hocon);
        Assert.Contains("Host=db.example;Port=6543;Database=sim;Username=u@x;Password=p:w", hocon);
        Assert.DoesNotContain("SQLite", hocon);
        Assert.DoesNotContain("daxsim-sqlite", hocon);
        // A path stays the embedded SQLite default: DaxSim's own journal plugin on that file.
        var sqlite = ClusterConfig.MemberHocon(new NodeSettings { Journal = NodeSettings.ParseJournal(PathIn("j.db"), "--journal") });
        Assert.Contains("DaxSim.Host.Cluster.SqliteWriteJournal", sqlite);
        Assert.DoesNotContain("PostgreSQL", sqlite);
    }

    [PostgresFact]
    public async Task A_crashed_member_s_page_must_come_back_from_the_postgres_journal_still_pinned()
    {
        using var server = new PostgresServer();
        var members = new List<NodeProcess>();
        try
        {
            string Args(int index) => $"--port 0 --hostname 127.0.0.1 --bind 127.0.0.1 --index {index} --journal {server.Url}";
            members.Add(NodeProcess.Start(0, Args(0).Split(' '), Dir));
            var seed = NodeSettings.ParseHostPort(await members[0].Listening.WaitAsync(Bound), "seed");
            for (var i = 1; i <= 2; i++)
            {
                members.Add(NodeProcess.Start(i, [.. Args(i).Split(' '), "--seeds", seed.ToString()], Dir));
            }

            // As scenarios/cluster/crash-page-host.json (ClusterRunSpecs' journaled run), on
            // members this spec started, with wider margins, since real time decides the order:
            // page-2 lives on node 2, which the runner has kill itself at 8 s while the dio on
            // node 1 pins it (mmap'd and pinned well before the truncate at 5 s). The journal is
            // the point here, not how fast a loaded machine moves a shard: opBound is 10 s.
            var log = new StringWriter();
            var result = await Task.Run(() => new ClusterRuntime(new ClusterRunOptions
            {
                Join = seed,
                JoinNodes = 3,
                Runner = new NodeSettings { Port = 0 },
                Log = TextWriter.Synchronized(log),
            }).Run(ScenarioLoader.Parse(Scenario, "crash-page-host-postgres.json"), new RunSettings { Seed = 1 }))
                .WaitAsync(TimeSpan.FromMinutes(3));

            var output = $"{log}\n--- members\n{string.Join("\n", members.SelectMany(m => m.Lines))}";
            Assert.True(result.Verdict == Verdict.Clean, $"{result.Violation?.Description}\n{output}");
            Assert.Contains("persistent entities", log.ToString());
            var dio = result.Ops.Single(o => o.Op == "dioRead");
            var truncate = result.Ops.Single(o => o.Op == "truncate");
            Assert.Equal(("ok", "ok"), (dio.Result, truncate.Result));
            Assert.True(truncate.End >= dio.End, $"the truncate ended before the dio's put\n{output}");

            // The entities' inputs are in PostgreSQL, page-2's among them (what its new home replayed).
            await using var c = server.Connect();
            await using var q = c.CreateCommand();
            q.CommandText = "SELECT count(*) FROM journal WHERE persistence_id LIKE '%-page-2'";
            Assert.True((long)(await q.ExecuteScalarAsync())! > 0, $"no journaled input of page-2 in PostgreSQL\n{output}");
        }
        finally
        {
            foreach (var m in members)
            {
                m.Stop(TimeSpan.FromSeconds(8));
                m.Dispose();
            }
        }
    }
}
