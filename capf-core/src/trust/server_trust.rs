//! What a phone-side host trusts a server by, as a phone does: the one rule
//! behind `capf enroll --ca` and `capf tvs verify --ca`, here so that a
//! Python or Kotlin host reading the same file gets the same answer.
//!
//! A phone trusts CAPF and TVS through the records of its CTL or ITL: the
//! list must verify (its signer found, its signature good, SHA-1 or SHA-512
//! as phones accept), and only a certificate listed with the server's role
//! is trusted, byte for byte, with no host-name check. A host may instead
//! name the server's certificate (or, for chain verification, a CA above
//! it) directly, in PEM or DER.
//!
//! [`ServerTrust::from_file`] reads such a file (a CTL/ITL, PEM
//! certificates or one DER certificate, told apart by their first bytes)
//! and refuses, with a [`ServerTrustError`] that says why, a trust list that
//! does not verify or lists no certificate with the role: a phone would not
//! install it, and could then trust no server by it. With feature `tls`,
//! [`ServerTrust::client_config`] turns it into the rustls configuration
//! of the phone's side.
//!
//! ```
//! use capf_core::trust::{ServerAnchors, ServerRole, ServerTrust, ServerTrustError};
//! let ctl = include_bytes!("../../../tests/vectors/tlv/ctl-sha1.tlv");
//! let capf = ServerTrust::from_file(ctl, "CTLFile.tlv", ServerRole::Capf)?;
//! assert!(matches!(capf.anchors(), ServerAnchors::TrustList(_)));
//! // This CTL lists no TVS: a phone holding it cannot trust a TVS server.
//! let tvs = ServerTrust::from_file(ctl, "CTLFile.tlv", ServerRole::Tvs);
//! assert!(matches!(tvs, Err(ServerTrustError::RoleNotListed { .. })));
//! # Ok::<(), ServerTrustError>(())
//! ```

use ctl_format::trust_list::{Role, TrustList};
use ctl_format::{Certificate, HashPolicy};

use super::purpose::ServerRole;
use super::store::{StoreError, StoreKind, TrustStore};

/// The first byte of a CTL/ITL (its version element, tag 1). PEM text and
/// DER certificates never start with it.
const TRUST_LIST_FIRST_BYTE: u8 = 0x01;

/// What a server is trusted by, as read from one file.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum ServerAnchors {
    /// Certificates named directly (every CERTIFICATE block of PEM text, or
    /// one DER certificate), DER; how they are used is the host's choice
    /// ([`DirectCertificates`]).
    Certificates(Vec<Vec<u8>>),
    /// A CTL or ITL that verified and lists at least one certificate with
    /// the server's role: the server must present one of those records.
    TrustList(TrustStore),
}

/// How certificates named directly ([`ServerAnchors::Certificates`]) are
/// used; a trust list's records are always pins.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DirectCertificates {
    /// The server must present one of them byte for byte; nothing else is
    /// judged (as a CTL/ITL record pins a certificate): `capf enroll`.
    #[default]
    Pinned,
    /// Trust anchors: the server's chain must lead to one of them (dates
    /// judged at the host's clock), a server certificate that is itself one
    /// of them being its own anchor: `capf tvs verify`.
    Anchors,
}

