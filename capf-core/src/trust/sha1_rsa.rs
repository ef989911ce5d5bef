//! RSA PKCS#1 v1.5 with SHA-1 as a rustls-webpki signature algorithm, for
//! the one path that needs it: MIC chains of the older Cisco manufacturing
//! hierarchies (capf-protocol.md Appendix C). The evaluator offers it to
//! webpki only for CAPF authentication with a MIC through manufacturing
//! roots or CAPF-trust; TLS, file signers and trust lists never see it.

use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use rustls_pki_types::{AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm};
use sha1::{Digest, Sha1};

/// Smallest RSA issuer key accepted, in bits (as for the SHA-2 algorithms).
const MIN_BITS: usize = 2048;
/// Largest RSA key accepted, in bits (webpki's SHA-2 algorithms stop here).
const MAX_BITS: usize = 8192;

/// `rsaEncryption` with NULL parameters, the AlgorithmIdentifier content.
const RSA_ENCRYPTION: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];
/// `sha1WithRSAEncryption` (1.2.840.113549.1.1.5) with NULL parameters.
const SHA1_WITH_RSA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05, 0x00,
];

/// RSA PKCS#1 v1.5 SHA-1 signatures by 2048- to 8192-bit keys.
#[derive(Debug)]
pub(crate) struct RsaPkcs1Sha1;

/// The one instance.
pub(crate) static RSA_PKCS1_SHA1: RsaPkcs1Sha1 = RsaPkcs1Sha1;

impl SignatureVerificationAlgorithm for RsaPkcs1Sha1 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        let key = RsaPublicKey::from_pkcs1_der(public_key).map_err(|_| InvalidSignature)?;
        let bits = key.n().bits();
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(InvalidSignature);
        }
        let digest = Sha1::digest(message);
        key.verify(Pkcs1v15Sign::new::<Sha1>(), &digest, signature)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        AlgorithmIdentifier::from_slice(RSA_ENCRYPTION)
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        AlgorithmIdentifier::from_slice(SHA1_WITH_RSA)
    }

    fn fips(&self) -> bool {
        false
    }
}
