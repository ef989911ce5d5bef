//! The phone session's documented reactions: every server command (1-23
//! and an unknown code) in every state, END_SESSION reasons by state, the
//! checks on AUTH_REQUEST and KEY_GEN_REQUEST, timeouts, caller misuse,
//! credentials, the retry policy, and a no-panic property.

mod phone_support;

use core::time::Duration;

use capf_core::capf::codec::{AuthType, Command, Curve, Element, Frame, KeyType, Reason, Version};
use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::phone::{
    AuthString, CertificateCredentials, CertificatePrecedence, CommunicationFailure,
    CredentialError, EnrollmentAttempts, LocalFailure, PhoneConfig, PhoneCredentials,
    PhoneDecision, PhoneOutcome, PhoneOutput, PhoneProtocolViolation as ProtocolViolation,
    PhoneSession, PhoneSessionState as PhoneState, ProofCredential, RetryDecision, RetryPolicy,
    SoftwareSigner, StoreFailure,
};
use capf_core::session::{DecisionKind, SessionMisuse};
use capf_core::time::Timestamp;
use phone_support::{T0, Vector};
use proptest::prelude::*;

mod property_support;
use property_support::{framed_body, run_reaching};

const SID: u32 = 1;

/// `install-password-rsa2048` (session id 1): its generated key and the LSC
/// issued for it.
struct Install {
    spki: Vec<u8>,
    issued: Vec<u8>,
}

fn install() -> Install {
    static CACHE: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
    let (spki, issued) = CACHE.get_or_init(|| {
        let vector = Vector::load("install-password-rsa2048");
        assert_eq!(vector.session_id(), SID);
        (
            vector.recorded_public_key().unwrap(),
            vector.pem_der("issued_certificate"),
        )
    });
    Install {
        spki: spki.clone(),
        issued: issued.clone(),
    }
}

fn config() -> PhoneConfig {
    PhoneConfig::new(
        "SEP001122334455",
        PhoneCredentials::AuthString(AuthString::new("123456").unwrap()),
    )
    .unwrap()
}

fn bytes(frame: &Frame) -> Vec<u8> {
    frame.encode().unwrap()
}

fn outputs(phone: &mut PhoneSession) -> Vec<PhoneOutput> {
    std::iter::from_fn(|| phone.poll_output()).collect()
}

/// A session driven into `state` (outputs drained).
fn session_in(state: PhoneState) -> PhoneSession {
    let data = install();
    let mut phone = PhoneSession::new(config(), T0);
    let feed = |phone: &mut PhoneSession, frame: Frame| {
        phone.handle_input(&bytes(&frame));
        outputs(phone)
    };
    if state == PhoneState::AwaitingAuthRequest {
        return phone;
    }
    feed(
        &mut phone,
        Frame::auth_request(SID, Some(AuthType::NotStated)),
    );
    match state {
        PhoneState::AwaitingRequest => {}
        PhoneState::Fetching => {
            feed(&mut phone, Frame::fetch_cert_request(SID));
        }
        PhoneState::Deleting => {
            feed(&mut phone, Frame::delete_cert_request(SID));
        }
        PhoneState::Finished => {
            feed(&mut phone, Frame::end_session(SID, Reason::NoAction));
        }
        _ => {
            feed(&mut phone, Frame::key_gen_request_rsa(SID, 2048));
            match state {
                PhoneState::GeneratingKey => {}
                PhoneState::AwaitingEndAfterFailure => {
                    phone.refuse_key().unwrap();
                    outputs(&mut phone);
                }
                _ => {
                    phone.answer_key(data.spki.clone()).unwrap();
                    outputs(&mut phone);
                    if state != PhoneState::AwaitingStoreRequest {
                        feed(&mut phone, Frame::store_cert_request(SID, data.issued));
                        if state == PhoneState::AwaitingEnd {
                            phone.answer_store().unwrap();
                            outputs(&mut phone);
                        }
                    }
                }
            }
        }
    }
    assert_eq!(phone.state(), state, "setup");
    phone
}

const STATES: [PhoneState; 10] = [
    PhoneState::AwaitingAuthRequest,
    PhoneState::AwaitingRequest,
    PhoneState::GeneratingKey,
    PhoneState::AwaitingStoreRequest,
    PhoneState::Storing,
    PhoneState::Fetching,
    PhoneState::Deleting,
    PhoneState::AwaitingEnd,
    PhoneState::AwaitingEndAfterFailure,
    PhoneState::Finished,
];

/// A well-formed server frame for each command (empty body where the
/// command has no known body).
fn canonical(command: Command) -> Frame {
    match command {
        Command::AuthRequest => Frame::auth_request(SID, Some(AuthType::NotStated)),
        Command::KeyGenRequest => Frame::key_gen_request_rsa(SID, 2048),
        Command::StoreCertRequest => Frame::store_cert_request(SID, install().issued),
        Command::EndSession => Frame::end_session(SID, Reason::NoAction),
        other => Frame::new(other, SID, Vec::new()),
    }
}

/// The documented reaction, in output kinds: `T` transmit, `N:kind` need,
/// or the outcome.
#[derive(Debug, PartialEq)]
enum Reaction {
    Outputs(Vec<String>),
    Done(PhoneOutcome),
}

