//! Sans-IO TLS around the plaintext CAPF and TVS sessions (feature `tls`).
//!
//! The protocol state machines of this crate read and write the *plaintext*
//! stream. This module puts [rustls] (itself sans-IO) in front of them so a
//! host moves only TCP bytes:
//!
//! ```text
//! TCP bytes in  ──► receive_tcp(bytes) ──► plaintext for the session
//! session frame ──► send_plaintext(frame)          (one frame = one TLS write)
//! take_tcp_output() ──► TCP bytes out
//! ```
//!
//! [`TlsServerTransport`] (the CAPF/TVS server) and [`TlsClientTransport`]
//! (the phone) share the same small API and know nothing about CAPF: the
//! plaintext is opaque bytes, so TVS uses the same layer.
//!
//! Configuration helpers:
//!
//! * [`server_config`]: TLS 1.2 and 1.3, never asks for a client certificate
//!   (spec section 2: the phone is authenticated inside the protocol).
//!   [`server_config_with_client_verifier`] asks for one (provisioning, SIP
//!   or NAC servers checking a phone's LSC/MIC) and
//!   [`client_config_with_certificate`] presents one.
//! * Verifiers that explain a refusal (reason and fix from the trust
//!   evaluator): [`crate::trust::verifiers`].
//! * [`client_config_pinned`]: accept exactly the given server certificates —
//!   what a CTL/ITL record with role CAPF pins. **This is the right default for
//!   CAPF**: the CAPF certificate is a self-signed CA:TRUE (pathlen 0)
//!   certificate, which rustls-webpki refuses as an end entity
//!   (`CaUsedAsEndEntity`), so a pure WebPKI chain check can never accept it.
//! * [`client_config_with_roots_at`]: chain verification against the given
//!   anchors on the trust evaluator, without a host-name check (phones and
//!   the reference client do not check names), dates judged at the host's
//!   [`TimeSource`]. A server certificate that is byte-for-byte one of the
//!   given anchors is its own anchor (as OpenSSL treats a self-signed
//!   certificate in its trust store), which also covers the CA:TRUE CAPF
//!   certificate. A refusal carries the evaluator's reason and fix.
//!
//! In both client modes the handshake signatures are still verified with the
//! crypto provider's algorithms, so a peer must hold the private key of the
//! certificate it presents.
//!
//! Records: a frame of up to 16 384 bytes handed to
//! [`send_plaintext`](TlsServerTransport::send_plaintext) leaves in exactly one
//! TLS application-data record (spec section 2: real phones stall when a
//! frame's header and body arrive in separate records). A larger frame still
//! goes in one write, spread over consecutive records, as TLS requires (the
//! same as OpenSSL's `SSL_write`). Frames written before the handshake has
//! completed are queued and sent one record per frame when it completes.
//!
//! Errors: after any [`TlsError`] from [`receive_tcp`](TlsServerTransport::receive_tcp)
//! the connection is dead; call `take_tcp_output` once more to send the alert
//! rustls queued, then close the TCP connection.
//!
//! Clock: [`RootsVerifier`] judges validity at the host's [`TimeSource`],
//! never at a clock of its own; the pinned verifier does not look at time at
//! all.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, Connection, DigitallySignedStruct,
    ServerConfig, ServerConnection, SignatureScheme, SupportedProtocolVersion,
};
use std::io::{Read, Write};
use std::sync::Arc;

pub use rustls;

use crate::time::Timestamp;
use crate::trust::{EvaluationOptions, Purpose, ServerRole, StoreKind, TrustStore};

/// What went wrong in the TLS layer. Carries no key material.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The TLS protocol failed (handshake refused, bad record, certificate
    /// not trusted, …). The connection is unusable; send the queued alert
    /// (`take_tcp_output`) and close.
    #[error("TLS: {0}")]
    Protocol(#[from] rustls::Error),
    /// No certificate was given where at least one is needed.
    #[error("no certificate given")]
    NoCertificates,
    /// The private key is not PKCS#8, PKCS#1 (RSA) or SEC1 (EC) DER.
    #[error("the private key is not PKCS#8, PKCS#1 or SEC1 DER")]
    InvalidPrivateKey,
    /// A trust anchor could not be parsed as an X.509 certificate.
    #[error("trust anchor {index} is not a usable certificate: {reason}")]
    InvalidTrustAnchor {
        /// Position of the certificate in the list given.
        index: usize,
        /// Why webpki refused it.
        reason: String,
    },
    /// The server name given to the client is neither a DNS name nor an IP
    /// address.
    #[error("invalid server name {0:?}")]
    InvalidServerName(String),
    /// The TCP stream ended without a TLS close_notify (a truncation attack or
    /// a peer that just dropped the connection).
    #[error("the TCP stream ended without a TLS close_notify")]
    Truncated,
    /// The transport was used after a fatal error.
    #[error("the TLS connection already failed")]
    Failed,
    /// Plaintext was offered after close_notify was sent.
    #[error("cannot send after close_notify")]
    Closed,
    /// Another [`TlsEngine`](crate::connection::TlsEngine) than rustls
    /// failed (handshake refused, bad record, alert); its readable cause,
    /// without key material.
    #[error("TLS: {0}")]
    Engine(String),
}

