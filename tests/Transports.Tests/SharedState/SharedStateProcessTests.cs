using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.Versioning;
using System.Threading.Tasks;
using Rpc.SharedState;
using Xunit;

namespace Rpc.Transports.Tests.SharedState;

/// <summary>Shared arrays across real processes: contention, a holder killed inside the lock, reclaim, and another user.</summary>
[SupportedOSPlatform("linux")]
public sealed class SharedStateProcessTests : TestBase
{
    // Process start-up on a loaded 2-core machine takes seconds: generous, and every wait still ends.
    public SharedStateProcessTests()
        : base(TimeSpan.FromMinutes(3))
    {
    }

    [Theory]
    [InlineData("lock-increment", 4, 20_000)]
    [InlineData("atomic-increment", 4, 100_000)]
    public async Task IncrementsFromSeveralProcesses_AreExact(string mode, int processes, int perProcess)
    {
        var name = SharedArrayTests.UniqueName("c");
        using var shared = SharedArray<long>.Create(name, 2);
        var peers = new StatePeer[processes];
        try
        {
            var count = perProcess.ToString(CultureInfo.InvariantCulture);
            var started = await Bounded(Task.WhenAll(Enumerable.Range(0, processes).Select(_ => Task.Run(() => StatePeer.StartAsync("ready", TimeoutToken, mode, name, count)))));
            started.CopyTo(peers, 0);

            // Every peer has opened the array and sleeps in WaitForChange: one store starts them all together.
            _ = shared.AtomicExchange(1, 1);
            foreach (var peer in peers)
            {
                Assert.Equal(0, await Bounded(peer.ExitCodeAsync(TimeoutToken)));
            }

            Assert.Equal((long)processes * perProcess, shared.AtomicRead(0));
            Assert.Equal(1, shared.HolderCount);
        }
        finally
        {
            foreach (var peer in peers)
            {
                peer?.Dispose();
            }
        }
    }

    [Fact]
    public async Task HolderKilledInsideTheLock_AWaiterGetsItWithinABoundedTime_AndIsToldTheOwnerDied()
    {
        var name = SharedArrayTests.UniqueName("d");
        using var value = SharedValue<long>.Create(name, 10);
        using (var holder = await StatePeer.StartAsync("locked", TimeoutToken, "hold-lock", name))
        {
            Assert.False(value.TryLock(out _), "the peer says it holds the lock");

            // A waiter already asleep on the lock when its holder dies.
            var waiter = Task.Run(() => value.Lock(TimeSpan.FromSeconds(60), TimeoutToken));
            holder.Kill();
            var stopwatch = Stopwatch.StartNew();
            using var scope = await Bounded(waiter);
            Assert.True(scope.PreviousOwnerDied);
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"taking over a dead holder's lock took {stopwatch.Elapsed}");

            // The dead holder's half-done update is visible: repairing it is what the flag is for.
            Assert.Equal(-1, value.Value);
            value.Value = 10;
        }

