//! The phone side of one CAPF session (spec 10.13) as a sans-IO state
//! machine.

use std::collections::VecDeque;

use der::Decode;
use spki::SubjectPublicKeyInfoOwned;

use super::config::{AuthResponseLayout, PhoneConfig};
use super::outcome::{
    CommunicationFailure, DecisionKind, KeyGenerationFailed, LocalFailure, PhoneDecision,
    PhoneOutcome, PhoneOutput, PhoneState, ProtocolViolation, SessionMisuse, StoreFailed,
    StoreFailure,
};
use crate::key_request::KeyRequest;
use crate::proof::{ProofKeyKind, ProofPublicKey};
use crate::time::Timestamp;
use crate::wire::{AuthResponseFields, Command, Element, Frame, FrameDecoder, KeyType, Reason};

/// What the phone completed before END_SESSION.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Completed {
    Installed { certificate_der: Vec<u8> },
    Fetched { certificate_sent: bool },
    Deleted { certificate_was_present: bool },
}

/// A failure the phone reported to the server before END_SESSION.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReportedFailure {
    KeyGeneration,
    Store(StoreFailure),
}

impl ReportedFailure {
    fn outcome(self, server_reason: Option<Reason>) -> PhoneOutcome {
        match self {
            Self::KeyGeneration => PhoneOutcome::KeyGenerationFailed { server_reason },
            Self::Store(cause) => PhoneOutcome::StoreFailed {
                cause,
                server_reason,
            },
        }
    }
}

/// One variant per state; the data each state needs lives in it.
#[derive(Debug)]
enum State {
    AwaitingAuthRequest,
    AwaitingRequest,
    GeneratingKey {
        request: KeyRequest,
    },
    AwaitingStoreRequest {
        public_key: SubjectPublicKeyInfoOwned,
    },
    Storing {
        certificate_der: Vec<u8>,
    },
    Fetching,
    Deleting,
    AwaitingEnd {
        completed: Completed,
    },
    AwaitingEndAfterFailure {
        failure: ReportedFailure,
    },
    Finished,
}

impl State {
    const fn label(&self) -> PhoneState {
        match self {
            Self::AwaitingAuthRequest => PhoneState::AwaitingAuthRequest,
            Self::AwaitingRequest => PhoneState::AwaitingRequest,
            Self::GeneratingKey { .. } => PhoneState::GeneratingKey,
            Self::AwaitingStoreRequest { .. } => PhoneState::AwaitingStoreRequest,
            Self::Storing { .. } => PhoneState::Storing,
            Self::Fetching => PhoneState::Fetching,
            Self::Deleting => PhoneState::Deleting,
            Self::AwaitingEnd { .. } => PhoneState::AwaitingEnd,
            Self::AwaitingEndAfterFailure { .. } => PhoneState::AwaitingEndAfterFailure,
            Self::Finished => PhoneState::Finished,
        }
    }

    /// The decision the host owes in this state.
    const fn pending(&self) -> Option<DecisionKind> {
        match self {
            Self::GeneratingKey { .. } => Some(DecisionKind::GenerateKey),
            Self::Storing { .. } => Some(DecisionKind::StoreCertificate),
            Self::Fetching => Some(DecisionKind::FetchCertificate),
            Self::Deleting => Some(DecisionKind::DeleteCertificate),
            _ => None,
        }
    }

    /// True while the session waits for a server frame (the response timer
    /// runs only then).
    const fn waits_for_server(&self) -> bool {
        matches!(
            self,
            Self::AwaitingAuthRequest
                | Self::AwaitingRequest
                | Self::AwaitingStoreRequest { .. }
                | Self::AwaitingEnd { .. }
                | Self::AwaitingEndAfterFailure { .. }
        )
    }
}

/// The response timer. Time enters only through
/// [`PhoneSession::handle_timeout`], so a timer restarted by input or an
/// answer is armed at the next `handle_timeout` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    Off,
    Restart,
    At(Timestamp),
}

/// A transition's consequence besides the new state.
enum Step {
    Continue,
    Finish(PhoneOutcome),
}

