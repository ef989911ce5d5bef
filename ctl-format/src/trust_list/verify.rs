//! Finding the signer of a trust list and checking its signature (spec
//! `tlv-files.md` section 8.4), and the rollover rule of section 10.

use super::{Record, Role, TrustList};
use crate::certificate::Certificate;
use crate::error::{Refusal, Result};
use crate::hash::{HashAlgorithm, HashPolicy};

/// The role-0 record that names the header's signer, and how well it
/// matches: its serial number always equals the header's (leading zeros
/// stripped); `issuer_matches` says whether its issuer-name string equals
/// the header's byte for byte too.
///
/// Only a full match ([`SignerMatch::is_full`]) is used to verify; a
/// serial-only match is what certutils accepts, and is reported so the
/// caller can say why verification refused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignerMatch {
    /// Index of the record in [`TrustList::records`].
    pub record_index: usize,
    /// Whether the record's issuer name (tag 5) equals the header's (tag 6).
    pub issuer_matches: bool,
}

impl SignerMatch {
    /// Whether serial number and issuer name both match (spec 8.4 step 3).
    pub fn is_full(&self) -> bool {
        self.issuer_matches
    }
}

/// Who signed a list whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSigner {
    /// Index of the signer's record in [`TrustList::records`].
    pub record_index: usize,
    /// The signer's certificate, when the record holds one (an eToken-style
    /// record without a certificate is verified with its public-key element).
    pub certificate: Option<Certificate>,
    /// The digest of the signature.
    pub hash_algorithm: HashAlgorithm,
}

/// How the signer of a new list was found in the list held before.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloverMatch {
    /// The previous list holds the very same certificate (same DER) as SAST.
    SameCertificate,
    /// The previous list holds a different certificate with the same public
    /// key as SAST (a re-issued certificate).
    SameKey,
}

/// A rollover the phone would accept: the new list verifies and its signer
/// is a SAST (role 0) of the previous list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollover {
    /// The signer of the new list.
    pub signer: VerifiedSigner,
    /// Index of the matching SAST record in the previous list.
    pub previous_record_index: usize,
    /// Whether it matched by certificate or only by key.
    pub matched_by: RolloverMatch,
}

