using System;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace Rpc;

/// <summary>What an <see cref="RpcGroup{TContract}"/> does when a member's outgoing queue is full.</summary>
public enum RpcFullQueuePolicy
{
    /// <summary>
    /// Discard the oldest message waiting for that member to make room for the new one, and count the drop
    /// (<c>rpc.group.messages.dropped</c>, reason <c>drop_oldest</c>). The publisher never waits; the member sees a gap,
    /// never a reordering. The default.
    /// </summary>
    DropOldest,

    /// <summary>
    /// Disconnect the member: its connection is aborted, it leaves the group, and the messages still queued for it are
    /// counted as dropped (reason <c>disconnect</c>). A member either receives every message or is gone.
    /// </summary>
    Disconnect,

    /// <summary>
    /// Block the publishing thread until the member has room, for at most <see cref="RpcGroupOptions.FullQueueWaitTimeout"/>;
    /// if it still has none, disconnect it as <see cref="Disconnect"/> does (reason <c>wait_timeout</c>). Disconnecting
    /// rather than dropping bounds the stall a stuck member causes to one timeout: dropping would make every later
    /// message wait the full timeout again. Slows the publisher, and so every member, to the slowest member's pace.
    /// </summary>
    Wait,
}

/// <summary>Settings of one <see cref="RpcGroup{TContract}"/>.</summary>
public sealed class RpcGroupOptions
{
    /// <summary>The default <see cref="MemberQueueCapacity"/>: 1024 messages.</summary>
    public const int DefaultMemberQueueCapacity = 1024;

    /// <summary>
    /// Gets or sets the group's name, the <c>rpc.group.name</c> tag of its metrics. Default: the contract's name.
    /// </summary>
    public string? Name { get; set; }

    /// <summary>
    /// Gets or sets how many messages may wait for one member before <see cref="FullQueuePolicy"/> applies.
    /// Each member's memory is bounded by this many messages plus its connection's own send buffers. Default: 1024.
    /// </summary>
    public int MemberQueueCapacity { get; set; } = DefaultMemberQueueCapacity;

    /// <summary>Gets or sets what happens when a member's queue is full. Default: <see cref="RpcFullQueuePolicy.DropOldest"/>.</summary>
    public RpcFullQueuePolicy FullQueuePolicy { get; set; } = RpcFullQueuePolicy.DropOldest;

    /// <summary>Gets or sets how long <see cref="RpcFullQueuePolicy.Wait"/> waits for room. Default: 1 second.</summary>
    public TimeSpan FullQueueWaitTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Gets or sets where the group logs (category <c>Rpc.RpcGroup</c>): members disconnected by
    /// <see cref="FullQueuePolicy"/> (Warning), members that left with messages still queued (Information). Default:
    /// <see langword="null"/>, no logging. A message dropped under <see cref="RpcFullQueuePolicy.DropOldest"/> is counted,
    /// not logged: under load that would be a line per message.
    /// </summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>
    /// Gets or sets the factory of the <c>Rpc</c> meter that gets the group's <c>rpc.group.*</c> instruments (e.g. the
    /// host's). Default: <see langword="null"/>, the shared static meter <c>Rpc</c>.
    /// </summary>
    public IMeterFactory? MeterFactory { get; set; }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MemberQueueCapacity, 1, nameof(MemberQueueCapacity));
        if (!Enum.IsDefined(FullQueuePolicy))
        {
            throw new ArgumentOutOfRangeException(nameof(FullQueuePolicy), FullQueuePolicy, "Unknown policy.");
        }

        if (FullQueueWaitTimeout <= TimeSpan.Zero || FullQueueWaitTimeout.TotalMilliseconds > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(FullQueueWaitTimeout), FullQueueWaitTimeout, "The timeout must be positive and under 24 days.");
        }
    }
}
