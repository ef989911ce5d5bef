//! The CLI host's device registry: an SQLite file holding what CAPF needs
//! per device (scheduled operation, key request, authentication mode and the
//! salted hash of the one-time authentication string), an append-only ledger
//! of every certificate issued or seen, and an event log.
//!
//! Durability: WAL journal with `synchronous = FULL`, so a statement that
//! returned has been committed to disk. [`Store::record_pending_certificate`]
//! relies on that: a certificate is in the ledger before the host sends it to
//! the phone, and the ledger refuses deletes and rewrites (triggers), so an
//! issued certificate is never lost. Devices are removed softly for the same
//! reason: their ledger stays.
//!
//! The plain authentication string is never stored: only the salt, the
//! iteration count and the PBKDF2 output of
//! [`capf_core::server::AuthStringHash`] (see [`hash_auth_string`]).

// The server-side half (ledger updates, failures, records for the session)
// is exercised by the unit tests and used by `capf serve` once it lands.
#![cfg_attr(not(test), allow(dead_code))]

use capf_core::key_request::KeyRequest;
use capf_core::server;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// Schema migrations, applied in order; `PRAGMA user_version` records the
/// last one applied. Each runs in one transaction with its version bump.
const MIGRATIONS: &[&str] = &[
    // 1: devices, certificate ledger, events.
    r"
    CREATE TABLE IF NOT EXISTS devices (
        name TEXT PRIMARY KEY NOT NULL,
        operation TEXT NOT NULL DEFAULT 'none'
            CHECK (operation IN ('none', 'install', 'fetch', 'delete')),
        key_request TEXT NOT NULL,
        auth_mode TEXT NOT NULL
            CHECK (auth_mode IN ('auth-string', 'null', 'lsc', 'mic')),
        auth_salt BLOB,
        auth_hash BLOB,
        auth_iterations INTEGER,
        failed_attempts INTEGER NOT NULL DEFAULT 0,
        locked INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'none'
            CHECK (status IN ('none', 'pending', 'failed', 'successful')),
        status_operation TEXT,
        status_detail TEXT,
        removed INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        CHECK ((auth_salt IS NULL) = (auth_hash IS NULL)
           AND (auth_hash IS NULL) = (auth_iterations IS NULL))
    ) STRICT;
    CREATE TABLE IF NOT EXISTS certificates (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        device TEXT NOT NULL REFERENCES devices(name) ON DELETE RESTRICT,
        serial_hex TEXT NOT NULL,
        der BLOB NOT NULL,
        state TEXT NOT NULL
            CHECK (state IN ('pending', 'installed', 'fetched', 'deleted')),
        issued_at INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX IF NOT EXISTS certificates_device ON certificates(device);
    CREATE TRIGGER IF NOT EXISTS certificates_append_only_delete
        BEFORE DELETE ON certificates
        BEGIN SELECT RAISE(ABORT, 'the certificate ledger is append-only'); END;
    CREATE TRIGGER IF NOT EXISTS certificates_append_only_update
        BEFORE UPDATE OF id, device, serial_hex, der, issued_at, not_after ON certificates
        BEGIN SELECT RAISE(ABORT, 'the certificate ledger is append-only'); END;
    CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time INTEGER NOT NULL,
        device TEXT NOT NULL REFERENCES devices(name) ON DELETE RESTRICT,
        what TEXT NOT NULL
    ) STRICT;
    CREATE INDEX IF NOT EXISTS events_device ON events(device);
    ",
];

/// What went wrong with the registry. Never carries an authentication
/// string or hash.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// SQLite refused (file unreadable, not a database, constraint, …).
    #[error("device database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file was written by a newer capf.
    #[error("device database schema version {found} is newer than this capf knows ({known})")]
    SchemaTooNew {
        /// Version in the file.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// No (non-removed) device of that name.
    #[error("no device named {0}")]
    UnknownDevice(String),
    /// No certificate with that id for that device.
    #[error("no certificate {id} for device {device}")]
    UnknownCertificate {
        /// Device name.
        device: String,
        /// Ledger id.
        id: i64,
    },
    /// A value in the file is not one this build understands.
    #[error("device database holds an unexpected value {0:?}")]
    Corrupt(String),
    /// An auth-string device whose one-time string was used up.
    #[error("device {0} has no authentication string (schedule a new one)")]
    NoAuthString(String),
    /// Hashing the authentication string failed (bad format).
    #[error("authentication string: {0}")]
    AuthString(String),
}

/// Result alias of this module.
pub(crate) type StoreResult<T> = Result<T, StoreError>;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// The text stored in the database and shown to users.
            pub(crate) const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
            /// Every accepted spelling, for error messages.
            pub(crate) const ALL: &'static [&'static str] = &[$($text),+];
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!(
                        "{other:?} is not one of {}",
                        Self::ALL.join(", ")
                    )),
                }
            }
        }
    };
}