impl TrustList<'_> {
    /// Finds the signer record (spec 8.4 step 3): the first role-0 record
    /// whose serial number and issuer-name string equal the header's; if
    /// none matches both, the first role-0 record with the serial alone
    /// (reported with `issuer_matches: false`). `None` when no role-0
    /// record has the header's serial number.
    pub fn find_signer(&self) -> Option<SignerMatch> {
        let header = self.header();
        let header_issuer = header.issuer_name.map(|name| name.as_bytes());
        let mut serial_only = None;
        for (record_index, record) in self.records().iter().enumerate() {
            if record.role() != Some(Role::Sast) || !record.has_serial(header.serial_number) {
                continue;
            }
            let issuer_matches = record.issuer_name().map(|name| name.as_bytes()) == header_issuer;
            let found = SignerMatch {
                record_index,
                issuer_matches,
            };
            if issuer_matches {
                return Some(found);
            }
            serial_only.get_or_insert(found);
        }
        serial_only
    }

    /// Checks the signature of `file` — the bytes this list was parsed
    /// from — with the key of the signer record (spec 8.4). This proves
    /// integrity only; whether the signer is *trusted* is the question of
    /// [`TrustList::verify_against`].
    ///
    /// Errors: [`Refusal::HashNotAllowed`] when `policy` refuses the digest,
    /// [`Refusal::SignerNotFound`] when no role-0 record has the header's
    /// serial, [`Refusal::SignerIssuerMismatch`] when one has the serial but
    /// not the issuer name, [`Refusal::SignerKeyUnusable`] when its key is not
    /// RSA, [`Refusal::SignatureInvalid`].
    pub fn verify(&self, file: &[u8], policy: HashPolicy) -> Result<VerifiedSigner> {
        let header = self.header();
        if !policy.allows(header.hash_algorithm) {
            return Err(Refusal::HashNotAllowed {
                algorithm: header.hash_algorithm,
            }
            .into());
        }
        let found = self.find_signer().ok_or(Refusal::SignerNotFound)?;
        if !found.is_full() {
            return Err(Refusal::SignerIssuerMismatch {
                record_index: found.record_index,
            }
            .into());
        }
        let record = self
            .records()
            .get(found.record_index)
            .ok_or(Refusal::SignerNotFound)?;
        let (key, certificate) = signer_key(record)?;
        header.verify(file, &key, policy)?;
        Ok(VerifiedSigner {
            record_index: found.record_index,
            certificate,
            hash_algorithm: header.hash_algorithm,
        })
    }

    /// The phone's view of a rollover (spec section 10): `file` (this list)
    /// must verify, and its signer must be held by `previous` with role
    /// SAST — the same certificate (DER), or failing that a certificate
    /// with the same public key. The hash policy applies to the new list.
    ///
    /// Errors: those of [`TrustList::verify`]; [`Refusal::SignerNotSastInPreviousList`]
    /// when the previous list holds the signer only with other roles;
    /// [`Refusal::SignerNotInPreviousList`] when it does not hold it at all.
    pub fn verify_against(
        &self,
        file: &[u8],
        previous: &TrustList<'_>,
        policy: HashPolicy,
    ) -> Result<Rollover> {
        let signer = self.verify(file, policy)?;
        let record = self
            .records()
            .get(signer.record_index)
            .ok_or(Refusal::SignerNotFound)?;
        let der = record.certificate_der();
        let key = record_key_bytes(record, signer.certificate.as_ref());
        let same_certificate = |held: &Record<'_>| der.is_some() && held.certificate_der() == der;
        let same_key = |held: &Record<'_>| {
            let held_certificate = held.certificate().ok().flatten();
            key.is_some() && record_key_bytes(held, held_certificate.as_ref()) == key
        };
        let sast = |held: &&Record<'_>| held.role() == Some(Role::Sast);
        let position = |test: &dyn Fn(&Record<'_>) -> bool| {
            previous
                .records()
                .iter()
                .enumerate()
                .filter(|(_, held)| sast(held))
                .find(|(_, held)| test(held))
                .map(|(index, _)| index)
        };
        let (previous_record_index, matched_by) =
            match (position(&same_certificate), position(&same_key)) {
                (Some(index), _) => (index, RolloverMatch::SameCertificate),
                (None, Some(index)) => (index, RolloverMatch::SameKey),
                (None, None) => {
                    let role_codes: Vec<u16> = previous
                        .records()
                        .iter()
                        .filter(|held| same_certificate(held) || same_key(held))
                        .filter_map(|held| held.role().map(Role::code))
                        .collect();
                    return Err(if role_codes.is_empty() {
                        Refusal::SignerNotInPreviousList.into()
                    } else {
                        Refusal::SignerNotSastInPreviousList { role_codes }.into()
                    });
                }
            };
        Ok(Rollover {
            signer,
            previous_record_index,
            matched_by,
        })
    }
}

/// The record's public key as the format stores it: from the certificate
/// when there is one, else the public-key element.
fn record_key_bytes(record: &Record<'_>, certificate: Option<&Certificate>) -> Option<Vec<u8>> {
    match certificate {
        Some(certificate) => Some(certificate.record_public_key().to_vec()),
        None => record.public_key().map(<[u8]>::to_vec),
    }
}

/// The RSA key to verify with: the certificate's, or the public-key element
/// of a record without a certificate.
fn signer_key(record: &Record<'_>) -> Result<(rsa::RsaPublicKey, Option<Certificate>)> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    match record.certificate()? {
        Some(certificate) => {
            let key = certificate
                .rsa_public_key()
                .map_err(|_| Refusal::SignerKeyUnusable)?;
            Ok((key, Some(certificate)))
        }
        None => {
            let element = record.public_key().ok_or(Refusal::SignerKeyUnusable)?;
            let key = rsa::RsaPublicKey::from_pkcs1_der(element)
                .map_err(|_| Refusal::SignerKeyUnusable)?;
            Ok((key, None))
        }
    }
}
