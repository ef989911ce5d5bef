//! The registry of a CAPF service, as a crate of its own: the device
//! registry (what CAPF should do with each phone and how the phone
//! authenticates), the append-only certificate ledger, the event log and the
//! TVS allow-list, behind two traits; the host rules of a CAPF service as
//! pure functions ([`rules`]); and the SQLite backend ([`SqliteRegistry`]).
//!
//! Dependencies flow one way: `ctl-format` ← `capf-core` ← `capf-registry`
//! ← hosts (the `capf` CLI, the Python and Kotlin bindings).
//!
//! # The traits
//!
//! [`Registry`] holds devices, the ledger and events; [`TvsAllowList`] holds
//! the certificates TVS vouches for. They are two traits because they are
//! two services: a TVS server needs only the allow-list, and a site may keep
//! its TVS list elsewhere than its CAPF registry. [`SqliteRegistry`]
//! implements both, in one file.
//!
//! # Blocking, not async
//!
//! The traits are **blocking**: every method returns when its work is done
//! (for a write: committed to disk). Why:
//! - pyo3, uniffi and JVM hosts call the library from their own threads;
//!   an async trait would force a Rust async runtime (and its choice) into
//!   every one of them, and `async fn` in traits is not object-safe, while
//!   `&dyn Registry` is what a binding holds;
//! - a tokio host can still avoid blocking its workers: the SQLite backend
//!   also offers awaitable forms of the session's writes
//!   ([`SqliteRegistry::claim_operation_async`], [`look_up_device_async`],
//!   [`finish_session_async`]) answered by its writer thread, and the
//!   expensive authentication checks that go with a lookup (PBKDF2 of the
//!   one-time string, certificate chains) belong on a blocking pool anyway;
//! - the networked backend planned next (PostgreSQL) can be blocking too,
//!   with the `postgres` crate, one connection per call from a pool.
//!
//! The methods take `&self` and the traits require `Send + Sync`: one
//! registry value is shared by every session of a server.
//!
//! # One operation, one certificate
//!
//! A scheduled operation is claimed by one session at a time
//! ([`Registry::claim_operation`]): a conditional write, in the transaction
//! that reads the operation, that succeeds only when no other session holds
//! an unexpired lease. Only the holder may record a certificate
//! ([`Registry::record_pending_certificate`]) or complete the operation
//! ([`Registry::record_outcome`]), so the one-time authentication string is
//! consumed once and at most one certificate is installed per scheduled
//! operation. A second session for the same device is refused
//! ([`rules::lookup_answer`]): the server closes it without END_SESSION, so
//! the phone sees a communication failure and retries by its policy. The
//! claim is released when the session ends, whatever the outcome ([`Registry::record_outcome`],
//! [`Registry::release_claim`]); the lease ([`rules::lease_until`]) outlives
//! the key-generation limit, so a live session never loses it, and a claim
//! left by a crashed session expires so the phone can retry. Because the
//! claim lives in the database, it holds across processes sharing one
//! SQLite file and, with a networked backend, across nodes.
//!
//! # Durability
//!
//! A write returns once committed. The SQLite backend uses a WAL journal
//! with `synchronous = FULL` (a claim's lease alone commits without its own
//! fsync; the next durable write carries it, see its module) and group commit (one writer thread; one
//! IMMEDIATE transaction per batch of queued writes, a savepoint per write
//! so a failed write is undone alone; each caller is answered after the
//! commit). A certificate is recorded as pending before it is sent to the
//! phone, and the ledger refuses deletes and rewrites, so an issued
//! certificate is never lost. Devices are removed softly: their ledger stays.
//!
//! The plain authentication string is never stored: only the salt, the
//! iteration count and the PBKDF2 output ([`hash_auth_string`]).
//!
//! # A host's session, step by step
//!
//! 1. On [`ServerDecision::LookUpDevice`](capf_core::capf::server::ServerDecision::LookUpDevice):
//!    [`look_up_device`] (claims the operation, applies the rules), then
//!    answer the session with the record or the refusal. The answer runs
//!    the authentication checks: run it off an async runtime's workers.
//! 2. On `RecordPendingCertificate`: [`Registry::record_pending_certificate`]
//!    with the claim.
//! 3. When the session ends: [`finish_session`] (the outcome's write and the
//!    claim's release, in one transaction). A connection that fails without
//!    an outcome: [`Registry::release_claim`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod model;
pub mod rules;
pub mod sqlite;
pub mod tvs;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use error::{RegistryError, RegistryResult};
pub use model::{
    AuthMode, CertificateEntry, CertificateState, Claim, ClaimAnswer, ClaimToken, Completion,
    Device, Event, FailureCount, LedgerChange, NewCertificate, Operation, OutcomeWrite, Recorded,
    Schedule, Status, StoredAuthHash, StoredDevice, auth_string_verifier, hash_auth_string,
};
pub use rules::LookUp;
pub use sqlite::{PendingWrite, SqliteRegistry};
pub use tvs::{DEFAULT_TTL, MAX_TTL, TvsEntry, TvsRegistration, certificate_sha256};

