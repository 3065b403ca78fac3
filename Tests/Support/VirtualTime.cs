using Akka.Actor;
using Akka.TestKit;

namespace DaxSim.Tests.Support;

/// <summary>
/// Virtual time for the actor specs. The scheduler is TestKit's <see cref="TestScheduler"/>:
/// no timer fires until the spec advances the clock (<see cref="Advance"/>), so a sleep or
/// an I/O of 10 s costs nothing and a timer that fires too early fails the spec. The actor
/// under test is a TestActorRef (<see cref="UnderTest{T}"/>): made at once and run on the
/// calling thread, so every message the spec sends it (a probe's reply, a timer fired by
/// <see cref="Advance"/>) has been handled, with whatever it sends in turn, when the send
/// returns. That makes "nothing more was sent" a fact about
/// the probes' queues, checked at once (<see cref="ExpectNothing"/>), instead of a wall-clock
/// wait that passes whenever the machine is too slow to show the bug in time.
/// </summary>
public static class VirtualTime
{
    public const string Config = """
        akka.scheduler.implementation = "Akka.TestKit.TestScheduler, Akka.TestKit"
        """;

    /// <summary>
    /// The actor under test, on the spec's own thread. (A plain Sys.ActorOf would not do:
    /// a top-level actor starts asynchronously, and what it is sent before it has started
    /// is handled later on a pool thread.)
    /// </summary>
    public static IActorRef UnderTest<T>(this TestKitBase kit, Props props) where T : ActorBase =>
        kit.ActorOfAsTestActorRef<T>(props);

    public static TestScheduler Clock(this TestKitBase kit) => (TestScheduler)kit.Sys.Scheduler;

    /// <summary>Moves virtual time on; the timers due by then fire, in order, on this thread.</summary>
    public static void Advance(this TestKitBase kit, TimeSpan by) => kit.Clock().Advance(by);

    /// <summary>Nothing has been sent to this probe (or test actor) that it has not taken yet.</summary>
    public static void ExpectNothing(this TestKitBase probe) => probe.ExpectNoMsg(TimeSpan.Zero);
}
