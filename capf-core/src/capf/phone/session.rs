//! The phone side of one CAPF session (spec 10.13) as a sans-IO state
//! machine.

use std::collections::VecDeque;

use der::Decode;
use spki::SubjectPublicKeyInfoOwned;

use super::config::{AuthResponseLayout, PhoneConfig};
use super::credentials::ProofJob;
use super::outcome::{
    CommunicationFailure, LocalFailure, PhoneDecision, PhoneOutcome, PhoneOutput,
    PhoneProtocolViolation, PhoneSessionState, StoreFailure,
};
use crate::capf::certificate_request::{
    CertificateRequestAlgorithm, assemble_certificate_request, certification_request_info,
    verify_certificate_request_signature,
};
use crate::capf::codec::{
    AuthResponseFields, CertificateProof, Command, Element, Frame, FrameDecoder, KeyType, Reason,
    Sha2SignedData, SudiData, WireError, WrappedCertificate,
};
use crate::capf::key_request::KeyRequest;
use crate::capf::proof::{ProofKeyKind, ProofPublicKey};
use crate::session::{DecisionKind, Session, SessionMisuse, not_pending};
use crate::time::Timestamp;

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

/// The AUTH_RESPONSE being assembled while the host signs its proofs.
#[derive(Debug)]
struct PendingAuth {
    session_id: u32,
    fields: AuthResponseFields,
    /// Every proof to sign, in order; `signatures` holds those done.
    jobs: Vec<ProofJob>,
    signatures: Vec<Vec<u8>>,
}

impl PendingAuth {
    /// The proof the host is asked to sign now.
    fn current(&self) -> Option<&ProofJob> {
        self.jobs.get(self.signatures.len())
    }
}

/// The certificate request being signed: the new key and what is signed.
#[derive(Debug)]
struct PendingRequest {
    spki_der: Vec<u8>,
    public_key: Box<SubjectPublicKeyInfoOwned>,
    info_der: Vec<u8>,
    algorithm: CertificateRequestAlgorithm,
}

/// One variant per state; the data each state needs lives in it. Every
/// state that waits for the server carries its deadline.
#[derive(Debug)]
enum State {
    AwaitingAuthRequest {
        deadline: Timestamp,
    },
    SigningProof {
        auth: Box<PendingAuth>,
    },
    AwaitingRequest {
        deadline: Timestamp,
    },
    GeneratingKey {
        request: KeyRequest,
    },
    SigningCertificateRequest {
        request: Box<PendingRequest>,
    },
    AwaitingStoreRequest {
        public_key: Box<SubjectPublicKeyInfoOwned>,
        deadline: Timestamp,
    },
    Storing {
        certificate_der: Vec<u8>,
    },
    Fetching,
    Deleting,
    AwaitingEnd {
        completed: Completed,
        deadline: Timestamp,
    },
    AwaitingEndAfterFailure {
        failure: ReportedFailure,
        deadline: Timestamp,
    },
    Finished,
}

impl State {
    const fn label(&self) -> PhoneSessionState {
        match self {
            Self::AwaitingAuthRequest { .. } => PhoneSessionState::AwaitingAuthRequest,
            Self::SigningProof { .. } => PhoneSessionState::SigningProof,
            Self::AwaitingRequest { .. } => PhoneSessionState::AwaitingRequest,
            Self::GeneratingKey { .. } => PhoneSessionState::GeneratingKey,
            Self::SigningCertificateRequest { .. } => PhoneSessionState::SigningCertificateRequest,
            Self::AwaitingStoreRequest { .. } => PhoneSessionState::AwaitingStoreRequest,
            Self::Storing { .. } => PhoneSessionState::Storing,
            Self::Fetching => PhoneSessionState::Fetching,
            Self::Deleting => PhoneSessionState::Deleting,
            Self::AwaitingEnd { .. } => PhoneSessionState::AwaitingEnd,
            Self::AwaitingEndAfterFailure { .. } => PhoneSessionState::AwaitingEndAfterFailure,
            Self::Finished => PhoneSessionState::Finished,
        }
    }

    /// The decision the host owes in this state.
    const fn pending(&self) -> Option<DecisionKind> {
        match self {
            Self::SigningProof { .. } => Some(DecisionKind::SignProof),
            Self::GeneratingKey { .. } => Some(DecisionKind::GenerateKey),
            Self::SigningCertificateRequest { .. } => Some(DecisionKind::SignCertificateRequest),
            Self::Storing { .. } => Some(DecisionKind::StoreCertificate),
            Self::Fetching => Some(DecisionKind::FetchCertificate),
            Self::Deleting => Some(DecisionKind::DeleteCertificate),
            _ => None,
        }
    }

