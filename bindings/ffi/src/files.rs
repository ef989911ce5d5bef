//! Trust lists (CTL/ITL), signed files and encrypted configs: parse,
//! verify, decrypt (`ctl_format::owned`).

use std::sync::Arc;

use ctl_format::{
    Certificate, HashPolicy as CoreHashPolicy, OwnedEncryptedConfig, OwnedSignedFile,
    OwnedSignedHeader, OwnedTrustList, Role,
};

/// Errors of the file API, by who is at fault. Messages carry byte
/// offsets where known, never key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum FileError {
    /// The bytes are not a well-formed file of the expected kind.
    #[error("malformed file: {0}")]
    Malformed(String),
    /// The file is well-formed and the answer is no (bad signature, wrong
    /// key, digest not allowed …).
    #[error("refused: {0}")]
    Refused(String),
    /// The caller gave something unusable (a certificate or key that does
    /// not parse).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl From<ctl_format::Error> for FileError {
    fn from(error: ctl_format::Error) -> Self {
        let message = error.to_string();
        match error {
            ctl_format::Error::Malformed(_) => Self::Malformed(message),
            ctl_format::Error::Refused(_) => Self::Refused(message),
            _ => Self::InvalidArgument(message),
        }
    }
}

/// Which signature digests are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum HashPolicy {
    /// What Cisco phones accept (SHA-1 and the SHA-2 family).
    Cisco,
    /// Any digest the format names.
    Any,
    /// SHA-512 only.
    Sha512Only,
}

impl HashPolicy {
    fn to_core(self) -> CoreHashPolicy {
        match self {
            Self::Cisco => CoreHashPolicy::CISCO,
            Self::Any => CoreHashPolicy::ANY,
            Self::Sha512Only => CoreHashPolicy::SHA512_ONLY,
        }
    }
}

/// The signed header shared by every file of the family.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SignedHeader {
    /// Header version, e.g. "1.2".
    pub version: String,
    /// Header length, bytes.
    pub header_length: u16,
    /// The signer's name as written (tag 4).
    pub signer_name: Option<String>,
    /// The signer certificate's serial number.
    pub serial_number: Vec<u8>,
    /// The signer certificate's issuer as written (tag 6).
    pub issuer_name: Option<String>,
    /// Signature digest, e.g. "SHA1".
    pub hash_algorithm: String,
    /// The signature.
    pub signature: Vec<u8>,
    /// Filename element.
    pub filename: Option<String>,
    /// Timestamp element, Unix seconds.
    pub timestamp: Option<u32>,
    /// Whether the file is encrypted.
    pub encrypted: bool,
    /// Tolerated irregularities, described.
    pub warnings: Vec<String>,
}

impl SignedHeader {
    fn from_core(header: &OwnedSignedHeader) -> Self {
        Self {
            version: header.version.to_string(),
            header_length: header.header_length,
            signer_name: header.signer_name.clone(),
            serial_number: header.serial_number.clone(),
            issuer_name: header.issuer_name.clone(),
            hash_algorithm: header.hash_algorithm.to_string(),
            signature: header.signature.clone(),
            filename: header.filename.clone(),
            timestamp: header.timestamp,
            encrypted: header.encrypted,
            warnings: header.warnings.iter().map(|w| format!("{w:?}")).collect(),
        }
    }
}

/// The role of a trust-list record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum TrustRole {
    /// System Administrator Security Token (signs the list).
    Sast,
    /// Unified CM.
    CallManager,
    /// Unified CM and TFTP.
    CallManagerTftp,
    /// TFTP server.
    Tftp,
    /// CAPF.
    Capf,
    /// SRST gateway.
    Srst,
    /// Application server.
    ApplicationServer,
    /// TVS.
    Tvs,
    /// A role code this version does not name.
    Unknown {
        /// The code.
        code: u16,
    },
}

impl TrustRole {
    pub(crate) fn to_core(self) -> Role {
        match self {
            Self::Sast => Role::Sast,
            Self::CallManager => Role::CallManager,
            Self::CallManagerTftp => Role::CallManagerTftp,
            Self::Tftp => Role::Tftp,
            Self::Capf => Role::Capf,
            Self::Srst => Role::Srst,
            Self::ApplicationServer => Role::ApplicationServer,
            Self::Tvs => Role::Tvs,
            Self::Unknown { code } => Role::from_code(code),
        }
    }

