//! Arbitrary bytes into the trust-list parser: it must return, never panic;
//! whatever parses must re-encode to the same bytes, and the signer lookup,
//! verification and consistency checks must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = ctl_format::TrustList::parse(data) {
        assert_eq!(list.encode().ok().as_deref(), Some(data));
        let records = list.records().len();
        if let Some(signer) = list.find_signer() {
            assert!(signer.record_index < records);
        }
        for (index, _) in list.inconsistencies() {
            assert!(index < records);
        }
        // Only a list whose signer record matches in full verifies.
        if list.verify(data, ctl_format::HashPolicy::ANY).is_ok() {
            assert!(list.find_signer().is_some_and(|signer| signer.is_full()));
        }
    }
});
