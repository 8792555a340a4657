using System.Collections.Generic;
using System.Linq;
using Rpc.Generator.Model;

namespace Rpc.Generator.Emitting;

internal sealed partial class ContractEmitter
{
    // private sealed class Stub : global::Rpc.Runtime.RpcStub
    // {
    //     private readonly global::Demo.ICalculator _implementation;
    //     public Stub(global::Demo.ICalculator implementation) : base(MethodTable.All) => this._implementation = implementation;
    //     public override void Dispatch(uint methodId, ref MessagePackReader arguments, RpcServerCall call) { switch ... }
    //     public override void AddDelegates(IRpcDelegateRegistry registry) =>
    //         Instance.AddDelegates(registry, RpcDelegateTarget<global::Demo.ICalculator>.For(this._implementation));
    // }
    private void EmitStub()
    {
        _writer.WriteLine($"private sealed class {Names.Stub} : {KnownTypeNames.RpcStub}");
        _writer.OpenBlock();
        _writer.WriteLine($"private readonly {_contract.InterfaceTypeName} _implementation;");
        _writer.WriteLine();
        _writer.WriteLine($"public {Names.Stub}({_contract.InterfaceTypeName} implementation)");
        _writer.WriteLine($"    : base({Names.MethodTable}.All) => this._implementation = implementation;");
        _writer.WriteLine();
        EmitDispatch();
        _writer.WriteLine();
        _writer.WriteLine($"public override void AddDelegates({KnownTypeNames.IRpcDelegateRegistry} registry) =>");
        _writer.WriteLine($"    Instance.AddDelegates(registry, {KnownTypeNames.RpcDelegateTarget}<{_contract.InterfaceTypeName}>.For(this._implementation));");
        _writer.CloseBlock();
    }

    // switch (methodId)
    // {
    //     case MethodTable.AddId:
    //     {
    //         var args = call.ReadArguments<AddArguments>(ref arguments);
    //         call.Complete(this._implementation.AddAsync(args.a, args.b, call.CancellationToken), RpcFormatters.Int32);
    //         return;
    //     }
    //     default:
    //         call.MethodNotFound();
    //         return;
    // }
    private void EmitDispatch()
    {
        _writer.WriteLine($"public override void Dispatch(uint methodId, ref {KnownTypeNames.MessagePackReader} arguments, {KnownTypeNames.RpcServerCall} call)");
        _writer.OpenBlock();
        _writer.WriteLine("switch (methodId)");
        _writer.OpenBlock();
        foreach (var method in _contract.Methods)
        {
            _writer.WriteLine($"case {Names.MethodTable}.{method.MemberName}Id:");
            _writer.OpenBlock();
            var read = $"call.ReadArguments<{method.MemberName}Arguments>(ref arguments);";
            _writer.WriteLine(method.Parameters.Count == 0 ? "_ = " + read : "var args = " + read);
            var callArguments = new List<string>(method.Parameters.Select(p => "args." + p.FieldName));
            if (method.CancellationTokenName is not null)
            {
                callArguments.Add("call.CancellationToken");
            }

            var invocation = $"{Target(method)}.{method.MethodName}({string.Join(", ", callArguments)})";
            switch (method.ReturnKind)
            {
                case ReturnKind.Void:
                    _writer.WriteLine(invocation + ";");
                    _writer.WriteLine("call.CompleteNotification();");
                    break;
                case ReturnKind.Task or ReturnKind.ValueTask:
                    _writer.WriteLine($"call.Complete({invocation});");
                    break;
                case ReturnKind.Stream:
                    _writer.WriteLine($"call.CompleteStream{StubTypeArgument(method)}({invocation}, {Formatter(method.Result!)});");
                    break;
                default:
                    _writer.WriteLine($"call.Complete{StubTypeArgument(method)}({invocation}, {Formatter(method.Result!)});");
                    break;
            }

            _writer.WriteLine("return;");
            _writer.CloseBlock();
            _writer.WriteLine();
        }

        _writer.WriteLine("""
            default:
                call.MethodNotFound();
                return;
            """);
        _writer.CloseBlock();
        _writer.CloseBlock();
    }

