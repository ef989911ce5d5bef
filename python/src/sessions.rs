//! The four sans-IO sessions through the one host contract
//! (`capf_core::session`), with the Rust method names: `handle_input`,
//! `poll_output` (a `Transmit`, `Need` or `Done` object), `handle_timeout`
//! (a `datetime`), `poll_timeout` (a `datetime` or `None`),
//! `handle_peer_closed`, `handle_transport_error`, `is_done`,
//! `pending_decision`, and each session's `answer_*` / `refuse_*` pair.

use capf_core::capf::certificate_request::{
    CertificateRequestAlgorithm, sign_certificate_request_info,
};
use capf_core::capf::codec::Curve;
use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::phone::{
    AuthString, CertificateCredentials, CertificatePrecedence, PhoneConfig, PhoneCredentials,
    PhoneDecision, PhoneOutcome, PhoneSession, ProofCredential, SoftwareSigner,
};
use capf_core::capf::proof::{ProofHash, ProofPrivateKey};
use capf_core::capf::server::{
    AuthMode, AuthStringHash, CertificatePreference, DeviceRecord, DeviceRefusal, IssueRefusal,
    Operation, ServerConfig, ServerDecision, ServerOutcome, ServerSession, SessionResult,
};
use capf_core::issuance::{CertificateAuthority, LscIssuer as CoreIssuer, LscRequest};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use capf_core::session::{DecisionKind, Output, Session, SessionMisuse};
use capf_core::time::Timestamp;
use capf_core::tvs::{
    KnownCertificate, TvsClientConfig, TvsClientDecision, TvsClientOutcome, TvsClientResult,
    TvsClientSession, TvsServerConfig, TvsServerDecision, TvsServerOutcome, TvsServerResult,
    TvsServerSession,
};
use ctl_format::trust_list::Role;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyType};

use crate::errors::{Kind, new_error};

static DATETIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static TIMEZONE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

// ---- time ------------------------------------------------------------------

/// A `datetime` (aware, or naive in local time as `datetime.timestamp()`
/// reads it) as a `Timestamp`.
pub(crate) fn timestamp(now: &Bound<'_, PyAny>) -> PyResult<Timestamp> {
    let cls = DATETIME.import(now.py(), "datetime", "datetime")?;
    if !now.is_instance(cls)? {
        return Err(new_error(
            Kind::Misuse,
            "time must be a datetime.datetime".to_owned(),
            None,
        ));
    }
    let seconds: f64 = now.call_method0("timestamp")?.extract()?;
    let millis = (seconds * 1000.0).round();
    if !(0.0..=9.0e15).contains(&millis) {
        return Err(new_error(
            Kind::Misuse,
            "time must be after 1970-01-01T00:00:00Z".to_owned(),
            None,
        ));
    }
    // In range and whole: the conversion is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(Timestamp::from_unix_millis(millis as u64))
}

/// A `Timestamp` as an aware UTC `datetime`.
pub(crate) fn datetime(py: Python<'_>, at: Timestamp) -> PyResult<Bound<'_, PyAny>> {
    let cls = DATETIME.import(py, "datetime", "datetime")?;
    let tz = TIMEZONE.import(py, "datetime", "timezone")?;
    let utc = tz.getattr("utc")?;
    #[allow(clippy::cast_precision_loss)]
    let seconds = at.unix_millis() as f64 / 1000.0;
    cls.call_method1("fromtimestamp", (seconds, utc))
}

/// A session shared between its Python object (which answers decisions)
/// and, once it is given to one, a `TlsConnection` (which drives it): one
/// session, two handles. Locking never blocks while holding the GIL.
pub(crate) struct Shared<S>(Arc<Mutex<S>>);

impl<S> Shared<S> {
    fn new(session: S) -> Self {
        Self(Arc::new(Mutex::new(session)))
    }

    /// Another handle on the same session.
    pub(crate) fn handle(&self) -> Self {
        Self(Arc::clone(&self.0))
    }

    /// True when a connection holds this session too.
    pub(crate) fn is_shared(&self) -> bool {
        Arc::strong_count(&self.0) > 1
    }

    /// The session. A thread that finds it held by another (which may run
    /// with the GIL released) waits with the GIL released, so the holder
    /// can finish.
    pub(crate) fn lock(&self) -> MutexGuard<'_, S>
    where
        S: Send,
    {
        loop {
            match self.0.try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => Python::attach(|py| {
                    py.detach(|| drop(self.0.lock()));
                }),
            }
        }
    }
}

impl<S: Session + Send> Session for Shared<S> {
    type Decision = S::Decision;
    type Outcome = S::Outcome;
    fn handle_input(&mut self, bytes: &[u8]) {
        self.lock().handle_input(bytes);
    }
    fn poll_output(&mut self) -> Option<Output<Self::Decision, Self::Outcome>> {
        self.lock().poll_output()
    }
    fn handle_timeout(&mut self, now: Timestamp) {
        self.lock().handle_timeout(now);
    }
    fn poll_timeout(&self) -> Option<Timestamp> {
        self.lock().poll_timeout()
    }
    fn handle_peer_closed(&mut self) {
        self.lock().handle_peer_closed();
    }
    fn handle_transport_error(&mut self) {
        self.lock().handle_transport_error();
    }
    fn is_done(&self) -> bool {
        self.lock().is_done()
    }
    fn pending_decision(&self) -> Option<DecisionKind> {
        self.lock().pending_decision()
    }
}

fn misuse(error: SessionMisuse) -> PyErr {
    new_error(Kind::Misuse, error.to_string(), None)
}

fn kind_name(kind: DecisionKind) -> String {
    kind.as_str().replace(' ', "_")
}

/// `CamelCase` variant name of a `Debug` rendering as `snake_case`
/// ("StoreFailed { .. }" -> "store_failed"): names every variant, present
/// and future, without printing any of its data.
fn variant_name(debug: &str) -> String {
    let head: String = debug
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let mut out = String::with_capacity(head.len() + 4);
    for (index, c) in head.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if index > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

// ---- outputs ---------------------------------------------------------------

/// One whole frame for the peer: write it with one write, at once.
#[pyclass(module = "capf._native", frozen)]
pub struct Transmit {
    /// The frame.
    #[pyo3(get)]
    data: Py<PyBytes>,
}

#[pymethods]
impl Transmit {
    fn __repr__(&self, py: Python<'_>) -> String {
        format!("Transmit({} bytes)", self.data.bind(py).as_bytes().len())
    }
}

/// The session waits for the host's answer to `decision`.
#[pyclass(module = "capf._native", frozen)]
pub struct Need {
    /// The decision (one of the decision classes).
    #[pyo3(get)]
    decision: Py<PyAny>,
}

#[pymethods]
impl Need {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("Need({})", self.decision.bind(py).repr()?))
    }
}

/// The session is over (always the last output).
#[pyclass(module = "capf._native", frozen)]
pub struct Done {
    /// The session's outcome.
    #[pyo3(get)]
    outcome: Py<PyAny>,
}

#[pymethods]
impl Done {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("Done({})", self.outcome.bind(py).repr()?))
    }
}

