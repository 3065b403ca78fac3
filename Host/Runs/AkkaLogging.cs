using Akka.Configuration;

namespace DaxSim.Host.Runs;

/// <summary>
/// The logging every DaxSim ActorSystem starts with: warnings and errors only (a run's
/// output is its verdict, not Akka's chatter), and no dead-letter lines (actors of a run
/// that ended still get messages on their way). Each runtime puts its own settings on top.
/// </summary>
public static class AkkaLogging
{
    /// <summary>The HOCON, with <paramref name="level"/> as akka.loglevel (a member's DAXSIM_LOG_LEVEL).</summary>
    public static string Hocon(string level = "WARNING") => $$"""
        akka {
          loglevel = {{level}}
          stdout-loglevel = WARNING
          log-dead-letters = off
          log-dead-letters-during-shutdown = off
        }
        """;

    public static readonly Config Quiet = ConfigurationFactory.ParseString(Hocon());

    /// <summary><paramref name="hocon"/> with the quiet logging under it.</summary>
    public static Config With(string hocon) => ConfigurationFactory.ParseString(hocon).WithFallback(Quiet);
}
