//! `capf ca csr …` and `capf ca import`: the administrator's side of the
//! offline CA (`capf serve --offline-ca`). The rules (what is pending or
//! stale, what an import accepts) are the registry's
//! ([`capf_registry::offline_ca`]); this module reads and writes files.

use crate::device::{open_existing, print_json};
use crate::output::{errln, now_unix, outln, read_file, rfc3339_utc, write_file};
use crate::{CliError, CliResult};
use capf_registry::{CertificateRequest, CertificateRequestState, Registry};
use clap::{Args, Subcommand};
use der::pem::LineEnding;
use std::path::PathBuf;
use std::process::ExitCode;

/// `capf ca csr …`.
#[derive(Debug, Subcommand)]
pub(crate) enum CsrCommand {
    /// List the certificate requests kept by `capf serve --offline-ca`
    /// (pending, imported, stale).
    List(ListArgs),
    /// Write every pending request to DIR: `<DEVICE>.csr` (the phone-signed
    /// PKCS#10 request, PEM) when the phone sent one, and always
    /// `<DEVICE>.pub.pem` (the phone's public key).
    Export(ExportArgs),
    /// Delete requests; `--stale` (required): those a newer key from the
    /// same phone made stale. The ledger is not touched.
    Delete(DeleteArgs),
}

/// `capf ca csr list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Registry file (SQLite) or PostgreSQL URL.
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    /// Only the stale requests.
    #[arg(long)]
    stale: bool,
    /// JSON for scripts.
    #[arg(long)]
    json: bool,
}

/// `capf ca csr export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Registry file (SQLite) or PostgreSQL URL.
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    /// Folder to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// `capf ca csr delete`.
#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// Registry file (SQLite) or PostgreSQL URL.
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    /// Delete the stale requests (the only deletion there is).
    #[arg(long, required = true)]
    stale: bool,
}

/// `capf ca import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// Registry file (SQLite) or PostgreSQL URL.
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    /// Certificates signed by the offline CA (PEM or DER; a PEM file may
    /// hold several).
    #[arg(value_name = "CERT.pem", required = true)]
    certificates: Vec<PathBuf>,
}

/// Runs `capf ca csr …`.
pub(crate) fn run_csr(command: CsrCommand) -> CliResult {
    match command {
        CsrCommand::List(args) => list(&args),
        CsrCommand::Export(args) => export(&args),
        CsrCommand::Delete(args) => delete(&args),
    }
}

fn request_json(request: &CertificateRequest) -> serde_json::Value {
    serde_json::json!({
        "id": request.id,
        "device": request.device,
        "state": request.state().as_str(),
        "key_request": request.key_request.to_string(),
        "phone_signed_csr": request.csr_der.is_some(),
        "requested_at": rfc3339_utc(request.requested_at),
        "stale_at": request.stale_at.map(rfc3339_utc),
        "certificate_id": request.certificate_id,
        "imported_at": request.imported_at.map(rfc3339_utc),
    })
}

fn list(args: &ListArgs) -> CliResult {
    let registry = open_existing(&args.db)?;
    let requests: Vec<CertificateRequest> = registry
        .certificate_requests(None)?
        .into_iter()
        .filter(|request| !args.stale || request.state() == CertificateRequestState::Stale)
        .collect();
    if args.json {
        return print_json(&requests.iter().map(request_json).collect());
    }
    if requests.is_empty() {
        outln!("no certificate requests");
        return Ok(ExitCode::SUCCESS);
    }
    outln!("ID  DEVICE  STATE  KEY  CSR  REQUESTED");
    for request in &requests {
        outln!(
            "{}  {}  {}  {}  {}  {}",
            request.id,
            request.device,
            request.state(),
            request.key_request,
            if request.csr_der.is_some() {
                "yes"
            } else {
                "no"
            },
            rfc3339_utc(request.requested_at)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn pem(label: &str, der: &[u8]) -> Result<String, CliError> {
    der::pem::encode_string(label, LineEnding::LF, der)
        .map_err(|error| CliError::input(format!("PEM: {error}")))
}

fn export(args: &ExportArgs) -> CliResult {
    let registry = open_existing(&args.db)?;
    std::fs::create_dir_all(&args.out).map_err(|error| {
        CliError::input(format!("cannot create {}: {error}", args.out.display()))
    })?;
    let pending: Vec<CertificateRequest> = registry
        .certificate_requests(None)?
        .into_iter()
        .filter(|request| request.state() == CertificateRequestState::Pending)
        .collect();
    for request in &pending {
        let public_key = args.out.join(format!("{}.pub.pem", request.device));
        write_file(
            &public_key,
            pem("PUBLIC KEY", &request.spki_der)?.as_bytes(),
        )?;
        match &request.csr_der {
            Some(csr) => {
                let path = args.out.join(format!("{}.csr", request.device));
                write_file(&path, pem("CERTIFICATE REQUEST", csr)?.as_bytes())?;
                outln!(
                    "{}: {} (phone-signed CSR), {}",
                    request.device,
                    path.display(),
                    public_key.display()
                );
            }
            None => {
                outln!(
                    "{}: {} (public key only: the phone sent no CSR)",
                    request.device,
                    public_key.display()
                );
                outln!(
                    "  sign it with OpenSSL 3: openssl x509 -new -subj /CN={device} -force_pubkey {key} -CA ca.pem -CAkey ca.key -days 1825 -out {device}.pem",
                    device = request.device,
                    key = public_key.display()
                );
            }
        }
    }
    outln!(
        "{} pending certificate request(s) written to {}",
        pending.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn delete(args: &DeleteArgs) -> CliResult {
    let registry = open_existing(&args.db)?;
    let deleted = registry.delete_stale_certificate_requests(now_unix())?;
    outln!("{deleted} stale certificate request(s) deleted");
    Ok(ExitCode::SUCCESS)
}

/// Runs `capf ca import`: each certificate is checked against the pending
/// requests ([`capf_registry::offline_ca::import_certificate`]) and, if accepted, goes into the ledger at
/// once. Exit 1 when any was refused (each refusal says why).
pub(crate) fn import(args: &ImportArgs) -> CliResult {
    let registry = open_existing(&args.db)?;
    let mut refused = 0_usize;
    let mut imported = 0_usize;
    for path in &args.certificates {
        let bytes = read_file(path)?;
        // A file that is no certificate at all is a refusal with its reason,
        // as the rules say, not a usage error.
        let certificates = ctl_format::Certificate::all_from_pem_or_der(&bytes)
            .ok()
            .filter(|found| !found.is_empty())
            .map(|found| {
                found
                    .iter()
                    .map(|certificate| certificate.der().to_vec())
                    .collect()
            })
            .unwrap_or_else(|| vec![bytes.clone()]);
        for der in certificates {
            match capf_registry::offline_ca::import_certificate(&registry, &der, now_unix())? {
                Ok(done) => {
                    imported += 1;
                    outln!(
                        "{}: imported for {} (ledger id {}, serial {}); the phone receives it at its next CAPF session",
                        path.display(),
                        done.device,
                        done.ledger_id,
                        done.serial_hex
                    );
                }
                Err(refusal) => {
                    refused += 1;
                    errln!("capf: {}: refused: {refusal}", path.display());
                }
            }
        }
    }
    if refused > 0 {
        return Err(CliError::rejected(format!(
            "{refused} certificate(s) refused, {imported} imported"
        )));
    }
    Ok(ExitCode::SUCCESS)
}
