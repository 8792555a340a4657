using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Rpc.Hosting;

/// <summary>
/// Serves a work-queue hub from start to stop: connects to its worker endpoint, runs the calls it sends, connects again
/// after losing it, and closes the connection when the host stops (the hub then treats the calls still running as those
/// of a lost worker: see <see cref="WorkQueueOptions.MaxAttempts"/>).
/// </summary>
internal sealed partial class RpcWorkerHostedService<TContract>(TContract implementation, RpcWorkerOptions options, ILogger<RpcWorkerHostedService<TContract>> logger)
    : BackgroundService
    where TContract : class
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var endpoint = options.Endpoint ?? throw new InvalidOperationException(
            $"The Rpc worker of {typeof(TContract).Name} has no hub endpoint: set Rpc:Workers:{typeof(TContract).Name}:Endpoint or pass one in code.");
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var connection = await RpcWorkQueue.ConnectWorkerAsync(endpoint, implementation, options.Connection, stoppingToken).ConfigureAwait(false);
                await using (connection.ConfigureAwait(false))
                {
                    LogConnected(logger, endpoint);
                    await connection.Completion.WaitAsync(stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception) when (exception is RpcException or System.IO.IOException or TimeoutException or System.Net.Sockets.SocketException)
            {
                LogUnreachable(logger, endpoint, exception.Message);
            }

            await Task.Delay(options.ReconnectDelay, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    [LoggerMessage(EventId = 7101, EventName = "HostedWorkerConnected", Level = LogLevel.Information, Message = "Rpc worker connected to the hub at {Endpoint}")]
    private static partial void LogConnected(ILogger logger, string endpoint);

    [LoggerMessage(EventId = 7102, EventName = "HostedWorkerHubUnreachable", Level = LogLevel.Warning, Message = "Rpc worker cannot reach the hub at {Endpoint}: {Reason}")]
    private static partial void LogUnreachable(ILogger logger, string endpoint, string reason);
}
