//! Files: `TrustList` (CTL/ITL), `SignedFile` (`.sgn`, `.loads`) and
//! `EncryptedConfig` (`.enc.sgn`), over ctl-format's owned types.
//!
//! Parsing, hashing, signing, verification and decryption run with the GIL
//! released (`Python::detach`), so a thread pool scales.

use std::path::PathBuf;

use ctl_format::{
    EncryptOptions, HashAlgorithm, HashPolicy, OwnedEncryptedConfig, OwnedRecord, OwnedSignedFile,
    OwnedSignedHeader, OwnedTrustList, RsaFileSigner, SignOptions, SignatureStatus,
};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyType};

use crate::convert::{
    certificate, certificate_bytes, private_key_bytes, rsa_private_key as private_key,
};
use crate::errors::{FileResultExt, Kind, new_error};

static ROLE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// The `capf.Role` enum class.
pub(crate) fn role_class(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    ROLE.import(py, "capf._types", "Role")
}

/// Reads a whole file with the GIL released; an I/O failure is an `OSError`
/// (`FileNotFoundError` …) naming the path, as `open()` would raise.
pub(crate) fn read_file(py: Python<'_>, path: PathBuf) -> PyResult<Vec<u8>> {
    py.detach(|| std::fs::read(&path).map_err(|error| (path, error)))
        .map_err(|(path, error)| {
            let err = PyErr::from(error);
            Python::attach(|py| {
                // Name the path like open() does, keeping the errno subclass.
                let _ignored = err
                    .value(py)
                    .setattr("filename", path.display().to_string());
            });
            err
        })
}

/// The policy named by `hash_policy`.
pub(crate) fn policy(name: &str) -> PyResult<HashPolicy> {
    match name {
        "cisco" => Ok(HashPolicy::CISCO),
        "any" => Ok(HashPolicy::ANY),
        "sha512-only" => Ok(HashPolicy::SHA512_ONLY),
        _ => Err(new_error(
            Kind::Misuse,
            "hash_policy must be \"cisco\", \"any\" or \"sha512-only\"".to_owned(),
            None,
        )),
    }
}

/// The digest named by `hash`.
pub(crate) fn hash_algorithm(name: &str) -> PyResult<HashAlgorithm> {
    match name.to_ascii_lowercase().as_str() {
        "sha1" | "sha-1" => Ok(HashAlgorithm::Sha1),
        "sha256" | "sha-256" => Ok(HashAlgorithm::Sha256),
        "sha512" | "sha-512" => Ok(HashAlgorithm::Sha512),
        _ => Err(new_error(
            Kind::Misuse,
            "hash must be \"sha1\", \"sha256\" or \"sha512\"".to_owned(),
            None,
        )),
    }
}

/// The signed header of a file: every field of ctl-format's
/// `OwnedSignedHeader`.
#[pyclass(module = "capf._native", frozen, name = "SignedHeader")]
pub struct PySignedHeader {
    inner: OwnedSignedHeader,
}

#[pymethods]
impl PySignedHeader {
    /// Header version (tag 1), e.g. ``"1.2"``.
    #[getter]
    fn version(&self) -> String {
        self.inner.version.to_string()
    }
    /// Header length (tag 2): records or payload start here.
    #[getter]
    fn header_length(&self) -> u16 {
        self.inner.header_length
    }
    /// Signer version (tag 28), when present.
    #[getter]
    fn signer_version(&self) -> Option<String> {
        self.inner.signer_version.map(|v| v.to_string())
    }
    /// Signer name (tag 4), when present.
    #[getter]
    fn signer_name(&self) -> Option<String> {
        self.inner.signer_name.clone()
    }
    /// Signer serial number (tag 5), as stored.
    #[getter]
    fn serial_number<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.serial_number)
    }
    /// Issuer name of the signer (tag 6), when present.
    #[getter]
    fn issuer_name(&self) -> Option<String> {
        self.inner.issuer_name.clone()
    }
    /// Digest of the signature (tag 8): ``"sha1"``, ``"sha256"`` or ``"sha512"``.
    #[getter]
    fn hash_algorithm(&self) -> String {
        self.inner.hash_algorithm.name().to_owned()
    }
    /// The signature value (tag 12).
    #[getter]
    fn signature<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.signature)
    }
    /// Offset of the tag-12 element's tag byte.
    #[getter]
    fn signature_offset(&self) -> usize {
        self.inner.signature_offset
    }
    /// Filename (tag 14), when present.
    #[getter]
    fn filename(&self) -> Option<String> {
        self.inner.filename.clone()
    }
    /// Timestamp (tag 15, Unix seconds UTC), when present.
    #[getter]
    fn timestamp(&self) -> Option<u32> {
        self.inner.timestamp
    }
    /// Number of padding bytes.
    #[getter]
    fn padding_count(&self) -> usize {
        self.inner.padding_count
    }
    /// The tags in file order.
    #[getter]
    fn element_order(&self) -> Vec<u32> {
        // A list of ints (a Vec<u8> would become bytes).
        self.inner
            .element_order
            .iter()
            .map(|&tag| u32::from(tag))
            .collect()
    }
    /// Whether the header carries encrypted-config elements.
    #[getter]
    fn encrypted(&self) -> bool {
        self.inner.encrypted
    }
    fn __repr__(&self) -> String {
        format!(
            "SignedHeader(version={:?}, signer_name={:?}, hash_algorithm={:?})",
            self.inner.version.to_string(),
            self.inner.signer_name,
            self.inner.hash_algorithm.name()
        )
    }
}

