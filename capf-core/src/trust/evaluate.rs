//! `evaluate(chain, purpose, stores, now)`: pins and roles are ours, chain
//! building and signatures are rustls-webpki's.

// A store's "no" carries the failure and the path found, and is built once
// per store per evaluation: its size does not matter, boxing would only
// add noise.
#![allow(clippy::result_large_err)]

use core::time::Duration;

use ctl_format::trust_list::Role;
use ctl_format::{Certificate, NameStyle};
use rustls_pki_types::{
    CertificateDer, ServerName, SignatureVerificationAlgorithm, TrustAnchor, UnixTime,
};
use webpki::{
    CertRevocationList, EndEntityCert, ExpirationPolicy, ExtendedKeyUsageValidator,
    KeyPurposeIdIter, KeyUsage, OwnedCertRevocationList, RevocationCheckDepth,
    RevocationOptionsBuilder, UnknownStatusPolicy, VerifiedPath,
};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage as X509KeyUsage, SubjectAltName,
};

use super::purpose::{CapfCredential, Purpose, SignedFileKind};
use super::sha1_rsa::RSA_PKCS1_SHA1;
use super::store::{Revocations, StoreEntry, StoreKind, TrustStore};
use super::v1_leaf::{self, SignatureProblem};
use super::verdict::{
    Anchor, ChainCertificate, Failure, StoreRef, TrustFailureReason, Verdict, format_unix,
};
use crate::time::Timestamp;

const OID_SERVER_AUTH: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
const OID_CLIENT_AUTH: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
const OID_SHA1_RSA: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5");

/// Policy knobs of the evaluator; strict by default.
///
/// ```
/// use capf_core::trust::EvaluationOptions;
/// let options = EvaluationOptions::default();
/// assert_eq!(options.max_chain_length, 4);
/// assert!(!options.allow_expired_mic && !options.check_pinned_validity);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationOptions {
    /// Most certificates in a built path, leaf and anchor included (4: up
    /// to two intermediates). rustls-webpki's own budgets (path-building
    /// calls, signature checks) apply as well.
    pub max_chain_length: usize,
    /// Accept an expired MIC, and expired intermediates of its path, for
    /// CAPF authentication (capf-protocol.md Appendix C: many phones in
    /// service carry one): the path must have been valid at one instant
    /// before `now`. A certificate not yet valid is still refused. Off by
    /// default; the verdict notes when it was used.
    pub allow_expired_mic: bool,
    /// Judge the validity dates of CTL/ITL-pinned certificates. Off by
    /// default because phones do not (the pin is the whole decision); an
    /// expired pin is then reported as a note.
    pub check_pinned_validity: bool,
    /// Do not judge validity dates on CA paths: a path is accepted when its
    /// certificates were all valid at one common instant, whenever that
    /// was (a path whose intermediate expired before the leaf was issued
    /// never was valid and is still refused). Off by default; the verdict
    /// notes when it was used.
    pub skip_validity: bool,
}

impl Default for EvaluationOptions {
    fn default() -> Self {
        Self {
            max_chain_length: 4,
            allow_expired_mic: false,
            check_pinned_validity: false,
            skip_validity: false,
        }
    }
}

/// Evaluates `chain` (DER, leaf first, then any intermediates the peer
/// sent) for `purpose` against `stores` at `now`, with the default
/// [`EvaluationOptions`]. See the [module documentation](super) for the
/// rules.
pub fn evaluate<C: AsRef<[u8]>>(
    chain: &[C],
    purpose: &Purpose,
    stores: &[TrustStore],
    now: Timestamp,
) -> Verdict {
    evaluate_with(chain, purpose, stores, now, &EvaluationOptions::default())
}

/// [`evaluate`] with explicit options.
pub fn evaluate_with<C: AsRef<[u8]>>(
    chain: &[C],
    purpose: &Purpose,
    stores: &[TrustStore],
    now: Timestamp,
    options: &EvaluationOptions,
) -> Verdict {
    let mut verdict = Verdict {
        trusted: false,
        purpose: purpose.clone(),
        anchor: None,
        roles: Vec::new(),
        chain: Vec::new(),
        failure: None,
        notes: Vec::new(),
    };
    let mut parsed = Vec::with_capacity(chain.len());
    for (index, der) in chain.iter().enumerate() {
        match Certificate::from_der(der.as_ref()) {
            Ok(certificate) => parsed.push(certificate),
            Err(error) => {
                verdict.failure = Some(Failure {
                    reason: TrustFailureReason::Malformed,
                    detail: format!("certificate {index} of the chain does not parse: {error}"),
                    fix: "export the certificate again as PEM or DER X.509 (leaf first)".to_owned(),
                    store: None,
                });
                return verdict;
            }
        }
    }
    let Some(leaf) = parsed.first() else {
        verdict.failure = Some(Failure {
            reason: TrustFailureReason::Malformed,
            detail: "no certificate was given".to_owned(),
            fix: "give the certificate to check (PEM or DER), leaf first".to_owned(),
            store: None,
        });
        return verdict;
    };
    // Described once: the verdict's chain when no path is found, the
    // leaf's names for every message and the pinned chain.
    let described: Vec<ChainCertificate> = parsed.iter().map(ChainCertificate::describe).collect();
    let Some(leaf_description) = described.first() else {
        return verdict;
    };

    let applicable: Vec<&TrustStore> = stores
        .iter()
        .filter(|store| purpose.uses_store(store.kind()))
        .collect();
    if applicable.is_empty() {
        let given: Vec<String> = stores.iter().map(|s| s.kind().to_string()).collect();
        let wanted: Vec<&str> = purpose
            .store_kinds()
            .into_iter()
            .map(StoreKind::cli_name)
            .collect();
        verdict.failure = Some(Failure {
            reason: TrustFailureReason::NoApplicableStore,
            detail: format!(
                "none of the stores given ({}) answers for {purpose}",
                if given.is_empty() {
                    "none".to_owned()
                } else {
                    given.join(", ")
                }
            ),
            fix: format!("give a store of kind {}", wanted.join(" or ")),
            store: None,
        });
        verdict.chain = described;
        return verdict;
    }

    let mut revocations = Revocations::new();
    for store in stores {
        revocations.extend(store.revocations());
    }
    let context = Context {
        purpose,
        leaf,
        leaf_description,
        presented: &parsed,
        now,
        options,
        revocations: &revocations,
        mic: is_mic(purpose, leaf, &leaf_description.issuer),
    };
    let mut best: Option<Miss> = None;
    for store in applicable {
        let outcome = if store.kind().is_pinning() {
            evaluate_pinned(&context, store)
        } else {
            evaluate_chain(&context, store)
        };
        match outcome {
            Ok(found) => {
                verdict.trusted = true;
                verdict.anchor = Some(found.anchor);
                verdict.roles = found.roles;
                verdict.chain = found.chain;
                verdict.notes.extend(found.notes);
                return verdict;
            }
            Err(miss) => {
                let better = best
                    .as_ref()
                    .is_none_or(|held| miss.failure.reason.rank() > held.failure.reason.rank());
                if better {
                    best = Some(miss);
                }
            }
        }
    }
    if let Some(miss) = best {
        if let Some(found) = miss.found {
            verdict.anchor = Some(found.anchor);
            verdict.roles = found.roles;
            verdict.chain = found.chain;
            verdict.notes.extend(found.notes);
        }
        verdict.failure = Some(miss.failure);
    }
    if verdict.chain.is_empty() {
        verdict.chain = described;
    }
    verdict
}

