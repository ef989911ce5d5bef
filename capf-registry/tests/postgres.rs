//! The backend-independent suite ([`capf_registry::conformance`]) run
//! against the PostgreSQL backend, each test in a schema of its own on the
//! server `CAPF_TEST_POSTGRES_URL` names (`scripts/with-postgres.sh` starts
//! a throw-away one). Without it every test says SKIPPED.
#![cfg(feature = "postgres")]

use capf_registry::conformance::{self, Backend};
use capf_registry::{PostgresOptions, PostgresRegistry, Registry};

/// The variable naming the test server.
const URL_VARIABLE: &str = "CAPF_TEST_POSTGRES_URL";

/// One test's schemas on the test server.
struct Postgres {
    url: String,
    prefix: String,
}

impl Postgres {
    /// `None` (after saying SKIPPED) when no server is configured.
    fn new(test: &str) -> Option<Self> {
        let Some(url) = std::env::var(URL_VARIABLE)
            .ok()
            .filter(|url| !url.is_empty())
        else {
            eprintln!("SKIPPED: {URL_VARIABLE} not set ({test})");
            return None;
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Some(Self {
            url,
            prefix: format!("t{}_{nanos}", std::process::id()),
        })
    }

    fn schema(&self, tag: &str) -> String {
        let tag: String = tag
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(30)
            .collect();
        format!("{}_{tag}", self.prefix)
    }

    fn open(&self, tag: &str) -> PostgresRegistry {
        let options = PostgresOptions::new().with_schema(self.schema(tag));
        match PostgresRegistry::open_with(&self.url, &options) {
            Ok(registry) => registry,
            Err(error) => panic!("opening {tag} on the test server: {error}"),
        }
    }
}

impl Backend for Postgres {
    type Registry = PostgresRegistry;
    fn create(&self, tag: &str) -> PostgresRegistry {
        let registry = self.open(tag);
        assert!(
            registry
                .list()
                .map(|devices| devices.is_empty())
                .unwrap_or(false),
            "{tag} is not a fresh schema"
        );
        registry
    }
    fn connect(&self, tag: &str) -> PostgresRegistry {
        self.open(tag)
    }
}

macro_rules! suite {
    ($($name:ident),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                if let Some(backend) = Postgres::new(stringify!($name)) {
                    conformance::$name(&backend);
                }
            }
        )+
    };
}

suite!(
    settings_are_stored_and_shared,
    deadlines_and_statuses,
    keyed_auth_strings_are_found_verified_and_unique,
    install_flow_consumes_the_auth_string_once,
    auth_failures_lock_and_rescheduling_unlocks,
    ledger_survives_fetch_delete_and_removal,
    unknown_devices_and_bulk_adds,
    claims_exclude_expire_and_release,
    racing_sessions_install_one_certificate_per_operation,
    concurrent_failures_count_exactly,
    tvs_allow_list,
    a_real_session_through_the_host_helpers,
    revocations_are_final_found_by_serial_and_consulted,
    renewal_is_planned_at_the_threshold_and_replaces_the_old_lsc,
    directly_issued_certificates_add_the_device_and_replace_earlier_ones,
    offline_ca_requests_go_stale_import_and_are_deleted,
    offline_ca_ready_certificate_is_installed_or_goes_stale,
);

// ---- what only this backend has ----

/// A plain client on the test schema, behind the registry's back.
fn raw_client(backend: &Postgres, tag: &str) -> postgres::Client {
    let mut client = postgres::Client::connect(&backend.url, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!("SET search_path TO {}", backend.schema(tag)))
        .unwrap();
    client
}

fn install() -> capf_registry::Schedule {
    use capf_core::capf::codec::Curve;
    use capf_core::capf::key_request::KeyRequest;
    capf_registry::Schedule {
        operation: capf_registry::Operation::Install,
        key_request: KeyRequest::Ec(Curve::P256),
        auth_mode: capf_registry::AuthMode::Null,
        auth_hash: None,
        complete_by: None,
        description: None,
    }
}

