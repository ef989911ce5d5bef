//! `capf serve --est-url …`: LSCs signed by an online CA through EST,
//! end to end with the built binary, against the EST responder written for
//! the tests (capf_registry::est::responder: real HTTPS on loopback, real
//! certs-only PKCS#7 answers signed by a test CA).
//!
//! - phones (RSA and EC) enrolled with `capf enroll --send-csr`, basic
//!   authentication (and, in another test, a TLS client certificate): the
//!   installed LSC verifies under the responder's CA (`openssl verify`) and
//!   is in the ledger; a renewal planned by `capf renew plan` then
//!   authenticates with that LSC (its CA trusted through `/cacerts`) and
//!   installs a new one; a server without its client certificate does not
//!   start;
//! - a CA that does not answer in time, and one that refuses (401, 403,
//!   400): END_SESSION 7, status "CA Communication Failure" / "CA Rejected
//!   Connection" in `capf device show --json`;
//! - a certificate for another key, and a phone that sends no signed
//!   request: refused;
//! - `capf serve` SIGKILLed while the CA holds the request, restarted: the
//!   phone, retrying, ends installed, every certificate a phone installed is
//!   in the ledger, no serial twice.
//!
//! Keys of the CAs are seeded; each server listens on port 0.

mod support;

use capf_registry::est::responder::{Behaviour, Responder, ResponderConfig};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

/// The EST side of a test: the responder's CA (which signs LSCs and its
/// TLS certificate), its files, and the responder.
struct Ca {
    dir: PathBuf,
    /// The CA certificate (PEM file): --est-ca and `openssl verify`.
    ca_pem: PathBuf,
    ca_certificate_pem: String,
    ca_key_pem: String,
    tls_chain: Vec<Vec<u8>>,
    tls_key: Vec<u8>,
}

impl Ca {
    fn new(dir: &Path, seed: u64) -> Self {
        let key = support::seeded_p256(seed);
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "EST test CA");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let certificate = params.self_signed(&key).unwrap();
        let issuer = rcgen::Issuer::from_ca_cert_der(certificate.der(), &key).unwrap();
        // The responder's TLS certificate, for 127.0.0.1.
        let tls_key = support::seeded_p256(seed ^ 0x7157);
        let mut tls = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        tls.subject_alt_names
            .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
        tls.distinguished_name
            .push(rcgen::DnType::CommonName, "est.test");
        let tls_certificate = tls.signed_by(&tls_key, &issuer).unwrap();
        let ca_pem = dir.join("est-ca.pem");
        std::fs::write(&ca_pem, certificate.pem()).unwrap();
        Self {
            dir: dir.to_owned(),
            ca_pem,
            ca_certificate_pem: certificate.pem(),
            ca_key_pem: key.serialize_pem(),
            tls_chain: vec![tls_certificate.der().to_vec()],
            tls_key: tls_key.serialize_der(),
        }
    }

    /// A responder of this CA: basic authentication `capf`/`est-secret`
    /// unless `client_ca` is given (then a client certificate of that CA).
    fn responder(
        &self,
        behaviour: Behaviour,
        client_ca: Option<Vec<u8>>,
        first_serial: u64,
    ) -> Responder {
        let basic = client_ca
            .is_none()
            .then(|| ("capf".to_owned(), "est-secret".to_owned()));
        Responder::start(
            ResponderConfig {
                ca_certificate_pem: self.ca_certificate_pem.clone(),
                ca_key_pem: self.ca_key_pem.clone(),
                tls_chain: self.tls_chain.clone(),
                tls_key_pkcs8_der: self.tls_key.clone(),
                client_ca: client_ca.into_iter().collect(),
                basic,
                first_serial,
            },
            behaviour,
        )
        .unwrap()
    }

    /// `capf serve` flags for `responder`, basic authentication with
    /// `password`.
    fn basic_flags(&self, responder: &Responder, password: &str) -> Vec<String> {
        let file = self.dir.join("est-password");
        std::fs::write(&file, format!("{password}\n")).unwrap();
        vec![
            "--est-url".into(),
            responder.url(),
            "--est-ca".into(),
            self.ca_pem.to_str().unwrap().into(),
            "--est-user".into(),
            "capf".into(),
            "--est-password-file".into(),
            file.to_str().unwrap().into(),
        ]
    }
}