/// What every store's evaluation looks at.
struct Context<'a> {
    purpose: &'a Purpose,
    leaf: &'a Certificate,
    /// The leaf described (its subject names it in every message).
    leaf_description: &'a ChainCertificate,
    presented: &'a [Certificate],
    now: Timestamp,
    options: &'a EvaluationOptions,
    revocations: &'a Revocations,
    /// Whether the presented certificate is (or is said to be) a MIC.
    mic: bool,
}

/// A path to an anchor of one store.
struct Found {
    anchor: Anchor,
    roles: Vec<Role>,
    chain: Vec<ChainCertificate>,
    notes: Vec<String>,
}

/// One store's "no", with the path when one was built.
struct Miss {
    failure: Failure,
    found: Option<Found>,
}

fn store_ref(store: &TrustStore) -> StoreRef {
    StoreRef {
        kind: store.kind(),
        name: store.name().to_owned(),
    }
}

fn subject(certificate: &Certificate) -> String {
    certificate.subject_name(NameStyle::Certutils)
}

impl Context<'_> {
    fn leaf_subject(&self) -> &str {
        &self.leaf_description.subject
    }
}

fn role_list(roles: &[Role]) -> String {
    let names: Vec<String> = roles.iter().map(ToString::to_string).collect();
    if names.is_empty() {
        "no role".to_owned()
    } else {
        names.join(" and ")
    }
}

/// A MIC by the purpose's word, or by its looks: issued by a Cisco
/// manufacturing or SUDI CA, or a CN of the form `MODEL-SEP<12 hex>`.
fn is_mic(purpose: &Purpose, leaf: &Certificate, leaf_issuer: &str) -> bool {
    match purpose {
        Purpose::CapfAuthentication { credential, .. } => *credential == CapfCredential::Mic,
        _ => {
            let issuer = leaf_issuer.to_ascii_lowercase();
            let cn = leaf.common_name().unwrap_or_default();
            let model_sep = cn.rsplit_once("-SEP").is_some_and(|(model, mac)| {
                !model.is_empty()
                    && mac.len() == 12
                    && mac.bytes().all(|byte| byte.is_ascii_hexdigit())
            });
            issuer.contains("manufacturing")
                || issuer.contains("cap-rtp")
                || issuer.contains("sudi")
                || model_sep
        }
    }
}

fn pinned_validity(context: &Context<'_>, found: &mut Found) -> Option<Failure> {
    let (not_before, not_after) = context.leaf.validity();
    let now = context.now.unix_seconds();
    let problem = if now > not_after {
        Some((
            TrustFailureReason::Expired,
            format!("expired on {}", format_unix(not_after)),
        ))
    } else if now < not_before {
        Some((
            TrustFailureReason::NotYetValid,
            format!("is valid only from {}", format_unix(not_before)),
        ))
    } else {
        None
    };
    let (reason, words) = problem?;
    if context.options.check_pinned_validity {
        Some(Failure {
            reason,
            detail: format!("the pinned certificate {} {words}", context.leaf_subject()),
            fix: "renew the certificate and list the new one in the CTL/ITL (sign the list again)"
                .to_owned(),
            store: None,
        })
    } else {
        found.notes.push(format!(
            "the certificate {words}; phones do not judge the dates of CTL/ITL-pinned certificates, but renew it"
        ));
        None
    }
}

/// CTL, ITL, Phone-SAST-trust: the presented certificate itself must be
/// listed with a role that grants the purpose. No chain is built through
/// the records: phones match the certificate against the records
/// (tlv-files.md sections 4 and 10; TVS identifies certificates by digest),
/// and a record never says "trust what this certificate signs".
fn evaluate_pinned(context: &Context<'_>, store: &TrustStore) -> Result<Found, Miss> {
    let wanted = context.purpose.pinned_roles();
    let want = wanted.first().copied().unwrap_or(Role::Sast);
    let leaf_subject = context.leaf_subject();
    // Byte equality is the whole test; nothing of the store is parsed.
    let Some(entry) = store
        .entries()
        .iter()
        .find(|entry| entry.der() == context.leaf.der())
    else {
        // Only entries with the same subject (as rendered when the store
        // was built) can have the same subject DER: parse only those.
        let near_miss = store.entries().iter().any(|entry| {
            entry.subject() == leaf_subject
                && Certificate::from_der(entry.der()).is_ok_and(|listed| {
                    listed.x509().tbs_certificate.subject
                        == context.leaf.x509().tbs_certificate.subject
                        && listed.record_public_key() == context.leaf.record_public_key()
                })
        });
        let mut detail = format!(
            "{leaf_subject} (SHA-256 {}) is not in the {} {}",
            super::verdict::hex(&context.leaf.sha256_fingerprint()),
            store.kind(),
            store.name()
        );
        if near_miss {
            detail.push_str(
                "; a certificate with the same subject and key is listed, but it is a different certificate (re-issued?)",
            );
        }
        let fix = match context.purpose {
            Purpose::FileSigner {
                file: SignedFileKind::TrustList,
            } => format!(
                "the phone keeps the list it has: sign the new list with a SAST certificate of that list (or have TVS vouch for the signer), or first add {leaf_subject} with role SAST to the list the phone holds"
            ),
            Purpose::FileSigner { .. } => format!(
                "sign the file with a certificate listed with role TFTP or CCM+TFTP, or add {leaf_subject} to the phone's CTL/ITL with role TFTP"
            ),
            _ => format!(
                "add the {want} certificate ({leaf_subject}) to the phone's CTL/ITL with role {want}"
            ),
        };
        return Err(Miss {
            failure: Failure {
                reason: TrustFailureReason::NotListed,
                detail,
                fix,
                store: Some(store_ref(store)),
            },
            found: None,
        });
    };
    let mut found = Found {
        anchor: Anchor {
            subject: entry.subject().to_owned(),
            sha256: entry.sha256(),
            store: store_ref(store),
            pinned: true,
        },
        roles: entry.roles().to_vec(),
        chain: vec![context.leaf_description.clone()],
        notes: Vec::new(),
    };
    if context.presented.len() > 1 {
        found.notes.push(format!(
            "phones compare only the presented certificate with the {} records; the other {} certificate(s) were not used",
            store.kind(),
            context.presented.len().saturating_sub(1)
        ));
    }
    if matches!(context.purpose, Purpose::TlsServer { host: Some(_), .. }) {
        found
            .notes
            .push("phones do not check the names of CTL/ITL-pinned servers; the host name was not checked".to_owned());
    }
    let miss = |failure: Failure, found: Found| {
        Err(Miss {
            failure: Failure {
                store: Some(store_ref(store)),
                ..failure
            },
            found: Some(found),
        })
    };
    if !entry.roles().iter().any(|role| wanted.contains(role)) {
        let have = role_list(entry.roles());
        let failure = Failure {
            reason: TrustFailureReason::WrongRole,
            detail: format!(
                "{leaf_subject} is in the {} {} with role {have}, which does not grant {}",
                store.kind(),
                store.name(),
                context.purpose
            ),
            fix: format!(
                "the certificate is in the {} but with role {have}, not {want}: add a record for it with role {want} (or connect to the server that holds role {want})",
                store.kind()
            ),
            store: None,
        };
        return miss(failure, found);
    }
    if context.revocations.revokes(context.leaf) {
        let failure = revoked_failure(context.leaf);
        return miss(failure, found);
    }
    if let Some(failure) = pinned_validity(context, &mut found) {
        return miss(failure, found);
    }
    Ok(found)
}

