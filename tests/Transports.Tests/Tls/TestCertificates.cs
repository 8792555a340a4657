using System;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Rpc.Transports.Tests.Tls;

/// <summary>
/// A private PKI made in-process for the TLS tests: a CA, a server leaf for localhost / 127.0.0.1 / ::1 and a client
/// certificate signed by it, plus a second CA nobody trusts. ECDSA P-256, so generating them takes milliseconds.
/// (tests/Runtime.Tests links this file: one PKI for every TLS test.)
/// </summary>
internal static class TestCertificates
{
    private static readonly Lazy<Pki> Trusted = new(() => new Pki("Rpc Test CA"));
    private static readonly Lazy<Pki> Untrusted = new(() => new Pki("Rpc Untrusted CA"));

    /// <summary>Gets the trusted CA's certificate, without its key: what a peer puts in TlsOptions.TrustedRoots.</summary>
    public static X509Certificate2Collection TrustedRoots => [X509CertificateLoader.LoadCertificate(Trusted.Value.Ca.RawData)];

    public static X509Certificate2 Server => Trusted.Value.Server;

    public static X509Certificate2 Client => Trusted.Value.Client;

    /// <summary>Gets a server certificate for localhost issued by a CA that no test trusts.</summary>
    public static X509Certificate2 UntrustedServer => Untrusted.Value.Server;

    public static X509Certificate2 UntrustedClient => Untrusted.Value.Client;

    public static TlsOptions ServerOptions(bool requireClientCertificate = false) => new()
    {
        ServerCertificate = Server,
        RequireClientCertificate = requireClientCertificate,
        TrustedRoots = TrustedRoots,
    };

    public static TlsOptions ClientOptions(X509Certificate2? clientCertificate = null) => new()
    {
        TrustedRoots = TrustedRoots,
        ClientCertificate = clientCertificate,
    };

    private sealed class Pki
    {
        public Pki(string caName)
        {
            var now = DateTimeOffset.UtcNow;
            using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var caRequest = new CertificateRequest($"CN={caName}", caKey, HashAlgorithmName.SHA256);
            caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
            caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
            caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, critical: false));
            using var ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddYears(1));
            Ca = RoundTrip(ca);

            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("localhost");
            names.AddIpAddress(IPAddress.Loopback);
            names.AddIpAddress(IPAddress.IPv6Loopback);
            Server = Issue(ca, "CN=localhost", "1.3.6.1.5.5.7.3.1", names, now, 1);
            Client = Issue(ca, "CN=rpc-test-client", "1.3.6.1.5.5.7.3.2", names: null, now, 2);
        }

        public X509Certificate2 Ca { get; }

        public X509Certificate2 Server { get; }

        public X509Certificate2 Client { get; }

        private static X509Certificate2 Issue(X509Certificate2 ca, string subject, string usage, SubjectAlternativeNameBuilder? names, DateTimeOffset now, byte serial)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], critical: false));
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
            if (names is not null)
            {
                request.CertificateExtensions.Add(names.Build());
            }

            using var issued = request.Create(ca, now.AddDays(-1), now.AddDays(30), [serial, (byte)Random.Shared.Next(256)]);
            using var withKey = issued.CopyWithPrivateKey(key);
            return RoundTrip(withKey);
        }

        /// <summary>Through PFX, so the private key is a persisted one that OpenSSL (SslStream on Linux) can use.</summary>
        private static X509Certificate2 RoundTrip(X509Certificate2 certificate) =>
            X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx, "rpc"), "rpc", X509KeyStorageFlags.Exportable);
    }
}
