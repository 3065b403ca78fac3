using DaxSim.Protocol.Scenarios;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace DaxSim.Testing;

/// <summary>
/// A scenario written in C# (docs/scenario-format.md), for fault-injection tests that build
/// their case in code:
/// <code>
/// var scenario = ScenarioBuilder.Named("two-pins")
///     .Device(blocks: 16)
///     .DaxFile("dax", pages: 4)
///     .PlainFile("src", pages: 4)
///     .Task("short", t => t.Mmap("dax", "0-3").DioRead("src", "dax", "0", ioTime: "10us", repeat: 60).Munmap("dax"))
///     .Task("truncate", repeat: 20, t => t.Truncate("dax", size: 0).Fallocate("dax", "0-3"));
/// Simulation.From(scenario).Explore(seeds: 200).AssertClean();
/// </code>
/// <para>
/// The builder does not check anything itself and does not make the scenario model: it writes
/// the JSON a scenario file would hold, key for key (<see cref="ToJson"/>), and
/// <see cref="Build"/> hands that text to <see cref="ScenarioLoader.Parse"/>. So a scenario built
/// here is exactly the one the same file gives (the same model, the same trace, seed for seed),
/// its defaults are the loader's (a key left out is a key the file leaves out), and a bad one
/// gets the loader's own errors in a <see cref="ScenarioException"/>: unknown files, tasks, ops
/// and variants with the valid names, page ranges outside a file, durations without a unit.
/// Their line and column are in <see cref="ToJson"/>'s text, and the source they name is
/// "(built) NAME". The text is also what a finding's report carries, so `daxsim replay` and the
/// shrinker work on a built scenario as on a file.
/// </para>
/// <para>
/// Names and values are written as the format writes them: page ranges as strings
/// (<c>"0-3"</c>, <c>"2"</c>), durations as strings with a unit (<c>"200us"</c>, <c>"1.5ms"</c>),
/// variants and verdicts by name. An argument left null is a key left out.
/// </para>
/// </summary>
public sealed class ScenarioBuilder
{
    private readonly JObject _root;
    private readonly JArray _files = [];
    private readonly JArray _processes = [];
    private readonly JArray _tasks = [];
    private readonly JArray _faults = [];

    private ScenarioBuilder(string name)
    {
        _root = new JObject { ["name"] = name };
    }

    /// <summary>A scenario named <paramref name="name"/> (its "name": any text that is not blank).</summary>
    public static ScenarioBuilder Named(string name) => new(name);

    /// <summary>"description": free text.</summary>
    public ScenarioBuilder Description(string text) => Set("description", text);

    /// <summary>"variant": the protocol version the scenario runs under unless the test picks another (Simulation.WithVariant).</summary>
    public ScenarioBuilder Variant(string variant) => Set("variant", variant);

    /// <summary>"device": { "blocks": N }. Without it the device has max(16, 2 x the DAX files' pages) blocks.</summary>
    public ScenarioBuilder Device(int blocks) => Set("device", new JObject { ["blocks"] = blocks });

    /// <summary>A DAX file (its pages are device blocks): { "name", "pages" }.</summary>
    public ScenarioBuilder DaxFile(string name, int pages)
    {
        _files.Add(new JObject { ["name"] = name, ["dax"] = true, ["pages"] = pages });
        return this;
    }

    /// <summary>A plain file (its data lives off the device), as a DIO's source or target: { "name", "dax": false, "pages" }.</summary>
    public ScenarioBuilder PlainFile(string name, int pages)
    {
        _files.Add(new JObject { ["name"] = name, ["dax"] = false, ["pages"] = pages });
        return this;
    }

    /// <summary>A process whose threads share one address space; its tasks name it (<c>process:</c>).</summary>
    public ScenarioBuilder Process(string name, Action<ProcessBuilder>? mappings = null)
    {
        var process = new JObject { ["name"] = name };
        if (mappings is not null)
        {
            var builder = new ProcessBuilder();
            mappings(builder);
            process["mmap"] = builder.Mappings;
        }
        _processes.Add(process);
        return this;
    }

    /// <summary>A task (a thread): its steps, run in order, the whole list <paramref name="repeat"/> times.</summary>
    public ScenarioBuilder Task(string name, Action<TaskBuilder> steps) => Task(name, null, null, null, steps);

    /// <summary>A task with "repeat".</summary>
    public ScenarioBuilder Task(string name, int repeat, Action<TaskBuilder> steps) => Task(name, repeat, null, null, steps);

    /// <summary>A task with any of "repeat", "process" (a declared process it is a thread of) and "node" (cluster placement).</summary>
    public ScenarioBuilder Task(string name, int? repeat, string? process, int? node, Action<TaskBuilder> steps)
    {
        var task = new JObject { ["name"] = name };
        Optional(task, "process", process);
        Optional(task, "repeat", repeat);
        Optional(task, "node", node);
        var builder = new TaskBuilder();
        steps(builder);
        task["steps"] = builder.Steps;
        _tasks.Add(task);
        return this;
    }

