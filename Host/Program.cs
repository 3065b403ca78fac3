using DaxSim.Host.Cli;

try
{
    return new Cli(Console.Out, Console.Error).Invoke(args);
}
catch (Exception e)
{
    Console.Error.WriteLine($"daxsim: internal error: {e}");
    return Cli.ExitInternal;
}
