//! Who signs a file. The private key sits behind [`FileSigner`] so it can
//! live in an HSM, a remote signing service or another language; the crate
//! ships [`RsaFileSigner`] for keys held in memory.

use crate::error::Result;
use crate::hash::HashAlgorithm;
use crate::pem;
use rsa::RsaPrivateKey;
use rsa::traits::PublicKeyParts;

/// An error reported by a signer. Its text must not contain key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SigningError {
    /// What went wrong.
    pub message: String,
}

/// An RSA key that signs Cisco files: RSASSA-PKCS1-v1_5 with DigestInfo
/// over a digest computed by this crate.
///
/// ```
/// use ctl_format::{FileSigner, HashAlgorithm, SigningError};
/// /// A signer that forwards to a remote service (sketch).
/// struct Remote;
/// impl FileSigner for Remote {
///     fn signature_len(&self) -> usize { 256 }
///     fn sign_digest(&self, _: HashAlgorithm, _: &[u8]) -> Result<Vec<u8>, SigningError> {
///         Err(SigningError { message: "service unreachable".into() })
///     }
/// }
/// ```
pub trait FileSigner {
    /// Length of the signatures produced: the RSA modulus in bytes (64, 128,
    /// 256 or 512).
    fn signature_len(&self) -> usize;

    /// Signs `digest`, computed with `algorithm`, as RSASSA-PKCS1-v1_5 (the
    /// signer wraps it in the DigestInfo of `algorithm`). Returns exactly
    /// [`FileSigner::signature_len`] bytes.
    fn sign_digest(
        &self,
        algorithm: HashAlgorithm,
        digest: &[u8],
    ) -> core::result::Result<Vec<u8>, SigningError>;
}

/// A [`FileSigner`] over an RSA private key held in memory (with blinding).
///
/// The `rsa` crate carries advisory RUSTSEC-2023-0071 (a timing side channel
/// in private-key operations). File signing is an offline, administrator-run
/// operation, so it is accepted here; keep signing keys off shared hosts, or
/// implement [`FileSigner`] over an HSM.
pub struct RsaFileSigner {
    key: RsaPrivateKey,
}

impl RsaFileSigner {
    /// Wraps a key.
    pub fn new(key: RsaPrivateKey) -> Self {
        Self { key }
    }

    /// Reads the first RSA private key (PKCS #8 `PRIVATE KEY` or PKCS #1
    /// `RSA PRIVATE KEY`) from PEM text.
    pub fn from_pem(text: &str) -> Result<Self> {
        pem::rsa_private_key(text).map(Self::new)
    }

    /// The public half.
    pub fn public_key(&self) -> rsa::RsaPublicKey {
        self.key.to_public_key()
    }
}

impl core::fmt::Debug for RsaFileSigner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RsaFileSigner")
            .field("bits", &(self.key.size() * 8))
            .finish_non_exhaustive()
    }
}

impl FileSigner for RsaFileSigner {
    fn signature_len(&self) -> usize {
        self.key.size()
    }

    fn sign_digest(
        &self,
        algorithm: HashAlgorithm,
        digest: &[u8],
    ) -> core::result::Result<Vec<u8>, SigningError> {
        // The one place a core crate draws OS randomness: RSA blinding for
        // offline file signing (the signature itself is deterministic).
        #[allow(clippy::disallowed_types)]
        let mut rng: rand_core::OsRng = rand_core::OsRng;
        self.key
            .sign_with_rng(&mut rng, algorithm.pkcs1v15(), digest)
            .map_err(|error| SigningError {
                message: format!("RSA signing failed: {error}"),
            })
    }
}
