//! Bad input of every kind to the `capf` subcommands: missing files,
//! directories instead of files, empty files, garbage, numbers out of range,
//! impossible addresses, unreachable servers. Each must end with exit 2, a
//! `capf:` message on stderr, no panic, within a bounded time.

mod support;

use std::ffi::OsString;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{scratch, text, vectors};

/// Longest any bad invocation may take (the unreachable-server cases use
/// `--timeout 2`); beyond it the process is killed and the test fails.
const HANG: Duration = Duration::from_secs(30);

/// The files the table refers to, in one scratch folder.
struct Fixtures {
    folder: PathBuf,
}

impl Fixtures {
    fn new(test: &str) -> Self {
        let folder = scratch("bad_input", test);
        std::fs::create_dir(folder.join("dir")).unwrap();
        std::fs::write(folder.join("empty"), b"").unwrap();
        // Not UTF-8, not DER, not TLV: bytes no parser accepts.
        let garbage: Vec<u8> = (0u8..=255).rev().cycle().take(300).collect();
        std::fs::write(folder.join("garbage"), garbage).unwrap();
        std::fs::write(
            folder.join("garbage.pem"),
            "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        std::fs::copy(vectors().join("tlv/keys/sast.pem"), folder.join("cert.pem")).unwrap();
        std::fs::copy(
            vectors().join("tlv/ctl-sha1.tlv"),
            folder.join("CTLFile.tlv"),
        )
        .unwrap();
        std::fs::write(
            folder.join("bad-import"),
            "SEP001122334455 --operation install --auth bogus\n",
        )
        .unwrap();
        Self { folder }
    }

    /// Arguments: words naming a fixture become its path, the rest stay.
    fn args(&self, line: &str) -> Vec<OsString> {
        line.split(' ').map(|word| self.resolve(word)).collect()
    }

    fn resolve(&self, word: &str) -> OsString {
        // `KIND:FILE` and `FILE:ROLE` forms name a fixture too.
        let fixtures = [
            "dir",
            "empty",
            "garbage",
            "garbage.pem",
            "cert.pem",
            "CTLFile.tlv",
            "bad-import",
            "missing",
            "db",
            "out.pem",
        ];
        if let Some((prefix, rest)) = word.split_once(':') {
            if fixtures.contains(&rest) {
                return format!("{prefix}:{}", self.path(rest).display()).into();
            }
            if fixtures.contains(&prefix) && !rest.is_empty() && !rest.contains('.') {
                return format!("{}:{rest}", self.path(prefix).display()).into();
            }
        }
        if fixtures.contains(&word) {
            return self.path(word).into_os_string();
        }
        word.into()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.folder.join(name)
    }
}

/// What a bad invocation ended with.
struct Ended {
    code: Option<i32>,
    stderr: String,
}

/// Runs `capf` with stdin closed, killing it after [`HANG`].
fn run(args: &[OsString], cwd: &Path) -> Ended {
    let mut child = Command::new(env!("CARGO_BIN_EXE_capf"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr_pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr_pipe.read_to_end(&mut bytes);
        bytes
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("capf {args:?} still running after {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ended {
        code: status.code(),
        stderr: text(&reader.join().unwrap()),
    }
}

/// Runs each line of `table` and checks exit 2, a `capf:` message and no
/// panic; returns every failure at once.
fn check_table(test: &str, table: &[&str]) {
    let fixtures = Fixtures::new(test);
    let mut failures = Vec::new();
    for line in table {
        let ended = run(&fixtures.args(line), &fixtures.folder);
        let ok = ended.code == Some(2)
            && ended.stderr.contains("capf: ")
            && !ended.stderr.contains("panicked")
            && !ended.stderr.contains("RUST_BACKTRACE");
        if !ok {
            failures.push(format!(
                "capf {line}\n  exit {:?}\n  stderr: {}",
                ended.code,
                ended.stderr.trim()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Nothing was created in the place of a missing input.
    assert!(!fixtures.path("missing").exists());
}

#[test]
fn tvs_commands() {
    check_table(
        "tvs",
        &[
            "tvs add --db db --role sast missing",
            "tvs add --db db --role sast dir",
            "tvs add --db db --role sast empty",
            "tvs add --db db --role sast garbage",
            "tvs add --db db --role sast garbage.pem",
            "tvs add --db db --role sast --ttl 99999999999 cert.pem",
            "tvs add --db db --role sast --ttl 0 cert.pem",
            "tvs add --db db --role sast --ttl -1 cert.pem",
            "tvs add --db db --role bogus cert.pem",
            "tvs add --db garbage --role sast cert.pem",
            "tvs add --db dir --role sast cert.pem",
            "tvs list --db garbage",
            "tvs list --db dir",
            // Read-only and removal commands do not create a database.
            "tvs list --db missing",
            "tvs remove --db missing cert.pem",
            "tvs revoke --db missing cert.pem",
            "tvs remove --db db missing",
            "tvs remove --db db empty",
            "tvs revoke --db db garbage",
            "tvs revoke --db db dir",
            "tvs revoke --db garbage cert.pem",
            "tvs verify --server 127.0.0.1:1 --ca cert.pem --timeout 2 cert.pem",
            "tvs verify --server 999.1.1.1:99999 --ca cert.pem --timeout 2 cert.pem",
            "tvs verify --server 127.0.0.1:1 --ca empty --timeout 2 cert.pem",
            "tvs verify --server 127.0.0.1:1 --ca garbage --timeout 2 cert.pem",
            "tvs verify --server 127.0.0.1:1 --ca cert.pem --timeout 2 missing",
            "tvs verify --server 127.0.0.1:1 --ca cert.pem --timeout 99999999999999999999 cert.pem",
            "tvs verify --server 127.0.0.1:1 --ca cert.pem --device bogus cert.pem",
            "tvs frobnicate",
        ],
    );
}

#[test]
fn trust_explain() {
    check_table(
        "trust",
        &[
            "trust explain --purpose bogus --store ctl:CTLFile.tlv cert.pem",
            "trust explain --purpose tls-server:bogus --store ctl:CTLFile.tlv cert.pem",
            "trust explain --purpose tls-client --store ctl:missing cert.pem",
            "trust explain --purpose tls-client --store ctl:garbage cert.pem",
            "trust explain --purpose tls-client --store ctl:empty cert.pem",
            "trust explain --purpose tls-client --store ctl:dir cert.pem",
            "trust explain --purpose tls-client --store pem:empty cert.pem",
            "trust explain --purpose tls-client --store pem:garbage.pem cert.pem",
            "trust explain --purpose tls-client --store nokind:CTLFile.tlv cert.pem",
            "trust explain --purpose tls-client --store CTLFile.tlv cert.pem",
            "trust explain --purpose tls-client --store ctl:CTLFile.tlv missing",
            "trust explain --purpose tls-client --store ctl:CTLFile.tlv dir",
            "trust explain --purpose tls-client --store ctl:CTLFile.tlv empty",
            "trust explain --purpose tls-client --store ctl:CTLFile.tlv garbage",
            "trust explain --purpose tls-client --store ctl:CTLFile.tlv garbage.pem",
            "trust explain --purpose tls-client --store ctl:CTLFile.tlv --at 99999999999999999999 cert.pem",
            "trust explain --purpose tls-client --store ctl:CTLFile.tlv --at 9999-99-99T00:00:00Z cert.pem",
            "trust explain --purpose tls-client --store ctl:CTLFile.tlv --at yesterday cert.pem",
            "trust explain --purpose tls-client --store ctl:CTLFile.tlv --store revoked:garbage cert.pem",
            "trust explain --purpose tls-client --store ctl:CTLFile.tlv --store revoked:missing cert.pem",
            "trust explain --purpose tls-client --store revoked:empty cert.pem",
        ],
    );
}

#[test]
fn trustlist_rollover() {
    check_table(
        "rollover",
        &[
            "trustlist rollover --candidate missing --installed none",
            "trustlist rollover --candidate dir --installed none",
            "trustlist rollover --candidate empty --installed none",
            "trustlist rollover --candidate garbage --installed none",
            "trustlist rollover --candidate CTLFile.tlv --installed ctl:garbage",
            "trustlist rollover --candidate CTLFile.tlv --installed ctl:missing",
            "trustlist rollover --candidate CTLFile.tlv --installed ctl:dir",
            "trustlist rollover --candidate CTLFile.tlv --installed empty",
            "trustlist rollover --candidate CTLFile.tlv --installed bogus:CTLFile.tlv",
            "trustlist rollover --candidate CTLFile.tlv --installed none --tvs-store missing",
            "trustlist rollover --candidate CTLFile.tlv --installed none --tvs-store garbage",
            "trustlist rollover --candidate CTLFile.tlv --installed none --tvs-store dir",
            "trustlist rollover --candidate CTLFile.tlv --installed none --tvs-cert cert.pem:BOGUS",
            "trustlist rollover --candidate CTLFile.tlv --installed none --tvs-cert garbage:sast",
            "trustlist rollover --candidate CTLFile.tlv --installed none --tvs-cert missing:sast",
            "trustlist rollover --candidate CTLFile.tlv --installed none --hash-policy bogus",
            "trustlist rollover --candidate CTLFile.tlv --installed none --candidate-kind bogus",
            "trustlist rollover --candidate CTLFile.tlv",
        ],
    );
}

#[test]
fn device_import() {
    check_table(
        "device",
        &[
            "device import --db db missing",
            "device import --db db dir",
            "device import --db db garbage",
            "device import --db db bad-import",
            "device import --db garbage empty",
            "device import --db dir empty",
        ],
    );
}

/// Startup errors only: every line must fail before serving.
#[test]
fn serve_startup() {
    check_table(
        "serve",
        &[
            "serve --db db --listen 999.1.1.1:99999 --cert cert.pem --key cert.pem",
            "serve --db db --listen 127.0.0.1:0 --cert cert.pem --key cert.pem --validity-days 0",
            "serve --db db --listen 127.0.0.1:0 --cert cert.pem --key cert.pem --validity-days 99999999999",
            "serve --db db --listen 127.0.0.1:0",
            "serve --db db --listen 127.0.0.1:0 --cert missing --key cert.pem",
            "serve --db db --listen 127.0.0.1:0 --cert dir --key cert.pem",
            "serve --db db --listen 127.0.0.1:0 --cert empty --key cert.pem",
            "serve --db db --listen 127.0.0.1:0 --cert garbage --key garbage",
            "serve --db db --listen 127.0.0.1:0 --cert garbage.pem --key cert.pem",
            "serve --db db --listen 127.0.0.1:0 --cert cert.pem --key empty",
            "serve --db garbage --listen 127.0.0.1:0 --cert cert.pem --key cert.pem",
            "serve --db dir --listen 127.0.0.1:0 --cert cert.pem --key cert.pem",
            "serve --db db --listen 127.0.0.1:0 --cert cert.pem --key cert.pem --verify garbage",
            "serve --db db --listen 127.0.0.1:0 --cert cert.pem --key cert.pem --revoked garbage",
            "serve --db db --listen 127.0.0.1:0 --cert cert.pem --key cert.pem --issuer garbage --issuer-key cert.pem",
            "serve --db db --listen 127.0.0.1:0 --cert cert.pem --key cert.pem --tvs-listen 999.1.1.1:1",
            "serve --db db --listen 127.0.0.1:0 --cert cert.pem --key cert.pem --tvs-listen 127.0.0.1:0 --tvs-cert cert.pem --tvs-key empty",
            "serve --db db --listen 127.0.0.1:0 --cert cert.pem --key cert.pem --grace-seconds 99999999999999999999999",
            "serve --db db --listen 127.0.0.1:0 --cert cert.pem --key cert.pem --max-failed-attempts -1",
        ],
    );
}

#[test]
fn enroll() {
    check_table(
        "enroll",
        &[
            "enroll --server 127.0.0.1:1 --ca cert.pem --device SEP001122334455 --out out.pem --timeout 2",
            "enroll --server 999.1.1.1:99999 --ca cert.pem --device SEP001122334455 --out out.pem --timeout 2",
            "enroll --server 127.0.0.1:1 --ca missing --device SEP001122334455 --out out.pem",
            "enroll --server 127.0.0.1:1 --ca garbage --device SEP001122334455 --out out.pem",
            "enroll --server 127.0.0.1:1 --ca empty --device SEP001122334455 --out out.pem",
            "enroll --server 127.0.0.1:1 --ca cert.pem --device SEP001122334455 --out dir --timeout 2",
            "enroll --server 127.0.0.1:1 --ca cert.pem --device SEP001122334455 --out out.pem --lsc garbage",
            "enroll --server 127.0.0.1:1 --ca cert.pem --device SEP001122334455 --out out.pem --mic missing",
            "enroll --server 127.0.0.1:1 --ca cert.pem --device SEP001122334455 --out out.pem --key bogus",
            "enroll --server 127.0.0.1:1 --ca cert.pem --device SEP001122334455 --out out.pem --auth-string abc",
            "enroll --server 127.0.0.1:1 --ca cert.pem --device SEP001122334455 --out out.pem --timeout 99999999999999999999",
            "enroll --server 127.0.0.1:1 --ca cert.pem --device SEP001122334455 --out out.pem --timeout 18446744073709551615",
        ],
    );
}

/// A timeout too long for the clock (u64::MAX seconds) once connected: the
/// handshake deadline used to be `Instant::now() + timeout`, which panics.
/// The server here accepts and hangs up; the client has no answer (exit 2).
#[test]
fn longest_timeout_against_a_server_that_hangs_up() {
    let fixtures = Fixtures::new("longest_timeout");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            drop(stream);
        }
    });
    let line = format!(
        "tvs verify --server {address} --ca cert.pem --timeout 18446744073709551615 cert.pem"
    );
    let ended = run(&fixtures.args(&line), &fixtures.folder);
    assert!(!ended.stderr.contains("panicked"), "{}", ended.stderr);
    assert_eq!(ended.code, Some(2), "{}", ended.stderr);
    assert!(ended.stderr.contains("capf: "), "{}", ended.stderr);
}
