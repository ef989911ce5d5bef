//! Helpers shared by the command-line tests: where the vectors are, a fresh
//! scratch folder per test, and running the built `capf` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The project's copy of the test vectors.
pub fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors")
}

/// A fresh, empty folder for one test of one suite.
pub fn scratch(suite: &str, test: &str) -> PathBuf {
    let folder =
        std::env::temp_dir().join(format!("capf-cli-{suite}-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

/// Runs `capf` with `args` and collects its output.
pub fn capf(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capf"))
        .args(args)
        .output()
        .unwrap()
}

/// Bytes as text, for messages and assertions.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `capf` with text arguments and collects its output.
pub fn run_capf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capf"))
        .args(args)
        .output()
        .unwrap()
}

/// `capf device add`: an install of an EC P-256 LSC for `device` in `db`,
/// the phone authenticating as `auth` says (`["null"]`, `["auth-string",
/// "--auth-string", "135790"]`, ...); asserts it succeeded.
pub fn add_install(db: &Path, device: &str, auth: &[&str]) {
    let mut args = vec![
        "device",
        "add",
        "--db",
        db.to_str().unwrap(),
        device,
        "--operation",
        "install",
        "--key",
        "ec:p256",
        "--auth",
    ];
    args.extend_from_slice(auth);
    let added = run_capf(&args);
    assert!(added.status.success(), "{}", describe(&added));
}

/// A finished command's status, stdout and stderr, for failure messages.
pub fn describe(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A CAPF certificate (EC P-256 from `seed`, CA:TRUE pathlen 0, named
/// `common_name`) and its key, written as `capf.pem` and `capf.key` in
/// `dir`.
pub fn capf_ca_files(dir: &Path, common_name: &str, seed: u64) -> (PathBuf, PathBuf) {
    let key = seeded_p256(seed);
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "capf");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyCertSign,
    ];
    let certificate = params.self_signed(&key).unwrap();
    let cert_path = dir.join("capf.pem");
    let key_path = dir.join("capf.key");
    std::fs::write(&cert_path, certificate.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

/// Longest wait for `capf serve` to start or stop before the test fails.
const SERVE_HANG: std::time::Duration = std::time::Duration::from_secs(30);

/// A running `capf serve` (stderr to a log file); killed on drop.
pub struct ServeProcess {
    child: std::process::Child,
    log: PathBuf,
    capf: Option<String>,
    tvs: Option<String>,
}

impl ServeProcess {
    /// Starts `capf` with `args` (`serve …`, listening on port 0 or any
    /// port), its stderr in `log`, and `--ready-file` beside the log; waits
    /// until the server writes that file and reads the bound addresses
    /// from it. A server that exits before it is ready fails the test at
    /// once with its log. NO_COLOR is removed so that a plain log shows the
    /// terminal check at work.
    pub fn start<S: AsRef<std::ffi::OsStr>>(args: &[S], log: &Path) -> Self {
        Self::start_with_env(args, log, &[])
    }

    /// [`start`](Self::start) with extra environment variables
    /// (`RUST_LOG`, …).
    pub fn start_with_env<S: AsRef<std::ffi::OsStr>>(
        args: &[S],
        log: &Path,
        env: &[(&str, &str)],
    ) -> Self {
        let ready = log.with_extension("ready.json");
        let _ = std::fs::remove_file(&ready);
        let child = Command::new(env!("CARGO_BIN_EXE_capf"))
            .args(args)
            .arg("--ready-file")
            .arg(&ready)
            .envs(env.iter().copied())
            .env_remove("NO_COLOR")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let mut server = Self {
            child,
            log: log.to_owned(),
            capf: None,
            tvs: None,
        };
        let started = std::time::Instant::now();
        let json = loop {
            // The file is renamed into place whole: if it is there, it is
            // complete.
            if let Ok(json) = std::fs::read_to_string(&ready) {
                break json;
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!(
                    "capf serve exited ({status}) before it was ready:\n{}",
                    server.log()
                );
            }
            assert!(
                started.elapsed() < SERVE_HANG,
                "capf serve did not start: {}",
                server.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let addresses: serde_json::Value = serde_json::from_str(&json)
            .unwrap_or_else(|error| panic!("--ready-file is not JSON ({error}): {json:?}"));
        let address = |key: &str| match &addresses[key] {
            serde_json::Value::Null => None,
            serde_json::Value::String(address) => Some(address.clone()),
            other => panic!("--ready-file {key}: {other} is not an address"),
        };
        server.capf = address("capf");
        server.tvs = address("tvs");
        assert!(
            server.capf.is_some() || server.tvs.is_some(),
            "--ready-file names no listener: {json}"
        );
        server
    }

    /// The bound CAPF address (`127.0.0.1:40123`, `[::1]:40123`).
    pub fn capf_address(&self) -> &str {
        self.capf
            .as_deref()
            .expect("this capf serve has no CAPF listener")
    }

    /// The bound TVS address.
    pub fn tvs_address(&self) -> &str {
        self.tvs
            .as_deref()
            .expect("this capf serve has no TVS listener")
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends a signal by name (`TERM`, `INT`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit (a hang fails the test).
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < SERVE_HANG,
                "capf serve did not exit: {}",
                self.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nobody listens on at this moment, for the few tests whose
/// phone must know the server's address before any server exists (a phone
/// that starts first and retries, a server that is never there). Another
/// process could take the port in between; every other test lets `capf
/// serve` bind port 0 and reads its `--ready-file`.
pub fn unused_port(host: &str) -> u16 {
    std::net::TcpListener::bind(format!("{host}:0"))
        .and_then(|listener| listener.local_addr())
        .expect("bind a loopback port")
        .port()
}

/// Whether `[::1]` can be bound here. When it cannot, a test of `what`
/// skips and says so (`SKIPPED: …` in the test output), unless the machine
/// does have an IPv6 loopback (`::1` in /proc/net/if_inet6) or
/// `CAPF_TEST_REQUIRE_IPV6` is set: then failing to bind is a failure.
pub fn ipv6_loopback(what: &str) -> bool {
    let error = match std::net::TcpListener::bind("[::1]:0") {
        Ok(_) => return true,
        Err(error) => error,
    };
    let required = std::env::var_os("CAPF_TEST_REQUIRE_IPV6").is_some_and(|v| !v.is_empty());
    let listed = std::fs::read_to_string("/proc/net/if_inet6").is_ok_and(|table| {
        table
            .lines()
            .any(|line| line.starts_with("00000000000000000000000000000001"))
    });
    assert!(
        !required && !listed,
        "{what}: [::1] cannot be bound ({error}) although IPv6 is {}",
        if required {
            "required (CAPF_TEST_REQUIRE_IPV6)"
        } else {
            "configured (::1 in /proc/net/if_inet6)"
        }
    );
    eprintln!("SKIPPED: {what}: no IPv6 loopback on this machine ([::1]: {error})");
    false
}

/// Whether a socket bound to `[::]` also takes IPv4 connections here
/// (Linux: `net.ipv6.bindv6only` is 0, the default). Prints `SKIPPED: …`
/// for `what` and returns false when not.
pub fn dual_stack(what: &str) -> bool {
    if !ipv6_loopback(what) {
        return false;
    }
    match std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only") {
        Ok(value) if value.trim() == "1" => {
            eprintln!(
                "SKIPPED: {what}: net.ipv6.bindv6only=1 here, so [::] takes IPv6 connections only"
            );
            false
        }
        _ => true,
    }
}

/// A reproducible random generator for test keys: SHA-256 of the seed and
/// a block counter. Not for anything but tests; the same seed gives the
/// same keys on every run, so a failure can be replayed.
pub struct SeededRng {
    seed: u64,
    block: u64,
    buffer: [u8; 32],
    used: usize,
}

impl SeededRng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            block: 0,
            buffer: [0; 32],
            used: 32,
        }
    }
}

impl rand_core::RngCore for SeededRng {
    fn next_u32(&mut self) -> u32 {
        let mut bytes = [0; 4];
        self.fill_bytes(&mut bytes);
        u32::from_le_bytes(bytes)
    }

    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0; 8];
        self.fill_bytes(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        use sha2::Digest;
        for byte in dest {
            if self.used == self.buffer.len() {
                let mut hash = sha2::Sha256::new();
                hash.update(self.seed.to_le_bytes());
                hash.update(self.block.to_le_bytes());
                self.buffer = hash.finalize().into();
                self.block += 1;
                self.used = 0;
            }
            *byte = self.buffer[self.used];
            self.used += 1;
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for SeededRng {}

/// An EC P-256 key pair for rcgen made from `seed` (reproducible).
pub fn seeded_p256(seed: u64) -> rcgen::KeyPair {
    use p256::pkcs8::EncodePrivateKey;
    let key = p256::SecretKey::random(&mut SeededRng::new(seed));
    let pkcs8 = key.to_pkcs8_der().unwrap();
    rcgen::KeyPair::try_from(pkcs8.as_bytes()).unwrap()
}

/// A seed named by `text` (a device name, a CA name), the same on every run.
pub fn seed_of(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |seed, byte| {
        (seed ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