/// Which TLS protocol versions a configuration enables.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsVersions {
    /// TLS 1.2 and TLS 1.3 (the default).
    #[default]
    Tls12AndTls13,
    /// TLS 1.2 only.
    Tls12Only,
    /// TLS 1.3 only.
    Tls13Only,
}

impl TlsVersions {
    fn versions(self) -> &'static [&'static SupportedProtocolVersion] {
        static BOTH: [&SupportedProtocolVersion; 2] =
            [&rustls::version::TLS13, &rustls::version::TLS12];
        static TLS12: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
        static TLS13: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
        match self {
            Self::Tls12AndTls13 => &BOTH,
            Self::Tls12Only => &TLS12,
            Self::Tls13Only => &TLS13,
        }
    }
}

/// The rustls provider of the crate's crypto-provider feature.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(crate::crypto_provider::rustls_provider())
}

/// The provider of a server: the same suites, AES-128-GCM with SHA-256
/// first. Both providers (and rustls clients) put AES-256-GCM with SHA-384
/// first, but a CAPF or TVS session carries a few kilobytes: the larger
/// key buys nothing there, while SHA-384 hashes the transcript and derives
/// every key on the slower SHA-512 core. Measured under `benches/load.sh`
/// (EC P-256 CAPF certificate): SHA-512 was 7 % of the server's CPU, its
/// SHA-256 replacement 1.6 %.
fn server_provider() -> Arc<CryptoProvider> {
    let mut provider = crate::crypto_provider::rustls_provider();
    provider.cipher_suites.sort_by_key(|suite| {
        !matches!(
            suite.suite(),
            rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
                | rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        )
    });
    Arc::new(provider)
}

/// Server configuration: TLS 1.2 and 1.3, no client authentication.
///
/// `certificate_chain_der` starts with the server (CAPF/TVS) certificate;
/// `private_key_der` is its key as PKCS#8, PKCS#1 or SEC1 DER.
pub fn server_config(
    certificate_chain_der: &[Vec<u8>],
    private_key_der: &[u8],
) -> Result<Arc<ServerConfig>, TlsError> {
    server_config_with_versions(
        certificate_chain_der,
        private_key_der,
        TlsVersions::default(),
    )
}

/// [`server_config`] with a choice of protocol versions.
pub fn server_config_with_versions(
    certificate_chain_der: &[Vec<u8>],
    private_key_der: &[u8],
    versions: TlsVersions,
) -> Result<Arc<ServerConfig>, TlsError> {
    build_server_config(certificate_chain_der, private_key_der, None, versions)
}

/// Server configuration that asks for a client certificate and checks it
/// with `verifier` (for example
/// [`DeviceClientVerifier`](crate::trust::verifiers::DeviceClientVerifier):
/// a provisioning or SIP server checking a phone's LSC or MIC). Whether a
/// client without a certificate is refused is the verifier's
/// `client_auth_mandatory`.
pub fn server_config_with_client_verifier(
    certificate_chain_der: &[Vec<u8>],
    private_key_der: &[u8],
    verifier: Arc<dyn rustls::server::danger::ClientCertVerifier>,
    versions: TlsVersions,
) -> Result<Arc<ServerConfig>, TlsError> {
    build_server_config(
        certificate_chain_der,
        private_key_der,
        Some(verifier),
        versions,
    )
}

