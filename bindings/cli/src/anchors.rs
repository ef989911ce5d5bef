//! What the phone-side commands (`capf enroll`, `capf tvs verify`) trust the
//! server by. The rule is the library's, as a phone applies it
//! ([`ServerTrust::from_file`]: a CTL/ITL that verifies and lists the
//! server's role, whose records are pinned; or certificates named
//! directly, PEM or DER); this module reads the `--ca` file and words what
//! went wrong for the user.

use crate::CliError;
use crate::output::read_file;
use crate::pump::now;
use capf_core::tls::{TlsError, rustls};
use capf_core::trust::verifiers::failure_of;
use capf_core::trust::{DirectCertificates, ServerRole, ServerTrust};
use std::path::Path;
use std::sync::Arc;

/// The phone side's TLS configuration from the `--ca` file at `path`, for
/// a server of `role`; certificates named directly are used as `direct`
/// says. A file that cannot tell whom to trust is bad input (exit 2).
pub(crate) fn server_tls_config(
    path: &Path,
    role: ServerRole,
    direct: DirectCertificates,
) -> Result<Arc<rustls::ClientConfig>, CliError> {
    let at = |message: String| CliError::input(format!("--ca {}: {message}", path.display()));
    let bytes = read_file(path)?;
    let trust = ServerTrust::from_file(&bytes, &path.display().to_string(), role)
        .map_err(|error| at(error.to_string()))?;
    trust
        .client_config(direct, Arc::new(now))
        .map_err(|error| at(error.to_string()))
}

/// Words for a TLS failure on the phone side: the trust evaluator's reason
/// and fix when our verifier refused the server's certificate, otherwise
/// what rustls said.
pub(crate) fn describe_tls_failure(error: &TlsError) -> String {
    match error {
        TlsError::Protocol(inner) => match failure_of(inner) {
            Some(failure) => format!("the server's certificate is not trusted: {failure}"),
            None => format!("TLS failed: {inner}"),
        },
        other => format!("TLS failed: {other}"),
    }
}
