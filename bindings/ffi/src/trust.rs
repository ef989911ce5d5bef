//! Trust evaluation with its explanation (`capf_core::trust`): is this
//! certificate trusted for this purpose, through which anchor, and if not,
//! why not and how to fix it.

use std::sync::Arc;

use capf_core::time::Timestamp;
use capf_core::trust as core_trust;

use crate::files::{TrustList, TrustRole};

/// Errors of the trust API (a store that cannot be built).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum TrustError {
    /// The store's source does not hold usable certificates.
    #[error("invalid trust store: {0}")]
    InvalidStore(String),
}

/// What a trust store holds, as a phone or server knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum StoreKind {
    /// The phone's CTL (pinned certificates with roles).
    Ctl,
    /// The phone's ITL.
    Itl,
    /// The server's CAPF-trust store.
    CapfTrust,
    /// The server's CallManager-trust store.
    CallManagerTrust,
    /// The phone-SAST-trust store.
    PhoneSastTrust,
    /// Manufacturing roots (MIC issuers).
    ManufacturingRoots,
    /// Enterprise roots.
    EnterpriseRoots,
    /// A PEM bundle of anchors.
    PemBundle,
}

impl StoreKind {
    fn to_core(self) -> core_trust::StoreKind {
        use core_trust::StoreKind as K;
        match self {
            Self::Ctl => K::Ctl,
            Self::Itl => K::Itl,
            Self::CapfTrust => K::CapfTrust,
            Self::CallManagerTrust => K::CallManagerTrust,
            Self::PhoneSastTrust => K::PhoneSastTrust,
            Self::ManufacturingRoots => K::ManufacturingRoots,
            Self::EnterpriseRoots => K::EnterpriseRoots,
            Self::PemBundle => K::PemBundle,
        }
    }
}

/// The server role a TLS server certificate is judged for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ServerRole {
    /// Unified CM (SIP/SCCP over TLS).
    CallManager,
    /// TFTP.
    Tftp,
    /// CAPF (TCP 3804).
    Capf,
    /// TVS (TCP 2445).
    Tvs,
    /// An application server.
    ApplicationServer,
}

/// The kind of signed file a signer certificate is judged for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SignedFileKind {
    /// Configuration files (`.sgn`, `.enc.sgn`).
    ConfigFile,
    /// CTL/ITL files.
    TrustList,
}

/// The certificate a phone authenticates with to CAPF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CapfCredential {
    /// Manufacturer-installed certificate.
    Mic,
    /// Locally significant certificate.
    Lsc,
}

/// What a certificate is trusted for.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum TrustPurpose {
    /// A TLS server of this role, optionally at `host`.
    TlsServer {
        /// The role.
        role: ServerRole,
        /// The host name or address connected to.
        host: Option<String>,
    },
    /// The phone's own web server (the browser's question).
    PhoneWebServer {
        /// The host name or address.
        host: Option<String>,
    },
    /// A TLS client (a phone).
    TlsClient {
        /// The device name.
        device: Option<String>,
    },
    /// The signer of a file of this kind.
    FileSigner {
        /// The kind of file.
        file: SignedFileKind,
    },
    /// A phone's certificate for CAPF authentication.
    CapfAuthentication {
        /// LSC or MIC.
        credential: CapfCredential,
        /// The device name.
        device: Option<String>,
    },
}

impl TrustPurpose {
    fn to_core(&self) -> core_trust::Purpose {
        use core_trust::Purpose as P;
        match self {
            Self::TlsServer { role, host } => P::TlsServer {
                role: match role {
                    ServerRole::CallManager => core_trust::ServerRole::CallManager,
                    ServerRole::Tftp => core_trust::ServerRole::Tftp,
                    ServerRole::Capf => core_trust::ServerRole::Capf,
                    ServerRole::Tvs => core_trust::ServerRole::Tvs,
                    ServerRole::ApplicationServer => core_trust::ServerRole::ApplicationServer,
                },
                host: host.clone(),
            },
            Self::PhoneWebServer { host } => P::PhoneWebServer { host: host.clone() },
            Self::TlsClient { device } => P::TlsClient {
                device: device.clone(),
            },
            Self::FileSigner { file } => P::FileSigner {
                file: match file {
                    SignedFileKind::ConfigFile => core_trust::SignedFileKind::ConfigFile,
                    SignedFileKind::TrustList => core_trust::SignedFileKind::TrustList,
                },
            },
            Self::CapfAuthentication { credential, device } => P::CapfAuthentication {
                credential: match credential {
                    CapfCredential::Mic => core_trust::CapfCredential::Mic,
                    CapfCredential::Lsc => core_trust::CapfCredential::Lsc,
                },
                device: device.clone(),
            },
        }
    }
}

