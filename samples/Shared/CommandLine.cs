using System;
using System.IO;
using System.Security.Authentication;
using System.Threading.Tasks;
using Rpc;

namespace Rpc.Samples;

/// <summary>
/// How every sample ends when what it was asked to do cannot be done: one line on stderr naming the program, and exit
/// code <see cref="UsageError"/> for a command line that cannot work (a bad endpoint, an unknown option value) or
/// <see cref="RuntimeFailure"/> for a failure while running (the address is taken, the server is not there, the
/// connection was lost). Anything else is a bug in the sample, and still shows its stack trace.
/// </summary>
internal static class CommandLine
{
    public const int UsageError = 2;

    public const int RuntimeFailure = 1;

    /// <summary>Runs a sample's main code and reports its expected failures as one line.</summary>
    /// <param name="program">The name printed before the message, for example "Calculator.Server".</param>
    /// <param name="main">The sample's code; its result is the exit code.</param>
    /// <returns>The exit code.</returns>
    public static async Task<int> RunAsync(string program, Func<Task<int>> main)
    {
        try
        {
            return await main();
        }
        catch (Exception exception) when (ExitCodeFor(exception) is { } exitCode)
        {
            Console.Error.WriteLine($"{program}: {exception.Message}");
            return exitCode;
        }
    }

    private static int? ExitCodeFor(Exception exception) => exception switch
    {
        // What Rpc throws for an endpoint string it cannot use (the message names the endpoint and the expected form).
        FormatException or ArgumentException or NotSupportedException => UsageError,

        // What Rpc throws when listening, connecting or calling fails (the message names the endpoint and the cause).
        IOException or RpcException or TimeoutException or AuthenticationException or UnauthorizedAccessException => RuntimeFailure,
        _ => null,
    };
}
