//! The values the registry stores and hands out: devices and their
//! schedule, the certificate ledger, events, claims and the writes that
//! finish a session. Backend-independent.

use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::server;
use std::fmt;
use std::str::FromStr;

use crate::auth_key::AuthKey;
use crate::error::{RegistryError, RegistryResult};
pub use capf_core::revocation::RevocationReason;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[non_exhaustive]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// The text stored in the database and shown to users.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
            /// Every accepted spelling, for error messages.
            pub const ALL: &'static [&'static str] = &[$($text),+];
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!(
                        "{other:?} is not one of {}",
                        Self::ALL.join(", ")
                    )),
                }
            }
        }
    };
}

text_enum!(
    /// The certificate operation scheduled for a device (spec Appendix B).
    Operation {
        /// No pending operation.
        None = "none",
        /// Install or upgrade the LSC.
        Install = "install",
        /// Fetch the phone's certificate ("troubleshoot").
        Fetch = "fetch",
        /// Delete the LSC.
        Delete = "delete",
    }
);

text_enum!(
    /// How the phone authenticates (spec 7.3 / Appendix B).
    AuthMode {
        /// One-time authentication string typed on the phone.
        AuthString = "auth-string",
        /// Null string: no check.
        Null = "null",
        /// Existing certificate, LSC first.
        Lsc = "lsc",
        /// Existing certificate, MIC first.
        Mic = "mic",
    }
);

text_enum!(
    /// Where a certificate of the ledger stands.
    CertificateState {
        /// Issued and recorded, not yet confirmed stored by the phone.
        Pending = "pending",
        /// The phone confirmed it stored it (STORE_CERT_RESPONSE success).
        Installed = "installed",
        /// Reported by the phone in a fetch.
        Fetched = "fetched",
        /// Deleted from the phone.
        Deleted = "deleted",
    }
);

text_enum!(
    /// Outcome of the last scheduled operation (spec Appendix B).
    Status {
        /// Nothing scheduled yet.
        None = "none",
        /// Scheduled, not yet done.
        Pending = "pending",
        /// The last attempt failed; the operation stays scheduled.
        Failed = "failed",
        /// Done.
        Successful = "successful",
    }
);

/// The stored form of an authentication string. `Debug` is redacted.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq)]
pub enum StoredAuthHash {
    /// The old form: salted PBKDF2-HMAC-SHA256. Rows hashed this way keep
    /// working until they are used or replaced; nothing new is written so.
    Pbkdf2 {
        /// The salt.
        salt: Vec<u8>,
        /// PBKDF2 rounds.
        iterations: u32,
        /// The PBKDF2 output.
        hash: Vec<u8>,
    },
    /// HMAC-SHA256 under the key kept outside the database
    /// ([`crate::auth_key`]); indexed, so a string is found among many.
    Keyed {
        /// The HMAC.
        hash: [u8; 32],
    },
}

impl fmt::Debug for StoredAuthHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoredAuthHash(<redacted>)")
    }
}

impl StoredAuthHash {
    /// The keyed hash of `auth_string` under `key` (one HMAC; fast).
    pub fn keyed(key: &AuthKey, auth_string: &str) -> RegistryResult<Self> {
        Ok(Self::Keyed {
            hash: key.hash(auth_string)?,
        })
    }

    /// Whether it is a keyed hash (needs the key to verify).
    pub const fn is_keyed(&self) -> bool {
        matches!(self, Self::Keyed { .. })
    }
}

/// Hashes a well-formed 4-10 digit authentication string the old way, with a
/// fresh 16-byte salt from `rng` (salted PBKDF2-HMAC-SHA256,
/// [`capf_core::capf::server::AuthStringHash`]). Kept for hosts and tests
/// that have no key; new strings should use [`StoredAuthHash::keyed`].
/// Expensive by design (`iterations` rounds): call it off an async runtime.
pub fn hash_auth_string<R: rand_core::RngCore + rand_core::CryptoRng>(
    auth_string: &str,
    iterations: u32,
    rng: &mut R,
) -> RegistryResult<StoredAuthHash> {
    let mut salt = [0_u8; 16];
    rng.fill_bytes(&mut salt);
    let hashed = server::AuthStringHash::new(auth_string, &salt, iterations)
        .map_err(|error| RegistryError::AuthString(error.to_string()))?;
    Ok(StoredAuthHash::Pbkdf2 {
        salt: hashed.salt().to_vec(),
        iterations: hashed.iterations(),
        hash: hashed.hash().to_vec(),
    })
}

