namespace DaxSim.Protocol;

/// <summary>
/// xoshiro256** seeded through SplitMix64: a generator whose sequence is fixed by this
/// code, not by the .NET version (System.Random makes no such promise), so a seed replays
/// the same run on any machine.
/// </summary>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;

    public Rng(ulong seed)
    {
        var x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
    }

    /// <summary>A generator for one purpose, derived from a seed and a stream name, independent of the others.</summary>
    public static Rng ForStream(ulong seed, ulong stream) => new(seed ^ (stream * 0x9E3779B97F4A7C15UL));

    private static ulong SplitMix64(ref ulong x)
    {
        var z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextULong()
    {
        var result = RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>A uniform integer in [0, n), without modulo bias (Lemire's method).</summary>
    public int Next(int n)
    {
        if (n <= 1)
        {
            return 0;
        }
        var bound = (ulong)n;
        var product = Math.BigMul(NextULong(), bound, out var low);
        if (low < bound)
        {
            var threshold = (0 - bound) % bound;
            while (low < threshold)
            {
                product = Math.BigMul(NextULong(), bound, out low);
            }
        }
        return (int)product;
    }

    /// <summary>True with probability p.</summary>
    public bool Chance(double p) => NextDouble() < p;

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextULong() >> 11) * (1.0 / (1UL << 53));

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));
}
