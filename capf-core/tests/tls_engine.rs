//! `TlsConnection` over an engine that is not rustls: the host rules live
//! in the connection, not in the engine. A scripted engine (no
//! cryptography: ciphertext is the plaintext behind a one-byte record tag)
//! records every call, so these tests see exactly what the connection asks
//! of any engine (an OpenSSL one, a platform one): one `send_plaintext` per
//! session frame, close_notify after the last frame and before `Done`, the
//! handshake deadline from `is_handshaking`, and an engine failure reported
//! as `TlsFailed` with the engine's words and told to the session.

use core::time::Duration;

use capf_core::connection::{ConnectionOptions, ConnectionOutput, TlsConnection, TlsEngine};
use capf_core::session::Output;

use capf_core::time::Timestamp;
use capf_core::tls::TlsError;
use capf_core::tls::rustls::ProtocolVersion;
use capf_core::tvs::{
    KnownCertificate, TvsClientConfig, TvsClientSession, TvsServerConfig, TvsServerDecision,
    TvsServerSession,
};

/// What the connection asked of the engine, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Send(Vec<u8>),
    CloseNotify,
}

/// A scripted engine: handshaking until `finish_handshake`, input bytes
/// are plaintext, each sent frame becomes `[0x17] ‖ frame`, close_notify
/// becomes `[0x15]`; `fail_next_input` makes the next input a TLS failure.
#[derive(Debug, Default)]
struct ScriptedEngine {
    handshaking: bool,
    fail_next_input: bool,
    failed: bool,
    out: Vec<u8>,
    calls: Vec<Call>,
}

impl TlsEngine for ScriptedEngine {
    fn receive_tcp(&mut self, bytes: &[u8]) -> Result<Vec<u8>, TlsError> {
        if self.fail_next_input || self.failed {
            self.failed = true;
            // An alert for the peer, as a real engine queues one.
            self.out.push(0x15);
            return Err(TlsError::Engine("scripted: bad record MAC".into()));
        }
        Ok(bytes.to_vec())
    }
    fn send_plaintext(&mut self, frame: &[u8]) -> Result<(), TlsError> {
        self.calls.push(Call::Send(frame.to_vec()));
        self.out.push(0x17);
        self.out.extend_from_slice(frame);
        Ok(())
    }
    fn take_tcp_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }
    fn has_tcp_output(&self) -> bool {
        !self.out.is_empty()
    }
    fn send_close_notify(&mut self) {
        self.calls.push(Call::CloseNotify);
        self.out.push(0x15);
    }
    fn peer_closed(&self) -> bool {
        false
    }
    fn tcp_closed(&mut self) -> Result<(), TlsError> {
        Err(TlsError::Truncated)
    }
    fn is_handshaking(&self) -> bool {
        self.handshaking
    }
    fn protocol_version(&self) -> Option<ProtocolVersion> {
        (!self.handshaking).then_some(ProtocolVersion::TLSv1_0)
    }
    fn peer_certificates(&self) -> Option<Vec<Vec<u8>>> {
        None
    }
    fn cipher_suite_name(&self) -> Option<String> {
        (!self.handshaking).then(|| "SCRIPTED-CBC-SHA".to_owned())
    }
}

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(1_800_000_000)
}

/// A TVS request frame as a real client sends it (a self-signed P-256
/// certificate from the fixtures is the certificate asked about).
fn request() -> Vec<u8> {
    let pem = include_str!("fixtures/issuer-ec-p256.cert.pem");
    let (_, der) = der::pem::decode_vec(pem.as_bytes()).unwrap();
    let mut client = TvsClientSession::new(
        TvsClientConfig::new(7, "CP-7960G-SEP001122334455", der),
        now(),
    )
    .unwrap();
    match client.poll_output() {
        Some(Output::Transmit(frame)) => frame,
        other => panic!("the client sends its request first: {other:?}"),
    }
}

fn server(
    engine: ScriptedEngine,
    options: ConnectionOptions,
) -> TlsConnection<TvsServerSession, ScriptedEngine> {
    TlsConnection::with_engine(
        engine,
        TvsServerSession::new(TvsServerConfig::default(), now()),
        options,
        now(),
    )
}

