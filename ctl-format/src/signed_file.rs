//! Signed files: `.sgn` configuration files and Cisco firmware `.loads`
//! (spec `sgn-files.md` sections 1 to 4).
//!
//! A signed file is the shared signed header ([`SignedHeader`]) followed by
//! the original file, byte for byte (the payload, possibly empty).
//! [`SignedFile::parse`] reads one without copying; [`SignedFile::verify`]
//! checks it against the signer's certificate; [`sign`] builds one.
//!
//! ```
//! use ctl_format::signed_file::SignedFile;
//! let loads = include_bytes!("../../tests/vectors/real/firmware/sccp/term41.default.loads");
//! let file = SignedFile::parse(loads).unwrap();
//! assert_eq!(file.payload().len(), 234);
//! assert!(file.is_cisco_firmware());
//! ```

use crate::certificate::{Certificate, NameStyle};
use crate::error::{Error, Refusal, Result, UsageError};
use crate::hash::{HashAlgorithm, HashPolicy};
use crate::header::{ElementOrder, FileVersion, HeaderSpec, SignedHeader};
use crate::signer::FileSigner;
use crate::tlv::minimal_serial;

/// Signer name written by Cisco's firmware signer (spec section 2.1).
pub const CISCO_FIRMWARE_SIGNER_NAME: &str = "CN=someSigner;OU=someOrgUnit;O=someOrg";
/// Issuer name written by Cisco's firmware signer.
pub const CISCO_FIRMWARE_ISSUER_NAME: &str = "CN=someCA;OU=someOrgUnit;O=someOrg";
/// Serial number written by Cisco's firmware signer.
pub const CISCO_FIRMWARE_SERIAL: [u8; 8] = [0x12, 0x34, 0x56, 0x78, 0x90, 0xAB, 0xCD, 0xEF];

/// What can be said about a file's signature before any certificate is
/// given.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureStatus {
    /// Signed by Cisco's firmware key (placeholder signer and serial): the
    /// key is not public, so the signature cannot be checked. Parse, report
    /// and strip only (spec section 3).
    UnverifiableCiscoFirmware,
    /// An ordinary signed file: verify it with [`SignedFile::verify`] and the
    /// certificate whose serial the header names.
    NeedsSignerCertificate,
}

/// How the header's issuer-name text (tag 6) compares with the issuer of the
/// certificate that verified the signature.
///
/// Names are free text with no canonical form across writers (spec
/// `tlv-files.md` section 6), so the issuer is *reported*, not required: the
/// serial number and the signature are the real check.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuerMatch {
    /// The header text equals the certificate's issuer rendered the
    /// certutils way or the Unified CM way.
    Matches,
    /// The header text differs from both renderings (another writer's
    /// style, or a different issuer with the same serial).
    Differs,
    /// The header has no issuer-name element.
    Absent,
}

/// The outcome of a successful [`SignedFile::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The digest the signature uses.
    pub hash_algorithm: HashAlgorithm,
    /// Whether the header's issuer text names the certificate's issuer.
    pub issuer: IssuerMatch,
}

/// A parsed signed file, borrowing the file's bytes (zero-copy). Its owned
/// form is [`crate::OwnedSignedFile`] ([`SignedFile::into_owned`]).
#[derive(Clone)]
pub struct SignedFile<'a> {
    file: &'a [u8],
    header: SignedHeader<'a>,
}

impl core::fmt::Debug for SignedFile<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The payload is summarised, never printed.
        f.debug_struct("SignedFile")
            .field("header", &self.header)
            .field("payload_length", &self.payload().len())
            .finish()
    }
}

impl<'a> SignedFile<'a> {
    /// Parses a signed file strictly: the header as in spec `tlv-files.md`
    /// section 13, the payload from the header length to the end of the
    /// file. Encrypted configs (`.enc.sgn`) parse as well: their payload is
    /// the ciphertext.
    ///
    /// A newer firmware container (`CD 34 12 AB …`) gives
    /// [`MalformedFile::NewerFirmwareContainer`](crate::MalformedFile::NewerFirmwareContainer).
    pub fn parse(file: &'a [u8]) -> Result<Self> {
        let header = SignedHeader::parse(file)?;
        Ok(Self { file, header })
    }

