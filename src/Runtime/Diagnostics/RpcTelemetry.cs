using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace Rpc.Diagnostics;

/// <summary>
/// The <c>Rpc</c> meter's call and connection instruments (OpenTelemetry semantic conventions for RPC), one set per
/// meter: the shared static meter, or one per <see cref="IMeterFactory"/>. The dispatch, group and work-queue
/// instruments (<c>rpc.dispatch.*</c>, <c>rpc.group.*</c>, <c>rpc.work_queue.*</c>) are created by their own parts, on
/// <see cref="Meter"/>, once per instance of this (see <see cref="For{T}(IMeterFactory?, Func{Meter, T})"/>).
/// </summary>
internal sealed class RpcTelemetry
{
    /// <summary>The name of the meter and of the activity source, for <c>AddMeter</c> and <c>AddSource</c>.</summary>
    public const string Name = "Rpc";

    private const string Version = "0.1.0";

    // The semantic conventions' advice for rpc.*.call.duration, in seconds.
    private static readonly double[] DurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

    private static readonly ConditionalWeakTable<IMeterFactory, RpcTelemetry> s_byFactory = [];

    // Made rarely (with a dispatcher, group or hub), and made once: a lock, not a race that could create instruments twice.
    private readonly Dictionary<Type, object> _parts = [];

    private RpcTelemetry(Meter meter)
    {
        Meter = meter;
        var durationAdvice = new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets };
        ClientCallDuration = meter.CreateHistogram("rpc.client.call.duration", "s", "Duration of calls made, from send to reply (or failure).", tags: null, durationAdvice);
        ServerCallDuration = meter.CreateHistogram("rpc.server.call.duration", "s", "Duration of calls served, from arrival to reply.", tags: null, durationAdvice);
        ActiveConnections = meter.CreateUpDownCounter<long>("rpc.connection.active", "{connection}", "Open connections.");
        ConnectionIo = meter.CreateCounter<long>("rpc.connection.io", "By", "Bytes the protocol handed to the transport (network.io.direction: transmit) and took from it (receive).");
    }

    /// <summary>Gets the meter used when no <see cref="IMeterFactory"/> is given.</summary>
    public static Meter SharedMeter { get; } = new(Name, Version);

    /// <summary>Gets the source of every span Rpc records.</summary>
    public static ActivitySource Activities { get; } = new(Name, Version);

    public static RpcTelemetry Shared { get; } = new(SharedMeter);

    public Histogram<double> ClientCallDuration { get; }

    public Histogram<double> ServerCallDuration { get; }

    public UpDownCounter<long> ActiveConnections { get; }

    public Counter<long> ConnectionIo { get; }

    /// <summary>Gets the meter these instruments are on.</summary>
    public Meter Meter { get; }

    /// <summary>Gets the instruments of <paramref name="factory"/>'s <c>Rpc</c> meter, or the shared ones when it is <see langword="null"/>.</summary>
    public static RpcTelemetry For(IMeterFactory? factory) =>
        factory is null ? Shared : s_byFactory.GetValue(factory, static f => new RpcTelemetry(f.Create(new MeterOptions(Name) { Version = Version })));

    /// <summary>
    /// Gets the instruments of one part (the dispatcher's, the groups', the work queues') on <paramref name="factory"/>'s
    /// <c>Rpc</c> meter, or on the shared one: created by <paramref name="create"/> the first time, once per meter.
    /// </summary>
    public static T For<T>(IMeterFactory? factory, Func<Meter, T> create)
        where T : class
    {
        var instruments = For(factory);
        lock (instruments._parts)
        {
            if (!instruments._parts.TryGetValue(typeof(T), out var part))
            {
                part = create(instruments.Meter);
                instruments._parts.Add(typeof(T), part);
            }

            return (T)part;
        }
    }

    /// <summary>The <c>error.type</c> of a failed call: the error code of an Rpc failure, else the exception's type.</summary>
    public static string ErrorType(Exception exception) => exception switch
    {
        RemoteInvocationException remote => remote.ErrorCode.ToString(),
        OperationCanceledException => nameof(RpcErrorCode.Cancelled),
        _ => exception.GetType().FullName ?? exception.GetType().Name,
    };
}

/// <summary>
/// What one connection adds to each of its calls' measurements and spans: the protocol and transport, and on the
/// calling side the server's address. Every per-call entry point first asks <see cref="IsClientObserved"/> or
/// <see cref="IsServerObserved"/>: with nothing listening, that is the whole cost.
/// </summary>
internal sealed class ConnectionTelemetry
{
    private readonly KeyValuePair<string, object?>[] _tags;
    private readonly KeyValuePair<string, object?>[] _receiveTags;
    private readonly KeyValuePair<string, object?>[] _transmitTags;

