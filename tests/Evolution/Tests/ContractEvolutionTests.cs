extern alias V1;
extern alias V2;

using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Old = V1::Rpc.Evolution;
using New = V2::Rpc.Evolution;

namespace Rpc.Evolution.Tests;

/// <summary>
/// An old and a new build of one contract talking to each other, in both directions, over both protocols, on a Unix
/// socket and on TCP: what works and exactly what the caller sees when it does not.
/// </summary>
/// <remarks>
/// The two builds are two projects (tests/Evolution/V1 and V2) declaring the same namespace, interface and type names,
/// so the generator gives both the same wire names and method ids, and each build's generated proxy, stub and
/// formatters are its own. Each project is also the server executable of its version: the servers run in their own
/// processes. The clients of both versions run here, each build reached through its extern alias, so every assertion
/// is on what the calling code itself observes.
/// </remarks>
public sealed class ContractEvolutionTests : IClassFixture<PeersFixture>, IDisposable
{
    private readonly PeersFixture _peers;
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));
    private readonly CancellationTokenRegistration _closeAtTimeout;
    private readonly List<RpcConnection> _connections = [];

    public ContractEvolutionTests(PeersFixture peers)
    {
        _peers = peers;

        // Bounds every call: closing a connection fails its pending calls, so a call left unanswered fails the test.
        _closeAtTimeout = _timeout.Token.Register(() => _ = CloseConnections());
    }

    /// <summary>Gets every protocol on every transport the peers listen on.</summary>
    public static TheoryData<string, string> Links => new()
    {
        { "binary", "unix" },
        { "binary", "tcp" },
        { "json", "unix" },
        { "json", "tcp" },
    };

    [Theory]
    [MemberData(nameof(Links))]
    public async Task UnchangedMethodWorksBothWays(string protocol, string transport)
    {
        Assert.Equal("v1:hi", await (await NewClientOfOldServer(protocol, transport)).PingAsync("hi"));
        Assert.Equal("v2:hi", await (await OldClientOfNewServer(protocol, transport)).PingAsync("hi"));
    }

    [Theory]
    [MemberData(nameof(Links))]
    public async Task MethodAddedInV2FailsAtOldServerWithMethodNotFoundNamingIt(string protocol, string transport)
    {
        var client = await NewClientOfOldServer(protocol, transport);

        // The binary server knows only the method id; the caller names the method. StreamJsonRpc's server names it.
        var request = await Assert.ThrowsAsync<RemoteInvocationException>(() => client.CountAsync());
        Assert.Equal(RpcErrorCode.MethodNotFound, request.ErrorCode);
        Assert.StartsWith(protocol == "binary" ? "The peer does not serve the method 'Count': " : "No method by the name 'Count' is found.", request.Message, StringComparison.Ordinal);

        var stream = await Assert.ThrowsAsync<RemoteInvocationException>(async () =>
        {
            await foreach (var item in client.RangeAsync(3, _timeout.Token))
            {
                Assert.Fail($"The old server streamed {item}.");
            }
        });
        Assert.Equal(RpcErrorCode.MethodNotFound, stream.ErrorCode);
        Assert.StartsWith(protocol == "binary" ? "The peer does not serve the method 'Range': " : "No method by the name 'Range' is found.", stream.Message, StringComparison.Ordinal);

        // The connection stays usable, and the new server serves the method.
        Assert.Equal("v1:after", await client.PingAsync("after"));
        Assert.Equal(42, await (await NewClientOfNewServer(protocol, transport)).CountAsync());
    }

    [Theory]
    [MemberData(nameof(Links))]
    public async Task RecordMembersAppendedInV2AreDefaultAtNewPeerAndSkippedAtOldPeer(string protocol, string transport)
    {
        var oldClient = await OldClientOfNewServer(protocol, transport);
        Assert.Equal("Name=bolt Quantity=3 Priority=0 Note=<null>", await oldClient.DescribeItemAsync(new Old.Item("bolt", 3)));
        Assert.Equal(new Old.Item("bolt", 3), await oldClient.EchoItemAsync(new Old.Item("bolt", 3)));

        var newClient = await NewClientOfOldServer(protocol, transport);
        Assert.Equal("Name=bolt Quantity=3", await newClient.DescribeItemAsync(new New.Item("bolt", 3, 7, "fragile")));
        Assert.Equal(new New.Item("bolt", 3, 0, null), await newClient.EchoItemAsync(new New.Item("bolt", 3, 7, "fragile")));
    }

    [Theory]
    [MemberData(nameof(Links))]
    public async Task NonNullableRecordMemberAppendedInV2(string protocol, string transport)
    {
        var oldClient = await OldClientOfNewServer(protocol, transport);
        if (protocol == "binary")
        {
            var error = await Assert.ThrowsAsync<RemoteInvocationException>(() => oldClient.DescribeTagAsync(new Old.Tag("t")));
            Assert.Equal(RpcErrorCode.InvalidArguments, error.ErrorCode);
            Assert.Contains("'DescribeTag'", error.Message, StringComparison.Ordinal);
            Assert.Contains("'Owner' is nil but its type is not nullable", error.Message, StringComparison.Ordinal);
        }
        else
        {
            // System.Text.Json leaves a missing member at its default and does not check nullable annotations.
            Assert.Equal("Name=t Owner=<null>", await oldClient.DescribeTagAsync(new Old.Tag("t")));
        }

        Assert.Equal("Name=t", await (await NewClientOfOldServer(protocol, transport)).DescribeTagAsync(new New.Tag("t", "me")));
    }

    [Theory]
    [MemberData(nameof(Links))]
    public async Task RecordMiddleMemberRemovedInV2(string protocol, string transport)
    {
        var newClient = await NewClientOfOldServer(protocol, transport);
        var oldClient = await OldClientOfNewServer(protocol, transport);
        if (protocol == "binary")
        {
            // Members travel by position: everything after the removed one shifts into its neighbour's place.
            Assert.Equal("Id=p1 WeightGrams=5 Count=0", await newClient.DescribeParcelAsync(new New.Parcel("p1", 5)));
            Assert.Equal("Id=p1 Count=900", await oldClient.DescribeParcelAsync(new Old.Parcel("p1", 900, 5)));
            Assert.Equal(new Old.Parcel("p1", 900, 0), await oldClient.EchoParcelAsync(new Old.Parcel("p1", 900, 5)));
        }
        else
        {
            // Members travel by name: the removed one is missing (default) or ignored.
            Assert.Equal("Id=p1 WeightGrams=0 Count=5", await newClient.DescribeParcelAsync(new New.Parcel("p1", 5)));
            Assert.Equal("Id=p1 Count=5", await oldClient.DescribeParcelAsync(new Old.Parcel("p1", 900, 5)));
            Assert.Equal(new Old.Parcel("p1", 0, 5), await oldClient.EchoParcelAsync(new Old.Parcel("p1", 900, 5)));
        }
    }

    [Theory]
    [MemberData(nameof(Links))]
    public async Task RecordLastMemberRemovedInV2IsDefaultAtOldPeerAndSkippedAtNewPeer(string protocol, string transport)
    {
        var newClient = await NewClientOfOldServer(protocol, transport);
        Assert.Equal("Text=x Comment=<null>", await newClient.DescribeLabelAsync(new New.Label("x")));
        Assert.Equal(new New.Label("x"), await newClient.EchoLabelAsync(new New.Label("x")));

        var oldClient = await OldClientOfNewServer(protocol, transport);
        Assert.Equal("Text=x", await oldClient.DescribeLabelAsync(new Old.Label("x", "c")));
        Assert.Equal(new Old.Label("x", null), await oldClient.EchoLabelAsync(new Old.Label("x", "c")));
    }

    [Theory]
    [MemberData(nameof(Links))]
    public async Task ParameterAppendedInV2(string protocol, string transport)
    {
        var oldClient = await OldClientOfNewServer(protocol, transport);
        var newClient = await NewClientOfOldServer(protocol, transport);
        if (protocol == "binary")
        {
            // Arguments travel as an array, read like a record's members: a missing one is default, an extra one skipped.
            Assert.Equal("sku x2 express=False", await oldClient.ReserveAsync("sku", 2));
            Assert.Equal("sku x2", await newClient.ReserveAsync("sku", 2, express: true));
        }
        else
        {
            // StreamJsonRpc matches a method by name and argument count: either difference is a refused call.
            var missing = await Assert.ThrowsAsync<RemoteInvocationException>(() => oldClient.ReserveAsync("sku", 2));
            Assert.Equal(RpcErrorCode.InvalidArguments, missing.ErrorCode);
            Assert.Contains("'Reserve/2'", missing.Message, StringComparison.Ordinal);
            Assert.Contains("An argument was not supplied for a required parameter", missing.Message, StringComparison.Ordinal);

            var extra = await Assert.ThrowsAsync<RemoteInvocationException>(() => newClient.ReserveAsync("sku", 2, express: true));
            Assert.Equal(RpcErrorCode.InvalidArguments, extra.ErrorCode);
            Assert.Contains("'Reserve/3'", extra.Message, StringComparison.Ordinal);
            Assert.Contains("the request supplies 3", extra.Message, StringComparison.Ordinal);
        }

        Assert.Equal("v2:still usable", await oldClient.PingAsync("still usable"));
        Assert.Equal("v1:still usable", await newClient.PingAsync("still usable"));
    }

    [Theory]
    [MemberData(nameof(Links))]
    public async Task NonNullableParameterAppendedInV2(string protocol, string transport)
    {
        var oldClient = await OldClientOfNewServer(protocol, transport);
        var newClient = await NewClientOfOldServer(protocol, transport);
        var missing = await Assert.ThrowsAsync<RemoteInvocationException>(() => oldClient.PrintAsync("sku"));
        Assert.Equal(RpcErrorCode.InvalidArguments, missing.ErrorCode);
        if (protocol == "binary")
        {
            // The missing argument would be null, which its type does not allow.
            Assert.Contains("'printer' is nil but its type is not nullable", missing.Message, StringComparison.Ordinal);
            Assert.Equal("sku", await newClient.PrintAsync("sku", "lp0"));
        }
        else
        {
            Assert.Contains("'Print/1'", missing.Message, StringComparison.Ordinal);
            var extra = await Assert.ThrowsAsync<RemoteInvocationException>(() => newClient.PrintAsync("sku", "lp0"));
            Assert.Equal(RpcErrorCode.InvalidArguments, extra.ErrorCode);
            Assert.Contains("'Print/2'", extra.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(Links))]
    public async Task EnumValueAddedInV2ArrivesAtOldPeerAsItsNumber(string protocol, string transport)
    {
        var newClient = await NewClientOfOldServer(protocol, transport);
        Assert.Equal("2:2", await newClient.DescribeShadeAsync(New.Shade.Blue));
        Assert.Equal(New.Shade.Blue, await newClient.EchoShadeAsync(New.Shade.Blue));

        var oldClient = await OldClientOfNewServer(protocol, transport);
        Assert.Equal("2:Blue", await oldClient.DescribeShadeAsync((Old.Shade)2));
        Assert.Equal((Old.Shade)2, await oldClient.EchoShadeAsync((Old.Shade)2));
    }

    public void Dispose()
    {
        _closeAtTimeout.Dispose();
        CloseConnections().Wait(TimeSpan.FromSeconds(10));
        _timeout.Dispose();
    }

    private Task CloseConnections()
    {
        lock (_connections)
        {
            var closing = _connections.ConvertAll(connection => connection.DisposeAsync().AsTask());
            _connections.Clear();
            return Task.WhenAll(closing);
        }
    }

    private Task<New.IInventory> NewClientOfOldServer(string protocol, string transport) =>
        ConnectAsync<New.IInventory>(_peers.Old.Endpoint(protocol, transport), protocol);

    private Task<New.IInventory> NewClientOfNewServer(string protocol, string transport) =>
        ConnectAsync<New.IInventory>(_peers.New.Endpoint(protocol, transport), protocol);

    private Task<Old.IInventory> OldClientOfNewServer(string protocol, string transport) =>
        ConnectAsync<Old.IInventory>(_peers.New.Endpoint(protocol, transport), protocol);

    private async Task<TContract> ConnectAsync<TContract>(string endpoint, string protocol)
        where TContract : class
    {
        var options = new RpcConnectionOptions { Protocol = protocol == "json" ? RpcProtocol.JsonRpc : RpcProtocol.Binary };
        var connection = await RpcConnection.ConnectAsync(endpoint, options, _timeout.Token);
        lock (_connections)
        {
            _connections.Add(connection);
        }

        return connection.CreateProxy<TContract>();
    }
}
