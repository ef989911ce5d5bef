//! Claims the README makes, each with a test behind it:
//!
//! - the real authentication-string path works end to end: `capf device
//!   add --auth auth-string` stores the production hash (600 000 PBKDF2
//!   rounds, read back from the SQLite file), `capf serve` checks it and
//!   `capf enroll --auth-string` installs; a wrong string is refused;
//! - a server started before the first string was written (so before its
//!   key file existed) reads the key when a phone needs it;
//! - the server's log holds no secret: neither string, nor the stored hash
//!   or salt, nor the CAPF private key, even at `RUST_LOG=trace`;
//! - `cargo tree -d` shows no second version of a RustCrypto crate;
//! - `--help` works on every subcommand, found by walking `capf --help`.

mod support;

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};
use support::{ServeProcess, scratch, text, vectors};

fn capf<S: AsRef<OsStr>>(args: &[S]) -> Output {
    let args: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
    support::capf(&args)
}

fn show(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    )
}

/// Standard base64 with padding (RFC 4648), written here so that the test
/// does not use the encoder of the code under test.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0_u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_matches_rfc_4648_examples() {
    for (input, expected) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64(input.as_bytes()), expected);
    }
}

/// The forms a secret could take in a log line: the bytes as lower- and
/// upper-case hex, base64, and every 16-character window of the base64
/// (a line-wrapped or partial dump still matches).
fn forms(bytes: &[u8]) -> Vec<String> {
    let encoded = base64(bytes);
    let mut forms = vec![hex::encode(bytes), hex::encode_upper(bytes)];
    let chars: Vec<char> = encoded.trim_end_matches('=').chars().collect();
    forms.extend(chars.windows(16).map(|w| w.iter().collect::<String>()));
    forms.push(encoded);
    forms
}

/// The PKCS#8 private key of a PEM file (certificate + key), as DER.
fn private_key_der(path: &Path) -> Vec<u8> {
    let pem = std::fs::read_to_string(path).unwrap();
    let start = pem.find("-----BEGIN PRIVATE KEY-----").unwrap();
    let end = pem.find("-----END PRIVATE KEY-----").unwrap() + "-----END PRIVATE KEY-----".len();
    let (label, der) = der::pem::decode_vec(&pem.as_bytes()[start..end]).unwrap();
    assert_eq!(label, "PRIVATE KEY");
    der
}

/// `capf enroll` installed an LSC (the server's log shown if not).
fn assert_installed(enrolled: &Output, server: &ServeProcess) {
    assert!(
        enrolled.status.success(),
        "{}\n{}",
        show(enrolled),
        server.log()
    );
    assert!(
        text(&enrolled.stdout).contains("LSC installed"),
        "{}",
        show(enrolled)
    );
}

/// `capf serve` on loopback with `capf_pem` as certificate and key.
fn serve(db: &Path, capf_pem: &Path, log: &Path, env: &[(&str, &str)]) -> ServeProcess {
    ServeProcess::start_with_env(
        &[
            "serve".as_ref(),
            "--listen".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--cert".as_ref(),
            capf_pem.as_os_str(),
            "--key".as_ref(),
            capf_pem.as_os_str(),
            "--db".as_ref(),
            db.as_os_str(),
        ],
        log,
        env,
    )
}

