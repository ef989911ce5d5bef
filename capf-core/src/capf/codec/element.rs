//! Elements: the TLVs of a frame body (spec sections 4, 6, 7 and 9).
//!
//! Each element is `tag (1) | length (2, big-endian) | value`. [`Element`]
//! has one variant per tag of section 6 with a typed value; the four tags
//! whose format nobody knows (REASON_INFO, CERT_ID, RETRY_DELAY,
//! DIGEST_TYPE) keep their value raw, and tags outside section 6 decode as
//! [`Element::Unknown`]. Encoding a decoded element gives back its value
//! byte for byte (the few free bytes, such as the certificate wrapper's
//! reserved byte and the NUL terminator of strings, are kept for that).

use core::fmt;

use subtle::ConstantTimeEq;

use super::error::{EncodeError, WireError};

/// Length of an element header (tag and value length).
pub const ELEMENT_HEADER_LEN: usize = crate::framing::ELEMENT_HEADER_LEN;

/// Defines a one-byte code enum that keeps unknown values.
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $code:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[non_exhaustive]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )*
            /// Any other value, kept as received.
            Unknown(u8),
        }

        impl $name {
            /// The value for a code; codes without a name give `Unknown`.
            pub const fn from_code(code: u8) -> Self {
                match code {
                    $( $code => Self::$variant, )*
                    other => Self::Unknown(other),
                }
            }

            /// The code sent on the wire.
            pub const fn code(self) -> u8 {
                match self {
                    $( Self::$variant => $code, )*
                    Self::Unknown(code) => code,
                }
            }
        }

        impl From<u8> for $name {
            fn from(code: u8) -> Self {
                Self::from_code(code)
            }
        }

        impl From<$name> for u8 {
            fn from(value: $name) -> Self {
                value.code()
            }
        }
    };
}

code_enum! {
    /// The tag of an element (section 6). Tags 14, 15 and 21-255 (and 0) are
    /// [`ElementTag::Unknown`].
    pub enum ElementTag {
        /// 1, REASON: one byte, [`Reason`].
        Reason = 1,
        /// 2, REASON_INFO: format unknown, never seen.
        ReasonInfo = 2,
        /// 3, CERT_TYPE: one byte, [`CertificateType`].
        CertificateType = 3,
        /// 4, CERTIFICATE: 5-byte wrapper plus DER, [`WrappedCertificate`].
        Certificate = 4,
        /// 5, CERT_ID: format unknown, never seen.
        CertificateId = 5,
        /// 6, SIGNED_DATA: bare SHA-1 signature.
        SignedData = 6,
        /// 7, VERSION: one byte, [`Version`].
        Version = 7,
        /// 8, AUTH_TYPE: one byte, [`AuthType`].
        AuthType = 8,
        /// 9, PUBLIC_KEY: DER SubjectPublicKeyInfo.
        PublicKey = 9,
        /// 10, KEY_SIZE: two bytes, RSA modulus bits.
        KeySize = 10,
        /// 11, PASSWORD: authentication string plus NUL, [`Password`].
        Password = 11,
        /// 12, RETRY_DELAY: format unknown, never seen.
        RetryDelay = 12,
        /// 13, DEVICE_NAME: device name plus NUL, [`WireDeviceName`].
        DeviceName = 13,
        /// 16, SUDI_DATA: three inner blocks, [`SudiData`].
        SudiData = 16,
        /// 17, KEY_TYPE: one byte, [`KeyType`].
        KeyType = 17,
        /// 18, CURVE: one byte, [`Curve`].
        Curve = 18,
        /// 19, DIGEST_TYPE: format unknown (presumably a hash id), never seen.
        DigestType = 19,
        /// 20, SHA2_SIGNED_DATA: hash id, length, signature, [`Sha2SignedData`].
        Sha2SignedData = 20,
    }
}

impl ElementTag {
    /// The spec's upper-case name (`REASON`, `CERT_TYPE` …), `UNKNOWN` otherwise.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Reason => "REASON",
            Self::ReasonInfo => "REASON_INFO",
            Self::CertificateType => "CERT_TYPE",
            Self::Certificate => "CERTIFICATE",
            Self::CertificateId => "CERT_ID",
            Self::SignedData => "SIGNED_DATA",
            Self::Version => "VERSION",
            Self::AuthType => "AUTH_TYPE",
            Self::PublicKey => "PUBLIC_KEY",
            Self::KeySize => "KEY_SIZE",
            Self::Password => "PASSWORD",
            Self::RetryDelay => "RETRY_DELAY",
            Self::DeviceName => "DEVICE_NAME",
            Self::SudiData => "SUDI_DATA",
            Self::KeyType => "KEY_TYPE",
            Self::Curve => "CURVE",
            Self::DigestType => "DIGEST_TYPE",
            Self::Sha2SignedData => "SHA2_SIGNED_DATA",
            Self::Unknown(_) => "UNKNOWN",
        }
    }
}

