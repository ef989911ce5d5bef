//! One registry value for either backend, chosen by what `--db` names: a
//! SQLite file path or a `postgres://` URL ([`open`]). Hosts hold an
//! [`AnyRegistry`] and keep no rule about which backend is which.

use capf_core::capf::key_request::KeyRequest;
use capf_core::revocation::RevocationReason;
use ctl_format::trust_list::Role;

use crate::error::RegistryResult;
use crate::model::{
    CertificateEntry, Claim, ClaimAnswer, ClaimToken, Device, Event, NewCertificate, Operation,
    OutcomeWrite, Recorded, RevocationTarget, Schedule, StoredAuthHash,
};
use crate::settings::Settings;
use crate::tvs::TvsEntry;
use crate::{PendingWrite, Registry, SessionWritesAsync, SqliteRegistry, TvsAllowList};

/// A registry of either backend.
#[non_exhaustive]
#[derive(Debug)]
pub enum AnyRegistry {
    /// A SQLite file.
    Sqlite(SqliteRegistry),
    /// A PostgreSQL database (feature `postgres`).
    #[cfg(feature = "postgres")]
    Postgres(crate::PostgresRegistry),
}

/// Options of [`open`].
#[non_exhaustive]
#[derive(Clone, Default)]
pub struct OpenOptions {
    /// A PostgreSQL password when the URL has none (read from
    /// `--db-password-file`); else `PGPASSWORD`, then `PGPASSFILE`. Ignored
    /// for a SQLite file.
    pub password: Option<String>,
    /// This node's name (`capf serve --node-name`), written into every
    /// event of a PostgreSQL registry (several nodes write one; a SQLite
    /// file has one writer host).
    pub node_name: Option<String>,
}

impl std::fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenOptions")
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("node_name", &self.node_name)
            .finish()
    }
}

impl OpenOptions {
    /// No password.
    pub fn new() -> Self {
        Self::default()
    }

    /// With this PostgreSQL password.
    #[must_use]
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }
}

/// Opens the registry `spec` names: a `postgres://`/`postgresql://` URL
/// ([`PostgresRegistry`](crate::PostgresRegistry), feature `postgres`) or
/// a SQLite file path (created when missing). Errors show the URL with
/// its password redacted.
pub fn open(spec: &str, options: &OpenOptions) -> RegistryResult<AnyRegistry> {
    if crate::db_url::is_postgres_url(spec) {
        #[cfg(feature = "postgres")]
        {
            let mut pg = crate::PostgresOptions::new();
            pg.password = options.password.clone();
            pg.node_name = options.node_name.clone();
            return crate::PostgresRegistry::open_with(spec, &pg).map(AnyRegistry::Postgres);
        }
        #[cfg(not(feature = "postgres"))]
        {
            let _unused = options;
            return Err(crate::RegistryError::Database(format!(
                "{}: this capf was built without PostgreSQL support (feature postgres)",
                crate::db_url::redact(spec)
            )));
        }
    }
    SqliteRegistry::open(std::path::Path::new(spec)).map(AnyRegistry::Sqlite)
}

/// What `capf health` found.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Reachable, and the schema is the one this build writes.
    Healthy {
        /// The schema version.
        version: i64,
    },
    /// Reachable, but the schema is older (a node will migrate it when it
    /// starts) or newer (written by a newer capf: this one refuses it).
    SchemaNotCurrent {
        /// The database's version (0: no registry yet).
        found: i64,
        /// This build's.
        known: i64,
    },
    /// Not reachable (or not a registry): the reason, URL redacted.
    Unreachable(String),
}

