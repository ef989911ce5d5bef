//! Building and signing a trust list (spec `tlv-files.md` sections 4 and 8.3).

use super::{Role, TrustList, record::tag};
use crate::certificate::{Certificate, NameStyle};
use crate::error::{Error, Refusal, Result, UsageError};
use crate::hash::{HashAlgorithm, HashPolicy};
use crate::header::{ElementOrder, FileVersion, HeaderSpec, sign_file};
use crate::signer::FileSigner;
use crate::tlv;
use std::net::Ipv4Addr;

/// CTL or ITL: the format is the same, only the default filename differs.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrustListKind {
    /// Certificate Trust List, `CTLFile.tlv`.
    Ctl,
    /// Identity Trust List, `ITLFile.tlv`.
    Itl,
}

impl TrustListKind {
    /// `CTLFile.tlv` or `ITLFile.tlv` (the header filename element).
    pub const fn default_filename(self) -> &'static str {
        match self {
            Self::Ctl => "CTLFile.tlv",
            Self::Itl => "ITLFile.tlv",
        }
    }
}

/// Element order inside the records (and of the header's signer info).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RecordLayout {
    /// Unified CM: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, with the DNS name (2) and
    /// IP address (10) only when given; header signer info 4, 5, 6.
    #[default]
    Cisco,
    /// certutils `tlvfile`: 1, 3, 5, 6, 4, 7, 8, 9; header signer info
    /// 4, 6, 5. certutils never writes a DNS name or an IP address; when one
    /// is given it is appended after tag 9 (2, then 10).
    Certutils,
}

/// One record to build: a certificate, its role, and optionally the
/// server's DNS name and IPv4 address (Unified CM writes both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordEntry {
    /// The certificate (RSA or EC; all its duplicated fields are taken from it).
    pub certificate: Certificate,
    /// What it is trusted for.
    pub role: Role,
    /// Host name (or address as text) for tag 2.
    pub dns_name: Option<String>,
    /// IPv4 address for tag 10.
    pub ip_address: Option<Ipv4Addr>,
}

impl RecordEntry {
    /// A record with no DNS name and no address.
    pub fn new(certificate: Certificate, role: Role) -> Self {
        Self {
            certificate,
            role,
            dns_name: None,
            ip_address: None,
        }
    }

    /// Sets the DNS name (tag 2).
    pub fn with_dns_name(mut self, dns_name: impl Into<String>) -> Self {
        self.dns_name = Some(dns_name.into());
        self
    }

    /// Sets the IPv4 address (tag 10).
    pub fn with_ip_address(mut self, ip_address: Ipv4Addr) -> Self {
        self.ip_address = Some(ip_address);
        self
    }

