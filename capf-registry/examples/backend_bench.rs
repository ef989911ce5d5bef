//! Benchmark (not a test): the registry's share of CAPF enrollments per
//! second, on one SQLite file beside one and two PostgreSQL "nodes" (two
//! registries on one database, as two `capf serve` processes hold them),
//! with concurrent sessions so that group commit has something to group.
//! Each session makes the writes `capf serve` makes: the claim (lease),
//! the pending certificate (durable) and the outcome with the claim's
//! release (durable).
//!
//! ```text
//! CAPF_PG_FSYNC=on bash scripts/with-postgres.sh \
//!   cargo run -p capf-registry --features postgres --example backend_bench -- 2000 32
//! ```
//!
//! Arguments: sessions per backend (default 2000), concurrent sessions
//! (default 32). PostgreSQL runs need `CAPF_TEST_POSTGRES_URL`; without it
//! only SQLite is measured (and that is said). Speed is printed, never
//! asserted.
//!
//! On Linux it also prints the CPU each enrollment costs this process
//! (from `/proc/self/stat`: the sessions' threads and the registry's own),
//! and the SQLite writer thread's share (from its
//! `/proc/self/task/*/schedstat`): wall time moves with the disk's fsync,
//! CPU time is what a change to the registry's statements moves. For
//! PostgreSQL the database server's CPU is not included.

use std::sync::Arc;
use std::time::Instant;

use capf_core::capf::codec::Curve;
use capf_core::capf::key_request::KeyRequest;
use capf_registry::{
    AuthMode, ClaimToken, Completion, LedgerChange, LookUp, NewCertificate, Operation,
    OutcomeWrite, PostgresOptions, PostgresRegistry, Registry, Schedule, SqliteRegistry,
    look_up_device,
};

const NOW: u64 = 1_800_000_000;

fn schedule() -> Schedule {
    Schedule {
        operation: Operation::Install,
        key_request: KeyRequest::Ec(Curve::P256),
        auth_mode: AuthMode::Null,
        auth_hash: None,
        complete_by: None,
        description: None,
    }
}

/// One enrollment's registry work for `name`, as `capf serve` does it: the
/// lookup (the claim and the offline CA's ready-certificate read), the
/// pending certificate, the outcome.
fn session(registry: &dyn Registry, name: &str, token: u128) {
    let token = ClaimToken(token.to_be_bytes());
    let claim = match look_up_device(registry, name, token, NOW + 600, NOW, None) {
        Ok(LookUp::Answer {
            claim: Some(claim), ..
        }) => claim,
        other => panic!("lookup of {name}: {other:?}"),
    };
    let id = registry
        .record_pending_certificate(
            &claim,
            &NewCertificate {
                serial_hex: format!("{token:032x}", token = u128::from_be_bytes(token.0)),
                der: b"\x30\x03\x02\x01\x01".to_vec(),
                issued_at: NOW,
                not_after: NOW + 86_400,
            },
            NOW,
        )
        .unwrap();
    let write = OutcomeWrite::Completed(Completion {
        operation: Operation::Install,
        ledger: LedgerChange::MarkInstalled(id),
        consume_auth_string: true,
    });
    registry
        .record_outcome(name, Some(&claim), &write, NOW)
        .unwrap();
}

/// CPU time used so far: the whole process (utime + stime of
/// `/proc/self/stat`, in clock ticks of 10 ms) and the SQLite writer
/// threads (`schedstat`, in ns); `None` where `/proc` cannot tell.
fn cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which ends with the last ')'.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let mut writer_ns = 0_u64;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.starts_with("capf-registry") {
            let schedstat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            writer_ns += schedstat.split(' ').next()?.parse::<u64>().ok()?;
        }
    }
    Some((ticks as f64 / 100.0, writer_ns as f64 / 1e9))
}

/// What a run measured.
struct Measured {
    rate: f64,
    /// Process CPU and writer-thread CPU per enrollment, in µs.
    cpu_per_session: Option<(f64, f64)>,
}

impl std::fmt::Display for Measured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:8.0} enrollments/s", self.rate)?;
        if let Some((process, writer)) = self.cpu_per_session {
            write!(
                f,
                ", CPU {process:.0} µs per enrollment (SQLite writer thread {writer:.0} µs)"
            )?;
        }
        Ok(())
    }
}

/// Runs `sessions` enrollments over `nodes` (round robin), `concurrency`
/// at once.
fn run(nodes: &[Arc<dyn Registry>], sessions: usize, concurrency: usize) -> Measured {
    let devices: Vec<(String, Schedule)> = (0..sessions)
        .map(|index| (format!("SEP{index:012X}"), schedule()))
        .collect();
    nodes[0].put_devices(&devices, NOW).unwrap();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for worker in 0..concurrency {
            let (next, nodes, devices) = (&next, nodes, &devices);
            scope.spawn(move || {
                let node = &nodes[worker % nodes.len()];
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((name, _)) = devices.get(index) else {
                        return;
                    };
                    session(node.as_ref(), name, index as u128 + 1);
                }
            });
        }
    });
    let rate = sessions as f64 / started.elapsed().as_secs_f64();
    let per_session = |seconds: f64| seconds * 1e6 / sessions as f64;
    let cpu_per_session = cpu_before.zip(cpu_seconds()).map(|(before, after)| {
        (
            per_session(after.0 - before.0),
            per_session(after.1 - before.1),
        )
    });
    Measured {
        rate,
        cpu_per_session,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let sessions: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    println!("{sessions} sessions, {concurrency} at once");

    let dir = std::env::temp_dir().join(format!("capf-backend-bench-{stamp}"));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite: Arc<dyn Registry> = Arc::new(SqliteRegistry::open(&dir.join("capf.db")).unwrap());
    let measured = run(&[sqlite], sessions, concurrency);
    println!("SQLite, one node:      {measured}");
    let _ = std::fs::remove_dir_all(&dir);

    let Some(url) = std::env::var("CAPF_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
    else {
        println!("PostgreSQL: SKIPPED (CAPF_TEST_POSTGRES_URL not set)");
        return;
    };
    for nodes in [1, 2] {
        let options = PostgresOptions::new().with_schema(format!("bench{stamp}_{nodes}"));
        let registries: Vec<Arc<dyn Registry>> = (0..nodes)
            .map(|_| {
                Arc::new(PostgresRegistry::open_with(&url, &options).unwrap()) as Arc<dyn Registry>
            })
            .collect();
        let measured = run(&registries, sessions, concurrency);
        println!("PostgreSQL, {nodes} node(s): {measured}");
    }
}
