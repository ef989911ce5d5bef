//! Arbitrary bytes into the CAPF frame decoder, in chunks whose sizes come
//! from the first input bytes, and into `Frame::decode` whole: never a
//! panic; every frame the decoder yields is exactly the stream bytes it
//! consumed and re-encodes to them; `Frame::decode` agrees with the decoder
//! on a stream holding one whole frame; a failed decoder stays failed.
#![no_main]

use capf_core::capf::codec::{Frame, FrameDecoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    // Up to 8 chunk sizes (1..=32 bytes) taken from the bytes after the
    // control byte, cycled; the remaining bytes are the stream.
    let sizes_len = usize::from(control & 0x07) + 1;
    let (sizes, stream) = rest.split_at(sizes_len.min(rest.len()));
    let sizes: Vec<usize> = if sizes.is_empty() {
        vec![stream.len().max(1)]
    } else {
        sizes.iter().map(|&s| usize::from(s & 0x1f) + 1).collect()
    };
    let mut decoder = if control & 0x80 == 0 {
        FrameDecoder::new()
    } else {
        FrameDecoder::with_max_body_length(u16::from(control & 0x78) << 4)
    };

    let mut offset = 0usize;
    let mut frames = 0usize;
    let mut failed = false;
    let mut pushed = 0usize;
    let mut index = 0usize;
    while pushed < stream.len() && !failed {
        let size = sizes[index % sizes.len()];
        index += 1;
        let end = pushed.saturating_add(size).min(stream.len());
        decoder.push(&stream[pushed..end]);
        pushed = end;
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    let consumed = usize::try_from(decoder.consumed()).unwrap();
                    let original = &stream[offset..consumed];
                    let encoded = frame.encode().expect("a decoded frame encodes");
                    assert_eq!(encoded, original, "decoded frame re-encodes to its bytes");
                    assert_eq!(
                        Frame::decode(original).as_ref(),
                        Ok(&frame),
                        "Frame::decode agrees with the decoder"
                    );
                    offset = consumed;
                    frames += 1;
                }
                Ok(None) => break,
                Err(error) => {
                    assert!(decoder.is_failed());
                    assert_eq!(
                        decoder.next_frame(),
                        Err(error),
                        "a failed decoder stays failed"
                    );
                    failed = true;
                    break;
                }
            }
        }
    }
    if !failed {
        assert_eq!(offset + decoder.buffered_len(), stream.len());
    }

    // The whole stream, and the input as given, through Frame::decode.
    if let Ok(frame) = Frame::decode(stream) {
        assert_eq!(frame.encode().expect("a decoded frame encodes"), stream);
        if !failed {
            assert_eq!(frames, 1, "the decoder yields the one whole frame");
            assert_eq!(decoder.buffered_len(), 0);
        }
    }
    if let Ok(frame) = Frame::decode(data) {
        assert_eq!(frame.encode().expect("a decoded frame encodes"), data);
    }
});