pub(crate) fn output<'py, D, O>(
    py: Python<'py>,
    item: Output<D, O>,
    decision: impl FnOnce(Python<'py>, D) -> PyResult<Bound<'py, PyAny>>,
    outcome: impl FnOnce(Python<'py>, O) -> PyResult<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    match item {
        Output::Transmit(bytes) => Ok(Bound::new(
            py,
            Transmit {
                data: PyBytes::new(py, &bytes).unbind(),
            },
        )?
        .into_any()),
        Output::Need(d) => Ok(Bound::new(
            py,
            Need {
                decision: decision(py, d)?.unbind(),
            },
        )?
        .into_any()),
        Output::Done(o) => Ok(Bound::new(
            py,
            Done {
                outcome: outcome(py, o)?.unbind(),
            },
        )?
        .into_any()),
        _ => Err(new_error(
            Kind::Protocol,
            "unknown session output".to_owned(),
            None,
        )),
    }
}

// ---- CAPF server ----------------------------------------------------------

/// A decision of any session: `kind` names it (``"look_up_device"``,
/// ``"issue_certificate"``, ``"record_pending_certificate"``,
/// ``"record_outcome"``, ``"sign_proof"``, ``"generate_key"``,
/// ``"store_certificate"``, ``"fetch_certificate"``,
/// ``"delete_certificate"``, ``"look_up_certificate"``); the other
/// attributes are those of that kind, `None` otherwise.
#[pyclass(module = "capf._native", frozen)]
pub struct Decision {
    /// Which decision this is.
    #[pyo3(get)]
    pub(crate) kind: String,
    /// The device name (CAPF server decisions).
    #[pyo3(get)]
    pub(crate) device_name: Option<String>,
    /// The phone's DER SubjectPublicKeyInfo (``issue_certificate``).
    #[pyo3(get)]
    pub(crate) subject_public_key_info: Option<Py<PyBytes>>,
    /// The key asked for, e.g. ``"rsa:2048"`` (``issue_certificate``,
    /// ``generate_key``).
    #[pyo3(get)]
    pub(crate) key_request: Option<String>,
    /// A DER certificate (``record_pending_certificate``,
    /// ``store_certificate``, ``sign_proof``, ``look_up_certificate``).
    #[pyo3(get)]
    pub(crate) certificate: Option<Py<PyBytes>>,
    /// The outcome to record (``record_outcome``).
    #[pyo3(get)]
    pub(crate) outcome: Option<Py<PyAny>>,
    /// The digest to sign (``sign_proof``; TVS ``look_up_certificate``:
    /// the certificate's SHA-256).
    #[pyo3(get)]
    digest: Option<Py<PyBytes>>,
    /// Whose key signs (``sign_proof``): ``"lsc"``, ``"mic"`` or
    /// ``"sudi"``.
    #[pyo3(get)]
    credential: Option<&'static str>,
    /// The proof's hash (``sign_proof``): ``"sha1"`` or ``"sha512"``. RSA
    /// keys sign the bare digest with PKCS #1 v1.5 type-1 padding (no
    /// DigestInfo); EC keys give a DER ECDSA signature over the digest.
    #[pyo3(get)]
    hash: Option<&'static str>,
    /// The phone-signed PKCS#10 request (DER) that came with the key
    /// (``issue_certificate``), if the phone sent one; an online CA (EST)
    /// needs it.
    #[pyo3(get)]
    pub(crate) certificate_request: Option<Py<PyBytes>>,
    /// The DER CertificationRequestInfo to sign
    /// (``sign_certificate_request``).
    #[pyo3(get)]
    message: Option<Py<PyBytes>>,
    /// The request's signature algorithm (``sign_certificate_request``):
    /// ``"rsa-sha256"``, ``"rsa-sha384"``, ``"rsa-sha512"``,
    /// ``"ecdsa-sha256"``, ``"ecdsa-sha384"`` or ``"ecdsa-sha512"``.
    #[pyo3(get)]
    algorithm: Option<&'static str>,
    /// `algorithm` itself, for `PhoneSession.answer_certificate_request`.
    request_algorithm: Option<CertificateRequestAlgorithm>,
}

#[pymethods]
impl Decision {
    fn __repr__(&self) -> String {
        format!(
            "Decision(kind={:?}, device_name={:?})",
            self.kind, self.device_name
        )
    }
}

fn decision(kind: DecisionKind) -> Decision {
    Decision {
        kind: kind_name(kind),
        device_name: None,
        subject_public_key_info: None,
        key_request: None,
        certificate: None,
        outcome: None,
        digest: None,
        credential: None,
        hash: None,
        certificate_request: None,
        message: None,
        algorithm: None,
        request_algorithm: None,
    }
}

/// The Python name of a certificate request's signature algorithm.
fn request_algorithm_name(algorithm: CertificateRequestAlgorithm) -> &'static str {
    match algorithm {
        CertificateRequestAlgorithm::RsaSha256 => "rsa-sha256",
        CertificateRequestAlgorithm::RsaSha384 => "rsa-sha384",
        CertificateRequestAlgorithm::RsaSha512 => "rsa-sha512",
        CertificateRequestAlgorithm::EcdsaSha256 => "ecdsa-sha256",
        CertificateRequestAlgorithm::EcdsaSha384 => "ecdsa-sha384",
        CertificateRequestAlgorithm::EcdsaSha512 => "ecdsa-sha512",
        _ => "unknown",
    }
}

fn bytes(py: Python<'_>, value: &[u8]) -> Py<PyBytes> {
    PyBytes::new(py, value).unbind()
}

/// How a CAPF server session ended.
#[pyclass(module = "capf._native", frozen, name = "ServerOutcome")]
pub struct ServerOutcomeInfo {
    /// The device name the phone sent, once it sent a valid one.
    #[pyo3(get)]
    device_name: Option<String>,
    /// What happened: ``"installed"``, ``"nothing_to_do"``,
    /// ``"unknown_device"``, ``"authentication_failed"``, ``"timed_out"``…
    #[pyo3(get)]
    result: String,
    /// The certificate installed or fetched, DER, when there is one.
    #[pyo3(get)]
    certificate: Option<Py<PyBytes>>,
    /// The END_SESSION reason code sent, if one was sent.
    #[pyo3(get)]
    end_reason: Option<u8>,
    /// True once the device passed authentication.
    #[pyo3(get)]
    authenticated: bool,
    /// True when the host recorded this outcome.
    #[pyo3(get)]
    recorded: bool,
    /// True when the scheduled operation is complete.
    #[pyo3(get)]
    operation_completed: bool,
    /// True when the host must count a failed attempt.
    #[pyo3(get)]
    is_authentication_failure: bool,
    /// The outcome itself, for the registry's rules.
    pub(crate) raw: ServerOutcome,
}

#[pymethods]
impl ServerOutcomeInfo {
    fn __repr__(&self) -> String {
        format!(
            "ServerOutcome(result={:?}, device_name={:?}, end_reason={:?})",
            self.result, self.device_name, self.end_reason
        )
    }
}

pub(crate) fn server_outcome<'py>(
    py: Python<'py>,
    outcome: &ServerOutcome,
) -> PyResult<Bound<'py, PyAny>> {
    let certificate = match &outcome.result {
        SessionResult::Installed { certificate_der }
        | SessionResult::Fetched { certificate_der } => Some(bytes(py, certificate_der)),
        _ => None,
    };
    Ok(Bound::new(
        py,
        ServerOutcomeInfo {
            device_name: outcome.device_name.clone(),
            result: variant_name(&format!("{:?}", outcome.result)),
            certificate,
            end_reason: outcome.end_reason.map(|reason| reason.code()),
            authenticated: outcome.authenticated,
            recorded: outcome.recorded,
            operation_completed: outcome.operation_completed(),
            is_authentication_failure: outcome.is_authentication_failure(),
            raw: outcome.clone(),
        },
    )?
    .into_any())
}

