//! The TVS codec and sessions against the 8 recorded connections of
//! `tests/vectors/tvs`: every frame decodes to its `decoded` JSON and
//! re-encodes byte for byte, in any chunking; our server answers each
//! recorded request with the recorded response (or, like the reference, with
//! nothing); our client sends the recorded request and reads the recorded
//! response as the reference client did.

use std::fs;
use std::path::PathBuf;

use capf_core::time::Timestamp;
use capf_core::tvs::{
    KnownCertificate, TvsClientConfig, TvsClientOutput, TvsClientResult, TvsClientSession,
    TvsCloseReason, TvsCommand, TvsDeviceNameError, TvsElement, TvsFrame, TvsFrameDecoder,
    TvsInvalidReason, TvsServerConfig, TvsServerDecision, TvsServerOutcome, TvsServerOutput,
    TvsServerResult, TvsServerSession, TvsWireError,
};
use ctl_format::trust_list::Role;
use serde_json::Value;
use sha2::{Digest, Sha256};

const VECTOR_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/tvs");

/// Well inside every vector certificate's validity (2026-11-21 to 2029).
fn now() -> Timestamp {
    Timestamp::from_unix_seconds(1_830_000_000)
}

struct Vector {
    name: String,
    json: Value,
    client_frame: Vec<u8>,
    server_frame: Option<Vec<u8>>,
}

fn vectors() -> Vec<Vector> {
    let mut paths: Vec<PathBuf> = fs::read_dir(VECTOR_DIR)
        .expect("vector folder")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    let vectors: Vec<Vector> = paths
        .iter()
        .map(|path| {
            let json: Value =
                serde_json::from_str(&fs::read_to_string(path).expect("read")).expect("json");
            let frames = json["frames"].as_array().expect("frames").clone();
            let frame_from = |who: &str| {
                frames
                    .iter()
                    .find(|frame| frame["from"] == who)
                    .map(|frame| hex::decode(frame["hex"].as_str().expect("hex")).expect("hex"))
            };
            assert!(frames.len() <= 2);
            Vector {
                name: json["name"].as_str().expect("name").to_owned(),
                client_frame: frame_from("client").expect("client frame"),
                server_frame: frame_from("server"),
                json,
            }
        })
        .collect();
    assert_eq!(vectors.len(), 8, "all TVS vectors are present");
    vectors
}

fn pem_der(vector: &Vector, key: &str) -> Vec<u8> {
    let text = vector.json["pem"][key].as_str().expect("pem entry");
    der::pem::decode_vec(text.as_bytes()).expect("pem").1
}

fn expected_digest(vector: &Vector) -> [u8; 32] {
    let text = vector.json["expected"]["certificate_sha256"]
        .as_str()
        .expect("digest");
    hex::decode(text)
        .expect("hex")
        .try_into()
        .expect("32 bytes")
}

/// The certificate the client asked about: the `pem` entry whose digest is
/// `expected.certificate_sha256`.
fn asked_certificate(vector: &Vector) -> Vec<u8> {
    let digest = expected_digest(vector);
    let pem = vector.json["pem"].as_object().expect("pem");
    pem.keys()
        .filter(|key| key.ends_with("_certificate"))
        .map(|key| pem_der(vector, key))
        .find(|der| <[u8; 32]>::from(Sha256::digest(der)) == digest)
        .unwrap_or_else(|| panic!("{}: no pem certificate has the digest", vector.name))
}

/// The server database of `server_config`: (DER, record) per certificate.
fn database(vector: &Vector) -> Vec<(Vec<u8>, KnownCertificate)> {
    let Some(known) = vector.json["server_config"]["known_certificates"].as_array() else {
        return Vec::new();
    };
    known
        .iter()
        .map(|entry| {
            let der = pem_der(vector, entry["certificate"].as_str().expect("name"));
            let roles = entry["roles"]
                .as_array()
                .expect("roles")
                .iter()
                .map(|role| {
                    role.as_str()
                        .expect("role")
                        .parse::<Role>()
                        .expect("role name")
                })
                .collect();
            let ttl = u32::try_from(entry["ttl"].as_u64().expect("ttl")).expect("u32");
            (der, KnownCertificate::new(roles, ttl))
        })
        .collect()
}

