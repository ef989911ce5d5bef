//! Bad input of every kind to the `capf` subcommands: missing files,
//! directories instead of files, empty files, garbage, numbers out of range,
//! impossible addresses, unreachable servers. Each must end with exit 2, a
//! `capf:` message on stderr that names the bad argument or file (each row
//! says which words), no panic, within a bounded time.
//!
//! `enroll` and `tvs verify` rows talk to a live `capf serve` on loopback
//! where the device is scheduled and the certificate registered: a bad
//! argument that were ignored would reach a server ready to say yes, and the
//! row would fail with exit 0. Each of those tables ends with a positive
//! control: the same command with good arguments succeeds.

mod support;

use std::ffi::OsString;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{ServeProcess, scratch, text, vectors};

/// Longest any bad invocation may take (the unreachable-server cases use
/// `--timeout 2`); beyond it the process is killed and the test fails.
const HANG: Duration = Duration::from_secs(30);

/// Fixture names a table line may use; each becomes its path.
const FIXTURES: &[&str] = &[
    "dir",
    "empty",
    "garbage",
    "garbage.pem",
    "cert.pem",
    "capf.pem",
    "tvs.pem",
    "ccm.pem",
    "CTLFile.tlv",
    "badsig.tlv",
    "bad-import",
    "missing",
    "missing/out.pem",
    "db",
    "out.pem",
];

/// The files the table refers to, in one scratch folder, and the live
/// server addresses (`CAPF`, `TVS` in a line) once one is started.
struct Fixtures {
    folder: PathBuf,
    capf: Option<String>,
    tvs: Option<String>,
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
        let keys = vectors().join("tlv/keys");
        for (from, to) in [
            ("sast.pem", "cert.pem"),
            ("capf.pem", "capf.pem"),
            ("tvs.pem", "tvs.pem"),
            ("ccm-tftp.pem", "ccm.pem"),
        ] {
            std::fs::copy(keys.join(from), folder.join(to)).unwrap();
        }
        // A CTL whose CAPF record is capf.pem, and a copy with a broken
        // signature.
        std::fs::copy(
            vectors().join("tlv/ctl-sha1.tlv"),
            folder.join("CTLFile.tlv"),
        )
        .unwrap();
        std::fs::copy(
            vectors().join("tlv/ctl-sha1-badsig.tlv"),
            folder.join("badsig.tlv"),
        )
        .unwrap();
        std::fs::write(
            folder.join("bad-import"),
            "SEP001122334455 --operation install --auth bogus\n",
        )
        .unwrap();
        Self {
            folder,
            capf: None,
            tvs: None,
        }
    }

    /// Arguments: words naming a fixture become its path, the rest stay.
    fn args(&self, line: &str) -> Vec<OsString> {
        line.split(' ').map(|word| self.resolve(word)).collect()
    }

    fn resolve(&self, word: &str) -> OsString {
        match word {
            "CAPF" => return self.capf.clone().expect("no CAPF server started").into(),
            "TVS" => return self.tvs.clone().expect("no TVS server started").into(),
            _ => {}
        }
        // `KIND:FILE` and `FILE:ROLE` forms name a fixture too.
        if let Some((prefix, rest)) = word.split_once(':') {
            if FIXTURES.contains(&rest) {
                return format!("{prefix}:{}", self.path(rest).display()).into();
            }
            if FIXTURES.contains(&prefix) && !rest.is_empty() && !rest.contains('.') {
                return format!("{}:{rest}", self.path(prefix).display()).into();
            }
        }
        if FIXTURES.contains(&word) {
            return self.path(word).into_os_string();
        }
        word.into()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.folder.join(name)
    }

    /// Runs `capf serve` on loopback port 0 with `args` (fixture names
    /// resolved) and remembers its addresses for `CAPF` and `TVS`.
    fn serve(&mut self, line: &str) -> ServeProcess {
        let mut args = self.args(line);
        args.extend(["--listen".into(), "127.0.0.1:0".into()]);
        let server = ServeProcess::start(&args, &self.path("serve.log"));
        self.capf = Some(server.capf_address().to_owned());
        if line.contains("--tvs-listen") {
            self.tvs = Some(server.tvs_address().to_owned());
        }
        server
    }

    /// `capf LINE` that must succeed; its stdout.
    fn ok(&self, line: &str) -> String {
        let ended = run(&self.args(line), &self.folder);
        assert_eq!(ended.code, Some(0), "capf {line}\n{}", ended.stderr);
        ended.stdout
    }
}

