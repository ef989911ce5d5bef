//! Arbitrary bytes into the signed-header parser: it must return, never panic,
//! and whatever parses must re-encode to the same header bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = ctl_format::SignedHeader::parse(data) {
        let encoded = header.encode();
        assert_eq!(Some(encoded.as_slice()), data.get(..usize::from(header.header_length)));
    }
});
