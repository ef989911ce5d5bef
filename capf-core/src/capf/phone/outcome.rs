//! What a phone session hands to its host: outputs, decisions, outcomes and
//! the errors of both kinds (the server was wrong / the caller misused the
//! API).

use core::fmt;

use super::credentials::ProofCredential;
use crate::capf::certificate_request::CertificateRequestAlgorithm;
use crate::capf::codec::{Command, Reason, WireError};
use crate::capf::key_request::KeyRequest;
use crate::capf::proof::ProofHash;
use crate::session::{DecisionKind, Output};

/// One thing the host must do, from
/// [`PhoneSession::poll_output`](super::PhoneSession::poll_output): the
/// crate's one [`Output`] with the phone's decisions and outcome. The server
/// may end the session while a decision is pending: a `Done` can follow a
/// `Need`, and a late answer then returns
/// [`SessionMisuse::Finished`](crate::session::SessionMisuse::Finished).
pub type PhoneOutput = Output<PhoneDecision, PhoneOutcome>;

/// A question only the host can answer; each has its own typed answer
/// method on [`PhoneSession`](super::PhoneSession).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneDecision {
    /// Sign one certificate-authentication proof with the private key of
    /// `credential`, and answer with
    /// [`answer_signature`](super::PhoneSession::answer_signature) (or
    /// [`refuse_signature`](super::PhoneSession::refuse_signature): the
    /// session then ends with
    /// [`LocalFailure::Signing`]). Asked right after AUTH_REQUEST, up to four
    /// times in this order: SIGNED_DATA (SHA-1) and SHA2_SIGNED_DATA
    /// (SHA-512) with the LSC or MIC being sent, then with a SUDI the two
    /// SUDI_DATA signatures (SHA-1, SHA-512).
    ///
    /// What to sign, precisely:
    ///
    /// * the signer signs `digest`, which is `hash` over `message`
    ///   (`message` is M1 = device name ‖ `00` ‖ certificate DER, or M2 =
    ///   session id as 4 little-endian bytes ‖ SUDI certificate DER);
    /// * **RSA**: the raw PKCS#1 v1.5 type-1 block `00 01 FF…FF 00 ‖ digest`
    ///   raised to the private exponent, **without** a DigestInfo prefix,
    ///   exactly as long as the modulus (Android `NONEwithRSA`, Java
    ///   `Cipher("RSA/ECB/PKCS1Padding")` in encrypt-with-private mode,
    ///   OpenSSL `RSA_private_encrypt` with `RSA_PKCS1_PADDING`). A
    ///   `SHA1withRSA` / `SHA512withRSA` signature is **wrong** (it adds the
    ///   DigestInfo). These proofs are deterministic;
    /// * **EC** (LSC/MIC only): ECDSA over `digest` (the leftmost bits of
    ///   the digest, as ECDSA always truncates), DER `SEQUENCE { r, s }`
    ///   (Android `NONEwithECDSA` over `digest`, or `SHA1withECDSA` /
    ///   `SHA512withECDSA` over `message`).
    ///
    /// The session checks the answer with the certificate's public key; a
    /// signature that does not verify is refused as
    /// [`SessionMisuse::InvalidSignature`](crate::session::SessionMisuse::InvalidSignature)
    /// and the decision stays pending.
    SignProof {
        /// Whose key signs.
        credential: ProofCredential,
        /// SHA-1 (SIGNED_DATA, SUDI block 2) or SHA-512 (SHA2_SIGNED_DATA,
        /// SUDI block 3).
        hash: ProofHash,
        /// The certificate the proof is for, DER (its key is the one to
        /// use).
        certificate_der: Vec<u8>,
        /// The message the digest is taken over (M1 or M2).
        message: Vec<u8>,
        /// `hash(message)`: what is signed.
        digest: Vec<u8>,
    },
    /// Generate a new key pair of this kind and answer with its public key
    /// ([`answer_key`](super::PhoneSession::answer_key)), or
    /// [`refuse_key`](super::PhoneSession::refuse_key) when it cannot be
    /// made. The session has
    /// already queued REQUEST_IN_PROGRESS; the host may take as long as it
    /// needs (the session sets no deadline meanwhile).
    GenerateKey(KeyRequest),
    /// Sign the phone-signed certificate request (our reading, see
    /// [`certificate_request`](crate::capf::certificate_request)) with the
    /// key just generated, and answer with
    /// [`answer_certificate_request_signature`](super::PhoneSession::answer_certificate_request_signature)
    /// (or
    /// [`refuse_certificate_request_signature`](super::PhoneSession::refuse_certificate_request_signature):
    /// the key then goes out without a request). Asked only with
    /// [`PhoneConfig::with_certificate_request`](super::PhoneConfig::with_certificate_request),
    /// right after [`answer_key`](super::PhoneSession::answer_key).
    ///
    /// The signature is a standard X.509 one of `message` (`SHA256withRSA`,
    /// or ECDSA with the curve's hash, DER `SEQUENCE { r, s }`), as
    /// `algorithm` names it; `digest` is its hash of `message`, for
    /// keystores that sign digests. In-memory keys:
    /// [`sign_certificate_request_info`](crate::capf::certificate_request::sign_certificate_request_info).
    /// The session checks the answer under the new key.
    SignCertificateRequest {
        /// The new key's public key, DER SubjectPublicKeyInfo (the one the
        /// host answered to [`GenerateKey`](Self::GenerateKey)): the key to
        /// sign with, for hosts that find keys by their public key.
        public_key_der: Vec<u8>,
        /// The signature algorithm.
        algorithm: CertificateRequestAlgorithm,
        /// The DER `CertificationRequestInfo` to sign.
        message: Vec<u8>,
        /// `algorithm`'s hash of `message`.
        digest: Vec<u8>,
    },
    /// Store this LSC (DER) as the phone's certificate, replacing the old
    /// one, and answer with
    /// [`answer_store`](super::PhoneSession::answer_store) once stored (or
    /// [`refuse_store`](super::PhoneSession::refuse_store)). The session has
    /// already checked that it parses and carries exactly the public key the
    /// host generated.
    StoreCertificate {
        /// The certificate issued by the server, DER.
        certificate_der: Vec<u8>,
    },
    /// Return the phone's current LSC, if any
    /// ([`answer_fetch`](super::PhoneSession::answer_fetch)).
    FetchCertificate,
    /// Delete the phone's LSC and tell whether one was there
    /// ([`answer_delete`](super::PhoneSession::answer_delete)).
    DeleteCertificate,
}