/// The phone side of one CAPF session (one TLS connection), sans-IO.
///
/// The server speaks first: feed its bytes with
/// [`handle_input`](Self::handle_input) in any chunking, then drain
/// [`poll_output`](Self::poll_output): [`PhoneOutput::Transmit`] (one whole
/// frame, write it in one write), [`PhoneOutput::Need`] (answer with
/// [`answer_key`](Self::answer_key), [`answer_store`](Self::answer_store),
/// [`answer_fetch`](Self::answer_fetch) or
/// [`answer_delete`](Self::answer_delete), now or much later), and finally
/// [`PhoneOutput::Done`]. Honour [`poll_timeout`](Self::poll_timeout) by
/// calling [`handle_timeout`](Self::handle_timeout); report a closed or
/// failed connection with [`handle_peer_closed`](Self::handle_peer_closed)
/// or [`handle_transport_error`](Self::handle_transport_error).
///
/// A server that breaks the protocol ends the session with
/// [`PhoneOutcome::ProtocolError`]; nothing here panics on input. Answering a
/// decision that is not pending returns [`SessionMisuse`] and changes
/// nothing.
///
/// ```
/// use capf_core::phone::{
///     AuthString, PhoneConfig, PhoneCredentials, PhoneDecision, PhoneOutcome, PhoneOutput,
///     PhoneSession,
/// };
/// use capf_core::key_request::KeyRequest;
/// use capf_core::time::Timestamp;
/// use capf_core::wire::{Frame, Reason};
///
/// let config = PhoneConfig::new(
///     "SEP001122334455",
///     PhoneCredentials::AuthString(AuthString::new("123456")?),
/// )?;
/// let mut phone = PhoneSession::new(config, Timestamp::from_unix_seconds(1_700_000_000));
///
/// // The server asks for authentication; the phone answers.
/// phone.handle_input(&Frame::auth_request(1, None).encode()?);
/// let Some(PhoneOutput::Transmit(auth_response)) = phone.poll_output() else { panic!() };
/// assert_eq!(Frame::decode(&auth_response)?.session_id, 1);
///
/// // The server wants an RSA-2048 key: REQUEST_IN_PROGRESS goes out at once,
/// // then the host generates the key whenever it can.
/// phone.handle_input(&Frame::key_gen_request_rsa(1, 2048).encode()?);
/// assert_eq!(phone.poll_output(), Some(PhoneOutput::Transmit(Frame::request_in_progress(1).encode()?)));
/// assert_eq!(
///     phone.poll_output(),
///     Some(PhoneOutput::Need(PhoneDecision::GenerateKey(KeyRequest::Rsa { bits: 2048 })))
/// );
/// assert_eq!(phone.poll_timeout(), None); // no deadline while the key is made
///
/// // … here the server gives up instead.
/// phone.handle_input(&Frame::end_session(1, Reason::Failure).encode()?);
/// assert_eq!(
///     phone.poll_output(),
///     Some(PhoneOutput::Done(PhoneOutcome::Refused { reason: Reason::Failure }))
/// );
/// assert_eq!(phone.poll_output(), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PhoneSession {
    config: PhoneConfig,
    state: State,
    session_id: Option<u32>,
    decoder: FrameDecoder,
    outputs: VecDeque<PhoneOutput>,
    timer: Timer,
    last_now: Timestamp,
    finished: bool,
}

impl PhoneSession {
    /// A session that waits for the server's AUTH_REQUEST; the response
    /// timer starts at `now`.
    pub fn new(config: PhoneConfig, now: Timestamp) -> Self {
        let deadline = deadline_after(now, &config);
        Self {
            config,
            state: State::AwaitingAuthRequest,
            session_id: None,
            decoder: FrameDecoder::new(),
            outputs: VecDeque::new(),
            timer: Timer::At(deadline),
            last_now: now,
            finished: false,
        }
    }

    /// The current state.
    pub const fn state(&self) -> PhoneState {
        self.state.label()
    }

    /// The session id the server chose (known once AUTH_REQUEST arrived).
    pub const fn session_id(&self) -> Option<u32> {
        self.session_id
    }

