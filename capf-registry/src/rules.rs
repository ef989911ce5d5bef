//! The host rules of a CAPF service, as pure functions: no database, no
//! clock, no I/O. Every host (the CLI, a Python or Kotlin service, a
//! backend's transaction) applies the same rules by calling these.
//!
//! | question | rule |
//! | --- | --- |
//! | what a device's record for the session is | [`device_record`] |
//! | what a locked device answers | failed attempts `u32::MAX`: the session refuses it (END_SESSION 7, `LockedOut`) whatever its limit, nothing counted |
//! | what an auth-string device whose string is used up answers | nothing scheduled: "nothing to do" (END_SESSION 0); something scheduled: unknown (END_SESSION 9) until a new string is set |
//! | what a lookup answers, given the claim | [`lookup_answer`] (held by another session: refused, closed without END_SESSION so the phone retries) |
//! | how failures count and lock | [`count_failure`] |
//! | which write each outcome makes | [`outcome_write`] (completions consume the one-time string) |
//! | how long a claim's lease is | [`lease_until`] |
//! | whether an operation is past its deadline | [`is_late`] (then the lookup refuses it and the string is void) |
//! | which status a failure leaves | [`failure_status`], reasons from [`outcome_write`] |
//! | which LSCs are due for renewal | [`renewal_due`], [`plan_renewals`] |
//! | which ledger certificates certificate authentication refuses | [`ledger_revocations`] (every revoked one, by digest and by issuer and serial) |

use capf_core::capf::server::{self, DeviceRefusal, ServerOutcome, SessionResult};
use capf_core::trust::Revocations;
use core::time::Duration;

use crate::auth_key::AuthKey;
use crate::error::RegistryResult;
use crate::model::{
    AuthMode, CertificateEntry, Claim, ClaimAnswer, Completion, Device, FailureCount,
    FailureReason, LedgerChange, NewCertificate, Operation, OperationStatus, OutcomeWrite,
    StatusOperation, StoredDevice, auth_string_verifier,
};
use capf_core::capf::server::{AuthFailure, CertificateKind};

/// Slack added to a lease beyond the session's own waits: the host's
/// issuing and recording, and clock differences between nodes.
pub const LEASE_MARGIN: Duration = Duration::from_secs(120);

/// The end of a claim's lease for a session that starts now: it outlives
/// every wait of the session after the lookup (key generation, then a
/// response wait for STORE_CERT_RESPONSE, and one more for slack) plus
/// [`LEASE_MARGIN`], so a live session never loses its claim, while a
/// crashed one's claim expires and the phone can retry.
pub fn lease_until(now: u64, key_generation_timeout: Duration, response_timeout: Duration) -> u64 {
    lease_until_with_issuance(
        now,
        key_generation_timeout,
        response_timeout,
        Duration::ZERO,
    )
}

/// [`lease_until`] for a server whose issuer may take up to
/// `issuance_timeout` (an external CA, such as EST's
/// [`EstClient::timeout`](crate::est::EstClient::timeout) with the feature
/// `est`): the session waits for it between key generation and the store,
/// so the lease outlives that wait too.
pub fn lease_until_with_issuance(
    now: u64,
    key_generation_timeout: Duration,
    response_timeout: Duration,
    issuance_timeout: Duration,
) -> u64 {
    now.saturating_add(key_generation_timeout.as_secs())
        .saturating_add(issuance_timeout.as_secs())
        .saturating_add(response_timeout.as_secs().saturating_mul(2))
        .saturating_add(LEASE_MARGIN.as_secs())
}

/// Whether a claim with this lease end is still held at `now`.
pub fn lease_held(lease_until: Option<u64>, now: u64) -> bool {
    lease_until.is_some_and(|until| until > now)
}

