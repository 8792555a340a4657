using System;
using System.Threading;

namespace Rpc.Tests;

/// <summary>Bounds every wait in a test: nothing here may hang the run.</summary>
public abstract class TestBase : IDisposable
{
    /// <summary>Long enough for a loaded 2-core CI machine, short enough that a hang fails fast.</summary>
    protected static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly CancellationTokenSource _timeout = new(Timeout);

    /// <summary>Gets a token that fires when the test has run too long.</summary>
    protected CancellationToken TimeoutToken => _timeout.Token;

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            _timeout.Dispose();
        }
    }
}
