using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Rpc.Tests;

namespace Rpc.Fuzzing;

/// <summary>
/// One call of each result shape (int, string, no value, RpcBuffer, byte[], a record with lists, dictionaries, enums and
/// nullables, a list of strings, a remote exception, a stream), started in this order so that they get request ids 1..N:
/// the recorded replies in the seed corpus answer exactly these.
/// </summary>
internal sealed class OutstandingCalls
{
    private readonly List<(string Method, Task Call)> _calls;

    private OutstandingCalls(List<(string Method, Task Call)> calls) => _calls = calls;

    public static OutstandingCalls Start(ITestService service) => new(
    [
        ("Add", service.AddAsync(40, 2)),
        ("Echo", service.EchoAsync("hello").AsTask()),
        ("Ping", service.PingAsync().AsTask()),
        ("EchoBuffer", DisposeResultAsync(service.EchoBufferAsync(RpcBuffer.CopyFrom([1, 2, 3, 4])))),
        ("EchoBytes", service.EchoBytesAsync([5, 6, 7])),
        ("RoundTrip", service.RoundTripAsync(SampleOrder)),
        ("GetNotifications", service.GetNotificationsAsync()),
        ("Renamed", service.RenamedAsync(null)),
        ("Throw", service.ThrowAsync("expected")),
        ("Count", CollectAsync(service.CountAsync(3, 0))),
    ]);

    /// <summary>An order that uses every kind of member the generated formatters handle.</summary>
    public static Order SampleOrder { get; } = new(
        7,
        "Ada",
        [new OrderLine("sku-1", 12.5m, 2), new OrderLine("sku-2", 0.01m, 1)],
        OrderStatus.Shipped,
        new DateTimeOffset(2026, 12, 3, 8, 0, 0, TimeSpan.FromHours(1)),
        new Dictionary<string, int> { ["gift"] = 1, ["rush"] = 0 })
    {
        Reference = new Guid("0f8fad5b-d9cb-469f-a165-70867728950e"),
        Ratings = [5, 4],
    };

    /// <summary>
    /// Waits for every call. Each must complete with its result or fail with an <see cref="RpcException"/> (the reply was
    /// unreadable, the server threw, the connection was lost); any other exception, or a call still waiting after
    /// <paramref name="timeout"/>, breaks the oracle.
    /// </summary>
    public async Task CheckAsync(TimeSpan timeout)
    {
        foreach (var (method, call) in _calls)
        {
            try
            {
                await call.WaitAsync(timeout).ConfigureAwait(false);
            }
            catch (TimeoutException) when (!call.IsCompleted)
            {
                throw new OracleViolationException($"The call {method} was still waiting {timeout.TotalSeconds} s after the connection closed.");
            }
            catch (RpcException)
            {
            }
            catch (Exception exception)
            {
                throw new OracleViolationException($"The call {method} failed with {exception.GetType().FullName}, not an RpcException: {exception.Message}", exception);
            }
        }
    }

    /// <summary>Names the calls not completed yet, for the report of a hang.</summary>
    public string DescribeWaiting() => string.Join(", ", _calls.Where(call => !call.Call.IsCompleted).Select(call => call.Method));

    // A nil reply reads as null: the formatters do not reject nil for a non-nullable result (see tests/Fuzzing/Open).
    private static async Task DisposeResultAsync(Task<RpcBuffer> call) => (await call.ConfigureAwait(false))?.Dispose();

    private static async Task CollectAsync(IAsyncEnumerable<int> stream)
    {
        await foreach (var _ in stream.ConfigureAwait(false))
        {
        }
    }
}
