using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Xunit.Abstractions;

namespace Rpc.Tests.Processes;

/// <summary>RpcChildProcess against tests/ChildHost in a real child process. Every child is disposed (killed at worst).</summary>
public sealed class ChildProcessTests(ITestOutputHelper output) : TestBase
{
    private sealed class Callback : ICallback
    {
        public Task<int> OnValueAsync(int value) => Task.FromResult(value * 10);
    }

    internal static RpcChildProcessOptions Options(params string[] arguments)
    {
        var options = new RpcChildProcessOptions { FileName = Environment.ProcessPath ?? "dotnet", Arguments = { ChildHostLocator.Path } };
        foreach (var argument in arguments)
        {
            options.Arguments.Add(argument);
        }

        return options;
    }

    private Task<RpcChildProcess<ITestService>> StartAsync(RpcChildProcessOptions options) =>
        RpcChildProcess.StartAsync<ITestService>(options, c => c.AddService<ICallback>(new Callback()), TimeoutToken);

    [Theory]
    [InlineData(RpcChildTransport.AnonymousPipes)]
    [InlineData(RpcChildTransport.StandardStreams)]
    public async Task Calls_go_both_ways(RpcChildTransport transport)
    {
        var options = Options();
        options.Transport = transport;
        await using var child = await StartAsync(options);

        Assert.Equal(42, await child.Proxy.AddAsync(40, 2, TimeoutToken).WaitAsync(TimeoutToken));
        Assert.Equal(child.ProcessId, await child.Proxy.GetProcessIdAsync().WaitAsync(TimeoutToken));
        // The child calls the parent's ICallback and returns its answer.
        Assert.Equal(70, await child.Proxy.CallBackAsync(7).WaitAsync(TimeoutToken));
    }

    [Fact]
    public async Task Streams_and_16_MiB_payloads_cross()
    {
        await using var child = await StartAsync(Options());

        var items = new List<int>();
        await foreach (var item in child.Proxy.CountAsync(100, 0, TimeoutToken))
        {
            items.Add(item);
        }

        Assert.Equal(Enumerable.Range(0, 100), items);

        var payload = new byte[16 * 1024 * 1024];
        new Random(7).NextBytes(payload);
        var echoed = await child.Proxy.EchoBytesAsync(payload).WaitAsync(TimeoutToken);
        Assert.True(payload.AsSpan().SequenceEqual(echoed));
    }

    [Fact]
    public async Task Child_stdout_stays_usable_for_logging()
    {
        var options = Options("--log", "hello from the child");
        options.RedirectStandardOutput = true;
        await using var child = await StartAsync(options);

        Assert.Equal("hello from the child", await child.Process.StandardOutput.ReadLineAsync(TimeoutToken));
        Assert.Equal(3, await child.Proxy.AddAsync(1, 2, TimeoutToken).WaitAsync(TimeoutToken));
    }