impl PhoneDecision {
    /// Which kind of decision this is.
    pub const fn kind(&self) -> DecisionKind {
        match self {
            Self::SignProof { .. } => DecisionKind::SignProof,
            Self::GenerateKey(_) => DecisionKind::GenerateKey,
            Self::SignCertificateRequest { .. } => DecisionKind::SignCertificateRequest,
            Self::StoreCertificate { .. } => DecisionKind::StoreCertificate,
            Self::FetchCertificate => DecisionKind::FetchCertificate,
            Self::DeleteCertificate => DecisionKind::DeleteCertificate,
        }
    }
}

/// How a phone session ended.
///
/// END_SESSION reasons are read in the light of what happened before
/// (spec 7.2, 10.13):
///
/// | END_SESSION reason | after | outcome |
/// | --- | --- | --- |
/// | 0 or 1 | AUTH_RESPONSE (no request) | [`NothingToDo`](Self::NothingToDo) |
/// | 0 or 1 | STORE_CERT_RESPONSE REASON=1 | [`Installed`](Self::Installed) |
/// | 0 or 1 | FETCH_CERT_RESPONSE | [`FetchCompleted`](Self::FetchCompleted) |
/// | 0 or 1 | DELETE_CERT_RESPONSE | [`Deleted`](Self::Deleted) |
/// | 0 | KEY_GEN_RESPONSE (our reading: offline CA) | [`CertificatePending`](Self::CertificatePending) |
/// | 9 | anything | [`UnknownDevice`](Self::UnknownDevice) |
/// | any | a failure the phone reported | [`KeyGenerationFailed`](Self::KeyGenerationFailed), [`StoreFailed`](Self::StoreFailed) |
/// | 7, other; 0/1 before an operation completed | anything else | [`Refused`](Self::Refused) |
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneOutcome {
    /// The server had nothing scheduled for this phone (END_SESSION 0, or 1
    /// as the reference client also reads it, right after AUTH_RESPONSE).
    NothingToDo {
        /// The END_SESSION reason (0 or 1).
        reason: Reason,
    },
    /// A new LSC was issued and the host stored it.
    Installed {
        /// The stored certificate, DER.
        certificate_der: Vec<u8>,
    },
    /// The server fetched the phone's certificate ("troubleshoot").
    FetchCompleted {
        /// Whether the phone had a certificate to send.
        certificate_sent: bool,
    },
    /// The server asked the phone to delete its LSC.
    Deleted {
        /// Whether the host reported that there was an LSC to delete.
        certificate_was_present: bool,
    },
    /// The server does not know this device name (END_SESSION 9).
    UnknownDevice,
    /// The key went out and the server ended with "no action"
    /// (END_SESSION 0): the certificate is pending at an offline CA (our
    /// reading). Keep the generated key: the certificate for it comes at a
    /// later session. Not a success, not a failure.
    CertificatePending,
    /// The server ended the session with a failure (authentication
    /// refused, operation declined, protocol error on the phone's side …),
    /// or with "no action"/"done" before the operation it started had
    /// completed.
    Refused {
        /// The END_SESSION reason.
        reason: Reason,
    },
    /// The phone could not make the requested key (the host answered
    /// [`refuse_key`](super::PhoneSession::refuse_key), or the request asked for a key this
    /// implementation does not know); KEY_GEN_RESPONSE REASON=7 was sent.
    KeyGenerationFailed {
        /// The server's END_SESSION reason, if it arrived.
        server_reason: Option<Reason>,
    },
    /// The issued certificate was not stored; STORE_CERT_RESPONSE REASON=7
    /// was sent.
    StoreFailed {
        /// Why.
        cause: StoreFailure,
        /// The server's END_SESSION reason, if it arrived.
        server_reason: Option<Reason>,
    },
    /// The server broke the protocol; the session stopped without sending
    /// anything more (a phone cannot send END_SESSION).
    ProtocolError(PhoneProtocolViolation),
    /// The connection failed before END_SESSION (closed, timed out …). The
    /// only outcome that a [`RetryPolicy`](super::RetryPolicy) retries.
    CommunicationFailure(CommunicationFailure),
    /// The phone itself could not go on (a signing key failed, a frame did
    /// not fit the format).
    LocalFailure(LocalFailure),
}

