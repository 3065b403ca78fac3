using DaxSim.Tests.Cli;
using Xunit;

namespace DaxSim.Tests.Cluster;

/// <summary>Bad cluster flags: exit 2, one clear line, no stack trace, nothing started.</summary>
public sealed class ClusterFlagSpecs : CliHarness
{
    [Theory]
    [InlineData("--port", "70000", "--port must be an integer between 0 and 65535")]
    [InlineData("--port", "abc", "--port must be an integer")]
    [InlineData("--index", "-1", "--index must be an integer between 0 and 1023")]
    [InlineData("--seeds", "127.0.0.1", "--seeds: '127.0.0.1' is not host:port")]
    [InlineData("--seeds", "a:1,,b:2", "--seeds")]
    [InlineData("--seeds", "host:0", "the port of 'host:0'")]
    [InlineData("--cluster-name", "bad name", "--cluster-name must be letters")]
    [InlineData("--role", "-x", "--role must be letters")]
    [InlineData("--hostname", "a b", "--hostname must be a host name")]
    [InlineData("--bind", "", "--bind must be a host name")]
    [InlineData("--journal", "/no/such/dir/j.db", "--journal: the directory of")]
    [InlineData("--tls-cert", "/no/such.pfx", "--tls-cert: no certificate file")]
    public void Node_rejects_a_bad_flag(string flag, string value, string message)
    {
        var r = Invoke("node", flag, value);
        AssertUsageError(r, null, message);
    }

    [Fact]
    public void A_journal_file_that_is_not_a_sqlite_database_is_a_usage_error_that_names_it()
    {
        var journal = PathIn("garbage.db");
        var bytes = new byte[5000];
        new Random(13).NextBytes(bytes);
        File.WriteAllBytes(journal, bytes);

        AssertUsageError(Invoke("node", "--port", "0", "--hostname", "127.0.0.1", "--bind", "127.0.0.1",
            "--journal", journal), null, $"the journal {journal} cannot be used as a SQLite file", "not a database");
        Assert.Equal(bytes, File.ReadAllBytes(journal));
    }

    [Fact]
    public void A_certificate_the_members_would_refuse_is_a_usage_error_before_anything_starts()
    {
        var pfx = PathIn("self-signed.pfx");
        File.WriteAllBytes(pfx, TlsSpecs.SelfSigned().Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12, "right"));
        Assert.Null(Environment.GetEnvironmentVariable("DAXSIM_TLS_SUPPRESS_VALIDATION"));

        // Self-signed, without DAXSIM_TLS_SUPPRESS_VALIDATION: the peers would not validate it.
        AssertUsageError(Invoke("node", "--tls-cert", pfx, "--tls-password", "right"), null,
            "the certificate does not validate on this machine");
        var r = Invoke("node", "--tls-cert", pfx, "--tls-password", "right");
        Assert.Contains("DAXSIM_TLS_SUPPRESS_VALIDATION=true", r.Err);
        // The wrong password: the file does not open.
        AssertUsageError(Invoke("node", "--tls-cert", pfx, "--tls-password", "wrong"), null,
            "cannot open it as a PKCS#12 certificate");
        var report = PathIn("r.json");
        AssertUsageError(Invoke("run", Shipped("generic-503-punch"), "--runtime", "cluster", "--tls-cert", pfx,
            "--tls-password", "right", "--report", report), report, "the certificate does not validate on this machine");
    }

    [Fact]
    public void Node_rejects_a_bad_environment_variable_like_a_bad_flag()
    {
        Environment.SetEnvironmentVariable("DAXSIM_NODE_INDEX", "many");
        try
        {
            AssertUsageError(Invoke("node"), null, "--index must be an integer");
        }
        finally
        {
            Environment.SetEnvironmentVariable("DAXSIM_NODE_INDEX", null);
        }
    }

    [Theory]
    [InlineData("0", "--nodes must be an integer between 1 and 16")]
    [InlineData("17", "--nodes must be an integer between 1 and 16")]
    public void Run_rejects_a_node_count_out_of_range(string nodes, string message)
    {
        var report = PathIn("r.json");
        AssertUsageError(Invoke("run", Shipped("generic-503-punch"), "--runtime", "cluster", "--nodes", nodes,
            "--report", report), report, message);
    }

    [Fact]
    public void Run_rejects_cluster_flags_without_the_cluster_runtime()
    {
        AssertUsageError(Invoke("run", Shipped("generic-503-punch"), "--nodes", "3"), null, "need --runtime cluster");
    }

    [Fact]
    public void Run_rejects_a_node_count_out_of_range_with_join_too() =>
        AssertUsageError(Invoke("run", Shipped("generic-503-punch"), "--runtime", "cluster", "--nodes", "17",
            "--join", "127.0.0.1:4053"), null, "--nodes must be an integer between 1 and 16");

    [Fact]
    public void Run_rejects_a_bad_join_address() =>
        AssertUsageError(Invoke("run", Shipped("generic-503-punch"), "--runtime", "cluster", "--join", "nowhere"),
            null, "--join: 'nowhere' is not host:port");

    [Fact]
    public void Run_rejects_a_task_placed_on_a_node_the_run_does_not_have()
    {
        var file = WriteFile("s.json", """
            { "name": "s", "files": [ { "name": "dax", "pages": 1 } ],
              "tasks": [ { "name": "t", "node": 5, "steps": [ { "op": "touch", "file": "dax", "pages": "0" } ] } ] }
            """);
        AssertUsageError(Invoke("run", file, "--runtime", "cluster", "--nodes", "3"), null,
            "task 't' is placed on node 5, but the run has 3 node(s)");
    }

    [Fact]
    public void Run_rejects_a_crash_of_a_node_the_run_does_not_have()
    {
        var file = WriteFile("s.json", """
            { "name": "s", "files": [ { "name": "dax", "pages": 1 } ],
              "tasks": [ { "name": "t", "steps": [ { "op": "touch", "file": "dax", "pages": "0" } ] } ],
              "faults": [ { "at": "1s", "kind": "crashNode", "node": 3 } ] }
            """);
        AssertUsageError(Invoke("run", file, "--runtime", "cluster", "--nodes", "3"), null,
            "a crashNode fault names node 3, but the run has 3 node(s)");
    }

    [Fact]
    public void The_local_runtime_still_rejects_node_faults()
    {
        var file = Path.Combine(Support.Scenarios.Directory, "cluster", "crash-pinning-node.json");
        AssertUsageError(Invoke("run", file), null, "fault 'crashNode' needs --runtime deterministic", "--runtime cluster");
    }
}
