//! One sans-IO TLS connection carrying one session (feature `tls`).
//!
//! [`TlsConnection`] joins any [`Session`] of this crate (CAPF server or
//! phone, TVS server or client) with a TLS engine ([`TlsEngine`]: by
//! default rustls, [`RustlsEngine`] over [`TlsServerTransport`] or
//! [`TlsClientTransport`]; crate `capf-legacy-tls` adds an OpenSSL engine
//! for phones that speak only TLS 1.0 or CBC suites) and keeps every rule a
//! host needs to drive them over a real network, so that a tokio, asyncio or
//! JVM host only moves TCP bytes and answers decisions:
//!
//! * **one frame per TLS record**: every frame the session transmits is one
//!   TLS write, hence one application-data record (old phones stall when a
//!   frame's header and body arrive in separate records), and its TCP bytes
//!   come out as one [`ConnectionOutput::Transmit`];
//! * **order is kept**: outputs come out in the session's order, so the CAPF
//!   server's `RecordOutcome` decision is always answered before the final
//!   END_SESSION leaves (the connection never holds back or reorders a
//!   frame, and holds no frame for a decision either);
//! * **handshake deadline**: with [`ConnectionOptions::handshake_timeout`],
//!   a TLS handshake not completed in time ends the connection
//!   ([`ConnectionOutput::Abandoned`] with [`Abandonment::HandshakeTimeout`]);
//!   the session is not told (nothing happened in it). The deadline is part
//!   of [`poll_timeout`](TlsConnection::poll_timeout);
//! * **peer close, TLS alert, transport error**: a TLS close_notify or a TCP
//!   end becomes the session's [`Session::handle_peer_closed`], a TLS failure
//!   (bad record, alert, refused certificate) or a failed TCP write its
//!   [`Session::handle_transport_error`]; a TLS failure is also reported as a
//!   typed [`ConnectionOutput::TlsFailed`] with a readable cause;
//! * **close_notify after the session is done**: the final
//!   [`ConnectionOutput::Transmit`] before [`ConnectionOutput::Done`] carries
//!   it (not after a TLS failure: the engine's fatal alert ended the
//!   connection).
//!
//! # Driving it
//!
//! ```text
//! connection = TlsConnection::server(tls_config, session, options, now)
//! loop:
//!     while let Some(output) = connection.poll_output():
//!         Transmit(bytes) -> write to TCP whole, in order (on failure:
//!                            connection.handle_transport_error())
//!         Need(decision)  -> answer through connection.session_mut()
//!         TlsFailed(err)  -> log it (the session was told; keep polling)
//!         Done(outcome) / Abandoned(why) -> shut TCP down, stop
//!     wait for the first of:
//!         TCP bytes          -> connection.handle_tcp_input(bytes)
//!         TCP EOF or reset   -> connection.handle_tcp_closed()
//!         poll_timeout()     -> connection.handle_timeout(now)
//! ```
//!
//! A complete in-memory run of a TVS client against a TVS server (real TLS,
//! a self-signed certificate pinned by the client):
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use capf_core::connection::{ConnectionOptions, ConnectionOutput, TlsConnection};
//! use capf_core::time::Timestamp;
//! use capf_core::tls::{client_config_pinned, server_config};
//! use capf_core::tvs::{
//!     KnownCertificate, TvsClientConfig, TvsClientResult, TvsClientSession,
//!     TvsServerConfig, TvsServerDecision, TvsServerSession,
//! };
//!
//! use rustls::pki_types::pem::PemObject;
//! use rustls::pki_types::{CertificateDer, PrivateKeyDer};
//!
//! // A real certificate and key (the test fixtures' P-256 issuer).
//! let certificate = CertificateDer::from_pem_slice(include_bytes!(concat!(
//!     env!("CARGO_MANIFEST_DIR"),
//!     "/tests/fixtures/issuer-ec-p256.cert.pem"
//! )))?
//! .to_vec();
//! let key = PrivateKeyDer::from_pem_slice(include_bytes!(concat!(
//!     env!("CARGO_MANIFEST_DIR"),
//!     "/tests/fixtures/issuer-ec-p256.key.pem"
//! )))?;
//! let now = Timestamp::from_unix_seconds(1_735_689_600);
//!
//! let server_tls = server_config(&[certificate.clone()], key.secret_der())?;
//! let client_tls = client_config_pinned(&[certificate.clone()])?;
//! let server_session = TvsServerSession::new(TvsServerConfig::default(), now);
//! let client_session = TvsClientSession::new(
//!     TvsClientConfig::new(1, "CP-8845-SEP001122334455", certificate.clone()),
//!     now,
//! )?;
//! let options = ConnectionOptions::default();
//! let mut server = TlsConnection::server(server_tls, server_session, options, now)?;
//! let mut client =
//!     TlsConnection::client(client_tls, "tvs.example", client_session, options, now)?;
//!
//! let mut result = None;
//! while result.is_none() {
//!     while let Some(output) = server.poll_output() {
//!         match output {
//!             ConnectionOutput::Transmit(bytes) => client.handle_tcp_input(&bytes),
//!             ConnectionOutput::Need(TvsServerDecision::LookUpCertificate { .. }) => server
//!                 .session_mut()
//!                 .answer_lookup(Some(KnownCertificate::new(Vec::new(), 60)))?,
//!             _ => {}
//!         }
//!     }
//!     while let Some(output) = client.poll_output() {
//!         match output {
//!             ConnectionOutput::Transmit(bytes) => server.handle_tcp_input(&bytes),
//!             ConnectionOutput::Done(outcome) => result = Some(outcome.result),
//!             _ => {}
//!         }
//!     }
//! }
//! assert!(matches!(result, Some(TvsClientResult::Valid { .. })));
//! assert!(client.is_done());
//! # Ok(())
//! # }
//! ```