    /// True once [`PhoneOutput::Done`] has been queued.
    pub const fn is_finished(&self) -> bool {
        self.finished
    }

    /// Bytes received from the server, in any chunking. Bytes after
    /// END_SESSION, or after the session ended otherwise, are ignored.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if self.is_finished() {
            return;
        }
        self.decoder.push(bytes);
        while !self.is_finished() {
            match self.decoder.next_frame() {
                Ok(Some(frame)) => self.on_frame(frame),
                Ok(None) => break,
                Err(error) => self.finish(PhoneOutcome::ProtocolError(error.into())),
            }
        }
    }

    /// The next thing to do, in order; `None` when the session waits for
    /// input, an answer or time.
    pub fn poll_output(&mut self) -> Option<PhoneOutput> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next:
    /// the deadline for the next server frame. `None` while the host owes an
    /// answer (a key may take 30 minutes) and once the session is over.
    ///
    /// After input or an answer restarts the timer, this returns the latest
    /// time the session has seen, so the host calls `handle_timeout` at once
    /// and the session arms the full deadline from the host's `now`.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        match self.timer {
            Timer::Off => None,
            Timer::Restart => Some(self.last_now),
            Timer::At(deadline) => Some(deadline),
        }
    }

    /// Time goes in only here. Past the deadline the session ends with
    /// [`CommunicationFailure::TimedOut`] (or, after the phone reported a
    /// failure of its own, with that failure).
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.last_now = self.last_now.max(now);
        match self.timer {
            Timer::Off => {}
            Timer::Restart => self.timer = Timer::At(deadline_after(now, &self.config)),
            Timer::At(deadline) if now >= deadline => {
                self.connection_lost(CommunicationFailure::TimedOut);
            }
            Timer::At(_) => {}
        }
    }

    /// The server closed the connection. Before END_SESSION this ends the
    /// session with [`CommunicationFailure::PeerClosed`].
    pub fn handle_peer_closed(&mut self) {
        self.connection_lost(CommunicationFailure::PeerClosed);
    }

    /// The transport failed (reset, TLS alert …). Before END_SESSION this ends
    /// the session with [`CommunicationFailure::Transport`].
    pub fn handle_transport_error(&mut self) {
        self.connection_lost(CommunicationFailure::Transport);
    }

    /// Answer to [`PhoneDecision::GenerateKey`]: the new key's DER
    /// SubjectPublicKeyInfo (sent as KEY_GEN_RESPONSE PUBLIC_KEY), or
    /// [`KeyGenerationFailed`] (sent as KEY_GEN_RESPONSE REASON=7).
    ///
    /// A key that does not parse, or is not of the requested kind, is
    /// refused as [`SessionMisuse`] and the decision stays pending.
    pub fn answer_key(
        &mut self,
        result: Result<Vec<u8>, KeyGenerationFailed>,
    ) -> Result<(), SessionMisuse> {
        let State::GeneratingKey { request } = &self.state else {
            return Err(self.not_asked(DecisionKind::GenerateKey));
        };
        let request = *request;
        let session_id = self.current_session_id();
        match result {
            Ok(spki_der) => {
                let public_key = SubjectPublicKeyInfoOwned::from_der(&spki_der)
                    .map_err(|_| SessionMisuse::InvalidPublicKey)?;
                let kind = ProofPublicKey::from_spki_der(&spki_der)
                    .map_err(|_| SessionMisuse::InvalidPublicKey)?
                    .kind();
                if !key_matches(request, kind) {
                    return Err(SessionMisuse::PublicKeyMismatch { requested: request });
                }
                self.state = State::AwaitingStoreRequest { public_key };
                self.transmit(&Frame::key_gen_response(session_id, spki_der));
            }
            Err(KeyGenerationFailed) => {
                self.state = State::AwaitingEndAfterFailure {
                    failure: ReportedFailure::KeyGeneration,
                };
                self.transmit(&Frame::key_gen_failure(session_id, Reason::Failure));
            }
        }
        self.rearm();
        Ok(())
    }

    /// While the host generates a key: queue one more REQUEST_IN_PROGRESS
    /// (the reference client sends exactly one; whether real phones repeat
    /// it is unknown, and the reference server ends the session on a
    /// second one).
    pub fn repeat_in_progress(&mut self) -> Result<(), SessionMisuse> {
        match self.state {
            State::GeneratingKey { .. } => {
                let frame = Frame::request_in_progress(self.current_session_id());
                self.transmit(&frame);
                Ok(())
            }
            State::Finished => Err(SessionMisuse::Finished),
            _ => Err(SessionMisuse::NotGeneratingKey),
        }
    }

    /// Answer to [`PhoneDecision::StoreCertificate`]: STORE_CERT_RESPONSE
    /// REASON=1 when stored, REASON=7 otherwise.
    pub fn answer_store(&mut self, result: Result<(), StoreFailed>) -> Result<(), SessionMisuse> {
        let State::Storing { certificate_der } = &mut self.state else {
            return Err(self.not_asked(DecisionKind::StoreCertificate));
        };
        let certificate_der = core::mem::take(certificate_der);
        let session_id = self.current_session_id();
        let reason = match result {
            Ok(()) => {
                self.state = State::AwaitingEnd {
                    completed: Completed::Installed { certificate_der },
                };
                Reason::Success
            }
            Err(StoreFailed) => {
                self.state = State::AwaitingEndAfterFailure {
                    failure: ReportedFailure::Store(StoreFailure::HostFailed),
                };
                Reason::Failure
            }
        };
        self.transmit(&Frame::store_cert_response(session_id, reason));
        self.rearm();
        Ok(())
    }

    /// Answer to [`PhoneDecision::FetchCertificate`]: the phone's LSC (DER)
    /// sent as FETCH_CERT_RESPONSE REASON=1 + CERTIFICATE, or `None` sent as
    /// REASON=7.
    pub fn answer_fetch(&mut self, certificate_der: Option<Vec<u8>>) -> Result<(), SessionMisuse> {
        if !matches!(self.state, State::Fetching) {
            return Err(self.not_asked(DecisionKind::FetchCertificate));
        }
        let session_id = self.current_session_id();
        self.state = State::AwaitingEnd {
            completed: Completed::Fetched {
                certificate_sent: certificate_der.is_some(),
            },
        };
        self.transmit(&Frame::fetch_cert_response(session_id, certificate_der));
        self.rearm();
        Ok(())
    }

    /// Answer to [`PhoneDecision::DeleteCertificate`]: whether an LSC was
    /// deleted (DELETE_CERT_RESPONSE REASON=1) or there was none (REASON=7).
    pub fn answer_delete(&mut self, deleted: bool) -> Result<(), SessionMisuse> {
        if !matches!(self.state, State::Deleting) {
            return Err(self.not_asked(DecisionKind::DeleteCertificate));
        }
        let session_id = self.current_session_id();
        self.state = State::AwaitingEnd {
            completed: Completed::Deleted {
                certificate_was_present: deleted,
            },
        };
        let reason = if deleted {
            Reason::Success
        } else {
            Reason::Failure
        };
        self.transmit(&Frame::delete_cert_response(session_id, reason));
        self.rearm();
        Ok(())
    }

    fn not_asked(&self, answered: DecisionKind) -> SessionMisuse {
        if self.is_finished() {
            SessionMisuse::Finished
        } else {
            SessionMisuse::NotAsked {
                answered,
                pending: self.state.pending(),
            }
        }
    }

    fn current_session_id(&self) -> u32 {
        // Every state that sends has passed AUTH_REQUEST.
        self.session_id.unwrap_or_default()
    }

    /// Every state transition on a server frame happens here.
    fn on_frame(&mut self, frame: Frame) {
        if let Some(expected) = self.session_id
            && frame.session_id != expected
        {
            self.finish(PhoneOutcome::ProtocolError(
                ProtocolViolation::SessionIdMismatch {
                    expected,
                    found: frame.session_id,
                },
            ));
            return;
        }
        let state = core::mem::replace(&mut self.state, State::Finished);
        let label = state.label();
        let step = match (state, frame.command) {
            (state, Command::EndSession) => match frame.reason() {
                Some(reason) => Step::Finish(end_session_outcome(state, reason)),
                None => Step::Finish(PhoneOutcome::ProtocolError(
                    ProtocolViolation::MissingReason,
                )),
            },
            (State::AwaitingAuthRequest, Command::AuthRequest) => self.on_auth_request(&frame),
            (State::AwaitingRequest, Command::KeyGenRequest) => self.on_key_gen_request(&frame),
            (State::AwaitingRequest, Command::FetchCertRequest) => {
                self.state = State::Fetching;
                self.outputs
                    .push_back(PhoneOutput::Need(PhoneDecision::FetchCertificate));
                Step::Continue
            }
            (State::AwaitingRequest, Command::DeleteCertRequest) => {
                self.state = State::Deleting;
                self.outputs
                    .push_back(PhoneOutput::Need(PhoneDecision::DeleteCertificate));
                Step::Continue
            }
            (State::AwaitingStoreRequest { public_key }, Command::StoreCertRequest) => {
                self.on_store_request(&frame, &public_key)
            }
            (_, command) => Step::Finish(PhoneOutcome::ProtocolError(
                ProtocolViolation::UnexpectedCommand {
                    command,
                    state: label,
                },
            )),
        };
        match step {
            Step::Continue => self.rearm(),
            Step::Finish(outcome) => self.finish(outcome),
        }
    }

    fn on_auth_request(&mut self, frame: &Frame) -> Step {
        let Some(version) = frame.version() else {
            return Step::Finish(PhoneOutcome::ProtocolError(
                ProtocolViolation::MissingVersion,
            ));
        };
        if !self.config.accepted_server_versions().contains(&version.0) {
            return Step::Finish(PhoneOutcome::ProtocolError(
                ProtocolViolation::UnsupportedVersion { found: version.0 },
            ));
        }
        self.session_id = Some(frame.session_id);
        let device_name = self.config.device_name().to_owned();
        let fields = match self
            .config
            .credentials
            .auth_response_fields(&device_name, frame.session_id)
        {
            Ok(mut fields) => {
                fields.version = self.config.version();
                fields
            }
            Err(failure) => return Step::Finish(PhoneOutcome::LocalFailure(failure)),
        };
        let response = match self.config.auth_response_layout() {
            AuthResponseLayout::Reference => Frame::auth_response(frame.session_id, fields),
            AuthResponseLayout::Jabber => jabber_auth_response(frame.session_id, fields),
        };
        self.state = State::AwaitingRequest;
        self.transmit(&response);
        Step::Continue
    }

    fn on_key_gen_request(&mut self, frame: &Frame) -> Step {
        let session_id = frame.session_id;
        let request = match frame.key_type() {
            None | Some(KeyType::Rsa) => frame.key_size().map(|bits| KeyRequest::Rsa { bits }),
            Some(KeyType::Ec) => frame.curve().map(KeyRequest::Ec),
            Some(_) => {
                // A key type this implementation does not know: the phone
                // cannot make it.
                return self.refuse_key(session_id);
            }
        };
        let Some(request) = request else {
            return Step::Finish(PhoneOutcome::ProtocolError(
                ProtocolViolation::MissingKeyParameters,
            ));
        };
        if !request.is_valid() {
            return self.refuse_key(session_id);
        }
        self.state = State::GeneratingKey { request };
        self.transmit(&Frame::request_in_progress(session_id));
        self.outputs
            .push_back(PhoneOutput::Need(PhoneDecision::GenerateKey(request)));
        Step::Continue
    }

    fn refuse_key(&mut self, session_id: u32) -> Step {
        self.state = State::AwaitingEndAfterFailure {
            failure: ReportedFailure::KeyGeneration,
        };
        self.transmit(&Frame::key_gen_failure(session_id, Reason::Failure));
        Step::Continue
    }

    fn on_store_request(&mut self, frame: &Frame, generated: &SubjectPublicKeyInfoOwned) -> Step {
        let checked = match frame.certificate() {
            None => Err(StoreFailure::MissingCertificate),
            Some(wrapped) => match x509_cert::Certificate::from_der(&wrapped.der) {
                Err(_) => Err(StoreFailure::CertificateUnparseable),
                Ok(certificate) => {
                    if &certificate.tbs_certificate.subject_public_key_info == generated {
                        Ok(wrapped.der.clone())
                    } else {
                        Err(StoreFailure::PublicKeyMismatch)
                    }
                }
            },
        };
        match checked {
            Ok(certificate_der) => {
                self.state = State::Storing {
                    certificate_der: certificate_der.clone(),
                };
                self.outputs
                    .push_back(PhoneOutput::Need(PhoneDecision::StoreCertificate {
                        certificate_der,
                    }));
            }
            Err(cause) => {
                self.state = State::AwaitingEndAfterFailure {
                    failure: ReportedFailure::Store(cause),
                };
                self.transmit(&Frame::store_cert_response(
                    frame.session_id,
                    Reason::Failure,
                ));
            }
        }
        Step::Continue
    }

    /// Queues a frame; one that cannot be encoded ends the session.
    fn transmit(&mut self, frame: &Frame) {
        match frame.encode() {
            Ok(bytes) => self.outputs.push_back(PhoneOutput::Transmit(bytes)),
            Err(_) => self.finish(PhoneOutcome::LocalFailure(LocalFailure::FrameTooLarge)),
        }
    }

    /// Restarts or stops the response timer for the current state.
    fn rearm(&mut self) {
        self.timer = if self.state.waits_for_server() {
            Timer::Restart
        } else {
            Timer::Off
        };
    }

    fn connection_lost(&mut self, failure: CommunicationFailure) {
        if self.finished {
            return;
        }
        let outcome = match &self.state {
            State::AwaitingEndAfterFailure { failure } => failure.outcome(None),
            _ => PhoneOutcome::CommunicationFailure(failure),
        };
        self.finish(outcome);
    }

    fn finish(&mut self, outcome: PhoneOutcome) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.state = State::Finished;
        self.timer = Timer::Off;
        self.outputs.push_back(PhoneOutput::Done(outcome));
    }
}

