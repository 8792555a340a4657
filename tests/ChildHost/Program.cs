using System;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Rpc;
using Rpc.Tests;

// Usage: Rpc.ChildHost [--log <text>] [--exit-code <n>] [--exit-after <ms> <code>] [--crash-after <ms>] [--ignore-parent]
//        Rpc.ChildHost --intermediate [--ignore-parent]   starts a grandchild (this program), prints "GRANDCHILD <pid>", waits
var exitCode = 0;
var ignoreParent = false;
var intermediate = false;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--log":
            // Goes to this process's stdout: with anonymous pipes, stdout stays free for logging.
            Console.WriteLine(args[++i]);
            break;
        case "--exit-code":
            exitCode = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--exit-after":
        {
            var delay = int.Parse(args[++i], CultureInfo.InvariantCulture);
            var code = int.Parse(args[++i], CultureInfo.InvariantCulture);
            _ = Task.Delay(delay).ContinueWith(_ => Environment.Exit(code), TaskScheduler.Default);
            break;
        }

        case "--crash-after":
        {
            var delay = int.Parse(args[++i], CultureInfo.InvariantCulture);
            _ = Task.Delay(delay).ContinueWith(_ => Environment.FailFast("ChildHost: crash requested by the test"), TaskScheduler.Default);
            break;
        }

        case "--ignore-parent":
            ignoreParent = true;
            break;
        case "--intermediate":
            intermediate = true;
            break;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}");
            return 2;
    }
}

if (intermediate)
{
    // A parent of its own, killed by the test: its child must not outlive it.
    var options = new RpcChildProcessOptions { FileName = Environment.ProcessPath!, Arguments = { typeof(TestService).Assembly.Location.Replace("Rpc.TestContracts.dll", "Rpc.ChildHost.dll", StringComparison.Ordinal) } };
    if (ignoreParent)
    {
        options.Arguments.Add("--ignore-parent");
    }

    var child = await RpcChildProcess.StartAsync<ITestService>(options);
    Console.WriteLine($"GRANDCHILD {await child.Proxy.GetProcessIdAsync()}");
    await Task.Delay(Timeout.Infinite);
    return 0;
}

if (ignoreParent)
{
    // Serves, but never returns when the parent goes away: only PR_SET_PDEATHSIG can end this process.
    _ = RpcChildProcess.ConnectToParent(c => c.AddService<ITestService>(new TestService(c.CreateProxy<ICallback>())));
    await Task.Delay(Timeout.Infinite);
    return 0;
}

await RpcChildProcess.ServeParentAsync<ITestService>(c => new TestService(c.CreateProxy<ICallback>()));
Console.WriteLine("CHILD DONE");
return exitCode;
