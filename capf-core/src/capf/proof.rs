//! Certificate-authentication proofs of CAPF (spec section 9).
//!
//! A phone that authenticates with a certificate (capfAuthMode 3 or 4) signs
//! two messages with the private key of that certificate:
//!
//! * **M1** ([`signed_data_message`]) = device name, one `0x00` byte, then the
//!   DER of exactly the certificate sent in the CERTIFICATE element. It is
//!   signed twice: SIGNED_DATA with SHA-1, SHA2_SIGNED_DATA with SHA-512.
//! * **M2** ([`sudi_message`]) = the server's session id as 4 bytes
//!   **little-endian**, then the DER of the SUDI certificate (the MIC). It is
//!   signed with SHA-1 and SHA-512 inside SUDI_DATA, with an RSA key only.
//!
//! The proofs are not standard signatures:
//!
//! * **RSA**: PKCS#1 block type 1 around the **bare** hash, no DigestInfo:
//!   `00 01 FF…FF 00 ‖ H`, raised to the private exponent (what OpenSSL calls
//!   a raw "private encrypt" with PKCS#1 padding). Deterministic.
//! * **EC**: ordinary ECDSA over the hash, the value being the DER
//!   `SEQUENCE { r, s }`.
//!
//! Verification of an RSA proof rebuilds the whole expected block and compares
//! every byte in constant time (never only the trailing hash, which is what the
//! reference server does and what lets a small-exponent forger through).
//!
//! The framing around the proofs (the 3-byte SHA2_SIGNED_DATA header, the
//! three SUDI_DATA blocks) belongs to the wire codec; this module deals with
//! messages, digests and signature values.
//!
//! ```
//! use capf_core::capf::proof::{signed_data_message, sudi_message};
//!
//! let m1 = signed_data_message("SEP001122334455", &[0x30, 0x00]);
//! assert_eq!(m1, b"SEP001122334455\x00\x30\x00");
//! let m2 = sudi_message(257, &[0x30, 0x00]);
//! assert_eq!(m2, [0x01, 0x01, 0x00, 0x00, 0x30, 0x00]);
//! ```

use crate::capf::codec::Curve;
use der::{Decode, Encode};
use rand_core::CryptoRngCore;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha1::Sha1;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

/// Object identifier of `rsaEncryption`.
const OID_RSA_ENCRYPTION: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// Object identifier of `id-ecPublicKey`.
const OID_EC_PUBLIC_KEY: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// Object identifier of the named curve secp256r1.
const OID_P256: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// Object identifier of the named curve secp384r1.
const OID_P384: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("1.3.132.0.34");
/// Object identifier of the named curve secp521r1.
const OID_P521: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// Fewest `FF` padding bytes a verifier accepts in a type-1 block (spec 9.3).
pub const MIN_PADDING_BYTES: usize = 8;

/// Errors of proof creation and verification. They never carry key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The certificate is not DER X.509.
    #[error("certificate does not parse: {0}")]
    Certificate(der::Error),
    /// The public key (SPKI) does not parse or is invalid for its algorithm.
    #[error("public key does not parse")]
    PublicKey,
    /// The private key is not a PKCS#8 key of a supported kind, or is invalid.
    /// No detail is given on purpose.
    #[error("private key does not parse")]
    PrivateKey,
    /// The key algorithm or curve is not RSA, P-256, P-384 or P-521.
    #[error("unsupported key algorithm {algorithm}")]
    UnsupportedKey {
        /// Dotted object identifier of the algorithm (or curve).
        algorithm: String,
    },
    /// The operation needs an RSA key (SUDI proofs) but the key is EC.
    #[error("an RSA key is required here")]
    RsaRequired,
    /// The RSA modulus is too short to hold `00 01`, eight `FF`, `00` and the
    /// hash (600 bits for SHA-512, 264 bits for SHA-1).
    #[error("RSA modulus of {modulus_bytes} bytes is too short for a {hash_bytes}-byte hash")]
    KeyTooSmall {
        /// Modulus length in bytes.
        modulus_bytes: usize,
        /// Hash length in bytes.
        hash_bytes: usize,
    },
    /// The digest given to [`ProofKey::sign_digest`] has the wrong length.
    #[error("digest of {actual} bytes given where {expected} were expected")]
    DigestLength {
        /// Length of the chosen hash.
        expected: usize,
        /// Length given.
        actual: usize,
    },
    /// An RSA proof is not exactly as long as the modulus.
    #[error("RSA proof of {actual} bytes, the modulus has {expected}")]
    ProofLength {
        /// Modulus length in bytes.
        expected: usize,
        /// Proof length.
        actual: usize,
    },
    /// An EC proof is not a DER `SEQUENCE { r, s }` of valid scalars.
    #[error("EC proof is not a DER ECDSA signature")]
    MalformedSignature,
    /// The proof does not verify (wrong key, wrong message, tampered block or
    /// padding).
    #[error("proof does not verify")]
    Mismatch,
    /// The signing operation itself failed (a keystore error, for instance).
    #[error("signing failed")]
    Signing,
}

