//! Revocation of issued certificates: the RFC 5280 reason codes (section
//! 5.3.1) a ledger records, and the CRL a local issuer signs
//! ([`crate::issuance::LscIssuer::sign_crl`]).

use core::fmt;
use core::str::FromStr;

/// Why a certificate was revoked: RFC 5280 section 5.3.1 `CRLReason`
/// (code 7 is unused; `removeFromCRL`, code 8, only undoes a hold in a
/// delta CRL and is not a reason to revoke, so it is not offered).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevocationReason {
    /// `unspecified` (0).
    Unspecified,
    /// `keyCompromise` (1).
    KeyCompromise,
    /// `cACompromise` (2).
    CaCompromise,
    /// `affiliationChanged` (3).
    AffiliationChanged,
    /// `superseded` (4).
    Superseded,
    /// `cessationOfOperation` (5).
    CessationOfOperation,
    /// `certificateHold` (6).
    CertificateHold,
    /// `privilegeWithdrawn` (9).
    PrivilegeWithdrawn,
    /// `aACompromise` (10).
    AaCompromise,
}

impl RevocationReason {
    /// Every reason, in code order.
    pub const ALL: [Self; 9] = [
        Self::Unspecified,
        Self::KeyCompromise,
        Self::CaCompromise,
        Self::AffiliationChanged,
        Self::Superseded,
        Self::CessationOfOperation,
        Self::CertificateHold,
        Self::PrivilegeWithdrawn,
        Self::AaCompromise,
    ];

    /// The RFC 5280 name (`keyCompromise`, …): what a ledger stores and
    /// users see.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::KeyCompromise => "keyCompromise",
            Self::CaCompromise => "cACompromise",
            Self::AffiliationChanged => "affiliationChanged",
            Self::Superseded => "superseded",
            Self::CessationOfOperation => "cessationOfOperation",
            Self::CertificateHold => "certificateHold",
            Self::PrivilegeWithdrawn => "privilegeWithdrawn",
            Self::AaCompromise => "aACompromise",
        }
    }

    /// The `CRLReason` ENUMERATED value.
    pub const fn code(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::KeyCompromise => 1,
            Self::CaCompromise => 2,
            Self::AffiliationChanged => 3,
            Self::Superseded => 4,
            Self::CessationOfOperation => 5,
            Self::CertificateHold => 6,
            Self::PrivilegeWithdrawn => 9,
            Self::AaCompromise => 10,
        }
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reason name that is not one of RFC 5280's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an RFC 5280 revocation reason (one of: {names})", names = reason_names())]
pub struct UnknownReason(pub String);

fn reason_names() -> String {
    RevocationReason::ALL
        .iter()
        .map(|reason| reason.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for RevocationReason {
    type Err = UnknownReason;

    /// The RFC 5280 name, ASCII case, `-` and `_` ignored (`keyCompromise`,
    /// `key-compromise` and `KEY_COMPROMISE` are one reason).
    fn from_str(text: &str) -> Result<Self, UnknownReason> {
        let fold = |name: &str| -> String {
            name.chars()
                .filter(|c| *c != '-' && *c != '_')
                .map(|c| c.to_ascii_lowercase())
                .collect()
        };
        let wanted = fold(text);
        Self::ALL
            .into_iter()
            .find(|reason| fold(reason.as_str()) == wanted)
            .ok_or_else(|| UnknownReason(text.to_owned()))
    }
}

// ---- CRLs ----

use crate::issuance::{IssuanceError, LscIssuer, push_tlv, x509_time};
use crate::time::Timestamp;

/// One revoked certificate as a CRL lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedEntry {
    /// The serial number, big-endian unsigned bytes (leading zero bytes
    /// are ignored).
    pub serial: Vec<u8>,
    /// revocationDate.
    pub revoked_at: Timestamp,
    /// The reason; [`RevocationReason::Unspecified`] is listed without a
    /// reasonCode extension, as RFC 5280 section 5.3.1 recommends.
    pub reason: RevocationReason,
}

/// Why a CRL could not be issued.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrlError {
    /// The issuing certificate's keyUsage does not include cRLSign
    /// (RFC 5280 section 4.2.1.3): verifiers refuse a CRL it signs.
    #[error(
        "the issuing certificate's key usage lacks cRLSign: it cannot sign CRLs \
         (issue a CA certificate whose keyUsage includes cRLSign, or sign with another issuer)"
    )]
    NoCrlSign,
    /// The issuing certificate does not parse.
    #[error("issuing certificate: {0}")]
    IssuerCertificate(String),
    /// nextUpdate is before thisUpdate, or a time X.509 cannot express.
    #[error("CRL times out of range (nextUpdate must not be before thisUpdate)")]
    TimeOutOfRange,
    /// Signing failed.
    #[error("signing the CRL failed: {0}")]
    Signing(String),
}

