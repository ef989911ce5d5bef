//! The SQLite backend: one file holding the device registry, the
//! certificate ledger, the event log and the TVS allow-list.
//!
//! - WAL journal, `synchronous = FULL`: a write that returned is on disk.
//!   The one exception is a claim's lease and its release (`Durability`):
//!   they commit without an fsync of their own, and the next durable commit
//!   (the pending certificate, the outcome) carries them to disk. Losing a
//!   lease in a power loss is harmless (the session ended too, and a lease
//!   ends by itself), and one fsync per enrollment fewer is a third of the
//!   registry's disk flushes.
//! - Statements go through each connection's prepared-statement cache: a
//!   session's statements are compiled once per connection, not per call.
//! - Group commit: one writer thread owns the write connection. It takes
//!   every queued write, runs them in one IMMEDIATE transaction, each in its
//!   own savepoint (a failed write is undone alone), commits once, and only
//!   then answers each caller. Many sessions share one fsync.
//! - Reads use a second connection and see committed data only.
//! - Several processes may open one file: SQLite's locks serialise their
//!   writers (a busy timeout makes them wait), and every conditional write
//!   (a claim) reads and writes inside one IMMEDIATE transaction, so two
//!   processes racing for one operation cannot both win.

use capf_core::capf::key_request::KeyRequest;
use ctl_format::trust_list::Role;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::error::{RegistryError, RegistryResult};
use crate::model::{
    CertificateEntry, CertificateState, Claim, ClaimAnswer, ClaimToken, Completion, Device, Event,
    FailureReason, LedgerChange, NewCertificate, Operation, OperationStatus, OutcomeWrite,
    Recorded, Revocation, RevocationTarget, Schedule, Status, StatusOperation, StoredAuthHash,
    StoredDevice,
};
use crate::offline_ca::{CertificateRequest, NewCertificateRequest};
use crate::settings::Settings;
use crate::tvs::{TvsEntry, TvsRegistration, parse_roles, roles_text};
use crate::{Registry, TvsAllowList, rules};
use capf_core::revocation::RevocationReason;

/// Schema migrations, applied in order; `PRAGMA user_version` records the
/// last one applied. Each runs in one transaction with its version bump.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: devices, certificate ledger, events. The CHECKs on a column's
    // values are written as comparisons joined by OR, not `IN (...)`:
    // SQLite compiles an IN list of more than two values into a temporary
    // b-tree built at every row written, which cost the session's writes
    // about a sixth of the writer's CPU (files made before this change
    // keep the IN form: the same rule, a little slower).
    r"
    CREATE TABLE IF NOT EXISTS devices (
        name TEXT PRIMARY KEY NOT NULL,
        operation TEXT NOT NULL DEFAULT 'none'
            CHECK (operation = 'none' OR operation = 'install'
                OR operation = 'fetch' OR operation = 'delete'),
        key_request TEXT NOT NULL,
        auth_mode TEXT NOT NULL
            CHECK (auth_mode = 'auth-string' OR auth_mode = 'null'
                OR auth_mode = 'lsc' OR auth_mode = 'mic'),
        auth_salt BLOB,
        auth_hash BLOB,
        auth_iterations INTEGER,
        failed_attempts INTEGER NOT NULL DEFAULT 0,
        locked INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'none'
            CHECK (status = 'none' OR status = 'pending'
                OR status = 'failed' OR status = 'successful'),
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
            CHECK (state = 'pending' OR state = 'installed'
                OR state = 'fetched' OR state = 'deleted'),
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
    // 2: one operation, one certificate: the session holding a device's
    // scheduled operation, and the end of its lease (Unix seconds).
    r"
    ALTER TABLE devices ADD COLUMN claim_token BLOB
        CHECK (claim_token IS NULL OR length(claim_token) = 16);
    ALTER TABLE devices ADD COLUMN claim_expires INTEGER;
    ",
    // 3: keyed authentication-string hashes (HMAC-SHA256 under a key kept
    // outside the database), indexed so a string is found among many. Rows
    // with the PBKDF2 columns keep working until used or replaced.
    r"
    ALTER TABLE devices ADD COLUMN auth_hmac BLOB
        CHECK (auth_hmac IS NULL OR length(auth_hmac) = 32);
    CREATE INDEX IF NOT EXISTS devices_auth_hmac ON devices(auth_hmac)
        WHERE auth_hmac IS NOT NULL;
    ",
    // 4: deadlines, descriptions and Unified CM's operation statuses (by
    // slug, `OperationStatus::slug`) with when they changed; existing rows
    // get the status their old one means.
    r"
    ALTER TABLE devices ADD COLUMN complete_by INTEGER;
    ALTER TABLE devices ADD COLUMN description TEXT;
    ALTER TABLE devices ADD COLUMN op_status TEXT NOT NULL DEFAULT 'none';
    ALTER TABLE devices ADD COLUMN op_status_at INTEGER;
    UPDATE devices SET op_status_at = updated_at, op_status = COALESCE(CASE
        WHEN status = 'pending' THEN 'operation-pending'
        WHEN status IN ('successful', 'failed') THEN
            (CASE status_operation WHEN 'install' THEN 'upgrade' WHEN 'fetch' THEN 'troubleshoot'
                 WHEN 'delete' THEN 'delete' ELSE NULL END)
            || (CASE status WHEN 'successful' THEN '-success' ELSE '-failed' END)
        END, 'none');
    CREATE INDEX IF NOT EXISTS devices_op_status ON devices(op_status);
    ",
    // 5: revocation and renewal in the ledger. A revocation (RFC 5280
    // reason name and time) is final; `replaced_by` is the ledger id of the
    // certificate that renewed this one. Serials are looked up (TVS, `capf
    // cert revoke --serial`).
    r"
    ALTER TABLE certificates ADD COLUMN revoked_at INTEGER;
    ALTER TABLE certificates ADD COLUMN revocation_reason TEXT
        CHECK ((revocation_reason IS NULL) = (revoked_at IS NULL));
    ALTER TABLE certificates ADD COLUMN replaced_by INTEGER REFERENCES certificates(id);
    CREATE INDEX IF NOT EXISTS certificates_serial ON certificates(ltrim(serial_hex, '0'));
    CREATE INDEX IF NOT EXISTS certificates_revoked ON certificates(revoked_at)
        WHERE revoked_at IS NOT NULL;
    CREATE TRIGGER IF NOT EXISTS certificates_revocation_is_final
        BEFORE UPDATE OF revoked_at, revocation_reason ON certificates
        WHEN OLD.revoked_at IS NOT NULL
        BEGIN SELECT RAISE(ABORT, 'a revocation is final'); END;
    ",
    // 6: registry settings (service parameters shared by every server on
    // the registry), by name as `Settings::NAMES` says; absent: default.
    r"
    CREATE TABLE IF NOT EXISTS settings (
        name TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    ) STRICT;
    ",
    // 7: certificate requests kept for the offline CA (`offline_ca`): the
    // phone's key, its signed request if any, when a newer key made it
    // stale, and the ledger row of the certificate imported for it.
    r"
    CREATE TABLE IF NOT EXISTS certificate_requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        device TEXT NOT NULL REFERENCES devices(name) ON DELETE RESTRICT,
        key_request TEXT NOT NULL,
        spki BLOB NOT NULL,
        csr BLOB,
        requested_at INTEGER NOT NULL,
        stale_at INTEGER,
        certificate_id INTEGER REFERENCES certificates(id),
        imported_at INTEGER,
        CHECK ((certificate_id IS NULL) = (imported_at IS NULL))
    ) STRICT;
    CREATE INDEX IF NOT EXISTS certificate_requests_device ON certificate_requests(device);
    ",
];

/// The TVS table, created idempotently beside the CAPF schema (files made
/// by earlier `capf tvs` releases have it without a migration).
const TVS_SCHEMA: &str = r"
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

/// How long a connection waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Most writes committed together.
const MAX_BATCH: usize = 256;

/// Most prepared statements kept per connection (rusqlite's default is
/// 16; the session path alone uses about 15 distinct statements).
const STATEMENT_CACHE: usize = 64;

