//! Load benchmark (not a test, not run by CI): many concurrent phones
//! enrolling against a real `capf serve` process on loopback, over TLS, with
//! the SQLite registry on disk; the server's CPU per enrollment set against
//! the floor of the signatures and key exchange it cannot avoid.
//!
//! ```text
//! bash benches/load.sh                  # release build, then this bench
//! CAPF_BIN=target/release/capf cargo bench -p capf-benches --bench capf_load -- \
//!     --cert-kind rsa2048,p256 --auth null,auth-string --devices 20000 \
//!     --concurrency 16 --seconds 10
//! ```
//!
//! Options (each may also come from the environment variable in brackets):
//! - `--cert-kind rsa2048|p256` (CAPF_LOAD_CERT_KIND): the CAPF certificate,
//!   self-signed, also the LSC issuer; a comma list or `both` runs each.
//!   Default `rsa2048,p256`.
//! - `--auth null|auth-string` (CAPF_LOAD_AUTH): how the phones authenticate;
//!   a comma list or `both` runs each. Default `null`. Auth-string devices
//!   get strings the benchmark generates (seeded), written into the
//!   `capf device import` file with `--auth-string DIGITS` and stored by
//!   `capf` as in production: HMAC-SHA-256 under the registry's auth key
//!   (`<db>.auth-key`, created on first use), one HMAC per check.
//! - `--devices N` (alias `--phones`, CAPF_LOAD_DEVICES): phones registered
//!   for each null-string configuration. Default 20000.
//! - `--auth-string-devices N` (CAPF_LOAD_AUTH_STRING_DEVICES): phones
//!   registered for each auth-string configuration. Default: `--devices`
//!   (the run ends early, and says so, when every device is enrolled).
//! - `--concurrency N` (CAPF_LOAD_CONCURRENCY): phones enrolling at once.
//!   Default 16.
//! - `--seconds N` (CAPF_LOAD_SECONDS): measured duration per configuration.
//!   Default 10.
//! - `--tls rustls|legacy` (CAPF_LOAD_TLS): `rustls` (default) is the
//!   default listener with TLS 1.3 phones (rustls); `legacy` starts `capf
//!   serve --legacy-tls` (the OpenSSL engine) with phones limited to TLS 1.0
//!   and `AES128-SHA` (RSA key exchange, OpenSSL client), as a 7940G
//!   speaks: RSA certificates only. A comma list or `both` runs each.
//! - `--capf PATH` (CAPF_BIN, default `target/release/capf`), `--openssl
//!   PATH` (OPENSSL_BIN, default `openssl`).
//! - `--server rust|python|both` (CAPF_LOAD_SERVER): which server is
//!   loaded: `capf serve`, or the Python example server
//!   `python/examples/capf_server.py` run by `--python PATH`
//!   (CAPF_LOAD_PYTHON, default `target/python-venv/bin/python`, where
//!   `benches/load.sh` installs a release wheel), on the same certificates
//!   and the same kind of registry (a fresh `capf device import` each).
//!   `both` runs each configuration against both servers, one after the
//!   other, and the summary gives the Python/Rust ratios. Default `rust`.
//! - `--registry sqlite|postgres|postgres-2|all` (CAPF_LOAD_REGISTRY): where
//!   the registry lives: an SQLite file (default), a PostgreSQL database
//!   with one `capf serve` node, or with two nodes (`--node-name node0`,
//!   `node1`, each on its own port, the phones spread over both). The
//!   PostgreSQL server is `CAPF_TEST_POSTGRES_URL` (`benches/load.sh`
//!   starts a throw-away one with fsync on when it is not set); each
//!   configuration makes a database of its own there with `psql`. The
//!   PostgreSQL server's own CPU is printed beside the nodes', and the
//!   summary gives the PostgreSQL/SQLite ratios.
//! - `--python-workers N` (CAPF_LOAD_PYTHON_WORKERS): the Python server's
//!   `--workers`, processes sharing its listening socket (one asyncio loop
//!   uses one core; `capf serve` uses every core in one process). Default:
//!   the number of cores. The server's CPU and memory are those of all its
//!   processes.
//!
//! For each configuration: `--devices` phones registered with `capf device
//! import` (install, ec:p256), `capf serve` on 127.0.0.1, one probe TLS
//! handshake to learn what the load negotiates (version, suite, key-exchange
//! group), then `--concurrency` tokio tasks each enroll distinct devices one
//! after another (capf-core's PhoneSession over capf_core::tls, a fresh TCP +
//! TLS connection and its own P-256 key per enrollment, the keys made
//! before the window as a phone makes its own) until `--seconds`
//! have passed or every device is enrolled. Printed: enrollments per second,
//! latency percentiles, errors, the server's resident memory (VmRSS) once a
//! second (and at the end its anonymous and file-backed parts), the
//! server's CPU time per enrollment (utime + stime from
//! /proc/PID/stat over the measured window, divided by the enrollments
//! completed in it), the load generator's own CPU, and the floor: the same
//! signatures, key exchange (and the HMAC of an auth string) timed by `openssl
//! speed` right before and right after each configuration's window, their
//! mean (OpenSSL's rates are per CPU second, like the server's figure), and
//! how far the two timings differ: a shared machine's speed moves within
//! minutes, and a ratio is only as good as the floor of the same minutes.
//! Then one summary table. Speed is measured here, never asserted.
//!
//! The load generator and the server share the machine's cores (and, on a
//! shared machine, other processes do too): `/proc/loadavg` is printed at the
//! start and end, and a line `LOAD GENERATOR IS THE BOTTLENECK` when the
//! generator used more than 70% of one core, or the server was idle (no
//! thread running or waiting for a core, from /proc/PID/task/*/schedstat)
//! more than 30% of the cores' time: waiting for a core counts as busy, so
//! other processes taking the machine do not hide an idle server.

use capf_benches::SpeedRates;
use capf_core::capf::codec::Curve;
use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::phone::{
    AuthString, PhoneConfig, PhoneCredentials, PhoneDecision, PhoneOutcome, PhoneOutput,
    PhoneSession,
};
use capf_core::connection::TlsEngine;
use capf_core::time::Timestamp;
use capf_core::tls::{TlsClientTransport, rustls};
use capf_legacy_tls::{LegacyClientConfig, LegacyVersion};
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The generator may use this much of one core before it is called the
/// bottleneck.
const GENERATOR_CORE_LIMIT: f64 = 0.70;
/// The server may be idle (no thread running or waiting for a core) this
/// share of the cores' time before the generator is called the bottleneck.
const SERVER_IDLE_LIMIT: f64 = 0.30;
/// The floors timed before and after a window may differ by this share of
/// their mean before the machine's speed is said to have changed.
const FLOOR_DRIFT_LIMIT: f64 = 0.10;

/// The CAPF certificate's key (the certificate also issues the LSCs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CertKind {
    Rsa2048,
    P256,
}

impl CertKind {
    fn name(self) -> &'static str {
        match self {
            Self::Rsa2048 => "rsa2048",
            Self::P256 => "p256",
        }
    }
}

/// How the phones authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    Null,
    AuthString,
}

impl Auth {
    fn name(self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::AuthString => "auth-string",
        }
    }
}

/// Which server is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerKind {
    /// `capf serve`.
    Rust,
    /// `python/examples/capf_server.py`.
    Python,
}

impl ServerKind {
    fn name(self) -> &'static str {
        match self {
            Self::Rust => "rust",
            Self::Python => "python",
        }
    }
}

/// Which TLS engine the server runs, and what the phones speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsKind {
    /// The default listener (rustls); TLS 1.3 phones.
    Rustls,
    /// `capf serve --legacy-tls` (OpenSSL); TLS 1.0 `AES128-SHA` phones.
    Legacy,
}

impl TlsKind {
    fn name(self) -> &'static str {
        match self {
            Self::Rustls => "rustls",
            Self::Legacy => "legacy",
        }
    }
}

const TLS_KINDS: [TlsKind; 2] = [TlsKind::Rustls, TlsKind::Legacy];

/// Where the registry lives, and how many `capf serve` nodes share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RegistryKind {
    /// One node on an SQLite file (the default).
    Sqlite,
    /// One node on a PostgreSQL database.
    Postgres,
    /// Two nodes on one PostgreSQL database, the phones spread over both.
    Postgres2,
}

impl RegistryKind {
    fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::Postgres2 => "postgres-2",
        }
    }

    /// `capf serve` processes sharing the registry.
    fn nodes(self) -> usize {
        match self {
            Self::Sqlite | Self::Postgres => 1,
            Self::Postgres2 => 2,
        }
    }
}

const REGISTRY_KINDS: [RegistryKind; 3] = [
    RegistryKind::Sqlite,
    RegistryKind::Postgres,
    RegistryKind::Postgres2,
];

