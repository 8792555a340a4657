using System;
using System.Diagnostics.Metrics;
using System.Threading;
using Microsoft.Extensions.Logging;
using Rpc.Transports;

namespace Rpc;

/// <summary>Settings of one connection (each side sets its own).</summary>
public sealed class RpcConnectionOptions
{
    /// <summary>The default limit on one frame: 64 MiB.</summary>
    public const int DefaultMaxFrameSize = 64 * 1024 * 1024;

    /// <summary>The default <see cref="FrameTimeout"/>: 30 seconds.</summary>
    public static readonly TimeSpan DefaultFrameTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The default <see cref="KeepAliveInterval"/> of <c>tcp://</c> and <c>tls://</c> connections: 30 seconds. Well under
    /// the idle timeouts of NATs, firewalls and cloud load balancers (commonly 60 s to a few minutes), so the pings also
    /// keep an idle connection's path open; one small frame per 30 s costs nothing measurable.
    /// </summary>
    public static readonly TimeSpan DefaultNetworkKeepAliveInterval = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The default <see cref="KeepAliveTimeout"/>: 20 seconds. Longer than TCP's first retransmissions of a lost segment
    /// (about 1 + 2 + 4 + 8 s) and a busy peer's garbage-collection pauses, so a congested but live path is not cut;
    /// short enough that a dead peer is found within 30–80 s with the default interval.
    /// </summary>
    public static readonly TimeSpan DefaultKeepAliveTimeout = TimeSpan.FromSeconds(20);

    // The longest period a System.Threading.Timer accepts.
    private static readonly TimeSpan MaxTimerPeriod = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

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
    /// Gets or sets how long the connection may receive nothing before it sends the peer a ping (binary protocol: a Ping
    /// frame; JSON-RPC: a request to <c>rpc.ping</c>, which any reply answers, an error from a peer that does not serve it
    /// included). A ping leaves after one to two intervals of silence; if then nothing at all arrives within
    /// <see cref="KeepAliveTimeout"/>, the connection closes with a <see cref="KeepAliveTimeoutException"/> as its
    /// <c>CloseReason</c>, and every pending call fails at once with a <see cref="ConnectionLostException"/> carrying it.
    /// Time spent while this side has stopped reading on purpose (back-pressure) does not count.
    /// Default: <see langword="null"/>, which means <see cref="DefaultNetworkKeepAliveInterval"/> on <c>tcp://</c> and
    /// <c>tls://</c> connections, where a peer's machine or the network can vanish without a word, and off on local
    /// transports (<c>unix</c>, <c>pipe</c>, <c>shm</c>, child processes, in-memory pipes), where the operating system
    /// reports a dead peer process at once. Set it on a local connection to find a peer that is alive but stopped
    /// (SIGSTOP, a debugger, a hang); <see cref="Timeout.InfiniteTimeSpan"/> turns keepalive off.
    /// </summary>
    public TimeSpan? KeepAliveInterval { get; set; }

    /// <summary>
    /// Gets or sets how long, after a keepalive ping, the connection waits for anything from the peer before it closes (see
    /// <see cref="KeepAliveInterval"/>). Default: <see cref="DefaultKeepAliveTimeout"/>.
    /// </summary>
    public TimeSpan KeepAliveTimeout { get; set; } = DefaultKeepAliveTimeout;

    /// <summary>
    /// Gets or sets the clock of the connection's timers (call deadlines on both sides, keepalive, the binary protocol's
    /// hello timeout), so tests can run them on a fake clock. Default: <see cref="TimeProvider.System"/>.
    /// </summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

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

