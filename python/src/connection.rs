//! The core's TLS connection (`capf_core::connection::TlsConnection`,
//! rustls) around any of the four sessions, for hosts that prefer rustls to
//! Python's `ssl`: TCP bytes in, TCP bytes out, decisions surfaced.
//!
//! The session object stays the one to answer decisions with (its
//! `answer_*` / `refuse_*` methods); the connection drives it. TLS work
//! (handshake, decryption, encryption) runs with the GIL released.

use core::time::Duration;
use std::sync::Arc;

use capf_core::capf::phone::PhoneSession;
use capf_core::capf::server::ServerSession;
use capf_core::connection::{Abandonment, ConnectionOptions, ConnectionOutput, TlsConnection};
use capf_core::session::Output;
use capf_core::trust::{DirectCertificates, ServerRole, ServerTrust};
use capf_core::tvs::{TvsClientDecision, TvsClientSession, TvsServerSession};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyType};

use crate::convert::{certificate_der, certificate_list, pkcs8_der, private_key_bytes};
use crate::errors::{Kind, new_error};
use crate::sessions::{
    PyPhoneSession, PyServerSession, PyTvsClientSession, PyTvsServerSession, Shared, datetime,
    output, phone_decision, phone_outcome, server_decision, server_outcome, timestamp,
    tvs_client_outcome, tvs_server_decision, tvs_server_outcome,
};

/// The host's clock, for the trust-list verifier's date checks (the core
/// reads no clock; this binding is a host).
fn system_clock() -> capf_core::time::Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        });
    capf_core::time::Timestamp::from_unix_millis(millis)
}

fn misuse(message: impl Into<String>) -> PyErr {
    new_error(Kind::Misuse, message.into(), None)
}

fn tls_error(error: capf_core::tls::TlsError) -> PyErr {
    new_error(Kind::Misuse, error.to_string(), None)
}

/// TLS failed (alert, bad record, refused certificate). The session was
/// told and ends with its own outcome: keep polling.
#[pyclass(module = "capf._native", frozen, name = "TlsFailed")]
pub struct TlsFailed {
    /// The readable cause.
    #[pyo3(get)]
    message: String,
}

#[pymethods]
impl TlsFailed {
    fn __repr__(&self) -> String {
        format!("TlsFailed({:?})", self.message)
    }
}

/// The connection ended without an outcome from its session (always the
/// last output): ``"handshake_timeout"`` or ``"peer_gone"``.
#[pyclass(module = "capf._native", frozen, name = "Abandoned")]
pub struct Abandoned {
    /// Why.
    #[pyo3(get)]
    reason: &'static str,
}

#[pymethods]
impl Abandoned {
    fn __repr__(&self) -> String {
        format!("Abandoned({:?})", self.reason)
    }
}

enum Any {
    CapfServer(TlsConnection<Shared<ServerSession>>),
    CapfPhone(TlsConnection<Shared<PhoneSession>>),
    TvsServer(TlsConnection<Shared<TvsServerSession>>),
    TvsClient(TlsConnection<Shared<TvsClientSession>>),
}

macro_rules! each {
    ($self:expr, $c:ident => $body:expr) => {
        match $self {
            Any::CapfServer($c) => $body,
            Any::CapfPhone($c) => $body,
            Any::TvsServer($c) => $body,
            Any::TvsClient($c) => $body,
        }
    };
}

/// One TLS connection (rustls) carrying one session. Make one with
/// `TlsConnection.server` or `TlsConnection.client`; then move TCP bytes
/// (`handle_tcp_input`, `poll_output`'s `Transmit`), answer each `Need`
/// through the session object, honour `poll_timeout`.
#[pyclass(module = "capf._native", name = "TlsConnection")]
pub struct PyTlsConnection {
    inner: Any,
    session: Py<PyAny>,
}

fn options(handshake_timeout: Option<f64>) -> PyResult<ConnectionOptions> {
    let timeout = match handshake_timeout {
        None => None,
        Some(seconds) if seconds.is_finite() && seconds > 0.0 && seconds < 1.0e9 => {
            Some(Duration::from_secs_f64(seconds))
        }
        Some(_) => return Err(misuse("handshake_timeout must be positive seconds")),
    };
    Ok(ConnectionOptions::with_handshake_timeout(timeout))
}

fn take<S>(shared: &Shared<S>) -> PyResult<Shared<S>> {
    if shared.is_shared() {
        return Err(misuse("this session is already carried by a connection"));
    }
    Ok(shared.handle())
}

fn abandonment(reason: Abandonment) -> &'static str {
    match reason {
        Abandonment::HandshakeTimeout => "handshake_timeout",
        _ => "peer_gone",
    }
}

