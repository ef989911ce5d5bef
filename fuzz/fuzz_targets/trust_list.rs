//! Arbitrary bytes into the trust-list parser: it must return, never panic;
//! whatever parses must re-encode to the same bytes, and the signer lookup,
//! verification and consistency checks must not panic either. The owned
//! form parses exactly when the borrowed one does and gives the same answers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let owned = ctl_format::OwnedTrustList::parse(data);
    match ctl_format::TrustList::parse(data) {
        Ok(list) => {
            assert_eq!(list.encode().ok().as_deref(), Some(data));
            let signer = list.find_signer();
            let inconsistencies = list.inconsistencies();
            let verdict = list.verify(data, ctl_format::HashPolicy::ANY);
            let Ok(owned) = owned else {
                panic!("the owned form refused what the borrowed one parsed")
            };
            assert_eq!(owned.encode().ok().as_deref(), Some(data));
            assert_eq!(owned.find_signer(), signer);
            assert_eq!(owned.inconsistencies(), inconsistencies);
            assert_eq!(owned.verify(ctl_format::HashPolicy::ANY), verdict);
            let records = list.records().len();
            if let Some(signer) = &signer {
                assert!(signer.record_index < records);
            }
            for (index, _) in &inconsistencies {
                assert!(*index < records);
            }
            // Only a list whose signer record matches in full verifies.
            if verdict.is_ok() {
                assert!(signer.as_ref().is_some_and(|signer| signer.is_full()));
            }
        }
        Err(error) => assert_eq!(owned.err(), Some(error)),
    }
});
