using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.Versioning;
using System.Threading;
using System.Threading.Tasks;
using Rpc.SharedState;
using Xunit;

namespace Rpc.Transports.Tests.SharedState;

/// <summary>Shared arrays and values in one process: names, type and length checks, bounds, lifetime, lock and wait semantics.</summary>
[SupportedOSPlatform("linux")]
public sealed class SharedArrayTests : TestBase
{
    internal static string UniqueName(string prefix = "s") => prefix + "-" + Guid.NewGuid().ToString("N")[..12];

    internal static string PathOf(string name) => Path.Combine("/dev/shm", "rpcstate-" + name);

    [Fact]
    public void Create_MakesAnOwnerOnlyFile_SharedByEveryHandle_AndTheLastDisposeRemovesIt()
    {
        var name = UniqueName();
        var first = SharedArray<int>.Create(name, 1000);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(PathOf(name)));
        Assert.Equal(1000, first.Length);
        Assert.True(first.AsSpan().ToArray().All(element => element == 0));

        var second = SharedArray<int>.Open(name, 1000);
        Assert.Equal(2, second.HolderCount);
        first[999] = 42;
        Assert.Equal(42, second[999]);
        second.AsSpan(10, 3).Fill(7);
        Assert.Equal(new[] { 0, 7, 7, 7, 0 }, first.AsSpan(9, 5).ToArray());

        first.Dispose();
        Assert.True(File.Exists(PathOf(name)), "the file went while a handle was still open");
        Assert.Equal(42, second[999]);
        Assert.Throws<ObjectDisposedException>(() => first.AsSpan());

