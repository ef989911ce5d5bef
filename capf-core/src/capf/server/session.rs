//! The server session state machine (spec 10.12, with our rules).

use core::time::Duration;
use std::collections::VecDeque;

use der::{Decode, Encode};
use rsa::traits::PublicKeyParts;

use crate::capf::certificate_request::{CertificateRequestError, verify_certificate_request};
use crate::capf::codec::{
    AuthType, Command, Curve, ElementTag, Frame, FrameDecoder, HashId, Reason, WireError,
};
use crate::capf::key_request::KeyRequest;
use crate::capf::proof::{ProofHash, ProofPublicKey, verify_certificate_proof, verify_sudi_proof};
use crate::time::Timestamp;

use super::certificate_check::{
    CertificateCheckError, CertificatePolicy, CertificatePurpose, check_certificate,
};
use super::device::{AuthMode, DeviceRecord, Operation};
use super::outcome::{
    AuthFailure, CertificateAuthentication, DeviceRefusal, IssueRefusal, ServerDecision,
    ServerOutcome, ServerOutput, ServerProtocolViolation, SessionResult, SessionState,
};
use crate::session::{DecisionKind, Session, SessionMisuse, not_pending};

use crate::device_name::DeviceName;
pub use crate::device_name::MAX_DEVICE_NAME_LEN;

/// Bytes a STORE_CERT_REQUEST body needs besides the certificate DER
/// (CERT_TYPE element, CERTIFICATE element header and wrapper).
const STORE_OVERHEAD: usize = 4 + 3 + 5;

/// Settings of one server session.
///
/// ```
/// use capf_core::capf::server::ServerConfig;
/// let config = ServerConfig::new(0x0000_0101);
/// assert_eq!(config.key_generation_timeout.as_secs(), 3600);
/// assert_eq!(config.response_timeout.as_secs(), 60);
/// assert!(config.announce_auth_type);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// This session's id, chosen by the host: unique and unguessable (see
    /// [`SessionIdAllocator`](super::SessionIdAllocator)); it is signed into
    /// the SUDI proof.
    pub session_id: u32,
    /// Send AUTH_TYPE 0 in AUTH_REQUEST, as the reference does (true), or
    /// VERSION only, as a real CUCM does (false).
    pub announce_auth_type: bool,
    /// A record whose `failed_attempts` is at or above this is refused
    /// without checking its credentials (END_SESSION 7).
    pub max_failed_attempts: u32,
    /// Trust for certificate authentication.
    pub certificate_policy: CertificatePolicy,
    /// Refuse certificate authentication without SUDI_DATA (off: SUDI_DATA
    /// is optional, as for the reference).
    pub require_sudi: bool,
    /// How long to wait for KEY_GEN_RESPONSE after KEY_GEN_REQUEST
    /// (REQUEST_IN_PROGRESS does not extend it). Phones may take 30 minutes
    /// or more; default one hour.
    pub key_generation_timeout: Duration,
    /// How long to wait for any other phone frame. Default 60 seconds.
    pub response_timeout: Duration,
    /// How many times the server asks again, in the same session, when the
    /// phone answers KEY_GEN_REQUEST without a key (Unified CM's "number of
    /// key-generation retries"); each request gets its own
    /// `key_generation_timeout`, and a time-out is never retried. The RSA
    /// request of an EC-preferred key order is not a retry. Default 0 (the
    /// reference: the first refusal ends the session).
    pub key_generation_retries: u32,
    /// Largest frame body accepted from the phone (the largest seen is
    /// about 2.9 KB). Default 16 KiB.
    pub max_body_length: u16,
}

impl ServerConfig {
    /// Defaults for a session with this id.
    pub fn new(session_id: u32) -> Self {
        Self {
            session_id,
            announce_auth_type: true,
            max_failed_attempts: 5,
            certificate_policy: CertificatePolicy::default(),
            require_sudi: false,
            key_generation_timeout: Duration::from_secs(3600),
            response_timeout: Duration::from_secs(60),
            key_generation_retries: 0,
            max_body_length: 16 * 1024,
        }
    }
}

/// One state per variant; everything a state needs lives in it.
#[derive(Debug)]
enum State {
    AwaitAuthResponse {
        deadline: Timestamp,
    },
    LookingUpDevice {
        auth_response: Box<Frame>,
    },
    AwaitKeyGeneration {
        key_request: KeyRequest,
        deadline: Timestamp,
    },
    IssuingCertificate {
        subject_public_key_info_der: Vec<u8>,
    },
    RecordingPendingCertificate {
        certificate_der: Vec<u8>,
    },
    AwaitStoreResponse {
        certificate_der: Vec<u8>,
        deadline: Timestamp,
    },
    AwaitFetchResponse {
        deadline: Timestamp,
    },
    AwaitDeleteResponse {
        deadline: Timestamp,
    },
    /// The session's end is decided; the host records it before the last
    /// frame (if any) goes out.
    RecordingOutcome {
        outcome: Box<ServerOutcome>,
    },
    Done,
}

