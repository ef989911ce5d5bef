//! The CAPF phone session as an object, following the host contract of
//! `capf_core::session` (see `capf_core::manual`).

use std::sync::{Arc, Mutex};

use capf_core::capf::phone as core_phone;
use capf_core::session::{self as core_session, Output};
use capf_core::time::Timestamp;

use crate::keystore::{CertificateRequestToSign, KeystoreError, PhoneKeystore, ProofRequest};
use crate::types::{CertificateRequestAlgorithm, KeySpec, ProofCredential, ProofHash};

/// Errors of the phone API: a bad configuration, or an answer the session
/// cannot take (the session is then unchanged). Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum PhoneError {
    /// The device name, authentication string or a certificate is unusable.
    #[error("invalid phone configuration: {0}")]
    InvalidConfig(String),
    /// An answer to a decision that is not pending, or one the session
    /// refuses (a public key of the wrong kind, a signature that does not
    /// verify …). The session is unchanged.
    #[error("session misuse: {0}")]
    Misuse(String),
}

impl From<core_session::SessionMisuse> for PhoneError {
    fn from(error: core_session::SessionMisuse) -> Self {
        Self::Misuse(error.to_string())
    }
}

impl From<core_phone::CredentialError> for PhoneError {
    fn from(error: core_phone::CredentialError) -> Self {
        Self::InvalidConfig(error.to_string())
    }
}

/// Which existing certificate to authenticate with first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CertificatePrecedence {
    /// capfAuthMode 3: the LSC if present, else the MIC.
    LscFirst,
    /// capfAuthMode 4: the MIC if present, else the LSC.
    MicFirst,
}

/// Options of a phone session beyond its credentials (our reading of the
/// spec for both; see `capf_core::capf::certificate_request` and
/// `capf_core::capf::phone::PhoneConfig`). `None` where a constructor takes
/// them: both off, the exchange byte for byte the recorded one.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct PhoneOptions {
    /// Also send a PKCS#10 certificate request signed by the new key with
    /// KEY_GEN_RESPONSE (`capf enroll --send-csr`): the session then asks
    /// `SignCertificateRequest` right after `GenerateKey`
    /// (`PhoneKeystore.sign_certificate_request`). A server whose LSCs an
    /// online CA signs (EST) needs it; an offline CA keeps it for the
    /// admin.
    #[uniffi(default = false)]
    pub send_certificate_request: bool,
    /// The public key (DER SubjectPublicKeyInfo) of a key the phone
    /// generated at an earlier session that ended `CertificatePending` (an
    /// offline CA), and keeps: a STORE_CERT_REQUEST that comes right after
    /// authentication, without KEY_GEN_REQUEST, is then accepted and the
    /// certificate stored only if it carries exactly this key (otherwise
    /// the phone answers STORE_CERT_RESPONSE 7 and the outcome is
    /// `StoreFailed`). `None`: such a request is a protocol error.
    #[uniffi(default = None)]
    pub pending_key_spki_der: Option<Vec<u8>>,
}

/// A question only the app can answer (`PhoneOutput.Need`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum PhoneDecision {
    /// Sign one proof of certificate authentication: answer
    /// `answer_signature` / `refuse_signature`, or let
    /// `answer_with_keystore` do it.
    SignProof {
        /// What to sign (see `PhoneKeystore.signProof`).
        request: ProofRequest,
    },
    /// Generate a key of this kind and answer its public key with
    /// `answer_key` (or `refuse_key`), or let `answer_with_keystore` do it.
    GenerateKey {
        /// The kind asked for.
        key: KeySpec,
    },
    /// Sign the certificate request of the key just generated (sessions
    /// with `PhoneOptions.send_certificate_request` only): answer
    /// `answer_certificate_request_signature` (or
    /// `refuse_certificate_request_signature`: the key then goes out
    /// without a request), or let `answer_with_keystore` do it.
    SignCertificateRequest {
        /// What to sign (see `PhoneKeystore.signCertificateRequest`).
        request: CertificateRequestToSign,
    },
    /// Store this LSC (DER, already checked to carry the generated key, or
    /// the pending key), then `answer_store` (or `refuse_store`).
    StoreCertificate {
        /// The issued certificate, DER.
        certificate_der: Vec<u8>,
    },
    /// Return the current LSC with `answer_fetch`.
    FetchCertificate,
    /// Delete the LSC; `answer_delete(true)` if there was one.
    DeleteCertificate,
}

