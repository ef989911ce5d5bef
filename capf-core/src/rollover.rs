//! Trust-list rollover: will a phone accept a new CTL or ITL?
//!
//! A phone that already holds a trust list only installs a new one whose
//! signer it can vouch for; otherwise it keeps what it has ("Trust List
//! Update Failed") and from then on refuses the cluster's signed files.
//! This is what strands whole clusters when certificates are renewed.
//! [`predict`] answers the question as a phone would decide it, from the
//! lists it holds, the candidate and what TVS knows; [`predict_fleet`] asks
//! it for several kinds of phone at once.
//!
//! # The rules (spec `tlv-files.md` sections 8.4, 9 and 10; `tvs-protocol.md` 1, 2, 6.1, 8)
//!
//! 1. **Integrity first.** The candidate must parse, use a digest the phone
//!    accepts ([`HashPolicy`]), name a signer that the candidate itself
//!    lists with role SAST (serial number and issuer name, spec 8.4), and
//!    verify with that record's key. Any failure is a rejection, even for a
//!    phone that holds nothing.
//! 2. **Nothing installed:** trust on first use; the candidate is accepted.
//! 3. **Which installed list decides** (the *authority*): the CTL when the
//!    phone holds one, for a new CTL and for a new ITL alike (the CTL takes
//!    precedence, spec section 9); otherwise the ITL. A phone that holds
//!    only an ITL checks its first CTL against that ITL: section 10 speaks
//!    of "the stored list", and only a phone with no list at all trusts on
//!    first use (our reading; no phone was available to confirm it).
//! 4. **Signed by a SAST of the authority:** the same certificate, or a
//!    certificate with the same public key (a re-issued signer), held with
//!    role SAST (0). This covers ITLRecovery continuity: an ITL that lists
//!    the ITLRecovery certificate as SAST accepts a successor signed by it.
//!    A signer held only with other roles (say CCM+TFTP) does not count.
//! 5. **Vouched for by TVS — only when the authority is the ITL.** The
//!    spec gives TVS to the ITL ("used when no CTL is present; TVS vouches
//!    for unknown signers"); a phone holding a CTL authenticates both lists
//!    with the CTL alone, so TVS is never asked then. The phone asks TVS
//!    about the signer's certificate (by SHA-256 of its DER); the answer
//!    counts when TVS knows the certificate, has not revoked it, and gives
//!    it a role that may sign trust lists or TFTP files: SAST, CCM+TFTP or
//!    TFTP ([`TVS_SIGNER_ROLES`]; which roles a phone demands is not
//!    documented, this set is our inference). The phone can only reach
//!    TVS when its ITL lists a TVS certificate (role 21): without one, TVS
//!    would vouch but the phone cannot trust the TVS server, and the
//!    rollover fails ([`RejectionReason::TvsUnreachable`]).
//!
//! Installed lists are taken as the phone holds them: their own signatures
//! are not checked again (the phone checked them when it installed them).
//!
//! ```
//! use capf_core::rollover::{predict, Acceptance, CandidateList, InstalledLists, RolloverVerdict};
//! use ctl_format::{HashPolicy, TrustListKind};
//! let ctl = include_bytes!("../../tests/vectors/real/cucm/CTLFile.tlv");
//! let candidate = CandidateList { kind: TrustListKind::Ctl, bytes: ctl };
//! // A phone with nothing installed takes the CTL on first use…
//! let fresh = predict(InstalledLists::NOTHING, candidate, None, HashPolicy::CISCO)?;
//! assert!(matches!(fresh.verdict, RolloverVerdict::Accepted(Acceptance::FirstUse)));
//! // …and a phone that holds it already accepts it again: same signer.
//! let holding = predict(InstalledLists::ctl(ctl), candidate, None, HashPolicy::CISCO)?;
//! assert!(matches!(
//!     holding.verdict,
//!     RolloverVerdict::Accepted(Acceptance::SignedBySameCertificate { .. })
//! ));
//! # Ok::<(), capf_core::rollover::RolloverError>(())
//! ```

use core::fmt;
use ctl_format::trust_list::{Record, Role, TrustList, TrustListKind, VerifiedSigner};
use ctl_format::{Error as FormatError, HashAlgorithm, HashPolicy, Refusal};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Roles with which a TVS answer vouches for the signer of a trust list:
/// SAST, CCM+TFTP and TFTP (an inference; see the [module documentation](self)).
pub const TVS_SIGNER_ROLES: [Role; 3] = [Role::Sast, Role::CallManagerTftp, Role::Tftp];

