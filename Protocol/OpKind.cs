namespace DaxSim.Protocol;

/// <summary>The operations a scenario task can run; the JSON names are the camel-case forms.</summary>
public enum OpKind
{
    Mmap,
    Munmap,
    Touch,
    DioRead,
    DioWrite,
    Truncate,
    PunchHole,
    ZeroRange,
    CollapseRange,
    InsertRange,
    Fallocate,
    HoldLease,
    Sleep,
    Fsync,
}

public static class OpKinds
{
    private static readonly Dictionary<string, OpKind> ByName =
        Enum.GetValues<OpKind>().ToDictionary(JsonName, k => k, StringComparer.Ordinal);

    public static string JsonName(this OpKind kind)
    {
        var s = kind.ToString();
        return char.ToLowerInvariant(s[0]) + s[1..];
    }

    public static bool TryParse(string name, out OpKind kind) => ByName.TryGetValue(name, out kind);

    public static IEnumerable<string> AllNames => ByName.Keys;

    /// <summary>
    /// Operations that unmap extents or free blocks, and so must break layouts first
    /// (xfs_vn_setattr_size and every mode of xfs_file_fallocate).
    /// </summary>
    public static bool BreaksLayouts(this OpKind kind) => kind is OpKind.Truncate or OpKind.PunchHole
        or OpKind.ZeroRange or OpKind.CollapseRange or OpKind.InsertRange or OpKind.Fallocate;
}
