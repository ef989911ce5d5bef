//! Several `capf serve` nodes on one PostgreSQL registry, with the built
//! binary over real TLS on loopback: phones spread over two nodes enroll;
//! the same device raced on both nodes ends with one installed certificate;
//! no serial appears twice in the ledger, and every certificate a phone
//! received is in the ledger. The server comes from `CAPF_TEST_POSTGRES_URL`
//! (`scripts/with-postgres.sh`); each test makes a database of its own.
//! Without the variable every test says SKIPPED.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

const URL_VARIABLE: &str = "CAPF_TEST_POSTGRES_URL";

/// A fresh database on the test server, and its URL; `None` (after saying
/// SKIPPED) without a server.
fn database(test: &str) -> Option<String> {
    let Some(url) = std::env::var(URL_VARIABLE)
        .ok()
        .filter(|url| !url.is_empty())
    else {
        eprintln!("SKIPPED: {URL_VARIABLE} not set ({test})");
        return None;
    };
    let name = format!(
        "capf_{test}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let (server, _database) = url.rsplit_once('/').unwrap();
    Some(format!("{server}/{name}"))
}

fn temp_dir(tag: &str) -> PathBuf {
    support::scratch("postgres-nodes", tag)
}

/// Nodes sharing one database, one CAPF identity and one auth-string key.
struct Cluster {
    dir: PathBuf,
    url: String,
    cert: PathBuf,
    key: PathBuf,
    auth_key: PathBuf,
}

impl Cluster {
    fn new(test: &str) -> Option<Self> {
        let url = database(test)?;
        let dir = temp_dir(test);
        let (cert, key) = support::capf_ca_files(&dir, "CAPF-nodes", 0xCAF1);
        let auth_key = dir.join("shared.auth-key");
        Some(Self {
            dir,
            url,
            cert,
            key,
            auth_key,
        })
    }

    fn node(&self, name: &str) -> support::ServeProcess {
        self.node_on(name, "127.0.0.1:0", &[])
    }

    /// A node listening on `listen`, with more `serve` flags.
    fn node_on(&self, name: &str, listen: &str, more: &[&str]) -> support::ServeProcess {
        let mut args = vec![
            "serve",
            "--listen",
            listen,
            "--cert",
            self.cert.to_str().unwrap(),
            "--key",
            self.key.to_str().unwrap(),
            "--db",
            &self.url,
            "--auth-key-file",
            self.auth_key.to_str().unwrap(),
            "--node-name",
            name,
        ];
        args.extend_from_slice(more);
        // A node restarted under its name keeps its earlier log.
        let mut log = self.dir.join(format!("{name}.log"));
        for generation in 2.. {
            if !log.exists() {
                break;
            }
            log = self.dir.join(format!("{name}-{generation}.log"));
        }
        support::ServeProcess::start(&args, &log)
    }

    fn add(&self, device: &str) {
        let output = support::run_capf(&[
            "device",
            "add",
            "--db",
            &self.url,
            "--auth-key-file",
            self.auth_key.to_str().unwrap(),
            device,
            "--operation",
            "install",
            "--auth",
            "auth-string",
            "--auth-string",
            "97531",
            "--key",
            "ec:p256",
        ]);
        assert!(output.status.success(), "{}", support::describe(&output));
    }

    fn enroll(&self, address: &str, device: &str, out: &Path) -> Output {
        self.enroll_with(address, device, out, &[])
    }

    /// [`enroll`](Self::enroll) with more `enroll` flags.
    fn enroll_with(&self, address: &str, device: &str, out: &Path, more: &[&str]) -> Output {
        let mut args = vec![
            "enroll",
            "--server",
            address,
            "--ca",
            self.cert.to_str().unwrap(),
            "--device",
            device,
            "--out",
            out.to_str().unwrap(),
            "--auth-string",
            "97531",
            "--timeout",
            "20",
        ];
        args.extend_from_slice(more);
        support::run_capf(&args)
    }

    fn show(&self, device: &str) -> serde_json::Value {
        let output = support::run_capf(&["device", "show", "--db", &self.url, device, "--json"]);
        assert!(output.status.success(), "{}", support::describe(&output));
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// The device's ledger: (serial, state) oldest first.
    fn ledger(&self, device: &str) -> Vec<(String, String)> {
        self.show(device)["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| {
                (
                    entry["serial"].as_str().unwrap().to_owned(),
                    entry["state"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

fn installed(output: &Output) -> bool {
    output.status.success() && String::from_utf8_lossy(&output.stdout).contains("LSC installed")
}

/// The serial of the LSC in a `capf enroll --out` file, lower-case hex.
fn serial_in(path: &Path) -> String {
    use der::Decode;
    let pem = std::fs::read_to_string(path).unwrap();
    let end = pem.find("-----END CERTIFICATE-----").unwrap() + 25;
    let (_label, der) = der::pem::decode_vec(&pem.as_bytes()[..end]).unwrap();
    let certificate = x509_cert::Certificate::from_der(&der).unwrap();
    hex::encode(certificate.tbs_certificate.serial_number.as_bytes())
}

#[test]
fn two_nodes_on_one_postgres_enroll_spread_phones_and_race_one_certificate_per_device() {
    const SPREAD: usize = 6;
    const RACED: usize = 4;
    let Some(cluster) = Cluster::new("two_nodes") else {
        return;
    };
    let nodes = [cluster.node("a"), cluster.node("b")];
    let logs = || format!("A:\n{}\nB:\n{}", nodes[0].log(), nodes[1].log());
    let mut serials = Vec::new();

    // Phones spread over both nodes, in parallel.
    let devices: Vec<String> = (0..SPREAD)
        .map(|i| format!("SEP00000000E{i:03X}"))
        .collect();
    for device in &devices {
        cluster.add(device);
    }
    let outputs: Vec<(String, PathBuf, Output)> = std::thread::scope(|scope| {
        let runs: Vec<_> = devices
            .iter()
            .enumerate()
            .map(|(index, device)| {
                let node = &nodes[index % 2];
                let cluster = &cluster;
                scope.spawn(move || {
                    let out = cluster.dir.join(format!("{device}.pem"));
                    let output = cluster.enroll(node.capf_address(), device, &out);
                    (device.clone(), out, output)
                })
            })
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    });
    for (device, out, output) in &outputs {
        assert!(
            installed(output),
            "{device}: {}\n{}",
            support::describe(output),
            logs()
        );
        let serial = serial_in(out);
        assert_eq!(
            cluster.ledger(device),
            vec![(serial.clone(), "installed".to_owned())],
            "{device}"
        );
        serials.push(serial);
    }

    // The same device raced on both nodes at once: one certificate.
    for round in 0..RACED {
        let device = format!("SEP00000000F{round:03X}");
        cluster.add(&device);
        let start = std::sync::Barrier::new(2);
        let outputs: Vec<(PathBuf, Output)> = std::thread::scope(|scope| {
            let runs: Vec<_> = nodes
                .iter()
                .enumerate()
                .map(|(index, node)| {
                    let (start, cluster, device) = (&start, &cluster, &device);
                    scope.spawn(move || {
                        let out = cluster.dir.join(format!("{device}-{index}.pem"));
                        start.wait();
                        let output = cluster.enroll(node.capf_address(), device, &out);
                        (out, output)
                    })
                })
                .collect();
            runs.into_iter().map(|run| run.join().unwrap()).collect()
        });
        let context = format!(
            "{device}:\n{}\n{}\n{}",
            support::describe(&outputs[0].1),
            support::describe(&outputs[1].1),
            logs()
        );
        let winners: Vec<_> = outputs
            .iter()
            .filter(|(_, output)| installed(output))
            .collect();
        assert_eq!(winners.len(), 1, "{context}");
        let serial = serial_in(&winners[0].0);
        assert_eq!(
            cluster.ledger(&device),
            vec![(serial.clone(), "installed".to_owned())],
            "{context}"
        );
        let shown = cluster.show(&device);
        assert_eq!(shown["auth_string_set"], false, "{shown}");
        assert_eq!(shown["failed_attempts"], 0, "{shown}");
        serials.push(serial);
    }

    // Each node says who it is in its log and in the events it wrote.
    assert!(nodes[0].log().contains("node=a"), "{}", logs());
    assert!(nodes[1].log().contains("node=b"), "{}", logs());
    let written_by = |device: &str| -> Vec<String> {
        let output = support::run_capf(&["device", "show", "--db", &cluster.url, device]);
        let shown = String::from_utf8_lossy(&output.stdout).into_owned();
        ["a", "b"]
            .iter()
            .filter(|node| shown.contains(&format!("[node {node}]")))
            .map(|node| (*node).to_owned())
            .collect()
    };
    assert_eq!(written_by(&devices[0]), vec!["a"]);
    assert_eq!(written_by(&devices[1]), vec!["b"]);

    // No serial twice, across both nodes.
    let mut unique = serials.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), serials.len(), "{serials:?}");
}

#[test]
fn a_node_killed_mid_load_and_restarted_loses_no_certificate() {
    // Phones spread over two nodes; node A is SIGKILLed once it has
    // installed a first LSC (others in flight) and restarted on the same
    // address. Phones retry communication failures, so every phone ends
    // installed; a claim the killed node held expires with its lease (key
    // generation 5 s + 2 x response 5 s + the 120 s margin), which the
    // retries outlast. At the end every phone's LSC is in the ledger,
    // installed, and no serial appears twice in the whole ledger.
    const PHONES: usize = 24;
    let Some(cluster) = Cluster::new("killed") else {
        return;
    };
    let limits = ["--key-generation-timeout", "5", "--response-timeout", "5"];
    let mut node_a = cluster.node_on("a", "127.0.0.1:0", &limits);
    let a_address = node_a.capf_address().to_owned();
    let node_b = cluster.node_on("b", "127.0.0.1:0", &limits);
    let b_address = node_b.capf_address().to_owned();
    let devices: Vec<String> = (0..PHONES)
        .map(|i| format!("SEP00000000D{i:03X}"))
        .collect();
    for device in &devices {
        cluster.add(device);
    }
    let retries = ["--retries", "60", "--retry-interval", "3"];
    let (outputs, restarted) = std::thread::scope(|scope| {
        let runs: Vec<_> = devices
            .iter()
            .enumerate()
            .map(|(index, device)| {
                let address = if index % 2 == 0 {
                    &a_address
                } else {
                    &b_address
                };
                let cluster = &cluster;
                scope.spawn(move || {
                    let out = cluster.dir.join(format!("{device}.pem"));
                    let output = cluster.enroll_with(address, device, &out, &retries);
                    (device.clone(), out, output)
                })
            })
            .collect();
        // Kill A once a session of its ended well, then start it again.
        let started = std::time::Instant::now();
        while !node_a.log().contains("session finished") {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "node A installed nothing: {}",
                node_a.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        node_a.signal("KILL");
        node_a.wait_exit();
        let restarted = cluster.node_on("a", &a_address, &limits);
        let outputs: Vec<(String, PathBuf, Output)> =
            runs.into_iter().map(|run| run.join().unwrap()).collect();
        (outputs, restarted)
    });
    let logs = || {
        format!(
            "A (killed):\n{}\nA (restarted):\n{}\nB:\n{}",
            node_a.log(),
            restarted.log(),
            node_b.log()
        )
    };
    let mut serials = Vec::new();
    for (device, out, output) in &outputs {
        // A phone whose END_SESSION the kill swallowed had stored its LSC
        // already (it answered STORE_CERT_RESPONSE, the registry recorded
        // the install): its retry finds nothing to do. Either way the LSC
        // it holds must be installed in the ledger.
        let stored_before_the_kill = output.status.success()
            && String::from_utf8_lossy(&output.stdout).contains("nothing to do")
            && out.exists();
        assert!(
            installed(output) || stored_before_the_kill,
            "{device}: {}\n{}",
            support::describe(output),
            logs()
        );
        let serial = serial_in(out);
        let ledger = cluster.ledger(device);
        assert!(
            ledger.contains(&(serial.clone(), "installed".to_owned())),
            "{device}: the phone's LSC {serial} is not installed in the ledger {ledger:?}"
        );
        serials.extend(ledger.into_iter().map(|(serial, _)| serial));
    }
    let mut unique = serials.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), serials.len(), "a serial twice: {serials:?}");
}

#[test]
fn health_says_whether_the_registry_is_reachable_and_current() {
    // Without a server: an unreachable URL is unhealthy (exit 1), its
    // password never shown; a missing file too, and it is not created.
    let dir = temp_dir("health");
    let output = support::run_capf(&["health", "--db", "postgres://capf:s3cret@127.0.0.1:1/capf"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        support::describe(&output)
    );
    assert!(
        !support::describe(&output).contains("s3cret"),
        "{}",
        support::describe(&output)
    );
    let missing = dir.join("missing.db");
    let output = support::run_capf(&["health", "--db", missing.to_str().unwrap()]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        support::describe(&output)
    );
    assert!(!missing.exists());
    let output = support::run_capf(&["health"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        support::describe(&output)
    );
    let Some(url) = database("health") else {
        return;
    };
    // A database without a registry yet: reachable, schema not current.
    let output = support::run_capf(&["health", "--db", &url]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        support::describe(&output)
    );
    assert!(
        support::describe(&output).contains("schema 0"),
        "{}",
        support::describe(&output)
    );
    // Once a node (or `capf device`) created it: healthy.
    let output = support::run_capf(&["device", "list", "--db", &url]);
    assert!(output.status.success(), "{}", support::describe(&output));
    let output = support::run_capf(&["health", "--db", &url]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        support::describe(&output)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).starts_with("healthy:"),
        "{}",
        support::describe(&output)
    );
}

#[test]
fn settings_live_in_the_postgres_registry_every_node_reads() {
    let Some(url) = database("settings") else {
        return;
    };
    let output = support::run_capf(&["device", "list", "--db", &url]);
    assert!(output.status.success(), "{}", support::describe(&output));
    let output = support::run_capf(&["settings", "set", "--db", &url, "validity-days", "30"]);
    assert!(output.status.success(), "{}", support::describe(&output));
    let output = support::run_capf(&["settings", "set", "--db", &url, "validity-days", "0"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        support::describe(&output)
    );
    let output = support::run_capf(&["settings", "show", "--db", &url, "--json"]);
    assert!(output.status.success(), "{}", support::describe(&output));
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        shown["validity-days"],
        "30",
        "{}",
        support::describe(&output)
    );
    assert_eq!(
        shown["max-failed-attempts"],
        "5",
        "{}",
        support::describe(&output)
    );
}

#[test]
fn registry_copy_moves_a_sqlite_registry_to_postgres_and_refuses_a_non_empty_target() {
    let dir = temp_dir("copy");
    let file = dir.join("capf.db");
    let output = support::run_capf(&[
        "device",
        "add",
        "--db",
        file.to_str().unwrap(),
        "SEP0000000000C1",
        "--operation",
        "install",
        "--auth",
        "null",
        "--key",
        "ec:p256",
    ]);
    assert!(output.status.success(), "{}", support::describe(&output));
    // A missing source is bad usage (exit 2), and creates nothing.
    let missing = dir.join("missing.db");
    let output = support::run_capf(&[
        "registry",
        "copy",
        "--from",
        missing.to_str().unwrap(),
        "--to",
        dir.join("other.db").to_str().unwrap(),
    ]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        support::describe(&output)
    );
    assert!(!missing.exists());
    let Some(url) = database("copy") else {
        return;
    };
    let copy = |force: bool| {
        let mut args = vec![
            "registry",
            "copy",
            "--from",
            file.to_str().unwrap(),
            "--to",
            &url,
        ];
        if force {
            args.push("--force");
        }
        support::run_capf(&args)
    };
    let output = copy(false);
    assert!(output.status.success(), "{}", support::describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("copied 1 devices"),
        "{}",
        support::describe(&output)
    );
    let output = support::run_capf(&["device", "show", "--db", &url, "SEP0000000000C1", "--json"]);
    assert!(output.status.success(), "{}", support::describe(&output));
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["operation"], "install");
    // Again: the target is not empty (exit 1); with --force the same
    // device collides and nothing is written either.
    let output = copy(false);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        support::describe(&output)
    );
    assert!(
        support::describe(&output).contains("--force"),
        "{}",
        support::describe(&output)
    );
    let output = copy(true);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        support::describe(&output)
    );
}

#[test]
fn a_database_outage_refuses_phones_cleanly_and_the_node_recovers_by_itself() {
    let Some(cluster) = Cluster::new("outage") else {
        return;
    };
    let node = cluster.node("n");
    cluster.add("SEP0000000000A0");
    cluster.add("SEP0000000000A1");
    let database = cluster.url.rsplit_once('/').unwrap().1.to_owned();
    let server_url = std::env::var(URL_VARIABLE).unwrap();
    let mut admin = postgres::Client::connect(&server_url, postgres::NoTls).unwrap();
    // A phone enrolls before the outage.
    let before = cluster.dir.join("before.pem");
    let output = cluster.enroll(node.capf_address(), "SEP0000000000A0", &before);
    assert!(
        installed(&output),
        "{}\n{}",
        support::describe(&output),
        node.log()
    );

    // The database goes away: every connection to it dropped, none allowed.
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {database} ALLOW_CONNECTIONS false;
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"
        ))
        .unwrap();
    let during = cluster.dir.join("during.pem");
    for _ in 0..2 {
        let output = cluster.enroll(node.capf_address(), "SEP0000000000A1", &during);
        assert!(
            !installed(&output),
            "{}\n{}",
            support::describe(&output),
            node.log()
        );
        assert!(!output.status.success(), "{}", support::describe(&output));
        assert!(!during.exists(), "a certificate was sent during the outage");
    }
    assert!(
        node.log().contains("device lookup failed: refused"),
        "{}",
        node.log()
    );

    // It comes back: the same node serves again without a restart, and
    // nothing was lost or half-written.
    admin
        .batch_execute(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true"))
        .unwrap();
    let output = cluster.enroll(node.capf_address(), "SEP0000000000A1", &during);
    assert!(
        installed(&output),
        "{}\n{}",
        support::describe(&output),
        node.log()
    );
    assert_eq!(
        cluster.ledger("SEP0000000000A1"),
        vec![(serial_in(&during), "installed".to_owned())]
    );
    assert_eq!(
        cluster.ledger("SEP0000000000A0"),
        vec![(serial_in(&before), "installed".to_owned())]
    );
    let shown = cluster.show("SEP0000000000A1");
    assert_eq!(shown["failed_attempts"], 0, "{shown}");
    assert_eq!(shown["operation"], "none", "{shown}");
}