/// The phones' TLS configuration.
#[derive(Debug, Clone)]
enum PhoneTls {
    Rustls(Arc<rustls::ClientConfig>),
    Legacy(LegacyClientConfig),
}

impl PhoneTls {
    fn engine(&self) -> Result<Box<dyn TlsEngine + Send>, String> {
        match self {
            Self::Rustls(config) => TlsClientTransport::new(config.clone(), "127.0.0.1")
                .map(|t| Box::new(t) as Box<dyn TlsEngine + Send>)
                .map_err(|e| format!("TLS: {e}")),
            Self::Legacy(config) => config
                .engine()
                .map(|t| Box::new(t) as Box<dyn TlsEngine + Send>)
                .map_err(|e| format!("TLS: {e}")),
        }
    }
}

/// One configuration of a run: the server's certificate, how phones
/// authenticate, the TLS engine and which server.
#[derive(Debug, Clone, Copy)]
struct Configuration {
    kind: CertKind,
    auth: Auth,
    tls: TlsKind,
    server: ServerKind,
    registry: RegistryKind,
}

/// What to run.
#[derive(Debug, Clone)]
struct Settings {
    tls: Vec<TlsKind>,
    registries: Vec<RegistryKind>,
    /// `CAPF_TEST_POSTGRES_URL`: the PostgreSQL server of `--registry
    /// postgres` (each configuration makes a database of its own there).
    postgres_url: Option<String>,
    capf: PathBuf,
    openssl: PathBuf,
    servers: Vec<ServerKind>,
    python: PathBuf,
    python_server: PathBuf,
    /// `--workers` of the Python server: its processes (one event loop uses
    /// one core; `capf serve` uses every core with one process).
    python_workers: usize,
    cert_kinds: Vec<CertKind>,
    auths: Vec<Auth>,
    devices: usize,
    auth_string_devices: Option<usize>,
    concurrency: usize,
    seconds: u64,
}

fn parse_list<T: Copy>(
    option: &str,
    text: &str,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<Vec<T>, String> {
    if text == "both" || text == "all" {
        return Ok(all.to_vec());
    }
    let mut chosen = Vec::new();
    for part in text
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let found = all
            .iter()
            .copied()
            .find(|item| name(*item) == part)
            .ok_or_else(|| {
                let names: Vec<&str> = all.iter().map(|item| name(*item)).collect();
                format!("{option} {part:?}: expected {} or both", names.join("|"))
            })?;
        chosen.push(found);
    }
    if chosen.is_empty() {
        return Err(format!("{option}: empty list"));
    }
    Ok(chosen)
}

const CERT_KINDS: [CertKind; 2] = [CertKind::Rsa2048, CertKind::P256];
const AUTHS: [Auth; 2] = [Auth::Null, Auth::AuthString];
const SERVERS: [ServerKind; 2] = [ServerKind::Rust, ServerKind::Python];

impl Settings {
    fn from_env_and_args() -> Result<Self, String> {
        let number = |name: &str, default: u64| -> Result<u64, String> {
            match std::env::var(name) {
                Ok(text) => text
                    .parse()
                    .map_err(|_| format!("{name}={text:?}: not a number")),
                Err(_) => Ok(default),
            }
        };
        let count = |value: u64| usize::try_from(value).unwrap_or(usize::MAX);
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut settings = Self {
            tls: parse_list(
                "CAPF_LOAD_TLS",
                &std::env::var("CAPF_LOAD_TLS").unwrap_or_else(|_| "rustls".into()),
                &TLS_KINDS,
                TlsKind::name,
            )?,
            registries: parse_list(
                "CAPF_LOAD_REGISTRY",
                &std::env::var("CAPF_LOAD_REGISTRY").unwrap_or_else(|_| "sqlite".into()),
                &REGISTRY_KINDS,
                RegistryKind::name,
            )?,
            postgres_url: std::env::var("CAPF_TEST_POSTGRES_URL")
                .ok()
                .filter(|url| !url.is_empty()),
            capf: std::env::var_os("CAPF_BIN")
                .map_or_else(|| workspace.join("target/release/capf"), PathBuf::from),
            openssl: std::env::var_os("OPENSSL_BIN")
                .map_or_else(|| PathBuf::from("openssl"), PathBuf::from),
            servers: parse_list(
                "CAPF_LOAD_SERVER",
                &std::env::var("CAPF_LOAD_SERVER").unwrap_or_else(|_| "rust".into()),
                &SERVERS,
                ServerKind::name,
            )?,
            python: std::env::var_os("CAPF_LOAD_PYTHON").map_or_else(
                || workspace.join("target/python-venv/bin/python"),
                PathBuf::from,
            ),
            python_server: workspace.join("python/examples/capf_server.py"),
            python_workers: count(number(
                "CAPF_LOAD_PYTHON_WORKERS",
                std::thread::available_parallelism()
                    .map_or(1, |cores| u64::try_from(cores.get()).unwrap_or(1)),
            )?),
            cert_kinds: parse_list(
                "CAPF_LOAD_CERT_KIND",
                &std::env::var("CAPF_LOAD_CERT_KIND").unwrap_or_else(|_| "both".into()),
                &CERT_KINDS,
                CertKind::name,
            )?,
            auths: parse_list(
                "CAPF_LOAD_AUTH",
                &std::env::var("CAPF_LOAD_AUTH").unwrap_or_else(|_| "null".into()),
                &AUTHS,
                Auth::name,
            )?,
            devices: count(number("CAPF_LOAD_DEVICES", 20_000)?),
            auth_string_devices: match std::env::var("CAPF_LOAD_AUTH_STRING_DEVICES") {
                Ok(_) => Some(count(number("CAPF_LOAD_AUTH_STRING_DEVICES", 0)?)),
                Err(_) => None,
            },
            concurrency: count(number("CAPF_LOAD_CONCURRENCY", 16)?),
            seconds: number("CAPF_LOAD_SECONDS", 10)?,
        };
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut index = 0;
        while index < args.len() {
            let option = args[index].as_str();
            let value = args.get(index + 1).map(String::as_str);
            let text = || value.ok_or_else(|| format!("{option} needs a value"));
            let parse = || -> Result<u64, String> {
                value
                    .and_then(|text| text.parse().ok())
                    .ok_or_else(|| format!("{option} needs a number"))
            };
            match option {
                "--devices" | "--phones" => settings.devices = count(parse()?),
                "--auth-string-devices" => settings.auth_string_devices = Some(count(parse()?)),
                "--concurrency" => settings.concurrency = count(parse()?),
                "--seconds" => settings.seconds = parse()?,
                "--cert-kind" => {
                    settings.cert_kinds = parse_list(option, text()?, &CERT_KINDS, CertKind::name)?
                }
                "--auth" => settings.auths = parse_list(option, text()?, &AUTHS, Auth::name)?,
                "--server" => {
                    settings.servers = parse_list(option, text()?, &SERVERS, ServerKind::name)?
                }
                "--python" => settings.python = PathBuf::from(text()?),
                "--python-workers" => settings.python_workers = count(parse()?),
                "--tls" => settings.tls = parse_list(option, text()?, &TLS_KINDS, TlsKind::name)?,
                "--registry" => {
                    settings.registries =
                        parse_list(option, text()?, &REGISTRY_KINDS, RegistryKind::name)?
                }
                "--capf" => settings.capf = PathBuf::from(text()?),
                "--openssl" => settings.openssl = PathBuf::from(text()?),
                // `cargo bench` adds `--bench`.
                "--bench" => {
                    index += 1;
                    continue;
                }
                other => return Err(format!("unknown option {other:?} (see --help)")),
            }
            index += 2;
        }
        if settings.devices == 0
            || settings.concurrency == 0
            || settings.seconds == 0
            || settings.auth_string_devices == Some(0)
        {
            return Err("devices, concurrency and seconds must be at least 1".into());
        }
        Ok(settings)
    }

    fn devices_for(&self, auth: Auth) -> usize {
        match auth {
            Auth::Null => self.devices,
            Auth::AuthString => self.auth_string_devices.unwrap_or(self.devices),
        }
    }
}

/// The `capf serve` child; killed on drop.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Best effort: the child may already have exited.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn now() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis());
    Timestamp::from_unix_millis(u64::try_from(millis).unwrap_or(u64::MAX))
}

fn device_name(index: usize) -> String {
    format!("SEP{index:012X}")
}