/// Whether the registry `spec` names is reachable and its schema current,
/// without changing anything (no file created, nothing migrated).
pub fn health(spec: &str, options: &OpenOptions) -> Health {
    let (found, known) = if crate::db_url::is_postgres_url(spec) {
        #[cfg(feature = "postgres")]
        {
            let mut pg = crate::PostgresOptions::new();
            pg.password = options.password.clone();
            match crate::PostgresRegistry::probe(spec, &pg) {
                Ok(found) => (found, crate::PostgresRegistry::known_schema_version()),
                Err(error) => return Health::Unreachable(error.to_string()),
            }
        }
        #[cfg(not(feature = "postgres"))]
        {
            let _unused = options;
            return Health::Unreachable(format!(
                "{}: this capf was built without PostgreSQL support",
                crate::db_url::redact(spec)
            ));
        }
    } else {
        let path = std::path::Path::new(spec);
        if !path.is_file() {
            return Health::Unreachable(format!("no registry file at {spec}"));
        }
        let probed = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .and_then(|connection| {
            connection.query_row("SELECT COUNT(*) FROM sqlite_master", [], |_| Ok(()))?;
            connection.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))
        });
        match probed {
            Ok(found) => (
                found,
                i64::try_from(crate::sqlite::MIGRATIONS.len()).unwrap_or(i64::MAX),
            ),
            Err(error) => return Health::Unreachable(format!("{spec}: {error}")),
        }
    };
    if found == known {
        Health::Healthy { version: found }
    } else {
        Health::SchemaNotCurrent { found, known }
    }
}

/// Calls the same method on whichever backend.
macro_rules! each {
    ($self:expr, $r:ident => $call:expr) => {
        match $self {
            AnyRegistry::Sqlite($r) => $call,
            #[cfg(feature = "postgres")]
            AnyRegistry::Postgres($r) => $call,
        }
    };
}

impl AnyRegistry {
    /// What it is, for logs: the file path, or the URL with its password
    /// redacted.
    pub fn describe(&self) -> String {
        match self {
            AnyRegistry::Sqlite(registry) => registry.path().display().to_string(),
            #[cfg(feature = "postgres")]
            AnyRegistry::Postgres(registry) => registry.url().to_owned(),
        }
    }

    /// The schema version the database holds.
    pub fn schema_version(&self) -> RegistryResult<i64> {
        each!(self, r => r.schema_version())
    }

    /// The newest schema version this build knows for this backend.
    pub fn known_schema_version(&self) -> i64 {
        match self {
            AnyRegistry::Sqlite(_) => {
                i64::try_from(crate::sqlite::MIGRATIONS.len()).unwrap_or(i64::MAX)
            }
            #[cfg(feature = "postgres")]
            AnyRegistry::Postgres(_) => crate::PostgresRegistry::known_schema_version(),
        }
    }
}

impl AnyRegistry {
    /// Every row of the registry (devices, ledger, events, TVS).
    pub fn dump(&self) -> RegistryResult<crate::copy::Dump> {
        match self {
            AnyRegistry::Sqlite(registry) => crate::copy::dump_sqlite(registry.path()),
            #[cfg(feature = "postgres")]
            AnyRegistry::Postgres(registry) => registry.dump(),
        }
    }

    /// Writes a [`dump`](Self::dump) into this registry in one transaction:
    /// all or nothing. A registry that holds anything is refused unless
    /// `force` (then a row that collides, such as a device of the same
    /// name or a ledger id already taken, fails the whole copy).
    pub fn load(&self, dump: crate::copy::Dump, force: bool) -> RegistryResult<()> {
        match self {
            AnyRegistry::Sqlite(registry) => {
                crate::copy::load_sqlite(registry.path(), &dump, force)
            }
            #[cfg(feature = "postgres")]
            AnyRegistry::Postgres(registry) => registry.load(dump, force),
        }
    }
}

/// Copies the whole registry `from` into `to` (`capf registry copy`):
/// devices, ledger, events and TVS allow-list, in one transaction on the
/// target; refuses a non-empty target unless `force`. Returns what it
/// copied.
pub fn copy_registry(
    from: &AnyRegistry,
    to: &AnyRegistry,
    force: bool,
) -> RegistryResult<crate::copy::CopyReport> {
    let dump = from.dump()?;
    let report = dump.report();
    to.load(dump, force)?;
    Ok(report)
}

