//! The crypto provider, chosen by Cargo feature as rustls chooses it: the one
//! place in this crate where `aws-lc-rs` or `ring` is named.
//!
//! | feature | used for |
//! | --- | --- |
//! | `aws-lc-rs` (default) | LSC signatures ([`crate::issuance`]), the rustls provider of `capf_core::tls` (feature `tls`), the signature algorithms of the trust evaluator ([`crate::trust`]) |
//! | `ring` | the same, with *ring* (smaller and quicker to build; mobile builds may prefer it) |
//!
//! With both features on (as `cargo test --all-features` does), **aws-lc-rs
//! is used**, always: the choice does not depend on the order features were
//! enabled in. Neither on is a compile error.
//!
//! Both providers give the same results here: the same certificate-chain
//! signature algorithms (the names both rustls-webpki modules share; P-521
//! chain signatures are left out because ring has none), and every phone key
//! kind is issuable with either (the LSC is assembled by
//! [`crate::issuance`], never by the provider). Speed differs: one RSA-2048
//! signature costs about 250 µs with aws-lc-rs and 580 µs with ring on the
//! development machine.
//!
//! Randomness: the providers draw their own for RSA blinding and ECDSA
//! nonces (as rcgen did before); every value this crate *decides* (serials,
//! keys, challenges) still comes from the RNG the host passes in.

#[cfg(not(any(feature = "aws-lc-rs", feature = "ring")))]
compile_error!("capf-core needs a crypto provider: enable feature `aws-lc-rs` (default) or `ring`");

#[cfg(feature = "aws-lc-rs")]
use aws_lc_rs as backend;
#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
use ring as backend;

#[cfg(feature = "aws-lc-rs")]
use webpki::aws_lc_rs as webpki_algs;
#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
use webpki::ring as webpki_algs;

use backend::signature::{self as sig, KeyPair as _};
use rustls_pki_types::SignatureVerificationAlgorithm;

/// Name of the provider compiled in: `"aws-lc-rs"` or `"ring"`.
#[cfg(feature = "aws-lc-rs")]
pub const NAME: &str = "aws-lc-rs";
/// Name of the provider compiled in: `"aws-lc-rs"` or `"ring"`.
#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
pub const NAME: &str = "ring";

/// The rustls `CryptoProvider` of the chosen provider, with its default
/// cipher suites, key-exchange groups and signature algorithms.
#[cfg(feature = "tls")]
pub fn rustls_provider() -> rustls::crypto::CryptoProvider {
    #[cfg(feature = "aws-lc-rs")]
    return rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    return rustls::crypto::ring::default_provider();
}

/// The certificate signature algorithms the trust evaluator accepts (SHA-2
/// RSA of 2048-8192 bits, ECDSA P-256/P-384, Ed25519), from the chosen
/// provider. The same list under both providers.
pub(crate) fn webpki_algorithms() -> [&'static dyn SignatureVerificationAlgorithm; 14] {
    use webpki_algs as algs;
    [
        algs::ECDSA_P256_SHA256,
        algs::ECDSA_P256_SHA384,
        algs::ECDSA_P384_SHA256,
        algs::ECDSA_P384_SHA384,
        algs::ED25519,
        algs::RSA_PKCS1_2048_8192_SHA256,
        algs::RSA_PKCS1_2048_8192_SHA384,
        algs::RSA_PKCS1_2048_8192_SHA512,
        algs::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
        algs::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
        algs::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
        algs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
        algs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
        algs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
    ]
}

/// Why an issuing key did not load. Carries nothing of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyLoadError {
    /// Not PKCS#8 of the expected kind, or refused by the provider (both
    /// refuse RSA keys under 2048 bits).
    Rejected,
}

/// Which signature an LSC issuer makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IssuerAlgorithm {
    /// sha256WithRSAEncryption.
    RsaSha256,
    /// ecdsa-with-SHA256 on P-256.
    EcdsaP256Sha256,
    /// ecdsa-with-SHA256 on P-384 (the reference's form; see
    /// [`IssuerKey::P384Sha256`]).
    EcdsaP384Sha256,
}