/// Runs `capf` to completion; its output on failure.
fn run_capf(capf: &Path, args: &[&std::ffi::OsStr]) -> Result<String, String> {
    let output = Command::new(capf)
        .args(args)
        .output()
        .map_err(|error| format!("cannot run {}: {error}", capf.display()))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "capf {:?} failed: {}",
            args,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

// ---------------------------------------------------------------------------
// What /proc says

/// The server's resident set size in KiB.
/// The server process and its descendants (the Python server's
/// `--workers` processes), found through /proc's parent pids.
fn process_tree(pid: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // Field 4 (ppid) comes after the command name's last ')'.
            let parent = stat
                .rfind(')')
                .and_then(|end| stat.get(end + 1..))
                .and_then(|rest| rest.split_whitespace().nth(1))
                .and_then(|ppid| ppid.parse::<u32>().ok());
            if let Some(parent) = parent {
                parents.push((child, parent));
            }
        }
    }
    let mut tree = vec![pid];
    let mut index = 0;
    while let Some(&member) = tree.get(index) {
        for &(child, parent) in &parents {
            if parent == member && !tree.contains(&child) {
                tree.push(child);
            }
        }
        index += 1;
    }
    tree
}

/// Resident memory of the server's processes together.
fn rss_kib(pids: &[u32]) -> Option<u64> {
    status_kib(pids, "VmRSS:")
}

/// One `/proc/PID/status` figure (`field` with its colon, in KiB) of the
/// server's processes together.
fn status_kib(pids: &[u32], field: &str) -> Option<u64> {
    let mut total = None;
    for member in pids.iter().flat_map(|&pid| process_tree(pid)) {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{member}/status")) else {
            continue;
        };
        let kib = status
            .lines()
            .find(|line| line.starts_with(field))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|value| value.parse::<u64>().ok());
        if let Some(kib) = kib {
            total = Some(total.unwrap_or(0) + kib);
        }
    }
    total
}

/// (utime, stime) of the server's processes together, in ticks, from one
/// read of each process's /proc/PID/stat. The kernel's part (stime) is
/// system calls (TCP, the registry's writes and fsyncs, waits) and the
/// interrupts' work charged to the server.
fn server_ticks(pids: &[u32]) -> Option<(u64, u64)> {
    pids.iter()
        .flat_map(|&pid| process_tree(pid))
        .map(|member| process_ticks(&member.to_string()))
        .try_fold((0, 0), |(user, system), ticks| {
            ticks.map(|(more_user, more_system)| (user + more_user, system + more_system))
        })
}

/// CPU ticks of every running PostgreSQL server process (command name
/// `postgres`) on the machine: the database's share of the work.
fn database_cpu_ticks() -> Option<u64> {
    let entries = std::fs::read_dir("/proc").ok()?;
    let mut total = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let is_postgres = std::fs::read_to_string(entry.path().join("comm"))
            .is_ok_and(|comm| comm.trim_end() == "postgres");
        if is_postgres {
            total += process_cpu_ticks(pid).unwrap_or(0);
        }
    }
    Some(total)
}

/// Clock ticks per second of /proc's CPU times.
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|ticks| *ticks > 0.0)
        .unwrap_or(100.0)
}

/// utime + stime of a process (all its threads), in ticks; `who` is a pid or
/// `self`.
fn process_cpu_ticks(who: &str) -> Option<u64> {
    process_ticks(who).map(|(user, system)| user + system)
}

/// A process's (utime, stime) in clock ticks.
fn process_ticks(who: &str) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{who}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields resume after
    // the last ')'. Field 3 (state) is index 0, utime (14) index 11, stime 12.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime, stime))
}

/// The whole machine's (busy, total) ticks from /proc/stat.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let values: Vec<u64> = line
        .split_whitespace()
        .take(8)
        .map(|value| value.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest is inside user).
    let total: u64 = values.iter().sum();
    let idle = values.get(3)? + values.get(4)?;
    Some((total - idle, total))
}

/// Per thread of a process: nanoseconds running plus waiting on a run
/// queue (the first two fields of /proc/PID/task/TID/schedstat).
fn thread_demand(pids: &[u32]) -> Option<std::collections::HashMap<String, u64>> {
    let mut threads = std::collections::HashMap::new();
    let tasks = pids
        .iter()
        .flat_map(|&pid| process_tree(pid))
        .filter_map(|member| std::fs::read_dir(format!("/proc/{member}/task")).ok())
        .flatten();
    for entry in tasks {
        let Ok(entry) = entry else { continue };
        let Ok(text) = std::fs::read_to_string(entry.path().join("schedstat")) else {
            continue;
        };
        let mut fields = text
            .split_whitespace()
            .map(|field| field.parse::<u64>().ok());
        if let (Some(Some(running)), Some(Some(waiting))) = (fields.next(), fields.next()) {
            threads.insert(
                entry.file_name().to_string_lossy().into_owned(),
                running + waiting,
            );
        }
    }
    (!threads.is_empty()).then_some(threads)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| text.trim().to_owned())
        .unwrap_or_else(|_| "?".into())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

// ---------------------------------------------------------------------------
// The floor: OpenSSL's rates on this machine

/// Rates from `openssl speed -mr`, per CPU second.
#[derive(Debug, Default, Clone)]
struct Speed {
    version: String,
    rsa2048_sign: Option<f64>,
    ecdsa_p256_sign: Option<f64>,
    ecdh_x25519: Option<f64>,
    ecdh_p256: Option<f64>,
    sha256_bytes: Option<f64>,
}

