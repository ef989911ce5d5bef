//! Load benchmark (not a test, not run by CI): many concurrent phones
//! enrolling against a real `capf serve` process on loopback, over TLS, with
//! the SQLite registry on disk.
//!
//! ```text
//! benches/load.sh                       # release build, then this bench
//! CAPF_BIN=target/release/capf cargo bench -p capf-benches --bench capf_load -- \
//!     --devices 20000 --concurrency 64 --seconds 10
//! ```
//!
//! Setup: an EC P-256 CAPF certificate (also the LSC issuer) made with
//! rcgen, `--devices` phones registered with `capf device import` (null
//! string, install, ec:p256), `capf serve` on 127.0.0.1. Then `--concurrency`
//! tokio tasks each enroll distinct devices one after another (capf-core's
//! PhoneSession over capf_core::tls, a fresh TCP + TLS connection and a fresh
//! P-256 key from ring per enrollment) until `--seconds` have passed or every
//! device is enrolled. Printed: enrollments per second, latency percentiles, errors,
//! and the server's resident memory (VmRSS) sampled once a second.
//!
//! Options may also come from the environment: CAPF_BIN (default
//! `target/release/capf`), CAPF_LOAD_DEVICES, CAPF_LOAD_CONCURRENCY,
//! CAPF_LOAD_SECONDS. The load generator and the server share the machine's
//! cores; the figures are for both together.

use capf_core::key_request::KeyRequest;
use capf_core::phone::{
    PhoneConfig, PhoneCredentials, PhoneDecision, PhoneOutcome, PhoneOutput, PhoneSession,
};
use capf_core::time::Timestamp;
use capf_core::tls::{TlsClientTransport, rustls};
use capf_core::wire::Curve;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What to run.
#[derive(Debug, Clone)]
struct Settings {
    capf: PathBuf,
    devices: usize,
    concurrency: usize,
    seconds: u64,
}

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
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut settings = Self {
            capf: std::env::var_os("CAPF_BIN")
                .map_or_else(|| workspace.join("target/release/capf"), PathBuf::from),
            devices: usize::try_from(number("CAPF_LOAD_DEVICES", 20_000)?).unwrap_or(20_000),
            concurrency: usize::try_from(number("CAPF_LOAD_CONCURRENCY", 64)?).unwrap_or(64),
            seconds: number("CAPF_LOAD_SECONDS", 10)?,
        };
        // `cargo bench` adds `--bench`; anything unknown is ignored.
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut index = 0;
        while index < args.len() {
            let value = args.get(index + 1);
            let parse = |value: Option<&String>| -> Result<u64, String> {
                value
                    .and_then(|text| text.parse().ok())
                    .ok_or_else(|| format!("{} needs a number", args[index]))
            };
            match args[index].as_str() {
                "--devices" => settings.devices = usize::try_from(parse(value)?).unwrap_or(0),
                "--concurrency" => {
                    settings.concurrency = usize::try_from(parse(value)?).unwrap_or(0)
                }
                "--seconds" => settings.seconds = parse(value)?,
                "--capf" => {
                    settings.capf = value.map(PathBuf::from).ok_or("--capf needs a path")?;
                }
                _ => {
                    index += 1;
                    continue;
                }
            }
            index += 2;
        }
        if settings.devices == 0 || settings.concurrency == 0 || settings.seconds == 0 {
            return Err("devices, concurrency and seconds must be at least 1".into());
        }
        Ok(settings)
    }
}

/// The `capf serve` child; killed on drop.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
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

