//! The core's TLS connection (`capf_core::connection::TlsConnection`) as
//! objects, for an app that moves the TCP bytes itself: ciphertext in,
//! ciphertext out, decisions surfaced.
//!
//! [`PhoneConnection`] carries a [`PhoneSession`], [`TvsClientConnection`]
//! a [`TvsClientSession`]. Every rule of driving a session over TLS (one
//! frame per TLS record, order kept, the handshake deadline, peer close and
//! TLS failures reported to the session, close_notify at the end) stays in
//! the core's `TlsConnection`; these objects only convert values at the
//! boundary.
//!
//! The session object the app created stays usable: the connection drives
//! it, and the app answers its decisions through it (for example
//! `PhoneSession.answer_with_keystore`), then polls the connection again.
//!
//! The server is trusted as a phone trusts it (`capf_core::trust::
//! ServerTrust::from_file`, as `capf enroll --ca` and `capf tvs verify
//! --ca` do): `server_trust` is a CTL/ITL (it must verify and list the
//! role CAPF or TVS; its certificates are then judged by the trust-list
//! verifier), or certificates (PEM, or one DER certificate). A CAPF
//! certificate named directly is pinned (the server must present it byte
//! for byte); a TVS certificate named directly is a trust anchor. The
//! clock the verifiers judge dates at is the app's: the latest
//! `now_millis` it passed (constructor, then `handle_timeout`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use capf_core::capf::phone as core_phone;
use capf_core::connection::{self as core_connection, ConnectionOptions, TlsConnection};
use capf_core::session::{Output, Session};
use capf_core::time::Timestamp;
use capf_core::tls::{TlsError, rustls};
use capf_core::trust::{DirectCertificates, ServerRole, ServerTrust};
use capf_core::tvs as core_tvs;

use crate::phone::{DecisionKind, PhoneDecision, PhoneOutcome, PhoneSession};
use crate::tvs::{TvsClientResult, TvsClientSession};

/// Errors creating a connection. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum ConnectionError {
    /// `server_trust` cannot tell whom to trust (not a CTL/ITL or
    /// certificates, a trust list that does not verify or does not list
    /// the server's role).
    #[error("invalid server trust: {0}")]
    InvalidTrust(String),
    /// The TLS side could not be set up (a server name that is neither a
    /// DNS name nor an IP address …).
    #[error("TLS: {0}")]
    Tls(String),
}

/// Why a connection ended without an outcome from its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ConnectionAbandonment {
    /// The TLS handshake did not complete before the handshake deadline.
    HandshakeTimeout,
    /// The TCP stream is gone and the session can no longer end by itself.
    PeerGone,
}

impl ConnectionAbandonment {
    pub(crate) fn from_core(reason: core_connection::Abandonment) -> Self {
        match reason {
            core_connection::Abandonment::HandshakeTimeout => Self::HandshakeTimeout,
            _ => Self::PeerGone,
        }
    }
}

/// One thing for the app to do, from `PhoneConnection.poll_output`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum PhoneConnectionOutput {
    /// TCP bytes for the server: write them whole, in order, as one write
    /// (on failure call `handle_transport_error`).
    Transmit {
        /// The ciphertext.
        bytes: Vec<u8>,
    },
    /// The session waits for this decision: answer it through the
    /// `PhoneSession` (e.g. `answer_with_keystore`), then poll again.
    Need {
        /// The decision.
        decision: PhoneDecision,
    },
    /// TLS failed (alert, bad record, server certificate not trusted); the
    /// session was told and ends with its own outcome: keep polling.
    TlsFailed {
        /// The readable cause (for a refused server certificate, the trust
        /// evaluator's reason).
        message: String,
    },
    /// The session is over (the close_notify went out before). Always the
    /// last item: close TCP.
    Done {
        /// How it ended.
        outcome: PhoneOutcome,
    },
    /// The connection ended without an outcome. Always the last item:
    /// close TCP.
    Abandoned {
        /// Why.
        reason: ConnectionAbandonment,
    },
}

/// One thing for the app to do, from `TvsClientConnection.poll_output`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum TvsConnectionOutput {
    /// TCP bytes for the server: write them whole, in order.
    Transmit {
        /// The ciphertext.
        bytes: Vec<u8>,
    },
    /// TLS failed; the session was told: keep polling.
    TlsFailed {
        /// The readable cause.
        message: String,
    },
    /// The session is over. Always the last item: close TCP.
    Done {
        /// The answer.
        result: TvsClientResult,
    },
    /// The connection ended without an outcome. Always the last item.
    Abandoned {
        /// Why.
        reason: ConnectionAbandonment,
    },
}

