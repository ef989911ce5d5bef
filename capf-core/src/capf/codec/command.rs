//! The command byte of a CAPF frame (spec section 5).

use core::fmt;

/// The command of a frame (header byte 1).
///
/// Odd codes 1-15 are server requests, even codes 2-14 the phone's answers.
/// Codes the spec lists but that no known peer sends (5-8, 16, 18-23) are
/// named so they can be logged, and are never produced by this crate.
/// [`Command::from_code`] never returns [`Command::Unknown`] for a named code.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// 1, server to phone: VERSION, AUTH_TYPE.
    AuthRequest,
    /// 2, phone to server: REASON, VERSION, DEVICE_NAME, PASSWORD and the
    /// certificate-authentication elements.
    AuthResponse,
    /// 3, server to phone: KEY_SIZE and KEY_TYPE (RSA) or KEY_TYPE and CURVE (EC).
    KeyGenRequest,
    /// 4, phone to server: PUBLIC_KEY, or REASON on failure.
    KeyGenResponse,
    /// 5, never seen; the reference labels it "encrypt response" (probably
    /// swapped with 6).
    Encrypt5,
    /// 6, never seen; the reference labels it "encrypt request".
    Encrypt6,
    /// 7, never seen; presumably server to phone.
    DecryptRequest,
    /// 8, never seen; presumably phone to server.
    DecryptResponse,
    /// 9, server to phone: CERT_TYPE, CERTIFICATE.
    StoreCertRequest,
    /// 10, phone to server: REASON.
    StoreCertResponse,
    /// 11, server to phone: empty body.
    FetchCertRequest,
    /// 12, phone to server: REASON, and CERTIFICATE when REASON is 1.
    FetchCertResponse,
    /// 13, server to phone: empty body.
    DeleteCertRequest,
    /// 14, phone to server: REASON.
    DeleteCertResponse,
    /// 15, server to phone: REASON. The last frame of every session.
    EndSession,
    /// 16, never seen; presumably server to phone with RETRY_DELAY.
    RetryLater,
    /// 17, phone to server: empty body; key generation has started.
    RequestInProgress,
    /// 18, never seen.
    StatusRequest,
    /// 19, never seen.
    StatusResponse,
    /// 20, never seen.
    AbortRequest,
    /// 21, never seen.
    AbortResponse,
    /// 22, never seen.
    SignCertRequest,
    /// 23, never seen.
    SignCertResponse,
    /// Any other code, kept as received.
    Unknown(u8),
}

impl Command {
    /// The command for a code; codes outside section 5 give [`Command::Unknown`].
    pub const fn from_code(code: u8) -> Self {
        match code {
            1 => Self::AuthRequest,
            2 => Self::AuthResponse,
            3 => Self::KeyGenRequest,
            4 => Self::KeyGenResponse,
            5 => Self::Encrypt5,
            6 => Self::Encrypt6,
            7 => Self::DecryptRequest,
            8 => Self::DecryptResponse,
            9 => Self::StoreCertRequest,
            10 => Self::StoreCertResponse,
            11 => Self::FetchCertRequest,
            12 => Self::FetchCertResponse,
            13 => Self::DeleteCertRequest,
            14 => Self::DeleteCertResponse,
            15 => Self::EndSession,
            16 => Self::RetryLater,
            17 => Self::RequestInProgress,
            18 => Self::StatusRequest,
            19 => Self::StatusResponse,
            20 => Self::AbortRequest,
            21 => Self::AbortResponse,
            22 => Self::SignCertRequest,
            23 => Self::SignCertResponse,
            other => Self::Unknown(other),
        }
    }

    /// The code sent on the wire.
    pub const fn code(self) -> u8 {
        match self {
            Self::AuthRequest => 1,
            Self::AuthResponse => 2,
            Self::KeyGenRequest => 3,
            Self::KeyGenResponse => 4,
            Self::Encrypt5 => 5,
            Self::Encrypt6 => 6,
            Self::DecryptRequest => 7,
            Self::DecryptResponse => 8,
            Self::StoreCertRequest => 9,
            Self::StoreCertResponse => 10,
            Self::FetchCertRequest => 11,
            Self::FetchCertResponse => 12,
            Self::DeleteCertRequest => 13,
            Self::DeleteCertResponse => 14,
            Self::EndSession => 15,
            Self::RetryLater => 16,
            Self::RequestInProgress => 17,
            Self::StatusRequest => 18,
            Self::StatusResponse => 19,
            Self::AbortRequest => 20,
            Self::AbortResponse => 21,
            Self::SignCertRequest => 22,
            Self::SignCertResponse => 23,
            Self::Unknown(code) => code,
        }
    }

    /// The spec's upper-case name (`AUTH_REQUEST` …), or `UNKNOWN` for
    /// [`Command::Unknown`].
    pub const fn name(self) -> &'static str {
        match self {
            Self::AuthRequest => "AUTH_REQUEST",
            Self::AuthResponse => "AUTH_RESPONSE",
            Self::KeyGenRequest => "KEY_GEN_REQUEST",
            Self::KeyGenResponse => "KEY_GEN_RESPONSE",
            Self::Encrypt5 => "ENCRYPT_5",
            Self::Encrypt6 => "ENCRYPT_6",
            Self::DecryptRequest => "DECRYPT_REQUEST",
            Self::DecryptResponse => "DECRYPT_RESPONSE",
            Self::StoreCertRequest => "STORE_CERT_REQUEST",
            Self::StoreCertResponse => "STORE_CERT_RESPONSE",
            Self::FetchCertRequest => "FETCH_CERT_REQUEST",
            Self::FetchCertResponse => "FETCH_CERT_RESPONSE",
            Self::DeleteCertRequest => "DELETE_CERT_REQUEST",
            Self::DeleteCertResponse => "DELETE_CERT_RESPONSE",
            Self::EndSession => "END_SESSION",
            Self::RetryLater => "RETRY_LATER",
            Self::RequestInProgress => "REQUEST_IN_PROGRESS",
            Self::StatusRequest => "STATUS_REQUEST",
            Self::StatusResponse => "STATUS_RESPONSE",
            Self::AbortRequest => "ABORT_REQUEST",
            Self::AbortResponse => "ABORT_RESPONSE",
            Self::SignCertRequest => "SIGN_CERT_REQUEST",
            Self::SignCertResponse => "SIGN_CERT_RESPONSE",
            Self::Unknown(_) => "UNKNOWN",
        }
    }
}

impl From<u8> for Command {
    fn from(code: u8) -> Self {
        Self::from_code(code)
    }
}

impl From<Command> for u8 {
    fn from(command: Command) -> Self {
        command.code()
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::Command;

    #[test]
    fn every_code_round_trips() {
        for code in 0..=u8::MAX {
            let command = Command::from_code(code);
            assert_eq!(command.code(), code);
            let named = (1..=23).contains(&code);
            assert_eq!(
                !matches!(command, Command::Unknown(_)),
                named,
                "code {code}"
            );
        }
    }

    #[test]
    fn names_follow_the_spec() {
        assert_eq!(Command::from_code(17).name(), "REQUEST_IN_PROGRESS");
        assert_eq!(Command::EndSession.to_string(), "END_SESSION (15)");
        assert_eq!(Command::Unknown(99).to_string(), "UNKNOWN (99)");
    }
}
