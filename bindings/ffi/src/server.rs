//! The CAPF server session as an object, and the local LSC issuer, so an
//! app (or a test) can run a server in memory. The registry rules stay with
//! the host (`capf-registry` for Rust hosts).

use std::sync::{Arc, Mutex};

use capf_core::capf::server as core_server;
use capf_core::issuance::{CertificateAuthority, LscIssuer as CoreIssuer, LscRequest};
use capf_core::session::Output;
use capf_core::time::Timestamp;
use rand_core::OsRng;

use crate::phone::DecisionKind;
use crate::types::KeySpec;

/// Errors of the server API. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum ServerError {
    /// A configuration value, record, key or certificate is unusable.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// An answer to a decision that is not pending, or one the session
    /// refuses; the session is unchanged.
    #[error("session misuse: {0}")]
    Misuse(String),
    /// The issuer could not issue the certificate.
    #[error("issuance failed: {0}")]
    Issuance(String),
}

impl From<capf_core::session::SessionMisuse> for ServerError {
    fn from(error: capf_core::session::SessionMisuse) -> Self {
        Self::Misuse(error.to_string())
    }
}

/// The PBKDF2 hash of a device's authentication string, as a registry
/// stores it. Opaque: neither the string nor the hash can be read back.
#[derive(uniffi::Object)]
pub struct AuthStringHash {
    inner: core_server::AuthStringHash,
}

impl std::fmt::Debug for AuthStringHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthStringHash(<redacted>)")
    }
}

#[uniffi::export]
impl AuthStringHash {
    /// Hashes `auth_string` (4 to 10 digits) with `salt` (16 bytes or more)
    /// and `iterations` PBKDF2-HMAC-SHA256 rounds (600 000 recommended;
    /// this call costs their time).
    #[uniffi::constructor]
    pub fn derive(
        auth_string: String,
        salt: Vec<u8>,
        iterations: u32,
    ) -> Result<Arc<Self>, ServerError> {
        let inner = core_server::AuthStringHash::new(&auth_string, &salt, iterations)
            .map_err(|error| ServerError::InvalidInput(error.to_string()))?;
        Ok(Arc::new(Self { inner }))
    }
}

/// The recommended number of PBKDF2 rounds for [`AuthStringHash::derive`].
#[uniffi::export]
pub fn auth_string_recommended_iterations() -> u32 {
    core_server::AuthStringHash::RECOMMENDED_ITERATIONS
}

/// The operation scheduled for a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Operation {
    /// Nothing scheduled.
    None,
    /// Install or upgrade an LSC of this kind.
    Install {
        /// The key the phone must generate.
        key: KeySpec,
    },
    /// Fetch the phone's LSC.
    Fetch,
    /// Delete the phone's LSC.
    Delete,
}

/// Which certificate the administrator asked the phone to prefer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CertificatePreference {
    /// Precedence to the LSC (mode 3).
    Lsc,
    /// Precedence to the MIC (mode 4).
    Mic,
}

/// How a device must authenticate.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum ServerAuthMode {
    /// By authentication string; the registry holds only its hash.
    AuthString {
        /// The hash.
        hash: Arc<AuthStringHash>,
    },
    /// By null string (no check).
    NullString,
    /// By existing certificate (LSC or MIC).
    ExistingCertificate {
        /// What the phone was told to prefer.
        prefer: CertificatePreference,
    },
}

/// The registry's record of one device, answered to `LookUpDevice`.
#[derive(Debug, Clone, uniffi::Record)]
pub struct DeviceRecord {
    /// The device name; must equal the name the phone sent.
    pub device_name: String,
    /// The scheduled operation.
    pub operation: Operation,
    /// How it must authenticate.
    pub authentication: ServerAuthMode,
    /// Authentication failures counted so far.
    pub failed_attempts: u32,
}