impl Registry for AnyRegistry {
    fn put_device(&self, name: &str, schedule: &Schedule, now: u64) -> RegistryResult<bool> {
        each!(self, r => r.put_device(name, schedule, now))
    }
    fn put_devices(&self, devices: &[(String, Schedule)], now: u64) -> RegistryResult<usize> {
        each!(self, r => r.put_devices(devices, now))
    }
    fn set_operation(
        &self,
        name: &str,
        operation: Operation,
        key_request: Option<KeyRequest>,
        auth_hash: Option<&StoredAuthHash>,
        now: u64,
    ) -> RegistryResult<()> {
        each!(self, r => r.set_operation(name, operation, key_request, auth_hash, now))
    }
    fn remove(&self, name: &str, now: u64) -> RegistryResult<usize> {
        each!(self, r => r.remove(name, now))
    }
    fn list(&self) -> RegistryResult<Vec<Device>> {
        each!(self, r => r.list())
    }
    fn device(&self, name: &str) -> RegistryResult<Device> {
        each!(self, r => r.device(name))
    }
    fn certificates(&self, name: &str) -> RegistryResult<Vec<CertificateEntry>> {
        each!(self, r => r.certificates(name))
    }
    fn events(&self, name: &str) -> RegistryResult<Vec<Event>> {
        each!(self, r => r.events(name))
    }
    fn claim_operation(
        &self,
        name: &str,
        token: ClaimToken,
        lease_until: u64,
        now: u64,
    ) -> RegistryResult<ClaimAnswer> {
        each!(self, r => r.claim_operation(name, token, lease_until, now))
    }
    fn record_pending_certificate(
        &self,
        claim: &Claim,
        certificate: &NewCertificate,
        now: u64,
    ) -> RegistryResult<i64> {
        each!(self, r => r.record_pending_certificate(claim, certificate, now))
    }
    fn record_outcome(
        &self,
        name: &str,
        claim: Option<&Claim>,
        write: &OutcomeWrite,
        now: u64,
    ) -> RegistryResult<Recorded> {
        each!(self, r => r.record_outcome(name, claim, write, now))
    }
    fn release_claim(&self, claim: &Claim, now: u64) -> RegistryResult<bool> {
        each!(self, r => r.release_claim(claim, now))
    }
    fn devices_by_auth_hash(&self, hash: &[u8; 32]) -> RegistryResult<Vec<Device>> {
        each!(self, r => r.devices_by_auth_hash(hash))
    }
    fn keyed_auth_string_count(&self) -> RegistryResult<usize> {
        each!(self, r => r.keyed_auth_string_count())
    }
    fn annotate(
        &self,
        name: &str,
        complete_by: Option<u64>,
        description: Option<&str>,
        now: u64,
    ) -> RegistryResult<()> {
        each!(self, r => r.annotate(name, complete_by, description, now))
    }
    fn revoke(
        &self,
        target: &RevocationTarget,
        reason: RevocationReason,
        now: u64,
    ) -> RegistryResult<Vec<CertificateEntry>> {
        each!(self, r => r.revoke(target, reason, now))
    }
    fn certificates_with_serial(&self, serial_hex: &str) -> RegistryResult<Vec<CertificateEntry>> {
        each!(self, r => r.certificates_with_serial(serial_hex))
    }
    fn revoked_certificates(&self) -> RegistryResult<Vec<CertificateEntry>> {
        each!(self, r => r.revoked_certificates())
    }
    fn record_certificate_request(
        &self,
        claim: &Claim,
        request: &crate::NewCertificateRequest,
        now: u64,
    ) -> RegistryResult<i64> {
        each!(self, r => r.record_certificate_request(claim, request, now))
    }
    fn certificate_requests(
        &self,
        device: Option<&str>,
    ) -> RegistryResult<Vec<crate::CertificateRequest>> {
        each!(self, r => r.certificate_requests(device))
    }
    fn mark_certificate_request_stale(
        &self,
        certificate_id: i64,
        now: u64,
    ) -> RegistryResult<bool> {
        each!(self, r => r.mark_certificate_request_stale(certificate_id, now))
    }
    fn import_certificate(
        &self,
        request_id: i64,
        certificate: &NewCertificate,
        now: u64,
    ) -> RegistryResult<i64> {
        each!(self, r => r.import_certificate(request_id, certificate, now))
    }
    fn delete_stale_certificate_requests(&self, now: u64) -> RegistryResult<usize> {
        each!(self, r => r.delete_stale_certificate_requests(now))
    }
    fn settings(&self) -> RegistryResult<Settings> {
        each!(self, r => r.settings())
    }
    fn put_settings(&self, settings: &Settings, now: u64) -> RegistryResult<()> {
        each!(self, r => r.put_settings(settings, now))
    }
    fn current_certificates(&self) -> RegistryResult<Vec<CertificateEntry>> {
        each!(self, r => r.current_certificates())
    }
    fn schedule_renewal(&self, name: &str, certificate_id: i64, now: u64) -> RegistryResult<bool> {
        each!(self, r => r.schedule_renewal(name, certificate_id, now))
    }
    fn record_issued_certificate(
        &self,
        name: &str,
        key_request: KeyRequest,
        certificate: &NewCertificate,
        now: u64,
    ) -> RegistryResult<i64> {
        each!(self, r => r.record_issued_certificate(name, key_request, certificate, now))
    }
}