impl State {
    fn public(&self) -> SessionState {
        match self {
            State::AwaitAuthResponse { .. } => SessionState::AwaitingAuthResponse,
            State::LookingUpDevice { .. } => SessionState::LookingUpDevice,
            State::AwaitKeyGeneration { .. } => SessionState::AwaitingKeyGeneration,
            State::IssuingCertificate { .. } => SessionState::IssuingCertificate,
            State::RecordingPendingCertificate { .. } => SessionState::RecordingPendingCertificate,
            State::AwaitStoreResponse { .. } => SessionState::AwaitingStoreResponse,
            State::AwaitFetchResponse { .. } => SessionState::AwaitingFetchResponse,
            State::AwaitDeleteResponse { .. } => SessionState::AwaitingDeleteResponse,
            State::RecordingOutcome { .. } => SessionState::RecordingOutcome,
            State::Done => SessionState::Done,
        }
    }

    fn deadline(&self) -> Option<Timestamp> {
        match self {
            State::AwaitAuthResponse { deadline }
            | State::AwaitKeyGeneration { deadline, .. }
            | State::AwaitStoreResponse { deadline, .. }
            | State::AwaitFetchResponse { deadline }
            | State::AwaitDeleteResponse { deadline } => Some(*deadline),
            State::LookingUpDevice { .. }
            | State::IssuingCertificate { .. }
            | State::RecordingPendingCertificate { .. }
            | State::RecordingOutcome { .. }
            | State::Done => None,
        }
    }

    fn pending_decision(&self) -> Option<DecisionKind> {
        match self {
            State::LookingUpDevice { .. } => Some(DecisionKind::LookUpDevice),
            State::IssuingCertificate { .. } => Some(DecisionKind::IssueCertificate),
            State::RecordingPendingCertificate { .. } => {
                Some(DecisionKind::RecordPendingCertificate)
            }
            State::RecordingOutcome { .. } => Some(DecisionKind::RecordOutcome),
            _ => None,
        }
    }
}

/// Everything that moves the session, from the phone, the host or the clock.
enum Event {
    Frame(Frame),
    Malformed(WireError),
    Device(Option<DeviceRecord>),
    DeviceRefused(DeviceRefusal),
    Certificate(Result<Vec<u8>, IssueRefusal>),
    PendingRecorded,
    OutcomeRecorded(bool),
    Timeout,
    PeerClosed,
    TransportError,
}

/// The server side of one CAPF session (one TLS connection), sans-IO.
///
/// Driven through the crate's one [`Session`] contract (see
/// [`crate::manual`]): feed the phone's plaintext bytes with
/// [`handle_input`](Self::handle_input), drain
/// [`poll_output`](Self::poll_output) after every call, answer each
/// [`ServerOutput::Need`] with the matching `answer_*` / `refuse_*` method
/// (now or later), honour [`poll_timeout`](Self::poll_timeout) with
/// [`handle_timeout`](Self::handle_timeout), report EOF with
/// [`handle_peer_closed`](Self::handle_peer_closed) and a failed transport
/// with [`handle_transport_error`](Self::handle_transport_error). Every
/// session ends with [`ServerDecision::RecordOutcome`] (the host records
/// the outcome), then its last END_SESSION (if any), then
/// [`ServerOutput::Done`]. A host may write every `Transmit` at once.
///
/// Time: the session knows only the latest time given to
/// [`new`](Self::new) or [`handle_timeout`](Self::handle_timeout). Deadlines
/// and certificate validity are measured from it, so a host that lets time
/// pass (a slow lookup) should call `handle_timeout(now)` before answering.
///
/// ```
/// use capf_core::capf::server::{
///     AuthMode, DeviceRecord, Operation, ServerConfig, ServerDecision, ServerOutput,
///     ServerSession, SessionResult,
/// };
/// use capf_core::session::Session;
/// use capf_core::time::Timestamp;
/// use capf_core::capf::codec::{AuthResponseFields, WireDeviceName, Frame, Password, Reason};
///
/// let now = Timestamp::from_unix_seconds(1_800_000_000);
/// let mut session = ServerSession::new(ServerConfig::new(0x1234_5678), now);
/// let Some(ServerOutput::Transmit(_auth_request)) = session.poll_output() else { panic!() };
///
/// // The phone answers (here: null string, nothing scheduled).
/// let fields = AuthResponseFields::new(WireDeviceName::new("SEP001122334455"), Password::empty());
/// session.handle_input(&Frame::auth_response(0x1234_5678, fields).encode().unwrap());
/// let Some(ServerOutput::Need(ServerDecision::LookUpDevice { device_name })) =
///     session.poll_output() else { panic!() };
///
/// session
///     .answer_device(Some(DeviceRecord::new(device_name, Operation::None, AuthMode::NullString)))
///     .unwrap();
/// // The end is decided: the host records it before the phone is told.
/// let Some(ServerOutput::Need(ServerDecision::RecordOutcome { outcome })) =
///     session.poll_output() else { panic!() };
/// assert_eq!(outcome.result, SessionResult::NothingToDo);
/// assert_eq!(session.poll_output(), None);
/// session.answer_outcome_recorded().unwrap();
/// let end = Frame::end_session(0x1234_5678, Reason::NoAction).encode().unwrap();
/// assert_eq!(session.poll_output(), Some(ServerOutput::Transmit(end)));
/// let Some(ServerOutput::Done(outcome)) = session.poll_output() else { panic!() };
/// assert!(outcome.recorded);
/// assert!(session.is_done());
/// ```
#[derive(Debug)]
pub struct ServerSession {
    config: ServerConfig,
    state: State,
    decoder: FrameDecoder,
    outputs: VecDeque<ServerOutput>,
    now: Timestamp,
    device_name: Option<String>,
    /// The VERSION the phone announced in AUTH_RESPONSE.
    phone_version: Option<u8>,
    /// Key-generation requests sent after a refusal so far (retries).
    key_generation_retries: u32,
    authenticated: bool,
    certificate_authentication: Option<CertificateAuthentication>,
}

