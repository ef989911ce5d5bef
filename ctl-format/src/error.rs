//! The errors of this crate, split by who is at fault.
//!
//! Every fallible call returns [`Error`], a small enum over three causes a
//! caller (or a language binding) tells apart:
//!
//! * [`MalformedFile`] — **the input is bad**: the bytes are not a
//!   well-formed Cisco signed file, trust list, encrypted config,
//!   certificate or configuration XML. Parse errors keep the byte offset of
//!   the element at fault ([`MalformedFile::offset`]). A host should say
//!   "this file is damaged or not what you think" (bindings:
//!   `capf.ParseError(offset)`).
//! * [`Refusal`] — **the answer is no**: the input is well-formed, but the
//!   signature does not verify, the signer is not the one expected or not
//!   held, the digest is not allowed by the caller's policy, or the key
//!   given does not decrypt it. This is the verdict the caller asked for,
//!   not a failure of the call (bindings: `capf.VerificationError`).
//! * [`UsageError`] — **the caller gave something unusable**: a private key
//!   that cannot be read or is the wrong kind or size, a value too long for
//!   the format, a signer that fails or whose key does not belong to its
//!   certificate (bindings: `capf.UsageError`).
//!
//! Each enum is `#[non_exhaustive]`; [`Error::fault`] names the cause
//! without matching. `?` converts any of the three into [`Error`].
//!
//! ```
//! use ctl_format::{Fault, TrustList};
//! let error = TrustList::parse(b"not a trust list").unwrap_err();
//! assert_eq!(error.fault(), Fault::Malformed);
//! assert_eq!(error.offset(), Some(0));
//! ```
//!
//! No variant ever carries key material, plaintext or a secret: messages
//! name elements, offsets, lengths, serial numbers and algorithms only.

use crate::hash::HashAlgorithm;

/// Any error of this crate: which of the three causes, with the detail.
///
/// Its message is the message of the inner error, unchanged.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input is not a well-formed file of the expected kind.
    #[error(transparent)]
    Malformed(#[from] MalformedFile),
    /// The input is well-formed and the answer to the question asked is no.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The caller gave an unusable key, value or signer.
    #[error(transparent)]
    Misuse(#[from] UsageError),
}

/// Who is at fault for an [`Error`] (see the [module documentation](self)).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// [`Error::Malformed`]: the input bytes are bad.
    Malformed,
    /// [`Error::Refused`]: the answer is no.
    Refused,
    /// [`Error::Misuse`]: the caller gave something unusable.
    Misuse,
}

impl Error {
    /// Which of the three causes this is.
    pub fn fault(&self) -> Fault {
        match self {
            Self::Malformed(_) => Fault::Malformed,
            Self::Refused(_) => Fault::Refused,
            Self::Misuse(_) => Fault::Misuse,
        }
    }

    /// The byte offset of the element at fault, for malformed input that
    /// has one (see [`MalformedFile::offset`]); `None` otherwise.
    pub fn offset(&self) -> Option<usize> {
        match self {
            Self::Malformed(error) => error.offset(),
            Self::Refused(_) | Self::Misuse(_) => None,
        }
    }
}

