//! Byte-level primitives of the Cisco TLV encoding shared by every file of
//! the family: a 1-byte tag, a 2-byte big-endian length and the value;
//! tag 13 (padding) with no length; NUL-terminated strings.
//!
//! Everything here is bounds-checked: reading never panics, whatever the
//! input bytes.

use crate::error::{MalformedFile, Result, UsageError};
use core::fmt;

/// The padding tag: a single byte with no length and no value.
pub const PADDING_TAG: u8 = 13;

/// One element as it sits in a file: where it starts, its tag and its value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RawElement<'a> {
    /// Offset of the tag byte from the start of the file.
    pub offset: usize,
    /// The tag.
    pub tag: u8,
    /// The value bytes (empty for padding; for a container, empty as well:
    /// its children follow as elements of their own).
    pub value: &'a [u8],
}

impl fmt::Debug for RawElement<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawElement")
            .field("offset", &self.offset)
            .field("tag", &self.tag)
            .field("length", &self.value.len())
            .finish()
    }
}

/// Reads a big-endian u16 at `offset`, if the bytes are there.
pub(crate) fn read_u16(bytes: &[u8], offset: usize) -> Option<u16> {
    let pair = bytes.get(offset..offset.checked_add(2)?)?;
    let pair: [u8; 2] = pair.try_into().ok()?;
    Some(u16::from_be_bytes(pair))
}

/// Reads the 3-byte head (tag, length) of the element at `offset`, checking
/// that the head and `length` value bytes end at or before `limit`.
/// Returns the tag and the value range.
pub(crate) fn read_element(
    bytes: &[u8],
    offset: usize,
    limit: usize,
) -> Result<(u8, core::ops::Range<usize>)> {
    let tag = *bytes.get(offset).ok_or(MalformedFile::ElementOverrun {
        offset,
        tag: 0,
        limit,
    })?;
    let overrun = MalformedFile::ElementOverrun { offset, tag, limit };
    let value_start = offset.checked_add(3).ok_or(overrun.clone())?;
    if value_start > limit {
        return Err(overrun.into());
    }
    let length = usize::from(read_u16(bytes, offset + 1).ok_or(overrun.clone())?);
    let value_end = value_start.checked_add(length).ok_or(overrun.clone())?;
    if value_end > limit || value_end > bytes.len() {
        return Err(overrun.into());
    }
    Ok((tag, value_start..value_end))
}

/// Appends an element (tag, 16-bit length, value) to `out`.
pub(crate) fn put_element(
    out: &mut Vec<u8>,
    tag: u8,
    value: &[u8],
    element: &'static str,
) -> Result<()> {
    let length = u16::try_from(value.len()).map_err(|_| UsageError::TooLong {
        element,
        length: value.len(),
    })?;
    out.push(tag);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(value);
    Ok(())
}

/// Appends a container head (tag and the total length of its children).
pub(crate) fn put_container_head(
    out: &mut Vec<u8>,
    tag: u8,
    children_length: usize,
    element: &'static str,
) -> Result<()> {
    let length = u16::try_from(children_length).map_err(|_| UsageError::TooLong {
        element,
        length: children_length,
    })?;
    out.push(tag);
    out.extend_from_slice(&length.to_be_bytes());
    Ok(())
}

/// Appends a NUL-terminated string element.
pub(crate) fn put_string(
    out: &mut Vec<u8>,
    tag: u8,
    text: &str,
    element: &'static str,
) -> Result<()> {
    let mut value = Vec::with_capacity(text.len() + 1);
    value.extend_from_slice(text.as_bytes());
    value.push(0);
    put_element(out, tag, &value, element)
}

/// A string value as stored: NUL-terminated in the file; this view holds the
/// bytes before the terminator. Content is usually ASCII (UTF-8 from
/// certutils) but is not guaranteed to be text at all.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TlvString<'a> {
    bytes: &'a [u8],
    terminated: bool,
}

impl<'a> TlvString<'a> {
    /// Splits a stored value into its text and whether the NUL was present.
    pub fn from_value(value: &'a [u8]) -> Self {
        match value.split_last() {
            Some((0, text)) => Self {
                bytes: text,
                terminated: true,
            },
            _ => Self {
                bytes: value,
                terminated: false,
            },
        }
    }

    /// The bytes before the terminating NUL.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The text, if it is valid UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        core::str::from_utf8(self.bytes).ok()
    }

    /// The text with invalid UTF-8 replaced (for display).
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(self.bytes).into_owned()
    }

    /// Whether the stored value ended with the NUL the format requires.
    pub fn is_terminated(&self) -> bool {
        self.terminated
    }
}

impl fmt::Debug for TlvString<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string_lossy(), f)
    }
}

impl fmt::Display for TlvString<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

/// A serial number stripped of leading zero bytes, as the format stores
/// serials (minimal unsigned big-endian).
pub fn minimal_serial(serial: &[u8]) -> &[u8] {
    let first = serial
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(serial.len());
    serial.get(first..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn element_head_must_fit_the_limit() {
        let bytes = [4u8, 0, 3, b'a', b'b', 0];
        assert_eq!(read_element(&bytes, 0, 6).unwrap(), (4, 3..6));
        assert_eq!(
            read_element(&bytes, 0, 5),
            Err(Error::Malformed(MalformedFile::ElementOverrun {
                offset: 0,
                tag: 4,
                limit: 5
            }))
        );
        assert_eq!(
            read_element(&bytes, 4, 6),
            Err(Error::Malformed(MalformedFile::ElementOverrun {
                offset: 4,
                tag: b'b',
                limit: 6
            }))
        );
        assert_eq!(
            read_element(&bytes, 9, 9),
            Err(Error::Malformed(MalformedFile::ElementOverrun {
                offset: 9,
                tag: 0,
                limit: 9
            }))
        );
    }

    #[test]
    fn strings_drop_exactly_one_terminator() {
        let text = TlvString::from_value(b"CTLFile.tlv\0");
        assert_eq!(text.as_str(), Some("CTLFile.tlv"));
        assert!(text.is_terminated());
        let empty = TlvString::from_value(b"\0");
        assert_eq!(empty.as_bytes(), b"");
        let bare = TlvString::from_value(b"abc");
        assert!(!bare.is_terminated());
        assert_eq!(bare.as_str(), Some("abc"));
    }

    #[test]
    fn serials_lose_leading_zeros_only() {
        assert_eq!(minimal_serial(&[0, 0, 0x82, 0]), &[0x82, 0]);
        assert!(minimal_serial(&[0]).is_empty());
    }
}
