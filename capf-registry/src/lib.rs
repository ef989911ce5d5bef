//! The registry of a CAPF service, as a crate of its own: the device
//! registry (what CAPF should do with each phone and how the phone
//! authenticates), the append-only certificate ledger, the event log and the
//! TVS allow-list, behind two traits; the host rules of a CAPF service as
//! pure functions ([`rules`]); the SQLite backend ([`SqliteRegistry`]) and,
//! with the feature `postgres`, the PostgreSQL backend
//! (`PostgresRegistry`) that several `capf serve` nodes share.
//!
//! # Choosing a backend
//!
//! Hosts call [`open`] with what `--db` names (a file path, or a
//! `postgres://` URL; [`db_url`] tells them apart and redacts passwords)
//! and hold the [`AnyRegistry`] it returns; [`health`] probes one without
//! changing it, and [`copy_registry`] moves a whole registry between
//! backends.
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
//!   ([`SessionWritesAsync`], [`look_up_device_async`],
//!   [`finish_session_async`]) answered by its writer thread, and the
//!   expensive authentication checks that go with a lookup (PBKDF2 of the
//!   one-time string, certificate chains) belong on a blocking pool anyway;
//! - the PostgreSQL backend is blocking too (the `postgres` crate), its
//!   connections on a writer and a reader thread of its own, with the same
//!   group commit and the same awaitable session writes.
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
//! The plain authentication string is never stored: only its HMAC-SHA256
//! under a key kept outside the database ([`auth_key`],
//! [`StoredAuthHash::Keyed`]), or, for rows written by earlier releases,
//! the salt, iteration count and PBKDF2 output ([`hash_auth_string`]),
//! which keep working until used or replaced.
//!
//! # Issuing through an external CA (EST)
//!
//! With the feature `est`, [`est`] is an EST client (RFC 7030
//! `/simpleenroll` over HTTPS, basic or client-certificate authentication)
//! a host answers `IssueCertificate` with instead of a local
//! `LscIssuer`: the phone-signed PKCS#10 request goes to the CA while the
//! session waits, the certificate for exactly the phone's key comes back,
//! and each failure maps to the refusal whose status an administrator
//! expects ("CA Communication Failure" when the CA does not answer in time
//! or cannot be reached, "CA Rejected Connection" when it refuses); a
//! phone that sent no signed request cannot be enrolled this way. The
//! claim's lease covers the CA's wait
//! ([`rules::lease_until_with_issuance`]), and the CA's `/cacerts` are the
//! issuers to trust for the LSCs it signs. `capf serve --est-url` is that
//! host; the feature `est-responder` adds the EST responder its tests use.
//!
//! # A host's session, step by step
//!
//! 1. On [`ServerDecision::LookUpDevice`](capf_core::capf::server::ServerDecision::LookUpDevice):
//!    [`look_up_device`] (claims the operation, applies the rules), then
//!    answer the session with the record or the refusal. The answer runs
//!    the authentication checks: run it off an async runtime's workers.
//!    For an install, the lookup also reads the device's offline-CA
//!    requests ([`offline_ca`]): a certificate imported for it becomes the
//!    record's ready certificate, sent without KEY_GEN_REQUEST.
//! 2. On `RecordPendingCertificate`: [`Registry::record_pending_certificate`]
//!    with the claim.
//! 3. When the session ends: [`finish_session`] (the outcome's write and the
//!    claim's release, in one transaction; a ready certificate the phone
//!    stored completes with its ledger row, one it refused makes its
//!    request stale). A connection that fails without
//!    an outcome: [`Registry::release_claim`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The certificate requests matching `$filter` (one SQL literal), oldest
/// first, as both backends' `certificate_requests` read them (declared before
/// the backend modules, which use it).
macro_rules! certificate_requests_where {
    ($filter:literal) => {
        concat!(
            "SELECT id, device, key_request, spki, csr, requested_at, stale_at, ",
            "certificate_id, imported_at FROM certificate_requests WHERE ",
            $filter,
            " ORDER BY id"
        )
    };
}

pub mod any;
pub mod auth_key;
pub mod auth_string;
pub mod copy;
pub mod dates;
pub mod db_url;
pub mod error;
pub mod issuance;
pub mod model;
pub mod offline_ca;
pub mod report;
pub mod rules;
pub mod settings;
pub mod sqlite;
pub mod tvs;

#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresOptions, PostgresRegistry};

#[cfg(feature = "conformance")]
pub mod conformance;

#[cfg(feature = "est")]
pub mod est;

