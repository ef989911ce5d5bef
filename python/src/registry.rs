//! The registry from Python: `capf.Registry` over capf-registry's
//! `SqliteRegistry` (the same file `capf device` manages) and
//! `capf.RegistryHost`, one connection's side of a CAPF server's decisions
//! made exactly as `capf serve` makes them, through capf-registry's
//! functions (`look_up_device`, `answer_lookup`,
//! `record_pending_certificate`, `finish_session`, `release_claim`): no
//! rule is re-implemented here.
//!
//! Registry writes, the lookup's authentication checks and issuance run
//! with the GIL released.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use capf_core::time::Timestamp;
use capf_registry::auth_key::{
    AuthKeyUse, auth_key_path_from_env, open_auth_key, require_auth_key,
};
use capf_registry::issuance::{CertificateNeeded, Issuer};
use capf_registry::model::{AuthMode, Operation, Schedule, StoredAuthHash};
use capf_registry::offline_ca::{self, NewCertificateRequest};
use capf_registry::{
    AuthKey, Claim, ClaimToken, NewCertificate, Registry, RegistryError, SqliteRegistry, rules,
};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::{Kind, new_error};
use crate::est::PyEstIssuer;
use crate::sessions::{
    Decision, PyLscIssuer, PyServerSession, ServerOutcomeInfo, datetime, timestamp,
};

// The signature of `tvs_add` spells the default TTL as a literal (the
// stubs read it): it must stay the library's.
const _: () = assert!(capf_registry::DEFAULT_TTL == 86_400);

fn registry_error(error: RegistryError) -> PyErr {
    new_error(Kind::Registry, error.to_string(), None)
}

fn misuse(message: impl Into<String>) -> PyErr {
    new_error(Kind::Misuse, message.into(), None)
}

/// `now` as Unix seconds: the `datetime` given, else this machine's clock.
fn unix_now(now: Option<&Bound<'_, PyAny>>) -> PyResult<u64> {
    match now {
        Some(now) => Ok(timestamp(now)?.unix_seconds()),
        None => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs())),
    }
}

fn seconds(value: f64, what: &str) -> PyResult<Duration> {
    if value.is_finite() && value > 0.0 && value < 1.0e9 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(misuse(format!("{what} must be positive seconds")))
    }
}

/// One device as the registry holds it (never its authentication hash).
#[pyclass(module = "capf._native", frozen, name = "RegistryDevice")]
pub struct PyRegistryDevice {
    /// Its name.
    #[pyo3(get)]
    name: String,
    /// ``"none"``, ``"install"``, ``"fetch"`` or ``"delete"``.
    #[pyo3(get)]
    operation: String,
    /// The key requested for an install (``"rsa:2048"`` …).
    #[pyo3(get)]
    key: String,
    /// ``"auth-string"``, ``"null"``, ``"lsc"`` or ``"mic"``.
    #[pyo3(get)]
    auth: String,
    /// Whether a (hashed) one-time string is set.
    #[pyo3(get)]
    has_auth_string: bool,
    /// Authentication failures since the last schedule or success.
    #[pyo3(get)]
    failed_attempts: u32,
    /// Locked after too many failures, until rescheduled.
    #[pyo3(get)]
    locked: bool,
    /// ``"none"``, ``"pending"``, ``"failed"`` or ``"successful"``.
    #[pyo3(get)]
    status: String,
}

#[pymethods]
impl PyRegistryDevice {
    fn __repr__(&self) -> String {
        format!(
            "RegistryDevice(name={:?}, operation={:?}, status={:?})",
            self.name, self.operation, self.status
        )
    }
}

fn registry_device(device: capf_registry::model::Device) -> PyRegistryDevice {
    PyRegistryDevice {
        name: device.name,
        operation: device.operation.to_string(),
        key: device.key_request.to_string(),
        auth: device.auth_mode.to_string(),
        has_auth_string: device.has_auth_string,
        failed_attempts: device.failed_attempts,
        locked: device.locked,
        status: device.status.to_string(),
    }
}

/// One certificate of the registry's ledger.
#[pyclass(module = "capf._native", frozen, name = "LedgerCertificate")]
pub struct PyLedgerCertificate {
    /// Ledger id.
    #[pyo3(get)]
    id: i64,
    /// Serial number, hex.
    #[pyo3(get)]
    serial_hex: String,
    der: Vec<u8>,
    /// ``"pending"``, ``"installed"``, ``"fetched"`` or ``"deleted"``.
    #[pyo3(get)]
    state: String,
    issued_at: u64,
    /// True once revoked (final).
    #[pyo3(get)]
    revoked: bool,
}

