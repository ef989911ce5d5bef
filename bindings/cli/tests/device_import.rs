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

#[test]
fn a_csv_inventory_is_imported_all_or_none() {
    let dir = std::env::temp_dir().join(format!(
        "capf-import-csv-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("capf.db");
    let csv = dir.join("inventory.csv");
    std::fs::write(
        &csv,
        "name,operation,auth,generate-auth-string,key,complete-by,description\r\n\
         SEP0011223344C1,install,auth-string,yes,ec:p256,2099-01-31,\"Lobby, east\"\r\n\
         SEP0011223344C2,fetch,lsc,no,,,\r\n",
    )
    .unwrap();
    let run = |args: &[&std::ffi::OsStr]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_capf"))
            .args(args)
            .output()
            .unwrap()
    };
    let output = run(&[
        "device".as_ref(),
        "import".as_ref(),
        "--db".as_ref(),
        db.as_os_str(),
        "--csv".as_ref(),
        csv.as_os_str(),
    ]);
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(out.contains("2 device(s) imported"), "{out}");
    // Generated string shown once, here; progress only on a terminal.
    assert!(
        out.contains("SEP0011223344C1: authentication string: "),
        "{out}"
    );
    assert!(!String::from_utf8_lossy(&output.stderr).contains("preparing"));
    let shown = run(&[
        "device".as_ref(),
        "show".as_ref(),
        "--db".as_ref(),
        db.as_os_str(),
        "SEP0011223344C1".as_ref(),
        "--json".as_ref(),
    ]);
    let value: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(value["description"], "Lobby, east");
    assert_eq!(value["complete_by"], "2099-01-31T00:00:00Z");
    assert_eq!(value["key"], "ec:p256");
    assert_eq!(value["auth_string_set"], true);

    // One bad record: nothing of the file is written.
    std::fs::write(
        &csv,
        "name,operation,auth\nSEP0011223344C3,install,null\nSEP0011223344C4,explode,null\n",
    )
    .unwrap();
    let output = run(&[
        "device".as_ref(),
        "import".as_ref(),
        "--db".as_ref(),
        db.as_os_str(),
        "--csv".as_ref(),
        csv.as_os_str(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(err.contains("record 3"), "{err}");
    let listed = run(&[
        "device".as_ref(),
        "list".as_ref(),
        "--db".as_ref(),
        db.as_os_str(),
        "--json".as_ref(),
    ]);
    let value: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(value.as_array().unwrap().len(), 2, "{value}");
    let _ = std::fs::remove_dir_all(dir);
}
