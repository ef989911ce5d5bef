//! The TVS allow-list: registered certificates keyed by the SHA-256 of
//! their DER, with the roles and TTL TVS grants them, in the same SQLite
//! file as the CAPF registry (its own table, created idempotently here; the
//! CAPF schema migrations in `store.rs` do not know it).
//!
//! Same durability as the registry: WAL, `synchronous = FULL`, writes in
//! IMMEDIATE transactions so a `capf tvs` next to `capf serve` waits for the
//! write lock instead of failing.

// `capf trustlist rollover` reads the list too.
#![cfg_attr(not(test), allow(dead_code))]

use ctl_format::trust_list::Role;
use der::Decode;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};
use std::path::Path;

const SCHEMA: &str = r"
CREATE TABLE IF NOT EXISTS tvs_certificates (
    sha256 BLOB PRIMARY KEY NOT NULL CHECK (length(sha256) = 32),
    der BLOB NOT NULL,
    subject TEXT NOT NULL,
    roles TEXT NOT NULL, -- comma-separated role codes, ascending
    ttl INTEGER NOT NULL CHECK (ttl BETWEEN 1 AND 4294967295),
    revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    added_at INTEGER NOT NULL
) STRICT;
";

/// The largest TTL `capf tvs add` accepts: 30 days, as the reference tool.
pub(crate) const MAX_TTL: u32 = 2_592_000;
/// The TTL when none is given: 24 hours, as the reference tool.
pub(crate) const DEFAULT_TTL: u32 = 86_400;

/// What went wrong with the TVS table.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TvsStoreError {
    /// SQLite refused (unreadable file, not a database, …).
    #[error("TVS database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The certificate does not parse as DER X.509.
    #[error("not a DER X.509 certificate: {0}")]
    NotACertificate(String),
    /// A role code above 255 (TVS sends one byte per role).
    #[error("role {0} cannot be sent by TVS (code above 255)")]
    RoleTooLarge(Role),
    /// No roles given.
    #[error("at least one role is needed")]
    NoRoles,
    /// TTL outside 1..=2592000.
    #[error("TTL {0} is outside 1-{MAX_TTL} seconds")]
    BadTtl(u32),
    /// A row holds a value this build does not understand.
    #[error("TVS database holds an unexpected value in {0}")]
    Corrupt(&'static str),
}

/// Result alias of this module.
pub(crate) type TvsStoreResult<T> = Result<T, TvsStoreError>;

/// One registered certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TvsEntry {
    /// SHA-256 of `der`: the lookup key.
    pub(crate) sha256: [u8; 32],
    /// The certificate, DER, exactly as registered.
    pub(crate) der: Vec<u8>,
    /// Its subject (RFC 4514), for people.
    pub(crate) subject: String,
    /// Roles granted, ascending code order, each once.
    pub(crate) roles: Vec<Role>,
    /// Seconds a phone may cache the answer.
    pub(crate) ttl: u32,
    /// Revoked: TVS answers STATUS 1.
    pub(crate) revoked: bool,
    /// When it was added (or last replaced), Unix seconds.
    pub(crate) added_at: u64,
}

/// The `tvs_certificates` table of a registry file.
pub(crate) struct TvsStore {
    connection: Connection,
}

/// SHA-256 of a DER certificate.
pub(crate) fn certificate_sha256(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

/// Roles as stored: ascending codes, each once, comma-separated.
fn roles_text(roles: &[Role]) -> String {
    let mut codes: Vec<u16> = roles.iter().map(|role| role.code()).collect();
    codes.sort_unstable();
    codes.dedup();
    codes
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_roles(text: &str) -> TvsStoreResult<Vec<Role>> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|code| {
            code.parse::<u8>()
                .map(|code| Role::from_code(u16::from(code)))
                .map_err(|_| TvsStoreError::Corrupt("roles"))
        })
        .collect()
}

impl TvsStore {
    /// Opens (creating if needed) the file and the table.
    pub(crate) fn open(path: &Path) -> TvsStoreResult<Self> {
        Self::prepare(Connection::open(path)?)
    }

