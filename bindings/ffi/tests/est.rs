//! The Kotlin API's EST issuer from Rust (what a JVM test would check):
//! `RegistryServerSession::with_est` answered from a real SQLite registry
//! and the EST test responder on loopback (real HTTPS, real PKCS#7), the
//! phone a real core phone session that sends a signed request. The LSC is
//! read back with x509-cert (issuer = the CA, key = the phone's); the
//! refusals by END_SESSION 7 and the device's status in Cisco's words.

use capf_registry::est::responder::TestCa as Ca;
use std::sync::Arc;

use capf_core::capf::certificate_request::sign_certificate_request_info;
use capf_core::capf::phone::{PhoneConfig, PhoneCredentials, PhoneDecision, PhoneSession};
use capf_core::capf::proof::ProofPrivateKey;
use capf_core::session::Output;
use capf_core::time::Timestamp;
use capf_ffi::est::EstIssuer;
use capf_ffi::registry::{CapfRegistry, DeviceAuth, RegistryServerSession};
use capf_ffi::server::{Operation, ServerOutcome, ServerOutput, default_server_options};
use capf_ffi::{EcCurve, KeySpec};
use capf_registry::est::responder::{Behaviour, Responder, ResponderConfig};
use der::{Decode, Encode};

const NOW: u64 = 1_798_761_600_000;
const DEVICE: &str = "SEP0011223344C1";

fn new_ca() -> Ca {
    Ca::new("Kotlin EST CA").unwrap()
}

fn responder(ca: &Ca) -> Responder {
    Responder::start(
        ResponderConfig {
            ca_certificate_pem: ca.certificate_pem.clone(),
            ca_key_pem: ca.key_pem.clone(),
            tls_chain: ca.tls_chain.clone(),
            tls_key_pkcs8_der: ca.tls_key.clone(),
            client_ca: Vec::new(),
            basic: Some(("capf".to_owned(), "right".to_owned())),
            first_serial: 5,
        },
        Behaviour::Issue,
    )
    .unwrap()
}

/// One install session; returns the server's outcome, the stored
/// certificate and the phone's key.
fn enroll(
    server: &RegistryServerSession,
    send_request: bool,
) -> (ServerOutcome, Option<Vec<u8>>, Vec<u8>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let private = ProofPrivateKey::from_pkcs8_der(&key.serialize_der()).unwrap();
    let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
    let config = PhoneConfig::new(DEVICE, PhoneCredentials::NullString)
        .unwrap()
        .with_certificate_request(send_request);
    let mut phone = PhoneSession::new(config, Timestamp::from_unix_millis(NOW));
    let (mut outcome, mut stored) = (None, None);
    for _ in 0..100 {
        let mut moved = false;
        while let Some(output) = server.poll_output() {
            moved = true;
            match output {
                ServerOutput::Transmit { bytes } => phone.handle_input(&bytes),
                ServerOutput::Need { .. } => server.answer_from_registry(NOW).unwrap(),
                ServerOutput::Done { outcome: done } => outcome = Some(done),
            }
        }
        while let Some(output) = phone.poll_output() {
            moved = true;
            match output {
                Output::Transmit(bytes) => server.handle_input(bytes),
                Output::Need(PhoneDecision::GenerateKey(_)) => {
                    phone.answer_key(spki.clone()).unwrap()
                }
                Output::Need(PhoneDecision::SignCertificateRequest {
                    algorithm, message, ..
                }) => {
                    let signature = sign_certificate_request_info(
                        &private,
                        algorithm,
                        &message,
                        &mut rand_core::OsRng,
                    )
                    .unwrap();
                    phone
                        .answer_certificate_request_signature(signature)
                        .unwrap();
                }
                Output::Need(PhoneDecision::StoreCertificate { certificate_der }) => {
                    stored = Some(certificate_der);
                    phone.answer_store().unwrap();
                }
                Output::Need(other) => panic!("{other:?}"),
                _ => {}
            }
        }
        if !moved {
            break;
        }
    }
    (outcome.expect("the session ended"), stored, spki)
}

