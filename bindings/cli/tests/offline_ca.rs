//! The offline CA end to end, through real `capf serve --offline-ca` on
//! loopback and real `capf enroll` phones:
//!
//! * a phone enrolls: its request is kept (exit 3, "certificate pending at
//!   the CA", the key kept owner-only beside `--out`, status "Operation
//!   Pending", no failure counted);
//! * `capf ca csr list` / `export`: the phone-signed CSR verifies with
//!   `openssl req -verify` and carries exactly the phone's pending key;
//!   without a CSR the public key and the printed OpenSSL 3 recipe
//!   (`-force_pubkey`) make the certificate;
//! * both are signed by an OpenSSL test CA that is the configured issuer,
//!   imported (`capf ca import`; each wrong certificate refused with its
//!   reason), and the phones' next sessions install them without a new
//!   key: the installed certificate is the imported one, its key the
//!   pending key; the ledger holds each once;
//! * a phone that comes back with a newer key makes its old request
//!   stale: listed with `--stale`, refused at import, deleted with
//!   `delete --stale`.

mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{capf, capf_ca_files, describe, scratch, text};

const SIGNED: &str = "SEP0000000000C1";
const BARE: &str = "SEP0000000000C2";
const STALE: &str = "SEP0000000000C3";
/// Authenticated by a one-time string: kept while pending, consumed at
/// completion.
const KEYED: &str = "SEP0000000000C4";
const STRING: &str = "481516";

fn ok(output: Output) -> Output {
    assert!(output.status.success(), "{}", describe(&output));
    output
}

fn openssl(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        describe(&output)
    );
    output
}

struct Site {
    dir: PathBuf,
    db: PathBuf,
    cert: PathBuf,
    server: Option<support::ServeProcess>,
}

impl Site {
    /// A site whose registry is `database` (a PostgreSQL URL), or a SQLite
    /// file in the scratch folder.
    fn new(test: &str, database: Option<String>) -> Self {
        let dir = scratch("offline-ca", test);
        let (cert, key) = capf_ca_files(&dir, "capf", 0x000F_F1CE);
        // The offline CA: made and used by OpenSSL only.
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-subj",
                "/CN=Offline CA",
                "-days",
                "30",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
            ],
        );
        let db = database.map_or_else(|| dir.join("capf.db"), PathBuf::from);
        // Beside the files, whatever the backend (a URL has no folder).
        let auth_key = dir.join("capf.auth-key");
        for device in [SIGNED, BARE, STALE] {
            ok(capf(&[
                "device".as_ref(),
                "add".as_ref(),
                "--db".as_ref(),
                db.as_os_str(),
                device.as_ref(),
                "--operation".as_ref(),
                "install".as_ref(),
                "--auth".as_ref(),
                "null".as_ref(),
                "--key".as_ref(),
                "ec:p256".as_ref(),
            ]));
        }
        ok(capf(&[
            "device".as_ref(),
            "add".as_ref(),
            "--db".as_ref(),
            db.as_os_str(),
            KEYED.as_ref(),
            "--operation".as_ref(),
            "install".as_ref(),
            "--auth".as_ref(),
            "auth-string".as_ref(),
            "--auth-string".as_ref(),
            STRING.as_ref(),
            "--key".as_ref(),
            "ec:p256".as_ref(),
            "--auth-key-file".as_ref(),
            auth_key.as_os_str(),
        ]));
        let (ca_pem, ca_key) = (dir.join("ca.pem"), dir.join("ca.key"));
        let args: Vec<&OsStr> = vec![
            "serve".as_ref(),
            "--listen".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--cert".as_ref(),
            cert.as_os_str(),
            "--key".as_ref(),
            key.as_os_str(),
            "--issuer".as_ref(),
            ca_pem.as_os_str(),
            "--issuer-key".as_ref(),
            ca_key.as_os_str(),
            "--db".as_ref(),
            db.as_os_str(),
            "--offline-ca".as_ref(),
            "--auth-key-file".as_ref(),
            auth_key.as_os_str(),
        ];
        let server = support::ServeProcess::start(&args, &dir.join("serve.log"));
        Self {
            dir,
            db,
            cert,
            server: Some(server),
        }
    }

    fn out(&self, device: &str) -> PathBuf {
        self.dir.join(format!("{device}.lsc.pem"))
    }

    fn enroll(&self, device: &str, send_csr: bool) -> Output {
        let out = self.out(device);
        let server = self.server.as_ref().unwrap().capf_address().to_owned();
        let mut args: Vec<&OsStr> = vec![
            "enroll".as_ref(),
            "--server".as_ref(),
            server.as_ref(),
            "--ca".as_ref(),
            self.cert.as_os_str(),
            "--device".as_ref(),
            device.as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
            "--timeout".as_ref(),
            "20".as_ref(),
        ];
        if send_csr {
            args.push("--send-csr".as_ref());
        }
        if device == KEYED {
            args.extend([OsStr::new("--auth-string"), OsStr::new(STRING)]);
        }
        capf(&args)
    }

    fn capf_db(&self, args: &[&str]) -> Output {
        let mut all: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        all.extend(["--db".as_ref(), self.db.as_os_str()]);
        capf(&all)
    }

    fn show(&self, device: &str) -> serde_json::Value {
        let output = ok(self.capf_db(&["device", "show", device, "--json"]));
        serde_json::from_slice(&output.stdout).unwrap()
    }

    fn requests(&self, stale: bool) -> Vec<serde_json::Value> {
        let mut args = vec!["ca", "csr", "list", "--json"];
        if stale {
            args.push("--stale");
        }
        let output = ok(self.capf_db(&args));
        serde_json::from_slice::<serde_json::Value>(&output.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    fn import(&self, file: &str) -> Output {
        let path = self.dir.join(file);
        capf(&[
            "ca".as_ref(),
            "import".as_ref(),
            "--db".as_ref(),
            self.db.as_os_str(),
            path.as_os_str(),
        ])
    }

    fn refused(&self, file: &str, reason: &str) {
        let output = self.import(file);
        assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("refused") && stderr.contains(reason),
            "{reason}: {stderr}"
        );
    }
}