/// Runs one statement through the connection's prepared-statement cache:
/// the hot statements of a session are compiled once per connection, not
/// once per call as `Connection::execute` does.
fn execute<P: rusqlite::Params>(
    connection: &Connection,
    sql: &str,
    params: P,
) -> rusqlite::Result<usize> {
    connection.prepare_cached(sql)?.execute(params)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn parse<T: FromStr>(what: &str, text: &str) -> RegistryResult<T> {
    text.parse()
        .map_err(|_| RegistryError::Corrupt(format!("{what} ({text:?})")))
}

/// The device columns [`DeviceRow::read`] reads, in its order (a macro so
/// that the statements using them are `&'static str`s, prepared once per
/// connection through its statement cache).
macro_rules! device_columns {
    () => {
        "name, operation, key_request, auth_mode, \
         (auth_hash IS NOT NULL OR auth_hmac IS NOT NULL), \
         failed_attempts, locked, status, status_operation, status_detail, created_at, \
         updated_at, claim_expires, auth_salt, auth_hash, auth_iterations, claim_token, \
         auth_hmac, op_status, op_status_at, complete_by, description"
    };
}

/// [`device_columns!`] as a constant, for statements built at run time.
const DEVICE_COLUMNS: &str = device_columns!();

/// One device that is not removed, by name (the hot read of every session).
const SELECT_DEVICE: &str = concat!(
    "SELECT ",
    device_columns!(),
    " FROM devices WHERE name = ?1 AND removed = 0"
);

const CERTIFICATE_COLUMNS: &str = "id, device, serial_hex, der, state, issued_at, not_after, \
     updated_at, revoked_at, revocation_reason, replaced_by";

/// A device row as SQLite gives it, checked by [`DeviceRow::stored`].
struct DeviceRow {
    name: String,
    operation: String,
    key_request: String,
    auth_mode: String,
    has_hash: bool,
    failed: i64,
    locked: bool,
    status: String,
    status_operation: Option<String>,
    status_detail: Option<String>,
    created_at: i64,
    updated_at: i64,
    claim_expires: Option<i64>,
    auth_salt: Option<Vec<u8>>,
    auth_hash: Option<Vec<u8>>,
    auth_iterations: Option<u32>,
    claim_token: Option<Vec<u8>>,
    auth_hmac: Option<Vec<u8>>,
    op_status: String,
    op_status_at: Option<i64>,
    complete_by: Option<i64>,
    description: Option<String>,
}

impl DeviceRow {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            name: row.get(0)?,
            operation: row.get(1)?,
            key_request: row.get(2)?,
            auth_mode: row.get(3)?,
            has_hash: row.get(4)?,
            failed: row.get(5)?,
            locked: row.get(6)?,
            status: row.get(7)?,
            status_operation: row.get(8)?,
            status_detail: row.get(9)?,
            created_at: row.get(10)?,
            updated_at: row.get(11)?,
            claim_expires: row.get(12)?,
            auth_salt: row.get(13)?,
            auth_hash: row.get(14)?,
            auth_iterations: row.get(15)?,
            claim_token: row.get(16)?,
            auth_hmac: row.get(17)?,
            op_status: row.get(18)?,
            op_status_at: row.get(19)?,
            complete_by: row.get(20)?,
            description: row.get(21)?,
        })
    }

    fn claim_token(&self) -> Option<ClaimToken> {
        self.claim_token
            .as_deref()
            .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
            .map(ClaimToken)
    }

    fn stored(self) -> RegistryResult<StoredDevice> {
        let claimed_until = match (&self.claim_token, self.claim_expires) {
            (Some(_), Some(expires)) => Some(to_u64(expires)),
            _ => None,
        };
        let device = Device {
            operation: parse("operation", &self.operation)?,
            key_request: parse::<KeyRequest>("key request", &self.key_request)?,
            auth_mode: parse("auth mode", &self.auth_mode)?,
            has_auth_string: self.has_hash,
            failed_attempts: u32::try_from(self.failed).unwrap_or(u32::MAX),
            locked: self.locked,
            status: parse("status", &self.status)?,
            status_operation: self
                .status_operation
                .as_deref()
                .map(|text| parse("status operation", text))
                .transpose()?,
            status_detail: self.status_detail,
            claimed_until,
            created_at: to_u64(self.created_at),
            updated_at: to_u64(self.updated_at),
            operation_status: parse("operation status", &self.op_status)?,
            status_changed_at: to_u64(self.op_status_at.unwrap_or(self.updated_at)),
            complete_by: self.complete_by.map(to_u64),
            description: self.description,
            name: self.name,
        };
        let auth_hash = match (
            self.auth_hmac,
            self.auth_salt,
            self.auth_hash,
            self.auth_iterations,
        ) {
            (Some(hmac), ..) => Some(StoredAuthHash::Keyed {
                hash: hmac
                    .try_into()
                    .map_err(|_| RegistryError::Corrupt("authentication HMAC length".into()))?,
            }),
            (None, Some(salt), Some(hash), Some(iterations)) => Some(StoredAuthHash::Pbkdf2 {
                salt,
                iterations,
                hash,
            }),
            _ => None,
        };
        Ok(StoredDevice { device, auth_hash })
    }
}

fn certificate_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<CertificateRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        (row.get(8)?, row.get(9)?, row.get(10)?),
    ))
}

type CertificateRow = (
    i64,
    String,
    String,
    Vec<u8>,
    String,
    i64,
    i64,
    i64,
    (Option<i64>, Option<String>, Option<i64>),
);

fn certificate_entry(row: CertificateRow) -> RegistryResult<CertificateEntry> {
    let (id, device, serial_hex, der, state, issued_at, not_after, updated_at, later) = row;
    let (revoked_at, reason, replaced_by) = later;
    let revocation = match (revoked_at, reason) {
        (Some(at), Some(reason)) => Some(Revocation {
            reason: parse("revocation reason", &reason)?,
            revoked_at: to_u64(at),
        }),
        _ => None,
    };
    Ok(CertificateEntry {
        revocation,
        replaced_by,
        id,
        device,
        serial_hex,
        der,
        state: parse("certificate state", &state)?,
        issued_at: to_u64(issued_at),
        not_after: to_u64(not_after),
        updated_at: to_u64(updated_at),
    })
}

/// One queued write: runs inside the batch's transaction, then learns
/// whether the batch committed.
trait WriteJob: Send {
    /// Whether the caller relies on the write surviving a power loss once
    /// answered (see [`Durability`]).
    fn durability(&self) -> Durability;
    /// Runs the write in the open transaction without a savepoint of its
    /// own and keeps its result for [`answer`](Self::answer); false when it
    /// failed after changing a row (the batch is then undone and runs again
    /// through [`run`](Self::run)). A write that failed before it changed
    /// anything (an unknown device, a lost claim) leaves nothing to undo:
    /// its error is its answer, and the batch goes on.
    fn attempt(&mut self, connection: &Connection) -> bool;
    /// After a successful [`attempt`](Self::attempt): how to answer the
    /// caller once the commit's result is known.
    fn answer(self: Box<Self>) -> Box<dyn FnOnce(RegistryResult<()>) + Send>;
    /// Runs the write in its own savepoint and returns how to answer the
    /// caller once the commit's result is known.
    fn run(self: Box<Self>, connection: &Connection) -> Box<dyn FnOnce(RegistryResult<()>) + Send>;
    /// The batch could not start: answers the caller with `error`.
    fn fail(self: Box<Self>, error: RegistryError);
}

/// A write and how its caller hears the answer.
struct Job<T, F> {
    work: F,
    durability: Durability,
    reply: Reply<T>,
    /// The result of the last [`WriteJob::attempt`].
    attempted: Option<RegistryResult<T>>,
}

/// Where a write's answer goes.
enum Reply<T> {
    /// A thread blocked in [`SqliteRegistry::write`].
    Blocking(mpsc::SyncSender<RegistryResult<T>>),
    /// A task awaiting a [`PendingWrite`].
    Waiting(Completer<T>),
}

impl<T> Reply<T> {
    fn send(self, value: RegistryResult<T>) {
        match self {
            // The caller may have gone (nobody waits): nothing to do.
            Reply::Blocking(sender) => drop(sender.send(value)),
            Reply::Waiting(completer) => completer.complete(value),
        }
    }
}

/// The answer slot a [`PendingWrite`] and its [`Completer`] share.
struct Slot<T> {
    value: Option<RegistryResult<T>>,
    /// The completer is gone (answered, or dropped without an answer).
    closed: bool,
    waker: Option<Waker>,
}

/// The writer's end of a [`PendingWrite`]: dropped without an answer (the
/// writer stopped), the future resolves to [`RegistryError::WriterStopped`].
pub(crate) struct Completer<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

impl<T> Completer<T> {
    pub(crate) fn complete(self, value: RegistryResult<T>) {
        if let Ok(mut slot) = self.slot.lock() {
            slot.value = Some(value);
        }
        // Drop closes the slot and wakes the task.
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        let waker = match self.slot.lock() {
            Ok(mut slot) => {
                slot.closed = true;
                slot.waker.take()
            }
            Err(_) => None,
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// A registry write in flight, as a future: the answer of one of the
/// `*_async` methods of [`SqliteRegistry`], ready once the write's batch is
/// committed (durably, as the blocking method would return).
///
/// Awaiting it blocks no thread: the writer thread wakes the task, so an
/// async host needs no blocking-pool thread (and its two thread switches)
/// per registry write. Dropping it does not cancel the write.
#[must_use = "a write's answer says whether it was committed"]
pub struct PendingWrite<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

impl<T> std::fmt::Debug for PendingWrite<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingWrite").finish_non_exhaustive()
    }
}

impl<T> PendingWrite<T> {
    /// A future and the completer that answers it.
    pub(crate) fn new() -> (Self, Completer<T>) {
        let slot = Arc::new(Mutex::new(Slot {
            value: None,
            closed: false,
            waker: None,
        }));
        (Self { slot: slot.clone() }, Completer { slot })
    }
}

impl<T> Future for PendingWrite<T> {
    type Output = RegistryResult<T>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let Ok(mut slot) = self.slot.lock() else {
            return Poll::Ready(Err(RegistryError::WriterStopped));
        };
        if let Some(value) = slot.value.take() {
            return Poll::Ready(value);
        }
        if slot.closed {
            return Poll::Ready(Err(RegistryError::WriterStopped));
        }
        slot.waker = Some(context.waker().clone());
        Poll::Pending
    }
}

impl<T, F> WriteJob for Job<T, F>
where
    T: Send + 'static,
    F: FnMut(&Connection) -> RegistryResult<T> + Send,
{
    fn durability(&self) -> Durability {
        self.durability
    }

    fn attempt(&mut self, connection: &Connection) -> bool {
        let changes_before = connection.total_changes();
        let result = (self.work)(connection);
        // `total_changes` counts the rows of every completed INSERT, UPDATE
        // and DELETE (triggers' included); a statement that failed undid
        // its own. An error that ended the transaction needs the rerun.
        let must_undo = result.is_err()
            && (connection.total_changes() != changes_before || connection.is_autocommit());
        self.attempted = Some(result);
        !must_undo
    }

    fn answer(self: Box<Self>) -> Box<dyn FnOnce(RegistryResult<()>) + Send> {
        let Job {
            reply, attempted, ..
        } = *self;
        let result =
            attempted.unwrap_or_else(|| Err(RegistryError::Database("write not attempted".into())));
        Box::new(move |committed| reply.send(committed.and(result)))
    }

    fn run(self: Box<Self>, connection: &Connection) -> Box<dyn FnOnce(RegistryResult<()>) + Send> {
        let Job {
            mut work, reply, ..
        } = *self;
        let result = in_savepoint(connection, &mut work);
        Box::new(move |committed| reply.send(committed.and(result)))
    }

    fn fail(self: Box<Self>, error: RegistryError) {
        self.reply.send(Err(error));
    }
}

/// Runs `work` in a savepoint: kept when it succeeds, undone when it fails.
fn in_savepoint<T>(
    connection: &Connection,
    work: &mut impl FnMut(&Connection) -> RegistryResult<T>,
) -> RegistryResult<T> {
    execute(connection, "SAVEPOINT capf_write", [])?;
    match work(connection) {
        Ok(value) => {
            execute(connection, "RELEASE capf_write", [])?;
            Ok(value)
        }
        Err(error) => {
            execute(connection, "ROLLBACK TO capf_write", [])?;
            execute(connection, "RELEASE capf_write", [])?;
            Err(error)
        }
    }
}