fn revoked_failure(certificate: &Certificate) -> Failure {
    Failure {
        reason: TrustFailureReason::Revoked,
        detail: format!(
            "{} (serial {}) is revoked",
            subject(certificate),
            super::verdict::hex(&certificate.serial_number())
        ),
        fix: "stop using this certificate: issue a new one (for a phone, schedule a CAPF install/upgrade) and distribute it".to_owned(),
        store: None,
    }
}

/// The extended key usage a purpose needs on the leaf, checked by webpki
/// (only when the extension is present, as webpki does for TLS).
#[derive(Debug, Clone, Copy)]
enum EkuPolicy {
    ServerAuth,
    ClientAuth,
    Any,
}

impl EkuPolicy {
    fn of(purpose: &Purpose) -> Self {
        match purpose {
            Purpose::TlsServer { .. } | Purpose::PhoneWebServer { .. } => Self::ServerAuth,
            Purpose::TlsClient { .. } => Self::ClientAuth,
            _ => Self::Any,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::ServerAuth => "serverAuth",
            Self::ClientAuth => "clientAuth",
            Self::Any => "any",
        }
    }
}

impl ExtendedKeyUsageValidator for EkuPolicy {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        match self {
            Self::ServerAuth => KeyUsage::server_auth().validate(iter),
            Self::ClientAuth => KeyUsage::client_auth().validate(iter),
            Self::Any => Ok(()),
        }
    }
}

/// The crypto provider's certificate signature algorithms (see
/// [`crate::crypto_provider`]), plus RSA/SHA-1 where allowed.
fn algorithms(sha1: bool) -> Vec<&'static dyn SignatureVerificationAlgorithm> {
    let mut list = crate::crypto_provider::webpki_algorithms().to_vec();
    if sha1 {
        list.push(&RSA_PKCS1_SHA1);
    }
    list
}

fn unix_time(seconds: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(seconds))
}

/// CA stores: the leaf itself may be in the store (then it is its own
/// anchor, as OpenSSL treats a trusted self-signed certificate, but its
/// dates, keyUsage, EKU and the purpose's host or device name are judged
/// as for any leaf, and a CA certificate is no phone's own); otherwise
/// rustls-webpki builds a path from the leaf through the presented
/// intermediates to any certificate of the store, every one of which is an
/// anchor (Unified CM trust stores and phones, which send no chain, need
/// the issuing CA itself).
fn evaluate_chain(context: &Context<'_>, store: &TrustStore) -> Result<Found, Miss> {
    let leaf_der = CertificateDer::from(context.leaf.der());
    // webpki refuses version 1 certificates: a version 1 leaf is judged
    // without it (see `version1_leaf_path`), for CAPF authentication only.
    let version1 = v1_leaf::is_version1(context.leaf);
    if version1 && !matches!(context.purpose, Purpose::CapfAuthentication { .. }) {
        return Err(Miss {
            failure: Failure {
                reason: TrustFailureReason::Version1,
                detail: format!(
                    "{} is an X.509 version 1 certificate; a version 1 leaf is accepted only for CAPF authentication, not for {}",
                    context.leaf_subject(),
                    context.purpose
                ),
                fix: "reissue the certificate as version 3 (with extensions: openssl x509 -req -extfile, or openssl ca with an extensions section)".to_owned(),
                store: Some(store_ref(store)),
            },
            found: None,
        });
    }
    let end_entity = if version1 {
        None
    } else {
        match EndEntityCert::try_from(&leaf_der) {
            Ok(end_entity) => Some(end_entity),
            Err(error) => {
                return Err(Miss {
                    failure: webpki_failure(context, store, &error),
                    found: None,
                });
            }
        }
    };
    let mut found = if let Some(entry) = store
        .entries()
        .iter()
        .find(|entry| entry.der() == context.leaf.der())
    {
        let found = Found {
            anchor: Anchor {
                subject: entry.subject().to_owned(),
                sha256: entry.sha256(),
                store: store_ref(store),
                pinned: true,
            },
            roles: entry.roles().to_vec(),
            chain: vec![context.leaf_description.clone()],
            notes: Vec::new(),
        };
        if context.revocations.revokes(context.leaf) {
            return Err(Miss {
                failure: Failure {
                    store: Some(store_ref(store)),
                    ..revoked_failure(context.leaf)
                },
                found: Some(found),
            });
        }
        if let Some(failure) = device_ca_leaf(context) {
            return Err(Miss {
                failure: Failure {
                    store: Some(store_ref(store)),
                    ..failure
                },
                found: Some(found),
            });
        }
        let mut found = found;
        if let Some(failure) = direct_validity(context, &mut found) {
            return Err(Miss {
                failure: Failure {
                    store: Some(store_ref(store)),
                    ..failure
                },
                found: Some(found),
            });
        }
        found
    } else if let Some(end_entity) = &end_entity {
        build_path(context, store, end_entity)?
    } else {
        version1_leaf_path(context, store)?
    };
    if let Some(failure) = leaf_checks(context, end_entity.as_ref()) {
        return Err(Miss {
            failure: Failure {
                store: Some(store_ref(store)),
                ..failure
            },
            found: Some(found),
        });
    }
    if context.mic && context.purpose_is_tls() {
        found.notes.push(
            "a MIC proves \"a Cisco phone\", not \"our phone\", and some models share MIC keys (CVE-2022-20817): prefer an LSC".to_owned(),
        );
    }
    Ok(found)
}

