//! The signed header shared by CTL/ITL trust lists, `.sgn` signed files and
//! `.enc.sgn` encrypted configs (spec `tlv-files.md` sections 3 and 8).
//!
//! [`SignedHeader::parse`] reads it strictly and without copying;
//! [`sign_file`] lays one out, signs it and returns the whole file.

use crate::error::{Error, MalformedFile, Refusal, Result, UsageError};
use crate::hash::{HashAlgorithm, HashPolicy};
use crate::signer::FileSigner;
use crate::tlv::{self, PADDING_TAG, RawElement, TlvString, read_element, read_u16};
use core::fmt;

/// Header tags (the names of `show ctl`, spelled out).
pub mod tag {
    /// Header version, 2 bytes (major, minor). Always at offset 0.
    pub const VERSION: u8 = 1;
    /// Header length, uint16. Always at offset 5.
    pub const HEADER_LENGTH: u8 = 2;
    /// Signer-info container (4, 5, 6).
    pub const SIGNER_INFO: u8 = 3;
    /// Signer name, string.
    pub const SIGNER_NAME: u8 = 4;
    /// Signer serial number, minimal unsigned bytes.
    pub const SERIAL_NUMBER: u8 = 5;
    /// Issuer name of the signer, string.
    pub const ISSUER_NAME: u8 = 6;
    /// Signature-info container (8, 9).
    pub const SIGNATURE_INFO: u8 = 7;
    /// Hash algorithm code, 1 byte.
    pub const HASH_ALGORITHM: u8 = 8;
    /// Signature-algorithm-info container (10, 11).
    pub const SIGNATURE_ALGORITHM_INFO: u8 = 9;
    /// Signature algorithm, 1 byte (0 = RSA PKCS #1 v1.5).
    pub const SIGNATURE_ALGORITHM: u8 = 10;
    /// Signature modulus code, 1 byte (0..=3 for 512..4096 bits).
    pub const SIGNATURE_MODULUS: u8 = 11;
    /// The signature.
    pub const SIGNATURE: u8 = 12;
    /// Padding: one byte, no length.
    pub const PADDING: u8 = 13;
    /// Filename, string.
    pub const FILENAME: u8 = 14;
    /// Timestamp, uint32 Unix seconds.
    pub const TIMESTAMP: u8 = 15;
    /// Encryption-info container (17, 21) of encrypted configs.
    pub const ENCRYPTION_INFO: u8 = 16;
    /// IV-info container (18, 19, 20).
    pub const IV_INFO: u8 = 17;
    /// Unknown byte of the IV info (always 0).
    pub const IV_UNKNOWN: u8 = 18;
    /// AES-CBC initialisation vector.
    pub const IV: u8 = 19;
    /// Count of 0x0D bytes appended to the plaintext, uint16.
    pub const PAD_COUNT: u8 = 20;
    /// Key-info container (22, 23, 24, 25).
    pub const KEY_INFO: u8 = 21;
    /// Unknown byte of the key info (always 0).
    pub const KEY_UNKNOWN: u8 = 22;
    /// Size of the wrapped key in bits, uint16.
    pub const KEY_SIZE: u8 = 23;
    /// Key algorithm byte (1).
    pub const KEY_ALGORITHM: u8 = 24;
    /// The AES key wrapped with the phone's RSA key.
    pub const WRAPPED_KEY: u8 = 25;
    /// Plaintext digest algorithm code.
    pub const PLAINTEXT_HASH_ALGORITHM: u8 = 26;
    /// Plaintext digest.
    pub const PLAINTEXT_DIGEST: u8 = 27;
    /// Signer version, 2 bytes (certutils).
    pub const SIGNER_VERSION: u8 = 28;

    /// Whether `tag` is a container whose children follow its head.
    pub const fn is_container(tag: u8) -> bool {
        matches!(
            tag,
            SIGNER_INFO
                | SIGNATURE_INFO
                | SIGNATURE_ALGORITHM_INFO
                | ENCRYPTION_INFO
                | IV_INFO
                | KEY_INFO
        )
    }
}

/// A two-byte version of the file format (header tag 1 or signer version
/// tag 28). Named `FileVersion`, not `Version`, so it is not confused with
/// the CAPF protocol version of `capf-core` (bindings need unique names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileVersion {
    /// Major number.
    pub major: u8,
    /// Minor number.
    pub minor: u8,
}

