using System;
using System.Buffers;
using System.IO;
using System.Threading.Tasks;
using MessagePack;
using Rpc.Serialization;
using Rpc.SharedState;
using Rpc.Tests.Conformance;
using Xunit;

namespace Rpc.Tests.SharedHandles;

/// <summary>Same wire name as <see cref="ISharedHandleService.AddInPlaceAsync"/>, another element type.</summary>
[RpcContract]
public interface IWrongSharedElement
{
    [RpcMethod("AddInPlace")]
    Task<int> AddInPlaceAsync(SharedArray<long> data, int delta);
}

/// <summary>Shared arrays passed in calls to a server in another process: the handle travels, the elements stay in place.</summary>
public sealed class SharedHandleCallTests : TestBase
{
    [Theory]
    [InlineData("unix")]
    [InlineData("shm")]
    public async Task A_server_in_another_process_updates_the_callers_array_in_place_and_closes_its_handle(string transport)
    {
        await using var server = await ServerProcess.StartAsync([TestEndpoints.Create(transport)], "binary", cancellationToken: TimeoutToken);
        await using var connection = await RpcConnection.ConnectAsync(server.Endpoints[0], TestEndpoints.ClientOptions(transport), TimeoutToken);
        var name = UniqueName();
        using (var data = SharedArray<int>.Create(name, 1 << 20))
        {
            Fill(data.AsSpan());

            var holdersSeenByServer = await connection.CreateProxy<ISharedHandleService>().AddInPlaceAsync(data, 5).WaitAsync(TimeoutToken);

            Assert.Equal(2, holdersSeenByServer);
            Assert.Equal(1, data.HolderCount);
            Assert.Equal(-1, FirstNotIndexPlus(data.AsSpan(), 5));
        }

        Assert.False(File.Exists(SegmentPath(name)));
    }

    [Fact]
    public async Task A_slice_gives_the_server_only_its_range()
    {
        await using var server = await ServerProcess.StartAsync([TestEndpoints.Create("shm")], "binary", cancellationToken: TimeoutToken);
        await using var connection = await RpcConnection.ConnectAsync(server.Endpoints[0], TestEndpoints.ClientOptions("shm"), TimeoutToken);
        var name = UniqueName();
        using (var data = SharedArray<int>.Create(name, [1, 2, 3, 4, 5, 6]))
        {
            Assert.Equal(3, await connection.CreateProxy<ISharedHandleService>().NegateSliceAsync(data.Slice(2, 3)).WaitAsync(TimeoutToken));

            Assert.Equal([1, 2, -3, -4, -5, 6], data.AsSpan().ToArray());
            Assert.Equal(1, data.HolderCount);
        }

        Assert.False(File.Exists(SegmentPath(name)));
    }

    [Fact]
    public void A_slice_handle_whose_range_is_outside_the_array_is_refused_before_opening()
    {
        var name = UniqueName();
        using var data = SharedArray<int>.Create(name, 8);
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        SharedArraySliceFormatter<int>.Instance.Write(ref writer, data.Slice(6, 2));
        writer.Flush();
        var handle = buffer.WrittenSpan.ToArray();

        // The count is the last field, a positive fixint: 2 becomes 3, one element past the end.
        Assert.Equal(2, handle[^1]);
        handle[^1] = 3;

        var error = Assert.Throws<MessagePackSerializationException>(() =>
        {
            var reader = new MessagePackReader(handle);
            return SharedArraySliceFormatter<int>.Instance.Read(ref reader);
        });
        Assert.Contains("[6, 6+3) of 8 elements", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, data.HolderCount);
    }

    [Fact]
    public async Task A_returned_array_is_the_servers_memory_and_outlives_the_servers_handle()
    {
        await using var server = await ServerProcess.StartAsync([TestEndpoints.Create("shm")], "binary", cancellationToken: TimeoutToken);
        await using var connection = await RpcConnection.ConnectAsync(server.Endpoints[0], TestEndpoints.ClientOptions("shm"), TimeoutToken);
        var proxy = connection.CreateProxy<ISharedHandleService>();
        var name = UniqueName();

        using (var shared = await proxy.ShareAsync(name, 1000).WaitAsync(TimeoutToken))
        {
            Assert.Equal(1000, shared.Length);
            Assert.Equal(2, shared.HolderCount);
            shared[10] = -1;
            Assert.Equal(1, await proxy.ReleaseSharedAsync().WaitAsync(TimeoutToken));

            Assert.Equal(1, shared.HolderCount);
            Assert.Equal(-1, shared[10]);
            Assert.Equal(3 * 999, shared[999]);
        }

        Assert.False(File.Exists(SegmentPath(name)));
    }

