using System;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Runtime;

namespace Rpc.Diagnostics;

/// <summary>
/// One observed call: its span (when an <see cref="ActivityListener"/> samples it) and its start time (when the
/// duration histogram is enabled). Made only after <see cref="ConnectionTelemetry.IsClientObserved"/> or
/// <see cref="ConnectionTelemetry.IsServerObserved"/> said someone listens; ends once, whichever way the call ends.
/// </summary>
internal sealed class CallObservation
{
    private readonly ConnectionTelemetry _connection;
    private readonly RpcMethod _method;
    private readonly Histogram<double> _duration;
    private readonly long _startTimestamp;
    private int _ended;

    private CallObservation(ConnectionTelemetry connection, RpcMethod method, Histogram<double> duration, Activity? activity)
    {
        _connection = connection;
        _method = method;
        _duration = duration;
        Activity = activity;
        _startTimestamp = duration.Enabled ? Stopwatch.GetTimestamp() : 0;
    }

    /// <summary>Gets the call's span, or <see langword="null"/> when nobody samples it.</summary>
    public Activity? Activity { get; }

    /// <summary>Gets the method called.</summary>
    public RpcMethod Method => _method;

    /// <summary>
    /// Gets what a refused call's span and duration name when the method is not one this side serves: the semantic
    /// conventions' <c>_OTHER</c>, never the peer's name for it (a peer must not be able to mint new span names).
    /// </summary>
    public static RpcMethod UnknownMethod { get; } = new("_OTHER", RpcMethodKind.Request, [], acceptsCancellation: false);

    /// <summary>
    /// Records a call refused before its method ran (not served, server shutting down, unreadable arguments): a server
    /// span that ends at once with <paramref name="errorType"/>, and its duration.
    /// </summary>
    public static void RecordRefused(ConnectionTelemetry connection, RpcMethod method, string? traceParent, string? traceState, string errorType, string errorMessage) =>
        StartServer(connection, method, traceParent, traceState).End(errorType, errorMessage);

    /// <summary>
    /// Starts the calling side of <paramref name="method"/>: a child of the caller's <see cref="Activity.Current"/>,
    /// which it leaves unchanged (the span belongs to the call, not to the code after it).
    /// </summary>
    public static CallObservation StartClient(ConnectionTelemetry connection, RpcMethod method)
    {
        var kind = method.Kind == RpcMethodKind.Notification ? ActivityKind.Producer : ActivityKind.Client;
        var current = Activity.Current;
        var activity = StartActivity(connection, method, kind, parent: default);
        if (activity is not null)
        {
            Activity.Current = current;
        }

        return new CallObservation(connection, method, connection.Instruments.ClientCallDuration, activity);
    }

    /// <summary>
    /// Starts the serving side of <paramref name="method"/>, a child of the caller's span when its W3C trace context
    /// came with the call. <see cref="Activity.Current"/> is left unchanged: <see cref="Enter"/> sets it while the
    /// implementation runs.
    /// </summary>
    public static CallObservation StartServer(ConnectionTelemetry connection, RpcMethod method, string? traceParent, string? traceState)
    {
        var kind = method.Kind == RpcMethodKind.Notification ? ActivityKind.Consumer : ActivityKind.Server;
        ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var parent);
        var current = Activity.Current;
        var activity = StartActivity(connection, method, kind, parent);
        if (activity is not null)
        {
            Activity.Current = current;
        }

        return new CallObservation(connection, method, connection.Instruments.ServerCallDuration, activity);
    }

    /// <summary>
    /// Starts the span of one group broadcast (<c>Producer</c>, ended by disposing it), however many members get the
    /// message: the members' spans are not its children, since the message is serialized once, without trace context.
    /// </summary>
    /// <returns>The span, or <see langword="null"/> when nobody samples it.</returns>
    public static Activity? StartBroadcast(RpcMethod method, string groupName)
    {
        var activity = RpcTelemetry.Activities.StartActivity(method.SpanName, ActivityKind.Producer);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("rpc.service", method.ServiceName);
            activity.SetTag("rpc.method", method.WireName);
            activity.SetTag("rpc.group.name", groupName);
        }

        return activity;
    }

    /// <summary>Makes the span current until the returned scope is disposed, so calls the implementation makes are its children.</summary>
    public Scope Enter() => new(Activity);

    /// <summary>Records the call's end: its duration and, on failure, its <c>error.type</c>. Only the first end counts.</summary>
    /// <param name="errorType">The failure, or <see langword="null"/> for success.</param>
    /// <param name="errorMessage">A description for the span's status.</param>
    public void End(string? errorType, string? errorMessage = null)
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return;
        }

        if (_startTimestamp != 0)
        {
            var tags = default(TagList);
            _connection.AddTags(ref tags);
            if (_method.ServiceName.Length > 0)
            {
                tags.Add("rpc.service", _method.ServiceName);
            }

            tags.Add("rpc.method", _method.WireName);
            if (errorType is not null)
            {
                tags.Add("error.type", errorType);
            }

            _duration.Record(Stopwatch.GetElapsedTime(_startTimestamp).TotalSeconds, tags);
        }

        if (Activity is { } activity)
        {
            if (errorType is not null)
            {
                activity.SetTag("error.type", errorType);
                activity.SetStatus(ActivityStatusCode.Error, errorMessage);
            }

            // Stop makes the span's parent current; the thread ending the call keeps what it had instead.
            var current = Activity.Current;
            activity.Stop();
            Activity.Current = current;
        }
    }

    public void End(Exception? error) => End(error is null ? null : RpcTelemetry.ErrorType(error), error?.Message);

    /// <summary>Ends the observation when <paramref name="call"/> completes, before its awaiter resumes.</summary>
    public async Task<T> EndWith<T>(Task<T> call)
    {
        try
        {
            var result = await call.ConfigureAwait(false);
            End(errorType: null);
            return result;
        }
        catch (Exception exception)
        {
            End(exception);
            throw;
        }
    }

    /// <inheritdoc cref="EndWith{T}(Task{T})"/>
    public async Task EndWith(Task call)
    {
        try
        {
            await call.ConfigureAwait(false);
            End(errorType: null);
        }
        catch (Exception exception)
        {
            End(exception);
            throw;
        }
    }

    private static Activity? StartActivity(ConnectionTelemetry connection, RpcMethod method, ActivityKind kind, ActivityContext parent)
    {
        var source = RpcTelemetry.Activities;
        if (!source.HasListeners())
        {
            return null;
        }

        var activity = source.StartActivity(method.SpanName, kind, parent);
        if (activity is { IsAllDataRequested: true })
        {
            // A new span has no tags yet: adding skips SetTag's search for one of the same name.
            connection.AddTags(activity);
            if (method.ServiceName.Length > 0)
            {
                activity.AddTag("rpc.service", method.ServiceName);
            }

            activity.AddTag("rpc.method", method.WireName);
        }

        return activity;
    }

    /// <summary>Restores the previous <see cref="Activity.Current"/> when disposed.</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly Activity? _previous;
        private readonly bool _entered;

        public Scope(Activity? activity)
        {
            if (activity is not null)
            {
                _previous = Activity.Current;
                _entered = true;
                Activity.Current = activity;
            }
        }

        public void Dispose()
        {
            if (_entered)
            {
                Activity.Current = _previous;
            }
        }
    }
}
