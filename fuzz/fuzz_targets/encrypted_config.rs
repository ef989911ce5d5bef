//! Arbitrary bytes into the encrypted-config parser and the reduced-config
//! XML scanner: both must return, never panic; whatever parses has the
//! invariants the parser promises.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(config) = ctl_format::EncryptedConfig::parse(data) {
        assert!((1..=16).contains(&config.pad_count()));
        assert_eq!(
            usize::from(config.key_size_bits()),
            config.wrapped_key().len() * 8
        );
        assert_eq!(
            config.plaintext_digest().len(),
            config.plaintext_hash_algorithm().output_len()
        );
    }
    if let Some(certificate) = certificate() {
        // Whatever is reduced carries the phone certificate's hash.
        if let Ok(reduced) = ctl_format::reduced_config(data, certificate) {
            assert!(reduced.windows(10).any(|window| window == b"<certHash>"));
        }
    }
});

/// A fixed phone certificate for the XML scanner (the vector key set).
fn certificate() -> Option<&'static ctl_format::Certificate> {
    static CERTIFICATE: std::sync::OnceLock<Option<ctl_format::Certificate>> =
        std::sync::OnceLock::new();
    CERTIFICATE
        .get_or_init(|| {
            ctl_format::Certificate::from_pem(include_str!(
                "../../tests/vectors/sgn/keys/phone-lsc.pem"
            ))
            .ok()
        })
        .as_ref()
}