/// Runs a batch of writes as one IMMEDIATE transaction and answers each
/// once the commit's result is known (group commit).
///
/// Each write first runs without a savepoint of its own: a SAVEPOINT and
/// its RELEASE cost as much as a session's short write itself. When one
/// fails, the transaction is rolled back and the batch runs again with
/// each write in its own savepoint, so that a failed write undoes only
/// itself.
fn run_batch(connection: &Connection, mut batch: Vec<Box<dyn WriteJob>>) {
    if let Err(error) = execute(connection, "BEGIN IMMEDIATE", []) {
        fail_all(batch, &RegistryError::from(error));
        return;
    }
    let answers: Vec<_> = if batch.iter_mut().all(|job| job.attempt(connection)) {
        batch.into_iter().map(|job| job.answer()).collect()
    } else {
        // A failed statement may have ended the transaction already
        // (SQLite does on some errors): the ROLLBACK's error is moot.
        let _ = connection.execute_batch("ROLLBACK");
        if let Err(error) = execute(connection, "BEGIN IMMEDIATE", []) {
            fail_all(batch, &RegistryError::from(error));
            return;
        }
        batch.into_iter().map(|job| job.run(connection)).collect()
    };
    let committed = execute(connection, "COMMIT", [])
        .map(drop)
        .map_err(|error| {
            let _ = connection.execute_batch("ROLLBACK");
            RegistryError::from(error)
        });
    for answer in answers {
        answer(committed.clone());
    }
}

/// Answers every write of a batch that could not run with `error`.
fn fail_all(batch: Vec<Box<dyn WriteJob>>, error: &RegistryError) {
    for job in batch {
        job.fail(error.clone());
    }
}

/// The writer thread's loop: batches every queued write until every sender
/// is gone.
fn writer_loop(connection: Connection, jobs: mpsc::Receiver<Box<dyn WriteJob>>) {
    // `connect` left the connection at synchronous = FULL.
    let mut current = Durability::Durable;
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // A batch of leases only commits without its own fsync; any other
        // write makes the batch durable (FULL), and with it every earlier
        // lease (the WAL is one append-only file: its fsync covers them).
        let wanted = if batch
            .iter()
            .any(|job| job.durability() == Durability::Durable)
        {
            Durability::Durable
        } else {
            Durability::Lease
        };
        if wanted != current {
            let pragma = match wanted {
                Durability::Durable => "PRAGMA synchronous = FULL",
                Durability::Lease => "PRAGMA synchronous = NORMAL",
            };
            if let Err(error) = execute(&connection, pragma, []) {
                // Never commit a durable write under NORMAL: refuse the
                // batch and try again with the next one.
                fail_all(batch, &RegistryError::from(error));
                continue;
            }
            current = wanted;
        }
        run_batch(&connection, batch);
    }
}

/// What a write's caller relies on once it is answered.
///
/// SQLite in WAL mode with `synchronous = FULL` fsyncs the WAL at every
/// commit; with `NORMAL` a commit is visible at once (to this process and
/// to others) and survives a crash of the process, but a power loss before
/// the next fsync may undo it. The next durable commit fsyncs the same
/// append-only WAL, so it makes every earlier commit durable too, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Durability {
    /// Must be on disk before the caller hears of it (a pending
    /// certificate before it is sent, an outcome before END_SESSION, every
    /// administrative change).
    Durable,
    /// A claim's lease or its release: losing it in a power loss leaves
    /// the device as if the session (which the power loss ended too) had
    /// never claimed or released it, and a lease ends by itself. Claims
    /// stay atomic across processes: that is the IMMEDIATE transaction's
    /// lock, not the fsync.
    Lease,
}

/// Opens a connection with the registry's settings.
fn connect(path: &Path) -> RegistryResult<Connection> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // journal_mode returns the mode as a row.
    let _mode: String = connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    connection.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    Ok(connection)
}