/// The record the server session gets for a stored device, or `None` to
/// answer "unknown device":
/// - a locked device gets `u32::MAX` failed attempts, so the session refuses
///   it without checking credentials whatever its configured limit;
/// - an auth-string device whose one-time string is used up gets "nothing
///   scheduled, null string" when nothing is scheduled (so it hears
///   "nothing to do"), and `None` (unknown) when something is scheduled: it
///   cannot authenticate until an administrator sets a new string.
///
/// `auth_key` verifies keyed strings ([`crate::auth_key`]); a keyed string
/// without it is an error ([`RegistryError::AuthKey`](crate::RegistryError::AuthKey)).
pub fn device_record(
    stored: &StoredDevice,
    auth_key: Option<&AuthKey>,
) -> RegistryResult<Option<server::DeviceRecord>> {
    let device = &stored.device;
    let operation = match device.operation {
        Operation::None => server::Operation::None,
        Operation::Install => server::Operation::Install(device.key_request),
        Operation::Fetch => server::Operation::Fetch,
        Operation::Delete => server::Operation::Delete,
    };
    let authentication = match (device.auth_mode, &stored.auth_hash) {
        (AuthMode::AuthString, Some(hash)) => {
            server::AuthMode::AuthString(auth_string_verifier(hash, auth_key)?)
        }
        (AuthMode::AuthString, None) => {
            return Ok((device.operation == Operation::None).then(|| {
                server::DeviceRecord::new(
                    device.name.clone(),
                    server::Operation::None,
                    server::AuthMode::NullString,
                )
            }));
        }
        (AuthMode::Null, _) => server::AuthMode::NullString,
        (AuthMode::Lsc, _) => server::AuthMode::ExistingCertificate {
            prefer: server::CertificatePreference::Lsc,
        },
        (AuthMode::Mic, _) => server::AuthMode::ExistingCertificate {
            prefer: server::CertificatePreference::Mic,
        },
    };
    let failed = if device.locked {
        u32::MAX
    } else {
        device.failed_attempts
    };
    Ok(Some(
        server::DeviceRecord::new(device.name.clone(), operation, authentication)
            .with_failed_attempts(failed),
    ))
}

/// Whether the device's scheduled operation is past its deadline at `now`
/// (deadline reached counts as past).
pub fn is_late(device: &Device, now: u64) -> bool {
    device.operation != Operation::None && device.complete_by.is_some_and(|by| now >= by)
}

/// The status a failure of the scheduled `operation` leaves (`None` when
/// nothing is scheduled: there is no operation to fail). A CA reason does
/// not apply to Troubleshoot: it is recorded as a plain failure.
pub fn failure_status(
    operation: Operation,
    reason: Option<FailureReason>,
) -> Option<OperationStatus> {
    let operation = StatusOperation::of(operation)?;
    let reason = reason.filter(|reason| reason.applies_to(operation));
    if reason == Some(FailureReason::NoEcOnlySupport) {
        return Some(OperationStatus::NoEcOnlySupport);
    }
    Some(OperationStatus::Failed(operation, reason))
}

/// Why an authentication failed, as a status reason: the string; the LSC or
/// the MIC presented (by the kind the phone presented); other credentials.
pub fn authentication_reason(outcome: &ServerOutcome, failure: &AuthFailure) -> FailureReason {
    match failure {
        AuthFailure::WrongAuthString | AuthFailure::AuthStringMissing => {
            FailureReason::InvalidAuthenticationString
        }
        AuthFailure::LockedOut { .. } => FailureReason::InvalidCredentials,
        AuthFailure::SudiMissing
        | AuthFailure::SudiNotRsa
        | AuthFailure::SudiCertificate(_)
        | AuthFailure::SudiHashId(_) => FailureReason::InvalidMic,
        _ => match outcome
            .certificate_authentication
            .as_ref()
            .map(|presented| presented.kind)
        {
            Some(CertificateKind::Lsc) => FailureReason::InvalidLsc,
            Some(CertificateKind::Mic) => FailureReason::InvalidMic,
            _ => FailureReason::InvalidCredentials,
        },
    }
}

/// The revocation data of a device's ledger entries: every revoked
/// certificate, by its SHA-256 and by its issuer and serial (so a
/// re-encoded copy is refused too). An entry whose DER does not parse is
/// revoked by digest alone.
pub fn ledger_revocations(entries: &[CertificateEntry]) -> Revocations {
    let mut revocations = Revocations::new();
    for entry in entries.iter().filter(|entry| entry.revocation.is_some()) {
        if revocations.revoke_certificate(&entry.der).is_err() {
            revocations.revoke_sha256(crate::tvs::certificate_sha256(&entry.der));
        }
    }
    revocations
}

/// When an LSC is due for renewal.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewalPolicy {
    /// Its notAfter is before this instant (Unix seconds).
    ExpiringBefore(u64),
    /// This share of its lifetime (notBefore to notAfter) has passed, in
    /// millionths (660_000: 0.66), 1..=1_000_000.
    UsedShare {
        /// The share, in millionths.
        millionths: u32,
    },
}

