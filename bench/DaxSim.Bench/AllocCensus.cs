using System.Diagnostics.Tracing;
using DaxSim.Host.Load;
using DaxSim.Host.Runs;
using DaxSim.Protocol;

namespace DaxSim.Bench;

/// <summary>
/// `bench --alloc-census`: which types the local runtime allocates under the bench's load mix
/// (`--alloc-census SCENARIO`: the deterministic runtime on a scenario, as explore runs it). The
/// runtime's GCAllocationTick event names the type of the allocation that crossed each ~100 KB
/// of allocation, so the counts are a sample proportional to bytes.
/// </summary>
internal static class AllocCensus
{
    private sealed class Listener : EventListener
    {
        public readonly Dictionary<string, long> Bytes = new();
        public volatile bool On;

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime")
            {
                EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (!On || e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal))
            {
                return;
            }
            var name = e.PayloadNames!.IndexOf("TypeName") is var i and >= 0 ? e.Payload![i] as string ?? "?" : "?";
            var amount = e.PayloadNames.IndexOf("AllocationAmount64") is var j and >= 0 ? Convert.ToInt64(e.Payload![j]) : 100_000;
            lock (Bytes)
            {
                Bytes[name] = Bytes.GetValueOrDefault(name) + amount;
            }
        }
    }

    /// <summary>The deterministic runtime on a shipped scenario, one thread, as explore runs it.</summary>
    public static int RunDeterministic(string scenarioPath, int seeds)
    {
        var scenario = DaxSim.Protocol.Scenarios.ScenarioLoader.Parse(File.ReadAllText(scenarioPath), scenarioPath);
        using var runtime = new DaxSim.Host.Deterministic.DeterministicRuntime();
        for (var i = 0; i < 300; i++)
        {
            runtime.Run(scenario, ExploreSettings.For((ulong)i));
        }
        using var listener = new Listener();
        long messages = 0;
        listener.On = true;
        for (var i = 0; i < seeds; i++)
        {
            messages += runtime.Run(scenario, ExploreSettings.For((ulong)(1000 + i))).Deliveries;
        }
        listener.On = false;
        return Print(listener, messages);
    }

    public static int Run(TimeSpan duration)
    {
        var spec = LoadBench.Mix(400, duration, TimeSpan.Zero);
        using var listener = new Listener();
        for (var i = 0; i < 3; i++)
        {
            LoadEngine.Run(new LoadPlan(spec, (ulong)(50 + i), Variant.Mainline, Runtimes.For(RuntimeKind.Local)), measureFootprint: false);
        }
        listener.On = true;
        var r = LoadEngine.Run(new LoadPlan(spec, 7, Variant.Mainline, Runtimes.For(RuntimeKind.Local)), measureFootprint: false);
        listener.On = false;
        return Print(listener, r.Run.Messages);
    }

    private static int Print(Listener listener, long messages)
    {
        long total;
        List<KeyValuePair<string, long>> top;
        lock (listener.Bytes)
        {
            total = listener.Bytes.Values.Sum();
            top = listener.Bytes.OrderByDescending(p => p.Value).Take(40).ToList();
        }
        Console.WriteLine($"{messages:N0} messages, {total / (double)messages:F0} B/message sampled");
        foreach (var (type, bytes) in top)
        {
            var owners = type.StartsWith('<')
                ? string.Join(", ", AppDomain.CurrentDomain.GetAssemblies().Where(a => a.GetName().Name!.StartsWith("DaxSim", StringComparison.OrdinalIgnoreCase) || a.GetName().Name!.StartsWith("Akka", StringComparison.Ordinal))
                    .SelectMany(a => a.GetTypes()).Where(t => t.Name == type).Select(t => t.DeclaringType?.FullName))
                : "";
            Console.WriteLine($"{bytes * 100.0 / total,6:F1}%  {bytes / (double)messages,6:F1} B/msg  {type} {owners}");
        }
        return 0;
    }
}
