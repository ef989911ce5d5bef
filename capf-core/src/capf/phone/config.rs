//! Configuration of one phone session.

use core::time::Duration;

use super::credentials::{CredentialError, PhoneCredentials};
use crate::capf::codec::Version;
use crate::device_name::DeviceName;

/// The element order of AUTH_RESPONSE (spec 8).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuthResponseLayout {
    /// The reference client's order: REASON=1, CERTIFICATE and SIGNED_DATA
    /// (certificate mode), VERSION, PASSWORD (always, empty outside
    /// authentication-string mode), DEVICE_NAME, SUDI_DATA (if configured),
    /// SHA2_SIGNED_DATA (certificate mode).
    #[default]
    Reference,
    /// The order a Cisco Jabber client was seen sending: VERSION,
    /// DEVICE_NAME, REASON=1, then PASSWORD only in authentication-string
    /// mode, then the certificate elements in the reference order
    /// (CERTIFICATE, SIGNED_DATA, SUDI_DATA, SHA2_SIGNED_DATA; no capture
    /// shows where Jabber puts them).
    Jabber,
}

/// Everything a [`PhoneSession`](super::PhoneSession) needs to know before
/// the server speaks.
///
/// ```
/// use capf_core::capf::phone::{AuthString, PhoneConfig, PhoneCredentials};
/// use core::time::Duration;
///
/// let config = PhoneConfig::new(
///     "SEP001122334455",
///     PhoneCredentials::AuthString(AuthString::new("123456").unwrap()),
/// )
/// .unwrap()
/// .with_response_timeout(Duration::from_secs(20));
/// assert_eq!(config.version().0, 3);
/// assert!(PhoneConfig::new("", PhoneCredentials::NullString).is_err());
/// ```
#[derive(Debug)]
pub struct PhoneConfig {
    device_name: String,
    pub(super) credentials: PhoneCredentials,
    version: Version,
    accepted_server_versions: Vec<u8>,
    response_timeout: Duration,
    layout: AuthResponseLayout,
    certificate_request: bool,
    pending_key: Option<Vec<u8>>,
}

impl PhoneConfig {
    /// Default wait for each server frame (not applied while the host is
    /// generating a key or answering another decision).
    pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

    /// A configuration with the defaults: VERSION 3 sent, server versions 3
    /// and 2 accepted, 60-second response timeout, reference element order.
    ///
    /// The device name must follow the one rule of
    /// [`DeviceName`](crate::device_name::DeviceName) (`SEP001122334455`, or
    /// 1-64 letters and digits); certificate credentials must hold an LSC or
    /// a MIC.
    pub fn new(
        device_name: impl Into<String>,
        credentials: PhoneCredentials,
    ) -> Result<Self, CredentialError> {
        let device_name = DeviceName::parse(&device_name.into())
            .map_err(|_| CredentialError::BadDeviceName)?
            .into_string();
        credentials.validate()?;
        Ok(Self {
            device_name,
            credentials,
            version: Version::CURRENT,
            accepted_server_versions: vec![3, 2],
            response_timeout: Self::DEFAULT_RESPONSE_TIMEOUT,
            layout: AuthResponseLayout::Reference,
            certificate_request: false,
            pending_key: None,
        })
    }

    /// The VERSION sent in AUTH_RESPONSE (3 by default; Jabber sends 2).
    #[must_use]
    pub fn with_version(mut self, version: Version) -> Self {
        self.version = version;
        self
    }

    /// The VERSION values accepted in the server's AUTH_REQUEST (3 and 2 by
    /// default; the reference client accepts 3 only). Any other value, or
    /// none, is a protocol error.
    #[must_use]
    pub fn with_accepted_server_versions(mut self, versions: &[u8]) -> Self {
        self.accepted_server_versions = versions.to_vec();
        self
    }

    /// How long to wait for each server frame.
    #[must_use]
    pub fn with_response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// The element order of AUTH_RESPONSE.
    #[must_use]
    pub fn with_auth_response_layout(mut self, layout: AuthResponseLayout) -> Self {
        self.layout = layout;
        self
    }

    /// Whether KEY_GEN_RESPONSE also carries a certificate request signed
    /// by the new key (SIGNED_DATA, our reading: see
    /// [`certificate_request`](crate::capf::certificate_request)); off by
    /// default, as in the recordings. On, the host is asked to sign it
    /// ([`PhoneDecision::SignCertificateRequest`](super::PhoneDecision::SignCertificateRequest)).
    #[must_use]
    pub fn with_certificate_request(mut self, send: bool) -> Self {
        self.certificate_request = send;
        self
    }

    /// The public key (DER SubjectPublicKeyInfo) of a key this phone
    /// generated at an earlier session and keeps pending, because the
    /// server's offline CA had not signed it yet (our reading; see
    /// [`PhoneOutcome::CertificatePending`](super::PhoneOutcome::CertificatePending)).
    /// With it, a STORE_CERT_REQUEST that comes right after authentication
    /// (no KEY_GEN_REQUEST in this session) is accepted, and stored only
    /// when the certificate carries exactly this key; otherwise the phone
    /// answers STORE_CERT_RESPONSE 7. Without it such a request is a
    /// protocol error, as before.
    #[must_use]
    pub fn with_pending_key(mut self, spki_der: Vec<u8>) -> Self {
        self.pending_key = Some(spki_der);
        self
    }

    /// The pending key, if any.
    pub fn pending_key(&self) -> Option<&[u8]> {
        self.pending_key.as_deref()
    }

    /// Whether a certificate request goes with the new key.
    pub const fn sends_certificate_request(&self) -> bool {
        self.certificate_request
    }

    /// The device name.
    pub fn device_name(&self) -> &str {
        &self.device_name
    }

    /// The VERSION sent.
    pub const fn version(&self) -> Version {
        self.version
    }

    /// The server versions accepted.
    pub fn accepted_server_versions(&self) -> &[u8] {
        &self.accepted_server_versions
    }

    /// The response timeout.
    pub const fn response_timeout(&self) -> Duration {
        self.response_timeout
    }

    /// The AUTH_RESPONSE element order.
    pub const fn auth_response_layout(&self) -> AuthResponseLayout {
        self.layout
    }
}