/// A `capf serve` on a fresh registry, with `flags`.
struct Capf {
    dir: PathBuf,
    db: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Capf {
    fn new(dir: &Path) -> Self {
        let (cert, key) = support::capf_ca_files(dir, "CAPF-test", 0xE57);
        Self {
            dir: dir.to_owned(),
            db: dir.join("capf.db"),
            cert,
            key,
        }
    }

    fn serve(&self, flags: &[String], log: &str) -> support::ServeProcess {
        self.serve_on("127.0.0.1:0", flags, log)
    }

    fn serve_on(&self, listen: &str, flags: &[String], log: &str) -> support::ServeProcess {
        let mut args = vec![
            "serve".to_owned(),
            "--listen".into(),
            listen.to_owned(),
            "--cert".into(),
            self.cert.to_str().unwrap().into(),
            "--key".into(),
            self.key.to_str().unwrap().into(),
            "--db".into(),
            self.db.to_str().unwrap().into(),
        ];
        args.extend(flags.iter().cloned());
        support::ServeProcess::start(&args, &self.dir.join(log))
    }

    fn add(&self, device: &str, key: &str) {
        let output = support::run_capf(&[
            "device",
            "add",
            "--db",
            self.db.to_str().unwrap(),
            device,
            "--operation",
            "install",
            "--auth",
            "null",
            "--key",
            key,
        ]);
        assert!(output.status.success(), "{}", support::describe(&output));
    }

    fn enroll(&self, address: &str, device: &str, more: &[&str]) -> (Output, PathBuf) {
        let out = self.dir.join(format!("{device}.pem"));
        let mut args = vec![
            "enroll",
            "--server",
            address,
            "--ca",
            self.cert.to_str().unwrap(),
            "--device",
            device,
            "--out",
            out.to_str().unwrap(),
            "--timeout",
            "20",
        ];
        args.extend_from_slice(more);
        (support::run_capf(&args), out)
    }

    fn show(&self, device: &str) -> serde_json::Value {
        let output = support::run_capf(&[
            "device",
            "show",
            "--db",
            self.db.to_str().unwrap(),
            device,
            "--json",
        ]);
        assert!(output.status.success(), "{}", support::describe(&output));
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// The device's ledger: (serial, state), oldest first.
    fn ledger(&self, device: &str) -> Vec<(String, String)> {
        self.show(device)["certificates"]
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
}

fn installed(output: &Output) -> bool {
    output.status.success() && support::text(&output.stdout).contains("LSC installed")
}

/// The first certificate of a PEM file, DER.
fn first_certificate(path: &Path) -> Vec<u8> {
    let pem = std::fs::read_to_string(path).unwrap();
    let end = pem.find("-----END CERTIFICATE-----").unwrap() + 25;
    der::pem::decode_vec(&pem.as_bytes()[..end]).unwrap().1
}

/// The serial of the LSC in a `capf enroll --out` file, lower-case hex.
fn serial_in(path: &Path) -> String {
    use der::Decode;
    let certificate = x509_cert::Certificate::from_der(&first_certificate(path)).unwrap();
    hex::encode(certificate.tbs_certificate.serial_number.as_bytes())
}

/// `openssl verify -CAfile ca.pem` of the LSC in `lsc` (its certificate
/// alone), an independent check of the chain.
fn openssl_verifies(ca: &Path, lsc: &Path) -> (bool, String) {
    let leaf = lsc.with_extension("leaf.pem");
    let pem = std::fs::read_to_string(lsc).unwrap();
    let end = pem.find("-----END CERTIFICATE-----").unwrap() + 25;
    std::fs::write(
        &leaf,
        &pem[pem.find("-----BEGIN CERTIFICATE-----").unwrap()..end],
    )
    .unwrap();
    let output = std::process::Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(ca)
        .arg(&leaf)
        .output()
        .unwrap();
    (
        output.status.success(),
        format!(
            "{}{}",
            support::text(&output.stdout),
            support::text(&output.stderr)
        ),
    )
}

/// The phone's public key (SubjectPublicKeyInfo DER) in the key file
/// `capf enroll` wrote, through openssl (independent of the code under test).
fn openssl_public_key_of_key(lsc: &Path) -> Vec<u8> {
    let output = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-outform", "DER", "-in"])
        .arg(lsc)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", support::describe(&output));
    output.stdout
}

fn certificate_public_key(der: &[u8]) -> Vec<u8> {
    use der::{Decode, Encode};
    x509_cert::Certificate::from_der(der)
        .unwrap()
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap()
}

#[test]
fn phones_enroll_through_est_with_basic_authentication_rsa_and_ec() {
    let dir = support::scratch("est", "basic");
    let ca = Ca::new(&dir, 0xE5701);
    let responder = ca.responder(Behaviour::Issue, None, 0x1000);
    let capf = Capf::new(&dir);
    let server = capf.serve(&ca.basic_flags(&responder, "est-secret"), "serve.log");
    for (device, key) in [
        ("SEP0000000E5701", "rsa:2048"),
        ("SEP0000000E5702", "ec:p256"),
    ] {
        capf.add(device, key);
        let (output, out) = capf.enroll(server.capf_address(), device, &["--send-csr"]);
        assert!(
            installed(&output),
            "{device}: {}\n{}",
            support::describe(&output),
            server.log()
        );
        let (verified, said) = openssl_verifies(&ca.ca_pem, &out);
        assert!(verified, "{device}: openssl verify: {said}");
        // The LSC carries the key the phone kept.
        assert_eq!(
            certificate_public_key(&first_certificate(&out)),
            openssl_public_key_of_key(&out),
            "{device}"
        );
        let serial = serial_in(&out);
        assert_eq!(
            capf.ledger(device),
            vec![(serial, "installed".to_owned())],
            "{device}"
        );
        assert_eq!(
            capf.show(device)["operation_status_text"],
            "Upgrade Success",
            "{device}"
        );
    }
    let seen = responder.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for request in &seen {
        assert_eq!(request.path, "/.well-known/est/simpleenroll");
        assert_eq!(request.content_type.as_deref(), Some("application/pkcs10"));
        assert!(request.basic_ok, "{request:?}");
        assert!(!request.client_certificate, "{request:?}");
        assert_eq!(request.status, Some(200));
    }
    // The password is in no log line.
    assert!(!server.log().contains("est-secret"), "{}", server.log());

    // Renewal: the planner schedules an install authenticated by the
    // current LSC (signed by the EST CA, which the server trusts through
    // /cacerts); the phone authenticates with it and gets a new one.
    let device = "SEP0000000E5702";
    let old = capf.dir.join(format!("{device}.pem"));
    let old_serial = serial_in(&old);
    let planned = support::run_capf(&[
        "renew",
        "plan",
        "--db",
        capf.db.to_str().unwrap(),
        "--expiring-before",
        "2040-01-01",
    ]);
    assert!(planned.status.success(), "{}", support::describe(&planned));
    let renewed = capf.dir.join("renewed.pem");
    let output = support::run_capf(&[
        "enroll",
        "--server",
        server.capf_address(),
        "--ca",
        capf.cert.to_str().unwrap(),
        "--device",
        device,
        "--out",
        renewed.to_str().unwrap(),
        "--lsc",
        old.to_str().unwrap(),
        "--send-csr",
        "--timeout",
        "20",
    ]);
    assert!(
        installed(&output),
        "{}\n{}",
        support::describe(&output),
        server.log()
    );
    let (verified, said) = openssl_verifies(&ca.ca_pem, &renewed);
    assert!(verified, "renewed: openssl verify: {said}");
    let new_serial = serial_in(&renewed);
    assert_ne!(new_serial, old_serial);
    let ledger = capf.ledger(device);
    assert_eq!(ledger.len(), 2, "{ledger:?}");
    assert_eq!(ledger[0].0, old_serial);
    assert_eq!(ledger[1], (new_serial, "installed".to_owned()));
}

#[test]
fn a_tls_client_certificate_authenticates_the_server_and_chunked_answers_are_read() {
    let dir = support::scratch("est", "client_certificate");
    let ca = Ca::new(&dir, 0xE5702);
    // The client certificate comes from a CA of its own.
    let client_ca_key = support::seeded_p256(0xC11E);
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "EST client CA");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let client_ca = params.self_signed(&client_ca_key).unwrap();
    let client_issuer = rcgen::Issuer::from_ca_cert_der(client_ca.der(), &client_ca_key).unwrap();
    let client_key = support::seeded_p256(0xC11F);
    let mut client = rcgen::CertificateParams::new(vec!["capf.test".to_owned()]).unwrap();
    client.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let client = client.signed_by(&client_key, &client_issuer).unwrap();
    let (client_pem, client_key_pem) = (dir.join("est-client.pem"), dir.join("est-client.key"));
    std::fs::write(&client_pem, client.pem()).unwrap();
    std::fs::write(&client_key_pem, client_key.serialize_pem()).unwrap();

    let responder = ca.responder(
        Behaviour::IssueChunked,
        Some(client_ca.der().to_vec()),
        0x2000,
    );
    let capf = Capf::new(&dir);
    let server = capf.serve(
        &[
            "--est-url".into(),
            format!("{}/.well-known/est/phones", responder.url()),
            "--est-ca".into(),
            ca.ca_pem.to_str().unwrap().into(),
            "--est-cert".into(),
            client_pem.to_str().unwrap().into(),
            "--est-key".into(),
            client_key_pem.to_str().unwrap().into(),
        ],
        "serve.log",
    );
    let device = "SEP0000000E5711";
    capf.add(device, "ec:p384");
    let (output, out) = capf.enroll(server.capf_address(), device, &["--send-csr"]);
    assert!(
        installed(&output),
        "{}\n{}",
        support::describe(&output),
        server.log()
    );
    let (verified, said) = openssl_verifies(&ca.ca_pem, &out);
    assert!(verified, "openssl verify: {said}");
    let seen = responder.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].client_certificate);
    assert_eq!(seen[0].path, "/.well-known/est/phones/simpleenroll");
    assert_eq!(
        capf.ledger(device),
        vec![(serial_in(&out), "installed".to_owned())]
    );

