//! LSC issuance (spec section 12): certify the public key a phone generated,
//! from its `SubjectPublicKeyInfo` alone.
//!
//! [`CertificateAuthority`] is what a CAPF server needs; [`LscIssuer`] is the
//! local implementation (an issuing certificate and its private key, signing
//! with the crate's crypto provider, see [`crate::crypto_provider`]). A host
//! can plug an external CA instead.
//!
//! The certificate is assembled here, field by field in DER, and only the
//! signature comes from the provider: so every phone key the scheduling
//! accepts (RSA 512-4096, EC P-256/P-384/P-521) is issuable under either
//! provider (rcgen on ring cannot even carry a P-521 public key), and the
//! form below is the same whichever provider signs.
//!
//! Profile of an issued LSC:
//!
//! | field | value |
//! | --- | --- |
//! | version | v3 |
//! | serial | 16 random bytes from the injected RNG, top bit cleared and the next one set (positive, always 16 content bytes, 126 random bits) |
//! | signature | sha256WithRSAEncryption for an RSA issuer (2048 bits or more: neither provider signs with less), ecdsa-with-SHA256 for a P-256 issuer, **ecdsa-with-SHA256 also for a P-384 issuer**, as the reference server signs and phones accept (neither ring nor aws-lc-rs offers P-384 with SHA-256, so that one signature is made with the RustCrypto `p384` crate, RFC 6979 nonces); P-521 issuers are not supported (ring cannot sign with P-521, and the trust evaluator's algorithm list has no P-521 under ring) |
//! | issuer | the issuing certificate's **subject**, byte for byte (so the chain verifies also for an intermediate issuer) |
//! | subject | CN = device name (UTF8String), then the issuer subject's O, OU, L, ST and C attributes in their order there, copied byte for byte (string types kept); others dropped |
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
//! // (rcgen here only makes throw-away keys for the example.)
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

use der::asn1::{AnyRef, GeneralizedTime, ObjectIdentifier, UtcTime};
use der::{Decode, Encode, Reader, SliceReader, Tag, Tagged};
use rand_core::CryptoRngCore;

use crate::capf::codec::Curve;
use crate::capf::proof::{ProofKeyKind, ProofPublicKey};
use crate::crypto_provider::{IssuerAlgorithm, IssuerKey};
use crate::time::Timestamp;

/// Shortest validity accepted, in days.
pub const MIN_VALIDITY_DAYS: u32 = 1;
/// Longest validity accepted, in days (ten years; the reference's 3560 looks
/// like a typo for this).
pub const MAX_VALIDITY_DAYS: u32 = 3650;
pub use crate::device_name::MAX_DEVICE_NAME_LEN;

/// 9999-12-31T23:59:59Z, the last instant an X.509 time can express.
const LAST_X509_SECOND: u64 = 253_402_300_799;
/// 2050-01-01T00:00:00Z: from here on X.509 times are GeneralizedTime
/// (RFC 5280 section 4.1.2.5), before it UTCTime.
const FIRST_GENERALIZED_TIME_SECOND: u64 = 2_524_608_000;
const SECONDS_PER_DAY: u64 = 86_400;

/// DER of the AlgorithmIdentifier sha256WithRSAEncryption (NULL parameters).
const ALG_SHA256_WITH_RSA: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
];
/// DER of the AlgorithmIdentifier ecdsa-with-SHA256 (no parameters).
const ALG_ECDSA_WITH_SHA256: &[u8] = &[
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
];
/// DER of the commonName attribute type (2.5.4.3).
const OID_CN_DER: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x03];
/// DER of subjectAltName's extnID (2.5.29.17).
const OID_SAN_DER: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x11];
/// keyUsage (2.5.29.15), critical, digitalSignature + keyEncipherment.
const EXT_KEY_USAGE: &[u8] = &[
    0x30, 0x0e, 0x06, 0x03, 0x55, 0x1d, 0x0f, 0x01, 0x01, 0xff, 0x04, 0x04, 0x03, 0x02, 0x05, 0xa0,
];
/// extendedKeyUsage (2.5.29.37), non-critical: serverAuth, clientAuth,
/// id-kp-ipsecEndSystem (1.3.6.1.5.5.7.3.5).
const EXT_EXTENDED_KEY_USAGE: &[u8] = &[
    0x30, 0x27, 0x06, 0x03, 0x55, 0x1d, 0x25, 0x04, 0x20, 0x30, 0x1e, 0x06, 0x08, 0x2b, 0x06, 0x01,
    0x05, 0x05, 0x07, 0x03, 0x01, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02, 0x06,
    0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x05,
];
/// basicConstraints (2.5.29.19), critical, CA:FALSE (an empty SEQUENCE).
const EXT_BASIC_CONSTRAINTS: &[u8] = &[
    0x30, 0x0c, 0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff, 0x04, 0x02, 0x30, 0x00,
];

