//! Errors of the TVS wire codec.
//!
//! [`TvsWireError`]: the peer sent bytes that are not a valid TVS frame;
//! every variant carries the offset, from the frame's first byte (the `0x57`
//! protocol id), of the field at fault. [`TvsEncodeError`]: the caller asked
//! for a frame the format cannot carry. Neither carries element values.

/// A received TVS frame is malformed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TvsWireError {
    /// The first byte is not the protocol id `0x57`.
    #[error("bad protocol id {found:#04x} at offset {offset} (expected 0x57)")]
    BadProtocolId {
        /// Offset of the protocol id (always 0).
        offset: usize,
        /// The byte found.
        found: u8,
    },
    /// The protocol version is not 1.
    #[error("unsupported protocol version {found} at offset {offset} (expected 1)")]
    UnsupportedVersion {
        /// Offset of the version byte (always 1).
        offset: usize,
        /// The version found.
        found: u8,
    },
    /// The input ends before the frame does ([`TvsFrame::decode`] only).
    ///
    /// [`TvsFrame::decode`]: super::frame::TvsFrame::decode
    #[error("frame truncated at offset {offset}: {needed} bytes needed")]
    Truncated {
        /// Where the input ends.
        offset: usize,
        /// Bytes the frame needs (header, or header plus declared body).
        needed: usize,
    },
    /// Bytes follow the frame ([`TvsFrame::decode`] takes exactly one).
    ///
    /// [`TvsFrame::decode`]: super::frame::TvsFrame::decode
    #[error("{extra} unexpected bytes after the frame, at offset {offset}")]
    TrailingBytes {
        /// Where the frame ends.
        offset: usize,
        /// How many extra bytes there are.
        extra: usize,
    },
    /// The header announces a body longer than the configured maximum.
    #[error("body length {length} at offset {offset} exceeds the maximum {max}")]
    BodyTooLong {
        /// Offset of the body-length field (always 8).
        offset: usize,
        /// The declared length.
        length: u16,
        /// The configured maximum.
        max: u16,
    },
    /// The body ends inside an element's 3-byte header.
    #[error("body ends inside an element header at offset {offset}")]
    ElementHeaderTruncated {
        /// Offset of the element's first byte.
        offset: usize,
    },
    /// An element's value runs past the end of the body.
    #[error(
        "element with tag {tag} at offset {offset} declares {length} bytes, {available} remain"
    )]
    ElementOverrun {
        /// Offset of the element's tag.
        offset: usize,
        /// The tag.
        tag: u8,
        /// The declared value length.
        length: u16,
        /// Body bytes after the element header.
        available: usize,
    },
    /// STATUS (1 byte) or TTL (4 bytes) has another length.
    #[error("element with tag {tag} at offset {offset} has length {found}, expected {expected}")]
    BadValueLength {
        /// Offset of the element's tag.
        offset: usize,
        /// The tag.
        tag: u8,
        /// The required length.
        expected: u16,
        /// The declared length.
        found: u16,
    },
    /// DEVICE_NAME is empty: not even its lead byte is there.
    #[error("DEVICE_NAME at offset {offset} has no lead byte")]
    EmptyDeviceName {
        /// Offset of the element's tag.
        offset: usize,
    },
}

impl TvsWireError {
    /// The offset, from the frame's first byte, of the field at fault.
    pub const fn offset(&self) -> usize {
        match *self {
            Self::BadProtocolId { offset, .. }
            | Self::UnsupportedVersion { offset, .. }
            | Self::Truncated { offset, .. }
            | Self::TrailingBytes { offset, .. }
            | Self::BodyTooLong { offset, .. }
            | Self::ElementHeaderTruncated { offset }
            | Self::ElementOverrun { offset, .. }
            | Self::BadValueLength { offset, .. }
            | Self::EmptyDeviceName { offset } => offset,
        }
    }
}

/// A TVS frame cannot be encoded (a caller error, not a peer fault).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TvsEncodeError {
    /// An element value is longer than its 16-bit length field can say.
    #[error("value of element tag {tag} is too long ({length} bytes)")]
    ValueTooLong {
        /// The tag.
        tag: u8,
        /// The value length.
        length: usize,
    },
    /// The elements exceed the 65 535-byte body limit.
    #[error("frame body too long ({length} bytes, at most 65535)")]
    BodyTooLong {
        /// The body length needed.
        length: usize,
    },
    /// A role code does not fit the one byte ROLES gives each role.
    #[error("role code {code} does not fit in one byte")]
    RoleCodeTooLarge {
        /// The code.
        code: u16,
    },
}

impl From<crate::framing::ElementFault> for TvsWireError {
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
