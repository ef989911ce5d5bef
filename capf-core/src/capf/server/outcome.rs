//! What a [`ServerSession`](super::ServerSession) hands out: outputs,
//! decisions for the host, the final outcome, and the errors.

use crate::capf::certificate_request::CertificateRequestError;
use crate::capf::codec::{Command, ElementTag, Reason, WireError};
use crate::capf::key_request::KeyRequest;
use crate::session::{DecisionKind, Output};

use super::certificate_check::{CertificateCheckError, CertificateKind};

/// One item from [`ServerSession::poll_output`](super::ServerSession::poll_output):
/// the crate's one [`Output`] with the server's decisions and outcome.
pub type ServerOutput = Output<ServerDecision, ServerOutcome>;

/// A question only the host can answer.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerDecision {
    /// Look the device up; answer with
    /// [`answer_device`](super::ServerSession::answer_device).
    LookUpDevice {
        /// The name the phone sent.
        device_name: String,
    },
    /// Issue an LSC for this key; answer with
    /// [`answer_certificate`](super::ServerSession::answer_certificate)
    /// (a certificate from any CA: its SubjectPublicKeyInfo must be exactly
    /// `subject_public_key_info_der`) or
    /// [`answer_with_issuer`](super::ServerSession::answer_with_issuer)
    /// (the local [`LscIssuer`](crate::issuance::LscIssuer) signs the
    /// session's own request).
    IssueCertificate {
        /// The authenticated device.
        device_name: String,
        /// DER SubjectPublicKeyInfo from KEY_GEN_RESPONSE (already checked
        /// to be the key type that was asked for).
        subject_public_key_info_der: Vec<u8>,
        /// What was asked for.
        key_request: KeyRequest,
        /// The phone-signed PKCS#10 request (DER) that came with the key in
        /// SIGNED_DATA, if any (our reading, see
        /// [`certificate_request`](crate::capf::certificate_request)),
        /// already verified: its key is exactly
        /// `subject_public_key_info_der`, its signature verifies under it and
        /// its subject CN is `device_name`. An external CA can be given it
        /// as is.
        certificate_request_der: Option<Vec<u8>>,
    },
    /// Record the certificate as pending for this device (the operation is
    /// NOT done yet) before it is sent; answer with
    /// [`answer_pending_recorded`](super::ServerSession::answer_pending_recorded).
    /// Writing the ledger first means an issued certificate is never on the
    /// wire without a record of it.
    RecordPendingCertificate {
        /// The device.
        device_name: String,
        /// The issued certificate, DER.
        certificate_der: Vec<u8>,
    },
    /// Record how the session ends, durably, before the phone is told:
    /// answer with
    /// [`answer_outcome_recorded`](super::ServerSession::answer_outcome_recorded)
    /// once it is written (the session then transmits its last
    /// END_SESSION, if any, and ends with this outcome), or
    /// [`refuse_outcome_record`](super::ServerSession::refuse_outcome_record)
    /// when it could not be written (the phone is then told END_SESSION 7,
    /// a failure, so it never believes an operation finished that the host
    /// does not know about).
    ///
    /// Every session ends through this decision, whatever its result; the
    /// host applies its registry rules here (operation completed, failure
    /// counted, certificate installed …) and treats
    /// [`Output::Done`] as "close the connection".
    RecordOutcome {
        /// The outcome as it will be if the host records it
        /// ([`ServerOutcome::end_reason`] is the END_SESSION about to be
        /// sent).
        outcome: Box<ServerOutcome>,
    },
}

impl ServerDecision {
    /// Which kind of decision this is.
    pub const fn kind(&self) -> DecisionKind {
        match self {
            Self::LookUpDevice { .. } => DecisionKind::LookUpDevice,
            Self::IssueCertificate { .. } => DecisionKind::IssueCertificate,
            Self::RecordPendingCertificate { .. } => DecisionKind::RecordPendingCertificate,
            Self::RecordOutcome { .. } => DecisionKind::RecordOutcome,
        }
    }
}