/// How the phone session ended (`PhoneOutput.Done`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum PhoneOutcome {
    /// The server had nothing scheduled (END_SESSION reason 0 or 1).
    NothingToDo {
        /// The END_SESSION reason code.
        reason: u8,
    },
    /// A new LSC was issued and stored.
    Installed {
        /// The stored certificate, DER.
        certificate_der: Vec<u8>,
    },
    /// The server fetched the phone's certificate.
    FetchCompleted {
        /// Whether the phone had one to send.
        certificate_sent: bool,
    },
    /// The server asked the phone to delete its LSC.
    Deleted {
        /// Whether there was one.
        certificate_was_present: bool,
    },
    /// The server does not know this device (END_SESSION 9).
    UnknownDevice,
    /// The key went out and the server ended with "no action"
    /// (END_SESSION 0): the certificate is pending at an offline CA. Keep
    /// the generated key and pass its public key as
    /// `PhoneOptions.pending_key_spki_der` at the next session, which
    /// brings the certificate. Neither a success nor a failure.
    CertificatePending,
    /// The server ended the session with a failure.
    Refused {
        /// The END_SESSION reason code.
        reason: u8,
    },
    /// The phone could not make the requested key.
    KeyGenerationFailed {
        /// The server's END_SESSION reason, if it arrived.
        server_reason: Option<u8>,
    },
    /// The issued certificate was not stored.
    StoreFailed {
        /// Why.
        cause: String,
        /// The server's END_SESSION reason, if it arrived.
        server_reason: Option<u8>,
    },
    /// The server broke the protocol.
    ProtocolError {
        /// What it did.
        message: String,
    },
    /// The connection failed, closed or timed out before END_SESSION (the
    /// only outcome worth retrying).
    CommunicationFailure {
        /// What happened.
        message: String,
    },
    /// The phone itself could not go on (a proof could not be signed …).
    LocalFailure {
        /// What failed.
        message: String,
    },
}

impl PhoneOutcome {
    pub(crate) fn from_core(outcome: core_phone::PhoneOutcome) -> Self {
        use core_phone::PhoneOutcome as O;
        match outcome {
            O::NothingToDo { reason } => Self::NothingToDo {
                reason: reason.code(),
            },
            O::Installed { certificate_der } => Self::Installed { certificate_der },
            O::FetchCompleted { certificate_sent } => Self::FetchCompleted { certificate_sent },
            O::Deleted {
                certificate_was_present,
            } => Self::Deleted {
                certificate_was_present,
            },
            O::UnknownDevice => Self::UnknownDevice,
            O::CertificatePending => Self::CertificatePending,
            O::Refused { reason } => Self::Refused {
                reason: reason.code(),
            },
            O::KeyGenerationFailed { server_reason } => Self::KeyGenerationFailed {
                server_reason: server_reason.map(|reason| reason.code()),
            },
            O::StoreFailed {
                cause,
                server_reason,
            } => Self::StoreFailed {
                cause: cause.to_string(),
                server_reason: server_reason.map(|reason| reason.code()),
            },
            O::ProtocolError(violation) => Self::ProtocolError {
                message: violation.to_string(),
            },
            O::CommunicationFailure(failure) => Self::CommunicationFailure {
                message: failure.to_string(),
            },
            O::LocalFailure(failure) => Self::LocalFailure {
                message: failure.to_string(),
            },
            other => Self::LocalFailure {
                message: format!("{other:?}"),
            },
        }
    }
}

