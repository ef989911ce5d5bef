//! The backend-independent suite ([`capf_registry::conformance`]) run
//! against the SQLite backend, on real files.

use capf_registry::SqliteRegistry;
use capf_registry::conformance::{self, Backend};
use std::path::PathBuf;

/// Real SQLite files in a fresh folder per test binary run.
struct Sqlite {
    dir: PathBuf,
}

impl Sqlite {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "capf-registry-{test}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self { dir }
    }
}

impl Drop for Sqlite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Backend for Sqlite {
    type Registry = SqliteRegistry;
    fn create(&self, tag: &str) -> SqliteRegistry {
        let path = self.dir.join(format!("{tag}.db"));
        assert!(!path.exists(), "{tag} created twice");
        SqliteRegistry::open(&path).unwrap()
    }
    fn connect(&self, tag: &str) -> SqliteRegistry {
        let path = self.dir.join(format!("{tag}.db"));
        assert!(path.exists(), "{tag} not created");
        SqliteRegistry::open(&path).unwrap()
    }
}

macro_rules! suite {
    ($($name:ident),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                conformance::$name(&Sqlite::new(stringify!($name)));
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
