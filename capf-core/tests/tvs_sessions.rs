//! TVS server and client sessions: every state against every kind of input,
//! misuse, timeouts, and properties that arbitrary bytes never panic and
//! always end a session exactly once.

use capf_core::session::{DecisionKind, SessionMisuse};
use capf_core::time::Timestamp;
use capf_core::tvs::{
    DeviceNameValue, KnownCertificate, TvsClientConfig, TvsClientOutput, TvsClientResult,
    TvsClientSession, TvsClientSetupError, TvsClientState, TvsCloseReason, TvsCommand,
    TvsDeviceNameError, TvsElement, TvsElementTag, TvsFrame, TvsFrameDecoder, TvsFrameHeader,
    TvsResponseError, TvsServerConfig, TvsServerDecision, TvsServerOutput, TvsServerResult,
    TvsServerSession, TvsServerState, TvsStatus, TvsWireError,
};
use ctl_format::trust_list::Role;
use proptest::prelude::*;
use serde_json::Value;

mod property_support;
use property_support::run_reaching;

const START: Timestamp = Timestamp::from_unix_seconds(1_830_000_000);
const DEVICE: &str = "CP-8845-SEP001122334455";

/// A real certificate (the recorded CCM certificate).
fn certificate() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/tvs/verify-known-ccm-tftp.json"
    );
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let pem = json["pem"]["ccm_certificate"].as_str().unwrap();
    der::pem::decode_vec(pem.as_bytes()).unwrap().1
}

fn request(session_id: u32) -> Vec<u8> {
    TvsFrame::verify_request(session_id, DEVICE, &certificate())
        .encode()
        .unwrap()
}

fn drain_server(session: &mut TvsServerSession) -> Vec<TvsServerOutput> {
    std::iter::from_fn(|| session.poll_output()).collect()
}

fn silent(reason: TvsCloseReason) -> TvsServerResult {
    TvsServerResult::SilentClose(reason)
}

/// Feeds `bytes` to a fresh server: the single Done's result, checking that
/// nothing was transmitted.
fn server_closes(bytes: &[u8]) -> TvsServerResult {
    let mut session = TvsServerSession::new(TvsServerConfig::default(), START);
    session.handle_input(bytes);
    match drain_server(&mut session).as_slice() {
        [TvsServerOutput::Done(outcome)] => {
            assert!(session.is_done());
            outcome.result.clone()
        }
        other => panic!("expected one Done, got {other:?}"),
    }
}

fn frame(command: TvsCommand, elements: Vec<TvsElement>) -> Vec<u8> {
    TvsFrame::new(command, 3, elements).encode().unwrap()
}

#[test]
fn server_awaiting_request_refuses_bad_requests_silently() {
    let name = || TvsElement::DeviceName(DeviceNameValue::new(DEVICE));
    let der = || TvsElement::Certificate(certificate());
    let cases: Vec<(Vec<u8>, TvsServerResult)> = vec![
        (
            frame(TvsCommand::QueryRequest, vec![name(), der()]),
            silent(TvsCloseReason::UnsupportedCommand(TvsCommand::QueryRequest)),
        ),
        (
            frame(TvsCommand::VerifyResponse, vec![name(), der()]),
            silent(TvsCloseReason::UnsupportedCommand(
                TvsCommand::VerifyResponse,
            )),
        ),
        (
            frame(TvsCommand::Unknown(0), vec![name(), der()]),
            silent(TvsCloseReason::UnsupportedCommand(TvsCommand::Unknown(0))),
        ),
        (
            frame(TvsCommand::VerifyRequest, vec![der()]),
            silent(TvsCloseReason::MissingDeviceName),
        ),
        (
            frame(TvsCommand::VerifyRequest, vec![name()]),
            silent(TvsCloseReason::MissingCertificate),
        ),
        (
            frame(TvsCommand::VerifyRequest, vec![name(), der(), der()]),
            silent(TvsCloseReason::RepeatedElement(TvsElementTag::Certificate)),
        ),
        (
            frame(
                TvsCommand::VerifyRequest,
                vec![
                    TvsElement::DeviceName(DeviceNameValue::new("CP-8845-SEP0011223344")),
                    der(),
                ],
            ),
            silent(TvsCloseReason::InvalidDeviceName(
                TvsDeviceNameError::BadMac,
            )),
        ),
        (
            frame(
                TvsCommand::VerifyRequest,
                vec![
                    name(),
                    TvsElement::Certificate(b"not a certificate".to_vec()),
                ],
            ),
            silent(TvsCloseReason::UnparseableCertificate),
        ),
        (
            // The certificate with one byte appended is no longer exact DER.
            frame(
                TvsCommand::VerifyRequest,
                vec![
                    name(),
                    TvsElement::Certificate([certificate(), vec![0]].concat()),
                ],
            ),
            silent(TvsCloseReason::UnparseableCertificate),
        ),
        (
            vec![0x55],
            silent(TvsCloseReason::Malformed(TvsWireError::BadProtocolId {
                offset: 0,
                found: 0x55,
            })),
        ),
        (
            vec![0x57, 0x01, 0x01, 0x00, 0, 0, 0, 1, 0x40, 0x01],
            silent(TvsCloseReason::Malformed(TvsWireError::BodyTooLong {
                offset: 8,
                length: 0x4001,
                max: 0x4000,
            })),
        ),
        (
            vec![0x57, 0x01, 0x01, 0x00, 0, 0, 0, 1, 0, 2, 0x01, 0x00],
            silent(TvsCloseReason::Malformed(
                TvsWireError::ElementHeaderTruncated { offset: 10 },
            )),
        ),
    ];
    for (bytes, result) in cases {
        assert_eq!(
            server_closes(&bytes),
            result,
            "{}",
            hex::encode(&bytes[..10.min(bytes.len())])
        );
    }
}