impl Context<'_> {
    fn purpose_is_tls(&self) -> bool {
        matches!(
            self.purpose,
            Purpose::TlsClient { .. } | Purpose::PhoneWebServer { .. }
        )
    }

    fn mic_expiry_allowed(&self) -> bool {
        self.options.allow_expired_mic
            && matches!(
                self.purpose,
                Purpose::CapfAuthentication {
                    credential: CapfCredential::Mic,
                    ..
                }
            )
    }
}

/// The instants to check a path at again after `error` at `now`, by the
/// date allowances of the options (none when no allowance applies).
fn relaxed_instants(context: &Context<'_>, error: &webpki::Error) -> Vec<u64> {
    let now = context.now.unix_seconds();
    let expired = matches!(error, webpki::Error::CertExpired { .. });
    let not_yet = matches!(error, webpki::Error::CertNotValidYet { .. });
    let mut instants: Vec<u64> = if context.options.skip_validity && (expired || not_yet) {
        context
            .presented
            .iter()
            .flat_map(|certificate| {
                let (not_before, not_after) = certificate.validity();
                [not_before, not_after]
            })
            .collect()
    } else if context.mic_expiry_allowed() && expired {
        // Only earlier instants: a certificate not yet valid stays refused.
        context
            .presented
            .iter()
            .map(|certificate| certificate.validity().1)
            .filter(|not_after| *not_after < now)
            .collect()
    } else {
        Vec::new()
    };
    // Latest first: the instant closest to now that works.
    instants.sort_unstable_by(|a, b| b.cmp(a));
    instants.dedup();
    instants
}

/// The note for a path accepted under a date allowance.
fn relaxed_dates_note(context: &Context<'_>, path: &VerifiedPath<'_>) -> String {
    let now = context.now.unix_seconds();
    let mut out_of_date = Vec::new();
    let mut path_certificates = vec![path.end_entity().der().as_ref().to_vec()];
    path_certificates.extend(
        path.intermediate_certificates()
            .map(|cert| cert.der().as_ref().to_vec()),
    );
    for der in &path_certificates {
        if let Ok(certificate) = Certificate::from_der(der) {
            let (not_before, not_after) = certificate.validity();
            if now > not_after {
                out_of_date.push(format!(
                    "{} expired on {}",
                    subject(&certificate),
                    format_unix(not_after)
                ));
            } else if now < not_before {
                out_of_date.push(format!(
                    "{} is valid only from {}",
                    subject(&certificate),
                    format_unix(not_before)
                ));
            }
        }
    }
    let allowance = if context.options.skip_validity {
        "validity dates not judged by policy (skip_validity)"
    } else {
        "expired MIC accepted by policy (allow_expired_mic)"
    };
    format!("{allowance}: {}", out_of_date.join("; "))
}

/// A store-held leaf that is a CA (basicConstraints CA:TRUE) presented as
/// a phone's own certificate. Servers may be self-signed CAs (the CAPF and
/// TVS certificates are), but a MIC or an LSC never is, and webpki refuses
/// a CA as the end entity on every built path: a store-held leaf gets the
/// same answer for the purposes that take a device.
fn device_ca_leaf(context: &Context<'_>) -> Option<Failure> {
    let device_purpose = matches!(
        context.purpose,
        Purpose::TlsClient { .. }
            | Purpose::PhoneWebServer { .. }
            | Purpose::CapfAuthentication { .. }
    );
    let ca = matches!(
        context
            .leaf
            .x509()
            .tbs_certificate
            .get::<BasicConstraints>(),
        Ok(Some((_, BasicConstraints { ca: true, .. })))
    );
    (device_purpose && ca).then(|| Failure {
        reason: TrustFailureReason::WrongKeyUsage,
        detail: format!(
            "{} is a CA certificate (CA:TRUE) presented as a phone's own certificate",
            context.leaf_subject()
        ),
        fix: "present the phone's MIC or LSC (an end-entity certificate, CA:FALSE), not a CA certificate"
            .to_owned(),
        store: None,
    })
}

/// Dates of a leaf found directly in a CA store.
fn direct_validity(context: &Context<'_>, found: &mut Found) -> Option<Failure> {
    let (not_before, not_after) = context.leaf.validity();
    let now = context.now.unix_seconds();
    if context.options.skip_validity {
        if now > not_after || now < not_before {
            found.notes.push(format!(
                "validity dates not judged by policy (skip_validity): valid {} to {}",
                format_unix(not_before),
                format_unix(not_after)
            ));
        }
        return None;
    }
    if now > not_after {
        if context.mic_expiry_allowed() {
            found.notes.push(format!(
                "expired MIC accepted by policy (allow_expired_mic): it expired on {}",
                format_unix(not_after)
            ));
            return None;
        }
        return Some(expired_failure(context, context.leaf));
    }
    if now < not_before {
        return Some(not_yet_valid_failure(context.leaf));
    }
    None
}

fn expired_failure(context: &Context<'_>, certificate: &Certificate) -> Failure {
    let (_, not_after) = certificate.validity();
    let is_leaf = certificate.der() == context.leaf.der();
    let fix = if is_leaf && context.mic {
        "MICs cannot be renewed: enroll an LSC through CAPF and use it instead (for CAPF authentication only, accepting expired MICs is an explicit policy choice)".to_owned()
    } else if is_leaf
        && matches!(
            context.purpose,
            Purpose::TlsClient { .. }
                | Purpose::PhoneWebServer { .. }
                | Purpose::CapfAuthentication { .. }
        )
    {
        "renew the phone's LSC: schedule a CAPF install/upgrade for the phone".to_owned()
    } else {
        format!(
            "renew {} and install the new certificate where the old one was",
            subject(certificate)
        )
    };
    Failure {
        reason: TrustFailureReason::Expired,
        detail: format!(
            "{} expired on {} (checked at {})",
            subject(certificate),
            format_unix(not_after),
            format_unix(context.now.unix_seconds())
        ),
        fix,
        store: None,
    }
}

fn not_yet_valid_failure(certificate: &Certificate) -> Failure {
    let (not_before, _) = certificate.validity();
    Failure {
        reason: TrustFailureReason::NotYetValid,
        detail: format!(
            "{} is valid only from {}",
            subject(certificate),
            format_unix(not_before)
        ),
        fix: "check the clock of the device that checks it (and of the CA that issued it), or reissue the certificate with a correct start date".to_owned(),
        store: None,
    }
}