    fn prepare(mut connection: Connection) -> TvsStoreResult<Self> {
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        let _mode: String =
            connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        connection.execute_batch("PRAGMA synchronous = FULL;")?;
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        transaction.execute_batch(SCHEMA)?;
        transaction.commit()?;
        Ok(Self { connection })
    }

    /// Registers `der` with these roles and TTL, or replaces the roles and
    /// TTL of an already registered certificate (its revocation stays).
    pub(crate) fn add(
        &mut self,
        der: &[u8],
        roles: &[Role],
        ttl: u32,
        now: u64,
    ) -> TvsStoreResult<TvsEntry> {
        let certificate = x509_cert::Certificate::from_der(der)
            .map_err(|error| TvsStoreError::NotACertificate(error.to_string()))?;
        if roles.is_empty() {
            return Err(TvsStoreError::NoRoles);
        }
        if let Some(role) = roles.iter().find(|role| role.code() > 255) {
            return Err(TvsStoreError::RoleTooLarge(*role));
        }
        if !(1..=MAX_TTL).contains(&ttl) {
            return Err(TvsStoreError::BadTtl(ttl));
        }
        let subject = certificate.tbs_certificate.subject.to_string();
        let sha256 = certificate_sha256(der);
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        transaction.execute(
            "INSERT INTO tvs_certificates (sha256, der, subject, roles, ttl, added_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (sha256) DO UPDATE SET
                roles = excluded.roles, ttl = excluded.ttl, added_at = excluded.added_at",
            params![
                sha256.as_slice(),
                der,
                subject,
                roles_text(roles),
                i64::from(ttl),
                i64::try_from(now).unwrap_or(i64::MAX)
            ],
        )?;
        transaction.commit()?;
        self.look_up(&sha256)?
            .ok_or(TvsStoreError::Corrupt("sha256"))
    }

    /// Removes a certificate; false if it was not registered.
    pub(crate) fn remove(&mut self, sha256: &[u8; 32]) -> TvsStoreResult<bool> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let removed = transaction.execute(
            "DELETE FROM tvs_certificates WHERE sha256 = ?1",
            [sha256.as_slice()],
        )?;
        transaction.commit()?;
        Ok(removed > 0)
    }

    /// Marks a certificate revoked; false if it was not registered.
    pub(crate) fn revoke(&mut self, sha256: &[u8; 32]) -> TvsStoreResult<bool> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = transaction.execute(
            "UPDATE tvs_certificates SET revoked = 1 WHERE sha256 = ?1",
            [sha256.as_slice()],
        )?;
        transaction.commit()?;
        Ok(changed > 0)
    }

    /// Every registered certificate, by subject then digest.
    pub(crate) fn list(&self) -> TvsStoreResult<Vec<TvsEntry>> {
        let mut statement = self.connection.prepare(
            "SELECT sha256, der, subject, roles, ttl, revoked, added_at
             FROM tvs_certificates ORDER BY subject, sha256",
        )?;
        let rows = statement.query_map([], Row::read)?;
        let mut entries = Vec::new();
        for row in rows {
            entries.push(row?.entry()?);
        }
        Ok(entries)
    }

    /// The certificate with this digest, if registered.
    pub(crate) fn look_up(&self, sha256: &[u8; 32]) -> TvsStoreResult<Option<TvsEntry>> {
        self.connection
            .query_row(
                "SELECT sha256, der, subject, roles, ttl, revoked, added_at
                 FROM tvs_certificates WHERE sha256 = ?1",
                [sha256.as_slice()],
                Row::read,
            )
            .optional()?
            .map(Row::entry)
            .transpose()
    }
}

/// A row as SQLite gives it, checked by [`Row::entry`].
struct Row {
    sha256: Vec<u8>,
    der: Vec<u8>,
    subject: String,
    roles: String,
    ttl: i64,
    revoked: i64,
    added_at: i64,
}

