//! Arbitrary bytes into the signed-file parser: it must return, never panic;
//! whatever parses must re-encode (header + payload) to the input, and
//! stripping must give the payload; the owned form agrees.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = ctl_format::SignedFile::parse(data) {
        let mut rebuilt = file.header().encode();
        rebuilt.extend_from_slice(file.payload());
        assert_eq!(rebuilt.as_slice(), data);
        assert_eq!(file.strip(), file.payload());
        let status = file.signature_status();
        let owned = ctl_format::OwnedSignedFile::parse(data);
        let Ok(owned) = owned else {
            panic!("the owned form refused what the borrowed one parsed")
        };
        assert_eq!(owned.payload(), file.payload());
        assert_eq!(owned.signature_status(), status);
    }
});
