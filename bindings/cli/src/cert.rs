//! `capf cert`: the certificates of the ledger — issue a client
//! certificate from a CSR, revoke an LSC.
//!
//! A revocation is recorded in the registry's certificate ledger; `capf
//! serve` (CAPF and TVS) consults it by itself at each session, and `capf
//! ca crl` lists it in a CRL.

use crate::device::{certificate_json, open_existing, print_json, validate_device_name};
use crate::output::{now_unix, outln};
use crate::{CliError, CliResult};
use capf_registry::{Registry, RevocationReason, RevocationTarget};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// `capf cert …`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Revoke a device's LSC (every certificate of its ledger that is
    /// neither deleted nor already revoked), or the certificate with a
    /// serial. CAPF then refuses the LSC for authentication and TVS
    /// answers INVALID for it; `capf ca crl` lists it. (`capf tvs revoke`
    /// is for TVS allow-list entries; `capf serve --revoked` for outside
    /// revocation data.)
    Revoke(RevokeArgs),
    /// Issue an LSC-like certificate from a PKCS#10 CSR, for a third-party
    /// (SIP) client that must be trusted as an LSC: same issuer and profile
    /// as the LSCs CAPF issues (CN and SAN URI = the device name), recorded
    /// in the ledger like any other. With --p12, also a PKCS#12 of the
    /// certificate, its issuer and the client's key (empty password without
    /// --p12-password-file, as many SIP clients expect).
    Issue(IssueArgs),
}

/// `capf cert issue`.
#[derive(Debug, Args)]
pub(crate) struct IssueArgs {
    /// Registry file (SQLite), as managed by `capf device`.
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    #[command(flatten)]
    issuer: crate::files::IssuerArgs,
    /// The client's certificate request (PKCS#10, PEM or DER); its
    /// signature is checked.
    #[arg(long, value_name = "CLIENT.csr")]
    csr: PathBuf,
    /// The device name the certificate carries (SEP + 12 hex digits, or
    /// 1-64 letters and digits such as CSFALICE); added to the registry
    /// when absent.
    #[arg(long, value_name = "NAME")]
    device: String,
    /// Where to write the certificate (PEM).
    #[arg(long, value_name = "CERT.pem")]
    out: PathBuf,
    /// Also write a PKCS#12 (needs --client-key).
    #[arg(long, value_name = "OUT.p12", requires = "client_key")]
    p12: Option<PathBuf>,
    /// The client's private key (PKCS#8 PEM), for --p12; it must match the CSR.
    #[arg(long, value_name = "KEY.pem", requires = "p12")]
    client_key: Option<PathBuf>,
    /// File whose first line is the PKCS#12 password (default: empty).
    #[arg(long, value_name = "FILE", requires = "p12")]
    p12_password_file: Option<PathBuf>,
    /// Validity in days (1-3650).
    #[arg(long, value_name = "N", default_value_t = 1825)]
    validity_days: u32,
}

/// `capf cert revoke`.
#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    /// Registry file (SQLite), as managed by `capf device`.
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    /// The device whose certificates are revoked.
    #[arg(
        value_name = "DEVICE",
        required_unless_present = "serial",
        conflicts_with = "serial"
    )]
    device: Option<String>,
    /// The serial number (hex) of the certificate to revoke instead.
    #[arg(long, value_name = "HEX")]
    serial: Option<String>,
    /// RFC 5280 reason: unspecified, keyCompromise, cACompromise,
    /// affiliationChanged, superseded, cessationOfOperation,
    /// certificateHold, privilegeWithdrawn, aACompromise (kebab-case
    /// accepted: key-compromise).
    #[arg(long, value_name = "REASON")]
    reason: String,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

/// Runs `capf cert …`.
pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::Revoke(args) => revoke(&args),
        Command::Issue(args) => issue(&args),
    }
}

