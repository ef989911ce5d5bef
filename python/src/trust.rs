//! Trust from Python: stores, `evaluate` with its explained verdict,
//! trust-list rollover prediction, and the trust-list builder that signs.
//!
//! Chain checks, rollover predictions and signing run with the GIL released.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use capf_core::rollover::{
    Acceptance, CandidateList, InstalledLists, InstalledRecord, Prediction, RolloverVerdict,
    TvsKnowledge, kind_from_filename, predict,
};
use capf_core::trust::{
    CapfCredential, EvaluationOptions, Purpose, ServerRole, SignedFileKind, StoreKind, TrustStore,
    Verdict, evaluate_with,
};
use ctl_format::trust_list::{RecordEntry, RecordLayout, Role, TrustListBuilder, TrustListKind};
use ctl_format::{NameStyle, RsaFileSigner, TrustList};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyType};

use crate::convert::{
    certificate_bytes, certificate_der, certificate_list, private_key_bytes, rsa_private_key,
};
use crate::errors::{FileResultExt, Kind, new_error};
use crate::files::{PyTrustList, hash_algorithm, policy, read_file, role_class};
use crate::sessions::{datetime, timestamp};

fn misuse(message: impl Into<String>) -> PyErr {
    new_error(Kind::Misuse, message.into(), None)
}

fn roles<'py>(py: Python<'py>, roles: &[Role]) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let cls = role_class(py)?;
    roles.iter().map(|role| cls.call1((role.code(),))).collect()
}

fn store_kind(name: &str) -> PyResult<StoreKind> {
    name.parse::<StoreKind>()
        .map_err(|error| misuse(error.to_string()))
}

fn trust_list_kind(name: &str) -> PyResult<TrustListKind> {
    match name.to_ascii_lowercase().as_str() {
        "ctl" => Ok(TrustListKind::Ctl),
        "itl" => Ok(TrustListKind::Itl),
        _ => Err(misuse("kind must be \"ctl\" or \"itl\"")),
    }
}

fn trust_list_kind_name(kind: TrustListKind) -> &'static str {
    match kind {
        TrustListKind::Itl => "ITL",
        _ => "CTL",
    }
}

fn store_error(error: capf_core::trust::StoreError) -> PyErr {
    new_error(Kind::Malformed, error.to_string(), None)
}

fn unix_datetime(py: Python<'_>, seconds: u64) -> PyResult<Bound<'_, PyAny>> {
    datetime(
        py,
        capf_core::time::Timestamp::from_unix_seconds(seconds.min(253_402_300_799)),
    )
}

// ---- stores -----------------------------------------------------------------

/// One certificate of a trust store, with its roles.
#[pyclass(module = "capf._native", frozen, name = "StoreEntry")]
pub struct PyStoreEntry {
    der: Vec<u8>,
    roles: Vec<Role>,
    subject: String,
    sha256: [u8; 32],
}

#[pymethods]
impl PyStoreEntry {
    /// The certificate, DER.
    #[getter]
    fn certificate<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.der)
    }
    /// Its roles in the store (`capf.Role`).
    #[getter]
    fn roles<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        roles(py, &self.roles)
    }
    /// Subject name (certutils style).
    #[getter]
    fn subject(&self) -> String {
        self.subject.clone()
    }
    /// SHA-256 of the DER.
    #[getter]
    fn sha256<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.sha256)
    }
    fn __repr__(&self) -> String {
        format!("StoreEntry(subject={:?})", self.subject)
    }
}

/// A trust store: a kind (``"ctl"``, ``"itl"``, ``"capf-trust"``,
/// ``"callmanager-trust"``, ``"phone-sast-trust"``, ``"manufacturing"``,
/// ``"enterprise"``, ``"pem"``), a name, certificates with roles and
/// revocation data.
#[pyclass(module = "capf._native", name = "TrustStore")]
pub struct PyTrustStore {
    inner: TrustStore,
}

