//! The answer of the evaluator: trusted or not, through what, and why not.

use core::fmt;

use ctl_format::trust_list::Role;
use ctl_format::{Certificate, NameStyle};

use super::purpose::Purpose;
use super::store::StoreKind;

/// Why a chain is not trusted.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrustFailureReason {
    /// A certificate of the chain is past its notAfter.
    Expired,
    /// A certificate of the chain is before its notBefore.
    NotYetValid,
    /// No store holds an issuer of the chain (CA stores).
    UnknownIssuer,
    /// The certificate is not listed in a pinning store (CTL, ITL,
    /// Phone-SAST-trust).
    NotListed,
    /// The certificate is listed, but with other roles.
    WrongRole,
    /// keyUsage or extendedKeyUsage (or the CA flag) does not allow the
    /// purpose.
    WrongKeyUsage,
    /// The certificate does not name the expected device or host.
    NameMismatch,
    /// A certificate of the chain is revoked.
    Revoked,
    /// A signature in the chain does not verify.
    SignatureInvalid,
    /// The path is longer than allowed (or the search ran out of budget).
    ChainTooLong,
    /// A signature algorithm or key is not accepted for this purpose (SHA-1
    /// outside the MIC path, RSA keys under 2048 bits).
    UnsupportedAlgorithm,
    /// A certificate does not parse, or the chain is empty.
    Malformed,
    /// None of the stores given answers for this purpose.
    NoApplicableStore,
    /// An X.509 version 1 certificate where it cannot serve: as an issuer
    /// (version 1 has no basicConstraints, so it is never a CA), or as the
    /// leaf for a purpose other than CAPF authentication, or as a CAPF
    /// authentication leaf whose issuer is not itself in the store (a
    /// version 1 leaf is accepted only signed directly by a store
    /// certificate).
    Version1,
}

impl TrustFailureReason {
    /// A short machine name (`expired`, `wrong-role`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::NotYetValid => "not-yet-valid",
            Self::UnknownIssuer => "unknown-issuer",
            Self::NotListed => "not-listed",
            Self::WrongRole => "wrong-role",
            Self::WrongKeyUsage => "wrong-key-usage",
            Self::NameMismatch => "name-mismatch",
            Self::Revoked => "revoked",
            Self::SignatureInvalid => "signature-invalid",
            Self::ChainTooLong => "chain-too-long",
            Self::UnsupportedAlgorithm => "unsupported-algorithm",
            Self::Malformed => "malformed",
            Self::NoApplicableStore => "no-applicable-store",
            Self::Version1 => "x509-version-1",
        }
    }

    /// How much a failure says: of the failures of several stores the most
    /// telling one is reported (a certificate listed with the wrong role
    /// says more than "not in this other store").
    pub(crate) const fn rank(self) -> u8 {
        match self {
            Self::NoApplicableStore => 0,
            Self::NotListed => 1,
            Self::UnknownIssuer => 2,
            Self::Malformed => 3,
            Self::UnsupportedAlgorithm => 4,
            Self::ChainTooLong => 5,
            Self::WrongRole => 6,
            Self::WrongKeyUsage | Self::Version1 => 7,
            Self::SignatureInvalid => 8,
            Self::NameMismatch => 9,
            Self::Revoked => 10,
            Self::Expired | Self::NotYetValid => 11,
        }
    }
}

impl fmt::Display for TrustFailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failure: the reason, what exactly, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The reason.
    pub reason: TrustFailureReason,
    /// What exactly failed, naming the certificate.
    pub detail: String,
    /// One sentence for the administrator.
    pub fix: String,
    /// The store the failure came from, if one.
    pub store: Option<StoreRef>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (fix: {})", self.reason, self.detail, self.fix)
    }
}

impl std::error::Error for Failure {}

/// Which store: kind and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoreRef {
    /// The kind.
    pub kind: StoreKind,
    /// The name (file).
    pub name: String,
}

impl fmt::Display for StoreRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// One certificate of a chain, described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainCertificate {
    /// Subject, RFC 4514 style.
    pub subject: String,
    /// Issuer, RFC 4514 style.
    pub issuer: String,
    /// Serial number in hex.
    pub serial: String,
    /// SHA-256 of the DER.
    pub sha256: [u8; 32],
    /// notBefore, Unix seconds.
    pub not_before: u64,
    /// notAfter, Unix seconds.
    pub not_after: u64,
}