impl Speed {
    /// Every algorithm a floor can need.
    const ALL: [&'static str; 5] = ["rsa2048", "ecdsap256", "ecdhx25519", "ecdhp256", "sha256"];

    /// Runs `openssl speed` once for the `openssl speed` algorithms named
    /// (one second each).
    fn measure(openssl: &Path, algorithms: &[&str]) -> Result<Self, String> {
        let version = Command::new(openssl)
            .arg("version")
            .output()
            .map_err(|error| format!("cannot run {}: {error}", openssl.display()))?;
        let output = Command::new(openssl)
            .args(["speed", "-mr", "-seconds", "1", "-bytes", "8192"])
            .args(algorithms)
            .stdin(Stdio::null())
            .output()
            .map_err(|error| format!("cannot run {} speed: {error}", openssl.display()))?;
        if !output.status.success() {
            return Err(format!(
                "openssl speed failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let rates = SpeedRates::parse(&String::from_utf8_lossy(&output.stdout));
        Ok(Self {
            version: String::from_utf8_lossy(&version.stdout).trim().to_owned(),
            rsa2048_sign: rates.rsa2048_sign,
            ecdsa_p256_sign: rates.ecdsa_p256_sign,
            ecdh_x25519: rates.ecdh_x25519,
            ecdh_p256: rates.ecdh_p256,
            sha256_bytes: rates.sha256_bytes,
        })
    }

    /// What one configuration's floor needs: the CAPF key's signature, the
    /// key exchange the load negotiated, the auth string's hash, and always
    /// RSA-2048 (the unit of the "extra" column).
    fn algorithms_for(kind: CertKind, auth: Auth, group: &str) -> Vec<&'static str> {
        let mut algorithms = vec!["rsa2048"];
        if kind == CertKind::P256 {
            algorithms.push("ecdsap256");
        }
        match group {
            "secp256r1" => algorithms.push("ecdhp256"),
            "RSA" => {}
            _ => algorithms.push("ecdhx25519"),
        }
        if auth == Auth::AuthString {
            algorithms.push("sha256");
        }
        algorithms
    }

    /// The mean of two measurements, per operation's time (a rate missing
    /// from one keeps the other's).
    fn mean(&self, other: &Self) -> Self {
        let mean = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(2.0 / (1.0 / a + 1.0 / b)),
            (a, b) => a.or(b),
        };
        Self {
            version: self.version.clone(),
            rsa2048_sign: mean(self.rsa2048_sign, other.rsa2048_sign),
            ecdsa_p256_sign: mean(self.ecdsa_p256_sign, other.ecdsa_p256_sign),
            ecdh_x25519: mean(self.ecdh_x25519, other.ecdh_x25519),
            ecdh_p256: mean(self.ecdh_p256, other.ecdh_p256),
            sha256_bytes: mean(self.sha256_bytes, other.sha256_bytes),
        }
    }

    fn print(&self) {
        let micros = |rate: Option<f64>| {
            rate.map_or("not measured".to_owned(), |r| format!("{:.1} µs", 1e6 / r))
        };
        println!(
            "floor rates from `openssl speed` ({}), per CPU second:",
            self.version
        );
        println!(
            "  RSA-2048 sign {}  ECDSA P-256 sign {}  ECDH X25519 {}  ECDH P-256 {}  \
             SHA-256 compression (64 B) {}",
            micros(self.rsa2048_sign),
            micros(self.ecdsa_p256_sign),
            micros(self.ecdh_x25519),
            micros(self.ecdh_p256),
            self.sha256_bytes
                .map_or("not measured".to_owned(), |r| format!("{:.1} ns", 64e9 / r))
        );
    }
}

/// The floor of one enrollment: seconds of CPU, and what it is made of.
#[derive(Debug, Clone)]
struct Floor {
    seconds: f64,
    composition: String,
    /// Parts that could not be timed (the floor understates them).
    missing: Vec<String>,
}

/// 2 signatures (TLS CertificateVerify + the LSC) + ECDHE (key generation +
/// shared secret, each costed as one `openssl speed` ECDH operation) [+ the
/// keyed hash of the auth string: one HMAC-SHA-256 of a short message, 4
/// SHA-256 compressions].
fn floor(speed: &Speed, kind: CertKind, auth: Auth, group: &str) -> Floor {
    let mut seconds = 0.0;
    let mut parts = Vec::new();
    let mut missing = Vec::new();
    let (sign, sign_name) = match kind {
        CertKind::Rsa2048 => (speed.rsa2048_sign, "RSA-2048 sign"),
        CertKind::P256 => (speed.ecdsa_p256_sign, "ECDSA P-256 sign"),
    };
    match sign {
        Some(rate) => {
            seconds += 2.0 / rate;
            parts.push(format!("2 x {sign_name} ({:.1} µs)", 1e6 / rate));
        }
        None => missing.push(format!("2 x {sign_name}")),
    }
    if group == "RSA" {
        // RSA key exchange: the server decrypts the premaster secret (one
        // RSA private operation, costed as a signature, in place of the
        // CertificateVerify signature) and does no ECDHE.
        parts.push("RSA key exchange: the premaster decryption is one of the two".into());
    }
    let (kex, kex_name, untimed) = match group {
        "RSA" => (None, group, None),
        "X25519" => (speed.ecdh_x25519, "X25519", None),
        "secp256r1" => (speed.ecdh_p256, "P-256", None),
        "X25519MLKEM768" => (
            speed.ecdh_x25519,
            "X25519",
            Some("ML-KEM-768 encapsulation (not in this openssl speed)"),
        ),
        _ => (None, group, None),
    };
    match kex {
        Some(rate) => {
            seconds += 2.0 / rate;
            parts.push(format!(
                "ECDHE {kex_name} = keygen + derive, 2 x ECDH op ({:.1} µs)",
                1e6 / rate
            ));
        }
        None if group == "RSA" => {}
        None => missing.push(format!("ECDHE {kex_name}")),
    }
    missing.extend(untimed.map(str::to_owned));
    if auth == Auth::AuthString {
        // HMAC: inner (key block, message block) and outer (key block,
        // inner digest block) compressions.
        let compressions = 4.0;
        match speed.sha256_bytes {
            Some(rate) => {
                seconds += compressions * 64.0 / rate;
                parts.push(format!(
                    "HMAC-SHA-256 of the auth string = 4 SHA-256 compressions ({:.2} µs)",
                    1e6 * compressions * 64.0 / rate
                ));
            }
            None => missing.push("HMAC-SHA-256".into()),
        }
    }
    Floor {
        seconds,
        composition: parts.join(" + "),
        missing,
    }
}

// ---------------------------------------------------------------------------
// The CAPF certificate

/// A self-signed CA certificate (pathlen 0) of the kind asked, and its key
/// (PKCS#8 PEM). RSA keys come from `openssl genpkey` (ring, rcgen's
/// backend here, cannot generate RSA keys).
fn capf_certificate(
    kind: CertKind,
    openssl: &Path,
) -> Result<(rcgen::Certificate, String), String> {
    let key_pem = match kind {
        CertKind::P256 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| e.to_string())?
            .serialize_pem(),
        CertKind::Rsa2048 => {
            let output = Command::new(openssl)
                .args([
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                ])
                .stdin(Stdio::null())
                .output()
                .map_err(|error| {
                    format!("an RSA-2048 CAPF key needs {}: {error}", openssl.display())
                })?;
            if !output.status.success() {
                return Err("openssl genpkey failed".into());
            }
            String::from_utf8(output.stdout).map_err(|e| e.to_string())?
        }
    };
    let key = rcgen::KeyPair::from_pem(&key_pem).map_err(|e| e.to_string())?;
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "CAPF-load");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "capf");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyCertSign,
    ];
    let certificate = params.self_signed(&key).map_err(|e| e.to_string())?;
    Ok((certificate, key_pem))
}

// ---------------------------------------------------------------------------
// The phones

/// One enrollment, start to END_SESSION: Ok when the LSC was installed.
async fn enroll(
    address: std::net::SocketAddr,
    phone_tls: &PhoneTls,
    device: String,
    auth_string: Option<&str>,
    phone_key: &[u8],
) -> Result<(), String> {
    let fail = |what: &str, error: &dyn std::fmt::Display| format!("{what}: {error}");
    let credentials = match auth_string {
        Some(digits) => PhoneCredentials::AuthString(
            AuthString::new(digits).map_err(|e| fail("auth string", &e))?,
        ),
        None => PhoneCredentials::NullString,
    };
    let mut stream = TcpStream::connect(address)
        .await
        .map_err(|e| fail("connect", &e))?;
    stream.set_nodelay(true).map_err(|e| fail("nodelay", &e))?;
    let mut tls = phone_tls.engine()?;
    let config = PhoneConfig::new(device, credentials).map_err(|e| fail("phone config", &e))?;
    let mut session = PhoneSession::new(config, now());
    let mut buffer = vec![0_u8; 16 * 1024];
    loop {
        while let Some(output) = session.poll_output() {
            let answered = match output {
                PhoneOutput::Transmit(frame) => {
                    tls.send_plaintext(&frame).map_err(|e| e.to_string())
                }
                PhoneOutput::Need(PhoneDecision::GenerateKey(KeyRequest::Ec(Curve::P256))) => {
                    session
                        .answer_key(phone_key.to_vec())
                        .map_err(|e| e.to_string())
                }
                PhoneOutput::Need(PhoneDecision::StoreCertificate { .. }) => {
                    session.answer_store().map_err(|e| e.to_string())
                }
                PhoneOutput::Need(other) => Err(format!("unexpected decision {other:?}")),
                PhoneOutput::Done(PhoneOutcome::Installed { .. }) => return Ok(()),
                PhoneOutput::Done(other) => Err(format!("outcome {other:?}")),
                _ => Ok(()),
            };
            answered?;
        }
        let bytes = tls.take_tcp_output();
        if !bytes.is_empty() {
            stream
                .write_all(&bytes)
                .await
                .map_err(|e| fail("write", &e))?;
        }
        let read = tokio::time::timeout(Duration::from_secs(60), stream.read(&mut buffer))
            .await
            .map_err(|_| "no answer within 60 s".to_owned())?
            .map_err(|e| fail("read", &e))?;
        match buffer.get(..read) {
            Some([]) | None => session.handle_peer_closed(),
            Some(bytes) => {
                let plaintext = tls.receive_tcp(bytes).map_err(|e| fail("TLS", &e))?;
                session.handle_input(&plaintext);
            }
        }
    }
}

/// A new EC P-256 phone key's SubjectPublicKeyInfo (aws-lc-rs through
/// rcgen, as a fast phone keystore would be).
fn generate_phone_key() -> Result<Vec<u8>, String> {
    rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map(|key| rcgen::PublicKeyData::subject_public_key_info(&key))
        .map_err(|e| format!("phone key: {e}"))
}

