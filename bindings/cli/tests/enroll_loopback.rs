//! `capf serve` + `capf enroll` end to end over real TLS on loopback, with
//! the built binary: installs (auth string RSA-2048, EC P-256, EC P-384;
//! null string), fetch, delete, wrong authentication string and lock-out,
//! unknown device; a phone dropping mid-install and retrying; SIGTERM/SIGINT
//! while a session runs; handshake, response and key-generation timeouts;
//! IPv6 loopback; and MIC + SUDI authentication.
//!
//! Speed: the registry hashes authentication strings with 600 000 PBKDF2
//! rounds, several seconds per hash in a debug build. The tests add
//! auth-string devices as `--auth null` and then store a low-round hash of
//! the string directly in the registry (same scheme, same columns), so the
//! server verifies with few rounds.

mod support;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use capf_core::key_request::KeyRequest;
use capf_core::phone::{
    PhoneConfig, PhoneCredentials, PhoneDecision, PhoneOutcome, PhoneOutput, PhoneSession,
};
use capf_core::time::Timestamp;
use capf_core::tls::TlsClientTransport;
use capf_core::wire::{Command as CapfCommand, Curve, FrameDecoder, Reason};
use std::io::{Read, Write};

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
    process: support::ServeProcess,
    address: String,
    dir: PathBuf,
    db: PathBuf,
}

impl Server {
    fn start(tag: &str, extra: &[&str]) -> Self {
        Self::start_on("127.0.0.1", tag, extra)
    }

    /// Starts `capf serve` on a free port of `host` (an IPv4 address or a
    /// bracketed IPv6 address).
    fn start_on(host: &str, tag: &str, extra: &[&str]) -> Self {
        let dir = temp_dir(tag);
        let (cert, key) = capf_certificate(&dir);
        let db = dir.join("capf.db");
        let address = format!("{host}:{}", support::free_port(host));
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
        // The server's log, for failure messages.
        let process = support::ServeProcess::start(&args, &address, &dir.join("serve.log"));
        Self {
            process,
            address,
            dir,
            db,
        }
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

    // The log went to a file, not a terminal: plain text, no colour codes.
    let log = server.log();
    assert!(log.contains("INFO"), "{log}");
    assert!(!log.contains("\x1b["), "{log}");
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

// ---------------------------------------------------------------------------
// Phones that misbehave: an in-test phone (capf-core's PhoneSession over
// capf_core::tls on a blocking socket) that can stop at any decision and
// drop the connection, plus raw TCP/TLS clients that say nothing.

/// Longest any single read may block before the test calls it a hang.
const HANG: Duration = Duration::from_secs(30);

fn now() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    Timestamp::from_unix_millis(u64::try_from(millis).unwrap())
}

/// The DER of the first certificate of a PEM file.
fn certificate_in(path: &Path) -> Vec<u8> {
    let pem = std::fs::read_to_string(path).unwrap();
    let end = pem.find("-----END CERTIFICATE-----").unwrap() + 25;
    let (label, der) = der::pem::decode_vec(&pem.as_bytes()[..end]).unwrap();
    assert_eq!(label, "CERTIFICATE");
    der
}

/// The serial number of a DER certificate, as lower-case hex.
fn serial_hex(der: &[u8]) -> String {
    use der::Decode;
    let certificate = x509_cert::Certificate::from_der(der).unwrap();
    hex::encode(certificate.tbs_certificate.serial_number.as_bytes())
}

/// A TLS client pinned to the server's CAPF certificate.
fn tls_client(server: &Server) -> TlsClientTransport {
    let pinned = vec![certificate_in(&server.dir.join("capf.pem"))];
    let config = capf_core::tls::client_config_pinned(&pinned).unwrap();
    TlsClientTransport::new(config, "capf.invalid").unwrap()
}

/// Where a [`TestPhone`] stopped.
#[derive(Debug)]
enum Halt {
    /// The session asks for this decision; it is not answered yet.
    Paused(PhoneDecision),
    /// The session is over.
    Finished(PhoneOutcome),
}

/// A null-string phone that generates EC P-256 keys in memory.
struct TestPhone {
    stream: TcpStream,
    tls: TlsClientTransport,
    session: PhoneSession,
    /// The certificate it stored, if any.
    stored: Option<Vec<u8>>,
}

impl TestPhone {
    fn connect(server: &Server, device: &str) -> Self {
        let config = PhoneConfig::new(device, PhoneCredentials::NullString)
            .unwrap()
            .with_response_timeout(HANG);
        let stream = TcpStream::connect(&server.address).unwrap();
        stream.set_read_timeout(Some(HANG)).unwrap();
        Self {
            stream,
            tls: tls_client(server),
            session: PhoneSession::new(config, now()),
            stored: None,
        }
    }