impl DeviceRecord {
    fn to_core(&self) -> Result<core_server::DeviceRecord, ServerError> {
        let operation = match self.operation {
            Operation::None => core_server::Operation::None,
            Operation::Install { key } => core_server::Operation::Install(
                key.to_core()
                    .ok_or_else(|| ServerError::InvalidInput(format!("invalid key {key:?}")))?,
            ),
            Operation::Fetch => core_server::Operation::Fetch,
            Operation::Delete => core_server::Operation::Delete,
        };
        let authentication = match &self.authentication {
            ServerAuthMode::AuthString { hash } => {
                core_server::AuthMode::AuthString(hash.inner.clone())
            }
            ServerAuthMode::NullString => core_server::AuthMode::NullString,
            ServerAuthMode::ExistingCertificate { prefer } => {
                core_server::AuthMode::ExistingCertificate {
                    prefer: match prefer {
                        CertificatePreference::Lsc => core_server::CertificatePreference::Lsc,
                        CertificatePreference::Mic => core_server::CertificatePreference::Mic,
                    },
                }
            }
        };
        Ok(
            core_server::DeviceRecord::new(self.device_name.clone(), operation, authentication)
                .with_failed_attempts(self.failed_attempts),
        )
    }
}

/// Settings of one server session (the core's defaults from
/// `ServerOptions.defaults(sessionId)`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ServerOptions {
    /// This session's id: unique and unguessable.
    pub session_id: u32,
    /// Send AUTH_TYPE 0 in AUTH_REQUEST (reference server) or not (CUCM).
    pub announce_auth_type: bool,
    /// Records with this many failed attempts are refused.
    pub max_failed_attempts: u32,
    /// Wait for KEY_GEN_RESPONSE, seconds.
    pub key_generation_timeout_seconds: u64,
    /// Wait for any other phone frame, seconds.
    pub response_timeout_seconds: u64,
    /// Certificate authentication: the CAs (DER) whose LSCs are accepted
    /// (usually the CAPF certificate). Empty: no LSC is accepted.
    pub lsc_issuers_der: Vec<Vec<u8>>,
    /// Certificate authentication: the manufacturing roots (DER) whose
    /// MICs are accepted. Empty: no MIC is accepted.
    pub manufacturing_roots_der: Vec<Vec<u8>>,
}

/// The core's default server options for `session_id`.
#[uniffi::export]
pub fn default_server_options(session_id: u32) -> ServerOptions {
    let config = core_server::ServerConfig::new(session_id);
    ServerOptions {
        session_id,
        announce_auth_type: config.announce_auth_type,
        max_failed_attempts: config.max_failed_attempts,
        key_generation_timeout_seconds: config.key_generation_timeout.as_secs(),
        response_timeout_seconds: config.response_timeout.as_secs(),
        lsc_issuers_der: config.certificate_policy.lsc_issuers,
        manufacturing_roots_der: config.certificate_policy.manufacturing_roots,
    }
}

/// A question only the server's host can answer.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ServerDecision {
    /// Look the device up: `answer_device(record or null)` or
    /// `refuse_device`.
    LookUpDevice {
        /// The name the phone sent.
        device_name: String,
    },
    /// Issue an LSC for this key (e.g. with `LscIssuer.issue`):
    /// `answer_certificate` or `refuse_certificate`.
    IssueCertificate {
        /// The authenticated device.
        device_name: String,
        /// The phone's key, DER SubjectPublicKeyInfo.
        subject_public_key_info_der: Vec<u8>,
        /// What was asked for.
        key: KeySpec,
    },
    /// Record the certificate as pending before it is sent:
    /// `answer_pending_recorded`.
    RecordPendingCertificate {
        /// The device.
        device_name: String,
        /// The issued certificate, DER.
        certificate_der: Vec<u8>,
    },
    /// Record how the session ends, durably, before the phone is told:
    /// `answer_outcome_recorded` or `refuse_outcome_record`.
    RecordOutcome {
        /// The outcome as it will be.
        outcome: ServerOutcome,
    },
}

/// What a server session achieved.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ServerResult {
    /// The phone stored the new LSC.
    Installed {
        /// The LSC, DER.
        certificate_der: Vec<u8>,
    },
    /// The phone did not confirm storing the LSC.
    StoreFailed {
        /// The LSC, DER (still pending).
        certificate_der: Vec<u8>,
    },
    /// The phone could not generate the key.
    KeyGenerationFailed,
    /// The host refused to issue.
    IssueRefused {
        /// Why.
        message: String,
    },
    /// The phone returned its certificate.
    Fetched {
        /// The certificate, DER.
        certificate_der: Vec<u8>,
    },
    /// The phone returned nothing.
    FetchFailed,
    /// The phone deleted its LSC.
    Deleted,
    /// The phone did not delete its LSC.
    DeleteRefused,
    /// Nothing was scheduled.
    NothingToDo,
    /// The device is unknown.
    UnknownDevice,
    /// The host refused the device at lookup.
    DeviceRefused {
        /// Why.
        message: String,
    },
    /// Authentication failed.
    AuthenticationFailed {
        /// Why (never a secret).
        message: String,
    },
    /// The phone broke the protocol.
    ProtocolError {
        /// How.
        message: String,
    },
    /// A wait for the phone expired.
    TimedOut,
    /// The phone closed the connection.
    PeerClosed,
    /// The transport failed.
    TransportFailed,
    /// A result of a later version of the core.
    Other {
        /// Its description.
        message: String,
    },
}

