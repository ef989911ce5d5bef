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
    /// Unified CM's "EC Preferred, RSA Backup": the server asks for an EC
    /// key on `curve` first and, when the phone refuses that request
    /// (KEY_GEN_RESPONSE without PUBLIC_KEY), asks for RSA with `rsa_bits`
    /// in the same session, once. Only a server schedules this; the wire
    /// carries one of the two requests (`ec:p256+rsa:2048`).
    EcPreferred {
        /// The curve asked for first.
        curve: Curve,
        /// The RSA modulus size asked for after a refusal.
        rsa_bits: u16,
    },
}

/// The key order of a scheduled install, as Unified CM offers it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyOrder {
    /// "RSA Only".
    RsaOnly,
    /// "EC Only".
    EcOnly,
    /// "EC Preferred, RSA Backup".
    EcPreferred,
}

impl KeyOrder {
    /// Unified CM's words ("EC Preferred, RSA Backup").
    pub const fn words(self) -> &'static str {
        match self {
            Self::RsaOnly => "RSA Only",
            Self::EcOnly => "EC Only",
            Self::EcPreferred => "EC Preferred, RSA Backup",
        }
    }

    /// The stable name the CLI takes (`rsa-only`, `ec-only`, `ec-preferred`).
    pub const fn slug(self) -> &'static str {
        match self {
            Self::RsaOnly => "rsa-only",
            Self::EcOnly => "ec-only",
            Self::EcPreferred => "ec-preferred",
        }
    }

    /// The key request of this order from the RSA size and EC curve the
    /// device is configured with (Unified CM's "RSA Key Size" and "EC Key
    /// Size" fields).
    pub const fn request(self, rsa_bits: u16, curve: Curve) -> KeyRequest {
        match self {
            Self::RsaOnly => KeyRequest::Rsa { bits: rsa_bits },
            Self::EcOnly => KeyRequest::Ec(curve),
            Self::EcPreferred => KeyRequest::EcPreferred { curve, rsa_bits },
        }
    }
}

impl FromStr for KeyOrder {
    type Err = KeyRequestParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "rsa-only" => Ok(Self::RsaOnly),
            "ec-only" => Ok(Self::EcOnly),
            "ec-preferred" => Ok(Self::EcPreferred),
            _ => Err(KeyRequestParseError(text.to_owned())),
        }
    }
}

impl KeyRequest {
    /// RSA sizes CAPF allows (spec 7.7).
    pub const RSA_SIZES: [u16; 5] = [512, 1024, 2048, 3072, 4096];

    /// Whether the parameters are ones CAPF can ask for.
    pub fn is_valid(self) -> bool {
        match self {
            Self::Rsa { bits } => Self::RSA_SIZES.contains(&bits),
            Self::Ec(curve) => matches!(curve, Curve::P256 | Curve::P384 | Curve::P521),
            Self::EcPreferred { curve, rsa_bits } => {
                Self::Ec(curve).is_valid() && Self::Rsa { bits: rsa_bits }.is_valid()
            }
        }
    }

    /// The key order this request stands for.
    pub const fn order(self) -> KeyOrder {
        match self {
            Self::Rsa { .. } => KeyOrder::RsaOnly,
            Self::Ec(_) => KeyOrder::EcOnly,
            Self::EcPreferred { .. } => KeyOrder::EcPreferred,
        }
    }

    /// The request the server sends first (KEY_GEN_REQUEST): the EC one of
    /// an EC-preferred order, else the request itself.
    pub const fn first(self) -> Self {
        match self {
            Self::EcPreferred { curve, .. } => Self::Ec(curve),
            other => other,
        }
    }

    /// The request the server sends when the phone refuses the first one:
    /// RSA for an EC-preferred order, none otherwise.
    pub const fn fallback(self) -> Option<Self> {
        match self {
            Self::EcPreferred { rsa_bits, .. } => Some(Self::Rsa { bits: rsa_bits }),
            _ => None,
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
            Self::EcPreferred { curve, rsa_bits } => {
                write!(f, "{}+rsa:{rsa_bits}", Self::Ec(*curve))
            }
        }
    }
}

/// Why a key description did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown key type {0:?}: expected rsa:512|1024|2048|3072|4096, ec:p256|p384|p521, or ec:CURVE+rsa:BITS (EC preferred, RSA backup)"
)]
pub struct KeyRequestParseError(pub String);

impl FromStr for KeyRequest {
    type Err = KeyRequestParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lower = text.trim().to_ascii_lowercase();
        if let Some((ec, rsa)) = lower.split_once('+') {
            return match (ec.parse::<Self>(), rsa.parse::<Self>()) {
                (Ok(Self::Ec(curve)), Ok(Self::Rsa { bits })) => Ok(Self::EcPreferred {
                    curve,
                    rsa_bits: bits,
                }),
                _ => Err(KeyRequestParseError(text.to_owned())),
            };
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_preferred_parses_displays_and_falls_back_to_rsa() {
        let key: KeyRequest = "EC:P384+rsa:3072".parse().unwrap();
        assert_eq!(
            key,
            KeyRequest::EcPreferred {
                curve: Curve::P384,
                rsa_bits: 3072
            }
        );
        assert_eq!(key.to_string(), "ec:p384+rsa:3072");
        assert_eq!(key.order(), KeyOrder::EcPreferred);
        assert_eq!(key.first(), KeyRequest::Ec(Curve::P384));
        assert_eq!(key.fallback(), Some(KeyRequest::Rsa { bits: 3072 }));
        assert_eq!(KeyRequest::Ec(Curve::P256).fallback(), None);
        assert_eq!(
            KeyRequest::Rsa { bits: 2048 }.first(),
            KeyRequest::Rsa { bits: 2048 }
        );
        for bad in [
            "rsa:2048+ec:p256",
            "ec:p256+rsa:1000",
            "ec:p256+",
            "+rsa:2048",
            "ec:p256+ec:p384",
        ] {
            assert!(bad.parse::<KeyRequest>().is_err(), "{bad}");
        }
        assert_eq!(
            KeyOrder::EcPreferred.request(2048, Curve::P256).to_string(),
            "ec:p256+rsa:2048"
        );
        assert_eq!("ec-only".parse::<KeyOrder>(), Ok(KeyOrder::EcOnly));
        assert_eq!(KeyOrder::EcPreferred.words(), "EC Preferred, RSA Backup");
    }
}