/// Applies every migration newer than the file's `user_version`, each in
/// its own immediate transaction (concurrent openers wait, then skip), and
/// creates the TVS table.
pub(crate) fn migrate(connection: &mut Connection) -> RegistryResult<()> {
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let version = i64::try_from(index + 1).unwrap_or(i64::MAX);
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: i64 = transaction.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if current > known {
            return Err(RegistryError::SchemaTooNew {
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
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    transaction.execute_batch(TVS_SCHEMA)?;
    transaction.commit()?;
    Ok(())
}

/// An open registry file: [`Registry`] and [`TvsAllowList`] over SQLite.
///
/// Cheap to share (`Arc<SqliteRegistry>`); every method blocks until its
/// work is done. Dropping it stops the writer thread after the queued
/// writes.
pub struct SqliteRegistry {
    path: PathBuf,
    reader: Mutex<Connection>,
    writer: Option<mpsc::Sender<Box<dyn WriteJob>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for SqliteRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteRegistry")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Drop for SqliteRegistry {
    fn drop(&mut self) {
        self.writer = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl SqliteRegistry {
    /// Opens the registry file, creating it and the schema as needed
    /// (migrations, the TVS table), and starts its writer thread.
    pub fn open(path: &Path) -> RegistryResult<Self> {
        let mut write = connect(path)?;
        migrate(&mut write)?;
        let reader = connect(path)?;
        let (sender, jobs) = mpsc::channel::<Box<dyn WriteJob>>();
        let thread = std::thread::Builder::new()
            .name("capf-registry-writer".into())
            .spawn(move || writer_loop(write, jobs))
            .map_err(|error| {
                RegistryError::Database(format!("cannot start the registry writer: {error}"))
            })?;
        Ok(Self {
            path: path.to_owned(),
            reader: Mutex::new(reader),
            writer: Some(sender),
            thread: Some(thread),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the file.
    pub fn schema_version(&self) -> RegistryResult<i64> {
        self.read(|connection| {
            Ok(connection.query_row("PRAGMA user_version", [], |row| row.get(0))?)
        })
    }

    /// Runs `work` on the read connection.
    fn read<T>(&self, work: impl FnOnce(&Connection) -> RegistryResult<T>) -> RegistryResult<T> {
        let connection = self
            .reader
            .lock()
            .map_err(|_| RegistryError::Database("read connection poisoned".into()))?;
        work(&connection)
    }

    /// Runs `work` on the writer thread, in its own savepoint of the next
    /// batch, and returns once that batch is committed.
    fn write<T, F>(&self, work: F) -> RegistryResult<T>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> RegistryResult<T> + Send + 'static,
    {
        self.write_with(Durability::Durable, work)
    }

    /// [`write`](Self::write) for a claim's lease or its release: answered
    /// once committed, without waiting for an fsync of its own (see
    /// [`Durability::Lease`]).
    fn write_lease<T, F>(&self, work: F) -> RegistryResult<T>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> RegistryResult<T> + Send + 'static,
    {
        self.write_with(Durability::Lease, work)
    }

    fn write_with<T, F>(&self, durability: Durability, work: F) -> RegistryResult<T>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> RegistryResult<T> + Send + 'static,
    {
        let (reply, answer) = mpsc::sync_channel(1);
        self.submit(durability, work, Reply::Blocking(reply))?;
        answer.recv().map_err(|_| RegistryError::WriterStopped)?
    }

    /// [`write_with`](Self::write_with) without blocking: the answer comes
    /// through the returned future.
    fn write_async<T, F>(&self, durability: Durability, work: F) -> PendingWrite<T>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> RegistryResult<T> + Send + 'static,
    {
        let (pending, completer) = PendingWrite::new();
        // On failure the job, and with it the completer, is dropped: the
        // future resolves to WriterStopped.
        let _ = self.submit(durability, work, Reply::Waiting(completer));
        pending
    }

    /// Queues one write for the writer thread.
    fn submit<T, F>(&self, durability: Durability, work: F, reply: Reply<T>) -> RegistryResult<()>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> RegistryResult<T> + Send + 'static,
    {
        let sender = self.writer.as_ref().ok_or(RegistryError::WriterStopped)?;
        sender
            .send(Box::new(Job {
                work,
                durability,
                reply,
                attempted: None,
            }))
            .map_err(|_| RegistryError::WriterStopped)
    }
}

// ---- statements used inside write transactions ----

fn event(connection: &Connection, device: &str, now: u64, what: &str) -> RegistryResult<()> {
    execute(
        connection,
        "INSERT INTO events (time, device, what) VALUES (?1, ?2, ?3)",
        params![to_i64(now), device, what],
    )?;
    Ok(())
}

/// Two events of one write, in order, in one statement.
fn events(connection: &Connection, device: &str, now: u64, what: [&str; 2]) -> RegistryResult<()> {
    execute(
        connection,
        "INSERT INTO events (time, device, what) VALUES (?1, ?2, ?3), (?1, ?2, ?4)",
        params![to_i64(now), device, what[0], what[1]],
    )?;
    Ok(())
}

fn stored_device(connection: &Connection, name: &str) -> RegistryResult<Option<DeviceRow>> {
    Ok(connection
        .prepare_cached(SELECT_DEVICE)?
        .query_row([name], DeviceRow::read)
        .optional()?)
}

fn require_device(connection: &Connection, name: &str) -> RegistryResult<DeviceRow> {
    stored_device(connection, name)?.ok_or_else(|| RegistryError::UnknownDevice(name.to_owned()))
}

/// Whether `token` holds device `name`'s operation (no token: false, once
/// the device is known), reading only the claim: a session's own writes
/// need no more of the row. A token holds it until another session takes
/// it (after the lease) or the operation is rescheduled or completed: an
/// expired lease nobody took is still its own.
fn claim_held(
    connection: &Connection,
    name: &str,
    token: Option<ClaimToken>,
) -> RegistryResult<bool> {
    let stored: Option<Option<Vec<u8>>> = connection
        .prepare_cached("SELECT claim_token FROM devices WHERE name = ?1 AND removed = 0")?
        .query_row([name], |row| row.get(0))
        .optional()?;
    match stored {
        Some(holder) => Ok(token.is_some_and(|token| holder.as_deref() == Some(&token.0[..]))),
        None => Err(RegistryError::UnknownDevice(name.to_owned())),
    }
}

/// The operation status of a freshly scheduled operation.
fn scheduled_status(operation: Operation) -> OperationStatus {
    if operation == Operation::None {
        OperationStatus::None
    } else {
        OperationStatus::Pending
    }
}

/// Records a new operation status, with an event in Cisco's words.
fn set_status(
    connection: &Connection,
    name: &str,
    status: OperationStatus,
    now: u64,
) -> RegistryResult<()> {
    execute(
        connection,
        "UPDATE devices SET op_status = ?2, op_status_at = ?3 WHERE name = ?1",
        params![name, status.slug(), to_i64(now)],
    )?;
    event(connection, name, now, &status_event(status))
}

/// The event a status change leaves.
fn status_event(status: OperationStatus) -> String {
    format!("status: {status}")
}

fn status_of(operation: Operation) -> Status {
    if operation == Operation::None {
        Status::None
    } else {
        Status::Pending
    }
}

fn put_device_in(
    connection: &Connection,
    name: &str,
    schedule: &Schedule,
    now: u64,
) -> RegistryResult<bool> {
    let existed: Option<bool> = connection
        .prepare_cached("SELECT removed = 0 FROM devices WHERE name = ?1")?
        .query_row([name], |row| row.get(0))
        .optional()?;
    let hash = match schedule.auth_mode {
        crate::model::AuthMode::AuthString => schedule.auth_hash.as_ref(),
        _ => None,
    };
    let status = status_of(schedule.operation);
    let columns = AuthColumns::of(hash);
    execute(
        connection,
        "INSERT INTO devices (name, operation, key_request, auth_mode, auth_salt, auth_hash,
             auth_iterations, failed_attempts, locked, status, status_operation,
             status_detail, removed, created_at, updated_at, auth_hmac, op_status, op_status_at,
             complete_by, description)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, ?8, ?9, NULL, 0, ?10, ?10, ?11, ?12, ?10,
             ?13, ?14)
         ON CONFLICT (name) DO UPDATE SET
             op_status = excluded.op_status, op_status_at = excluded.op_status_at,
             complete_by = excluded.complete_by,
             description = COALESCE(excluded.description, description),
             operation = excluded.operation, key_request = excluded.key_request,
             auth_mode = excluded.auth_mode, auth_salt = excluded.auth_salt,
             auth_hash = excluded.auth_hash, auth_iterations = excluded.auth_iterations,
             auth_hmac = excluded.auth_hmac,
             failed_attempts = 0, locked = 0, status = excluded.status,
             status_operation = excluded.status_operation, status_detail = NULL,
             removed = 0, claim_token = NULL, claim_expires = NULL,
             updated_at = excluded.updated_at",
        params![
            name,
            schedule.operation.as_str(),
            schedule.key_request.to_string(),
            schedule.auth_mode.as_str(),
            columns.salt,
            columns.hash,
            columns.iterations,
            status.as_str(),
            (status != Status::None).then_some(schedule.operation.as_str()),
            to_i64(now),
            columns.hmac,
            scheduled_status(schedule.operation).slug(),
            schedule.complete_by.map(to_i64),
            schedule.description,
        ],
    )?;
    let verb = if existed == Some(true) {
        "replaced"
    } else {
        "added"
    };
    event(
        connection,
        name,
        now,
        &format!(
            "{verb}: operation {}, auth {}, key {}",
            schedule.operation, schedule.auth_mode, schedule.key_request
        ),
    )?;
    Ok(existed == Some(true))
}

/// A stored hash as the device columns hold it: the PBKDF2 triple, or the
/// HMAC; the other form's columns NULL.
struct AuthColumns<'a> {
    salt: Option<&'a [u8]>,
    hash: Option<&'a [u8]>,
    iterations: Option<u32>,
    hmac: Option<&'a [u8]>,
}

impl<'a> AuthColumns<'a> {
    fn of(hash: Option<&'a StoredAuthHash>) -> Self {
        match hash {
            Some(StoredAuthHash::Pbkdf2 {
                salt,
                iterations,
                hash,
            }) => Self {
                salt: Some(salt),
                hash: Some(hash),
                iterations: Some(*iterations),
                hmac: None,
            },
            Some(StoredAuthHash::Keyed { hash }) => Self {
                salt: None,
                hash: None,
                iterations: None,
                hmac: Some(hash),
            },
            None => Self {
                salt: None,
                hash: None,
                iterations: None,
                hmac: None,
            },
        }
    }
}

fn insert_certificate(
    connection: &Connection,
    name: &str,
    certificate: &NewCertificate,
    state: CertificateState,
    now: u64,
) -> RegistryResult<i64> {
    execute(
        connection,
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
    event(
        connection,
        name,
        now,
        &format!(
            "certificate {id} recorded {state} (serial {})",
            certificate.serial_hex
        ),
    )?;
    Ok(id)
}

/// Completes the operation: status successful, operation none, failures,
/// lock and claim cleared, and (when asked) the one-time string consumed.
fn complete(
    connection: &Connection,
    name: &str,
    completion: &Completion,
    now: u64,
) -> RegistryResult<()> {
    match &completion.ledger {
        LedgerChange::None => {}
        LedgerChange::MarkInstalled(id) => {
            let changed = execute(
                connection,
                "UPDATE certificates SET state = 'installed', updated_at = ?3
                 WHERE id = ?2 AND device = ?1 AND state = 'pending'",
                params![name, id, to_i64(now)],
            )?;
            if changed == 0 {
                return Err(RegistryError::UnknownCertificate {
                    device: name.to_owned(),
                    id: *id,
                });
            }
            replace_earlier(connection, name, *id, now)?;
        }
        LedgerChange::AddFetched(certificate) => {
            insert_certificate(
                connection,
                name,
                certificate,
                CertificateState::Fetched,
                now,
            )?;
        }
        LedgerChange::MarkAllDeleted => {
            execute(
                connection,
                "UPDATE certificates SET state = 'deleted', updated_at = ?2
                 WHERE device = ?1 AND state <> 'deleted'",
                params![name, to_i64(now)],
            )?;
        }
    }
    // One statement for the device: the completion, the one-time string
    // consumed when asked (?4), the operation status when the operation
    // has one (?5; NULL keeps it).
    let status = StatusOperation::of(completion.operation).map(OperationStatus::Success);
    execute(
        connection,
        "UPDATE devices SET operation = 'none', status = 'successful',
             status_operation = ?2, status_detail = NULL, failed_attempts = 0, locked = 0,
             claim_token = NULL, claim_expires = NULL, updated_at = ?3,
             auth_salt = CASE WHEN ?4 THEN NULL ELSE auth_salt END,
             auth_hash = CASE WHEN ?4 THEN NULL ELSE auth_hash END,
             auth_iterations = CASE WHEN ?4 THEN NULL ELSE auth_iterations END,
             auth_hmac = CASE WHEN ?4 THEN NULL ELSE auth_hmac END,
             op_status = COALESCE(?5, op_status),
             op_status_at = CASE WHEN ?5 IS NULL THEN op_status_at ELSE ?3 END
         WHERE name = ?1",
        params![
            name,
            completion.operation.as_str(),
            to_i64(now),
            completion.consume_auth_string,
            status.map(|status| status.slug()),
        ],
    )?;
    let successful = format!("{} successful", completion.operation);
    match status {
        Some(status) => events(
            connection,
            name,
            now,
            [successful.as_str(), &status_event(status)],
        ),
        None => event(connection, name, now, &successful),
    }
}

/// The phone holds one LSC: certificate `id` replaces every earlier
/// installed one of the device (they stay in the ledger, marked replaced).
///
/// Found by a read first: most installs replace nothing (a device's first
/// LSC), and an UPDATE that may change several rows of the ledger and sets
/// a foreign key is compiled by SQLite to collect the rows in a temporary
/// b-tree first, even when there are none.
fn replace_earlier(connection: &Connection, name: &str, id: i64, now: u64) -> RegistryResult<()> {
    let earlier = connection
        .prepare_cached(
            "SELECT id FROM certificates
             WHERE device = ?1 AND id <> ?2 AND state = 'installed' AND replaced_by IS NULL",
        )?
        .query_map(params![name, id], |row| row.get::<_, i64>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut replaced = 0_usize;
    for earlier_id in earlier {
        replaced += execute(
            connection,
            "UPDATE certificates SET replaced_by = ?2, updated_at = ?3
             WHERE id = ?1 AND state = 'installed' AND replaced_by IS NULL",
            params![earlier_id, id, to_i64(now)],
        )?;
    }
    if replaced > 0 {
        event(
            connection,
            name,
            now,
            &format!("{replaced} earlier certificate(s) replaced by certificate {id}"),
        )?;
    }
    Ok(())
}

/// Counts a failed authentication with [`rules::count_failure`].
fn count_failure(
    connection: &Connection,
    row: &DeviceRow,
    lock_after: u32,
    reason: FailureReason,
    now: u64,
) -> RegistryResult<crate::model::FailureCount> {
    let count = rules::count_failure(
        u32::try_from(row.failed).unwrap_or(u32::MAX),
        row.locked,
        lock_after,
    );
    execute(
        connection,
        "UPDATE devices SET failed_attempts = ?2, locked = ?3,
             status = CASE WHEN operation = 'none' THEN status ELSE 'failed' END,
             status_detail = 'authentication failed', updated_at = ?4
         WHERE name = ?1",
        params![row.name, count.failed_attempts, count.locked, to_i64(now)],
    )?;
    let failed = count.failed_attempts;
    let what = if count.locked {
        format!("authentication failed ({failed}), locked")
    } else {
        format!("authentication failed ({failed})")
    };
    event(connection, &row.name, now, &what)?;
    record_failure(connection, row, Some(reason), now)?;
    Ok(count)
}

/// Records the status a failure of the row's scheduled operation leaves
/// ([`rules::failure_status`]); nothing when nothing is scheduled.
fn record_failure(
    connection: &Connection,
    row: &DeviceRow,
    reason: Option<FailureReason>,
    now: u64,
) -> RegistryResult<()> {
    let operation: Operation = parse("operation", &row.operation)?;
    match rules::failure_status(operation, reason) {
        Some(status) => set_status(connection, &row.name, status, now),
        None => Ok(()),
    }
}

fn release(connection: &Connection, name: &str, token: ClaimToken) -> RegistryResult<bool> {
    let changed = execute(
        connection,
        "UPDATE devices SET claim_token = NULL, claim_expires = NULL
         WHERE name = ?1 AND claim_token = ?2",
        params![name, token.0.as_slice()],
    )?;
    Ok(changed > 0)
}

impl Registry for SqliteRegistry {
    fn put_device(&self, name: &str, schedule: &Schedule, now: u64) -> RegistryResult<bool> {
        let (name, schedule) = (name.to_owned(), schedule.clone());
        self.write(move |connection| put_device_in(connection, &name, &schedule, now))
    }

    fn put_devices(&self, devices: &[(String, Schedule)], now: u64) -> RegistryResult<usize> {
        let devices = devices.to_vec();
        self.write(move |connection| {
            let mut replaced = 0;
            for (name, schedule) in &devices {
                if put_device_in(connection, name, schedule, now)? {
                    replaced += 1;
                }
            }
            Ok(replaced)
        })
    }

    fn set_operation(
        &self,
        name: &str,
        operation: Operation,
        key_request: Option<KeyRequest>,
        auth_hash: Option<&StoredAuthHash>,
        now: u64,
    ) -> RegistryResult<()> {
        let (name, auth_hash) = (name.to_owned(), auth_hash.cloned());
        self.write(move |connection| {
            require_device(connection, &name)?;
            let status = status_of(operation);
            execute(
                connection,
                "UPDATE devices SET operation = ?2, key_request = COALESCE(?3, key_request),
                     failed_attempts = 0, locked = 0, status = ?4, status_operation = ?5,
                     status_detail = NULL, claim_token = NULL, claim_expires = NULL,
                     updated_at = ?6, op_status = ?7, op_status_at = ?6, complete_by = NULL
                 WHERE name = ?1",
                params![
                    name,
                    operation.as_str(),
                    key_request.map(|key| key.to_string()),
                    status.as_str(),
                    (status != Status::None).then_some(operation.as_str()),
                    to_i64(now),
                    scheduled_status(operation).slug(),
                ],
            )?;
            if let Some(hash) = &auth_hash {
                let columns = AuthColumns::of(Some(hash));
                execute(
                    connection,
                    "UPDATE devices SET auth_salt = ?2, auth_hash = ?3, auth_iterations = ?4,
                         auth_hmac = ?5
                     WHERE name = ?1 AND auth_mode = 'auth-string'",
                    params![
                        name,
                        columns.salt,
                        columns.hash,
                        columns.iterations,
                        columns.hmac
                    ],
                )?;
            }
            let what = match key_request {
                Some(key) => format!("scheduled: operation {operation}, key {key}"),
                None => format!("scheduled: operation {operation}"),
            };
            event(connection, &name, now, &what)
        })
    }

    fn remove(&self, name: &str, now: u64) -> RegistryResult<usize> {
        let name = name.to_owned();
        self.write(move |connection| {
            require_device(connection, &name)?;
            execute(
                connection,
                "UPDATE devices SET removed = 1, operation = 'none', auth_salt = NULL,
                     auth_hash = NULL, auth_iterations = NULL, auth_hmac = NULL, claim_token = NULL,
                     claim_expires = NULL, updated_at = ?2
                 WHERE name = ?1",
                params![name, to_i64(now)],
            )?;
            event(connection, &name, now, "removed")?;
            let kept: i64 = connection.query_row(
                "SELECT COUNT(*) FROM certificates WHERE device = ?1",
                [&name],
                |row| row.get(0),
            )?;
            Ok(usize::try_from(kept).unwrap_or(0))
        })
    }

    fn list(&self) -> RegistryResult<Vec<Device>> {
        self.read(|connection| {
            let mut statement = connection.prepare(concat!(
                "SELECT ",
                device_columns!(),
                " FROM devices WHERE removed = 0 ORDER BY name"
            ))?;
            let rows = statement
                .query_map([], DeviceRow::read)?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|row| row.stored().map(|stored| stored.device))
                .collect()
        })
    }

    fn device(&self, name: &str) -> RegistryResult<Device> {
        self.read(|connection| Ok(require_device(connection, name)?.stored()?.device))
    }

    fn certificates(&self, name: &str) -> RegistryResult<Vec<CertificateEntry>> {
        self.read(|connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE device = ?1 ORDER BY id"
            ))?;
            let rows = statement
                .query_map([name], certificate_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(certificate_entry).collect()
        })
    }

    fn events(&self, name: &str) -> RegistryResult<Vec<Event>> {
        self.read(|connection| {
            let mut statement = connection
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
        })
    }

    fn claim_operation(
        &self,
        name: &str,
        token: ClaimToken,
        lease_until: u64,
        now: u64,
    ) -> RegistryResult<ClaimAnswer> {
        self.write_lease(claim_work(name, token, lease_until, now))
    }

    fn record_pending_certificate(
        &self,
        claim: &Claim,
        certificate: &NewCertificate,
        now: u64,
    ) -> RegistryResult<i64> {
        self.write(pending_work(claim, certificate, now))
    }

    fn record_outcome(
        &self,
        name: &str,
        claim: Option<&Claim>,
        write: &OutcomeWrite,
        now: u64,
    ) -> RegistryResult<Recorded> {
        self.write(outcome_work(name, claim, write, now))
    }

    fn devices_by_auth_hash(&self, hash: &[u8; 32]) -> RegistryResult<Vec<Device>> {
        self.read(|connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {DEVICE_COLUMNS} FROM devices
                 WHERE auth_hmac = ?1 AND removed = 0 ORDER BY name"
            ))?;
            let rows = statement
                .query_map([hash.as_slice()], DeviceRow::read)?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|row| row.stored().map(|stored| stored.device))
                .collect()
        })
    }

    fn keyed_auth_string_count(&self) -> RegistryResult<usize> {
        self.read(|connection| {
            let count: i64 = connection.query_row(
                "SELECT COUNT(*) FROM devices WHERE auth_hmac IS NOT NULL AND removed = 0",
                [],
                |row| row.get(0),
            )?;
            Ok(usize::try_from(count).unwrap_or(0))
        })
    }

    fn annotate(
        &self,
        name: &str,
        complete_by: Option<u64>,
        description: Option<&str>,
        now: u64,
    ) -> RegistryResult<()> {
        let (name, description) = (name.to_owned(), description.map(str::to_owned));
        self.write(move |connection| {
            require_device(connection, &name)?;
            if let Some(by) = complete_by {
                connection.execute(
                    "UPDATE devices SET complete_by = ?2, updated_at = ?3 WHERE name = ?1",
                    params![name, to_i64(by), to_i64(now)],
                )?;
                event(connection, &name, now, &format!("deadline set: {by}"))?;
            }
            if let Some(text) = &description {
                connection.execute(
                    "UPDATE devices SET description = NULLIF(?2, ''), updated_at = ?3
                     WHERE name = ?1",
                    params![name, text, to_i64(now)],
                )?;
            }
            Ok(())
        })
    }

    fn release_claim(&self, claim: &Claim, _now: u64) -> RegistryResult<bool> {
        self.write_lease(release_work(claim))
    }

    fn revoke(
        &self,
        target: &RevocationTarget,
        reason: RevocationReason,
        now: u64,
    ) -> RegistryResult<Vec<CertificateEntry>> {
        let target = target.clone();
        self.write(move |connection| {
            let (condition, key, what) = match &target {
                RevocationTarget::Device(name) => (
                    "device = ?1 AND state <> 'deleted'",
                    name.clone(),
                    format!("device {name} has no certificate to revoke"),
                ),
                RevocationTarget::Serial(text) => {
                    let serial = crate::model::normalize_serial_hex(text)
                        .ok_or_else(|| RegistryError::BadSerial(text.clone()))?;
                    (
                        "ltrim(serial_hex, '0') = ?1",
                        serial,
                        format!("no certificate with serial {text} to revoke"),
                    )
                }
            };
            let ids: Vec<i64> = {
                let mut statement = connection.prepare(&format!(
                    "SELECT id FROM certificates WHERE {condition} AND revoked_at IS NULL
                     ORDER BY id"
                ))?;
                statement
                    .query_map([&key], |row| row.get(0))?
                    .collect::<Result<_, _>>()?
            };
            if ids.is_empty() {
                return Err(RegistryError::NothingToRevoke(what));
            }
            let mut revoked = Vec::with_capacity(ids.len());
            for id in ids {
                connection.execute(
                    "UPDATE certificates SET revoked_at = ?2, revocation_reason = ?3
                     WHERE id = ?1",
                    params![id, to_i64(now), reason.as_str()],
                )?;
                let entry = certificate_entry(connection.query_row(
                    &format!("SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE id = ?1"),
                    [id],
                    certificate_from_row,
                )?)?;
                event(
                    connection,
                    &entry.device,
                    now,
                    &format!(
                        "certificate {id} revoked, {reason} (serial {})",
                        entry.serial_hex
                    ),
                )?;
                revoked.push(entry);
            }
            Ok(revoked)
        })
    }

    fn certificates_with_serial(&self, serial_hex: &str) -> RegistryResult<Vec<CertificateEntry>> {
        let serial = crate::model::normalize_serial_hex(serial_hex)
            .ok_or_else(|| RegistryError::BadSerial(serial_hex.to_owned()))?;
        self.read(|connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {CERTIFICATE_COLUMNS} FROM certificates
                 WHERE ltrim(serial_hex, '0') = ?1 ORDER BY id"
            ))?;
            let rows = statement
                .query_map([&serial], certificate_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(certificate_entry).collect()
        })
    }

    fn record_issued_certificate(
        &self,
        name: &str,
        key_request: KeyRequest,
        certificate: &NewCertificate,
        now: u64,
    ) -> RegistryResult<i64> {
        let (name, certificate) = (name.to_owned(), certificate.clone());
        self.write(move |connection| {
            let existed: Option<bool> = connection
                .query_row(
                    "SELECT removed = 0 FROM devices WHERE name = ?1",
                    [&name],
                    |row| row.get(0),
                )
                .optional()?;
            match existed {
                Some(true) => {}
                Some(false) => {
                    connection.execute(
                        "UPDATE devices SET removed = 0, operation = 'none', status = 'none',
                             status_operation = NULL, status_detail = NULL, updated_at = ?2
                         WHERE name = ?1",
                        params![name, to_i64(now)],
                    )?;
                    event(
                        connection,
                        &name,
                        now,
                        "revived by a directly issued certificate",
                    )?;
                }
                None => {
                    connection.execute(
                        "INSERT INTO devices (name, operation, key_request, auth_mode, status,
                             created_at, updated_at)
                         VALUES (?1, 'none', ?2, 'null', 'none', ?3, ?3)",
                        params![name, key_request.to_string(), to_i64(now)],
                    )?;
                    event(
                        connection,
                        &name,
                        now,
                        "added for a directly issued certificate",
                    )?;
                }
            }
            let id = insert_certificate(
                connection,
                &name,
                &certificate,
                CertificateState::Installed,
                now,
            )?;
            replace_earlier(connection, &name, id, now)?;
            Ok(id)
        })
    }

    fn current_certificates(&self) -> RegistryResult<Vec<CertificateEntry>> {
        self.read(|connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {CERTIFICATE_COLUMNS} FROM certificates
                 WHERE state = 'installed' AND revoked_at IS NULL AND replaced_by IS NULL
                   AND device IN (SELECT name FROM devices WHERE removed = 0)
                 ORDER BY id"
            ))?;
            let rows = statement
                .query_map([], certificate_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(certificate_entry).collect()
        })
    }

    fn schedule_renewal(&self, name: &str, certificate_id: i64, now: u64) -> RegistryResult<bool> {
        let name = name.to_owned();
        self.write(move |connection| {
            let changed = connection.execute(
                "UPDATE devices SET operation = 'install', auth_mode = 'lsc',
                     auth_salt = NULL, auth_hash = NULL, auth_iterations = NULL,
                     failed_attempts = 0, locked = 0, status = 'pending',
                     status_operation = 'install', status_detail = NULL,
                     claim_token = NULL, claim_expires = NULL, updated_at = ?3
                 WHERE name = ?1 AND removed = 0 AND operation = 'none'
                   AND EXISTS (SELECT 1 FROM certificates WHERE id = ?2 AND device = ?1
                       AND state = 'installed' AND revoked_at IS NULL AND replaced_by IS NULL)",
                params![name, certificate_id, to_i64(now)],
            )?;
            if changed == 0 {
                return Ok(false);
            }
            event(
                connection,
                &name,
                now,
                &format!(
                    "renewal scheduled: install authenticated by certificate {certificate_id}"
                ),
            )?;
            Ok(true)
        })
    }

    fn settings(&self) -> RegistryResult<Settings> {
        self.read(|connection| {
            let mut statement = connection.prepare("SELECT name, value FROM settings")?;
            let pairs = statement
                .query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Settings::from_pairs(
                pairs
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_str())),
            )?)
        })
    }

    fn put_settings(&self, settings: &Settings, now: u64) -> RegistryResult<()> {
        let pairs = settings.pairs();
        self.write(move |connection| {
            for (name, value) in &pairs {
                connection.execute(
                    "INSERT INTO settings (name, value, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value,
                         updated_at = excluded.updated_at
                     WHERE value IS NOT excluded.value",
                    params![name, value, to_i64(now)],
                )?;
            }
            Ok(())
        })
    }

    fn record_certificate_request(
        &self,
        claim: &Claim,
        request: &NewCertificateRequest,
        now: u64,
    ) -> RegistryResult<i64> {
        let (claim, request) = (claim.clone(), request.clone());
        self.write(move |connection| {
            if !claim_held(connection, &claim.device, Some(claim.token))? {
                return Err(RegistryError::ClaimLost(claim.device.clone()));
            }
            // A newer key: the earlier requests not installed are stale.
            let staled = execute(
                connection,
                "UPDATE certificate_requests SET stale_at = ?2
                 WHERE device = ?1 AND stale_at IS NULL AND (certificate_id IS NULL
                     OR certificate_id IN (SELECT id FROM certificates WHERE state = 'pending'))",
                params![claim.device, to_i64(now)],
            )?;
            execute(
                connection,
                "INSERT INTO certificate_requests (device, key_request, spki, csr, requested_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    claim.device,
                    request.key_request.to_string(),
                    request.spki_der,
                    request.csr_der,
                    to_i64(now)
                ],
            )?;
            let id = connection.last_insert_rowid();
            event(
                connection,
                &claim.device,
                now,
                &format!(
                    "certificate request {id} kept for the offline CA{}{}",
                    if request.csr_der.is_some() {
                        " (phone-signed CSR)"
                    } else {
                        ""
                    },
                    if staled > 0 {
                        format!("; {staled} earlier request(s) stale")
                    } else {
                        String::new()
                    }
                ),
            )?;
            Ok(id)
        })
    }

    fn mark_certificate_request_stale(
        &self,
        certificate_id: i64,
        now: u64,
    ) -> RegistryResult<bool> {
        self.write(move |connection| {
            let device: Option<String> = connection
                .query_row(
                    "SELECT device FROM certificate_requests
                     WHERE certificate_id = ?1 AND stale_at IS NULL",
                    [certificate_id],
                    |row| row.get(0),
                )
                .optional()?;
            let Some(device) = device else {
                return Ok(false);
            };
            execute(
                connection,
                "UPDATE certificate_requests SET stale_at = ?2
                 WHERE certificate_id = ?1 AND stale_at IS NULL",
                params![certificate_id, to_i64(now)],
            )?;
            event(
                connection,
                &device,
                now,
                &format!("the phone refused certificate {certificate_id}: its request is stale"),
            )?;
            Ok(true)
        })
    }

    fn certificate_requests(
        &self,
        device: Option<&str>,
    ) -> RegistryResult<Vec<CertificateRequest>> {
        self.read(|connection| certificate_requests_in(connection, device))
    }

    fn import_certificate(
        &self,
        request_id: i64,
        certificate: &NewCertificate,
        now: u64,
    ) -> RegistryResult<i64> {
        let certificate = certificate.clone();
        self.write(move |connection| {
            let device: Option<String> = connection
                .query_row(
                    "SELECT device FROM certificate_requests
                     WHERE id = ?1 AND stale_at IS NULL AND certificate_id IS NULL",
                    [request_id],
                    |row| row.get(0),
                )
                .optional()?;
            let device = device.ok_or(RegistryError::RequestNotPending(request_id))?;
            let id = insert_certificate(
                connection,
                &device,
                &certificate,
                CertificateState::Pending,
                now,
            )?;
            execute(
                connection,
                "UPDATE certificate_requests SET certificate_id = ?2, imported_at = ?3
                 WHERE id = ?1",
                params![request_id, id, to_i64(now)],
            )?;
            event(
                connection,
                &device,
                now,
                &format!("certificate {id} imported for certificate request {request_id}"),
            )?;
            Ok(id)
        })
    }

    fn delete_stale_certificate_requests(&self, now: u64) -> RegistryResult<usize> {
        self.write(move |connection| {
            let devices: Vec<String> = {
                let mut statement = connection.prepare(
                    "SELECT device FROM certificate_requests WHERE stale_at IS NOT NULL ORDER BY id",
                )?;
                statement
                    .query_map([], |row| row.get(0))?
                    .collect::<Result<Vec<_>, _>>()?
            };
            execute(
                connection,
                "DELETE FROM certificate_requests WHERE stale_at IS NOT NULL",
                [],
            )?;
            for device in &devices {
                event(connection, device, now, "stale certificate request deleted")?;
            }
            Ok(devices.len())
        })
    }

    fn revoked_certificates(&self) -> RegistryResult<Vec<CertificateEntry>> {
        self.read(|connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {CERTIFICATE_COLUMNS} FROM certificates
                 WHERE revoked_at IS NOT NULL ORDER BY id"
            ))?;
            let rows = statement
                .query_map([], certificate_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(certificate_entry).collect()
        })
    }
}