    fn flush(&mut self) {
        let bytes = self.tls.take_tcp_output();
        if !bytes.is_empty() && self.stream.write_all(&bytes).is_err() {
            self.session.handle_transport_error();
        }
    }

    /// Runs until the session asks for a decision `halt_at` picks, or ends.
    fn run_until(&mut self, halt_at: impl Fn(&PhoneDecision) -> bool) -> Halt {
        let mut buffer = vec![0_u8; 16 * 1024];
        loop {
            while let Some(output) = self.session.poll_output() {
                match output {
                    PhoneOutput::Transmit(frame) => {
                        self.tls.send_plaintext(&frame).unwrap();
                        self.flush();
                    }
                    PhoneOutput::Need(decision) if halt_at(&decision) => {
                        return Halt::Paused(decision);
                    }
                    PhoneOutput::Need(decision) => self.answer(decision),
                    PhoneOutput::Done(outcome) => return Halt::Finished(outcome),
                    other => panic!("unexpected phone output {other:?}"),
                }
            }
            self.flush();
            match self.stream.read(&mut buffer) {
                Ok(0) => {
                    let _ = self.tls.tcp_closed();
                    self.session.handle_peer_closed();
                }
                Ok(n) => match self.tls.receive_tcp(&buffer[..n]) {
                    Ok(plaintext) => {
                        if !plaintext.is_empty() {
                            self.session.handle_input(&plaintext);
                        }
                        if self.tls.peer_closed() {
                            self.session.handle_peer_closed();
                        }
                    }
                    Err(_) => self.session.handle_transport_error(),
                },
                Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {
                    self.session.handle_transport_error();
                }
                Err(error) => panic!("the server neither answered nor closed: {error}"),
            }
        }
    }