/// Phones are reported to fail to load an ITL larger than about 64 KB
/// (spec section 2).
const ITL_SIZE_LIMIT: usize = 64 * 1024;

/// The lists a phone holds: nothing, a CTL, an ITL, or both. Each is the
/// file's bytes exactly as installed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstalledLists<'a> {
    /// The installed CTL (`CTLFile.tlv`), when the phone has one.
    pub ctl: Option<&'a [u8]>,
    /// The installed ITL (`ITLFile.tlv`), when the phone has one.
    pub itl: Option<&'a [u8]>,
}

impl<'a> InstalledLists<'a> {
    /// A phone that holds no trust list (new, or its lists were deleted).
    pub const NOTHING: Self = Self {
        ctl: None,
        itl: None,
    };

    /// A phone holding only this CTL.
    pub const fn ctl(bytes: &'a [u8]) -> Self {
        Self {
            ctl: Some(bytes),
            itl: None,
        }
    }

    /// A phone holding only this ITL.
    pub const fn itl(bytes: &'a [u8]) -> Self {
        Self {
            ctl: None,
            itl: Some(bytes),
        }
    }

    /// The same phone, also holding this CTL.
    pub const fn with_ctl(self, bytes: &'a [u8]) -> Self {
        Self {
            ctl: Some(bytes),
            itl: self.itl,
        }
    }

    /// The same phone, also holding this ITL.
    pub const fn with_itl(self, bytes: &'a [u8]) -> Self {
        Self {
            ctl: self.ctl,
            itl: Some(bytes),
        }
    }

    /// Whether the phone holds no list at all.
    pub const fn is_empty(&self) -> bool {
        self.ctl.is_none() && self.itl.is_none()
    }
}

/// The new list offered to the phone, and whether it is a CTL or an ITL
/// (the format is the same; see [`kind_from_filename`] to guess it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CandidateList<'a> {
    /// CTL or ITL.
    pub kind: TrustListKind,
    /// The file's bytes.
    pub bytes: &'a [u8],
}

/// The kind a trust list names itself by: its header filename element
/// (`CTLFile.tlv`, `CTLSEP<MAC>.tlv`, `ITLFile.tlv`, `ITLSEP<MAC>.tlv`;
/// any case). `None` when the element is absent or names neither.
pub fn kind_from_filename(list: &TrustList<'_>) -> Option<TrustListKind> {
    let name = list.header().filename?.as_str()?.to_ascii_uppercase();
    if name.starts_with("CTL") {
        Some(TrustListKind::Ctl)
    } else if name.starts_with("ITL") {
        Some(TrustListKind::Itl)
    } else {
        None
    }
}

/// What TVS would answer about one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredictedTvsEntry {
    /// The roles TVS gives the certificate.
    pub roles: Vec<Role>,
    /// Revoked certificates are answered INVALID, as if unknown.
    pub revoked: bool,
}

/// The certificates a TVS server would vouch for, keyed as TVS keys them:
/// by the SHA-256 digest of the certificate's DER (`tvs-protocol.md` 7).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TvsKnowledge {
    entries: BTreeMap<[u8; 32], PredictedTvsEntry>,
}

impl TvsKnowledge {
    /// Knows nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records what TVS holds for the certificate `der` (replacing any
    /// earlier entry for the same certificate).
    pub fn insert(&mut self, der: &[u8], roles: Vec<Role>, revoked: bool) {
        self.insert_digest(sha256(der), PredictedTvsEntry { roles, revoked });
    }

    /// Records an entry by its SHA-256 digest.
    pub fn insert_digest(&mut self, digest: [u8; 32], entry: PredictedTvsEntry) {
        self.entries.insert(digest, entry);
    }

    /// What TVS holds for the certificate `der`, revoked or not.
    pub fn lookup(&self, der: &[u8]) -> Option<&PredictedTvsEntry> {
        self.entries.get(&sha256(der))
    }

    /// Number of certificates known.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no certificate is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Which installed list decided.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Authority {
    /// The phone holds nothing: trust on first use.
    Nothing,
    /// The installed CTL (it takes precedence over an ITL).
    Ctl,
    /// The installed ITL (the phone holds no CTL), with TVS behind it.
    Itl,
}

impl Authority {
    /// `none`, `CTL` or `ITL`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Nothing => "none",
            Self::Ctl => "CTL",
            Self::Itl => "ITL",
        }
    }
}