/// The session path of [`Registry`] for async hosts: the same writes in
/// the same batches, answered through a [`PendingWrite`] future instead of
/// a blocked thread. The claim is decided on the writer too, even when it
/// finds nothing to claim: a read on the caller's thread first would cost
/// more (a read transaction whose page cache every commit empties) than
/// the writer's turn for a device it finds unknown or with nothing to do,
/// which changes nothing and so neither undoes its batch nor adds a frame
/// to the WAL.
impl SqliteRegistry {
    /// [`Registry::claim_operation`], answered through a future.
    pub fn claim_operation_async(
        &self,
        name: &str,
        token: ClaimToken,
        lease_until: u64,
        now: u64,
    ) -> PendingWrite<ClaimAnswer> {
        self.write_async(Durability::Lease, claim_work(name, token, lease_until, now))
    }

    /// [`Registry::record_pending_certificate`], answered through a future.
    pub fn record_pending_certificate_async(
        &self,
        claim: &Claim,
        certificate: &NewCertificate,
        now: u64,
    ) -> PendingWrite<i64> {
        self.write_async(Durability::Durable, pending_work(claim, certificate, now))
    }

    /// [`Registry::record_outcome`], answered through a future.
    pub fn record_outcome_async(
        &self,
        name: &str,
        claim: Option<&Claim>,
        write: &OutcomeWrite,
        now: u64,
    ) -> PendingWrite<Recorded> {
        self.write_async(Durability::Durable, outcome_work(name, claim, write, now))
    }

