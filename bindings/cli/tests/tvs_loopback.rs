//! `capf tvs add/list/revoke/remove` and `capf tvs verify` against
//! `capf serve --tvs-listen` over real TLS on loopback, with the recorded
//! TVS test certificates (tests/vectors/tvs) in a real SQLite file.

mod support;

use capf_core::tls::TlsClientTransport;
use capf_core::tvs::TvsFrame;
use serde_json::Value;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};
use support::{scratch, text, vectors};

/// The recorded PKI: TVS certificate and key, and the certificates asked about.
struct Pki {
    dir: PathBuf,
    tvs_cert: PathBuf,
    tvs_key: PathBuf,
    ccm: PathBuf,
    app: PathBuf,
    unknown: PathBuf,
    ccm_sha256: String,
}

fn pem_of(vector: &str, key: &str) -> String {
    let path = vectors().join("tvs").join(format!("{vector}.json"));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json["pem"][key].as_str().unwrap().to_owned()
}

fn pki(test: &str) -> Pki {
    let dir = scratch("tvs", test);
    let write = |name: &str, vector: &str, key: &str| {
        let path = dir.join(name);
        std::fs::write(&path, pem_of(vector, key)).unwrap();
        path
    };
    let ccm_json: Value = serde_json::from_str(
        &std::fs::read_to_string(vectors().join("tvs/verify-known-ccm-tftp.json")).unwrap(),
    )
    .unwrap();
    Pki {
        tvs_cert: write("tvs.pem", "verify-known-ccm-tftp", "tvs_certificate"),
        tvs_key: write("tvs.key", "verify-known-ccm-tftp", "tvs_private_key"),
        ccm: write("ccm.pem", "verify-known-ccm-tftp", "ccm_certificate"),
        app: write(
            "app.pem",
            "verify-known-all-roles-default-device",
            "app_certificate",
        ),
        unknown: write("unknown.pem", "verify-unknown", "unknown_certificate"),
        ccm_sha256: ccm_json["expected"]["certificate_sha256"]
            .as_str()
            .unwrap()
            .to_owned(),
        dir,
    }
}

fn capf<S: AsRef<OsStr>>(args: &[S]) -> Output {
    let args: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
    support::capf(&args)
}

/// A running `capf serve`; killed on drop.
struct Server {
    process: support::ServeProcess,
    tvs_address: String,
}

impl Server {
    /// `capf serve --db DB --tvs-listen HOST:0` plus `extra`; the bound
    /// address comes from the server's `--ready-file`.
    fn start(pki: &Pki, host: &str, extra: &[&OsStr]) -> Self {
        let listen = format!("{host}:0");
        let db = pki.dir.join("capf.db");
        let mut args: Vec<&OsStr> = vec![
            "serve".as_ref(),
            "--db".as_ref(),
            db.as_os_str(),
            "--tvs-listen".as_ref(),
            listen.as_ref(),
        ];
        args.extend(extra);
        let process = support::ServeProcess::start(&args, &pki.dir.join("serve.log"));
        let tvs_address = process.tvs_address().to_owned();
        Self {
            process,
            tvs_address,
        }
    }

    fn log(&self) -> String {
        self.process.log()
    }

    fn verify(&self, ca: &Path, certificate: &Path, extra: &[&str]) -> Output {
        let mut args: Vec<&OsStr> = vec![
            "tvs".as_ref(),
            "verify".as_ref(),
            "--server".as_ref(),
            self.tvs_address.as_ref(),
            "--ca".as_ref(),
            ca.as_os_str(),
            "--timeout".as_ref(),
            "20".as_ref(),
        ];
        args.extend(extra.iter().map(OsStr::new));
        args.push(certificate.as_os_str());
        support::capf(&args)
    }
}

fn db_args<'a>(pki: &'a Pki, command: &'a str) -> Vec<std::ffi::OsString> {
    vec![
        "tvs".into(),
        command.into(),
        "--db".into(),
        pki.dir.join("capf.db").into_os_string(),
    ]
}