impl fmt::Display for ElementTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

code_enum! {
    /// REASON (element 1, section 7.2). Receivers must treat any value other
    /// than 0 and 1 as a failure.
    pub enum Reason {
        /// 0, "no action": nothing to do; also the normal end of a fetch.
        NoAction = 0,
        /// 1, "update certificate": success / done (always 1 in AUTH_RESPONSE).
        Success = 1,
        /// 7, "invalid element": generic failure (authentication, protocol,
        /// key generation, nothing to fetch or delete).
        Failure = 7,
        /// 9, unknown device.
        UnknownDevice = 9,
    }
}

impl Reason {
    /// True for [`Reason::Success`] only.
    pub const fn is_success(self) -> bool {
        matches!(self, Self::Success)
    }
}

code_enum! {
    /// AUTH_TYPE (element 8, section 7.3); the numbers match `capfAuthMode`.
    pub enum AuthType {
        /// 0, not stated (what the reference server always announces).
        NotStated = 0,
        /// 1, authentication string.
        AuthString = 1,
        /// 2, null string (no password).
        NullString = 2,
        /// 3, existing certificate, LSC first (falling back to the MIC).
        CertificateLscFirst = 3,
        /// 4, existing certificate, MIC first.
        CertificateMicFirst = 4,
    }
}

code_enum! {
    /// KEY_TYPE (element 17, section 7.4). Absent means RSA.
    pub enum KeyType {
        /// 0, RSA.
        Rsa = 0,
        /// 1, elliptic curve.
        Ec = 1,
    }
}

code_enum! {
    /// CURVE (element 18, section 7.5).
    pub enum Curve {
        /// 0, secp256r1 (prime256v1, NIST P-256).
        P256 = 0,
        /// 1, secp384r1 (NIST P-384).
        P384 = 1,
        /// 2, secp521r1 (NIST P-521).
        P521 = 2,
    }
}

code_enum! {
    /// Certificate type: CERT_TYPE (element 3) and byte 4 of the certificate
    /// wrapper (section 7.1).
    pub enum CertificateType {
        /// 1, Locally Significant Certificate.
        Lsc = 1,
        /// 2, Manufacturer Installed Certificate.
        Mic = 2,
    }
}

code_enum! {
    /// Hash id (section 7.6): SHA2_SIGNED_DATA header and SUDI block lead
    /// bytes. Same numbering as the CTL/ITL file format.
    pub enum HashId {
        /// 1, SHA-1.
        Sha1 = 1,
        /// 2, SHA-256 (never used by CAPF peers).
        Sha256 = 2,
        /// 3, SHA-512.
        Sha512 = 3,
    }
}

/// VERSION (element 7, section 7.8): 3 for the reference peers, 2 from Jabber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version(pub u8);

impl Version {
    /// Version 3, the one every reference peer sends.
    pub const CURRENT: Self = Self(3);
}

/// The value of a CERTIFICATE element (tag 4): a 5-byte wrapper and the DER
/// certificate (section 7.1).
///
/// Wire layout: `01 | DER length + 2 (2 bytes) | reserved | type | DER`.
/// The inner tag and length are checked on decode and computed on encode;
/// the reserved byte and the type are kept as received (receivers must not
/// reject on the type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedCertificate {
    /// Wrapper byte 3, always 0 from known peers.
    pub reserved: u8,
    /// Wrapper byte 4. The reference puts 1 (LSC) even for a MIC.
    pub certificate_type: CertificateType,
    /// The DER certificate, exactly as carried (signatures are computed over
    /// these bytes).
    pub der: Vec<u8>,
}

impl WrappedCertificate {
    /// Inner tag of the wrapper.
    pub const WRAPPER_TAG: u8 = 1;
    /// Length of the wrapper in front of the DER.
    pub const WRAPPER_LEN: usize = 5;

    /// Wraps a DER certificate with reserved byte 0 and the given type.
    pub fn new(der: Vec<u8>, certificate_type: CertificateType) -> Self {
        Self {
            reserved: 0,
            certificate_type,
            der,
        }
    }

