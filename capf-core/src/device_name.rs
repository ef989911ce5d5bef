//! The one rule for a CAPF device name, shared by the server session,
//! issuance, the phone's configuration and hosts (a registry, the CLI).
//!
//! TVS names (`CP-<model>-SEP<MAC>`) are another thing:
//! [`TvsDeviceName`](crate::tvs::TvsDeviceName). The DEVICE_NAME element as
//! it travels is [`WireDeviceName`](crate::capf::codec::WireDeviceName).

use core::fmt;
use core::str::FromStr;

/// Longest device name, in bytes (ASCII characters).
pub const MAX_DEVICE_NAME_LEN: usize = 64;

/// Why a device name is refused. Carries no part of the name.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DeviceNameError {
    /// A name starting with `SEP` (any case) that is not `SEP` followed by
    /// the 12 upper-case hex digits of the MAC.
    #[error(
        "a SEP name is SEP followed by the 12 upper-case hex digits of the MAC, \
         e.g. SEP001122334455"
    )]
    BadSepName,
    /// Any other name that is not 1-64 ASCII letters and digits.
    #[error("a device name is SEP + 12 upper-case hex digits, or 1-64 letters and digits")]
    BadName,
}

/// A checked CAPF device name: `SEP` + the 12 upper-case hex digits of the
/// MAC (`SEP001122334455`), or, for names without the `SEP` prefix
/// (softphones and clients: `CSF…`, `BOT…`, `TCT…`, `TAB…`, CTI ports …),
/// 1 to 64 ASCII letters and digits.
///
/// One rule everywhere: a name the server session accepts in AUTH_RESPONSE
/// is one issuance certifies and a registry stores, so a phone is never
/// refused after minutes of key generation for its name.
///
/// ```
/// use capf_core::device_name::DeviceName;
/// assert_eq!(DeviceName::parse("SEP001122334455").unwrap().as_str(), "SEP001122334455");
/// assert!(DeviceName::parse("CSFALICE").is_ok());
/// assert!(DeviceName::parse("sep001122334455").is_err()); // SEP names are upper case
/// assert!(DeviceName::parse("SEP00112233445").is_err()); // 11 digits
/// assert!(DeviceName::parse("CSF-ALICE").is_err());
/// assert!(DeviceName::parse(&"A".repeat(65)).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceName(String);

impl DeviceName {
    /// Checks `name` against the rule.
    pub fn parse(name: &str) -> Result<Self, DeviceNameError> {
        let prefix = name.get(..3);
        if prefix.is_some_and(|prefix| prefix.eq_ignore_ascii_case("SEP")) {
            let mac = name.get(3..).unwrap_or_default();
            let upper_hex = |byte: u8| byte.is_ascii_digit() || (b'A'..=b'F').contains(&byte);
            if prefix == Some("SEP") && mac.len() == 12 && mac.bytes().all(upper_hex) {
                return Ok(Self(name.to_owned()));
            }
            return Err(DeviceNameError::BadSepName);
        }
        if (1..=MAX_DEVICE_NAME_LEN).contains(&name.len())
            && name.bytes().all(|byte| byte.is_ascii_alphanumeric())
        {
            Ok(Self(name.to_owned()))
        } else {
            Err(DeviceNameError::BadName)
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for DeviceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for DeviceName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for DeviceName {
    type Err = DeviceNameError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::parse(name)
    }
}

impl TryFrom<&str> for DeviceName {
    type Error = DeviceNameError;

    fn try_from(name: &str) -> Result<Self, Self::Error> {
        Self::parse(name)
    }
}

impl From<DeviceName> for String {
    fn from(name: DeviceName) -> Self {
        name.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        for good in [
            "SEP001122334455",
            "SEPABCDEF012345",
            "CSFALICE",
            "BOT1",
            "TCTBOB",
            "x",
            "CTIPORT1",
        ] {
            assert_eq!(
                DeviceName::parse(good).map(String::from).as_deref(),
                Ok(good)
            );
        }
        let long = "A".repeat(65);
        assert!(DeviceName::parse(&"A".repeat(64)).is_ok());
        for (bad, error) in [
            ("", DeviceNameError::BadName),
            ("SEP00112233445", DeviceNameError::BadSepName),
            ("SEP0011223344556", DeviceNameError::BadSepName),
            ("SEP00112233445g", DeviceNameError::BadSepName),
            ("SEPabcdef012345", DeviceNameError::BadSepName),
            ("sep001122334455", DeviceNameError::BadSepName),
            ("SEP", DeviceNameError::BadSepName),
            ("CSF-ALICE", DeviceNameError::BadName),
            ("CSF ALICE", DeviceNameError::BadName),
            ("ÄBC", DeviceNameError::BadName),
            ("SE\u{e9}", DeviceNameError::BadName),
            (long.as_str(), DeviceNameError::BadName),
        ] {
            assert_eq!(DeviceName::parse(bad), Err(error), "{bad:?}");
        }
    }
}
