//! Trust lists: parse, verify and build the real Unified CM CTL and a
//! 39-record ITL (about the 64 KB a phone accepts) built in the setup.

use criterion::{Criterion, criterion_group, criterion_main};
use ctl_format::{
    Certificate, HashAlgorithm, HashPolicy, OwnedTrustList, RecordEntry, Role, RsaFileSigner,
    TrustList, TrustListBuilder, TrustListKind,
};
use std::hint::black_box;
use std::path::Path;

fn vector(relative: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/vectors")
            .join(relative),
    )
    .unwrap()
}

fn key_pem(name: &str) -> String {
    String::from_utf8(vector(&format!("tlv/keys/{name}"))).unwrap()
}

/// The signer's certificate and key, and 39 records cycling through the
/// vector certificates (role 0 signer first, then TVS, CCM+TFTP, CAPF…).
fn itl_inputs() -> (Certificate, RsaFileSigner, Vec<RecordEntry>) {
    let signer_pem = key_pem("itlrecovery.pem");
    let signer_certificate = Certificate::from_pem(&signer_pem).unwrap();
    let signer = RsaFileSigner::from_pem(&signer_pem).unwrap();
    let others = [
        ("tvs.pem", Role::Tvs),
        ("ccm-tftp.pem", Role::CallManagerTftp),
        ("capf.pem", Role::Capf),
        ("app-server.pem", Role::ApplicationServer),
        ("tftp-ec.pem", Role::Tftp),
    ];
    let mut records = vec![RecordEntry::new(signer_certificate.clone(), Role::Sast)];
    for index in 0..38 {
        let (name, role) = others[index % others.len()];
        let certificate = Certificate::from_pem(&key_pem(name)).unwrap();
        records.push(RecordEntry::new(certificate, role));
    }
    (signer_certificate, signer, records)
}

fn build_itl(
    certificate: &Certificate,
    signer: &RsaFileSigner,
    records: &[RecordEntry],
) -> Vec<u8> {
    TrustListBuilder::new(
        TrustListKind::Itl,
        certificate.clone(),
        signer,
        1_795_323_855,
    )
    .hash_algorithm(HashAlgorithm::Sha512)
    .records(records.iter().cloned())
    .build()
    .unwrap()
}

fn benches(c: &mut Criterion) {
    let ctl = vector("real/cucm/CTLFile.tlv");
    let (itl_certificate, itl_signer, itl_records) = itl_inputs();
    let itl = build_itl(&itl_certificate, &itl_signer, &itl_records);
    assert_eq!(TrustList::parse(&itl).unwrap().records().len(), 39);

    for (name, file) in [("real_ctl", &ctl), ("itl_39_records", &itl)] {
        c.bench_function(&format!("trust_list/parse/{name}"), |b| {
            b.iter(|| TrustList::parse(black_box(file)).unwrap())
        });
        // The owned form (for bindings) copies the file and its fields:
        // what that costs beside the zero-copy parse.
        c.bench_function(&format!("trust_list/parse_owned/{name}"), |b| {
            b.iter(|| OwnedTrustList::parse(black_box(file.as_slice())).unwrap())
        });
        let list = TrustList::parse(file).unwrap();
        c.bench_function(&format!("trust_list/verify/{name}"), |b| {
            b.iter(|| list.verify(black_box(file), HashPolicy::CISCO).unwrap())
        });
    }

    // The real CTL's records (certificates, roles, DNS names, addresses)
    // rebuilt in Cisco layout. Cisco's key is not public, so the 2048-bit
    // vector key sast.pem signs, listed first as SAST.
    let real = TrustList::parse(&ctl).unwrap();
    let sast_pem = key_pem("sast.pem");
    let sast_certificate = Certificate::from_pem(&sast_pem).unwrap();
    let sast_signer = RsaFileSigner::from_pem(&sast_pem).unwrap();
    let mut ctl_records = vec![RecordEntry::new(sast_certificate.clone(), Role::Sast)];
    for record in real.records() {
        let mut entry = RecordEntry::new(
            record.certificate().unwrap().unwrap(),
            record.role().unwrap(),
        );
        if let Some(dns) = record.dns_name() {
            entry = entry.with_dns_name(dns.to_string());
        }
        if let Some(ip) = record.ip_address() {
            entry = entry.with_ip_address(ip);
        }
        ctl_records.push(entry);
    }
    c.bench_function("trust_list/build/real_ctl_records", |b| {
        b.iter(|| {
            TrustListBuilder::new(
                TrustListKind::Ctl,
                sast_certificate.clone(),
                &sast_signer,
                1,
            )
            .records(ctl_records.iter().cloned())
            .build()
            .unwrap()
        })
    });
    c.bench_function("trust_list/build/itl_39_records", |b| {
        b.iter(|| build_itl(&itl_certificate, &itl_signer, &itl_records))
    });
}

criterion_group!(trust_list, benches);
criterion_main!(trust_list);