/// A DER certificate with this issuer name and serial (its key is
/// irrelevant: only the issuer and serial are looked at; `_variant` tells
/// the calls apart).
fn issued(issuer: &str, serial: u64, _variant: u64) -> Vec<u8> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, issuer);
    params.serial_number = Some(rcgen::SerialNumber::from(serial));
    params.self_signed(&key).unwrap().der().to_vec()
}

#[test]
fn concurrent_node_starts_migrate_once() {
    let Some(backend) = Postgres::new("concurrent_node_starts_migrate_once") else {
        return;
    };
    let barrier = std::sync::Barrier::new(4);
    let versions: Vec<i64> = std::thread::scope(|scope| {
        let starts: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    backend.open("starts").schema_version().unwrap()
                })
            })
            .collect();
        starts
            .into_iter()
            .map(|start| start.join().unwrap())
            .collect()
    });
    assert_eq!(versions, vec![7; 4]);
    let mut client = raw_client(&backend, "starts");
    let rows: i64 = client
        .query_one("SELECT COUNT(*) FROM capf_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);
    // A database written by a newer capf is refused, not misread.
    client
        .batch_execute("UPDATE capf_schema SET version = 99")
        .unwrap();
    let options = PostgresOptions::new().with_schema(backend.schema("starts"));
    assert!(matches!(
        PostgresRegistry::open_with(&backend.url, &options),
        Err(capf_registry::RegistryError::SchemaTooNew {
            found: 99,
            known: 7
        })
    ));
}

#[test]
fn the_ledger_refuses_deletes_rewrites_truncation_and_unrevoking() {
    let Some(backend) = Postgres::new("ledger_triggers") else {
        return;
    };
    let registry = backend.create("ledger");
    registry
        .put_device("SEP001122334455", &install(), 1)
        .unwrap();
    let der = issued("Ledger CA", 7, 1);
    let certificate = capf_registry::NewCertificate {
        serial_hex: "07".into(),
        der,
        issued_at: 1,
        not_after: 2,
    };
    let key = capf_core::capf::key_request::KeyRequest::Ec(capf_core::capf::codec::Curve::P256);
    registry
        .record_issued_certificate("SEP001122334455", key, &certificate, 2)
        .unwrap();
    registry
        .revoke(
            &capf_registry::RevocationTarget::Serial("07".into()),
            capf_registry::RevocationReason::KeyCompromise,
            3,
        )
        .unwrap();
    let mut client = raw_client(&backend, "ledger");
    for sql in [
        "DELETE FROM certificates",
        "UPDATE certificates SET der = '\\x00'",
        "UPDATE certificates SET serial_hex = '08'",
        "TRUNCATE certificates CASCADE",
        "UPDATE certificates SET revoked_at = NULL, revocation_reason = NULL",
    ] {
        assert!(client.batch_execute(sql).is_err(), "{sql} was allowed");
    }
    let entries = registry.certificates("SEP001122334455").unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].der, certificate.der);
    assert!(entries[0].revocation.is_some());
}

#[test]
fn a_serial_is_recorded_once_per_issuer() {
    let Some(backend) = Postgres::new("serial_per_issuer") else {
        return;
    };
    let registry = backend.create("serials");
    let key = capf_core::capf::key_request::KeyRequest::Ec(capf_core::capf::codec::Curve::P256);
    let record = |device: &str, der: Vec<u8>, serial: &str| {
        registry.record_issued_certificate(
            device,
            key,
            &capf_registry::NewCertificate {
                serial_hex: serial.into(),
                der,
                issued_at: 1,
                not_after: 2,
            },
            5,
        )
    };
    record("SEP00000000AAAA", issued("Node CA", 0x1234, 1), "1234").unwrap();
    // Another node issuing the same serial under the same CA: refused, and
    // nothing of it is kept.
    let duplicate = record("SEP00000000BBBB", issued("Node CA", 0x1234, 2), "001234");
    assert!(
        matches!(duplicate, Err(capf_registry::RegistryError::Database(_))),
        "{duplicate:?}"
    );
    assert!(registry.certificates("SEP00000000BBBB").unwrap().is_empty());
    // The same serial from another issuer is another certificate.
    record("SEP00000000BBBB", issued("Other CA", 0x1234, 3), "1234").unwrap();
    assert_eq!(registry.certificates_with_serial("1234").unwrap().len(), 2);
}