#[test]
fn server_skips_unknown_tags_and_accepts_any_lead_byte() {
    let bytes = frame(
        TvsCommand::VerifyRequest,
        vec![
            TvsElement::Unknown {
                tag: 5,
                value: vec![1, 2, 3],
            },
            TvsElement::DeviceName(DeviceNameValue {
                lead_byte: 0xee,
                name: b"CP-7975G-SEP00112233aabb".to_vec(),
            }),
            TvsElement::Certificate(certificate()),
            TvsElement::Unknown {
                tag: 5,
                value: vec![],
            },
        ],
    );
    let mut session = TvsServerSession::new(TvsServerConfig::default(), START);
    session.handle_input(&bytes);
    let outputs = drain_server(&mut session);
    let [TvsServerOutput::Need(TvsServerDecision::LookUpCertificate { device_name, .. })] =
        outputs.as_slice()
    else {
        panic!("{outputs:?}")
    };
    assert_eq!(device_name, "CP-7975G-SEP00112233aabb");
    assert_eq!(session.state(), TvsServerState::LookingUpCertificate);
}

#[test]
fn server_waits_for_the_whole_request_then_times_out() {
    let bytes = request(1);
    let mut session = TvsServerSession::new(TvsServerConfig::default(), START);
    session.handle_input(&bytes[..bytes.len() - 1]);
    assert!(drain_server(&mut session).is_empty());
    assert_eq!(session.state(), TvsServerState::AwaitingRequest);
    let deadline = session.poll_timeout().expect("request deadline");
    assert_eq!(deadline, START.plus_seconds(30));
    session.handle_timeout(START.plus_seconds(29));
    assert!(drain_server(&mut session).is_empty());
    session.handle_timeout(deadline);
    let outputs = drain_server(&mut session);
    let [TvsServerOutput::Done(outcome)] = outputs.as_slice() else {
        panic!("{outputs:?}")
    };
    assert_eq!(outcome.result, silent(TvsCloseReason::TimedOut));
    assert_eq!(session.poll_timeout(), None);
}

#[test]
fn server_peer_close_before_the_request_or_during_the_lookup() {
    let mut session = TvsServerSession::new(TvsServerConfig::default(), START);
    session.handle_peer_closed();
    let outputs = drain_server(&mut session);
    assert!(matches!(
        outputs.as_slice(),
        [TvsServerOutput::Done(outcome)] if outcome.result == silent(TvsCloseReason::PeerClosed)
            && outcome.session_id.is_none()
    ));

    let mut session = TvsServerSession::new(TvsServerConfig::default(), START);
    session.handle_input(&request(0x0102_0304));
    assert_eq!(drain_server(&mut session).len(), 1);
    session.handle_peer_closed();
    let outputs = drain_server(&mut session);
    let [TvsServerOutput::Done(outcome)] = outputs.as_slice() else {
        panic!("{outputs:?}")
    };
    assert_eq!(outcome.result, silent(TvsCloseReason::PeerClosed));
    assert_eq!(outcome.session_id, Some(0x0102_0304));
    assert_eq!(outcome.device_name.as_deref(), Some(DEVICE));
    assert_eq!(session.answer_lookup(None), Err(SessionMisuse::Finished));
}

