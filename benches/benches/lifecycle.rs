//! Issue 12's lifecycle figures on a real SQLite file:
//! - `bulk_schedule_10k`: scheduling 10,000 devices with generated
//!   one-time strings, as `capf device import` does it: each string drawn,
//!   keyed-hashed (HMAC-SHA256) and checked unique among scheduled devices
//!   (an indexed look-up), then all devices written in one transaction.
//!   A fresh file per iteration (its creation is not timed).
//! - `report_100k`: the CAPF report of 100,000 devices (`capf report`: the
//!   library's rows, then the CSV).
//!
//! Files live in the system temporary folder (`TMPDIR`).

use capf_core::capf::codec::Curve;
use capf_core::capf::key_request::KeyRequest;
use capf_registry::auth_string::generate_unique_auth_string;
use capf_registry::report::{DeviceFilter, report, to_csv};
use capf_registry::{AuthKey, AuthMode, Operation, Registry, Schedule, SqliteRegistry};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::collections::HashSet;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const NOW: u64 = 1_800_000_000;

fn device(index: usize) -> String {
    format!("SEP{index:012X}")
}

fn schedule(auth_mode: AuthMode) -> Schedule {
    Schedule {
        operation: Operation::Install,
        key_request: KeyRequest::Ec(Curve::P256),
        auth_mode,
        auth_hash: None,
        complete_by: None,
        description: Some("bench".to_owned()),
    }
}

fn scratch(tag: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("capf-bench-lifecycle-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Schedules `count` devices with generated 6-digit strings; returns how
/// many strings were generated (checked, so the work cannot be skipped).
fn bulk_schedule(
    registry: &SqliteRegistry,
    key: &AuthKey,
    count: usize,
    rng: &mut StdRng,
) -> usize {
    let mut taken = HashSet::new();
    let mut devices = Vec::with_capacity(count);
    for index in 0..count {
        let (_generated, hash) =
            generate_unique_auth_string(registry, key, 6, &mut taken, rng).unwrap();
        let mut entry = schedule(AuthMode::AuthString);
        entry.auth_hash = Some(hash);
        devices.push((device(index), entry));
    }
    registry.put_devices(&devices, NOW).unwrap();
    devices.len()
}

fn bulk_schedule_10k(c: &mut Criterion) {
    const COUNT: usize = 10_000;
    let dir = scratch("bulk");
    let key = AuthKey::generate(&mut StdRng::seed_from_u64(12));
    let mut group = c.benchmark_group("lifecycle");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(20));
    let mut run = 0_u64;
    group.bench_function("bulk_schedule_10k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                run += 1;
                let path = dir.join(format!("bulk-{run}.db"));
                let registry = SqliteRegistry::open(&path).unwrap();
                let mut rng = StdRng::seed_from_u64(run);
                let started = Instant::now();
                let scheduled = bulk_schedule(&registry, &key, COUNT, &mut rng);
                total += started.elapsed();
                assert_eq!(scheduled, COUNT);
                assert_eq!(registry.keyed_auth_string_count().unwrap(), COUNT);
                drop(registry);
                let _ = std::fs::remove_file(&path);
            }
            total
        });
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

fn report_100k(c: &mut Criterion) {
    const COUNT: usize = 100_000;
    let dir = scratch("report");
    let registry = SqliteRegistry::open(&dir.join("capf.db")).unwrap();
    let devices: Vec<(String, Schedule)> = (0..COUNT)
        .map(|index| (device(index), schedule(AuthMode::Null)))
        .collect();
    registry.put_devices(&devices, NOW).unwrap();
    let mut group = c.benchmark_group("lifecycle");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("report_100k_rows", |b| {
        b.iter(|| {
            let rows = report(&registry, &DeviceFilter::default()).unwrap();
            assert_eq!(rows.len(), COUNT);
            black_box(rows)
        });
    });
    group.bench_function("report_100k_csv", |b| {
        b.iter(|| {
            let rows = report(&registry, &DeviceFilter::default()).unwrap();
            let csv = to_csv(&rows, |seconds| seconds.to_string());
            assert_eq!(csv.lines().count(), COUNT + 1);
            black_box(csv)
        });
    });
    group.finish();
    drop(registry);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bulk_schedule_10k, report_100k);
criterion_main!(benches);