/// One thing for the app to do, from `poll_output`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum PhoneOutput {
    /// One whole frame for the server: write it as ONE (TLS) write, now.
    Transmit {
        /// The frame.
        bytes: Vec<u8>,
    },
    /// The session waits for the app's answer to this decision.
    Need {
        /// The decision.
        decision: PhoneDecision,
    },
    /// The session is over (always the last output).
    Done {
        /// How it ended.
        outcome: PhoneOutcome,
    },
}

/// The kind of a pending decision, without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DecisionKind {
    /// CAPF phone: sign a proof.
    SignProof,
    /// CAPF phone: generate a key.
    GenerateKey,
    /// CAPF phone: sign the certificate request.
    SignCertificateRequest,
    /// CAPF phone: store the issued certificate.
    StoreCertificate,
    /// CAPF phone: return the certificate.
    FetchCertificate,
    /// CAPF phone: delete the certificate.
    DeleteCertificate,
    /// CAPF server: look up the device.
    LookUpDevice,
    /// CAPF server: issue a certificate.
    IssueCertificate,
    /// CAPF server: record the issued certificate as pending.
    RecordPendingCertificate,
    /// CAPF server: record the outcome.
    RecordOutcome,
    /// TVS server: look the certificate up.
    LookUpCertificate,
    /// Another decision of a later version of the core.
    Other,
}

impl DecisionKind {
    pub(crate) fn from_core(kind: core_session::DecisionKind) -> Self {
        use core_session::DecisionKind as K;
        match kind {
            K::SignProof => Self::SignProof,
            K::GenerateKey => Self::GenerateKey,
            K::SignCertificateRequest => Self::SignCertificateRequest,
            K::StoreCertificate => Self::StoreCertificate,
            K::FetchCertificate => Self::FetchCertificate,
            K::DeleteCertificate => Self::DeleteCertificate,
            K::LookUpDevice => Self::LookUpDevice,
            K::IssueCertificate => Self::IssueCertificate,
            K::RecordPendingCertificate => Self::RecordPendingCertificate,
            K::RecordOutcome => Self::RecordOutcome,
            K::LookUpCertificate => Self::LookUpCertificate,
            _ => Self::Other,
        }
    }
}

/// The phone's side of one CAPF connection (sans-IO): the app moves the
/// plaintext bytes, the time and the answers; the session says what to do.
///
/// Drive it as `capf_core::manual` says: after every call, drain
/// `poll_output` (write each `Transmit`, answer each `Need`, stop at
/// `Done`); feed the server's bytes with `handle_input`; call
/// `handle_timeout(now)` at `poll_timeout()`; report EOF with
/// `handle_peer_closed` and transport failures with
/// `handle_transport_error`.
#[derive(Debug, uniffi::Object)]
pub struct PhoneSession {
    device_name: String,
    pub(crate) inner: Mutex<core_phone::PhoneSession>,
}

impl PhoneSession {
    fn from_config(
        device_name: String,
        credentials: core_phone::PhoneCredentials,
        options: Option<PhoneOptions>,
        now_millis: u64,
    ) -> Result<Arc<Self>, PhoneError> {
        let options = options.unwrap_or_default();
        let mut config = core_phone::PhoneConfig::new(device_name.clone(), credentials)?
            .with_certificate_request(options.send_certificate_request);
        if let Some(spki_der) = options.pending_key_spki_der {
            config = config.with_pending_key(spki_der);
        }
        let session =
            core_phone::PhoneSession::new(config, Timestamp::from_unix_millis(now_millis));
        Ok(Arc::new(Self {
            device_name,
            inner: Mutex::new(session),
        }))
    }
}