text_enum!(
    /// The certificate operation scheduled for a device (spec Appendix B).
    Operation {
        /// No pending operation.
        None = "none",
        /// Install or upgrade the LSC.
        Install = "install",
        /// Fetch the phone's certificate ("troubleshoot").
        Fetch = "fetch",
        /// Delete the LSC.
        Delete = "delete",
    }
);

text_enum!(
    /// How the phone authenticates (spec 7.3 / Appendix B).
    AuthMode {
        /// One-time authentication string typed on the phone.
        AuthString = "auth-string",
        /// Null string: no check.
        Null = "null",
        /// Existing certificate, LSC first.
        Lsc = "lsc",
        /// Existing certificate, MIC first.
        Mic = "mic",
    }
);

text_enum!(
    /// Where a certificate of the ledger stands.
    CertificateState {
        /// Issued and recorded, not yet confirmed stored by the phone.
        Pending = "pending",
        /// The phone confirmed it stored it (STORE_CERT_RESPONSE success).
        Installed = "installed",
        /// Reported by the phone in a fetch.
        Fetched = "fetched",
        /// Deleted from the phone.
        Deleted = "deleted",
    }
);

text_enum!(
    /// Outcome of the last scheduled operation (spec Appendix B).
    Status {
        /// Nothing scheduled yet.
        None = "none",
        /// Scheduled, not yet done.
        Pending = "pending",
        /// The last attempt failed; the operation stays scheduled.
        Failed = "failed",
        /// Done.
        Successful = "successful",
    }
);

/// The stored form of an authentication string: PBKDF2-HMAC-SHA256 salt,
/// iteration count and output. `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct StoredAuthHash {
    pub(crate) salt: Vec<u8>,
    pub(crate) iterations: u32,
    pub(crate) hash: Vec<u8>,
}

impl fmt::Debug for StoredAuthHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoredAuthHash(<redacted>)")
    }
}

/// Adapter to the server engineer's [`capf_core::server::AuthStringHash`]
/// (salted PBKDF2-HMAC-SHA256): hashes a well-formed 4-10 digit string with
/// a fresh 16-byte salt from `rng`. The only hashing scheme of the registry.
pub(crate) fn hash_auth_string<R: rand_core::RngCore + rand_core::CryptoRng>(
    auth_string: &str,
    iterations: u32,
    rng: &mut R,
) -> StoreResult<StoredAuthHash> {
    let mut salt = [0_u8; 16];
    rng.fill_bytes(&mut salt);
    let hashed = server::AuthStringHash::new(auth_string, &salt, iterations)
        .map_err(|error| StoreError::AuthString(error.to_string()))?;
    Ok(StoredAuthHash {
        salt: hashed.salt().to_vec(),
        iterations: hashed.iterations(),
        hash: hashed.hash().to_vec(),
    })
}

/// Turns a stored hash back into the verifier the server session uses.
pub(crate) fn auth_string_verifier(stored: &StoredAuthHash) -> StoreResult<server::AuthStringHash> {
    let hash = stored
        .hash
        .as_slice()
        .try_into()
        .map_err(|_| StoreError::Corrupt("authentication hash length".into()))?;
    Ok(server::AuthStringHash::from_parts(
        stored.salt.clone(),
        stored.iterations,
        hash,
    ))
}

/// What an administrator schedules for a device.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    pub(crate) operation: Operation,
    pub(crate) key_request: KeyRequest,
    pub(crate) auth_mode: AuthMode,
    /// Required for [`AuthMode::AuthString`], ignored otherwise.
    pub(crate) auth_hash: Option<StoredAuthHash>,
}

/// One device as stored (without the authentication hash itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Device {
    pub(crate) name: String,
    pub(crate) operation: Operation,
    pub(crate) key_request: KeyRequest,
    pub(crate) auth_mode: AuthMode,
    /// Whether a (hashed) authentication string is set.
    pub(crate) has_auth_string: bool,
    pub(crate) failed_attempts: u32,
    pub(crate) locked: bool,
    pub(crate) status: Status,
    pub(crate) status_operation: Option<Operation>,
    pub(crate) status_detail: Option<String>,
    pub(crate) created_at: u64,
    pub(crate) updated_at: u64,
}

/// One certificate of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertificateEntry {
    pub(crate) id: i64,
    pub(crate) device: String,
    pub(crate) serial_hex: String,
    pub(crate) der: Vec<u8>,
    pub(crate) state: CertificateState,
    pub(crate) issued_at: u64,
    pub(crate) not_after: u64,
    pub(crate) updated_at: u64,
}

/// One event of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) time: u64,
    pub(crate) device: String,
    pub(crate) what: String,
}

/// A certificate to put in the ledger.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewCertificate<'a> {
    pub(crate) serial_hex: &'a str,
    pub(crate) der: &'a [u8],
    pub(crate) issued_at: u64,
    pub(crate) not_after: u64,
}

/// An open registry file.
#[derive(Debug)]
pub(crate) struct Store {
    connection: Connection,
    /// Inside [`Store::batch`]: writes are savepoints of its transaction.
    in_batch: bool,
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn parse<T: FromStr>(text: &str) -> StoreResult<T> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(text.to_owned()))
}

