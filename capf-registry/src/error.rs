//! The one error type of the registry.

/// What went wrong with the registry. Never carries an authentication
/// string, its hash, or key material.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The database refused or failed (file unreadable, not a database,
    /// constraint, lost connection, …). The message is the backend's.
    #[error("device database: {0}")]
    Database(String),
    /// The database was written by a newer capf.
    #[error("device database schema version {found} is newer than this capf knows ({known})")]
    SchemaTooNew {
        /// Version in the database.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// No (non-removed) device of that name.
    #[error("no device named {0}")]
    UnknownDevice(String),
    /// No pending certificate with that id for that device.
    #[error("no pending certificate {id} for device {device}")]
    UnknownCertificate {
        /// Device name.
        device: String,
        /// Ledger id.
        id: i64,
    },
    /// A value in the database is not one this build understands.
    #[error("device database holds an unexpected value in {0}")]
    Corrupt(String),
    /// Hashing an authentication string failed (not 4-10 digits, …). The
    /// string itself is not in the message.
    #[error("authentication string: {0}")]
    AuthString(String),
    /// A write that belongs to a claimed operation came from a session that
    /// does not hold the claim (never had it, its lease expired and another
    /// session took it, or the operation was rescheduled). Nothing was
    /// written.
    #[error("device {0}: this session does not hold the device's operation")]
    ClaimLost(String),
    /// A TVS registration is not a DER X.509 certificate.
    #[error("not a DER X.509 certificate: {0}")]
    NotACertificate(String),
    /// A TVS role code above 255 (TVS sends one byte per role).
    #[error("role {0} cannot be sent by TVS (code above 255)")]
    RoleTooLarge(u16),
    /// A TVS registration without roles.
    #[error("at least one role is needed")]
    NoRoles,
    /// A TVS TTL outside 1..=[`MAX_TTL`](crate::tvs::MAX_TTL).
    #[error("TTL {0} is outside 1-{max} seconds", max = crate::tvs::MAX_TTL)]
    BadTtl(u32),
    /// The key of the keyed authentication-string hash is missing, not
    /// readable, not owner-only, or not a key. Names the file, never the
    /// key.
    #[error("authentication key: {0}")]
    AuthKey(String),
    /// A revocation found nothing to revoke (no such device or serial in
    /// the ledger, or every match already revoked or deleted).
    #[error("nothing to revoke: {0}")]
    NothingToRevoke(String),
    /// An offline-CA import for a request that is no longer pending.
    #[error("certificate request {0} is not pending (stale, imported or unknown)")]
    RequestNotPending(i64),
    /// A serial number that is not hex.
    #[error("{0:?} is not a serial number in hex")]
    BadSerial(String),
    /// A registry setting that does not exist or a value out of its range.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// The backend's writer (thread, pool) stopped; the write may not have
    /// happened.
    #[error("device database writer stopped")]
    WriterStopped,
}

/// Result alias of this crate.
pub type RegistryResult<T> = Result<T, RegistryError>;

impl From<rusqlite::Error> for RegistryError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Database(error.to_string())
    }
}

/// A setting name that is not one of [`Settings::NAMES`](crate::Settings::NAMES), or a value out of
/// its range. The message names the setting and the accepted values.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// No setting of that name.
    #[error("unknown setting {name:?}; the settings are: {known}", known = crate::settings::Settings::NAMES.join(", "))]
    Unknown {
        /// The name asked for.
        name: String,
    },
    /// A value the setting does not accept.
    #[error("setting {name}: {value:?} is not {expected}")]
    BadValue {
        /// The setting.
        name: &'static str,
        /// The value given.
        value: String,
        /// What the setting accepts.
        expected: &'static str,
    },
}