/// Where a session stood (reported with timeouts and closed connections).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// AUTH_REQUEST sent, waiting for AUTH_RESPONSE.
    AwaitingAuthResponse,
    /// Waiting for the host's device record.
    LookingUpDevice,
    /// KEY_GEN_REQUEST sent, waiting for KEY_GEN_RESPONSE (long wait).
    AwaitingKeyGeneration,
    /// Waiting for the host to issue the certificate.
    IssuingCertificate,
    /// Waiting for the host to record the pending certificate.
    RecordingPendingCertificate,
    /// Waiting for the host to record the outcome, before the last frame.
    RecordingOutcome,
    /// STORE_CERT_REQUEST sent, waiting for STORE_CERT_RESPONSE.
    AwaitingStoreResponse,
    /// FETCH_CERT_REQUEST sent, waiting for FETCH_CERT_RESPONSE.
    AwaitingFetchResponse,
    /// DELETE_CERT_REQUEST sent, waiting for DELETE_CERT_RESPONSE.
    AwaitingDeleteResponse,
    /// Over.
    Done,
}

/// Why the host would not issue a certificate.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueRefusal {
    /// Policy says no (e.g. a certificate was already issued, key too weak).
    #[error("issuance declined: {0}")]
    Declined(String),
    /// The CA could not be reached or failed.
    #[error("certificate authority unavailable: {0}")]
    Unavailable(String),
    /// Not a refusal: the request is kept for an offline CA, which signs
    /// it later; the phone receives the certificate at a later session.
    /// END_SESSION 0 ("no action": nothing done, nothing failed; our
    /// reading, as no recording shows an offline CA). The operation stays
    /// scheduled and pending, no failure is counted and the one-time
    /// string is kept.
    #[error("certificate request kept for the offline CA")]
    Deferred,
}

/// Why the host refused a device at lookup
/// ([`ServerSession::refuse_device`](super::ServerSession::refuse_device)).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DeviceRefusal {
    /// Another session holds the device's scheduled operation (one
    /// operation, one certificate); the phone may retry once it ends or its
    /// lease expires.
    #[error("another session holds the device's operation")]
    OperationClaimed,
    /// The host's registry cannot answer now.
    #[error("device registry unavailable")]
    RegistryUnavailable,
    /// The scheduled operation's deadline passed (Unified CM's "User
    /// Initiated Request Late/Timedout"); its one-time string is void.
    #[error("the operation's deadline passed")]
    DeadlinePassed,
}

impl DeviceRefusal {
    /// The END_SESSION reason the server sends for this refusal: none for
    /// [`OperationClaimed`](Self::OperationClaimed) (the connection closes,
    /// which a phone retries as a communication failure; END_SESSION 7
    /// would read as an authentication failure, never retried), 7
    /// ([`Reason::Failure`]) otherwise.
    pub const fn end_reason(self) -> Option<Reason> {
        match self {
            Self::OperationClaimed => None,
            Self::RegistryUnavailable | Self::DeadlinePassed => Some(Reason::Failure),
        }
    }
}

/// How a session ended.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOutcome {
    /// The device name the phone sent, once AUTH_RESPONSE carried a valid one.
    pub device_name: Option<String>,
    /// What happened.
    pub result: SessionResult,
    /// The reason of the END_SESSION the server sent, if it sent one.
    pub end_reason: Option<Reason>,
    /// True once the device passed authentication (the host may reset its
    /// failure counter).
    pub authenticated: bool,
    /// For certificate authentication: what was presented.
    pub certificate_authentication: Option<CertificateAuthentication>,
    /// True when the host answered
    /// [`ServerDecision::RecordOutcome`] with
    /// [`answer_outcome_recorded`](super::ServerSession::answer_outcome_recorded);
    /// false in the outcome carried by that decision (not recorded yet) and
    /// after [`refuse_outcome_record`](super::ServerSession::refuse_outcome_record).
    pub recorded: bool,
}

impl ServerOutcome {
    /// True when the device failed authentication: the host must increment
    /// the record's failure counter.
    pub fn is_authentication_failure(&self) -> bool {
        matches!(self.result, SessionResult::AuthenticationFailed(_))
    }

    /// True when the scheduled operation is complete and the host should
    /// reset it to none (and clear a one-time authentication string).
    pub fn operation_completed(&self) -> bool {
        matches!(
            self.result,
            SessionResult::Installed { .. }
                | SessionResult::Fetched { .. }
                | SessionResult::Deleted
        )
    }
}