/// The Python item for one connection output, with the session's own
/// converters for decisions and outcomes.
fn item<'py, D, O>(
    py: Python<'py>,
    out: ConnectionOutput<D, O>,
    decision: impl FnOnce(Python<'py>, D) -> PyResult<Bound<'py, pyo3::PyAny>>,
    outcome: impl FnOnce(Python<'py>, O) -> PyResult<Bound<'py, pyo3::PyAny>>,
) -> PyResult<Bound<'py, pyo3::PyAny>> {
    match out {
        ConnectionOutput::Transmit(bytes) => output(py, Output::Transmit(bytes), decision, outcome),
        ConnectionOutput::Need(d) => output(py, Output::Need(d), decision, outcome),
        ConnectionOutput::Done(o) => output(py, Output::Done(o), decision, outcome),
        ConnectionOutput::TlsFailed(error) => Ok(Bound::new(
            py,
            TlsFailed {
                message: error.to_string(),
            },
        )?
        .into_any()),
        ConnectionOutput::Abandoned(reason) => Ok(Bound::new(
            py,
            Abandoned {
                reason: abandonment(reason),
            },
        )?
        .into_any()),
        _ => Err(new_error(
            Kind::Protocol,
            "unknown connection output".to_owned(),
            None,
        )),
    }
}

#[pymethods]
impl PyTlsConnection {
    /// The server side of one accepted TCP connection carrying `session`
    /// (a `ServerSession` or `TvsServerSession`), with the server's
    /// certificate chain and private key (PEM, DER or `cryptography`).
    #[classmethod]
    #[pyo3(signature = (session, certificate, key, now, *, handshake_timeout = None))]
    fn server(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        session: &Bound<'_, pyo3::PyAny>,
        certificate: &Bound<'_, pyo3::PyAny>,
        key: &Bound<'_, pyo3::PyAny>,
        now: &Bound<'_, pyo3::PyAny>,
        handshake_timeout: Option<f64>,
    ) -> PyResult<Self> {
        let chain = certificate_list(certificate)?
            .iter()
            .map(|bytes| certificate_der(bytes))
            .collect::<PyResult<Vec<_>>>()?;
        let key = pkcs8_der(&private_key_bytes(key)?)?;
        let options = options(handshake_timeout)?;
        let now = timestamp(now)?;
        let config = py
            .detach(|| capf_core::tls::server_config(&chain, &key))
            .map_err(tls_error)?;
        let inner = if let Ok(s) = session.cast::<PyServerSession>() {
            let shared = take(&s.borrow().shared)?;
            Any::CapfServer(TlsConnection::server(config, shared, options, now).map_err(tls_error)?)
        } else if let Ok(s) = session.cast::<PyTvsServerSession>() {
            let shared = take(&s.borrow().shared)?;
            Any::TvsServer(TlsConnection::server(config, shared, options, now).map_err(tls_error)?)
        } else {
            return Err(misuse(
                "a server connection carries a ServerSession or a TvsServerSession",
            ));
        };
        Ok(Self {
            inner,
            session: session.clone().unbind(),
        })
    }

    /// The client side of one outgoing TCP connection to `server_name` (a
    /// DNS name or an IP address) carrying `session` (a `PhoneSession` or
    /// `TvsClientSession`). `trust` is what the server is trusted by, read
    /// as `capf enroll --ca` reads it: a CTL/ITL file's bytes (it must
    /// verify; its records with the server's role are pinned, as a phone
    /// does; `role` ``"capf"`` or ``"tvs"``), or the server's certificate(s)
    /// to pin (PEM, DER or `cryptography`; one or a list).
    #[classmethod]
    #[pyo3(signature = (session, server_name, trust, now, *, role = "capf", handshake_timeout = None))]
    #[allow(clippy::too_many_arguments)]
    fn client(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        session: &Bound<'_, pyo3::PyAny>,
        server_name: &str,
        trust: &Bound<'_, pyo3::PyAny>,
        now: &Bound<'_, pyo3::PyAny>,
        role: &str,
        handshake_timeout: Option<f64>,
    ) -> PyResult<Self> {
        let role = match role {
            "capf" => ServerRole::Capf,
            "tvs" => ServerRole::Tvs,
            _ => return Err(misuse("role must be \"capf\" or \"tvs\"")),
        };
        let options = options(handshake_timeout)?;
        let now = timestamp(now)?;
        let list = certificate_list(trust)?;
        let config = match list.as_slice() {
            // One file's bytes: a trust list or PEM/DER certificates, by
            // the one rule every host uses.
            [bytes] => py
                .detach(|| -> Result<_, String> {
                    let trust = ServerTrust::from_file(bytes, "trust", role)
                        .map_err(|error| error.to_string())?;
                    trust
                        .client_config(DirectCertificates::Pinned, Arc::new(system_clock))
                        .map_err(|error| error.to_string())
                })
                .map_err(misuse)?,
            _ => {
                let pins = list
                    .iter()
                    .map(|bytes| certificate_der(bytes))
                    .collect::<PyResult<Vec<_>>>()?;
                py.detach(|| capf_core::tls::client_config_pinned(&pins))
                    .map_err(tls_error)?
            }
        };
        let inner = if let Ok(s) = session.cast::<PyPhoneSession>() {
            let shared = take(&s.borrow().shared)?;
            Any::CapfPhone(
                TlsConnection::client(config, server_name, shared, options, now)
                    .map_err(tls_error)?,
            )
        } else if let Ok(s) = session.cast::<PyTvsClientSession>() {
            let shared = take(&s.borrow().shared)?;
            Any::TvsClient(
                TlsConnection::client(config, server_name, shared, options, now)
                    .map_err(tls_error)?,
            )
        } else {
            return Err(misuse(
                "a client connection carries a PhoneSession or a TvsClientSession",
            ));
        };
        Ok(Self {
            inner,
            session: session.clone().unbind(),
        })
    }

