using Microsoft.CodeAnalysis;

namespace Rpc.Generator.Parsing;

/// <summary>The well-known types of one compilation, resolved once per parse.</summary>
internal sealed class KnownSymbols
{
    public KnownSymbols(Compilation compilation)
    {
        RpcMethodAttribute = compilation.GetTypeByMetadataName(KnownTypeNames.RpcMethodAttribute);
        RpcIdempotentAttribute = compilation.GetTypeByMetadataName(KnownTypeNames.RpcIdempotentAttribute);
        RpcTimeoutAttribute = compilation.GetTypeByMetadataName(KnownTypeNames.RpcTimeoutAttribute);
        RpcBuffer = compilation.GetTypeByMetadataName(KnownTypeNames.RpcBuffer);
        SharedArrayOfT = compilation.GetTypeByMetadataName(KnownTypeNames.SharedArrayOfT);
        SharedArraySliceOfT = compilation.GetTypeByMetadataName(KnownTypeNames.SharedArraySliceOfT);
        Task = compilation.GetTypeByMetadataName(KnownTypeNames.Task);
        TaskOfT = compilation.GetTypeByMetadataName(KnownTypeNames.TaskOfT);
        ValueTask = compilation.GetTypeByMetadataName(KnownTypeNames.ValueTask);
        ValueTaskOfT = compilation.GetTypeByMetadataName(KnownTypeNames.ValueTaskOfT);
        IAsyncEnumerableOfT = compilation.GetTypeByMetadataName(KnownTypeNames.IAsyncEnumerableOfT);
        CancellationToken = compilation.GetTypeByMetadataName(KnownTypeNames.CancellationToken);
        DateTimeOffset = compilation.GetTypeByMetadataName(KnownTypeNames.DateTimeOffset);
        TimeSpan = compilation.GetTypeByMetadataName(KnownTypeNames.TimeSpan);
        Guid = compilation.GetTypeByMetadataName(KnownTypeNames.Guid);
        ReadOnlyMemoryOfT = compilation.GetTypeByMetadataName(KnownTypeNames.ReadOnlyMemoryOfT);
        MemoryOfT = compilation.GetTypeByMetadataName(KnownTypeNames.MemoryOfT);
        ListOfT = compilation.GetTypeByMetadataName(KnownTypeNames.ListOfT);
        IListOfT = compilation.GetTypeByMetadataName(KnownTypeNames.IListOfT);
        IReadOnlyListOfT = compilation.GetTypeByMetadataName(KnownTypeNames.IReadOnlyListOfT);
        ICollectionOfT = compilation.GetTypeByMetadataName(KnownTypeNames.ICollectionOfT);
        IReadOnlyCollectionOfT = compilation.GetTypeByMetadataName(KnownTypeNames.IReadOnlyCollectionOfT);
        IEnumerableOfT = compilation.GetTypeByMetadataName(KnownTypeNames.IEnumerableOfT);
        HashSetOfT = compilation.GetTypeByMetadataName(KnownTypeNames.HashSetOfT);
        ISetOfT = compilation.GetTypeByMetadataName(KnownTypeNames.ISetOfT);
        IReadOnlySetOfT = compilation.GetTypeByMetadataName(KnownTypeNames.IReadOnlySetOfT);
        DictionaryOfTKeyTValue = compilation.GetTypeByMetadataName(KnownTypeNames.DictionaryOfTKeyTValue);
        IDictionaryOfTKeyTValue = compilation.GetTypeByMetadataName(KnownTypeNames.IDictionaryOfTKeyTValue);
        IReadOnlyDictionaryOfTKeyTValue = compilation.GetTypeByMetadataName(KnownTypeNames.IReadOnlyDictionaryOfTKeyTValue);
    }

    public INamedTypeSymbol? RpcMethodAttribute { get; }

    public INamedTypeSymbol? RpcIdempotentAttribute { get; }

    public INamedTypeSymbol? RpcTimeoutAttribute { get; }

    public INamedTypeSymbol? RpcBuffer { get; }

    public INamedTypeSymbol? SharedArrayOfT { get; }

    public INamedTypeSymbol? SharedArraySliceOfT { get; }

    public INamedTypeSymbol? Task { get; }

    public INamedTypeSymbol? TaskOfT { get; }

    public INamedTypeSymbol? ValueTask { get; }

    public INamedTypeSymbol? ValueTaskOfT { get; }

    public INamedTypeSymbol? IAsyncEnumerableOfT { get; }

    public INamedTypeSymbol? CancellationToken { get; }

    public INamedTypeSymbol? DateTimeOffset { get; }

    public INamedTypeSymbol? TimeSpan { get; }

    public INamedTypeSymbol? Guid { get; }

    public INamedTypeSymbol? ReadOnlyMemoryOfT { get; }

    public INamedTypeSymbol? MemoryOfT { get; }

    public INamedTypeSymbol? ListOfT { get; }

    public INamedTypeSymbol? IListOfT { get; }

    public INamedTypeSymbol? IReadOnlyListOfT { get; }

    public INamedTypeSymbol? ICollectionOfT { get; }

    public INamedTypeSymbol? IReadOnlyCollectionOfT { get; }

    public INamedTypeSymbol? IEnumerableOfT { get; }

    public INamedTypeSymbol? HashSetOfT { get; }

    public INamedTypeSymbol? ISetOfT { get; }

    public INamedTypeSymbol? IReadOnlySetOfT { get; }

    public INamedTypeSymbol? DictionaryOfTKeyTValue { get; }

    public INamedTypeSymbol? IDictionaryOfTKeyTValue { get; }

    public INamedTypeSymbol? IReadOnlyDictionaryOfTKeyTValue { get; }

    public static bool Is(ITypeSymbol? type, INamedTypeSymbol? known) =>
        known is not null && type is not null && SymbolEqualityComparer.Default.Equals(type.OriginalDefinition, known);
}