fn ledger_certificate(entry: capf_registry::model::CertificateEntry) -> PyLedgerCertificate {
    PyLedgerCertificate {
        id: entry.id,
        serial_hex: entry.serial_hex,
        der: entry.der,
        state: entry.state.to_string(),
        issued_at: entry.issued_at,
        revoked: entry.revocation.is_some(),
    }
}

/// A certificate request kept for the offline CA (`capf serve
/// --offline-ca`), as `capf ca csr list` shows it.
#[pyclass(module = "capf._native", frozen, name = "CertificateRequest")]
pub struct PyCertificateRequest {
    /// Its id.
    #[pyo3(get)]
    id: i64,
    /// The device.
    #[pyo3(get)]
    device: String,
    /// ``"pending"``, ``"imported"`` or ``"stale"``.
    #[pyo3(get)]
    state: String,
    /// The key the server asked for (``"ec:p256"`` …).
    #[pyo3(get)]
    key: String,
    spki: Vec<u8>,
    csr: Option<Vec<u8>>,
    requested_at: u64,
}

fn certificate_request(request: capf_registry::CertificateRequest) -> PyCertificateRequest {
    PyCertificateRequest {
        id: request.id,
        state: request.state().to_string(),
        device: request.device,
        key: request.key_request.to_string(),
        spki: request.spki_der,
        csr: request.csr_der,
        requested_at: request.requested_at,
    }
}

#[pymethods]
impl PyCertificateRequest {
    /// The phone's public key, DER SubjectPublicKeyInfo.
    #[getter]
    fn public_key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.spki)
    }
    /// The phone-signed PKCS#10 request (DER), when the phone sent one.
    #[getter]
    fn csr<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.csr.as_ref().map(|csr| PyBytes::new(py, csr))
    }
    /// When it was kept (aware UTC datetime).
    #[getter]
    fn requested_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        datetime(py, Timestamp::from_unix_seconds(self.requested_at))
    }
}

#[pymethods]
impl PyLedgerCertificate {
    /// The certificate, DER.
    #[getter]
    fn certificate<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.der)
    }
    /// When it was issued (aware UTC datetime).
    #[getter]
    fn issued_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        datetime(py, Timestamp::from_unix_seconds(self.issued_at))
    }
    fn __repr__(&self) -> String {
        format!(
            "LedgerCertificate(serial_hex={:?}, state={:?})",
            self.serial_hex, self.state
        )
    }
}

/// The device registry, certificate ledger and event log in one SQLite
/// file (the same file `capf device` and `capf serve` use). The
/// authentication-string key file is found as `capf` finds it:
/// `auth_key_file`, else ``$CAPF_AUTH_KEY_FILE``, else the database path +
/// ``.auth-key``.
#[pyclass(module = "capf._native", frozen, name = "Registry")]
pub struct PyRegistry {
    inner: Arc<SqliteRegistry>,
    key_path: PathBuf,
    /// The auth-string key once read (it never changes: every stored hash
    /// depends on it), and whether a registry without a key file was
    /// already checked for keyed strings; so a server's host per
    /// connection costs no file read and no query.
    auth_key: Mutex<KnownAuthKey>,
}

/// What [`PyRegistry`] knows of its auth-string key.
#[derive(Default)]
struct KnownAuthKey {
    key: Option<AuthKey>,
    checked_without_key: bool,
}

#[pymethods]
impl PyRegistry {
    #[new]
    #[pyo3(signature = (path, *, auth_key_file = None))]
    fn new(py: Python<'_>, path: PathBuf, auth_key_file: Option<PathBuf>) -> PyResult<Self> {
        let key_path = auth_key_path_from_env(auth_key_file.as_deref(), &path);
        let inner = py
            .detach(|| SqliteRegistry::open(&path))
            .map_err(registry_error)?;
        Ok(Self {
            inner: Arc::new(inner),
            key_path,
            auth_key: Mutex::new(KnownAuthKey::default()),
        })
    }

