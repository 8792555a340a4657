using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Rpc.Hosting;

/// <summary>
/// A group subscriber from host start to stop: a reconnecting <see cref="RpcClient"/> that serves
/// <typeparamref name="TCallback"/> on each of its connections and runs <see cref="RpcSubscriberOptions.Subscribe"/>
/// on each; stopping closes the connection, so the server's groups drop the member.
/// </summary>
internal sealed partial class RpcSubscriberHostedService<TCallback> : BackgroundService
    where TCallback : class
{
    private static readonly string ContractName = typeof(TCallback).Name;

    private readonly RpcSubscriberOptions _options;
    private readonly ILogger _logger;
    private readonly string _endpoint;

    public RpcSubscriberHostedService(TCallback implementation, RpcSubscriberOptions options, ILogger<RpcSubscriberHostedService<TCallback>> logger)
    {
        _options = options;
        _logger = logger;
        _endpoint = options.Endpoint ?? throw new InvalidOperationException(
            $"The Rpc subscriber of {ContractName} has no endpoint: set {Microsoft.Extensions.DependencyInjection.RpcHostingServiceCollectionExtensions.SubscribersSection}:{ContractName}:Endpoint or pass one in code.");

        // These client options are this subscriber's own (a named options instance), so its steps are chained onto them.
        var client = options.Client;
        var configure = client.Configure;
        client.Configure = connection =>
        {
            configure?.Invoke(connection);
            connection.AddService(implementation);
        };
        var reconnected = client.Reconnected;
        client.Reconnected = async (connection, cancellationToken) =>
        {
            if (reconnected is not null)
            {
                await reconnected(connection, cancellationToken).ConfigureAwait(false);
            }

            await SubscribeAsync(connection, cancellationToken).ConfigureAwait(false);
        };
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var client = new RpcClient(_endpoint, _options.Client);
        await using (client.ConfigureAwait(false))
        {
            client.StateChanged += (_, change) =>
            {
                if (change is { PreviousState: RpcClientState.Connected, State: RpcClientState.Reconnecting })
                {
                    LogLost(_logger, ContractName, _endpoint, change.Reason?.Message ?? "the connection closed");
                }
            };

            try
            {
                await client.ConnectAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (ConnectionLostException)
            {
                // Out of Reconnect.MaxAttempts: the client logged that it gave up; the subscriber stops with it.
                return;
            }

            // The client's Reconnected hook subscribes every later connection; the first is this one's to subscribe.
            if (client.Connection is { } first)
            {
                try
                {
                    await SubscribeAsync(first, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception) when (!stoppingToken.IsCancellationRequested)
                {
                    // Logged by SubscribeAsync. Closing the connection makes the client connect again, and its
                    // Reconnected hook subscribes that connection.
                    await first.DisposeAsync().ConfigureAwait(false);
                }
            }

            await Task.Delay(Timeout.Infinite, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task SubscribeAsync(RpcConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            if (_options.Subscribe is { } subscribe)
            {
                await subscribe(connection, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
        {
            LogSubscribeFailed(_logger, ContractName, _endpoint, exception.Message, exception);
            throw;
        }

        LogSubscribed(_logger, ContractName, _endpoint);
    }

    [LoggerMessage(EventId = 7111, EventName = "HostedSubscriberSubscribed", Level = LogLevel.Information, Message = "Rpc subscriber of {Contract} connected to {Endpoint} and subscribed")]
    private static partial void LogSubscribed(ILogger logger, string contract, string endpoint);

    [LoggerMessage(EventId = 7112, EventName = "HostedSubscriberLost", Level = LogLevel.Warning, Message = "Rpc subscriber of {Contract} lost {Endpoint}: {Reason}; it reconnects and subscribes again")]
    private static partial void LogLost(ILogger logger, string contract, string endpoint, string reason);

    [LoggerMessage(EventId = 7113, EventName = "HostedSubscriberSubscribeFailed", Level = LogLevel.Warning, Message = "Rpc subscriber of {Contract} could not subscribe at {Endpoint}: {Reason}; it connects and tries again")]
    private static partial void LogSubscribeFailed(ILogger logger, string contract, string endpoint, string reason, Exception exception);
}
