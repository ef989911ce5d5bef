//! The CAPF server session with its registry: [`CapfRegistry`] (the SQLite
//! registry of `capf-registry`, as `capf device` and `capf serve` use it)
//! and [`RegistryServerSession`], a server session whose decisions are
//! answered from that registry and an [`LscIssuer`] or an
//! [`EstIssuer`](crate::est::EstIssuer).
//!
//! No rule lives here: the lookup, the claim and its lease, the refusals,
//! the outcome's write and the lock-out are `capf_registry`'s
//! (`look_up_device`, `answer_lookup`, `finish_session`, `rules`); this
//! module only holds the session's claim between the steps and converts
//! values at the boundary. Registry calls block (SQLite commits, PBKDF2 of
//! a one-time string): call them off the UI thread.

use std::path::Path;
use std::sync::{Arc, Mutex};

use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::server as core_server;
use capf_core::session::Output;
use capf_core::time::Timestamp;
use capf_registry::issuance::{CertificateNeeded, Issuer};
use capf_registry::{self as registry, Registry as _};
use rand_core::OsRng;

use crate::connection::{
    ConnectionAbandonment, ConnectionError, Shared, describe_tls_failure, options,
};
use crate::server::{
    LscIssuer, Operation, ServerDecision, ServerError, ServerOptions, ServerOutcome, ServerOutput,
    ServerSession, decision_from_core, output_from_core,
};

/// Errors of the registry API. Never carries a secret (no authentication
/// string, hash or key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum RegistryError {
    /// A value the registry cannot take (bad name, key, string …).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The registry failed or refused (database error, unknown device …).
    #[error("registry: {0}")]
    Registry(String),
    /// A certificate signed by the offline CA was not imported; the text
    /// says why (wrong key, stale request, unknown device, wrong name,
    /// expired, already imported, not a certificate).
    #[error("import refused: {0}")]
    ImportRefused(String),
}

impl From<registry::RegistryError> for RegistryError {
    fn from(error: registry::RegistryError) -> Self {
        Self::Registry(error.to_string())
    }
}

/// How a device authenticates, as an administrator schedules it. `Debug`
/// never shows the authentication string.
#[derive(Clone, PartialEq, Eq, uniffi::Enum)]
pub enum DeviceAuth {
    /// The null string (no check).
    NullString,
    /// A one-time authentication string (4 to 10 digits). Only its hash is
    /// stored: keyed (HMAC) when the registry was opened with a key, else
    /// salted PBKDF2 (the recommended rounds; slow by design).
    AuthString {
        /// The digits.
        auth_string: String,
    },
    /// The phone's current LSC.
    Lsc,
    /// The phone's MIC.
    Mic,
}

impl std::fmt::Debug for DeviceAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NullString => "NullString",
            Self::AuthString { .. } => "AuthString(<redacted>)",
            Self::Lsc => "Lsc",
            Self::Mic => "Mic",
        })
    }
}

/// One certificate of a device's ledger.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LedgerEntry {
    /// Serial number, lower-case hex.
    pub serial_hex: String,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// `pending`, `installed`, `fetched` or `deleted`.
    pub state: String,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// A CAPF device registry in a SQLite file (the same file `capf device`
/// and `capf serve --db` use).
#[derive(uniffi::Object)]
pub struct CapfRegistry {
    inner: registry::SqliteRegistry,
    auth_key: Option<registry::AuthKey>,
}

/// A device's operation status, modelled on Unified CM's.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeviceStatus {
    /// Cisco's words ("Upgrade Failed: Invalid Authentication String").
    pub status: String,
    /// Its stable identifier (`upgrade-failed-invalid-authentication-string`).
    pub slug: String,
    /// When it last changed, milliseconds since the epoch.
    pub changed_at_millis: u64,
    /// Authentication failures since the last schedule or success.
    pub failed_attempts: u32,
    /// Locked after too many failures, until rescheduled.
    pub locked: bool,
    /// The scheduled operation's deadline, milliseconds since the epoch.
    pub complete_by_millis: Option<u64>,
    /// Free text about the device.
    pub description: Option<String>,
}

