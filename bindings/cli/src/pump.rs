//! The one async driver ("pump") for every sans-IO session of the CLI: a
//! thin tokio loop over [`TlsConnection`].
//!
//! Every rule of driving a session over TLS (one frame per record, the
//! handshake deadline, peer close and TLS failures reported to the session,
//! close_notify at the end, the session's order kept so the CAPF server's
//! `RecordOutcome` is answered before its final END_SESSION leaves) lives in
//! capf-core's [`TlsConnection`], where a Python or JVM host finds it too.
//! This loop only moves TCP bytes, honours
//! [`TlsConnection::poll_timeout`] and hands each decision to a [`Host`].
//! It drives a connection over any [`TlsEngine`] (rustls, or OpenSSL for
//! `capf serve --legacy-tls`) the same way.

use capf_core::connection::{Abandonment, ConnectionOutput, TlsConnection, TlsEngine};
use capf_core::session::Session;
use capf_core::time::Timestamp;
use capf_core::tls::TlsError;
use capf_core::tls::rustls::ProtocolVersion;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The host's part: answering decisions.
pub(crate) trait Host<S: Session> {
    /// An error that stops the pump (the host cannot go on).
    type Error;
    /// Answers `decision` through `session`'s typed answer methods.
    async fn decide(&mut self, session: &mut S, decision: S::Decision) -> Result<(), Self::Error>;
    /// TLS failed (a refused certificate, a bad record): the session only
    /// learns "transport failure", the host may keep the reason to report.
    fn tls_failed(&mut self, _error: &TlsError) {}
}

/// Drives `connection` on `stream` until it is over, answering its
/// session's decisions through `host`. Returns the session's outcome, or
/// `None` when the connection ended without one (handshake deadline passed,
/// or a session that neither ended nor has a deadline after the peer left).
/// The stream is shut down on return.
pub(crate) async fn run<S, E, H>(
    stream: &mut TcpStream,
    connection: &mut TlsConnection<S, E>,
    host: &mut H,
) -> Result<Option<S::Outcome>, H::Error>
where
    S: Session,
    E: TlsEngine,
    H: Host<S>,
{
    let mut buffer = vec![0_u8; 16 * 1024];
    // TLS bytes of consecutive `Transmit`s, written at once (one send for a
    // handshake flight, or for END_SESSION and close_notify).
    let mut outgoing = Vec::new();
    let mut read_ended = false;
    let mut established = false;
    // One timer for the whole connection, moved only when the deadline
    // changes (most turns keep it): a new timer per turn would be
    // registered in and removed from tokio's timer wheel every time.
    let timer = tokio::time::sleep_until(instant_of(None));
    tokio::pin!(timer);
    let mut armed_for = None;
    loop {
        if !established && !connection.is_handshaking() {
            established = true;
            log_established(connection);
        }
        while let Some(output) = connection.poll_output() {
            match output {
                ConnectionOutput::Transmit(bytes) if outgoing.is_empty() => outgoing = bytes,
                ConnectionOutput::Transmit(bytes) => outgoing.extend_from_slice(&bytes),
                ConnectionOutput::Need(decision) => {
                    // What is ready goes out before the host's answer,
                    // which may take time.
                    flush(stream, connection, &mut outgoing, &mut read_ended).await;
                    host.decide(connection.session_mut(), decision).await?;
                }
                ConnectionOutput::TlsFailed(error) => {
                    tracing::info!(%error, "TLS failed");
                    if peer_too_old(&error) {
                        tracing::warn!(
                            "TLS handshake refused: the peer offers only what rustls refuses \
                             (TLS 1.0/1.1, CBC or RSA key-exchange suites); a phone that speaks \
                             nothing newer needs `capf serve --legacy-tls`"
                        );
                    }
                    host.tls_failed(&error);
                }
                ConnectionOutput::Done(outcome) => {
                    flush(stream, connection, &mut outgoing, &mut read_ended).await;
                    let _ = stream.shutdown().await;
                    return Ok(Some(outcome));
                }
                ConnectionOutput::Abandoned(reason) => {
                    if reason == Abandonment::HandshakeTimeout {
                        tracing::info!("TLS handshake not completed in time: connection closed");
                    } else {
                        tracing::info!(?reason, "connection ended without an outcome");
                    }
                    flush(stream, connection, &mut outgoing, &mut read_ended).await;
                    let _ = stream.shutdown().await;
                    return Ok(None);
                }
                _ => {}
            }
        }
        if !outgoing.is_empty() {
            flush(stream, connection, &mut outgoing, &mut read_ended).await;
            // A failed write is news for the connection: poll again.
            continue;
        }
        let deadline = connection.poll_timeout();
        if deadline.is_some() && deadline != armed_for {
            timer.as_mut().reset(instant_of(deadline));
        }
        armed_for = deadline;
        tokio::select! {
            read = stream.read(&mut buffer), if !read_ended => match read {
                Ok(0) | Err(_) => {
                    read_ended = true;
                    connection.handle_tcp_closed();
                }
                Ok(n) => connection.handle_tcp_input(buffer.get(..n).unwrap_or_default()),
            },
            () = &mut timer, if deadline.is_some() => {
                // Spent: armed again at the next turn, whatever the deadline.
                armed_for = None;
                connection.handle_timeout(now());
            }
            else => {
                // Nothing to read and no deadline: the connection reports
                // this as abandoned; never wait forever.
                let _ = stream.shutdown().await;
                return Ok(None);
            }
        }
    }
}

