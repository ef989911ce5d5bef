//! The TVS client session (the phone's side, spec section 7).

use core::time::Duration;
use std::collections::VecDeque;

use ctl_format::trust_list::Role;

use crate::session::{DecisionKind, Output, Session};
use crate::time::Timestamp;

use super::codec::decoder::TvsFrameDecoder;
use super::codec::device_name::{TvsDeviceName, TvsDeviceNameError};
use super::codec::error::{TvsEncodeError, TvsWireError};
use super::codec::frame::{TvsCommand, TvsElementTag, TvsFrame, TvsStatus};
use super::server::millis;

/// The device name the reference client sends when none is given.
pub const DEFAULT_DEVICE_NAME: &str = "CP-0000-SEP000000000000";

/// Settings of a TVS client session.
///
/// ```
/// use capf_core::tvs::{DEFAULT_DEVICE_NAME, TvsClientConfig};
/// let config = TvsClientConfig::new(1, DEFAULT_DEVICE_NAME, vec![0x30, 0x00]);
/// assert_eq!(config.response_timeout.as_secs(), 30);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TvsClientConfig {
    /// The session id for the request, chosen by the host (random is best:
    /// the server echoes it, so it ties the answer to the question).
    pub session_id: u32,
    /// `CP-<model>-SEP<MAC>`.
    pub device_name: String,
    /// The certificate to ask about, DER, sent as is.
    pub certificate_der: Vec<u8>,
    /// How long to wait for the response. Default 30 s.
    pub response_timeout: Duration,
    /// Largest response body accepted. Default 4 KiB (a response with every
    /// role is 21 bytes).
    pub max_body_length: u16,
}

impl TvsClientConfig {
    /// Defaults for this question.
    pub fn new(
        session_id: u32,
        device_name: impl Into<String>,
        certificate_der: impl Into<Vec<u8>>,
    ) -> Self {
        Self {
            session_id,
            device_name: device_name.into(),
            certificate_der: certificate_der.into(),
            response_timeout: Duration::from_secs(30),
            max_body_length: 4096,
        }
    }
}

/// The client cannot be set up as asked (a caller error).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TvsClientSetupError {
    /// The device name is not `CP-<model>-SEP<MAC>`.
    #[error("invalid device name: {0}")]
    InvalidDeviceName(#[from] TvsDeviceNameError),
    /// The request does not fit in a frame.
    #[error("request cannot be encoded: {0}")]
    Encode(#[from] TvsEncodeError),
}

/// The TVS client asks its host nothing: one request out, one response in.
/// This enum has no value; it makes [`TvsClientOutput`] the crate's one
/// [`Output`] like the other sessions' (a `Need` never comes).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TvsClientDecision {}

/// One item from [`TvsClientSession::poll_output`]: the crate's one
/// [`Output`]; only `Transmit` (the request) and `Done` occur.
pub type TvsClientOutput = Output<TvsClientDecision, TvsClientOutcome>;

/// How a TVS client session ended.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TvsClientOutcome {
    /// The session id of the request.
    pub session_id: u32,
    /// The verdict, or why there is none.
    pub result: TvsClientResult,
}

/// The result part of a [`TvsClientOutcome`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TvsClientResult {
    /// STATUS 0: trusted for these roles (wire order; empty if ROLES was
    /// absent) and for TTL seconds (if sent).
    Valid {
        /// The roles granted.
        roles: Vec<Role>,
        /// Seconds the verdict may be cached.
        ttl: Option<u32>,
    },
    /// STATUS 1: not trusted (unknown or refused).
    Invalid,
    /// The server closed the connection without sending a byte: the
    /// reference server's answer to a request it will not serve.
    NoAnswer,
    /// No whole response before the deadline.
    TimedOut,
    /// The connection failed under the session (TLS refused the server's
    /// certificate, a write failed): reported by the host with
    /// [`TvsClientSession::handle_transport_error`].
    TransportFailed,
    /// The server's bytes are not an acceptable response.
    ProtocolError(TvsResponseError),
}