/// A certificate request kept for the offline CA (`capf serve
/// --offline-ca`), as `capf ca csr list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OfflineCertificateRequest {
    /// Its id.
    pub id: i64,
    /// The device.
    pub device_name: String,
    /// `pending`, `imported` or `stale`.
    pub state: String,
    /// The key the server asked for (`ec:p256`, `rsa:2048` …).
    pub key: String,
    /// The phone's public key, DER SubjectPublicKeyInfo.
    pub public_key_der: Vec<u8>,
    /// The phone-signed PKCS#10 request (DER), when the phone sent one.
    pub csr_der: Option<Vec<u8>>,
    /// When it was kept, milliseconds since the epoch.
    pub requested_at_millis: u64,
}

/// One registry setting and its value as text.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RegistrySetting {
    /// Its name (`validity-days`, `max-failed-attempts` …).
    pub name: String,
    /// Its value, as `capf settings set` takes it.
    pub value: String,
}

impl std::fmt::Debug for CapfRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("CapfRegistry")
            .field("keyed", &self.auth_key.is_some())
            .finish_non_exhaustive()
    }
}

#[uniffi::export]
impl CapfRegistry {
    /// Opens (creating as needed) the registry file at `path`. `auth_key`:
    /// the 32-byte key of the keyed authentication-string hash (the
    /// contents of `capf serve --auth-key-file`), if the site uses one.
    #[uniffi::constructor]
    pub fn open(path: String, auth_key: Option<Vec<u8>>) -> Result<Arc<Self>, RegistryError> {
        let auth_key = auth_key
            .map(|bytes| {
                <[u8; 32]>::try_from(bytes.as_slice())
                    .map(registry::AuthKey::from_bytes)
                    .map_err(|_| RegistryError::InvalidInput("the auth key is not 32 bytes".into()))
            })
            .transpose()?;
        let inner = registry::SqliteRegistry::open(Path::new(&path))?;
        Ok(Arc::new(Self { inner, auth_key }))
    }

    /// Adds a device with this schedule, or replaces the schedule of an
    /// existing one (as `capf device add`). Returns whether it existed.
    pub fn put_device(
        &self,
        name: String,
        operation: Operation,
        auth: DeviceAuth,
        now_millis: u64,
    ) -> Result<bool, RegistryError> {
        self.schedule(name, operation, auth, None, None, now_millis)
    }

    /// [`put_device`](Self::put_device) with Unified CM's "Operation
    /// Completes By" deadline (milliseconds since the epoch; past it a
    /// session for the operation is refused with "User Initiated Request
    /// Late/Timedout" and its one-time string is void) and a description
    /// (as `capf device add --complete-by … --description …`).
    pub fn schedule(
        &self,
        name: String,
        operation: Operation,
        auth: DeviceAuth,
        complete_by_millis: Option<u64>,
        description: Option<String>,
        now_millis: u64,
    ) -> Result<bool, RegistryError> {
        let (operation, key_request) = match operation {
            Operation::None => (registry::Operation::None, None),
            Operation::Install { key } => (
                registry::Operation::Install,
                Some(key.to_core().ok_or_else(|| {
                    RegistryError::InvalidInput(format!("CAPF cannot ask for {key:?}"))
                })?),
            ),
            Operation::Fetch => (registry::Operation::Fetch, None),
            Operation::Delete => (registry::Operation::Delete, None),
        };
        let (auth_mode, auth_hash) = match auth {
            DeviceAuth::NullString => (registry::AuthMode::Null, None),
            DeviceAuth::Lsc => (registry::AuthMode::Lsc, None),
            DeviceAuth::Mic => (registry::AuthMode::Mic, None),
            DeviceAuth::AuthString { auth_string } => {
                let hash = match &self.auth_key {
                    Some(key) => registry::StoredAuthHash::keyed(key, &auth_string),
                    None => registry::hash_auth_string(
                        &auth_string,
                        core_server::AuthStringHash::RECOMMENDED_ITERATIONS,
                        &mut OsRng,
                    ),
                }
                .map_err(|error| RegistryError::InvalidInput(error.to_string()))?;
                (registry::AuthMode::AuthString, Some(hash))
            }
        };
        let schedule = registry::Schedule {
            operation,
            key_request: key_request.unwrap_or(KeyRequest::Rsa { bits: 2048 }),
            auth_mode,
            auth_hash,
            complete_by: complete_by_millis.map(|millis| millis / 1000),
            description,
        };
        Ok(self.inner.put_device(&name, &schedule, now_millis / 1000)?)
    }