fn revoke(args: &RevokeArgs) -> CliResult {
    let reason: RevocationReason = args
        .reason
        .parse()
        .map_err(|error| CliError::input(format!("--reason: {error}")))?;
    let target = match (&args.device, &args.serial) {
        (Some(device), None) => RevocationTarget::Device(validate_device_name(device)?),
        (None, Some(serial)) => RevocationTarget::Serial(serial.clone()),
        _ => return Err(CliError::input("give a DEVICE or --serial HEX")),
    };
    let registry = open_existing(&args.db)?;
    let revoked = registry.revoke(&target, reason, now_unix())?;
    if args.json {
        return print_json(&revoked.iter().map(certificate_json).collect());
    }
    for entry in &revoked {
        outln!(
            "{}: certificate #{} serial {} revoked ({reason})",
            entry.device,
            entry.id,
            entry.serial_hex
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The CSR's DER: a `CERTIFICATE REQUEST` (or `NEW CERTIFICATE REQUEST`)
/// PEM block, or the file as DER.
fn read_csr(path: &std::path::Path) -> Result<Vec<u8>, CliError> {
    let bytes = crate::output::read_file(path)?;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Ok(bytes);
    };
    if !text.contains("-----BEGIN") {
        return Ok(bytes);
    }
    for label in ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"] {
        let blocks = crate::files::pem_blocks(text, label)
            .map_err(|error| CliError::input(format!("{}: {error}", path.display())))?;
        if let Some(first) = blocks.into_iter().next() {
            return Ok(first);
        }
    }
    Err(CliError::input(format!(
        "{}: no CERTIFICATE REQUEST in the file",
        path.display()
    )))
}

/// The SubjectPublicKeyInfo (DER, exactly as in the request) of a CSR
/// whose signature verifies.
fn checked_csr_key(csr: &[u8], path: &std::path::Path) -> Result<Vec<u8>, CliError> {
    use der::{Decode, Encode};
    let bad = |what: String| CliError::input(format!("{}: {what}", path.display()));
    // rcgen (x509-parser) checks the request's self-signature.
    rcgen::CertificateSigningRequestParams::from_der(&csr.to_vec().into())
        .map_err(|error| bad(format!("not a valid certificate request: {error}")))?;
    let request = x509_cert::request::CertReq::from_der(csr)
        .map_err(|error| bad(format!("not a certificate request: {error}")))?;
    request
        .info
        .public_key
        .to_der()
        .map_err(|error| bad(error.to_string()))
}

/// The key request recorded for a device whose key is `spki`.
fn key_request_of(spki: &[u8]) -> Result<capf_core::capf::key_request::KeyRequest, CliError> {
    use capf_core::capf::key_request::KeyRequest;
    use capf_core::capf::proof::{ProofKeyKind, ProofPublicKey};
    let key = ProofPublicKey::from_spki_der(spki)
        .map_err(|error| CliError::input(format!("--csr: unsupported key: {error}")))?;
    Ok(match key.kind() {
        ProofKeyKind::Ec(curve) => KeyRequest::Ec(curve),
        ProofKeyKind::Rsa { modulus_bytes } => KeyRequest::Rsa {
            bits: u16::try_from(modulus_bytes.saturating_mul(8)).unwrap_or(u16::MAX),
        },
        _ => KeyRequest::Rsa { bits: 2048 },
    })
}

fn issue(args: &IssueArgs) -> CliResult {
    use capf_core::issuance::{CertificateAuthority, LscRequest};
    let device = validate_device_name(&args.device)?;
    if !(1..=3650).contains(&args.validity_days) {
        return Err(CliError::input("--validity-days must be 1-3650"));
    }
    let csr = read_csr(&args.csr)?;
    let spki = checked_csr_key(&csr, &args.csr)?;
    let key_request = key_request_of(&spki)?;
    // The PKCS#12 inputs are checked before anything is issued.
    let client_key = match &args.client_key {
        Some(path) => {
            let pem = crate::output::read_text(path)?;
            let key = rcgen::KeyPair::from_pem(&pem).map_err(|_| {
                CliError::input(format!("{}: unreadable private key", path.display()))
            })?;
            if rcgen::PublicKeyData::subject_public_key_info(&key) != spki {
                return Err(CliError::input(format!(
                    "{}: this key does not match the CSR's public key",
                    path.display()
                )));
            }
            Some(key.serialize_der())
        }
        None => None,
    };
    let password = match &args.p12_password_file {
        Some(path) => {
            let text = crate::output::read_text(path)?;
            text.lines().next().unwrap_or_default().to_owned()
        }
        None => String::new(),
    };
    let issuer = args.issuer.load()?;
    let registry = open_existing_or_new(&args.db)?;
    let request = LscRequest {
        device_name: &device,
        subject_public_key_info_der: &spki,
        validity_days: args.validity_days,
    };
    let issued = issuer
        .issue(&request, crate::pump::now(), &mut rand_core::OsRng)
        .map_err(|error| CliError::input(format!("issuing: {error}")))?;
    let certificate = capf_registry::NewCertificate {
        serial_hex: hex::encode(&issued.serial),
        der: issued.der.clone(),
        issued_at: issued.not_before.unix_seconds(),
        not_after: issued.not_after.unix_seconds(),
    };
    // In the ledger before it is handed out.
    let id = registry.record_issued_certificate(&device, key_request, &certificate, now_unix())?;
    let pem = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &issued.der)
        .map_err(|error| CliError::input(format!("PEM: {error}")))?;
    crate::output::write_file(&args.out, pem.as_bytes())?;
    if let (Some(path), Some(key)) = (&args.p12, client_key) {
        let p12 = pkcs12(&key, &issued.der, issuer.certificate_der(), &password)?;
        crate::output::write_file(path, &p12)?;
    }
    outln!(
        "{device}: certificate #{id} serial {} issued to {}{}",
        certificate.serial_hex,
        args.out.display(),
        args.p12
            .as_ref()
            .map(|path| format!(" and {}", path.display()))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

/// A PKCS#12 with the key and the chain (certificate, then its issuer),
/// PBES2/AES-256 and an HMAC-SHA256 MAC.
fn pkcs12(
    key: &[u8],
    certificate: &[u8],
    issuer: &[u8],
    password: &str,
) -> Result<Vec<u8>, CliError> {
    use p12_keystore::{KeyStore, KeyStoreEntry, PrivateKeyChain};
    use sha1::Digest;
    let failed = |error: &dyn std::fmt::Display| CliError::input(format!("PKCS#12: {error}"));
    let chain = [certificate, issuer]
        .into_iter()
        .map(p12_keystore::Certificate::from_der)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| failed(&error))?;
    // localKeyId: the SHA-1 of the certificate, as OpenSSL writes it.
    let local_key_id = sha1::Sha1::digest(certificate).to_vec();
    let mut store = KeyStore::new();
    store.add_entry(
        "capf",
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(key, local_key_id, chain)),
    );
    store
        .writer(password)
        .encryption_algorithm(p12_keystore::EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
        .mac_algorithm(p12_keystore::MacAlgorithm::HmacSha256)
        .write()
        .map_err(|error| failed(&error))
}

/// The registry, created when the file does not exist yet (a site that
/// only issues client certificates).
fn open_existing_or_new(path: &std::path::Path) -> Result<capf_registry::AnyRegistry, CliError> {
    crate::db::open(path)
}