fn build_server_config(
    certificate_chain_der: &[Vec<u8>],
    private_key_der: &[u8],
    client_verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
    versions: TlsVersions,
) -> Result<Arc<ServerConfig>, TlsError> {
    let (chain, key) = own_credential(certificate_chain_der, private_key_der)?;
    let builder = ServerConfig::builder_with_provider(server_provider())
        .with_protocol_versions(versions.versions())?;
    let builder = match client_verifier {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key)?;
    // Phones do not resume sessions; tickets would only add records.
    config.send_tls13_tickets = 0;
    // CAPF is server-speaks-first: with TLS 1.3 the session's first frame
    // (AUTH_REQUEST: the session id and the authentication asked for,
    // nothing secret and nothing that depends on what the phone sent) goes
    // out with the server's first flight instead of a round trip later.
    // rustls sends such 0.5-RTT data only when it asks for no client
    // certificate; TLS 1.2 has none.
    config.send_half_rtt_data = true;
    // The server's order picks the suite (see `server_provider`).
    config.ignore_client_order = true;
    Ok(Arc::new(config))
}

/// The certificate chain and private key this end presents, as rustls
/// takes them.
fn own_credential(
    certificate_chain_der: &[Vec<u8>],
    private_key_der: &[u8],
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    if certificate_chain_der.is_empty() {
        return Err(TlsError::NoCertificates);
    }
    let chain = certificate_chain_der
        .iter()
        .map(|der| CertificateDer::from(der.clone()))
        .collect();
    let key = PrivateKeyDer::try_from(private_key_der.to_vec())
        .map_err(|_| TlsError::InvalidPrivateKey)?;
    Ok((chain, key))
}

/// [`client_config`] that also presents a client certificate (a phone's
/// LSC or MIC): `certificate_chain_der` starts with it, `private_key_der`
/// is its key (PKCS#8, PKCS#1 or SEC1 DER).
pub fn client_config_with_certificate(
    verifier: Arc<dyn ServerCertVerifier>,
    certificate_chain_der: &[Vec<u8>],
    private_key_der: &[u8],
    versions: TlsVersions,
) -> Result<Arc<ClientConfig>, TlsError> {
    let (chain, key) = own_credential(certificate_chain_der, private_key_der)?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions.versions())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(chain, key)?;
    Ok(finish_client_config(config))
}

/// Client configuration that verifies the server's chain against
/// `roots_der` for a server of `role`, without a host-name check, judging
/// dates at the host's `clock` (see [`RootsVerifier`]). TLS 1.2 and 1.3.
pub fn client_config_with_roots_at(
    roots_der: &[Vec<u8>],
    role: ServerRole,
    clock: Arc<dyn TimeSource>,
) -> Result<Arc<ClientConfig>, TlsError> {
    client_config(
        RootsVerifier::with_time_source(roots_der, role, clock)?,
        TlsVersions::default(),
    )
}

/// Client configuration that accepts exactly the given server certificates
/// (see [`PinnedVerifier`]): what a CTL/ITL CAPF record pins. TLS 1.2 and 1.3.
pub fn client_config_pinned(certificates_der: &[Vec<u8>]) -> Result<Arc<ClientConfig>, TlsError> {
    client_config(
        PinnedVerifier::new(certificates_der)?,
        TlsVersions::default(),
    )
}

/// Client configuration with any server-certificate verifier and a choice of
/// protocol versions; no client certificate is offered.
pub fn client_config(
    verifier: Arc<dyn ServerCertVerifier>,
    versions: TlsVersions,
) -> Result<Arc<ClientConfig>, TlsError> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions.versions())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(finish_client_config(config))
}

fn finish_client_config(mut config: ClientConfig) -> Arc<ClientConfig> {
    // Names are not checked, so announcing one serves no purpose.
    config.enable_sni = false;
    config.resumption = rustls::client::Resumption::disabled();
    Arc::new(config)
}

/// The handshake-signature half of every verifier of this crate: the
/// crypto provider's algorithms (RSA of 2048 bits or more, ECDSA, Ed25519),
/// so a peer must hold the private key of the certificate it presents,
/// whatever decided that the certificate itself is trusted.
#[derive(Debug)]
pub(crate) struct HandshakeSignatures(WebPkiSupportedAlgorithms);

impl HandshakeSignatures {
    pub(crate) fn new() -> Self {
        Self(provider().signature_verification_algorithms)
    }