    pub(crate) fn from_core(role: Role) -> Self {
        match role {
            Role::Sast => Self::Sast,
            Role::CallManager => Self::CallManager,
            Role::CallManagerTftp => Self::CallManagerTftp,
            Role::Tftp => Self::Tftp,
            Role::Capf => Self::Capf,
            Role::Srst => Self::Srst,
            Role::ApplicationServer => Self::ApplicationServer,
            Role::Tvs => Self::Tvs,
            Role::Unknown(code) => Self::Unknown { code },
            other => Self::Unknown { code: other.code() },
        }
    }
}

/// One record of a trust list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TrustRecord {
    /// The role, if the record has one.
    pub role: Option<TrustRole>,
    /// The certificate's subject as written.
    pub subject_name: Option<String>,
    /// The certificate's issuer as written.
    pub issuer_name: Option<String>,
    /// DNS name or IP text element.
    pub dns_name: Option<String>,
    /// IPv4 address, dotted.
    pub ip_address: Option<String>,
    /// Serial number.
    pub serial_number: Option<Vec<u8>>,
    /// The certificate, DER.
    pub certificate_der: Option<Vec<u8>>,
    /// SHA-1 of the certificate.
    pub certificate_sha1: Option<Vec<u8>>,
}

/// Who signed a list whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VerifiedSigner {
    /// Index of the signer's record in `records()`.
    pub record_index: u32,
    /// The signer's certificate, DER, when the record holds one.
    pub certificate_der: Option<Vec<u8>>,
    /// The signature digest, e.g. "SHA1".
    pub hash_algorithm: String,
}

/// A parsed CTL or ITL file (`CTLFile.tlv`, `ITLFile.tlv`).
#[derive(Debug, uniffi::Object)]
pub struct TrustList {
    inner: OwnedTrustList,
}

#[uniffi::export]
impl TrustList {
    /// Parses a whole trust-list file strictly.
    #[uniffi::constructor]
    pub fn parse(bytes: Vec<u8>) -> Result<Arc<Self>, FileError> {
        Ok(Arc::new(Self {
            inner: OwnedTrustList::parse(bytes)?,
        }))
    }

    /// The signed header.
    pub fn header(&self) -> SignedHeader {
        SignedHeader::from_core(self.inner.header())
    }

    /// The records, in file order.
    pub fn records(&self) -> Vec<TrustRecord> {
        self.inner
            .records()
            .iter()
            .map(|record| TrustRecord {
                role: record.role().map(TrustRole::from_core),
                subject_name: record.subject_name(),
                issuer_name: record.issuer_name(),
                dns_name: record.dns_name(),
                ip_address: record.ip_address().map(|ip| ip.to_string()),
                serial_number: record.serial_number().map(<[u8]>::to_vec),
                certificate_der: record.certificate_der().map(<[u8]>::to_vec),
                certificate_sha1: record.certificate_sha1().map(|hash| hash.to_vec()),
            })
            .collect()
    }

    /// Checks the signature with the signer record's key under `policy`.
    pub fn verify(&self, policy: HashPolicy) -> Result<VerifiedSigner, FileError> {
        let signer = self.inner.verify(policy.to_core())?;
        Ok(VerifiedSigner {
            record_index: u32::try_from(signer.record_index).unwrap_or(u32::MAX),
            certificate_der: signer.certificate.map(|c| c.der().to_vec()),
            hash_algorithm: signer.hash_algorithm.to_string(),
        })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        self.inner.bytes().to_vec()
    }
}

impl TrustList {
    /// The owned core list (for the trust stores).
    pub(crate) fn owned(&self) -> &OwnedTrustList {
        &self.inner
    }
}

/// A verified signature of a signed file.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VerifiedSignature {
    /// The signature digest, e.g. "SHA512".
    pub hash_algorithm: String,
    /// Whether the header's issuer text names the certificate's issuer
    /// ("matches", "differs", "absent").
    pub issuer: String,
}

