//! `capf_core::connection::TlsConnection`: all four sessions over real TLS
//! in memory (CAPF phone ↔ server, TVS client ↔ server) with one generic
//! driver that only moves TCP bytes and answers decisions; the handshake
//! deadline (time passed in, no sleeping); one frame per TLS record; a peer
//! that drops the connection; garbage TCP bytes give a TLS error, never a
//! panic (seeded property).

mod phone_support;
mod property_support;

use capf_core::capf::codec::{Curve, Reason};
use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::phone::{
    PhoneConfig, PhoneCredentials, PhoneDecision, PhoneOutcome, PhoneSession,
};
use capf_core::capf::server::{
    AuthMode, DeviceRecord, Operation, ServerConfig, ServerDecision, ServerOutcome, ServerSession,
    SessionResult,
};
use capf_core::connection::{Abandonment, ConnectionOptions, ConnectionOutput, TlsConnection};
use capf_core::session::{DecisionKind, Output, Session};
use capf_core::time::Timestamp;
use capf_core::tls::{
    PinnedVerifier, TlsError, TlsVersions, client_config, server_config_with_versions,
};
use capf_core::tvs::{
    KnownCertificate, TvsClientConfig, TvsClientResult, TvsClientSession, TvsServerConfig,
    TvsServerDecision, TvsServerResult, TvsServerSession,
};
use ctl_format::trust_list::Role;
use phone_support::{T0, Vector};
use proptest::prelude::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;
use std::time::Duration;

const SERVER_ID: u32 = 0x0A0B_0C0D;
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// The server's real certificate and key (the fixtures' P-256 issuer, a
/// CA:TRUE certificate like a CAPF certificate, pinned by the client).
fn server_credential() -> (Vec<u8>, Vec<u8>) {
    let certificate =
        CertificateDer::from_pem_file(format!("{FIXTURES}/issuer-ec-p256.cert.pem")).unwrap();
    let key = PrivateKeyDer::from_pem_file(format!("{FIXTURES}/issuer-ec-p256.key.pem")).unwrap();
    (certificate.to_vec(), key.secret_der().to_vec())
}

/// A server and a client TLS configuration (`versions` on the server side).
fn tls_configs(versions: TlsVersions) -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let (certificate, key) = server_credential();
    let server =
        server_config_with_versions(std::slice::from_ref(&certificate), &key, versions).unwrap();
    let client = client_config(
        PinnedVerifier::new(&[certificate]).unwrap(),
        TlsVersions::default(),
    )
    .unwrap();
    (server, client)
}

/// What one side of a run produced.
struct Side<O> {
    outcome: Option<O>,
    abandoned: Option<Abandonment>,
    tls_failures: Vec<String>,
    decisions: Vec<DecisionKind>,
    /// Every `Transmit`, in order.
    transmits: Vec<Vec<u8>>,
}

impl<O> Default for Side<O> {
    fn default() -> Self {
        Self {
            outcome: None,
            abandoned: None,
            tls_failures: Vec::new(),
            decisions: Vec::new(),
            transmits: Vec::new(),
        }
    }
}

impl<O> Side<O> {
    fn over(&self) -> bool {
        self.outcome.is_some() || self.abandoned.is_some()
    }
}

/// Drains `connection` as a host does; returns the TCP bytes for the peer.
fn drain<S: Session>(
    connection: &mut TlsConnection<S>,
    host: &mut impl FnMut(&mut S, S::Decision),
    side: &mut Side<S::Outcome>,
) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(output) = connection.poll_output() {
        assert!(!side.over(), "nothing after the last item");
        match output {
            ConnectionOutput::Transmit(bytes) => {
                assert!(!bytes.is_empty());
                side.transmits.push(bytes.clone());
                out.push(bytes);
            }
            ConnectionOutput::Need(decision) => {
                let kind = connection.session().pending_decision().unwrap();
                side.decisions.push(kind);
                host(connection.session_mut(), decision);
            }
            ConnectionOutput::TlsFailed(error) => side.tls_failures.push(error.to_string()),
            ConnectionOutput::Done(outcome) => {
                assert!(connection.is_done());
                assert_eq!(connection.poll_timeout(), None);
                side.outcome = Some(outcome);
            }
            ConnectionOutput::Abandoned(reason) => {
                assert!(connection.is_done());
                side.abandoned = Some(reason);
            }
            _ => panic!("an output this host does not know"),
        }
    }
    out
}

