//! LSC issuance (spec section 12): certify the public key a phone generated,
//! from its `SubjectPublicKeyInfo` alone.
//!
//! [`CertificateAuthority`] is what a CAPF server needs; [`LscIssuer`] is the
//! local implementation (an issuing certificate and its private key, signing
//! with ring through rcgen). A host can plug an external CA instead.
//!
//! Profile of an issued LSC:
//!
//! | field | value |
//! | --- | --- |
//! | version | v3 |
//! | serial | 16 random bytes from the injected RNG, top bit cleared and the next one set (positive, always 16 content bytes, 126 random bits) |
//! | signature | sha256WithRSAEncryption for an RSA issuer, ecdsa-with-SHA256 for a P-256 issuer, **ecdsa-with-SHA384** for a P-384 issuer (ring signs P-384 only with SHA-384); P-521 issuers are not supported by ring |
//! | issuer | the issuing certificate's **subject**, byte for byte (so the chain verifies also for an intermediate issuer) |
//! | subject | CN = device name (UTF8String), then the issuer subject's O, OU, L, ST and C attributes in their order there, with their string types; others dropped |
//! | validity | notBefore = `now` in whole seconds (X.509 times have no fraction: milliseconds are dropped), notAfter = notBefore + days × 86 400 s, days in 1..=3650 |
//! | public key | the phone's SPKI, byte for byte |
//! | subjectAltName | non-critical, one URI: the bare device name |
//! | keyUsage | critical, digitalSignature + keyEncipherment |
//! | extendedKeyUsage | non-critical, serverAuth, clientAuth, 1.3.6.1.5.5.7.3.5 (IPsec end system) |
//! | basicConstraints | critical, CA:FALSE |
//! | others | none (no key identifiers) |
//!
//! ```
//! use capf_core::issuance::{CertificateAuthority, LscIssuer, LscRequest};
//! use capf_core::time::Timestamp;
//! use rcgen::PublicKeyData;
//!
//! // A throw-away P-256 CA made with rcgen (a real one comes from a file).
//! let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
//! let mut ca = rcgen::CertificateParams::default();
//! ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
//! let ca_cert = ca.self_signed(&ca_key).unwrap();
//! let issuer = LscIssuer::new(ca_cert.der(), &ca_key.serialize_der()).unwrap();
//!
//! let phone_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
//! let spki = phone_key.subject_public_key_info();
//! let request = LscRequest {
//!     device_name: "SEP001122334455",
//!     subject_public_key_info_der: &spki,
//!     validity_days: 365,
//! };
//! let now = Timestamp::from_unix_millis(1_700_000_000_250);
//! let lsc = issuer.issue(&request, now, &mut rand::thread_rng()).unwrap();
//! // X.509 validity is whole seconds: the 250 ms are dropped.
//! assert_eq!(lsc.not_before, Timestamp::from_unix_seconds(1_700_000_000));
//! assert_eq!(lsc.not_after, lsc.not_before.plus_seconds(365 * 86_400));
//! ```

use der::asn1::AnyRef;
use der::{Decode, Encode, Reader, SliceReader, Tag, Tagged};
use rand_core::CryptoRngCore;
use rcgen::string::{BmpString, Ia5String, PrintableString, TeletexString};
use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SignatureAlgorithm,
};

use crate::proof::{ProofKeyKind, ProofPublicKey};
use crate::time::Timestamp;
use crate::wire::Curve;

/// Shortest validity accepted, in days.
pub const MIN_VALIDITY_DAYS: u32 = 1;
/// Longest validity accepted, in days (ten years; the reference's 3560 looks
/// like a typo for this).
pub const MAX_VALIDITY_DAYS: u32 = 3650;
pub use crate::device_name::MAX_DEVICE_NAME_LEN;

/// 9999-12-31T23:59:59Z, the last instant an X.509 time can express.
const LAST_X509_SECOND: u64 = 253_402_300_799;
const SECONDS_PER_DAY: u64 = 86_400;

/// OID arcs of basicConstraints (2.5.29.19).
const OID_BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
/// OID arcs of id-kp-ipsecEndSystem.
const OID_KP_IPSEC_END_SYSTEM: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 5];

