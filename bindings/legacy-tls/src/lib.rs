//! An OpenSSL [`TlsEngine`] for capf: the CAPF and TVS sessions of
//! `capf-core` over TLS 1.0, 1.1 and 1.2 with the CBC and RSA key-exchange
//! suites (`AES128-SHA`, `AES256-SHA`, `DES-CBC3-SHA` where the OpenSSL
//! build still has it) that older Cisco phones speak (the 7940G/7960G and
//! older firmware of later series). rustls refuses all of these by design.
//!
//! The engine is sans-IO like rustls' transports: an
//! [`openssl::ssl::SslStream`] over an in-memory pipe (two byte queues),
//! so [`capf_core::connection::TlsConnection`] drives it exactly as it
//! drives rustls and keeps every host rule (one frame per TLS record, the
//! handshake deadline, peer close and failures told to the session,
//! close_notify at the end, the session's order). No rule is copied here:
//! this crate only encrypts and decrypts.
//!
//! # Why it is weaker, and off by default
//!
//! [`LegacyServerConfig`] runs OpenSSL at security level 0: it accepts TLS
//! 1.0 and 1.1 (deprecated by RFC 8996), CBC suites with HMAC-SHA1 (the
//! padding-oracle family: Lucky13, BEAST against TLS 1.0), RSA key exchange
//! (no forward secrecy: whoever gets the server's key later decrypts
//! recorded sessions) and SHA-1 handshake signatures. Modern suites stay
//! first in the server's order, so a modern client still gets ECDHE with
//! AES-GCM or TLS 1.3 from the same listener; only clients that offer
//! nothing better get the old suites. Use it only for the phones that need
//! it, on a network you control.
//!
//! # Why the distribution's OpenSSL
//!
//! The crate links the system libssl (`libssl-dev` and `pkg-config`,
//! installed idempotently by the workspace's `scripts/setup.sh`), not the
//! `openssl` crate's `vendored` build: a C build of OpenSSL takes minutes
//! on the project's 2-core CI, and the distribution's library gets its
//! security updates with the system. `capf-core` stays free of OpenSSL and
//! of `unsafe`; this crate contains no `unsafe` code either.
//!
//! # Frames and records
//!
//! Each [`TlsEngine::send_plaintext`] is one `SSL_write`, which OpenSSL
//! seals as one record (frames are under the 16 KiB record limit).
//! OpenSSL's TLS 1.0 CBC countermeasure (an empty record before each data
//! record) is switched off (`SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS`), so a
//! frame is exactly one record on every version; the phones that need TLS
//! 1.0 predate BEAST's 1/n-1 split and stall on a split frame.
//!
//! # Example
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use capf_legacy_tls::{LegacyClientConfig, LegacyServerConfig, LegacyVersion};
//! use capf_core::connection::TlsEngine;
//!
//! let certificate = pem_der(include_str!("../tests/fixtures/capf-rsa2048.cert.pem"));
//! let key = pem_der(include_str!("../tests/fixtures/capf-rsa2048.key.pem"));
//! let server = LegacyServerConfig::new(&[certificate.clone()], &key)?;
//! // A phone of the 7940G kind: TLS 1.0, AES128-SHA, nothing else.
//! let client = LegacyClientConfig::new(
//!     &[certificate],
//!     LegacyVersion::Tls10,
//!     LegacyVersion::Tls10,
//!     "AES128-SHA",
//! )?;
//! let mut server = server.engine()?;
//! let mut phone = client.engine()?;
//! phone.send_plaintext(b"hello")?; // held until the handshake completes
//! let mut received = Vec::new();
//! for _ in 0..10 {
//!     let bytes = phone.take_tcp_output();
//!     received.extend(server.receive_tcp(&bytes)?);
//!     let bytes = server.take_tcp_output();
//!     phone.receive_tcp(&bytes)?;
//! }
//! assert_eq!(received, b"hello");
//! assert_eq!(
//!     server.protocol_version(),
//!     Some(capf_core::tls::rustls::ProtocolVersion::TLSv1_0)
//! );
//! assert_eq!(server.cipher_name(), Some("AES128-SHA"));
//! # Ok(())
//! # }
//! # fn pem_der(pem: &str) -> Vec<u8> {
//! #     openssl::pkey::PKey::private_key_from_pem(pem.as_bytes())
//! #         .and_then(|k| k.private_key_to_pkcs8())
//! #         .or_else(|_| openssl::x509::X509::from_pem(pem.as_bytes()).and_then(|c| c.to_der()))
//! #         .unwrap()
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use capf_core::connection::TlsEngine;
use capf_core::tls::TlsError;
use capf_core::tls::rustls::ProtocolVersion;
use openssl::error::ErrorStack;
use openssl::pkey::PKey;
use openssl::ssl::{
    ErrorCode, Ssl, SslContext, SslContextBuilder, SslMethod, SslOptions, SslSessionCacheMode,
    SslStream, SslVerifyMode, SslVersion,
};
use openssl::x509::X509;
use openssl::x509::store::X509StoreBuilder;

