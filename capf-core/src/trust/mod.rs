//! Trust stores and an evaluator that explains its verdict: *is this
//! certificate trusted for this purpose, through which anchor, and if not,
//! why not and what to do* — the question administrators ask in many forms
//! (a browser opening a phone's web page, a phone checking a TFTP-signed
//! config file or connecting to CAPF, a NAC server checking an LSC).
//!
//! * [`TrustStore`]: a kind ([`StoreKind`]: CTL, ITL, CAPF-trust,
//!   CallManager-trust, Phone-SAST-trust, manufacturing roots, enterprise
//!   roots, PEM bundle), a name and certificates with roles, plus optional
//!   [`Revocations`] (serials per issuer, SHA-256 digests, CRLs).
//! * [`evaluate`]`(chain, purpose, stores, now)` returns a [`Verdict`]:
//!   trusted or not, the [`Anchor`] and its store, the roles, the chain as
//!   built, and a [`Failure`] with a precise [`TrustFailureReason`] and a fix sentence.
//! * [`ServerTrust`]: what a phone-side host trusts a CAPF or TVS server
//!   by, read from one file as a phone holds it (a verifying CTL/ITL's
//!   records with the role, or certificates named directly), with the TLS
//!   configuration it implies (feature `tls`).
//!
//! ## Rules
//!
//! * **Pinning stores** (CTL, ITL, Phone-SAST-trust) answer TLS-server and
//!   file-signer purposes the way a phone does: the presented certificate
//!   must itself be listed (byte-identical DER) with a role that grants the
//!   purpose (CCM+TFTP grants both CCM and TFTP; config files need TFTP or
//!   CCM+TFTP; trust lists need SAST). No chain is built through records:
//!   a record identifies one certificate (tlv-files.md sections 4 and 10)
//!   and no role means "trust what this certificate signs". Phones do not
//!   check names or dates of pinned certificates, and neither does the
//!   evaluator: a host name is not compared (a note says so), an expired or
//!   not-yet-valid pin is a note, not a refusal, unless
//!   [`EvaluationOptions::check_pinned_validity`] is set. Revocation data
//!   still applies to a pin.
//! * **CA stores** (the others) hold trust anchors: every certificate in
//!   the store is an anchor (phones send no chain, so a server holds the
//!   issuing CA itself). rustls-webpki builds the path through the
//!   intermediates presented after the leaf, checks signatures, validity at
//!   `now`, CA constraints, EKU (serverAuth or clientAuth when the
//!   extension is present), CRLs, and its work budgets; the evaluator adds
//!   the path-length limit, revocation by digest or serial, keyUsage, and
//!   name checks: a host name against the subjectAltName (webpki's check),
//!   a device name against an LSC's CN or SAN URI, or a MIC's CN
//!   (`CP-8845-SEP001122334455`).
//! * **A leaf held in a CA store** (byte-identical DER) is its own anchor,
//!   as OpenSSL treats a trusted self-signed certificate. A CA:TRUE
//!   certificate is accepted that way only as a TLS server (the self-signed
//!   CA:TRUE CAPF and TVS certificates); for the purposes that take a
//!   phone's own certificate (TLS client, phone web server, CAPF
//!   authentication) a store-held CA:TRUE certificate is refused
//!   ([`TrustFailureReason::WrongKeyUsage`]): a CA is no phone's LSC or MIC. Either
//!   way it is still judged as a leaf: validity dates (subject to
//!   [`EvaluationOptions::skip_validity`] and
//!   [`EvaluationOptions::allow_expired_mic`]), keyUsage, EKU and the
//!   purpose's host or device name are checked as on a built path, and
//!   revocation applies.
//! * **SHA-1** (RSA PKCS#1 v1.5) is accepted only for CAPF authentication
//!   with a MIC through manufacturing roots or CAPF-trust (old Cisco
//!   manufacturing hierarchies sign with SHA-1; capf-protocol.md
//!   Appendix C), never for TLS, files or trust lists.
//! * **X.509 version 1.** A version 1 certificate is never an issuer (it
//!   has no basicConstraints): as a store certificate it is no anchor, as
//!   a presented intermediate it is not used, and a leaf it would issue is
//!   refused with [`TrustFailureReason::Version1`] naming it. A version 1 *leaf* is
//!   accepted for CAPF authentication only (lab PKIs make MICs and LSCs
//!   that way), and only when its signature verifies directly under a
//!   version 3 certificate of the store; its dates, revocation and the
//!   device name are judged as for any leaf. That one signature check is
//!   made outside rustls-webpki, in the module `v1_leaf`: the one
//!   exception to "chain building uses a well-tested verifier".
//! * Which stores answer which purpose: [`Purpose::uses_store`]. When
//!   several stores answer and all say no, the most telling failure is
//!   reported (a wrong role says more than "not in this other store").
//!
//! ```
//! use capf_core::time::Timestamp;
//! use capf_core::trust::{Purpose, TrustFailureReason, ServerRole, StoreKind, TrustStore, evaluate};
//! use ctl_format::TrustList;
//! let file = include_bytes!("../../../tests/vectors/real/cucm/CTLFile.tlv");
//! let list = TrustList::parse(file)?;
//! let ctl = TrustStore::from_trust_list(StoreKind::Ctl, "CTLFile.tlv", &list)?;
//! let capf = list.records()[3].certificate_der().unwrap(); // role CAPF
//! let now = Timestamp::from_unix_seconds(1_430_968_247);
//! let as_capf = Purpose::TlsServer { role: ServerRole::Capf, host: None };
//! assert!(evaluate(&[capf], &as_capf, &[ctl.clone()], now).trusted);
//! let as_ccm = Purpose::TlsServer { role: ServerRole::CallManager, host: None };
//! let verdict = evaluate(&[capf], &as_ccm, &[ctl], now);
//! assert_eq!(verdict.reason(), Some(TrustFailureReason::WrongRole));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod evaluate;
mod purpose;
#[cfg(feature = "tls")]
pub(crate) mod refusal;
mod server_trust;
mod sha1_rsa;
mod store;
mod v1_leaf;
mod verdict;
#[cfg(feature = "tls")]
pub mod verifiers;

pub use evaluate::{EvaluationOptions, evaluate, evaluate_with};
pub use purpose::{CapfCredential, Purpose, ServerRole, SignedFileKind};
pub use server_trust::{DirectCertificates, ServerAnchors, ServerTrust, ServerTrustError};
pub use store::{Revocations, StoreEntry, StoreError, StoreKind, TrustStore, UnknownStoreKind};
pub use verdict::{
    Anchor, ChainCertificate, Failure, StoreRef, TrustFailureReason, Verdict, format_unix,
};