    /// Wraps a DER certificate as every known peer does: type 1 (LSC)
    /// whatever the certificate is.
    pub fn lsc(der: Vec<u8>) -> Self {
        Self::new(der, CertificateType::Lsc)
    }
}

/// The value of a SHA2_SIGNED_DATA element (tag 20, section 9.4):
/// `hash id (1) | signature length (2) | signature`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sha2SignedData {
    /// The hash id; 3 (SHA-512) from every known peer.
    pub hash: HashId,
    /// The signature (raw PKCS#1 type-1 over the bare hash for RSA, DER
    /// ECDSA for EC).
    pub signature: Vec<u8>,
}

impl Sha2SignedData {
    /// Length of the inner header in front of the signature.
    pub const HEADER_LEN: usize = 3;

    /// A SHA-512 signature (hash id 3), as every known peer sends.
    pub fn sha512(signature: Vec<u8>) -> Self {
        Self {
            hash: HashId::Sha512,
            signature,
        }
    }
}

/// One of the three blocks of SUDI_DATA: `lead (1) | length (2) | data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SudiBlock {
    /// The lead byte as received: 0 for the certificate, a [`HashId`] code
    /// (1, 3) for the signatures.
    pub lead: u8,
    /// The block's bytes.
    pub data: Vec<u8>,
}

impl SudiBlock {
    /// The lead byte read as a hash id (meaningful for the signature blocks).
    pub const fn hash_id(&self) -> HashId {
        HashId::from_code(self.lead)
    }
}

/// The value of a SUDI_DATA element (tag 16, section 9.5): three blocks, in
/// this order, filling the value exactly.
///
/// Both signatures are over M2 = session id (4 bytes, little-endian) || the
/// certificate DER of the first block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SudiData {
    /// Block 1: the SUDI certificate (the MIC) in DER, lead byte 0.
    pub certificate: SudiBlock,
    /// Block 2: the SHA-1 signature, lead byte 1.
    pub sha1_signature: SudiBlock,
    /// Block 3: the SHA-512 signature, lead byte 3 (the only lead byte the
    /// reference server checks).
    pub sha512_signature: SudiBlock,
}

impl SudiData {
    /// The three blocks with the lead bytes the reference client writes
    /// (0, 1, 3).
    pub fn new(
        certificate_der: Vec<u8>,
        sha1_signature: Vec<u8>,
        sha512_signature: Vec<u8>,
    ) -> Self {
        Self {
            certificate: SudiBlock {
                lead: 0,
                data: certificate_der,
            },
            sha1_signature: SudiBlock {
                lead: HashId::Sha1.code(),
                data: sha1_signature,
            },
            sha512_signature: SudiBlock {
                lead: HashId::Sha512.code(),
                data: sha512_signature,
            },
        }
    }

    fn blocks(&self) -> [&SudiBlock; 3] {
        [
            &self.certificate,
            &self.sha1_signature,
            &self.sha512_signature,
        ]
    }
}

/// DEVICE_NAME (element 13): the name without its NUL terminator.
///
/// On the wire the value is the name followed by one NUL, counted in the
/// length. A value without a final NUL is accepted (and re-encoded without
/// one); only one trailing NUL is stripped.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct WireDeviceName {
    bytes: Vec<u8>,
    nul_terminated: bool,
}

impl WireDeviceName {
    /// A device name (e.g. `SEP001122334455`), sent with a NUL terminator.
    /// Give it without the terminator.
    pub fn new(name: impl Into<Vec<u8>>) -> Self {
        Self {
            bytes: name.into(),
            nul_terminated: true,
        }
    }

    /// The name's bytes, without the terminator.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The name as text, if it is UTF-8.
    pub fn to_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.bytes).ok()
    }

    /// Whether the received value ended with a NUL (always true for names
    /// built with [`WireDeviceName::new`]).
    pub const fn is_nul_terminated(&self) -> bool {
        self.nul_terminated
    }

    fn from_wire(value: &[u8]) -> Self {
        let (bytes, nul_terminated) = strip_nul(value);
        Self {
            bytes: bytes.to_vec(),
            nul_terminated,
        }
    }
}

impl fmt::Debug for WireDeviceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DeviceName")
            .field(&String::from_utf8_lossy(&self.bytes))
            .finish()
    }
}

impl fmt::Display for WireDeviceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.bytes))
    }
}

