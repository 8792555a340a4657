using System;
using System.Diagnostics.CodeAnalysis;
using System.Linq;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Rpc;
using Rpc.Health;
using Rpc.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Rpc servers, clients, workers and group subscribers in a dependency-injection container.</summary>
public static class RpcHostingServiceCollectionExtensions
{
    /// <summary>The configuration section a hosted server binds by default.</summary>
    public const string DefaultServerSection = "Rpc:Server";

    /// <summary>The configuration section under which each client binds the section of its name.</summary>
    public const string ClientsSection = "Rpc:Clients";

    /// <summary>The configuration section under which each worker binds the section of its contract's name.</summary>
    public const string WorkersSection = "Rpc:Workers";

    /// <summary>The configuration section under which each group subscriber binds the section of its callback contract's name.</summary>
    public const string SubscribersSection = "Rpc:Subscribers";

    /// <summary>
    /// Registers an <see cref="RpcServer"/> that a hosted service starts with the host (listening on every endpoint of
    /// <see cref="RpcServerEndpointOptions"/>) and drains when the host stops. Its <see cref="RpcServerOptions"/> and
    /// endpoints bind from the configuration section <c>Rpc:Server</c>, then <paramref name="configure"/> runs. The
    /// server also serves <see cref="IRpcHealth"/>. Call again to get the same server's builder.
    /// </summary>
    /// <param name="services">The container.</param>
    /// <param name="configure">Sets options in code, after configuration.</param>
    /// <returns>A builder that adds the contracts the server serves.</returns>
    public static RpcServerBuilder AddRpcServer(this IServiceCollection services, Action<RpcServerOptions>? configure = null) =>
        services.AddRpcServer(DefaultServerSection, configure);

    /// <summary>Registers a hosted <see cref="RpcServer"/> as <see cref="AddRpcServer(IServiceCollection, Action{RpcServerOptions}?)"/> does, bound from another configuration section.</summary>
    /// <param name="services">The container.</param>
    /// <param name="configurationSection">The section's path, for example <c>Rpc:Server</c>.</param>
    /// <param name="configure">Sets options in code, after configuration.</param>
    /// <returns>A builder that adds the contracts the server serves.</returns>
    public static RpcServerBuilder AddRpcServer(this IServiceCollection services, string configurationSection, Action<RpcServerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(configurationSection);
        var registrations = services.FirstOrDefault(d => d.ServiceType == typeof(ServiceRegistrations))?.ImplementationInstance as ServiceRegistrations;
        if (registrations is null)
        {
            registrations = new ServiceRegistrations();
            registrations.Add(Rpc.Runtime.RpcContractRegistry.Get<IRpcHealth>().Name, static (server, provider, _) => server.AddService<IRpcHealth>(provider.GetRequiredService<RpcHealthService>()));
            services.AddSingleton(registrations);
            KnownProtocols.In(services);
            services.AddOptions<RpcServerOptions>()
                .Configure<IServiceProvider>((options, provider) =>
                {
                    if (Section(provider, configurationSection) is { } section)
                    {
                        section.Bind(options);
                    }

                    // RpcProtocol is a class configuration cannot express; its names bind into RpcServerEndpointOptions.
                    options.Protocols = provider.GetRequiredService<KnownProtocols>()
                        .Resolve(provider.GetRequiredService<IOptions<RpcServerEndpointOptions>>().Value.Protocols, configurationSection);
                })
                .PostConfigure<IServiceProvider>((options, provider) => UseHostDiagnostics(options.Connection, provider));
            services.AddOptions<RpcServerEndpointOptions>()
                .Configure<IServiceProvider>((options, provider) =>
                {
                    if (Section(provider, configurationSection) is { } section)
                    {
                        section.Bind(options);
                    }
                });
            services.TryAddSingleton<ConnectionScopes>();
            services.TryAddScoped<ConnectionHolder>();
            services.TryAddScoped(static provider => provider.GetRequiredService<ConnectionHolder>().Get());
            services.TryAddSingleton<RpcHealthService>();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IHealthCheckPublisher, RpcHealthCheckPublisher>());
            services.TryAddSingleton(static provider =>
            {
                var server = new RpcServer(provider.GetRequiredService<IOptions<RpcServerOptions>>().Value);
                provider.GetRequiredService<ServiceRegistrations>().AddTo(server, provider, provider.GetRequiredService<ConnectionScopes>());
                return server;
            });
            services.AddHostedService<RpcServerHostedService>();
        }