/// Drains the connection, answering the lookup as known; returns every
/// output kind in order (Transmit bytes kept).
fn drain(connection: &mut TlsConnection<TvsServerSession, ScriptedEngine>) -> Vec<String> {
    let mut seen = Vec::new();
    while let Some(output) = connection.poll_output() {
        seen.push(match output {
            ConnectionOutput::Transmit(bytes) => format!("transmit {}", hex::encode(bytes)),
            ConnectionOutput::Need(TvsServerDecision::LookUpCertificate { .. }) => {
                connection
                    .session_mut()
                    .answer_lookup(Some(KnownCertificate::new(Vec::new(), 60)))
                    .unwrap();
                "need lookup".into()
            }
            ConnectionOutput::TlsFailed(error) => format!("tls failed {error}"),
            ConnectionOutput::Done(outcome) => format!("done {:?}", outcome.result),
            ConnectionOutput::Abandoned(reason) => format!("abandoned {reason:?}"),
            _ => "other".into(),
        });
    }
    seen
}

#[test]
fn one_send_per_frame_then_close_notify_then_done() {
    let mut connection = server(ScriptedEngine::default(), ConnectionOptions::default());
    assert!(
        drain(&mut connection).is_empty(),
        "nothing before the request"
    );
    let request = request();
    // Any chunking of the input.
    let (first, rest) = request.split_at(3);
    connection.handle_tcp_input(first);
    assert!(drain(&mut connection).is_empty());
    connection.handle_tcp_input(rest);
    let seen = drain(&mut connection);
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(seen[0], "need lookup");
    // The response frame: one engine write, one Transmit, its record
    // alone (the tag and the whole frame).
    let Call::Send(frame) = connection_calls(&connection)[0].clone() else {
        panic!("the first call is the response frame");
    };
    assert_eq!(seen[1], format!("transmit 17{}", hex::encode(&frame)));
    // close_notify in its own Transmit, before Done.
    assert_eq!(seen[2], "transmit 15");
    assert!(seen[3].starts_with("done Valid"), "{seen:?}");
    assert_eq!(
        connection_calls(&connection),
        vec![Call::Send(frame), Call::CloseNotify]
    );
    assert!(connection.is_done());
    assert_eq!(connection.poll_timeout(), None);
    assert_eq!(
        connection.cipher_suite_name().as_deref(),
        Some("SCRIPTED-CBC-SHA")
    );
}

fn connection_calls(connection: &TlsConnection<TvsServerSession, ScriptedEngine>) -> Vec<Call> {
    connection.engine().calls.clone()
}

#[test]
fn the_handshake_deadline_follows_the_engine() {
    let engine = ScriptedEngine {
        handshaking: true,
        ..ScriptedEngine::default()
    };
    let options = ConnectionOptions::with_handshake_timeout(Some(Duration::from_secs(5)));
    let mut connection = server(engine, options);
    let deadline = now().plus_millis(5_000);
    // The session's own deadline (its request timeout) is later.
    assert_eq!(connection.poll_timeout(), Some(deadline));
    connection.handle_timeout(now().plus_millis(4_999));
    assert!(drain(&mut connection).is_empty());
    connection.handle_timeout(deadline);
    assert_eq!(drain(&mut connection), vec!["abandoned HandshakeTimeout"]);
    assert!(connection.engine().calls.is_empty(), "nothing was sent");
}

#[test]
fn a_finished_handshake_lifts_the_deadline() {
    let engine = ScriptedEngine::default();
    let options = ConnectionOptions::with_handshake_timeout(Some(Duration::from_secs(5)));
    let connection = server(engine, options);
    // Not handshaking: only the session's deadline is left, and it is not
    // the handshake's.
    assert_ne!(connection.poll_timeout(), Some(now().plus_millis(5_000)));
    assert!(connection.poll_timeout().is_some());
}

#[test]
fn an_engine_failure_is_reported_with_its_words_and_told_to_the_session() {
    let engine = ScriptedEngine {
        fail_next_input: true,
        ..ScriptedEngine::default()
    };
    let mut connection = server(engine, ConnectionOptions::default());
    connection.handle_tcp_input(b"garbage");
    let seen = drain(&mut connection);
    // The engine's alert first, then its readable cause, then the
    // session's own end (it was told the transport failed).
    assert_eq!(seen[0], "transmit 15", "{seen:?}");
    assert_eq!(seen[1], "tls failed TLS: scripted: bad record MAC");
    assert!(seen[2].starts_with("done SilentClose"), "{seen:?}");
    assert!(connection.session().poll_timeout().is_none());
    // No frame and no close_notify after the fatal alert.
    assert!(
        !connection.engine().calls.contains(&Call::CloseNotify),
        "{:?}",
        connection.engine().calls
    );
}
