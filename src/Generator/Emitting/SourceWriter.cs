using System;
using System.Text;

namespace Rpc.Generator.Emitting;

/// <summary>Builds source text with indentation and <c>\n</c> newlines whatever the platform.</summary>
internal sealed class SourceWriter
{
    private const int IndentSize = 4;
    private readonly StringBuilder _builder = new();

    public int Indentation { get; set; }

    /// <summary>Writes each line of <paramref name="text"/> at the current indentation (empty lines stay empty).</summary>
    public void WriteLine(string text)
    {
        var start = 0;
        while (true)
        {
            var end = text.IndexOf('\n', start);
            var line = end < 0 ? text.Substring(start) : text.Substring(start, end - start);
            if (line.Length > 0)
            {
                _builder.Append(' ', Indentation * IndentSize).Append(line);
            }

            _builder.Append('\n');
            if (end < 0)
            {
                return;
            }

            start = end + 1;
        }
    }

    public void WriteLine() => _builder.Append('\n');

    /// <summary>Writes <c>{</c> and indents.</summary>
    public void OpenBlock()
    {
        WriteLine("{");
        Indentation++;
    }

    /// <summary>Unindents and writes <c>}</c> plus <paramref name="suffix"/>.</summary>
    public void CloseBlock(string suffix = "")
    {
        if (Indentation == 0)
        {
            throw new InvalidOperationException("Unbalanced block.");
        }

        Indentation--;
        WriteLine("}" + suffix);
    }

    public override string ToString() => _builder.ToString();
}