/// The one generic driver: two connections joined by in-memory TCP. A side
/// that is over shuts its TCP down; the other then sees EOF.
fn drive<A: Session, B: Session>(
    a: &mut TlsConnection<A>,
    b: &mut TlsConnection<B>,
    mut host_a: impl FnMut(&mut A, A::Decision),
    mut host_b: impl FnMut(&mut B, B::Decision),
) -> (Side<A::Outcome>, Side<B::Outcome>) {
    let mut side_a = Side::default();
    let mut side_b = Side::default();
    let (mut a_closed, mut b_closed) = (false, false);
    for _ in 0..10_000 {
        let to_b = drain(a, &mut host_a, &mut side_a);
        let moved_a = !to_b.is_empty();
        for bytes in to_b {
            b.handle_tcp_input(&bytes);
        }
        let to_a = drain(b, &mut host_b, &mut side_b);
        let moved_b = !to_a.is_empty();
        for bytes in to_a {
            a.handle_tcp_input(&bytes);
        }
        if moved_a || moved_b {
            continue;
        }
        if side_a.over() && !b_closed && !side_b.over() {
            b_closed = true;
            b.handle_tcp_closed();
        } else if side_b.over() && !a_closed && !side_a.over() {
            a_closed = true;
            a.handle_tcp_closed();
        } else if side_a.over() && side_b.over() {
            return (side_a, side_b);
        } else {
            panic!("the run is stuck");
        }
    }
    panic!("the run does not end");
}

fn install_vector() -> (String, Vec<u8>, Vec<u8>) {
    let vector = Vector::load("install-nullstring-ec-p256");
    (
        vector.str("device_name").to_owned(),
        vector.recorded_public_key().unwrap(),
        vector.pem_der("issued_certificate"),
    )
}

/// A CAPF server host answering from `operation` and a phone holding
/// `held`, over TLS (`versions` on the server).
fn capf_run(
    operation: Operation,
    held: Option<Vec<u8>>,
    versions: TlsVersions,
) -> (Side<ServerOutcome>, Side<PhoneOutcome>) {
    let (device, spki, issued) = install_vector();
    let (server_tls, client_tls) = tls_configs(versions);
    let options = ConnectionOptions::with_handshake_timeout(Some(Duration::from_secs(10)));
    let mut server = TlsConnection::server(
        server_tls,
        ServerSession::new(ServerConfig::new(SERVER_ID), T0),
        options,
        T0,
    )
    .unwrap();
    let config = PhoneConfig::new(device.clone(), PhoneCredentials::NullString).unwrap();
    let mut phone = TlsConnection::client(
        client_tls,
        "capf.example",
        PhoneSession::new(config, T0),
        options,
        T0,
    )
    .unwrap();
    drive(
        &mut server,
        &mut phone,
        |server: &mut ServerSession, decision| match decision {
            ServerDecision::LookUpDevice { .. } => server
                .answer_device(Some(DeviceRecord::new(
                    &device,
                    operation,
                    AuthMode::NullString,
                )))
                .unwrap(),
            ServerDecision::IssueCertificate { .. } => {
                server.answer_certificate(issued.clone()).unwrap()
            }
            ServerDecision::RecordPendingCertificate { .. } => {
                server.answer_pending_recorded().unwrap()
            }
            ServerDecision::RecordOutcome { .. } => server.answer_outcome_recorded().unwrap(),
            other => panic!("{other:?}"),
        },
        |phone: &mut PhoneSession, decision| match decision {
            PhoneDecision::GenerateKey(_) => phone.answer_key(spki.clone()).unwrap(),
            PhoneDecision::StoreCertificate { .. } => phone.answer_store().unwrap(),
            PhoneDecision::FetchCertificate => phone.answer_fetch(held.clone()).unwrap(),
            PhoneDecision::DeleteCertificate => phone.answer_delete(held.is_some()).unwrap(),
            other => panic!("{other:?}"),
        },
    )
}

