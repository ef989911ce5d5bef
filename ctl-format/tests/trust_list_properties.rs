//! Properties: the trust-list parser never panics, and no single-bit change
//! of a signed list gets through parse + verify.

use ctl_format::{
    Certificate, HashPolicy, RecordEntry, Role, RsaFileSigner, TrustList, TrustListBuilder,
    TrustListKind,
};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use std::path::Path;

mod property_support;
use property_support::run_reaching;

fn vector(relative: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/vectors")
            .join(relative),
    )
    .unwrap()
}

/// Parse, then (if it parses) verify: `true` when the bytes are accepted.
fn accepted(bytes: &[u8]) -> bool {
    TrustList::parse(bytes).is_ok_and(|list| list.verify(bytes, HashPolicy::ANY).is_ok())
}

fn flipped(bytes: &[u8], bit: usize) -> Vec<u8> {
    let mut copy = bytes.to_vec();
    copy[bit / 8] ^= 1 << (bit % 8);
    copy
}

/// Bytes for the parser: arbitrary; a valid header followed by arbitrary
/// bytes (the record walk); the real CTL with one byte replaced or cut
/// short (lists that parse, so that encode, the checks and verify run).
fn list_like(real: &[u8]) -> impl Strategy<Value = Vec<u8>> {
    let length = real.len();
    let (header, replaced, cut) = (real[..312].to_vec(), real.to_vec(), real.to_vec());
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..65_536),
        proptest::collection::vec(any::<u8>(), 0..4096).prop_map(move |tail| {
            let mut bytes = header.clone();
            bytes.extend_from_slice(&tail);
            bytes
        }),
        (0..length, any::<u8>()).prop_map(move |(index, value)| {
            let mut bytes = replaced.clone();
            bytes[index] = value;
            bytes
        }),
        (0..=length).prop_map(move |end| cut[..end].to_vec()),
    ]
}

/// Whatever parses re-encodes to its bytes, names only records it has, and
/// verifies only if it is the original list. Returns whether it parsed.
fn check_list(bytes: &[u8], original: &[u8]) -> Result<bool, TestCaseError> {
    let Ok(list) = TrustList::parse(bytes) else {
        return Ok(false);
    };
    prop_assert_eq!(list.encode().unwrap(), bytes.to_vec());
    let records = list.records().len();
    if let Some(signer) = list.find_signer() {
        prop_assert!(signer.record_index < records);
    }
    for (index, _) in list.inconsistencies() {
        prop_assert!(index < records);
    }
    let verified = list.verify(bytes, HashPolicy::ANY).is_ok();
    prop_assert!(!verified || bytes == original, "a changed list verified");
    Ok(true)
}

#[test]
fn arbitrary_and_mutated_lists_never_panic() {
    let real = vector("real/cucm/CTLFile.tlv");
    // About half the cases are the real list changed in one byte or cut
    // short; most of those parse.
    run_reaching("trust list parse", 256, 40, list_like(&real), |bytes| {
        check_list(&bytes, &real)
    });
}

#[test]
fn every_bit_flip_of_a_small_built_list_is_rejected() {
    let pem = String::from_utf8(vector("tlv/keys/sast.pem")).unwrap();
    let certificate = Certificate::from_pem(&pem).unwrap();
    let signer = RsaFileSigner::from_pem(&pem).unwrap();
    let file = TrustListBuilder::new(TrustListKind::Ctl, certificate.clone(), &signer, 1)
        .record(RecordEntry::new(certificate, Role::Sast))
        .build()
        .unwrap();
    assert!(accepted(&file));
    // Every bit outside the certificate element's value (header, signature,
    // record framing, names, serial, key, certificate signature); inside the
    // 1 KB certificate DER, which the key element duplicates, a fixed sample
    // (each bit costs a certificate parse and an RSA verification).
    let list = TrustList::parse(&file).unwrap();
    let der = list.records()[0].element(9).unwrap();
    let der_bits = (der.offset + 3) * 8..(der.offset + 3 + der.value.len()) * 8;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5A57);
    let outside = (0..file.len() * 8).filter(|bit| !der_bits.contains(bit));
    let inside = (0..1500).map(|_| rng.gen_range(der_bits.clone()));
    for bit in outside.chain(inside) {
        assert!(
            !accepted(&flipped(&file, bit)),
            "bit {bit} flipped was accepted"
        );
    }
}

#[test]
fn sampled_bit_flips_of_the_real_ctl_are_rejected() {
    let file = vector("real/cucm/CTLFile.tlv");
    assert!(accepted(&file));
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x0C7F_11E5);
    // Every bit of the header, then a fixed random sample of the records.
    let header_bits = 312 * 8;
    let bits =
        (0..header_bits).chain((0..1000).map(|_| rng.gen_range(header_bits..file.len() * 8)));
    for bit in bits {
        assert!(
            !accepted(&flipped(&file, bit)),
            "bit {bit} flipped was accepted"
        );
    }
}
