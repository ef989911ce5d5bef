//! The TVS server session (spec section 7, with our rules).

use core::time::Duration;
use std::collections::VecDeque;

use ctl_format::trust_list::Role;
use der::Decode;
use sha2::{Digest, Sha256};

use crate::session::{DecisionKind, Output, Session, SessionMisuse, not_pending};
use crate::time::Timestamp;

use super::codec::decoder::TvsFrameDecoder;
use super::codec::device_name::{TvsDeviceName, TvsDeviceNameError};
use super::codec::error::TvsWireError;
use super::codec::frame::{TvsCommand, TvsElementTag, TvsFrame};

/// Settings of a TVS server session.
///
/// ```
/// use capf_core::tvs::TvsServerConfig;
/// let config = TvsServerConfig::default();
/// assert!(!config.refuse_expired);
/// assert_eq!(config.request_timeout.as_secs(), 30);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TvsServerConfig {
    /// Answer STATUS 1 for a known certificate outside its validity dates.
    /// Off by default, like the reference (which never looks at dates).
    pub refuse_expired: bool,
    /// How long the client has to send its whole request. Default 30 s.
    pub request_timeout: Duration,
    /// Largest request body accepted. Default 16 KiB (a request is the
    /// certificate plus about 30 bytes).
    pub max_body_length: u16,
}

impl Default for TvsServerConfig {
    fn default() -> Self {
        Self {
            refuse_expired: false,
            request_timeout: Duration::from_secs(30),
            max_body_length: 16 * 1024,
        }
    }
}

/// One item from [`TvsServerSession::poll_output`]: the crate's one
/// [`Output`] with the TVS server's decision and outcome.
pub type TvsServerOutput = Output<TvsServerDecision, TvsServerOutcome>;

/// A question only the host can answer.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TvsServerDecision {
    /// Look the certificate up by `certificate_sha256`; answer with
    /// [`TvsServerSession::answer_lookup`].
    LookUpCertificate {
        /// SHA-256 of the exact DER bytes received (the lookup key).
        certificate_sha256: [u8; 32],
        /// The device that asks (checked syntax; the answer does not depend
        /// on it).
        device_name: String,
        /// The certificate as received, DER (it parses as X.509).
        certificate_der: Vec<u8>,
    },
}

/// The host's record for a registered certificate.
///
/// ```
/// use capf_core::tvs::KnownCertificate;
/// use ctl_format::trust_list::Role;
/// let known = KnownCertificate::new(vec![Role::Tftp, Role::CallManager], 3600);
/// assert!(!known.revoked);
/// assert!(KnownCertificate::revoked(vec![Role::Tftp], 3600).revoked);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownCertificate {
    /// Roles to grant (any order; sent in ascending code order, once each).
    pub roles: Vec<Role>,
    /// Seconds the phone may cache the answer.
    pub ttl: u32,
    /// Revoked: answered STATUS 1 like an unknown certificate.
    pub revoked: bool,
}

impl KnownCertificate {
    /// A registered, not revoked certificate.
    pub fn new(roles: Vec<Role>, ttl: u32) -> Self {
        Self {
            roles,
            ttl,
            revoked: false,
        }
    }

    /// A registered certificate that has been revoked.
    pub fn revoked(roles: Vec<Role>, ttl: u32) -> Self {
        Self {
            roles,
            ttl,
            revoked: true,
        }
    }
}

/// How a TVS server session ended.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TvsServerOutcome {
    /// The client's session id, once a header was read.
    pub session_id: Option<u32>,
    /// The device name, once it passed the syntax check.
    pub device_name: Option<String>,
    /// SHA-256 of the certificate asked about, once it parsed.
    pub certificate_sha256: Option<[u8; 32]>,
    /// What happened.
    pub result: TvsServerResult,
}

impl TvsServerOutcome {
    /// True if a VERIFY_RESPONSE was sent.
    pub fn answered(&self) -> bool {
        matches!(
            self.result,
            TvsServerResult::Valid { .. } | TvsServerResult::Invalid(_)
        )
    }
}

/// The result part of a [`TvsServerOutcome`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TvsServerResult {
    /// Answered STATUS 0 with these roles and TTL.
    Valid {
        /// The roles sent, ascending.
        roles: Vec<Role>,
        /// The TTL sent.
        ttl: u32,
    },
    /// Answered STATUS 1.
    Invalid(TvsInvalidReason),
    /// Closed without an answer, like the reference (a phone then fails
    /// over to its next TVS); the reason is for the host's log.
    SilentClose(TvsCloseReason),
}