    /// The device's operation status and what goes with it (as `capf
    /// device show`).
    pub fn device_status(&self, name: String) -> Result<DeviceStatus, RegistryError> {
        let device = self.inner.device(&name)?;
        Ok(DeviceStatus {
            status: device.operation_status.to_string(),
            slug: device.operation_status.slug(),
            changed_at_millis: device.status_changed_at.saturating_mul(1000),
            failed_attempts: device.failed_attempts,
            locked: device.locked,
            complete_by_millis: device.complete_by.map(|at| at.saturating_mul(1000)),
            description: device.description,
        })
    }

    /// The registry's settings (as `capf settings show`): every setting,
    /// defaults included, its value as text.
    pub fn settings(&self) -> Result<Vec<RegistrySetting>, RegistryError> {
        Ok(self
            .inner
            .settings()?
            .pairs()
            .into_iter()
            .map(|(name, value)| RegistrySetting {
                name: name.to_owned(),
                value,
            })
            .collect())
    }

    /// Sets one setting (as `capf settings set NAME VALUE`), validated by
    /// the library's one parser; `InvalidInput` names what is accepted.
    pub fn set_setting(
        &self,
        name: String,
        value: String,
        now_millis: u64,
    ) -> Result<(), RegistryError> {
        let mut settings = self.inner.settings()?;
        settings
            .set(&name, &value)
            .map_err(|error| RegistryError::InvalidInput(error.to_string()))?;
        Ok(self.inner.put_settings(&settings, now_millis / 1000)?)
    }

    /// The device's certificate ledger, oldest first.
    pub fn certificates(&self, name: String) -> Result<Vec<LedgerEntry>, RegistryError> {
        Ok(self
            .inner
            .certificates(&name)?
            .into_iter()
            .map(ledger_entry)
            .collect())
    }

    /// The device's scheduled operation now (`None` once it completed).
    pub fn scheduled_operation(&self, name: String) -> Result<Operation, RegistryError> {
        let device = self.inner.device(&name)?;
        Ok(match device.operation {
            registry::Operation::Install => Operation::Install {
                key: crate::types::KeySpec::from_core(device.key_request)
                    .unwrap_or(crate::types::KeySpec::Rsa { bits: 0 }),
            },
            registry::Operation::Fetch => Operation::Fetch,
            registry::Operation::Delete => Operation::Delete,
            _ => Operation::None,
        })
    }

    /// Revokes every certificate of device `name` in the ledger with
    /// `reason` (`unspecified`, `keyCompromise`, `superseded` …), as
    /// `capf cert revoke --device` does; returns them. Sessions (certificate
    /// authentication) and TVS then refuse them by themselves.
    pub fn revoke_device(
        &self,
        name: String,
        reason: String,
        now_millis: u64,
    ) -> Result<Vec<LedgerEntry>, RegistryError> {
        self.revoke(
            registry::RevocationTarget::Device(name),
            &reason,
            now_millis,
        )
    }

    /// Revokes the ledger certificate(s) with serial `serial_hex`, as
    /// `capf cert revoke --serial` does; returns them.
    pub fn revoke_serial(
        &self,
        serial_hex: String,
        reason: String,
        now_millis: u64,
    ) -> Result<Vec<LedgerEntry>, RegistryError> {
        self.revoke(
            registry::RevocationTarget::Serial(serial_hex),
            &reason,
            now_millis,
        )
    }

