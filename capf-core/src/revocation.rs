//! Revocation of issued certificates: the RFC 5280 reason codes (section
//! 5.3.1) a ledger records, and the CRL a local issuer signs
//! ([`crate::issuance::LscIssuer::sign_crl`]).

use core::fmt;
use core::str::FromStr;

/// Why a certificate was revoked: RFC 5280 section 5.3.1 `CRLReason`
/// (code 7 is unused; `removeFromCRL`, code 8, only undoes a hold in a
/// delta CRL and is not a reason to revoke, so it is not offered).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevocationReason {
    /// `unspecified` (0).
    Unspecified,
    /// `keyCompromise` (1).
    KeyCompromise,
    /// `cACompromise` (2).
    CaCompromise,
    /// `affiliationChanged` (3).
    AffiliationChanged,
    /// `superseded` (4).
    Superseded,
    /// `cessationOfOperation` (5).
    CessationOfOperation,
    /// `certificateHold` (6).
    CertificateHold,
    /// `privilegeWithdrawn` (9).
    PrivilegeWithdrawn,
    /// `aACompromise` (10).
    AaCompromise,
}

impl RevocationReason {
    /// Every reason, in code order.
    pub const ALL: [Self; 9] = [
        Self::Unspecified,
        Self::KeyCompromise,
        Self::CaCompromise,
        Self::AffiliationChanged,
        Self::Superseded,
        Self::CessationOfOperation,
        Self::CertificateHold,
        Self::PrivilegeWithdrawn,
        Self::AaCompromise,
    ];

    /// The RFC 5280 name (`keyCompromise`, …): what a ledger stores and
    /// users see.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::KeyCompromise => "keyCompromise",
            Self::CaCompromise => "cACompromise",
            Self::AffiliationChanged => "affiliationChanged",
            Self::Superseded => "superseded",
            Self::CessationOfOperation => "cessationOfOperation",
            Self::CertificateHold => "certificateHold",
            Self::PrivilegeWithdrawn => "privilegeWithdrawn",
            Self::AaCompromise => "aACompromise",
        }
    }

    /// The `CRLReason` ENUMERATED value.
    pub const fn code(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::KeyCompromise => 1,
            Self::CaCompromise => 2,
            Self::AffiliationChanged => 3,
            Self::Superseded => 4,
            Self::CessationOfOperation => 5,
            Self::CertificateHold => 6,
            Self::PrivilegeWithdrawn => 9,
            Self::AaCompromise => 10,
        }
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reason name that is not one of RFC 5280's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an RFC 5280 revocation reason (one of: {names})", names = reason_names())]
pub struct UnknownReason(pub String);

fn reason_names() -> String {
    RevocationReason::ALL
        .iter()
        .map(|reason| reason.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for RevocationReason {
    type Err = UnknownReason;

    /// The RFC 5280 name, ASCII case, `-` and `_` ignored (`keyCompromise`,
    /// `key-compromise` and `KEY_COMPROMISE` are one reason).
    fn from_str(text: &str) -> Result<Self, UnknownReason> {
        let fold = |name: &str| -> String {
            name.chars()
                .filter(|c| *c != '-' && *c != '_')
                .map(|c| c.to_ascii_lowercase())
                .collect()
        };
        let wanted = fold(text);
        Self::ALL
            .into_iter()
            .find(|reason| fold(reason.as_str()) == wanted)
            .ok_or_else(|| UnknownReason(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_parse_in_rfc_and_kebab_spelling_and_carry_rfc_codes() {
        let expected = [
            ("unspecified", 0),
            ("keyCompromise", 1),
            ("cACompromise", 2),
            ("affiliationChanged", 3),
            ("superseded", 4),
            ("cessationOfOperation", 5),
            ("certificateHold", 6),
            ("privilegeWithdrawn", 9),
            ("aACompromise", 10),
        ];
        for (name, code) in expected {
            let reason: RevocationReason = name.parse().unwrap();
            assert_eq!(reason.code(), code);
            assert_eq!(reason.as_str(), name);
        }
        assert_eq!(
            "key-compromise".parse::<RevocationReason>().unwrap(),
            RevocationReason::KeyCompromise
        );
        let error = "removeFromCRL".parse::<RevocationReason>().unwrap_err();
        assert!(error.to_string().contains("keyCompromise"), "{error}");
    }
}