/// The hash of a proof: SHA-1 (SIGNED_DATA, SUDI block 2) or SHA-512
/// (SHA2_SIGNED_DATA, SUDI block 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProofHash {
    /// SHA-1, 20 bytes, hash id 1.
    Sha1,
    /// SHA-512, 64 bytes, hash id 3.
    Sha512,
}

impl ProofHash {
    /// Hash id on the wire (spec 7.6): 1 for SHA-1, 3 for SHA-512.
    pub fn hash_id(self) -> u8 {
        match self {
            ProofHash::Sha1 => 1,
            ProofHash::Sha512 => 3,
        }
    }

    /// The hash for a wire hash id; `None` for ids no proof uses (2 =
    /// SHA-256 is defined by the table but never used for proofs).
    ///
    /// ```
    /// use capf_core::capf::proof::ProofHash;
    /// assert_eq!(ProofHash::from_hash_id(3), Some(ProofHash::Sha512));
    /// assert_eq!(ProofHash::from_hash_id(2), None);
    /// ```
    pub fn from_hash_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(ProofHash::Sha1),
            3 => Some(ProofHash::Sha512),
            _ => None,
        }
    }

    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            ProofHash::Sha1 => 20,
            ProofHash::Sha512 => 64,
        }
    }

    /// Hash `message`.
    pub fn digest(self, message: &[u8]) -> Vec<u8> {
        match self {
            ProofHash::Sha1 => Sha1::digest(message).to_vec(),
            ProofHash::Sha512 => Sha512::digest(message).to_vec(),
        }
    }
}

/// What kind of key makes (or checks) a proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProofKeyKind {
    /// RSA with a modulus of this many bytes.
    Rsa {
        /// Modulus length in bytes (256 for RSA-2048).
        modulus_bytes: usize,
    },
    /// ECDSA on this curve (never [`Curve::Unknown`]: only P-256, P-384
    /// and P-521 keys are loaded).
    Ec(Curve),
}

/// M1, the message of SIGNED_DATA and SHA2_SIGNED_DATA: the device name bytes
/// (without a NUL of their own), one `0x00`, then the DER of exactly the
/// certificate sent in the CERTIFICATE element (not the 5-byte wrapper, not a
/// re-encoding).
///
/// The name is taken as given; a name that itself contains a NUL makes an
/// ambiguous message, and such names cannot travel in a DEVICE_NAME element
/// anyway.
pub fn signed_data_message(device_name: &str, certificate_der: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(
        device_name
            .len()
            .saturating_add(1)
            .saturating_add(certificate_der.len()),
    );
    m.extend_from_slice(device_name.as_bytes());
    m.push(0);
    m.extend_from_slice(certificate_der);
    m
}

/// M2, the message of the SUDI_DATA proofs: the session id of the current
/// connection as 4 bytes **little-endian** (unlike every header field), then
/// the DER of the SUDI certificate.
pub fn sudi_message(session_id: u32, sudi_certificate_der: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(sudi_certificate_der.len().saturating_add(4));
    m.extend_from_slice(&session_id.to_le_bytes());
    m.extend_from_slice(sudi_certificate_der);
    m
}

