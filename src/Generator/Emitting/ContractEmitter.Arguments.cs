using System.Linq;
using Rpc.Generator.Model;

namespace Rpc.Generator.Emitting;

internal sealed partial class ContractEmitter
{
    // private readonly struct AddArguments : global::Rpc.Runtime.IRpcArguments<AddArguments>
    // {
    //     public readonly int a;
    //     public AddArguments(int a) { this.a = a; }
    //     public void Write(ref MessagePackWriter writer) { writer.WriteArrayHeader(1); RpcFormatters.Int32.Write(ref writer, this.a); }
    //     public static AddArguments Read(ref MessagePackReader reader) { ...EmitReadBody...; return new AddArguments(a); }
    //     public object?[] ToPositionalArray() => new object?[] { this.a };
    // }
    private void EmitArguments(MethodSpec method)
    {
        var name = method.MemberName + "Arguments";
        var parameters = method.Parameters;
        _writer.WriteLine($"private readonly struct {name} : {KnownTypeNames.IRpcArguments}<{name}>");
        _writer.OpenBlock();
        if (parameters.Count > 0)
        {
            foreach (var parameter in parameters)
            {
                _writer.WriteLine($"public readonly {parameter.Type.TypeName} {parameter.FieldName};");
            }

            _writer.WriteLine();
            _writer.WriteLine($"public {name}({string.Join(", ", parameters.Select(p => $"{p.Type.TypeName} {p.Identifier}"))})");
            _writer.OpenBlock();
            foreach (var parameter in parameters)
            {
                _writer.WriteLine($"this.{parameter.FieldName} = {parameter.Identifier};");
            }

            _writer.CloseBlock();
            _writer.WriteLine();
        }

        _writer.WriteLine($"public void Write(ref {KnownTypeNames.MessagePackWriter} writer)");
        _writer.OpenBlock();
        _writer.WriteLine($"writer.WriteArrayHeader({parameters.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)});");
        foreach (var parameter in parameters)
        {
            _writer.WriteLine($"{Formatter(parameter.Type, asNonNullable: false)}.Write(ref writer, this.{parameter.FieldName});");
        }

        _writer.CloseBlock();
        _writer.WriteLine();

        var names = method.ReadNames;
        _writer.WriteLine($"public static {name} Read(ref {KnownTypeNames.MessagePackReader} {names.Reader})");
        _writer.OpenBlock();
        EmitReadBody(names, parameters.Select(p => (p.Identifier, p.Type)).ToArray());
        var arguments = string.Join(", ", parameters.Select(p => Checked(p.Identifier, p.Name, p.Type.RequiresNotNull)));
        _writer.WriteLine($"return new {name}({arguments});");
        _writer.CloseBlock();
        _writer.WriteLine();

        var positional = parameters.Count == 0
            ? "global::System.Array.Empty<object?>()"
            : $"new object?[] {{ {string.Join(", ", parameters.Select(p => "this." + p.FieldName))} }}";
        _writer.WriteLine($"public object?[] ToPositionalArray() => {positional};");
        _writer.CloseBlock();
    }
}
