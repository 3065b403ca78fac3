using System.Globalization;
using System.Numerics;
using System.Text.RegularExpressions;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace DaxSim.Protocol.Scenarios;

/// <summary>
/// Reads scenario files (docs/scenario-format.md) strictly:
/// unknown keys, wrong types, unknown ops, kinds and variants, names of files or tasks
/// that do not exist, page ranges outside a file, durations without a unit and numbers
/// out of range are all errors. Every error found is reported (up to <see cref="MaxErrors"/>),
/// each with the file, line and column of the offending key or value.
/// </summary>
public static class ScenarioLoader
{
    public const int MaxErrors = 50;
    public const int MaxBlocks = 10_000_000;
    public const int MaxFilePages = 1_048_576;
    public const int MaxRepeat = 1_000_000;
    public const int MaxNode = 1023;
    public const long MaxDeliveries = 1_000_000_000_000;

    /// <exception cref="ScenarioException">The file cannot be read or is not a valid scenario.</exception>
    public static Scenario LoadFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new ScenarioException([new ScenarioError(path, 0, 0, $"cannot read the scenario file: {e.Message}")]);
        }
        return Parse(text, path);
    }

    /// <summary>Parses scenario text; <paramref name="source"/> names it in error messages.</summary>
    /// <exception cref="ScenarioException">The text is not a valid scenario.</exception>
    public static Scenario Parse(string text, string source)
    {
        try
        {
            var scenario = new ScenarioReader(source, text).Read() with { Source = source, Text = text };
            Observer.Value?.Invoke(text, true);
            return scenario;
        }
        catch (ScenarioException)
        {
            Observer.Value?.Invoke(text, false);
            throw;
        }
    }

    /// <summary>
    /// Tests only: sees every text this flow of control parses and whether it loaded, so that a
    /// spec can check the JSON Schema (docs/scenario.schema.json) against the loader's own cases.
    /// </summary>
    internal static readonly AsyncLocal<Action<string, bool>?> Observer = new();
}

/// <summary>One pass over one scenario's JSON, collecting errors rather than stopping at the first.</summary>
internal sealed partial class ScenarioReader(string source, string text)
{
    private static readonly string[] TopKeys = ["name", "description", "variant", "device", "files", "processes", "tasks", "faults", "limits", "expect"];

    // "$schema" names the JSON Schema an editor checks the file with (docs/scenario.schema.json):
    // any string, ignored here, and left out of the "expected one of" lists.
    private const string SchemaKey = "$schema";
    private static readonly string[] FaultKinds = ["signal", "kill", "enomem", "crashNode", "partition", "heal", "drop", "duplicate", "delay"];
    private static readonly TimeSpan DefaultIoTime = TimeSpan.FromTicks(1_000); // 100us
    private static readonly TimeSpan DefaultFlushTime = TimeSpan.FromTicks(100); // 10us

    private readonly List<ScenarioError> errors = [];
    private readonly string[] lines = text.Split('\n');
    private readonly Dictionary<string, FileSpec> files = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TaskId> tasks = new(StringComparer.Ordinal);
    // Declared processes by name: their token (for errors), mappings, and threads as tasks name them.
    private readonly Dictionary<string, (JToken Token, List<ProcessMmap> Mmaps, List<(TaskId Task, int? Node, JToken Where)> Threads)> processes =
        new(StringComparer.Ordinal);

    [GeneratedRegex(@"^[A-Za-z0-9_.\-]{1,64}$")]
    private static partial Regex Identifier();

    [GeneratedRegex(@"^\s*([0-9]{1,9})\s*(?:-\s*([0-9]{1,9})\s*)?$")]
    private static partial Regex RangeSyntax();

    public Scenario Read()
    {
        var root = ParseRoot("the scenario");
        if (root is not JObject obj)
        {
            Error(root, $"a scenario is a JSON object, not {Describe(root)}");
            throw Failed();
        }

        CheckKeys(obj, "the scenario", TopKeys, ["name", "files", "tasks"], quiet: SchemaKey);
        Text(obj[SchemaKey], $"\"{SchemaKey}\"");
        var name = Text(obj["name"], "\"name\"") ?? "";
        if (obj["name"] is { Type: JTokenType.String } && name.Trim().Length == 0)
        {
            Error(obj["name"]!, "\"name\" must not be empty");
        }
        Text(obj["description"], "\"description\"");
        var variant = ReadVariant(obj["variant"]);
        var fileList = ReadFiles(obj["files"]);
        var device = ReadDevice(obj["device"], fileList, obj["files"]);
        var processOrder = ReadProcesses(obj["processes"]);
        var taskList = ReadTasks(obj["tasks"]);
        var declared = DeclaredProcesses(processOrder);
        var faults = ReadFaults(obj["faults"]);
        var limits = ReadLimits(obj["limits"]);
        var expect = Verdict.Clean;
        if (Text(obj["expect"], "\"expect\"") is { } expectName)
        {
            if (!Verdicts.TryParse(expectName, out expect))
            {
                Error(obj["expect"]!, $"unknown verdict \"{expectName}\" for \"expect\"; expected clean, safety or liveness");
            }
        }
        if (errors.Count > 0)
        {
            throw Failed();
        }
        return new Scenario(name, variant, device, fileList, taskList, faults, limits, expect) { DeclaredProcesses = declared };
    }

