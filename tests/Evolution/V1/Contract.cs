using System.Threading.Tasks;

namespace Rpc.Evolution;

// The old contract. tests/Evolution/V2/Contract.cs is the same contract after the changes a team makes over time;
// each member says what V2 changed. The Describe methods answer with what the server read, so a test sees both what
// arrived and (through the Echo methods) what the caller reads back.

/// <summary>The contract as the old peer was built.</summary>
[RpcContract]
public interface IInventory
{
    /// <summary>Unchanged in V2.</summary>
    Task<string> PingAsync(string text);

    /// <summary>V2 appends <c>Priority</c> and <c>Note</c> to <see cref="Item"/>.</summary>
    Task<string> DescribeItemAsync(Item item);

    /// <summary>Returns <paramref name="item"/> as read.</summary>
    Task<Item> EchoItemAsync(Item item);

    /// <summary>V2 appends the non-nullable <c>Owner</c> to <see cref="Tag"/>.</summary>
    Task<string> DescribeTagAsync(Tag tag);

    /// <summary>V2 removes the middle member <see cref="Parcel.WeightGrams"/>.</summary>
    Task<string> DescribeParcelAsync(Parcel parcel);

    /// <summary>Returns <paramref name="parcel"/> as read.</summary>
    Task<Parcel> EchoParcelAsync(Parcel parcel);

    /// <summary>V2 removes the last member <see cref="Label.Comment"/>.</summary>
    Task<string> DescribeLabelAsync(Label label);

    /// <summary>Returns <paramref name="label"/> as read.</summary>
    Task<Label> EchoLabelAsync(Label label);

    /// <summary>V2 appends the parameter <c>bool express</c>.</summary>
    Task<string> ReserveAsync(string sku, int quantity);

    /// <summary>V2 appends the non-nullable parameter <c>string printer</c>.</summary>
    Task<string> PrintAsync(string sku);

    /// <summary>V2 adds <c>Shade.Blue</c>.</summary>
    Task<string> DescribeShadeAsync(Shade shade);

    /// <summary>Returns <paramref name="shade"/> as read.</summary>
    Task<Shade> EchoShadeAsync(Shade shade);
}

/// <summary>V2 appends <c>int Priority</c> and <c>string? Note</c>.</summary>
public sealed record Item(string Name, int Quantity);

/// <summary>V2 appends <c>string Owner</c> (not nullable).</summary>
public sealed record Tag(string Name);

/// <summary>V2 removes <see cref="WeightGrams"/>, a middle member.</summary>
public sealed record Parcel(string Id, int WeightGrams, int Count);

/// <summary>V2 removes <see cref="Comment"/>, the last member.</summary>
public sealed record Label(string Text, string? Comment);

/// <summary>V2 adds <c>Blue</c>.</summary>
public enum Shade
{
    /// <summary>Red.</summary>
    Red = 0,

    /// <summary>Green.</summary>
    Green = 1,
}

/// <summary>The old server: reports exactly what it read.</summary>
public sealed class Inventory : IInventory
{
    /// <inheritdoc />
    public Task<string> PingAsync(string text) => Task.FromResult($"v1:{text}");

    /// <inheritdoc />
    public Task<string> DescribeItemAsync(Item item) => Task.FromResult($"Name={item.Name} Quantity={item.Quantity}");

    /// <inheritdoc />
    public Task<Item> EchoItemAsync(Item item) => Task.FromResult(item);

    /// <inheritdoc />
    public Task<string> DescribeTagAsync(Tag tag) => Task.FromResult($"Name={tag.Name}");

    /// <inheritdoc />
    public Task<string> DescribeParcelAsync(Parcel parcel) => Task.FromResult($"Id={parcel.Id} WeightGrams={parcel.WeightGrams} Count={parcel.Count}");

    /// <inheritdoc />
    public Task<Parcel> EchoParcelAsync(Parcel parcel) => Task.FromResult(parcel);

    /// <inheritdoc />
    public Task<string> DescribeLabelAsync(Label label) => Task.FromResult($"Text={label.Text} Comment={label.Comment ?? "<null>"}");

    /// <inheritdoc />
    public Task<Label> EchoLabelAsync(Label label) => Task.FromResult(label);

    /// <inheritdoc />
    public Task<string> ReserveAsync(string sku, int quantity) => Task.FromResult($"{sku} x{quantity}");

    /// <inheritdoc />
    public Task<string> PrintAsync(string sku) => Task.FromResult($"{sku}");

    /// <inheritdoc />
    public Task<string> DescribeShadeAsync(Shade shade) => Task.FromResult($"{(int)shade}:{shade}");

    /// <inheritdoc />
    public Task<Shade> EchoShadeAsync(Shade shade) => Task.FromResult(shade);
}
