//! `capf_registry::issuance`: the answer to the server session's
//! IssueCertificate for every host, between a real phone session and a
//! real server session, with the local CA and with the EST test responder
//! on loopback (real HTTPS, real PKCS#7). The certificates are read back
//! with x509-cert (serial, dates, key, issuer), independently of the facts
//! the function returns; the refusals are checked by the status the
//! registry's rules give them and the END_SESSION reason the phone gets.
#![cfg(feature = "est-responder")]

use capf_core::capf::certificate_request::sign_certificate_request_info;
use capf_core::capf::codec::Reason;
use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::phone::{PhoneConfig, PhoneCredentials, PhoneDecision, PhoneSession};
use capf_core::capf::proof::ProofPrivateKey;
use capf_core::capf::server::{
    AuthMode, DeviceRecord, Operation, ServerConfig, ServerDecision, ServerOutcome, ServerSession,
    SessionResult,
};
use capf_core::issuance::LscIssuer;
use capf_core::session::Output;
use capf_core::time::Timestamp;
use capf_registry::est::responder::TestCa as Ca;
use capf_registry::est::responder::{Behaviour, Responder, ResponderConfig};
use capf_registry::est::{EstAuthentication, EstClient, EstConfig, EstUrl};
use capf_registry::issuance::{
    CertificateNeeded, Issuer, answer_issue_certificate, answer_issue_certificate_blocking,
};
use capf_registry::model::{FailureReason, NewCertificate, OutcomeWrite};
use der::Decode;
use rand::SeedableRng;
use std::sync::Arc;
use std::time::Duration;

const DEVICE: &str = "SEP001122334455";
const T0: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

/// How the test host answers IssueCertificate.
#[derive(Clone, Copy)]
enum Host {
    Async,
    Blocking,
    /// The blocking form called from inside a tokio runtime's worker.
    BlockingInsideRuntime,
}

/// What a session ended with.
struct Ended {
    /// The facts the function returned (`None`: refused).
    facts: Option<NewCertificate>,
    /// The certificate the session asked the host to record.
    recorded: Option<Vec<u8>>,
    server: ServerOutcome,
    /// The certificate the phone was asked to store.
    stored: Option<Vec<u8>>,
}

/// A P-256 phone key (rcgen): PKCS#8 and SPKI, DER.
fn phone_key() -> (ProofPrivateKey, Vec<u8>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let private = ProofPrivateKey::from_pkcs8_der(&key.serialize_der()).unwrap();
    (private, rcgen::PublicKeyData::subject_public_key_info(&key))
}