pub(crate) fn server_decision<'py>(
    py: Python<'py>,
    d: ServerDecision,
) -> PyResult<Bound<'py, PyAny>> {
    let mut out = decision(d.kind());
    match d {
        ServerDecision::LookUpDevice { device_name } => out.device_name = Some(device_name),
        ServerDecision::IssueCertificate {
            device_name,
            subject_public_key_info_der,
            key_request,
            certificate_request_der,
            ..
        } => {
            out.device_name = Some(device_name);
            out.subject_public_key_info = Some(bytes(py, &subject_public_key_info_der));
            out.key_request = Some(key_request.to_string());
            out.certificate_request = certificate_request_der.map(|der| bytes(py, &der));
        }
        ServerDecision::RecordPendingCertificate {
            device_name,
            certificate_der,
        } => {
            out.device_name = Some(device_name);
            out.certificate = Some(bytes(py, &certificate_der));
        }
        ServerDecision::RecordOutcome { outcome } => {
            out.device_name.clone_from(&outcome.device_name);
            out.outcome = Some(server_outcome(py, &outcome)?.unbind());
        }
        _ => {}
    }
    Ok(Bound::new(py, out)?.into_any())
}

pub(crate) fn key_request(text: &str) -> PyResult<KeyRequest> {
    text.parse::<KeyRequest>()
        .ok()
        .filter(|key| key.is_valid())
        .ok_or_else(|| {
            new_error(
                Kind::Misuse,
                format!("unknown key request {text:?} (\"rsa:2048\", \"ec:p256\" …)"),
                None,
            )
        })
}

/// The server's record of one device, as the host answers
/// `look_up_device`.
///
/// `operation`: ``"install"``, ``"fetch"``, ``"delete"`` or ``"none"``;
/// `key`: the key to install (``"rsa:2048"``, ``"ec:p256"`` …); `auth`:
/// ``"null-string"``, ``"auth-string"`` (give `auth_string`; only its
/// PBKDF2 hash is kept), ``"certificate-lsc"`` or ``"certificate-mic"``.
#[pyclass(module = "capf._native", frozen, name = "DeviceRecord")]
pub struct PyDeviceRecord {
    inner: DeviceRecord,
}

#[pymethods]
impl PyDeviceRecord {
    #[new]
    #[pyo3(signature = (device_name, *, operation = "install", key = "rsa:2048", auth = "null-string", auth_string = None, auth_iterations = 600_000, failed_attempts = 0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        device_name: String,
        operation: &str,
        key: &str,
        auth: &str,
        auth_string: Option<String>,
        auth_iterations: u32,
        failed_attempts: u32,
    ) -> PyResult<Self> {
        let operation = match operation {
            "install" => Operation::Install(key_request(key)?),
            "fetch" => Operation::Fetch,
            "delete" => Operation::Delete,
            "none" => Operation::None,
            _ => {
                return Err(new_error(
                    Kind::Misuse,
                    "operation must be \"install\", \"fetch\", \"delete\" or \"none\"".to_owned(),
                    None,
                ));
            }
        };
        let authentication = match (auth, auth_string) {
            ("null-string", None) => AuthMode::NullString,
            ("auth-string", Some(digits)) => {
                let mut salt = [0u8; 16];
                rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut salt);
                let hash = py
                    .detach(|| AuthStringHash::new(&digits, &salt, auth_iterations))
                    // The error names the rule broken, never the string.
                    .map_err(|error| new_error(Kind::Misuse, error.to_string(), None))?;
                AuthMode::AuthString(hash)
            }
            ("certificate-lsc", None) => AuthMode::ExistingCertificate {
                prefer: CertificatePreference::Lsc,
            },
            ("certificate-mic", None) => AuthMode::ExistingCertificate {
                prefer: CertificatePreference::Mic,
            },
            _ => {
                return Err(new_error(
                    Kind::Misuse,
                    "auth must be \"null-string\", \"auth-string\" (with auth_string), \"certificate-lsc\" or \"certificate-mic\"".to_owned(),
                    None,
                ));
            }
        };
        Ok(Self {
            inner: DeviceRecord::new(device_name, operation, authentication)
                .with_failed_attempts(failed_attempts),
        })
    }
    /// The device name.
    #[getter]
    fn device_name(&self) -> String {
        self.inner.device_name.clone()
    }
    fn __repr__(&self) -> String {
        format!("DeviceRecord(device_name={:?})", self.inner.device_name)
    }
}

/// The CAPF server side of one phone connection (it queues AUTH_REQUEST at
/// once).
#[pyclass(module = "capf._native", name = "ServerSession")]
pub struct PyServerSession {
    pub(crate) shared: Shared<ServerSession>,
}

