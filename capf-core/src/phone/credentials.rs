//! What the phone authenticates with (spec 9, `capfAuthMode` 1-4) and how
//! it builds the AUTH_RESPONSE body from it.

use core::fmt;

use rand_core::CryptoRngCore;

use super::outcome::LocalFailure;
use crate::proof::{
    ProofHash, ProofKey, ProofKeyKind, ProofPublicKey, sign_certificate_proof, sign_sudi_proof,
};
use crate::wire::{
    AuthResponseFields, CertificateProof, DeviceName, Password, Sha2SignedData, SudiData,
    WrappedCertificate,
};

/// A credential given to [`PhoneConfig`](super::PhoneConfig) is unusable.
/// Never carries the secret itself.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The authentication string is not 4 to 10 ASCII digits.
    #[error("the authentication string must be 4 to 10 digits")]
    BadAuthString,
    /// The device name is empty, longer than 64 bytes, or not printable
    /// ASCII.
    #[error("the device name must be 1 to 64 printable ASCII characters")]
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
    /// use capf_core::phone::AuthString;
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

/// A certificate and the key that proves possession of it.
pub struct CertificateCredential {
    certificate_der: Vec<u8>,
    key: Box<dyn ProofKey + Send>,
}

impl CertificateCredential {
    /// A DER certificate and its private key (in memory as
    /// [`ProofPrivateKey`](crate::proof::ProofPrivateKey), or in a keystore
    /// implementing [`ProofKey`]).
    ///
    /// Checks that the certificate parses, that the key is of the same
    /// kind as the certificate's key, and that an RSA key can carry the
    /// SHA-512 proof.
    pub fn new(
        certificate_der: Vec<u8>,
        key: Box<dyn ProofKey + Send>,
    ) -> Result<Self, CredentialError> {
        let public = ProofPublicKey::from_certificate_der(&certificate_der)
            .map_err(|_| CredentialError::BadCertificate)?;
        if public.kind() != key.kind() {
            return Err(CredentialError::KeyKindMismatch);
        }
        if let ProofKeyKind::Rsa { modulus_bytes } = key.kind()
            && modulus_bytes < 75
        {
            return Err(CredentialError::KeyTooSmall);
        }
        Ok(Self {
            certificate_der,
            key,
        })
    }

    /// The certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }
}

impl fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("certificate_len", &self.certificate_der.len())
            .field("key", &self.key.kind())
            .finish()
    }
}

/// Certificate authentication (capfAuthMode 3/4): the LSC and/or MIC with
/// their keys, the precedence, an optional SUDI identity, and the random
/// source for signing (RSA blinding; RSA proofs do not depend on it).
pub struct CertificateCredentials {
    precedence: CertificatePrecedence,
    lsc: Option<CertificateCredential>,
    mic: Option<CertificateCredential>,
    sudi: Option<CertificateCredential>,
    rng: Box<dyn CryptoRngCore + Send>,
}

impl CertificateCredentials {
    /// No certificate yet; add them with [`with_lsc`](Self::with_lsc),
    /// [`with_mic`](Self::with_mic) and [`with_sudi`](Self::with_sudi).
    pub fn new(precedence: CertificatePrecedence, rng: Box<dyn CryptoRngCore + Send>) -> Self {
        Self {
            precedence,
            lsc: None,
            mic: None,
            sudi: None,
            rng,
        }
    }

    /// The phone's LSC.
    #[must_use]
    pub fn with_lsc(mut self, lsc: CertificateCredential) -> Self {
        self.lsc = Some(lsc);
        self
    }

    /// The phone's MIC.
    #[must_use]
    pub fn with_mic(mut self, mic: CertificateCredential) -> Self {
        self.mic = Some(mic);
        self
    }

