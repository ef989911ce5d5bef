//! What the phone authenticates with (spec 9, `capfAuthMode` 1-4) and the
//! proofs it must have signed for certificate authentication (the
//! in-memory signer that signs them is [`SoftwareSigner`](super::SoftwareSigner)).

use core::fmt;

use crate::capf::codec::{AuthResponseFields, Password, WireDeviceName};
use crate::capf::proof::{
    ProofHash, ProofKeyKind, ProofPublicKey, signed_data_message, sudi_message,
};

/// A credential given to [`PhoneConfig`](super::PhoneConfig) is unusable.
/// Never carries the secret itself.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The authentication string is not 4 to 10 ASCII digits.
    #[error("the authentication string must be 4 to 10 digits")]
    BadAuthString,
    /// The device name breaks the one rule of
    /// [`DeviceName`](crate::device_name::DeviceName).
    #[error(
        "the device name must be SEP + 12 upper-case hex digits, or 1 to 64 letters and digits"
    )]
    BadDeviceName,
    /// A certificate is not DER X.509 with an RSA or EC (P-256/384/521) key.
    #[error("the certificate does not parse or has an unsupported key")]
    BadCertificate,
    /// The private key is not of the same kind (algorithm, size, curve) as
    /// the certificate's public key.
    #[error("the private key does not match the certificate's key type")]
    KeyKindMismatch,
    /// An RSA key too short for the SHA-512 proof (fewer than 600 bits).
    #[error("the RSA key is too short for the SHA-512 proof (600 bits at least)")]
    KeyTooSmall,
    /// The SUDI key is not RSA (only RSA SUDI proofs are defined).
    #[error("the SUDI key must be RSA")]
    SudiNotRsa,
    /// Certificate mode without an LSC and without a MIC.
    #[error("certificate authentication needs an LSC or a MIC")]
    NoCertificate,
}

/// An authentication string (capfAuthMode 1): 4 to 10 ASCII digits, as
/// Cisco defines it. `Debug` never shows it; the bytes are wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthString(Password);

impl AuthString {
    /// Validates and wraps the digits the user typed.
    ///
    /// ```
    /// use capf_core::capf::phone::AuthString;
    /// assert!(AuthString::new("123456").is_ok());
    /// assert!(AuthString::new("123").is_err());
    /// assert!(AuthString::new("12345678901").is_err());
    /// assert!(AuthString::new("12a456").is_err());
    /// assert_eq!(format!("{:?}", AuthString::new("123456").unwrap()), "AuthString(<redacted>)");
    /// ```
    pub fn new(digits: &str) -> Result<Self, CredentialError> {
        let valid = (4..=10).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
        if valid {
            Ok(Self(Password::new(digits.as_bytes())))
        } else {
            Err(CredentialError::BadAuthString)
        }
    }
}

impl fmt::Debug for AuthString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthString(<redacted>)")
    }
}

/// Which existing certificate to authenticate with first (capfAuthMode 3
/// or 4). Either falls back to the other certificate when the preferred one
/// is absent.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CertificatePrecedence {
    /// capfAuthMode 3: the LSC if the phone has one, else the MIC.
    #[default]
    LscFirst,
    /// capfAuthMode 4: the MIC if the phone has one, else the LSC.
    MicFirst,
}

/// Which of the phone's credentials signs a proof.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProofCredential {
    /// The LSC's key (SIGNED_DATA / SHA2_SIGNED_DATA when the LSC is sent).
    Lsc,
    /// The MIC's key (SIGNED_DATA / SHA2_SIGNED_DATA when the MIC is sent).
    Mic,
    /// The SUDI key (the two SUDI_DATA signatures; RSA only).
    Sudi,
}

/// Certificate authentication (capfAuthMode 3/4): the LSC and/or MIC
/// certificates, the precedence, and an optional SUDI certificate.
///
/// Certificates only: the private keys stay with the host, which signs each
/// proof when the session asks
/// ([`PhoneDecision::SignProof`](super::PhoneDecision::SignProof)), from a
/// platform keystore or with the in-memory
/// [`SoftwareSigner`](super::SoftwareSigner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateCredentials {
    precedence: CertificatePrecedence,
    lsc: Option<Vec<u8>>,
    mic: Option<Vec<u8>>,
    sudi: Option<Vec<u8>>,
}

impl CertificateCredentials {
    /// No certificate yet; add them with [`with_lsc`](Self::with_lsc),
    /// [`with_mic`](Self::with_mic) and [`with_sudi`](Self::with_sudi).
    pub fn new(precedence: CertificatePrecedence) -> Self {
        Self {
            precedence,
            lsc: None,
            mic: None,
            sudi: None,
        }
    }

    /// The phone's LSC, DER. It must parse, with an RSA (600 bits at least,
    /// for the SHA-512 proof) or P-256/384/521 key.
    pub fn with_lsc(mut self, certificate_der: Vec<u8>) -> Result<Self, CredentialError> {
        check_proof_certificate(&certificate_der)?;
        self.lsc = Some(certificate_der);
        Ok(self)
    }