pub use any::{AnyRegistry, Health, OpenOptions, copy_registry, health, open};
pub use auth_key::{
    AUTH_KEY_ENV, AUTH_KEY_OPTION, AuthKey, AuthKeyUse, auth_key_path_from_env, open_auth_key,
    require_auth_key, resolve_auth_key_path,
};
pub use copy::{CopyReport, Dump};
pub use dates::parse_date;
pub use error::{RegistryError, RegistryResult};
pub use model::{
    AuthMode, CertificateEntry, CertificateState, Claim, ClaimAnswer, ClaimToken, Completion,
    Device, Event, FailureCount, LedgerChange, NewCertificate, Operation, OutcomeWrite, Recorded,
    Revocation, RevocationReason, RevocationTarget, Schedule, Status, StoredAuthHash, StoredDevice,
    auth_string_verifier, hash_auth_string, normalize_serial_hex,
};
pub use model::{FailureReason, OperationStatus, StatusOperation};
pub use offline_ca::{
    AcceptedImport, CertificateRequest, CertificateRequestState, ImportRefusal,
    ImportedCertificate, NewCertificateRequest, check_import,
};
pub use report::{DeviceFilter, ReportRow};
pub use rules::{LookUp, Renewal, RenewalPolicy};
pub use settings::{SettingError, Settings};
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
    /// operation can no longer complete it), and clears the old operation's
    /// deadline (set a new one with [`annotate`](Self::annotate)).
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

    /// Every (non-removed) device whose one-time string has this keyed hash
    /// ([`StoredAuthHash::Keyed`]), by name: a look-up by string lists every
    /// match. Indexed: immediate among many devices. Devices whose string
    /// is still hashed the old way (PBKDF2) cannot be found by string.
    fn devices_by_auth_hash(&self, hash: &[u8; 32]) -> RegistryResult<Vec<Device>>;

    /// How many (non-removed) devices hold a keyed string: a program that
    /// would create a new key must not when this is not zero.
    fn keyed_auth_string_count(&self) -> RegistryResult<usize>;

    /// Sets the scheduled operation's deadline (`Some`: replaced; `None`:
    /// unchanged) and the description (`Some`: replaced, empty clears it;
    /// `None`: unchanged) of an existing device.
    fn annotate(
        &self,
        name: &str,
        complete_by: Option<u64>,
        description: Option<&str>,
        now: u64,
    ) -> RegistryResult<()>;

    /// Records the revocation of `target`'s certificates with `reason` at
    /// `now`, in one transaction, and returns them as revoked (oldest
    /// first). A revocation is final. [`RegistryError::NothingToRevoke`]
    /// when nothing matches (unknown device or serial, or everything
    /// already revoked or deleted); [`RegistryError::BadSerial`] for a
    /// serial that is not hex. Sessions consult the revocations by
    /// themselves ([`look_up_device`]), and so does TVS
    /// ([`ledger_revocation`]).
    fn revoke(
        &self,
        target: &RevocationTarget,
        reason: RevocationReason,
        now: u64,
    ) -> RegistryResult<Vec<CertificateEntry>>;

    /// Every certificate of the ledger with this serial (hex, compared as
    /// [`normalize_serial_hex`] says), oldest first, of any device.
    fn certificates_with_serial(&self, serial_hex: &str) -> RegistryResult<Vec<CertificateEntry>>;

    /// Every revoked certificate of the ledger, oldest first (what a CRL
    /// lists).
    fn revoked_certificates(&self) -> RegistryResult<Vec<CertificateEntry>>;

    /// The renewal candidates: every installed ledger certificate that is
    /// neither revoked nor replaced, of a device that is not removed,
    /// oldest first ([`rules::plan_renewals`] picks each device's newest).
    fn current_certificates(&self) -> RegistryResult<Vec<CertificateEntry>>;

    /// Schedules the renewal of `certificate_id` (the device's current
    /// LSC): an install authenticated by that LSC (auth mode lsc, the
    /// device's key request kept), in one transaction, only if the device
    /// still has nothing scheduled and the certificate is still current.
    /// Returns false (nothing written) otherwise. When the phone completes
    /// it, the new certificate replaces the old one in the ledger
    /// ([`CertificateEntry::replaced_by`]; every install does so).
    fn schedule_renewal(&self, name: &str, certificate_id: i64, now: u64) -> RegistryResult<bool>;

    /// Records a certificate issued outside a CAPF session (`capf cert
    /// issue`: a third-party client's certificate from its CSR) as
    /// installed, in one transaction: the device is added when absent
    /// (nothing scheduled, null string, `key_request` as its key) or
    /// revived when removed, and the new certificate replaces the device's
    /// earlier installed ones, as a CAPF install does. Returns the ledger
    /// id.
    fn record_issued_certificate(
        &self,
        name: &str,
        key_request: KeyRequest,
        certificate: &NewCertificate,
        now: u64,
    ) -> RegistryResult<i64>;

    /// Keeps a certificate request for the offline CA ([`offline_ca`]),
    /// committed before this returns; the device's earlier requests that
    /// are not installed become stale (a newer key). Only the claim's
    /// holder may ([`RegistryError::ClaimLost`]). Returns its id.
    fn record_certificate_request(
        &self,
        claim: &Claim,
        request: &NewCertificateRequest,
        now: u64,
    ) -> RegistryResult<i64>;

    /// Every kept certificate request (pending, imported or stale), oldest
    /// first; of one device only when `device` is given.
    fn certificate_requests(&self, device: Option<&str>)
    -> RegistryResult<Vec<CertificateRequest>>;

    /// Marks the request whose imported certificate is `certificate_id`
    /// stale (the phone refused it: not its pending key). Returns whether
    /// one was.
    fn mark_certificate_request_stale(&self, certificate_id: i64, now: u64)
    -> RegistryResult<bool>;

    /// Records the certificate of request `request_id` (checked first with
    /// [`check_import`]) in the ledger as pending, in one transaction with
    /// the request's link to it; the request must still be pending
    /// ([`RegistryError::RequestNotPending`]). Returns the ledger id.
    fn import_certificate(
        &self,
        request_id: i64,
        certificate: &NewCertificate,
        now: u64,
    ) -> RegistryResult<i64>;

    /// Deletes every stale certificate request (the ledger is not
    /// touched). Returns how many.
    fn delete_stale_certificate_requests(&self, now: u64) -> RegistryResult<usize>;

    /// The registry's settings (service parameters shared by every server
    /// on it): the stored ones over [`Settings::default`]. A stored value
    /// out of range is [`RegistryError::Setting`].
    fn settings(&self) -> RegistryResult<Settings>;

    /// Stores every setting of `settings` (as [`Settings::pairs`]), in one
    /// transaction, replacing the stored ones.
    fn put_settings(&self, settings: &Settings, now: u64) -> RegistryResult<()>;
}