    /// [`Registry::release_claim`], answered through a future.
    pub fn release_claim_async(&self, claim: &Claim, _now: u64) -> PendingWrite<bool> {
        self.write_async(Durability::Lease, release_work(claim))
    }
}

/// A device's certificate requests (all devices' for `None`), oldest
/// first, read on `connection`.
fn certificate_requests_in(
    connection: &Connection,
    device: Option<&str>,
) -> RegistryResult<Vec<CertificateRequest>> {
    // One statement per case: `device = ?1` uses the device index
    // (every install session asks, through the offline CA's ready
    // certificate); `?1 IS NULL OR device = ?1` would scan.
    let mut statement = connection.prepare_cached(match device {
        Some(_) => certificate_requests_where!("device = ?1"),
        None => certificate_requests_where!("?1 IS NULL"),
    })?;
    let rows = statement
        .query_map([&device], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, Vec<u8>>(3)?,
                row.get::<_, Option<Vec<u8>>>(4)?,
                row.get::<_, i64>(5)?,
                row.get::<_, Option<i64>>(6)?,
                row.get::<_, Option<i64>>(7)?,
                row.get::<_, Option<i64>>(8)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(
            |(
                id,
                device,
                key_request,
                spki_der,
                csr_der,
                requested_at,
                stale_at,
                certificate_id,
                imported_at,
            )| {
                Ok(CertificateRequest {
                    id,
                    device,
                    key_request: parse("key_request", &key_request)?,
                    spki_der,
                    csr_der,
                    requested_at: to_u64(requested_at),
                    stale_at: stale_at.map(to_u64),
                    certificate_id,
                    imported_at: imported_at.map(to_u64),
                })
            },
        )
        .collect()
}

/// One of the device's ledger entries, by id, read on `connection`.
fn certificate_in(
    connection: &Connection,
    name: &str,
    id: i64,
) -> RegistryResult<Option<CertificateEntry>> {
    connection
        .prepare_cached(&format!(
            "SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE id = ?1 AND device = ?2"
        ))?
        .query_row(params![id, name], certificate_from_row)
        .optional()?
        .map(certificate_entry)
        .transpose()
}

/// The claim's write: read and decided inside the writer's transaction (an
/// unknown device fails it before it changes anything).
fn claim_work(
    name: &str,
    token: ClaimToken,
    lease_until: u64,
    now: u64,
) -> impl FnMut(&Connection) -> RegistryResult<ClaimAnswer> + Send + 'static {
    let name = name.to_owned();
    move |connection| {
        let row = require_device(connection, &name)?;
        let current = row.claim_token();
        let expires = row.claim_expires.map(to_u64);
        let device = row.stored()?;
        if device.device.operation == Operation::None {
            return Ok(ClaimAnswer::NothingScheduled { device });
        }
        if current.is_some_and(|holder| holder != token) && rules::lease_held(expires, now) {
            return Ok(ClaimAnswer::Held {
                until: expires.unwrap_or(0),
            });
        }
        // The condition again, in the write itself.
        let changed = execute(
            connection,
            "UPDATE devices SET claim_token = ?2, claim_expires = ?3
             WHERE name = ?1 AND removed = 0 AND operation <> 'none'
               AND (claim_token IS NULL OR claim_token = ?2 OR claim_expires <= ?4)",
            params![name, token.0.as_slice(), to_i64(lease_until), to_i64(now)],
        )?;
        if changed == 0 {
            return Ok(ClaimAnswer::Held {
                until: expires.unwrap_or(0),
            });
        }
        let mut device = device;
        device.device.claimed_until = Some(lease_until);
        let ready_certificate = crate::offline_ca::ready_certificate(
            &mut &*connection,
            &device,
            |connection, name| certificate_requests_in(connection, Some(name)),
            |connection, name, id| certificate_in(connection, name, id),
        )?;
        Ok(ClaimAnswer::Claimed {
            claim: Claim {
                device: name.clone(),
                token,
                lease_until,
            },
            device,
            ready_certificate,
        })
    }
}