fn build_path(
    context: &Context<'_>,
    store: &TrustStore,
    end_entity: &EndEntityCert<'_>,
) -> Result<Found, Miss> {
    let entry_ders: Vec<CertificateDer<'_>> = store
        .entries()
        .iter()
        .map(|entry| CertificateDer::from(entry.der()))
        .collect();
    let mut notes = Vec::new();
    let mut anchors: Vec<TrustAnchor<'_>> = Vec::new();
    let mut anchor_entries: Vec<usize> = Vec::new();
    for (index, der) in entry_ders.iter().enumerate() {
        // webpki takes a version 1 certificate as an anchor; it cannot act
        // as an issuer (no basicConstraints), so it is none here.
        if v1_leaf::is_version1_der(der.as_ref()) {
            notes.push(format!(
                "store certificate {index} is an X.509 version 1 certificate, which cannot act as an issuer; skipped"
            ));
            continue;
        }
        match webpki::anchor_from_trusted_cert(der) {
            Ok(anchor) => {
                anchors.push(anchor);
                anchor_entries.push(index);
            }
            Err(error) => notes.push(format!(
                "store certificate {index} cannot be a trust anchor ({error:?}); skipped"
            )),
        }
    }
    let intermediates: Vec<CertificateDer<'_>> = context
        .presented
        .iter()
        .skip(1)
        .filter(|certificate| !v1_leaf::is_version1(certificate))
        .map(|certificate| CertificateDer::from(certificate.der()))
        .collect();
    let algorithms = algorithms(sha1_allowed(context, store));
    let mut crls: Vec<CertRevocationList<'static>> = Vec::new();
    for der in context.revocations.crls() {
        if let Ok(crl) = OwnedCertRevocationList::from_der(der) {
            crls.push(CertRevocationList::Owned(crl));
        }
    }
    let crl_refs: Vec<&CertRevocationList<'_>> = crls.iter().collect();
    let revocation = RevocationOptionsBuilder::new(&crl_refs)
        .ok()
        .map(|builder| {
            builder
                .with_depth(RevocationCheckDepth::Chain)
                .with_status_policy(UnknownStatusPolicy::Allow)
                .with_expiration_policy(ExpirationPolicy::Ignore)
                .build()
        });
    let max = context.options.max_chain_length;
    let revocations = context.revocations;
    let check_path = |path: &VerifiedPath<'_>| -> Result<(), webpki::Error> {
        let length = path.intermediate_certificates().count().saturating_add(2);
        if length > max {
            return Err(webpki::Error::MaximumPathDepthExceeded);
        }
        let revoked = |der: &[u8]| {
            !revocations.is_empty()
                && Certificate::from_der(der)
                    .is_ok_and(|certificate| revocations.revokes(&certificate))
        };
        if revoked(path.end_entity().der().as_ref())
            || path
                .intermediate_certificates()
                .any(|cert| revoked(cert.der().as_ref()))
        {
            return Err(webpki::Error::CertRevoked);
        }
        let anchor_index = anchors
            .iter()
            .position(|anchor| core::ptr::eq(anchor, path.anchor()));
        if anchor_index
            .and_then(|index| anchor_entries.get(index))
            .and_then(|index| store.entries().get(*index))
            .is_some_and(|entry| revoked(entry.der()))
        {
            return Err(webpki::Error::CertRevoked);
        }
        Ok(())
    };
    let eku = EkuPolicy::of(context.purpose);
    let verify = |seconds: u64| {
        end_entity.verify_for_usage(
            &algorithms,
            &anchors,
            &intermediates,
            unix_time(seconds),
            eku,
            revocation,
            Some(&check_path),
        )
    };
    let mut result = verify(context.now.unix_seconds());
    if let Err(error) = &result {
        // Date allowances: webpki always judges dates, so look for an
        // instant at which the whole path was valid. If one exists, one of
        // these is such an instant (the latest notBefore or the earliest
        // notAfter of the path's certificates).
        for instant in relaxed_instants(context, error) {
            if let Ok(path) = verify(instant) {
                notes.push(relaxed_dates_note(context, &path));
                result = Ok(path);
                break;
            }
        }
    }
    let path = match result {
        Ok(path) => path,
        Err(error) => {
            // No path: if a version 1 certificate would have issued one of
            // the chain, that is the cause to name.
            let failure = match error {
                webpki::Error::UnknownIssuer => version1_issuer_in_the_way(context, store),
                _ => None,
            };
            return Err(Miss {
                failure: failure.unwrap_or_else(|| webpki_failure(context, store, &error)),
                found: None,
            });
        }
    };
    let mut chain = vec![ChainCertificate::describe(context.leaf)];
    for intermediate in path.intermediate_certificates() {
        if let Ok(certificate) = Certificate::from_der(intermediate.der().as_ref()) {
            chain.push(ChainCertificate::describe(&certificate));
        }
    }
    let entry = anchors
        .iter()
        .position(|anchor| core::ptr::eq(anchor, path.anchor()))
        .and_then(|index| anchor_entries.get(index))
        .and_then(|index| store.entries().get(*index));
    let Some(entry) = entry else {
        return Err(Miss {
            failure: Failure {
                reason: TrustFailureReason::Malformed,
                detail: "the anchor of the built path is not in the store".to_owned(),
                fix: "report this as a bug".to_owned(),
                store: Some(store_ref(store)),
            },
            found: None,
        });
    };
    if let Ok(certificate) = Certificate::from_der(entry.der()) {
        chain.push(ChainCertificate::describe(&certificate));
    }
    Ok(Found {
        anchor: Anchor {
            subject: entry.subject().to_owned(),
            sha256: entry.sha256(),
            store: store_ref(store),
            pinned: false,
        },
        roles: entry.roles().to_vec(),
        chain,
        notes,
    })
}

/// Whether SHA-1 RSA signatures are accepted: CAPF authentication with a
/// MIC, through manufacturing roots or CAPF-trust.
fn sha1_allowed(context: &Context<'_>, store: &TrustStore) -> bool {
    context.mic
        && matches!(context.purpose, Purpose::CapfAuthentication { .. })
        && matches!(
            store.kind(),
            StoreKind::ManufacturingRoots | StoreKind::CapfTrust
        )
}