/// Turns a stored hash back into the verifier the server session uses. A
/// keyed hash needs the key ([`RegistryError::AuthKey`] without it).
pub fn auth_string_verifier(
    stored: &StoredAuthHash,
    key: Option<&AuthKey>,
) -> RegistryResult<server::AuthStringHash> {
    match stored {
        StoredAuthHash::Pbkdf2 {
            salt,
            iterations,
            hash,
        } => {
            let hash = hash
                .as_slice()
                .try_into()
                .map_err(|_| RegistryError::Corrupt("authentication hash length".into()))?;
            Ok(server::AuthStringHash::from_parts(
                salt.clone(),
                *iterations,
                hash,
            ))
        }
        StoredAuthHash::Keyed { hash } => match key {
            Some(key) => Ok(server::AuthStringHash::keyed(key.bytes(), *hash)),
            None => Err(RegistryError::AuthKey(
                "a device's authentication string is hashed with a key, and this program has \
                 no key (--auth-key-file / CAPF_AUTH_KEY_FILE)"
                    .into(),
            )),
        },
    }
}

/// What an administrator schedules for a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The operation.
    pub operation: Operation,
    /// The key the phone generates for an install.
    pub key_request: KeyRequest,
    /// How the phone authenticates.
    pub auth_mode: AuthMode,
    /// Required for [`AuthMode::AuthString`], ignored otherwise.
    pub auth_hash: Option<StoredAuthHash>,
    /// The operation's deadline, Unix seconds: past it a session for the
    /// operation is refused and the one-time string is void.
    pub complete_by: Option<u64>,
    /// Free text about the device (kept when `None` replaces a device).
    pub description: Option<String>,
}

/// One device as stored (without the authentication hash itself).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Its name (e.g. `SEP001122334455`).
    pub name: String,
    /// The scheduled operation.
    pub operation: Operation,
    /// The key requested for an install.
    pub key_request: KeyRequest,
    /// How it authenticates.
    pub auth_mode: AuthMode,
    /// Whether a (hashed) one-time authentication string is set.
    pub has_auth_string: bool,
    /// Authentication failures since the last schedule or success.
    pub failed_attempts: u32,
    /// Locked after too many failures, until rescheduled.
    pub locked: bool,
    /// Outcome of the last scheduled operation.
    pub status: Status,
    /// The operation `status` is about.
    pub status_operation: Option<Operation>,
    /// Why the last attempt failed, if it did.
    pub status_detail: Option<String>,
    /// Whether a session holds the scheduled operation, and until when
    /// (Unix seconds; an expired lease is no longer held).
    pub claimed_until: Option<u64>,
    /// When it was added, Unix seconds.
    pub created_at: u64,
    /// When it last changed, Unix seconds.
    pub updated_at: u64,
    /// The operation status in Unified CM's terms.
    pub operation_status: OperationStatus,
    /// When `operation_status` last changed, Unix seconds.
    pub status_changed_at: u64,
    /// The scheduled operation's deadline, Unix seconds.
    pub complete_by: Option<u64>,
    /// Free text about the device.
    pub description: Option<String>,
}

/// A device with its authentication hash, as a session's lookup reads it.
/// `Debug` redacts the hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDevice {
    /// The device.
    pub device: Device,
    /// The one-time string's hash, if one is set.
    pub auth_hash: Option<StoredAuthHash>,
}

/// One certificate of the ledger.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateEntry {
    /// Ledger id.
    pub id: i64,
    /// The device it was issued to (or fetched from).
    pub device: String,
    /// Serial number, lower-case hex.
    pub serial_hex: String,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Where it stands.
    pub state: CertificateState,
    /// notBefore, Unix seconds.
    pub issued_at: u64,
    /// notAfter, Unix seconds.
    pub not_after: u64,
    /// When its state last changed, Unix seconds.
    pub updated_at: u64,
    /// Its revocation, if revoked (final).
    pub revocation: Option<Revocation>,
    /// The ledger id of the certificate that renewed it, if one did (the
    /// phone then holds that one: this one is "replaced").
    pub replaced_by: Option<i64>,
}

/// A revocation recorded in the ledger.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    /// Why (RFC 5280 reason).
    pub reason: RevocationReason,
    /// When it was recorded, Unix seconds (the CRL's revocationDate).
    pub revoked_at: u64,
}

