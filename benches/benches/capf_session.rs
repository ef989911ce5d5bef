//! CAPF wire and session costs: frame decode/encode of the largest recorded
//! frame (an AUTH_RESPONSE with certificate proofs) and a small one, one
//! whole in-memory install (null-string auth, EC P-256 phone key, local
//! LscIssuer with an EC P-256 or an RSA-2048 issuing key), and next to it
//! one bare signature of each kind, to see how much of a session is the
//! CA's signature.

use capf_core::capf::codec::{Curve, Frame, FrameDecoder};
use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::phone::{
    PhoneConfig, PhoneCredentials, PhoneDecision, PhoneOutcome, PhoneOutput, PhoneSession,
};
use capf_core::capf::server::{
    AuthMode, DeviceRecord, Operation, ServerConfig, ServerDecision, ServerOutput, ServerSession,
    SessionResult,
};
use capf_core::issuance::{CertificateAuthority, LscIssuer, LscRequest};
use capf_core::time::Timestamp;
use criterion::{Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256, PublicKeyData, SigningKey,
};
use serde_json::Value;
use std::hint::black_box;

const DEVICE: &str = "SEP001122334455";
const SESSION_ID: u32 = 0x0000_0101;
const NOW: u64 = 1_800_000_000;
const VALIDITY_DAYS: u32 = 365;

fn vector(name: &str) -> Value {
    let path = format!(
        "{}/../tests/vectors/capf/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every recorded frame of a vector, in wire order.
fn frames(v: &Value) -> Vec<Vec<u8>> {
    v["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| hex::decode(f["hex"].as_str().unwrap()).unwrap())
        .collect()
}

fn bench_frames(c: &mut Criterion) {
    let recorded = frames(&vector("install-lsc-auth-rsa"));
    let largest = recorded.iter().max_by_key(|f| f.len()).unwrap().clone();
    let small = recorded.iter().min_by_key(|f| f.len()).unwrap().clone();
    for (label, bytes) in [("auth_response", &largest), ("small", &small)] {
        let frame = Frame::decode(bytes).unwrap();
        assert_eq!(
            &frame.encode().unwrap(),
            bytes,
            "recorded frames round-trip"
        );
        let mut group = c.benchmark_group(format!("frame/{label}_{}B", bytes.len()));
        group.bench_function("decode", |b| b.iter(|| Frame::decode(black_box(bytes))));
        group.bench_function("encode", |b| b.iter(|| black_box(&frame).encode()));
        group.bench_function("frame_decoder", |b| {
            b.iter(|| {
                let mut decoder = FrameDecoder::new();
                decoder.push(black_box(bytes));
                decoder.next_frame().unwrap().unwrap()
            })
        });
        group.finish();
    }
}

/// One whole install between the two sessions, in memory, answering every
/// decision as a host would. Returns the issued certificate.
fn install(issuer: &LscIssuer, phone_spki: &[u8], rng: &mut StdRng) -> Vec<u8> {
    let now = Timestamp::from_unix_seconds(NOW);
    let mut server = ServerSession::new(ServerConfig::new(SESSION_ID), now);
    let config = PhoneConfig::new(DEVICE, PhoneCredentials::NullString).unwrap();
    let mut phone = PhoneSession::new(config, now);
    let mut server_done = false;
    let mut installed = None;
    loop {
        let mut moved = false;
        while let Some(output) = server.poll_output() {
            moved = true;
            match output {
                ServerOutput::Transmit(bytes) => phone.handle_input(&bytes),
                ServerOutput::Need(ServerDecision::LookUpDevice { device_name }) => server
                    .answer_device(Some(DeviceRecord::new(
                        device_name,
                        Operation::Install(KeyRequest::Ec(Curve::P256)),
                        AuthMode::NullString,
                    )))
                    .unwrap(),
                ServerOutput::Need(ServerDecision::IssueCertificate {
                    device_name,
                    subject_public_key_info_der,
                    ..
                }) => {
                    let request = LscRequest {
                        device_name: &device_name,
                        subject_public_key_info_der: &subject_public_key_info_der,
                        validity_days: VALIDITY_DAYS,
                    };
                    let issued = issuer
                        .issue(&request, Timestamp::from_unix_seconds(NOW), rng)
                        .unwrap();
                    server.answer_certificate(issued.der).unwrap();
                }
                ServerOutput::Need(ServerDecision::RecordPendingCertificate { .. }) => {
                    server.answer_pending_recorded().unwrap();
                }
                ServerOutput::Need(ServerDecision::RecordOutcome { .. }) => {
                    server.answer_outcome_recorded().unwrap();
                }
                ServerOutput::Done(outcome) => {
                    assert!(
                        matches!(outcome.result, SessionResult::Installed { .. }),
                        "{outcome:?}"
                    );
                    server_done = true;
                }
                other => panic!("unexpected server output {other:?}"),
            }
        }
        while let Some(output) = phone.poll_output() {
            moved = true;
            match output {
                PhoneOutput::Transmit(bytes) => server.handle_input(&bytes),
                PhoneOutput::Need(PhoneDecision::GenerateKey(_)) => {
                    phone.answer_key(phone_spki.to_vec()).unwrap();
                }
                PhoneOutput::Need(PhoneDecision::StoreCertificate { .. }) => {
                    phone.answer_store().unwrap();
                }
                PhoneOutput::Done(outcome) => match outcome {
                    PhoneOutcome::Installed { certificate_der } => {
                        installed = Some(certificate_der);
                    }
                    other => panic!("phone outcome {other:?}"),
                },
                other => panic!("unexpected phone output {other:?}"),
            }
        }
        if !moved {
            break;
        }
    }
    assert!(server_done, "server session ended");
    installed.expect("phone installed the LSC")
}

/// A self-signed EC P-256 CAPF-style CA, as (LscIssuer, key) — rcgen in setup.
fn ec_issuer() -> (LscIssuer, KeyPair) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "CAPF-bench");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "capf bench");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
    ];
    let certificate = params.self_signed(&key).unwrap();
    let issuer = LscIssuer::new(certificate.der(), &key.serialize_der()).unwrap();
    (issuer, key)
}