#[uniffi::export]
impl PhoneSession {
    /// A session authenticating with an authentication string (4 to 10
    /// digits; capfAuthMode 1). `now_millis`: the current time; `options`:
    /// a certificate request, a pending key (default: neither).
    #[uniffi::constructor(default(options = None))]
    pub fn with_auth_string(
        device_name: String,
        auth_string: String,
        now_millis: u64,
        options: Option<PhoneOptions>,
    ) -> Result<Arc<Self>, PhoneError> {
        let secret = core_phone::AuthString::new(&auth_string)?;
        Self::from_config(
            device_name,
            core_phone::PhoneCredentials::AuthString(secret),
            options,
            now_millis,
        )
    }

    /// A session authenticating with the null string (capfAuthMode 2);
    /// `options` as for `with_auth_string`.
    #[uniffi::constructor(default(options = None))]
    pub fn with_null_string(
        device_name: String,
        now_millis: u64,
        options: Option<PhoneOptions>,
    ) -> Result<Arc<Self>, PhoneError> {
        Self::from_config(
            device_name,
            core_phone::PhoneCredentials::NullString,
            options,
            now_millis,
        )
    }

    /// A session authenticating with an existing certificate (capfAuthMode
    /// 3/4): the LSC and/or MIC (DER), and optionally the SUDI certificate
    /// (RSA). Their proofs are asked as `SignProof` decisions. `options`
    /// as for `with_auth_string`.
    #[uniffi::constructor(default(options = None))]
    pub fn with_certificate(
        device_name: String,
        precedence: CertificatePrecedence,
        lsc_der: Option<Vec<u8>>,
        mic_der: Option<Vec<u8>>,
        sudi_der: Option<Vec<u8>>,
        now_millis: u64,
        options: Option<PhoneOptions>,
    ) -> Result<Arc<Self>, PhoneError> {
        let precedence = match precedence {
            CertificatePrecedence::LscFirst => core_phone::CertificatePrecedence::LscFirst,
            CertificatePrecedence::MicFirst => core_phone::CertificatePrecedence::MicFirst,
        };
        let mut certificates = core_phone::CertificateCredentials::new(precedence);
        if let Some(der) = lsc_der {
            certificates = certificates.with_lsc(der)?;
        }
        if let Some(der) = mic_der {
            certificates = certificates.with_mic(der)?;
        }
        if let Some(der) = sudi_der {
            certificates = certificates.with_sudi(der)?;
        }
        Self::from_config(
            device_name,
            core_phone::PhoneCredentials::Certificate(certificates),
            options,
            now_millis,
        )
    }

    /// The device name this session enrolls.
    pub fn device_name(&self) -> String {
        self.device_name.clone()
    }

    /// Plaintext bytes from the server, in any chunking.
    pub fn handle_input(&self, bytes: Vec<u8>) {
        crate::lock(&self.inner).handle_input(&bytes);
    }

    /// The next thing to do; `None` when the session waits for input, an
    /// answer or time.
    pub fn poll_output(&self) -> Option<PhoneOutput> {
        let output = crate::lock(&self.inner).poll_output()?;
        Some(match output {
            Output::Transmit(bytes) => PhoneOutput::Transmit { bytes },
            Output::Need(decision) => match decision_from_core(decision) {
                Some(decision) => PhoneOutput::Need { decision },
                None => PhoneOutput::Done {
                    outcome: unknown_decision_failure(),
                },
            },
            Output::Done(outcome) => PhoneOutput::Done {
                outcome: PhoneOutcome::from_core(outcome),
            },
            _ => PhoneOutput::Done {
                outcome: PhoneOutcome::LocalFailure {
                    message: "unknown output of the core".to_owned(),
                },
            },
        })
    }

    /// Time goes in only here: the current time, milliseconds since the
    /// Unix epoch.
    pub fn handle_timeout(&self, now_millis: u64) {
        crate::lock(&self.inner).handle_timeout(Timestamp::from_unix_millis(now_millis));
    }