/// One record of a trust list.
#[pyclass(module = "capf._native", frozen, name = "Record")]
pub struct PyRecord {
    inner: OwnedRecord,
}

fn opt_bytes<'py>(py: Python<'py>, value: Option<&[u8]>) -> Option<Bound<'py, PyBytes>> {
    value.map(|bytes| PyBytes::new(py, bytes))
}

#[pymethods]
impl PyRecord {
    /// The role (tag 4) as a `capf.Role`, when present.
    #[getter]
    fn role<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self.inner.role() {
            Some(role) => {
                let cls = role_class(py)?;
                cls.call1((role.code(),)).map(Some)
            }
            None => Ok(None),
        }
    }
    /// Subject name (tag 3), when present.
    #[getter]
    fn subject_name(&self) -> Option<String> {
        self.inner.subject_name()
    }
    /// Issuer name (tag 5), when present.
    #[getter]
    fn issuer_name(&self) -> Option<String> {
        self.inner.issuer_name()
    }
    /// Serial number as stored (tag 6), when present.
    #[getter]
    fn serial_number<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        opt_bytes(py, self.inner.serial_number())
    }
    /// IPv4 address (tag 10) in dotted form, when present.
    #[getter]
    fn ip_address(&self) -> Option<String> {
        self.inner.ip_address().map(|ip| ip.to_string())
    }
    /// DNS name (tag 2), when present.
    #[getter]
    fn dns_name(&self) -> Option<String> {
        self.inner.dns_name()
    }
    /// The DER certificate (tag 9), when present.
    #[getter]
    fn certificate<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        opt_bytes(py, self.inner.certificate_der())
    }
    /// The public key element (tag 7), when present.
    #[getter]
    fn public_key<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        opt_bytes(py, self.inner.public_key())
    }
    /// Offset of the record from the start of the file.
    #[getter]
    fn offset(&self) -> usize {
        self.inner.offset()
    }
    fn __repr__(&self) -> String {
        format!(
            "Record(role={:?}, subject_name={:?})",
            self.inner.role().map(|role| role.to_string()),
            self.inner.subject_name()
        )
    }
}

/// A CTL or ITL file.
#[pyclass(module = "capf._native", frozen, name = "TrustList")]
pub struct PyTrustList {
    pub(crate) inner: OwnedTrustList,
}

#[pymethods]
impl PyTrustList {
    /// Parses a whole trust-list file strictly.
    #[classmethod]
    fn parse(_cls: &Bound<'_, PyType>, py: Python<'_>, data: PyBackedBytes) -> PyResult<Self> {
        py.detach(|| OwnedTrustList::parse(data.to_vec()))
            .py_err()
            .map(|inner| Self { inner })
    }
    /// Reads and parses a trust-list file.
    #[classmethod]
    fn from_file(_cls: &Bound<'_, PyType>, py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let bytes = read_file(py, path)?;
        py.detach(|| OwnedTrustList::parse(bytes))
            .py_err()
            .map(|inner| Self { inner })
    }
    /// The signed header.
    #[getter]
    fn header(&self) -> PySignedHeader {
        PySignedHeader {
            inner: self.inner.header().clone(),
        }
    }
    /// The records in file order.
    #[getter]
    fn records(&self) -> Vec<PyRecord> {
        self.inner
            .records()
            .iter()
            .map(|record| PyRecord {
                inner: record.clone(),
            })
            .collect()
    }
    /// The whole file.
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.bytes())
    }
    /// Checks the signature with the signer record's key; with `previous`
    /// (the list installed before), also that the new signer is a SAST of
    /// the previous list, as a phone does. Returns nothing; raises
    /// `capf.VerificationError` when the list does not verify.
    #[pyo3(signature = (previous = None, *, hash_policy = "cisco"))]
    fn verify(
        &self,
        py: Python<'_>,
        previous: Option<&Bound<'_, PyTrustList>>,
        hash_policy: &str,
    ) -> PyResult<()> {
        let policy = policy(hash_policy)?;
        match previous {
            None => py.detach(|| self.inner.verify(policy).map(|_| ())).py_err(),
            Some(previous) => {
                let previous = &previous.get().inner;
                py.detach(|| self.inner.verify_against(previous, policy).map(|_| ()))
                    .py_err()
            }
        }
    }
    fn __len__(&self) -> usize {
        self.inner.records().len()
    }
    fn __repr__(&self) -> String {
        format!(
            "TrustList(version={:?}, records={})",
            self.inner.header().version.to_string(),
            self.inner.records().len()
        )
    }
}