    /// <summary>A "signal" fault to one task at <paramref name="at"/>; <paramref name="restart"/>: its handler has SA_RESTART.</summary>
    public ScenarioBuilder Signal(string at, string task, bool? restart = null)
    {
        var fault = new JObject { ["kind"] = "signal", ["at"] = at, ["task"] = task };
        Optional(fault, "restart", restart);
        return Fault(fault);
    }

    /// <summary>A "kill" fault: SIGKILL to the task's process at <paramref name="at"/>.</summary>
    public ScenarioBuilder Kill(string at, string task) => Fault(new JObject { ["kind"] = "kill", ["at"] = at, ["task"] = task });

    /// <summary>An "enomem" fault: the task's next allocation that may fail does.</summary>
    public ScenarioBuilder Enomem(string at, string task) => Fault(new JObject { ["kind"] = "enomem", ["at"] = at, ["task"] = task });

    /// <summary>A "crashNode" fault (deterministic or cluster runtime).</summary>
    public ScenarioBuilder CrashNode(string at, int node) => Fault(new JObject { ["kind"] = "crashNode", ["at"] = at, ["node"] = node });

    /// <summary>A "partition" fault between groups of nodes.</summary>
    public ScenarioBuilder Partition(string at, params int[][] between) =>
        Fault(new JObject { ["kind"] = "partition", ["at"] = at, ["between"] = new JArray(between.Select(g => new JArray(g))) });

    /// <summary>A "heal" fault: the partitions end.</summary>
    public ScenarioBuilder Heal(string at) => Fault(new JObject { ["kind"] = "heal", ["at"] = at });

    /// <summary>A "drop" fault: protocol messages lost with <paramref name="probability"/>, optionally in [from, until).</summary>
    public ScenarioBuilder Drop(double probability, string? from = null, string? until = null) =>
        MessageFault("drop", probability, null, from, until);

    /// <summary>A "duplicate" fault.</summary>
    public ScenarioBuilder Duplicate(double probability, string? from = null, string? until = null) =>
        MessageFault("duplicate", probability, null, from, until);

    /// <summary>A "delay" fault: messages delayed by up to <paramref name="max"/>.</summary>
    public ScenarioBuilder Delay(double probability, string max, string? from = null, string? until = null) =>
        MessageFault("delay", probability, max, from, until);

    /// <summary>"limits": the keys given; the others keep their defaults.</summary>
    public ScenarioBuilder Limits(string? virtualTime = null, string? opBound = null, string? leaseBreakTime = null,
        long? maxDeliveries = null)
    {
        var limits = new JObject();
        Optional(limits, "virtualTime", virtualTime);
        Optional(limits, "opBound", opBound);
        Optional(limits, "leaseBreakTime", leaseBreakTime);
        Optional(limits, "maxDeliveries", maxDeliveries);
        return Set("limits", limits);
    }

    /// <summary>"expect": clean, safety or liveness (what `daxsim run` checks the verdict against).</summary>
    public ScenarioBuilder Expect(string verdict) => Set("expect", verdict);

    /// <summary>
    /// The scenario file this builder writes: keys in the order docs/scenario-format.md lists
    /// them, indented. Line and column of a <see cref="ScenarioException"/> from
    /// <see cref="Build"/> are in this text.
    /// </summary>
    public string ToJson()
    {
        var json = new JObject();
        foreach (var key in (string[])["name", "description", "variant", "device"])
        {
            if (_root[key] is { } value)
            {
                json[key] = value.DeepClone();
            }
        }
        json["files"] = _files.DeepClone();
        if (_processes.Count > 0)
        {
            json["processes"] = _processes.DeepClone();
        }
        json["tasks"] = _tasks.DeepClone();
        if (_faults.Count > 0)
        {
            json["faults"] = _faults.DeepClone();
        }
        foreach (var key in (string[])["limits", "expect"])
        {
            if (_root[key] is { } value)
            {
                json[key] = value.DeepClone();
            }
        }
        return json.ToString(Formatting.Indented);
    }

    /// <summary>The scenario, read by <see cref="ScenarioLoader.Parse"/> from <see cref="ToJson"/>.</summary>
    /// <exception cref="ScenarioException">The loader rejects it; every problem is listed, as for a file.</exception>
    public Scenario Build() => ScenarioLoader.Parse(ToJson(), Source);

    /// <summary>What errors and reports name the scenario by: "(built) NAME".</summary>
    public string Source => $"(built) {(string?)_root["name"]}";

    private ScenarioBuilder Set(string key, JToken value)
    {
        _root[key] = value;
        return this;
    }