    pub(crate) fn verify_tls12(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    pub(crate) fn verify_tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    pub(crate) fn schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// The three handshake-signature methods of a rustls server or client
/// certificate verifier, handed to the verifier's `signatures` field (a
/// [`HandshakeSignatures`]).
macro_rules! handshake_signature_methods {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &::rustls::pki_types::CertificateDer<'_>,
            dss: &::rustls::DigitallySignedStruct,
        ) -> Result<::rustls::client::danger::HandshakeSignatureValid, ::rustls::Error> {
            self.signatures.verify_tls12(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &::rustls::pki_types::CertificateDer<'_>,
            dss: &::rustls::DigitallySignedStruct,
        ) -> Result<::rustls::client::danger::HandshakeSignatureValid, ::rustls::Error> {
            self.signatures.verify_tls13(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<::rustls::SignatureScheme> {
            self.signatures.schemes()
        }
    };
}
pub(crate) use handshake_signature_methods;

/// Accepts exactly the pinned server certificates (byte-for-byte DER
/// equality of the end-entity certificate); intermediates sent by the server
/// are ignored, validity dates and extensions are not looked at (a trust-list
/// pin is the whole decision). Handshake signatures are verified with the
/// crypto provider's algorithms against the pinned certificate's key.
#[derive(Debug)]
pub struct PinnedVerifier {
    pinned: Vec<Vec<u8>>,
    signatures: HandshakeSignatures,
}

impl PinnedVerifier {
    /// A verifier accepting any of `certificates_der` (at least one).
    pub fn new(certificates_der: &[Vec<u8>]) -> Result<Arc<Self>, TlsError> {
        if certificates_der.is_empty() {
            return Err(TlsError::NoCertificates);
        }
        Ok(Arc::new(Self {
            pinned: certificates_der.to_vec(),
            signatures: HandshakeSignatures::new(),
        }))
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self
            .pinned
            .iter()
            .any(|pinned| pinned.as_slice() == end_entity.as_ref())
        {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(CertificateError::UnknownIssuer.into())
        }
    }

    handshake_signature_methods!();
}

/// Where a verifier takes "now" from. The core reads no clock: the host
/// supplies one (the CLI passes the system clock, a test a fixed instant).
/// Any `Fn() -> Timestamp + Send + Sync` is one.
///
/// ```
/// use capf_core::time::Timestamp;
/// use capf_core::tls::TimeSource;
/// let fixed = || Timestamp::from_unix_seconds(1_735_689_600);
/// assert_eq!(fixed.now().unix_seconds(), 1_735_689_600);
/// ```
pub trait TimeSource: Send + Sync {
    /// The current wall-clock time.
    fn now(&self) -> Timestamp;
}

impl<F: Fn() -> Timestamp + Send + Sync> TimeSource for F {
    fn now(&self) -> Timestamp {
        self()
    }
}

/// The host's clock, as a verifier holds it.
#[derive(Clone)]
pub(crate) struct VerifierClock(pub(crate) Arc<dyn TimeSource>);

impl core::fmt::Debug for VerifierClock {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("host clock")
    }
}

/// Chain verification of a server against given trust anchors, without a
/// host-name check (phones and the reference client do not check names), on
/// the trust evaluator ([`crate::trust::evaluate_with`]): the anchors form
/// one CA store, the purpose is [`Purpose::TlsServer`] for the configured
/// role. rustls-webpki builds the path through the intermediates the server
/// sent and checks signatures, validity, CA constraints and EKU serverAuth
/// when present; the evaluator adds keyUsage and the path-length limit. A
/// server certificate that is byte-for-byte one of the anchors is its own
/// anchor (the self-signed CA:TRUE CAPF and TVS certificates), its dates
/// and key usages still judged.
///
/// Dates are judged at the host's [`TimeSource`]
/// ([`with_time_source`](Self::with_time_source)). A refusal is
/// `InvalidCertificate(Other)` carrying the evaluator's
/// [`Failure`](crate::trust::Failure): read it with
/// [`crate::trust::verifiers::failure_of`].
#[derive(Debug)]
pub struct RootsVerifier {
    stores: Vec<TrustStore>,
    purpose: Purpose,
    clock: VerifierClock,
    signatures: HandshakeSignatures,
}

impl RootsVerifier {
    /// A verifier trusting `roots_der` (at least one certificate) for
    /// servers of `role`, judging dates at `clock`.
    pub fn with_time_source(
        roots_der: &[Vec<u8>],
        role: ServerRole,
        clock: Arc<dyn TimeSource>,
    ) -> Result<Arc<Self>, TlsError> {
        let clock = VerifierClock(clock);
        if roots_der.is_empty() {
            return Err(TlsError::NoCertificates);
        }
        let mut store = TrustStore::new(StoreKind::EnterpriseRoots, "trusted CAs");
        for (index, der) in roots_der.iter().enumerate() {
            // The same test a chain anchor must pass later.
            webpki::anchor_from_trusted_cert(&CertificateDer::from(der.as_slice())).map_err(
                |error| TlsError::InvalidTrustAnchor {
                    index,
                    reason: format!("{error:?}"),
                },
            )?;
            store
                .add_certificate(der, &[])
                .map_err(|error| TlsError::InvalidTrustAnchor {
                    index,
                    reason: error.to_string(),
                })?;
        }
        Ok(Arc::new(Self {
            stores: vec![store],
            purpose: Purpose::TlsServer { role, host: None },
            clock,
            signatures: HandshakeSignatures::new(),
        }))
    }
}

impl ServerCertVerifier for RootsVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The host's clock, not the instant rustls read from the system.
        crate::trust::refusal::judge(
            end_entity,
            intermediates,
            &self.purpose,
            &self.stores,
            self.clock.0.now(),
            &EvaluationOptions::default(),
        )
        .map(|()| ServerCertVerified::assertion())
    }

