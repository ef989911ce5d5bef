//! A CRL of 100,000 revoked serials (issue 12): `LscIssuer::sign_crl`
//! assembling and signing it (P-256 and RSA-2048 issuers), and the PEM
//! encoding `capf ca crl` writes. Serials are 16 bytes from a seeded RNG,
//! like the LSCs' serials; every entry carries a reasonCode.

use capf_core::issuance::LscIssuer;
use capf_core::revocation::{RevocationReason, RevokedEntry};
use capf_core::time::Timestamp;
use criterion::{Criterion, criterion_group, criterion_main};
use rand::{RngCore, SeedableRng};
use std::hint::black_box;
use std::time::Duration;

const ENTRIES: usize = 100_000;
const NOW: Timestamp = Timestamp::from_unix_seconds(1_830_000_000);

fn issuer(algorithm: &'static rcgen::SignatureAlgorithm) -> Option<LscIssuer> {
    let key = rcgen::KeyPair::generate_for(algorithm).ok()?;
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "CRL bench CA");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let certificate = params.self_signed(&key).unwrap();
    Some(LscIssuer::new(certificate.der(), &key.serialize_der()).unwrap())
}

fn entries() -> Vec<RevokedEntry> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    (0..ENTRIES)
        .map(|index| {
            let mut serial = vec![0_u8; 16];
            rng.fill_bytes(&mut serial);
            serial[0] = (serial[0] & 0x7f) | 0x40;
            RevokedEntry {
                serial,
                revoked_at: Timestamp::from_unix_seconds(1_800_000_000 + index as u64),
                reason: RevocationReason::KeyCompromise,
            }
        })
        .collect()
}

fn crl(c: &mut Criterion) {
    let entries = entries();
    let mut group = c.benchmark_group("crl_100k");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for (name, algorithm) in [
        ("p256", &rcgen::PKCS_ECDSA_P256_SHA256),
        ("rsa2048", &rcgen::PKCS_RSA_SHA256),
    ] {
        let Some(issuer) = issuer(algorithm) else {
            eprintln!("SKIPPED: {name}: the provider cannot generate this issuer key");
            continue;
        };
        let der = issuer
            .sign_crl(&entries, NOW, NOW.plus_seconds(7 * 86_400), 1)
            .unwrap();
        eprintln!(
            "{name}: CRL of {ENTRIES} entries is {} bytes DER",
            der.len()
        );
        group.bench_function(format!("sign_{name}"), |b| {
            b.iter(|| {
                issuer
                    .sign_crl(black_box(&entries), NOW, NOW.plus_seconds(7 * 86_400), 1)
                    .unwrap()
            })
        });
        group.bench_function(format!("sign_and_pem_{name}"), |b| {
            b.iter(|| {
                let der = issuer
                    .sign_crl(black_box(&entries), NOW, NOW.plus_seconds(86_400), 1)
                    .unwrap();
                der::pem::encode_string("X509 CRL", der::pem::LineEnding::LF, &der).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, crl);
criterion_main!(benches);