/// The server's resident set size in KiB, from /proc.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One enrollment, start to END_SESSION: Ok when the LSC was installed.
async fn enroll(
    address: std::net::SocketAddr,
    tls_config: Arc<rustls::ClientConfig>,
    device: String,
) -> Result<(), String> {
    let fail = |what: &str, error: &dyn std::fmt::Display| format!("{what}: {error}");
    let mut stream = TcpStream::connect(address)
        .await
        .map_err(|e| fail("connect", &e))?;
    stream.set_nodelay(true).map_err(|e| fail("nodelay", &e))?;
    let mut tls = TlsClientTransport::new(tls_config, "127.0.0.1").map_err(|e| fail("TLS", &e))?;
    let config = PhoneConfig::new(device, PhoneCredentials::NullString)
        .map_err(|e| fail("phone config", &e))?;
    let mut session = PhoneSession::new(config, now());
    let mut buffer = vec![0_u8; 16 * 1024];
    loop {
        while let Some(output) = session.poll_output() {
            let answered = match output {
                PhoneOutput::Transmit(frame) => {
                    tls.send_plaintext(&frame).map_err(|e| e.to_string())
                }
                PhoneOutput::Need(PhoneDecision::GenerateKey(KeyRequest::Ec(Curve::P256))) => {
                    // ring through rcgen, as a fast phone keystore would be.
                    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                        .map_err(|e| e.to_string())?;
                    session
                        .answer_key(rcgen::PublicKeyData::subject_public_key_info(&key))
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
        let read = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buffer))
            .await
            .map_err(|_| "no answer within 30 s".to_owned())?
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

/// The `q` quantile of sorted latencies.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn main() -> Result<(), String> {
    let settings = Settings::from_env_and_args()?;
    if !settings.capf.is_file() {
        return Err(format!(
            "no capf binary at {}: run benches/load.sh, or `cargo build --release -p capf-cli` \
             (or set CAPF_BIN)",
            settings.capf.display()
        ));
    }
    let dir = std::env::temp_dir().join(format!("capf-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let result = run(&settings, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run(settings: &Settings, dir: &Path) -> Result<(), String> {
    // The CAPF certificate: EC P-256, CA:TRUE pathlen 0, also the LSC issuer.
    let key =
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?;
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
    let (cert_path, key_path, db) = (
        dir.join("capf.pem"),
        dir.join("capf.key"),
        dir.join("capf.db"),
    );
    std::fs::write(&cert_path, certificate.pem()).map_err(|e| e.to_string())?;
    std::fs::write(&key_path, key.serialize_pem()).map_err(|e| e.to_string())?;

    let registered = Instant::now();
    let list: String = (0..settings.devices)
        .map(|index| {
            format!(
                "{} --operation install --auth null --key ec:p256\n",
                device_name(index)
            )
        })
        .collect();
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
    println!(
        "registered {} devices with `capf device import` in {:.2} s",
        settings.devices,
        registered.elapsed().as_secs_f64()
    );

    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|e| e.to_string())?;
    let log = std::fs::File::create(dir.join("serve.log")).map_err(|e| e.to_string())?;
    let child = Command::new(&settings.capf)
        .args(["serve", "--listen", &address.to_string()])
        .arg("--cert")
        .arg(&cert_path)
        .arg("--key")
        .arg(&key_path)
        .arg("--db")
        .arg(&db)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start capf serve: {e}"))?;
    let server = ServerProcess(child);
    let pid = server.0.id();
    let started = Instant::now();
    while std::net::TcpStream::connect(address).is_err() {
        if started.elapsed() > Duration::from_secs(20) {
            return Err("capf serve did not start".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    let pinned = vec![certificate.der().to_vec()];
    let tls_config = capf_core::tls::client_config_pinned(&pinned).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let next = Arc::new(AtomicUsize::new(0));
    let duration = Duration::from_secs(settings.seconds);
    let began = Instant::now();
    let (latencies, errors, rss_samples, elapsed) = runtime.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = tokio::spawn({
            let stop = stop.clone();
            async move {
                let mut samples = Vec::new();
                let mut ticks = tokio::time::interval(Duration::from_secs(1));
                while !stop.load(Ordering::Relaxed) {
                    ticks.tick().await;
                    samples.extend(rss_kib(pid));
                }
                samples
            }
        });
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..settings.concurrency {
            let next = next.clone();
            let tls_config = tls_config.clone();
            let devices = settings.devices;
            tasks.spawn(async move {
                let mut latencies = Vec::new();
                let mut errors: Vec<String> = Vec::new();
                while began.elapsed() < duration {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= devices {
                        break;
                    }
                    let start = Instant::now();
                    match enroll(address, tls_config.clone(), device_name(index)).await {
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
            if let Ok((mut l, mut e)) = joined {
                latencies.append(&mut l);
                errors.append(&mut e);
            }
        }
        let elapsed = began.elapsed();
        stop.store(true, Ordering::Relaxed);
        let samples = sampler.await.unwrap_or_default();
        (latencies, errors, samples, elapsed)
    });
    let rss_end = rss_kib(pid);
    report(settings, &latencies, &errors, elapsed);
    let kib = |value: Option<u64>| value.map_or("?".to_owned(), |v| format!("{v} KiB"));
    println!(
        "server RSS: before {}  middle {}  end {}  max {}  after {}",
        kib(rss_samples.first().copied()),
        kib(rss_samples.get(rss_samples.len() / 2).copied()),
        kib(rss_samples.last().copied()),
        kib(rss_samples.iter().max().copied()),
        kib(rss_end)
    );
    println!("server RSS once a second (KiB): {rss_samples:?}");

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
    Ok(())
}

fn report(settings: &Settings, latencies: &[Duration], errors: &[String], elapsed: Duration) {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{} enrollments in {:.2} s with {} concurrent phones ({} devices registered, {} cores shared by load generator and server)",
        latencies.len(),
        elapsed.as_secs_f64(),
        settings.concurrency,
        settings.devices,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "throughput: {:.0} enrollments/s",
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        ms(quantile(&sorted, 0.50)),
        ms(quantile(&sorted, 0.90)),
        ms(quantile(&sorted, 0.99)),
        ms(sorted.last().copied().unwrap_or_default())
    );
    println!("errors: {}", errors.len());
    if let Some(first) = errors.first() {
        println!("  first error: {first}");
    }
}
