//! The phone session against the 17 recorded CAPF sessions of
//! `tests/vectors/capf`: the recorded server frames go in, in order and in
//! several chunkings; every frame the session transmits must equal the
//! recorded client frame byte for byte (deterministic RSA proofs included),
//! and the outcome must match `expected`.
//!
//! The `-synthetic` vectors have hand-made client frames. Three are
//! reproduced exactly (key-generation failure via `refuse_key`, the
//! second REQUEST_IN_PROGRESS via `repeat_in_progress`, the VERSION 2 reply
//! via the Jabber layout); `wrong-session-id-synthetic` cannot be: a correct
//! phone echoes the server's id, so our AUTH_RESPONSE equals the recorded one
//! except for the id, and the session id check is shown on the server side of
//! that file instead.

mod phone_support;

use capf_core::capf::codec::{Command, Frame, Reason};
use capf_core::capf::phone::{
    PhoneDecision, PhoneOutcome, PhoneOutput, PhoneSession, PhoneSessionState as PhoneState,
    StoreFailure,
};
use capf_core::session::{DecisionKind, SessionMisuse};
use phone_support::{T0, Vector};

/// The outcome each recorded session must end with.
fn expected_outcome(vector: &Vector) -> PhoneOutcome {
    let issued = || vector.pem_der("issued_certificate");
    match vector.name.as_str() {
        "install-password-rsa2048"
        | "install-nullstring-ec-p256"
        | "install-lsc-auth-rsa"
        | "install-mic-auth-rsa1024" => PhoneOutcome::Installed {
            certificate_der: issued(),
        },
        "fetch-present" => PhoneOutcome::FetchCompleted {
            certificate_sent: true,
        },
        "fetch-absent" => PhoneOutcome::FetchCompleted {
            certificate_sent: false,
        },
        "delete-present" => PhoneOutcome::Deleted {
            certificate_was_present: true,
        },
        "delete-absent" => PhoneOutcome::Deleted {
            certificate_was_present: false,
        },
        "no-operation" => PhoneOutcome::NothingToDo {
            reason: Reason::NoAction,
        },
        "unknown-device" => PhoneOutcome::UnknownDevice,
        "keygen-failure-synthetic" => PhoneOutcome::KeyGenerationFailed {
            server_reason: Some(Reason::Failure),
        },
        "wrong-password"
        | "password-required-null-sent"
        | "lsc-auth-untrusted-issuer"
        | "double-in-progress-synthetic"
        | "version2-reply-synthetic"
        | "wrong-session-id-synthetic" => PhoneOutcome::Refused {
            reason: Reason::Failure,
        },
        other => panic!("no expectation for vector {other}"),
    }
}

/// What a replay produced.
struct Replay {
    transmitted: Vec<Vec<u8>>,
    decisions: Vec<PhoneDecision>,
    outcome: PhoneOutcome,
    phone: PhoneSession,
}

/// Answers every decision as the recorded phone did.
fn drain(
    phone: &mut PhoneSession,
    vector: &Vector,
    transmitted: &mut Vec<Vec<u8>>,
    decisions: &mut Vec<PhoneDecision>,
    outcome: &mut Option<PhoneOutcome>,
) {
    while let Some(output) = phone.poll_output() {
        assert!(outcome.is_none(), "{}: output after Done", vector.name);
        match output {
            PhoneOutput::Transmit(bytes) => transmitted.push(bytes),
            PhoneOutput::Done(done) => *outcome = Some(done),
            PhoneOutput::Need(decision) => {
                decisions.push(decision.clone());
                answer(phone, vector, &decision);
            }
            other => panic!("unexpected output {other:?}"),
        }
    }
}