    /// Schedules the renewal of every LSC that has used `used_share` of
    /// its lifetime at `now_millis` (a decimal in (0, 1], e.g. `"0.66"`),
    /// as `capf cert renew --used` does; with `dry_run` only lists them.
    pub fn plan_renewals(
        &self,
        used_share: String,
        dry_run: bool,
        now_millis: u64,
    ) -> Result<Vec<PlannedRenewal>, RegistryError> {
        let policy = registry::RenewalPolicy::used_share(&used_share).ok_or_else(|| {
            RegistryError::InvalidInput(
                "used_share must be a decimal in (0, 1], e.g. \"0.66\"".into(),
            )
        })?;
        let planned = registry::plan_renewals(&self.inner, policy, now_millis / 1000, dry_run)?;
        Ok(planned
            .into_iter()
            .map(|renewal| PlannedRenewal {
                device_name: renewal.device,
                serial_hex: renewal.serial_hex,
            })
            .collect())
    }

    /// The devices report as CSV, as `capf device report` writes it.
    pub fn report_csv(&self) -> Result<String, RegistryError> {
        let rows = registry::report::report(&self.inner, &registry::DeviceFilter::default())?;
        Ok(registry::report::to_csv(
            &rows,
            capf_core::trust::format_unix,
        ))
    }

    /// The device's failed authentication attempts so far.
    pub fn failed_attempts(&self, name: String) -> Result<u32, RegistryError> {
        Ok(self.inner.device(&name)?.failed_attempts)
    }

    /// The certificate requests kept for the offline CA, oldest first, as
    /// `capf ca csr list` shows them; only the stale ones with
    /// `stale_only`.
    pub fn certificate_requests(
        &self,
        stale_only: bool,
    ) -> Result<Vec<OfflineCertificateRequest>, RegistryError> {
        Ok(self
            .inner
            .certificate_requests(None)?
            .into_iter()
            .filter(|request| {
                !stale_only || request.state() == registry::CertificateRequestState::Stale
            })
            .map(|request| OfflineCertificateRequest {
                id: request.id,
                state: request.state().to_string(),
                key: request.key_request.to_string(),
                device_name: request.device,
                public_key_der: request.spki_der,
                csr_der: request.csr_der,
                requested_at_millis: request.requested_at.saturating_mul(1000),
            })
            .collect())
    }

    /// Imports a certificate (DER) signed by the offline CA, as `capf ca
    /// import` does: accepted only with exactly a pending request's key and
    /// its device's name, valid at `now_millis`; it goes into the ledger
    /// at once and reaches the phone at its next session. Refused with
    /// [`RegistryError::ImportRefused`] naming the reason.
    pub fn import_certificate(
        &self,
        certificate_der: Vec<u8>,
        now_millis: u64,
    ) -> Result<LedgerEntry, RegistryError> {
        let imported = registry::offline_ca::import_certificate(
            &self.inner,
            &certificate_der,
            now_millis / 1000,
        )?
        .map_err(|refusal| RegistryError::ImportRefused(refusal.to_string()))?;
        self.inner
            .certificates(&imported.device)?
            .into_iter()
            .find(|entry| entry.id == imported.ledger_id)
            .map(ledger_entry)
            .ok_or_else(|| {
                RegistryError::Registry("the imported certificate is not in the ledger".into())
            })
    }

    /// Deletes the stale certificate requests (`capf ca csr delete
    /// --stale`); returns how many. The ledger is not touched.
    pub fn delete_stale_certificate_requests(&self, now_millis: u64) -> Result<u64, RegistryError> {
        let deleted = self
            .inner
            .delete_stale_certificate_requests(now_millis / 1000)?;
        Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
    }
}

impl CapfRegistry {
    fn revoke(
        &self,
        target: registry::RevocationTarget,
        reason: &str,
        now_millis: u64,
    ) -> Result<Vec<LedgerEntry>, RegistryError> {
        let reason = reason
            .parse::<registry::RevocationReason>()
            .map_err(|error| RegistryError::InvalidInput(error.to_string()))?;
        Ok(self
            .inner
            .revoke(&target, reason, now_millis / 1000)?
            .into_iter()
            .map(ledger_entry)
            .collect())
    }
}