/// Writes `outgoing` (then empties it); a failed write ends reading and is
/// reported to the connection as a transport error.
async fn flush<S: Session, E: TlsEngine>(
    stream: &mut TcpStream,
    connection: &mut TlsConnection<S, E>,
    outgoing: &mut Vec<u8>,
    read_ended: &mut bool,
) {
    if outgoing.is_empty() {
        return;
    }
    if let Err(error) = stream.write_all(outgoing).await {
        tracing::debug!(%error, "write failed");
        *read_ended = true;
        connection.handle_transport_error();
    }
    outgoing.clear();
}

/// One line per connection once TLS is up: at info for a legacy
/// connection (TLS 1.0/1.1, or a suite without AEAD), so an operator sees
/// which phones still need `--legacy-tls`; at debug otherwise.
fn log_established<S: Session, E: TlsEngine>(connection: &TlsConnection<S, E>) {
    let version = connection.protocol_version();
    let suite = connection.cipher_suite_name().unwrap_or_default();
    let old_version = matches!(
        version,
        Some(ProtocolVersion::TLSv1_0 | ProtocolVersion::TLSv1_1 | ProtocolVersion::SSLv3)
    );
    let aead = ["GCM", "CHACHA20", "CCM"]
        .iter()
        .any(|mode| suite.contains(mode));
    let version = version.map(|v| format!("{v:?}")).unwrap_or_default();
    if old_version || !aead {
        tracing::info!(%version, %suite, "legacy TLS established");
    } else {
        tracing::debug!(%version, %suite, "TLS established");
    }
}

/// Whether rustls refused the peer for offering only old TLS (versions,
/// suites or extensions rustls does not implement): the case
/// `--legacy-tls` exists for.
fn peer_too_old(error: &TlsError) -> bool {
    matches!(
        error,
        TlsError::Protocol(capf_core::tls::rustls::Error::PeerIncompatible(_))
    )
}

/// The TLS server name for `server` (`host:port`): its host part if that is
/// a DNS name or an IP address, else `fallback` (the verifiers check no
/// names; rustls only needs a well-formed one).
pub(crate) fn usable_server_name(server: &str, fallback: &str) -> String {
    if let Ok(address) = server.parse::<std::net::SocketAddr>() {
        return address.ip().to_string();
    }
    let name = server
        .rsplit_once(':')
        .map_or(server, |(host, _)| host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    if capf_core::tls::rustls::pki_types::ServerName::try_from(name).is_ok() {
        name.to_owned()
    } else {
        fallback.to_owned()
    }
}

/// The host clock as the sessions see it.
pub(crate) fn now() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Timestamp::from_unix_millis(millis)
}

/// The tokio instant of a session deadline (far away when there is none).
pub(crate) fn instant_of(deadline: Option<Timestamp>) -> tokio::time::Instant {
    let current = now().unix_millis();
    let wait = match deadline {
        Some(deadline) => deadline.unix_millis().saturating_sub(current),
        None => 86_400_000,
    };
    let now = tokio::time::Instant::now();
    // Saturates like `Timestamp::plus_millis`: `Instant + Duration` panics
    // past what the clock can represent.
    // (u64::MAX ms fits the monotonic clocks of the supported platforms, so
    // the fallbacks are never reached there.)
    now.checked_add(Duration::from_millis(wait))
        .or_else(|| now.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(now)
}