#[pymethods]
impl PyServerSession {
    #[new]
    #[pyo3(signature = (session_id, now, *, announce_auth_type = true, max_failed_attempts = 5, lsc_issuers = None, manufacturing_roots = None, intermediates = None, allow_expired_mic = false, require_sudi = false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        session_id: u32,
        now: &Bound<'_, PyAny>,
        announce_auth_type: bool,
        max_failed_attempts: u32,
        lsc_issuers: Option<&Bound<'_, PyAny>>,
        manufacturing_roots: Option<&Bound<'_, PyAny>>,
        intermediates: Option<&Bound<'_, PyAny>>,
        allow_expired_mic: bool,
        require_sudi: bool,
    ) -> PyResult<Self> {
        let ders = |value: Option<&Bound<'_, PyAny>>| -> PyResult<Vec<Vec<u8>>> {
            match value {
                None => Ok(Vec::new()),
                Some(value) => crate::convert::certificate_list(value)?
                    .iter()
                    .map(|bytes| crate::convert::certificate_der(bytes))
                    .collect(),
            }
        };
        let mut config = ServerConfig::new(session_id);
        config.announce_auth_type = announce_auth_type;
        config.max_failed_attempts = max_failed_attempts;
        config.certificate_policy.lsc_issuers = ders(lsc_issuers)?;
        config.certificate_policy.manufacturing_roots = ders(manufacturing_roots)?;
        config.certificate_policy.intermediates = ders(intermediates)?;
        config.certificate_policy.allow_expired_mic = allow_expired_mic;
        config.require_sudi = require_sudi;
        Ok(Self {
            shared: Shared::new(ServerSession::new(config, timestamp(now)?)),
        })
    }
    /// The session id chosen by the host.
    #[getter]
    fn session_id(&self) -> u32 {
        self.shared.lock().session_id()
    }
    /// Bytes from the phone (TLS plaintext), in any chunking.
    fn handle_input(&mut self, py: Python<'_>, data: &[u8]) {
        let shared = &self.shared;
        py.detach(|| shared.lock().handle_input(data));
    }
    /// The next output (`Transmit`, `Need` or `Done`), or `None`.
    fn poll_output<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        // The server's outputs are encoded frames and queued decisions: no
        // signature or chain check runs here, so the GIL is kept (releasing
        // it per call is a GIL hand-off a dozen times per enrollment). A session
        // held by another thread is still waited for without the GIL.
        let item = self.shared.lock().poll_output();
        match item {
            Some(item) => {
                output(py, item, server_decision, |py, o| server_outcome(py, &o)).map(Some)
            }
            None => Ok(None),
        }
    }
    /// Time goes in here.
    fn handle_timeout(&mut self, now: &Bound<'_, PyAny>) -> PyResult<()> {
        self.shared.lock().handle_timeout(timestamp(now)?);
        Ok(())
    }
    /// The next deadline (aware UTC datetime), or `None`.
    fn poll_timeout<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.shared
            .lock()
            .poll_timeout()
            .map(|at| datetime(py, at))
            .transpose()
    }
    /// The phone closed its side.
    fn handle_peer_closed(&mut self) {
        self.shared.lock().handle_peer_closed();
    }
    /// The transport failed.
    fn handle_transport_error(&mut self) {
        self.shared.lock().handle_transport_error();
    }
    /// True once the session is over.
    fn is_done(&self) -> bool {
        self.shared.lock().is_done()
    }
    /// The kind of the decision the host owes, if any.
    fn pending_decision(&self) -> Option<String> {
        self.shared.lock().pending_decision().map(kind_name)
    }
    /// Answers `look_up_device` (`None`: unknown device). Checks the
    /// phone's credentials (PBKDF2, chains) with the GIL released.
    fn answer_device(
        &mut self,
        py: Python<'_>,
        record: Option<&Bound<'_, PyDeviceRecord>>,
    ) -> PyResult<()> {
        let record = record.map(|r| r.get().inner.clone());
        let mut guard = self.shared.lock();
        let inner = &mut *guard;
        py.detach(|| inner.answer_device(record)).map_err(misuse)
    }
    /// Refuses `look_up_device`: ``"operation_claimed"`` or
    /// ``"registry_unavailable"``.
    fn refuse_device(&mut self, reason: &str) -> PyResult<()> {
        let refusal = match reason {
            "operation_claimed" => DeviceRefusal::OperationClaimed,
            "registry_unavailable" => DeviceRefusal::RegistryUnavailable,
            _ => {
                return Err(new_error(
                    Kind::Misuse,
                    "reason must be \"operation_claimed\" or \"registry_unavailable\"".to_owned(),
                    None,
                ));
            }
        };
        self.shared.lock().refuse_device(refusal).map_err(misuse)
    }
    /// Answers `issue_certificate` with the issued LSC (DER).
    fn answer_certificate(&mut self, certificate: Vec<u8>) -> PyResult<()> {
        self.shared
            .lock()
            .answer_certificate(certificate)
            .map_err(misuse)
    }
    /// Refuses `issue_certificate`; `unavailable`: the CA failed (else
    /// policy declined).
    #[pyo3(signature = (reason, *, unavailable = false))]
    fn refuse_certificate(&mut self, reason: String, unavailable: bool) -> PyResult<()> {
        let refusal = if unavailable {
            IssueRefusal::Unavailable(reason)
        } else {
            IssueRefusal::Declined(reason)
        };
        self.shared
            .lock()
            .refuse_certificate(refusal)
            .map_err(misuse)
    }
    /// Answers `record_pending_certificate` once the ledger holds it.
    fn answer_pending_recorded(&mut self) -> PyResult<()> {
        self.shared.lock().answer_pending_recorded().map_err(misuse)
    }
    /// Answers `record_outcome` once it is written.
    fn answer_outcome_recorded(&mut self) -> PyResult<()> {
        self.shared.lock().answer_outcome_recorded().map_err(misuse)
    }
    /// Refuses `record_outcome` (the write failed): the phone is told 7.
    fn refuse_outcome_record(&mut self) -> PyResult<()> {
        self.shared.lock().refuse_outcome_record().map_err(misuse)
    }
}

/// The local CA that issues LSCs (`capf_core::issuance::LscIssuer`): an
/// issuing CA certificate and its private key, each as PEM or DER bytes
/// (or `str` PEM) or as a `cryptography` object.
#[pyclass(module = "capf._native", frozen, name = "LscIssuer")]
pub struct PyLscIssuer {
    pub(crate) inner: Arc<CoreIssuer>,
}

#[pymethods]
impl PyLscIssuer {
    #[new]
    fn new(
        py: Python<'_>,
        certificate: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        // An unusable issuer is the caller's misuse (as before), not
        // malformed peer input.
        let certificate =
            crate::convert::certificate_der(&crate::convert::certificate_bytes(certificate)?)
                .map_err(|_| {
                    new_error(
                        Kind::Misuse,
                        "the issuer certificate is neither a PEM nor a DER X.509 certificate"
                            .to_owned(),
                        None,
                    )
                })?;
        let key = crate::convert::pkcs8_der(&crate::convert::private_key_bytes(key)?)?;
        py.detach(|| CoreIssuer::new(&certificate, &key))
            .map(|inner| Self {
                inner: Arc::new(inner),
            })
            .map_err(|error| new_error(Kind::Misuse, error.to_string(), None))
    }
    /// Issues an LSC (DER) for `device_name`'s key, valid from `now`.
    #[pyo3(signature = (device_name, subject_public_key_info, now, *, validity_days = 3650))]
    fn issue<'py>(
        &self,
        py: Python<'py>,
        device_name: &str,
        subject_public_key_info: &Bound<'_, PyAny>,
        now: &Bound<'_, PyAny>,
        validity_days: u32,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let now = timestamp(now)?;
        let spki = crate::convert::public_key_spki(subject_public_key_info)?;
        let request = LscRequest {
            device_name,
            subject_public_key_info_der: &spki,
            validity_days,
        };
        let issued = py
            .detach(|| self.inner.issue(&request, now, &mut rand_core::OsRng))
            .map_err(|error| new_error(Kind::Misuse, error.to_string(), None))?;
        Ok(PyBytes::new(py, &issued.der))
    }
    /// The issuing certificate, DER.
    #[getter]
    fn certificate<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.certificate_der())
    }
}

// ---- CAPF phone -------------------------------------------------------------

/// How a CAPF phone session ended.
#[pyclass(module = "capf._native", frozen, name = "PhoneOutcome")]
pub struct PhoneOutcomeInfo {
    /// What happened: ``"installed"``, ``"nothing_to_do"``,
    /// ``"unknown_device"``, ``"refused"``, ``"protocol_error"``…
    #[pyo3(get)]
    result: String,
    /// The installed LSC, DER (``"installed"``).
    #[pyo3(get)]
    certificate: Option<Py<PyBytes>>,
    /// True for the successful results.
    #[pyo3(get)]
    is_success: bool,
}

#[pymethods]
impl PhoneOutcomeInfo {
    fn __repr__(&self) -> String {
        format!("PhoneOutcome(result={:?})", self.result)
    }
}

