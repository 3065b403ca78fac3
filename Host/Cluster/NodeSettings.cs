using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using DaxSim.Host.Cli;

namespace DaxSim.Host.Cluster;

/// <summary>A seed node's host and port.</summary>
public readonly record struct HostPort(string Host, int Port)
{
    public override string ToString() => $"{Host}:{Port}";
}

/// <summary>
/// How one process joins the cluster's network: a member (`daxsim node`) or the runner
/// (`daxsim run --runtime cluster`). Built from flags with environment-variable fallbacks
/// (docs/cluster.md lists them); every value is checked, and a bad one is an InputException
/// (exit 2, one line).
/// </summary>
public sealed partial record NodeSettings
{
    public int Index { get; init; }

    /// <summary>0: any free port (then `daxsim node` prints the bound one).</summary>
    public int Port { get; init; } = ClusterConfig.DefaultPort;

    /// <summary>What other processes address this one by.</summary>
    public string Hostname { get; init; } = "127.0.0.1";

    /// <summary>Where remoting listens: loopback unless told otherwise.</summary>
    public string Bind { get; init; } = "127.0.0.1";

    public IReadOnlyList<HostPort> Seeds { get; init; } = [];

    public string Role { get; init; } = ClusterConfig.DefaultRole;

    /// <summary>
    /// The shared journal and snapshot store: a SQLite file (members on one machine), or a
    /// postgres:// URL of a PostgreSQL server (members on several: PostgresJournal); null: no persistence.
    /// </summary>
    public string? Journal { get; init; }

    /// <summary>The ActorSystem name: members of another cluster name cannot even address this one.</summary>
    public string ClusterName { get; init; } = ClusterConfig.DefaultClusterName;

    public string? TlsCertificate { get; init; }

    public string? TlsPassword { get; init; }

    /// <summary>Accept peers' certificates without chain validation (self-signed test certificates).</summary>
    public bool TlsSuppressValidation { get; init; }

    public int ProtocolVersion { get; init; } = ClusterConfig.ProtocolVersion;

    public string LogLevel { get; init; } = "WARNING";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^[A-Za-z0-9.:\[\]_-]{1,253}$")]
    private static partial Regex HostPattern();

    /// <summary>The flag's value, else the environment variable's, else null.</summary>
    public static string? FlagOrEnv(string? flag, string env) =>
        flag ?? (Environment.GetEnvironmentVariable(env) is { Length: > 0 } v ? v : null);

    public static int ParseInt(string? text, string what, int min, int max, int fallback)
    {
        if (text is null)
        {
            return fallback;
        }
        if (!int.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || n < min || n > max)
        {
            throw new InputException($"{what} must be an integer between {min} and {max}, not '{text}'");
        }
        return n;
    }

    public static string ParseHost(string? text, string what, string fallback)
    {
        if (text is null)
        {
            return fallback;
        }
        if (!HostPattern().IsMatch(text))
        {
            throw new InputException($"{what} must be a host name or IP address, not '{text}'");
        }
        return text;
    }

    public static string ParseName(string? text, string what, string fallback)
    {
        if (text is null)
        {
            return fallback;
        }
        if (!NamePattern().IsMatch(text))
        {
            throw new InputException(
                $"{what} must be letters, digits, '-' or '_' (not starting with '-' or '_'), at most 64, not '{text}'");
        }
        return text;
    }

    public static HostPort ParseHostPort(string text, string what)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            throw new InputException($"{what}: '{text}' is not host:port");
        }
        var host = ParseHost(text[..colon], what, "");
        var port = ParseInt(text[(colon + 1)..], $"{what}: the port of '{text}'", 1, 65535, 0);
        return new HostPort(host, port);
    }

    public static IReadOnlyList<HostPort> ParseSeeds(string? text, string what)
    {
        if (text is null)
        {
            return [];
        }
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Any(p => p.Length == 0))
        {
            throw new InputException($"{what}: '{text}' has an empty entry; write host:port,host:port");
        }
        return parts.Select(p => ParseHostPort(p, what)).ToList();
    }

    public static string? ParseJournal(string? text, string what)
    {
        if (text is null)
        {
            return null;
        }
        if (PostgresJournal.IsUrl(text))
        {
            PostgresJournal.ConnectionString(text, what);
            return text;
        }
        var full = Path.GetFullPath(text);
        var dir = Path.GetDirectoryName(full);
        if (dir is null || !System.IO.Directory.Exists(dir))
        {
            throw new InputException($"{what}: the directory of '{text}' does not exist");
        }
        if (System.IO.Directory.Exists(full))
        {
            throw new InputException($"{what}: '{text}' is a directory");
        }
        return full;
    }

    public static string? ParseCertificate(string? text, string what)
    {
        if (text is null)
        {
            return null;
        }
        if (!File.Exists(text))
        {
            throw new InputException($"{what}: no certificate file '{text}'");
        }
        return Path.GetFullPath(text);
    }

    /// <summary>
    /// Checks a TLS certificate before any member starts, so that a certificate remoting
    /// cannot use is a one-line error (exit 2), not a cluster that never forms: the PKCS#12
    /// file must open with the password and hold a private key (each member proves itself
    /// with it), and unless DAXSIM_TLS_SUPPRESS_VALIDATION is set its chain must validate on
    /// this machine (the peers validate it the same way; a self-signed certificate does not).
    /// Revocation is not checked: the machine may have no network.
    /// </summary>
    /// <exception cref="InputException">The certificate cannot serve.</exception>
    public static void CheckCertificate(string path, string? password, bool suppressValidation, string what)
    {
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(path, password);
        }
        catch (CryptographicException e)
        {
            throw new InputException($"{what} {path}: cannot open it as a PKCS#12 certificate with the password given " +
                                     $"(--tls-password or DAXSIM_TLS_PASSWORD): {e.Message.TrimEnd('.')}");
        }
        using (certificate)
        {
            if (!certificate.HasPrivateKey)
            {
                throw new InputException($"{what} {path}: the certificate has no private key, and each member proves itself with it");
            }
            if (suppressValidation)
            {
                return;
            }
            using var chain = new X509Chain();
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            if (!chain.Build(certificate))
            {
                var why = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Distinct());
                throw new InputException($"{what} {path}: the certificate does not validate on this machine ({why}), so the " +
                                         "members would refuse each other; install its CA, or, for a self-signed certificate, " +
                                         "set DAXSIM_TLS_SUPPRESS_VALIDATION=true (docs/cluster.md, Security)");
            }
        }
    }

    /// <summary>The protocol version this process announces (DAXSIM_PROTOCOL_VERSION overrides it, for tests).</summary>
    public static int ProtocolVersionFromEnv() =>
        ParseInt(FlagOrEnv(null, "DAXSIM_PROTOCOL_VERSION"), "DAXSIM_PROTOCOL_VERSION", 0, int.MaxValue,
            ClusterConfig.ProtocolVersion);

    public static bool ParseBool(string? text, string what)
    {
        if (text is null)
        {
            return false;
        }
        return text.Trim().ToLowerInvariant() switch
        {
            "1" or "true" or "yes" or "on" => true,
            "0" or "false" or "no" or "off" => false,
            _ => throw new InputException($"{what} must be true or false, not '{text}'"),
        };
    }
}
