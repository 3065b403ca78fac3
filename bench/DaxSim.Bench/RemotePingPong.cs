using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using DaxSim.Host.Cluster;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using Envelope = DaxSim.Protocol.Messages.Envelope;

namespace DaxSim.Bench;

/// <summary>
/// Raw Akka.Remote between two processes on loopback: the fair baseline for the cluster's
/// messages between nodes. The bench starts a copy of itself (<c>--remote-pong</c>) whose
/// one actor answers every <see cref="Envelope"/> with its <see cref="Ack"/>; the bench's
/// pingers keep a fixed number of envelopes in flight. Both processes use the cluster
/// runtime's own remoting configuration (<see cref="ClusterConfig.Runner"/>: the same
/// transport stack, throttler adapter included, and the same serializers), and the ball is
/// what the cluster sends most: an envelope from a task to a page carrying a PutPage, and its
/// ack. Nothing else runs: no sharding, no reliable-delivery bookkeeping, no trace, no checker.
/// Messages count both directions (an envelope and its ack are two messages).
/// </summary>
public static class RemotePingPong
{
    public const string ChildFlag = "--remote-pong";

    /// <summary>Per-window rates after the warm-up; the figure is their median.</summary>
    public sealed record Result(int InFlight, TimeSpan Warmup, TimeSpan Window, IReadOnlyList<double> Rates,
        double WarmupRate, double ProcessCpuPerWall)
    {
        public double MessagesPerSecond => Median(Rates);
    }

    private sealed class Pong : ReceiveActor
    {
        public Pong()
        {
            Receive<Envelope>(e => Sender.Tell(new Ack(e.To, e.From, e.Seq), Self));
        }
    }

    private sealed record Go(IActorRef Pong, int InFlight);

    private sealed class Pinger : ReceiveActor
    {
        private IActorRef _pong = ActorRefs.Nobody;
        private long _seq;

        public Pinger(int id, long[] counts)
        {
            var from = Endpoint.Of(new TaskId(id));
            var to = Endpoint.Of(new PageId(id));
            var payload = new PutPage(new PageId(id), new TaskId(id));
            Receive<Go>(g =>
            {
                _pong = g.Pong;
                for (var i = 0; i < g.InFlight; i++)
                {
                    _pong.Tell(new Envelope(from, to, ++_seq, payload), Self);
                }
            });
            Receive<Ack>(_ =>
            {
                // One slot per pinger, written only by it: the sampler reads them.
                Volatile.Write(ref counts[id], counts[id] + 2);
                _pong.Tell(new Envelope(from, to, ++_seq, payload), Self);
            });
        }
    }

    /// <summary>The child: serve /user/pong until stdin closes (the parent ends or kills it).</summary>
    public static int Child()
    {
        using var system = ActorSystem.Create("pong", ClusterConfig.Runner(new NodeSettings { Port = 0 }));
        system.ActorOf(Props.Create(() => new Pong()), "pong");
        var address = ((ExtendedActorSystem)system).Provider.DefaultAddress;
        Console.WriteLine($"listening on {address.Host}:{address.Port}");
        Console.Out.Flush();
        Console.In.ReadToEnd();
        system.Terminate().Wait(TimeSpan.FromSeconds(5));
        return 0;
    }

    /// <summary>Starts the child, warms up, then measures <paramref name="windows"/> windows.</summary>
    public static Result Measure(int pingers, int inFlightEach, TimeSpan warmup, TimeSpan window, int windows)
    {
        var (file, prefix) = SelfCommand();
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in prefix.Append(ChildFlag))
        {
            info.ArgumentList.Add(a);
        }
        using var child = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        try
        {
            var line = child.StandardOutput.ReadLine() ?? throw new InvalidOperationException(
                $"the pong process exited: {child.StandardError.ReadToEnd()}");
            const string listening = "listening on ";
            if (!line.StartsWith(listening, StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"the pong process said '{line}'");
            }
            var hostPort = line[listening.Length..].Split(':');
            var settings = new NodeSettings { Port = 0, ClusterName = "pong" };
            using var system = ActorSystem.Create("ping", ClusterConfig.Runner(settings));
            var pongPath = new RootActorPath(ClusterConfig.AddressOf(settings, hostPort[0],
                int.Parse(hostPort[1], CultureInfo.InvariantCulture))) / "user" / "pong";
            var pong = system.ActorSelection(pongPath).ResolveOne(TimeSpan.FromSeconds(20)).Result;
            var counts = new long[pingers];
            for (var i = 0; i < pingers; i++)
            {
                var id = i;
                system.ActorOf(Props.Create(() => new Pinger(id, counts)), $"pinger-{i}").Tell(new Go(pong, inFlightEach));
            }
            long Total()
            {
                long sum = 0;
                for (var i = 0; i < counts.Length; i++)
                {
                    sum += Volatile.Read(ref counts[i]);
                }
                return sum;
            }
            var clock = Stopwatch.StartNew();
            Thread.Sleep(warmup);
            var warmupRate = Total() / clock.Elapsed.TotalSeconds;
            var rates = new List<double>();
            using var self = Process.GetCurrentProcess();
            var cpu0 = self.TotalProcessorTime + CpuOf(child);
            var wall0 = clock.Elapsed;
            for (var w = 0; w < windows; w++)
            {
                var c0 = Total();
                var t0 = clock.Elapsed;
                Thread.Sleep(window);
                rates.Add((Total() - c0) / (clock.Elapsed - t0).TotalSeconds);
            }
            self.Refresh();
            var cpu = (self.TotalProcessorTime + CpuOf(child) - cpu0).TotalSeconds / (clock.Elapsed - wall0).TotalSeconds;
            system.Terminate().Wait(TimeSpan.FromSeconds(10));
            return new Result(pingers * inFlightEach, warmup, window, rates, warmupRate, cpu);
        }
        finally
        {
            try
            {
                child.StandardInput.Close();
                if (!child.WaitForExit(TimeSpan.FromSeconds(10)))
                {
                    child.Kill();
                }
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
        }
    }

    private static TimeSpan CpuOf(Process p)
    {
        try
        {
            p.Refresh();
            return p.TotalProcessorTime;
        }
        catch (InvalidOperationException)
        {
            return TimeSpan.Zero;
        }
    }

    /// <summary>How to start this bench again: its apphost, or the dotnet host and its dll.</summary>
    private static (string File, string[] Prefix) SelfCommand()
    {
        var process = Environment.ProcessPath;
        if (process is not null && Path.GetFileNameWithoutExtension(process) == "daxsim-bench")
        {
            return (process, []);
        }
        var dll = typeof(RemotePingPong).Assembly.Location;
        var apphost = Path.Combine(Path.GetDirectoryName(dll)!, "daxsim-bench");
        return File.Exists(apphost) ? (apphost, []) : ("dotnet", [dll]);
    }

    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN
            : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2]
            : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