    /// Adds or replaces a device's schedule, as `capf device add` does:
    /// `operation` (``"install"``, ``"fetch"``, ``"delete"``, ``"none"``),
    /// `key` for an install, `auth` (``"null"``, ``"auth-string"`` with
    /// `auth_string`, ``"lsc"``, ``"mic"``), an optional deadline. The
    /// string is stored only as its keyed hash (the key file is created on
    /// first use). Returns True when the device is new.
    #[pyo3(signature = (name, *, operation = "install", key = "rsa:2048", auth = "null", auth_string = None, complete_by = None, description = None, now = None))]
    #[allow(clippy::too_many_arguments)]
    fn add_device(
        &self,
        py: Python<'_>,
        name: String,
        operation: &str,
        key: &str,
        auth: &str,
        auth_string: Option<String>,
        complete_by: Option<&Bound<'_, PyAny>>,
        description: Option<String>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let operation = Operation::from_str(operation).map_err(misuse)?;
        let auth_mode = AuthMode::from_str(auth).map_err(misuse)?;
        let key_request = crate::sessions::key_request(key)?;
        let complete_by = complete_by.map(|at| unix_now(Some(at))).transpose()?;
        let now = unix_now(now)?;
        let registry = &self.inner;
        let key_path = &self.key_path;
        py.detach(|| -> PyResult<bool> {
            let auth_hash = match (auth_mode, auth_string) {
                (AuthMode::AuthString, Some(text)) => {
                    let keyed = registry.keyed_auth_string_count().map_err(registry_error)?;
                    let key = require_auth_key(key_path, keyed, &mut rand_core::OsRng)
                        .map_err(registry_error)?;
                    // The error names the rule broken, never the string.
                    Some(StoredAuthHash::keyed(&key, &text).map_err(registry_error)?)
                }
                (AuthMode::AuthString, None) => {
                    return Err(misuse("auth \"auth-string\" needs auth_string"));
                }
                (_, Some(_)) => {
                    return Err(misuse("auth_string goes with auth \"auth-string\""));
                }
                (_, None) => None,
            };
            let schedule = Schedule {
                operation,
                key_request,
                auth_mode,
                auth_hash,
                complete_by,
                description,
            };
            // put_device answers whether it existed.
            registry
                .put_device(&name, &schedule, now)
                .map(|existed| !existed)
                .map_err(registry_error)
        })
    }

    /// The device `name` (raises `capf.RegistryError` when unknown).
    fn device(&self, py: Python<'_>, name: &str) -> PyResult<PyRegistryDevice> {
        py.detach(|| self.inner.device(name))
            .map(registry_device)
            .map_err(registry_error)
    }

    /// Every device (not removed), by name.
    fn devices(&self, py: Python<'_>) -> PyResult<Vec<PyRegistryDevice>> {
        py.detach(|| self.inner.list())
            .map(|devices| devices.into_iter().map(registry_device).collect())
            .map_err(registry_error)
    }

    /// The ledger's certificates of device `name`, oldest first.
    fn certificates(&self, py: Python<'_>, name: &str) -> PyResult<Vec<PyLedgerCertificate>> {
        let entries = py
            .detach(|| self.inner.certificates(name))
            .map_err(registry_error)?;
        Ok(entries.into_iter().map(ledger_certificate).collect())
    }

    /// Schedules `name` with a fresh one-time authentication string of
    /// `digits` digits that no scheduled device holds, as
    /// `capf device add --generate-auth-string` does, and returns it (show
    /// it once: only its keyed hash is stored).
    #[pyo3(signature = (name, *, digits = 6, operation = "install", key = "rsa:2048", complete_by = None, description = None, now = None))]
    #[allow(clippy::too_many_arguments)]
    fn schedule_with_generated_auth_string(
        &self,
        py: Python<'_>,
        name: String,
        digits: usize,
        operation: &str,
        key: &str,
        complete_by: Option<&Bound<'_, PyAny>>,
        description: Option<String>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let operation = Operation::from_str(operation).map_err(misuse)?;
        let key_request = crate::sessions::key_request(key)?;
        let complete_by = complete_by.map(|at| unix_now(Some(at))).transpose()?;
        let now = unix_now(now)?;
        let registry = &self.inner;
        let key_path = &self.key_path;
        py.detach(|| -> Result<String, RegistryError> {
            let keyed = registry.keyed_auth_string_count()?;
            let key = require_auth_key(key_path, keyed, &mut rand_core::OsRng)?;
            let mut taken = std::collections::HashSet::new();
            let (generated, hash) = capf_registry::auth_string::generate_unique_auth_string(
                &**registry,
                &key,
                digits,
                &mut taken,
                &mut rand_core::OsRng,
            )?;
            let schedule = Schedule {
                operation,
                key_request,
                auth_mode: AuthMode::AuthString,
                auth_hash: Some(hash),
                complete_by,
                description,
            };
            registry.put_device(&name, &schedule, now)?;
            Ok(generated.expose().to_owned())
        })
        .map_err(registry_error)
    }

