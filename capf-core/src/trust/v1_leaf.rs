//! **The one exception to "chain building uses a well-tested verifier"**
//! (DESIGN.md): the signature of an X.509 *version 1 leaf* checked outside
//! rustls-webpki, directly under one certificate of a trust store, for CAPF
//! authentication only.
//!
//! Lab PKIs make MICs and LSCs with `openssl x509 -req` without extensions,
//! which gives version 1 certificates, and the reference server accepts
//! such a leaf from a trusted issuer. rustls-webpki refuses every version 1
//! certificate but a trust anchor. The exception is kept one link long and
//! this module holds all of it:
//!
//! * only the *presented* certificate may be version 1, and only for
//!   [`super::Purpose::CapfAuthentication`] (the evaluator refuses it for
//!   every other purpose);
//! * its issuer must be a certificate of the store itself (no path is
//!   built through anything) and must be version 3: a version 1
//!   certificate has no basicConstraints, so it never acts as an issuer
//!   ([`is_version1`], used by the evaluator for anchors and
//!   intermediates too);
//! * names are compared as DER bytes (as webpki does), the signature
//!   algorithm identifier and the issuer's key algorithm are matched
//!   against the same algorithm list the evaluator gives webpki (SHA-1
//!   only on the MIC path), and the signature is verified by those
//!   algorithm objects (ring's, or [`super::sha1_rsa`]): no cryptography is
//!   written here, only the choice of key and algorithm;
//! * a CRL is applied to the leaf when its issuer name is the leaf's
//!   issuer and its own signature verifies the same way under that issuer.
//!
//! Everything else about the leaf (dates, keyUsage, the device name,
//! revocation by digest or serial) is judged by the evaluator exactly as
//! for a leaf of a built path.

use ctl_format::Certificate;
use der::{Decode, Encode, Header, Reader, SliceReader, Tag};
use rustls_pki_types::SignatureVerificationAlgorithm;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Version;
use x509_cert::crl::CertificateList;

/// Why a signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SignatureProblem {
    /// The signature algorithm is not among those accepted here (SHA-1
    /// outside the MIC path, an unknown algorithm), or it does not fit the
    /// issuer's key type.
    UnsupportedAlgorithm,
    /// The signature does not verify under the issuer's key (or the
    /// certificate's two signature algorithm fields disagree).
    Invalid,
}

/// Whether the certificate is X.509 version 1 (no extensions, so no
/// basicConstraints: never a CA).
pub(super) fn is_version1(certificate: &Certificate) -> bool {
    certificate.x509().tbs_certificate.version == Version::V1
}

/// [`is_version1`] on DER, without parsing the certificate: a version 1
/// certificate has no `[0] EXPLICIT` version field at the start of its
/// signed part (bytes that are no certificate are not version 1).
pub(super) fn is_version1_der(der: &[u8]) -> bool {
    let Some(signed) = first_element(der) else {
        return false;
    };
    let Ok(mut reader) = SliceReader::new(signed) else {
        return false;
    };
    let sequence = Header::decode(&mut reader).is_ok_and(|header| header.tag == Tag::Sequence);
    // 0xa0: context-specific, constructed, tag number 0.
    sequence && reader.peek_byte().is_some_and(|byte| byte != 0xa0)
}

/// Whether `issuer`'s subject is `certificate`'s issuer name, as DER bytes.
pub(super) fn names_issuer(issuer: &Certificate, certificate: &Certificate) -> bool {
    let subject = issuer.x509().tbs_certificate.subject.to_der();
    let named = certificate.x509().tbs_certificate.issuer.to_der();
    matches!((subject, named), (Ok(subject), Ok(named)) if subject == named)
}

/// Verifies the signature of the version 1 `leaf` under `issuer`'s key
/// with one of `algorithms`. The caller has checked that `issuer` is the
/// leaf's issuer by name ([`names_issuer`]) and is not version 1.
pub(super) fn verify_leaf_signature(
    leaf: &Certificate,
    issuer: &Certificate,
    algorithms: &[&dyn SignatureVerificationAlgorithm],
) -> Result<(), SignatureProblem> {
    let x509 = leaf.x509();
    // RFC 5280 4.1.1.2: the algorithm inside the signed part must be the
    // one outside it, or the signed part does not say what was signed.
    if x509.tbs_certificate.signature != x509.signature_algorithm {
        return Err(SignatureProblem::Invalid);
    }
    let signed = first_element(leaf.der()).ok_or(SignatureProblem::Invalid)?;
    let signature = x509.signature.as_bytes().ok_or(SignatureProblem::Invalid)?;
    verify_signed(
        algorithms,
        &issuer.x509().tbs_certificate.subject_public_key_info,
        &x509.signature_algorithm,
        signed,
        signature,
    )
}