fn ledger_entry(entry: registry::CertificateEntry) -> LedgerEntry {
    LedgerEntry {
        serial_hex: entry.serial_hex,
        der: entry.der,
        state: entry.state.as_str().to_owned(),
        revoked: entry.revocation.is_some(),
    }
}

/// A renewal `plan_renewals` scheduled (or would schedule).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PlannedRenewal {
    /// The device.
    pub device_name: String,
    /// The serial (hex) of the LSC being renewed.
    pub serial_hex: String,
}

/// What the session holds between its registry steps.
#[derive(Debug, Default)]
struct HostState {
    /// The decision `poll_output` handed out, to answer from the registry.
    pending: Option<core_server::ServerDecision>,
    /// The device's operation, once this session holds it.
    claim: Option<registry::Claim>,
    /// The pending certificate's ledger id.
    ledger_id: Option<i64>,
}

/// A CAPF server session answered from a [`CapfRegistry`] and an
/// [`LscIssuer`] (or an [`EstIssuer`](crate::est::EstIssuer), see
/// `with_est`), as `capf serve` answers its sessions (sans-IO: the app
/// moves the plaintext, time and calls; pump it like `ServerSession`).
///
/// After each `Need` from `poll_output`, call `answer_from_registry(now)`
/// (it blocks: SQLite commits, PBKDF2, chains). If the connection ends
/// without `Done`, call `release(now)` so the device's operation is free
/// at once rather than when its lease ends.
#[derive(Debug, uniffi::Object)]
pub struct RegistryServerSession {
    session: Arc<ServerSession>,
    registry: Arc<CapfRegistry>,
    /// Who signs; `None`: the offline CA (requests kept, sessions deferred).
    issuer: Option<Issuer>,
    lock_after: u32,
    key_generation_timeout: core::time::Duration,
    response_timeout: core::time::Duration,
    token: registry::ClaimToken,
    state: Mutex<HostState>,
}

#[uniffi::export]
impl RegistryServerSession {
    /// A session with `options` (see `default_server_options`; its
    /// `max_failed_attempts` is also the registry's lock-out threshold, 0:
    /// never) issuing LSCs valid `validity_days` with `issuer`.
    #[uniffi::constructor]
    pub fn new(
        registry: Arc<CapfRegistry>,
        issuer: Arc<LscIssuer>,
        options: ServerOptions,
        validity_days: u32,
        now_millis: u64,
    ) -> Arc<Self> {
        let issuer = Issuer::Local {
            authority: Arc::clone(&issuer.inner),
            validity_days,
        };
        Self::with_issuer(registry, Some(issuer), options, now_millis)
    }

    /// A session as `new`, whose LSCs the online CA `est` signs (its
    /// wait, up to its timeout, is covered by the operation's lease).
    /// The phone must send a signed certificate request; one that does not,
    /// a CA that refuses or does not answer end the session with
    /// END_SESSION 7 ("CA Rejected Connection" / "CA Communication
    /// Failure"). Add `est.ca_certificates()` to `options.lsc_issuers_der`
    /// so phones later authenticate with the LSCs it signs.
    #[uniffi::constructor]
    pub fn with_est(
        registry: Arc<CapfRegistry>,
        est: Arc<crate::est::EstIssuer>,
        options: ServerOptions,
        now_millis: u64,
    ) -> Arc<Self> {
        Self::with_issuer(
            registry,
            Some(Issuer::Est(Arc::clone(&est.inner))),
            options,
            now_millis,
        )
    }

    /// A session as `new` for an offline CA (`capf serve --offline-ca`):
    /// nothing is issued; the phone's request is kept in the registry
    /// (`CapfRegistry.certificateRequests`) and the session ends deferred
    /// (END_SESSION 0, "Operation Pending"; END_SESSION 7 when the
    /// registry cannot keep it). A certificate signed elsewhere and
    /// imported (`CapfRegistry.importCertificate`) reaches the phone at its
    /// next session.
    #[uniffi::constructor]
    pub fn with_offline_ca(
        registry: Arc<CapfRegistry>,
        options: ServerOptions,
        now_millis: u64,
    ) -> Arc<Self> {
        Self::with_issuer(registry, None, options, now_millis)
    }
}