/// Facts about a successful certificate authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CertificateAuthentication {
    /// Whether the CERTIFICATE element held an LSC or a MIC.
    pub kind: CertificateKind,
    /// Whether SUDI_DATA was present (and verified).
    pub sudi_verified: bool,
    /// Whether an expired MIC was accepted by policy (log it).
    pub expired_mic_accepted: bool,
}

/// What happened in a session.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionResult {
    /// The phone stored the new LSC (STORE_CERT_RESPONSE 1). END_SESSION 1.
    Installed {
        /// The certificate, DER.
        certificate_der: Vec<u8>,
    },
    /// The phone did not confirm storing the LSC; it stays pending for the
    /// host and the operation stays scheduled. END_SESSION 7.
    StoreFailed {
        /// The certificate that was sent, DER.
        certificate_der: Vec<u8>,
        /// The phone's REASON, if it sent one.
        phone_reason: Option<Reason>,
    },
    /// The phone could not generate a key; the operation stays.
    /// END_SESSION 7.
    KeyGenerationFailed {
        /// The phone's REASON, if it sent one.
        phone_reason: Option<Reason>,
    },
    /// The phone refused an EC-only install (KEY_GEN_RESPONSE without
    /// PUBLIC_KEY to the EC request) after announcing CAPF version 3 (or
    /// 2) in AUTH_RESPONSE: Unified CM's "Upgrade Failed: No Support for
    /// EC only in CAPF version 3". The operation stays. END_SESSION 7.
    EcOnlyNotSupported {
        /// The phone's REASON, if it sent one.
        phone_reason: Option<Reason>,
    },
    /// The host refused to issue. END_SESSION 7 ([`IssueRefusal::Deferred`]:
    /// 0).
    IssueRefused(IssueRefusal),
    /// The phone returned its LSC. END_SESSION 0.
    Fetched {
        /// The certificate, DER (checked to parse as X.509).
        certificate_der: Vec<u8>,
    },
    /// The phone returned nothing. END_SESSION 0 (7 when it said success
    /// without a certificate).
    FetchFailed {
        /// The phone's REASON, if it sent one.
        phone_reason: Option<Reason>,
    },
    /// The phone deleted its LSC. END_SESSION 1.
    Deleted,
    /// The phone did not delete (nothing to delete, or failure).
    /// END_SESSION 1, as the reference does.
    DeleteRefused {
        /// The phone's REASON, if it sent one.
        phone_reason: Option<Reason>,
    },
    /// No operation scheduled. END_SESSION 0.
    NothingToDo,
    /// The host does not know the device. END_SESSION 9.
    UnknownDevice,
    /// The host refused the device before authentication
    /// ([`refuse_device`](super::ServerSession::refuse_device)), e.g. because
    /// another session holds its scheduled operation. No END_SESSION when
    /// busy, END_SESSION 7 otherwise ([`DeviceRefusal::end_reason`]);
    /// nothing was checked, nothing is to be counted.
    DeviceRefused(DeviceRefusal),
    /// Authentication failed. END_SESSION 7. The host must count it.
    AuthenticationFailed(AuthFailure),
    /// The phone broke the protocol. END_SESSION 7.
    ProtocolError(ServerProtocolViolation),
    /// A wait expired. END_SESSION 7 is sent first.
    TimedOut {
        /// What the session was waiting for.
        state: SessionState,
    },
    /// The phone closed the connection. Nothing is sent.
    PeerClosed {
        /// What the session was doing.
        state: SessionState,
    },
    /// The transport failed under the session (TLS error, reset, failed
    /// write), as the host reported. Nothing is sent.
    TransportFailed {
        /// What the session was doing.
        state: SessionState,
    },
}