impl FileVersion {
    /// Builds a version.
    pub const fn new(major: u8, minor: u8) -> Self {
        Self { major, minor }
    }
    /// 1.0: `.sgn` files written by certutils; signer version default.
    pub const V1_0: Self = Self::new(1, 0);
    /// 1.1: Cisco firmware files; signer version for HTTPS provisioning.
    pub const V1_1: Self = Self::new(1, 1);
    /// 1.2: CTL and ITL files.
    pub const V1_2: Self = Self::new(1, 2);
    /// 2.0: encrypted configuration files.
    pub const V2_0: Self = Self::new(2, 0);
}

impl fmt::Display for FileVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A non-fatal irregularity found while parsing.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warning {
    /// A container's declared length differs from the size of its children.
    ContainerLengthMismatch {
        /// Offset of the container's tag byte.
        offset: usize,
        /// The container's tag.
        tag: u8,
    },
    /// A string element lacks its terminating NUL.
    UnterminatedString {
        /// Offset of the element.
        offset: usize,
        /// Its tag.
        tag: u8,
    },
    /// The header length is not a multiple of 4 (every known writer pads it).
    HeaderLengthNotAligned {
        /// The header length.
        header_length: u16,
    },
}

/// One item of the header in file order, kept so the header can be written
/// back exactly as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderItem<'a> {
    /// An ordinary element.
    Element(RawElement<'a>),
    /// A container head; its children are the items that follow.
    Container {
        /// Offset of the tag byte.
        offset: usize,
        /// Tag (3, 7, 9, 16, 17 or 21).
        tag: u8,
        /// The length stored in the file.
        declared_length: u16,
    },
    /// One padding byte (tag 13).
    Padding {
        /// Its offset.
        offset: usize,
    },
}

impl HeaderItem<'_> {
    /// The item's tag.
    pub fn tag(&self) -> u8 {
        match self {
            Self::Element(element) => element.tag,
            Self::Container { tag, .. } => *tag,
            Self::Padding { .. } => PADDING_TAG,
        }
    }
    /// Offset of the item's tag byte.
    pub fn offset(&self) -> usize {
        match self {
            Self::Element(element) => element.offset,
            Self::Container { offset, .. } | Self::Padding { offset } => *offset,
        }
    }
}

/// The elements of an encrypted config (tags 16 to 27), as found. The
/// `encrypted_config` module interprets them; all are `None` in other files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncryptionElements<'a> {
    /// Tag 18.
    pub iv_unknown: Option<u8>,
    /// Tag 19.
    pub iv: Option<&'a [u8]>,
    /// Tag 20.
    pub pad_count: Option<u16>,
    /// Tag 22.
    pub key_unknown: Option<u8>,
    /// Tag 23.
    pub key_size_bits: Option<u16>,
    /// Tag 24.
    pub key_algorithm: Option<u8>,
    /// Tag 25.
    pub wrapped_key: Option<&'a [u8]>,
    /// Tag 26 (a hash-algorithm code).
    pub plaintext_hash_algorithm: Option<u8>,
    /// Tag 27.
    pub plaintext_digest: Option<&'a [u8]>,
}

impl EncryptionElements<'_> {
    /// Whether any encryption element is present.
    pub fn is_present(&self) -> bool {
        *self != Self::default()
    }
}

/// The parsed header of a signed file, borrowing from the file's bytes
/// (zero-copy). Its owned form is [`crate::OwnedSignedHeader`].
#[derive(Debug, Clone)]
pub struct SignedHeader<'a> {
    items: Vec<HeaderItem<'a>>,
    /// Header version (tag 1).
    pub version: FileVersion,
    /// Header length `H` (tag 2): records or payload start here.
    pub header_length: u16,
    /// Signer version (tag 28), when present.
    pub signer_version: Option<FileVersion>,
    /// Signer name (tag 4), when present.
    pub signer_name: Option<TlvString<'a>>,
    /// Signer serial number (tag 5), as stored.
    pub serial_number: &'a [u8],
    /// Issuer name of the signer (tag 6), when present.
    pub issuer_name: Option<TlvString<'a>>,
    /// Digest of the signature (tag 8).
    pub hash_algorithm: HashAlgorithm,
    /// Signature algorithm code (tag 10), when present (0 = RSA).
    pub signature_algorithm: Option<u8>,
    /// Signature modulus code (tag 11), when present.
    pub modulus_code: Option<u8>,
    /// The signature value (tag 12).
    pub signature: &'a [u8],
    /// Offset of the tag-12 element's tag byte.
    pub signature_offset: usize,
    /// Filename (tag 14), when present.
    pub filename: Option<TlvString<'a>>,
    /// Timestamp (tag 15, Unix seconds UTC), when present.
    pub timestamp: Option<u32>,
    /// Number of padding bytes.
    pub padding_count: usize,
    /// Encrypted-config elements (all `None` in other files).
    pub encryption: EncryptionElements<'a>,
    /// Non-fatal irregularities.
    pub warnings: Vec<Warning>,
}