    handshake_signature_methods!();
}

/// The shared engine of both transports.
#[derive(Debug)]
struct Engine {
    connection: Connection,
    peer_closed: bool,
    failed: bool,
    close_sent: bool,
}

impl Engine {
    fn new(mut connection: Connection) -> Self {
        // Frames must never be cut by a buffer limit: the host bounds what it
        // sends, and a partial write would split a frame across records.
        connection.set_buffer_limit(None);
        Self {
            connection,
            peer_closed: false,
            failed: false,
            close_sent: false,
        }
    }

    fn receive_tcp(&mut self, mut bytes: &[u8]) -> Result<Vec<u8>, TlsError> {
        if self.failed {
            return Err(TlsError::Failed);
        }
        let mut plaintext = Vec::new();
        while !bytes.is_empty() {
            // Reading from a slice fails only when rustls' receive buffer is
            // full, which cannot happen as every chunk is processed below.
            let Ok(read) = self.connection.read_tls(&mut bytes) else {
                self.failed = true;
                return Err(TlsError::Failed);
            };
            let state = match self.connection.process_new_packets() {
                Ok(state) => state,
                Err(error) => {
                    self.failed = true;
                    return Err(error.into());
                }
            };
            self.drain_plaintext(&mut plaintext);
            if state.peer_has_closed() {
                self.peer_closed = true;
            }
            if read == 0 && !bytes.is_empty() && state.plaintext_bytes_to_read() == 0 {
                // rustls accepted nothing although input remains: only after
                // close_notify does rustls stop reading; ignore the rest.
                break;
            }
        }
        Ok(plaintext)
    }

    fn drain_plaintext(&mut self, out: &mut Vec<u8>) {
        let mut buffer = [0_u8; 4096];
        loop {
            match self.connection.reader().read(&mut buffer) {
                Ok(0) => {
                    self.peer_closed = true;
                    break;
                }
                Ok(count) => out.extend_from_slice(buffer.get(..count).unwrap_or_default()),
                // WouldBlock: nothing more for now. UnexpectedEof cannot
                // happen (we never signal TCP EOF to rustls).
                Err(_) => break,
            }
        }
    }

    fn send_plaintext(&mut self, frame: &[u8]) -> Result<(), TlsError> {
        if self.failed {
            return Err(TlsError::Failed);
        }
        if self.close_sent {
            return Err(TlsError::Closed);
        }
        if frame.is_empty() {
            return Ok(());
        }
        // With no buffer limit rustls takes the whole frame in one call and
        // encrypts it as one record (up to the 16 KiB TLS limit).
        match self.connection.writer().write(frame) {
            Ok(written) if written == frame.len() => Ok(()),
            _ => {
                self.failed = true;
                Err(TlsError::Failed)
            }
        }
    }

