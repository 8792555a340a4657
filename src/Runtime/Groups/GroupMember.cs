using System;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Connections;

namespace Rpc.Groups;

/// <summary>How <see cref="GroupMember.Enqueue"/> went.</summary>
internal enum EnqueueResult
{
    Queued,
    QueuedDroppingOldest,
    Full,
    Closed,
}

/// <summary>
/// One connection's membership in a group: a bounded FIFO of messages and the sender loop that drains it into the
/// connection. One sender at a time per member, so the member receives messages in the order they were queued; each
/// member has its own loop, so a member whose socket is full blocks only its own loop, never the publisher or the others.
/// </summary>
internal sealed class GroupMember : IThreadPoolWorkItem
{
    // Messages are handed to the connection in batches, so its protocol can send a batch at once (binary: one send()
    // per batch instead of one per message, which is what keeps up with a fast publisher).
    private const int MaxBatchMessages = 256;

    private readonly object _gate = new();
    private readonly PreparedMessage?[] _ring;
    private readonly PreparedMessage[] _batch = new PreparedMessage[MaxBatchMessages];
    private readonly GroupCounters _counters;
    private int _head;
    private int _count;
    private int _waiters;
    private bool _running;
    private bool _closed;
    private long _sent;
    private long _dropped;

    public GroupMember(RpcConnection connection, int capacity, GroupCounters counters)
    {
        Connection = connection;
        _ring = new PreparedMessage?[capacity];
        _counters = counters;
    }

    public RpcConnection Connection { get; }

    /// <summary>Gets or sets the member's typed proxy for calls with results, made on first use.</summary>
    public object? Proxy { get; set; }

    public int QueueDepth => Volatile.Read(ref _count);

    public bool IsClosed => Volatile.Read(ref _closed);

    public RpcGroupMemberStatistics Statistics
    {
        get
        {
            lock (_gate)
            {
                return new RpcGroupMemberStatistics(_count, Interlocked.Read(ref _sent), _dropped);
            }
        }
    }

    /// <summary>
    /// Queues a message the caller has already added a reference for. On <see cref="EnqueueResult.Full"/> and
    /// <see cref="EnqueueResult.Closed"/> the message was not queued and the caller still owns that reference.
    /// </summary>
    public EnqueueResult Enqueue(PreparedMessage message, RpcFullQueuePolicy policy, TimeSpan waitTimeout)
    {
        PreparedMessage? dropped = null;
        bool schedule;
        lock (_gate)
        {
            if (_closed)
            {
                return EnqueueResult.Closed;
            }

            if (_count == _ring.Length)
            {
                switch (policy)
                {
                    case RpcFullQueuePolicy.DropOldest:
                        dropped = _ring[_head];
                        _ring[_head] = null;
                        _head = Next(_head);
                        _count--;
                        _dropped++;
                        break;
                    case RpcFullQueuePolicy.Wait:
                        if (!WaitForRoom(waitTimeout))
                        {
                            return _closed ? EnqueueResult.Closed : EnqueueResult.Full;
                        }

                        break;
                    default:
                        return EnqueueResult.Full;
                }
            }

            var tail = _head + _count;
            _ring[tail >= _ring.Length ? tail - _ring.Length : tail] = message;
            Volatile.Write(ref _count, _count + 1);
            schedule = !_running;
            _running = true;
        }

        if (dropped is not null)
        {
            dropped.Release();
            _counters.AddDropped(1, GroupCounters.DropOldest);
        }

        if (schedule)
        {
            // Never inline: the publisher may be a connection's receive thread, and sending may block on a full socket.
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }

        return dropped is null ? EnqueueResult.Queued : EnqueueResult.QueuedDroppingOldest;
    }

    /// <summary>Stops the member: no more messages are queued or sent; returns how many queued messages were discarded.</summary>
    public int Close()
    {
        PreparedMessage?[] discarded;
        int count;
        lock (_gate)
        {
            if (_closed)
            {
                return 0;
            }

            _closed = true;
            count = _count;
            discarded = new PreparedMessage?[count];
            for (var i = 0; i < count; i++)
            {
                discarded[i] = _ring[_head];
                _ring[_head] = null;
                _head = Next(_head);
            }

            _dropped += count;
            Volatile.Write(ref _count, 0);
            Monitor.PulseAll(_gate);
        }

        foreach (var message in discarded)
        {
            message!.Release();
        }

        return count;
    }

    void IThreadPoolWorkItem.Execute() => _ = RunAsync();

    private int Next(int index) => index + 1 == _ring.Length ? 0 : index + 1;

    private bool WaitForRoom(TimeSpan timeout)
    {
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        _waiters++;
        try
        {
            while (_count == _ring.Length && !_closed)
            {
                var remaining = deadline - Environment.TickCount64;
                if (remaining <= 0)
                {
                    return false;
                }

                Monitor.Wait(_gate, (int)remaining);
            }

            return !_closed;
        }
        finally
        {
            _waiters--;
        }
    }

    private async Task RunAsync()
    {
        while (true)
        {
            int taken;
            lock (_gate)
            {
                if (_closed || _count == 0)
                {
                    _running = false;
                    return;
                }

                taken = Math.Min(_count, MaxBatchMessages);
                for (var i = 0; i < taken; i++)
                {
                    _batch[i] = _ring[_head]!;
                    _ring[_head] = null;
                    _head = Next(_head);
                }

                Volatile.Write(ref _count, _count - taken);
                if (_waiters > 0)
                {
                    Monitor.PulseAll(_gate);
                }
            }

            Task? backlogged;
            try
            {
                backlogged = SendBatch(taken);
            }
            catch (Exception)
            {
                // The connection is closed or failed while sending: the group removes the member when its connection
                // completes. Stop here rather than spin on a dead connection; the next Enqueue reschedules if needed.
                lock (_gate)
                {
                    _running = false;
                }

                return;
            }

            if (backlogged is not null)
            {
                // More than the connection's backlog limit waits to be sent (a slow transport that does not block):
                // wait, so this member's memory stays bounded by its queue plus that limit.
                try
                {
                    await backlogged.ConfigureAwait(false);
                }
                catch (Exception)
                {
                    lock (_gate)
                    {
                        _running = false;
                    }

                    return;
                }
            }
        }
    }

    /// <summary>Sends the batch; returns a task to wait for when the connection reports back-pressure, else null.</summary>
    private Task? SendBatch(int count)
    {
        var batch = _batch.AsSpan(0, count);
        var handedOver = 0;
        try
        {
            var sent = Connection.Protocol.SendPrepared(batch, ref handedOver);
            Interlocked.Add(ref _sent, count);
            _counters.AddSent(count);
            return sent.IsCompletedSuccessfully ? null : sent.AsTask();
        }
        catch (Exception)
        {
            // Whatever was not handed to the connection is lost with it.
            var lost = count - handedOver;
            lock (_gate)
            {
                _dropped += lost;
            }

            _counters.AddDropped(lost, GroupCounters.MemberLeft);
            throw;
        }
        finally
        {
            foreach (var message in batch)
            {
                message.Release();
            }

            batch.Clear();
        }
    }
}
