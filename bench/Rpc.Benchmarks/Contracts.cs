using System;
using System.Threading.Tasks;
using Rpc.SharedState;

namespace Rpc.Benchmarks;

/// <summary>The Rpc rows' contract: a small call and a pooled large-payload echo.</summary>
[RpcContract]
public interface IBenchService
{
    /// <summary>Adds two numbers (the small call: two ints in, one int out).</summary>
    /// <param name="a">The first addend.</param>
    /// <param name="b">The second addend.</param>
    /// <returns>The sum.</returns>
    Task<int> AddAsync(int a, int b);

    /// <summary>Returns the payload (64 KiB / 1 MiB rows).</summary>
    /// <param name="payload">The bytes to echo.</param>
    /// <returns>The same bytes.</returns>
    Task<RpcBuffer> EchoAsync(RpcBuffer payload);

    /// <summary>Adds 1 to every byte and returns the payload (bulk-data rows: the bytes travel both ways).</summary>
    /// <param name="payload">The bytes to update.</param>
    /// <returns>The updated bytes.</returns>
    Task<RpcBuffer> IncrementBufferAsync(RpcBuffer payload);

    /// <summary>Adds 1 to every byte of a shared array, in place (bulk-data rows: only the handle travels).</summary>
    /// <param name="data">The array to update; this side's handle is disposed before returning.</param>
    /// <returns>The array's length.</returns>
    Task<int> IncrementSharedAsync(SharedArray<byte> data);
}

/// <summary>
/// The StreamJsonRpc row's contract: the same shape with <c>byte[]</c>, what StreamJsonRpc users write; marked as its
/// analyzer recommends, so <c>JsonRpc.Attach&lt;T&gt;</c> uses StreamJsonRpc's source-generated proxy.
/// </summary>
// StreamJsonRpc0008 asks for PolyType's [GenerateShape] too, which only its Nerdbank.MessagePack formatter uses; this
// row uses the MessagePack (MessagePack-CSharp) formatter, as the peer table in the performance floor does.
#pragma warning disable StreamJsonRpc0008
[StreamJsonRpc.JsonRpcContract]
public partial interface ISjrBenchService
#pragma warning restore StreamJsonRpc0008
{
    /// <summary>Adds two numbers.</summary>
    /// <param name="a">The first addend.</param>
    /// <param name="b">The second addend.</param>
    /// <returns>The sum.</returns>
    Task<int> AddAsync(int a, int b);

    /// <summary>Returns the payload.</summary>
    /// <param name="payload">The bytes to echo.</param>
    /// <returns>The same bytes.</returns>
    Task<byte[]> EchoAsync(byte[] payload);
}

/// <summary>The Rpc implementation: completes synchronously, so the reply is written on the receive thread.</summary>
internal sealed class BenchService : IBenchService
{
    public Task<int> AddAsync(int a, int b) => Task.FromResult(a + b);

    // Returning the received buffer is allowed (see RpcBuffer): the runtime recycles it once the reply is written.
    public Task<RpcBuffer> EchoAsync(RpcBuffer payload) => Task.FromResult(payload);

    public Task<RpcBuffer> IncrementBufferAsync(RpcBuffer payload)
    {
        Increment(payload.Span);
        return Task.FromResult(payload);
    }

    public Task<int> IncrementSharedAsync(SharedArray<byte> data)
    {
        using (data)
        {
            Increment(data.AsSpan());
            return Task.FromResult(data.Length);
        }
    }

    private static void Increment(Span<byte> bytes)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i]++;
        }
    }
}

/// <summary>The StreamJsonRpc implementation.</summary>
internal sealed class SjrBenchService : ISjrBenchService
{
    public Task<int> AddAsync(int a, int b) => Task.FromResult(a + b);

    public Task<byte[]> EchoAsync(byte[] payload) => Task.FromResult(payload);
}