    /// <summary>
    /// Gets or sets the timeout of every call made on this connection that neither an <see cref="RpcCallOptions"/> scope
    /// nor <see cref="RpcTimeoutAttribute"/> gives one: past it the caller gets <see cref="RpcTimeoutException"/> and the
    /// peer is told to stop. Notifications have none. Default: <see cref="Timeout.InfiniteTimeSpan"/> (no timeout).
    /// </summary>
    public TimeSpan DefaultCallTimeout { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>
    /// Gets or sets whether calls made while serving an incoming call with a deadline inherit its remaining time (like
    /// gRPC's deadline propagation): such a call's deadline is the earlier of its own and the incoming call's. Applies to
    /// the incoming calls of this connection, whichever connection the outgoing call uses. Default:
    /// <see langword="false"/>.
    /// </summary>
    public bool PropagateDeadlines { get; set; }

    /// <summary>
    /// Gets or sets where this connection logs, or <see langword="null"/> (the default) for no logging: then no logger is
    /// created and nothing is logged. The connection logs under the category <c>Rpc.RpcConnection</c> (its close and why,
    /// protocol violations, methods and notifications that threw); a server given these options (in
    /// <see cref="RpcServerOptions.Connection"/>) also logs under <c>Rpc.RpcServer</c> (accepted and refused clients,
    /// shutdown), a work-queue hub under <c>Rpc.WorkQueueHub</c>, a child process under <c>Rpc.RpcChildProcess</c>.
    /// Nothing is logged per successful call above <see cref="LogLevel.Debug"/>; the README lists every event id.
    /// </summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>
    /// Gets or sets the factory of the <c>Rpc</c> meter this connection records its call durations, open-connection
    /// count and bytes sent and received on (for example the host's, so metrics are scoped to its container), or
    /// <see langword="null"/> (the default) for one meter shared by the process; a work-queue hub's
    /// <see cref="WorkQueueOptions.Server"/> also puts the hub's own instruments there. Nothing is recorded while no
    /// listener enables the instruments.
    /// </summary>
    public IMeterFactory? MeterFactory { get; set; }

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
        if (FrameTimeout != Timeout.InfiniteTimeSpan && (FrameTimeout <= TimeSpan.Zero || FrameTimeout > MaxTimerPeriod))
        {
            throw new ArgumentOutOfRangeException(
                nameof(FrameTimeout), FrameTimeout, $"FrameTimeout must be positive and at most {MaxTimerPeriod.TotalDays:0} days, or Timeout.InfiniteTimeSpan.");
        }

        if (KeepAliveInterval is { } interval && interval != Timeout.InfiniteTimeSpan && (interval <= TimeSpan.Zero || interval > MaxTimerPeriod))
        {
            throw new ArgumentOutOfRangeException(
                nameof(KeepAliveInterval), interval, $"KeepAliveInterval must be positive and at most {MaxTimerPeriod.TotalDays:0} days, Timeout.InfiniteTimeSpan (off), or null (the transport's default).");
        }

        if (KeepAliveTimeout <= TimeSpan.Zero || KeepAliveTimeout > MaxTimerPeriod)
        {
            throw new ArgumentOutOfRangeException(
                nameof(KeepAliveTimeout), KeepAliveTimeout, $"KeepAliveTimeout must be positive and at most {MaxTimerPeriod.TotalDays:0} days: a dead peer must be found in bounded time.");
        }

        if (DefaultCallTimeout != Timeout.InfiniteTimeSpan && (DefaultCallTimeout <= TimeSpan.Zero || DefaultCallTimeout > RpcCallOptions.MaxTimeout))
        {
            throw new ArgumentOutOfRangeException(
                nameof(DefaultCallTimeout), DefaultCallTimeout, $"DefaultCallTimeout must be positive and at most {RpcCallOptions.MaxTimeout.TotalDays:0} days, or Timeout.InfiniteTimeSpan.");
        }

        ArgumentNullException.ThrowIfNull(Protocol, nameof(Protocol));
        ArgumentNullException.ThrowIfNull(TimeProvider, nameof(TimeProvider));
        ArgumentNullException.ThrowIfNull(Transport, nameof(Transport));
    }

    /// <summary>The keepalive interval of a connection to <paramref name="remoteEndpoint"/>: the set one, or the transport's default.</summary>
    /// <param name="remoteEndpoint">The transport's description of the peer, which starts with its scheme.</param>
    internal TimeSpan KeepAliveIntervalFor(string remoteEndpoint) =>
        KeepAliveInterval
        ?? (remoteEndpoint.StartsWith("tcp://", StringComparison.OrdinalIgnoreCase) || remoteEndpoint.StartsWith("tls://", StringComparison.OrdinalIgnoreCase)
            ? DefaultNetworkKeepAliveInterval
            : Timeout.InfiniteTimeSpan);
}