/// Why a response is not acceptable.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TvsResponseError {
    /// Not a TVS frame (wrong protocol id or version included).
    #[error("malformed response: {0}")]
    Malformed(TvsWireError),
    /// The connection closed inside the response.
    #[error("connection closed after {received} bytes of the response")]
    Truncated {
        /// Bytes received.
        received: usize,
    },
    /// The response carries another session id.
    #[error("response session id {found:#010x}, expected {expected:#010x}")]
    WrongSessionId {
        /// Ours.
        expected: u32,
        /// Theirs.
        found: u32,
    },
    /// Not VERIFY_RESPONSE.
    #[error("unexpected command {0:?}")]
    UnexpectedCommand(TvsCommand),
    /// A known element occurs twice.
    #[error("repeated element {0:?}")]
    RepeatedElement(TvsElementTag),
    /// No STATUS.
    #[error("no STATUS in the response")]
    MissingStatus,
    /// STATUS other than 0 or 1.
    #[error("unknown STATUS {0}")]
    UnknownStatus(u8),
}

/// Where a [`TvsClientSession`] stands.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TvsClientState {
    /// The request is queued or sent; waiting for the response.
    AwaitingResponse,
    /// Over.
    Done,
}

/// The client side of one TVS connection, sans-IO: one VERIFY_REQUEST out,
/// one VERIFY_RESPONSE in.
///
/// ```
/// use capf_core::time::Timestamp;
/// use capf_core::tvs::{
///     TvsClientConfig, TvsClientOutput, TvsClientResult, TvsClientSession, TvsFrame,
/// };
/// let now = Timestamp::from_unix_seconds(1_800_000_000);
/// let config = TvsClientConfig::new(9, "CP-8845-SEP001122334455", vec![0x30, 0x00]);
/// let mut session = TvsClientSession::new(config, now).unwrap();
/// let Some(TvsClientOutput::Transmit(_request)) = session.poll_output() else { panic!() };
/// session.handle_input(&TvsFrame::verify_response_invalid(9).encode().unwrap());
/// let Some(TvsClientOutput::Done(outcome)) = session.poll_output() else { panic!() };
/// assert_eq!(outcome.result, TvsClientResult::Invalid);
/// ```
#[derive(Debug)]
pub struct TvsClientSession {
    session_id: u32,
    state: State,
    decoder: TvsFrameDecoder,
    outputs: VecDeque<TvsClientOutput>,
}

/// One variant per state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitingResponse { deadline: Timestamp },
    Done,
}

/// Everything that moves the session.
enum Event {
    Response(TvsClientResult),
    Timeout,
    PeerClosed { received: usize },
    TransportError,
}

impl TvsClientSession {
    /// Checks the device name and queues the VERIFY_REQUEST.
    pub fn new(config: TvsClientConfig, now: Timestamp) -> Result<Self, TvsClientSetupError> {
        TvsDeviceName::parse(config.device_name.as_bytes())?;
        let request = TvsFrame::verify_request(
            config.session_id,
            &config.device_name,
            &config.certificate_der,
        )
        .encode()?;
        Ok(Self {
            session_id: config.session_id,
            state: State::AwaitingResponse {
                deadline: now.plus_millis(millis(config.response_timeout)),
            },
            decoder: TvsFrameDecoder::new(config.max_body_length),
            outputs: VecDeque::from([TvsClientOutput::Transmit(request)]),
        })
    }

    /// The request's session id.
    pub fn session_id(&self) -> u32 {
        self.session_id
    }

    /// Where the session stands.
    pub fn state(&self) -> TvsClientState {
        match self.state {
            State::AwaitingResponse { .. } => TvsClientState::AwaitingResponse,
            State::Done => TvsClientState::Done,
        }
    }

    /// True once the session is over.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Always `None`: the TVS client asks its host nothing.
    pub fn pending_decision(&self) -> Option<DecisionKind> {
        None
    }