/// Why a file cannot tell whom to trust as a server.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ServerTrustError {
    /// Not a CTL/ITL, and not PEM certificates or a DER certificate either.
    #[error("neither a CTL/ITL nor certificates (PEM or DER): {0}")]
    NotCertificates(#[source] ctl_format::Error),
    /// It starts like a CTL/ITL but does not parse as one.
    #[error("not a readable CTL/ITL: {0}")]
    TrustListUnreadable(#[source] ctl_format::Error),
    /// The trust list does not verify (signer not found, signature wrong,
    /// a digest phones refuse): a phone would not install it.
    #[error("the {kind} does not verify: {source}")]
    TrustListDoesNotVerify {
        /// CTL or ITL.
        kind: StoreKind,
        /// What verification said.
        #[source]
        source: ctl_format::Error,
    },
    /// The trust list verifies but lists no certificate with the role: a
    /// phone holding it trusts no such server.
    #[error("the {kind} lists no {role} certificate")]
    RoleNotListed {
        /// CTL or ITL.
        kind: StoreKind,
        /// The role a record would need (`CAPF`, `TVS`, ...).
        role: Role,
    },
    /// A record's certificate does not parse.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A server role and what a server of that role is trusted by.
#[derive(Debug, Clone)]
pub struct ServerTrust {
    role: ServerRole,
    anchors: ServerAnchors,
}

impl ServerTrust {
    /// Reads a `--ca` file for a server of `role`: a CTL/ITL (which must
    /// verify under [`HashPolicy::CISCO`] and list a certificate with a role
    /// granting `role`), PEM text with at least one certificate, or one DER
    /// certificate. `source_name` names the file in trust explanations.
    ///
    /// An ITL is told from a CTL by its header's file name (`ITL…`).
    pub fn from_file(
        bytes: &[u8],
        source_name: &str,
        role: ServerRole,
    ) -> Result<Self, ServerTrustError> {
        if bytes.first() != Some(&TRUST_LIST_FIRST_BYTE) {
            let certificates = Certificate::all_from_pem_or_der(bytes)
                .map_err(ServerTrustError::NotCertificates)?;
            return Ok(Self {
                role,
                anchors: ServerAnchors::Certificates(
                    certificates
                        .iter()
                        .map(|certificate| certificate.der().to_vec())
                        .collect(),
                ),
            });
        }
        let list = TrustList::parse(bytes).map_err(ServerTrustError::TrustListUnreadable)?;
        let kind = match list.header().filename.and_then(|name| name.as_str()) {
            Some(name) if name.to_ascii_uppercase().starts_with("ITL") => StoreKind::Itl,
            _ => StoreKind::Ctl,
        };
        list.verify(bytes, HashPolicy::CISCO)
            .map_err(|source| ServerTrustError::TrustListDoesNotVerify { kind, source })?;
        let store = TrustStore::from_trust_list(kind, source_name, &list)?;
        let listed = store.entries().iter().any(|entry| {
            entry
                .roles()
                .iter()
                .any(|held| role.granted_by().contains(held))
        });
        if !listed {
            return Err(ServerTrustError::RoleNotListed {
                kind,
                role: role.listed_role(),
            });
        }
        Ok(Self {
            role,
            anchors: ServerAnchors::TrustList(store),
        })
    }

    /// The server role this trust is for.
    pub const fn role(&self) -> ServerRole {
        self.role
    }

    /// What the server is trusted by.
    pub const fn anchors(&self) -> &ServerAnchors {
        &self.anchors
    }

    /// The phone side's TLS configuration (feature `tls`): a trust list
    /// through [`TrustListServerVerifier`](super::verifiers::TrustListServerVerifier)
    /// (dates judged at `clock`), certificates named directly as `direct`
    /// says. TLS 1.2 and 1.3, no client certificate, no host-name check.
    #[cfg(feature = "tls")]
    pub fn client_config(
        &self,
        direct: DirectCertificates,
        clock: std::sync::Arc<dyn crate::tls::TimeSource>,
    ) -> Result<std::sync::Arc<rustls::ClientConfig>, crate::tls::TlsError> {
        use crate::tls::{
            TlsVersions, client_config, client_config_pinned, client_config_with_roots_at,
        };
        match (&self.anchors, direct) {
            (ServerAnchors::Certificates(certificates), DirectCertificates::Pinned) => {
                client_config_pinned(certificates)
            }
            (ServerAnchors::Certificates(certificates), DirectCertificates::Anchors) => {
                client_config_with_roots_at(certificates, self.role, clock)
            }
            (ServerAnchors::TrustList(store), _) => client_config(
                super::verifiers::TrustListServerVerifier::new(
                    vec![store.clone()],
                    self.role,
                    clock,
                ),
                TlsVersions::default(),
            ),
        }
    }
}
