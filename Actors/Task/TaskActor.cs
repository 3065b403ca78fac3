using Akka.Actor;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using DaxSim.Protocol.Scenarios;
using DaxSim.Protocol.Trace;
using Kill = DaxSim.Protocol.Messages.Kill;
using Lock = DaxSim.Protocol.Messages.Lock;

namespace DaxSim.Actors.Task;

// TaskActor models a user thread: it runs its scenario steps as system calls, one at a
// time, each written as a coroutine (see TaskActor.Syscalls.cs, .Gup.cs, .BreakLayouts.cs)
// that reads like the kernel code it models. A coroutine yields an Await whenever it
// needs another actor's answer or a timer, and Pause where the kernel's loop goes on to
// its next page (another CPU may run in between); the actor resumes it when the awaited
// reply arrives. Between two resumptions the actor still takes the messages that may come
// at any time: RecallLease, Signal, FailAllocation, Kill, and its I/O completions
// (TaskActor.Completion.cs), which run beside the coroutine as a bio's end_io does on
// another CPU. The thread keeps no view of its PTEs: threads of a process share them, so
// it asks the mapping, as the MMU does.
//
// Takes:  StartTask, Signal, FailAllocation, Kill, RecallLease, its own Resume and I/O
//         steps, and the replies to its own requests (matched by sequence number; stale
//         ones are dropped).
// Sends:  Lock / Unlock, MapFile / UnmapFile / ThreadExit, Fault, ReadPte / RecheckPte /
//         FollowPte / FollowDone, FindBusyPage / DeleteEntries, LockDirtyEntry /
//         UnlockEntry, GetPage / PutPage / WaitIdle / CancelWait / DmaWrite, ChangeExtents,
//         lease messages, and TaskFinished to the root.
//
// Signals: an interruptible wait in progress ends with -ERESTARTSYS; otherwise the signal
// stays pending until the current operation returns, and an interruptible wait started
// meanwhile ends at once. On the way out the handler runs: with SA_RESTART an interrupted
// layout change starts again, without it the operation fails with EINTR. Kill: like
// SIGKILL, it takes effect at the next killable point (an interruptible wait, a lease
// hold, a sleep, between the pages of get_user_pages, or the end of the operation; a
// DIO's own wait is uninterruptible); the thread then exits and, as exit does, releases
// its pins, locks, waits and leases. I/O in flight completes first (exit_aio waits for
// it), and the process's mappings go with its last thread (exit_mmap).
public sealed partial class TaskActor : SimActor
{
    /// <summary>What a coroutine is waiting for: a named state, as a kernel task would be in.</summary>
    private enum WaitState
    {
        WaitingForLock,
        WaitingForReply,
        WaitingForIdle,
        WaitingForIo,
        WaitingForLeaseBreak,
        Sleeping,
        HoldingLease,
        /// <summary>Between two pages of a kernel loop: runnable, another CPU may run first.</summary>
        Paused,
    }

    /// <summary>
    /// A wait a coroutine yields. A task waits for one thing at a time and every coroutine
    /// yields its wait as soon as it has made it, so each task reuses one (<see cref="Wait"/>).
    /// </summary>
    private sealed class Await
    {
        public long Seq { get; private set; }

        public WaitState State { get; private set; }

        public bool Interruptible { get; private set; }

        public bool Killable { get; private set; }

        public FileId? Lease { get; private set; }

        public Await Set(long seq, WaitState state, bool interruptible, bool killable, FileId? lease)
        {
            (Seq, State, Interruptible, Killable, Lease) = (seq, state, interruptible, killable, lease);
            return this;
        }
    }

    /// <summary>Yielded between units of work that a fatal signal may end (fatal_signal_pending).</summary>
    private sealed class KillPoint
    {
        public static readonly KillPoint Instance = new();
    }

    /// <summary>Yielded where a kernel loop goes on to its next page: the coroutine goes on in a later turn.</summary>
    private sealed class Pause
    {
        public static readonly Pause Instance = new();
    }

    /// <summary>The step that resumes a paused coroutine.</summary>
    private sealed record Resumed(long Seq) : IReply;

    /// <summary>What an interrupted wait resumes with instead of a reply.</summary>
    private sealed class Interrupted
    {
        public static readonly Interrupted Instance = new();
    }

