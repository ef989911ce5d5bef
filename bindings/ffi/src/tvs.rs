//! TVS (Trust Verification Service, TCP 2445): the phone's client session
//! and the server session, as objects following the host contract.

use std::sync::{Arc, Mutex};

use capf_core::session::Output;
use capf_core::time::Timestamp;
use capf_core::tvs as core_tvs;

use crate::files::TrustRole;
use crate::phone::DecisionKind;

/// Errors of the TVS API. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum TvsError {
    /// The request cannot be made (bad device name, certificate too large).
    #[error("invalid TVS request: {0}")]
    InvalidRequest(String),
    /// An answer the session cannot take; the session is unchanged.
    #[error("session misuse: {0}")]
    Misuse(String),
}

/// The TVS answer the client received.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum TvsClientResult {
    /// The certificate is known, with these roles.
    Valid {
        /// The roles TVS grants it.
        roles: Vec<TrustRole>,
        /// How long the phone may cache the answer, seconds.
        ttl: Option<u32>,
    },
    /// TVS does not vouch for the certificate.
    Invalid,
    /// The server closed without answering.
    NoAnswer,
    /// No answer in time.
    TimedOut,
    /// The transport failed.
    TransportFailed,
    /// The server broke the protocol.
    ProtocolError {
        /// How.
        message: String,
    },
}

/// One thing for the TVS client's host to do.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum TvsClientOutput {
    /// One whole frame for the server.
    Transmit {
        /// The frame.
        bytes: Vec<u8>,
    },
    /// The session is over.
    Done {
        /// The answer.
        result: TvsClientResult,
    },
}

/// The phone's question to TVS about one certificate (sans-IO): queues its
/// request at once, then waits for the answer.
#[derive(Debug, uniffi::Object)]
pub struct TvsClientSession {
    pub(crate) inner: Mutex<core_tvs::TvsClientSession>,
}

#[uniffi::export]
impl TvsClientSession {
    /// Asks about `certificate_der` for `device_name` (e.g.
    /// `SEP001122334455`), with session id `session_id`, at `now_millis`.
    #[uniffi::constructor]
    pub fn new(
        session_id: u32,
        device_name: String,
        certificate_der: Vec<u8>,
        now_millis: u64,
    ) -> Result<Arc<Self>, TvsError> {
        let config = core_tvs::TvsClientConfig::new(session_id, device_name, certificate_der);
        let session =
            core_tvs::TvsClientSession::new(config, Timestamp::from_unix_millis(now_millis))
                .map_err(|error| TvsError::InvalidRequest(error.to_string()))?;
        Ok(Arc::new(Self {
            inner: Mutex::new(session),
        }))
    }

    /// Plaintext bytes from the server, in any chunking.
    pub fn handle_input(&self, bytes: Vec<u8>) {
        crate::lock(&self.inner).handle_input(&bytes);
    }

    /// The next thing to do; `None` when waiting.
    pub fn poll_output(&self) -> Option<TvsClientOutput> {
        let output = crate::lock(&self.inner).poll_output()?;
        Some(match output {
            Output::Transmit(bytes) => TvsClientOutput::Transmit { bytes },
            Output::Done(outcome) => TvsClientOutput::Done {
                result: client_result(outcome.result),
            },
            other => TvsClientOutput::Done {
                result: TvsClientResult::ProtocolError {
                    message: format!("unknown output of the core: {other:?}"),
                },
            },
        })
    }

    /// Time goes in only here (milliseconds since the Unix epoch).
    pub fn handle_timeout(&self, now_millis: u64) {
        crate::lock(&self.inner).handle_timeout(Timestamp::from_unix_millis(now_millis));
    }

    /// When to call `handle_timeout` next.
    pub fn poll_timeout(&self) -> Option<u64> {
        crate::lock(&self.inner)
            .poll_timeout()
            .map(Timestamp::unix_millis)
    }

    /// The server closed the connection.
    pub fn handle_peer_closed(&self) {
        crate::lock(&self.inner).handle_peer_closed();
    }

    /// The transport failed.
    pub fn handle_transport_error(&self) {
        crate::lock(&self.inner).handle_transport_error();
    }

    /// True once the session is over.
    pub fn is_done(&self) -> bool {
        crate::lock(&self.inner).is_done()
    }
}

pub(crate) fn client_result(result: core_tvs::TvsClientResult) -> TvsClientResult {
    use core_tvs::TvsClientResult as R;
    match result {
        R::Valid { roles, ttl } => TvsClientResult::Valid {
            roles: roles.into_iter().map(TrustRole::from_core).collect(),
            ttl,
        },
        R::Invalid => TvsClientResult::Invalid,
        R::NoAnswer => TvsClientResult::NoAnswer,
        R::TimedOut => TvsClientResult::TimedOut,
        R::TransportFailed => TvsClientResult::TransportFailed,
        R::ProtocolError(error) => TvsClientResult::ProtocolError {
            message: error.to_string(),
        },
        other => TvsClientResult::ProtocolError {
            message: format!("{other:?}"),
        },
    }
}