impl PhoneOutcome {
    /// True when the session did what the server asked, or there was nothing
    /// to do: [`NothingToDo`](Self::NothingToDo),
    /// [`Installed`](Self::Installed), [`FetchCompleted`](Self::FetchCompleted),
    /// [`Deleted`](Self::Deleted).
    pub const fn is_success(&self) -> bool {
        matches!(
            self,
            Self::NothingToDo { .. }
                | Self::Installed { .. }
                | Self::FetchCompleted { .. }
                | Self::Deleted { .. }
        )
    }

    /// True for [`CommunicationFailure`](Self::CommunicationFailure).
    pub const fn is_communication_failure(&self) -> bool {
        matches!(self, Self::CommunicationFailure(_))
    }
}

/// Why an issued certificate was not stored.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum StoreFailure {
    /// STORE_CERT_REQUEST carried no CERTIFICATE element.
    #[error("the store request carries no certificate")]
    MissingCertificate,
    /// The certificate is not DER X.509.
    #[error("the issued certificate does not parse")]
    CertificateUnparseable,
    /// The certificate carries another public key than the one the host
    /// generated for this session.
    #[error("the issued certificate carries another public key than the one generated")]
    PublicKeyMismatch,
    /// The host answered [`refuse_store`](super::PhoneSession::refuse_store).
    #[error("the host could not store the certificate")]
    HostFailed,
}