    /// The deadline of the current wait for the server (none while the host
    /// owes an answer, or once over).
    const fn deadline(&self) -> Option<Timestamp> {
        match self {
            Self::AwaitingAuthRequest { deadline }
            | Self::AwaitingRequest { deadline }
            | Self::AwaitingStoreRequest { deadline, .. }
            | Self::AwaitingEnd { deadline, .. }
            | Self::AwaitingEndAfterFailure { deadline, .. } => Some(*deadline),
            _ => None,
        }
    }
}

/// Everything that moves the session: the server, the host, the clock, the
/// transport. Answers are checked by their methods before they get here.
enum Event {
    Frame(Frame),
    Malformed(WireError),
    Signature(Option<Vec<u8>>),
    Key(Option<(Vec<u8>, Box<SubjectPublicKeyInfoOwned>)>),
    RepeatInProgress,
    RequestSignature(Option<Vec<u8>>),
    Store(bool),
    Fetch(Option<Vec<u8>>),
    Delete(bool),
    Timeout,
    Lost(CommunicationFailure),
}

/// The phone side of one CAPF session (one TLS connection), sans-IO.
///
/// Driven through the crate's one [`Session`] contract (see
/// [`crate::manual`]). The server speaks first: feed its bytes with
/// [`handle_input`](Self::handle_input) in any chunking, then drain
/// [`poll_output`](Self::poll_output): [`PhoneOutput::Transmit`] (one whole
/// frame, write it in one write), [`PhoneOutput::Need`] (answer with
/// [`answer_signature`](Self::answer_signature),
/// [`answer_key`](Self::answer_key) / [`refuse_key`](Self::refuse_key),
/// [`answer_store`](Self::answer_store) / [`refuse_store`](Self::refuse_store),
/// [`answer_fetch`](Self::answer_fetch) or
/// [`answer_delete`](Self::answer_delete), now or much later), and finally
/// [`PhoneOutput::Done`]. Honour [`poll_timeout`](Self::poll_timeout) by
/// calling [`handle_timeout`](Self::handle_timeout); report a closed or
/// failed connection with [`handle_peer_closed`](Self::handle_peer_closed)
/// or [`handle_transport_error`](Self::handle_transport_error).
///
/// Time: the session knows only the latest time given to [`new`](Self::new)
/// or [`handle_timeout`](Self::handle_timeout); each wait for the server runs
/// [`PhoneConfig::response_timeout`] from it. A host that spent time on a
/// decision (a key may take 30 minutes) calls `handle_timeout(now)` before
/// answering.
///
/// The session holds no private key: certificate authentication asks the
/// host to sign each proof ([`PhoneDecision::SignProof`]).
///
/// A server that breaks the protocol ends the session with
/// [`PhoneOutcome::ProtocolError`]; nothing here panics on input. Answering a
/// decision that is not pending returns [`SessionMisuse`] and changes
/// nothing.
///
/// ```
/// use capf_core::capf::phone::{
///     AuthString, PhoneConfig, PhoneCredentials, PhoneDecision, PhoneOutcome, PhoneOutput,
///     PhoneSession,
/// };
/// use capf_core::capf::key_request::KeyRequest;
/// use capf_core::time::Timestamp;
/// use capf_core::capf::codec::{Frame, Reason};
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
    now: Timestamp,
}

impl PhoneSession {
    /// A session that waits for the server's AUTH_REQUEST; the response
    /// deadline runs from `now`.
    pub fn new(config: PhoneConfig, now: Timestamp) -> Self {
        let mut session = Self {
            config,
            state: State::Finished,
            session_id: None,
            decoder: FrameDecoder::new(),
            outputs: VecDeque::new(),
            now,
        };
        session.state = State::AwaitingAuthRequest {
            deadline: session.deadline(),
        };
        session
    }

    /// The current state.
    pub const fn state(&self) -> PhoneSessionState {
        self.state.label()
    }

    /// The session id the server chose (known once AUTH_REQUEST arrived).
    pub const fn session_id(&self) -> Option<u32> {
        self.session_id
    }

    /// True once the session is over ([`PhoneOutput::Done`] has been
    /// queued).
    pub const fn is_done(&self) -> bool {
        matches!(self.state, State::Finished)
    }