/// Runs our server on the client frame fed in `chunks`, answering the lookup
/// from the vector's database: the frames sent and the outcome.
fn serve(vector: &Vector, chunks: &[&[u8]]) -> (Vec<Vec<u8>>, TvsServerOutcome) {
    let database = database(vector);
    let mut session = TvsServerSession::new(TvsServerConfig::default(), now());
    let mut sent = Vec::new();
    let mut outcome = None;
    for chunk in chunks {
        session.handle_input(chunk);
        while let Some(output) = session.poll_output() {
            assert!(outcome.is_none(), "{}: output after Done", vector.name);
            match output {
                TvsServerOutput::Transmit(bytes) => sent.push(bytes),
                TvsServerOutput::Need(TvsServerDecision::LookUpCertificate {
                    certificate_sha256,
                    device_name,
                    certificate_der,
                }) => {
                    assert_eq!(
                        certificate_sha256,
                        expected_digest(vector),
                        "{}",
                        vector.name
                    );
                    assert_eq!(certificate_der, asked_certificate(vector));
                    assert_eq!(device_name, vector.json["device_name"].as_str().unwrap());
                    let known = database
                        .iter()
                        .find(|(der, _)| {
                            <[u8; 32]>::from(Sha256::digest(der)) == certificate_sha256
                        })
                        .map(|(_, record)| record.clone());
                    session.answer_lookup(known).expect("lookup pending");
                }
                TvsServerOutput::Done(done) => outcome = Some(done),
                other => panic!("unexpected output {other:?}"),
            }
        }
    }
    if outcome.is_none() {
        session.handle_peer_closed();
        while let Some(output) = session.poll_output() {
            if let TvsServerOutput::Done(done) = output {
                outcome = Some(done);
            }
        }
    }
    (sent, outcome.expect("the session ends"))
}

#[test]
fn frames_decode_to_the_recorded_fields_and_re_encode_exactly() {
    for vector in vectors() {
        let decoded = vector.json["decoded"].as_array().expect("decoded");
        let frames: Vec<&Vec<u8>> = std::iter::once(&vector.client_frame)
            .chain(vector.server_frame.as_ref())
            .collect();
        assert_eq!(frames.len(), decoded.len());
        for (bytes, json) in frames.into_iter().zip(decoded) {
            if json["version"] != 1 {
                assert_eq!(
                    TvsFrame::decode(bytes),
                    Err(TvsWireError::UnsupportedVersion {
                        offset: 1,
                        found: 2
                    }),
                    "{}",
                    vector.name
                );
                continue;
            }
            let frame = TvsFrame::decode(bytes).expect("recorded frame decodes");
            assert_eq!(json["protocol_id"], 0x57);
            assert_eq!(
                u64::from(frame.command.code()),
                json["command"].as_u64().unwrap()
            );
            assert_eq!(
                u64::from(frame.reserved),
                json["reserved"].as_u64().unwrap()
            );
            assert_eq!(
                u64::from(frame.session_id),
                json["session_id"].as_u64().unwrap()
            );
            assert_eq!(bytes.len() - 10, json["length"].as_u64().unwrap() as usize);
            let elements = json["elements"].as_array().expect("elements");
            assert_eq!(frame.elements.len(), elements.len(), "{}", vector.name);
            for (element, json) in frame.elements.iter().zip(elements) {
                assert_eq!(
                    u64::from(element.tag().code()),
                    json["tag"].as_u64().unwrap()
                );
                let value = hex::decode(json["value_hex"].as_str().unwrap()).unwrap();
                assert_eq!(value.len() as u64, json["length"].as_u64().unwrap());
                match element {
                    TvsElement::DeviceName(name) => {
                        let inner = &json["inner"];
                        assert_eq!(
                            u64::from(name.lead_byte),
                            inner["lead_byte"].as_u64().unwrap()
                        );
                        assert_eq!(name.name, inner["text"].as_str().unwrap().as_bytes());
                    }
                    TvsElement::Certificate(der) => assert_eq!(*der, value),
                    TvsElement::Status(status) => assert_eq!([status.code()], value.as_slice()),
                    TvsElement::Roles(roles) => {
                        let codes: Vec<u64> = roles.iter().map(|r| u64::from(r.code())).collect();
                        let inner: Vec<u64> = json["inner"]["roles"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|code| code.as_u64().unwrap())
                            .collect();
                        assert_eq!(codes, inner);
                        assert_eq!(
                            codes,
                            value.iter().map(|&b| u64::from(b)).collect::<Vec<_>>()
                        );
                    }
                    TvsElement::Ttl(ttl) => {
                        assert_eq!(ttl.to_be_bytes().as_slice(), value.as_slice());
                        assert_eq!(u64::from(*ttl), json["inner"]["ttl"].as_u64().unwrap());
                    }
                    other => panic!("{}: unexpected element {other:?}", vector.name),
                }
            }
            assert_eq!(&frame.encode().expect("encodes"), bytes, "{}", vector.name);
        }
    }
}

