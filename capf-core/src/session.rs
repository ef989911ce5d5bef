//! The one contract every sans-IO session of this crate keeps: the CAPF
//! server ([`ServerSession`](crate::capf::server::ServerSession)), the CAPF phone
//! ([`PhoneSession`](crate::capf::phone::PhoneSession)), the TVS server
//! ([`TvsServerSession`](crate::tvs::TvsServerSession)) and the TVS client
//! ([`TvsClientSession`](crate::tvs::TvsClientSession)).
//!
//! Each implements [`Session`] and hands out [`Output`]s; each misuse of an
//! answer method is a [`SessionMisuse`]. How a host drives a session, step
//! by step, is written down in [`crate::manual`].

use core::fmt;

use crate::capf::key_request::KeyRequest;
use crate::time::Timestamp;

/// One item from [`Session::poll_output`]: the same three kinds for every
/// session, with the session's own decision and outcome types.
///
/// Each session names its instance (`ServerOutput`, `PhoneOutput`,
/// `TvsServerOutput`, `TvsClientOutput` are aliases of this type).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output<Decision, Outcome> {
    /// One whole frame for the peer: write it with ONE (TLS) write, at once.
    /// A session never transmits a frame that needs a host decision first
    /// (durability included), so writing every `Transmit` immediately is
    /// correct.
    Transmit(Vec<u8>),
    /// The session waits for the host's answer to this decision; answer it
    /// with the session's typed `answer_*` / `refuse_*` methods, now or much
    /// later, from any task.
    Need(Decision),
    /// The session is over (always the last item): close the connection once
    /// every frame before it is written.
    Done(Outcome),
}

impl<Decision, Outcome> Output<Decision, Outcome> {
    /// The frame, if this is a [`Output::Transmit`].
    pub fn as_transmit(&self) -> Option<&[u8]> {
        match self {
            Self::Transmit(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// True for [`Output::Done`].
    pub fn is_done(&self) -> bool {
        matches!(self, Self::Done(_))
    }
}

/// The sans-IO session contract (modelled on h11, quinn-proto, str0m and
/// rustls' unbuffered API).
///
/// A host drives any session the same way:
///
/// 1. create it with `new(config, now)` (a server session queues its first
///    frame at once);
/// 2. after **every** call below, drain [`poll_output`](Self::poll_output)
///    until it returns `None`: write each [`Output::Transmit`] as one write,
///    answer each [`Output::Need`] (the session waits for that answer and
///    [`pending_decision`](Self::pending_decision) names it), stop after
///    [`Output::Done`];
/// 3. feed the peer's plaintext with [`handle_input`](Self::handle_input), in
///    any chunking;
/// 4. honour [`poll_timeout`](Self::poll_timeout): at or after that instant,
///    call [`handle_timeout`](Self::handle_timeout) with the current time
///    (calling it early, or with an older time, is harmless). Time enters a
///    session only through `new` and `handle_timeout`; a host that let time
///    pass while it worked on a decision calls `handle_timeout(now)` before
///    answering;
/// 5. report the end of the peer's stream with
///    [`handle_peer_closed`](Self::handle_peer_closed) and a failed
///    transport (TLS alert, reset, failed write) with
///    [`handle_transport_error`](Self::handle_transport_error).
///
/// Answers to a decision that is not pending (twice, too early, after the
/// end) return [`SessionMisuse`] and change nothing. Nothing a peer sends
/// makes a session panic: a violation ends it with an error outcome.
///
/// Durability: a session asks the host to record what must survive a crash
/// (an issued certificate, the outcome of an operation) as a decision
/// *before* it transmits the frame that tells the peer about it. Hosts need
/// not hold frames back.
pub trait Session {
    /// The questions this session asks its host.
    type Decision;
    /// How this session ends.
    type Outcome;

    /// Bytes from the peer (TLS plaintext), in any chunking. Ignored once
    /// the session is over.
    fn handle_input(&mut self, bytes: &[u8]);

    /// The next thing for the host to do, in order; `None` when the session
    /// waits for input, an answer or time.
    fn poll_output(&mut self) -> Option<Output<Self::Decision, Self::Outcome>>;

    /// Time goes in only here (and in `new`). Past a deadline the session
    /// ends with its timeout outcome.
    fn handle_timeout(&mut self, now: Timestamp);

    /// The next deadline the host must honour with
    /// [`handle_timeout`](Self::handle_timeout); `None` while the session
    /// waits for the host (decisions have no deadline: the host bounds its
    /// own work) and once it is over.
    fn poll_timeout(&self) -> Option<Timestamp>;

    /// The peer closed its side of the connection (EOF or TLS close_notify).
    fn handle_peer_closed(&mut self);

    /// The transport failed under the session (TLS error, reset, failed
    /// write).
    fn handle_transport_error(&mut self);

    /// True once the session is over (the [`Output::Done`] item may still
    /// wait in [`poll_output`](Self::poll_output)).
    fn is_done(&self) -> bool;

    /// The decision the host still owes, if any.
    fn pending_decision(&self) -> Option<DecisionKind>;
}

/// The kind of a decision of any session, without its data: named by
/// [`Session::pending_decision`] and in [`SessionMisuse`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecisionKind {
    /// CAPF server: [`ServerDecision::LookUpDevice`](crate::capf::server::ServerDecision::LookUpDevice).
    LookUpDevice,
    /// CAPF server: [`ServerDecision::IssueCertificate`](crate::capf::server::ServerDecision::IssueCertificate).
    IssueCertificate,
    /// CAPF server: [`ServerDecision::RecordPendingCertificate`](crate::capf::server::ServerDecision::RecordPendingCertificate).
    RecordPendingCertificate,
    /// CAPF server: [`ServerDecision::RecordOutcome`](crate::capf::server::ServerDecision::RecordOutcome).
    RecordOutcome,
    /// CAPF phone: [`PhoneDecision::SignProof`](crate::capf::phone::PhoneDecision::SignProof).
    SignProof,
    /// CAPF phone: [`PhoneDecision::GenerateKey`](crate::capf::phone::PhoneDecision::GenerateKey).
    GenerateKey,
    /// CAPF phone: [`PhoneDecision::SignCertificateRequest`](crate::capf::phone::PhoneDecision::SignCertificateRequest).
    SignCertificateRequest,
    /// CAPF phone: [`PhoneDecision::StoreCertificate`](crate::capf::phone::PhoneDecision::StoreCertificate).
    StoreCertificate,
    /// CAPF phone: [`PhoneDecision::FetchCertificate`](crate::capf::phone::PhoneDecision::FetchCertificate).
    FetchCertificate,
    /// CAPF phone: [`PhoneDecision::DeleteCertificate`](crate::capf::phone::PhoneDecision::DeleteCertificate).
    DeleteCertificate,
    /// TVS server: [`TvsServerDecision::LookUpCertificate`](crate::tvs::TvsServerDecision::LookUpCertificate).
    LookUpCertificate,
}

impl DecisionKind {
    /// A short name for messages and logs (`"look up device"` …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::LookUpDevice => "look up device",
            Self::IssueCertificate => "issue certificate",
            Self::RecordPendingCertificate => "record pending certificate",
            Self::RecordOutcome => "record outcome",
            Self::SignProof => "sign proof",
            Self::GenerateKey => "generate key",
            Self::SignCertificateRequest => "sign certificate request",
            Self::StoreCertificate => "store certificate",
            Self::FetchCertificate => "fetch certificate",
            Self::DeleteCertificate => "delete certificate",
            Self::LookUpCertificate => "look up certificate",
        }
    }
}