/// One phone key per device, made before the window on every core: a
/// phone generates its key on its own processor (seconds to minutes on
/// real hardware), so the window charges the cores the server and the
/// generator share with the phone's protocol and TLS only.
fn generate_phone_keys(count: usize) -> Result<Vec<Vec<u8>>, String> {
    let threads = cores().max(1);
    let per_thread = count.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..count)
            .step_by(per_thread)
            .map(|start| {
                let end = (start + per_thread).min(count);
                scope.spawn(move || {
                    (start..end)
                        .map(|_| generate_phone_key())
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut keys = Vec::with_capacity(count);
        for worker in workers {
            keys.extend(worker.join().map_err(|_| "a phone key thread panicked")??);
        }
        Ok(keys)
    })
}

/// The phones' TLS: TLS 1.3 with one key-exchange group, X25519, as a
/// phone offers it. The provider's default list starts with
/// X25519MLKEM768 under aws-lc-rs, which costs the server an ML-KEM
/// encapsulation a phone never asks for; the floor prices X25519.
fn phone_tls_config(pinned: &[Vec<u8>]) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut provider = capf_core::crypto_provider::rustls_provider();
    provider
        .kx_groups
        .retain(|group| group.name() == rustls::NamedGroup::X25519);
    if provider.kx_groups.is_empty() {
        return Err("the crypto provider offers no X25519".into());
    }
    let verifier = capf_core::tls::PinnedVerifier::new(pinned).map_err(|e| e.to_string())?;
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    // As capf_core::tls's client configurations: no SNI, no resumption.
    config.enable_sni = false;
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// What the load's TLS handshakes negotiate: one handshake with the same
/// client configuration, before the measured window (the server then sees
/// a connection that says nothing and closes).
fn probe_handshake(
    address: std::net::SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> Result<(String, String, String), String> {
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?;
    let mut connection = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    let mut socket = std::net::TcpStream::connect(address).map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    while connection.is_handshaking() {
        connection
            .complete_io(&mut socket)
            .map_err(|e| format!("probe handshake: {e}"))?;
    }
    let version = connection
        .protocol_version()
        .map_or("?".into(), |v| format!("{v:?}"));
    let suite = connection
        .negotiated_cipher_suite()
        .map_or("?".into(), |s| format!("{:?}", s.suite()));
    let group = connection
        .negotiated_key_exchange_group()
        .map_or("?".into(), |g| format!("{:?}", g.name()));
    Ok((version, suite, group))
}

/// [`probe_handshake`] for the legacy phones (OpenSSL, TLS 1.0,
/// AES128-SHA): the key exchange is RSA (the premaster secret encrypted to
/// the server's key).
fn probe_legacy_handshake(
    address: std::net::SocketAddr,
    config: &LegacyClientConfig,
) -> Result<(String, String, String), String> {
    use std::io::{Read, Write};
    let mut engine = config.engine().map_err(|e| e.to_string())?;
    let mut socket = std::net::TcpStream::connect(address).map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    let mut buffer = vec![0_u8; 16 * 1024];
    while engine.is_handshaking() {
        let bytes = engine.take_tcp_output();
        socket.write_all(&bytes).map_err(|e| e.to_string())?;
        let read = socket.read(&mut buffer).map_err(|e| e.to_string())?;
        if read == 0 {
            return Err("probe handshake: the server closed".into());
        }
        engine
            .receive_tcp(buffer.get(..read).unwrap_or_default())
            .map_err(|e| format!("probe handshake: {e}"))?;
    }
    let version = engine
        .protocol_version()
        .map_or("?".into(), |v| format!("{v:?}"));
    let suite = engine.cipher_name().unwrap_or("?").to_owned();
    Ok((version, suite, "RSA".into()))
}

/// The `q` quantile of sorted latencies.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

// ---------------------------------------------------------------------------
// One configuration

/// The figures of one configuration.
#[derive(Debug)]
struct Outcome {
    label: String,
    /// The configuration without the server's name (pairs Rust and Python).
    configuration: String,
    server: ServerKind,
    registry: RegistryKind,
    /// CPU seconds of the PostgreSQL server's processes over the window.
    database_cpu: Option<f64>,
    enrollments: usize,
    errors: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
    rss_max_kib: Option<u64>,
    server_cpu: f64,
    /// The kernel's part of `server_cpu` (stime).
    server_kernel_cpu: Option<f64>,
    generator_cpu: f64,
    other_cores: Option<f64>,
    floor: Option<Floor>,
    /// How far the floor timed after the window was from the one timed
    /// before it, as a fraction of their mean.
    floor_drift: Option<f64>,
    rsa_sign: Option<f64>,
    bottleneck: bool,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.enrollments as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Server CPU seconds per enrollment.
    fn cpu_per_enrollment(&self) -> Option<f64> {
        (self.enrollments > 0).then(|| self.server_cpu / self.enrollments as f64)
    }

    /// The kernel's part of [`Outcome::cpu_per_enrollment`].
    fn kernel_per_enrollment(&self) -> Option<f64> {
        self.server_kernel_cpu
            .filter(|_| self.enrollments > 0)
            .map(|kernel| kernel / self.enrollments as f64)
    }
}

fn main() -> Result<(), String> {
    if std::env::args().any(|arg| arg == "--help" || arg == "-h") {
        println!(
            "options: --cert-kind rsa2048|p256|both --auth null|auth-string|both --devices N \
             --auth-string-devices N --concurrency N --seconds N --tls rustls|legacy|both \
             --server rust|python|both --registry sqlite|postgres|postgres-2|all --python PATH \
             --python-workers N --capf PATH --openssl PATH \
             (described at the top of benches/load.sh)"
        );
        return Ok(());
    }
    let settings = Settings::from_env_and_args()?;
    if !settings.capf.is_file() {
        return Err(format!(
            "no capf binary at {}: run benches/load.sh, or `cargo build --release -p capf-cli` \
             (or set CAPF_BIN)",
            settings.capf.display()
        ));
    }
    if settings.servers.contains(&ServerKind::Python) && !settings.python.is_file() {
        return Err(format!(
            "no Python at {}: run benches/load.sh --server python (it installs a release wheel \
             into target/python-venv), or set CAPF_LOAD_PYTHON",
            settings.python.display()
        ));
    }
    let load_start = loadavg();
    println!("capf load benchmark: {}", settings.capf.display());
    println!("/proc/loadavg at start: {load_start}");
    println!(
        "{} cores, shared by the load generator (this process) and `capf serve`, and by any \
         other process on the machine: figures are rough on a busy machine",
        cores()
    );
    let speed = match Speed::measure(&settings.openssl, &Speed::ALL) {
        Ok(speed) => {
            speed.print();
            speed
        }
        Err(error) => {
            println!("floor: not measured ({error})");
            Speed::default()
        }
    };
    let mut outcomes = Vec::new();
    for &kind in &settings.cert_kinds {
        for (auth, tls) in settings
            .auths
            .iter()
            .flat_map(|&auth| settings.tls.iter().map(move |&tls| (auth, tls)))
        {
            for (server, registry) in settings.servers.iter().flat_map(|&server| {
                settings
                    .registries
                    .iter()
                    .map(move |&registry| (server, registry))
            }) {
                let mut label = format!("{} {}", kind.name(), auth.name());
                if tls == TlsKind::Legacy {
                    label.push_str(" legacy");
                }
                if settings.servers.len() > 1 || server != ServerKind::Rust {
                    label.push(' ');
                    label.push_str(server.name());
                }
                if settings.registries.len() > 1 || registry != RegistryKind::Sqlite {
                    label.push(' ');
                    label.push_str(registry.name());
                }
                let skipped = if tls == TlsKind::Legacy && kind != CertKind::Rsa2048 {
                    Some("TLS 1.0 AES128-SHA needs an RSA certificate")
                } else if registry != RegistryKind::Sqlite && server != ServerKind::Rust {
                    Some("the PostgreSQL registry is measured with `capf serve`")
                } else if registry != RegistryKind::Sqlite && settings.postgres_url.is_none() {
                    Some(
                        "no PostgreSQL: CAPF_TEST_POSTGRES_URL is not set (benches/load.sh starts one)",
                    )
                } else {
                    None
                };
                if let Some(why) = skipped {
                    println!();
                    println!("=== {label}: skipped ({why}) ===");
                    continue;
                }
                println!();
                println!("=== {label} ===");
                let dir = std::env::temp_dir().join(format!(
                    "capf-load-{}-{}-{}-{}-{}-{}",
                    std::process::id(),
                    kind.name(),
                    auth.name(),
                    tls.name(),
                    server.name(),
                    registry.name()
                ));
                std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
                let configuration = Configuration {
                    kind,
                    auth,
                    tls,
                    server,
                    registry,
                };
                let result = run(&settings, &speed, configuration, label.clone(), &dir);
                // Best effort: a leftover temporary directory is harmless.
                let _ = std::fs::remove_dir_all(&dir);
                match result {
                    Ok(outcome) => outcomes.push(outcome),
                    Err(error) => println!("{label}: FAILED: {error}"),
                }
            }
        }
    }
    summary(&settings, &speed, &outcomes, &load_start);
    Ok(())
}

fn run(
    settings: &Settings,
    speed: &Speed,
    Configuration {
        kind,
        auth,
        tls,
        server: server_kind,
        registry,
    }: Configuration,
    label: String,
    dir: &Path,
) -> Result<Outcome, String> {
    let (certificate, key_pem) = capf_certificate(kind, &settings.openssl)?;
    let (cert_path, key_path) = (dir.join("capf.pem"), dir.join("capf.key"));
    let db: std::ffi::OsString = match registry {
        RegistryKind::Sqlite => dir.join("capf.db").into_os_string(),
        RegistryKind::Postgres | RegistryKind::Postgres2 => {
            let url = settings
                .postgres_url
                .as_deref()
                .ok_or("no CAPF_TEST_POSTGRES_URL")?;
            postgres_database(url, &format!("capf_load_{}", std::process::id()))?.into()
        }
    };
    std::fs::write(&cert_path, certificate.pem()).map_err(|e| e.to_string())?;
    std::fs::write(&key_path, key_pem).map_err(|e| e.to_string())?;

    // Devices, and for auth-string ones the strings (seeded, so a run can
    // be repeated; the file is private to this run's directory).
    let devices = settings.devices_for(auth);
    let strings: Vec<String> = match auth {
        Auth::Null => Vec::new(),
        Auth::AuthString => {
            let mut rng = rand::rngs::StdRng::seed_from_u64(0x0CA9_F10A);
            (0..devices)
                .map(|_| {
                    (0..6)
                        .map(|_| char::from(b'0' + rng.gen_range(0..10_u8)))
                        .collect()
                })
                .collect()
        }
    };
    let registered = Instant::now();
    let mut list = String::new();
    for index in 0..devices {
        list.push_str(&device_name(index));
        list.push_str(" --operation install --key ec:p256");
        match strings.get(index) {
            Some(digits) => {
                list.push_str(" --auth auth-string --auth-string ");
                list.push_str(digits);
                list.push('\n');
            }
            None => list.push_str(" --auth null\n"),
        }
    }
    let list_path = dir.join("devices.txt");
    std::fs::write(&list_path, list).map_err(|e| e.to_string())?;
    run_capf(
        &settings.capf,
        &[
            "device".as_ref(),
            "import".as_ref(),
            "--db".as_ref(),
            db.as_os_str(),
            list_path.as_os_str(),
        ],
    )?;
    let registration = registered.elapsed().as_secs_f64();
    println!(
        "registered {devices} devices ({} auth, install, ec:p256) with `capf device import` in \
         {registration:.2} s{}",
        auth.name(),
        if auth == Auth::AuthString {
            format!(
                " ({:.3} ms per device, one HMAC each)",
                registration * 1e3 / devices as f64
            )
        } else {
            String::new()
        }
    );

    let mut servers = Vec::new();
    let mut addresses = Vec::new();
    for node in 0..registry.nodes() {
        let (server, address) = start_server(
            settings,
            server_kind,
            tls,
            &ServerFiles {
                cert: &cert_path,
                key: &key_path,
                db: &db,
                log: &dir.join(format!("serve-{node}.log")),
            },
            (registry.nodes() > 1).then(|| format!("node{node}")),
        )?;
        servers.push(server);
        addresses.push(address);
    }
    let log_path = dir.join("serve-0.log");
    let pids: Vec<u32> = servers.iter().map(|server| server.0.id()).collect();
    let address = addresses[0];
    let pinned = vec![certificate.der().to_vec()];
    let (tls_config, (version, suite, group)) = match tls {
        TlsKind::Rustls => {
            let config = phone_tls_config(&pinned)?;
            let probed = probe_handshake(address, config.clone())?;
            (PhoneTls::Rustls(config), probed)
        }
        TlsKind::Legacy => {
            let config = LegacyClientConfig::new(
                &pinned,
                LegacyVersion::Tls10,
                LegacyVersion::Tls10,
                "AES128-SHA",
            )
            .map_err(|e| e.to_string())?;
            let probed = probe_legacy_handshake(address, &config)?;
            (PhoneTls::Legacy(config), probed)
        }
    };
    println!("TLS negotiated by the load: {version}, {suite}, key exchange {group}");
    // The floor is timed again right before and right after this
    // configuration's window: on a shared machine the speed of a core moves
    // within minutes, and the ratio compares the server with the floor of
    // the same minutes. The run's first measurement stands in for one that
    // fails.
    let floor_algorithms = Speed::algorithms_for(kind, auth, &group);
    let speed_before =
        Speed::measure(&settings.openssl, &floor_algorithms).unwrap_or_else(|_| speed.clone());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let strings = Arc::new(strings);
    let keys_began = Instant::now();
    let phone_keys = Arc::new(generate_phone_keys(devices)?);
    println!(
        "{devices} EC P-256 phone keys made before the window in {:.1} s (a phone makes its \
         own key: not charged to the shared cores)",
        keys_began.elapsed().as_secs_f64()
    );
    let next = Arc::new(AtomicUsize::new(0));
    let duration = Duration::from_secs(settings.seconds);
    let ticks = clock_ticks();
    let load_before = loadavg();
    let machine_before = machine_ticks();
    let generator_before = process_cpu_ticks("self");
    let server_before = server_ticks(&pids);
    let database_before = database_cpu_ticks();
    let demand_before = thread_demand(&pids);
    let began = Instant::now();
    let (latencies, errors, rss_samples, elapsed) = runtime.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = tokio::spawn({
            let stop = stop.clone();
            let pids = pids.clone();
            async move {
                let mut samples = Vec::new();
                let mut ticks = tokio::time::interval(Duration::from_secs(1));
                while !stop.load(Ordering::Relaxed) {
                    ticks.tick().await;
                    samples.extend(rss_kib(&pids));
                }
                samples
            }
        });
        let mut tasks = tokio::task::JoinSet::new();
        for phone in 0..settings.concurrency {
            // The phones spread over the nodes.
            let address = addresses[phone % addresses.len()];
            let next = next.clone();
            let tls_config = tls_config.clone();
            let strings = strings.clone();
            let phone_keys = phone_keys.clone();
            tasks.spawn(async move {
                let mut latencies = Vec::new();
                let mut errors: Vec<String> = Vec::new();
                while began.elapsed() < duration {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    // One key per registered device.
                    let Some(phone_key) = phone_keys.get(index) else {
                        break;
                    };
                    let start = Instant::now();
                    let digits = strings.get(index).map(String::as_str);
                    match enroll(address, &tls_config, device_name(index), digits, phone_key).await
                    {
                        Ok(()) => latencies.push(start.elapsed()),
                        Err(error) => errors.push(error),
                    }
                }
                (latencies, errors)
            });
        }
        let mut latencies = Vec::new();
        let mut errors = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((mut l, mut e)) => {
                    latencies.append(&mut l);
                    errors.append(&mut e);
                }
                Err(error) => errors.push(format!("phone task: {error}")),
            }
        }
        let elapsed = began.elapsed();
        stop.store(true, Ordering::Relaxed);
        let samples = sampler.await.unwrap_or_default();
        (latencies, errors, samples, elapsed)
    });
    let generator_after = process_cpu_ticks("self");
    let machine_after = machine_ticks();
    let load_after = loadavg();
    // Let the server finish what the last sessions left (the final registry
    // commit) before reading its CPU time; it is idle otherwise.
    std::thread::sleep(Duration::from_millis(250));
    let server_after = server_ticks(&pids);
    let database_after = database_cpu_ticks();
    let demand_after = thread_demand(&pids);
    let rss_end = rss_kib(&pids);
    let rss_end_anonymous = status_kib(&pids, "RssAnon:");
    let rss_end_file = status_kib(&pids, "RssFile:");
    let speed_after =
        Speed::measure(&settings.openssl, &floor_algorithms).unwrap_or_else(|_| speed.clone());
    let timed = |speed: &Speed| {
        (speed.rsa2048_sign.is_some()
            || speed.ecdsa_p256_sign.is_some()
            || speed.ecdh_x25519.is_some())
        .then(|| self::floor(speed, kind, auth, &group))
    };
    let speed_window = speed_before.mean(&speed_after);
    let floor = timed(&speed_window);
    // How much the machine's speed moved over the window, as the floor saw it.
    let floor_drift = timed(&speed_before)
        .zip(timed(&speed_after))
        .map(|(before, after)| (before.seconds, after.seconds))
        .filter(|(before, after)| before + after > 0.0)
        .map(|(before, after)| {
            (
                before,
                after,
                (after - before).abs() / ((before + after) / 2.0),
            )
        });
    let exhausted = next.load(Ordering::Relaxed) >= devices && elapsed < duration;

    let delta = |before: Option<u64>, after: Option<u64>| match (before, after) {
        (Some(b), Some(a)) => Some(a.saturating_sub(b) as f64 / ticks),
        _ => None,
    };
    let total = |ticks: Option<(u64, u64)>| ticks.map(|(user, system)| user + system);
    let kernel = |ticks: Option<(u64, u64)>| ticks.map(|(_, system)| system);
    let server_cpu = delta(total(server_before), total(server_after))
        .ok_or("cannot read the server's CPU time")?;
    let server_kernel_cpu = delta(kernel(server_before), kernel(server_after));
    let database_cpu = delta(database_before, database_after);
    let generator_cpu =
        delta(generator_before, generator_after).ok_or("cannot read this process's CPU time")?;
    let wall = elapsed.as_secs_f64().max(1e-9);
    let (server_cores, generator_cores) = (server_cpu / wall, generator_cpu / wall);
    // Over the window plus the settling pause, like the server's CPU time.
    let server_demand = demand_before.zip(demand_after).map(|(before, after)| {
        let nanos: u64 = after
            .iter()
            .map(|(tid, now)| now.saturating_sub(before.get(tid).copied().unwrap_or(0)))
            .sum();
        nanos as f64 / 1e9 / (wall + 0.25)
    });
    let (machine_busy_cores, other_cores) = match (machine_before, machine_after) {
        (Some((busy0, total0)), Some((busy1, total1))) if total1 > total0 => {
            let busy = (busy1 - busy0) as f64 / (total1 - total0) as f64 * cores() as f64;
            (
                Some(busy),
                Some((busy - server_cores - generator_cores).max(0.0)),
            )
        }
        _ => (None, None),
    };

    let mut sorted = latencies.clone();
    sorted.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let outcome = Outcome {
        label,
        configuration: format!("{} {} {}", kind.name(), auth.name(), tls.name()),
        server: server_kind,
        registry,
        database_cpu: database_cpu.filter(|_| registry != RegistryKind::Sqlite),
        enrollments: latencies.len(),
        errors: errors.len(),
        elapsed,
        p50: quantile(&sorted, 0.50),
        p99: quantile(&sorted, 0.99),
        rss_max_kib: rss_samples.iter().copied().chain(rss_end).max(),
        server_cpu,
        server_kernel_cpu,
        generator_cpu,
        other_cores,
        rsa_sign: speed_window.rsa2048_sign.map(|rate| 1.0 / rate),
        floor,
        floor_drift: floor_drift.map(|(_, _, drift)| drift),
        bottleneck: false,
    };
    println!(
        "{} enrollments in {:.2} s with {} concurrent phones ({devices} devices registered){}",
        outcome.enrollments,
        elapsed.as_secs_f64(),
        settings.concurrency,
        if exhausted {
            " -- every device enrolled before the duration ended: raise --devices"
        } else {
            ""
        }
    );
    println!("throughput: {:.1} enrollments/s", outcome.rate());
    println!(
        "latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        ms(outcome.p50),
        ms(quantile(&sorted, 0.90)),
        ms(outcome.p99),
        ms(sorted.last().copied().unwrap_or_default())
    );
    println!("errors: {}", errors.len());
    if let Some(database) = outcome.database_cpu {
        println!(
            "PostgreSQL server CPU over the window: {database:.2} s ({:.3} ms per enrollment; \
             not in the server's figures below)",
            database * 1e3 / outcome.enrollments.max(1) as f64
        );
    }
    if let Some(first) = errors.first() {
        println!("  first error: {first}");
        println!("  server log ends: {}", log_tail(&log_path));
    }
    let kib = |value: Option<u64>| value.map_or("?".to_owned(), |v| format!("{v} KiB"));
    println!(
        "server RSS: first {}  middle {}  end {}  max {}  after {}",
        kib(rss_samples.first().copied()),
        kib(rss_samples.get(rss_samples.len() / 2).copied()),
        kib(rss_samples.last().copied()),
        kib(outcome.rss_max_kib),
        kib(rss_end)
    );
    println!("server RSS once a second (KiB): {rss_samples:?}");
    println!(
        "server RSS after, by kind: anonymous {} (what the server allocated: heap, \
         stacks, SQLite's cache), file {} (pages of the executable and libraries \
         mapped in: they depend on the build's layout and on the page cache, so RSS \
         moves by a MB or more between builds with the same memory use)",
        kib(rss_end_anonymous),
        kib(rss_end_file)
    );
    println!("/proc/loadavg: window start {load_before}  end {load_after}");
    println!(
        "CPU over the window ({:.2} s, {} cores): server {server_cpu:.2} s ({server_cores:.2} \
         cores), load generator {generator_cpu:.2} s ({generator_cores:.2} cores), machine busy \
         {}, other processes {}",
        wall,
        cores(),
        machine_busy_cores.map_or("?".into(), |c| format!("{c:.2} cores")),
        other_cores.map_or("?".into(), |c| format!("{c:.2} cores")),
    );
    let mut bottleneck = false;
    if generator_cores > GENERATOR_CORE_LIMIT {
        bottleneck = true;
        println!(
            "LOAD GENERATOR IS THE BOTTLENECK: it used {generator_cores:.2} of one core \
             (limit {GENERATOR_CORE_LIMIT:.2}); server {server_cores:.2} cores, generator \
             {:.3} ms CPU per enrollment",
            generator_cpu * 1e3 / outcome.enrollments.max(1) as f64
        );
    }
    if let Some(other) = other_cores.filter(|other| *other > 0.5) {
        println!(
            "MACHINE BUSY: other processes used {other:.2} of the {} cores during the window; \
             the server's CPU per enrollment is still its own, but rates and latencies are low",
            cores()
        );
    }
    match &server_demand {
        Some(demand) => {
            let idle = 1.0 - (demand / cores() as f64).min(1.0);
            println!(
                "server demand (threads running or waiting for a core, /proc/PID/task/*/schedstat): \
                 {demand:.2} cores of {}: idle {:.0}% of the window",
                cores(),
                idle * 100.0
            );
            if idle > SERVER_IDLE_LIMIT {
                bottleneck = true;
                println!(
                    "LOAD GENERATOR IS THE BOTTLENECK: the server was idle (neither running nor \
                     waiting for a core) {:.0}% of the time on {} cores with {} phones; raise \
                     --concurrency, and if that does not help, the server serializes work",
                    idle * 100.0,
                    cores(),
                    settings.concurrency
                );
            }
        }
        None => println!("server demand: unknown (no /proc/PID/task/*/schedstat)"),
    }
    if let Some(per) = outcome.cpu_per_enrollment() {
        println!(
            "server CPU per enrollment: {:.3} ms (errors' CPU included; {} errors){}",
            per * 1e3,
            outcome.errors,
            outcome
                .kernel_per_enrollment()
                .map_or(String::new(), |kernel| format!(
                    "; in the kernel (stime: TCP on loopback, the registry's writes and \
                 fsyncs, waking threads) {:.3} ms, in the process (utime) {:.3} ms",
                    kernel * 1e3,
                    (per - kernel) * 1e3
                ))
        );
        if let Some(floor) = &outcome.floor {
            println!(
                "floor per enrollment: {:.3} ms = {}{}",
                floor.seconds * 1e3,
                floor.composition,
                if floor.missing.is_empty() {
                    String::new()
                } else {
                    format!(" (not timed, so not counted: {})", floor.missing.join(", "))
                }
            );
            if let Some((before, after, drift)) = floor_drift {
                println!(
                    "floor timed right before the window {:.3} ms, right after it {:.3} ms \
                     (the floor above is their mean; they differ by {:.0}%){}",
                    before * 1e3,
                    after * 1e3,
                    drift * 100.0,
                    if drift > FLOOR_DRIFT_LIMIT {
                        ": MACHINE SPEED CHANGED during this configuration, its ratios are rough"
                    } else {
                        ""
                    }
                );
            }
            if floor.seconds > 0.0 {
                let extra = per - floor.seconds;
                println!(
                    "ratio server CPU / floor: {:.2}x{}",
                    per / floor.seconds,
                    if kind == CertKind::Rsa2048 {
                        " (issue 8 goal with RSA-2048: <= 1.2x)"
                    } else {
                        ""
                    }
                );
                match outcome.rsa_sign {
                    Some(rsa) => println!(
                        "non-signature work: {:.3} ms = {:.2} RSA-2048 signatures \
                         (issue 8 goal: <= 0.5)",
                        extra * 1e3,
                        extra / rsa
                    ),
                    None => println!("non-signature work: {:.3} ms", extra * 1e3),
                }
            }
        }
    }

    // The registry agrees: as many devices with nothing left to do.
    let listed = run_capf(
        &settings.capf,
        &[
            "device".as_ref(),
            "list".as_ref(),
            "--db".as_ref(),
            db.as_os_str(),
            "--json".as_ref(),
        ],
    )?;
    let done = listed.matches("\"operation\": \"none\"").count();
    println!("registry: {done} devices installed (operation none)");
    drop(servers);
    Ok(Outcome {
        bottleneck,
        ..outcome
    })
}

