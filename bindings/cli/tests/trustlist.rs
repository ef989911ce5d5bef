//! `capf trustlist` run as a program, checked against the vectors.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors")
}

fn capf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capf"))
        .args(args)
        .output()
        .unwrap()
}

fn path(relative: &str) -> String {
    vectors().join(relative).to_str().unwrap().to_owned()
}

fn scratch(name: &str) -> String {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("trustlist-{}-{name}", std::process::id()))
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn show_json_of_the_real_ctl_matches_its_sidecar() {
    let output = capf(&[
        "trustlist",
        "show",
        "--json",
        &path("real/cucm/CTLFile.tlv"),
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let shown: Value = serde_json::from_slice(&output.stdout).unwrap();
    let sidecar: Value =
        serde_json::from_str(&std::fs::read_to_string(path("real/cucm/CTLFile.tlv.json")).unwrap())
            .unwrap();
    let header = &sidecar["header"];
    let mut keys: Vec<&str> = shown
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "filename",
            "hash_algorithm",
            "header_length",
            "issuer_name",
            "records",
            "signature_valid",
            "signer_name",
            "signer_serial",
            "timestamp",
            "version"
        ]
    );
    assert_eq!(shown["version"], header["version"]);
    assert_eq!(shown["header_length"], header["header_length"]);
    assert_eq!(shown["signer_name"], header["signer_name"]);
    assert_eq!(shown["signer_serial"], header["serial_number"]);
    assert_eq!(shown["issuer_name"], header["issuer_name"]);
    assert_eq!(
        shown["hash_algorithm"].as_str().unwrap(),
        header["hash_algorithm_name"]
            .as_str()
            .unwrap()
            .to_lowercase()
    );
    assert_eq!(
        shown["signature_valid"],
        sidecar["expected"]["signature_valid"]
    );
    assert_eq!(shown["filename"], header["filename"]);
    assert_eq!(shown["timestamp"], header["timestamp_utc"]);
    let records = shown["records"].as_array().unwrap();
    let expected = sidecar["records"].as_array().unwrap();
    assert_eq!(records.len(), expected.len());
    for (got, want) in records.iter().zip(expected) {
        assert_eq!(got["role"], want["role_name"]);
        assert_eq!(got["role_code"], want["role"]);
        assert_eq!(got["dns_name"], want["dns_name"]);
        assert_eq!(got["subject"], want["subject_name"]);
        assert_eq!(got["issuer"], want["issuer_name"]);
        assert_eq!(got["serial"], want["serial_number"]);
        assert_eq!(got["ip"], want["ip_address"]);
        assert_eq!(got["certificate_sha1"], want["certificate_sha1"]);
    }
}

#[test]
fn show_reports_a_bad_signature_but_exits_zero() {
    let output = capf(&[
        "trustlist",
        "show",
        "--json",
        &path("tlv/ctl-sha1-badsig.tlv"),
    ]);
    assert_eq!(output.status.code(), Some(0));
    let shown: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["signature_valid"], Value::Bool(false));
    let text = capf(&["trustlist", "show", &path("tlv/ctl-sha1-badsig.tlv")]);
    assert_eq!(text.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&text.stdout).contains("NOT VALID"));
}

#[test]
fn verify_exit_statuses() {
    assert_eq!(
        capf(&["trustlist", "verify", &path("real/cucm/CTLFile.tlv")])
            .status
            .code(),
        Some(0)
    );
    let bad = capf(&["trustlist", "verify", &path("tlv/ctl-sha1-badsig.tlv")]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("signature invalid"));
    // SHA-1 file under a SHA-512-only policy: a "no", not bad input.
    assert_eq!(
        capf(&[
            "trustlist",
            "verify",
            "--hash-policy",
            "sha512-only",
            &path("tlv/ctl-sha1.tlv")
        ])
        .status
        .code(),
        Some(1)
    );
    // Not a trust list at all, and a truncated one: bad input.
    for not_tlv in ["tlv/README.md", "tlv/itl-sha1-truncated.tlv"] {
        let output = capf(&["trustlist", "verify", &path(not_tlv)]);
        assert_eq!(output.status.code(), Some(2), "{not_tlv}");
        let output = capf(&["trustlist", "show", &path(not_tlv)]);
        assert_eq!(output.status.code(), Some(2), "{not_tlv}");
    }
}

#[test]
fn build_then_verify_and_roll_over() {
    let keys = |name: &str| path(&format!("tlv/keys/{name}"));
    let out = scratch("ctl.tlv");
    let built = capf(&[
        "trustlist",
        "build",
        "--signer",
        &keys("sast2.pem"),
        "--out",
        &out,
        "--hash",
        "sha512",
        "--signer-version",
        "1.1",
        "--record",
        &format!("sast={},ip=10.1.2.3,dns=pub", keys("sast2.pem")),
        "--record",
        &format!("ccm-tftp={}", keys("ccm-tftp.pem")),
        "--record",
        &format!("TVS={}", keys("tvs.pem")),
    ]);
    assert_eq!(built.status.code(), Some(0), "{built:?}");
    assert_eq!(capf(&["trustlist", "verify", &out]).status.code(), Some(0));
    let shown: Value =
        serde_json::from_slice(&capf(&["trustlist", "show", "--json", &out]).stdout).unwrap();
    assert_eq!(shown["version"], "1.2");
    assert_eq!(shown["hash_algorithm"], "sha512");
    assert_eq!(shown["filename"], "CTLFile.tlv");
    assert_eq!(shown["records"][0]["ip"], "10.1.2.3");
    assert_eq!(shown["records"][0]["dns_name"], "pub");
    assert_eq!(shown["records"][1]["role"], "CCM+TFTP");
    assert_eq!(shown["records"][2]["role_code"], 21);
    // ctl-sha1.tlv holds SAST token 2 with role 0: rollover accepted.
    let accepted = capf(&[
        "trustlist",
        "verify",
        &out,
        "--previous",
        &path("tlv/ctl-sha1.tlv"),
    ]);
    assert_eq!(accepted.status.code(), Some(0), "{accepted:?}");
    // itl-sha1.tlv does not hold it: refused.
    let refused = capf(&[
        "trustlist",
        "verify",
        &out,
        "--previous",
        &path("tlv/itl-sha1.tlv"),
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("rollover refused"));
    let _ = std::fs::remove_file(out);
}

#[test]
fn build_refuses_bad_input() {
    let keys = |name: &str| path(&format!("tlv/keys/{name}"));
    let out = scratch("refused.tlv");
    // Unknown role.
    let output = capf(&[
        "trustlist",
        "build",
        "--signer",
        &keys("sast.pem"),
        "--out",
        &out,
        "--record",
        &format!("root={}", keys("sast.pem")),
    ]);
    assert_eq!(output.status.code(), Some(2));
    // Signer key and certificate from different files do not match a SAST record.
    let output = capf(&[
        "trustlist",
        "build",
        "--signer",
        &keys("sast.pem"),
        "--out",
        &out,
        "--record",
        &format!("sast={}", keys("sast2.pem")),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(!Path::new(&out).exists());
}

#[test]
fn help_is_there() {
    for args in [
        &["trustlist", "--help"][..],
        &["trustlist", "show", "--help"],
        &["trustlist", "build", "--help"],
        &["trustlist", "verify", "--help"],
    ] {
        let output = capf(args);
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        assert!(!output.stdout.is_empty());
    }
}
