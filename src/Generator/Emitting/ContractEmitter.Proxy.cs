using System.Collections.Generic;
using System.Linq;
using Rpc.Generator.Model;

namespace Rpc.Generator.Emitting;

internal sealed partial class ContractEmitter
{
    // private sealed class Proxy : global::Demo.ICalculator
    // {
    //     private readonly global::Rpc.Runtime.IRpcInvoker _invoker;
    //     public Proxy(global::Rpc.Runtime.IRpcInvoker invoker) => this._invoker = invoker;
    //
    //     global::System.Threading.Tasks.Task<int> global::Demo.ICalculator.AddAsync(int a, int b, CancellationToken cancellationToken) =>
    //         this._invoker.InvokeAsync(MethodTable.Add, new AddArguments(a, b), RpcFormatters.Int32, cancellationToken);
    // }
    private void EmitProxy()
    {
        _writer.WriteLine($"private sealed class {Names.Proxy} : {_contract.InterfaceTypeName}");
        _writer.OpenBlock();
        _writer.WriteLine($"private readonly {KnownTypeNames.IRpcInvoker} _invoker;");
        _writer.WriteLine();
        _writer.WriteLine($"public {Names.Proxy}({KnownTypeNames.IRpcInvoker} invoker) => this._invoker = invoker;");
        foreach (var method in _contract.Methods)
        {
            _writer.WriteLine();
            var signature = new List<string>(method.Parameters.Select(p => $"{p.Type.TypeName} {p.Identifier}"));
            if (method.CancellationTokenName is { } token)
            {
                signature.Add($"{KnownTypeNames.CancellationTokenGlobal} {token}");
            }

            var row = $"{Names.MethodTable}.{method.MemberName}";
            var arguments = $"new {method.MemberName}Arguments({string.Join(", ", method.Parameters.Select(p => p.Identifier))})";
            var cancellation = method.CancellationTokenName ?? "default";
            var call = method.ReturnKind switch
            {
                ReturnKind.Void => $"Notify({row}, {arguments})",
                ReturnKind.Task => $"InvokeAsync({row}, {arguments}, {cancellation})",
                ReturnKind.ValueTask => $"InvokeValueTaskAsync({row}, {arguments}, {cancellation})",
                ReturnKind.TaskOfT => $"InvokeAsync{ResultTypeArguments(method)}({row}, {arguments}, {Formatter(method.Result!)}, {cancellation})",
                ReturnKind.ValueTaskOfT => $"InvokeValueTaskAsync{ResultTypeArguments(method)}({row}, {arguments}, {Formatter(method.Result!)}, {cancellation})",
                _ => $"InvokeStreamAsync{ResultTypeArguments(method)}({row}, {arguments}, {Formatter(method.Result!)}, {cancellation})",
            };
            _writer.WriteLine($"{method.ReturnTypeName} {method.DeclaringInterfaceTypeName}.{method.MethodName}({string.Join(", ", signature)}) =>");
            _writer.WriteLine($"    this._invoker.{call};");
        }

        _writer.CloseBlock();
    }

    /// <summary>
    /// Explicit type arguments when the result is a non-nullable reference type: inferring from the formatter
    /// (an <c>RpcFormatter&lt;T?&gt;</c>) would make the call's result nullable.
    /// </summary>
    private static string ResultTypeArguments(MethodSpec method) =>
        method.Result is { RequiresNotNull: true } result ? $"<{method.MemberName}Arguments, {result.TypeName}>" : string.Empty;
}
