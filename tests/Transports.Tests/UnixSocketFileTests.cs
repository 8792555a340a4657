using System;
using System.Diagnostics;
using System.IO;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Threading.Tasks;
using Rpc.Transports.Internal.Sockets;
using Xunit;

namespace Rpc.Transports.Tests;

[SupportedOSPlatform("linux")]
public sealed class UnixSocketFileTests : TestBase
{
    internal const string OtherUser = "rpc-other";

    [Fact]
    public async Task Listen_CreatesOwnerOnlySocketFile_AndDisposeRemovesIt()
    {
        var listener = await Bounded(RpcTransports.ListenAsync(UnixEndpoint(), null, TimeoutToken));
        Assert.Equal(UnixEndpoint(), listener.Endpoint);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SocketPath()));

        await listener.DisposeAsync();
        await listener.DisposeAsync();
        Assert.False(File.Exists(SocketPath()));
    }

    [Fact]
    public async Task Listen_CreatesMissingParentDirectoryOwnerOnly()
    {
        var endpoint = "unix://" + Path.Combine(TempDirectory, "run", "s.sock");
        await using var listener = await Bounded(RpcTransports.ListenAsync(endpoint, null, TimeoutToken));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(TempDirectory, "run")));
    }

    [Fact]
    public async Task Listen_ReclaimsStaleSocketFile()
    {
        // A server that died without unlinking: bound, never removed (this endpoint type keeps .NET from deleting it).
        using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            dead.Bind(new UnixEndPointWithoutCleanup(SocketPath()));
        }

        Assert.True(File.Exists(SocketPath()), "the stale socket file should remain after its socket closed");

        await using var listener = await Bounded(RpcTransports.ListenAsync(UnixEndpoint(), null, TimeoutToken));
        var (client, server) = await ConnectPairAsync(listener);
        await client.DisposeAsync();
        await server.DisposeAsync();
    }

    [Fact]
    public async Task Listen_NeverTakesOverALiveServer()
    {
        await using var live = await Bounded(RpcTransports.ListenAsync(UnixEndpoint(), null, TimeoutToken));

        var error = await Assert.ThrowsAsync<IOException>(() => Bounded(RpcTransports.ListenAsync(UnixEndpoint(), null, TimeoutToken)));
        Assert.Contains("Another server is listening", error.Message, StringComparison.Ordinal);
        Assert.Contains(SocketPath(), error.Message, StringComparison.Ordinal);

        // The live server keeps its file and still accepts (the probe connection is accepted first, then ours).
        Assert.True(File.Exists(SocketPath()));
        var probe = await Bounded(live.AcceptAsync(TimeoutToken));
        await probe!.DisposeAsync();
        var (client, server) = await ConnectPairAsync(live);
        await client.DisposeAsync();
        await server.DisposeAsync();
    }

    [Fact]
    public async Task Listen_RefusesToReplaceAFileThatIsNotASocket()
    {
        await File.WriteAllTextAsync(SocketPath(), "precious", TimeoutToken);

        var error = await Assert.ThrowsAsync<IOException>(() => Bounded(RpcTransports.ListenAsync(UnixEndpoint(), null, TimeoutToken)));
        Assert.Contains("not a socket", error.Message, StringComparison.Ordinal);
        Assert.Equal("precious", await File.ReadAllTextAsync(SocketPath(), TimeoutToken));
    }

    [Fact]
    public async Task Dispose_LeavesASocketFileThatReplacedOurs()
    {
        var listener = await Bounded(RpcTransports.ListenAsync(UnixEndpoint(), null, TimeoutToken));
        File.Delete(SocketPath());
        using var successor = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        successor.Bind(new UnixEndPointWithoutCleanup(SocketPath()));

        await listener.DisposeAsync();
        Assert.True(File.Exists(SocketPath()), "the listener removed a socket file it did not create");
    }

    [Fact]
    public async Task PathLongerThanSunPath_IsAClearArgumentException()
    {
        var endpoint = "unix:///tmp/" + new string('a', 120) + ".sock";
        var error = await Assert.ThrowsAsync<ArgumentException>(() => Bounded(RpcTransports.ListenAsync(endpoint, null, TimeoutToken)));
        Assert.Contains("107 bytes", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => Bounded(RpcTransports.ConnectAsync(endpoint, null, TimeoutToken)));
    }

    [OtherUserFact]
    public async Task StaleSocketOwnedByAnotherUser_IsNotRemoved()
    {
        using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            dead.Bind(new UnixEndPointWithoutCleanup(SocketPath()));
        }

        Assert.Equal(0, Run("chown", OtherUser, SocketPath()).ExitCode);
        var error = await Assert.ThrowsAsync<IOException>(() => Bounded(RpcTransports.ListenAsync(UnixEndpoint(), null, TimeoutToken)));
        Assert.Contains("owned by uid", error.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(SocketPath()));
    }

    [OtherUserFact]
    public async Task AnotherUser_CannotConnect()
    {
        // The directory must be enterable by the other user so that only the socket's own mode is under test.
        File.SetUnixFileMode(TempDirectory, (UnixFileMode)Convert.ToInt32("755", 8));
        await using var listener = await Bounded(RpcTransports.ListenAsync(UnixEndpoint(), null, TimeoutToken));

        var refused = ConnectAs(OtherUser, SocketPath());
        Assert.True(refused.ExitCode == 3, $"the other user was not refused: exit {refused.ExitCode}, {refused.Output}");
        Assert.Contains("Permission denied", refused.Output, StringComparison.Ordinal);

        // Control: with the mode opened up, the same command connects, so the refusal above came from the 0600 mode.
        File.SetUnixFileMode(SocketPath(), (UnixFileMode)Convert.ToInt32("666", 8));
        var allowed = ConnectAs(OtherUser, SocketPath());
        Assert.True(allowed.ExitCode == 0, $"control connect failed: exit {allowed.ExitCode}, {allowed.Output}");
        var accepted = await Bounded(listener.AcceptAsync(TimeoutToken));
        await accepted!.DisposeAsync();
    }

    private static (int ExitCode, string Output) ConnectAs(string user, string path) =>
        Run("runuser", "-u", user, "--", "perl", "-MSocket", "-e",
            "socket(my $s, PF_UNIX, SOCK_STREAM, 0) or die \"socket: $!\"; if (connect($s, pack_sockaddr_un($ARGV[0]))) { print \"connected\\n\"; exit 0 } print \"refused: $!\\n\"; exit 3",
            path);

    /// <summary>
    /// Only checks for the second user; never creates it (<c>.ci/run</c> does, before the tests): a test run must not
    /// change the machine's accounts.
    /// </summary>
    internal static bool OtherUserIsReady(out string why)
    {
        why = string.Empty;
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
        {
            why = "needs Linux and root to act as a second user";
            return false;
        }

        if (!File.Exists("/usr/sbin/runuser") || !File.Exists("/usr/bin/perl"))
        {
            why = "needs runuser and perl to connect as a second user";
            return false;
        }

        if (Run("id", "-u", OtherUser).ExitCode != 0)
        {
            why = $"user '{OtherUser}' does not exist; .ci/run creates it (useradd --system --no-create-home {OtherUser})";
            return false;
        }

        return true;
    }

    internal static (int ExitCode, string Output) Run(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(10_000))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return (-1, "timed out");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}

/// <summary>
/// A fact that needs a second, unprivileged user: root bypasses file modes, so owner-only access can only be shown by
/// another account, <c>rpc-other</c>, which <c>.ci/run</c> creates. Skipped, saying why, where it is missing.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class OtherUserFactAttribute : FactAttribute
{
    public OtherUserFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "needs Linux";
        }
        else if (!UnixSocketFileTests.OtherUserIsReady(out var why))
        {
            Skip = why;
        }
    }
}