/// Errors of LSC issuance. They never carry key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssuanceError {
    /// The issuing certificate is not DER X.509.
    #[error("issuing certificate does not parse: {0}")]
    IssuerCertificate(der::Error),
    /// The issuing certificate is not a CA certificate (basicConstraints
    /// CA:TRUE missing, or keyUsage without keyCertSign).
    #[error("issuing certificate is not a CA certificate")]
    IssuerNotCa,
    /// The issuing key is not PKCS#8, or ring rejects it (ring refuses RSA
    /// keys under 2048 bits). No detail on purpose.
    #[error("issuing private key does not load")]
    IssuerKey,
    /// The issuing key is of a kind ring cannot sign with here (P-521, ...).
    #[error("issuing key type not supported: {kind}")]
    UnsupportedIssuerKey {
        /// What the key is.
        kind: String,
    },
    /// The private key does not belong to the issuing certificate.
    #[error("issuing private key does not match the issuing certificate")]
    IssuerKeyMismatch,
    /// The issuer's subject cannot be reproduced byte for byte (a
    /// multi-valued RDN, a repeated attribute type, an exotic string type).
    #[error("issuing certificate's subject name is not supported")]
    IssuerNameUnsupported,
    /// The device name is empty, too long, or not letters and digits.
    #[error("device name is not SEP + 12 upper-case hex digits, or 1-64 ASCII letters and digits")]
    InvalidDeviceName,
    /// The phone's SPKI does not parse completely, or is not an RSA key of at
    /// most 4096 bits (the `rsa` crate's limit, also Unified CM's) or a valid
    /// P-256/P-384/P-521 point.
    #[error("phone public key does not parse or is unsupported")]
    InvalidPublicKey,
    /// The validity is outside 1..=3650 days.
    #[error("validity of {days} days is outside 1-3650")]
    ValidityOutOfRange {
        /// Days asked for.
        days: u32,
    },
    /// notAfter would fall after the year 9999.
    #[error("validity ends after what X.509 can express")]
    TimeOutOfRange,
    /// Certificate generation failed (message from the generator).
    #[error("certificate generation failed: {0}")]
    Generation(String),
}

/// What a CAPF server asks a CA for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LscRequest<'a> {
    /// The phone's device name (e.g. `SEP001122334455`).
    pub device_name: &'a str,
    /// DER `SubjectPublicKeyInfo` from the phone's KEY_GEN_RESPONSE.
    pub subject_public_key_info_der: &'a [u8],
    /// Validity in days, 1..=3650.
    pub validity_days: u32,
}

/// An issued certificate with the facts a server records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Serial number, big-endian unsigned bytes as in the certificate.
    pub serial: Vec<u8>,
    /// notBefore as written in the certificate (whole seconds).
    pub not_before: Timestamp,
    /// notAfter as written in the certificate (whole seconds).
    pub not_after: Timestamp,
}

/// Something that issues LSCs: the local [`LscIssuer`], or a host's bridge
/// to an external CA.
pub trait CertificateAuthority {
    /// Issue an LSC for `request`, valid from `now`, drawing the serial from
    /// `rng`. X.509 validity has whole seconds only, so the milliseconds of
    /// `now` are dropped (notBefore is `now` truncated to its second).
    fn issue(
        &self,
        request: &LscRequest<'_>,
        now: Timestamp,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<IssuedCertificate, IssuanceError>;
}

/// The local CA: an issuing certificate (root or intermediate) and its
/// private key.
///
/// The key is loaded into ring (through rcgen), which keeps CA signing off
/// the `rsa` crate. ring cannot load RSA keys under 2048 bits, so an RSA-1024
/// CAPF key gives [`IssuanceError::IssuerKey`]; ring also cannot sign with
/// P-521 ([`IssuanceError::UnsupportedIssuerKey`]).
pub struct LscIssuer {
    key: KeyPair,
    /// The issuing certificate's subject, exactly as encoded there.
    subject_der: Vec<u8>,
    /// The same name for rcgen.
    issuer_name: DistinguishedName,
    /// The O, OU, L, ST, C attributes copied into every LSC subject.
    copied_attributes: Vec<(DnType, DnValue)>,
    certificate_der: Vec<u8>,
}

impl core::fmt::Debug for LscIssuer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LscIssuer")
            .field("algorithm", self.key.algorithm())
            .field("subject_der_len", &self.subject_der.len())
            .finish_non_exhaustive()
    }
}