/// A set of trust anchors or pinned certificates.
#[derive(Debug, uniffi::Object)]
pub struct TrustStore {
    inner: core_trust::TrustStore,
}

#[uniffi::export]
impl TrustStore {
    /// The store of a parsed CTL or ITL (`kind` Ctl or Itl), named `name`.
    /// The list's signature is not checked here: verify it first.
    #[uniffi::constructor]
    pub fn from_trust_list(
        kind: StoreKind,
        name: String,
        list: Arc<TrustList>,
    ) -> Result<Arc<Self>, TrustError> {
        let view = list
            .owned()
            .view()
            .map_err(|error| TrustError::InvalidStore(error.to_string()))?;
        let inner = core_trust::TrustStore::from_trust_list(kind.to_core(), name, &view)
            .map_err(|error| TrustError::InvalidStore(error.to_string()))?;
        Ok(Arc::new(Self { inner }))
    }

    /// A store read from a file's bytes as the CLI reads it: a CTL/ITL for
    /// those kinds, PEM or DER certificates otherwise.
    #[uniffi::constructor]
    pub fn from_file_bytes(
        kind: StoreKind,
        name: String,
        bytes: Vec<u8>,
    ) -> Result<Arc<Self>, TrustError> {
        let inner = core_trust::TrustStore::from_file_bytes(kind.to_core(), name, &bytes)
            .map_err(|error| TrustError::InvalidStore(error.to_string()))?;
        Ok(Arc::new(Self { inner }))
    }
}

/// One certificate of the path the evaluator built.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChainLink {
    /// Subject, certutils style.
    pub subject: String,
    /// Issuer, certutils style.
    pub issuer: String,
    /// Serial, hex.
    pub serial: String,
    /// SHA-256 fingerprint.
    pub sha256: Vec<u8>,
    /// notBefore, Unix seconds.
    pub not_before: u64,
    /// notAfter, Unix seconds.
    pub not_after: u64,
}

/// Why a certificate is not trusted, and what would fix it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TrustFailure {
    /// The reason's short name.
    pub reason: String,
    /// What exactly is wrong.
    pub detail: String,
    /// What to do about it.
    pub fix: String,
}

/// The evaluator's answer, with its explanation.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TrustVerdict {
    /// Whether the certificate is trusted for the purpose.
    pub trusted: bool,
    /// The anchor's subject, when trusted.
    pub anchor_subject: Option<String>,
    /// The anchor's store ("ctl CTLFile.tlv" …).
    pub anchor_store: Option<String>,
    /// Whether the anchor is a pinned certificate (CTL/ITL) rather than a CA.
    pub pinned: bool,
    /// The roles the anchor's record grants.
    pub roles: Vec<TrustRole>,
    /// The path, leaf first.
    pub chain: Vec<ChainLink>,
    /// Why not, when not trusted.
    pub failure: Option<TrustFailure>,
    /// Notes (expired pins, relaxed checks …).
    pub notes: Vec<String>,
    /// The whole verdict as text, for people.
    pub explanation: String,
}

/// Evaluates `chain` (DER, leaf first, then any intermediates) for
/// `purpose` against `stores` at `now_millis`, with the core's default
/// (strict) options. Bad certificates are a verdict, not an error.
#[uniffi::export]
pub fn evaluate_trust(
    chain: Vec<Vec<u8>>,
    purpose: TrustPurpose,
    stores: Vec<Arc<TrustStore>>,
    now_millis: u64,
) -> TrustVerdict {
    let stores: Vec<core_trust::TrustStore> =
        stores.iter().map(|store| store.inner.clone()).collect();
    let verdict = core_trust::evaluate(
        &chain,
        &purpose.to_core(),
        &stores,
        Timestamp::from_unix_millis(now_millis),
    );
    TrustVerdict {
        trusted: verdict.trusted,
        anchor_subject: verdict.anchor.as_ref().map(|a| a.subject.clone()),
        anchor_store: verdict.anchor.as_ref().map(|a| a.store.to_string()),
        pinned: verdict.anchor.as_ref().is_some_and(|a| a.pinned),
        roles: verdict
            .roles
            .iter()
            .map(|role| TrustRole::from_core(*role))
            .collect(),
        chain: verdict
            .chain
            .iter()
            .map(|link| ChainLink {
                subject: link.subject.clone(),
                issuer: link.issuer.clone(),
                serial: link.serial.clone(),
                sha256: link.sha256.to_vec(),
                not_before: link.not_before,
                not_after: link.not_after,
            })
            .collect(),
        failure: verdict.failure.as_ref().map(|failure| TrustFailure {
            reason: failure.reason.to_string(),
            detail: failure.detail.clone(),
            fix: failure.fix.clone(),
        }),
        notes: verdict.notes.clone(),
        explanation: verdict.to_string(),
    }
}