fn expected(state: PhoneState, command: Command) -> Reaction {
    use PhoneState as S;
    let outputs = |kinds: &[&str]| Reaction::Outputs(kinds.iter().map(|k| k.to_string()).collect());
    match (state, command) {
        (S::Finished, _) => outputs(&[]),
        (S::AwaitingAuthRequest, Command::AuthRequest) => outputs(&["T"]),
        (S::AwaitingRequest, Command::KeyGenRequest) => outputs(&["T", "N:GenerateKey"]),
        // This table reaches the state by a refused key: a second request
        // (the RSA backup of an EC-preferred key order) is answered.
        (S::AwaitingEndAfterFailure, Command::KeyGenRequest) => outputs(&["T", "N:GenerateKey"]),
        (S::AwaitingRequest, Command::FetchCertRequest) => outputs(&["N:FetchCertificate"]),
        (S::AwaitingRequest, Command::DeleteCertRequest) => outputs(&["N:DeleteCertificate"]),
        (S::AwaitingStoreRequest, Command::StoreCertRequest) => outputs(&["N:StoreCertificate"]),
        (state, Command::EndSession) => Reaction::Done(end_outcome(state, Reason::NoAction)),
        (state, command) => Reaction::Done(PhoneOutcome::ProtocolError(
            ProtocolViolation::UnexpectedCommand { command, state },
        )),
    }
}

/// The documented reading of END_SESSION in each state.
fn end_outcome(state: PhoneState, reason: Reason) -> PhoneOutcome {
    use PhoneState as S;
    let done = matches!(reason, Reason::NoAction | Reason::Success);
    match state {
        S::AwaitingEndAfterFailure => PhoneOutcome::KeyGenerationFailed {
            server_reason: Some(reason),
        },
        _ if reason == Reason::UnknownDevice => PhoneOutcome::UnknownDevice,
        S::AwaitingRequest if done => PhoneOutcome::NothingToDo { reason },
        // Our reading of the offline CA: "no action" after the key.
        S::AwaitingStoreRequest if reason == Reason::NoAction => PhoneOutcome::CertificatePending,
        S::AwaitingEnd if done => PhoneOutcome::Installed {
            certificate_der: install().issued,
        },
        _ => PhoneOutcome::Refused { reason },
    }
}

fn observed(outputs: Vec<PhoneOutput>) -> Reaction {
    let mut kinds = Vec::new();
    for output in outputs {
        match output {
            PhoneOutput::Transmit(_) => kinds.push("T".to_owned()),
            PhoneOutput::Need(decision) => kinds.push(format!("N:{:?}", decision.kind())),
            PhoneOutput::Done(outcome) => {
                assert!(kinds.is_empty(), "nothing is sent before a Done: {kinds:?}");
                return Reaction::Done(outcome);
            }
            other => panic!("unexpected output {other:?}"),
        }
    }
    Reaction::Outputs(kinds)
}

#[test]
fn every_command_in_every_state() {
    let mut commands: Vec<Command> = (1..=23).map(Command::from_code).collect();
    commands.push(Command::Unknown(0));
    commands.push(Command::Unknown(99));
    for state in STATES {
        for &command in &commands {
            let mut phone = session_in(state);
            phone.handle_input(&bytes(&canonical(command)));
            let reaction = observed(outputs(&mut phone));
            assert_eq!(
                reaction,
                expected(state, command),
                "{command} while {state}"
            );
            if matches!(reaction, Reaction::Done(_)) {
                assert!(phone.is_done());
                assert_eq!(phone.poll_timeout(), None);
                // Later input is ignored.
                phone.handle_input(&bytes(&canonical(Command::EndSession)));
                assert_eq!(phone.poll_output(), None);
            }
        }
    }
}

#[test]
fn end_session_reasons_in_every_state() {
    let reasons = [
        Reason::NoAction,
        Reason::Success,
        Reason::Failure,
        Reason::UnknownDevice,
        Reason::Unknown(42),
    ];
    for state in STATES {
        for reason in reasons {
            let mut phone = session_in(state);
            phone.handle_input(&bytes(&Frame::end_session(SID, reason)));
            let got = outputs(&mut phone);
            if state == PhoneState::Finished {
                assert!(got.is_empty());
            } else {
                assert_eq!(
                    got,
                    [PhoneOutput::Done(end_outcome(state, reason))],
                    "END_SESSION {reason:?} while {state}"
                );
            }
        }
    }
}

#[test]
fn end_session_readings_after_fetch_and_delete() {
    for (sent, reason) in [(true, Reason::NoAction), (false, Reason::Success)] {
        let mut phone = session_in(PhoneState::Fetching);
        phone.answer_fetch(sent.then(|| install().issued)).unwrap();
        let frames = outputs(&mut phone);
        assert_eq!(
            frames,
            [PhoneOutput::Transmit(bytes(&Frame::fetch_cert_response(
                SID,
                sent.then(|| install().issued)
            )))]
        );
        phone.handle_input(&bytes(&Frame::end_session(SID, reason)));
        assert_eq!(
            outputs(&mut phone),
            [PhoneOutput::Done(PhoneOutcome::FetchCompleted {
                certificate_sent: sent
            })]
        );
    }
    for deleted in [true, false] {
        let mut phone = session_in(PhoneState::Deleting);
        phone.answer_delete(deleted).unwrap();
        let reason = if deleted {
            Reason::Success
        } else {
            Reason::Failure
        };
        assert_eq!(
            outputs(&mut phone),
            [PhoneOutput::Transmit(bytes(&Frame::delete_cert_response(
                SID, reason
            )))]
        );
        phone.handle_input(&bytes(&Frame::end_session(SID, Reason::Failure)));
        assert_eq!(
            outputs(&mut phone),
            [PhoneOutput::Done(PhoneOutcome::Refused {
                reason: Reason::Failure
            })]
        );
    }
}