/// PASSWORD (element 11): the authentication string, a secret.
///
/// Same NUL rules as [`WireDeviceName`]; the empty string is the one-byte value
/// `00`. `Debug` never shows the value, equality is constant-time in the
/// content, and the bytes are overwritten (best effort) when dropped.
#[derive(Clone)]
pub struct Password {
    bytes: Vec<u8>,
    nul_terminated: bool,
}

impl Password {
    /// An authentication string as the user typed it (without terminator).
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self {
            bytes: secret.into(),
            nul_terminated: true,
        }
    }

    /// The empty string a phone sends in null-string and certificate modes.
    pub fn empty() -> Self {
        Self::new(Vec::new())
    }

    /// The secret's bytes, without the terminator. Do not log them.
    pub fn expose(&self) -> &[u8] {
        &self.bytes
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Whether the received value ended with a NUL.
    pub const fn is_nul_terminated(&self) -> bool {
        self.nul_terminated
    }

    /// Compares with an expected secret in time independent of the content
    /// (the lengths may still be told apart).
    pub fn ct_eq(&self, expected: &[u8]) -> bool {
        bool::from(self.bytes.as_slice().ct_eq(expected))
    }

    fn from_wire(value: &[u8]) -> Self {
        let (bytes, nul_terminated) = strip_nul(value);
        Self {
            bytes: bytes.to_vec(),
            nul_terminated,
        }
    }
}

impl PartialEq for Password {
    fn eq(&self, other: &Self) -> bool {
        self.nul_terminated == other.nul_terminated && self.ct_eq(&other.bytes)
    }
}

impl Eq for Password {}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        self.bytes.fill(0);
        core::hint::black_box(&mut self.bytes);
    }
}

/// Splits one trailing NUL off a string value.
fn strip_nul(value: &[u8]) -> (&[u8], bool) {
    match value.split_last() {
        Some((0, text)) => (text, true),
        _ => (value, false),
    }
}

/// One element of a frame body.
///
/// Decoding never produces [`Element::Unknown`] for a tag that has its own
/// variant. `Debug` of [`Element::Password`] is redacted.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element {
    /// Tag 1, REASON.
    Reason(Reason),
    /// Tag 2, REASON_INFO, raw (format unknown).
    ReasonInfo(Vec<u8>),
    /// Tag 3, CERT_TYPE.
    CertificateType(CertificateType),
    /// Tag 4, CERTIFICATE.
    Certificate(WrappedCertificate),
    /// Tag 5, CERT_ID, raw (format unknown).
    CertificateId(Vec<u8>),
    /// Tag 6, SIGNED_DATA: the bare SHA-1 signature over M1 (section 9.3).
    SignedData(Vec<u8>),
    /// Tag 7, VERSION.
    Version(Version),
    /// Tag 8, AUTH_TYPE.
    AuthType(AuthType),
    /// Tag 9, PUBLIC_KEY: a DER SubjectPublicKeyInfo.
    PublicKey(Vec<u8>),
    /// Tag 10, KEY_SIZE: RSA modulus length in bits (two bytes on the wire).
    KeySize(u16),
    /// Tag 11, PASSWORD.
    Password(Password),
    /// Tag 12, RETRY_DELAY, raw (width and unit unknown).
    RetryDelay(Vec<u8>),
    /// Tag 13, DEVICE_NAME.
    DeviceName(WireDeviceName),
    /// Tag 16, SUDI_DATA.
    SudiData(SudiData),
    /// Tag 17, KEY_TYPE.
    KeyType(KeyType),
    /// Tag 18, CURVE.
    Curve(Curve),
    /// Tag 19, DIGEST_TYPE, raw (format unknown).
    DigestType(Vec<u8>),
    /// Tag 20, SHA2_SIGNED_DATA.
    Sha2SignedData(Sha2SignedData),
    /// Any tag not in section 6, value kept raw. Never send these.
    Unknown {
        /// The tag.
        tag: u8,
        /// The value.
        value: Vec<u8>,
    },
}

