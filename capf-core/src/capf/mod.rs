//! CAPF, the Certificate Authority Proxy Function protocol (TCP 3804): its
//! codec and its two sessions.
//!
//! - [`codec`]: frames and elements on the wire (spec sections 3-7).
//! - [`server`]: the CAPF server session (what Unified CM's CAPF service does).
//! - [`phone`]: the phone's session (what a Cisco phone does).
//! - [`key_request`]: the key a server asks a phone to generate.
//! - [`certificate_request`]: the phone-signed PKCS#10 request a phone may
//!   send with its new key (our reading).
//! - [`proof`]: the signatures a phone makes with its LSC, MIC or SUDI key.

pub mod certificate_request;
pub mod codec;
pub mod key_request;
pub mod phone;
pub mod proof;
pub mod server;
