using System;

namespace Rpc.Runtime;

/// <summary>Marks a failure to read a call's arguments, so it is answered as invalid arguments, not as a failure of the method.</summary>
internal sealed class InvalidArgumentsException(Exception inner) : Exception(inner.Message, inner);