/// Which certificates [`Registry::revoke`](crate::Registry::revoke) revokes.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationTarget {
    /// Every certificate of the device's ledger that is neither deleted
    /// nor already revoked (its LSC, one still pending, one fetched). The
    /// device may have been removed: its ledger stays.
    Device(String),
    /// Every not yet revoked certificate of the ledger with this serial
    /// number (hex; case, `:` separators and leading zeros do not matter).
    Serial(String),
}

/// A serial number in hex as the ledger compares it: lower case, without
/// `0x`, `:` or spaces, without leading zeros (`"0"` for zero). `None`
/// when it is not hex.
pub fn normalize_serial_hex(text: &str) -> Option<String> {
    let text = text.trim();
    let text = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let digits: String = text
        .chars()
        .filter(|c| *c != ':' && *c != ' ')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    Some(if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    })
}

/// One event of the log.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When, Unix seconds.
    pub time: u64,
    /// The device.
    pub device: String,
    /// What happened (never a secret).
    pub what: String,
}

/// A certificate to put in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCertificate {
    /// Serial number, lower-case hex.
    pub serial_hex: String,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// notBefore, Unix seconds.
    pub issued_at: u64,
    /// notAfter, Unix seconds.
    pub not_after: u64,
}

impl NewCertificate {
    /// Serial and validity read from a DER certificate; a certificate that
    /// does not parse is still recorded (empty serial, zero dates), as the
    /// ledger must never lose what a phone holds.
    pub fn from_der(der: &[u8]) -> Self {
        use der::Decode;
        match x509_cert::Certificate::from_der(der) {
            Ok(certificate) => {
                let tbs = &certificate.tbs_certificate;
                Self {
                    serial_hex: hex_lower(tbs.serial_number.as_bytes()),
                    der: der.to_vec(),
                    issued_at: tbs.validity.not_before.to_unix_duration().as_secs(),
                    not_after: tbs.validity.not_after.to_unix_duration().as_secs(),
                }
            }
            Err(_) => Self {
                serial_hex: String::new(),
                der: der.to_vec(),
                issued_at: 0,
                not_after: 0,
            },
        }
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut text = String::with_capacity(bytes.len().saturating_mul(2));
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// Who holds a claim: a random 128-bit value a host draws once per session,
/// unique across processes and nodes (a session id is unique only within
/// one server process). `Debug` shows it: it is not a secret, only an
/// identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClaimToken(pub [u8; 16]);

impl ClaimToken {
    /// A fresh token from `rng`.
    pub fn random<R: rand_core::RngCore + rand_core::CryptoRng>(rng: &mut R) -> Self {
        let mut bytes = [0_u8; 16];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }
}

/// A session's hold on a device's scheduled operation: only the holder may
/// record the certificate, complete the operation or consume the one-time
/// string, until it releases the claim or the lease ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The device.
    pub device: String,
    /// The holder.
    pub token: ClaimToken,
    /// End of the lease, Unix seconds: after it another session may claim.
    pub lease_until: u64,
}

/// The answer of [`Registry::claim_operation`](crate::Registry::claim_operation),
/// read and written in one transaction.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimAnswer {
    /// Something is scheduled and it is now this session's.
    Claimed {
        /// The claim to pass to the session's writes and release at its end.
        claim: Claim,
        /// The device as it stood when claimed.
        device: StoredDevice,
        /// For an install: the certificate an offline CA made for the
        /// device's newest request, while it waits in the ledger for the
        /// phone ([`crate::offline_ca::ready_certificate`]), read in the
        /// claim's transaction; `None` otherwise.
        ready_certificate: Option<Vec<u8>>,
    },
    /// Nothing is scheduled: there is nothing to claim.
    NothingScheduled {
        /// The device.
        device: StoredDevice,
    },
    /// Another session holds the operation.
    Held {
        /// End of its lease, Unix seconds.
        until: u64,
    },
}

/// The failure counter after one more failed authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FailureCount {
    /// Failures counted.
    pub failed_attempts: u32,
    /// Whether the device is now locked.
    pub locked: bool,
}

/// What the ledger gets when an operation completes.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerChange {
    /// Nothing (an install confirmed without a recorded certificate).
    None,
    /// The pending certificate with this ledger id was stored by the phone.
    MarkInstalled(i64),
    /// The phone returned this certificate in a fetch.
    AddFetched(NewCertificate),
    /// The phone deleted its LSC: every live certificate is marked deleted.
    MarkAllDeleted,
}