        using (var next = value.Lock(TimeSpan.FromSeconds(5), TimeoutToken))
        {
            Assert.False(next.PreviousOwnerDied);
            Assert.Equal(10, value.Value);
        }
    }

    [Fact]
    public async Task TryLock_TakesOverFromAHolderThatAlreadyDied()
    {
        var name = SharedArrayTests.UniqueName("e");
        using var value = SharedValue<long>.Create(name, 10);
        using (var holder = await StatePeer.StartAsync("locked", TimeoutToken, "hold-lock", name))
        {
            holder.Kill();
        }

        Assert.True(value.TryLock(out var scope), "a lock whose holder is dead is free to take");
        using (scope)
        {
            Assert.True(scope.PreviousOwnerDied);
        }
    }

    [Fact]
    public async Task WaitForChange_WakesWhenAnotherProcessStores()
    {
        var name = SharedArrayTests.UniqueName("w");
        using var array = SharedArray<int>.Create(name, 4);
        var waiting = Task.Run(() => array.WaitForChange(2, 0, TimeSpan.FromSeconds(60), TimeoutToken));
        using var peer = await StatePeer.StartAsync("stored", TimeoutToken, "store", name, "2", "42");
        Assert.True(await Bounded(waiting));
        Assert.Equal(42, array.AtomicRead(2));
    }

    [Fact]
    public async Task NoFileIsLeft_WhenEveryHolderIsKilled()
    {
        var name = SharedArrayTests.UniqueName("r");
        var path = SharedArrayTests.PathOf(name);
        using (var creator = await StatePeer.StartAsync("ready", TimeoutToken, "create-hold", name))
        using (var holder = await StatePeer.StartAsync("ready", TimeoutToken, "hold", name))
        {
            using (var ours = SharedArray<int>.Open(name, 16))
            {
                Assert.Equal(3, ours.HolderCount);
            }

            Assert.True(File.Exists(path), "closed while two processes held it");
            creator.Kill();
            SharedArray.ReclaimStale();
            Assert.True(File.Exists(path), "reclaimed while one process still held it");
            holder.Kill();
        }

        Assert.True(File.Exists(path), "a SIGKILLed process cannot remove anything: the file is there until reclaimed");
        SharedArray.ReclaimStale();
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles("/dev/shm", "rpcstate-" + name + "*"));
    }

    [Fact]
    public async Task CreateAndOpen_ReclaimANameWhoseHoldersAllDied()
    {
        var name = SharedArrayTests.UniqueName("o");
        using (var creator = await StatePeer.StartAsync("ready", TimeoutToken, "create-hold", name))
        {
            creator.Kill();
        }

        // Open finds every holder dead: it removes the file and says it does not exist.
        Assert.Throws<FileNotFoundException>(() => SharedArray<int>.Open(name));
        Assert.False(File.Exists(SharedArrayTests.PathOf(name)));

        using (var creator = await StatePeer.StartAsync("ready", TimeoutToken, "create-hold", name))
        {
            creator.Kill();
        }

        // Create replaces it (another type and length: nothing of the dead one survives).
        using var fresh = SharedArray<long>.Create(name, 3);
        Assert.Equal(1, fresh.HolderCount);
        Assert.Equal(0, fresh[2]);
    }

    [OtherUserFact]
    public void AnotherUser_CannotOpenTheFile()
    {
        var name = SharedArrayTests.UniqueName("u");
        var path = SharedArrayTests.PathOf(name);
        using var array = SharedArray<int>.Create(name, 4);

        var refused = OpenAs(UnixSocketFileTests.OtherUser, path);
        Assert.True(refused.ExitCode == 3, $"the other user was not refused: exit {refused.ExitCode}, {refused.Output}");
        Assert.Contains("Permission denied", refused.Output, StringComparison.Ordinal);

        // Control: with the mode opened up, the same command opens it, so the refusal above came from the 0600 mode.
        File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32("666", 8));
        var allowed = OpenAs(UnixSocketFileTests.OtherUser, path);
        Assert.True(allowed.ExitCode == 0, $"control open failed: exit {allowed.ExitCode}, {allowed.Output}");

        // And Rpc itself refuses a file whose mode was widened.
        var widened = Assert.Throws<IOException>(() => SharedArray<int>.Open(name));
        Assert.Contains("Rpc requires 600", widened.Message, StringComparison.Ordinal);
    }

    [OtherUserFact]
    public void AFileOwnedByAnotherUser_IsNeverMapped()
    {
        var name = SharedArrayTests.UniqueName("v");
        var path = SharedArrayTests.PathOf(name);
        using var array = SharedArray<int>.Create(name, 4);
        Assert.Equal(0, UnixSocketFileTests.Run("chown", UnixSocketFileTests.OtherUser, path).ExitCode);

        var error = Assert.Throws<IOException>(() => SharedArray<int>.Open(name));
        Assert.Contains("belongs to uid", error.Message, StringComparison.Ordinal);
        var create = Assert.Throws<IOException>(() => SharedArray<int>.Create(name, 4));
        Assert.Contains("already exists", create.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(path));
    }

    private static (int ExitCode, string Output) OpenAs(string user, string path) =>
        UnixSocketFileTests.Run("runuser", "-u", user, "--", "perl", "-e",
            "if (open(my $f, '+<', $ARGV[0])) { print \"opened\\n\"; exit 0 } print \"refused: $!\\n\"; exit 3",
            path);
}