    [Fact]
    public async Task SIGKILL_of_the_child_fails_pending_calls_with_its_exit_code_within_2_s()
    {
        await using var child = await StartAsync(Options());
        var pending = child.Proxy.SleepAsync(30_000, TimeoutToken);
        await child.Proxy.PingAsync().AsTask().WaitAsync(TimeoutToken);

        var stopwatch = Stopwatch.StartNew();
        child.Process.Kill();
        var error = await Assert.ThrowsAsync<ConnectionLostException>(() => pending.WaitAsync(TimeoutToken));
        stopwatch.Stop();

        output.WriteLine($"{error.Message} after {stopwatch.ElapsedMilliseconds} ms");
        Assert.Contains($"child process {child.ProcessId} exited with code 137", error.Message, StringComparison.Ordinal);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2), $"took {stopwatch.ElapsedMilliseconds} ms");
        Assert.Equal(137, await child.WaitForExitAsync(TimeoutToken));
        Assert.False(child.Connection.IsConnected);
    }

    [Fact]
    public async Task FailFast_in_the_child_fails_pending_calls_with_its_exit_code()
    {
        await using var child = await StartAsync(Options("--crash-after", "300"));
        var pending = child.Proxy.SleepAsync(30_000, TimeoutToken);

        var error = await Assert.ThrowsAsync<ConnectionLostException>(() => pending.WaitAsync(TimeoutToken));
        var exitCode = await child.WaitForExitAsync(TimeoutToken);

        output.WriteLine(error.Message);
        Assert.NotEqual(0, exitCode);
        Assert.Contains($"exited with code {exitCode}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Exit_of_the_child_is_observable_with_its_code()
    {
        await using var child = await StartAsync(Options("--exit-after", "300", "42"));
        var pending = child.Proxy.SleepAsync(30_000, TimeoutToken);

        var error = await Assert.ThrowsAsync<ConnectionLostException>(() => pending.WaitAsync(TimeoutToken));
        Assert.Contains("exited with code 42", error.Message, StringComparison.Ordinal);
        Assert.Equal(42, await child.WaitForExitAsync(TimeoutToken));
        Assert.Equal(42, child.ExitCode);
        await child.Completion.WaitAsync(TimeoutToken);
        Assert.IsType<ConnectionLostException>(child.Connection.CloseReason);
    }

    [Fact]
    public async Task Dispose_closes_the_connection_and_the_child_exits_on_its_own()
    {
        var child = await StartAsync(Options("--exit-code", "7", "--log", "started"));
        Assert.Equal(3, await child.Proxy.AddAsync(1, 2, TimeoutToken).WaitAsync(TimeoutToken));

        await child.DisposeAsync().AsTask().WaitAsync(TimeoutToken);

        // ServeParentAsync returned in the child when the parent closed, and Main returned its exit code.
        Assert.Equal(7, child.ExitCode);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_killed_parent_takes_its_child_with_it(bool childIgnoresTheConnection)
    {
        // The intermediate parent is a plain process; it starts its own RpcChildProcess and reports the grandchild's pid.
        var start = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(ChildHostLocator.Path);
        start.ArgumentList.Add("--intermediate");
        if (childIgnoresTheConnection)
        {
            start.ArgumentList.Add("--ignore-parent");
        }

        using var parent = Process.Start(start)!;
        var grandchild = -1;
        try
        {
            while (grandchild < 0)
            {
                var line = await parent.StandardOutput.ReadLineAsync(TimeoutToken) ?? throw new InvalidOperationException("The intermediate parent exited early.");
                if (line.StartsWith("GRANDCHILD ", StringComparison.Ordinal))
                {
                    grandchild = int.Parse(line["GRANDCHILD ".Length..], System.Globalization.CultureInfo.InvariantCulture);
                }
            }

            Assert.True(IsAlive(grandchild));
            parent.Kill();
            await parent.WaitForExitAsync(TimeoutToken);

            var stopwatch = Stopwatch.StartNew();
            await WaitUntilAsync(() => !IsAlive(grandchild), TimeSpan.FromSeconds(5));

            output.WriteLine($"grandchild {grandchild} gone after {stopwatch.ElapsedMilliseconds} ms");
            Assert.False(IsAlive(grandchild), "the grandchild outlived its parent by 5 s");
        }
        finally
        {
            try
            {
                parent.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }

            if (grandchild > 0 && IsAlive(grandchild))
            {
                try
                {
                    Process.GetProcessById(grandchild).Kill();
                }
                catch (ArgumentException)
                {
                }
            }
        }
    }

    /// <summary>A process that exited but was not reaped yet (a zombie; containers often lack a reaping init) counts as gone.</summary>
    private static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }
}

/// <summary>Starting and stopping children leaks nothing. Counted per process, so it runs alone.</summary>
[Collection(Conformance.ResourceCountingCollection.Name)]
public sealed class ChildProcessResourceTests : TestBase
{
    [Fact]
    public async Task Descriptors_return_to_baseline_after_100_cycles()
    {
        using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        await CycleAsync(budget.Token);
        var baseline = Conformance.ResourceCounts.Take();

        for (var i = 0; i < 100; i++)
        {
            await CycleAsync(budget.Token);
        }

        // Finalizers would hide a leak of undisposed handles; this only counts what is still open.
        await Conformance.ResourceCounts.WaitUntilBackToAsync(baseline, budget.Token);

        async Task CycleAsync(CancellationToken cancellationToken)
        {
            await using var child = await RpcChildProcess.StartAsync<ITestService>(ChildProcessTests.Options(), cancellationToken: cancellationToken);
            Assert.Equal(5, await child.Proxy.AddAsync(2, 3, cancellationToken).WaitAsync(cancellationToken));
        }
    }
}
