using System;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc;

/// <summary>Settings of an <see cref="RpcClient"/>.</summary>
public sealed class RpcClientOptions
{
    /// <summary>Gets or sets the settings of each connection the client opens.</summary>
    public RpcConnectionOptions Connection { get; set; } = new();

    /// <summary>
    /// Gets or sets what runs on each new connection before it starts reading, every time the client connects: add the
    /// services this side offers the peer (callbacks) here, so they are served again after a reconnect.
    /// </summary>
    public Action<RpcConnection>? Configure { get; set; }

    /// <summary>
    /// Gets or sets what runs after each successful reconnect (not the first connect), before calls waiting for the
    /// connection are released and before the client reports <see cref="RpcClientState.Connected"/>: for example, join
    /// the groups the previous connection had joined. If it throws, the new connection is closed and counts as a failed
    /// attempt. The token fires when the client is disposed.
    /// </summary>
    public Func<RpcConnection, CancellationToken, Task>? Reconnected { get; set; }

    /// <summary>Gets or sets when the client tries again after a lost connection or a failed attempt.</summary>
    public RpcReconnectPolicy Reconnect { get; set; } = new();

    /// <summary>
    /// Gets or sets whether a call made while the client is connecting or reconnecting waits for the connection (bounded
    /// by the call's cancellation token) instead of failing at once with <see cref="ConnectionLostException"/>.
    /// Default: <see langword="false"/> (fail fast, as gRPC does). A client that has given up, or is disposed, fails
    /// calls at once either way.
    /// </summary>
    public bool WaitForReady { get; set; }

    /// <summary>
    /// Gets or sets how many times, in all, an <c>[RpcIdempotent]</c> call is sent when the connections carrying it
    /// are lost: each retry waits for the next connection. Methods not marked idempotent are never sent twice.
    /// Default: 3; 1 disables retries.
    /// </summary>
    public int MaxIdempotentAttempts { get; set; } = 3;

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Connection, nameof(Connection));
        ArgumentNullException.ThrowIfNull(Reconnect, nameof(Reconnect));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxIdempotentAttempts, 1, nameof(MaxIdempotentAttempts));
        Connection.Validate();
        Reconnect.Validate();
    }
}

/// <summary>
/// Exponential backoff with jitter between connection attempts. After a connection is lost the first attempt is made
/// at once; after the n-th failed attempt in a row the client waits
/// <c>min(<see cref="MaxDelay"/>, <see cref="InitialDelay"/> × <see cref="Multiplier"/>^(n−1))</c>, spread by
/// ±<see cref="Jitter"/> so that many clients of one restarted server do not all come back at the same instant.
/// </summary>
public sealed class RpcReconnectPolicy
{
    /// <summary>Gets or sets the wait after the first failed attempt. Default: 200 ms.</summary>
    public TimeSpan InitialDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Gets or sets the longest wait between attempts. Default: 30 s.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets how much longer each wait is than the one before. Default: 2.</summary>
    public double Multiplier { get; set; } = 2;

    /// <summary>Gets or sets the random spread of each wait, as a fraction of it (0 to 1). Default: 0.2 (±20 %).</summary>
    public double Jitter { get; set; } = 0.2;

    /// <summary>
    /// Gets or sets how many attempts in a row the client makes before it gives up (state
    /// <see cref="RpcClientState.Disconnected"/>; <see cref="RpcClient.ConnectAsync"/> starts again), or
    /// <see langword="null"/> (the default) to try for ever.
    /// </summary>
    public int? MaxAttempts { get; set; }

    /// <summary>Gets the wait after <paramref name="failedAttempts"/> failed attempts in a row.</summary>
    /// <param name="failedAttempts">At least 1.</param>
    /// <param name="unitRandom">A random number in [0, 1): 0.5 is the wait without jitter.</param>
    internal TimeSpan GetDelay(int failedAttempts, double unitRandom)
    {
        // Exponentiation in double overflows to infinity rather than wrapping, and Math.Min then caps it.
        var baseTicks = Math.Min(MaxDelay.Ticks, InitialDelay.Ticks * Math.Pow(Multiplier, failedAttempts - 1));
        var spread = 1 + (Jitter * ((2 * unitRandom) - 1));
        return TimeSpan.FromTicks((long)Math.Min(MaxDelay.Ticks, baseTicks * spread));
    }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(InitialDelay, TimeSpan.Zero, nameof(InitialDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDelay, InitialDelay, nameof(MaxDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(Multiplier, 1, nameof(Multiplier));
        if (!(Jitter is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Jitter), Jitter, "Jitter must be between 0 and 1.");
        }

        if (MaxAttempts is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxAttempts), MaxAttempts, "MaxAttempts must be at least 1, or null for no limit.");
        }
    }
}
