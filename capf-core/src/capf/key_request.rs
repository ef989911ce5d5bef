//! What kind of key the server asks the phone to generate (KEY_GEN_REQUEST).

use crate::capf::codec::Curve;
use core::fmt;
use core::str::FromStr;

/// The key a phone is asked to generate for its LSC.
///
/// ```
/// use capf_core::capf::key_request::KeyRequest;
/// let key: KeyRequest = "ec:p256".parse().unwrap();
/// assert_eq!(key.to_string(), "ec:p256");
/// assert_eq!("rsa:2048".parse::<KeyRequest>().unwrap(), KeyRequest::Rsa { bits: 2048 });
/// assert!("rsa:1000".parse::<KeyRequest>().is_err());
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyRequest {
    /// RSA with a modulus of `bits` (512, 1024, 2048, 3072 or 4096).
    Rsa {
        /// Modulus size in bits.
        bits: u16,
    },
    /// EC on a named curve (P-256, P-384, P-521).
    Ec(Curve),
}

impl KeyRequest {
    /// RSA sizes CAPF allows (spec 7.7).
    pub const RSA_SIZES: [u16; 5] = [512, 1024, 2048, 3072, 4096];

    /// Whether the parameters are ones CAPF can ask for.
    pub fn is_valid(self) -> bool {
        match self {
            Self::Rsa { bits } => Self::RSA_SIZES.contains(&bits),
            Self::Ec(curve) => matches!(curve, Curve::P256 | Curve::P384 | Curve::P521),
        }
    }
}

impl Default for KeyRequest {
    fn default() -> Self {
        Self::Rsa { bits: 2048 }
    }
}

impl fmt::Display for KeyRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa { bits } => write!(f, "rsa:{bits}"),
            Self::Ec(Curve::P256) => f.write_str("ec:p256"),
            Self::Ec(Curve::P384) => f.write_str("ec:p384"),
            Self::Ec(Curve::P521) => f.write_str("ec:p521"),
            Self::Ec(other) => write!(f, "ec:{}", other.code()),
        }
    }
}

/// Why a key description did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown key type {0:?}: expected rsa:512|1024|2048|3072|4096 or ec:p256|p384|p521")]
pub struct KeyRequestParseError(pub String);

impl FromStr for KeyRequest {
    type Err = KeyRequestParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lower = text.trim().to_ascii_lowercase();
        let parsed = match lower.split_once(':') {
            Some(("rsa", bits)) => bits.parse().ok().map(|bits| Self::Rsa { bits }),
            Some(("ec", "p256" | "p-256" | "secp256r1")) => Some(Self::Ec(Curve::P256)),
            Some(("ec", "p384" | "p-384" | "secp384r1")) => Some(Self::Ec(Curve::P384)),
            Some(("ec", "p521" | "p-521" | "secp521r1")) => Some(Self::Ec(Curve::P521)),
            _ => None,
        };
        parsed
            .filter(|key| key.is_valid())
            .ok_or_else(|| KeyRequestParseError(text.to_owned()))
    }
}