/// A record of an installed list that the decision went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledRecord {
    /// The installed list holding it.
    pub list: TrustListKind,
    /// Index of the record in that list (from 0).
    pub index: usize,
    /// The record's role.
    pub role: Role,
    /// The record's subject name as written in the list.
    pub subject: Option<String>,
}

impl InstalledRecord {
    /// `record N (ROLE "subject")`, numbered from 1 as `show ctl` does.
    fn short(&self) -> String {
        format!(
            "record {} ({} \"{}\")",
            self.index + 1,
            self.role,
            self.subject.as_deref().unwrap_or("no subject name")
        )
    }
}

impl fmt::Display for InstalledRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "record {} of the installed {} ({}, {})",
            self.index + 1,
            kind_name(self.list),
            self.role,
            self.subject.as_deref().unwrap_or("no subject name")
        )
    }
}

/// How the phone comes to accept the candidate.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acceptance {
    /// The phone holds no list and trusts the first one it gets.
    FirstUse,
    /// The signer's certificate is held, byte for byte, as SAST.
    SignedBySameCertificate {
        /// The SAST record that holds it.
        installed: InstalledRecord,
    },
    /// A certificate with the signer's key is held as SAST (the signer
    /// certificate was re-issued for the same key).
    SignedBySameKey {
        /// The SAST record that holds the key.
        installed: InstalledRecord,
    },
    /// TVS vouches for the signer, reached through a TVS record of the ITL.
    VouchedByTvs {
        /// The roles TVS gives the signer.
        roles: Vec<Role>,
        /// The ITL record of the TVS server the phone trusts.
        tvs_record: InstalledRecord,
    },
}

impl Acceptance {
    /// A short machine name: `first-use`, `same-certificate`, `same-key`,
    /// `vouched-by-tvs`.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::FirstUse => "first-use",
            Self::SignedBySameCertificate { .. } => "same-certificate",
            Self::SignedBySameKey { .. } => "same-key",
            Self::VouchedByTvs { .. } => "vouched-by-tvs",
        }
    }

    /// The installed record the acceptance went through, if any.
    pub fn installed_record(&self) -> Option<&InstalledRecord> {
        match self {
            Self::FirstUse => None,
            Self::SignedBySameCertificate { installed } | Self::SignedBySameKey { installed } => {
                Some(installed)
            }
            Self::VouchedByTvs { tvs_record, .. } => Some(tvs_record),
        }
    }
}

/// Why the phone refuses the candidate.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectionReason {
    /// The candidate does not parse (or a certificate in it does not).
    CandidateMalformed,
    /// The candidate is signed with a digest the phone does not accept.
    HashNotSupported,
    /// The candidate does not list its own signer as SAST (serial number
    /// and issuer name), so there is no key to check the signature with.
    SignerNotListed,
    /// The signer's record holds no usable RSA key.
    SignerKeyUnusable,
    /// The signature does not verify: the file was damaged or altered.
    SignatureInvalid,
    /// The deciding list holds the signer, but not with role SAST.
    SignerNotSast,
    /// Neither the deciding list nor TVS vouches for the signer.
    SignerUnknown,
    /// TVS would vouch for the signer, but the phone's ITL lists no TVS
    /// certificate, so the phone cannot trust (or reach) the TVS server.
    TvsUnreachable,
    /// TVS holds the signer but has revoked it (it answers INVALID).
    TvsRevoked,
}

impl RejectionReason {
    /// A short machine name, e.g. `signer-unknown`.
    pub const fn code(self) -> &'static str {
        match self {
            Self::CandidateMalformed => "candidate-malformed",
            Self::HashNotSupported => "hash-not-supported",
            Self::SignerNotListed => "signer-not-listed",
            Self::SignerKeyUnusable => "signer-key-unusable",
            Self::SignatureInvalid => "signature-invalid",
            Self::SignerNotSast => "signer-not-sast",
            Self::SignerUnknown => "signer-unknown",
            Self::TvsUnreachable => "tvs-unreachable",
            Self::TvsRevoked => "tvs-revoked",
        }
    }
}

impl fmt::Display for RejectionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The phone's decision.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloverVerdict {
    /// The phone installs the candidate.
    Accepted(Acceptance),
    /// The phone refuses it and keeps what it had.
    Rejected {
        /// Why, as a machine-readable reason.
        reason: RejectionReason,
        /// Why, in words (names the records and certificates involved).
        detail: String,
    },
}