impl Element {
    /// The element's tag.
    pub const fn tag(&self) -> ElementTag {
        match self {
            Self::Reason(_) => ElementTag::Reason,
            Self::ReasonInfo(_) => ElementTag::ReasonInfo,
            Self::CertificateType(_) => ElementTag::CertificateType,
            Self::Certificate(_) => ElementTag::Certificate,
            Self::CertificateId(_) => ElementTag::CertificateId,
            Self::SignedData(_) => ElementTag::SignedData,
            Self::Version(_) => ElementTag::Version,
            Self::AuthType(_) => ElementTag::AuthType,
            Self::PublicKey(_) => ElementTag::PublicKey,
            Self::KeySize(_) => ElementTag::KeySize,
            Self::Password(_) => ElementTag::Password,
            Self::RetryDelay(_) => ElementTag::RetryDelay,
            Self::DeviceName(_) => ElementTag::DeviceName,
            Self::SudiData(_) => ElementTag::SudiData,
            Self::KeyType(_) => ElementTag::KeyType,
            Self::Curve(_) => ElementTag::Curve,
            Self::DigestType(_) => ElementTag::DigestType,
            Self::Sha2SignedData(_) => ElementTag::Sha2SignedData,
            Self::Unknown { tag, .. } => ElementTag::from_code(*tag),
        }
    }

    /// Decodes one element from its tag and value. `offset` is the position
    /// of the element's tag byte in the frame; errors report offsets from
    /// the start of the frame.
    pub fn decode(tag: u8, value: &[u8], offset: usize) -> Result<Self, WireError> {
        let value_offset = offset.saturating_add(ELEMENT_HEADER_LEN);
        Ok(match ElementTag::from_code(tag) {
            ElementTag::Reason => Self::Reason(Reason::from_code(one_byte(tag, value, offset)?)),
            ElementTag::ReasonInfo => Self::ReasonInfo(value.to_vec()),
            ElementTag::CertificateType => {
                Self::CertificateType(CertificateType::from_code(one_byte(tag, value, offset)?))
            }
            ElementTag::Certificate => Self::Certificate(decode_certificate(value, value_offset)?),
            ElementTag::CertificateId => Self::CertificateId(value.to_vec()),
            ElementTag::SignedData => Self::SignedData(value.to_vec()),
            ElementTag::Version => Self::Version(Version(one_byte(tag, value, offset)?)),
            ElementTag::AuthType => {
                Self::AuthType(AuthType::from_code(one_byte(tag, value, offset)?))
            }
            ElementTag::PublicKey => Self::PublicKey(value.to_vec()),
            ElementTag::KeySize => match value {
                &[high, low] => Self::KeySize(u16::from_be_bytes([high, low])),
                _ => return Err(bad_length(tag, value, 2, offset)),
            },
            ElementTag::Password => Self::Password(Password::from_wire(value)),
            ElementTag::RetryDelay => Self::RetryDelay(value.to_vec()),
            ElementTag::DeviceName => Self::DeviceName(WireDeviceName::from_wire(value)),
            ElementTag::SudiData => Self::SudiData(decode_sudi(value, value_offset)?),
            ElementTag::KeyType => Self::KeyType(KeyType::from_code(one_byte(tag, value, offset)?)),
            ElementTag::Curve => Self::Curve(Curve::from_code(one_byte(tag, value, offset)?)),
            ElementTag::DigestType => Self::DigestType(value.to_vec()),
            ElementTag::Sha2SignedData => Self::Sha2SignedData(decode_sha2(value, value_offset)?),
            ElementTag::Unknown(_) => Self::Unknown {
                tag,
                value: value.to_vec(),
            },
        })
    }

