//! Incremental frame decoder: bytes in, in any chunking; whole frames out.

use super::error::WireError;
use super::frame::{Frame, FrameHeader, HEADER_LEN, MAX_BODY_LEN};
use crate::framing::{Framing, StreamDecoder};

/// Reassembles frames from a byte stream (the plaintext of the TLS
/// connection).
///
/// Push bytes as they arrive with [`FrameDecoder::push`], then call
/// [`FrameDecoder::next_frame`] until it returns `Ok(None)`. A header is
/// checked as soon as it is complete (and its protocol id as soon as its
/// first byte arrives), so a bad or oversized frame fails before its body
/// is waited for. The decoder never allocates from a declared length: it
/// only holds the bytes it was given.
///
/// After an error the stream has lost its framing: the decoder stays failed
/// and returns the same error from every later call.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    stream: StreamDecoder<CapfFraming>,
}

/// CAPF's framing for the shared [`StreamDecoder`].
#[derive(Debug, Clone)]
struct CapfFraming;

impl Framing for CapfFraming {
    type Header = FrameHeader;
    type Frame = Frame;
    type Error = WireError;
    const HEADER_LEN: usize = HEADER_LEN;

    fn parse_header(bytes: &[u8]) -> Result<Option<FrameHeader>, WireError> {
        FrameHeader::parse(bytes)
    }

    fn body_length(header: &FrameHeader) -> u16 {
        header.body_length
    }

    fn body_too_long(length: u16, max: u16) -> WireError {
        // Offset of the body-length field.
        WireError::BodyTooLong {
            offset: 6,
            length,
            max,
        }
    }

    fn decode_body(header: FrameHeader, body: &[u8]) -> Result<Frame, WireError> {
        Frame::decode_body(header, body)
    }
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder accepting bodies up to 65 535 bytes (the format's limit).
    pub fn new() -> Self {
        Self::with_max_body_length(MAX_BODY_LEN)
    }

    /// A decoder that rejects headers announcing a body longer than
    /// `max_body_length` bytes ([`WireError::BodyTooLong`]). Observed
    /// frames stay under 3 KB.
    pub fn with_max_body_length(max_body_length: u16) -> Self {
        Self {
            stream: StreamDecoder::new(max_body_length),
        }
    }

    /// The configured body limit.
    pub const fn max_body_length(&self) -> u16 {
        self.stream.max_body_length()
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.stream.push(bytes);
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed.
    ///
    /// Error offsets are counted from the start of the frame at fault; that
    /// frame starts [`FrameDecoder::consumed`] bytes into the stream.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, WireError> {
        self.stream.next_frame()
    }

    /// Bytes held that do not yet form a whole frame (or that follow the
    /// frames not yet pulled).
    pub fn buffered_len(&self) -> usize {
        self.stream.buffered_len()
    }

    /// Total length of the frames returned so far: the stream offset of the
    /// next frame.
    pub const fn consumed(&self) -> u64 {
        self.stream.consumed()
    }

    /// True if the decoder has failed and will return only errors.
    pub const fn is_failed(&self) -> bool {
        self.stream.is_failed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capf::codec::Reason;

    #[test]
    fn frames_come_out_one_by_one() {
        let mut stream = Frame::end_session(5, Reason::Success).encode().unwrap();
        stream.extend(Frame::request_in_progress(5).encode().unwrap());
        let mut decoder = FrameDecoder::new();
        let (first, second) = stream.split_at(12);
        for byte in first {
            assert_eq!(decoder.next_frame(), Ok(None));
            decoder.push(core::slice::from_ref(byte));
        }
        decoder.push(second);
        assert_eq!(
            decoder.next_frame(),
            Ok(Some(Frame::end_session(5, Reason::Success)))
        );
        assert_eq!(decoder.consumed(), 12);
        assert_eq!(
            decoder.next_frame(),
            Ok(Some(Frame::request_in_progress(5)))
        );
        assert_eq!(decoder.next_frame(), Ok(None));
        assert_eq!(decoder.buffered_len(), 0);
        assert_eq!(decoder.consumed(), 20);
    }

    #[test]
    fn limit_applies_before_the_body_arrives() {
        let mut decoder = FrameDecoder::with_max_body_length(16);
        decoder.push(&[0x55, 0x02, 0, 0, 0, 1, 0, 17]);
        let error = WireError::BodyTooLong {
            offset: 6,
            length: 17,
            max: 16,
        };
        assert_eq!(decoder.next_frame(), Err(error.clone()));
        assert!(decoder.is_failed());
        decoder.push(&[0x55]);
        assert_eq!(decoder.next_frame(), Err(error));
        assert_eq!(decoder.buffered_len(), 0);
    }

    #[test]
    fn garbage_fails_on_the_first_byte() {
        let mut decoder = FrameDecoder::new();
        decoder.push(&[0x16]);
        assert_eq!(
            decoder.next_frame(),
            Err(WireError::BadProtocolId {
                offset: 0,
                found: 0x16
            })
        );
    }
}
