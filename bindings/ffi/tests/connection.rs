//! The TLS connection objects, the blocking `enroll` and the
//! registry-backed server session from Rust: a phone `PhoneConnection`
//! enrols over real TLS (in memory) against a `RegistryServerSession` on a
//! real SQLite file behind a rustls server transport; an untrusted server
//! and bad input are outcomes and errors, never panics.

use std::path::PathBuf;
use std::sync::Arc;

use capf_core::tls::{TlsServerTransport, server_config};
use capf_ffi::connection::{ConnectionError, PhoneConnection, PhoneConnectionOutput};
use capf_ffi::enroll::{EnrollError, enroll};
use capf_ffi::keystore::{CertificateStore, PhoneKeystore, SoftwareKeystore};
use capf_ffi::phone::{PhoneDecision, PhoneOutcome, PhoneSession};
use capf_ffi::registry::{
    CapfRegistry, DeviceAuth, RegistryServerConnection, RegistryServerSession,
    ServerConnectionOutput,
};
use capf_ffi::server::{LscIssuer, Operation, ServerOutput, ServerResult, default_server_options};
use capf_ffi::{EcCurve, KeySpec};

/// 2027-01-01T00:00:00Z, inside every vector certificate's validity.
const NOW: u64 = 1_798_761_600_000;
const DEVICE: &str = "SEP001122334455";

fn capf_pem() -> String {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/tlv/keys/capf.pem");
    std::fs::read_to_string(path).unwrap()
}

fn pem_block(pem: &str, label: &str) -> String {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin).unwrap();
    let stop = pem.find(&end).unwrap() + end.len();
    format!("{}\n", &pem[start..stop])
}

fn der_of(pem: &str, label: &str) -> Vec<u8> {
    der::pem::decode_vec(pem_block(pem, label).as_bytes())
        .unwrap()
        .1
}