fn run(pki: &Pki, command: &str, rest: &[&OsStr]) -> Output {
    let mut args = db_args(pki, command);
    args.extend(rest.iter().map(|arg| arg.to_os_string()));
    capf(&args)
}

fn status(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

#[test]
fn tvs_alone_answers_known_unknown_revoked_and_removed() {
    let pki = pki("alone");
    let added = run(
        &pki,
        "add",
        &[
            pki.ccm.as_os_str(),
            "--role".as_ref(),
            "tftp".as_ref(),
            "--role".as_ref(),
            "ccm".as_ref(),
            "--ttl".as_ref(),
            "3600".as_ref(),
        ],
    );
    assert_eq!(status(&added), 0, "{}", text(&added.stderr));
    assert!(text(&added.stdout).contains(&pki.ccm_sha256));
    let added = run(
        &pki,
        "add",
        &[pki.app.as_os_str(), "--role".as_ref(), "ccm+tftp".as_ref()],
    );
    assert_eq!(status(&added), 0, "{}", text(&added.stderr));

    let listed = run(&pki, "list", &["--json".as_ref()]);
    let list: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let ccm = list
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["sha256"] == pki.ccm_sha256.as_str())
        .expect("the CCM certificate is listed under its recorded digest");
    assert_eq!(ccm["role_codes"], serde_json::json!([1, 3]));
    assert_eq!(ccm["ttl"], 3600);
    assert_eq!(ccm["revoked"], false);
    assert_eq!(list.as_array().unwrap().len(), 2);

    // TVS alone: no --listen, no --cert/--key.
    let server = Server::start(
        &pki,
        "127.0.0.1",
        &[
            "--tvs-cert".as_ref(),
            pki.tvs_cert.as_os_str(),
            "--tvs-key".as_ref(),
            pki.tvs_key.as_os_str(),
        ],
    );

    let known = server.verify(
        &pki.tvs_cert,
        &pki.ccm,
        &["--device", "CP-8845-SEP001122334455"],
    );
    assert_eq!(
        status(&known),
        0,
        "{}\n{}",
        text(&known.stderr),
        server.log()
    );
    assert_eq!(
        text(&known.stdout),
        "status: valid\nroles: CCM, TFTP\nttl: 3600\n"
    );

    // The phone's own way: an ITL whose TVS record is the server's
    // certificate; an ITL without a TVS record is refused before connecting.
    let sast = vectors().join("tlv/keys/sast.pem");
    let itl = |name: &str, records: &[String]| {
        let path = pki.dir.join(name);
        let mut args = vec![
            "trustlist".to_owned(),
            "build".into(),
            "--signer".into(),
            sast.display().to_string(),
            "--out".into(),
            path.display().to_string(),
            "--filename".into(),
            "ITLFile.tlv".into(),
            "--record".into(),
            format!("sast={}", sast.display()),
        ];
        for record in records {
            args.extend(["--record".to_owned(), record.clone()]);
        }
        let built = capf(&args);
        assert!(built.status.success(), "{}", text(&built.stderr));
        path
    };
    let with_tvs = itl("ITLFile.tlv", &[format!("tvs={}", pki.tvs_cert.display())]);
    let known_via_itl = server.verify(&with_tvs, &pki.ccm, &[]);
    assert_eq!(status(&known_via_itl), 0, "{}", text(&known_via_itl.stderr));
    assert!(text(&known_via_itl.stdout).starts_with("status: valid\n"));
    let without_tvs = itl("no-tvs.tlv", &[]);
    let refused = server.verify(&without_tvs, &pki.ccm, &[]);
    assert_eq!(status(&refused), 2);
    assert!(
        text(&refused.stderr).contains("the ITL lists no TVS certificate"),
        "{}",
        text(&refused.stderr)
    );
    let app = server.verify(&pki.tvs_cert, &pki.app, &["--json"]);
    assert_eq!(status(&app), 0, "{}", text(&app.stderr));
    let app: Value = serde_json::from_slice(&app.stdout).unwrap();
    assert_eq!(app["role_codes"], serde_json::json!([2]));
    assert_eq!(app["ttl"], 86_400, "the default TTL");

    let unknown = server.verify(&pki.tvs_cert, &pki.unknown, &[]);
    assert_eq!(status(&unknown), 1, "{}", text(&unknown.stderr));
    assert_eq!(text(&unknown.stdout), "status: invalid\n");

    // Revoked: still listed, answered INVALID.
    let revoked = run(&pki, "revoke", &[pki.ccm.as_os_str()]);
    assert_eq!(status(&revoked), 0, "{}", text(&revoked.stderr));
    let after_revoke = server.verify(&pki.tvs_cert, &pki.ccm, &[]);
    assert_eq!(status(&after_revoke), 1, "{}", server.log());
    assert_eq!(text(&after_revoke.stdout), "status: invalid\n");
    let listed = run(&pki, "list", &[]);
    assert!(text(&listed.stdout).contains("REVOKED"));

    // Removed by digest: unknown; removing again is a "no".
    let removed = run(&pki, "remove", &[pki.ccm_sha256.as_ref()]);
    assert_eq!(status(&removed), 0, "{}", text(&removed.stderr));
    let after_remove = server.verify(&pki.tvs_cert, &pki.ccm, &[]);
    assert_eq!(status(&after_remove), 1);
    assert_eq!(status(&run(&pki, "remove", &[pki.ccm.as_os_str()])), 1);

    // A --ca that does not vouch for the server: TLS refuses, exit 2.
    let bad_ca = server.verify(&pki.ccm, &pki.app, &[]);
    assert_eq!(status(&bad_ca), 2, "{}", text(&bad_ca.stdout));
    assert!(!text(&bad_ca.stdout).contains("status: valid"));
    assert!(
        text(&bad_ca.stderr).contains("the server's certificate is not trusted"),
        "{}",
        text(&bad_ca.stderr)
    );

    // Bad usage: exit 2.
    assert_eq!(
        status(&server.verify(&pki.tvs_cert, &pki.app, &["--device", "SEP001122334455"])),
        2
    );
    assert_eq!(
        status(&run(
            &pki,
            "add",
            &[pki.app.as_os_str(), "--role".as_ref(), "srst".as_ref()]
        )),
        2
    );
    assert_eq!(
        status(&run(
            &pki,
            "add",
            &[
                pki.app.as_os_str(),
                "--role".as_ref(),
                "tvs".as_ref(),
                "--ttl".as_ref(),
                "2592001".as_ref()
            ]
        )),
        2
    );

    // A request the server will not serve: closed without an answer, logged
    // with its reason.
    let query = TvsFrame::new(
        capf_core::tvs::TvsCommand::QueryRequest,
        7,
        TvsFrame::verify_request(7, "CP-8845-SEP001122334455", b"x").elements,
    )
    .encode()
    .unwrap();
    let answer = raw_exchange(&server.tvs_address, &pki.tvs_cert, &query);
    assert!(
        answer.is_empty(),
        "no answer to QUERY_REQUEST: {answer:02x?}"
    );
    let started = Instant::now();
    // Wait for this request's own line (other connections, such as the
    // readiness probe, also close without an answer).
    while !server.log().contains("unsupported command QueryRequest") {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        server.log().contains("unsupported command QueryRequest"),
        "{}",
        server.log()
    );
}