/// The candidate's signer, as far as it could be identified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateSigner {
    /// Subject name of the signer (its record's, else the header's).
    pub subject: Option<String>,
    /// Serial number from the header (minimal unsigned bytes).
    pub serial_number: Vec<u8>,
    /// Index of the signer's SAST record in the candidate, when found.
    pub record_index: Option<usize>,
    /// SHA-256 of the signer's certificate DER (what TVS is asked about),
    /// when the record holds a certificate.
    pub certificate_sha256: Option<[u8; 32]>,
    /// The digest of the candidate's signature.
    pub hash_algorithm: HashAlgorithm,
}

/// A prediction for one phone: the verdict, the reasoning in plain words,
/// what the phone is left with, and how to fix a rejection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prediction {
    /// CTL or ITL.
    pub candidate_kind: TrustListKind,
    /// Which installed list decided.
    pub authority: Authority,
    /// The decision.
    pub verdict: RolloverVerdict,
    /// The candidate's signer, when the candidate parsed.
    pub signer: Option<CandidateSigner>,
    /// What happened and why, in one or two sentences.
    pub explanation: String,
    /// What the phone holds afterwards, e.g. "keeps its old ITL: Trust
    /// List Update Failed".
    pub outcome: String,
    /// How to make a rejected rollover work; `None` when accepted.
    pub fix: Option<String>,
    /// Things that do not change this verdict but will hurt (list size,
    /// more than two SAST records, no TVS record in a new ITL, …).
    pub warnings: Vec<String>,
}

impl Prediction {
    /// Whether the phone installs the candidate.
    pub fn is_accepted(&self) -> bool {
        matches!(self.verdict, RolloverVerdict::Accepted(_))
    }

    /// The rejection reason, when rejected.
    pub fn rejection_reason(&self) -> Option<RejectionReason> {
        match &self.verdict {
            RolloverVerdict::Rejected { reason, .. } => Some(*reason),
            RolloverVerdict::Accepted(_) => None,
        }
    }
}

/// One kind of phone in a fleet: a label and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneState<'a> {
    /// How to call this group of phones in a report.
    pub label: String,
    /// What the phones hold.
    pub installed: InstalledLists<'a>,
}

/// Predictions for several kinds of phone and one candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetPrediction {
    /// One prediction per phone state, in the order given.
    pub phones: Vec<(String, Prediction)>,
}

impl FleetPrediction {
    /// Whether every phone state accepts the candidate.
    pub fn all_accept(&self) -> bool {
        self.phones
            .iter()
            .all(|(_, prediction)| prediction.is_accepted())
    }

    /// Labels of the phone states that would be stranded.
    pub fn stranded(&self) -> Vec<&str> {
        self.phones
            .iter()
            .filter(|(_, prediction)| !prediction.is_accepted())
            .map(|(label, _)| label.as_str())
            .collect()
    }
}

/// A prediction that cannot be made because an installed list is unreadable.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RolloverError {
    /// An installed list does not parse.
    #[error("the installed {} does not parse: {source}", kind_name(*kind))]
    InstalledMalformed {
        /// Which installed list.
        kind: TrustListKind,
        /// The parse error (with its byte offset).
        source: FormatError,
    },
}

/// Predicts whether a phone holding `installed` accepts `candidate`, given
/// what TVS knows (`None`: nothing is known about TVS, it vouches for
/// nothing) and the digests the phone accepts (`HashPolicy::CISCO`: SHA-1
/// and SHA-512). See the [module documentation](self) for the rules.
///
/// A candidate that is damaged is a rejection, not an error; only an
/// installed list that does not parse is an error.
pub fn predict(
    installed: InstalledLists<'_>,
    candidate: CandidateList<'_>,
    tvs: Option<&TvsKnowledge>,
    policy: HashPolicy,
) -> Result<Prediction, RolloverError> {
    let ctl = parse_installed(installed.ctl, TrustListKind::Ctl)?;
    let itl = parse_installed(installed.itl, TrustListKind::Itl)?;
    let phone = Phone {
        ctl: ctl.as_ref(),
        itl: itl.as_ref(),
    };
    Ok(decide(&phone, candidate, tvs, policy))
}

fn parse_installed(
    bytes: Option<&[u8]>,
    kind: TrustListKind,
) -> Result<Option<TrustList<'_>>, RolloverError> {
    bytes
        .map(TrustList::parse)
        .transpose()
        .map_err(|source| RolloverError::InstalledMalformed { kind, source })
}

