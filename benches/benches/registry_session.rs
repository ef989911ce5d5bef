//! The registry's share of one CAPF enrollment, on a real SQLite file: the
//! claim (a read, then a lease write), the pending certificate and the
//! outcome (the operation completed, the claim released), as `capf serve`
//! makes them, one session after another (no other session shares a
//! commit, so each write waits for its own: the worst case of group
//! commit). Wall time, so the disk's fsync is part of the figure; the
//! `read` bench is the claim's first step alone (a read, no write).
//!
//! The file lives in the system temporary folder (`TMPDIR`), on whatever
//! disk that is: compare runs made on the same machine and folder.

use capf_core::capf::codec::Curve;
use capf_core::capf::key_request::KeyRequest;
use capf_registry::{
    AuthMode, ClaimAnswer, ClaimToken, Completion, LedgerChange, NewCertificate, Operation,
    OutcomeWrite, Registry, Schedule, SqliteRegistry,
};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::hint::black_box;
use std::path::PathBuf;

const NOW: u64 = 1_800_000_000;
/// Devices scheduled up front; each iteration enrolls the next one (a run
/// of the bench takes a few thousand).
const DEVICES: usize = 50_000;

fn device(index: usize) -> String {
    format!("SEP{:012X}", index)
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

/// A scratch registry file with `DEVICES` devices scheduled for install.
fn registry(tag: &str) -> (SqliteRegistry, PathBuf) {
    let dir =
        std::env::temp_dir().join(format!("capf-bench-registry-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let registry = SqliteRegistry::open(&dir.join("capf.db")).unwrap();
    let devices: Vec<(String, Schedule)> = (0..DEVICES).map(|i| (device(i), install())).collect();
    registry.put_devices(&devices, NOW).unwrap();
    (registry, dir)
}

/// One session's registry work for device `index`; checks each answer so a
/// broken path cannot be timed as a fast one.
fn enroll(registry: &SqliteRegistry, index: usize, rng: &mut StdRng) {
    assert!(
        index < DEVICES,
        "more iterations than devices: raise DEVICES"
    );
    let name = device(index);
    let token = ClaimToken::random(rng);
    let claim = match registry
        .claim_operation(&name, token, NOW + 3600, NOW)
        .unwrap()
    {
        ClaimAnswer::Claimed { claim, .. } => claim,
        other => panic!("{name}: expected a claim, got {other:?}"),
    };
    let certificate = NewCertificate {
        serial_hex: format!("{index:032x}"),
        der: vec![0x30; 600],
        issued_at: NOW,
        not_after: NOW + 365 * 86_400,
    };
    let ledger_id = registry
        .record_pending_certificate(&claim, &certificate, NOW)
        .unwrap();
    let write = OutcomeWrite::Completed(Completion {
        operation: Operation::Install,
        ledger: LedgerChange::MarkInstalled(ledger_id),
        consume_auth_string: true,
    });
    let recorded = registry
        .record_outcome(&name, Some(&claim), &write, NOW)
        .unwrap();
    assert!(recorded.released, "{name}: claim not released");
}

fn bench_registry(c: &mut Criterion) {
    let (registry, dir) = registry("session");
    let mut rng = StdRng::seed_from_u64(8);
    let mut next = 0_usize;
    c.bench_function("registry/session_install", |b| {
        b.iter(|| {
            enroll(&registry, next, &mut rng);
            next += 1;
        })
    });
    let mut next = 0_usize;
    c.bench_function("registry/read_device", |b| {
        b.iter(|| {
            let found = registry.device(&device(next % DEVICES)).unwrap();
            next += 1;
            black_box(found)
        })
    });
    drop(registry);
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_registry
}
criterion_main!(benches);
