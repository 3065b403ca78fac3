using System.Globalization;
using DaxSim.Protocol.Load;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace DaxSim.Protocol.Scenarios;

// The load spec of `daxsim load` (docs/load.md), read as strictly as a scenario and with the
// same helpers: every error, each with the file, line and column where it starts.
internal sealed partial class ScenarioReader
{
    private static readonly string[] LoadKeys =
        ["name", "description", "variant", "runtime", "seed", "files", "device", "duration", "warmup", "tasks", "signals", "limits"];

    private static readonly string[] LoadTaskKeys = ["kind", "count", "pages", "ioTime", "hold", "think", "rate", "arrivals"];

    private static readonly string[] LoadRuntimes = RuntimeKinds.Names;

    public LoadSpec ReadLoad()
    {
        var root = ParseRoot("the load spec");
        if (root is not JObject obj)
        {
            Error(root, $"a load spec is a JSON object, not {Describe(root)}");
            throw Failed();
        }
        CheckKeys(obj, "the load spec", LoadKeys, ["files", "tasks", "duration"]);
        var name = Text(obj["name"], "\"name\"") ?? Path.GetFileNameWithoutExtension(source);
        Text(obj["description"], "\"description\"");
        var variant = ReadVariant(obj["variant"]);
        var runtime = Text(obj["runtime"], "\"runtime\"");
        if (runtime is not null && !LoadRuntimes.Contains(runtime))
        {
            Error(obj["runtime"]!, $"unknown runtime \"{runtime}\"; expected one of: {string.Join(", ", LoadRuntimes)}");
        }
        var seed = (ulong?)Int(obj["seed"], "\"seed\"", 0, long.MaxValue);

        int files = 1, pages = 1;
        if (obj["files"] is { } filesToken && Object(filesToken, "\"files\"") is { } fo)
        {
            CheckKeys(fo, "\"files\"", ["count", "pages"], ["count", "pages"]);
            files = (int?)Int(fo["count"], "\"count\"", 1, LoadSpecLoader.MaxFiles) ?? 1;
            pages = (int?)Int(fo["pages"], "\"pages\"", 1, ScenarioLoader.MaxFilePages) ?? 1;
            if ((long)files * pages > ScenarioLoader.MaxBlocks)
            {
                Error(fo, $"{files:N0} files of {pages:N0} pages are {(long)files * pages:N0} pages, more than the largest device ({ScenarioLoader.MaxBlocks:N0} blocks) holds");
            }
        }
        int? blocks = null;
        if (obj["device"] is { } deviceToken && Object(deviceToken, "\"device\"") is { } d)
        {
            CheckKeys(d, "\"device\"", ["blocks"], ["blocks"]);
            blocks = (int?)Int(d["blocks"], "\"blocks\"", 1, ScenarioLoader.MaxBlocks);
            if (blocks is { } b && b < (long)files * pages)
            {
                Error(d["blocks"]!, $"the device has {b:N0} blocks, fewer than the {(long)files * pages:N0} pages of the files");
            }
        }
        var duration = Duration(obj["duration"], "\"duration\"", positive: true) ?? TimeSpan.FromSeconds(1);
        var warmup = Duration(obj["warmup"], "\"warmup\"");
        if (warmup is { } w && w >= duration && obj["duration"] is not null)
        {
            Error(obj["warmup"]!, $"\"warmup\" ({Durations.Format(w)}) must be shorter than \"duration\" ({Durations.Format(duration)})");
        }
        var groups = new List<LoadTaskGroup>();
        foreach (var item in Items(obj["tasks"], "\"tasks\"", min: 1))
        {
            if (Object(item, "a task group") is { } t && ReadLoadTask(t, pages) is { } g)
            {
                groups.Add(g);
            }
        }
        if (groups.Sum(g => (long)g.Count) > LoadSpecLoader.MaxTasks)
        {
            Error(obj["tasks"]!, $"the task groups have {groups.Sum(g => (long)g.Count):N0} tasks in all, more than {LoadSpecLoader.MaxTasks:N0}");
        }
        LoadSignals? signals = null;
        if (obj["signals"] is { } signalsToken && Object(signalsToken, "\"signals\"") is { } so)
        {
            CheckKeys(so, "\"signals\"", ["rate"], ["rate"]);
            if (Number(so["rate"], "\"rate\"", 0, 1_000_000) is { } r)
            {
                signals = new LoadSignals(r);
            }
        }
        var opBound = LoadSpec.DefaultOpBound;
        var leaseBreak = LoadSpec.DefaultLeaseBreakTime;
        if (obj["limits"] is { } limitsToken && Object(limitsToken, "\"limits\"") is { } lo)
        {
            CheckKeys(lo, "\"limits\"", ["opBound", "leaseBreakTime"], []);
            opBound = Duration(lo["opBound"], "\"opBound\"", positive: true) ?? opBound;
            leaseBreak = Duration(lo["leaseBreakTime"], "\"leaseBreakTime\"") ?? leaseBreak;
        }
        if (errors.Count > 0)
        {
            throw Failed();
        }
        return new LoadSpec(name, variant, files, pages, blocks, groups, duration, warmup, runtime, seed, signals,
            opBound, leaseBreak);
    }

