//! What the phone-side commands (`capf enroll`, `capf tvs verify`) trust the
//! server by: `--ca` names either certificates (PEM, or one DER
//! certificate), or a CTL/ITL file, whose records with the server's role are trusted exactly as a phone
//! trusts them (pinned by certificate, role checked, no name check).

use crate::CliError;
use crate::output::read_file;
use crate::serve::read_certificates;
use capf_core::tls::{TlsError, TlsVersions, client_config, rustls};
use capf_core::trust::verifiers::{TrustListServerVerifier, failure_of};
use capf_core::trust::{ServerRole, StoreKind, TrustStore};
use ctl_format::HashPolicy;
use ctl_format::trust_list::TrustList;
use der::Decode;
use std::path::Path;
use std::sync::Arc;

/// A `--ca` file: certificates, or a trust list's records for a role.
pub(crate) enum ServerAnchors {
    /// The certificates of the file, DER.
    Certificates(Vec<Vec<u8>>),
    /// A client configuration trusting the servers a CTL/ITL lists with the
    /// wanted role.
    TrustList(Arc<rustls::ClientConfig>),
}

/// Reads `--ca`. A trust list must verify (signer found, signature good,
/// SHA-1 or SHA-512 as phones accept) and list at least one certificate with
/// `role`: a phone installs only such a list, and trusts nothing else from
/// it.
pub(crate) fn read_server_anchors(
    path: &Path,
    role: ServerRole,
) -> Result<ServerAnchors, CliError> {
    let bytes = read_file(path)?;
    let at = |message: String| CliError::input(format!("--ca {}: {message}", path.display()));
    // A trust list starts with its version element (tag 1, length 2); a DER
    // certificate with a SEQUENCE (0x30); anything else is read as PEM.
    match bytes.first() {
        Some(0x30) => {
            x509_cert::Certificate::from_der(&bytes)
                .map_err(|error| at(format!("not a DER certificate: {error}")))?;
            return Ok(ServerAnchors::Certificates(vec![bytes]));
        }
        Some(0x01) => {}
        _ => return read_certificates(path).map(ServerAnchors::Certificates),
    }
    let list = TrustList::parse(&bytes)
        .map_err(|error| at(format!("neither PEM certificates nor a CTL/ITL ({error})")))?;
    list.verify(&bytes, HashPolicy::CISCO)
        .map_err(|error| at(format!("the trust list does not verify: {error}")))?;
    let kind = match list.header().filename.and_then(|name| name.as_str()) {
        Some(name) if name.to_ascii_uppercase().starts_with("ITL") => StoreKind::Itl,
        _ => StoreKind::Ctl,
    };
    let store = TrustStore::from_trust_list(kind, path.display().to_string(), &list)
        .map_err(|error| at(error.to_string()))?;
    let listed = store.entries().iter().any(|entry| {
        entry
            .roles()
            .iter()
            .any(|held| role.granted_by().contains(held))
    });
    if !listed {
        return Err(at(format!(
            "the trust list has no certificate with role {}",
            role.listed_role()
        )));
    }
    let verifier = TrustListServerVerifier::new(vec![store], role, Arc::new(crate::pump::now));
    client_config(verifier, TlsVersions::default())
        .map(ServerAnchors::TrustList)
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