impl RenewalPolicy {
    /// A used-share policy from a decimal share in (0, 1] (`"0.66"`); at
    /// most six decimals are used. `None` outside that range or not a
    /// decimal number.
    pub fn used_share(text: &str) -> Option<Self> {
        let text = text.trim();
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty() && fraction.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut digits: String = fraction.chars().take(6).collect();
        while digits.len() < 6 {
            digits.push('0');
        }
        let millionths = whole
            .checked_mul(1_000_000)?
            .checked_add(digits.parse::<u64>().ok()?)?;
        let millionths = u32::try_from(millionths).ok()?;
        (1..=1_000_000)
            .contains(&millionths)
            .then_some(Self::UsedShare { millionths })
    }
}

/// Whether an LSC valid from `not_before` to `not_after` is due for
/// renewal at `now`:
/// - [`RenewalPolicy::ExpiringBefore`]: `not_after` is before that instant;
/// - [`RenewalPolicy::UsedShare`]: `now` is at or past `not_before` + the
///   share of the lifetime (rounded up to the second).
///
/// An LSC already expired at `now` is never due: it can no longer
/// authenticate the renewal (the administrator schedules such a phone by
/// hand, with another authentication).
pub fn renewal_due(not_before: u64, not_after: u64, now: u64, policy: RenewalPolicy) -> bool {
    if not_after <= now {
        return false;
    }
    match policy {
        RenewalPolicy::ExpiringBefore(limit) => not_after < limit,
        RenewalPolicy::UsedShare { millionths } => {
            let lifetime = u128::from(not_after.saturating_sub(not_before));
            let used = (lifetime * u128::from(millionths)).div_ceil(1_000_000);
            let threshold = u128::from(not_before).saturating_add(used);
            u128::from(now) >= threshold
        }
    }
}

/// A renewal the planner schedules: the device, and the LSC it renews.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renewal {
    /// The device.
    pub device: String,
    /// Ledger id of its current LSC.
    pub certificate_id: i64,
    /// That LSC's serial.
    pub serial_hex: String,
    /// That LSC's notAfter, Unix seconds.
    pub not_after: u64,
}

/// The renewals due at `now`: for every device with nothing scheduled, its
/// current LSC (the newest installed ledger certificate that is neither
/// revoked nor replaced) if [`renewal_due`]. `devices` are the registry's
/// devices, `current` the candidate certificates (any order; others are
/// ignored). Sorted by device name.
pub fn plan_renewals(
    devices: &[crate::model::Device],
    current: &[CertificateEntry],
    policy: RenewalPolicy,
    now: u64,
) -> Vec<Renewal> {
    use std::collections::BTreeMap;
    let mut newest: BTreeMap<&str, &CertificateEntry> = BTreeMap::new();
    for entry in current.iter().filter(|entry| {
        entry.state == crate::model::CertificateState::Installed
            && entry.revocation.is_none()
            && entry.replaced_by.is_none()
    }) {
        let slot = newest.entry(entry.device.as_str()).or_insert(entry);
        if entry.id > slot.id {
            *slot = entry;
        }
    }
    devices
        .iter()
        .filter(|device| device.operation == Operation::None)
        .filter_map(|device| newest.get(device.name.as_str()))
        .filter(|entry| renewal_due(entry.issued_at, entry.not_after, now, policy))
        .map(|entry| Renewal {
            device: entry.device.clone(),
            certificate_id: entry.id,
            serial_hex: entry.serial_hex.clone(),
            not_after: entry.not_after,
        })
        .collect()
}

/// How a session's lookup is answered.
// One value per session lookup, moved once: boxing the record would only
// add an allocation.
#[allow(clippy::large_enum_variant)]
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookUp {
    /// Answer with [`ServerSession::answer_device`](capf_core::capf::server::ServerSession::answer_device)
    /// (`None`: unknown device). When `claim` is set the session holds the
    /// operation: pass it to its writes and release it when it ends,
    /// whatever the outcome.
    Answer {
        /// The record, or `None` for an unknown device.
        record: Option<server::DeviceRecord>,
        /// This session's claim, if it took one.
        claim: Option<Claim>,
    },
    /// Answer with [`ServerSession::refuse_device`](capf_core::capf::server::ServerSession::refuse_device).
    Refuse(DeviceRefusal),
}

