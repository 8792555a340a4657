using System;
using System.Collections.Immutable;
using System.ComponentModel;

namespace Rpc.Runtime;

/// <summary>How a contract method travels.</summary>
public enum RpcMethodKind
{
    /// <summary>A request with a reply (<c>Task</c>, <c>Task&lt;T&gt;</c>, <c>ValueTask</c>, <c>ValueTask&lt;T&gt;</c>).</summary>
    Request,

    /// <summary>A one-way notification (<c>void</c>): no reply, no error report.</summary>
    Notification,

    /// <summary>A request answered by a stream of items (<c>IAsyncEnumerable&lt;T&gt;</c>).</summary>
    Stream,
}

/// <summary>
/// One row of a contract's method table, emitted by the generator and shared by the proxy and the stub.
/// </summary>
public sealed class RpcMethod
{
    private string _serviceName = string.Empty;
    private string? _spanName;

    /// <summary>Creates a method-table row. Called by generated code.</summary>
    /// <param name="wireName">The name on the wire (<c>[RpcMethod]</c> or the method name without <c>Async</c>).</param>
    /// <param name="kind">How the method travels.</param>
    /// <param name="parameterNames">The parameter names in order, without the cancellation token.</param>
    /// <param name="acceptsCancellation">Whether the method takes a trailing <c>CancellationToken</c>.</param>
    /// <param name="isIdempotent">Whether <c>[RpcIdempotent]</c> marks the method safe to run more than once.</param>
    /// <param name="timeoutMilliseconds">The <c>[RpcTimeout]</c> of the method (or its interface), or 0 for none.</param>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public RpcMethod(string wireName, RpcMethodKind kind, ImmutableArray<string> parameterNames, bool acceptsCancellation, bool isIdempotent = false, int timeoutMilliseconds = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(timeoutMilliseconds);
        Timeout = timeoutMilliseconds == 0 ? null : TimeSpan.FromMilliseconds(timeoutMilliseconds);
        IsIdempotent = isIdempotent;
        ArgumentException.ThrowIfNullOrEmpty(wireName);
        WireName = wireName;
        Id = ComputeId(wireName);
        Kind = kind;
        ParameterNames = parameterNames;
        AcceptsCancellation = acceptsCancellation;
    }

    /// <summary>Gets the name on the wire.</summary>
    public string WireName { get; }

    /// <summary>
    /// Gets the full name of the contract interface the row belongs to (<c>rpc.service</c> in metrics and spans), set when
    /// the contract is registered; not sent on the wire.
    /// </summary>
    public string ServiceName
    {
        get => _serviceName;
        internal set
        {
            _serviceName = value;
            _spanName = null;
        }
    }

    /// <summary>Gets the name of the method's spans: <c>service/method</c>, or the method alone when it has no service.</summary>
    internal string SpanName => _spanName ??= _serviceName.Length == 0 ? WireName : $"{_serviceName}/{WireName}";

    /// <summary>Gets the binary-protocol method id: the 32-bit FNV-1a hash of the UTF-8 wire name.</summary>
    public uint Id { get; }

    /// <summary>Gets how the method travels.</summary>
    public RpcMethodKind Kind { get; }

    /// <summary>Gets the parameter names in order, without the cancellation token.</summary>
    public ImmutableArray<string> ParameterNames { get; }

    /// <summary>Gets whether the method takes a trailing <c>CancellationToken</c>.</summary>
    public bool AcceptsCancellation { get; }

    /// <summary>
    /// Gets whether the method is marked <c>[RpcIdempotent]</c>: running it twice has the effect of running it once,
    /// so a work queue may re-run it on another worker when the first dies mid-call.
    /// </summary>
    public bool IsIdempotent { get; }

    /// <summary>
    /// Gets the timeout <c>[RpcTimeout]</c> gives each call of the method, or <see langword="null"/>: then the
    /// connection's <see cref="RpcConnectionOptions.DefaultCallTimeout"/> applies.
    /// </summary>
    public TimeSpan? Timeout { get; }

    /// <summary>Computes the binary-protocol id of a wire name (the generator computes the same value at build time).</summary>
    /// <param name="wireName">The wire name.</param>
    /// <returns>The 32-bit FNV-1a hash of its UTF-8 bytes.</returns>
    public static uint ComputeId(string wireName)
    {
        ArgumentNullException.ThrowIfNull(wireName);
        var hash = 2166136261u;
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in wireName.EnumerateRunes())
        {
            var length = rune.EncodeToUtf8(utf8);
            for (var i = 0; i < length; i++)
            {
                hash = (hash ^ utf8[i]) * 16777619u;
            }
        }

        return hash;
    }

    /// <inheritdoc />
    public override string ToString() => WireName;
}