#[test]
fn end_session_without_reason_is_a_protocol_error() {
    let mut phone = session_in(PhoneState::AwaitingRequest);
    phone.handle_input(&bytes(&Frame::new(Command::EndSession, SID, Vec::new())));
    assert_eq!(
        outputs(&mut phone),
        [PhoneOutput::Done(PhoneOutcome::ProtocolError(
            ProtocolViolation::MissingReason
        ))]
    );
}

#[test]
fn another_session_id_is_a_protocol_error_in_every_state() {
    for state in STATES {
        if matches!(
            state,
            PhoneState::AwaitingAuthRequest | PhoneState::Finished
        ) {
            continue;
        }
        let mut phone = session_in(state);
        phone.handle_input(&bytes(&Frame::end_session(SID + 1, Reason::Success)));
        assert_eq!(
            outputs(&mut phone),
            [PhoneOutput::Done(PhoneOutcome::ProtocolError(
                ProtocolViolation::SessionIdMismatch {
                    expected: SID,
                    found: SID + 1
                }
            ))],
            "{state}"
        );
    }
    // The first AUTH_REQUEST sets the id, whatever it is.
    let mut phone = PhoneSession::new(config(), T0);
    phone.handle_input(&bytes(&Frame::auth_request(0xdead_beef, None)));
    assert_eq!(phone.session_id(), Some(0xdead_beef));
    let Some(PhoneOutput::Transmit(reply)) = phone.poll_output() else {
        panic!()
    };
    assert_eq!(Frame::decode(&reply).unwrap().session_id, 0xdead_beef);
}

#[test]
fn auth_request_version_checks() {
    let with_version = |version: Option<u8>| {
        let mut elements: Vec<Element> = version
            .map(|v| Element::Version(Version(v)))
            .into_iter()
            .collect();
        elements.push(Element::AuthType(AuthType::NotStated));
        elements.push(Element::Unknown {
            tag: 99,
            value: vec![1, 2, 3],
        });
        Frame::new(Command::AuthRequest, SID, elements)
    };
    for (version, accepted) in [
        (Some(3), true),
        (Some(2), true),
        (Some(4), false),
        (Some(1), false),
    ] {
        let mut phone = PhoneSession::new(config(), T0);
        phone.handle_input(&bytes(&with_version(version)));
        let got = outputs(&mut phone);
        if accepted {
            assert!(
                matches!(got.as_slice(), [PhoneOutput::Transmit(_)]),
                "{version:?}"
            );
        } else {
            assert_eq!(
                got,
                [PhoneOutput::Done(PhoneOutcome::ProtocolError(
                    ProtocolViolation::UnsupportedVersion {
                        found: version.unwrap()
                    }
                ))]
            );
        }
    }
    let mut phone = PhoneSession::new(config(), T0);
    phone.handle_input(&bytes(&with_version(None)));
    assert_eq!(
        outputs(&mut phone),
        [PhoneOutput::Done(PhoneOutcome::ProtocolError(
            ProtocolViolation::MissingVersion
        ))]
    );
    // The reference client's stricter setting.
    let mut phone = PhoneSession::new(config().with_accepted_server_versions(&[3]), T0);
    phone.handle_input(&bytes(&with_version(Some(2))));
    assert_eq!(
        outputs(&mut phone),
        [PhoneOutput::Done(PhoneOutcome::ProtocolError(
            ProtocolViolation::UnsupportedVersion { found: 2 }
        ))]
    );
}