/// What an invocation ended with.
struct Ended {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `capf` with stdin closed, killing it after [`HANG`].
fn run(args: &[OsString], cwd: &Path) -> Ended {
    let mut child = Command::new(env!("CARGO_BIN_EXE_capf"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pipe = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = pipe(Box::new(child.stdout.take().unwrap()));
    let stderr = pipe(Box::new(child.stderr.take().unwrap()));
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
        stdout: text(&stdout.join().unwrap()),
        stderr: text(&stderr.join().unwrap()),
    }
}

/// One bad invocation and the words its message must contain (a fixture
/// name stands for its path): the bad argument or file and the cause.
type Row = (&'static str, &'static [&'static str]);

/// Runs each row and checks exit 2, one `capf:` message naming what the
/// row expects, nothing on stdout and no panic; reports every failure at
/// once.
fn check_rows(fixtures: &Fixtures, table: &[Row]) {
    let mut failures = Vec::new();
    for (line, words) in table {
        let ended = run(&fixtures.args(line), &fixtures.folder);
        let missing: Vec<String> = words
            .iter()
            .map(|word| fixtures.resolve(word).to_string_lossy().into_owned())
            .filter(|word| !ended.stderr.contains(word.as_str()))
            .collect();
        let ok = ended.code == Some(2)
            && ended.stderr.starts_with("capf: ")
            && missing.is_empty()
            && ended.stdout.is_empty()
            && !ended.stderr.contains("panicked")
            && !ended.stderr.contains("RUST_BACKTRACE");
        if !ok {
            failures.push(format!(
                "capf {line}\n  exit {:?}\n  stderr: {}\n  stdout: {}\n  not in the message: {missing:?}",
                ended.code,
                ended.stderr.trim(),
                ended.stdout.trim(),
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Nothing was created in the place of a missing input.
    assert!(!fixtures.path("missing").exists());
}

/// A table of commands that need no server.
fn check_table(test: &str, table: &[Row]) {
    check_rows(&Fixtures::new(test), table);
}

#[test]
fn tvs_commands() {
    check_table(
        "tvs",
        &[
            (
                "tvs add --db db --role sast missing",
                &["cannot read", "missing"],
            ),
            ("tvs add --db db --role sast dir", &["cannot read", "dir"]),
            (
                "tvs add --db db --role sast empty",
                &["empty", "the file is empty"],
            ),
            (
                "tvs add --db db --role sast garbage",
                &["garbage", "not a DER X.509 certificate"],
            ),
            (
                "tvs add --db db --role sast garbage.pem",
                &["garbage.pem", "not valid base64"],
            ),
            (
                "tvs add --db db --role sast --ttl 99999999999 cert.pem",
                &["'99999999999'", "--ttl"],
            ),
            (
                "tvs add --db db --role sast --ttl 0 cert.pem",
                &["--ttl must be 1-2592000"],
            ),
            ("tvs add --db db --role sast --ttl -1 cert.pem", &["'-1'"]),
            (
                "tvs add --db db --role bogus cert.pem",
                &["unknown role \"bogus\""],
            ),
            (
                "tvs add --db garbage --role sast cert.pem",
                &["--db", "garbage", "not a database"],
            ),
            (
                "tvs add --db dir --role sast cert.pem",
                &["--db", "dir", "unable to open"],
            ),
            (
                "tvs list --db garbage",
                &["--db", "garbage", "not a database"],
            ),
            ("tvs list --db dir", &["no database at", "dir"]),
            // Read-only and removal commands do not create a database.
            ("tvs list --db missing", &["no database at", "missing"]),
            (
                "tvs remove --db missing cert.pem",
                &["no database at", "missing"],
            ),
            (
                "tvs revoke --db missing cert.pem",
                &["no database at", "missing"],
            ),
            ("tvs remove --db db missing", &["cannot read", "missing"]),
            ("tvs remove --db db empty", &["empty", "the file is empty"]),
            (
                "tvs revoke --db db garbage",
                &["garbage", "not a DER X.509 certificate"],
            ),
            ("tvs revoke --db db dir", &["cannot read", "dir"]),
            (
                "tvs revoke --db garbage cert.pem",
                &["--db", "garbage", "not a database"],
            ),
            ("tvs frobnicate", &["unrecognized subcommand 'frobnicate'"]),
        ],
    );
}

/// `capf tvs verify` against a live TVS server where `ccm.pem` is
/// registered: an ignored bad argument would get "status: valid", exit 0.
#[test]
fn tvs_verify() {
    let mut fixtures = Fixtures::new("tvs_verify");
    fixtures.ok("tvs add --db db --role ccm ccm.pem");
    let server = fixtures.serve("serve --db db --cert capf.pem --key capf.pem --tvs-listen 127.0.0.1:0 --tvs-cert tvs.pem --tvs-key tvs.pem");
    check_rows(
        &fixtures,
        &[
            (
                "tvs verify --server 127.0.0.1:1 --ca tvs.pem --timeout 2 ccm.pem",
                &["cannot connect to 127.0.0.1:1"],
            ),
            (
                "tvs verify --server 999.1.1.1:99999 --ca tvs.pem --timeout 2 ccm.pem",
                &["999.1.1.1:99999"],
            ),
            (
                "tvs verify --server TVS --ca missing --timeout 2 ccm.pem",
                &["cannot read", "missing"],
            ),
            (
                "tvs verify --server TVS --ca dir --timeout 2 ccm.pem",
                &["cannot read", "dir"],
            ),
            (
                "tvs verify --server TVS --ca empty --timeout 2 ccm.pem",
                &["empty", "the file is empty"],
            ),
            (
                "tvs verify --server TVS --ca garbage --timeout 2 ccm.pem",
                &["garbage", "neither a CTL/ITL nor certificates"],
            ),
            (
                "tvs verify --server TVS --ca garbage.pem --timeout 2 ccm.pem",
                &["garbage.pem", "not valid base64"],
            ),
            (
                "tvs verify --server TVS --ca badsig.tlv --timeout 2 ccm.pem",
                &["--ca", "badsig.tlv", "does not verify"],
            ),
            // The CAPF certificate does not vouch for the TVS server.
            (
                "tvs verify --server TVS --ca capf.pem --timeout 2 ccm.pem",
                &["TVS", "not trusted"],
            ),
            (
                "tvs verify --server TVS --ca tvs.pem --timeout 2 missing",
                &["cannot read", "missing"],
            ),
            (
                "tvs verify --server TVS --ca tvs.pem --timeout 2 dir",
                &["cannot read", "dir"],
            ),
            (
                "tvs verify --server TVS --ca tvs.pem --timeout 2 empty",
                &["empty", "the file is empty"],
            ),
            (
                "tvs verify --server TVS --ca tvs.pem --timeout 2 garbage",
                &["garbage", "not a DER X.509 certificate"],
            ),
            (
                "tvs verify --server TVS --ca tvs.pem --timeout 2 garbage.pem",
                &["garbage.pem", "not valid base64"],
            ),
            (
                "tvs verify --server TVS --ca tvs.pem --timeout 99999999999999999999 ccm.pem",
                &["'99999999999999999999'", "--timeout"],
            ),
            (
                "tvs verify --server TVS --ca tvs.pem --device bogus ccm.pem",
                &["--device", "CP-"],
            ),
        ],
    );
    // Positive control: the same command with good arguments, against the
    // same server, says valid.
    let said = fixtures.ok("tvs verify --server TVS --ca tvs.pem --timeout 20 --device CP-8845-SEP001122334455 ccm.pem");
    assert_eq!(
        said,
        "status: valid\nroles: CCM\nttl: 86400\n",
        "{}",
        server.log()
    );
    // Only two connections ever reached the TVS listener: the row whose
    // --ca does not vouch for the server, and the control. Every other row
    // stopped at its own bad argument before connecting.
    let peers = |log: &str| {
        log.lines()
            .filter_map(|line| line.split("tvs{peer=").nth(1))
            .filter_map(|rest| rest.split('}').next())
            .map(str::to_owned)
            .collect::<std::collections::BTreeSet<String>>()
    };
    let started = Instant::now();
    while peers(&server.log()).len() < 2 && started.elapsed() < HANG {
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = server.log();
    assert_eq!(peers(&log).len(), 2, "{log}");
    assert_eq!(log.matches("TVS answered VALID").count(), 1, "{log}");
}

#[test]
fn trust_explain() {
    check_table(
        "trust",
        &[
            (
                "trust explain --purpose bogus --store ctl:CTLFile.tlv cert.pem",
                &["unknown purpose \"bogus\""],
            ),
            (
                "trust explain --purpose tls-server:bogus --store ctl:CTLFile.tlv cert.pem",
                &["unknown purpose \"tls-server:bogus\""],
            ),
            (
                "trust explain --purpose tls-client --store ctl:missing cert.pem",
                &["cannot read", "missing"],
            ),
            (
                "trust explain --purpose tls-client --store ctl:garbage cert.pem",
                &["garbage", "not a Cisco TLV file"],
            ),
            (
                "trust explain --purpose tls-client --store ctl:empty cert.pem",
                &["empty", "not a Cisco TLV file"],
            ),
            (
                "trust explain --purpose tls-client --store ctl:dir cert.pem",
                &["cannot read", "dir"],
            ),
            (
                "trust explain --purpose tls-client --store pem:empty cert.pem",
                &["empty", "holds no certificate"],
            ),
            (
                "trust explain --purpose tls-client --store pem:garbage.pem cert.pem",
                &["garbage.pem", "does not parse"],
            ),
            (
                "trust explain --purpose tls-client --store nokind:CTLFile.tlv cert.pem",
                &["unknown trust store kind \"nokind\""],
            ),
            (
                "trust explain --purpose tls-client --store CTLFile.tlv cert.pem",
                &["--store", "CTLFile.tlv", "expected KIND:PATH"],
            ),
            (
                "trust explain --purpose tls-client --store ctl:CTLFile.tlv missing",
                &["cannot read", "missing"],
            ),
            (
                "trust explain --purpose tls-client --store ctl:CTLFile.tlv dir",
                &["cannot read", "dir"],
            ),
            (
                "trust explain --purpose tls-client --store ctl:CTLFile.tlv empty",
                &["empty", "the file is empty"],
            ),
            (
                "trust explain --purpose tls-client --store ctl:CTLFile.tlv garbage",
                &["garbage", "not a DER X.509 certificate"],
            ),
            (
                "trust explain --purpose tls-client --store ctl:CTLFile.tlv garbage.pem",
                &["garbage.pem", "not valid base64"],
            ),
            (
                "trust explain --purpose tls-client --store ctl:CTLFile.tlv --at 99999999999999999999 cert.pem",
                &["--at \"99999999999999999999\""],
            ),
            (
                "trust explain --purpose tls-client --store ctl:CTLFile.tlv --at 9999-99-99T00:00:00Z cert.pem",
                &["--at \"9999-99-99T00:00:00Z\""],
            ),
            (
                "trust explain --purpose tls-client --store ctl:CTLFile.tlv --at yesterday cert.pem",
                &["--at \"yesterday\""],
            ),
            (
                "trust explain --purpose tls-client --store ctl:CTLFile.tlv --store revoked:garbage cert.pem",
                &["garbage", "neither a DER CRL nor text"],
            ),
            (
                "trust explain --purpose tls-client --store ctl:CTLFile.tlv --store revoked:missing cert.pem",
                &["cannot read", "missing"],
            ),
            (
                "trust explain --purpose tls-client --store revoked:empty cert.pem",
                &["revoked:PATH must follow the store"],
            ),
        ],
    );
}

#[test]
fn trustlist_rollover() {
    check_table(
        "rollover",
        &[
            (
                "trustlist rollover --candidate missing --installed none",
                &["cannot read", "missing"],
            ),
            (
                "trustlist rollover --candidate dir --installed none",
                &["cannot read", "dir"],
            ),
            (
                "trustlist rollover --candidate empty --installed none",
                &["empty", "not a valid trust list"],
            ),
            (
                "trustlist rollover --candidate garbage --installed none",
                &["garbage", "not a valid trust list"],
            ),
            (
                "trustlist rollover --candidate CTLFile.tlv --installed ctl:garbage",
                &["garbage", "not a valid trust list"],
            ),
            (
                "trustlist rollover --candidate CTLFile.tlv --installed ctl:missing",
                &["cannot read", "missing"],
            ),
            (
                "trustlist rollover --candidate CTLFile.tlv --installed ctl:dir",
                &["cannot read", "dir"],
            ),
            (
                "trustlist rollover --candidate CTLFile.tlv --installed empty",
                &["empty", "not a valid trust list"],
            ),
            (
                "trustlist rollover --candidate CTLFile.tlv --installed bogus:CTLFile.tlv",
                &["bogus:"],
            ),
            (
                "trustlist rollover --candidate CTLFile.tlv --installed none --tvs-store missing",
                &["--tvs-store", "missing"],
            ),
            (
                "trustlist rollover --candidate CTLFile.tlv --installed none --tvs-store garbage",
                &["--tvs-store", "garbage", "not a database"],
            ),
            (
                "trustlist rollover --candidate CTLFile.tlv --installed none --tvs-store dir",
                &["--tvs-store", "dir"],
            ),
            (
                "trustlist rollover --candidate CTLFile.tlv --installed none --tvs-cert cert.pem:BOGUS",
                &["--tvs-cert", "unknown role \"BOGUS\""],
            ),
            (
                "trustlist rollover --candidate CTLFile.tlv --installed none --tvs-cert garbage:sast",
                &["cannot read", "garbage"],
            ),
            (
                "trustlist rollover --candidate CTLFile.tlv --installed none --tvs-cert missing:sast",
                &["cannot read", "missing"],
            ),
            (
                "trustlist rollover --candidate CTLFile.tlv --installed none --hash-policy bogus",
                &["'bogus'", "--hash-policy"],
            ),
            (
                "trustlist rollover --candidate CTLFile.tlv --installed none --candidate-kind bogus",
                &["'bogus'", "--candidate-kind"],
            ),
            (
                "trustlist rollover --candidate CTLFile.tlv",
                &["--installed"],
            ),
        ],
    );
}

#[test]
fn device_import() {
    check_table(
        "device",
        &[
            ("device import --db db missing", &["cannot read", "missing"]),
            ("device import --db db dir", &["cannot read", "dir"]),
            ("device import --db db garbage", &["cannot read", "garbage"]),
            (
                "device import --db db bad-import",
                &["bad-import", ":1:", "--auth", "\"bogus\""],
            ),
            (
                "device import --db garbage empty",
                &["--db", "garbage", "not a database"],
            ),
            (
                "device import --db dir empty",
                &["--db", "dir", "unable to open"],
            ),
        ],
    );
}

/// Startup errors only: every line must fail before serving.
#[test]
fn serve_startup() {
    check_table(
        "serve",
        &[
            (
                "serve --db db --listen 999.1.1.1:99999 --cert capf.pem --key capf.pem",
                &["'999.1.1.1:99999'", "--listen"],
            ),
            (
                "serve --db db --listen 127.0.0.1:0 --cert capf.pem --key capf.pem --validity-days 0",
                &["--validity-days", "from 1 to 3650"],
            ),
            (
                "serve --db db --listen 127.0.0.1:0 --cert capf.pem --key capf.pem --validity-days 99999999999",
                &["'99999999999'", "--validity-days"],
            ),
            ("serve --db db --listen 127.0.0.1:0", &["--cert and --key"]),
            (
                "serve --db db --listen 127.0.0.1:0 --cert missing --key capf.pem",
                &["cannot read", "missing"],
            ),
            (
                "serve --db db --listen 127.0.0.1:0 --cert dir --key capf.pem",
                &["cannot read", "dir"],
            ),
            (
                "serve --db db --listen 127.0.0.1:0 --cert empty --key capf.pem",
                &["empty", "the file is empty"],
            ),
            (
                "serve --db db --listen 127.0.0.1:0 --cert garbage --key capf.pem",
                &["garbage", "not a DER X.509 certificate"],
            ),
            (
                "serve --db db --listen 127.0.0.1:0 --cert garbage.pem --key capf.pem",
                &["garbage.pem", "not valid base64"],
            ),
            (
                "serve --db db --listen 127.0.0.1:0 --cert capf.pem --key empty",
                &["empty", "no PKCS#8 PRIVATE KEY"],
            ),
            (
                "serve --db db --listen 127.0.0.1:0 --cert capf.pem --key garbage",
                &["cannot read", "garbage"],
            ),
            (
                "serve --db garbage --listen 127.0.0.1:0 --cert capf.pem --key capf.pem",
                &["--db", "garbage", "not a database"],
            ),
            (
                "serve --db dir --listen 127.0.0.1:0 --cert capf.pem --key capf.pem",
                &["--db", "dir", "unable to open"],
            ),
            (
                "serve --db db --listen 127.0.0.1:0 --cert capf.pem --key capf.pem --verify garbage",
                &["garbage", "not a DER X.509 certificate"],
            ),
            (
                "serve --db db --listen 127.0.0.1:0 --cert capf.pem --key capf.pem --revoked garbage",
                &["--revoked", "garbage", "neither a DER CRL nor text"],
            ),
            (
                "serve --db db --listen 127.0.0.1:0 --cert capf.pem --key capf.pem --issuer garbage --issuer-key capf.pem",
                &["garbage", "not a DER X.509 certificate"],
            ),
            (
                "serve --db db --listen 127.0.0.1:0 --cert capf.pem --key capf.pem --tvs-listen 999.1.1.1:1",
                &["'999.1.1.1:1'", "--tvs-listen"],
            ),
            (
                "serve --db db --listen 127.0.0.1:0 --cert capf.pem --key capf.pem --tvs-listen 127.0.0.1:0 --tvs-cert tvs.pem --tvs-key empty",
                &["empty", "no PKCS#8 PRIVATE KEY"],
            ),
            (
                "serve --db db --listen 127.0.0.1:0 --cert capf.pem --key capf.pem --grace-seconds 99999999999999999999999",
                &["'99999999999999999999999'", "--grace-seconds"],
            ),
            (
                "serve --db db --listen 127.0.0.1:0 --cert capf.pem --key capf.pem --max-failed-attempts -1",
                &["'-1'"],
            ),
            (
                "serve --db db --listen 127.0.0.1:0 --cert capf.pem --key capf.pem --ready-file dir",
                &["--ready-file", "dir"],
            ),
            (
                "serve --db db --listen 127.0.0.1:0 --cert capf.pem --key capf.pem --ready-file missing/out.pem",
                &["--ready-file", "missing/out.pem"],
            ),
        ],
    );
}

/// `capf enroll` against a live CAPF server where the device is scheduled
/// for an install with the null string: an ignored bad argument would get
/// an LSC installed, exit 0.
#[test]
fn enroll() {
    let mut fixtures = Fixtures::new("enroll");
    fixtures.ok("device add --db db SEP001122334455 --operation install --auth null --key ec:p256");
    let server = fixtures.serve("serve --db db --cert capf.pem --key capf.pem");
    check_rows(
        &fixtures,
        &[
            (
                "enroll --server 127.0.0.1:1 --ca capf.pem --device SEP001122334455 --out out.pem --timeout 2",
                &["cannot connect to 127.0.0.1:1"],
            ),
            (
                "enroll --server 999.1.1.1:99999 --ca capf.pem --device SEP001122334455 --out out.pem --timeout 2",
                &["999.1.1.1:99999"],
            ),
            (
                "enroll --server CAPF --ca missing --device SEP001122334455 --out out.pem",
                &["cannot read", "missing"],
            ),
            (
                "enroll --server CAPF --ca dir --device SEP001122334455 --out out.pem",
                &["cannot read", "dir"],
            ),
            (
                "enroll --server CAPF --ca garbage --device SEP001122334455 --out out.pem",
                &["garbage", "neither a CTL/ITL nor certificates"],
            ),
            (
                "enroll --server CAPF --ca empty --device SEP001122334455 --out out.pem",
                &["empty", "the file is empty"],
            ),
            (
                "enroll --server CAPF --ca garbage.pem --device SEP001122334455 --out out.pem",
                &["garbage.pem", "not valid base64"],
            ),
            (
                "enroll --server CAPF --ca badsig.tlv --device SEP001122334455 --out out.pem",
                &["--ca", "badsig.tlv", "does not verify"],
            ),
            (
                "enroll --server CAPF --ca capf.pem --device SEP001122334455 --out dir",
                &["--out", "dir", "is a directory"],
            ),
            (
                "enroll --server CAPF --ca capf.pem --device SEP001122334455 --out missing/out.pem",
                &["--out", "missing/out.pem", "does not exist"],
            ),
            (
                "enroll --server CAPF --ca capf.pem --device SEP001122334455 --out out.pem --lsc garbage",
                &["cannot read", "garbage"],
            ),
            (
                "enroll --server CAPF --ca capf.pem --device SEP001122334455 --out out.pem --lsc empty",
                &["empty", "no CERTIFICATE"],
            ),
            (
                "enroll --server CAPF --ca capf.pem --device SEP001122334455 --out out.pem --lsc cert.pem --mic missing",
                &["cannot read", "missing"],
            ),
            (
                "enroll --server CAPF --ca capf.pem --device SEP001122334455 --out out.pem --mic garbage.pem",
                &["garbage.pem", "not valid base64"],
            ),
            (
                "enroll --server CAPF --ca capf.pem --device SEP001122334455 --out out.pem --mic cert.pem --sudi garbage",
                &["cannot read", "garbage"],
            ),
            (
                "enroll --server CAPF --ca capf.pem --device SEP001122334455 --out out.pem --key bogus",
                &["--key \"bogus\""],
            ),
            (
                "enroll --server CAPF --ca capf.pem --device SEP001122334455 --out out.pem --auth-string abc",
                &["--auth-string must be 4-10 digits"],
            ),
            (
                "enroll --server CAPF --ca capf.pem --device SEP001122334455 --out out.pem --timeout 99999999999999999999",
                &["'99999999999999999999'", "--timeout"],
            ),
            (
                "enroll --server CAPF --ca capf.pem --device SEP001122334455 --out out.pem --timeout 18446744073709551616",
                &["'18446744073709551616'", "--timeout"],
            ),
        ],
    );
    // No row got as far as the server: the device is still waiting for
    // its install and nothing was written.
    let shown: serde_json::Value =
        serde_json::from_str(&fixtures.ok("device show --db db SEP001122334455 --json")).unwrap();
    assert_eq!(shown["operation"], "install", "{shown}");
    assert_eq!(shown["certificates"], serde_json::json!([]), "{shown}");
    assert!(!fixtures.path("out.pem").exists());
    assert!(!server.log().contains("session{"), "{}", server.log());

    // Positive controls: the same command with good arguments installs,
    // once with the certificate pinned and once through the CTL.
    let said = fixtures.ok(
        "enroll --server CAPF --ca capf.pem --device SEP001122334455 --out out.pem --timeout 20",
    );
    assert!(said.contains("LSC installed"), "{said}\n{}", server.log());
    assert!(
        std::fs::read_to_string(fixtures.path("out.pem"))
            .unwrap()
            .contains("-----BEGIN CERTIFICATE-----")
    );
    fixtures.ok("device schedule --db db SEP001122334455 --operation install");
    let said = fixtures.ok(
        "enroll --server CAPF --ca CTLFile.tlv --device SEP001122334455 --out out.pem --timeout 20",
    );
    assert!(said.contains("LSC installed"), "{said}\n{}", server.log());
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
