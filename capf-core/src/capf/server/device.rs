//! The server's record of one device (spec 11 and Appendix B), as the host
//! hands it to a session in answer to
//! [`ServerDecision::LookUpDevice`](super::ServerDecision::LookUpDevice).

use crate::capf::key_request::KeyRequest;
use crate::trust::Revocations;

use super::auth_string::AuthStringHash;

/// The operation an administrator scheduled for a device.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// No pending operation: the session ends with END_SESSION 0.
    None,
    /// Install or upgrade an LSC of this key type.
    Install(KeyRequest),
    /// Fetch ("troubleshoot") the phone's LSC.
    Fetch,
    /// Delete the phone's LSC.
    Delete,
}

/// Which certificate the administrator asked the phone to prefer in
/// certificate mode (Cisco: "By Existing Certificate (Precedence to LSC / to
/// MIC)", `capfAuthMode` 3 and 4).
///
/// The preference is the phone's business (it decides what to send); the
/// server accepts either certificate in either mode, as the spec (9.6)
/// says, and reports which one it got.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertificatePreference {
    /// Precedence to the LSC (mode 3).
    Lsc,
    /// Precedence to the MIC (mode 4).
    Mic,
}

/// How the device must authenticate (spec 9).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// By authentication string (mode 1); the host stores only its hash.
    AuthString(AuthStringHash),
    /// By null string (mode 2): no check at all.
    NullString,
    /// By existing certificate, LSC or MIC (modes 3 and 4).
    ExistingCertificate {
        /// What the administrator told the phone to prefer.
        prefer: CertificatePreference,
    },
}

/// The server's record of one device.
///
/// `Debug` never shows an authentication string or its hash
/// ([`AuthStringHash`] is redacted).
///
/// ```
/// use capf_core::capf::key_request::KeyRequest;
/// use capf_core::capf::server::{AuthMode, DeviceRecord, Operation};
/// let record = DeviceRecord::new(
///     "SEP001122334455",
///     Operation::Install(KeyRequest::Rsa { bits: 2048 }),
///     AuthMode::NullString,
/// );
/// assert_eq!(record.failed_attempts, 0);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    /// The device name (e.g. `SEP001122334455`); must equal the name the
    /// phone sent.
    pub device_name: String,
    /// The scheduled operation.
    pub operation: Operation,
    /// How the device must authenticate.
    pub authentication: AuthMode,
    /// Authentication failures counted so far by the host. A record at or
    /// above [`ServerConfig::max_failed_attempts`](super::ServerConfig::max_failed_attempts)
    /// is refused without looking at its credentials.
    pub failed_attempts: u32,
    /// Revocation data about this device's own certificates (the host's
    /// certificate ledger: an LSC revoked there), applied to certificate
    /// authentication on top of
    /// [`CertificatePolicy::revocations`](super::CertificatePolicy::revocations).
    /// Empty by default.
    pub revocations: Revocations,
    /// An install whose certificate is ready (our offline-CA reading: an
    /// administrator imported the certificate an offline CA signed for the
    /// key the phone sent at an earlier session): the session sends it in
    /// STORE_CERT_REQUEST right after authentication, without
    /// KEY_GEN_REQUEST; the phone stores it only if it carries the key it
    /// keeps pending. DER; the host has recorded it in its ledger already.
    pub ready_certificate: Option<Vec<u8>>,
}

impl DeviceRecord {
    /// A record with no failed attempts.
    pub fn new(
        device_name: impl Into<String>,
        operation: Operation,
        authentication: AuthMode,
    ) -> Self {
        Self {
            device_name: device_name.into(),
            operation,
            authentication,
            failed_attempts: 0,
            revocations: Revocations::new(),
            ready_certificate: None,
        }
    }

    /// The same record with `revocations` added to its revocation data.
    pub fn with_revocations(mut self, revocations: &Revocations) -> Self {
        self.revocations.extend(revocations);
        self
    }

    /// The same record with a ready certificate (DER) to send without
    /// KEY_GEN_REQUEST ([`ready_certificate`](Self::ready_certificate)).
    pub fn with_ready_certificate(mut self, certificate_der: Vec<u8>) -> Self {
        self.ready_certificate = Some(certificate_der);
        self
    }

    /// The same record with `failed_attempts` set.
    pub fn with_failed_attempts(mut self, failed_attempts: u32) -> Self {
        self.failed_attempts = failed_attempts;
        self
    }
}
