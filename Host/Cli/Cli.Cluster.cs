using System.CommandLine;
using System.Runtime.InteropServices;
using DaxSim.Host.Cluster;
using DaxSim.Host.Runs;
using DaxSim.Protocol.Scenarios;

namespace DaxSim.Host.Cli;

// `daxsim node` (one cluster member) and the cluster flags of `daxsim run` (docs/cluster.md).
// Every flag falls back to an environment variable (docker-compose.yml sets those).
public sealed partial class Cli
{
    /// <summary>The flags that say where a process listens and which cluster it belongs to: node and run share them.</summary>
    private sealed class EndpointFlags
    {
        public readonly Option<string?> Port = new("--port")
        {
            Description = "Remoting port (DAXSIM_PORT; node: 4053, run: 0). 0 = any free port; a node then prints `listening on HOST:PORT`.",
        };
        public readonly Option<string?> Hostname = new("--hostname")
        {
            Description = "The host name or IP others address this process by (DAXSIM_HOSTNAME; default 127.0.0.1).",
        };
        public readonly Option<string?> Bind = new("--bind")
        {
            Description = "The address remoting binds to (DAXSIM_BIND; default 127.0.0.1: loopback unless told otherwise).",
        };
        public readonly Option<string?> ClusterName = new("--cluster-name")
        {
            Description = "The cluster's name, its ActorSystem name (DAXSIM_CLUSTER_NAME; default daxsim).",
        };
        public readonly Option<string?> TlsCert = new("--tls-cert")
        {
            Description = "Encrypt remoting with TLS, with this PKCS#12 (.pfx) certificate (DAXSIM_TLS_CERT).",
        };
        public readonly Option<string?> TlsPassword = new("--tls-password")
        {
            Description = "The certificate's password (DAXSIM_TLS_PASSWORD).",
        };

        public IEnumerable<Option> All => [Port, Hostname, Bind, ClusterName, TlsCert, TlsPassword];

        public NodeSettings Read(ParseResult parsed, int defaultPort)
        {
            var cert = NodeSettings.ParseCertificate(NodeSettings.FlagOrEnv(parsed.GetValue(TlsCert), "DAXSIM_TLS_CERT"), "--tls-cert");
            var password = NodeSettings.FlagOrEnv(parsed.GetValue(TlsPassword), "DAXSIM_TLS_PASSWORD");
            if (password is not null && cert is null)
            {
                throw new InputException("--tls-password needs --tls-cert");
            }
            var suppress = NodeSettings.ParseBool(NodeSettings.FlagOrEnv(null, "DAXSIM_TLS_SUPPRESS_VALIDATION"),
                "DAXSIM_TLS_SUPPRESS_VALIDATION");
            if (cert is not null)
            {
                NodeSettings.CheckCertificate(cert, password, suppress, "--tls-cert");
            }
            return new NodeSettings
            {
                Port = NodeSettings.ParseInt(NodeSettings.FlagOrEnv(parsed.GetValue(Port), "DAXSIM_PORT"), "--port", 0, 65535, defaultPort),
                Hostname = NodeSettings.ParseHost(NodeSettings.FlagOrEnv(parsed.GetValue(Hostname), "DAXSIM_HOSTNAME"), "--hostname", "127.0.0.1"),
                Bind = NodeSettings.ParseHost(NodeSettings.FlagOrEnv(parsed.GetValue(Bind), "DAXSIM_BIND"), "--bind", "127.0.0.1"),
                ClusterName = NodeSettings.ParseName(NodeSettings.FlagOrEnv(parsed.GetValue(ClusterName), "DAXSIM_CLUSTER_NAME"),
                    "--cluster-name", ClusterConfig.DefaultClusterName),
                TlsCertificate = cert,
                TlsPassword = password,
                TlsSuppressValidation = suppress,
                ProtocolVersion = NodeSettings.ProtocolVersionFromEnv(),
                LogLevel = NodeSettings.FlagOrEnv(null, "DAXSIM_LOG_LEVEL")?.ToUpperInvariant() switch
                {
                    null => "WARNING",
                    var l and ("DEBUG" or "INFO" or "WARNING" or "ERROR") => l,
                    var l => throw new InputException($"DAXSIM_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not '{l}'"),
                },
            };
        }
    }

    private sealed class NodeFlags
    {
        public readonly EndpointFlags Endpoint = new();
        public readonly Option<string?> Index = new("--index") { Description = "This member's node number, 0..1023 (DAXSIM_NODE_INDEX; default 0)." };
        public readonly Option<string?> Seeds = new("--seeds")
        {
            Description = "Seed members, host:port,host:port (DAXSIM_SEEDS). None: start a new cluster.",
        };
        public readonly Option<string?> Role = new("--role") { Description = "Cluster role (DAXSIM_ROLE; default sim)." };
        public readonly Option<string?> Journal = new("--journal")
        {
            Description = "The journal and snapshot store shared by all members (DAXSIM_JOURNAL): a SQLite file (members " +
                          "on one machine), or postgres://USER:PASSWORD@HOST:PORT/DATABASE (members on several).",
        };

