using System.Globalization;

namespace DaxSim.Host.Cluster;

/// <summary>
/// A cluster member did not answer in time: it did not start, join, prepare the run or send
/// its trace within the runner's limits. On a machine busy with other work this is the host,
/// not DaxSim: `daxsim` says so in one line and exits 75 (docs/contract.md), and the run can
/// be tried again.
/// </summary>
public sealed class SlowMemberException(string what) : Exception(What(what))
{
    private static string What(string what) =>
        $"{what}{LoadNote()}; the member is too slow to run the scenario in real time: try again, or on a quieter machine";

    // The machine's load against its cores, when the kernel says (Linux): the likely reason.
    private static string LoadNote()
    {
        try
        {
            var first = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            if (double.TryParse(first, NumberStyles.Float, CultureInfo.InvariantCulture, out var load))
            {
                return $" (load average {load.ToString("0.0", CultureInfo.InvariantCulture)} on {Environment.ProcessorCount} core(s))";
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return "";
    }
}
