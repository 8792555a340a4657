using System;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Evolution.Tests;

/// <summary>The old (V1) and the new (V2) server processes, started once for all the tests of a class.</summary>
public sealed class PeersFixture : IAsyncLifetime
{
    public PeerProcess Old { get; private set; } = null!;

    public PeerProcess New { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        // Generous: two cold .NET processes start at once on a loaded 2-core machine.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var old = PeerProcess.StartAsync("V1", timeout.Token);
        var @new = PeerProcess.StartAsync("V2", timeout.Token);
        try
        {
            await Task.WhenAll(old, @new);
        }
        catch
        {
            // Whichever started is stopped here: xunit does not dispose a fixture whose initialization failed.
            if (old.IsCompletedSuccessfully)
            {
                await old.Result.DisposeAsync();
            }

            if (@new.IsCompletedSuccessfully)
            {
                await @new.Result.DisposeAsync();
            }

            throw;
        }

        Old = old.Result;
        New = @new.Result;
    }

    public async Task DisposeAsync()
    {
        try
        {
            await Old.DisposeAsync();
        }
        finally
        {
            await New.DisposeAsync();
        }
    }
}