#[pymethods]
impl PyTrustStore {
    /// An empty store.
    #[new]
    fn new(kind: &str, name: String) -> PyResult<Self> {
        Ok(Self {
            inner: TrustStore::new(store_kind(kind)?, name),
        })
    }
    /// A store from a file's bytes, read as `kind` is kept: a CTL/ITL for
    /// ``"ctl"``/``"itl"`` (parsed, not verified), otherwise DER or PEM
    /// certificates.
    #[classmethod]
    fn from_bytes(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        kind: &str,
        name: String,
        data: Vec<u8>,
    ) -> PyResult<Self> {
        let kind = store_kind(kind)?;
        py.detach(|| TrustStore::from_file_bytes(kind, name, &data))
            .map(|inner| Self { inner })
            .map_err(store_error)
    }
    /// A store read from a file (as `from_bytes`), named by its path.
    #[classmethod]
    fn from_file(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        kind: &str,
        path: PathBuf,
    ) -> PyResult<Self> {
        let kind = store_kind(kind)?;
        let name = path.display().to_string();
        let data = read_file(py, path)?;
        py.detach(|| TrustStore::from_file_bytes(kind, name, &data))
            .map(|inner| Self { inner })
            .map_err(store_error)
    }
    /// A store from a parsed `TrustList`, each record with its role.
    #[classmethod]
    #[pyo3(signature = (trust_list, *, kind = "ctl", name = None))]
    fn from_trust_list(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        trust_list: &Bound<'_, PyTrustList>,
        kind: &str,
        name: Option<String>,
    ) -> PyResult<Self> {
        let kind = store_kind(kind)?;
        let owned = &trust_list.get().inner;
        py.detach(|| {
            let list = TrustList::parse(owned.bytes()).py_err()?;
            let name = name.unwrap_or_else(|| {
                list.header()
                    .filename
                    .map_or_else(|| kind.cli_name().to_owned(), |f| f.to_string())
            });
            TrustStore::from_trust_list(kind, name, &list)
                .map(|inner| Self { inner })
                .map_err(store_error)
        })
    }
    /// Adds a certificate (PEM, DER or `cryptography`) with roles.
    #[pyo3(signature = (certificate, roles = Vec::new()))]
    fn add_certificate(&mut self, certificate: &Bound<'_, PyAny>, roles: Vec<u16>) -> PyResult<()> {
        let der = certificate_der(&certificate_bytes(certificate)?)?;
        let roles: Vec<Role> = roles.into_iter().map(Role::from_code).collect();
        self.inner
            .add_certificate(&der, &roles)
            .map_err(store_error)
    }
    /// Revokes a certificate (by its SHA-256 and its issuer and serial).
    fn revoke_certificate(&mut self, certificate: &Bound<'_, PyAny>) -> PyResult<()> {
        let der = certificate_der(&certificate_bytes(certificate)?)?;
        self.inner
            .revocations_mut()
            .revoke_certificate(&der)
            .map_err(store_error)
    }
    /// Adds a CRL (DER).
    fn add_crl(&mut self, crl: Vec<u8>) -> PyResult<()> {
        self.inner
            .revocations_mut()
            .add_crl_der(&crl)
            .map_err(store_error)
    }
    /// The kind, as its command-line name (``"ctl"``, ``"capf-trust"`` …).
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind().cli_name()
    }
    /// The name (usually the file it came from).
    #[getter]
    fn name(&self) -> String {
        self.inner.name().to_owned()
    }
    /// The certificates with their roles.
    #[getter]
    fn entries(&self) -> Vec<PyStoreEntry> {
        self.inner
            .entries()
            .iter()
            .map(|entry| PyStoreEntry {
                der: entry.der().to_vec(),
                roles: entry.roles().to_vec(),
                subject: entry.subject().to_owned(),
                sha256: entry.sha256(),
            })
            .collect()
    }
    fn __len__(&self) -> usize {
        self.inner.entries().len()
    }
    fn __repr__(&self) -> String {
        format!(
            "TrustStore(kind={:?}, name={:?}, certificates={})",
            self.inner.kind().cli_name(),
            self.inner.name(),
            self.inner.entries().len()
        )
    }
}

// ---- purposes ---------------------------------------------------------------

