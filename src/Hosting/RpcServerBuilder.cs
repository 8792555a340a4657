using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Rpc.Hosting;

/// <summary>Adds the contracts a hosted <see cref="RpcServer"/> serves (returned by <c>services.AddRpcServer()</c>).</summary>
public sealed class RpcServerBuilder
{
    private readonly ServiceRegistrations _registrations;

    internal RpcServerBuilder(IServiceCollection services, ServiceRegistrations registrations)
    {
        Services = services;
        _registrations = registrations;
    }

    /// <summary>Gets the service collection the server is registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>
    /// Serves <typeparamref name="TContract"/> with <typeparamref name="TImplementation"/>, made by the container (its
    /// constructor's parameters are resolved from it).
    /// </summary>
    /// <typeparam name="TContract">An <c>[RpcContract]</c> interface.</typeparam>
    /// <typeparam name="TImplementation">The implementation.</typeparam>
    /// <param name="lifetime">How long one implementation object lives.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException"><typeparamref name="TContract"/> has no generated contract.</exception>
    public RpcServerBuilder AddService<TContract, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TImplementation>(
        RpcServiceLifetime lifetime = RpcServiceLifetime.Singleton)
        where TContract : class
        where TImplementation : class, TContract
    {
        // Fails here, at startup, for an interface the generator never saw, rather than at the first connection.
        var contract = Runtime.RpcContractRegistry.Get<TContract>();
        switch (lifetime)
        {
            case RpcServiceLifetime.Singleton:
                Services.TryAddSingleton<TImplementation>();
                _registrations.Add(contract.Name, static (server, provider, _) =>
                    server.AddService<TContract>(provider.GetRequiredService<TImplementation>()));
                break;
            case RpcServiceLifetime.PerConnection:
                Services.TryAddScoped<TImplementation>();
                _registrations.Add(contract.Name, static (server, _, scopes) =>
                    server.AddService<TContract>(connection => scopes.For(connection).GetRequiredService<TImplementation>()));
                break;
            case RpcServiceLifetime.PerCall:
                _registrations.Add(contract.Name, static (server, provider, _) =>
                    server.AddService<TContract>(new ScopedServiceActivator<TContract, TImplementation>(provider.GetRequiredService<IServiceScopeFactory>())));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(lifetime), lifetime, "Choose Singleton, PerConnection or PerCall.");
        }

        return this;
    }

    /// <summary>Adds an endpoint to listen on, besides those of configuration.</summary>
    /// <param name="endpoint">For example <c>unix:///run/calc.sock</c> or <c>tcp://0.0.0.0:5000</c>.</param>
    /// <returns>This builder.</returns>
    public RpcServerBuilder ListenOn(string endpoint)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(endpoint);
        Services.Configure<RpcServerEndpointOptions>(options => options.Endpoints.Add(endpoint));
        return this;
    }

    /// <summary>
    /// Serves <paramref name="protocol"/> too (on every endpoint, beside <see cref="RpcProtocol.Binary"/>), and lets
    /// configuration name it: <c>"Protocols": ["JsonRpc"]</c> under the server's section chooses among the known
    /// protocols by <see cref="RpcProtocol.Name"/>.
    /// </summary>
    /// <param name="protocol">For example <c>RpcProtocol.JsonRpc</c> (package Rpc.JsonRpc).</param>
    /// <returns>This builder.</returns>
    public RpcServerBuilder AddProtocol(RpcProtocol protocol)
    {
        ArgumentNullException.ThrowIfNull(protocol);
        KnownProtocols.In(Services).Add(protocol);
        return this;
    }
}

/// <summary>What the server serves, kept until the container makes the server.</summary>
internal sealed class ServiceRegistrations
{
    private readonly List<(string Contract, Action<RpcServer, IServiceProvider, ConnectionScopes> AddTo)> _services = [];

    public IEnumerable<string> Contracts
    {
        get
        {
            foreach (var service in _services)
            {
                yield return service.Contract;
            }
        }
    }

    public void Add(string contract, Action<RpcServer, IServiceProvider, ConnectionScopes> addTo) => _services.Add((contract, addTo));

    public void AddTo(RpcServer server, IServiceProvider provider, ConnectionScopes scopes)
    {
        foreach (var service in _services)
        {
            service.AddTo(server, provider, scopes);
        }
    }
}
