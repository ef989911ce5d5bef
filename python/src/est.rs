//! `capf.EstIssuer`: LSCs signed by an online CA through EST (RFC 7030),
//! as `capf serve --est-url …` has them signed. A thin handle on
//! `capf_registry::est::EstClient`; what it means for a session (which
//! refusal, which status) is `capf_registry::issuance`'s rule.

use capf_registry::est::{EstAuthentication, EstClient, EstConfig, EstError, EstUrl};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::sync::Arc;
use std::time::Duration;

use crate::errors::{Kind, new_error};

/// The Python exception of an EST error: a configuration that cannot work
/// is the caller's misuse, anything the CA did is `capf.EstError`.
fn est_error(error: EstError) -> PyErr {
    match error {
        EstError::Configuration(message) => new_error(Kind::Misuse, message, None),
        other => new_error(Kind::Est, other.to_string(), None),
    }
}

/// Every certificate of `value` (one or a list of PEM/DER bytes, `str`,
/// `cryptography` certificates; a PEM bundle gives all its certificates),
/// DER.
fn certificates(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<Vec<u8>>> {
    let bad = || {
        new_error(
            Kind::Misuse,
            format!("{what}: neither PEM certificates nor a DER certificate"),
            None,
        )
    };
    let mut out = Vec::new();
    for item in crate::convert::certificate_list(value)? {
        if ctl_format::pem::is_pem(&item) {
            let text = std::str::from_utf8(&item).map_err(|_| bad())?;
            let blocks = ctl_format::pem::pem_blocks(text).map_err(|_| bad())?;
            let before = out.len();
            out.extend(
                blocks
                    .into_iter()
                    .filter(|block| block.label == "CERTIFICATE")
                    .map(|block| block.der),
            );
            if out.len() == before {
                return Err(bad());
            }
        } else {
            out.push(crate::convert::certificate_der(&item).map_err(|_| bad())?);
        }
    }
    Ok(out)
}

/// An online CA through EST that signs LSCs: give it to
/// `Registry.host(...)` instead of an `LscIssuer`. `url` is the CA's
/// `https://` URL (optionally with a CA label), `ca` the certificate(s)
/// trusted to issue its TLS certificate; authenticate with `user` and
/// `password` (HTTP basic) or with `client_certificate` and `client_key`
/// (TLS), or neither. One enrollment takes at most `timeout_seconds`. The
/// phone must send a signed certificate request
/// (`PhoneSession(..., send_certificate_request=True)`); a phone that
/// does not is refused with the status "CA Rejected Connection".
#[pyclass(module = "capf._native", frozen, name = "EstIssuer")]
pub struct PyEstIssuer {
    pub(crate) inner: Arc<EstClient>,
}

#[pymethods]
impl PyEstIssuer {
    #[new]
    #[pyo3(signature = (url, ca, *, user = None, password = None, client_certificate = None, client_key = None, timeout_seconds = 30))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        url: &str,
        ca: &Bound<'_, PyAny>,
        user: Option<String>,
        password: Option<String>,
        client_certificate: Option<&Bound<'_, PyAny>>,
        client_key: Option<&Bound<'_, PyAny>>,
        timeout_seconds: u64,
    ) -> PyResult<Self> {
        let misuse = |message: &str| new_error(Kind::Misuse, message.to_owned(), None);
        let url = EstUrl::parse(url).map_err(est_error)?;
        let trust_anchors = certificates(ca, "ca")?;
        let chain = client_certificate
            .map(|value| certificates(value, "client_certificate"))
            .transpose()?;
        let key = client_key
            .map(|value| crate::convert::pkcs8_der(&crate::convert::private_key_bytes(value)?))
            .transpose()?;
        let authentication =
            EstAuthentication::from_options(user, password, chain, key).map_err(est_error)?;
        if timeout_seconds == 0 {
            return Err(misuse("timeout_seconds: at least 1"));
        }
        let config = EstConfig {
            url,
            trust_anchors,
            authentication,
            timeout: Duration::from_secs(timeout_seconds),
        };
        py.detach(|| EstClient::new(config))
            .map(|client| Self {
                inner: Arc::new(client),
            })
            .map_err(est_error)
    }

    /// The CA certificates the CA publishes (`/cacerts`), DER: trust them
    /// as LSC issuers (`ServerSession(..., lsc_issuers=...)`) so phones
    /// authenticate later with the LSCs this CA signs, as `capf serve
    /// --est-url` does at start. Raises `capf.EstError` when the CA cannot
    /// be read.
    fn ca_certificates<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let client = &self.inner;
        let found = py
            .detach(|| client.ca_certificates_blocking())
            .map_err(est_error)?;
        Ok(found.iter().map(|der| PyBytes::new(py, der)).collect())
    }

    /// The longest one enrollment takes, in seconds.
    #[getter]
    fn timeout_seconds(&self) -> u64 {
        self.inner.timeout().as_secs()
    }

    fn __repr__(&self) -> String {
        let url = self.inner.url();
        format!(
            "EstIssuer(host={:?}, port={}, label={:?})",
            url.host, url.port, url.label
        )
    }
}
