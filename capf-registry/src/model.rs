//! The values the registry stores and hands out: devices and their
//! schedule, the certificate ledger, events, claims and the writes that
//! finish a session. Backend-independent.

use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::server;
use std::fmt;
use std::str::FromStr;

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

/// The stored form of an authentication string: PBKDF2-HMAC-SHA256 salt,
/// iteration count and output. `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredAuthHash {
    /// The salt.
    pub salt: Vec<u8>,
    /// PBKDF2 rounds.
    pub iterations: u32,
    /// The PBKDF2 output.
    pub hash: Vec<u8>,
}

impl fmt::Debug for StoredAuthHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoredAuthHash(<redacted>)")
    }
}

/// Hashes a well-formed 4-10 digit authentication string with a fresh
/// 16-byte salt from `rng` ([`capf_core::capf::server::AuthStringHash`], salted
/// PBKDF2-HMAC-SHA256): the only hashing scheme of the registry. Expensive
/// by design (`iterations` rounds): call it off an async runtime.
pub fn hash_auth_string<R: rand_core::RngCore + rand_core::CryptoRng>(
    auth_string: &str,
    iterations: u32,
    rng: &mut R,
) -> RegistryResult<StoredAuthHash> {
    let mut salt = [0_u8; 16];
    rng.fill_bytes(&mut salt);
    let hashed = server::AuthStringHash::new(auth_string, &salt, iterations)
        .map_err(|error| RegistryError::AuthString(error.to_string()))?;
    Ok(StoredAuthHash {
        salt: hashed.salt().to_vec(),
        iterations: hashed.iterations(),
        hash: hashed.hash().to_vec(),
    })
}

/// Turns a stored hash back into the verifier the server session uses.
pub fn auth_string_verifier(stored: &StoredAuthHash) -> RegistryResult<server::AuthStringHash> {
    let hash = stored
        .hash
        .as_slice()
        .try_into()
        .map_err(|_| RegistryError::Corrupt("authentication hash length".into()))?;
    Ok(server::AuthStringHash::from_parts(
        stored.salt.clone(),
        stored.iterations,
        hash,
    ))
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
    },
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