    /// The SUDI identity (in practice the MIC), sent as SUDI_DATA. RSA only.
    pub fn with_sudi(mut self, sudi: CertificateCredential) -> Result<Self, CredentialError> {
        if !matches!(sudi.key.kind(), ProofKeyKind::Rsa { .. }) {
            return Err(CredentialError::SudiNotRsa);
        }
        self.sudi = Some(sudi);
        Ok(self)
    }

    /// The certificate that will be sent: the preferred one if present,
    /// else the other.
    pub fn chosen(&self) -> Option<&CertificateCredential> {
        let (first, second) = match self.precedence {
            CertificatePrecedence::LscFirst => (&self.lsc, &self.mic),
            CertificatePrecedence::MicFirst => (&self.mic, &self.lsc),
        };
        first.as_ref().or(second.as_ref())
    }
}

impl fmt::Debug for CertificateCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateCredentials")
            .field("precedence", &self.precedence)
            .field("lsc", &self.lsc)
            .field("mic", &self.mic)
            .field("sudi", &self.sudi)
            .finish_non_exhaustive()
    }
}

/// How the phone authenticates (capfAuthMode; the phone decides, the server
/// only judges).
#[non_exhaustive]
#[derive(Debug)]
pub enum PhoneCredentials {
    /// capfAuthMode 1: an authentication string, sent as PASSWORD.
    AuthString(AuthString),
    /// capfAuthMode 2: the null string (an empty PASSWORD is sent).
    NullString,
    /// capfAuthMode 3/4: an existing certificate and its proofs (an empty
    /// PASSWORD is sent as well, as the reference client does).
    Certificate(CertificateCredentials),
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

    /// The AUTH_RESPONSE fields for this session: PASSWORD, and in
    /// certificate mode the proofs over M1 (and M2 with this session id).
    pub(super) fn auth_response_fields(
        &mut self,
        device_name: &str,
        session_id: u32,
    ) -> Result<AuthResponseFields, LocalFailure> {
        let name = DeviceName::new(device_name.as_bytes());
        match self {
            Self::AuthString(secret) => Ok(AuthResponseFields::new(name, secret.0.clone())),
            Self::NullString => Ok(AuthResponseFields::new(name, Password::empty())),
            Self::Certificate(certificates) => {
                let mut fields = AuthResponseFields::new(name, Password::empty());
                let CertificateCredentials {
                    precedence,
                    lsc,
                    mic,
                    sudi,
                    rng,
                } = certificates;
                let chosen = match precedence {
                    CertificatePrecedence::LscFirst => lsc.as_ref().or(mic.as_ref()),
                    CertificatePrecedence::MicFirst => mic.as_ref().or(lsc.as_ref()),
                }
                .ok_or(LocalFailure::Signing)?;
                let der = &chosen.certificate_der;
                let sign = |hash, rng: &mut dyn CryptoRngCore| {
                    sign_certificate_proof(chosen.key.as_ref(), hash, device_name, der, rng)
                        .map_err(|_| LocalFailure::Signing)
                };
                let sha1 = sign(ProofHash::Sha1, rng.as_mut())?;
                let sha512 = sign(ProofHash::Sha512, rng.as_mut())?;
                fields.certificate_proof = Some(CertificateProof {
                    certificate: WrappedCertificate::lsc(der.clone()),
                    sha1_signature: sha1,
                    sha512_signature: Sha2SignedData::sha512(sha512),
                });
                if let Some(sudi) = sudi {
                    let der = &sudi.certificate_der;
                    let sign = |hash, rng: &mut dyn CryptoRngCore| {
                        sign_sudi_proof(sudi.key.as_ref(), hash, session_id, der, rng)
                            .map_err(|_| LocalFailure::Signing)
                    };
                    let sha1 = sign(ProofHash::Sha1, rng.as_mut())?;
                    let sha512 = sign(ProofHash::Sha512, rng.as_mut())?;
                    fields.sudi = Some(SudiData::new(der.clone(), sha1, sha512));
                }
                Ok(fields)
            }
        }
    }
}
