namespace DaxSim.Protocol.Scenarios;

/// <summary>
/// One thing wrong with a scenario file, at a place in it. <c>Line</c> and <c>Column</c>
/// are 1-based; a line of 0 means the error is about the file as a whole (it cannot be
/// read, or it is empty).
/// </summary>
public sealed record ScenarioError(string Source, int Line, int Column, string Message)
{
    public override string ToString() => Line > 0 ? $"{Source}:{Line}:{Column}: {Message}" : $"{Source}: {Message}";
}

/// <summary>A scenario file was rejected; <see cref="Errors"/> lists every problem found, in file order.</summary>
public sealed class ScenarioException(IReadOnlyList<ScenarioError> errors)
    : Exception(string.Join(Environment.NewLine, errors))
{
    public IReadOnlyList<ScenarioError> Errors { get; } = errors;
}