#[test]
fn a_lost_connection_fails_one_call_and_the_registry_reconnects() {
    let Some(backend) = Postgres::new("reconnect") else {
        return;
    };
    // The registry's connections are told apart by their application name.
    let application = format!("capf_{}", backend.prefix);
    let separator = if backend.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}application_name={application}", backend.url);
    let options = PostgresOptions::new().with_schema(backend.schema("reconnect"));
    let registry = PostgresRegistry::open_with(&url, &options).unwrap();
    registry
        .put_device("SEP001122334455", &install(), 1)
        .unwrap();
    // The server drops every connection of this registry (as a restart of
    // the database does).
    let mut client = postgres::Client::connect(&backend.url, postgres::NoTls).unwrap();
    let terminated: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = $1) AS t",
            &[&application],
        )
        .unwrap()
        .get(0);
    assert!(terminated >= 2, "terminated {terminated}");
    // Each connection may fail the one call that finds it gone (a clean
    // error), then the next call reconnects.
    let mut failures = 0;
    let mut written = false;
    for now in 2..6 {
        match registry.put_device("SEP00112233AAAA", &install(), now) {
            Ok(_) => {
                written = true;
                break;
            }
            Err(error) => {
                assert!(matches!(error, capf_registry::RegistryError::Database(_)));
                failures += 1;
            }
        }
    }
    assert!(written && failures <= 1, "failures {failures}");
    let mut listed = None;
    for _ in 0..2 {
        if let Ok(devices) = registry.list() {
            listed = Some(devices.len());
            break;
        }
    }
    assert_eq!(listed, Some(2));
}

/// Everything a registry shows of itself, to compare two of them.
fn snapshot<R: Registry + capf_registry::TvsAllowList>(registry: &R) -> String {
    let devices = registry.list().unwrap();
    let mut shown = format!("{devices:?}\n");
    for device in &devices {
        shown.push_str(&format!(
            "{:?}\n{:?}\n",
            registry.certificates(&device.name).unwrap(),
            registry.events(&device.name).unwrap()
        ));
    }
    shown.push_str(&format!("{:?}", registry.tvs_list().unwrap()));
    shown
}

