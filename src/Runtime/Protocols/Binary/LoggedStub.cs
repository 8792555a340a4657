using System;
using System.Collections.Generic;
using MessagePack;
using Rpc.Runtime;

namespace Rpc.Protocols.Binary;

/// <summary>
/// A stub of a logging connection: it notes which method is being dispatched on this thread, so a failure reported
/// later, when the method's task completes, names the method in the log. Connections that do not log serve the
/// generated stub itself and pay nothing.
/// </summary>
internal sealed class LoggedStub : RpcStub
{
    [ThreadStatic]
    private static DispatchedMethod t_current;

    private readonly RpcStub _inner;

    private LoggedStub(RpcStub inner)
        : base(inner.Methods) => _inner = inner;

    /// <summary>Gets the method whose stub dispatch runs on this thread (empty outside one).</summary>
    public static DispatchedMethod Current => t_current;

    /// <summary>Wraps <paramref name="stub"/>, or returns the wrapper already serving it, so adding a stub twice stays harmless.</summary>
    public static RpcStub Wrap(RpcStub stub, IEnumerable<RpcStub> served)
    {
        foreach (var existing in served)
        {
            if (existing is LoggedStub logged && ReferenceEquals(logged._inner, stub))
            {
                return logged;
            }
        }

        return new LoggedStub(stub);
    }

    public override void Dispatch(uint methodId, ref MessagePackReader arguments, RpcServerCall call)
    {
        var previous = t_current;
        t_current = new DispatchedMethod(this, methodId);
        try
        {
            _inner.Dispatch(methodId, ref arguments, call);
        }
        finally
        {
            t_current = previous;
        }
    }

    public override void AddDelegates(IRpcDelegateRegistry registry) => _inner.AddDelegates(registry);

    /// <summary>A method of a stub, named only when a log message needs it.</summary>
    internal readonly record struct DispatchedMethod(RpcStub? Stub, uint MethodId)
    {
        /// <summary>Gets the method's wire name.</summary>
        public string WireName
        {
            get
            {
                if (Stub is not null)
                {
                    foreach (var method in Stub.Methods)
                    {
                        if (method.Id == MethodId)
                        {
                            return method.WireName;
                        }
                    }
                }

                return $"0x{MethodId:X8}";
            }
        }
    }
}
