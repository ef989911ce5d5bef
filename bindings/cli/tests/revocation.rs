//! Revocation in the certificate ledger (`capf cert revoke`), consulted by
//! `capf serve` by itself: a phone authenticating with a revoked LSC is
//! refused, and TVS answers INVALID for it. Real server, real TLS on
//! loopback, real SQLite file, real certificates.

mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;
use support::{scratch, text};

fn capf<S: AsRef<OsStr>>(args: &[S]) -> Output {
    let args: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
    support::capf(&args)
}

fn report(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    )
}

fn ok(output: Output) -> Output {
    assert!(output.status.success(), "{}", report(&output));
    output
}

/// A CAPF CA certificate (EC P-256, seeded key) that may sign CRLs when
/// `crl_sign`, as PEM files `NAME.pem` / `NAME.key`.
fn ca_files(dir: &Path, name: &str, seed: u64, crl_sign: bool) -> (PathBuf, PathBuf) {
    let key = support::seeded_p256(seed);
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("CAPF-{name}"));
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "capf");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyCertSign,
    ];
    if crl_sign {
        params.key_usages.push(rcgen::KeyUsagePurpose::CrlSign);
    }
    let certificate = params.self_signed(&key).unwrap();
    let cert_path = dir.join(format!("{name}.pem"));
    let key_path = dir.join(format!("{name}.key"));
    std::fs::write(&cert_path, certificate.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

/// The DER of the first certificate of a PEM file.
fn certificate_in(path: &Path) -> Vec<u8> {
    let pem = std::fs::read_to_string(path).unwrap();
    let end = pem.find("-----END CERTIFICATE-----").unwrap() + 25;
    let (label, der) = der::pem::decode_vec(&pem.as_bytes()[..end]).unwrap();
    assert_eq!(label, "CERTIFICATE");
    der
}

/// The serial number of a DER certificate, lower-case hex, read with
/// x509-cert (not with the code under test).
fn serial_hex(der: &[u8]) -> String {
    use der::Decode;
    let certificate = x509_cert::Certificate::from_der(der).unwrap();
    hex::encode(certificate.tbs_certificate.serial_number.as_bytes())
}

/// A CAPF + TVS server on loopback over one registry file.
struct Site {
    dir: PathBuf,
    db: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    server: Option<support::ServeProcess>,
}

impl Site {
    fn new(test: &str) -> Self {
        let dir = scratch("revocation", test);
        let (cert, key) = ca_files(&dir, "capf", 0xC0FFEE, true);
        Self {
            db: dir.join("capf.db"),
            dir,
            cert,
            key,
            server: None,
        }
    }

    fn start(&mut self, extra: &[&str]) {
        self.server = None;
        let mut args: Vec<&OsStr> = vec![
            "serve".as_ref(),
            "--listen".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--tvs-listen".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--cert".as_ref(),
            self.cert.as_os_str(),
            "--key".as_ref(),
            self.key.as_os_str(),
            "--db".as_ref(),
            self.db.as_os_str(),
        ];
        args.extend(extra.iter().map(OsStr::new));
        self.server = Some(support::ServeProcess::start(
            &args,
            &self.dir.join("serve.log"),
        ));
    }

    fn server(&self) -> &support::ServeProcess {
        self.server.as_ref().expect("server started")
    }

    fn db(&self) -> &OsStr {
        self.db.as_os_str()
    }

    /// `capf device add` (replaces the whole schedule of an existing one).
    fn add(&self, device: &str, auth: &str) {
        ok(capf(&[
            "device".as_ref(),
            "add".as_ref(),
            "--db".as_ref(),
            self.db(),
            device.as_ref(),
            "--operation".as_ref(),
            "install".as_ref(),
            "--auth".as_ref(),
            OsStr::new(auth),
            "--key".as_ref(),
            "ec:p256".as_ref(),
        ]));
    }

    fn enroll(&self, device: &str, out: &Path, lsc: Option<&Path>) -> Output {
        let mut args: Vec<&OsStr> = vec![
            "enroll".as_ref(),
            "--server".as_ref(),
            self.server().capf_address().as_ref(),
            "--ca".as_ref(),
            self.cert.as_os_str(),
            "--device".as_ref(),
            device.as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
            "--timeout".as_ref(),
            "20".as_ref(),
        ];
        if let Some(lsc) = lsc {
            args.extend(["--lsc".as_ref(), lsc.as_os_str()]);
        }
        capf(&args)
    }

    fn tvs_verify(&self, certificate: &Path) -> Output {
        capf(&[
            "tvs".as_ref(),
            "verify".as_ref(),
            "--server".as_ref(),
            self.server().tvs_address().as_ref(),
            "--ca".as_ref(),
            self.cert.as_os_str(),
            "--timeout".as_ref(),
            "20".as_ref(),
            certificate.as_os_str(),
        ])
    }

    fn show(&self, device: &str) -> serde_json::Value {
        let output = ok(capf(&[
            "device".as_ref(),
            "show".as_ref(),
            "--db".as_ref(),
            self.db(),
            device.as_ref(),
            "--json".as_ref(),
        ]));
        serde_json::from_slice(&output.stdout).unwrap()
    }

    fn log(&self) -> String {
        self.server().log()
    }
}

#[test]
fn a_revoked_lsc_is_refused_by_capf_and_answered_invalid_by_tvs() {
    let device = "SEP0000000000A1";
    let mut site = Site::new("refused");
    site.start(&[]);
    let first = site.dir.join("first.pem");
    let second = site.dir.join("second.pem");
    let third = site.dir.join("third.pem");

    // A first LSC (null string), then a second one authenticated by the
    // first: LSC authentication works on this server before any revocation.
    site.add(device, "null");
    ok(site.enroll(device, &first, None));
    site.add(device, "lsc");
    let renewed = site.enroll(device, &second, Some(&first));
    assert!(
        renewed.status.success(),
        "{}\n{}",
        report(&renewed),
        site.log()
    );
    let second_der = certificate_in(&second);
    let second_serial = serial_hex(&second_der);

    // TVS vouches for the second LSC once it is on the allow-list.
    ok(capf(&[
        "tvs".as_ref(),
        "add".as_ref(),
        "--db".as_ref(),
        site.db(),
        second.as_os_str(),
        "--role".as_ref(),
        "app-server".as_ref(),
    ]));
    let valid = site.tvs_verify(&second);
    assert_eq!(
        valid.status.code(),
        Some(0),
        "{}\n{}",
        report(&valid),
        site.log()
    );

    // Revoke it by serial (upper case, with colons: the ledger normalises).
    let pretty_serial = second_serial
        .to_ascii_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).unwrap())
        .collect::<Vec<_>>()
        .join(":");
    let revoked = ok(capf(&[
        "cert".as_ref(),
        "revoke".as_ref(),
        "--db".as_ref(),
        site.db(),
        "--serial".as_ref(),
        pretty_serial.as_ref(),
        "--reason".as_ref(),
        "keyCompromise".as_ref(),
    ]));
    assert!(
        text(&revoked.stdout).contains(&second_serial),
        "{}",
        report(&revoked)
    );

    let shown = site.show(device);
    let ledger = shown["certificates"].as_array().unwrap();
    assert_eq!(ledger.len(), 2, "{shown}");
    assert_eq!(ledger[0]["revoked"], false);
    assert_eq!(ledger[1]["serial"], second_serial.as_str());
    assert_eq!(ledger[1]["revoked"], true);
    assert_eq!(ledger[1]["revocation_reason"], "keyCompromise");

    // The same running server, no restart and no --revoked file: TVS now
    // answers INVALID (exit 1) ...
    let invalid = site.tvs_verify(&second);
    assert_eq!(
        invalid.status.code(),
        Some(1),
        "{}\n{}",
        report(&invalid),
        site.log()
    );

    // ... and CAPF refuses the revoked LSC: nothing issued, nothing new in
    // the ledger, the refusal logged as a revocation.
    site.add(device, "lsc");
    let refused = site.enroll(device, &third, Some(&second));
    assert_eq!(
        refused.status.code(),
        Some(1),
        "{}\n{}",
        report(&refused),
        site.log()
    );
    assert!(!third.exists());
    assert_eq!(
        site.show(device)["certificates"].as_array().unwrap().len(),
        2
    );
    assert!(
        site.log().to_ascii_lowercase().contains("revoked"),
        "{}",
        site.log()
    );

    // The first LSC, not revoked, still authenticates: the refusal was the
    // revocation of the second and nothing else.
    let again = site.enroll(device, &third, Some(&first));
    assert!(again.status.success(), "{}\n{}", report(&again), site.log());

    // Revoking the device revokes what is left (first and third); a second
    // revocation of the same device finds nothing: exit 2 with a message.
    let by_device = ok(capf(&[
        "cert".as_ref(),
        "revoke".as_ref(),
        "--db".as_ref(),
        site.db(),
        device.as_ref(),
        "--reason".as_ref(),
        "cessation-of-operation".as_ref(),
        "--json".as_ref(),
    ]));
    let listed: serde_json::Value = serde_json::from_slice(&by_device.stdout).unwrap();
    let serials: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["serial"].as_str().unwrap())
        .collect();
    assert_eq!(
        serials,
        [
            serial_hex(&certificate_in(&first)),
            serial_hex(&certificate_in(&third))
        ]
    );
    let nothing = capf(&[
        "cert".as_ref(),
        "revoke".as_ref(),
        "--db".as_ref(),
        site.db(),
        device.as_ref(),
        "--reason".as_ref(),
        "superseded".as_ref(),
    ]);
    assert_eq!(nothing.status.code(), Some(2), "{}", report(&nothing));
    assert!(
        text(&nothing.stderr).contains("nothing to revoke"),
        "{}",
        report(&nothing)
    );
}

