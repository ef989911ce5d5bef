//! Python bindings of capf: the private native module `capf._native` of
//! the pure-Python package `capf` (see `pysrc/capf/`).
//!
//! Errors become the exceptions of `capf/_errors.py`; no call panics on
//! input (a panic would surface as `PanicException`, a defect).

mod errors;
mod files;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<files::PySignedHeader>()?;
    m.add_class::<files::PyRecord>()?;
    m.add_class::<files::PyTrustList>()?;
    m.add_class::<files::PySignedFile>()?;
    m.add_class::<files::PyEncryptedConfig>()?;
    Ok(())
}
