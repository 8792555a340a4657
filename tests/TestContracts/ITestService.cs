using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Tests;

/// <summary>Everything a contract can express, served by <see cref="TestService"/> in-process and in the test host.</summary>
[RpcContract]
public interface ITestService
{
    Task<int> AddAsync(int a, int b, CancellationToken cancellationToken = default);

    ValueTask<string> EchoAsync(string text);

    ValueTask PingAsync();

    Task ResetAsync();

    Task<RpcBuffer> EchoBufferAsync(RpcBuffer payload);

    Task<byte[]> EchoBytesAsync(byte[] payload);

    Task<int> SumBytesAsync(ReadOnlyMemory<byte> payload);

    Task ThrowAsync(string message);

    Task<int> ThrowSynchronouslyAsync(string message);

    /// <summary>Waits until the call is cancelled (or 30 s), then reports through <see cref="WasLastWaitCancelledAsync"/>.</summary>
    Task WaitForCancellationAsync(CancellationToken cancellationToken);

    Task<bool> WasLastWaitCancelledAsync();

    IAsyncEnumerable<int> CountAsync(int count, int delayMilliseconds, CancellationToken cancellationToken = default);

    void Notify(string message);

    Task<IReadOnlyList<string>> GetNotificationsAsync();

    Task<Order> RoundTripAsync(Order order);

    /// <summary>Calls the client's <see cref="ICallback"/> on the same connection and returns its answer.</summary>
    Task<int> CallBackAsync(int value);

    Task SleepAsync(int milliseconds, CancellationToken cancellationToken = default);

    Task<int> GetProcessIdAsync();

    /// <summary>
    /// Appends <paramref name="key"/> as a line to the file <paramref name="journal"/>, then waits
    /// <paramref name="delayMilliseconds"/> and returns the server's process id: the reconnect tests count the runs of
    /// each call across server processes.
    /// </summary>
    Task<int> RecordAsync(string journal, string key, int delayMilliseconds);

    /// <summary><see cref="RecordAsync"/>, marked safe to run more than once.</summary>
    [RpcIdempotent]
    Task<int> RecordIdempotentAsync(string journal, string key, int delayMilliseconds);

    [RpcMethod("custom.name")]
    Task<string> RenamedAsync(string? maybe);
}

/// <summary>A callback contract the client serves and the server calls.</summary>
[RpcContract]
public interface ICallback
{
    Task<int> OnValueAsync(int value);
}

/// <summary>A contract nobody serves: calling it tests the method-not-found path.</summary>
[RpcContract]
public interface IUnservedService
{
    Task<int> MissingAsync();
}

/// <summary>A contract that extends another.</summary>
[RpcContract]
public interface IExtendedService : ICallback
{
    Task<string> DescribeAsync();
}

public enum OrderStatus
{
    New,
    Shipped,
    Cancelled,
}

public record OrderLine(string Sku, decimal Price, int Quantity);

public record Order(int Id, string Customer, List<OrderLine> Lines, OrderStatus Status, DateTimeOffset PlacedAt, Dictionary<string, int>? Tags)
{
    public Guid Reference { get; init; }

    public int[]? Ratings { get; init; }
}
