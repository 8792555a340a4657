using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Pipelines;
using System.Threading;
using System.Threading.Tasks;
using Rpc.Protocols.Binary;
using Rpc.Tests;

namespace Rpc.Fuzzing;

/// <summary>
/// Writes the starting corpus of each target from real traffic, so the fuzzer starts with valid frames and gets deep
/// quickly: for the protocols, what a real peer sends to a connection that has the <see cref="OutstandingCalls"/> waiting
/// (their replies) while the peer also calls each served method once.
/// </summary>
internal static class SeedCorpus
{
    /// <summary>The peer's side of each protocol seed: calls it makes on the connection under test, besides answering it.</summary>
    private static readonly Dictionary<string, Func<ITestService, Task>> PeerCalls = new(StringComparer.Ordinal)
    {
        ["replies-only"] = _ => Task.CompletedTask,
        ["add"] = service => service.AddAsync(1, 2),
        ["echo"] = service => service.EchoAsync("text with ünïcode").AsTask(),
        ["echo-buffer"] = async service => (await service.EchoBufferAsync(RpcBuffer.CopyFrom([9, 8, 7])).ConfigureAwait(false)).Dispose(),
        ["echo-bytes"] = service => service.EchoBytesAsync([1, 2, 3]),
        ["sum-bytes"] = service => service.SumBytesAsync(new byte[] { 4, 5, 6 }),
        ["round-trip"] = service => service.RoundTripAsync(OutstandingCalls.SampleOrder),
        ["round-trip-nulls"] = service => service.RoundTripAsync(new Order(1, string.Empty, [], OrderStatus.New, default, null)),
        ["notify"] = service =>
        {
            service.Notify("note");
            return service.GetNotificationsAsync();
        },
        ["renamed"] = service => service.RenamedAsync("maybe"),
        ["throw"] = async service => await IgnoreRemoteErrorAsync(service.ThrowAsync("boom")).ConfigureAwait(false),
        ["call-back"] = service => service.CallBackAsync(21),
        ["count"] = async service =>
        {
            await foreach (var _ in service.CountAsync(5, 0).ConfigureAwait(false))
            {
            }
        },
        ["cancel"] = async service =>
        {
            using var cancellation = new CancellationTokenSource();
            var wait = service.WaitForCancellationAsync(cancellation.Token);
            await cancellation.CancelAsync().ConfigureAwait(false);
            await IgnoreCancellationAsync(wait).ConfigureAwait(false);
        },
        ["stream-cancel"] = async service =>
        {
            using var cancellation = new CancellationTokenSource();
            await IgnoreCancellationAsync(ConsumeOneAsync(service.CountAsync(1000, 1, cancellation.Token), cancellation)).ConfigureAwait(false);
        },
    };

    /// <summary>Writes the seeds of <paramref name="target"/> into <paramref name="directory"/>; returns how many.</summary>
    public static int Write(string target, string directory)
    {
        Directory.CreateDirectory(directory);
        var seeds = target switch
        {
            "binary" => RecordProtocolSeeds(RpcProtocol.Binary),
            "jsonrpc" => RecordProtocolSeeds(RpcProtocol.JsonRpc),
            "shm-ring" => ShmRingTarget.Seeds(),
            "shm-handshake" => ShmHandshakeTarget.Seeds(),
            _ => throw new ArgumentException($"Unknown fuzz target '{target}'; the targets are: {string.Join(", ", FuzzTargets.Names)}.", nameof(target)),
        };

        foreach (var (name, bytes) in seeds)
        {
            File.WriteAllBytes(Path.Combine(directory, name), bytes);
        }

        return seeds.Count;
    }

    private static List<(string Name, byte[] Bytes)> RecordProtocolSeeds(RpcProtocol protocol)
    {
        var seeds = new List<(string, byte[])>();
        foreach (var (name, peerCalls) in PeerCalls)
        {
            seeds.Add((name, RecordAsync(protocol, peerCalls).WaitAsync(FuzzTargets.InputTimeout).GetAwaiter().GetResult()));
        }

        return seeds;
    }

    /// <summary>
    /// Connects the connection under test to a real peer and records every byte the peer sends it, until the outstanding
    /// calls and the peer's calls have all completed.
    /// </summary>
    private static async Task<byte[]> RecordAsync(RpcProtocol protocol, Func<ITestService, Task> peerCalls)
    {
        var toTarget = new Pipe();
        var toPeer = new Pipe();
        var peerOut = new Pipe();
        var recording = new MemoryStream();
        var target = ProtocolTarget.Serve(new DuplexPipe(toTarget.Reader, toPeer.Writer), protocol);
        var peer = ProtocolTarget.Serve(new DuplexPipe(toPeer.Reader, peerOut.Writer), protocol);
        var relay = RelayAsync(peerOut.Reader, toTarget.Writer, recording);

        var calls = OutstandingCalls.Start(target.CreateProxy<ITestService>());
        await peerCalls(peer.CreateProxy<ITestService>()).ConfigureAwait(false);
        await calls.CheckAsync(FuzzTargets.InputTimeout).ConfigureAwait(false);

        await peer.DisposeAsync().ConfigureAwait(false);
        await target.DisposeAsync().ConfigureAwait(false);
        peerOut.Reader.CancelPendingRead();
        await relay.ConfigureAwait(false);
        lock (recording)
        {
            // The target sends the binary hello itself before each input (see ProtocolTarget).
            var recorded = recording.ToArray();
            return protocol == RpcProtocol.Binary ? recorded[ProtocolHello.Length..] : recorded;
        }
    }

    /// <summary>Copies the peer's bytes to the connection under test, keeping a copy.</summary>
    private static async Task RelayAsync(PipeReader from, PipeWriter to, MemoryStream recording)
    {
        while (true)
        {
            var result = await from.ReadAsync().ConfigureAwait(false);
            foreach (var segment in result.Buffer)
            {
                lock (recording)
                {
                    recording.Write(segment.Span);
                }

                await to.WriteAsync(segment).ConfigureAwait(false);
            }

            from.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                return;
            }
        }
    }

    private static async Task IgnoreRemoteErrorAsync(Task call)
    {
        try
        {
            await call.ConfigureAwait(false);
        }
        catch (RemoteInvocationException)
        {
        }
    }

    private static async Task IgnoreCancellationAsync(Task call)
    {
        try
        {
            await call.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task ConsumeOneAsync(IAsyncEnumerable<int> stream, CancellationTokenSource cancellation)
    {
        await foreach (var _ in stream.ConfigureAwait(false))
        {
            await cancellation.CancelAsync().ConfigureAwait(false);
        }
    }
}