/// Sends `frame` over TLS and returns all plaintext received until the
/// server closes.
fn raw_exchange(address: &str, ca: &Path, frame: &[u8]) -> Vec<u8> {
    let anchor = der::pem::decode_vec(std::fs::read(ca).unwrap().as_slice())
        .unwrap()
        .1;
    let config = capf_core::tls::client_config_with_roots_at(
        &[anchor],
        capf_core::trust::ServerRole::Tvs,
        // This test is the host: its clock is the system's.
        std::sync::Arc::new(|| {
            let seconds = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            capf_core::time::Timestamp::from_unix_seconds(seconds)
        }),
    )
    .unwrap();
    let mut tls = TlsClientTransport::new(config, "tvs.invalid").unwrap();
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    tls.send_plaintext(frame).unwrap();
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    loop {
        let out = tls.take_tcp_output();
        if !out.is_empty() {
            stream.write_all(&out).unwrap();
        }
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => match tls.receive_tcp(&buffer[..n]) {
                Ok(plaintext) => received.extend(plaintext),
                Err(_) => break,
            },
        }
        if tls.peer_closed() {
            break;
        }
    }
    received
}

#[test]
fn tvs_beside_capf_with_the_capf_certificate_on_ipv6() {
    let host = if support::ipv6_loopback("TVS beside CAPF over [::1]; tested on IPv4 instead") {
        "[::1]"
    } else {
        "127.0.0.1"
    };
    let pki = pki("beside");
    // The CAPF certificate (here the recorded TVS one) serves both.
    let added = run(
        &pki,
        "add",
        &[pki.ccm.as_os_str(), "--role".as_ref(), "tvs".as_ref()],
    );
    assert_eq!(status(&added), 0, "{}", text(&added.stderr));
    let capf_listen = format!("{host}:0");
    let server = Server::start(
        &pki,
        host,
        &[
            "--listen".as_ref(),
            capf_listen.as_ref(),
            "--cert".as_ref(),
            pki.tvs_cert.as_os_str(),
            "--key".as_ref(),
            pki.tvs_key.as_os_str(),
        ],
    );
    let known = server.verify(&pki.tvs_cert, &pki.ccm, &[]);
    assert_eq!(
        status(&known),
        0,
        "{}\n{}",
        text(&known.stderr),
        server.log()
    );
    assert_eq!(
        text(&known.stdout),
        "status: valid\nroles: TVS\nttl: 86400\n"
    );
    let capf_address = server.process.capf_address();
    assert!(capf_address.starts_with(host), "{capf_address}");
    assert!(
        server.tvs_address.starts_with(host),
        "{}",
        server.tvs_address
    );
    assert_ne!(capf_address, server.tvs_address);
    assert!(
        TcpStream::connect(capf_address).is_ok(),
        "the CAPF listener runs too: {}",
        server.log()
    );
    assert!(server.log().contains("CAPF server listening"));
    assert!(server.log().contains("TVS server listening"));
    stops_both_listeners_on_sigterm(server);
}

/// One SIGTERM stops the CAPF and the TVS listener, and the server exits 0.
#[cfg(unix)]
fn stops_both_listeners_on_sigterm(mut server: Server) {
    server.process.signal("TERM");
    let status = server.process.wait_exit();
    assert!(status.success(), "{}", server.log());
    assert!(
        server.log().contains("CAPF server stopped"),
        "{}",
        server.log()
    );
    assert!(
        server.log().contains("TVS server stopped"),
        "{}",
        server.log()
    );
}

#[cfg(not(unix))]
fn stops_both_listeners_on_sigterm(_server: Server) {}

#[test]
fn tvs_listen_needs_a_certificate() {
    let pki = pki("nocert");
    let output = capf(&[
        "serve".as_ref(),
        "--db".as_ref(),
        pki.dir.join("capf.db").as_os_str(),
        "--tvs-listen".as_ref(),
        OsStr::new("127.0.0.1:0"),
    ]);
    assert_eq!(status(&output), 2);
    assert!(
        text(&output.stderr).contains("--tvs-cert"),
        "{}",
        text(&output.stderr)
    );
}