    [Fact]
    public async Task A_handle_of_another_element_type_is_refused_with_the_reason_and_the_array_is_untouched()
    {
        await using var server = await ServerProcess.StartAsync([TestEndpoints.Create("unix")], "binary", cancellationToken: TimeoutToken);
        await using var connection = await RpcConnection.ConnectAsync(server.Endpoints[0], TestEndpoints.ClientOptions("unix"), TimeoutToken);
        var name = UniqueName();
        using (var data = SharedArray<long>.Create(name, [1L, 2L, 3L]))
        {
            var error = await Assert.ThrowsAsync<RemoteInvocationException>(() => connection.CreateProxy<IWrongSharedElement>().AddInPlaceAsync(data, 5)).WaitAsync(TimeoutToken);

            Assert.Equal(RpcErrorCode.InvalidArguments, error.ErrorCode);
            Assert.Contains($"'{name}' holds another element type of 8 bytes; it was received as SharedArray<System.Int32>", error.Message, StringComparison.Ordinal);
            Assert.Equal([1L, 2L, 3L], data.AsSpan().ToArray());
            Assert.Equal(1, data.HolderCount);

            // The connection serves on.
            using var ints = SharedArray<int>.Create(name + "-int", 4);
            Assert.Equal(2, await connection.CreateProxy<ISharedHandleService>().AddInPlaceAsync(ints, 1).WaitAsync(TimeoutToken));
        }

        Assert.False(File.Exists(SegmentPath(name)));
    }

    [Fact]
    public async Task Json_rpc_refuses_a_shared_array_before_sending_and_the_connection_serves_on()
    {
        await using var server = await ServerProcess.StartAsync([TestEndpoints.Create("unix")], "json", cancellationToken: TimeoutToken);
        await using var connection = await RpcConnection.ConnectAsync(server.Endpoints[0], new RpcConnectionOptions { Protocol = RpcProtocol.JsonRpc }, TimeoutToken);
        var name = UniqueName();
        using (var data = SharedArray<int>.Create(name, [1, 2, 3]))
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => connection.CreateProxy<ISharedHandleService>().AddInPlaceAsync(data, 5)).WaitAsync(TimeoutToken);

            // RpcException ← System.Text.Json's JsonException ← the refusal's NotSupportedException.
            Assert.Contains("only with the binary protocol", error.ToString(), StringComparison.Ordinal);
            Assert.Equal([1, 2, 3], data.AsSpan().ToArray());
            Assert.Equal(1, data.HolderCount);
            Assert.Equal(3, await connection.CreateProxy<ITestService>().AddAsync(1, 2, TimeoutToken).WaitAsync(TimeoutToken));
        }

        Assert.False(File.Exists(SegmentPath(name)));
    }

    [Fact]
    public void A_handle_from_another_boot_is_refused_with_a_typed_error_and_opens_nothing()
    {
        var name = UniqueName();
        using var data = SharedArray<int>.Create(name, 8);
        var handle = Write(data);

        // The boot id is 16 bytes followed by start and count (0 and 8: one byte each).
        handle[^3] ^= 0xFF;

        var error = Assert.Throws<SharedHandleFromOtherMachineException>(() => Read<int>(handle));
        Assert.Equal(name, error.Name);
        Assert.Contains("comes from another machine", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, data.HolderCount);
    }

    [Fact]
    public void A_handle_read_as_another_element_type_names_both_and_opens_nothing()
    {
        var name = UniqueName();
        using var data = SharedArray<int>.Create(name, 8);

        var error = Assert.Throws<SharedStateMismatchException>(() => Read<float>(Write(data)));

        Assert.Equal("System.Single (4 bytes)", error.Expected);
        Assert.Equal(1, data.HolderCount);
    }

    [Fact]
    public void A_handle_whose_array_is_gone_fails_to_open_and_a_disposed_handle_cannot_be_sent()
    {
        var name = UniqueName();
        var data = SharedArray<int>.Create(name, 8);
        var handle = Write(data);
        data.Dispose();

        Assert.Throws<FileNotFoundException>(() => Read<int>(handle));
        Assert.Throws<ObjectDisposedException>(() => Write(data));
        Assert.Null(Read<int>(WriteNil()));
    }

    private static void Fill(Span<int> span)
    {
        for (var i = 0; i < span.Length; i++)
        {
            span[i] = i;
        }
    }

    private static int FirstNotIndexPlus(ReadOnlySpan<int> span, int delta)
    {
        for (var i = 0; i < span.Length; i++)
        {
            if (span[i] != i + delta)
            {
                return i;
            }
        }

        return -1;
    }

    private static string UniqueName() => "handle-" + Guid.NewGuid().ToString("N");

    private static string SegmentPath(string name) => "/dev/shm/rpcstate-" + name;

    private static byte[] Write(SharedArray<int> array)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        SharedArrayFormatter<int>.Instance.Write(ref writer, array);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] WriteNil()
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        SharedArrayFormatter<int>.Instance.Write(ref writer, null);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    private static SharedArray<T>? Read<T>(byte[] handle)
        where T : unmanaged
    {
        var reader = new MessagePackReader(handle);
        var array = SharedArrayFormatter<T>.Instance.Read(ref reader);
        Assert.True(reader.End);
        return array;
    }
}