    /// Encodes the record in `layout` with names rendered in `style`.
    fn encode(&self, style: NameStyle, layout: RecordLayout) -> Result<Vec<u8>> {
        let certificate = &self.certificate;
        let serial = certificate.serial_number();
        let serial: &[u8] = if serial.is_empty() { &[0] } else { &serial };
        let mut out = Vec::with_capacity(certificate.der().len() * 2 + 64);
        tlv::put_element(&mut out, tag::RECORD_LENGTH, &[0, 0], "record length")?;
        let put_dns = |out: &mut Vec<u8>| match &self.dns_name {
            Some(name) => tlv::put_string(out, tag::DNS_NAME, name, "DNS name"),
            None => Ok(()),
        };
        let put_ip = |out: &mut Vec<u8>| match self.ip_address {
            Some(address) => {
                tlv::put_element(out, tag::IP_ADDRESS, &address.octets(), "IP address")
            }
            None => Ok(()),
        };
        let subject = certificate.subject_name(style);
        let issuer = certificate.issuer_name(style);
        let role = self.role.code().to_be_bytes();
        let put_subject =
            |out: &mut Vec<u8>| tlv::put_string(out, tag::SUBJECT_NAME, &subject, "subject name");
        let put_issuer =
            |out: &mut Vec<u8>| tlv::put_string(out, tag::ISSUER_NAME, &issuer, "issuer name");
        let put_role = |out: &mut Vec<u8>| tlv::put_element(out, tag::ROLE, &role, "role");
        let put_serial =
            |out: &mut Vec<u8>| tlv::put_element(out, tag::SERIAL_NUMBER, serial, "serial number");
        let put_certificate_parts = |out: &mut Vec<u8>| -> Result<()> {
            let key = certificate.record_public_key();
            tlv::put_element(out, tag::PUBLIC_KEY, key, "public key")?;
            let signature = certificate.signature_value();
            tlv::put_element(out, tag::SIGNATURE, signature, "certificate signature")?;
            tlv::put_element(out, tag::CERTIFICATE, certificate.der(), "certificate")
        };
        match layout {
            RecordLayout::Cisco => {
                put_dns(&mut out)?;
                put_subject(&mut out)?;
                put_role(&mut out)?;
                put_issuer(&mut out)?;
                put_serial(&mut out)?;
                put_certificate_parts(&mut out)?;
                put_ip(&mut out)?;
            }
            RecordLayout::Certutils => {
                put_subject(&mut out)?;
                put_issuer(&mut out)?;
                put_serial(&mut out)?;
                put_role(&mut out)?;
                put_certificate_parts(&mut out)?;
                put_dns(&mut out)?;
                put_ip(&mut out)?;
            }
        }
        let length = u16::try_from(out.len()).map_err(|_| UsageError::TooLong {
            element: "record",
            length: out.len(),
        })?;
        if let Some(slot) = out.get_mut(3..5) {
            slot.copy_from_slice(&length.to_be_bytes());
        }
        Ok(out)
    }
}

/// Builds and signs a CTL or ITL.
///
/// Defaults: SHA-1 (the only digest seen in a Cisco-made trust list; choose
/// [`HashAlgorithm::Sha512`] for current phones — [`HashAlgorithm::Sha256`]
/// is accepted but no Cisco product is known to read it), no signer-version
/// element, filename from the kind, Cisco names and layout, header version
/// 1.2. The timestamp is passed in: the library has no clock.
///
/// The signer must be listed among the records with role SAST, and its
/// certificate must belong to the key of `signer`: [`TrustListBuilder::build`]
/// verifies the result before returning it.
///
/// ```
/// use ctl_format::{Certificate, HashAlgorithm, RsaFileSigner};
/// use ctl_format::trust_list::{RecordEntry, Role, TrustList, TrustListBuilder, TrustListKind};
/// let pem = include_str!("../../../tests/vectors/tlv/keys/itlrecovery.pem");
/// let certificate = Certificate::from_pem(pem)?;
/// let signer = RsaFileSigner::from_pem(pem)?;
/// let file = TrustListBuilder::new(TrustListKind::Itl, certificate.clone(), &signer, 1_700_000_000)
///     .hash_algorithm(HashAlgorithm::Sha512)
///     .record(RecordEntry::new(certificate, Role::Sast))
///     .build()?;
/// let list = TrustList::parse(&file)?;
/// assert_eq!(list.header().filename.map(|f| f.to_string()).as_deref(), Some("ITLFile.tlv"));
/// # Ok::<(), ctl_format::Error>(())
/// ```
pub struct TrustListBuilder<'s> {
    kind: TrustListKind,
    signer_certificate: Certificate,
    signer: &'s dyn FileSigner,
    timestamp: u32,
    hash_algorithm: HashAlgorithm,
    signer_version: Option<FileVersion>,
    filename: Option<String>,
    name_style: NameStyle,
    layout: RecordLayout,
    records: Vec<RecordEntry>,
}

impl core::fmt::Debug for TrustListBuilder<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TrustListBuilder")
            .field("kind", &self.kind)
            .field("signer_certificate", &self.signer_certificate)
            .field("timestamp", &self.timestamp)
            .field("hash_algorithm", &self.hash_algorithm)
            .field("signer_version", &self.signer_version)
            .field("filename", &self.filename)
            .field("name_style", &self.name_style)
            .field("layout", &self.layout)
            .field("records", &self.records.len())
            .finish_non_exhaustive()
    }
}