    /// Bytes from the server, in any chunking. Ignored once over (bytes
    /// after the response included).
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if self.is_done() {
            return;
        }
        self.decoder.push(bytes);
        match self.decoder.next_frame() {
            Ok(None) => {}
            Ok(Some(frame)) => {
                let result = match self.read_response(&frame) {
                    Ok(result) => result,
                    Err(error) => TvsClientResult::ProtocolError(error),
                };
                self.step(Event::Response(result));
            }
            Err(error) => self.step(Event::Response(TvsClientResult::ProtocolError(
                TvsResponseError::Malformed(error),
            ))),
        }
    }

    /// The next output, if any. Drain after every call.
    pub fn poll_output(&mut self) -> Option<TvsClientOutput> {
        self.outputs.pop_front()
    }

    /// Past the response deadline the session ends with
    /// [`TvsClientResult::TimedOut`]. Calling it early is harmless.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if self.poll_timeout().is_some_and(|deadline| now >= deadline) {
            self.step(Event::Timeout);
        }
    }

    /// The response deadline, until the session is over.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        match self.state {
            State::AwaitingResponse { deadline } => Some(deadline),
            State::Done => None,
        }
    }

    /// The server closed the connection: [`TvsClientResult::NoAnswer`] if
    /// nothing arrived, a truncation error if part of a response did.
    pub fn handle_peer_closed(&mut self) {
        let received = self.decoder.buffered_len();
        self.step(Event::PeerClosed { received });
    }

    /// The connection failed (TLS error, failed write): the session ends
    /// with [`TvsClientResult::TransportFailed`] unless it is already over.
    pub fn handle_transport_error(&mut self) {
        self.step(Event::TransportError);
    }

    /// Every transition, in one place.
    fn step(&mut self, event: Event) {
        if self.is_done() {
            return;
        }
        let result = match event {
            Event::Response(result) => result,
            Event::Timeout => TvsClientResult::TimedOut,
            Event::PeerClosed { received: 0 } => TvsClientResult::NoAnswer,
            Event::PeerClosed { received } => {
                TvsClientResult::ProtocolError(TvsResponseError::Truncated { received })
            }
            Event::TransportError => TvsClientResult::TransportFailed,
        };
        self.state = State::Done;
        self.outputs
            .push_back(TvsClientOutput::Done(TvsClientOutcome {
                session_id: self.session_id,
                result,
            }));
    }

    /// The reference client's checks, then ours (no repeated elements).
    fn read_response(&self, frame: &TvsFrame) -> Result<TvsClientResult, TvsResponseError> {
        if frame.session_id != self.session_id {
            return Err(TvsResponseError::WrongSessionId {
                expected: self.session_id,
                found: frame.session_id,
            });
        }
        if frame.command != TvsCommand::VerifyResponse {
            return Err(TvsResponseError::UnexpectedCommand(frame.command));
        }
        if let Some(tag) = frame.duplicate_tag() {
            return Err(TvsResponseError::RepeatedElement(tag));
        }
        match frame.status() {
            None => Err(TvsResponseError::MissingStatus),
            Some(TvsStatus::Valid) => Ok(TvsClientResult::Valid {
                roles: frame.roles().map(<[Role]>::to_vec).unwrap_or_default(),
                ttl: frame.ttl(),
            }),
            Some(TvsStatus::Invalid) => Ok(TvsClientResult::Invalid),
            Some(other) => Err(TvsResponseError::UnknownStatus(other.code())),
        }
    }
}

impl Session for TvsClientSession {
    type Decision = TvsClientDecision;
    type Outcome = TvsClientOutcome;

    fn handle_input(&mut self, bytes: &[u8]) {
        TvsClientSession::handle_input(self, bytes);
    }

    fn poll_output(&mut self) -> Option<TvsClientOutput> {
        TvsClientSession::poll_output(self)
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        TvsClientSession::handle_timeout(self, now);
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        TvsClientSession::poll_timeout(self)
    }

    fn handle_peer_closed(&mut self) {
        TvsClientSession::handle_peer_closed(self);
    }

    fn handle_transport_error(&mut self) {
        TvsClientSession::handle_transport_error(self);
    }

    fn is_done(&self) -> bool {
        TvsClientSession::is_done(self)
    }

    fn pending_decision(&self) -> Option<DecisionKind> {
        TvsClientSession::pending_decision(self)
    }
}
