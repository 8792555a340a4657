using System;
using System.IO;
using System.Linq;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Threading;
using System.Threading.Tasks;

namespace Rpc.Transports.Internal.Tls;

/// <summary>
/// Runs a TLS handshake over an established connection of another transport and, when it succeeds, returns the TLS
/// connection; when it fails, the underlying connection is dropped and the error says why, in words.
/// </summary>
internal static class TlsHandshake
{
    public static Task<TransportConnection> AuthenticateAsClientAsync(
        TransportConnection underlying, RpcEndpoint endpoint, TlsOptions tls, TransportOptions options, CancellationToken cancellationToken)
    {
        var targetHost = string.IsNullOrEmpty(tls.TargetHost) ? endpoint.Host : tls.TargetHost;
        var validator = new CertificateValidator(tls, isServer: false, targetHost);
        var authentication = new SslClientAuthenticationOptions
        {
            TargetHost = targetHost,
            ClientCertificateContext = tls.ClientCertificate is null ? null : SslStreamCertificateContext.Create(tls.ClientCertificate, additionalCertificates: null, offline: true),
            CertificateChainPolicy = CreateChainPolicy(tls),
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = validator.Validate,
        };
        return AuthenticateAsync(underlying, endpoint.Original, tls, options, validator, (ssl, token) => ssl.AuthenticateAsClientAsync(authentication, token), cancellationToken);
    }