    /// The decision the host still has to answer, if any.
    pub const fn pending_decision(&self) -> Option<DecisionKind> {
        self.state.pending()
    }

    /// Bytes received from the server, in any chunking. Bytes after
    /// END_SESSION, or after the session ended otherwise, are ignored.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if self.is_done() {
            return;
        }
        self.decoder.push(bytes);
        while !self.is_done() {
            match self.decoder.next_frame() {
                Ok(Some(frame)) => self.step(Event::Frame(frame)),
                Ok(None) => break,
                Err(error) => self.step(Event::Malformed(error)),
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
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.state.deadline()
    }

    /// Time goes in only here (and in [`new`](Self::new)). Past the
    /// deadline the session ends with [`CommunicationFailure::TimedOut`]
    /// (or, after the phone reported a failure of its own, with that
    /// failure). Calling it early, or with an older time, is harmless.
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

    /// The server closed the connection. Before END_SESSION this ends the
    /// session with [`CommunicationFailure::PeerClosed`].
    pub fn handle_peer_closed(&mut self) {
        self.step(Event::Lost(CommunicationFailure::PeerClosed));
    }

    /// The transport failed (reset, TLS alert …). Before END_SESSION this ends
    /// the session with [`CommunicationFailure::Transport`].
    pub fn handle_transport_error(&mut self) {
        self.step(Event::Lost(CommunicationFailure::Transport));
    }

    /// Answer to [`PhoneDecision::SignProof`]: the signature, made as the
    /// decision documents. It is checked with the certificate's public key;
    /// one that does not verify is refused
    /// ([`SessionMisuse::InvalidSignature`]) and the decision stays pending.
    /// After the last proof the AUTH_RESPONSE goes out.
    pub fn answer_signature(&mut self, signature: Vec<u8>) -> Result<(), SessionMisuse> {
        let State::SigningProof { auth } = &self.state else {
            return Err(self.not_pending(DecisionKind::SignProof));
        };
        let job = auth.current().ok_or(SessionMisuse::InvalidSignature)?;
        let verified = ProofPublicKey::from_certificate_der(&job.certificate_der)
            .and_then(|key| key.verify(job.hash, &job.message, &signature));
        if verified.is_err() {
            return Err(SessionMisuse::InvalidSignature);
        }
        self.step(Event::Signature(Some(signature)));
        Ok(())
    }

    /// Refuses [`PhoneDecision::SignProof`]: the proof cannot be made (a
    /// keystore error, no such key). The session ends with
    /// [`LocalFailure::Signing`] without sending anything more.
    pub fn refuse_signature(&mut self) -> Result<(), SessionMisuse> {
        self.expect_pending(DecisionKind::SignProof)?;
        self.step(Event::Signature(None));
        Ok(())
    }

    /// Answer to [`PhoneDecision::GenerateKey`]: the new key's DER
    /// SubjectPublicKeyInfo, sent as KEY_GEN_RESPONSE PUBLIC_KEY.
    ///
    /// A key that does not parse, or is not of the requested kind, is
    /// refused as [`SessionMisuse`] and the decision stays pending.
    pub fn answer_key(&mut self, spki_der: Vec<u8>) -> Result<(), SessionMisuse> {
        let State::GeneratingKey { request } = &self.state else {
            return Err(self.not_pending(DecisionKind::GenerateKey));
        };
        let public_key = SubjectPublicKeyInfoOwned::from_der(&spki_der)
            .map_err(|_| SessionMisuse::InvalidPublicKey)?;
        let kind = ProofPublicKey::from_spki_der(&spki_der)
            .map_err(|_| SessionMisuse::InvalidPublicKey)?
            .kind();
        if !key_matches(*request, kind) {
            return Err(SessionMisuse::PublicKeyMismatch {
                requested: *request,
            });
        }
        self.step(Event::Key(Some((spki_der, Box::new(public_key)))));
        Ok(())
    }

    /// Answer to [`PhoneDecision::SignCertificateRequest`]: the signature of
    /// its `message` by the new key. It is checked under that key; one that
    /// does not verify is refused ([`SessionMisuse::InvalidSignature`]) and
    /// the decision stays pending. KEY_GEN_RESPONSE then goes out with
    /// PUBLIC_KEY and SIGNED_DATA (the DER request).
    pub fn answer_certificate_request_signature(
        &mut self,
        signature: Vec<u8>,
    ) -> Result<(), SessionMisuse> {
        let State::SigningCertificateRequest { request } = &self.state else {
            return Err(self.not_pending(DecisionKind::SignCertificateRequest));
        };
        verify_certificate_request_signature(
            &request.spki_der,
            request.algorithm,
            &request.info_der,
            &signature,
        )
        .map_err(|_| SessionMisuse::InvalidSignature)?;
        self.step(Event::RequestSignature(Some(signature)));
        Ok(())
    }

    /// Refuses [`PhoneDecision::SignCertificateRequest`]: the request cannot
    /// be signed; KEY_GEN_RESPONSE goes out with PUBLIC_KEY alone, as
    /// without the option.
    pub fn refuse_certificate_request_signature(&mut self) -> Result<(), SessionMisuse> {
        self.expect_pending(DecisionKind::SignCertificateRequest)?;
        self.step(Event::RequestSignature(None));
        Ok(())
    }

    /// Refuses [`PhoneDecision::GenerateKey`]: the key could not be made;
    /// sent as KEY_GEN_RESPONSE REASON=7.
    pub fn refuse_key(&mut self) -> Result<(), SessionMisuse> {
        self.expect_pending(DecisionKind::GenerateKey)?;
        self.step(Event::Key(None));
        Ok(())
    }

    /// While the host generates a key: queue one more REQUEST_IN_PROGRESS
    /// (the reference client sends exactly one; whether real phones repeat
    /// it is unknown, and the reference server ends the session on a
    /// second one).
    pub fn repeat_in_progress(&mut self) -> Result<(), SessionMisuse> {
        match self.state {
            State::GeneratingKey { .. } => {
                self.step(Event::RepeatInProgress);
                Ok(())
            }
            State::Finished => Err(SessionMisuse::Finished),
            _ => Err(SessionMisuse::NotGeneratingKey),
        }
    }

    /// Answer to [`PhoneDecision::StoreCertificate`]: the certificate is
    /// stored; STORE_CERT_RESPONSE REASON=1.
    pub fn answer_store(&mut self) -> Result<(), SessionMisuse> {
        self.expect_pending(DecisionKind::StoreCertificate)?;
        self.step(Event::Store(true));
        Ok(())
    }

    /// Refuses [`PhoneDecision::StoreCertificate`]: the certificate could
    /// not be stored; STORE_CERT_RESPONSE REASON=7.
    pub fn refuse_store(&mut self) -> Result<(), SessionMisuse> {
        self.expect_pending(DecisionKind::StoreCertificate)?;
        self.step(Event::Store(false));
        Ok(())
    }

    /// Answer to [`PhoneDecision::FetchCertificate`]: the phone's LSC (DER)
    /// sent as FETCH_CERT_RESPONSE REASON=1 + CERTIFICATE, or `None` sent as
    /// REASON=7.
    pub fn answer_fetch(&mut self, certificate_der: Option<Vec<u8>>) -> Result<(), SessionMisuse> {
        self.expect_pending(DecisionKind::FetchCertificate)?;
        self.step(Event::Fetch(certificate_der));
        Ok(())
    }

    /// Answer to [`PhoneDecision::DeleteCertificate`]: whether an LSC was
    /// deleted (DELETE_CERT_RESPONSE REASON=1) or there was none (REASON=7).
    pub fn answer_delete(&mut self, deleted: bool) -> Result<(), SessionMisuse> {
        self.expect_pending(DecisionKind::DeleteCertificate)?;
        self.step(Event::Delete(deleted));
        Ok(())
    }

    fn not_pending(&self, answered: DecisionKind) -> SessionMisuse {
        not_pending(answered, self.state.pending(), self.is_done())
    }

    fn expect_pending(&self, answered: DecisionKind) -> Result<(), SessionMisuse> {
        if self.state.pending() == Some(answered) {
            Ok(())
        } else {
            Err(self.not_pending(answered))
        }
    }

    fn current_session_id(&self) -> u32 {
        // Every state that sends has passed AUTH_REQUEST.
        self.session_id.unwrap_or_default()
    }

    /// The deadline of a wait for the server that starts now.
    fn deadline(&self) -> Timestamp {
        let millis = u64::try_from(self.config.response_timeout().as_millis()).unwrap_or(u64::MAX);
        self.now.plus_millis(millis)
    }

    /// Every transition, in one place.
    fn step(&mut self, event: Event) {
        let state = core::mem::replace(&mut self.state, State::Finished);
        self.state = match (state, event) {
            (State::Finished, _) => State::Finished,

            // The server, the clock and the transport, whatever the state.
            (_, Event::Malformed(error)) => self.finish(PhoneOutcome::ProtocolError(error.into())),
            (state, Event::Frame(frame)) => self.on_frame(state, &frame),
            (state, Event::Timeout) => self.connection_lost(state, CommunicationFailure::TimedOut),
            (state, Event::Lost(failure)) => self.connection_lost(state, failure),

            // Host answers (their methods checked that they are pending).
            (State::SigningProof { auth }, Event::Signature(Some(signature))) => {
                self.on_signature(auth, signature)
            }
            (State::SigningProof { .. }, Event::Signature(None)) => {
                self.finish(PhoneOutcome::LocalFailure(LocalFailure::Signing))
            }
            (State::GeneratingKey { .. }, Event::Key(Some((spki_der, public_key)))) => {
                self.on_key(spki_der, public_key)
            }
            (State::SigningCertificateRequest { request }, Event::RequestSignature(signature)) => {
                let PendingRequest {
                    spki_der,
                    public_key,
                    info_der,
                    algorithm,
                } = *request;
                let request_der = signature.and_then(|signature| {
                    assemble_certificate_request(&info_der, algorithm, &signature).ok()
                });
                self.send_key(spki_der, public_key, request_der)
            }
            (State::GeneratingKey { .. }, Event::Key(None)) => {
                self.key_failure(self.current_session_id())
            }
            (state @ State::GeneratingKey { .. }, Event::RepeatInProgress) => self.send(
                &Frame::request_in_progress(self.current_session_id()),
                state,
            ),
            (State::Storing { certificate_der }, Event::Store(stored)) => {
                let deadline = self.deadline();
                let (reason, next) = if stored {
                    let completed = Completed::Installed { certificate_der };
                    (
                        Reason::Success,
                        State::AwaitingEnd {
                            completed,
                            deadline,
                        },
                    )
                } else {
                    let failure = ReportedFailure::Store(StoreFailure::HostFailed);
                    let next = State::AwaitingEndAfterFailure { failure, deadline };
                    (Reason::Failure, next)
                };
                let frame = Frame::store_cert_response(self.current_session_id(), reason);
                self.send(&frame, next)
            }
            (State::Fetching, Event::Fetch(certificate_der)) => {
                let completed = Completed::Fetched {
                    certificate_sent: certificate_der.is_some(),
                };
                let frame = Frame::fetch_cert_response(self.current_session_id(), certificate_der);
                let deadline = self.deadline();
                self.send(
                    &frame,
                    State::AwaitingEnd {
                        completed,
                        deadline,
                    },
                )
            }
            (State::Deleting, Event::Delete(deleted)) => {
                let completed = Completed::Deleted {
                    certificate_was_present: deleted,
                };
                let reason = if deleted {
                    Reason::Success
                } else {
                    Reason::Failure
                };
                let frame = Frame::delete_cert_response(self.current_session_id(), reason);
                let deadline = self.deadline();
                self.send(
                    &frame,
                    State::AwaitingEnd {
                        completed,
                        deadline,
                    },
                )
            }
            // Unreachable through the public API (answers are checked
            // first); keep the state rather than panic.
            (
                state,
                Event::Signature(_)
                | Event::Key(_)
                | Event::RepeatInProgress
                | Event::RequestSignature(_)
                | Event::Store(_)
                | Event::Fetch(_)
                | Event::Delete(_),
            ) => state,
        };
    }

    /// A server frame, in any state but `Finished`.
    fn on_frame(&mut self, state: State, frame: &Frame) -> State {
        if let Some(expected) = self.session_id
            && frame.session_id != expected
        {
            return self.finish(PhoneOutcome::ProtocolError(
                PhoneProtocolViolation::SessionIdMismatch {
                    expected,
                    found: frame.session_id,
                },
            ));
        }
        let label = state.label();
        match (state, frame.command) {
            (state, Command::EndSession) => match frame.reason() {
                Some(reason) => self.finish(end_session_outcome(state, reason)),
                None => self.finish(PhoneOutcome::ProtocolError(
                    PhoneProtocolViolation::MissingReason,
                )),
            },
            (State::AwaitingAuthRequest { .. }, Command::AuthRequest) => {
                self.on_auth_request(frame)
            }
            (State::AwaitingRequest { .. }, Command::KeyGenRequest) => {
                self.on_key_gen_request(frame)
            }
            // After refusing a key, a server with an EC-preferred key order
            // asks again, for RSA (our reading; see
            // `KeyRequest::EcPreferred`): the phone answers it as a first
            // request.
            (
                State::AwaitingEndAfterFailure {
                    failure: ReportedFailure::KeyGeneration,
                    ..
                },
                Command::KeyGenRequest,
            ) => self.on_key_gen_request(frame),
            (State::AwaitingRequest { .. }, Command::FetchCertRequest) => {
                self.outputs
                    .push_back(PhoneOutput::Need(PhoneDecision::FetchCertificate));
                State::Fetching
            }
            // Our offline-CA reading: the certificate for the key kept
            // pending comes without KEY_GEN_REQUEST.
            (State::AwaitingRequest { .. }, Command::StoreCertRequest)
                if self.config.pending_key().is_some() =>
            {
                let pending = self
                    .config
                    .pending_key()
                    .and_then(|der| SubjectPublicKeyInfoOwned::from_der(der).ok());
                match pending {
                    Some(pending) => self.on_store_request(frame, &pending),
                    None => self.on_store_request_without_key(frame),
                }
            }
            (State::AwaitingRequest { .. }, Command::DeleteCertRequest) => {
                self.outputs
                    .push_back(PhoneOutput::Need(PhoneDecision::DeleteCertificate));
                State::Deleting
            }
            (State::AwaitingStoreRequest { public_key, .. }, Command::StoreCertRequest) => {
                self.on_store_request(frame, &public_key)
            }
            (_, command) => self.finish(PhoneOutcome::ProtocolError(
                PhoneProtocolViolation::UnexpectedCommand {
                    command,
                    state: label,
                },
            )),
        }
    }

    fn on_auth_request(&mut self, frame: &Frame) -> State {
        let Some(version) = frame.version() else {
            return self.finish(PhoneOutcome::ProtocolError(
                PhoneProtocolViolation::MissingVersion,
            ));
        };
        if !self.config.accepted_server_versions().contains(&version.0) {
            return self.finish(PhoneOutcome::ProtocolError(
                PhoneProtocolViolation::UnsupportedVersion { found: version.0 },
            ));
        }
        let session_id = frame.session_id;
        self.session_id = Some(session_id);
        let (mut fields, jobs) = self
            .config
            .credentials
            .auth_plan(self.config.device_name(), session_id);
        fields.version = self.config.version();
        let auth = Box::new(PendingAuth {
            session_id,
            fields,
            jobs,
            signatures: Vec::new(),
        });
        self.next_proof_or_respond(auth)
    }

    /// Asks for the next proof, or sends AUTH_RESPONSE once all are signed.
    fn next_proof_or_respond(&mut self, auth: Box<PendingAuth>) -> State {
        if let Some(job) = auth.current() {
            let digest = job.hash.digest(&job.message);
            self.outputs
                .push_back(PhoneOutput::Need(PhoneDecision::SignProof {
                    credential: job.credential,
                    hash: job.hash,
                    certificate_der: job.certificate_der.clone(),
                    message: job.message.clone(),
                    digest,
                }));
            return State::SigningProof { auth };
        }
        let PendingAuth {
            session_id,
            mut fields,
            jobs,
            signatures,
        } = *auth;
        let mut signatures = signatures.into_iter();
        let mut jobs = jobs.into_iter();
        if let (Some(job), Some(sha1), Some(sha512)) =
            (jobs.next(), signatures.next(), signatures.next())
        {
            jobs.next();
            fields.certificate_proof = Some(CertificateProof {
                certificate: WrappedCertificate::lsc(job.certificate_der),
                sha1_signature: sha1,
                sha512_signature: Sha2SignedData::sha512(sha512),
            });
        }
        if let (Some(job), Some(sha1), Some(sha512)) =
            (jobs.next(), signatures.next(), signatures.next())
        {
            fields.sudi = Some(SudiData::new(job.certificate_der, sha1, sha512));
        }
        let response = match self.config.auth_response_layout() {
            AuthResponseLayout::Reference => Frame::auth_response(session_id, fields),
            AuthResponseLayout::Jabber => jabber_auth_response(session_id, fields),
        };
        let deadline = self.deadline();
        self.send(&response, State::AwaitingRequest { deadline })
    }

    fn on_signature(&mut self, mut auth: Box<PendingAuth>, signature: Vec<u8>) -> State {
        auth.signatures.push(signature);
        self.next_proof_or_respond(auth)
    }

    fn on_key_gen_request(&mut self, frame: &Frame) -> State {
        let session_id = frame.session_id;
        let request = match frame.key_type() {
            None | Some(KeyType::Rsa) => frame.key_size().map(|bits| KeyRequest::Rsa { bits }),
            Some(KeyType::Ec) => frame.curve().map(KeyRequest::Ec),
            Some(_) => {
                // A key type this implementation does not know: the phone
                // cannot make it.
                return self.key_failure(session_id);
            }
        };
        let Some(request) = request else {
            return self.finish(PhoneOutcome::ProtocolError(
                PhoneProtocolViolation::MissingKeyParameters,
            ));
        };
        if !request.is_valid() {
            return self.key_failure(session_id);
        }
        let next = self.send(
            &Frame::request_in_progress(session_id),
            State::GeneratingKey { request },
        );
        if !matches!(next, State::Finished) {
            self.outputs
                .push_back(PhoneOutput::Need(PhoneDecision::GenerateKey(request)));
        }
        next
    }

    /// The host made the key: ask for the certificate request's signature
    /// when configured (and the request can be built), else send the key.
    fn on_key(&mut self, spki_der: Vec<u8>, public_key: Box<SubjectPublicKeyInfoOwned>) -> State {
        if self.config.sends_certificate_request() {
            let built = certification_request_info(self.config.device_name(), &spki_der).and_then(
                |info_der| {
                    CertificateRequestAlgorithm::for_public_key(&spki_der)
                        .map(|algorithm| (info_der, algorithm))
                },
            );
            if let Ok((info_der, algorithm)) = built {
                let digest = algorithm.digest(&info_der);
                self.outputs
                    .push_back(PhoneOutput::Need(PhoneDecision::SignCertificateRequest {
                        public_key_der: spki_der.clone(),
                        algorithm,
                        message: info_der.clone(),
                        digest,
                    }));
                return State::SigningCertificateRequest {
                    request: Box::new(PendingRequest {
                        spki_der,
                        public_key,
                        info_der,
                        algorithm,
                    }),
                };
            }
        }
        self.send_key(spki_der, public_key, None)
    }

    /// KEY_GEN_RESPONSE with PUBLIC_KEY (and the certificate request, if
    /// any), then wait for STORE_CERT_REQUEST.
    fn send_key(
        &mut self,
        spki_der: Vec<u8>,
        public_key: Box<SubjectPublicKeyInfoOwned>,
        request_der: Option<Vec<u8>>,
    ) -> State {
        let session_id = self.current_session_id();
        let frame = match request_der {
            Some(request_der) => {
                Frame::key_gen_response_with_certificate_request(session_id, spki_der, request_der)
            }
            None => Frame::key_gen_response(session_id, spki_der),
        };
        let deadline = self.deadline();
        self.send(
            &frame,
            State::AwaitingStoreRequest {
                public_key,
                deadline,
            },
        )
    }

    /// KEY_GEN_RESPONSE REASON=7, then wait for END_SESSION.
    fn key_failure(&mut self, session_id: u32) -> State {
        let deadline = self.deadline();
        self.send(
            &Frame::key_gen_failure(session_id, Reason::Failure),
            State::AwaitingEndAfterFailure {
                failure: ReportedFailure::KeyGeneration,
                deadline,
            },
        )
    }

    fn on_store_request(&mut self, frame: &Frame, generated: &SubjectPublicKeyInfoOwned) -> State {
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
                self.outputs
                    .push_back(PhoneOutput::Need(PhoneDecision::StoreCertificate {
                        certificate_der: certificate_der.clone(),
                    }));
                State::Storing { certificate_der }
            }
            Err(cause) => {
                let deadline = self.deadline();
                self.send(
                    &Frame::store_cert_response(frame.session_id, Reason::Failure),
                    State::AwaitingEndAfterFailure {
                        failure: ReportedFailure::Store(cause),
                        deadline,
                    },
                )
            }
        }
    }

    /// STORE_CERT_REQUEST when the pending key does not parse: refused as a
    /// key mismatch.
    fn on_store_request_without_key(&mut self, frame: &Frame) -> State {
        let deadline = self.deadline();
        self.send(
            &Frame::store_cert_response(frame.session_id, Reason::Failure),
            State::AwaitingEndAfterFailure {
                failure: ReportedFailure::Store(StoreFailure::PublicKeyMismatch),
                deadline,
            },
        )
    }

    /// Queues a frame and moves to `next`; a frame that cannot be encoded
    /// ends the session instead.
    fn send(&mut self, frame: &Frame, next: State) -> State {
        match frame.encode() {
            Ok(bytes) => {
                self.outputs.push_back(PhoneOutput::Transmit(bytes));
                next
            }
            Err(_) => self.finish(PhoneOutcome::LocalFailure(LocalFailure::FrameTooLarge)),
        }
    }

    fn connection_lost(&mut self, state: State, failure: CommunicationFailure) -> State {
        let outcome = match state {
            State::AwaitingEndAfterFailure { failure, .. } => failure.outcome(None),
            _ => PhoneOutcome::CommunicationFailure(failure),
        };
        self.finish(outcome)
    }

    fn finish(&mut self, outcome: PhoneOutcome) -> State {
        self.outputs.push_back(PhoneOutput::Done(outcome));
        State::Finished
    }
}