    fn take_tcp_output(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while self.connection.wants_write() {
            match self.connection.write_tls(&mut out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        out
    }

    fn send_close_notify(&mut self) {
        if !self.close_sent {
            self.connection.send_close_notify();
            self.close_sent = true;
        }
    }

    fn tcp_closed(&mut self) -> Result<(), TlsError> {
        if self.peer_closed {
            Ok(())
        } else {
            self.failed = true;
            Err(TlsError::Truncated)
        }
    }
}

macro_rules! transport_api {
    ($name:ident) => {
        impl $name {
            /// Feeds bytes received from TCP (any chunking) and returns the
            /// plaintext they completed (possibly empty). Handshake replies
            /// become available from [`take_tcp_output`](Self::take_tcp_output).
            pub fn receive_tcp(&mut self, bytes: &[u8]) -> Result<Vec<u8>, TlsError> {
                self.engine.receive_tcp(bytes)
            }

            /// Queues one whole frame as one TLS write (one record up to
            /// 16 384 bytes). Before the handshake completes the frame is held
            /// and sent, still as its own record, once it does.
            pub fn send_plaintext(&mut self, frame: &[u8]) -> Result<(), TlsError> {
                self.engine.send_plaintext(frame)
            }

            /// Everything that must now go to the peer over TCP (handshake,
            /// records, alerts). Call after every other method.
            pub fn take_tcp_output(&mut self) -> Vec<u8> {
                self.engine.take_tcp_output()
            }

            /// Whether TCP output is waiting in [`take_tcp_output`](Self::take_tcp_output).
            pub fn has_tcp_output(&self) -> bool {
                self.engine.connection.wants_write()
            }

            /// Whether the TLS handshake is still running.
            pub fn is_handshaking(&self) -> bool {
                self.engine.connection.is_handshaking()
            }

            /// Queues a close_notify alert; no plaintext may follow.
            pub fn send_close_notify(&mut self) {
                self.engine.send_close_notify()
            }

            /// Whether the peer sent close_notify (no more plaintext will come).
            pub fn peer_closed(&self) -> bool {
                self.engine.peer_closed
            }

            /// Whether the host should close: the peer closed, or the
            /// connection failed. Send the remaining TCP output first.
            pub fn wants_close(&self) -> bool {
                self.engine.peer_closed || self.engine.failed
            }

            /// Tells the transport the TCP stream ended. `Ok` if the peer had
            /// sent close_notify, [`TlsError::Truncated`] otherwise.
            pub fn tcp_closed(&mut self) -> Result<(), TlsError> {
                self.engine.tcp_closed()
            }

            /// The negotiated protocol version, once known.
            pub fn protocol_version(&self) -> Option<rustls::ProtocolVersion> {
                self.engine.connection.protocol_version()
            }

            /// The negotiated cipher suite's name (`TLS13_AES_128_GCM_SHA256`),
            /// once known: for logs.
            pub fn cipher_suite_name(&self) -> Option<String> {
                self.engine
                    .connection
                    .negotiated_cipher_suite()
                    .map(|suite| format!("{:?}", suite.suite()))
            }

            /// The certificates the peer presented, once the handshake got
            /// that far (the server's chain on the client side; on the server
            /// side only with [`server_config_with_client_verifier`], the
            /// others never ask for one).
            pub fn peer_certificates(&self) -> Option<Vec<Vec<u8>>> {
                self.engine
                    .connection
                    .peer_certificates()
                    .map(|chain| chain.iter().map(|der| der.as_ref().to_vec()).collect())
            }
        }
    };
}

/// The server side (CAPF, TVS): wraps a [`rustls::ServerConnection`].
#[derive(Debug)]
pub struct TlsServerTransport {
    engine: Engine,
}

impl TlsServerTransport {
    /// A transport for one accepted TCP connection.
    pub fn new(config: Arc<ServerConfig>) -> Result<Self, TlsError> {
        let connection = ServerConnection::new(config)?;
        Ok(Self {
            engine: Engine::new(Connection::Server(connection)),
        })
    }
}

transport_api!(TlsServerTransport);

/// The phone side: wraps a [`rustls::ClientConnection`].
#[derive(Debug)]
pub struct TlsClientTransport {
    engine: Engine,
}

impl TlsClientTransport {
    /// A transport for one outgoing TCP connection to `server` (a DNS name
    /// or an IP address; only used by custom verifiers, the ones in this
    /// module do not check names and SNI is off). The ClientHello is ready in
    /// [`take_tcp_output`](Self::take_tcp_output) right away.
    pub fn new(config: Arc<ClientConfig>, server: &str) -> Result<Self, TlsError> {
        let name = ServerName::try_from(server.to_owned())
            .map_err(|_| TlsError::InvalidServerName(server.to_owned()))?;
        let connection = ClientConnection::new(config, name)?;
        Ok(Self {
            engine: Engine::new(Connection::Client(connection)),
        })
    }
}

transport_api!(TlsClientTransport);