impl RegistryServerSession {
    fn with_issuer(
        registry: Arc<CapfRegistry>,
        issuer: Option<Issuer>,
        options: ServerOptions,
        now_millis: u64,
    ) -> Arc<Self> {
        let lock_after = options.max_failed_attempts;
        let key_generation_timeout =
            core::time::Duration::from_secs(options.key_generation_timeout_seconds);
        let response_timeout = core::time::Duration::from_secs(options.response_timeout_seconds);
        let mut options = options;
        if options.max_failed_attempts == 0 {
            options.max_failed_attempts = u32::MAX;
        }
        Arc::new(Self {
            session: ServerSession::new(options, now_millis),
            registry,
            issuer,
            lock_after,
            key_generation_timeout,
            response_timeout,
            token: registry::ClaimToken::random(&mut OsRng),
            state: Mutex::new(HostState::default()),
        })
    }
}

#[uniffi::export]
impl RegistryServerSession {
    /// Plaintext bytes from the phone, in any chunking.
    pub fn handle_input(&self, bytes: Vec<u8>) {
        self.session.handle_input(bytes);
    }

    /// The next thing to do; `None` when waiting. A `Need` is answered
    /// with `answer_from_registry`.
    pub fn poll_output(&self) -> Option<ServerOutput> {
        let output = crate::lock(&self.session.inner).poll_output()?;
        if let Output::Need(decision) = &output {
            crate::lock(&self.state).pending = Some(decision.clone());
        }
        Some(output_from_core(output))
    }

    /// Answers the decision `poll_output` handed out last, from the
    /// registry and the issuer, as `capf serve` does. `Misuse` when no
    /// decision is pending; `Issuance` when the registry could not record
    /// the pending certificate (the decision stays pending: retry or close).
    pub fn answer_from_registry(&self, now_millis: u64) -> Result<(), ServerError> {
        let mut state = crate::lock(&self.state);
        let decision = state
            .pending
            .take()
            .ok_or_else(|| ServerError::Misuse("no decision is pending".into()))?;
        let now = now_millis / 1000;
        let store = &self.registry.inner;
        let mut session = crate::lock(&self.session.inner);
        match decision {
            core_server::ServerDecision::LookUpDevice { device_name } => {
                let lease_until = registry::rules::lease_until_with_issuance(
                    now,
                    self.key_generation_timeout,
                    self.response_timeout,
                    self.issuer
                        .as_ref()
                        .map_or(core::time::Duration::ZERO, Issuer::issuance_timeout),
                );
                let looked_up = registry::look_up_device(
                    store,
                    &device_name,
                    self.token,
                    lease_until,
                    now,
                    self.registry.auth_key.as_ref(),
                );
                let (claim, answered) = registry::answer_lookup(&mut session, looked_up);
                state.claim = claim;
                Ok(answered?)
            }
            core_server::ServerDecision::IssueCertificate {
                device_name,
                subject_public_key_info_der,
                key_request,
                certificate_request_der,
            } => {
                let Some(issuer) = &self.issuer else {
                    // The offline CA: keep the request, defer the session.
                    match &state.claim {
                        Some(claim) => {
                            let request = registry::NewCertificateRequest::new(
                                key_request,
                                subject_public_key_info_der,
                                certificate_request_der,
                            );
                            // The session's refusal says whether it was kept
                            // (Deferred) or not (Unavailable, with the error).
                            let _kept = registry::offline_ca::defer_to_offline_ca(
                                store,
                                claim,
                                &request,
                                now,
                                &mut session,
                            )?;
                        }
                        None => {
                            session.refuse_certificate(core_server::IssueRefusal::Unavailable(
                                "the session holds no claim".into(),
                            ))?
                        }
                    }
                    return Ok(());
                };
                // The session is not held while the CA works (EST: up to
                // its timeout).
                drop(session);
                let needed = CertificateNeeded {
                    device_name: &device_name,
                    subject_public_key_info_der: &subject_public_key_info_der,
                    certificate_request_der: certificate_request_der.as_deref(),
                };
                let issued = issuer.issue_blocking(
                    needed,
                    Timestamp::from_unix_millis(now_millis),
                    &mut OsRng,
                );
                let mut session = crate::lock(&self.session.inner);
                registry::issuance::answer_issued(&mut session, issued)?;
                Ok(())
            }
            core_server::ServerDecision::RecordPendingCertificate {
                device_name,
                certificate_der,
            } => {
                let recorded = match &state.claim {
                    Some(claim) => store
                        .record_pending_certificate(
                            claim,
                            &registry::NewCertificate::from_der(&certificate_der),
                            now,
                        )
                        .map_err(|error| error.to_string()),
                    None => Err("the session holds no claim".to_owned()),
                };
                match recorded {
                    Ok(id) => {
                        state.ledger_id = Some(id);
                        Ok(session.answer_pending_recorded()?)
                    }
                    Err(error) => {
                        state.pending =
                            Some(core_server::ServerDecision::RecordPendingCertificate {
                                device_name,
                                certificate_der,
                            });
                        Err(ServerError::Issuance(format!(
                            "the certificate could not be recorded: {error}"
                        )))
                    }
                }
            }
            core_server::ServerDecision::RecordOutcome { outcome } => {
                let claim = state.claim.take();
                let recorded = registry::finish_session(
                    store,
                    &outcome,
                    claim.as_ref(),
                    state.ledger_id,
                    self.lock_after,
                    now,
                );
                Ok(match recorded {
                    Ok(_) => session.answer_outcome_recorded(),
                    Err(_) => session.refuse_outcome_record(),
                }?)
            }
            other => Err(ServerError::Misuse(format!(
                "a decision this binding does not know: {:?}",
                other.kind()
            ))),
        }
    }