impl<'s> TrustListBuilder<'s> {
    /// A builder for a list of `kind` signed by `signer` (whose certificate
    /// is `signer_certificate`) at `timestamp` (Unix seconds, UTC).
    pub fn new(
        kind: TrustListKind,
        signer_certificate: Certificate,
        signer: &'s dyn FileSigner,
        timestamp: u32,
    ) -> Self {
        Self {
            kind,
            signer_certificate,
            signer,
            timestamp,
            hash_algorithm: HashAlgorithm::Sha1,
            signer_version: None,
            filename: None,
            name_style: NameStyle::Cisco,
            layout: RecordLayout::Cisco,
            records: Vec::new(),
        }
    }

    /// The signature digest (SHA-1 by default).
    pub fn hash_algorithm(mut self, algorithm: HashAlgorithm) -> Self {
        self.hash_algorithm = algorithm;
        self
    }

    /// The signer-version element (tag 28; certutils writes 1.0 or 1.1),
    /// or `None` (the default, as Unified CM) to leave it out.
    pub fn signer_version(mut self, version: Option<FileVersion>) -> Self {
        self.signer_version = version;
        self
    }

    /// The header filename (default `CTLFile.tlv` / `ITLFile.tlv`).
    pub fn filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = Some(filename.into());
        self
    }

    /// How names are rendered in the header and the records (Cisco by default).
    pub fn name_style(mut self, style: NameStyle) -> Self {
        self.name_style = style;
        self
    }

    /// Element order of the records and of the header's signer info.
    pub fn layout(mut self, layout: RecordLayout) -> Self {
        self.layout = layout;
        self
    }

    /// Appends a record (records are written in the order added).
    pub fn record(mut self, entry: RecordEntry) -> Self {
        self.records.push(entry);
        self
    }

    /// Appends records.
    pub fn records(mut self, entries: impl IntoIterator<Item = RecordEntry>) -> Self {
        self.records.extend(entries);
        self
    }

    /// Lays out, signs and checks the file, and returns its bytes.
    ///
    /// Errors besides those of encoding and signing:
    /// [`UsageError::EcKeyNotSupported`] when the signer certificate is not RSA,
    /// [`UsageError::KeyCertificateMismatch`] when the signing key does not
    /// belong to the signer certificate, [`Refusal::SignerNotFound`] when no
    /// record lists the signer with role SAST.
    pub fn build(&self) -> Result<Vec<u8>> {
        use rsa::traits::PublicKeyParts;
        let certificate_key = self.signer_certificate.rsa_public_key()?;
        if certificate_key.size() != self.signer.signature_len() {
            return Err(UsageError::KeyCertificateMismatch.into());
        }
        let mut body = Vec::new();
        for entry in &self.records {
            body.extend_from_slice(&entry.encode(self.name_style, self.layout)?);
        }
        let spec = HeaderSpec {
            version: FileVersion::V1_2,
            signer_version: self.signer_version,
            signer_name: self.signer_certificate.subject_name(self.name_style),
            serial_number: self.signer_certificate.serial_number(),
            issuer_name: self.signer_certificate.issuer_name(self.name_style),
            hash_algorithm: self.hash_algorithm,
            filename: Some(
                self.filename
                    .clone()
                    .unwrap_or_else(|| self.kind.default_filename().to_owned()),
            ),
            timestamp: Some(self.timestamp),
            element_order: match self.layout {
                RecordLayout::Cisco => ElementOrder::Cisco,
                RecordLayout::Certutils => ElementOrder::Certutils,
            },
        };
        let file = sign_file(&spec, &body, self.signer)?;
        let list = TrustList::parse(&file)?;
        list.header()
            .verify(&file, &certificate_key, HashPolicy::ANY)
            .map_err(|error| match error {
                Error::Refused(Refusal::SignatureInvalid) => {
                    Error::from(UsageError::KeyCertificateMismatch)
                }
                other => other,
            })?;
        list.verify(&file, HashPolicy::ANY)?;
        Ok(file)
    }
}
