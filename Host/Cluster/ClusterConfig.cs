using System.Globalization;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using DaxSim.Host.Runs;

namespace DaxSim.Host.Cluster;

/// <summary>
/// The one place where the cluster runtime's Akka configuration is built (docs/cluster.md):
/// for a member (`daxsim node`) and for the runner (`daxsim run --runtime cluster`), which
/// speaks remoting with the same transport stack but is not a cluster member.
/// </summary>
public static class ClusterConfig
{
    /// <summary>
    /// The version of DaxSim's cluster protocol (run protocol and entity messages). Members
    /// refuse to join, and down, a member that announces another one. 2: Envelope and Ack
    /// carry incarnations (docs/cluster.md, "Incarnations"). 3: the seed farm's messages go
    /// through Hyperion, not Newtonsoft.Json (WireTypes.Farm).
    /// </summary>
    public const int ProtocolVersion = 3;

    public const string DefaultClusterName = "daxsim";

    public const string DefaultRole = "sim";

    public const int DefaultPort = 4053;

    /// <summary>Shards of a run's entity type. Entity n lives in shard n mod this (docs/cluster.md).</summary>
    public const int Shards = 64;

    /// <summary>
    /// The transport's scheme: dot-netty tcp under the throttler adapter (trttl), which is
    /// how the runner partitions members. Everyone (members and runner) uses the same stack,
    /// since an address's scheme names it.
    /// </summary>
    public const string Protocol = "akka.trttl.tcp";

    /// <summary>
    /// The scheme with TLS on: DotNetty's transport calls itself `ssl.tcp` when
    /// `enable-ssl = true`, so a TLS member's address is akka.trttl.ssl.tcp://NAME@HOST:PORT.
    /// A plain process addresses a TLS member (and the other way round) by another scheme,
    /// which its transport does not serve: the two never talk.
    /// </summary>
    public const string TlsProtocol = "akka.trttl.ssl.tcp";

    /// <summary>The scheme of processes with these settings: TLS or plain.</summary>
    public static string ProtocolOf(NodeSettings s) => s.TlsCertificate is null ? Protocol : TlsProtocol;

    /// <summary>The address of a member's (or the runner's) ActorSystem, by the scheme these settings use.</summary>
    public static Address AddressOf(NodeSettings s, string host, int port) => new(ProtocolOf(s), s.ClusterName, host, port);

    public static Config Member(NodeSettings s) => ConfigurationFactory.ParseString(MemberHocon(s));

    public static Config Runner(NodeSettings s) => ConfigurationFactory.ParseString(RunnerHocon(s));

    public static string MemberHocon(NodeSettings s)
    {
        var hocon = new StringBuilder();
        hocon.Append($$"""
            daxsim {
              protocol-version = {{s.ProtocolVersion}}
              node-index = {{s.Index}}
              cluster-dispatcher {
                type = ForkJoinDispatcher
                throughput = 30
                dedicated-thread-pool {
                  thread-count = 2
                }
              }
            }
            {{AkkaLogging.Hocon(s.LogLevel)}}
            akka {
              actor {
                provider = cluster
                # Messages between actors of one process are not serialized (the default; stated).
                serialize-messages = off
                serialize-creators = off
            {{Serialization()}}
              }
            {{Transport(s)}}
              cluster {
                # No seed-nodes here: NodeHost joins the seeds itself, after it has checked
                # that they speak the same daxsim.protocol-version.
                seed-nodes = []
                roles = [{{Quote(s.Role)}}]
                log-info = off
                # The cluster's own actors (heartbeats, gossip, the failure detector's bookkeeping)
                # on two dedicated threads, not the thread pool that the run's actors keep busy:
                # on a loaded machine the pool's queue delayed heartbeats by over a second, and
                # members were marked unreachable and downed in runs without faults.
                use-dispatcher = "daxsim.cluster-dispatcher"
                periodic-tasks-initial-delay = 100ms
                gossip-interval = 250ms
                leader-actions-interval = 250ms
                unreachable-nodes-reaper-interval = 250ms
                # A crashed member is unreachable ~2 s after its last heartbeat, downed by the
                # split-brain resolver 2 s later (stable-after), removed within a gossip round:
                # its pins are released well within 10 s (docs/cluster.md, measured there).
                failure-detector {
                  heartbeat-interval = 500ms
                  acceptable-heartbeat-pause = 1500ms
                  expected-response-after = 500ms
                  threshold = 8.0
                }
                downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
                split-brain-resolver {
                  active-strategy = keep-majority
                  stable-after = 2s
                  keep-majority.role = {{Quote(DefaultRole)}}
                }
                # A downed member leaves: its ActorSystem terminates, and `daxsim node` exits.
                run-coordinated-shutdown-when-down = on
                sharding {
                  role = {{Quote(DefaultRole)}}
                  remember-entities = off
                  state-store-mode = ddata
                  retry-interval = 200ms
                  shard-start-timeout = 2s
                  handoff-timeout = 10s
                  rebalance-interval = 3600s
                  coordinator-failure-backoff = 1s
                  waiting-for-state-timeout = 2s
                  updating-state-timeout = 2s
                  coordinator-state {
                    write-majority-plus = 0
                    read-majority-plus = 0
                  }
                }
              }
              coordinated-shutdown {
                exit-clr = off
                phases.cluster-exiting.timeout = 3s
              }
            {{Persistence(s.Journal)}}
            }
            """);
        return hocon.ToString();
    }

