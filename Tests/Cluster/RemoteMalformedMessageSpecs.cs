using System.Collections.Concurrent;
using Akka.Actor;
using DaxSim.Host.Cluster;
using DaxSim.Host.Runs;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Scenarios;
using Xunit;
using Envelope = DaxSim.Protocol.Messages.Envelope;

namespace DaxSim.Tests.Cluster;

/// <summary>
/// Malformed messages from the network, over real TCP: a `daxsim node` process runs a
/// scenario for a runner (in this process, `--join`), while a third ActorSystem (remote
/// provider, the cluster's name, on 127.0.0.1) finds the run's shard region on that member
/// and sends it, and the member's agent, what no run member would: junk objects, an object
/// of a type the member does not even have, an envelope for an entity the run lacks, a
/// GetPage for a page beyond the device (bare and enveloped), a PutPage without a get, and
/// a PutPage of another task's pin. The member logs a refusal for each (read from its
/// output) and stays up, and the run is untouched: clean, every operation ok, and the
/// truncate still waits for the dio's pins.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class RemoteMalformedMessageSpecs : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    // dio pins pages 0-1 for 3 s; the truncate comes at 1.5 s and waits for them; idle only
    // sleeps (it sends nothing to any entity, so envelopes in its name do not collide with its own).
    // The truncate must come after the dio's pins in real time: at 500 ms, a machine busy with
    // other work (load 14 on 2 cores) let it in before the dio's mmap and GUP, and the dio then
    // read into a truncated mapping (EFAULT), as it would in the kernel.
    private const string ScenarioText = """
        { "name": "remote-junk", "device": { "blocks": 4 },
          "files": [ { "name": "dax", "dax": true, "pages": 2 }, { "name": "src", "dax": false, "pages": 2 } ],
          "tasks": [
            { "name": "dio", "steps": [
                { "op": "mmap", "file": "dax", "pages": "0-1" },
                { "op": "dioRead", "from": "src", "into": "dax", "pages": "0-1", "ioTime": "3s" },
                { "op": "munmap", "file": "dax" } ] },
            { "name": "truncate", "steps": [
                { "op": "sleep", "for": "1500ms" },
                { "op": "truncate", "file": "dax", "size": 0 } ] },
            { "name": "idle", "steps": [ { "op": "sleep", "for": "4s" } ] } ],
          "limits": { "virtualTime": "30s" },
          "expect": "clean" }
        """;

    /// <summary>A type that exists only in the test assembly: the member cannot deserialize it.</summary>
    public sealed record NotADaxSimType(string What);

    private readonly string _dir = Directory.CreateTempSubdirectory("daxsim-remote-junk-").FullName;
    private NodeProcess? _member;
    private ActorSystem? _stranger;

    public void Dispose()
    {
        _stranger?.Terminate().Wait(TimeSpan.FromSeconds(10));
        if (_member is not null)
        {
            _member.Stop(TimeSpan.FromSeconds(8));
            _member.Dispose();
        }
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // best effort
        }
    }

    /// <summary>Collects whatever it is sent (the ActorIdentity replies to a wildcard Identify).</summary>
    private sealed class Collector : ReceiveActor
    {
        public Collector(ConcurrentQueue<object> into) => ReceiveAny(into.Enqueue);
    }

    [Fact]
    public async Task A_member_refuses_junk_sent_over_TCP_by_another_ActorSystem_and_its_run_stays_clean()
    {
        _member = NodeProcess.Start(0, ["--port", "0", "--hostname", "127.0.0.1", "--bind", "127.0.0.1", "--index", "0"], _dir);
        var hostPort = NodeSettings.ParseHostPort(await _member.Listening.WaitAsync(Bound), "member");

        var scenarioPath = Path.Combine(_dir, "remote-junk.json");
        File.WriteAllText(scenarioPath, ScenarioText);
        var scenario = ScenarioLoader.LoadFile(scenarioPath);
        var log = new StringWriter();
        var run = Task.Run(() => new ClusterRuntime(new ClusterRunOptions
        {
            Join = hostPort,
            // As `--join --nodes 1`: wait for the member to be Up (as the containers' runner does).
            JoinNodes = 1,
            Runner = new NodeSettings { Port = 0 },
            Log = TextWriter.Synchronized(log),
        }).Run(scenario, new RunSettings { Seed = 1 }));

        // The stranger: not a member, not the runner; the same system name, on loopback.
        _stranger = ActorSystem.Create(ClusterConfig.DefaultClusterName, ClusterConfig.Runner(new NodeSettings { Port = 0 }));
        var memberAddress = ClusterConfig.AddressOf(new NodeSettings(), hostPort.Host, hostPort.Port);
        var replies = new ConcurrentQueue<object>();
        var collector = _stranger.ActorOf(Props.Create(() => new Collector(replies)), "collector");
        IActorRef? region = null;
        var deadline = DateTime.UtcNow + Bound;
        while (region is null)
        {
            Assert.False(run.IsCompleted, $"the run ended before its region was found\n{log}");
            Assert.True(DateTime.UtcNow < deadline, $"the run's shard region did not appear on the member\n{log}");
            _stranger.ActorSelection(new RootActorPath(memberAddress) / "system" / "sharding" / "*")
                .Tell(new Identify("region"), collector);
            await Task.Delay(200); // real time is the point: a member in another process, over real remoting
            while (replies.TryDequeue(out var reply))
            {
                if (reply is ActorIdentity { Subject: { } subject } && subject.Path.Name.StartsWith("run-", StringComparison.Ordinal) &&
                    !subject.Path.Name.EndsWith("Coordinator", StringComparison.Ordinal))
                {
                    region = subject;
                }
            }
        }
        var agent = _stranger.ActorSelection(new RootActorPath(memberAddress) / "user" / "agent");

        var dio = Endpoint.Of(new TaskId(0));
        var idle = Endpoint.Of(new TaskId(2));
        var page0 = Endpoint.Of(new PageId(0));
        var stranger = Endpoint.Control(7);
        // Rounds until the run ends, so that some arrive while the dio holds its pins (real
        // time is the point: the run is real member processes on the wall clock).
        long seq = 0;
        while (await Task.WhenAny(run, Task.Delay(300)) != run)
        {
            seq++;
            region.Tell("junk");
            region.Tell(new NotADaxSimType("junk"));
            agent.Tell("junk");
            region.Tell(new Envelope(dio, Endpoint.Of(new PageId(99)), seq,
                new GetPage(new PageId(99), new TaskId(0), new FileId(0), 0, seq)));
            region.Tell(new GetPage(new PageId(50), new TaskId(0), new FileId(0), 0, seq));
            region.Tell(new Envelope(dio, page0, seq, new GetPage(new PageId(50), new TaskId(0), new FileId(0), 0, seq)));
            // A put without a get, in its own task's name (in order: seq 1, 2, ...).
            region.Tell(new Envelope(idle, page0, seq, new PutPage(new PageId(0), new TaskId(2))));
            // A put of the dio's pin, from someone else.
            region.Tell(new Envelope(stranger, page0, seq, new PutPage(new PageId(0), new TaskId(0))));
            Assert.True(seq < 200, $"the run did not end\n{log}");
        }

        var result = await run;
        Assert.True(result.Verdict == Verdict.Clean, $"{result.Violation?.Description}\n{log}");
        Assert.True(seq >= 3, $"only {seq} round(s) of junk were sent during the run\n{log}");
        Assert.Equal(6, result.Ops.Count);
        Assert.All(result.Ops, o => Assert.Equal("ok", o.Result));
        var dioRead = result.Ops.Single(o => o.Op == "dioRead");
        var truncate = result.Ops.Single(o => o.Op == "truncate");
        // The pins held: the truncate ended only after the dio's I/O of 3 s had put them.
        Assert.True(truncate.End >= dioRead.End, $"the truncate ended at {truncate.End}, before the dio's put at {dioRead.End}\n{log}");

        // The member said no to each, and is still up.
        Assert.False(_member.HasExited, "the member died");
        var output = string.Join("\n", _member.Lines);
        Assert.Contains("refused junk: not a message for an entity of this run", output);
        Assert.Contains("junk is not part of the run protocol", output);
        Assert.Contains(nameof(NotADaxSimType), output);
        Assert.Contains("the run has no entity 'page-99'", output);
        Assert.Contains("the run has no entity 'page-50'", output);
        Assert.Contains("GetPage is for page-50, not page-0", output);
        Assert.Contains("task-2 holds no reference on page-0", output);
        Assert.Contains("PutPage names task-0 but came from control-7", output);
    }
}
