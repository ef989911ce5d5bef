//! The TLS connection objects, the blocking `enroll` and the
//! registry-backed server session from Rust: a phone `PhoneConnection`
//! enrols over real TLS (in memory) against a `RegistryServerSession` on a
//! real SQLite file behind a rustls server transport; an untrusted server
//! and bad input are outcomes and errors, never panics. The offline CA
//! from the phone's side: a signed certificate request, the session
//! deferred (`CertificatePending`), the certificate for the pending key
//! stored at the next session without a new key, and one for another key
//! refused.

use std::path::PathBuf;
use std::sync::Arc;

use capf_core::tls::{TlsServerTransport, server_config};
use capf_ffi::connection::{ConnectionError, PhoneConnection, PhoneConnectionOutput};
use capf_ffi::enroll::{EnrollError, enroll};
use capf_ffi::keystore::{
    CertificateRequestToSign, CertificateStore, KeystoreError, PhoneKeystore, ProofRequest,
    SoftwareKeystore,
};
use capf_ffi::phone::{
    DecisionKind, PhoneDecision, PhoneError, PhoneOptions, PhoneOutcome, PhoneOutput, PhoneSession,
};
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
        PhoneSession::with_auth_string(DEVICE.to_owned(), "13579".to_owned(), NOW, None).unwrap();
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
    let session = PhoneSession::with_null_string(DEVICE.to_owned(), NOW, None).unwrap();
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
    let session = || PhoneSession::with_null_string(DEVICE.to_owned(), NOW, None).unwrap();
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
    schedule_install(&registry);
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
        PhoneSession::with_null_string(DEVICE.to_owned(), NOW, None).unwrap(),
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
    schedule_install(&registry);
    // A session claims the operation, then its connection dies.
    let dropped = registry_server(&registry);
    until_looked_up(
        &PhoneSession::with_null_string(DEVICE.to_owned(), NOW, None).unwrap(),
        &dropped,
    );
    // While it holds the claim, another session is refused at lookup.
    let blocked = registry_server(&registry);
    let phone = PhoneSession::with_null_string(DEVICE.to_owned(), NOW, None).unwrap();
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
        &PhoneSession::with_null_string(DEVICE.to_owned(), NOW, None).unwrap(),
        &next,
    );
    let mut key_requested = false;
    while let Some(output) = next.poll_output() {
        key_requested |= matches!(output, ServerOutput::Transmit { .. });
        assert!(!matches!(output, ServerOutput::Done { .. }), "{output:?}");
    }
    assert!(key_requested, "the next session goes on (KEY_GEN_REQUEST)");
}

/// A registry server session for an offline CA (`capf serve --offline-ca`).
fn offline_server(registry: &Arc<CapfRegistry>) -> Arc<RegistryServerSession> {
    RegistryServerSession::with_offline_ca(registry.clone(), default_server_options(0x0303), NOW)
}

/// Schedules `DEVICE` for an EC P-256 install, null-string authentication.
fn schedule_install(registry: &Arc<CapfRegistry>) {
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
}

/// A fresh registry with `DEVICE` scheduled ([`schedule_install`]) and a
/// software keystore, also as the phone's keystore.
fn offline_setup() -> (
    Arc<CapfRegistry>,
    Arc<SoftwareKeystore>,
    Arc<dyn PhoneKeystore>,
) {
    let registry = fresh_registry();
    schedule_install(&registry);
    let software = SoftwareKeystore::new();
    let keystore = software.clone().as_keystore();
    (registry, software, keystore)
}

/// One null-string session with `options` against `server` over TLS (in
/// memory); its outcome and the server's result.
fn offline_session(
    server: &RegistryServerSession,
    keystore: &Arc<dyn PhoneKeystore>,
    options: PhoneOptions,
) -> (PhoneOutcome, Option<ServerResult>) {
    let session = PhoneSession::with_null_string(DEVICE.to_owned(), NOW, Some(options)).unwrap();
    let phone = PhoneConnection::new(
        session,
        pem_block(&capf_pem(), "CERTIFICATE").into_bytes(),
        "capf.example".to_owned(),
        Some(10_000),
        NOW,
    )
    .unwrap();
    let (ends, result) = run(&phone, server, &mut server_transport(), keystore);
    let [PhoneConnectionOutput::Done { outcome }] = ends.as_slice() else {
        panic!("one Done expected: {ends:?}");
    };
    (outcome.clone(), result)
}

/// The CAPF test key as the offline CA: signs `spki_der` for `DEVICE`.
fn offline_ca_signs(spki_der: Vec<u8>) -> Vec<u8> {
    let pem = capf_pem();
    let issuer = LscIssuer::from_pem(
        pem_block(&pem, "CERTIFICATE"),
        pem_block(&pem, "PRIVATE KEY"),
    )
    .unwrap();
    issuer
        .issue(DEVICE.to_owned(), spki_der, NOW, 30)
        .unwrap()
        .der
}

