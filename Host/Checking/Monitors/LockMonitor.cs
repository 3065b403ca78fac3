using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Trace;

namespace DaxSim.Host.Checking;

/// <summary>
/// S3 locks: a lock is granted only when no holder conflicts with it: an exclusive grant
/// beside any holder, or a shared grant beside an exclusive holder.
/// </summary>
public sealed class LockMonitor(World world, Findings findings)
{
    /// <summary>Before the world adds the holder.</summary>
    public void LockAcquiring(LockAcquired m)
    {
        var holders = world.Locks[m.File.Value, (int)m.Kind].Holders;
        for (var i = 0; i < holders.Count; i++)
        {
            var holder = holders[i];
            if (m.Mode == LockMode.Exclusive || holder.Mode == LockMode.Exclusive)
            {
                findings.Report(InvariantId.S3, Verdict.Safety,
                    $"{world.T(m.Task)} got {World.LockName(m.Kind)} of {world.F(m.File)} {m.Mode.ToString().ToLowerInvariant()} " +
                    $"while {world.T(holder.Task)} holds it {holder.Mode.ToString().ToLowerInvariant()}",
                    [world.T(m.Task), world.T(holder.Task), $"inode-{world.Scenario.FileName(m.File)}"]);
                return;
            }
        }
    }
}