#[test]
fn a_registry_is_copied_whole_from_sqlite_to_postgres_and_back() {
    use capf_registry::{AnyRegistry, OpenOptions, TvsAllowList};
    let Some(backend) = Postgres::new("copy") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("capf-copy-{}", backend.prefix));
    std::fs::create_dir_all(&dir).unwrap();
    let source_path = dir.join("source.db");
    let source = capf_registry::open(source_path.to_str().unwrap(), &OpenOptions::new()).unwrap();
    // Devices with a stored hash, a ledger with a replacement and a
    // revocation, events, a TVS entry.
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(7);
    let hash = capf_registry::hash_auth_string("246810", 10, &mut rng).unwrap();
    let mut with_string = install();
    with_string.auth_mode = capf_registry::AuthMode::AuthString;
    with_string.auth_hash = Some(hash);
    source
        .put_device("SEP0000000000A1", &with_string, 10)
        .unwrap();
    let key = capf_core::capf::key_request::KeyRequest::Ec(capf_core::capf::codec::Curve::P256);
    for (serial, now) in [(0x51_u64, 11), (0x52, 12)] {
        source
            .record_issued_certificate(
                "SEP0000000000B2",
                key,
                &capf_registry::NewCertificate {
                    serial_hex: format!("{serial:02x}"),
                    der: issued("Copy CA", serial, serial),
                    issued_at: now,
                    not_after: now + 100,
                },
                now,
            )
            .unwrap();
    }
    source
        .revoke(
            &capf_registry::RevocationTarget::Serial("51".into()),
            capf_registry::RevocationReason::Superseded,
            13,
        )
        .unwrap();
    source
        .tvs_add(
            &issued("TVS Peer", 9, 9),
            &[ctl_format::trust_list::Role::Tvs],
            600,
            14,
        )
        .unwrap();

    // Settings that differ from the defaults.
    let mut settings = capf_registry::Settings::default();
    settings.set("validity-days", "30").unwrap();
    settings.set("max-failed-attempts", "7").unwrap();
    source.put_settings(&settings, 14).unwrap();

    let postgres = AnyRegistry::Postgres(backend.create("copy_target"));
    let copied = capf_registry::copy_registry(&source, &postgres, false).unwrap();
    assert_eq!(copied.devices, 2);
    assert_eq!(copied.certificates, 2);
    assert_eq!(copied.tvs, 1);
    assert!(copied.events >= 5, "{copied:?}");
    assert_eq!(copied.settings, capf_registry::Settings::NAMES.len());
    assert_eq!(snapshot(&postgres), snapshot(&source));
    assert_eq!(postgres.settings().unwrap(), settings);
    // The copied string still verifies on the target (the hash came along).
    assert!(postgres.device("SEP0000000000A1").unwrap().has_auth_string);
    // A non-empty target is refused, and nothing changes.
    let before = snapshot(&postgres);
    assert!(capf_registry::copy_registry(&source, &postgres, false).is_err());
    assert_eq!(snapshot(&postgres), before);
    // The target's ledger ids go on after the copied ones.
    let next = postgres
        .record_issued_certificate(
            "SEP0000000000B2",
            key,
            &capf_registry::NewCertificate {
                serial_hex: "53".into(),
                der: issued("Copy CA", 0x53, 0x53),
                issued_at: 15,
                not_after: 115,
            },
            15,
        )
        .unwrap();
    assert_eq!(next, 3);

    // And back, into a new SQLite file.
    let back_path = dir.join("back.db");
    let back = capf_registry::open(back_path.to_str().unwrap(), &OpenOptions::new()).unwrap();
    capf_registry::copy_registry(&postgres, &back, false).unwrap();
    assert_eq!(snapshot(&back), snapshot(&postgres));
    assert_eq!(back.settings().unwrap(), settings);
    drop((source, back));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tls_to_the_database_is_used_and_its_certificate_verified() {
    let Some(backend) = Postgres::new("tls") else {
        return;
    };
    let Some(ca) = std::env::var_os("CAPF_TEST_POSTGRES_CA") else {
        eprintln!("SKIPPED: CAPF_TEST_POSTGRES_CA not set (no TLS on the test server)");
        return;
    };
    let application = format!("capf_tls_{}", backend.prefix);
    let separator = if backend.url.contains('?') { '&' } else { '?' };
    let url = format!(
        "{}{separator}sslmode=require&application_name={application}",
        backend.url
    );
    let mut options = PostgresOptions::new().with_schema(backend.schema("tls"));
    options.tls_ca_file = Some(std::path::PathBuf::from(&ca));
    let registry = PostgresRegistry::open_with(&url, &options).unwrap();
    registry
        .put_device("SEP001122334455", &install(), 1)
        .unwrap();
    // The server says the registry's connections are encrypted.
    let mut client = postgres::Client::connect(&backend.url, postgres::NoTls).unwrap();
    let encrypted: Vec<bool> = client
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid
             WHERE a.application_name = $1",
            &[&application],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(encrypted, vec![true, true]);
    drop(registry);
    // A server whose certificate does not chain to the given CA is refused.
    let dir = std::env::temp_dir().join(format!("capf-tls-{}", backend.prefix));
    std::fs::create_dir_all(&dir).unwrap();
    let other_ca = dir.join("other-ca.pem");
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    std::fs::write(&other_ca, params.self_signed(&key).unwrap().pem()).unwrap();
    options.tls_ca_file = Some(other_ca);
    let refused = PostgresRegistry::open_with(&url, &options);
    assert!(
        matches!(refused, Err(capf_registry::RegistryError::Database(_))),
        "{refused:?}"
    );
    // sslmode=require without any CA is refused before connecting.
    if std::env::var_os("PGSSLROOTCERT").is_none() {
        options.tls_ca_file = None;
        let error = PostgresRegistry::open_with(&url, &options)
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(error.contains("PGSSLROOTCERT"), "{error}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