use core::time::Duration;
use std::sync::Arc;

use rustls::{ClientConfig, ServerConfig};

use crate::session::{Output, Session};
use crate::time::Timestamp;
use crate::tls::{TlsClientTransport, TlsError, TlsServerTransport};

/// Limits a [`TlsConnection`] enforces on top of its session's deadlines.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionOptions {
    /// End the connection if the TLS handshake has not completed this long
    /// after the connection was created (`None`: no limit). A server sets
    /// it so that idle or stalled TCP connections do not hold a slot.
    pub handshake_timeout: Option<Duration>,
}

impl ConnectionOptions {
    /// Options with a handshake deadline of `timeout` (`None`: no limit).
    pub const fn with_handshake_timeout(timeout: Option<Duration>) -> Self {
        Self {
            handshake_timeout: timeout,
        }
    }
}

/// Why a connection ended without an outcome from its session.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abandonment {
    /// The TLS handshake did not complete before the handshake deadline.
    /// The session was never told anything.
    HandshakeTimeout,
    /// The TCP stream is gone and the session, told so, neither ended nor
    /// has a deadline left that would end it.
    PeerGone,
}

/// One item from [`TlsConnection::poll_output`], in order.
#[non_exhaustive]
#[derive(Debug)]
pub enum ConnectionOutput<Decision, Outcome> {
    /// TCP bytes for the peer: write them whole, in order, as one write.
    /// A session frame's bytes are never split over two items.
    Transmit(Vec<u8>),
    /// The session waits for this decision: answer it with the session's
    /// typed `answer_*` / `refuse_*` methods through
    /// [`TlsConnection::session_mut`], now or later, then poll again.
    Need(Decision),
    /// TLS failed (alert, bad record, refused certificate); the session was
    /// told ([`Session::handle_transport_error`]) and ends with its own
    /// outcome: keep polling. The error carries the readable cause.
    TlsFailed(TlsError),
    /// The session is over with this outcome; the close_notify went out in
    /// the `Transmit` before. Always the last item: shut TCP down.
    Done(Outcome),
    /// The connection ended without an outcome from the session. Always the
    /// last item: shut TCP down.
    Abandoned(Abandonment),
}