    /// When to call `handle_timeout` next (milliseconds since the Unix
    /// epoch); `None` while the app owes an answer and once done.
    pub fn poll_timeout(&self) -> Option<u64> {
        crate::lock(&self.inner)
            .poll_timeout()
            .map(Timestamp::unix_millis)
    }

    /// The server closed the connection.
    pub fn handle_peer_closed(&self) {
        crate::lock(&self.inner).handle_peer_closed();
    }

    /// The transport failed (reset, TLS alert, failed write).
    pub fn handle_transport_error(&self) {
        crate::lock(&self.inner).handle_transport_error();
    }

    /// True once the session is over.
    pub fn is_done(&self) -> bool {
        crate::lock(&self.inner).is_done()
    }

    /// The decision the app still owes, if any.
    pub fn pending_decision(&self) -> Option<DecisionKind> {
        crate::lock(&self.inner)
            .pending_decision()
            .map(DecisionKind::from_core)
    }

    /// The session id the server chose, once AUTH_REQUEST arrived.
    pub fn session_id(&self) -> Option<u32> {
        crate::lock(&self.inner).session_id()
    }

    /// Answer to `SignProof`: the signature (checked against the
    /// certificate's key; one that does not verify is a `Misuse` and the
    /// decision stays pending).
    pub fn answer_signature(&self, signature: Vec<u8>) -> Result<(), PhoneError> {
        Ok(crate::lock(&self.inner).answer_signature(signature)?)
    }

    /// Refuses `SignProof`: the session ends with a local failure.
    pub fn refuse_signature(&self) -> Result<(), PhoneError> {
        Ok(crate::lock(&self.inner).refuse_signature()?)
    }

    /// Answer to `GenerateKey`: the new key's DER SubjectPublicKeyInfo.
    pub fn answer_key(&self, spki_der: Vec<u8>) -> Result<(), PhoneError> {
        Ok(crate::lock(&self.inner).answer_key(spki_der)?)
    }

    /// Refuses `GenerateKey`: the key could not be made.
    pub fn refuse_key(&self) -> Result<(), PhoneError> {
        Ok(crate::lock(&self.inner).refuse_key()?)
    }

    /// Answer to `SignCertificateRequest`: the signature of its `message`
    /// by the new key (checked under that key as the server will; one that
    /// does not verify is a `Misuse` and the decision stays pending).
    /// KEY_GEN_RESPONSE then carries the key and the signed request.
    pub fn answer_certificate_request_signature(
        &self,
        signature: Vec<u8>,
    ) -> Result<(), PhoneError> {
        Ok(crate::lock(&self.inner).answer_certificate_request_signature(signature)?)
    }

    /// Refuses `SignCertificateRequest`: the key goes out without a
    /// request, as without `PhoneOptions.send_certificate_request`.
    pub fn refuse_certificate_request_signature(&self) -> Result<(), PhoneError> {
        Ok(crate::lock(&self.inner).refuse_certificate_request_signature()?)
    }

    /// While the key is being generated: send one more REQUEST_IN_PROGRESS.
    pub fn repeat_in_progress(&self) -> Result<(), PhoneError> {
        Ok(crate::lock(&self.inner).repeat_in_progress()?)
    }

    /// Answer to `StoreCertificate`: stored.
    pub fn answer_store(&self) -> Result<(), PhoneError> {
        Ok(crate::lock(&self.inner).answer_store()?)
    }

    /// Refuses `StoreCertificate`: could not be stored.
    pub fn refuse_store(&self) -> Result<(), PhoneError> {
        Ok(crate::lock(&self.inner).refuse_store()?)
    }

    /// Answer to `FetchCertificate`: the LSC (DER), or `None`.
    pub fn answer_fetch(&self, certificate_der: Option<Vec<u8>>) -> Result<(), PhoneError> {
        Ok(crate::lock(&self.inner).answer_fetch(certificate_der)?)
    }

    /// Answer to `DeleteCertificate`: whether an LSC was deleted.
    pub fn answer_delete(&self, deleted: bool) -> Result<(), PhoneError> {
        Ok(crate::lock(&self.inner).answer_delete(deleted)?)
    }

