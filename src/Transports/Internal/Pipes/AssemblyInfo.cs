using System.Runtime.CompilerServices;

// RpcChildProcess (Rpc.Runtime) builds its connection from PipeConnection and the child-side helpers in this folder. This
// belongs in Rpc.Transports.csproj next to the other InternalsVisibleTo items; it lives here until that file is edited.
[assembly: InternalsVisibleTo("Rpc.Runtime")]