    fn answer(&mut self, decision: PhoneDecision) {
        use p256::pkcs8::EncodePublicKey;
        match decision {
            PhoneDecision::GenerateKey(KeyRequest::Ec(Curve::P256)) => {
                let key = p256::SecretKey::random(&mut rand_core::OsRng);
                let spki = key.public_key().to_public_key_der().unwrap();
                self.session.answer_key(spki.as_bytes().to_vec()).unwrap();
            }
            PhoneDecision::StoreCertificate { certificate_der } => {
                self.stored = Some(certificate_der);
                self.session.answer_store().unwrap();
            }
            other => panic!("the test phone does not expect {other:?}"),
        }
    }
}

fn is_key_request(decision: &PhoneDecision) -> bool {
    matches!(decision, PhoneDecision::GenerateKey(_))
}

fn is_store_request(decision: &PhoneDecision) -> bool {
    matches!(decision, PhoneDecision::StoreCertificate { .. })
}

/// The ledger of `device` as (serial, state) pairs, oldest first.
fn ledger(server: &Server, device: &str) -> Vec<(String, String)> {
    let shown = server.show(device);
    shown["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["serial"].as_str().unwrap().to_owned(),
                entry["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

impl Server {
    /// `capf enroll` (null string) that must succeed.
    fn enroll_ok(&self, device: &str, out: &Path) -> Output {
        let output = self.enroll(device, out, &[]);
        assert!(output.status.success(), "{}\n{}", text(&output), self.log());
        output
    }

    fn log(&self) -> String {
        self.process.log()
    }

    fn signal(&self, name: &str) {
        self.process.signal(name);
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        self.process.wait_exit()
    }

    /// Waits until the listening socket is gone.
    fn wait_not_accepting(&self) {
        let started = Instant::now();
        while TcpStream::connect(&self.address).is_ok() {
            assert!(started.elapsed() < HANG, "capf serve still accepts");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SQLite's own consistency check of the registry file.
    fn assert_database_consistent(&self) {
        let connection = rusqlite::Connection::open(&self.db).unwrap();
        let verdict: String = connection
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(verdict, "ok");
        let foreign: i64 = connection
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(foreign, 0);
    }
}

/// Reads until the server closes; true if it did (EOF or reset), false if
/// the read timed out.
fn server_closes(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buffer = [0_u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn phone_dropping_mid_install_retries_and_the_ledger_keeps_everything() {
    let server = Server::start("retry", &[]);
    let device = "SEP0000000000B1";
    let out = server.dir.join("lsc.pem");
    server.add(device, "install", "null", "ec:p256");

    // Dropped after KEY_GEN_REQUEST: nothing issued, still scheduled.
    let mut phone = TestPhone::connect(&server, device);
    let halt = phone.run_until(is_key_request);
    assert!(matches!(halt, Halt::Paused(_)), "{halt:?}");
    drop(phone);
    let shown = server.show(device);
    assert_eq!(shown["operation"], "install", "{shown}");
    assert_eq!(ledger(&server, device), vec![]);

    // Dropped after STORE_CERT_REQUEST, before answering: the certificate
    // the phone received is already in the ledger, as pending.
    let mut phone = TestPhone::connect(&server, device);
    let Halt::Paused(PhoneDecision::StoreCertificate { certificate_der }) =
        phone.run_until(is_store_request)
    else {
        panic!("no STORE_CERT_REQUEST")
    };
    drop(phone);
    let abandoned = serial_hex(&certificate_der);
    assert_eq!(
        ledger(&server, device),
        vec![(abandoned.clone(), "pending".to_owned())]
    );
    assert_eq!(server.show(device)["operation"], "install");

    // The retry (the real `capf enroll`) completes the install.
    let output = server.enroll_ok(device, &out);
    assert!(String::from_utf8_lossy(&output.stdout).contains("LSC installed"));
    let installed = serial_hex(&certificate_in(&out));
    assert_ne!(installed, abandoned);
    assert_eq!(
        ledger(&server, device),
        vec![
            (abandoned, "pending".to_owned()),
            (installed, "installed".to_owned())
        ]
    );
    let shown = server.show(device);
    assert_eq!(shown["operation"], "none", "{shown}");
}

#[test]
fn sigterm_lets_the_running_session_finish_and_stops_accepting() {
    let mut server = Server::start("sigterm", &[]);
    let device = "SEP0000000000C1";
    server.add(device, "install", "null", "ec:p256");

    let mut phone = TestPhone::connect(&server, device);
    let Halt::Paused(decision) = phone.run_until(is_key_request) else {
        panic!("no KEY_GEN_REQUEST")
    };
    server.signal("TERM");
    server.wait_not_accepting();

    // The session that was running goes on to the end.
    phone.answer(decision);
    let halt = phone.run_until(|_| false);
    assert!(
        matches!(halt, Halt::Finished(PhoneOutcome::Installed { .. })),
        "{halt:?}\n{}",
        server.log()
    );
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", server.log());

    server.assert_database_consistent();
    let stored = serial_hex(phone.stored.as_ref().unwrap());
    assert_eq!(
        ledger(&server, device),
        vec![(stored, "installed".to_owned())]
    );
}

#[test]
fn sigint_closes_a_stalled_session_after_the_grace_period() {
    let mut server = Server::start("sigint", &["--grace-seconds", "1"]);
    let device = "SEP0000000000C2";
    server.add(device, "install", "null", "ec:p256");

    let mut phone = TestPhone::connect(&server, device);
    let Halt::Paused(PhoneDecision::StoreCertificate { certificate_der }) =
        phone.run_until(is_store_request)
    else {
        panic!("no STORE_CERT_REQUEST")
    };
    server.signal("INT");
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", server.log());

    // The phone sees the connection go without an END_SESSION.
    let halt = phone.run_until(|_| true);
    assert!(
        matches!(halt, Halt::Finished(PhoneOutcome::CommunicationFailure(_))),
        "{halt:?}"
    );
    // The issued certificate is not lost: still pending, ready for a retry.
    server.assert_database_consistent();
    assert_eq!(
        ledger(&server, device),
        vec![(serial_hex(&certificate_der), "pending".to_owned())]
    );
    assert_eq!(server.show(device)["operation"], "install");
}

#[test]
fn clients_that_stall_the_tls_handshake_are_disconnected() {
    let server = Server::start("handshake", &["--handshake-timeout", "1"]);

    // Connects and says nothing.
    let mut silent = TcpStream::connect(&server.address).unwrap();
    assert!(server_closes(&mut silent), "silent client kept open");

    // Starts a ClientHello and stops half-way.
    let mut tls = tls_client(&server);
    let hello = tls.take_tcp_output();
    let mut stalled = TcpStream::connect(&server.address).unwrap();
    stalled.write_all(&hello[..hello.len() / 2]).unwrap();
    assert!(server_closes(&mut stalled), "stalled handshake kept open");
    assert!(server.log().contains("TLS handshake not completed in time"));
}

#[test]
fn phones_that_stop_answering_get_end_session_and_are_disconnected() {
    let server = Server::start(
        "silent",
        &["--response-timeout", "1", "--key-generation-timeout", "1"],
    );
    let device = "SEP0000000000D1";
    server.add(device, "install", "null", "ec:p256");

    // TLS completes, AUTH_REQUEST arrives, the client never answers:
    // END_SESSION 7 (failure), close_notify, closed.
    let mut tls = tls_client(&server);
    let mut stream = TcpStream::connect(&server.address).unwrap();
    stream.set_read_timeout(Some(HANG)).unwrap();
    let mut decoder = FrameDecoder::new();
    let mut buffer = [0_u8; 4096];
    loop {
        let bytes = tls.take_tcp_output();
        stream.write_all(&bytes).unwrap();
        let n = stream.read(&mut buffer).unwrap();
        if n == 0 {
            break;
        }
        decoder.push(&tls.receive_tcp(&buffer[..n]).unwrap());
    }
    assert!(tls.peer_closed(), "closed without close_notify");
    let mut commands = Vec::new();
    while let Some(frame) = decoder.next_frame().unwrap() {
        commands.push((frame.command, frame.reason()));
    }
    assert_eq!(
        commands,
        vec![
            (CapfCommand::AuthRequest, None),
            (CapfCommand::EndSession, Some(Reason::Failure))
        ]
    );

    // A phone that never delivers its key gets END_SESSION 7 after the
    // key-generation timeout.
    let mut phone = TestPhone::connect(&server, device);
    let halt = phone.run_until(is_key_request);
    assert!(matches!(halt, Halt::Paused(_)), "{halt:?}");
    let halt = phone.run_until(|_| true);
    assert!(
        matches!(
            halt,
            Halt::Finished(PhoneOutcome::Refused {
                reason: Reason::Failure
            })
        ),
        "{halt:?}"
    );
    assert_eq!(server.show(device)["operation"], "install");
}

#[test]
fn enrolls_over_ipv6_loopback() {
    if TcpListener::bind("[::1]:0").is_err() {
        eprintln!("note: no IPv6 loopback on this machine; IPv6 enrollment not tested");
        return;
    }
    let server = Server::start_on("[::1]", "ipv6", &[]);
    let device = "SEP0000000000E1";
    let out = server.dir.join("lsc.pem");
    server.add(device, "install", "null", "ec:p256");
    assert!(server.address.starts_with("[::1]:"));
    server.enroll_ok(device, &out);
    let installed = serial_hex(&certificate_in(&out));
    assert_eq!(
        ledger(&server, device),
        vec![(installed, "installed".to_owned())]
    );
    assert!(server.log().contains("[::1]"), "{}", server.log());
}

/// A CA certificate and its key (EC P-256), for manufacturing CAs.
fn ca(name: &str) -> (rcgen::Certificate, rcgen::Issuer<'static, rcgen::KeyPair>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let certificate = params.self_signed(&key).unwrap();
    (certificate, rcgen::Issuer::new(params, key))
}

/// An RSA-2048 device certificate for `device` issued by `issuer`, as a
/// certificate + PKCS#8 key PEM file.
fn rsa_device_certificate(
    path: &Path,
    device: &str,
    issuer: &rcgen::Issuer<'static, rcgen::KeyPair>,
) {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let rsa_key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
    let pem = rsa_key.to_pkcs8_pem(LineEnding::LF).unwrap();
    let key = rcgen::KeyPair::from_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("CP-8865-{device}"));
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    let certificate = params.signed_by(&key, issuer).unwrap();
    std::fs::write(path, format!("{}{}", certificate.pem(), pem.as_str())).unwrap();
}

#[test]
fn mic_with_sudi_enrolls_over_tls_and_a_sudi_from_another_ca_is_refused() {
    let pki = temp_dir("sudi-pki");
    let device = "SEP0000000000F1";
    let (manufacturing, manufacturing_issuer) = ca("Manufacturing CA");
    let (_, foreign_issuer) = ca("Someone else's CA");
    let manufacturing_pem = pki.join("manufacturing.pem");
    std::fs::write(&manufacturing_pem, manufacturing.pem()).unwrap();
    let mic = pki.join("mic.pem");
    rsa_device_certificate(&mic, device, &manufacturing_issuer);
    let foreign = pki.join("foreign.pem");
    rsa_device_certificate(&foreign, device, &foreign_issuer);

    let server = Server::start("sudi", &["--verify", manufacturing_pem.to_str().unwrap()]);
    let out = server.dir.join("lsc.pem");
    server.add(device, "install", "mic", "ec:p256");
    let mic_arg = mic.to_str().unwrap();

    // The MIC is good, the SUDI chains to no trusted CA: refused.
    let output = server.enroll(
        device,
        &out,
        &["--mic", mic_arg, "--sudi", foreign.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(!out.exists());
    assert_eq!(ledger(&server, device), vec![]);

    // MIC and SUDI (the same RSA certificate, as on a real phone): installed.
    let output = server.enroll(device, &out, &["--mic", mic_arg, "--sudi", mic_arg]);
    assert!(
        output.status.success(),
        "{}\n{}",
        text(&output),
        server.log()
    );
    let installed = serial_hex(&certificate_in(&out));
    assert_eq!(
        ledger(&server, device),
        vec![(installed, "installed".to_owned())]
    );
}

impl Server {
    /// Stops this `capf serve` and starts it again on a new port with the
    /// same CAPF certificate, key and registry, plus `extra` arguments.
    fn restart(&mut self, extra: &[&str]) {
        self.process.signal("TERM");
        self.process.wait_exit();
        self.address = format!("127.0.0.1:{}", support::free_port("127.0.0.1"));
        let mut args = vec![
            "serve".to_owned(),
            "--listen".into(),
            self.address.clone(),
            "--cert".into(),
            self.dir.join("capf.pem").to_str().unwrap().into(),
            "--key".into(),
            self.dir.join("capf.key").to_str().unwrap().into(),
            "--db".into(),
            self.db().into(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        self.process =
            support::ServeProcess::start(&args, &self.address, &self.dir.join("serve2.log"));
    }

    /// Schedules an install authenticated by the phone's current LSC (the
    /// CLI sets the authentication mode only when a device is added).
    fn schedule_lsc_install(&self, device: &str) {
        let connection = rusqlite::Connection::open(&self.db).unwrap();
        connection.busy_timeout(Duration::from_secs(5)).unwrap();
        let changed = connection
            .execute(
                "UPDATE devices SET operation = 'install', auth_mode = 'lsc' WHERE name = ?1",
                [device],
            )
            .unwrap();
        assert_eq!(changed, 1);
    }
}

#[test]
fn lsc_re_enrolment_is_refused_once_the_lsc_is_revoked() {
    let device = "SEP0000000000E1";
    let mut server = Server::start("revoked", &[]);
    let first = server.dir.join("first.pem");
    let second = server.dir.join("second.pem");
    let third = server.dir.join("third.pem");
    server.add(device, "install", "null", "ec:p256");
    server.enroll_ok(device, &first);

    // Re-enrolment with the LSC: a new LSC, two ledger entries.
    server.schedule_lsc_install(device);
    let output = server.enroll(device, &second, &["--lsc", first.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}\n{}",
        text(&output),
        server.log()
    );
    let second_der = certificate_in(&second);
    assert_ne!(second_der, certificate_in(&first));
    let before = ledger(&server, device);
    assert_eq!(before.len(), 2, "{before:?}");
    assert_eq!(before[1].0, serial_hex(&second_der));

    // Bad revocation data: exit 2 before listening.
    let bad = server.dir.join("bad-revoked.txt");
    std::fs::write(&bad, "not a digest\n").unwrap();
    let refused = capf(&[
        "serve",
        "--listen",
        &format!("127.0.0.1:{}", support::free_port("127.0.0.1")),
        "--cert",
        server.dir.join("capf.pem").to_str().unwrap(),
        "--key",
        server.dir.join("capf.key").to_str().unwrap(),
        "--db",
        server.db(),
        "--revoked",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("line 1"));

    // The second LSC's SHA-256 (computed here) in a --revoked file: the
    // same re-enrolment is refused and the ledger records nothing new.
    use sha2::Digest;
    let revoked = server.dir.join("revoked.txt");
    std::fs::write(
        &revoked,
        format!(
            "# revoked LSCs\n{}\n",
            hex::encode(sha2::Sha256::digest(&second_der))
        ),
    )
    .unwrap();
    server.restart(&["--revoked", revoked.to_str().unwrap()]);
    server.schedule_lsc_install(device);
    let output = server.enroll(device, &third, &["--lsc", second.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(!third.exists());
    assert_eq!(ledger(&server, device), before);
    let log = std::fs::read_to_string(server.dir.join("serve2.log")).unwrap();
    assert!(log.to_ascii_lowercase().contains("revoked"), "{log}");

    // Without the revocation data the same LSC is accepted again: the
    // refusal above was the revocation and nothing else.
    server.restart(&[]);
    let output = server.enroll(device, &third, &["--lsc", second.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}\n{}",
        text(&output),
        server.log()
    );
    assert_eq!(ledger(&server, device).len(), 3);
}

/// `capf enroll --ca CTLFile.tlv`: the phone trusts the CAPF server through
/// the CTL's CAPF record, as a phone does; a CTL that does not verify, lists
/// no CAPF certificate or lists another one is refused and nothing is issued.
#[test]
fn enroll_trusts_the_capf_record_of_a_ctl() {
    let server = Server::start("ctl-anchor", &[]);
    server.add("SEP0000000000C1", "install", "null", "ec:p256");
    let sast = support::vectors().join("tlv/keys/sast.pem");
    let other_capf = support::vectors().join("tlv/keys/capf.pem");
    let build = |name: &str, records: &[String]| {
        let path = server.dir.join(name);
        let mut args = vec![
            "trustlist".to_owned(),
            "build".into(),
            "--signer".into(),
            sast.to_str().unwrap().into(),
            "--out".into(),
            path.to_str().unwrap().into(),
            "--record".into(),
            format!("sast={}", sast.display()),
        ];
        for record in records {
            args.extend(["--record".to_owned(), record.clone()]);
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = capf(&argv);
        assert!(output.status.success(), "{}", text(&output));
        path
    };
    let own_capf = format!("capf={}", server.dir.join("capf.pem").display());
    let good = build("CTLFile.tlv", std::slice::from_ref(&own_capf));
    let without_capf = build("no-capf.tlv", &[]);
    let wrong_capf = build(
        "other-capf.tlv",
        &[format!("capf={}", other_capf.display())],
    );
    let mut tampered_bytes = std::fs::read(&good).unwrap();
    let last = tampered_bytes.len() - 1;
    tampered_bytes[last] ^= 0x01;
    let tampered = server.dir.join("tampered.tlv");
    std::fs::write(&tampered, tampered_bytes).unwrap();

    let out = server.dir.join("c1.pem");
    let with_ca = |ctl: &Path| {
        capf(&[
            "enroll",
            "--server",
            &server.address,
            "--ca",
            ctl.to_str().unwrap(),
            "--device",
            "SEP0000000000C1",
            "--out",
            out.to_str().unwrap(),
            "--timeout",
            "20",
        ])
    };
    for (ctl, expected) in [
        (&without_capf, "no certificate with role CAPF"),
        (&tampered, "does not verify"),
    ] {
        let output = with_ca(ctl);
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        assert!(text(&output).contains(expected), "{}", text(&output));
    }
    // A CTL naming another CAPF certificate: the TLS handshake fails, and
    // the phone says why in the evaluator's words.
    let output = with_ca(&wrong_capf);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let said = text(&output);
    assert!(
        said.contains("not trusted")
            && said.contains("is not in the CTL")
            && said.contains("role CAPF"),
        "{said}"
    );
    assert!(!out.exists());
    assert!(ledger(&server, "SEP0000000000C1").is_empty());
    // The cluster's own CTL: installed.
    let output = with_ca(&good);
    assert!(output.status.success(), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("LSC installed"));
    assert_eq!(ledger(&server, "SEP0000000000C1").len(), 1);
}