/// A session object of this crate whose core session a connection drives.
pub(crate) trait SharedCore: Send + Sync {
    /// The core session.
    type Core: Session;
    /// Its lock.
    fn core(&self) -> &Mutex<Self::Core>;
}

impl SharedCore for PhoneSession {
    type Core = core_phone::PhoneSession;
    fn core(&self) -> &Mutex<Self::Core> {
        &self.inner
    }
}

impl SharedCore for crate::server::ServerSession {
    type Core = capf_core::capf::server::ServerSession;
    fn core(&self) -> &Mutex<Self::Core> {
        &self.inner
    }
}

impl SharedCore for TvsClientSession {
    type Core = core_tvs::TvsClientSession;
    fn core(&self) -> &Mutex<Self::Core> {
        &self.inner
    }
}

/// The core `Session` over a session object the app also holds: each call
/// locks the object's core session for its duration only, so the app can
/// answer decisions through the object between the connection's calls.
#[derive(Debug)]
pub(crate) struct Shared<T>(pub(crate) Arc<T>);

impl<T: SharedCore> Session for Shared<T> {
    type Decision = <T::Core as Session>::Decision;
    type Outcome = <T::Core as Session>::Outcome;

    fn handle_input(&mut self, bytes: &[u8]) {
        crate::lock(self.0.core()).handle_input(bytes);
    }
    fn poll_output(&mut self) -> Option<Output<Self::Decision, Self::Outcome>> {
        crate::lock(self.0.core()).poll_output()
    }
    fn handle_timeout(&mut self, now: Timestamp) {
        crate::lock(self.0.core()).handle_timeout(now);
    }
    fn poll_timeout(&self) -> Option<Timestamp> {
        crate::lock(self.0.core()).poll_timeout()
    }
    fn handle_peer_closed(&mut self) {
        crate::lock(self.0.core()).handle_peer_closed();
    }
    fn handle_transport_error(&mut self) {
        crate::lock(self.0.core()).handle_transport_error();
    }
    fn is_done(&self) -> bool {
        crate::lock(self.0.core()).is_done()
    }
    fn pending_decision(&self) -> Option<capf_core::session::DecisionKind> {
        crate::lock(self.0.core()).pending_decision()
    }
}

/// The app's clock as the certificate verifiers see it: the latest time
/// the app passed in.
#[derive(Debug, Clone)]
pub(crate) struct HostClock(Arc<AtomicU64>);

impl HostClock {
    pub(crate) fn new(now_millis: u64) -> Self {
        Self(Arc::new(AtomicU64::new(now_millis)))
    }

    pub(crate) fn set(&self, now_millis: u64) {
        self.0.fetch_max(now_millis, Ordering::Relaxed);
    }

    fn source(&self) -> Arc<dyn capf_core::tls::TimeSource> {
        let clock = Arc::clone(&self.0);
        Arc::new(move || Timestamp::from_unix_millis(clock.load(Ordering::Relaxed)))
    }
}

/// The client TLS configuration trusting the server as a phone does.
pub(crate) fn client_config(
    server_trust: &[u8],
    role: ServerRole,
    clock: &HostClock,
) -> Result<Arc<rustls::ClientConfig>, ConnectionError> {
    let direct = match role {
        ServerRole::Capf => DirectCertificates::Pinned,
        _ => DirectCertificates::Anchors,
    };
    ServerTrust::from_file(server_trust, "server trust", role)
        .map_err(|error| ConnectionError::InvalidTrust(error.to_string()))?
        .client_config(direct, clock.source())
        .map_err(|error| ConnectionError::Tls(error.to_string()))
}

/// Words for a TLS failure: the trust evaluator's reason when the server's
/// certificate was refused, otherwise what rustls said.
pub(crate) fn describe_tls_failure(error: &TlsError) -> String {
    match error {
        TlsError::Protocol(inner) => match capf_core::trust::verifiers::failure_of(inner) {
            Some(failure) => format!("the server's certificate is not trusted: {failure}"),
            None => format!("TLS failed: {inner}"),
        },
        other => format!("TLS failed: {other}"),
    }
}

pub(crate) fn options(handshake_timeout_millis: Option<u64>) -> ConnectionOptions {
    ConnectionOptions::with_handshake_timeout(
        handshake_timeout_millis.map(core::time::Duration::from_millis),
    )
}

