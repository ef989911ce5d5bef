//! Seeded randomness for the tests: keys and random numbers are the same on
//! every run. Each test draws from its own generator (libtest runs every
//! test on a thread of its own, and the generator is thread-local), so the
//! keys a test gets do not depend on which other tests ran.
//!
//! What cannot be seeded: rcgen signs with ring, whose ECDSA signatures
//! take their nonces from ring's own system RNG, so certificates made by
//! rcgen differ in their signature bytes (and so their digests) from run to
//! run even with these fixed keys. No test may depend on those bytes (the
//! 1-in-16 flake of 4b3d4ba was a digest starting with 0x30).
#![allow(dead_code)]

use std::cell::RefCell;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, SignatureAlgorithm};

thread_local! {
    static KEY_RNG: RefCell<StdRng> = RefCell::new(StdRng::seed_from_u64(0x6361_7066_6b65_7973));
}

/// A generator with a fixed seed, for a test that takes an RNG.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Runs `draw` on this test's key generator.
pub fn with_key_rng<T>(draw: impl FnOnce(&mut StdRng) -> T) -> T {
    KEY_RNG.with(|rng| draw(&mut rng.borrow_mut()))
}

/// The next P-256 key of this test, as rcgen's key pair.
pub fn p256_key() -> KeyPair {
    use p256::pkcs8::EncodePrivateKey;
    let secret = with_key_rng(p256::SecretKey::random);
    let der = secret.to_pkcs8_der().unwrap();
    KeyPair::from_pkcs8_der_and_sign_algo(&der.as_bytes().into(), &PKCS_ECDSA_P256_SHA256).unwrap()
}

/// The next P-384 key of this test, as rcgen's key pair.
pub fn p384_key() -> KeyPair {
    use p384::pkcs8::EncodePrivateKey;
    let secret = with_key_rng(p384::SecretKey::random);
    let der = secret.to_pkcs8_der().unwrap();
    KeyPair::from_pkcs8_der_and_sign_algo(&der.as_bytes().into(), &PKCS_ECDSA_P384_SHA384).unwrap()
}

/// The next key of this test for an ECDSA algorithm of rcgen (P-256 or
/// P-384).
pub fn ec_key_for(algorithm: &'static SignatureAlgorithm) -> KeyPair {
    if algorithm == &PKCS_ECDSA_P384_SHA384 {
        p384_key()
    } else {
        assert!(
            algorithm == &PKCS_ECDSA_P256_SHA256,
            "not a seeded algorithm"
        );
        p256_key()
    }
}

/// The next RSA key of this test.
pub fn rsa_key(bits: usize) -> rsa::RsaPrivateKey {
    with_key_rng(|rng| rsa::RsaPrivateKey::new(rng, bits)).unwrap()
}

/// The next RSA key of this test, also as rcgen's key pair.
pub fn rsa_key_pair(bits: usize) -> (rsa::RsaPrivateKey, KeyPair) {
    use rsa::pkcs8::EncodePrivateKey;
    let key = rsa_key(bits);
    let der = key.to_pkcs8_der().unwrap();
    let pair = KeyPair::try_from(der.as_bytes()).unwrap();
    (key, pair)
}