/// A version 1 certificate (of the store, or presented after the leaf)
/// whose subject is the issuer of a presented certificate: it would issue
/// that certificate, and version 1 cannot act as an issuer.
fn version1_issuer_in_the_way(context: &Context<'_>, store: &TrustStore) -> Option<Failure> {
    let stored = store
        .entries()
        .iter()
        .filter_map(|entry| Certificate::from_der(entry.der()).ok());
    let presented = context.presented.iter().skip(1).cloned();
    stored
        .chain(presented)
        .filter(v1_leaf::is_version1)
        .find_map(|issuer| {
            let issued = context.presented.iter().find(|certificate| {
                certificate.der() != issuer.der() && v1_leaf::names_issuer(&issuer, certificate)
            })?;
            Some(Failure {
                store: Some(store_ref(store)),
                ..version1_issuer_failure(&issuer, issued)
            })
        })
}

fn version1_issuer_failure(issuer: &Certificate, issued: &Certificate) -> Failure {
    let issuer = subject(issuer);
    Failure {
        reason: TrustFailureReason::Version1,
        detail: format!(
            "X.509 version 1 certificate {issuer} cannot act as an issuer (version 1 has no basicConstraints, so it is never a CA); it is the issuer named by {}",
            subject(issued)
        ),
        fix: format!(
            "reissue {issuer} as a version 3 CA certificate (basicConstraints CA:TRUE, e.g. openssl x509 -req -extfile with basicConstraints=critical,CA:TRUE), then issue its certificates again"
        ),
        store: None,
    }
}

/// The one path webpki cannot judge: a version 1 leaf for CAPF
/// authentication, signed directly by a version 3 certificate of the store
/// (its anchor). The signature (and a CRL's) is checked in
/// [`super::v1_leaf`], the one exception to "chain building uses a
/// well-tested verifier"; revocation and dates are judged here as for any
/// leaf, keyUsage and names by [`leaf_checks`] after it.
fn version1_leaf_path(context: &Context<'_>, store: &TrustStore) -> Result<Found, Miss> {
    let leaf = context.leaf;
    let leaf_subject = context.leaf_subject();
    let miss = |failure: Failure, found: Option<Found>| Miss {
        failure: Failure {
            store: Some(store_ref(store)),
            ..failure
        },
        found,
    };
    let algorithms = algorithms(sha1_allowed(context, store));
    let mut refusal: Option<Failure> = None;
    let mut verified: Option<(&StoreEntry, Certificate)> = None;
    for entry in store.entries() {
        let Ok(issuer) = Certificate::from_der(entry.der()) else {
            continue;
        };
        if !v1_leaf::names_issuer(&issuer, leaf) {
            continue;
        }
        let failure = if v1_leaf::is_version1(&issuer) {
            version1_issuer_failure(&issuer, leaf)
        } else {
            match v1_leaf::verify_leaf_signature(leaf, &issuer, &algorithms) {
                Ok(()) => {
                    verified = Some((entry, issuer));
                    break;
                }
                Err(problem) => version1_signature_failure(context, &issuer, problem),
            }
        };
        if refusal
            .as_ref()
            .is_none_or(|held| failure.reason.rank() > held.reason.rank())
        {
            refusal = Some(failure);
        }
    }
    let Some((entry, issuer)) = verified else {
        let issuer_name = &context.leaf_description.issuer;
        let failure = refusal.unwrap_or_else(|| {
            let presented_issuer = context
                .presented
                .iter()
                .skip(1)
                .any(|certificate| v1_leaf::names_issuer(certificate, leaf));
            if presented_issuer {
                Failure {
                    reason: TrustFailureReason::Version1,
                    detail: format!(
                        "{leaf_subject} is an X.509 version 1 certificate, accepted only when signed directly by a certificate of the {}; its issuer {issuer_name} is only an intermediate",
                        store_words(store)
                    ),
                    fix: format!(
                        "add {issuer_name} itself to the {} (or reissue the certificate as version 3)",
                        store.kind()
                    ),
                    store: None,
                }
            } else {
                Failure {
                    reason: TrustFailureReason::UnknownIssuer,
                    detail: format!(
                        "no certificate of the {} issued {leaf_subject} (issuer {issuer_name}; an X.509 version 1 certificate must be signed directly by one)",
                        store_words(store)
                    ),
                    fix: unknown_issuer_fix(context, issuer_name),
                    store: None,
                }
            }
        });
        return Err(miss(failure, None));
    };
    let mut found = Found {
        anchor: Anchor {
            subject: entry.subject().to_owned(),
            sha256: entry.sha256(),
            store: store_ref(store),
            pinned: false,
        },
        roles: entry.roles().to_vec(),
        chain: vec![
            context.leaf_description.clone(),
            ChainCertificate::describe(&issuer),
        ],
        notes: vec![format!(
            "{leaf_subject} is an X.509 version 1 certificate: its signature was verified directly under {}, outside rustls-webpki (the one such check)",
            subject(&issuer)
        )],
    };
    if context.options.max_chain_length < 2 {
        let failure = Failure {
            reason: TrustFailureReason::ChainTooLong,
            detail: format!(
                "the path from {leaf_subject} to its issuer has 2 certificates (at most {} allowed)",
                context.options.max_chain_length
            ),
            fix: "allow a path of at least 2 certificates".to_owned(),
            store: None,
        };
        return Err(miss(failure, Some(found)));
    }
    let crl_revoked = context
        .revocations
        .crls()
        .iter()
        .any(|crl| v1_leaf::crl_revokes(crl, leaf, &issuer, &algorithms));
    if crl_revoked || context.revocations.revokes(leaf) {
        return Err(miss(revoked_failure(leaf), Some(found)));
    }
    if context.revocations.revokes(&issuer) {
        return Err(miss(revoked_failure(&issuer), Some(found)));
    }
    if let Some(failure) = direct_validity(context, &mut found) {
        return Err(miss(failure, Some(found)));
    }
    Ok(found)
}

/// A store in words: its kind, and its name when that says more.
fn store_words(store: &TrustStore) -> String {
    if store.name() == store.kind().display_name() {
        store.name().to_owned()
    } else {
        format!("{} {}", store.kind(), store.name())
    }
}

fn version1_signature_failure(
    context: &Context<'_>,
    issuer: &Certificate,
    problem: SignatureProblem,
) -> Failure {
    let leaf_subject = context.leaf_subject();
    let issuer = subject(issuer);
    match problem {
        SignatureProblem::Invalid => Failure {
            reason: TrustFailureReason::SignatureInvalid,
            detail: format!("signature of {leaf_subject} does not verify under issuer {issuer}"),
            fix: "the certificate was altered, or the store holds a different CA with the same name: get the genuine certificate and the CA that really issued it".to_owned(),
            store: None,
        },
        SignatureProblem::UnsupportedAlgorithm
            if context.leaf.x509().signature_algorithm.oid == OID_SHA1_RSA =>
        {
            Failure {
                reason: TrustFailureReason::UnsupportedAlgorithm,
                detail: format!("{leaf_subject} is signed by {issuer} with SHA-1"),
                fix: "SHA-1 is accepted only for CAPF authentication with a MIC through manufacturing roots or CAPF-trust: reissue the certificate with SHA-256 (or enroll an LSC)".to_owned(),
                store: None,
            }
        }
        SignatureProblem::UnsupportedAlgorithm => Failure {
            reason: TrustFailureReason::UnsupportedAlgorithm,
            detail: format!(
                "the signature algorithm of {leaf_subject} ({}) does not fit or is not accepted for the key of its issuer {issuer}",
                context.leaf.x509().signature_algorithm.oid
            ),
            fix: "reissue with ECDSA P-256/P-384 or RSA (2048 bits or more) with SHA-256/384/512".to_owned(),
            store: None,
        },
    }
}

