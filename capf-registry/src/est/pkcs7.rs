//! The body of an EST `/simpleenroll` answer (RFC 7030 section 4.2.3): a
//! base64 "certs-only" CMS SignedData (`application/pkcs7-mime;
//! smime-type=certs-only`), read with the `cms` crate, and the choice of
//! the one certificate that carries the phone's key.

use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::oid::ObjectIdentifier;
use der::{Decode, Encode};

/// id-signedData (RFC 5652 section 5.1).
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// id-data (RFC 5652 section 4).
#[cfg(test)]
const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");

/// Why a `/simpleenroll` body holds no usable certificate.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Pkcs7Error {
    /// Not base64 (nor a DER body).
    #[error("the PKCS#7 body is not base64")]
    Base64,
    /// Not a DER ContentInfo holding SignedData.
    #[error("the PKCS#7 body is not a CMS SignedData: {0}")]
    Structure(String),
    /// A SignedData without any certificate.
    #[error("the PKCS#7 answer holds no certificate")]
    NoCertificate,
    /// No certificate carries the phone's key.
    #[error("no certificate of the CA's answer carries the phone's public key")]
    KeyMismatch,
}

/// The certificates (DER) of a certs-only answer body: base64 as RFC 7030
/// says (line breaks and spaces ignored), or, from a CA that sends it
/// binary, DER as is.
pub fn certificates(body: &[u8]) -> Result<Vec<Vec<u8>>, Pkcs7Error> {
    let der = if body.first() == Some(&0x30) {
        body.to_vec()
    } else {
        let text: String = std::str::from_utf8(body)
            .map_err(|_| Pkcs7Error::Base64)?
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        <base64ct::Base64 as base64ct::Encoding>::decode_vec(&text)
            .map_err(|_| Pkcs7Error::Base64)?
    };
    let info = ContentInfo::from_der(&der).map_err(|e| Pkcs7Error::Structure(e.to_string()))?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(Pkcs7Error::Structure(format!(
            "content type {} is not signedData",
            info.content_type
        )));
    }
    let signed: SignedData = info
        .content
        .decode_as()
        .map_err(|e| Pkcs7Error::Structure(e.to_string()))?;
    let mut found = Vec::new();
    for choice in signed.certificates.iter().flat_map(|set| set.0.iter()) {
        if let cms::cert::CertificateChoices::Certificate(certificate) = choice {
            found.push(
                certificate
                    .to_der()
                    .map_err(|e| Pkcs7Error::Structure(e.to_string()))?,
            );
        }
    }
    if found.is_empty() {
        return Err(Pkcs7Error::NoCertificate);
    }
    Ok(found)
}

/// The one certificate of `certificates` whose SubjectPublicKeyInfo is
/// byte for byte `subject_public_key_info_der` (the CA may add its own
/// chain to the answer).
pub fn certificate_for_key(
    certificates: &[Vec<u8>],
    subject_public_key_info_der: &[u8],
) -> Result<Vec<u8>, Pkcs7Error> {
    certificates
        .iter()
        .find(|der| {
            x509_cert::Certificate::from_der(der)
                .ok()
                .and_then(|c| c.tbs_certificate.subject_public_key_info.to_der().ok())
                .is_some_and(|spki| spki == subject_public_key_info_der)
        })
        .cloned()
        .ok_or(Pkcs7Error::KeyMismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate of a fresh key, and that key's SPKI.
    fn certificate(name: &str) -> (Vec<u8>, Vec<u8>) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        let certificate = params.self_signed(&key).unwrap();
        (
            certificate.der().to_vec(),
            rcgen::PublicKeyData::subject_public_key_info(&key),
        )
    }

    /// A certs-only ContentInfo of `certificates`, built with the cms
    /// crate's own conversion (an independent builder of the same form).
    fn certs_only(certificates: &[Vec<u8>]) -> Vec<u8> {
        let path: Vec<x509_cert::Certificate> = certificates
            .iter()
            .map(|der| x509_cert::Certificate::from_der(der).unwrap())
            .collect();
        ContentInfo::try_from(path).unwrap().to_der().unwrap()
    }

    fn base64_lines(der: &[u8]) -> Vec<u8> {
        let text = <base64ct::Base64 as base64ct::Encoding>::encode_string(der);
        let lines: Vec<&str> = text
            .as_bytes()
            .chunks(64)
            .map(|chunk| std::str::from_utf8(chunk).unwrap())
            .collect();
        format!("{}\r\n", lines.join("\r\n")).into_bytes()
    }

    #[test]
    fn the_certificate_for_the_key_is_picked_from_a_chain() {
        let (lsc, lsc_key) = certificate("lsc");
        let (ca, ca_key) = certificate("ca");
        let body = base64_lines(&certs_only(&[ca.clone(), lsc.clone()]));
        let found = certificates(&body).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(certificate_for_key(&found, &lsc_key).unwrap(), lsc);
        assert_eq!(certificate_for_key(&found, &ca_key).unwrap(), ca);
        let (_, other_key) = certificate("other");
        assert_eq!(
            certificate_for_key(&found, &other_key),
            Err(Pkcs7Error::KeyMismatch)
        );
        // A binary (DER) body is read as well.
        assert_eq!(
            certificates(&certs_only(std::slice::from_ref(&lsc))).unwrap(),
            vec![lsc]
        );
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        let (lsc, _) = certificate("lsc");
        let good = certs_only(&[lsc]);
        assert_eq!(certificates(b"!!!not base64"), Err(Pkcs7Error::Base64));
        assert_eq!(certificates(&[0xff, 0xfe]), Err(Pkcs7Error::Base64));
        assert!(matches!(certificates(b""), Err(Pkcs7Error::Structure(_))));
        // Every truncation of a good body, as DER and as base64.
        for cut in 0..good.len() {
            assert!(certificates(&good[..cut]).is_err(), "{cut}");
            let _ = certificates(&base64_lines(&good[..cut]));
        }
        // Every single-byte corruption: an error or a parse, never a panic.
        for index in 0..good.len() {
            let mut bad = good.clone();
            bad[index] ^= 0x5a;
            let _ = certificates(&bad);
        }
        // Data instead of signedData.
        let data = ContentInfo {
            content_type: ID_DATA,
            content: der::Any::from(der::asn1::OctetStringRef::new(b"x").unwrap()),
        }
        .to_der()
        .unwrap();
        assert!(matches!(certificates(&data), Err(Pkcs7Error::Structure(_))));
        // A SignedData without certificates.
        let empty = SignedData {
            version: cms::content_info::CmsVersion::V1,
            digest_algorithms: Default::default(),
            encap_content_info: cms::signed_data::EncapsulatedContentInfo {
                econtent_type: ID_DATA,
                econtent: None,
            },
            certificates: None,
            crls: None,
            signer_infos: cms::signed_data::SignerInfos(Default::default()),
        }
        .to_der()
        .unwrap();
        let info = ContentInfo {
            content_type: ID_SIGNED_DATA,
            content: der::Any::from_der(&empty).unwrap(),
        }
        .to_der()
        .unwrap();
        assert_eq!(certificates(&info), Err(Pkcs7Error::NoCertificate));
    }
}