#[test]
fn key_gen_request_parameters() {
    let request = |elements: Vec<Element>| {
        let mut phone = session_in(PhoneState::AwaitingRequest);
        phone.handle_input(&bytes(&Frame::new(Command::KeyGenRequest, SID, elements)));
        (outputs(&mut phone), phone)
    };
    let in_progress = PhoneOutput::Transmit(bytes(&Frame::request_in_progress(SID)));
    // EC on each curve; RSA with KEY_SIZE alone (a real CUCM).
    for (elements, wanted) in [
        (
            vec![Element::KeyType(KeyType::Ec), Element::Curve(Curve::P384)],
            KeyRequest::Ec(Curve::P384),
        ),
        (
            vec![Element::KeyType(KeyType::Ec), Element::Curve(Curve::P521)],
            KeyRequest::Ec(Curve::P521),
        ),
        (vec![Element::KeySize(3072)], KeyRequest::Rsa { bits: 3072 }),
    ] {
        let (got, _) = request(elements);
        assert_eq!(
            got,
            [
                in_progress.clone(),
                PhoneOutput::Need(PhoneDecision::GenerateKey(wanted))
            ]
        );
    }
    // Missing parameters: protocol error.
    for elements in [
        vec![Element::KeyType(KeyType::Rsa)],
        vec![Element::KeyType(KeyType::Ec)],
        vec![],
    ] {
        let (got, _) = request(elements);
        assert_eq!(
            got,
            [PhoneOutput::Done(PhoneOutcome::ProtocolError(
                ProtocolViolation::MissingKeyParameters
            ))]
        );
    }
    // Keys the phone cannot make: KEY_GEN_RESPONSE REASON=7, no question.
    for elements in [
        vec![Element::KeySize(1000), Element::KeyType(KeyType::Rsa)],
        vec![
            Element::KeyType(KeyType::Ec),
            Element::Curve(Curve::Unknown(7)),
        ],
        vec![
            Element::KeyType(KeyType::Unknown(5)),
            Element::KeySize(2048),
        ],
    ] {
        let (got, mut phone) = request(elements);
        assert_eq!(
            got,
            [PhoneOutput::Transmit(bytes(&Frame::key_gen_failure(
                SID,
                Reason::Failure
            )))]
        );
        assert_eq!(phone.state(), PhoneState::AwaitingEndAfterFailure);
        phone.handle_input(&bytes(&Frame::end_session(SID, Reason::Failure)));
        assert_eq!(
            outputs(&mut phone),
            [PhoneOutput::Done(PhoneOutcome::KeyGenerationFailed {
                server_reason: Some(Reason::Failure)
            })]
        );
    }
}

#[test]
fn malformed_input_is_a_protocol_error() {
    let mut phone = PhoneSession::new(config(), T0);
    phone.handle_input(&[0x16, 0x03, 0x01]);
    assert!(matches!(
        outputs(&mut phone).as_slice(),
        [PhoneOutput::Done(PhoneOutcome::ProtocolError(
            ProtocolViolation::Wire(_)
        ))]
    ));
    // A body that ends inside an element.
    let mut phone = session_in(PhoneState::AwaitingRequest);
    phone.handle_input(&[0x55, 0x0f, 0, 0, 0, 1, 0, 2, 0x01, 0x00]);
    assert!(matches!(
        outputs(&mut phone).as_slice(),
        [PhoneOutput::Done(PhoneOutcome::ProtocolError(
            ProtocolViolation::Wire(_)
        ))]
    ));
}

#[test]
fn response_timeout() {
    let timeout = Duration::from_secs(20);
    let mut phone = PhoneSession::new(config().with_response_timeout(timeout), T0);
    assert_eq!(phone.poll_timeout(), Some(T0.plus_seconds(20)));
    phone.handle_timeout(T0.plus_seconds(19));
    assert_eq!(phone.poll_output(), None);

    // Each wait runs from the latest time the session was given.
    phone.handle_input(&bytes(&Frame::auth_request(SID, None)));
    outputs(&mut phone);
    assert_eq!(phone.poll_timeout(), Some(T0.plus_seconds(39)));
    phone.handle_timeout(T0.plus_seconds(25));
    assert_eq!(phone.poll_timeout(), Some(T0.plus_seconds(39)));

    // No deadline while the host generates a key, however long it takes.
    phone.handle_input(&bytes(&Frame::key_gen_request_rsa(SID, 2048)));
    outputs(&mut phone);
    assert_eq!(phone.poll_timeout(), None);
    phone.handle_timeout(T0.plus_seconds(3600));
    assert_eq!(phone.poll_output(), None);
    // The host tells the time before answering; the wait for
    // STORE_CERT_REQUEST runs from there.
    let later = T0.plus_seconds(7200);
    phone.handle_timeout(later);
    phone.answer_key(install().spki).unwrap();
    outputs(&mut phone);
    assert_eq!(phone.poll_timeout(), Some(later.plus_seconds(20)));
    phone.handle_timeout(later.plus_seconds(20));
    assert_eq!(
        outputs(&mut phone),
        [PhoneOutput::Done(PhoneOutcome::CommunicationFailure(
            CommunicationFailure::TimedOut
        ))]
    );
    assert_eq!(phone.poll_timeout(), None);

    // After the phone reported its own failure, a silent server gives that
    // failure, not a timeout.
    let mut phone = session_in(PhoneState::AwaitingEndAfterFailure);
    phone.handle_timeout(T0);
    phone.handle_timeout(T0.plus_seconds(61));
    assert_eq!(
        outputs(&mut phone),
        [PhoneOutput::Done(PhoneOutcome::KeyGenerationFailed {
            server_reason: None
        })]
    );
}

#[test]
fn connection_loss_before_end_session() {
    for state in STATES {
        for transport in [false, true] {
            let mut phone = session_in(state);
            if transport {
                phone.handle_transport_error();
            } else {
                phone.handle_peer_closed();
            }
            let got = outputs(&mut phone);
            let failure = if transport {
                CommunicationFailure::Transport
            } else {
                CommunicationFailure::PeerClosed
            };
            let wanted = match state {
                PhoneState::Finished => vec![],
                PhoneState::AwaitingEndAfterFailure => {
                    vec![PhoneOutput::Done(PhoneOutcome::KeyGenerationFailed {
                        server_reason: None,
                    })]
                }
                _ => vec![PhoneOutput::Done(PhoneOutcome::CommunicationFailure(
                    failure,
                ))],
            };
            assert_eq!(got, wanted, "{state}");
        }
    }
}

