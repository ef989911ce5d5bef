//! The one async driver ("pump") for every sans-IO session of the CLI.
//!
//! A session (CAPF server or phone, TVS server or client) reads and writes
//! plaintext frames and asks its host for decisions; a TLS transport
//! ([`TlsServerTransport`] or [`TlsClientTransport`]) turns TCP bytes into
//! plaintext and back. [`run`] moves bytes between a [`TcpStream`], the
//! transport and the session until the session is done:
//!
//! * every frame the session transmits is one TLS write, and each frame's
//!   TCP bytes go out in one `write_all`;
//! * frames are batched until the session asks for a decision, has nothing
//!   more to say, or ends (fewer TCP writes; correctness does not depend on
//!   it: a session asks its host to record whatever must be durable, e.g.
//!   the CAPF server's `RecordOutcome`, before it transmits the frame that
//!   depends on it);
//! * the session's own deadlines ([`Session::poll_timeout`]) are honoured,
//!   plus an optional TLS handshake deadline ([`PumpOptions`]);
//! * a TCP end, a TLS failure or a failed write is reported to the session
//!   ([`Session::handle_peer_closed`] / [`Session::handle_transport_error`]),
//!   which then ends with its own outcome;
//! * when the session is done, close_notify is sent and TCP is shut down.
//!
//! Every session of capf-core implements the one
//! [`capf_core::session::Session`] contract, so this one loop drives them
//! all; a [`Host`] answers each session's decisions.

use capf_core::session::{Output, Session};
use capf_core::time::Timestamp;
use capf_core::tls::{TlsClientTransport, TlsError, TlsServerTransport};
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

/// A TLS transport as the pump uses it: the common API of
/// [`TlsServerTransport`] and [`TlsClientTransport`].
pub(crate) trait Transport {
    /// TCP bytes in, plaintext out.
    fn receive_tcp(&mut self, bytes: &[u8]) -> Result<Vec<u8>, TlsError>;
    /// One whole frame as one TLS write.
    fn send_plaintext(&mut self, frame: &[u8]) -> Result<(), TlsError>;
    /// TCP bytes for the peer.
    fn take_tcp_output(&mut self) -> Vec<u8>;
    /// Queues close_notify.
    fn send_close_notify(&mut self);
    /// Whether the peer sent close_notify.
    fn peer_closed(&self) -> bool;
    /// The TCP stream ended.
    fn tcp_closed(&mut self) -> Result<(), TlsError>;
    /// Whether the handshake is still running.
    fn is_handshaking(&self) -> bool;
}

macro_rules! transport {
    ($name:ty) => {
        impl Transport for $name {
            fn receive_tcp(&mut self, bytes: &[u8]) -> Result<Vec<u8>, TlsError> {
                <$name>::receive_tcp(self, bytes)
            }
            fn send_plaintext(&mut self, frame: &[u8]) -> Result<(), TlsError> {
                <$name>::send_plaintext(self, frame)
            }
            fn take_tcp_output(&mut self) -> Vec<u8> {
                <$name>::take_tcp_output(self)
            }
            fn send_close_notify(&mut self) {
                <$name>::send_close_notify(self)
            }
            fn peer_closed(&self) -> bool {
                <$name>::peer_closed(self)
            }
            fn tcp_closed(&mut self) -> Result<(), TlsError> {
                <$name>::tcp_closed(self)
            }
            fn is_handshaking(&self) -> bool {
                <$name>::is_handshaking(self)
            }
        }
    };
}

transport!(TlsServerTransport);
transport!(TlsClientTransport);

/// Limits the pump enforces on top of the session's own deadlines.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PumpOptions {
    /// Close the connection if the TLS handshake has not completed within
    /// this time (the session is not told; [`run`] returns `Ok(None)`).
    pub(crate) handshake_timeout: Option<Duration>,
}

/// The TCP side: writes go out whole until one fails.
struct Link<'a> {
    stream: &'a mut TcpStream,
    broken: bool,
}

impl Link<'_> {
    /// Writes each buffer with one `write_all`; false once the stream failed.
    async fn write(&mut self, buffers: impl IntoIterator<Item = Vec<u8>>) -> bool {
        for bytes in buffers {
            if self.broken || bytes.is_empty() {
                continue;
            }
            if let Err(error) = self.stream.write_all(&bytes).await {
                tracing::debug!(%error, "write failed");
                self.broken = true;
            }
        }
        !self.broken
    }

    /// close_notify, then TCP shutdown (best effort).
    async fn close(&mut self, tls: &mut impl Transport) {
        tls.send_close_notify();
        self.write([tls.take_tcp_output()]).await;
        let _ = self.stream.shutdown().await;
    }
}