fn server_role(name: &str) -> PyResult<ServerRole> {
    match name.to_ascii_lowercase().as_str() {
        "ccm" | "callmanager" => Ok(ServerRole::CallManager),
        "tftp" => Ok(ServerRole::Tftp),
        "capf" => Ok(ServerRole::Capf),
        "tvs" => Ok(ServerRole::Tvs),
        "app-server" | "app_server" => Ok(ServerRole::ApplicationServer),
        _ => Err(misuse(
            "role must be \"ccm\", \"tftp\", \"capf\", \"tvs\" or \"app-server\"",
        )),
    }
}

/// What a chain is evaluated for; make one with the static methods.
#[pyclass(module = "capf._native", frozen, name = "Purpose")]
pub struct PyPurpose {
    inner: Purpose,
}

#[pymethods]
impl PyPurpose {
    /// A TLS server for `role` (``"ccm"``, ``"tftp"``, ``"capf"``,
    /// ``"tvs"``, ``"app-server"``); `host` is checked on CA paths.
    #[staticmethod]
    #[pyo3(signature = (role, host = None))]
    fn tls_server(role: &str, host: Option<String>) -> PyResult<Self> {
        Ok(Self {
            inner: Purpose::TlsServer {
                role: server_role(role)?,
                host,
            },
        })
    }
    /// The phone's own HTTPS page, opened by a browser.
    #[staticmethod]
    #[pyo3(signature = (host = None))]
    fn phone_web_server(host: Option<String>) -> Self {
        Self {
            inner: Purpose::PhoneWebServer { host },
        }
    }
    /// A phone's client certificate checked by a server.
    #[staticmethod]
    #[pyo3(signature = (device = None))]
    fn tls_client(device: Option<String>) -> Self {
        Self {
            inner: Purpose::TlsClient { device },
        }
    }
    /// The signer of a file a phone downloads: ``"config"`` or
    /// ``"trust-list"``.
    #[staticmethod]
    fn file_signer(file: &str) -> PyResult<Self> {
        let file = match file {
            "config" => SignedFileKind::ConfigFile,
            "trust-list" | "trust_list" => SignedFileKind::TrustList,
            _ => return Err(misuse("file must be \"config\" or \"trust-list\"")),
        };
        Ok(Self {
            inner: Purpose::FileSigner { file },
        })
    }
    /// CAPF authentication with a ``"mic"`` or an ``"lsc"``.
    #[staticmethod]
    #[pyo3(signature = (credential, device = None))]
    fn capf_authentication(credential: &str, device: Option<String>) -> PyResult<Self> {
        let credential = match credential.to_ascii_lowercase().as_str() {
            "mic" => CapfCredential::Mic,
            "lsc" => CapfCredential::Lsc,
            _ => return Err(misuse("credential must be \"mic\" or \"lsc\"")),
        };
        Ok(Self {
            inner: Purpose::CapfAuthentication { credential, device },
        })
    }
    /// The store kinds that answer for this purpose.
    fn store_kinds(&self) -> Vec<&'static str> {
        self.inner
            .store_kinds()
            .into_iter()
            .map(StoreKind::cli_name)
            .collect()
    }
    fn __str__(&self) -> String {
        self.inner.to_string()
    }
    fn __repr__(&self) -> String {
        format!("Purpose({:?})", self.inner.to_string())
    }
}

// ---- verdicts ---------------------------------------------------------------

/// One certificate of a chain, described.
#[pyclass(module = "capf._native", frozen, name = "ChainCertificate")]
pub struct PyChainCertificate {
    /// Subject, RFC 4514 style.
    #[pyo3(get)]
    subject: String,
    /// Issuer, RFC 4514 style.
    #[pyo3(get)]
    issuer: String,
    /// Serial number, hex.
    #[pyo3(get)]
    serial: String,
    sha256: [u8; 32],
    not_before: u64,
    not_after: u64,
}