/// The PKCS#1 type-1 block `00 01 FF…FF 00 ‖ digest` of `modulus_bytes`
/// bytes, with at least [`MIN_PADDING_BYTES`] `FF` bytes.
///
/// ```
/// use capf_core::capf::proof::type1_block;
/// let block = type1_block(&[0xAB; 20], 128).unwrap();
/// assert_eq!(&block[..2], &[0x00, 0x01]);
/// assert_eq!(block.iter().filter(|b| **b == 0xFF).count(), 105);
/// assert_eq!(block[107], 0x00);
/// ```
pub fn type1_block(digest: &[u8], modulus_bytes: usize) -> Result<Vec<u8>, ProofError> {
    let too_small = ProofError::KeyTooSmall {
        modulus_bytes,
        hash_bytes: digest.len(),
    };
    let padding = modulus_bytes
        .checked_sub(3)
        .and_then(|n| n.checked_sub(digest.len()))
        .ok_or(too_small)?;
    if padding < MIN_PADDING_BYTES {
        return Err(ProofError::KeyTooSmall {
            modulus_bytes,
            hash_bytes: digest.len(),
        });
    }
    let mut block = Vec::with_capacity(modulus_bytes);
    block.extend_from_slice(&[0x00, 0x01]);
    block.resize(padding.saturating_add(2), 0xFF);
    block.push(0x00);
    block.extend_from_slice(digest);
    Ok(block)
}

/// A private key that can make CAPF proofs.
///
/// The local implementation is [`ProofPrivateKey`]; a hardware keystore can
/// implement this trait instead. The input is the **digest**, which is what
/// keystores expose ("NONEwithRSA" with PKCS#1 padding, "NONEwithECDSA").
pub trait ProofKey {
    /// The key's kind (RSA modulus size, or curve).
    fn kind(&self) -> ProofKeyKind;

    /// Sign `digest`, the `hash` of the message: for RSA, the type-1 block
    /// around the bare digest raised to the private exponent, exactly
    /// `modulus_bytes` long; for EC, the DER ECDSA signature of the digest.
    ///
    /// `rng` is for side-channel blinding only; the RSA result does not depend
    /// on it.
    fn sign_digest(
        &self,
        hash: ProofHash,
        digest: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Vec<u8>, ProofError>;
}

/// A private key held in memory: RSA or ECDSA on P-256, P-384 or P-521.
#[non_exhaustive]
pub enum ProofPrivateKey {
    /// RSA.
    Rsa(Box<RsaPrivateKey>),
    /// ECDSA on P-256.
    P256(p256::ecdsa::SigningKey),
    /// ECDSA on P-384.
    P384(p384::ecdsa::SigningKey),
    /// ECDSA on P-521.
    P521(p521::ecdsa::SigningKey),
}

impl core::fmt::Debug for ProofPrivateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print key material.
        write!(f, "ProofPrivateKey({:?})", self.kind())
    }
}

impl ProofPrivateKey {
    /// Load an unencrypted PKCS#8 private key (DER), RSA or EC.
    pub fn from_pkcs8_der(der_bytes: &[u8]) -> Result<Self, ProofError> {
        let info =
            rsa::pkcs8::PrivateKeyInfo::try_from(der_bytes).map_err(|_| ProofError::PrivateKey)?;
        let oid = info.algorithm.oid;
        if oid == OID_RSA_ENCRYPTION {
            let key =
                RsaPrivateKey::from_pkcs8_der(der_bytes).map_err(|_| ProofError::PrivateKey)?;
            return Ok(ProofPrivateKey::Rsa(Box::new(key)));
        }
        if oid != OID_EC_PUBLIC_KEY {
            return Err(ProofError::UnsupportedKey {
                algorithm: oid.to_string(),
            });
        }
        let curve = info
            .algorithm
            .parameters_oid()
            .map_err(|_| ProofError::PrivateKey)?;
        match curve_from_oid(curve)? {
            Curve::P256 => p256::ecdsa::SigningKey::from_pkcs8_der(der_bytes)
                .map(ProofPrivateKey::P256)
                .map_err(|_| ProofError::PrivateKey),
            Curve::P384 => p384::ecdsa::SigningKey::from_pkcs8_der(der_bytes)
                .map(ProofPrivateKey::P384)
                .map_err(|_| ProofError::PrivateKey),
            Curve::P521 => {
                let secret = p521::SecretKey::from_pkcs8_der(der_bytes)
                    .map_err(|_| ProofError::PrivateKey)?;
                p521::ecdsa::SigningKey::from_bytes(&secret.to_bytes())
                    .map(ProofPrivateKey::P521)
                    .map_err(|_| ProofError::PrivateKey)
            }
            other => Err(ProofError::UnsupportedKey {
                algorithm: format!("{other:?}"),
            }),
        }
    }

