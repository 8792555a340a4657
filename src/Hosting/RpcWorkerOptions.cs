using System;

namespace Rpc.Hosting;

/// <summary>
/// A hosted work-queue worker (<c>services.AddRpcWorker&lt;TContract, TImplementation&gt;()</c>): bound from
/// <c>Rpc:Workers:&lt;contract name&gt;</c>, for example <c>{"Endpoint": "unix:///run/jobs-workers.sock"}</c>.
/// </summary>
public sealed class RpcWorkerOptions
{
    /// <summary>Gets or sets the hub's worker endpoint.</summary>
    public string? Endpoint { get; set; }

    /// <summary>Gets or sets the settings of the connection to the hub.</summary>
    public RpcConnectionOptions Connection { get; set; } = new();

    /// <summary>Gets or sets how long the worker waits before it connects again after losing the hub (or failing to reach it). Default: 1 s.</summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);
}