    // Without the client certificate the CA's TLS refuses the server:
    // found at start-up (reading /cacerts), exit 2 before listening.
    let mut refused = std::process::Command::new(env!("CARGO_BIN_EXE_capf"))
        .args(["serve", "--listen", "127.0.0.1:0", "--cert"])
        .arg(&capf.cert)
        .arg("--key")
        .arg(&capf.key)
        .arg("--db")
        .arg(&capf.db)
        .arg("--est-url")
        .arg(responder.url())
        .arg("--est-ca")
        .arg(&ca.ca_pem)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = refused.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = refused.kill();
            panic!("capf serve started without its EST client certificate");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut said = String::new();
    std::io::Read::read_to_string(&mut refused.stderr.take().unwrap(), &mut said).unwrap();
    assert_eq!(status.code(), Some(2), "{said}");
    assert!(said.contains("/cacerts") && said.contains("TLS"), "{said}");
    assert!(!said.contains("listening"), "{said}");
    assert_eq!(responder.seen().len(), 1);
}

/// A refused session: exit 1, END_SESSION 7 (Failure) seen by the phone,
/// the device's status `slug`, nothing in its ledger.
fn assert_refused(
    capf: &Capf,
    device: &str,
    output: &Output,
    slug: &str,
    server: &support::ServeProcess,
) {
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}\n{}",
        support::describe(output),
        server.log()
    );
    assert!(
        support::text(&output.stderr).contains("END_SESSION Failure"),
        "{}",
        support::describe(output)
    );
    let shown = capf.show(device);
    assert_eq!(shown["operation_status"], slug, "{shown}\n{}", server.log());
    assert_eq!(shown["certificates"], serde_json::json!([]), "{shown}");
}

