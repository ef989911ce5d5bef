//! `capf device`: the registry commands, run as the built binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path =
            std::env::temp_dir().join(format!("capf-device-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }

    fn db(&self) -> PathBuf {
        self.0.join("capf.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn capf(db: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_capf"));
    command.arg("device").arg(args[0]).arg("--db").arg(db);
    command.args(&args[1..]);
    command.output().expect("run capf")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[track_caller]
fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        output.status,
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

#[track_caller]
fn bad_input(output: Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(2),
        "stdout: {}\nstderr: {}",
        stdout(&output),
        stderr(&output)
    );
    stderr(&output)
}

/// Every byte of the database and its WAL/SHM companions.
fn db_bytes(db: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut path = db.as_os_str().to_owned();
        path.push(suffix);
        if let Ok(content) = std::fs::read(PathBuf::from(path)) {
            bytes.extend(content);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[test]
fn add_list_show_replace_remove() {
    let dir = TempDir::new("lifecycle");
    let db = dir.db();
    let out = ok(capf(
        &db,
        &[
            "add",
            "SEP001122334455",
            "--operation",
            "install",
            "--auth",
            "null",
            "--key",
            "ec:p256",
        ],
    ));
    assert!(out.contains("SEP001122334455: added"), "{out}");
    ok(capf(
        &db,
        &["add", "CSFALICE", "--operation", "fetch", "--auth", "lsc"],
    ));

    let out = ok(capf(&db, &["list"]));
    assert!(out.contains("SEP001122334455"), "{out}");
    assert!(out.contains("Operation Pending"), "{out}");
    assert!(out.contains("CSFALICE"), "{out}");

    let json: serde_json::Value =
        serde_json::from_str(&ok(capf(&db, &["list", "--json"]))).unwrap();
    let devices = json.as_array().unwrap();
    assert_eq!(devices.len(), 2);
    assert_eq!(devices[0]["name"], "CSFALICE");
    assert_eq!(devices[0]["key"], "rsa:2048", "default key");
    assert_eq!(devices[1]["operation"], "install");
    assert_eq!(devices[1]["key"], "ec:p256");

    // Replace the whole schedule.
    let out = ok(capf(
        &db,
        &[
            "add",
            "SEP001122334455",
            "--operation",
            "delete",
            "--auth",
            "mic",
        ],
    ));
    assert!(out.contains("schedule replaced"), "{out}");
    let show: serde_json::Value =
        serde_json::from_str(&ok(capf(&db, &["show", "SEP001122334455", "--json"]))).unwrap();
    assert_eq!(show["operation"], "delete");
    assert_eq!(show["auth_mode"], "mic");
    assert_eq!(show["status_text"], "delete pending");
    assert_eq!(show["certificates"], serde_json::json!([]));
    assert!(show["events"].as_array().unwrap().len() >= 2);

    // Schedule changes the operation and key only.
    ok(capf(
        &db,
        &[
            "schedule",
            "SEP001122334455",
            "--operation",
            "install",
            "--key",
            "ec:p384",
        ],
    ));
    let out = ok(capf(&db, &["show", "SEP001122334455"]));
    assert!(out.contains("Operation Pending"), "{out}");
    assert!(out.contains("ec:p384"), "{out}");
    assert!(out.contains("mic"), "{out}");

    let out = ok(capf(&db, &["remove", "SEP001122334455"]));
    assert!(out.contains("removed"), "{out}");
    let out = ok(capf(&db, &["list"]));
    assert!(!out.contains("SEP001122334455"), "{out}");
    let err = bad_input(capf(&db, &["show", "SEP001122334455"]));
    assert!(err.contains("no device named SEP001122334455"), "{err}");
    bad_input(capf(&db, &["remove", "SEP001122334455"]));
}

#[test]
fn generated_auth_string_is_shown_once_and_stored_hashed() {
    let dir = TempDir::new("authstring");
    let db = dir.db();
    let out = ok(capf(
        &db,
        &[
            "add",
            "SEPAABBCCDDEEFF",
            "--operation",
            "install",
            "--auth",
            "auth-string",
            "--generate-auth-string",
            "--auth-string-digits",
            "8",
        ],
    ));
    let line = out
        .lines()
        .find_map(|line| line.strip_prefix("authentication string: "))
        .unwrap_or_else(|| panic!("no string in {out}"));
    assert_eq!(line.len(), 8);
    assert!(line.bytes().all(|b| b.is_ascii_digit()));
    let generated = line.to_owned();

    assert!(
        !contains(&db_bytes(&db), generated.as_bytes()),
        "string stored in clear"
    );
    for args in [
        vec!["list"],
        vec!["list", "--json"],
        vec!["show", "SEPAABBCCDDEEFF"],
        vec!["show", "SEPAABBCCDDEEFF", "--json"],
    ] {
        let output = capf(&db, &args);
        let text = format!("{}{}", stdout(&output), stderr(&output));
        assert!(!text.contains(&generated), "{args:?} shows the string");
    }
    let show: serde_json::Value =
        serde_json::from_str(&ok(capf(&db, &["show", "SEPAABBCCDDEEFF", "--json"]))).unwrap();
    assert_eq!(show["auth_string_set"], true);

    // A given string is not echoed and not stored either.
    let out = ok(capf(
        &db,
        &[
            "add",
            "SEP0000000000AB",
            "--operation",
            "install",
            "--auth",
            "auth-string",
            "--auth-string",
            "97531864",
        ],
    ));
    assert!(!out.contains("97531864"), "{out}");
    assert!(!contains(&db_bytes(&db), b"97531864"));

    // Default: 6 digits.
    let out = ok(capf(
        &db,
        &[
            "schedule",
            "SEP0000000000AB",
            "--operation",
            "install",
            "--generate-auth-string",
        ],
    ));
    let line = out
        .lines()
        .find_map(|line| line.strip_prefix("authentication string: "))
        .unwrap_or_else(|| panic!("no string in {out}"));
    assert_eq!(line.len(), 6);
}

#[test]
fn bad_input_is_refused_with_status_2() {
    let dir = TempDir::new("bad");
    let db = dir.db();
    let add = |name: &str, extra: &[&str]| {
        let mut args = vec!["add", name, "--operation", "install", "--auth", "null"];
        args.extend_from_slice(extra);
        capf(&db, &args)
    };
    for name in [
        "SEP00112233445",
        "sep001122334455",
        "SEP00112233445G",
        "SEPaabbccddeeff",
        "CSF-ALICE",
        &"A".repeat(65),
    ] {
        let err = bad_input(add(name, &[]));
        assert!(err.contains("invalid device name"), "{name}: {err}");
    }
    for key in ["rsa:1000", "ec:p224", "dsa:1024", "rsa"] {
        let err = bad_input(add("SEP001122334455", &["--key", key]));
        assert!(err.contains("--key"), "{key}: {err}");
    }
    let err = bad_input(capf(
        &db,
        &[
            "add",
            "SEP001122334455",
            "--operation",
            "upgrade",
            "--auth",
            "null",
        ],
    ));
    assert!(err.contains("--operation"), "{err}");
    let err = bad_input(capf(
        &db,
        &[
            "add",
            "SEP001122334455",
            "--operation",
            "install",
            "--auth",
            "password",
        ],
    ));
    assert!(err.contains("--auth"), "{err}");

    let auth_string = |extra: &[&str]| {
        let mut args = vec![
            "add",
            "SEP001122334455",
            "--operation",
            "install",
            "--auth",
            "auth-string",
        ];
        args.extend_from_slice(extra);
        capf(&db, &args)
    };
    // Auth-string mode needs a string; strings are 4-10 digits.
    let err = bad_input(auth_string(&[]));
    assert!(err.contains("needs --auth-string"), "{err}");
    for wrong in ["123", "12345678901", "12a4", "１２３４"] {
        let err = bad_input(auth_string(&["--auth-string", wrong]));
        assert!(!err.contains(wrong), "the string is echoed: {err}");
    }
    for digits in ["3", "11"] {
        bad_input(auth_string(&[
            "--generate-auth-string",
            "--auth-string-digits",
            digits,
        ]));
    }
    // Both at once, or a string for another mode.
    bad_input(auth_string(&[
        "--auth-string",
        "1234",
        "--generate-auth-string",
    ]));
    bad_input(add("SEP001122334455", &["--auth-string", "1234"]));

    // Nothing was created by all this.
    assert!(!db.exists(), "a refused add created the database");
    let err = bad_input(capf(&db, &["list"]));
    assert!(err.contains("no device database"), "{err}");
}

#[test]
fn a_used_up_auth_string_must_be_renewed_to_reschedule() {
    let dir = TempDir::new("renew");
    let db = dir.db();
    ok(capf(
        &db,
        &[
            "add",
            "SEP001122334455",
            "--operation",
            "none",
            "--auth",
            "null",
        ],
    ));
    let json: serde_json::Value =
        serde_json::from_str(&ok(capf(&db, &["show", "SEP001122334455", "--json"]))).unwrap();
    assert_eq!(json["status_text"], "no pending operation");
    // An auth-string device without a string cannot be scheduled.
    ok(capf(
        &db,
        &[
            "add",
            "SEP001122334455",
            "--operation",
            "none",
            "--auth",
            "auth-string",
            "--auth-string",
            "2468",
        ],
    ));
    ok(capf(
        &db,
        &["schedule", "SEP001122334455", "--operation", "fetch"],
    ));
    let err = bad_input(capf(
        &db,
        &[
            "schedule",
            "SEP001122334455",
            "--operation",
            "install",
            "--key",
            "rsa:99",
        ],
    ));
    assert!(err.contains("--key"), "{err}");
}

fn names(json: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|device| device["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn auth_strings_are_keyed_found_by_string_and_need_their_key() {
    let dir = TempDir::new("keyed");
    let db = dir.db();
    let string = |name: &'static str, extra: &'static [&'static str]| {
        let mut args = vec![
            "add",
            name,
            "--operation",
            "install",
            "--auth",
            "auth-string",
        ];
        args.extend_from_slice(extra);
        args
    };
    ok(capf(
        &db,
        &string("SEP0000000000B1", &["--auth-string", "864200"]),
    ));
    ok(capf(
        &db,
        &string("SEP0000000000B2", &["--auth-string", "864200"]),
    ));
    let out = ok(capf(
        &db,
        &string("SEP0000000000B3", &["--generate-auth-string"]),
    ));
    let generated = out
        .lines()
        .find_map(|line| line.strip_prefix("authentication string: "))
        .unwrap()
        .to_owned();
    // The key was created beside the database, owner-only.
    let mut key_path = db.as_os_str().to_owned();
    key_path.push(".auth-key");
    let key_path = PathBuf::from(key_path);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Every match, and only matches.
    let found = ok(capf(&db, &["list", "--json", "--auth-string", "864200"]));
    assert_eq!(names(&found), ["SEP0000000000B1", "SEP0000000000B2"]);
    let found = ok(capf(&db, &["list", "--json", "--auth-string", &generated]));
    assert_eq!(names(&found), ["SEP0000000000B3"]);
    let none = ok(capf(&db, &["list", "--json", "--auth-string", "111111"]));
    assert!(names(&none).is_empty() || generated == "111111");
    // Neither the string nor the key shows anywhere in what `show` prints.
    let shown = ok(capf(&db, &["show", "SEP0000000000B3", "--json"]));
    assert!(!shown.contains(&generated), "{shown}");

    // Without the key, a program that meets keyed strings says so; no new
    // key is made (it would void every string).
    let moved = dir.0.join("elsewhere.key");
    std::fs::rename(&key_path, &moved).unwrap();
    let err = bad_input(capf(
        &db,
        &string("SEP0000000000B4", &["--auth-string", "975310"]),
    ));
    assert!(err.contains("--auth-key-file"), "{err}");
    assert!(err.contains("CAPF_AUTH_KEY_FILE"), "{err}");
    assert!(!key_path.exists());
    let err = bad_input(capf(&db, &["list", "--auth-string", "864200"]));
    assert!(err.contains("no key at"), "{err}");
    // The option and the environment variable both find it.
    let found = ok(capf(
        &db,
        &[
            "list",
            "--json",
            "--auth-string",
            "864200",
            "--auth-key-file",
            moved.to_str().unwrap(),
        ],
    ));
    assert_eq!(names(&found).len(), 2);
    let mut command = Command::new(env!("CARGO_BIN_EXE_capf"));
    command
        .args([
            "device",
            "list",
            "--json",
            "--auth-string",
            "864200",
            "--db",
        ])
        .arg(&db)
        .env("CAPF_AUTH_KEY_FILE", &moved);
    assert_eq!(names(&ok(command.output().unwrap())).len(), 2);
}