/// A signed file (`.sgn`, `.loads`).
#[pyclass(module = "capf._native", frozen, name = "SignedFile")]
pub struct PySignedFile {
    inner: OwnedSignedFile,
}

#[pymethods]
impl PySignedFile {
    /// Parses a signed file strictly.
    #[classmethod]
    fn parse(_cls: &Bound<'_, PyType>, py: Python<'_>, data: PyBackedBytes) -> PyResult<Self> {
        py.detach(|| OwnedSignedFile::parse(data.to_vec()))
            .py_err()
            .map(|inner| Self { inner })
    }
    /// Reads and parses a signed file.
    #[classmethod]
    fn from_file(_cls: &Bound<'_, PyType>, py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let bytes = read_file(py, path)?;
        py.detach(|| OwnedSignedFile::parse(bytes))
            .py_err()
            .map(|inner| Self { inner })
    }
    /// Signs `payload` with `key` (RSA private key: PEM, DER or a
    /// `cryptography` key) for `certificate` (PEM, DER or a `cryptography`
    /// certificate), in the certutils layout; returns the file's bytes.
    #[staticmethod]
    #[pyo3(signature = (payload, certificate, key, *, hash = "sha512", filename, timestamp))]
    fn sign<'py>(
        py: Python<'py>,
        payload: PyBackedBytes,
        certificate: &Bound<'py, PyAny>,
        key: &Bound<'py, PyAny>,
        hash: &str,
        filename: &str,
        timestamp: u32,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let certificate = certificate_bytes(certificate)?;
        let key = private_key_bytes(key)?;
        let options = SignOptions::certutils(hash_algorithm(hash)?, filename, timestamp);
        let file = py.detach(|| -> PyResult<Vec<u8>> {
            let cert = self::certificate(&certificate)?;
            let signer = RsaFileSigner::new(private_key(&key)?);
            ctl_format::signed_file::sign(&payload, &cert, &signer, &options).py_err()
        })?;
        Ok(PyBytes::new(py, &file))
    }
    /// The signed header.
    #[getter]
    fn header(&self) -> PySignedHeader {
        PySignedHeader {
            inner: self.inner.header().clone(),
        }
    }
    /// The payload (not authenticated until `verify` succeeds).
    #[getter]
    fn payload<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.payload())
    }
    /// The whole file.
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.bytes())
    }
    /// Whether the header names Cisco's firmware signer (whose key is not
    /// public: such a file cannot be verified).
    #[getter]
    fn is_cisco_firmware(&self) -> bool {
        self.inner.signature_status() == SignatureStatus::UnverifiableCiscoFirmware
    }
    /// Whether the file carries encrypted-config elements.
    #[getter]
    fn is_encrypted(&self) -> bool {
        self.inner.is_encrypted()
    }
    /// Verifies the signature against the signer's certificate (PEM or
    /// DER). Returns nothing; raises `capf.VerificationError`.
    #[pyo3(signature = (certificate, *, hash_policy = "cisco"))]
    fn verify(
        &self,
        py: Python<'_>,
        certificate: &Bound<'_, PyAny>,
        hash_policy: &str,
    ) -> PyResult<()> {
        let policy = policy(hash_policy)?;
        let certificate = certificate_bytes(certificate)?;
        py.detach(|| {
            let cert = self::certificate(&certificate)?;
            self.inner.verify(&cert, policy).map(|_| ()).py_err()
        })
    }
    fn __repr__(&self) -> String {
        format!(
            "SignedFile(signer_name={:?}, payload_length={})",
            self.inner.header().signer_name,
            self.inner.payload().len()
        )
    }
}

