using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Tests;

/// <summary>The implementation of <see cref="ITestService"/>; one per connection, so it can call that client back.</summary>
public sealed class TestService(ICallback? callback = null) : ITestService
{
    private readonly ConcurrentQueue<string> _notifications = new();
    private static readonly object JournalGate = new();
    private volatile bool _lastWaitCancelled;

    public Task<int> AddAsync(int a, int b, CancellationToken cancellationToken = default) => Task.FromResult(a + b);

    public ValueTask<string> EchoAsync(string text) => new(text);

    public ValueTask PingAsync() => default;

    public Task ResetAsync()
    {
        _notifications.Clear();
        return Task.CompletedTask;
    }

    public Task<RpcBuffer> EchoBufferAsync(RpcBuffer payload) => Task.FromResult(payload);

    public Task<byte[]> EchoBytesAsync(byte[] payload) => Task.FromResult(payload);

    public Task<int> SumBytesAsync(ReadOnlyMemory<byte> payload)
    {
        var sum = 0;
        foreach (var b in payload.Span)
        {
            sum += b;
        }

        return Task.FromResult(sum);
    }

    public Task ThrowAsync(string message) => Task.FromException(new InvalidOperationException(message));

    public Task<int> ThrowSynchronouslyAsync(string message) => throw new ArgumentException(message, nameof(message));

    public async Task WaitForCancellationAsync(CancellationToken cancellationToken)
    {
        _lastWaitCancelled = false;
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(30), cancellationToken);
        }
        catch (OperationCanceledException)
        {
            _lastWaitCancelled = true;
            throw;
        }
    }

    public Task<bool> WasLastWaitCancelledAsync() => Task.FromResult(_lastWaitCancelled);

    public async IAsyncEnumerable<int> CountAsync(int count, int delayMilliseconds, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (var i = 0; i < count; i++)
        {
            if (delayMilliseconds > 0)
            {
                await Task.Delay(delayMilliseconds, cancellationToken);
            }

            cancellationToken.ThrowIfCancellationRequested();
            yield return i;
        }
    }

    public void Notify(string message) => _notifications.Enqueue(message);

    public Task<IReadOnlyList<string>> GetNotificationsAsync() => Task.FromResult<IReadOnlyList<string>>(_notifications.ToList());

    public Task<Order> RoundTripAsync(Order order) => Task.FromResult(order);

    public async Task<int> CallBackAsync(int value) =>
        await (callback ?? throw new InvalidOperationException("This connection has no callback.")).OnValueAsync(value);

    public Task SleepAsync(int milliseconds, CancellationToken cancellationToken = default) => Task.Delay(milliseconds, cancellationToken);

    public Task<int> GetProcessIdAsync() => Task.FromResult(Environment.ProcessId);

    public Task<int> RecordAsync(string journal, string key, int delayMilliseconds) => RecordCoreAsync(journal, key, delayMilliseconds);

    public Task<int> RecordIdempotentAsync(string journal, string key, int delayMilliseconds) => RecordCoreAsync(journal, key, delayMilliseconds);

    public Task<string> RenamedAsync(string? maybe) => Task.FromResult(maybe ?? "<null>");

    private static async Task<int> RecordCoreAsync(string journal, string key, int delayMilliseconds)
    {
        // Connections run calls concurrently; one writer at a time keeps each line whole.
        lock (JournalGate)
        {
            File.AppendAllText(journal, key + "\n");
        }

        await Task.Delay(delayMilliseconds);
        return Environment.ProcessId;
    }
}