/// The server's cipher order (TLS 1.2 and below; TLS 1.3 suites are
/// OpenSSL's defaults): forward-secret AEAD suites first, then ECDHE with
/// CBC, then the RSA key-exchange suites older phones need. Names the
/// OpenSSL build does not have (`DES-CBC3-SHA` on many OpenSSL 3 builds)
/// are skipped by OpenSSL. `@SECLEVEL=0` lets TLS 1.0/1.1, SHA-1 and RSA
/// key exchange through.
pub const LEGACY_CIPHERS: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:\
ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:\
ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:\
AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256:AES256-SHA256:\
AES128-SHA:AES256-SHA:DES-CBC3-SHA:@SECLEVEL=0";

/// Setting up an OpenSSL configuration failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum LegacyError {
    /// No certificate was given.
    #[error("no certificate given")]
    NoCertificates,
    /// A certificate is not X.509 DER.
    #[error("certificate {index} is not an X.509 certificate: {reason}")]
    InvalidCertificate {
        /// Position in the list given.
        index: usize,
        /// What OpenSSL said.
        reason: String,
    },
    /// The private key is not PKCS#8, PKCS#1 or SEC1 DER, or does not
    /// belong to the certificate.
    #[error("the private key is unusable or does not match the certificate")]
    InvalidPrivateKey,
    /// OpenSSL refused a setting (cipher list, versions).
    #[error("OpenSSL: {0}")]
    OpenSsl(String),
}

impl From<ErrorStack> for LegacyError {
    fn from(error: ErrorStack) -> Self {
        Self::OpenSsl(error.to_string())
    }
}

/// A protocol version, for [`LegacyClientConfig`] limits.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyVersion {
    /// TLS 1.0.
    Tls10,
    /// TLS 1.1.
    Tls11,
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl LegacyVersion {
    fn openssl(self) -> SslVersion {
        match self {
            Self::Tls10 => SslVersion::TLS1,
            Self::Tls11 => SslVersion::TLS1_1,
            Self::Tls12 => SslVersion::TLS1_2,
            Self::Tls13 => SslVersion::TLS1_3,
        }
    }
}

/// The server side: a CAPF or TVS certificate and key, TLS 1.0 to 1.3,
/// [`LEGACY_CIPHERS`], security level 0, no client certificate asked.
/// Cheap to clone (OpenSSL counts references).
#[derive(Clone)]
pub struct LegacyServerConfig {
    context: SslContext,
}

impl core::fmt::Debug for LegacyServerConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LegacyServerConfig").finish_non_exhaustive()
    }
}