    /// <param name="instruments">The meter's instruments.</param>
    /// <param name="system">The protocol's <c>rpc.system</c>.</param>
    /// <param name="remoteEndpoint">The peer, as the transport describes it (<c>unix:///tmp/calc.sock</c>).</param>
    /// <param name="dialed">Whether this side connected to the peer: then the peer is the server of <c>server.address</c>.</param>
    public ConnectionTelemetry(RpcTelemetry instruments, string system, string remoteEndpoint, bool dialed)
    {
        Instruments = instruments;
        var tags = new List<KeyValuePair<string, object?>> { new("rpc.system", system) };
        var schemeEnd = remoteEndpoint.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd > 0)
        {
            var scheme = remoteEndpoint[..schemeEnd].ToLowerInvariant();
            tags.Add(new("network.transport", scheme is "tls" ? "tcp" : scheme));

            // A transport may follow the endpoint with a detail: "shm://calc (server pid 42)".
            var endpoint = remoteEndpoint.IndexOf(" (", StringComparison.Ordinal) is var detail and > 0 ? remoteEndpoint[..detail] : remoteEndpoint;
            if (dialed && Uri.TryCreate(endpoint, UriKind.Absolute, out var uri))
            {
                tags.Add(new("server.address", uri.IsDefaultPort || uri.Port < 0 ? (uri.Host.Length > 0 ? uri.Host : uri.AbsolutePath) : uri.Host));
                if (uri.Port > 0)
                {
                    tags.Add(new("server.port", uri.Port));
                }
            }
        }

        _tags = [.. tags];
        _receiveTags = [.. tags, new("network.io.direction", "receive")];
        _transmitTags = [.. tags, new("network.io.direction", "transmit")];
    }

    /// <summary>Gets the tags without a listener for a connection nobody named (in-process pipes).</summary>
    public static ConnectionTelemetry Unobserved { get; } = new(RpcTelemetry.Shared, "rpc-dotnet", string.Empty, dialed: false);

    public RpcTelemetry Instruments { get; }

    public bool IsClientObserved => RpcTelemetry.Activities.HasListeners() || Instruments.ClientCallDuration.Enabled;

    public bool IsServerObserved => RpcTelemetry.Activities.HasListeners() || Instruments.ServerCallDuration.Enabled;

    public void AddTags(ref TagList tags)
    {
        foreach (var tag in _tags)
        {
            tags.Add(tag);
        }
    }

    public void AddTags(Activity activity)
    {
        foreach (var tag in _tags)
        {
            activity.AddTag(tag.Key, tag.Value);
        }
    }

    /// <summary>Counts bytes the protocol took from the transport (once per read, not per message), if anyone listens.</summary>
    public void OnReceived(long bytes)
    {
        if (bytes > 0 && Instruments.ConnectionIo.Enabled)
        {
            Instruments.ConnectionIo.Add(bytes, _receiveTags);
        }
    }

    /// <summary>
    /// Counts what <paramref name="output"/> holds unflushed, if anyone listens: called right before each flush, so every
    /// byte is counted once, per flush rather than per message.
    /// </summary>
    public void OnFlushing(PipeWriter output)
    {
        if (Instruments.ConnectionIo.Enabled && output.CanGetUnflushedBytes)
        {
            OnTransmitted(output.UnflushedBytes);
        }
    }

    /// <summary>Counts bytes handed to the transport, if anyone listens.</summary>
    public void OnTransmitted(long bytes)
    {
        if (bytes > 0 && Instruments.ConnectionIo.Enabled)
        {
            Instruments.ConnectionIo.Add(bytes, _transmitTags);
        }
    }

    /// <summary>Counts the connection as open, if anyone listens now.</summary>
    /// <returns>Whether it was counted: only then must <see cref="OnClosed"/> take it back.</returns>
    public bool OnOpened()
    {
        if (!Instruments.ActiveConnections.Enabled)
        {
            return false;
        }

        var tags = default(TagList);
        AddTags(ref tags);
        Instruments.ActiveConnections.Add(1, tags);
        return true;
    }

    public void OnClosed()
    {
        var tags = default(TagList);
        AddTags(ref tags);
        Instruments.ActiveConnections.Add(-1, tags);
    }
}
