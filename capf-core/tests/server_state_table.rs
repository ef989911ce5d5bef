//! The server session's reaction to every command in every state, as one
//! table; then timeouts, a closed connection, lockout, API misuse and
//! arbitrary input.

use capf_core::capf::codec::{
    AuthResponseFields, Command, Element, Frame, Password, Reason, Version, WireDeviceName,
};
use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::server::{
    AuthFailure, AuthMode, AuthStringHash, DeviceRecord, IssueRefusal, Operation, ServerConfig,
    ServerDecision, ServerOutcome, ServerOutput, ServerProtocolViolation, ServerSession,
    SessionResult, SessionState,
};
use capf_core::issuance::LscIssuer;
use capf_core::session::{DecisionKind, SessionMisuse};
use capf_core::time::Timestamp;
use proptest::prelude::*;
use rand::SeedableRng;
use serde_json::Value;

mod property_support;
use property_support::{framed_body, run_reaching};

const NOW: Timestamp = Timestamp::from_unix_seconds(1_798_761_600);
/// The install vector's session id; its KEY_GEN_RESPONSE and issued
/// certificate drive the session through the install states.
const ID: u32 = 1;
const DEVICE: &str = "SEP001122334455";

fn vector() -> Value {
    let path = format!(
        "{}/../tests/vectors/capf/install-password-rsa2048.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn client_frame(index: usize) -> Vec<u8> {
    let vector = vector();
    let frames: Vec<&Value> = vector["frames"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|frame| frame["from"] == "client")
        .collect();
    hex::decode(frames[index]["hex"].as_str().unwrap()).unwrap()
}

fn issued_certificate() -> Vec<u8> {
    let vector = vector();
    let pem = vector["pem"]["issued_certificate"].as_str().unwrap();
    der::pem::decode_vec(pem.as_bytes()).unwrap().1
}

fn encode(frame: Frame) -> Vec<u8> {
    frame.encode().unwrap()
}

fn auth_response(password: &str) -> Vec<u8> {
    encode(Frame::auth_response(
        ID,
        AuthResponseFields::new(WireDeviceName::new(DEVICE), Password::new(password)),
    ))
}

/// Every output, the host recording each outcome when asked: the
/// [`ServerDecision::RecordOutcome`] need is checked (it is the first output
/// of the end, nothing is transmitted before its answer, and it carries the
/// outcome that `Done` then reports as recorded) and left out of the list.
fn drain(session: &mut ServerSession) -> Vec<ServerOutput> {
    let mut outputs = Vec::new();
    let mut recorded: Option<ServerOutcome> = None;
    while let Some(output) = session.poll_output() {
        match output {
            ServerOutput::Need(ServerDecision::RecordOutcome { outcome }) => {
                assert!(!outcome.recorded);
                assert_eq!(session.poll_output(), None, "nothing before the record");
                assert_eq!(
                    session.pending_decision(),
                    Some(DecisionKind::RecordOutcome)
                );
                session.answer_outcome_recorded().unwrap();
                recorded = Some(*outcome);
            }
            ServerOutput::Done(outcome) => {
                let mut expected = recorded.take().expect("the outcome was recorded first");
                expected.recorded = true;
                assert_eq!(outcome, expected);
                outputs.push(ServerOutput::Done(outcome));
            }
            other => outputs.push(other),
        }
    }
    outputs
}

fn end(reason: Reason) -> ServerOutput {
    ServerOutput::Transmit(encode(Frame::end_session(ID, reason)))
}

/// The session's END_SESSION and outcome, asserting they are the last two
/// outputs.
fn ending(outputs: &[ServerOutput]) -> (Option<Reason>, &ServerOutcome) {
    let Some(ServerOutput::Done(outcome)) = outputs.last() else {
        panic!("not done: {outputs:?}");
    };
    let reason = match outputs.len().checked_sub(2).map(|i| &outputs[i]) {
        Some(ServerOutput::Transmit(bytes)) => {
            let frame = Frame::decode(bytes).unwrap();
            (frame.command == Command::EndSession).then(|| frame.reason().unwrap())
        }
        _ => None,
    };
    assert_eq!(reason, outcome.end_reason);
    (reason, outcome)
}

/// A session brought to `state` (AUTH_REQUEST and earlier outputs drained).
fn session_in(state: SessionState) -> ServerSession {
    let operation = match state {
        SessionState::AwaitingFetchResponse => Operation::Fetch,
        SessionState::AwaitingDeleteResponse => Operation::Delete,
        SessionState::Done => Operation::None,
        _ => Operation::Install(KeyRequest::Rsa { bits: 2048 }),
    };
    let mut session = ServerSession::new(ServerConfig::new(ID), NOW);
    drain(&mut session);
    if state == SessionState::AwaitingAuthResponse {
        return session;
    }
    session.handle_input(&client_frame(0));
    drain(&mut session);
    if state == SessionState::LookingUpDevice {
        return session;
    }
    session
        .answer_device(Some(DeviceRecord::new(
            DEVICE,
            operation,
            AuthMode::NullString,
        )))
        .unwrap();
    drain(&mut session);
    if matches!(
        state,
        SessionState::AwaitingKeyGeneration
            | SessionState::AwaitingFetchResponse
            | SessionState::AwaitingDeleteResponse
            | SessionState::Done
    ) {
        assert_eq!(session.state(), state);
        return session;
    }
    session.handle_input(&client_frame(2)); // KEY_GEN_RESPONSE
    drain(&mut session);
    if state == SessionState::IssuingCertificate {
        return session;
    }
    session.answer_certificate(issued_certificate()).unwrap();
    drain(&mut session);
    if state == SessionState::RecordingPendingCertificate {
        return session;
    }
    session.answer_pending_recorded().unwrap();
    drain(&mut session);
    assert_eq!(session.state(), SessionState::AwaitingStoreResponse);
    session
}

const STATES: [SessionState; 9] = [
    SessionState::AwaitingAuthResponse,
    SessionState::LookingUpDevice,
    SessionState::AwaitingKeyGeneration,
    SessionState::IssuingCertificate,
    SessionState::RecordingPendingCertificate,
    SessionState::AwaitingStoreResponse,
    SessionState::AwaitingFetchResponse,
    SessionState::AwaitingDeleteResponse,
    SessionState::Done,
];

/// The documented reaction to a frame with an empty body.
enum Reaction {
    /// Nothing sent, same state.
    Stay,
    /// Nothing at all (the session is over).
    Ignored,
    /// END_SESSION with this reason, then Done with a result of this shape.
    End(Reason, fn(&SessionResult) -> bool),
}

fn unexpected(result: &SessionResult) -> bool {
    matches!(
        result,
        SessionResult::ProtocolError(ServerProtocolViolation::UnexpectedCommand { .. })
    )
}

fn reaction(state: SessionState, command: Command) -> Reaction {
    use Command as C;
    use SessionState as S;
    let failure = Reason::Failure;
    match (state, command) {
        (S::Done, _) => Reaction::Ignored,
        // Empty AUTH_RESPONSE: no VERSION.
        (S::AwaitingAuthResponse, C::AuthResponse) => Reaction::End(failure, |r| {
            *r == SessionResult::ProtocolError(ServerProtocolViolation::MissingVersion)
        }),
        (S::AwaitingKeyGeneration, C::RequestInProgress) => Reaction::Stay,
        // Empty KEY_GEN_RESPONSE: no PUBLIC_KEY, a failure.
        (S::AwaitingKeyGeneration, C::KeyGenResponse) => Reaction::End(failure, |r| {
            *r == SessionResult::KeyGenerationFailed { phone_reason: None }
        }),
        (S::AwaitingStoreResponse, C::StoreCertResponse) => Reaction::End(failure, |r| {
            matches!(
                r,
                SessionResult::StoreFailed {
                    phone_reason: None,
                    ..
                }
            )
        }),
        (S::AwaitingFetchResponse, C::FetchCertResponse) => Reaction::End(Reason::NoAction, |r| {
            *r == SessionResult::FetchFailed { phone_reason: None }
        }),
        (S::AwaitingDeleteResponse, C::DeleteCertResponse) => Reaction::End(Reason::Success, |r| {
            *r == SessionResult::DeleteRefused { phone_reason: None }
        }),
        // Everything else, in every state, including any frame while a
        // decision is pending: END_SESSION 7.
        _ => Reaction::End(failure, unexpected),
    }
}

#[test]
fn every_state_times_every_command() {
    let codes: Vec<u8> = (1..=23).chain([0, 24, 99, 255]).collect();
    let mut checked = 0;
    for state in STATES {
        for &code in &codes {
            let command = Command::from_code(code);
            let mut session = session_in(state);
            let deadline = session.poll_timeout();
            session.handle_input(&encode(Frame::new(command, ID, Vec::new())));
            let outputs = drain(&mut session);
            match reaction(state, command) {
                Reaction::Stay => {
                    assert!(outputs.is_empty(), "{state:?} {command}: {outputs:?}");
                    assert_eq!(session.state(), state);
                    assert_eq!(session.poll_timeout(), deadline);
                }
                Reaction::Ignored => assert!(outputs.is_empty(), "{state:?} {command}"),
                Reaction::End(reason, shape) => {
                    let (sent, outcome) = ending(&outputs);
                    assert_eq!(sent, Some(reason), "{state:?} {command}");
                    assert!(shape(&outcome.result), "{state:?} {command}: {outcome:?}");
                    if let SessionResult::ProtocolError(
                        ServerProtocolViolation::UnexpectedCommand {
                            command: got,
                            state: during,
                        },
                    ) = &outcome.result
                    {
                        assert_eq!((*got, *during), (command, state));
                    }
                    assert!(session.is_done());
                    assert_eq!(session.poll_timeout(), None);
                    assert_eq!(session.pending_decision(), None);
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 9 * 27);
}

#[test]
fn wrong_session_id_in_every_waiting_state() {
    for state in &STATES[..8] {
        let mut session = session_in(*state);
        session.handle_input(&encode(Frame::request_in_progress(ID + 1)));
        let outputs = drain(&mut session);
        // END_SESSION carries the server's own id.
        assert_eq!(outputs[0], end(Reason::Failure), "{state:?}");
        let (_, outcome) = ending(&outputs);
        assert_eq!(
            outcome.result,
            SessionResult::ProtocolError(ServerProtocolViolation::WrongSessionId {
                expected: ID,
                found: ID + 1
            })
        );
    }
}

#[test]
fn malformed_frame_ends_with_7() {
    let mut session = session_in(SessionState::AwaitingAuthResponse);
    // Body ends inside an element header.
    session.handle_input(&[0x55, 0x02, 0, 0, 0, 1, 0, 2, 0x07, 0x00]);
    let outputs = drain(&mut session);
    let (reason, outcome) = ending(&outputs);
    assert_eq!(reason, Some(Reason::Failure));
    assert!(matches!(
        outcome.result,
        SessionResult::ProtocolError(ServerProtocolViolation::Malformed(_))
    ));
    // Bytes after the end change nothing.
    session.handle_input(&client_frame(0));
    assert!(drain(&mut session).is_empty());
}

#[test]
fn auth_response_checks() {
    let with = |elements: Vec<Element>| {
        let mut session = session_in(SessionState::AwaitingAuthResponse);
        session.handle_input(&encode(Frame::new(Command::AuthResponse, ID, elements)));
        drain(&mut session)
    };
    let name = || Element::DeviceName(WireDeviceName::new(DEVICE));
    let cases: Vec<(Vec<Element>, ServerProtocolViolation)> = vec![
        (vec![name()], ServerProtocolViolation::MissingVersion),
        (
            vec![Element::Version(Version(4)), name()],
            ServerProtocolViolation::UnsupportedVersion(4),
        ),
        (
            vec![Element::Version(Version(1)), name()],
            ServerProtocolViolation::UnsupportedVersion(1),
        ),
        (
            vec![Element::Version(Version(3))],
            ServerProtocolViolation::MissingDeviceName,
        ),
        (
            vec![
                Element::Version(Version(3)),
                Element::DeviceName(WireDeviceName::new("")),
            ],
            ServerProtocolViolation::InvalidDeviceName,
        ),
        (
            vec![
                Element::Version(Version(3)),
                Element::DeviceName(WireDeviceName::new("SEP 1")),
            ],
            ServerProtocolViolation::InvalidDeviceName,
        ),
        (
            vec![
                Element::Version(Version(3)),
                Element::DeviceName(WireDeviceName::new(vec![b'A'; 65])),
            ],
            ServerProtocolViolation::InvalidDeviceName,
        ),
        (
            vec![
                Element::Version(Version(3)),
                Element::DeviceName(WireDeviceName::new(vec![0xff, 0xfe])),
            ],
            ServerProtocolViolation::InvalidDeviceName,
        ),
        (
            vec![Element::Version(Version(3)), name(), name()],
            ServerProtocolViolation::DuplicateElement(
                capf_core::capf::codec::ElementTag::DeviceName,
            ),
        ),
    ];
    for (elements, violation) in cases {
        let outputs = with(elements);
        let (reason, outcome) = ending(&outputs);
        assert_eq!(reason, Some(Reason::Failure));
        assert_eq!(outcome.result, SessionResult::ProtocolError(violation));
    }
    // Version 2 and 3 are both fine; unknown tags (and repeated unknown
    // tags) are ignored.
    for version in [2, 3] {
        let outputs = with(vec![
            Element::Unknown {
                tag: 0x0e,
                value: vec![1],
            },
            Element::Version(Version(version)),
            name(),
            Element::Unknown {
                tag: 0x0e,
                value: vec![2],
            },
            Element::Unknown {
                tag: 0x63,
                value: Vec::new(),
            },
        ]);
        assert_eq!(
            outputs,
            [ServerOutput::Need(ServerDecision::LookUpDevice {
                device_name: DEVICE.to_owned()
            })]
        );
    }
}

#[test]
fn auth_request_with_and_without_auth_type() {
    let mut session = ServerSession::new(ServerConfig::new(ID), NOW);
    assert_eq!(
        drain(&mut session),
        [ServerOutput::Transmit(
            hex::decode("550100000001000807000103080001 00".replace(' ', "")).unwrap()
        )]
    );
    let mut config = ServerConfig::new(ID);
    config.announce_auth_type = false;
    let mut session = ServerSession::new(config, NOW);
    assert_eq!(
        drain(&mut session),
        [ServerOutput::Transmit(
            hex::decode("5501000000010004070001 03".replace(' ', "")).unwrap()
        )]
    );
}

#[test]
fn timeouts() {
    let config = ServerConfig::new(ID);
    let short = config.response_timeout.as_secs();
    let long = config.key_generation_timeout.as_secs();
    assert_eq!((short, long), (60, 3600));

    // Waiting for AUTH_RESPONSE: 60 s from the start.
    let mut session = session_in(SessionState::AwaitingAuthResponse);
    assert_eq!(session.poll_timeout(), Some(NOW.plus_seconds(60)));
    session.handle_timeout(NOW.plus_seconds(59));
    assert!(drain(&mut session).is_empty());
    session.handle_timeout(NOW.plus_seconds(60));
    let outputs = drain(&mut session);
    assert_eq!(outputs[0], end(Reason::Failure));
    let (_, outcome) = ending(&outputs);
    assert_eq!(
        outcome.result,
        SessionResult::TimedOut {
            state: SessionState::AwaitingAuthResponse
        }
    );
    assert_eq!(session.poll_timeout(), None);

    // Key generation: an hour, not extended by REQUEST_IN_PROGRESS.
    let mut session = session_in(SessionState::AwaitingKeyGeneration);
    assert_eq!(session.poll_timeout(), Some(NOW.plus_seconds(3600)));
    session.handle_timeout(NOW.plus_seconds(1800));
    session.handle_input(&encode(Frame::request_in_progress(ID)));
    assert!(drain(&mut session).is_empty());
    assert_eq!(session.poll_timeout(), Some(NOW.plus_seconds(3600)));
    session.handle_timeout(NOW.plus_seconds(3599));
    assert!(drain(&mut session).is_empty());
    session.handle_timeout(NOW.plus_seconds(4000));
    let outputs = drain(&mut session);
    assert_eq!(
        ending(&outputs).1.result,
        SessionResult::TimedOut {
            state: SessionState::AwaitingKeyGeneration
        }
    );

    // Deadlines of later waits run from the latest time given.
    let mut session = session_in(SessionState::LookingUpDevice);
    assert_eq!(
        session.poll_timeout(),
        None,
        "no deadline while the host decides"
    );
    session.handle_timeout(NOW.plus_seconds(3600 * 24));
    assert!(drain(&mut session).is_empty());
    session
        .answer_device(Some(DeviceRecord::new(
            DEVICE,
            Operation::Fetch,
            AuthMode::NullString,
        )))
        .unwrap();
    drain(&mut session);
    assert_eq!(
        session.poll_timeout(),
        Some(NOW.plus_seconds(3600 * 24 + 60))
    );

    // A configured key-generation wait.
    let mut config = ServerConfig::new(ID);
    config.key_generation_timeout = core::time::Duration::from_secs(7200);
    let mut session = ServerSession::new(config, NOW);
    session.handle_input(&client_frame(0));
    drain(&mut session);
    session
        .answer_device(Some(DeviceRecord::new(
            DEVICE,
            Operation::Install(KeyRequest::Rsa { bits: 2048 }),
            AuthMode::NullString,
        )))
        .unwrap();
    drain(&mut session);
    assert_eq!(session.poll_timeout(), Some(NOW.plus_seconds(7200)));
}

#[test]
fn peer_closed_in_every_state() {
    for state in STATES {
        let mut session = session_in(state);
        session.handle_peer_closed();
        let outputs = drain(&mut session);
        if state == SessionState::Done {
            assert!(outputs.is_empty());
            continue;
        }
        // Nothing is sent on a closed connection.
        assert!(matches!(
            outputs.as_slice(),
            [ServerOutput::Done(ServerOutcome { result: SessionResult::PeerClosed { state: during }, end_reason: None, .. })]
                if *during == state
        ));
        assert!(session.is_done());
    }
}

#[test]
fn lockout_refuses_without_checking() {
    let stored = AuthStringHash::new("123456", b"0123456789abcdef", 10).unwrap();
    for (failed_attempts, sent, expected) in [
        (0, "123456", None),
        (4, "123456", None),
        (
            5,
            "123456",
            Some(AuthFailure::LockedOut { failed_attempts: 5 }),
        ),
        (
            9,
            "123456",
            Some(AuthFailure::LockedOut { failed_attempts: 9 }),
        ),
        (4, "111111", Some(AuthFailure::WrongAuthString)),
        (0, "", Some(AuthFailure::AuthStringMissing)),
    ] {
        let mut session = session_in(SessionState::AwaitingAuthResponse);
        session.handle_input(&auth_response(sent));
        drain(&mut session);
        let record = DeviceRecord::new(
            DEVICE,
            Operation::None,
            AuthMode::AuthString(stored.clone()),
        )
        .with_failed_attempts(failed_attempts);
        session.answer_device(Some(record)).unwrap();
        let outputs = drain(&mut session);
        let (reason, outcome) = ending(&outputs);
        assert_eq!(outcome.device_name.as_deref(), Some(DEVICE));
        match expected {
            None => {
                assert_eq!(reason, Some(Reason::NoAction));
                assert!(outcome.authenticated && !outcome.is_authentication_failure());
            }
            Some(failure) => {
                assert_eq!(reason, Some(Reason::Failure));
                assert_eq!(outcome.result, SessionResult::AuthenticationFailed(failure));
                assert!(!outcome.authenticated && outcome.is_authentication_failure());
            }
        }
    }
    // The limit is configurable.
    let mut config = ServerConfig::new(ID);
    config.max_failed_attempts = 1;
    let mut session = ServerSession::new(config, NOW);
    session.handle_input(&auth_response("123456"));
    drain(&mut session);
    session
        .answer_device(Some(
            DeviceRecord::new(DEVICE, Operation::None, AuthMode::AuthString(stored))
                .with_failed_attempts(1),
        ))
        .unwrap();
    assert!(ending(&drain(&mut session)).1.is_authentication_failure());
}

#[test]
fn unknown_device_gets_9_whatever_was_sent() {
    let mut session = session_in(SessionState::AwaitingAuthResponse);
    session.handle_input(&auth_response("garbage"));
    drain(&mut session);
    session.answer_device(None).unwrap();
    let outputs = drain(&mut session);
    assert_eq!(outputs[0], end(Reason::UnknownDevice));
    assert_eq!(ending(&outputs).1.result, SessionResult::UnknownDevice);
}

#[test]
fn misuse_is_an_error_never_a_panic() {
    let not_pending = |answered, pending| SessionMisuse::NotPending { answered, pending };
    // Nothing pending yet.
    let mut session = session_in(SessionState::AwaitingAuthResponse);
    assert_eq!(
        session.answer_device(None),
        Err(not_pending(DecisionKind::LookUpDevice, None))
    );
    assert_eq!(
        session.answer_pending_recorded(),
        Err(not_pending(DecisionKind::RecordPendingCertificate, None))
    );

    // Answered twice.
    let mut session = session_in(SessionState::LookingUpDevice);
    assert_eq!(session.pending_decision(), Some(DecisionKind::LookUpDevice));
    let record = DeviceRecord::new(DEVICE, Operation::Fetch, AuthMode::NullString);
    session.answer_device(Some(record.clone())).unwrap();
    assert_eq!(
        session.answer_device(Some(record)),
        Err(not_pending(DecisionKind::LookUpDevice, None))
    );

    // The wrong answer to a pending decision, a record for another device,
    // an invalid key request: the session is unchanged.
    let mut session = session_in(SessionState::LookingUpDevice);
    assert_eq!(
        session.answer_certificate(issued_certificate()),
        Err(not_pending(
            DecisionKind::IssueCertificate,
            Some(DecisionKind::LookUpDevice)
        ))
    );
    assert_eq!(
        session.answer_device(Some(DeviceRecord::new(
            "SEP001122334466",
            Operation::None,
            AuthMode::NullString
        ))),
        Err(SessionMisuse::WrongDevice)
    );
    assert_eq!(
        session.answer_device(Some(DeviceRecord::new(
            DEVICE,
            Operation::Install(KeyRequest::Rsa { bits: 1000 }),
            AuthMode::NullString
        ))),
        Err(SessionMisuse::InvalidKeyRequest(KeyRequest::Rsa {
            bits: 1000
        }))
    );
    assert_eq!(session.state(), SessionState::LookingUpDevice);
    assert!(drain(&mut session).is_empty());

    // A certificate that is not X.509, or not for the phone's key.
    let mut session = session_in(SessionState::IssuingCertificate);
    assert_eq!(
        session.answer_certificate(b"junk".to_vec()),
        Err(SessionMisuse::InvalidCertificate)
    );
    let other_key = {
        let path = format!(
            "{}/../tests/vectors/capf/install-mic-auth-rsa1024.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let vector: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let pem = vector["pem"]["issued_certificate"].as_str().unwrap();
        der::pem::decode_vec(pem.as_bytes()).unwrap().1
    };
    assert_eq!(
        session.answer_certificate(other_key),
        Err(SessionMisuse::CertificateKeyMismatch)
    );
    assert_eq!(
        session.answer_certificate(vec![0; 70_000]),
        Err(SessionMisuse::CertificateTooLarge(70_000))
    );
    assert_eq!(session.state(), SessionState::IssuingCertificate);

    // After the end, every answer is refused.
    session
        .refuse_certificate(IssueRefusal::Unavailable("CA offline".into()))
        .unwrap();
    let outputs = drain(&mut session);
    let (reason, outcome) = ending(&outputs);
    assert_eq!(reason, Some(Reason::Failure));
    assert_eq!(
        outcome.result,
        SessionResult::IssueRefused(IssueRefusal::Unavailable("CA offline".into()))
    );
    assert_eq!(
        session.answer_certificate(issued_certificate()),
        Err(SessionMisuse::Finished)
    );
    assert_eq!(
        session.answer_outcome_recorded(),
        Err(SessionMisuse::Finished)
    );
}

/// The phone's key as its KEY_GEN_RESPONSE carried it (DER
/// SubjectPublicKeyInfo), read from the recording, not from the session.
fn recorded_phone_key() -> Vec<u8> {
    let vector = vector();
    let element = vector["decoded"]
        .as_array()
        .unwrap()
        .iter()
        .find(|frame| frame["command_name"] == "KEY_GEN_RESPONSE")
        .unwrap()["elements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|element| element["name"] == "PUBLIC_KEY")
        .unwrap()
        .clone();
    hex::decode(element["value_hex"].as_str().unwrap()).unwrap()
}

fn recorded_issuer() -> LscIssuer {
    let vector = vector();
    LscIssuer::from_pem(
        vector["pem"]["issuer_certificate"].as_str().unwrap(),
        vector["pem"]["issuer_private_key"].as_str().unwrap(),
    )
    .unwrap()
}

#[test]
fn the_local_issuer_signs_the_session_own_request() {
    use der::{Decode, Encode};
    let issuer = recorded_issuer();
    let mut rng = rand::rngs::StdRng::seed_from_u64(8);
    let not_pending = |answered, pending| SessionMisuse::NotPending { answered, pending };

    // Not pending: refused, nothing signed, the session unchanged.
    let mut session = session_in(SessionState::LookingUpDevice);
    assert_eq!(
        session
            .answer_with_issuer(&issuer, 365, NOW, &mut rng)
            .map(|issued| issued.is_ok()),
        Err(not_pending(
            DecisionKind::IssueCertificate,
            Some(DecisionKind::LookUpDevice)
        ))
    );
    assert_eq!(session.state(), SessionState::LookingUpDevice);

    // Pending: the certificate carries exactly the phone's key and the
    // device's name (read back by x509-cert, not by the issuer), and the
    // session asks to record those very bytes.
    let mut session = session_in(SessionState::IssuingCertificate);
    let issued = session
        .answer_with_issuer(&issuer, 365, NOW, &mut rng)
        .unwrap()
        .unwrap();
    let parsed = x509_cert::Certificate::from_der(&issued.der).unwrap();
    assert_eq!(
        parsed
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .unwrap(),
        recorded_phone_key()
    );
    assert!(
        parsed.tbs_certificate.subject.to_string().contains(DEVICE),
        "{}",
        parsed.tbs_certificate.subject
    );
    assert_eq!(
        drain(&mut session),
        vec![ServerOutput::Need(
            ServerDecision::RecordPendingCertificate {
                device_name: DEVICE.into(),
                certificate_der: issued.der.clone(),
            }
        )]
    );
    assert_eq!(
        session
            .answer_with_issuer(&issuer, 365, NOW, &mut rng)
            .map(|_| ()),
        Err(not_pending(
            DecisionKind::IssueCertificate,
            Some(DecisionKind::RecordPendingCertificate)
        ))
    );

    // The issuer fails (a validity it refuses): the session is refused as
    // unavailable, END_SESSION 7, and the error is returned.
    let mut session = session_in(SessionState::IssuingCertificate);
    let error = session
        .answer_with_issuer(&issuer, 0, NOW, &mut rng)
        .unwrap()
        .unwrap_err();
    let outputs = drain(&mut session);
    let (reason, outcome) = ending(&outputs);
    assert_eq!(reason, Some(Reason::Failure));
    assert_eq!(
        outcome.result,
        SessionResult::IssueRefused(IssueRefusal::Unavailable(error.to_string()))
    );
}

#[test]
fn install_outcomes() {
    // The certificate is offered for the ledger before it is sent.
    let mut session = session_in(SessionState::IssuingCertificate);
    session.answer_certificate(issued_certificate()).unwrap();
    assert_eq!(
        drain(&mut session),
        [ServerOutput::Need(
            ServerDecision::RecordPendingCertificate {
                device_name: DEVICE.to_owned(),
                certificate_der: issued_certificate()
            }
        )]
    );
    session.answer_pending_recorded().unwrap();
    assert_eq!(
        drain(&mut session),
        [ServerOutput::Transmit(encode(Frame::store_cert_request(
            ID,
            issued_certificate()
        )))]
    );
    assert_eq!(session.poll_timeout(), Some(NOW.plus_seconds(60)));

    // The phone did not store it: END 7, certificate stays pending.
    session.handle_input(&encode(Frame::store_cert_response(ID, Reason::Failure)));
    let outputs = drain(&mut session);
    let (reason, outcome) = ending(&outputs);
    assert_eq!(reason, Some(Reason::Failure));
    assert_eq!(
        outcome.result,
        SessionResult::StoreFailed {
            certificate_der: issued_certificate(),
            phone_reason: Some(Reason::Failure)
        }
    );
    assert!(!outcome.operation_completed() && !outcome.is_authentication_failure());

    // A key of another type or size than asked for.
    let mut session = session_in(SessionState::LookingUpDevice);
    session
        .answer_device(Some(DeviceRecord::new(
            DEVICE,
            Operation::Install(KeyRequest::Rsa { bits: 3072 }),
            AuthMode::NullString,
        )))
        .unwrap();
    drain(&mut session);
    session.handle_input(&client_frame(2));
    let outputs = drain(&mut session);
    assert_eq!(
        ending(&outputs).1.result,
        SessionResult::ProtocolError(ServerProtocolViolation::PublicKeyMismatch {
            requested: KeyRequest::Rsa { bits: 3072 }
        })
    );
    let mut session = session_in(SessionState::AwaitingKeyGeneration);
    session.handle_input(&encode(Frame::key_gen_response(ID, b"not a key".to_vec())));
    assert_eq!(
        ending(&drain(&mut session)).1.result,
        SessionResult::ProtocolError(ServerProtocolViolation::InvalidPublicKey)
    );
}

#[test]
fn fetch_outcomes() {
    let cert = issued_certificate();
    for (elements, reason, result) in [
        (
            vec![
                Element::Reason(Reason::Success),
                Element::Certificate(capf_core::capf::codec::WrappedCertificate::lsc(
                    cert.clone(),
                )),
            ],
            Reason::NoAction,
            SessionResult::Fetched {
                certificate_der: cert.clone(),
            },
        ),
        (
            vec![Element::Reason(Reason::Success)],
            Reason::Failure,
            SessionResult::FetchFailed {
                phone_reason: Some(Reason::Success),
            },
        ),
        (
            vec![Element::Reason(Reason::Failure)],
            Reason::NoAction,
            SessionResult::FetchFailed {
                phone_reason: Some(Reason::Failure),
            },
        ),
        (
            vec![
                Element::Reason(Reason::Success),
                Element::Certificate(capf_core::capf::codec::WrappedCertificate::lsc(vec![
                    0x30, 0,
                ])),
            ],
            Reason::Failure,
            SessionResult::ProtocolError(ServerProtocolViolation::InvalidFetchedCertificate),
        ),
    ] {
        let mut session = session_in(SessionState::AwaitingFetchResponse);
        session.handle_input(&encode(Frame::new(
            Command::FetchCertResponse,
            ID,
            elements,
        )));
        let outputs = drain(&mut session);
        let (sent, outcome) = ending(&outputs);
        assert_eq!(sent, Some(reason));
        assert_eq!(outcome.result, result);
    }
}

#[test]
fn session_ids_do_not_repeat_in_a_long_run() {
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(11);
    let mut ids = capf_core::capf::server::SessionIdAllocator::new(&mut rng);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..100_000 {
        assert!(seen.insert(ids.next_id().unwrap()));
    }
}

/// Input chunks: arbitrary bytes, or a frame-like stream (this session's
/// id, a body of plausible elements) cut into chunks, so that the session
/// judges frames rather than only refusing a bad first byte.
fn input_chunks() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let arbitrary = proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16);
    let framed = (
        proptest::collection::vec(framed_body(), 1..3),
        proptest::collection::vec(1usize..200, 1..4),
    )
        .prop_map(|(frames, sizes)| {
            let mut stream = Vec::new();
            for mut frame in frames {
                frame[2..6].copy_from_slice(&ID.to_be_bytes());
                stream.extend(frame);
            }
            let mut chunks = Vec::new();
            let mut rest = stream.as_slice();
            for size in sizes.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (head, tail) = rest.split_at((*size).min(rest.len()));
                chunks.push(head.to_vec());
                rest = tail;
            }
            chunks
        });
    prop_oneof![arbitrary, framed]
}

/// Arbitrary bytes, in arbitrary chunks, into a fresh session (and into
/// one past AUTH_RESPONSE): never a panic, at most one Done, and it is the
/// last output; a device lookup is answered only when asked. Enough cases
/// must get past the frame layer (the session judged a frame's content).
#[test]
fn arbitrary_input_never_panics() {
    let strategy = (input_chunks(), any::<bool>(), any::<bool>());
    run_reaching(
        "server session input",
        512,
        40,
        strategy,
        |(chunks, authenticated, valid_header)| {
            let mut session = if authenticated {
                session_in(SessionState::AwaitingKeyGeneration)
            } else {
                session_in(SessionState::AwaitingAuthResponse)
            };
            let mut outputs = Vec::new();
            for (index, mut chunk) in chunks.into_iter().enumerate() {
                if valid_header && index == 0 && chunk.len() >= 6 {
                    chunk[0] = 0x55;
                    chunk[2..6].copy_from_slice(&ID.to_be_bytes());
                }
                session.handle_input(&chunk);
                let batch = drain(&mut session);
                let asked = batch.iter().any(|output| {
                    matches!(
                        output,
                        ServerOutput::Need(ServerDecision::LookUpDevice { .. })
                    )
                });
                outputs.extend(batch);
                // Answering is right exactly when the session asked.
                prop_assert_eq!(session.answer_device(None).is_ok(), asked);
                outputs.extend(drain(&mut session));
            }
            session.handle_timeout(NOW.plus_seconds(10_000));
            outputs.extend(drain(&mut session));
            session.handle_peer_closed();
            outputs.extend(drain(&mut session));
            let done = outputs
                .iter()
                .filter(|o| matches!(o, ServerOutput::Done(_)))
                .count();
            prop_assert_eq!(done, 1);
            let Some(ServerOutput::Done(outcome)) = outputs.last() else {
                return Err(TestCaseError::fail("Done is not the last output"));
            };
            for output in &outputs {
                if let ServerOutput::Transmit(bytes) = output {
                    let frame = Frame::decode(bytes).unwrap();
                    prop_assert_eq!(frame.session_id, ID);
                }
            }
            let frame_layer_only = matches!(
                outcome.result,
                SessionResult::ProtocolError(
                    ServerProtocolViolation::Malformed(_)
                        | ServerProtocolViolation::WrongSessionId { .. }
                ) | SessionResult::TimedOut { .. }
                    | SessionResult::PeerClosed { .. }
            );
            Ok(!frame_layer_only)
        },
    );
}
