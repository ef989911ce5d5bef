//! Who signs a phone's LSC, for every host of a CAPF server: the answer to
//! the session's
//! [`IssueCertificate`](capf_core::capf::server::ServerDecision::IssueCertificate)
//! decision, the same in `capf serve`, the Python and the Kotlin bindings.
//!
//! A host holds one [`Issuer`] (the local CA, or with the feature `est` an
//! online CA through EST) and, at `IssueCertificate`, calls
//! [`answer_issue_certificate`] (async hosts) or
//! [`answer_issue_certificate_blocking`] (hosts without an async runtime).
//! It gets back the facts it records at the session's next decision,
//! `RecordPendingCertificate`, or the refusal the session was given (it
//! then ends with END_SESSION 7 and the status the refusal chooses):
//!
//! | issuer | what happens | refusal | device status |
//! | --- | --- | --- | --- |
//! | local | the issuer cannot sign (its key, the request) | [`IssueRefusal::Unavailable`] | CA Communication Failure |
//! | EST | the phone sent no signed request | [`refusal_without_request`](crate::est::refusal_without_request) (declined) | CA Rejected Connection |
//! | EST | the CA refused, did not answer, answered badly | [`EstError::refusal`](crate::est::EstError::refusal) | see [`crate::est`] |
//!
//! A host that must not hold its session while the CA works (a session
//! behind a lock shared with other threads) calls [`Issuer::issue`] or
//! [`Issuer::issue_blocking`] without the session, then
//! [`answer_issued`] with it: the two steps of the functions above. The
//! one-step functions are cheaper with the local CA: it signs the
//! session's own request, so the session need not parse the certificate
//! again to check that it carries the phone's key, as [`answer_issued`]
//! does.

use crate::model::NewCertificate;
use capf_core::capf::server::{IssueRefusal, ServerSession};
use capf_core::issuance::{CertificateAuthority, IssuedCertificate, LscIssuer, LscRequest};
use capf_core::session::SessionMisuse;
use capf_core::time::Timestamp;
use rand_core::CryptoRngCore;
use std::sync::Arc;
use std::time::Duration;

/// Who signs LSCs for a server.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum Issuer {
    /// The local CA (`capf serve --cert/--key` or `--issuer/--issuer-key`).
    Local {
        /// The issuing certificate and its key.
        authority: Arc<LscIssuer>,
        /// The validity of the LSCs it signs, in days.
        validity_days: u32,
    },
    /// An online CA through EST (`capf serve --est-url …`); the CA decides
    /// the validity.
    #[cfg(feature = "est")]
    Est(Arc<crate::est::EstClient>),
}

/// What the session's `IssueCertificate` decision asks for.
#[derive(Debug, Clone, Copy)]
pub struct CertificateNeeded<'a> {
    /// The authenticated device.
    pub device_name: &'a str,
    /// The phone's new key, DER SubjectPublicKeyInfo.
    pub subject_public_key_info_der: &'a [u8],
    /// The phone-signed PKCS#10 request, if the phone sent one (EST needs
    /// it).
    pub certificate_request_der: Option<&'a [u8]>,
}

impl Issuer {
    /// The longest this issuer may keep a session waiting: zero for the
    /// local CA, the client's timeout for EST. Hosts add it to the claim's
    /// lease ([`crate::rules::lease_until_with_issuance`]).
    pub fn issuance_timeout(&self) -> Duration {
        match self {
            Self::Local { .. } => Duration::ZERO,
            #[cfg(feature = "est")]
            Self::Est(client) => client.timeout(),
        }
    }

    /// Whether the phone must send a signed certificate request (EST).
    pub fn needs_certificate_request(&self) -> bool {
        match self {
            Self::Local { .. } => false,
            #[cfg(feature = "est")]
            Self::Est(_) => true,
        }
    }