    /// Appends the whole element (tag, length, value) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let tag = self.tag().code();
        let start = out.len();
        out.push(tag);
        out.extend_from_slice(&[0, 0]);
        self.encode_value_into(out)?;
        let length = out
            .len()
            .saturating_sub(start.saturating_add(ELEMENT_HEADER_LEN));
        patch_length(out, start.saturating_add(1), length, tag)
    }

    /// The encoded value (without tag and length), as it goes on the wire.
    pub fn value_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.encode_value_into(&mut out)?;
        Ok(out)
    }

    fn encode_value_into(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let tag = self.tag().code();
        match self {
            Self::Reason(reason) => out.push(reason.code()),
            Self::CertificateType(kind) => out.push(kind.code()),
            Self::Version(version) => out.push(version.0),
            Self::AuthType(auth) => out.push(auth.code()),
            Self::KeyType(kind) => out.push(kind.code()),
            Self::Curve(curve) => out.push(curve.code()),
            Self::KeySize(bits) => out.extend_from_slice(&bits.to_be_bytes()),
            Self::ReasonInfo(raw)
            | Self::CertificateId(raw)
            | Self::SignedData(raw)
            | Self::PublicKey(raw)
            | Self::RetryDelay(raw)
            | Self::DigestType(raw)
            | Self::Unknown { value: raw, .. } => out.extend_from_slice(raw),
            Self::Password(password) => {
                out.extend_from_slice(&password.bytes);
                if password.nul_terminated {
                    out.push(0);
                }
            }
            Self::DeviceName(name) => {
                out.extend_from_slice(&name.bytes);
                if name.nul_terminated {
                    out.push(0);
                }
            }
            Self::Certificate(certificate) => {
                // Inner length counts the reserved and type bytes: DER + 2.
                let inner = certificate.der.len().saturating_add(2);
                out.push(WrappedCertificate::WRAPPER_TAG);
                out.extend_from_slice(&length_u16(inner, tag)?.to_be_bytes());
                out.push(certificate.reserved);
                out.push(certificate.certificate_type.code());
                out.extend_from_slice(&certificate.der);
            }
            Self::Sha2SignedData(signed) => {
                out.push(signed.hash.code());
                out.extend_from_slice(&length_u16(signed.signature.len(), tag)?.to_be_bytes());
                out.extend_from_slice(&signed.signature);
            }
            Self::SudiData(sudi) => {
                for block in sudi.blocks() {
                    out.push(block.lead);
                    out.extend_from_slice(&length_u16(block.data.len(), tag)?.to_be_bytes());
                    out.extend_from_slice(&block.data);
                }
            }
        }
        Ok(())
    }
}

/// Converts a length to its 16-bit wire form.
fn length_u16(length: usize, tag: u8) -> Result<u16, EncodeError> {
    u16::try_from(length).map_err(|_| EncodeError::ValueTooLong { tag, length })
}

/// Writes a big-endian 16-bit length at `at`, reserved earlier.
fn patch_length(out: &mut [u8], at: usize, length: usize, tag: u8) -> Result<(), EncodeError> {
    let bytes = length_u16(length, tag)?.to_be_bytes();
    if let Some(slot) = out.get_mut(at..at.saturating_add(2)) {
        slot.copy_from_slice(&bytes);
    }
    Ok(())
}

/// Reads a length that came from a 16-bit field (or a slice of one) for an
/// error report.
fn declared_len(value: &[u8]) -> u16 {
    u16::try_from(value.len()).unwrap_or(u16::MAX)
}

fn bad_length(tag: u8, value: &[u8], expected: u16, offset: usize) -> WireError {
    WireError::BadValueLength {
        offset,
        tag,
        expected,
        found: declared_len(value),
    }
}

fn one_byte(tag: u8, value: &[u8], offset: usize) -> Result<u8, WireError> {
    match value {
        &[byte] => Ok(byte),
        _ => Err(bad_length(tag, value, 1, offset)),
    }
}

fn decode_certificate(value: &[u8], offset: usize) -> Result<WrappedCertificate, WireError> {
    let &[
        inner_tag,
        length_high,
        length_low,
        reserved,
        kind,
        ref der @ ..,
    ] = value
    else {
        return Err(WireError::CertificateWrapperTruncated { offset });
    };
    if inner_tag != WrappedCertificate::WRAPPER_TAG {
        return Err(WireError::BadCertificateWrapperTag {
            offset,
            found: inner_tag,
        });
    }
    let inner_length = u16::from_be_bytes([length_high, length_low]);
    let expected = value.len().saturating_sub(3);
    if usize::from(inner_length) != expected {
        return Err(WireError::BadCertificateWrapperLength {
            offset: offset.saturating_add(1),
            found: inner_length,
            expected,
        });
    }
    Ok(WrappedCertificate {
        reserved,
        certificate_type: CertificateType::from_code(kind),
        der: der.to_vec(),
    })
}

fn decode_sha2(value: &[u8], offset: usize) -> Result<Sha2SignedData, WireError> {
    let &[hash, length_high, length_low, ref signature @ ..] = value else {
        return Err(WireError::Sha2HeaderTruncated { offset });
    };
    let length = u16::from_be_bytes([length_high, length_low]);
    if usize::from(length) != signature.len() {
        return Err(WireError::BadSha2SignatureLength {
            offset: offset.saturating_add(1),
            found: length,
            expected: signature.len(),
        });
    }
    Ok(Sha2SignedData {
        hash: HashId::from_code(hash),
        signature: signature.to_vec(),
    })
}