/// Why STATUS 1 was sent.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TvsInvalidReason {
    /// The digest is not registered.
    Unknown,
    /// Registered but revoked.
    Revoked,
    /// Registered, but past its notAfter ([`TvsServerConfig::refuse_expired`]).
    Expired,
    /// Registered, but before its notBefore ([`TvsServerConfig::refuse_expired`]).
    NotYetValid,
}

/// Why the session closed without answering.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TvsCloseReason {
    /// The bytes are not a TVS frame (wrong protocol id or version
    /// included).
    #[error("malformed request: {0}")]
    Malformed(TvsWireError),
    /// A command other than VERIFY_REQUEST (QUERY_REQUEST included).
    #[error("unsupported command {0:?}")]
    UnsupportedCommand(TvsCommand),
    /// An element the request needs occurs twice.
    #[error("repeated element {0:?}")]
    RepeatedElement(TvsElementTag),
    /// No DEVICE_NAME.
    #[error("no DEVICE_NAME")]
    MissingDeviceName,
    /// DEVICE_NAME is not `CP-<model>-SEP<MAC>`.
    #[error("invalid device name: {0}")]
    InvalidDeviceName(TvsDeviceNameError),
    /// No CERTIFICATE.
    #[error("no CERTIFICATE")]
    MissingCertificate,
    /// CERTIFICATE does not parse as a DER X.509 certificate.
    #[error("CERTIFICATE does not parse as X.509")]
    UnparseableCertificate,
    /// The whole request did not arrive in time.
    #[error("timed out waiting for the request")]
    TimedOut,
    /// The client closed the connection before a whole request (or before
    /// the answer was ready).
    #[error("peer closed the connection")]
    PeerClosed,
    /// The transport failed (TLS error, reset, failed write), as the host
    /// reported.
    #[error("the connection failed")]
    TransportFailed,
}

/// Where a [`TvsServerSession`] stands.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TvsServerState {
    /// Waiting for the whole VERIFY_REQUEST.
    AwaitingRequest,
    /// Waiting for [`TvsServerSession::answer_lookup`].
    LookingUpCertificate,
    /// Over.
    Done,
}

/// Everything that moves the session.
enum Event {
    Request(TvsFrame),
    Malformed(TvsWireError),
    Answered {
        response: Option<Vec<u8>>,
        result: TvsServerResult,
    },
    Timeout,
    PeerClosed,
    TransportError,
}

#[derive(Debug)]
enum State {
    AwaitRequest {
        deadline: Timestamp,
    },
    LookingUp {
        /// Validity of the certificate, unix seconds.
        not_before: u64,
        not_after: u64,
    },
    Done,
}

/// The server side of one TVS connection, sans-IO.
///
/// Feed the client's plaintext with [`handle_input`](Self::handle_input),
/// drain [`poll_output`](Self::poll_output), answer the
/// [`TvsServerDecision::LookUpCertificate`] with
/// [`answer_lookup`](Self::answer_lookup), honour
/// [`poll_timeout`](Self::poll_timeout) with
/// [`handle_timeout`](Self::handle_timeout) and report EOF with
/// [`handle_peer_closed`](Self::handle_peer_closed). One request, at most one
/// response, then [`TvsServerOutput::Done`]; bytes after the request are
/// ignored.
///
/// | input | response | result |
/// | --- | --- | --- |
/// | registered digest | STATUS 0, ROLES, TTL | [`TvsServerResult::Valid`] |
/// | unknown digest, revoked, or (policy) outside its dates | STATUS 1 | [`TvsServerResult::Invalid`] |
/// | malformed frame, wrong id/version, other command, missing/invalid/repeated element, unparseable certificate, timeout, EOF | none | [`TvsServerResult::SilentClose`] |
///
/// ```
/// use capf_core::time::Timestamp;
/// use capf_core::tvs::{TvsFrame, TvsServerConfig, TvsServerOutput, TvsServerSession};
/// let now = Timestamp::from_unix_seconds(1_800_000_000);
/// let mut session = TvsServerSession::new(TvsServerConfig::default(), now);
/// session.handle_input(&TvsFrame::verify_request(5, "CP-8845-SEP001122334455", b"not DER").encode().unwrap());
/// let Some(TvsServerOutput::Done(outcome)) = session.poll_output() else { panic!() };
/// assert!(!outcome.answered());
/// ```
#[derive(Debug)]
pub struct TvsServerSession {
    config: TvsServerConfig,
    state: State,
    decoder: TvsFrameDecoder,
    outputs: VecDeque<TvsServerOutput>,
    now: Timestamp,
    session_id: Option<u32>,
    device_name: Option<String>,
    certificate_sha256: Option<[u8; 32]>,
}

