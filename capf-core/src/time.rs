//! Time as the sessions see it: a plain wall-clock timestamp passed in by
//! the host. The core never reads a clock.

use core::fmt;

/// A point in time: milliseconds since 1970-01-01 UTC (wall clock, so the
/// same value can check certificate validity and drive timeouts).
///
/// ```
/// use capf_core::time::Timestamp;
/// let start = Timestamp::from_unix_seconds(1_700_000_000);
/// assert_eq!(start.plus_seconds(30).unix_seconds(), 1_700_000_030);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    unix_millis: u64,
}

impl Timestamp {
    /// From milliseconds since the Unix epoch.
    pub const fn from_unix_millis(unix_millis: u64) -> Self {
        Self { unix_millis }
    }

    /// From seconds since the Unix epoch.
    pub const fn from_unix_seconds(unix_seconds: u64) -> Self {
        Self {
            unix_millis: unix_seconds.saturating_mul(1000),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> u64 {
        self.unix_millis
    }

    /// Whole seconds since the Unix epoch.
    pub const fn unix_seconds(self) -> u64 {
        self.unix_millis / 1000
    }

    /// This instant plus `millis` milliseconds (saturating).
    pub const fn plus_millis(self, millis: u64) -> Self {
        Self {
            unix_millis: self.unix_millis.saturating_add(millis),
        }
    }

    /// This instant plus `seconds` seconds (saturating).
    pub const fn plus_seconds(self, seconds: u64) -> Self {
        self.plus_millis(seconds.saturating_mul(1000))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:03}",
            self.unix_millis / 1000,
            self.unix_millis % 1000
        )
    }
}