#[test]
fn auth_string_path_end_to_end_with_the_production_hash_and_no_secret_in_the_log() {
    let dir = scratch("claims", "auth_string");
    let db = dir.join("capf.db");
    let capf_pem = vectors().join("tlv/keys/capf.pem");
    let device = "SEP00000000A5A5";
    let (good, wrong) = ("135790", "246801");

    let added = capf(&[
        "device".as_ref(),
        "add".as_ref(),
        "--db".as_ref(),
        db.as_os_str(),
        device.as_ref(),
        "--operation".as_ref(),
        "install".as_ref(),
        "--auth".as_ref(),
        "auth-string".as_ref(),
        "--auth-string".as_ref(),
        good.as_ref(),
        "--key".as_ref(),
        "ec:p256".as_ref(),
    ]);
    assert!(added.status.success(), "{}", show(&added));
    assert!(!show(&added).contains(good), "{}", show(&added));

    // What the registry stores: HMAC-SHA256 of the string under a key kept
    // outside the database (created beside it, owner-only), never the
    // string; the old PBKDF2 columns stay empty for new strings.
    let (hash, old_columns_empty) = {
        let connection = rusqlite::Connection::open(&db).unwrap();
        connection
            .query_row(
                "SELECT auth_hmac, auth_salt IS NULL AND auth_hash IS NULL FROM devices \
                 WHERE name = ?1",
                [device],
                |row| Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, bool>(1)?)),
            )
            .unwrap()
    };
    assert!(old_columns_empty);
    let mut key_path = db.as_os_str().to_owned();
    key_path.push(".auth-key");
    let key = std::fs::read(&key_path).unwrap();
    assert_eq!(key.len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "key file mode {mode:o}");
    }
    assert_eq!(
        hash,
        hmac_sha256(&key, good.as_bytes()),
        "HMAC-SHA256(key, string)"
    );
    let raw = std::fs::read(&db).unwrap();
    assert!(
        !raw.windows(good.len()).any(|w| w == good.as_bytes()),
        "the string itself is in the SQLite file"
    );

    // The server at its most talkative.
    let server = serve(
        &db,
        &capf_pem,
        &dir.join("serve.log"),
        &[("RUST_LOG", "trace")],
    );
    let out = dir.join("lsc.pem");
    let enroll = |string: &str| {
        capf(&[
            "enroll".as_ref(),
            "--server".as_ref(),
            server.capf_address().as_ref(),
            "--ca".as_ref(),
            capf_pem.as_os_str(),
            "--device".as_ref(),
            device.as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
            "--timeout".as_ref(),
            "60".as_ref(),
            "--auth-string".as_ref(),
            string.as_ref(),
        ])
    };

    // A wrong string: refused, nothing written, the failure counted.
    let refused = enroll(wrong);
    assert_eq!(refused.status.code(), Some(1), "{}", show(&refused));
    assert!(
        text(&refused.stderr).contains("refused"),
        "{}",
        show(&refused)
    );
    assert!(!show(&refused).contains(wrong), "{}", show(&refused));
    assert!(!out.exists());
    let shown = capf(&[
        "device".as_ref(),
        "show".as_ref(),
        "--db".as_ref(),
        db.as_os_str(),
        device.as_ref(),
        "--json".as_ref(),
    ]);
    let record: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(record["failed_attempts"], 1, "{record}");
    assert_eq!(record["operation"], "install", "{record}");

    // The right string: installed, an LSC for this device's key.
    let installed = enroll(good);
    assert_installed(&installed, &server);
    let lsc = std::fs::read_to_string(&out).unwrap();
    assert!(lsc.contains("-----BEGIN CERTIFICATE-----"), "{lsc}");
    let shown = capf(&[
        "device".as_ref(),
        "show".as_ref(),
        "--db".as_ref(),
        db.as_os_str(),
        device.as_ref(),
        "--json".as_ref(),
    ]);
    let record: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(record["operation"], "none", "{record}");
    let states: Vec<&str> = record["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["installed"], "{record}");
    // One-time: the string is used up.
    let again = enroll(good);
    assert!(again.status.success(), "{}", show(&again));
    assert!(
        text(&again.stdout).contains("nothing to do"),
        "{}",
        show(&again)
    );

    // The log tells the story (so the search below looks at the right
    // text) and holds none of the secrets in any usual form.
    let log = server.log();
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "{log}");
    assert!(log.contains("authentication failed"), "{log}");
    assert!(log.contains("installed"), "{log}");
    assert!(log.contains(device), "{log}");
    let mut secrets: Vec<(&str, String)> = vec![
        ("the right string", good.to_owned()),
        ("the wrong string", wrong.to_owned()),
    ];
    secrets.extend(forms(&hash).into_iter().map(|f| ("the stored hash", f)));
    secrets.extend(forms(&key).into_iter().map(|f| ("the key", f)));
    // The PKCS#8 key holds the public modulus too: windows that are also
    // in the (public) certificate's encoding are not evidence of a leak.
    let public = {
        let pem = std::fs::read_to_string(&capf_pem).unwrap();
        let start = pem.find("-----BEGIN CERTIFICATE-----").unwrap();
        let (_, certificate) = der::pem::decode_vec(&pem.as_bytes()[start..]).unwrap();
        forms(&certificate).join("\n")
    };
    secrets.extend(
        forms(&private_key_der(&capf_pem))
            .into_iter()
            .filter(|form| !public.contains(form.as_str()))
            .map(|f| ("the CAPF private key", f)),
    );
    assert!(
        secrets
            .iter()
            .filter(|(what, _)| what.contains("key"))
            .count()
            > 1000,
        "most of the private key's forms are checked"
    );
    assert!(!log.contains("PRIVATE KEY"), "{log}");
    for (what, form) in &secrets {
        assert!(
            !log.contains(form.as_str()),
            "{what} ({form}) is in the log"
        );
    }
    // The phone side's output holds no secret either.
    for output in [&refused, &installed, &again] {
        for (what, form) in &secrets {
            assert!(
                !show(output).contains(form.as_str()),
                "{what} ({form}) in capf enroll's output"
            );
        }
    }
}