#[pymethods]
impl PyChainCertificate {
    /// SHA-256 of the DER.
    #[getter]
    fn sha256<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.sha256)
    }
    /// notBefore (aware UTC datetime).
    #[getter]
    fn not_before<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        unix_datetime(py, self.not_before)
    }
    /// notAfter (aware UTC datetime).
    #[getter]
    fn not_after<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        unix_datetime(py, self.not_after)
    }
    fn __repr__(&self) -> String {
        format!("ChainCertificate(subject={:?})", self.subject)
    }
}

/// The anchor a trusted chain ends at.
#[pyclass(module = "capf._native", frozen, name = "Anchor")]
pub struct PyAnchor {
    /// Subject, RFC 4514 style.
    #[pyo3(get)]
    subject: String,
    sha256: [u8; 32],
    /// Kind of the store holding it (``"ctl"``, ``"capf-trust"`` …).
    #[pyo3(get)]
    store_kind: &'static str,
    /// Name of the store holding it.
    #[pyo3(get)]
    store_name: String,
    /// True when the presented certificate itself is the anchor.
    #[pyo3(get)]
    pinned: bool,
}

#[pymethods]
impl PyAnchor {
    /// SHA-256 of the anchor's DER.
    #[getter]
    fn sha256<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.sha256)
    }
    fn __repr__(&self) -> String {
        format!(
            "Anchor(subject={:?}, store={:?}, pinned={})",
            self.subject, self.store_name, self.pinned
        )
    }
}

/// Why a chain is not trusted: the reason, what exactly, and the fix.
#[pyclass(module = "capf._native", frozen, name = "Failure")]
pub struct PyFailure {
    /// Machine name: ``"expired"``, ``"wrong-role"``, ``"unknown-issuer"`` …
    #[pyo3(get)]
    reason: &'static str,
    /// What exactly failed, naming the certificate.
    #[pyo3(get)]
    detail: String,
    /// One sentence for the administrator.
    #[pyo3(get)]
    fix: String,
    /// Kind of the store the failure came from, if one.
    #[pyo3(get)]
    store_kind: Option<&'static str>,
    /// Name of the store the failure came from, if one.
    #[pyo3(get)]
    store_name: Option<String>,
    text: String,
}

#[pymethods]
impl PyFailure {
    fn __str__(&self) -> String {
        self.text.clone()
    }
    fn __repr__(&self) -> String {
        format!("Failure(reason={:?})", self.reason)
    }
}

/// The evaluator's explained answer.
#[pyclass(module = "capf._native", frozen, name = "Verdict")]
pub struct PyVerdict {
    /// Trusted for the purpose.
    #[pyo3(get)]
    trusted: bool,
    /// The purpose asked, in words.
    #[pyo3(get)]
    purpose: String,
    anchor: Option<Py<PyAnchor>>,
    roles: Vec<Role>,
    chain: Vec<Py<PyChainCertificate>>,
    failure: Option<Py<PyFailure>>,
    /// Remarks that do not change the answer.
    #[pyo3(get)]
    notes: Vec<String>,
    text: String,
}

#[pymethods]
impl PyVerdict {
    /// The anchor, when a path was found.
    #[getter]
    fn anchor(&self, py: Python<'_>) -> Option<Py<PyAnchor>> {
        self.anchor.as_ref().map(|a| a.clone_ref(py))
    }
    /// The roles the anchor (or, for a pin, the certificate) has.
    #[getter]
    fn roles<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        roles(py, &self.roles)
    }
    /// The chain as built (leaf first), or as presented.
    #[getter]
    fn chain(&self, py: Python<'_>) -> Vec<Py<PyChainCertificate>> {
        self.chain.iter().map(|c| c.clone_ref(py)).collect()
    }
    /// Why not, when not trusted.
    #[getter]
    fn failure(&self, py: Python<'_>) -> Option<Py<PyFailure>> {
        self.failure.as_ref().map(|f| f.clone_ref(py))
    }
    /// The failure's machine reason, when not trusted.
    #[getter]
    fn reason(&self) -> Option<&'static str> {
        self.failure.as_ref().map(|f| f.get().reason)
    }
    /// The fix sentence, when not trusted.
    #[getter]
    fn fix(&self) -> Option<String> {
        self.failure.as_ref().map(|f| f.get().fix.clone())
    }
    fn __str__(&self) -> String {
        self.text.clone()
    }
    fn __repr__(&self) -> String {
        format!(
            "Verdict(trusted={}, reason={:?})",
            if self.trusted { "True" } else { "False" },
            self.failure.as_ref().map(|f| f.get().reason)
        )
    }
}