#[test]
fn revoke_refuses_bad_reasons_and_serials_with_exit_2() {
    let site = Site::new("bad-input");
    site.add("SEP0000000000A2", "null");
    let bad_reason = capf(&[
        "cert".as_ref(),
        "revoke".as_ref(),
        "--db".as_ref(),
        site.db(),
        "SEP0000000000A2".as_ref(),
        "--reason".as_ref(),
        "removeFromCRL".as_ref(),
    ]);
    assert_eq!(bad_reason.status.code(), Some(2), "{}", report(&bad_reason));
    assert!(
        text(&bad_reason.stderr).contains("keyCompromise"),
        "{}",
        report(&bad_reason)
    );
    let bad_serial = capf(&[
        "cert".as_ref(),
        "revoke".as_ref(),
        "--db".as_ref(),
        site.db(),
        "--serial".as_ref(),
        "xyz".as_ref(),
        "--reason".as_ref(),
        "superseded".as_ref(),
    ]);
    assert_eq!(bad_serial.status.code(), Some(2), "{}", report(&bad_serial));
    assert!(
        text(&bad_serial.stderr).contains("not a serial number"),
        "{}",
        report(&bad_serial)
    );
    // A device without certificates: nothing to revoke.
    let none = capf(&[
        "cert".as_ref(),
        "revoke".as_ref(),
        "--db".as_ref(),
        site.db(),
        "SEP0000000000A2".as_ref(),
        "--reason".as_ref(),
        "superseded".as_ref(),
    ]);
    assert_eq!(none.status.code(), Some(2), "{}", report(&none));
}

