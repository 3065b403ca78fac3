namespace DaxSim.Host.Load;

public static class LoadHtml
{
    public static string Render(LoadResult r) => "<!DOCTYPE html><html><body>todo</body></html>";
}