/// One install session (null string, P-256) of a phone that sends a signed
/// request or not; the server host answers IssueCertificate with the
/// library's function.
fn enroll(issuer: &Issuer, send_request: bool, host: Host) -> Ended {
    let (private, spki) = phone_key();
    let mut server = ServerSession::new(ServerConfig::new(0x0101), T0);
    let config = PhoneConfig::new(DEVICE, PhoneCredentials::NullString)
        .unwrap()
        .with_certificate_request(send_request);
    let mut phone = PhoneSession::new(config, T0);
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mut facts, mut recorded, mut outcome, mut stored) = (None, None, None, None);
    for _ in 0..100 {
        let mut moved = false;
        while let Some(output) = server.poll_output() {
            moved = true;
            match output {
                Output::Transmit(bytes) => phone.handle_input(&bytes),
                Output::Need(ServerDecision::LookUpDevice { .. }) => server
                    .answer_device(Some(DeviceRecord::new(
                        DEVICE,
                        Operation::Install(KeyRequest::Ec(capf_core::capf::codec::Curve::P256)),
                        AuthMode::NullString,
                    )))
                    .unwrap(),
                Output::Need(ServerDecision::IssueCertificate {
                    device_name,
                    subject_public_key_info_der,
                    certificate_request_der,
                    ..
                }) => {
                    assert_eq!(subject_public_key_info_der, spki);
                    assert_eq!(certificate_request_der.is_some(), send_request);
                    let needed = CertificateNeeded {
                        device_name: &device_name,
                        subject_public_key_info_der: &subject_public_key_info_der,
                        certificate_request_der: certificate_request_der.as_deref(),
                    };
                    let answered = match host {
                        Host::Async => runtime.block_on(answer_issue_certificate(
                            &mut server,
                            issuer,
                            needed,
                            T0,
                            &mut rng,
                        )),
                        Host::Blocking => answer_issue_certificate_blocking(
                            &mut server,
                            issuer,
                            needed,
                            T0,
                            &mut rng,
                        ),
                        Host::BlockingInsideRuntime => runtime.block_on(async {
                            answer_issue_certificate_blocking(
                                &mut server,
                                issuer,
                                needed,
                                T0,
                                &mut rng,
                            )
                        }),
                    };
                    facts = answered.unwrap().ok();
                }
                Output::Need(ServerDecision::RecordPendingCertificate {
                    certificate_der, ..
                }) => {
                    recorded = Some(certificate_der);
                    server.answer_pending_recorded().unwrap();
                }
                Output::Need(ServerDecision::RecordOutcome { .. }) => {
                    server.answer_outcome_recorded().unwrap()
                }
                Output::Need(other) => panic!("{other:?}"),
                Output::Done(done) => outcome = Some(done),
                _ => panic!("unknown output"),
            }
        }
        while let Some(output) = phone.poll_output() {
            moved = true;
            match output {
                Output::Transmit(bytes) => server.handle_input(&bytes),
                Output::Need(PhoneDecision::GenerateKey(_)) => {
                    phone.answer_key(spki.clone()).unwrap();
                }
                Output::Need(PhoneDecision::SignCertificateRequest {
                    algorithm, message, ..
                }) => {
                    let signature =
                        sign_certificate_request_info(&private, algorithm, &message, &mut rng)
                            .unwrap();
                    phone
                        .answer_certificate_request_signature(signature)
                        .unwrap();
                }
                Output::Need(PhoneDecision::StoreCertificate {
                    certificate_der, ..
                }) => {
                    stored = Some(certificate_der);
                    phone.answer_store().unwrap();
                }
                Output::Need(other) => panic!("{other:?}"),
                Output::Done(_) => {}
                _ => panic!("unknown output"),
            }
        }
        if !moved {
            break;
        }
    }
    let ended = Ended {
        facts,
        recorded,
        server: outcome.expect("the server session ended"),
        stored,
    };
    // Whatever was issued is what the phone stores and the host records.
    if let Some(facts) = &ended.facts {
        assert_eq!(ended.recorded.as_ref(), Some(&facts.der));
        assert_eq!(ended.stored.as_ref(), Some(&facts.der));
    }
    ended
}

/// The certificate's serial (hex), dates, key and issuer as x509-cert
/// reads them, checked against the facts and the phone's request.
fn check_certificate(facts: &NewCertificate, issuer_der: &[u8]) {
    let certificate = x509_cert::Certificate::from_der(&facts.der).unwrap();
    let issuer = x509_cert::Certificate::from_der(issuer_der).unwrap();
    let tbs = &certificate.tbs_certificate;
    let serial: String = tbs
        .serial_number
        .as_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(facts.serial_hex, serial);
    assert_eq!(
        facts.issued_at,
        tbs.validity.not_before.to_unix_duration().as_secs()
    );
    assert_eq!(
        facts.not_after,
        tbs.validity.not_after.to_unix_duration().as_secs()
    );
    assert_eq!(tbs.issuer, issuer.tbs_certificate.subject);
    assert!(tbs.subject.to_string().contains(DEVICE), "{}", tbs.subject);
}

/// The status the registry records for a session's outcome.
fn status(outcome: &ServerOutcome) -> OutcomeWrite {
    capf_registry::rules::outcome_write(outcome, None, 5)
}

/// A self-signed CA (rcgen, P-256) and, for the responder, a TLS
/// certificate for 127.0.0.1 that it signs.
fn new_ca(name: &str) -> Ca {
    Ca::new(name).unwrap()
}

/// The responder (basic authentication `capf`/`right`) and an issuer
/// that talks to it with `password`.
fn est(ca: &Ca, behaviour: Behaviour, password: &str, timeout: u64) -> (Responder, Issuer) {
    let responder = Responder::start(
        ResponderConfig {
            ca_certificate_pem: ca.certificate_pem.clone(),
            ca_key_pem: ca.key_pem.clone(),
            tls_chain: ca.tls_chain.clone(),
            tls_key_pkcs8_der: ca.tls_key.clone(),
            client_ca: Vec::new(),
            basic: Some(("capf".to_owned(), "right".to_owned())),
            first_serial: 0x2a,
        },
        behaviour,
    )
    .unwrap();
    let client = EstClient::new(EstConfig {
        url: EstUrl::parse(&responder.url()).unwrap(),
        trust_anchors: vec![ca.certificate_der.clone()],
        authentication: EstAuthentication::Basic {
            user: "capf".into(),
            password: password.into(),
        },
        timeout: Duration::from_secs(timeout),
    })
    .unwrap();
    (responder, Issuer::Est(Arc::new(client)))
}

