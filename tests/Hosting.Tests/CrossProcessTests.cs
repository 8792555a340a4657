using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using Calculator;
using Microsoft.Extensions.DependencyInjection;
using Rpc.Tests;

namespace Rpc.Hosting.Tests;

/// <summary>The HostedCalculator sample as a server in its own process, called through a client from the container.</summary>
public sealed class CrossProcessTests
{
    [Fact]
    public async Task TypedClientFromTheContainer_CallsAHostedServerInAnotherProcess()
    {
        var endpoint = TestHosts.NewEndpoint();
        using var server = await StartServerAsync(endpoint);
        var client = await TestHosts.StartAsync(services => services.AddRpcClient<ICalculator>(endpoint, options => options.WaitForReady = true));
        try
        {
            var calculator = client.Services.GetRequiredService<ICalculator>();
            Assert.Equal(5, await calculator.AddAsync(2, 3).WaitAsync(TestHosts.Patience));
            Assert.Same(calculator, client.Services.GetRequiredService<ICalculator>());
        }
        finally
        {
            await TestHosts.StopAsync(client);
            await SpawnedProcess.StopAsync(server, TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public async Task Sigterm_UnderLoad_EveryCallEndsOrFailsTyped_AndTheServerExitsZeroInTime()
    {
        var endpoint = TestHosts.NewEndpoint();
        using var server = await StartServerAsync(endpoint);

        // Calls wait for a connection, but no longer than their timeout: once the server is gone they fail typed.
        var client = await TestHosts.StartAsync(services => services.AddRpcClient<ICalculator>(endpoint, options =>
        {
            options.WaitForReady = true;
            options.Connection.DefaultCallTimeout = TimeSpan.FromSeconds(5);
        }));
        try
        {
            var calculator = client.Services.GetRequiredService<ICalculator>();
            await calculator.AddAsync(1, 1).WaitAsync(TestHosts.Patience);

            var slow = Enumerable.Range(0, 20).Select(i => calculator.SlowSquareAsync(i, 1500)).ToList();

            // One connection's calls are dispatched in arrival order, so once a later call is answered all 20 are running:
            // the drain must let them finish (a call still in flight when it starts is refused, which is another case).
            await calculator.AddAsync(0, 0).WaitAsync(TestHosts.Patience);
            var stopLoad = false;
            var load = Task.Run(async () =>
            {
                var outcomes = new List<Exception?>();
                while (!Volatile.Read(ref stopLoad))
                {
                    outcomes.Add(await Record.ExceptionAsync(() => calculator.AddAsync(2, 2).WaitAsync(TestHosts.Patience)));
                }

                return outcomes;
            });

            Assert.Equal(0, kill(server.Id, SignalTerminate));
            using (var exit = new System.Threading.CancellationTokenSource(TestHosts.Patience))
            {
                await server.WaitForExitAsync(exit.Token);
            }

            Assert.Equal(0, server.ExitCode);

            // The drain let every running call finish: the server's ShutdownTimeout (10 s) is longer than the calls.
            Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i * i), await Task.WhenAll(slow).WaitAsync(TestHosts.Patience));
            Volatile.Write(ref stopLoad, true);
            var failures = (await load.WaitAsync(TestHosts.Patience)).Where(e => e is not null).ToList();
            Assert.All(failures, failure => Assert.True(failure is RpcException or RpcTimeoutException, $"Untyped failure: {failure}"));
        }
        finally
        {
            await TestHosts.StopAsync(client);
            SpawnedProcess.Kill(server);
        }
    }

    private const int SignalTerminate = 15;

    [DllImport("libc", SetLastError = true)]
#pragma warning disable SYSLIB1054 // The generated marshalling needs unsafe code, which this project does not enable.
    private static extern int kill(int pid, int signal);
#pragma warning restore SYSLIB1054

    /// <summary>Starts the sample server on <paramref name="endpoint"/> and waits until it listens.</summary>
    private static async Task<Process> StartServerAsync(string endpoint)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(TestHosts.SamplePath("HostedCalculator"));
        start.ArgumentList.Add("serve");
        start.ArgumentList.Add($"--Rpc:Server:Endpoints:0={endpoint}");
        var process = Process.Start(start) ?? throw new InvalidOperationException("The sample did not start.");
        try
        {
            using var ready = new System.Threading.CancellationTokenSource(TestHosts.Patience);
            while (await process.StandardOutput.ReadLineAsync(ready.Token) is { } line)
            {
                if (line.Contains("listening on", StringComparison.Ordinal))
                {
                    // Keep reading, or a full stdout pipe would block the server's logging.
                    _ = process.StandardOutput.ReadToEndAsync();
                    return process;
                }
            }

            throw new InvalidOperationException($"The sample exited before it listened (exit code {process.ExitCode}).");
        }
        catch
        {
            SpawnedProcess.Kill(process);
            process.Dispose();
            throw;
        }
    }
}