/// Magic of the newer firmware container that is not this format.
const NEWER_FIRMWARE_MAGIC: [u8; 4] = [0xCD, 0x34, 0x12, 0xAB];

/// Signature length in bytes for a modulus code.
pub const fn modulus_bytes_for_code(code: u8) -> Option<usize> {
    match code {
        0 => Some(64),
        1 => Some(128),
        2 => Some(256),
        3 => Some(512),
        _ => None,
    }
}

/// Modulus code for a signature length in bytes.
pub const fn modulus_code_for_bytes(bytes: usize) -> Option<u8> {
    match bytes {
        64 => Some(0),
        128 => Some(1),
        256 => Some(2),
        512 => Some(3),
        _ => None,
    }
}

/// Checks that an RSA key can sign with `algorithm` (used by callers that
/// want a clear error before building anything).
pub fn check_key_size(signature_len: usize, algorithm: HashAlgorithm) -> Result<()> {
    let known = modulus_code_for_bytes(signature_len).is_some();
    if !known || signature_len < algorithm.output_len() + 30 {
        return Err(UsageError::UnsupportedKeySize {
            bits: signature_len.saturating_mul(8),
        }
        .into());
    }
    Ok(())
}

fn fixed<const N: usize>(element: RawElement<'_>, name: &'static str) -> Result<[u8; N]> {
    element
        .value
        .try_into()
        .map_err(|_| MalformedFile::BadValue {
            offset: element.offset,
            element: name,
            reason: "wrong length",
        })
        .map_err(Error::from)
}

impl<'a> SignedHeader<'a> {
    /// Parses the header at the start of `file` strictly (spec `tlv-files.md`
    /// section 13). The body (records or payload) is `file[header_length..]`.
    ///
    /// ```
    /// let ctl = include_bytes!("../../tests/vectors/real/cucm/CTLFile.tlv");
    /// let header = ctl_format::SignedHeader::parse(ctl).unwrap();
    /// assert_eq!(header.header_length, 312);
    /// assert_eq!(header.timestamp, Some(1430968247));
    /// ```
    pub fn parse(file: &'a [u8]) -> Result<Self> {
        if file.starts_with(&NEWER_FIRMWARE_MAGIC) {
            return Err(MalformedFile::NewerFirmwareContainer.into());
        }
        let starts_right = file.len() >= 10
            && file.first() == Some(&tag::VERSION)
            && read_u16(file, 1) == Some(2)
            && file.get(5) == Some(&tag::HEADER_LENGTH)
            && read_u16(file, 6) == Some(2);
        if !starts_right {
            return Err(MalformedFile::NotTlvFormat {
                reason: "expected a version element at offset 0 and a header-length element at offset 5",
            }.into());
        }
        let header_length = read_u16(file, 8).ok_or(MalformedFile::NotTlvFormat {
            reason: "file too short",
        })?;
        let end = usize::from(header_length);
        if end < 10 || end > file.len() {
            return Err(MalformedFile::BadHeaderLength {
                header_length,
                file_size: file.len(),
            }
            .into());
        }
        HeaderWalk::new(file, header_length).run()
    }

    /// The header's items in file order.
    pub fn items(&self) -> &[HeaderItem<'a>] {
        &self.items
    }