/// Whether the DER CRL `crl_der` revokes `leaf`: the CRL names the leaf's
/// issuer, its signature verifies under `issuer` with one of `algorithms`,
/// and it lists the leaf's serial number. A CRL that does not parse, names
/// another issuer or does not verify says nothing about the leaf.
pub(super) fn crl_revokes(
    crl_der: &[u8],
    leaf: &Certificate,
    issuer: &Certificate,
    algorithms: &[&dyn SignatureVerificationAlgorithm],
) -> bool {
    let Ok(crl) = CertificateList::from_der(crl_der) else {
        return false;
    };
    let tbs = &crl.tbs_cert_list;
    if tbs.issuer != leaf.x509().tbs_certificate.issuer || tbs.signature != crl.signature_algorithm
    {
        return false;
    }
    let serial = &leaf.x509().tbs_certificate.serial_number;
    let listed = tbs
        .revoked_certificates
        .as_ref()
        .is_some_and(|revoked| revoked.iter().any(|entry| entry.serial_number == *serial));
    if !listed {
        return false;
    }
    let (Some(signed), Some(signature)) = (first_element(crl_der), crl.signature.as_bytes()) else {
        return false;
    };
    verify_signed(
        algorithms,
        &issuer.x509().tbs_certificate.subject_public_key_info,
        &crl.signature_algorithm,
        signed,
        signature,
    )
    .is_ok()
}

/// The signature over `signed` by the key `issuer_key`, with the one of
/// `algorithms` whose signature and key algorithm identifiers are those
/// given (compared as DER, as webpki compares them).
fn verify_signed(
    algorithms: &[&dyn SignatureVerificationAlgorithm],
    issuer_key: &SubjectPublicKeyInfoOwned,
    algorithm: &AlgorithmIdentifierOwned,
    signed: &[u8],
    signature: &[u8],
) -> Result<(), SignatureProblem> {
    let signature_id = identifier_contents(algorithm).ok_or(SignatureProblem::Invalid)?;
    let key_id = identifier_contents(&issuer_key.algorithm).ok_or(SignatureProblem::Invalid)?;
    let key = issuer_key
        .subject_public_key
        .as_bytes()
        .ok_or(SignatureProblem::Invalid)?;
    let mut outcome = Err(SignatureProblem::UnsupportedAlgorithm);
    for candidate in algorithms.iter().filter(|candidate| {
        candidate.signature_alg_id().as_ref() == signature_id.as_slice()
            && candidate.public_key_alg_id().as_ref() == key_id.as_slice()
    }) {
        if candidate.verify_signature(key, signed, signature).is_ok() {
            return Ok(());
        }
        outcome = Err(SignatureProblem::Invalid);
    }
    outcome
}

/// An AlgorithmIdentifier's contents (the OID and parameters, without the
/// SEQUENCE header): the form webpki's algorithm identifiers take.
fn identifier_contents(identifier: &AlgorithmIdentifierOwned) -> Option<Vec<u8>> {
    let mut contents = identifier.oid.to_der().ok()?;
    if let Some(parameters) = &identifier.parameters {
        contents.extend(parameters.to_der().ok()?);
    }
    Some(contents)
}

/// The first element of a DER SEQUENCE, exactly as encoded (the signed part
/// of a certificate or CRL: its signature covers these bytes, not a
/// re-encoding).
fn first_element(der: &[u8]) -> Option<&[u8]> {
    let mut reader = SliceReader::new(der).ok()?;
    let header = Header::decode(&mut reader).ok()?;
    if header.tag != Tag::Sequence {
        return None;
    }
    reader.tlv_bytes().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_element_is_the_raw_tbs() {
        // SEQUENCE { SEQUENCE { INTEGER 1 }, NULL }
        let der = [0x30, 0x07, 0x30, 0x03, 0x02, 0x01, 0x01, 0x05, 0x00];
        assert_eq!(first_element(&der), Some(&der[2..7]));
        assert_eq!(first_element(&[0x31, 0x00]), None);
        assert_eq!(first_element(b""), None);
    }

    #[test]
    fn version_1_is_told_from_der() {
        // SEQUENCE { SEQUENCE { INTEGER 1 (serial) ... } }: version 1.
        let v1 = [0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x01];
        assert!(is_version1_der(&v1));
        // SEQUENCE { SEQUENCE { [0] { INTEGER 2 } ... } }: version 3.
        let v3 = [0x30, 0x07, 0x30, 0x05, 0xa0, 0x03, 0x02, 0x01, 0x02];
        assert!(!is_version1_der(&v3));
        assert!(!is_version1_der(b"junk"));
        assert!(!is_version1_der(&[0x30, 0x02, 0x30, 0x00]));
    }
}