impl ChainCertificate {
    pub(crate) fn describe(certificate: &Certificate) -> Self {
        let (not_before, not_after) = certificate.validity();
        Self {
            subject: certificate.subject_name(NameStyle::Certutils),
            issuer: certificate.issuer_name(NameStyle::Certutils),
            serial: hex(&certificate.serial_number()),
            sha256: certificate.sha256_fingerprint(),
            not_before,
            not_after,
        }
    }
}

/// The anchor a trusted chain ends at: a pinned certificate or a CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// Subject, RFC 4514 style.
    pub subject: String,
    /// SHA-256 of the anchor's DER.
    pub sha256: [u8; 32],
    /// The store holding it.
    pub store: StoreRef,
    /// True when the presented certificate itself is the anchor (a CTL/ITL
    /// pin, or a certificate found as such in a CA store).
    pub pinned: bool,
}

/// The evaluator's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Trusted for the purpose.
    pub trusted: bool,
    /// The purpose asked.
    pub purpose: Purpose,
    /// The anchor (also given for some failures found after a path was
    /// built: key usage, name, revocation of a pinned certificate).
    pub anchor: Option<Anchor>,
    /// The roles the anchor (or, for a pin, the certificate) has in its
    /// store.
    pub roles: Vec<Role>,
    /// The chain as built (leaf first, anchor last) when a path was found,
    /// otherwise the chain as presented.
    pub chain: Vec<ChainCertificate>,
    /// Why not, when not trusted.
    pub failure: Option<Failure>,
    /// Remarks that do not change the answer (policy allowances, things a
    /// phone ignores).
    pub notes: Vec<String>,
}

impl Verdict {
    /// The reason when not trusted.
    pub fn reason(&self) -> Option<TrustFailureReason> {
        self.failure.as_ref().map(|failure| failure.reason)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.trusted {
            writeln!(f, "TRUSTED for {}", self.purpose)?;
        } else {
            writeln!(f, "NOT TRUSTED for {}", self.purpose)?;
        }
        if let Some(anchor) = &self.anchor {
            let how = if anchor.pinned {
                "pinned certificate"
            } else {
                "anchor"
            };
            writeln!(
                f,
                "  {how}: {} (SHA-256 {})",
                anchor.subject,
                hex(&anchor.sha256)
            )?;
            writeln!(f, "  store: {}", anchor.store)?;
        }
        if !self.roles.is_empty() {
            let roles: Vec<String> = self.roles.iter().map(ToString::to_string).collect();
            writeln!(f, "  roles: {}", roles.join(", "))?;
        }
        writeln!(f, "  chain:")?;
        for (index, link) in self.chain.iter().enumerate() {
            writeln!(
                f,
                "    {index}: {} (issuer {}; valid {} to {}; SHA-256 {})",
                link.subject,
                link.issuer,
                format_unix(link.not_before),
                format_unix(link.not_after),
                hex(&link.sha256)
            )?;
        }
        if let Some(failure) = &self.failure {
            writeln!(f, "  reason: {}", failure.reason)?;
            if let Some(store) = &failure.store {
                writeln!(f, "  store: {store}")?;
            }
            writeln!(f, "  detail: {}", failure.detail)?;
            writeln!(f, "  fix: {}", failure.fix)?;
        }
        for note in &self.notes {
            writeln!(f, "  note: {note}")?;
        }
        Ok(())
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut out = String::with_capacity(bytes.len().saturating_mul(2));
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
pub fn format_unix(seconds: u64) -> String {
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    // Howard Hinnant's civil_from_days, on non-negative days.
    let z = days.saturating_add(719_468);
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(format_unix(0), "1970-01-01T00:00:00Z");
        // 2015-05-07T03:10:47Z is the real CTL's header timestamp.
        assert_eq!(format_unix(1_430_968_247), "2015-05-07T03:10:47Z");
        assert_eq!(format_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_unix(253_402_300_799), "9999-12-31T23:59:59Z");
    }
}
