//! The TVS allow-list: registered certificates keyed by the SHA-256 of
//! their DER, with the roles and TTL TVS grants them
//! ([`TvsAllowList`](crate::TvsAllowList)). The checks of a registration
//! ([`TvsRegistration::new`]) are backend-independent.

use ctl_format::trust_list::Role;
use der::Decode;
use sha2::{Digest, Sha256};

use crate::error::{RegistryError, RegistryResult};

/// The largest TTL accepted: 30 days, as the reference tool.
pub const MAX_TTL: u32 = 2_592_000;
/// The TTL when none is given: 24 hours, as the reference tool.
pub const DEFAULT_TTL: u32 = 86_400;

/// One registered certificate.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TvsEntry {
    /// SHA-256 of `der`: the lookup key.
    pub sha256: [u8; 32],
    /// The certificate, DER, exactly as registered.
    pub der: Vec<u8>,
    /// Its subject (RFC 4514), for people.
    pub subject: String,
    /// Roles granted, ascending code order, each once.
    pub roles: Vec<Role>,
    /// Seconds a phone may cache the answer.
    pub ttl: u32,
    /// Revoked: TVS answers STATUS 1.
    pub revoked: bool,
    /// When it was added (or last replaced), Unix seconds.
    pub added_at: u64,
}

/// SHA-256 of a DER certificate.
pub fn certificate_sha256(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

/// A checked registration: what a backend stores.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TvsRegistration {
    /// SHA-256 of the certificate.
    pub sha256: [u8; 32],
    /// Its subject.
    pub subject: String,
    /// Roles, ascending codes, each once.
    pub roles: Vec<Role>,
    /// TTL, seconds.
    pub ttl: u32,
}

impl TvsRegistration {
    /// Checks a registration: `der` is a DER X.509 certificate, at least
    /// one role, every role code at most 255, TTL in 1..=[`MAX_TTL`].
    pub fn new(der: &[u8], roles: &[Role], ttl: u32) -> RegistryResult<Self> {
        let certificate = x509_cert::Certificate::from_der(der)
            .map_err(|error| RegistryError::NotACertificate(error.to_string()))?;
        if roles.is_empty() {
            return Err(RegistryError::NoRoles);
        }
        if let Some(role) = roles.iter().find(|role| role.code() > 255) {
            return Err(RegistryError::RoleTooLarge(role.code()));
        }
        if !(1..=MAX_TTL).contains(&ttl) {
            return Err(RegistryError::BadTtl(ttl));
        }
        let mut codes: Vec<u16> = roles.iter().map(|role| role.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        Ok(Self {
            sha256: certificate_sha256(der),
            subject: certificate.tbs_certificate.subject.to_string(),
            roles: codes.into_iter().map(Role::from_code).collect(),
            ttl,
        })
    }
}

/// Roles as stored: ascending codes, each once, comma-separated.
pub(crate) fn roles_text(roles: &[Role]) -> String {
    let mut codes: Vec<u16> = roles.iter().map(|role| role.code()).collect();
    codes.sort_unstable();
    codes.dedup();
    codes
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The roles of [`roles_text`].
pub(crate) fn parse_roles(text: &str) -> RegistryResult<Vec<Role>> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|code| {
            code.parse::<u8>()
                .map(|code| Role::from_code(u16::from(code)))
                .map_err(|_| RegistryError::Corrupt("TVS roles".into()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_text_is_ascending_codes() {
        assert_eq!(roles_text(&[Role::Tvs, Role::Sast, Role::Tftp]), "0,3,21");
        assert_eq!(
            parse_roles("0,3,21").unwrap(),
            [Role::Sast, Role::Tftp, Role::Tvs]
        );
        assert!(parse_roles("1,x").is_err());
        assert!(parse_roles("300").is_err());
    }
}
