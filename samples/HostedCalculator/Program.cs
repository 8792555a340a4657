using System;
using System.Threading.Tasks;
using Calculator;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Rpc.Hosting;

// Usage: HostedCalculator [serve]   serves ICalculator on Rpc:Server:Endpoints (appsettings.json) until Ctrl+C or SIGTERM
//        HostedCalculator call      calls the server at Rpc:Clients:ICalculator:Endpoint through the container's ICalculator
// Any configuration key can be overridden on the command line, for example --Rpc:Server:Endpoints:0=tcp://127.0.0.1:5000.
var call = args.Length > 0 && args[0] == "call";
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = call || (args.Length > 0 && args[0] == "serve") ? args[1..] : args,

    // appsettings.json next to the program, wherever it is started from.
    ContentRootPath = AppContext.BaseDirectory,
});
if (call)
{
    builder.Services.AddRpcClient<ICalculator>();
    var client = builder.Build();
    var calculator = client.Services.GetRequiredService<ICalculator>();
    Console.WriteLine($"2 + 3 = {await calculator.AddAsync(2, 3)}");
    Console.WriteLine($"7 / 2 = {await calculator.DivideAsync(7, 2)}");
    try
    {
        await calculator.DivideAsync(1, 0);
    }
    catch (Rpc.RemoteInvocationException exception)
    {
        Console.WriteLine($"1 / 0 failed on the server: {exception.RemoteTypeName}");
    }

    // Asynchronously: the client's connection closes asynchronously.
    await ((IAsyncDisposable)client).DisposeAsync();
    return 0;
}

builder.Services.AddSingleton<CalculatorService>();
builder.Services.AddRpcServer().AddService<ICalculator, AuditedCalculator>();
await builder.Build().RunAsync();
return 0;