    /// The parsed header.
    pub fn header(&self) -> &SignedHeader<'a> {
        &self.header
    }

    /// The whole file as given to [`SignedFile::parse`].
    pub fn bytes(&self) -> &'a [u8] {
        self.file
    }

    /// Offset of the payload: the header length `H`.
    pub fn payload_offset(&self) -> usize {
        usize::from(self.header.header_length)
    }

    /// The payload: bytes `H` to the end of the file (may be empty). Not
    /// authenticated until [`SignedFile::verify`] succeeds.
    pub fn payload(&self) -> &'a [u8] {
        self.header.body(self.file)
    }

    /// Removes the header, giving back the original file (what certutils
    /// `stripsgn` does). The signature is not checked.
    pub fn strip(&self) -> &'a [u8] {
        self.payload()
    }

    /// Whether the file carries encrypted-config elements (tags 16 to 27).
    pub fn is_encrypted(&self) -> bool {
        self.header.encryption.is_present()
    }

    /// Whether the header names Cisco's firmware signer (placeholder name or
    /// placeholder serial `1234567890abcdef`).
    pub fn is_cisco_firmware(&self) -> bool {
        let placeholder_name = self
            .header
            .signer_name
            .is_some_and(|name| name.as_bytes() == CISCO_FIRMWARE_SIGNER_NAME.as_bytes());
        placeholder_name || minimal_serial(self.header.serial_number) == CISCO_FIRMWARE_SERIAL
    }

    /// What can be said about the signature without a certificate.
    pub fn signature_status(&self) -> SignatureStatus {
        if self.is_cisco_firmware() {
            SignatureStatus::UnverifiableCiscoFirmware
        } else {
            SignatureStatus::NeedsSignerCertificate
        }
    }

    /// Verifies the file against the signer's certificate.
    ///
    /// 1. The certificate's serial number must equal header tag 5 (compared
    ///    as integers); otherwise [`Refusal::SignerMismatch`], or
    ///    [`Refusal::UnverifiableCiscoFirmware`] when the header names Cisco's
    ///    placeholder firmware signer.
    /// 2. The digest (tag 8) must be allowed by `policy`.
    /// 3. The RSA PKCS #1 v1.5 signature over the file minus the tag-12
    ///    element must verify with the certificate's key.
    ///
    /// The issuer-name text (tag 6) is not required to match, because each
    /// writer renders names its own way; how it compares is reported in
    /// [`Verified::issuer`]. Whether the certificate is *trusted* (present in
    /// the phone's CTL or ITL with the TFTP role) is the caller's decision.
    pub fn verify(&self, certificate: &Certificate, policy: HashPolicy) -> Result<Verified> {
        if !certificate.has_serial(self.header.serial_number) {
            if self.is_cisco_firmware() {
                return Err(Refusal::UnverifiableCiscoFirmware.into());
            }
            return Err(Refusal::SignerMismatch {
                header_serial: hex_lower(minimal_serial(self.header.serial_number)),
                certificate_serial: hex_lower(&certificate.serial_number()),
            }
            .into());
        }
        let key = certificate.rsa_public_key()?;
        self.header.verify(self.file, &key, policy)?;
        Ok(Verified {
            hash_algorithm: self.header.hash_algorithm,
            issuer: issuer_match(&self.header, certificate),
        })
    }
}

fn issuer_match(header: &SignedHeader<'_>, certificate: &Certificate) -> IssuerMatch {
    let Some(text) = header.issuer_name else {
        return IssuerMatch::Absent;
    };
    let matches = [NameStyle::Certutils, NameStyle::Cisco]
        .into_iter()
        .any(|style| certificate.issuer_name(style).as_bytes() == text.as_bytes());
    if matches {
        IssuerMatch::Matches
    } else {
        IssuerMatch::Differs
    }
}

