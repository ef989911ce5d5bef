//! The trust evaluator and the CAPF server's certificate check, one
//! verdict per iteration: a CTL-pinned certificate (the real Unified CM
//! CTL), a CAPF-issued LSC against CAPF-trust, a MIC through a
//! manufacturing intermediate to its root (P-256 and RSA-2048), and
//! `check_certificate` for an LSC. Certificates are generated once in the
//! setup (rcgen, the real `LscIssuer`; RSA keys from the vector key files).

use capf_core::capf::server::{CertificatePolicy, CertificatePurpose, check_certificate};
use capf_core::issuance::{CertificateAuthority, LscIssuer, LscRequest};
use capf_core::time::Timestamp;
use capf_core::trust::{CapfCredential, Purpose, ServerRole, StoreKind, TrustStore, evaluate};
use criterion::{Criterion, criterion_group, criterion_main};
use ctl_format::TrustList;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256, PublicKeyData, SignatureAlgorithm, date_time_ymd,
};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

const DEVICE: &str = "SEP001122334455";
/// 2025-01-01: inside every generated certificate's validity.
const NOW: Timestamp = Timestamp::from_unix_seconds(1_735_689_600);

fn vector(relative: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/vectors")
            .join(relative),
    )
    .unwrap()
}

/// The PKCS#8 RSA-2048 key of a vector key file, for rcgen.
fn vector_rsa_key(name: &str) -> KeyPair {
    let text = String::from_utf8(vector(&format!("tlv/keys/{name}"))).unwrap();
    let end = "-----END PRIVATE KEY-----";
    let start = text.find("-----BEGIN PRIVATE KEY-----").unwrap();
    let stop = text.find(end).unwrap() + end.len();
    KeyPair::from_pem_and_sign_algo(&text[start..stop], &PKCS_RSA_SHA256).unwrap()
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
    ];
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2040, 1, 1);
    params
}

/// Root -> manufacturing CA -> MIC `CP-8845-SEP001122334455`, all keys
/// from `keys` (root, intermediate, MIC): (MIC, intermediate, root) DER.
fn mic_chain(keys: [KeyPair; 3]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let [root_key, intermediate_key, mic_key] = keys;
    let root_params = ca_params("Cisco Manufacturing Root (bench)");
    let root_der = root_params.self_signed(&root_key).unwrap().der().to_vec();
    let root = Issuer::new(root_params, root_key);
    let intermediate_params = ca_params("Cisco Manufacturing CA (bench)");
    let intermediate_der = intermediate_params
        .signed_by(&intermediate_key, &root)
        .unwrap()
        .der()
        .to_vec();
    let intermediate = Issuer::new(intermediate_params, intermediate_key);
    let mut mic_params = CertificateParams::default();
    mic_params
        .distinguished_name
        .push(DnType::CommonName, format!("CP-8845-{DEVICE}"));
    mic_params.is_ca = IsCa::ExplicitNoCa;
    mic_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    mic_params.not_before = date_time_ymd(2020, 1, 1);
    mic_params.not_after = date_time_ymd(2030, 1, 1);
    let mic_der = mic_params
        .signed_by(&mic_key, &intermediate)
        .unwrap()
        .der()
        .to_vec();
    (mic_der, intermediate_der, root_der)
}

fn p256() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap()
}

/// A self-signed CAPF certificate (P-256) and an LSC its `LscIssuer`
/// issued for DEVICE: (CAPF DER, LSC DER).
fn capf_and_lsc(algorithm: &'static SignatureAlgorithm) -> (Vec<u8>, Vec<u8>) {
    let key = KeyPair::generate_for(algorithm).unwrap();
    let mut params = ca_params("CAPF-bench");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let capf_der = params.self_signed(&key).unwrap().der().to_vec();
    let issuer = LscIssuer::new(&capf_der, &key.serialize_der()).unwrap();
    let phone_key = p256();
    let spki = phone_key.subject_public_key_info();
    let lsc = issuer
        .issue(
            &LscRequest {
                device_name: DEVICE,
                subject_public_key_info_der: &spki,
                validity_days: 365,
            },
            NOW,
            &mut rand::thread_rng(),
        )
        .unwrap();
    (capf_der, lsc.der)
}