#[test]
fn answers_that_were_not_asked_are_misuse() {
    let mut phone = session_in(PhoneState::AwaitingRequest);
    assert_eq!(
        phone.answer_key(install().spki),
        Err(SessionMisuse::NotPending {
            answered: DecisionKind::GenerateKey,
            pending: None
        })
    );
    assert_eq!(
        phone.repeat_in_progress(),
        Err(SessionMisuse::NotGeneratingKey)
    );
    let mut phone = session_in(PhoneState::GeneratingKey);
    assert_eq!(
        phone.answer_store(),
        Err(SessionMisuse::NotPending {
            answered: DecisionKind::StoreCertificate,
            pending: Some(DecisionKind::GenerateKey)
        })
    );
    assert_eq!(
        phone.answer_fetch(None),
        Err(SessionMisuse::NotPending {
            answered: DecisionKind::FetchCertificate,
            pending: Some(DecisionKind::GenerateKey)
        })
    );
    assert_eq!(
        phone.answer_delete(true),
        Err(SessionMisuse::NotPending {
            answered: DecisionKind::DeleteCertificate,
            pending: Some(DecisionKind::GenerateKey)
        })
    );
    // A key that is not an SPKI, or not the kind asked for, is refused and
    // the question stays open.
    assert_eq!(
        phone.answer_key(vec![1, 2, 3]),
        Err(SessionMisuse::InvalidPublicKey)
    );
    let ec = Vector::load("install-nullstring-ec-p256")
        .recorded_public_key()
        .unwrap();
    assert_eq!(
        phone.answer_key(ec),
        Err(SessionMisuse::PublicKeyMismatch {
            requested: KeyRequest::Rsa { bits: 2048 }
        })
    );
    let rsa1024 = Vector::load("install-mic-auth-rsa1024")
        .recorded_public_key()
        .unwrap();
    assert!(phone.answer_key(rsa1024).is_err());
    assert_eq!(phone.state(), PhoneState::GeneratingKey);
    assert_eq!(phone.poll_output(), None);
    phone.answer_key(install().spki).unwrap();
    assert_eq!(phone.state(), PhoneState::AwaitingStoreRequest);
    // After the end, everything is misuse.
    let mut phone = session_in(PhoneState::Finished);
    assert_eq!(phone.refuse_key(), Err(SessionMisuse::Finished));
    assert_eq!(phone.answer_delete(false), Err(SessionMisuse::Finished));
    assert_eq!(phone.repeat_in_progress(), Err(SessionMisuse::Finished));
}

#[test]
fn credentials_are_validated() {
    for bad in ["", "123", "12345678901", "12 345", "١٢٣٤٥"] {
        assert_eq!(
            AuthString::new(bad).unwrap_err(),
            CredentialError::BadAuthString
        );
    }
    for good in ["1234", "0000000000"] {
        assert!(AuthString::new(good).is_ok());
    }
    for bad in ["", "SEP 1", "SEP\u{0}1", &"S".repeat(65)] {
        assert_eq!(
            PhoneConfig::new(bad, PhoneCredentials::NullString).unwrap_err(),
            CredentialError::BadDeviceName
        );
    }
    let rng = || Box::new(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1));
    assert_eq!(
        PhoneConfig::new(
            "SEP001122334455",
            PhoneCredentials::Certificate(CertificateCredentials::new(
                CertificatePrecedence::LscFirst,
            ))
        )
        .unwrap_err(),
        CredentialError::NoCertificate
    );
    let rsa = Vector::load("install-mic-auth-rsa1024");
    let ec = Vector::load("install-nullstring-ec-p256");
    assert_eq!(
        SoftwareSigner::new(rng())
            .with_key(
                ProofCredential::Mic,
                &rsa.pem_der("auth_certificate"),
                Box::new(ec.key("client_generated_private_key"))
            )
            .unwrap_err(),
        CredentialError::KeyKindMismatch
    );
    assert_eq!(
        CertificateCredentials::new(CertificatePrecedence::LscFirst)
            .with_lsc(vec![0x30, 0x00])
            .unwrap_err(),
        CredentialError::BadCertificate
    );
    assert_eq!(
        CertificateCredentials::new(CertificatePrecedence::LscFirst)
            .with_sudi(ec.pem_der("issued_certificate"))
            .unwrap_err(),
        CredentialError::SudiNotRsa
    );
    // Secrets stay out of Debug.
    let config = config();
    assert!(!format!("{config:?}").contains("123456"));
    let mut phone = PhoneSession::new(config, T0);
    assert!(!format!("{phone:?}").contains("123456"));
    phone.handle_input(&bytes(&Frame::auth_request(SID, None)));
    assert!(!format!("{phone:?}").contains("123456"));
}