/// The engine-specific part of a [`TlsConnection`]: one TLS endpoint, sans
/// IO (ciphertext in and out as bytes, plaintext in and out as frames).
///
/// [`TlsConnection`] keeps every host rule on top of it (one frame per
/// record, order, handshake deadline, peer close and failures told to the
/// session, close_notify at the end), so another TLS library only has to
/// provide these operations to carry the same sessions: the crate's own
/// [`RustlsEngine`] (rustls), or an OpenSSL engine for legacy phones (crate
/// `capf-legacy-tls` of this workspace, which keeps OpenSSL out of this
/// crate). An engine never blocks, reads clocks or does I/O.
pub trait TlsEngine: core::fmt::Debug {
    /// Feeds bytes received from TCP (any chunking) and returns the
    /// plaintext they completed (possibly empty). Handshake replies and
    /// alerts become available from [`take_tcp_output`](Self::take_tcp_output).
    /// An error is fatal: the engine fails every later call.
    fn receive_tcp(&mut self, bytes: &[u8]) -> Result<Vec<u8>, TlsError>;
    /// Encrypts one whole frame as **one** TLS write, hence one
    /// application-data record (frames are at most 16 384 bytes). Before
    /// the handshake completes the frame is held and sent, still as its own
    /// record, once it does.
    fn send_plaintext(&mut self, frame: &[u8]) -> Result<(), TlsError>;
    /// Everything that must now go to the peer over TCP.
    fn take_tcp_output(&mut self) -> Vec<u8>;
    /// Whether [`take_tcp_output`](Self::take_tcp_output) has bytes.
    fn has_tcp_output(&self) -> bool;
    /// Queues a close_notify alert; no plaintext may follow.
    fn send_close_notify(&mut self);
    /// Whether the peer sent close_notify.
    fn peer_closed(&self) -> bool;
    /// The TCP stream ended: `Ok` if the peer had sent close_notify,
    /// [`TlsError::Truncated`] otherwise.
    fn tcp_closed(&mut self) -> Result<(), TlsError>;
    /// Whether the TLS handshake is still running.
    fn is_handshaking(&self) -> bool;
    /// The negotiated protocol version, once known (rustls' names are used
    /// for every engine: `TLSv1_0` … `TLSv1_3`).
    fn protocol_version(&self) -> Option<rustls::ProtocolVersion>;
    /// The certificates the peer presented (leaf first), once known.
    fn peer_certificates(&self) -> Option<Vec<Vec<u8>>>;
    /// The negotiated cipher suite's name in the engine's own spelling
    /// (rustls `TLS13_AES_128_GCM_SHA256`, OpenSSL `AES128-SHA`), once
    /// known: for logs, so an operator sees which phones need old suites.
    fn cipher_suite_name(&self) -> Option<String>;
}

impl<E: TlsEngine + ?Sized> TlsEngine for Box<E> {
    fn receive_tcp(&mut self, bytes: &[u8]) -> Result<Vec<u8>, TlsError> {
        (**self).receive_tcp(bytes)
    }
    fn send_plaintext(&mut self, frame: &[u8]) -> Result<(), TlsError> {
        (**self).send_plaintext(frame)
    }
    fn take_tcp_output(&mut self) -> Vec<u8> {
        (**self).take_tcp_output()
    }
    fn has_tcp_output(&self) -> bool {
        (**self).has_tcp_output()
    }
    fn send_close_notify(&mut self) {
        (**self).send_close_notify();
    }
    fn peer_closed(&self) -> bool {
        (**self).peer_closed()
    }
    fn tcp_closed(&mut self) -> Result<(), TlsError> {
        (**self).tcp_closed()
    }
    fn is_handshaking(&self) -> bool {
        (**self).is_handshaking()
    }
    fn protocol_version(&self) -> Option<rustls::ProtocolVersion> {
        (**self).protocol_version()
    }
    fn peer_certificates(&self) -> Option<Vec<Vec<u8>>> {
        (**self).peer_certificates()
    }
    fn cipher_suite_name(&self) -> Option<String> {
        (**self).cipher_suite_name()
    }
}

macro_rules! rustls_engine {
    ($name:ident) => {
        impl TlsEngine for $name {
            fn receive_tcp(&mut self, bytes: &[u8]) -> Result<Vec<u8>, TlsError> {
                $name::receive_tcp(self, bytes)
            }
            fn send_plaintext(&mut self, frame: &[u8]) -> Result<(), TlsError> {
                $name::send_plaintext(self, frame)
            }
            fn take_tcp_output(&mut self) -> Vec<u8> {
                $name::take_tcp_output(self)
            }
            fn has_tcp_output(&self) -> bool {
                $name::has_tcp_output(self)
            }
            fn send_close_notify(&mut self) {
                $name::send_close_notify(self);
            }
            fn peer_closed(&self) -> bool {
                $name::peer_closed(self)
            }
            fn tcp_closed(&mut self) -> Result<(), TlsError> {
                $name::tcp_closed(self)
            }
            fn is_handshaking(&self) -> bool {
                $name::is_handshaking(self)
            }
            fn protocol_version(&self) -> Option<rustls::ProtocolVersion> {
                $name::protocol_version(self)
            }
            fn peer_certificates(&self) -> Option<Vec<Vec<u8>>> {
                $name::peer_certificates(self)
            }
            fn cipher_suite_name(&self) -> Option<String> {
                $name::cipher_suite_name(self)
            }
        }
    };
}