/// A completed operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The operation that completed.
    pub operation: Operation,
    /// Its ledger change.
    pub ledger: LedgerChange,
    /// Clear the one-time authentication string (always, per
    /// [`rules::outcome_write`](crate::rules::outcome_write)).
    pub consume_auth_string: bool,
}

/// The registry write that ends a session, as decided by
/// [`rules::outcome_write`](crate::rules::outcome_write).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeWrite {
    /// Nothing to write (beyond releasing the claim).
    Nothing,
    /// The scheduled operation is done.
    Completed(Completion),
    /// Count one failed authentication; lock at `lock_after` failures (0:
    /// never). The counting rule is [`rules::count_failure`](crate::rules::count_failure).
    AuthenticationFailed {
        /// The lock-out threshold.
        lock_after: u32,
        /// Why, for the status.
        reason: FailureReason,
    },
    /// The operation failed without counting against the device (the phone
    /// failed to store, generate, answer…): the status records it, the
    /// operation stays scheduled.
    Failed(Option<FailureReason>),
    /// The operation's deadline passed: the one-time string is void, the
    /// status says "User Initiated Request Late/Timedout", the claim (if
    /// any) is released. Needs no claim.
    Late,
    /// The certificate request is kept for the offline CA
    /// ([`offline_ca`](crate::offline_ca)): the status says "Operation
    /// Pending", the operation stays scheduled, no failure is counted and
    /// the one-time string is kept (it is consumed when the operation
    /// completes).
    Deferred,
}

/// What [`Registry::record_outcome`](crate::Registry::record_outcome) did.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Recorded {
    /// The counter after a counted failure.
    pub failure: Option<FailureCount>,
    /// Whether the session's claim was released (false when it held none).
    pub released: bool,
}

/// The operation an [`OperationStatus`] is about, in Unified CM's words.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusOperation {
    /// Install or upgrade the LSC ([`Operation::Install`]).
    Upgrade,
    /// Delete the LSC ([`Operation::Delete`]).
    Delete,
    /// Fetch the phone's certificate ([`Operation::Fetch`]).
    Troubleshoot,
}

impl StatusOperation {
    /// The status operation of a scheduled operation (`None` for none).
    pub const fn of(operation: Operation) -> Option<Self> {
        match operation {
            Operation::Install => Some(Self::Upgrade),
            Operation::Delete => Some(Self::Delete),
            Operation::Fetch => Some(Self::Troubleshoot),
            Operation::None => None,
        }
    }

    /// Unified CM's word.
    pub const fn words(self) -> &'static str {
        match self {
            Self::Upgrade => "Upgrade",
            Self::Delete => "Delete",
            Self::Troubleshoot => "Troubleshoot",
        }
    }

    const ALL: [Self; 3] = [Self::Upgrade, Self::Delete, Self::Troubleshoot];
}

/// Why an operation failed, in Unified CM's words (AXL `XCertificateStatus`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// The LSC the phone authenticated with was refused.
    InvalidLsc,
    /// Wrong (or missing) one-time authentication string.
    InvalidAuthenticationString,
    /// The MIC the phone authenticated with was refused.
    InvalidMic,
    /// Other credentials refused (proofs, SUDI, a locked device).
    InvalidCredentials,
    /// The phone stopped answering or the connection broke.
    PhoneCommunicationFailure,
    /// The phone failed or took too long to generate its key.
    KeyGenerationFailedTimeout,
    /// The certificate authority did not answer (not for Troubleshoot).
    CaCommunicationFailure,
    /// The certificate authority refused (not for Troubleshoot).
    CaRejectedConnection,
    /// The operation's deadline (`--complete-by`) passed.
    LateTimedOut,
    /// A CAPF version 3 phone refused an EC-only install: the status is
    /// [`OperationStatus::NoEcOnlySupport`] ([`rules::failure_status`](crate::rules::failure_status)).
    /// Upgrade only.
    NoEcOnlySupport,
}