/// A loaded issuing private key.
pub(crate) enum IssuerKey {
    /// RSA, PKCS#1 v1.5 with SHA-256, signed by the provider.
    Rsa(sig::RsaKeyPair),
    /// ECDSA P-256 with SHA-256, signed by the provider.
    P256(sig::EcdsaKeyPair),
    /// ECDSA P-384 with **SHA-256**: neither provider offers this pairing
    /// (ring signs P-384 only with SHA-384; aws-lc-rs with SHA-384 or
    /// SHA3-384, and its `sign_digest` refuses a digest of another
    /// algorithm), so it is signed with the RustCrypto `p384` crate:
    /// RFC 6979 deterministic nonces (no randomness needed), constant-time
    /// field arithmetic. Not the provider, but the same on both.
    P384Sha256(Box<p384::ecdsa::SigningKey>),
}

impl IssuerKey {
    /// Load an unencrypted PKCS#8 key for `algorithm`.
    pub(crate) fn from_pkcs8(
        algorithm: IssuerAlgorithm,
        pkcs8_der: &[u8],
    ) -> Result<Self, KeyLoadError> {
        match algorithm {
            IssuerAlgorithm::RsaSha256 => sig::RsaKeyPair::from_pkcs8(pkcs8_der)
                .map(IssuerKey::Rsa)
                .map_err(|_| KeyLoadError::Rejected),
            IssuerAlgorithm::EcdsaP256Sha256 => {
                ecdsa_from_pkcs8(&sig::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8_der)
                    .map(IssuerKey::P256)
            }
            IssuerAlgorithm::EcdsaP384Sha256 => {
                use p384::pkcs8::DecodePrivateKey;
                p384::ecdsa::SigningKey::from_pkcs8_der(pkcs8_der)
                    .map(|k| IssuerKey::P384Sha256(Box::new(k)))
                    .map_err(|_| KeyLoadError::Rejected)
            }
        }
    }

    /// The public key as it appears in the SPKI's BIT STRING (RSAPublicKey
    /// DER, or the uncompressed EC point).
    pub(crate) fn public_key_bytes(&self) -> Vec<u8> {
        match self {
            IssuerKey::Rsa(k) => k.public_key().as_ref().to_vec(),
            IssuerKey::P256(k) => k.public_key().as_ref().to_vec(),
            IssuerKey::P384Sha256(k) => k
                .verifying_key()
                .to_encoded_point(false)
                .as_bytes()
                .to_vec(),
        }
    }

    /// Sign `message` (the DER TBSCertificate); the signature as it goes in
    /// the certificate's BIT STRING (DER ECDSA-Sig-Value for EC).
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let rng = backend::rand::SystemRandom::new();
        match self {
            IssuerKey::Rsa(k) => {
                let mut out = vec![0u8; rsa_modulus_len(k)];
                k.sign(&sig::RSA_PKCS1_SHA256, &rng, message, &mut out)
                    .map_err(|_| SignError)?;
                Ok(out)
            }
            IssuerKey::P256(k) => k
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SignError),
            IssuerKey::P384Sha256(k) => {
                use p384::ecdsa::signature::hazmat::PrehashSigner;
                use sha2::Digest;
                let digest = sha2::Sha256::digest(message);
                let signature: p384::ecdsa::Signature =
                    k.sign_prehash(&digest).map_err(|_| SignError)?;
                Ok(signature.to_der().as_bytes().to_vec())
            }
        }
    }
}

/// The provider refused to sign (an internal error; no detail exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SignError;

#[cfg(feature = "aws-lc-rs")]
fn ecdsa_from_pkcs8(
    algorithm: &'static sig::EcdsaSigningAlgorithm,
    pkcs8_der: &[u8],
) -> Result<sig::EcdsaKeyPair, KeyLoadError> {
    sig::EcdsaKeyPair::from_pkcs8(algorithm, pkcs8_der).map_err(|_| KeyLoadError::Rejected)
}

#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
fn ecdsa_from_pkcs8(
    algorithm: &'static sig::EcdsaSigningAlgorithm,
    pkcs8_der: &[u8],
) -> Result<sig::EcdsaKeyPair, KeyLoadError> {
    let rng = backend::rand::SystemRandom::new();
    sig::EcdsaKeyPair::from_pkcs8(algorithm, pkcs8_der, &rng).map_err(|_| KeyLoadError::Rejected)
}

#[cfg(feature = "aws-lc-rs")]
fn rsa_modulus_len(key: &sig::RsaKeyPair) -> usize {
    key.public_modulus_len()
}

#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
fn rsa_modulus_len(key: &sig::RsaKeyPair) -> usize {
    key.public().modulus_len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_follows_the_features() {
        // Both on: aws-lc-rs, deterministically.
        if cfg!(feature = "aws-lc-rs") {
            assert_eq!(NAME, "aws-lc-rs");
        } else {
            assert_eq!(NAME, "ring");
        }
    }
}