/// Why authentication failed. Never carries a secret.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// The record is at or over the failed-attempt limit; nothing was checked.
    #[error("device locked out after {failed_attempts} failed attempts")]
    LockedOut {
        /// The record's counter.
        failed_attempts: u32,
    },
    /// An authentication string is required and none (or an empty one) came.
    #[error("authentication string required but not sent")]
    AuthStringMissing,
    /// The authentication string does not match.
    #[error("wrong authentication string")]
    WrongAuthString,
    /// Certificate mode, but CERTIFICATE, SIGNED_DATA or SHA2_SIGNED_DATA is
    /// missing.
    #[error("certificate authentication elements missing")]
    CertificateMissing,
    /// SHA2_SIGNED_DATA with a hash id other than 3 (SHA-512).
    #[error("SHA2_SIGNED_DATA hash id {0} (expected 3)")]
    UnsupportedProofHash(u8),
    /// The presented certificate is refused.
    #[error("certificate refused: {0}")]
    Certificate(CertificateCheckError),
    /// SIGNED_DATA (SHA-1 over M1) does not verify.
    #[error("SIGNED_DATA does not verify")]
    SignedDataInvalid,
    /// SHA2_SIGNED_DATA (SHA-512 over M1) does not verify.
    #[error("SHA2_SIGNED_DATA does not verify")]
    Sha2SignedDataInvalid,
    /// SUDI_DATA is required by configuration and absent.
    #[error("SUDI_DATA required but not sent")]
    SudiMissing,
    /// The SUDI certificate is not RSA (only RSA SUDI is defined).
    #[error("SUDI certificate is not RSA")]
    SudiNotRsa,
    /// The SUDI certificate is refused.
    #[error("SUDI certificate refused: {0}")]
    SudiCertificate(CertificateCheckError),
    /// SUDI block 3's lead byte is not 3 (SHA-512).
    #[error("SUDI_DATA block 3 hash id {0} (expected 3)")]
    SudiHashId(u8),
    /// A SUDI signature does not verify over this session's id.
    #[error("SUDI proof does not verify")]
    SudiProofInvalid,
}

/// How the phone broke the protocol (seen by the server).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerProtocolViolation {
    /// The bytes are not a valid frame.
    #[error("malformed frame: {0}")]
    Malformed(WireError),
    /// The frame's session id is not this session's.
    #[error("session id {found:#010x} (expected {expected:#010x})")]
    WrongSessionId {
        /// This session's id.
        expected: u32,
        /// The id in the frame.
        found: u32,
    },
    /// A command the current state does not expect.
    #[error("unexpected {command} while {state:?}")]
    UnexpectedCommand {
        /// The command received.
        command: Command,
        /// Where the session stood.
        state: SessionState,
    },
    /// A known element appears twice (ambiguous; the reference silently
    /// keeps the last one).
    #[error("element {0} repeated")]
    DuplicateElement(ElementTag),
    /// AUTH_RESPONSE without VERSION.
    #[error("VERSION missing")]
    MissingVersion,
    /// A VERSION other than 2 or 3.
    #[error("unsupported version {0}")]
    UnsupportedVersion(u8),
    /// AUTH_RESPONSE without DEVICE_NAME.
    #[error("DEVICE_NAME missing")]
    MissingDeviceName,
    /// A DEVICE_NAME that breaks the one device-name rule
    /// ([`DeviceName`](crate::device_name::DeviceName): SEP + 12 upper-case
    /// hex digits, or 1-64 ASCII letters and digits).
    #[error("DEVICE_NAME invalid")]
    InvalidDeviceName,
    /// PUBLIC_KEY does not parse as an RSA or EC SubjectPublicKeyInfo.
    #[error("PUBLIC_KEY does not parse")]
    InvalidPublicKey,
    /// PUBLIC_KEY is not the key type or size that was asked for.
    #[error("PUBLIC_KEY is not the requested {requested}")]
    PublicKeyMismatch {
        /// What was asked for.
        requested: KeyRequest,
    },
    /// KEY_GEN_RESPONSE carried SIGNED_DATA that is not a valid
    /// phone-signed certificate request for PUBLIC_KEY and this device
    /// (our reading: see
    /// [`certificate_request`](crate::capf::certificate_request)).
    #[error("SIGNED_DATA of KEY_GEN_RESPONSE refused: {0}")]
    InvalidCertificateRequest(CertificateRequestError),
    /// FETCH_CERT_RESPONSE carried a CERTIFICATE that is not DER X.509.
    #[error("fetched certificate does not parse")]
    InvalidFetchedCertificate,
}