use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::server::ServerOutcome;
use ctl_format::trust_list::Role;

/// The device registry, certificate ledger and event log of a CAPF service.
///
/// Blocking (see the [crate docs](crate#blocking-not-async)); every write is
/// committed when it returns. Times are Unix seconds passed in by the host.
pub trait Registry: Send + Sync {
    /// Adds a device, or replaces the schedule of an existing (or removed)
    /// one. Resets failures, the lock and any claim. Returns whether it
    /// existed.
    fn put_device(&self, name: &str, schedule: &Schedule, now: u64) -> RegistryResult<bool>;

    /// [`put_device`](Self::put_device) for many devices in one transaction:
    /// all are written or none. Returns how many already existed.
    fn put_devices(&self, devices: &[(String, Schedule)], now: u64) -> RegistryResult<usize>;

    /// Changes the scheduled operation (and optionally the key request and
    /// the authentication string hash) of an existing device; resets
    /// failures, the lock and any claim (a session holding the old
    /// operation can no longer complete it).
    fn set_operation(
        &self,
        name: &str,
        operation: Operation,
        key_request: Option<KeyRequest>,
        auth_hash: Option<&StoredAuthHash>,
        now: u64,
    ) -> RegistryResult<()>;

    /// Removes a device. Its certificate ledger and events are kept (a
    /// later [`put_device`](Self::put_device) revives it). Returns how many
    /// certificates the ledger keeps for it.
    fn remove(&self, name: &str, now: u64) -> RegistryResult<usize>;

    /// Every non-removed device, by name.
    fn list(&self) -> RegistryResult<Vec<Device>>;

    /// One device ([`RegistryError::UnknownDevice`] if absent or removed).
    fn device(&self, name: &str) -> RegistryResult<Device>;

    /// The device's certificates, oldest first (also of a removed device).
    fn certificates(&self, name: &str) -> RegistryResult<Vec<CertificateEntry>>;

    /// The device's events, oldest first.
    fn events(&self, name: &str) -> RegistryResult<Vec<Event>>;

    /// A session's lookup: reads the device and, when something is
    /// scheduled, claims the operation for `token` until `lease_until`, in
    /// one transaction. The claim succeeds when no claim is set, the set
    /// one's lease ended (`lease_until <= now`), or `token` already holds
    /// it; otherwise the answer is [`ClaimAnswer::Held`] and nothing is
    /// written. [`RegistryError::UnknownDevice`] if there is no such device.
    /// A backend may answer "unknown" and [`ClaimAnswer::NothingScheduled`]
    /// from a plain read (nothing is written for them); a claim is always
    /// decided inside the write.
    fn claim_operation(
        &self,
        name: &str,
        token: ClaimToken,
        lease_until: u64,
        now: u64,
    ) -> RegistryResult<ClaimAnswer>;

    /// Records a freshly issued certificate as pending, committed before
    /// this returns: call it before the certificate goes to the phone.
    /// Only the claim's holder may ([`RegistryError::ClaimLost`]). Returns
    /// the ledger id.
    fn record_pending_certificate(
        &self,
        claim: &Claim,
        certificate: &NewCertificate,
        now: u64,
    ) -> RegistryResult<i64>;