impl LegacyServerConfig {
    /// `certificate_chain_der` starts with the server's certificate;
    /// `private_key_der` is its key as PKCS#8, PKCS#1 (RSA) or SEC1 (EC)
    /// DER. The RSA key-exchange suites need an RSA certificate (as CAPF
    /// certificates of Unified CM are); with an EC certificate only the
    /// ECDHE-ECDSA suites are possible.
    pub fn new(
        certificate_chain_der: &[Vec<u8>],
        private_key_der: &[u8],
    ) -> Result<Self, LegacyError> {
        let mut builder = SslContextBuilder::new(SslMethod::tls_server())?;
        common_settings(&mut builder)?;
        builder.set_min_proto_version(Some(SslVersion::TLS1))?;
        builder.set_max_proto_version(None)?;
        builder.set_cipher_list(LEGACY_CIPHERS)?;
        builder.set_options(SslOptions::CIPHER_SERVER_PREFERENCE | SslOptions::NO_TICKET);
        // A CAPF or TVS exchange is one connection: no resumption, so no
        // session cache growing with every phone and no tickets to encrypt.
        builder.set_session_cache_mode(SslSessionCacheMode::OFF);
        builder.set_num_tickets(0)?;
        let mut certificates = certificate_chain_der
            .iter()
            .enumerate()
            .map(|(index, der)| {
                X509::from_der(der).map_err(|error| LegacyError::InvalidCertificate {
                    index,
                    reason: error.to_string(),
                })
            });
        let leaf = certificates.next().ok_or(LegacyError::NoCertificates)??;
        builder.set_certificate(&leaf)?;
        for certificate in certificates {
            builder.add_extra_chain_cert(certificate?)?;
        }
        let key = PKey::private_key_from_der(private_key_der)
            .or_else(|_| PKey::private_key_from_pkcs8(private_key_der))
            .map_err(|_| LegacyError::InvalidPrivateKey)?;
        builder
            .set_private_key(&key)
            .map_err(|_| LegacyError::InvalidPrivateKey)?;
        builder
            .check_private_key()
            .map_err(|_| LegacyError::InvalidPrivateKey)?;
        Ok(Self {
            context: builder.build(),
        })
    }

    /// The engine for one accepted TCP connection.
    pub fn engine(&self) -> Result<OpensslEngine, TlsError> {
        let mut ssl = Ssl::new(&self.context).map_err(engine_error)?;
        ssl.set_accept_state();
        OpensslEngine::new(ssl, Side::Server)
    }
}

/// The client side (a test phone, the load generator): trusts the given
/// certificates as anchors (the server's chain must lead to one; no name
/// check, as phones pin the CAPF certificate), within `min..=max` versions
/// and with `ciphers` (an OpenSSL cipher string; TLS 1.3 suites are
/// OpenSSL's defaults).
#[derive(Clone)]
pub struct LegacyClientConfig {
    context: SslContext,
}

impl core::fmt::Debug for LegacyClientConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LegacyClientConfig").finish_non_exhaustive()
    }
}

impl LegacyClientConfig {
    /// A client configuration; see the type's documentation.
    pub fn new(
        trusted_der: &[Vec<u8>],
        min: LegacyVersion,
        max: LegacyVersion,
        ciphers: &str,
    ) -> Result<Self, LegacyError> {
        let mut builder = SslContextBuilder::new(SslMethod::tls_client())?;
        common_settings(&mut builder)?;
        builder.set_min_proto_version(Some(min.openssl()))?;
        builder.set_max_proto_version(Some(max.openssl()))?;
        builder.set_cipher_list(&format!("{ciphers}:@SECLEVEL=0"))?;
        if trusted_der.is_empty() {
            return Err(LegacyError::NoCertificates);
        }
        let mut store = X509StoreBuilder::new()?;
        for (index, der) in trusted_der.iter().enumerate() {
            let certificate =
                X509::from_der(der).map_err(|error| LegacyError::InvalidCertificate {
                    index,
                    reason: error.to_string(),
                })?;
            store.add_cert(certificate)?;
        }
        builder.set_verify_cert_store(store.build())?;
        builder.set_verify(SslVerifyMode::PEER);
        Ok(Self {
            context: builder.build(),
        })
    }

    /// The engine for one outgoing TCP connection; its ClientHello is ready
    /// in [`TlsEngine::take_tcp_output`] at once.
    pub fn engine(&self) -> Result<OpensslEngine, TlsError> {
        let mut ssl = Ssl::new(&self.context).map_err(engine_error)?;
        ssl.set_connect_state();
        let mut engine = OpensslEngine::new(ssl, Side::Client)?;
        engine.advance_handshake()?;
        Ok(engine)
    }
}

