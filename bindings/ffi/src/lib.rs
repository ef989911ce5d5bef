//! # capf-ffi
//!
//! uniffi bindings (Kotlin, Swift, Python) over `capf-core` and
//! `ctl-format`: thin objects over the core, plain data as records and
//! enums, one small error enum per area converted once at the boundary.
//! No protocol logic lives here; nothing here panics on input (bad input is
//! an error, raised as an exception in the foreign language).
//!
//! * [`files`]: trust lists (CTL/ITL), signed files, encrypted configs;
//! * [`phone`]: the CAPF phone session ([`phone::PhoneSession`]);
//! * [`connection`]: the core's TLS connection over a phone or TVS client
//!   session, for apps that move the TCP bytes themselves;
//! * [`enroll`]: a blocking enrollment doing its own TCP;
//! * [`keystore`]: the [`keystore::PhoneKeystore`] the app implements over
//!   its platform keystore (keys never enter Rust), and the in-memory
//!   [`keystore::SoftwareKeystore`] for tests and desktops;
//! * [`server`]: the CAPF server session and the local LSC issuer;
//! * [`est`]: the online CA through EST that signs LSCs instead;
//! * [`registry`]: the SQLite device registry and a server session
//!   answered from it (the rules stay in `capf-registry`);
//! * [`trust`]: trust stores and trust evaluation with its explanation;
//! * [`tvs`]: the TVS client (phone) and server sessions.
//!
//! Time crosses the boundary as milliseconds since the Unix epoch (`u64`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

uniffi::setup_scaffolding!();

pub mod connection;
pub mod enroll;
pub mod est;
pub mod files;
pub mod keystore;
pub mod phone;
pub mod registry;
pub mod server;
pub mod trust;
pub mod tvs;
mod types;

pub use types::{CertificateRequestAlgorithm, EcCurve, KeySpec, ProofCredential, ProofHash};

use std::sync::{Mutex, MutexGuard};

/// Locks a session. No code of this crate panics while holding a lock, so a
/// poisoned lock cannot happen; if it ever did, the state is still a valid
/// session (every core method leaves it consistent) and is used as is
/// rather than turning one failure into a crash of the host.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