fn answer(phone: &mut PhoneSession, vector: &Vector, decision: &PhoneDecision) {
    let name = vector.name.as_str();
    match decision {
        PhoneDecision::GenerateKey(_) if name == "keygen-failure-synthetic" => {
            phone.refuse_key().unwrap();
        }
        PhoneDecision::GenerateKey(_) if name == "double-in-progress-synthetic" => {
            // Still generating: one more notice, as the hand-made client did.
            phone.repeat_in_progress().unwrap();
        }
        PhoneDecision::GenerateKey(_) => {
            let recorded = vector.recorded_public_key().expect("recorded PUBLIC_KEY");
            assert_eq!(
                Some(&recorded),
                vector.generated_spki().as_ref(),
                "{name}: client_generated_private_key is the key sent"
            );
            phone.answer_key(recorded).unwrap();
        }
        PhoneDecision::StoreCertificate { certificate_der } => {
            assert_eq!(certificate_der, &vector.pem_der("issued_certificate"));
            phone.answer_store().unwrap();
        }
        PhoneDecision::SignProof { .. } => {
            // The recorded phone's keys, held by the host, not the session.
            let mut signer = vector.signer();
            assert!(signer.answer(phone, decision).unwrap());
        }
        PhoneDecision::FetchCertificate => {
            let held = vector
                .has_pem("phone_certificate")
                .then(|| vector.pem_der("phone_certificate"));
            assert_eq!(
                held.is_some(),
                vector.json["client_inputs"]["phone_holds_certificate"] == true
            );
            phone.answer_fetch(held).unwrap();
        }
        PhoneDecision::DeleteCertificate => {
            let held = vector.json["client_inputs"]["phone_holds_certificate"] == true;
            phone.answer_delete(held).unwrap();
        }
        other => panic!("unexpected decision {other:?}"),
    }
}

/// Feeds the recorded server frames (each cut into `chunk`-byte pieces, 0 =
/// whole) and answers as the recorded phone did.
fn replay(vector: &Vector, chunk: usize) -> Replay {
    let mut phone = PhoneSession::new(vector.phone_config(), T0);
    let mut transmitted = Vec::new();
    let mut decisions = Vec::new();
    let mut outcome = None;
    let mut recorded_client_frames = 0;
    for (from_server, bytes) in &vector.frames {
        if !from_server {
            recorded_client_frames += 1;
            continue;
        }
        drain(
            &mut phone,
            vector,
            &mut transmitted,
            &mut decisions,
            &mut outcome,
        );
        assert_eq!(
            transmitted.len(),
            recorded_client_frames,
            "{}: the phone has sent what the recording shows before this server frame",
            vector.name
        );
        if chunk == 0 {
            phone.handle_input(bytes);
        } else {
            for piece in bytes.chunks(chunk) {
                phone.handle_input(piece);
            }
        }
    }
    drain(
        &mut phone,
        vector,
        &mut transmitted,
        &mut decisions,
        &mut outcome,
    );
    Replay {
        transmitted,
        decisions,
        outcome: outcome.unwrap_or_else(|| panic!("{}: no outcome", vector.name)),
        phone,
    }
}

