//! Record roles (record tag 4, spec `tlv-files.md` section 5).

use core::fmt;
use core::str::FromStr;

/// What a record's certificate is trusted for (record tag 4, a 16-bit code).
///
/// Unknown codes are kept as [`Role::Unknown`] and never rejected.
/// [`Role::from_code`] always maps a known code to its named variant, so
/// `Role::Unknown(0)` is never produced by this crate.
///
/// ```
/// use ctl_format::trust_list::Role;
/// assert_eq!(Role::from_code(2), Role::CallManagerTftp);
/// assert_eq!(Role::CallManagerTftp.name(), "CCM+TFTP");
/// assert_eq!("ccm-tftp".parse::<Role>(), Ok(Role::CallManagerTftp));
/// assert_eq!(Role::from_code(6), Role::Unknown(6));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// 0, `SAST`: may sign trust lists (eTokens, the tokenless signer, ITLRecovery).
    Sast,
    /// 1, `CCM`: call-control TLS server.
    CallManager,
    /// 2, `CCM+TFTP`: call control and TFTP; may sign config files.
    CallManagerTftp,
    /// 3, `TFTP`: provisioning server; signs config files.
    Tftp,
    /// 4, `CAPF`: Certificate Authority Proxy Function.
    Capf,
    /// 5, `SRST`: Survivable Remote Site Telephony router (not confirmed by a Cisco file).
    Srst,
    /// 7, `APP-SERVER`: HTTPS application server (certutils).
    ApplicationServer,
    /// 21, `TVS`: Trust Verification Service (ITLs only).
    Tvs,
    /// Any other code, kept as found.
    Unknown(u16),
}

/// Every named role, in code order.
const NAMED: [Role; 8] = [
    Role::Sast,
    Role::CallManager,
    Role::CallManagerTftp,
    Role::Tftp,
    Role::Capf,
    Role::Srst,
    Role::ApplicationServer,
    Role::Tvs,
];

impl Role {
    /// The code stored in the file.
    pub const fn code(self) -> u16 {
        match self {
            Self::Sast => 0,
            Self::CallManager => 1,
            Self::CallManagerTftp => 2,
            Self::Tftp => 3,
            Self::Capf => 4,
            Self::Srst => 5,
            Self::ApplicationServer => 7,
            Self::Tvs => 21,
            Self::Unknown(code) => code,
        }
    }

    /// The role for a code (named variant when the code is known).
    pub const fn from_code(code: u16) -> Self {
        match code {
            0 => Self::Sast,
            1 => Self::CallManager,
            2 => Self::CallManagerTftp,
            3 => Self::Tftp,
            4 => Self::Capf,
            5 => Self::Srst,
            7 => Self::ApplicationServer,
            21 => Self::Tvs,
            other => Self::Unknown(other),
        }
    }

    /// The name `show ctl` prints: `SAST`, `CCM`, `CCM+TFTP`, `TFTP`,
    /// `CAPF`, `SRST`, `APP-SERVER`, `TVS`; `UNKNOWN` for other codes (the
    /// [`Display`](fmt::Display) form adds the code: `UNKNOWN(6)`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sast => "SAST",
            Self::CallManager => "CCM",
            Self::CallManagerTftp => "CCM+TFTP",
            Self::Tftp => "TFTP",
            Self::Capf => "CAPF",
            Self::Srst => "SRST",
            Self::ApplicationServer => "APP-SERVER",
            Self::Tvs => "TVS",
            Self::Unknown(_) => "UNKNOWN",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(code) => write!(f, "UNKNOWN({code})"),
            named => f.write_str(named.name()),
        }
    }
}

/// A role name that [`Role::from_str`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown role {0:?} (expected SAST, CCM, CCM+TFTP, TFTP, CAPF, SRST, APP-SERVER, TVS or a number)"
)]
pub struct UnknownRoleName(pub String);

impl FromStr for Role {
    type Err = UnknownRoleName;

    /// Accepts the `show ctl` names in any case, `-` or `_` in place of
    /// `+` (`ccm-tftp`, `app_server`), the certutils option names (`sast`,
    /// `ccm`, `ccm-tftp`, `tftp`, `capf`, `tvs`, `app-server`), `https` (the
    /// older certutils name of APP-SERVER) and a decimal code.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim().to_ascii_uppercase().replace(['-', '_'], "+");
        if let Some(role) = NAMED.iter().find(|role| {
            let name = role.name().replace('-', "+");
            name == wanted
        }) {
            return Ok(*role);
        }
        match wanted.as_str() {
            "HTTPS" | "APPSERVER" => Ok(Self::ApplicationServer),
            "CCMTFTP" => Ok(Self::CallManagerTftp),
            _ => wanted
                .parse::<u16>()
                .map(Self::from_code)
                .map_err(|_| UnknownRoleName(text.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in 0..=u16::from(u8::MAX) {
            assert_eq!(Role::from_code(code).code(), code);
        }
        for role in NAMED {
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
            assert_eq!(role.name().to_lowercase().parse::<Role>(), Ok(role));
        }
    }

    #[test]
    fn cli_spellings() {
        assert_eq!("ccm_tftp".parse(), Ok(Role::CallManagerTftp));
        assert_eq!("App-Server".parse(), Ok(Role::ApplicationServer));
        assert_eq!("21".parse(), Ok(Role::Tvs));
        assert_eq!("6".parse(), Ok(Role::Unknown(6)));
        assert!("root".parse::<Role>().is_err());
    }
}
