using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.ExceptionServices;
using System.Threading.Tasks;

namespace Rpc.Fuzzing;

/// <summary>The fuzz targets by name: each takes one input and throws <see cref="OracleViolationException"/> when it breaks the oracle.</summary>
public static class FuzzTargets
{
    /// <summary>How long one input may take before it counts as a hang (generous: the machine is shared and loaded).</summary>
    public static readonly TimeSpan InputTimeout = TimeSpan.FromSeconds(20);

    private static readonly Dictionary<string, Action<byte[]>> Targets = new(StringComparer.Ordinal)
    {
        ["binary"] = input => ProtocolTarget.Run(RpcProtocol.Binary, input),
        ["jsonrpc"] = input => ProtocolTarget.Run(RpcProtocol.JsonRpc, input),
        ["shm-ring"] = ShmRingTarget.Run,
        ["shm-handshake"] = ShmHandshakeTarget.Run,
    };

    /// <summary>Gets the names accepted by <see cref="Run"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Targets.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Runs <paramref name="input"/> through the target called <paramref name="target"/>.</summary>
    public static void Run(string target, byte[] input)
    {
        if (!Targets.TryGetValue(target, out var run))
        {
            throw new ArgumentException($"Unknown fuzz target '{target}'; the targets are: {string.Join(", ", Names)}.", nameof(target));
        }

        run(input);
    }

    /// <summary>Waits for one input's run; a run still going after <see cref="InputTimeout"/> is a hang.</summary>
    /// <param name="run">The run.</param>
    /// <param name="describeHang">Says what the run was doing, for the report of a hang.</param>
    internal static void WaitForRun(Task run, Func<string> describeHang)
    {
        try
        {
            if (run.Wait(InputTimeout))
            {
                return;
            }
        }
        catch (AggregateException exception) when (exception.InnerExceptions is [OracleViolationException violation])
        {
            ExceptionDispatchInfo.Throw(violation);
        }

        throw new OracleViolationException($"Hang: {describeHang()} after {InputTimeout.TotalSeconds} s.");
    }
}
