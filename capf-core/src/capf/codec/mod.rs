//! The CAPF wire codec: frames, elements and an incremental decoder
//! (spec `capf-protocol.md`, sections 3-9).
//!
//! A frame is an 8-byte header — protocol id `0x55`, [`Command`], session id
//! (u32, big-endian), body length (u16, big-endian) — followed by a body of
//! TLV [`Element`]s (tag u8, length u16 big-endian, value).
//!
//! * [`Frame::decode`] reads exactly one whole frame; [`FrameDecoder`]
//!   reassembles frames from a stream pushed in any chunking.
//! * [`Frame::encode`] produces one buffer per frame, to be written with a
//!   single (TLS) write — real phones stall otherwise.
//! * The message constructors ([`Frame::auth_request`],
//!   [`Frame::key_gen_request_rsa`], [`Frame::end_session`] …) emit the
//!   documented elements in the orders of section 8 and nothing else.
//! * Unknown commands and tags decode generically ([`Command::Unknown`],
//!   [`Element::Unknown`]) and are kept; malformed input gives a
//!   [`WireError`] carrying the offset, from the start of the frame, of the
//!   field at fault. Nothing here panics on input or allocates from a
//!   declared length.
//!
//! The codec does not judge content: whether VERSION is 3, whether the
//! session id matches or whether a certificate parses is for the session
//! state machines.

mod command;
mod decoder;
mod element;
mod error;
mod frame;
mod message;

pub use command::Command;
pub use decoder::FrameDecoder;
pub use element::{
    AuthType, CertificateType, Curve, ELEMENT_HEADER_LEN, Element, ElementTag, HashId, KeyType,
    Password, Reason, Sha2SignedData, SudiBlock, SudiData, Version, WireDeviceName,
    WrappedCertificate,
};
pub use error::{EncodeError, WireError};
pub use frame::{Frame, FrameHeader, HEADER_LEN, MAX_BODY_LEN, PROTOCOL_ID};
pub use message::{AuthResponseFields, CertificateProof};