/// The SubjectPublicKeyInfo of a certificate, parsed here (not by the code
/// under test).
fn certificate_key(certificate_der: &[u8]) -> Vec<u8> {
    use der::{Decode, Encode};
    x509_cert::Certificate::from_der(certificate_der)
        .unwrap()
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap()
}

#[test]
fn the_phone_sends_a_signed_request_and_stores_the_offline_ca_certificate_for_its_pending_key() {
    let (registry, software, keystore) = offline_setup();

    // First session: the key and a request signed by it go out; deferred.
    let (outcome, result) = offline_session(
        &offline_server(&registry),
        &keystore,
        PhoneOptions {
            send_certificate_request: true,
            pending_key_spki_der: None,
        },
    );
    assert_eq!(outcome, PhoneOutcome::CertificatePending);
    assert!(
        matches!(result, Some(ServerResult::IssueRefused { .. })),
        "{result:?}"
    );
    assert_eq!(software.key_count(), 1);
    let pending = software.generated_key(DEVICE.to_owned()).unwrap();
    assert_eq!(software.certificate(DEVICE.to_owned()), None);

    // The registry kept the phone's key and its request, which verifies
    // under that key (the server's rule) and names the device.
    let requests = registry.certificate_requests(false).unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].state, "pending");
    assert_eq!(requests[0].public_key_der, pending);
    let csr = requests[0].csr_der.clone().expect("a phone-signed request");
    capf_core::capf::certificate_request::verify_certificate_request(&csr, &pending, DEVICE)
        .unwrap();
    assert!(
        capf_core::capf::certificate_request::verify_certificate_request(
            &csr,
            &pending,
            "SEP00112233445F"
        )
        .is_err()
    );

    // Signed by the offline CA and imported.
    let signed = offline_ca_signs(pending.clone());
    registry.import_certificate(signed.clone(), NOW).unwrap();
    assert_eq!(
        registry.certificate_requests(false).unwrap()[0].state,
        "imported"
    );

    // Next session, with the pending key: the certificate comes without a
    // KEY_GEN (no new key) and is stored.
    let (outcome, result) = offline_session(
        &offline_server(&registry),
        &keystore,
        PhoneOptions {
            send_certificate_request: true,
            pending_key_spki_der: Some(pending.clone()),
        },
    );
    assert_eq!(
        outcome,
        PhoneOutcome::Installed {
            certificate_der: signed.clone()
        }
    );
    assert!(
        matches!(result, Some(ServerResult::Installed { .. })),
        "{result:?}"
    );
    assert_eq!(software.key_count(), 1, "no new key");
    assert_eq!(certificate_key(&signed), pending);
    let ledger = registry.certificates(DEVICE.to_owned()).unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].der, signed);
    assert_eq!(ledger[0].state, "installed");
}

#[test]
fn a_certificate_for_another_key_than_the_pending_one_is_refused_and_the_key_kept() {
    let (registry, software, keystore) = offline_setup();
    let (outcome, _) = offline_session(
        &offline_server(&registry),
        &keystore,
        PhoneOptions::default(),
    );
    assert_eq!(outcome, PhoneOutcome::CertificatePending);
    let pending = software.generated_key(DEVICE.to_owned()).unwrap();
    // Without a signed request the registry keeps the bare key.
    let requests = registry.certificate_requests(false).unwrap();
    assert_eq!(requests[0].public_key_der, pending);
    assert_eq!(requests[0].csr_der, None);
    registry
        .import_certificate(offline_ca_signs(pending.clone()), NOW)
        .unwrap();

    // The phone comes back naming another key as pending.
    let other = keystore
        .generate_key(
            "SEP0000000000FF".to_owned(),
            KeySpec::Ec {
                curve: EcCurve::P256,
            },
        )
        .unwrap();
    assert_ne!(other, pending);
    let (outcome, result) = offline_session(
        &offline_server(&registry),
        &keystore,
        PhoneOptions {
            send_certificate_request: false,
            pending_key_spki_der: Some(other),
        },
    );
    assert!(
        matches!(&outcome, PhoneOutcome::StoreFailed { cause, .. } if cause.contains("key")),
        "{outcome:?}"
    );
    assert!(
        !matches!(result, Some(ServerResult::Installed { .. })),
        "{result:?}"
    );
    // Nothing stored, nothing installed; the pending key is still held.
    assert_eq!(software.certificate(DEVICE.to_owned()), None);
    assert_eq!(software.key_count(), 2);
    assert_eq!(software.generated_key(DEVICE.to_owned()), Some(pending));
    assert!(
        registry
            .certificates(DEVICE.to_owned())
            .unwrap()
            .iter()
            .all(|entry| entry.state != "installed")
    );
}

