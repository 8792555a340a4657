using System.Globalization;
using System.Linq;
using Rpc.Generator.Model;

namespace Rpc.Generator.Emitting;

internal sealed partial class ContractEmitter
{
    // private static class Formatters
    // {
    //     public static readonly RpcFormatter<global::Demo.Point?> Point = new PointFormatter();
    //     public static readonly RpcFormatter<List<Point>?> ListOfPoint = new ListFormatter<List<Point>, Point>(Point!);
    // }
    private void EmitFormatters()
    {
        _writer.WriteLine($"private static class {Names.Formatters}");
        _writer.OpenBlock();
        foreach (var field in _contract.FormatterFields)
        {
            var initializer = field.Kind switch
            {
                FormatterFieldKind.Object => $"new {field.ObjectFormatterClass}()",
                FormatterFieldKind.Nullable => $"new {KnownTypeNames.NullableFormatter}<{field.Elements[0].TypeName}>({ElementFormatter(0)})",
                FormatterFieldKind.Array => $"new {KnownTypeNames.ArrayFormatter}<{field.Elements[0].TypeName}>({ElementFormatter(0)})",
                FormatterFieldKind.List => $"new {KnownTypeNames.ListFormatter}<{field.CollectionTypeName}, {field.Elements[0].TypeName}>({ElementFormatter(0)})",
                FormatterFieldKind.HashSet => $"new {KnownTypeNames.HashSetFormatter}<{field.CollectionTypeName}, {field.Elements[0].TypeName}>({ElementFormatter(0)})",
                _ => $"new {KnownTypeNames.DictionaryFormatter}<{field.CollectionTypeName}, {field.Elements[0].TypeName}, {field.Elements[1].TypeName}>({ElementFormatter(0)}, {ElementFormatter(1)})",
            };
            var declaration = $"public static readonly {KnownTypeNames.RpcFormatter}<{field.FormattedTypeName}> {field.Name} =";
            if (field.Kind == FormatterFieldKind.Object)
            {
                _writer.WriteLine($"{declaration} {initializer};");
            }
            else
            {
                _writer.WriteLine(declaration);
                _writer.WriteLine("    " + initializer + ";");
            }

            string ElementFormatter(int index) => Formatter(field.Elements[index], insideFormatters: true);
        }

        _writer.CloseBlock();
    }

    // // Members are written as a MessagePack array in declaration order: ...
    // private sealed class PointFormatter : global::Rpc.Serialization.RpcFormatter<global::Demo.Point?>
    // {
    //     public override void Write(ref MessagePackWriter writer, global::Demo.Point? value)
    //     {
    //         if (value is null) { writer.WriteNil(); return; }
    //         writer.WriteArrayHeader(3);
    //         RpcFormatters.Int32.Write(ref writer, value.X); ...
    //     }
    //
    //     public override global::Demo.Point? Read(ref MessagePackReader reader)
    //     {
    //         if (reader.TryReadNil()) { return null; }
    //         UntrustedData.EnterNested(ref reader);
    //         var count = UntrustedData.ReadArrayHeader(ref reader);
    //         int x = default; ...
    //         if (count > 0) x = RpcFormatters.Int32.Read(ref reader); ...
    //         for (var i = 3; i < count; i++) reader.Skip();
    //         UntrustedData.ExitNested(ref reader);
    //         return new global::Demo.Point(x, y) { Tag = tag };
    //     }
    // }
    private void EmitObjectFormatter(ObjectFormatterSpec formatter)
    {
        var formatted = formatter.IsValueType ? formatter.TypeName : formatter.TypeName + "?";
        var names = formatter.ReadNames;
        _writer.WriteLine("// Members are written as a MessagePack array in declaration order: add new members only at the end;");
        _writer.WriteLine("// readers skip extra trailing items and leave missing ones at their defaults.");
        _writer.WriteLine($"private sealed class {formatter.ClassName} : {KnownTypeNames.RpcFormatter}<{formatted}>");
        _writer.OpenBlock();

        _writer.WriteLine($"public override void Write(ref {KnownTypeNames.MessagePackWriter} writer, {formatted} value)");
        _writer.OpenBlock();
        if (!formatter.IsValueType)
        {
            _writer.WriteLine("""
                if (value is null)
                {
                    writer.WriteNil();
                    return;
                }

                """);
        }

        _writer.WriteLine($"writer.WriteArrayHeader({formatter.Members.Count.ToString(CultureInfo.InvariantCulture)});");
        foreach (var member in formatter.Members)
        {
            _writer.WriteLine($"{Formatter(member.Type, asNonNullable: false)}.Write(ref writer, value.{member.Name});");
        }

        _writer.CloseBlock();
        _writer.WriteLine();

        _writer.WriteLine($"public override {formatted} Read(ref {KnownTypeNames.MessagePackReader} {names.Reader})");
        _writer.OpenBlock();
        if (!formatter.IsValueType)
        {
            _writer.WriteLine($$"""
                if ({{names.Reader}}.TryReadNil())
                {
                    return null;
                }

                """);
        }

        _writer.WriteLine($"{KnownTypeNames.UntrustedData}.EnterNested(ref {names.Reader});");
        EmitReadBody(names, formatter.Members.Select(m => (m.LocalName, m.Type)).ToArray());
        _writer.WriteLine($"{KnownTypeNames.UntrustedData}.ExitNested(ref {names.Reader});");

        var arguments = string.Join(", ", formatter.ConstructorArguments.Select(index =>
        {
            var member = formatter.Members[index];
            return Checked(member.LocalName, member.DisplayName, member.RequiresNotNull);
        }));
        var initialized = formatter.Members.Where(m => m.IsInitialized).ToList();
        var construction = $"new {formatter.ConstructibleTypeName}({arguments})";
        if (initialized.Count > 0)
        {
            construction += " { " + string.Join(", ", initialized.Select(m => $"{m.Name} = {Checked(m.LocalName, m.DisplayName, m.RequiresNotNull)}")) + " }";
        }

        _writer.WriteLine($"return {construction};");
        _writer.CloseBlock();
        _writer.CloseBlock();
    }

    // var count = UntrustedData.ReadArrayHeader(ref reader);
    // int a = default;
    // if (count > 0) a = RpcFormatters.Int32.Read(ref reader);
    // for (var i = 1; i < count; i++) reader.Skip();
    private void EmitReadBody(ReaderNames names, (string Local, TypeSpec Type)[] values)
    {
        _writer.WriteLine($"var {names.Count} = {KnownTypeNames.UntrustedData}.ReadArrayHeader(ref {names.Reader});");
        foreach (var (local, type) in values)
        {
            _writer.WriteLine($"{type.LocalTypeName} {local} = default;");
        }

        for (var i = 0; i < values.Length; i++)
        {
            var (local, type) = values[i];
            _writer.WriteLine($"if ({names.Count} > {i.ToString(CultureInfo.InvariantCulture)}) {local} = {Formatter(type, asNonNullable: false)}.Read(ref {names.Reader});");
        }

        _writer.WriteLine($"for (var {names.Index} = {values.Length.ToString(CultureInfo.InvariantCulture)}; {names.Index} < {names.Count}; {names.Index}++) {names.Reader}.Skip();");
    }
}