/// Mode LSC-first without an LSC falls back to the MIC (and MIC-first to the
/// LSC); either way the frame is the recorded MIC-authenticated one.
#[test]
fn certificate_precedence_falls_back() {
    let vector = Vector::load("install-mic-auth-rsa1024");
    let recorded = vector.client_frames()[0].clone();
    for precedence in [
        CertificatePrecedence::LscFirst,
        CertificatePrecedence::MicFirst,
    ] {
        let certificate = vector.pem_der("auth_certificate");
        let base = CertificateCredentials::new(precedence);
        // Only the certificate that is NOT preferred is present.
        let (base, credential) = match precedence {
            CertificatePrecedence::LscFirst => {
                (base.with_mic(certificate.clone()), ProofCredential::Mic)
            }
            _ => (base.with_lsc(certificate.clone()), ProofCredential::Lsc),
        };
        let credentials = base.unwrap().with_sudi(certificate.clone()).unwrap();
        let rng = Box::new(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1));
        let mut signer = SoftwareSigner::new(rng);
        for held in [credential, ProofCredential::Sudi] {
            signer = signer
                .with_key(held, &certificate, Box::new(vector.key("auth_private_key")))
                .unwrap();
        }
        let config = PhoneConfig::new(
            vector.str("device_name"),
            PhoneCredentials::Certificate(credentials),
        )
        .unwrap();
        let mut phone = PhoneSession::new(config, T0);
        phone.handle_input(&vector.frames[0].1);
        let mut sent = Vec::new();
        let mut asked = Vec::new();
        while let Some(output) = phone.poll_output() {
            match output {
                PhoneOutput::Need(decision) => {
                    let PhoneDecision::SignProof { credential, .. } = &decision else {
                        panic!("{decision:?}")
                    };
                    asked.push(*credential);
                    assert!(signer.answer(&mut phone, &decision).unwrap());
                }
                other => sent.push(other),
            }
        }
        assert_eq!(
            asked,
            [
                credential,
                credential,
                ProofCredential::Sudi,
                ProofCredential::Sudi
            ]
        );
        assert_eq!(
            sent,
            [PhoneOutput::Transmit(recorded.clone())],
            "{precedence:?}"
        );
    }
}

#[test]
fn a_refused_or_wrong_signature() {
    let vector = Vector::load("install-mic-auth-rsa1024");
    let start = || {
        let credentials = CertificateCredentials::new(CertificatePrecedence::MicFirst)
            .with_mic(vector.pem_der("auth_certificate"))
            .unwrap();
        let mut phone = PhoneSession::new(
            PhoneConfig::new(
                vector.str("device_name"),
                PhoneCredentials::Certificate(credentials),
            )
            .unwrap(),
            T0,
        );
        phone.handle_input(&bytes(&Frame::auth_request(SID, None)));
        let asked = outputs(&mut phone);
        let [PhoneOutput::Need(PhoneDecision::SignProof { digest, .. })] = asked.as_slice() else {
            panic!("{asked:?}")
        };
        assert_eq!(phone.pending_decision(), Some(DecisionKind::SignProof));
        assert_eq!(phone.state(), PhoneState::SigningProof);
        assert_eq!(
            phone.poll_timeout(),
            None,
            "no deadline while the host signs"
        );
        (phone, digest.clone())
    };

    // A signature by another key, or garbage, is the host's mistake: refused,
    // the decision stays.
    let (mut phone, digest) = start();
    let other = Vector::load("install-lsc-auth-rsa");
    let mut wrong = SoftwareSigner::new(Box::new(
        <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1),
    ))
    .with_key(
        ProofCredential::Mic,
        &other.pem_der("auth_certificate"),
        Box::new(other.key("auth_private_key")),
    )
    .unwrap();
    let forged = wrong
        .sign(
            ProofCredential::Mic,
            capf_core::capf::proof::ProofHash::Sha1,
            &digest,
        )
        .unwrap();
    assert_eq!(
        phone.answer_signature(forged),
        Err(SessionMisuse::InvalidSignature)
    );
    assert_eq!(
        phone.answer_signature(vec![0; 3]),
        Err(SessionMisuse::InvalidSignature)
    );
    assert_eq!(phone.pending_decision(), Some(DecisionKind::SignProof));
    assert_eq!(
        phone.answer_key(install().spki),
        Err(SessionMisuse::NotPending {
            answered: DecisionKind::GenerateKey,
            pending: Some(DecisionKind::SignProof)
        })
    );

    // A keystore that cannot sign: the session ends, nothing is sent.
    phone.refuse_signature().unwrap();
    assert_eq!(
        outputs(&mut phone),
        [PhoneOutput::Done(PhoneOutcome::LocalFailure(
            LocalFailure::Signing
        ))]
    );
    assert_eq!(phone.refuse_signature(), Err(SessionMisuse::Finished));

    // A signer without the key refuses through the same path.
    let (mut phone, _) = start();
    let mut empty = SoftwareSigner::new(Box::new(
        <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1),
    ));
    let decision = PhoneDecision::SignProof {
        credential: ProofCredential::Mic,
        hash: capf_core::capf::proof::ProofHash::Sha1,
        certificate_der: vec![],
        message: vec![],
        digest: vec![0; 20],
    };
    assert!(empty.answer(&mut phone, &decision).unwrap());
    assert!(phone.is_done());

    // The server may end the session while the host signs.
    let (mut phone, _) = start();
    phone.handle_input(&bytes(&Frame::end_session(SID, Reason::Failure)));
    assert_eq!(
        outputs(&mut phone),
        [PhoneOutput::Done(PhoneOutcome::Refused {
            reason: Reason::Failure
        })]
    );
}

