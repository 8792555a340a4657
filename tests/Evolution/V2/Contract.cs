using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Evolution;

// The new contract: tests/Evolution/V1/Contract.cs after the changes named on each member. Same namespace and names,
// so the same wire names and method ids.

/// <summary>The contract as the new peer was built.</summary>
[RpcContract]
public interface IInventory
{
    /// <summary>Unchanged.</summary>
    Task<string> PingAsync(string text);

    /// <summary><see cref="Item"/> gained two trailing members.</summary>
    Task<string> DescribeItemAsync(Item item);

    /// <summary>Returns <paramref name="item"/> as read.</summary>
    Task<Item> EchoItemAsync(Item item);

    /// <summary><see cref="Tag"/> gained a trailing non-nullable member.</summary>
    Task<string> DescribeTagAsync(Tag tag);

    /// <summary><see cref="Parcel"/> lost its middle member.</summary>
    Task<string> DescribeParcelAsync(Parcel parcel);

    /// <summary>Returns <paramref name="parcel"/> as read.</summary>
    Task<Parcel> EchoParcelAsync(Parcel parcel);

    /// <summary><see cref="Label"/> lost its last member.</summary>
    Task<string> DescribeLabelAsync(Label label);

    /// <summary>Returns <paramref name="label"/> as read.</summary>
    Task<Label> EchoLabelAsync(Label label);

    /// <summary>Appended <paramref name="express"/>.</summary>
    Task<string> ReserveAsync(string sku, int quantity, bool express);

    /// <summary>Appended the non-nullable <paramref name="printer"/>.</summary>
    Task<string> PrintAsync(string sku, string printer);

    /// <summary><see cref="Shade"/> gained <see cref="Shade.Blue"/>.</summary>
    Task<string> DescribeShadeAsync(Shade shade);

    /// <summary>Returns <paramref name="shade"/> as read.</summary>
    Task<Shade> EchoShadeAsync(Shade shade);

    /// <summary>Added in V2.</summary>
    Task<int> CountAsync();

    /// <summary>Added in V2: a stream.</summary>
    IAsyncEnumerable<int> RangeAsync(int count, CancellationToken cancellationToken = default);
}

/// <summary>Appended <see cref="Priority"/> and <see cref="Note"/>.</summary>
public sealed record Item(string Name, int Quantity, int Priority, string? Note);

/// <summary>Appended <see cref="Owner"/>, not nullable.</summary>
public sealed record Tag(string Name, string Owner);

/// <summary>Removed the middle member <c>int WeightGrams</c> (it was between <see cref="Id"/> and <see cref="Count"/>).</summary>
public sealed record Parcel(string Id, int Count);

/// <summary>Removed the last member <c>string? Comment</c>.</summary>
public sealed record Label(string Text);

/// <summary>Added <see cref="Blue"/>.</summary>
public enum Shade
{
    /// <summary>Red.</summary>
    Red = 0,

    /// <summary>Green.</summary>
    Green = 1,

    /// <summary>Added in V2.</summary>
    Blue = 2,
}

/// <summary>The new server: reports exactly what it read.</summary>
public sealed class Inventory : IInventory
{
    /// <inheritdoc />
    public Task<string> PingAsync(string text) => Task.FromResult($"v2:{text}");

    /// <inheritdoc />
    public Task<string> DescribeItemAsync(Item item) =>
        Task.FromResult($"Name={item.Name} Quantity={item.Quantity} Priority={item.Priority} Note={item.Note ?? "<null>"}");

    /// <inheritdoc />
    public Task<Item> EchoItemAsync(Item item) => Task.FromResult(item);

    /// <inheritdoc />
    public Task<string> DescribeTagAsync(Tag tag) => Task.FromResult($"Name={tag.Name} Owner={tag.Owner ?? "<null>"}");

    /// <inheritdoc />
    public Task<string> DescribeParcelAsync(Parcel parcel) => Task.FromResult($"Id={parcel.Id} Count={parcel.Count}");

    /// <inheritdoc />
    public Task<Parcel> EchoParcelAsync(Parcel parcel) => Task.FromResult(parcel);

    /// <inheritdoc />
    public Task<string> DescribeLabelAsync(Label label) => Task.FromResult($"Text={label.Text}");

    /// <inheritdoc />
    public Task<Label> EchoLabelAsync(Label label) => Task.FromResult(label);

    /// <inheritdoc />
    public Task<string> ReserveAsync(string sku, int quantity, bool express) => Task.FromResult($"{sku} x{quantity} express={express}");

    /// <inheritdoc />
    public Task<string> PrintAsync(string sku, string printer) => Task.FromResult($"{sku} on {printer ?? "<null>"}");

    /// <inheritdoc />
    public Task<string> DescribeShadeAsync(Shade shade) => Task.FromResult($"{(int)shade}:{shade}");

    /// <inheritdoc />
    public Task<Shade> EchoShadeAsync(Shade shade) => Task.FromResult(shade);

    /// <inheritdoc />
    public Task<int> CountAsync() => Task.FromResult(42);

    /// <inheritdoc />
    public async IAsyncEnumerable<int> RangeAsync(int count, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (var i = 0; i < count; i++)
        {
            await Task.Yield();
            yield return i;
        }
    }
}