impl Row {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            sha256: row.get(0)?,
            der: row.get(1)?,
            subject: row.get(2)?,
            roles: row.get(3)?,
            ttl: row.get(4)?,
            revoked: row.get(5)?,
            added_at: row.get(6)?,
        })
    }

    fn entry(self) -> TvsStoreResult<TvsEntry> {
        Ok(TvsEntry {
            sha256: self
                .sha256
                .try_into()
                .map_err(|_| TvsStoreError::Corrupt("sha256"))?,
            der: self.der,
            subject: self.subject,
            roles: parse_roles(&self.roles)?,
            ttl: u32::try_from(self.ttl).map_err(|_| TvsStoreError::Corrupt("ttl"))?,
            revoked: match self.revoked {
                0 => false,
                1 => true,
                _ => return Err(TvsStoreError::Corrupt("revoked")),
            },
            added_at: u64::try_from(self.added_at)
                .map_err(|_| TvsStoreError::Corrupt("added_at"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(name: &str) -> Vec<u8> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn add_replace_revoke_remove_and_reopen() {
        let folder = std::env::temp_dir().join(format!("capf-tvs-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join("capf.db");
        let first = certificate("one.example.test");
        let second = certificate("two.example.test");
        let mut store = TvsStore::open(&path).unwrap();
        let entry = store
            .add(
                &first,
                &[Role::Tftp, Role::CallManager, Role::Tftp],
                3600,
                10,
            )
            .unwrap();
        assert_eq!(entry.roles, [Role::CallManager, Role::Tftp]);
        assert_eq!(entry.sha256, <[u8; 32]>::from(Sha256::digest(&first)));
        assert!(!entry.revoked);
        store.add(&second, &[Role::Tvs], DEFAULT_TTL, 11).unwrap();
        // Adding again replaces roles and TTL.
        let replaced = store.add(&first, &[Role::Capf], 60, 12).unwrap();
        assert_eq!(
            (replaced.roles, replaced.ttl, replaced.added_at),
            (vec![Role::Capf], 60, 12)
        );
        assert!(store.revoke(&certificate_sha256(&second)).unwrap());
        assert!(!store.revoke(&[0; 32]).unwrap());
        drop(store);
        // A second open (as `capf serve` does beside `capf tvs`) sees it all.
        let mut store = TvsStore::open(&path).unwrap();
        let list = store.list().unwrap();
        assert_eq!(list.len(), 2);
        // Both subjects are rcgen's default name, so the order is by digest:
        // find each entry by its certificate rather than by position.
        let listed_first = list.iter().find(|entry| entry.der == first).unwrap();
        let listed_second = list.iter().find(|entry| entry.der == second).unwrap();
        assert_eq!(
            (listed_first.roles.as_slice(), listed_first.revoked),
            ([Role::Capf].as_slice(), false)
        );
        assert_eq!(listed_second.roles, [Role::Tvs]);
        assert!(listed_second.revoked);
        assert!(store.remove(&certificate_sha256(&first)).unwrap());
        assert!(!store.remove(&certificate_sha256(&first)).unwrap());
        assert_eq!(store.look_up(&certificate_sha256(&first)).unwrap(), None);
        assert!(matches!(
            store.add(b"junk", &[Role::Tvs], 1, 0),
            Err(TvsStoreError::NotACertificate(_))
        ));
        assert!(matches!(
            store.add(&first, &[], 1, 0),
            Err(TvsStoreError::NoRoles)
        ));
        assert!(matches!(
            store.add(&first, &[Role::Tvs], 0, 0),
            Err(TvsStoreError::BadTtl(0))
        ));
        assert!(matches!(
            store.add(&first, &[Role::Tvs], MAX_TTL + 1, 0),
            Err(TvsStoreError::BadTtl(_))
        ));
        assert!(matches!(
            store.add(&first, &[Role::Unknown(256)], 1, 0),
            Err(TvsStoreError::RoleTooLarge(_))
        ));
        let _ = std::fs::remove_dir_all(&folder);
    }

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