fn deadline_after(now: Timestamp, config: &PhoneConfig) -> Timestamp {
    let millis = u64::try_from(config.response_timeout().as_millis()).unwrap_or(u64::MAX);
    now.plus_millis(millis)
}

/// Reads END_SESSION's reason in the light of the state it arrived in.
fn end_session_outcome(state: State, reason: Reason) -> PhoneOutcome {
    let done = matches!(reason, Reason::NoAction | Reason::Success);
    match state {
        State::AwaitingEndAfterFailure { failure } => failure.outcome(Some(reason)),
        _ if reason == Reason::UnknownDevice => PhoneOutcome::UnknownDevice,
        State::AwaitingRequest if done => PhoneOutcome::NothingToDo { reason },
        State::AwaitingEnd { completed } if done => match completed {
            Completed::Installed { certificate_der } => PhoneOutcome::Installed { certificate_der },
            Completed::Fetched { certificate_sent } => {
                PhoneOutcome::FetchCompleted { certificate_sent }
            }
            Completed::Deleted {
                certificate_was_present,
            } => PhoneOutcome::Deleted {
                certificate_was_present,
            },
        },
        _ => PhoneOutcome::Refused { reason },
    }
}

/// Whether a generated key is of the kind the server asked for.
fn key_matches(request: KeyRequest, kind: ProofKeyKind) -> bool {
    match (request, kind) {
        (KeyRequest::Rsa { bits }, ProofKeyKind::Rsa { modulus_bytes }) => {
            modulus_bytes.checked_mul(8) == Some(usize::from(bits))
        }
        (KeyRequest::Ec(curve), ProofKeyKind::Ec(ec)) => curve == ec,
        _ => false,
    }
}