/// The renewal planner: schedules ([`Registry::schedule_renewal`]) every
/// renewal [`rules::plan_renewals`] finds due at `now`, or only lists them
/// when `dry_run`. Returns what it scheduled (or would schedule); a device
/// whose state changed meanwhile (scheduled by someone else) is left out.
pub fn plan_renewals<R: Registry + ?Sized>(
    registry: &R,
    policy: rules::RenewalPolicy,
    now: u64,
    dry_run: bool,
) -> RegistryResult<Vec<rules::Renewal>> {
    let devices = registry.list()?;
    let current = registry.current_certificates()?;
    let plan = rules::plan_renewals(&devices, &current, policy, now);
    if dry_run {
        return Ok(plan);
    }
    let mut scheduled = Vec::with_capacity(plan.len());
    for renewal in plan {
        if registry.schedule_renewal(&renewal.device, renewal.certificate_id, now)? {
            scheduled.push(renewal);
        }
    }
    Ok(scheduled)
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

/// The session's writes answered through futures ([`PendingWrite`]), for
/// async hosts: each backend's writer thread answers them, so awaiting
/// blocks no runtime worker. [`look_up_device_async`] and
/// [`finish_session_async`] are written against it.
pub trait SessionWritesAsync: Registry {
    /// [`Registry::claim_operation`], answered through a future.
    fn claim_operation_async(
        &self,
        name: &str,
        token: ClaimToken,
        lease_until: u64,
        now: u64,
    ) -> PendingWrite<ClaimAnswer>;
    /// [`Registry::record_pending_certificate`], answered through a future.
    fn record_pending_certificate_async(
        &self,
        claim: &Claim,
        certificate: &NewCertificate,
        now: u64,
    ) -> PendingWrite<i64>;
    /// [`Registry::record_outcome`], answered through a future.
    fn record_outcome_async(
        &self,
        name: &str,
        claim: Option<&Claim>,
        write: &OutcomeWrite,
        now: u64,
    ) -> PendingWrite<Recorded>;
    /// [`Registry::release_claim`], answered through a future.
    fn release_claim_async(&self, claim: &Claim, now: u64) -> PendingWrite<bool>;
}

/// Delegates to the inherent `*_async` methods of a backend.
macro_rules! session_writes_async {
    ($backend:ty) => {
        impl SessionWritesAsync for $backend {
            fn claim_operation_async(
                &self,
                name: &str,
                token: ClaimToken,
                lease_until: u64,
                now: u64,
            ) -> PendingWrite<ClaimAnswer> {
                <$backend>::claim_operation_async(self, name, token, lease_until, now)
            }
            fn record_pending_certificate_async(
                &self,
                claim: &Claim,
                certificate: &NewCertificate,
                now: u64,
            ) -> PendingWrite<i64> {
                <$backend>::record_pending_certificate_async(self, claim, certificate, now)
            }
            fn record_outcome_async(
                &self,
                name: &str,
                claim: Option<&Claim>,
                write: &OutcomeWrite,
                now: u64,
            ) -> PendingWrite<Recorded> {
                <$backend>::record_outcome_async(self, name, claim, write, now)
            }
            fn release_claim_async(&self, claim: &Claim, now: u64) -> PendingWrite<bool> {
                <$backend>::release_claim_async(self, claim, now)
            }
        }
    };
}

session_writes_async!(SqliteRegistry);
#[cfg(feature = "postgres")]
session_writes_async!(PostgresRegistry);

/// Step 1 of a session: claims the device's operation for `token` and
/// applies the rules ([`rules::lookup_answer`]). Blocking (a registry
/// write). The answer's record then goes to
/// [`ServerSession::answer_device`](capf_core::capf::server::ServerSession::answer_device),
/// which runs the authentication checks (expensive: PBKDF2, chains), or the
/// refusal to [`ServerSession::refuse_device`](capf_core::capf::server::ServerSession::refuse_device).
///
/// `auth_key` verifies keyed strings ([`auth_key`]); a device with a keyed
/// string and no key is an error ([`RegistryError::AuthKey`]).
pub fn look_up_device<R: Registry + ?Sized>(
    registry: &R,
    name: &str,
    token: ClaimToken,
    lease_until: u64,
    now: u64,
    auth_key: Option<&AuthKey>,
) -> RegistryResult<LookUp> {
    let (answer, follow_up) = lookup_of(
        registry.claim_operation(name, token, lease_until, now),
        now,
        auth_key,
    );
    match follow_up {
        Some(LookupFollowUp::RecordLate(claim)) => {
            registry.record_outcome(name, Some(&claim), &model::OutcomeWrite::Late, now)?;
        }
        Some(LookupFollowUp::Release(claim)) => {
            // The rules' error is the one to report.
            let _released = registry.release_claim(&claim, now);
        }
        None => {}
    }
    match with_ledger_revocations(registry, name, answer?) {
        Ok(answer) => Ok(answer),
        Err((error, claim)) => {
            // The claim was taken: give it back before failing.
            if let Some(claim) = claim {
                let _released = registry.release_claim(&claim, now);
            }
            Err(error)
        }
    }
}

/// [`look_up_device`] for an async host ([`SessionWritesAsync`]: SQLite,
/// PostgreSQL, [`AnyRegistry`]): the claim and the writes that follow it
/// are awaited ([`SessionWritesAsync::claim_operation_async`]), not
/// blocked on.
pub async fn look_up_device_async<R: SessionWritesAsync + ?Sized>(
    registry: &R,
    name: &str,
    token: ClaimToken,
    lease_until: u64,
    now: u64,
    auth_key: Option<&AuthKey>,
) -> RegistryResult<LookUp> {
    let (answer, follow_up) = lookup_of(
        registry
            .claim_operation_async(name, token, lease_until, now)
            .await,
        now,
        auth_key,
    );
    match follow_up {
        Some(LookupFollowUp::RecordLate(claim)) => {
            registry
                .record_outcome_async(name, Some(&claim), &model::OutcomeWrite::Late, now)
                .await?;
        }
        Some(LookupFollowUp::Release(claim)) => {
            // The rules' error is the one to report.
            let _released = registry.release_claim_async(&claim, now).await;
        }
        None => {}
    }
    // The ledger's revocations are a read: answered here, on the caller's
    // thread.
    match with_ledger_revocations(registry, name, answer?) {
        Ok(answer) => Ok(answer),
        Err((error, claim)) => {
            if let Some(claim) = claim {
                let _released = registry.release_claim_async(&claim, now).await;
            }
            Err(error)
        }
    }
}

/// Certificate authentication: the device's revoked certificates in the
/// ledger are refused ([`rules::ledger_revocations`]), so the record
/// carries them. On a registry error, the error and the claim to give back.
fn with_ledger_revocations<R: Registry + ?Sized>(
    registry: &R,
    name: &str,
    answer: LookUp,
) -> Result<LookUp, (RegistryError, Option<Claim>)> {
    match answer {
        LookUp::Answer {
            record: Some(record),
            claim,
        } if matches!(
            record.authentication,
            capf_core::capf::server::AuthMode::ExistingCertificate { .. }
        ) =>
        {
            match registry.certificates(name) {
                Ok(entries) => Ok(LookUp::Answer {
                    record: Some(record.with_revocations(&rules::ledger_revocations(&entries))),
                    claim,
                }),
                Err(error) => Err((error, claim)),
            }
        }
        other => Ok(other),
    }
}

/// The ledger id of a pending certificate with exactly these bytes (a
/// ready certificate the session sent), if any.
fn pending_ledger_id<R: Registry + ?Sized>(
    registry: &R,
    name: &str,
    certificate_der: &[u8],
) -> RegistryResult<Option<i64>> {
    Ok(registry
        .certificates(name)?
        .into_iter()
        .find(|entry| entry.state == CertificateState::Pending && entry.der == certificate_der)
        .map(|entry| entry.id))
}

/// What a session's end means for the offline CA's requests: a ready
/// certificate that was installed has no ledger id from this session
/// (it was recorded at import): find it; one the phone refused makes its
/// request stale (the phone no longer holds that key). Returns the ledger
/// id to complete with.
fn ready_certificate_outcome<R: Registry + ?Sized>(
    registry: &R,
    outcome: &ServerOutcome,
    ledger_id: Option<i64>,
    now: u64,
) -> RegistryResult<Option<i64>> {
    use capf_core::capf::server::SessionResult;
    let Some(name) = outcome.device_name.as_deref() else {
        return Ok(ledger_id);
    };
    match (&outcome.result, ledger_id) {
        (SessionResult::Installed { certificate_der }, None) => {
            pending_ledger_id(registry, name, certificate_der)
        }
        (
            SessionResult::StoreFailed {
                certificate_der, ..
            },
            None,
        ) => {
            if let Some(id) = pending_ledger_id(registry, name, certificate_der)? {
                registry.mark_certificate_request_stale(id, now)?;
            }
            Ok(None)
        }
        _ => Ok(ledger_id),
    }
}

/// The write a lookup's answer needs before it is given.
enum LookupFollowUp {
    /// Past the deadline: the outcome
    /// [`Late`](model::OutcomeWrite::Late) (the string void, the status
    /// says so) is written with the claim's release.
    RecordLate(Claim),
    /// A claim taken for an answer the rules cannot give (no key for a
    /// keyed string, a corrupt row) is released at once, so the phone can
    /// retry.
    Release(Claim),
}

/// The rules' answer to a claim's result (an unknown device is an answer,
/// not an error), and the write it needs first.
fn lookup_of(
    claimed: RegistryResult<model::ClaimAnswer>,
    now: u64,
    auth_key: Option<&AuthKey>,
) -> (RegistryResult<LookUp>, Option<LookupFollowUp>) {
    let found = match claimed {
        Ok(answer) => Some(answer),
        Err(RegistryError::UnknownDevice(_)) => None,
        Err(error) => return (Err(error), None),
    };
    if let Some(ClaimAnswer::Claimed { claim, device, .. }) = &found
        && rules::is_late(&device.device, now)
    {
        return (
            Ok(LookUp::Refuse(
                capf_core::capf::server::DeviceRefusal::DeadlinePassed,
            )),
            Some(LookupFollowUp::RecordLate(claim.clone())),
        );
    }
    let taken = match &found {
        Some(ClaimAnswer::Claimed { claim, .. }) => Some(claim.clone()),
        _ => None,
    };
    let answer = rules::lookup_answer(found, auth_key);
    let follow_up = match (&answer, taken) {
        (Err(_), Some(claim)) => Some(LookupFollowUp::Release(claim)),
        _ => None,
    };
    (answer, follow_up)
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

/// What a CRL of `issuer_certificate_der` lists: every revoked ledger
/// certificate whose issuer is that certificate's subject (others, such as
/// fetched MICs or LSCs of another issuer, belong to another CRL), each
/// serial once (its first revocation), oldest revocation first. A ledger
/// certificate that does not parse is skipped (its issuer is unknown).
pub fn crl_entries<R: Registry + ?Sized>(
    registry: &R,
    issuer_certificate_der: &[u8],
) -> RegistryResult<Vec<capf_core::revocation::RevokedEntry>> {
    use ::der::{Decode, Encode};
    use capf_core::revocation::RevokedEntry;
    use capf_core::time::Timestamp;
    let issuer = x509_cert::Certificate::from_der(issuer_certificate_der)
        .ok()
        .and_then(|certificate| certificate.tbs_certificate.subject.to_der().ok())
        .ok_or_else(|| RegistryError::NotACertificate("the CRL issuer".into()))?;
    let mut seen = std::collections::HashSet::new();
    let mut entries = Vec::new();
    for entry in registry.revoked_certificates()? {
        let Some(revocation) = entry.revocation else {
            continue;
        };
        let Ok(certificate) = x509_cert::Certificate::from_der(&entry.der) else {
            continue;
        };
        let tbs = &certificate.tbs_certificate;
        if tbs.issuer.to_der().ok().as_deref() != Some(issuer.as_slice()) {
            continue;
        }
        let serial = tbs.serial_number.as_bytes();
        let start = serial
            .iter()
            .position(|byte| *byte != 0)
            .unwrap_or(serial.len());
        let serial = serial.get(start..).unwrap_or_default().to_vec();
        if seen.insert(serial.clone()) {
            entries.push(RevokedEntry {
                serial,
                revoked_at: Timestamp::from_unix_seconds(revocation.revoked_at),
                reason: revocation.reason,
            });
        }
    }
    entries.sort_by_key(|entry| entry.revoked_at.unix_seconds());
    Ok(entries)
}

/// Whether the ledger revokes this certificate (DER): a ledger entry with
/// its serial and its issuer (or its exact bytes) is revoked. What TVS
/// asks before vouching for a certificate of its allow-list. `None` also
/// for a certificate that does not parse or that the ledger does not hold.
pub fn ledger_revocation<R: Registry + ?Sized>(
    registry: &R,
    der: &[u8],
) -> RegistryResult<Option<Revocation>> {
    use ::der::{Decode, Encode};
    let Ok(certificate) = x509_cert::Certificate::from_der(der) else {
        return Ok(None);
    };
    let tbs = &certificate.tbs_certificate;
    let serial = model::hex_lower(tbs.serial_number.as_bytes());
    if model::normalize_serial_hex(&serial).is_none() {
        return Ok(None);
    }
    let issuer = tbs.issuer.to_der().ok();
    for entry in registry.certificates_with_serial(&serial)? {
        let Some(revocation) = entry.revocation else {
            continue;
        };
        let same_issuer = || {
            x509_cert::Certificate::from_der(&entry.der)
                .ok()
                .and_then(|held| held.tbs_certificate.issuer.to_der().ok())
                .is_some_and(|held| Some(held) == issuer)
        };
        if entry.der == der || same_issuer() {
            return Ok(Some(revocation));
        }
    }
    Ok(None)
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
    let ledger_id = ready_certificate_outcome(registry, outcome, ledger_id, now)?;
    match finish_step(outcome, claim, ledger_id, lock_after) {
        FinishStep::Nothing => Ok(Recorded::default()),
        FinishStep::Record { name, write } => registry.record_outcome(name, claim, &write, now),
        FinishStep::Release(claim) => registry.release_claim(claim, now).map(|released| Recorded {
            failure: None,
            released,
        }),
    }
}

/// [`finish_session`] for an async host ([`SessionWritesAsync`]): the
/// write is awaited ([`SessionWritesAsync::record_outcome_async`]), not
/// blocked on.
pub async fn finish_session_async<R: SessionWritesAsync + ?Sized>(
    registry: &R,
    outcome: &ServerOutcome,
    claim: Option<&Claim>,
    ledger_id: Option<i64>,
    lock_after: u32,
    now: u64,
) -> RegistryResult<Recorded> {
    let ledger_id = ready_certificate_outcome(registry, outcome, ledger_id, now)?;
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
            // Nothing to write and nothing held (an unknown device, a
            // refusal before any claim): the registry is not asked, so an
            // outcome about a device it does not hold still counts as
            // recorded and the phone hears the session's own END_SESSION.
            // A failure of a session that held no operation (nothing
            // scheduled) changes no status either.
            if claim.is_none()
                && matches!(
                    write,
                    model::OutcomeWrite::Nothing | model::OutcomeWrite::Failed(_)
                )
            {
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
