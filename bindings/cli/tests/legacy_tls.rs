//! `capf serve --legacy-tls` (issue 14) end to end with the built binary on
//! loopback: a phone limited to TLS 1.0 and `AES128-SHA` (capf-core's
//! PhoneSession over `TlsConnection` with the OpenSSL client engine of
//! capf-legacy-tls, on a blocking socket) installs with the null string and
//! with an authentication string, has its LSC fetched and deleted, and
//! asks TVS about a certificate; the same phone is refused at the handshake
//! by a server without `--legacy-tls`, which logs why; a TLS 1.2 client
//! with a modern suite (and `capf enroll`, rustls) still enrolls against a
//! legacy-enabled server; the warning at start is there.
//!
//! The server certificate is RSA-2048 (a fixture of capf-legacy-tls): the
//! RSA key-exchange suites need an RSA certificate, as Unified CM's CAPF
//! certificates are.

mod support;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use capf_core::capf::codec::Curve;
use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::phone::{
    AuthString, PhoneConfig, PhoneCredentials, PhoneDecision, PhoneOutcome, PhoneSession,
};
use capf_core::connection::{ConnectionOptions, ConnectionOutput, TlsConnection, TlsEngine};
use capf_core::session::Session;
use capf_core::time::Timestamp;
use capf_core::tls::rustls::ProtocolVersion;
use capf_core::tvs::{TvsClientConfig, TvsClientResult, TvsClientSession};
use capf_legacy_tls::{LegacyClientConfig, LegacyVersion, OpensslEngine};
use std::io::{Read, Write};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../legacy-tls/tests/fixtures");
/// Longest any single read may block before the test calls it a hang.
const HANG: Duration = Duration::from_secs(30);

fn cert_path() -> PathBuf {
    PathBuf::from(FIXTURES).join("capf-rsa2048.cert.pem")
}

fn key_path() -> PathBuf {
    PathBuf::from(FIXTURES).join("capf-rsa2048.key.pem")
}

/// The DER of the first certificate of a PEM file.
fn certificate_in(path: &Path) -> Vec<u8> {
    let pem = std::fs::read_to_string(path).unwrap();
    let end = pem.find("-----END CERTIFICATE-----").unwrap() + 25;
    let (label, der) = der::pem::decode_vec(&pem.as_bytes()[..end]).unwrap();
    assert_eq!(label, "CERTIFICATE");
    der
}

fn now() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    Timestamp::from_unix_millis(u64::try_from(millis).unwrap())
}

/// A running `capf serve` with CAPF and TVS listeners; killed on drop.
struct Server {
    process: support::ServeProcess,
    dir: PathBuf,
    db: PathBuf,
}

impl Server {
    fn start(test: &str, legacy: bool) -> Self {
        Self::start_with(test, legacy, &[])
    }

