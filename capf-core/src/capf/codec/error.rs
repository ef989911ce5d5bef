//! Errors of the CAPF wire codec.
//!
//! Two kinds are kept apart, as everywhere in this crate:
//!
//! * [`WireError`]: the peer sent bytes that are not a valid CAPF frame. Every
//!   variant carries the byte offset, counted from the first byte of the frame
//!   (the `0x55` protocol id), of the field at fault.
//! * [`EncodeError`]: the caller asked to encode something that cannot be
//!   represented (a value or a body longer than its 16-bit length field).
//!
//! Neither ever carries element values, so no authentication string, key or
//! signature can leak through an error message or a log line.

/// A received frame is malformed.
///
/// `offset` is always counted from the start of the frame (byte 0 is the
/// protocol id), also for faults found inside an element's value, so it
/// points at the exact byte to look at in a hex dump of the frame.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The first byte of the frame is not the protocol id `0x55`.
    #[error("bad protocol id {found:#04x} at offset {offset} (expected 0x55)")]
    BadProtocolId {
        /// Offset of the protocol id byte (always 0).
        offset: usize,
        /// The byte found instead.
        found: u8,
    },
    /// The input ends before the frame does ([`Frame::decode`] only; the
    /// incremental decoder simply waits for more bytes).
    ///
    /// [`Frame::decode`]: super::Frame::decode
    #[error("frame truncated at offset {offset}: {needed} bytes needed")]
    Truncated {
        /// Where the input ends.
        offset: usize,
        /// The total number of bytes the frame needs (header, or header plus
        /// declared body).
        needed: usize,
    },
    /// Bytes follow the end of the frame ([`Frame::decode`] takes exactly one).
    ///
    /// [`Frame::decode`]: super::Frame::decode
    #[error("{extra} unexpected bytes after the frame, at offset {offset}")]
    TrailingBytes {
        /// Where the frame ends and the extra bytes start.
        offset: usize,
        /// How many extra bytes there are.
        extra: usize,
    },
    /// The header declares a body longer than the configured maximum.
    #[error("body length {length} at offset {offset} exceeds the maximum {max}")]
    BodyTooLong {
        /// Offset of the body-length field (always 6).
        offset: usize,
        /// The declared body length.
        length: u16,
        /// The configured maximum.
        max: u16,
    },
    /// The body ends inside the 3-byte header (tag, length) of an element.
    #[error("body ends inside an element header at offset {offset}")]
    ElementHeaderTruncated {
        /// Offset of the element's first byte.
        offset: usize,
    },
    /// An element's declared value runs past the end of the body.
    #[error(
        "element with tag {tag} at offset {offset} declares {length} bytes, {available} remain"
    )]
    ElementOverrun {
        /// Offset of the element's tag byte.
        offset: usize,
        /// The element's tag.
        tag: u8,
        /// The declared value length.
        length: u16,
        /// How many body bytes follow the element header.
        available: usize,
    },
    /// A fixed-width integer element (one byte, or two for KEY_SIZE) has
    /// another length.
    #[error("element with tag {tag} at offset {offset} has length {found}, expected {expected}")]
    BadValueLength {
        /// Offset of the element's tag byte.
        offset: usize,
        /// The element's tag.
        tag: u8,
        /// The required value length.
        expected: u16,
        /// The declared value length.
        found: u16,
    },
    /// The value of a CERTIFICATE element is shorter than its 5-byte wrapper.
    #[error("certificate wrapper truncated at offset {offset}")]
    CertificateWrapperTruncated {
        /// Offset of the element's value.
        offset: usize,
    },
    /// The certificate wrapper's inner tag is not 1.
    #[error("certificate wrapper tag {found} at offset {offset} (expected 1)")]
    BadCertificateWrapperTag {
        /// Offset of the inner tag byte.
        offset: usize,
        /// The byte found.
        found: u8,
    },
    /// The certificate wrapper's inner length is not the value length minus 3.
    #[error("certificate wrapper length {found} at offset {offset} (expected {expected})")]
    BadCertificateWrapperLength {
        /// Offset of the inner length field.
        offset: usize,
        /// The inner length found.
        found: u16,
        /// Value length minus 3.
        expected: usize,
    },
    /// The value of a SHA2_SIGNED_DATA element is shorter than its 3-byte
    /// header.
    #[error("SHA2_SIGNED_DATA header truncated at offset {offset}")]
    Sha2HeaderTruncated {
        /// Offset of the element's value.
        offset: usize,
    },
    /// The SHA2_SIGNED_DATA signature length is not the value length minus 3.
    #[error("SHA2_SIGNED_DATA signature length {found} at offset {offset} (expected {expected})")]
    BadSha2SignatureLength {
        /// Offset of the inner length field.
        offset: usize,
        /// The signature length found.
        found: u16,
        /// Value length minus 3.
        expected: usize,
    },
    /// A SUDI_DATA value ends inside the 3-byte header of one of its blocks.
    #[error("SUDI_DATA block {block} header truncated at offset {offset}")]
    SudiBlockHeaderTruncated {
        /// Offset where the block starts (or should start).
        offset: usize,
        /// Which block, 1 to 3.
        block: u8,
    },
    /// A SUDI_DATA block runs past the end of the element value.
    #[error(
        "SUDI_DATA block {block} at offset {offset} declares {length} bytes, {available} remain"
    )]
    SudiBlockOverrun {
        /// Offset of the block's lead byte.
        offset: usize,
        /// Which block, 1 to 3.
        block: u8,
        /// The declared block length.
        length: u16,
        /// How many value bytes follow the block header.
        available: usize,
    },
    /// Bytes follow the third SUDI_DATA block inside the element value.
    #[error("{extra} unexpected bytes after the third SUDI_DATA block, at offset {offset}")]
    SudiTrailingBytes {
        /// Where the extra bytes start.
        offset: usize,
        /// How many there are.
        extra: usize,
    },
}