    public static Task<TransportConnection> AuthenticateAsServerAsync(
        TransportConnection underlying, string remoteEndpoint, TlsOptions tls, SslStreamCertificateContext serverCertificate, TransportOptions options, CancellationToken cancellationToken)
    {
        var validator = new CertificateValidator(tls, isServer: true, targetHost: null);
        var authentication = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = serverCertificate,
            ClientCertificateRequired = tls.RequireClientCertificate,
            CertificateChainPolicy = tls.RequireClientCertificate ? CreateChainPolicy(tls) : null,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,

            // Without a required client certificate there is nothing to validate: none is asked for.
            RemoteCertificateValidationCallback = tls.RequireClientCertificate ? validator.Validate : null,
        };
        return AuthenticateAsync(underlying, remoteEndpoint, tls, options, validator, (ssl, token) => ssl.AuthenticateAsServerAsync(authentication, token), cancellationToken);
    }

    /// <summary>Fails fast on options that would make every handshake fail, with the name of the setting.</summary>
    public static void Validate(TlsOptions tls)
    {
        if (tls.HandshakeTimeout <= TimeSpan.Zero || tls.HandshakeTimeout.TotalMilliseconds > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(tls), tls.HandshakeTimeout, "TlsOptions.HandshakeTimeout must be positive and finite: a handshake without a deadline lets a silent peer hold a connection forever.");
        }

        if (tls.ClientCertificate is { HasPrivateKey: false })
        {
            throw new InvalidOperationException($"TlsOptions.ClientCertificate ('{tls.ClientCertificate.Subject}') has no private key; load it with its key (for example from a PFX).");
        }
    }

    private static async Task<TransportConnection> AuthenticateAsync(
        TransportConnection underlying,
        string remoteEndpoint,
        TlsOptions tls,
        TransportOptions options,
        CertificateValidator validator,
        Func<SslStream, CancellationToken, Task> authenticate,
        CancellationToken cancellationToken)
    {
        var pipeStream = new DuplexPipeStream(underlying.Transport);
        var ssl = new SslStream(pipeStream, leaveInnerStreamOpen: true);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(tls.HandshakeTimeout);

        // A read blocked in the handshake ends when the token fires; dropping the connection as well guarantees that
        // nothing (a write into a full kernel buffer, say) outlives the deadline.
        using (deadline.Token.Register(() => underlying.Abort(new IOException("The TLS handshake did not complete in time."))))
        {
            try
            {
                await authenticate(ssl, deadline.Token).ConfigureAwait(false);

                // The deadline may have fired (and dropped the connection) just as the handshake finished.
                deadline.Token.ThrowIfCancellationRequested();
            }
            catch (Exception ex)
            {
                await ssl.DisposeAsync().ConfigureAwait(false);
                underlying.Abort();
                await underlying.DisposeAsync().ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();

                // Read from the source, not from our callback: callbacks run newest first, so SslStream's own
                // registration may fail the handshake before ours has run.
                throw Describe(ex, remoteEndpoint, tls, pipeStream, validator, timedOut: deadline.IsCancellationRequested);
            }
        }

        var connection = new StreamTransportConnection(
            ssl,
            remoteEndpoint,
            options,
            // A TCP half close only, no TLS close_notify: SslStream.ShutdownAsync drives OpenSSL on the sending thread while
            // the receive loop may be decrypting on its own thread, and that concurrent use of one SSL object crashed the
            // process (SIGSEGV in SSL_do_handshake, .NET 10.0.12 / OpenSSL 3.0). Nothing is lost: the peer reads end of stream
            // at a record boundary as a clean close, and Rpc frames carry their length, so a truncated frame is still an error.
            shutdownSend: _ => underlying.Transport.Output.CompleteAsync(),
            abortUnderlying: underlying.Abort,
            releaseUnderlying: underlying.DisposeAsync);
        connection.Start();
        return connection;
    }

    private static Exception Describe(Exception error, string remoteEndpoint, TlsOptions tls, DuplexPipeStream pipeStream, CertificateValidator validator, bool timedOut)
    {
        var prefix = $"The TLS handshake with {remoteEndpoint} failed: ";
        if (pipeStream.NonTlsFirstByte is { } first)
        {
            return new AuthenticationException(prefix + string.Create(System.Globalization.CultureInfo.InvariantCulture, $"the peer did not speak TLS (its first byte was 0x{first:X2}); is it a plain tcp:// endpoint?"), error);
        }

        if (validator.Failure is { } rejected)
        {
            return new AuthenticationException(prefix + rejected, error);
        }

        if (timedOut)
        {
            return new TimeoutException(
                $"The TLS handshake with {remoteEndpoint} did not complete within {tls.HandshakeTimeout.TotalSeconds:0.###} s (TlsOptions.HandshakeTimeout): the peer did not answer; is it a plain tcp:// endpoint, or overloaded?",
                error);
        }

        if (error is IOException && error.InnerException is null && error.Message.Contains("EOF", StringComparison.OrdinalIgnoreCase))
        {
            return new AuthenticationException(prefix + "the peer closed the connection during the handshake (it may not speak TLS, or it rejected our certificate or protocol versions).", error);
        }

        return new AuthenticationException(prefix + error.Message, error);
    }

    /// <summary>
    /// Chains are built against <see cref="TlsOptions.TrustedRoots"/> only when they are given, otherwise against the
    /// system store (a null policy). Revocation is not checked: private CAs rarely publish CRLs, and an unreachable CRL
    /// server would fail every handshake.
    /// </summary>
    private static X509ChainPolicy? CreateChainPolicy(TlsOptions tls)
    {
        if (tls.TrustedRoots is not { Count: > 0 } roots)
        {
            return null;
        }

        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
        };
        policy.CustomTrustStore.AddRange(roots);
        return policy;
    }

    /// <summary>
    /// Accepts the peer's certificate only when the platform found no error at all, then runs the user's extra check.
    /// It exists to say in words why a certificate was rejected; it can never turn a failure into a success.
    /// </summary>
    private sealed class CertificateValidator(TlsOptions tls, bool isServer, string? targetHost)
    {
        public string? Failure { get; private set; }

        public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
        {
            var peer = isServer ? "the client" : "the server";
            if (errors != SslPolicyErrors.None)
            {
                Failure = Explain(errors, chain, peer);
                return false;
            }

            if (tls.RemoteCertificateValidation is { } check && certificate is X509Certificate2 certificate2 && chain is not null)
            {
                bool accepted;
                try
                {
                    accepted = check(certificate2, chain);
                }
                catch (Exception ex)
                {
                    Failure = $"TlsOptions.RemoteCertificateValidation threw for {peer}'s certificate '{certificate2.Subject}': {ex.Message}";
                    return false;
                }

                if (!accepted)
                {
                    Failure = $"TlsOptions.RemoteCertificateValidation rejected {peer}'s certificate '{certificate2.Subject}'.";
                    return false;
                }
            }

            return true;
        }

        private string Explain(SslPolicyErrors errors, X509Chain? chain, string peer)
        {
            if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
            {
                return isServer
                    ? "the client sent no certificate, and TlsOptions.RequireClientCertificate is set."
                    : "the server sent no certificate.";
            }

            var reasons = new System.Collections.Generic.List<string>();
            if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
            {
                reasons.Add($"its certificate is not valid for the host name '{targetHost}' (set TlsOptions.TargetHost if the endpoint names the host differently)");
            }

            if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
            {
                var status = chain?.ChainStatus.Where(s => s.Status != X509ChainStatusFlags.NoError).Select(s => s.Status.ToString()).Distinct() ?? [];
                reasons.Add($"its certificate is not trusted ({string.Join(", ", status)}; a private CA belongs in TlsOptions.TrustedRoots)");
            }

            return $"{peer} was rejected: {string.Join("; ", reasons)}.";
        }
    }
}