#[test]
fn capf_phone_and_server_run_every_operation_over_tls() {
    let (_, _, issued) = install_vector();
    for versions in [TlsVersions::Tls12Only, TlsVersions::Tls13Only] {
        let (server, phone) = capf_run(
            Operation::Install(KeyRequest::Ec(Curve::P256)),
            None,
            versions,
        );
        let outcome = server.outcome.unwrap();
        assert_eq!(
            outcome.result,
            SessionResult::Installed {
                certificate_der: issued.clone()
            }
        );
        assert!(outcome.recorded);
        assert_eq!(
            server.decisions,
            [
                DecisionKind::LookUpDevice,
                DecisionKind::IssueCertificate,
                DecisionKind::RecordPendingCertificate,
                DecisionKind::RecordOutcome
            ]
        );
        assert!(server.tls_failures.is_empty(), "{:?}", server.tls_failures);
        assert_eq!(
            phone.outcome.unwrap(),
            PhoneOutcome::Installed {
                certificate_der: issued.clone()
            }
        );
        assert_eq!(
            phone.decisions,
            [DecisionKind::GenerateKey, DecisionKind::StoreCertificate]
        );
    }

    let (server, phone) = capf_run(
        Operation::Fetch,
        Some(issued.clone()),
        TlsVersions::default(),
    );
    assert_eq!(
        server.outcome.unwrap().result,
        SessionResult::Fetched {
            certificate_der: issued.clone()
        }
    );
    assert_eq!(
        phone.outcome.unwrap(),
        PhoneOutcome::FetchCompleted {
            certificate_sent: true
        }
    );

    let (server, phone) = capf_run(
        Operation::Delete,
        Some(issued.clone()),
        TlsVersions::default(),
    );
    assert_eq!(server.outcome.unwrap().result, SessionResult::Deleted);
    assert_eq!(
        phone.outcome.unwrap(),
        PhoneOutcome::Deleted {
            certificate_was_present: true
        }
    );

    let (server, phone) = capf_run(Operation::None, None, TlsVersions::default());
    assert_eq!(server.outcome.unwrap().result, SessionResult::NothingToDo);
    assert_eq!(
        phone.outcome.unwrap(),
        PhoneOutcome::NothingToDo {
            reason: Reason::NoAction
        }
    );
}

#[test]
fn tvs_client_and_server_run_over_tls() {
    let (_, _, certificate) = install_vector();
    for known in [true, false] {
        let (server_tls, client_tls) = tls_configs(TlsVersions::default());
        let options = ConnectionOptions::default();
        let mut server = TlsConnection::server(
            server_tls,
            TvsServerSession::new(TvsServerConfig::default(), T0),
            options,
            T0,
        )
        .unwrap();
        let config = TvsClientConfig::new(7, "CP-8845-SEP001122334455", certificate.clone());
        let mut client = TlsConnection::client(
            client_tls,
            "tvs.example",
            TvsClientSession::new(config, T0).unwrap(),
            options,
            T0,
        )
        .unwrap();
        let (client_side, server_side) = drive(
            &mut client,
            &mut server,
            |_: &mut TvsClientSession, _| panic!("the TVS client asks nothing"),
            |server: &mut TvsServerSession, decision| {
                let TvsServerDecision::LookUpCertificate { .. } = decision else {
                    panic!("{decision:?}")
                };
                let record = known.then(|| KnownCertificate::new(vec![Role::Tvs], 60));
                server.answer_lookup(record).unwrap();
            },
        );
        assert_eq!(server_side.decisions, [DecisionKind::LookUpCertificate]);
        let client_result = client_side.outcome.unwrap().result;
        let server_result = server_side.outcome.unwrap().result;
        if known {
            assert_eq!(
                client_result,
                TvsClientResult::Valid {
                    roles: vec![Role::Tvs],
                    ttl: Some(60)
                }
            );
            assert!(matches!(server_result, TvsServerResult::Valid { .. }));
        } else {
            assert_eq!(client_result, TvsClientResult::Invalid);
            assert!(matches!(server_result, TvsServerResult::Invalid(_)));
        }
    }
}

