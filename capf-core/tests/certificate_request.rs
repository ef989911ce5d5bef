//! The phone-signed certificate request (our reading: KEY_GEN_RESPONSE
//! SIGNED_DATA = a DER PKCS#10 request signed by the new key), end to end
//! between a real phone session and a real server session:
//!
//! * a phone configured to send it: the server's IssueCertificate decision
//!   carries the request, which `openssl req -verify` accepts (an
//!   independent check) and whose key and subject OpenSSL reads back as the
//!   phone's key and CN;
//! * RSA-2048 and P-256/P-384/P-521 keys;
//! * tampered on the wire (signature, another key's request, another
//!   device's name): the server ends the session as a protocol
//!   error naming the reason, and issues nothing;
//! * without the option, the phone sends PUBLIC_KEY alone (the recorded
//!   exchange; the vectors prove the bytes).

use std::process::Command as Process;

use capf_core::capf::certificate_request::{
    CertificateRequestAlgorithm, CertificateRequestError, assemble_certificate_request,
    certification_request_info, sign_certificate_request_info,
};
use capf_core::capf::codec::{Command, Curve, Element, Frame};
use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::phone::{PhoneConfig, PhoneCredentials, PhoneDecision, PhoneSession};
use capf_core::capf::proof::ProofPrivateKey;
use capf_core::capf::server::{
    AuthMode, DeviceRecord, IssueRefusal, Operation, ServerConfig, ServerDecision,
    ServerProtocolViolation, ServerSession, SessionResult,
};
use capf_core::session::Output;
use capf_core::time::Timestamp;
use der::pem::LineEnding;
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey};
use rand::SeedableRng;

const DEVICE: &str = "SEP001122334455";
const T0: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

/// A phone key made from a seed: (DER SPKI, in-memory private key).
fn key(request: KeyRequest, seed: u64) -> (Vec<u8>, ProofPrivateKey) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let pkcs8 = match request {
        KeyRequest::Rsa { bits } => rsa::RsaPrivateKey::new(&mut rng, usize::from(bits))
            .unwrap()
            .to_pkcs8_der()
            .unwrap(),
        KeyRequest::Ec(Curve::P256) => p256::SecretKey::random(&mut rng).to_pkcs8_der().unwrap(),
        KeyRequest::Ec(Curve::P384) => p384::SecretKey::random(&mut rng).to_pkcs8_der().unwrap(),
        KeyRequest::Ec(Curve::P521) => p521::SecretKey::random(&mut rng).to_pkcs8_der().unwrap(),
        other => panic!("{other:?}"),
    };
    let private = ProofPrivateKey::from_pkcs8_der(pkcs8.as_bytes()).unwrap();
    let spki = match request {
        KeyRequest::Rsa { .. } => {
            use rsa::pkcs8::DecodePrivateKey;
            rsa::RsaPrivateKey::from_pkcs8_der(pkcs8.as_bytes())
                .unwrap()
                .to_public_key()
                .to_public_key_der()
                .unwrap()
        }
        KeyRequest::Ec(Curve::P256) => {
            use p256::pkcs8::DecodePrivateKey;
            p256::SecretKey::from_pkcs8_der(pkcs8.as_bytes())
                .unwrap()
                .public_key()
                .to_public_key_der()
                .unwrap()
        }
        KeyRequest::Ec(Curve::P384) => {
            use p384::pkcs8::DecodePrivateKey;
            p384::SecretKey::from_pkcs8_der(pkcs8.as_bytes())
                .unwrap()
                .public_key()
                .to_public_key_der()
                .unwrap()
        }
        KeyRequest::Ec(Curve::P521) => {
            use p521::pkcs8::DecodePrivateKey;
            p521::SecretKey::from_pkcs8_der(pkcs8.as_bytes())
                .unwrap()
                .public_key()
                .to_public_key_der()
                .unwrap()
        }
        other => panic!("{other:?}"),
    };
    (spki.as_bytes().to_vec(), private)
}

