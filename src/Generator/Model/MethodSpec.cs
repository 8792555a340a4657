namespace Rpc.Generator.Model;

/// <summary>How a contract method returns.</summary>
internal enum ReturnKind
{
    /// <summary><c>void</c>: a notification.</summary>
    Void,

    /// <summary><c>Task</c>.</summary>
    Task,

    /// <summary><c>Task&lt;T&gt;</c>.</summary>
    TaskOfT,

    /// <summary><c>ValueTask</c>.</summary>
    ValueTask,

    /// <summary><c>ValueTask&lt;T&gt;</c>.</summary>
    ValueTaskOfT,

    /// <summary><c>IAsyncEnumerable&lt;T&gt;</c>: a server-to-client stream.</summary>
    Stream,
}

/// <summary>One row of the method table.</summary>
/// <param name="MethodName">The C# method name (escaped if it is a keyword).</param>
/// <param name="DeclaringInterfaceTypeName">The interface declaring it (the contract or a base), with <c>global::</c>.</param>
/// <param name="IsInherited">Whether a base interface declares it, so the stub calls it through that interface.</param>
/// <param name="MemberName">The stem of the generated names: <c>{MemberName}Id</c>, <c>{MemberName}</c>, <c>{MemberName}Arguments</c>.</param>
/// <param name="WireName">The name on the wire.</param>
/// <param name="Id">FNV-1a 32 of the UTF-8 wire name.</param>
/// <param name="ReturnKind">How the method returns.</param>
/// <param name="ReturnTypeName">The declared return type, fully qualified.</param>
/// <param name="Result">The <c>T</c> of <c>Task&lt;T&gt;</c>, <c>ValueTask&lt;T&gt;</c> or <c>IAsyncEnumerable&lt;T&gt;</c>.</param>
/// <param name="Parameters">The parameters without the cancellation token.</param>
/// <param name="CancellationTokenName">The cancellation token parameter's identifier, or <see langword="null"/>.</param>
/// <param name="ReadNames">Names of the locals of the generated arguments reader, clear of every parameter name.</param>
/// <param name="IsIdempotent">Whether <c>[RpcIdempotent]</c> marks the method safe to run again.</param>
/// <param name="TimeoutMilliseconds">The <c>[RpcTimeout]</c> of the method or its contract, or 0 for none.</param>
internal sealed record MethodSpec(
    string MethodName,
    string DeclaringInterfaceTypeName,
    bool IsInherited,
    string MemberName,
    string WireName,
    uint Id,
    ReturnKind ReturnKind,
    string ReturnTypeName,
    TypeSpec? Result,
    EquatableArray<ParameterSpec> Parameters,
    string? CancellationTokenName,
    ReaderNames ReadNames,
    bool IsIdempotent,
    int TimeoutMilliseconds);

/// <summary>One serialized parameter.</summary>
/// <param name="Name">The name as declared (what goes on the wire's parameter list).</param>
/// <param name="Identifier">The name as a C# identifier (<c>@class</c>).</param>
/// <param name="FieldName">The arguments struct's field, an identifier clear of the struct's own members.</param>
/// <param name="Type">The type.</param>
internal sealed record ParameterSpec(string Name, string Identifier, string FieldName, TypeSpec Type);

/// <summary>Names of the infrastructure locals in a generated reader, chosen clear of user names.</summary>
internal sealed record ReaderNames(string Reader, string Count, string Index);
