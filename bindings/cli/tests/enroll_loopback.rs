//! `capf serve` + `capf enroll` end to end over real TLS on loopback, with
//! the built binary: installs (auth string RSA-2048, EC P-256, EC P-384;
//! null string), fetch, delete, wrong authentication string and lock-out,
//! unknown device; and `capf demo`.
//!
//! Speed: the registry hashes authentication strings with 600 000 PBKDF2
//! rounds, several seconds per hash in a debug build. The tests add
//! auth-string devices as `--auth null` and then store a low-round hash of
//! the string directly in the registry (same scheme, same columns), so the
//! server verifies with few rounds.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const CAPF: &str = env!("CARGO_BIN_EXE_capf");

/// A fresh temporary folder.
fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "capf-enroll-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn capf(args: &[&str]) -> Output {
    Command::new(CAPF).args(args).output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A CAPF certificate (EC P-256, CA:TRUE pathlen 0) and key, as PEM files.
fn capf_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "CAPF-test");
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

/// A running `capf serve`; killed on drop.
struct Server {
    child: Child,
    address: String,
    dir: PathBuf,
    db: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(tag: &str, extra: &[&str]) -> Self {
        let dir = temp_dir(tag);
        let (cert, key) = capf_certificate(&dir);
        let db = dir.join("capf.db");
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let address = format!("127.0.0.1:{port}");
        let mut args = vec![
            "serve".to_owned(),
            "--listen".into(),
            address.clone(),
            "--cert".into(),
            cert.to_str().unwrap().into(),
            "--key".into(),
            key.to_str().unwrap().into(),
            "--db".into(),
            db.to_str().unwrap().into(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let child = Command::new(CAPF)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Self {
            child,
            address,
            dir,
            db,
        };
        let started = Instant::now();
        while TcpStream::connect(&server.address).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "capf serve did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn db(&self) -> &str {
        self.db.to_str().unwrap()
    }

    fn add(&self, device: &str, operation: &str, auth: &str, key: &str) {
        let output = capf(&[
            "device",
            "add",
            "--db",
            self.db(),
            device,
            "--operation",
            operation,
            "--auth",
            auth,
            "--key",
            key,
        ]);
        assert!(output.status.success(), "{}", text(&output));
    }

    /// Adds an auth-string device with a low-round hash of `digits`.
    fn add_with_auth_string(&self, device: &str, operation: &str, key: &str, digits: &str) {
        self.add(device, operation, "null", key);
        let salt = [7_u8; 16];
        let hash = capf_core::server::AuthStringHash::new(digits, &salt, 1000).unwrap();
        let connection = rusqlite::Connection::open(&self.db).unwrap();
        connection.busy_timeout(Duration::from_secs(5)).unwrap();
        let changed = connection
            .execute(
                "UPDATE devices SET auth_mode = 'auth-string', auth_salt = ?2, auth_hash = ?3,
                     auth_iterations = ?4 WHERE name = ?1",
                rusqlite::params![
                    device,
                    hash.salt(),
                    hash.hash().as_slice(),
                    hash.iterations()
                ],
            )
            .unwrap();
        assert_eq!(changed, 1);
    }

    fn schedule(&self, device: &str, operation: &str) {
        let output = capf(&[
            "device",
            "schedule",
            "--db",
            self.db(),
            device,
            "--operation",
            operation,
        ]);
        assert!(output.status.success(), "{}", text(&output));
    }

    fn enroll(&self, device: &str, out: &Path, extra: &[&str]) -> Output {
        let cert = self.dir.join("capf.pem");
        let mut args = vec![
            "enroll",
            "--server",
            &self.address,
            "--ca",
            cert.to_str().unwrap(),
            "--device",
            device,
            "--out",
            out.to_str().unwrap(),
            "--timeout",
            "20",
        ];
        args.extend_from_slice(extra);
        capf(&args)
    }

    fn show(&self, device: &str) -> serde_json::Value {
        let output = capf(&["device", "show", "--db", self.db(), device, "--json"]);
        assert!(output.status.success(), "{}", text(&output));
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

/// The public key algorithm OID and the key size hint of an LSC file.
fn lsc_key(path: &Path) -> (String, usize) {
    use der::{Decode, Encode};
    let pem = std::fs::read_to_string(path).unwrap();
    assert!(pem.contains("-----BEGIN PRIVATE KEY-----"), "{pem}");
    let (label, der) = der::pem::decode_vec(
        &pem.as_bytes()[..pem.find("-----END CERTIFICATE-----").unwrap() + 25],
    )
    .unwrap();
    assert_eq!(label, "CERTIFICATE");
    let certificate = x509_cert::Certificate::from_der(&der).unwrap();
    let spki = &certificate.tbs_certificate.subject_public_key_info;
    (spki.algorithm.oid.to_string(), spki.to_der().unwrap().len())
}

#[test]
fn installs_fetches_and_deletes_over_tls() {
    let server = Server::start("install", &[]);
    let out = |name: &str| server.dir.join(format!("{name}.pem"));

    server.add_with_auth_string("SEP000000000001", "install", "rsa:2048", "123456");
    server.add_with_auth_string("SEP000000000002", "install", "ec:p256", "2468");
    server.add_with_auth_string("SEP000000000003", "install", "ec:p384", "97531");
    server.add("SEP000000000004", "install", "null", "ec:p256");

    let cases = [
        (
            "SEP000000000001",
            Some("123456"),
            "1.2.840.113549.1.1.1",
            294,
        ),
        ("SEP000000000002", Some("2468"), "1.2.840.10045.2.1", 91),
        ("SEP000000000003", Some("97531"), "1.2.840.10045.2.1", 120),
        ("SEP000000000004", None, "1.2.840.10045.2.1", 91),
    ];
    for (device, auth, oid, spki_len) in cases {
        let mut extra = Vec::new();
        if let Some(auth) = auth {
            extra.extend(["--auth-string", auth]);
        }
        let output = server.enroll(device, &out(device), &extra);
        assert!(output.status.success(), "{device}: {}", text(&output));
        assert!(String::from_utf8_lossy(&output.stdout).contains("LSC installed"));
        assert_eq!(
            lsc_key(&out(device)),
            (oid.to_owned(), spki_len),
            "{device}"
        );
        let shown = server.show(device);
        let rendered = shown.to_string();
        assert!(rendered.contains("installed"), "{device}: {rendered}");
    }

    // The one-time string is used up: nothing to do, exit 0.
    let output = server.enroll(
        "SEP000000000001",
        &out("SEP000000000001"),
        &["--auth-string", "123456"],
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("nothing to do"));

    // Fetch: the server records the phone's certificate.
    server.schedule("SEP000000000004", "fetch");
    let output = server.enroll("SEP000000000004", &out("SEP000000000004"), &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("fetched"));
    assert!(
        server
            .show("SEP000000000004")
            .to_string()
            .contains("fetched")
    );

    // Delete: the phone's file goes, the ledger marks it deleted.
    server.schedule("SEP000000000004", "delete");
    let output = server.enroll("SEP000000000004", &out("SEP000000000004"), &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("LSC deleted"));
    assert!(!out("SEP000000000004").exists());
    assert!(
        server
            .show("SEP000000000004")
            .to_string()
            .contains("deleted")
    );
}

#[test]
fn wrong_auth_string_locks_out_and_unknown_device_fails() {
    let server = Server::start("refuse", &["--max-failed-attempts", "2"]);
    let out = server.dir.join("lsc.pem");
    server.add_with_auth_string("SEP0000000000A1", "install", "ec:p256", "123456");

    for _ in 0..2 {
        let output = server.enroll("SEP0000000000A1", &out, &["--auth-string", "654321"]);
        assert_eq!(output.status.code(), Some(1), "{}", text(&output));
        assert!(String::from_utf8_lossy(&output.stderr).contains("refused"));
        assert!(!String::from_utf8_lossy(&output.stderr).contains("654321"));
    }
    let shown = server.show("SEP0000000000A1").to_string();
    assert!(shown.contains("\"locked\":true"), "{shown}");
    // Locked: even the right string is refused now.
    let output = server.enroll("SEP0000000000A1", &out, &["--auth-string", "123456"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(!out.exists());

    let output = server.enroll("SEP0000000000FF", &out, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("does not know"));

    // Bad input: exit 2.
    let output = server.enroll("SEP0000000000A1", &out, &["--auth-string", "12"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
}

#[test]
fn demo_runs_end_to_end() {
    let output = capf(&["demo"]);
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("installed"), "{stdout}");
    assert!(stdout.contains("CTL"), "{stdout}");
}
