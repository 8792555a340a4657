using System;
using System.IO.Pipelines;
using Rpc.Connections;
using Rpc.Protocols.Binary;

namespace Rpc;

/// <summary>
/// A protocol a connection speaks; both sides must choose the same. <see cref="Binary"/> is built in; other protocols
/// come with their packages (<c>RpcProtocol.JsonRpc</c> with Rpc.JsonRpc).
/// </summary>
public abstract class RpcProtocol
{
    private protected RpcProtocol(string name, string rpcSystem)
    {
        Name = name;
        RpcSystem = rpcSystem;
    }

    /// <summary>
    /// Gets Rpc's compact binary protocol (length-prefixed frames, method ids, MessagePack payloads): the default between
    /// .NET peers, built to run close to the transport's floor. NativeAOT- and trim-safe.
    /// </summary>
    public static RpcProtocol Binary { get; } = new BinaryProtocol();

    /// <summary>Gets the protocol's name, as errors and logs show it.</summary>
    public string Name { get; }

    /// <summary>Gets the protocol's <c>rpc.system</c> in metrics and spans (OpenTelemetry's semantic conventions for RPC).</summary>
    internal string RpcSystem { get; }

    /// <summary>Returns <see cref="Name"/>.</summary>
    /// <returns>The name.</returns>
    public override string ToString() => Name;

    /// <summary>Creates the protocol's side of a connection over <paramref name="transport"/>.</summary>
    /// <param name="transport">The byte stream to the peer.</param>
    /// <param name="options">The connection's settings.</param>
    /// <param name="abortTransport">Releases the transport when the connection closes.</param>
    /// <param name="keepAliveInterval">The resolved <see cref="RpcConnectionOptions.KeepAliveInterval"/>; infinite for none.</param>
    internal abstract ProtocolConnection CreateConnection(IDuplexPipe transport, RpcConnectionOptions options, Action<Exception?> abortTransport, TimeSpan keepAliveInterval);

    /// <summary>
    /// Gets whether this protocol's clients send something as soon as they connect (the binary hello), so a server may
    /// close a client that stays silent past <see cref="Transports.TransportOptions.HandshakeTimeout"/>. A JSON-RPC client
    /// has no greeting: it may connect and wait before its first request, as an idle connection may.
    /// </summary>
    internal virtual bool ClientGreetsOnConnect => false;

    /// <summary>Gets whether a client whose first byte is <paramref name="firstByte"/> speaks this protocol (a server's endpoint asks each protocol it serves).</summary>
    internal abstract bool IsFirstByteOfClient(byte firstByte);

    private sealed class BinaryProtocol() : RpcProtocol("Binary", "rpc-dotnet")
    {
        internal override ProtocolConnection CreateConnection(IDuplexPipe transport, RpcConnectionOptions options, Action<Exception?> abortTransport, TimeSpan keepAliveInterval) =>
            new BinaryProtocolConnection(transport, options, abortTransport, keepAliveInterval);

        internal override bool IsFirstByteOfClient(byte firstByte) => firstByte == ProtocolHello.FirstByte;

        internal override bool ClientGreetsOnConnect => true;
    }
}