    /// Writes the header back from its items (byte-identical to the input
    /// for any file that parsed).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(usize::from(self.header_length));
        for item in &self.items {
            match item {
                HeaderItem::Element(element) => {
                    // Lengths came from a 16-bit field, so they fit.
                    let length = u16::try_from(element.value.len()).unwrap_or(u16::MAX);
                    out.push(element.tag);
                    out.extend_from_slice(&length.to_be_bytes());
                    out.extend_from_slice(element.value);
                }
                HeaderItem::Container {
                    tag,
                    declared_length,
                    ..
                } => {
                    out.push(*tag);
                    out.extend_from_slice(&declared_length.to_be_bytes());
                }
                HeaderItem::Padding { .. } => out.push(PADDING_TAG),
            }
        }
        out
    }

    /// The tags in file order, containers included, 13 once per padding
    /// byte (the `element_order` of the vector sidecars).
    pub fn element_order(&self) -> Vec<u8> {
        self.items.iter().map(HeaderItem::tag).collect()
    }

    /// The two parts of `file` that are signed: everything before the tag-12
    /// element and everything after it (spec section 8.1).
    pub fn signed_parts<'f>(&self, file: &'f [u8]) -> [&'f [u8]; 2] {
        let after = self
            .signature_offset
            .saturating_add(3)
            .saturating_add(self.signature.len());
        [
            file.get(..self.signature_offset).unwrap_or_default(),
            file.get(after..).unwrap_or_default(),
        ]
    }

    /// Digest of the signed message of `file` with the header's algorithm.
    pub fn signed_digest(&self, file: &[u8]) -> Vec<u8> {
        self.hash_algorithm.digest_parts(&self.signed_parts(file))
    }

    /// Verifies the signature of `file` (the bytes this header was parsed
    /// from) with `key`, refusing digests that `policy` does not allow.
    pub fn verify(&self, file: &[u8], key: &rsa::RsaPublicKey, policy: HashPolicy) -> Result<()> {
        if !policy.allows(self.hash_algorithm) {
            return Err(Refusal::HashNotAllowed {
                algorithm: self.hash_algorithm,
            }
            .into());
        }
        let digest = self.signed_digest(file);
        key.verify(self.hash_algorithm.pkcs1v15(), &digest, self.signature)
            .map_err(|_| Refusal::SignatureInvalid.into())
    }

    /// The body of `file` after the header (records or payload).
    pub fn body<'f>(&self, file: &'f [u8]) -> &'f [u8] {
        file.get(usize::from(self.header_length)..)
            .unwrap_or_default()
    }
}

/// State of one strict walk over the header.
struct HeaderWalk<'a> {
    file: &'a [u8],
    header_length: u16,
    end: usize,
    items: Vec<HeaderItem<'a>>,
    seen: [bool; 29],
    warnings: Vec<Warning>,
    version: Option<FileVersion>,
    signer_version: Option<FileVersion>,
    signer_name: Option<TlvString<'a>>,
    serial_number: Option<&'a [u8]>,
    issuer_name: Option<TlvString<'a>>,
    hash: Option<(usize, u8)>,
    signature_algorithm: Option<u8>,
    modulus: Option<(usize, u8)>,
    signature: Option<(usize, &'a [u8])>,
    filename: Option<TlvString<'a>>,
    timestamp: Option<u32>,
    encryption: EncryptionElements<'a>,
}

impl<'a> HeaderWalk<'a> {
    fn new(file: &'a [u8], header_length: u16) -> Self {
        Self {
            file,
            header_length,
            end: usize::from(header_length),
            items: Vec::new(),
            seen: [false; 29],
            warnings: Vec::new(),
            version: None,
            signer_version: None,
            signer_name: None,
            serial_number: None,
            issuer_name: None,
            hash: None,
            signature_algorithm: None,
            modulus: None,
            signature: None,
            filename: None,
            timestamp: None,
            encryption: EncryptionElements::default(),
        }
    }