/// The answer to a lookup, from what [`Registry::claim_operation`](crate::Registry::claim_operation)
/// found (`None`: no such device). A second session for a device whose
/// operation another session holds is refused (closed without
/// END_SESSION, which a phone retries as a communication failure; see
/// [`DeviceRefusal::end_reason`](capf_core::capf::server::DeviceRefusal::end_reason)):
/// one operation, one certificate.
pub fn lookup_answer(
    found: Option<ClaimAnswer>,
    auth_key: Option<&AuthKey>,
) -> RegistryResult<LookUp> {
    Ok(match found {
        None => LookUp::Answer {
            record: None,
            claim: None,
        },
        Some(ClaimAnswer::Held { .. }) => LookUp::Refuse(DeviceRefusal::OperationClaimed),
        Some(ClaimAnswer::NothingScheduled { device }) => LookUp::Answer {
            record: device_record(&device, auth_key)?,
            claim: None,
        },
        Some(ClaimAnswer::Claimed {
            claim,
            device,
            ready_certificate,
        }) => LookUp::Answer {
            record: device_record(&device, auth_key)?.map(|record| match ready_certificate {
                Some(der) => record.with_ready_certificate(der),
                None => record,
            }),
            claim: Some(claim),
        },
    })
}

/// The counter after one more failed authentication: one more failure;
/// locked once it reaches `lock_after` (0: never); a locked device stays
/// locked (only rescheduling unlocks it). Saturates at `u32::MAX`.
pub fn count_failure(failed_attempts: u32, locked: bool, lock_after: u32) -> FailureCount {
    let failed_attempts = failed_attempts.saturating_add(1);
    FailureCount {
        failed_attempts,
        locked: locked || (lock_after > 0 && failed_attempts >= lock_after),
    }
}