#[test]
fn server_lookup_state_ignores_input_and_time_and_checks_answers() {
    let mut session = TvsServerSession::new(TvsServerConfig::default(), START);
    assert_eq!(
        session.answer_lookup(None),
        Err(SessionMisuse::NotPending {
            answered: DecisionKind::LookUpCertificate,
            pending: None
        }),
        "nothing asked yet"
    );
    session.handle_input(&request(9));
    assert_eq!(drain_server(&mut session).len(), 1);
    assert_eq!(
        session.pending_decision(),
        Some(DecisionKind::LookUpCertificate)
    );
    assert_eq!(session.poll_timeout(), None);
    session.handle_input(&request(10));
    session.handle_timeout(START.plus_seconds(3600));
    assert!(drain_server(&mut session).is_empty());
    assert_eq!(
        session.answer_lookup(Some(KnownCertificate::new(vec![Role::Unknown(256)], 1))),
        Err(SessionMisuse::RoleCodeTooLarge(256))
    );
    assert_eq!(session.state(), TvsServerState::LookingUpCertificate);
    // Any order, repeats: sent ascending, once each (spec 6.1).
    session
        .answer_lookup(Some(KnownCertificate::new(
            vec![Role::Tvs, Role::CallManager, Role::Tvs, Role::Unknown(6)],
            7,
        )))
        .unwrap();
    let outputs = drain_server(&mut session);
    let [
        TvsServerOutput::Transmit(sent),
        TvsServerOutput::Done(outcome),
    ] = outputs.as_slice()
    else {
        panic!("{outputs:?}")
    };
    assert_eq!(
        sent,
        &hex::decode(
            "57 01 02 00 00000009 0011 070001 00 080003 01 06 15 090004 00000007".replace(' ', "")
        )
        .unwrap()
    );
    assert!(outcome.answered());
    assert_eq!(
        session.answer_lookup(None),
        Err(SessionMisuse::Finished),
        "answered twice"
    );
    session.handle_input(&request(11));
    session.handle_peer_closed();
    session.handle_timeout(START.plus_seconds(7200));
    assert!(drain_server(&mut session).is_empty(), "nothing after Done");
}

fn client() -> TvsClientSession {
    let mut session =
        TvsClientSession::new(TvsClientConfig::new(0x55, DEVICE, certificate()), START).unwrap();
    assert!(matches!(
        session.poll_output(),
        Some(TvsClientOutput::Transmit(_))
    ));
    session
}

fn client_result(session: &mut TvsClientSession) -> TvsClientResult {
    let outputs: Vec<_> = std::iter::from_fn(|| session.poll_output()).collect();
    match outputs.as_slice() {
        [TvsClientOutput::Done(outcome)] => {
            assert_eq!(session.state(), TvsClientState::Done);
            outcome.result.clone()
        }
        other => panic!("expected one Done, got {other:?}"),
    }
}

#[test]
fn client_reads_each_kind_of_response() {
    let response = |command, session_id, elements| {
        TvsFrame::new(command, session_id, elements)
            .encode()
            .unwrap()
    };
    use TvsCommand::VerifyResponse as R;
    let status = |code| TvsElement::Status(TvsStatus::from_code(code));
    let cases: Vec<(Vec<u8>, TvsClientResult)> = vec![
        (
            hex::decode("5701020000000055000f070001000800011509000400278d00").unwrap(),
            TvsClientResult::Valid {
                roles: vec![Role::Tvs],
                ttl: Some(2_592_000),
            },
        ),
        (
            hex::decode("5701020000000055000407000101").unwrap(),
            TvsClientResult::Invalid,
        ),
        (
            response(R, 0x55, vec![status(0)]),
            TvsClientResult::Valid {
                roles: vec![],
                ttl: None,
            },
        ),
        (
            response(
                R,
                0x55,
                vec![
                    TvsElement::Unknown {
                        tag: 3,
                        value: vec![9],
                    },
                    TvsElement::Ttl(5),
                    TvsElement::Roles(vec![Role::Tftp, Role::CallManager]),
                    status(0),
                ],
            ),
            TvsClientResult::Valid {
                roles: vec![Role::Tftp, Role::CallManager],
                ttl: Some(5),
            },
        ),
        (
            response(R, 0x56, vec![status(0)]),
            TvsClientResult::ProtocolError(TvsResponseError::WrongSessionId {
                expected: 0x55,
                found: 0x56,
            }),
        ),
        (
            response(TvsCommand::QueryResponse, 0x55, vec![status(0)]),
            TvsClientResult::ProtocolError(TvsResponseError::UnexpectedCommand(
                TvsCommand::QueryResponse,
            )),
        ),
        (
            response(R, 0x55, vec![TvsElement::Ttl(5)]),
            TvsClientResult::ProtocolError(TvsResponseError::MissingStatus),
        ),
        (
            response(R, 0x55, vec![status(2)]),
            TvsClientResult::ProtocolError(TvsResponseError::UnknownStatus(2)),
        ),
        (
            response(R, 0x55, vec![status(1), status(0)]),
            TvsClientResult::ProtocolError(TvsResponseError::RepeatedElement(
                TvsElementTag::Status,
            )),
        ),
        (
            hex::decode("5702020000000055000407000101").unwrap(),
            TvsClientResult::ProtocolError(TvsResponseError::Malformed(
                TvsWireError::UnsupportedVersion {
                    offset: 1,
                    found: 2,
                },
            )),
        ),
        (
            hex::decode("57010200000000551001").unwrap(),
            TvsClientResult::ProtocolError(TvsResponseError::Malformed(
                TvsWireError::BodyTooLong {
                    offset: 8,
                    length: 0x1001,
                    max: 4096,
                },
            )),
        ),
    ];
    for (bytes, wanted) in cases {
        let mut session = client();
        session.handle_input(&bytes);
        assert_eq!(
            client_result(&mut session),
            wanted,
            "{}",
            hex::encode(&bytes)
        );
        // Nothing moves a finished session.
        session.handle_input(&bytes);
        session.handle_peer_closed();
        session.handle_timeout(START.plus_seconds(100));
        assert_eq!(session.poll_output(), None);
    }
}