#[test]
fn the_handshake_deadline_fires_with_time_passed_in() {
    let (server_tls, _) = tls_configs(TlsVersions::default());
    let options = ConnectionOptions::with_handshake_timeout(Some(Duration::from_secs(5)));
    let mut server = TlsConnection::server(
        server_tls,
        TvsServerSession::new(TvsServerConfig::default(), T0),
        options,
        T0,
    )
    .unwrap();
    let deadline = T0.plus_seconds(5);
    // The TVS server has a request deadline of its own; the earlier one is due.
    let due = server.poll_timeout().unwrap();
    assert!(due <= deadline, "{due:?} after the handshake deadline");
    assert!(
        server.poll_output().is_none(),
        "a server waits for the ClientHello"
    );

    // Early: nothing happens.
    server.handle_timeout(T0.plus_seconds(4));
    assert!(server.poll_output().is_none());
    assert!(!server.is_done());

    server.handle_timeout(deadline);
    assert!(server.is_done());
    assert!(matches!(
        server.poll_output(),
        Some(ConnectionOutput::Abandoned(Abandonment::HandshakeTimeout))
    ));
    assert!(server.poll_output().is_none());
    assert_eq!(server.poll_timeout(), None);
    // The session was never told anything.
    assert!(!server.session().is_done());
    // Bytes after the end change nothing.
    server.handle_tcp_input(&[22, 3, 1, 0, 1, 0]);
    assert!(server.poll_output().is_none());
}

#[test]
fn the_handshake_deadline_ends_once_the_handshake_completes() {
    let (_, _, issued) = install_vector();
    let (server_tls, client_tls) = tls_configs(TlsVersions::default());
    let options = ConnectionOptions::with_handshake_timeout(Some(Duration::from_secs(5)));
    let mut server = TlsConnection::server(
        server_tls,
        TvsServerSession::new(TvsServerConfig::default(), T0),
        options,
        T0,
    )
    .unwrap();
    assert_eq!(
        server.poll_timeout().map(|t| t <= T0.plus_seconds(5)),
        Some(true)
    );
    let config = TvsClientConfig::new(7, "CP-8845-SEP001122334455", issued);
    // A client that never sends its request until asked: move only the
    // handshake by hand.
    let mut client = TlsConnection::client(
        client_tls,
        "tvs.example",
        TvsClientSession::new(config, T0).unwrap(),
        options,
        T0,
    )
    .unwrap();
    let mut server_side = Side::default();
    let mut client_side = Side::default();
    let mut no_decision = |_: &mut TvsServerSession, _| {};
    let mut no_client_decision = |_: &mut TvsClientSession, _| {};
    // Handshake only: stop as soon as the server finished it.
    for _ in 0..10 {
        for bytes in drain(&mut client, &mut no_client_decision, &mut client_side) {
            server.handle_tcp_input(&bytes);
        }
        if !server.is_handshaking() {
            break;
        }
        for bytes in drain(&mut server, &mut no_decision, &mut server_side) {
            client.handle_tcp_input(&bytes);
        }
    }
    assert!(!server.is_handshaking());
    // Past the handshake deadline the connection does not end for it: only
    // the session's own deadline counts now.
    assert_eq!(server.poll_timeout(), server.session().poll_timeout());
}

/// A session that counts the frames it transmits (length of each).
struct Counting<S> {
    inner: S,
    frames: Vec<usize>,
}

impl<S: Session> Session for Counting<S> {
    type Decision = S::Decision;
    type Outcome = S::Outcome;
    fn handle_input(&mut self, bytes: &[u8]) {
        self.inner.handle_input(bytes)
    }
    fn poll_output(&mut self) -> Option<Output<S::Decision, S::Outcome>> {
        let output = self.inner.poll_output();
        if let Some(Output::Transmit(frame)) = &output {
            self.frames.push(frame.len());
        }
        output
    }
    fn handle_timeout(&mut self, now: Timestamp) {
        self.inner.handle_timeout(now)
    }
    fn poll_timeout(&self) -> Option<Timestamp> {
        self.inner.poll_timeout()
    }
    fn handle_peer_closed(&mut self) {
        self.inner.handle_peer_closed()
    }
    fn handle_transport_error(&mut self) {
        self.inner.handle_transport_error()
    }
    fn is_done(&self) -> bool {
        self.inner.is_done()
    }
    fn pending_decision(&self) -> Option<DecisionKind> {
        self.inner.pending_decision()
    }
}

