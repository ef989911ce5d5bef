//! `capf device import`: many devices from one file, all or none.

mod support;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;
use support::{capf, scratch, text};

fn import(db: &Path, file: &Path) -> Output {
    capf(&[
        OsStr::new("device"),
        OsStr::new("import"),
        OsStr::new("--db"),
        db.as_os_str(),
        file.as_os_str(),
    ])
}

/// `device list --json`, as (name, operation, auth_mode, key, auth_string_set).
fn devices(db: &Path) -> Vec<(String, String, String, String, bool)> {
    let output = capf(&[
        OsStr::new("device"),
        OsStr::new("list"),
        OsStr::new("--db"),
        db.as_os_str(),
        OsStr::new("--json"),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|device| {
            (
                device["name"].as_str().unwrap().to_owned(),
                device["operation"].as_str().unwrap().to_owned(),
                device["auth_mode"].as_str().unwrap().to_owned(),
                device["key"].as_str().unwrap().to_owned(),
                device["auth_string_set"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn row(
    name: &str,
    operation: &str,
    auth: &str,
    key: &str,
    string: bool,
) -> (String, String, String, String, bool) {
    (
        name.to_owned(),
        operation.to_owned(),
        auth.to_owned(),
        key.to_owned(),
        string,
    )
}

#[test]
fn imports_every_line_with_the_options_of_add() {
    let dir = scratch("device-import", "imports");
    let db = dir.join("capf.db");
    let file = dir.join("devices.txt");
    std::fs::write(
        &file,
        "# phones of floor 3\n\
         SEP001122334455 --operation install --auth null --key ec:p256\n\
         \n\
         SEP001122334466   --operation fetch --auth mic\n\
         CSFALICE --operation install --auth auth-string --generate-auth-string --key ec:p384\n",
    )
    .unwrap();
    let output = import(&db, &file);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("3 device(s) imported: 3 added, 0 schedule(s) replaced"),
        "{stdout}"
    );
    // The generated string: printed once, 6 digits (the `add` default).
    let generated = stdout
        .lines()
        .find_map(|line| line.strip_prefix("CSFALICE: authentication string: "))
        .unwrap();
    assert_eq!(generated.len(), 6);
    assert!(generated.bytes().all(|b| b.is_ascii_digit()));

    let mut listed = devices(&db);
    listed.sort();
    assert_eq!(
        listed,
        vec![
            row("CSFALICE", "install", "auth-string", "ec:p384", true),
            row("SEP001122334455", "install", "null", "ec:p256", false),
            row("SEP001122334466", "fetch", "mic", "rsa:2048", false),
        ]
    );

    // Importing again replaces schedules.
    let replacement = dir.join("again.txt");
    std::fs::write(
        &replacement,
        "SEP001122334455 --operation delete --auth lsc\n",
    )
    .unwrap();
    let output = import(&db, &replacement);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("1 device(s) imported: 0 added, 1 schedule(s) replaced"));
    assert!(devices(&db).contains(&row("SEP001122334455", "delete", "lsc", "rsa:2048", false)));
}

#[test]
fn a_bad_line_imports_nothing_and_names_the_line() {
    let dir = scratch("device-import", "refuses");
    let db = dir.join("capf.db");
    let good = dir.join("good.txt");
    std::fs::write(&good, "SEP0011223344AA --operation install --auth null\n").unwrap();
    assert!(import(&db, &good).status.success());

    let cases = [
        // An invalid name on line 3.
        (
            "SEP0011223344BB --operation install --auth null\n\n\
             SEP00112233 --operation install --auth null\n",
            ":3:",
        ),
        // An unknown option on line 2.
        (
            "SEP0011223344BB --operation install --auth null\n\
             SEP0011223344CC --operation install --auth null --colour red\n",
            ":2:",
        ),
        // An auth-string device without a string.
        (
            "SEP0011223344BB --operation install --auth auth-string\n",
            ":1:",
        ),
        // The same device twice.
        (
            "SEP0011223344BB --operation install --auth null\n\
             SEP0011223344BB --operation fetch --auth null\n",
            "listed twice",
        ),
    ];
    for (content, expected) in cases {
        let file = dir.join("bad.txt");
        std::fs::write(&file, content).unwrap();
        let output = import(&db, &file);
        assert_eq!(output.status.code(), Some(2), "{content}");
        let stderr = text(&output.stderr);
        assert!(stderr.contains(expected), "{content}: {stderr}");
        // Nothing of the file was written.
        assert_eq!(
            devices(&db),
            vec![row("SEP0011223344AA", "install", "null", "rsa:2048", false)],
            "{content}"
        );
    }

    // An unreadable file is bad input too.
    let output = import(&db, &dir.join("missing.txt"));
    assert_eq!(output.status.code(), Some(2));
}