/// What the TVS host knows about a certificate, answered to
/// `LookUpCertificate`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct KnownCertificate {
    /// The roles to grant.
    pub roles: Vec<TrustRole>,
    /// Cache lifetime for the phone, seconds.
    pub ttl: u32,
    /// Known but revoked (answered as invalid).
    pub revoked: bool,
}

/// How a TVS server session ended.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum TvsServerResult {
    /// Answered valid.
    Valid {
        /// The roles granted.
        roles: Vec<TrustRole>,
        /// The TTL sent.
        ttl: u32,
    },
    /// Answered invalid.
    Invalid {
        /// Why (unknown, revoked, expired …).
        reason: String,
    },
    /// Closed without an answer (bad request, timeout, peer gone …).
    SilentClose {
        /// Why.
        reason: String,
    },
}

/// One thing for the TVS server's host to do.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum TvsServerOutput {
    /// One whole frame for the phone.
    Transmit {
        /// The frame.
        bytes: Vec<u8>,
    },
    /// Look the certificate up; answer with `answer_lookup`.
    LookUpCertificate {
        /// SHA-256 of the certificate.
        certificate_sha256: Vec<u8>,
        /// The device asking.
        device_name: String,
        /// The certificate, DER.
        certificate_der: Vec<u8>,
    },
    /// The session is over.
    Done {
        /// How it ended.
        result: TvsServerResult,
    },
}

/// The TVS server's side of one connection (sans-IO).
#[derive(Debug, uniffi::Object)]
pub struct TvsServerSession {
    inner: Mutex<core_tvs::TvsServerSession>,
}

#[uniffi::export]
impl TvsServerSession {
    /// A session at `now_millis`; `refuse_expired` answers expired
    /// certificates as invalid.
    #[uniffi::constructor]
    pub fn new(refuse_expired: bool, now_millis: u64) -> Arc<Self> {
        let mut config = core_tvs::TvsServerConfig::default();
        config.refuse_expired = refuse_expired;
        Arc::new(Self {
            inner: Mutex::new(core_tvs::TvsServerSession::new(
                config,
                Timestamp::from_unix_millis(now_millis),
            )),
        })
    }

    /// Plaintext bytes from the phone.
    pub fn handle_input(&self, bytes: Vec<u8>) {
        crate::lock(&self.inner).handle_input(&bytes);
    }

    /// The next thing to do; `None` when waiting.
    pub fn poll_output(&self) -> Option<TvsServerOutput> {
        let output = crate::lock(&self.inner).poll_output()?;
        Some(match output {
            Output::Transmit(bytes) => TvsServerOutput::Transmit { bytes },
            Output::Need(core_tvs::TvsServerDecision::LookUpCertificate {
                certificate_sha256,
                device_name,
                certificate_der,
            }) => TvsServerOutput::LookUpCertificate {
                certificate_sha256: certificate_sha256.to_vec(),
                device_name,
                certificate_der,
            },
            Output::Done(outcome) => TvsServerOutput::Done {
                result: match outcome.result {
                    core_tvs::TvsServerResult::Valid { roles, ttl } => TvsServerResult::Valid {
                        roles: roles.into_iter().map(TrustRole::from_core).collect(),
                        ttl,
                    },
                    core_tvs::TvsServerResult::Invalid(reason) => TvsServerResult::Invalid {
                        reason: format!("{reason:?}"),
                    },
                    other => TvsServerResult::SilentClose {
                        reason: format!("{other:?}"),
                    },
                },
            },
            other => TvsServerOutput::Done {
                result: TvsServerResult::SilentClose {
                    reason: format!("unknown output of the core: {other:?}"),
                },
            },
        })
    }

    /// Answer to `LookUpCertificate`: what is known, or `None` (unknown).
    pub fn answer_lookup(&self, known: Option<KnownCertificate>) -> Result<(), TvsError> {
        let known = known.map(|known| {
            let roles = known.roles.into_iter().map(TrustRole::to_core).collect();
            if known.revoked {
                core_tvs::KnownCertificate::revoked(roles, known.ttl)
            } else {
                core_tvs::KnownCertificate::new(roles, known.ttl)
            }
        });
        crate::lock(&self.inner)
            .answer_lookup(known)
            .map_err(|error| TvsError::Misuse(error.to_string()))
    }

    /// Time goes in only here.
    pub fn handle_timeout(&self, now_millis: u64) {
        crate::lock(&self.inner).handle_timeout(Timestamp::from_unix_millis(now_millis));
    }

    /// When to call `handle_timeout` next.
    pub fn poll_timeout(&self) -> Option<u64> {
        crate::lock(&self.inner)
            .poll_timeout()
            .map(Timestamp::unix_millis)
    }

    /// The phone closed the connection.
    pub fn handle_peer_closed(&self) {
        crate::lock(&self.inner).handle_peer_closed();
    }

    /// The transport failed.
    pub fn handle_transport_error(&self) {
        crate::lock(&self.inner).handle_transport_error();
    }

    /// True once the session is over.
    pub fn is_done(&self) -> bool {
        crate::lock(&self.inner).is_done()
    }

    /// The decision still owed, if any.
    pub fn pending_decision(&self) -> Option<DecisionKind> {
        crate::lock(&self.inner)
            .pending_decision()
            .map(DecisionKind::from_core)
    }
}