/// An encrypted configuration (`.enc.sgn`).
#[pyclass(module = "capf._native", frozen, name = "EncryptedConfig")]
pub struct PyEncryptedConfig {
    inner: OwnedEncryptedConfig,
}

#[pymethods]
impl PyEncryptedConfig {
    /// Parses an encrypted config strictly.
    #[classmethod]
    fn parse(_cls: &Bound<'_, PyType>, py: Python<'_>, data: PyBackedBytes) -> PyResult<Self> {
        py.detach(|| OwnedEncryptedConfig::parse(data.to_vec()))
            .py_err()
            .map(|inner| Self { inner })
    }
    /// Reads and parses an encrypted config.
    #[classmethod]
    fn from_file(_cls: &Bound<'_, PyType>, py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let bytes = read_file(py, path)?;
        py.detach(|| OwnedEncryptedConfig::parse(bytes))
            .py_err()
            .map(|inner| Self { inner })
    }
    /// Encrypts `plaintext` for the phone holding `phone_certificate`'s key
    /// and signs it with `signer_key` (PEM) for `signer_certificate`, in the
    /// certutils `enccnf` layout. The AES key and IV come from the
    /// operating system's random generator. Returns the file's bytes.
    #[staticmethod]
    #[pyo3(signature = (plaintext, phone_certificate, signer_certificate, signer_key, *, hash = "sha1", filename = None, timestamp = None))]
    #[allow(clippy::too_many_arguments)]
    fn encrypt<'py>(
        py: Python<'py>,
        plaintext: PyBackedBytes,
        phone_certificate: &Bound<'py, PyAny>,
        signer_certificate: &Bound<'py, PyAny>,
        signer_key: &Bound<'py, PyAny>,
        hash: &str,
        filename: Option<String>,
        timestamp: Option<u32>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let phone_certificate = certificate_bytes(phone_certificate)?;
        let signer_certificate = certificate_bytes(signer_certificate)?;
        let signer_key = private_key_bytes(signer_key)?;
        let options = EncryptOptions {
            hash_algorithm: hash_algorithm(hash)?,
            filename,
            timestamp,
        };
        let file = py.detach(|| -> PyResult<Vec<u8>> {
            let phone = certificate(&phone_certificate)?;
            let signer_cert = certificate(&signer_certificate)?;
            let signer = RsaFileSigner::new(private_key(&signer_key)?);
            ctl_format::encrypted_config::encrypt(
                &plaintext,
                &phone,
                &signer_cert,
                &signer,
                &options,
                &mut rand_core::OsRng,
            )
            .py_err()
        })?;
        Ok(PyBytes::new(py, &file))
    }
    /// The signed header.
    #[getter]
    fn header(&self) -> PySignedHeader {
        PySignedHeader {
            inner: self.inner.header().clone(),
        }
    }
    /// The whole file.
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.bytes())
    }
    /// Verifies the signature with `signer_certificate` (PEM or DER), then
    /// decrypts with the phone's RSA private key (PEM). Raises
    /// `capf.VerificationError` when either fails.
    #[pyo3(signature = (signer_certificate, phone_key, *, hash_policy = "cisco"))]
    fn decrypt<'py>(
        &self,
        py: Python<'py>,
        signer_certificate: &Bound<'py, PyAny>,
        phone_key: &Bound<'py, PyAny>,
        hash_policy: &str,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let policy = policy(hash_policy)?;
        let signer_certificate = certificate_bytes(signer_certificate)?;
        let phone_key = private_key_bytes(phone_key)?;
        let plain = py.detach(|| -> PyResult<Vec<u8>> {
            let cert = certificate(&signer_certificate)?;
            let key = private_key(&phone_key)?;
            self.inner.decrypt(&cert, &key, policy).py_err()
        })?;
        Ok(PyBytes::new(py, &plain))
    }
    /// Decrypts **without verifying the signature** (forensics only).
    fn decrypt_unverified<'py>(
        &self,
        py: Python<'py>,
        phone_key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let phone_key = private_key_bytes(phone_key)?;
        let plain = py.detach(|| -> PyResult<Vec<u8>> {
            let key = private_key(&phone_key)?;
            self.inner.decrypt_unverified(&key).py_err()
        })?;
        Ok(PyBytes::new(py, &plain))
    }
    fn __repr__(&self) -> String {
        format!(
            "EncryptedConfig(signer_name={:?}, ciphertext_length={})",
            self.inner.header().signer_name,
            self.inner.ciphertext().len()
        )
    }
}