impl LscIssuer {
    /// Load an issuing certificate (DER) and its unencrypted PKCS#8 private
    /// key (DER). Checks that the certificate is a CA, that the key matches
    /// it, and that its subject can be reproduced byte for byte.
    pub fn new(
        issuer_certificate_der: &[u8],
        issuer_key_pkcs8_der: &[u8],
    ) -> Result<Self, IssuanceError> {
        let cert = x509_cert::Certificate::from_der(issuer_certificate_der)
            .map_err(IssuanceError::IssuerCertificate)?;
        check_is_ca(&cert)?;

        let spki_der = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(IssuanceError::IssuerCertificate)?;
        let algorithm = match ProofPublicKey::from_spki_der(&spki_der) {
            Ok(k) => signature_algorithm(k.kind())?,
            Err(_) => {
                return Err(IssuanceError::UnsupportedIssuerKey {
                    kind: cert
                        .tbs_certificate
                        .subject_public_key_info
                        .algorithm
                        .oid
                        .to_string(),
                });
            }
        };
        let key = KeyPair::from_pkcs8_der_and_sign_algo(&issuer_key_pkcs8_der.into(), algorithm)
            .map_err(|_| IssuanceError::IssuerKey)?;
        let cert_key = cert
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .as_bytes()
            .ok_or(IssuanceError::IssuerKeyMismatch)?;
        if key.public_key_raw() != cert_key {
            return Err(IssuanceError::IssuerKeyMismatch);
        }

        let subject_der = raw_name(issuer_certificate_der, NameField::Subject)?.to_vec();
        let (issuer_name, copied_attributes) = convert_name(&cert.tbs_certificate.subject)?;
        Ok(LscIssuer {
            key,
            subject_der,
            issuer_name,
            copied_attributes,
            certificate_der: issuer_certificate_der.to_vec(),
        })
    }

    /// As [`new`](Self::new), from PEM (`CERTIFICATE` and `PRIVATE KEY`).
    pub fn from_pem(certificate_pem: &str, key_pem: &str) -> Result<Self, IssuanceError> {
        let (label, cert) = der::pem::decode_vec(certificate_pem.as_bytes())
            .map_err(|e| IssuanceError::IssuerCertificate(e.into()))?;
        if label != "CERTIFICATE" {
            return Err(IssuanceError::IssuerCertificate(
                der::ErrorKind::Failed.into(),
            ));
        }
        let (label, key) =
            der::pem::decode_vec(key_pem.as_bytes()).map_err(|_| IssuanceError::IssuerKey)?;
        if label != "PRIVATE KEY" {
            return Err(IssuanceError::IssuerKey);
        }
        Self::new(&cert, &key)
    }

    /// The issuing certificate, DER (the chain element a verifier needs).
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }
}

impl CertificateAuthority for LscIssuer {
    fn issue(
        &self,
        request: &LscRequest<'_>,
        now: Timestamp,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<IssuedCertificate, IssuanceError> {
        check_device_name(request.device_name)?;
        let days = request.validity_days;
        if !(MIN_VALIDITY_DAYS..=MAX_VALIDITY_DAYS).contains(&days) {
            return Err(IssuanceError::ValidityOutOfRange { days });
        }
        let not_before = now.unix_seconds();
        let not_after = u64::from(days)
            .checked_mul(SECONDS_PER_DAY)
            .and_then(|s| s.checked_add(not_before))
            .filter(|t| *t <= LAST_X509_SECOND)
            .ok_or(IssuanceError::TimeOutOfRange)?;

        // The SPKI must be a key we know how to judge, and parse completely.
        ProofPublicKey::from_spki_der(request.subject_public_key_info_der)
            .map_err(|_| IssuanceError::InvalidPublicKey)?;
        let public_key = rcgen::SubjectPublicKeyInfo::from_der(request.subject_public_key_info_der)
            .map_err(|_| IssuanceError::InvalidPublicKey)?;

        let mut serial = [0u8; 16];
        rng.fill_bytes(&mut serial);
        if let Some(first) = serial.first_mut() {
            *first = (*first & 0x7F) | 0x40;
        }

        let mut subject = DistinguishedName::new();
        subject.push(
            DnType::CommonName,
            DnValue::Utf8String(request.device_name.to_owned()),
        );
        for (ty, value) in &self.copied_attributes {
            subject.push(ty.clone(), value.clone());
        }

        let uri = Ia5String::try_from(request.device_name)
            .map_err(|_| IssuanceError::InvalidDeviceName)?;
        let mut basic_constraints =
            CustomExtension::from_oid_content(OID_BASIC_CONSTRAINTS, vec![0x30, 0x00]);
        basic_constraints.set_criticality(true);

        let mut params = CertificateParams::default();
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
        set_validity(&mut params, not_before, not_after);
        params.distinguished_name = subject;
        params.subject_alt_names = vec![SanType::URI(uri)];
        // NoCa plus a custom extension: rcgen's ExplicitNoCa would add a
        // subjectKeyIdentifier, which the profile does not have.
        params.is_ca = IsCa::NoCa;
        params.custom_extensions = vec![basic_constraints];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
            ExtendedKeyUsagePurpose::Other(OID_KP_IPSEC_END_SYSTEM.to_vec()),
        ];
        params.use_authority_key_identifier_extension = false;

        let mut issuer_params = CertificateParams::default();
        issuer_params.distinguished_name = self.issuer_name.clone();
        let issuer = Issuer::new(issuer_params, &self.key);
        let cert = params
            .signed_by(&public_key, &issuer)
            .map_err(|e| IssuanceError::Generation(e.to_string()))?;
        let der = cert.der().to_vec();

        // The chain only verifies if the issuer name is the issuing subject
        // byte for byte; make sure the re-encoding did not drift.
        if raw_name(&der, NameField::Issuer)? != self.subject_der.as_slice() {
            return Err(IssuanceError::IssuerNameUnsupported);
        }

        Ok(IssuedCertificate {
            der,
            serial: serial.to_vec(),
            not_before: Timestamp::from_unix_seconds(not_before),
            not_after: Timestamp::from_unix_seconds(not_after),
        })
    }
}