        if (configure is not null)
        {
            services.Configure(configure);
        }

        return new RpcServerBuilder(services, registrations);
    }

    /// <summary>
    /// Registers <typeparamref name="TContract"/> as a proxy over a reconnecting <see cref="RpcClient"/> of
    /// <paramref name="endpoint"/>, one per container and disposed with it. Its <see cref="RpcClientOptions"/> bind from
    /// <c>Rpc:Clients:&lt;contract name&gt;</c> (for example <c>Rpc:Clients:ICalculator</c>).
    /// </summary>
    /// <typeparam name="TContract">An <c>[RpcContract]</c> interface.</typeparam>
    /// <param name="services">The container.</param>
    /// <param name="endpoint">The server's endpoint.</param>
    /// <param name="configure">Sets options in code, after configuration.</param>
    /// <returns>The container.</returns>
    public static IServiceCollection AddRpcClient<TContract>(this IServiceCollection services, string endpoint, Action<RpcClientOptions>? configure = null)
        where TContract : class
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(endpoint);
        return services.AddRpcClient<TContract>(options =>
        {
            options.Endpoint = endpoint;
            configure?.Invoke(options.Client);
        });
    }

    /// <summary>
    /// Registers <typeparamref name="TContract"/> as a proxy over a reconnecting <see cref="RpcClient"/>, one per container
    /// and disposed with it, with its endpoint and options from <c>Rpc:Clients:&lt;contract name&gt;</c> (for example
    /// <c>{"Rpc": {"Clients": {"ICalculator": {"Endpoint": "unix:///run/calc.sock"}}}}</c>), then <paramref name="configure"/>.
    /// </summary>
    /// <typeparam name="TContract">An <c>[RpcContract]</c> interface.</typeparam>
    /// <param name="services">The container.</param>
    /// <param name="configure">Sets options in code, after configuration.</param>
    /// <returns>The container.</returns>
    public static IServiceCollection AddRpcClient<TContract>(this IServiceCollection services, Action<RpcClientFactoryOptions>? configure = null)
        where TContract : class
    {
        var name = typeof(TContract).Name;
        AddNamedClient<TContract>(services, name, configure);
        services.TryAddSingleton(provider => provider.GetRequiredKeyedService<ContainerOwnedClient>(name).Client.GetProxy<TContract>());
        return services;
    }

    /// <summary>
    /// Registers <typeparamref name="TContract"/> under <paramref name="key"/> (resolve it with
    /// <c>[FromKeyedServices("key")]</c> or <c>GetRequiredKeyedService</c>), for several servers of one contract: a
    /// reconnecting <see cref="RpcClient"/> per key, its endpoint and options from <c>Rpc:Clients:&lt;key&gt;</c>, then
    /// <paramref name="configure"/>.
    /// </summary>
    /// <typeparam name="TContract">An <c>[RpcContract]</c> interface.</typeparam>
    /// <param name="services">The container.</param>
    /// <param name="key">The key, also the client's configuration section name.</param>
    /// <param name="configure">Sets options in code, after configuration.</param>
    /// <returns>The container.</returns>
    public static IServiceCollection AddKeyedRpcClient<TContract>(this IServiceCollection services, string key, Action<RpcClientFactoryOptions>? configure = null)
        where TContract : class
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        AddNamedClient<TContract>(services, key, configure);
        services.TryAddKeyedSingleton(key, static (provider, key) => provider.GetRequiredKeyedService<ContainerOwnedClient>(key).Client.GetProxy<TContract>());
        return services;
    }

    /// <summary>Registers <typeparamref name="TContract"/> under <paramref name="key"/> as a client of <paramref name="endpoint"/> (see <see cref="AddKeyedRpcClient{TContract}(IServiceCollection, string, Action{RpcClientFactoryOptions}?)"/>).</summary>
    /// <typeparam name="TContract">An <c>[RpcContract]</c> interface.</typeparam>
    /// <param name="services">The container.</param>
    /// <param name="key">The key, also the client's configuration section name.</param>
    /// <param name="endpoint">The server's endpoint.</param>
    /// <returns>The container.</returns>
    public static IServiceCollection AddKeyedRpcClient<TContract>(this IServiceCollection services, string key, string endpoint)
        where TContract : class
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(endpoint);
        return services.AddKeyedRpcClient<TContract>(key, options => options.Endpoint = endpoint);
    }

    /// <summary>
    /// Registers a hosted work-queue worker: from host start to stop it serves <typeparamref name="TContract"/> with
    /// <typeparamref name="TImplementation"/> (one object, made by the container) to the hub at <paramref name="hubEndpoint"/>,
    /// connecting again whenever it loses the hub. Its <see cref="RpcWorkerOptions"/> bind from
    /// <c>Rpc:Workers:&lt;contract name&gt;</c>, then <paramref name="configure"/> runs.
    /// </summary>
    /// <typeparam name="TContract">The hub's contract.</typeparam>
    /// <typeparam name="TImplementation">Runs the calls; called concurrently when the hub allows more than one call per worker.</typeparam>
    /// <param name="services">The container.</param>
    /// <param name="hubEndpoint">The hub's worker endpoint, or <see langword="null"/> to take it from configuration.</param>
    /// <param name="configure">Sets options in code, after configuration.</param>
    /// <returns>The container.</returns>
    public static IServiceCollection AddRpcWorker<TContract, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TImplementation>(
        this IServiceCollection services, string? hubEndpoint = null, Action<RpcWorkerOptions>? configure = null)
        where TContract : class
        where TImplementation : class, TContract
    {
        ArgumentNullException.ThrowIfNull(services);
        Rpc.Runtime.RpcContractRegistry.Get<TContract>();
        var name = typeof(TContract).Name;
        services.AddOptions<RpcWorkerOptions>(name)
            .Configure<IServiceProvider>((options, provider) =>
            {
                if (Section(provider, $"{WorkersSection}:{name}") is { } section)
                {
                    section.Bind(options);
                }

                if (hubEndpoint is not null)
                {
                    options.Endpoint = hubEndpoint;
                }

                configure?.Invoke(options);
            })
            .PostConfigure<IServiceProvider>((options, provider) => UseHostDiagnostics(options.Connection, provider));
        services.TryAddSingleton<TImplementation>();
        services.AddSingleton<IHostedService>(provider => new RpcWorkerHostedService<TContract>(
            provider.GetRequiredService<TImplementation>(),
            provider.GetRequiredService<IOptionsMonitor<RpcWorkerOptions>>().Get(name),
            provider.GetRequiredService<ILogger<RpcWorkerHostedService<TContract>>>()));
        return services;
    }

    /// <summary>
    /// Registers a hosted group subscriber: from host start to stop a reconnecting <see cref="RpcClient"/> of
    /// <paramref name="endpoint"/> serves <typeparamref name="TCallback"/> with <typeparamref name="TImplementation"/>
    /// (one object, made by the container) on each connection and runs <paramref name="subscribe"/> on it, so after a
    /// lost connection or a restarted server it is a member of the same groups again. Stopping the host closes the
    /// connection: the server's groups drop it. Its <see cref="RpcSubscriberOptions"/> bind from
    /// <c>Rpc:Subscribers:&lt;callback contract name&gt;</c>, then <paramref name="configure"/> runs.
    /// </summary>
    /// <typeparam name="TCallback">The contract the server's group calls (an <c>RpcGroup&lt;TCallback&gt;</c> there).</typeparam>
    /// <typeparam name="TImplementation">Receives the group's calls; called from the connection's receive loop.</typeparam>
    /// <param name="services">The container.</param>
    /// <param name="endpoint">The server's endpoint, or <see langword="null"/> to take it from configuration.</param>
    /// <param name="subscribe">
    /// Joins the groups on each new connection, for example
    /// <c>(connection, ct) =&gt; connection.CreateProxy&lt;IFeed&gt;().SubscribeAsync("prices")</c>; see <see cref="RpcSubscriberOptions.Subscribe"/>.
    /// </param>
    /// <param name="configure">Sets options in code, after configuration.</param>
    /// <returns>The container.</returns>
    public static IServiceCollection AddRpcSubscriber<TCallback, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TImplementation>(
        this IServiceCollection services,
        string? endpoint = null,
        Func<RpcConnection, System.Threading.CancellationToken, System.Threading.Tasks.Task>? subscribe = null,
        Action<RpcSubscriberOptions>? configure = null)
        where TCallback : class
        where TImplementation : class, TCallback
    {
        ArgumentNullException.ThrowIfNull(services);
        Rpc.Runtime.RpcContractRegistry.Get<TCallback>();
        var name = typeof(TCallback).Name;
        services.AddOptions<RpcSubscriberOptions>(name)
            .Configure<IServiceProvider>((options, provider) =>
            {
                if (Section(provider, $"{SubscribersSection}:{name}") is { } section)
                {
                    section.Bind(options);
                }

                if (endpoint is not null)
                {
                    options.Endpoint = endpoint;
                }

                if (subscribe is not null)
                {
                    options.Subscribe = subscribe;
                }

                configure?.Invoke(options);
            })
            .PostConfigure<IServiceProvider>((options, provider) => UseHostDiagnostics(options.Client.Connection, provider));
        services.TryAddSingleton<TImplementation>();
        services.AddSingleton<IHostedService>(provider => new RpcSubscriberHostedService<TCallback>(
            provider.GetRequiredService<TImplementation>(),
            provider.GetRequiredService<IOptionsMonitor<RpcSubscriberOptions>>().Get(name),
            provider.GetRequiredService<ILogger<RpcSubscriberHostedService<TCallback>>>()));
        return services;
    }

    private static void AddNamedClient<TContract>(IServiceCollection services, string name, Action<RpcClientFactoryOptions>? configure)
        where TContract : class
    {
        ArgumentNullException.ThrowIfNull(services);

        // Fails at registration for an interface the generator never saw, rather than at first use.
        Rpc.Runtime.RpcContractRegistry.Get<TContract>();
        var options = services.AddOptions<RpcClientFactoryOptions>(name)
            .Configure<IServiceProvider>((options, provider) =>
            {
                if (Section(provider, $"{ClientsSection}:{name}") is { } section)
                {
                    section.Bind(options);
                }
            })
            .PostConfigure<IServiceProvider>((options, provider) => UseHostDiagnostics(options.Client.Connection, provider));
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddKeyedSingleton(name, static (provider, key) =>
        {
            var name = (string)key!;
            var options = provider.GetRequiredService<IOptionsMonitor<RpcClientFactoryOptions>>().Get(name);
            return new ContainerOwnedClient(new RpcClient(
                options.Endpoint ?? throw new InvalidOperationException($"The Rpc client '{name}' has no endpoint: set {ClientsSection}:{name}:Endpoint or pass one in code."),
                options.Client));
        });
    }

    private static IConfigurationSection? Section(IServiceProvider provider, string path) =>
        provider.GetService<IConfiguration>()?.GetSection(path);

    private static void UseHostDiagnostics(RpcConnectionOptions connection, IServiceProvider provider)
    {
        connection.LoggerFactory ??= provider.GetService<ILoggerFactory>();
        connection.MeterFactory ??= provider.GetService<System.Diagnostics.Metrics.IMeterFactory>();
    }
}