/// DER tags used in assembling.
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const UTF8_STRING: u8 = 0x0c;
/// [0] EXPLICIT (version).
const CONTEXT_0: u8 = 0xa0;
/// [3] EXPLICIT (extensions).
const CONTEXT_3: u8 = 0xa3;
/// [6] IMPLICIT IA5String (GeneralName uniformResourceIdentifier).
const CONTEXT_6_PRIMITIVE: u8 = 0x86;

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
    /// The issuing key is not PKCS#8 of the certificate's key type, or the
    /// crypto provider rejects it (ring and aws-lc-rs both refuse RSA keys
    /// under 2048 bits). No detail on purpose.
    #[error("issuing private key does not load")]
    IssuerKey,
    /// The issuing key is of a kind that cannot sign LSCs here (P-521, ...).
    #[error("issuing key type not supported: {kind}")]
    UnsupportedIssuerKey {
        /// What the key is.
        kind: String,
    },
    /// The private key does not belong to the issuing certificate.
    #[error("issuing private key does not match the issuing certificate")]
    IssuerKeyMismatch,
    /// The issuer's subject is not usable: a multi-valued RDN (which of its
    /// attributes would go into the LSC subject is ambiguous).
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
    /// Certificate generation failed (the provider refused to sign, or an
    /// encoding failed).
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
/// The key is loaded into the crate's crypto provider (aws-lc-rs or ring,
/// see [`crate::crypto_provider`]), which keeps CA signing off the `rsa`
/// crate. Neither provider loads RSA keys under 2048 bits, so an RSA-1024
/// CAPF key gives [`IssuanceError::IssuerKey`]; P-521 issuing keys give
/// [`IssuanceError::UnsupportedIssuerKey`]. A P-384 issuing key signs with
/// ECDSA-SHA256 through the `p384` crate (see the module documentation).
pub struct LscIssuer {
    key: IssuerKey,
    algorithm: IssuerAlgorithm,
    /// The issuing certificate's subject, exactly as encoded there: the
    /// issuer field of every LSC.
    subject_der: Vec<u8>,
    /// The O, OU, L, ST, C RDNs (whole SETs, DER) copied into every LSC
    /// subject, in their order in the issuer's subject.
    copied_rdns: Vec<u8>,
    certificate_der: Vec<u8>,
}

impl core::fmt::Debug for LscIssuer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LscIssuer")
            .field("algorithm", &self.algorithm)
            .field("subject_der_len", &self.subject_der.len())
            .finish_non_exhaustive()
    }
}

impl LscIssuer {
    /// Load an issuing certificate (DER) and its unencrypted PKCS#8 private
    /// key (DER). Checks that the certificate is a CA, that the key matches
    /// it, and that its subject can be used.
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
        let key = IssuerKey::from_pkcs8(algorithm, issuer_key_pkcs8_der)
            .map_err(|_| IssuanceError::IssuerKey)?;
        let cert_key = cert
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .as_bytes()
            .ok_or(IssuanceError::IssuerKeyMismatch)?;
        if key.public_key_bytes() != cert_key {
            return Err(IssuanceError::IssuerKeyMismatch);
        }

