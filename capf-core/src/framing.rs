//! What the CAPF and TVS framings share, below their different headers:
//! a body of elements (tag: 1 byte, length: 2 bytes big-endian, value), and
//! the reassembly of whole frames from a byte stream in any chunking.
//!
//! Each protocol keeps its own header, element types and public error enum
//! (their session ids, strings and certificates differ; see the TVS spec's
//! gotchas); only the mechanics live here.

/// Bytes of an element header: tag and 2-byte length.
pub(crate) const ELEMENT_HEADER_LEN: usize = 3;

/// Why an element walk stopped. Offsets count from the frame's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ElementFault {
    /// Fewer than three bytes left for an element header.
    HeaderTruncated {
        /// Offset of the element's first byte.
        offset: usize,
    },
    /// The declared value runs past the end of the body.
    Overrun {
        /// Offset of the element's tag.
        offset: usize,
        /// The tag.
        tag: u8,
        /// The declared value length.
        length: u16,
        /// Body bytes after the element header.
        available: usize,
    },
}

/// Walks the elements of `body`, whose first byte is at frame offset
/// `body_offset`, handing each tag, value and offset to `each`.
pub(crate) fn walk_elements<E: From<ElementFault>>(
    body: &[u8],
    body_offset: usize,
    mut each: impl FnMut(u8, &[u8], usize) -> Result<(), E>,
) -> Result<(), E> {
    let mut rest = body;
    let mut offset = body_offset;
    while !rest.is_empty() {
        let &[tag, high, low, ref after @ ..] = rest else {
            return Err(ElementFault::HeaderTruncated { offset }.into());
        };
        let length = u16::from_be_bytes([high, low]);
        let Some((value, next)) = after.split_at_checked(usize::from(length)) else {
            return Err(ElementFault::Overrun {
                offset,
                tag,
                length,
                available: after.len(),
            }
            .into());
        };
        each(tag, value, offset)?;
        offset = offset
            .saturating_add(ELEMENT_HEADER_LEN)
            .saturating_add(usize::from(length));
        rest = next;
    }
    Ok(())
}

/// One protocol's framing, as [`StreamDecoder`] needs it.
pub(crate) trait Framing {
    /// A parsed header.
    type Header;
    /// A whole decoded frame.
    type Frame;
    /// The protocol's decoding error.
    type Error: Clone + core::fmt::Debug;
    /// Bytes of a header.
    const HEADER_LEN: usize;
    /// Parses a header from the start of `bytes`; `Ok(None)` while it is
    /// incomplete (checking what can be checked early, like the protocol id).
    fn parse_header(bytes: &[u8]) -> Result<Option<Self::Header>, Self::Error>;
    /// The body length the header declares.
    fn body_length(header: &Self::Header) -> u16;
    /// The error for a declared body over the decoder's limit.
    fn body_too_long(length: u16, max: u16) -> Self::Error;
    /// Decodes a body that is exactly the declared length.
    fn decode_body(header: Self::Header, body: &[u8]) -> Result<Self::Frame, Self::Error>;
}

/// Reassembles frames of one [`Framing`] from a byte stream. It only holds
/// bytes it was given (never allocates from a declared length), refuses an
/// oversized header before waiting for its body, and stays failed after an
/// error, returning that error again.
#[derive(Debug, Clone)]
pub(crate) struct StreamDecoder<F: Framing> {
    buffer: Vec<u8>,
    max_body_length: u16,
    consumed: u64,
    failed: Option<F::Error>,
}

impl<F: Framing> StreamDecoder<F> {
    /// A decoder refusing bodies longer than `max_body_length` bytes.
    pub(crate) fn new(max_body_length: u16) -> Self {
        Self {
            buffer: Vec::new(),
            max_body_length,
            consumed: 0,
            failed: None,
        }
    }

    /// The body limit.
    pub(crate) const fn max_body_length(&self) -> u16 {
        self.max_body_length
    }

    /// Appends received bytes (dropped once the decoder has failed).
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            self.buffer.extend_from_slice(bytes);
        }
    }

    /// The next whole frame, `Ok(None)` if more bytes are needed.
    pub(crate) fn next_frame(&mut self) -> Result<Option<F::Frame>, F::Error> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        match self.try_next() {
            Ok(frame) => Ok(frame),
            Err(error) => {
                self.buffer = Vec::new();
                self.failed = Some(error.clone());
                Err(error)
            }
        }
    }

    fn try_next(&mut self) -> Result<Option<F::Frame>, F::Error> {
        let Some(header) = F::parse_header(&self.buffer)? else {
            return Ok(None);
        };
        let body_length = F::body_length(&header);
        if body_length > self.max_body_length {
            return Err(F::body_too_long(body_length, self.max_body_length));
        }
        let frame_length = F::HEADER_LEN.saturating_add(usize::from(body_length));
        let Some(body) = self.buffer.get(F::HEADER_LEN..frame_length) else {
            return Ok(None);
        };
        let frame = F::decode_body(header, body)?;
        self.buffer.drain(..frame_length);
        self.consumed = self
            .consumed
            .saturating_add(u64::try_from(frame_length).unwrap_or(u64::MAX));
        Ok(Some(frame))
    }

    /// Bytes held that are not yet part of a returned frame.
    pub(crate) fn buffered_len(&self) -> usize {
        self.buffer.len()
    }

    /// Total length of the frames returned so far.
    pub(crate) const fn consumed(&self) -> u64 {
        self.consumed
    }

    /// True once the decoder has failed.
    pub(crate) const fn is_failed(&self) -> bool {
        self.failed.is_some()
    }
}