/// How a server session ended.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ServerOutcome {
    /// The device, once known.
    pub device_name: Option<String>,
    /// What happened.
    pub result: ServerResult,
    /// The END_SESSION reason sent (or about to be), if any.
    pub end_reason: Option<u8>,
    /// Whether the phone authenticated.
    pub authenticated: bool,
    /// Whether the host recorded the outcome.
    pub recorded: bool,
}

impl ServerOutcome {
    pub(crate) fn from_core(outcome: &core_server::ServerOutcome) -> Self {
        use core_server::SessionResult as R;
        let result = match &outcome.result {
            R::Installed { certificate_der } => ServerResult::Installed {
                certificate_der: certificate_der.clone(),
            },
            R::StoreFailed {
                certificate_der, ..
            } => ServerResult::StoreFailed {
                certificate_der: certificate_der.clone(),
            },
            R::KeyGenerationFailed { .. } => ServerResult::KeyGenerationFailed,
            R::IssueRefused(refusal) => ServerResult::IssueRefused {
                message: refusal.to_string(),
            },
            R::Fetched { certificate_der } => ServerResult::Fetched {
                certificate_der: certificate_der.clone(),
            },
            R::FetchFailed { .. } => ServerResult::FetchFailed,
            R::Deleted => ServerResult::Deleted,
            R::DeleteRefused { .. } => ServerResult::DeleteRefused,
            R::NothingToDo => ServerResult::NothingToDo,
            R::UnknownDevice => ServerResult::UnknownDevice,
            R::DeviceRefused(refusal) => ServerResult::DeviceRefused {
                message: refusal.to_string(),
            },
            R::AuthenticationFailed(failure) => ServerResult::AuthenticationFailed {
                message: failure.to_string(),
            },
            R::ProtocolError(violation) => ServerResult::ProtocolError {
                message: violation.to_string(),
            },
            R::TimedOut { .. } => ServerResult::TimedOut,
            R::PeerClosed { .. } => ServerResult::PeerClosed,
            R::TransportFailed { .. } => ServerResult::TransportFailed,
            other => ServerResult::Other {
                message: format!("{other:?}"),
            },
        };
        Self {
            device_name: outcome.device_name.clone(),
            result,
            end_reason: outcome.end_reason.map(|reason| reason.code()),
            authenticated: outcome.authenticated,
            recorded: outcome.recorded,
        }
    }
}

/// One thing for the server's host to do.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ServerOutput {
    /// One whole frame for the phone: write it as ONE (TLS) write, now.
    Transmit {
        /// The frame.
        bytes: Vec<u8>,
    },
    /// The session waits for this decision.
    Need {
        /// The decision.
        decision: ServerDecision,
    },
    /// The session is over.
    Done {
        /// How it ended.
        outcome: ServerOutcome,
    },
}

/// Why the host refuses a device at lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DeviceRefusal {
    /// Another session holds the device's operation.
    OperationClaimed,
    /// The registry is unavailable.
    RegistryUnavailable,
}

/// The server's side of one CAPF connection (sans-IO), driven like the
/// phone session (`capf_core::manual`). It queues AUTH_REQUEST at once.
/// `answer_device` checks credentials (PBKDF2 rounds, chains): call it off
/// the UI thread.
#[derive(Debug, uniffi::Object)]
pub struct ServerSession {
    pub(crate) inner: Mutex<core_server::ServerSession>,
}

