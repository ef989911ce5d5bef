//! Arbitrary bytes into the trust-list parser: it must return, never panic;
//! whatever parses must re-encode to the same bytes, and the signer lookup,
//! verification and consistency checks must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = ctl_format::TrustList::parse(data) {
        assert_eq!(list.encode().ok().as_deref(), Some(data));
        let _ = list.find_signer();
        let _ = list.inconsistencies();
        let _ = list.verify(data, ctl_format::HashPolicy::ANY);
    }
});