/// Drives `session` over `tls` on `stream` until it is done, answering its
/// decisions through `host`. Returns the outcome, or `None` when the
/// connection ended without one (handshake deadline passed, or a session
/// that neither ended nor has a deadline after the peer left). The stream
/// is shut down on return.
pub(crate) async fn run<S, T, H>(
    stream: &mut TcpStream,
    tls: &mut T,
    session: &mut S,
    host: &mut H,
    options: PumpOptions,
) -> Result<Option<S::Outcome>, H::Error>
where
    S: Session,
    T: Transport,
    H: Host<S>,
{
    let handshake_deadline = options
        .handshake_timeout
        // A limit too far away to represent (`--timeout` of u64::MAX
        // seconds) is no limit; `Instant + Duration` would panic.
        .and_then(|limit| tokio::time::Instant::now().checked_add(limit));
    let mut buffer = vec![0_u8; 16 * 1024];
    let mut link = Link {
        stream,
        broken: false,
    };
    let mut tcp_ended = false;
    loop {
        // TLS bytes of each frame, held until the session stops talking.
        let mut frames: Vec<Vec<u8>> = Vec::new();
        // An output taken to see whether a failure made a decision moot.
        let mut next: Option<Output<S::Decision, S::Outcome>> = None;
        while let Some(output) = next.take().or_else(|| session.poll_output()) {
            match output {
                Output::Transmit(frame) => match tls.send_plaintext(&frame) {
                    Ok(()) => frames.push(tls.take_tcp_output()),
                    Err(error) => {
                        tracing::debug!(%error, "TLS refused a frame");
                        host.tls_failed(&error);
                        session.handle_transport_error();
                    }
                },
                Output::Need(decision) => {
                    if !link.write(frames.drain(..)).await {
                        // The session learns of the failure first. If that
                        // ended its wait (something new comes out), the
                        // decision is moot; if not (the CAPF server
                        // recording its outcome), it is still answered: what
                        // must be recorded is recorded on a dead link too.
                        session.handle_transport_error();
                        if let Some(output) = session.poll_output() {
                            next = Some(output);
                            continue;
                        }
                    }
                    host.decide(session, decision).await?;
                }
                Output::Done(outcome) => {
                    link.write(frames).await;
                    link.close(tls).await;
                    return Ok(Some(outcome));
                }
                _ => {}
            }
        }
        frames.push(tls.take_tcp_output());
        if !link.write(frames).await {
            session.handle_transport_error();
            tcp_ended = true;
            continue;
        }
        let deadline = session.poll_timeout();
        let handshake = handshake_deadline.filter(|_| tls.is_handshaking());
        if tcp_ended && deadline.is_none() {
            let _ = link.stream.shutdown().await;
            return Ok(None);
        }
        tokio::select! {
            read = link.stream.read(&mut buffer), if !tcp_ended => match read {
                Ok(0) | Err(_) => {
                    tcp_ended = true;
                    let _ = tls.tcp_closed();
                    session.handle_peer_closed();
                }
                Ok(n) => match tls.receive_tcp(buffer.get(..n).unwrap_or_default()) {
                    Ok(plaintext) => {
                        if !plaintext.is_empty() {
                            session.handle_input(&plaintext);
                        }
                        if tls.peer_closed() {
                            session.handle_peer_closed();
                        }
                    }
                    Err(error) => {
                        tracing::info!(%error, "TLS failed");
                        host.tls_failed(&error);
                        // The alert rustls queued, then no more reading.
                        link.write([tls.take_tcp_output()]).await;
                        tcp_ended = true;
                        session.handle_transport_error();
                    }
                },
            },
            () = tokio::time::sleep_until(instant_of(deadline)), if deadline.is_some() => {
                session.handle_timeout(now());
            }
            () = sleep_until_some(handshake), if handshake.is_some() => {
                tracing::info!("TLS handshake not completed in time: connection closed");
                let _ = link.stream.shutdown().await;
                return Ok(None);
            }
        }
    }
}

/// Sleeps until `deadline` (forever when there is none; guarded by the
/// caller's `if`).
async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
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
