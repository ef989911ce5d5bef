//! The backend-independent test suite: every behaviour a [`Registry`] and
//! [`TvsAllowList`] backend must have, written against the traits only.
//! The SQLite backend runs it (tests/sqlite.rs); a later backend
//! (PostgreSQL) implements [`Backend`] and runs the same functions.
//!
//! Each function panics (assertion) when the backend misbehaves. Times are
//! logical Unix seconds passed to the traits; nothing here sleeps or
//! measures time. Randomness is seeded.

use std::sync::{Arc, Barrier};

use capf_core::capf::codec::Curve;
use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::server;
use ctl_format::trust_list::Role;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::model::{
    AuthMode, CertificateState, Claim, ClaimAnswer, ClaimToken, Completion, LedgerChange,
    NewCertificate, Operation, OutcomeWrite, Schedule, Status, StoredAuthHash, hash_auth_string,
};
use crate::rules::LookUp;
use crate::{
    DEFAULT_TTL, MAX_TTL, Registry, RegistryError, TvsAllowList, certificate_sha256, look_up_device,
};

/// A backend under test.
pub trait Backend {
    /// The registry type.
    type Registry: Registry + TvsAllowList + 'static;
    /// A new, empty database identified by `tag` (unique per test), and a
    /// handle on it.
    fn create(&self, tag: &str) -> Self::Registry;
    /// Another, independent handle on the database `tag` (its own
    /// connections and writer), as a second process or node would open it.
    fn connect(&self, tag: &str) -> Self::Registry;
}

const NAME: &str = "SEP001122334455";

/// A fast hash for tests (the real count is far higher), from a seeded RNG.
fn test_hash(auth_string: &str, seed: u64) -> StoredAuthHash {
    let mut rng = StdRng::seed_from_u64(seed);
    match hash_auth_string(auth_string, 10, &mut rng) {
        Ok(hash) => hash,
        Err(error) => panic!("hashing a valid test string: {error}"),
    }
}

fn schedule(operation: Operation, mode: AuthMode, hash: Option<StoredAuthHash>) -> Schedule {
    Schedule {
        operation,
        key_request: KeyRequest::Ec(Curve::P256),
        auth_mode: mode,
        auth_hash: hash,
        complete_by: None,
        description: None,
    }
}

fn certificate(serial: &str) -> NewCertificate {
    NewCertificate {
        serial_hex: serial.to_owned(),
        der: b"\x30\x03\x02\x01\x01".to_vec(),
        issued_at: 1_700_000_000,
        not_after: 1_731_536_000,
    }
}

fn completed(operation: Operation, ledger: LedgerChange) -> OutcomeWrite {
    OutcomeWrite::Completed(Completion {
        operation,
        ledger,
        consume_auth_string: true,
    })
}

fn take_claim<R: Registry + ?Sized>(
    registry: &R,
    name: &str,
    token: u8,
    lease: u64,
    now: u64,
) -> Claim {
    match registry.claim_operation(name, ClaimToken([token; 16]), lease, now) {
        Ok(ClaimAnswer::Claimed { claim, .. }) => claim,
        other => panic!("claim by {token} at {now} refused: {other:?}"),
    }
}

/// The session record the rules give for `name` (no claim taken: reads the
/// device through a claim answer of a registry that has nothing scheduled,
/// or the claimed device).
fn record_of<R: Registry + ?Sized>(registry: &R, name: &str, token: u8, now: u64) -> LookUp {
    match look_up_device(
        registry,
        name,
        ClaimToken([token; 16]),
        now + 1_000,
        now,
        None,
    ) {
        Ok(answer) => answer,
        Err(error) => panic!("lookup of {name}: {error}"),
    }
}