pub(crate) fn phone_outcome(py: Python<'_>, outcome: PhoneOutcome) -> PyResult<Bound<'_, PyAny>> {
    let certificate = match &outcome {
        PhoneOutcome::Installed { certificate_der } => Some(bytes(py, certificate_der)),
        _ => None,
    };
    Ok(Bound::new(
        py,
        PhoneOutcomeInfo {
            result: variant_name(&format!("{outcome:?}")),
            certificate,
            is_success: outcome.is_success(),
        },
    )?
    .into_any())
}

pub(crate) fn phone_decision(py: Python<'_>, d: PhoneDecision) -> PyResult<Bound<'_, PyAny>> {
    let mut out = decision(d.kind());
    match d {
        PhoneDecision::SignProof {
            credential,
            hash,
            certificate_der,
            digest,
            ..
        } => {
            out.certificate = Some(bytes(py, &certificate_der));
            out.digest = Some(bytes(py, &digest));
            out.credential = Some(credential_name(credential));
            out.hash = Some(hash_name(hash));
        }
        PhoneDecision::GenerateKey(request) => out.key_request = Some(request.to_string()),
        PhoneDecision::SignCertificateRequest {
            algorithm,
            message,
            digest,
            ..
        } => {
            out.message = Some(bytes(py, &message));
            out.digest = Some(bytes(py, &digest));
            out.algorithm = Some(request_algorithm_name(algorithm));
            out.request_algorithm = Some(algorithm);
        }
        PhoneDecision::StoreCertificate { certificate_der } => {
            out.certificate = Some(bytes(py, &certificate_der));
        }
        _ => {}
    }
    Ok(Bound::new(py, out)?.into_any())
}

/// The phone side of a CAPF session. Without `auth_string` the phone
/// authenticates by null string. `send_certificate_request`: the phone
/// sends a PKCS#10 request signed by its new key with the key (decision
/// ``sign_certificate_request``), which a server whose LSCs an online CA
/// (EST) signs needs. `pending_key`: the public key (DER or PEM
/// SubjectPublicKeyInfo, or a `cryptography` public key) of a key this
/// phone generated at an earlier session whose certificate an offline CA
/// had not signed yet (outcome ``certificate_pending``); with it the phone
/// accepts a certificate sent without a new key generation, and stores it
/// only when it carries exactly this key (otherwise it answers the store
/// with a failure, and keeps its key).
#[pyclass(module = "capf._native", name = "PhoneSession")]
pub struct PyPhoneSession {
    pub(crate) shared: Shared<PhoneSession>,
}

#[pymethods]
impl PyPhoneSession {
    #[new]
    #[pyo3(signature = (device_name, now, *, auth_string = None, lsc = None, mic = None, sudi = None, prefer = "lsc", send_certificate_request = false, pending_key = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        device_name: String,
        now: &Bound<'_, PyAny>,
        auth_string: Option<&str>,
        lsc: Option<&Bound<'_, PyAny>>,
        mic: Option<&Bound<'_, PyAny>>,
        sudi: Option<&Bound<'_, PyAny>>,
        prefer: &str,
        send_certificate_request: bool,
        pending_key: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let pending_key = pending_key
            .map(crate::convert::public_key_spki)
            .transpose()?;
        if let Some(spki) = &pending_key {
            capf_core::capf::proof::ProofPublicKey::from_spki_der(spki).map_err(|_| {
                new_error(
                    Kind::Misuse,
                    "pending_key is not an RSA or EC (P-256, P-384, P-521) public key".to_owned(),
                    None,
                )
            })?;
        }
        let credential_error = |error: capf_core::capf::phone::CredentialError| {
            new_error(Kind::Misuse, error.to_string(), None)
        };
        let der = |value: Option<&Bound<'_, PyAny>>| -> PyResult<Option<Vec<u8>>> {
            value
                .map(|v| crate::convert::certificate_der(&crate::convert::certificate_bytes(v)?))
                .transpose()
        };
        let (lsc, mic, sudi) = (der(lsc)?, der(mic)?, der(sudi)?);
        let credentials = match (auth_string, lsc.is_some() || mic.is_some()) {
            (Some(_), true) => {
                return Err(new_error(
                    Kind::Misuse,
                    "give an auth_string or certificates (lsc, mic), not both".to_owned(),
                    None,
                ));
            }
            (Some(digits), false) => {
                PhoneCredentials::AuthString(AuthString::new(digits).map_err(credential_error)?)
            }
            (None, true) => {
                let precedence = match prefer {
                    "lsc" => CertificatePrecedence::LscFirst,
                    "mic" => CertificatePrecedence::MicFirst,
                    _ => {
                        return Err(new_error(
                            Kind::Misuse,
                            "prefer must be \"lsc\" or \"mic\"".to_owned(),
                            None,
                        ));
                    }
                };
                let mut certificates = CertificateCredentials::new(precedence);
                if let Some(der) = lsc {
                    certificates = certificates.with_lsc(der).map_err(credential_error)?;
                }
                if let Some(der) = mic {
                    certificates = certificates.with_mic(der).map_err(credential_error)?;
                }
                if let Some(der) = sudi {
                    certificates = certificates.with_sudi(der).map_err(credential_error)?;
                }
                PhoneCredentials::Certificate(certificates)
            }
            (None, false) if sudi.is_some() => {
                return Err(new_error(
                    Kind::Misuse,
                    "a SUDI certificate goes with an lsc or a mic".to_owned(),
                    None,
                ));
            }
            (None, false) => PhoneCredentials::NullString,
        };
        let mut config = PhoneConfig::new(device_name, credentials)
            .map_err(credential_error)?
            .with_certificate_request(send_certificate_request);
        if let Some(spki) = pending_key {
            config = config.with_pending_key(spki);
        }
        Ok(Self {
            shared: Shared::new(PhoneSession::new(config, timestamp(now)?)),
        })
    }
    /// Bytes from the server (TLS plaintext), in any chunking.
    fn handle_input(&mut self, py: Python<'_>, data: &[u8]) {
        let shared = &self.shared;
        py.detach(|| shared.lock().handle_input(data));
    }
    /// The next output (`Transmit`, `Need` or `Done`), or `None`.
    fn poll_output<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let shared = &self.shared;
        match py.detach(|| shared.lock().poll_output()) {
            Some(item) => output(py, item, phone_decision, phone_outcome).map(Some),
            None => Ok(None),
        }
    }
    /// Time goes in here.
    fn handle_timeout(&mut self, now: &Bound<'_, PyAny>) -> PyResult<()> {
        self.shared.lock().handle_timeout(timestamp(now)?);
        Ok(())
    }
    /// The next deadline (aware UTC datetime), or `None`.
    fn poll_timeout<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.shared
            .lock()
            .poll_timeout()
            .map(|at| datetime(py, at))
            .transpose()
    }
    /// The server closed its side.
    fn handle_peer_closed(&mut self) {
        self.shared.lock().handle_peer_closed();
    }
    /// The transport failed.
    fn handle_transport_error(&mut self) {
        self.shared.lock().handle_transport_error();
    }
    /// True once the session is over.
    fn is_done(&self) -> bool {
        capf_core::session::Session::is_done(&*self.shared.lock())
    }
    /// The kind of the decision the host owes, if any.
    fn pending_decision(&self) -> Option<String> {
        capf_core::session::Session::pending_decision(&*self.shared.lock()).map(kind_name)
    }
    /// Answers `sign_proof` with the signature.
    fn answer_signature(&mut self, py: Python<'_>, signature: Vec<u8>) -> PyResult<()> {
        // The session verifies the signature with the certificate's key.
        let shared = &self.shared;
        py.detach(|| shared.lock().answer_signature(signature))
            .map_err(misuse)
    }
    /// Refuses `sign_proof`.
    fn refuse_signature(&mut self) -> PyResult<()> {
        self.shared.lock().refuse_signature().map_err(misuse)
    }
    /// Answers `generate_key` with the new key's DER SubjectPublicKeyInfo.
    fn answer_key(&mut self, subject_public_key_info: Vec<u8>) -> PyResult<()> {
        self.shared
            .lock()
            .answer_key(subject_public_key_info)
            .map_err(misuse)
    }
    /// Answers `sign_certificate_request` (`decision`) by signing its
    /// request with `key`, the new key's private key (PKCS#8 PEM or DER,
    /// or a `cryptography` private key). A key that is not the one the
    /// phone sent raises `capf.MisuseError` and the decision stays pending.
    fn answer_certificate_request(
        &mut self,
        py: Python<'_>,
        decision: &Bound<'_, Decision>,
        key: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let decision = decision.get();
        let (Some(algorithm), Some(message)) = (decision.request_algorithm, &decision.message)
        else {
            return Err(new_error(
                Kind::Misuse,
                "not a sign_certificate_request decision".to_owned(),
                None,
            ));
        };
        let message = message.bind(py).as_bytes().to_vec();
        let pkcs8 = crate::convert::pkcs8_der(&crate::convert::private_key_bytes(key)?)?;
        let shared = &self.shared;
        py.detach(|| {
            let key = ProofPrivateKey::from_pkcs8_der(&pkcs8).map_err(|error| error.to_string())?;
            let signature =
                sign_certificate_request_info(&key, algorithm, &message, &mut rand_core::OsRng)
                    .map_err(|error| error.to_string())?;
            shared
                .lock()
                .answer_certificate_request_signature(signature)
                .map_err(|error| error.to_string())
        })
        .map_err(|message| new_error(Kind::Misuse, message, None))
    }
    /// Answers `sign_certificate_request` with a signature made elsewhere
    /// (of its `message`, by the new key, with its `algorithm`).
    fn answer_certificate_request_signature(&mut self, signature: Vec<u8>) -> PyResult<()> {
        self.shared
            .lock()
            .answer_certificate_request_signature(signature)
            .map_err(misuse)
    }
    /// Refuses `sign_certificate_request`: the key goes out without a
    /// signed request.
    fn refuse_certificate_request_signature(&mut self) -> PyResult<()> {
        self.shared
            .lock()
            .refuse_certificate_request_signature()
            .map_err(misuse)
    }
    /// Refuses `generate_key` (key generation failed).
    fn refuse_key(&mut self) -> PyResult<()> {
        self.shared.lock().refuse_key().map_err(misuse)
    }
    /// Tells the server the key is still being generated.
    fn repeat_in_progress(&mut self) -> PyResult<()> {
        self.shared.lock().repeat_in_progress().map_err(misuse)
    }
    /// Answers `store_certificate`: stored.
    fn answer_store(&mut self) -> PyResult<()> {
        self.shared.lock().answer_store().map_err(misuse)
    }
    /// Refuses `store_certificate`: not stored.
    fn refuse_store(&mut self) -> PyResult<()> {
        self.shared.lock().refuse_store().map_err(misuse)
    }
    /// Answers `fetch_certificate` with the LSC (DER), or `None`.
    fn answer_fetch(&mut self, certificate: Option<Vec<u8>>) -> PyResult<()> {
        self.shared.lock().answer_fetch(certificate).map_err(misuse)
    }
    /// Answers `delete_certificate`.
    fn answer_delete(&mut self, deleted: bool) -> PyResult<()> {
        self.shared.lock().answer_delete(deleted).map_err(misuse)
    }
}

