//! Arbitrary bytes into `Revocations::parse` (DER CRL, PEM blocks or lines
//! of SHA-256 digests): it must return, never panic; what it reads merges
//! into another set unchanged, and an error names its source.
#![no_main]

use capf_core::trust::Revocations;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match Revocations::parse("fuzz input", data) {
        Ok(revocations) => {
            let mut copy = Revocations::new();
            copy.extend(&revocations);
            assert_eq!(copy, revocations);
            assert_eq!(revocations.is_empty(), copy.is_empty());
        }
        // Every error names the source it was given.
        Err(error) => assert!(error.to_string().contains("fuzz input"), "{error}"),
    }
});