fn check_vector(name: &str) {
    let vector = Vector::load(name);
    let expected = expected_outcome(&vector);
    let recorded = vector.client_frames();
    for chunk in [0, 1, 3, 7] {
        let replay = replay(&vector, chunk);
        assert_eq!(
            replay.transmitted.len(),
            recorded.len(),
            "{name}: frame count"
        );
        for (index, (ours, theirs)) in replay.transmitted.iter().zip(&recorded).enumerate() {
            if name == "wrong-session-id-synthetic" {
                // The hand-made frame carries id 0x7fffffff; we echo the
                // server's id. Everything else is the same.
                assert_eq!(&theirs[2..6], &[0x7f, 0xff, 0xff, 0xff]);
                assert_eq!(&ours[2..6], &vector.session_id().to_be_bytes());
                assert_eq!(ours[..2], theirs[..2], "{name}: frame {index} header");
                assert_eq!(ours[6..], theirs[6..], "{name}: frame {index} body");
            } else {
                assert_eq!(
                    hex::encode(ours),
                    hex::encode(theirs),
                    "{name}: client frame {index} (chunk {chunk})"
                );
            }
        }
        assert_eq!(replay.outcome, expected, "{name}: outcome (chunk {chunk})");
        assert!(replay.phone.is_done());
        assert_eq!(replay.phone.state(), PhoneState::Finished);
        assert_eq!(replay.phone.poll_timeout(), None);
        assert_eq!(replay.phone.session_id(), Some(vector.session_id()));
        // The final END_SESSION reason is the one `expected` records.
        let end = Frame::decode(&vector.frames.last().unwrap().1).unwrap();
        assert_eq!(end.command, Command::EndSession);
        assert_eq!(
            u64::from(end.reason().unwrap().code()),
            vector.json["expected"]["server_final_reason"]
                .as_u64()
                .unwrap()
        );
        // Decisions asked match the scheduled operation.
        let operation = vector.str("operation");
        let asked: Vec<&str> = replay
            .decisions
            .iter()
            .map(|decision| match decision {
                PhoneDecision::GenerateKey(_) => "generate",
                PhoneDecision::StoreCertificate { .. } => "store",
                PhoneDecision::FetchCertificate => "fetch",
                PhoneDecision::DeleteCertificate => "delete",
                PhoneDecision::SignProof { .. } => "sign",
                _ => "other",
            })
            .collect();
        // Certificate authentication: the host signed the LSC/MIC proofs and
        // the SUDI proofs (SHA-1 and SHA-512 each); no proof otherwise.
        let signed = asked.iter().filter(|kind| **kind == "sign").count();
        let wanted_signatures = if matches!(vector.str("auth"), "lsc" | "mic") {
            4
        } else {
            0
        };
        assert_eq!(signed, wanted_signatures, "{name}: proofs signed");
        let asked: Vec<&str> = asked.into_iter().filter(|kind| *kind != "sign").collect();
        let authenticated = !matches!(
            expected,
            PhoneOutcome::Refused { .. } | PhoneOutcome::UnknownDevice
        ) || name == "double-in-progress-synthetic";
        let wanted: &[&str] = match (operation, authenticated) {
            (_, false) | ("none", _) => &[],
            ("install", _) if name.contains("synthetic") => &["generate"],
            ("install", _) => &["generate", "store"],
            ("fetch", _) => &["fetch"],
            ("delete", _) => &["delete"],
            _ => panic!("operation {operation}"),
        };
        assert_eq!(asked, wanted, "{name}: decisions");
    }
}

macro_rules! vector_tests {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check_vector($name);
            }
        )*

        #[test]
        fn every_vector_is_replayed() {
            let mut covered = vec![$($name.to_owned()),*];
            covered.sort();
            assert_eq!(covered, Vector::all_names());
            assert_eq!(covered.len(), 17);
        }
    };
}

vector_tests! {
    delete_absent => "delete-absent",
    delete_present => "delete-present",
    double_in_progress_synthetic => "double-in-progress-synthetic",
    fetch_absent => "fetch-absent",
    fetch_present => "fetch-present",
    install_lsc_auth_rsa => "install-lsc-auth-rsa",
    install_mic_auth_rsa1024 => "install-mic-auth-rsa1024",
    install_nullstring_ec_p256 => "install-nullstring-ec-p256",
    install_password_rsa2048 => "install-password-rsa2048",
    keygen_failure_synthetic => "keygen-failure-synthetic",
    lsc_auth_untrusted_issuer => "lsc-auth-untrusted-issuer",
    no_operation => "no-operation",
    password_required_null_sent => "password-required-null-sent",
    unknown_device => "unknown-device",
    version2_reply_synthetic => "version2-reply-synthetic",
    wrong_password => "wrong-password",
    wrong_session_id_synthetic => "wrong-session-id-synthetic",
}