    private LoadTaskGroup? ReadLoadTask(JObject o, int filePages)
    {
        CheckKeys(o, "a task group", LoadTaskKeys, ["kind"]);
        if (Text(o["kind"], "\"kind\"") is not { } kindName)
        {
            return null;
        }
        if (!LoadTaskKinds.TryParse(kindName, out var kind))
        {
            Error(o["kind"]!, $"unknown task kind \"{kindName}\"; expected one of: {string.Join(", ", LoadTaskKinds.AllNames)}");
            return null;
        }
        var count = (int?)Int(o["count"], "\"count\"", 1, LoadSpecLoader.MaxTasks) ?? 1;
        var pages = kind.DefaultPages();
        if (o["pages"] is { } pagesToken)
        {
            if (kind == LoadTaskKind.LeaseHolder)
            {
                Error(o.Property("pages")!, "a leaseHolder takes no \"pages\": it leases the whole file");
            }
            else
            {
                pages = (int?)Int(pagesToken, "\"pages\"", 1, filePages, "the pages of a file") ?? pages;
            }
        }
        else if (pages > filePages)
        {
            pages = filePages;
        }
        var dio = kind is LoadTaskKind.DioReader or LoadTaskKind.DioWriter;
        var ioTime = LoadSpec.DefaultIoTime;
        if (o["ioTime"] is { } io)
        {
            if (!dio)
            {
                Error(o.Property("ioTime")!, $"\"ioTime\" is for dioReader and dioWriter, not {kindName}");
            }
            else
            {
                ioTime = Duration(io, "\"ioTime\"") ?? ioTime;
            }
        }
        var hold = LoadSpec.DefaultHold;
        if (o["hold"] is { } h)
        {
            if (kind != LoadTaskKind.LeaseHolder)
            {
                Error(o.Property("hold")!, $"\"hold\" is for leaseHolder, not {kindName}");
            }
            else
            {
                hold = Duration(h, "\"hold\"", positive: true) ?? hold;
            }
        }
        var think = LoadSpec.DefaultThink;
        double? rate = null;
        if (o["think"] is not null && o["rate"] is not null)
        {
            Error(o.Property("rate")!, "a task group has a \"think\" time or a \"rate\", not both");
        }
        else if (o["think"] is { } th)
        {
            think = Duration(th, "\"think\"") ?? think;
        }
        else if (o["rate"] is { } rt)
        {
            rate = Number(rt, "\"rate\"", 0, 100_000_000);
        }
        var exponential = false;
        if (Text(o["arrivals"], "\"arrivals\"") is { } arrivals)
        {
            if (arrivals is not ("fixed" or "poisson"))
            {
                Error(o["arrivals"]!, $"unknown \"arrivals\" \"{arrivals}\"; expected fixed or poisson");
            }
            exponential = arrivals == "poisson";
        }
        return new LoadTaskGroup(kind, count, pages, ioTime, hold, think, rate, exponential);
    }

    /// <summary>A number (whole or not) above <paramref name="above"/> and at most <paramref name="max"/>.</summary>
    private double? Number(JToken? token, string what, double above, double max)
    {
        if (token is null)
        {
            return null;
        }
        if (token.Type is not (JTokenType.Float or JTokenType.Integer))
        {
            Error(token, $"{what} must be a number, not {Describe(token)}");
            return null;
        }
        var value = token.Value<double>();
        if (!(value > above && value <= max))
        {
            Error(token, $"{what} is {value.ToString(CultureInfo.InvariantCulture)}, out of range: it must be above {above.ToString(CultureInfo.InvariantCulture)} and at most {max.ToString("N0", CultureInfo.InvariantCulture)}");
            return null;
        }
        return value;
    }
}
