using System;
using System.Diagnostics;
using System.IO;
using System.Runtime.Versioning;
using System.Threading.Tasks;
using Rpc.Transports.Internal.SharedMemory;
using Xunit;

namespace Rpc.Transports.Tests.SharedMemory;

/// <summary>Peer death, files in /dev/shm, names, and the file-system security rules.</summary>
[SupportedOSPlatform("linux")]
public sealed class SharedMemoryLifecycleTests : TestBase
{
    private static readonly TimeSpan DeathDetection = TimeSpan.FromSeconds(2);

    public SharedMemoryLifecycleTests() => ShmTestSupport.EnsureRegistered();

    [Fact]
    public async Task SigkillOfClientMidTransfer_FaultsServerInput_AndReleasesBlockedWriter()
    {
        var name = ShmTestSupport.UniqueName("k");
        await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + name, null, TimeoutToken));
        var accept = listener.AcceptAsync(TimeoutToken).AsTask();
        using var peer = await PeerProcess.StartAsync("flood-client", name, TimeoutToken);
        await using var server = (await Bounded(accept))!;
        await AssertPeerDeathDetectedAsync(server, peer);
    }

    [Fact]
    public async Task SigkillOfServerMidTransfer_FaultsClientInput_AndReleasesBlockedWriter()
    {
        var name = ShmTestSupport.UniqueName("k");
        using var peer = await PeerProcess.StartAsync("flood-server", name, TimeoutToken);
        await using var client = await Bounded(RpcTransports.ConnectAsync("shm://" + name, null, TimeoutToken));
        await AssertPeerDeathDetectedAsync(client, peer);
    }

    [Fact]
    public async Task StaleSocketAndSegments_OfADeadServer_AreReclaimed()
    {
        var name = ShmTestSupport.UniqueName("s");
        using var peer = await PeerProcess.StartAsync("listen", name, TimeoutToken);
        var deadPid = peer.Id;
        peer.Kill();

        // SIGKILL left the rendezvous socket; fake a segment the dead server left mid-handshake.
        Assert.True(File.Exists(SharedMemoryName.RendezvousPath(name)), "the killed server should have left its socket file");
        var staleSegment = Path.Combine(SharedMemoryName.Directory, SharedMemoryName.SegmentPrefix(name) + deadPid + "-0123456789abcdef");
        File.WriteAllBytes(staleSegment, new byte[64]);
        File.SetUnixFileMode(staleSegment, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        await using (var listener = await Bounded(RpcTransports.ListenAsync("shm://" + name, null, TimeoutToken)))
        {
            Assert.False(File.Exists(staleSegment), "the dead server's segment should have been reclaimed");
            var (client, server) = await ConnectPairAsync(listener);
            await client.DisposeAsync();
            await server.DisposeAsync();
        }

        Assert.Empty(ShmTestSupport.FilesOf(name));
    }

    [Fact]
    public async Task SegmentOfALiveProcess_IsNotReclaimed()
    {
        var name = ShmTestSupport.UniqueName("s");
        var liveSegment = Path.Combine(SharedMemoryName.Directory, SharedMemoryName.SegmentPrefix(name) + Environment.ProcessId + "-0123456789abcdef");
        File.WriteAllBytes(liveSegment, new byte[64]);
        try
        {
            await using var listener = await Bounded(RpcTransports.ListenAsync("shm://" + name, null, TimeoutToken));
            Assert.True(File.Exists(liveSegment));
        }
        finally
        {
            File.Delete(liveSegment);
        }
    }

    [Fact]
    public async Task LiveName_IsNeverTakenOver()
    {
        var name = ShmTestSupport.UniqueName("l");
        using var peer = await PeerProcess.StartAsync("listen", name, TimeoutToken);
        var error = await Assert.ThrowsAsync<IOException>(() => Bounded(RpcTransports.ListenAsync("shm://" + name, null, TimeoutToken)));
        Assert.Contains("Another server is listening", error.Message, StringComparison.Ordinal);

        // The live server still works.
        await using var client = await Bounded(RpcTransports.ConnectAsync("shm://" + name, null, TimeoutToken));
    }

    [Fact]
    public async Task RendezvousSocket_IsOwnerOnly_AndEveryFileIsGoneAfterCleanClose()
    {
        var name = ShmTestSupport.UniqueName("f");
        await using (var listener = await Bounded(RpcTransports.ListenAsync("shm://" + name, null, TimeoutToken)))
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SharedMemoryName.RendezvousPath(name)));
            var (client, server) = await ConnectPairAsync(listener);

            // The segment is unlinked as soon as the client has mapped it: only the socket remains while connected.
            Assert.Equal(new[] { SharedMemoryName.RendezvousPath(name) }, ShmTestSupport.FilesOf(name));
            await Bounded(Task.WhenAll(client.DisposeAsync().AsTask(), server.DisposeAsync().AsTask()));
        }

        Assert.Empty(ShmTestSupport.FilesOf(name));
    }

    [Fact]
    public void Segment_IsCreatedExclusivelyWithMode0600()
    {
        var prefix = SharedMemoryName.SegmentPrefix(ShmTestSupport.UniqueName("m"));
        using var segment = SharedMemorySegment.Create(SharedMemoryName.Directory, prefix, 4096);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(segment.Path));
        Assert.Equal(SharedMemorySegment.TotalSize(4096), new FileInfo(segment.Path).Length);

        using (var opened = SharedMemorySegment.Open(segment.Path, 4096))
        {
            Assert.Equal(segment.Path, opened.Path);
        }

        Assert.Throws<IOException>(() => SharedMemorySegment.Open(segment.Path, 8192));
        segment.Dispose();
        Assert.False(File.Exists(segment.Path));
    }

    [Fact]
    public async Task SymbolicLinks_AreNeverFollowed()
    {
        var name = ShmTestSupport.UniqueName("y");
        var target = Path.Combine(TempDirectory, "target");
        File.WriteAllText(target, "keep");

        // At the rendezvous path: listen refuses (not a socket) and leaves link and target alone.
        var socketPath = SharedMemoryName.RendezvousPath(name);
        File.CreateSymbolicLink(socketPath, target);
        try
        {
            await Assert.ThrowsAsync<IOException>(() => Bounded(RpcTransports.ListenAsync("shm://" + name, null, TimeoutToken)));
            await Assert.ThrowsAnyAsync<Exception>(() => Bounded(RpcTransports.ConnectAsync("shm://" + name, new TransportOptions { ConnectTimeout = TimeSpan.FromSeconds(2) }, TimeoutToken)));
            Assert.NotNull(new FileInfo(socketPath).LinkTarget);
        }
        finally
        {
            File.Delete(socketPath);
        }

        // At a segment path: opening refuses (O_NOFOLLOW → ELOOP), and creating never writes through the link.
        var segmentPath = Path.Combine(SharedMemoryName.Directory, SharedMemoryName.SegmentPrefix(name) + "1-00");
        File.CreateSymbolicLink(segmentPath, target);
        try
        {
            var error = Assert.Throws<IOException>(() => SharedMemorySegment.Open(segmentPath, 4096));
            Assert.Contains("symbolic link", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(segmentPath);
        }

        Assert.Equal("keep", File.ReadAllText(target));
    }

    [Theory]
    [InlineData("shm://")]
    [InlineData("shm://a/b")]
    [InlineData("shm://a:1")]
    [InlineData("shm://has space")]
    [InlineData("shm://bad@char")]
    [InlineData("shm://x%2Fy")]
    public async Task InvalidNames_AreArgumentExceptions(string endpoint)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => RpcTransports.ListenAsync(endpoint, null, TimeoutToken).AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => RpcTransports.ConnectAsync(endpoint, null, TimeoutToken).AsTask());
    }

    [Fact]
    public async Task NameOfSixtyFourCharacters_IsAccepted_SixtyFiveIsNot()
    {
        var name = "n" + new string('x', 63);
        await using (var listener = await Bounded(RpcTransports.ListenAsync("shm://" + name, null, TimeoutToken)))
        {
            Assert.Equal("shm://" + name, listener.Endpoint);
        }

        await Assert.ThrowsAsync<ArgumentException>(() => RpcTransports.ListenAsync("shm://" + name + "x", null, TimeoutToken).AsTask());
    }

    [Fact]
    public async Task ConnectWithoutServer_IsAnIOExceptionNamingTheEndpoint()
    {
        var name = ShmTestSupport.UniqueName("n");
        var error = await Assert.ThrowsAsync<IOException>(() => Bounded(RpcTransports.ConnectAsync("shm://" + name, null, TimeoutToken)));
        Assert.Contains("shm://" + name, error.Message, StringComparison.Ordinal);
    }

    private async Task AssertPeerDeathDetectedAsync(TransportConnection connection, PeerProcess peer)
    {
        // Mid-transfer: bytes are flowing in, and our writer is blocked because the peer never reads.
        var input = connection.Transport.Input;
        var first = await Bounded(input.ReadAsync(TimeoutToken).AsTask());
        Assert.False(first.Buffer.IsEmpty);
        input.AdvanceTo(first.Buffer.End);
        var reading = Task.Run(async () =>
        {
            while (true)
            {
                var result = await input.ReadAsync(TimeoutToken);
                input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        });
        // More than the peer buffers (its default limit) plus the ring: while the peer lives this write cannot end, and
        // it blocks on the full ring once the peer has taken all it takes.
        var peerCapacity = new TransportOptions().MaxBufferedInputBytes + new TransportOptions().SharedMemoryRingSize;
        var writing = StartWrite(connection.Transport.Output, new byte[peerCapacity + (16 * 1024 * 1024)], complete: false).Completion;
        Assert.False(writing.IsCompleted, "a write larger than the peer can take ended while the peer lives");

        var killed = Stopwatch.StartNew();
        peer.Kill();
        var lost = await Assert.ThrowsAsync<IOException>(() => reading.WaitAsync(DeathDetection + TimeSpan.FromSeconds(1), TimeoutToken));
        var inputFaultedAfter = killed.Elapsed;
        await Bounded(Task.WhenAny(writing.WaitAsync(DeathDetection, TimeoutToken)));
        var writerReleasedAfter = killed.Elapsed;
        Assert.True(writing.IsCompleted, "a writer blocked on the full ring must be released when the peer dies");
        Assert.True(inputFaultedAfter < DeathDetection, $"input faulted {inputFaultedAfter.TotalMilliseconds:F0} ms after SIGKILL");
        Assert.True(writerReleasedAfter < DeathDetection, $"writer released {writerReleasedAfter.TotalMilliseconds:F0} ms after SIGKILL");
        Assert.Contains("exited", lost.Message, StringComparison.Ordinal);
    }
}