    /// <summary>A timer of this task went off.</summary>
    private sealed record Wakeup(long Seq) : IReply;

    /// <summary>A value a coroutine hands back to its caller (iterators cannot have out parameters).</summary>
    private sealed class Box<T>(T value)
    {
        public T Value { get; set; } = value;
    }

    private readonly TaskId _id;
    private readonly TaskSpec _spec;

    // What exit must give back: locks, the pins get_user_pages holds before they go to an
    // I/O, lease holds, a wait.
    private readonly Dictionary<(FileId File, LockKind Kind), bool> _locks = new();
    private readonly List<PageId> _pins = [];
    private readonly List<FileId> _leases = [];
    private PageId? _sleepingOn;

    // The coroutine machinery.
    private readonly Stack<IEnumerator<object>> _stack = new();
    private Await? _await;
    private readonly Await _wait = new();
    private object? _reply;
    private long _seq;
    private bool _signalPending;
    // Every pending signal's handler has SA_RESTART (-ERESTARTSYS then restarts the call).
    private bool _signalRestarts;
    // failslab: the next kernel allocation that may fail does.
    private bool _allocationFails;
    private bool _killPending;
    private bool _finished;
    // The program is over (run to its end, or killed); the thread exits once its I/O is done.
    private bool _exiting;
    private bool _killed;

    // The program counter: iteration of the task, step, repeat of the step.
    private int _iteration;
    private int _step;
    private int _stepRepeat;
    private Box<Errno>? _opResult;

    public TaskActor(SimEnvironment env, TaskId id) : base(env, Endpoint.Of(id))
    {
        _id = id;
        _spec = env.Scenario.Task(id);
    }

    protected override bool Handle(object message)
    {
        switch (message)
        {
            case StartTask:
                StartNextOp();
                return true;
            case Signal m:
                HandleSignal(m);
                return true;
            case FailAllocation:
                _allocationFails = true;
                return true;
            case Kill m:
                HandleKill(m);
                return true;
            case RecallLease m:
                HandleRecallLease(m);
                return true;
            case IoDue m:
                HandleIoDue(m); // TaskActor.Completion.cs
                return true;
            case IoStep m:
                HandleIoStep(m);
                return true;
            case StopLoad m:
                HandleStopLoad(m); // load runs only: TaskActor.Load.cs
                return true;
            case IReply m:
                HandleReply(m);
                return true;
            default:
                return false;
        }
    }

    public static Props Props(SimEnvironment env, TaskId id) => ActorProps.Of(() => new TaskActor(env, id));

    private ProtocolPolicy Policy => Env.Policy;

    // --- the program ------------------------------------------------------------------

    private Step CurrentStep => _spec.Steps[_step];

    private void StartNextOp()
    {
        if (!_exiting && _stack.Count == 0 && BeginOp())
        {
            Resume();
        }
    }

    /// <summary>Pushes the next step's system call; false when the program is done.</summary>
    private bool BeginOp()
    {
        if (_iteration >= _spec.Repeat || _stopping)
        {
            Exit(killed: false);
            return false;
        }
        var step = CurrentStep;
        // One box per task, set anew per operation: a killed operation's coroutines are gone before the next begins.
        _opResult ??= new Box<Errno>(Errno.Ok);
        _opResult.Value = Errno.Ok;
        Trace.Emit(new OpStarted(_id, step.Op, step.Target, _step, _iteration));
        _stack.Push(Syscall(step, _opResult).GetEnumerator());
        return true;
    }

    /// <summary>
    /// The system call returns: the pending signal's handler runs. A layout change that a
    /// signal interrupted (-ERESTARTSYS) starts again when the handler has SA_RESTART; true then.
    /// </summary>
    private bool Restarts()
    {
        var step = CurrentStep;
        if (_opResult!.Value != Errno.EINTR || !_signalPending || !_signalRestarts || !step.Op.BreaksLayouts())
        {
            return false;
        }
        _signalPending = false;
        Trace.Emit(new OpRestarted(_id, step.Op));
        _opResult.Value = Errno.Ok;
        _stack.Push(Syscall(step, _opResult).GetEnumerator());
        return true;
    }