    /// Makes the write that ends a session (from [`rules::outcome_write`])
    /// and releases `claim` (if the session holds it), in one transaction.
    /// A [`OutcomeWrite::Completed`] needs the claim
    /// ([`RegistryError::ClaimLost`] otherwise, nothing written); it sets
    /// the operation to none, the status to successful, clears failures and
    /// the lock, and consumes the one-time string. A failure is counted with
    /// [`rules::count_failure`] inside the transaction.
    fn record_outcome(
        &self,
        name: &str,
        claim: Option<&Claim>,
        write: &OutcomeWrite,
        now: u64,
    ) -> RegistryResult<Recorded>;

    /// Releases `claim` if its token still holds it (a session that ends
    /// without an outcome). Returns whether it did.
    fn release_claim(&self, claim: &Claim, now: u64) -> RegistryResult<bool>;
}

/// The TVS allow-list: certificates TVS vouches for, by SHA-256.
///
/// Blocking, like [`Registry`]; writes are committed when they return.
pub trait TvsAllowList: Send + Sync {
    /// Registers `der` with these roles and TTL (checked by
    /// [`TvsRegistration::new`]), or replaces the roles and TTL of an
    /// already registered certificate (its revocation stays).
    fn tvs_add(&self, der: &[u8], roles: &[Role], ttl: u32, now: u64) -> RegistryResult<TvsEntry>;

    /// Removes a certificate; false if it was not registered.
    fn tvs_remove(&self, sha256: &[u8; 32]) -> RegistryResult<bool>;

    /// Marks a certificate revoked; false if it was not registered.
    fn tvs_revoke(&self, sha256: &[u8; 32]) -> RegistryResult<bool>;

    /// Every registered certificate, by subject then digest.
    fn tvs_list(&self) -> RegistryResult<Vec<TvsEntry>>;

    /// The certificate with this digest, if registered.
    fn tvs_look_up(&self, sha256: &[u8; 32]) -> RegistryResult<Option<TvsEntry>>;
}

/// Step 1 of a session: claims the device's operation for `token` and
/// applies the rules ([`rules::lookup_answer`]). Blocking (a registry
/// write). The answer's record then goes to
/// [`ServerSession::answer_device`](capf_core::capf::server::ServerSession::answer_device),
/// which runs the authentication checks (expensive: PBKDF2, chains), or the
/// refusal to [`ServerSession::refuse_device`](capf_core::capf::server::ServerSession::refuse_device).
pub fn look_up_device<R: Registry + ?Sized>(
    registry: &R,
    name: &str,
    token: ClaimToken,
    lease_until: u64,
    now: u64,
) -> RegistryResult<LookUp> {
    lookup_of(registry.claim_operation(name, token, lease_until, now))
}

/// [`look_up_device`] for an async host on a [`SqliteRegistry`]: the claim
/// is awaited ([`SqliteRegistry::claim_operation_async`]), not blocked on.
pub async fn look_up_device_async(
    registry: &SqliteRegistry,
    name: &str,
    token: ClaimToken,
    lease_until: u64,
    now: u64,
) -> RegistryResult<LookUp> {
    lookup_of(
        registry
            .claim_operation_async(name, token, lease_until, now)
            .await,
    )
}

/// The rules' answer to a claim's result (an unknown device is an answer,
/// not an error).
fn lookup_of(claimed: RegistryResult<model::ClaimAnswer>) -> RegistryResult<LookUp> {
    let found = match claimed {
        Ok(answer) => Some(answer),
        Err(RegistryError::UnknownDevice(_)) => None,
        Err(error) => return Err(error),
    };
    rules::lookup_answer(found)
}

/// Step 1, second half: answers the session's
/// [`LookUpDevice`](capf_core::capf::server::ServerDecision::LookUpDevice)
/// from a lookup's result, the same way for every host: the record (or
/// "unknown device"), the rules' refusal, or, when the registry could not
/// answer, [`DeviceRefusal::RegistryUnavailable`](capf_core::capf::server::DeviceRefusal::RegistryUnavailable)
/// (END_SESSION 7: the phone may retry). Returns the claim the session
/// holds from now on (release it when the session ends, even when
/// answering failed) and the session's verdict on the answer.
///
/// Answering with a record runs the authentication checks
/// ([`lookup_runs_checks`]): on an async host, call this off the
/// runtime's workers then.
pub fn answer_lookup(
    session: &mut capf_core::capf::server::ServerSession,
    looked_up: RegistryResult<LookUp>,
) -> (Option<Claim>, Result<(), capf_core::session::SessionMisuse>) {
    use capf_core::capf::server::DeviceRefusal;
    match looked_up {
        Ok(LookUp::Answer { record, claim }) => (claim, session.answer_device(record)),
        Ok(LookUp::Refuse(refusal)) => (None, session.refuse_device(refusal)),
        Err(_) => (
            None,
            session.refuse_device(DeviceRefusal::RegistryUnavailable),
        ),
    }
}