/// A CAPF server and a null-string phone `device` over TLS (`versions` on
/// the server side), each session counting the frames it sends.
fn counted_null_string_pair(
    versions: TlsVersions,
    device: &str,
) -> (
    TlsConnection<Counting<ServerSession>>,
    TlsConnection<Counting<PhoneSession>>,
) {
    let (server_tls, client_tls) = tls_configs(versions);
    let options = ConnectionOptions::default();
    let server = TlsConnection::server(
        server_tls,
        Counting {
            inner: ServerSession::new(ServerConfig::new(SERVER_ID), T0),
            frames: Vec::new(),
        },
        options,
        T0,
    )
    .unwrap();
    let config = PhoneConfig::new(device.to_owned(), PhoneCredentials::NullString).unwrap();
    let phone = TlsConnection::client(
        client_tls,
        "capf.example",
        Counting {
            inner: PhoneSession::new(config, T0),
            frames: Vec::new(),
        },
        options,
        T0,
    )
    .unwrap();
    (server, phone)
}

/// (content type, body length) of each TLS record in `bytes`.
fn records(mut bytes: &[u8]) -> Vec<(u8, usize)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        assert!(bytes.len() >= 5, "truncated record header");
        let length = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
        out.push((bytes[0], length));
        bytes = &bytes[5 + length..];
    }
    out
}

const APPLICATION_DATA: u8 = 23;

#[test]
fn each_frame_is_exactly_one_application_data_record() {
    // TLS 1.2 shows the content types on the wire (1.3 hides them).
    let (device, spki, issued) = install_vector();
    let (mut server, mut phone) = counted_null_string_pair(TlsVersions::Tls12Only, &device);
    let (server_side, phone_side) = drive(
        &mut server,
        &mut phone,
        |server: &mut Counting<ServerSession>, decision| {
            let server = &mut server.inner;
            match decision {
                ServerDecision::LookUpDevice { .. } => server
                    .answer_device(Some(DeviceRecord::new(
                        &device,
                        Operation::Install(KeyRequest::Ec(Curve::P256)),
                        AuthMode::NullString,
                    )))
                    .unwrap(),
                ServerDecision::IssueCertificate { .. } => {
                    server.answer_certificate(issued.clone()).unwrap()
                }
                ServerDecision::RecordPendingCertificate { .. } => {
                    server.answer_pending_recorded().unwrap()
                }
                ServerDecision::RecordOutcome { .. } => server.answer_outcome_recorded().unwrap(),
                other => panic!("{other:?}"),
            }
        },
        |phone: &mut Counting<PhoneSession>, decision| {
            let phone = &mut phone.inner;
            match decision {
                PhoneDecision::GenerateKey(_) => phone.answer_key(spki.clone()).unwrap(),
                PhoneDecision::StoreCertificate { .. } => phone.answer_store().unwrap(),
                other => panic!("{other:?}"),
            }
        },
    );
    assert!(matches!(
        server_side.outcome.unwrap().result,
        SessionResult::Installed { .. }
    ));
    assert!(phone_side.outcome.unwrap().is_success());
    for (name, side, frames) in [
        ("server", &server_side.transmits, &server.session().frames),
        ("phone", &phone_side.transmits, &phone.session().frames),
    ] {
        assert!(frames.len() >= 3, "{name}: {frames:?}");
        let bodies: Vec<usize> = side
            .iter()
            .flat_map(|bytes| records(bytes))
            .filter(|(kind, _)| *kind == APPLICATION_DATA)
            .map(|(_, length)| length)
            .collect();
        assert_eq!(
            bodies.len(),
            frames.len(),
            "{name}: one application-data record per frame"
        );
        // Every record is its frame plus the same AEAD overhead.
        let overhead: Vec<usize> = bodies.iter().zip(frames).map(|(b, f)| b - f).collect();
        assert!(
            overhead.iter().all(|o| *o == overhead[0] && *o <= 64),
            "{name}: {overhead:?}"
        );
        // After the handshake, a frame never shares a Transmit with another.
        for bytes in side {
            let data = records(bytes)
                .iter()
                .filter(|(kind, _)| *kind == APPLICATION_DATA)
                .count();
            // The server's first frame waits for the handshake, which ends in
            // one flight with it; otherwise one frame per Transmit at most.
            assert!(data <= 1, "{name}: {data} frames in one Transmit");
        }
    }
}