fn verdict(py: Python<'_>, verdict: Verdict) -> PyResult<PyVerdict> {
    let text = verdict.to_string();
    let anchor = match verdict.anchor {
        Some(anchor) => Some(Py::new(
            py,
            PyAnchor {
                subject: anchor.subject,
                sha256: anchor.sha256,
                store_kind: anchor.store.kind.cli_name(),
                store_name: anchor.store.name,
                pinned: anchor.pinned,
            },
        )?),
        None => None,
    };
    let chain = verdict
        .chain
        .into_iter()
        .map(|c| {
            Py::new(
                py,
                PyChainCertificate {
                    subject: c.subject,
                    issuer: c.issuer,
                    serial: c.serial,
                    sha256: c.sha256,
                    not_before: c.not_before,
                    not_after: c.not_after,
                },
            )
        })
        .collect::<PyResult<Vec<_>>>()?;
    let failure = match verdict.failure {
        Some(failure) => {
            let text = failure.to_string();
            Some(Py::new(
                py,
                PyFailure {
                    reason: failure.reason.name(),
                    detail: failure.detail,
                    fix: failure.fix,
                    store_kind: failure.store.as_ref().map(|s| s.kind.cli_name()),
                    store_name: failure.store.map(|s| s.name),
                    text,
                },
            )?)
        }
        None => None,
    };
    Ok(PyVerdict {
        trusted: verdict.trusted,
        purpose: verdict.purpose.to_string(),
        anchor,
        roles: verdict.roles,
        chain,
        failure,
        notes: verdict.notes,
        text,
    })
}

/// Evaluates `chain` (one certificate or a list, leaf first; PEM, DER or
/// `cryptography`) for `purpose` against `stores` at `now`. Returns the
/// explained `Verdict`; never raises for an untrusted chain (a malformed
/// certificate is the verdict's ``"malformed"`` reason).
#[pyfunction]
#[pyo3(signature = (chain, purpose, stores, now, *, max_chain_length = 4, allow_expired_mic = false, check_pinned_validity = false, skip_validity = false))]
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    py: Python<'_>,
    chain: &Bound<'_, PyAny>,
    purpose: &Bound<'_, PyPurpose>,
    stores: Vec<PyRef<'_, PyTrustStore>>,
    now: &Bound<'_, PyAny>,
    max_chain_length: usize,
    allow_expired_mic: bool,
    check_pinned_validity: bool,
    skip_validity: bool,
) -> PyResult<PyVerdict> {
    let presented = certificate_list(chain)?;
    // PEM in, DER to the evaluator; bytes that are not a certificate go
    // through as they are, for the verdict to name.
    let chain: Vec<Vec<u8>> = presented
        .into_iter()
        .map(|bytes| certificate_der(&bytes).unwrap_or(bytes))
        .collect();
    let stores: Vec<TrustStore> = stores.iter().map(|s| s.inner.clone()).collect();
    let purpose = purpose.get().inner.clone();
    let now = timestamp(now)?;
    let mut options = EvaluationOptions::default();
    options.max_chain_length = max_chain_length;
    options.allow_expired_mic = allow_expired_mic;
    options.check_pinned_validity = check_pinned_validity;
    options.skip_validity = skip_validity;
    let result = py.detach(|| evaluate_with(&chain, &purpose, &stores, now, &options));
    verdict(py, result)
}

// ---- rollover ---------------------------------------------------------------

/// What a TVS server would answer about certificates (for rollover
/// predictions).
#[pyclass(module = "capf._native", name = "TvsKnowledge")]
pub struct PyTvsKnowledge {
    inner: TvsKnowledge,
}

