namespace DaxSim.Host.Cli;

/// <summary>
/// Bad input or usage: a message for the user (naming the file, line and column where
/// there is one), exit code 2, no stack trace.
/// </summary>
public sealed class InputException(string message) : Exception(message);
