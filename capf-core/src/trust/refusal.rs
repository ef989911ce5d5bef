//! The trust evaluator's verdict as rustls' answer, and back (feature
//! `tls`): every verifier of this crate (those in
//! [`verifiers`](super::verifiers) and [`crate::tls::RootsVerifier`]) judges
//! a presented chain with [`judge`], and a host reads the evaluator's
//! [`Failure`] out of the refused handshake's error with [`failure_of`].
//!
//! It depends on the evaluator alone, so both the TLS module and the
//! verifiers use it without depending on each other in a circle.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::{CertificateError, OtherError};

use super::evaluate::{EvaluationOptions, evaluate_with};
use super::purpose::Purpose;
use super::store::TrustStore;
use super::verdict::{Failure, TrustFailureReason, Verdict};
use crate::time::Timestamp;

/// The certificate half of every verifier of this crate: evaluates the
/// presented chain (leaf, then the intermediates the peer sent) and turns
/// a "no" into the rustls error that carries the evaluator's [`Failure`].
pub(crate) fn judge(
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    purpose: &Purpose,
    stores: &[TrustStore],
    now: Timestamp,
    options: &EvaluationOptions,
) -> Result<(), rustls::Error> {
    let chain: Vec<&[u8]> = core::iter::once(end_entity.as_ref())
        .chain(intermediates.iter().map(AsRef::as_ref))
        .collect();
    let verdict = evaluate_with(&chain, purpose, stores, now, options);
    if verdict.trusted {
        Ok(())
    } else {
        Err(refusal(verdict))
    }
}

/// The rustls error for a negative verdict: `InvalidCertificate(Other)`
/// wrapping the [`Failure`] (see [`failure_of`]).
fn refusal(verdict: Verdict) -> rustls::Error {
    let failure = verdict.failure.unwrap_or_else(|| Failure {
        reason: TrustFailureReason::Malformed,
        detail: "not trusted".to_owned(),
        fix: String::new(),
        store: None,
    });
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(failure))))
}

/// The evaluator's failure inside a rustls error from one of these
/// verifiers, if that is what it is.
pub fn failure_of(error: &rustls::Error) -> Option<&Failure> {
    match error {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            inner.downcast_ref::<Failure>()
        }
        _ => None,
    }
}
