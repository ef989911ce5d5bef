//! # capf-core
//!
//! The CAPF (Certificate Authority Proxy Function) and TVS (Trust Verification
//! Service) protocols of Cisco IP phones as sans-IO state machines, with the
//! authentication proofs, LSC issuance and address selection they need.
//!
//! Nothing here opens a socket, reads a clock, picks random numbers on its own
//! or touches a file: the host moves bytes, time, randomness and decisions in
//! and out. Every session keeps one contract, [`session::Session`]; the
//! [`manual`] explains how a host drives one.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// No panics or lossy casts on input, and no clock, OS randomness or file
// system of our own: lints, not care (clippy.toml lets unit tests unwrap).
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::as_conversions,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]

pub mod address_selection;
pub mod capf;
#[cfg(feature = "tls")]
pub mod connection;
pub mod crypto_provider;
pub mod device_name;
mod framing;
pub mod issuance;
pub mod manual;
pub mod revocation;
pub mod rollover;
pub mod session;
pub mod time;
#[cfg(feature = "tls")]
pub mod tls;
pub mod trust;
pub mod tvs;