    // public override void AddDelegates(IRpcDelegateRegistry registry, RpcDelegateTarget<ICalculator> target)
    // {
    //     registry.Add(MethodTable.Add, new global::System.Func<int, int, CancellationToken, Task<int>>(
    //         (int a, int b, CancellationToken cancellationToken) => target.Invoke(implementation => implementation.AddAsync(a, b, cancellationToken))));
    // }
    // The target supplies the implementation of each call (shared, or made per call), so these delegates serve both.
    private void EmitAddDelegates()
    {
        // Captured or declared inside the lambdas, so clear of every parameter name of the contract.
        var taken = new HashSet<string>(_contract.Methods.SelectMany(m => m.Parameters.Select(p => p.Identifier.TrimStart('@'))));
        foreach (var method in _contract.Methods)
        {
            if (method.CancellationTokenName is { } name)
            {
                taken.Add(name.TrimStart('@'));
            }
        }

        var target = FreeName("target", taken);
        taken.Add(target);
        var implementation = FreeName("implementation", taken);

        _writer.WriteLine("/// <inheritdoc />");
        _writer.WriteLine($"public override void AddDelegates({KnownTypeNames.IRpcDelegateRegistry} registry, {KnownTypeNames.RpcDelegateTarget}<{_contract.InterfaceTypeName}> {target})");
        _writer.OpenBlock();
        foreach (var method in _contract.Methods)
        {
            var types = new List<string>(method.Parameters.Select(p => p.Type.TypeName));
            var lambdaParameters = new List<string>(method.Parameters.Select(p => $"{p.Type.TypeName} {p.Identifier}"));
            var callArguments = new List<string>(method.Parameters.Select(p => p.Identifier));
            if (method.CancellationTokenName is { } token)
            {
                types.Add(KnownTypeNames.CancellationTokenGlobal);
                lambdaParameters.Add($"{KnownTypeNames.CancellationTokenGlobal} {token}");
                callArguments.Add(token);
            }

            string delegateType;
            if (method.ReturnKind == ReturnKind.Void)
            {
                delegateType = types.Count == 0 ? KnownTypeNames.Action : $"{KnownTypeNames.Action}<{string.Join(", ", types)}>";
            }
            else
            {
                types.Add(method.ReturnTypeName);
                delegateType = $"{KnownTypeNames.Func}<{string.Join(", ", types)}>";
            }

            var invoke = method.ReturnKind switch
            {
                ReturnKind.Void => "InvokeNotification",
                ReturnKind.Stream => "InvokeStream",
                _ => "Invoke",
            };
            var receiver = method.IsInherited ? $"(({method.DeclaringInterfaceTypeName}){implementation})" : implementation;
            _writer.WriteLine($"registry.Add({Names.MethodTable}.{method.MemberName}, new {delegateType}(");
            _writer.WriteLine($"    ({string.Join(", ", lambdaParameters)}) => {target}.{invoke}({implementation} => {receiver}.{method.MethodName}({string.Join(", ", callArguments)}))));");
        }

        _writer.CloseBlock();
    }

    private static string FreeName(string preferred, HashSet<string> taken)
    {
        var name = preferred;
        while (taken.Contains(name))
        {
            name += "_";
        }

        return name;
    }

    /// <summary>The implementation, seen through the declaring interface when a base interface declares the method.</summary>
    private static string Target(MethodSpec method) =>
        method.IsInherited ? $"(({method.DeclaringInterfaceTypeName})this._implementation)" : "this._implementation";

    private static string StubTypeArgument(MethodSpec method) =>
        method.Result is { RequiresNotNull: true } result ? $"<{result.TypeName}>" : string.Empty;
}
