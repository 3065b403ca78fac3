using DaxSim.Actors.Inode;
using DaxSim.Protocol;
using DaxSim.Protocol.Messages;
using Xunit;

namespace DaxSim.Tests.Actors;

public sealed class FifoRwLockSpecs
{
    private static readonly TaskId A = new(0), B = new(1), C = new(2), D = new(3);

    [Fact]
    public void Shared_holders_must_share()
    {
        var l = new FifoRwLock();
        Assert.Single(l.Acquire(A, LockMode.Shared, 1));
        Assert.Single(l.Acquire(B, LockMode.Shared, 2));
        Assert.Equal(2, l.Holders.Count);
    }

    [Fact]
    public void A_queued_exclusive_request_must_block_later_shared_ones()
    {
        var l = new FifoRwLock();
        l.Acquire(A, LockMode.Shared, 1);
        Assert.Empty(l.Acquire(B, LockMode.Exclusive, 2));
        Assert.Empty(l.Acquire(C, LockMode.Shared, 3));

        var (granted, released, _) = l.Release(A);
        Assert.Equal(LockMode.Shared, released);
        Assert.Equal([B], granted.Select(g => g.Task));

        (granted, _, _) = l.Release(B);
        Assert.Equal([C], granted.Select(g => g.Task));
    }

    [Fact]
    public void Requests_must_be_granted_in_arrival_order_with_consecutive_shared_ones_together()
    {
        var l = new FifoRwLock();
        l.Acquire(A, LockMode.Exclusive, 1);
        l.Acquire(B, LockMode.Shared, 2);
        l.Acquire(C, LockMode.Shared, 3);
        l.Acquire(D, LockMode.Exclusive, 4);
        var (granted, _, _) = l.Release(A);
        Assert.Equal([B, C], granted.Select(g => g.Task));
        Assert.Empty(l.Release(B).Granted);
        Assert.Equal([D], l.Release(C).Granted.Select(g => g.Task));
    }

    [Fact]
    public void A_withdrawn_exclusive_request_must_let_the_shared_ones_behind_it_through()
    {
        var l = new FifoRwLock();
        l.Acquire(A, LockMode.Shared, 1);
        l.Acquire(B, LockMode.Exclusive, 2);
        l.Acquire(C, LockMode.Shared, 3);
        var (granted, released, withdrawn) = l.Release(B);
        Assert.Null(released);
        Assert.True(withdrawn);
        Assert.Equal([C], granted.Select(g => g.Task));
    }

    [Fact]
    public void Asking_twice_for_the_same_lock_must_be_refused()
    {
        var l = new FifoRwLock();
        l.Acquire(A, LockMode.Shared, 1);
        Assert.Throws<InvalidOperationException>(() => l.Acquire(A, LockMode.Exclusive, 2));
    }

    [Fact]
    public void Asking_again_while_queued_must_be_refused()
    {
        var l = new FifoRwLock();
        l.Acquire(A, LockMode.Exclusive, 1);
        l.Acquire(B, LockMode.Shared, 2);
        Assert.Throws<InvalidOperationException>(() => l.Acquire(B, LockMode.Shared, 3));
    }

    [Fact]
    public void Release_must_tell_a_holder_from_a_queued_task_from_a_stranger()
    {
        var l = new FifoRwLock();
        Assert.Equal([A], l.Acquire(A, LockMode.Shared, 1).Select(g => g.Task));
        var stranger = l.Release(C);
        Assert.Empty(stranger.Granted);
        Assert.Null(stranger.Released);
        Assert.False(stranger.Withdrawn);

        l.Acquire(B, LockMode.Exclusive, 2);
        var holder = l.Release(A);
        Assert.Equal([B], holder.Granted.Select(g => g.Task));
        Assert.Equal(LockMode.Shared, holder.Released);
        Assert.False(holder.Withdrawn);
    }
}