fn fresh_registry() -> Arc<CapfRegistry> {
    let dir = std::env::temp_dir().join(format!(
        "capf-ffi-connection-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    CapfRegistry::open(dir.join("capf.db").to_str().unwrap().to_owned(), None).unwrap()
}

/// Runs the phone's connection against the registry server behind a
/// rustls server transport until the phone's connection is over.
fn run(
    phone: &PhoneConnection,
    server: &RegistryServerSession,
    transport: &mut TlsServerTransport,
    keystore: &Arc<dyn PhoneKeystore>,
) -> (Vec<PhoneConnectionOutput>, Option<ServerResult>) {
    let session = phone.session();
    let mut ends = Vec::new();
    let mut server_result = None;
    for _ in 0..1000 {
        let mut moved = false;
        while let Some(output) = phone.poll_output() {
            moved = true;
            match output {
                PhoneConnectionOutput::Transmit { bytes } => {
                    let plaintext = transport.receive_tcp(&bytes).unwrap_or_default();
                    if !plaintext.is_empty() {
                        server.handle_input(plaintext);
                    }
                }
                PhoneConnectionOutput::Need { decision } => match decision {
                    PhoneDecision::StoreCertificate { .. } => session.answer_store().unwrap(),
                    other => assert!(
                        session
                            .answer_with_keystore(other, keystore.clone())
                            .unwrap()
                    ),
                },
                end => ends.push(end),
            }
        }
        while let Some(output) = server.poll_output() {
            moved = true;
            match output {
                ServerOutput::Transmit { bytes } => transport.send_plaintext(&bytes).unwrap(),
                ServerOutput::Need { .. } => server.answer_from_registry(NOW).unwrap(),
                ServerOutput::Done { outcome } => {
                    server_result = Some(outcome.result);
                    transport.send_close_notify();
                }
            }
        }
        let tcp = transport.take_tcp_output();
        if !tcp.is_empty() {
            moved = true;
            phone.handle_tcp_input(tcp);
        }
        if phone.is_done() && phone.poll_output().is_none() {
            return (ends, server_result);
        }
        if !moved {
            phone.handle_tcp_closed();
        }
    }
    panic!("the connection did not finish");
}

fn registry_server(registry: &Arc<CapfRegistry>) -> Arc<RegistryServerSession> {
    let pem = capf_pem();
    let issuer = LscIssuer::from_pem(
        pem_block(&pem, "CERTIFICATE"),
        pem_block(&pem, "PRIVATE KEY"),
    )
    .unwrap();
    RegistryServerSession::new(
        registry.clone(),
        issuer,
        default_server_options(0x0202),
        365,
        NOW,
    )
}

fn server_transport() -> TlsServerTransport {
    let pem = capf_pem();
    let config =
        server_config(&[der_of(&pem, "CERTIFICATE")], &der_of(&pem, "PRIVATE KEY")).unwrap();
    TlsServerTransport::new(config).unwrap()
}

#[test]
fn phone_connection_enrolls_against_the_registry_server_over_tls() {
    let registry = fresh_registry();
    registry
        .put_device(
            DEVICE.to_owned(),
            Operation::Install {
                key: KeySpec::Ec {
                    curve: EcCurve::P256,
                },
            },
            DeviceAuth::AuthString {
                auth_string: "13579".to_owned(),
            },
            NOW,
        )
        .unwrap();
    let server = registry_server(&registry);
    let mut transport = server_transport();
    let session =
        PhoneSession::with_auth_string(DEVICE.to_owned(), "13579".to_owned(), NOW).unwrap();
    let pem = capf_pem();
    let phone = PhoneConnection::new(
        session,
        pem_block(&pem, "CERTIFICATE").into_bytes(),
        "capf.example".to_owned(),
        Some(10_000),
        NOW,
    )
    .unwrap();
    let software = SoftwareKeystore::new();
    let keystore = software.clone().as_keystore();
    let (ends, server_result) = run(&phone, &server, &mut transport, &keystore);

    let [PhoneConnectionOutput::Done { outcome }] = ends.as_slice() else {
        panic!("one Done expected: {ends:?}");
    };
    let PhoneOutcome::Installed { certificate_der } = outcome else {
        panic!("installed expected: {outcome:?}");
    };
    assert!(
        matches!(&server_result, Some(ServerResult::Installed { certificate_der: server_der }) if server_der == certificate_der),
        "{server_result:?}"
    );
    // The registry's ledger holds that certificate, installed, and the
    // operation is done.
    let ledger = registry.certificates(DEVICE.to_owned()).unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(&ledger[0].der, certificate_der);
    assert_eq!(ledger[0].state, "installed");
    assert_eq!(
        registry.scheduled_operation(DEVICE.to_owned()).unwrap(),
        Operation::None
    );
    // The server presented the CAPF certificate; the key is the keystore's.
    assert_eq!(phone.peer_certificates(), vec![der_of(&pem, "CERTIFICATE")]);
    assert_eq!(software.key_count(), 1);
    assert!(phone.is_done());
}

#[test]
fn an_untrusted_server_is_a_tls_failure_then_an_outcome() {
    let registry = fresh_registry();
    let server = registry_server(&registry);
    let mut transport = server_transport();
    // Trusting another certificate (the TVS vector) than the one presented.
    let other = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/tlv/keys/tvs.pem"),
    )
    .unwrap();
    let session = PhoneSession::with_null_string(DEVICE.to_owned(), NOW).unwrap();
    let phone = PhoneConnection::new(session, other, "capf.example".to_owned(), None, NOW).unwrap();
    let keystore = SoftwareKeystore::new().as_keystore();
    let (ends, _) = run(&phone, &server, &mut transport, &keystore);
    assert!(
        matches!(ends.first(), Some(PhoneConnectionOutput::TlsFailed { message }) if message.contains("certificate")),
        "{ends:?}"
    );
    assert!(
        matches!(
            ends.last(),
            Some(PhoneConnectionOutput::Done {
                outcome: PhoneOutcome::CommunicationFailure { .. }
            })
        ),
        "{ends:?}"
    );
    assert_eq!(registry.certificates(DEVICE.to_owned()).unwrap(), vec![]);
}

#[test]
fn bad_trust_and_no_server_are_errors_not_panics() {
    let session = || PhoneSession::with_null_string(DEVICE.to_owned(), NOW).unwrap();
    assert!(matches!(
        PhoneConnection::new(
            session(),
            b"junk".to_vec(),
            "capf.example".to_owned(),
            None,
            NOW
        ),
        Err(ConnectionError::InvalidTrust(_))
    ));
    let pem = pem_block(&capf_pem(), "CERTIFICATE").into_bytes();
    assert!(matches!(
        PhoneConnection::new(session(), pem.clone(), "not a name!".to_owned(), None, NOW),
        Err(ConnectionError::Tls(_))
    ));
    let software = SoftwareKeystore::new();
    let store: Arc<dyn CertificateStore> = software.clone().as_certificate_store();
    let keystore = software.as_keystore();
    let result = enroll(
        "127.0.0.1".to_owned(),
        3804,
        Vec::new(),
        session(),
        keystore.clone(),
        store.clone(),
        1000,
    );
    assert!(
        matches!(result, Err(EnrollError::InvalidInput(_))),
        "{result:?}"
    );
    // A port nothing listens on: a listener bound then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let result = enroll(
        "127.0.0.1".to_owned(),
        port,
        pem,
        session(),
        keystore,
        store,
        1000,
    );
    assert!(
        matches!(result, Err(EnrollError::Unreachable(_))),
        "{result:?}"
    );
}

