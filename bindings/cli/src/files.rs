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

/// The issuing CA of the commands that sign (`capf cert issue`, `capf ca
/// crl`), named the way `capf serve` names it: `--issuer`/`--issuer-key`,
/// else the CAPF certificate `--cert`/`--key` itself.
#[derive(Debug, clap::Args)]
pub(crate) struct IssuerArgs {
    /// The CAPF certificate (PEM), the issuer when --issuer is not given.
    #[arg(long, value_name = "CAPF.pem", requires = "key")]
    cert: Option<std::path::PathBuf>,
    /// The CAPF private key (PKCS#8 PEM).
    #[arg(long, value_name = "CAPF.key", requires = "cert")]
    key: Option<std::path::PathBuf>,
    /// Certificate that issues LSCs (PEM); default: the CAPF certificate.
    #[arg(long, value_name = "ISSUER.pem", requires = "issuer_key")]
    issuer: Option<std::path::PathBuf>,
    /// Private key of --issuer (PKCS#8 PEM).
    #[arg(long, value_name = "ISSUER.key", requires = "issuer")]
    issuer_key: Option<std::path::PathBuf>,
}

impl IssuerArgs {
    /// Loads the issuer (`--issuer` first, as `capf serve`).
    pub(crate) fn load(&self) -> Result<capf_core::issuance::LscIssuer, CliError> {
        let (cert, key, what) = match (&self.issuer, &self.issuer_key, &self.cert, &self.key) {
            (Some(cert), Some(key), _, _) => (cert, key, "issuer"),
            (None, None, Some(cert), Some(key)) => (cert, key, "CAPF certificate as issuer"),
            _ => {
                return Err(CliError::input(
                    "the issuer is needed: --issuer and --issuer-key, or --cert and --key",
                ));
            }
        };
        let certificates = read_certificates(cert)?;
        let key = read_private_key(key)?;
        // read_certificates refuses a file without certificates.
        let first = certificates
            .first()
            .ok_or_else(|| CliError::input(format!("{}: no certificate", cert.display())))?;
        capf_core::issuance::LscIssuer::new(first, &key)
            .map_err(|error| CliError::input(format!("{what}: {error}")))
    }
}