fn decode_sudi(value: &[u8], offset: usize) -> Result<SudiData, WireError> {
    let mut rest = value;
    let mut position = offset;
    let mut next_block = |block: u8| -> Result<SudiBlock, WireError> {
        let &[lead, length_high, length_low, ref after @ ..] = rest else {
            return Err(WireError::SudiBlockHeaderTruncated {
                offset: position,
                block,
            });
        };
        let length = u16::from_be_bytes([length_high, length_low]);
        let Some((data, remaining)) = after.split_at_checked(usize::from(length)) else {
            return Err(WireError::SudiBlockOverrun {
                offset: position,
                block,
                length,
                available: after.len(),
            });
        };
        position = position
            .saturating_add(ELEMENT_HEADER_LEN)
            .saturating_add(usize::from(length));
        rest = remaining;
        Ok(SudiBlock {
            lead,
            data: data.to_vec(),
        })
    };
    let certificate = next_block(1)?;
    let sha1_signature = next_block(2)?;
    let sha512_signature = next_block(3)?;
    if !rest.is_empty() {
        return Err(WireError::SudiTrailingBytes {
            offset: position,
            extra: rest.len(),
        });
    }
    Ok(SudiData {
        certificate,
        sha1_signature,
        sha512_signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_enums_round_trip_every_byte() {
        for code in 0..=u8::MAX {
            assert_eq!(Reason::from_code(code).code(), code);
            assert_eq!(AuthType::from_code(code).code(), code);
            assert_eq!(KeyType::from_code(code).code(), code);
            assert_eq!(Curve::from_code(code).code(), code);
            assert_eq!(CertificateType::from_code(code).code(), code);
            assert_eq!(HashId::from_code(code).code(), code);
            assert_eq!(ElementTag::from_code(code).code(), code);
        }
        assert_eq!(Reason::from_code(9), Reason::UnknownDevice);
        assert_eq!(Reason::from_code(5), Reason::Unknown(5));
        assert_eq!(ElementTag::from_code(14), ElementTag::Unknown(14));
        assert_eq!(ElementTag::from_code(20).name(), "SHA2_SIGNED_DATA");
    }

    #[test]
    fn strings_strip_one_nul_and_accept_none() {
        let name = Element::decode(13, b"SEP001122334455\0", 8).unwrap();
        let Element::DeviceName(ref device) = name else {
            panic!()
        };
        assert_eq!(device.to_str(), Some("SEP001122334455"));
        assert!(device.is_nul_terminated());
        assert_eq!(name.value_bytes().unwrap(), b"SEP001122334455\0");

        let bare = Element::decode(13, b"SEP001122334455", 8).unwrap();
        let Element::DeviceName(ref device) = bare else {
            panic!()
        };
        assert_eq!(device.as_bytes(), b"SEP001122334455");
        assert!(!device.is_nul_terminated());
        assert_eq!(bare.value_bytes().unwrap(), b"SEP001122334455");

        let double = Element::decode(11, b"12\0\0", 8).unwrap();
        let Element::Password(ref password) = double else {
            panic!()
        };
        assert_eq!(password.expose(), b"12\0");
        assert_eq!(double.value_bytes().unwrap(), b"12\0\0");

        let empty = Element::decode(11, b"", 8).unwrap();
        let Element::Password(ref password) = empty else {
            panic!()
        };
        assert!(password.is_empty() && !password.is_nul_terminated());
    }

    #[test]
    fn password_debug_is_redacted() {
        let element = Element::Password(Password::new("987654"));
        let shown = format!("{element:?} {:?}", Password::new("987654"));
        assert!(!shown.contains("987654"), "{shown}");
        assert!(!shown.contains("57"), "{shown}"); // b'9' as a number
        assert!(shown.contains("redacted"));
        assert!(Password::new("987654").ct_eq(b"987654"));
        assert!(!Password::new("987654").ct_eq(b"987655"));
        assert!(!Password::new("987654").ct_eq(b"98765"));
    }

    #[test]
    fn fixed_width_integers_check_length() {
        assert_eq!(
            Element::decode(10, &[0x08, 0x00], 8).unwrap(),
            Element::KeySize(2048)
        );
        assert_eq!(
            Element::decode(10, &[0x08], 20),
            Err(WireError::BadValueLength {
                offset: 20,
                tag: 10,
                expected: 2,
                found: 1
            })
        );
        for tag in [1, 3, 7, 8, 17, 18] {
            assert_eq!(
                Element::decode(tag, &[], 8),
                Err(WireError::BadValueLength {
                    offset: 8,
                    tag,
                    expected: 1,
                    found: 0
                })
            );
            assert!(Element::decode(tag, &[1, 2], 8).is_err());
        }
    }

    #[test]
    fn certificate_wrapper_is_checked_but_type_is_free() {
        let ok = [1, 0, 5, 0, 2, 0x30, 0x01, 0x00];
        let element = Element::decode(4, &ok, 8).unwrap();
        assert_eq!(
            element,
            Element::Certificate(WrappedCertificate {
                reserved: 0,
                certificate_type: CertificateType::Mic,
                der: vec![0x30, 0x01, 0x00]
            })
        );
        assert_eq!(element.value_bytes().unwrap(), ok);
        assert_eq!(
            Element::decode(4, &[1, 0, 2, 0], 8),
            Err(WireError::CertificateWrapperTruncated { offset: 11 })
        );
        assert_eq!(
            Element::decode(4, &[2, 0, 2, 0, 1], 8),
            Err(WireError::BadCertificateWrapperTag {
                offset: 11,
                found: 2
            })
        );
        assert_eq!(
            Element::decode(4, &[1, 0, 5, 0, 1], 8),
            Err(WireError::BadCertificateWrapperLength {
                offset: 12,
                found: 5,
                expected: 2
            })
        );
    }

    #[test]
    fn sha2_header_is_checked() {
        let element = Element::decode(20, &[3, 0, 2, 0xAA, 0xBB], 8).unwrap();
        assert_eq!(
            element,
            Element::Sha2SignedData(Sha2SignedData::sha512(vec![0xAA, 0xBB]))
        );
        assert_eq!(
            Element::decode(20, &[3, 0], 8),
            Err(WireError::Sha2HeaderTruncated { offset: 11 })
        );
        assert_eq!(
            Element::decode(20, &[3, 0, 3, 0xAA, 0xBB], 8),
            Err(WireError::BadSha2SignatureLength {
                offset: 12,
                found: 3,
                expected: 2
            })
        );
    }

    #[test]
    fn sudi_blocks_are_checked() {
        let ok = [0, 0, 1, 0x30, 1, 0, 1, 0xAA, 3, 0, 2, 0xBB, 0xCC];
        let element = Element::decode(16, &ok, 8).unwrap();
        assert_eq!(
            element,
            Element::SudiData(SudiData::new(vec![0x30], vec![0xAA], vec![0xBB, 0xCC]))
        );
        assert_eq!(element.value_bytes().unwrap(), ok);
        // value starts at 11; block 2 at 15, block 3 at 19, end at 24.
        assert_eq!(
            Element::decode(16, &ok[..5], 8),
            Err(WireError::SudiBlockHeaderTruncated {
                offset: 15,
                block: 2
            })
        );
        assert_eq!(
            Element::decode(16, &ok[..12], 8),
            Err(WireError::SudiBlockOverrun {
                offset: 19,
                block: 3,
                length: 2,
                available: 1
            })
        );
        let mut long = ok.to_vec();
        long.push(0);
        assert_eq!(
            Element::decode(16, &long, 8),
            Err(WireError::SudiTrailingBytes {
                offset: 24,
                extra: 1
            })
        );
        assert_eq!(
            Element::decode(16, &[], 8),
            Err(WireError::SudiBlockHeaderTruncated {
                offset: 11,
                block: 1
            })
        );
    }

    #[test]
    fn oversized_values_do_not_encode() {
        let huge = Element::Certificate(WrappedCertificate::lsc(vec![0; 65_534]));
        assert_eq!(
            huge.value_bytes(),
            Err(EncodeError::ValueTooLong {
                tag: 4,
                length: 65_536
            })
        );
        let mut out = Vec::new();
        let too_long = Element::PublicKey(vec![0; 65_536]);
        assert_eq!(
            too_long.encode_into(&mut out),
            Err(EncodeError::ValueTooLong {
                tag: 9,
                length: 65_536
            })
        );
    }

    #[test]
    fn unknown_tags_keep_their_value() {
        let element = Element::decode(14, &[1, 2, 3], 8).unwrap();
        assert_eq!(
            element,
            Element::Unknown {
                tag: 14,
                value: vec![1, 2, 3]
            }
        );
        assert_eq!(element.tag(), ElementTag::Unknown(14));
        let mut out = Vec::new();
        element.encode_into(&mut out).unwrap();
        assert_eq!(out, [14, 0, 3, 1, 2, 3]);
    }
}