/// The one device-name rule ([`DeviceName`](crate::device_name::DeviceName)):
/// SEP + 12 upper-case hex digits, or 1..=64 ASCII letters and digits
/// (CSFJSMITH, ...). The server session refuses other names at
/// AUTH_RESPONSE already.
fn check_device_name(name: &str) -> Result<(), IssuanceError> {
    crate::device_name::DeviceName::parse(name)
        .map(|_| ())
        .map_err(|_| IssuanceError::InvalidDeviceName)
}

fn signature_algorithm(kind: ProofKeyKind) -> Result<&'static SignatureAlgorithm, IssuanceError> {
    match kind {
        ProofKeyKind::Rsa { .. } => Ok(&rcgen::PKCS_RSA_SHA256),
        ProofKeyKind::Ec(Curve::P256) => Ok(&rcgen::PKCS_ECDSA_P256_SHA256),
        // ring has no P-384 with SHA-256.
        ProofKeyKind::Ec(Curve::P384) => Ok(&rcgen::PKCS_ECDSA_P384_SHA384),
        other => Err(IssuanceError::UnsupportedIssuerKey {
            kind: format!("{other:?}"),
        }),
    }
}

/// Set notBefore/notAfter from Unix seconds. Callers bound both by
/// `LAST_X509_SECOND`, so the additions cannot overflow the date type.
fn set_validity(params: &mut CertificateParams, not_before: u64, not_after: u64) {
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + std::time::Duration::from_secs(not_before);
    params.not_after = epoch + std::time::Duration::from_secs(not_after);
}

