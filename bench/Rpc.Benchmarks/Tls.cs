using System;
using System.IO;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Rpc.Transports;

namespace Rpc.Benchmarks;

/// <summary>
/// The TLS rows' private PKI: a CA and a server certificate for 127.0.0.1 (ECDSA P-256), made by the client process
/// once per run and handed to the server processes as files named in environment variables, which children inherit.
/// </summary>
internal static class BenchTls
{
    private const string ServerPfxVariable = "RPCBENCH_TLS_SERVER_PFX";
    private const string CaVariable = "RPCBENCH_TLS_CA";

    /// <summary>Writes the CA (public) and the server certificate with its key under <paramref name="directory"/>.</summary>
    public static void Prepare(string directory)
    {
        var now = DateTimeOffset.UtcNow;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Rpc bench CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, critical: true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, critical: false));
        using var ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(7));

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var serverRequest = new CertificateRequest("CN=127.0.0.1", serverKey, HashAlgorithmName.SHA256);
        serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        serverRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        serverRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        serverRequest.CertificateExtensions.Add(names.Build());
        using var issued = serverRequest.Create(ca, now.AddDays(-1), now.AddDays(7), [1]);
        using var server = issued.CopyWithPrivateKey(serverKey);

        var caPath = Path.Combine(directory, "bench-ca.der");
        var serverPath = Path.Combine(directory, "bench-server.pfx");
        File.WriteAllBytes(caPath, ca.RawData);
        File.WriteAllBytes(serverPath, server.Export(X509ContentType.Pkcs12));
        Environment.SetEnvironmentVariable(CaVariable, caPath);
        Environment.SetEnvironmentVariable(ServerPfxVariable, serverPath);
    }

    public static TlsOptions ServerOptions() => new() { ServerCertificate = ServerCertificate() };

    public static TlsOptions ClientOptions() => new() { TrustedRoots = TrustedRoots() };

    /// <summary>The raw TLS floor's client side: <see cref="SslStream"/> over <paramref name="inner"/>, the server validated as Rpc does.</summary>
    public static SslStream AuthenticateAsClient(Stream inner)
    {
        var tls = new SslStream(inner, leaveInnerStreamOpen: false);
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.AddRange(TrustedRoots());
        tls.AuthenticateAsClient(new SslClientAuthenticationOptions { TargetHost = "127.0.0.1", CertificateChainPolicy = policy });
        return tls;
    }

    /// <summary>The raw TLS floor's server side.</summary>
    public static SslStream AuthenticateAsServer(Stream inner)
    {
        var tls = new SslStream(inner, leaveInnerStreamOpen: false);
        tls.AuthenticateAsServer(new SslServerAuthenticationOptions { ServerCertificate = ServerCertificate() });
        return tls;
    }

    private static X509Certificate2 ServerCertificate() =>
        X509CertificateLoader.LoadPkcs12FromFile(Variable(ServerPfxVariable), password: null);

    private static X509Certificate2Collection TrustedRoots() => [X509CertificateLoader.LoadCertificateFromFile(Variable(CaVariable))];

    private static string Variable(string name) =>
        Environment.GetEnvironmentVariable(name) ?? throw new InvalidOperationException($"{name} is not set: the TLS rows' certificates were not prepared.");
}

/// <summary>A <see cref="Stream"/> over a raw channel, so that <see cref="SslStream"/> can run over the busy-poll socket.</summary>
internal sealed class ChannelStream(IRawChannel channel) : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => channel.Receive(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer) => channel.Receive(buffer);

    public override void Write(byte[] buffer, int offset, int count) => channel.Send(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer) => channel.Send(buffer);

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            channel.Dispose();
        }

        base.Dispose(disposing);
    }
}