rustls_engine!(TlsServerTransport);
rustls_engine!(TlsClientTransport);

/// The rustls side of a connection, server or client: the default engine
/// of [`TlsConnection`].
#[non_exhaustive]
#[derive(Debug)]
pub enum RustlsEngine {
    /// A rustls server (CAPF, TVS).
    Server(TlsServerTransport),
    /// A rustls client (phone, TVS client).
    Client(TlsClientTransport),
}

macro_rules! dispatch {
    ($self:expr, $transport:ident => $body:expr) => {
        match $self {
            RustlsEngine::Server($transport) => $body,
            RustlsEngine::Client($transport) => $body,
        }
    };
}

impl TlsEngine for RustlsEngine {
    fn receive_tcp(&mut self, bytes: &[u8]) -> Result<Vec<u8>, TlsError> {
        dispatch!(self, t => t.receive_tcp(bytes))
    }
    fn send_plaintext(&mut self, frame: &[u8]) -> Result<(), TlsError> {
        dispatch!(self, t => t.send_plaintext(frame))
    }
    fn take_tcp_output(&mut self) -> Vec<u8> {
        dispatch!(self, t => t.take_tcp_output())
    }
    fn has_tcp_output(&self) -> bool {
        dispatch!(self, t => t.has_tcp_output())
    }
    fn send_close_notify(&mut self) {
        dispatch!(self, t => t.send_close_notify())
    }
    fn peer_closed(&self) -> bool {
        dispatch!(self, t => t.peer_closed())
    }
    fn tcp_closed(&mut self) -> Result<(), TlsError> {
        dispatch!(self, t => t.tcp_closed())
    }
    fn is_handshaking(&self) -> bool {
        dispatch!(self, t => t.is_handshaking())
    }
    fn protocol_version(&self) -> Option<rustls::ProtocolVersion> {
        dispatch!(self, t => t.protocol_version())
    }
    fn peer_certificates(&self) -> Option<Vec<Vec<u8>>> {
        dispatch!(self, t => t.peer_certificates())
    }
    fn cipher_suite_name(&self) -> Option<String> {
        dispatch!(self, t => t.cipher_suite_name())
    }
}

/// One TLS connection carrying one session: TCP bytes in, TCP bytes out,
/// decisions surfaced. See the [module documentation](self) for the rules
/// it keeps and a complete example, and [`crate::manual`] section 7.
#[derive(Debug)]
pub struct TlsConnection<S: Session, E: TlsEngine = RustlsEngine> {
    session: S,
    transport: E,
    /// When the handshake must have completed, if limited.
    handshake_deadline: Option<Timestamp>,
    /// The TCP stream can neither be read nor written any more.
    tcp_gone: bool,
    /// TLS failed: no more frames can be sent.
    tls_failed: bool,
    /// The session has been told the peer closed.
    peer_close_reported: bool,
    /// The readable cause of a TLS failure, not yet handed out.
    failure: Option<TlsError>,
    /// The session's outcome, held until the close_notify is handed out.
    done: Option<S::Outcome>,
    /// Why the connection ended without an outcome, not yet handed out.
    abandoned: Option<Abandonment>,
    /// The last item (Done or Abandoned) was handed out.
    finished: bool,
}

impl<S: Session> TlsConnection<S, RustlsEngine> {
    /// The server side of one accepted TCP connection (CAPF, TVS), created
    /// at `now` (the handshake deadline counts from it).
    pub fn server(
        config: Arc<ServerConfig>,
        session: S,
        options: ConnectionOptions,
        now: Timestamp,
    ) -> Result<Self, TlsError> {
        let transport = RustlsEngine::Server(TlsServerTransport::new(config)?);
        Ok(Self::with_engine(transport, session, options, now))
    }

