//! `capf serve --ready-file`: the bound addresses as JSON once listening,
//! `null` for a service not served, a stale file replaced; and the test
//! support built on it, which fails at once when the server exits during
//! start-up.

mod support;

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::{ServeProcess, scratch, vectors};

/// An address `host:port` with a port the system chose.
fn assert_bound(address: &serde_json::Value, host: &str) -> String {
    let address = address
        .as_str()
        .unwrap_or_else(|| panic!("{address} is not an address"));
    let port = address
        .strip_prefix(host)
        .and_then(|rest| rest.strip_prefix(':'))
        .unwrap_or_else(|| panic!("{address} is not on {host}"));
    let port: u16 = port.parse().unwrap();
    assert_ne!(port, 0, "{address}");
    address.to_owned()
}

#[test]
fn ready_file_names_each_bound_listener_and_null_for_the_others() {
    let dir = scratch("ready", "both");
    let capf = vectors().join("tlv/keys/capf.pem");
    let ready = dir.join("ready.json");
    // A stale file from an earlier run must not be taken for this one.
    std::fs::write(&ready, "{\"capf\":\"127.0.0.1:1\",\"tvs\":null}").unwrap();
    let log = std::fs::File::create(dir.join("serve.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_capf"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tvs-listen",
            "127.0.0.1:0",
        ])
        .arg("--cert")
        .arg(&capf)
        .arg("--key")
        .arg(&capf)
        .arg("--db")
        .arg(dir.join("capf.db"))
        .arg("--ready-file")
        .arg(&ready)
        .stderr(log)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let json = loop {
        if let Ok(text) = std::fs::read_to_string(&ready)
            && !text.contains("127.0.0.1:1\"")
        {
            break text;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "capf serve exited ({status}): {}",
                std::fs::read_to_string(dir.join("serve.log")).unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value.as_object().unwrap().len(), 2, "{json}");
    let capf_address = assert_bound(&value["capf"], "127.0.0.1");
    let tvs_address = assert_bound(&value["tvs"], "127.0.0.1");
    assert_ne!(capf_address, tvs_address);
    TcpStream::connect(&capf_address).unwrap();
    TcpStream::connect(&tvs_address).unwrap();
    // No temporary file is left beside it.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("ready.json."))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn capf_alone_has_a_null_tvs_and_tvs_alone_a_null_capf() {
    let dir = scratch("ready", "alone");
    let capf = vectors().join("tlv/keys/capf.pem");
    let db = dir.join("capf.db");
    let read = |log: &str| {
        let ready = dir.join(log).with_extension("ready.json");
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(ready).unwrap()).unwrap();
        value
    };

    let capf_alone = ServeProcess::start(
        &[
            "serve".as_ref(),
            "--listen".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--cert".as_ref(),
            capf.as_os_str(),
            "--key".as_ref(),
            capf.as_os_str(),
            "--db".as_ref(),
            db.as_os_str(),
        ],
        &dir.join("capf.log"),
    );
    let value = read("capf.log");
    assert_eq!(value["tvs"], serde_json::Value::Null, "{value}");
    assert_eq!(
        assert_bound(&value["capf"], "127.0.0.1"),
        capf_alone.capf_address()
    );
    drop(capf_alone);

    let tvs_alone = ServeProcess::start(
        &[
            "serve".as_ref(),
            "--tvs-listen".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--tvs-cert".as_ref(),
            capf.as_os_str(),
            "--tvs-key".as_ref(),
            capf.as_os_str(),
            "--db".as_ref(),
            db.as_os_str(),
        ],
        &dir.join("tvs.log"),
    );
    let value = read("tvs.log");
    assert_eq!(value["capf"], serde_json::Value::Null, "{value}");
    assert_eq!(
        assert_bound(&value["tvs"], "127.0.0.1"),
        tvs_alone.tvs_address()
    );
}

/// The support's start-up wait ends with the server's own error when the
/// server exits, instead of waiting out its 30 s limit.
#[test]
fn a_server_that_exits_during_start_up_fails_the_test_with_its_log() {
    let dir = scratch("ready", "exits");
    let missing = dir.join("no-such-certificate.pem");
    let log = dir.join("serve.log");
    let started = std::panic::catch_unwind(|| {
        ServeProcess::start(
            &[
                "serve".as_ref(),
                "--listen".as_ref(),
                "127.0.0.1:0".as_ref(),
                "--cert".as_ref(),
                missing.as_os_str(),
                "--key".as_ref(),
                missing.as_os_str(),
                "--db".as_ref(),
                dir.join("capf.db").as_os_str(),
            ],
            &log,
        )
    });
    let panic = started.err().expect("start must fail");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("exited"), "{message}");
    assert!(message.contains("before it was ready"), "{message}");
    assert!(message.contains("no-such-certificate.pem"), "{message}");
}