/// Lower-case hex of `bytes` (serials in messages).
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    use core::fmt::Write;
    let mut out = String::with_capacity(bytes.len().saturating_mul(2));
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// How [`sign`] lays out the header. [`SignOptions::certutils`] matches
/// certutils `sgnfile` byte for byte; [`SignOptions::cisco`] follows the
/// Unified CM conventions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOptions {
    /// Digest of the signature (tag 8): SHA-1 or SHA-512 for phones.
    pub hash_algorithm: HashAlgorithm,
    /// Filename element (tag 14). certutils writes the output name
    /// *including* `.sgn`, e.g. `SEP001122334455.cnf.xml.sgn`.
    pub filename: Option<String>,
    /// Timestamp element (tag 15), Unix seconds UTC. Passed in: this crate
    /// never reads the clock.
    pub timestamp: Option<u32>,
    /// Header version (tag 1): 1.0 for certutils `.sgn` files.
    pub version: FileVersion,
    /// How the signer and issuer names are rendered.
    pub name_style: NameStyle,
    /// Order of the signer-info children (certutils 4, 6, 5; Cisco 4, 5, 6).
    pub element_order: ElementOrder,
}

impl SignOptions {
    /// certutils `sgnfile` layout: version 1.0, names in certificate order
    /// with RFC 4514 escaping, signer info 4, 6, 5, filename and timestamp.
    pub fn certutils(hash_algorithm: HashAlgorithm, filename: &str, timestamp: u32) -> Self {
        Self {
            hash_algorithm,
            filename: Some(filename.to_owned()),
            timestamp: Some(timestamp),
            version: FileVersion::V1_0,
            name_style: NameStyle::Certutils,
            element_order: ElementOrder::Certutils,
        }
    }

    /// Unified CM conventions: names `CN=…;OU=…;O=…;L=…;ST=…;C=…`, signer
    /// info 4, 5, 6, version 1.0 (the version Unified CM writes for `.sgn`
    /// files is not known from a sample), filename and timestamp.
    pub fn cisco(hash_algorithm: HashAlgorithm, filename: &str, timestamp: u32) -> Self {
        Self {
            name_style: NameStyle::Cisco,
            element_order: ElementOrder::Cisco,
            ..Self::certutils(hash_algorithm, filename, timestamp)
        }
    }

    /// The header spec for a given signer certificate.
    pub(crate) fn header_spec(&self, signer_certificate: &Certificate) -> HeaderSpec {
        HeaderSpec {
            version: self.version,
            signer_version: None,
            signer_name: signer_certificate.subject_name(self.name_style),
            serial_number: signer_certificate.serial_number(),
            issuer_name: signer_certificate.issuer_name(self.name_style),
            hash_algorithm: self.hash_algorithm,
            filename: self.filename.clone(),
            timestamp: self.timestamp,
            element_order: self.element_order,
        }
    }
}

/// Builds a signed file: header naming `signer_certificate`, then `payload`
/// unchanged, signed by `signer` (whose key must belong to the certificate).
///
/// The result is checked against the certificate before it is returned, so
/// a key that does not match the certificate gives
/// [`UsageError::KeyCertificateMismatch`] instead of a file no phone accepts.
pub fn sign(
    payload: &[u8],
    signer_certificate: &Certificate,
    signer: &dyn FileSigner,
    options: &SignOptions,
) -> Result<Vec<u8>> {
    let key = signer_certificate.rsa_public_key()?;
    let spec = options.header_spec(signer_certificate);
    let file = crate::header::sign_file(&spec, payload, signer)?;
    check_signed_by(&file, &key)?;
    Ok(file)
}

/// Verifies a freshly built file with the signer certificate's key.
pub(crate) fn check_signed_by(file: &[u8], key: &rsa::RsaPublicKey) -> Result<()> {
    let header = SignedHeader::parse(file)?;
    header
        .verify(file, key, HashPolicy::ANY)
        .map_err(|error| match error {
            Error::Refused(Refusal::SignatureInvalid) => UsageError::KeyCertificateMismatch.into(),
            other => other,
        })
}