/// Runs `openssl` (on this machine's PATH); a missing openssl fails the
/// test with a message, never a silent pass.
fn openssl(args: &[&OsStr]) -> Output {
    std::process::Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|error| {
            panic!("openssl is needed to check the CRL and could not run: {error}")
        })
}

#[test]
fn the_crl_lists_the_ledger_revocations_and_openssl_verifies_it() {
    let mut site = Site::new("crl");
    site.start(&[]);
    let (revoked_a, revoked_b, kept) = ("SEP0000000000B1", "SEP0000000000B2", "SEP0000000000B3");
    let mut serials = std::collections::BTreeMap::new();
    for device in [revoked_a, revoked_b, kept] {
        site.add(device, "null");
        let out = site.dir.join(format!("{device}.pem"));
        let enrolled = site.enroll(device, &out, None);
        assert!(
            enrolled.status.success(),
            "{}\n{}",
            report(&enrolled),
            site.log()
        );
        serials.insert(device, serial_hex(&certificate_in(&out)));
    }
    for (device, reason) in [(revoked_a, "keyCompromise"), (revoked_b, "unspecified")] {
        ok(capf(&[
            "cert".as_ref(),
            "revoke".as_ref(),
            "--db".as_ref(),
            site.db(),
            device.as_ref(),
            "--reason".as_ref(),
            reason.as_ref(),
        ]));
    }

    let crl = site.dir.join("crl.pem");
    let issued = ok(capf(&[
        "ca".as_ref(),
        "crl".as_ref(),
        "--db".as_ref(),
        site.db(),
        "--cert".as_ref(),
        site.cert.as_os_str(),
        "--key".as_ref(),
        site.key.as_os_str(),
        "--out".as_ref(),
        crl.as_os_str(),
        "--next-update-days".as_ref(),
        "3".as_ref(),
    ]));
    assert!(
        text(&issued.stdout).contains("2 revoked"),
        "{}",
        report(&issued)
    );

    let verified = openssl(&[
        "crl".as_ref(),
        "-in".as_ref(),
        crl.as_os_str(),
        "-CAfile".as_ref(),
        site.cert.as_os_str(),
        "-verify".as_ref(),
        "-noout".as_ref(),
    ]);
    assert!(verified.status.success(), "{}", report(&verified));
    let said = format!("{}{}", text(&verified.stdout), text(&verified.stderr));
    assert!(said.contains("verify OK"), "{said}");

    // The serials listed, read back by openssl: exactly the two revoked.
    let shown = openssl(&[
        "crl".as_ref(),
        "-in".as_ref(),
        crl.as_os_str(),
        "-noout".as_ref(),
        "-text".as_ref(),
    ]);
    assert!(shown.status.success(), "{}", report(&shown));
    let listing = text(&shown.stdout);
    let mut listed: Vec<String> = listing
        .lines()
        .filter_map(|line| line.trim().strip_prefix("Serial Number: "))
        .map(|serial| serial.trim().to_ascii_lowercase())
        .collect();
    listed.sort();
    let mut expected = vec![serials[revoked_a].clone(), serials[revoked_b].clone()];
    expected.sort();
    assert_eq!(listed, expected, "{listing}");
    assert!(
        !listing.to_ascii_lowercase().contains(&serials[kept]),
        "{listing}"
    );
    assert!(listing.contains("Key Compromise"), "{listing}");
    assert!(listing.contains("CRL Number"), "{listing}");

    // An issuer without cRLSign (given as --issuer/--issuer-key) is refused
    // with a message that says so; nothing is written.
    let (plain_cert, plain_key) = ca_files(&site.dir, "no-crl-sign", 0xB0B, false);
    let refused_out = site.dir.join("refused.pem");
    let refused = capf(&[
        "ca".as_ref(),
        "crl".as_ref(),
        "--db".as_ref(),
        site.db(),
        "--issuer".as_ref(),
        plain_cert.as_os_str(),
        "--issuer-key".as_ref(),
        plain_key.as_os_str(),
        "--out".as_ref(),
        refused_out.as_os_str(),
    ]);
    assert_eq!(refused.status.code(), Some(2), "{}", report(&refused));
    assert!(
        text(&refused.stderr).contains("cRLSign"),
        "{}",
        report(&refused)
    );
    assert!(!refused_out.exists());
}