/// What both sides set: one record per frame, no compression, no
/// renegotiation, security level 0 (the cipher strings say it too).
fn common_settings(builder: &mut SslContextBuilder) -> Result<(), LegacyError> {
    builder.set_options(
        SslOptions::NO_COMPRESSION
            | SslOptions::DONT_INSERT_EMPTY_FRAGMENTS
            | SslOptions::NO_RENEGOTIATION,
    );
    // SSL_MODE_ENABLE_PARTIAL_WRITE stays off (OpenSSL's default): a
    // frame is written whole or not at all, and the pipe never refuses.
    builder.set_security_level(0);
    Ok(())
}

fn engine_error(error: impl core::fmt::Display) -> TlsError {
    TlsError::Engine(error.to_string())
}

/// The in-memory transport under OpenSSL: ciphertext received from TCP
/// waits in `incoming`; what OpenSSL writes collects in `outgoing`.
#[derive(Default)]
struct Pipe {
    incoming: VecDeque<u8>,
    outgoing: Vec<u8>,
}

impl Read for Pipe {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.incoming.is_empty() {
            // Not an end: more bytes may come from TCP.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.incoming.read(buffer)
    }
}

impl Write for Pipe {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.outgoing.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Server,
    Client,
}

/// One OpenSSL TLS endpoint, sans IO: a [`TlsEngine`] for
/// [`TlsConnection::with_engine`](capf_core::connection::TlsConnection::with_engine).
pub struct OpensslEngine {
    stream: SslStream<Pipe>,
    side: Side,
    handshaking: bool,
    peer_closed: bool,
    failed: bool,
    close_sent: bool,
    /// Frames given before the handshake completed, each still one record.
    held: Vec<Vec<u8>>,
}

impl core::fmt::Debug for OpensslEngine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OpensslEngine")
            .field("side", &self.side)
            .field("handshaking", &self.handshaking)
            .field("peer_closed", &self.peer_closed)
            .field("failed", &self.failed)
            .field("close_sent", &self.close_sent)
            .finish_non_exhaustive()
    }
}

impl OpensslEngine {
    fn new(ssl: Ssl, side: Side) -> Result<Self, TlsError> {
        let stream = SslStream::new(ssl, Pipe::default()).map_err(engine_error)?;
        Ok(Self {
            stream,
            side,
            handshaking: true,
            peer_closed: false,
            failed: false,
            close_sent: false,
            held: Vec::new(),
        })
    }

    /// The negotiated cipher suite's OpenSSL name (`AES128-SHA`,
    /// `ECDHE-RSA-AES128-GCM-SHA256`, `TLS_AES_128_GCM_SHA256`), once the
    /// handshake completed: for logs.
    pub fn cipher_name(&self) -> Option<&'static str> {
        if self.handshaking {
            return None;
        }
        self.stream
            .ssl()
            .current_cipher()
            .map(|cipher| cipher.name())
    }

    fn fail(&mut self, error: impl core::fmt::Display) -> TlsError {
        self.failed = true;
        engine_error(error)
    }

    /// Runs the handshake as far as the received bytes allow; once it
    /// completes, sends the held frames.
    fn advance_handshake(&mut self) -> Result<(), TlsError> {
        if !self.handshaking {
            return Ok(());
        }
        match self.stream.do_handshake() {
            Ok(()) => {
                self.handshaking = false;
                for frame in std::mem::take(&mut self.held) {
                    self.write_frame(&frame)?;
                }
                Ok(())
            }
            Err(error)
                if error.code() == ErrorCode::WANT_READ
                    || error.code() == ErrorCode::WANT_WRITE =>
            {
                Ok(())
            }
            Err(error) => Err(self.fail(describe(&error))),
        }
    }

    fn write_frame(&mut self, frame: &[u8]) -> Result<(), TlsError> {
        match self.stream.ssl_write(frame) {
            Ok(written) if written == frame.len() => Ok(()),
            Ok(_) => Err(self.fail("a frame was written in part")),
            Err(error) => Err(self.fail(describe(&error))),
        }
    }

    fn read_plaintext(&mut self, out: &mut Vec<u8>) -> Result<(), TlsError> {
        let mut buffer = [0_u8; 4096];
        loop {
            match self.stream.ssl_read(&mut buffer) {
                Ok(0) => {
                    self.peer_closed = true;
                    return Ok(());
                }
                Ok(count) => out.extend_from_slice(buffer.get(..count).unwrap_or_default()),
                Err(error) if error.code() == ErrorCode::ZERO_RETURN => {
                    self.peer_closed = true;
                    return Ok(());
                }
                Err(error)
                    if error.code() == ErrorCode::WANT_READ
                        || error.code() == ErrorCode::WANT_WRITE =>
                {
                    return Ok(());
                }
                Err(error) => return Err(self.fail(describe(&error))),
            }
        }
    }
}