/// A protocol violation by the server (seen by the phone).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneProtocolViolation {
    /// The bytes are not CAPF frames.
    #[error("malformed frame: {0}")]
    Wire(#[from] WireError),
    /// A server frame carries another session id than AUTH_REQUEST did.
    #[error("session id {found:#010x} where {expected:#010x} was set by AUTH_REQUEST")]
    SessionIdMismatch {
        /// The id of AUTH_REQUEST.
        expected: u32,
        /// The id of the offending frame.
        found: u32,
    },
    /// AUTH_REQUEST has no VERSION element.
    #[error("AUTH_REQUEST without VERSION")]
    MissingVersion,
    /// AUTH_REQUEST announces a version the configuration does not accept.
    #[error("server protocol version {found} not accepted")]
    UnsupportedVersion {
        /// The announced version.
        found: u8,
    },
    /// A command that has no place in the current state.
    #[error("unexpected {command} while {state}")]
    UnexpectedCommand {
        /// The command received.
        command: Command,
        /// The state the session was in.
        state: PhoneSessionState,
    },
    /// END_SESSION without a REASON element.
    #[error("END_SESSION without REASON")]
    MissingReason,
    /// KEY_GEN_REQUEST for RSA (or without KEY_TYPE) has no KEY_SIZE, or
    /// one for EC has no CURVE.
    #[error("KEY_GEN_REQUEST lacks its key parameters")]
    MissingKeyParameters,
}

/// The connection ended before END_SESSION.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum CommunicationFailure {
    /// No server frame arrived before the response deadline.
    #[error("the server did not answer in time")]
    TimedOut,
    /// The server closed the connection.
    #[error("the server closed the connection before END_SESSION")]
    PeerClosed,
    /// The transport failed (reset, TLS alert …), as the host reported.
    #[error("the connection failed")]
    Transport,
    /// The host could not connect at all (for [`EnrollmentAttempts`]; a
    /// session never produces it).
    ///
    /// [`EnrollmentAttempts`]: super::EnrollmentAttempts
    #[error("could not connect to the server")]
    ConnectFailed,
}

/// The phone could not continue for a reason of its own.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum LocalFailure {
    /// A certificate-authentication proof could not be made: the host
    /// answered [`refuse_signature`](super::PhoneSession::refuse_signature)
    /// (keystore error, no such key …).
    #[error("signing the authentication proof failed")]
    Signing,
    /// A frame to send does not fit the format (a certificate too large for
    /// a 16-bit length).
    #[error("a frame to send does not fit the format")]
    FrameTooLarge,
}

/// The states of a phone session (spec 10.13), as named in errors and by
/// [`PhoneSession::state`](super::PhoneSession::state).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhoneSessionState {
    /// Waiting for AUTH_REQUEST (the server speaks first).
    AwaitingAuthRequest,
    /// The host is signing the certificate-authentication proofs.
    SigningProof,
    /// AUTH_RESPONSE sent; waiting for KEY_GEN_REQUEST, FETCH_CERT_REQUEST,
    /// DELETE_CERT_REQUEST or END_SESSION.
    AwaitingRequest,
    /// REQUEST_IN_PROGRESS sent; the host is generating the key.
    GeneratingKey,
    /// The key is made; the host is signing the certificate request.
    SigningCertificateRequest,
    /// KEY_GEN_RESPONSE sent; waiting for STORE_CERT_REQUEST or END_SESSION.
    AwaitingStoreRequest,
    /// The host is storing the issued certificate.
    Storing,
    /// The host is looking up the certificate to return.
    Fetching,
    /// The host is deleting the certificate.
    Deleting,
    /// The operation's answer is sent; waiting for END_SESSION.
    AwaitingEnd,
    /// A failure answer is sent; waiting for END_SESSION.
    AwaitingEndAfterFailure,
    /// The session is over.
    Finished,
}

impl fmt::Display for PhoneSessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AwaitingAuthRequest => "awaiting AUTH_REQUEST",
            Self::SigningProof => "signing the authentication proofs",
            Self::AwaitingRequest => "awaiting a request",
            Self::GeneratingKey => "generating a key",
            Self::SigningCertificateRequest => "signing the certificate request",
            Self::AwaitingStoreRequest => "awaiting STORE_CERT_REQUEST",
            Self::Storing => "storing the certificate",
            Self::Fetching => "fetching the certificate",
            Self::Deleting => "deleting the certificate",
            Self::AwaitingEnd => "awaiting END_SESSION",
            Self::AwaitingEndAfterFailure => "awaiting END_SESSION after a failure",
            Self::Finished => "finished",
        })
    }
}