/// What the server handed out and how it ended.
struct Run {
    /// The IssueCertificate decision's request, if the server got that far.
    issue: Option<Option<Vec<u8>>>,
    result: SessionResult,
    /// The phone's KEY_GEN_RESPONSE as it was sent (before any tampering).
    key_gen_response: Option<Frame>,
}

/// One install session: the phone (with or without the request option)
/// answers with `spki`/`private`; `tamper` may rewrite its frames on the
/// way to the server. The server refuses to issue (the test needs only
/// the decision).
fn run(
    request: KeyRequest,
    spki: &[u8],
    private: &ProofPrivateKey,
    send_request: bool,
    tamper: impl Fn(Frame) -> Frame,
) -> Run {
    let mut server = ServerSession::new(ServerConfig::new(0x0101), T0);
    let config = PhoneConfig::new(DEVICE, PhoneCredentials::NullString)
        .unwrap()
        .with_certificate_request(send_request);
    assert_eq!(config.sends_certificate_request(), send_request);
    let mut phone = PhoneSession::new(config, T0);
    let mut issue = None;
    let mut key_gen_response = None;
    let mut result = None;
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    for _ in 0..100 {
        let mut moved = false;
        while let Some(output) = server.poll_output() {
            moved = true;
            match output {
                Output::Transmit(bytes) => phone.handle_input(&bytes),
                Output::Need(ServerDecision::LookUpDevice { .. }) => server
                    .answer_device(Some(DeviceRecord::new(
                        DEVICE,
                        Operation::Install(request),
                        AuthMode::NullString,
                    )))
                    .unwrap(),
                Output::Need(ServerDecision::IssueCertificate {
                    certificate_request_der,
                    subject_public_key_info_der,
                    ..
                }) => {
                    assert_eq!(subject_public_key_info_der, spki);
                    issue = Some(certificate_request_der);
                    server
                        .refuse_certificate(IssueRefusal::Declined("test".into()))
                        .unwrap();
                }
                Output::Need(ServerDecision::RecordOutcome { .. }) => {
                    server.answer_outcome_recorded().unwrap()
                }
                Output::Need(other) => panic!("{other:?}"),
                Output::Done(outcome) => result = Some(outcome.result),
                _ => panic!("unknown output"),
            }
        }
        while let Some(output) = phone.poll_output() {
            moved = true;
            match output {
                Output::Transmit(bytes) => {
                    let frame = Frame::decode(&bytes).unwrap();
                    if frame.command == Command::KeyGenResponse {
                        key_gen_response = Some(frame.clone());
                    }
                    server.handle_input(&tamper(frame).encode().unwrap());
                }
                Output::Need(PhoneDecision::GenerateKey(asked)) => {
                    assert_eq!(asked, request);
                    phone.answer_key(spki.to_vec()).unwrap();
                }
                Output::Need(PhoneDecision::SignCertificateRequest {
                    public_key_der,
                    algorithm,
                    message,
                    digest,
                }) => {
                    assert_eq!(digest, algorithm.digest(&message));
                    // The key to sign with is the one just answered.
                    assert_eq!(public_key_der, spki.to_vec());
                    // A signature by another key is refused; the decision
                    // stays pending.
                    let (_, other) = key(KeyRequest::Ec(Curve::P256), 77);
                    if let Ok(wrong) = sign_certificate_request_info(
                        &other,
                        CertificateRequestAlgorithm::EcdsaSha256,
                        &message,
                        &mut rng,
                    ) {
                        assert!(phone.answer_certificate_request_signature(wrong).is_err());
                    }
                    let signature =
                        sign_certificate_request_info(private, algorithm, &message, &mut rng)
                            .unwrap();
                    phone
                        .answer_certificate_request_signature(signature)
                        .unwrap();
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
    Run {
        issue,
        result: result.expect("the server session ended"),
        key_gen_response,
    }
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "capf-certificate-request-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn openssl(arguments: &[&str]) -> (bool, String) {
    let output = Process::new("openssl").args(arguments).output().unwrap();
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// The request handed to the server host, checked by OpenSSL: signature,
/// key (compared with the phone's key as OpenSSL prints both), subject.
fn check_with_openssl(name: &str, request_der: &[u8], spki: &[u8]) {
    let dir = scratch(name);
    let csr = dir.join("phone.csr");
    let pub_pem = dir.join("phone.pub.pem");
    std::fs::write(
        &csr,
        der::pem::encode_string("CERTIFICATE REQUEST", LineEnding::LF, request_der).unwrap(),
    )
    .unwrap();
    std::fs::write(
        &pub_pem,
        der::pem::encode_string("PUBLIC KEY", LineEnding::LF, spki).unwrap(),
    )
    .unwrap();
    let csr = csr.to_str().unwrap();
    let (ok, text) = openssl(&["req", "-in", csr, "-noout", "-verify"]);
    assert!(ok, "openssl req -verify: {text}");
    assert!(
        text.contains("verify OK") || text.contains("Certificate request self-signature verify OK"),
        "{text}"
    );
    let (ok, subject) = openssl(&[
        "req", "-in", csr, "-noout", "-subject", "-nameopt", "RFC2253",
    ]);
    assert!(ok, "{subject}");
    assert_eq!(subject.trim(), format!("subject=CN={DEVICE}"));
    let (ok, from_request) = openssl(&["req", "-in", csr, "-noout", "-pubkey"]);
    assert!(ok, "{from_request}");
    let (ok, phone_key) = openssl(&["pkey", "-pubin", "-in", pub_pem.to_str().unwrap()]);
    assert!(ok, "{phone_key}");
    assert_eq!(from_request, phone_key);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn phone_signed_request_reaches_the_host_and_openssl_verifies_it() {
    for (label, request, seed) in [
        ("rsa2048", KeyRequest::Rsa { bits: 2048 }, 1),
        ("p256", KeyRequest::Ec(Curve::P256), 2),
        ("p384", KeyRequest::Ec(Curve::P384), 3),
        ("p521", KeyRequest::Ec(Curve::P521), 4),
    ] {
        let (spki, private) = key(request, seed);
        let run = run(request, &spki, &private, true, |frame| frame);
        let request_der = run
            .issue
            .clone()
            .expect("IssueCertificate")
            .expect("a certificate request");
        // On the wire: PUBLIC_KEY then SIGNED_DATA (the request).
        let sent = run.key_gen_response.unwrap();
        assert_eq!(
            sent.elements,
            [
                Element::PublicKey(spki.clone()),
                Element::SignedData(request_der.clone())
            ],
            "{label}"
        );
        check_with_openssl(label, &request_der, &spki);
    }
}

#[test]
fn without_the_option_only_the_public_key_goes() {
    let (spki, private) = key(KeyRequest::Ec(Curve::P256), 5);
    let run = run(
        KeyRequest::Ec(Curve::P256),
        &spki,
        &private,
        false,
        |frame| frame,
    );
    assert_eq!(run.issue, Some(None));
    assert_eq!(
        run.key_gen_response.unwrap().elements,
        [Element::PublicKey(spki)]
    );
}

/// Replaces SIGNED_DATA of KEY_GEN_RESPONSE with `value(original)`.
fn replace_request(frame: Frame, value: &dyn Fn(&[u8]) -> Vec<u8>) -> Frame {
    if frame.command != Command::KeyGenResponse {
        return frame;
    }
    let elements = frame
        .elements
        .iter()
        .map(|element| match element {
            Element::SignedData(original) => Element::SignedData(value(original)),
            other => other.clone(),
        })
        .collect();
    Frame::new(frame.command, frame.session_id, elements)
}

fn refused_with(tamper: &dyn Fn(&[u8]) -> Vec<u8>, expected: CertificateRequestError) {
    let request = KeyRequest::Ec(Curve::P256);
    let (spki, private) = key(request, 6);
    let run = run(request, &spki, &private, true, |frame| {
        replace_request(frame, tamper)
    });
    assert_eq!(run.issue, None, "nothing to issue for a refused request");
    assert_eq!(
        run.result,
        SessionResult::ProtocolError(ServerProtocolViolation::InvalidCertificateRequest(expected))
    );
}

#[test]
fn a_tampered_signature_is_refused() {
    refused_with(
        &|original| {
            let mut bytes = original.to_vec();
            let last = bytes.len() - 1;
            bytes[last] ^= 0x01;
            bytes
        },
        CertificateRequestError::BadSignature,
    );
}

#[test]
fn a_request_for_another_key_is_refused() {
    let (other_spki, other_private) = key(KeyRequest::Ec(Curve::P256), 8);
    let info = certification_request_info(DEVICE, &other_spki).unwrap();
    let algorithm = CertificateRequestAlgorithm::EcdsaSha256;
    let signature = sign_certificate_request_info(
        &other_private,
        algorithm,
        &info,
        &mut rand::rngs::StdRng::seed_from_u64(1),
    )
    .unwrap();
    let other_request = assemble_certificate_request(&info, algorithm, &signature).unwrap();
    refused_with(
        &|_| other_request.clone(),
        CertificateRequestError::PublicKeyMismatch,
    );
}

#[test]
fn a_request_for_another_device_is_refused() {
    let request = KeyRequest::Ec(Curve::P256);
    let (spki, private) = key(request, 6);
    let info = certification_request_info("SEP00112233445F", &spki).unwrap();
    let algorithm = CertificateRequestAlgorithm::EcdsaSha256;
    let signature = sign_certificate_request_info(
        &private,
        algorithm,
        &info,
        &mut rand::rngs::StdRng::seed_from_u64(1),
    )
    .unwrap();
    let renamed = assemble_certificate_request(&info, algorithm, &signature).unwrap();
    refused_with(
        &|_| renamed.clone(),
        CertificateRequestError::SubjectMismatch,
    );
}

/// SIGNED_DATA that is no PKCS#10 at all is another kind of phone
/// signature, accepted and ignored (spec section 8): the session goes on
/// without a request, as if the phone had sent none.
#[test]
fn signed_data_that_is_no_request_is_ignored() {
    let request = KeyRequest::Ec(Curve::P256);
    let (spki, private) = key(request, 6);
    for garbage in [vec![0x30, 0x03, 0x02, 0x01], vec![0xA5; 256], Vec::new()] {
        let run = run(request, &spki, &private, true, |frame| {
            replace_request(frame, &|_| garbage.clone())
        });
        assert_eq!(run.issue, Some(None), "{garbage:02x?}");
        assert!(
            matches!(run.result, SessionResult::IssueRefused(_)),
            "{:?}",
            run.result
        );
    }
}

// ---- the offline CA's second session (our reading) ----

mod offline_second_session {
    use super::*;
    use capf_core::capf::phone::{PhoneOutcome, StoreFailure};
    use capf_core::issuance::{CertificateAuthority, LscIssuer, LscRequest};

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

    /// A certificate for `spki` from the fixture issuer (an offline CA).
    fn signed_for(spki: &[u8]) -> Vec<u8> {
        let certificate =
            std::fs::read_to_string(format!("{FIXTURES}/issuer-ec-p256.cert.pem")).unwrap();
        let key = std::fs::read_to_string(format!("{FIXTURES}/issuer-ec-p256.key.pem")).unwrap();
        let (_, certificate) = der::pem::decode_vec(certificate.as_bytes()).unwrap();
        let (_, key) = der::pem::decode_vec(key.as_bytes()).unwrap();
        let issuer = LscIssuer::new(&certificate, &key).unwrap();
        let request = LscRequest {
            device_name: DEVICE,
            subject_public_key_info_der: spki,
            validity_days: 30,
        };
        issuer
            .issue(&request, T0, &mut rand::rngs::StdRng::seed_from_u64(3))
            .unwrap()
            .der
    }

    /// One session: the server's record has `ready`, the phone keeps
    /// `pending`. Returns the frames' commands, the server's result and the
    /// phone's outcome.
    fn session(
        ready: Vec<u8>,
        pending: Option<Vec<u8>>,
    ) -> (Vec<Command>, SessionResult, PhoneOutcome) {
        let mut server = ServerSession::new(ServerConfig::new(0x0202), T0);
        let mut config = PhoneConfig::new(DEVICE, PhoneCredentials::NullString).unwrap();
        if let Some(pending) = pending {
            config = config.with_pending_key(pending);
        }
        let mut phone = PhoneSession::new(config, T0);
        let mut commands = Vec::new();
        let (mut result, mut outcome) = (None, None);
        for _ in 0..50 {
            let mut moved = false;
            while let Some(output) = server.poll_output() {
                moved = true;
                match output {
                    Output::Transmit(bytes) => {
                        commands.push(Frame::decode(&bytes).unwrap().command);
                        phone.handle_input(&bytes);
                    }
                    Output::Need(ServerDecision::LookUpDevice { .. }) => server
                        .answer_device(Some(
                            DeviceRecord::new(
                                DEVICE,
                                Operation::Install(KeyRequest::Ec(Curve::P256)),
                                AuthMode::NullString,
                            )
                            .with_ready_certificate(ready.clone()),
                        ))
                        .unwrap(),
                    Output::Need(ServerDecision::RecordOutcome { .. }) => {
                        server.answer_outcome_recorded().unwrap()
                    }
                    Output::Need(other) => panic!("{other:?}"),
                    Output::Done(done) => result = Some(done.result),
                    _ => panic!("unknown output"),
                }
            }
            while let Some(output) = phone.poll_output() {
                moved = true;
                match output {
                    Output::Transmit(bytes) => {
                        commands.push(Frame::decode(&bytes).unwrap().command);
                        server.handle_input(&bytes);
                    }
                    Output::Need(PhoneDecision::StoreCertificate { .. }) => {
                        phone.answer_store().unwrap()
                    }
                    Output::Need(other) => panic!("{other:?}"),
                    Output::Done(done) => outcome = Some(done),
                    _ => panic!("unknown output"),
                }
            }
            if !moved {
                // A phone that stopped leaves: the server sees it close.
                if phone.is_done() && !server.is_done() {
                    server.handle_peer_closed();
                    continue;
                }
                break;
            }
        }
        (commands, result.unwrap(), outcome.unwrap())
    }

    #[test]
    fn the_ready_certificate_is_stored_for_the_pending_key_without_key_generation() {
        let (spki, _) = key(KeyRequest::Ec(Curve::P256), 21);
        let ready = signed_for(&spki);
        let (commands, result, outcome) = session(ready.clone(), Some(spki));
        assert_eq!(
            commands,
            [
                Command::AuthRequest,
                Command::AuthResponse,
                Command::StoreCertRequest,
                Command::StoreCertResponse,
                Command::EndSession
            ],
            "no KEY_GEN_REQUEST"
        );
        assert_eq!(
            result,
            SessionResult::Installed {
                certificate_der: ready.clone()
            }
        );
        assert_eq!(
            outcome,
            PhoneOutcome::Installed {
                certificate_der: ready
            }
        );
    }

    #[test]
    fn a_certificate_for_another_key_is_refused_by_the_phone() {
        let (spki, _) = key(KeyRequest::Ec(Curve::P256), 21);
        let (other, _) = key(KeyRequest::Ec(Curve::P256), 22);
        let (commands, result, outcome) = session(signed_for(&other), Some(spki));
        assert!(!commands.contains(&Command::KeyGenRequest));
        assert!(
            matches!(result, SessionResult::StoreFailed { .. }),
            "{result:?}"
        );
        assert!(
            matches!(
                outcome,
                PhoneOutcome::StoreFailed {
                    cause: StoreFailure::PublicKeyMismatch,
                    ..
                }
            ),
            "{outcome:?}"
        );
    }

    #[test]
    fn a_phone_without_a_pending_key_treats_it_as_a_protocol_error() {
        let (spki, _) = key(KeyRequest::Ec(Curve::P256), 21);
        let (_, _, outcome) = session(signed_for(&spki), None);
        assert!(
            matches!(outcome, PhoneOutcome::ProtocolError(_)),
            "{outcome:?}"
        );
    }
}