/// OpenSSL's reason for a failure (its error stack; no key material).
fn describe(error: &openssl::ssl::Error) -> String {
    match error.ssl_error() {
        Some(stack) => stack.to_string(),
        None => error.to_string(),
    }
}

impl TlsEngine for OpensslEngine {
    fn receive_tcp(&mut self, bytes: &[u8]) -> Result<Vec<u8>, TlsError> {
        if self.failed {
            return Err(TlsError::Failed);
        }
        let mut plaintext = Vec::new();
        if self.peer_closed {
            // Nothing may follow close_notify; ignore the rest.
            return Ok(plaintext);
        }
        self.stream.get_mut().incoming.extend(bytes);
        self.advance_handshake()?;
        if !self.handshaking {
            self.read_plaintext(&mut plaintext)?;
        }
        Ok(plaintext)
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
        if self.handshaking {
            self.held.push(frame.to_vec());
            return Ok(());
        }
        self.write_frame(frame)
    }

    fn take_tcp_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.stream.get_mut().outgoing)
    }

    fn has_tcp_output(&self) -> bool {
        !self.stream.get_ref().outgoing.is_empty()
    }

    fn send_close_notify(&mut self) {
        if self.close_sent {
            return;
        }
        self.close_sent = true;
        if !self.failed && !self.handshaking {
            // The first SSL_shutdown sends close_notify and returns "sent";
            // the peer's answer is not awaited.
            let _sent = self.stream.shutdown();
        }
    }

    fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    fn tcp_closed(&mut self) -> Result<(), TlsError> {
        if self.peer_closed {
            Ok(())
        } else {
            self.failed = true;
            Err(TlsError::Truncated)
        }
    }

    fn is_handshaking(&self) -> bool {
        self.handshaking
    }

    fn protocol_version(&self) -> Option<ProtocolVersion> {
        if self.handshaking {
            return None;
        }
        let version = self.stream.ssl().version2()?;
        Some(if version == SslVersion::TLS1 {
            ProtocolVersion::TLSv1_0
        } else if version == SslVersion::TLS1_1 {
            ProtocolVersion::TLSv1_1
        } else if version == SslVersion::TLS1_2 {
            ProtocolVersion::TLSv1_2
        } else if version == SslVersion::TLS1_3 {
            ProtocolVersion::TLSv1_3
        } else {
            ProtocolVersion::SSLv3
        })
    }

    fn cipher_suite_name(&self) -> Option<String> {
        self.cipher_name().map(str::to_owned)
    }

    fn peer_certificates(&self) -> Option<Vec<Vec<u8>>> {
        let ssl = self.stream.ssl();
        let leaf = ssl.peer_certificate()?.to_der().ok()?;
        let mut chain = vec![leaf];
        if let Some(stack) = ssl.peer_cert_chain() {
            for certificate in stack {
                if let Ok(der) = certificate.to_der()
                    && !chain.contains(&der)
                {
                    chain.push(der);
                }
            }
        }
        Some(chain)
    }
}