        let subject_der = raw_subject(issuer_certificate_der)?.to_vec();
        let copied_rdns = copied_rdns(&subject_der)?;
        Ok(LscIssuer {
            key,
            algorithm,
            subject_der,
            copied_rdns,
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

    /// The DER TBSCertificate of an LSC (everything but the signature).
    fn tbs_certificate(
        &self,
        request: &LscRequest<'_>,
        serial: &[u8; 16],
        not_before: u64,
        not_after: u64,
    ) -> Result<Vec<u8>, IssuanceError> {
        let device = request.device_name.as_bytes();
        let mut tbs = Vec::with_capacity(
            self.subject_der.len()
                + self.copied_rdns.len()
                + request.subject_public_key_info_der.len()
                + 256,
        );
        // version [0] EXPLICIT INTEGER 2 (v3)
        tbs.extend_from_slice(&[CONTEXT_0, 0x03, INTEGER, 0x01, 0x02]);
        push_tlv(&mut tbs, INTEGER, serial);
        tbs.extend_from_slice(self.algorithm_identifier());
        tbs.extend_from_slice(&self.subject_der);
        let mut validity = x509_time(not_before)?;
        validity.extend_from_slice(&x509_time(not_after)?);
        push_tlv(&mut tbs, SEQUENCE, &validity);

        // subject: CN = device name, then the copied RDNs.
        let mut common_name = OID_CN_DER.to_vec();
        push_tlv(&mut common_name, UTF8_STRING, device);
        let mut attribute = Vec::with_capacity(common_name.len() + 4);
        push_tlv(&mut attribute, SEQUENCE, &common_name);
        let mut subject = Vec::with_capacity(attribute.len() + self.copied_rdns.len() + 4);
        push_tlv(&mut subject, SET, &attribute);
        subject.extend_from_slice(&self.copied_rdns);
        push_tlv(&mut tbs, SEQUENCE, &subject);

        tbs.extend_from_slice(request.subject_public_key_info_der);

        // extensions: subjectAltName (URI = device name), keyUsage,
        // extendedKeyUsage, basicConstraints, in this order.
        let mut uri = Vec::with_capacity(device.len() + 2);
        push_tlv(&mut uri, CONTEXT_6_PRIMITIVE, device);
        let mut general_names = Vec::with_capacity(uri.len() + 2);
        push_tlv(&mut general_names, SEQUENCE, &uri);
        let mut san = OID_SAN_DER.to_vec();
        push_tlv(&mut san, OCTET_STRING, &general_names);
        let mut extensions = Vec::with_capacity(160);
        push_tlv(&mut extensions, SEQUENCE, &san);
        extensions.extend_from_slice(EXT_KEY_USAGE);
        extensions.extend_from_slice(EXT_EXTENDED_KEY_USAGE);
        extensions.extend_from_slice(EXT_BASIC_CONSTRAINTS);
        let mut extensions_seq = Vec::with_capacity(extensions.len() + 4);
        push_tlv(&mut extensions_seq, SEQUENCE, &extensions);
        push_tlv(&mut tbs, CONTEXT_3, &extensions_seq);

        let mut out = Vec::with_capacity(tbs.len() + 4);
        push_tlv(&mut out, SEQUENCE, &tbs);
        Ok(out)
    }

    /// The issuer's subject as encoded in its certificate (the issuer
    /// field of what it signs).
    pub(crate) fn subject_der(&self) -> &[u8] {
        &self.subject_der
    }

    /// Signs `tbs` with the issuing key; the DER AlgorithmIdentifier of the
    /// signature goes with it.
    pub(crate) fn sign_tbs(&self, tbs: &[u8]) -> Result<Vec<u8>, IssuanceError> {
        self.key
            .sign(tbs)
            .map_err(|_| IssuanceError::Generation("the crypto provider did not sign".into()))
    }

    pub(crate) fn algorithm_identifier(&self) -> &'static [u8] {
        match self.algorithm {
            IssuerAlgorithm::RsaSha256 => ALG_SHA256_WITH_RSA,
            IssuerAlgorithm::EcdsaP256Sha256 | IssuerAlgorithm::EcdsaP384Sha256 => {
                ALG_ECDSA_WITH_SHA256
            }
        }
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

        // The SPKI must be a key we know how to judge, parse completely, and
        // be DER (it goes into the certificate byte for byte).
        check_phone_key(request.subject_public_key_info_der)?;

        let mut serial = [0u8; 16];
        rng.fill_bytes(&mut serial);
        if let Some(first) = serial.first_mut() {
            *first = (*first & 0x7F) | 0x40;
        }

        let tbs = self.tbs_certificate(request, &serial, not_before, not_after)?;
        let signature = self
            .key
            .sign(&tbs)
            .map_err(|_| IssuanceError::Generation("the crypto provider did not sign".into()))?;

        let mut bits = Vec::with_capacity(signature.len() + 1);
        bits.push(0); // no unused bits
        bits.extend_from_slice(&signature);
        let algorithm = self.algorithm_identifier();
        let mut body = Vec::with_capacity(tbs.len() + algorithm.len() + bits.len() + 8);
        body.extend_from_slice(&tbs);
        body.extend_from_slice(algorithm);
        push_tlv(&mut body, BIT_STRING, &bits);
        let mut der = Vec::with_capacity(body.len() + 4);
        push_tlv(&mut der, SEQUENCE, &body);

        Ok(IssuedCertificate {
            der,
            serial: serial.to_vec(),
            not_before: Timestamp::from_unix_seconds(not_before),
            not_after: Timestamp::from_unix_seconds(not_after),
        })
    }
}

/// A phone key the profile can carry: RSA (at most 4096 bits) or a point on
/// P-256/P-384/P-521, as a complete DER SubjectPublicKeyInfo (re-encoding it
/// gives the same bytes, so no BER form slips into the certificate).
fn check_phone_key(spki_der: &[u8]) -> Result<(), IssuanceError> {
    ProofPublicKey::from_spki_der(spki_der).map_err(|_| IssuanceError::InvalidPublicKey)?;
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der)
        .map_err(|_| IssuanceError::InvalidPublicKey)?;
    if spki.to_der().ok().as_deref() != Some(spki_der) {
        return Err(IssuanceError::InvalidPublicKey);
    }
    Ok(())
}