    /// <summary>
    /// The text as a Json.NET tree with line information, after the strict syntax check;
    /// <paramref name="what"/> names the document in messages ("the scenario", "the load spec").
    /// </summary>
    private JToken ParseRoot(string what)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new ScenarioException([new ScenarioError(source, 0, 0, $"{what} is empty; expected a JSON object")]);
        }
        CheckStrictSyntax(what);
        JToken root;
        try
        {
            using var reader = new JsonTextReader(new StringReader(text)) { DateParseHandling = DateParseHandling.None, FloatParseHandling = FloatParseHandling.Double };
            root = JToken.ReadFrom(reader, new JsonLoadSettings
            {
                LineInfoHandling = LineInfoHandling.Load,
                DuplicatePropertyNameHandling = DuplicatePropertyNameHandling.Error,
                CommentHandling = CommentHandling.Ignore,
            });
            try
            {
                while (reader.Read())
                {
                    if (reader.TokenType != JsonToken.Comment)
                    {
                        throw new JsonReaderException("", "", reader.LineNumber, reader.LinePosition - 1, null);
                    }
                }
            }
            catch (JsonReaderException e)
            {
                // Json.NET itself rejects anything but comments after the root value.
                throw new ScenarioException([new ScenarioError(source, Math.Max(1, e.LineNumber), e.LinePosition + 1, $"unexpected text after {what}'s closing '}}'")]);
            }
        }
        catch (JsonReaderException e)
        {
            // Json.NET's LinePosition in an error is the 0-based index of the character it stopped
            // at; for a duplicate key it has already consumed the key and its ':'.
            var line = Math.Max(1, e.LineNumber);
            var column = e.Message.StartsWith("Property with the name ", StringComparison.Ordinal)
                ? KeyStart(line, e.LinePosition)
                : e.LinePosition + 1;
            throw new ScenarioException([new ScenarioError(source, line, column, JsonMessage(e.Message))]);
        }
        return root;
    }

    // --- sections ---------------------------------------------------------------------------

    /// <summary>An optional "variant": one of the known names (an unknown one is an error).</summary>
    private Variant? ReadVariant(JToken? token)
    {
        if (Text(token, "\"variant\"") is not { } name)
        {
            return null;
        }
        if (Variants.TryParse(name, out var variant, out var error))
        {
            return variant;
        }
        Error(token!, error);
        return null;
    }

    // "processes": [ { "name": "p", "mmap": [ { "file": "dax", "pages": "0-3" } ] } ]: address
    // spaces that threads (tasks naming the process) share, with the mappings made before any
    // thread runs. Returns the names in order.
    private List<string> ReadProcesses(JToken? token)
    {
        var order = new List<string>();
        if (token is null)
        {
            return order;
        }
        foreach (var item in Items(token, "\"processes\"", min: 0))
        {
            if (Object(item, "a process") is not { } o)
            {
                continue;
            }
            CheckKeys(o, "a process", ["name", "mmap"], ["name"]);
            var name = Name(o["name"], "process");
            var mmaps = new List<ProcessMmap>();
            foreach (var m in Items(o["mmap"], "\"mmap\"", min: 0))
            {
                if (Object(m, "a process's mmap") is not { } mo)
                {
                    continue;
                }
                CheckKeys(mo, "a process's mmap", ["file", "pages"], ["file", "pages"]);
                var file = FileRef(mo["file"], "\"file\"", dax: true);
                if (file is not null && Range(mo["pages"], file) is { } pages)
                {
                    if (mmaps.Any(x => x.File == file.Id))
                    {
                        Error(mo["file"]!, $"process \"{name}\" maps file \"{file.Name}\" twice; a process has one mapping of a file");
                        continue;
                    }
                    mmaps.Add(new ProcessMmap(file.Id, pages));
                }
            }
            if (name is null)
            {
                continue;
            }
            if (processes.ContainsKey(name))
            {
                Error(o["name"]!, $"a process named \"{name}\" is already defined");
                continue;
            }
            processes[name] = (o, mmaps, []);
            order.Add(name);
        }
        return order;
    }

    // After the tasks: each declared process with its threads, in declaration order; every
    // process needs a thread, and the threads of one process run on one node.
    private List<ProcessSpec> DeclaredProcesses(List<string> order)
    {
        var list = new List<ProcessSpec>();
        foreach (var name in order)
        {
            var (token, mmaps, threads) = processes[name];
            if (threads.Count == 0)
            {
                Error(token, $"process \"{name}\" has no thread: name it in a task's \"process\"");
                continue;
            }
            // Reported at the first thread whose node differs from the first node named.
            var nodes = threads.Where(t => t.Node is not null).ToList();
            var other = nodes.FindIndex(t => t.Node != nodes[0].Node);
            if (other >= 0)
            {
                Error(nodes[other].Where, $"the threads of process \"{name}\" must run on one node (one has \"node\" {nodes[0].Node}, this one {nodes[other].Node})");
            }
            list.Add(new ProcessSpec(new MmId(list.Count), name, threads.Select(t => t.Task).ToList(), mmaps, Implicit: false));
        }
        return list;
    }

    private List<FileSpec> ReadFiles(JToken? token)
    {
        var list = new List<FileSpec>();
        foreach (var item in Items(token, "\"files\"", min: 1))
        {
            if (Object(item, "a file") is not { } o)
            {
                continue;
            }
            CheckKeys(o, "a file", ["name", "dax", "pages"], ["name", "pages"]);
            var name = Name(o["name"], "file");
            var dax = Bool(o["dax"], "\"dax\"") ?? true;
            var pages = (int?)Int(o["pages"], "\"pages\"", 1, ScenarioLoader.MaxFilePages);
            if (name is null || pages is null)
            {
                continue;
            }
            if (files.ContainsKey(name))
            {
                Error(o["name"]!, $"a file named \"{name}\" is already defined");
                continue;
            }
            var spec = new FileSpec(new FileId(list.Count), name, dax, pages.Value);
            files.Add(name, spec);
            list.Add(spec);
        }
        return list;
    }

    private DeviceSpec ReadDevice(JToken? token, List<FileSpec> fileList, JToken? filesToken)
    {
        var daxPages = fileList.Where(f => f.Dax).Sum(f => (long)f.Pages);
        var fallback = (int)Math.Min(ScenarioLoader.MaxBlocks, Math.Max(16, 2 * daxPages));
        if (daxPages > ScenarioLoader.MaxBlocks && (token is not JObject d || d["blocks"] is null))
        {
            Error(filesToken!, $"the DAX files have {daxPages:N0} pages, more than the largest device ({ScenarioLoader.MaxBlocks:N0} blocks) holds");
        }
        if (token is null || Object(token, "\"device\"") is not { } o)
        {
            return new DeviceSpec(fallback);
        }
        CheckKeys(o, "\"device\"", ["blocks"], []);
        if (o["blocks"] is null)
        {
            return new DeviceSpec(fallback);
        }
        var blocks = Int(o["blocks"], "\"blocks\"", 1, ScenarioLoader.MaxBlocks);
        if (blocks is null)
        {
            return new DeviceSpec(fallback);
        }
        if (blocks < daxPages)
        {
            Error(o["blocks"]!, $"the device has {blocks} blocks, fewer than the {daxPages} pages of the DAX files");
        }
        return new DeviceSpec((int)blocks);
    }

    private List<TaskSpec> ReadTasks(JToken? token)
    {
        var items = Items(token, "\"tasks\"", min: 1).ToList();
        // Names first, so that a fault may name any task wherever it is defined.
        var names = new List<string?>();
        foreach (var item in items)
        {
            string? name = null;
            if (item is JObject o && Name(o["name"], "task") is { } n)
            {
                if (tasks.ContainsKey(n))
                {
                    Error(o["name"]!, $"a task named \"{n}\" is already defined");
                }
                else
                {
                    tasks.Add(n, new TaskId(names.Count));
                    name = n;
                }
            }
            names.Add(name);
        }
        var list = new List<TaskSpec>();
        for (var i = 0; i < items.Count; i++)
        {
            if (Object(items[i], "a task") is not { } o)
            {
                continue;
            }
            CheckKeys(o, "a task", ["name", "repeat", "node", "process", "steps"], ["name", "steps"]);
            var repeat = o["repeat"] is null ? 1 : Int(o["repeat"], "\"repeat\"", 1, ScenarioLoader.MaxRepeat);
            var node = o["node"] is null ? null : Int(o["node"], "\"node\"", 0, ScenarioLoader.MaxNode);
            if (Text(o["process"], "\"process\"") is { } process)
            {
                if (!processes.TryGetValue(process, out var declared))
                {
                    Error(o["process"]!, processes.Count == 0
                        ? $"unknown process \"{process}\"; declare it in \"processes\""
                        : $"unknown process \"{process}\"; expected one of: {string.Join(", ", processes.Keys)}");
                }
                else if (names[i] is not null)
                {
                    declared.Threads.Add((new TaskId(list.Count), (int?)node, o["node"] ?? o["process"]!));
                }
            }
            var steps = new List<Step>();
            foreach (var stepToken in Items(o["steps"], "\"steps\"", min: 1))
            {
                if (ReadStep(stepToken) is { } step)
                {
                    steps.Add(step);
                }
            }
            if (names[i] is { } name && repeat is not null)
            {
                list.Add(new TaskSpec(new TaskId(list.Count), name, (int)repeat, (int?)node, steps));
            }
        }
        return list;
    }

    private Step? ReadStep(JToken token)
    {
        if (Object(token, "a step") is not { } o)
        {
            return null;
        }
        if (o["op"] is null)
        {
            Error(o, $"a step needs \"op\", one of: {string.Join(", ", OpKinds.AllNames)}");
            return null;
        }
        if (Text(o["op"], "\"op\"") is not { } opName)
        {
            return null;
        }
        if (!OpKinds.TryParse(opName, out var op))
        {
            Error(o["op"]!, $"unknown op \"{opName}\"; expected one of: {string.Join(", ", OpKinds.AllNames)}");
            return null;
        }
        var what = $"{("aeiou".Contains(opName[0]) ? "an" : "a")} {opName} step";
        string[] keys = op switch
        {
            OpKind.Mmap or OpKind.Touch => ["file", "pages"],
            OpKind.Munmap => ["file"],
            OpKind.DioRead => ["from", "into", "pages", "ioTime", "async"],
            OpKind.DioWrite => ["from", "to", "pages", "ioTime", "async"],
            OpKind.Fsync => ["file", "ioTime"],
            OpKind.Truncate => ["file", "size"],
            OpKind.HoldLease => ["file", "for"],
            OpKind.Sleep => ["for", "random"],
            _ => ["file", "pages"],
        };
        CheckKeys(o, what, ["op", "repeat", .. keys], keys.Where(k => k is not ("ioTime" or "async" or "random")).ToArray());
        var repeat = (int)(o["repeat"] is null ? 1 : Int(o["repeat"], "\"repeat\"", 1, ScenarioLoader.MaxRepeat) ?? 1);
        switch (op)
        {
            case OpKind.Mmap or OpKind.Touch:
            {
                var file = FileRef(o["file"], "\"file\"", dax: true);
                var pages = file is null ? null : Range(o["pages"], file);
                return pages is null ? null : op == OpKind.Mmap ? new MmapStep(repeat, file!.Id, pages.Value) : new TouchStep(repeat, file!.Id, pages.Value);
            }
            case OpKind.Munmap:
                return FileRef(o["file"], "\"file\"", dax: true) is { } f ? new MunmapStep(repeat, f.Id) : null;
            case OpKind.DioRead or OpKind.DioWrite:
            {
                var read = op == OpKind.DioRead;
                var plainKey = read ? "from" : "to";
                var daxKey = read ? "into" : "from";
                // The file read or written may be plain or DAX (a DAX file's own I/O takes
                // its IOLOCK shared); the buffer is always a mapping of a DAX file.
                var plain = FileRef(o[plainKey], $"\"{plainKey}\"", dax: null);
                var mapped = FileRef(o[daxKey], $"\"{daxKey}\"", dax: true);
                var pages = mapped is null ? null : Range(o["pages"], mapped);
                if (pages is { } p && plain is not null && p.Last >= plain.Pages)
                {
                    Error(o["pages"]!, $"page range {p} is outside file \"{plain.Name}\" ({plain.Pages} pages, 0-{plain.Pages - 1})");
                    pages = null;
                }
                var ioTime = o["ioTime"] is null ? DefaultIoTime : Duration(o["ioTime"], "\"ioTime\"");
                var async = Bool(o["async"], "\"async\"") ?? false;
                if (plain is null || mapped is null || pages is null || ioTime is null)
                {
                    return null;
                }
                return read
                    ? new DioReadStep(repeat, plain.Id, mapped.Id, pages.Value, ioTime.Value, async)
                    : new DioWriteStep(repeat, mapped.Id, plain.Id, pages.Value, ioTime.Value, async);
            }
            case OpKind.Truncate:
            {
                var file = FileRef(o["file"], "\"file\"", dax: true);
                var size = Int(o["size"], "\"size\"", 0, file?.Pages ?? ScenarioLoader.MaxFilePages, file is null ? null : $"the size of file \"{file.Name}\"");
                return file is null || size is null ? null : new TruncateStep(repeat, file.Id, (int)size);
            }
            case OpKind.HoldLease:
            {
                var file = FileRef(o["file"], "\"file\"", dax: true);
                var span = Duration(o["for"], "\"for\"");
                return file is null || span is null ? null : new HoldLeaseStep(repeat, file.Id, span.Value);
            }
            case OpKind.Sleep:
            {
                var random = Bool(o["random"], "\"random\"") ?? false;
                var d = Duration(o["for"], "\"for\"", positive: random);
                return d is null ? null : new SleepStep(repeat, d.Value, random);
            }
            case OpKind.Fsync:
            {
                var file = FileRef(o["file"], "\"file\"", dax: true);
                var flush = o["ioTime"] is null ? DefaultFlushTime : Duration(o["ioTime"], "\"ioTime\"");
                return file is null || flush is null ? null : new FsyncStep(repeat, file.Id, flush.Value);
            }
            default:
            {
                var file = FileRef(o["file"], "\"file\"", dax: true);
                var pages = file is null ? null : Range(o["pages"], file);
                return pages is null ? null : new FallocateStep(repeat, op, file!.Id, pages.Value);
            }
        }
    }

    private List<FaultSpec> ReadFaults(JToken? token)
    {
        var list = new List<FaultSpec>();
        if (token is null)
        {
            return list;
        }
        foreach (var item in Items(token, "\"faults\"", min: 0))
        {
            if (Object(item, "a fault") is not { } o)
            {
                continue;
            }
            if (o["kind"] is null)
            {
                Error(o, $"a fault needs \"kind\", one of: {string.Join(", ", FaultKinds)}");
                continue;
            }
            if (Text(o["kind"], "\"kind\"") is not { } kind)
            {
                continue;
            }
            if (!FaultKinds.Contains(kind))
            {
                Error(o["kind"]!, $"unknown fault kind \"{kind}\"; expected one of: {string.Join(", ", FaultKinds)}");
                continue;
            }
            var what = $"{("aeiou".Contains(kind[0]) ? "an" : "a")} {kind} fault";
            if (ReadFault(o, kind, what) is { } fault)
            {
                list.Add(fault);
            }
        }
        return list;
    }

    private FaultSpec? ReadFault(JObject o, string kind, string what)
    {
        switch (kind)
        {
            case "signal" or "kill" or "enomem":
            {
                var signal = kind == "signal";
                CheckKeys(o, what, signal ? ["kind", "at", "task", "restart"] : ["kind", "at", "task"], ["at", "task"]);
                var at = Duration(o["at"], "\"at\"");
                var task = TaskRef(o["task"]);
                var restart = signal ? Bool(o["restart"], "\"restart\"") ?? false : false;
                if (at is null || task is null)
                {
                    return null;
                }
                return kind switch
                {
                    "signal" => new SignalFault(at.Value, task.Value, restart),
                    "kill" => new KillFault(at.Value, task.Value),
                    _ => new EnomemFault(at.Value, task.Value),
                };
            }
            case "crashNode":
            {
                CheckKeys(o, what, ["kind", "at", "node"], ["at", "node"]);
                var at = Duration(o["at"], "\"at\"");
                var node = Int(o["node"], "\"node\"", 0, ScenarioLoader.MaxNode);
                return at is null || node is null ? null : new CrashNodeFault(at.Value, (int)node);
            }
            case "partition":
            {
                CheckKeys(o, what, ["kind", "at", "between"], ["at", "between"]);
                var at = Duration(o["at"], "\"at\"");
                var groups = Groups(o["between"]);
                return at is null || groups is null ? null : new PartitionFault(at.Value, groups);
            }
            case "heal":
            {
                CheckKeys(o, what, ["kind", "at"], ["at"]);
                return Duration(o["at"], "\"at\"") is { } at ? new HealFault(at) : null;
            }
            default:
            {
                var delay = kind == "delay";
                CheckKeys(o, what, delay ? ["kind", "probability", "max", "from", "until"] : ["kind", "probability", "from", "until"],
                    delay ? ["probability", "max"] : ["probability"]);
                var probability = Probability(o["probability"]);
                var max = delay ? Duration(o["max"], "\"max\"", positive: true) : null;
                var from = o["from"] is null ? null : Duration(o["from"], "\"from\"");
                var until = o["until"] is null ? null : Duration(o["until"], "\"until\"");
                if (from is { } f && until is { } u && u <= f)
                {
                    Error(o["until"]!, $"\"until\" ({Durations.Format(u)}) must be later than \"from\" ({Durations.Format(f)})");
                    return null;
                }
                if (probability is null || (delay && max is null) || (o["from"] is not null && from is null) || (o["until"] is not null && until is null))
                {
                    return null;
                }
                var mode = kind switch { "drop" => MessageFaultKind.Drop, "duplicate" => MessageFaultKind.Duplicate, _ => MessageFaultKind.Delay };
                return new MessageFault(mode, probability.Value, max, from, until);
            }
        }
    }

    private IReadOnlyList<IReadOnlyList<int>>? Groups(JToken? token)
    {
        if (token is null)
        {
            return null;
        }
        var items = Items(token, "\"between\"", min: 2).ToList();
        if (items.Count < 2)
        {
            return null;
        }
        var groups = new List<IReadOnlyList<int>>();
        var seen = new HashSet<int>();
        var ok = true;
        foreach (var groupToken in items)
        {
            var group = new List<int>();
            var members = Items(groupToken, "a partition group", min: 1).ToList();
            ok &= members.Count > 0;
            foreach (var nodeToken in members)
            {
                if (Int(nodeToken, "a node", 0, ScenarioLoader.MaxNode) is not { } node)
                {
                    ok = false;
                }
                else if (!seen.Add((int)node))
                {
                    Error(nodeToken, $"node {node} is in more than one group of the partition");
                    ok = false;
                }
                else
                {
                    group.Add((int)node);
                }
            }
            groups.Add(group);
        }
        return ok ? groups : null;
    }

    private Limits ReadLimits(JToken? token)
    {
        var limits = Limits.Default;
        if (token is null || Object(token, "\"limits\"") is not { } o)
        {
            return limits;
        }
        CheckKeys(o, "\"limits\"", ["virtualTime", "opBound", "leaseBreakTime", "maxDeliveries"], []);
        if (o["virtualTime"] is not null && Duration(o["virtualTime"], "\"virtualTime\"", positive: true) is { } vt)
        {
            limits = limits with { VirtualTime = vt };
        }
        if (o["opBound"] is not null && Duration(o["opBound"], "\"opBound\"", positive: true) is { } ob)
        {
            limits = limits with { OpBound = ob };
        }
        if (o["leaseBreakTime"] is not null && Duration(o["leaseBreakTime"], "\"leaseBreakTime\"") is { } lb)
        {
            limits = limits with { LeaseBreakTime = lb };
        }
        if (o["maxDeliveries"] is not null && Int(o["maxDeliveries"], "\"maxDeliveries\"", 1, ScenarioLoader.MaxDeliveries) is { } md)
        {
            limits = limits with { MaxDeliveries = md };
        }
        return limits;
    }

    // --- values -----------------------------------------------------------------------------

    private IEnumerable<JToken> Items(JToken? token, string what, int min)
    {
        if (token is null)
        {
            return [];
        }
        if (token is not JArray array)
        {
            Error(token, $"{what} must be an array, not {Describe(token)}");
            return [];
        }
        if (array.Count < min)
        {
            Error(token, min == 1 ? $"{what} must not be empty" : $"{what} needs at least {min} entries");
        }
        return array;
    }

    private JObject? Object(JToken token, string what)
    {
        if (token is JObject o)
        {
            return o;
        }
        Error(token, $"{what} must be a JSON object, not {Describe(token)}");
        return null;
    }

    /// <param name="quiet">A key also allowed, but not listed in the message about an unknown key.</param>
    private void CheckKeys(JObject o, string what, string[] allowed, string[] required, string? quiet = null)
    {
        foreach (var property in o.Properties())
        {
            if (!allowed.Contains(property.Name, StringComparer.Ordinal) && property.Name != quiet)
            {
                var hint = allowed.FirstOrDefault(a => string.Equals(a, property.Name, StringComparison.OrdinalIgnoreCase));
                Error(property, hint is not null
                    ? $"unknown key \"{property.Name}\" in {what}; did you mean \"{hint}\"? (keys are case-sensitive)"
                    : $"unknown key \"{property.Name}\" in {what}; expected one of: {string.Join(", ", allowed)}");
            }
        }
        foreach (var key in required)
        {
            if (o[key] is null)
            {
                Error(o, $"{what} needs \"{key}\"");
            }
        }
    }

    private string? Text(JToken? token, string what)
    {
        if (token is null)
        {
            return null;
        }
        if (token.Type != JTokenType.String)
        {
            Error(token, $"{what} must be a string, not {Describe(token)}");
            return null;
        }
        return (string)token!;
    }

    private string? Name(JToken? token, string kind)
    {
        if (Text(token, $"a {kind}'s \"name\"") is not { } name)
        {
            return null;
        }
        if (!Identifier().IsMatch(name))
        {
            Error(token!, $"{kind} name \"{name}\" must be 1 to 64 letters, digits, '_', '.' or '-'");
            return null;
        }
        return name;
    }

    private bool? Bool(JToken? token, string what)
    {
        if (token is null)
        {
            return null;
        }
        if (token.Type != JTokenType.Boolean)
        {
            Error(token, $"{what} must be true or false, not {Describe(token)}");
            return null;
        }
        return (bool)token;
    }

    private long? Int(JToken? token, string what, long min, long max, string? maxName = null)
    {
        if (token is null)
        {
            return null;
        }
        if (token.Type == JTokenType.Float)
        {
            Error(token, $"{what} must be a whole number, not {token.ToString(Formatting.None)}");
            return null;
        }
        if (token.Type != JTokenType.Integer)
        {
            Error(token, $"{what} must be a number, not {Describe(token)}");
            return null;
        }
        var value = ((JValue)token).Value;
        var big = value is BigInteger b ? b : new BigInteger(Convert.ToInt64(value, CultureInfo.InvariantCulture));
        if (big < min || big > max)
        {
            var upper = maxName is null ? $"{max:N0}" : $"{max:N0} ({maxName})";
            Error(token, $"{what} is {big}, out of range: it must be from {min:N0} to {upper}");
            return null;
        }
        return (long)big;
    }

    private double? Probability(JToken? token)
    {
        if (token is null)
        {
            return null;
        }
        if (token.Type is not (JTokenType.Float or JTokenType.Integer))
        {
            Error(token, $"\"probability\" must be a number, not {Describe(token)}");
            return null;
        }
        var p = token.Value<double>();
        if (!(p > 0 && p <= 1))
        {
            Error(token, $"\"probability\" is {p.ToString(CultureInfo.InvariantCulture)}, out of range: it must be above 0 and at most 1");
            return null;
        }
        return p;
    }

    private TimeSpan? Duration(JToken? token, string what, bool positive = false)
    {
        if (token is null)
        {
            return null;
        }
        if (token.Type is JTokenType.Integer or JTokenType.Float)
        {
            Error(token, $"{what} is {token.ToString(Formatting.None)} without a unit; write a duration like \"{token.ToString(Formatting.None)}ms\" (units: ns, us, ms, s)");
            return null;
        }
        if (Text(token, what) is not { } s)
        {
            return null;
        }
        if (!Durations.TryParse(s, out var value, out var error))
        {
            Error(token, $"{what}: {error}");
            return null;
        }
        if (positive && value <= TimeSpan.Zero)
        {
            Error(token, $"{what} must be longer than 0");
            return null;
        }
        return value;
    }

    private FileSpec? FileRef(JToken? token, string what, bool? dax)
    {
        if (Text(token, what) is not { } name)
        {
            return null;
        }
        if (!files.TryGetValue(name, out var file))
        {
            Error(token!, files.Count == 0
                ? $"{what} names file \"{name}\", but no file is defined"
                : $"{what} names file \"{name}\", which is not defined; files: {string.Join(", ", files.Keys)}");
            return null;
        }
        if (dax is { } mustBeDax && file.Dax != mustBeDax)
        {
            Error(token!, mustBeDax
                ? $"{what} must name a DAX file, and \"{name}\" has \"dax\": false"
                : $"{what} must name a plain (non-DAX) file, and \"{name}\" is a DAX file");
            return null;
        }
        return file;
    }

    private TaskId? TaskRef(JToken? token)
    {
        if (Text(token, "\"task\"") is not { } name)
        {
            return null;
        }
        if (tasks.TryGetValue(name, out var id))
        {
            return id;
        }
        Error(token!, $"\"task\" names task \"{name}\", which is not defined; tasks: {string.Join(", ", tasks.Keys)}");
        return null;
    }

    private PageRange? Range(JToken? token, FileSpec file)
    {
        if (token is null)
        {
            return null;
        }
        int first, last;
        if (token.Type == JTokenType.Integer)
        {
            if (Int(token, "\"pages\"", 0, file.Pages - 1, $"the last page of file \"{file.Name}\"") is not { } n)
            {
                return null;
            }
            first = last = (int)n;
        }
        else if (token.Type == JTokenType.String)
        {
            var s = (string)token!;
            var m = RangeSyntax().Match(s);
            if (!m.Success)
            {
                Error(token, $"\"pages\" is \"{s}\"; a page range is \"first-last\" (inclusive) or one page number");
                return null;
            }
            first = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            last = m.Groups[2].Success ? int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) : first;
            if (last < first)
            {
                Error(token, $"page range \"{s}\" ends before it starts");
                return null;
            }
        }
        else
        {
            Error(token, $"\"pages\" must be a page range like \"0-3\" or a page number, not {Describe(token)}");
            return null;
        }
        if (last >= file.Pages)
        {
            Error(token, $"page range {first}{(first == last ? "" : $"-{last}")} is outside file \"{file.Name}\" ({file.Pages} pages, 0-{file.Pages - 1})");
            return null;
        }
        return new PageRange(first, last);
    }

    // --- errors -----------------------------------------------------------------------------

    private void Error(JToken token, string message)
    {
        var (line, column) = Locate(token);
        errors.Add(new ScenarioError(source, line, column, message));
    }

    private ScenarioException Failed() =>
        new(errors.OrderBy(e => e.Line).ThenBy(e => e.Column).Take(ScenarioLoader.MaxErrors).ToList());

    /// <summary>
    /// The 1-based line and column where a token starts. Json.NET records containers at
    /// their opening bracket but values and property names where they end, so those are
    /// walked back to their first character.
    /// </summary>
    private (int Line, int Column) Locate(JToken token)
    {
        var info = (IJsonLineInfo)token;
        if (!info.HasLineInfo())
        {
            return token.Parent is { } parent ? Locate(parent) : (1, 1);
        }
        int line = info.LineNumber, column = info.LinePosition;
        if (token is JContainer and not JProperty || line < 1 || line > lines.Length)
        {
            return (line, Math.Max(1, column));
        }
        var s = lines[line - 1];
        var end = Math.Min(column, s.Length) - 1; // 0-based index of the token's last character
        if (token is JProperty)
        {
            while (end >= 0 && s[end] != '"')
            {
                end--;
            }
        }
        if (end < 0)
        {
            return (line, Math.Max(1, column));
        }
        if (s[end] == '"')
        {
            for (var i = end - 1; i >= 0; i--)
            {
                if (s[i] != '"')
                {
                    continue;
                }
                var slashes = 0;
                for (var j = i - 1; j >= 0 && s[j] == '\\'; j--)
                {
                    slashes++;
                }
                if (slashes % 2 == 0)
                {
                    return (line, i + 1);
                }
            }
            return (line, Math.Max(1, column));
        }
        var start = end;
        while (start > 0 && !" \t,:[{".Contains(s[start - 1]))
        {
            start--;
        }
        return (line, start + 1);
    }

    /// <summary>
    /// Json.NET accepts more than JSON (single quotes, unquoted keys, trailing commas,
    /// NaN, hex numbers); a scenario must be plain JSON, with comments allowed, so the
    /// text goes through System.Text.Json's strict reader first.
    /// </summary>
    private void CheckStrictSyntax(string what)
    {
        try
        {
            using var _ = System.Text.Json.JsonDocument.Parse(text, new System.Text.Json.JsonDocumentOptions
            {
                CommentHandling = System.Text.Json.JsonCommentHandling.Skip,
                AllowTrailingCommas = false,
                MaxDepth = 64,
            });
        }
        catch (System.Text.Json.JsonException e)
        {
            var line = (int)(e.LineNumber ?? 0) + 1;
            var column = CharColumn(line, (int)(e.BytePositionInLine ?? 0));
            var message = e.Message;
            var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
            message = (cut > 0 ? message[..cut] : message).TrimEnd('.', ' ');
            if (message.Contains("after a single JSON value", StringComparison.Ordinal))
            {
                message = $"unexpected text after {what}'s closing '}}'";
            }
            else if (message.Contains("trailing comma", StringComparison.Ordinal))
            {
                message = "invalid JSON: a trailing comma is not allowed";
            }
            else
            {
                message = "invalid JSON: " + message;
            }
            throw new ScenarioException([new ScenarioError(source, line, column, message)]);
        }
    }

    /// <summary>The 1-based character column of a 0-based UTF-8 byte offset in a line.</summary>
    private int CharColumn(int line, int bytes)
    {
        if (line < 1 || line > lines.Length)
        {
            return bytes + 1;
        }
        var s = lines[line - 1];
        var chars = 0;
        var used = 0;
        while (chars < s.Length && used < bytes)
        {
            var width = char.IsHighSurrogate(s[chars]) && chars + 1 < s.Length ? 2 : 1;
            used += System.Text.Encoding.UTF8.GetByteCount(s.AsSpan(chars, width));
            chars += width;
        }
        return chars + 1;
    }

    /// <summary>The 1-based column of the opening quote of the key whose ':' ends just before <paramref name="afterColon"/>.</summary>
    private int KeyStart(int line, int afterColon)
    {
        var s = line <= lines.Length ? lines[line - 1] : "";
        var end = Math.Min(afterColon, s.Length) - 1;
        while (end >= 0 && s[end] != '"')
        {
            end--;
        }
        for (var i = end - 1; i >= 0; i--)
        {
            if (s[i] == '"' && (i == 0 || s[i - 1] != '\\'))
            {
                return i + 1;
            }
        }
        return Math.Max(1, afterColon);
    }

    private static string Describe(JToken token) => token.Type switch
    {
        JTokenType.Object => "an object",
        JTokenType.Array => "an array",
        JTokenType.String => $"the string \"{(string)token!}\"",
        JTokenType.Integer or JTokenType.Float => $"the number {token.ToString(Formatting.None)}",
        JTokenType.Boolean => token.ToString(Formatting.None),
        JTokenType.Null => "null",
        _ => token.Type.ToString().ToLowerInvariant(),
    };

    /// <summary>Json.NET's messages end with "Path 'x', line L, position P."; the location is given separately.</summary>
    private static string JsonMessage(string message)
    {
        var cut = message.IndexOf(" Path '", StringComparison.Ordinal);
        if (cut < 0)
        {
            cut = message.IndexOf(", line ", StringComparison.Ordinal);
        }
        var core = cut > 0 ? message[..cut] : message;
        return "invalid JSON: " + core.TrimEnd('.', ' ');
    }
}