    /// Load an unencrypted PKCS#8 private key from PEM (`PRIVATE KEY`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, ProofError> {
        let (label, der_bytes) =
            der::pem::decode_vec(pem.as_bytes()).map_err(|_| ProofError::PrivateKey)?;
        if label != "PRIVATE KEY" {
            return Err(ProofError::PrivateKey);
        }
        Self::from_pkcs8_der(&der_bytes)
    }

    /// The matching public key.
    pub fn public_key(&self) -> ProofPublicKey {
        match self {
            ProofPrivateKey::Rsa(k) => ProofPublicKey::Rsa(k.to_public_key()),
            ProofPrivateKey::P256(k) => ProofPublicKey::P256(*k.verifying_key()),
            ProofPrivateKey::P384(k) => ProofPublicKey::P384(*k.verifying_key()),
            ProofPrivateKey::P521(k) => ProofPublicKey::P521(p521::ecdsa::VerifyingKey::from(k)),
        }
    }
}

impl ProofKey for ProofPrivateKey {
    fn kind(&self) -> ProofKeyKind {
        match self {
            ProofPrivateKey::Rsa(k) => ProofKeyKind::Rsa {
                modulus_bytes: k.size(),
            },
            ProofPrivateKey::P256(_) => ProofKeyKind::Ec(Curve::P256),
            ProofPrivateKey::P384(_) => ProofKeyKind::Ec(Curve::P384),
            ProofPrivateKey::P521(_) => ProofKeyKind::Ec(Curve::P521),
        }
    }