/// The files a server is started with.
struct ServerFiles<'a> {
    cert: &'a Path,
    key: &'a Path,
    /// `--db`: an SQLite path or a PostgreSQL URL.
    db: &'a std::ffi::OsStr,
    log: &'a Path,
}

/// Starts one server on a free loopback port and waits until it accepts
/// connections.
fn start_server(
    settings: &Settings,
    server_kind: ServerKind,
    tls: TlsKind,
    files: &ServerFiles<'_>,
    node_name: Option<String>,
) -> Result<(ServerProcess, std::net::SocketAddr), String> {
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|e| e.to_string())?;
    let log = std::fs::File::create(files.log).map_err(|e| e.to_string())?;
    // The same certificate, key and registry for either server.
    let mut command = match server_kind {
        ServerKind::Rust => {
            let mut command = Command::new(&settings.capf);
            command.arg("serve");
            if let Some(name) = &node_name {
                command.args(["--node-name", name]);
            }
            command
        }
        ServerKind::Python => {
            let mut command = Command::new(&settings.python);
            command.arg(&settings.python_server);
            command.args(["--workers", &settings.python_workers.to_string()]);
            command
        }
    };
    let child = command
        .args(["--listen", &address.to_string()])
        .arg("--cert")
        .arg(files.cert)
        .arg("--key")
        .arg(files.key)
        .arg("--db")
        .arg(files.db)
        .args((tls == TlsKind::Legacy).then_some("--legacy-tls"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start the {} server: {e}", server_kind.name()))?;
    let mut server = ServerProcess(child);
    let started = Instant::now();
    while std::net::TcpStream::connect(address).is_err() {
        if let Ok(Some(status)) = server.0.try_wait() {
            return Err(format!(
                "the {} server exited during start-up ({status}): {}",
                server_kind.name(),
                log_tail(files.log)
            ));
        }
        if started.elapsed() > Duration::from_secs(20) {
            return Err(format!(
                "the {} server did not start within 20 s",
                server_kind.name()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((server, address))
}

/// A fresh database named `prefix_N` on the PostgreSQL server of `url`
/// (made with `psql`), and its URL.
fn postgres_database(url: &str, prefix: &str) -> Result<String, String> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!("{prefix}_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let output = Command::new("psql")
        .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(format!("DROP DATABASE IF EXISTS {name}"))
        .arg("-c")
        .arg(format!("CREATE DATABASE {name}"))
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("psql (to make the benchmark's database): {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "psql could not make database {name}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let (server, _database) = url
        .split_once('?')
        .map_or(url, |(base, _)| base)
        .rsplit_once('/')
        .ok_or("CAPF_TEST_POSTGRES_URL has no database part")?;
    let query = url
        .split_once('?')
        .map_or(String::new(), |(_, q)| format!("?{q}"));
    Ok(format!("{server}/{name}{query}"))
}

/// The last lines of the server's log, on one line.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

fn summary(settings: &Settings, speed: &Speed, outcomes: &[Outcome], load_start: &str) {
    println!();
    println!(
        "=== summary: {} s per configuration, {} concurrent phones, {} cores shared by load \
         generator and server ===",
        settings.seconds,
        settings.concurrency,
        cores()
    );
    println!(
        "{:<20} {:>8} {:>7} {:>7} {:>4} {:>7} {:>9} {:>7} {:>9} {:>6} {:>9} {:>9} {:>5} {:>5} {:>5} {:>5}",
        "configuration",
        "enr/s",
        "p50 ms",
        "p99 ms",
        "err",
        "RSS MB",
        "srv ms/e",
        "kern ms",
        "floor ms",
        "ratio",
        "extra ms",
        "extra/RSA",
        "drift",
        "srv c",
        "gen c",
        "oth c"
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for outcome in outcomes {
        let per = outcome.cpu_per_enrollment();
        let floor = outcome
            .floor
            .as_ref()
            .map(|f| f.seconds)
            .filter(|s| *s > 0.0);
        let cell = |value: Option<f64>, digits: usize| {
            value.map_or("?".to_owned(), |v| format!("{v:.digits$}"))
        };
        let extra = per.zip(floor).map(|(p, f)| p - f);
        let wall = outcome.elapsed.as_secs_f64().max(1e-9);
        println!(
            "{:<20} {:>8.1} {:>7.1} {:>7.1} {:>4} {:>7} {:>9} {:>7} {:>9} {:>6} {:>9} {:>9} {:>5} {:>5.2} {:>5.2} {:>5}{}",
            outcome.label,
            outcome.rate(),
            ms(outcome.p50),
            ms(outcome.p99),
            outcome.errors,
            cell(outcome.rss_max_kib.map(|k| k as f64 / 1024.0), 1),
            cell(per.map(|p| p * 1e3), 3),
            cell(outcome.kernel_per_enrollment().map(|k| k * 1e3), 3),
            cell(floor.map(|f| f * 1e3), 3),
            cell(per.zip(floor).map(|(p, f)| p / f), 2),
            cell(extra.map(|e| e * 1e3), 3),
            cell(extra.zip(outcome.rsa_sign).map(|(e, r)| e / r), 2),
            outcome
                .floor_drift
                .map_or("?".to_owned(), |d| format!("{:.0}%", d * 100.0)),
            outcome.server_cpu / wall,
            outcome.generator_cpu / wall,
            cell(outcome.other_cores, 2),
            if outcome.bottleneck {
                "  LOAD GENERATOR IS THE BOTTLENECK"
            } else {
                ""
            }
        );
    }
    println!(
        "srv ms/e: server CPU (utime+stime) per enrollment; kern ms: its kernel part (stime); floor: 2 signatures of the CAPF \
         key + ECDHE (+ one HMAC for auth-string), timed by `openssl speed` right before and \
         right after each configuration's window (their mean){}; ratio = srv/floor \
         (goal <= 1.2 with RSA-2048); extra = srv - floor, and in RSA-2048 signatures \
         (goal <= 0.5); drift: how far the two floor timings differ (above {:.0}% the \
         machine's speed changed and the ratios are rough); srv c / gen c / oth c: cores used \
         by the server, the load generator and other processes",
        speed.rsa2048_sign.map_or(String::new(), |r| format!(
            "; at the run's start one RSA-2048 signature = {:.1} µs",
            1e6 / r
        )),
        FLOOR_DRIFT_LIMIT * 100.0
    );
    // PostgreSQL nodes beside one SQLite node, per configuration.
    for postgres in outcomes
        .iter()
        .filter(|o| o.registry != RegistryKind::Sqlite)
    {
        let Some(sqlite) = outcomes.iter().find(|o| {
            o.registry == RegistryKind::Sqlite
                && o.server == postgres.server
                && o.configuration == postgres.configuration
        }) else {
            continue;
        };
        let per = |o: &Outcome, cpu: f64| cpu * 1e3 / o.enrollments.max(1) as f64;
        println!(
            "{} {}/sqlite: enrollments/s {:.1}/{:.1} = {:.2} (issue 13 goal for one node: >= \
             0.50); p99 {:.1}/{:.1} ms; CPU ms per enrollment: capf serve {:.3}/{:.3}, \
             PostgreSQL server {}",
            postgres.configuration,
            postgres.registry.name(),
            postgres.rate(),
            sqlite.rate(),
            postgres.rate() / sqlite.rate().max(1e-9),
            postgres.p99.as_secs_f64() * 1e3,
            sqlite.p99.as_secs_f64() * 1e3,
            per(postgres, postgres.server_cpu),
            per(sqlite, sqlite.server_cpu),
            postgres
                .database_cpu
                .map_or("?".to_owned(), |cpu| format!("{:.3}", per(postgres, cpu))),
        );
    }
    // Python beside Rust, per configuration run against both.
    for python in outcomes.iter().filter(|o| o.server == ServerKind::Python) {
        let Some(rust) = outcomes
            .iter()
            .find(|o| o.server == ServerKind::Rust && o.configuration == python.configuration)
        else {
            continue;
        };
        let ratio = |a: f64, b: f64| {
            if b > 0.0 {
                format!("{:.2}", a / b)
            } else {
                "?".to_owned()
            }
        };
        let cpu = python
            .cpu_per_enrollment()
            .zip(rust.cpu_per_enrollment())
            .map_or("?".to_owned(), |(p, r)| ratio(p, r));
        println!(
            "python/rust {}: enrollments/s {:.1}/{:.1} = {} (issue 10 aim: >= 0.40); p99 \
             {:.1}/{:.1} ms = {}; server CPU per enrollment {}/{} ms = {}",
            python.configuration,
            python.rate(),
            rust.rate(),
            ratio(python.rate(), rust.rate()),
            python.p99.as_secs_f64() * 1e3,
            rust.p99.as_secs_f64() * 1e3,
            ratio(python.p99.as_secs_f64(), rust.p99.as_secs_f64()),
            python
                .cpu_per_enrollment()
                .map_or("?".to_owned(), |c| format!("{:.3}", c * 1e3)),
            rust.cpu_per_enrollment()
                .map_or("?".to_owned(), |c| format!("{:.3}", c * 1e3)),
            cpu
        );
    }
    println!(
        "/proc/loadavg at start: {load_start}  at end: {}",
        loadavg()
    );
}