/// An install with an auth string: claimed, pending before sending,
/// installed, and the one-time string consumed, once.
pub fn install_flow_consumes_the_auth_string_once<B: Backend>(backend: &B) {
    let registry = backend.create("install-flow");
    let hash = test_hash("123456", 1);
    assert!(
        !registry
            .put_device(
                NAME,
                &schedule(Operation::Install, AuthMode::AuthString, Some(hash)),
                10
            )
            .unwrap()
    );
    let device = registry.device(NAME).unwrap();
    assert_eq!(device.status, Status::Pending);
    assert!(device.has_auth_string);
    assert_eq!(device.claimed_until, None);

    let LookUp::Answer {
        record: Some(record),
        claim: Some(claim),
    } = record_of(&registry, NAME, 1, 11)
    else {
        panic!("the install was not claimed")
    };
    assert_eq!(
        record.operation,
        server::Operation::Install(KeyRequest::Ec(Curve::P256))
    );
    match &record.authentication {
        server::AuthMode::AuthString(verifier) => {
            assert!(verifier.verify(b"123456"));
            assert!(!verifier.verify(b"654321"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(registry.device(NAME).unwrap().claimed_until, Some(1_011));

    let id = registry
        .record_pending_certificate(&claim, &certificate("0a1b2c"), 12)
        .unwrap();
    // Still scheduled until the phone confirms.
    assert_eq!(registry.device(NAME).unwrap().operation, Operation::Install);
    assert_eq!(
        registry.certificates(NAME).unwrap()[0].state,
        CertificateState::Pending
    );

    let recorded = registry
        .record_outcome(
            NAME,
            Some(&claim),
            &completed(Operation::Install, LedgerChange::MarkInstalled(id)),
            13,
        )
        .unwrap();
    assert!(recorded.released);
    let device = registry.device(NAME).unwrap();
    assert_eq!(device.operation, Operation::None);
    assert_eq!(device.status, Status::Successful);
    assert_eq!(device.status_operation, Some(Operation::Install));
    assert!(!device.has_auth_string);
    assert_eq!(device.claimed_until, None);
    assert_eq!(
        registry.certificates(NAME).unwrap()[0].state,
        CertificateState::Installed
    );

    // The string is used up: the same claim cannot complete again, and the
    // next lookup hears "nothing to do".
    assert_eq!(
        registry.record_outcome(
            NAME,
            Some(&claim),
            &completed(Operation::Install, LedgerChange::MarkInstalled(id)),
            14
        ),
        Err(RegistryError::ClaimLost(NAME.into()))
    );
    let LookUp::Answer {
        record: Some(record),
        claim: None,
    } = record_of(&registry, NAME, 2, 15)
    else {
        panic!("a used-up device must answer nothing to do")
    };
    assert_eq!(record.operation, server::Operation::None);
    assert_eq!(record.authentication, server::AuthMode::NullString);
    // Rescheduled without a new string: unknown until one is set.
    registry
        .set_operation(NAME, Operation::Install, None, None, 16)
        .unwrap();
    let LookUp::Answer {
        record: None,
        claim: Some(claim),
    } = record_of(&registry, NAME, 3, 17)
    else {
        panic!("a scheduled device without its string must be unknown")
    };
    // ... and the claim that lookup took is released at its end.
    assert!(
        registry
            .record_outcome(NAME, Some(&claim), &OutcomeWrite::Nothing, 18)
            .unwrap()
            .released
    );
    assert_eq!(registry.certificates(NAME).unwrap().len(), 1);
}

/// Failures count one by one, lock at the threshold, keep the operation;
/// rescheduling unlocks; a success without a ledger change still consumes
/// the string.
pub fn auth_failures_lock_and_rescheduling_unlocks<B: Backend>(backend: &B) {
    let registry = backend.create("lockout");
    registry
        .put_device(
            NAME,
            &schedule(
                Operation::Install,
                AuthMode::AuthString,
                Some(test_hash("1234", 2)),
            ),
            1,
        )
        .unwrap();
    let fail = OutcomeWrite::AuthenticationFailed {
        lock_after: 3,
        reason: crate::model::FailureReason::InvalidAuthenticationString,
    };
    let mut counts = Vec::new();
    for now in 2..=4 {
        let claim = take_claim(&registry, NAME, 9, now + 100, now);
        let recorded = registry
            .record_outcome(NAME, Some(&claim), &fail, now)
            .unwrap();
        assert!(recorded.released);
        let count = recorded.failure.unwrap();
        counts.push((count.failed_attempts, count.locked));
    }
    assert_eq!(counts, [(1, false), (2, false), (3, true)]);
    let device = registry.device(NAME).unwrap();
    assert!(device.locked);
    assert_eq!(device.failed_attempts, 3);
    assert_eq!(device.status, Status::Failed);
    assert_eq!(device.operation, Operation::Install);
    let LookUp::Answer {
        record: Some(record),
        claim: Some(claim),
    } = record_of(&registry, NAME, 1, 5)
    else {
        panic!("a locked device is still answered")
    };
    assert_eq!(record.failed_attempts, u32::MAX);
    registry.release_claim(&claim, 5).unwrap();

    registry
        .set_operation(NAME, Operation::Install, None, None, 6)
        .unwrap();
    let device = registry.device(NAME).unwrap();
    assert!(!device.locked);
    assert_eq!(device.failed_attempts, 0);
    assert!(device.has_auth_string);
    // A success without a ledger change still uses up the string.
    let claim = take_claim(&registry, NAME, 2, 100, 7);
    registry
        .record_outcome(
            NAME,
            Some(&claim),
            &completed(Operation::Install, LedgerChange::None),
            8,
        )
        .unwrap();
    let device = registry.device(NAME).unwrap();
    assert!(!device.has_auth_string);
    assert_eq!(device.status, Status::Successful);
    assert_eq!(registry.certificates(NAME).unwrap().len(), 0);
}

/// Fetch, delete and removal keep the ledger; re-adding revives the device.
pub fn ledger_survives_fetch_delete_and_removal<B: Backend>(backend: &B) {
    let registry = backend.create("ledger");
    let name = "CSFALICE";
    registry
        .put_device(name, &schedule(Operation::Fetch, AuthMode::Mic, None), 1)
        .unwrap();
    let fetch = take_claim(&registry, name, 1, 100, 2);
    registry
        .record_outcome(
            name,
            Some(&fetch),
            &completed(
                Operation::Fetch,
                LedgerChange::AddFetched(certificate("01")),
            ),
            2,
        )
        .unwrap();
    assert_eq!(registry.device(name).unwrap().status, Status::Successful);
    assert_eq!(
        registry.certificates(name).unwrap()[0].state,
        CertificateState::Fetched
    );
    registry
        .set_operation(name, Operation::Delete, None, None, 3)
        .unwrap();
    let delete = take_claim(&registry, name, 2, 100, 4);
    registry
        .record_outcome(
            name,
            Some(&delete),
            &completed(Operation::Delete, LedgerChange::MarkAllDeleted),
            4,
        )
        .unwrap();
    assert_eq!(
        registry.certificates(name).unwrap()[0].state,
        CertificateState::Deleted
    );
    assert_eq!(registry.remove(name, 5).unwrap(), 1);
    assert!(matches!(
        registry.device(name),
        Err(RegistryError::UnknownDevice(_))
    ));
    assert!(registry.list().unwrap().is_empty());
    assert_eq!(registry.certificates(name).unwrap().len(), 1);
    assert!(matches!(
        registry.claim_operation(name, ClaimToken([3; 16]), 100, 6),
        Err(RegistryError::UnknownDevice(_))
    ));
    // Adding it again revives the row with its history.
    assert!(
        !registry
            .put_device(name, &schedule(Operation::None, AuthMode::Null, None), 6)
            .unwrap()
    );
    assert_eq!(registry.list().unwrap().len(), 1);
    assert!(registry.events(name).unwrap().len() >= 5);
}

/// Unknown devices are reported as such; many devices are added all or
/// none.
pub fn unknown_devices_and_bulk_adds<B: Backend>(backend: &B) {
    let registry = backend.create("unknown");
    let ghost = "SEP000000000000";
    assert!(matches!(
        registry.remove(ghost, 1),
        Err(RegistryError::UnknownDevice(_))
    ));
    assert!(matches!(
        registry.device(ghost),
        Err(RegistryError::UnknownDevice(_))
    ));
    assert!(matches!(
        registry.set_operation(ghost, Operation::Install, None, None, 1),
        Err(RegistryError::UnknownDevice(_))
    ));
    assert_eq!(
        record_of(&registry, ghost, 1, 1),
        LookUp::Answer {
            record: None,
            claim: None
        }
    );
    let fake = Claim {
        device: ghost.into(),
        token: ClaimToken([1; 16]),
        lease_until: 9,
    };
    assert!(matches!(
        registry.record_pending_certificate(&fake, &certificate("01"), 1),
        Err(RegistryError::UnknownDevice(_))
    ));
    let devices = vec![
        (
            "SEP0000000000A1".to_owned(),
            schedule(Operation::Install, AuthMode::Null, None),
        ),
        (
            "SEP0000000000A2".to_owned(),
            schedule(Operation::Fetch, AuthMode::Lsc, None),
        ),
    ];
    assert_eq!(registry.put_devices(&devices, 2).unwrap(), 0);
    assert_eq!(registry.put_devices(&devices, 3).unwrap(), 2);
    let names: Vec<_> = registry
        .list()
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, ["SEP0000000000A1", "SEP0000000000A2"]);
}

/// One claim at a time: a second token is refused while the lease runs, is
/// let in once it ends (and the first then cannot write), and after a
/// release; rescheduling drops a claim; nothing scheduled claims nothing.
pub fn claims_exclude_expire_and_release<B: Backend>(backend: &B) {
    let registry = backend.create("claims");
    registry
        .put_device(NAME, &schedule(Operation::Install, AuthMode::Null, None), 1)
        .unwrap();
    let first = take_claim(&registry, NAME, 1, 100, 10);
    assert_eq!(
        registry
            .claim_operation(NAME, ClaimToken([2; 16]), 200, 99)
            .unwrap(),
        ClaimAnswer::Held { until: 100 }
    );
    assert_eq!(
        record_of(&registry, NAME, 2, 50),
        LookUp::Refuse(server::DeviceRefusal::OperationClaimed)
    );
    // The holder may claim again (extends its lease).
    let again = take_claim(&registry, NAME, 1, 150, 60);
    assert_eq!(again.lease_until, 150);
    // Lease over: another session takes it; the first can no longer write.
    let second = take_claim(&registry, NAME, 2, 300, 150);
    assert_eq!(
        registry.record_pending_certificate(&first, &certificate("01"), 151),
        Err(RegistryError::ClaimLost(NAME.into()))
    );
    assert_eq!(
        registry.record_outcome(
            NAME,
            Some(&first),
            &completed(Operation::Install, LedgerChange::None),
            151
        ),
        Err(RegistryError::ClaimLost(NAME.into()))
    );
    // The first's release does not free the second's claim.
    assert!(!registry.release_claim(&first, 152).unwrap());
    assert!(matches!(
        registry
            .claim_operation(NAME, ClaimToken([3; 16]), 400, 153)
            .unwrap(),
        ClaimAnswer::Held { until: 300 }
    ));
    // Released at the end of the session (no write): free again at once.
    let recorded = registry
        .record_outcome(NAME, Some(&second), &OutcomeWrite::Nothing, 154)
        .unwrap();
    assert!(recorded.released);
    let third = take_claim(&registry, NAME, 3, 400, 155);
    // Rescheduling drops the claim: the old holder cannot complete.
    registry
        .set_operation(NAME, Operation::Install, None, None, 156)
        .unwrap();
    assert_eq!(registry.device(NAME).unwrap().claimed_until, None);
    assert_eq!(
        registry.record_pending_certificate(&third, &certificate("02"), 157),
        Err(RegistryError::ClaimLost(NAME.into()))
    );
    assert!(registry.certificates(NAME).unwrap().is_empty());
    // Nothing scheduled: nothing to claim.
    registry
        .set_operation(NAME, Operation::None, None, None, 158)
        .unwrap();
    assert!(matches!(
        registry
            .claim_operation(NAME, ClaimToken([4; 16]), 500, 159)
            .unwrap(),
        ClaimAnswer::NothingScheduled { .. }
    ));
    assert_eq!(registry.device(NAME).unwrap().claimed_until, None);
}

/// What one racer of [`racing_sessions_install_one_certificate_per_operation`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Race {
    Installed,
    Refused,
    NothingToDo,
    Crashed,
}

/// Two sessions on two independent handles (two processes, or two nodes)
/// race for each scheduled install, many times, with a seeded schedule of
/// who yields and who crashes after claiming. Every operation ends with
/// exactly one installed certificate, the string consumed once, and a
/// crashed claim is taken over once its lease ends.
pub fn racing_sessions_install_one_certificate_per_operation<B: Backend>(backend: &B) {
    const ROUNDS: u64 = 40;
    let registries = [
        Arc::new(backend.create("race")),
        Arc::new(backend.connect("race")),
    ];
    let mut rng = StdRng::seed_from_u64(0x00ca_7f00);
    for round in 0..ROUNDS {
        let name = format!("SEP{round:012X}");
        let auth_string = round % 2 == 0;
        let (mode, hash) = if auth_string {
            (AuthMode::AuthString, Some(test_hash("1234", round)))
        } else {
            (AuthMode::Null, None)
        };
        registries[0]
            .put_device(&name, &schedule(Operation::Install, mode, hash), 1)
            .unwrap();
        // Logical time: the round's sessions start at `start`; a lease is 100.
        let start = 1_000 + round * 1_000;
        let crash_first = rng.gen_bool(0.25);
        let yields: [u32; 2] = [rng.gen_range(0..50), rng.gen_range(0..50)];
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2_usize)
            .map(|racer| {
                let registry = registries[racer].clone();
                let barrier = barrier.clone();
                let name = name.clone();
                let spins = yields[racer];
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..spins {
                        std::thread::yield_now();
                    }
                    session(&*registry, &name, racer, start, crash_first)
                })
            })
            .collect();
        let results: Vec<Race> = handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or_else(|_| panic!("racer panicked")))
            .collect();
        let installed = results.iter().filter(|r| **r == Race::Installed).count();
        let crashed = results.iter().filter(|r| **r == Race::Crashed).count();
        assert!(installed + crashed == 1, "round {round}: {results:?}");
        let mut installed = installed;
        if crashed == 1 {
            // The phone comes back after the crashed session's lease.
            assert_eq!(
                session(&*registries[1], &name, 2, start + 100, false),
                Race::Installed,
                "round {round}: the retry after the lease"
            );
            installed += 1;
        }
        assert_eq!(installed, 1);
        let ledger = registries[0].certificates(&name).unwrap();
        let states: Vec<_> = ledger.iter().map(|entry| entry.state).collect();
        assert_eq!(
            states
                .iter()
                .filter(|s| **s == CertificateState::Installed)
                .count(),
            1,
            "round {round}: {states:?}"
        );
        let device = registries[1].device(&name).unwrap();
        assert_eq!(device.operation, Operation::None);
        assert!(!device.has_auth_string);
        // Late phones hear "nothing to do" and get no certificate.
        assert_eq!(
            session(&*registries[0], &name, 3, start + 500, false),
            Race::NothingToDo
        );
        assert_eq!(
            registries[0].certificates(&name).unwrap().len(),
            ledger.len()
        );
    }
}