/// The phone's side of one CAPF connection over TLS, for an app that
/// moves the TCP bytes itself (see the [module docs](self)).
///
/// Drive it like the session: after every call drain `poll_output`
/// (write each `Transmit` to the socket, answer each `Need` through the
/// `PhoneSession`, log `TlsFailed`, stop and close at `Done` or
/// `Abandoned`); feed received TCP bytes with `handle_tcp_input`, EOF or
/// a reset with `handle_tcp_closed`; call `handle_timeout(now)` at
/// `poll_timeout()`.
#[derive(Debug, uniffi::Object)]
pub struct PhoneConnection {
    session: Arc<PhoneSession>,
    clock: HostClock,
    inner: Mutex<TlsConnection<Shared<PhoneSession>>>,
}

#[uniffi::export]
impl PhoneConnection {
    /// A connection to the CAPF server `server_name` (its DNS name or IP
    /// address; no name is checked, it only has to be well formed)
    /// carrying `session`, which must not have been driven yet.
    /// `server_trust`: the CTL/ITL or the CAPF certificate(s) (see the
    /// module docs). `handshake_timeout_millis`: end the connection if the
    /// TLS handshake takes longer (`None`: only the session's deadlines).
    /// The ClientHello is ready in `poll_output` at once.
    #[uniffi::constructor]
    pub fn new(
        session: Arc<PhoneSession>,
        server_trust: Vec<u8>,
        server_name: String,
        handshake_timeout_millis: Option<u64>,
        now_millis: u64,
    ) -> Result<Arc<Self>, ConnectionError> {
        let clock = HostClock::new(now_millis);
        let config = client_config(&server_trust, ServerRole::Capf, &clock)?;
        let connection = TlsConnection::client(
            config,
            &server_name,
            Shared(Arc::clone(&session)),
            options(handshake_timeout_millis),
            Timestamp::from_unix_millis(now_millis),
        )
        .map_err(|error| ConnectionError::Tls(error.to_string()))?;
        Ok(Arc::new(Self {
            session,
            clock,
            inner: Mutex::new(connection),
        }))
    }

    /// The session this connection carries (answer its decisions here).
    pub fn session(&self) -> Arc<PhoneSession> {
        Arc::clone(&self.session)
    }

    /// Bytes received from TCP, in any chunking.
    pub fn handle_tcp_input(&self, bytes: Vec<u8>) {
        crate::lock(&self.inner).handle_tcp_input(&bytes);
    }

    /// The TCP stream ended (EOF) or was reset while reading.
    pub fn handle_tcp_closed(&self) {
        crate::lock(&self.inner).handle_tcp_closed();
    }

    /// Writing to TCP failed: no more bytes can be written.
    pub fn handle_transport_error(&self) {
        crate::lock(&self.inner).handle_transport_error();
    }

    /// Time goes in here (milliseconds since the Unix epoch): the handshake
    /// deadline and the session's own.
    pub fn handle_timeout(&self, now_millis: u64) {
        self.clock.set(now_millis);
        crate::lock(&self.inner).handle_timeout(Timestamp::from_unix_millis(now_millis));
    }

    /// When to call `handle_timeout` next; `None` while the app owes an
    /// answer and once over.
    pub fn poll_timeout(&self) -> Option<u64> {
        crate::lock(&self.inner)
            .poll_timeout()
            .map(Timestamp::unix_millis)
    }

    /// The next thing to do, in order; `None` when the connection waits for
    /// TCP bytes, time or an answer.
    pub fn poll_output(&self) -> Option<PhoneConnectionOutput> {
        let output = crate::lock(&self.inner).poll_output()?;
        Some(phone_output(output))
    }

    /// True once the last item (`Done` or `Abandoned`) was handed out or is
    /// the next one.
    pub fn is_done(&self) -> bool {
        crate::lock(&self.inner).is_done()
    }

    /// Whether the TLS handshake is still running.
    pub fn is_handshaking(&self) -> bool {
        crate::lock(&self.inner).is_handshaking()
    }

    /// The certificates (DER) the server presented, once known.
    pub fn peer_certificates(&self) -> Vec<Vec<u8>> {
        crate::lock(&self.inner)
            .peer_certificates()
            .unwrap_or_default()
    }

    /// The decision the app still owes, if any.
    pub fn pending_decision(&self) -> Option<DecisionKind> {
        self.session.pending_decision()
    }
}