#[test]
fn phone_and_server_connections_enroll_over_tls_in_memory() {
    let registry = fresh_registry();
    registry
        .put_device(
            DEVICE.to_owned(),
            Operation::Install {
                key: KeySpec::Ec {
                    curve: EcCurve::P256,
                },
            },
            DeviceAuth::NullString,
            NOW,
        )
        .unwrap();
    let pem = capf_pem();
    let server = RegistryServerConnection::new(
        registry_server(&registry),
        vec![der_of(&pem, "CERTIFICATE")],
        der_of(&pem, "PRIVATE KEY"),
        Some(10_000),
        NOW,
    )
    .unwrap();
    let phone = PhoneConnection::new(
        PhoneSession::with_null_string(DEVICE.to_owned(), NOW).unwrap(),
        pem_block(&pem, "CERTIFICATE").into_bytes(),
        "capf.example".to_owned(),
        Some(10_000),
        NOW,
    )
    .unwrap();
    let keystore = SoftwareKeystore::new().as_keystore();
    let session = phone.session();
    let (mut phone_done, mut server_done) = (None, None);
    for _ in 0..1000 {
        while let Some(output) = phone.poll_output() {
            match output {
                PhoneConnectionOutput::Transmit { bytes } => server.handle_tcp_input(bytes),
                PhoneConnectionOutput::Need { decision } => match decision {
                    PhoneDecision::StoreCertificate { .. } => session.answer_store().unwrap(),
                    other => assert!(
                        session
                            .answer_with_keystore(other, keystore.clone())
                            .unwrap()
                    ),
                },
                PhoneConnectionOutput::Done { outcome } => phone_done = Some(outcome),
                other => panic!("phone: {other:?}"),
            }
        }
        while let Some(output) = server.poll_output() {
            match output {
                ServerConnectionOutput::Transmit { bytes } => phone.handle_tcp_input(bytes),
                ServerConnectionOutput::Need { .. } => {
                    server.server().answer_from_registry(NOW).unwrap();
                }
                ServerConnectionOutput::Done { outcome } => server_done = Some(outcome),
                other => panic!("server: {other:?}"),
            }
        }
        if phone_done.is_some() && server_done.is_some() {
            break;
        }
    }
    let Some(PhoneOutcome::Installed { certificate_der }) = phone_done else {
        panic!("phone: {phone_done:?}");
    };
    let server_done = server_done.unwrap();
    assert!(server_done.recorded);
    assert_eq!(
        server_done.result,
        ServerResult::Installed {
            certificate_der: certificate_der.clone()
        }
    );
    let ledger = registry.certificates(DEVICE.to_owned()).unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].der, certificate_der);
    assert_eq!(ledger[0].state, "installed");
    assert!(server.is_done() && phone.is_done());
}

#[test]
fn device_auth_debug_hides_the_string() {
    let auth = DeviceAuth::AuthString {
        auth_string: "860417".to_owned(),
    };
    let shown = format!("{auth:?}");
    assert!(!shown.contains("860417"), "{shown}");
    assert_eq!(shown, "AuthString(<redacted>)");
}

/// Moves plaintext between a phone and a registry server session until
/// the server asks its first decision (the lookup) and answers it.
fn until_looked_up(phone: &PhoneSession, server: &RegistryServerSession) {
    for _ in 0..100 {
        while let Some(output) = server.poll_output() {
            match output {
                ServerOutput::Transmit { bytes } => phone.handle_input(bytes),
                ServerOutput::Need { .. } => {
                    server.answer_from_registry(NOW).unwrap();
                    return;
                }
                ServerOutput::Done { outcome } => panic!("{outcome:?}"),
            }
        }
        while let Some(output) = phone.poll_output() {
            match output {
                capf_ffi::phone::PhoneOutput::Transmit { bytes } => server.handle_input(bytes),
                other => panic!("{other:?}"),
            }
        }
    }
    panic!("no lookup");
}

#[test]
fn release_gives_a_dropped_sessions_operation_back() {
    let registry = fresh_registry();
    registry
        .put_device(
            DEVICE.to_owned(),
            Operation::Install {
                key: KeySpec::Ec {
                    curve: EcCurve::P256,
                },
            },
            DeviceAuth::NullString,
            NOW,
        )
        .unwrap();
    // A session claims the operation, then its connection dies.
    let dropped = registry_server(&registry);
    until_looked_up(
        &PhoneSession::with_null_string(DEVICE.to_owned(), NOW).unwrap(),
        &dropped,
    );
    // While it holds the claim, another session is refused at lookup.
    let blocked = registry_server(&registry);
    let phone = PhoneSession::with_null_string(DEVICE.to_owned(), NOW).unwrap();
    until_looked_up(&phone, &blocked);
    let mut refused = false;
    while let Some(output) = blocked.poll_output() {
        match output {
            // The refusal is recorded (nothing to write: no claim) first.
            ServerOutput::Need { .. } => blocked.answer_from_registry(NOW).unwrap(),
            ServerOutput::Done { outcome } => {
                refused = matches!(outcome.result, ServerResult::DeviceRefused { .. });
            }
            ServerOutput::Transmit { .. } => {}
        }
    }
    assert!(refused, "a held operation is refused to another session");
    // Released: the next session gets it.
    assert!(dropped.release(NOW).unwrap());
    assert!(!dropped.release(NOW).unwrap(), "released once");
    let next = registry_server(&registry);
    until_looked_up(
        &PhoneSession::with_null_string(DEVICE.to_owned(), NOW).unwrap(),
        &next,
    );
    let mut key_requested = false;
    while let Some(output) = next.poll_output() {
        key_requested |= matches!(output, ServerOutput::Transmit { .. });
        assert!(!matches!(output, ServerOutput::Done { .. }), "{output:?}");
    }
    assert!(key_requested, "the next session goes on (KEY_GEN_REQUEST)");
}