        second.Dispose();
        second.Dispose();
        Assert.False(File.Exists(PathOf(name)));
        Assert.Throws<FileNotFoundException>(() => SharedArray<int>.Open(name));
    }

    [Fact]
    public void Open_WithAnotherElementType_OrLength_ThrowsMismatch_NamingBothSides()
    {
        var name = UniqueName();
        using var array = SharedArray<int>.Create(name, 10);

        var wrongSize = Assert.Throws<SharedStateMismatchException>(() => SharedArray<long>.Open(name));
        Assert.Contains("System.Int32 (4 bytes", wrongSize.Message, StringComparison.Ordinal);
        Assert.Contains("System.Int64 (8 bytes", wrongSize.Message, StringComparison.Ordinal);

        // Same size, another type: the type identity, not the size, tells them apart.
        var sameSize = Assert.Throws<SharedStateMismatchException>(() => SharedArray<float>.Open(name, 10));
        Assert.Equal("System.Int32 (4 bytes)", sameSize.Actual);
        Assert.Equal("System.Single (4 bytes)", sameSize.Expected);

        var wrongLength = Assert.Throws<SharedStateMismatchException>(() => SharedArray<int>.Open(name, 11));
        Assert.Equal("10 elements", wrongLength.Actual);
        Assert.Equal("11 elements", wrongLength.Expected);

        Assert.Throws<SharedStateMismatchException>(() => SharedValue<int>.Open(name));

        // None of the failed opens counted as a holder.
        Assert.Equal(1, array.HolderCount);
    }

    [Fact]
    public void Create_WithContents_PublishesThemWithTheArray()
    {
        var name = UniqueName();
        using var created = SharedArray<double>.Create(name, new[] { 1.5, 2.5, 3.5 });
        using var opened = SharedArray<double>.Open(name);
        Assert.Equal(new[] { 1.5, 2.5, 3.5 }, opened.AsSpan().ToArray());

        using var value = SharedValue<long>.Create(UniqueName(), 77);
        using var sameValue = SharedValue<long>.Open(value.Name);
        Assert.Equal(77, sameValue.Value);
    }

    [Fact]
    public void OutOfRangeAccess_Throws()
    {
        using var array = SharedArray<long>.Create(UniqueName(), 8);
        Assert.Throws<ArgumentOutOfRangeException>(() => array[-1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => array[8]);
        Assert.Throws<ArgumentOutOfRangeException>(() => array.AsSpan(4, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => array.AtomicAdd(8, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => array.WaitForChange(-1, 0, TimeSpan.Zero));
        Assert.Throws<IndexOutOfRangeException>(() => array.AsSpan()[8]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a/b")]
    [InlineData("../x")]
    [InlineData("x@1")]
    [InlineData("has space")]
    public void InvalidNames_AreArgumentExceptions(string name)
    {
        Assert.Throws<ArgumentException>(() => SharedArray<int>.Create(name, 1));
        Assert.Throws<ArgumentException>(() => SharedArray<int>.Open(name));
    }

    [Fact]
    public void Create_WhileALiveHolderHasTheName_Throws_AndLeavesItAlone()
    {
        var name = UniqueName();
        using var live = SharedValue<long>.Create(name, 5);
        var error = Assert.Throws<IOException>(() => SharedValue<long>.Create(name));
        Assert.Contains("already exists", error.Message, StringComparison.Ordinal);
        Assert.Equal(5, live.Value);
        Assert.Equal(1, live.Array.HolderCount);
    }

    [Fact]
    public void SymbolicLinkAtTheName_IsNeverFollowed()
    {
        var name = UniqueName();
        var target = Path.Combine(TempDirectory, "target");
        File.WriteAllText(target, "keep");
        File.CreateSymbolicLink(PathOf(name), target);
        try
        {
            var error = Assert.Throws<IOException>(() => SharedArray<int>.Open(name));
            Assert.Contains("symbolic link", error.Message, StringComparison.Ordinal);
            Assert.Throws<IOException>(() => SharedArray<int>.Create(name, 4));
            Assert.Equal("keep", File.ReadAllText(target));
        }
        finally
        {
            File.Delete(PathOf(name));
        }
    }

    [Fact]
    public async Task Lock_TimesOut_Cancels_AndASecondReleaseThrows()
    {
        using var value = SharedValue<int>.Create(UniqueName());
        var scope = value.Lock();
        Assert.False(scope.PreviousOwnerDied);

        // The lock is the process's: another thread of the same process waits like another process would.
        var contender = await Bounded(Task.Run(() => value.TryLock(out _)));
        Assert.False(contender);
        var stopwatch = Stopwatch.StartNew();
        await Assert.ThrowsAsync<TimeoutException>(() => Task.Run(() => value.Lock(TimeSpan.FromMilliseconds(200))));
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromMilliseconds(190), $"gave up after {stopwatch.Elapsed}");
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.Run(() => value.Lock(Timeout.InfiniteTimeSpan, cancel.Token)));

        // Released on another thread than the one that took it (what an await does to a scope).
        await Bounded(Task.Run(scope.Dispose));
        Assert.Throws<SynchronizationLockException>(scope.Dispose);
        Assert.True(value.TryLock(out var again));
        again.Dispose();
        default(SharedLockScope).Dispose();
    }

    [Fact]
    public void Dispose_WithALockScopeStillOpen_ReleasesTheLock()
    {
        var name = UniqueName();
        using var other = SharedValue<int>.Create(name);
        var handle = SharedValue<int>.Open(name);
        var scope = handle.Lock();
        handle.Dispose();

        Assert.True(other.TryLock(out var next), "the disposed handle's scope still holds the lock");
        Assert.False(next.PreviousOwnerDied);
        next.Dispose();
        Assert.Throws<ObjectDisposedException>(scope.Dispose);
    }

    [Fact]
    public async Task WaitForChange_SleepsUntilAnAtomicWrite_OnIntAndLong()
    {
        using var ints = SharedArray<int>.Create(UniqueName(), 4);
        using var longs = SharedArray<long>.Create(UniqueName(), 4);

        Assert.False(ints.WaitForChange(1, 0, TimeSpan.FromMilliseconds(50)));
        Assert.True(ints.WaitForChange(1, 5, TimeSpan.Zero), "the element already differs: no wait");

        var waitInt = Task.Run(() => ints.WaitForChange(2, 0, TimeSpan.FromSeconds(30)));
        var waitLong = Task.Run(() => longs.WaitForChange(3, 0, TimeSpan.FromSeconds(30)));
        await WaitUntilAsync(() => !waitInt.IsCompleted && !waitLong.IsCompleted, TimeSpan.FromSeconds(1));
        Assert.Equal(0, ints.AtomicExchange(2, 9));

        // Only the high half changes: the wait still ends.
        Assert.Equal(0, longs.AtomicCompareExchange(3, 1L << 40, 0));
        Assert.True(await Bounded(waitInt));
        Assert.True(await Bounded(waitLong));
        Assert.Equal(9, ints.AtomicRead(2));
        Assert.Equal(1L << 40, longs.AtomicRead(3));
        Assert.Equal((1L << 40) + 2, longs.AtomicAdd(3, 2));
    }
}