/// The input is bad: not a well-formed Cisco signed file, trust list or
/// encrypted config, or a certificate or configuration XML that cannot be
/// read.
///
/// Offsets count bytes from the start of the file (for [`MalformedFile::BadXml`],
/// of the XML document). Nothing here depends on keys or policy: the same
/// bytes give the same error whoever reads them.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedFile {
    /// The bytes do not start like a Cisco TLV file (tag 1 version at
    /// offset 0, tag 2 header length at offset 5).
    #[error("not a Cisco TLV file: {reason}")]
    NotTlvFormat {
        /// What was wrong.
        reason: &'static str,
    },
    /// A newer Cisco firmware container (magic `CD 34 12 AB`), not this format.
    #[error(
        "this is a newer Cisco firmware container (starts CD 34 12 AB), not the TLV signed-file format"
    )]
    NewerFirmwareContainer,
    /// The header-length element is smaller than 10 or larger than the file.
    #[error("bad header length {header_length} (file is {file_size} bytes)")]
    BadHeaderLength {
        /// The declared header length.
        header_length: u16,
        /// The size of the whole file.
        file_size: usize,
    },
    /// An element (or its 3-byte head) runs past the end of the region that
    /// contains it (the header, a container or a record).
    #[error("element with tag {tag} at offset {offset} runs past offset {limit}")]
    ElementOverrun {
        /// Offset of the element's tag byte.
        offset: usize,
        /// The element's tag.
        tag: u8,
        /// End of the region it must fit in.
        limit: usize,
    },
    /// A header element whose tag this format does not define.
    #[error("unknown header tag {tag} at offset {offset}")]
    UnknownHeaderTag {
        /// Offset of the tag byte.
        offset: usize,
        /// The tag.
        tag: u8,
    },
    /// A header element that may occur once occurs again.
    #[error("duplicate header element {tag} at offset {offset}")]
    DuplicateElement {
        /// Offset of the second occurrence.
        offset: usize,
        /// The tag.
        tag: u8,
    },
    /// A required element is absent.
    #[error("missing {element} element")]
    MissingElement {
        /// Which element (by its name in the spec).
        element: &'static str,
    },
    /// An element's value has the wrong length or an impossible value.
    #[error("bad {element} value at offset {offset}: {reason}")]
    BadValue {
        /// Offset of the element's tag byte.
        offset: usize,
        /// Which element.
        element: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The hash-algorithm code (header tag 8, or tag 26) is not 1, 2 or 3.
    #[error("unsupported hash algorithm code {code} at offset {offset}")]
    UnsupportedHashAlgorithm {
        /// Offset of the element.
        offset: usize,
        /// The code found.
        code: u8,
    },
    /// The signature-modulus code (tag 11) does not match the signature length.
    #[error(
        "signature modulus code {code} does not match a {signature_length}-byte signature (offset {offset})"
    )]
    ModulusMismatch {
        /// Offset of the tag-11 element.
        offset: usize,
        /// The modulus code.
        code: u8,
        /// The length of the tag-12 signature.
        signature_length: usize,
    },
    /// A record does not start with tag 1 (length 2), is shorter than 5
    /// bytes, or does not fit in the file.
    #[error("truncated record at offset {offset}")]
    TruncatedRecord {
        /// Offset of the record (or of what should have been one).
        offset: usize,
    },
    /// Bytes follow the last record of a trust list.
    #[error("trailing data at offset {offset}")]
    TrailingData {
        /// Where the unexpected bytes start.
        offset: usize,
    },
    /// A trust-list record holds a second element with a tag that may occur
    /// once per record (tags 1 to 12).
    #[error("duplicate record element {tag} at offset {offset}")]
    DuplicateRecordElement {
        /// Offset of the second occurrence.
        offset: usize,
        /// The tag.
        tag: u8,
    },
    /// The file is not an encrypted configuration, or lacks an encryption element.
    ///
    /// Malformed, not a refusal: the bytes are not the kind of file the
    /// call reads (as a trust list given to a `.sgn` reader would be).
    #[error("not an encrypted configuration file: {reason}")]
    NotEncrypted {
        /// Why.
        reason: &'static str,
    },
    /// A certificate (from a file or given by the caller) could not be read.
    ///
    /// Malformed input whoever supplied it: a certificate is data to be
    /// judged (a record of a trust list, a PEM file named on a command
    /// line), unlike a private key ([`UsageError::BadPrivateKey`]), which is
    /// the caller's own credential.
    #[error("bad certificate: {reason}")]
    BadCertificate {
        /// Why.
        reason: String,
    },
    /// The configuration XML could not be read far enough to build the
    /// reduced configuration. Malformed input: its offset counts bytes from
    /// the start of the XML document.
    #[error("bad configuration XML at offset {offset}: {reason}")]
    BadXml {
        /// Byte offset in the XML document.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

impl MalformedFile {
    /// The byte offset of the element at fault, when the error has one:
    /// from the start of the file, or of the XML document for
    /// [`MalformedFile::BadXml`].
    pub fn offset(&self) -> Option<usize> {
        match self {
            Self::ElementOverrun { offset, .. }
            | Self::UnknownHeaderTag { offset, .. }
            | Self::DuplicateElement { offset, .. }
            | Self::BadValue { offset, .. }
            | Self::UnsupportedHashAlgorithm { offset, .. }
            | Self::ModulusMismatch { offset, .. }
            | Self::TruncatedRecord { offset }
            | Self::TrailingData { offset }
            | Self::DuplicateRecordElement { offset, .. }
            | Self::BadXml { offset, .. } => Some(*offset),
            Self::NotTlvFormat { .. } | Self::NewerFirmwareContainer => Some(0),
            Self::BadHeaderLength { .. } => Some(5),
            Self::MissingElement { .. }
            | Self::NotEncrypted { .. }
            | Self::BadCertificate { .. } => None,
        }
    }
}

/// The answer is no: the input is well-formed, but its signature, its
/// signer, its digest or the key given to decrypt it is not accepted.
///
/// This is what verification is for; a host reports it as a verdict about
/// the file, not as a fault of the file or of the call.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The signature does not verify.
    #[error("signature invalid")]
    SignatureInvalid,
    /// The file is signed with a hash the caller's policy does not allow.
    #[error("hash algorithm {algorithm} is not allowed by policy")]
    HashNotAllowed {
        /// The algorithm the file uses.
        algorithm: HashAlgorithm,
    },
    /// No role-0 (SAST) record matches the header's serial number and issuer.
    #[error("signer not found: no SAST record matches the header serial number and issuer")]
    SignerNotFound,
    /// A role-0 record has the header's signer serial number but its issuer
    /// name differs from the header's: not accepted as the signer (spec 8.4).
    #[error(
        "signer not found: record {record_index} (SAST) has the header's serial number but not its issuer name"
    )]
    SignerIssuerMismatch {
        /// Index of the record (from 0) that matched by serial alone.
        record_index: usize,
    },
    /// The signer record carries no usable RSA certificate or key.
    ///
    /// A refusal: the list is well-formed, but its signer cannot vouch for
    /// it (an EC key, or a key element that is not RSA), so a phone
    /// rejects it exactly as it rejects a bad signature.
    #[error("the signer's certificate holds no RSA key")]
    SignerKeyUnusable,
    /// Rollover refused: the previous trust list does not hold the new
    /// list's signer (neither its certificate nor its key).
    #[error("rollover refused: the previous trust list does not hold the new list's signer")]
    SignerNotInPreviousList,
    /// Rollover refused: the previous trust list holds the new list's signer,
    /// but not with role SAST (0).
    #[error(
        "rollover refused: the previous trust list holds the new list's signer only with role code(s) {role_codes:?}, not SAST (0)"
    )]
    SignerNotSastInPreviousList {
        /// The roles it has there.
        role_codes: Vec<u16>,
    },
    /// The certificate given to verify a signed file is not the one the
    /// header names: its serial number differs from header tag 5.
    #[error(
        "the file names signer serial {header_serial}, but the certificate given has serial {certificate_serial}"
    )]
    SignerMismatch {
        /// Serial from the header (tag 5), lower-case hex.
        header_serial: String,
        /// Serial of the certificate given, lower-case hex.
        certificate_serial: String,
    },
    /// The file is signed by Cisco's firmware-signing key (placeholder signer
    /// `CN=someSigner;…`, serial `1234567890abcdef`), which is not public: its
    /// signature cannot be checked. A refusal: the answer to "is this file
    /// authentic?" cannot be yes.
    #[error("signature cannot be checked: Cisco's firmware-signing key is not public")]
    UnverifiableCiscoFirmware,
    /// Decryption failed (wrong key, damaged wrapped key, bad padding).
    ///
    /// A refusal: with [`crate::EncryptedConfig::decrypt`] the signature has
    /// verified before anything is decrypted, so the file is authentic and
    /// the key given does not open it (a wrong phone key), which is the "no"
    /// the caller asked about.
    #[error("decryption failed: {reason}")]
    Decryption {
        /// Why (never the key or the plaintext).
        reason: &'static str,
    },
    /// The ciphertext of an encrypted config is empty or not a multiple of
    /// the 16-byte AES block.
    ///
    /// A refusal, beside [`Refusal::Decryption`]: the length is checked only
    /// when decrypting, after the signature verified (parsing accepts such
    /// a file so it can be inspected), so the file is authentic and simply
    /// does not decrypt. A damaged length in a signed file is caught before,
    /// as [`Refusal::SignatureInvalid`].
    #[error("ciphertext length {length} is not a non-zero multiple of 16")]
    CiphertextNotBlockAligned {
        /// The ciphertext length in bytes.
        length: usize,
    },
    /// The decrypted plaintext does not match the digest stored in tag 27
    /// (a wrong key that happened to unpad, or a signer that lied).
    #[error("plaintext digest mismatch")]
    PlaintextDigestMismatch,
}