    public static string RunnerHocon(NodeSettings s) => $$"""
        {{AkkaLogging.Hocon(s.LogLevel)}}
        akka {
          actor {
            provider = remote
            serialize-messages = off
            serialize-creators = off
        {{Serialization()}}
          }
        {{Transport(s)}}
          coordinated-shutdown.exit-clr = off
        }
        """;

    /// <summary>
    /// Envelopes, acks, trace batches, journaled inputs and the seed farm's messages go through
    /// Hyperion (WireTypes explains why and how);
    /// members and the runner must agree, so both get this block.
    /// </summary>
    public static string Serialization()
    {
        static string Name(Type t) => $"{t.FullName}, {t.Assembly.GetName().Name}";
        var bindings = string.Join("\n", WireTypes.Bound.Select(t => $"      {Quote(Name(t))} = hyperion"));
        return $$"""
                serializers.hyperion = "Akka.Serialization.HyperionSerializer, Akka.Serialization.Hyperion"
                serialization-bindings {
            {{bindings}}
                }
                serialization-settings.hyperion {
                  preserve-object-references = false
                  version-tolerance = false
                  disallow-unsafe-type = true
                  # No known-types-provider: with WireTypes' types as known types (sent as numbers),
                  # shard regions failed to register in every cluster run measured (the cause is
                  # not understood); type names it is.
                  # No allowed-types list: Hyperion 0.12.2's type filter refuses even the listed
                  # Envelope when serializing; the unsafe-type block stays on.
                  allowed-types = []
                }
            """;
    }

    private static string Transport(NodeSettings s)
    {
        var tls = s.TlsCertificate is { } cert
            ? $$"""
                  enable-ssl = true
                  ssl {
                    certificate {
                      path = {{Quote(cert)}}
                      password = {{Quote(s.TlsPassword ?? "")}}
                    }
                    suppress-validation = {{(s.TlsSuppressValidation ? "true" : "false")}}
                  }
              """
            : "      enable-ssl = false";
        return $$"""
              remote {
                log-remote-lifecycle-events = off
                dot-netty.tcp {
                  # hostname is where remoting binds; public-hostname what others address it by.
                  hostname = {{Quote(s.Bind)}}
                  public-hostname = {{Quote(s.Hostname)}}
                  port = {{s.Port.ToString(CultureInfo.InvariantCulture)}}
                  applied-adapters = [trttl]
                  maximum-frame-size = 4MB
            {{tls}}
                }
              }
            """;
    }

    /// <summary>The `akka.persistence` section for a member's journal (a SQLite path or a postgres:// URL); empty without one.</summary>
    internal static string Persistence(string? journal)
    {
        if (journal is null)
        {
            return "";
        }
        if (!PostgresJournal.IsUrl(journal))
        {
            // A SQLite file: DaxSim's own journal plugin (SqliteWriteJournal), which commits the
            // member's writes in groups with one prepared insert. The entities take no
            // snapshots, so there is no snapshot store to ask at recovery.
            return $$"""
                  persistence {
                    journal {
                      plugin = "akka.persistence.journal.daxsim-sqlite"
                      daxsim-sqlite {
                        class = "DaxSim.Host.Cluster.SqliteWriteJournal, daxsim"
                        path = {{Quote(journal)}}
                      }
                    }
                    snapshot-store.plugin = "akka.persistence.no-snapshot-store"
                  }
                """;
        }
        // A postgres:// URL: PostgreSQL through Akka.Persistence.Sql and linq2db's Npgsql
        // provider (PostgresJournal).
        var connection = Quote(PostgresJournal.ConnectionString(journal, "the journal"));
        return $$"""
              persistence {
                journal {
                  plugin = "akka.persistence.journal.sql"
                  sql {
                    class = "Akka.Persistence.Sql.Journal.SqlWriteJournal, Akka.Persistence.Sql"
                    connection-string = {{connection}}
                    provider-name = "PostgreSQL.15"
                    auto-initialize = on
                  }
                }
                snapshot-store {
                  plugin = "akka.persistence.snapshot-store.sql"
                  sql {
                    class = "Akka.Persistence.Sql.Snapshot.SqlSnapshotStore, Akka.Persistence.Sql"
                    connection-string = {{connection}}
                    provider-name = "PostgreSQL.15"
                    auto-initialize = on
                  }
                }
              }
            """;
    }

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
