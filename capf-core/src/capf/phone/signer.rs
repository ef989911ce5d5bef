//! The in-memory signer of the phone's proofs, for tests, the CLI and
//! hosts without a platform keystore.

use core::fmt;

use rand_core::CryptoRngCore;

use super::credentials::{CredentialError, ProofCredential};
use super::outcome::PhoneDecision;
use super::session::PhoneSession;
use crate::capf::proof::{ProofError, ProofHash, ProofKey, ProofKeyKind, ProofPublicKey};

/// An in-memory signer for the phone's proofs: private keys held in this
/// process, for tests, the CLI and hosts without a keystore. It answers
/// [`PhoneDecision::SignProof`](super::PhoneDecision::SignProof) exactly as
/// the decision documents (RSA: raw PKCS#1 v1.5 type-1 over the bare digest,
/// no DigestInfo; EC: DER ECDSA over the digest).
///
/// RSA proofs are deterministic; `rng` is used for RSA blinding only (and
/// not at all by the RFC 6979 ECDSA signers).
pub struct SoftwareSigner {
    keys: Vec<(ProofCredential, Box<dyn ProofKey + Send>)>,
    rng: Box<dyn CryptoRngCore + Send>,
}

impl SoftwareSigner {
    /// A signer with no key yet; add them with [`with_key`](Self::with_key).
    pub fn new(rng: Box<dyn CryptoRngCore + Send>) -> Self {
        Self {
            keys: Vec::new(),
            rng,
        }
    }

    /// The private key of `credential`, checked against the certificate it
    /// signs for (same algorithm, size or curve). A key given again for the
    /// same credential replaces the first.
    pub fn with_key(
        mut self,
        credential: ProofCredential,
        certificate_der: &[u8],
        key: Box<dyn ProofKey + Send>,
    ) -> Result<Self, CredentialError> {
        let public = ProofPublicKey::from_certificate_der(certificate_der)
            .map_err(|_| CredentialError::BadCertificate)?;
        if public.kind() != key.kind() {
            return Err(CredentialError::KeyKindMismatch);
        }
        self.keys.retain(|(held, _)| *held != credential);
        self.keys.push((credential, key));
        Ok(self)
    }

    /// Signs `digest` (the `hash` of the proof's message) with the key of
    /// `credential`.
    pub fn sign(
        &mut self,
        credential: ProofCredential,
        hash: ProofHash,
        digest: &[u8],
    ) -> Result<Vec<u8>, ProofError> {
        let (_, key) = self
            .keys
            .iter()
            .find(|(held, _)| *held == credential)
            .ok_or(ProofError::Signing)?;
        if credential == ProofCredential::Sudi && !matches!(key.kind(), ProofKeyKind::Rsa { .. }) {
            return Err(ProofError::RsaRequired);
        }
        key.sign_digest(hash, digest, self.rng.as_mut())
    }

    /// Answers `decision` on `session` if it is a
    /// [`PhoneDecision::SignProof`](super::PhoneDecision::SignProof):
    /// the signature, or a refusal when this signer cannot make it. Returns
    /// `Ok(false)` (and does nothing) for any other decision.
    pub fn answer(
        &mut self,
        session: &mut PhoneSession,
        decision: &PhoneDecision,
    ) -> Result<bool, crate::session::SessionMisuse> {
        let PhoneDecision::SignProof {
            credential,
            hash,
            digest,
            ..
        } = decision
        else {
            return Ok(false);
        };
        match self.sign(*credential, *hash, digest) {
            Ok(signature) => session.answer_signature(signature)?,
            Err(_) => session.refuse_signature()?,
        }
        Ok(true)
    }
}

impl fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        let kinds: Vec<_> = self
            .keys
            .iter()
            .map(|(credential, key)| (*credential, key.kind()))
            .collect();
        f.debug_struct("SoftwareSigner")
            .field("keys", &kinds)
            .finish_non_exhaustive()
    }
}