    fn run(mut self) -> Result<SignedHeader<'a>> {
        let mut position = 0usize;
        let mut open_containers: Vec<(usize, u8, usize)> = Vec::new();
        let mut padding_count = 0usize;
        while position < self.end {
            self.close_containers(&mut open_containers, position);
            let tag = *self
                .file
                .get(position)
                .ok_or(MalformedFile::ElementOverrun {
                    offset: position,
                    tag: 0,
                    limit: self.end,
                })?;
            if tag == PADDING_TAG {
                self.items.push(HeaderItem::Padding { offset: position });
                padding_count += 1;
                position += 1;
                continue;
            }
            if padding_count > 0 {
                return Err(MalformedFile::BadValue {
                    offset: position,
                    element: "padding",
                    reason: "padding must end the header",
                }
                .into());
            }
            self.mark_seen(position, tag)?;
            if tag::is_container(tag) {
                let declared_length = read_u16(self.file, position + 1)
                    .filter(|_| position + 3 <= self.end)
                    .ok_or(MalformedFile::ElementOverrun {
                        offset: position,
                        tag,
                        limit: self.end,
                    })?;
                let container_end = position + 3 + usize::from(declared_length);
                if container_end > self.end {
                    return Err(MalformedFile::ElementOverrun {
                        offset: position,
                        tag,
                        limit: self.end,
                    }
                    .into());
                }
                self.items.push(HeaderItem::Container {
                    offset: position,
                    tag,
                    declared_length,
                });
                open_containers.push((position, tag, container_end));
                position += 3;
                continue;
            }
            let (tag, range) = read_element(self.file, position, self.end)?;
            let value = self.file.get(range.clone()).unwrap_or_default();
            let element = RawElement {
                offset: position,
                tag,
                value,
            };
            self.interpret(element)?;
            self.items.push(HeaderItem::Element(element));
            position = range.end;
        }
        self.close_containers(&mut open_containers, position);
        self.finish(padding_count)
    }

    fn close_containers(&mut self, open: &mut Vec<(usize, u8, usize)>, position: usize) {
        while let Some(&(offset, tag, container_end)) = open.last() {
            if position < container_end && position < self.end {
                break;
            }
            if position != container_end {
                self.warnings
                    .push(Warning::ContainerLengthMismatch { offset, tag });
            }
            open.pop();
        }
    }

    fn mark_seen(&mut self, offset: usize, tag: u8) -> Result<()> {
        let slot = self
            .seen
            .get_mut(usize::from(tag))
            .filter(|_| tag != 0)
            .ok_or(MalformedFile::UnknownHeaderTag { offset, tag })?;
        if *slot {
            return Err(MalformedFile::DuplicateElement { offset, tag }.into());
        }
        *slot = true;
        Ok(())
    }

    fn string(&mut self, element: RawElement<'a>) -> TlvString<'a> {
        let text = TlvString::from_value(element.value);
        if !text.is_terminated() {
            self.warnings.push(Warning::UnterminatedString {
                offset: element.offset,
                tag: element.tag,
            });
        }
        text
    }

    fn interpret(&mut self, element: RawElement<'a>) -> Result<()> {
        let byte = |name| fixed::<1>(element, name).map(|[value]| value);
        let word = |name| fixed::<2>(element, name).map(u16::from_be_bytes);
        match element.tag {
            tag::VERSION => {
                let [major, minor] = fixed::<2>(element, "version")?;
                self.version = Some(FileVersion { major, minor });
            }
            tag::HEADER_LENGTH => {
                word("header length")?;
            }
            tag::SIGNER_VERSION => {
                let [major, minor] = fixed::<2>(element, "signer version")?;
                self.signer_version = Some(FileVersion { major, minor });
            }
            tag::SIGNER_NAME => self.signer_name = Some(self.string(element)),
            tag::SERIAL_NUMBER => self.serial_number = Some(element.value),
            tag::ISSUER_NAME => self.issuer_name = Some(self.string(element)),
            tag::HASH_ALGORITHM => self.hash = Some((element.offset, byte("hash algorithm")?)),
            tag::SIGNATURE_ALGORITHM => {
                self.signature_algorithm = Some(byte("signature algorithm")?)
            }
            tag::SIGNATURE_MODULUS => {
                self.modulus = Some((element.offset, byte("signature modulus")?))
            }
            tag::SIGNATURE => self.signature = Some((element.offset, element.value)),
            tag::FILENAME => self.filename = Some(self.string(element)),
            tag::TIMESTAMP => {
                self.timestamp = Some(u32::from_be_bytes(fixed::<4>(element, "timestamp")?))
            }
            tag::IV_UNKNOWN => self.encryption.iv_unknown = Some(byte("IV info")?),
            tag::IV => self.encryption.iv = Some(element.value),
            tag::PAD_COUNT => self.encryption.pad_count = Some(word("pad count")?),
            tag::KEY_UNKNOWN => self.encryption.key_unknown = Some(byte("key info")?),
            tag::KEY_SIZE => self.encryption.key_size_bits = Some(word("key size")?),
            tag::KEY_ALGORITHM => self.encryption.key_algorithm = Some(byte("key algorithm")?),
            tag::WRAPPED_KEY => self.encryption.wrapped_key = Some(element.value),
            tag::PLAINTEXT_HASH_ALGORITHM => {
                self.encryption.plaintext_hash_algorithm = Some(byte("plaintext hash algorithm")?)
            }
            tag::PLAINTEXT_DIGEST => self.encryption.plaintext_digest = Some(element.value),
            other => {
                return Err(MalformedFile::UnknownHeaderTag {
                    offset: element.offset,
                    tag: other,
                }
                .into());
            }
        }
        Ok(())
    }

    fn finish(mut self, padding_count: usize) -> Result<SignedHeader<'a>> {
        let (signature_offset, signature) =
            self.signature.ok_or(MalformedFile::MissingElement {
                element: "signature",
            })?;
        let serial_number = self.serial_number.ok_or(MalformedFile::MissingElement {
            element: "serial number",
        })?;
        let (hash_offset, hash_code) = self.hash.ok_or(MalformedFile::MissingElement {
            element: "hash algorithm",
        })?;
        let hash_algorithm =
            HashAlgorithm::from_code(hash_code).ok_or(MalformedFile::UnsupportedHashAlgorithm {
                offset: hash_offset,
                code: hash_code,
            })?;
        if let Some((offset, code)) = self.modulus
            && modulus_bytes_for_code(code) != Some(signature.len())
        {
            return Err(MalformedFile::ModulusMismatch {
                offset,
                code,
                signature_length: signature.len(),
            }
            .into());
        }
        if !self.header_length.is_multiple_of(4) {
            self.warnings.push(Warning::HeaderLengthNotAligned {
                header_length: self.header_length,
            });
        }
        Ok(SignedHeader {
            items: self.items,
            version: self
                .version
                .ok_or(MalformedFile::MissingElement { element: "version" })?,
            header_length: self.header_length,
            signer_version: self.signer_version,
            signer_name: self.signer_name,
            serial_number,
            issuer_name: self.issuer_name,
            hash_algorithm,
            signature_algorithm: self.signature_algorithm,
            modulus_code: self.modulus.map(|(_, code)| code),
            signature,
            signature_offset,
            filename: self.filename,
            timestamp: self.timestamp,
            padding_count,
            encryption: self.encryption,
            warnings: self.warnings,
        })
    }
}

