using System;
using System.Threading;
using Rpc.Transports;

namespace Rpc;

/// <summary>Which protocol a connection speaks. Both sides must choose the same.</summary>
public enum RpcProtocol
{
    /// <summary>
    /// Rpc's compact binary protocol (length-prefixed frames, method ids, MessagePack payloads): the default between .NET
    /// peers, built to run close to the transport's floor. NativeAOT- and trim-safe.
    /// </summary>
    Binary,

    /// <summary>
    /// JSON-RPC 2.0 with <c>Content-Length</c> header framing, on StreamJsonRpc: for peers in other languages (for example
    /// vscode-jsonrpc, or a short Python script). Slower (~50 µs of engine cost per call) and not NativeAOT-safe.
    /// </summary>
    JsonRpc,
}

/// <summary>Settings of one connection (each side sets its own).</summary>
public sealed class RpcConnectionOptions
{
    /// <summary>The default limit on one frame: 64 MiB.</summary>
    public const int DefaultMaxFrameSize = 64 * 1024 * 1024;

    /// <summary>The default <see cref="FrameTimeout"/>: 30 seconds.</summary>
    public static readonly TimeSpan DefaultFrameTimeout = TimeSpan.FromSeconds(30);

    // The longest period a System.Threading.Timer accepts.
    private static readonly TimeSpan MaxFrameTimeout = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>Gets the defaults.</summary>
    public static RpcConnectionOptions Default { get; } = new();

    /// <summary>Gets or sets the protocol. Default: <see cref="RpcProtocol.Binary"/>.</summary>
    public RpcProtocol Protocol { get; set; } = RpcProtocol.Binary;

    /// <summary>
    /// Gets or sets the largest frame (one message: a call, a reply, a stream item) accepted or sent, in bytes.
    /// A peer announcing a larger frame is disconnected before anything is buffered; a local call whose arguments exceed
    /// it fails with <see cref="RpcException"/> and nothing is sent. Default: <see cref="DefaultMaxFrameSize"/>.
    /// </summary>
    public int MaxFrameSize { get; set; } = DefaultMaxFrameSize;

    /// <summary>
    /// Gets or sets how long a frame may take to arrive once its first byte has (binary: the length prefix and the rest of
    /// the frame; JSON-RPC: the header block and the body). A peer that stops mid-frame is disconnected with an
    /// <see cref="RpcProtocolException"/>, which this side's pending calls see as the reason of their
    /// <see cref="ConnectionLostException"/>. An idle connection between frames is not affected, nor is time spent while
    /// this side has stopped reading on purpose (back-pressure). The check runs every eighth of the timeout, so a stalled
    /// peer is cut within 1⅛ of it. Default: <see cref="DefaultFrameTimeout"/>;
    /// <see cref="Timeout.InfiniteTimeSpan"/> disables it.
    /// </summary>
    public TimeSpan FrameTimeout { get; set; } = DefaultFrameTimeout;

    /// <summary>
    /// Gets or sets whether errors sent to the peer carry the server's stack trace. Default: <see langword="false"/>,
    /// since a stack trace reveals implementation details to whoever is calling.
    /// </summary>
    public bool IncludeExceptionStackTraces { get; set; }

    /// <summary>
    /// Gets or sets whether the code after <c>await proxy.Method()</c> runs on the thread pool instead of the connection's
    /// receive thread. Default: <see langword="false"/>: continuations run inline, which saves a thread hop (~20–40 µs)
    /// per call; the price is that code awaiting a call must not block synchronously (no <c>.Result</c>, no
    /// <c>Thread.Sleep</c>) or it stalls the connection. Set <see langword="true"/> when you cannot promise that.
    /// </summary>
    public bool RunContinuationsAsynchronously { get; set; }

    /// <summary>
    /// Gets or sets how many items of a server stream may be in flight before the server waits for the caller to
    /// consume them (back-pressure). Default: 64.
    /// </summary>
    public int StreamWindow { get; set; } = 64;

    /// <summary>
    /// Gets or sets the dispatcher that runs incoming calls, or <see langword="null"/> (the default) to run them inline on
    /// the connection's receive thread. Give the connections of a server one shared dispatcher to bound concurrency and
    /// queue depth across all of them (both protocols; with JSON-RPC, StreamJsonRpc's own <c>$/</c> methods, such as
    /// cancellation, still run inline).
    /// </summary>
    public RpcDispatcher? Dispatcher { get; set; }

    /// <summary>Gets or sets the transport settings.</summary>
    public TransportOptions Transport { get; set; } = new();

    /// <summary>Gets these settings with <paramref name="protocol"/>: a server's connection speaks what its client chose.</summary>
    internal RpcConnectionOptions WithProtocol(RpcProtocol protocol)
    {
        if (protocol == Protocol)
        {
            return this;
        }

        var copy = (RpcConnectionOptions)MemberwiseClone();
        copy.Protocol = protocol;
        return copy;
    }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxFrameSize, 1024, nameof(MaxFrameSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(StreamWindow, 1, nameof(StreamWindow));
        if (FrameTimeout != Timeout.InfiniteTimeSpan && (FrameTimeout <= TimeSpan.Zero || FrameTimeout > MaxFrameTimeout))
        {
            throw new ArgumentOutOfRangeException(
                nameof(FrameTimeout), FrameTimeout, $"FrameTimeout must be positive and at most {MaxFrameTimeout.TotalDays:0} days, or Timeout.InfiniteTimeSpan.");
        }

        ArgumentNullException.ThrowIfNull(Transport, nameof(Transport));
    }
}