#[test]
fn a_ca_that_does_not_answer_in_time_is_a_communication_failure_and_others_are_served_meanwhile() {
    // The CA holds the first request past --est-timeout-seconds; while that
    // phone waits, another phone is enrolled through the same server.
    let dir = support::scratch("est", "timeout");
    let ca = Ca::new(&dir, 0xE5703);
    let responder = ca.responder(Behaviour::HoldFirst, None, 0x3000);
    let capf = Capf::new(&dir);
    let mut flags = ca.basic_flags(&responder, "est-secret");
    flags.extend(["--est-timeout-seconds".into(), "8".into()]);
    let server = capf.serve(&flags, "serve.log");
    let (held, other) = ("SEP0000000E5721", "SEP0000000E5722");
    capf.add(held, "ec:p256");
    capf.add(other, "ec:p256");
    let (output, started, other_output, other_done) = std::thread::scope(|scope| {
        let started = Instant::now();
        let phone = scope.spawn(|| capf.enroll(server.capf_address(), held, &["--send-csr"]).0);
        let waited = Instant::now();
        while responder.holding() == 0 {
            assert!(
                waited.elapsed() < Duration::from_secs(30),
                "{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let (other_output, _) = capf.enroll(server.capf_address(), other, &["--send-csr"]);
        let other_done = responder.holding();
        (phone.join().unwrap(), started, other_output, other_done)
    });
    assert!(
        installed(&other_output),
        "{}\n{}",
        support::describe(&other_output),
        server.log()
    );
    assert_eq!(other_done, 1, "the first request was no longer held");
    assert_refused(
        &capf,
        held,
        &output,
        "upgrade-failed-ca-communication-failure",
        &server,
    );
    assert_eq!(
        capf.show(held)["operation_status_text"],
        "Upgrade Failed: CA Communication Failure"
    );
    // The phone was kept waiting for the CA, within the limit.
    assert!(started.elapsed() >= Duration::from_secs(8));
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(responder.seen().len(), 2);
    assert!(
        server.log().contains("did not answer within"),
        "{}",
        server.log()
    );
}

#[test]
fn refusals_of_the_ca_are_ca_rejected_connection() {
    let dir = support::scratch("est", "refusals");
    let ca = Ca::new(&dir, 0xE5704);
    let capf = Capf::new(&dir);
    // 401: a wrong password (the responder checks it); 403 and 400 as the
    // CA's answer.
    let cases = [
        ("SEP0000000E5731", Behaviour::Issue, "wrong-secret", 401),
        ("SEP0000000E5732", Behaviour::Status(403), "est-secret", 403),
        ("SEP0000000E5733", Behaviour::Status(400), "est-secret", 400),
    ];
    for (index, (device, behaviour, password, status)) in cases.into_iter().enumerate() {
        let responder = ca.responder(behaviour, None, 0x4000);
        let server = capf.serve(
            &ca.basic_flags(&responder, password),
            &format!("serve-{index}.log"),
        );
        capf.add(device, "rsa:2048");
        let (output, _) = capf.enroll(server.capf_address(), device, &["--send-csr"]);
        assert_refused(
            &capf,
            device,
            &output,
            "upgrade-failed-ca-rejected-connection",
            &server,
        );
        assert_eq!(
            capf.show(device)["operation_status_text"],
            "Upgrade Failed: CA Rejected Connection"
        );
        assert_eq!(responder.seen()[0].status, Some(status));
        assert!(
            server.log().contains(&format!("HTTP {status}")),
            "{}",
            server.log()
        );
    }
}

#[test]
fn a_certificate_for_another_key_is_refused() {
    let dir = support::scratch("est", "wrong_key");
    let ca = Ca::new(&dir, 0xE5705);
    let responder = ca.responder(Behaviour::WrongKey, None, 0x5000);
    let capf = Capf::new(&dir);
    let server = capf.serve(&ca.basic_flags(&responder, "est-secret"), "serve.log");
    let device = "SEP0000000E5741";
    capf.add(device, "ec:p256");
    let (output, _) = capf.enroll(server.capf_address(), device, &["--send-csr"]);
    assert_refused(
        &capf,
        device,
        &output,
        "upgrade-failed-ca-communication-failure",
        &server,
    );
    assert!(
        server
            .log()
            .contains("no certificate of the CA's answer carries the phone's public key"),
        "{}",
        server.log()
    );
    assert_eq!(responder.seen().len(), 1);
}

#[test]
fn a_phone_without_a_signed_request_is_refused_without_asking_the_ca() {
    // A phone that sends only its public key (as the recorded phones do):
    // EST needs a request signed by that key, so the CA is not asked.
    let dir = support::scratch("est", "no_request");
    let ca = Ca::new(&dir, 0xE5707);
    let responder = ca.responder(Behaviour::Issue, None, 0x7000);
    let capf = Capf::new(&dir);
    let server = capf.serve(&ca.basic_flags(&responder, "est-secret"), "serve.log");
    let device = "SEP0000000E5742";
    capf.add(device, "ec:p256");
    let (output, _) = capf.enroll(server.capf_address(), device, &[]);
    assert_refused(
        &capf,
        device,
        &output,
        "upgrade-failed-ca-rejected-connection",
        &server,
    );
    assert!(
        server
            .log()
            .contains("the phone sent no signed certificate request"),
        "{}",
        server.log()
    );
    assert!(responder.seen().is_empty(), "the CA was asked");
}

#[test]
fn a_server_killed_while_the_ca_holds_the_request_restarts_with_the_ledger_consistent() {
    // The CA holds the first request; capf serve is SIGKILLed then and
    // restarted on the same registry. The phone retries its communication
    // failure; the killed session's claim expires with its lease (key
    // generation 5 s + EST 5 s + 2 x response 5 s + the 120 s margin),
    // which the retries outlast; the CA then signs. Another phone enrolled
    // before the kill keeps its LSC. At the end every LSC a phone installed
    // is in the ledger, installed, and no serial appears twice.
    let dir = support::scratch("est", "killed");
    let ca = Ca::new(&dir, 0xE5706);
    let responder = ca.responder(Behaviour::Issue, None, 0x6000);
    let capf = Capf::new(&dir);
    let mut flags = ca.basic_flags(&responder, "est-secret");
    flags.extend(
        [
            "--est-timeout-seconds",
            "5",
            "--key-generation-timeout",
            "5",
            "--response-timeout",
            "5",
        ]
        .map(String::from),
    );
    let mut first = capf.serve(&flags, "serve-1.log");
    let address = first.capf_address().to_owned();
    let before = "SEP0000000E5751";
    capf.add(before, "ec:p256");
    let (output, before_out) = capf.enroll(&address, before, &["--send-csr"]);
    assert!(
        installed(&output),
        "{}\n{}",
        support::describe(&output),
        first.log()
    );

    responder.set_behaviour(Behaviour::Hold);
    let device = "SEP0000000E5752";
    capf.add(device, "rsa:2048");
    let (output, restarted) = std::thread::scope(|scope| {
        let phone = scope.spawn(|| {
            capf.enroll(
                &address,
                device,
                &["--send-csr", "--retries", "80", "--retry-interval", "3"],
            )
        });
        let started = Instant::now();
        while responder.holding() == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the request never reached the CA: {}",
                first.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        first.signal("KILL");
        first.wait_exit();
        responder.set_behaviour(Behaviour::Issue);
        let restarted = capf.serve_on(&address, &flags, "serve-2.log");
        (phone.join().unwrap(), restarted)
    });
    let (output, out) = output;
    assert!(
        installed(&output),
        "{}\nkilled:\n{}\nrestarted:\n{}",
        support::describe(&output),
        first.log(),
        restarted.log()
    );
    let (verified, said) = openssl_verifies(&ca.ca_pem, &out);
    assert!(verified, "openssl verify: {said}");
    let mut serials = Vec::new();
    for (name, path) in [(before, &before_out), (device, &out)] {
        let serial = serial_in(path);
        let ledger = capf.ledger(name);
        assert!(
            ledger.contains(&(serial.clone(), "installed".to_owned())),
            "{name}: the phone's LSC {serial} is not installed in the ledger {ledger:?}"
        );
        serials.extend(ledger.into_iter().map(|(serial, _)| serial));
    }
    let mut unique = serials.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), serials.len(), "a serial twice: {serials:?}");
    // The held request was signed by nobody; the CA signed the one retry
    // that reached it after the restart (and the first phone's).
    assert_eq!(
        responder
            .seen()
            .iter()
            .filter(|seen| seen.status == Some(200))
            .count(),
        2,
        "{:?}",
        responder.seen()
    );
}

