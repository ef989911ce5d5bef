//! Reading the certificate and key files commands name. Whether a file is
//! PEM or one DER certificate is the library's rule
//! ([`ctl_format::Certificate::all_from_pem_or_der`]), the same for every
//! command; this module only reads the file and words the error.

use crate::CliError;
use crate::output::{read_file, read_text};
use std::path::Path;

/// The certificates of a file, DER: every CERTIFICATE block of PEM text,
/// in order, or the file as one DER certificate. At least one, each a
/// parseable X.509 certificate.
pub(crate) fn read_certificates(path: &Path) -> Result<Vec<Vec<u8>>, CliError> {
    let bytes = read_file(path)?;
    let certificates = ctl_format::Certificate::all_from_pem_or_der(&bytes)
        .map_err(|error| CliError::input(format!("{}: {error}", path.display())))?;
    Ok(certificates
        .iter()
        .map(|certificate| certificate.der().to_vec())
        .collect())
}

/// Reads the PKCS#8 private key of a PEM file (never printed).
pub(crate) fn read_private_key(path: &Path) -> Result<Vec<u8>, CliError> {
    let text = read_text(path)?;
    let keys = pem_blocks(&text, "PRIVATE KEY")
        .map_err(|_| CliError::input(format!("{}: unreadable private key", path.display())))?;
    keys.into_iter().next().ok_or_else(|| {
        CliError::input(format!(
            "{}: no PKCS#8 PRIVATE KEY in the file",
            path.display()
        ))
    })
}

/// Every `-----BEGIN wanted-----` block of a PEM text, decoded (the
/// library's PEM reader, [`ctl_format::pem::pem_blocks`]).
pub(crate) fn pem_blocks(text: &str, wanted: &str) -> Result<Vec<Vec<u8>>, String> {
    Ok(ctl_format::pem::pem_blocks(text)
        .map_err(|error| error.to_string())?
        .into_iter()
        .filter(|block| block.label == wanted)
        .map(|block| block.der)
        .collect())
}