    /// Revokes the certificates of `device`, or those with `serial` (hex),
    /// with `reason` (``"unspecified"``, ``"keyCompromise"``,
    /// ``"superseded"`` …), as `capf cert revoke` does; returns them.
    /// Sessions and TVS consult the revocations by themselves.
    #[pyo3(signature = (*, device = None, serial = None, reason = "unspecified", now = None))]
    fn revoke(
        &self,
        py: Python<'_>,
        device: Option<String>,
        serial: Option<String>,
        reason: &str,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<PyLedgerCertificate>> {
        use capf_registry::model::RevocationTarget;
        let target = match (device, serial) {
            (Some(name), None) => RevocationTarget::Device(name),
            (None, Some(serial)) => RevocationTarget::Serial(serial),
            _ => return Err(misuse("give either device or serial")),
        };
        let reason = capf_core::revocation::RevocationReason::from_str(reason)
            .map_err(|error| misuse(error.to_string()))?;
        let now = unix_now(now)?;
        let revoked = py
            .detach(|| self.inner.revoke(&target, reason, now))
            .map_err(registry_error)?;
        Ok(revoked.into_iter().map(ledger_certificate).collect())
    }

    /// The certificate requests kept for the offline CA (`capf ca csr
    /// list`), oldest first; only the stale ones with ``stale=True``.
    #[pyo3(signature = (*, stale = false))]
    fn certificate_requests(
        &self,
        py: Python<'_>,
        stale: bool,
    ) -> PyResult<Vec<PyCertificateRequest>> {
        let requests = py
            .detach(|| self.inner.certificate_requests(None))
            .map_err(registry_error)?;
        Ok(requests
            .into_iter()
            .filter(|request| {
                !stale || request.state() == capf_registry::CertificateRequestState::Stale
            })
            .map(certificate_request)
            .collect())
    }

    /// Deletes the stale certificate requests (`capf ca csr delete
    /// --stale`: the device sent a newer key since); the ledger is kept.
    /// Returns how many were deleted.
    #[pyo3(signature = (*, now = None))]
    fn delete_stale_certificate_requests(
        &self,
        py: Python<'_>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<usize> {
        let now = unix_now(now)?;
        py.detach(|| self.inner.delete_stale_certificate_requests(now))
            .map_err(registry_error)
    }

    /// Imports a certificate signed by the offline CA (`capf ca import`):
    /// accepted only with exactly a pending request's key and its device's
    /// name (CN), valid at `now`; it goes into the ledger at once (state
    /// ``"pending"``) and reaches the phone at its next session. Raises
    /// `capf.RegistryError` naming the reason otherwise (wrong key, stale,
    /// unknown device, wrong name, expired, already imported), and
    /// `capf.MalformedError` for something that is not a certificate.
    #[pyo3(signature = (certificate, *, now = None))]
    fn import_certificate(
        &self,
        py: Python<'_>,
        certificate: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyLedgerCertificate> {
        let der =
            crate::convert::certificate_der(&crate::convert::certificate_bytes(certificate)?)?;
        let now = unix_now(now)?;
        let registry = &self.inner;
        let imported = py.detach(|| -> Result<Result<_, String>, RegistryError> {
            let done = match capf_registry::offline_ca::import_certificate(&**registry, &der, now)?
            {
                Ok(done) => done,
                Err(refusal) => return Ok(Err(format!("import refused: {refusal}"))),
            };
            let entry = registry
                .certificates(&done.device)?
                .into_iter()
                .find(|entry| entry.id == done.ledger_id)
                .ok_or_else(|| {
                    RegistryError::Database("the imported certificate is not in the ledger".into())
                })?;
            Ok(Ok(entry))
        });
        match imported.map_err(registry_error)? {
            Ok(entry) => Ok(ledger_certificate(entry)),
            Err(refusal) => Err(new_error(Kind::Registry, refusal, None)),
        }
    }

    /// The devices report as CSV, as `capf device report` writes it (times
    /// as RFC 3339 UTC).
    fn report_csv(&self, py: Python<'_>) -> PyResult<String> {
        let filter = capf_registry::DeviceFilter::default();
        let rows = py
            .detach(|| capf_registry::report::report(&*self.inner, &filter))
            .map_err(registry_error)?;
        Ok(capf_registry::report::to_csv(
            &rows,
            capf_core::trust::format_unix,
        ))
    }

    /// The registry's settings (`capf settings show`): every setting name
    /// to its value as text, defaults included, e.g.
    /// ``{"validity-days": "1825", "max-failed-attempts": "5", …}``.
    fn settings(&self, py: Python<'_>) -> PyResult<std::collections::BTreeMap<String, String>> {
        let settings = py
            .detach(|| self.inner.settings())
            .map_err(registry_error)?;
        Ok(settings
            .pairs()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect())
    }

    /// Sets one setting (`capf settings set NAME VALUE`), validated by the
    /// library's one parser; every server on the registry reads it at
    /// start. Raises `capf.MisuseError` for an unknown name or a value out
    /// of range (the message says what is accepted).
    #[pyo3(signature = (name, value, *, now = None))]
    fn set_setting(
        &self,
        py: Python<'_>,
        name: &str,
        value: &str,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let now = unix_now(now)?;
        let mut settings = py
            .detach(|| self.inner.settings())
            .map_err(registry_error)?;
        settings
            .set(name, value)
            .map_err(|error| misuse(error.to_string()))?;
        py.detach(|| self.inner.put_settings(&settings, now))
            .map_err(registry_error)
    }

    /// Schedules the renewal of every LSC due at `now` (notAfter before
    /// `expiring_before`, or `used_share` of its lifetime passed, e.g.
    /// ``"0.66"``), as `capf cert renew` does; with `dry_run` only lists
    /// them. Returns (device, ledger id, serial hex) of each.
    #[pyo3(signature = (*, expiring_before = None, used_share = None, dry_run = false, now = None))]
    fn plan_renewals(
        &self,
        py: Python<'_>,
        expiring_before: Option<&Bound<'_, PyAny>>,
        used_share: Option<&str>,
        dry_run: bool,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<(String, i64, String)>> {
        let policy = match (expiring_before, used_share) {
            (Some(at), None) => rules::RenewalPolicy::ExpiringBefore(unix_now(Some(at))?),
            (None, Some(share)) => rules::RenewalPolicy::used_share(share)
                .ok_or_else(|| misuse("used_share must be a decimal in (0, 1], e.g. \"0.66\""))?,
            _ => return Err(misuse("give either expiring_before or used_share")),
        };
        let now = unix_now(now)?;
        let planned = py
            .detach(|| capf_registry::plan_renewals(&*self.inner, policy, now, dry_run))
            .map_err(registry_error)?;
        Ok(planned
            .into_iter()
            .map(|renewal| (renewal.device, renewal.certificate_id, renewal.serial_hex))
            .collect())
    }

    /// Registers a certificate with TVS (the allow-list `capf tvs add`
    /// manages): `roles` (`capf.Role` or codes) and the TTL phones may
    /// cache the answer (default `capf_registry::DEFAULT_TTL`, one day).
    /// Replaces the roles and TTL of a registered one.
    #[pyo3(signature = (certificate, roles, *, ttl = 86_400, now = None))]
    fn tvs_add(
        &self,
        py: Python<'_>,
        certificate: &Bound<'_, PyAny>,
        roles: Vec<u16>,
        ttl: u32,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        use capf_registry::TvsAllowList;
        let der =
            crate::convert::certificate_der(&crate::convert::certificate_bytes(certificate)?)?;
        let roles: Vec<ctl_format::Role> =
            roles.into_iter().map(ctl_format::Role::from_code).collect();
        let now = unix_now(now)?;
        py.detach(|| self.inner.tvs_add(&der, &roles, ttl, now))
            .map(|_| ())
            .map_err(registry_error)
    }

    /// Marks a registered certificate revoked for TVS; False when it is
    /// not registered.
    fn tvs_revoke(&self, py: Python<'_>, certificate: &Bound<'_, PyAny>) -> PyResult<bool> {
        use capf_registry::TvsAllowList;
        let der =
            crate::convert::certificate_der(&crate::convert::certificate_bytes(certificate)?)?;
        let digest = capf_registry::certificate_sha256(&der);
        py.detach(|| self.inner.tvs_revoke(&digest))
            .map_err(registry_error)
    }

    /// Answers a `TvsServerSession`'s ``look_up_certificate`` decision as
    /// `capf serve` does: the allow-list's entry, INVALID when the entry or
    /// the ledger revokes the certificate, unknown otherwise.
    #[pyo3(signature = (session, decision, now = None))]
    fn tvs_answer(
        &self,
        py: Python<'_>,
        session: &Bound<'_, crate::sessions::PyTvsServerSession>,
        decision: &Bound<'_, Decision>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        use capf_registry::TvsAllowList;
        let d = decision.get();
        if d.kind != "look_up_certificate" {
            return Err(misuse(format!("{} is not a TVS server decision", d.kind)));
        }
        let der = d
            .certificate
            .as_ref()
            .map(|c| c.bind(py).as_bytes().to_vec())
            .unwrap_or_default();
        let digest = capf_registry::certificate_sha256(&der);
        let now = match now {
            Some(now) => timestamp(now)?,
            None => Timestamp::from_unix_seconds(unix_now(None)?),
        };
        let registry = &self.inner;
        let shared = session.borrow().shared.handle();
        py.detach(|| -> PyResult<()> {
            let entry = registry.tvs_look_up(&digest).map_err(registry_error)?;
            // Only a registered certificate needs the ledger's word.
            let ledger_revoked = match &entry {
                Some(_) => capf_registry::ledger_revocation(&**registry, &der)
                    .map_err(registry_error)?
                    .is_some(),
                None => false,
            };
            let known = entry.map(|entry| {
                let mut known = capf_core::tvs::KnownCertificate::new(entry.roles, entry.ttl);
                known.revoked = entry.revoked || ledger_revoked;
                known
            });
            let mut session = shared.lock();
            // The lookup may have taken a while: expiry is judged now.
            session.handle_timeout(now);
            session
                .answer_lookup(known)
                .map_err(|error| misuse(error.to_string()))
        })
    }

    /// One connection's host of a CAPF server over this registry, issuing
    /// with `issuer`: an `LscIssuer` (the local CA) or an `EstIssuer` (an
    /// online CA, whose wait the lease covers too; `validity_days` is then
    /// the CA's). `max_failed_attempts` must be the ServerSession's
    /// (0: never lock); the timeouts size the operation's lease as
    /// `capf serve` does. What is not given comes from the registry's
    /// settings (`settings()`), as `capf serve` takes it: validity,
    /// key-generation time and failed-attempt limit. The auth-string key
    /// must exist if the registry holds keyed strings (else
    /// `capf.RegistryError`; checked at this Registry's first host, as
    /// `capf serve` checks at start). The key is read once and kept.
    ///
    /// With ``offline_ca=True`` (`capf serve --offline-ca`) the issuer is
    /// ``None``: the host issues nothing, it keeps the phone's request
    /// (`certificate_requests()`) and the session ends deferred
    /// (END_SESSION 0, "Operation Pending"); the certificate signed
    /// elsewhere is imported (`import_certificate`) and reaches the phone at
    /// its next session.
    #[pyo3(signature = (issuer, *, max_failed_attempts = None, key_generation_timeout = None, response_timeout = 60.0, validity_days = None, offline_ca = false))]
    #[allow(clippy::too_many_arguments)]
    fn host(
        &self,
        py: Python<'_>,
        issuer: Option<&Bound<'_, PyAny>>,
        max_failed_attempts: Option<u32>,
        key_generation_timeout: Option<f64>,
        response_timeout: f64,
        validity_days: Option<u32>,
        offline_ca: bool,
    ) -> PyResult<PyRegistryHost> {
        // Read only when something is left to the registry (a server that
        // passes every value makes a host per connection without a read).
        let settings = if max_failed_attempts.is_none()
            || key_generation_timeout.is_none()
            || validity_days.is_none()
        {
            py.detach(|| self.inner.settings())
                .map_err(registry_error)?
        } else {
            capf_registry::Settings::default()
        };
        let max_failed_attempts = max_failed_attempts.unwrap_or(settings.max_failed_attempts);
        let validity_days = validity_days.unwrap_or(settings.validity_days);
        let key_generation_timeout = match key_generation_timeout {
            Some(value) => value,
            None => Duration::from_secs(settings.key_generation_timeout).as_secs_f64(),
        };
        let key_generation_timeout = seconds(key_generation_timeout, "key_generation_timeout")?;
        let response_timeout = seconds(response_timeout, "response_timeout")?;
        let issuer = match (issuer, offline_ca) {
            (None, true) => None,
            (Some(_), true) => {
                return Err(misuse(
                    "offline_ca=True issues nothing: the issuer must be None",
                ));
            }
            (None, false) => {
                return Err(misuse(
                    "issuer must be a capf.LscIssuer or a capf.EstIssuer (None only with offline_ca=True)",
                ));
            }
            (Some(issuer), false) => Some(if let Ok(local) = issuer.cast::<PyLscIssuer>() {
                Issuer::Local {
                    authority: Arc::clone(&local.get().inner),
                    validity_days,
                }
            } else if let Ok(est) = issuer.cast::<PyEstIssuer>() {
                Issuer::Est(Arc::clone(&est.get().inner))
            } else {
                return Err(misuse(
                    "issuer must be a capf.LscIssuer or a capf.EstIssuer",
                ));
            }),
        };
        let auth_key = py
            .detach(|| self.known_auth_key())
            .map_err(registry_error)?;
        Ok(PyRegistryHost {
            registry: Arc::clone(&self.inner),
            issuer,
            auth_key,
            max_failed_attempts,
            key_generation_timeout,
            response_timeout,
            state: Mutex::new(HostState {
                token: ClaimToken::random(&mut rand_core::OsRng),
                claim: None,
                pending: None,
                ledger_id: None,
            }),
        })
    }
}

impl PyRegistry {
    /// The auth-string key for a host: read once and kept; without a key
    /// file, a registry that holds keyed strings is an error (checked once;
    /// a key file created later, with the first keyed string, is found by
    /// the next call).
    fn known_auth_key(&self) -> Result<Option<AuthKey>, RegistryError> {
        let mut known = self.auth_key.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(key) = &known.key {
            return Ok(Some(key.clone()));
        }
        let key = open_auth_key(&self.key_path, AuthKeyUse::MustExist, &mut rand_core::OsRng)?;
        match key {
            Some(key) => {
                known.key = Some(key.clone());
                Ok(Some(key))
            }
            None if known.checked_without_key => Ok(None),
            None => {
                if self.inner.keyed_auth_string_count()? > 0 {
                    return Err(capf_registry::auth_key::missing_key_error(&self.key_path));
                }
                known.checked_without_key = true;
                Ok(None)
            }
        }
    }
}

/// What one connection has claimed, issued and recorded so far.
struct HostState {
    token: ClaimToken,
    claim: Option<Claim>,
    pending: Option<NewCertificate>,
    ledger_id: Option<i64>,
}

/// One connection's side of a CAPF server's decisions, made through
/// capf-registry exactly as `capf serve` makes them. Call `decide` for
/// every `Need` of the session, and `release` when the connection ends
/// (a session that ended without its outcome still holds its claim).
#[pyclass(module = "capf._native", frozen, name = "RegistryHost")]
pub struct PyRegistryHost {
    registry: Arc<SqliteRegistry>,
    /// Who signs; `None`: the offline CA (requests kept, sessions deferred).
    issuer: Option<Issuer>,
    auth_key: Option<AuthKey>,
    max_failed_attempts: u32,
    key_generation_timeout: Duration,
    response_timeout: Duration,
    state: Mutex<HostState>,
}

#[pymethods]
impl PyRegistryHost {
    /// Answers `decision` (a `Need`'s decision of `session`): looks the
    /// device up and claims its operation, issues the LSC, records it in
    /// the ledger before it is sent, records the outcome before the final
    /// END_SESSION. Raises `capf.RegistryError` when a registry write that
    /// must succeed fails (drop the connection then, and `release`).
    #[pyo3(signature = (session, decision, now = None))]
    fn decide(
        &self,
        py: Python<'_>,
        session: &Bound<'_, PyServerSession>,
        decision: &Bound<'_, Decision>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let now = unix_now(now)?;
        let d = decision.get();
        let shared = session.borrow().shared.handle();
        let name = d.device_name.clone().unwrap_or_default();
        match d.kind.as_str() {
            "look_up_device" => {
                let lease_until = rules::lease_until_with_issuance(
                    now,
                    self.key_generation_timeout,
                    self.response_timeout,
                    self.issuer
                        .as_ref()
                        .map_or(Duration::ZERO, Issuer::issuance_timeout),
                );
                let token = self.lock().token;
                let (claim, answered) = py.detach(|| {
                    let looked_up = capf_registry::look_up_device(
                        &*self.registry,
                        &name,
                        token,
                        lease_until,
                        now,
                        self.auth_key.as_ref(),
                    );
                    let mut session = shared.lock();
                    capf_registry::answer_lookup(&mut session, looked_up)
                });
                self.lock().claim = claim;
                answered.map_err(|error| misuse(error.to_string()))
            }
            "issue_certificate" => {
                let spki = d
                    .subject_public_key_info
                    .as_ref()
                    .map(|spki| spki.bind(py).as_bytes().to_vec())
                    .unwrap_or_default();
                let request = d
                    .certificate_request
                    .as_ref()
                    .map(|request| request.bind(py).as_bytes().to_vec());
                let Some(issuer) = &self.issuer else {
                    // The offline CA: keep the request, defer the session.
                    let key_request =
                        crate::sessions::key_request(d.key_request.as_deref().unwrap_or_default())?;
                    let claim = self
                        .lock()
                        .claim
                        .clone()
                        .ok_or_else(|| misuse("a certificate request without a claim"))?;
                    let kept_request = NewCertificateRequest::new(key_request, spki, request);
                    let kept = py.detach(|| {
                        self.registry
                            .record_certificate_request(&claim, &kept_request, now)
                    });
                    return py
                        .detach(|| {
                            shared
                                .lock()
                                .refuse_certificate(offline_ca::refusal_after_keeping(&kept))
                        })
                        .map_err(|error| misuse(error.to_string()));
                };
                let needed = CertificateNeeded {
                    device_name: &name,
                    subject_public_key_info_der: &spki,
                    certificate_request_der: request.as_deref(),
                };
                let at = Timestamp::from_unix_seconds(now);
                // The CA's wait (EST: up to its timeout) holds neither the
                // GIL nor the session.
                let issued = py.detach(|| issuer.issue_blocking(needed, at, &mut rand_core::OsRng));
                let answered = py
                    .detach(|| capf_registry::issuance::answer_issued(&mut shared.lock(), issued));
                let pending = answered.map_err(|error| misuse(error.to_string()))?;
                self.lock().pending = pending;
                Ok(())
            }
            "record_pending_certificate" => {
                let (pending, claim) = {
                    let mut state = self.lock();
                    (state.pending.take(), state.claim.clone())
                };
                let mut certificate =
                    pending.ok_or_else(|| misuse("a pending certificate without issuance"))?;
                let claim = claim.ok_or_else(|| misuse("a pending certificate without a claim"))?;
                if let Some(der) = &d.certificate {
                    certificate.der = der.bind(py).as_bytes().to_vec();
                }
                let id = py
                    .detach(|| {
                        self.registry
                            .record_pending_certificate(&claim, &certificate, now)
                    })
                    .map_err(registry_error)?;
                self.lock().ledger_id = Some(id);
                shared
                    .lock()
                    .answer_pending_recorded()
                    .map_err(|error| misuse(error.to_string()))
            }
            "record_outcome" => {
                let outcome = d
                    .outcome
                    .as_ref()
                    .and_then(|o| {
                        o.bind(py)
                            .cast::<ServerOutcomeInfo>()
                            .ok()
                            .map(|o| o.get().raw.clone())
                    })
                    .ok_or_else(|| misuse("record_outcome without an outcome"))?;
                let (claim, ledger_id) = {
                    let mut state = self.lock();
                    (state.claim.take(), state.ledger_id)
                };
                let recorded = py.detach(|| {
                    capf_registry::finish_session(
                        &*self.registry,
                        &outcome,
                        claim.as_ref(),
                        ledger_id,
                        self.max_failed_attempts,
                        now,
                    )
                });
                let mut session = shared.lock();
                match recorded {
                    Ok(_) => session.answer_outcome_recorded(),
                    // A failed write tells the phone END_SESSION 7.
                    Err(_) => session.refuse_outcome_record(),
                }
                .map_err(|error| misuse(error.to_string()))
            }
            other => Err(misuse(format!("{other} is not a CAPF server decision"))),
        }
    }

    /// Releases the operation this connection still holds (a session that
    /// ended without recording its outcome). Does nothing otherwise.
    #[pyo3(signature = (now = None))]
    fn release(&self, py: Python<'_>, now: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        let now = unix_now(now)?;
        let claim = self.lock().claim.take();
        match claim {
            Some(claim) => py
                .detach(|| self.registry.release_claim(&claim, now))
                .map_err(registry_error),
            None => Ok(false),
        }
    }
}

impl PyRegistryHost {
    fn lock(&self) -> std::sync::MutexGuard<'_, HostState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
