using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;

namespace Rpc.Health;

/// <summary>
/// The statuses <see cref="IRpcHealth"/> reports, and its implementation. A hosted server marks <c>""</c> and each
/// contract it serves <see cref="RpcHealthStatus.Serving"/> once it listens, and everything
/// <see cref="RpcHealthStatus.NotServing"/> as soon as it starts to drain; registered health checks
/// (<c>services.AddHealthChecks()</c>) update the statuses each time they run; code can set any status.
/// </summary>
public sealed class RpcHealthService : IRpcHealth
{
    private readonly object _gate = new();
    private readonly Dictionary<string, RpcHealthStatus> _statuses = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<ChannelWriter<RpcHealthStatus>>> _watchers = new(StringComparer.Ordinal);
    private bool _stopping;

    /// <summary>Sets the status of a service and tells its watchers when it changed. Ignored once the server stops.</summary>
    /// <param name="service">The service, or <c>""</c> for the whole server.</param>
    /// <param name="status">Its status.</param>
    public void SetStatus(string service, RpcHealthStatus status)
    {
        ArgumentNullException.ThrowIfNull(service);
        lock (_gate)
        {
            if (!_stopping)
            {
                SetStatusLocked(service, status);
            }
        }
    }

    /// <inheritdoc />
    public Task<RpcHealthStatus> CheckAsync(string service, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(service);
        lock (_gate)
        {
            return Task.FromResult(StatusLocked(service));
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<RpcHealthStatus> WatchAsync(string service, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(service);
        var changes = Channel.CreateUnbounded<RpcHealthStatus>(new UnboundedChannelOptions { SingleReader = true });
        lock (_gate)
        {
            changes.Writer.TryWrite(StatusLocked(service));
            if (_stopping)
            {
                changes.Writer.TryComplete();
            }
            else
            {
                if (!_watchers.TryGetValue(service, out var watchers))
                {
                    _watchers[service] = watchers = [];
                }

                watchers.Add(changes.Writer);
            }
        }

        try
        {
            await foreach (var status in changes.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return status;
            }
        }
        finally
        {
            lock (_gate)
            {
                if (_watchers.TryGetValue(service, out var watchers))
                {
                    watchers.Remove(changes.Writer);
                }
            }
        }
    }

    /// <summary>
    /// Marks every service <see cref="RpcHealthStatus.NotServing"/> for good and ends every watch, so no watch stream keeps
    /// the server's drain waiting.
    /// </summary>
    internal void Stop()
    {
        lock (_gate)
        {
            _stopping = true;
            SetStatusLocked(string.Empty, RpcHealthStatus.NotServing);
            foreach (var service in new List<string>(_statuses.Keys))
            {
                SetStatusLocked(service, RpcHealthStatus.NotServing);
            }

            foreach (var watchers in _watchers.Values)
            {
                foreach (var watcher in watchers)
                {
                    watcher.TryComplete();
                }
            }

            _watchers.Clear();
        }
    }

    private RpcHealthStatus StatusLocked(string service) =>
        _statuses.TryGetValue(service, out var status) ? status
        : service.Length == 0 ? RpcHealthStatus.Unknown
        : RpcHealthStatus.ServiceUnknown;

    private void SetStatusLocked(string service, RpcHealthStatus status)
    {
        if (_statuses.TryGetValue(service, out var current) && current == status)
        {
            return;
        }

        _statuses[service] = status;
        if (_watchers.TryGetValue(service, out var watchers))
        {
            foreach (var watcher in watchers)
            {
                watcher.TryWrite(status);
            }
        }
    }
}
