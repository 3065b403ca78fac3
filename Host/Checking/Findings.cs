using DaxSim.Protocol;

namespace DaxSim.Host.Checking;

/// <summary>
/// Where the monitors report: the first violation is the run's finding, and later ones are
/// ignored. One finding may be held back while what it damaged is still to be seen (S1: a
/// block freed under a pin whose DMA is still to come); a held finding happened first, so
/// it wins over anything reported after it, except the one that settles it (that DMA landing
/// in the block: data corrupted).
/// </summary>
public sealed class Findings(World world)
{
    public Violation? Violation { get; private set; }

    /// <summary>The finding held back, if any.</summary>
    public Violation? Held { get; private set; }

    public void Report(InvariantId invariant, Verdict verdict, string description, IEnumerable<string> actors,
        IEnumerable<WaitForEdge>? edges = null, long? at = null, Damage? damage = null)
    {
        if (Violation is not null)
        {
            return;
        }
        if (Held is not null && damage != Damage.DataCorrupted)
        {
            Violation = Held;
            return;
        }
        Violation = New(invariant, verdict, description, actors, edges, at, damage);
    }

    public Violation New(InvariantId invariant, Verdict verdict, string description, IEnumerable<string> actors,
        IEnumerable<WaitForEdge>? edges = null, long? at = null, Damage? damage = null) =>
        new(invariant, verdict, at ?? world.Now, description, actors.Distinct().ToList(), (edges ?? []).ToList())
        {
            Event = world.Observing, Damage = damage,
        };

    /// <summary>Report <paramref name="violation"/> now, unless something came first.</summary>
    public void Report(Violation violation) => Violation ??= violation;

    public void Hold(Violation violation) => Held ??= violation;

    /// <summary>The held finding is settled another way (replaced by the one that says what it damaged).</summary>
    public void DropHeld() => Held = null;

    /// <summary>The held finding, if any, becomes the finding.</summary>
    public void ReleaseHeld()
    {
        if (Held is not null && Violation is null)
        {
            Violation = Held;
        }
    }
}