/// Reject issuing certificates that are not CAs: basicConstraints must say
/// CA:TRUE, and a keyUsage, if present, must allow keyCertSign.
fn check_is_ca(cert: &x509_cert::Certificate) -> Result<(), IssuanceError> {
    use der::oid::AssociatedOid;
    use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};
    let extensions = cert
        .tbs_certificate
        .extensions
        .as_deref()
        .unwrap_or_default();
    let mut is_ca = false;
    for ext in extensions {
        if ext.extn_id == BasicConstraints::OID {
            let bc = BasicConstraints::from_der(ext.extn_value.as_bytes())
                .map_err(IssuanceError::IssuerCertificate)?;
            is_ca = bc.ca;
        } else if ext.extn_id == KeyUsage::OID {
            let ku = KeyUsage::from_der(ext.extn_value.as_bytes())
                .map_err(IssuanceError::IssuerCertificate)?;
            if !ku.key_cert_sign() {
                return Err(IssuanceError::IssuerNotCa);
            }
        }
    }
    if is_ca {
        Ok(())
    } else {
        Err(IssuanceError::IssuerNotCa)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum NameField {
    Issuer,
    Subject,
}

/// The issuer or subject `Name` of a DER certificate, as the exact bytes
/// found there (header and content), without re-encoding.
fn raw_name(certificate_der: &[u8], field: NameField) -> Result<&[u8], IssuanceError> {
    fn walk(certificate_der: &[u8], field: NameField) -> der::Result<&[u8]> {
        let outer = AnyRef::from_der(certificate_der)?;
        let mut cert = SliceReader::new(outer.value())?;
        let tbs = cert.tlv_bytes()?;
        let tbs_any = AnyRef::from_der(tbs)?;
        let mut r = SliceReader::new(tbs_any.value())?;
        // Optional [0] version, then serial, signature, issuer, validity, subject.
        if r.peek_tag()?
            == (Tag::ContextSpecific {
                constructed: true,
                number: der::TagNumber::N0,
            })
        {
            r.tlv_bytes()?;
        }
        r.tlv_bytes()?; // serialNumber
        r.tlv_bytes()?; // signature
        let issuer = r.tlv_bytes()?;
        if field == NameField::Issuer {
            return Ok(issuer);
        }
        r.tlv_bytes()?; // validity
        r.tlv_bytes()
    }
    walk(certificate_der, field).map_err(IssuanceError::IssuerCertificate)
}

/// rcgen's form of the issuer name, and the attributes copied into LSC
/// subjects. Fails on anything rcgen would not re-encode identically.
#[allow(clippy::type_complexity)]
fn convert_name(
    name: &x509_cert::name::Name,
) -> Result<(DistinguishedName, Vec<(DnType, DnValue)>), IssuanceError> {
    const COPIED: [&[u64]; 5] = [
        &[2, 5, 4, 10], // O
        &[2, 5, 4, 11], // OU
        &[2, 5, 4, 7],  // L
        &[2, 5, 4, 8],  // ST
        &[2, 5, 4, 6],  // C
    ];
    let mut dn = DistinguishedName::new();
    let mut seen: Vec<Vec<u64>> = Vec::new();
    let mut copied = Vec::new();
    for rdn in name.0.iter() {
        let mut attrs = rdn.0.iter();
        let (Some(attr), None) = (attrs.next(), attrs.next()) else {
            return Err(IssuanceError::IssuerNameUnsupported);
        };
        let arcs: Vec<u64> = attr.oid.arcs().map(u64::from).collect();
        if seen.contains(&arcs) {
            return Err(IssuanceError::IssuerNameUnsupported);
        }
        let ty = DnType::from_oid(&arcs);
        let value = convert_value(&attr.value)?;
        if COPIED.contains(&arcs.as_slice()) {
            copied.push((ty.clone(), value.clone()));
        }
        dn.push(ty, value);
        seen.push(arcs);
    }
    Ok((dn, copied))
}

fn convert_value(value: &der::asn1::Any) -> Result<DnValue, IssuanceError> {
    let bytes = value.value();
    let text = || core::str::from_utf8(bytes).map_err(|_| IssuanceError::IssuerNameUnsupported);
    let unsupported = |_| IssuanceError::IssuerNameUnsupported;
    Ok(match value.tag() {
        Tag::Utf8String => DnValue::Utf8String(text()?.to_owned()),
        Tag::PrintableString => {
            DnValue::PrintableString(PrintableString::try_from(text()?).map_err(unsupported)?)
        }
        Tag::Ia5String => DnValue::Ia5String(Ia5String::try_from(text()?).map_err(unsupported)?),
        Tag::TeletexString => {
            DnValue::TeletexString(TeletexString::try_from(text()?).map_err(unsupported)?)
        }
        Tag::BmpString => {
            DnValue::BmpString(BmpString::from_utf16be(bytes.to_vec()).map_err(unsupported)?)
        }
        _ => return Err(IssuanceError::IssuerNameUnsupported),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names() {
        assert!(check_device_name("SEP001122334455").is_ok());
        assert!(check_device_name("CSFJSMITH").is_ok());
        assert!(check_device_name(&"A".repeat(64)).is_ok());
        for bad in ["", "SEP 0011", "SEP0011\0", "SEP-1", "SÉP1", "sip:SEP1"] {
            assert!(check_device_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_device_name(&"A".repeat(65)).is_err());
    }

    #[test]
    fn validity_is_unix_seconds() {
        let mut params = CertificateParams::default();
        set_validity(&mut params, 1_700_000_000, LAST_X509_SECOND);
        assert_eq!(params.not_before.unix_timestamp(), 1_700_000_000);
        assert_eq!(params.not_after.year(), 9999);
    }
}