#[test]
fn a_phone_that_drops_the_connection_ends_the_server_session() {
    let (device, _, _) = install_vector();
    let (server_tls, client_tls) = tls_configs(TlsVersions::default());
    let options = ConnectionOptions::default();
    let mut server = TlsConnection::server(
        server_tls,
        ServerSession::new(ServerConfig::new(SERVER_ID), T0),
        options,
        T0,
    )
    .unwrap();
    let config = PhoneConfig::new(device.clone(), PhoneCredentials::NullString).unwrap();
    let mut phone = TlsConnection::client(
        client_tls,
        "capf.example",
        PhoneSession::new(config, T0),
        options,
        T0,
    )
    .unwrap();
    let mut server_side = Side::default();
    let mut phone_side = Side::default();
    let mut server_host = |server: &mut ServerSession, decision| match decision {
        ServerDecision::LookUpDevice { .. } => server
            .answer_device(Some(DeviceRecord::new(
                &device,
                Operation::Install(KeyRequest::Ec(Curve::P256)),
                AuthMode::NullString,
            )))
            .unwrap(),
        ServerDecision::RecordOutcome { .. } => server.answer_outcome_recorded().unwrap(),
        other => panic!("{other:?}"),
    };
    // The phone starts generating its key and never finishes.
    let mut phone_host = |_: &mut PhoneSession, decision| match decision {
        PhoneDecision::GenerateKey(_) => {}
        other => panic!("{other:?}"),
    };
    for _ in 0..8 {
        for bytes in drain(&mut phone, &mut phone_host, &mut phone_side) {
            server.handle_tcp_input(&bytes);
        }
        for bytes in drain(&mut server, &mut server_host, &mut server_side) {
            phone.handle_tcp_input(&bytes);
        }
    }
    assert_eq!(phone_side.decisions, [DecisionKind::GenerateKey]);
    // The phone vanishes without close_notify.
    drop(phone);
    server.handle_tcp_closed();
    drain(&mut server, &mut server_host, &mut server_side);
    assert_eq!(
        server_side.decisions,
        [DecisionKind::LookUpDevice, DecisionKind::RecordOutcome]
    );
    let outcome = server_side.outcome.unwrap();
    assert!(
        matches!(outcome.result, SessionResult::PeerClosed { .. }),
        "{:?}",
        outcome.result
    );
    assert!(server_side.tls_failures.is_empty());
}

#[test]
fn a_failed_tcp_write_is_a_transport_error_of_the_session() {
    let (server_tls, _) = tls_configs(TlsVersions::default());
    let mut server = TlsConnection::server(
        server_tls,
        ServerSession::new(ServerConfig::new(SERVER_ID), T0),
        ConnectionOptions::default(),
        T0,
    )
    .unwrap();
    server.handle_transport_error();
    let mut side = Side::default();
    drain(
        &mut server,
        &mut |server: &mut ServerSession, decision| match decision {
            ServerDecision::RecordOutcome { .. } => server.answer_outcome_recorded().unwrap(),
            other => panic!("{other:?}"),
        },
        &mut side,
    );
    assert!(
        side.transmits.is_empty(),
        "nothing is written after a failed write"
    );
    assert!(matches!(
        side.outcome.unwrap().result,
        SessionResult::TransportFailed { .. }
    ));
}

/// Garbage whose first byte is no TLS content type (20..=24), at least one
/// record header long: rustls must refuse it.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![0_u8..20, 25_u8..=255],
        proptest::collection::vec(any::<u8>(), 4..600),
    )
        .prop_map(|(first, rest)| {
            let mut bytes = vec![first];
            bytes.extend(rest);
            bytes
        })
}

