using System;

namespace Rpc.Fuzzing;

/// <summary>
/// An input made a decoder break its promise (an untyped error, a hang, an inconsistent result). Never caught by the
/// harness: under AFL++ it ends the process, so the input is saved as a crash.
/// </summary>
public sealed class OracleViolationException(string message, Exception? innerException = null) : Exception(message, innerException);