    /// The phone's MIC, DER (same checks as [`with_lsc`](Self::with_lsc)).
    pub fn with_mic(mut self, certificate_der: Vec<u8>) -> Result<Self, CredentialError> {
        check_proof_certificate(&certificate_der)?;
        self.mic = Some(certificate_der);
        Ok(self)
    }

    /// The SUDI certificate (in practice the MIC), sent in SUDI_DATA. RSA
    /// only.
    pub fn with_sudi(mut self, certificate_der: Vec<u8>) -> Result<Self, CredentialError> {
        let kind = check_proof_certificate(&certificate_der)?;
        if !matches!(kind, ProofKeyKind::Rsa { .. }) {
            return Err(CredentialError::SudiNotRsa);
        }
        self.sudi = Some(certificate_der);
        Ok(self)
    }

    /// The certificate that will be sent, and which one it is: the
    /// preferred one if present, else the other.
    pub fn chosen(&self) -> Option<(ProofCredential, &[u8])> {
        let lsc = self.lsc.as_deref().map(|der| (ProofCredential::Lsc, der));
        let mic = self.mic.as_deref().map(|der| (ProofCredential::Mic, der));
        match self.precedence {
            CertificatePrecedence::LscFirst => lsc.or(mic),
            CertificatePrecedence::MicFirst => mic.or(lsc),
        }
    }

    /// The SUDI certificate, if any.
    pub fn sudi(&self) -> Option<&[u8]> {
        self.sudi.as_deref()
    }
}

/// Checks a certificate that will carry proofs; returns its key kind.
fn check_proof_certificate(certificate_der: &[u8]) -> Result<ProofKeyKind, CredentialError> {
    let kind = ProofPublicKey::from_certificate_der(certificate_der)
        .map_err(|_| CredentialError::BadCertificate)?
        .kind();
    if let ProofKeyKind::Rsa { modulus_bytes } = kind
        && modulus_bytes < 75
    {
        return Err(CredentialError::KeyTooSmall);
    }
    Ok(kind)
}

/// How the phone authenticates (capfAuthMode; the phone decides, the server
/// only judges).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneCredentials {
    /// capfAuthMode 1: an authentication string, sent as PASSWORD.
    AuthString(AuthString),
    /// capfAuthMode 2: the null string (an empty PASSWORD is sent).
    NullString,
    /// capfAuthMode 3/4: an existing certificate and its proofs (an empty
    /// PASSWORD is sent as well, as the reference client does).
    Certificate(CertificateCredentials),
}

/// One proof the phone needs signed for its AUTH_RESPONSE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ProofJob {
    pub(super) credential: ProofCredential,
    pub(super) hash: ProofHash,
    pub(super) certificate_der: Vec<u8>,
    pub(super) message: Vec<u8>,
}

impl PhoneCredentials {
    pub(super) fn validate(&self) -> Result<(), CredentialError> {
        match self {
            Self::Certificate(certificates) if certificates.chosen().is_none() => {
                Err(CredentialError::NoCertificate)
            }
            _ => Ok(()),
        }
    }

    /// The AUTH_RESPONSE fields for this session without proofs, and the
    /// proofs to have signed, in this order: SIGNED_DATA (SHA-1 over M1),
    /// SHA2_SIGNED_DATA (SHA-512 over M1), then with a SUDI the SUDI_DATA
    /// signatures (SHA-1, SHA-512 over M2 with this session id).
    pub(super) fn auth_plan(
        &self,
        device_name: &str,
        session_id: u32,
    ) -> (AuthResponseFields, Vec<ProofJob>) {
        let name = WireDeviceName::new(device_name.as_bytes());
        match self {
            Self::AuthString(secret) => (AuthResponseFields::new(name, secret.0.clone()), vec![]),
            Self::NullString => (AuthResponseFields::new(name, Password::empty()), vec![]),
            Self::Certificate(certificates) => {
                let fields = AuthResponseFields::new(name, Password::empty());
                let mut jobs = Vec::with_capacity(4);
                if let Some((credential, der)) = certificates.chosen() {
                    let message = signed_data_message(device_name, der);
                    for hash in [ProofHash::Sha1, ProofHash::Sha512] {
                        jobs.push(ProofJob {
                            credential,
                            hash,
                            certificate_der: der.to_vec(),
                            message: message.clone(),
                        });
                    }
                }
                if let Some(der) = certificates.sudi() {
                    let message = sudi_message(session_id, der);
                    for hash in [ProofHash::Sha1, ProofHash::Sha512] {
                        jobs.push(ProofJob {
                            credential: ProofCredential::Sudi,
                            hash,
                            certificate_der: der.to_vec(),
                            message: message.clone(),
                        });
                    }
                }
                (fields, jobs)
            }
        }
    }
}
