using System;
using System.Collections.Generic;
using System.Globalization;
using Microsoft.CodeAnalysis.CSharp;

namespace Rpc.Generator.Parsing;

/// <summary>
/// Hands out identifiers unique within one scope. User names are reserved first, so a generated name never
/// shadows or collides with one the user chose; a taken name gets a numeric suffix (<c>Add</c>, <c>Add2</c>, …).
/// </summary>
internal sealed class NameAllocator
{
    private readonly HashSet<string> _taken = new(StringComparer.Ordinal);

    public NameAllocator(IEnumerable<string>? reserved = null)
    {
        if (reserved is not null)
        {
            foreach (var name in reserved)
            {
                _taken.Add(name);
            }
        }
    }

    public void Reserve(string name) => _taken.Add(name);

    public bool IsTaken(string name) => _taken.Contains(name);

    /// <summary>Allocates <paramref name="stem"/> plus every suffix in <paramref name="suffixes"/> as one group.</summary>
    /// <returns>The stem that made the whole group free.</returns>
    public string Allocate(string stem, params string[] suffixes)
    {
        for (var attempt = 1; ; attempt++)
        {
            var candidate = attempt == 1 ? stem : stem + attempt.ToString(CultureInfo.InvariantCulture);
            if (IsFree(candidate, suffixes))
            {
                if (suffixes.Length == 0)
                {
                    _taken.Add(candidate);
                }

                foreach (var suffix in suffixes)
                {
                    _taken.Add(candidate + suffix);
                }

                return candidate;
            }
        }
    }

    private bool IsFree(string candidate, string[] suffixes)
    {
        if (suffixes.Length == 0)
        {
            return !_taken.Contains(candidate);
        }

        foreach (var suffix in suffixes)
        {
            if (_taken.Contains(candidate + suffix))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Escapes a C# keyword with <c>@</c> so it can be used as an identifier.</summary>
    public static string EscapeIdentifier(string name) =>
        SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None ? "@" + name : name;

    /// <summary>Turns a member name into a local name (<c>Tag</c> → <c>tag</c>).</summary>
    public static string ToCamelCase(string name) =>
        name.Length == 0 || !char.IsUpper(name[0])
            ? name
            : char.ToLowerInvariant(name[0]) + name.Substring(1);
}