    fn start_with(test: &str, legacy: bool, extra: &[&str]) -> Self {
        let dir = support::scratch("legacy_tls", test);
        let db = dir.join("capf.db");
        let mut args = vec![
            "serve".to_owned(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--tvs-listen".into(),
            "127.0.0.1:0".into(),
            "--cert".into(),
            cert_path().to_str().unwrap().into(),
            "--key".into(),
            key_path().to_str().unwrap().into(),
            "--db".into(),
            db.to_str().unwrap().into(),
        ];
        if legacy {
            args.push("--legacy-tls".into());
        }
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        let process = support::ServeProcess::start(&args, &dir.join("serve.log"));
        Self { process, dir, db }
    }

    fn db(&self) -> &str {
        self.db.to_str().unwrap()
    }

    fn log(&self) -> String {
        self.process.log()
    }

    fn device(&self, args: &[&str]) {
        let mut all = vec!["device", args[0], "--db", self.db()];
        all.extend_from_slice(&args[1..]);
        let output = support::run_capf(&all);
        assert!(output.status.success(), "{}", support::describe(&output));
    }

    fn show(&self, device: &str) -> String {
        let output = support::run_capf(&["device", "show", "--db", self.db(), device, "--json"]);
        assert!(output.status.success(), "{}", support::describe(&output));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

/// A phone of the 7940G kind: TLS 1.0 and AES128-SHA, nothing else,
/// trusting the CAPF certificate.
fn tls10_aes128_sha() -> LegacyClientConfig {
    LegacyClientConfig::new(
        &[certificate_in(&cert_path())],
        LegacyVersion::Tls10,
        LegacyVersion::Tls10,
        "AES128-SHA",
    )
    .unwrap()
}

/// A modern TLS 1.2 client: ECDHE with AES-GCM only.
fn tls12_modern() -> LegacyClientConfig {
    LegacyClientConfig::new(
        &[certificate_in(&cert_path())],
        LegacyVersion::Tls12,
        LegacyVersion::Tls12,
        "ECDHE-RSA-AES128-GCM-SHA256",
    )
    .unwrap()
}

/// What one run over a connection saw.
struct Run<O> {
    outcome: Option<O>,
    tls_failures: Vec<String>,
    version: Option<ProtocolVersion>,
    /// Every chunk of TCP bytes the server sent.
    received: Vec<Vec<u8>>,
}

/// Drives `connection` over a blocking socket to `address` until it is
/// over; `answer` answers the session's decisions.
fn run<S: Session, E: TlsEngine>(
    address: &str,
    mut connection: TlsConnection<S, E>,
    mut answer: impl FnMut(&mut S, S::Decision),
) -> Run<S::Outcome> {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(HANG)).unwrap();
    let mut seen = Run {
        outcome: None,
        tls_failures: Vec::new(),
        version: None,
        received: Vec::new(),
    };
    let mut buffer = vec![0_u8; 16 * 1024];
    loop {
        while let Some(output) = connection.poll_output() {
            match output {
                ConnectionOutput::Transmit(bytes) => {
                    if stream.write_all(&bytes).is_err() {
                        connection.handle_transport_error();
                    }
                }
                ConnectionOutput::Need(decision) => answer(connection.session_mut(), decision),
                ConnectionOutput::TlsFailed(error) => seen.tls_failures.push(error.to_string()),
                ConnectionOutput::Done(outcome) => {
                    seen.outcome = Some(outcome);
                    return seen;
                }
                ConnectionOutput::Abandoned(_) => return seen,
                _ => panic!("an output this test does not know"),
            }
            if seen.version.is_none() {
                seen.version = connection.protocol_version();
            }
        }
        match stream.read(&mut buffer) {
            Ok(0) => connection.handle_tcp_closed(),
            Ok(n) => {
                seen.received.push(buffer[..n].to_vec());
                connection.handle_tcp_input(&buffer[..n]);
            }
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {
                connection.handle_tcp_closed();
            }
            Err(error) => panic!("the server neither answered nor closed: {error}"),
        }
    }
}

/// One phone session over `engine`; answers key generation (EC P-256,
/// seeded), store, fetch (with `held`) and delete.
fn phone(
    server: &Server,
    engine: OpensslEngine,
    device: &str,
    credentials: PhoneCredentials,
    held: Option<Vec<u8>>,
) -> Run<PhoneOutcome> {
    let config = PhoneConfig::new(device, credentials)
        .unwrap()
        .with_response_timeout(HANG);
    let connection = TlsConnection::with_engine(
        engine,
        PhoneSession::new(config, now()),
        ConnectionOptions::default(),
        now(),
    );
    let mut rng = support::SeededRng::new(support::seed_of(device));
    run(
        server.process.capf_address(),
        connection,
        |session: &mut PhoneSession, decision| {
            use p256::pkcs8::EncodePublicKey;
            match decision {
                PhoneDecision::GenerateKey(KeyRequest::Ec(Curve::P256)) => {
                    let key = p256::SecretKey::random(&mut rng);
                    let spki = key.public_key().to_public_key_der().unwrap();
                    session.answer_key(spki.as_bytes().to_vec()).unwrap();
                }
                PhoneDecision::StoreCertificate { .. } => session.answer_store().unwrap(),
                PhoneDecision::FetchCertificate => session.answer_fetch(held.clone()).unwrap(),
                PhoneDecision::DeleteCertificate => session.answer_delete(true).unwrap(),
                other => panic!("the test phone does not expect {other:?}"),
            }
        },
    )
}

/// One TVS question over `engine` about `certificate_der`.
fn tvs_query(
    server: &Server,
    engine: OpensslEngine,
    certificate_der: &[u8],
) -> Run<TvsClientResult> {
    let session = TvsClientSession::new(
        TvsClientConfig::new(0x1234, "CP-7960G-SEP001122334455", certificate_der),
        now(),
    )
    .unwrap();
    let connection =
        TlsConnection::with_engine(engine, session, ConnectionOptions::default(), now());
    let mut run = run(server.process.tvs_address(), connection, |_, _| {
        panic!("a TVS client asks for no decision")
    });
    // The outcome's result only: the tests compare it.
    Run {
        outcome: run.outcome.take().map(|outcome| outcome.result),
        tls_failures: run.tls_failures,
        version: run.version,
        received: run.received,
    }
}

/// (content type, body length) of each TLS record in the server's bytes
/// (chunks joined: records may straddle reads).
fn records(chunks: &[Vec<u8>]) -> Vec<(u8, usize)> {
    let joined: Vec<u8> = chunks.concat();
    let mut bytes = joined.as_slice();
    let mut out = Vec::new();
    while bytes.len() >= 5 {
        let length = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
        assert!(bytes.len() >= 5 + length, "truncated record");
        out.push((bytes[0], length));
        bytes = &bytes[5 + length..];
    }
    assert!(bytes.is_empty(), "trailing bytes");
    out
}

#[test]
fn a_tls10_aes128_sha_phone_installs_fetches_deletes_and_asks_tvs() {
    let server = Server::start("tls10", true);
    let log = server.log();
    assert!(log.contains("--legacy-tls"), "the warning at start: {log}");
    assert!(log.contains("TLS 1.0"), "{log}");

    // Null string.
    server.device(&[
        "add",
        "SEP00000000A001",
        "--operation",
        "install",
        "--auth",
        "null",
        "--key",
        "ec:p256",
    ]);
    let run = phone(
        &server,
        tls10_aes128_sha().engine().unwrap(),
        "SEP00000000A001",
        PhoneCredentials::NullString,
        None,
    );
    assert_eq!(run.version, Some(ProtocolVersion::TLSv1_0));
    let Some(PhoneOutcome::Installed { certificate_der }) = run.outcome else {
        panic!(
            "null string: {:?} {:?}\n{}",
            run.outcome,
            run.tls_failures,
            server.log()
        );
    };
    assert!(server.show("SEP00000000A001").contains("installed"));
    // The server names the old protocol and suite, for the operator.
    let log = server.log();
    assert!(
        log.contains("legacy TLS established version=TLSv1_0 suite=AES128-SHA"),
        "{log}"
    );

    // One frame per TLS record on the legacy engine: every
    // application-data record the server sent carries one frame, so the
    // phone got as many records as the session sent frames (AUTH_REQUEST,
    // KEY_GEN_REQUEST, STORE_CERT_REQUEST, END_SESSION) and no empty ones.
    let data: Vec<usize> = records(&run.received)
        .into_iter()
        .filter(|(kind, _)| *kind == 23)
        .map(|(_, length)| length)
        .collect();
    assert_eq!(data.len(), 4, "{data:?}");
    // Each body is at least a 16-byte block plus HMAC-SHA1: no empty
    // fragment (BEAST countermeasure) split a frame.
    assert!(data.iter().all(|&length| length >= 36), "{data:?}");

    // Authentication string.
    server.device(&[
        "add",
        "SEP00000000A002",
        "--operation",
        "install",
        "--auth",
        "auth-string",
        "--auth-string",
        "135790",
        "--key",
        "ec:p256",
    ]);
    let credentials = PhoneCredentials::AuthString(AuthString::new("135790").unwrap());
    let run = phone(
        &server,
        tls10_aes128_sha().engine().unwrap(),
        "SEP00000000A002",
        credentials,
        None,
    );
    assert!(
        matches!(run.outcome, Some(PhoneOutcome::Installed { .. })),
        "auth string: {:?}\n{}",
        run.outcome,
        server.log()
    );
    assert!(server.show("SEP00000000A002").contains("installed"));

    // Fetch: the server records the phone's certificate.
    server.device(&["schedule", "SEP00000000A001", "--operation", "fetch"]);
    let run = phone(
        &server,
        tls10_aes128_sha().engine().unwrap(),
        "SEP00000000A001",
        PhoneCredentials::NullString,
        Some(certificate_der.clone()),
    );
    assert!(
        matches!(
            run.outcome,
            Some(PhoneOutcome::FetchCompleted {
                certificate_sent: true,
                ..
            })
        ),
        "fetch: {:?}\n{}",
        run.outcome,
        server.log()
    );
    assert!(server.show("SEP00000000A001").contains("fetched"));

    // Delete.
    server.device(&["schedule", "SEP00000000A001", "--operation", "delete"]);
    let run = phone(
        &server,
        tls10_aes128_sha().engine().unwrap(),
        "SEP00000000A001",
        PhoneCredentials::NullString,
        None,
    );
    assert!(
        matches!(run.outcome, Some(PhoneOutcome::Deleted { .. })),
        "delete: {:?}\n{}",
        run.outcome,
        server.log()
    );
    assert!(server.show("SEP00000000A001").contains("deleted"));

    // TVS on the same server, same phone: the issued LSC, once added with
    // a role, is valid; the unknown CAPF certificate is not.
    let lsc = server.dir.join("lsc.der");
    std::fs::write(&lsc, &certificate_der).unwrap();
    let output = support::run_capf(&[
        "tvs",
        "add",
        "--db",
        server.db(),
        lsc.to_str().unwrap(),
        "--role",
        "ccm",
    ]);
    assert!(output.status.success(), "{}", support::describe(&output));
    let run = tvs_query(
        &server,
        tls10_aes128_sha().engine().unwrap(),
        &certificate_der,
    );
    assert_eq!(run.version, Some(ProtocolVersion::TLSv1_0));
    assert!(
        matches!(&run.outcome, Some(TvsClientResult::Valid { roles, .. }) if !roles.is_empty()),
        "{:?}\n{}",
        run.outcome,
        server.log()
    );
    let run = tvs_query(
        &server,
        tls10_aes128_sha().engine().unwrap(),
        &certificate_in(&cert_path()),
    );
    assert_eq!(
        run.outcome,
        Some(TvsClientResult::Invalid),
        "{}",
        server.log()
    );
}

#[test]
fn without_legacy_tls_the_tls10_phone_is_refused_at_the_handshake_and_logged() {
    let server = Server::start("refused", false);
    assert!(!server.log().contains("--legacy-tls"));
    server.device(&[
        "add",
        "SEP00000000B001",
        "--operation",
        "install",
        "--auth",
        "null",
        "--key",
        "ec:p256",
    ]);
    let run = phone(
        &server,
        tls10_aes128_sha().engine().unwrap(),
        "SEP00000000B001",
        PhoneCredentials::NullString,
        None,
    );
    assert_eq!(run.version, None, "no handshake completed");
    assert!(
        !matches!(run.outcome, Some(PhoneOutcome::Installed { .. })),
        "{:?}",
        run.outcome
    );
    // The phone's engine saw the server's alert (protocol version).
    assert!(
        run.tls_failures
            .iter()
            .any(|failure| failure.contains("alert")),
        "{:?}",
        run.tls_failures
    );
    let run = tvs_query(
        &server,
        tls10_aes128_sha().engine().unwrap(),
        &certificate_in(&cert_path()),
    );
    assert_eq!(run.version, None);
    assert_ne!(
        run.outcome
            .as_ref()
            .map(|o| matches!(o, TvsClientResult::Valid { .. })),
        Some(true)
    );
    // The server says why, for both listeners.
    let started = std::time::Instant::now();
    let log = loop {
        let log = server.log();
        if log.matches("TLS failed").count() >= 2 || started.elapsed() > HANG {
            break log;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(log.matches("TLS failed").count() >= 2, "{log}");
    assert!(
        log.contains("Incompatible") || log.contains("incompatible"),
        "{log}"
    );
    assert!(!server.show("SEP00000000B001").contains("installed"));
}

#[test]
fn a_tls12_modern_client_and_capf_enroll_still_enroll_against_a_legacy_server() {
    let server = Server::start("modern", true);
    server.device(&[
        "add",
        "SEP00000000C001",
        "--operation",
        "install",
        "--auth",
        "null",
        "--key",
        "ec:p256",
    ]);
    let run = phone(
        &server,
        tls12_modern().engine().unwrap(),
        "SEP00000000C001",
        PhoneCredentials::NullString,
        None,
    );
    assert_eq!(run.version, Some(ProtocolVersion::TLSv1_2));
    assert!(
        matches!(run.outcome, Some(PhoneOutcome::Installed { .. })),
        "{:?}\n{}",
        run.outcome,
        server.log()
    );

    // TLS 1.2 with a CBC suite and RSA key exchange (AES256-SHA), as older
    // firmware of later series speaks.
    server.device(&[
        "add",
        "SEP00000000C003",
        "--operation",
        "install",
        "--auth",
        "null",
        "--key",
        "ec:p256",
    ]);
    let tls12_cbc = LegacyClientConfig::new(
        &[certificate_in(&cert_path())],
        LegacyVersion::Tls12,
        LegacyVersion::Tls12,
        "AES256-SHA",
    )
    .unwrap();
    let run = phone(
        &server,
        tls12_cbc.engine().unwrap(),
        "SEP00000000C003",
        PhoneCredentials::NullString,
        None,
    );
    assert_eq!(run.version, Some(ProtocolVersion::TLSv1_2));
    assert!(
        matches!(run.outcome, Some(PhoneOutcome::Installed { .. })),
        "{:?}\n{}",
        run.outcome,
        server.log()
    );
    let log = server.log();
    assert!(
        log.contains("legacy TLS established version=TLSv1_2 suite=AES256-SHA"),
        "{log}"
    );
    // The modern client's connection is not called legacy.
    assert_eq!(log.matches("legacy TLS established").count(), 1, "{log}");

    // `capf enroll` is rustls (TLS 1.3): unchanged against the OpenSSL
    // listener.
    server.device(&[
        "add",
        "SEP00000000C002",
        "--operation",
        "install",
        "--auth",
        "null",
        "--key",
        "ec:p256",
    ]);
    let out = server.dir.join("c002.pem");
    let output = support::run_capf(&[
        "enroll",
        "--server",
        server.process.capf_address(),
        "--ca",
        cert_path().to_str().unwrap(),
        "--device",
        "SEP00000000C002",
        "--out",
        out.to_str().unwrap(),
        "--timeout",
        "20",
    ]);
    assert!(
        output.status.success(),
        "{}\n{}",
        support::describe(&output),
        server.log()
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("LSC installed"));
    assert!(server.show("SEP00000000C002").contains("installed"));
}

/// Reads until the server closes; true if it did (EOF or reset), false if
/// the read timed out.
fn server_closes(stream: &mut TcpStream) -> bool {
    stream.set_read_timeout(Some(HANG)).unwrap();
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
fn the_handshake_deadline_holds_on_the_legacy_engine() {
    let server = Server::start_with("deadline", true, &["--handshake-timeout", "1"]);
    for address in [server.process.capf_address(), server.process.tvs_address()] {
        // A whole TLS 1.0 ClientHello; the server answers with its hello
        // and certificate, then the phone goes silent mid-handshake.
        let mut engine = tls10_aes128_sha().engine().unwrap();
        let hello = engine.take_tcp_output();
        let mut stalled = TcpStream::connect(address).unwrap();
        stalled.write_all(&hello).unwrap();
        assert!(
            server_closes(&mut stalled),
            "{address}: stalled handshake kept open"
        );
    }
    let log = server.log();
    assert_eq!(
        log.matches("TLS handshake not completed in time").count(),
        2,
        "{log}"
    );
}

#[test]
fn sigterm_lets_a_running_legacy_session_finish() {
    let mut server = Server::start("sigterm", true);
    server.device(&[
        "add",
        "SEP00000000D001",
        "--operation",
        "install",
        "--auth",
        "null",
        "--key",
        "ec:p256",
    ]);
    let config = PhoneConfig::new("SEP00000000D001", PhoneCredentials::NullString)
        .unwrap()
        .with_response_timeout(HANG);
    let connection = TlsConnection::with_engine(
        tls10_aes128_sha().engine().unwrap(),
        PhoneSession::new(config, now()),
        ConnectionOptions::default(),
        now(),
    );
    let process = &server.process;
    let mut rng = support::SeededRng::new(support::seed_of("SEP00000000D001"));
    let run = run(
        process.capf_address(),
        connection,
        |session: &mut PhoneSession, decision| {
            use p256::pkcs8::EncodePublicKey;
            match decision {
                PhoneDecision::GenerateKey(KeyRequest::Ec(Curve::P256)) => {
                    // Mid-session: stop the server, wait until it says it
                    // waits for this connection, then go on.
                    process.signal("TERM");
                    let started = std::time::Instant::now();
                    while !process.log().contains("waiting for running connections") {
                        assert!(started.elapsed() < HANG, "{}", process.log());
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    let key = p256::SecretKey::random(&mut rng);
                    let spki = key.public_key().to_public_key_der().unwrap();
                    session.answer_key(spki.as_bytes().to_vec()).unwrap();
                }
                PhoneDecision::StoreCertificate { .. } => session.answer_store().unwrap(),
                other => panic!("the test phone does not expect {other:?}"),
            }
        },
    );
    assert!(
        matches!(run.outcome, Some(PhoneOutcome::Installed { .. })),
        "{:?}\n{}",
        run.outcome,
        server.log()
    );
    let status = server.process.wait_exit();
    assert!(status.success(), "{status}\n{}", server.log());
    assert!(server.log().contains("CAPF server stopped"));
    assert!(server.show("SEP00000000D001").contains("installed"));
}
