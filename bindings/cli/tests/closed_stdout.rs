//! Standard output closed under the CLI (`capf device list | head -1`): the
//! commands end quietly with their normal exit status instead of panicking,
//! and a real write failure (a full disk) is an error, not silence.

mod support;

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use support::{capf, scratch, text, vectors};

const SUITE: &str = "closed-stdout";

/// Runs `capf` with standard output a pipe whose reader is already gone, so
/// the very first write fails with EPIPE (no race with the child's timing).
fn capf_into_closed_pipe(args: &[&OsStr]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_capf"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// The same command with a closed pipe ends as it does normally: same exit
/// status, same standard error, no panic.
fn check_ends_quietly(args: &[&OsStr]) {
    let normal = capf(args);
    assert!(
        !normal.stdout.is_empty(),
        "{args:?} should print something: {}",
        text(&normal.stderr)
    );
    let closed = capf_into_closed_pipe(args);
    let stderr = text(&closed.stderr);
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    assert_eq!(
        closed.status.code(),
        normal.status.code(),
        "{args:?}: {stderr}"
    );
    assert_eq!(stderr, text(&normal.stderr), "{args:?}");
}

fn os(args: &[&str]) -> Vec<std::ffi::OsString> {
    args.iter().map(|a| a.into()).collect()
}

fn refs(args: &[std::ffi::OsString]) -> Vec<&OsStr> {
    args.iter().map(|a| a.as_os_str()).collect()
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn file_commands_end_quietly() {
    let folder = scratch(SUITE, "files");
    let ctl = path_text(&vectors().join("real/cucm/CTLFile.tlv"));
    let sgn = path_text(&vectors().join("sgn/SEP001122334455.cnf.xml.sgn"));
    let ccm_tftp = path_text(&vectors().join("sgn/keys/ccm-tftp.pem"));
    // The real CTL's CAPF certificate (record 4), for `trust explain`.
    let file = std::fs::read(vectors().join("real/cucm/CTLFile.tlv")).unwrap();
    let list = ctl_format::TrustList::parse(&file).unwrap();
    let capf_der = folder.join("capf.der");
    std::fs::write(&capf_der, list.records()[3].certificate_der().unwrap()).unwrap();
    let capf_der = path_text(&capf_der);
    let store = format!("ctl:{ctl}");

    for args in [
        vec!["trustlist", "show", &ctl],
        vec!["trustlist", "show", &ctl, "--json"],
        vec!["trustlist", "verify", &ctl],
        vec!["signed", "show", &sgn],
        vec!["signed", "show", &sgn, "--json"],
        vec!["signed", "verify", "--certificate", &ccm_tftp, &sgn],
        // Bytes (the file without its signature) rather than text.
        vec!["signed", "strip", &sgn],
        vec![
            "trust",
            "explain",
            &capf_der,
            "--purpose",
            "tls-server:capf",
            "--store",
            &store,
            "--at",
            "2015-05-07T03:10:47Z",
        ],
        // Not trusted: status 1 stays 1.
        vec![
            "trust",
            "explain",
            &capf_der,
            "--purpose",
            "tls-server:ccm",
            "--store",
            &store,
            "--at",
            "2015-05-07T03:10:47Z",
            "--json",
        ],
    ] {
        check_ends_quietly(&refs(&os(&args)));
    }
}

#[test]
fn registry_listings_end_quietly() {
    let folder = scratch(SUITE, "registry");
    let db = path_text(&folder.join("capf.db"));
    // Enough devices that `device list` keeps writing long after the first
    // write failed.
    let lines: String = (0..1500)
        .map(|i| format!("SEP{i:012X} --operation install --auth null --key ec:p256\n"))
        .collect();
    let import = folder.join("devices.txt");
    std::fs::write(&import, lines).unwrap();
    let imported = capf(&refs(&os(&[
        "device",
        "import",
        "--db",
        &db,
        &path_text(&import),
    ])));
    assert!(imported.status.success(), "{}", text(&imported.stderr));

    let ctl_file = std::fs::read(vectors().join("real/cucm/CTLFile.tlv")).unwrap();
    let list = ctl_format::TrustList::parse(&ctl_file).unwrap();
    let tvs_cert = folder.join("ccm.der");
    std::fs::write(&tvs_cert, list.records()[1].certificate_der().unwrap()).unwrap();
    let added = capf(&refs(&os(&[
        "tvs",
        "add",
        "--db",
        &db,
        "--role",
        "ccm+tftp",
        &path_text(&tvs_cert),
    ])));
    assert!(added.status.success(), "{}", text(&added.stderr));

    for args in [
        vec!["device", "list", "--db", &db],
        vec!["device", "list", "--db", &db, "--json"],
        vec!["device", "show", "--db", &db, "SEP000000000001"],
        vec!["tvs", "list", "--db", &db],
        vec!["tvs", "list", "--db", &db, "--json"],
    ] {
        check_ends_quietly(&refs(&os(&args)));
    }
}

/// Writing to a full device is not a reader going away: exit 2 with the
/// reason, for text and for bytes.
#[cfg(target_os = "linux")]
#[test]
fn full_disk_is_an_error() {
    let ctl = path_text(&vectors().join("real/cucm/CTLFile.tlv"));
    let sgn = path_text(&vectors().join("sgn/SEP001122334455.cnf.xml.sgn"));
    for args in [
        vec!["trustlist", "show", &ctl],
        vec!["signed", "strip", &sgn],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_capf"))
            .args(&args)
            .stdout(full)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("cannot write to standard output"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