impl TvsAllowList for AnyRegistry {
    fn tvs_add(&self, der: &[u8], roles: &[Role], ttl: u32, now: u64) -> RegistryResult<TvsEntry> {
        each!(self, r => r.tvs_add(der, roles, ttl, now))
    }
    fn tvs_remove(&self, sha256: &[u8; 32]) -> RegistryResult<bool> {
        each!(self, r => r.tvs_remove(sha256))
    }
    fn tvs_revoke(&self, sha256: &[u8; 32]) -> RegistryResult<bool> {
        each!(self, r => r.tvs_revoke(sha256))
    }
    fn tvs_list(&self) -> RegistryResult<Vec<TvsEntry>> {
        each!(self, r => r.tvs_list())
    }
    fn tvs_look_up(&self, sha256: &[u8; 32]) -> RegistryResult<Option<TvsEntry>> {
        each!(self, r => r.tvs_look_up(sha256))
    }
}

impl SessionWritesAsync for AnyRegistry {
    fn claim_operation_async(
        &self,
        name: &str,
        token: ClaimToken,
        lease_until: u64,
        now: u64,
    ) -> PendingWrite<ClaimAnswer> {
        each!(self, r => SessionWritesAsync::claim_operation_async(r, name, token, lease_until, now))
    }
    fn record_pending_certificate_async(
        &self,
        claim: &Claim,
        certificate: &NewCertificate,
        now: u64,
    ) -> PendingWrite<i64> {
        each!(self, r => SessionWritesAsync::record_pending_certificate_async(r, claim, certificate, now))
    }
    fn record_outcome_async(
        &self,
        name: &str,
        claim: Option<&Claim>,
        write: &OutcomeWrite,
        now: u64,
    ) -> PendingWrite<Recorded> {
        each!(self, r => SessionWritesAsync::record_outcome_async(r, name, claim, write, now))
    }
    fn release_claim_async(&self, claim: &Claim, now: u64) -> PendingWrite<bool> {
        each!(self, r => SessionWritesAsync::release_claim_async(r, claim, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_opens_sqlite_and_a_url_is_never_a_file() {
        let dir = std::env::temp_dir().join(format!("capf-any-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("capf.db");
        let registry = open(path.to_str().unwrap(), &OpenOptions::new()).unwrap();
        assert!(matches!(registry, AnyRegistry::Sqlite(_)));
        assert_eq!(registry.describe(), path.display().to_string());
        assert_eq!(
            registry.schema_version().unwrap(),
            registry.known_schema_version()
        );
        drop(registry);
        // A URL to a port nobody listens on: an error naming the URL
        // without its password, and no file of that name.
        let error = open(
            "postgres://capf:s3cret@127.0.0.1:1/capf?connect_timeout=2",
            &OpenOptions::new(),
        )
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
        assert!(error.contains("127.0.0.1:1"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
        assert!(!std::path::Path::new("postgres:").exists());
        // Health: the file's schema is current; a missing file and an
        // unreachable server are not healthy, and nothing is created.
        assert_eq!(
            health(path.to_str().unwrap(), &OpenOptions::new()),
            Health::Healthy { version: 7 }
        );
        let missing = dir.join("missing.db");
        assert!(matches!(
            health(missing.to_str().unwrap(), &OpenOptions::new()),
            Health::Unreachable(_)
        ));
        assert!(!missing.exists());
        match health(
            "postgres://capf:s3cret@127.0.0.1:1/capf",
            &OpenOptions::new(),
        ) {
            Health::Unreachable(why) => assert!(!why.contains("s3cret"), "{why}"),
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