#[uniffi::export]
impl ServerSession {
    /// A session with `options`, starting at `now_millis`. Certificate
    /// authentication trusts the anchors of `options` with the core's
    /// default checks otherwise (chain, validity, name binding).
    #[uniffi::constructor]
    pub fn new(options: ServerOptions, now_millis: u64) -> Arc<Self> {
        let mut config = core_server::ServerConfig::new(options.session_id);
        config.announce_auth_type = options.announce_auth_type;
        config.max_failed_attempts = options.max_failed_attempts;
        config.key_generation_timeout =
            core::time::Duration::from_secs(options.key_generation_timeout_seconds);
        config.response_timeout = core::time::Duration::from_secs(options.response_timeout_seconds);
        config.certificate_policy.lsc_issuers = options.lsc_issuers_der;
        config.certificate_policy.manufacturing_roots = options.manufacturing_roots_der;
        Arc::new(Self {
            inner: Mutex::new(core_server::ServerSession::new(
                config,
                Timestamp::from_unix_millis(now_millis),
            )),
        })
    }

    /// Plaintext bytes from the phone, in any chunking.
    pub fn handle_input(&self, bytes: Vec<u8>) {
        crate::lock(&self.inner).handle_input(&bytes);
    }

    /// The next thing to do; `None` when waiting.
    pub fn poll_output(&self) -> Option<ServerOutput> {
        let output = crate::lock(&self.inner).poll_output()?;
        Some(output_from_core(output))
    }

    /// Time goes in only here (milliseconds since the Unix epoch).
    pub fn handle_timeout(&self, now_millis: u64) {
        crate::lock(&self.inner).handle_timeout(Timestamp::from_unix_millis(now_millis));
    }

    /// When to call `handle_timeout` next; `None` while a decision is
    /// pending and once done.
    pub fn poll_timeout(&self) -> Option<u64> {
        crate::lock(&self.inner)
            .poll_timeout()
            .map(Timestamp::unix_millis)
    }

    /// The phone closed the connection.
    pub fn handle_peer_closed(&self) {
        crate::lock(&self.inner).handle_peer_closed();
    }

    /// The transport failed.
    pub fn handle_transport_error(&self) {
        crate::lock(&self.inner).handle_transport_error();
    }

    /// True once the session is over.
    pub fn is_done(&self) -> bool {
        crate::lock(&self.inner).is_done()
    }

    /// The decision the host still owes, if any.
    pub fn pending_decision(&self) -> Option<DecisionKind> {
        crate::lock(&self.inner)
            .pending_decision()
            .map(DecisionKind::from_core)
    }

    /// This session's id.
    pub fn session_id(&self) -> u32 {
        crate::lock(&self.inner).session_id()
    }

    /// Answer to `LookUpDevice`: the record, or `None` for an unknown
    /// device.
    pub fn answer_device(&self, record: Option<DeviceRecord>) -> Result<(), ServerError> {
        let record = record.as_ref().map(DeviceRecord::to_core).transpose()?;
        Ok(crate::lock(&self.inner).answer_device(record)?)
    }

    /// Refuses `LookUpDevice`.
    pub fn refuse_device(&self, refusal: DeviceRefusal) -> Result<(), ServerError> {
        let refusal = match refusal {
            DeviceRefusal::OperationClaimed => core_server::DeviceRefusal::OperationClaimed,
            DeviceRefusal::RegistryUnavailable => core_server::DeviceRefusal::RegistryUnavailable,
        };
        Ok(crate::lock(&self.inner).refuse_device(refusal)?)
    }

    /// Answer to `IssueCertificate`: the LSC, DER.
    pub fn answer_certificate(&self, certificate_der: Vec<u8>) -> Result<(), ServerError> {
        Ok(crate::lock(&self.inner).answer_certificate(certificate_der)?)
    }

    /// Refuses `IssueCertificate` (the CA declined or is unavailable).
    pub fn refuse_certificate(&self, message: String) -> Result<(), ServerError> {
        Ok(crate::lock(&self.inner)
            .refuse_certificate(core_server::IssueRefusal::Declined(message))?)
    }

    /// Answer to `RecordPendingCertificate`: recorded.
    pub fn answer_pending_recorded(&self) -> Result<(), ServerError> {
        Ok(crate::lock(&self.inner).answer_pending_recorded()?)
    }

    /// Answer to `RecordOutcome`: recorded durably.
    pub fn answer_outcome_recorded(&self) -> Result<(), ServerError> {
        Ok(crate::lock(&self.inner).answer_outcome_recorded()?)
    }

    /// Refuses `RecordOutcome`: it could not be written.
    pub fn refuse_outcome_record(&self) -> Result<(), ServerError> {
        Ok(crate::lock(&self.inner).refuse_outcome_record()?)
    }
}