    /// The client side (phone, TVS client) of one outgoing TCP connection to
    /// `server` (a DNS name or an IP address; see
    /// [`TlsClientTransport::new`]). The ClientHello is ready in
    /// [`poll_output`](Self::poll_output) at once.
    pub fn client(
        config: Arc<ClientConfig>,
        server: &str,
        session: S,
        options: ConnectionOptions,
        now: Timestamp,
    ) -> Result<Self, TlsError> {
        let transport = RustlsEngine::Client(TlsClientTransport::new(config, server)?);
        Ok(Self::with_engine(transport, session, options, now))
    }
}

impl<S: Session, E: TlsEngine> TlsConnection<S, E> {
    /// A connection over any [`TlsEngine`] (server or client side, as the
    /// engine was made), created at `now` (the handshake deadline counts
    /// from it). [`server`](TlsConnection::server) and
    /// [`client`](TlsConnection::client) are this with rustls.
    pub fn with_engine(
        transport: E,
        session: S,
        options: ConnectionOptions,
        now: Timestamp,
    ) -> Self {
        let handshake_deadline = options
            .handshake_timeout
            .map(|limit| now.plus_millis(u64::try_from(limit.as_millis()).unwrap_or(u64::MAX)));
        Self {
            session,
            transport,
            handshake_deadline,
            tcp_gone: false,
            tls_failed: false,
            peer_close_reported: false,
            failure: None,
            done: None,
            abandoned: None,
            finished: false,
        }
    }

    /// The session, to read its state.
    pub fn session(&self) -> &S {
        &self.session
    }

    /// The session, to answer its decisions (then poll again). Feeding it
    /// bytes or time directly bypasses the connection's rules: use the
    /// connection's methods for those.
    pub fn session_mut(&mut self) -> &mut S {
        &mut self.session
    }

    /// The TLS engine, to read what it negotiated (see [`TlsEngine`]).
    /// Feeding it bytes directly bypasses the connection's rules.
    pub fn engine(&self) -> &E {
        &self.transport
    }

    /// The session back, once the connection is no longer needed.
    pub fn into_session(self) -> S {
        self.session
    }

    /// Bytes received from TCP, in any chunking. Ignored once the
    /// connection is over or after a TLS failure.
    pub fn handle_tcp_input(&mut self, bytes: &[u8]) {
        if self.is_over() || self.tcp_gone || self.tls_failed {
            return;
        }
        match self.transport.receive_tcp(bytes) {
            Ok(plaintext) => {
                if !plaintext.is_empty() {
                    self.session.handle_input(&plaintext);
                }
                if self.transport.peer_closed() {
                    self.report_peer_closed();
                }
            }
            Err(error) => {
                // The alert rustls queued still goes out (poll_output); no
                // more reading.
                self.tls_failed = true;
                self.failure = Some(error);
                self.session.handle_transport_error();
            }
        }
    }

    /// The TCP stream ended (EOF) or was reset while reading. A missing
    /// close_notify is not an error of its own: the session learns that the
    /// peer closed.
    pub fn handle_tcp_closed(&mut self) {
        if self.is_over() || self.tcp_gone {
            return;
        }
        self.tcp_gone = true;
        // Truncation (no close_notify) is what a phone that just drops the
        // connection does; the session's outcome says what it means.
        let _truncated = self.transport.tcp_closed();
        self.report_peer_closed();
    }

    /// Writing to TCP failed (reset, broken pipe): no more bytes can be
    /// written; the session is told ([`Session::handle_transport_error`]).
    /// Later frames of the session are dropped.
    pub fn handle_transport_error(&mut self) {
        if self.is_over() || self.tcp_gone {
            return;
        }
        self.tcp_gone = true;
        self.session.handle_transport_error();
    }

