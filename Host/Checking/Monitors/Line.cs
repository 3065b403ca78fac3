using DaxSim.Protocol;

namespace DaxSim.Host.Checking;

// L3 counts an operation's bound from when what was ahead of it has gone: the pins that
// other tasks held on its file's pages when it started (and the O_DIRECT transfers then in
// flight on the file, with the pins they take), and the holders and waiters of the locks it
// will take. Each of those resources (a file's pins, one lock) keeps a line: who is
// there, in the order they came, and the operations that came after them and wait for them
// to leave. Starting an operation looks at the front of a few lines instead of copying
// everyone ahead of it, and someone leaving lets through the operations at the front of
// one line: a few steps per event, where a copy cost one step per pin on the file.

/// <summary>Someone in a line: the number of the event that brought them, and their task.</summary>
public readonly record struct Place(long Arrival, int Task);

/// <summary>
/// One resource's line. An operation is kept out by everyone still there who came before
/// it, except its own task: a task's pins from its previous operation can still be there
/// when it starts the next, because a page takes PutPage after the task has moved on.
/// </summary>
public sealed class Line
{
    private readonly LinkedList<Place> _here = new();

    // Nodes of those who left, for those who come: a pin or a lock hold is one arrival
    // and one departure, on most events of a load. Whoever held a node has forgotten it
    // when it leaves (the pin and lock indexes drop it first).
    private readonly Stack<LinkedListNode<Place>> _free = new();

    // The operations that found someone ahead of them, in the order they came. Those
    // that have completed, or have been let through by the own-task rule below, stay
    // until they reach the front.
    private readonly Queue<Operation> _waiting = new();

    public LinkedListNode<Place> Arrive(long arrival, TaskId task)
    {
        var place = new Place(arrival, task.Value);
        if (!_free.TryPop(out var node))
        {
            return _here.AddLast(place);
        }
        node.Value = place;
        _here.AddLast(node);
        return node;
    }

    /// <summary>Someone who came with <paramref name="with"/>: same arrival and task, right behind it.</summary>
    public LinkedListNode<Place> ArriveWith(LinkedListNode<Place> with)
    {
        if (!_free.TryPop(out var node))
        {
            return _here.AddAfter(with, with.Value);
        }
        node.Value = with.Value;
        _here.AddAfter(with, node);
        return node;
    }

    public bool KeepsOut(Operation op)
    {
        for (var place = _here.First; place is not null && place.Value.Arrival < op.Arrival; place = place.Next)
        {
            if (place.Value.Task != op.Task.Value)
            {
                return true;
            }
        }
        return false;
    }

    public void Hold(Operation op)
    {
        (op.WaitingIn ??= []).Add(this);
        _waiting.Enqueue(op);
    }

    /// <summary>
    /// Someone leaves; the operations nobody is ahead of any more in any line go into
    /// <paramref name="through"/>. <paramref name="ops"/> is each task's operation in flight.
    /// </summary>
    public void Leave(LinkedListNode<Place> place, Operation?[] ops, List<Operation> through)
    {
        _here.Remove(place);
        _free.Push(place);
        while (_waiting.TryPeek(out var op) && (op.Done || !op.WaitingIn!.Contains(this) || !KeepsOut(op)))
        {
            _waiting.Dequeue();
            Pass(op, through);
        }
        // The waiting operations came in order, so whoever is now first here and came
        // before the front one came before all behind it too, and keeps them all out,
        // but for one: the operation of that first one's own task (a task has one at a time).
        if (_here.First is { } first && ops[first.Value.Task] is { } own && own.WaitingIn?.Contains(this) == true &&
            !KeepsOut(own))
        {
            Pass(own, through);
        }
    }

    private void Pass(Operation op, List<Operation> through)
    {
        if (op.WaitingIn!.Remove(this) && op.WaitingIn.Count == 0 && !op.Done)
        {
            through.Add(op);
        }
    }
}