impl ServerSession {
    /// Starts a session: queues AUTH_REQUEST (VERSION 3, and AUTH_TYPE 0
    /// unless [`ServerConfig::announce_auth_type`] is off) and starts the
    /// wait for AUTH_RESPONSE.
    pub fn new(config: ServerConfig, now: Timestamp) -> Self {
        let decoder = FrameDecoder::with_max_body_length(config.max_body_length);
        let deadline = now.plus_millis(millis(config.response_timeout));
        let mut session = Self {
            state: State::AwaitAuthResponse { deadline },
            decoder,
            outputs: VecDeque::new(),
            now,
            device_name: None,
            phone_version: None,
            key_generation_retries: 0,
            authenticated: false,
            certificate_authentication: None,
            config,
        };
        let auth_type = session
            .config
            .announce_auth_type
            .then_some(AuthType::NotStated);
        session.transmit(Frame::auth_request(session.config.session_id, auth_type));
        session
    }

    /// This session's id.
    pub fn session_id(&self) -> u32 {
        self.config.session_id
    }

    /// Where the session stands.
    pub fn state(&self) -> SessionState {
        self.state.public()
    }

    /// The decision the host still has to answer, if any.
    pub fn pending_decision(&self) -> Option<DecisionKind> {
        self.state.pending_decision()
    }

