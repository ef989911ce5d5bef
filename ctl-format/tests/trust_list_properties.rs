//! Properties: the trust-list parser never panics, and no single-bit change
//! of a signed list gets through parse + verify.

use ctl_format::{
    Certificate, HashPolicy, RecordEntry, Role, RsaFileSigner, TrustList, TrustListBuilder,
    TrustListKind,
};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use std::path::Path;

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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..65_536)) {
        if let Ok(list) = TrustList::parse(&bytes) {
            prop_assert_eq!(list.encode().unwrap(), bytes.clone());
            let _ = list.find_signer();
            let _ = list.verify(&bytes, HashPolicy::ANY);
            let _ = list.inconsistencies();
        }
    }

    /// A valid header followed by arbitrary bytes reaches the record walk.
    #[test]
    fn arbitrary_records_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let real = vector("real/cucm/CTLFile.tlv");
        let mut bytes = real[..312].to_vec();
        bytes.extend_from_slice(&tail);
        if let Ok(list) = TrustList::parse(&bytes) {
            prop_assert_eq!(list.encode().unwrap(), bytes.clone());
            let _ = list.verify(&bytes, HashPolicy::ANY);
            let _ = list.inconsistencies();
        }
    }
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