    private ScenarioBuilder Fault(JObject fault)
    {
        _faults.Add(fault);
        return this;
    }

    private ScenarioBuilder MessageFault(string kind, double probability, string? max, string? from, string? until)
    {
        var fault = new JObject { ["kind"] = kind, ["probability"] = probability };
        Optional(fault, "max", max);
        Optional(fault, "from", from);
        Optional(fault, "until", until);
        return Fault(fault);
    }

    internal static void Optional(JObject o, string key, object? value)
    {
        if (value is not null)
        {
            o[key] = JToken.FromObject(value);
        }
    }
}

/// <summary>The steps of one task, in order (docs/scenario-format.md, "Steps"). Each takes an optional "repeat".</summary>
public sealed class TaskBuilder
{
    internal JArray Steps { get; } = [];

    /// <summary>mmap(MAP_SHARED) of <paramref name="pages"/> of a DAX file in the task's process.</summary>
    public TaskBuilder Mmap(string file, string pages, int? repeat = null) => Step("mmap", repeat, ("file", file), ("pages", pages));

    /// <summary>munmap of the process's mapping of the file.</summary>
    public TaskBuilder Munmap(string file, int? repeat = null) => Step("munmap", repeat, ("file", file));

    /// <summary>Fault the pages in (install PTEs).</summary>
    public TaskBuilder Touch(string file, string pages, int? repeat = null) => Step("touch", repeat, ("file", file), ("pages", pages));

    /// <summary>O_DIRECT read of <paramref name="from"/> into the mapping of <paramref name="into"/>; async: AIO (pins outlive the call).</summary>
    public TaskBuilder DioRead(string from, string into, string pages, string? ioTime = null, bool? async = null, int? repeat = null) =>
        Step("dioRead", repeat, ("from", from), ("into", into), ("pages", pages), ("ioTime", ioTime), ("async", async));

    /// <summary>O_DIRECT write to <paramref name="to"/> from the mapping of <paramref name="from"/>.</summary>
    public TaskBuilder DioWrite(string from, string to, string pages, string? ioTime = null, bool? async = null, int? repeat = null) =>
        Step("dioWrite", repeat, ("from", from), ("to", to), ("pages", pages), ("ioTime", ioTime), ("async", async));

    /// <summary>Set the file's size to <paramref name="size"/> pages.</summary>
    public TaskBuilder Truncate(string file, int size, int? repeat = null) => Step("truncate", repeat, ("file", file), ("size", size));

    public TaskBuilder PunchHole(string file, string pages, int? repeat = null) => Step("punchHole", repeat, ("file", file), ("pages", pages));

    public TaskBuilder ZeroRange(string file, string pages, int? repeat = null) => Step("zeroRange", repeat, ("file", file), ("pages", pages));

    public TaskBuilder CollapseRange(string file, string pages, int? repeat = null) => Step("collapseRange", repeat, ("file", file), ("pages", pages));

    public TaskBuilder InsertRange(string file, string pages, int? repeat = null) => Step("insertRange", repeat, ("file", file), ("pages", pages));

    public TaskBuilder Fallocate(string file, string pages, int? repeat = null) => Step("fallocate", repeat, ("file", file), ("pages", pages));

    /// <summary>A pNFS client holding a layout lease for <paramref name="for"/> (or until recalled).</summary>
    public TaskBuilder HoldLease(string file, string @for, int? repeat = null) => Step("holdLease", repeat, ("file", file), ("for", @for));

    /// <summary>fsync of the file: each dirty DAX entry written back with the entry locked, <paramref name="ioTime"/> each.</summary>
    public TaskBuilder Fsync(string file, string? ioTime = null, int? repeat = null) => Step("fsync", repeat, ("file", file), ("ioTime", ioTime));

    /// <summary>Think time; random: a whole number of microseconds drawn from [0, for) from the run's seed.</summary>
    public TaskBuilder Sleep(string @for, bool? random = null, int? repeat = null) => Step("sleep", repeat, ("for", @for), ("random", random));

    private TaskBuilder Step(string op, int? repeat, params (string Key, object? Value)[] keys)
    {
        var step = new JObject { ["op"] = op };
        foreach (var (key, value) in keys)
        {
            ScenarioBuilder.Optional(step, key, value);
        }
        ScenarioBuilder.Optional(step, "repeat", repeat);
        Steps.Add(step);
        return this;
    }
}

/// <summary>The mappings a process makes before any of its threads runs (its "mmap").</summary>
public sealed class ProcessBuilder
{
    internal JArray Mappings { get; } = [];

    /// <summary>mmap(MAP_SHARED) of <paramref name="pages"/> of a DAX file, as main() maps a buffer before starting threads.</summary>
    public ProcessBuilder Mmap(string file, string pages)
    {
        Mappings.Add(new JObject { ["file"] = file, ["pages"] = pages });
        return this;
    }
}