/// The issuing certificate's keyUsage allows signing CRLs: cRLSign is
/// asserted, or there is no keyUsage extension (no restriction, RFC 5280
/// section 4.2.1.3). Also returns its subjectKeyIdentifier, if any.
fn crl_signing_facts(certificate_der: &[u8]) -> Result<Option<Vec<u8>>, CrlError> {
    use der::Decode;
    use der::oid::AssociatedOid;
    use x509_cert::ext::pkix::{KeyUsage, KeyUsages, SubjectKeyIdentifier};
    let certificate = x509_cert::Certificate::from_der(certificate_der)
        .map_err(|error| CrlError::IssuerCertificate(error.to_string()))?;
    let mut key_identifier = None;
    for extension in certificate
        .tbs_certificate
        .extensions
        .as_deref()
        .unwrap_or_default()
    {
        if extension.extn_id == KeyUsage::OID {
            let usage = KeyUsage::from_der(extension.extn_value.as_bytes())
                .map_err(|error| CrlError::IssuerCertificate(error.to_string()))?;
            if !usage.0.contains(KeyUsages::CRLSign) {
                return Err(CrlError::NoCrlSign);
            }
        } else if extension.extn_id == SubjectKeyIdentifier::OID {
            let identifier = SubjectKeyIdentifier::from_der(extension.extn_value.as_bytes())
                .map_err(|error| CrlError::IssuerCertificate(error.to_string()))?;
            key_identifier = Some(identifier.0.as_bytes().to_vec());
        }
    }
    Ok(key_identifier)
}

/// DER INTEGER content of an unsigned big-endian number.
fn unsigned_integer(bytes: &[u8]) -> Vec<u8> {
    let start = bytes
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(bytes.len());
    let digits = bytes.get(start..).unwrap_or_default();
    let mut content = Vec::with_capacity(digits.len().saturating_add(1));
    if digits.first().is_none_or(|first| *first >= 0x80) {
        content.push(0);
    }
    content.extend_from_slice(digits);
    content
}

fn time(at: Timestamp) -> Result<Vec<u8>, CrlError> {
    x509_time(at.unix_seconds()).map_err(|_| CrlError::TimeOutOfRange)
}

/// DER of one extension: extnID, optional critical, extnValue.
fn extension(oid_der: &[u8], value: &[u8]) -> Vec<u8> {
    let mut body = oid_der.to_vec();
    push_tlv(&mut body, 0x04, value);
    let mut out = Vec::with_capacity(body.len().saturating_add(4));
    push_tlv(&mut out, 0x30, &body);
    out
}

/// id-ce-authorityKeyIdentifier (2.5.29.35).
const OID_AUTHORITY_KEY_IDENTIFIER: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x23];
/// id-ce-cRLNumber (2.5.29.20).
const OID_CRL_NUMBER: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x14];
/// id-ce-cRLReasons (2.5.29.21).
const OID_REASON_CODE: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x15];