/// Append the DER TLV `tag ‖ length ‖ content`.
pub(crate) fn push_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    let len = content.len();
    if let Ok(short @ 0..=0x7f) = u8::try_from(len) {
        out.push(short);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let long = bytes.get(skip..).unwrap_or_default();
        // At most size_of::<usize>() bytes: always fits the 7-bit count.
        out.push(0x80 | u8::try_from(long.len()).unwrap_or(0x7f));
        out.extend_from_slice(long);
    }
    out.extend_from_slice(content);
}

/// An X.509 Time, DER: UTCTime before 2050, GeneralizedTime from 2050 on.
pub(crate) fn x509_time(unix_seconds: u64) -> Result<Vec<u8>, IssuanceError> {
    let since_epoch = std::time::Duration::from_secs(unix_seconds);
    let encoded = if unix_seconds < FIRST_GENERALIZED_TIME_SECOND {
        UtcTime::from_unix_duration(since_epoch).and_then(|t| t.to_der())
    } else {
        GeneralizedTime::from_unix_duration(since_epoch).and_then(|t| t.to_der())
    };
    encoded.map_err(|_| IssuanceError::TimeOutOfRange)
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

/// The signature an issuing key of this kind makes (module documentation:
/// the reference signs with SHA-256 on P-256 and P-384 alike).
fn signature_algorithm(kind: ProofKeyKind) -> Result<IssuerAlgorithm, IssuanceError> {
    match kind {
        ProofKeyKind::Rsa { .. } => Ok(IssuerAlgorithm::RsaSha256),
        ProofKeyKind::Ec(Curve::P256) => Ok(IssuerAlgorithm::EcdsaP256Sha256),
        ProofKeyKind::Ec(Curve::P384) => Ok(IssuerAlgorithm::EcdsaP384Sha256),
        other => Err(IssuanceError::UnsupportedIssuerKey {
            kind: format!("{other:?}"),
        }),
    }
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

/// The subject `Name` of a DER certificate, as the exact bytes found there
/// (header and content), without re-encoding: the issuer field of every LSC,
/// so the chain verifies also for an intermediate issuer.
fn raw_subject(certificate_der: &[u8]) -> Result<&[u8], IssuanceError> {
    fn walk(certificate_der: &[u8]) -> der::Result<&[u8]> {
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
        r.tlv_bytes()?; // issuer
        r.tlv_bytes()?; // validity
        r.tlv_bytes()
    }
    walk(certificate_der).map_err(IssuanceError::IssuerCertificate)
}

/// The RDNs of a DER `Name` whose attribute is O, OU, L, ST or C, as their
/// whole DER SETs concatenated in order. A multi-valued RDN anywhere is
/// refused (which of its attributes belong in the LSC subject is unclear).
fn copied_rdns(name_der: &[u8]) -> Result<Vec<u8>, IssuanceError> {
    const COPIED: [&str; 5] = [
        "2.5.4.10", // O
        "2.5.4.11", // OU
        "2.5.4.7",  // L
        "2.5.4.8",  // ST
        "2.5.4.6",  // C
    ];
    let copied: Vec<ObjectIdentifier> = COPIED
        .iter()
        .filter_map(|oid| ObjectIdentifier::new(oid).ok())
        .collect();
    let name = AnyRef::from_der(name_der).map_err(IssuanceError::IssuerCertificate)?;
    let mut rdns = SliceReader::new(name.value()).map_err(IssuanceError::IssuerCertificate)?;
    let mut out = Vec::new();
    while !rdns.is_finished() {
        let rdn = rdns.tlv_bytes().map_err(IssuanceError::IssuerCertificate)?;
        let set = AnyRef::from_der(rdn).map_err(IssuanceError::IssuerCertificate)?;
        if set.tag() != Tag::Set {
            return Err(IssuanceError::IssuerNameUnsupported);
        }
        let mut attributes =
            SliceReader::new(set.value()).map_err(IssuanceError::IssuerCertificate)?;
        let attribute = attributes
            .tlv_bytes()
            .map_err(IssuanceError::IssuerCertificate)?;
        if !attributes.is_finished() {
            return Err(IssuanceError::IssuerNameUnsupported);
        }
        let attribute = x509_cert::attr::AttributeTypeAndValue::from_der(attribute)
            .map_err(IssuanceError::IssuerCertificate)?;
        if copied.contains(&attribute.oid) {
            out.extend_from_slice(rdn);
        }
    }
    Ok(out)
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
    fn x509_times_switch_to_generalized_time_in_2050() {
        // 2049-12-31T23:59:59Z and 2050-01-01T00:00:00Z (RFC 5280 4.1.2.5).
        assert_eq!(
            x509_time(FIRST_GENERALIZED_TIME_SECOND - 1).unwrap(),
            b"\x17\x0d491231235959Z"
        );
        assert_eq!(
            x509_time(FIRST_GENERALIZED_TIME_SECOND).unwrap(),
            b"\x18\x0f20500101000000Z"
        );
        assert_eq!(
            x509_time(LAST_X509_SECOND).unwrap(),
            b"\x18\x0f99991231235959Z"
        );
    }

    #[test]
    fn long_form_lengths() {
        let mut out = Vec::new();
        push_tlv(&mut out, SEQUENCE, &[0u8; 0x7f]);
        assert_eq!(&out[..2], &[0x30, 0x7f]);
        out.clear();
        push_tlv(&mut out, SEQUENCE, &[0u8; 0x80]);
        assert_eq!(&out[..3], &[0x30, 0x81, 0x80]);
        out.clear();
        push_tlv(&mut out, SEQUENCE, &[0u8; 0x1234]);
        assert_eq!(&out[..4], &[0x30, 0x82, 0x12, 0x34]);
    }
}