#[test]
fn a_server_started_before_the_key_file_existed_reads_it_when_a_phone_needs_it() {
    let dir = scratch("claims", "late_key");
    let db = dir.join("capf.db");
    let capf_pem = vectors().join("tlv/keys/capf.pem");
    support::add_install(&db, "SEP00000000B1B1", &["null"]);
    let mut key_path = db.as_os_str().to_owned();
    key_path.push(".auth-key");
    assert!(
        !Path::new(&key_path).exists(),
        "a null-string device needs no key"
    );
    let server = serve(&db, &capf_pem, &dir.join("serve.log"), &[]);
    let enroll = |device: &str, auth_string: Option<&str>| {
        let out = dir.join(format!("{device}.pem"));
        let mut args = vec![
            "enroll",
            "--server",
            server.capf_address(),
            "--ca",
            capf_pem.to_str().unwrap(),
            "--device",
            device,
            "--out",
            out.to_str().unwrap(),
            "--timeout",
            "60",
        ];
        if let Some(string) = auth_string {
            args.extend_from_slice(&["--auth-string", string]);
        }
        capf(&args)
    };
    let null_string = enroll("SEP00000000B1B1", None);
    assert!(
        null_string.status.success(),
        "{}\n{}",
        show(&null_string),
        server.log()
    );
    // The first auth string creates the key file, after the server started.
    support::add_install(
        &db,
        "SEP00000000B2B2",
        &["auth-string", "--auth-string", "135790"],
    );
    assert!(Path::new(&key_path).exists());
    assert_installed(&enroll("SEP00000000B2B2", Some("135790")), &server);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `cargo` as the test runner gives it (or from the PATH).
fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// The workspace root.
fn workspace() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The RustCrypto crates that must exist once in the dependency graph.
const RUSTCRYPTO: &[&str] = &[
    "der",
    "spki",
    "pkcs8",
    "pkcs1",
    "digest",
    "signature",
    "sha1",
    "sha2",
    "rsa",
    "p256",
    "p384",
    "p521",
    "elliptic-curve",
    "x509-cert",
];

/// The package names `cargo tree -d` lists as duplicated: its top-level
/// lines (`name vX.Y.Z …`), each followed by an indented inverse tree.
fn duplicated(tree: &str) -> Vec<String> {
    tree.lines()
        .filter(|line| line.starts_with(|c: char| c.is_ascii_alphanumeric()))
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next()?;
            let version = words.next()?;
            version.starts_with('v').then(|| name.to_owned())
        })
        .collect()
}

#[test]
fn duplicated_reads_cargo_tree_output() {
    let sample = "\
der v0.7.10
└── spki v0.7.3
    └── x509-cert v0.2.5
        └── capf-core v0.1.0 (/w/capf-core)

der v0.8.0
└── x509-cert v0.3.0
    [dev-dependencies]
    └── capf-tests v0.1.0 (/w/tests)
";
    assert_eq!(duplicated(sample), ["der", "der"]);
    assert!(duplicated("").is_empty());
}