    fn sign_digest(
        &self,
        hash: ProofHash,
        digest: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Vec<u8>, ProofError> {
        check_digest_len(hash, digest)?;
        use p256::ecdsa::signature::hazmat::PrehashSigner;
        match self {
            ProofPrivateKey::Rsa(k) => {
                // Fail with a clear error before the library does.
                type1_block(digest, k.size())?;
                let mut rng = rng;
                k.sign_with_rng(&mut rng, Pkcs1v15Sign::new_unprefixed(), digest)
                    .map_err(|_| ProofError::Signing)
            }
            ProofPrivateKey::P256(k) => {
                let z = field_digest(P256_FIELD_BYTES, digest);
                let sig: p256::ecdsa::Signature =
                    k.sign_prehash(&z).map_err(|_| ProofError::Signing)?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            ProofPrivateKey::P384(k) => {
                let z = field_digest(P384_FIELD_BYTES, digest);
                let sig: p384::ecdsa::Signature =
                    k.sign_prehash(&z).map_err(|_| ProofError::Signing)?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            ProofPrivateKey::P521(k) => {
                let z = field_digest(P521_FIELD_BYTES, digest);
                let sig: p521::ecdsa::Signature =
                    k.sign_prehash(&z).map_err(|_| ProofError::Signing)?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
        }
    }
}

/// A public key that checks CAPF proofs, taken from a certificate or an SPKI.
#[derive(Clone)]
#[non_exhaustive]
pub enum ProofPublicKey {
    /// RSA.
    Rsa(RsaPublicKey),
    /// ECDSA on P-256.
    P256(p256::ecdsa::VerifyingKey),
    /// ECDSA on P-384.
    P384(p384::ecdsa::VerifyingKey),
    /// ECDSA on P-521.
    P521(p521::ecdsa::VerifyingKey),
}

impl core::fmt::Debug for ProofPublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ProofPublicKey({:?})", self.kind())
    }
}

impl ProofPublicKey {
    /// The public key of a DER X.509 certificate.
    pub fn from_certificate_der(certificate_der: &[u8]) -> Result<Self, ProofError> {
        let cert =
            x509_cert::Certificate::from_der(certificate_der).map_err(ProofError::Certificate)?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(ProofError::Certificate)?;
        Self::from_spki_der(&spki)
    }

    /// A DER `SubjectPublicKeyInfo`: RSA, or EC on P-256, P-384 or P-521.
    pub fn from_spki_der(spki_der: &[u8]) -> Result<Self, ProofError> {
        let spki =
            spki::SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|_| ProofError::PublicKey)?;
        let oid = spki.algorithm.oid;
        if oid == OID_RSA_ENCRYPTION {
            return RsaPublicKey::from_public_key_der(spki_der)
                .map(ProofPublicKey::Rsa)
                .map_err(|_| ProofError::PublicKey);
        }
        if oid != OID_EC_PUBLIC_KEY {
            return Err(ProofError::UnsupportedKey {
                algorithm: oid.to_string(),
            });
        }
        let curve = spki
            .algorithm
            .parameters_oid()
            .map_err(|_| ProofError::PublicKey)?;
        let point = spki
            .subject_public_key
            .as_bytes()
            .ok_or(ProofError::PublicKey)?;
        match curve_from_oid(curve)? {
            Curve::P256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map(ProofPublicKey::P256)
                .map_err(|_| ProofError::PublicKey),
            Curve::P384 => p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map(ProofPublicKey::P384)
                .map_err(|_| ProofError::PublicKey),
            Curve::P521 => p521::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map(ProofPublicKey::P521)
                .map_err(|_| ProofError::PublicKey),
            other => Err(ProofError::UnsupportedKey {
                algorithm: format!("{other:?}"),
            }),
        }
    }

    /// The key's kind.
    pub fn kind(&self) -> ProofKeyKind {
        match self {
            ProofPublicKey::Rsa(k) => ProofKeyKind::Rsa {
                modulus_bytes: k.size(),
            },
            ProofPublicKey::P256(_) => ProofKeyKind::Ec(Curve::P256),
            ProofPublicKey::P384(_) => ProofKeyKind::Ec(Curve::P384),
            ProofPublicKey::P521(_) => ProofKeyKind::Ec(Curve::P521),
        }
    }

    /// Check `proof` over `message` hashed with `hash`.
    ///
    /// RSA: the proof must be exactly as long as the modulus and below it;
    /// `proof^e mod n` must equal the whole block `00 01 FF…FF 00 ‖ H` (at
    /// least eight `FF`), compared in constant time. EC: DER ECDSA.
    pub fn verify(&self, hash: ProofHash, message: &[u8], proof: &[u8]) -> Result<(), ProofError> {
        self.verify_digest(hash, &hash.digest(message), proof)
    }

    /// As [`verify`](Self::verify), given the digest instead of the message.
    pub fn verify_digest(
        &self,
        hash: ProofHash,
        digest: &[u8],
        proof: &[u8],
    ) -> Result<(), ProofError> {
        check_digest_len(hash, digest)?;
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        match self {
            ProofPublicKey::Rsa(k) => verify_rsa_block(k, digest, proof),
            ProofPublicKey::P256(k) => {
                let sig = p256::ecdsa::Signature::from_der(proof)
                    .map_err(|_| ProofError::MalformedSignature)?;
                k.verify_prehash(&field_digest(P256_FIELD_BYTES, digest), &sig)
                    .map_err(|_| ProofError::Mismatch)
            }
            ProofPublicKey::P384(k) => {
                let sig = p384::ecdsa::Signature::from_der(proof)
                    .map_err(|_| ProofError::MalformedSignature)?;
                k.verify_prehash(&field_digest(P384_FIELD_BYTES, digest), &sig)
                    .map_err(|_| ProofError::Mismatch)
            }
            ProofPublicKey::P521(k) => {
                let sig = p521::ecdsa::Signature::from_der(proof)
                    .map_err(|_| ProofError::MalformedSignature)?;
                k.verify_prehash(&field_digest(P521_FIELD_BYTES, digest), &sig)
                    .map_err(|_| ProofError::Mismatch)
            }
        }
    }
}

/// Phone side: sign M1 for SIGNED_DATA ([`ProofHash::Sha1`]) or
/// SHA2_SIGNED_DATA ([`ProofHash::Sha512`]) with the key of the certificate
/// being sent.
pub fn sign_certificate_proof(
    key: &dyn ProofKey,
    hash: ProofHash,
    device_name: &str,
    certificate_der: &[u8],
    rng: &mut dyn CryptoRngCore,
) -> Result<Vec<u8>, ProofError> {
    let message = signed_data_message(device_name, certificate_der);
    key.sign_digest(hash, &hash.digest(&message), rng)
}

/// Phone side: sign M2 for a SUDI_DATA block. Only RSA SUDI keys are defined
/// (spec 9.5); an EC key gives [`ProofError::RsaRequired`].
pub fn sign_sudi_proof(
    key: &dyn ProofKey,
    hash: ProofHash,
    session_id: u32,
    sudi_certificate_der: &[u8],
    rng: &mut dyn CryptoRngCore,
) -> Result<Vec<u8>, ProofError> {
    if !matches!(key.kind(), ProofKeyKind::Rsa { .. }) {
        return Err(ProofError::RsaRequired);
    }
    let message = sudi_message(session_id, sudi_certificate_der);
    key.sign_digest(hash, &hash.digest(&message), rng)
}

/// Server side: check a SIGNED_DATA / SHA2_SIGNED_DATA proof against the
/// certificate the phone sent (`certificate_der`, the exact DER inside the
/// CERTIFICATE wrapper) and the device name it claimed.
///
/// This checks the proof only; whether the certificate is trusted, current
/// and names this device is the caller's business (spec 9.6).
pub fn verify_certificate_proof(
    certificate_der: &[u8],
    hash: ProofHash,
    device_name: &str,
    proof: &[u8],
) -> Result<(), ProofError> {
    let key = ProofPublicKey::from_certificate_der(certificate_der)?;
    key.verify(
        hash,
        &signed_data_message(device_name, certificate_der),
        proof,
    )
}

/// Server side: check a SUDI_DATA proof made over the session id of this
/// connection. A non-RSA SUDI certificate is rejected
/// ([`ProofError::RsaRequired`]) rather than skipped, as spec 9.5 advises.
pub fn verify_sudi_proof(
    sudi_certificate_der: &[u8],
    hash: ProofHash,
    session_id: u32,
    proof: &[u8],
) -> Result<(), ProofError> {
    let key = ProofPublicKey::from_certificate_der(sudi_certificate_der)?;
    if !matches!(key, ProofPublicKey::Rsa(_)) {
        return Err(ProofError::RsaRequired);
    }
    key.verify(hash, &sudi_message(session_id, sudi_certificate_der), proof)
}

fn check_digest_len(hash: ProofHash, digest: &[u8]) -> Result<(), ProofError> {
    if digest.len() == hash.output_len() {
        Ok(())
    } else {
        Err(ProofError::DigestLength {
            expected: hash.output_len(),
            actual: digest.len(),
        })
    }
}

/// Field element lengths in bytes.
pub(crate) const P256_FIELD_BYTES: usize = 32;
pub(crate) const P384_FIELD_BYTES: usize = 48;
pub(crate) const P521_FIELD_BYTES: usize = 66;

/// The curve of a named-curve OID; only the three CAPF curves (spec 7.5).
fn curve_from_oid(oid: der::oid::ObjectIdentifier) -> Result<Curve, ProofError> {
    if oid == OID_P256 {
        Ok(Curve::P256)
    } else if oid == OID_P384 {
        Ok(Curve::P384)
    } else if oid == OID_P521 {
        Ok(Curve::P521)
    } else {
        Err(ProofError::UnsupportedKey {
            algorithm: oid.to_string(),
        })
    }
}

/// The digest as ECDSA reads it: a hash shorter than the field is the same
/// integer left-padded with zeros (the RustCrypto prehash API refuses hashes
/// shorter than half the field, e.g. SHA-1 on P-384); a longer one is left
/// as is and truncated to its leftmost bits by the library.
pub(crate) fn field_digest(field: usize, digest: &[u8]) -> Vec<u8> {
    match field.checked_sub(digest.len()) {
        Some(pad) if pad > 0 => {
            let mut z = vec![0u8; pad];
            z.extend_from_slice(digest);
            z
        }
        _ => digest.to_vec(),
    }
}

/// RSA public operation, then a whole-block constant-time comparison.
fn verify_rsa_block(key: &RsaPublicKey, digest: &[u8], proof: &[u8]) -> Result<(), ProofError> {
    let k = key.size();
    let expected = type1_block(digest, k)?;
    if proof.len() != k {
        return Err(ProofError::ProofLength {
            expected: k,
            actual: proof.len(),
        });
    }
    let s = BigUint::from_bytes_be(proof);
    if &s >= key.n() {
        return Err(ProofError::Mismatch);
    }
    let m = s.modpow(key.e(), key.n()).to_bytes_be();
    // Left-pad m to k bytes (m < n, so it has at most k bytes).
    let pad = k.checked_sub(m.len()).ok_or(ProofError::Mismatch)?;
    let mut block = vec![0u8; pad];
    block.extend_from_slice(&m);
    if bool::from(block.ct_eq(&expected)) {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sudi_prefix_is_little_endian() {
        // Spec 9.5 examples.
        assert_eq!(&sudi_message(257, b"")[..], &[0x01, 0x01, 0x00, 0x00]);
        assert_eq!(
            &sudi_message(0x1234_5678, b"")[..],
            &[0x78, 0x56, 0x34, 0x12]
        );
    }

    #[test]
    fn m1_has_exactly_one_nul() {
        assert_eq!(
            signed_data_message("SEP1", b"\x30\x00"),
            b"SEP1\x00\x30\x00"
        );
    }

    #[test]
    fn padding_counts_match_spec() {
        // Spec 9.3: 233/189 FF bytes for 2048 bits, 105/61 for 1024 bits.
        for (k, h, ff) in [
            (256, 20, 233),
            (256, 64, 189),
            (128, 20, 105),
            (128, 64, 61),
        ] {
            let b = type1_block(&vec![0u8; h], k).unwrap();
            assert_eq!(b.len(), k);
            assert_eq!(b.iter().filter(|x| **x == 0xFF).count(), ff);
        }
    }

    #[test]
    fn sha512_needs_600_bit_keys() {
        // 75 bytes is the minimum for SHA-512 (spec 9.3); 64 bytes (512-bit key) fails.
        assert!(type1_block(&[0u8; 64], 75).is_ok());
        assert!(matches!(
            type1_block(&[0u8; 64], 74),
            Err(ProofError::KeyTooSmall { .. })
        ));
        assert!(type1_block(&[0u8; 64], 64).is_err());
        assert!(type1_block(&[0u8; 20], 0).is_err());
    }

    #[test]
    fn hash_ids() {
        assert_eq!(ProofHash::Sha1.hash_id(), 1);
        assert_eq!(ProofHash::Sha512.hash_id(), 3);
        assert_eq!(ProofHash::from_hash_id(1), Some(ProofHash::Sha1));
        assert_eq!(ProofHash::from_hash_id(0), None);
    }

    #[test]
    fn ec_round_trips_on_every_curve_and_hash() {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0x5052);
        let keys = [
            ProofPrivateKey::P256(p256::ecdsa::SigningKey::random(&mut rng)),
            ProofPrivateKey::P384(p384::ecdsa::SigningKey::random(&mut rng)),
            ProofPrivateKey::P521(p521::ecdsa::SigningKey::random(&mut rng)),
        ];
        for key in &keys {
            for hash in [ProofHash::Sha1, ProofHash::Sha512] {
                let proof = sign_certificate_proof(key, hash, "SEP001122334455", b"cert", &mut rng)
                    .unwrap();
                let public = key.public_key();
                public
                    .verify(
                        hash,
                        &signed_data_message("SEP001122334455", b"cert"),
                        &proof,
                    )
                    .unwrap();
                // Another device name must fail.
                assert!(matches!(
                    public.verify(
                        hash,
                        &signed_data_message("SEP001122334466", b"cert"),
                        &proof
                    ),
                    Err(ProofError::Mismatch)
                ));
                // DER SEQUENCE { r, s }.
                assert_eq!(proof.first(), Some(&0x30));
            }
        }
    }

    #[test]
    fn ec_key_cannot_make_sudi_proof() {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0x5052);
        let key = ProofPrivateKey::P256(p256::ecdsa::SigningKey::random(&mut rng));
        assert!(matches!(
            sign_sudi_proof(&key, ProofHash::Sha1, 1, b"x", &mut rng),
            Err(ProofError::RsaRequired)
        ));
    }

    #[test]
    fn wrong_digest_length_is_refused() {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0x5052);
        let key = ProofPrivateKey::P256(p256::ecdsa::SigningKey::random(&mut rng));
        assert!(matches!(
            key.sign_digest(ProofHash::Sha1, &[0u8; 32], &mut rng),
            Err(ProofError::DigestLength {
                expected: 20,
                actual: 32
            })
        ));
    }
}