fn benches(c: &mut Criterion) {
    // The real CTL: record 3 is the CAPF certificate (role CAPF).
    let ctl_file = vector("real/cucm/CTLFile.tlv");
    let list = TrustList::parse(&ctl_file).unwrap();
    let ctl = TrustStore::from_trust_list(StoreKind::Ctl, "CTLFile.tlv", &list).unwrap();
    let pinned = list.records()[3].certificate_der().unwrap().to_vec();
    let ctl_now = Timestamp::from_unix_seconds(1_430_968_247);
    let as_capf = Purpose::TlsServer {
        role: ServerRole::Capf,
        host: None,
    };
    let stores = [ctl];
    assert!(evaluate(&[&pinned], &as_capf, &stores, ctl_now).trusted);
    c.bench_function("trust_evaluate/ctl_pinned_capf", |b| {
        b.iter(|| evaluate(&[black_box(&pinned)], &as_capf, &stores, ctl_now))
    });

    let (capf_der, lsc_der) = capf_and_lsc(&PKCS_ECDSA_P256_SHA256);
    let capf_trust =
        [
            TrustStore::from_der_certificates(StoreKind::CapfTrust, "CAPF-trust", [&capf_der])
                .unwrap(),
        ];
    let lsc_purpose = Purpose::CapfAuthentication {
        credential: CapfCredential::Lsc,
        device: Some(DEVICE.to_owned()),
    };
    assert!(evaluate(&[&lsc_der], &lsc_purpose, &capf_trust, NOW).trusted);
    c.bench_function("trust_evaluate/lsc_capf_trust_p256", |b| {
        b.iter(|| evaluate(&[black_box(&lsc_der)], &lsc_purpose, &capf_trust, NOW))
    });

    let mic_purpose = Purpose::CapfAuthentication {
        credential: CapfCredential::Mic,
        device: Some(DEVICE.to_owned()),
    };
    let chains = [
        ("p256", mic_chain([p256(), p256(), p256()])),
        (
            "rsa2048",
            mic_chain([
                vector_rsa_key("sast.pem"),
                vector_rsa_key("sast2.pem"),
                vector_rsa_key("phone-lsc.pem"),
            ]),
        ),
    ];
    for (name, (mic, intermediate, root)) in &chains {
        let roots = [TrustStore::from_der_certificates(
            StoreKind::ManufacturingRoots,
            "manufacturing roots",
            [root],
        )
        .unwrap()];
        let chain = [mic.as_slice(), intermediate.as_slice()];
        let verdict = evaluate(&chain, &mic_purpose, &roots, NOW);
        assert!(verdict.trusted, "{verdict}");
        assert_eq!(verdict.chain.len(), 3);
        c.bench_function(
            &format!("trust_evaluate/mic_via_intermediate_{name}"),
            |b| b.iter(|| evaluate(black_box(&chain), &mic_purpose, &roots, NOW)),
        );
    }

    // The CAPF server's check of an LSC (CERTIFICATE element, no chain).
    let mut policy = CertificatePolicy::default();
    policy.lsc_issuers = vec![capf_der.clone()];
    policy.manufacturing_roots = vec![chains[0].1.2.clone()];
    check_certificate(
        &policy,
        &lsc_der,
        DEVICE,
        NOW,
        CertificatePurpose::Authentication,
    )
    .unwrap();
    c.bench_function("trust_evaluate/capf_server_check_certificate_lsc", |b| {
        b.iter(|| {
            check_certificate(
                &policy,
                black_box(&lsc_der),
                DEVICE,
                NOW,
                CertificatePurpose::Authentication,
            )
        })
    });
}

criterion_group! {
    name = trust_evaluate;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(trust_evaluate);