#[test]
fn store_failure_reasons_are_distinct() {
    // StoreFailure values used by the session (the vector tests exercise
    // each path).
    let all = [
        StoreFailure::MissingCertificate,
        StoreFailure::CertificateUnparseable,
        StoreFailure::PublicKeyMismatch,
        StoreFailure::HostFailed,
    ];
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            assert_ne!(a.to_string(), b.to_string());
        }
    }
}

// ---- retry policy -------------------------------------------------------

fn at(seconds: u64) -> Timestamp {
    T0.plus_seconds(seconds)
}

#[test]
fn communication_failures_are_retried_three_times_at_30_seconds() {
    let mut attempts = EnrollmentAttempts::new(RetryPolicy::default());
    let lost = PhoneOutcome::CommunicationFailure(CommunicationFailure::TimedOut);
    let mut now = at(0);
    for retry in 1..=3u64 {
        assert_eq!(
            attempts.record_outcome(&lost, now),
            RetryDecision::RetryAt(now.plus_seconds(30))
        );
        assert_eq!(attempts.poll_timeout(), Some(now.plus_seconds(30)));
        assert!(!attempts.handle_timeout(now.plus_seconds(29)));
        assert!(attempts.handle_timeout(now.plus_seconds(30)));
        assert!(!attempts.handle_timeout(now.plus_seconds(30)), "once");
        assert_eq!(attempts.poll_timeout(), None);
        assert_eq!(u64::from(attempts.attempts()), retry);
        now = now.plus_seconds(45);
    }
    // The fourth failure (third retry) is the last.
    assert_eq!(attempts.record_outcome(&lost, now), RetryDecision::GiveUp);
    assert_eq!(attempts.poll_timeout(), None);
    assert_eq!(attempts.attempts(), 4);
    assert_eq!(attempts.conclusion(), Some(RetryDecision::GiveUp));
    // Concluded: later outcomes change nothing.
    let installed = PhoneOutcome::Installed {
        certificate_der: vec![],
    };
    assert_eq!(
        attempts.record_outcome(&installed, now),
        RetryDecision::GiveUp
    );
    assert_eq!(attempts.attempts(), 4);
}

#[test]
fn refusals_are_not_retried_and_success_finishes() {
    let refusals = [
        PhoneOutcome::Refused {
            reason: Reason::Failure,
        },
        PhoneOutcome::UnknownDevice,
        PhoneOutcome::KeyGenerationFailed {
            server_reason: None,
        },
        PhoneOutcome::StoreFailed {
            cause: StoreFailure::PublicKeyMismatch,
            server_reason: None,
        },
        PhoneOutcome::ProtocolError(ProtocolViolation::MissingReason),
        PhoneOutcome::LocalFailure(LocalFailure::Signing),
    ];
    for refusal in &refusals {
        let mut attempts = EnrollmentAttempts::new(RetryPolicy::default());
        assert_eq!(
            attempts.record_outcome(refusal, at(0)),
            RetryDecision::GiveUp,
            "{refusal:?}"
        );
        assert_eq!(attempts.poll_timeout(), None);
    }
    let successes = [
        PhoneOutcome::Installed {
            certificate_der: vec![1],
        },
        PhoneOutcome::NothingToDo {
            reason: Reason::NoAction,
        },
        PhoneOutcome::FetchCompleted {
            certificate_sent: false,
        },
        PhoneOutcome::Deleted {
            certificate_was_present: true,
        },
    ];
    for success in &successes {
        let mut attempts = EnrollmentAttempts::new(RetryPolicy::default());
        // A failure first, then success on the retry.
        let lost = PhoneOutcome::CommunicationFailure(CommunicationFailure::ConnectFailed);
        assert!(matches!(
            attempts.record_outcome(&lost, at(0)),
            RetryDecision::RetryAt(_)
        ));
        assert_eq!(
            attempts.record_outcome(success, at(30)),
            RetryDecision::Finished
        );
        assert_eq!(attempts.poll_timeout(), None);
        assert_eq!(attempts.conclusion(), Some(RetryDecision::Finished));
    }
}

#[test]
fn retry_policy_is_configurable() {
    let policy = RetryPolicy {
        retries: 1,
        interval: Duration::from_millis(1500),
    };
    let mut attempts = EnrollmentAttempts::new(policy);
    let lost = PhoneOutcome::CommunicationFailure(CommunicationFailure::PeerClosed);
    assert_eq!(
        attempts.record_outcome(&lost, at(0)),
        RetryDecision::RetryAt(at(0).plus_millis(1500))
    );
    assert_eq!(attempts.record_outcome(&lost, at(2)), RetryDecision::GiveUp);
    let mut never = EnrollmentAttempts::new(RetryPolicy {
        retries: 0,
        ..RetryPolicy::default()
    });
    assert_eq!(never.record_outcome(&lost, at(0)), RetryDecision::GiveUp);
}