/// Which presented certificate webpki's date error is about.
fn dated_certificate<'a>(context: &Context<'a>, expired: bool) -> &'a Certificate {
    let now = context.now.unix_seconds();
    context
        .presented
        .iter()
        .find(|certificate| {
            let (not_before, not_after) = certificate.validity();
            if expired {
                now > not_after
            } else {
                now < not_before
            }
        })
        .unwrap_or(context.leaf)
}

fn webpki_failure(context: &Context<'_>, store: &TrustStore, error: &webpki::Error) -> Failure {
    use webpki::Error as E;
    let leaf_subject = context.leaf_subject();
    let issuer = &context.leaf_description.issuer;
    let (reason, detail, fix) = match error {
        E::CertExpired { .. } => {
            let failure = expired_failure(context, dated_certificate(context, true));
            (failure.reason, failure.detail, failure.fix)
        }
        E::CertNotValidYet { .. } => {
            let failure = not_yet_valid_failure(dated_certificate(context, false));
            (failure.reason, failure.detail, failure.fix)
        }
        E::UnknownIssuer => (
            TrustFailureReason::UnknownIssuer,
            format!(
                "no certificate of the {} {} issued {leaf_subject} or its chain (issuer {issuer})",
                store.kind(),
                store.name()
            ),
            unknown_issuer_fix(context, issuer),
        ),
        E::CertRevoked => (
            TrustFailureReason::Revoked,
            format!("a certificate of the chain of {leaf_subject} is revoked"),
            revoked_failure(context.leaf).fix,
        ),
        E::InvalidSignatureForPublicKey | E::SignatureAlgorithmMismatch => (
            TrustFailureReason::SignatureInvalid,
            if context.presented.len() == 1 {
                format!("signature of {leaf_subject} does not verify under issuer {issuer}")
            } else {
                format!("a signature in the chain of {leaf_subject} does not verify under its issuer (the leaf's issuer is {issuer})")
            },
            "the certificate was altered, or the store holds a different CA with the same name: get the genuine certificate and the CA that really issued it".to_owned(),
        ),
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            let sha1 = context
                .presented
                .iter()
                .any(|certificate| certificate.x509().signature_algorithm.oid == OID_SHA1_RSA);
            if sha1 {
                (
                    TrustFailureReason::UnsupportedAlgorithm,
                    format!("the chain of {leaf_subject} is signed with SHA-1"),
                    "SHA-1 is accepted only for CAPF authentication with a MIC through manufacturing roots or CAPF-trust: reissue the certificate with SHA-256 (or enroll an LSC)".to_owned(),
                )
            } else {
                (
                    TrustFailureReason::UnsupportedAlgorithm,
                    format!("a signature algorithm or issuer key in the chain of {leaf_subject} is not accepted ({error:?})"),
                    "reissue with ECDSA P-256/P-384 or RSA (2048 bits or more) with SHA-256/384/512".to_owned(),
                )
            }
        }
        E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => {
            let eku = EkuPolicy::of(context.purpose).name();
            (
                TrustFailureReason::WrongKeyUsage,
                format!("{leaf_subject} has an extendedKeyUsage without {eku}"),
                format!("reissue the certificate with extended key usage {eku}"),
            )
        }
        E::CaUsedAsEndEntity => (
            TrustFailureReason::WrongKeyUsage,
            format!("{leaf_subject} is a CA certificate (CA:TRUE) presented as the end entity"),
            "present an end-entity certificate issued by this CA, or trust this exact certificate (put it in the store itself, or pin it in the CTL/ITL)".to_owned(),
        ),
        E::EndEntityUsedAsCa => (
            TrustFailureReason::WrongKeyUsage,
            format!("an end-entity certificate (CA:FALSE) issued a certificate in the chain of {leaf_subject}"),
            "issue the certificate from a real CA certificate (basicConstraints CA:TRUE)".to_owned(),
        ),
        E::MaximumPathDepthExceeded
        | E::PathLenConstraintViolated
        | E::MaximumPathBuildCallsExceeded
        | E::MaximumSignatureChecksExceeded => (
            TrustFailureReason::ChainTooLong,
            format!(
                "the path from {leaf_subject} to the {} {} is longer than allowed ({error:?}; at most {} certificates, leaf and anchor included)",
                store.kind(),
                store.name(),
                context.options.max_chain_length
            ),
            "trust the issuing CA directly (add it to the store) or shorten the hierarchy".to_owned(),
        ),
        E::CertNotValidForName(_) | E::NameConstraintViolation => (
            TrustFailureReason::NameMismatch,
            format!("{leaf_subject}: {error:?}"),
            "reissue the certificate with the right names".to_owned(),
        ),
        E::UnsupportedCriticalExtension => (
            TrustFailureReason::Malformed,
            format!("{leaf_subject} or a certificate of its chain has a critical extension that is not supported"),
            "reissue the certificate without the unsupported critical extension (or mark it non-critical)".to_owned(),
        ),
        E::BadDer | E::BadDerTime | E::TrailingData(_) | E::MalformedExtensions
        | E::ExtensionValueInvalid | E::InvalidSerialNumber | E::InvalidCertValidity => (
            TrustFailureReason::Malformed,
            format!("{leaf_subject} or a certificate of its chain is badly encoded ({error:?})"),
            "export the certificates again; a certificate whose encoding is wrong must be reissued".to_owned(),
        ),
        E::UnsupportedCertVersion => (
            TrustFailureReason::Version1,
            format!("a certificate of the chain of {leaf_subject} is not X.509 version 3"),
            "reissue it as version 3 (with extensions)".to_owned(),
        ),
        other => (
            TrustFailureReason::Malformed,
            format!("{leaf_subject}: the chain cannot be used ({other:?})"),
            "export the certificates again; a certificate with unsupported critical extensions or bad encoding must be reissued".to_owned(),
        ),
    };
    Failure {
        reason,
        detail,
        fix,
        store: Some(store_ref(store)),
    }
}