/// A keystore whose certificate-request signatures are junk (the wrong
/// format) or refused; the rest it leaves to the software keystore.
struct BadRequestSigner {
    inner: Arc<SoftwareKeystore>,
    refuse: bool,
}

impl PhoneKeystore for BadRequestSigner {
    fn generate_key(&self, device_name: String, key: KeySpec) -> Result<Vec<u8>, KeystoreError> {
        self.inner.generate_key(device_name, key)
    }

    fn sign_proof(&self, request: ProofRequest) -> Result<Vec<u8>, KeystoreError> {
        self.inner.sign_proof(request)
    }

    fn sign_certificate_request(
        &self,
        request: CertificateRequestToSign,
    ) -> Result<Vec<u8>, KeystoreError> {
        if self.refuse {
            return Err(KeystoreError::Unsupported {
                detail: "no such signatures here".to_owned(),
            });
        }
        // The proof format (raw, over the digest) instead of a standard
        // signature of the message: ECDSA over a digest of a digest.
        let mut signature = self
            .inner
            .sign_certificate_request(CertificateRequestToSign {
                message: request.digest.clone(),
                ..request
            })?;
        signature.push(0);
        Ok(signature)
    }
}

/// Runs a phone session against `server` in memory (plaintext), answering
/// the phone's decisions with `decide`.
fn pump_plain(
    phone: &PhoneSession,
    server: &RegistryServerSession,
    mut decide: impl FnMut(&PhoneSession, PhoneDecision),
) -> PhoneOutcome {
    let mut outcome = None;
    for _ in 0..1000 {
        let mut moved = false;
        while let Some(output) = server.poll_output() {
            moved = true;
            match output {
                ServerOutput::Transmit { bytes } => phone.handle_input(bytes),
                ServerOutput::Need { .. } => server.answer_from_registry(NOW).unwrap(),
                ServerOutput::Done { .. } => {}
            }
        }
        while let Some(output) = phone.poll_output() {
            moved = true;
            match output {
                PhoneOutput::Transmit { bytes } => server.handle_input(bytes),
                PhoneOutput::Need { decision } => decide(phone, decision),
                PhoneOutput::Done { outcome: done } => outcome = Some(done),
            }
        }
        if !moved {
            return outcome.expect("the phone session ended");
        }
    }
    panic!("the sessions did not finish");
}

#[test]
fn a_request_signature_that_does_not_verify_is_misuse_and_a_refused_one_sends_the_bare_key() {
    for refuse in [false, true] {
        let registry = fresh_registry();
        schedule_install(&registry);
        let software = SoftwareKeystore::new();
        let keystore: Arc<dyn PhoneKeystore> = Arc::new(BadRequestSigner {
            inner: software.clone(),
            refuse,
        });
        let phone = PhoneSession::with_null_string(
            DEVICE.to_owned(),
            NOW,
            Some(PhoneOptions {
                send_certificate_request: true,
                pending_key_spki_der: None,
            }),
        )
        .unwrap();
        let mut asked = 0;
        let outcome = pump_plain(&phone, &offline_server(&registry), |phone, decision| {
            if let PhoneDecision::SignCertificateRequest { request } = &decision {
                asked += 1;
                // The request is for the key just generated, as its
                // algorithm's Java name says; the digest is SHA-256 of the
                // message (computed here independently).
                assert_eq!(
                    Some(request.public_key_der.clone()),
                    software.generated_key(DEVICE.to_owned())
                );
                assert_eq!(request.algorithm_name, "SHA256withECDSA");
                use sha2::Digest;
                assert_eq!(
                    request.digest,
                    sha2::Sha256::digest(&request.message).to_vec()
                );
                let answered = phone.answer_with_keystore(decision.clone(), keystore.clone());
                if refuse {
                    // A keystore error is a refusal: answered.
                    assert_eq!(answered, Ok(true));
                } else {
                    assert!(
                        matches!(&answered, Err(PhoneError::Misuse(_))),
                        "{answered:?}"
                    );
                    assert_eq!(
                        phone.pending_decision(),
                        Some(DecisionKind::SignCertificateRequest),
                        "still pending"
                    );
                    phone.refuse_certificate_request_signature().unwrap();
                }
            } else {
                assert!(
                    phone
                        .answer_with_keystore(decision, keystore.clone())
                        .unwrap()
                );
            }
        });
        assert_eq!(asked, 1);
        assert_eq!(outcome, PhoneOutcome::CertificatePending);
        // The key went out without a request.
        let requests = registry.certificate_requests(false).unwrap();
        assert_eq!(
            Some(requests[0].public_key_der.clone()),
            software.generated_key(DEVICE.to_owned())
        );
        assert_eq!(requests[0].csr_der, None, "refuse = {refuse}");
    }
}
