using System.Globalization;

namespace DaxSim.Protocol.Scenarios;

/// <summary>Durations as scenario files write them: a number and a unit (ns, us, ms, s).</summary>
public static class Durations
{
    private static readonly (string Unit, decimal Ns)[] Units = [("ns", 1m), ("us", 1_000m), ("ms", 1_000_000m), ("s", 1_000_000_000m)];

    public static bool TryParse(string text, out TimeSpan value, out string? error)
    {
        value = default;
        var t = text.Trim();
        foreach (var (unit, ns) in Units.OrderByDescending(u => u.Unit.Length))
        {
            if (!t.EndsWith(unit, StringComparison.Ordinal))
            {
                continue;
            }
            var number = t[..^unit.Length];
            if (!decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n))
            {
                error = $"'{text}' is not a duration (a number and a unit: ns, us, ms, s)";
                return false;
            }
            if (n > 86_400m * 1_000_000_000m / ns)
            {
                error = $"duration '{text}' is longer than a day";
                return false;
            }
            var total = n * ns;
            if (total % 100m != 0)
            {
                error = $"duration '{text}' is not a multiple of 100ns, the clock's resolution";
                return false;
            }
            if (total > 86_400m * 1_000_000_000m)
            {
                error = $"duration '{text}' is longer than a day";
                return false;
            }
            value = TimeSpan.FromTicks((long)(total / 100m));
            error = null;
            return true;
        }
        error = $"duration '{text}' needs a unit (ns, us, ms, s)";
        return false;
    }

    public static string Format(TimeSpan t)
    {
        var ns = t.Ticks * 100L;
        if (ns == 0)
        {
            return "0s";
        }
        foreach (var (unit, size) in Units.Reverse())
        {
            if (ns % (long)size == 0)
            {
                return $"{ns / (long)size}{unit}";
            }
        }
        return $"{ns}ns";
    }
}