fn credential_name(credential: ProofCredential) -> &'static str {
    match credential {
        ProofCredential::Lsc => "lsc",
        ProofCredential::Mic => "mic",
        _ => "sudi",
    }
}

fn hash_name(hash: ProofHash) -> &'static str {
    match hash {
        ProofHash::Sha1 => "sha1",
        _ => "sha512",
    }
}

fn proof_credential(name: &str) -> PyResult<ProofCredential> {
    match name {
        "lsc" => Ok(ProofCredential::Lsc),
        "mic" => Ok(ProofCredential::Mic),
        "sudi" => Ok(ProofCredential::Sudi),
        _ => Err(new_error(
            Kind::Misuse,
            "credential must be \"lsc\", \"mic\" or \"sudi\"".to_owned(),
            None,
        )),
    }
}

fn proof_hash(name: &str) -> PyResult<ProofHash> {
    match name {
        "sha1" => Ok(ProofHash::Sha1),
        "sha512" => Ok(ProofHash::Sha512),
        _ => Err(new_error(
            Kind::Misuse,
            "hash must be \"sha1\" or \"sha512\"".to_owned(),
            None,
        )),
    }
}

/// The in-process signer of a phone's proofs (capf-core's
/// `SoftwareSigner`): private keys held in this process. A host with a
/// keystore answers ``sign_proof`` itself instead (any callable that signs
/// the decision's `digest` as its `hash` and `credential` say, then
/// `answer_signature`).
#[pyclass(module = "capf._native", name = "SoftwareSigner")]
pub struct PySoftwareSigner {
    inner: std::sync::Mutex<Option<SoftwareSigner>>,
}

impl PySoftwareSigner {
    fn with<T>(&self, f: impl FnOnce(&mut SoftwareSigner) -> T) -> PyResult<T> {
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard
            .as_mut()
            .map(f)
            .ok_or_else(|| new_error(Kind::Misuse, "the signer is unusable".to_owned(), None))
    }
}