impl WireError {
    /// The offset, from the first byte of the frame, of the field at fault.
    pub const fn offset(&self) -> usize {
        match *self {
            Self::BadProtocolId { offset, .. }
            | Self::Truncated { offset, .. }
            | Self::TrailingBytes { offset, .. }
            | Self::BodyTooLong { offset, .. }
            | Self::ElementHeaderTruncated { offset }
            | Self::ElementOverrun { offset, .. }
            | Self::BadValueLength { offset, .. }
            | Self::CertificateWrapperTruncated { offset }
            | Self::BadCertificateWrapperTag { offset, .. }
            | Self::BadCertificateWrapperLength { offset, .. }
            | Self::Sha2HeaderTruncated { offset }
            | Self::BadSha2SignatureLength { offset, .. }
            | Self::SudiBlockHeaderTruncated { offset, .. }
            | Self::SudiBlockOverrun { offset, .. }
            | Self::SudiTrailingBytes { offset, .. } => offset,
        }
    }
}

/// A frame or element cannot be encoded: the caller's input does not fit the
/// format (an API misuse, not a peer fault).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// An element value (or a length-prefixed field inside one) is longer
    /// than its 16-bit length field can say.
    #[error("value of element tag {tag} is too long ({length} bytes)")]
    ValueTooLong {
        /// The element's tag.
        tag: u8,
        /// The length that did not fit (of the value, or of the inner field).
        length: usize,
    },
    /// The encoded elements exceed the 65 535-byte body limit.
    #[error("frame body too long ({length} bytes, at most 65535)")]
    BodyTooLong {
        /// The body length the elements would need.
        length: usize,
    },
}

impl From<crate::framing::ElementFault> for WireError {
    fn from(fault: crate::framing::ElementFault) -> Self {
        match fault {
            crate::framing::ElementFault::HeaderTruncated { offset } => {
                Self::ElementHeaderTruncated { offset }
            }
            crate::framing::ElementFault::Overrun {
                offset,
                tag,
                length,
                available,
            } => Self::ElementOverrun {
                offset,
                tag,
                length,
                available,
            },
        }
    }
}