/// Whether [`answer_lookup`] with this result runs authentication checks
/// worth a blocking thread: a one-time string (PBKDF2) or a certificate
/// (chains). Null-string and unknown devices, refusals and registry errors
/// are answered at once.
pub fn lookup_runs_checks(looked_up: &RegistryResult<LookUp>) -> bool {
    match looked_up {
        Ok(LookUp::Answer {
            record: Some(record),
            ..
        }) => !matches!(
            record.authentication,
            capf_core::capf::server::AuthMode::NullString
        ),
        _ => false,
    }
}

/// Step 3 of a session: the outcome's write ([`rules::outcome_write`]) and
/// the release of the session's claim, in one transaction. `ledger_id` is
/// the id [`Registry::record_pending_certificate`] returned, if any;
/// `lock_after` the lock-out threshold (0: never). An outcome without a
/// device name (the phone never sent a valid one) writes nothing.
pub fn finish_session<R: Registry + ?Sized>(
    registry: &R,
    outcome: &ServerOutcome,
    claim: Option<&Claim>,
    ledger_id: Option<i64>,
    lock_after: u32,
    now: u64,
) -> RegistryResult<Recorded> {
    match finish_step(outcome, claim, ledger_id, lock_after) {
        FinishStep::Nothing => Ok(Recorded::default()),
        FinishStep::Record { name, write } => registry.record_outcome(name, claim, &write, now),
        FinishStep::Release(claim) => registry.release_claim(claim, now).map(|released| Recorded {
            failure: None,
            released,
        }),
    }
}

/// [`finish_session`] for an async host on a [`SqliteRegistry`]: the write
/// is awaited ([`SqliteRegistry::record_outcome_async`]), not blocked on.
pub async fn finish_session_async(
    registry: &SqliteRegistry,
    outcome: &ServerOutcome,
    claim: Option<&Claim>,
    ledger_id: Option<i64>,
    lock_after: u32,
    now: u64,
) -> RegistryResult<Recorded> {
    match finish_step(outcome, claim, ledger_id, lock_after) {
        FinishStep::Nothing => Ok(Recorded::default()),
        FinishStep::Record { name, write } => {
            registry
                .record_outcome_async(name, claim, &write, now)
                .await
        }
        FinishStep::Release(claim) => {
            registry
                .release_claim_async(claim, now)
                .await
                .map(|released| Recorded {
                    failure: None,
                    released,
                })
        }
    }
}

/// What ends a session in the registry.
enum FinishStep<'a> {
    /// Nothing to write and nothing held (an unknown device, a refusal
    /// before any claim): the registry is not asked, so an outcome about a
    /// device it does not hold still counts as recorded and the phone hears
    /// the session's own END_SESSION.
    Nothing,
    /// The outcome's write (with the claim's release) for this device.
    Record {
        name: &'a str,
        write: model::OutcomeWrite,
    },
    /// No device name (the phone never sent a valid one): the claim is
    /// released.
    Release(&'a Claim),
}

fn finish_step<'a>(
    outcome: &'a ServerOutcome,
    claim: Option<&'a Claim>,
    ledger_id: Option<i64>,
    lock_after: u32,
) -> FinishStep<'a> {
    match &outcome.device_name {
        Some(name) => {
            let write = rules::outcome_write(outcome, ledger_id, lock_after);
            if write == model::OutcomeWrite::Nothing && claim.is_none() {
                return FinishStep::Nothing;
            }
            FinishStep::Record { name, write }
        }
        None => match claim {
            Some(claim) => FinishStep::Release(claim),
            None => FinishStep::Nothing,
        },
    }
}