fn pending(site: &Site, device: &str, send_csr: bool) {
    let output = site.enroll(device, send_csr);
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    assert!(
        text(&output.stdout).contains("certificate pending at the CA"),
        "{}",
        describe(&output)
    );
    assert!(!site.out(device).exists(), "no LSC yet");
    let kept = PathBuf::from(format!("{}.pending-key.pem", site.out(device).display()));
    let mode = std::fs::metadata(&kept).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o600, "owner-only");
    }
    let _ = mode;
}

/// The public key of a file as OpenSSL prints it (PEM).
fn public_key(dir: &Path, args: &[&str]) -> String {
    text(&openssl(dir, args).stdout)
}

fn certificate_der(path: &Path) -> Vec<u8> {
    let pem = std::fs::read_to_string(path).unwrap();
    let start = pem.find("-----BEGIN CERTIFICATE-----").unwrap();
    let end = pem.find("-----END CERTIFICATE-----").unwrap() + 25;
    let (label, der) = der::pem::decode_vec(&pem.as_bytes()[start..end]).unwrap();
    assert_eq!(label, "CERTIFICATE");
    der
}

#[test]
fn offline_ca_round_trip() {
    round_trip(Site::new("sqlite", None));
}

/// The same on PostgreSQL (`scripts/with-postgres.sh` sets
/// `CAPF_TEST_POSTGRES_URL`; SKIPPED without it), each run on a database of
/// its own.
#[test]
fn offline_ca_round_trip_on_postgresql() {
    const URL_VARIABLE: &str = "CAPF_TEST_POSTGRES_URL";
    let Some(url) = std::env::var(URL_VARIABLE)
        .ok()
        .filter(|url| !url.is_empty())
    else {
        eprintln!("SKIPPED: {URL_VARIABLE} not set (offline_ca_round_trip_on_postgresql)");
        return;
    };
    let name = format!("capf_offline_ca_{}", std::process::id());
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let (server, _database) = url.rsplit_once('/').unwrap();
    round_trip(Site::new("postgresql", Some(format!("{server}/{name}"))));
}

