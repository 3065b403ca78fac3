using DaxSim.Host.Runs;
using Spectre.Console;

namespace DaxSim.Host.Load;

/// <summary>
/// The progress of a load run: a live panel (Spectre.Console) on a terminal, else a plain
/// line every second (a log file, CI). Rates are over the interval since the last update.
/// </summary>
public abstract class LoadProgress
{
    private LoadSnapshot? _last;

    protected bool VirtualTime { get; }

    protected LoadProgress(bool virtualTime) => VirtualTime = virtualTime;

    /// <summary>How often the engine should call Update.</summary>
    public abstract TimeSpan Interval { get; }

    public void Update(LoadSnapshot now)
    {
        var last = _last ?? new LoadSnapshot(TimeSpan.Zero, 0, 0, 0, 0, 0, 0, 0);
        var seconds = Math.Max((now.Wall - last.Wall).TotalSeconds, 1e-9);
        Show(now, (now.Ops - last.Ops) / seconds, (now.Messages - last.Messages) / seconds);
        _last = now;
    }

    protected abstract void Show(LoadSnapshot s, double opsPerSecond, double messagesPerSecond);

    /// <summary>Runs <paramref name="body"/>, which reports through Update, inside the display.</summary>
    public virtual T Around<T>(Func<T> body) => body();

    protected string Clock(LoadSnapshot s) =>
        VirtualTime ? $"{LoadReport.FormatNs(s.Time * 100.0)} simulated" : "";

    /// <summary>Live on a terminal that is not CI's; plain lines otherwise.</summary>
    public static bool Interactive(TextWriter stdout) =>
        ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected &&
        string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")) &&
        Environment.GetEnvironmentVariable("TERM") is not (null or "dumb");
}

/// <summary>One line per second, on the error stream (as explore's progress), so stdout keeps only the results.</summary>
public sealed class PlainProgress(TextWriter writer, bool virtualTime) : LoadProgress(virtualTime)
{
    public override TimeSpan Interval => TimeSpan.FromSeconds(1);

    protected override void Show(LoadSnapshot s, double opsPerSecond, double messagesPerSecond)
    {
        var clock = Clock(s);
        writer.WriteLine(
            $"  ... {s.Wall.TotalSeconds,6:F1}s{(clock.Length > 0 ? $" ({clock})" : "")}  ops {s.Ops:N0} ({opsPerSecond:N0}/s)  " +
            $"messages {s.Messages:N0} ({messagesPerSecond:N0}/s)  pins outstanding {s.Pins:N0}  " +
            $"truncates waiting {s.TruncatesWaiting:N0}  violations {s.Violations}  heap {s.HeapBytes / 1048576.0:N0} MiB");
    }
}

/// <summary>A live table, redrawn four times a second.</summary>
public sealed class LiveProgress(IAnsiConsole console, bool virtualTime) : LoadProgress(virtualTime)
{
    private readonly Table _table = new Table().Border(TableBorder.Rounded).Title("daxsim load")
        .AddColumn("elapsed").AddColumn("ops/s").AddColumn("ops").AddColumn("messages/s")
        .AddColumn("pins outstanding").AddColumn("truncates waiting").AddColumn("violations").AddColumn("heap");

    private LiveDisplayContext? _context;

    public override TimeSpan Interval => TimeSpan.FromMilliseconds(250);

    public override T Around<T>(Func<T> body)
    {
        var result = default(T)!;
        _table.AddRow("-", "-", "-", "-", "-", "-", "-", "-");
        console.Live(_table).AutoClear(false).Start(ctx =>
        {
            _context = ctx;
            result = body();
        });
        return result;
    }

    protected override void Show(LoadSnapshot s, double opsPerSecond, double messagesPerSecond)
    {
        var clock = Clock(s);
        var cells = new[]
        {
            $"{s.Wall.TotalSeconds:F1}s" + (clock.Length > 0 ? $" ({clock})" : ""),
            $"{opsPerSecond:N0}", $"{s.Ops:N0}", $"{messagesPerSecond:N0}", $"{s.Pins:N0}", $"{s.TruncatesWaiting:N0}",
            s.Violations == 0 ? "[green]0[/]" : $"[red]{s.Violations}[/]", $"{s.HeapBytes / 1048576.0:N0} MiB",
        };
        for (var i = 0; i < cells.Length; i++)
        {
            _table.UpdateCell(0, i, cells[i]);
        }
        _context?.Refresh();
    }
}