#[pymethods]
impl PyTvsKnowledge {
    #[new]
    fn new() -> Self {
        Self {
            inner: TvsKnowledge::new(),
        }
    }
    /// TVS knows `certificate` with `roles` (and has revoked it, if
    /// `revoked`).
    #[pyo3(signature = (certificate, roles, *, revoked = false))]
    fn insert(
        &mut self,
        certificate: &Bound<'_, PyAny>,
        roles: Vec<u16>,
        revoked: bool,
    ) -> PyResult<()> {
        let der = certificate_der(&certificate_bytes(certificate)?)?;
        let roles = roles.into_iter().map(Role::from_code).collect();
        self.inner.insert(&der, roles, revoked);
        Ok(())
    }
    fn __len__(&self) -> usize {
        self.inner.len()
    }
}

/// A record of an installed list that a rollover decision went through.
#[pyclass(module = "capf._native", frozen, name = "InstalledRecord")]
pub struct PyInstalledRecord {
    /// ``"CTL"`` or ``"ITL"``.
    #[pyo3(get)]
    list: &'static str,
    /// Index of the record in that list (from 0).
    #[pyo3(get)]
    index: usize,
    role: Role,
    /// The record's subject name, when present.
    #[pyo3(get)]
    subject: Option<String>,
    text: String,
}

#[pymethods]
impl PyInstalledRecord {
    /// The record's role.
    #[getter]
    fn role<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        role_class(py)?.call1((self.role.code(),))
    }
    fn __str__(&self) -> String {
        self.text.clone()
    }
    fn __repr__(&self) -> String {
        format!("InstalledRecord({:?})", self.text)
    }
}

fn installed_record(py: Python<'_>, record: &InstalledRecord) -> PyResult<Py<PyInstalledRecord>> {
    Py::new(
        py,
        PyInstalledRecord {
            list: trust_list_kind_name(record.list),
            index: record.index,
            role: record.role,
            subject: record.subject.clone(),
            text: record.to_string(),
        },
    )
}

/// Whether a phone installs a new CTL/ITL, why, and how to fix a
/// rejection.
#[pyclass(module = "capf._native", frozen, name = "RolloverPrediction")]
pub struct PyRolloverPrediction {
    /// ``"CTL"`` or ``"ITL"``: the candidate's kind.
    #[pyo3(get)]
    candidate_kind: &'static str,
    /// Which installed list decided: ``"none"``, ``"CTL"`` or ``"ITL"``.
    #[pyo3(get)]
    authority: &'static str,
    /// True when the phone installs the candidate.
    #[pyo3(get)]
    accepted: bool,
    /// How it is accepted: ``"first-use"``, ``"same-certificate"``,
    /// ``"same-key"``, ``"vouched-by-tvs"``; `None` when rejected.
    #[pyo3(get)]
    acceptance: Option<&'static str>,
    /// Why it is rejected (``"signer-unknown"`` …); `None` when accepted.
    #[pyo3(get)]
    rejection_reason: Option<&'static str>,
    /// The rejection in words (names records and certificates).
    #[pyo3(get)]
    rejection_detail: Option<String>,
    installed_record: Option<Py<PyInstalledRecord>>,
    tvs_roles: Vec<Role>,
    /// Subject of the candidate's signer, when identified.
    #[pyo3(get)]
    signer_subject: Option<String>,
    signer_sha256: Option<[u8; 32]>,
    /// What happened and why.
    #[pyo3(get)]
    explanation: String,
    /// What the phone holds afterwards.
    #[pyo3(get)]
    outcome: String,
    /// How to make a rejected rollover work; `None` when accepted.
    #[pyo3(get)]
    fix: Option<String>,
    /// Things that do not change the verdict but will hurt.
    #[pyo3(get)]
    warnings: Vec<String>,
}