#[test]
fn client_close_timeout_and_setup() {
    let mut session = client();
    session.handle_peer_closed();
    assert_eq!(client_result(&mut session), TvsClientResult::NoAnswer);

    let mut session = client();
    session.handle_input(&[0x57, 0x01, 0x02]);
    assert_eq!(session.poll_output(), None);
    session.handle_peer_closed();
    assert_eq!(
        client_result(&mut session),
        TvsClientResult::ProtocolError(TvsResponseError::Truncated { received: 3 })
    );

    let mut session = client();
    session.handle_transport_error();
    assert_eq!(
        client_result(&mut session),
        TvsClientResult::TransportFailed
    );
    session.handle_transport_error();
    session.handle_peer_closed();
    assert_eq!(session.poll_output(), None);

    let mut session = client();
    assert_eq!(session.poll_timeout(), Some(START.plus_seconds(30)));
    session.handle_timeout(START.plus_seconds(29));
    assert_eq!(session.poll_output(), None);
    session.handle_timeout(START.plus_seconds(30));
    assert_eq!(client_result(&mut session), TvsClientResult::TimedOut);
    assert_eq!(session.poll_timeout(), None);

    assert_eq!(
        TvsClientSession::new(TvsClientConfig::new(1, "SEP001122334455", vec![]), START).err(),
        Some(TvsClientSetupError::InvalidDeviceName(
            TvsDeviceNameError::MissingPrefix
        ))
    );
    assert!(matches!(
        TvsClientSession::new(TvsClientConfig::new(1, DEVICE, vec![0; 70_000]), START),
        Err(TvsClientSetupError::Encode(_))
    ));
}

/// Splits `data` into chunks whose sizes come from `sizes` (cycled).
fn chunks<'a>(data: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    let mut index = 0;
    while !rest.is_empty() {
        let size = sizes
            .get(index % sizes.len().max(1))
            .copied()
            .unwrap_or(1)
            .clamp(1, rest.len());
        let (head, tail) = rest.split_at(size);
        out.push(head);
        rest = tail;
        index += 1;
    }
    out
}

/// Arbitrary bytes, optionally after a valid header so the body is reached.
fn input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..200)).prop_map(
            |(command, body)| {
                let mut bytes = vec![0x57, 1, command % 5, 0, 0, 0, 0, 0x55];
                bytes.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
                bytes.extend(body);
                bytes
            }
        ),
        // A valid request with one byte changed reaches the later checks.
        (any::<prop::sample::Index>(), 1..=u8::MAX).prop_map(|(index, flip)| {
            let mut bytes = request(0x55);
            let at = index.index(bytes.len());
            bytes[at] ^= flip;
            bytes
        }),
    ]
}

