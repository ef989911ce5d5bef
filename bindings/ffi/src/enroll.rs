//! A blocking enrollment for apps that do not want to drive I/O:
//! [`enroll`] connects with `std::net` (with timeouts), runs the core's TLS
//! connection over a [`PhoneSession`] and answers its decisions through the
//! app's [`PhoneKeystore`] and [`CertificateStore`].
//!
//! It is a thin loop: every protocol and transport rule stays in the core
//! (`capf_core::connection::TlsConnection`); this module moves bytes,
//! honours `poll_timeout` and hands decisions to the app's traits. Call it
//! off the UI thread (it blocks for the whole session).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use capf_core::capf::phone as core_phone;
use capf_core::connection::{ConnectionOutput, TlsConnection};
use capf_core::time::Timestamp;
use capf_core::tls::rustls;
use capf_core::trust::ServerRole;

use crate::connection::{HostClock, Shared, client_config, describe_tls_failure};
use crate::keystore::{CertificateStore, PhoneKeystore};
use crate::phone::{PhoneDecision, PhoneOutcome, PhoneSession};

/// Why [`enroll`] has no outcome to report. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum EnrollError {
    /// Bad input: the server trust, the host name, a session already over.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The server could not be reached (name not resolved, connection
    /// refused or timed out). Worth retrying later.
    #[error("cannot connect: {0}")]
    Unreachable(String),
    /// TLS failed: most often the server's certificate is not the trusted
    /// one (the message says why).
    #[error("{0}")]
    TlsFailed(String),
    /// An answer the session refused (a bug of the app's store or the
    /// binding); the connection was closed.
    #[error("session misuse: {0}")]
    Misuse(String),
}

/// Enrolls: connects to the CAPF server `host`:`port` (a DNS name or an IP
/// address), trusts it by `server_trust` (the CTL/ITL or the CAPF
/// certificate(s), as `PhoneConnection` does) and runs `session` (new, not
/// driven yet) to its end, answering `GenerateKey`, `SignProof` and
/// `SignCertificateRequest` through `keystore` and storing, fetching or
/// deleting the LSC through `certificates`. `timeout_millis` bounds
/// connecting and each write; the session's own deadlines bound the waits
/// for the server.
///
/// The session's `PhoneOptions` say whether a certificate request goes
/// with the new key (`capf enroll --send-csr`) and which pending key an
/// offline CA may have signed: after `CertificatePending`, keep the key
/// and enroll again later with a session made with
/// `PhoneOptions(pending_key_spki_der = <its public key>)`; that session
/// stores the certificate for it without asking for a new key (a
/// certificate for another key is refused: `StoreFailed`, the key kept).
///
/// Returns the session's outcome (`Installed`, `CertificatePending`,
/// `Refused` …; a connection lost mid-session is `CommunicationFailure`). Errors are for bad input,
/// an unreachable server and a TLS failure (an untrusted server), as
/// `capf enroll` exits 2 or 1 for them. Blocks the calling thread.
#[uniffi::export]
pub fn enroll(
    host: String,
    port: u16,
    server_trust: Vec<u8>,
    session: Arc<PhoneSession>,
    keystore: Arc<dyn PhoneKeystore>,
    certificates: Arc<dyn CertificateStore>,
    timeout_millis: u64,
) -> Result<PhoneOutcome, EnrollError> {
    let now = now_millis();
    let clock = HostClock::new(now);
    let config = client_config(&server_trust, ServerRole::Capf, &clock)
        .map_err(|error| EnrollError::InvalidInput(error.to_string()))?;
    if session.is_done() {
        return Err(EnrollError::InvalidInput(
            "the session is already over".to_owned(),
        ));
    }
    let mut connection = TlsConnection::client(
        config,
        &server_name(&host),
        Shared(Arc::clone(&session)),
        capf_core::connection::ConnectionOptions::default(),
        Timestamp::from_unix_millis(now),
    )
    .map_err(|error| EnrollError::InvalidInput(format!("TLS: {error}")))?;
    let timeout = Duration::from_millis(timeout_millis.max(1));
    let mut stream = connect(&host, port, timeout)?;
    let _nodelay = stream.set_nodelay(true);
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|error| EnrollError::Unreachable(error.to_string()))?;
    let host_side = Host {
        session: &session,
        keystore,
        certificates,
    };
    let mut tls_failure = None;
    let outcome = drive(
        &mut stream,
        &mut connection,
        &host_side,
        &clock,
        &mut tls_failure,
    );
    let _closed = stream.shutdown(Shutdown::Both);
    let outcome = outcome?;
    match (tls_failure, outcome) {
        // A TLS failure ends the session as a communication failure: say why.
        (Some(reason), None | Some(core_phone::PhoneOutcome::CommunicationFailure(_))) => {
            Err(EnrollError::TlsFailed(reason))
        }
        (_, Some(outcome)) => Ok(PhoneOutcome::from_core(outcome)),
        (None, None) => Ok(PhoneOutcome::CommunicationFailure {
            message: "the connection ended before the session did".to_owned(),
        }),
    }
}

/// The TLS server name for `host`: itself if it is a DNS name or an IP
/// address, else a placeholder (no verifier checks names).
fn server_name(host: &str) -> String {
    let name = host.trim_start_matches('[').trim_end_matches(']');
    if rustls::pki_types::ServerName::try_from(name).is_ok() {
        name.to_owned()
    } else {
        "capf.invalid".to_owned()
    }
}

fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, EnrollError> {
    let name = host.trim_start_matches('[').trim_end_matches(']');
    let addresses = (name, port)
        .to_socket_addrs()
        .map_err(|error| EnrollError::Unreachable(format!("{host}: {error}")))?;
    let mut last = format!("{host}: no address");
    for address in addresses {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(stream) => return Ok(stream),
            Err(error) => last = format!("{address}: {error}"),
        }
    }
    Err(EnrollError::Unreachable(last))
}

/// The app's side: where decisions go.
struct Host<'a> {
    session: &'a PhoneSession,
    keystore: Arc<dyn PhoneKeystore>,
    certificates: Arc<dyn CertificateStore>,
}

impl Host<'_> {
    /// Answers one decision through the session object (never while the
    /// connection holds the session's lock).
    fn decide(&self, decision: PhoneDecision) -> Result<(), EnrollError> {
        let misuse = |error: crate::phone::PhoneError| EnrollError::Misuse(error.to_string());
        let device = self.session.device_name();
        match decision {
            PhoneDecision::GenerateKey { .. }
            | PhoneDecision::SignProof { .. }
            | PhoneDecision::SignCertificateRequest { .. } => {
                // The refusal that matches the decision, if the session
                // rejects the keystore's answer.
                let refuse: fn(&PhoneSession) -> Result<(), crate::phone::PhoneError> =
                    match &decision {
                        PhoneDecision::GenerateKey { .. } => PhoneSession::refuse_key,
                        PhoneDecision::SignCertificateRequest { .. } => {
                            PhoneSession::refuse_certificate_request_signature
                        }
                        _ => PhoneSession::refuse_signature,
                    };
                match self
                    .session
                    .answer_with_keystore(decision, Arc::clone(&self.keystore))
                {
                    Ok(_) => Ok(()),
                    // The keystore's key or signature is not what was asked
                    // (wrong kind, does not verify): refused as the
                    // protocol says (a request then stays unsent).
                    Err(_) => refuse(self.session).map_err(misuse),
                }
            }
            PhoneDecision::StoreCertificate { certificate_der } => {
                match self.certificates.store_certificate(device, certificate_der) {
                    Ok(()) => self.session.answer_store(),
                    Err(_) => self.session.refuse_store(),
                }
                .map_err(misuse)
            }
            PhoneDecision::FetchCertificate => {
                let certificate = self.certificates.fetch_certificate(device).ok().flatten();
                self.session.answer_fetch(certificate).map_err(misuse)
            }
            PhoneDecision::DeleteCertificate => {
                let deleted = self
                    .certificates
                    .delete_certificate(device)
                    .unwrap_or(false);
                self.session.answer_delete(deleted).map_err(misuse)
            }
        }
    }
}

/// Runs the connection until it is over. `Ok(None)`: it ended without an
/// outcome (abandoned).
fn drive(
    stream: &mut TcpStream,
    connection: &mut TlsConnection<Shared<PhoneSession>>,
    host: &Host<'_>,
    clock: &HostClock,
    tls_failure: &mut Option<String>,
) -> Result<Option<core_phone::PhoneOutcome>, EnrollError> {
    let mut buffer = vec![0_u8; 16 * 1024];
    let mut read_ended = false;
    loop {
        while let Some(output) = connection.poll_output() {
            match output {
                ConnectionOutput::Transmit(bytes) => {
                    if stream.write_all(&bytes).is_err() {
                        read_ended = true;
                        connection.handle_transport_error();
                    }
                }
                ConnectionOutput::Need(decision) => {
                    let Some(decision) = crate::phone::decision_from_core(decision) else {
                        return Err(EnrollError::Misuse(
                            crate::phone::UNKNOWN_DECISION.to_owned(),
                        ));
                    };
                    host.decide(decision)?;
                }
                ConnectionOutput::TlsFailed(error) => {
                    *tls_failure = Some(describe_tls_failure(&error));
                }
                ConnectionOutput::Done(outcome) => return Ok(Some(outcome)),
                _ => return Ok(None),
            }
        }
        let deadline = connection.poll_timeout();
        if read_ended {
            // Nothing more to read: only a deadline can end it now.
            let Some(deadline) = deadline else {
                return Ok(None);
            };
            std::thread::sleep(Duration::from_millis(
                deadline.unix_millis().saturating_sub(now_millis()),
            ));
            tick(connection, clock);
            continue;
        }
        // Wait for bytes until the next deadline (or a minute without one:
        // the connection then reports whatever it is waiting for).
        let wait = deadline.map_or(60_000, |deadline| {
            deadline.unix_millis().saturating_sub(now_millis())
        });
        if wait == 0 {
            tick(connection, clock);
            continue;
        }
        if stream
            .set_read_timeout(Some(Duration::from_millis(wait)))
            .is_err()
        {
            read_ended = true;
            connection.handle_tcp_closed();
            continue;
        }
        match stream.read(&mut buffer) {
            Ok(0) => {
                read_ended = true;
                connection.handle_tcp_closed();
            }
            Ok(n) => connection.handle_tcp_input(buffer.get(..n).unwrap_or_default()),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                tick(connection, clock);
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(_) => {
                read_ended = true;
                connection.handle_tcp_closed();
            }
        }
    }
}

fn tick(connection: &mut TlsConnection<Shared<PhoneSession>>, clock: &HostClock) {
    let now = now_millis();
    clock.set(now);
    connection.handle_timeout(Timestamp::from_unix_millis(now));
}

/// The host clock, milliseconds since the Unix epoch.
fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