impl FailureReason {
    /// Unified CM's words.
    pub const fn words(self) -> &'static str {
        match self {
            Self::InvalidLsc => "Invalid LSC",
            Self::InvalidAuthenticationString => "Invalid Authentication String",
            Self::InvalidMic => "Invalid MIC",
            Self::InvalidCredentials => "Invalid Credentials",
            Self::PhoneCommunicationFailure => "Phone Communication Failure",
            Self::KeyGenerationFailedTimeout => "Key Generation Failed/Timeout",
            Self::CaCommunicationFailure => "CA Communication Failure",
            Self::CaRejectedConnection => "CA Rejected Connection",
            Self::LateTimedOut => "User Initiated Request Late/Timedout",
            Self::NoEcOnlySupport => "No Support for EC only in CAPF version 3",
        }
    }

    /// Whether it applies to the operation (the CA reasons do not apply to
    /// Troubleshoot, which issues nothing).
    pub const fn applies_to(self, operation: StatusOperation) -> bool {
        if matches!(self, Self::NoEcOnlySupport) {
            return matches!(operation, StatusOperation::Upgrade);
        }
        !matches!(
            (self, operation),
            (
                Self::CaCommunicationFailure | Self::CaRejectedConnection,
                StatusOperation::Troubleshoot
            )
        )
    }

    const ALL: [Self; 9] = [
        Self::InvalidLsc,
        Self::InvalidAuthenticationString,
        Self::InvalidMic,
        Self::InvalidCredentials,
        Self::PhoneCommunicationFailure,
        Self::KeyGenerationFailedTimeout,
        Self::CaCommunicationFailure,
        Self::CaRejectedConnection,
        Self::LateTimedOut,
    ];
}

/// A device's operation status, modelled on Unified CM's (AXL
/// `XCertificateStatus`). `Display` gives Cisco's words ("Upgrade Failed:
/// Invalid MIC"); [`slug`](Self::slug) a stable identifier for filters,
/// JSON and the database (`upgrade-failed-invalid-mic`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationStatus {
    /// Nothing scheduled and nothing done yet.
    None,
    /// Scheduled, not yet done.
    Pending,
    /// The operation succeeded.
    Success(StatusOperation),
    /// The operation failed, with a reason when one is known.
    Failed(StatusOperation, Option<FailureReason>),
    /// An EC-only key was asked of a phone that speaks CAPF version 3 only.
    NoEcOnlySupport,
}

impl OperationStatus {
    /// Every status, in a fixed order.
    pub fn all() -> Vec<Self> {
        let mut all = vec![Self::None, Self::Pending];
        for operation in StatusOperation::ALL {
            all.push(Self::Success(operation));
            all.push(Self::Failed(operation, None));
            for reason in FailureReason::ALL {
                if reason.applies_to(operation) {
                    all.push(Self::Failed(operation, Some(reason)));
                }
            }
        }
        all.push(Self::NoEcOnlySupport);
        all
    }

    /// The stable identifier: Cisco's words in lower case, every run of
    /// other characters a `-` (`upgrade-failed-invalid-mic`).
    pub fn slug(self) -> String {
        let words = self.to_string().to_ascii_lowercase();
        let mut slug = String::with_capacity(words.len());
        for character in words.chars() {
            if character.is_ascii_alphanumeric() {
                slug.push(character);
            } else if !slug.ends_with('-') {
                slug.push('-');
            }
        }
        slug.trim_end_matches('-').to_owned()
    }

    /// Whether it is a failure.
    pub const fn is_failure(self) -> bool {
        matches!(self, Self::Failed(..) | Self::NoEcOnlySupport)
    }
}

impl fmt::Display for OperationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Pending => f.write_str("Operation Pending"),
            Self::Success(operation) => write!(f, "{} Success", operation.words()),
            Self::Failed(operation, None) => write!(f, "{} Failed", operation.words()),
            Self::Failed(operation, Some(reason)) => {
                write!(f, "{} Failed: {}", operation.words(), reason.words())
            }
            Self::NoEcOnlySupport => {
                f.write_str("Upgrade Failed: No Support for EC only in CAPF version 3")
            }
        }
    }
}

impl FromStr for OperationStatus {
    type Err = String;
    /// Parses a slug (or Cisco's words, case-insensitively).
    fn from_str(text: &str) -> Result<Self, String> {
        let all = Self::all();
        all.iter()
            .copied()
            .find(|status| status.slug() == text || status.to_string().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                let slugs: Vec<String> = all.iter().map(|status| status.slug()).collect();
                format!("{text:?} is not a status; use one of {}", slugs.join(", "))
            })
    }
}