#[test]
fn every_byte_split_decodes_the_same() {
    for vector in vectors() {
        for bytes in std::iter::once(&vector.client_frame).chain(vector.server_frame.as_ref()) {
            let whole = TvsFrame::decode(bytes);
            for split in 0..=bytes.len() {
                let (first, second) = bytes.split_at(split);
                let mut decoder = TvsFrameDecoder::new(u16::MAX);
                decoder.push(first);
                let early = decoder.next_frame();
                decoder.push(second);
                let result = match early {
                    Ok(Some(frame)) => Ok(frame),
                    Ok(None) => decoder
                        .next_frame()
                        .map(|frame| frame.expect("whole frame")),
                    Err(error) => Err(error),
                };
                assert_eq!(result, whole, "{} split at {split}", vector.name);
                if whole.is_ok() {
                    assert_eq!(decoder.buffered_len(), 0);
                }
            }
            // One byte at a time.
            let mut decoder = TvsFrameDecoder::new(u16::MAX);
            let mut result = Ok(None);
            for byte in bytes {
                decoder.push(std::slice::from_ref(byte));
                result = decoder.next_frame();
                if !matches!(result, Ok(None)) {
                    break;
                }
            }
            assert_eq!(result.map(|frame| frame.expect("whole")), whole);
        }
    }
}

#[test]
fn our_server_answers_as_the_reference_did() {
    for vector in vectors() {
        let (sent, outcome) = serve(&vector, &[&vector.client_frame]);
        let expected = &vector.json["expected"];
        match &vector.server_frame {
            Some(recorded) => {
                assert_eq!(sent, std::slice::from_ref(recorded), "{}", vector.name);
                assert!(outcome.answered());
                assert_eq!(outcome.certificate_sha256, Some(expected_digest(&vector)));
                assert_eq!(
                    outcome.session_id.map(u64::from),
                    vector.json["session_id"].as_u64()
                );
                match expected["status"].as_u64() {
                    Some(0) => {
                        let TvsServerResult::Valid { roles, ttl } = &outcome.result else {
                            panic!("{}: {outcome:?}", vector.name)
                        };
                        let codes: Vec<u64> = roles.iter().map(|r| u64::from(r.code())).collect();
                        let wanted: Vec<u64> = expected["roles"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|c| c.as_u64().unwrap())
                            .collect();
                        assert_eq!(codes, wanted);
                        assert_eq!(Some(u64::from(*ttl)), expected["ttl"].as_u64());
                    }
                    _ => assert_eq!(
                        outcome.result,
                        TvsServerResult::Invalid(TvsInvalidReason::Unknown)
                    ),
                }
            }
            None => {
                assert!(sent.is_empty(), "{}: must not answer", vector.name);
                let reason = match vector.name.as_str() {
                    "query-request-synthetic" => {
                        TvsCloseReason::UnsupportedCommand(TvsCommand::QueryRequest)
                    }
                    "invalid-device-name-synthetic" => {
                        TvsCloseReason::InvalidDeviceName(TvsDeviceNameError::MissingPrefix)
                    }
                    "wrong-version-synthetic" => {
                        TvsCloseReason::Malformed(TvsWireError::UnsupportedVersion {
                            offset: 1,
                            found: 2,
                        })
                    }
                    other => panic!("unexpected silent vector {other}"),
                };
                assert_eq!(outcome.result, TvsServerResult::SilentClose(reason));
            }
        }
    }
}

#[test]
fn our_server_gives_the_same_answer_in_any_two_chunks() {
    for vector in vectors() {
        let (whole_sent, whole_outcome) = serve(&vector, &[&vector.client_frame]);
        for split in (0..=vector.client_frame.len()).step_by(7) {
            let (first, second) = vector.client_frame.split_at(split);
            let (sent, outcome) = serve(&vector, &[first, second]);
            assert_eq!(sent, whole_sent, "{} split at {split}", vector.name);
            assert_eq!(outcome, whole_outcome, "{} split at {split}", vector.name);
        }
    }
}

