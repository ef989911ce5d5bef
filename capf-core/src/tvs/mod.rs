//! TVS, the Trust Verification Service (spec `tvs-protocol.md`): the
//! phone asks whether a certificate missing from its ITL/CTL may be trusted,
//! and for which roles; the server looks the SHA-256 of the DER up in an
//! allow-list and answers STATUS, ROLES and TTL.
//!
//! * Framing: a 10-byte header — protocol id `0x57`, version 1,
//!   [`TvsCommand`], a reserved byte, the **client-chosen** session id (u32),
//!   the body length (u16) — then TLV [`TvsElement`]s. [`TvsFrame::decode`]
//!   reads one whole frame, [`TvsFrameDecoder`] reassembles a stream in any
//!   chunking, [`TvsFrame::encode`] writes one buffer per frame. Errors
//!   ([`TvsWireError`]) carry the offset of the byte at fault; unknown
//!   commands and tags are kept, never produced.
//! * [`TvsServerSession`] and [`TvsClientSession`]: sans-IO sessions in the
//!   crate's one [`Session`](crate::session::Session) contract
//!   (`handle_input` / `poll_output` → Transmit | Need | Done /
//!   `handle_timeout` / `poll_timeout` …).
//! * [`TvsDeviceName`]: the `CP-<model>-SEP<MAC>` check.
//!
//! Where we differ from the reference: unknown tags are skipped instead of
//! failing the request; a known element repeated is refused; model names
//! with letters and lower-case MACs are accepted; revoked certificates and
//! (optionally) expired ones get STATUS 1; every silent close has a reason
//! in the outcome for the host's log.

mod client;
pub mod codec;
mod server;

pub use client::{
    DEFAULT_DEVICE_NAME, TvsClientConfig, TvsClientDecision, TvsClientOutcome, TvsClientOutput,
    TvsClientResult, TvsClientSession, TvsClientSetupError, TvsClientState, TvsResponseError,
};
pub use codec::decoder::TvsFrameDecoder;
pub use codec::device_name::{MAX_MODEL_LEN, TvsDeviceName, TvsDeviceNameError};
pub use codec::error::{TvsEncodeError, TvsWireError};
pub use codec::frame::{
    DEVICE_NAME_LEAD_BYTE, DeviceNameValue, TVS_ELEMENT_HEADER_LEN, TVS_HEADER_LEN,
    TVS_PROTOCOL_ID, TVS_PROTOCOL_VERSION, TvsCommand, TvsElement, TvsElementTag, TvsFrame,
    TvsFrameHeader, TvsStatus,
};
pub use server::{
    KnownCertificate, TvsCloseReason, TvsInvalidReason, TvsServerConfig, TvsServerDecision,
    TvsServerOutcome, TvsServerOutput, TvsServerResult, TvsServerSession, TvsServerState,
};

/// The TCP port TVS listens on.
pub const TVS_PORT: u16 = 2445;
