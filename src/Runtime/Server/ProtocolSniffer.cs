using System;
using System.Buffers;
using System.IO.Pipelines;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Server;

/// <summary>
/// Tells which of an endpoint's protocols a newly accepted client speaks from its first byte, without consuming it: each
/// protocol recognises its own (<see cref="RpcProtocol.IsFirstByteOfClient"/>; Rpc's binary hello starts with 0x89, a
/// JSON-RPC message with a header name), so the protocols of one endpoint must not claim the same byte.
/// </summary>
internal static class ProtocolSniffer
{
    /// <summary>Waits for the client's first byte and leaves it unread for the protocol.</summary>
    /// <param name="input">The transport's reader.</param>
    /// <param name="served">The endpoint's protocols.</param>
    /// <param name="remoteEndpoint">The client, for error messages.</param>
    /// <param name="timeout">How long the client may stay silent (<see cref="Transports.TransportOptions.HandshakeTimeout"/>, or infinite).</param>
    /// <param name="stopping">Fires when the server stops.</param>
    /// <returns>The protocol the client speaks.</returns>
    /// <exception cref="RpcProtocolException">The first byte belongs to none of the served protocols.</exception>
    /// <exception cref="TimeoutException">The client sent nothing within <paramref name="timeout"/>.</exception>
    /// <exception cref="ConnectionLostException">The client closed the connection without sending anything.</exception>
    /// <exception cref="OperationCanceledException">The server is stopping.</exception>
    public static async Task<RpcProtocol> DetectAsync(PipeReader input, RpcProtocol[] served, string remoteEndpoint, TimeSpan timeout, CancellationToken stopping)
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
        foreach (var protocol in served)
        {
            if (protocol.IsFirstByteOfClient(first))
            {
                return protocol;
            }
        }

        throw new RpcProtocolException(
            $"The client {remoteEndpoint} speaks none of the protocols this endpoint serves ({string.Join(", ", (object[])served)}): its first bytes are {shown} (hex), where Rpc's binary hello starts with 89. Its connection was closed.");
    }
}
