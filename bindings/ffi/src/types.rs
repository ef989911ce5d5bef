//! Plain values shared by the phone, the keystore and the server.

use capf_core::capf::certificate_request::CertificateRequestAlgorithm as CoreRequestAlgorithm;
use capf_core::capf::codec::Curve;
use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::phone as core_phone;
use capf_core::capf::proof as core_proof;

/// A named elliptic curve CAPF can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum EcCurve {
    /// NIST P-256 (secp256r1): the only curve the iOS Secure Enclave holds.
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// NIST P-521 (secp521r1).
    P521,
}

/// The kind of key a server asks the phone to generate (KEY_GEN_REQUEST).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum KeySpec {
    /// RSA with a modulus of `bits` (512, 1024, 2048, 3072 or 4096).
    Rsa {
        /// Modulus size in bits.
        bits: u16,
    },
    /// EC on a named curve.
    Ec {
        /// The curve.
        curve: EcCurve,
    },
}

impl KeySpec {
    /// The core's form; `None` for parameters CAPF cannot ask for.
    pub(crate) fn to_core(self) -> Option<KeyRequest> {
        let request = match self {
            Self::Rsa { bits } => KeyRequest::Rsa { bits },
            Self::Ec { curve } => KeyRequest::Ec(match curve {
                EcCurve::P256 => Curve::P256,
                EcCurve::P384 => Curve::P384,
                EcCurve::P521 => Curve::P521,
            }),
        };
        request.is_valid().then_some(request)
    }

    /// From the core's form; `None` for a curve this crate does not name.
    pub(crate) fn from_core(request: KeyRequest) -> Option<Self> {
        match request {
            KeyRequest::Rsa { bits } => Some(Self::Rsa { bits }),
            KeyRequest::Ec(Curve::P256) => Some(Self::Ec {
                curve: EcCurve::P256,
            }),
            KeyRequest::Ec(Curve::P384) => Some(Self::Ec {
                curve: EcCurve::P384,
            }),
            KeyRequest::Ec(Curve::P521) => Some(Self::Ec {
                curve: EcCurve::P521,
            }),
            _ => None,
        }
    }
}

/// Which of the phone's credentials signs a proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ProofCredential {
    /// The LSC's key.
    Lsc,
    /// The MIC's key.
    Mic,
    /// The SUDI key (RSA only).
    Sudi,
}

impl ProofCredential {
    pub(crate) fn from_core(credential: core_phone::ProofCredential) -> Self {
        match credential {
            core_phone::ProofCredential::Mic => Self::Mic,
            core_phone::ProofCredential::Sudi => Self::Sudi,
            _ => Self::Lsc,
        }
    }
}

/// The digest a proof is made over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ProofHash {
    /// SHA-1 (20 bytes): SIGNED_DATA and SUDI block 2.
    Sha1,
    /// SHA-512 (64 bytes): SHA2_SIGNED_DATA and SUDI block 3.
    Sha512,
}

impl ProofHash {
    pub(crate) fn from_core(hash: core_proof::ProofHash) -> Self {
        match hash {
            core_proof::ProofHash::Sha1 => Self::Sha1,
            _ => Self::Sha512,
        }
    }

    pub(crate) fn to_core(self) -> core_proof::ProofHash {
        match self {
            Self::Sha1 => core_proof::ProofHash::Sha1,
            Self::Sha512 => core_proof::ProofHash::Sha512,
        }
    }
}

/// How a phone-signed certificate request (PKCS#10) is signed: a standard
/// X.509 signature of the `CertificationRequestInfo` DER. The session
/// picks it from the new key (`capf_core::capf::certificate_request`):
/// SHA-256 with RSA; for EC the curve's own hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum CertificateRequestAlgorithm {
    /// `sha256WithRSAEncryption`: RSA PKCS#1 v1.5 over SHA-256 **with**
    /// the DigestInfo (Java `SHA256withRSA`).
    RsaSha256,
    /// `sha384WithRSAEncryption` (Java `SHA384withRSA`).
    RsaSha384,
    /// `sha512WithRSAEncryption` (Java `SHA512withRSA`).
    RsaSha512,
    /// `ecdsa-with-SHA256`, DER `SEQUENCE { r, s }` (Java
    /// `SHA256withECDSA`; a P-256 key).
    EcdsaSha256,
    /// `ecdsa-with-SHA384` (Java `SHA384withECDSA`; a P-384 key).
    EcdsaSha384,
    /// `ecdsa-with-SHA512` (Java `SHA512withECDSA`; a P-521 key).
    EcdsaSha512,
}

impl CertificateRequestAlgorithm {
    /// From the core's form; `None` for an algorithm this crate does not
    /// name (the core offers only these six).
    pub(crate) fn from_core(algorithm: CoreRequestAlgorithm) -> Option<Self> {
        Some(match algorithm {
            CoreRequestAlgorithm::RsaSha256 => Self::RsaSha256,
            CoreRequestAlgorithm::RsaSha384 => Self::RsaSha384,
            CoreRequestAlgorithm::RsaSha512 => Self::RsaSha512,
            CoreRequestAlgorithm::EcdsaSha256 => Self::EcdsaSha256,
            CoreRequestAlgorithm::EcdsaSha384 => Self::EcdsaSha384,
            CoreRequestAlgorithm::EcdsaSha512 => Self::EcdsaSha512,
            _ => return None,
        })
    }

    /// The core's form.
    pub(crate) fn to_core(self) -> CoreRequestAlgorithm {
        match self {
            Self::RsaSha256 => CoreRequestAlgorithm::RsaSha256,
            Self::RsaSha384 => CoreRequestAlgorithm::RsaSha384,
            Self::RsaSha512 => CoreRequestAlgorithm::RsaSha512,
            Self::EcdsaSha256 => CoreRequestAlgorithm::EcdsaSha256,
            Self::EcdsaSha384 => CoreRequestAlgorithm::EcdsaSha384,
            Self::EcdsaSha512 => CoreRequestAlgorithm::EcdsaSha512,
        }
    }
}
