//! The one error type of this crate.

use crate::hash::HashAlgorithm;

/// Everything that can go wrong reading, building, signing, verifying,
/// encrypting or decrypting a Cisco signed file.
///
/// Parse errors carry the byte offset (from the start of the file) of the
/// element at fault. No variant ever carries key material or plaintext.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The bytes do not start like a Cisco TLV file (tag 1 version at
    /// offset 0, tag 2 header length at offset 5).
    #[error("not a Cisco TLV file: {reason}")]
    NotTlvFormat {
        /// What was wrong.
        reason: &'static str,
    },
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
    /// A role-0 record has the header's signer serial number but its issuer
    /// name differs from the header's: not accepted as the signer (spec 8.4).
    #[error(
        "signer not found: record {record_index} (SAST) has the header's serial number but not its issuer name"
    )]
    SignerIssuerMismatch {
        /// Index of the record (from 0) that matched by serial alone.
        record_index: usize,
    },
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
    /// No role-0 (SAST) record matches the header's serial number and issuer.
    #[error("signer not found: no SAST record matches the header serial number and issuer")]
    SignerNotFound,
    /// The signer record carries no usable RSA certificate or key.
    #[error("the signer's certificate holds no RSA key")]
    SignerKeyUnusable,
    /// The signature does not verify.
    #[error("signature invalid")]
    SignatureInvalid,
    /// The file is signed with a hash the caller's policy does not allow.
    #[error("hash algorithm {algorithm} is not allowed by policy")]
    HashNotAllowed {
        /// The algorithm the file uses.
        algorithm: HashAlgorithm,
    },
    /// A certificate (from a file or given by the caller) could not be read.
    #[error("bad certificate: {reason}")]
    BadCertificate {
        /// Why.
        reason: String,
    },
    /// A private key could not be read. The key itself is never echoed.
    #[error("bad private key: {reason}")]
    BadPrivateKey {
        /// Why.
        reason: &'static str,
    },
    /// A value is too long for its 16-bit length field, or the header or a
    /// record would exceed 65 535 bytes.
    #[error("{element} is too long ({length} bytes) for the format")]
    TooLong {
        /// What was too long.
        element: &'static str,
        /// Its length.
        length: usize,
    },
    /// The signer produced an unusable signature or failed.
    #[error("signing failed: {reason}")]
    Signing {
        /// The signer's explanation.
        reason: String,
    },
    /// A signing key whose size has no modulus code (512, 1024, 2048 or
    /// 4096 bits), or too small for the digest.
    #[error("unsupported signing key of {bits} bits")]
    UnsupportedKeySize {
        /// Modulus size in bits.
        bits: usize,
    },
    /// The operation needs an RSA key and the certificate holds another kind.
    #[error("the certificate holds an EC key; this operation needs RSA")]
    EcKeyNotSupported,
    /// The file is not an encrypted configuration, or lacks an encryption element.
    #[error("not an encrypted configuration file: {reason}")]
    NotEncrypted {
        /// Why.
        reason: &'static str,
    },
    /// Decryption failed (wrong key, damaged wrapped key, bad length or padding).
    #[error("decryption failed: {reason}")]
    Decryption {
        /// Why (never the key or the plaintext).
        reason: &'static str,
    },
    /// The decrypted plaintext does not match the digest stored in tag 27.
    #[error("plaintext digest mismatch")]
    PlaintextDigestMismatch,
    /// A newer Cisco firmware container (magic `CD 34 12 AB`), not this format.
    #[error(
        "this is a newer Cisco firmware container (starts CD 34 12 AB), not the TLV signed-file format"
    )]
    NewerFirmwareContainer,
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
    /// signature cannot be checked.
    #[error("signature cannot be checked: Cisco's firmware-signing key is not public")]
    UnverifiableCiscoFirmware,
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
    /// The ciphertext of an encrypted config is empty or not a multiple of
    /// the 16-byte AES block.
    #[error("ciphertext length {length} is not a non-zero multiple of 16")]
    CiphertextNotBlockAligned {
        /// The ciphertext length in bytes.
        length: usize,
    },
    /// The configuration XML could not be read far enough to build the
    /// reduced configuration.
    #[error("bad configuration XML at offset {offset}: {reason}")]
    BadXml {
        /// Byte offset in the XML document.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Shorthand for results of this crate.
pub type Result<T> = core::result::Result<T, Error>;