#[test]
fn garbage_tcp_bytes_give_a_tls_error_and_no_panic() {
    property_support::run_reaching(
        "garbage_tcp_bytes",
        64,
        64,
        (garbage(), any::<bool>()),
        |(bytes, server_side)| {
            let (server_tls, client_tls) = tls_configs(TlsVersions::default());
            let mut failures: Vec<String> = Vec::new();
            let mut ended = false;
            if server_side {
                let mut server = TlsConnection::server(
                    server_tls,
                    ServerSession::new(ServerConfig::new(SERVER_ID), T0),
                    ConnectionOptions::default(),
                    T0,
                )
                .unwrap();
                server.handle_tcp_input(&bytes);
                let mut side = Side::default();
                drain(
                    &mut server,
                    &mut |server: &mut ServerSession, decision| match decision {
                        ServerDecision::RecordOutcome { .. } => {
                            server.answer_outcome_recorded().unwrap()
                        }
                        other => panic!("{other:?}"),
                    },
                    &mut side,
                );
                failures.extend(side.tls_failures);
                if let Some(outcome) = side.outcome {
                    prop_assert!(
                        matches!(outcome.result, SessionResult::TransportFailed { .. }),
                        "{:?}",
                        outcome.result
                    );
                    ended = true;
                }
            } else {
                let config = TvsClientConfig::new(7, "CP-8845-SEP001122334455", vec![0x30]);
                let mut client = TlsConnection::client(
                    client_tls,
                    "tvs.example",
                    TvsClientSession::new(config, T0).unwrap(),
                    ConnectionOptions::default(),
                    T0,
                )
                .unwrap();
                let mut side = Side::default();
                drain(
                    &mut client,
                    &mut |_: &mut TvsClientSession, _| {},
                    &mut side,
                );
                prop_assert_eq!(side.transmits.len(), 1, "the ClientHello");
                client.handle_tcp_input(&bytes);
                side.transmits.clear();
                drain(
                    &mut client,
                    &mut |_: &mut TvsClientSession, _| {},
                    &mut side,
                );
                ended = side.over();
                failures.extend(side.tls_failures);
            }
            prop_assert_eq!(failures.len(), 1, "one TLS failure reported");
            prop_assert!(ended, "the session ended after the TLS failure");
            Ok(failures
                .first()
                .is_some_and(|text| text.starts_with("TLS: ")))
        },
    );
}

/// After rustls' fatal alert the connection is over: the session ends,
/// and no close_notify follows the alert (tls_engine.rs checks the same
/// rule with an engine that would send one).
#[test]
fn no_close_notify_follows_a_fatal_alert() {
    let (server_tls, _) = tls_configs(TlsVersions::default());
    let mut server = TlsConnection::server(
        server_tls,
        ServerSession::new(ServerConfig::new(SERVER_ID), T0),
        ConnectionOptions::default(),
        T0,
    )
    .unwrap();
    // A handshake record whose body is no ClientHello.
    server.handle_tcp_input(&[22, 3, 1, 0, 4, 0xFF, 0, 0, 0]);
    let mut side = Side::default();
    drain(
        &mut server,
        &mut |server: &mut ServerSession, decision| match decision {
            ServerDecision::RecordOutcome { .. } => server.answer_outcome_recorded().unwrap(),
            other => panic!("{other:?}"),
        },
        &mut side,
    );
    assert_eq!(side.tls_failures.len(), 1);
    assert!(matches!(
        side.outcome.unwrap().result,
        SessionResult::TransportFailed { .. }
    ));
    let sent: Vec<(u8, usize)> = side
        .transmits
        .iter()
        .flat_map(|bytes| records(bytes))
        .collect();
    // One plaintext alert record (level, description): the fatal one.
    assert_eq!(sent, vec![(21, 2)], "{:?}", side.transmits);
    assert_eq!(side.transmits[0][5], 2, "a fatal alert");
}

#[test]
fn tls_errors_read_well() {
    // The typed error keeps rustls' cause readable.
    let error = TlsError::Protocol(rustls::Error::InvalidMessage(
        rustls::InvalidMessage::InvalidContentType,
    ));
    assert_eq!(
        error.to_string(),
        "TLS: received corrupt message of type InvalidContentType"
    );
}

/// A bare rustls handshake between `server` and `client` in memory; the
/// suite it agreed on, as each side saw it.
fn negotiated_suite(
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
) -> (rustls::CipherSuite, rustls::CipherSuite) {
    let mut server = rustls::ServerConnection::new(server).unwrap();
    let mut client =
        rustls::ClientConnection::new(client, "capf.example".try_into().unwrap()).unwrap();
    let mut flights = 0;
    while client.is_handshaking() || server.is_handshaking() {
        flights += 1;
        assert!(flights < 10, "the handshake did not finish");
        let mut bytes = Vec::new();
        client.write_tls(&mut bytes).unwrap();
        server.read_tls(&mut bytes.as_slice()).unwrap();
        server.process_new_packets().unwrap();
        bytes.clear();
        server.write_tls(&mut bytes).unwrap();
        client.read_tls(&mut bytes.as_slice()).unwrap();
        client.process_new_packets().unwrap();
    }
    (
        server.negotiated_cipher_suite().unwrap().suite(),
        client.negotiated_cipher_suite().unwrap().suite(),
    )
}