        public Command Command()
        {
            var command = new Command("node", "Run one cluster member (Akka.Cluster with Cluster Sharding) until SIGTERM or Ctrl-C.")
            {
                Index, Seeds, Role, Journal,
            };
            foreach (var o in Endpoint.All)
            {
                command.Options.Add(o);
            }
            return command;
        }

        public NodeSettings Read(ParseResult parsed) => Endpoint.Read(parsed, ClusterConfig.DefaultPort) with
        {
            Index = NodeSettings.ParseInt(NodeSettings.FlagOrEnv(parsed.GetValue(Index), "DAXSIM_NODE_INDEX"), "--index", 0, ScenarioLoader.MaxNode, 0),
            Seeds = NodeSettings.ParseSeeds(NodeSettings.FlagOrEnv(parsed.GetValue(Seeds), "DAXSIM_SEEDS"), "--seeds"),
            Role = NodeSettings.ParseName(NodeSettings.FlagOrEnv(parsed.GetValue(Role), "DAXSIM_ROLE"), "--role", ClusterConfig.DefaultRole),
            Journal = NodeSettings.ParseJournal(NodeSettings.FlagOrEnv(parsed.GetValue(Journal), "DAXSIM_JOURNAL"), "--journal"),
        };
    }

    /// <summary>The cluster flags of `daxsim run`.</summary>
    private sealed class RunClusterFlags
    {
        public readonly EndpointFlags Endpoint = new();
        public readonly Option<string?> Nodes = new("--nodes")
        {
            Description = $"--runtime cluster: members to start on 127.0.0.1, 1..{ClusterRunOptions.MaxNodes} (default 3); " +
                          "with --join, the Up members to wait for (at most 60 s).",
        };
        public readonly Option<string?> Join = new("--join")
        {
            Description = "--runtime cluster: run on the running cluster that has a member at host:port instead (DAXSIM_JOIN).",
        };

        public void AddTo(Command run)
        {
            run.Options.Add(Nodes);
            run.Options.Add(Join);
            foreach (var o in Endpoint.All)
            {
                run.Options.Add(o);
            }
        }

        public bool AnyGiven(ParseResult parsed) =>
            parsed.GetValue(Nodes) is not null || parsed.GetValue(Join) is not null ||
            Endpoint.All.Any(o => parsed.GetResult(o) is { Implicit: false });

        public ClusterRunOptions Read(ParseResult parsed)
        {
            var nodesText = parsed.GetValue(Nodes);
            var join = NodeSettings.FlagOrEnv(parsed.GetValue(Join), "DAXSIM_JOIN");
            var nodes = NodeSettings.ParseInt(nodesText, "--nodes", 1, ClusterRunOptions.MaxNodes, 3);
            return new ClusterRunOptions
            {
                Nodes = nodes,
                Join = join is null ? null : NodeSettings.ParseHostPort(join, "--join"),
                // With --join, --nodes N waits until N members are Up (containers start together).
                JoinNodes = join is not null && nodesText is not null ? nodes : null,
                Runner = Endpoint.Read(parsed, 0),
            };
        }
    }

    private int Node(NodeSettings settings)
    {
        NodeHost host;
        try
        {
            host = NodeHost.Start(settings, address =>
            {
                stdout.WriteLine($"listening on {address.Host}:{address.Port}");
                stdout.Flush();
            });
        }
        catch (JoinRefusedException e)
        {
            stderr.WriteLine($"daxsim: {e.Message}");
            return ExitUsage;
        }
        catch (JournalUnavailableException e)
        {
            stderr.WriteLine($"daxsim: cannot start the member: {e.Message}");
            return ExitUsage;
        }
        catch (Exception e) when (e is Akka.Remote.RemoteTransportException or Akka.Configuration.ConfigurationException ||
                                  e.InnerException is System.Net.Sockets.SocketException)
        {
            stderr.WriteLine($"daxsim: cannot start the member on {settings.Bind}:{settings.Port}: {FirstLine(e)}");
            return ExitUsage;
        }
        using (host)
        {
            var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
            {
                c.Cancel = true;
                stop.TrySetResult();
            });
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c =>
            {
                c.Cancel = true;
                stop.TrySetResult();
            });
            host.Cluster.RegisterOnMemberUp(() =>
            {
                stdout.WriteLine($"member up: node {settings.Index}, {host.Cluster.State.Members.Count} member(s)");
                stdout.Flush();
            });
            Task.WaitAny(stop.Task, host.System.WhenTerminated);
            // A signal may also start Akka's own shutdown hook: the signal is the reason.
            stop.Task.Wait(TimeSpan.FromMilliseconds(200));
            if (stop.Task.IsCompleted)
            {
                stdout.WriteLine("leaving the cluster");
                stdout.Flush();
                host.Leave(TimeSpan.FromSeconds(15));
                return 0;
            }
            stdout.WriteLine("this member was removed from the cluster (downed); its ActorSystem stopped");
            stdout.Flush();
            return 0;
        }
    }

    private static string FirstLine(Exception e)
    {
        var inner = e;
        while (inner.InnerException is not null)
        {
            inner = inner.InnerException;
        }
        return inner.Message.Split('\n')[0].Trim();
    }
}