/// Runs `cargo tree ARGS --workspace -e normal --offline` at the workspace
/// root; `None` (with the reason printed) when cargo cannot.
fn cargo_tree(args: &[&str]) -> Option<String> {
    let output = cargo()
        .arg("tree")
        .args(args)
        .args(["--workspace", "-e", "normal", "--offline"])
        .current_dir(workspace())
        .output();
    match output {
        Ok(output) if output.status.success() => Some(text(&output.stdout)),
        Ok(output) => {
            eprintln!(
                "SKIPPED: no duplicate RustCrypto crates: cargo tree failed: {}",
                text(&output.stderr).trim()
            );
            None
        }
        Err(error) => {
            eprintln!("SKIPPED: no duplicate RustCrypto crates: cannot run cargo: {error}");
            None
        }
    }
}

#[test]
fn cargo_tree_shows_no_duplicate_rustcrypto_crate() {
    let Some(all) = cargo_tree(&["--prefix", "none"]) else {
        return;
    };
    // Every name checked is really in the graph: a misspelt or vanished
    // name would make the check below pass for nothing.
    let present: std::collections::BTreeSet<&str> = all
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    for name in RUSTCRYPTO {
        assert!(
            present.contains(name),
            "{name} is not in cargo tree:\n{all}"
        );
    }
    let Some(duplicates) = cargo_tree(&["-d"]) else {
        return;
    };
    let twice: Vec<String> = duplicated(&duplicates)
        .into_iter()
        .filter(|name| RUSTCRYPTO.contains(&name.as_str()))
        .collect();
    assert!(
        twice.is_empty(),
        "RustCrypto crates in two versions: {twice:?}\n{duplicates}"
    );
}

/// The subcommand names of a `--help` text's `Commands:` section (without
/// `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| line.trim() != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        // An entry starts with two spaces and the name; continuation lines
        // of a long description are indented further.
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn help_works_on_every_subcommand() {
    let mut found = Vec::new();
    let mut queue = vec![Vec::<String>::new()];
    while let Some(path) = queue.pop() {
        let mut args = path.clone();
        args.push("--help".into());
        let output = capf(&args);
        let shown = format!("capf {}: {}", args.join(" "), show(&output));
        assert_eq!(output.status.code(), Some(0), "{shown}");
        let help = text(&output.stdout);
        assert!(help.contains("Usage: capf"), "{shown}");
        assert!(output.stderr.is_empty(), "{shown}");
        // -h prints the short form of the same help.
        let mut short = path.clone();
        short.push("-h".into());
        let short = capf(&short);
        assert_eq!(short.status.code(), Some(0), "{}", show(&short));
        assert!(
            text(&short.stdout).contains("Usage: capf"),
            "{}",
            show(&short)
        );
        for name in subcommands(&help) {
            let mut child = path.clone();
            child.push(name);
            queue.push(child);
        }
        found.push(path.join(" "));
    }
    // The walk found the tree, not just the top: a few known commands at
    // each depth (the list is a floor; anything new is walked as well).
    for known in [
        "",
        "serve",
        "enroll",
        "demo",
        "device",
        "device add",
        "device import",
        "tvs verify",
        "trust explain",
        "trustlist build",
        "trustlist rollover",
        "signed verify",
        "encrypted-config decrypt",
    ] {
        assert!(
            found.iter().any(|f| f == known),
            "{known:?} not in {found:?}"
        );
    }
}

/// HMAC-SHA256 (RFC 2104) built from SHA-256 here, independently of the
/// code under test.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    let mut block = [0_u8; 64];
    block[..key.len()].copy_from_slice(key);
    let inner_pad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer_pad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = sha2::Sha256::new()
        .chain_update(&inner_pad)
        .chain_update(message)
        .finalize();
    sha2::Sha256::new()
        .chain_update(&outer_pad)
        .chain_update(inner)
        .finalize()
        .to_vec()
}
