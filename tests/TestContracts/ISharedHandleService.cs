using System.Collections.Generic;
using System.Threading.Tasks;
using Rpc.SharedState;

namespace Rpc.Tests;

/// <summary>Shared arrays passed as handles: served by <see cref="SharedHandleService"/> in the test host.</summary>
[RpcContract]
public interface ISharedHandleService
{
    /// <summary>Adds <paramref name="delta"/> to every element in place; returns the holder count it saw (the caller's handle and its own).</summary>
    Task<int> AddInPlaceAsync(SharedArray<int> data, int delta);

    /// <summary>Negates the elements of the slice in place; returns how many.</summary>
    Task<int> NegateSliceAsync(SharedArraySlice<int> slice);

    /// <summary>Creates <paramref name="name"/> with element i = 3i, keeps it open (until <see cref="ReleaseSharedAsync"/>) and returns it.</summary>
    Task<SharedArray<int>> ShareAsync(string name, int length);

    /// <summary>Closes the arrays <see cref="ShareAsync"/> kept; returns how many.</summary>
    Task<int> ReleaseSharedAsync();
}

/// <summary>Disposes every received handle when done with it, as the receiver of a handle must.</summary>
public sealed class SharedHandleService : ISharedHandleService
{
    private readonly List<SharedArray<int>> _shared = [];

    /// <inheritdoc />
    public Task<int> AddInPlaceAsync(SharedArray<int> data, int delta)
    {
        using (data)
        {
            foreach (ref var element in data.AsSpan())
            {
                element += delta;
            }

            return Task.FromResult(data.HolderCount);
        }
    }

    /// <inheritdoc />
    public Task<int> NegateSliceAsync(SharedArraySlice<int> slice)
    {
        using (slice)
        {
            foreach (ref var element in slice.AsSpan())
            {
                element = -element;
            }

            return Task.FromResult(slice.Length);
        }
    }

    /// <inheritdoc />
    public Task<SharedArray<int>> ShareAsync(string name, int length)
    {
        var array = SharedArray<int>.Create(name, length);
        var span = array.AsSpan();
        for (var i = 0; i < span.Length; i++)
        {
            span[i] = 3 * i;
        }

        lock (_shared)
        {
            _shared.Add(array);
        }

        return Task.FromResult(array);
    }

    /// <inheritdoc />
    public Task<int> ReleaseSharedAsync()
    {
        lock (_shared)
        {
            _shared.ForEach(array => array.Dispose());
            var count = _shared.Count;
            _shared.Clear();
            return Task.FromResult(count);
        }
    }
}