fn bench_sessions(c: &mut Criterion) {
    // The phone's key, generated once; every session answers GenerateKey
    // with the same SubjectPublicKeyInfo.
    let phone_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let phone_spki = phone_key.subject_public_key_info();

    let (ec_issuer, ec_key) = ec_issuer();
    let v = vector("install-password-rsa2048");
    let rsa_certificate_pem = v["pem"]["issuer_certificate"].as_str().unwrap();
    let rsa_key_pem = v["pem"]["issuer_private_key"].as_str().unwrap();
    let rsa_issuer = LscIssuer::from_pem(rsa_certificate_pem, rsa_key_pem).unwrap();
    let rsa_key = KeyPair::from_pem_and_sign_algo(rsa_key_pem, &PKCS_RSA_SHA256).unwrap();

    let mut rng = StdRng::seed_from_u64(7);
    let mut group = c.benchmark_group("install_session");
    for (label, issuer) in [
        ("ec_p256_issuer", &ec_issuer),
        ("rsa2048_issuer", &rsa_issuer),
    ] {
        let issued = install(issuer, &phone_spki, &mut rng);
        assert!(!issued.is_empty());
        group.bench_function(label, |b| {
            b.iter(|| install(issuer, black_box(&phone_spki), &mut rng))
        });
    }
    group.finish();

    // A message of about a TBSCertificate's size.
    let message = vec![0x5a_u8; 600];
    let mut group = c.benchmark_group("signature");
    group.bench_function("ecdsa_p256_sha256", |b| {
        b.iter(|| ec_key.sign(black_box(&message)).unwrap())
    });
    group.bench_function("rsa2048_pkcs1v15_sha256", |b| {
        b.iter(|| rsa_key.sign(black_box(&message)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench_frames, bench_sessions);
criterion_main!(benches);