/// AUTH_RESPONSE in the order a Jabber client was seen using (spec 8):
/// VERSION, DEVICE_NAME, REASON=1, PASSWORD only when not empty, then the
/// certificate elements in the reference order.
fn jabber_auth_response(session_id: u32, fields: AuthResponseFields) -> Frame {
    let AuthResponseFields {
        version,
        device_name,
        password,
        certificate_proof,
        sudi,
    } = fields;
    let mut elements = vec![
        Element::Version(version),
        Element::DeviceName(device_name),
        Element::Reason(Reason::Success),
    ];
    if !password.is_empty() {
        elements.push(Element::Password(password));
    }
    let sha2 = certificate_proof.map(|proof| {
        elements.push(Element::Certificate(proof.certificate));
        elements.push(Element::SignedData(proof.sha1_signature));
        Element::Sha2SignedData(proof.sha512_signature)
    });
    elements.extend(sudi.map(Element::SudiData));
    elements.extend(sha2);
    Frame::new(Command::AuthResponse, session_id, elements)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone::PhoneCredentials;
    use crate::wire::{Curve, DeviceName, Password};

    #[test]
    fn key_kinds_match_requests() {
        let rsa = |bits| KeyRequest::Rsa { bits };
        assert!(key_matches(
            rsa(2048),
            ProofKeyKind::Rsa { modulus_bytes: 256 }
        ));
        assert!(!key_matches(
            rsa(2048),
            ProofKeyKind::Rsa { modulus_bytes: 128 }
        ));
        assert!(!key_matches(rsa(2048), ProofKeyKind::Ec(Curve::P256)));
        assert!(key_matches(
            KeyRequest::Ec(Curve::P521),
            ProofKeyKind::Ec(Curve::P521)
        ));
        assert!(!key_matches(
            KeyRequest::Ec(Curve::P256),
            ProofKeyKind::Ec(Curve::P384)
        ));
    }

    #[test]
    fn end_session_reading() {
        let installed = || State::AwaitingEnd {
            completed: Completed::Installed {
                certificate_der: vec![1],
            },
        };
        assert_eq!(
            end_session_outcome(installed(), Reason::Success),
            PhoneOutcome::Installed {
                certificate_der: vec![1]
            }
        );
        assert_eq!(
            end_session_outcome(installed(), Reason::Failure),
            PhoneOutcome::Refused {
                reason: Reason::Failure
            }
        );
        assert_eq!(
            end_session_outcome(installed(), Reason::UnknownDevice),
            PhoneOutcome::UnknownDevice
        );
        assert_eq!(
            end_session_outcome(State::AwaitingRequest, Reason::Success),
            PhoneOutcome::NothingToDo {
                reason: Reason::Success
            }
        );
        assert_eq!(
            end_session_outcome(
                State::AwaitingEndAfterFailure {
                    failure: ReportedFailure::Store(StoreFailure::HostFailed)
                },
                Reason::UnknownDevice
            ),
            PhoneOutcome::StoreFailed {
                cause: StoreFailure::HostFailed,
                server_reason: Some(Reason::UnknownDevice)
            }
        );
    }

    #[test]
    fn jabber_layout_matches_section_8() {
        let fields = AuthResponseFields::new(DeviceName::new("SEP0011223344F3"), Password::empty());
        let tags: Vec<u8> = jabber_auth_response(1, fields)
            .elements
            .iter()
            .map(|element| element.tag().code())
            .collect();
        assert_eq!(tags, [7, 13, 1]);
        let fields = AuthResponseFields::new(DeviceName::new("SEP1"), Password::new("1234"));
        let tags: Vec<u8> = jabber_auth_response(1, fields)
            .elements
            .iter()
            .map(|element| element.tag().code())
            .collect();
        assert_eq!(tags, [7, 13, 1, 11]);
    }

    #[test]
    fn restarted_timer_asks_for_an_immediate_tick() {
        let now = Timestamp::from_unix_seconds(100);
        let config = PhoneConfig::new("SEP1", PhoneCredentials::NullString).unwrap();
        let mut phone = PhoneSession::new(config, now);
        assert_eq!(phone.poll_timeout(), Some(now.plus_seconds(60)));
        phone.handle_input(&Frame::auth_request(9, None).encode().unwrap());
        assert_eq!(phone.poll_timeout(), Some(now));
        // The deadline is armed from the host's `now`, even if its clock
        // stepped back.
        phone.handle_timeout(Timestamp::from_unix_seconds(50));
        assert_eq!(
            phone.poll_timeout(),
            Some(Timestamp::from_unix_seconds(110))
        );
    }
}