fn registry(dir: &std::path::Path) -> Arc<CapfRegistry> {
    let registry =
        CapfRegistry::open(dir.join("capf.db").to_string_lossy().into_owned(), None).unwrap();
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
    registry
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("capf-ffi-est-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn issuer(ca: &Ca, url: &str, password: &str) -> Arc<EstIssuer> {
    EstIssuer::new(
        url.to_owned(),
        ca.certificate_pem.clone(),
        Some("capf".to_owned()),
        Some(password.to_owned()),
        None,
        None,
        10,
    )
    .unwrap()
}

#[test]
fn the_est_ca_signs_the_lsc_and_the_ledger_holds_it() {
    let ca = new_ca();
    let responder = responder(&ca);
    let est = issuer(&ca, &responder.url(), "right");
    assert_eq!(est.timeout_seconds(), 10);
    assert_eq!(
        est.ca_certificates().unwrap(),
        vec![ca.certificate_der.clone()]
    );
    let dir = scratch("issue");
    let registry = registry(&dir);
    let server =
        RegistryServerSession::with_est(registry.clone(), est, default_server_options(0x51), NOW);
    let (outcome, stored, spki) = enroll(&server, true);
    assert_eq!(outcome.end_reason, Some(1), "{outcome:?}");
    let stored = stored.expect("stored");
    let certificate = x509_cert::Certificate::from_der(&stored).unwrap();
    let ca_certificate = x509_cert::Certificate::from_der(&ca.certificate_der).unwrap();
    assert_eq!(
        certificate.tbs_certificate.issuer,
        ca_certificate.tbs_certificate.subject
    );
    assert_eq!(
        certificate
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .unwrap(),
        spki
    );
    let ledger = registry.certificates(DEVICE.to_owned()).unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(
        (ledger[0].der.clone(), ledger[0].state.as_str()),
        (stored, "installed")
    );
    assert_eq!(ledger[0].serial_hex, "05");
}

#[test]
fn refusals_end_with_7_and_the_ca_statuses() {
    let ca = new_ca();
    let responder = responder(&ca);
    let dir = scratch("refuse");
    let registry = registry(&dir);
    // The CA refuses (401), then a phone without a signed request: both
    // "CA Rejected Connection"; the responder saw only the first.
    for (password, send_request) in [("wrong", true), ("right", false)] {
        let server = RegistryServerSession::with_est(
            registry.clone(),
            issuer(&ca, &responder.url(), password),
            default_server_options(0x52),
            NOW,
        );
        let (outcome, stored, _) = enroll(&server, send_request);
        assert_eq!(outcome.end_reason, Some(7), "{outcome:?}");
        assert!(stored.is_none());
        let status = registry.device_status(DEVICE.to_owned()).unwrap().status;
        assert!(status.ends_with("CA Rejected Connection"), "{status}");
    }
    let statuses: Vec<_> = responder.seen().iter().map(|seen| seen.status).collect();
    assert_eq!(statuses, [Some(401)]);
    assert!(registry.certificates(DEVICE.to_owned()).unwrap().is_empty());
}

#[test]
fn bad_est_options_are_invalid_input() {
    let ca = new_ca();
    for (url, ca_pem, user, password) in [
        ("http://127.0.0.1:1", ca.certificate_pem.clone(), None, None),
        ("https://127.0.0.1:1", "no pem".to_owned(), None, None),
        (
            "https://127.0.0.1:1",
            ca.certificate_pem.clone(),
            Some("u"),
            None,
        ),
    ] {
        assert!(matches!(
            EstIssuer::new(
                url.to_owned(),
                ca_pem,
                user.map(str::to_owned),
                password,
                None,
                None,
                5
            ),
            Err(capf_ffi::server::ServerError::InvalidInput(_))
        ));
    }
}