/// The caller gave something unusable: a private key that cannot be read or
/// is of the wrong kind or size, a value too long for the format, or a
/// signer that fails or does not match its certificate. Fix the call, not
/// the file.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// A private key could not be read. The key itself is never echoed.
    #[error("bad private key: {reason}")]
    BadPrivateKey {
        /// Why.
        reason: &'static str,
    },
    /// A value is too long for its 16-bit length field, or the header or a
    /// record would exceed 65 535 bytes. Misuse: only a builder can be given
    /// such a value (parsed values came from 16-bit lengths).
    #[error("{element} is too long ({length} bytes) for the format")]
    TooLong {
        /// What was too long.
        element: &'static str,
        /// Its length.
        length: usize,
    },
    /// A signing key whose size has no modulus code (512, 1024, 2048 or
    /// 4096 bits), or too small for the digest.
    #[error("unsupported signing key of {bits} bits")]
    UnsupportedKeySize {
        /// Modulus size in bits.
        bits: usize,
    },
    /// The operation needs an RSA key and the certificate holds another kind.
    ///
    /// Misuse: the caller chose a certificate or key that this operation
    /// cannot use (an EC phone certificate to encrypt for, an EC key to sign
    /// with). An EC key in a trust list's signer record is instead
    /// [`Refusal::SignerKeyUnusable`].
    #[error("the certificate holds an EC key; this operation needs RSA")]
    EcKeyNotSupported,
    /// The signer produced an unusable signature or failed.
    #[error("signing failed: {reason}")]
    Signing {
        /// The signer's explanation.
        reason: String,
    },
    /// The private key used to sign does not belong to the signer certificate
    /// (the fresh signature does not verify with the certificate's key).
    #[error("the signing key does not belong to the signer certificate")]
    KeyCertificateMismatch,
    /// Encryption failed (the phone's RSA key cannot wrap the AES key).
    #[error("encryption failed: {reason}")]
    Encryption {
        /// Why (never the key or the plaintext).
        reason: &'static str,
    },
}

/// Shorthand for results of this crate.
pub type Result<T> = core::result::Result<T, Error>;