fn unknown_issuer_fix(context: &Context<'_>, issuer: &str) -> String {
    const MIC_ADVICE: &str = "this is a MIC: trusting it would need the Cisco manufacturing CA";
    match context.purpose {
        Purpose::PhoneWebServer { .. } if context.mic => format!(
            "{MIC_ADVICE} ({issuer}), which Cisco advises against; issue an LSC instead (CAPF or an enterprise CA) and trust its issuer in the browser"
        ),
        Purpose::PhoneWebServer { .. } => format!(
            "import the LSC's issuer ({issuer}) — the CAPF certificate or the enterprise issuing CA — into the browser's trusted roots"
        ),
        Purpose::TlsClient { .. } if context.mic => format!(
            "{MIC_ADVICE} ({issuer}), which Cisco advises against (a MIC proves \"a Cisco phone\", not \"our phone\"); issue an LSC instead and trust its issuer"
        ),
        Purpose::TlsClient { .. } => format!(
            "add the LSC's issuer ({issuer}) — the CAPF certificate or the enterprise issuing CA — to the server's trusted CAs (CallManager-trust, or the NAC/provisioning server's CA list)"
        ),
        Purpose::CapfAuthentication {
            credential: CapfCredential::Mic,
            ..
        } => format!(
            "add the Cisco manufacturing CA that issued this MIC ({issuer}) and its root to CAPF-trust"
        ),
        Purpose::CapfAuthentication { .. } => format!(
            "add the certificate that issued this LSC ({issuer}) — the CAPF certificate or the enterprise issuing CA — to CAPF-trust"
        ),
        Purpose::TlsServer { role, .. } => format!(
            "add the server's issuing CA ({issuer}) to the store; phones trust servers only through the CTL/ITL, so also list the server certificate there with role {}",
            role.listed_role()
        ),
        Purpose::FileSigner { .. } => format!("add the issuer ({issuer}) to the store"),
    }
}

/// keyUsage and names, on a leaf that has a path to an anchor.
///
/// `end_entity` is webpki's view of the leaf, absent for a version 1 leaf
/// (which has no subjectAltName, so no host name matches it).
fn leaf_checks(context: &Context<'_>, end_entity: Option<&EndEntityCert<'_>>) -> Option<Failure> {
    let leaf_subject = context.leaf_subject();
    let tbs = &context.leaf.x509().tbs_certificate;
    if let Ok(Some((_, usage))) = tbs.get::<X509KeyUsage>() {
        let tls_server = matches!(
            context.purpose,
            Purpose::TlsServer { .. } | Purpose::PhoneWebServer { .. }
        );
        let allowed = usage.digital_signature() || (tls_server && usage.key_encipherment());
        if !allowed {
            return Some(Failure {
                reason: TrustFailureReason::WrongKeyUsage,
                detail: format!("{leaf_subject} has a keyUsage without digitalSignature"),
                fix: "reissue the certificate with key usage digitalSignature (the LSC profile has digitalSignature and keyEncipherment)".to_owned(),
                store: None,
            });
        }
    }
    // The direct-anchor case bypasses webpki's EKU check: repeat it here.
    let needed = match EkuPolicy::of(context.purpose) {
        EkuPolicy::ServerAuth => Some((OID_SERVER_AUTH, "serverAuth")),
        EkuPolicy::ClientAuth => Some((OID_CLIENT_AUTH, "clientAuth")),
        EkuPolicy::Any => None,
    };
    if let (Some((oid, name)), Ok(Some((_, ExtendedKeyUsage(purposes))))) =
        (needed, tbs.get::<ExtendedKeyUsage>())
        && !purposes.contains(&oid)
    {
        return Some(Failure {
            reason: TrustFailureReason::WrongKeyUsage,
            detail: format!("{leaf_subject} has an extendedKeyUsage without {name}"),
            fix: format!("reissue the certificate with extended key usage {name}"),
            store: None,
        });
    }
    match context.purpose {
        Purpose::TlsServer {
            host: Some(host), ..
        }
        | Purpose::PhoneWebServer { host: Some(host) } => {
            let matches = ServerName::try_from(host.as_str()).is_ok_and(|name| {
                end_entity.is_some_and(|end_entity| {
                    end_entity.verify_is_valid_for_subject_name(&name).is_ok()
                })
            });
            if !matches {
                let cn = context.leaf.common_name().unwrap_or_default();
                return Some(Failure {
                    reason: TrustFailureReason::NameMismatch,
                    detail: format!(
                        "{leaf_subject} has no subjectAltName for {host:?} (CN {cn:?}; TLS clients such as browsers check only the subjectAltName)"
                    ),
                    fix: format!(
                        "reissue the certificate with subjectAltName DNS:{host} (or the IP address), or connect by a name the certificate carries"
                    ),
                    store: None,
                });
            }
        }
        Purpose::TlsClient {
            device: Some(device),
        }
        | Purpose::CapfAuthentication {
            device: Some(device),
            ..
        } if !names_device(context.leaf, device, context.mic) => {
            let cn = context.leaf.common_name().unwrap_or_default();
            let rule = if context.mic {
                "a MIC's CN must be the device name or end with -<device name>"
            } else {
                "an LSC's CN or a subjectAltName URI must be the device name"
            };
            return Some(Failure {
                reason: TrustFailureReason::NameMismatch,
                detail: format!(
                    "{leaf_subject} (CN {cn:?}) does not name the device {device} ({rule})"
                ),
                fix: format!(
                    "use the certificate of {device} itself (for an LSC, schedule a CAPF install for {device}), or check the device name"
                ),
                store: None,
            });
        }
        _ => {}
    }
    None
}

/// LSC: CN or a SAN URI equals the device name. MIC: CN equals it or ends
/// with `-` + the device name (`CP-8845-SEP001122334455`). ASCII case is
/// ignored (MAC hex digits come in either case).
fn names_device(leaf: &Certificate, device: &str, mic: bool) -> bool {
    if device.is_empty() {
        // No name names nothing (a certificate without a CN would match).
        return false;
    }
    let cn = leaf.common_name().unwrap_or_default();
    if cn.eq_ignore_ascii_case(device) {
        return true;
    }
    if mic {
        let suffix = format!("-{device}").to_ascii_lowercase();
        return cn.to_ascii_lowercase().ends_with(&suffix);
    }
    let Ok(Some((_, SubjectAltName(names)))) = leaf.x509().tbs_certificate.get::<SubjectAltName>()
    else {
        return false;
    };
    names.iter().any(|name| match name {
        GeneralName::UniformResourceIdentifier(uri) => uri.as_str().eq_ignore_ascii_case(device),
        _ => false,
    })
}