fn round_trip(site: Site) {
    let dir = site.dir.clone();

    // First sessions: requests kept, keys kept pending.
    pending(&site, SIGNED, true);
    pending(&site, BARE, false);
    pending(&site, STALE, false);
    pending(&site, KEYED, true);
    let keyed = site.show(KEYED);
    assert_eq!(
        keyed["auth_string_set"], true,
        "kept while pending: {keyed}"
    );
    assert_eq!(keyed["failed_attempts"], 0, "{keyed}");
    let shown = site.show(SIGNED);
    assert_eq!(
        shown["operation_status_text"], "Operation Pending",
        "{shown}"
    );
    assert_eq!(shown["operation"], "install", "still scheduled");
    assert_eq!(shown["failed_attempts"], 0, "not a failure");
    assert_eq!(shown["certificates"].as_array().unwrap().len(), 0);

    let listed = site.requests(false);
    assert_eq!(listed.len(), 4);
    let csr_of: std::collections::HashMap<String, bool> = listed
        .iter()
        .map(|r| {
            assert_eq!(r["state"], "pending");
            (
                r["device"].as_str().unwrap().to_owned(),
                r["phone_signed_csr"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(csr_of[SIGNED]);
    assert!(!csr_of[BARE]);

    // Export.
    let export = ok(site.capf_db(&[
        "ca",
        "csr",
        "export",
        "--out",
        dir.join("out").to_str().unwrap(),
    ]));
    let printed = text(&export.stdout);
    assert!(printed.contains("-force_pubkey"), "{printed}");
    let out = dir.join("out");
    assert!(out.join(format!("{SIGNED}.csr")).exists());
    assert!(!out.join(format!("{BARE}.csr")).exists());
    for device in [SIGNED, BARE, STALE, KEYED] {
        assert!(out.join(format!("{device}.pub.pem")).exists(), "{device}");
    }

    // The CSR, checked by OpenSSL: signature, subject, key = the pending key.
    let csr = format!("out/{SIGNED}.csr");
    let verified = openssl(&dir, &["req", "-in", &csr, "-noout", "-verify"]);
    assert!(
        text(&verified.stderr).contains("verify OK")
            || text(&verified.stdout).contains("verify OK")
    );
    let subject = text(
        &openssl(
            &dir,
            &[
                "req", "-in", &csr, "-noout", "-subject", "-nameopt", "RFC2253",
            ],
        )
        .stdout,
    );
    assert_eq!(subject.trim(), format!("subject=CN={SIGNED}"));
    let pending_key = |device: &str| {
        let kept = format!("{}.lsc.pem.pending-key.pem", device);
        public_key(&dir, &["pkey", "-in", &kept, "-pubout"])
    };
    let from_csr = public_key(&dir, &["req", "-in", &csr, "-noout", "-pubkey"]);
    assert_eq!(from_csr, pending_key(SIGNED));
    let exported_bare = public_key(
        &dir,
        &["pkey", "-pubin", "-in", &format!("out/{BARE}.pub.pem")],
    );
    assert_eq!(exported_bare, pending_key(BARE));

    // Signed by the offline CA (the configured issuer), with OpenSSL only.
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-days",
            "30",
            "-set_serial",
            "0x5151",
            "-out",
            "signed.pem",
        ],
    );
    let force = |subject: &str, key: &str, serial: &str, file: &str| {
        openssl(
            &dir,
            &[
                "x509",
                "-new",
                "-subj",
                subject,
                "-force_pubkey",
                key,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-days",
                "30",
                "-set_serial",
                serial,
                "-out",
                file,
            ],
        );
    };
    force(
        &format!("/CN={BARE}"),
        &format!("out/{BARE}.pub.pem"),
        "0x5152",
        "bare.pem",
    );

    // Refusals, each with its reason.
    openssl(
        &dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "other.key",
        ],
    );
    openssl(
        &dir,
        &[
            "pkey",
            "-in",
            "other.key",
            "-pubout",
            "-out",
            "other.pub.pem",
        ],
    );
    force(
        &format!("/CN={SIGNED}"),
        "other.pub.pem",
        "0x6001",
        "wrong-key.pem",
    );
    force(
        "/CN=SEP0000000000FF",
        &format!("out/{SIGNED}.pub.pem"),
        "0x6002",
        "wrong-name.pem",
    );
    force(
        "/CN=SEP0000000000FF",
        "other.pub.pem",
        "0x6003",
        "unknown.pem",
    );
    std::fs::write(dir.join("garbage.pem"), b"not a certificate\n").unwrap();
    site.refused("wrong-key.pem", "wrong key");
    site.refused("wrong-name.pem", "wrong name");
    site.refused("unknown.pem", "unknown device");
    site.refused("garbage.pem", "not a certificate");
    for device in [SIGNED, BARE] {
        assert_eq!(
            site.show(device)["certificates"].as_array().unwrap().len(),
            0
        );
    }

    // Imported: into the ledger at once (pending), and only once.
    let keyed_csr = format!("out/{KEYED}.csr");
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            &keyed_csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-days",
            "30",
            "-set_serial",
            "0x5153",
            "-out",
            "keyed.pem",
        ],
    );
    ok(site.import("signed.pem"));
    ok(site.import("bare.pem"));
    ok(site.import("keyed.pem"));
    site.refused("signed.pem", "already imported");
    let ledger = site.show(SIGNED)["certificates"].clone();
    assert_eq!(ledger.as_array().unwrap().len(), 1);
    assert_eq!(ledger[0]["serial"], "5151");
    assert_eq!(ledger[0]["state"], "pending");

    // Next sessions: the certificate arrives without a new key.
    for (device, file) in [
        (SIGNED, "signed.pem"),
        (BARE, "bare.pem"),
        (KEYED, "keyed.pem"),
    ] {
        let kept = pending_key(device);
        let output = site.enroll(device, false);
        assert!(output.status.success(), "{}", describe(&output));
        assert!(
            text(&output.stdout).contains("LSC installed"),
            "{}",
            describe(&output)
        );
        let installed = site.out(device);
        assert_eq!(
            certificate_der(&installed),
            certificate_der(&dir.join(file))
        );
        // The installed key is the pending key (OpenSSL reads both).
        let lsc_key = public_key(
            &dir,
            &["pkey", "-in", installed.to_str().unwrap(), "-pubout"],
        );
        assert_eq!(lsc_key, kept, "{device}");
        let lsc_cert_key = public_key(
            &dir,
            &[
                "x509",
                "-in",
                installed.to_str().unwrap(),
                "-noout",
                "-pubkey",
            ],
        );
        assert_eq!(lsc_cert_key, kept, "{device}");
        assert!(!PathBuf::from(format!("{}.pending-key.pem", installed.display())).exists());
        let shown = site.show(device);
        let ledger = shown["certificates"].as_array().unwrap().clone();
        assert_eq!(ledger.len(), 1, "the ledger holds it once: {shown}");
        assert_eq!(ledger[0]["state"], "installed");
        assert_eq!(shown["operation"], "none", "{shown}");
    }

    assert_eq!(
        site.show(KEYED)["auth_string_set"],
        false,
        "the one-time string is consumed when the operation completes"
    );

    // Stale: the third phone comes back before its certificate and makes a
    // new key; its old request goes stale.
    let old_key = format!("out/{STALE}.pub.pem");
    force(&format!("/CN={STALE}"), &old_key, "0x7001", "stale.pem");
    pending(&site, STALE, false);
    let stale = site.requests(true);
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(stale[0]["device"], STALE);
    assert_eq!(stale[0]["state"], "stale");
    site.refused("stale.pem", "stale");
    let deleted = ok(site.capf_db(&["ca", "csr", "delete", "--stale"]));
    assert!(
        text(&deleted.stdout).contains("1 stale"),
        "{}",
        describe(&deleted)
    );
    assert!(site.requests(true).is_empty());
    let left: Vec<_> = site
        .requests(false)
        .iter()
        .map(|r| {
            (
                r["device"].as_str().unwrap().to_owned(),
                r["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        left.contains(&(STALE.to_owned(), "pending".to_owned())),
        "{left:?}"
    );
    assert!(
        left.contains(&(SIGNED.to_owned(), "imported".to_owned())),
        "{left:?}"
    );
    // The server logs a deferral as such, not as a failed session.
    let log = site.server.as_ref().unwrap().log();
    let deferrals: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("certificate pending at the offline CA"))
        .collect();
    assert_eq!(deferrals.len(), 5, "{log}");
    assert!(
        deferrals
            .iter()
            .all(|line| !line.contains("session failed")),
        "{log}"
    );
}