/// [`predict`] for each phone state, one candidate.
pub fn predict_fleet(
    phones: &[PhoneState<'_>],
    candidate: CandidateList<'_>,
    tvs: Option<&TvsKnowledge>,
    policy: HashPolicy,
) -> Result<FleetPrediction, RolloverError> {
    let phones = phones
        .iter()
        .map(|phone| {
            predict(phone.installed, candidate, tvs, policy)
                .map(|prediction| (phone.label.clone(), prediction))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(FleetPrediction { phones })
}

/// The parsed installed lists.
struct Phone<'p, 'a> {
    ctl: Option<&'p TrustList<'a>>,
    itl: Option<&'p TrustList<'a>>,
}

impl Phone<'_, '_> {
    fn authority(&self) -> Authority {
        match (self.ctl, self.itl) {
            (Some(_), _) => Authority::Ctl,
            (None, Some(_)) => Authority::Itl,
            (None, None) => Authority::Nothing,
        }
    }

    fn list(&self, kind: TrustListKind) -> Option<&TrustList<'_>> {
        match kind {
            TrustListKind::Ctl => self.ctl,
            _ => self.itl,
        }
    }

    fn holds(&self, kind: TrustListKind) -> bool {
        self.list(kind).is_some()
    }
}

/// Building a prediction as the decision goes.
struct Draft {
    kind: TrustListKind,
    authority: Authority,
    signer: Option<CandidateSigner>,
    warnings: Vec<String>,
}

impl Draft {
    fn accept(self, phone: &Phone<'_, '_>, how: Acceptance, explanation: String) -> Prediction {
        let kind = kind_name(self.kind);
        let outcome = if phone.holds(self.kind) {
            format!("installs the new {kind} in place of its old one")
        } else {
            format!("installs the new {kind}")
        };
        Prediction {
            candidate_kind: self.kind,
            authority: self.authority,
            verdict: RolloverVerdict::Accepted(how),
            signer: self.signer,
            explanation,
            outcome,
            fix: None,
            warnings: self.warnings,
        }
    }

    fn reject(
        self,
        phone: &Phone<'_, '_>,
        reason: RejectionReason,
        detail: String,
        fix: String,
    ) -> Prediction {
        let kind = kind_name(self.kind);
        let outcome = if phone.holds(self.kind) {
            format!("keeps its old {kind}: Trust List Update Failed")
        } else if phone.authority() == Authority::Nothing {
            format!("stays without any trust list: the {kind} is refused")
        } else {
            format!(
                "stays without {} {kind} and keeps its {}: Trust List Update Failed",
                article(self.kind),
                phone.authority().name()
            )
        };
        let explanation = format!("The phone refuses the new {kind}: {detail}");
        Prediction {
            candidate_kind: self.kind,
            authority: self.authority,
            verdict: RolloverVerdict::Rejected { reason, detail },
            signer: self.signer,
            explanation,
            outcome,
            fix: Some(fix),
            warnings: self.warnings,
        }
    }
}

fn decide(
    phone: &Phone<'_, '_>,
    candidate: CandidateList<'_>,
    tvs: Option<&TvsKnowledge>,
    policy: HashPolicy,
) -> Prediction {
    let kind = kind_name(candidate.kind);
    let mut draft = Draft {
        kind: candidate.kind,
        authority: phone.authority(),
        signer: None,
        warnings: Vec::new(),
    };
    let list = match TrustList::parse(candidate.bytes) {
        Ok(list) => list,
        Err(error) => {
            return draft.reject(
                phone,
                RejectionReason::CandidateMalformed,
                format!("it is not a valid trust list ({error})"),
                format!("Rebuild and re-sign the {kind}; this file is damaged or not a {kind}."),
            );
        }
    };
    draft.warnings = candidate_warnings(&list, candidate);
    draft.signer = Some(header_signer(&list));
    let verified = match list.verify(candidate.bytes, policy) {
        Ok(verified) => verified,
        Err(error) => return integrity_rejection(draft, phone, &list, error),
    };
    draft.signer = Some(verified_signer(&list, &verified));
    let signer_text = signer_name(draft.signer.as_ref());

    let authority_list = match (draft.authority, phone.ctl, phone.itl) {
        (Authority::Ctl, Some(ctl), _) => ctl,
        (Authority::Itl, _, Some(itl)) => itl,
        _ => {
            let explanation = format!(
                "The phone holds no CTL or ITL, so it trusts the first list it downloads \
                 (trust on first use) and installs this {kind}, signed by {signer_text}."
            );
            return draft.accept(phone, Acceptance::FirstUse, explanation);
        }
    };
    let authority_kind = match draft.authority {
        Authority::Ctl => TrustListKind::Ctl,
        _ => TrustListKind::Itl,
    };
    let authority_name = kind_name(authority_kind);
    let held_error = match list.verify_against(candidate.bytes, authority_list, policy) {
        Ok(rollover) => {
            let installed = installed_record(
                authority_list,
                authority_kind,
                rollover.previous_record_index,
            );
            let (how, explanation) = match rollover.matched_by {
                ctl_format::trust_list::RolloverMatch::SameCertificate => (
                    Acceptance::SignedBySameCertificate {
                        installed: installed.clone(),
                    },
                    format!(
                        "The new {kind} is signed by {signer_text}, which the installed \
                         {authority_name} lists as SAST in {}; the phone accepts it.",
                        installed.short()
                    ),
                ),
                _ => (
                    Acceptance::SignedBySameKey {
                        installed: installed.clone(),
                    },
                    format!(
                        "The new {kind} is signed by {signer_text}, a certificate the installed \
                         {authority_name} does not hold, but with the key of its SAST in {} \
                         (a re-issued signer); the phone accepts it.",
                        installed.short()
                    ),
                ),
            };
            return draft.accept(phone, how, explanation);
        }
        Err(error) => error,
    };
    let held_roles = match &held_error {
        FormatError::Refused(Refusal::SignerNotSastInPreviousList { role_codes }) => role_codes
            .iter()
            .map(|code| Role::from_code(*code).to_string())
            .collect::<Vec<_>>(),
        FormatError::Refused(Refusal::SignerNotInPreviousList) => Vec::new(),
        // verify() succeeded above, so verify_against can only fail on the
        // match; anything else is reported as it is.
        other => {
            return draft.reject(
                phone,
                RejectionReason::SignatureInvalid,
                format!("{other}"),
                format!("Rebuild and re-sign the {kind}."),
            );
        }
    };
    let not_held = if held_roles.is_empty() {
        format!("the installed {authority_name} does not hold {signer_text}")
    } else {
        format!(
            "the installed {authority_name} holds {signer_text} only as {}, not as SAST",
            held_roles.join(", ")
        )
    };
    let sasts = sast_subjects(authority_list);
    let sign_with = if sasts.is_empty() {
        format!(
            "the installed {authority_name} lists no SAST certificate, so no signer can satisfy it"
        )
    } else {
        format!("sign the new {kind} with one of {}", sasts.join("; "))
    };
    let held_reason = if held_roles.is_empty() {
        RejectionReason::SignerUnknown
    } else {
        RejectionReason::SignerNotSast
    };

    if draft.authority == Authority::Ctl {
        let mut detail = format!("{not_held}, and a phone holding a CTL does not ask TVS.");
        if let Some(itl) = phone.itl
            && list.verify_against(candidate.bytes, itl, policy).is_ok()
        {
            detail.push_str(
                " Its ITL would accept the signer, but the CTL takes precedence over the ITL.",
            );
        }
        let fix = format!(
            "Either {sign_with} (a SAST of the installed CTL), or add the new signer to the \
             current CTL and let phones take that CTL first; otherwise the CTL must be deleted \
             on each phone."
        );
        return draft.reject(phone, held_reason, detail, fix);
    }

    // The ITL decides: the phone may ask TVS about the signer's certificate.
    let tvs_record = tvs_records(authority_list).into_iter().next();
    let itl_fix = |draft_fix: &str| {
        format!(
            "Either {sign_with} (a SAST of the installed ITL, e.g. the old signer or \
             ITLRecovery){draft_fix}; otherwise the ITL must be deleted on each phone (by hand, \
             or with Unified CM's bulk ITL reset where available)."
        )
    };
    let certificate = verified.certificate.as_ref();
    let entry = match (tvs, certificate) {
        (Some(tvs), Some(certificate)) => tvs.lookup(certificate.der()),
        _ => None,
    };
    let vouching_roles: Vec<Role> = entry
        .filter(|entry| !entry.revoked)
        .map(|entry| {
            entry
                .roles
                .iter()
                .copied()
                .filter(|role| TVS_SIGNER_ROLES.contains(role))
                .collect()
        })
        .unwrap_or_default();
    let add_to_tvs = ", or add the new signer to TVS with role SAST, CCM+TFTP or TFTP";
    match (entry, vouching_roles.is_empty(), tvs_record) {
        (Some(entry), false, Some(index)) => {
            let tvs_record = installed_record(authority_list, TrustListKind::Itl, index);
            let explanation = format!(
                "The installed ITL does not list the signer of the new {kind}, {signer_text}, \
                 as SAST, so the phone asks TVS, which it trusts through {}, and TVS vouches for \
                 the signer as {}; the phone accepts it.",
                tvs_record.short(),
                role_list(&entry.roles)
            );
            draft.accept(
                phone,
                Acceptance::VouchedByTvs {
                    roles: entry.roles.clone(),
                    tvs_record,
                },
                explanation,
            )
        }
        (Some(entry), false, None) => {
            let detail = format!(
                "{not_held}; TVS would vouch for it as {}, but the installed ITL lists no TVS \
                 certificate (role 21), so the phone cannot trust the TVS server.",
                role_list(&entry.roles)
            );
            let fix = itl_fix(
                "; TVS cannot help phones whose ITL lists no TVS certificate until they hold \
                 an ITL that does",
            );
            draft.reject(phone, RejectionReason::TvsUnreachable, detail, fix)
        }
        (Some(entry), true, _) if entry.revoked => {
            let detail = format!("{not_held}, and TVS has revoked it (it answers INVALID).");
            draft.reject(phone, RejectionReason::TvsRevoked, detail, itl_fix(""))
        }
        (Some(entry), true, _) => {
            let detail = format!(
                "{not_held}, and TVS knows it only as {}, which does not vouch for a trust-list \
                 signer.",
                role_list(&entry.roles)
            );
            let fix = if tvs_record.is_some() {
                itl_fix(", or give the signer role SAST, CCM+TFTP or TFTP in TVS")
            } else {
                itl_fix("")
            };
            draft.reject(phone, held_reason, detail, fix)
        }
        (None, _, _) => {
            let tvs_clause = match (tvs, certificate) {
                (_, None) => "its record holds no certificate to ask TVS about".to_owned(),
                (None, _) => "nothing is known to vouch for it through TVS".to_owned(),
                (Some(_), _) => "TVS does not know it either".to_owned(),
            };
            let detail = format!("{not_held}, and {tvs_clause}.");
            let fix = if tvs_record.is_some() {
                itl_fix(add_to_tvs)
            } else {
                itl_fix("")
            };
            draft.reject(phone, held_reason, detail, fix)
        }
    }
}

/// The rejection for a candidate whose own signature check failed.
fn integrity_rejection(
    draft: Draft,
    phone: &Phone<'_, '_>,
    list: &TrustList<'_>,
    error: FormatError,
) -> Prediction {
    let kind = kind_name(draft.kind);
    let header = list.header();
    let serial = hex(header.serial_number);
    let (reason, detail, fix) = match error {
        FormatError::Refused(Refusal::HashNotAllowed { algorithm }) => (
            RejectionReason::HashNotSupported,
            format!("it is signed with {algorithm}, which this phone policy does not accept."),
            format!(
                "Re-sign the {kind} with a digest the phones accept (SHA-512 on current phones, \
                 SHA-1 on older ones)."
            ),
        ),
        FormatError::Refused(Refusal::SignerNotFound) => (
            RejectionReason::SignerNotListed,
            format!(
                "its header names signer serial {serial}, but no SAST record of the {kind} has \
                 that serial number, so there is no key to check the signature with."
            ),
            format!("List the signer's certificate in the {kind} with role SAST, then re-sign."),
        ),
        FormatError::Refused(Refusal::SignerIssuerMismatch { record_index }) => (
            RejectionReason::SignerNotListed,
            format!(
                "SAST record {} has the header's signer serial {serial} but a different issuer \
                 name, so it is not taken as the signer.",
                record_index + 1
            ),
            format!(
                "Rebuild the {kind} so that the header's issuer name matches the signer's record."
            ),
        ),
        FormatError::Refused(Refusal::SignerKeyUnusable) => (
            RejectionReason::SignerKeyUnusable,
            "the signer's record holds no RSA key to check the signature with.".to_owned(),
            format!("Sign the {kind} with an RSA key (trust lists are only signed with RSA)."),
        ),
        FormatError::Refused(Refusal::SignatureInvalid) => (
            RejectionReason::SignatureInvalid,
            "its signature does not verify: the file was damaged or altered after signing."
                .to_owned(),
            format!("Rebuild and re-sign the {kind}; do not edit a signed file."),
        ),
        other => (
            RejectionReason::CandidateMalformed,
            format!("its signer cannot be read ({other})."),
            format!("Rebuild and re-sign the {kind}."),
        ),
    };
    draft.reject(phone, reason, detail, fix)
}

/// "a CTL", "an ITL".
fn article(kind: TrustListKind) -> &'static str {
    match kind {
        TrustListKind::Ctl => "a",
        _ => "an",
    }
}

fn kind_name(kind: TrustListKind) -> &'static str {
    match kind {
        TrustListKind::Ctl => "CTL",
        _ => "ITL",
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

fn text(value: Option<ctl_format::TlvString<'_>>) -> Option<String> {
    value.map(|value| value.to_string())
}

fn role_list(roles: &[Role]) -> String {
    if roles.is_empty() {
        return "no role".to_owned();
    }
    roles
        .iter()
        .map(Role::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn signer_name(signer: Option<&CandidateSigner>) -> String {
    signer
        .and_then(|signer| signer.subject.clone())
        .map_or_else(
            || "an unnamed signer".to_owned(),
            |subject| format!("\"{subject}\""),
        )
}

/// The signer as the header names it (before it was found among the records).
fn header_signer(list: &TrustList<'_>) -> CandidateSigner {
    let header = list.header();
    CandidateSigner {
        subject: text(header.signer_name),
        serial_number: header.serial_number.to_vec(),
        record_index: None,
        certificate_sha256: None,
        hash_algorithm: header.hash_algorithm,
    }
}

fn verified_signer(list: &TrustList<'_>, verified: &VerifiedSigner) -> CandidateSigner {
    let mut signer = header_signer(list);
    let record = list.records().get(verified.record_index);
    if let Some(subject) = record.and_then(|record| text(record.subject_name())) {
        signer.subject = Some(subject);
    }
    signer.record_index = Some(verified.record_index);
    signer.certificate_sha256 = verified
        .certificate
        .as_ref()
        .map(|certificate| sha256(certificate.der()));
    signer
}

fn installed_record(list: &TrustList<'_>, kind: TrustListKind, index: usize) -> InstalledRecord {
    let record = list.records().get(index);
    InstalledRecord {
        list: kind,
        index,
        role: record.and_then(Record::role).unwrap_or(Role::Sast),
        subject: record.and_then(|record| text(record.subject_name())),
    }
}

fn sast_subjects(list: &TrustList<'_>) -> Vec<String> {
    list.records()
        .iter()
        .filter(|record| record.role() == Some(Role::Sast))
        .map(|record| {
            text(record.subject_name()).map_or_else(
                || "an unnamed SAST".to_owned(),
                |name| format!("\"{name}\""),
            )
        })
        .collect()
}

fn tvs_records(list: &TrustList<'_>) -> Vec<usize> {
    list.records()
        .iter()
        .enumerate()
        .filter(|(_, record)| record.role() == Some(Role::Tvs))
        .map(|(index, _)| index)
        .collect()
}

/// Reported limits of phones (spec sections 2 and 5) and the TVS lifeline.
fn candidate_warnings(list: &TrustList<'_>, candidate: CandidateList<'_>) -> Vec<String> {
    let mut warnings = Vec::new();
    let kind = kind_name(candidate.kind);
    if candidate.kind == TrustListKind::Itl && candidate.bytes.len() > ITL_SIZE_LIMIT {
        warnings.push(format!(
            "the ITL is {} bytes; phones are reported to fail to load ITLs larger than about \
             64 KB (roughly 39 certificates)",
            candidate.bytes.len()
        ));
    }
    let sast_count = list
        .records()
        .iter()
        .filter(|record| record.role() == Some(Role::Sast))
        .count();
    if sast_count > 2 {
        warnings.push(format!(
            "the {kind} lists {sast_count} SAST records; phones are said to accept at most two"
        ));
    }
    if list.header().signature.len() > 256 {
        warnings.push(format!(
            "the {kind} is signed with a {}-bit key; phones are said to accept RSA keys of at \
             most 2048 bits",
            list.header().signature.len().saturating_mul(8)
        ));
    }
    if candidate.kind == TrustListKind::Itl && tvs_records(list).is_empty() {
        warnings.push(
            "the ITL lists no TVS certificate: phones that install it cannot ask TVS, so a \
             later ITL must be signed by one of its SAST certificates"
                .to_owned(),
        );
    }
    warnings
}
