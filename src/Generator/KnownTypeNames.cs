namespace Rpc.Generator;

/// <summary>Metadata names of every type the generator recognizes, in one place.</summary>
internal static class KnownTypeNames
{
    public const string RpcContractAttribute = "Rpc.RpcContractAttribute";
    public const string RpcMethodAttribute = "Rpc.RpcMethodAttribute";
    public const string RpcIdempotentAttribute = "Rpc.RpcIdempotentAttribute";
    public const string RpcTimeoutAttribute = "Rpc.RpcTimeoutAttribute";
    public const string RpcBuffer = "Rpc.RpcBuffer";
    public const string SharedArrayOfT = "Rpc.SharedState.SharedArray`1";
    public const string SharedArraySliceOfT = "Rpc.SharedState.SharedArraySlice`1";

    public const string Task = "System.Threading.Tasks.Task";
    public const string TaskOfT = "System.Threading.Tasks.Task`1";
    public const string ValueTask = "System.Threading.Tasks.ValueTask";
    public const string ValueTaskOfT = "System.Threading.Tasks.ValueTask`1";
    public const string IAsyncEnumerableOfT = "System.Collections.Generic.IAsyncEnumerable`1";
    public const string CancellationToken = "System.Threading.CancellationToken";

    public const string DateTimeOffset = "System.DateTimeOffset";
    public const string TimeSpan = "System.TimeSpan";
    public const string Guid = "System.Guid";
    public const string ReadOnlyMemoryOfT = "System.ReadOnlyMemory`1";
    public const string MemoryOfT = "System.Memory`1";

    public const string ListOfT = "System.Collections.Generic.List`1";
    public const string IListOfT = "System.Collections.Generic.IList`1";
    public const string IReadOnlyListOfT = "System.Collections.Generic.IReadOnlyList`1";
    public const string ICollectionOfT = "System.Collections.Generic.ICollection`1";
    public const string IReadOnlyCollectionOfT = "System.Collections.Generic.IReadOnlyCollection`1";
    public const string IEnumerableOfT = "System.Collections.Generic.IEnumerable`1";
    public const string HashSetOfT = "System.Collections.Generic.HashSet`1";
    public const string ISetOfT = "System.Collections.Generic.ISet`1";
    public const string IReadOnlySetOfT = "System.Collections.Generic.IReadOnlySet`1";
    public const string DictionaryOfTKeyTValue = "System.Collections.Generic.Dictionary`2";
    public const string IDictionaryOfTKeyTValue = "System.Collections.Generic.IDictionary`2";
    public const string IReadOnlyDictionaryOfTKeyTValue = "System.Collections.Generic.IReadOnlyDictionary`2";

    // Written into generated code (always with global::).
    public const string GeneratedCodeAttribute = "global::System.CodeDom.Compiler.GeneratedCode";
    public const string RpcContractBase = "global::Rpc.Runtime.RpcContract";
    public const string RpcMethod = "global::Rpc.Runtime.RpcMethod";
    public const string RpcMethodKind = "global::Rpc.Runtime.RpcMethodKind";
    public const string IRpcInvoker = "global::Rpc.Runtime.IRpcInvoker";
    public const string IRpcArguments = "global::Rpc.Runtime.IRpcArguments";
    public const string RpcStub = "global::Rpc.Runtime.RpcStub";
    public const string RpcServerCall = "global::Rpc.Runtime.RpcServerCall";
    public const string IRpcDelegateRegistry = "global::Rpc.Runtime.IRpcDelegateRegistry";
    public const string RpcDelegateTarget = "global::Rpc.Runtime.RpcDelegateTarget";
    public const string RpcContractRegistry = "global::Rpc.Runtime.RpcContractRegistry";
    public const string RpcFormatter = "global::Rpc.Serialization.RpcFormatter";
    public const string RpcFormatters = "global::Rpc.Serialization.RpcFormatters";
    public const string UntrustedData = "global::Rpc.Serialization.UntrustedData";
    public const string NullableFormatter = "global::Rpc.Serialization.NullableFormatter";
    public const string ArrayFormatter = "global::Rpc.Serialization.ArrayFormatter";
    public const string ListFormatter = "global::Rpc.Serialization.ListFormatter";
    public const string HashSetFormatter = "global::Rpc.Serialization.HashSetFormatter";
    public const string DictionaryFormatter = "global::Rpc.Serialization.DictionaryFormatter";
    public const string EnumFormatter = "global::Rpc.Serialization.EnumFormatter";
    public const string SharedArrayFormatter = "global::Rpc.Serialization.SharedArrayFormatter";
    public const string SharedArraySliceFormatter = "global::Rpc.Serialization.SharedArraySliceFormatter";
    public const string MessagePackWriter = "global::MessagePack.MessagePackWriter";
    public const string MessagePackReader = "global::MessagePack.MessagePackReader";
    public const string ImmutableArray = "global::System.Collections.Immutable.ImmutableArray";
    public const string ModuleInitializerAttribute = "global::System.Runtime.CompilerServices.ModuleInitializer";
    public const string CancellationTokenGlobal = "global::System.Threading.CancellationToken";
    public const string Func = "global::System.Func";
    public const string Action = "global::System.Action";
}