impl fmt::Display for DecisionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The host used a session's API wrongly: an answer to a decision that is
/// not pending, or an answer the session cannot accept. The session is
/// unchanged (the decision, if any, stays pending). The same type for every
/// session.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionMisuse {
    /// The answer is for a decision that is not pending (answered twice,
    /// too early, or another decision is pending).
    #[error("answer to \"{answered}\" while {}", pending_text(*pending))]
    NotPending {
        /// The decision the answer was for.
        answered: DecisionKind,
        /// The decision actually pending, if any.
        pending: Option<DecisionKind>,
    },
    /// The session is over; nothing can be answered any more.
    #[error("the session is over")]
    Finished,
    /// CAPF phone: `repeat_in_progress` while no key is being generated.
    #[error("no key is being generated")]
    NotGeneratingKey,
    /// CAPF server: the device record is for another device than the one
    /// asked for.
    #[error("device record is for another device")]
    WrongDevice,
    /// CAPF server: the record schedules an install with a key CAPF cannot
    /// ask for.
    #[error("record asks for an invalid key {0}")]
    InvalidKeyRequest(KeyRequest),
    /// CAPF server: the issued certificate does not parse as X.509.
    #[error("issued certificate does not parse")]
    InvalidCertificate,
    /// CAPF server: the issued certificate's key is not the phone's key.
    #[error("issued certificate does not carry the phone's public key")]
    CertificateKeyMismatch,
    /// CAPF server: the issued certificate is too large for a frame.
    #[error("issued certificate of {0} bytes does not fit in a frame")]
    CertificateTooLarge(usize),
    /// CAPF phone: the key answered is not a DER SubjectPublicKeyInfo of a
    /// supported algorithm.
    #[error("the answered public key is not a supported SubjectPublicKeyInfo")]
    InvalidPublicKey,
    /// CAPF phone: the key answered is not of the kind requested.
    #[error("the answered public key is not a {requested} key")]
    PublicKeyMismatch {
        /// What the server asked for.
        requested: KeyRequest,
    },
    /// CAPF phone: the signature answered does not verify with the
    /// certificate's public key over the requested digest.
    #[error("the answered signature does not verify with the certificate's key")]
    InvalidSignature,
    /// TVS server: a role code above 255 cannot be sent.
    #[error("role code {0} does not fit in one byte")]
    RoleCodeTooLarge(u16),
}

fn pending_text(pending: Option<DecisionKind>) -> String {
    match pending {
        Some(kind) => format!("\"{kind}\" is pending"),
        None => "no decision is pending".to_owned(),
    }
}

/// The error of an answer to `answered` when `pending` is what the session
/// waits for (`None` and `done`: the session is over).
pub(crate) fn not_pending(
    answered: DecisionKind,
    pending: Option<DecisionKind>,
    done: bool,
) -> SessionMisuse {
    if done {
        SessionMisuse::Finished
    } else {
        SessionMisuse::NotPending { answered, pending }
    }
}