/// The FFI form of one phone connection output.
pub(crate) fn phone_output(
    output: core_connection::ConnectionOutput<core_phone::PhoneDecision, core_phone::PhoneOutcome>,
) -> PhoneConnectionOutput {
    use core_connection::ConnectionOutput as O;
    match output {
        O::Transmit(bytes) => PhoneConnectionOutput::Transmit { bytes },
        O::Need(decision) => match crate::phone::decision_from_core(decision) {
            Some(decision) => PhoneConnectionOutput::Need { decision },
            None => PhoneConnectionOutput::Done {
                outcome: crate::phone::unknown_decision_failure(),
            },
        },
        O::TlsFailed(error) => PhoneConnectionOutput::TlsFailed {
            message: describe_tls_failure(&error),
        },
        O::Done(outcome) => PhoneConnectionOutput::Done {
            outcome: PhoneOutcome::from_core(outcome),
        },
        O::Abandoned(reason) => PhoneConnectionOutput::Abandoned {
            reason: ConnectionAbandonment::from_core(reason),
        },
        _ => PhoneConnectionOutput::Abandoned {
            reason: ConnectionAbandonment::PeerGone,
        },
    }
}

/// The phone's question to TVS over TLS, for an app that moves the TCP
/// bytes itself; driven like [`PhoneConnection`] (no decisions).
#[derive(Debug, uniffi::Object)]
pub struct TvsClientConnection {
    clock: HostClock,
    inner: Mutex<TlsConnection<Shared<TvsClientSession>>>,
}

#[uniffi::export]
impl TvsClientConnection {
    /// A connection to the TVS server `server_name` carrying `session`.
    /// `server_trust`: the CTL/ITL (role TVS) or the TVS certificate(s),
    /// which are then trust anchors (see the module docs).
    #[uniffi::constructor]
    pub fn new(
        session: Arc<TvsClientSession>,
        server_trust: Vec<u8>,
        server_name: String,
        handshake_timeout_millis: Option<u64>,
        now_millis: u64,
    ) -> Result<Arc<Self>, ConnectionError> {
        let clock = HostClock::new(now_millis);
        let config = client_config(&server_trust, ServerRole::Tvs, &clock)?;
        let connection = TlsConnection::client(
            config,
            &server_name,
            Shared(session),
            options(handshake_timeout_millis),
            Timestamp::from_unix_millis(now_millis),
        )
        .map_err(|error| ConnectionError::Tls(error.to_string()))?;
        Ok(Arc::new(Self {
            clock,
            inner: Mutex::new(connection),
        }))
    }

    /// Bytes received from TCP, in any chunking.
    pub fn handle_tcp_input(&self, bytes: Vec<u8>) {
        crate::lock(&self.inner).handle_tcp_input(&bytes);
    }

    /// The TCP stream ended (EOF) or was reset while reading.
    pub fn handle_tcp_closed(&self) {
        crate::lock(&self.inner).handle_tcp_closed();
    }

    /// Writing to TCP failed.
    pub fn handle_transport_error(&self) {
        crate::lock(&self.inner).handle_transport_error();
    }

    /// Time goes in here (milliseconds since the Unix epoch).
    pub fn handle_timeout(&self, now_millis: u64) {
        self.clock.set(now_millis);
        crate::lock(&self.inner).handle_timeout(Timestamp::from_unix_millis(now_millis));
    }

    /// When to call `handle_timeout` next; `None` once over.
    pub fn poll_timeout(&self) -> Option<u64> {
        crate::lock(&self.inner)
            .poll_timeout()
            .map(Timestamp::unix_millis)
    }

    /// The next thing to do, in order; `None` when waiting.
    pub fn poll_output(&self) -> Option<TvsConnectionOutput> {
        use core_connection::ConnectionOutput as O;
        let output = crate::lock(&self.inner).poll_output()?;
        Some(match output {
            O::Transmit(bytes) => TvsConnectionOutput::Transmit { bytes },
            O::TlsFailed(error) => TvsConnectionOutput::TlsFailed {
                message: describe_tls_failure(&error),
            },
            O::Done(outcome) => TvsConnectionOutput::Done {
                result: crate::tvs::client_result(outcome.result),
            },
            O::Abandoned(reason) => TvsConnectionOutput::Abandoned {
                reason: ConnectionAbandonment::from_core(reason),
            },
            // `Need` never comes from a TVS client (its decision type has
            // no values), nor does any later item.
            _ => TvsConnectionOutput::Abandoned {
                reason: ConnectionAbandonment::PeerGone,
            },
        })
    }

    /// True once the last item was handed out or is the next one.
    pub fn is_done(&self) -> bool {
        crate::lock(&self.inner).is_done()
    }

    /// Whether the TLS handshake is still running.
    pub fn is_handshaking(&self) -> bool {
        crate::lock(&self.inner).is_handshaking()
    }
}