/// One install session as a host runs it, on logical time `now`.
fn session<R: Registry + ?Sized>(
    registry: &R,
    name: &str,
    racer: usize,
    now: u64,
    crash_first: bool,
) -> Race {
    // Racers 0 and 1 race; the retry and the late phone come as 2 and 3.
    let token = ClaimToken([u8::try_from(racer).unwrap_or(u8::MAX); 16]);
    let lookup = match look_up_device(registry, name, token, now + 100, now, None) {
        Ok(lookup) => lookup,
        Err(error) => panic!("lookup failed: {error}"),
    };
    let claim = match lookup {
        LookUp::Refuse(_) => return Race::Refused,
        LookUp::Answer {
            record: Some(record),
            claim: None,
        } => {
            assert_eq!(record.operation, server::Operation::None);
            return Race::NothingToDo;
        }
        LookUp::Answer {
            claim: Some(claim), ..
        } => claim,
        other => panic!("unexpected lookup {other:?}"),
    };
    let id = match registry.record_pending_certificate(
        &claim,
        &certificate(&format!("{racer:02x}")),
        now + 1,
    ) {
        Ok(id) => id,
        Err(error) => panic!("pending: {error}"),
    };
    if crash_first && racer == 0 {
        // Gone without a word: no outcome, no release.
        return Race::Crashed;
    }
    match registry.record_outcome(
        name,
        Some(&claim),
        &completed(Operation::Install, LedgerChange::MarkInstalled(id)),
        now + 2,
    ) {
        Ok(recorded) => {
            assert!(recorded.released);
            Race::Installed
        }
        Err(error) => panic!("complete: {error}"),
    }
}