#[pymethods]
impl PySoftwareSigner {
    #[new]
    fn new() -> Self {
        Self {
            inner: std::sync::Mutex::new(Some(SoftwareSigner::new(Box::new(rand_core::OsRng)))),
        }
    }
    /// Adds the private key of `credential` (``"lsc"``, ``"mic"``,
    /// ``"sudi"``) for `certificate`: PKCS #8 PEM or DER, PKCS #1 RSA PEM,
    /// or a `cryptography` key. Checked against the certificate's key
    /// kind. Returns the signer.
    fn add_key<'py>(
        slf: PyRef<'py, Self>,
        credential: &str,
        certificate: &Bound<'py, PyAny>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<PyRef<'py, Self>> {
        let credential = proof_credential(credential)?;
        let certificate =
            crate::convert::certificate_der(&crate::convert::certificate_bytes(certificate)?)?;
        let pkcs8 = crate::convert::pkcs8_der(&crate::convert::private_key_bytes(key)?)?;
        let key = ProofPrivateKey::from_pkcs8_der(&pkcs8).map_err(|_| {
            new_error(
                Kind::Misuse,
                "the private key is not an RSA or EC (P-256/384/521) PKCS #8 key".to_owned(),
                None,
            )
        })?;
        {
            let mut guard = slf
                .inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let signer = guard.take().ok_or_else(|| {
                new_error(Kind::Misuse, "the signer is unusable".to_owned(), None)
            })?;
            match signer.with_key(credential, &certificate, Box::new(key)) {
                Ok(signer) => *guard = Some(signer),
                Err(error) => {
                    // with_key consumed the signer: start again empty
                    // rather than leave it unusable.
                    *guard = Some(SoftwareSigner::new(Box::new(rand_core::OsRng)));
                    return Err(new_error(Kind::Misuse, error.to_string(), None));
                }
            }
        }
        Ok(slf)
    }
    /// Signs `digest` (of a proof hashed with `hash`: ``"sha1"`` or
    /// ``"sha512"``) with the key of `credential`. The GIL is released.
    fn sign<'py>(
        &self,
        py: Python<'py>,
        credential: &str,
        hash: &str,
        digest: Vec<u8>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let credential = proof_credential(credential)?;
        let hash = proof_hash(hash)?;
        let signed = py.detach(|| self.with(|signer| signer.sign(credential, hash, &digest)))?;
        let signature = signed.map_err(|error| new_error(Kind::Misuse, error.to_string(), None))?;
        Ok(PyBytes::new(py, &signature))
    }
    /// Answers `decision` on `session` when it is ``sign_proof``: the
    /// signature, or a refusal when this signer holds no usable key for
    /// it. Returns False (and does nothing) for any other decision.
    fn answer(
        &self,
        py: Python<'_>,
        session: &Bound<'_, PyPhoneSession>,
        decision: &Bound<'_, Decision>,
    ) -> PyResult<bool> {
        let d = decision.get();
        let (Some(credential), Some(hash), Some(digest)) = (d.credential, d.hash, &d.digest) else {
            return Ok(false);
        };
        if d.kind != "sign_proof" {
            return Ok(false);
        }
        let credential = proof_credential(credential)?;
        let hash = proof_hash(hash)?;
        let digest = digest.bind(py).as_bytes().to_vec();
        let signed = py.detach(|| self.with(|signer| signer.sign(credential, hash, &digest)))?;
        let mut session = session.borrow_mut();
        match signed {
            Ok(signature) => session.answer_signature(py, signature)?,
            Err(_) => session.refuse_signature()?,
        }
        Ok(true)
    }
    fn __repr__(&self) -> PyResult<String> {
        self.with(|signer| format!("{signer:?}"))
    }
}

/// A new authentication string of `digits` digits (4 to 10), drawn
/// uniformly from the operating system's random generator by the library's
/// generator (`capf_core::capf::server::generate_auth_string`).
#[pyfunction]
#[pyo3(signature = (digits = 6))]
pub fn generate_auth_string(digits: usize) -> PyResult<String> {
    capf_core::capf::server::generate_auth_string(&mut rand_core::OsRng, digits)
        .map(|generated| generated.expose().to_owned())
        .map_err(|error| new_error(Kind::Misuse, error.to_string(), None))
}

/// The DER SubjectPublicKeyInfo of a certificate (PEM or DER).
#[pyfunction]
pub fn subject_public_key_info<'py>(
    py: Python<'py>,
    certificate: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let cert = crate::convert::certificate(&crate::convert::certificate_bytes(certificate)?)?;
    let spki = crate::errors::FileResultExt::py_err(cert.subject_public_key_info_der())?;
    Ok(PyBytes::new(py, &spki))
}

// ---- TVS --------------------------------------------------------------------

/// How a TVS session (server or client) ended.
#[pyclass(module = "capf._native", frozen, name = "TvsOutcome")]
pub struct TvsOutcomeInfo {
    /// The request's session id, when known.
    #[pyo3(get)]
    session_id: Option<u32>,
    /// The device that asked (server side), when it passed the check.
    #[pyo3(get)]
    device_name: Option<String>,
    /// ``"valid"``, ``"invalid"``, ``"silent_close"`` (server), ``"no_answer"``,
    /// ``"timed_out"``, ``"transport_failed"``, ``"protocol_error"`` (client).
    #[pyo3(get)]
    result: String,
    roles: Vec<u16>,
    /// Seconds the verdict may be cached (``"valid"``), when sent.
    #[pyo3(get)]
    ttl: Option<u32>,
    /// Why (``"unknown"``, ``"revoked"``… for ``"invalid"`` on the server;
    /// the close or protocol error otherwise), when there is one.
    #[pyo3(get)]
    reason: Option<String>,
}

#[pymethods]
impl TvsOutcomeInfo {
    /// The roles granted (``"valid"``) as `capf.Role`, ascending on the
    /// server side.
    #[getter]
    fn roles<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let cls = crate::files::role_class(py)?;
        self.roles.iter().map(|code| cls.call1((*code,))).collect()
    }
    fn __repr__(&self) -> String {
        format!(
            "TvsOutcome(result={:?}, roles={:?}, ttl={:?})",
            self.result, self.roles, self.ttl
        )
    }
}

pub(crate) fn tvs_server_outcome(
    py: Python<'_>,
    outcome: TvsServerOutcome,
) -> PyResult<Bound<'_, PyAny>> {
    let (roles, ttl, reason) = match &outcome.result {
        TvsServerResult::Valid { roles, ttl } => (
            roles.iter().map(|role| role.code()).collect(),
            Some(*ttl),
            None,
        ),
        TvsServerResult::Invalid(why) => {
            (Vec::new(), None, Some(variant_name(&format!("{why:?}"))))
        }
        TvsServerResult::SilentClose(why) => (Vec::new(), None, Some(why.to_string())),
        _ => (Vec::new(), None, None),
    };
    Ok(Bound::new(
        py,
        TvsOutcomeInfo {
            session_id: outcome.session_id,
            device_name: outcome.device_name.clone(),
            result: variant_name(&format!("{:?}", outcome.result)),
            roles,
            ttl,
            reason,
        },
    )?
    .into_any())
}

pub(crate) fn tvs_client_outcome(
    py: Python<'_>,
    outcome: TvsClientOutcome,
) -> PyResult<Bound<'_, PyAny>> {
    let (roles, ttl, reason) = match &outcome.result {
        TvsClientResult::Valid { roles, ttl } => {
            (roles.iter().map(|role| role.code()).collect(), *ttl, None)
        }
        TvsClientResult::ProtocolError(why) => (Vec::new(), None, Some(why.to_string())),
        _ => (Vec::new(), None, None),
    };
    Ok(Bound::new(
        py,
        TvsOutcomeInfo {
            session_id: Some(outcome.session_id),
            device_name: None,
            result: variant_name(&format!("{:?}", outcome.result)),
            roles,
            ttl,
            reason,
        },
    )?
    .into_any())
}

pub(crate) fn tvs_server_decision(
    py: Python<'_>,
    d: TvsServerDecision,
) -> PyResult<Bound<'_, PyAny>> {
    let mut out = decision(DecisionKind::LookUpCertificate);
    if let TvsServerDecision::LookUpCertificate {
        certificate_sha256,
        device_name,
        certificate_der,
    } = d
    {
        out.device_name = Some(device_name);
        out.certificate = Some(bytes(py, &certificate_der));
        out.digest = Some(bytes(py, &certificate_sha256));
    }
    Ok(Bound::new(py, out)?.into_any())
}

/// The TVS server side of one connection: one VERIFY_REQUEST, one answer.
#[pyclass(module = "capf._native", name = "TvsServerSession")]
pub struct PyTvsServerSession {
    pub(crate) shared: Shared<TvsServerSession>,
}