/// The pending certificate's write.
fn pending_work(
    claim: &Claim,
    certificate: &NewCertificate,
    now: u64,
) -> impl FnMut(&Connection) -> RegistryResult<i64> + Send + 'static {
    let (claim, certificate) = (claim.clone(), certificate.clone());
    move |connection| {
        if !claim_held(connection, &claim.device, Some(claim.token))? {
            return Err(RegistryError::ClaimLost(claim.device.clone()));
        }
        insert_certificate(
            connection,
            &claim.device,
            &certificate,
            CertificateState::Pending,
            now,
        )
    }
}

/// The outcome's write and the claim's release.
fn outcome_work(
    name: &str,
    claim: Option<&Claim>,
    write: &OutcomeWrite,
    now: u64,
) -> impl FnMut(&Connection) -> RegistryResult<Recorded> + Send + 'static {
    let (name, claim, write) = (name.to_owned(), claim.cloned(), write.clone());
    move |connection| {
        // A completion needs only the claim (the common case: one short
        // read); a failure's rules need the whole row.
        if let OutcomeWrite::Completed(completion) = &write {
            if !claim_held(connection, &name, claim.as_ref().map(|claim| claim.token))? {
                return Err(RegistryError::ClaimLost(name.clone()));
            }
            complete(connection, &name, completion, now)?;
            return Ok(Recorded {
                released: true,
                ..Recorded::default()
            });
        }
        let row = require_device(connection, &name)?;
        let mut recorded = Recorded::default();
        match &write {
            OutcomeWrite::AuthenticationFailed { lock_after, reason } => {
                recorded.failure =
                    Some(count_failure(connection, &row, *lock_after, *reason, now)?);
            }
            OutcomeWrite::Failed(reason) => record_failure(connection, &row, *reason, now)?,
            OutcomeWrite::Late => {
                execute(
                    connection,
                    "UPDATE devices SET auth_salt = NULL, auth_hash = NULL,
                         auth_iterations = NULL, auth_hmac = NULL, updated_at = ?2
                     WHERE name = ?1",
                    params![name, to_i64(now)],
                )?;
                event(
                    connection,
                    &name,
                    now,
                    "deadline passed: session refused, one-time string void",
                )?;
                record_failure(connection, &row, Some(FailureReason::LateTimedOut), now)?;
            }
            OutcomeWrite::Deferred => {
                set_status(connection, &name, OperationStatus::Pending, now)?;
            }
            // A completion was answered above.
            OutcomeWrite::Nothing | OutcomeWrite::Completed(_) => {}
        }
        if let Some(claim) = claim.as_ref().filter(|claim| claim.device == name) {
            recorded.released = release(connection, &name, claim.token)?;
        }
        Ok(recorded)
    }
}

/// A claim's release.
fn release_work(claim: &Claim) -> impl FnMut(&Connection) -> RegistryResult<bool> + Send + 'static {
    let claim = claim.clone();
    move |connection| release(connection, &claim.device, claim.token)
}

/// A TVS row as SQLite gives it, checked by [`TvsRow::entry`].
struct TvsRow {
    sha256: Vec<u8>,
    der: Vec<u8>,
    subject: String,
    roles: String,
    ttl: i64,
    revoked: i64,
    added_at: i64,
}

impl TvsRow {
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

    fn entry(self) -> RegistryResult<TvsEntry> {
        let corrupt = |what: &str| RegistryError::Corrupt(format!("TVS {what}"));
        Ok(TvsEntry {
            sha256: self.sha256.try_into().map_err(|_| corrupt("sha256"))?,
            der: self.der,
            subject: self.subject,
            roles: parse_roles(&self.roles)?,
            ttl: u32::try_from(self.ttl).map_err(|_| corrupt("ttl"))?,
            revoked: match self.revoked {
                0 => false,
                1 => true,
                _ => return Err(corrupt("revoked")),
            },
            added_at: u64::try_from(self.added_at).map_err(|_| corrupt("added_at"))?,
        })
    }
}

const TVS_COLUMNS: &str = "sha256, der, subject, roles, ttl, revoked, added_at";

fn tvs_look_up_in(connection: &Connection, sha256: &[u8; 32]) -> RegistryResult<Option<TvsEntry>> {
    connection
        .query_row(
            &format!("SELECT {TVS_COLUMNS} FROM tvs_certificates WHERE sha256 = ?1"),
            [sha256.as_slice()],
            TvsRow::read,
        )
        .optional()?
        .map(TvsRow::entry)
        .transpose()
}

impl TvsAllowList for SqliteRegistry {
    fn tvs_add(&self, der: &[u8], roles: &[Role], ttl: u32, now: u64) -> RegistryResult<TvsEntry> {
        let registration = TvsRegistration::new(der, roles, ttl)?;
        let der = der.to_vec();
        self.write(move |connection| {
            execute(
                connection,
                "INSERT INTO tvs_certificates (sha256, der, subject, roles, ttl, added_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (sha256) DO UPDATE SET
                    roles = excluded.roles, ttl = excluded.ttl, added_at = excluded.added_at",
                params![
                    registration.sha256.as_slice(),
                    der,
                    registration.subject,
                    roles_text(&registration.roles),
                    i64::from(registration.ttl),
                    to_i64(now)
                ],
            )?;
            tvs_look_up_in(connection, &registration.sha256)?
                .ok_or_else(|| RegistryError::Corrupt("TVS sha256".into()))
        })
    }

    fn tvs_remove(&self, sha256: &[u8; 32]) -> RegistryResult<bool> {
        let sha256 = *sha256;
        self.write(move |connection| {
            let removed = execute(
                connection,
                "DELETE FROM tvs_certificates WHERE sha256 = ?1",
                [sha256.as_slice()],
            )?;
            Ok(removed > 0)
        })
    }

    fn tvs_revoke(&self, sha256: &[u8; 32]) -> RegistryResult<bool> {
        let sha256 = *sha256;
        self.write(move |connection| {
            let changed = execute(
                connection,
                "UPDATE tvs_certificates SET revoked = 1 WHERE sha256 = ?1",
                [sha256.as_slice()],
            )?;
            Ok(changed > 0)
        })
    }

    fn tvs_list(&self) -> RegistryResult<Vec<TvsEntry>> {
        self.read(|connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {TVS_COLUMNS} FROM tvs_certificates ORDER BY subject, sha256"
            ))?;
            let rows = statement.query_map([], TvsRow::read)?;
            let mut entries = Vec::new();
            for row in rows {
                entries.push(row?.entry()?);
            }
            Ok(entries)
        })
    }

    fn tvs_look_up(&self, sha256: &[u8; 32]) -> RegistryResult<Option<TvsEntry>> {
        self.read(|connection| tvs_look_up_in(connection, sha256))
    }
}

#[cfg(test)]
mod tests {
    //! What only this backend has: the file, its journal, its migrations and
    //! the group commit. Behaviour shared by every backend is tested by
    //! [`crate::conformance`] (tests/sqlite.rs).
    use super::*;
    use crate::model::AuthMode;
    use capf_core::capf::codec::Curve;

    fn temp_path(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "capf-registry-unit-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("capf.db")
    }

    fn cert() -> NewCertificate {
        NewCertificate {
            serial_hex: "0a1b2c".into(),
            der: b"\x30\x03\x02\x01\x01".to_vec(),
            issued_at: 1_700_000_000,
            not_after: 1_731_536_000,
        }
    }

    fn install() -> Schedule {
        Schedule {
            operation: Operation::Install,
            key_request: KeyRequest::Ec(Curve::P256),
            auth_mode: AuthMode::Null,
            auth_hash: None,
            complete_by: None,
            description: None,
        }
    }

