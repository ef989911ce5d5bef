//! # ctl-format
//!
//! The Cisco signed-file family, read and written byte for byte:
//!
//! * CTL and ITL trust lists (`CTLFile.tlv`, `ITLFile.tlv`): [`trust_list`];
//! * signed files (`.sgn`, firmware `.loads`): [`signed_file`];
//! * encrypted configuration files (`.enc.sgn`): [`encrypted_config`].
//!
//! All share one signed header ([`SignedHeader`]), parsed strictly and
//! without copying, built and signed with [`sign_file`] through the
//! [`FileSigner`] trait so the key may live anywhere.
//!
//! Each parsed type borrows the file (zero-copy, for servers, fuzzing and
//! benchmarks) and has an owned form without a lifetime for bindings and
//! long-lived values ([`owned`]: [`OwnedTrustList`], [`OwnedSignedFile`],
//! [`OwnedEncryptedConfig`]); both give the same answers from one
//! implementation.
//!
//! Errors say who is at fault ([`error`]): [`MalformedFile`] (bad input,
//! with offsets), [`Refusal`] (the answer is no) or [`UsageError`] (the
//! caller gave something unusable), under one [`Error`].
//!
//! Nothing here panics on input bytes or allocates without bound: every
//! length in the format is 16-bit and checked before use.
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

pub mod certificate;
pub mod encrypted_config;
pub mod error;
pub mod hash;
pub mod header;
pub mod owned;
pub mod pem;
pub mod signed_file;
pub mod signer;
pub mod tlv;
pub mod trust_list;

pub use certificate::{Certificate, NameStyle, PublicKeyKind};
pub use encrypted_config::{EncryptOptions, EncryptedConfig, reduced_config};
pub use error::{Error, Fault, MalformedFile, Refusal, Result, UsageError};
pub use hash::{HashAlgorithm, HashPolicy};
pub use header::{ElementOrder, FileVersion, HeaderSpec, SignedHeader, Warning, sign_file};
pub use owned::{
    OwnedElement, OwnedEncryptedConfig, OwnedRecord, OwnedSignedFile, OwnedSignedHeader,
    OwnedTrustList,
};
pub use signed_file::{IssuerMatch, SignOptions, SignatureStatus, SignedFile, Verified};
pub use signer::{FileSigner, RsaFileSigner, SigningError};
pub use tlv::TlvString;
pub use trust_list::{RecordEntry, RecordLayout, Role, TrustList, TrustListBuilder, TrustListKind};
