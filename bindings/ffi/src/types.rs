//! Plain values shared by the phone, the keystore and the server.

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
