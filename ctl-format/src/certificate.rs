//! The X.509 facts a trust list or signed file needs from a certificate:
//! serial (minimal bytes), names rendered the Cisco or certutils way, the
//! public key in record form, the signature value, fingerprints.

use crate::error::{Error, MalformedFile, Result, UsageError};
use crate::pem;
use der::asn1::ObjectIdentifier;
use der::{Decode, Tag, Tagged};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_cert::name::Name;

const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const COUNTRY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
const LOCALITY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.7");
const STATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.8");
const ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const ORGANIZATIONAL_UNIT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// How names are rendered as text in headers and records.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameStyle {
    /// Unified CM: `CN=…;OU=…;O=…;L=…;ST=…;C=…` in that fixed order,
    /// whatever the order in the certificate; other attributes left out;
    /// values unescaped.
    #[default]
    Cisco,
    /// certutils: every attribute in certificate order, RFC 4514 escaping,
    /// joined by `,`.
    Certutils,
}

/// The kind of public key a certificate holds.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKeyKind {
    /// RSA with a modulus of this many bits.
    Rsa {
        /// Modulus size in bits.
        bits: usize,
    },
    /// Elliptic curve, by curve OID (P-256 is 1.2.840.10045.3.1.7).
    Ec {
        /// The named curve.
        curve: ObjectIdentifier,
    },
    /// Anything else, by algorithm OID.
    Other {
        /// The algorithm.
        algorithm: ObjectIdentifier,
    },
}

/// A parsed X.509 certificate with its original DER kept.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    inner: x509_cert::Certificate,
}

impl core::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject_name(NameStyle::Certutils))
            .finish()
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}
impl Eq for Certificate {}