/// A client of `versions` that offers only `suites`, in that order.
fn client_offering(
    suites: &[rustls::CipherSuite],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let (certificate, _) = server_credential();
    let mut provider = capf_core::crypto_provider::rustls_provider();
    provider.cipher_suites = suites
        .iter()
        .map(|wanted| {
            *provider
                .cipher_suites
                .iter()
                .find(|suite| suite.suite() == *wanted)
                .unwrap()
        })
        .collect();
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(versions)
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(PinnedVerifier::new(&[certificate]).unwrap())
            .with_no_client_auth(),
    )
}

#[test]
fn the_server_picks_aes_128_gcm_with_sha_256_whatever_the_clients_order() {
    use rustls::CipherSuite as Suite;
    let (server, client) = tls_configs(TlsVersions::default());
    // Our own client (like rustls' defaults) puts AES-256 first: the server's
    // order decides.
    assert_eq!(
        client.crypto_provider().cipher_suites[0].suite(),
        Suite::TLS13_AES_256_GCM_SHA384
    );
    let aes_128 = (
        Suite::TLS13_AES_128_GCM_SHA256,
        Suite::TLS13_AES_128_GCM_SHA256,
    );
    assert_eq!(negotiated_suite(server.clone(), client), aes_128);
    // TLS 1.2: the ECDHE suite of the server's (P-256) key.
    let tls12 = &[&rustls::version::TLS12];
    let client = client_offering(
        &[
            Suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            Suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ],
        tls12,
    );
    let ecdhe_aes_128 = Suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256;
    assert_eq!(
        negotiated_suite(server.clone(), client),
        (ecdhe_aes_128, ecdhe_aes_128)
    );
    // A client without AES-128 still gets the other suites.
    let tls13 = &[&rustls::version::TLS13];
    for only in [
        Suite::TLS13_AES_256_GCM_SHA384,
        Suite::TLS13_CHACHA20_POLY1305_SHA256,
    ] {
        let client = client_offering(&[only], tls13);
        assert_eq!(negotiated_suite(server.clone(), client), (only, only));
    }
}

/// Every `Transmit` of `connection` until it waits, concatenated.
fn transmitted<S: Session, E: capf_core::connection::TlsEngine>(
    connection: &mut TlsConnection<S, E>,
) -> Vec<u8> {
    let mut bytes = Vec::new();
    while let Some(output) = connection.poll_output() {
        match output {
            ConnectionOutput::Transmit(chunk) => bytes.extend_from_slice(&chunk),
            _ => panic!("only bytes expected this early"),
        }
    }
    bytes
}

/// CAPF is server-speaks-first: with TLS 1.3 the server's AUTH_REQUEST
/// rides in its first flight (0.5-RTT data, no client authentication asked
/// for), so a phone answers it together with its Finished, a round trip
/// and a send earlier; TLS 1.2 has no such data and the request waits for
/// the handshake.
#[test]
fn the_server_speaks_first_in_its_first_tls13_flight() {
    let (device, _, _) = install_vector();
    for (versions, answered_at_once) in [
        (TlsVersions::default(), true),
        (TlsVersions::Tls12Only, false),
    ] {
        let (mut server, mut phone) = counted_null_string_pair(versions, &device);
        assert!(
            transmitted(&mut server).is_empty(),
            "nothing before the ClientHello"
        );
        let client_hello = transmitted(&mut phone);
        server.handle_tcp_input(&client_hello);
        let first_flight = transmitted(&mut server);
        phone.handle_tcp_input(&first_flight);
        let reply = transmitted(&mut phone);
        assert!(
            !reply.is_empty(),
            "{versions:?}: the phone answers the flight"
        );
        assert_eq!(
            phone.session().frames.len(),
            usize::from(answered_at_once),
            "{versions:?}: the phone's AUTH_RESPONSE after the server's first flight"
        );
    }
}
