namespace DaxSim.Host.Local;

/// <summary>The local runtime's own settings for one run (RunSettings.Local); the other runtimes ignore them.</summary>
public sealed record LocalSettings
{
    /// <summary>
    /// How long the whole run must produce no event before a wait-for cycle counts as a
    /// deadlock (a message may be in flight until then).
    /// </summary>
    public TimeSpan DeadlockQuiet { get; init; } = TimeSpan.FromMilliseconds(200);
}
