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
        &["trustlist", "rollover", "--help"],
    ] {
        let output = capf(args);
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        assert!(!output.stdout.is_empty());
    }
}

// ---- capf trustlist rollover ----

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Builds a trust list with `capf trustlist build` from vector keys;
/// `records` are `ROLE=KEYNAME` pairs.
fn build_list(out: &str, kind: &str, signer: &str, records: &[(&str, &str)]) {
    let keys = |name: &str| path(&format!("tlv/keys/{name}"));
    let mut args = vec![
        "trustlist".to_owned(),
        "build".into(),
        "--kind".into(),
        kind.into(),
        "--signer".into(),
        keys(signer),
        "--out".into(),
        out.into(),
    ];
    for (role, key) in records {
        args.push("--record".into());
        args.push(format!("{role}={}", keys(key)));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let built = capf(&args);
    assert_eq!(built.status.code(), Some(0), "{built:?}");
}

/// A pre-12.0 ITL signed by the CallManager certificate, listing
/// ITLRecovery as SAST and, when asked, the TVS certificate (record 5).
fn pre12_itl(out: &str, with_tvs: bool) {
    let mut records = vec![
        ("sast", "ccm-tftp.pem"),
        ("ccm-tftp", "ccm-tftp.pem"),
        ("sast", "itlrecovery.pem"),
        ("capf", "capf.pem"),
    ];
    if with_tvs {
        records.push(("tvs", "tvs.pem"));
    }
    build_list(out, "itl", "ccm-tftp.pem", &records);
}

/// The ITL after the CallManager certificate was renewed with a new key
/// (the app-server vector key stands in for it: no list holds it as SAST).
fn renewed_itl(out: &str) {
    build_list(
        out,
        "itl",
        "app-server.pem",
        &[
            ("sast", "app-server.pem"),
            ("ccm-tftp", "app-server.pem"),
            ("sast", "itlrecovery.pem"),
            ("tvs", "tvs.pem"),
        ],
    );
}

#[test]
fn rollover_predicts_per_phone_group_and_exits_by_the_worst() {
    let old = scratch("rollover-old-itl.tlv");
    let old_no_tvs = scratch("rollover-old-notvs.tlv");
    let renewed = scratch("rollover-renewed.tlv");
    pre12_itl(&old, true);
    pre12_itl(&old_no_tvs, false);
    renewed_itl(&renewed);
    let installed_old = format!("old={old}");
    let installed_no_tvs = format!("old-no-tvs={old_no_tvs}");

    // ITLRecovery continuity: the 12.0-style vector ITL, signed by
    // ITLRecovery, reaches new phones and phones on the old ITL.
    let output = capf(&[
        "trustlist",
        "rollover",
        "--candidate",
        &path("tlv/itl-sha1.tlv"),
        "--installed",
        "fresh=none",
        "--installed",
        &installed_old,
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let shown = text(&output.stdout);
    assert!(shown.contains("[fresh] ACCEPTED (first-use)"), "{shown}");
    assert!(
        shown.contains("[old] ACCEPTED (same-certificate)"),
        "{shown}"
    );
    assert!(
        shown.contains("record 3 (SAST \"CN=ITLRECOVERY_"),
        "{shown}"
    );
    assert!(shown.contains("Summary: 2 of 2 phone group(s) accept the new ITL"));

    // A renewed CallManager key with nothing vouching: stranded.
    let output = capf(&[
        "trustlist",
        "rollover",
        "--candidate",
        &renewed,
        "--installed",
        &installed_old,
    ]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let shown = text(&output.stdout);
    assert!(shown.contains("[old] STRANDED (signer-unknown)"), "{shown}");
    assert!(shown.contains("Phone: keeps its old ITL: Trust List Update Failed"));
    assert!(
        shown.contains("Fix: Either sign the new ITL with one of"),
        "{shown}"
    );
    assert!(text(&output.stderr).contains("strand 1 of 1 phone group(s): old"));

    // TVS knows the new certificate as CCM+TFTP: phones whose ITL lists TVS
    // accept, the others cannot reach TVS.
    let tvs_cert = format!("{}:ccm+tftp", path("tlv/keys/app-server.pem"));
    let output = capf(&[
        "trustlist",
        "rollover",
        "--candidate",
        &renewed,
        "--installed",
        &installed_old,
        "--installed",
        &installed_no_tvs,
        "--tvs-cert",
        &tvs_cert,
    ]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let shown = text(&output.stdout);
    assert!(shown.contains("[old] ACCEPTED (vouched-by-tvs)"), "{shown}");
    assert!(
        shown.contains("[old-no-tvs] STRANDED (tvs-unreachable)"),
        "{shown}"
    );
    assert!(shown.contains("stranded: old-no-tvs"), "{shown}");

    // The same as JSON.
    let output = capf(&[
        "trustlist",
        "rollover",
        "--json",
        "--candidate",
        &renewed,
        "--installed",
        &installed_old,
        "--installed",
        &installed_no_tvs,
        "--tvs-cert",
        &tvs_cert,
    ]);
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["all_accept"], false);
    assert_eq!(report["stranded"], serde_json::json!(["old-no-tvs"]));
    assert_eq!(report["candidate"]["kind"], "ITL");
    assert_eq!(
        report["candidate"]["signer"],
        // Cisco rendering (CN, OU, O, C order) of the subject openssl prints as
        // "CN = apps.example.test, O = Example Telecom, OU = Apps, C = NZ".
        "CN=apps.example.test;OU=Apps;O=Example Telecom;C=NZ"
    );
    let accepted = &report["phones"][0];
    assert_eq!(accepted["label"], "old");
    assert_eq!(accepted["accepted"], true);
    assert_eq!(accepted["authority"], "ITL");
    assert_eq!(accepted["how"], "vouched-by-tvs");
    assert_eq!(accepted["tvs_roles"], serde_json::json!(["CCM+TFTP"]));
    assert_eq!(accepted["via"]["record"], 5);
    assert_eq!(accepted["via"]["role"], "TVS");
    assert_eq!(accepted["fix"], Value::Null);
    let stranded = &report["phones"][1];
    assert_eq!(stranded["accepted"], false);
    assert_eq!(stranded["reason"], "tvs-unreachable");
    assert_eq!(stranded["installed"]["itl"], old_no_tvs.as_str());
    assert!(
        stranded["fix"]
            .as_str()
            .unwrap()
            .contains("deleted on each phone")
    );
    for file in [old, old_no_tvs, renewed] {
        let _ = std::fs::remove_file(file);
    }
}

#[test]
fn rollover_with_a_ctl_installed_checks_against_the_ctl() {
    let old = scratch("rollover-ctl-old-itl.tlv");
    pre12_itl(&old, true);
    let candidate = path("tlv/itl-sha1.tlv");
    // The ITL alone would accept the ITLRecovery-signed candidate; the CTL
    // (which does not hold ITLRecovery) takes precedence and TVS is not asked.
    let with_ctl = capf(&[
        "trustlist",
        "rollover",
        "--candidate",
        &candidate,
        "--installed",
        &old,
        "--installed",
        "none",
        "--installed-ctl",
        &path("tlv/ctl-sha1.tlv"),
        "--tvs-cert",
        &format!("{}:sast", path("tlv/keys/itlrecovery.pem")),
        "--json",
    ]);
    assert_eq!(with_ctl.status.code(), Some(1), "{with_ctl:?}");
    let report: Value = serde_json::from_slice(&with_ctl.stdout).unwrap();
    let phone = &report["phones"][0];
    assert_eq!(phone["authority"], "CTL");
    assert_eq!(phone["reason"], "signer-unknown");
    assert!(
        phone["detail"]
            .as_str()
            .unwrap()
            .contains("CTL takes precedence")
    );
    assert_eq!(phone["installed"]["ctl"], path("tlv/ctl-sha1.tlv").as_str());
    // `none` stays empty: first use.
    assert_eq!(report["phones"][1]["how"], "first-use");
    assert_eq!(report["phones"][1]["installed"]["ctl"], Value::Null);
    // The same phones given both files in one --installed.
    let both = capf(&[
        "trustlist",
        "rollover",
        "--candidate",
        &candidate,
        "--installed",
        &format!("{},{old}", path("tlv/ctl-sha1.tlv")),
    ]);
    assert_eq!(both.status.code(), Some(1));
    // A CTL signed by a SAST of the installed CTL: accepted through it.
    let accepted = capf(&[
        "trustlist",
        "rollover",
        "--candidate",
        &path("tlv/ctl-sha512.tlv"),
        "--installed",
        &path("tlv/ctl-sha1.tlv"),
    ]);
    assert_eq!(accepted.status.code(), Some(0), "{accepted:?}");
    assert!(text(&accepted.stdout).contains("ACCEPTED (same-certificate)"));
    let _ = std::fs::remove_file(old);
}

#[test]
fn rollover_on_the_real_cisco_ctl_and_damaged_or_strict_candidates() {
    let real = path("real/cucm/CTLFile.tlv");
    let output = capf(&[
        "trustlist",
        "rollover",
        "--candidate",
        &real,
        "--installed",
        &real,
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let shown = text(&output.stdout);
    assert!(shown.contains("ACCEPTED (same-certificate)"), "{shown}");
    assert!(shown.contains("CN=gigantic-6.cisco.com;OU=VTG;O=Alpha;L=SJ;ST=CA;C=US"));
    // A phone holding the Cisco CTL refuses a list signed by our token.
    let output = capf(&[
        "trustlist",
        "rollover",
        "--candidate",
        &path("tlv/ctl-sha1.tlv"),
        "--installed",
        &real,
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stdout).contains("CN=ITLRECOVERY_gigantic-6.cisco.com"));
    // Damaged candidates are a "no" for every phone, even a new one.
    for damaged in ["tlv/ctl-sha1-badsig.tlv", "tlv/ctl-sha1-tampered.tlv"] {
        let output = capf(&[
            "trustlist",
            "rollover",
            "--candidate",
            &path(damaged),
            "--installed",
            "none",
        ]);
        assert_eq!(output.status.code(), Some(1), "{damaged}");
        assert!(text(&output.stdout).contains("STRANDED (signature-invalid)"));
    }
    // SHA-1 under a SHA-512-only phone policy.
    let output = capf(&[
        "trustlist",
        "rollover",
        "--hash-policy",
        "sha512-only",
        "--candidate",
        &path("tlv/ctl-sha1.tlv"),
        "--installed",
        &path("tlv/ctl-sha1.tlv"),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stdout).contains("STRANDED (hash-not-supported)"));
}

#[test]
fn rollover_refuses_bad_input() {
    let candidate = path("tlv/itl-sha1.tlv");
    let keys = |name: &str| path(&format!("tlv/keys/{name}"));
    let cases: Vec<Vec<String>> = vec![
        // Not a trust list, and a truncated one, as candidate.
        vec![
            "--candidate".into(),
            path("tlv/README.md"),
            "--installed".into(),
            "none".into(),
        ],
        vec![
            "--candidate".into(),
            path("tlv/itl-sha1-truncated.tlv"),
            "--installed".into(),
            "none".into(),
        ],
        // An installed list that does not parse, or does not exist.
        vec![
            "--candidate".into(),
            candidate.clone(),
            "--installed".into(),
            path("tlv/itl-sha1-truncated.tlv"),
        ],
        vec![
            "--candidate".into(),
            candidate.clone(),
            "--installed".into(),
            "old=/nonexistent/ITLFile.tlv".into(),
        ],
        // Two ITLs for one phone.
        vec![
            "--candidate".into(),
            candidate.clone(),
            "--installed".into(),
            format!("{candidate},{candidate}"),
        ],
        // TVS certificates without roles, with an unknown role, unreadable.
        vec![
            "--candidate".into(),
            candidate.clone(),
            "--installed".into(),
            "none".into(),
            "--tvs-cert".into(),
            keys("tvs.pem"),
        ],
        vec![
            "--candidate".into(),
            candidate.clone(),
            "--installed".into(),
            "none".into(),
            "--tvs-cert".into(),
            format!("{}:root", keys("tvs.pem")),
        ],
        vec![
            "--candidate".into(),
            candidate.clone(),
            "--installed".into(),
            "none".into(),
            "--tvs-cert".into(),
            "/nonexistent.pem:sast".into(),
        ],
        // No --installed at all.
        vec!["--candidate".into(), candidate.clone()],
    ];
    for case in cases {
        let mut args = vec!["trustlist", "rollover"];
        args.extend(case.iter().map(String::as_str));
        let output = capf(&args);
        assert_eq!(output.status.code(), Some(2), "{case:?}: {output:?}");
        assert!(output.stdout.is_empty(), "{case:?}");
    }
}

#[test]
fn rollover_needs_the_kind_when_the_filename_element_does_not_say() {
    let odd = scratch("rollover-odd.tlv");
    let keys = |name: &str| path(&format!("tlv/keys/{name}"));
    let built = capf(&[
        "trustlist",
        "build",
        "--signer",
        &keys("sast.pem"),
        "--out",
        &odd,
        "--filename",
        "trust.bin",
        "--record",
        &format!("sast={}", keys("sast.pem")),
    ]);
    assert_eq!(built.status.code(), Some(0), "{built:?}");
    let installed = path("tlv/ctl-sha1.tlv");
    let unsure = capf(&[
        "trustlist",
        "rollover",
        "--candidate",
        &odd,
        "--installed",
        &installed,
    ]);
    assert_eq!(unsure.status.code(), Some(2));
    assert!(text(&unsure.stderr).contains("--candidate-kind"));
    let told = capf(&[
        "trustlist",
        "rollover",
        "--candidate",
        &odd,
        "--candidate-kind",
        "ctl",
        "--installed",
        &installed,
    ]);
    assert_eq!(told.status.code(), Some(0), "{told:?}");
    // As an installed list it needs a ctl:/itl: prefix.
    let unsure = capf(&[
        "trustlist",
        "rollover",
        "--candidate",
        &installed,
        "--installed",
        &odd,
    ]);
    assert_eq!(unsure.status.code(), Some(2));
    let told = capf(&[
        "trustlist",
        "rollover",
        "--candidate",
        &installed,
        "--installed",
        &format!("ctl:{odd}"),
    ]);
    assert_eq!(told.status.code(), Some(0), "{told:?}");
    let _ = std::fs::remove_file(odd);
}

#[test]
fn rollover_reads_tvs_knowledge_from_the_capf_database() {
    let old = scratch("rollover-db-old-itl.tlv");
    let renewed = scratch("rollover-db-renewed.tlv");
    let db = scratch("rollover-tvs.db");
    let _ = std::fs::remove_file(&db);
    pre12_itl(&old, true);
    renewed_itl(&renewed);
    let new_signer = path("tlv/keys/app-server.pem");
    let predict = || {
        let output = capf(&[
            "trustlist",
            "rollover",
            "--json",
            "--candidate",
            &renewed,
            "--installed",
            &old,
            "--tvs-store",
            &db,
        ]);
        let report: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        (output.status.code(), report)
    };
    // No database yet: bad input, and none is created.
    assert_eq!(predict().0, Some(2));
    assert!(!Path::new(&db).exists());
    // Registered with a role that does not vouch for a signer, then with
    // CCM+TFTP, then revoked.
    let tvs = |args: &[&str]| {
        let output = capf(args);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
    };
    tvs(&["tvs", "add", "--db", &db, "--role", "capf", &new_signer]);
    let (code, report) = predict();
    assert_eq!(code, Some(1));
    assert_eq!(report["phones"][0]["reason"], "signer-unknown");
    tvs(&["tvs", "add", "--db", &db, "--role", "ccm+tftp", &new_signer]);
    let (code, report) = predict();
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["phones"][0]["how"], "vouched-by-tvs");
    assert_eq!(
        report["phones"][0]["tvs_roles"],
        serde_json::json!(["CCM+TFTP"])
    );
    tvs(&["tvs", "revoke", "--db", &db, &new_signer]);
    let (code, report) = predict();
    assert_eq!(code, Some(1));
    assert_eq!(report["phones"][0]["reason"], "tvs-revoked");
    // Not a database at all.
    let output = capf(&[
        "trustlist",
        "rollover",
        "--candidate",
        &renewed,
        "--installed",
        &old,
        "--tvs-store",
        &old,
    ]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    for file in [old, renewed, format!("{db}-wal"), format!("{db}-shm"), db] {
        let _ = std::fs::remove_file(file);
    }
}