#[pymethods]
impl PyTvsServerSession {
    #[new]
    #[pyo3(signature = (now, *, refuse_expired = false))]
    fn new(now: &Bound<'_, PyAny>, refuse_expired: bool) -> PyResult<Self> {
        let mut config = TvsServerConfig::default();
        config.refuse_expired = refuse_expired;
        Ok(Self {
            shared: Shared::new(TvsServerSession::new(config, timestamp(now)?)),
        })
    }
    /// Bytes from the phone (TLS plaintext), in any chunking.
    fn handle_input(&mut self, py: Python<'_>, data: &[u8]) {
        let shared = &self.shared;
        py.detach(|| shared.lock().handle_input(data));
    }
    /// The next output (`Transmit`, `Need` or `Done`), or `None`.
    fn poll_output<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let shared = &self.shared;
        match py.detach(|| shared.lock().poll_output()) {
            Some(item) => output(py, item, tvs_server_decision, tvs_server_outcome).map(Some),
            None => Ok(None),
        }
    }
    /// Time goes in here.
    fn handle_timeout(&mut self, now: &Bound<'_, PyAny>) -> PyResult<()> {
        self.shared.lock().handle_timeout(timestamp(now)?);
        Ok(())
    }
    /// The next deadline (aware UTC datetime), or `None`.
    fn poll_timeout<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.shared
            .lock()
            .poll_timeout()
            .map(|at| datetime(py, at))
            .transpose()
    }
    /// The phone closed its side.
    fn handle_peer_closed(&mut self) {
        self.shared.lock().handle_peer_closed();
    }
    /// The transport failed.
    fn handle_transport_error(&mut self) {
        self.shared.lock().handle_transport_error();
    }
    /// True once the session is over.
    fn is_done(&self) -> bool {
        self.shared.lock().is_done()
    }
    /// The kind of the decision the host owes, if any.
    fn pending_decision(&self) -> Option<String> {
        self.shared.lock().pending_decision().map(kind_name)
    }
    /// Answers `look_up_certificate`: `roles` (role codes or `capf.Role`)
    /// and `ttl` for a registered certificate, `None` roles for an unknown
    /// one; `revoked` answers STATUS 1.
    #[pyo3(signature = (roles, ttl = 3600, *, revoked = false))]
    fn answer_lookup(&mut self, roles: Option<Vec<u16>>, ttl: u32, revoked: bool) -> PyResult<()> {
        let known = roles.map(|codes| {
            let roles = codes.into_iter().map(Role::from_code).collect();
            if revoked {
                KnownCertificate::revoked(roles, ttl)
            } else {
                KnownCertificate::new(roles, ttl)
            }
        });
        self.shared.lock().answer_lookup(known).map_err(misuse)
    }
}

/// The phone side of a TVS query: asks whether `certificate` (DER) is
/// trusted; `device_name` is `CP-<model>-SEP<MAC>`.
#[pyclass(module = "capf._native", name = "TvsClientSession")]
pub struct PyTvsClientSession {
    pub(crate) shared: Shared<TvsClientSession>,
}

#[pymethods]
impl PyTvsClientSession {
    #[new]
    fn new(
        session_id: u32,
        device_name: String,
        certificate: Vec<u8>,
        now: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let config = TvsClientConfig::new(session_id, device_name, certificate);
        TvsClientSession::new(config, timestamp(now)?)
            .map(|session| Self {
                shared: Shared::new(session),
            })
            .map_err(|error| new_error(Kind::Misuse, error.to_string(), None))
    }
    /// Bytes from the server (TLS plaintext), in any chunking.
    fn handle_input(&mut self, py: Python<'_>, data: &[u8]) {
        let shared = &self.shared;
        py.detach(|| shared.lock().handle_input(data));
    }
    /// The next output (`Transmit` or `Done`), or `None`.
    fn poll_output<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let shared = &self.shared;
        match py.detach(|| shared.lock().poll_output()) {
            Some(item) => output(
                py,
                item,
                |_, _: TvsClientDecision| {
                    Err(new_error(
                        Kind::Protocol,
                        "the TVS client has no decisions".to_owned(),
                        None,
                    ))
                },
                tvs_client_outcome,
            )
            .map(Some),
            None => Ok(None),
        }
    }
    /// Time goes in here.
    fn handle_timeout(&mut self, now: &Bound<'_, PyAny>) -> PyResult<()> {
        self.shared.lock().handle_timeout(timestamp(now)?);
        Ok(())
    }
    /// The next deadline (aware UTC datetime), or `None`.
    fn poll_timeout<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.shared
            .lock()
            .poll_timeout()
            .map(|at| datetime(py, at))
            .transpose()
    }
    /// The server closed its side.
    fn handle_peer_closed(&mut self) {
        self.shared.lock().handle_peer_closed();
    }
    /// The transport failed.
    fn handle_transport_error(&mut self) {
        self.shared.lock().handle_transport_error();
    }
    /// True once the session is over.
    fn is_done(&self) -> bool {
        self.shared.lock().is_done()
    }
    /// Always `None`: the TVS client asks its host nothing.
    fn pending_decision(&self) -> Option<String> {
        self.shared.lock().pending_decision().map(kind_name)
    }
}

/// Generates a key of the kind a CAPF server asks for (``"rsa:2048"``,
/// ``"ec:p256"`` …), as a phone does when it answers `generate_key`:
/// returns (DER SubjectPublicKeyInfo, PKCS #8 private key PEM). The key
/// comes from the operating system's random generator; the GIL is released.
#[pyfunction]
pub fn generate_key<'py>(
    py: Python<'py>,
    key_request: &str,
) -> PyResult<(Bound<'py, PyBytes>, String)> {
    use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let request = self::key_request(key_request)?;
    let made = py.detach(|| -> Option<(Vec<u8>, String)> {
        let mut rng = rand_core::OsRng;
        match request {
            KeyRequest::Rsa { bits } => {
                let key = rsa::RsaPrivateKey::new(&mut rng, usize::from(bits)).ok()?;
                let spki = key.to_public_key().to_public_key_der().ok()?;
                let pem = key.to_pkcs8_pem(LineEnding::LF).ok()?;
                Some((spki.as_bytes().to_vec(), pem.to_string()))
            }
            KeyRequest::Ec(Curve::P256) => {
                let key = p256::SecretKey::random(&mut rng);
                let spki = key.public_key().to_public_key_der().ok()?;
                let pem = key.to_pkcs8_pem(LineEnding::LF).ok()?;
                Some((spki.as_bytes().to_vec(), pem.to_string()))
            }
            KeyRequest::Ec(Curve::P384) => {
                let key = p384::SecretKey::random(&mut rng);
                let spki = key.public_key().to_public_key_der().ok()?;
                let pem = key.to_pkcs8_pem(LineEnding::LF).ok()?;
                Some((spki.as_bytes().to_vec(), pem.to_string()))
            }
            KeyRequest::Ec(Curve::P521) => {
                let key = p521::SecretKey::random(&mut rng);
                let spki = key.public_key().to_public_key_der().ok()?;
                let pem = key.to_pkcs8_pem(LineEnding::LF).ok()?;
                Some((spki.as_bytes().to_vec(), pem.to_string()))
            }
            _ => None,
        }
    });
    let (spki, pem) = made.ok_or_else(|| {
        new_error(
            Kind::Misuse,
            format!("cannot generate a {request} key"),
            None,
        )
    })?;
    Ok((PyBytes::new(py, &spki), pem))
}