impl Certificate {
    /// Parses DER.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let inner = x509_cert::Certificate::from_der(der).map_err(|error| {
            MalformedFile::BadCertificate {
                reason: format!("not a DER X.509 certificate: {error}"),
            }
        })?;
        Ok(Self {
            der: der.to_vec(),
            inner,
        })
    }

    /// Every certificate in PEM text, in order.
    pub fn all_from_pem(text: &str) -> Result<Vec<Self>> {
        pem::pem_blocks(text)?
            .into_iter()
            .filter(|block| block.label == "CERTIFICATE")
            .map(|block| Self::from_der(&block.der))
            .collect()
    }

    /// The first certificate in PEM text.
    pub fn from_pem(text: &str) -> Result<Self> {
        Self::all_from_pem(text)?.into_iter().next().ok_or(
            MalformedFile::BadCertificate {
                reason: "no CERTIFICATE block in the PEM text".into(),
            }
            .into(),
        )
    }

    /// The certificates of a certificate file, whichever form it has: PEM
    /// text (every `CERTIFICATE` block, in order; other blocks, such as the
    /// private key certutils keeps beside its certificate, are skipped) or
    /// one DER certificate. Text with a `-----BEGIN` line
    /// ([`pem::is_pem`]) is PEM, anything else is read as DER. Every
    /// certificate must parse as X.509, and there must be at least one.
    ///
    /// ```
    /// use ctl_format::Certificate;
    /// let pem = include_str!("../../tests/vectors/tlv/keys/sast.pem");
    /// let from_pem = Certificate::all_from_pem_or_der(pem.as_bytes())?;
    /// assert_eq!(from_pem.len(), 1);
    /// let from_der = Certificate::all_from_pem_or_der(from_pem[0].der())?;
    /// assert_eq!(from_der, from_pem);
    /// assert!(Certificate::all_from_pem_or_der(b"hello").is_err());
    /// # Ok::<(), ctl_format::Error>(())
    /// ```
    pub fn all_from_pem_or_der(bytes: &[u8]) -> Result<Vec<Self>> {
        if bytes.is_empty() {
            return Err(MalformedFile::BadCertificate {
                reason: "the file is empty: no certificate".into(),
            }
            .into());
        }
        let text = match core::str::from_utf8(bytes) {
            Ok(text) if pem::is_pem(bytes) => text,
            _ => {
                return Self::from_der(bytes)
                    .map(|certificate| vec![certificate])
                    .map_err(|error| match error {
                        Error::Malformed(MalformedFile::BadCertificate { reason }) => {
                            MalformedFile::BadCertificate {
                                reason: format!("not PEM (no -----BEGIN line) and {reason}"),
                            }
                            .into()
                        }
                        other => other,
                    });
            }
        };
        let certificates = Self::all_from_pem(text)?;
        if certificates.is_empty() {
            return Err(MalformedFile::BadCertificate {
                reason: "no CERTIFICATE block in the PEM text".into(),
            }
            .into());
        }
        Ok(certificates)
    }

    /// The DER encoding, exactly as given.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The parsed structure (x509-cert).
    pub fn x509(&self) -> &x509_cert::Certificate {
        &self.inner
    }

    /// Serial number as minimal unsigned big-endian bytes (the format's form).
    pub fn serial_number(&self) -> Vec<u8> {
        crate::tlv::minimal_serial(self.inner.tbs_certificate.serial_number.as_bytes()).to_vec()
    }

    /// Subject rendered in `style`.
    pub fn subject_name(&self, style: NameStyle) -> String {
        render_name(&self.inner.tbs_certificate.subject, style)
    }

    /// Issuer rendered in `style`.
    pub fn issuer_name(&self, style: NameStyle) -> String {
        render_name(&self.inner.tbs_certificate.issuer, style)
    }

    /// The first common name of the subject, if any.
    pub fn common_name(&self) -> Option<String> {
        attributes(&self.inner.tbs_certificate.subject)
            .find(|(oid, _)| *oid == COMMON_NAME)
            .map(|(_, value)| value)
    }

    /// The public key as trust-list records store it: the content of the
    /// SubjectPublicKeyInfo bit string, which is the PKCS #1 `RSAPublicKey`
    /// DER for RSA and the uncompressed point for EC.
    pub fn record_public_key(&self) -> &[u8] {
        self.inner
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes()
    }

    /// The SubjectPublicKeyInfo, DER-encoded.
    pub fn subject_public_key_info_der(&self) -> Result<Vec<u8>> {
        der::Encode::to_der(&self.inner.tbs_certificate.subject_public_key_info)
            .map_err(|error| MalformedFile::BadCertificate {
                reason: format!("cannot encode the public key: {error}"),
            })
            .map_err(Error::from)
    }

    /// The kind of public key.
    pub fn public_key_kind(&self) -> PublicKeyKind {
        let spki = &self.inner.tbs_certificate.subject_public_key_info;
        if spki.algorithm.oid == RSA_ENCRYPTION {
            let bits = self
                .rsa_public_key()
                .map(|key| rsa::traits::PublicKeyParts::size(&key) * 8)
                .unwrap_or(0);
            return PublicKeyKind::Rsa { bits };
        }
        if spki.algorithm.oid == EC_PUBLIC_KEY
            && let Some(curve) = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|any| any.decode_as::<ObjectIdentifier>().ok())
        {
            return PublicKeyKind::Ec { curve };
        }
        PublicKeyKind::Other {
            algorithm: spki.algorithm.oid,
        }
    }

    /// The RSA public key, or [`UsageError::EcKeyNotSupported`] for EC keys.
    pub fn rsa_public_key(&self) -> Result<rsa::RsaPublicKey> {
        use rsa::pkcs1::DecodeRsaPublicKey;
        let spki = &self.inner.tbs_certificate.subject_public_key_info;
        if spki.algorithm.oid == EC_PUBLIC_KEY {
            return Err(UsageError::EcKeyNotSupported.into());
        }
        if spki.algorithm.oid != RSA_ENCRYPTION {
            return Err(MalformedFile::BadCertificate {
                reason: format!("unsupported public key algorithm {}", spki.algorithm.oid),
            }
            .into());
        }
        rsa::RsaPublicKey::from_pkcs1_der(self.record_public_key())
            .map_err(|_| MalformedFile::BadCertificate {
                reason: "malformed RSA public key".into(),
            })
            .map_err(Error::from)
    }

    /// The certificate's own signature value (what record tag 8 stores).
    pub fn signature_value(&self) -> &[u8] {
        self.inner.signature.raw_bytes()
    }

    /// SHA-1 fingerprint of the DER (what `show ctl` prints).
    pub fn sha1_fingerprint(&self) -> [u8; 20] {
        Sha1::digest(&self.der).into()
    }

    /// SHA-256 fingerprint of the DER.
    pub fn sha256_fingerprint(&self) -> [u8; 32] {
        Sha256::digest(&self.der).into()
    }

    /// Validity period as Unix seconds (not before, not after).
    pub fn validity(&self) -> (u64, u64) {
        let validity = &self.inner.tbs_certificate.validity;
        (
            validity.not_before.to_unix_duration().as_secs(),
            validity.not_after.to_unix_duration().as_secs(),
        )
    }

    /// Whether `serial` (as stored in a file) and this certificate's serial
    /// are the same number.
    pub fn has_serial(&self, serial: &[u8]) -> bool {
        crate::tlv::minimal_serial(serial) == self.serial_number().as_slice()
    }
}

/// Text of a directory-string value (lossy for invalid bytes).
fn attribute_text(value: &der::Any) -> String {
    match value.tag() {
        Tag::BmpString => {
            let units: Vec<u16> = value
                .value()
                .chunks_exact(2)
                .map(|pair| {
                    u16::from_be_bytes([
                        pair.first().copied().unwrap_or(0),
                        pair.get(1).copied().unwrap_or(0),
                    ])
                })
                .collect();
            String::from_utf16_lossy(&units)
        }
        _ => String::from_utf8_lossy(value.value()).into_owned(),
    }
}

