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
);