#[test]
fn our_client_sends_the_recorded_request_and_reads_the_recorded_answer() {
    for vector in vectors() {
        let request = TvsFrame::decode(&vector.client_frame);
        let Ok(request) = request else { continue }; // version 2: nothing we send
        if request.command != TvsCommand::VerifyRequest {
            continue; // QUERY_REQUEST: our client does not send it
        }
        let device_name = vector.json["device_name"].as_str().unwrap();
        let session_id = u32::try_from(vector.json["session_id"].as_u64().unwrap()).unwrap();
        let config = TvsClientConfig::new(session_id, device_name, asked_certificate(&vector));
        let session = TvsClientSession::new(config, now());
        if vector.name == "invalid-device-name-synthetic" {
            assert!(session.is_err(), "our client refuses a bad device name");
            continue;
        }
        let mut session = session.expect("client starts");
        let Some(TvsClientOutput::Transmit(sent)) = session.poll_output() else {
            panic!("request first")
        };
        // The synthetic session-id request was hand-written in the same
        // layout, so it must match too.
        assert_eq!(sent, vector.client_frame, "{}", vector.name);
        assert_eq!(session.poll_output(), None);
        match &vector.server_frame {
            Some(response) => session.handle_input(response),
            None => session.handle_peer_closed(),
        }
        let Some(TvsClientOutput::Done(outcome)) = session.poll_output() else {
            panic!("{}: done", vector.name)
        };
        assert_eq!(outcome.session_id, session_id);
        let expected = &vector.json["expected"];
        let wanted = match expected["status"].as_u64() {
            Some(0) => TvsClientResult::Valid {
                roles: expected["roles"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|code| Role::from_code(u16::try_from(code.as_u64().unwrap()).unwrap()))
                    .collect(),
                ttl: expected["ttl"]
                    .as_u64()
                    .map(|ttl| u32::try_from(ttl).unwrap()),
            },
            Some(1) => TvsClientResult::Invalid,
            _ => TvsClientResult::NoAnswer,
        };
        assert_eq!(outcome.result, wanted, "{}", vector.name);
        if let Some(echoed) = expected["echoed_session_id"].as_u64() {
            assert_eq!(u64::from(outcome.session_id), echoed);
        }
        assert_eq!(session.poll_output(), None);
    }
}

#[test]
fn revoked_and_expired_policies_on_a_recorded_request() {
    let vector = vectors()
        .into_iter()
        .find(|vector| vector.name == "verify-known-ccm-tftp")
        .unwrap();
    let revoked_answer = |config: TvsServerConfig, now: Timestamp, known: KnownCertificate| {
        let mut session = TvsServerSession::new(config, now);
        session.handle_input(&vector.client_frame);
        assert!(matches!(
            session.poll_output(),
            Some(TvsServerOutput::Need(_))
        ));
        session.answer_lookup(Some(known)).unwrap();
        let Some(TvsServerOutput::Transmit(sent)) = session.poll_output() else {
            panic!()
        };
        let Some(TvsServerOutput::Done(outcome)) = session.poll_output() else {
            panic!()
        };
        (sent, outcome.result)
    };
    let invalid = hex::decode("5701020000000001000407000101").unwrap();
    let roles = vec![Role::Tftp, Role::CallManager];
    assert_eq!(
        revoked_answer(
            TvsServerConfig::default(),
            now(),
            KnownCertificate::revoked(roles.clone(), 3600)
        ),
        (
            invalid.clone(),
            TvsServerResult::Invalid(TvsInvalidReason::Revoked)
        )
    );
    // The ccm certificate is valid 2026-11-21T04:57:51Z to 2029-02-23T04:57:51Z
    // (its DER: 261121045751Z / 290223045751Z).
    let mut strict = TvsServerConfig::default();
    strict.refuse_expired = true;
    let after = Timestamp::from_unix_seconds(1_866_517_072); // 2029-02-23T04:57:52Z
    let before = Timestamp::from_unix_seconds(1_795_237_070); // 2026-11-21T04:57:50Z
    assert_eq!(
        revoked_answer(
            strict.clone(),
            after,
            KnownCertificate::new(roles.clone(), 3600)
        ),
        (
            invalid.clone(),
            TvsServerResult::Invalid(TvsInvalidReason::Expired)
        )
    );
    assert_eq!(
        revoked_answer(
            strict.clone(),
            before,
            KnownCertificate::new(roles.clone(), 3600)
        ),
        (
            invalid,
            TvsServerResult::Invalid(TvsInvalidReason::NotYetValid)
        )
    );
    // Inside the dates, or with the policy off (default), the recorded answer.
    let recorded = vector.server_frame.clone().unwrap();
    let valid = TvsServerResult::Valid {
        roles: vec![Role::CallManager, Role::Tftp],
        ttl: 3600,
    };
    assert_eq!(
        revoked_answer(strict, now(), KnownCertificate::new(roles.clone(), 3600)),
        (recorded.clone(), valid.clone())
    );
    assert_eq!(
        revoked_answer(
            TvsServerConfig::default(),
            after,
            KnownCertificate::new(roles, 3600)
        ),
        (recorded, valid)
    );
}