// ---- no panics ----------------------------------------------------------

/// Answers whatever is asked with fixed answers (each accepted, unless the
/// session ended meanwhile: input after the asking frame may end it before
/// the host answers) and drains everything; returns how many frames the
/// phone sent or decisions it asked for.
fn drive(phone: &mut PhoneSession) -> usize {
    let spki = install().spki;
    let mut acted = 0;
    while let Some(output) = phone.poll_output() {
        match output {
            PhoneOutput::Need(decision) => {
                acted += 1;
                let answered = match &decision {
                    // The recorded key is RSA-2048; other requests get a
                    // key generation failure.
                    PhoneDecision::GenerateKey(KeyRequest::Rsa { bits: 2048 }) => {
                        phone.answer_key(spki.clone())
                    }
                    PhoneDecision::GenerateKey(_) => phone.refuse_key(),
                    PhoneDecision::StoreCertificate { .. } => phone.answer_store(),
                    PhoneDecision::FetchCertificate => phone.answer_fetch(None),
                    PhoneDecision::DeleteCertificate => phone.answer_delete(true),
                    _ => Ok(()),
                };
                assert!(
                    answered.is_ok() || phone.is_done(),
                    "{decision:?}: {answered:?}"
                );
            }
            PhoneOutput::Transmit(_) => acted += 1,
            _ => {}
        }
    }
    acted
}

/// A server frame: one of each command the phone can receive, sometimes
/// with one byte changed, or frame-like bytes (the right protocol id and
/// length, plausible elements).
fn server_frame() -> impl Strategy<Value = Vec<u8>> {
    let frames = vec![
        bytes(&Frame::auth_request(SID, Some(AuthType::NotStated))),
        bytes(&Frame::auth_request(SID, None)),
        bytes(&Frame::key_gen_request_rsa(SID, 2048)),
        bytes(&Frame::key_gen_request_ec(SID, Curve::P256)),
        bytes(&Frame::request_in_progress(SID)),
        bytes(&Frame::fetch_cert_request(SID)),
        bytes(&Frame::delete_cert_request(SID)),
        bytes(&Frame::end_session(SID, Reason::Success)),
    ];
    let valid = (
        proptest::sample::select(frames),
        any::<prop::sample::Index>(),
        prop_oneof![2 => Just(0u8), 1 => 1u8..=255],
    )
        .prop_map(|(mut frame, at, change)| {
            let at = at.index(frame.len());
            frame[at] ^= change;
            frame
        });
    prop_oneof![3 => valid, 1 => framed_body()]
}

/// Input chunks: arbitrary bytes, or a stream of server frames cut into
/// chunks.
fn input_chunks() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let arbitrary = proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16);
    // Half the streams open as a session does, so later frames are judged
    // in later states.
    let opening = prop_oneof![
        Just(bytes(&Frame::auth_request(SID, Some(AuthType::NotStated)))),
        server_frame(),
    ];
    let framed = (
        opening,
        proptest::collection::vec(server_frame(), 0..4),
        1usize..200,
    )
        .prop_map(|(first, rest, size)| {
            let stream = [first, rest.concat()].concat();
            stream.chunks(size).map(<[u8]>::to_vec).collect()
        });
    prop_oneof![arbitrary, framed]
}

#[test]
fn arbitrary_chunks_never_panic() {
    run_reaching("phone session input", 512, 40, input_chunks(), |chunks| {
        let mut phone = PhoneSession::new(config(), T0);
        let mut acted = 0;
        for (i, chunk) in chunks.iter().enumerate() {
            phone.handle_input(chunk);
            acted += drive(&mut phone);
            phone.handle_timeout(T0.plus_seconds(u64::try_from(i).unwrap()));
            acted += drive(&mut phone);
            prop_assert!(!phone.is_done() || phone.poll_timeout().is_none());
        }
        phone.handle_peer_closed();
        drive(&mut phone);
        prop_assert!(phone.is_done());
        prop_assert_eq!(phone.poll_output(), None);
        prop_assert_eq!(phone.poll_timeout(), None);
        // The branch: the phone answered a frame (sent one, or asked).
        Ok(acted > 0)
    });
}

#[test]
fn valid_prefix_then_garbage_never_panics() {
    let strategy = (proptest::collection::vec(any::<u8>(), 0..128), 0usize..200);
    run_reaching(
        "phone after a valid prefix",
        256,
        200,
        strategy,
        |(garbage, split)| {
            let mut stream = bytes(&Frame::auth_request(SID, Some(AuthType::NotStated)));
            stream.extend(bytes(&Frame::key_gen_request_rsa(SID, 2048)));
            stream.extend(garbage);
            let split = split.min(stream.len());
            let mut phone = PhoneSession::new(config(), T0);
            phone.handle_input(&stream[..split]);
            let mut acted = drive(&mut phone);
            phone.handle_input(&stream[split..]);
            acted += drive(&mut phone);
            phone.handle_peer_closed();
            drive(&mut phone);
            prop_assert!(phone.is_done());
            prop_assert_eq!(phone.poll_output(), None);
            // The prefix is always answered: AUTH_RESPONSE, then the key.
            Ok(acted >= 2)
        },
    );
}