/// Which writer's element order to follow when building a header.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ElementOrder {
    /// Unified CM: signer info as name, serial, issuer (4, 5, 6).
    #[default]
    Cisco,
    /// certutils: signer info as name, issuer, serial (4, 6, 5).
    Certutils,
}

/// What goes into a header to be built (everything but the signature,
/// which [`sign_file`] computes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSpec {
    /// Header version (1.2 for trust lists, 1.0 for certutils `.sgn`, 2.0
    /// for encrypted configs).
    pub version: FileVersion,
    /// Signer version element (tag 28), written right after the header
    /// length when present.
    pub signer_version: Option<FileVersion>,
    /// Signer name text (tag 4).
    pub signer_name: String,
    /// Signer serial number; leading zero bytes are dropped when written.
    pub serial_number: Vec<u8>,
    /// Issuer name text of the signer (tag 6).
    pub issuer_name: String,
    /// Digest for the signature (tag 8).
    pub hash_algorithm: HashAlgorithm,
    /// Filename (tag 14).
    pub filename: Option<String>,
    /// Timestamp (tag 15), Unix seconds.
    pub timestamp: Option<u32>,
    /// Element order of the signer-info container.
    pub element_order: ElementOrder,
}

/// Builds and signs a file: header laid out as in spec section 8.3, then
/// `body`, signed by `signer` over the whole file minus the signature
/// element.
pub fn sign_file(spec: &HeaderSpec, body: &[u8], signer: &dyn FileSigner) -> Result<Vec<u8>> {
    sign_file_with_extra(spec, &[], body, signer)
}