/// Every attribute of a name in DER order as (type, text).
fn attributes(name: &Name) -> impl Iterator<Item = (ObjectIdentifier, String)> + '_ {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .map(|attribute| (attribute.oid, attribute_text(&attribute.value)))
}

fn short_name(oid: &ObjectIdentifier) -> Option<&'static str> {
    const SHORT: [(ObjectIdentifier, &str); 6] = [
        (COMMON_NAME, "CN"),
        (ORGANIZATIONAL_UNIT, "OU"),
        (ORGANIZATION, "O"),
        (LOCALITY, "L"),
        (STATE, "ST"),
        (COUNTRY, "C"),
    ];
    SHORT
        .iter()
        .find(|(known, _)| known == oid)
        .map(|(_, short)| *short)
}

/// Renders an X.509 name as text in `style`.
pub fn render_name(name: &Name, style: NameStyle) -> String {
    match style {
        NameStyle::Cisco => {
            let order = [
                COMMON_NAME,
                ORGANIZATIONAL_UNIT,
                ORGANIZATION,
                LOCALITY,
                STATE,
                COUNTRY,
            ];
            let mut parts = Vec::new();
            for wanted in order {
                for (oid, value) in attributes(name).filter(|(oid, _)| *oid == wanted) {
                    parts.push(format!("{}={value}", short_name(&oid).unwrap_or("?")));
                }
            }
            parts.join(";")
        }
        NameStyle::Certutils => name
            .0
            .iter()
            .map(|rdn| {
                rdn.0
                    .iter()
                    .map(|attribute| {
                        let key = short_name(&attribute.oid)
                            .map_or_else(|| attribute.oid.to_string(), str::to_owned);
                        format!(
                            "{key}={}",
                            escape_rfc4514(&attribute_text(&attribute.value))
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// Escapes an attribute value as RFC 4514 section 2.4 requires.
fn escape_rfc4514(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (index, character) in value.chars().enumerate() {
        let special = matches!(character, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (index == 0 && matches!(character, '#' | ' '))
            || (index == last && character == ' ');
        if character == '\0' {
            out.push_str("\\00");
            continue;
        }
        if special {
            out.push('\\');
        }
        out.push(character);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4514_escapes_what_the_rfc_names() {
        assert_eq!(escape_rfc4514("Hold, Out Ltd"), "Hold\\, Out Ltd");
        assert_eq!(escape_rfc4514("#lead"), "\\#lead");
        assert_eq!(escape_rfc4514(" both "), "\\ both\\ ");
        assert_eq!(escape_rfc4514("a+b;c"), "a\\+b\\;c");
    }
    const SAST: &str = include_str!("../../tests/vectors/tlv/keys/sast.pem");
    const CAPF: &str = include_str!("../../tests/vectors/tlv/keys/capf.pem");

    /// The base64 body of the CERTIFICATE block of `pem`, decoded by hand
    /// (not by the code under test).
    fn certificate_der_of(pem: &str) -> Vec<u8> {
        let begin = pem.find("-----BEGIN CERTIFICATE-----").unwrap();
        let (_, der) = der::pem::decode_vec(&pem.as_bytes()[begin..]).unwrap();
        der
    }

    #[test]
    fn a_certificate_file_is_pem_or_der_whichever_it_is() {
        let sast = certificate_der_of(SAST);
        let capf = certificate_der_of(CAPF);
        // PEM: every certificate in order, the private keys skipped.
        let bundle = format!("{SAST}\nsome comment\n{CAPF}");
        let read = Certificate::all_from_pem_or_der(bundle.as_bytes()).unwrap();
        let ders: Vec<&[u8]> = read.iter().map(Certificate::der).collect();
        assert_eq!(ders, vec![sast.as_slice(), capf.as_slice()]);
        // DER: the one certificate, byte for byte.
        let read = Certificate::all_from_pem_or_der(&sast).unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].der(), sast.as_slice());
        assert!(!pem::is_pem(&sast));
        assert!(pem::is_pem(SAST.as_bytes()));
    }

    #[test]
    fn a_certificate_file_without_a_good_certificate_is_refused() {
        let key_only = &SAST[..SAST.find("-----BEGIN CERTIFICATE-----").unwrap()];
        let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let mut truncated = certificate_der_of(SAST);
        truncated.pop();
        let cases: [(&str, &[u8]); 6] = [
            ("empty", b""),
            ("text", b"hello"),
            ("key only", key_only.as_bytes()),
            ("not a certificate", broken.as_bytes()),
            ("truncated DER", &truncated),
            ("a CTL", &[1, 0, 2, 1, 2]),
        ];
        for (what, bytes) in cases {
            let error = Certificate::all_from_pem_or_der(bytes).unwrap_err();
            assert!(
                matches!(
                    error,
                    Error::Malformed(MalformedFile::BadCertificate { .. })
                ),
                "{what}: {error:?}"
            );
        }
    }
}