#[pymethods]
impl PyRolloverPrediction {
    /// The installed record the acceptance went through (SAST record, or
    /// the ITL's TVS record), if any.
    #[getter]
    fn installed_record(&self, py: Python<'_>) -> Option<Py<PyInstalledRecord>> {
        self.installed_record.as_ref().map(|r| r.clone_ref(py))
    }
    /// The roles TVS gives the signer (``"vouched-by-tvs"``).
    #[getter]
    fn tvs_roles<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        roles(py, &self.tvs_roles)
    }
    /// SHA-256 of the signer's certificate (what TVS is asked about).
    #[getter]
    fn signer_sha256<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.signer_sha256.map(|d| PyBytes::new(py, &d))
    }
    fn __str__(&self) -> String {
        let mut text = self.explanation.clone();
        text.push(' ');
        text.push_str(&self.outcome);
        if let Some(fix) = &self.fix {
            text.push_str(" Fix: ");
            text.push_str(fix);
        }
        text
    }
    fn __repr__(&self) -> String {
        format!(
            "RolloverPrediction(accepted={}, acceptance={:?}, rejection_reason={:?})",
            if self.accepted { "True" } else { "False" },
            self.acceptance,
            self.rejection_reason
        )
    }
}

fn prediction(py: Python<'_>, p: Prediction) -> PyResult<PyRolloverPrediction> {
    let accepted = p.is_accepted();
    let (acceptance, rejection_reason, rejection_detail, record, tvs_roles) = match &p.verdict {
        RolloverVerdict::Accepted(how) => {
            let record = how
                .installed_record()
                .map(|r| installed_record(py, r))
                .transpose()?;
            let tvs_roles = match how {
                Acceptance::VouchedByTvs { roles, .. } => roles.clone(),
                _ => Vec::new(),
            };
            (Some(how.code()), None, None, record, tvs_roles)
        }
        RolloverVerdict::Rejected { reason, detail } => (
            None,
            Some(reason.code()),
            Some(detail.clone()),
            None,
            Vec::new(),
        ),
        _ => (None, None, None, None, Vec::new()),
    };
    Ok(PyRolloverPrediction {
        candidate_kind: trust_list_kind_name(p.candidate_kind),
        authority: p.authority.name(),
        accepted,
        acceptance,
        rejection_reason,
        rejection_detail,
        installed_record: record,
        tvs_roles,
        signer_subject: p.signer.as_ref().and_then(|s| s.subject.clone()),
        signer_sha256: p.signer.as_ref().and_then(|s| s.certificate_sha256),
        explanation: p.explanation,
        outcome: p.outcome,
        fix: p.fix,
        warnings: p.warnings,
    })
}

/// Predicts whether a phone holding `installed_ctl` / `installed_itl`
/// (file bytes, either or both or neither) installs `candidate`, given what
/// `tvs` knows. `kind` (``"ctl"``/``"itl"``) defaults to what the
/// candidate's header filename says. A damaged candidate is a rejection;
/// an installed list that does not parse raises `capf.MalformedError`.
#[pyfunction]
#[pyo3(signature = (candidate, *, kind = None, installed_ctl = None, installed_itl = None, tvs = None, hash_policy = "cisco"))]
pub fn predict_rollover(
    py: Python<'_>,
    candidate: Vec<u8>,
    kind: Option<&str>,
    installed_ctl: Option<Vec<u8>>,
    installed_itl: Option<Vec<u8>>,
    tvs: Option<PyRef<'_, PyTvsKnowledge>>,
    hash_policy: &str,
) -> PyResult<PyRolloverPrediction> {
    let policy = policy(hash_policy)?;
    let kind = match kind {
        Some(kind) => trust_list_kind(kind)?,
        None => TrustList::parse(&candidate)
            .ok()
            .and_then(|list| kind_from_filename(&list))
            .ok_or_else(|| {
                misuse("the candidate's filename names neither a CTL nor an ITL: give kind")
            })?,
    };
    let tvs_knowledge = tvs.as_ref().map(|t| &t.inner);
    let result = py.detach(|| {
        let mut installed = InstalledLists::NOTHING;
        if let Some(ctl) = installed_ctl.as_deref() {
            installed = installed.with_ctl(ctl);
        }
        if let Some(itl) = installed_itl.as_deref() {
            installed = installed.with_itl(itl);
        }
        predict(
            installed,
            CandidateList {
                kind,
                bytes: &candidate,
            },
            tvs_knowledge,
            policy,
        )
    });
    let p = result.map_err(|error| new_error(Kind::Malformed, error.to_string(), None))?;
    prediction(py, p)
}

