using System;
using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Protocols.Binary;

namespace Rpc.Server;

/// <summary>
/// Tells which protocol a newly accepted client speaks from its first byte, without consuming it: Rpc's binary hello
/// starts with 0x89 (not ASCII), a JSON-RPC message with a header name (an ASCII letter, as in <c>Content-Length:</c>).
/// </summary>
internal static class ProtocolSniffer
{
    // What a refused JSON-RPC client reads before the connection closes: a JSON-RPC "invalid request" error with a null id,
    // since no request of its was read.
    private static readonly byte[] JsonRpcRefusal = Frame(
        """{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"This endpoint does not serve JSON-RPC: it serves Rpc's binary protocol only."}}""");

    /// <summary>Waits for the client's first byte and leaves it unread for the protocol.</summary>
    /// <param name="input">The transport's reader.</param>
    /// <param name="remoteEndpoint">The client, for error messages.</param>
    /// <param name="timeout">How long the client may stay silent (<see cref="Transports.TransportOptions.HandshakeTimeout"/>).</param>
    /// <param name="stopping">Fires when the server stops.</param>
    /// <returns>The protocol the client speaks.</returns>
    /// <exception cref="RpcProtocolException">The first byte belongs to neither protocol.</exception>
    /// <exception cref="TimeoutException">The client sent nothing within <paramref name="timeout"/>.</exception>
    /// <exception cref="ConnectionLostException">The client closed the connection without sending anything.</exception>
    /// <exception cref="OperationCanceledException">The server is stopping.</exception>
    public static async Task<RpcProtocol> DetectAsync(PipeReader input, string remoteEndpoint, TimeSpan timeout, CancellationToken stopping)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        deadline.CancelAfter(timeout);
        ReadResult result;
        try
        {
            result = await input.ReadAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            throw new TimeoutException(
                $"The client {remoteEndpoint} sent nothing within {timeout.TotalSeconds:0.###} s (TransportOptions.HandshakeTimeout); its connection was closed.");
        }

        var buffer = result.Buffer;
        if (buffer.IsEmpty)
        {
            input.AdvanceTo(buffer.Start);
            throw new ConnectionLostException($"The client {remoteEndpoint} closed the connection without sending anything.");
        }

        var first = buffer.FirstSpan[0];
        var shown = Convert.ToHexString(buffer.Slice(0, Math.Min(buffer.Length, 16)).ToArray());

        // Nothing examined: the protocol's first read returns these bytes at once instead of waiting for more.
        input.AdvanceTo(buffer.Start);
        return first switch
        {
            ProtocolHello.FirstByte => RpcProtocol.Binary,
            (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'a' and <= (byte)'z') => RpcProtocol.JsonRpc,
            _ => throw new RpcProtocolException(
                $"The client {remoteEndpoint} speaks neither protocol: its first bytes are {shown} (hex), where Rpc's binary hello starts with 89 and a JSON-RPC message with a header such as Content-Length:. Its connection was closed."),
        };
    }

    /// <summary>Tells a client of a protocol the endpoint does not serve why it is refused, where that protocol allows it.</summary>
    /// <param name="output">The transport's writer.</param>
    /// <param name="protocol">The client's protocol.</param>
    /// <param name="served">What the endpoint serves.</param>
    /// <param name="remoteEndpoint">The client, for the error.</param>
    /// <returns>The error the server records for this connection.</returns>
    public static async Task<RpcProtocolException> RefuseAsync(PipeWriter output, RpcProtocol protocol, RpcProtocols served, string remoteEndpoint)
    {
        if (protocol == RpcProtocol.JsonRpc)
        {
            // A binary client has no message for this before a connection exists: it sees the connection close.
            await output.WriteAsync(JsonRpcRefusal).ConfigureAwait(false);
        }

        return new RpcProtocolException($"The client {remoteEndpoint} speaks {protocol}, which this endpoint does not serve (it serves {served}); its connection was closed.");
    }

    /// <summary>Gets whether <paramref name="served"/> includes <paramref name="protocol"/>.</summary>
    public static bool Serves(this RpcProtocols served, RpcProtocol protocol) =>
        (served & (protocol == RpcProtocol.Binary ? RpcProtocols.Binary : RpcProtocols.JsonRpc)) != 0;

    private static byte[] Frame(string json)
    {
        var body = Encoding.UTF8.GetBytes(json);
        return [.. Encoding.ASCII.GetBytes($"Content-Length: {body.Length}\r\n\r\n"), .. body];
    }
}