    /// The session this connection carries: answer its decisions there.
    #[getter]
    fn session(&self, py: Python<'_>) -> Py<pyo3::PyAny> {
        self.session.clone_ref(py)
    }

    /// TCP bytes from the peer, in any chunking (GIL released).
    fn handle_tcp_input(&mut self, py: Python<'_>, data: Vec<u8>) {
        let inner = &mut self.inner;
        py.detach(|| each!(inner, c => c.handle_tcp_input(&data)));
    }

    /// The TCP stream ended (EOF or reset).
    fn handle_tcp_closed(&mut self, py: Python<'_>) {
        let inner = &mut self.inner;
        py.detach(|| each!(inner, c => c.handle_tcp_closed()));
    }

    /// A TCP write failed.
    fn handle_transport_error(&mut self, py: Python<'_>) {
        let inner = &mut self.inner;
        py.detach(|| each!(inner, c => c.handle_transport_error()));
    }

    /// Time goes in here.
    fn handle_timeout(&mut self, py: Python<'_>, now: &Bound<'_, pyo3::PyAny>) -> PyResult<()> {
        let now = timestamp(now)?;
        let inner = &mut self.inner;
        py.detach(|| each!(inner, c => c.handle_timeout(now)));
        Ok(())
    }

    /// The next deadline (aware UTC datetime): the session's or the
    /// handshake's, or `None`.
    fn poll_timeout<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, pyo3::PyAny>>> {
        each!(&self.inner, c => c.poll_timeout())
            .map(|at| datetime(py, at))
            .transpose()
    }

    /// The next output: `Transmit` (TCP bytes: write them whole, in
    /// order), `Need` (answer through `session`), `TlsFailed` (keep
    /// polling), `Done` or `Abandoned` (the last: shut TCP down), or
    /// `None`. Encryption runs with the GIL released.
    fn poll_output<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, pyo3::PyAny>>> {
        let inner = &mut self.inner;
        match inner {
            Any::CapfServer(c) => match py.detach(|| c.poll_output()) {
                Some(out) => {
                    item(py, out, server_decision, |py, o| server_outcome(py, &o)).map(Some)
                }
                None => Ok(None),
            },
            Any::CapfPhone(c) => match py.detach(|| c.poll_output()) {
                Some(out) => item(py, out, phone_decision, phone_outcome).map(Some),
                None => Ok(None),
            },
            Any::TvsServer(c) => match py.detach(|| c.poll_output()) {
                Some(out) => item(py, out, tvs_server_decision, tvs_server_outcome).map(Some),
                None => Ok(None),
            },
            Any::TvsClient(c) => match py.detach(|| c.poll_output()) {
                Some(out) => item(
                    py,
                    out,
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
            },
        }
    }

    /// True once the last output (`Done` or `Abandoned`) was handed out.
    fn is_done(&self) -> bool {
        each!(&self.inner, c => c.is_done())
    }

    /// True while the TLS handshake is in progress.
    fn is_handshaking(&self) -> bool {
        each!(&self.inner, c => c.is_handshaking())
    }

    /// The negotiated TLS version (e.g. ``"TLSv1_2"``), once known.
    fn protocol_version(&self) -> Option<String> {
        each!(&self.inner, c => c.protocol_version()).map(|v| format!("{v:?}"))
    }

    /// The peer's certificate chain (DER, leaf first), once known.
    fn peer_certificates<'py>(&self, py: Python<'py>) -> Option<Vec<Bound<'py, PyBytes>>> {
        each!(&self.inner, c => c.peer_certificates())
            .map(|chain| chain.iter().map(|der| PyBytes::new(py, der)).collect())
    }
}