    /// A job whose result lands in a channel the test reads after the batch.
    fn job<T: Send + 'static>(
        work: impl FnMut(&Connection) -> RegistryResult<T> + Send + 'static,
    ) -> (Box<dyn WriteJob>, mpsc::Receiver<RegistryResult<T>>) {
        let (reply, answer) = mpsc::sync_channel(1);
        (
            Box::new(Job {
                work,
                durability: Durability::Durable,
                reply: Reply::Blocking(reply),
                attempted: None,
            }),
            answer,
        )
    }

    #[test]
    fn a_batch_commits_its_writes_together_and_a_failed_write_alone_is_undone() {
        let path = temp_path("batch");
        let registry = SqliteRegistry::open(&path).unwrap();
        registry
            .put_device("SEP0011223344AA", &install(), 1)
            .unwrap();
        registry
            .put_device("SEP0011223344BB", &install(), 1)
            .unwrap();
        let mut writer = connect(&path).unwrap();
        migrate(&mut writer).unwrap();
        let observer = connect(&path).unwrap();
        let (first, first_answer) = job(|c| {
            insert_certificate(c, "SEP0011223344AA", &cert(), CertificateState::Pending, 2)
        });
        // A write that fails half-way: its event row must not survive.
        let (second, second_answer) = job(|c| {
            event(c, "SEP0011223344BB", 2, "half-way")?;
            Err::<(), _>(RegistryError::Corrupt("on purpose".into()))
        });
        let (third, third_answer) = job(move |c| {
            // Not visible to another connection before the commit.
            let seen: i64 =
                observer.query_row("SELECT COUNT(*) FROM certificates", [], |r| r.get(0))?;
            insert_certificate(c, "SEP0011223344BB", &cert(), CertificateState::Pending, 2)?;
            Ok(seen)
        });
        run_batch(&writer, vec![first, second, third]);
        assert!(first_answer.recv().unwrap().is_ok());
        assert_eq!(
            second_answer.recv().unwrap(),
            Err(RegistryError::Corrupt("on purpose".into()))
        );
        assert_eq!(third_answer.recv().unwrap(), Ok(0));
        assert_eq!(registry.certificates("SEP0011223344AA").unwrap().len(), 1);
        assert_eq!(registry.certificates("SEP0011223344BB").unwrap().len(), 1);
        let half_way = registry
            .events("SEP0011223344BB")
            .unwrap()
            .into_iter()
            .filter(|event| event.what == "half-way")
            .count();
        assert_eq!(half_way, 0);
        drop(writer);
        drop(registry);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn a_batch_without_failures_runs_each_write_once_and_a_failure_after_a_change_reruns_the_others()
     {
        let path = temp_path("attempts");
        let registry = SqliteRegistry::open(&path).unwrap();
        registry
            .put_device("SEP0011223344AA", &install(), 1)
            .unwrap();
        let mut writer = connect(&path).unwrap();
        migrate(&mut writer).unwrap();
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        // A counted write; `fail`: it fails after its change, `refuse`:
        // before it changes anything.
        let counted_with = |fail: bool, refuse: bool| {
            let runs = Arc::clone(&runs);
            job(move |c| {
                runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if refuse {
                    return Err(RegistryError::UnknownDevice("on purpose".into()));
                }
                event(c, "SEP0011223344AA", 2, "counted")?;
                if fail {
                    return Err(RegistryError::Corrupt("on purpose".into()));
                }
                Ok(())
            })
        };
        let counted = |fail: bool| counted_with(fail, false);
        let events = |registry: &SqliteRegistry| {
            registry
                .events("SEP0011223344AA")
                .unwrap()
                .into_iter()
                .filter(|event| event.what == "counted")
                .count()
        };
        let (first, first_answer) = counted(false);
        let (second, second_answer) = counted(false);
        run_batch(&writer, vec![first, second]);
        assert_eq!(first_answer.recv().unwrap(), Ok(()));
        assert_eq!(second_answer.recv().unwrap(), Ok(()));
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(events(&registry), 2);
        // The failure stops the first pass at the second write; all three
        // run again, each in its own savepoint.
        runs.store(0, std::sync::atomic::Ordering::SeqCst);
        let (first, first_answer) = counted(false);
        let (second, second_answer) = counted(true);
        let (third, third_answer) = counted(false);
        run_batch(&writer, vec![first, second, third]);
        assert_eq!(first_answer.recv().unwrap(), Ok(()));
        assert!(second_answer.recv().unwrap().is_err());
        assert_eq!(third_answer.recv().unwrap(), Ok(()));
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 5);
        assert_eq!(events(&registry), 4);
        // A write refused before it changed anything is answered with its
        // error and the batch goes on, nothing run twice.
        runs.store(0, std::sync::atomic::Ordering::SeqCst);
        let (first, first_answer) = counted(false);
        let (second, second_answer) = counted_with(false, true);
        let (third, third_answer) = counted(false);
        run_batch(&writer, vec![first, second, third]);
        assert_eq!(first_answer.recv().unwrap(), Ok(()));
        assert_eq!(
            second_answer.recv().unwrap(),
            Err(RegistryError::UnknownDevice("on purpose".into()))
        );
        assert_eq!(third_answer.recv().unwrap(), Ok(()));
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert_eq!(events(&registry), 6);
        drop(writer);
        drop(registry);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn pending_certificate_survives_reopening_the_file_in_wal_mode() {
        let path = temp_path("durable");
        let id = {
            let registry = SqliteRegistry::open(&path).unwrap();
            registry
                .put_device("SEP001122334455", &install(), 1)
                .unwrap();
            let ClaimAnswer::Claimed { claim, .. } = registry
                .claim_operation("SEP001122334455", ClaimToken([3; 16]), 100, 1)
                .unwrap()
            else {
                panic!("not claimed")
            };
            registry
                .record_pending_certificate(&claim, &cert(), 2)
                .unwrap()
            // dropped without any further call: nothing else commits
        };
        let registry = SqliteRegistry::open(&path).unwrap();
        let certificates = registry.certificates("SEP001122334455").unwrap();
        assert_eq!(certificates.len(), 1);
        assert_eq!(certificates[0].id, id);
        assert_eq!(certificates[0].state, CertificateState::Pending);
        assert_eq!(certificates[0].der, cert().der);
        assert_eq!(certificates[0].serial_hex, "0a1b2c");
        let (mode, synchronous): (String, i64) = registry
            .read(|c| {
                Ok((
                    c.query_row("PRAGMA journal_mode", [], |row| row.get(0))?,
                    c.query_row("PRAGMA synchronous", [], |row| row.get(0))?,
                ))
            })
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(synchronous, 2, "synchronous = FULL");
        drop(registry);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn migrations_are_idempotent_and_a_newer_file_is_refused() {
        let path = temp_path("migrate");
        {
            let registry = SqliteRegistry::open(&path).unwrap();
            assert_eq!(registry.schema_version().unwrap(), 7);
            registry
                .put_device("SEP001122334455", &install(), 1)
                .unwrap();
        }
        {
            let mut connection = connect(&path).unwrap();
            // Running them again on an up-to-date file changes nothing.
            migrate(&mut connection).unwrap();
            // The first one's SQL itself can be re-run (IF NOT EXISTS everywhere).
            connection.execute_batch(MIGRATIONS[0]).unwrap();
        }
        let registry = SqliteRegistry::open(&path).unwrap();
        assert_eq!(registry.schema_version().unwrap(), 7);
        assert_eq!(registry.list().unwrap().len(), 1);
        drop(registry);
        // A file from a newer capf is refused rather than misread.
        connect(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
        assert!(matches!(
            SqliteRegistry::open(&path),
            Err(RegistryError::SchemaTooNew {
                found: 99,
                known: 7
            })
        ));
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn a_version_1_file_is_migrated_and_keeps_its_devices() {
        let path = temp_path("v1");
        {
            let connection = connect(&path).unwrap();
            connection.execute_batch(MIGRATIONS[0]).unwrap();
            connection
                .execute_batch(
                    "PRAGMA user_version = 1;
                     INSERT INTO devices (name, operation, key_request, auth_mode, status,
                         created_at, updated_at)
                     VALUES ('SEP001122334455', 'install', 'ec:p256', 'null', 'pending', 1, 1);",
                )
                .unwrap();
        }
        let registry = SqliteRegistry::open(&path).unwrap();
        assert_eq!(registry.schema_version().unwrap(), 7);
        let device = registry.device("SEP001122334455").unwrap();
        assert_eq!(device.operation, Operation::Install);
        assert_eq!(device.claimed_until, None);
        assert_eq!(device.operation_status, OperationStatus::Pending);
        assert_eq!(device.complete_by, None);
        drop(registry);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn the_ledger_refuses_deletes_and_rewrites() {
        let path = temp_path("append");
        let registry = SqliteRegistry::open(&path).unwrap();
        registry.put_device("CSFALICE", &install(), 1).unwrap();
        let ClaimAnswer::Claimed { claim, .. } = registry
            .claim_operation("CSFALICE", ClaimToken([4; 16]), 100, 1)
            .unwrap()
        else {
            panic!("not claimed")
        };
        registry
            .record_pending_certificate(&claim, &cert(), 2)
            .unwrap();
        let connection = connect(&path).unwrap();
        assert!(connection.execute("DELETE FROM certificates", []).is_err());
        assert!(
            connection
                .execute("UPDATE certificates SET der = x'00'", [])
                .is_err()
        );
        assert_eq!(registry.certificates("CSFALICE").unwrap().len(), 1);
        drop(registry);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
    /// The value CHECKs are comparisons: a session's write compiles without
    /// the temporary b-tree an IN list of more than two values costs at
    /// every row, and the CHECKs still refuse a value outside the list.
    #[test]
    fn value_checks_compile_without_a_temporary_b_tree_and_still_refuse() {
        let path = temp_path("checks");
        let registry = SqliteRegistry::open(&path).unwrap();
        registry.put_device("CSFALICE", &install(), 1).unwrap();
        let connection = connect(&path).unwrap();
        let tables: Vec<String> = connection
            .prepare(
                "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name <> 'tvs_certificates'",
            )
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(tables.len() >= 5, "{tables:?}");
        for sql in &tables {
            assert!(!sql.contains(" IN ("), "an IN list in {sql}");
        }
        let opcodes = |sql: &str| -> Vec<String> {
            connection
                .prepare(&format!("EXPLAIN {sql}"))
                .unwrap()
                .query_map([], |row| row.get(1))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        for sql in [
            "UPDATE certificates SET state = 'installed' WHERE id = 1",
            "UPDATE devices SET operation = 'none', status = 'successful' WHERE name = 'CSFALICE'",
            "INSERT INTO certificates (device, serial_hex, der, state, issued_at, not_after, updated_at)
             VALUES ('CSFALICE', '01', x'00', 'pending', 1, 2, 1)",
        ] {
            let compiled = opcodes(sql);
            assert!(compiled.iter().any(|op| op == "Halt"), "{compiled:?}");
            assert!(
                !compiled.iter().any(|op| op == "OpenEphemeral"),
                "{sql}: {compiled:?}"
            );
        }
        for refused in [
            "UPDATE devices SET operation = 'reboot' WHERE name = 'CSFALICE'",
            "UPDATE devices SET status = 'done' WHERE name = 'CSFALICE'",
            "UPDATE devices SET auth_mode = 'password' WHERE name = 'CSFALICE'",
            "INSERT INTO certificates (device, serial_hex, der, state, issued_at, not_after, updated_at)
             VALUES ('CSFALICE', '01', x'00', 'revoked', 1, 2, 1)",
        ] {
            let error = connection.execute(refused, []).unwrap_err().to_string();
            assert!(error.contains("CHECK constraint failed"), "{refused}: {error}");
        }
        assert_eq!(
            registry.device("CSFALICE").unwrap().operation,
            Operation::Install
        );
        drop(registry);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