impl TvsServerSession {
    /// A session for a new connection, at `now`.
    pub fn new(config: TvsServerConfig, now: Timestamp) -> Self {
        let deadline = now.plus_millis(millis(config.request_timeout));
        Self {
            decoder: TvsFrameDecoder::new(config.max_body_length),
            config,
            state: State::AwaitRequest { deadline },
            outputs: VecDeque::new(),
            now,
            session_id: None,
            device_name: None,
            certificate_sha256: None,
        }
    }

    /// Where the session stands.
    pub fn state(&self) -> TvsServerState {
        match self.state {
            State::AwaitRequest { .. } => TvsServerState::AwaitingRequest,
            State::LookingUp { .. } => TvsServerState::LookingUpCertificate,
            State::Done => TvsServerState::Done,
        }
    }

    /// True once the session is over.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The decision the host still has to answer, if any.
    pub fn pending_decision(&self) -> Option<DecisionKind> {
        match self.state {
            State::LookingUp { .. } => Some(DecisionKind::LookUpCertificate),
            _ => None,
        }
    }

    /// Bytes from the client, in any chunking. Ignored once the request is
    /// read.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if !matches!(self.state, State::AwaitRequest { .. }) {
            return;
        }
        self.decoder.push(bytes);
        match self.decoder.next_frame() {
            Ok(None) => {}
            Ok(Some(frame)) => self.step(Event::Request(frame)),
            Err(error) => self.step(Event::Malformed(error)),
        }
    }

    /// The next output, if any. Drain after every call.
    pub fn poll_output(&mut self) -> Option<TvsServerOutput> {
        self.outputs.pop_front()
    }

    /// Advances the clock; past the request deadline the session closes
    /// silently ([`TvsCloseReason::TimedOut`]). Calling it early is harmless.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.now = self.now.max(now);
        self.step(Event::Timeout);
    }

    /// The request deadline while one is awaited. None while the lookup is
    /// pending (the host bounds its own work) or once over.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        match self.state {
            State::AwaitRequest { deadline } => Some(deadline),
            _ => None,
        }
    }

    /// The client closed the connection: the session ends without answering
    /// ([`TvsCloseReason::PeerClosed`]) unless it is already over.
    pub fn handle_peer_closed(&mut self) {
        self.step(Event::PeerClosed);
    }

    /// The transport failed: the session ends without answering
    /// ([`TvsCloseReason::TransportFailed`]) unless it is already over.
    pub fn handle_transport_error(&mut self) {
        self.step(Event::TransportError);
    }

    /// Answers [`TvsServerDecision::LookUpCertificate`]: the record, or `None`
    /// for an unregistered digest. Queues the VERIFY_RESPONSE and the outcome.
    pub fn answer_lookup(&mut self, known: Option<KnownCertificate>) -> Result<(), SessionMisuse> {
        let State::LookingUp {
            not_before,
            not_after,
        } = self.state
        else {
            return Err(not_pending(
                DecisionKind::LookUpCertificate,
                None,
                self.is_done(),
            ));
        };
        let session_id = self.session_id.unwrap_or_default();
        let verdict = match known {
            None => Err(TvsInvalidReason::Unknown),
            Some(known) if known.revoked => Err(TvsInvalidReason::Revoked),
            Some(_) if self.config.refuse_expired && self.now.unix_seconds() > not_after => {
                Err(TvsInvalidReason::Expired)
            }
            Some(_) if self.config.refuse_expired && self.now.unix_seconds() < not_before => {
                Err(TvsInvalidReason::NotYetValid)
            }
            Some(known) => {
                if let Some(role) = known.roles.iter().find(|role| role.code() > 255) {
                    return Err(SessionMisuse::RoleCodeTooLarge(role.code()));
                }
                let mut roles = known.roles;
                roles.sort_by_key(|role| role.code());
                roles.dedup();
                Ok((roles, known.ttl))
            }
        };
        let (frame, result) = match verdict {
            Ok((roles, ttl)) => (
                TvsFrame::verify_response_valid(session_id, &roles, ttl),
                TvsServerResult::Valid { roles, ttl },
            ),
            Err(reason) => (
                TvsFrame::verify_response_invalid(session_id),
                TvsServerResult::Invalid(reason),
            ),
        };
        // At most 256 one-byte roles: the response always encodes.
        let response = frame.encode().ok();
        self.step(Event::Answered { response, result });
        Ok(())
    }

    /// Every transition, in one place.
    fn step(&mut self, event: Event) {
        let state = core::mem::replace(&mut self.state, State::Done);
        self.state = match (state, event) {
            (State::Done, _) => State::Done,
            (State::AwaitRequest { .. }, Event::Request(frame)) => self.on_request(&frame),
            (State::AwaitRequest { .. }, Event::Malformed(error)) => {
                self.close(TvsCloseReason::Malformed(error))
            }
            (State::AwaitRequest { deadline }, Event::Timeout) if self.now >= deadline => {
                self.close(TvsCloseReason::TimedOut)
            }
            (State::LookingUp { .. }, Event::Answered { response, result }) => {
                if let Some(bytes) = response {
                    self.outputs.push_back(TvsServerOutput::Transmit(bytes));
                }
                self.finish(result)
            }
            (_, Event::PeerClosed) => self.close(TvsCloseReason::PeerClosed),
            (_, Event::TransportError) => self.close(TvsCloseReason::TransportFailed),
            // Input after the request, time while the host looks up, an
            // early timeout: nothing changes.
            (state, _) => state,
        };
    }

    fn on_request(&mut self, frame: &TvsFrame) -> State {
        self.session_id = Some(frame.session_id);
        match self.check_request(frame) {
            Ok((device_name, certificate_der, not_before, not_after)) => {
                let certificate_sha256: [u8; 32] = Sha256::digest(&certificate_der).into();
                self.device_name = Some(device_name.clone());
                self.certificate_sha256 = Some(certificate_sha256);
                self.outputs.push_back(TvsServerOutput::Need(
                    TvsServerDecision::LookUpCertificate {
                        certificate_sha256,
                        device_name,
                        certificate_der,
                    },
                ));
                State::LookingUp {
                    not_before,
                    not_after,
                }
            }
            Err(reason) => self.close(reason),
        }
    }

    /// The checks of spec section 7, steps 3-5, in the reference's order.
    #[allow(clippy::type_complexity)]
    fn check_request(
        &self,
        frame: &TvsFrame,
    ) -> Result<(String, Vec<u8>, u64, u64), TvsCloseReason> {
        if frame.command != TvsCommand::VerifyRequest {
            return Err(TvsCloseReason::UnsupportedCommand(frame.command));
        }
        if let Some(tag) = frame.duplicate_tag() {
            return Err(TvsCloseReason::RepeatedElement(tag));
        }
        let name = frame
            .device_name()
            .ok_or(TvsCloseReason::MissingDeviceName)?;
        let device_name =
            TvsDeviceName::parse(&name.name).map_err(TvsCloseReason::InvalidDeviceName)?;
        let der = frame
            .certificate()
            .ok_or(TvsCloseReason::MissingCertificate)?;
        let certificate = x509_cert::Certificate::from_der(der)
            .map_err(|_| TvsCloseReason::UnparseableCertificate)?;
        let validity = &certificate.tbs_certificate.validity;
        Ok((
            device_name.as_str().to_owned(),
            der.to_vec(),
            validity.not_before.to_unix_duration().as_secs(),
            validity.not_after.to_unix_duration().as_secs(),
        ))
    }

    fn close(&mut self, reason: TvsCloseReason) -> State {
        self.finish(TvsServerResult::SilentClose(reason))
    }

    fn finish(&mut self, result: TvsServerResult) -> State {
        self.outputs
            .push_back(TvsServerOutput::Done(TvsServerOutcome {
                session_id: self.session_id,
                device_name: self.device_name.clone(),
                certificate_sha256: self.certificate_sha256,
                result,
            }));
        State::Done
    }
}

pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Session for TvsServerSession {
    type Decision = TvsServerDecision;
    type Outcome = TvsServerOutcome;

    fn handle_input(&mut self, bytes: &[u8]) {
        TvsServerSession::handle_input(self, bytes);
    }

    fn poll_output(&mut self) -> Option<TvsServerOutput> {
        TvsServerSession::poll_output(self)
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        TvsServerSession::handle_timeout(self, now);
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        TvsServerSession::poll_timeout(self)
    }

    fn handle_peer_closed(&mut self) {
        TvsServerSession::handle_peer_closed(self);
    }

    fn handle_transport_error(&mut self) {
        TvsServerSession::handle_transport_error(self);
    }

    fn is_done(&self) -> bool {
        TvsServerSession::is_done(self)
    }

    fn pending_decision(&self) -> Option<DecisionKind> {
        TvsServerSession::pending_decision(self)
    }
}
