//! Incremental TVS frame decoder: bytes in any chunking, whole frames out.

use super::error::TvsWireError;
use super::frame::{TVS_HEADER_LEN, TvsFrame, TvsFrameHeader};
use crate::framing::{Framing, StreamDecoder};

/// Reassembles TVS frames from the plaintext stream.
///
/// [`push`](Self::push) bytes as they arrive, then call
/// [`next_frame`](Self::next_frame) until it returns `Ok(None)`. The protocol
/// id, version and body limit are checked as soon as their bytes are there.
/// The decoder only holds bytes it was given (never allocates from a
/// declared length), and after an error it stays failed, returning the same
/// error.
///
/// ```
/// use capf_core::tvs::{TvsFrame, TvsFrameDecoder};
/// let bytes = TvsFrame::verify_response_invalid(7).encode().unwrap();
/// let mut decoder = TvsFrameDecoder::new(1024);
/// decoder.push(&bytes[..3]);
/// assert_eq!(decoder.next_frame(), Ok(None));
/// decoder.push(&bytes[3..]);
/// assert_eq!(decoder.next_frame(), Ok(Some(TvsFrame::verify_response_invalid(7))));
/// ```
#[derive(Debug, Clone)]
pub struct TvsFrameDecoder {
    stream: StreamDecoder<TvsFraming>,
}

/// TVS's framing for the shared [`StreamDecoder`].
#[derive(Debug, Clone)]
struct TvsFraming;

impl Framing for TvsFraming {
    type Header = TvsFrameHeader;
    type Frame = TvsFrame;
    type Error = TvsWireError;
    const HEADER_LEN: usize = TVS_HEADER_LEN;

    fn parse_header(bytes: &[u8]) -> Result<Option<TvsFrameHeader>, TvsWireError> {
        TvsFrameHeader::parse(bytes)
    }

    fn body_length(header: &TvsFrameHeader) -> u16 {
        header.body_length
    }

    fn body_too_long(length: u16, max: u16) -> TvsWireError {
        // Offset of the body-length field.
        TvsWireError::BodyTooLong {
            offset: 8,
            length,
            max,
        }
    }

    fn decode_body(header: TvsFrameHeader, body: &[u8]) -> Result<TvsFrame, TvsWireError> {
        TvsFrame::decode_body(header, body)
    }
}

impl TvsFrameDecoder {
    /// A decoder refusing bodies longer than `max_body_length` bytes.
    pub fn new(max_body_length: u16) -> Self {
        Self {
            stream: StreamDecoder::new(max_body_length),
        }
    }

    /// Appends received bytes (dropped once the decoder has failed).
    pub fn push(&mut self, bytes: &[u8]) {
        self.stream.push(bytes);
    }

    /// The next whole frame, `Ok(None)` if more bytes are needed. Error
    /// offsets count from the start of the frame at fault, which starts
    /// [`consumed`](Self::consumed) bytes into the stream.
    pub fn next_frame(&mut self) -> Result<Option<TvsFrame>, TvsWireError> {
        self.stream.next_frame()
    }

    /// Bytes held that are not yet part of a returned frame.
    pub fn buffered_len(&self) -> usize {
        self.stream.buffered_len()
    }

    /// Total length of the frames returned so far.
    pub const fn consumed(&self) -> u64 {
        self.stream.consumed()
    }

    /// True once the decoder has failed.
    pub const fn is_failed(&self) -> bool {
        self.stream.is_failed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversize_fails_before_the_body_and_stays_failed() {
        let mut decoder = TvsFrameDecoder::new(16);
        decoder.push(&[0x57, 1, 1, 0, 0, 0, 0, 1, 0, 17]);
        let error = TvsWireError::BodyTooLong {
            offset: 8,
            length: 17,
            max: 16,
        };
        assert_eq!(decoder.next_frame(), Err(error.clone()));
        decoder.push(&[0; 17]);
        assert_eq!(decoder.next_frame(), Err(error));
        assert!(decoder.is_failed());
        assert_eq!(decoder.buffered_len(), 0);
    }

    #[test]
    fn two_frames_in_one_push() {
        let mut bytes = TvsFrame::verify_response_invalid(1).encode().unwrap();
        bytes.extend(TvsFrame::verify_response_invalid(2).encode().unwrap());
        let mut decoder = TvsFrameDecoder::new(100);
        decoder.push(&bytes);
        assert_eq!(decoder.next_frame().unwrap().unwrap().session_id, 1);
        assert_eq!(decoder.consumed(), 14);
        assert_eq!(decoder.next_frame().unwrap().unwrap().session_id, 2);
        assert_eq!(decoder.next_frame(), Ok(None));
    }
}