/// The registry write a finished session makes:
///
/// | outcome | write |
/// | --- | --- |
/// | installed | complete the install: the pending certificate `ledger_id` installed (nothing in the ledger without one), string consumed |
/// | fetched | complete the fetch: the certificate added as fetched, string consumed |
/// | deleted | complete the delete: every live certificate deleted, string consumed |
/// | authentication failed (not locked out) | count a failure, lock at `lock_after`; status Invalid Authentication String / LSC / MIC / Credentials ([`authentication_reason`]) |
/// | locked out | status Invalid Credentials (a locked device is not counted again) |
/// | key generation failed, timed out waiting for the key | status Key Generation Failed/Timeout |
/// | a CAPF v3 phone refused an EC-only install | status Upgrade Failed: No Support for EC only in CAPF version 3 |
/// | other time-outs, peer closed, transport failed, protocol error | status Phone Communication Failure |
/// | issue refused (CA unavailable / declined) | status CA Communication Failure / CA Rejected Connection |
/// | store failed, fetch failed, delete refused | status `<Op> Failed` |
/// | nothing to do, unknown device, refused | nothing |
///
/// Every failure leaves the operation scheduled and a pending certificate
/// pending.
///
/// Whatever the write, the session's claim is released with it.
pub fn outcome_write(
    outcome: &ServerOutcome,
    ledger_id: Option<i64>,
    lock_after: u32,
) -> OutcomeWrite {
    let completed = |operation, ledger| {
        OutcomeWrite::Completed(Completion {
            operation,
            ledger,
            consume_auth_string: true,
        })
    };
    match &outcome.result {
        SessionResult::Installed { .. } => completed(
            Operation::Install,
            ledger_id.map_or(LedgerChange::None, LedgerChange::MarkInstalled),
        ),
        SessionResult::Fetched { certificate_der } => completed(
            Operation::Fetch,
            LedgerChange::AddFetched(NewCertificate::from_der(certificate_der)),
        ),
        SessionResult::Deleted => completed(Operation::Delete, LedgerChange::MarkAllDeleted),
        SessionResult::AuthenticationFailed(server::AuthFailure::LockedOut { .. }) => {
            OutcomeWrite::Failed(Some(FailureReason::InvalidCredentials))
        }
        SessionResult::AuthenticationFailed(failure) => OutcomeWrite::AuthenticationFailed {
            lock_after,
            reason: authentication_reason(outcome, failure),
        },
        SessionResult::EcOnlyNotSupported { .. } => {
            OutcomeWrite::Failed(Some(FailureReason::NoEcOnlySupport))
        }
        SessionResult::KeyGenerationFailed { .. }
        | SessionResult::TimedOut {
            state: server::SessionState::AwaitingKeyGeneration,
        } => OutcomeWrite::Failed(Some(FailureReason::KeyGenerationFailedTimeout)),
        SessionResult::TimedOut { .. }
        | SessionResult::PeerClosed { .. }
        | SessionResult::TransportFailed { .. }
        | SessionResult::ProtocolError(_) => {
            OutcomeWrite::Failed(Some(FailureReason::PhoneCommunicationFailure))
        }
        SessionResult::IssueRefused(server::IssueRefusal::Deferred) => OutcomeWrite::Deferred,
        SessionResult::IssueRefused(server::IssueRefusal::Unavailable(_)) => {
            OutcomeWrite::Failed(Some(FailureReason::CaCommunicationFailure))
        }
        SessionResult::IssueRefused(_) => {
            OutcomeWrite::Failed(Some(FailureReason::CaRejectedConnection))
        }
        SessionResult::StoreFailed { .. }
        | SessionResult::FetchFailed { .. }
        | SessionResult::DeleteRefused { .. } => OutcomeWrite::Failed(None),
        _ => OutcomeWrite::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Device, Status, StoredAuthHash, hash_auth_string};
    use capf_core::capf::codec::{Curve, Reason};
    use capf_core::capf::key_request::KeyRequest;
    use capf_core::capf::server::{AuthFailure, SessionState};
    use rand::SeedableRng;

    fn stored(operation: Operation, mode: AuthMode, hash: Option<StoredAuthHash>) -> StoredDevice {
        StoredDevice {
            device: Device {
                name: "SEP001122334455".into(),
                operation,
                key_request: KeyRequest::Ec(Curve::P256),
                auth_mode: mode,
                has_auth_string: hash.is_some(),
                failed_attempts: 2,
                locked: false,
                status: Status::Pending,
                status_operation: None,
                status_detail: None,
                claimed_until: None,
                created_at: 1,
                updated_at: 1,
                operation_status: crate::model::OperationStatus::Pending,
                status_changed_at: 1,
                complete_by: None,
                description: None,
            },
            auth_hash: hash,
        }
    }

    fn device_record_of(stored: &StoredDevice) -> RegistryResult<Option<server::DeviceRecord>> {
        device_record(stored, None)
    }

    fn hash(text: &str) -> StoredAuthHash {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        hash_auth_string(text, 10, &mut rng).unwrap()
    }

    /// An outcome with `result` (`ServerOutcome` is non-exhaustive: a real
    /// session's outcome is the template, its public `result` replaced).
    fn outcome(result: SessionResult) -> ServerOutcome {
        let mut template = template_outcome();
        template.result = result;
        template
    }

    /// A real outcome from a real session (nothing scheduled), used as a
    /// template whose result the tests replace.
    fn template_outcome() -> ServerOutcome {
        use capf_core::capf::codec::{AuthResponseFields, Frame, Password, WireDeviceName};
        use capf_core::capf::server::{ServerConfig, ServerOutput, ServerSession};
        use capf_core::time::Timestamp;
        let mut session = ServerSession::new(
            ServerConfig::new(7),
            Timestamp::from_unix_seconds(1_800_000_000),
        );
        let _auth_request = session.poll_output();
        let fields =
            AuthResponseFields::new(WireDeviceName::new("SEP001122334455"), Password::empty());
        session.handle_input(&Frame::auth_response(7, fields).encode().unwrap());
        let _lookup = session.poll_output();
        session
            .answer_device(Some(server::DeviceRecord::new(
                "SEP001122334455",
                server::Operation::None,
                server::AuthMode::NullString,
            )))
            .unwrap();
        loop {
            match session.poll_output() {
                Some(ServerOutput::Done(outcome)) => return outcome,
                // The host's record decision comes first; the test records
                // through the registry itself below.
                Some(ServerOutput::Need(_)) => session.answer_outcome_recorded().unwrap(),
                Some(_) => {}
                None => panic!("no outcome"),
            }
        }
    }

    #[test]
    fn failures_count_one_each_and_lock_at_the_threshold() {
        let expected = [(1, false), (2, false), (3, true), (4, true)];
        let (mut failed, mut locked) = (0, false);
        for (want_failed, want_locked) in expected {
            let count = count_failure(failed, locked, 3);
            assert_eq!(
                (count.failed_attempts, count.locked),
                (want_failed, want_locked)
            );
            (failed, locked) = (count.failed_attempts, count.locked);
        }
        // 0: never locks; a locked device stays locked; saturates.
        assert!(!count_failure(1_000, false, 0).locked);
        assert!(count_failure(0, true, 0).locked);
        assert_eq!(count_failure(u32::MAX, false, 0).failed_attempts, u32::MAX);
    }

    #[test]
    fn a_locked_device_is_refused_whatever_the_limit() {
        let mut device = stored(Operation::Install, AuthMode::Null, None);
        assert_eq!(
            device_record(&device, None)
                .unwrap()
                .unwrap()
                .failed_attempts,
            2
        );
        device.device.locked = true;
        let record = device_record(&device, None).unwrap().unwrap();
        assert_eq!(record.failed_attempts, u32::MAX);
        assert_eq!(
            record.operation,
            server::Operation::Install(KeyRequest::Ec(Curve::P256))
        );
    }

    #[test]
    fn a_used_up_string_means_nothing_to_do_or_unknown() {
        // Used up, nothing scheduled: nothing to do, null string.
        let record = device_record_of(&stored(Operation::None, AuthMode::AuthString, None))
            .unwrap()
            .unwrap();
        assert_eq!(record.operation, server::Operation::None);
        assert_eq!(record.authentication, server::AuthMode::NullString);
        // Used up, something scheduled: unknown until a new string is set.
        assert_eq!(
            device_record_of(&stored(Operation::Install, AuthMode::AuthString, None)).unwrap(),
            None
        );
        // With a string: verified against it.
        let record = device_record_of(&stored(
            Operation::Install,
            AuthMode::AuthString,
            Some(hash("123456")),
        ))
        .unwrap()
        .unwrap();
        match record.authentication {
            server::AuthMode::AuthString(verifier) => {
                assert!(verifier.verify(b"123456"));
                assert!(!verifier.verify(b"123457"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_held_operation_is_refused_and_a_claim_is_passed_on() {
        assert_eq!(
            lookup_answer(Some(ClaimAnswer::Held { until: 10 }), None).unwrap(),
            LookUp::Refuse(DeviceRefusal::OperationClaimed)
        );
        assert_eq!(
            lookup_answer(None, None).unwrap(),
            LookUp::Answer {
                record: None,
                claim: None
            }
        );
        let claim = Claim {
            device: "SEP001122334455".into(),
            token: crate::model::ClaimToken([1; 16]),
            lease_until: 99,
        };
        let device = stored(Operation::Fetch, AuthMode::Lsc, None);
        let LookUp::Answer { record, claim: got } = lookup_answer(
            Some(ClaimAnswer::Claimed {
                claim: claim.clone(),
                device,
                ready_certificate: None,
            }),
            None,
        )
        .unwrap() else {
            panic!("refused")
        };
        assert_eq!(got, Some(claim));
        assert_eq!(record.unwrap().operation, server::Operation::Fetch);
    }

    #[test]
    fn each_outcome_makes_its_write() {
        let done = |operation, ledger| {
            OutcomeWrite::Completed(Completion {
                operation,
                ledger,
                consume_auth_string: true,
            })
        };
        let installed = outcome(SessionResult::Installed {
            certificate_der: vec![0x30],
        });
        assert_eq!(
            outcome_write(&installed, Some(5), 3),
            done(Operation::Install, LedgerChange::MarkInstalled(5))
        );
        assert_eq!(
            outcome_write(&installed, None, 3),
            done(Operation::Install, LedgerChange::None)
        );
        assert_eq!(
            outcome_write(&outcome(SessionResult::Deleted), None, 3),
            done(Operation::Delete, LedgerChange::MarkAllDeleted)
        );
        let fetched = outcome_write(
            &outcome(SessionResult::Fetched {
                certificate_der: b"\x30\x00".to_vec(),
            }),
            None,
            3,
        );
        assert_eq!(
            fetched,
            done(
                Operation::Fetch,
                LedgerChange::AddFetched(NewCertificate {
                    serial_hex: String::new(),
                    der: b"\x30\x00".to_vec(),
                    issued_at: 0,
                    not_after: 0,
                })
            )
        );
        assert_eq!(
            outcome_write(
                &outcome(SessionResult::AuthenticationFailed(
                    AuthFailure::WrongAuthString
                )),
                None,
                4
            ),
            OutcomeWrite::AuthenticationFailed {
                lock_after: 4,
                reason: FailureReason::InvalidAuthenticationString
            }
        );
        use FailureReason as R;
        for (result, reason) in [
            (
                SessionResult::AuthenticationFailed(AuthFailure::LockedOut { failed_attempts: 9 }),
                Some(R::InvalidCredentials),
            ),
            (
                SessionResult::StoreFailed {
                    certificate_der: vec![0x30],
                    phone_reason: Some(Reason::Failure),
                },
                None,
            ),
            (
                SessionResult::KeyGenerationFailed { phone_reason: None },
                Some(R::KeyGenerationFailedTimeout),
            ),
            (SessionResult::DeleteRefused { phone_reason: None }, None),
            (SessionResult::FetchFailed { phone_reason: None }, None),
            (
                SessionResult::TimedOut {
                    state: SessionState::AwaitingKeyGeneration,
                },
                Some(R::KeyGenerationFailedTimeout),
            ),
            (
                SessionResult::PeerClosed {
                    state: SessionState::AwaitingStoreResponse,
                },
                Some(R::PhoneCommunicationFailure),
            ),
            (
                SessionResult::IssueRefused(server::IssueRefusal::Unavailable("down".into())),
                Some(R::CaCommunicationFailure),
            ),
            (
                SessionResult::IssueRefused(server::IssueRefusal::Declined("no".into())),
                Some(R::CaRejectedConnection),
            ),
        ] {
            assert_eq!(
                outcome_write(&outcome(result.clone()), Some(1), 3),
                OutcomeWrite::Failed(reason),
                "{result:?}"
            );
        }
        for nothing in [
            SessionResult::NothingToDo,
            SessionResult::UnknownDevice,
            SessionResult::DeviceRefused(DeviceRefusal::OperationClaimed),
        ] {
            assert_eq!(
                outcome_write(&outcome(nothing.clone()), Some(1), 3),
                OutcomeWrite::Nothing,
                "{nothing:?}"
            );
        }
    }

    #[test]
    fn statuses_have_ciscos_words_stable_slugs_and_the_deadline_rule() {
        use crate::model::{OperationStatus as S, StatusOperation as O};
        let cases = [
            (S::None, "None", "none"),
            (S::Pending, "Operation Pending", "operation-pending"),
            (S::Success(O::Upgrade), "Upgrade Success", "upgrade-success"),
            (S::Failed(O::Delete, None), "Delete Failed", "delete-failed"),
            (
                S::Failed(O::Upgrade, Some(FailureReason::InvalidMic)),
                "Upgrade Failed: Invalid MIC",
                "upgrade-failed-invalid-mic",
            ),
            (
                S::Failed(
                    O::Troubleshoot,
                    Some(FailureReason::KeyGenerationFailedTimeout),
                ),
                "Troubleshoot Failed: Key Generation Failed/Timeout",
                "troubleshoot-failed-key-generation-failed-timeout",
            ),
            (
                S::Failed(O::Upgrade, Some(FailureReason::LateTimedOut)),
                "Upgrade Failed: User Initiated Request Late/Timedout",
                "upgrade-failed-user-initiated-request-late-timedout",
            ),
            (
                S::NoEcOnlySupport,
                "Upgrade Failed: No Support for EC only in CAPF version 3",
                "upgrade-failed-no-support-for-ec-only-in-capf-version-3",
            ),
        ];
        for (status, words, slug) in cases {
            assert_eq!(status.to_string(), words);
            assert_eq!(status.slug(), slug);
            assert_eq!(slug.parse::<S>(), Ok(status));
        }
        // 2 + 3 operations x (success, failed, 9 reasons) - 2 CA reasons
        // for Troubleshoot + the EC one; every slug distinct.
        let all = S::all();
        assert_eq!(all.len(), 2 + 3 * 11 - 2 + 1);
        let slugs: std::collections::HashSet<String> = all.iter().map(|s| s.slug()).collect();
        assert_eq!(slugs.len(), all.len());
        assert!(!slugs.contains("troubleshoot-failed-ca-rejected-connection"));
        assert_eq!(
            failure_status(Operation::Fetch, Some(FailureReason::CaRejectedConnection)),
            Some(S::Failed(O::Troubleshoot, None))
        );
        assert_eq!(failure_status(Operation::None, None), None);
        // The deadline: reached is late; nothing scheduled is never late.
        let mut device = stored(Operation::Install, AuthMode::Null, None).device;
        assert!(!is_late(&device, 100));
        device.complete_by = Some(100);
        assert!(!is_late(&device, 99));
        assert!(is_late(&device, 100));
        device.operation = Operation::None;
        assert!(!is_late(&device, 1_000));
    }

    #[test]
    fn renewal_is_due_at_the_share_threshold_and_not_a_second_before() {
        // 1000 s of lifetime, 0.66 used: due from 1000 + 660.
        let share = RenewalPolicy::used_share("0.66").unwrap();
        assert_eq!(
            share,
            RenewalPolicy::UsedShare {
                millionths: 660_000
            }
        );
        assert!(!renewal_due(1_000, 2_000, 1_659, share));
        assert!(renewal_due(1_000, 2_000, 1_660, share));
        assert!(renewal_due(1_000, 2_000, 1_999, share));
        // Expired: no longer renewable by its own authentication.
        assert!(!renewal_due(1_000, 2_000, 2_000, share));
        // Rounded up: 0.5 of 3 s is due at 2 s, not 1.
        let half = RenewalPolicy::used_share(".5").unwrap();
        assert!(!renewal_due(0, 3, 1, half));
        assert!(renewal_due(0, 3, 2, half));
        // Before a date: strictly before.
        let before = RenewalPolicy::ExpiringBefore(2_000);
        assert!(!renewal_due(1_000, 2_000, 1_500, before));
        assert!(renewal_due(1_000, 1_999, 1_500, before));
        for bad in ["0", "1.5", "", ".", "x", "-0.5", "0.0000001"] {
            assert_eq!(RenewalPolicy::used_share(bad), None, "{bad:?}");
        }
        assert_eq!(
            RenewalPolicy::used_share("1"),
            Some(RenewalPolicy::UsedShare {
                millionths: 1_000_000
            })
        );
    }

    #[test]
    fn the_plan_takes_each_device_current_lsc_and_skips_scheduled_devices() {
        use crate::model::{CertificateState, Revocation, RevocationReason};
        let device = |name: &str, operation| {
            let mut stored = stored(operation, AuthMode::Lsc, None);
            stored.device.name = name.into();
            stored.device
        };
        let entry = |id, name: &str, not_after, state| CertificateEntry {
            id,
            device: name.into(),
            serial_hex: format!("{id:02x}"),
            der: Vec::new(),
            state,
            issued_at: 0,
            not_after,
            updated_at: 0,
            revocation: None,
            replaced_by: None,
        };
        let devices = [
            device("SEP0000000000A1", Operation::None),
            device("SEP0000000000A2", Operation::None),
            device("SEP0000000000A3", Operation::Install),
            device("SEP0000000000A4", Operation::None),
        ];
        let mut replaced = entry(5, "SEP0000000000A4", 100, CertificateState::Installed);
        replaced.replaced_by = Some(6);
        let mut revoked = entry(6, "SEP0000000000A4", 100, CertificateState::Installed);
        revoked.revocation = Some(Revocation {
            reason: RevocationReason::Superseded,
            revoked_at: 1,
        });
        let current = [
            // A1: an old one and the newest; the newest (id 2) is judged.
            entry(1, "SEP0000000000A1", 100, CertificateState::Installed),
            entry(2, "SEP0000000000A1", 1_000, CertificateState::Installed),
            // A2: due, but only pending (never confirmed installed).
            entry(3, "SEP0000000000A2", 100, CertificateState::Pending),
            // A3: due, but something is already scheduled.
            entry(4, "SEP0000000000A3", 100, CertificateState::Installed),
            replaced,
            revoked,
        ];
        let plan = plan_renewals(&devices, &current, RenewalPolicy::ExpiringBefore(2_000), 50);
        assert_eq!(
            plan.iter()
                .map(|r| (r.device.as_str(), r.certificate_id))
                .collect::<Vec<_>>(),
            [("SEP0000000000A1", 2)]
        );
        // Not before its threshold: 0.66 of 1000 s is 660.
        let share = RenewalPolicy::UsedShare {
            millionths: 660_000,
        };
        assert!(plan_renewals(&devices, &current, share, 659).is_empty());
        assert_eq!(plan_renewals(&devices, &current, share, 660).len(), 1);
    }

    #[test]
    fn the_lease_outlives_every_wait_of_the_session() {
        let key_generation = Duration::from_secs(3600);
        let response = Duration::from_secs(60);
        let until = lease_until(1_000, key_generation, response);
        assert_eq!(until, 1_000 + 3600 + 120 + 120);
        assert!(lease_held(Some(until), 1_000 + 3600 + 60));
        assert!(!lease_held(Some(until), until));
        assert!(!lease_held(None, 0));
        assert_eq!(
            lease_until(u64::MAX - 1, key_generation, response),
            u64::MAX
        );
        // An external CA's wait comes on top.
        let issuance = Duration::from_secs(30);
        assert_eq!(
            lease_until_with_issuance(1_000, key_generation, response, issuance),
            1_000 + 3600 + 30 + 120 + 120
        );
    }
}
