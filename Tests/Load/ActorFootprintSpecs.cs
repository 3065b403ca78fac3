using DaxSim.Host.Load;
using DaxSim.Tests.Local;
using Xunit;

namespace DaxSim.Tests.Load;

/// <summary>
/// What a load report says an actor costs: a heap difference after full collections, which
/// only means something while nothing else in the process frees or keeps memory. The test
/// process runs specs in parallel, so this one runs in a collection that runs alone.
/// </summary>
[Collection(RealThreadsCollection.Name)]
public sealed class ActorFootprintSpecs
{
    [Fact]
    public void A_page_actor_and_an_empty_actor_must_each_cost_a_positive_number_of_bytes()
    {
        var r = ActorFootprint.Measure(actors: 2_000);

        Assert.Equal(2_000, r.Actors);
        Assert.True(r.EmptyActorBytes > 0, $"an empty actor: {r.EmptyActorBytes} B");
        Assert.True(r.PageActorBytes > 0, $"a page actor: {r.PageActorBytes} B");
        // An actor's cell, mailbox and path are hundreds of bytes at least, and a page
        // actor's state is small: neither is megabytes (which would be other memory counted).
        Assert.True(r.EmptyActorBytes < 100_000 && r.PageActorBytes < 100_000, r.ToString());
    }
}