/// Drives `install-password-rsa2048` up to the STORE_CERT_REQUEST, then
/// sends `store` instead of the recorded one.
fn install_with_store_request(store: Frame) -> (PhoneSession, Vec<PhoneOutput>) {
    let vector = Vector::load("install-password-rsa2048");
    let sid = vector.session_id();
    let mut phone = PhoneSession::new(vector.phone_config(), T0);
    phone.handle_input(&vector.frames[0].1);
    assert!(matches!(
        phone.poll_output(),
        Some(PhoneOutput::Transmit(_))
    ));
    phone.handle_input(&vector.frames[2].1);
    assert!(matches!(
        phone.poll_output(),
        Some(PhoneOutput::Transmit(_))
    ));
    assert!(matches!(
        phone.poll_output(),
        Some(PhoneOutput::Need(PhoneDecision::GenerateKey(_)))
    ));
    phone
        .answer_key(vector.recorded_public_key().unwrap())
        .unwrap();
    assert_eq!(
        phone.poll_output(),
        Some(PhoneOutput::Transmit(vector.frames[4].1.clone()))
    );
    assert_eq!(store.session_id, sid);
    phone.handle_input(&store.encode().unwrap());
    let outputs = std::iter::from_fn(|| phone.poll_output()).collect();
    (phone, outputs)
}

fn refused_store(store: Frame, cause: StoreFailure) {
    let sid = store.session_id;
    let (mut phone, outputs) = install_with_store_request(store);
    // Refused before the host is asked: no StoreCertificate decision.
    assert_eq!(
        outputs,
        [PhoneOutput::Transmit(
            Frame::store_cert_response(sid, Reason::Failure)
                .encode()
                .unwrap()
        )]
    );
    assert_eq!(phone.state(), PhoneState::AwaitingEndAfterFailure);
    assert_eq!(
        phone.answer_store(),
        Err(SessionMisuse::NotPending {
            answered: DecisionKind::StoreCertificate,
            pending: None
        })
    );
    // The reference server ends an install with 1 whatever the phone said;
    // the outcome is still the phone's failure.
    phone.handle_input(&Frame::end_session(sid, Reason::Success).encode().unwrap());
    assert_eq!(
        phone.poll_output(),
        Some(PhoneOutput::Done(PhoneOutcome::StoreFailed {
            cause,
            server_reason: Some(Reason::Success),
        }))
    );
    assert_eq!(phone.poll_output(), None);
}

#[test]
fn certificate_with_another_public_key_is_refused() {
    // LSCs issued in other sessions (another RSA-2048 key, an EC key) are
    // well formed but not for the key this phone generated.
    let other = Vector::load("install-lsc-auth-rsa").pem_der("issued_certificate");
    let own = Vector::load("install-password-rsa2048").pem_der("issued_certificate");
    assert_ne!(other, own);
    refused_store(
        Frame::store_cert_request(1, other),
        StoreFailure::PublicKeyMismatch,
    );
    let ec = Vector::load("install-nullstring-ec-p256").pem_der("issued_certificate");
    refused_store(
        Frame::store_cert_request(1, ec),
        StoreFailure::PublicKeyMismatch,
    );
}

#[test]
fn certificate_that_does_not_parse_is_refused() {
    refused_store(
        Frame::store_cert_request(1, vec![0x30, 0x03, 0x02, 0x01, 0x00]),
        StoreFailure::CertificateUnparseable,
    );
    let mut missing = Frame::store_cert_request(1, Vec::new());
    missing.elements.truncate(1);
    refused_store(missing, StoreFailure::MissingCertificate);
}

#[test]
fn host_store_failure_is_reported() {
    let vector = Vector::load("install-password-rsa2048");
    let store = Frame::decode(&vector.frames[5].1).unwrap();
    let (mut phone, outputs) = install_with_store_request(store);
    assert!(matches!(
        outputs.as_slice(),
        [PhoneOutput::Need(PhoneDecision::StoreCertificate { .. })]
    ));
    phone.refuse_store().unwrap();
    assert_eq!(
        phone.poll_output(),
        Some(PhoneOutput::Transmit(
            Frame::store_cert_response(1, Reason::Failure)
                .encode()
                .unwrap()
        ))
    );
    phone.handle_peer_closed();
    assert_eq!(
        phone.poll_output(),
        Some(PhoneOutput::Done(PhoneOutcome::StoreFailed {
            cause: StoreFailure::HostFailed,
            server_reason: None,
        }))
    );
}
