//! The Python exceptions (defined in `capf/_errors.py`) raised from Rust.
//!
//! Messages come from the Rust errors' `Display`, which never carries a
//! secret (no key material, auth string or hash).

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

static MALFORMED: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static VERIFICATION: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static MISUSE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static PROTOCOL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static REGISTRY: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static EST: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Which Python exception class an error becomes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// `capf.MalformedError`.
    Malformed,
    /// `capf.VerificationError`.
    Verification,
    /// `capf.MisuseError`.
    Misuse,
    /// `capf.ProtocolError`.
    #[allow(dead_code)]
    Protocol,
    /// `capf.RegistryError`.
    Registry,
    /// `capf.EstError`.
    Est,
}

fn class<'py>(py: Python<'py>, kind: Kind) -> PyResult<&'py Bound<'py, PyType>> {
    let (cell, name) = match kind {
        Kind::Malformed => (&MALFORMED, "MalformedError"),
        Kind::Verification => (&VERIFICATION, "VerificationError"),
        Kind::Misuse => (&MISUSE, "MisuseError"),
        Kind::Protocol => (&PROTOCOL, "ProtocolError"),
        Kind::Registry => (&REGISTRY, "RegistryError"),
        Kind::Est => (&EST, "EstError"),
    };
    cell.import(py, "capf._errors", name)
}

/// A `capf` exception of `kind` with `message` (and `offset` for
/// `MalformedError`).
pub(crate) fn new_error(kind: Kind, message: String, offset: Option<usize>) -> PyErr {
    Python::attach(|py| match class(py, kind) {
        Ok(cls) => {
            let made = match kind {
                Kind::Malformed => cls.call1((message, offset)),
                _ => cls.call1((message,)),
            };
            match made {
                Ok(value) => PyErr::from_value(value),
                Err(error) => error,
            }
        }
        Err(error) => error,
    })
}

/// The Python form of a ctl-format error: malformed input, a refusal or a
/// misuse, with the offset where the error has one.
pub(crate) fn file_error(error: ctl_format::Error) -> PyErr {
    let kind = match error.fault() {
        ctl_format::Fault::Malformed => Kind::Malformed,
        ctl_format::Fault::Refused => Kind::Verification,
        _ => Kind::Misuse,
    };
    new_error(kind, error.to_string(), error.offset())
}

/// Extension: `.py_err()` on ctl-format results.
pub(crate) trait FileResultExt<T> {
    /// The result with a ctl-format error turned into its Python exception.
    fn py_err(self) -> PyResult<T>;
}

impl<T> FileResultExt<T> for Result<T, ctl_format::Error> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(file_error)
    }
}
