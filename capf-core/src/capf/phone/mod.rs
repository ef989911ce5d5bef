//! The phone (client) side of CAPF (spec `capf-protocol.md` 10.13), sans-IO.
//!
//! * [`PhoneSession`]: one session over one connection. The server speaks
//!   first; the phone authenticates ([`PhoneCredentials`]: authentication
//!   string, null string, or an existing LSC/MIC with optional SUDI, whose
//!   proofs the host signs: [`PhoneDecision::SignProof`], or the in-memory
//!   [`SoftwareSigner`]), then
//!   answers the server's requests with the host's help
//!   ([`PhoneDecision`]: generate a key, store the issued LSC, return or
//!   delete the LSC) and ends with a [`PhoneOutcome`].
//! * [`EnrollmentAttempts`]: the retry policy across sessions (after a
//!   communication failure, 3 more tries at 30-second intervals).
//!
//! The frames the session sends are byte for byte those of the reference
//! phone emulator recorded in `tests/vectors/capf/` (element orders of spec
//! 8, empty PASSWORD outside authentication-string mode, deterministic RSA
//! proofs).
//!
//! Where the reference client differs, this implementation:
//!
//! * accepts server VERSION 2 as well as 3 by default
//!   ([`PhoneConfig::with_accepted_server_versions`]);
//! * skips unknown elements instead of rejecting the frame;
//! * checks, before asking the host to store an issued certificate, that it
//!   parses and carries exactly the generated public key;
//! * applies a response timeout to every wait for the server except while
//!   the host generates a key;
//! * can send, with the new public key, a PKCS#10 request signed by that key
//!   ([`PhoneConfig::with_certificate_request`], off by default; our reading
//!   of the "signed message" of spec section 15, see
//!   [`certificate_request`](crate::capf::certificate_request)).

mod config;
mod credentials;
mod outcome;
mod retry;
mod session;
mod signer;

pub use config::{AuthResponseLayout, PhoneConfig};
pub use credentials::{
    AuthString, CertificateCredentials, CertificatePrecedence, CredentialError, PhoneCredentials,
    ProofCredential,
};
pub use outcome::{
    CommunicationFailure, LocalFailure, PhoneDecision, PhoneOutcome, PhoneOutput,
    PhoneProtocolViolation, PhoneSessionState, StoreFailure,
};
pub use retry::{EnrollmentAttempts, RetryDecision, RetryPolicy};
pub use session::PhoneSession;
pub use signer::SoftwareSigner;
