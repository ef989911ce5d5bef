//! Python bindings of capf: the private native module `capf._native` of
//! the pure-Python package `capf` (see `pysrc/capf/`).
//!
//! Errors become the exceptions of `capf/_errors.py`; no call panics on
//! input (a panic would surface as `PanicException`, a defect).

mod connection;
mod convert;
mod errors;
mod est;
mod files;
mod registry;
mod sessions;
mod trust;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<files::PySignedHeader>()?;
    m.add_class::<files::PyRecord>()?;
    m.add_class::<files::PyTrustList>()?;
    m.add_class::<files::PySignedFile>()?;
    m.add_class::<files::PyEncryptedConfig>()?;
    m.add_class::<sessions::Transmit>()?;
    m.add_class::<sessions::Need>()?;
    m.add_class::<sessions::Done>()?;
    m.add_class::<sessions::Decision>()?;
    m.add_class::<sessions::ServerOutcomeInfo>()?;
    m.add_class::<sessions::PhoneOutcomeInfo>()?;
    m.add_class::<sessions::PyDeviceRecord>()?;
    m.add_class::<sessions::PyServerSession>()?;
    m.add_class::<sessions::PyPhoneSession>()?;
    m.add_class::<sessions::PyLscIssuer>()?;
    m.add_class::<est::PyEstIssuer>()?;
    m.add_class::<sessions::PySoftwareSigner>()?;
    m.add_class::<sessions::TvsOutcomeInfo>()?;
    m.add_class::<sessions::PyTvsServerSession>()?;
    m.add_class::<sessions::PyTvsClientSession>()?;
    m.add_class::<connection::PyTlsConnection>()?;
    m.add_class::<connection::TlsFailed>()?;
    m.add_class::<connection::Abandoned>()?;
    m.add_class::<registry::PyRegistry>()?;
    m.add_class::<registry::PyRegistryHost>()?;
    m.add_class::<registry::PyRegistryDevice>()?;
    m.add_class::<registry::PyLedgerCertificate>()?;
    m.add_class::<registry::PyCertificateRequest>()?;
    m.add_class::<trust::PyStoreEntry>()?;
    m.add_class::<trust::PyTrustStore>()?;
    m.add_class::<trust::PyPurpose>()?;
    m.add_class::<trust::PyChainCertificate>()?;
    m.add_class::<trust::PyAnchor>()?;
    m.add_class::<trust::PyFailure>()?;
    m.add_class::<trust::PyVerdict>()?;
    m.add_class::<trust::PyTvsKnowledge>()?;
    m.add_class::<trust::PyInstalledRecord>()?;
    m.add_class::<trust::PyRolloverPrediction>()?;
    m.add_class::<trust::PyTrustListBuilder>()?;
    m.add_function(wrap_pyfunction!(trust::evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(trust::predict_rollover, m)?)?;
    m.add_function(wrap_pyfunction!(sessions::subject_public_key_info, m)?)?;
    m.add_function(wrap_pyfunction!(sessions::generate_key, m)?)?;
    m.add_function(wrap_pyfunction!(sessions::generate_auth_string, m)?)?;
    Ok(())
}