#[test]
fn the_local_ca_signs_and_the_facts_are_the_certificates() {
    let ca = new_ca("Local CAPF CA");
    let issuer = Issuer::Local {
        authority: Arc::new(LscIssuer::new(&ca.certificate_der, &ca.key_der).unwrap()),
        validity_days: 30,
    };
    assert_eq!(issuer.issuance_timeout(), Duration::ZERO);
    assert!(!issuer.needs_certificate_request());
    for host in [Host::Async, Host::Blocking] {
        // The local CA needs no signed request; it signs one if sent too.
        for send_request in [false, true] {
            let ended = enroll(&issuer, send_request, host);
            let facts = ended.facts.expect("issued");
            check_certificate(&facts, &ca.certificate_der);
            assert_eq!(facts.issued_at, T0.unix_seconds());
            assert_eq!(facts.not_after, T0.unix_seconds() + 30 * 86_400);
            assert!(
                matches!(ended.server.result, SessionResult::Installed { .. }),
                "{:?}",
                ended.server.result
            );
        }
    }
}

#[test]
fn the_est_ca_signs_the_phones_signed_request() {
    let ca = new_ca("EST CA");
    let (responder, issuer) = est(&ca, Behaviour::Issue, "right", 10);
    assert_eq!(issuer.issuance_timeout(), Duration::from_secs(10));
    assert!(issuer.needs_certificate_request());
    let mut serials = Vec::new();
    for host in [Host::Async, Host::Blocking, Host::BlockingInsideRuntime] {
        let ended = enroll(&issuer, true, host);
        let facts = ended.facts.expect("issued");
        check_certificate(&facts, &ca.certificate_der);
        assert!(
            matches!(ended.server.result, SessionResult::Installed { .. }),
            "{:?}",
            ended.server.result
        );
        serials.push(facts.serial_hex);
    }
    // The responder's serials, one per enrollment, in order.
    assert_eq!(serials, ["2a", "2b", "2c"]);
    assert_eq!(responder.seen().len(), 3);
}

#[test]
fn a_phone_without_a_signed_request_is_refused_as_ca_rejected_without_asking_the_ca() {
    let ca = new_ca("EST CA no request");
    let (responder, issuer) = est(&ca, Behaviour::Issue, "right", 10);
    for host in [Host::Async, Host::Blocking] {
        let ended = enroll(&issuer, false, host);
        assert!(ended.facts.is_none() && ended.recorded.is_none() && ended.stored.is_none());
        assert_eq!(ended.server.end_reason, Some(Reason::Failure));
        assert_eq!(
            status(&ended.server),
            OutcomeWrite::Failed(Some(FailureReason::CaRejectedConnection))
        );
        assert_eq!(
            FailureReason::CaRejectedConnection.words(),
            "CA Rejected Connection"
        );
    }
    assert!(responder.seen().is_empty());
}

#[test]
fn a_refusing_ca_ends_the_session_with_7_and_ca_rejected_connection() {
    let ca = new_ca("EST CA refusing");
    // A wrong password: the responder answers 401.
    let (responder, issuer) = est(&ca, Behaviour::Issue, "wrong", 10);
    for host in [Host::Async, Host::Blocking] {
        let ended = enroll(&issuer, true, host);
        assert!(ended.facts.is_none() && ended.recorded.is_none() && ended.stored.is_none());
        assert_eq!(ended.server.end_reason, Some(Reason::Failure));
        assert_eq!(
            status(&ended.server),
            OutcomeWrite::Failed(Some(FailureReason::CaRejectedConnection))
        );
    }
    let statuses: Vec<_> = responder.seen().iter().map(|seen| seen.status).collect();
    assert_eq!(statuses, [Some(401), Some(401)]);
}

#[test]
fn a_silent_ca_ends_the_session_with_ca_communication_failure_at_the_timeout() {
    let ca = new_ca("EST CA silent");
    let (_responder, issuer) = est(&ca, Behaviour::Hold, "right", 1);
    for host in [Host::Async, Host::Blocking] {
        let ended = enroll(&issuer, true, host);
        assert!(ended.facts.is_none() && ended.stored.is_none());
        assert_eq!(ended.server.end_reason, Some(Reason::Failure));
        assert_eq!(
            status(&ended.server),
            OutcomeWrite::Failed(Some(FailureReason::CaCommunicationFailure))
        );
    }
}