/// A parsed signed file (`.sgn`, `.loads`).
#[derive(Debug, uniffi::Object)]
pub struct SignedFile {
    inner: OwnedSignedFile,
}

#[uniffi::export]
impl SignedFile {
    /// Parses a signed file strictly.
    #[uniffi::constructor]
    pub fn parse(bytes: Vec<u8>) -> Result<Arc<Self>, FileError> {
        Ok(Arc::new(Self {
            inner: OwnedSignedFile::parse(bytes)?,
        }))
    }

    /// The signed header.
    pub fn header(&self) -> SignedHeader {
        SignedHeader::from_core(self.inner.header())
    }

    /// The payload (the file without its header).
    pub fn payload(&self) -> Vec<u8> {
        self.inner.payload().to_vec()
    }

    /// Whether the payload is encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.inner.is_encrypted()
    }

    /// Whether Cisco's firmware key signed it (not verifiable: its key is
    /// not public).
    pub fn is_cisco_firmware(&self) -> bool {
        self.inner.is_cisco_firmware()
    }

    /// Verifies the signature with the signer's certificate (PEM or DER).
    pub fn verify(
        &self,
        signer_certificate: Vec<u8>,
        policy: HashPolicy,
    ) -> Result<VerifiedSignature, FileError> {
        let certificate = certificate(&signer_certificate)?;
        let verified = self.inner.verify(&certificate, policy.to_core())?;
        Ok(VerifiedSignature {
            hash_algorithm: verified.hash_algorithm.to_string(),
            issuer: match verified.issuer {
                ctl_format::IssuerMatch::Matches => "matches",
                ctl_format::IssuerMatch::Differs => "differs",
                _ => "absent",
            }
            .to_owned(),
        })
    }
}

/// A parsed encrypted configuration file (`.cnf.xml.enc.sgn`).
#[derive(Debug, uniffi::Object)]
pub struct EncryptedConfig {
    inner: OwnedEncryptedConfig,
}

#[uniffi::export]
impl EncryptedConfig {
    /// Parses an encrypted config strictly.
    #[uniffi::constructor]
    pub fn parse(bytes: Vec<u8>) -> Result<Arc<Self>, FileError> {
        Ok(Arc::new(Self {
            inner: OwnedEncryptedConfig::parse(bytes)?,
        }))
    }

    /// The signed header.
    pub fn header(&self) -> SignedHeader {
        SignedHeader::from_core(self.inner.header())
    }

    /// Verifies the signature with the TFTP signer's certificate (PEM or
    /// DER), then decrypts with the phone's RSA private key (unencrypted
    /// PKCS#8, PEM or DER). Nothing is decrypted unless the signature
    /// verifies.
    ///
    /// This takes the phone's key into the process (desktops, tests); a
    /// keystore-held key needs an unwrap through the keystore, which this
    /// version does not offer.
    pub fn decrypt(
        &self,
        signer_certificate: Vec<u8>,
        phone_key_pkcs8: Vec<u8>,
        policy: HashPolicy,
    ) -> Result<Vec<u8>, FileError> {
        use rsa::pkcs8::DecodePrivateKey;
        let certificate = certificate(&signer_certificate)?;
        let der_bytes = crate::keystore::pkcs8_der_from_pem_or_der(&phone_key_pkcs8)
            .map_err(|error| FileError::InvalidArgument(error.to_string()))?;
        let key = rsa::RsaPrivateKey::from_pkcs8_der(&der_bytes).map_err(|_| {
            FileError::InvalidArgument("the phone key is not an RSA PKCS#8 key".to_owned())
        })?;
        Ok(self.inner.decrypt(&certificate, &key, policy.to_core())?)
    }
}

/// The first certificate of PEM or DER bytes.
fn certificate(bytes: &[u8]) -> Result<Certificate, FileError> {
    Certificate::all_from_pem_or_der(bytes)
        .map_err(|error| FileError::InvalidArgument(error.to_string()))?
        .into_iter()
        .next()
        .ok_or_else(|| FileError::InvalidArgument("no certificate found".to_owned()))
}