fn renew_plan(site: &Site, extra: &[&str]) -> serde_json::Value {
    let mut args: Vec<&OsStr> = vec![
        "renew".as_ref(),
        "plan".as_ref(),
        "--db".as_ref(),
        site.db(),
        "--json".as_ref(),
    ];
    args.extend(extra.iter().map(OsStr::new));
    let output = ok(capf(&args));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn planned_devices(plan: &serde_json::Value) -> Vec<(String, i64)> {
    plan["scheduled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|renewal| {
            (
                renewal["device"].as_str().unwrap().to_owned(),
                renewal["certificate_id"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_planned_renewal_is_authenticated_by_the_old_lsc_and_replaces_it() {
    let device = "SEP0000000000C1";
    let mut site = Site::new("renew");
    site.start(&[]);
    let first = site.dir.join("first.pem");
    let second = site.dir.join("second.pem");
    site.add(device, "null");
    ok(site.enroll(device, &first, None));
    let first_id = site.show(device)["certificates"][0]["id"].as_i64().unwrap();

    // Not due: nothing expires before 2000.
    let none = renew_plan(&site, &["--expiring-before", "2000-01-01"]);
    assert!(planned_devices(&none).is_empty(), "{none}");
    // A dry run lists it and writes nothing.
    let dry = renew_plan(&site, &["--expiring-before", "9999-12-31", "--dry-run"]);
    assert_eq!(planned_devices(&dry), [(device.to_owned(), first_id)]);
    assert_eq!(site.show(device)["operation"], "none");
    // The plan schedules an install authenticated by the LSC.
    let plan = renew_plan(&site, &["--expiring-before", "9999-12-31T00:00:00Z"]);
    assert_eq!(planned_devices(&plan), [(device.to_owned(), first_id)]);
    let shown = site.show(device);
    assert_eq!(shown["operation"], "install", "{shown}");
    assert_eq!(shown["auth_mode"], "lsc", "{shown}");

    // The phone authenticates with its old LSC and receives a new one.
    let renewed = site.enroll(device, &second, Some(&first));
    assert!(
        renewed.status.success(),
        "{}\n{}",
        report(&renewed),
        site.log()
    );
    assert_ne!(certificate_in(&second), certificate_in(&first));
    let shown = site.show(device);
    let ledger = shown["certificates"].as_array().unwrap();
    assert_eq!(ledger.len(), 2, "{shown}");
    let second_id = ledger[1]["id"].as_i64().unwrap();
    assert_eq!(ledger[1]["serial"], serial_hex(&certificate_in(&second)));
    assert_eq!(ledger[0]["replaced_by"], second_id, "{shown}");
    assert_eq!(ledger[1]["replaced_by"], serde_json::Value::Null);
    assert_eq!(shown["operation"], "none");
    // The planner now judges the new LSC only.
    let next = renew_plan(&site, &["--expiring-before", "9999-12-31", "--dry-run"]);
    assert_eq!(planned_devices(&next), [(device.to_owned(), second_id)]);

    // Bad input: exit 2.
    for bad in [
        &["--used-share", "1.5"][..],
        &["--used-share", "0"][..],
        &["--expiring-before", "2027-02-30"][..],
    ] {
        let mut args: Vec<&OsStr> = vec![
            "renew".as_ref(),
            "plan".as_ref(),
            "--db".as_ref(),
            site.db(),
        ];
        args.extend(bad.iter().map(OsStr::new));
        let output = capf(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{bad:?}: {}",
            report(&output)
        );
    }
}

#[test]
fn serve_with_renew_used_share_schedules_due_renewals_by_itself() {
    let device = "SEP0000000000C2";
    let mut site = Site::new("serve-renew");
    // One-day LSCs: a share of 0.000001 is one second (rounded up).
    site.start(&["--validity-days", "1"]);
    let first = site.dir.join("first.pem");
    site.add(device, "null");
    ok(site.enroll(device, &first, None));
    // Wait (polling, no timing assertion) until the library says the LSC
    // is past that share, so the server's own pass must find it.
    let started = std::time::Instant::now();
    loop {
        let dry = renew_plan(&site, &["--used-share", "0.000001", "--dry-run"]);
        if !planned_devices(&dry).is_empty() {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "never due"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(site.show(device)["operation"], "none");
    // Without the option, a restarted server schedules nothing ...
    site.start(&[]);
    assert_eq!(site.show(device)["operation"], "none");
    // ... with it, its start-up pass (done before it announces it is
    // ready) schedules the renewal.
    site.start(&["--renew-used-share", "0.000001"]);
    let shown = site.show(device);
    assert_eq!(shown["operation"], "install", "{shown}\n{}", site.log());
    assert_eq!(shown["auth_mode"], "lsc");
    assert!(site.log().contains("renewal scheduled"), "{}", site.log());
}

/// `openssl req`: a key (PKCS#8 PEM) and a CSR for it, with `key_args`.
fn openssl_csr(dir: &Path, name: &str, key_args: &[&str]) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let mut args: Vec<&OsStr> = vec!["req".as_ref(), "-new".as_ref(), "-nodes".as_ref()];
    args.extend(key_args.iter().map(OsStr::new));
    args.extend([
        "-keyout".as_ref(),
        key.as_os_str(),
        "-out".as_ref(),
        csr.as_os_str(),
        "-subj".as_ref(),
        "/CN=ignored-by-capf".as_ref(),
    ]);
    ok(openssl(&args));
    (key, csr)
}

/// The SPKI DER of a CSR, as openssl reads it (`openssl req -pubkey`).
fn openssl_csr_spki(csr: &Path) -> Vec<u8> {
    let output = ok(openssl(&[
        "req".as_ref(),
        "-in".as_ref(),
        csr.as_os_str(),
        "-pubkey".as_ref(),
        "-noout".as_ref(),
    ]));
    let (label, der) = der::pem::decode_vec(&output.stdout).unwrap();
    assert_eq!(label, "PUBLIC KEY");
    der
}

fn cert_issue(site: &Site, extra: &[&OsStr]) -> Output {
    let mut args: Vec<&OsStr> = vec![
        "cert".as_ref(),
        "issue".as_ref(),
        "--db".as_ref(),
        site.db(),
        "--cert".as_ref(),
        site.cert.as_os_str(),
        "--key".as_ref(),
        site.key.as_os_str(),
    ];
    args.extend(extra);
    capf(&args)
}

#[test]
fn a_client_certificate_from_an_openssl_csr_and_its_pkcs12_open_in_openssl() {
    use der::{Decode, Encode};
    let site = Site::new("issue");
    for (name, key_args) in [
        (
            "CSFALICE",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"][..],
        ),
        ("CSFBOB", &["-newkey", "rsa:2048"][..]),
    ] {
        let (key, csr) = openssl_csr(&site.dir, name, key_args);
        let out = site.dir.join(format!("{name}.pem"));
        let p12 = site.dir.join(format!("{name}.p12"));
        let issued = cert_issue(
            &site,
            &[
                "--csr".as_ref(),
                csr.as_os_str(),
                "--device".as_ref(),
                name.as_ref(),
                "--out".as_ref(),
                out.as_os_str(),
                "--p12".as_ref(),
                p12.as_os_str(),
                "--client-key".as_ref(),
                key.as_os_str(),
            ],
        );
        assert!(issued.status.success(), "{name}: {}", report(&issued));

        // Read with x509-cert (the issuer assembles DER by hand): the
        // CSR's key byte for byte, CN and SAN URI = the device name.
        let der = certificate_in(&out);
        let certificate = x509_cert::Certificate::from_der(&der).unwrap();
        let tbs = &certificate.tbs_certificate;
        assert_eq!(
            tbs.subject_public_key_info.to_der().unwrap(),
            openssl_csr_spki(&csr),
            "{name}"
        );
        assert!(
            tbs.subject.to_string().contains(&format!("CN={name}")),
            "{}",
            tbs.subject
        );
        let san = tbs
            .extensions
            .as_ref()
            .unwrap()
            .iter()
            .find(|extension| extension.extn_id.to_string() == "2.5.29.17")
            .unwrap();
        assert!(
            san.extn_value
                .as_bytes()
                .windows(name.len())
                .any(|window| window == name.as_bytes())
        );
        // openssl: the certificate chains to the CAPF CA.
        let verified = ok(openssl(&[
            "verify".as_ref(),
            "-CAfile".as_ref(),
            site.cert.as_os_str(),
            out.as_os_str(),
        ]));
        assert!(
            text(&verified.stdout).contains(": OK"),
            "{}",
            report(&verified)
        );

        // The PKCS#12 opens with the empty password and holds the
        // certificate and a key.
        let opened = ok(openssl(&[
            "pkcs12".as_ref(),
            "-in".as_ref(),
            p12.as_os_str(),
            "-passin".as_ref(),
            "pass:".as_ref(),
            "-nodes".as_ref(),
        ]));
        let pem = text(&opened.stdout);
        assert!(pem.contains("-----BEGIN PRIVATE KEY-----"), "{pem}");
        let blocks: Vec<Vec<u8>> = pem
            .split("-----BEGIN CERTIFICATE-----")
            .skip(1)
            .map(|rest| {
                let block = format!(
                    "-----BEGIN CERTIFICATE-----{}-----END CERTIFICATE-----\n",
                    rest.split("-----END CERTIFICATE-----").next().unwrap()
                );
                der::pem::decode_vec(block.as_bytes()).unwrap().1
            })
            .collect();
        assert!(
            blocks.contains(&der),
            "{name}: certificate not in the PKCS#12"
        );

        // In the ledger, installed, for a device added on the way.
        let shown = site.show(name);
        assert_eq!(shown["certificates"][0]["serial"], serial_hex(&der));
        assert_eq!(shown["certificates"][0]["state"], "installed");
    }

    // With a password file: that password opens it, another does not.
    let (key, csr) = openssl_csr(
        &site.dir,
        "CSFCAROL",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let password = site.dir.join("p12-password");
    std::fs::write(&password, "s3cret-phrase\n").unwrap();
    let p12 = site.dir.join("carol.p12");
    ok(cert_issue(
        &site,
        &[
            "--csr".as_ref(),
            csr.as_os_str(),
            "--device".as_ref(),
            "CSFCAROL".as_ref(),
            "--out".as_ref(),
            site.dir.join("carol.pem").as_os_str(),
            "--p12".as_ref(),
            p12.as_os_str(),
            "--client-key".as_ref(),
            key.as_os_str(),
            "--p12-password-file".as_ref(),
            password.as_os_str(),
        ],
    ));
    let right = openssl(&[
        "pkcs12".as_ref(),
        "-in".as_ref(),
        p12.as_os_str(),
        "-passin".as_ref(),
        "pass:s3cret-phrase".as_ref(),
        "-nodes".as_ref(),
    ]);
    assert!(right.status.success(), "{}", report(&right));
    let wrong = openssl(&[
        "pkcs12".as_ref(),
        "-in".as_ref(),
        p12.as_os_str(),
        "-passin".as_ref(),
        "pass:".as_ref(),
        "-nodes".as_ref(),
    ]);
    assert!(!wrong.status.success(), "{}", report(&wrong));

    // A key that is not the CSR's, and a CSR whose signature is broken:
    // exit 2, nothing written, nothing in the ledger.
    let (other_key, _) = openssl_csr(
        &site.dir,
        "other",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let mismatch_out = site.dir.join("mismatch.pem");
    let mismatch = cert_issue(
        &site,
        &[
            "--csr".as_ref(),
            csr.as_os_str(),
            "--device".as_ref(),
            "CSFDAVE".as_ref(),
            "--out".as_ref(),
            mismatch_out.as_os_str(),
            "--p12".as_ref(),
            site.dir.join("mismatch.p12").as_os_str(),
            "--client-key".as_ref(),
            other_key.as_os_str(),
        ],
    );
    assert_eq!(mismatch.status.code(), Some(2), "{}", report(&mismatch));
    assert!(
        text(&mismatch.stderr).contains("does not match"),
        "{}",
        report(&mismatch)
    );
    assert!(!mismatch_out.exists());
    let mut tampered = {
        let pem = std::fs::read_to_string(&csr).unwrap();
        der::pem::decode_vec(pem.as_bytes()).unwrap().1
    };
    let last = tampered.len() - 3;
    tampered[last] ^= 0x01;
    let tampered_csr = site.dir.join("tampered.csr");
    std::fs::write(&tampered_csr, &tampered).unwrap();
    let refused = cert_issue(
        &site,
        &[
            "--csr".as_ref(),
            tampered_csr.as_os_str(),
            "--device".as_ref(),
            "CSFDAVE".as_ref(),
            "--out".as_ref(),
            mismatch_out.as_os_str(),
        ],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", report(&refused));
    assert!(!mismatch_out.exists());
    let shown = capf(&[
        "device".as_ref(),
        "show".as_ref(),
        "--db".as_ref(),
        site.db(),
        "CSFDAVE".as_ref(),
    ]);
    assert_eq!(shown.status.code(), Some(2), "{}", report(&shown));
}

/// The validity (notAfter - notBefore, seconds) of the first certificate of
/// a PEM file, read with x509-cert.
fn validity_seconds(path: &Path) -> u64 {
    use der::Decode;
    let der = certificate_in(path);
    let certificate = x509_cert::Certificate::from_der(&der).unwrap();
    let validity = certificate.tbs_certificate.validity;
    let start = validity.not_before.to_unix_duration().as_secs();
    let end = validity.not_after.to_unix_duration().as_secs();
    end - start
}

fn settings(site: &Site, args: &[&str]) -> Output {
    let mut all: Vec<&OsStr> = vec!["settings".as_ref()];
    all.extend(args.iter().take(1).map(OsStr::new));
    all.extend(["--db".as_ref(), site.db()]);
    all.extend(args.iter().skip(1).map(OsStr::new));
    capf(&all)
}

#[test]
fn registry_settings_are_validated_shown_and_used_by_serve_unless_a_flag_overrides_them() {
    let mut site = Site::new("settings");
    site.add("SEP0000000000D1", "null");
    site.add("SEP0000000000D2", "null");
    // Defaults until set.
    let shown: serde_json::Value =
        serde_json::from_slice(&ok(settings(&site, &["show", "--json"])).stdout).unwrap();
    assert_eq!(
        shown,
        serde_json::json!({
            "validity-days": "1825",
            "key-generation-timeout": "3600",
            "key-generation-retries": "0",
            "max-failed-attempts": "5",
            "renew-used-share": "off",
        })
    );
    ok(settings(&site, &["set", "validity-days", "2"]));
    ok(settings(&site, &["set", "renew-used-share", "0.5"]));
    // Refusals: exit 2, a clear reason, nothing changed.
    for (args, expected) in [
        (
            &["set", "validity", "2"][..],
            "unknown setting \"validity\"",
        ),
        (&["set", "validity-days", "0"][..], "from 1 to 3650"),
        (&["set", "renew-used-share", "2"][..], "at most 1"),
        (
            &["set", "max-failed-attempts", "many"][..],
            "0 (never lock)",
        ),
    ] {
        let output = settings(&site, args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            report(&output)
        );
        assert!(
            text(&output.stderr).contains(expected),
            "{args:?}: {}",
            report(&output)
        );
    }
    let table = text(&ok(settings(&site, &["show"])).stdout);
    assert!(table.contains("validity-days           2"), "{table}");
    assert!(table.contains("renew-used-share        0.5"), "{table}");
    // A server without flags issues two-day LSCs, the registry's setting ...
    site.start(&[]);
    let first = site.dir.join("first.pem");
    ok(site.enroll("SEP0000000000D1", &first, None));
    assert_eq!(validity_seconds(&first), 2 * 86_400);
    // ... and its flag overrides the setting for that server only.
    site.start(&["--validity-days", "3", "--renew-used-share", "off"]);
    let second = site.dir.join("second.pem");
    ok(site.enroll("SEP0000000000D2", &second, None));
    assert_eq!(validity_seconds(&second), 3 * 86_400);
    let after: serde_json::Value =
        serde_json::from_slice(&ok(settings(&site, &["show", "--json"])).stdout).unwrap();
    assert_eq!(after["validity-days"], "2");
    assert_eq!(after["renew-used-share"], "0.5");
}

/// The key algorithm of the first certificate of a PEM file, read with
/// x509-cert: "rsa" or "ec".
fn key_family(path: &Path) -> &'static str {
    use der::Decode;
    let der = certificate_in(path);
    let certificate = x509_cert::Certificate::from_der(&der).unwrap();
    match certificate
        .tbs_certificate
        .subject_public_key_info
        .algorithm
        .oid
        .to_string()
        .as_str()
    {
        "1.2.840.113549.1.1.1" => "rsa",
        "1.2.840.10045.2.1" => "ec",
        other => panic!("unexpected key algorithm {other}"),
    }
}

#[test]
fn key_order_falls_back_to_rsa_only_when_ec_is_preferred_and_fails_ec_only_on_a_v3_phone() {
    let mut site = Site::new("key-order");
    let add = |device: &str, order: &str, key: Option<&str>| {
        let mut args: Vec<&OsStr> = vec![
            "device".as_ref(),
            "add".as_ref(),
            "--db".as_ref(),
            site.db(),
            device.as_ref(),
            "--operation".as_ref(),
            "install".as_ref(),
            "--auth".as_ref(),
            "null".as_ref(),
            "--key-order".as_ref(),
            order.as_ref(),
        ];
        if let Some(key) = key {
            args.extend(["--key".as_ref(), OsStr::new(key)]);
        }
        capf(&args)
    };
    ok(add("SEP0000000000E1", "ec-preferred", Some("rsa:3072")));
    ok(add("SEP0000000000E2", "ec-preferred", None));
    ok(add("SEP0000000000E3", "ec-only", Some("ec:p384")));
    // An RSA key does not fit EC only: refused, exit 2.
    let refused = add("SEP0000000000E4", "ec-only", Some("rsa:2048"));
    assert_eq!(refused.status.code(), Some(2), "{}", report(&refused));
    assert!(text(&refused.stderr).contains("does not fit --key-order ec-only"));
    let shown = site.show("SEP0000000000E1");
    assert_eq!(shown["key"], "ec:p256+rsa:3072");
    assert_eq!(shown["key_order"], "ec-preferred");
    site.start(&[]);
    // A phone that generates RSA only (`--key rsa` refuses EC requests):
    // EC preferred falls back to RSA in the same session ...
    fn enroll_rsa_only(site: &Site, device: &str, out: &Path) -> Output {
        capf(&[
            "enroll".as_ref(),
            "--server".as_ref(),
            site.server().capf_address().as_ref(),
            "--ca".as_ref(),
            site.cert.as_os_str(),
            "--device".as_ref(),
            device.as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
            "--key".as_ref(),
            "rsa".as_ref(),
            "--timeout".as_ref(),
            "20".as_ref(),
        ])
    }
    let fallback = site.dir.join("fallback.pem");
    ok(enroll_rsa_only(&site, "SEP0000000000E1", &fallback));
    assert_eq!(key_family(&fallback), "rsa");
    assert_eq!(site.show("SEP0000000000E1")["operation"], "none");
    // ... a phone that can do EC gets EC ...
    let preferred = site.dir.join("preferred.pem");
    ok(site.enroll("SEP0000000000E2", &preferred, None));
    assert_eq!(key_family(&preferred), "ec");
    // ... and EC only on a phone without EC (CAPF version 3) fails with
    // Unified CM's status; the operation stays scheduled.
    let failed = enroll_rsa_only(&site, "SEP0000000000E3", &site.dir.join("never.pem"));
    assert!(!failed.status.success(), "{}", report(&failed));
    let shown = site.show("SEP0000000000E3");
    assert_eq!(
        shown["operation_status_text"], "Upgrade Failed: No Support for EC only in CAPF version 3",
        "{shown}"
    );
    assert_eq!(
        shown["operation_status"],
        "upgrade-failed-no-support-for-ec-only-in-capf-version-3"
    );
    assert_eq!(shown["operation"], "install");
    // The phone was asked once; with two key-generation retries (a flag
    // over the registry setting) it is asked three times in one session.
    let asked = |output: &Output| {
        text(&output.stderr)
            .matches("the server asked for a key family --key excludes")
            .count()
    };
    assert_eq!(asked(&failed), 1, "{}", report(&failed));
    site.start(&["--key-generation-retries", "2"]);
    let retried = enroll_rsa_only(&site, "SEP0000000000E3", &site.dir.join("never.pem"));
    assert!(!retried.status.success(), "{}", report(&retried));
    assert_eq!(asked(&retried), 3, "{}", report(&retried));
    assert_eq!(
        site.show("SEP0000000000E3")["operation_status"],
        "upgrade-failed-no-support-for-ec-only-in-capf-version-3"
    );
    let csv = ok(capf(&[
        "report".as_ref(),
        "--db".as_ref(),
        site.db(),
        "--csv".as_ref(),
    ]));
    let csv = text(&csv.stdout);
    assert!(
        csv.lines().any(|line| line.starts_with("SEP0000000000E1,")
            && line.contains("\"EC Preferred, RSA Backup\"")),
        "{csv}"
    );
}