const DEVICE_COLUMNS: &str = "name, operation, key_request, auth_mode, auth_hash IS NOT NULL, \
     failed_attempts, locked, status, status_operation, status_detail, created_at, updated_at";

const CERTIFICATE_COLUMNS: &str =
    "id, device, serial_hex, der, state, issued_at, not_after, updated_at";

/// Raw device row, parsed after the query so parse errors are ours.
type DeviceRow = (
    String,
    String,
    String,
    String,
    bool,
    i64,
    bool,
    String,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

fn device_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
        row.get(10)?,
        row.get(11)?,
    ))
}

fn device_from_row(row: DeviceRow) -> StoreResult<Device> {
    let (name, operation, key, mode, has_hash, failed, locked, status, status_op, detail, c, u) =
        row;
    Ok(Device {
        name,
        operation: parse(&operation)?,
        key_request: parse(&key)?,
        auth_mode: parse(&mode)?,
        has_auth_string: has_hash,
        failed_attempts: u32::try_from(failed).unwrap_or(u32::MAX),
        locked,
        status: parse(&status)?,
        status_operation: status_op.as_deref().map(parse).transpose()?,
        status_detail: detail,
        created_at: to_u64(c),
        updated_at: to_u64(u),
    })
}

type CertificateRow = (i64, String, String, Vec<u8>, String, i64, i64, i64);

fn certificate_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<CertificateRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
    ))
}

fn certificate_from_row(row: CertificateRow) -> StoreResult<CertificateEntry> {
    let (id, device, serial_hex, der, state, issued_at, not_after, updated_at) = row;
    Ok(CertificateEntry {
        id,
        device,
        serial_hex,
        der,
        state: parse(&state)?,
        issued_at: to_u64(issued_at),
        not_after: to_u64(not_after),
        updated_at: to_u64(updated_at),
    })
}

impl Store {
    /// Opens the registry, creating the file and the schema as needed.
    pub(crate) fn open(path: &Path) -> StoreResult<Self> {
        let connection = Connection::open(path)?;
        Self::with_connection(connection)
    }

    /// Opens an in-memory registry (tests).
    #[cfg(test)]
    pub(crate) fn open_in_memory() -> StoreResult<Self> {
        Self::with_connection(Connection::open_in_memory()?)
    }

    fn with_connection(connection: Connection) -> StoreResult<Self> {
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        // journal_mode returns the mode as a row (in-memory databases stay
        // "memory").
        let _mode: String =
            connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        connection.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
        let mut store = Self {
            connection,
            in_batch: false,
        };
        store.migrate()?;
        Ok(store)
    }