    /// True once the session is over (the [`ServerOutput::Done`] item may
    /// still be waiting in [`poll_output`](Self::poll_output)).
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Bytes from the phone, in any chunking. Ignored once the session's
    /// end is decided (while the outcome is recorded, and after).
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if !self.reads_input() {
            return;
        }
        self.decoder.push(bytes);
        while self.reads_input() {
            match self.decoder.next_frame() {
                Ok(Some(frame)) => self.step(Event::Frame(frame)),
                Ok(None) => break,
                Err(error) => self.step(Event::Malformed(error)),
            }
        }
    }

    /// The next output, if any. Drain after every call into the session.
    pub fn poll_output(&mut self) -> Option<ServerOutput> {
        self.outputs.pop_front()
    }

    /// Time goes in here: advances the session's clock and, if the current
    /// wait's deadline has passed, ends the session (END_SESSION 7, then
    /// [`SessionResult::TimedOut`]). Calling it early is harmless.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.now = self.now.max(now);
        if self
            .state
            .deadline()
            .is_some_and(|deadline| self.now >= deadline)
        {
            self.step(Event::Timeout);
        }
    }

    /// The deadline of the current wait for the phone, if any. There is none
    /// while a decision is pending (the host bounds its own work) or once
    /// the session is over.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.state.deadline()
    }

    /// The phone closed the connection (TCP EOF): the session ends with
    /// [`SessionResult::PeerClosed`] (through
    /// [`ServerDecision::RecordOutcome`]) and sends nothing more. Once the
    /// end is decided it changes nothing: the outcome being recorded stays
    /// the truth.
    pub fn handle_peer_closed(&mut self) {
        if self.reads_input() {
            self.step(Event::PeerClosed);
        }
    }

    /// The transport failed (TLS error, reset, failed write): the session
    /// ends with [`SessionResult::TransportFailed`] (through
    /// [`ServerDecision::RecordOutcome`]). Once the end is decided it
    /// changes nothing.
    pub fn handle_transport_error(&mut self) {
        if self.reads_input() {
            self.step(Event::TransportError);
        }
    }

    /// True until the session's end is decided.
    fn reads_input(&self) -> bool {
        !matches!(self.state, State::Done | State::RecordingOutcome { .. })
    }

    /// Answers [`ServerDecision::LookUpDevice`]: the record, or `None` for an
    /// unknown device (END_SESSION 9).
    ///
    /// **Blocking:** this checks the phone's credentials against the record
    /// at once: an authentication string costs its PBKDF2 rounds (600,000
    /// by default, tens of milliseconds), certificate authentication a chain
    /// check and up to four signature verifications. An async host calls it
    /// off its event loop (tokio: `spawn_blocking`; asyncio:
    /// `run_in_executor`).
    pub fn answer_device(&mut self, record: Option<DeviceRecord>) -> Result<(), SessionMisuse> {
        self.expect_pending(DecisionKind::LookUpDevice)?;
        if let Some(record) = &record {
            if self.device_name.as_deref() != Some(record.device_name.as_str()) {
                return Err(SessionMisuse::WrongDevice);
            }
            if let Operation::Install(key_request) = record.operation
                && !key_request.is_valid()
            {
                return Err(SessionMisuse::InvalidKeyRequest(key_request));
            }
            if let Some(ready) = &record.ready_certificate {
                if ready.len().saturating_add(STORE_OVERHEAD) > usize::from(u16::MAX) {
                    return Err(SessionMisuse::CertificateTooLarge(ready.len()));
                }
                if x509_cert::Certificate::from_der(ready).is_err() {
                    return Err(SessionMisuse::InvalidCertificate);
                }
            }
        }
        self.step(Event::Device(record));
        Ok(())
    }

    /// Answers [`ServerDecision::LookUpDevice`] with a refusal: the host will
    /// not let this device run a session now (e.g. another session holds
    /// its scheduled operation). Nothing is checked or counted; the session
    /// ends with [`SessionResult::DeviceRefused`] (recorded through
    /// [`ServerDecision::RecordOutcome`] like every end) and:
    ///
    /// * [`DeviceRefusal::OperationClaimed`] (busy): **no END_SESSION**, the
    ///   connection just closes. A phone reads END_SESSION 7 as an
    ///   authentication failure and does not retry; a connection closed
    ///   without one is a communication failure, which it retries by its
    ///   policy (Cisco's phones: 3 times, 30 s apart), so it succeeds once
    ///   the other session has ended;
    /// * [`DeviceRefusal::RegistryUnavailable`]: END_SESSION 7.
    pub fn refuse_device(&mut self, refusal: DeviceRefusal) -> Result<(), SessionMisuse> {
        self.expect_pending(DecisionKind::LookUpDevice)?;
        self.step(Event::DeviceRefused(refusal));
        Ok(())
    }

    /// Answers [`ServerDecision::IssueCertificate`] with the LSC (DER). The
    /// certificate must carry exactly the phone's SubjectPublicKeyInfo; the
    /// session then asks to record it as pending
    /// ([`ServerDecision::RecordPendingCertificate`]).
    pub fn answer_certificate(&mut self, certificate_der: Vec<u8>) -> Result<(), SessionMisuse> {
        self.expect_pending(DecisionKind::IssueCertificate)?;
        if let State::IssuingCertificate {
            subject_public_key_info_der,
            ..
        } = &self.state
        {
            if certificate_der.len().saturating_add(STORE_OVERHEAD) > usize::from(u16::MAX) {
                return Err(SessionMisuse::CertificateTooLarge(certificate_der.len()));
            }
            let parsed = x509_cert::Certificate::from_der(&certificate_der)
                .map_err(|_| SessionMisuse::InvalidCertificate)?;
            let spki = parsed
                .tbs_certificate
                .subject_public_key_info
                .to_der()
                .map_err(|_| SessionMisuse::InvalidCertificate)?;
            if spki != *subject_public_key_info_der {
                return Err(SessionMisuse::CertificateKeyMismatch);
            }
        }
        self.step(Event::Certificate(Ok(certificate_der)));
        Ok(())
    }

    /// Answers [`ServerDecision::IssueCertificate`] by having the local CA
    /// `issuer` sign the session's own request: its device name, the
    /// phone's SubjectPublicKeyInfo as the phone sent it, `validity_days`.
    /// The certificate carries the phone's key by construction, so, unlike
    /// [`answer_certificate`](Self::answer_certificate), it is not parsed
    /// again. When the issuer fails, the session is refused with
    /// [`IssueRefusal::Unavailable`] (END_SESSION 7) and the error is
    /// returned; otherwise the certificate and its facts are, and the
    /// session asks to record it as pending
    /// ([`ServerDecision::RecordPendingCertificate`]).
    pub fn answer_with_issuer(
        &mut self,
        issuer: &crate::issuance::LscIssuer,
        validity_days: u32,
        now: Timestamp,
        rng: &mut dyn rand_core::CryptoRngCore,
    ) -> Result<
        Result<crate::issuance::IssuedCertificate, crate::issuance::IssuanceError>,
        SessionMisuse,
    > {
        use crate::issuance::{CertificateAuthority as _, LscRequest};
        self.expect_pending(DecisionKind::IssueCertificate)?;
        let State::IssuingCertificate {
            subject_public_key_info_der,
        } = &self.state
        else {
            // expect_pending saw IssuingCertificate.
            return Err(not_pending(
                DecisionKind::IssueCertificate,
                self.state.pending_decision(),
                self.is_done(),
            ));
        };
        let request = LscRequest {
            device_name: self.device_name.as_deref().unwrap_or_default(),
            subject_public_key_info_der,
            validity_days,
        };
        let issued = issuer.issue(&request, now, rng);
        match &issued {
            Ok(certificate) => {
                if certificate.der.len().saturating_add(STORE_OVERHEAD) > usize::from(u16::MAX) {
                    return Err(SessionMisuse::CertificateTooLarge(certificate.der.len()));
                }
                self.step(Event::Certificate(Ok(certificate.der.clone())));
            }
            Err(error) => {
                self.step(Event::Certificate(Err(IssueRefusal::Unavailable(
                    error.to_string(),
                ))));
            }
        }
        Ok(issued)
    }

    /// Refuses [`ServerDecision::IssueCertificate`]: the session ends with
    /// [`SessionResult::IssueRefused`] (END_SESSION 7).
    pub fn refuse_certificate(&mut self, refusal: IssueRefusal) -> Result<(), SessionMisuse> {
        self.expect_pending(DecisionKind::IssueCertificate)?;
        self.step(Event::Certificate(Err(refusal)));
        Ok(())
    }

    /// Answers [`ServerDecision::RecordPendingCertificate`]: the host has
    /// recorded the certificate as pending; the session sends it.
    pub fn answer_pending_recorded(&mut self) -> Result<(), SessionMisuse> {
        self.expect_pending(DecisionKind::RecordPendingCertificate)?;
        self.step(Event::PendingRecorded);
        Ok(())
    }

    /// Answers [`ServerDecision::RecordOutcome`]: the host has durably
    /// recorded the outcome; the session transmits its last END_SESSION
    /// (if any) and ends with the outcome (`recorded` set).
    pub fn answer_outcome_recorded(&mut self) -> Result<(), SessionMisuse> {
        self.expect_pending(DecisionKind::RecordOutcome)?;
        self.step(Event::OutcomeRecorded(true));
        Ok(())
    }

    /// Refuses [`ServerDecision::RecordOutcome`]: the host could not record
    /// the outcome. The session tells the phone END_SESSION 7 (a failure)
    /// instead of the planned reason, so the phone never believes an
    /// operation finished that the host has no record of, and ends with the
    /// outcome, `recorded` false and `end_reason` 7.
    pub fn refuse_outcome_record(&mut self) -> Result<(), SessionMisuse> {
        self.expect_pending(DecisionKind::RecordOutcome)?;
        self.step(Event::OutcomeRecorded(false));
        Ok(())
    }

    fn expect_pending(&self, answered: DecisionKind) -> Result<(), SessionMisuse> {
        let pending = self.state.pending_decision();
        if pending == Some(answered) {
            Ok(())
        } else {
            Err(not_pending(answered, pending, self.is_done()))
        }
    }

    /// Every transition, in one place.
    fn step(&mut self, event: Event) {
        let state = core::mem::replace(&mut self.state, State::Done);
        self.state = match (state, event) {
            (State::Done, _) => State::Done,

            // The end is decided: only the host's record answer moves it.
            (State::RecordingOutcome { outcome }, Event::OutcomeRecorded(recorded)) => {
                self.conclude(*outcome, recorded)
            }
            (state @ State::RecordingOutcome { .. }, _) => state,

            // Transport-level events, whatever the state.
            (state, Event::PeerClosed) => self.finish(
                None,
                SessionResult::PeerClosed {
                    state: state.public(),
                },
            ),
            (state, Event::TransportError) => self.finish(
                None,
                SessionResult::TransportFailed {
                    state: state.public(),
                },
            ),
            (state, Event::Timeout) => self.finish(
                Some(Reason::Failure),
                SessionResult::TimedOut {
                    state: state.public(),
                },
            ),
            (_, Event::Malformed(error)) => {
                self.violation(ServerProtocolViolation::Malformed(error))
            }
            (state, Event::Frame(frame)) => match self.check_frame(&frame) {
                Err(violation) => self.violation(violation),
                Ok(()) => self.on_frame(state, frame),
            },

            // Host answers (the answer methods checked that they are pending).
            (State::LookingUpDevice { auth_response }, Event::Device(record)) => {
                self.on_device(&auth_response, record)
            }
            (State::LookingUpDevice { .. }, Event::DeviceRefused(refusal)) => {
                self.finish(refusal.end_reason(), SessionResult::DeviceRefused(refusal))
            }
            (State::IssuingCertificate { .. }, Event::Certificate(Err(refusal))) => {
                let reason = if refusal == IssueRefusal::Deferred {
                    Reason::NoAction
                } else {
                    Reason::Failure
                };
                self.finish(Some(reason), SessionResult::IssueRefused(refusal))
            }
            (State::IssuingCertificate { .. }, Event::Certificate(Ok(certificate_der))) => {
                self.outputs.push_back(ServerOutput::Need(
                    ServerDecision::RecordPendingCertificate {
                        device_name: self.device_name.clone().unwrap_or_default(),
                        certificate_der: certificate_der.clone(),
                    },
                ));
                State::RecordingPendingCertificate { certificate_der }
            }
            (State::RecordingPendingCertificate { certificate_der }, Event::PendingRecorded) => {
                self.transmit(Frame::store_cert_request(
                    self.config.session_id,
                    certificate_der.clone(),
                ));
                State::AwaitStoreResponse {
                    certificate_der,
                    deadline: self.deadline(self.config.response_timeout),
                }
            }
            // Unreachable through the public API (answers are checked first);
            // keep the state rather than panic.
            (
                state,
                Event::Device(_)
                | Event::DeviceRefused(_)
                | Event::Certificate(_)
                | Event::PendingRecorded
                | Event::OutcomeRecorded(_),
            ) => state,
        };
    }

    /// A phone frame with the right session id and no repeated element.
    fn on_frame(&mut self, state: State, frame: Frame) -> State {
        match (state, frame.command) {
            (State::AwaitAuthResponse { .. }, Command::AuthResponse) => {
                self.on_auth_response(frame)
            }
            (
                State::AwaitKeyGeneration {
                    key_request,
                    deadline,
                },
                Command::RequestInProgress,
            ) => {
                // Any number of these; the deadline stays where it is.
                State::AwaitKeyGeneration {
                    key_request,
                    deadline,
                }
            }
            (State::AwaitKeyGeneration { key_request, .. }, Command::KeyGenResponse) => {
                self.on_key_gen_response(key_request, &frame)
            }
            (
                State::AwaitStoreResponse {
                    certificate_der, ..
                },
                Command::StoreCertResponse,
            ) => match frame.reason() {
                Some(Reason::Success) => self.finish(
                    Some(Reason::Success),
                    SessionResult::Installed { certificate_der },
                ),
                phone_reason => self.finish(
                    Some(Reason::Failure),
                    SessionResult::StoreFailed {
                        certificate_der,
                        phone_reason,
                    },
                ),
            },
            (State::AwaitFetchResponse { .. }, Command::FetchCertResponse) => {
                match (frame.reason(), frame.certificate()) {
                    (Some(Reason::Success), Some(certificate)) => {
                        if x509_cert::Certificate::from_der(&certificate.der).is_ok() {
                            self.finish(
                                Some(Reason::NoAction),
                                SessionResult::Fetched {
                                    certificate_der: certificate.der.clone(),
                                },
                            )
                        } else {
                            self.violation(ServerProtocolViolation::InvalidFetchedCertificate)
                        }
                    }
                    (Some(Reason::Success), None) => self.finish(
                        Some(Reason::Failure),
                        SessionResult::FetchFailed {
                            phone_reason: Some(Reason::Success),
                        },
                    ),
                    (phone_reason, _) => self.finish(
                        Some(Reason::NoAction),
                        SessionResult::FetchFailed { phone_reason },
                    ),
                }
            }
            (State::AwaitDeleteResponse { .. }, Command::DeleteCertResponse) => {
                match frame.reason() {
                    Some(Reason::Success) => {
                        self.finish(Some(Reason::Success), SessionResult::Deleted)
                    }
                    phone_reason => self.finish(
                        Some(Reason::Success),
                        SessionResult::DeleteRefused { phone_reason },
                    ),
                }
            }
            // Anything else in any state, including any frame while a
            // decision is pending: the phone speaks out of turn.
            (state, command) => self.violation(ServerProtocolViolation::UnexpectedCommand {
                command,
                state: state.public(),
            }),
        }
    }

    /// Checks every phone frame: this session's id, no repeated known
    /// element. Unknown tags are accepted (and ignored).
    fn check_frame(&self, frame: &Frame) -> Result<(), ServerProtocolViolation> {
        if frame.session_id != self.config.session_id {
            return Err(ServerProtocolViolation::WrongSessionId {
                expected: self.config.session_id,
                found: frame.session_id,
            });
        }
        let mut seen = [false; 256];
        for element in &frame.elements {
            let tag = element.tag();
            if matches!(tag, ElementTag::Unknown(_)) {
                continue;
            }
            if let Some(slot) = seen.get_mut(usize::from(tag.code())) {
                if *slot {
                    return Err(ServerProtocolViolation::DuplicateElement(tag));
                }
                *slot = true;
            }
        }
        Ok(())
    }

    fn on_auth_response(&mut self, frame: Frame) -> State {
        match frame.version() {
            None => return self.violation(ServerProtocolViolation::MissingVersion),
            Some(version) if !matches!(version.0, 2 | 3) => {
                return self.violation(ServerProtocolViolation::UnsupportedVersion(version.0));
            }
            Some(version) => self.phone_version = Some(version.0),
        }
        let Some(name) = frame.device_name() else {
            return self.violation(ServerProtocolViolation::MissingDeviceName);
        };
        // The one device-name rule: a name issuance would refuse after the
        // phone spent minutes on its key is refused here.
        let Some(name) = name.to_str().and_then(|name| DeviceName::parse(name).ok()) else {
            return self.violation(ServerProtocolViolation::InvalidDeviceName);
        };
        let device_name = name.into_string();
        self.device_name = Some(device_name.clone());
        self.outputs
            .push_back(ServerOutput::Need(ServerDecision::LookUpDevice {
                device_name,
            }));
        State::LookingUpDevice {
            auth_response: Box::new(frame),
        }
    }

    fn on_device(&mut self, auth_response: &Frame, record: Option<DeviceRecord>) -> State {
        let Some(record) = record else {
            // Unknown device: reason 9 whatever credentials came (spec 9.1).
            return self.finish(Some(Reason::UnknownDevice), SessionResult::UnknownDevice);
        };
        if record.failed_attempts >= self.config.max_failed_attempts {
            return self.auth_failed(AuthFailure::LockedOut {
                failed_attempts: record.failed_attempts,
            });
        }
        match self.authenticate(&record, auth_response) {
            Err(failure) => return self.auth_failed(failure),
            Ok(certificate_authentication) => {
                self.authenticated = true;
                self.certificate_authentication = certificate_authentication;
            }
        }
        let id = self.config.session_id;
        match record.operation {
            Operation::None => self.finish(Some(Reason::NoAction), SessionResult::NothingToDo),
            // Our offline-CA reading: a ready certificate goes out at once.
            Operation::Install(_) if record.ready_certificate.is_some() => {
                let certificate_der = record.ready_certificate.unwrap_or_default();
                self.transmit(Frame::store_cert_request(id, certificate_der.clone()));
                State::AwaitStoreResponse {
                    certificate_der,
                    deadline: self.deadline(self.config.response_timeout),
                }
            }
            Operation::Install(key_request) => self.request_key(key_request),
            Operation::Fetch => {
                self.transmit(Frame::fetch_cert_request(id));
                State::AwaitFetchResponse {
                    deadline: self.deadline(self.config.response_timeout),
                }
            }
            Operation::Delete => {
                self.transmit(Frame::delete_cert_request(id));
                State::AwaitDeleteResponse {
                    deadline: self.deadline(self.config.response_timeout),
                }
            }
        }
    }

    /// Spec 9: checks the credentials of AUTH_RESPONSE against the record.
    fn authenticate(
        &self,
        record: &DeviceRecord,
        frame: &Frame,
    ) -> Result<Option<CertificateAuthentication>, AuthFailure> {
        match &record.authentication {
            AuthMode::NullString => Ok(None),
            AuthMode::AuthString(stored) => {
                let candidate = frame
                    .password()
                    .filter(|password| !password.is_empty())
                    .ok_or(AuthFailure::AuthStringMissing)?;
                if stored.verify(candidate.expose()) {
                    Ok(None)
                } else {
                    Err(AuthFailure::WrongAuthString)
                }
            }
            AuthMode::ExistingCertificate { .. } => {
                self.authenticate_certificate(record, frame).map(Some)
            }
        }
    }

    /// Spec 9.3-9.6 with our additions (chain, dates, name, strict padding,
    /// RSA-only SUDI over this session's id).
    fn authenticate_certificate(
        &self,
        record: &DeviceRecord,
        frame: &Frame,
    ) -> Result<CertificateAuthentication, AuthFailure> {
        let device_name = record.device_name.as_str();
        let (Some(certificate), Some(sha1_proof), Some(sha512_proof)) = (
            frame.certificate(),
            frame.signed_data(),
            frame.sha2_signed_data(),
        ) else {
            return Err(AuthFailure::CertificateMissing);
        };
        if sha512_proof.hash != HashId::Sha512 {
            return Err(AuthFailure::UnsupportedProofHash(sha512_proof.hash.code()));
        }
        // The record's own revocation data (the host's ledger) joins the
        // policy's; the policy is copied only when there is some.
        let with_record;
        let policy = if record.revocations.is_empty() {
            &self.config.certificate_policy
        } else {
            let mut policy = self.config.certificate_policy.clone();
            policy.revocations.extend(&record.revocations);
            with_record = policy;
            &with_record
        };
        let verdict = check_certificate(
            policy,
            &certificate.der,
            device_name,
            self.now,
            CertificatePurpose::Authentication,
        )
        .map_err(AuthFailure::Certificate)?;
        verify_certificate_proof(&certificate.der, ProofHash::Sha1, device_name, sha1_proof)
            .map_err(|_| AuthFailure::SignedDataInvalid)?;
        verify_certificate_proof(
            &certificate.der,
            ProofHash::Sha512,
            device_name,
            &sha512_proof.signature,
        )
        .map_err(|_| AuthFailure::Sha2SignedDataInvalid)?;

        let mut expired_mic_accepted = verdict.expired_mic_accepted;
        let sudi_verified = match frame.sudi_data() {
            None if self.config.require_sudi => return Err(AuthFailure::SudiMissing),
            None => false,
            Some(sudi) => {
                let sudi_der = &sudi.certificate.data;
                let key = ProofPublicKey::from_certificate_der(sudi_der)
                    .map_err(|_| AuthFailure::SudiCertificate(CertificateCheckError::Malformed))?;
                if !matches!(key, ProofPublicKey::Rsa(_)) {
                    return Err(AuthFailure::SudiNotRsa);
                }
                if sudi.sha512_signature.lead != HashId::Sha512.code() {
                    return Err(AuthFailure::SudiHashId(sudi.sha512_signature.lead));
                }
                let sudi_verdict = check_certificate(
                    policy,
                    sudi_der,
                    device_name,
                    self.now,
                    CertificatePurpose::Sudi,
                )
                .map_err(AuthFailure::SudiCertificate)?;
                let id = self.config.session_id;
                verify_sudi_proof(sudi_der, ProofHash::Sha1, id, &sudi.sha1_signature.data)
                    .map_err(|_| AuthFailure::SudiProofInvalid)?;
                verify_sudi_proof(sudi_der, ProofHash::Sha512, id, &sudi.sha512_signature.data)
                    .map_err(|_| AuthFailure::SudiProofInvalid)?;
                expired_mic_accepted |= sudi_verdict.expired_mic_accepted;
                true
            }
        };
        Ok(CertificateAuthentication {
            kind: verdict.kind,
            sudi_verified,
            expired_mic_accepted,
        })
    }

    /// Sends KEY_GEN_REQUEST for `key_request` (its first request, see
    /// [`KeyRequest::first`]) and waits for the key.
    fn request_key(&mut self, key_request: KeyRequest) -> State {
        let id = self.config.session_id;
        let asked = key_request.first();
        self.transmit(match asked {
            KeyRequest::Ec(curve) => Frame::key_gen_request_ec(id, curve),
            KeyRequest::Rsa { bits } => Frame::key_gen_request_rsa(id, bits),
            // `first` never answers EcPreferred; RSA 2048 is the default.
            _ => Frame::key_gen_request_rsa(id, 2048),
        });
        State::AwaitKeyGeneration {
            key_request,
            deadline: self.deadline(self.config.key_generation_timeout),
        }
    }

    /// The key-order rule (our reading, see [`KeyRequest::EcPreferred`]):
    /// a phone that answers an EC KEY_GEN_REQUEST without PUBLIC_KEY has
    /// refused (or failed) EC. EC preferred: the server asks for RSA in the
    /// same session, once, with a new key-generation wait. Then, up to
    /// [`ServerConfig::key_generation_retries`] times, the same request
    /// again. EC only, from a
    /// phone that announced CAPF version 3 (or 2) in AUTH_RESPONSE:
    /// [`SessionResult::EcOnlyNotSupported`]. Anything else (an RSA
    /// request refused, a time-out at either step): key generation failed.
    fn on_key_gen_response(&mut self, key_request: KeyRequest, frame: &Frame) -> State {
        let reason = frame.reason();
        let Some(spki) = frame
            .public_key()
            .filter(|_| matches!(reason, None | Some(Reason::Success)))
        else {
            if let Some(fallback) = key_request.fallback() {
                return self.request_key(fallback);
            }
            if self.key_generation_retries < self.config.key_generation_retries {
                self.key_generation_retries += 1;
                return self.request_key(key_request);
            }
            // Failure: END 7, the operation stays scheduled.
            let ec_only = matches!(key_request, KeyRequest::Ec(_))
                && self.phone_version.is_some_and(|version| version <= 3);
            return self.finish(
                Some(Reason::Failure),
                if ec_only {
                    SessionResult::EcOnlyNotSupported {
                        phone_reason: reason,
                    }
                } else {
                    SessionResult::KeyGenerationFailed {
                        phone_reason: reason,
                    }
                },
            );
        };
        let key_request = key_request.first();
        let matches_request = match (ProofPublicKey::from_spki_der(spki), key_request) {
            (Err(_), _) => return self.violation(ServerProtocolViolation::InvalidPublicKey),
            (Ok(ProofPublicKey::Rsa(key)), KeyRequest::Rsa { bits }) => {
                key.n().bits() == usize::from(bits)
            }
            (Ok(ProofPublicKey::P256(_)), KeyRequest::Ec(Curve::P256))
            | (Ok(ProofPublicKey::P384(_)), KeyRequest::Ec(Curve::P384))
            | (Ok(ProofPublicKey::P521(_)), KeyRequest::Ec(Curve::P521)) => true,
            _ => false,
        };
        if !matches_request {
            return self.violation(ServerProtocolViolation::PublicKeyMismatch {
                requested: key_request,
            });
        }
        let device_name = self.device_name.clone().unwrap_or_default();
        // Our reading: SIGNED_DATA here is a phone-signed PKCS#10 request;
        // one that is present must be exactly right. SIGNED_DATA that is no
        // PKCS#10 at all is some other signature of a phone's, which the
        // spec (section 8) says to accept and ignore, as SHA2_SIGNED_DATA
        // and unknown elements are.
        let certificate_request_der = match frame.signed_data() {
            None => None,
            Some(request) => match verify_certificate_request(request, spki, &device_name) {
                Ok(()) => Some(request.to_vec()),
                Err(CertificateRequestError::Unparseable) => None,
                Err(error) => {
                    return self
                        .violation(ServerProtocolViolation::InvalidCertificateRequest(error));
                }
            },
        };
        self.outputs
            .push_back(ServerOutput::Need(ServerDecision::IssueCertificate {
                device_name,
                subject_public_key_info_der: spki.to_vec(),
                key_request,
                certificate_request_der,
            }));
        State::IssuingCertificate {
            subject_public_key_info_der: spki.to_vec(),
        }
    }

    fn auth_failed(&mut self, failure: AuthFailure) -> State {
        self.finish(
            Some(Reason::Failure),
            SessionResult::AuthenticationFailed(failure),
        )
    }

    fn violation(&mut self, violation: ServerProtocolViolation) -> State {
        self.finish(
            Some(Reason::Failure),
            SessionResult::ProtocolError(violation),
        )
    }

    /// Decides the end: asks the host to record the outcome; END_SESSION
    /// with `end_reason` (if any) and Done follow its answer
    /// ([`conclude`](Self::conclude)).
    fn finish(&mut self, end_reason: Option<Reason>, result: SessionResult) -> State {
        let outcome = Box::new(ServerOutcome {
            device_name: self.device_name.clone(),
            result,
            end_reason,
            authenticated: self.authenticated,
            certificate_authentication: self.certificate_authentication,
            recorded: false,
        });
        self.outputs
            .push_back(ServerOutput::Need(ServerDecision::RecordOutcome {
                outcome: outcome.clone(),
            }));
        State::RecordingOutcome { outcome }
    }

    /// Ends the session once the host answered the record decision: the
    /// planned END_SESSION (7 instead when the record failed), then Done.
    fn conclude(&mut self, mut outcome: ServerOutcome, recorded: bool) -> State {
        outcome.recorded = recorded;
        if !recorded && outcome.end_reason.is_some() {
            outcome.end_reason = Some(Reason::Failure);
        }
        if let Some(reason) = outcome.end_reason {
            self.transmit(Frame::end_session(self.config.session_id, reason));
        }
        self.outputs.push_back(ServerOutput::Done(outcome));
        State::Done
    }

    fn transmit(&mut self, frame: Frame) {
        // Server frames are built from checked values (certificate size is
        // checked where a certificate is answered), so encoding cannot fail.
        if let Ok(bytes) = frame.encode() {
            self.outputs.push_back(ServerOutput::Transmit(bytes));
        }
    }

    fn deadline(&self, wait: Duration) -> Timestamp {
        self.now.plus_millis(millis(wait))
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Session for ServerSession {
    type Decision = ServerDecision;
    type Outcome = ServerOutcome;

    fn handle_input(&mut self, bytes: &[u8]) {
        ServerSession::handle_input(self, bytes);
    }

    fn poll_output(&mut self) -> Option<ServerOutput> {
        ServerSession::poll_output(self)
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        ServerSession::handle_timeout(self, now);
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        ServerSession::poll_timeout(self)
    }

    fn handle_peer_closed(&mut self) {
        ServerSession::handle_peer_closed(self);
    }

    fn handle_transport_error(&mut self) {
        ServerSession::handle_transport_error(self);
    }

    fn is_done(&self) -> bool {
        ServerSession::is_done(self)
    }

    fn pending_decision(&self) -> Option<DecisionKind> {
        ServerSession::pending_decision(self)
    }
}
