//! TVS, one recorded connection (`tests/vectors/tvs/verify-known-ccm-tftp`,
//! recorded against the reference server): the server session decoding the
//! VERIFY_REQUEST and answering it from a one-record database, and the
//! client session building its request and reading the recorded
//! VERIFY_RESPONSE (plus the bare frame decode of that response).

use capf_core::time::Timestamp;
use capf_core::tvs::{
    KnownCertificate, TvsClientConfig, TvsClientOutput, TvsClientResult, TvsClientSession,
    TvsFrame, TvsServerConfig, TvsServerDecision, TvsServerOutput, TvsServerSession,
};
use criterion::{Criterion, criterion_group, criterion_main};
use ctl_format::Certificate;
use ctl_format::trust_list::Role;
use serde_json::Value;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

/// Inside the vector certificates' validity (2026-11-21 to 2029).
const NOW: Timestamp = Timestamp::from_unix_seconds(1_830_000_000);

struct Recorded {
    request: Vec<u8>,
    response: Vec<u8>,
    device_name: String,
    certificate: Vec<u8>,
}

fn recorded() -> Recorded {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/vectors/tvs/verify-known-ccm-tftp.json");
    let json: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let frame = |from: &str| {
        let frames = json["frames"].as_array().unwrap();
        let frame = frames.iter().find(|frame| frame["from"] == from).unwrap();
        hex::decode(frame["hex"].as_str().unwrap()).unwrap()
    };
    let pem = json["pem"]["ccm_certificate"].as_str().unwrap();
    Recorded {
        request: frame("client"),
        response: frame("server"),
        device_name: json["device_name"].as_str().unwrap().to_owned(),
        certificate: Certificate::from_pem(pem).unwrap().der().to_vec(),
    }
}

/// One server session over the request; returns the response frame.
fn serve(request: &[u8], known: &KnownCertificate) -> Vec<u8> {
    let mut session = TvsServerSession::new(TvsServerConfig::default(), NOW);
    session.handle_input(request);
    let mut response = Vec::new();
    while let Some(output) = session.poll_output() {
        match output {
            TvsServerOutput::Transmit(bytes) => response = bytes,
            TvsServerOutput::Need(TvsServerDecision::LookUpCertificate { .. }) => {
                session.answer_lookup(Some(known.clone())).unwrap();
            }
            TvsServerOutput::Done(_) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    response
}

/// One client session: its request, then the recorded response read.
fn ask(recorded: &Recorded) -> TvsClientResult {
    let config = TvsClientConfig::new(1, &recorded.device_name, recorded.certificate.clone());
    let mut session = TvsClientSession::new(config, NOW).unwrap();
    let Some(TvsClientOutput::Transmit(_request)) = session.poll_output() else {
        panic!("request first")
    };
    session.handle_input(&recorded.response);
    match session.poll_output() {
        Some(TvsClientOutput::Done(outcome)) => outcome.result,
        other => panic!("unexpected {other:?}"),
    }
}

fn benches(c: &mut Criterion) {
    let recorded = recorded();
    // The vector's database: the CCM certificate with CCM and TFTP, TTL 3600.
    let known = KnownCertificate::new(vec![Role::CallManager, Role::Tftp], 3600);
    assert_eq!(serve(&recorded.request, &known), recorded.response);
    assert!(matches!(ask(&recorded), TvsClientResult::Valid { .. }));

    c.bench_function("tvs_session/server_verify_request", |b| {
        b.iter(|| serve(black_box(&recorded.request), &known))
    });
    c.bench_function("tvs_session/client_request_and_response", |b| {
        b.iter(|| ask(black_box(&recorded)))
    });
    c.bench_function("tvs_session/decode_verify_response", |b| {
        b.iter(|| TvsFrame::decode(black_box(&recorded.response)).unwrap())
    });
}

criterion_group! {
    name = tvs_session;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(tvs_session);