    /// Answers `decision` through `keystore` if it is a `GenerateKey`, a
    /// `SignProof` or a `SignCertificateRequest` (returns true), and does
    /// nothing for the other decisions (returns false). A keystore error
    /// becomes the matching refusal (`refuse_key` / `refuse_signature` /
    /// `refuse_certificate_request_signature`): the session then goes on or
    /// ends as the protocol says. A key or signature the session rejects (wrong
    /// kind, does not verify) is raised as `Misuse` and the decision stays
    /// pending. The keystore is called without holding the session's lock.
    pub fn answer_with_keystore(
        &self,
        decision: PhoneDecision,
        keystore: Arc<dyn PhoneKeystore>,
    ) -> Result<bool, PhoneError> {
        match decision {
            PhoneDecision::GenerateKey { key } => {
                let answer: Result<Vec<u8>, KeystoreError> =
                    keystore.generate_key(self.device_name.clone(), key);
                let mut session = crate::lock(&self.inner);
                match answer {
                    Ok(spki_der) => session.answer_key(spki_der)?,
                    Err(_) => session.refuse_key()?,
                }
                Ok(true)
            }
            PhoneDecision::SignProof { request } => {
                let answer = keystore.sign_proof(request);
                let mut session = crate::lock(&self.inner);
                match answer {
                    Ok(signature) => session.answer_signature(signature)?,
                    Err(_) => session.refuse_signature()?,
                }
                Ok(true)
            }
            PhoneDecision::SignCertificateRequest { request } => {
                let answer = keystore.sign_certificate_request(request);
                let mut session = crate::lock(&self.inner);
                match answer {
                    Ok(signature) => session.answer_certificate_request_signature(signature)?,
                    Err(_) => session.refuse_certificate_request_signature()?,
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// The FFI form of a core decision; `None` for a decision, key kind or
/// algorithm this crate does not name yet (the core's enums are
/// non-exhaustive). Hosts then end the session as a local failure
/// ([`UNKNOWN_DECISION`]): guessing an answer could delete or store a
/// certificate the phone was never asked to, or make the wrong key.
pub(crate) fn decision_from_core(decision: core_phone::PhoneDecision) -> Option<PhoneDecision> {
    use core_phone::PhoneDecision as D;
    Some(match decision {
        D::SignProof {
            credential,
            hash,
            certificate_der,
            message,
            digest,
        } => PhoneDecision::SignProof {
            request: ProofRequest {
                credential: ProofCredential::from_core(credential),
                hash: ProofHash::from_core(hash),
                certificate_der,
                message,
                digest,
            },
        },
        D::GenerateKey(request) => PhoneDecision::GenerateKey {
            key: KeySpec::from_core(request)?,
        },
        D::SignCertificateRequest {
            public_key_der,
            algorithm,
            message,
            digest,
        } => PhoneDecision::SignCertificateRequest {
            request: CertificateRequestToSign {
                public_key_der,
                algorithm: CertificateRequestAlgorithm::from_core(algorithm)?,
                algorithm_name: algorithm.name().to_owned(),
                message,
                digest,
            },
        },
        D::StoreCertificate { certificate_der } => {
            PhoneDecision::StoreCertificate { certificate_der }
        }
        D::FetchCertificate => PhoneDecision::FetchCertificate,
        D::DeleteCertificate => PhoneDecision::DeleteCertificate,
        _ => return None,
    })
}

/// Why a session ended when [`decision_from_core`] found nothing to ask.
pub(crate) const UNKNOWN_DECISION: &str =
    "the core asked for a decision this binding does not know; the session was ended";

/// What a host reports when the core asks something this crate cannot name.
pub(crate) fn unknown_decision_failure() -> PhoneOutcome {
    PhoneOutcome::LocalFailure {
        message: UNKNOWN_DECISION.to_owned(),
    }
}