    /// Time goes in here: the handshake deadline and the session's own.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if self.is_over() {
            return;
        }
        if self
            .active_handshake_deadline()
            .is_some_and(|deadline| now >= deadline)
        {
            self.abandoned = Some(Abandonment::HandshakeTimeout);
            return;
        }
        self.session.handle_timeout(now);
    }

    /// The next instant at which [`handle_timeout`](Self::handle_timeout)
    /// must be called: the earlier of the handshake deadline (while the
    /// handshake runs) and the session's deadline. `None` once over.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.is_over() {
            return None;
        }
        match (
            self.active_handshake_deadline(),
            self.session.poll_timeout(),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next thing for the host to do, in order; `None` when the
    /// connection waits for TCP bytes, time or an answer. Drain it after
    /// every other call.
    pub fn poll_output(&mut self) -> Option<ConnectionOutput<S::Decision, S::Outcome>> {
        if self.finished {
            return None;
        }
        if let Some(error) = self.failure.take() {
            // The alert first, then the cause.
            if let Some(bytes) = self.take_tcp_bytes() {
                self.failure = Some(error);
                return Some(ConnectionOutput::Transmit(bytes));
            }
            return Some(ConnectionOutput::TlsFailed(error));
        }
        if let Some(reason) = self.abandoned {
            self.finished = true;
            return Some(ConnectionOutput::Abandoned(reason));
        }
        if self.done.is_some() {
            if let Some(bytes) = self.take_tcp_bytes() {
                return Some(ConnectionOutput::Transmit(bytes));
            }
            self.finished = true;
            return self.done.take().map(ConnectionOutput::Done);
        }
        loop {
            match self.session.poll_output() {
                Some(Output::Transmit(frame)) => {
                    if self.tcp_gone || self.tls_failed {
                        // Nowhere to send it; the session knows.
                        continue;
                    }
                    if let Err(error) = self.transport.send_plaintext(&frame) {
                        self.tls_failed = true;
                        self.session.handle_transport_error();
                        return Some(ConnectionOutput::TlsFailed(error));
                    }
                    if let Some(bytes) = self.take_tcp_bytes() {
                        return Some(ConnectionOutput::Transmit(bytes));
                    }
                }
                Some(Output::Need(decision)) => return Some(ConnectionOutput::Need(decision)),
                Some(Output::Done(outcome)) => {
                    // After a fatal alert (or with TCP gone) the connection
                    // is over: no close_notify follows the alert. rustls
                    // queues none then; the rule is the connection's so
                    // that no engine has to know it.
                    if !self.tls_failed && !self.tcp_gone {
                        self.transport.send_close_notify();
                    }
                    self.done = Some(outcome);
                    return self.poll_output();
                }
                None => break,
            }
        }
        if let Some(bytes) = self.take_tcp_bytes() {
            return Some(ConnectionOutput::Transmit(bytes));
        }
        if (self.tcp_gone || self.tls_failed)
            && !self.session.is_done()
            && self.session.pending_decision().is_none()
            && self.session.poll_timeout().is_none()
        {
            self.finished = true;
            return Some(ConnectionOutput::Abandoned(Abandonment::PeerGone));
        }
        None
    }

    /// True once the last item ([`ConnectionOutput::Done`] or
    /// [`ConnectionOutput::Abandoned`]) has been handed out, or is the next
    /// one to come: shut TCP down after draining `poll_output`.
    pub fn is_done(&self) -> bool {
        self.is_over()
    }

    /// Whether the TLS handshake is still running.
    pub fn is_handshaking(&self) -> bool {
        self.transport.is_handshaking()
    }

    /// The negotiated TLS version, once known.
    pub fn protocol_version(&self) -> Option<rustls::ProtocolVersion> {
        self.transport.protocol_version()
    }

    /// The certificates the peer presented, once the handshake got that far
    /// (see [`TlsClientTransport::peer_certificates`]).
    pub fn peer_certificates(&self) -> Option<Vec<Vec<u8>>> {
        self.transport.peer_certificates()
    }

    /// The negotiated cipher suite's name, once known (see
    /// [`TlsEngine::cipher_suite_name`]).
    pub fn cipher_suite_name(&self) -> Option<String> {
        self.transport.cipher_suite_name()
    }

    fn is_over(&self) -> bool {
        self.finished || self.done.is_some() || self.abandoned.is_some()
    }

    fn active_handshake_deadline(&self) -> Option<Timestamp> {
        self.handshake_deadline
            .filter(|_| self.transport.is_handshaking() && !self.tls_failed && !self.tcp_gone)
    }

    fn report_peer_closed(&mut self) {
        if !self.peer_close_reported {
            self.peer_close_reported = true;
            self.session.handle_peer_closed();
        }
    }

    /// Pending TCP bytes, unless nothing can be written any more.
    fn take_tcp_bytes(&mut self) -> Option<Vec<u8>> {
        if !self.transport.has_tcp_output() {
            return None;
        }
        let bytes = self.transport.take_tcp_output();
        if self.tcp_gone || bytes.is_empty() {
            None
        } else {
            Some(bytes)
        }
    }
}