// ---- builder ----------------------------------------------------------------

/// Builds and signs a CTL or ITL (ctl-format's `TrustListBuilder`): the
/// signer (certificate and RSA key: PEM, DER or `cryptography`) must be
/// listed among the records with role SAST; `build` verifies the result
/// before returning it.
#[pyclass(module = "capf._native", name = "TrustListBuilder")]
pub struct PyTrustListBuilder {
    kind: TrustListKind,
    signer_certificate: ctl_format::Certificate,
    signer_key: rsa::RsaPrivateKey,
    timestamp: u32,
    hash: ctl_format::HashAlgorithm,
    filename: Option<String>,
    layout: RecordLayout,
    records: Vec<RecordEntry>,
}

#[pymethods]
impl PyTrustListBuilder {
    #[new]
    #[pyo3(signature = (kind, signer_certificate, signer_key, *, timestamp, hash = "sha1", filename = None, layout = "cisco"))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        kind: &str,
        signer_certificate: &Bound<'_, PyAny>,
        signer_key: &Bound<'_, PyAny>,
        timestamp: u32,
        hash: &str,
        filename: Option<String>,
        layout: &str,
    ) -> PyResult<Self> {
        let kind = trust_list_kind(kind)?;
        let layout = match layout {
            "cisco" => RecordLayout::Cisco,
            "certutils" => RecordLayout::Certutils,
            _ => return Err(misuse("layout must be \"cisco\" or \"certutils\"")),
        };
        let hash = hash_algorithm(hash)?;
        let certificate = certificate_bytes(signer_certificate)?;
        let key = private_key_bytes(signer_key)?;
        let (signer_certificate, signer_key) = py.detach(|| -> PyResult<_> {
            Ok((
                crate::convert::certificate(&certificate)?,
                rsa_private_key(&key)?,
            ))
        })?;
        Ok(Self {
            kind,
            signer_certificate,
            signer_key,
            timestamp,
            hash,
            filename,
            layout,
            records: Vec::new(),
        })
    }
    /// Appends a record: a certificate with its role (a `capf.Role` or its
    /// code), optionally the DNS name and IPv4 address. Returns the builder.
    #[pyo3(signature = (certificate, role, *, dns_name = None, ip_address = None))]
    fn record<'py>(
        mut slf: PyRefMut<'py, Self>,
        certificate: &Bound<'py, PyAny>,
        role: u16,
        dns_name: Option<String>,
        ip_address: Option<&str>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let certificate = crate::convert::certificate(&certificate_bytes(certificate)?)?;
        let mut entry = RecordEntry::new(certificate, Role::from_code(role));
        if let Some(name) = dns_name {
            entry = entry.with_dns_name(name);
        }
        if let Some(text) = ip_address {
            let address: Ipv4Addr = text
                .parse()
                .map_err(|_| misuse("ip_address must be a dotted IPv4 address"))?;
            entry = entry.with_ip_address(address);
        }
        slf.records.push(entry);
        Ok(slf)
    }
    /// Lays out, signs and checks the file; returns its bytes.
    fn build<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let file = py.detach(|| {
            let signer = RsaFileSigner::new(self.signer_key.clone());
            let mut builder = TrustListBuilder::new(
                self.kind,
                self.signer_certificate.clone(),
                &signer,
                self.timestamp,
            )
            .hash_algorithm(self.hash)
            .name_style(NameStyle::Cisco)
            .layout(self.layout)
            .records(self.records.iter().cloned());
            if let Some(name) = &self.filename {
                builder = builder.filename(name.clone());
            }
            builder.build()
        });
        Ok(PyBytes::new(py, &file.py_err()?))
    }
    fn __len__(&self) -> usize {
        self.records.len()
    }
    fn __repr__(&self) -> String {
        format!(
            "TrustListBuilder(kind={:?}, records={})",
            trust_list_kind_name(self.kind),
            self.records.len()
        )
    }
}
