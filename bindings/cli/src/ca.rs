//! `capf ca`: the issuing CA's own products — a CRL of the ledger's
//! revocations — and the offline CA's requests and imports
//! ([`crate::offline_ca`]).

use crate::device::open_existing;
use crate::files::IssuerArgs;
use crate::output::{now_unix, outln, rfc3339_utc, write_file};
use crate::{CliError, CliResult};
use capf_core::time::Timestamp;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// `capf ca …`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Issue an RFC 5280 CRL, signed by the issuing CA, of every LSC it
    /// issued that the ledger revokes (`capf cert revoke`). The issuing
    /// certificate needs the cRLSign key usage.
    Crl(CrlArgs),
    /// The certificate requests `capf serve --offline-ca` keeps: list,
    /// export (to be signed elsewhere), delete the stale ones.
    #[command(subcommand)]
    Csr(crate::offline_ca::CsrCommand),
    /// Import certificates signed by the offline CA: each must carry
    /// exactly a pending (not stale) request's key and its device's name
    /// (CN); anything else is refused with the reason. An imported
    /// certificate goes into the ledger at once and reaches the phone at
    /// its next CAPF session.
    Import(crate::offline_ca::ImportArgs),
}

/// `capf ca crl`.
#[derive(Debug, Args)]
pub(crate) struct CrlArgs {
    /// Registry file (SQLite), as managed by `capf device`.
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    #[command(flatten)]
    issuer: IssuerArgs,
    /// Where to write the CRL (PEM, `X509 CRL`).
    #[arg(long, value_name = "crl.pem")]
    out: PathBuf,
    /// Days until nextUpdate (1-3650).
    #[arg(long, value_name = "N", default_value_t = 7)]
    next_update_days: u32,
}

/// Runs `capf ca …`.
pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::Crl(args) => crl(&args),
        Command::Csr(command) => crate::offline_ca::run_csr(command),
        Command::Import(args) => crate::offline_ca::import(&args),
    }
}

fn crl(args: &CrlArgs) -> CliResult {
    if !(1..=3650).contains(&args.next_update_days) {
        return Err(CliError::input("--next-update-days must be 1-3650"));
    }
    let issuer = args.issuer.load()?;
    let registry = open_existing(&args.db)?;
    let entries = capf_registry::crl_entries(&registry, issuer.certificate_der())?;
    let now = now_unix();
    let next = now.saturating_add(u64::from(args.next_update_days) * 86_400);
    // The time of issue is the CRL number: it grows with every CRL.
    let der = issuer
        .sign_crl(
            &entries,
            Timestamp::from_unix_seconds(now),
            Timestamp::from_unix_seconds(next),
            now,
        )
        .map_err(|error| CliError::input(format!("CRL: {error}")))?;
    let pem = der::pem::encode_string("X509 CRL", der::pem::LineEnding::LF, &der)
        .map_err(|error| CliError::input(format!("CRL: {error}")))?;
    write_file(&args.out, pem.as_bytes())?;
    outln!(
        "{}: CRL of {} revoked certificate(s), next update {}",
        args.out.display(),
        entries.len(),
        rfc3339_utc(next)
    );
    Ok(ExitCode::SUCCESS)
}
