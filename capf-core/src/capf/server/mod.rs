//! The CAPF server side: one sans-IO [`ServerSession`] per phone connection.
//!
//! The session keeps the crate's one
//! [`Session`](crate::session::Session) contract ([`crate::manual`]): the
//! host feeds the phone's plaintext with [`ServerSession::handle_input`],
//! drains [`ServerSession::poll_output`] ([`ServerOutput::Transmit`] one
//! whole frame per item, [`ServerOutput::Need`] a [`ServerDecision`] to
//! answer, [`ServerOutput::Done`] the [`ServerOutcome`]), passes time with
//! [`ServerSession::handle_timeout`] and honours
//! [`ServerSession::poll_timeout`].
//!
//! The flows are those of spec 10.12 with our rules (spec 14 lists where the
//! reference is lax):
//!
//! | situation | END_SESSION | outcome |
//! | --- | --- | --- |
//! | unknown device (whatever the credentials) | 9 | [`SessionResult::UnknownDevice`] |
//! | refused by the host at lookup (operation held by another session) | 7 | [`SessionResult::DeviceRefused`] |
//! | locked out, wrong/missing string, certificate or proof refused | 7 | [`SessionResult::AuthenticationFailed`] |
//! | nothing scheduled | 0 | [`SessionResult::NothingToDo`] |
//! | install: phone stored the LSC (STORE_CERT_RESPONSE 1) | 1 | [`SessionResult::Installed`] |
//! | install: phone did not confirm storing | 7 | [`SessionResult::StoreFailed`] (certificate stays pending) |
//! | install: key generation failed | 7 | [`SessionResult::KeyGenerationFailed`] (operation stays) |
//! | install, EC preferred: phone refused EC | - | asks for RSA in the same session, once ([`KeyRequest::EcPreferred`](crate::capf::key_request::KeyRequest::EcPreferred)) |
//! | install, EC only: a CAPF v3 phone refused EC | 7 | [`SessionResult::EcOnlyNotSupported`] (operation stays) |
//! | install: host refused to issue | 7 | [`SessionResult::IssueRefused`] |
//! | fetch: certificate returned | 0 | [`SessionResult::Fetched`] |
//! | fetch: nothing returned | 0 (7 if "success" without certificate) | [`SessionResult::FetchFailed`] |
//! | delete: deleted / not deleted | 1 / 1 | [`SessionResult::Deleted`] / [`SessionResult::DeleteRefused`] |
//! | wrong session id, unexpected command, missing or invalid DEVICE_NAME ([`DeviceName`](crate::device_name::DeviceName)), missing VERSION, version not 2 or 3, repeated element, malformed frame | 7 | [`SessionResult::ProtocolError`] |
//! | a wait for the phone expired | 7 | [`SessionResult::TimedOut`] |
//! | the phone closed the connection | none | [`SessionResult::PeerClosed`] |
//! | the transport failed (host report) | none | [`SessionResult::TransportFailed`] |
//!
//! Every row ends the same way: the session asks the host to record the
//! outcome ([`ServerDecision::RecordOutcome`]) and sends the END_SESSION of
//! the table only once the host answered
//! [`ServerSession::answer_outcome_recorded`] (END_SESSION 7 instead after
//! [`ServerSession::refuse_outcome_record`]), then ends with `Done`. The
//! phone is never told an operation finished before the host's registry
//! holds it, however eagerly the host writes frames.
//!
//! Where we deliberately differ from the reference server: VERSION 2 is
//! accepted (Jabber sends it); any number of REQUEST_IN_PROGRESS frames are
//! accepted while the phone generates its key; unknown element tags are
//! ignored instead of rejected; a repeated known element is rejected
//! instead of silently overwritten; an install is done only after the phone
//! confirms storing (and a failed store ends with 7, not 1); certificate
//! authentication checks the chain, validity dates and name binding, strict
//! proof padding, and rejects a non-RSA SUDI instead of skipping it; a
//! timed-out wait sends END_SESSION 7 before ending.
//!
//! Before an issued certificate goes on the wire the session asks the host
//! to record it as pending ([`ServerDecision::RecordPendingCertificate`]),
//! so the host's ledger never misses a certificate a phone may hold.

mod auth_string;
mod certificate_check;
mod device;
mod outcome;
mod session;
mod session_id;

pub use auth_string::{
    AUTH_KEY_LEN, AUTH_STRING_HASH_LEN, AuthStringError, AuthStringHash, GeneratedAuthString,
    MAX_AUTH_STRING_DIGITS, MIN_AUTH_STRING_DIGITS, MIN_SALT_LEN, generate_auth_string,
    keyed_auth_string_hash, validate_auth_string,
};
pub use certificate_check::{
    CertificateCheckError, CertificateKind, CertificatePolicy, CertificatePurpose,
    CertificateVerdict, MIN_RSA_ISSUER_BITS, check_certificate,
};
pub use device::{AuthMode, CertificatePreference, DeviceRecord, Operation};
pub use outcome::{
    AuthFailure, CertificateAuthentication, DeviceRefusal, IssueRefusal, ServerDecision,
    ServerOutcome, ServerOutput, ServerProtocolViolation, SessionResult, SessionState,
};
pub use session::{MAX_DEVICE_NAME_LEN, ServerConfig, ServerSession};
pub use session_id::SessionIdAllocator;
