//! Which TLS engine a listener runs: rustls (the default, TLS 1.2/1.3) or,
//! with `capf serve --legacy-tls` and the cargo feature `legacy-tls`,
//! OpenSSL (crate `capf-legacy-tls`: TLS 1.0 to 1.3 with the CBC and RSA
//! key-exchange suites older phones speak). Both run under the same
//! [`TlsConnection`] and the same [`crate::pump`], so every host rule (one
//! frame per record, the handshake deadline, peer close, close_notify, the
//! order of `RecordOutcome` and END_SESSION) is the library's, once.

use crate::CliError;
use capf_core::connection::{ConnectionOptions, TlsConnection, TlsEngine};
use capf_core::session::Session;
use capf_core::time::Timestamp;
use capf_core::tls::{TlsError, TlsServerTransport, rustls};
use std::sync::Arc;

/// A server-side engine of either kind.
pub(crate) type ServerEngine = Box<dyn TlsEngine + Send>;

/// What `--legacy-tls` enables, for the warning at start.
pub(crate) const LEGACY_WARNING: &str = "--legacy-tls: the listeners also accept TLS 1.0 and 1.1, \
CBC suites with HMAC-SHA1 and RSA key exchange (AES128-SHA, AES256-SHA) at OpenSSL security \
level 0, for phones that speak nothing newer (7940G/7960G, older firmware). These are weaker: \
no forward secrecy with RSA key exchange, padding-oracle attacks on CBC, deprecated protocol \
versions. Modern clients still get TLS 1.3 or ECDHE with AES-GCM. Use it only for such phones, \
on a network you control";

/// The TLS configuration of one listener.
#[derive(Clone)]
pub(crate) enum ServerTls {
    /// rustls (TLS 1.2 and 1.3): the default.
    Modern(Arc<rustls::ServerConfig>),
    /// OpenSSL with the legacy versions and suites (`--legacy-tls`).
    #[cfg(feature = "legacy-tls")]
    Legacy(capf_legacy_tls::LegacyServerConfig),
}

impl From<Arc<rustls::ServerConfig>> for ServerTls {
    fn from(config: Arc<rustls::ServerConfig>) -> Self {
        Self::Modern(config)
    }
}

impl ServerTls {
    /// The configuration for `chain` and `key` (DER); OpenSSL when
    /// `legacy`. `what` names the listener in errors ("CAPF", "TVS").
    pub(crate) fn load(
        chain: &[Vec<u8>],
        key: &[u8],
        legacy: bool,
        what: &str,
    ) -> Result<Self, CliError> {
        if legacy {
            return legacy_config(chain, key, what);
        }
        capf_core::tls::server_config(chain, key)
            .map(Self::Modern)
            .map_err(|error| CliError::input(format!("{what} certificate/key: {error}")))
    }

    /// A connection for one accepted TCP stream, carrying `session`.
    pub(crate) fn connection<S: Session>(
        &self,
        session: S,
        options: ConnectionOptions,
        now: Timestamp,
    ) -> Result<TlsConnection<S, ServerEngine>, TlsError> {
        let engine: ServerEngine = match self {
            Self::Modern(config) => Box::new(TlsServerTransport::new(config.clone())?),
            #[cfg(feature = "legacy-tls")]
            Self::Legacy(config) => Box::new(config.engine()?),
        };
        Ok(TlsConnection::with_engine(engine, session, options, now))
    }
}

/// Why `--legacy-tls` is refused by a build without the feature.
const NOT_BUILT: &str = "--legacy-tls: this capf was built without the `legacy-tls` feature \
(OpenSSL); rebuild it with `cargo build -p capf-cli --features legacy-tls` (needs libssl-dev \
and pkg-config, which scripts/setup.sh installs)";

/// `--legacy-tls` is refused before anything listens when this build has
/// no OpenSSL engine (exit 2).
pub(crate) fn check_available(legacy: bool) -> Result<(), CliError> {
    if legacy && !cfg!(feature = "legacy-tls") {
        return Err(CliError::input(NOT_BUILT));
    }
    Ok(())
}

#[cfg(feature = "legacy-tls")]
fn legacy_config(chain: &[Vec<u8>], key: &[u8], what: &str) -> Result<ServerTls, CliError> {
    capf_legacy_tls::LegacyServerConfig::new(chain, key)
        .map(ServerTls::Legacy)
        .map_err(|error| CliError::input(format!("{what} certificate/key (--legacy-tls): {error}")))
}

#[cfg(not(feature = "legacy-tls"))]
fn legacy_config(_chain: &[Vec<u8>], _key: &[u8], _what: &str) -> Result<ServerTls, CliError> {
    Err(CliError::input(NOT_BUILT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_tls_is_refused_only_by_a_build_without_the_feature() {
        assert!(check_available(false).is_ok());
        let asked = check_available(true);
        if cfg!(feature = "legacy-tls") {
            assert!(asked.is_ok());
        } else {
            let error = asked.unwrap_err();
            assert_eq!((error.message.as_str(), error.status), (NOT_BUILT, 2));
        }
    }
}