impl Session for PhoneSession {
    type Decision = PhoneDecision;
    type Outcome = PhoneOutcome;

    fn handle_input(&mut self, bytes: &[u8]) {
        PhoneSession::handle_input(self, bytes);
    }

    fn poll_output(&mut self) -> Option<PhoneOutput> {
        PhoneSession::poll_output(self)
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        PhoneSession::handle_timeout(self, now);
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        PhoneSession::poll_timeout(self)
    }

    fn handle_peer_closed(&mut self) {
        PhoneSession::handle_peer_closed(self);
    }

    fn handle_transport_error(&mut self) {
        PhoneSession::handle_transport_error(self);
    }

    fn is_done(&self) -> bool {
        PhoneSession::is_done(self)
    }

    fn pending_decision(&self) -> Option<DecisionKind> {
        PhoneSession::pending_decision(self)
    }
}

/// Reads END_SESSION's reason in the light of the state it arrived in.
fn end_session_outcome(state: State, reason: Reason) -> PhoneOutcome {
    let done = matches!(reason, Reason::NoAction | Reason::Success);
    match state {
        State::AwaitingEndAfterFailure { failure, .. } => failure.outcome(Some(reason)),
        _ if reason == Reason::UnknownDevice => PhoneOutcome::UnknownDevice,
        State::AwaitingRequest { .. } if done => PhoneOutcome::NothingToDo { reason },
        // Our reading: "no action" after the key went out means the
        // certificate is pending at an offline CA.
        State::AwaitingStoreRequest { .. } if reason == Reason::NoAction => {
            PhoneOutcome::CertificatePending
        }
        State::AwaitingEnd { completed, .. } if done => match completed {
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
    use crate::capf::codec::{Curve, Password, WireDeviceName};
    use crate::capf::phone::PhoneCredentials;

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
        let deadline = Timestamp::from_unix_seconds(1);
        let installed = || State::AwaitingEnd {
            completed: Completed::Installed {
                certificate_der: vec![1],
            },
            deadline,
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
            end_session_outcome(State::AwaitingRequest { deadline }, Reason::Success),
            PhoneOutcome::NothingToDo {
                reason: Reason::Success
            }
        );
        assert_eq!(
            end_session_outcome(
                State::AwaitingEndAfterFailure {
                    failure: ReportedFailure::Store(StoreFailure::HostFailed),
                    deadline,
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
        let fields =
            AuthResponseFields::new(WireDeviceName::new("SEP0011223344F3"), Password::empty());
        let tags: Vec<u8> = jabber_auth_response(1, fields)
            .elements
            .iter()
            .map(|element| element.tag().code())
            .collect();
        assert_eq!(tags, [7, 13, 1]);
        let fields = AuthResponseFields::new(WireDeviceName::new("SEP1"), Password::new("1234"));
        let tags: Vec<u8> = jabber_auth_response(1, fields)
            .elements
            .iter()
            .map(|element| element.tag().code())
            .collect();
        assert_eq!(tags, [7, 13, 1, 11]);
    }

    #[test]
    fn each_wait_runs_from_the_latest_time_given() {
        let now = Timestamp::from_unix_seconds(100);
        let config = PhoneConfig::new("SEP001122334455", PhoneCredentials::NullString).unwrap();
        let mut phone = PhoneSession::new(config, now);
        assert_eq!(phone.poll_timeout(), Some(now.plus_seconds(60)));
        phone.handle_timeout(now.plus_seconds(30));
        phone.handle_input(&Frame::auth_request(9, None).encode().unwrap());
        // The wait for the next request runs from the latest time given.
        assert_eq!(phone.poll_timeout(), Some(now.plus_seconds(90)));
        // A clock that steps back moves nothing.
        phone.handle_timeout(Timestamp::from_unix_seconds(50));
        assert_eq!(phone.poll_timeout(), Some(now.plus_seconds(90)));
        assert!(!phone.is_done());
    }
}