    private void OpReturned()
    {
        var step = CurrentStep;
        Trace.Emit(new OpCompleted(_id, step.Op, _opResult!.Value));
        // The return to user space delivers the pending signal; the handler returns and
        // the program goes on with its next step.
        _signalPending = false;
        if (++_stepRepeat >= step.Repeat)
        {
            _stepRepeat = 0;
            if (++_step >= _spec.Steps.Count)
            {
                _step = _spec.LoopFrom;
                _iteration++;
            }
        }
    }

    private void Resume()
    {
        while (!_exiting)
        {
            if (_stack.Count == 0)
            {
                if (!_killPending && Restarts())
                {
                    continue;
                }
                OpReturned();
                if (_killPending)
                {
                    Die();
                    return;
                }
                if (!BeginOp())
                {
                    return;
                }
                continue;
            }
            var top = _stack.Peek();
            if (!top.MoveNext())
            {
                _stack.Pop();
                continue;
            }
            switch (top.Current)
            {
                case Await a when _killPending && a.Killable:
                    Die();
                    return;
                case Await { Interruptible: true } when _signalPending:
                    // schedule() in TASK_INTERRUPTIBLE with a signal pending returns at once.
                    _reply = Interrupted.Instance;
                    continue;
                case Await a:
                    _await = a;
                    return;
                case KillPoint when _killPending:
                    Die();
                    return;
                case KillPoint:
                    continue;
                case Pause:
                    var seq = NextSeq();
                    Step(new Resumed(seq));
                    _await = Wait(seq, WaitState.Paused, interruptible: false, killable: false);
                    return;
                case IEnumerable<object> callee:
                    _stack.Push(callee.GetEnumerator());
                    continue;
                default:
                    throw new InvalidOperationException($"a coroutine yielded {top.Current}");
            }
        }
    }

    private void Continue(object reply)
    {
        _await = null;
        _reply = reply;
        Resume();
    }

    private void HandleReply(IReply reply)
    {
        if (_await is null || reply.Seq != _await.Seq || _exiting)
        {
            return;
        }
        if (reply is LockGranted g)
        {
            _locks[(g.File, g.Kind)] = true;
        }
        Continue(reply);
    }

    // The program is over. The thread exits once its I/O in flight has completed, as
    // exit_aio waits for it; then it tells every DAX file's mapping (the process's mappings
    // go with its last thread) and the root.
    private void Exit(bool killed)
    {
        _exiting = true;
        _killed |= killed;
        if (_inflight.Count == 0)
        {
            Finish();
        }
    }

    private void Finish()
    {
        if (_finished)
        {
            return;
        }
        _finished = true;
        foreach (var file in Env.Scenario.Files)
        {
            if (file.Dax)
            {
                Send(Endpoint.MappingOf(file.Id), new ThreadExit(file.Id, _id));
            }
        }
        Trace.Emit(new TaskEnded(_id, _killed));
        Dir.Root.Tell(new TaskFinished(_id, _killed), Self);
    }

    // --- messages that may come at any time ------------------------------------------------

    private void HandleRecallLease(RecallLease m)
    {
        if (_await is { State: WaitState.HoldingLease } a && a.Lease == m.File)
        {
            Continue(m);
        }
    }

    private void HandleSignal(Signal m)
    {
        if (_exiting)
        {
            return;
        }
        var interrupts = _await is { Interruptible: true };
        Trace.Emit(new SignalReceived(_id, interrupts));
        // The signal stays pending until the return to user space: a wait that loops
        // (___wait_var_event) sees it again and ends with -ERESTARTSYS.
        _signalRestarts = m.Restart && (_signalRestarts || !_signalPending);
        _signalPending = true;
        if (interrupts)
        {
            Continue(Interrupted.Instance);
        }
    }

    private void HandleKill(Kill m)
    {
        if (_exiting)
        {
            return;
        }
        _killPending = true;
        if (_await is { Killable: true })
        {
            Die();
        }
    }