    /// The connection ended without the session's `Done`: gives the
    /// device's operation back now. Returns whether a claim was released.
    pub fn release(&self, now_millis: u64) -> Result<bool, RegistryError> {
        let claim = crate::lock(&self.state).claim.take();
        match claim {
            Some(claim) => Ok(self
                .registry
                .inner
                .release_claim(&claim, now_millis / 1000)?),
            None => Ok(false),
        }
    }

    /// Time goes in only here (milliseconds since the Unix epoch).
    pub fn handle_timeout(&self, now_millis: u64) {
        self.session.handle_timeout(now_millis);
    }

    /// When to call `handle_timeout` next.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.session.poll_timeout()
    }

    /// The phone closed the connection.
    pub fn handle_peer_closed(&self) {
        self.session.handle_peer_closed();
    }

    /// The transport failed.
    pub fn handle_transport_error(&self) {
        self.session.handle_transport_error();
    }

    /// True once the session is over.
    pub fn is_done(&self) -> bool {
        self.session.is_done()
    }
}

impl RegistryServerSession {
    /// Keeps the decision a connection handed out, for `answer_from_registry`.
    fn stash(&self, decision: core_server::ServerDecision) {
        crate::lock(&self.state).pending = Some(decision);
    }
}

/// One thing for the server's host to do, from
/// `RegistryServerConnection.poll_output`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ServerConnectionOutput {
    /// TCP bytes for the phone: write them whole, in order.
    Transmit {
        /// The ciphertext.
        bytes: Vec<u8>,
    },
    /// The session waits for this decision: call the server's
    /// `answer_from_registry(now)`, then poll again.
    Need {
        /// The decision (for logging; the server keeps it).
        decision: ServerDecision,
    },
    /// TLS failed; the session was told: keep polling.
    TlsFailed {
        /// The readable cause.
        message: String,
    },
    /// The session is over (close_notify went out before): close TCP.
    Done {
        /// How it ended.
        outcome: ServerOutcome,
    },
    /// The connection ended without an outcome: close TCP and call the
    /// server's `release(now)`.
    Abandoned {
        /// Why.
        reason: ConnectionAbandonment,
    },
}

/// The server side of one accepted CAPF connection over TLS: the core's
/// `TlsConnection` over a [`RegistryServerSession`], for an app that moves
/// the TCP bytes itself (as `PhoneConnection` on the phone side). Every
/// TLS rule is the core's, every registry rule `capf_registry`'s.
#[derive(Debug, uniffi::Object)]
pub struct RegistryServerConnection {
    server: Arc<RegistryServerSession>,
    inner: Mutex<capf_core::connection::TlsConnection<Shared<ServerSession>>>,
}