/// Responses for the client: arbitrary bytes, or a recorded response
/// (valid, invalid) with one byte sometimes changed.
fn client_input() -> impl Strategy<Value = Vec<u8>> {
    let recorded = vec![
        hex::decode("5701020000000055000f070001000800011509000400278d00").unwrap(),
        hex::decode("5701020000000055000407000101").unwrap(),
    ];
    let changed = (
        proptest::sample::select(recorded),
        any::<prop::sample::Index>(),
        prop_oneof![1 => Just(0u8), 1 => 1u8..=255],
    )
        .prop_map(|(mut bytes, at, change)| {
            let at = at.index(bytes.len());
            bytes[at] ^= change;
            bytes
        });
    prop_oneof![input(), changed]
}

fn sizes() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(1usize..40, 1..5)
}

#[test]
fn server_never_panics_and_ends_once() {
    let strategy = (input(), sizes(), any::<bool>());
    run_reaching(
        "TVS server input",
        256,
        40,
        strategy,
        |(data, sizes, known)| {
            let mut session = TvsServerSession::new(TvsServerConfig::default(), START);
            let mut done = 0;
            let mut judged = false;
            for chunk in chunks(&data, &sizes) {
                session.handle_input(chunk);
                while let Some(output) = session.poll_output() {
                    prop_assert_eq!(done, 0, "nothing after Done");
                    match output {
                        TvsServerOutput::Need(_) => {
                            judged = true;
                            let answer = known.then(|| KnownCertificate::new(vec![Role::Tvs], 1));
                            prop_assert!(session.answer_lookup(answer).is_ok());
                        }
                        TvsServerOutput::Transmit(bytes) => {
                            judged = true;
                            let frame = TvsFrame::decode(&bytes).unwrap();
                            prop_assert_eq!(frame.command, TvsCommand::VerifyResponse);
                        }
                        TvsServerOutput::Done(_) => done += 1,
                        _ => {}
                    }
                }
            }
            session.handle_peer_closed();
            while let Some(output) = session.poll_output() {
                prop_assert!(matches!(output, TvsServerOutput::Done(_)));
                done += 1;
            }
            prop_assert_eq!(done, 1);
            // The branch: a request decoded far enough to be looked up.
            Ok(judged)
        },
    );
}

#[test]
fn client_never_panics_and_ends_once() {
    run_reaching(
        "TVS client input",
        256,
        40,
        (client_input(), sizes()),
        |(data, sizes)| {
            let mut session = client();
            let mut results = Vec::new();
            for chunk in chunks(&data, &sizes) {
                session.handle_input(chunk);
                while let Some(output) = session.poll_output() {
                    let TvsClientOutput::Done(outcome) = output else {
                        return Err(TestCaseError::fail("a client output other than Done"));
                    };
                    results.push(outcome.result);
                }
            }
            session.handle_peer_closed();
            while let Some(output) = session.poll_output() {
                let TvsClientOutput::Done(outcome) = output else {
                    return Err(TestCaseError::fail("a client output other than Done"));
                };
                results.push(outcome.result);
            }
            prop_assert_eq!(results.len(), 1);
            // The branch: a response judged (a status read).
            Ok(matches!(
                results[0],
                TvsClientResult::Valid { .. } | TvsClientResult::Invalid
            ))
        },
    );
}

#[test]
fn decoder_agrees_with_whole_decode_in_any_chunking() {
    run_reaching(
        "TVS decoder",
        256,
        40,
        (input(), sizes()),
        |(data, sizes)| {
            let mut decoder = TvsFrameDecoder::new(u16::MAX);
            let mut first = Ok(None);
            for chunk in chunks(&data, &sizes) {
                decoder.push(chunk);
                first = decoder.next_frame();
                if !matches!(first, Ok(None)) {
                    break;
                }
            }
            // The whole-frame decode of the first frame's bytes (or of all).
            let length = TvsFrameHeader::parse(&data)
                .ok()
                .flatten()
                .map_or(data.len(), |header| header.frame_length().min(data.len()));
            let whole = TvsFrame::decode(data.get(..length).unwrap());
            // The branch: the stream decoder produced a frame.
            let decoded = matches!(first, Ok(Some(_)));
            match first {
                Ok(Some(frame)) => {
                    let bytes = frame.encode().unwrap();
                    prop_assert_eq!(bytes.as_slice(), data.get(..length).unwrap());
                    prop_assert_eq!(whole, Ok(frame));
                }
                Ok(None) => {
                    let truncated = matches!(whole, Err(TvsWireError::Truncated { .. }));
                    prop_assert!(truncated);
                }
                Err(error) => prop_assert_eq!(whole, Err(error)),
            }
            Ok(decoded)
        },
    );
}