    /// The certificate for `needed`, valid from `now` (the local CA; an
    /// external CA chooses its dates), with the facts the ledger records,
    /// or why the session is refused. `rng` draws the local CA's serial.
    pub async fn issue<R>(
        &self,
        needed: CertificateNeeded<'_>,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<NewCertificate, IssueRefusal>
    where
        R: CryptoRngCore + Send + ?Sized,
    {
        match self {
            Self::Local {
                authority,
                validity_days,
            } => issue_locally(authority, *validity_days, needed, now, rng),
            #[cfg(feature = "est")]
            Self::Est(client) => {
                let request = est_request(needed)?;
                client
                    .simple_enroll(request, needed.subject_public_key_info_der)
                    .await
                    .map(|der| NewCertificate::from_der(&der))
                    .map_err(|error| error.refusal())
            }
        }
    }

    /// [`issue`](Self::issue) for a host without an async runtime; may be
    /// called from any thread (EST runs on a thread of its own) and
    /// returns within the issuer's [`issuance_timeout`](Self::issuance_timeout).
    pub fn issue_blocking<R>(
        &self,
        needed: CertificateNeeded<'_>,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<NewCertificate, IssueRefusal>
    where
        R: CryptoRngCore + ?Sized,
    {
        match self {
            Self::Local {
                authority,
                validity_days,
            } => issue_locally(authority, *validity_days, needed, now, rng),
            #[cfg(feature = "est")]
            Self::Est(client) => {
                let request = est_request(needed)?;
                client
                    .simple_enroll_blocking(request, needed.subject_public_key_info_der)
                    .map(|der| NewCertificate::from_der(&der))
                    .map_err(|error| error.refusal())
            }
        }
    }
}

/// The local CA's certificate and its facts.
fn issue_locally<R>(
    authority: &LscIssuer,
    validity_days: u32,
    needed: CertificateNeeded<'_>,
    now: Timestamp,
    rng: &mut R,
) -> Result<NewCertificate, IssueRefusal>
where
    R: CryptoRngCore + ?Sized,
{
    let request = LscRequest {
        device_name: needed.device_name,
        subject_public_key_info_der: needed.subject_public_key_info_der,
        validity_days,
    };
    let mut rng = rng;
    facts(authority.issue(&request, now, &mut rng))
}

/// The local CA's result as the ledger and the session take it.
fn facts(
    issued: Result<IssuedCertificate, capf_core::issuance::IssuanceError>,
) -> Result<NewCertificate, IssueRefusal> {
    issued
        .map(new_certificate)
        .map_err(|error| IssueRefusal::Unavailable(error.to_string()))
}

/// The facts the ledger records of a certificate the local CA issued.
fn new_certificate(issued: IssuedCertificate) -> NewCertificate {
    NewCertificate {
        serial_hex: crate::model::hex_lower(&issued.serial),
        issued_at: issued.not_before.unix_seconds(),
        not_after: issued.not_after.unix_seconds(),
        der: issued.der,
    }
}

/// The local CA's answer, given to the session directly
/// ([`ServerSession::answer_with_issuer`]: the session's own request, so
/// the certificate is not parsed again to check its key); `None` for an
/// issuer the host asks first and answers with [`answer_issued`].
fn answer_if_local<R>(
    session: &mut ServerSession,
    issuer: &Issuer,
    now: Timestamp,
    rng: &mut R,
) -> Option<Result<Result<NewCertificate, IssueRefusal>, SessionMisuse>>
where
    R: CryptoRngCore + ?Sized,
{
    match issuer {
        Issuer::Local {
            authority,
            validity_days,
        } => {
            let mut rng = rng;
            Some(
                session
                    .answer_with_issuer(authority, *validity_days, now, &mut rng)
                    .map(facts),
            )
        }
        #[cfg(feature = "est")]
        Issuer::Est(_) => None,
    }
}

/// [`answer_issued`], returning the certificate's facts or the refusal.
fn answer_with(
    session: &mut ServerSession,
    issued: Result<NewCertificate, IssueRefusal>,
) -> Result<Result<NewCertificate, IssueRefusal>, SessionMisuse> {
    answer_issued(session, issued.clone())?;
    Ok(issued)
}

/// The phone's signed request, which EST needs.
#[cfg(feature = "est")]
fn est_request(needed: CertificateNeeded<'_>) -> Result<&[u8], IssueRefusal> {
    needed
        .certificate_request_der
        .ok_or_else(crate::est::refusal_without_request)
}

/// Answers the session's `IssueCertificate` with `issued`: the certificate
/// (its facts returned, for `RecordPendingCertificate`) or the refusal
/// (`None`).
pub fn answer_issued(
    session: &mut ServerSession,
    issued: Result<NewCertificate, IssueRefusal>,
) -> Result<Option<NewCertificate>, SessionMisuse> {
    match issued {
        Ok(certificate) => {
            session.answer_certificate(certificate.der.clone())?;
            Ok(Some(certificate))
        }
        Err(refusal) => {
            session.refuse_certificate(refusal)?;
            Ok(None)
        }
    }
}

/// Answers the session's `IssueCertificate` through `issuer` (see the
/// [module docs](self)): the facts to record as pending, or the refusal
/// the session was given.
pub async fn answer_issue_certificate<R>(
    session: &mut ServerSession,
    issuer: &Issuer,
    needed: CertificateNeeded<'_>,
    now: Timestamp,
    rng: &mut R,
) -> Result<Result<NewCertificate, IssueRefusal>, SessionMisuse>
where
    R: CryptoRngCore + Send + ?Sized,
{
    if let Some(answered) = answer_if_local(session, issuer, now, &mut *rng) {
        return answered;
    }
    answer_with(session, issuer.issue(needed, now, rng).await)
}

/// [`answer_issue_certificate`] for a host without an async runtime.
pub fn answer_issue_certificate_blocking<R>(
    session: &mut ServerSession,
    issuer: &Issuer,
    needed: CertificateNeeded<'_>,
    now: Timestamp,
    rng: &mut R,
) -> Result<Result<NewCertificate, IssueRefusal>, SessionMisuse>
where
    R: CryptoRngCore + ?Sized,
{
    if let Some(answered) = answer_if_local(session, issuer, now, &mut *rng) {
        return answered;
    }
    answer_with(session, issuer.issue_blocking(needed, now, rng))
}