impl LscIssuer {
    /// Signs an RFC 5280 version 2 CRL listing `entries`, issued by this
    /// issuer: thisUpdate `this_update`, nextUpdate `next_update`, the
    /// cRLNumber extension `crl_number` (it must grow with every CRL of this
    /// issuer: a host may pass the time of issue in seconds), the
    /// authorityKeyIdentifier extension when the issuing certificate has a
    /// subjectKeyIdentifier, and a reasonCode per entry (none for
    /// "unspecified"). Entries are listed in the order given. The same
    /// signature algorithm as the LSCs (see [`crate::issuance`]).
    ///
    /// Refuses an issuing certificate whose keyUsage lacks cRLSign
    /// ([`CrlError::NoCrlSign`]).
    pub fn sign_crl(
        &self,
        entries: &[RevokedEntry],
        this_update: Timestamp,
        next_update: Timestamp,
        crl_number: u64,
    ) -> Result<Vec<u8>, CrlError> {
        let key_identifier = crl_signing_facts(self.certificate_der())?;
        if next_update.unix_seconds() < this_update.unix_seconds() {
            return Err(CrlError::TimeOutOfRange);
        }
        let algorithm = self.algorithm_identifier();
        let mut tbs = Vec::with_capacity(entries.len().saturating_mul(48).saturating_add(512));
        tbs.extend_from_slice(&[0x02, 0x01, 0x01]); // version v2
        tbs.extend_from_slice(algorithm);
        tbs.extend_from_slice(self.subject_der());
        tbs.extend_from_slice(&time(this_update)?);
        tbs.extend_from_slice(&time(next_update)?);
        if !entries.is_empty() {
            let mut list = Vec::with_capacity(entries.len().saturating_mul(48));
            for entry in entries {
                let mut revoked = Vec::with_capacity(64);
                push_tlv(&mut revoked, 0x02, &unsigned_integer(&entry.serial));
                revoked.extend_from_slice(&time(entry.revoked_at)?);
                if entry.reason != RevocationReason::Unspecified {
                    let mut code = Vec::with_capacity(3);
                    push_tlv(&mut code, 0x0a, &[entry.reason.code()]);
                    let mut extensions = Vec::with_capacity(16);
                    push_tlv(&mut extensions, 0x30, &extension(OID_REASON_CODE, &code));
                    revoked.extend_from_slice(&extensions);
                }
                push_tlv(&mut list, 0x30, &revoked);
            }
            push_tlv(&mut tbs, 0x30, &list);
        }
        let mut extensions = Vec::with_capacity(64);
        if let Some(identifier) = key_identifier {
            let mut key_id = Vec::with_capacity(identifier.len().saturating_add(2));
            push_tlv(&mut key_id, 0x80, &identifier); // [0] IMPLICIT keyIdentifier
            let mut value = Vec::with_capacity(key_id.len().saturating_add(2));
            push_tlv(&mut value, 0x30, &key_id);
            extensions.extend_from_slice(&extension(OID_AUTHORITY_KEY_IDENTIFIER, &value));
        }
        let mut number = Vec::with_capacity(10);
        push_tlv(
            &mut number,
            0x02,
            &unsigned_integer(&crl_number.to_be_bytes()),
        );
        extensions.extend_from_slice(&extension(OID_CRL_NUMBER, &number));
        let mut sequence = Vec::with_capacity(extensions.len().saturating_add(4));
        push_tlv(&mut sequence, 0x30, &extensions);
        push_tlv(&mut tbs, 0xa0, &sequence);
        let mut tbs_der = Vec::with_capacity(tbs.len().saturating_add(6));
        push_tlv(&mut tbs_der, 0x30, &tbs);

        let signature = self
            .sign_tbs(&tbs_der)
            .map_err(|error: IssuanceError| CrlError::Signing(error.to_string()))?;
        let mut bits = Vec::with_capacity(signature.len().saturating_add(1));
        bits.push(0);
        bits.extend_from_slice(&signature);
        let mut body = Vec::with_capacity(
            tbs_der
                .len()
                .saturating_add(algorithm.len())
                .saturating_add(80),
        );
        body.extend_from_slice(&tbs_der);
        body.extend_from_slice(algorithm);
        push_tlv(&mut body, 0x03, &bits);
        let mut der = Vec::with_capacity(body.len().saturating_add(6));
        push_tlv(&mut der, 0x30, &body);
        Ok(der)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_parse_in_rfc_and_kebab_spelling_and_carry_rfc_codes() {
        let expected = [
            ("unspecified", 0),
            ("keyCompromise", 1),
            ("cACompromise", 2),
            ("affiliationChanged", 3),
            ("superseded", 4),
            ("cessationOfOperation", 5),
            ("certificateHold", 6),
            ("privilegeWithdrawn", 9),
            ("aACompromise", 10),
        ];
        for (name, code) in expected {
            let reason: RevocationReason = name.parse().unwrap();
            assert_eq!(reason.code(), code);
            assert_eq!(reason.as_str(), name);
        }
        assert_eq!(
            "key-compromise".parse::<RevocationReason>().unwrap(),
            RevocationReason::KeyCompromise
        );
        let error = "removeFromCRL".parse::<RevocationReason>().unwrap_err();
        assert!(error.to_string().contains("keyCompromise"), "{error}");
    }

    fn issuer(crl_sign: bool) -> (LscIssuer, Vec<u8>) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "CRL test CA");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        if crl_sign {
            params.key_usages.push(rcgen::KeyUsagePurpose::CrlSign);
        }
        params.key_identifier_method = rcgen::KeyIdMethod::PreSpecified(vec![7; 20]);
        let certificate = params.self_signed(&key).unwrap();
        let der = certificate.der().to_vec();
        (LscIssuer::new(&der, &key.serialize_der()).unwrap(), der)
    }

    #[test]
    fn a_crl_lists_serials_reasons_number_and_key_identifier() {
        use x509_parser::prelude::*;
        let (issuer, ca_der) = issuer(true);
        let entries = [
            RevokedEntry {
                serial: vec![0x00, 0x81, 0x02],
                revoked_at: Timestamp::from_unix_seconds(1_800_000_000),
                reason: RevocationReason::KeyCompromise,
            },
            RevokedEntry {
                serial: vec![0x45; 16],
                revoked_at: Timestamp::from_unix_seconds(1_800_000_100),
                reason: RevocationReason::Unspecified,
            },
        ];
        let der = issuer
            .sign_crl(
                &entries,
                Timestamp::from_unix_seconds(1_800_001_000),
                Timestamp::from_unix_seconds(1_800_605_800),
                1_800_001_000,
            )
            .unwrap();
        let (rest, crl) = parse_x509_crl(&der).unwrap();
        assert!(rest.is_empty());
        let (_, ca) = parse_x509_certificate(&ca_der).unwrap();
        crl.verify_signature(ca.public_key()).unwrap();
        assert_eq!(crl.version(), Some(X509Version::V2));
        assert_eq!(crl.issuer(), ca.subject());
        assert_eq!(crl.last_update().timestamp(), 1_800_001_000);
        assert_eq!(crl.next_update().unwrap().timestamp(), 1_800_605_800);
        assert_eq!(crl.crl_number().unwrap().to_u64_digits(), [1_800_001_000]);
        let listed: Vec<_> = crl
            .iter_revoked_certificates()
            .map(|revoked| {
                (
                    revoked.raw_serial().to_vec(),
                    revoked.revocation_date.timestamp(),
                    revoked.reason_code().map(|(_, code)| code.0),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                (vec![0x00, 0x81, 0x02], 1_800_000_000, Some(1)),
                (vec![0x45; 16], 1_800_000_100, None),
            ]
        );
        let key_identifier =
            crl.extensions()
                .iter()
                .find_map(|extension| match extension.parsed_extension() {
                    ParsedExtension::AuthorityKeyIdentifier(aki) => {
                        aki.key_identifier.as_ref().map(|id| id.0.to_vec())
                    }
                    _ => None,
                });
        assert_eq!(key_identifier, Some(vec![7; 20]));
        // An empty CRL omits revokedCertificates and still verifies.
        let empty = issuer
            .sign_crl(
                &[],
                Timestamp::from_unix_seconds(1_800_001_000),
                Timestamp::from_unix_seconds(1_800_001_000),
                2,
            )
            .unwrap();
        let (_, crl) = parse_x509_crl(&empty).unwrap();
        crl.verify_signature(ca.public_key()).unwrap();
        assert_eq!(crl.iter_revoked_certificates().count(), 0);
    }

    #[test]
    fn an_issuer_without_crl_sign_or_times_backwards_are_refused() {
        let (issuer, _) = issuer(false);
        let now = Timestamp::from_unix_seconds(1_800_000_000);
        assert_eq!(issuer.sign_crl(&[], now, now, 1), Err(CrlError::NoCrlSign));
        assert!(CrlError::NoCrlSign.to_string().contains("cRLSign"));
        let (issuer, _) = issuer_pair_with_crl_sign();
        assert_eq!(
            issuer.sign_crl(&[], now, Timestamp::from_unix_seconds(1), 1),
            Err(CrlError::TimeOutOfRange)
        );
    }

    fn issuer_pair_with_crl_sign() -> (LscIssuer, Vec<u8>) {
        issuer(true)
    }
}
