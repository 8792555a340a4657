using System.Reflection;

namespace Rpc.Generator;

/// <summary>The version written into <c>[GeneratedCode]</c>: the assembly's informational version without build metadata.</summary>
internal static class GeneratorVersion
{
    public static string Value { get; } = Compute();

    private static string Compute()
    {
        var assembly = typeof(GeneratorVersion).Assembly;
        var informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (string.IsNullOrEmpty(informational))
        {
            return assembly.GetName().Version?.ToString(3) ?? "0.0.0";
        }

        var plus = informational!.IndexOf('+');
        return plus < 0 ? informational : informational.Substring(0, plus);
    }
}