#[uniffi::export]
impl RegistryServerConnection {
    /// A connection carrying `server` (new, not driven yet), presenting
    /// `certificate_chain_der` (the CAPF certificate first) with its
    /// private key (PKCS#8, PKCS#1 or SEC1 DER). `handshake_timeout_millis`:
    /// end the connection if the handshake takes longer (a server should
    /// set it).
    #[uniffi::constructor]
    pub fn new(
        server: Arc<RegistryServerSession>,
        certificate_chain_der: Vec<Vec<u8>>,
        private_key_der: Vec<u8>,
        handshake_timeout_millis: Option<u64>,
        now_millis: u64,
    ) -> Result<Arc<Self>, ConnectionError> {
        let config = capf_core::tls::server_config(&certificate_chain_der, &private_key_der)
            .map_err(|error| ConnectionError::Tls(error.to_string()))?;
        let connection = capf_core::connection::TlsConnection::server(
            config,
            Shared(Arc::clone(&server.session)),
            options(handshake_timeout_millis),
            Timestamp::from_unix_millis(now_millis),
        )
        .map_err(|error| ConnectionError::Tls(error.to_string()))?;
        Ok(Arc::new(Self {
            server,
            inner: Mutex::new(connection),
        }))
    }

    /// The server session (answer its decisions with
    /// `answer_from_registry`).
    pub fn server(&self) -> Arc<RegistryServerSession> {
        Arc::clone(&self.server)
    }

    /// Bytes received from TCP, in any chunking.
    pub fn handle_tcp_input(&self, bytes: Vec<u8>) {
        crate::lock(&self.inner).handle_tcp_input(&bytes);
    }

    /// The TCP stream ended (EOF) or was reset while reading.
    pub fn handle_tcp_closed(&self) {
        crate::lock(&self.inner).handle_tcp_closed();
    }

    /// Writing to TCP failed.
    pub fn handle_transport_error(&self) {
        crate::lock(&self.inner).handle_transport_error();
    }

    /// Time goes in here (milliseconds since the Unix epoch).
    pub fn handle_timeout(&self, now_millis: u64) {
        crate::lock(&self.inner).handle_timeout(Timestamp::from_unix_millis(now_millis));
    }

    /// When to call `handle_timeout` next; `None` while a decision is owed
    /// and once over.
    pub fn poll_timeout(&self) -> Option<u64> {
        crate::lock(&self.inner)
            .poll_timeout()
            .map(Timestamp::unix_millis)
    }

    /// The next thing to do, in order; `None` when waiting.
    pub fn poll_output(&self) -> Option<ServerConnectionOutput> {
        use capf_core::connection::ConnectionOutput as O;
        let output = crate::lock(&self.inner).poll_output()?;
        Some(match output {
            O::Transmit(bytes) => ServerConnectionOutput::Transmit { bytes },
            O::Need(decision) => {
                self.server.stash(decision.clone());
                ServerConnectionOutput::Need {
                    decision: decision_from_core(decision),
                }
            }
            O::TlsFailed(error) => ServerConnectionOutput::TlsFailed {
                message: describe_tls_failure(&error),
            },
            O::Done(outcome) => ServerConnectionOutput::Done {
                outcome: ServerOutcome::from_core(&outcome),
            },
            O::Abandoned(reason) => ServerConnectionOutput::Abandoned {
                reason: ConnectionAbandonment::from_core(reason),
            },
            _ => ServerConnectionOutput::Abandoned {
                reason: ConnectionAbandonment::PeerGone,
            },
        })
    }

    /// True once the last item was handed out or is the next one.
    pub fn is_done(&self) -> bool {
        crate::lock(&self.inner).is_done()
    }

    /// Whether the TLS handshake is still running.
    pub fn is_handshaking(&self) -> bool {
        crate::lock(&self.inner).is_handshaking()
    }
}
