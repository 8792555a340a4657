using System;
using System.Security.Cryptography.X509Certificates;

namespace Rpc.Transports;

/// <summary>
/// TLS settings of <c>tls://host:port</c> endpoints, set through <see cref="TransportOptions.Tls"/>.
/// </summary>
/// <remarks>
/// <para>
/// The peer's certificate is always validated: a client checks that the server's certificate chains to a trusted root
/// (the system store, or <see cref="TrustedRoots"/>) and is valid for <see cref="TargetHost"/>; a server that sets
/// <see cref="RequireClientCertificate"/> checks the client's chain the same way. There is deliberately no setting that
/// accepts any certificate: a private CA goes in <see cref="TrustedRoots"/>.
/// </para>
/// <para>
/// Protocol versions and cipher suites are left to the operating system (OpenSSL's policy on Linux), so they follow
/// its updates instead of being frozen here.
/// </para>
/// </remarks>
public sealed class TlsOptions
{
    /// <summary>
    /// Gets or sets the certificate a server presents, with its private key. Required to listen on <c>tls://</c>;
    /// ignored by clients.
    /// </summary>
    public X509Certificate2? ServerCertificate { get; set; }

    /// <summary>
    /// Gets or sets whether a server demands a client certificate and rejects a client without a valid one (its chain is
    /// validated against <see cref="TrustedRoots"/>, or the system store when that is <see langword="null"/>).
    /// Default: <see langword="false"/>. Ignored by clients.
    /// </summary>
    public bool RequireClientCertificate { get; set; }

    /// <summary>
    /// Gets or sets the certificate a client presents to a server that asks for one, with its private key; ignored by
    /// servers. Default: <see langword="null"/> (no client certificate).
    /// </summary>
    public X509Certificate2? ClientCertificate { get; set; }

    /// <summary>
    /// Gets or sets the name a client expects in the server's certificate (and sends as SNI). Default:
    /// <see langword="null"/>, meaning the host of the endpoint (<c>tls://calc.internal:5001</c> → <c>calc.internal</c>;
    /// an address such as <c>127.0.0.1</c> must then appear as an IP address in the certificate). Ignored by servers.
    /// </summary>
    public string? TargetHost { get; set; }

    /// <summary>
    /// Gets or sets the only roots the peer's certificate may chain to, for a private CA. Default:
    /// <see langword="null"/>: the operating system's trusted roots. Used by clients for the server's certificate and by
    /// servers for client certificates.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2227:Collection properties should be read only", Justification = "An options bag: null (the system store) is a meaningful value.")]
    public X509Certificate2Collection? TrustedRoots { get; set; }

    /// <summary>
    /// Gets or sets an extra check of the peer's certificate (pinning, a required subject, …), run only after the
    /// built-in validation has passed; return <see langword="false"/> to reject the peer. It cannot accept a certificate
    /// the built-in validation rejected. Default: <see langword="null"/>.
    /// </summary>
    public Func<X509Certificate2, X509Chain, bool>? RemoteCertificateValidation { get; set; }

    /// <summary>
    /// Gets or sets how long a TLS handshake may take, on either side, before the connection is dropped. On a server it
    /// bounds how long a silent or slow client can hold a connection that was never handed to the application.
    /// Default: 10 s.
    /// </summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