    /// The schema version of the file.
    pub(crate) fn schema_version(&self) -> StoreResult<i64> {
        Ok(self
            .connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))?)
    }

    /// Applies every migration newer than the file's `user_version`, each in
    /// its own immediate transaction (concurrent openers wait, then skip).
    fn migrate(&mut self) -> StoreResult<()> {
        let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        for (index, sql) in MIGRATIONS.iter().enumerate() {
            let version = i64::try_from(index + 1).unwrap_or(i64::MAX);
            let transaction = self
                .connection
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let current: i64 =
                transaction.query_row("PRAGMA user_version", [], |row| row.get(0))?;
            if current > known {
                return Err(StoreError::SchemaTooNew {
                    found: current,
                    known,
                });
            }
            if current < version {
                transaction.execute_batch(sql)?;
                transaction.execute_batch(&format!("PRAGMA user_version = {version}"))?;
            }
            transaction.commit()?;
        }
        Ok(())
    }

    fn event(
        connection: &Connection,
        device: &str,
        now: u64,
        what: impl AsRef<str>,
    ) -> StoreResult<()> {
        connection.execute(
            "INSERT INTO events (time, device, what) VALUES (?1, ?2, ?3)",
            params![to_i64(now), device, what.as_ref()],
        )?;
        Ok(())
    }

    fn require_device(connection: &Connection, name: &str) -> StoreResult<()> {
        let found: Option<i64> = connection
            .query_row(
                "SELECT 1 FROM devices WHERE name = ?1 AND removed = 0",
                [name],
                |row| row.get(0),
            )
            .optional()?;
        found
            .map(|_| ())
            .ok_or_else(|| StoreError::UnknownDevice(name.to_owned()))
    }

    /// Adds a device, or replaces the schedule of an existing (or removed)
    /// one. Resets failures and the lock. Returns whether it existed.
    pub(crate) fn put_device(
        &mut self,
        name: &str,
        schedule: &Schedule,
        now: u64,
    ) -> StoreResult<bool> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let existed = Self::put_device_in(&transaction, name, schedule, now)?;
        transaction.commit()?;
        Ok(existed)
    }

    /// [`put_device`](Self::put_device) for many devices in one transaction:
    /// all are written or none. Returns how many already existed.
    pub(crate) fn put_devices(
        &mut self,
        devices: &[(String, Schedule)],
        now: u64,
    ) -> StoreResult<usize> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut replaced = 0;
        for (name, schedule) in devices {
            if Self::put_device_in(&transaction, name, schedule, now)? {
                replaced += 1;
            }
        }
        transaction.commit()?;
        Ok(replaced)
    }

    /// One device of [`put_device`](Self::put_device), inside `transaction`.
    fn put_device_in(
        transaction: &Connection,
        name: &str,
        schedule: &Schedule,
        now: u64,
    ) -> StoreResult<bool> {
        let existed: Option<bool> = transaction
            .query_row(
                "SELECT removed = 0 FROM devices WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
            .optional()?;
        let hash = match schedule.auth_mode {
            AuthMode::AuthString => schedule.auth_hash.as_ref(),
            _ => None,
        };
        let status = if schedule.operation == Operation::None {
            Status::None
        } else {
            Status::Pending
        };
        transaction.execute(
            "INSERT INTO devices (name, operation, key_request, auth_mode, auth_salt, auth_hash,
                 auth_iterations, failed_attempts, locked, status, status_operation,
                 status_detail, removed, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, ?8, ?9, NULL, 0, ?10, ?10)
             ON CONFLICT (name) DO UPDATE SET
                 operation = excluded.operation, key_request = excluded.key_request,
                 auth_mode = excluded.auth_mode, auth_salt = excluded.auth_salt,
                 auth_hash = excluded.auth_hash, auth_iterations = excluded.auth_iterations,
                 failed_attempts = 0, locked = 0, status = excluded.status,
                 status_operation = excluded.status_operation, status_detail = NULL,
                 removed = 0, updated_at = excluded.updated_at",
            params![
                name,
                schedule.operation.as_str(),
                schedule.key_request.to_string(),
                schedule.auth_mode.as_str(),
                hash.map(|h| h.salt.as_slice()),
                hash.map(|h| h.hash.as_slice()),
                hash.map(|h| h.iterations),
                status.as_str(),
                (status != Status::None).then_some(schedule.operation.as_str()),
                to_i64(now),
            ],
        )?;
        let verb = if existed == Some(true) {
            "replaced"
        } else {
            "added"
        };
        Self::event(
            transaction,
            name,
            now,
            format!(
                "{verb}: operation {}, auth {}, key {}",
                schedule.operation, schedule.auth_mode, schedule.key_request
            ),
        )?;
        Ok(existed == Some(true))
    }

    /// Changes the scheduled operation (and optionally the key request and
    /// the authentication string hash) of an existing device; resets
    /// failures and the lock.
    pub(crate) fn set_operation(
        &mut self,
        name: &str,
        operation: Operation,
        key_request: Option<KeyRequest>,
        auth_hash: Option<&StoredAuthHash>,
        now: u64,
    ) -> StoreResult<()> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Self::require_device(&transaction, name)?;
        let status = if operation == Operation::None {
            Status::None
        } else {
            Status::Pending
        };
        transaction.execute(
            "UPDATE devices SET operation = ?2, key_request = COALESCE(?3, key_request),
                 failed_attempts = 0, locked = 0, status = ?4, status_operation = ?5,
                 status_detail = NULL, updated_at = ?6
             WHERE name = ?1",
            params![
                name,
                operation.as_str(),
                key_request.map(|key| key.to_string()),
                status.as_str(),
                (status != Status::None).then_some(operation.as_str()),
                to_i64(now),
            ],
        )?;
        if let Some(hash) = auth_hash {
            transaction.execute(
                "UPDATE devices SET auth_salt = ?2, auth_hash = ?3, auth_iterations = ?4
                 WHERE name = ?1 AND auth_mode = 'auth-string'",
                params![name, hash.salt, hash.hash, hash.iterations],
            )?;
        }
        Self::event(
            &transaction,
            name,
            now,
            match key_request {
                Some(key) => format!("scheduled: operation {operation}, key {key}"),
                None => format!("scheduled: operation {operation}"),
            },
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// Every non-removed device, by name.
    pub(crate) fn list(&self) -> StoreResult<Vec<Device>> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE removed = 0 ORDER BY name"
        ))?;
        let rows = statement
            .query_map([], device_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(device_from_row).collect()
    }

    /// One device.
    pub(crate) fn device(&self, name: &str) -> StoreResult<Device> {
        let row = self
            .connection
            .query_row(
                &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE name = ?1 AND removed = 0"),
                [name],
                device_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::UnknownDevice(name.to_owned()))?;
        device_from_row(row)
    }

    /// The stored authentication-string hash of a device, if any (for the
    /// server session).
    pub(crate) fn auth_hash(&self, name: &str) -> StoreResult<Option<StoredAuthHash>> {
        Self::require_device(&self.connection, name)?;
        let row: (Option<Vec<u8>>, Option<Vec<u8>>, Option<u32>) = self.connection.query_row(
            "SELECT auth_salt, auth_hash, auth_iterations FROM devices WHERE name = ?1",
            [name],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?;
        Ok(match row {
            (Some(salt), Some(hash), Some(iterations)) => Some(StoredAuthHash {
                salt,
                iterations,
                hash,
            }),
            _ => None,
        })
    }

    /// The record the server session ([`capf_core::server::ServerSession`])
    /// asks for, built from the row: a locked device gets `u32::MAX` failed
    /// attempts so the session refuses it whatever its configured limit.
    pub(crate) fn device_record(&self, name: &str) -> StoreResult<server::DeviceRecord> {
        let device = self.device(name)?;
        let operation = match device.operation {
            Operation::None => server::Operation::None,
            Operation::Install => server::Operation::Install(device.key_request),
            Operation::Fetch => server::Operation::Fetch,
            Operation::Delete => server::Operation::Delete,
        };
        let authentication = match device.auth_mode {
            AuthMode::AuthString => match self.auth_hash(name)? {
                Some(stored) => server::AuthMode::AuthString(auth_string_verifier(&stored)?),
                None => return Err(StoreError::NoAuthString(name.to_owned())),
            },
            AuthMode::Null => server::AuthMode::NullString,
            AuthMode::Lsc => server::AuthMode::ExistingCertificate {
                prefer: server::CertificatePreference::Lsc,
            },
            AuthMode::Mic => server::AuthMode::ExistingCertificate {
                prefer: server::CertificatePreference::Mic,
            },
        };
        let failed = if device.locked {
            u32::MAX
        } else {
            device.failed_attempts
        };
        Ok(server::DeviceRecord::new(name, operation, authentication).with_failed_attempts(failed))
    }

    /// The device's certificates, oldest first.
    pub(crate) fn certificates(&self, name: &str) -> StoreResult<Vec<CertificateEntry>> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE device = ?1 ORDER BY id"
        ))?;
        let rows = statement
            .query_map([name], certificate_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(certificate_from_row).collect()
    }

    /// The device's events, oldest first.
    pub(crate) fn events(&self, name: &str) -> StoreResult<Vec<Event>> {
        let mut statement = self
            .connection
            .prepare("SELECT time, device, what FROM events WHERE device = ?1 ORDER BY id")?;
        let events = statement
            .query_map([name], |row| {
                Ok(Event {
                    time: to_u64(row.get(0)?),
                    device: row.get(1)?,
                    what: row.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(events)
    }

    /// Removes a device from the registry. Its certificate ledger and events
    /// are kept (the row is marked removed; `put_device` revives it).
    /// Returns how many certificates the ledger keeps for it.
    pub(crate) fn remove(&mut self, name: &str, now: u64) -> StoreResult<usize> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Self::require_device(&transaction, name)?;
        transaction.execute(
            "UPDATE devices SET removed = 1, operation = 'none', auth_salt = NULL,
                 auth_hash = NULL, auth_iterations = NULL, updated_at = ?2
             WHERE name = ?1",
            params![name, to_i64(now)],
        )?;
        Self::event(&transaction, name, now, "removed")?;
        let kept: i64 = transaction.query_row(
            "SELECT COUNT(*) FROM certificates WHERE device = ?1",
            [name],
            |row| row.get(0),
        )?;
        transaction.commit()?;
        Ok(usize::try_from(kept).unwrap_or(0))
    }

    /// Runs `work` as one unit of change: its own IMMEDIATE transaction,
    /// committed (and so on disk) when this returns; inside
    /// [`batch`](Self::batch), a savepoint of the batch's transaction.
    fn write<T>(&mut self, work: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        if self.in_batch {
            let savepoint = self.connection.savepoint()?;
            let value = work(&savepoint)?;
            savepoint.commit()?;
            Ok(value)
        } else {
            let transaction = self
                .connection
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = work(&transaction)?;
            transaction.commit()?;
            Ok(value)
        }
    }

    /// Group commit: runs `work`, whose writes share one IMMEDIATE
    /// transaction (each write still all-or-nothing on its own: a failed
    /// one is rolled back to its savepoint), and commits once. Nothing
    /// `work` wrote is durable before this returns `Ok`; if the commit
    /// fails, none of it is.
    pub(crate) fn batch<T>(&mut self, work: impl FnOnce(&mut Self) -> T) -> StoreResult<T> {
        self.connection.execute_batch("BEGIN IMMEDIATE")?;
        self.in_batch = true;
        let value = work(self);
        self.in_batch = false;
        match self.connection.execute_batch("COMMIT") {
            Ok(()) => Ok(value),
            Err(error) => {
                let _ = self.connection.execute_batch("ROLLBACK");
                Err(error.into())
            }
        }
    }

    /// Records a freshly issued certificate as pending, committed to disk
    /// before this returns: call it before the certificate goes to the phone.
    pub(crate) fn record_pending_certificate(
        &mut self,
        name: &str,
        certificate: NewCertificate<'_>,
        now: u64,
    ) -> StoreResult<i64> {
        self.write(|transaction| {
            let id = Self::insert_certificate(
                transaction,
                name,
                certificate,
                CertificateState::Pending,
                now,
            )?;
            Ok(id)
        })
    }

    fn insert_certificate(
        connection: &Connection,
        name: &str,
        certificate: NewCertificate<'_>,
        state: CertificateState,
        now: u64,
    ) -> StoreResult<i64> {
        Self::require_device(connection, name)?;
        connection.execute(
            "INSERT INTO certificates (device, serial_hex, der, state, issued_at, not_after,
                 updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                name,
                certificate.serial_hex,
                certificate.der,
                state.as_str(),
                to_i64(certificate.issued_at),
                to_i64(certificate.not_after),
                to_i64(now),
            ],
        )?;
        let id = connection.last_insert_rowid();
        Self::event(
            connection,
            name,
            now,
            format!(
                "certificate {id} recorded {state} (serial {})",
                certificate.serial_hex
            ),
        )?;
        Ok(id)
    }

    /// Completes the operation in one transaction: status successful,
    /// operation none, failures cleared, and the one-time authentication
    /// string invalidated (its hash cleared).
    fn complete(
        transaction: &Connection,
        name: &str,
        done: Operation,
        now: u64,
    ) -> StoreResult<()> {
        transaction.execute(
            "UPDATE devices SET operation = 'none', status = 'successful',
                 status_operation = ?2, status_detail = NULL, failed_attempts = 0, locked = 0,
                 auth_salt = NULL, auth_hash = NULL, auth_iterations = NULL, updated_at = ?3
             WHERE name = ?1",
            params![name, done.as_str(), to_i64(now)],
        )?;
        Self::event(transaction, name, now, format!("{done} successful"))
    }

    /// The phone stored the pending certificate `id` (STORE_CERT_RESPONSE
    /// success): the install is done.
    pub(crate) fn mark_installed(&mut self, name: &str, id: i64, now: u64) -> StoreResult<()> {
        self.write(|transaction| {
            Self::require_device(transaction, name)?;
            let changed = transaction.execute(
                "UPDATE certificates SET state = 'installed', updated_at = ?3
                 WHERE id = ?2 AND device = ?1 AND state = 'pending'",
                params![name, id, to_i64(now)],
            )?;
            if changed == 0 {
                return Err(StoreError::UnknownCertificate {
                    device: name.to_owned(),
                    id,
                });
            }
            Self::complete(transaction, name, Operation::Install, now)?;
            Ok(())
        })
    }

    /// The phone reported its certificate in a fetch: ledger it as fetched
    /// and complete the operation.
    pub(crate) fn record_fetched(
        &mut self,
        name: &str,
        certificate: NewCertificate<'_>,
        now: u64,
    ) -> StoreResult<i64> {
        self.write(|transaction| {
            let id = Self::insert_certificate(
                transaction,
                name,
                certificate,
                CertificateState::Fetched,
                now,
            )?;
            Self::complete(transaction, name, Operation::Fetch, now)?;
            Ok(id)
        })
    }

    /// The phone deleted its LSC: every live certificate of the device is
    /// marked deleted (kept in the ledger) and the operation completes.
    pub(crate) fn mark_deleted(&mut self, name: &str, now: u64) -> StoreResult<()> {
        self.write(|transaction| {
            Self::require_device(transaction, name)?;
            transaction.execute(
                "UPDATE certificates SET state = 'deleted', updated_at = ?2
                 WHERE device = ?1 AND state <> 'deleted'",
                params![name, to_i64(now)],
            )?;
            Self::complete(transaction, name, Operation::Delete, now)?;
            Ok(())
        })
    }

    /// Counts a failed authentication; at `lock_after` failures (if not
    /// zero) the device is locked until rescheduled. Returns the count and
    /// whether the device is now locked. The operation stays scheduled.
    pub(crate) fn record_auth_failure(
        &mut self,
        name: &str,
        lock_after: u32,
        now: u64,
    ) -> StoreResult<(u32, bool)> {
        self.write(|transaction| {
            Self::require_device(transaction, name)?;
            let (failed, locked): (i64, bool) = transaction.query_row(
                "UPDATE devices SET failed_attempts = failed_attempts + 1,
                     locked = (locked OR (?2 > 0 AND failed_attempts + 1 >= ?2)),
                     status = CASE WHEN operation = 'none' THEN status ELSE 'failed' END,
                     status_detail = 'authentication failed', updated_at = ?3
                 WHERE name = ?1
                 RETURNING failed_attempts, locked",
                params![name, lock_after, to_i64(now)],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            let failed = u32::try_from(failed).unwrap_or(u32::MAX);
            Self::event(
                transaction,
                name,
                now,
                if locked {
                    format!("authentication failed ({failed}), locked")
                } else {
                    format!("authentication failed ({failed})")
                },
            )?;
            Ok((failed, locked))
        })
    }

    /// Resets the device after a successful operation without a ledger
    /// change: failures cleared, operation none, authentication string
    /// invalidated.
    pub(crate) fn reset_after_success(
        &mut self,
        name: &str,
        done: Operation,
        now: u64,
    ) -> StoreResult<()> {
        self.write(|transaction| {
            Self::require_device(transaction, name)?;
            Self::complete(transaction, name, done, now)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capf_core::wire::Curve;

    /// A fast hash for tests (the real count is far higher).
    fn test_hash(auth_string: &str) -> StoredAuthHash {
        hash_auth_string(auth_string, 10, &mut rand_core::OsRng).unwrap()
    }

    fn schedule(operation: Operation, mode: AuthMode, hash: Option<StoredAuthHash>) -> Schedule {
        Schedule {
            operation,
            key_request: KeyRequest::Ec(Curve::P256),
            auth_mode: mode,
            auth_hash: hash,
        }
    }

    fn temp_path(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "capf-store-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("capf.db")
    }

    const CERT: NewCertificate<'static> = NewCertificate {
        serial_hex: "0a1b2c",
        der: b"\x30\x03\x02\x01\x01",
        issued_at: 1_700_000_000,
        not_after: 1_731_536_000,
    };

    #[test]
    fn a_batch_commits_its_writes_together_and_a_failed_write_alone_is_undone() {
        let path = temp_path("batch");
        let mut store = Store::open(&path).unwrap();
        let install = schedule(Operation::Install, AuthMode::Null, None);
        store.put_device("SEP0011223344AA", &install, 1).unwrap();
        store.put_device("SEP0011223344BB", &install, 1).unwrap();
        let observer = Store::open(&path).unwrap();
        let results = store
            .batch(|store| {
                let first = store.record_pending_certificate("SEP0011223344AA", CERT, 2);
                // Unknown device: this write fails and is rolled back alone.
                let second = store.record_pending_certificate("SEP00112233FFFF", CERT, 2);
                // Pending then installed, both inside the batch.
                let third = store
                    .record_pending_certificate("SEP0011223344BB", CERT, 2)
                    .and_then(|id| store.mark_installed("SEP0011223344BB", id, 3));
                // Not visible to another connection before the commit.
                let seen = observer.certificates("SEP0011223344AA").unwrap().len();
                (first.is_ok(), second.is_err(), third.is_ok(), seen)
            })
            .unwrap();
        assert_eq!(results, (true, true, true, 0));
        let states = |name: &str| -> Vec<CertificateState> {
            observer
                .certificates(name)
                .unwrap()
                .iter()
                .map(|entry| entry.state)
                .collect()
        };
        assert_eq!(states("SEP0011223344AA"), vec![CertificateState::Pending]);
        assert_eq!(states("SEP0011223344BB"), vec![CertificateState::Installed]);
        assert_eq!(
            observer.device("SEP0011223344BB").unwrap().operation,
            Operation::None
        );
        // Outside a batch, writes commit on their own again.
        store
            .record_pending_certificate("SEP0011223344AA", CERT, 4)
            .unwrap();
        assert_eq!(observer.certificates("SEP0011223344AA").unwrap().len(), 2);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn pending_certificate_survives_reopening_the_file() {
        let path = temp_path("durable");
        let id = {
            let mut store = Store::open(&path).unwrap();
            store
                .put_device(
                    "SEP001122334455",
                    &schedule(Operation::Install, AuthMode::Null, None),
                    1,
                )
                .unwrap();
            store
                .record_pending_certificate("SEP001122334455", CERT, 2)
                .unwrap()
            // dropped without any further call: nothing else commits
        };
        let store = Store::open(&path).unwrap();
        let certificates = store.certificates("SEP001122334455").unwrap();
        assert_eq!(certificates.len(), 1);
        assert_eq!(certificates[0].id, id);
        assert_eq!(certificates[0].state, CertificateState::Pending);
        assert_eq!(certificates[0].der, CERT.der);
        assert_eq!(certificates[0].serial_hex, "0a1b2c");
        let mode: String = store
            .connection
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn migrations_are_idempotent() {
        let path = temp_path("migrate");
        {
            let mut store = Store::open(&path).unwrap();
            assert_eq!(store.schema_version().unwrap(), 1);
            store
                .put_device(
                    "SEP001122334455",
                    &schedule(Operation::Fetch, AuthMode::Lsc, None),
                    1,
                )
                .unwrap();
            // Running them again on an up-to-date file changes nothing.
            store.migrate().unwrap();
            // Even the SQL itself can be re-run (IF NOT EXISTS everywhere).
            store.connection.execute_batch(MIGRATIONS[0]).unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), 1);
        assert_eq!(store.list().unwrap().len(), 1);
        // A file from a newer capf is refused rather than misread.
        store
            .connection
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
        drop(store);
        assert!(matches!(
            Store::open(&path),
            Err(StoreError::SchemaTooNew { found: 99, .. })
        ));
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn install_flow_invalidates_the_auth_string() {
        let mut store = Store::open_in_memory().unwrap();
        let name = "SEP001122334455";
        store
            .put_device(
                name,
                &schedule(
                    Operation::Install,
                    AuthMode::AuthString,
                    Some(test_hash("123456")),
                ),
                10,
            )
            .unwrap();
        let stored = store.auth_hash(name).unwrap().unwrap();
        assert!(auth_string_verifier(&stored).unwrap().verify(b"123456"));
        assert!(!auth_string_verifier(&stored).unwrap().verify(b"654321"));

        let device = store.device(name).unwrap();
        assert_eq!(device.status, Status::Pending);
        assert!(device.has_auth_string);
        let record = store.device_record(name).unwrap();
        assert_eq!(
            record.operation,
            server::Operation::Install(KeyRequest::Ec(Curve::P256))
        );
        match &record.authentication {
            server::AuthMode::AuthString(hash) => assert!(hash.verify(b"123456")),
            other => panic!("{other:?}"),
        }

        let id = store.record_pending_certificate(name, CERT, 11).unwrap();
        // Still pending until the phone confirms; the phone may retry.
        assert_eq!(store.device(name).unwrap().operation, Operation::Install);
        store.mark_installed(name, id, 12).unwrap();
        let device = store.device(name).unwrap();
        assert_eq!(device.operation, Operation::None);
        assert_eq!(device.status, Status::Successful);
        assert_eq!(device.status_operation, Some(Operation::Install));
        assert!(!device.has_auth_string);
        assert_eq!(store.auth_hash(name).unwrap(), None);
        assert!(matches!(
            store.device_record(name),
            Err(StoreError::NoAuthString(_))
        ));
        assert_eq!(
            store.certificates(name).unwrap()[0].state,
            CertificateState::Installed
        );
        // A certificate cannot be installed twice.
        assert!(store.mark_installed(name, id, 13).is_err());
    }

    #[test]
    fn auth_failures_lock_and_rescheduling_unlocks() {
        let mut store = Store::open_in_memory().unwrap();
        let name = "SEP001122334455";
        store
            .put_device(
                name,
                &schedule(
                    Operation::Install,
                    AuthMode::AuthString,
                    Some(test_hash("1234")),
                ),
                1,
            )
            .unwrap();
        assert_eq!(store.record_auth_failure(name, 3, 2).unwrap(), (1, false));
        assert_eq!(store.record_auth_failure(name, 3, 3).unwrap(), (2, false));
        assert_eq!(store.record_auth_failure(name, 3, 4).unwrap(), (3, true));
        let device = store.device(name).unwrap();
        assert!(device.locked);
        assert_eq!(store.device_record(name).unwrap().failed_attempts, u32::MAX);
        assert_eq!(device.status, Status::Failed);
        assert_eq!(device.operation, Operation::Install);
        store
            .set_operation(name, Operation::Install, None, None, 5)
            .unwrap();
        let device = store.device(name).unwrap();
        assert!(!device.locked);
        assert_eq!(device.failed_attempts, 0);
        assert!(device.has_auth_string);
        // A success without a ledger change still uses up the string.
        store
            .reset_after_success(name, Operation::Install, 6)
            .unwrap();
        let device = store.device(name).unwrap();
        assert!(!device.has_auth_string);
        assert_eq!(device.status, Status::Successful);
    }

    #[test]
    fn ledger_is_append_only_and_survives_removal() {
        let mut store = Store::open_in_memory().unwrap();
        let name = "CSFALICE";
        store
            .put_device(name, &schedule(Operation::Fetch, AuthMode::Mic, None), 1)
            .unwrap();
        store.record_fetched(name, CERT, 2).unwrap();
        assert_eq!(store.device(name).unwrap().status, Status::Successful);
        assert!(
            store
                .connection
                .execute("DELETE FROM certificates", [])
                .is_err()
        );
        assert!(
            store
                .connection
                .execute("UPDATE certificates SET der = x'00'", [])
                .is_err()
        );
        store
            .set_operation(name, Operation::Delete, None, None, 3)
            .unwrap();
        store.mark_deleted(name, 4).unwrap();
        assert_eq!(
            store.certificates(name).unwrap()[0].state,
            CertificateState::Deleted
        );
        assert_eq!(store.remove(name, 5).unwrap(), 1);
        assert!(matches!(
            store.device(name),
            Err(StoreError::UnknownDevice(_))
        ));
        assert!(store.list().unwrap().is_empty());
        assert_eq!(store.certificates(name).unwrap().len(), 1);
        // Adding it again revives the row with its history.
        assert!(
            !store
                .put_device(name, &schedule(Operation::None, AuthMode::Null, None), 6)
                .unwrap()
        );
        assert!(store.events(name).unwrap().len() >= 5);
    }

    #[test]
    fn unknown_devices_are_reported() {
        let mut store = Store::open_in_memory().unwrap();
        assert!(matches!(
            store.record_pending_certificate("SEP000000000000", CERT, 1),
            Err(StoreError::UnknownDevice(_))
        ));
        assert!(matches!(
            store.remove("SEP000000000000", 1),
            Err(StoreError::UnknownDevice(_))
        ));
    }
}