    // do_exit: the thread stops where it is, and everything it holds is given back; its
    // I/O in flight completes on its own, and the mappings go when the thread exits.
    private void Die()
    {
        if (_sleepingOn is { } page)
        {
            Send(Endpoint.Of(page), new CancelWait(page, _id));
            Trace.Emit(new WaitEnded(page, _id, WaitEnd.Killed));
            _sleepingOn = null;
        }
        foreach (var (file, kind) in _locks.Keys)
        {
            Send(Endpoint.InodeOf(file), UnlockMessage(file, kind));
        }
        _locks.Clear();
        foreach (var pin in _pins)
        {
            Send(Endpoint.Of(pin), new PutPage(pin, _id));
        }
        _pins.Clear();
        foreach (var file in _leases)
        {
            Send(Endpoint.InodeOf(file), new ReturnLease(file, _id));
        }
        _leases.Clear();
        if (_stack.Count > 0)
        {
            Trace.Emit(new OpCompleted(_id, CurrentStep.Op, Errno.KILLED));
        }
        foreach (var frame in _stack)
        {
            frame.Dispose();
        }
        _stack.Clear();
        _await = null;
        Exit(killed: true);
    }

    // --- primitives the coroutines use ---------------------------------------------------

    private long NextSeq() => ++_seq;

    private Await Request(Endpoint to, object message, long seq, WaitState state = WaitState.WaitingForReply)
    {
        Send(to, message);
        return Wait(seq, state, interruptible: false, killable: false);
    }

    private Await Timer(TimeSpan delay, WaitState state, bool interruptible, FileId? lease = null, bool killable = true)
    {
        var seq = NextSeq();
        // One timer at a time: a task waits for one thing at a time (its I/O has timers of its own).
        Timers.StartSingleTimer("timer", new Wakeup(seq), delay);
        return Wait(seq, state, interruptible, killable, lease);
    }

    /// <summary>The wait to yield next (the task's one <see cref="Await"/>, set anew).</summary>
    private Await Wait(long seq, WaitState state, bool interruptible, bool killable, FileId? lease = null) =>
        _wait.Set(seq, state, interruptible, killable, lease);

    /// <summary>xfs_ilock: request the lock and wait (uninterruptibly) until it is granted.</summary>
    private Await Lock(FileId file, LockKind kind, LockMode mode)
    {
        var seq = NextSeq();
        _locks[(file, kind)] = false;
        return Request(Endpoint.InodeOf(file), new Lock(file, _id, kind, mode, seq), seq, WaitState.WaitingForLock);
    }

    /// <summary>xfs_iunlock.</summary>
    private void Unlock(FileId file, LockKind kind)
    {
        _locks.Remove((file, kind));
        Send(Endpoint.InodeOf(file), UnlockMessage(file, kind));
    }

    // Messages that carry only ids are the same every time: each is made once per file (and
    // lock) and sent again. A task uses a file or two: a short list, searched in order, and
    // past its few entries a message is made per send as before.
    private const int CachedMessages = 8;
    private List<Unlock>? _unlocks;
    private List<FollowDone>? _followDones;

    private Unlock UnlockMessage(FileId file, LockKind kind)
    {
        var cache = _unlocks ??= [];
        for (var i = 0; i < cache.Count; i++)
        {
            if (cache[i].File == file && cache[i].Kind == kind)
            {
                return cache[i];
            }
        }
        var m = new Unlock(file, _id, kind);
        if (cache.Count < CachedMessages)
        {
            cache.Add(m);
        }
        return m;
    }

    private FollowDone FollowDoneMessage(FileId file)
    {
        var cache = _followDones ??= [];
        for (var i = 0; i < cache.Count; i++)
        {
            if (cache[i].File == file)
            {
                return cache[i];
            }
        }
        var m = new FollowDone(file, _id);
        if (cache.Count < CachedMessages)
        {
            cache.Add(m);
        }
        return m;
    }

    /// <summary>get_page: take a reference and wait for the page to confirm it.</summary>
    private Await GetPage(PageId page, FileId file, int index, bool speculative = false)
    {
        var seq = NextSeq();
        _pins.Add(page);
        return Request(Endpoint.Of(page), new GetPage(page, _id, file, index, seq, speculative), seq);
    }

    /// <summary>put_page.</summary>
    private void PutPage(PageId page)
    {
        _pins.Remove(page);
        Send(Endpoint.Of(page), new PutPage(page, _id));
    }

    private T Reply<T>() => (T)_reply!;
}