/// The FFI form of one core server output.
pub(crate) fn output_from_core(output: capf_core::capf::server::ServerOutput) -> ServerOutput {
    match output {
        Output::Transmit(bytes) => ServerOutput::Transmit { bytes },
        Output::Need(decision) => ServerOutput::Need {
            decision: decision_from_core(decision),
        },
        Output::Done(outcome) => ServerOutput::Done {
            outcome: ServerOutcome::from_core(&outcome),
        },
        other => ServerOutput::Done {
            outcome: ServerOutcome {
                device_name: None,
                result: ServerResult::Other {
                    message: format!("unknown output of the core: {other:?}"),
                },
                end_reason: None,
                authenticated: false,
                recorded: false,
            },
        },
    }
}

pub(crate) fn decision_from_core(decision: core_server::ServerDecision) -> ServerDecision {
    use core_server::ServerDecision as D;
    match decision {
        D::LookUpDevice { device_name } => ServerDecision::LookUpDevice { device_name },
        D::IssueCertificate {
            device_name,
            subject_public_key_info_der,
            key_request,
            ..
        } => ServerDecision::IssueCertificate {
            device_name,
            subject_public_key_info_der,
            key: KeySpec::from_core(key_request).unwrap_or(KeySpec::Rsa { bits: 0 }),
        },
        D::RecordPendingCertificate {
            device_name,
            certificate_der,
        } => ServerDecision::RecordPendingCertificate {
            device_name,
            certificate_der,
        },
        D::RecordOutcome { outcome } => ServerDecision::RecordOutcome {
            outcome: ServerOutcome::from_core(&outcome),
        },
        // Non-exhaustive: a later decision must be named here; until then
        // it is shown as an outcome to record, which the host can refuse.
        other => ServerDecision::RecordOutcome {
            outcome: ServerOutcome {
                device_name: None,
                result: ServerResult::Other {
                    message: format!("unknown decision of the core: {:?}", other.kind()),
                },
                end_reason: None,
                authenticated: false,
                recorded: false,
            },
        },
    }
}

/// An issued LSC with the facts a registry records.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IssuedCertificate {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Serial number, big-endian bytes.
    pub serial: Vec<u8>,
    /// notBefore, milliseconds since the Unix epoch.
    pub not_before_millis: u64,
    /// notAfter, milliseconds since the Unix epoch.
    pub not_after_millis: u64,
}

/// The local CA that issues LSCs (the CAPF certificate and its key).
#[derive(Debug, uniffi::Object)]
pub struct LscIssuer {
    pub(crate) inner: Arc<CoreIssuer>,
}

#[uniffi::export]
impl LscIssuer {
    /// From the issuing certificate and its unencrypted PKCS#8 key, PEM.
    #[uniffi::constructor]
    pub fn from_pem(certificate_pem: String, key_pem: String) -> Result<Arc<Self>, ServerError> {
        let inner = CoreIssuer::from_pem(&certificate_pem, &key_pem)
            .map_err(|error| ServerError::InvalidInput(error.to_string()))?;
        Ok(Arc::new(Self {
            inner: Arc::new(inner),
        }))
    }

    /// The issuing certificate, DER.
    pub fn certificate_der(&self) -> Vec<u8> {
        self.inner.certificate_der().to_vec()
    }

    /// Issues an LSC for `device_name`'s key (DER SubjectPublicKeyInfo),
    /// valid from `now_millis` for `validity_days` (1 to 3650); the serial
    /// comes from the OS random generator.
    pub fn issue(
        &self,
        device_name: String,
        subject_public_key_info_der: Vec<u8>,
        now_millis: u64,
        validity_days: u32,
    ) -> Result<IssuedCertificate, ServerError> {
        let request = LscRequest {
            device_name: &device_name,
            subject_public_key_info_der: &subject_public_key_info_der,
            validity_days,
        };
        let issued = self
            .inner
            .issue(
                &request,
                Timestamp::from_unix_millis(now_millis),
                &mut OsRng,
            )
            .map_err(|error| ServerError::Issuance(error.to_string()))?;
        Ok(IssuedCertificate {
            der: issued.der,
            serial: issued.serial,
            not_before_millis: issued.not_before.unix_millis(),
            not_after_millis: issued.not_after.unix_millis(),
        })
    }
}