#[test]
fn bad_est_options_are_usage_errors_before_listening() {
    let dir = support::scratch("est", "options");
    let ca = Ca::new(&dir, 0xE5708);
    let capf = Capf::new(&dir);
    let empty = dir.join("empty-password");
    std::fs::write(&empty, "\n").unwrap();
    let ca_pem = ca.ca_pem.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--est-url", "https://127.0.0.1:1"], "--est-ca"),
        // One issuer per server: the online CA or the offline one.
        (
            vec![
                "--est-url",
                "https://127.0.0.1:1",
                "--est-ca",
                ca_pem,
                "--offline-ca",
            ],
            "--offline-ca",
        ),
        (
            vec!["--est-url", "http://127.0.0.1:1", "--est-ca", ca_pem],
            "https://",
        ),
        (
            vec!["--est-url", "https://127.0.0.1:1/a/b", "--est-ca", ca_pem],
            "one CA label",
        ),
        (
            vec![
                "--est-url",
                "https://127.0.0.1:1",
                "--est-ca",
                ca_pem,
                "--est-user",
                "capf",
                "--est-password-file",
                empty.to_str().unwrap(),
            ],
            "empty",
        ),
        (
            vec![
                "--est-url",
                "https://127.0.0.1:1",
                "--est-ca",
                ca_pem,
                "--est-user",
                "capf",
            ],
            "--est-password-file",
        ),
        (
            vec![
                "--est-url",
                "https://127.0.0.1:1",
                "--est-ca",
                ca_pem,
                "--est-user",
                "capf",
                "--est-password-file",
                empty.to_str().unwrap(),
                "--est-cert",
                ca_pem,
                "--est-key",
                ca_pem,
            ],
            "cannot be used with",
        ),
    ];
    for (flags, said) in cases {
        let mut args = vec![
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--cert",
            capf.cert.to_str().unwrap(),
            "--key",
            capf.key.to_str().unwrap(),
            "--db",
            capf.db.to_str().unwrap(),
        ];
        args.extend(flags.iter().copied());
        let output = support::run_capf(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{flags:?}: {}",
            support::describe(&output)
        );
        assert!(
            support::text(&output.stderr).contains(said),
            "{flags:?}: {}",
            support::describe(&output)
        );
        assert!(
            !support::text(&output.stderr).contains("listening"),
            "{flags:?}"
        );
    }
}