/// Failures counted at once from several handles are all counted, exactly.
pub fn concurrent_failures_count_exactly<B: Backend>(backend: &B) {
    const THREADS: usize = 4;
    const EACH: u32 = 10;
    let first = Arc::new(backend.create("failures"));
    first
        .put_device(NAME, &schedule(Operation::Install, AuthMode::Null, None), 1)
        .unwrap();
    let handles: Vec<_> = (0..THREADS)
        .map(|index| {
            let registry: Arc<dyn Registry> = if index % 2 == 0 {
                first.clone()
            } else {
                Arc::new(backend.connect("failures"))
            };
            std::thread::spawn(move || {
                let fail = OutcomeWrite::AuthenticationFailed {
                    lock_after: 0,
                    reason: crate::model::FailureReason::InvalidAuthenticationString,
                };
                for now in 0..EACH {
                    if let Err(error) = registry.record_outcome(NAME, None, &fail, u64::from(now)) {
                        panic!("counting: {error}");
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap_or_else(|_| panic!("counter panicked"));
    }
    let device = first.device(NAME).unwrap();
    assert_eq!(
        device.failed_attempts,
        u32::try_from(THREADS).unwrap_or(0) * EACH
    );
    assert!(!device.locked, "lock_after 0 never locks");
}

fn tvs_certificate(name: &str) -> Vec<u8> {
    let key = rcgen_key();
    let params = match rcgen::CertificateParams::new(vec![name.to_owned()]) {
        Ok(params) => params,
        Err(error) => panic!("{error}"),
    };
    match params.self_signed(&key) {
        Ok(certificate) => certificate.der().to_vec(),
        Err(error) => panic!("{error}"),
    }
}

fn rcgen_key() -> rcgen::KeyPair {
    match rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256) {
        Ok(key) => key,
        Err(error) => panic!("{error}"),
    }
}

/// The TVS allow-list: add, replace, revoke, remove, seen from a second
/// handle, and its checks.
pub fn tvs_allow_list<B: Backend>(backend: &B) {
    let first = tvs_certificate("one.example.test");
    let second = tvs_certificate("two.example.test");
    let registry = backend.create("tvs");
    let entry = registry
        .tvs_add(
            &first,
            &[Role::Tftp, Role::CallManager, Role::Tftp],
            3600,
            10,
        )
        .unwrap();
    assert_eq!(entry.roles, [Role::CallManager, Role::Tftp]);
    assert_eq!(entry.sha256, certificate_sha256(&first));
    assert!(!entry.revoked);
    registry
        .tvs_add(&second, &[Role::Tvs], DEFAULT_TTL, 11)
        .unwrap();
    // Adding again replaces roles and TTL.
    let replaced = registry.tvs_add(&first, &[Role::Capf], 60, 12).unwrap();
    assert_eq!(
        (replaced.roles, replaced.ttl, replaced.added_at),
        (vec![Role::Capf], 60, 12)
    );
    assert!(registry.tvs_revoke(&certificate_sha256(&second)).unwrap());
    assert!(!registry.tvs_revoke(&[0; 32]).unwrap());
    // A second handle (as `capf serve` beside `capf tvs`) sees it all.
    let other = backend.connect("tvs");
    let list = other.tvs_list().unwrap();
    assert_eq!(list.len(), 2);
    let listed_first = list.iter().find(|entry| entry.der == first).unwrap();
    let listed_second = list.iter().find(|entry| entry.der == second).unwrap();
    assert_eq!(
        (listed_first.roles.as_slice(), listed_first.revoked),
        ([Role::Capf].as_slice(), false)
    );
    assert_eq!(listed_second.roles, [Role::Tvs]);
    assert!(listed_second.revoked);
    assert!(other.tvs_remove(&certificate_sha256(&first)).unwrap());
    assert!(!other.tvs_remove(&certificate_sha256(&first)).unwrap());
    assert_eq!(
        registry.tvs_look_up(&certificate_sha256(&first)).unwrap(),
        None
    );
    assert!(matches!(
        registry.tvs_add(b"junk", &[Role::Tvs], 1, 0),
        Err(RegistryError::NotACertificate(_))
    ));
    assert_eq!(
        registry.tvs_add(&first, &[], 1, 0),
        Err(RegistryError::NoRoles)
    );
    assert_eq!(
        registry.tvs_add(&first, &[Role::Tvs], 0, 0),
        Err(RegistryError::BadTtl(0))
    );
    assert_eq!(
        registry.tvs_add(&first, &[Role::Tvs], MAX_TTL + 1, 0),
        Err(RegistryError::BadTtl(MAX_TTL + 1))
    );
    assert_eq!(
        registry.tvs_add(&first, &[Role::Unknown(256)], 1, 0),
        Err(RegistryError::RoleTooLarge(256))
    );
}

/// A whole session through the real [`ServerSession`](capf_core::capf::server::ServerSession)
/// with the library's host helpers: a wrong string is counted, the right
/// one installs, and the outcome's write consumes the string.
pub fn a_real_session_through_the_host_helpers<B: Backend>(backend: &B) {
    use capf_core::capf::codec::{AuthResponseFields, Frame, Password, WireDeviceName};
    use capf_core::capf::server::{ServerConfig, ServerOutput, ServerSession};
    use capf_core::time::Timestamp;
    let registry = backend.create("session");
    registry
        .put_device(
            NAME,
            &schedule(
                Operation::None,
                AuthMode::AuthString,
                Some(test_hash("2468", 5)),
            ),
            1,
        )
        .unwrap();
    for (attempt, (typed, expect_failure)) in
        [("1357", true), ("2468", false)].into_iter().enumerate()
    {
        let id = 0x100 + u32::try_from(attempt).unwrap_or(0);
        let mut session = ServerSession::new(
            ServerConfig::new(id),
            Timestamp::from_unix_seconds(1_800_000_000),
        );
        let _auth_request = session.poll_output();
        let fields = AuthResponseFields::new(WireDeviceName::new(NAME), Password::new(typed));
        session.handle_input(&Frame::auth_response(id, fields).encode().unwrap());
        assert!(matches!(session.poll_output(), Some(ServerOutput::Need(_))));
        let (record, claim) =
            match look_up_device(&registry, NAME, ClaimToken([7; 16]), 100, 10, None) {
                Ok(LookUp::Answer { record, claim }) => (record, claim),
                other => panic!("{other:?}"),
            };
        session.answer_device(record).unwrap();
        let outcome = loop {
            match session.poll_output() {
                Some(ServerOutput::Done(outcome)) => break outcome,
                // The host's record decision comes first; the test records
                // through the registry itself below.
                Some(ServerOutput::Need(_)) => session.answer_outcome_recorded().unwrap(),
                Some(_) => {}
                None => panic!("no outcome"),
            }
        };
        let recorded =
            crate::finish_session(&registry, &outcome, claim.as_ref(), None, 5, 11).unwrap();
        assert_eq!(recorded.failure.is_some(), expect_failure, "{outcome:?}");
    }
    let device = registry.device(NAME).unwrap();
    assert_eq!(device.failed_attempts, 1);
    // Nothing was scheduled: "nothing to do" is not a completion, the
    // string stays.
    assert!(device.has_auth_string);
}

/// Keyed strings: verified with the key (and refused without it), found by
/// string (every match), gone from the look-up once consumed; an old
/// PBKDF2 row still verifies; generated strings are unique among scheduled
/// devices.
pub fn keyed_auth_strings_are_found_verified_and_unique<B: Backend>(backend: &B) {
    use crate::auth_key::AuthKey;
    use crate::auth_string::generate_unique_auth_string;
    let registry = backend.create("keyed");
    let key = AuthKey::from_bytes([0x5a; 32]);
    let keyed = |text: &str| match StoredAuthHash::keyed(&key, text) {
        Ok(hash) => hash,
        Err(error) => panic!("keyed hash: {error}"),
    };
    let (first, second, old) = ("SEP0000000000A1", "SEP0000000000A2", "SEP0000000000A3");
    for name in [first, second] {
        registry
            .put_device(
                name,
                &schedule(
                    Operation::Install,
                    AuthMode::AuthString,
                    Some(keyed("246810")),
                ),
                10,
            )
            .unwrap();
    }
    registry
        .put_device(
            old,
            &schedule(
                Operation::Install,
                AuthMode::AuthString,
                Some(test_hash("135790", 4)),
            ),
            10,
        )
        .unwrap();
    assert_eq!(registry.keyed_auth_string_count().unwrap(), 2);
    // The look-up lists every match, and only matches.
    let hash = match key.hash("246810") {
        Ok(hash) => hash,
        Err(error) => panic!("{error}"),
    };
    let found: Vec<String> = registry
        .devices_by_auth_hash(&hash)
        .unwrap()
        .into_iter()
        .map(|device| device.name)
        .collect();
    assert_eq!(found, vec![first.to_owned(), second.to_owned()]);
    let other = match key.hash("246811") {
        Ok(hash) => hash,
        Err(error) => panic!("{error}"),
    };
    assert!(registry.devices_by_auth_hash(&other).unwrap().is_empty());

    // With the key the session verifies the string; without it, an error.
    let lookup = look_up_device(&registry, first, ClaimToken([1; 16]), 500, 11, Some(&key));
    let Ok(LookUp::Answer {
        record: Some(record),
        claim: Some(claim),
    }) = lookup
    else {
        panic!("keyed device not answered: {lookup:?}")
    };
    match &record.authentication {
        server::AuthMode::AuthString(verifier) => {
            assert!(verifier.verify(b"246810"));
            assert!(!verifier.verify(b"246811"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        look_up_device(&registry, second, ClaimToken([2; 16]), 500, 11, None),
        Err(RegistryError::AuthKey(_))
    ));
    // The old row verifies without the key.
    match look_up_device(&registry, old, ClaimToken([3; 16]), 500, 11, None) {
        Ok(LookUp::Answer {
            record: Some(record),
            ..
        }) => match &record.authentication {
            server::AuthMode::AuthString(verifier) => assert!(verifier.verify(b"135790")),
            other => panic!("{other:?}"),
        },
        other => panic!("old row: {other:?}"),
    }
    // Consumed: no longer found.
    registry
        .record_outcome(
            first,
            Some(&claim),
            &completed(Operation::Install, LedgerChange::None),
            12,
        )
        .unwrap();
    let left: Vec<String> = registry
        .devices_by_auth_hash(&hash)
        .unwrap()
        .into_iter()
        .map(|device| device.name)
        .collect();
    assert_eq!(left, vec![second.to_owned()]);

    // Generated strings: 4 digits, 300 of them among 10,000 values, all
    // distinct from each other and from a scheduled device's string.
    registry
        .put_device(
            "SEP0000000000A4",
            &schedule(
                Operation::Install,
                AuthMode::AuthString,
                Some(keyed("1234")),
            ),
            12,
        )
        .unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    let mut taken = std::collections::HashSet::new();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..300 {
        let (text, stored) =
            match generate_unique_auth_string(&registry, &key, 4, &mut taken, &mut rng) {
                Ok(pair) => pair,
                Err(error) => panic!("{error}"),
            };
        assert_eq!(text.expose().len(), 4);
        assert!(seen.insert(text.expose().to_owned()), "drawn twice");
        assert_ne!(text.expose(), "1234");
        assert_eq!(stored, keyed(text.expose()));
    }
}

/// Deadlines refuse late sessions and void the string; every write leaves
/// its Unified CM status, with the time it changed and an event.
pub fn deadlines_and_statuses<B: Backend>(backend: &B) {
    use crate::model::{FailureReason as R, OperationStatus as S, StatusOperation as O};
    use capf_core::capf::server::DeviceRefusal;
    let registry = backend.create("deadlines");
    let mut late = schedule(
        Operation::Install,
        AuthMode::AuthString,
        Some(test_hash("123456", 6)),
    );
    late.complete_by = Some(100);
    late.description = Some("lobby phone".into());
    registry.put_device(NAME, &late, 10).unwrap();
    let device = registry.device(NAME).unwrap();
    assert_eq!(device.operation_status, S::Pending);
    assert_eq!(device.complete_by, Some(100));
    assert_eq!(device.description.as_deref(), Some("lobby phone"));

    // Before the deadline: a wrong string counts and says so.
    let claim = match record_of(&registry, NAME, 1, 50) {
        LookUp::Answer {
            claim: Some(claim), ..
        } => claim,
        other => panic!("{other:?}"),
    };
    registry
        .record_outcome(
            NAME,
            Some(&claim),
            &OutcomeWrite::AuthenticationFailed {
                lock_after: 5,
                reason: R::InvalidAuthenticationString,
            },
            51,
        )
        .unwrap();
    let device = registry.device(NAME).unwrap();
    assert_eq!(
        device.operation_status,
        S::Failed(O::Upgrade, Some(R::InvalidAuthenticationString))
    );
    assert_eq!(device.status_changed_at, 51);

    // At the deadline: refused, string void, claim released, status late.
    assert_eq!(
        record_of(&registry, NAME, 2, 100),
        LookUp::Refuse(DeviceRefusal::DeadlinePassed)
    );
    let device = registry.device(NAME).unwrap();
    assert_eq!(
        device.operation_status,
        S::Failed(O::Upgrade, Some(R::LateTimedOut))
    );
    assert_eq!(
        device.operation_status.to_string(),
        "Upgrade Failed: User Initiated Request Late/Timedout"
    );
    assert!(!device.has_auth_string);
    assert_eq!(device.claimed_until, None);
    assert_eq!(device.status_changed_at, 100);
    let events = registry.events(NAME).unwrap();
    assert!(
        events
            .iter()
            .any(|event| event.what.contains("deadline passed"))
    );
    // Rescheduling clears the deadline and the status; annotate sets a new one.
    registry
        .set_operation(NAME, Operation::Delete, None, None, 110)
        .unwrap();
    let device = registry.device(NAME).unwrap();
    assert_eq!(device.operation_status, S::Pending);
    assert_eq!(device.complete_by, None);
    registry.annotate(NAME, Some(500), Some(""), 111).unwrap();
    let device = registry.device(NAME).unwrap();
    assert_eq!(device.complete_by, Some(500));
    assert_eq!(device.description, None);

    // Statuses of the other writes.
    let cases = [
        (
            Operation::Install,
            OutcomeWrite::Failed(Some(R::KeyGenerationFailedTimeout)),
            S::Failed(O::Upgrade, Some(R::KeyGenerationFailedTimeout)),
        ),
        (
            Operation::Install,
            OutcomeWrite::Failed(Some(R::CaRejectedConnection)),
            S::Failed(O::Upgrade, Some(R::CaRejectedConnection)),
        ),
        (
            Operation::Delete,
            OutcomeWrite::Failed(None),
            S::Failed(O::Delete, None),
        ),
        (
            Operation::Fetch,
            OutcomeWrite::Failed(Some(R::PhoneCommunicationFailure)),
            S::Failed(O::Troubleshoot, Some(R::PhoneCommunicationFailure)),
        ),
        (
            Operation::Fetch,
            completed(Operation::Fetch, LedgerChange::None),
            S::Success(O::Troubleshoot),
        ),
        (
            Operation::Delete,
            completed(Operation::Delete, LedgerChange::MarkAllDeleted),
            S::Success(O::Delete),
        ),
        (
            Operation::Install,
            completed(Operation::Install, LedgerChange::None),
            S::Success(O::Upgrade),
        ),
    ];
    for (index, (operation, write, expected)) in cases.into_iter().enumerate() {
        let name = format!("SEP00000000C{index:03}");
        registry
            .put_device(&name, &schedule(operation, AuthMode::Null, None), 200)
            .unwrap();
        let claim = take_claim(&registry, &name, 9, 1_000, 201);
        registry
            .record_outcome(&name, Some(&claim), &write, 202)
            .unwrap();
        let device = registry.device(&name).unwrap();
        assert_eq!(device.operation_status, expected, "{write:?}");
        assert_eq!(device.status_changed_at, 202);
        let said = format!("status: {expected}");
        assert!(
            registry
                .events(&name)
                .unwrap()
                .iter()
                .any(|e| e.what == said),
            "no event {said:?}"
        );
    }
}

/// Installs `certificate` for `name` (scheduled install, claimed, recorded pending,
/// completed) and returns its ledger id.
fn install_certificate<R: Registry + ?Sized>(
    registry: &R,
    name: &str,
    certificate: &NewCertificate,
    token: u8,
    now: u64,
) -> i64 {
    if let Err(error) = registry.set_operation(name, Operation::Install, None, None, now) {
        panic!("scheduling {name}: {error}");
    }
    let claim = take_claim(registry, name, token, now + 1_000, now);
    let id = match registry.record_pending_certificate(&claim, certificate, now) {
        Ok(id) => id,
        Err(error) => panic!("recording: {error}"),
    };
    if let Err(error) = registry.record_outcome(
        name,
        Some(&claim),
        &completed(Operation::Install, LedgerChange::MarkInstalled(id)),
        now,
    ) {
        panic!("completing: {error}");
    }
    id
}

/// Revocation: by serial (any spelling) and by device, final, listed,
/// consulted by a session's lookup and by TVS's question.
pub fn revocations_are_final_found_by_serial_and_consulted<B: Backend>(backend: &B) {
    use crate::model::{RevocationReason, RevocationTarget, normalize_serial_hex};
    use der::Decode;
    let registry = backend.create("revocation");
    let name = "SEP0011223344CC";
    registry
        .put_device(name, &schedule(Operation::None, AuthMode::Lsc, None), 1)
        .unwrap();
    let first = tvs_certificate("first.example.test");
    let second = tvs_certificate("second.example.test");
    let first_id = install_certificate(&registry, name, &NewCertificate::from_der(&first), 1, 10);
    let second_id = install_certificate(&registry, name, &NewCertificate::from_der(&second), 2, 20);
    let serial_of = |der: &[u8]| match x509_cert::Certificate::from_der(der) {
        Ok(certificate) => certificate
            .tbs_certificate
            .serial_number
            .as_bytes()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>(),
        Err(error) => panic!("{error}"),
    };
    let first_serial = serial_of(&first);

    // Nothing revoked yet: the lookup carries no revocation data.
    registry
        .set_operation(name, Operation::Install, None, None, 25)
        .unwrap();
    match record_of(&registry, name, 3, 25) {
        LookUp::Answer {
            record: Some(record),
            claim: Some(claim),
        } => {
            assert!(record.revocations.is_empty());
            registry.release_claim(&claim, 25).unwrap();
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(crate::ledger_revocation(&registry, &first).unwrap(), None);

    // Found by serial in upper case with colons and a leading zero byte.
    let spelled = format!(
        "00:{}",
        first_serial
            .to_ascii_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|pair| String::from_utf8_lossy(pair).into_owned())
            .collect::<Vec<_>>()
            .join(":")
    );
    let found = registry.certificates_with_serial(&spelled).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, first_id);
    assert_eq!(normalize_serial_hex("0x00"), Some("0".to_owned()));
    assert_eq!(normalize_serial_hex("g1"), None);

    let revoked = registry
        .revoke(
            &RevocationTarget::Serial(spelled.clone()),
            RevocationReason::KeyCompromise,
            30,
        )
        .unwrap();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].id, first_id);
    let revocation = revoked[0].revocation.unwrap();
    assert_eq!(revocation.reason, RevocationReason::KeyCompromise);
    assert_eq!(revocation.revoked_at, 30);
    // Final: revoking it again finds nothing, and the first reason stays.
    assert!(matches!(
        registry.revoke(
            &RevocationTarget::Serial(first_serial.clone()),
            RevocationReason::Superseded,
            31
        ),
        Err(RegistryError::NothingToRevoke(_))
    ));
    assert!(matches!(
        registry.revoke(
            &RevocationTarget::Serial("not hex".into()),
            RevocationReason::Superseded,
            31
        ),
        Err(RegistryError::BadSerial(_))
    ));
    assert_eq!(
        crate::ledger_revocation(&registry, &first).unwrap(),
        Some(revocation)
    );
    assert_eq!(crate::ledger_revocation(&registry, &second).unwrap(), None);

    // A session's lookup now carries the revocation of the first only.
    match record_of(&registry, name, 4, 32) {
        LookUp::Answer {
            record: Some(record),
            claim: Some(claim),
        } => {
            assert!(!record.revocations.is_empty());
            let mut expected = capf_core::trust::Revocations::new();
            if let Err(error) = expected.revoke_certificate(&first) {
                panic!("{error}");
            }
            assert_eq!(record.revocations, expected);
            registry.release_claim(&claim, 32).unwrap();
        }
        other => panic!("{other:?}"),
    }

    // By device: what is left (the second); then nothing.
    let by_device = registry
        .revoke(
            &RevocationTarget::Device(name.into()),
            RevocationReason::CessationOfOperation,
            40,
        )
        .unwrap();
    assert_eq!(
        by_device.iter().map(|entry| entry.id).collect::<Vec<_>>(),
        [second_id]
    );
    assert!(matches!(
        registry.revoke(
            &RevocationTarget::Device(name.into()),
            RevocationReason::Superseded,
            41
        ),
        Err(RegistryError::NothingToRevoke(_))
    ));
    assert!(matches!(
        registry.revoke(
            &RevocationTarget::Device("SEP00112233FFFF".into()),
            RevocationReason::Superseded,
            41
        ),
        Err(RegistryError::NothingToRevoke(_))
    ));
    let all = registry.revoked_certificates().unwrap();
    assert_eq!(
        all.iter()
            .map(|entry| (entry.id, entry.revocation.map(|r| r.reason)))
            .collect::<Vec<_>>(),
        [
            (first_id, Some(RevocationReason::KeyCompromise)),
            (second_id, Some(RevocationReason::CessationOfOperation))
        ]
    );
    // Seen from another handle (another process or node).
    let other = backend.connect("revocation");
    assert_eq!(other.revoked_certificates().unwrap(), all);
}

/// The renewal planner: the current LSC past its share is scheduled (an
/// install authenticated by the LSC), not before; a dry run writes
/// nothing; completing it marks the old certificate replaced, and the new
/// one is not due again.
pub fn renewal_is_planned_at_the_threshold_and_replaces_the_old_lsc<B: Backend>(backend: &B) {
    use crate::rules::RenewalPolicy;
    let registry = backend.create("renewal");
    let name = "SEP0011223344DD";
    let hash = test_hash("2468", 5);
    registry
        .put_device(
            name,
            &schedule(Operation::None, AuthMode::AuthString, Some(hash)),
            1,
        )
        .unwrap();
    // Installed LSC valid 1_700_000_000 .. 1_731_536_000 (certificate()).
    let old_id = install_certificate(&registry, name, &certificate("0a"), 1, 10);
    let lifetime = 1_731_536_000 - 1_700_000_000;
    let threshold = 1_700_000_000 + lifetime / 2; // an even lifetime: exact
    let share = RenewalPolicy::used_share("0.5").unwrap();

    assert!(
        crate::plan_renewals(&registry, share, threshold - 1, false)
            .unwrap()
            .is_empty()
    );
    let dry = crate::plan_renewals(&registry, share, threshold, true).unwrap();
    assert_eq!(dry.len(), 1);
    assert_eq!(registry.device(name).unwrap().operation, Operation::None);

    let planned = crate::plan_renewals(&registry, share, threshold, false).unwrap();
    assert_eq!(planned.len(), 1);
    assert_eq!(planned[0].device, name);
    assert_eq!(planned[0].certificate_id, old_id);
    let device = registry.device(name).unwrap();
    assert_eq!(device.operation, Operation::Install);
    assert_eq!(device.auth_mode, AuthMode::Lsc);
    assert_eq!(device.status, Status::Pending);
    // Already scheduled: planned once only.
    assert!(
        crate::plan_renewals(&registry, share, threshold + 1, false)
            .unwrap()
            .is_empty()
    );
    assert!(
        !registry
            .schedule_renewal(name, old_id, threshold + 1)
            .unwrap()
    );

    // The phone completes it: a new LSC, the old one replaced.
    let claim = take_claim(&registry, name, 9, threshold + 1_000, threshold + 2);
    let mut renewed = certificate("0b");
    renewed.issued_at = threshold + 2;
    renewed.not_after = threshold + 2 + lifetime;
    let new_id = registry
        .record_pending_certificate(&claim, &renewed, threshold + 2)
        .unwrap();
    registry
        .record_outcome(
            name,
            Some(&claim),
            &completed(Operation::Install, LedgerChange::MarkInstalled(new_id)),
            threshold + 3,
        )
        .unwrap();
    let ledger = registry.certificates(name).unwrap();
    assert_eq!(ledger.len(), 2);
    assert_eq!(ledger[0].id, old_id);
    assert_eq!(ledger[0].replaced_by, Some(new_id));
    assert_eq!(ledger[0].state, CertificateState::Installed);
    assert_eq!(ledger[1].replaced_by, None);
    let current = registry.current_certificates().unwrap();
    assert_eq!(
        current.iter().map(|entry| entry.id).collect::<Vec<_>>(),
        [new_id]
    );
    // The new LSC is not due at the old one's threshold.
    assert!(
        crate::plan_renewals(&registry, share, threshold + 4, false)
            .unwrap()
            .is_empty()
    );
    assert!(
        !registry
            .schedule_renewal(name, old_id, threshold + 4)
            .unwrap()
    );
}

/// A directly issued certificate (`capf cert issue`): the device is added
/// (or revived) with nothing scheduled, the certificate installed, and a
/// second one replaces the first.
pub fn directly_issued_certificates_add_the_device_and_replace_earlier_ones<B: Backend>(
    backend: &B,
) {
    let registry = backend.create("issued");
    let name = "CSFCLIENT";
    let key = KeyRequest::Ec(Curve::P256);
    let first = registry
        .record_issued_certificate(name, key, &certificate("01"), 5)
        .unwrap();
    let device = registry.device(name).unwrap();
    assert_eq!(device.operation, Operation::None);
    assert_eq!(device.auth_mode, AuthMode::Null);
    assert_eq!(device.key_request, key);
    registry.remove(name, 6).unwrap();
    let second = registry
        .record_issued_certificate(name, key, &certificate("02"), 7)
        .unwrap();
    assert_eq!(registry.device(name).unwrap().operation, Operation::None);
    let ledger = registry.certificates(name).unwrap();
    assert_eq!(
        ledger
            .iter()
            .map(|entry| (entry.id, entry.state, entry.replaced_by))
            .collect::<Vec<_>>(),
        [
            (first, CertificateState::Installed, Some(second)),
            (second, CertificateState::Installed, None)
        ]
    );
}

/// Registry settings: defaults until set, every value stored and read back,
/// shared by a second handle (another server on the same registry).
pub fn settings_are_stored_and_shared<B: Backend>(backend: &B) {
    let registry = backend.create("settings");
    assert_eq!(registry.settings().unwrap(), crate::Settings::default());
    let mut settings = crate::Settings::default();
    settings.set("validity-days", "397").unwrap();
    settings.set("key-generation-timeout", "600").unwrap();
    settings.set("max-failed-attempts", "0").unwrap();
    settings.set("key-generation-retries", "2").unwrap();
    settings.set("renew-used-share", "0.75").unwrap();
    registry.put_settings(&settings, 10).unwrap();
    let other = backend.connect("settings");
    let read = other.settings().unwrap();
    assert_eq!(read.validity_days, 397);
    assert_eq!(read.key_generation_timeout, 600);
    assert_eq!(read.max_failed_attempts, 0);
    assert_eq!(read.key_generation_retries, 2);
    assert_eq!(read.get("renew-used-share").unwrap(), "0.75");
    settings.set("renew-used-share", "off").unwrap();
    other.put_settings(&settings, 11).unwrap();
    assert_eq!(registry.settings().unwrap().renew_used_share, None);
    assert_eq!(registry.settings().unwrap().validity_days, 397);
}

/// The offline CA's requests: kept only by the claim's holder; the
/// deferral leaves the operation scheduled and pending, counts no failure
/// and keeps the one-time string; a newer key makes the older request
/// stale; a certificate is imported once, for a pending request only, into
/// the ledger (pending); stale requests are deleted, the ledger kept; a
/// second handle sees the same.
pub fn offline_ca_requests_go_stale_import_and_are_deleted<B: Backend>(backend: &B) {
    use crate::model::OperationStatus;
    use crate::offline_ca::{CertificateRequestState, NewCertificateRequest};
    let registry = backend.create("offline_ca");
    let hash = test_hash("123456", 41);
    registry
        .put_device(
            NAME,
            &schedule(Operation::Install, AuthMode::AuthString, Some(hash)),
            100,
        )
        .unwrap();
    let key = KeyRequest::Ec(Curve::P256);
    let first = NewCertificateRequest::new(key, vec![0x30, 0x01, 0xAA], Some(vec![0x30, 0x00]));
    let second = NewCertificateRequest::new(key, vec![0x30, 0x01, 0xBB], None);

    // Only the holder of the claim keeps a request.
    let claim = take_claim(&registry, NAME, 1, 1_000, 110);
    let stranger = Claim {
        device: NAME.to_owned(),
        token: ClaimToken([9; 16]),
        lease_until: 1_000,
    };
    assert!(matches!(
        registry.record_certificate_request(&stranger, &first, 111),
        Err(RegistryError::ClaimLost(_))
    ));
    let first_id = registry
        .record_certificate_request(&claim, &first, 112)
        .unwrap();
    registry
        .record_outcome(NAME, Some(&claim), &OutcomeWrite::Deferred, 113)
        .unwrap();
    let device = registry.device(NAME).unwrap();
    assert_eq!(device.operation, Operation::Install, "still scheduled");
    assert_eq!(device.operation_status, OperationStatus::Pending);
    assert_eq!(device.failed_attempts, 0, "a deferral is not a failure");
    assert!(device.has_auth_string, "the one-time string is kept");
    assert_eq!(device.claimed_until, None, "the claim is released");

    let requests = registry.certificate_requests(None).unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].id, first_id);
    assert_eq!(requests[0].device, NAME);
    assert_eq!(requests[0].key_request, key);
    assert_eq!(requests[0].spki_der, first.spki_der);
    assert_eq!(requests[0].csr_der, first.csr_der);
    assert_eq!(requests[0].requested_at, 112);
    assert_eq!(requests[0].state(), CertificateRequestState::Pending);

    // The phone comes back with a newer key: the first request is stale.
    let claim = take_claim(&registry, NAME, 2, 1_000, 200);
    let second_id = registry
        .record_certificate_request(&claim, &second, 201)
        .unwrap();
    registry
        .record_outcome(NAME, Some(&claim), &OutcomeWrite::Deferred, 202)
        .unwrap();
    let requests = registry.certificate_requests(None).unwrap();
    let states: Vec<_> = requests
        .iter()
        .map(|r| (r.id, r.state(), r.stale_at))
        .collect();
    assert_eq!(
        states,
        [
            (first_id, CertificateRequestState::Stale, Some(201)),
            (second_id, CertificateRequestState::Pending, None)
        ]
    );
    assert_eq!(requests[1].csr_der, None);

    // Import: never for a stale request, once for a pending one.
    assert!(matches!(
        registry.import_certificate(first_id, &certificate("0a"), 300),
        Err(RegistryError::RequestNotPending(id)) if id == first_id
    ));
    assert!(matches!(
        registry.import_certificate(9_999, &certificate("0a"), 300),
        Err(RegistryError::RequestNotPending(9_999))
    ));
    let ledger_id = registry
        .import_certificate(second_id, &certificate("0b"), 301)
        .unwrap();
    assert!(matches!(
        registry.import_certificate(second_id, &certificate("0c"), 302),
        Err(RegistryError::RequestNotPending(_))
    ));
    let ledger = registry.certificates(NAME).unwrap();
    assert_eq!(ledger.len(), 1, "imported once, before it is sent");
    assert_eq!(ledger[0].id, ledger_id);
    assert_eq!(ledger[0].serial_hex, "0b");
    assert_eq!(ledger[0].state, CertificateState::Pending);

    // A second handle (another process or node) sees the same.
    let other = backend.connect("offline_ca");
    let seen = other.certificate_requests(None).unwrap();
    assert_eq!(seen[1].certificate_id, Some(ledger_id));
    assert_eq!(seen[1].imported_at, Some(301));
    assert_eq!(seen[1].state(), CertificateRequestState::Imported);

    // Deleting the stale ones keeps the others and the ledger.
    assert_eq!(other.delete_stale_certificate_requests(400).unwrap(), 1);
    assert_eq!(registry.delete_stale_certificate_requests(401).unwrap(), 0);
    let left = registry.certificate_requests(None).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, second_id);
    assert_eq!(registry.certificates(NAME).unwrap().len(), 1);
}

/// The offline CA's second session through the host helpers: the lookup
/// hands the imported certificate to a real session, which sends it
/// without KEY_GEN_REQUEST; a phone that refuses it (not its pending key)
/// makes the request stale and leaves the operation scheduled; a phone
/// that stores it completes the operation with that ledger row (installed,
/// once).
pub fn offline_ca_ready_certificate_is_installed_or_goes_stale<B: Backend>(backend: &B) {
    use crate::offline_ca::{CertificateRequestState, NewCertificateRequest};
    use capf_core::capf::codec::{
        AuthResponseFields, Command, Frame, Password, Reason, WireDeviceName,
    };
    use capf_core::capf::server::{ServerConfig, ServerOutput, ServerSession, SessionResult};
    use capf_core::time::Timestamp;
    let registry = backend.create("offline_ready");
    registry
        .put_device(NAME, &schedule(Operation::Install, AuthMode::Null, None), 1)
        .unwrap();
    let key = KeyRequest::Ec(Curve::P256);
    // A session: lookup, the ready certificate out, the phone's answer,
    // finish_session. Returns the session's result.
    let session = |token: u8, phone_answer: Reason, now: u64| {
        let id = 0x300 + u32::from(token);
        let mut session =
            ServerSession::new(ServerConfig::new(id), Timestamp::from_unix_seconds(now));
        let _auth_request = session.poll_output();
        let fields = AuthResponseFields::new(WireDeviceName::new(NAME), Password::empty());
        session.handle_input(&Frame::auth_response(id, fields).encode().unwrap());
        assert!(matches!(session.poll_output(), Some(ServerOutput::Need(_))));
        let (record, claim) = match look_up_device(
            &registry,
            NAME,
            ClaimToken([token; 16]),
            now + 1_000,
            now,
            None,
        ) {
            Ok(LookUp::Answer { record, claim }) => (record, claim),
            other => panic!("{other:?}"),
        };
        let ready = record
            .as_ref()
            .and_then(|record| record.ready_certificate.clone());
        session.answer_device(record).unwrap();
        match session.poll_output() {
            Some(ServerOutput::Transmit(bytes)) => assert_eq!(
                Frame::decode(&bytes).unwrap().command,
                Command::StoreCertRequest,
                "no KEY_GEN_REQUEST"
            ),
            other => panic!("{other:?}"),
        }
        session.handle_input(
            &Frame::store_cert_response(id, phone_answer)
                .encode()
                .unwrap(),
        );
        let outcome = loop {
            match session.poll_output() {
                Some(ServerOutput::Done(outcome)) => break outcome,
                Some(ServerOutput::Need(_)) => session.answer_outcome_recorded().unwrap(),
                Some(_) => {}
                None => panic!("no outcome"),
            }
        };
        crate::finish_session(&registry, &outcome, claim.as_ref(), None, 5, now + 1).unwrap();
        (ready, outcome.result)
    };
    // Kept, then imported.
    let defer = |token: u8, spki: u8, now: u64| {
        let claim = take_claim(&registry, NAME, token, now + 1_000, now);
        let request = NewCertificateRequest::new(key, vec![0x30, 0x01, spki], None);
        let id = registry
            .record_certificate_request(&claim, &request, now)
            .unwrap();
        registry
            .record_outcome(NAME, Some(&claim), &OutcomeWrite::Deferred, now)
            .unwrap();
        id
    };

    let first = defer(1, 0xA1, 10);
    let refused_der = tvs_certificate("refused.example.test");
    let refused_id = registry
        .import_certificate(first, &NewCertificate::from_der(&refused_der), 20)
        .unwrap();
    let (ready, result) = session(2, Reason::Failure, 30);
    assert_eq!(ready.as_deref(), Some(refused_der.as_slice()));
    assert!(
        matches!(result, SessionResult::StoreFailed { .. }),
        "{result:?}"
    );
    let requests = registry.certificate_requests(Some(NAME)).unwrap();
    assert_eq!(
        requests[0].state(),
        CertificateRequestState::Stale,
        "refused: stale"
    );
    assert_eq!(registry.device(NAME).unwrap().operation, Operation::Install);

    let second = defer(3, 0xA2, 40);
    let stored_der = tvs_certificate("stored.example.test");
    let stored_id = registry
        .import_certificate(second, &NewCertificate::from_der(&stored_der), 50)
        .unwrap();
    // The claim itself carries it, read in the claim's transaction (the
    // refused one, older and stale, is not offered again).
    let ClaimAnswer::Claimed {
        claim,
        ready_certificate,
        ..
    } = registry
        .claim_operation(NAME, ClaimToken([9; 16]), 1_055, 55)
        .unwrap()
    else {
        panic!("not claimed")
    };
    assert_eq!(ready_certificate.as_deref(), Some(stored_der.as_slice()));
    assert!(registry.release_claim(&claim, 55).unwrap());
    let (ready, result) = session(4, Reason::Success, 60);
    assert_eq!(ready.as_deref(), Some(stored_der.as_slice()));
    assert!(
        matches!(result, SessionResult::Installed { .. }),
        "{result:?}"
    );
    let device = registry.device(NAME).unwrap();
    assert_eq!(device.operation, Operation::None, "completed");
    let ledger = registry.certificates(NAME).unwrap();
    let states: Vec<_> = ledger.iter().map(|entry| (entry.id, entry.state)).collect();
    assert_eq!(
        states,
        [
            (refused_id, CertificateState::Pending),
            (stored_id, CertificateState::Installed)
        ]
    );
    // Nothing scheduled any more: no ready certificate to hand out.
    assert!(matches!(
        look_up_device(&registry, NAME, ClaimToken([5; 16]), 2_000, 70, None),
        Ok(LookUp::Answer { record: Some(record), .. }) if record.ready_certificate.is_none()
    ));
}