/// As [`sign_file`], with `extra_elements` (already encoded) placed after the
/// timestamp and before the padding — where encrypted configs keep theirs.
pub(crate) fn sign_file_with_extra(
    spec: &HeaderSpec,
    extra_elements: &[u8],
    body: &[u8],
    signer: &dyn FileSigner,
) -> Result<Vec<u8>> {
    let signature_length = signer.signature_len();
    let modulus_code =
        modulus_code_for_bytes(signature_length).ok_or(UsageError::UnsupportedKeySize {
            bits: signature_length.saturating_mul(8),
        })?;
    // SHA-512's DigestInfo (83 bytes) plus 11 bytes of padding does not fit in 64.
    if signature_length < spec.hash_algorithm.output_len() + 19 + 11 {
        return Err(UsageError::UnsupportedKeySize {
            bits: signature_length.saturating_mul(8),
        }
        .into());
    }

    let mut out = Vec::with_capacity(512 + body.len());
    tlv::put_element(
        &mut out,
        tag::VERSION,
        &[spec.version.major, spec.version.minor],
        "version",
    )?;
    tlv::put_element(&mut out, tag::HEADER_LENGTH, &[0, 0], "header length")?;
    if let Some(version) = spec.signer_version {
        tlv::put_element(
            &mut out,
            tag::SIGNER_VERSION,
            &[version.major, version.minor],
            "signer version",
        )?;
    }

    let serial = match tlv::minimal_serial(&spec.serial_number) {
        [] => &[0u8][..],
        serial => serial,
    };
    let mut signer_info = Vec::new();
    tlv::put_string(
        &mut signer_info,
        tag::SIGNER_NAME,
        &spec.signer_name,
        "signer name",
    )?;
    match spec.element_order {
        ElementOrder::Cisco => {
            tlv::put_element(
                &mut signer_info,
                tag::SERIAL_NUMBER,
                serial,
                "serial number",
            )?;
            tlv::put_string(
                &mut signer_info,
                tag::ISSUER_NAME,
                &spec.issuer_name,
                "issuer name",
            )?;
        }
        ElementOrder::Certutils => {
            tlv::put_string(
                &mut signer_info,
                tag::ISSUER_NAME,
                &spec.issuer_name,
                "issuer name",
            )?;
            tlv::put_element(
                &mut signer_info,
                tag::SERIAL_NUMBER,
                serial,
                "serial number",
            )?;
        }
    }
    tlv::put_container_head(&mut out, tag::SIGNER_INFO, signer_info.len(), "signer info")?;
    out.extend_from_slice(&signer_info);

    tlv::put_container_head(&mut out, tag::SIGNATURE_INFO, 15, "signature info")?;
    tlv::put_element(
        &mut out,
        tag::HASH_ALGORITHM,
        &[spec.hash_algorithm.code()],
        "hash algorithm",
    )?;
    tlv::put_container_head(
        &mut out,
        tag::SIGNATURE_ALGORITHM_INFO,
        8,
        "signature algorithm info",
    )?;
    tlv::put_element(
        &mut out,
        tag::SIGNATURE_ALGORITHM,
        &[0],
        "signature algorithm",
    )?;
    tlv::put_element(
        &mut out,
        tag::SIGNATURE_MODULUS,
        &[modulus_code],
        "signature modulus",
    )?;

    let signature_offset = out.len();
    if let Some(filename) = &spec.filename {
        tlv::put_string(&mut out, tag::FILENAME, filename, "filename")?;
    }
    if let Some(timestamp) = spec.timestamp {
        tlv::put_element(
            &mut out,
            tag::TIMESTAMP,
            &timestamp.to_be_bytes(),
            "timestamp",
        )?;
    }
    out.extend_from_slice(extra_elements);
    while !(out.len() + 3 + signature_length).is_multiple_of(4) {
        out.push(PADDING_TAG);
    }
    let header_length = out.len() + 3 + signature_length;
    let header_length_field = u16::try_from(header_length).map_err(|_| UsageError::TooLong {
        element: "header",
        length: header_length,
    })?;
    if let Some(slot) = out.get_mut(8..10) {
        slot.copy_from_slice(&header_length_field.to_be_bytes());
    }
    out.extend_from_slice(body);

    let digest = spec.hash_algorithm.digest_parts(&[&out]);
    let signature = signer
        .sign_digest(spec.hash_algorithm, &digest)
        .map_err(|error| UsageError::Signing {
            reason: error.to_string(),
        })?;
    if signature.len() != signature_length {
        return Err(UsageError::Signing {
            reason: format!(
                "signer returned {} bytes, promised {signature_length}",
                signature.len()
            ),
        }
        .into());
    }
    let mut element = Vec::with_capacity(3 + signature_length);
    tlv::put_element(&mut element, tag::SIGNATURE, &signature, "signature")?;
    out.splice(signature_offset..signature_offset, element);
    Ok(out)
}
